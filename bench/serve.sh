#!/usr/bin/env bash
# serve.sh: the delivery benchmark (issue 3, item 6). The same files are served
# by Debian's nginx, by `hlsd serve --static` and by the tutorial's
# http.FileServer (bench/tutorial), each on its own 127.0.0.1 port, and loaded
# with the same wrk parameters: a 4 MB fMP4 segment and a ~1.6 KB playlist, at
# 32 and 256 connections. Runs are interleaved over ROUNDS rounds (server order
# rotated each round) and the median per cell is reported with the ratios
# hlsd/nginx and tutorial/nginx of requests/s: the median of the per-round
# ratios (each round's runs are minutes apart at most, so a ratio within one
# round suffers less from the shared machine's drift), with their range.
#
# Environment: BENCH_SERVE_ROUNDS (3), BENCH_DURATION (5s), BENCH_WARMUP (1s),
# BENCH_CONNS ("32 256"), BENCH_THREADS (2), HLSD_BIN (bin/hlsd), BENCH_OUT.
# Raw wrk output and a TSV of every run go to $BENCH_OUT/serve/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${BENCH_SERVE_ROUNDS:-3}
DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-1s}
CONNS=${BENCH_CONNS:-32 256}
THREADS=${BENCH_THREADS:-2}
out=$OUT_DIR/serve
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.tsv

for tool in nginx wrk curl go; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh bench installs it)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hlsd-bench-serve.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Content: one 4 MB segment of random bytes (incompressible, like video), the
# same bytes as .ts, and a VOD media playlist of 45 six-second segments.
www=$tmp/www
mkdir -p "$www/static" "$tmp/nginx" "$tmp/hlsd-data"
head -c $((4 << 20)) /dev/urandom >"$www/static/seg.m4s"
cp "$www/static/seg.m4s" "$www/static/seg.ts"
{
	printf '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n'
	printf '#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init.mp4"\n'
	for i in $(seq 0 44); do printf '#EXTINF:6.000000,\nseg_%05d.m4s\n' "$i"; done
	printf '#EXT-X-ENDLIST\n'
} >"$www/static/index.m3u8"
# nginx workers drop to user nobody when started as root: let them read.
chmod -R a+rX "$tmp"
playlist_bytes=$(stat -c %s "$www/static/index.m3u8")

# --- servers -----------------------------------------------------------------
declare -A port
servers=()

start_nginx() {
	port[nginx]=$(free_port)
	cat >"$tmp/nginx/nginx.conf" <<CONF
# A performance-minded nginx for static HLS: see docs/benchmarks.md.
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 4096;
}
http {
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
        video/mp4 m4s mp4;
    }
    default_type application/octet-stream;
$(nginx_static_http "$tmp/nginx" 65)
    server {
        listen 127.0.0.1:${port[nginx]};
        root $www;
        location / {
            add_header Access-Control-Allow-Origin * always;
        }
    }
}
CONF
	nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx/" -e "$tmp/nginx/error.log" &
	pids+=($!)
	servers+=(nginx)
}

start_hlsd() {
	if ! hlsd_can serve; then
		say "bench: $HLSD_BIN serve is not available yet: hlsd figures pending"
		return 0
	fi
	port[hlsd]=$(free_port)
	"$HLSD_BIN" serve --addr "127.0.0.1:${port[hlsd]}" --static "$www/static" \
		--data "$tmp/hlsd-data" --log-format off >"$out/hlsd.log" 2>&1 &
	pids+=($!)
	servers+=(hlsd)
}

start_tutorial() {
	(cd "$REPO_DIR" && go build -o "$tmp/tutorial" ./bench/tutorial) || die "build bench/tutorial failed"
	port[tutorial]=$(free_port)
	"$tmp/tutorial" -addr "127.0.0.1:${port[tutorial]}" -dir "$www" >"$out/tutorial.log" 2>&1 &
	pids+=($!)
	servers+=(tutorial)
}

start_nginx
start_hlsd
start_tutorial

# main_pid SERVER: the pid whose process tree is the server (for CPU time).
declare -A spid
i=0
for s in "${servers[@]}"; do spid[$s]=${pids[$i]}; i=$((i + 1)); done

# --- checks: 200, the right Content-Type and the CORS header ---------------------
declare -A want_type=([index.m3u8]=application/vnd.apple.mpegurl [seg.m4s]=video/mp4 [seg.ts]=video/mp2t)
ok_servers=()
{
	printf 'server\tfile\tstatus\tcontent-type\tcors\n'
} >"$out/headers.tsv"
for s in "${servers[@]}"; do
	base="http://127.0.0.1:${port[$s]}/static"
	if ! wait_http "$base/index.m3u8"; then
		say "bench: $s did not start on 127.0.0.1:${port[$s]}"
		[ "$s" = hlsd ] && { cat "$out/hlsd.log" >&2 || true; continue; }
		die "$s did not start"
	fi
	good=1
	for f in index.m3u8 seg.m4s seg.ts; do
		hdr=$(curl -s -o /dev/null -D - --max-time 5 "$base/$f" | tr -d '\r')
		status=$(awk 'NR==1 {print $2}' <<<"$hdr")
		ctype=$(awk -F': ' 'tolower($1)=="content-type" {print $2}' <<<"$hdr")
		cors=$(awk -F': ' 'tolower($1)=="access-control-allow-origin" {print $2}' <<<"$hdr")
		printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$f" "$status" "$ctype" "$cors" >>"$out/headers.tsv"
		if [ "$status" != 200 ] || [ "$cors" != '*' ]; then
			say "bench: $s /static/$f: status $status, Access-Control-Allow-Origin '$cors'"
			good=0
		fi
		if [ "${ctype%%;*}" != "${want_type[$f]}" ]; then
			if [ "$s" = tutorial ]; then
				say "bench: note: tutorial serves $f as '$ctype' (the bug hlsd fixes)"
			else
				say "bench: $s serves $f as '$ctype', want ${want_type[$f]}"
				good=0
			fi
		fi
	done
	if [ $good = 1 ]; then
		ok_servers+=("$s")
	elif [ "$s" = nginx ]; then
		die "nginx failed its header check; see $out/headers.tsv"
	else
		say "bench: $s failed its header check: left out of the load runs"
	fi
done

# --- load --------------------------------------------------------------------
# cpu_ticks PID: user+system clock ticks of PID and its direct children.
cpu_ticks() {
	local total=0 p
	for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
		if [ -r "/proc/$p/stat" ]; then
			total=$((total + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat")))
		fi
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

printf 'round\tserver\tfile\tconns\trps\tbytes_per_s\tp50_ms\tp99_ms\terrors\tserver_cpu_pct\n' >"$out/runs.tsv"
files=(seg.m4s index.m3u8)
n=${#ok_servers[@]}
total_runs=$((ROUNDS * ${#files[@]} * $(wc -w <<<"$CONNS") * n))
say "bench: serve: ${ok_servers[*]}; $total_runs runs of wrk -t$THREADS -d$DURATION (+$WARMUP warmup each)"
run=0
for r in $(seq "$ROUNDS"); do
	# Rotate the server order every round so no server always runs first.
	order=()
	for j in $(seq 0 $((n - 1))); do order+=("${ok_servers[$(((j + r - 1) % n))]}"); done
	for f in "${files[@]}"; do
		for c in $CONNS; do
			for s in "${order[@]}"; do
				run=$((run + 1))
				url="http://127.0.0.1:${port[$s]}/static/$f"
				wrk -t"$THREADS" -c"$c" -d"$WARMUP" --timeout 10s "$url" >/dev/null 2>&1 || true
				raw="$out/r$r-$s-$f-c$c.txt"
				t0=$(cpu_ticks "${spid[$s]}")
				wrk -t"$THREADS" -c"$c" -d"$DURATION" --timeout 10s --latency -s "$BENCH_DIR/report.lua" "$url" >"$raw" 2>&1 ||
					die "wrk failed against $s: see $raw"
				t1=$(cpu_ticks "${spid[$s]}")
				line=$(grep '^RESULT ' "$raw") || die "no RESULT line in $raw"
				awk -v r="$r" -v s="$s" -v f="$f" -v c="$c" -v dt=$((t1 - t0)) -v hz="$hz" '{
					for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
					sec = v["duration_us"] / 1e6
					err = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
					printf "%s\t%s\t%s\t%s\t%.1f\t%.0f\t%.3f\t%.3f\t%d\t%.0f\n", r, s, f, c,
						v["requests"] / sec, v["bytes"] / sec, v["p50_us"] / 1000, v["p99_us"] / 1000, err,
						100 * dt / hz / sec
				}' <<<"$line" >>"$out/runs.tsv"
				say "  [$run/$total_runs] round $r $s $f c=$c: $(tail -1 "$out/runs.tsv" | cut -f5) req/s"
			done
		done
	done
done

# --- summary -----------------------------------------------------------------
# ratios SERVER FILE CONNS: requests/s of SERVER over nginx's, one per round.
ratios() {
	awk -F'\t' -v s="$1" -v f="$2" -v c="$3" 'NR > 1 && $3 == f && $4 == c {
		if ($2 == s) a[$1] = $5; if ($2 == "nginx") b[$1] = $5 }
		END { for (r in a) if (b[r] > 0) print a[r] / b[r] }' "$out/runs.tsv"
}
# med SERVER FILE CONNS COLUMN: median over rounds of one column of runs.tsv.
med() {
	awk -F'\t' -v s="$1" -v f="$2" -v c="$3" -v col="$4" 'NR > 1 && $2 == s && $3 == f && $4 == c {print $col}' \
		"$out/runs.tsv" | median
}
{
	printf '\nServing benchmark: median of %s rounds, wrk -t%s -d%s (+%s warmup), keep-alive, 127.0.0.1.\n' \
		"$ROUNDS" "$THREADS" "$DURATION" "$WARMUP"
	printf 'Server and wrk share the machine'"'"'s %s cores. vs nginx: median over rounds of the\n' "$(nproc)"
	printf 'requests/s ratio to nginx in the same round (range over rounds in brackets).\n\n'
	printf '%-22s %5s %-9s %10s %11s %9s %9s %7s %6s %9s  %s\n' \
		file conns server 'req/s' 'MiB/s' 'p50 ms' 'p99 ms' 'srv CPU' errors 'vs nginx' '(range)'
	for f in "${files[@]}"; do
		label=$f
		[ "$f" = seg.m4s ] && label="seg.m4s (4 MiB)"
		[ "$f" = index.m3u8 ] && label="index.m3u8 (${playlist_bytes} B)"
		for c in $CONNS; do
			for s in nginx hlsd tutorial; do
				[[ " ${ok_servers[*]} " == *" $s "* ]] || {
					printf '%-22s %5s %-9s %10s\n' "$label" "$c" "$s" pending
					continue
				}
				rps=$(med "$s" "$f" "$c" 5)
				rs=$(ratios "$s" "$f" "$c" | sort -g)
				awk -v l="$label" -v c="$c" -v s="$s" -v rps="$rps" \
					-v ratio="$(median <<<"$rs")" -v lo="$(head -1 <<<"$rs")" -v hi="$(tail -1 <<<"$rs")" \
					-v bps="$(med "$s" "$f" "$c" 6)" -v p50="$(med "$s" "$f" "$c" 7)" \
					-v p99="$(med "$s" "$f" "$c" 8)" -v err="$(med "$s" "$f" "$c" 9)" \
					-v cpu="$(med "$s" "$f" "$c" 10)" 'BEGIN {
					printf "%-22s %5s %-9s %10.0f %11.1f %9.2f %9.2f %6.0f%% %6d %8.2fx  %s\n",
						l, c, s, rps, bps / 1048576, p50, p99, cpu, err, ratio,
						s == "nginx" ? "" : sprintf("(%.2f-%.2f)", lo, hi) }'
			done
		done
	done
	awk -F'\t' 'NR > 1 && $9 > 0 {n++; printf "WARNING: round %s %s %s c=%s: %s socket errors or non-2xx answers\n", $1, $2, $3, $4, $9}
		END {if (n) print "Runs with errors measure failures, not service: their figures are not comparable."}' "$out/runs.tsv"
	printf '\nContent-Type seen by the header check (tutorial is not required to pass it):\n'
	awk -F'\t' 'NR > 1 {printf "  %-9s %-11s %s %s\n", $1, $2, $3, $4}' "$out/headers.tsv"
} | tee "$out/summary.txt"
