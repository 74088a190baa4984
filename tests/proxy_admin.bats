#!/usr/bin/env bats
# proxy --admin: /stats (JSON), /metrics (Prometheus, checked by promtool),
# what they count, and the admin endpoint's own limits: a bad admin client
# gets an error or is cut off, and the proxy's clients never notice.
# (The dashboard, /, is tested in a browser: proxy_dashboard.bats.)

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" \
		--listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name b2
	export B1=$(addr_of mock b1) B2=$(addr_of mock b2)
}

teardown_file() { stop_all_file; }

setup() { cd "$BATS_TEST_TMPDIR"; }    # files a test writes stay there

teardown() { stop_all; }

# admin_proxy ARGS...: a proxy for one test with --admin; sets P and A.
admin_proxy() {
	start_bg proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 --admin 127.0.0.1:0 --quiet "$@"
	P=$(addr_of proxy)
	A=$(addr_of proxy admin)
}

# requests N [CURL ARGS...]: N requests through the proxy, all answered 200.
requests() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$@" "http://$P/")" = 200 ] || return 1
	done
}

# seconds_closed: how many seconds of history /stats holds.
seconds_closed() { curl -s "http://$A/stats" | jq '.pools[0].servers[0].history.seconds'; }
second_closed_after() { [ "$(seconds_closed)" -gt "$1" ]; }

@test "--admin prints its listening address after the proxy's own" {
	admin_proxy --backend "b1=$B1"
	run cat "$(out_of proxy)"
	assert_line --index 0 --regexp '^listening 127\.0\.0\.2:[0-9]+$'
	assert_line --index 1 --regexp '^listening admin 127\.0\.0\.1:[0-9]+$'
}

@test "without --admin the proxy listens on its own port only" {
	start_bg plain "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --quiet
	run cat "$(out_of plain)"
	assert_output --regexp '^listening 127\.0\.0\.2:[0-9]+$'
}

@test "--admin on an address in use fails with one line and exit 2" {
	admin_proxy --backend "b1=$B1"
	run --separate-stderr "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --admin "$A"
	assert_failure 2
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" "^proxy: admin: bind $A: Address already in use"
}

@test "/stats lists every pool and server with its address, state and weight" {
	admin_proxy --pool "web=w1=$B1*3,w2=$B2" --backend "b1=$B1" --balance web=ewma
	run curl -sf "http://$A/stats"
	assert_success
	run jq -c '[.pools[] | {name, balance, servers: [.servers[] | [.name, .address, .state, .weight]]}]' <<<"$output"
	assert_output "[{\"name\":\"web\",\"balance\":\"ewma\",\"servers\":[[\"w1\",\"$B1\",\"up\",3],[\"w2\",\"$B2\",\"up\",1]]},{\"name\":\"default\",\"balance\":\"roundrobin\",\"servers\":[[\"b1\",\"$B1\",\"up\",1]]}]"
}

@test "/stats counts each server's requests, responses and time to first byte" {
	admin_proxy --backend "b1=$B1" --backend "b2=$B2"
	requests 10
	run curl -s "http://$A/stats"
	assert_equal "$(jq '[.pools[0].servers[].requests] | add' <<<"$output")" 10
	assert_equal "$(jq -c '[.pools[0].servers[].responses["2xx"]]' <<<"$output")" '[5,5]'
	assert_equal "$(jq '.proxy.requests' <<<"$output")" 10
	# the time to first byte: p50 and p99 since start are real, positive figures
	run jq '[.pools[0].servers[].ttfb_ms | .p50_since_start > 0 and .p99_since_start >= .p50_since_start] | all' <<<"$output"
	assert_output true
}

@test "/stats keeps a history of one entry a second" {
	admin_proxy --backend "b1=$B1"
	requests 3
	wait_for 15 second_closed_after 1
	run curl -s "http://$A/stats"
	run jq -c '.pools[0].servers[0].history | [(.requests | length) == .seconds, (.requests | add), (.p99_ms | length) == .seconds]' <<<"$output"
	assert_output '[true,3,true]'
}

@test "/stats shows ewma's estimate of each server" {
	admin_proxy --backend "b1=$B1" --balance ewma
	run curl -s "http://$A/stats"
	assert_equal "$(jq -c '.pools[0].servers[0].ewma_ms' <<<"$output")" null
	requests 2
	run curl -s "http://$A/stats"
	run jq '.pools[0].servers[0].ewma_ms > 0' <<<"$output"
	assert_output true
}

@test "/metrics passes promtool check metrics" {
	admin_proxy --backend "b1=$B1" --backend "b2=$B2" --backend "dead=127.0.0.14:1" --balance ewma
	requests 6
	curl -s "http://$A/metrics" >metrics.txt
	run promtool check metrics <metrics.txt
	assert_success
	assert_output ''
}

@test "/metrics counts requests and time to first byte per server" {
	admin_proxy --backend "b1=$B1" --backend "b2=$B2"
	requests 4
	run curl -s "http://$A/metrics"
	assert_line 'l7lab_server_requests_total{pool="default",server="b1"} 2'
	assert_line 'l7lab_server_responses_total{pool="default",server="b2",code="2xx"} 2'
	assert_line 'l7lab_server_ttfb_seconds_count{pool="default",server="b1"} 2'
	assert_line 'l7lab_server_ttfb_seconds_bucket{pool="default",server="b1",le="+Inf"} 2'
	assert_line 'l7lab_server_up{pool="default",server="b1"} 1'
	assert_line --regexp '^l7lab_proxy_start_time_seconds [0-9]+\.[0-9]+$'
}

@test "a server that fails is ejected in /stats and /metrics, and its failure counted" {
	admin_proxy --backend "b1=$B1" --backend "dead=127.0.0.14:1" --max-fails 1 --fail-timeout 60s
	requests 2             # the one sent to dead is retried on b1
	run curl -s "http://$A/stats"
	run jq -c '.pools[0].servers[] | select(.name == "dead") | [.state, .ejected_for_s > 50, .errors, .responses.failed]' <<<"$output"
	assert_output '["ejected",true,1,1]'
	run curl -s "http://$A/metrics"
	assert_line 'l7lab_server_up{pool="default",server="dead"} 0'
	assert_line 'l7lab_server_failures_total{pool="default",server="dead"} 1'
	assert_line 'l7lab_server_retries_total{pool="default",server="dead"} 1'
	assert_line 'l7lab_server_ejections_total{pool="default",server="dead"} 1'
	assert_line 'l7lab_server_ejected{pool="default",server="dead"} 1'
}

@test "the admin endpoint serves the dashboard's script and style" {
	admin_proxy --backend "b1=$B1"
	run curl -sfi "http://$A/dashboard.js"
	assert_success
	assert_line --partial 'Content-Type: text/javascript'
	assert_output --partial 'setTimeout(refresh'
	run curl -sfi "http://$A/dashboard.css"
	assert_line --partial 'Content-Type: text/css'
}

@test "HEAD gets the headers of GET without a body" {
	admin_proxy --backend "b1=$B1"
	run curl -sI "http://$A/stats"
	assert_line --partial 'HTTP/1.1 200 OK'
	assert_line --regexp '^Content-Length: [1-9][0-9]*'
	run raw_exchange "$A" 'HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n'
	refute_output --partial '# HELP'
}

@test "the admin endpoint answers 404 to an unknown path and 405 to a POST" {
	admin_proxy --backend "b1=$B1"
	run curl -s -w '%{http_code}' "http://$A/secret"
	assert_output --partial '404'
	run curl -si -X POST -d x=1 "http://$A/stats"
	assert_line --partial 'HTTP/1.1 405 Method Not Allowed'
	assert_line --partial 'Allow: GET, HEAD'
}

@test "garbage on the admin port gets 400, and the proxy goes on serving" {
	admin_proxy --backend "b1=$B1"
	run raw_exchange "$A" '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n'
	assert_output --partial 'HTTP/1.1 400 Bad Request'
	requests 2
	run curl -sf "http://$A/stats"
	assert_success
}

@test "a request head over 8 KiB gets 431 from the admin endpoint" {
	admin_proxy --backend "b1=$B1"
	run curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "http://$A/stats"
	assert_output 431
}

@test "an admin client that sends nothing is cut off after 5 s" {
	admin_proxy --backend "b1=$B1"
	local start=$SECONDS
	run timeout 15 nc 127.0.0.1 "${A##*:}" </dev/null
	# nc's stdin is empty but it keeps the connection until the proxy closes it
	local took=$((SECONDS - start))
	[ "$took" -ge 4 ] && [ "$took" -le 10 ]
}

@test "admin clients stuck at the connection limit do not slow the proxy's clients" {
	admin_proxy --backend "b1=$B1"
	local pids=() i
	for ((i = 0; i < 20; i++)); do
		sleep 8 | nc 127.0.0.1 "${A##*:}" >/dev/null 2>&1 &
		pids+=($!)
	done
	requests 20
	for i in "${pids[@]}"; do kill "$i" 2>/dev/null || true; done
	wait "${pids[@]}" 2>/dev/null || true
	# once the stuck ones are gone (cut off after 5 s), /stats answers again
	wait_for 15 curl -sf -m 1 -o /dev/null "http://$A/stats"
}
