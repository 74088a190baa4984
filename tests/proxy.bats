#!/usr/bin/env bats
# proxy: the normal path, step by step, through mockserver backends: accept,
# request, decide (header edits), connect and reuse, forward, response,
# return; keep-alive on both sides, pipelining, chunked both ways, HEAD,
# 204, 304, 100-continue, HTTP/1.0, --events, real clients.

load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" \
		--listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name b2 --listen 127.0.0.13:0 --name b3
	export B1=$(addr_of mock b1) B2=$(addr_of mock b2) B3=$(addr_of mock b3)
	export EVENTS=$BATS_FILE_TMPDIR/events.jsonl
	start_bg_file proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 --name edge \
		--backend "b1=$B1" --events "$EVENTS"
	export P=$(addr_of proxy)
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

# hdr NAME: the value of header NAME in $output (curl -si), without CR.
hdr() { printf '%s\n' "$output" | tr -d '\r' | awk -v n="$1" 'BEGIN { n = tolower(n) } tolower($1) == n ":" { sub(/^[^:]*: */, ""); print; exit }'; }

# raw ADDR BYTES: send BYTES (printf format), half-close, print the answer.
raw() {
	local host=${1%:*} port=${1##*:}
	printf "$2" | timeout 5 nc -N "$host" "$port"
}

# echo_hdr NAME: the value(s) of request header NAME that /echo saw.
echo_hdr() { printf '%s\n' "$output" | sed -n '/^{/p' | jq -r --arg n "$1" '.headers[] | select(.[0] | ascii_downcase == ($n | ascii_downcase)) | .[1]'; }

# proxy_with NAME ARGS...: a proxy for one test.
proxy_with() { local n=$1; shift; start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 "$@"; }

@test "step 1: the proxy prints its listening address on stdout" {
	run cat "$(out_of proxy)"
	assert_output --regexp '^listening 127\.0\.0\.2:[0-9]+$'
}

@test "a GET goes through to the backend and back" {
	run curl -s "http://$P/"
	assert_success
	run curl -si "http://$P/"
	assert_line --partial "HTTP/1.1 200"
	assert_equal "$(hdr X-Backend)" b1
}

@test "step 3 adds X-Forwarded-For with the client address" {
	run curl -si --interface 127.0.0.1 "http://$P/echo"
	assert_equal "$(echo_hdr X-Forwarded-For)" 127.0.0.1
}

@test "step 3 appends to an X-Forwarded-For the client sent" {
	run curl -si -H 'X-Forwarded-For: 10.0.0.1' -H 'X-Forwarded-For: 10.0.0.2' "http://$P/echo"
	assert_equal "$(echo_hdr X-Forwarded-For)" "10.0.0.1, 10.0.0.2, 127.0.0.1"
}

@test "step 3 drops an X-Forwarded-For the client named in Connection, then adds its own" {
	run curl -si -H 'Connection: close, X-Forwarded-For' -H 'X-Forwarded-For: 1.2.3.4' "http://$P/echo"
	assert_equal "$(echo_hdr X-Forwarded-For)" 127.0.0.1
}

@test "step 3 sets X-Forwarded-Proto and X-Forwarded-Host, replacing the client's" {
	run curl -si -H 'X-Forwarded-Proto: https' -H 'Host: shop.example' "http://$P/echo"
	assert_equal "$(echo_hdr X-Forwarded-Proto)" http
	assert_equal "$(echo_hdr X-Forwarded-Host)" shop.example
}

@test "step 3 adds Forwarded with the client's IP and port and by=NAME" {
	run curl -si "http://$P/echo"
	assert_regex "$(echo_hdr Forwarded)" '^for="127\.0\.0\.1:[0-9]+";proto=http;by=edge$'
}

@test "step 3 adds Via: 1.1 NAME to the request and the response" {
	run curl -si "http://$P/echo"
	assert_equal "$(echo_hdr Via)" "1.1 edge"
	assert_equal "$(hdr Via)" "1.1 edge"
}

@test "step 3 adds an X-Request-ID, different for each request" {
	run curl -si "http://$P/echo"
	local a; a=$(echo_hdr X-Request-ID)
	run curl -si "http://$P/echo"
	local b; b=$(echo_hdr X-Request-ID)
	assert_regex "$a" '^[0-9a-f]{16}$'
	refute [ "$a" = "$b" ]
}

@test "step 3 keeps the X-Request-ID a client sent" {
	run curl -si -H 'X-Request-ID: abc-123' "http://$P/echo"
	assert_equal "$(echo_hdr X-Request-ID)" abc-123
}

@test "step 3 removes hop-by-hop headers and those Connection names" {
	run curl -si -H 'Connection: keep-alive, X-Secret' -H 'X-Secret: 1' -H 'Keep-Alive: timeout=5' \
		-H 'Proxy-Connection: keep-alive' -H 'TE: trailers' -H 'Upgrade: foo' -H 'X-Kept: yes' "http://$P/echo"
	assert_equal "$(echo_hdr X-Secret)" ""
	assert_equal "$(echo_hdr Connection)" ""
	assert_equal "$(echo_hdr Keep-Alive)" ""
	assert_equal "$(echo_hdr Proxy-Connection)" ""
	assert_equal "$(echo_hdr TE)" ""
	assert_equal "$(echo_hdr Upgrade)" ""
	assert_equal "$(echo_hdr X-Kept)" yes
}

@test "step 4: two requests on one client connection reuse one server connection" {
	run curl -si "http://$P/status/200" "http://$P/status/200"
	local conns; conns=$(printf '%s\n' "$output" | tr -d '\r' | awk '$1 == "X-Conn:" { print $2 }' | sort -u | wc -l)
	assert_equal "$conns" 1
	run grep -c 'conn=reused' "$(err_of proxy)"
	assert [ "$output" -ge 1 ]
}

@test "step 4: separate client connections share the pooled server connection" {
	run curl -si "http://$P/status/200"
	local a; a=$(hdr X-Conn)
	run curl -si "http://$P/status/200"
	assert_equal "$(hdr X-Conn)" "$a"
}

@test "step 4: an idle server connection is closed after --timeout-pool" {
	proxy_with tp --backend "b1=$B1" --timeout-pool 100ms -v
	local p; p=$(addr_of tp)
	run curl -si "http://$p/"
	local a; a=$(hdr X-Conn)
	wait_until grep -q 'closed: timeout-pool' "$(err_of tp)"
	run curl -si "http://$p/"
	refute [ "$(hdr X-Conn)" = "$a" ]
}

@test "step 4: --server-keepalive 0 keeps no idle server connection" {
	proxy_with nk --backend "b1=$B1" --server-keepalive 0
	local p; p=$(addr_of nk)
	run curl -si "http://$p/" "http://$p/"
	local conns; conns=$(printf '%s\n' "$output" | tr -d '\r' | awk '$1 == "X-Conn:" { print $2 }' | sort -u | wc -l)
	assert_equal "$conns" 2
}

@test "step 4: an IPv6 backend is reached and named in the Host of an HTTP/1.0 request" {
	start_bg mock6 "$L7_BIN/mockserver" --listen '[::1]:0' --name b6
	local b6; b6=$(addr_of mock6 b6)
	proxy_with p6b --backend "b6=$b6"
	local p; p=$(addr_of p6b)
	run sh -c "printf 'GET /echo HTTP/1.0\r\n\r\n' | timeout 5 nc -N ${p%:*} ${p##*:}"
	assert_output --partial "\"Host\",\"$b6\""
}

@test "step 7: the client connection stays open for the next request" {
	run curl -sv "http://$P/" "http://$P/"
	assert_output --partial "Re-using existing connection"
}

@test "pipelined requests are answered in order" {
	run raw "$P" 'GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/203 HTTP/1.1\r\nHost: x\r\n\r\n'
	run sh -c "printf '%s\n' \"\$0\" | grep -o '^HTTP/1.1 20[0-9]'" "$output"
	assert_equal "$(printf '%s' "$output" | tr '\n' ' ')" "HTTP/1.1 201 HTTP/1.1 202 HTTP/1.1 203"
}

@test "a Content-Length request body is forwarded whole" {
	head -c 300000 /dev/urandom | base64 -w0 >"$BATS_TEST_TMPDIR/body"
	run curl -s --data-binary @"$BATS_TEST_TMPDIR/body" "http://$P/echo"
	assert_equal "$(printf '%s' "$output" | jq -r .body)" "$(cat "$BATS_TEST_TMPDIR/body")"
}

@test "a chunked request body is forwarded chunked and whole" {
	head -c 200000 /dev/urandom | base64 -w0 >"$BATS_TEST_TMPDIR/body"
	run curl -si -H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/body" "http://$P/echo"
	assert_equal "$(echo_hdr Transfer-Encoding)" chunked
	assert_equal "$(printf '%s\n' "$output" | sed -n '/^{/p' | jq -r .body)" "$(cat "$BATS_TEST_TMPDIR/body")"
}

@test "a chunked response is streamed back chunked and whole" {
	run curl -si "http://$P/chunked/100000?size=1000"
	assert_equal "$(hdr Transfer-Encoding)" chunked
	run sh -c "curl -s 'http://$P/chunked/100000?size=1000' | wc -c"
	assert_output 100000
}

@test "a large Content-Length response comes back whole" {
	run sh -c "curl -s 'http://$P/bytes/5000000' | wc -c"
	assert_output 5000000
}

@test "HEAD gets the headers and no body" {
	run curl -sI "http://$P/bytes/1000"
	assert_line --partial "HTTP/1.1 200"
	assert_equal "$(hdr Content-Length)" 1000
	run raw "$P" 'HEAD /bytes/1000 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --partial "HTTP/1.1 202"
}

@test "204 and 304 responses have no body and the connection goes on" {
	run curl -s -w '%{http_code} %{size_download}\n' -o /dev/null "http://$P/status/204" -o /dev/null "http://$P/status/304" -o /dev/null "http://$P/status/200"
	assert_line --index 0 "204 0"
	assert_line --index 1 "304 0"
	assert_line --index 2 --regexp '^200 '
}

@test "Expect: 100-continue works end to end" {
	run curl -sv -H 'Expect: 100-continue' --data-binary 'hello' "http://$P/echo"
	assert_output --partial "HTTP/1.1 100 Continue"
	assert_output --partial '"body":"hello"'
}

@test "HTTP/1.0 is answered and closed" {
	run raw "$P" 'GET /status/200 HTTP/1.0\r\n\r\n'
	assert_line --index 0 --partial "HTTP/1.1 200"
	assert_output --partial "Connection: close"
}

@test "HTTP/1.0 with keep-alive stays open" {
	run raw "$P" 'GET /status/200 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /status/201 HTTP/1.0\r\n\r\n'
	assert_output --partial "Connection: keep-alive"
	assert_output --partial "HTTP/1.1 201"
}

@test "a chunked response to an HTTP/1.0 client ends by closing" {
	run sh -c "printf 'GET /chunked/5000 HTTP/1.0\r\n\r\n' | timeout 5 nc -N ${P%:*} ${P##*:} | tr -d '\r' | sed '1,/^\$/d' | wc -c"
	assert_output 5000
}

@test "the access log has one line per request with the step timings" {
	run curl -s -H 'X-Request-ID: log-test-1' "http://$P/status/200"
	wait_until grep -q 'id=log-test-1' "$(err_of proxy)"
	run grep 'id=log-test-1' "$(err_of proxy)"
	assert_output --regexp '^20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}Z 127\.0\.0\.1:[0-9]+ "GET /status/200 HTTP/1\.1" 200 [0-9]+B pool=default server=b1 conn=(new|reused) req_hdr=[0-9.]+ decide=[0-9.]+ connect=[0-9.]+ ttfb=[0-9.]+ total=[0-9.]+ id=log-test-1$'
}

@test "--events writes one JSON line per step, steps 1 to 7" {
	run curl -s -H 'X-Request-ID: ev-test-1' "http://$P/status/200"
	wait_until grep -q '"id":"ev-test-1","step":7' "$EVENTS"
	run jq -r 'select(.id == "ev-test-1") | "\(.step) \(.event)"' "$EVENTS"
	assert_line "2 request-headers"
	assert_line "3 decide"
	assert_line "4 connect"
	assert_line "5 forward"
	assert_line "6 response-headers"
	assert_line "7 response-complete"
	run jq -s -e 'map(select(.step == 1)) | length > 0 and all(.event == "accept" and (.client | test(":")))' "$EVENTS"
	assert_success
}

@test "--events step 3 names the pool, server, algorithm and reason" {
	run curl -s -H 'X-Request-ID: ev-test-2' "http://$P/"
	wait_until grep -q '"id":"ev-test-2","step":7' "$EVENTS"
	run jq -r 'select(.id == "ev-test-2" and .step == 3) | "\(.pool) \(.server) \(.server_name) \(.algorithm) \(.reason | length > 0)"' "$EVENTS"
	assert_output "default $B1 b1 roundrobin true"
}

@test "roundrobin with weights 3:1 sends exactly 3 of 4 requests to b1" {
	proxy_with rr --backend "b1=$B1*3" --backend "b2=$B2"
	local p; p=$(addr_of rr)
	run sh -c "for i in \$(seq 8); do curl -si http://$p/ | tr -d '\r' | awk '\$1 == \"X-Backend:\" { print \$2 }'; done | sort | uniq -c | awk '{ print \$2 \"=\" \$1 }' | tr '\n' ' '"
	assert_output "b1=6 b2=2 "
}

@test "roundrobin over three servers takes each in turn" {
	proxy_with rr3 --backend "b1=$B1" --backend "b2=$B2" --backend "b3=$B3"
	local p; p=$(addr_of rr3)
	run sh -c "for i in \$(seq 6); do curl -si http://$p/ | tr -d '\r' | awk '\$1 == \"X-Backend:\" { print \$2 }'; done | tr '\n' ' '"
	assert_output "b1 b2 b3 b1 b2 b3 "
}

@test "leastconn sends a request to the server with none in flight" {
	proxy_with lc --backend "b1=$B1" --backend "b2=$B2" --balance leastconn --events "$BATS_TEST_TMPDIR/ev"
	local p; p=$(addr_of lc)
	curl -s "http://$p/delay/1000" >/dev/null &
	local slow=$!
	wait_until grep -q '"event":"forward"' "$BATS_TEST_TMPDIR/ev"
	local busy; busy=$(jq -r 'select(.step == 3) | .server_name' "$BATS_TEST_TMPDIR/ev")
	run sh -c "for i in 1 2 3; do curl -si http://$p/ | tr -d '\r' | awk '\$1 == \"X-Backend:\" { print \$2 }'; done | sort -u"
	wait "$slow"
	refute_output --partial "$busy"
	assert_output --regexp '^b[12]$'
}

@test "random spreads requests over every server" {
	proxy_with rnd --backend "b1=$B1" --backend "b2=$B2" --backend "b3=$B3" --balance random --seed 7
	local p; p=$(addr_of rnd)
	run sh -c "for i in \$(seq 30); do curl -si http://$p/ | tr -d '\r' | awk '\$1 == \"X-Backend:\" { print \$2 }'; done | sort -u | tr '\n' ' '"
	assert_output "b1 b2 b3 "
}

@test "a host: route sends a virtual host to its pool" {
	proxy_with rt --backend "b1=$B1" --pool "shop=b2=$B2" --route host:shop.example=shop
	local p; p=$(addr_of rt)
	run curl -si -H 'Host: shop.example' "http://$p/"
	assert_equal "$(hdr X-Backend)" b2
	run curl -si -H 'Host: other.example' "http://$p/"
	assert_equal "$(hdr X-Backend)" b1
}

@test "a host:*.domain route matches subdomains" {
	proxy_with rtw --backend "b1=$B1" --pool "shop=b2=$B2" --route 'host:*.example.com=shop'
	local p; p=$(addr_of rtw)
	run curl -si -H 'Host: a.example.com' "http://$p/"
	assert_equal "$(hdr X-Backend)" b2
}

@test "a header: route sends version: v2 to its pool" {
	proxy_with rth --backend "b1=$B1" --pool "v2=b3=$B3" --route header:version:v2=v2
	local p; p=$(addr_of rth)
	run curl -si -H 'version: v2' "http://$p/"
	assert_equal "$(hdr X-Backend)" b3
	run curl -si -H 'version: v1' "http://$p/"
	assert_equal "$(hdr X-Backend)" b1
}

@test "a path: route sends a prefix to its pool" {
	proxy_with rtp --backend "b1=$B1" --pool "api=b2=$B2" --route path:/api=api
	local p; p=$(addr_of rtp)
	run curl -si "http://$p/api/users"
	assert_equal "$(hdr X-Backend)" b2
	run curl -si "http://$p/web"
	assert_equal "$(hdr X-Backend)" b1
}

@test "SIGUSR1 prints each server's passive telemetry" {
	proxy_with tel --backend "b1=$B1" --backend "b2=$B2"
	local p; p=$(addr_of tel)
	curl -s -o /dev/null "http://$p/" -o /dev/null "http://$p/" -o /dev/null "http://$p/status/404"
	kill -USR1 "$(pid_of tel)"
	wait_until grep -q 'stats pool=default server=b2' "$(err_of tel)"
	run grep 'stats pool=default server=b1' "$(err_of tel)"
	assert_output --regexp 'requests=2 1xx=0 2xx=1 3xx=0 4xx=1 5xx=0 failed=0 inflight=0 connects=1 reuses=1 idle=1 ttfb_avg=[0-9.]+'
}

@test "--source binds the server side to that address" {
	proxy_with src --backend "b1=$B1" --source 127.0.0.3
	run curl -s "http://$(addr_of src)/echo"
	assert_regex "$(printf '%s' "$output" | jq -r .peer)" '^127\.0\.0\.3:'
}

@test "--pace slows each step down" {
	proxy_with slow --backend "b1=$B1" --pace 100ms
	run curl -s -o /dev/null -w '%{time_total}' "http://$(addr_of slow)/"
	assert awk -v t="$output" 'BEGIN { exit !(t >= 0.5) }'   # 100 ms before each of steps 2 to 7
}

@test "IPv6: the proxy listens on [::1] and fills Forwarded with brackets" {
	start_bg p6 "$L7_BIN/proxy" --listen '[::1]:0' --backend "b1=$B1"
	run curl -si "http://$(addr_of p6)/echo"
	assert_regex "$(echo_hdr Forwarded)" '^for="\[::1\]:[0-9]+"'
	assert_equal "$(echo_hdr X-Forwarded-For)" "::1"
}

@test "curl with many keep-alive requests sees no error" {
	run sh -c "curl -s -w '%{http_code}\n' $(printf -- "-o /dev/null http://$P/status/200 %.0s" $(seq 50)) | sort | uniq -c"
	assert_output --regexp '^ *50 200$'
}

@test "ab -k through the proxy: no failed requests" {
	run ab -k -q -n 2000 -c 16 "http://$P/"
	assert_success
	assert_output --regexp 'Failed requests: +0'
	assert_output --regexp 'Non-2xx responses: +0|Complete requests: +2000'
}

@test "wrk through the proxy: no socket errors and no non-2xx" {
	run wrk -t1 -c32 -d1s "http://$P/"
	assert_success
	refute_output --partial "Socket errors"
	refute_output --partial "Non-2xx"
}

@test "SIGTERM lets an in-flight request finish, then exits 0" {
	proxy_with term --backend "b1=$B1" --events "$BATS_TEST_TMPDIR/ev"
	local p pid rc=0
	p=$(addr_of term)
	pid=$(pid_of term)
	curl -s -o /dev/null -w '%{http_code}' "http://$p/delay/300" >"$BATS_TEST_TMPDIR/code" &
	local c=$!
	wait_until grep -q '"event":"forward"' "$BATS_TEST_TMPDIR/ev"
	kill -TERM "$pid"
	wait "$c"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/code")" 200
	wait "$pid" || rc=$?
	rm -f "$BATS_TEST_TMPDIR/term.pid"   # reaped here, not by teardown
	assert_equal "$rc" 0
}
