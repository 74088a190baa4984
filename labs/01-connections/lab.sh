# labs/01-connections/lab.sh - lab 01 for bin/lab: its pieces and its checks.
LAB_TITLE="Two connections per request; keep-alive; allow/deny; idle clients"
LAB_STEPS="1, 4, 7"
LAB_ROOT=1
LAB_TOPOLOGY=1

lab_start() {
	start_backends
	start_proxy_lab $(three_fixed)
}

lab_check() {
	backends
	proxy $(three) --timeout-pool 60s --timeout-idle 2s
	part "1-2. One request, two connections; three requests on one client connection"
	two_curls() { get / >/dev/null; get / -o /dev/null -o /dev/null -o /dev/null "http://$P/" "http://$P/"; }
	capture_or_recorded 01-connections two_curls
	expect "request 1 crosses every step: its own handshake (1), the proxy's own handshake to b1 (4)" \
		"$(trace_steps 1)" "1 2 3 4 5 6 7"
	expect "request 2 comes on a new client connection, and the proxy opens a connection to b2" \
		"$(trace_steps 2)" "1 2 3 4 5 6 7"
	expect "request 4, on request 2's client connection, has no step 1 and no step 4: the proxy reused its connection to b1" \
		"$(trace_steps 4)" "2 3 5 6 7" "did 60 s pass between the curls? the proxy drops idle backend connections after --timeout-pool"

	part "3. What keep-alive saves"
	lg -c 8 -n 3000 --no-keepalive "http://$P/"
	local conns
	conns=$(stats | jq '[.[].connections] | add')
	expect "3,000 requests, each on a new client connection" "$(lgf .connections_opened) $(lgf .errors_total)" "3000 0"
	expect_true "the backends accepted few connections from the proxy (at most 8 per backend, 24 in all)" \
		"$(cmp "$conns" '<=' 30)" "$conns connections" "at most 30" "the proxy keeps its connections to the backends whatever the clients do"

	if [ -z "${TOPO:-}" ]; then
		part "4. Who may connect (step 1)"
		proxy $(three) --allow 127.0.0.0/8 --deny "$DENY_IP"
		expect "a client from $DENY_IP is refused after the handshake (curl: empty reply or reset)" \
			"$(get / --interface "$DENY_IP" -o /dev/null -w '%{http_code}')" 000
		expect "a client from $OTHER_IP is served" "$(get / --interface "$OTHER_IP")" "hello from b1"
		expect "the proxy wrote a deny event and no accept event for $DENY_IP" \
			"$(events "select(.client | startswith(\"$DENY_IP:\")) | .event" | sort -u | paste -sd' ')" deny
	fi

	part "5. Idle clients (step 7): the connection stays open until --timeout-idle"
	proxy $(three) --timeout-idle 2s
	on client timeout 10 bash -c 'exec 5<>"/dev/tcp/$0/$1" && printf "GET / HTTP/1.1\r\nHost: lab\r\n\r\n" >&5 && cat <&5' \
		"${P%:*}" "${P##*:}" >"$(l7_dir)/idle.out"
	expect "the request is answered on a connection that stays open" "$(grep -c 'hello from' "$(l7_dir)/idle.out")" 1
	local waited
	waited=$(events 'select(.event == "response-complete" or .event == "close") | .s' | paste -sd' ' | awk '{ printf "%d", ($2 - $1) * 1000 }')
	expect_true "the proxy closes the idle connection about 2 s after the response, not at once and not never" \
		"$(between "$waited" 1900 8000)" "closed $waited ms after the response" "between 2000 and 8000 ms" "see --timeout-idle"
	expect "its close event gives the reason" "$(events 'select(.event == "close") | .reason' | tail -n 1)" 'idle timeout'

	part "6. The labelled capture in tshark: filter by step comment"
	"$L7_BIN/tracer" -r "$L7LAB_TOP/labs/captures/01-connections.pcapng" --proxy 8080 --backends 9001 \
		-w "$(l7_dir)/labelled.pcapng" >/dev/null 2>&1
	local want got
	want=$("$L7_BIN/tracer" -r "$L7LAB_TOP/labs/captures/01-connections.pcapng" --proxy 8080 --backends 9001 --json 2>/dev/null | jq -s 'map(select(.step == 4)) | length')
	got=$(tshark -r "$(l7_dir)/labelled.pcapng" -Y 'frame.comment contains "step 4"' 2>/dev/null | wc -l)
	expect "tshark -Y 'frame.comment contains \"step 4\"' finds the proxy's handshakes with the backends" "$got" "$want"
}
