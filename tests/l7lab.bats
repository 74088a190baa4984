#!/usr/bin/env bats
# tests/l7lab.bash, the library for anyone's bats tests: named backends on
# free ports, any proxy started and awaited, loadgen, a tracer capture
# around a block, assertions on the trace, and processes stopped by pid.

bats_require_minimum_version 1.5.0
load 'l7lab'

@test "mock_backends starts named backends on free ports" {
	mock_backends b1 b2
	[ "$(curl -s "http://$(backend_addr b2)/")" = 'hello from b2' ]
	[ "$(backend_names | paste -sd' ')" = 'b1 b2' ]
	[[ $(backends_list) == 127.0.0.1:*,127.0.0.1:* ]]
}

@test "start_proxy fills the placeholders and returns once the proxy listens" {
	mock_backends b1 b2
	start_proxy "$L7_BIN/proxy --listen {listen} --pool default={backends} --quiet"
	[ "$(curl -s "$(proxy_url)")" = 'hello from b1' ]
	[ "$(curl -s "$(proxy_url)")" = 'hello from b2' ]
}

@test "start_proxy --config fills a configuration template, one line per backend" {
	mock_backends b1 b2
	printf 'listen {listen}\npool default {\n\tserver {name} {server}\n}\n' >"$BATS_TEST_TMPDIR/tmpl"
	start_proxy --config "$BATS_TEST_TMPDIR/tmpl" "$L7_BIN/proxy -c {config} --quiet"
	grep -q "server b2 $(backend_addr b2)" "$BATS_TEST_TMPDIR/proxy.conf"
	[ "$(curl -s "$(proxy_url)")" = 'hello from b1' ]
}

@test "start_proxy fails with the proxy's own words when it cannot start" {
	run start_proxy "$L7_BIN/proxy --listen {listen} --backend nowhere"
	assert_failure
	assert_output --partial 'the proxy did not listen'
}

@test "run_loadgen reports through loadgen_field" {
	mock_backends b1
	start_proxy "$L7_BIN/proxy --listen {listen} --backend {backend} --quiet"
	run_loadgen -c 2 -n 50
	[ "$(loadgen_field '.status["200"]')" = 50 ]
	[ "$(loadgen_field .by_header.b1)" = 50 ]
}

@test "assert_steps, assert_reused, assert_backend and assert_step_time read the trace" {
	mock_backends b1 b2
	start_proxy "$L7_BIN/proxy --listen {listen} --backend {backend} --timeout-pool 60s --quiet"
	trace_start
	curl -s "$(proxy_url)" "$(proxy_url)" >/dev/null
	trace_stop
	assert_steps --request 1 1 2 3 4 5 6 7
	assert_steps 2 3 5 6 7
	assert_reused --request 2
	assert_backend b1
	assert_step_time --request 1 4 -lt 10s
	assert_step_time --request 2 3 -ge 0us
}

@test "a failed trace assertion says what the trace shows" {
	mock_backends b1
	start_proxy "$L7_BIN/proxy --listen {listen} --backend {backend} --quiet"
	trace_start
	curl -s "$(proxy_url)" >/dev/null
	trace_stop
	run assert_reused
	assert_failure
	assert_output 'request 1: expected the proxy to reuse a backend connection (step 5 with no step 4), the trace shows a new connection (step 4)'
	run assert_backend b2
	assert_output 'request 1: expected backend b2 to answer, the trace shows b1'
	run assert_step_time 3 -gt 10s
	assert_output --regexp '^request 1: step 3 took [0-9.]+ ms, expected -gt 10s$'
}

@test "l7_teardown stops every process by its pid" {
	mock_backends b1
	start_proxy "$L7_BIN/proxy --listen {listen} --backend {backend} --quiet"
	local p m
	p=$(l7_pid proxy) m=$(l7_pid mock1)
	l7_teardown
	! kill -0 "$p" 2>/dev/null
	! kill -0 "$m" 2>/dev/null
}

@test "l7_spawn empties NAME.out before it returns, so a wait never reads the line of the process it replaced" {
	# What a restarted backend's wait would read if the background shell
	# had not yet opened the file: its predecessor's "listening" line.
	local out; out=$(l7_out b3)
	echo 'listening b3 127.0.0.1:1' >"$out"
	# On one core the parent goes on after the fork, as on a loaded machine.
	taskset -cp 0 "$BASHPID" >/dev/null
	l7_spawn b3 sleep 30
	[ ! -s "$out" ]
}

@test "durations take units" {
	[ "$(l7_seconds 1ms)" = 0.001000000 ]
	[ "$(l7_seconds 250us)" = 0.000250000 ]
	[ "$(l7_seconds 2s)" = 2.000000000 ]
	[ "$(l7_seconds 2)" = 2.000000000 ]
	run l7_seconds fast
	assert_failure
}
