#!/usr/bin/env bats
# mockserver fault flags: --delay, --delay-after (and SIGUSR2), --workers, --fail-rate/--fail-status, --drop-rate,
# --reset-rate, --max-requests-per-conn, --idle-timeout, --unhealthy-after,
# --unhealthy-for, --seed, and how flags attach to listeners.

load helpers

teardown() { stop_all; }

# codes URL N: the status codes of N requests to URL, one line each.
codes() {
	local i
	for ((i = 0; i < $2; i++)); do
		curl -s -o /dev/null -w '%{http_code}\n' "$1"
	done
}

@test "--delay MS delays every response" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --delay 250ms
	run curl -s -o /dev/null -w '%{time_total}' "http://$(addr_of m)/"
	awk -v t="$output" 'BEGIN { exit !(t >= 0.25 && t < 3) }'
}

@test "--delay MS:JITTER adds up to JITTER more" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --delay 100ms:200ms --seed 3
	run bash -c "for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{time_total}\n' http://$(addr_of m)/; done"
	awk '$1 < 0.1 || $1 > 2 { bad = 1 } { lo = (NR == 1 || $1 < lo) ? $1 : lo; hi = $1 > hi ? $1 : hi }
	     END { exit bad || hi - lo < 0.01 }' <<<"$output"
}

@test "--delay-after WHEN:D answers D late from WHEN on" {
	local t0; t0=$(date +%s%N)
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name m --delay 20ms --delay-after 2s:2ms
	run curl -s "http://$(addr_of m)/stats"
	# asked within 2 s of starting it (a loaded machine may take longer):
	# still the first delay
	if (($(date +%s%N) - t0 < 2000000000)); then assert_equal "$(jq .m.delay_ms <<<"$output")" 20; fi
	switched() { [ "$(curl -s "http://$(addr_of m)/stats" | jq .m.delay_ms)" = 2 ]; }
	wait_for 15 switched
}

@test "SIGUSR2 switches to the --delay-after delay at once, and a second one back" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name m --delay 3s --delay-after usr2:0
	delay_is() { [ "$(curl -s -m 5 "http://$(addr_of m)/stats" | jq .m.delay_ms)" = "$1" ]; }
	delay_is 3000
	kill -USR2 "$(pid_of m)"
	wait_until delay_is 0
	run curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$(addr_of m)/"
	assert_output 200
	kill -USR2 "$(pid_of m)"
	wait_until delay_is 3000
}

@test "a bad --delay-after exits 2 with one line" {
	run "$L7_BIN/mockserver" --listen 127.0.0.1:0 --delay-after 2ms
	assert_failure 2
	assert_line --index 0 "mockserver: --delay-after: '2ms' is not WHEN:D[:JITTER] (10s:2ms, usr2:2ms)"
}

# both URL: two requests at the same time, on two connections of one curl
# (--parallel-immediate opens both at once); each one's time_total, sorted.
both() {
	curl -s -Z --parallel-immediate -o /dev/null -o /dev/null -w '%{time_total}\n' "$1" "$1" 2>/dev/null | sort -n
}

@test "--workers 1 serves one request at a time: the second waits for the first, then its delay" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --workers 1 --delay 300ms
	local t0; t0=$(date +%s%N)
	run both "http://$(addr_of m)/"
	local wall=$((($(date +%s%N) - t0) / 1000000))
	# one answers in ~300 ms; the other only after it, 300 ms more: the
	# run lasts 600 ms at least (without workers, 300 ms)
	awk 'NR == 1 && ($1 < 0.29 || $1 > 1.5) { exit 1 } NR == 2 && ($1 < 0.45 || $1 > 3) { exit 1 } END { exit NR != 2 }' <<<"$output" ||
		fail "times: $output"
	[ "$wall" -ge 580 ] || fail "both answered after $wall ms: $output"
}

@test "--workers 2 serves two requests at once" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --workers 2 --delay 300ms
	run both "http://$(addr_of m)/"
	awk '$1 < 0.29 || $1 >= 0.58 { exit 1 } END { exit NR != 2 }' <<<"$output" || fail "times: $output"
}

@test "--workers: a queued client that leaves gives its place back" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name m --workers 1
	local a; a=$(addr_of m)
	stat_is() { [ "$(curl -s -m 2 "http://$a/stats" | jq -c "[.m.busy, .m.queued]")" = "$1" ]; }
	curl -s -o /dev/null "http://$a/delay/3000" &      # holds the worker for 3 s
	local first=$!
	wait_until stat_is '[1,0]'
	curl -s -m 1 -o /dev/null "http://$a/delay/3000" &  # waits behind it, gives up after 1 s
	local second=$!
	wait_until stat_is '[1,1]'
	local rc=0
	wait "$second" || rc=$?
	assert_equal "$rc" 28
	run curl -s -m 5 -o /dev/null -w '%{time_total}' "http://$a/"
	# served when the first is done (< 3 s from now), not when the one
	# that left would have been (3 s after that)
	awk -v t="$output" 'BEGIN { exit !(t < 4) }' || fail "the third waited $output s"
	wait "$first"
	wait_until stat_is '[0,0]'
	stop_bg m || fail "mockserver did not exit 0 (an ASan leak report exits 86)"
}

@test "--workers: /stats shows the queue, and every kind of answer gives its worker back" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name m --workers 1
	local a; a=$(addr_of m)
	stat_is() { [ "$(curl -s -m 2 "http://$a/stats" | jq -c "[.m.workers, .m.busy, .m.queued]")" = "$1" ]; }
	curl -s -o /dev/null "http://$a/delay/1500" &
	local one=$!
	curl -s -o /dev/null "http://$a/delay/1500" &
	local two=$!
	wait_until stat_is '[1,1,1]'
	wait "$one" "$two"
	local p
	for p in / /status/500 /bytes/300000 /chunked/5000 '/drip?bytes=3&ms=10' /headers/3 /leak /close /nope; do
		curl -s -m 5 -o /dev/null "http://$a$p" || fail "$p"
	done
	curl -s -m 5 -o /dev/null -I "http://$a/"
	curl -s -m 5 -o /dev/null -d hello "http://$a/echo"
	curl -s -m 5 -o /dev/null "http://$a/drop" || true
	curl -s -m 5 -o /dev/null "http://$a/reset" || true
	curl -s -m 0.3 -o /dev/null "http://$a/hang" || true
	curl -s -m 0.3 -o /dev/null "http://$a/drip?bytes=100&ms=50" || true
	wait_until stat_is '[1,0,0]'
	run curl -s -m 2 "http://$a/"
	assert_output 'hello from m'
	stop_bg m || fail "mockserver did not exit 0 (an ASan leak report exits 86)"
}

@test "--workers is per listener, with the defaults before the first --listen" {
	start_bg m "$L7_BIN/mockserver" --workers 2 --listen 127.0.0.1:0 --name a \
		--listen 127.0.0.1:0 --name b --workers 5
	run curl -s "http://$(addr_of m a)/stats"
	assert_equal "$(jq -c '[.a.workers, .b.workers]' <<<"$output")" '[2,5]'
	start_bg n "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name c
	run curl -s "http://$(addr_of n)/stats"
	assert_equal "$(jq .c.workers <<<"$output")" 0      # no limit
}

@test "a bad --workers exits 2 with one line" {
	local v
	for v in 0 -1 x 99999999999 10001 ''; do
		run "$L7_BIN/mockserver" --listen 127.0.0.1:0 --workers "$v"
		assert_failure 2
		assert_line --index 0 "mockserver: --workers: '$v' is not a whole number from 1 to 10000"
	done
}

@test "--fail-rate 1 answers every request with --fail-status and X-Fault" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name f --fail-rate 1 --fail-status 502
	run curl -si "http://$(addr_of m)/"
	assert_line --partial 'HTTP/1.1 502 Bad Gateway'
	assert_line --partial 'X-Fault: fail-rate'
	assert_line --partial 'X-Backend: f'
}

@test "--fail-rate 0.5 fails about half of the requests" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --fail-rate 50% --seed 42
	run bash -c "$(declare -f codes); codes http://$(addr_of m)/ 60 | grep -c 500"
	[ "$output" -ge 15 ] && [ "$output" -le 45 ]
}

@test "--fail-rate 0 never fails" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --fail-rate 0
	run bash -c "$(declare -f codes); codes http://$(addr_of m)/ 10 | sort -u"
	assert_output 200
}

@test "--seed makes the faults reproducible" {
	start_bg a "$L7_BIN/mockserver" --listen 127.0.0.1:0 --fail-rate 0.5 --seed 7
	start_bg b "$L7_BIN/mockserver" --listen 127.0.0.1:0 --fail-rate 0.5 --seed 7
	local one two
	one=$(codes "http://$(addr_of a)/" 20)
	two=$(codes "http://$(addr_of b)/" 20)
	[ "$one" = "$two" ]
	grep -q 500 <<<"$one"
	grep -q 200 <<<"$one"
}

@test "--drop-rate 1 closes every connection without an answer" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --drop-rate 1 --listen 127.0.0.1:0 --name ok
	run curl -s "http://$(addr_of m)/"
	assert_equal "$status" 52
	run curl -s "http://$(addr_of m ok)/stats"
	run jq -r '.[] | select(.dropped > 0) | .dropped' <<<"$output"
	assert_output 1
}

@test "--reset-rate 1 resets every connection" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --reset-rate 1
	run curl -s "http://$(addr_of m)/"
	assert_equal "$status" 56
}

@test "--max-requests-per-conn N closes each connection after N requests" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --max-requests-per-conn 2
	local u="http://$(addr_of m)/"
	run curl -s -D - -o /dev/null "$u" "$u" "$u"
	run bash -c "tr -d '\r' <<<\"\$1\" | grep -E '^(X-Conn|X-Conn-Request|Connection):' | tr '\n' ' '" _ "$output"
	assert_output 'X-Conn: 1 X-Conn-Request: 1 X-Conn: 1 X-Conn-Request: 2 Connection: close X-Conn: 2 X-Conn-Request: 1 '
}

@test "--idle-timeout closes an idle keep-alive connection" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --idle-timeout 300ms
	local p; p=$(port_of m)
	# nc keeps its side open after sending, so only the server can end this.
	run bash -c "printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | { time -p timeout 5 nc 127.0.0.1 $p >/dev/null; } 2>&1"
	assert_success
	awk '$1 == "real" { exit !($2 >= 0.25 && $2 < 4) }' <<<"$output"
}

# within_since T0 SECONDS: less than SECONDS have passed since EPOCHREALTIME
# was T0 (taken before a server started: what it answers before its D is
# known only while this holds, however slow the machine).
within_since() { awk -v t0="$1" -v now="$EPOCHREALTIME" -v s="$2" 'BEGIN { exit !(now - t0 < s) }'; }

@test "--unhealthy-after D turns every answer into 503" {
	local t0=$EPOCHREALTIME
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --unhealthy-after 1s
	local u="http://$(addr_of m)"
	run curl -s -o /dev/null -w '%{http_code}' "$u/health"
	! within_since "$t0" 1 || assert_output 200
	wait_until bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $u/)\" = 503 ]"
}

@test "--unhealthy-for D answers 503 from the start, then recovers" {
	local t0=$EPOCHREALTIME
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --unhealthy-for 1s
	local u="http://$(addr_of m)"
	run curl -s -o /dev/null -w '%{http_code}' "$u/health"
	! within_since "$t0" 1 || assert_output 503
	wait_until bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $u/health)\" = 200 ]"
}

@test "--unhealthy-after with --unhealthy-for is a window of 503s" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --unhealthy-after 200ms --unhealthy-for 1s
	local u="http://$(addr_of m)"
	wait_until bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $u/health)\" = 503 ]"
	wait_until bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $u/health)\" = 200 ]"
}

@test "flags after a --listen apply to that listener only" {
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name bad --fail-rate 1 --listen 127.0.0.1:0 --name good
	run curl -s -o /dev/null -w '%{http_code}' "http://$(addr_of m bad)/"
	assert_output 500
	run curl -s -o /dev/null -w '%{http_code}' "http://$(addr_of m good)/"
	assert_output 200
}

@test "flags before the first --listen apply to every listener" {
	start_bg m "$L7_BIN/mockserver" --fail-rate 1 --fail-status 503 --listen 127.0.0.1:0 --name x --listen 127.0.0.1:0 --name y
	run curl -s -o /dev/null -w '%{http_code}' "http://$(addr_of m x)/"
	assert_output 503
	run curl -s -o /dev/null -w '%{http_code}' "http://$(addr_of m y)/"
	assert_output 503
}
