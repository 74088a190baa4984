#!/usr/bin/env bats
# proxy: hostile peers (issue 9).  Framing is never lost or doubled between
# what the proxy reads and what it forwards: a Connection header cannot
# strip Content-Length or Host, heads that have no body (1xx, 204, 304)
# pass no body on, responses obey the request's framing rules, every byte of
# a head counts toward --max-header, chunk-size lines and trailers are
# bounded, the route agrees with the Host the server receives, and trailer
# fields are dropped, never merged into the head (a malformed trailer line
# is a framing error).

load helpers

setup_file() {
	export RAW_DIR=$BATS_FILE_TMPDIR/raw
	mkdir -p "$RAW_DIR"
	# A complete response a backend smuggles in as the "body" of a head
	# that has none: a pipelining client would take it for its next answer.
	local injected='HTTP/1.1 299 Injected\r\nContent-Length: 0\r\n\r\n' n
	n=$(printf "$injected" | wc -c)
	printf "HTTP/1.1 100 Continue\r\nContent-Length: $n\r\n\r\n$injected" >"$RAW_DIR/100-body.http"
	printf "HTTP/1.1 204 No Content\r\nContent-Length: $n\r\n\r\n$injected" >"$RAW_DIR/204-body.http"
	printf "HTTP/1.1 304 Not Modified\r\nContent-Length: $n\r\n\r\n$injected" >"$RAW_DIR/304-body.http"
	printf 'HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello' >"$RAW_DIR/conn-cl.http"
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' \
		>"$RAW_DIR/te-te.http"
	{ printf 'HTTP/1.1 200 OK\r\nX-A:'; printf '%*s' 500000 ''; printf 'b\r\nContent-Length: 2\r\n\r\nok'; } \
		>"$RAW_DIR/blank-header.http"
	# Chunked answers whose trailers carry framing fields, or a malformed line.
	local chunked='HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n'
	printf "${chunked}Content-Length: 2\r\nContent-Length: x7\r\nTransfer-Encoding: chunked\r\nHost: evil\r\nX-Sum: 1\r\n\r\n" \
		>"$RAW_DIR/trailer-framing.http"
	printf "${chunked}nocolon\r\n\r\n" >"$RAW_DIR/trailer-nocolon.http"
	start_bg_file mock "$L7_BIN/mockserver" --raw-dir "$RAW_DIR" \
		--listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name b2
	export B1=$(addr_of mock b1) B2=$(addr_of mock b2)
	start_bg_file proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" \
		--pool "api=b2=$B2" --route host:api.example=api
	export P=$(addr_of proxy)
	start_bg_file proxy_hold "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --dlp block
	export PH=$(addr_of proxy_hold)
}

teardown_file() { stop_all_file; }

# send BYTES: send BYTES (printf format) to the proxy, half-close, print
# what comes back.
send() { printf "$1" | timeout 5 nc -N "${P%:*}" "${P##*:}"; }

# statuses BYTES: the status codes of every response head in the answer.
statuses() { send "$1" | grep -a -o '^HTTP/1\.1 [0-9]*' | cut -d' ' -f2 | paste -sd' '; }

# status_of BYTES: the first status code of the answer.
status_of() { send "$1" | head -1 | cut -d' ' -f2; }

# echo_of BYTES: the JSON line mockserver's /echo answered.
echo_of() { send "$1" | grep -a '^{'; }

# ---- 1: Connection cannot remove framing or Host ----

@test "Connection: Content-Length does not turn a request body into a second request" {
	local smuggled='GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n' n
	n=$(printf "$smuggled" | wc -c)
	run echo_of "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: $n\r\n\r\n$smuggled"
	assert_equal "$(jq -r .body <<<"$output")" "$(printf "$smuggled")"
}

@test "Connection: Host does not take the Host away from the server" {
	run echo_of 'GET /echo HTTP/1.1\r\nHost: shop.example\r\nConnection: Host\r\n\r\n'
	assert_equal "$(jq -r '.headers[] | select(.[0] == "Host") | .[1]' <<<"$output")" shop.example
}

# ---- 7: no body after 1xx, 204, 304 ----

@test "bytes after a 100 Continue head are the next response, not a body passed on" {
	run statuses 'GET /raw/100-body.http HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output "100 299 201"
}

@test "a body after a 204 head never reaches the client" {
	run statuses 'GET /raw/204-body.http HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output "204 201"
}

@test "a body after a 304 head never reaches the client" {
	run statuses 'GET /raw/304-body.http HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output "304 201"
}

# ---- 8: responses obey the request's framing rules ----

@test "a response naming Content-Length in Connection keeps its framing" {
	run curl -s -m 3 "http://$P/raw/conn-cl.http"
	assert_success
	assert_output hello
}

@test "a response with Transfer-Encoding: chunked twice gets 502" {
	run curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$P/raw/te-te.http"
	assert_output 502
}

# ---- 9: every byte of a head counts, chunk lines are bounded ----

@test "blanks before a header value count toward --max-header" {
	run status_of "GET / HTTP/1.1\r\nHost: x\r\nX-A:$(printf '%*s' 100000 '')b\r\n\r\n"
	assert_output 431
}

@test "blank lines before the request line count toward --max-header" {
	run status_of "$(printf '\\r\\n%.0s' $(seq 10000))GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	assert_output 431
}

@test "a chunk extension over 4 KiB gets 400" {
	run status_of "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;$(printf '%*s' 100000 '' | tr ' ' a)\r\na\r\n0\r\n\r\n"
	assert_output 400
}

@test "a chunk size padded with 100,000 zeros gets 400" {
	run status_of "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n$(printf '%*s' 100000 '' | tr ' ' 0)1\r\na\r\n0\r\n\r\n"
	assert_output 400
}

@test "a response head padded with 500 KB of blanks gets 502" {
	run curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$P/raw/blank-header.http"
	assert_output 502
}

# ---- 10: the route and the server see the same host ----

@test "blanks after the Host value do not miss its host route" {
	run send 'GET / HTTP/1.1\r\nHost: api.example   \r\n\r\n'
	assert_output --partial "X-Backend: b2"
}

@test "an absolute-form target is routed and forwarded with the target's host" {
	run echo_of 'GET http://api.example/echo HTTP/1.1\r\nHost: www.example\r\n\r\n'
	assert_equal "$(jq -r '.backend' <<<"$output")" b2
	assert_equal "$(jq -r '.headers[] | select(.[0] == "Host") | .[1]' <<<"$output")" api.example
}

# ---- 11: trailers are dropped, never merged; a malformed one is a framing error ----

# chunked_post TRAILERS: a chunked POST /echo of "hello" with TRAILERS
# (printf format, each line with its CRLF), then GET /status/201.
chunked_post() {
	printf '%s' "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n$1\r\n"
	printf '%s' 'GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n'
}

@test "a response with garbled Content-Length and Transfer-Encoding trailers ends cleanly, its body whole" {
	run curl -s -m 3 "http://$P/raw/trailer-framing.http"
	assert_success
	assert_output hello
}

@test "a response's trailer fields never reach the client" {
	run send 'GET /raw/trailer-framing.http HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output --partial "$(printf '5\r\nhello\r\n0\r\n\r\n')"
	refute_output --partial evil
	refute_output --partial X-Sum
}

@test "a response trailer line without a colon cuts the answer short, never a clean end" {
	run curl -s -m 3 "http://$P/raw/trailer-nocolon.http"
	assert_equal "$status" 18   # curl: the transfer closed with data outstanding
}

@test "a response trailer line without a colon gets 502 while --dlp block holds the head" {
	run curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$PH/raw/trailer-nocolon.http"
	assert_output 502
}

@test "framing and routing fields in a request's trailers never reach the server" {
	run echo_of "$(chunked_post 'Content-Length: 2\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n')"
	assert_equal "$(jq -r .body <<<"$output")" hello
	assert_equal "$(jq -r '[.headers[] | select(.[0] | test("^(Host|Content-Length)$"))] | tostring' <<<"$output")" \
		'[["Host","x"]]'
	refute_output --partial evil
}

@test "Transfer-Encoding: chunked in a request's trailers does not refuse the request" {
	run statuses "$(chunked_post 'Transfer-Encoding: chunked\r\n')"
	assert_output "200 201"
}

@test "Connection: close in a request's trailers does not close the client connection" {
	run statuses "$(chunked_post 'Connection: close\r\n')"
	assert_output "200 201"
}

@test "a request trailer line without a colon gets 400" {
	run statuses "$(chunked_post 'nocolon\r\n')"
	assert_output 400
}

@test "white space in a request trailer's field name gets 400" {
	run statuses "$(chunked_post 'X-A : 1\r\n')"
	assert_output 400
}

@test "obs-fold in a request's trailers gets 400" {
	run statuses "$(chunked_post 'X-A: 1\r\n folded\r\n')"
	assert_output 400
}

@test "a bare LF in a request's trailers gets 400" {
	run statuses "$(chunked_post 'X-A: 1\nX-B: 2\r\n')"
	assert_output 400
}

@test "a request's trailer section over 4 KiB gets 400" {
	run statuses "$(chunked_post "X-A: $(printf '%*s' 5000 '' | tr ' ' a)\\r\\n")"
	assert_output 400
}
