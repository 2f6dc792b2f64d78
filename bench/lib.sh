# Shared helpers for the benchmark scripts; sourced, not run.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
OUT_DIR=${BENCH_OUT:-$BENCH_DIR/out}
HLSD_BIN=${HLSD_BIN:-$REPO_DIR/bin/hlsd}

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# machine_info prints the description that every set of figures is recorded with.
machine_info() {
	local cpu mem
	cpu=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
	printf 'date:    %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'cpu:     %s, %s cores (nproc)\n' "${cpu:-unknown}" "$(nproc)"
	printf 'memory:  %s\n' "$mem"
	printf 'kernel:  %s\n' "$(uname -sr)"
	printf 'os:      %s\n' "$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo unknown)"
	printf 'go:      %s\n' "$(go version 2>/dev/null | awk '{print $3}')"
	printf 'ffmpeg:  %s\n' "$(ffmpeg -hide_banner -version 2>/dev/null | awk 'NR==1 {print $3}')"
	printf 'nginx:   %s\n' "$(nginx -v 2>&1 | sed 's|.*nginx/||')"
	printf 'wrk:     %s\n' "$(wrk -v 2>&1 | awk 'NR==1 {print $2}')"
	printf 'hlsd:    %s\n' "$("$HLSD_BIN" version 2>/dev/null | head -1 || echo missing)"
	printf 'load:    %s (1, 5, 15 min load average at the start: other work on the machine)\n' \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}

# median reads numbers, one a line, and prints their median (the mean of the
# two middle values for an even count).
median() {
	sort -g | awk '{v[NR]=$1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2] + v[NR/2+1]) / 2 }'
}

# free_port prints a TCP port with nothing listening on 127.0.0.1.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Hltn "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# wait_http waits up to 10 s for URL to answer any HTTP status.
wait_http() {
	local url=$1
	for _ in $(seq 100); do
		if curl -s -o /dev/null --max-time 1 "$url"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# hlsd_can SUBCOMMAND reports whether bin/hlsd exists and implements SUBCOMMAND
# (the stubs answer "not implemented").
hlsd_can() {
	[ -x "$HLSD_BIN" ] || return 1
	local msg
	msg=$("$HLSD_BIN" "$1" -h 2>&1 </dev/null)
	! grep -qi 'not implemented' <<<"$msg" && ! grep -qi 'unknown command' <<<"$msg"
}

# nginx_static_http DIR KEEPALIVE prints the http-block lines of a
# performance-minded nginx for static HLS (sendfile, keep-alive for
# KEEPALIVE seconds, no access log, open_file_cache), with every temporary
# folder under DIR (nginx refuses to start when the compiled-in ones are
# not writable).
nginx_static_http() {
	local d=$1 t
	printf '    sendfile on;\n    tcp_nopush on;\n    tcp_nodelay on;\n'
	printf '    keepalive_timeout %s;\n    keepalive_requests 1000000;\n    access_log off;\n' "$2"
	printf '    open_file_cache max=1000 inactive=60s;\n    open_file_cache_valid 60s;\n'
	for t in client_body proxy fastcgi uwsgi scgi; do
		printf '    %s_temp_path %s/%s;\n' "$t" "$d" "${t%_body}"
	done
}
