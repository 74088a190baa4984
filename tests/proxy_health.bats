#!/usr/bin/env bats
# proxy, step 6 deciding step 3: whether a server takes requests.  Outlier
# ejection (--max-fails failures in a row eject a server for a time that
# grows with each ejection, capped; at most --max-ejected of a pool at once,
# never its last server; back on probation when the time is over) and
# active checks (--health-check, with rise and fall counts).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b2 --listen 127.0.0.12:0 --name b3
	export B2=$(addr_of mock b2) B3=$(addr_of mock b3)
	export DEAD=$(dead_addr 127.0.0.31) DEAD2=$(dead_addr 127.0.0.32) DEAD3=$(dead_addr 127.0.0.33)
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

# count_events NAME EVENT: how many EVENT events proxy NAME wrote.
count_events() { grep -c "\"event\":\"$2\"" "$BATS_TEST_TMPDIR/$1.jsonl"; }

# stats NAME JQ: proxy NAME's /stats (it has --admin) through jq -r JQ.
stats() { curl -s -m 5 "http://$(addr_of "$1" admin)/stats" | jq -r "$2"; }

# toggled NAME: a mockserver of its own (SIGUSR1 makes it answer 503).
toggled() { start_bg "$1" "$L7_BIN/mockserver" --listen 127.0.0.14:0 --name "$1"; }
health_of() { [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$(addr_of "$1")/health")" = "$2" ]; }

@test "--max-fails failures in a row eject a server: step 3 passes it by, and says why" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 2
	local i
	for i in 1 2 3 4; do status_via p >/dev/null; done
	wait_until grep -q "server dead ejected for 10s (ejection 1 in a row): 2 failures in a row, the last: connect" "$(err_of p)"
	for i in 1 2 3 4 5 6; do run status_via p; assert_output 200; done
	wait_until test "$(count_events p response-complete)" -eq 10
	run events_of p 'select(.event == "decide") | .reason'
	assert_line --index 9 "roundrobin: next in turn (dead: 0 in flight, b2: 0); skipped dead (ejected)"
	run events_of p 'select(.event == "server-down") | "\(.step) \(.server_name) \(.fails) \(.ms) \(.ejection)"'
	assert_output "6 dead 2 10000 1"
	[ "$(count_events p retry)" -eq 2 ]     # only the two requests before the ejection
}

@test "an ejected server comes back when its time is over, and the log and an event say so" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 1 --fail-timeout 200ms --admin 127.0.0.1:0
	status_via p >/dev/null
	wait_until grep -q '"event":"server-up"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event | startswith("server-")) | "\(.event) \(.server_name) \(.reason)"'
	assert_line --index 0 --regexp "^server-down dead connect .*Connection refused$"
	assert_line --index 1 "server-up dead ejection over"
	assert grep -q 'server dead back in pool default after 200ms ejected: on probation, one more failure ejects it again' "$(err_of p)"
	run stats p '.pools[0].servers[0] | "\(.state) \(.ejections)"'
	assert_output "up 1"
}

@test "each ejection soon after the last lasts longer, up to --fail-timeout-max" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 1 --fail-timeout 400ms --fail-timeout-max 900ms
	spawn load "$L7_BIN/loadgen" -r 100 -c 4 -d 20s "http://$(addr_of p)/"
	thrice() { [ "$(count_events p server-down)" -ge 3 ]; }
	wait_for 15 thrice
	stop_bg load
	run events_of p 'select(.event == "server-down") | "\(.ejection) \(.ms)"'
	assert_line --index 0 "1 400"
	assert_line --index 1 "2 800"
	assert_line --index 2 "3 900"
}

@test "a quiet spell after its return forgives a server an ejection" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 1 --fail-timeout 100ms
	status_via p >/dev/null                                 # ejection 1: 100 ms
	wait_until grep -q '"event":"server-up"' "$BATS_TEST_TMPDIR/p.jsonl"
	sleep 0.3     # the quiet spell itself (not a wait for readiness): longer only forgives more
	local i
	for i in 1 2; do status_via p >/dev/null; done          # dead fails once more
	wait_until test "$(count_events p server-down)" -eq 2
	run events_of p 'select(.event == "server-down") | .ejection'
	assert_output $'1\n1'
}

@test "one answer after its return ends a server's run of failures" {
	toggled late
	kill -USR1 "$(pid_of late)"
	wait_until health_of late 503
	events_proxy p --backend "late=$(addr_of late)" --backend "b2=$B2" --retry-on 503 --max-fails 2 \
		--fail-timeout 200ms --admin 127.0.0.1:0
	down() { status_via p >/dev/null; [ "$(count_events p server-down)" -ge 1 ]; }
	wait_until down
	kill -USR1 "$(pid_of late)"
	wait_until health_of late 200
	wait_until grep -q '"event":"server-up"' "$BATS_TEST_TMPDIR/p.jsonl"
	run stats p '.pools[0].servers[0].fails_in_row'
	assert_output 1                                   # on probation
	answered() { curl -s -m 5 -D - -o /dev/null "http://$(addr_of p)/" | grep -q 'X-Backend: late'; }
	wait_until answered
	run stats p '.pools[0].servers[0] | "\(.state) \(.fails_in_row)"'
	assert_output "up 0"
}

@test "at most --max-ejected of a pool is out at once" {
	events_proxy p --backend "d1=$DEAD" --backend "d2=$DEAD2" --backend "d3=$DEAD3" --backend "b2=$B2" \
		--max-fails 1 --fail-timeout 60s --max-ejected 50% --admin 127.0.0.1:0
	kept() { status_via p >/dev/null; [ "$(count_events p server-kept)" -ge 1 ]; }
	wait_until kept
	[ "$(count_events p server-down)" -eq 2 ]
	run stats p '.pools[0] | "\(.servers_out) \([.servers[] | .state] | sort | join(" "))"'
	assert_output "2 ejected ejected up up"
	run events_of p 'select(.event == "server-kept") | "\(.out) \(.reason)"'
	assert_output "2 max-ejected"
	assert grep -q 'not ejected after 1 failures in a row: 2 of pool default.s 4 servers are out (--max-ejected 50%, never the last)' "$(err_of p)"
}

@test "the last server of a pool is never ejected" {
	events_proxy p --backend "dead=$DEAD" --max-fails 1 --max-ejected 100 --admin 127.0.0.1:0
	local i
	for i in 1 2 3; do run status_via p; assert_output 502; done
	run stats p '.pools[0].servers[0].state'
	assert_output up
	[ "$(count_events p server-down)" -eq 0 ]
	events_proxy q --backend "d1=$DEAD" --backend "d2=$DEAD2" --max-fails 1 --max-ejected 100
	for i in 1 2 3 4; do run status_via q; assert_output 502; done
	[ "$(count_events q server-down)" -eq 1 ]
}

@test "active checks take a server out after --health-fall failures and back after --health-rise passes" {
	toggled c1
	events_proxy p --backend "c1=$(addr_of c1)" --backend "b2=$B2" --health-check /health --health-interval 50ms \
		--health-fall 2 --health-rise 3 --admin 127.0.0.1:0
	kill -USR1 "$(pid_of c1)"
	wait_until grep -q '"event":"server-down"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "server-down") | "\(.step) \(.server_name) \(.reason)"'
	assert_output "6 c1 health check GET /health: status 503, 2 failures in a row"
	local i
	for i in 1 2 3 4; do
		run curl -s -m 5 -D - -o /dev/null "http://$(addr_of p)/"
		assert_line --partial 'X-Backend: b2'
	done
	run stats p '.pools[0].servers[0] | "\(.state) \(.checks.last)"'
	assert_output "down fail"
	kill -USR1 "$(pid_of c1)"
	wait_until grep -q '"event":"server-up"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "server-up") | .reason'
	assert_output "health check GET /health: status 200, 3 passes in a row"
	run stats p '.pools[0].servers[0] | "\(.state) \(.checks.passed >= 3) \(.checks.failed >= 2)"'
	assert_output "up true true"
}

@test "a check with no answer within --health-timeout fails" {
	events_proxy p --backend "b2=$B2" --backend "b3=$B3" --health-check /hang --health-interval 50ms \
		--health-timeout 100ms --health-fall 1
	wait_until grep -q '"event":"server-down"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "server-down") | .reason' 
	assert_line --index 0 "health check GET /hang: no answer within 100ms, 1 failure in a row"
}

@test "a check of a server that refuses connections fails, and with every server down they are tried anyway" {
	events_proxy p --backend "dead=$DEAD" --backend "dead2=$DEAD2" --health-check /health --health-interval 50ms \
		--health-fall 1
	both() { [ "$(count_events p server-down)" -ge 2 ]; }
	wait_until both
	run events_of p 'select(.event == "server-down") | .reason'
	assert_line --index 0 --regexp '^health check GET /health: .*Connection refused, 1 failure in a row$'
	run status_via p
	assert_output 502
	run events_of p 'select(.event == "decide") | .reason'
	assert_output --partial "; all down: tried anyway"
}

@test "a check answered with a status of four digits fails (llhttp would read 2000 as 200 too)" {
	mkdir -p "$BATS_TEST_TMPDIR/raw"
	printf 'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n' >"$BATS_TEST_TMPDIR/raw/2000.http"
	start_bg r1 "$L7_BIN/mockserver" --raw-dir "$BATS_TEST_TMPDIR/raw" --listen 127.0.0.15:0 --name r1
	events_proxy p --backend "r1=$(addr_of r1)" --backend "b2=$B2" --health-check /raw/2000.http \
		--health-interval 50ms --health-fall 1
	wait_until grep -q '"event":"server-down".*"server_name":"r1"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "server-down" and .server_name == "r1") | .reason'
	assert_output "health check GET /raw/2000.http: not an HTTP/1.x status line, 1 failure in a row"
}

@test "bad health and ejection values exit 2 with one line" {
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --health-check health
	assert_failure 2
	assert_line --index 0 "proxy: --health-check: 'health': expected a path such as /health (at most 1024 bytes)"
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --max-ejected 0
	assert_failure 2
	assert_line --index 0 "proxy: --max-ejected: '0' is not a percentage from 1 to 100"
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --health-rise 0
	assert_failure 2
	run "$L7_BIN/proxy" --check --listen 127.0.0.2:0 --backend "$B2" --health-check /health --max-ejected 30%
	assert_success
	assert_line 'health-check /health'
	assert_line 'max-ejected 30%'
}
