#!/usr/bin/env bats
# proxy, step 3: the balancing algorithms issue 11 added, end to end through
# mockserver backends that name themselves (X-Backend): ewma steering away
# from a slow server and saying why, the hash keys (header, path, client
# address) on a consistent ring, and weights with leastconn.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name b2 \
		--listen 127.0.0.13:0 --name b3 --listen 127.0.0.15:0 --name slow --delay 200ms
	export B1=$(addr_of mock b1) B2=$(addr_of mock b2) B3=$(addr_of mock b3) SLOW=$(addr_of mock slow)
}

teardown_file() { stop_all_file; }

setup() { cd "$BATS_TEST_TMPDIR"; }    # files a test writes stay there

teardown() { stop_all; }

# balanced NAME ARGS...: a proxy for one test; sets P.
balanced() {
	local name=$1
	shift
	start_bg "$name" "$L7_BIN/proxy" --listen 127.0.0.2:0 --quiet "$@"
	P=$(addr_of "$name")
}

# backend [CURL ARGS...] PATH: which backend answered a request for PATH.
backend() {
	local path=${*: -1}
	curl -si "${@:1:$#-1}" "http://$P$path" | tr -d '\r' | awk '$1 == "X-Backend:" { print $2 }'
}

@test "ewma sends almost nothing to a server much slower than the others" {
	# slow answers in 200 ms: far above any hiccup of the others (a busy
	# machine, sanitizers), which ewma's peak also remembers for a while
	balanced lt --backend "b1=$B1" --backend "b2=$B2" --backend "slow=$SLOW" --balance least-time
	local i
	for ((i = 0; i < 60; i++)); do backend /; done >answers
	sort answers | uniq -c
	# an idle, unknown server is tried once; then its 200 ms keep it away
	# (a stall of the machine lifts a fast server's estimate for a while,
	# and slow may get one or two more then: round robin would give it 20)
	[ "$(grep -c '^slow$' answers)" -le 4 ]
	[ "$(grep -c '^b[12]$' answers)" -ge 56 ]
}

@test "the step-3 event of an ewma pool gives both candidates' costs" {
	balanced ew --backend "b1=$B1" --backend "slow=$SLOW" --balance ewma --events "$BATS_TEST_TMPDIR/ev"
	backend / >/dev/null
	backend / >/dev/null
	backend / >/dev/null
	three_done() { [ "$(grep -c '"step":7' "$BATS_TEST_TMPDIR/ev")" -ge 3 ]; }
	wait_until three_done
	run jq -r 'select(.step == 3) | .reason' "$BATS_TEST_TMPDIR/ev"
	assert_line --index 2 --regexp '^ewma: (b1|slow): [0-9.]+ ms × 1 = [0-9.]+ vs (b1|slow): [0-9.]+ ms × 1 = [0-9.]+ -> b1$'
	run jq -r 'select(.step == 3) | .algorithm' "$BATS_TEST_TMPDIR/ev"
	assert_line --index 0 ewma
}

@test "hash:header sends every request with the same key to the same server" {
	balanced hh --backend "b1=$B1" --backend "b2=$B2" --backend "b3=$B3" --balance hash:header:X-User
	local user i
	for user in alice bob carol dave erin frank grace heidi; do
		for ((i = 0; i < 4; i++)); do backend -H "X-User: $user" /; done | sort -u >"seen.$user"
		[ "$(wc -l <"seen.$user")" -eq 1 ]
	done
	# eight users over three servers: more than one server has some
	[ "$(cat seen.* | sort -u | wc -l)" -ge 2 ]
}

@test "hash:header without the header takes the servers in turn" {
	balanced hn --backend "b1=$B1" --backend "b2=$B2" --backend "b3=$B3" --balance hash:header:X-User
	run sh -c "for i in 1 2 3; do curl -si http://$P/ | tr -d '\r' | awk '\$1 == \"X-Backend:\" { print \$2 }'; done | sort | tr '\n' ' '"
	assert_output 'b1 b2 b3 '
}

@test "hash:uri keys on the path, not the query string" {
	balanced hu --backend "b1=$B1" --backend "b2=$B2" --backend "b3=$B3" --balance hash:uri
	local k
	for k in 1 2 3 4 5 6; do
		[ "$(backend "/cart/$k?a=1")" = "$(backend "/cart/$k?a=2&b=3")" ]
	done
}

@test "hash:source sends one client address to one server" {
	balanced hs --backend "b1=$B1" --backend "b2=$B2" --backend "b3=$B3" --balance hash:source
	local ip i
	for ip in 127.0.0.1 127.0.0.3 127.0.0.4 127.0.0.5; do
		for ((i = 0; i < 3; i++)); do backend --interface "$ip" /; done | sort -u >"seen.$ip"
		[ "$(wc -l <"seen.$ip")" -eq 1 ]
	done
}

@test "a pool with a server down sends each key where the pool without it would" {
	# the same ring minus one server: only the down server's keys move
	balanced with --backend "b1=$B1" --backend "b2=$B2" --backend "b3=127.0.0.14:1" \
		--balance hash:uri --max-fails 1 --fail-timeout 60s --events "$BATS_TEST_TMPDIR/ev"
	local with=$P
	balanced without --backend "b1=$B1" --backend "b2=$B2" --balance hash:uri
	local without=$P k
	for k in $(seq 1 30); do
		P=$with
		local a; a=$(backend "/item/$k")
		P=$without
		[ "$a" = "$(backend "/item/$k")" ] || { echo "key /item/$k: $a with b3 down, not the same without b3"; return 1; }
	done
	# b3 did own some of the keys: it failed, and is down
	wait_until grep -q '"server-down"' "$BATS_TEST_TMPDIR/ev"
	run jq -r 'select(.event == "server-down") | .server_name' "$BATS_TEST_TMPDIR/ev"
	assert_output b3
}

@test "the step-3 event of a hash pool names the key" {
	balanced he --backend "b1=$B1" --backend "b2=$B2" --balance hash:header:X-User --events "$BATS_TEST_TMPDIR/ev"
	local b; b=$(backend -H 'X-User: alice' /)
	wait_until grep -q '"step":7' "$BATS_TEST_TMPDIR/ev"
	run jq -r 'select(.step == 3) | .reason' "$BATS_TEST_TMPDIR/ev"
	assert_output "hash:header:X-User 'alice' -> $b on the ring"
}

@test "leastconn with weights 3:1 shares an idle pool 3:1" {
	balanced lw --backend "b1=$B1*3" --backend "b2=$B2" --balance leastconn
	run sh -c "for i in \$(seq 8); do curl -si http://$P/ | tr -d '\r' | awk '\$1 == \"X-Backend:\" { print \$2 }'; done | sort | uniq -c | awk '{ print \$2 \"=\" \$1 }' | tr '\n' ' '"
	assert_output 'b1=6 b2=2 '
}

@test "--check prints the balance and the ewma decay back" {
	run "$L7_BIN/proxy" --check --listen 127.0.0.2:0 --backend "b1=$B1" --balance hash:header:X-User \
		--pool "api=a1=$B2" --balance api=least-time --ewma-decay 10s
	assert_success
	assert_line 'ewma-decay 10s'
	assert_line $'\tbalance hash:header:X-User'
	assert_line $'\tbalance ewma'
}
