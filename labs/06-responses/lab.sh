# labs/06-responses/lab.sh - lab 06 for bin/lab: its pieces and its checks.
LAB_TITLE="The response: status, retry elsewhere (--retry-on), health, telemetry, leaks"
LAB_STEPS="6, 7"

lab_start() {
	piece b13 "$L7_BIN/mockserver" --listen "$B1_IP:$L7LAB_BACKEND_PORT" --name b1 --listen "$B3_IP:$L7LAB_BACKEND_PORT" --name b3
	piece b2 "$L7_BIN/mockserver" --listen "$B2_IP:$L7LAB_BACKEND_PORT" --name b2
	start_proxy_lab $(three_fixed)
}

lab_check() {
	backends
	proxy $(three)
	part "1. Whose error is it?"
	expect "a backend's 503 passes through, with its X-Backend" \
		"$(get /status/503 -D - -o /dev/null | tr -d '\r' | grep -E '^HTTP|^X-Backend' | paste -sd' ')" "HTTP/1.1 503 Service Unavailable X-Backend: b1"

	part "2. A backend goes unhealthy"
	kill -USR1 "$(l7_pid b2)"
	lg -c 3 -n 300 "http://$P/"
	expect "b2 answers 503 to its third of the requests, and the client sees them" \
		"$(lgf '"\(.status["503"] // 0) from a backend: \(.http_5xx.backend)"')" "100 from a backend: 100"
	proxy $(three) --retry-on 503
	lg -c 3 -n 300 "http://$P/"
	expect "with --retry-on 503 the proxy asks another server: no client sees a 503" "$(lgf '.status["200"]')" 300
	expect "and b2's 503s count as failures: b2 is marked down" "$(events 'select(.event == "server-down") | .server_name' | head -n 1)" b2
	kill -USR1 "$(l7_pid b2)"

	part "3. A backend dies"
	proxy $(three)
	lg -c 3 -n 150 "http://$P/"
	l7_stop b2
	lg -c 3 -n 300 "http://$P/"
	expect "after b2 dies, retries elsewhere hide it: no errors" "$(lgf '"\(.errors_total) \(.status["200"])"')" "0 300"
	expect "the proxy retried on another server and marked b2 down" \
		"$(events 'select(.event == "retry" or .event == "server-down") | .event' | sort -u | paste -sd' ')" "retry server-down"
	proxy $(three) --retries 0 --max-fails 0
	lg -c 3 -n 300 "http://$P/"
	expect "without retries and passive health, every third request is a 502 made by the proxy" \
		"$(lgf '"\(.status["502"] // 0) \(.http_5xx.proxy)"')" "100 100"

	part "4. Response-time telemetry"
	restart_backend b2
	restart_backend b3 --delay 20ms:5ms
	proxy $(three)
	lg -c 6 -d 2s "http://$P/"
	local b3ms b1ms
	b3ms=$(events "select(.event == \"response-headers\" and .server == \"$B3\") | .ms" | awk '{ s += $1; n++ } END { printf "%.1f", s / n }')
	b1ms=$(events "select(.event == \"response-headers\" and .server == \"$B1\") | .ms" | awk '{ s += $1; n++ } END { printf "%.1f", s / n }')
	expect_true "the proxy's step-6 times show b3 slow (20-30 ms) and b1 fast" "$(( $(cmp "$b3ms" ">=" 15) && $(cmp "$b1ms" "<" "$b3ms") ))" \
		"b3 $b3ms ms, b1 $b1ms ms" "b3 at least 15 ms, b1 below b3"

	part "5. What is in the response?"
	expect "the proxy forwards the fake card numbers untouched (no data-leak filter yet)" \
		"$(get /leak | grep -c '4111 1111 1111 1111')" 1
}
