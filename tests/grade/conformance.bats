#!/usr/bin/env bats
# tests/grade/conformance.bats - what bin/grade runs against any HTTP/1.x
# proxy: the seed's seven steps, judged from the outside.  The proxy is
# GRADE_CMD (a command template: {listen}, {backend}, {backends}, {config},
# {dir}, {bin}), with GRADE_CONFIG as its configuration template if given.
# Each test starts fresh backends on free ports and a fresh proxy, so one
# failure cannot spoil the next.  A test's name is "CATEGORY POINTS: what
# holds"; bin/grade adds up the points.  As root, every test captures its
# packets with the tracer, and a failed test shows the labelled trace.

bats_require_minimum_version 1.5.0
load '../l7lab'

: "${GRADE_CMD:?bin/grade sets GRADE_CMD}"
WAIT=${GRADE_WAIT:-5}                   # seconds a client waits for an answer

setup() {
	cd "$BATS_TEST_TMPDIR"
	L7_BACKEND_IP=127.0.99.11
	L7_PROXY_IP=127.0.99.2
}

# up [--no-trace]: backends (b1..b3 when the template takes {backends},
# else b1), the proxy, and the tracer when root (not for load tests).
up() {
	local n=1 names=() i trace=1
	[ "${1:-}" = --no-trace ] && trace=
	multi && n=3
	for ((i = 1; i <= n; i++)); do names+=("b$i=127.0.99.$((10 + i))"); done
	mock_backends "${names[@]}" -- -v
	start_proxy ${GRADE_CONFIG:+--config "$GRADE_CONFIG"} "${GRADE_CMD//\{bin\}/$L7_BIN}"
	if [ -n "$trace" ] && [ "$(id -u)" = 0 ] && [ -z "${GRADE_NO_TRACE:-}" ]; then trace_start; fi
}
multi() { [[ $GRADE_CMD == *"{backends}"* || $(cat "${GRADE_CONFIG:-/dev/null}") == *"{server}"* ]]; }

# Stop the capture before the assertions, so that a failure shows the trace.
down() { trace_stop; }

req() { curl -s --max-time "$WAIT" "$@"; }

# expect WHAT GOT WANT: fail with both when they differ.
expect() {
	[ "$2" = "$3" ] && return 0
	fail "$1: expected '$3', got '$2'"
}

# backend_log: what the backends received, one request a line (mockserver -v).
backend_log() { cat "$(l7_err mock1)"; }

@test "basic 10: a GET reaches the backend and its answer comes back" {
	up
	run req -i "$(proxy_url /)"
	down
	assert_line --partial 'HTTP/1.1 200'
	assert_line 'hello from b1'
}

@test "basic 10: a POST body reaches the backend unchanged" {
	up
	run req -d 'name=l7lab&steps=7' "$(proxy_url /echo)"
	down
	expect "the body the backend received" "$(jq -r .body <<<"$output")" 'name=l7lab&steps=7'
	expect "the method" "$(jq -r .method <<<"$output")" POST
}

@test "basic 10: a 1 MB upload and a 1 MB download arrive whole" {
	up
	head -c 786432 /dev/zero | tr '\0' x >upload.txt
	local got
	got=$(req -H 'Content-Type: text/plain' --data-binary @upload.txt "$(proxy_url /echo)" | jq -r '.body | length')
	local down_bytes
	down_bytes=$(req -o down "$(proxy_url /bytes/1048576)" -w '%{size_download}')
	down
	expect "bytes of the upload the backend received" "$got" 786432
	expect "bytes of the download the client received" "$down_bytes" 1048576
}

@test "basic 10: headers pass both ways" {
	up
	run req -D head -H 'X-Student: ada' -H 'Accept-Language: fr' "$(proxy_url /echo)"
	down
	expect "X-Student at the backend" "$(jq -r '.headers[] | select(.[0] | ascii_downcase == "x-student") | .[1]' <<<"$output")" ada
	expect "Accept-Language at the backend" "$(jq -r '.headers[] | select(.[0] | ascii_downcase == "accept-language") | .[1]' <<<"$output")" fr
	grep -qi '^X-Backend: b1' head || fail "the client did not get the backend's X-Backend header: $(cat head)"
}

@test "http/1.1 3: two requests share one client connection (keep-alive)" {
	up
	run req -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' "$(proxy_url /)" "$(proxy_url /)"
	down
	assert_line --index 0 '200 1'
	[ "${lines[1]}" = '200 0' ] || fail "the second request needed a new connection (curl: '${lines[1]}'): the proxy closed the client's connection after one response"
}

@test "http/1.1 3: a chunked request body is forwarded" {
	up
	head -c 200000 /dev/zero | tr '\0' c >upload.txt
	run req -H 'Transfer-Encoding: chunked' -H 'Expect:' --data-binary @upload.txt "$(proxy_url /echo)"
	down
	expect "bytes of the chunked body the backend received" "$(jq -r '.body | length' <<<"$output" 2>/dev/null)" 200000
}

@test "http/1.1 3: a chunked response arrives whole, and the connection serves the next request" {
	up
	run req -o /dev/null -o /dev/null -w '%{http_code} %{size_download} %{num_connects}\n' \
		"$(proxy_url '/chunked/5000?size=100')" "$(proxy_url /)"
	down
	assert_line --index 0 '200 5000 1'
	[ "${lines[1]}" = '200 14 0' ] || fail "after the chunked response, the next request: expected '200 14 0' (status, bytes, new connections), got '${lines[1]:-nothing}': a response framed by closing the connection ends keep-alive"
}

@test "http/1.1 3: HEAD gets headers only, and the connection serves the next request" {
	up
	run req -I -o /dev/null -w '%{http_code} %{num_connects} %{size_download}\n' "$(proxy_url /)" \
		--next --max-time "$WAIT" -o /dev/null -w '%{http_code} %{num_connects} %{size_download}\n' "$(proxy_url /)"
	down
	assert_line --index 0 '200 1 0'
	[ "${lines[1]}" = '200 0 14' ] || fail "after HEAD, the next request on the connection: expected '200 0 14' (status, new connections, bytes), got '${lines[1]:-nothing}'"
}

@test "http/1.1 3: Expect: 100-continue gets its 100 Continue" {
	up
	head -c 20000 /dev/zero | tr '\0' y >upload.txt
	run --separate-stderr curl -sv --max-time "$WAIT" --expect100-timeout "$WAIT" -H 'Expect: 100-continue' \
		--data-binary @upload.txt -o /dev/null -w '%{http_code}' "$(proxy_url /echo)"
	down
	grep -q '^< HTTP/1.1 100' <<<"$stderr" || fail "no 100 Continue reached the client (curl waited $WAIT s, then sent the body)"
	expect "the final status" "$output" 200
}

@test "seven steps 4: X-Forwarded-For tells the backend the client's address" {
	up
	run req -H 'X-Forwarded-For: 203.0.113.7' "$(proxy_url /echo)"
	down
	expect "X-Forwarded-For at the backend" "$(jq -r '[.headers[] | select(.[0] | ascii_downcase == "x-forwarded-for") | .[1]] | join(", ")' <<<"$output")" '203.0.113.7, 127.0.0.1'
}

@test "seven steps 4: hop-by-hop headers stay on the client's connection" {
	up
	run req -H 'Connection: keep-alive, X-Secret' -H 'X-Secret: hunter2' -H 'Keep-Alive: timeout=5' \
		-H 'TE: trailers' -H 'Upgrade: websocket' -H 'Proxy-Connection: keep-alive' "$(proxy_url /echo)"
	down
	local leaked
	leaked=$(jq -r '[.headers[] | .[0] | select(ascii_downcase | IN("x-secret", "keep-alive", "te", "upgrade", "proxy-connection"))] | join(" ")' <<<"$output")
	expect "hop-by-hop headers the backend received" "$leaked" ''
}

@test "seven steps 4: the proxy keeps its own backend connections for the next clients" {
	up
	local i conns
	for i in 1 2 3 4 5 6; do req -o /dev/null "$(proxy_url /)"; done
	down
	conns=$(req "http://$(backend_addr b1)/stats" | jq '[.[].connections] | add - 1')
	[ "$conns" -lt 6 ] || fail "six clients in turn, one request each: the backends accepted $conns connections from the proxy, one per request (step 4 every time; no connection kept for the next client)"
}

@test "seven steps 3: requests on one connection are spread across the backends" {
	multi || skip "the template takes one backend ({backend})"
	up
	run_loadgen -c 1 -n 30 --timeout "${WAIT}s"
	down
	local counts; counts=$(loadgen_field '.by_header' | jq -c .)
	[ "$(loadgen_field '[.by_header[] | select(. >= 5)] | length')" = 3 ] ||
		fail "30 requests on one connection should reach all 3 backends (at least 5 each); X-Backend counts: $counts"
}

@test "errors 4: a dead backend gets a 502 made by the proxy" {
	up
	l7_stop mock1
	run req -D head -o /dev/null -w '%{http_code}' "$(proxy_url /)"
	down
	[[ $output == 502 || $output == 503 ]] || fail "expected 502 (503 is tolerated) with the backend down, got '${output:-no answer}'"
	! grep -qi '^X-Backend' head
}

@test "errors 3: a backend that never answers gets 504 within the proxy's timeout" {
	up
	run req --max-time 15 -o /dev/null -w '%{http_code}' "$(proxy_url /hang)"
	down
	expect "status for a backend that never answers (waited 15 s)" "$output" 504
}

@test "errors 3: a malformed request gets 400 from the proxy and never reaches the backend" {
	up
	run raw 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'
	down
	assert_line --index 0 --partial ' 400'
	refute_line --partial 'X-Backend'
	[ -z "$(grep '"' <(backend_log))" ] || fail "the backend received it: $(backend_log)"
}

@test "concurrency 10: 100 clients at once, no errors" {
	up --no-trace
	run_loadgen -c 100 -d 2s --timeout 2s "$(proxy_url /delay/50)"
	down
	local errors ok p99
	errors=$(loadgen_field .errors_total)
	ok=$(loadgen_field '.status["200"] // 0')
	p99=$(loadgen_field '.latency_us.p99 / 1000')
	echo "# note: loadgen -c 100: $errors errors, p99 $p99 ms" >&3
	expect "errors at 100 connections" "$errors" 0
	[ "$ok" -ge 100 ] || fail "only $ok answers 200 in 2 s"
}

@test "robustness 5: slow clients do not hold up the others" {
	up --no-trace
	run_loadgen -c 2 -d 2s --timeout 1s --slow 50:5
	down
	local errors ok
	errors=$(loadgen_field .errors_total)
	ok=$(loadgen_field '.status["200"] // 0')
	expect "errors of normal clients beside 50 slow ones" "$errors" 0
	[ "$ok" -ge 20 ] || fail "normal clients got $ok answers in 2 s beside 50 slow clients"
}

@test "robustness 5: request-smuggling probes do not reach the backend" {
	up
	local p
	for p in \
		'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n' \
		'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd' \
		'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n' \
		'POST /echo HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n'; do
		raw "$p" >/dev/null
	done
	down
	local bad
	bad=$(grep -E '"- - |/admin| 400 ' <(backend_log) || true)
	[ -z "$bad" ] || fail "the backend received ambiguous or smuggled bytes (it answered 400 or saw /admin):
$bad"
}

# raw BYTES: one connection, BYTES (printf format), what comes back until
# the proxy closes (WAIT seconds at most: a proxy may keep it open).
raw() {
	local a; a=$(proxy_addr)
	printf "$1" | timeout "$WAIT" nc -N "${a%:*}" "${a##*:}" || true
}
