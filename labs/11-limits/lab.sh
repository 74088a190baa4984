# labs/11-limits/lab.sh - lab 11 for bin/lab: its pieces and its checks.
LAB_TITLE="Per-client limits: connections and requests per second"
LAB_STEPS="1, 2"

# The four clients of part 1, each its own loopback address (loadgen
# --source takes them in turn), and the one of parts 2 and 3.
lab_clients() { echo "$LAB_NET.21,$LAB_NET.22,$LAB_NET.23,$LAB_NET.24"; }

lab_start() {
	start_backends
	start_proxy_lab $(three_fixed) --max-conns-per-ip 5
}

# refused_by GROUP: the proxy's limit events for that client group.
refused_by() { events "select(.event == \"limit\" and .group == \"$1\") | .reason" | sort -u | paste -sd' '; }

# most_open: the most client connections the proxy had open at once.
most_open() {
	events 'select(.event == "accept" or .event == "close") | if .event == "accept" then 1 else -1 end' |
		awk '{ n += $1; if (n > m) m = n } END { print m + 0 }'
}

lab_check() {
	local clients; clients=$(lab_clients)
	backends
	part "1. Connections at once per client address (step 1)"
	proxy $(three) --max-conns-per-ip 5
	lg -c 16 -d 1s --source "$clients" "http://$P/"
	expect "16 connections from 4 addresses (4 each) under --max-conns-per-ip 5: no errors" \
		"$(lgf .errors_total) $(lgf .connections_opened)" "0 16"
	proxy $(three) --max-conns-per-ip 5
	lg -c 24 -d 1s --source "$clients" "http://$P/"
	expect "24 connections (6 each): each address's sixth is closed at once (loadgen: reset or closed)" \
		"$(lgf '[.errors_total > 0, .errors.reset + .errors.closed == .errors_total] | join(" ")')" "true true"
	expect "every address is still served by its five connections" \
		"$(lgf '[.by_source[] | .requests > 0] | unique | join(" ")')" true
	expect "the proxy told each refusal as a step-1 limit event, with the address's /32 group" \
		"$(events 'select(.event == "limit") | [.step, .reason, .group] | join(" ")' | sort -u | paste -sd,)" \
		"1 max-conns-per-ip $LAB_NET.21/32,1 max-conns-per-ip $LAB_NET.22/32,1 max-conns-per-ip $LAB_NET.23/32,1 max-conns-per-ip $LAB_NET.24/32"
	expect "the proxy never had more than 20 client connections open at once (accept and close events)" \
		"$(most_open)" 20

	part "2. One client is its /24: --ip-prefix4 24"
	proxy $(three) --max-conns-per-ip 5 --ip-prefix4 24
	lg -c 20 -d 1s --source "$clients" "http://$P/"
	expect "the four addresses never had more than 5 connections open at once (accept and close events)" \
		"$(most_open)" 5
	expect "and the refusals name the group" "$(refused_by "$LAB_NET.0/24")" max-conns-per-ip

	part "3. Requests a second: 429 with Retry-After (step 2)"
	proxy $(three) --req-rate-per-ip 1/s:5
	# Seven requests from one curl: the README's seven curls, without the
	# time seven processes take to start on a loaded machine, in which the
	# bucket may refill a token (one a second).
	local more=() i heads head
	for i in 1 2 3 4 5 6; do more+=("http://$P/" -o /dev/null); done
	heads=$(get / --interface "$OTHER_IP" -D - -o /dev/null "${more[@]}" | tr -d '\r')
	expect "a burst of 5, then 429" "$(awk '/^HTTP\// { printf "%s ", $2 }' <<<"$heads")" \
		"200 200 200 200 200 429 429 "
	head=$(awk '/^HTTP\// { h = "" } { h = h $0 "\n" } END { printf "%s", h }' <<<"$heads")
	expect "the 429 says when to come back" \
		"$(awk -F': ' 'NR == 1 || $1 == "Retry-After" { print }' <<<"$head" | paste -sd'|')" \
		"HTTP/1.1 429 Too Many Requests|Retry-After: 1"
	sleep 1   # what the Retry-After asks
	expect "after waiting that long, the client is served again" \
		"$(get / --interface "$OTHER_IP" -o /dev/null -w '%{http_code}')" 200
	expect "another address has its own budget" "$(get / --interface "$DENY_IP" -o /dev/null -w '%{http_code}')" 200
	lg -c 4 -r 40 -d 2s --source "$clients" "http://$P/"
	expect_true "40 requests a second from 4 addresses for 2 s: each address gets its burst of 5 and 1 a second" \
		"$(lgf '[.by_source[] | .status["200"] | . >= 6 and . <= 8] | if all then 1 else 0 end')" \
		"$(lgf '[.by_source[] | .status["200"]] | join(" ")')" "6 to 8 answered 200 from each address" \
		"the rest got 429"

	part "4. The slow POST: --min-body-rate"
	proxy $(three) --min-body-rate 1k/s:1s
	head -c 100000 /dev/zero | tr '\0' x >"$(l7_dir)/body"
	l7_spawn slow $(onp client) "$L7_BIN/loadgen" --json -c 1 -r 1 -d 3s --slow 5:100 -m POST \
		--body "$(l7_dir)/body" --source "$OTHER_IP" "http://$P/echo"
	lg -c 2 -d 2s --source "$DENY_IP" "http://$P/"
	expect "a normal client beside 5 slow POSTs at 100 B/s: every request answered 200" \
		"$(lgf '.errors_total + ([.status | to_entries[] | select(.key != "200") | .value] | add // 0)')" 0
	l7_wait_lines "$(l7_dir)/slow.out" '"slow"' 1 "" 10 || true
	expect "each slow POST got 408 once its body fell under 1 KiB over a second" \
		"$(jq -r '[.slow.answered_status | keys[]] | join(" ")' "$(l7_dir)/slow.out" 2>/dev/null)" 408
	expect "the proxy told them as step-2 limit events" \
		"$(events 'select(.event == "limit") | [.step, .reason] | join(" ")' | sort -u)" "2 min-body-rate"
}
