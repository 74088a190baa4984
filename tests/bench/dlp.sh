#!/usr/bin/env bash
# tests/bench/dlp.sh - the step-6 data-leak scanner's throughput (MB/s) on
# 1 MiB of HTML and JSON without leaks and with one about every KiB, in
# mask mode, against what a user would write instead: the regular
# expression of labs/06-responses/README.md run by glibc's regexec (in process, on
# the same text) and by GNU grep -Eo (on a 16 MiB file of the same text).
# The regular expression finds less (no Luhn, issuer or SSN-area checks, no
# generic secrets) and more (near misses): the match counts go to stderr.
#
#   MB/s = text size / CPU time (user + system), median of 7 runs (grep:
#   of BENCH_RUNS); CPU time, because the machines are shared.
. "$(dirname "$0")/common.sh"

cd "$BENCH_TOP"
for o in build/rel/proxy/dlp.o build/rel/lib/buf.o build/rel/lib/http.o; do
	[ -f "$o" ] || { echo "bench: $o is missing (make tools)" >&2; exit 2; }
done
BENCH_TMP=$(mktemp -d /tmp/l7bench.XXXXXX)
trap 'rm -rf "$BENCH_TMP"' EXIT

# Compiled like the tools (no sanitizers), from the objects make built.
${CC:-cc} -std=c17 -D_GNU_SOURCE -O2 -Ilib -I/usr/share/include/llhttp -o "$BENCH_TMP/dlp_bench" \
	tests/bench/dlp_bench.c build/rel/proxy/dlp.o build/rel/lib/buf.o build/rel/lib/http.o \
	build/rel/llhttp/*.o -lm
"${SERVER_PIN[@]}" "$BENCH_TMP/dlp_bench" "$BENCH_TMP" >"$BENCH_TMP/figures"
fig() { awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print }' "$BENCH_TMP/figures"; }
sed 's/^/bench: dlp_bench: /' "$BENCH_TMP/figures" >&2

# grep -Eo over 16 copies of each text, so that its start-up does not count.
grep_rate() {
	local big=$BENCH_TMP/big.txt i cpu runs=() TIMEFORMAT='%U %S'
	for ((i = 0; i < 16; i++)); do cat "$1"; done >"$big"
	for ((i = 0; i < BENCH_RUNS; i++)); do
		cpu=$({ time grep -Eo "$(fig pattern)" "$big" >"$BENCH_TMP/grep.out"; } 2>&1) || true
		runs+=("$(awk -v t="$cpu" 'BEGIN { split(t, a, " "); printf "%.1f", 16 * 1.048576 / (a[1] + a[2]) }')")
	done
	echo "bench: grep -Eo $(basename "$1"): $(($(wc -l <"$BENCH_TMP/grep.out") / 16)) matches a copy, MB/s ${runs[*]}" >&2
	median "${runs[@]}"
}

row dlp regexec "MB/s no leaks" "$(fig mask_clean)" "$(fig regex_clean)"
row dlp regexec "MB/s leak per KiB" "$(fig mask_leaky)" "$(fig regex_leaky)"
row dlp "grep -Eo" "MB/s no leaks" "$(fig mask_clean)" "$(grep_rate "$BENCH_TMP/clean.txt")"
row dlp "grep -Eo" "MB/s leak per KiB" "$(fig mask_leaky)" "$(grep_rate "$BENCH_TMP/leaky.txt")"
