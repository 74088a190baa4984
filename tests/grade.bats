#!/usr/bin/env bats
# bin/grade against the reference (our proxy: every point) and the student
# starter (the basic category only), and its answers to bad usage.  The
# nginx and HAProxy adapters are run by tests/bench/grade.sh, not here.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	make -s -C "$TOP/labs/student" SANFLAGS="-fsanitize=address,undefined" >/dev/null
	# One grading per proxy serves the tests below; the two run side by
	# side (each a minute under ASan, most of it waiting on timeouts that
	# the graded proxy is meant to hit).
	local a pids=()
	for a in ours starter; do
		{ rc=0; "$TOP/bin/grade" --adapter "$a" >"$BATS_FILE_TMPDIR/$a.out" 2>&1 || rc=$?
		  echo "$rc" >"$BATS_FILE_TMPDIR/$a.rc"; } 3>&- &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# graded ADAPTER: what `run bin/grade --adapter ADAPTER` gives, from setup_file's run.
graded() {
	run bash -c 'cat "$1"; exit "$(cat "$2")"' _ "$BATS_FILE_TMPDIR/$1.out" "$BATS_FILE_TMPDIR/$1.rc"
}

@test "our proxy scores every point, category by category, N/M on the last line" {
	graded ours
	echo "$output"
	assert_success
	assert_line --regexp '^  basic +40/40 '
	assert_line --regexp '^  concurrency +10/10 +loadgen -c 100: 0 errors'
	assert_equal "${lines[-1]}" 'total 100/100'
}

@test "the student starter scores the basic category and nothing else" {
	graded starter
	assert_failure 1
	assert_line --regexp '^  basic +40/40 '
	assert_line --regexp '^  http/1.1 +0/15 +lost: two requests share one client connection'
	assert_line --regexp '^  seven steps +0/12 '
	assert_equal "${lines[-1]}" 'total 40/97'
}

@test "a failed test shows what was expected and what came back" {
	graded starter
	assert_output --partial "X-Forwarded-For at the backend: expected '203.0.113.7, 127.0.0.1', got '203.0.113.7'"
}

@test "as root, a failed test shows the tracer's labelled trace of the exchange" {
	[ "$(id -u)" = 0 ] || skip "live capture needs root"
	graded starter
	assert_output --partial "the tracer's labelled trace of this test:"
	assert_output --partial "4  proxy  → b1       SYN"
}

@test "a template without {listen} is refused with one line and exit 2" {
	run "$TOP/bin/grade" "$L7_BIN/proxy --backend {backend}"
	assert_failure 2
	assert_output 'grade: the template has no {listen}: where should the proxy listen?'
}

@test "an unknown proxy command and an unknown adapter exit 2" {
	run "$TOP/bin/grade" 'no-such-proxy --listen {listen}'
	assert_failure 2
	assert_output 'grade: no-such-proxy: command not found'
	run "$TOP/bin/grade" --adapter squid
	assert_failure 2
	assert_output --partial "grade: no adapter 'squid'"
}
