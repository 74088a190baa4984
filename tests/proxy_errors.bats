#!/usr/bin/env bats
# proxy: errors are answers.  Every error status, the request-smuggling
# defences (raw bytes), ambiguous responses (502), timeouts, peers that
# vanish, and the keep-alive race retry.

load helpers

setup_file() {
	export RAW_DIR=$BATS_FILE_TMPDIR/raw
	mkdir -p "$RAW_DIR"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' >"$RAW_DIR/cl-te.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd' >"$RAW_DIR/cl-cl.http"
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc' >"$RAW_DIR/te-gzip.http"
	printf 'HTTP/1.1 200 OK\nContent-Length: 3\r\n\r\nabc' >"$RAW_DIR/bare-lf.http"
	printf 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 3\r\n\r\nabc' >"$RAW_DIR/fold.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort' >"$RAW_DIR/short.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nka' >"$RAW_DIR/ka.http"
	printf 'HTTP/1.1 200 OK\r\n\r\nuntil close' >"$RAW_DIR/eof.http"
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n' >"$RAW_DIR/chunk-crlf.http"
	{ printf 'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n'; head -c 5000 /dev/zero | tr '\0' x; } >"$RAW_DIR/half.http"
	start_bg_file mock "$L7_BIN/mockserver" --raw-dir "$RAW_DIR" \
		--listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name quiet
	export B1=$(addr_of mock b1) QUIET=$(addr_of mock quiet)
	start_bg_file proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" \
		--pool "quiet=q=$QUIET" --route path:/quiet=quiet \
		--timeout-server 1s --timeout-header 1s --max-body 1k
	export P=$(addr_of proxy)
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

# status BYTES: send BYTES (printf format) to the proxy, half-close, print
# the status line of the answer without CR.
status() {
	printf "$1" | timeout 5 nc -N "${P%:*}" "${P##*:}" | head -1 | tr -d '\r'
}

# quiet_requests: how many requests the "quiet" backend has seen.
quiet_requests() { curl -s "http://$QUIET/stats" | jq '.quiet.requests'; }

proxy_with() { local n=$1; shift; start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 "$@"; }

@test "garbage gets 400 and the parser's reason in the log" {
	run status 'HELLO THERE\r\n\r\n'
	assert_output "HTTP/1.1 400 Bad Request"
	wait_until grep -q 'err="HPE_' "$(err_of proxy)"
}

@test "a bad request after a good one on the same connection gets 400, logged alone" {
	exec 5<>"/dev/tcp/${P%:*}/${P##*:}"
	printf 'GET /status/202 HTTP/1.1\r\nHost: x\r\n\r\n' >&5
	local first second
	first=$(read_response 5)
	printf 'GET / HTTP/1.1\nHost: x\r\n\r\n' >&5   # a second packet, after the answer
	second=$(timeout 3 cat <&5)
	exec 5<&-
	assert_equal "${first%%$'\r'*}" "HTTP/1.1 202 Accepted"
	assert_equal "${second%%$'\r'*}" "HTTP/1.1 400 Bad Request"
	wait_until grep -q '"-" 400 .*bare LF' "$(err_of proxy)"
}

@test "a header block over --max-header gets 431" {
	run status "GET / HTTP/1.1\r\nHost: x\r\nX-Big: $(head -c 17000 /dev/zero | tr '\0' a)\r\n\r\n"
	assert_output "HTTP/1.1 431 Request Header Fields Too Large"
}

@test "a request target over --max-target gets 414" {
	run status "GET /$(head -c 9000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: x\r\n\r\n"
	assert_output "HTTP/1.1 414 URI Too Long"
}

@test "a Content-Length over --max-body gets 413" {
	run status 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n'
	assert_output "HTTP/1.1 413 Content Too Large"
}

@test "a chunked body growing over --max-body gets 413" {
	run curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary "$(head -c 3000 /dev/zero | tr '\0' a)" "http://$P/echo"
	assert_output 413
}

@test "a request no route matches, with no default pool, gets 503" {
	proxy_with nodef --pool "api=b1=$B1" --route path:/api=api
	run curl -s -o /dev/null -w '%{http_code}' "http://$(addr_of nodef)/other"
	assert_output 503
}

@test "a server that refuses the connection gets 502" {
	proxy_with down --backend 127.0.0.1:1
	run curl -s -o /dev/null -w '%{http_code}' "http://$(addr_of down)/"
	assert_output 502
	wait_until grep -q 'connect 127.0.0.1:1: Connection refused' "$(err_of down)"
}

@test "a server that closes without answering gets 502" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/drop"
	assert_output 502
}

@test "a server that resets before answering gets 502" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/reset"
	assert_output 502
}

@test "a server that never answers gets 504 after --timeout-server" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/hang"
	assert_output 504
}

@test "a server that accepts no connection gets 504 after --timeout-connect" {
	# A listener whose accept queue is full: the kernel drops further SYNs.
	start_bg hole "$L7_TEST_TOOLS/tcphole" --full 127.0.0.1
	proxy_with ct --backend "$(addr_of hole)" --timeout-connect 200ms
	run curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$(addr_of ct)/"
	assert_output 504
	wait_until grep -q 'timeout-connect' "$(err_of ct)"
}

@test "a server that dies mid-response cuts the client's response short" {
	run curl -s "http://$P/raw/short.http"
	assert_failure 18   # curl: partial file
	wait_until grep -q 'err="server closed mid-response"' "$(err_of proxy)"
}

@test "a server that resets mid-response cuts the client's response short" {
	# Half a response, then a TCP RST (SO_LINGER 0).
	proxy_with pr --backend "b1=$B1"
	run curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://$(addr_of pr)/raw/half.http?close=reset"
	assert_failure 18
	assert_output --regexp '^200 [0-9]+$'
	wait_until grep -q 'err="read .*: Connection reset by peer"' "$(err_of pr)"
}

@test "a response delimited by the server's close is re-chunked for HTTP/1.1" {
	run curl -si "http://$P/raw/eof.http"
	assert_output --partial "Transfer-Encoding: chunked"
	assert_output --partial "until close"
}

@test "slow request headers get 408 after --timeout-header" {
	# the head never ends; the connection is held until the answer comes
	run timeout 5 bash -c 'exec 5<>"/dev/tcp/$0/$1" && printf "GET / HTTP/1.1\r\n" >&5 && head -n 1 <&5 | tr -d "\r"' \
		"${P%:*}" "${P##*:}"
	assert_output "HTTP/1.1 408 Request Timeout"
}

@test "an idle keep-alive client is closed after --timeout-idle" {
	proxy_with idle --backend "b1=$B1" --timeout-idle 200ms
	local p; p=$(addr_of idle)
	exec 5<>"/dev/tcp/${p%:*}/${p##*:}"
	printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&5
	run timeout 3 cat <&5   # ends at the proxy's FIN, long before 3 s
	exec 5<&-
	assert_success
	assert_output --partial "200 OK"
}

@test "a client aborting mid-body frees everything and the proxy goes on" {
	printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\nonly a part' | timeout 5 nc -N "${P%:*}" "${P##*:}" || true
	wait_until grep -q 'err="client closed mid-body"' "$(err_of proxy)"
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/"
	assert_output 200
}

@test "the keep-alive race is retried once on a new connection" {
	# ka.http answers keep-alive, then mockserver closes: the pipelined
	# second request takes that pooled connection and must be retried.
	run sh -c "printf 'GET /raw/ka.http HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 nc -N ${P%:*} ${P##*:} | grep -o 'HTTP/1.1 [0-9]*'"
	assert_line --index 0 "HTTP/1.1 200"
	assert_line --index 1 "HTTP/1.1 201"
}

# ---- request smuggling: each refused before the server sees anything ----

smuggle() {
	local before; before=$(quiet_requests)
	run status "$1"
	assert_output --partial "$2"
	assert_equal "$(quiet_requests)" "$((before + 1))"   # the /stats request itself
}

@test "Transfer-Encoding with Content-Length is refused" {
	smuggle 'POST /quiet HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /quiet/smuggled HTTP/1.1\r\nHost: x\r\n\r\n' "400"
}

@test "two differing Content-Length headers are refused" {
	smuggle 'POST /quiet HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' "400"
}

@test "an invalid Content-Length is refused" {
	smuggle 'POST /quiet HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello' "400"
}

@test "a Content-Length list is refused" {
	smuggle 'POST /quiet HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello' "400"
}

@test "a Transfer-Encoding whose final coding is not chunked is refused" {
	smuggle 'POST /quiet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n' "400"
}

@test "a transfer coding other than chunked gets 501" {
	smuggle 'POST /quiet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n' "501"
}

@test "obs-fold in a header is refused" {
	smuggle 'GET /quiet HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n' "400"
}

@test "a bare LF in the header block is refused" {
	smuggle 'GET /quiet HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n' "400"
}

@test "a NUL in a header value is refused" {
	smuggle 'GET /quiet HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n' "400"
}

@test "a control character in a header name is refused" {
	smuggle 'GET /quiet HTTP/1.1\r\nHost: x\r\nX\001A: b\r\n\r\n' "400"
}

@test "HTTP/1.1 without Host is refused" {
	smuggle 'GET /quiet HTTP/1.1\r\n\r\n' "400"
}

@test "two Host headers are refused" {
	smuggle 'GET /quiet HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' "400"
}

@test "an invalid chunk size is refused with 400" {
	run status 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'
	assert_output "HTTP/1.1 400 Bad Request"
}

@test "an overflowing chunk size is refused with 400" {
	run status 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n'
	assert_output "HTTP/1.1 400 Bad Request"
}

@test "chunk data not followed by CRLF is refused (llhttp 8.1 would take any two bytes)" {
	smuggle 'POST /quiet HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n' "400"
}

@test "chunk framing with bare LF is refused" {
	run status 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n'
	assert_output "HTTP/1.1 400 Bad Request"
}

@test "a response whose chunk data is not followed by CRLF is cut off" {
	run curl -s -o /dev/null "http://$P/raw/chunk-crlf.http"
	assert_failure
	wait_until grep -q 'err="chunk data not followed by CRLF"' "$(err_of proxy)"
}

@test "CONNECT gets 405" {
	run status 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'
	assert_output "HTTP/1.1 405 Method Not Allowed"
}

# ---- ambiguous responses: never forwarded ----

@test "a response with Content-Length and Transfer-Encoding gets 502" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/raw/cl-te.http"
	assert_output 502
}

@test "a response with two Content-Length headers gets 502" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/raw/cl-cl.http"
	assert_output 502
}

@test "a response whose Transfer-Encoding does not end in chunked gets 502" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/raw/te-gzip.http"
	assert_output 502
}

@test "a response with a bare LF gets 502" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/raw/bare-lf.http"
	assert_output 502
}

@test "a response with obs-fold gets 502" {
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/raw/fold.http"
	assert_output 502
}

@test "an error answer is short and names no internals" {
	proxy_with down2 --backend 127.0.0.1:1
	run curl -s "http://$(addr_of down2)/"
	assert_output "502 Bad Gateway"
}

@test "--max-conns refuses to accept past the limit until one closes" {
	proxy_with mc --backend "b1=$B1" --max-conns 1 --timeout-idle 1s
	local p; p=$(addr_of mc)
	exec 5<>"/dev/tcp/${p%:*}/${p##*:}"
	run curl -s -m 0.5 -o /dev/null -w '%{http_code}' "http://$p/"
	assert_output 000
	exec 5<&-
	run curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$p/"
	assert_output 200
}

@test "out of file descriptors, the proxy pauses accepting and recovers" {
	start_bg fds sh -c 'ulimit -n 32 && exec "$0" "$@"' "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1"
	local p; p=$(addr_of fds)
	# 60 connections at once, held until the shell that opened them exits
	run bash -c 'n=0; for i in {1..60}; do exec {fd}<>"/dev/tcp/$0/$1" && n=$((n + 1)); done; echo $n' "${p%:*}" "${p##*:}"
	assert_output 60
	wait_until grep -q 'accept: Too many open files; pausing' "$(err_of fds)"
	run curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$p/"
	assert_output 200
}

@test "--deny refuses a client at step 1" {
	proxy_with deny --backend "b1=$B1" --deny 127.0.0.1
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.1 "http://$(addr_of deny)/"
	assert_output 000
	run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.5 "http://$(addr_of deny)/"
	assert_output 200
}

@test "--deny leaves a step-1 deny event naming the client" {
	proxy_with denyev --backend "b1=$B1" --deny 127.0.0.1 --events "$BATS_TEST_TMPDIR/ev.jsonl"
	run curl -s -o /dev/null --interface 127.0.0.1 "http://$(addr_of denyev)/"
	wait_until grep -q '"event":"deny"' "$BATS_TEST_TMPDIR/ev.jsonl"
	run jq -r 'select(.event == "deny") | "\(.step) \(.client)"' "$BATS_TEST_TMPDIR/ev.jsonl"
	assert_output --regexp '^1 127\.0\.0\.1:[0-9]+$'
}

@test "bad flags exit 2 with one line" {
	run "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend 127.0.0.1:1 --timeout-server banana
	assert_failure 2
}

@test "a port in use exits 2 naming the address" {
	run "$L7_BIN/proxy" --listen "$P" --backend "$B1"
	assert_failure 2
	assert_output --partial "$P"
}

@test "the man page renders without warnings" {
	run sh -c "MANWIDTH=80 man --warnings -l '$TOP/proxy/proxy.1' 2>&1 >/dev/null"
	assert_output ""
}
