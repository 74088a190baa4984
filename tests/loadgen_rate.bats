#!/usr/bin/env bats
# loadgen's open loop (-r): the rate it promises, -n and --warmup with it,
# and coordinated omission: a server stall shows in the open loop's p99
# while a closed loop hides it.  Runs are short (2-3 s) and slow (100-300
# requests/s), with connections enough for answers 100 ms late, so that they
# hold under ASan on a busy machine (the rate is loadgen's promise, not the
# server's speed).

load helpers

setup_file() {
	start_bg_file m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name b1 --listen 127.0.0.1:0 --name q
}
teardown_file() { stop_all_file; }
teardown() {
	[ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2>/dev/null
	[ -f "$BATS_TEST_TMPDIR/lg.pid" ] && kill "$(cat "$BATS_TEST_TMPDIR/lg.pid")" 2>/dev/null
	stop_all
}

lg() { "$L7_BIN/loadgen" "$@"; }
b1() { echo "http://$(addr_of m b1)"; }
stat() { curl -s "http://$(addr_of m q)/stats" | jq -r ".$1$2"; }

# within VALUE WANT PERCENT: VALUE is within PERCENT % of WANT.
within() {
	awk -v v="$1" -v w="$2" -v p="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= w * p / 100) }' ||
		fail "$1 is not within $3% of $2"
}

# near_rate WANT PERCENT: the report in $output shows the schedule held:
# the requests it started or had due (answered, failed, and those the end
# of the run left unanswered) come to WANT a second within PERCENT %, and
# no more than that were answered.  The counts cover answers, so a loaded
# machine that answers late moves requests from "answered" to
# "unanswered", not out of the sum; at least nine in ten are answered.
near_rate() {
	jq -e --argjson w "$1" --argjson p "$2" '((.requests + .errors_total + .unanswered) / .duration_s) as $sent |
		$sent <= $w * (1 + $p / 100) and $sent >= $w * (1 - $p / 100) and
		.rps <= $w * (1 + $p / 100) and .rps >= $w * 0.9' <<<"$output" >/dev/null ||
		fail "$(jq -r --argjson w "$1" --argjson p "$2" \
			'"\(.requests) answered, \(.errors_total) failed and \(.unanswered) unanswered in \(.duration_s) s is not \($w)/s within \($p)%"' <<<"$output")"
}

@test "-r achieves the asked rate within 2% over 3 s" {
	run lg -c 32 -r 300 -d 3s --json "$(b1)/"
	assert_success
	assert_equal "$(jq -r .mode <<<"$output")" open
	near_rate 300 2
	assert_equal "$(jq .errors_total <<<"$output")" 0
}

@test "-r over two threads achieves the total rate" {
	run lg -c 20 -t 2 -r 200 -d 2s --json "$(b1)/"
	assert_success
	near_rate 200 2
}

@test "-r with -n sends exactly n requests, at the rate" {
	local before; before=$(stat b1 .requests)
	run lg -c 10 -r 100 -n 150 --json "$(b1)/"
	assert_success
	assert_equal "$(jq .requests <<<"$output")" 150
	# The run ends with the last answer: 1.5 s at the rate, and at most
	# the slowest answer's latency after the last send.
	jq -e '.duration_s >= 1.5 * 0.95 and .duration_s <= 1.5 * 1.05 + .latency_us.max / 1e6' <<<"$output" >/dev/null ||
		fail "$(jq -r '"\(.duration_s) s is not 1.5 s within 5% (the slowest answer took \(.latency_us.max / 1000) ms)"' <<<"$output")"
	assert_equal "$(stat b1 .requests)" $((before + 150))
}

@test "--warmup sends load that is not counted" {
	local before; before=$(stat b1 .requests)
	run lg -c 10 -r 100 --warmup 1s -d 1s --json "$(b1)/"
	assert_success
	near_rate 100 3
	within "$(jq .duration_s <<<"$output")" 1 1
	within $(($(stat b1 .requests) - before)) 200 5
}

@test "the text summary says the open loop measures from intended send times" {
	run lg -c 2 -r 50 -d 1s "$(b1)/"
	assert_success
	assert_line --regexp '^loadgen · .* · open loop at 50/s · http://'
	assert_line "                (open loop: from each request's intended send time)"
}

# stall_for_a_second: in the background, stop mockserver 0.5 s from now
# and let it go 1 s later.  The stall is the scenario, not a wait.
stall_for_a_second() {
	STOPPED=$(pid_of m)
	( sleep 0.5; kill -STOP "$STOPPED"; sleep 1; kill -CONT "$STOPPED" ) 3>&- &
	STALLER=$!
}

@test "a 1 s stall shows in the open loop's p99 (coordinated omission corrected)" {
	stall_for_a_second
	run lg -c 4 -r 100 -d 3s --json "$(b1)/"
	wait "$STALLER"
	assert_success
	# A third of the requests were due during or just after the stall.
	jq -e '.latency_us.p99 >= 500000 and .latency_us.p90 >= 100000' <<<"$output" ||
		fail "open loop: $(jq -c .latency_us <<<"$output")"
}

@test "the same stall hides in the closed loop's p99" {
	stall_for_a_second
	run lg -c 4 -d 3s --json "$(b1)/"
	wait "$STALLER"
	assert_success
	# Four requests waited a second; thousands did not.
	jq -e '.latency_us.max >= 500000 and .latency_us.p99 < 100000' <<<"$output" ||
		fail "closed loop: $(jq -c .latency_us <<<"$output")"
}

@test "answers the end of the run cut off are reported as unanswered, not lost" {
	# 4 connections, each answer 300 ms: 12 answers in 1 s of 50 due
	run lg -c 4 -r 50 -d 1s --json "$(b1)/delay/300"
	assert_success
	assert_equal "$(jq '.requests + .errors_total + .unanswered' <<<"$output")" 50
	[ "$(jq .unanswered <<<"$output")" -ge 30 ] || fail "only $(jq .unanswered <<<"$output") unanswered"
	run lg -c 4 -r 50 -d 1s "$(b1)/delay/300"
	assert_line --regexp '^  requests .* [0-9]+ unanswered at the end$'
}

# above: "requests started" (the mockserver's count) is past N.
above() { [ "$(stat b1 .requests)" -gt "$1" ]; }

@test "answers that come in after the end, before loadgen sees its end, are unanswered, not lost" {
	# loadgen is stopped across the end of its run while answers arrive:
	# when it goes on, the answers and the end are due at once.
	local before; before=$(stat b1 .requests)
	"$L7_BIN/loadgen" -c 4 -r 50 -d 1s --json "$(b1)/delay/300" >"$BATS_TEST_TMPDIR/lg.json" 3>&- &
	local lg_pid=$!
	echo "$lg_pid" >"$BATS_TEST_TMPDIR/lg.pid"
	wait_until above $((before + 4))        # the second round of 4 is at the server
	STOPPED=$lg_pid
	kill -STOP "$lg_pid"
	sleep 1.5                               # the stall is the scenario: past the end and the answers
	kill -CONT "$lg_pid"
	wait "$lg_pid"
	assert_equal "$(jq '.requests + .errors_total + .unanswered' "$BATS_TEST_TMPDIR/lg.json")" 50
}
