#!/usr/bin/env bats
# tracer from capture files: the recorded fixtures (tests/fixtures/record.sh:
# our proxy, nginx and HAProxy in front of mockserver) against their expected
# --json, the label contract checked on them, and every link type.

load helpers
bats_require_minimum_version 1.5.0

FX=$BATS_TEST_DIRNAME/fixtures
ARGS=(--proxy 127.0.0.2:8080 --backends 127.0.0.11:9001,127.0.0.12:9001,127.0.0.13:9001)
PROXIES=(l7lab nginx haproxy)

# trace_json FIXTURE: the tracer's --json for it, in $BATS_TEST_TMPDIR/NAME.json
trace_json() {
	"$L7_BIN/tracer" -r "$FX/$1.pcap" "${ARGS[@]}" --json >"$BATS_TEST_TMPDIR/$1.json" 2>"$BATS_TEST_TMPDIR/$1.err"
}

# same_as_recorded SCENARIO: diff -u against the expected output, per proxy.
same_as_recorded() {
	local p
	for p in "${PROXIES[@]}"; do
		trace_json "$p-$1"
		diff -u "$FX/$p-$1.json" "$BATS_TEST_TMPDIR/$p-$1.json"
	done
}

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

@test "--events confirms the server of a refused backend connection" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-502.pcap" "${ARGS[@]}" --events "$FX/l7lab-502.events" --json
	assert_success
	run jq -r 'select(.dst == "b3") | "\(.correlation) \(.inferred)"' <<<"$output"
	assert_output "events false"
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
		# HAProxy retries, then says 503; nginx and ours say 502
		run jq -r 'select(.step == 7 and .len > 0) | .summary' "$BATS_TEST_TMPDIR/$p-502.json"
		assert_output --regexp '^HTTP/1.1 50(2 Bad Gateway|3 Service Unavailable)( \([0-9]+ B\))?$'
	done
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
	run jq -r '.request_id' "$BATS_TEST_TMPDIR/l7lab-one.json"
	assert_success
	[ "$(sort -u <<<"$output" | wc -l)" -eq 1 ]
	[ "$output" != null ]
}

@test "correlation by Forwarded is a fact and by order is marked inferred" {
	trace_json l7lab-concurrent
	run jq -r 'select(.correlation) | .correlation' "$BATS_TEST_TMPDIR/l7lab-concurrent.json"
	refute_output --partial order
	trace_json nginx-concurrent
	run jq -r 'select(.correlation) | "\(.correlation) \(.inferred)"' "$BATS_TEST_TMPDIR/nginx-concurrent.json"
	assert_line "order true"
	refute_line "order false"
}

@test "three concurrent clients' requests each get their own request number" {
	for p in "${PROXIES[@]}"; do
		trace_json "$p-concurrent"
		run jq -r 'select(.len > 0 and .src == "client") | .request' "$BATS_TEST_TMPDIR/$p-concurrent.json"
		assert_equal "$(sort -n <<<"$output" | tr '\n' ' ')" "1 2 3 "
	done
}

@test "every link type decodes to the same labels" {
	for k in null loop raw sll sll2; do
		python3 "$FX/relink.py" "$k" "$FX/nginx-one.pcap" "$BATS_TEST_TMPDIR/$k.pcap"
		"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/$k.pcap" "${ARGS[@]}" --json >"$BATS_TEST_TMPDIR/$k.json"
		diff -u "$FX/nginx-one.json" "$BATS_TEST_TMPDIR/$k.json"
	done
}

@test "microsecond pcap timestamps give the same labels" {
	python3 "$FX/relink.py" micro "$FX/haproxy-keepalive.pcap" "$BATS_TEST_TMPDIR/micro.pcap"
	"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/micro.pcap" "${ARGS[@]}" --json | jq -c 'del(.t)' >"$BATS_TEST_TMPDIR/micro.json"
	jq -c 'del(.t)' "$FX/haproxy-keepalive.json" | diff -u - "$BATS_TEST_TMPDIR/micro.json"
}

@test "a capture on any shows each loopback packet once" {
	python3 "$FX/relink.py" any "$FX/nginx-one.pcap" "$BATS_TEST_TMPDIR/any.pcap"
	"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/any.pcap" "${ARGS[@]}" --json | jq -c 'del(.frame)' >"$BATS_TEST_TMPDIR/any.json"
	jq -c 'del(.frame)' "$FX/nginx-one.json" | diff -u - "$BATS_TEST_TMPDIR/any.json"
}

@test "pcapng input gives the same labels as pcap" {
	command -v editcap >/dev/null || skip "editcap (wireshark-common) is not installed"
	editcap -F pcapng "$FX/l7lab-chunked.pcap" "$BATS_TEST_TMPDIR/c.pcapng"
	"$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/c.pcapng" "${ARGS[@]}" --json >"$BATS_TEST_TMPDIR/c.json"
	diff -u "$FX/l7lab-chunked.json" "$BATS_TEST_TMPDIR/c.json"
}

@test "backends given by port alone are named in order of appearance" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" --proxy 8080 --backends 9001 --json
	assert_success
	run jq -r 'select(.step == 4 and .flags == "SYN") | .dst' <<<"$output"
	assert_output "b1
b2"
}

@test "--name names a backend" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}" --name 127.0.0.11:9001=alpha --json
	assert_success
	run jq -r 'select(.step == 5) | .dst' <<<"$output"
	assert_line alpha
}

@test "the timeline groups packets by request with a step-3 line and a closing line" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --color never
	assert_success
	assert_line --index 0 --partial "l7lab tracer"
	assert_line --regexp '^request 1  GET /  · client 127\.0\.0\.1:[0-9]+ · X-Request-ID '
	assert_line --regexp '^ +3  proxy decides +\+[0-9.]+ ms +→ b1$'
	assert_line --regexp '^ +[0-9.]+ ms  4  proxy  → b1 +SYN '
	assert_line --partial "[reuse]"
	assert_line --index -1 "31 packets · 3 requests · client connections 1 · backend connections 2 opened, 1 reused · 0 retransmissions · 0 out of order"
}

@test "--events adds the proxy's decision to the step-3 line" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --events "$FX/l7lab-keepalive.events" --color never
	assert_success
	assert_line --regexp '^ +3  proxy decides +\+[0-9.]+ ms +→ b1 \(roundrobin, pool default\): next in turn'
	refute_output --partial inferred
}

@test "--summary prints a row per request with the time of each step" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --summary
	assert_success
	assert_line --index 0 --regexp '^req +method +path +server +conn +status +2 request +3 decide +4 connect +5-6 backend +7 return +total'
	assert_line --index 1 --regexp '^1 +GET +/ +b1 +new +200 +[0-9.]+ ms +[0-9.]+ ms +[0-9.]+ ms +[0-9.]+ ms +[0-9.]+ ms +[0-9.]+ ms +forwarded$'
	assert_line --index 3 --regexp '^3 +GET +/headers/2 +b1 +reused +200 .* - +[0-9.]+ ms '
}

@test "--mermaid draws the seven steps as a sequence diagram" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --mermaid
	assert_success
	assert_line --index 0 sequenceDiagram
	assert_line --regexp '^  participant C[0-9]+ as client$'
	assert_line "  participant P as proxy"
	assert_line "  participant B1 as b1"
	assert_line --regexp '^  C[0-9]+->>P: 1 TCP handshake'
	assert_line --regexp '^  C[0-9]+->>P: 2 GET /$'
	assert_line --regexp '^  Note over P: 3 → b1$'
	assert_line "  P->>B1: 4 TCP handshake (SYN, SYN-ACK, ACK)"
	assert_line --regexp '^  P->>B1: 5 GET / \+X-Forwarded-For'
	assert_line "  B1-->>P: 6 200 OK (14 B)"
	assert_line --regexp '^  P-->>C[0-9]+: 7 200 OK \(14 B\)$'
}

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

@test "--step pauses after each step until Enter" {
	run bash -c "printf '\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n' | '$L7_BIN/tracer' -r '$FX/nginx-one.pcap' ${ARGS[*]} --step --color never 2>'$BATS_TEST_TMPDIR/prompts'"
	assert_success
	run cat "$BATS_TEST_TMPDIR/prompts"
	assert_output --partial "-- step 1 done; Enter for step 2 --"
	assert_output --partial "-- step 6 done; Enter for step 7 --"
}

@test "--step runs to the end when its input closes" {
	run bash -c "'$L7_BIN/tracer' -r '$FX/nginx-one.pcap' ${ARGS[*]} --step --color never </dev/null"
	assert_success
	assert_line --index -1 --partial "17 packets"
}

@test "-c stops after COUNT packets" {
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/nginx-keepalive.pcap" "${ARGS[@]}" --json -c 5
	assert_success
	assert_equal "$(wc -l <<<"$output")" 5
	assert_equal "$stderr" "5 packets · 1 request · client connections 1 · backend connections 0 opened, 0 reused · 0 retransmissions · 0 out of order"
}

@test "a retransmitted segment is marked and keeps its step and request" {
	python3 "$FX/relink.py" dup "$FX/nginx-keepalive.pcap" "$BATS_TEST_TMPDIR/dup.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/dup.pcap" "${ARGS[@]}" --json
	assert_success
	run jq -c 'select(.retransmission) | [.frame, .step, .request, .summary]' <<<"$output"
	assert_output '[5,2,1,"retransmitted"]'
	[[ "$stderr" == *"· 1 retransmissions ·"* ]]
}

@test "an out-of-order segment is marked and the request is still parsed" {
	python3 "$FX/relink.py" split "$FX/nginx-keepalive.pcap" "$BATS_TEST_TMPDIR/split.pcap"
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
	python3 "$FX/relink.py" drop "$FX/l7lab-keepalive.pcap" "$BATS_TEST_TMPDIR/drop.pcap"
	run --separate-stderr "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/drop.pcap" "${ARGS[@]}" --json
	assert_success
	# b1's first response is gone; its second (request 3's) is parsed again
	run jq -c 'select(.src == "b1" and .len > 0) | [.step, .request, .summary]' <<<"$output"
	assert_output '[6,3,"HTTP/1.1 200 OK (16 B)"]'
}
