#!/usr/bin/env bats
# tracer from capture files: the recorded fixtures (tests/fixtures/record.sh:
# our proxy, nginx and HAProxy in front of mockserver) against their expected
# --json, the label contract checked on them, what the tracer tells apart on
# proxies it did not write (concurrency, retries, health checks, interim and
# proxy-made responses, refusals), reordered and damaged captures made with
# tests/tools/pcaptool, and every link type.

load helpers
bats_require_minimum_version 1.5.0

FX=$BATS_TEST_DIRNAME/fixtures
ARGS=(--proxy 127.0.0.2:8080 --backends 127.0.0.11:9001,127.0.0.12:9001,127.0.0.13:9001)
PROXIES=(l7lab nginx haproxy)

# trace_json FIXTURE: the tracer's --json for it, in $BATS_TEST_TMPDIR/NAME.json
trace_json() {
	"$L7_BIN/tracer" -r "$FX/$1.pcap" "${ARGS[@]}" --json >"$BATS_TEST_TMPDIR/$1.json" 2>"$BATS_TEST_TMPDIR/$1.err"
}

# same_as_recorded SCENARIO [PROXY...]: diff -u against the expected output.
same_as_recorded() {
	local s=$1 p
	shift
	[ $# -gt 0 ] || set -- "${PROXIES[@]}"
	for p in "$@"; do
		trace_json "$p-$s"
		diff -u "$FX/$p-$s.json" "$BATS_TEST_TMPDIR/$p-$s.json"
	done
}

# wrong_ties FIXTURE: how many requests the tracer tied to a backend
# connection that, by the proxy's own log (FIXTURE.truth), did not serve
# that client.  Prints "WRONG of TOTAL".
wrong_ties() {
	trace_json "$1"
	jq -rs '[ .[] | select(.step == 5 and .len > 0 and .request != null and (.summary | test("^[A-Z]+ /"))) ]
	        | group_by(.request) | map(last) | .[] | "\(.client) \(.src_addr)"' "$BATS_TEST_TMPDIR/$1.json" |
		sort >"$BATS_TEST_TMPDIR/ties"
	echo "$(comm -23 "$BATS_TEST_TMPDIR/ties" <(sort "$FX/$1.truth") | wc -l) of $(wc -l <"$BATS_TEST_TMPDIR/ties")"
}

# ---- the recorded fixtures ------------------------------------------------

@test "tracer labels one request through each proxy as recorded" {
	same_as_recorded one
}

@test "tracer labels three keep-alive requests through each proxy as recorded" {
	same_as_recorded keepalive
}

@test "tracer labels a Connection: close request through each proxy as recorded" {
	same_as_recorded close
}

@test "tracer labels a chunked POST through each proxy as recorded" {
	same_as_recorded chunked
}

@test "tracer labels a 502 from a dead backend through each proxy as recorded" {
	same_as_recorded 502
}

@test "tracer labels three concurrent clients through each proxy as recorded" {
	same_as_recorded concurrent
}

@test "tracer labels two pipelined requests in one segment through each proxy as recorded" {
	same_as_recorded pipeline
}

@test "tracer labels request heads split across segments through each proxy as recorded" {
	same_as_recorded splithead
}

@test "tracer labels eight concurrent clients with the same URL through nginx and HAProxy as recorded" {
	same_as_recorded concurrent8 nginx haproxy
	same_as_recorded forwarded nginx haproxy
}

@test "tracer labels 100-continue, a reset backend and refused clients as recorded" {
	same_as_recorded continue nginx haproxy
	same_as_recorded reset502 nginx haproxy
	same_as_recorded denied l7lab haproxy
}

@test "tracer labels nginx's retry and HAProxy's health checks as recorded" {
	same_as_recorded retry nginx
	same_as_recorded healthcheck haproxy
}

# ---- who served which client ------------------------------------------------

@test "eight concurrent clients asking the same URL are each tied to the backend connection that served them" {
	for f in nginx-concurrent8 haproxy-concurrent8 nginx-forwarded haproxy-forwarded; do
		run wrong_ties "$f"
		assert_output "0 of 24"
	done
}

@test "a guess among look-alike requests is settled by the response that reached the client" {
	trace_json haproxy-concurrent8
	run jq -r 'select(.step == 5 and .len > 0) | "\(.correlation) \(.inferred)"' "$BATS_TEST_TMPDIR/haproxy-concurrent8.json"
	assert_line "response false"
	refute_line --partial "true"
}

@test "with the Forwarded recipe every tie is a fact" {
	for p in nginx haproxy; do
		trace_json "$p-forwarded"
		run jq -r 'select(.step == 5 and .len > 0) | .correlation' "$BATS_TEST_TMPDIR/$p-forwarded.json"
		assert_equal "$(sort -u <<<"$output")" forwarded
	done
}

@test "a lone request with its own method and target is tied without a guess" {
	trace_json nginx-one
	run jq -r 'select(.dst == "b1" and .len > 0) | "\(.correlation) \(.inferred)"' "$BATS_TEST_TMPDIR/nginx-one.json"
	assert_output "only false"
}

@test "correlation by Forwarded is a fact" {
	trace_json l7lab-concurrent
	run jq -r 'select(.correlation) | .correlation' "$BATS_TEST_TMPDIR/l7lab-concurrent.json"
	refute_output --partial order
	assert_output --partial forwarded
}

@test "--events confirms the server of a refused backend connection" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-502.pcap" "${ARGS[@]}" --events "$FX/l7lab-502.events" --json
	assert_success
	run jq -r 'select(.dst == "b3") | "\(.correlation) \(.inferred)"' <<<"$output"
	assert_output "events false"
}

# ---- retries, health checks, interim and proxy-made responses, refusals ---

@test "nginx's retry on the next upstream is the same request: steps 4 and 5 again after the failed attempt's reset" {
	trace_json nginx-retry
	run jq -r 'select(.conn == 2 or .conn == 3) | select(.len > 0 or (.flags | test("SYN|RST")))
	           | "\(.request) \(.step) \(.dst) \(.flags) \(.retry)"' "$BATS_TEST_TMPDIR/nginx-retry.json"
	assert_output "1 4 b1 SYN false
1 4 proxy SYN ACK false
1 5 b1 PSH ACK false
1 6 proxy RST ACK false
1 4 b2 SYN true
1 4 proxy SYN ACK true
1 5 b2 PSH ACK true
1 6 proxy PSH ACK true
2 5 b2 PSH ACK false
2 6 proxy PSH ACK false"
	run jq -r 'select(.request == null)' "$BATS_TEST_TMPDIR/nginx-retry.json"
	assert_output ""
}

@test "the timeline shows a retry as the proxy deciding again" {
	run "$L7_BIN/tracer" -r "$FX/nginx-retry.pcap" "${ARGS[@]}" --color never
	assert_success
	assert_line --partial "b1 resets the connection: the attempt failed"
	assert_line --regexp '^ +3  proxy +decides +\+[0-9.]+ ms +→ b2 again \(try 2\)$'
	assert_line --partial "[retry]  the proxy tries again: its own connection to b2"
	assert_line --index -1 --partial "· 1 retry"
}

@test "HAProxy's health checks are labelled health checks, with no client request" {
	trace_json haproxy-healthcheck
	run jq -r 'select(.kind == "health-check") | "\(.request) \(.step)"' "$BATS_TEST_TMPDIR/haproxy-healthcheck.json"
	assert_line "null 5"
	refute_line --regexp '^[0-9]'
	run jq -r 'select(.summary | test("^GET /health")) | .kind' "$BATS_TEST_TMPDIR/haproxy-healthcheck.json"
	assert_equal "$(sort -u <<<"$output")" health-check
	# and the one client request among them is forwarded as ever
	run jq -r 'select(.request == 1 and .step == 5 and .len > 0) | "\(.kind) \(.summary)"' "$BATS_TEST_TMPDIR/haproxy-healthcheck.json"
	assert_output "null GET / HTTP/1.1"
}

@test "a 100 Continue is an interim response, not the response returned" {
	for p in nginx haproxy; do
		trace_json "$p-continue"
		run jq -r 'select(.len > 0 and (.summary | test("^HTTP/"))) | "\(.step) \(.kind) \(.summary)"' "$BATS_TEST_TMPDIR/$p-continue.json"
		assert_line --regexp '^7 interim HTTP/1.1 100 Continue$'
		assert_line --regexp '^7 null HTTP/1.1 200 OK'
	done
}

@test "a 502 the proxy made after a backend reset is a proxy-made response" {
	for p in nginx haproxy; do
		trace_json "$p-reset502"
		run jq -r 'select(.step == 7 and .len > 0) | "\(.kind) \(.summary)"' "$BATS_TEST_TMPDIR/$p-reset502.json"
		assert_output --regexp '^proxy-response HTTP/1.1 502 Bad Gateway'
	done
	run "$L7_BIN/tracer" -r "$FX/nginx-reset502.pcap" "${ARGS[@]}" --color never
	assert_line --partial "the proxy answers by itself: no backend response behind it"
}

@test "a backend's own response is not taken for the proxy's" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-keepalive"
		run jq -r 'select(.kind == "proxy-response")' "$BATS_TEST_TMPDIR/$p-keepalive.json"
		assert_output ""
	done
}

@test "a connection the proxy refuses at step 1 closes at step 1" {
	for p in l7lab haproxy; do
		trace_json "$p-denied"
		run jq -r 'select(.kind == "refused") | "\(.step) \(.src) \(.flags)"' "$BATS_TEST_TMPDIR/$p-denied.json"
		assert_line --regexp '^1 proxy (FIN ACK|RST ACK|RST)$'
		refute_line --regexp '^[^1]'
		# the client it served is served as ever
		run jq -r 'select(.step == 7 and .len > 0) | .summary' "$BATS_TEST_TMPDIR/$p-denied.json"
		assert_output --regexp '^HTTP/1.1 200 OK'
	done
}

# ---- the label contract on the fixtures ------------------------------------

@test "pipelined requests are told apart and each forwarded once" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-pipeline"
		# one client segment carries both requests: it belongs to the first
		run jq -r 'select(.src == "client" and .len > 0) | "\(.request) \(.summary)"' "$BATS_TEST_TMPDIR/$p-pipeline.json"
		assert_output "1 GET /bytes/10 HTTP/1.1"
		run jq -r 'select(.step == 5 and .len > 0) | "\(.request) \(.summary | split("  ")[0])"' "$BATS_TEST_TMPDIR/$p-pipeline.json"
		assert_output "1 GET /bytes/10 HTTP/1.1
2 GET /headers/1 HTTP/1.1"
		run jq -r 'select(.step == 7 and .len > 0 and .src == "proxy") | .request' "$BATS_TEST_TMPDIR/$p-pipeline.json"
		assert_output --regexp '^1
(1
)*2(
2)*$'
	done
}

@test "the handshakes are step 1 on the client connection and step 4 on the backend connection" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-one"
		run jq -r 'select(.flags | test("SYN")) | "\(.src)>\(.dst) \(.step)"' "$BATS_TEST_TMPDIR/$p-one.json"
		assert_output "client>proxy 1
proxy>client 1
proxy>b1 4
b1>proxy 4"
		# the ACK that completes each handshake
		run jq -r 'select(.seq == 1 and .ack == 1 and .len == 0 and (.flags == "ACK")) | .step' "$BATS_TEST_TMPDIR/$p-one.json"
		assert_line --index 0 1
		assert_line --index 1 4
	done
}

@test "bytes and pure ACKs take the step of the direction they serve" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-one"
		# Every non-teardown packet after the handshakes: step by direction.
		run jq -r 'select(.close | not) | select(.flags | test("SYN") | not)
		           | select(.seq != 1 or .ack != 1 or .len != 0)
		           | [(if .len > 0 then "\(.src)>\(.dst)" else "\(.dst)>\(.src)" end), .step] | @tsv' \
			"$BATS_TEST_TMPDIR/$p-one.json"
		assert_success
		while IFS=$'\t' read -r dir step; do
			case "$dir" in
			client\>proxy) want=2 ;;
			proxy\>client) want=7 ;;
			proxy\>b*) want=5 ;;
			b*\>proxy) want=6 ;;
			esac
			[ "$step" = "$want" ] || { echo "$p: $dir labelled $step, want $want"; false; }
		done <<<"$output"
	done
}

@test "FIN, RST and ACKs of a FIN keep their side's step and are marked close" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-close"
		run jq -r 'select(.close) | "\(.conn) \(.step) \(.flags)"' "$BATS_TEST_TMPDIR/$p-close.json"
		assert_success
		[ -n "$output" ]
		run jq -r 'select(.close) | select((.conn == 1 and .step != 7) or (.conn != 1 and .step != 6))' \
			"$BATS_TEST_TMPDIR/$p-close.json"
		assert_output ""
		run jq -r 'select(.flags | test("FIN|RST")) | select(.close | not)' "$BATS_TEST_TMPDIR/$p-close.json"
		assert_output ""
	done
}

@test "the refused backend connection is step 4 then step 6 close reset" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-502"
		run jq -r 'select(.dst == "b3" or .src == "b3") | "\(.step) \(.flags) \(.close) \(.reset) \(.request)"' \
			"$BATS_TEST_TMPDIR/$p-502.json"
		assert_line --index 0 "4 SYN false false 1"
		assert_line --partial "6 RST ACK true true 1"
		# HAProxy retries, then says 503; nginx and ours say 502: made by the proxy
		run jq -r 'select(.step == 7 and .len > 0) | "\(.kind) \(.summary)"' "$BATS_TEST_TMPDIR/$p-502.json"
		assert_output --regexp '^proxy-response HTTP/1.1 50(2 Bad Gateway|3 Service Unavailable)( \([0-9]+ B\))?$'
	done
}

@test "HAProxy's retries of a refused connection are attempts 2 to 4 of the same request" {
	trace_json haproxy-502
	run jq -r 'select(.dst == "b3" and (.flags == "SYN")) | "\(.request) \(.retry)"' "$BATS_TEST_TMPDIR/haproxy-502.json"
	assert_output "1 false
1 true
1 true
1 true"
}

@test "a request on a kept-alive backend connection is marked reuse on its first step-5 packet" {
	trace_json l7lab-keepalive
	run jq -r 'select(.reuse) | "\(.step) \(.request) \(.summary | split(" ")[1])"' "$BATS_TEST_TMPDIR/l7lab-keepalive.json"
	assert_output "5 3 /headers/2"
}

@test "a client's next request on a kept-alive connection starts again at step 2" {
	trace_json nginx-keepalive
	run jq -r 'select(.conn == 1 and .len > 0 and .src == "client") | "\(.request) \(.step)"' "$BATS_TEST_TMPDIR/nginx-keepalive.json"
	assert_output "1 2
2 2
3 2"
}

@test "our proxy's X-Request-ID is carried by every packet of its request" {
	trace_json l7lab-one
	run jq -r '.id' "$BATS_TEST_TMPDIR/l7lab-one.json"
	assert_success
	[ "$(sort -u <<<"$output" | wc -l)" -eq 1 ]
	[ "$output" != null ]
}

@test "--json names its fields as the proxy's events do: t in Unix seconds, id, client, server, server_name" {
	trace_json l7lab-one
	run jq -r 'select(.step == 5 and .len > 0) | "\(.id) \(.client) \(.server) \(.server_name)"' "$BATS_TEST_TMPDIR/l7lab-one.json"
	assert_output --regexp '^[0-9a-f]{16} 127\.0\.0\.1:[0-9]+ 127\.0\.0\.11:9001 b1$'
	# t as written (jq would round it): seconds with nine decimals
	run grep -c '^{"frame":[0-9]*,"t":1[0-9]\{9\}\.[0-9]\{9\},' "$BATS_TEST_TMPDIR/l7lab-one.json"
	assert_output 17
	# the same id, client and server in the proxy's own events
	local id client
	id=$(jq -r 'select(.step == 5 and .len > 0) | .id' "$BATS_TEST_TMPDIR/l7lab-one.json")
	client=$(jq -r 'select(.step == 5 and .len > 0) | .client' "$BATS_TEST_TMPDIR/l7lab-one.json")
	run jq -r --arg id "$id" 'select(.id == $id and .event == "decide") | "\(.client) \(.server) \(.server_name)"' "$FX/l7lab-one.events"
	assert_output "$client 127.0.0.11:9001 b1"
	# rel: seconds since the first packet
	run grep -c '"rel":0\.000000000,' "$BATS_TEST_TMPDIR/l7lab-one.json"
	assert_output 1
}

@test "three concurrent clients' requests each get their own request number" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-concurrent"
		run jq -r 'select(.len > 0 and .src == "client") | .request' "$BATS_TEST_TMPDIR/$p-concurrent.json"
		assert_equal "$(sort -n <<<"$output" | tr '\n' ' ')" "1 2 3 "
	done
}

# ---- reordered, repeated and lost segments ------------------------------------

@test "the hand-made reordering captures are what their specs say" {
	local s
	for s in response ack request overlap; do
		"$L7_TEST_TOOLS/pcaptool" spec "$FX/reorder-$s.spec" "$BATS_TEST_TMPDIR/$s.pcap"
		cmp "$FX/reorder-$s.pcap" "$BATS_TEST_TMPDIR/$s.pcap"
	done
	"$L7_TEST_TOOLS/pcaptool" spec "$FX/head-uncorrelated.spec" "$BATS_TEST_TMPDIR/head.pcap"
	cmp "$FX/head-uncorrelated.pcap" "$BATS_TEST_TMPDIR/head.pcap"
}

@test "a response segment captured before the one it follows is held and parsed when the gap fills" {
	trace_json reorder-response
	run jq -c 'select(.src == "b1" and .len > 0) | [.frame, .out_of_order, .retransmission, .summary]' "$BATS_TEST_TMPDIR/reorder-response.json"
	assert_output '[11,true,false,"head, continued"]
[12,false,false,"HTTP/1.1 200 OK (10 B)"]'
	run jq -r 'select(.step == 7 and .len > 0) | "\(.request) \(.kind) \(.summary)"' "$BATS_TEST_TMPDIR/reorder-response.json"
	assert_output "1 null HTTP/1.1 200 OK (10 B)"
	[[ "$(cat "$BATS_TEST_TMPDIR/reorder-response.err")" == *"0 retransmissions · 1 out of order" ]]
}

@test "an ACK captured before the bytes it acknowledges loses nothing" {
	trace_json reorder-ack
	run jq -c 'select(.src == "b1" and .len > 0) | [.frame, .out_of_order, .retransmission, .summary, .request]' "$BATS_TEST_TMPDIR/reorder-ack.json"
	assert_output '[12,false,false,"HTTP/1.1 200 OK (10 B)",1]'
	[[ "$(cat "$BATS_TEST_TMPDIR/reorder-ack.err")" == *"0 retransmissions · 0 out of order" ]]
}

@test "a request head captured last segment first is one request, forwarded once" {
	trace_json reorder-request
	run jq -c 'select(.src == "client" and .len > 0) | [.step, .request, .out_of_order]' "$BATS_TEST_TMPDIR/reorder-request.json"
	assert_output '[2,1,true]
[2,1,true]
[2,1,false]'
	run "$L7_BIN/tracer" -r "$FX/reorder-request.pcap" "${ARGS[@]}" --summary
	assert_line --index 1 --regexp '^1 +GET +/a +b1 +new +200 '
}

@test "a retransmission that overlaps parsed bytes adds only its new ones" {
	trace_json reorder-overlap
	run jq -c 'select(.src == "b1" and .len > 0) | [.retransmission, .summary]' "$BATS_TEST_TMPDIR/reorder-overlap.json"
	assert_output '[false,"HTTP/1.1 200 OK (10 B)"]
[true,"head, continued"]'
	run jq -r 'select(.step == 7 and .len > 0) | .kind' "$BATS_TEST_TMPDIR/reorder-overlap.json"
	assert_output null
}

@test "a retransmitted segment is marked and keeps its step and request" {
	"$L7_TEST_TOOLS/pcaptool" dup "$FX/nginx-keepalive.pcap" "$BATS_TEST_TMPDIR/dup.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/dup.pcap" "${ARGS[@]}" --json
	assert_success
	run jq -c 'select(.retransmission) | [.frame, .step, .request, .summary]' <<<"$output"
	assert_output '[5,2,1,"retransmitted"]'
	[[ "$stderr" == *"· 1 retransmissions ·"* ]]
}

@test "an out-of-order segment is marked and the request is still parsed" {
	"$L7_TEST_TOOLS/pcaptool" split "$FX/nginx-keepalive.pcap" "$BATS_TEST_TMPDIR/split.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/split.pcap" "${ARGS[@]}" --json
	assert_success
	run jq -c 'select(.frame == 4 or .frame == 5) | [.step, .seq, .len, .request, .out_of_order]' <<<"$output"
	assert_output '[2,21,58,1,true]
[2,1,20,1,false]'
	# the three requests are still found, each forwarded once
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/split.pcap" "${ARGS[@]}" --summary
	assert_line --index 1 --regexp '^1 +GET +/ +b[12] +new +200 '
	assert_line --index 3 --regexp '^3 +GET +/headers/2 +b[12] '
}

@test "after a segment the capture lost, the next response is found again" {
	"$L7_TEST_TOOLS/pcaptool" drop "$FX/l7lab-keepalive.pcap" "$BATS_TEST_TMPDIR/drop.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/drop.pcap" "${ARGS[@]}" --json
	assert_success
	# b1's first response is gone; its second (request 3's) is parsed again
	run jq -c 'select(.src == "b1" and .len > 0) | [.step, .request, .summary]' <<<"$output"
	assert_output '[6,3,"HTTP/1.1 200 OK (16 B)"]'
}

@test "a HEAD's response on a backend connection with no client side has no body" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/head-uncorrelated.pcap" --proxy 127.0.0.2:8080 --backends 127.0.0.11:9001 --json
	assert_success
	run jq -r 'select(.src == "b1" and .len > 0) | .summary' <<<"$output"
	assert_output "HTTP/1.1 200 OK
HTTP/1.1 204 No Content"
}

@test "a client request without headers shows each header the proxy added" {
	cat >"$BATS_TEST_TMPDIR/bare.spec" <<-'EOF'
	0.000000 127.0.0.1:40000 > 127.0.0.2:8080 S 1000 0
	0.000010 127.0.0.2:8080 > 127.0.0.1:40000 SA 5000 1001
	0.000020 127.0.0.1:40000 > 127.0.0.2:8080 A 1001 5001
	0.000100 127.0.0.1:40000 > 127.0.0.2:8080 PA 1001 5001 "GET / HTTP/1.0\r\n\r\n"
	0.000200 127.0.0.2:50000 > 127.0.0.11:9001 S 7000 0
	0.000210 127.0.0.11:9001 > 127.0.0.2:50000 SA 9000 7001
	0.000220 127.0.0.2:50000 > 127.0.0.11:9001 A 7001 9001
	0.000300 127.0.0.2:50000 > 127.0.0.11:9001 PA 7001 9001 "GET / HTTP/1.0\r\nX-Forwarded-For: 127.0.0.1\r\nVia: 1.0 l7lab\r\n\r\n"
	0.000400 127.0.0.11:9001 > 127.0.0.2:50000 FPA 9001 7066 "HTTP/1.0 204 No Content\r\n\r\n"
	0.000500 127.0.0.2:8080 > 127.0.0.1:40000 FPA 5001 1019 "HTTP/1.0 204 No Content\r\n\r\n"
	EOF
	"$L7_TEST_TOOLS/pcaptool" spec "$BATS_TEST_TMPDIR/bare.spec" "$BATS_TEST_TMPDIR/bare.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/bare.pcap" "${ARGS[@]}" --json
	assert_success
	run jq -r 'select(.step == 5 and .len > 0) | .summary' <<<"$output"
	assert_output "GET / HTTP/1.0  +X-Forwarded-For +Via"
}

@test "IP fragments are counted and said to be skipped" {
	"$L7_TEST_TOOLS/pcaptool" fragment "$FX/nginx-one.pcap" "$BATS_TEST_TMPDIR/frag.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/frag.pcap" "${ARGS[@]}" --json
	assert_success
	assert_equal "${stderr##*$'\n'}" "tracer: 2 IP fragments were not reassembled and were skipped"
}

# ---- link types and file formats -----------------------------------------------

@test "every link type decodes to the same labels" {
	for k in null loop raw sll sll2; do
		"$L7_TEST_TOOLS/pcaptool" relink "$k" "$FX/nginx-one.pcap" "$BATS_TEST_TMPDIR/$k.pcap"
		"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/$k.pcap" "${ARGS[@]}" --json >"$BATS_TEST_TMPDIR/$k.json"
		diff -u "$FX/nginx-one.json" "$BATS_TEST_TMPDIR/$k.json"
	done
}

@test "microsecond pcap timestamps give the same labels" {
	"$L7_TEST_TOOLS/pcaptool" relink micro "$FX/haproxy-keepalive.pcap" "$BATS_TEST_TMPDIR/micro.pcap"
	"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/micro.pcap" "${ARGS[@]}" --json | jq -c 'del(.t, .rel)' >"$BATS_TEST_TMPDIR/micro.json"
	jq -c 'del(.t, .rel)' "$FX/haproxy-keepalive.json" | diff -u - "$BATS_TEST_TMPDIR/micro.json"
}

@test "a capture on any shows each loopback packet once" {
	"$L7_TEST_TOOLS/pcaptool" relink any "$FX/nginx-one.pcap" "$BATS_TEST_TMPDIR/any.pcap"
	"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/any.pcap" "${ARGS[@]}" --json | jq -c 'del(.frame)' >"$BATS_TEST_TMPDIR/any.json"
	jq -c 'del(.frame)' "$FX/nginx-one.json" | diff -u - "$BATS_TEST_TMPDIR/any.json"
}

@test "pcapng input gives the same labels as pcap" {
	# the tracer's own -w writes pcapng; read it back
	"$L7_BIN/tracer" -r "$FX/l7lab-chunked.pcap" "${ARGS[@]}" --json -w "$BATS_TEST_TMPDIR/c.pcapng" >/dev/null
	"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/c.pcapng" "${ARGS[@]}" --json >"$BATS_TEST_TMPDIR/c.json"
	diff -u "$FX/l7lab-chunked.json" "$BATS_TEST_TMPDIR/c.json"
}

# ---- roles ---------------------------------------------------------------------

@test "backends given by port alone are named in order of appearance" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" --proxy 8080 --backends 9001 --json
	assert_success
	run jq -r 'select(.step == 4 and .flags == "SYN") | .dst' <<<"$output"
	assert_output "b1
b2"
}

@test "--backends takes the proxy's NAME=ADDR form" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-keepalive.pcap" --proxy 127.0.0.2:8080 \
		--backends alpha=127.0.0.11:9001,beta=127.0.0.12:9001 --json
	assert_success
	run jq -r 'select(.step == 5 and .len > 0) | .dst' <<<"$output"
	assert_equal "$(sort -u <<<"$output" | tr '\n' ' ')" "alpha beta "
}

@test "--backend NAME=ADDR:PORT*WEIGHT is read as proxy --backend writes it" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-keepalive.pcap" --proxy 127.0.0.2:8080 \
		--backend alpha=127.0.0.11:9001*3 --backend beta=127.0.0.12:9001 --json
	assert_success
	run jq -r 'select(.step == 5 and .len > 0) | .server_name' <<<"$output"
	assert_equal "$(sort -u <<<"$output" | tr '\n' ' ')" "alpha beta "
}

@test "--name NAME names the proxy, as proxy --name does" {
	run "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}" --name edge --color never
	assert_success
	assert_line --index 0 --partial "· edge 127.0.0.2:8080 ·"
	assert_line --regexp '^ +[0-9.]+ ms  1  client → edge '
}

@test "the older --name ADDR:PORT=NAME still names a backend" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}" --name 127.0.0.11:9001=alpha --json
	assert_success
	run jq -r 'select(.step == 5) | .dst' <<<"$output"
	assert_line alpha
}

@test "--verbose, --verbose=N and -vv are taken as the proxy takes them" {
	for v in "--verbose=1" "--verbose" "-vv"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}" $v --json
		assert_success
		assert_equal "$(wc -l <<<"$output")" 17
	done
}

@test "a backend entry on the proxy's port gets a warning" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" --proxy 8080 --backends 9001,8080 --json
	assert_success
	assert_equal "${stderr%%$'\n'*}" "tracer: --backends: entry 2 names the --proxy port 8080: connections there are taken as client connections"
}

# ---- the timeline ---------------------------------------------------------------

@test "the timeline groups packets by request with a step-3 line and a closing line" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --color never
	assert_success
	assert_line --index 0 --partial "l7lab tracer"
	assert_line --regexp '^request 1  GET /  · client 127\.0\.0\.1:[0-9]+ · X-Request-ID '
	assert_line --regexp '^ +3  proxy +decides +\+[0-9.]+ ms +→ b1$'
	assert_line --regexp '^ +[0-9.]+ ms  4  proxy  → b1 +SYN '
	assert_line --partial "[reuse]"
	assert_line --index -1 "31 packets · 3 requests · client connections 1 · backend connections 2 opened, 1 reused · 0 retransmissions · 0 out of order"
}

@test "no timeline line ends in spaces" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --color never
	refute_line --regexp ' $'
}

@test "--events adds the proxy's decision to the step-3 line" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --events "$FX/l7lab-keepalive.events" --color never
	assert_success
	assert_line --regexp '^ +3  proxy +decides +\+[0-9.]+ ms +→ b1 \(roundrobin, pool default\): next in turn'
	refute_output --partial inferred
}

@test "--events from another time than the capture gets a warning" {
	jq -c '.t = 1000000000' "$FX/l7lab-one.events" >"$BATS_TEST_TMPDIR/old.events"
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --events "$BATS_TEST_TMPDIR/old.events" --json
	assert_success
	assert_equal "${stderr##*$'\n'}" "tracer: --events: its events (2001-09-09 01:46:40 UTC to 2001-09-09 01:46:40 UTC) are not from the capture's time ($(date -u -d @"$(jq -r 'select(.frame == 1) | .t | floor' <<<"$output")" '+%F %T') UTC to $(date -u -d @"$(jq -rs 'last | .t | floor' <<<"$output")" '+%F %T') UTC)"
}

@test "--requests prints only the requests asked for" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --color never --requests 2-3
	assert_success
	refute_line --regexp '^request 1'
	assert_line --regexp '^request 2'
	assert_line --regexp '^request 3'
}

# ---- --summary ---------------------------------------------------------------------

@test "--summary prints a row per request with the time of each step" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --summary
	assert_success
	assert_line --index 0 --regexp '^req +method +path +server +conn +status +tries +1 connect +2 request +3 decide +4 connect +5-6 backend +proxy +7 return +total +correlation$'
	assert_line --index 1 --regexp '^1 +GET +/ +b1 +new +200 +1 +([0-9.]+ ms +){8}forwarded$'
	assert_line --index 3 --regexp '^3 +GET +/headers/2 +b1 +reused +200 +1 +- +[0-9.]+ ms +[0-9.]+ ms +- +[0-9.]+ ms '
}

@test "--summary's columns add up to each request's total" {
	for f in l7lab-keepalive nginx-concurrent8 haproxy-502 nginx-retry; do
		run --separate-stderr "$L7_BIN/tracer" -r "$FX/$f.pcap" "${ARGS[@]}" --summary
		assert_success
		# columns 8 to 14 (the steps) against column 15 (total), to the microsecond rounding
		run awk 'NR > 1 && $1 ~ /^[0-9]+$/ {
			sum = 0; n = 0
			for (i = 8; i <= NF && n < 8; i++) { if ($i == "ms") continue; if ($i == "-") { v[n++] = 0; continue }; v[n++] = $i }
			for (k = 0; k < 7; k++) sum += v[k]
			if (sum - v[7] > 0.004 || v[7] - sum > 0.004) print "request " $1 ": steps " sum " total " v[7]
		}' <<<"$output"
		assert_output ""
	done
}

@test "--summary ends with the mean, p50 and p99 of each step" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-concurrent8.pcap" "${ARGS[@]}" --summary
	assert_success
	assert_line --index -3 --regexp '^mean +([0-9.]+ ms +|- +){8}$'
	assert_line --index -2 --regexp '^p50 +([0-9.]+ ms +|- +){8}$'
	assert_line --index -1 --regexp '^p99 +([0-9.]+ ms +|- +){8}$'
}

# ---- --mermaid -----------------------------------------------------------------------

# mermaid_ok FILE: the diagram keeps to the sequenceDiagram grammar the tracer
# writes: a header, participants declared before use (ids of letters, digits
# and _), messages ->> and -->> between them, notes over the proxy, no ';' or
# '#' in texts; with a fence, the fence around it.
mermaid_ok() {
	awk '
		NR == 1 && $0 == "```mermaid" { fenced = 1; next }
		fenced && $0 == "```" { closed = 1; next }
		closed { print "after the fence: " $0; bad = 1; next }
		!head { if ($0 != "sequenceDiagram") { print "line " NR ": no sequenceDiagram header"; bad = 1 } head = 1; next }
		/^  participant [A-Za-z][A-Za-z0-9_]*( as [^;#]+)?$/ { if (msgs) { print "line " NR ": participant after messages"; bad = 1 } p[$2] = 1; next }
		/^  Note over [A-Za-z][A-Za-z0-9_]*: [^;#]*$/ { split($3, a, ":"); if (!(a[1] in p)) { print "line " NR ": note over unknown " a[1]; bad = 1 } msgs = 1; next }
		/^  [A-Za-z][A-Za-z0-9_]*-?->>[A-Za-z][A-Za-z0-9_]*: [^;#]*$/ {
			split($1, a, /-?->>/); sub(/:$/, "", a[2])
			if (!(a[1] in p) || !(a[2] in p)) { print "line " NR ": unknown participant in " $1; bad = 1 }
			msgs = 1; next
		}
		{ print "line " NR ": not in the grammar: " $0; bad = 1 }
		END { if (fenced && !closed) { print "the fence is not closed"; bad = 1 } exit bad }' "$1"
}

@test "--mermaid draws the seven steps as a sequence diagram named after the roles" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --mermaid
	assert_success
	assert_line --index 0 sequenceDiagram
	assert_line --index 1 "  participant client"
	assert_line --index 2 "  participant proxy"
	assert_line --index 3 "  participant b1"
	assert_line "  client->>proxy: 1 TCP handshake (SYN, SYN-ACK, ACK)"
	assert_line "  client->>proxy: 2 GET /"
	assert_line "  Note over proxy: 3 → b1"
	assert_line "  proxy->>b1: 4 TCP handshake (SYN, SYN-ACK, ACK)"
	assert_line --regexp '^  proxy->>b1: 5 GET / \+X-Forwarded-For'
	assert_line "  b1-->>proxy: 6 200 OK (14 B)"
	assert_line "  proxy-->>client: 7 200 OK (14 B)"
}

@test "--mermaid's diagrams keep to the grammar for every fixture" {
	local f
	for f in "$FX"/*.pcap; do
		"$L7_BIN/tracer" -r "$f" "${ARGS[@]}" --mermaid >"$BATS_TEST_TMPDIR/d.mmd" 2>/dev/null
		mermaid_ok "$BATS_TEST_TMPDIR/d.mmd" || { echo "in ${f##*/}"; return 1; }
	done
}

@test "--mermaid --fenced is a Markdown block, and --requests draws only those" {
	"$L7_BIN/tracer" -r "$FX/nginx-concurrent8.pcap" "${ARGS[@]}" --mermaid --fenced --requests 2-3 >"$BATS_TEST_TMPDIR/d.md"
	mermaid_ok "$BATS_TEST_TMPDIR/d.md"
	run cat "$BATS_TEST_TMPDIR/d.md"
	assert_line --index 0 '```mermaid'
	assert_line --index -1 '```'
	# two requests: two clients, two forwarded requests
	assert_equal "$(grep -c '^  participant client' "$BATS_TEST_TMPDIR/d.md")" 2
	assert_equal "$(grep -c '^  proxy->>b[12]: 5 ' "$BATS_TEST_TMPDIR/d.md")" 2
}

# many_requests N: a spec of one client asking N times on one kept-alive
# connection, forwarded on one backend connection.
many_requests() {
	awk -v n="$1" 'BEGIN {
		req = "\"GET /a HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\""; rl = 28
		res = "\"HTTP/1.1 204 No Content\\r\\n\\r\\n\""; sl = 27
		c = 1001; p = 5001; b = 7001; k = 9001
		print "0.000000 127.0.0.1:40000 > 127.0.0.2:8080 S 1000 0"
		print "0.000001 127.0.0.2:8080 > 127.0.0.1:40000 SA 5000 1001"
		print "0.000002 127.0.0.1:40000 > 127.0.0.2:8080 A 1001 5001"
		print "0.000003 127.0.0.2:50000 > 127.0.0.11:9001 S 7000 0"
		print "0.000004 127.0.0.11:9001 > 127.0.0.2:50000 SA 9000 7001"
		print "0.000005 127.0.0.2:50000 > 127.0.0.11:9001 A 7001 9001"
		for (i = 1; i <= n; i++) {
			t = i / 1000
			printf "%.6f 127.0.0.1:40000 > 127.0.0.2:8080 PA %d %d %s\n", t, c, p, req; c += rl
			printf "%.6f 127.0.0.2:50000 > 127.0.0.11:9001 PA %d %d %s\n", t + 0.0001, b, k, req; b += rl
			printf "%.6f 127.0.0.11:9001 > 127.0.0.2:50000 PA %d %d %s\n", t + 0.0002, k, b, res; k += sl
			printf "%.6f 127.0.0.2:8080 > 127.0.0.1:40000 PA %d %d %s\n", t + 0.0003, p, c, res; p += sl
		}
	}'
}

@test "--mermaid warns when the diagram passes Mermaid's 50,000-character limit" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/haproxy-concurrent8.pcap" "${ARGS[@]}" --mermaid
	assert_success
	assert_equal "$stderr" ""
	many_requests 400 >"$BATS_TEST_TMPDIR/many.spec"
	"$L7_TEST_TOOLS/pcaptool" spec "$BATS_TEST_TMPDIR/many.spec" "$BATS_TEST_TMPDIR/many.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/many.pcap" "${ARGS[@]}" --mermaid
	assert_success
	assert_line --index -1 "  proxy-->>client: 7 204 No Content"
	[ "${#output}" -gt 50000 ]
	assert_equal "$stderr" "tracer: --mermaid: the diagram is $((${#output} + 1)) characters, over Mermaid's default limit of 50000 (maxTextSize); draw fewer requests with --requests"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/many.pcap" "${ARGS[@]}" --mermaid --requests 1-100
	assert_equal "$stderr" ""
}

# ---- -w ------------------------------------------------------------------------------

@test "-w writes pcapng with each label as a packet comment that tshark filters on" {
	command -v tshark >/dev/null || skip "tshark is not installed"
	run "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --json -w "$BATS_TEST_TMPDIR/out.pcapng"
	assert_success
	run --separate-stderr tshark -r "$BATS_TEST_TMPDIR/out.pcapng" -Y 'frame.comment contains "step 4"' -T fields -e frame.number
	assert_success
	assert_output "$(jq -r 'select(.step == 4) | .frame' "$FX/l7lab-one.json")"
	run --separate-stderr tshark -r "$BATS_TEST_TMPDIR/out.pcapng" -T fields -e frame.comment -Y 'frame.number == 9'
	assert_output --regexp '^step 5 proxy → b1 · request 1 · GET / HTTP/1.1'
	# and the tracer reads its own file back to the same labels
	"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/out.pcapng" "${ARGS[@]}" --json | diff -u "$FX/l7lab-one.json" -
}

# ---- -c ---------------------------------------------------------------------------------

@test "-c stops after COUNT packets" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-keepalive.pcap" "${ARGS[@]}" --json -c 5
	assert_success
	assert_equal "$(wc -l <<<"$output")" 5
	assert_equal "$stderr" "5 packets · 1 request · client connections 1 · backend connections 0 opened, 0 reused · 0 retransmissions · 0 out of order"
}

# ---- the manual ----------------------------------------------------------------------

@test "tracer.1 shows the tshark filter with its double quotes and the closing line's separators" {
	command -v groff >/dev/null || skip "groff is not installed (bin/install-deps installs man-db, which brings it)"
	run groff -man -Tutf8 -P-cbu -ww "$TOP/tracer/tracer.1"
	assert_success
	assert_output --partial "tshark -r labelled.pcapng -Y 'frame.comment contains \"step 4\"'"
	assert_output --partial "31 packets · 3 requests · client connections 1 ·"
	refute_output --partial "•"
	# and the Forwarded recipe for nginx and HAProxy
	assert_output --partial "proxy_set_header Forwarded 'for=\"\$remote_addr:\$remote_port\"';"
	assert_output --partial 'http-request set-header Forwarded for=\"%[src]:%[src_port]\"'
}
