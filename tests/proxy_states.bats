#!/usr/bin/env bats
# proxy: the connection states (issue 9).  Each state runs the timer of its
# row in the table (proxy.1, STATES), bytes waiting for a client outrank its
# idle timer, each timeout blames the party that owes bytes, SIGTERM lets
# responses being written finish, --max-conns makes idle clients give way,
# and startup says "listening" only once it can serve.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	# A response whose 8 MB head no kernel buffer holds: with a client that
	# reads nothing, most of it waits in the proxy's own output buffer.
	export RAW_DIR=$BATS_FILE_TMPDIR/raw
	mkdir -p "$RAW_DIR"
	# (80 lines of 100 KB: the proxy takes 100 header lines at most.)
	local pad; pad=$(printf '%*s' 100000 '' | tr ' ' a)
	{
		printf 'HTTP/1.1 200 OK\r\n'
		yes "X-Pad: $pad"$'\r' | head -n 80
		printf 'Content-Length: 0\r\n\r\n'
	} >"$RAW_DIR/bighead.http"
	start_bg_file mock "$L7_BIN/mockserver" --raw-dir "$RAW_DIR" --listen 127.0.0.11:0 --name b1
	export B1=$(addr_of mock b1)
}

teardown_file() { stop_all_file; }

# bg_run CMD...: CMD in the background (with the caller's stdin, not
# /dev/null), stopped by pid in teardown.
bg_run() {
	"$@" <&0 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/spawned"
}

teardown() {
	local pid
	if [ -f "$BATS_TEST_TMPDIR/spawned" ]; then
		while read -r pid; do kill "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null || true; done \
			<"$BATS_TEST_TMPDIR/spawned"
	fi
	stop_all
}

proxy_with() { local n=$1; shift; start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" "$@"; }

# access NAME: the access-log lines of proxy NAME.
access() { grep ' pool=' "$(err_of "$1")"; }

# logged_bytes NAME: the response size the last access-log line of NAME gives.
logged_bytes() { access "$1" | tail -1 | grep -o ' [0-9]*B ' | tr -dc 0-9; }

# stalled_client ADDR REQUEST: send REQUEST (printf format) through a 4 KiB
# receive window (nc -I, pid $NC) and read nothing yet: the answer waits in a
# pipe nobody reads.  read_all then reads all of it, to $BATS_TEST_TMPDIR/got
# (pid $READER).  The client keeps its side open: only the proxy ends it.
stalled_client() {
	local d=$BATS_TEST_TMPDIR
	printf "$2" >"$d/req"
	mkfifo "$d/pipe"
	exec 7<>"$d/pipe"   # a reader that reads nothing, so nc's open goes through
	bg_run nc -w 5 -I 4096 "${1%:*}" "${1##*:}" <"$d/req" >"$d/pipe" 7<&-
	NC=$!
}

read_all() {
	exec 8<"$BATS_TEST_TMPDIR/pipe"
	bg_run cat <&8 >"$BATS_TEST_TMPDIR/got" 7<&- 8<&-
	READER=$!
	exec 7<&- 8<&-
}

@test "the idle timer waits until the response is written" {
	proxy_with p --max-header 16M --timeout-idle 200ms
	stalled_client "$(addr_of p)" 'GET /raw/bighead.http HTTP/1.1\r\nHost: x\r\n\r\n'
	wait_until access p   # the proxy has all of it, the client has read little
	sleep 0.5             # longer than --timeout-idle, which must not cut the response
	read_all
	wait "$READER"
	assert_equal "$(wc -c <"$BATS_TEST_TMPDIR/got")" "$(logged_bytes p)"
}

@test "SIGTERM lets a response being written finish" {
	proxy_with p --max-header 16M
	stalled_client "$(addr_of p)" 'GET /raw/bighead.http HTTP/1.1\r\nHost: x\r\n\r\n'
	wait_until access p
	local pid; pid=$(pid_of p)
	kill -TERM "$pid"
	read_all
	wait "$READER"
	assert_equal "$(wc -c <"$BATS_TEST_TMPDIR/got")" "$(logged_bytes p)"
	wait "$pid"   # and the proxy exits 0 by itself
	rm -f "$BATS_TEST_TMPDIR/p.pid"
}

@test "a client that stops reading a Connection: close response is closed after --timeout-client" {
	proxy_with p --max-header 16M --timeout-client 500ms --events "$BATS_TEST_TMPDIR/ev.jsonl"
	stalled_client "$(addr_of p)" 'GET /raw/bighead.http HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	wait_until grep -q '"event":"close"' "$BATS_TEST_TMPDIR/ev.jsonl"
	run jq -r 'select(.event == "close") | .reason' "$BATS_TEST_TMPDIR/ev.jsonl"
	assert_output "timeout-client: the client took no byte"
}

@test "a client that stops reading mid-response is blamed, not the server" {
	proxy_with p --timeout-server 200ms --timeout-client 600ms --max-fails 1
	local a d=$BATS_TEST_TMPDIR
	a=$(addr_of p)
	printf 'GET /bytes/50000000 HTTP/1.1\r\nHost: x\r\n\r\n' >"$d/req"
	mkfifo "$d/pipe"
	exec 7<>"$d/pipe"   # holds the pipe open, never read
	bg_run nc -I 4096 "${a%:*}" "${a##*:}" <"$d/req" >"$d/pipe"
	wait_until access p
	exec 7<&-
	run access p
	assert_output --partial 'err="timeout-client: the client took no byte"'
	refute grep -q 'ejected for' "$(err_of p)"
}

@test "a stalled request body gets 408 after --timeout-client, and the server stays up" {
	proxy_with p --timeout-server 200ms --timeout-client 600ms --max-fails 1
	local a; a=$(addr_of p)
	exec 5<>"/dev/tcp/${a%:*}/${a##*:}"
	printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789' >&5
	run timeout 5 head -1 <&5
	exec 5<&-
	assert_output $'HTTP/1.1 408 Request Timeout\r'
	refute grep -q 'ejected for' "$(err_of p)"
}

@test "a request body trickling in gets 408 after --timeout-body" {
	proxy_with p --timeout-body 500ms --timeout-client 2s
	local a; a=$(addr_of p)
	exec 5<>"/dev/tcp/${a%:*}/${a##*:}"
	printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n' >&5
	trickle() { for i in $(seq 40); do printf x || return 0; sleep 0.1; done; }   # a byte every 100 ms
	bg_run trickle >&5 2>/dev/null
	run timeout 4 head -1 <&5
	exec 5<&-
	assert_output $'HTTP/1.1 408 Request Timeout\r'
	run access p
	assert_output --partial 'err="timeout-body: request body took too long"'
}

@test "a client that shuts down its side after the request still gets the response, 200 times in 200" {
	proxy_with p
	local a i got=0
	a=$(addr_of p)
	for ((i = 0; i < 200; i++)); do
		printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 nc -N "${a%:*}" "${a##*:}" | grep -q 'hello from b1' &&
			got=$((got + 1))
	done
	assert_equal "$got" 200
}

@test "at --max-conns the oldest idle keep-alive client makes room for a new one" {
	proxy_with p --max-conns 2
	local a fd line
	a=$(addr_of p)
	for fd in 5 6; do
		eval "exec $fd<>/dev/tcp/${a%:*}/${a##*:}"
		printf 'GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n' >&"$fd"
		while IFS= read -r line <&"$fd" && [ "$line" != $'\r' ]; do :; done   # the whole 204 head
	done
	run curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$a/"
	assert_output 200
	run timeout 3 cat <&5   # the oldest was closed: EOF at once
	assert_success
	exec 5<&- 6<&-
}

@test "with a second --listen in use the proxy exits 2 without saying listening" {
	proxy_with first
	run --separate-stderr "$L7_BIN/proxy" --listen 127.0.0.2:0 --listen "$(addr_of first)" --backend "b1=$B1"
	assert_failure 2
	assert_output ""
}

@test "with --admin on a port in use the proxy exits 2 without saying listening" {
	proxy_with first
	run --separate-stderr "$L7_BIN/proxy" --listen 127.0.0.2:0 --admin "$(addr_of first)" --backend "b1=$B1"
	assert_failure 2
	assert_output ""
}

@test "a --source address the proxy cannot bind exits 2 at startup" {
	run --separate-stderr timeout 5 "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --source 192.0.2.1
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "proxy: --source: bind 192.0.2.1:0: Cannot assign requested address"
}

@test "with --events - stdout carries only JSON: listening goes to stderr" {
	spawn ev "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --events - --quiet
	wait_for_lines "$(err_of ev)" '^listening ' 1 "$(pid_of ev)"
	run curl -s -o /dev/null -w '%{http_code}' "http://$(awk '{ print $2; exit }' "$(err_of ev)")/"
	assert_output 200
	wait_until grep -q '"event":"response-complete"' "$(out_of ev)"
	run jq -e -s 'length > 0' "$(out_of ev)"
	assert_success
}

@test "every response carries the X-Request-ID the access log shows" {
	proxy_with p
	run curl -si "http://$(addr_of p)/"
	local id; id=$(printf '%s\n' "$output" | tr -d '\r' | awk 'tolower($1) == "x-request-id:" { print $2 }')
	assert [ -n "$id" ]
	wait_until access p
	run access p
	assert_output --partial "id=$id"
}

@test "--return-request-id off keeps the X-Request-ID from the client" {
	proxy_with p --return-request-id off
	run curl -si "http://$(addr_of p)/"
	assert_success
	refute_output --partial "X-Request-ID"
}
