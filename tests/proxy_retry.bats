#!/usr/bin/env bats
# proxy, step 6 feeding back into steps 3 and 4: a server that fails before
# its response gets the request retried on another (--retries, --retry-on),
# never one the request tried, after a random backoff, within the pool's
# retry budget and the request's deadlines (--timeout-attempt,
# --timeout-request).  Ejection and active checks: proxy_health.bats.

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

# access NAME: the access-log lines of proxy NAME.
access() { grep ' pool=' "$(err_of "$1")"; }

# failing PROC NAME...: one mockserver PROC whose backends NAME... (on
# 127.0.0.21, .22, ...) answer every request 503, and whose backend "stats"
# (127.0.0.20) answers, for its /stats.
failing() {
	local proc=$1 ip=21 n args=(--listen 127.0.0.20:0 --name stats)
	shift
	for n in "$@"; do
		args+=(--listen "127.0.0.$ip:0" --name "$n" --fail-rate 1 --fail-status 503)
		ip=$((ip + 1))
	done
	start_bg "$proc" "$L7_BIN/mockserver" "${args[@]}"
}

# backends PROC NAME...: the --backend flags for those backends of PROC.
backends() {
	local proc=$1 n
	shift
	for n in "$@"; do printf -- '--backend %s=%s ' "$n" "$(addr_of "$proc" "$n")"; done
}

@test "a request to a pool whose first server is dead is answered by the other" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2"
	run status_via p
	assert_output 200
	wait_until grep -q 'server=b2 .* retries=1$' "$(err_of p)"
}

@test "a GET the server dropped after reading it is sent again to another" {
	events_proxy p --backend "drop=$DROP" --backend "b2=$B2"
	run curl -s -m 5 -D - -o /dev/null "http://$(addr_of p)/"
	assert_line --partial "X-Backend: b2"
	wait_until grep -q '"GET / HTTP/1.1" 200 .*server=b2 .* retries=1$' "$(err_of p)"
}

@test "a lone server that timed out is not tried again: one 504, one timeout" {
	start_bg hang "$L7_BIN/mockserver" --listen 127.0.0.14:0 --name h
	events_proxy p --backend "h=$(addr_of hang)" --timeout-server 1s
	run curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "http://$(addr_of p)/hang"
	assert_output --regexp '^504 1\.'      # one timeout, not two (a second of slack for a loaded machine)
	run events_of p 'select(.event == "retry") | .failed'
	assert_output ""
}

@test "a POST whose body was sent is not retried: 502" {
	events_proxy p --backend "drop=$DROP" --backend "b2=$B2"
	run status_via p -X POST --data-binary hello
	assert_output 502
	wait_until grep -q '"POST / HTTP/1.1" 502 .*server=drop ' "$(err_of p)"
	refute grep -q 'retries=' "$(err_of p)"
}

@test "a POST nothing of which was sent yet goes to the other server" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2"
	run curl -s -m 5 -X POST --data-binary hello "http://$(addr_of p)/echo"
	assert_output --partial '"body":"hello"'
}

@test "--retries 0 answers 502 when the server is dead" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --retries 0
	run status_via p
	assert_output 502
}

@test "when every server is dead each is tried once and the answer is 502, without a hang" {
	events_proxy p --backend "dead=$DEAD" --backend "dead2=$DEAD2" --retries 5
	run status_via p
	assert_output 502
	wait_until grep -q 'server=dead2.* retries=1 err="connect ' "$(err_of p)"
	run events_of p 'select(.event == "retry-refused") | .reason'
	assert_output "every server of the pool was tried"
}

@test "a retry never goes to a server the request already tried" {
	# four servers answer 503; --retries 3 tries each exactly once
	failing four f1 f2 f3 f4
	events_proxy p $(backends four f1 f2 f3 f4) --retry-on 503 --retries 3 --max-fails 0 --balance random --retry-backoff 0
	run status_via p
	assert_output 503
	run sh -c "curl -s http://$(addr_of four stats)/stats | jq -c '[.f1, .f2, .f3, .f4 | .status[\"503\"]]'"
	assert_output '[1,1,1,1]'
	run events_of p 'select(.event == "retry") | .server_name'
	assert_equal "$(sort -u <<<"$output" | wc -l)" 3
}

@test "a retry waits a random backoff no longer than the cap, in the backoff state" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --retry-backoff 300ms:300ms -v
	run status_via p
	assert_output 200
	wait_until grep -q '"event":"retry"' "$BATS_TEST_TMPDIR/p.jsonl"
	local wait
	wait=$(events_of p 'select(.event == "retry") | .backoff_ms')
	[ "$(jq -n "$wait >= 0 and $wait <= 300")" = true ]
	# the wait is a state of the client's table, with its timer
	assert grep -q ': connect -> backoff (step 4, retry-backoff)' "$(err_of p)"
	assert grep -q ': backoff -> connect (step 4, none)' "$(err_of p)"
	# and the client's answer came after it
	local total
	total=$(access p | sed -n 's/.* total=\([0-9.]*\) .*/\1/p')
	[ "$(jq -n "$total >= $wait")" = true ]
}

@test "each backoff is drawn below a cap that doubles with each retry" {
	events_proxy p --backend "d1=$DEAD" --backend "d2=$DEAD2" --backend "d3=$(dead_addr 127.0.0.33)" \
		--backend "b2=$B2" --retries 3 --retry-backoff 40ms:1s --balance roundrobin
	run status_via p
	assert_output 200
	wait_until grep -q '"retry":3' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "retry") | "\(.retry) \(.backoff_ms <= (40 * pow(2; .retry - 1)))"'
	assert_output $'1 true\n2 true\n3 true'
}

@test "--retry-backoff 0 retries at once" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --retry-backoff 0
	run status_via p
	assert_output 200
	wait_until grep -q '"event":"retry"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "retry") | .backoff_ms'
	assert_output 0
}

@test "an attempt that outlives --timeout-attempt is retried on another server" {
	start_bg slow "$L7_BIN/mockserver" --listen 127.0.0.15:0 --name slow --delay 5s
	events_proxy p --backend "slow=$(addr_of slow)" --backend "b2=$B2" --timeout-attempt 300ms --timeout-server 10s
	run curl -s -m 5 -D - -o /dev/null -w 'took %{time_total}\n' "http://$(addr_of p)/"
	assert_line --partial "X-Backend: b2"
	assert_line --regexp '^took (0\.[3-9]|1\.)'
	wait_until grep -q '"event":"retry"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "retry") | "\(.failed) \(.reason)"'
	assert_output "slow timeout-attempt: no response head from slow within 300ms"
}

@test "--timeout-request bounds every attempt and backoff together: 504" {
	start_bg slow "$L7_BIN/mockserver" --delay 5s --listen 127.0.0.15:0 --name s1 --listen 127.0.0.16:0 --name s2
	events_proxy p --backend "s1=$(addr_of slow s1)" --backend "s2=$(addr_of slow s2)" \
		--timeout-attempt 300ms --timeout-request 500ms --retry-backoff 0
	run curl -s -m 5 -o /dev/null -w '%{http_code} %{time_total}' "http://$(addr_of p)/"
	assert_output --regexp '^504 (0\.[4-9]|1\.)'
	wait_until grep -q 'err="timeout-request: no response head within 500ms (s2 tried last)"' "$(err_of p)"
	run events_of p 'select(.event == "retry") | .failed'
	assert_output s1
}

@test "in a total outage the retry budget keeps backend attempts at most 1.2 per request" {
	failing out o1 o2 o3
	events_proxy p $(backends out o1 o2 o3) --retry-on 503 --retries 2 --max-fails 0 --admin 127.0.0.1:0 --quiet
	run "$L7_BIN/loadgen" -c 32 -n 1000 --json "http://$(addr_of p)/"
	assert_success
	assert_equal "$(jq '.status["503"]' <<<"$output")" 1000
	local attempts
	attempts=$(curl -s "http://$(addr_of out stats)/stats" | jq '[.o1, .o2, .o3 | .requests] | add')
	echo "# $attempts backend attempts for 1000 requests" >&3
	[ "$attempts" -ge 1000 ] && [ "$attempts" -le 1200 ]
	run sh -c "curl -s http://$(addr_of p admin)/stats | jq '.pools[0].retry_budget | .refused > 0 and .active == 0 and .retrying == 0'"
	assert_output true
}

@test "without the budget the same outage costs every server an attempt" {
	failing out o1 o2 o3
	events_proxy p $(backends out o1 o2 o3) --retry-on 503 --retries 2 --max-fails 0 --retry-budget 100 \
		--retry-budget-min 1000 --quiet
	run "$L7_BIN/loadgen" -c 32 -n 300 --json "http://$(addr_of p)/"
	assert_success
	run sh -c "curl -s http://$(addr_of out stats)/stats | jq '[.o1, .o2, .o3 | .requests] | add'"
	assert_output 900
}

@test "a lone request is retried within --retry-budget-min, and not beyond it" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --retry-budget 0 --retry-budget-min 1
	run status_via p
	assert_output 200
	events_proxy q --backend "dead=$DEAD" --backend "b2=$B2" --retry-budget 0 --retry-budget-min 0
	run status_via q
	assert_output 502
	run events_of q 'select(.event == "retry-refused") | "\(.step) \(.server_name) \(.reason)"'
	assert_output "6 dead the retry budget is spent"
}

@test "--retry-on 503 drops the 503 and asks another server" {
	events_proxy p --backend "busy=$BUSY" --backend "b2=$B2" --retry-on 502,503,504
	run curl -s -m 5 -D - -o /dev/null "http://$(addr_of p)/"
	assert_line --partial "HTTP/1.1 200 OK"
	assert_line --partial "X-Backend: b2"
}

@test "--retry-on does not retry a request with a body: the 503 goes through" {
	events_proxy p --backend "busy=$BUSY" --backend "b2=$B2" --retry-on 503
	run status_via p -X POST --data-binary hello
	assert_output 503
}

@test "a 503 without --retry-on goes through to the client" {
	events_proxy p --backend "busy=$BUSY" --backend "b2=$B2"
	run status_via p
	assert_output 503
}

@test "the retry event names the failed server, the reason and the next one" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2"
	status_via p >/dev/null
	wait_until grep -q '"event":"retry"' "$BATS_TEST_TMPDIR/p.jsonl"
	run events_of p 'select(.event == "retry") | "\(.step) \(.failed) \(.server_name) \(.retry) \(.reason)"'
	assert_output "4 dead b2 1 connect $DEAD: Connection refused"
	run events_of p 'select(.event == "retry") | .pick'
	assert_output "roundrobin: next in turn (dead: 0 in flight, b2: 0); skipped dead (just failed)"
}

@test "SIGUSR1 shows which servers are up and which ejected" {
	events_proxy p --backend "dead=$DEAD" --backend "b2=$B2" --max-fails 1
	status_via p >/dev/null
	wait_until grep -q 'server dead ejected' "$(err_of p)"
	kill -USR1 "$(pid_of p)"
	wait_until grep -q 'stats pool=default server=b2 state=up fails=0 ' "$(err_of p)"
	assert grep -q 'stats pool=default server=dead state=ejected fails=1 ' "$(err_of p)"
}

@test "bad --retries and --retry-on values exit 2 with one line" {
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --retries 11
	assert_failure 2
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --retry-on 200
	assert_failure 2
	assert_output --partial "--retry-on: '200' is not a status from 400 to 599"
}

@test "bad retry budgets, backoffs and deadlines exit 2 with one line" {
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --retry-budget 120%
	assert_failure 2
	assert_line --index 0 "proxy: --retry-budget: '120' is not a percentage from 0 to 100"
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --retry-backoff 1s:10ms
	assert_failure 2
	assert_line --index 0 "proxy: --retry-backoff: expected BASE[:CAP], BASE at most 1m, CAP from BASE to 10m"
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B2" --timeout-attempt 5
	assert_failure 2
	assert_line --index 0 "proxy: --timeout-attempt: '5' needs a unit: 5ms or 5s"
	run "$L7_BIN/proxy" --check --listen 127.0.0.2:0 --backend "$B2" --retry-budget 10% --retry-backoff 5ms \
		--timeout-attempt 1s --timeout-request 3s
	assert_success
	assert_line 'retry-budget 10%'
	assert_line 'retry-backoff 5ms:50ms'
	assert_line 'timeout-attempt 1s'
	assert_line 'timeout-request 3s'
}
