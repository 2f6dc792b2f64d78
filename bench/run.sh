#!/usr/bin/env bash
# run.sh runs every benchmark (`make bench`): the delivery benchmark
# (serve.sh: hlsd serve vs nginx vs the tutorial's FileServer) and the
# packaging benchmark (ingest.sh: hlsd ingest vs one ffmpeg per rendition),
# after printing the machine's description. Everything runs on 127.0.0.1 and
# takes about 8 minutes on the 2-core reference machine; figures and raw
# output go to bench/out/ (gitignored). docs/benchmarks.md explains them.
#
# Then the library's time to first playable (bench/firstplay: an MP4 upload,
# which plays from the on-the-fly source rendition, and the same streams in
# MKV, which wait for the transcoded ladder) and on-the-fly packaging
# (bench/otf: segments made per request vs the same segments pre-written).
#
# Then the storage contract (bench/store.sh: segments and playlists from the
# local-disk store vs S3 with a warm local cache, and S3's cold first byte).
#
# Then delivery at scale (issue 15): bench/overhead.sh (hlsd's requests/s
# against a bare net/http handler serving the same bytes with the same
# headers) and bench/viewers.sh (the viewer simulator ramping thousands of
# simulated players against nginx, the bare handler and hlsd; about 12
# minutes).
#
# BENCH_ONLY=serve|overhead|viewers|ingest|firstplay|otf|store runs one of
# them; see each for its knobs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$OUT_DIR"
start=$(date +%s)
{
	printf 'hlsd benchmarks\n\n'
	machine_info
} | tee "$OUT_DIR/machine.txt"

only=${BENCH_ONLY:-}
if [ -z "$only" ] || [ "$only" = serve ]; then
	"$BENCH_DIR/serve.sh"
fi
if [ -z "$only" ] || [ "$only" = overhead ]; then
	"$BENCH_DIR/overhead.sh"
fi
if [ -z "$only" ] || [ "$only" = viewers ]; then
	"$BENCH_DIR/viewers.sh"
fi
if [ -z "$only" ] || [ "$only" = ingest ]; then
	"$BENCH_DIR/ingest.sh"
fi
if [ -z "$only" ] || [ "$only" = firstplay ]; then
	(cd "$REPO_DIR" && go run ./bench/firstplay -hlsd "$HLSD_BIN" -out "$OUT_DIR" -upload-mib 256 &&
		cp "$OUT_DIR/firstplay/summary.txt" "$OUT_DIR/firstplay-mp4.txt" &&
		go run ./bench/firstplay -hlsd "$HLSD_BIN" -out "$OUT_DIR" -container mkv -upload-mib 256 &&
		cat "$OUT_DIR/firstplay-mp4.txt" >>"$OUT_DIR/firstplay/summary.txt")
fi
if [ -z "$only" ] || [ "$only" = otf ]; then
	(cd "$REPO_DIR" && go run ./bench/otf -hlsd "$HLSD_BIN" -out "$OUT_DIR")
fi
if [ -z "$only" ] || [ "$only" = store ]; then
	"$BENCH_DIR/store.sh"
fi

{
	cat "$OUT_DIR/machine.txt"
	for b in serve overhead viewers ingest firstplay otf store; do
		[ -f "$OUT_DIR/$b/summary.txt" ] && cat "$OUT_DIR/$b/summary.txt"
	done
	printf '\nTook %d s; load average at the end: %s.\n' $(($(date +%s) - start)) "$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT_DIR/summary.txt"
printf '\nTook %d s. Summary: %s\n' $(($(date +%s) - start)) "$OUT_DIR/summary.txt"
