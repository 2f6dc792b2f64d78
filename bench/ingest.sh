#!/usr/bin/env bash
# ingest.sh: the packaging benchmark (issue 2, item 5). On a 20 s 1080p30
# H.264+AAC source made with ffmpeg lavfi (cached in $BENCH_OUT/cache), it
# times `hlsd ingest` (one ffmpeg process, one decode, a split filter graph)
# against the reference: one plain ffmpeg run per rendition with the same
# settings, audio in its own run, run one after another. The reference
# commands are derived by bench/ingestref from the ffmpeg command line hlsd
# really ran (captured by a wrapper given as its --ffmpeg), so the scaling,
# encoder, rate control, keyframe and HLS muxer options are the same by
# construction. Two ladders: 720p,480p,360p (the ratio the issue sets a goal
# for, 0.75 or lower) and the default ladder (1080p..360p, for the speed as a
# multiple of realtime).
#
# Environment: BENCH_INGEST_ROUNDS (3; the median is reported), HLSD_BIN, BENCH_OUT.
# Raw figures, hlsd's --json summaries and the reference commands go to
# $BENCH_OUT/ingest/.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROUNDS=${BENCH_INGEST_ROUNDS:-3}
SRC_SECONDS=20
out=$OUT_DIR/ingest
cache=$OUT_DIR/cache
mkdir -p "$out" "$cache"
rm -rf "${out:?}"/*

for tool in ffmpeg ffprobe go; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh bench installs it)"
done
real_ffmpeg=$(command -v ffmpeg)

# --- source --------------------------------------------------------------------
src=$cache/src-1080p30-${SRC_SECONDS}s.mp4
if [ ! -s "$src" ]; then
	say "bench: making the ${SRC_SECONDS} s 1080p30 source (once; cached in $cache)"
	timeout 300 ffmpeg -nostdin -hide_banner -loglevel error -y \
		-f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$SRC_SECONDS" \
		-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SRC_SECONDS" \
		-c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p -g 60 \
		-c:a aac -b:a 192k -ac 2 -shortest -movflags +faststart "$src.tmp.mp4"
	mv "$src.tmp.mp4" "$src"
fi

if ! hlsd_can ingest; then
	say "bench: $HLSD_BIN ingest is not available yet: ingest figures pending"
	printf '\nIngest benchmark: pending (%s ingest not available).\n' "$HLSD_BIN" | tee "$out/summary.txt"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hlsd-bench-ingest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# The wrapper records the arguments of every ffmpeg that hlsd starts, then
# becomes the real ffmpeg (exec: no process stays in between).
mkdir -p "$tmp/wrap" "$tmp/capture"
cat >"$tmp/wrap/ffmpeg" <<WRAP
#!/bin/sh
if [ -n "\${HLSD_BENCH_CAPTURE:-}" ]; then
	printf '%s\0' "\$@" >"\$HLSD_BENCH_CAPTURE/\$\$.argv"
fi
exec "$real_ffmpeg" "\$@"
WRAP
chmod +x "$tmp/wrap/ffmpeg"
(cd "$REPO_DIR" && go build -o "$tmp/ingestref" ./bench/ingestref) || die "build bench/ingestref failed"

# timed STDOUT STDERR CMD...: runs CMD with its output in those files and
# prints "WALL CPU" in seconds, CPU being the user+system time of CMD and of
# every process it waited for (ffmpeg's encoder threads included).
timed() {
	local so=$1 se=$2 t TIMEFORMAT='%R %U %S'
	shift 2
	t=$({ time "$@" >"$so" 2>"$se"; } 2>&1) || return 1
	awk '{printf "%.2f %.2f", $1, $2 + $3}' <<<"$t"
}

printf 'ladder\tround\trun\twall_s\tcpu_s\n' >"$out/runs.tsv"

# run_hlsd LADDER ROUND: one `hlsd ingest`, capturing its ffmpeg command.
run_hlsd() {
	local ladder=$1 r=$2 dest=$tmp/hlsd-$1 flags=() res f
	local -a args
	[ "$ladder" = default ] || flags=(--ladder "$ladder")
	rm -rf "$dest" "$tmp/capture"/*
	res=$(timed "$out/hlsd-$ladder-r$r.json" "$out/hlsd-$ladder-r$r.err" \
		env PATH="$tmp/wrap:$PATH" HLSD_BENCH_CAPTURE="$tmp/capture" \
		timeout 600 "$HLSD_BIN" ingest --ffmpeg "$tmp/wrap/ffmpeg" -o "$dest" --json "${flags[@]}" "$src") ||
		die "hlsd ingest failed: $(tail -3 "$out/hlsd-$ladder-r$r.err")"
	printf '%s\t%s\thlsd\t%s\t%s\n' "$ladder" "$r" ${res} >>"$out/runs.tsv"
	# The transcode is the ffmpeg run with an HLS output (the poster run has none).
	f=$(grep -lz -- '^hls$' "$tmp/capture"/*.argv 2>/dev/null | head -1) ||
		die "no ffmpeg transcode captured: does hlsd run the --ffmpeg it is given?"
	cp "$f" "$out/hlsd-$ladder.argv"
	mapfile -d '' -t args <"$f"
	{ printf 'ffmpeg'; printf ' %q' "${args[@]}"; printf '\n'; } | sed "s|$tmp|\$TMP|g" >"$out/hlsd-$ladder.command.txt"
	say "  round $r hlsd ingest ($ladder): ${res% *} s wall, ${res#* } s CPU"
}

# run_ref LADDER ROUND: the per-rendition ffmpeg commands, one after another.
run_ref() {
	local ladder=$1 r=$2 dest=$tmp/ref-$1 argv name res wall=0 cpu=0
	local -a args cmds
	[ -s "$out/hlsd-$ladder.argv" ] || die "no captured hlsd command for $ladder"
	rm -rf "$dest"
	mapfile -t cmds < <("$tmp/ingestref" -argv "$out/hlsd-$ladder.argv" -dir "$dest")
	[ ${#cmds[@]} -gt 0 ] || die "bench/ingestref made no reference command"
	for argv in "${cmds[@]}"; do
		mapfile -d '' -t args <"$argv"
		name=$(basename "$argv" .argv)
		res=$(timed /dev/null "$out/ref-$ladder-$name-r$r.err" timeout 600 "$real_ffmpeg" "${args[@]}") ||
			die "reference ffmpeg $name failed: $(tail -3 "$out/ref-$ladder-$name-r$r.err")"
		printf '%s\t%s\tref:%s\t%s\t%s\n' "$ladder" "$r" "${name#*-}" ${res} >>"$out/runs.tsv"
		wall=$(awk -v a="$wall" -v b="${res% *}" 'BEGIN {print a + b}')
		cpu=$(awk -v a="$cpu" -v b="${res#* }" 'BEGIN {print a + b}')
	done
	printf '%s\t%s\tref\t%.2f\t%.2f\n' "$ladder" "$r" "$wall" "$cpu" >>"$out/runs.tsv"
	# Keep a readable copy of the reference commands.
	for argv in "${cmds[@]}"; do
		mapfile -d '' -t args <"$argv"
		printf 'ffmpeg'
		printf ' %q' "${args[@]}"
		printf '\n'
	done | sed "s|$tmp|\$TMP|g" >"$out/ref-$ladder.commands.txt"
	say "  round $r reference ($ladder, ${#cmds[@]} ffmpeg runs): $wall s wall, $cpu s CPU"
}

ladders=(720p,480p,360p default)
say "bench: ingest: ${#ladders[@]} ladders x $ROUNDS rounds of hlsd ingest and the per-rendition reference"
for ladder in "${ladders[@]}"; do
	for r in $(seq "$ROUNDS"); do
		# hlsd goes first in odd rounds (round 1 captures the command the
		# reference is derived from), second in even rounds.
		if [ $((r % 2)) = 1 ]; then
			run_hlsd "$ladder" "$r"
			run_ref "$ladder" "$r"
		else
			run_ref "$ladder" "$r"
			run_hlsd "$ladder" "$r"
		fi
	done
	# Same settings should give (nearly) the same bytes: show it.
	for d in "$tmp/hlsd-$ladder"/*/; do
		n=$(basename "$d")
		[ -d "$tmp/ref-$ladder/$n" ] || continue
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$ladder" "$n" \
			"$(find "$d" -name 'seg_*' | wc -l)" "$(du -sb --exclude='*.m3u8' "$d" | cut -f1)" \
			"$(find "$tmp/ref-$ladder/$n" -name 'seg_*' | wc -l)" \
			"$(du -sb --exclude='*.m3u8' "$tmp/ref-$ladder/$n" | cut -f1)"
	done >>"$out/outputs.tsv"
done

# --- summary -----------------------------------------------------------------
# best LADDER RUN: the fastest wall time over rounds (contention only ever slows a run down).
best() {
	awk -F'\t' -v l="$1" -v k="$2" 'NR > 1 && $1 == l && $3 == k {print $4}' "$out/runs.tsv" | sort -g | head -1
}
# med LADDER RUN [COLUMN]: median over rounds of wall (4) or CPU (5) seconds.
med() {
	awk -F'\t' -v l="$1" -v k="$2" -v col="${3:-4}" 'NR > 1 && $1 == l && $3 == k {print $col}' "$out/runs.tsv" | median
}
{
	printf '\nIngest benchmark: %s s of 1080p30 H.264+AAC (lavfi testsrc2 + sine), median of %s rounds.\n' \
		"$SRC_SECONDS" "$ROUNDS"
	printf 'hlsd = bin/hlsd ingest (one ffmpeg, split graph, plus probe, poster and playlists);\n'
	printf 'reference = one plain ffmpeg per rendition with the same arguments, run one after another.\n\n'
	printf '%-18s %8s %8s %9s %10s %9s %9s %9s %10s\n' ladder 'hlsd s' 'ref s' 'hlsd/ref' 'best/best' \
		'hlsd CPU' 'ref CPU' 'CPU ratio' 'realtime'
	for ladder in "${ladders[@]}"; do
		label=$ladder
		[ "$ladder" = default ] && label="default (1080p..)"
		awk -v l="$label" -v h="$(med "$ladder" hlsd)" -v r="$(med "$ladder" ref)" \
			-v hb="$(best "$ladder" hlsd)" -v rb="$(best "$ladder" ref)" \
			-v hc="$(med "$ladder" hlsd 5)" -v rc="$(med "$ladder" ref 5)" -v d="$SRC_SECONDS" \
			'BEGIN {printf "%-18s %8.2f %8.2f %8.2fx %9.2fx %9.1f %9.1f %8.2fx %9.2fx\n",
				l, h, r, h / r, hb / rb, hc, rc, hc / rc, d / h}'
	done
	printf '(s: median wall seconds; best/best: ratio of the fastest runs; CPU: median user+system\n'
	printf 'seconds; realtime: source duration / hlsd median wall time)\n'
	printf '\nReference runs, median seconds per rendition:\n'
	for ladder in "${ladders[@]}"; do
		printf '  %-16s' "$ladder"
		awk -F'\t' -v l="$ladder" 'NR > 1 && $1 == l && $3 ~ /^ref:/ {print $3}' "$out/runs.tsv" | sort -u |
			while read -r k; do printf ' %s %.2f' "${k#ref:}" "$(med "$ladder" "$k")"; done
		printf '\n'
	done
	printf '\nOutput check (same settings, so similar segment counts and bytes):\n'
	printf '  %-16s %-8s %10s %12s %10s %12s\n' ladder rendition 'hlsd segs' 'hlsd bytes' 'ref segs' 'ref bytes'
	awk -F'\t' '{printf "  %-16s %-8s %10s %12s %10s %12s\n", $1, $2, $3, $4, $5, $6}' "$out/outputs.tsv"
	printf '\nhlsd --json summary (default ladder, round 1):\n'
	if command -v jq >/dev/null && jq -e . "$out/hlsd-default-r1.json" >/dev/null 2>&1; then
		jq -c 'del(.renditions)?' "$out/hlsd-default-r1.json" | sed 's/^/  /'
	else
		sed 's/^/  /' "$out/hlsd-default-r1.json"
	fi
} | tee "$out/summary.txt"
