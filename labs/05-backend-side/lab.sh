# labs/05-backend-side/lab.sh - lab 05 for bin/lab: its pieces and its checks.
LAB_TITLE="The backend side: edited headers, reused connections, the keep-alive race"
LAB_STEPS="3, 4, 5"

lab_start() {
	start_backends
	start_proxy_lab $(three_fixed)
}

lab_check() {
	backends
	proxy $(three) --timeout-pool 60s
	part "1. What the backend sees"
	local echo
	echo=$(get /echo -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Request-ID: my-trace-42' \
		-H 'Connection: keep-alive, X-Secret' -H 'X-Secret: hunter2' -H 'Keep-Alive: timeout=5' -H 'TE: trailers' -H 'Upgrade: websocket')
	expect "hop-by-hop headers are gone, the proxy's own are added" "$(jq -r '[.headers[][0]] | join(" ")' <<<"$echo")" \
		"Host User-Agent Accept X-Request-ID X-Forwarded-For X-Forwarded-Proto X-Forwarded-Host Forwarded Via"
	expect "X-Forwarded-For is extended, not replaced" \
		"$(jq -r '.headers[] | select(.[0] == "X-Forwarded-For") | .[1]' <<<"$echo")" "203.0.113.7, 127.0.0.1"
	expect "the backend's peer is the proxy's source address" "$(jq -r '.peer | sub(":[0-9]+$"; "")' <<<"$echo")" "$SOURCE_IP"

	part "2. The proxy's own connections"
	local conns= i
	for i in 1 2 3 4 5 6; do conns+="$(get / -D - -o /dev/null | tr -d '\r' | awk -F': ' '$1 == "X-Conn" { print $2 }') "; done
	expect "six client connections, and each backend answers on its connection 1 every time" "${conns% }" "1 1 1 1 1 1" \
		"the proxy keeps idle backend connections for --timeout-pool (60 s here)"
	lg -c 8 -n 3000 --no-keepalive "http://$P/"
	local c; c=$(stats | jq '[.[].connections] | add')
	expect_true "3,000 client connections became a few backend connections" "$(cmp "$c" '<=' 30)" "$c" "at most 30"
	proxy $(three) --server-keepalive 0
	lg -c 8 -n 300 "http://$P/"
	local before=$c
	c=$(stats | jq '[.[].connections] | add')
	expect "with --server-keepalive 0, one backend connection per request" "$((c - before - 3))" 300

	part "3. The keep-alive race"
	restart_backend b1 --idle-timeout 300ms
	proxy --backend "b1=$B1"
	lg -c 1 -r 4 -d 3s "http://$P/"
	expect "GETs meeting a connection the backend closed are retried: no client sees an error" \
		"$(lgf '"\(.errors_total) \(.status["200"])"')" "0 12"
	echo hello >"$(l7_dir)/body.txt"
	proxy --backend "b1=$B1" --timeout-pool 100ms
	# A POST every 250 ms at least (loadgen's open loop catches up after a
	# stall with requests back to back, which may rightly reuse a connection).
	local codes= i
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		codes+=$(get /echo --data-binary @"$(l7_dir)/body.txt" -o /dev/null -w ' %{http_code}')
		sleep 0.25
	done
	expect "a pool timeout below the backend's: POSTs never meet a closed connection" "$(grep -o ' 200' <<<"$codes" | wc -l)" 12
	expect "and every request opened a new connection" "$(events 'select(.event == "connect") | .reused' | sort -u)" false
}
