#!/usr/bin/env bats
# bin/lab topology: client, proxy and backends as network namespaces (root
# only; everything named l7lab-* and removed at the end), the demo and two
# labs running in it.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	export L7LAB_STATE=$BATS_FILE_TMPDIR
	"$TOP/bin/lab" topology up >"$BATS_FILE_TMPDIR/up.out" 2>&1
}

teardown_file() {
	[ "$(id -u)" = 0 ] || return 0
	"$TOP/bin/lab" topology down >/dev/null 2>&1 || true
}

setup() {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	export L7LAB_STATE=$BATS_FILE_TMPDIR
}

@test "topology up makes the hosts, and says in one line when netem is absent" {
	run ip netns list
	for h in client proxy b1 b2 b3 sw; do assert_line --regexp "^l7lab-$h( |$)"; done
	if tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then tc qdisc del dev lo root; else
		[ "$(grep -c 'netem is absent' "$BATS_FILE_TMPDIR/up.out")" -eq 1 ]
	fi
	run ip netns exec l7lab-client tc qdisc show dev eth0
	assert_output --partial 'tbf'
}

@test "the client reaches the proxy's address, never a backend's" {
	ip netns exec l7lab-b1 "$L7_BIN/mockserver" --listen 198.18.2.11:0 >"$BATS_TEST_TMPDIR/m.out" 2>&1 3>&- &
	local pid=$!
	wait_for_lines "$BATS_TEST_TMPDIR/m.out" '^listening' 1 "$pid"
	local port; port=$(awk '{ print $NF }' "$BATS_TEST_TMPDIR/m.out"); port=${port##*:}
	run ip netns exec l7lab-proxy curl -s --max-time 5 "http://198.18.2.11:$port/"
	assert_output --partial 'hello from'
	run ip netns exec l7lab-client curl -s --max-time 2 "http://198.18.2.11:$port/"
	assert_failure
	kill "$pid"; wait "$pid" || true
}

@test "the demo runs in the topology, traced on the proxy's interfaces" {
	run "$TOP/labs/demo.sh" --topology
	assert_success
	assert_output --partial 'client 198.18.1.1:'
	assert_output --regexp '4  proxy  → b1 +SYN'
	assert_output --partial '[reuse]'
}

@test "lab 01's observations hold in the topology" {
	run "$TOP/bin/lab" check 01 --topology
	echo "$output"
	assert_success
	refute_output --partial 'NOT OK'
}

@test "lab 03's observations hold in the topology" {
	run "$TOP/bin/lab" check 03 --topology
	echo "$output"
	assert_success
}

@test "topology down removes every l7lab namespace and nothing else" {
	local others; others=$(ip netns list | grep -vc '^l7lab-' || true)
	run "$TOP/bin/lab" topology down
	assert_success
	[ -z "$(ip netns list | grep '^l7lab-')" ]
	[ "$(ip netns list | grep -vc '^l7lab-' || true)" = "$others" ]
	"$TOP/bin/lab" topology up >/dev/null     # for any test that runs after
}
