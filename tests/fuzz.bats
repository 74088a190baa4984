#!/usr/bin/env bats
# fuzz.bats - the short fuzz CI runs: each libFuzzer harness (tests/fuzz/)
# replays its corpus, regression inputs included, then runs FUZZ_CI_RUNS
# (10000) inputs from a fixed seed (FUZZ_CI_SEED, 1), so that CI finds the
# same things on every run (at most FUZZ_CI_SECONDS, 60); any crash,
# sanitizer report, leak or disagreement fails the test, and its input is
# kept in build/fuzz/findings/.  The harnesses run at the suite's priority
# (FUZZ_NICE=0): under nice -n 19 they would wait for every other file.
# The long runs are `make fuzz FUZZ_SECONDS=...` (README).

load helpers

setup_file() {
	make -C "$TOP" -s -j"$(nproc)" fuzz-build >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
		echo "# make fuzz-build failed:" >&3
		tail -n 30 "$BATS_FILE_TMPDIR/build.log" | sed 's/^/#   /' >&3
		return 1
	}
}

# run_harness NAME: its corpus, then a fixed number of inputs from a fixed seed.
run_harness() {
	FUZZ_WORK="$BATS_FILE_TMPDIR/corpus" FUZZ_SECONDS="${FUZZ_CI_SECONDS:-60}" FUZZ_NICE=0 \
	FUZZ_ARGS="-seed=${FUZZ_CI_SEED:-1} -runs=${FUZZ_CI_RUNS:-10000}" run "$TOP/tests/fuzz/run" "$1"
	[ "$status" -eq 0 ] || printf "%s\n" "$output" | tail -n 40 | sed "s/^/# /" >&3
	assert_success
	assert_output --partial "$1"
}

@test "every harness in tests/fuzz has a test here" {
	local src name missing=()
	for src in "$TOP"/tests/fuzz/fuzz_*.c; do
		name=${src##*/fuzz_}
		name=${name%.c}
		grep -q "run_harness $name\$" "$BATS_TEST_FILENAME" || missing+=("$name")
	done
	assert_equal "${missing[*]}" ""
}

@test "lib/http reads requests the same whichever way TCP cuts them" {
	run_harness lib_http_request
}

@test "lib/http reads responses the same whichever way TCP cuts them" {
	run_harness lib_http_response
}

@test "the proxy's head scanner agrees with a line-by-line reading" {
	run_harness proxy_head_scan
}

@test "the proxy's chunk scanner ends a chunked body where RFC 9112 does" {
	run_harness proxy_chunk_scan
}

@test "the proxy ends each request where a strict RFC 9112 reader does, or refuses it" {
	run_harness proxy_framing
}

@test "requests in any cut reach the backend whole and unchanged, or are refused" {
	run_harness proxy_request
}

@test "a backend's answer reaches the client whole and unchanged when RFC 9112 takes it, or ends with 502" {
	run_harness proxy_response
}

@test "any proxy config file gets a configuration or one line of error" {
	run_harness proxy_config
}

@test "any proxy command line gets a configuration or one line of error" {
	run_harness proxy_args
}

@test "a mockserver connection survives any bytes and answers in HTTP" {
	run_harness mockserver_conn
}

@test "mockserver's target routing stays inside the target" {
	run_harness mockserver_route
}

@test "loadgen builds a valid request from any URL and headers it accepts" {
	run_harness loadgen_url
}

@test "the tracer reads any capture file without crashing" {
	run_harness tracer_pcap
}

@test "the tracer reassembles reordered, repeated and lost segments without crashing" {
	run_harness tracer_tcp
}

@test "the fuzz summary adds up the CPU seconds of every run of a harness" {
	local work=$BATS_TEST_TMPDIR/work
	FUZZ_WORK=$work FUZZ_NICE=0 FUZZ_ARGS="-seed=1 -runs=2000" run "$TOP/tests/fuzz/run" loadgen_url
	assert_success
	FUZZ_WORK=$work FUZZ_NICE=0 FUZZ_ARGS="-seed=2 -runs=2000" run "$TOP/tests/fuzz/run" loadgen_url
	assert_success
	assert_line --regexp '^harness +runs +exec/s +cov +ft +corpus +cpu-s +total +result$'
	run awk '$1 == "loadgen_url" { n++; s += $2 } END { print n, s }' "$work/cpu.tsv"
	assert_output --regexp '^2 [0-9]+$'
	local total=${output#2 }
	run awk '$1 == "loadgen_url" && $NF == "ok" { print $(NF-1) }' "$work/summary"
	assert_output "$total"
}
