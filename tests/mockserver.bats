#!/usr/bin/env bats
# mockserver: the endpoints, the headers every response carries, keep-alive,
# pipelining, request bodies, HTTP/1.0, IPv6, /stats and health.

load helpers

setup_file() {
	export RAW_DIR=$BATS_FILE_TMPDIR/raw
	mkdir -p "$RAW_DIR"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc' >"$RAW_DIR/cl-te.http"
	start_bg_file mock "$L7_BIN/mockserver" --raw-dir "$RAW_DIR" \
		--listen 127.0.0.1:0 --name b1 --listen 127.0.0.1:0 --name b2 --listen 127.0.0.1:0
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

url() { echo "http://$(addr_of mock "${2:-b1}")$1"; }

# hdr NAME: the value of header NAME in $output (curl -si), without CR.
hdr() { printf '%s\n' "$output" | tr -d '\r' | awk -v n="$1" 'BEGIN { n = tolower(n) } tolower($1) == n ":" { sub(/^[^:]*: */, ""); print; exit }'; }

# raw ADDR BYTES: send BYTES (printf format) on one connection, then
# half-close; print what comes back until the server closes.
raw() {
	local host=${1%:*} port=${1##*:}
	host=${host#[}; host=${host%]}
	printf "$2" | timeout 5 nc -N "$host" "$port"
}

@test "mockserver prints one listening line per listener" {
	run grep -c '^listening ' "$(out_of mock)"
	assert_output 3
	run awk '{ print $2 }' "$(out_of mock)"
	assert_line --index 0 b1
	assert_line --index 1 b2
}

@test "a listener without --name is named by its bound address" {
	local a; a=$(awk 'NR == 3 { print $3 }' "$(out_of mock)")
	run awk 'NR == 3 { print ($2 == $3) }' "$(out_of mock)"
	assert_output 1
	run curl -s "http://$a/"
	assert_output "hello from $a"
}

@test "/ says hello from the backend's name" {
	run curl -s "$(url / b2)"
	assert_success
	assert_output "hello from b2"
}

@test "every response carries X-Backend, X-Conn, X-Conn-Request and Server" {
	run curl -si "$(url /status/404)"
	assert_line --partial "HTTP/1.1 404 Not Found"
	[ "$(hdr X-Backend)" = b1 ]
	[[ "$(hdr X-Conn)" =~ ^[0-9]+$ ]]
	[ "$(hdr X-Conn-Request)" = 1 ]
	[ "$(hdr Server)" = mockserver ]
}

@test "keep-alive: two requests on one connection share X-Conn and count X-Conn-Request" {
	run curl -si "$(url /)" "$(url /)"
	run bash -c "printf '%s\n' \"\$1\" | tr -d '\r' | awk -F': ' '\$1 == \"X-Conn\" { c[++n] = \$2 } \$1 == \"X-Conn-Request\" { r[++m] = \$2 } END { print c[1] == c[2], r[1], r[2] }'" _ "$output"
	assert_output "1 1 2"
}

@test "pipelined requests are answered in order on one connection" {
	run raw "$(addr_of mock b1)" 'GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/203 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_success
	run bash -c "grep -a '^HTTP/1.1' <<<\"\$1\" | tr -d '\r'" _ "$output"
	assert_output "HTTP/1.1 201 Created
HTTP/1.1 202 Accepted
HTTP/1.1 203 Unknown"
}

@test "pipelined responses carry increasing X-Conn-Request numbers" {
	run raw "$(addr_of mock b1)" 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'
	run bash -c "grep -a '^X-Conn-Request' <<<\"\$1\" | tr -d '\r'" _ "$output"
	assert_output "X-Conn-Request: 1
X-Conn-Request: 2"
}

@test "/echo returns method, target, version, headers in order with duplicates, and the body" {
	run curl -s -X PUT "$(url '/echo?x=1')" -H 'X-Dup: one' -H 'X-Dup: two' --data-binary 'payload'
	assert_success
	run jq -c '[.backend, .method, .target, .version, .body, ([.headers[] | select(.[0] == "X-Dup") | .[1]])]' <<<"$output"
	assert_output '["b1","PUT","/echo?x=1","HTTP/1.1","payload",["one","two"]]'
}

@test "/echo shows the peer address as the backend sees it" {
	run curl -s "$(url /echo)"
	run jq -r .peer <<<"$output"
	assert_output --regexp '^127\.0\.0\.1:[0-9]+$'
}

@test "/echo collects a chunked request body" {
	run raw "$(addr_of mock b1)" 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n'
	run bash -c "sed -n '/^{/p' <<<\"\$1\" | jq -r .body" _ "$output"
	assert_output abcdefg
}

@test "/echo does not list a chunked request's trailer fields among its headers" {
	run raw "$(addr_of mock b1)" 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\nHost: evil\r\nX-Sum: 1\r\n\r\n'
	assert_equal "$(grep -a '^{' <<<"$output" | jq -c '[.headers[][0]]')" '["Host","Transfer-Encoding","Connection"]'
}

@test "/echo answers 413 to a body over --max-body" {
	start_bg small "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name s --max-body 10
	run curl -s -o /dev/null -w '%{http_code}' --data-binary 'more than ten bytes' "http://$(addr_of small)/echo"
	assert_output 413
}

@test "/echo answers 100 Continue to a client that expects it" {
	run curl -s -H 'Expect: 100-continue' --data-binary 'x' -w '%{http_code}' "$(url /echo)"
	assert_output --partial '"body":"x"'
	assert_output --partial '}
200'
}

@test "HTTP/1.0 is answered and closed by default" {
	run raw "$(addr_of mock b1)" 'GET / HTTP/1.0\r\n\r\n'
	assert_line --index 0 --partial 'HTTP/1.1 200 OK'
	assert_line --partial 'Connection: close'
	assert_line 'hello from b1'
}

@test "HTTP/1.0 with Connection: keep-alive stays open" {
	run curl -s -0 -H 'Connection: keep-alive' -D - -o /dev/null "$(url /)" "$(url /)"
	run bash -c "tr -d '\r' <<<\"\$1\" | grep -E '^(X-Conn-Request|Connection):'" _ "$output"
	assert_output "X-Conn-Request: 1
Connection: keep-alive
X-Conn-Request: 2
Connection: keep-alive"
}

@test "HEAD gets the headers with the body's length and no body" {
	run curl -s -I "$(url /bytes/1000)"
	[ "$(hdr Content-Length)" = 1000 ]
	run raw "$(addr_of mock b1)" 'HEAD /bytes/1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	run bash -c "tail -c 4 <<<\"\$1\" | od -An -c | tr -d ' '" _ "$output"
	assert_output '\r\n\r\n'
}

@test "/status/CODE answers that status" {
	run curl -s -o /dev/null -w '%{http_code}' "$(url /status/418)"
	assert_output 418
}

@test "/status/204 has neither body nor Content-Length" {
	run curl -si "$(url /status/204)"
	assert_line --partial '204 No Content'
	[ -z "$(hdr Content-Length)" ]
}

@test "/status/CODE refuses codes outside 200-599 with 400" {
	run curl -s -w ' %{http_code}' "$(url /status/99)"
	assert_output 'status must be 200-599
 400'
}

@test "/delay/MS waits that long before answering" {
	run curl -s -o /dev/null -w '%{time_total}' "$(url /delay/300)"
	assert_success
	awk -v t="$output" 'BEGIN { exit !(t >= 0.3 && t < 3) }'
}

@test "/bytes/N sends exactly N bytes" {
	run bash -c "curl -s '$(url /bytes/12345)' | wc -c"
	assert_output 12345
}

@test "/bytes/N streams a large body in full" {
	run bash -c "curl -s '$(url /bytes/50000000)' | wc -c"
	assert_output 50000000
}

@test "/chunked/N?size=K sends N bytes in K-byte chunks" {
	run raw "$(addr_of mock b1)" 'GET /chunked/10?size=4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_line --partial 'Transfer-Encoding: chunked'
	run bash -c "tr -d '\r' <<<\"\$1\" | sed '1,/^\$/d' | awk 'NR % 2 == 1'" _ "$output"
	assert_output "4
4
2
0"
	run bash -c "curl -s '$(url '/chunked/10?size=4')' | wc -c"
	assert_output 10
}

@test "/chunked to an HTTP/1.0 client ends the body by closing" {
	run raw "$(addr_of mock b1)" 'GET /chunked/10 HTTP/1.0\r\n\r\n'
	refute_line --partial 'Transfer-Encoding'
	assert_line --partial 'Connection: close'
}

@test "/drip sends its bytes slowly" {
	run curl -s -w ' %{size_download} %{time_total}' "$(url '/drip?bytes=4&ms=100')"
	read -r body size t <<<"$output"
	[ "$size" = 4 ]
	awk -v t="$t" 'BEGIN { exit !(t >= 0.4 && t < 3) }'
}

@test "/leak shows Luhn-valid card numbers, SSNs and an API key" {
	run curl -s "$(url /leak)"
	assert_output --partial '4111 1111 1111 1111'
	assert_output --regexp '[0-9]{3}-[0-9]{2}-[0-9]{4}'
	assert_output --partial 'AKIAIOSFODNN7EXAMPLE'
}

@test "/headers/N adds N headers" {
	run curl -si "$(url /headers/50)"
	run bash -c "grep -c '^X-Header-' <<<\"\$1\"" _ "$output"
	assert_output 50
}

@test "/close answers with Connection: close and closes" {
	run curl -sv "$(url /close)" "$(url /)"
	assert_output --partial 'Connection: close'
	refute_output --partial 'Re-using existing connection'
}

@test "/drop closes without an answer" {
	run curl -s "$(url /drop)"
	assert_equal "$status" 52     # curl: empty reply from server
}

@test "/reset closes with a TCP reset" {
	run curl -s "$(url /reset)"
	assert_equal "$status" 56     # curl: connection reset by peer
}

@test "/hang reads the request and never answers" {
	run curl -s --max-time 0.5 "$(url /hang)"
	assert_equal "$status" 28     # curl: timeout
}

@test "/raw/FILE sends the file's bytes as they are, then closes" {
	run raw "$(addr_of mock b1)" 'GET /raw/cl-te.http HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_success
	[ "$output" = "$(cat "$RAW_DIR/cl-te.http")" ]
}

@test "/raw/FILE refuses path traversal" {
	run curl -s --path-as-is -w ' %{http_code}' "$(url /raw/../raw/cl-te.http)"
	assert_output 'FILE must be a plain file name
 400'
	run curl -s -o /dev/null -w '%{http_code}' "$(url /raw/..%2fetc%2fpasswd)"
	assert_output 400
}

@test "/raw/FILE answers 404 for a missing file" {
	run curl -s -o /dev/null -w '%{http_code}' "$(url /raw/nope)"
	assert_output 404
}

@test "an unknown path answers 404" {
	run curl -s -o /dev/null -w '%{http_code}' "$(url /nope)"
	assert_output 404
}

@test "/stats counts requests, connections and statuses per backend name" {
	start_bg st "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name s1 --listen 127.0.0.1:0 --name s2
	curl -s -o /dev/null "http://$(addr_of st s1)/" "http://$(addr_of st s1)/status/503"
	curl -s -o /dev/null "http://$(addr_of st s2)/nope"
	run curl -s "http://$(addr_of st s1)/stats"
	run jq -c '[.s1.requests, .s1.connections, .s1.open, .s1.status["200"], .s1.status["503"], .s2.requests, .s2.status["404"]]' <<<"$output"
	assert_output '[3,2,1,1,1,1,1]'
}

@test "/health answers 200 while healthy" {
	run curl -s -w ' %{http_code}' "$(url /health)"
	assert_output 'ok
 200'
}

@test "SIGUSR1 makes every endpoint answer 503, and a second one heals" {
	start_bg h "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name h
	local u="http://$(addr_of h)"
	kill -USR1 "$(pid_of h)"
	wait_until bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $u/health)\" = 503 ]"
	run curl -s -o /dev/null -w '%{http_code}' "$u/"
	assert_output 503
	kill -USR1 "$(pid_of h)"
	wait_until bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $u/health)\" = 200 ]"
}

@test "IPv6: a listener on [::1] answers" {
	have_ipv6_loopback || skip "::1 is not available here"
	start_bg v6 "$L7_BIN/mockserver" --listen '[::1]:0' --name six
	run addr_of v6
	assert_output --regexp '^\[::1\]:[0-9]+$'
	run curl -s "http://$(addr_of v6)/echo"
	run jq -r '.backend + " " + .peer' <<<"$output"
	assert_output --regexp '^six \[::1\]:[0-9]+$'
}

@test "an Upgrade request is answered once as plain HTTP, then the connection closes" {
	run raw "$(addr_of mock b1)" 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'
	run bash -c "grep -a -c '^HTTP/1.1 200' <<<\"\$1\"" _ "$output"
	assert_output 1
}

@test "responses queued before a /drop still go out" {
	run raw "$(addr_of mock b1)" 'GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\nGET /drop HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'
	run bash -c "grep -a '^HTTP/1.1' <<<\"\$1\" | tr -d '\r'" _ "$output"
	assert_output 'HTTP/1.1 201 Created'
}
