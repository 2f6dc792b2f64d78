#!/usr/bin/env bash
# run.sh runs every benchmark (`make bench`): the delivery benchmark
# (serve.sh: hlsd serve vs nginx vs the tutorial's FileServer) and the
# packaging benchmark (ingest.sh: hlsd ingest vs one ffmpeg per rendition),
# after printing the machine's description. Everything runs on 127.0.0.1 and
# takes about 8 minutes on the 2-core reference machine; figures and raw
# output go to bench/out/ (gitignored). docs/benchmarks.md explains them.
#
# BENCH_ONLY=serve|ingest runs one of them; see each script for its knobs.
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
if [ -z "$only" ] || [ "$only" = ingest ]; then
	"$BENCH_DIR/ingest.sh"
fi

{
	cat "$OUT_DIR/machine.txt"
	for b in serve ingest; do
		[ -f "$OUT_DIR/$b/summary.txt" ] && cat "$OUT_DIR/$b/summary.txt"
	done
	printf '\nTook %d s; load average at the end: %s.\n' $(($(date +%s) - start)) "$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT_DIR/summary.txt"
printf '\nTook %d s. Summary: %s\n' $(($(date +%s) - start)) "$OUT_DIR/summary.txt"
