#!/usr/bin/env bash
# overhead.sh: hlsd's own cost per request (issue 15, item 1). `hlsd serve
# --static` (defaults: CORS, Cache-Control, ETag, metrics and path checks on;
# access log off) and bench/bare (a bare net/http handler writing the same
# bytes with the same headers) serve the same folder; wrk loads a ~1.6 KB VOD
# playlist and a 96 KB segment on each, alternating servers, for ROUNDS
# rounds. Reported: the median requests/s and the median over rounds of
# hlsd/bare (each round's two runs are seconds apart). Goal: >= 0.95.
#
# Environment: BENCH_OVERHEAD_ROUNDS (5), BENCH_OVERHEAD_DURATION (3s),
# BENCH_CONNS (32), BENCH_THREADS (2), HLSD_BIN, BENCH_OUT. Raw output in
# $BENCH_OUT/overhead/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${BENCH_OVERHEAD_ROUNDS:-5}
DURATION=${BENCH_OVERHEAD_DURATION:-3s}
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-2}
out=$OUT_DIR/overhead
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.tsv
for tool in wrk curl go; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh bench installs it)"
done
[ -x "$HLSD_BIN" ] || die "$HLSD_BIN is missing: make build"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hlsd-bench-overhead.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

www=$tmp/www
mkdir -p "$www" "$tmp/data"
head -c 98304 /dev/urandom >"$www/seg.m4s"
{
	printf '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n'
	printf '#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init.mp4"\n'
	for i in $(seq 0 44); do printf '#EXTINF:6.000000,\nseg_%05d.m4s\n' "$i"; done
	printf '#EXT-X-ENDLIST\n'
} >"$www/index.m3u8"

(cd "$REPO_DIR" && go build -o "$tmp/bare" ./bench/bare) || die "build bench/bare failed"
declare -A port spid
port[hlsd]=$(free_port)
"$HLSD_BIN" serve --addr "127.0.0.1:${port[hlsd]}" --static "$www" --data "$tmp/data" --log-format off \
	>"$out/hlsd.log" 2>&1 &
pids+=($!)
spid[hlsd]=$!
port[bare]=$(free_port)
"$tmp/bare" -addr "127.0.0.1:${port[bare]}" -dir "$www" >"$out/bare.log" 2>&1 &
pids+=($!)
spid[bare]=$!
for s in hlsd bare; do
	wait_http "http://127.0.0.1:${port[$s]}/static/index.m3u8" || die "$s did not start (see $out/$s.log)"
done

# The header sets must match, or the comparison is not of the same work.
for f in index.m3u8 seg.m4s; do
	for s in hlsd bare; do
		curl -s -o /dev/null -D - "http://127.0.0.1:${port[$s]}/static/$f" | tr -d '\r' |
			grep -vi '^date:' | sed 's/:.*//' | tr 'A-Z' 'a-z' | sort >"$out/headers-$s-$f.txt"
	done
	diff -u "$out/headers-bare-$f.txt" "$out/headers-hlsd-$f.txt" >"$out/headers-diff-$f.txt" ||
		say "bench: overhead: header names differ for $f (see $out/headers-diff-$f.txt)"
done

# hlsd's own work per request, in process: allocations by the handler chain
# (the profile to start from: add -cpuprofile/-memprofile to this line).
(cd "$REPO_DIR" && go test -run '^$' -bench 'BenchmarkPlaylist$|BenchmarkSegment$' -benchmem -benchtime 20000x \
	./internal/server/) >"$out/gobench.txt" 2>&1 || say "bench: overhead: go test -bench failed (see $out/gobench.txt)"

printf 'round\tserver\tfile\trps\tp99_ms\terrors\n' >"$out/runs.tsv"
say "bench: overhead: $ROUNDS rounds of wrk -t$THREADS -c$CONNS -d$DURATION, hlsd and bare alternating"
for r in $(seq "$ROUNDS"); do
	order=(hlsd bare)
	[ $((r % 2)) = 0 ] && order=(bare hlsd)
	for f in index.m3u8 seg.m4s; do
		for s in "${order[@]}"; do
			url="http://127.0.0.1:${port[$s]}/static/$f"
			wrk -t"$THREADS" -c"$CONNS" -d1s "$url" >/dev/null 2>&1 || true
			raw="$out/r$r-$s-$f.txt"
			wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$BENCH_DIR/report.lua" "$url" >"$raw" 2>&1 ||
				die "wrk failed against $s: see $raw"
			grep '^RESULT ' "$raw" | awk -v r="$r" -v s="$s" -v f="$f" '{
				for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				err = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
				printf "%s\t%s\t%s\t%.0f\t%.3f\t%d\n", r, s, f, v["requests"] / (v["duration_us"] / 1e6), v["p99_us"] / 1000, err
			}' >>"$out/runs.tsv"
			say "  round $r $s $f: $(tail -1 "$out/runs.tsv" | cut -f4) req/s"
		done
	done
done

{
	printf '\nOverhead: hlsd serve --static vs a bare net/http handler (bench/bare), same bytes and headers;\n'
	printf 'median of %s alternating rounds, wrk -t%s -c%s -d%s, keep-alive, 127.0.0.1, load %s.\n\n' \
		"$ROUNDS" "$THREADS" "$CONNS" "$DURATION" "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-24s %12s %12s %12s  %s\n' file 'hlsd req/s' 'bare req/s' 'hlsd/bare' '(range over rounds)'
	for f in index.m3u8 seg.m4s; do
		label=$f
		[ "$f" = seg.m4s ] && label="seg.m4s (96 KiB)"
		[ "$f" = index.m3u8 ] && label="index.m3u8 ($(stat -c %s "$www/index.m3u8") B)"
		h=$(awk -F'\t' -v f="$f" '$2 == "hlsd" && $3 == f {print $4}' "$out/runs.tsv" | median)
		b=$(awk -F'\t' -v f="$f" '$2 == "bare" && $3 == f {print $4}' "$out/runs.tsv" | median)
		rs=$(awk -F'\t' -v f="$f" 'NR > 1 && $3 == f { if ($2 == "hlsd") a[$1] = $4; else b[$1] = $4 }
			END { for (r in a) if (b[r] > 0) print a[r] / b[r] }' "$out/runs.tsv" | sort -g)
		printf '%-24s %12.0f %12.0f %11.2fx  (%.2f-%.2f)\n' "$label" "$h" "$b" "$(median <<<"$rs")" \
			"$(head -1 <<<"$rs")" "$(tail -1 <<<"$rs")"
	done
	awk -F'\t' 'NR > 1 && $6 > 0 {printf "WARNING: round %s %s %s: %s errors\n", $1, $2, $3, $6}' "$out/runs.tsv"
	printf '\nIn process (go test -bench, internal/server):\n'
	grep '^Benchmark' "$out/gobench.txt" || true
	for f in index.m3u8 seg.m4s; do
		[ -s "$out/headers-diff-$f.txt" ] && { printf 'Header names differ for %s:\n' "$f"; cat "$out/headers-diff-$f.txt"; }
	done
	true
} | tee "$out/summary.txt"
