#!/usr/bin/env bats
# proxy: what it writes down.  The access log (a timestamp first, each key
# once; --log-format json), --events timestamps a JSON reader keeps exactly,
# and SIGHUP reopening both files after logrotate moved them.

load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1
	export B1=$(addr_of mock b1)
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

# proxy_with NAME ARGS...: a proxy for one test.
proxy_with() { local n=$1; shift; start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" "$@"; }

# get NAME ID [PATH]: one request through proxy NAME with X-Request-ID ID.
get() { curl -s -o /dev/null -H "X-Request-ID: $2" "http://$(addr_of "$1")${3:-/}"; }

@test "an access-log line starts with the time it was written, in UTC" {
	proxy_with p
	local before after
	before=$(date -u +%s)
	get p when-1
	wait_until grep -q 'id=when-1' "$(err_of p)"
	after=$(date -u +%s)
	run awk '/id=when-1/ { print $1 }' "$(err_of p)"
	assert_output --regexp '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
	local t; t=$(date -u -d "$output" +%s)
	[ "$t" -ge "$before" ] && [ "$t" -le "$after" ]
}

@test "every key of an access-log line appears once" {
	proxy_with p --retries 1
	get p keys-1 /status/200
	wait_until grep -q 'id=keys-1' "$(err_of p)"
	run sh -c "grep 'id=keys-1' '$(err_of p)' | grep -o ' [a-z_]*=' | sort | uniq -d"
	assert_output ""
	run sh -c "grep 'id=keys-1' '$(err_of p)' | grep -o ' [a-z_]*=' | tr -d ' =' | tr '\n' ' '"
	assert_output "pool server conn req_hdr decide connect ttfb total id "
}

@test "--log-format json writes one object a line with the same facts" {
	proxy_with p --log-format json
	get p json-1 /status/201
	wait_until grep -q '"id":"json-1"' "$(err_of p)"
	run jq -c 'select(.id == "json-1") | [.client != null, .method, .target, .proto, .status, .bytes > 0, .pool, .server, .conn, (.req_hdr >= 0), (.total >= .ttfb), .retries, .err]' "$(err_of p)"
	assert_output '[true,"GET","/status/201","HTTP/1.1",201,true,"default","b1","new",true,true,0,null]'
	run jq -r 'select(.id == "json-1") | .t | floor' "$(err_of p)"
	assert [ "$output" -le "$(date +%s)" ]
}

@test "--log-format json writes null for the steps a refused request never reached" {
	proxy_with p --log-format json
	local a; a=$(addr_of p)
	printf 'BAD\r\n\r\n' | timeout 5 nc -N "${a%:*}" "${a##*:}" >/dev/null
	wait_until grep -q '"status":400' "$(err_of p)"
	run jq -c 'select(.status == 400) | [.method, .server, .connect, .ttfb, .err != null]' "$(err_of p)"
	assert_output '[null,null,null,null,true]'
}

@test "a bad --log-format exits 2 naming the choices" {
	run "$L7_BIN/proxy" --listen 127.0.0.1:0 --backend "$B1" --log-format xml
	assert_equal "$status" 2
	assert_line --index 0 "proxy: --log-format: 'xml' is not a log format (text or json)"
}

@test "an event's t is Unix seconds with microseconds, and jq keeps every digit" {
	proxy_with p --events "$BATS_TEST_TMPDIR/ev.jsonl"
	get p t-1
	wait_until grep -q '"id":"t-1","step":7' "$BATS_TEST_TMPDIR/ev.jsonl"
	run grep -o '"t":[^,]*' "$BATS_TEST_TMPDIR/ev.jsonl"
	refute_line --regexp '^"t":([^0-9]|[0-9]{11}|[0-9]{10}[^.]|[0-9]{10}\.[0-9]{0,5}$)'
	local raw; raw=$(grep '"id":"t-1","step":7' "$BATS_TEST_TMPDIR/ev.jsonl" | grep -o '"t":[0-9.]*' | cut -d: -f2)
	run jq -r 'select(.id == "t-1" and .step == 7) | .t * 1000000 | floor' "$BATS_TEST_TMPDIR/ev.jsonl"
	assert_output "${raw/./}"
}

@test "SIGHUP reopens --access-log and --events after logrotate moved them" {
	local d=$BATS_TEST_TMPDIR
	proxy_with p --access-log "$d/access.log" --events "$d/ev.jsonl"
	get p before-1
	wait_until grep -q 'id=before-1' "$d/access.log"
	mv "$d/access.log" "$d/access.log.1"
	mv "$d/ev.jsonl" "$d/ev.jsonl.1"
	kill -HUP "$(pid_of p)"
	wait_until test -f "$d/access.log"
	wait_until test -f "$d/ev.jsonl"
	get p after-1
	wait_until grep -q 'id=after-1' "$d/access.log"
	run grep -c 'id=' "$d/access.log"
	assert_output 1
	run grep -c 'id=after-1' "$d/access.log.1"
	assert_output 0
	assert grep -q '"id":"after-1"' "$d/ev.jsonl"
	refute grep -q '"id":"after-1"' "$d/ev.jsonl.1"
	assert grep -q '"id":"before-1"' "$d/ev.jsonl.1"
}

@test "SIGHUP keeps the old file when the new one cannot be opened" {
	local d=$BATS_TEST_TMPDIR/logs
	mkdir "$d"
	proxy_with p --access-log "$d/access.log"
	mv "$d" "$d.old"
	kill -HUP "$(pid_of p)"
	wait_until grep -q "open $d/access.log: No such file or directory" "$(err_of p)"
	get p kept-1
	wait_until grep -q 'id=kept-1' "$d.old/access.log"
}
