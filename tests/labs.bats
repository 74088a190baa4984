#!/usr/bin/env bats
# bin/lab: every lab's observations hold (its check runs its experiments
# on free ports of its own loopback /24), and the pieces of a started lab
# are started, replaced and stopped by pid.  Live-capture parts run as
# root; otherwise the checks read the recorded captures in labs/captures/.

bats_require_minimum_version 1.5.0
load helpers
eval "$(sed -n "/^free_port() {/,/^}/p" "$TOP/tests/l7lab.bash")"   # the library's free_port

setup() {
	export L7LAB_STATE=$BATS_TEST_TMPDIR
	LAB=$TOP/bin/lab
}

teardown() {
	"$LAB" stop >/dev/null 2>&1 || true
}

check_lab() {
	run "$LAB" check "$1"
	echo "$output"
	assert_success
	refute_output --partial 'NOT OK'
	assert_line --regexp '^([0-9]+) of \1 observations hold$'
}

@test "lab 01's observations hold: two connections, reuse, keep-alive, allow/deny, idle timeout, tshark" { check_lab 01; }
@test "lab 02's observations hold: headers before the body, 431/414/413, slowloris" { check_lab 02; }
@test "lab 03's observations hold: weighted round robin, leastconn and random with a slow backend" { check_lab 03; }
@test "lab 04's observations hold: virtual hosts, first match, canary header, path prefix" { check_lab 04; }
@test "lab 05's observations hold: header edits, pooled connections, the keep-alive race" { check_lab 05; }
@test "lab 06's observations hold: backend errors, --retry-on, failover, telemetry, leaks" { check_lab 06; }
@test "lab 07's observations hold: smuggling requests refused, ambiguous responses not forwarded" { check_lab 07; }
@test "lab 08's observations hold: ewma keeps away from a slow server and comes back when it recovers" { check_lab 08; }
@test "lab 09's observations hold: detect and block, where the WAF looks, the body limit, two rule sets, the cost" { check_lab 09; }
@test "lab 10's observations hold: detect, mask with the length kept, near misses, chunk cuts, identity, block" { check_lab 10; }
@test "lab 11's observations hold: connections per address, the /24 group, 429 with Retry-After, the slow POST" { check_lab 11; }
@test "lab 12's observations hold: a key stays on its server, and removing one of four moves only its keys" { check_lab 12; }

@test "bin/lab list shows the twelve labs" {
	run "$LAB" list
	assert_success
	assert_line --regexp '^07 +2, 5, 6 +Ambiguous messages'
	assert_line --regexp '^10 +6, 7 +Data-leak prevention'
	assert_line --regexp '^11 +1, 2 +Per-client limits'
	assert_line --regexp '^12 +3 +Keeping a key on its server'
}

@test "bad lab numbers and commands are one line and exit 2" {
	run "$LAB" check 42
	assert_failure 2
	assert_output 'lab: there is no lab 42 (bin/lab list)'
	run "$LAB" start x
	assert_failure 2
	run "$LAB" frobnicate
	assert_failure 2
}

@test "a started lab's pieces listen, are replaced by run, and stop by their pids" {
	export L7LAB_PROXY_PORT=$(free_port) L7LAB_BACKEND_PORT=$(free_port)
	run "$LAB" start 02
	assert_success
	assert_line --partial "proxy (pid"
	curl -s "http://127.0.2.2:$L7LAB_PROXY_PORT/" | grep -q 'hello from b1'
	local old; old=$("$LAB" pid proxy)
	run "$LAB" run proxy "$L7_BIN/proxy" --listen "127.0.2.2:$L7LAB_PROXY_PORT" --backend "127.0.2.12:$L7LAB_BACKEND_PORT"
	assert_success
	! kill -0 "$old" 2>/dev/null
	[ "$(curl -s "http://127.0.2.2:$L7LAB_PROXY_PORT/")" = 'hello from b2' ]
	local new; new=$("$LAB" pid proxy)
	run "$LAB" stop
	assert_success
	! kill -0 "$new" 2>/dev/null
}

@test "a port held by another program is named, never killed, and start exits 2" {
	export L7LAB_PROXY_PORT=$(free_port) L7LAB_BACKEND_PORT=$(free_port)
	start_bg squatter "$L7_BIN/mockserver" --listen "127.0.2.2:$L7LAB_PROXY_PORT"
	run "$LAB" start 02
	assert_failure 2
	assert_output --partial "127.0.2.2:$L7LAB_PROXY_PORT is in use by another program"
	kill -0 "$(pid_of squatter)"
	stop_all
}
