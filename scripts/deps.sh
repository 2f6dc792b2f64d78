#!/usr/bin/env bash
# Installs what hlsd needs and is missing, so the README's two commands work on
# a fresh Debian machine. Usage: scripts/deps.sh run|test|bench
#   run   ffmpeg/ffprobe (the server transcodes with them), nodejs/npm and
#         the web/ npm packages (hls.js, tus-js-client: the web UI's build)
#   test  + Debian's chromium (browser tests), postgresql (Postgres tests),
#         nginx (the reverse-proxy test), systemd's systemd-analyze (checks
#         deploy/hlsd.service)
#   bench + wrk (the load generator; nginx, the reference, comes with test),
#         openssl (the viewer benchmark's self-signed certificate)
# As root (or with passwordless sudo) it runs apt-get; otherwise it names the
# packages to install and fails.
set -euo pipefail
mode=${1:-run}
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
want() { have "$1" || need+=("$2"); }

have go || { echo "hlsd: Go 1.26 or newer is required (https://go.dev/dl)" >&2; exit 1; }
want ffmpeg ffmpeg
want ffprobe ffmpeg
want node nodejs
want npm npm
case "$mode" in
test|bench)
	want chromium chromium
	# The reverse-proxy test (cmd/hlsd TestBehindNginx) runs Debian's nginx.
	want nginx nginx-light
	# The Postgres tests (internal/pgtest) start Debian's server, which is not on PATH.
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
	;;
esac
case "$mode" in
test)
	want systemd-analyze systemd
	;;
esac
if [ "$mode" = bench ]; then
	want wrk wrk
	want openssl openssl
fi

if [ ${#need[@]} -gt 0 ]; then
	mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
	if [ "$(id -u)" = 0 ]; then
		sudo=()
	elif have sudo && sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	else
		echo "hlsd: missing packages: ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
		exit 1
	fi
	echo "installing ${need[*]} with apt-get..." >&2
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq >&2
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

if [ -f web/package-lock.json ]; then
	stamp=web/node_modules/.package-lock.json
	if [ ! -f "$stamp" ] || [ web/package-lock.json -nt "$stamp" ]; then
		echo "installing web/ npm packages..." >&2
		(cd web && npm ci --no-audit --no-fund --loglevel=error) >&2
	fi
fi
