# labs/02-request/lab.sh - lab 02 for bin/lab: its pieces and its checks.
LAB_TITLE="The request arrives: headers, then the body; limits; slowloris"
LAB_STEPS="2"

lab_start() {
	start_backends
	start_proxy_lab $(three_fixed)
}

lab_check() {
	backends
	proxy $(three)
	part "1. Headers, then the body"
	# The second half of the body is sent only once the proxy has forwarded
	# the head: steps 3, 4 and 5 happen before the body exists.
	local body
	body=$( (printf 'hello '; wait_event '.event == "forward"' || printf '[the proxy never forwarded the head] '; printf 'world') |
		on client curl -s --max-time 20 -T - -H 'Transfer-Encoding: chunked' "http://$P/echo" | jq -r .body)
	expect "the proxy decided, connected and forwarded the head before the body's second half was sent" "$body" "hello world"
	expect "its events, in order" "$(events 'select(.id != "") | .event' | head -n 5 | paste -sd' ')" \
		"request-headers decide connect forward request-sent"

	part "2. Limits: 431, 414, 413"
	proxy $(three) --max-header 1k --max-target 256 --max-body 100
	local long; long=$(printf '%2000s' | tr ' ' a)
	local codes
	codes=$(get / -o /dev/null -w '%{http_code}' -H "X-Big: $long"; echo
		get "/${long:0:300}" -o /dev/null -w '%{http_code}'; echo
		get /echo -o /dev/null -w '%{http_code}' -d "${long:0:200}"; echo
		get /echo -o /dev/null -w '%{http_code}' -d "${long:0:50}"; echo
		get /echo -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' -d "${long:0:200}"; echo)
	expect "a big header, a long target, a big body, a small one, a big chunked one" "$(echo $codes)" "431 414 413 200 413"
	expect "only the small body and the chunked one reached step 3 (a chunked body's size is known too late)" \
		"$(events 'select(.event == "decide") | .server_name' | wc -l)" 2

	part "3. Slowloris and the header timeout"
	proxy $(three) --timeout-header 1s
	# A head left open (no blank line), the connection held until the answer.
	expect "headers that never end get 408 after --timeout-header" \
		"$(on client timeout 5 bash -c 'exec 5<>"/dev/tcp/$0/$1" && printf "GET / HTTP/1.1\r\nHost: x\r\n" >&5 && head -n 1 <&5' \
			"${P%:*}" "${P##*:}" | tr -d '\r')" \
		"HTTP/1.1 408 Request Timeout"
	lg -c 2 -d 2s --slow 20:10 "http://$P/"
	expect "normal clients beside 20 slowloris connections: no errors" "$(lgf .errors_total)" 0
}
