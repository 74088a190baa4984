#!/usr/bin/env bats
# proxy, step 3: the WAF wired in (--waf, --waf-rules, --waf-paranoia,
# --waf-body-limit, a route's own mode).  Attacks get 403 with the rule and
# the variable in the access log and the step-3 event; detect forwards;
# a body is inspected up to the limit and streams past it; every bad flag
# exits 2.  (The rule sets' quality is tests/waf.bats'.)

load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1
	export B1=$(addr_of mock b1)
	start_bg_file pb "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --waf block \
		--waf-body-limit 1k --events "$BATS_FILE_TMPDIR/pb.events"
	export PB=$(addr_of pb)
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

proxy_with() { local n=$1; shift; start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" "$@"; }

SQLI='/echo?id=1%27%20or%20%271%27%3D%271'

# code URL [CURL ARGS]: the status of one request.
code() { local u=$1; shift; curl -s -o /dev/null -w '%{http_code}' "$@" "$u"; }

# line FILE ID: the access-log line of request ID, once it is written.
line() { wait_until grep -q "id=$2" "$1" && grep "id=$2" "$1"; }

@test "an SQL injection in the query gets 403 with its X-Request-ID" {
	run curl -s -i -H 'X-Request-ID: sqli-1' "http://$PB$SQLI"
	assert_line --partial 'HTTP/1.1 403 Forbidden'
	assert_line --partial 'X-Request-ID: sqli-1'
}

@test "the 403 names the rule and the variable, with no byte of the attack" {
	run curl -s "http://$PB/echo?%3Cscript%3Ealert(1)%3C%2Fscript%3E=1"
	assert_line --index 0 '403 Forbidden'
	assert_line --index 1 --regexp "^The proxy's web application firewall refused this request \(rule [0-9]+, in [A-Za-z0-9_:?.-]+\)\.$"
	refute_output --partial '<'
	refute_output --partial 'script'
}

@test "cross-site scripting in a form body gets 403" {
	run code "http://$PB/echo" --data-urlencode 'comment=<script>alert(document.cookie)</script>'
	assert_output 403
}

@test "the access log names the rule and the matched variable of a blocked request" {
	curl -s -o /dev/null -H 'X-Request-ID: log-1' "http://$PB$SQLI"
	run line "$(err_of pb)" log-1
	assert_output --partial '" 403 '
	assert_output --partial ' server=- '
	assert_output --partial ' waf=block waf_rule=11100 waf_var=ARGS:id '
	assert_output --regexp 'err="waf: SQLi in ARGS:id: libinjection fingerprint s&[a-z0-9]+"'
}

@test "the step-3 event says why: SQLi in ARGS:id with libinjection's fingerprint" {
	curl -s -o /dev/null -H 'X-Request-ID: ev-1' "http://$PB$SQLI"
	wait_until grep -q '"id":"ev-1","step":3,"event":"waf"' "$BATS_FILE_TMPDIR/pb.events"
	run jq -r 'select(.id == "ev-1" and .event == "waf") | "\(.verdict) \(.rule) \(.var) \(.reason)"' "$BATS_FILE_TMPDIR/pb.events"
	assert_output --regexp '^block 11100 ARGS:id SQLi in ARGS:id: libinjection fingerprint s&[a-z0-9]+$'
}

@test "a blocked request reaches no backend: no step 3 decision, no step 4" {
	curl -s -o /dev/null -H 'X-Request-ID: none-1' "http://$PB$SQLI"
	wait_until grep -q '"id":"none-1","step":7' "$BATS_FILE_TMPDIR/pb.events"
	run jq -r 'select(.id == "none-1") | .event' "$BATS_FILE_TMPDIR/pb.events"
	refute_line decide
	refute_line connect
}

@test "ordinary requests with quotes and angle brackets go through" {
	run code "http://$PB/echo?name=O%27Neil&q=a%20%3C%20b"
	assert_output 200
	run code "http://$PB/echo" --data-urlencode "note=Rue de l'Église, 2 < 3 items"
	assert_output 200
}

@test "detect mode forwards the attack and logs and reports it the same" {
	proxy_with pd --waf detect --events "$BATS_TEST_TMPDIR/ev"
	run curl -s -H 'X-Request-ID: det-1' "http://$(addr_of pd)$SQLI"
	assert_output --partial '"backend":"b1"'
	run line "$(err_of pd)" det-1
	assert_output --partial '" 200 '
	assert_output --partial ' waf=detect waf_rule=11100 waf_var=ARGS:id'
	refute_output --partial 'err='
	run jq -r 'select(.id == "det-1" and .event == "waf") | "\(.mode) \(.verdict) \(.var)"' "$BATS_TEST_TMPDIR/ev"
	assert_output 'detect detect ARGS:id'
}

@test "a route's own mode (route MATCH POOL waf block) outranks --waf off" {
	printf 'listen 127.0.0.2:0\nbackend b1=%s\nroute path:/admin/ default waf block\n' "$B1" >"$BATS_TEST_TMPDIR/p.conf"
	start_bg pr "$L7_BIN/proxy" -c "$BATS_TEST_TMPDIR/p.conf"
	run code "http://$(addr_of pr)/admin/x?id=1%27%20or%20%271%27%3D%271"
	assert_output 403
	run code "http://$(addr_of pr)$SQLI"
	assert_output 200
}

@test "--waf MATCH=MODE sets a route's mode: off for one route under --waf block" {
	proxy_with pr --waf block --route path:/echo=default --waf path:/echo=off
	run code "http://$(addr_of pr)$SQLI"
	assert_output 200
	run code "http://$(addr_of pr)/status/200?id=1%27%20or%20%271%27%3D%271"
	assert_output 403
}

@test "an attack in the first --waf-body-limit bytes of a large body is blocked" {
	{ printf 'x=%%27%%20or%%201%%3D1--&pad='; head -c 200000 /dev/zero | tr '\0' a; } >"$BATS_TEST_TMPDIR/body"
	run code "http://$PB/echo" --data-binary @"$BATS_TEST_TMPDIR/body"
	assert_output 403
}

@test "a body over --waf-body-limit streams to the server whole after its first bytes are judged" {
	head -c 300000 /dev/zero | tr '\0' a >"$BATS_TEST_TMPDIR/body"
	curl -s -H 'X-Request-ID: big-1' --data-binary @"$BATS_TEST_TMPDIR/body" "http://$PB/echo" >"$BATS_TEST_TMPDIR/echo"
	run jq -r '.body | length' "$BATS_TEST_TMPDIR/echo"
	assert_output 300000
	run jq -r 'select(.id == "big-1" and .event == "waf") | "\(.verdict) \(.inspected)"' "$BATS_FILE_TMPDIR/pb.events"
	assert_output 'pass 1024'
}

@test "an attack past --waf-body-limit is not seen (inspect the first N bytes, then stream)" {
	{ printf 'pad='; head -c 2000 /dev/zero | tr '\0' a; printf '&x=%%27%%20or%%201%%3D1--'; } >"$BATS_TEST_TMPDIR/body"
	run code "http://$PB/echo" --data-binary @"$BATS_TEST_TMPDIR/body"
	assert_output 200
}

@test "a chunked body is inspected, then re-chunked to the server intact" {
	run code "http://$PB/echo" -H 'Transfer-Encoding: chunked' --data-binary 'x=%27%20or%201%3D1--'
	assert_output 403
	head -c 5000 /dev/zero | tr '\0' b >"$BATS_TEST_TMPDIR/body"
	curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$BATS_TEST_TMPDIR/body" "http://$PB/echo" >"$BATS_TEST_TMPDIR/echo"
	run jq -r '"\(.body | length) \(.headers | map(select(.[0] == "Transfer-Encoding"))[0][1])"' "$BATS_TEST_TMPDIR/echo"
	assert_output '5000 chunked'
}

@test "a client waiting for 100 Continue gets it from the proxy, and the server no Expect" {
	exec 5<>"/dev/tcp/${PB%:*}/${PB##*:}"
	printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n' >&5
	local first
	IFS= read -r -t 5 first <&5
	assert_equal "$first" $'HTTP/1.1 100 Continue\r'
	IFS= read -r -t 5 first <&5   # the blank line after it
	printf 'hello' >&5
	run read_response 5
	exec 5>&-
	assert_line --index 0 --partial 'HTTP/1.1 200'
	assert_output --partial '"body":"hello"'
	refute_output --partial '"Expect"'
}

@test "an inspected POST leaves the client connection open for the next request" {
	run curl -s -o /dev/null -w '%{http_code} %{num_connects}\n' --data 'a=1' "http://$PB/echo" \
		--next -s -o /dev/null -w '%{http_code} %{num_connects}\n' --data 'b=2' "http://$PB/echo"
	assert_line --index 0 '200 1'
	assert_line --index 1 '200 0'
}

# statuses BYTES: the status codes of every response the proxy sends back
# for BYTES (printf format) on one connection.
statuses() { raw_exchange "$PB" "$1" 5 | grep -a -o '^HTTP/1\.1 [0-9]*' | cut -d' ' -f2 | paste -sd' '; }

@test "a request pipelined after a held body is answered next, in order" {
	run statuses 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
	assert_output '200 201'
}

@test "a request pipelined after a held chunked body is answered next, and the body is whole" {
	run raw_exchange "$PB" 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\n-ok\r\n0\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' 5
	assert_output --partial '"body":"hello-ok"'
	assert_equal "$(grep -a -o '^HTTP/1\.1 [0-9]*' <<<"$output" | cut -d' ' -f2 | paste -sd' ')" '200 201'
}

@test "a request pipelined after a blocked one is not read: the 403 closes the connection" {
	run statuses "GET ${SQLI//%/%%} HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\n\r\n"
	assert_output '403'
}

@test "an attack in a body sent after 100 Continue gets 403" {
	exec 5<>"/dev/tcp/${PB%:*}/${PB##*:}"
	printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n' >&5
	local first
	IFS= read -r -t 5 first <&5
	assert_equal "$first" $'HTTP/1.1 100 Continue\r'
	IFS= read -r -t 5 first <&5
	printf 'x=%%27%%20or%%201%%3D1--' >&5
	run read_response 5
	exec 5>&-
	assert_line --index 0 --partial 'HTTP/1.1 403'
}

@test "a body that stalls before the inspection limit gets 408 after --timeout-client" {
	proxy_with ps --waf block --timeout-client 300ms
	local a; a=$(addr_of ps)
	exec 5<>"/dev/tcp/${a%:*}/${a##*:}"
	printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc' >&5
	run timeout 5 head -1 <&5
	exec 5<&-
	assert_output $'HTTP/1.1 408 Request Timeout\r'
	wait_until grep -q 'err="timeout-client: request body stalled"' "$(err_of ps)"
}

@test "the WAF's verdicts are counted in /stats and /metrics" {
	proxy_with pa --waf block --admin 127.0.0.1:0
	local a; a=$(addr_of pa)
	curl -s -o /dev/null "http://$a$SQLI"
	curl -s -o /dev/null "http://$a/echo?q=fine"
	run curl -s "http://$(addr_of pa admin)/stats"
	assert_equal "$(jq -c '.waf | [.mode, .rules, .passed, .detected, .blocked]' <<<"$output")" '["block","l7lab",1,0,1]'
	run curl -s "http://$(addr_of pa admin)/metrics"
	assert_line 'l7lab_waf_requests_total{verdict="block"} 1'
	assert_line 'l7lab_waf_requests_total{verdict="pass"} 1'
}

@test "SIGUSR1 prints the WAF's verdicts on stderr" {
	proxy_with pu --waf detect
	curl -s -o /dev/null "http://$(addr_of pu)$SQLI"
	kill -USR1 "$(pid_of pu)"
	wait_until grep -q 'stats waf=' "$(err_of pu)"
	run grep 'stats waf=' "$(err_of pu)"
	assert_output 'proxy: stats waf=detect passed=0 detected=1 blocked=0'
}

@test "--waf-rules crs blocks with the OWASP Core Rule Set" {
	proxy_with pc --waf block --waf-rules crs --waf-paranoia 2
	run code "http://$(addr_of pc)$SQLI"
	assert_output 403
	wait_until grep -q 'waf=block' "$(err_of pc)"
	run grep -o 'waf_rule=9[0-9]*' "$(err_of pc)"
	assert_output --regexp '^waf_rule=94[0-9]{4}$'
}

@test "--check prints the WAF's settings and a route's own mode" {
	run "$L7_BIN/proxy" --check --listen 127.0.0.2:0 --backend "$B1" --route path:/a=default --waf path:/a=detect \
		--waf-rules crs --waf-paranoia 3 --waf-body-limit 8k
	assert_success
	assert_line 'waf off'
	assert_line 'waf-rules crs'
	assert_line 'waf-paranoia 3'
	assert_line 'waf-body-limit 8k'
	assert_line 'route path:/a default waf detect'
}

# ---- refusals: one line, exit 2 ----------------------------------------

refused() { run timeout 10 "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B1" "$@"; assert_equal "$status" 2; }

@test "--waf with an unknown mode exits 2 naming the modes" {
	refused --waf on
	assert_line --index 0 "proxy: --waf: 'on' is not a WAF mode (off, detect or block)"
}

@test "--waf for a route that does not exist exits 2" {
	refused --waf path:/nope=block
	assert_line --index 0 --partial "proxy: --waf: no route 'path:/nope'"
}

@test "--waf-rules naming no rule set exits 2 in one line" {
	refused --waf block --waf-rules nosuch
	assert_output "proxy: waf: no rule set 'nosuch' (l7lab, crs, or a .conf file of your own)"
}

@test "a rule file with an error exits 2 naming the file and the line" {
	printf 'SecRuleEngine On\nSecRule ARGS "@rx a" "id:1,phase:2,deny,nosuchaction"\n' >"$BATS_TEST_TMPDIR/bad.conf"
	refused --waf detect --waf-rules "$BATS_TEST_TMPDIR/bad.conf"
	assert_equal "${#lines[@]}" 1
	assert_output --regexp "^proxy: waf: $BATS_TEST_TMPDIR/bad\.conf: .*Line: 2"
}

@test "--check loads the rule set: a rule file with an error exits 2" {
	printf 'SecRuleEngine On\nSecRule ARGS "@rx a" "id:1,phase:2,deny,nosuchaction"\n' >"$BATS_TEST_TMPDIR/bad.conf"
	refused --check --waf detect --waf-rules "$BATS_TEST_TMPDIR/bad.conf"
	assert_output --regexp "^proxy: waf: $BATS_TEST_TMPDIR/bad\.conf: .*Line: 2"
}

@test "--waf-paranoia outside 1 to 4 exits 2" {
	refused --waf block --waf-paranoia 5
	assert_line --index 0 "proxy: --waf-paranoia: '5' is not a paranoia level (1 to 4)"
}

@test "--waf-body-limit 0 exits 2" {
	refused --waf block --waf-body-limit 0
	assert_line --index 0 "proxy: --waf-body-limit: '0' is out of range (1 to 67108864 bytes)"
}

@test "a route line with a bad waf mode names the file and line" {
	printf 'listen 127.0.0.2:0\nbackend %s\nroute path:/a default waf maybe\n' "$B1" >"$BATS_TEST_TMPDIR/p.conf"
	run "$L7_BIN/proxy" -c "$BATS_TEST_TMPDIR/p.conf"
	assert_equal "$status" 2
	assert_output "proxy: $BATS_TEST_TMPDIR/p.conf:3: 'maybe' is not a WAF mode (off, detect or block)"
}
