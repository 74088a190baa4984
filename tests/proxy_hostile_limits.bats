#!/usr/bin/env bats
# proxy: the limits a hostile peer hits (issue 15; proxy.1 LIMITS).  Clients
# that drip or never read, thousands of idle connections, no file
# descriptors left, a long pipeline, huge header lines and header counts,
# TLS and HTTP/2 on the HTTP port; backends that storm 1xx, send more than
# they said, a body after HEAD, or never read the request.  And the
# regressions the request and response harnesses found (tests/fuzz).

load helpers

setup_file() {
	export RAW_DIR=$BATS_FILE_TMPDIR/raw
	mkdir -p "$RAW_DIR"
	local i
	# A response whose body runs past its Content-Length: what follows it
	# would be the answer to the next request on a reused connection.
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 299 Smuggled\r\nContent-Length: 0\r\n\r\n' \
		>"$RAW_DIR/longer.http"
	{ for i in 1 2 3; do printf 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n'; done
	  printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'; } >"$RAW_DIR/hints.http"
	{ for i in $(seq 5000); do printf 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n'; done
	  printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'; } >"$RAW_DIR/storm.http"
	{ printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n'
	  for i in $(seq 101); do printf 'X-F%d: v\r\n' "$i"; done; printf '\r\nok'; } >"$RAW_DIR/fields.http"
	{ printf 'HTTP/1.1 200 OK\r\n\r\n'; head -c 100000 /dev/zero | tr '\0' x; } >"$RAW_DIR/until-close.http"
	printf 'HTTP/1.1 0200 OK\r\nContent-Length: 2\r\n\r\nok' >"$RAW_DIR/status-0200.http"
	printf 'HTTP/1.1 0202\r\n\r\n' >"$RAW_DIR/status-0202.http"
	start_bg_file mock "$L7_BIN/mockserver" --raw-dir "$RAW_DIR" --listen 127.0.0.11:0 --name b1
	export B1=$(addr_of mock b1)
	start_bg_file proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1"
	export P=$(addr_of proxy)
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

# send ADDR BYTES: send BYTES (printf format) on one connection, half-close,
# print what comes back until the proxy closes (5 s at most: fails then).
send() { printf "$2" | timeout 5 nc -N "${1%:*}" "${1##*:}"; }

# statuses ADDR BYTES: the status codes of every response head in the answer.
statuses() { send "$1" "$2" | grep -a -o '^HTTP/1\.[01] [0-9]*' | cut -d' ' -f2 | paste -sd' '; }

proxy_with() { local n=$1; shift; start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 "$@"; }

# cpu_ticks PID: user + system CPU time the process has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# rss_kb PID: resident memory, in kB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# loadgen_json ARGS...: a loadgen run's JSON report.
loadgen_json() { "$L7_BIN/loadgen" --json "$@"; }

# ---- clients that take their time -----------------------------------------

@test "a normal client is served promptly while 300 slowloris clients drip their headers" {
	run loadgen_json -c 1 -d 3s --slow 300:2 "http://$P/"
	assert_success
	# Every slow connection was open and dripping the whole run ...
	assert_equal "$(jq '.slow.outcomes.open_at_end' <<<"$output")" 300
	# ... and the normal client's requests, all answered, took milliseconds
	# (its usual is under one; 250 ms leaves room for a loaded machine).
	assert_equal "$(jq '.errors_total' <<<"$output")" 0
	assert_equal "$(jq '.requests > 100 and .status."200" == .requests' <<<"$output")" true
	run jq '.latency_us.p99 < 250000' <<<"$output"
	assert_output true
}

@test "a client that reads none of a 200 MB response holds only a bounded buffer" {
	exec 5<>"/dev/tcp/${P%:*}/${P##*:}"
	printf 'GET /bytes/200000000 HTTP/1.1\r\nHost: x\r\n\r\n' >&5
	local pid; pid=$(pid_of proxy)
	# The proxy stops reading the backend once the client's socket and its
	# own buffer (64 KiB) are full: the rest waits in the backend.
	run loadgen_json -c 1 -n 200 "http://$P/"
	assert_equal "$(jq '.errors_total' <<<"$output")" 0
	run jq '.latency_us.p99 < 250000' <<<"$output"
	assert_output true
	[ "$(rss_kb "$pid")" -lt 65536 ] || fail "the proxy's RSS is $(rss_kb "$pid") kB"
	exec 5<&-
}

@test "a client that takes no byte of its response is closed after --timeout-client" {
	proxy_with tc --backend "b1=$B1" --timeout-client 300ms
	local p; p=$(addr_of tc)
	exec 5<>"/dev/tcp/${p%:*}/${p##*:}"
	printf 'GET /bytes/200000000 HTTP/1.1\r\nHost: x\r\n\r\n' >&5
	wait_until grep -q 'err="timeout-client: the client took no byte"' "$(err_of tc)"
	exec 5<&-
}

# ---- many connections, no file descriptors ---------------------------------

@test "10,000 idle keep-alive connections are held and a new client is still served" {
	local want=10500   # each process: the proxy's 10,000 and a few, holdconns's 10,000 and a few
	if [ "$(ulimit -n)" -lt "$want" ]; then
		ulimit -n "$want" 2>/dev/null || skip "RLIMIT_NOFILE is $(ulimit -n) (hard $(ulimit -Hn)), 10,000 connections need $want"
	fi
	proxy_with many --backend "b1=$B1" --max-conns 10100
	local p pid; p=$(addr_of many); pid=$(pid_of many)
	# holdconns opens 10,000 connections, each with one request answered,
	# and holds them while the command runs.
	run "$L7_TEST_TOOLS/holdconns" "$p" 10000 sh -c \
		'echo "fds $(ls /proc/$1/fd | wc -l)"; curl -s -m 5 -o /dev/null -w "status %{http_code}\n" "http://$2/"' \
		sh "$pid" "$p"
	assert_success
	assert_line "status 200"
	local fds; fds=$(sed -n 's/^fds //p' <<<"$output")
	[ "$fds" -ge 10000 ] || fail "the proxy held $fds descriptors"
}

@test "out of file descriptors, the proxy waits for one without spinning" {
	start_bg fds sh -c 'ulimit -n 32 && exec "$0" "$@"' "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1"
	local p pid; p=$(addr_of fds); pid=$(pid_of fds)
	# 60 connections held open (by a process of their own) while the proxy
	# has no descriptor left for them.
	spawn hold bash -c 'trap "exit 0" TERM; for i in {1..60}; do exec {fd}<>"/dev/tcp/$0/$1" || exit 1; done
		echo held; for i in {1..300}; do sleep 0.1; done' "${p%:*}" "${p##*:}"
	wait_for_lines "$(out_of hold)" '^held$' 1 "$(pid_of hold)"
	wait_until grep -q 'accept: Too many open files; pausing' "$(err_of fds)"
	# A spinning loop burns a whole core: 100 ticks a second.
	local t0 t1; t0=$(cpu_ticks "$pid")
	sleep 1   # the span CPU time is measured over, not a wait for readiness
	t1=$(cpu_ticks "$pid")
	[ $((t1 - t0)) -le 20 ] || fail "the proxy used $((t1 - t0)) ticks of CPU in a second"
	stop_bg hold
	run curl -s -m 5 -o /dev/null -w '%{http_code}' "http://$p/"
	assert_output 200
}

# ---- what a client sends ------------------------------------------------------

@test "a pipeline of 1,000 requests in one write gets 1,000 answers in order" {
	local reqs="" i
	for ((i = 1; i < 1000; i++)); do reqs+="GET /echo?i=$i HTTP/1.1\r\nHost: x\r\n\r\n"; done
	reqs+="GET /echo?i=1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	run bash -c 'send() { printf "$2" | timeout 20 nc -N "${1%:*}" "${1##*:}"; }; send "$0" "$1" | grep -a -o "\"target\":\"/echo?i=[0-9]*\"" | grep -o "[0-9]*\"$" | tr -d "\"" | paste -sd" "' \
		"$P" "$reqs"
	assert_success
	assert_output "$(seq -s' ' 1000)"
}

@test "a 10 MB header line gets 431 and the connection closed" {
	local f=$BATS_TEST_TMPDIR/big
	{ printf 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 10000000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$f"
	run bash -c 'timeout 10 nc -N "${0%:*}" "${0##*:}" <"$1" | head -1 | tr -d "\r"' "$P" "$f"
	assert_output "HTTP/1.1 431 Request Header Fields Too Large"
}

@test "100,000 header lines get 431" {
	local f=$BATS_TEST_TMPDIR/many
	{ printf 'GET / HTTP/1.1\r\nHost: x\r\n'; seq -f 'X-H%.0f: v' 100000 | sed 's/$/\r/'; printf '\r\n'; } >"$f"
	run bash -c 'timeout 10 nc -N "${0%:*}" "${0##*:}" <"$1" | head -1 | tr -d "\r"' "$P" "$f"
	assert_output "HTTP/1.1 431 Request Header Fields Too Large"
}

@test "101 header lines get 431 even under a --max-header that fits them" {
	proxy_with mf --backend "b1=$B1" --max-header 1M
	local req="GET / HTTP/1.1\r\nHost: x\r\n" i
	for ((i = 1; i <= 100; i++)); do req+="X-H$i: v\r\n"; done
	run statuses "$(addr_of mf)" "$req\r\n"
	assert_output 431
	wait_until grep -q 'err="header count' "$(err_of mf)"
}

@test "100 header lines pass" {
	local req="GET / HTTP/1.1\r\nHost: x\r\n" i
	for ((i = 1; i < 100; i++)); do req+="X-H$i: v\r\n"; done
	run statuses "$P" "$req\r\n"
	assert_output 200
}

@test "a TLS ClientHello on the HTTP port gets 400 and the connection closed" {
	run send "$P" '\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03abcdefghijklmnopqrstuvwxyz012345\x00\x00\x02\x13\x01\x01\x00'
	assert_success   # nc ended: the proxy closed
	assert_line --index 0 --regexp '^HTTP/1.1 400 Bad Request'
	wait_until grep -q 'err="a TLS handshake' "$(err_of proxy)"
}

@test "an HTTP/2 preface on the HTTP port gets 400 and the connection closed" {
	run send "$P" 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00'
	assert_success
	assert_line --index 0 --regexp '^HTTP/1.1 400 Bad Request'
	wait_until grep -q 'err="the HTTP/2 preface' "$(err_of proxy)"
}

@test "PRI * with an HTTP/1 version gets 400 at once, not a wait for the rest of a preface" {
	# a complete head llhttp does not end: it waits for HTTP/2's "SM"
	run send "$P" 'PRI * HTTP/1.0\r\n\r\n'
	assert_success
	assert_line --index 0 --regexp '^HTTP/1.1 400 Bad Request'
	wait_until grep -q 'err="the HTTP/2 preface (method PRI)' "$(err_of proxy)"
}

# ---- what a backend sends -----------------------------------------------------

@test "a backend's three 103 Early Hints reach the client before its answer" {
	run statuses "$P" 'GET /raw/hints.http HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output "103 103 103 200"
}

@test "a backend's storm of 5,000 1xx gets 502 after the first 16" {
	run statuses "$P" 'GET /raw/storm.http HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output "$(printf '103 %.0s' {1..16})502"
	wait_until grep -q 'err="more than 16 interim (1xx) responses"' "$(err_of proxy)"
}

@test "a response with 101 header lines gets 502" {
	run statuses "$P" 'GET /raw/fields.http HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output 502
}

@test "bytes past a response's Content-Length never reach the client" {
	run send "$P" 'GET /raw/longer.http HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	refute_output --partial Smuggled
	assert_output --partial "hello from b1"
}

@test "a server connection that sent bytes past Content-Length is not reused" {
	proxy_with lg --backend "b1=$B1"
	run send "$(addr_of lg)" 'GET /raw/longer.http HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	wait_until grep -q '"GET / HTTP/1.1" 200 .* conn=new' "$(err_of lg)"
}

@test "a body after a HEAD response never reaches the client" {
	run send "$P" 'HEAD /raw/longer.http HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	refute_output --partial Smuggled
	assert_equal "$(grep -a -c '^HTTP/1.1 200' <<<"$output")" 2
	assert_output --partial "hello from b1"
}

@test "a backend that never reads the request gets 504 after --timeout-server" {
	start_bg hole "$L7_TEST_TOOLS/tcphole" 127.0.0.13
	proxy_with nr --backend "h=$(addr_of hole)" --timeout-server 300ms
	head -c 20000000 /dev/zero >"$BATS_TEST_TMPDIR/body"
	# No Expect: 100-continue: the body goes at once, and stalls.
	run curl -s -m 10 -H 'Expect:' -o /dev/null -w '%{http_code}' --data-binary "@$BATS_TEST_TMPDIR/body" \
		"http://$(addr_of nr)/upload"
	assert_output 504
	wait_until grep -q 'err="timeout-server: h' "$(err_of nr)"
}

# ---- what the request and response harnesses found (tests/fuzz) ------------

@test "the error answer to a HEAD has no body" {
	run send "$P" 'HEAD / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n'
	assert_line --index 0 --regexp '^HTTP/1.1 400 Bad Request'
	refute_output --partial "400 Bad Request"$'\n'
	assert_output --partial "Content-Length: 16"
}

@test "a client that shuts down mid-request still gets the answer to the request before" {
	run send "$P" 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHo'
	assert_success
	assert_output --partial "hello from b1"
}

@test "a body delimited by the close, cut short, reaches an HTTP/1.0 client with a reset" {
	run curl -s --http1.0 -o /dev/null "http://$P/raw/until-close.http?close=reset"
	assert_failure 56   # curl: failure receiving (the reset), not a clean end
}

@test "a status code of four digits gets 502 (llhttp 8 reads 0200 as 200)" {
	run statuses "$P" 'GET /raw/status-0200.http HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output 502
	wait_until grep -q 'err="a status code that is not three digits"' "$(err_of proxy)"
}

@test "a status code of four digits and no reason gets 502 (as long as 202 and a blank)" {
	run statuses "$P" 'GET /raw/status-0202.http HTTP/1.1\r\nHost: x\r\n\r\n'
	assert_output 502
}
