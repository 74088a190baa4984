#!/usr/bin/env bats
# proxy, step 6 feeding back into steps 3 and 4: a server that fails before
# its response gets the request retried on another (--retries, --retry-on),
# and passive health marks a server that keeps failing down for a while
# (--max-fails, --fail-timeout), so round robin passes it by.

load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" \
		--listen 127.0.0.11:0 --name b2 \
		--listen 127.0.0.12:0 --name drop --drop-rate 1 \
		--listen 127.0.0.13:0 --name busy --fail-rate 1 --fail-status 503
	export B2=$(addr_of mock b2) DROP=$(addr_of mock drop) BUSY=$(addr_of mock busy)
	export DEAD=$(dead_addr 127.0.0.31) DEAD2=$(dead_addr 127.0.0.32)
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

# proxy_with NAME ARGS...: a proxy for one test, its events in NAME.jsonl.
proxy_with() {
	local n=$1; shift
	start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 --events "$BATS_TEST_TMPDIR/$n.jsonl" "$@"
}

# code NAME [CURL ARGS...]: the status of a request to proxy NAME.
code() { local n=$1; shift; curl -s -m 5 -o /dev/null -w '%{http_code}' "$@" "http://$(addr_of "$n")/"; }

# access NAME: the access-log lines of proxy NAME.
access() { grep ' pool=' "$(err_of "$1")"; }

# events NAME JQ: the --events lines of proxy NAME through jq -r JQ.
events() { jq -r "$2" "$BATS_TEST_TMPDIR/$1.jsonl"; }

@test "a request to a pool whose first server is dead is answered by the other" {
	proxy_with p --backend "dead=$DEAD" --backend "b2=$B2"
	run code p
	assert_output 200
	wait_until grep -q 'server=b2 .* retries=1$' "$(err_of p)"
}

@test "a GET the server dropped after reading it is sent again to another" {
	proxy_with p --backend "drop=$DROP" --backend "b2=$B2"
	run curl -s -m 5 -D - -o /dev/null "http://$(addr_of p)/"
	assert_line --partial "X-Backend: b2"
	wait_until grep -q '"GET / HTTP/1.1" 200 .*server=b2 .* retries=1$' "$(err_of p)"
}

@test "a lone server that timed out is not tried again: one 504, one timeout" {
	start_bg hang "$L7_BIN/mockserver" --listen 127.0.0.14:0 --name h
	proxy_with p --backend "h=$(addr_of hang)" --timeout-server 1s
	run curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "http://$(addr_of p)/hang"
	assert_output --regexp '^504 1\.'      # one timeout, not two (a second of slack for a loaded machine)
	run events p 'select(.event == "retry") | .failed'
	assert_output ""
}

@test "a POST whose body was sent is not retried: 502" {
	proxy_with p --backend "drop=$DROP" --backend "b2=$B2"
	run code p -X POST --data-binary hello
	assert_output 502
	wait_until grep -q '"POST / HTTP/1.1" 502 .*server=drop ' "$(err_of p)"
	refute grep -q 'retries=' "$(err_of p)"
}

@test "a POST nothing of which was sent yet goes to the other server" {
	proxy_with p --backend "dead=$DEAD" --backend "b2=$B2"
	run curl -s -m 5 -X POST --data-binary hello "http://$(addr_of p)/echo"
	assert_output --partial '"body":"hello"'
}

@test "--retries 0 answers 502 when the server is dead" {
	proxy_with p --backend "dead=$DEAD" --backend "b2=$B2" --retries 0
	run code p
	assert_output 502
}

@test "when every server is dead the answer is 502, without a hang" {
	proxy_with p --backend "dead=$DEAD" --backend "dead2=$DEAD2" --retries 5
	run code p
	assert_output 502
	wait_until grep -q 'server=dead.* retries=5 err="connect ' "$(err_of p)"
}

@test "after --max-fails failures the dead server is skipped, no retry needed" {
	proxy_with p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 2
	local i
	for i in 1 2 3 4; do code p >/dev/null; done
	wait_until grep -q 'server dead down for 10s: 2 failures in a row' "$(err_of p)"
	for i in 1 2 3 4 5 6; do run code p; assert_output 200; done
	wait_until test "$(access p | wc -l)" -eq 10
	run sh -c "grep ' pool=' '$(err_of p)' | tail -n 6 | grep -c 'server=b2 .*id=[0-9a-f]*$'"
	assert_output 6
	run events p 'select(.event == "decide") | .reason'
	assert_line --index 9 "roundrobin: next in turn (dead: 0 in flight, b2: 0); skipped dead (down)"
}

@test "after --fail-timeout the down server is tried again" {
	proxy_with p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 1 --fail-timeout 200ms
	again() { code p >/dev/null; [ "$(grep -c '"event":"server-down"' "$BATS_TEST_TMPDIR/p.jsonl")" -ge 2 ]; }
	wait_until again
	run sh -c "grep -c 'server dead down' '$(err_of p)'"
	assert_output 2
}

@test "a server that answers again is marked up" {
	# late answers 503 until a second SIGUSR1 heals it (not after a time,
	# which a loaded machine may spend before the first request)
	start_bg late "$L7_BIN/mockserver" --listen 127.0.0.14:0 --name late
	health() { [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$(addr_of late)/health")" = "$1" ]; }
	kill -USR1 "$(pid_of late)"
	wait_until health 503
	proxy_with p --backend "late=$(addr_of late)" --backend "b2=$B2" --retry-on 503 --max-fails 1 --fail-timeout 50ms
	run code p
	assert_output 200
	down() { code p >/dev/null; grep -q '"event":"server-down"' "$BATS_TEST_TMPDIR/p.jsonl"; }
	wait_until down
	kill -USR1 "$(pid_of late)"
	wait_until health 200
	up() { code p >/dev/null; grep -q '"event":"server-up"' "$BATS_TEST_TMPDIR/p.jsonl"; }
	wait_until up
	run events p 'select(.event | startswith("server-")) | "\(.step) \(.event) \(.server_name)"'
	assert_line --index 0 "6 server-down late"
	assert_equal "${lines[-1]}" "6 server-up late"
	wait_until grep -q 'server late up: it answered again' "$(err_of p)"
}

@test "--retry-on 503 drops the 503 and asks another server" {
	proxy_with p --backend "busy=$BUSY" --backend "b2=$B2" --retry-on 502,503,504
	run curl -s -m 5 -D - -o /dev/null "http://$(addr_of p)/"
	assert_line --partial "HTTP/1.1 200 OK"
	assert_line --partial "X-Backend: b2"
}

@test "--retry-on does not retry a request with a body: the 503 goes through" {
	proxy_with p --backend "busy=$BUSY" --backend "b2=$B2" --retry-on 503
	run code p -X POST --data-binary hello
	assert_output 503
}

@test "a 503 without --retry-on goes through to the client" {
	proxy_with p --backend "busy=$BUSY" --backend "b2=$B2"
	run code p
	assert_output 503
}

@test "the retry event names the failed server, the reason and the next one" {
	proxy_with p --backend "dead=$DEAD" --backend "b2=$B2"
	code p >/dev/null
	wait_until grep -q '"event":"retry"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events p 'select(.event == "retry") | "\(.step) \(.failed) \(.server_name) \(.retry) \(.reason)"'
	assert_output "4 dead b2 1 connect $DEAD: Connection refused"
	run events p 'select(.event == "retry") | .pick'
	assert_output "roundrobin: next in turn (dead: 0 in flight, b2: 0); skipped dead (just failed)"
}

@test "SIGUSR1 shows which servers are up and which down" {
	proxy_with p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 1
	code p >/dev/null
	wait_until grep -q 'server dead down' "$(err_of p)"
	kill -USR1 "$(pid_of p)"
	wait_until grep -q 'stats pool=default server=b2 state=up fails=0 ' "$(err_of p)"
	assert grep -q 'stats pool=default server=dead state=down fails=1 ' "$(err_of p)"
}

@test "bad --retries and --retry-on values exit 2 with one line" {
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --retries 11
	assert_failure 2
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --retry-on 200
	assert_failure 2
	assert_output --partial "--retry-on: '200' is not a status from 400 to 599"
}
