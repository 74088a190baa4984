#!/usr/bin/env bats
# bin/lab topology: client, proxy and backends as network namespaces (root
# only; everything named l7lab-* and removed at the end), the demo and two
# labs running in it; and where namespaces cannot be made (a chroot), one
# line, exit 2, and nothing left behind.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	# The l7lab-* namespaces are the machine's, and the suite of another
	# checkout may run beside this one: one topology.bats at a time.
	exec {TOPO_LOCK}>>/tmp/l7lab-topology.lock
	flock -w 600 "$TOPO_LOCK" || { echo "# the topology tests of another run held it for 10 minutes" >&3; return 1; }
	export L7LAB_STATE=$BATS_FILE_TMPDIR
	local rc=0
	"$TOP/bin/lab" topology up >"$BATS_FILE_TMPDIR/up.out" 2>&1 || rc=$?
	# Where namespaces cannot be made, the tests that need them skip with its words.
	[ "$rc" -eq 0 ] || grep -q 'cannot be made here' "$BATS_FILE_TMPDIR/up.out"
}

teardown_file() {
	[ "$(id -u)" = 0 ] || return 0
	"$TOP/bin/lab" topology down >/dev/null 2>&1 || true
}

setup() {
	[ "$(id -u)" = 0 ] || skip "network namespaces need root"
	export L7LAB_STATE=$BATS_FILE_TMPDIR
}

teardown() {
	[ -z "${ROOT:-}" ] || umount "$ROOT/proc" 2>/dev/null || true
}

# need_namespaces: skip, with bin/lab's reason, where none can be made.
need_namespaces() {
	if grep -q 'cannot be made here' "$BATS_FILE_TMPDIR/up.out"; then
		skip "$(sed 's/^lab: //' "$BATS_FILE_TMPDIR/up.out")"
	fi
}

# netns_mount: how /run/netns is mounted (nothing when it is not).
netns_mount() { awk '$5 == "/run/netns" { print $4, $5 }' /proc/self/mountinfo; }

@test "topology up makes the hosts, and says in one line when netem is absent" {
	need_namespaces
	run ip netns list
	for h in client proxy b1 b2 b3 sw; do assert_line --regexp "^l7lab-$h( |$)"; done
	if tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then tc qdisc del dev lo root; else
		[ "$(grep -c 'netem is absent' "$BATS_FILE_TMPDIR/up.out")" -eq 1 ]
	fi
	run ip netns exec l7lab-client tc qdisc show dev eth0
	assert_output --partial 'tbf'
}

@test "the client reaches the proxy's address, never a backend's" {
	need_namespaces
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
	need_namespaces
	run "$TOP/labs/demo.sh" --topology
	assert_success
	assert_output --partial 'client 198.18.1.1:'
	assert_output --regexp '4  proxy  → b1 +SYN'
	assert_output --partial '[reuse]'
}

@test "lab 01's observations hold in the topology" {
	need_namespaces
	run "$TOP/bin/lab" check 01 --topology
	echo "$output"
	assert_success
	refute_output --partial 'NOT OK'
}

@test "lab 03's observations hold in the topology" {
	need_namespaces
	run "$TOP/bin/lab" check 03 --topology
	echo "$output"
	assert_success
}

@test "topology down removes every l7lab namespace and nothing else" {
	need_namespaces
	local others; others=$(ip netns list | grep -vc '^l7lab-' || true)
	run "$TOP/bin/lab" topology down
	assert_success
	[ -z "$(ip netns list | grep '^l7lab-')" ]
	[ "$(ip netns list | grep -vc '^l7lab-' || true)" = "$others" ]
}

@test "a topology that fails half-way is removed whole, in one line and exit 2" {
	need_namespaces
	"$TOP/bin/lab" topology down >/dev/null
	local before; before=$(netns_mount)
	# an ip that cannot make veth pairs, after the namespaces are made
	mkdir "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\ncase " $* " in *" type veth "*) echo "RTNETLINK answers: Operation not permitted" >&2; exit 2 ;; esac\nexec %s "$@"\n' \
		"$(command -v ip)" >"$BATS_TEST_TMPDIR/bin/ip"
	chmod +x "$BATS_TEST_TMPDIR/bin/ip"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run "$TOP/bin/lab" topology up
	assert_failure 2
	assert_output 'lab: topology: could not build the hosts (RTNETLINK answers: Operation not permitted)'
	[ -z "$(ip netns list | grep '^l7lab-')" ]
	assert_equal "$(netns_mount)" "$before"
}

@test "in a chroot, topology up says in one line that namespaces cannot be made, exits 2, leaves nothing" {
	# A root of its own: copies of the few programs bin/lab runs there and a
	# fresh /proc; / is not a mount point, as in a chroot.
	ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$ROOT/run" "$ROOT/tmp" "$ROOT/proc" "$ROOT/dev" "$ROOT/src/bin" "$ROOT/src/labs" "$ROOT/src/tests"
	local c f x
	for c in bash dirname id ip tc awk grep ls umount rmdir rm; do
		f=$(command -v "$c")
		for x in "$f" $(ldd "$f" | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do cp -L --parents "$x" "$ROOT"; done
	done
	cp "$TOP/bin/lab" "$ROOT/src/bin/"
	cp "$TOP/labs/lib.sh" "$TOP/labs/topology.sh" "$ROOT/src/labs/"
	cp "$TOP/tests/l7lab.bash" "$ROOT/src/tests/"
	mknod -m 666 "$ROOT/dev/null" c 1 3
	mount -t proc proc "$ROOT/proc"
	run chroot "$ROOT" /usr/bin/bash /src/bin/lab topology up
	assert_failure 2
	assert_output --regexp '^lab: topology: network namespaces cannot be made here \(.+\)$'
	[ ! -e "$ROOT/run/netns" ]
	assert_equal "$(awk -v r="$ROOT/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo)" "$ROOT/proc"
}
