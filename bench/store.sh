#!/usr/bin/env bash
# store.sh compares reading a presentation through the storage contract
# (bench/store: Open + http.ServeContent on 127.0.0.1, 16 keep-alive
# clients): the local-disk store, S3 (versitygw, started by the benchmark)
# behind a warm storecache, and S3 directly; plus the first byte of a cold
# segment from S3. The benchmark runs BENCH_STORE_COUNT times (default 5;
# each run measures every case in turn, every other run in reverse order, so
# load changes hit all of them) and the median of each case is kept. Figures go to
# bench/out/store/summary.txt; docs/benchmarks.md explains them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out="$OUT_DIR/store"
mkdir -p "$out"
count=${BENCH_STORE_COUNT:-5}
say "store: disk vs S3 with a warm cache vs S3 direct ($count runs each)"
: >"$out/raw.txt"
for i in $(seq "$count"); do
	say "store: run $i of $count"
	reverse=$((i % 2 == 0 ? 1 : 0)) # every other run measures the stores in reverse order
	if [ "$reverse" = 1 ]; then export BENCH_STORE_REVERSE=1; else unset BENCH_STORE_REVERSE; fi
	(cd "$REPO_DIR" && go test -run '^$' -bench . -benchtime 2s -count 1 ./bench/store) | tee -a "$out/raw.txt"
done

# median_of CASE METRIC prints the median of METRIC over the runs of CASE.
median_of() {
	awk -v c="$1" -v m="$2" '$1 ~ "^Benchmark" c "-[0-9]+$" { for (i = 2; i < NF; i++) if ($(i+1) == m) print $i }' "$out/raw.txt" | median
}
{
	printf '\nStore reads (bench/store, median of %s runs, requests/s)\n' "$count"
	for kind in segment playlist; do
		d=$(median_of "Serve/disk/$kind" req/s)
		w=$(median_of "Serve/s3-warm-cache/$kind" req/s)
		s=$(median_of "Serve/s3-direct/$kind" req/s)
		printf '  %-8s  disk %8.0f   s3+warm cache %8.0f (%.2fx)   s3 direct %8.0f (%.2fx)\n' \
			"$kind" "$d" "$w" "$(awk -v a="$w" -v b="$d" 'BEGIN { print a / b }')" "$s" "$(awk -v a="$s" -v b="$d" 'BEGIN { print a / b }')"
	done
	printf '  cold first byte of a 1 MiB segment from S3: through the cache p50 %.1f ms (p99 %.1f), direct p50 %.1f ms (p99 %.1f)\n' \
		"$(median_of ColdFirstByte/cache ms-p50)" "$(median_of ColdFirstByte/cache ms-p99)" \
		"$(median_of ColdFirstByte/direct ms-p50)" "$(median_of ColdFirstByte/direct ms-p99)"
} | tee "$out/summary.txt"
