#!/usr/bin/env bash
# viewers.sh: viewers, not requests (issue 15, items 2-4). The viewer
# simulator (bench/viewers) ramps simulated players up in steps against, one
# after another in the same run, each started fresh on 127.0.0.1:
#
#   nginx      Debian's nginx serving the folder (sendfile, access log off)
#   bare       bench/bare: a bare net/http handler, same bytes and headers
#   hlsd       hlsd serve --static, default settings (access log off)
#   hlsd-otf   the same presentation packaged on the fly from an MP4 file
#              (/static/src.mp4/master.m3u8); audio only
#   hlsd-signed  a library upload with visibility=signed, played through a
#              playback token (/hls/t/TOKEN/ID/...); audio only
#   hlsd-h2    hlsd serve --tls-cert (self-signed, made here): HTTP/2 over TLS
#
# Content: a 10-minute presentation of 6 s fMP4 segments of random bytes
# (delivery does not look inside), AAC-like 128 kb/s audio (96 KB segments)
# or 360p-like 1 Mb/s video (750 KB). Then the idle-connection cost: N
# keep-alive connections that played the start and went idle, RSS growth
# per connection, for nginx, bare and hlsd.
#
# Environment: BENCH_VIEWERS_CONTENT ("audio 360p"), BENCH_VIEWERS_AUDIO
# (1000,2500,5000,10000), BENCH_VIEWERS_360P (250,500,1000,2000),
# BENCH_VIEWERS_STEP (15s), BENCH_VIEWERS_SERVERS ("nginx bare hlsd hlsd-otf
# hlsd-signed hlsd-h2"; the 360p run skips otf and signed), BENCH_IDLE
# (5000; 0 skips), HLSD_BIN, BENCH_OUT.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CONTENT=${BENCH_VIEWERS_CONTENT:-audio 360p}
STEPS_AUDIO=${BENCH_VIEWERS_AUDIO:-1000,2500,5000,10000}
STEPS_360P=${BENCH_VIEWERS_360P:-250,500,1000,2000}
STEP=${BENCH_VIEWERS_STEP:-15s}
SERVERS=${BENCH_VIEWERS_SERVERS:-nginx bare hlsd hlsd-otf hlsd-signed hlsd-h2}
IDLE=${BENCH_IDLE:-5000}
out=$OUT_DIR/viewers
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.tsv "$out"/*.log
for tool in nginx curl go ffmpeg openssl; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh bench installs it)"
done
[ -x "$HLSD_BIN" ] || die "$HLSD_BIN is missing: make build"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hlsd-bench-viewers.XXXXXX")
spid=
cleanup() {
	stop_server
	rm -rf "$tmp"
}
stop_server() {
	if [ -n "$spid" ]; then
		kill -TERM "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		spid=
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$REPO_DIR" && go build -o "$tmp/viewers" ./bench/viewers && go build -o "$tmp/bare" ./bench/bare) ||
	die "build bench/viewers or bench/bare failed"

# --- content -------------------------------------------------------------------
# presentation DIR SEGMENT_BYTES BANDWIDTH CODECS: a multivariant playlist
# with one variant and a 10-minute VOD media playlist of 100 six-second
# segments.
presentation() {
	local dir=$1 size=$2 bw=$3 codecs=$4 i
	mkdir -p "$dir/r"
	printf '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS="%s"\nr/index.m3u8\n' \
		"$((bw * 11 / 10))" "$bw" "$codecs" >"$dir/master.m3u8"
	{
		printf '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n'
		printf '#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init.mp4"\n'
		for i in $(seq 0 99); do printf '#EXTINF:6.000000,\nseg_%05d.m4s\n' "$i"; done
		printf '#EXT-X-ENDLIST\n'
	} >"$dir/r/index.m3u8"
	head -c 800 /dev/urandom >"$dir/r/init.mp4"
	head -c $((size * 100)) /dev/urandom | split -b "$size" -d -a 5 --additional-suffix=.m4s - "$dir/r/seg_"
}
www=$tmp/www
presentation "$www/audio" 96000 128000 mp4a.40.2
presentation "$www/360p" 750000 1000000 avc1.64001e,mp4a.40.2
# A real 10-minute AAC file, for on-the-fly packaging and the signed upload.
ffmpeg -nostdin -v error -f lavfi -i "sine=frequency=440:duration=600" -c:a aac -b:a 128k \
	-movflags +faststart "$www/src.mp4" || die "ffmpeg failed"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null ||
	die "openssl failed"
chmod -R a+rX "$tmp"

# --- servers ---------------------------------------------------------------------
port=
start_nginx() {
	mkdir -p "$tmp/nginx"
	cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile $(ulimit -Hn);
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections $(ulimit -Hn); }
http {
    types { application/vnd.apple.mpegurl m3u8; video/mp4 m4s mp4; }
$(nginx_static_http "$tmp/nginx" 120)
    server {
        listen 127.0.0.1:$port;
        location /static/ { alias $www/; add_header Access-Control-Allow-Origin * always; }
    }
}
CONF
	nginx -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx/" -e "$tmp/nginx/error.log" &
	spid=$!
}
# start SERVER: starts it on a free port; sets spid, port and scheme.
scheme=http
start() {
	port=$(free_port)
	scheme=http
	case $1 in
	nginx) start_nginx ;;
	bare)
		"$tmp/bare" -addr "127.0.0.1:$port" -dir "$www" >"$out/bare.log" 2>&1 &
		spid=$!
		;;
	hlsd | hlsd-otf)
		rm -rf "$tmp/data" && mkdir -p "$tmp/data"
		"$HLSD_BIN" serve --addr "127.0.0.1:$port" --static "$www" --data "$tmp/data" --log-format off \
			>"$out/$1.log" 2>&1 &
		spid=$!
		;;
	hlsd-h2)
		rm -rf "$tmp/data" && mkdir -p "$tmp/data"
		"$HLSD_BIN" serve --addr "127.0.0.1:$port" --static "$www" --data "$tmp/data" --log-format off \
			--tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" >"$out/$1.log" 2>&1 &
		spid=$!
		scheme=https
		;;
	hlsd-signed)
		rm -rf "$tmp/data" && mkdir -p "$tmp/data"
		HLSD_API_TOKEN=bench-token-0123456789 "$HLSD_BIN" serve --addr "127.0.0.1:$port" --data "$tmp/data" \
			--log-format off >"$out/$1.log" 2>&1 &
		spid=$!
		;;
	esac
	for _ in $(seq 100); do
		curl -sk -o /dev/null --max-time 1 "$scheme://127.0.0.1:$port/healthz" && return 0
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/static/audio/master.m3u8" && return 0
		sleep 0.1
	done
	die "$1 did not start (see $out/$1.log)"
}

# signed_url: uploads src.mp4 as signed media, waits until it is ready, and
# prints the path of its playback URL.
signed_url() {
	local base="http://127.0.0.1:$port" auth="Authorization: Bearer bench-token-0123456789" id st i
	id=$(curl -sf -H "$auth" -X POST -T "$www/src.mp4" "$base/api/v1/media?filename=src.mp4&visibility=signed" |
		sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
	[ -n "$id" ] || die "hlsd-signed: upload failed"
	for i in $(seq 600); do
		st=$(curl -sf -H "$auth" "$base/api/v1/media/$id" | sed -n 's/.*"status":"\([^"]*\)".*/\1/p')
		[ "$st" = ready ] && break
		[ "$st" = failed ] && die "hlsd-signed: transcode failed"
		sleep 0.5
	done
	[ "$st" = ready ] || die "hlsd-signed: not ready after 5 minutes"
	curl -sf -H "$auth" -H 'Content-Type: application/json' -d '{"ttl_seconds": 3600}' \
		"$base/api/v1/media/$id/playback-tokens" | sed -n 's/.*"playback_url":"\([^"]*\)".*/\1/p'
}

tsv=$out/steps.tsv
printf 'server\tcontent\tviewers\trequests\tfailed\tstalls\tp50_ms\tp99_ms\tmax_ms\tbytes_per_s\tserver_cpu_pct\tserver_rss_mib\tserver_anon_mib\tsim_cpu_pct\n' >"$tsv"
for content in $CONTENT; do
	steps=$STEPS_AUDIO
	[ "$content" = 360p ] && steps=$STEPS_360P
	say "bench: viewers: $content, steps $steps of $STEP"
	for s in $SERVERS; do
		path=/static/$content/master.m3u8
		case $s in
		hlsd-otf | hlsd-signed) [ "$content" = audio ] || continue ;;
		esac
		start "$s"
		case $s in
		hlsd-otf) path=/static/src.mp4/master.m3u8 ;;
		hlsd-signed) path=$(signed_url) ;;
		esac
		flags=()
		[ "$s" = hlsd-h2 ] && flags=(-h2)
		"$tmp/viewers" -name "$s" -label "$content" -pid "$spid" -url "$scheme://127.0.0.1:$port$path" \
			-steps "$steps" -step "$STEP" -tsv "$tsv" "${flags[@]}" | tee -a "$out/$content.txt"
		stop_server
		sleep 2 # let TIME_WAIT and the kernel settle between servers
	done
done

if [ "$IDLE" -gt 0 ]; then
	say "bench: viewers: memory of $IDLE idle keep-alive connections"
	for s in nginx bare hlsd; do
		start "$s"
		mflags=()
		[ "$s" = hlsd ] && mflags=(-metrics "http://127.0.0.1:$port/metrics")
		"$tmp/viewers" -name "$s" -pid "$spid" -url "http://127.0.0.1:$port/static/audio/master.m3u8" -idle "$IDLE" "${mflags[@]}" |
			tee -a "$out/idle.txt"
		stop_server
		sleep 2
	done
fi

{
	printf '\nViewers: each holds a keep-alive connection and plays like a player (multivariant, media\n'
	printf 'playlist, 3 segments at once, then one per 6 s); steps of %s, new viewers joining in the first\n' "$STEP"
	printf 'half. TTFB over all requests of the step. Load average at the end: %s.\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	for content in $CONTENT; do
		[ -f "$out/$content.txt" ] && { printf '%s:\n' "$content"; cat "$out/$content.txt"; printf '\n'; }
	done
	[ -f "$out/idle.txt" ] && cat "$out/idle.txt"
	true
} | tee "$out/summary.txt"
