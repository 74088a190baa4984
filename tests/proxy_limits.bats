#!/usr/bin/env bats
# proxy: per-client limits (issue 12, steps 1 and 2).  Connections at once
# and new connections a second per client address group (closed at
# accept), requests a second (429 with Retry-After), the group's prefix
# (/32 and /64 by default), a minimum request body rate (408), and every
# refusal as a "limit" event and in the admin figures.  Each client gets
# its own loopback address (curl --interface, nc -s).  Rates are tested
# with bursts and the Retry-After the proxy gives, never by sleeping.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1
	export B1=$(addr_of mock b1)
	export DEAD=$(dead_addr 127.0.0.12)
}

teardown_file() { stop_all_file; }

teardown() {
	local pid
	[ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2>/dev/null
	if [ -f "$BATS_TEST_TMPDIR/spawned" ]; then
		while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$BATS_TEST_TMPDIR/spawned"
	fi
	stop_all
}

# limited FLAGS...: a proxy with those flags, its events in $EV; sets P.
limited() {
	EV=$BATS_TEST_TMPDIR/events.jsonl
	start_bg p "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --events "$EV" "$@"
	P=$(addr_of p)
}

# ev JQ: the proxy's events through a jq filter.
ev() { jq -r -c "$1" "$EV"; }

# accepted IP: how many connections from IP the proxy has accepted.
accepted() { ev "select(.event == \"accept\" and (.client | startswith(\"$1:\")))" | wc -l; }
closed() { ev "select(.event == \"close\" and (.client | startswith(\"$1:\")))" | wc -l; }
# more COUNTER IP N: COUNTER (accepted, closed) IP is above N.
more() { [ "$("$1" "$2")" -gt "$3" ]; }

# code FROM [PATH] [CURL ARGS]: the status of GET PATH from address FROM;
# 000 when the proxy closed the connection without an answer.
code() {
	local from=$1 path=${2:-/}
	shift 2 || shift
	curl -s --max-time 10 --interface "$from" -o /dev/null -w '%{http_code}' "$@" "http://$P$path" || true
}

# hold FROM [BYTES]: a connection from FROM that has sent BYTES (printf
# format; default: half a request head) and keeps its side open (nc,
# stopped in teardown); returns once the proxy has accepted it.  Its pid
# is in HELD.
hold() {
	local n; n=$(accepted "$1")
	local fifo=$BATS_TEST_TMPDIR/hold.$RANDOM$RANDOM
	mkfifo "$fifo"
	nc -s "$1" "${P%:*}" "${P##*:}" <"$fifo" >/dev/null 2>&1 3>&- &
	HELD=$!
	echo "$HELD" >>"$BATS_TEST_TMPDIR/spawned"
	exec {w}>"$fifo"
	printf "${2-GET / HTTP/1.1\r\nHost: x\r\n}" >&"$w"
	wait_until more accepted "$1" "$n"
}

# queued FROM CMD...: CMD (nc -v or curl -v) in the background, returned
# once it says it is connected (in the proxy's queue, if it is stopped);
# its pid is in QUEUED, its output in queued.out.
queued() {
	local err=$BATS_TEST_TMPDIR/queued.err.$RANDOM$RANDOM
	shift
	"$@" >"$BATS_TEST_TMPDIR/queued.out" 2>"$err" </dev/null 3>&- &
	QUEUED=$!
	echo "$QUEUED" >>"$BATS_TEST_TMPDIR/spawned"
	wait_until grep -q -E 'succeeded|Connected to' "$err"
}

# A request answered, on a connection kept alive (--timeout-idle: 60 s).
KEPT='GET / HTTP/1.1\r\nHost: x\r\n\r\n'

# release PID FROM: end a held connection and wait until the proxy has closed it.
release() {
	local n; n=$(closed "$2")
	kill "$1"
	wait_until more closed "$2" "$n"
}

# closed_by_proxy FROM BYTES: hold a connection that sends BYTES, and wait
# (10 s) until the proxy closes it.
closed_by_proxy() {
	local n; n=$(closed "$1")
	hold "$1" "$2"
	wait_for 10 more closed "$1" "$n"
}

@test "--max-conns-per-ip closes an address's connections beyond N at once, and serves other addresses" {
	limited --max-conns-per-ip 2
	hold 127.0.0.5
	hold 127.0.0.5
	run code 127.0.0.5
	assert_output 000
	run code 127.0.0.6
	assert_output 200
	run ev 'select(.event == "limit") | [.step, .reason, .group, .id] | join(" ")'
	assert_output '1 max-conns-per-ip 127.0.0.5/32 '
	assert_equal "$(accepted 127.0.0.5)" 2
}

@test "a connection that ends gives its address's place back" {
	limited --max-conns-per-ip 1
	hold 127.0.0.5
	run code 127.0.0.5
	assert_output 000
	release "$HELD" 127.0.0.5
	run code 127.0.0.5
	assert_output 200
}

@test "every way a connection ends gives its place back exactly once" {
	limited --max-conns-per-ip 2 --timeout-header 300ms --timeout-idle 1h --req-rate-per-ip 4/h:4 \
		--pool "dead=$DEAD" --route path:/dead=dead --retries 0
	local ip=127.0.0.5
	hold "$ip" "$KEPT"                                          # one place taken all along (idle: 1h)
	assert_equal "$(code "$ip" / -H 'Connection: close')" 200   # the proxy closes after the response
	assert_equal "$(code "$ip" /status/404)" 404                 # the client closes, kept alive
	assert_equal "$(code "$ip" /dead)" 502                       # the server failed
	closed_by_proxy "$ip" 'BAD\r\n\r\n'                        # 400
	closed_by_proxy "$ip" 'GET / HTTP/1.1\r\n'                   # --timeout-header: 408
	assert_equal "$(code "$ip")" 429                             # --req-rate-per-ip
	local n; n=$(closed "$ip")                                   # (or by --timeout-header, if slow)
	hold "$ip" ''                                                # closed before a byte
	kill "$HELD"
	wait_until more closed "$ip" "$n"
	run ev 'select(.event == "error") | .status'
	assert_output $'502\n400\n408\n429'
	# The second place is free again and there is no third.  Both connect
	# while the proxy is stopped, so it accepts them in one go: a slow
	# machine cannot let --timeout-header (and the 408's linger) end the
	# second before the third comes and find the place free.
	n=$(accepted "$ip")
	STOPPED=$(pid_of p)
	kill -STOP "$STOPPED"
	queued "$ip" nc -v -s "$ip" "${P%:*}" "${P##*:}"               # the second
	queued "$ip" curl -sv --max-time 10 --interface "$ip" -o /dev/null -w '%{http_code}' "http://$P/"
	kill -CONT "$STOPPED"
	wait "$QUEUED" || true                                       # curl: the connection reset
	assert_equal "$(cat "$BATS_TEST_TMPDIR/queued.out")" 000       # the third: closed at once
	assert_equal "$(accepted "$ip")" $((n + 1))                  # the second: let in
	assert_equal "$(ev 'select(.event == "limit" and .reason == "max-conns-per-ip")' | wc -l)" 1
}

@test "--conn-rate-per-ip refuses connections beyond its burst and says when to come back" {
	limited --conn-rate-per-ip 3/h:3
	local codes=() i
	for i in 1 2 3 4; do codes+=("$(code 127.0.0.5)"); done
	assert_equal "${codes[*]}" '200 200 200 000'
	run code 127.0.0.6
	assert_output 200
	run ev 'select(.event == "limit") | [.step, .reason, .group, .detail] | join(" ")'
	assert_output '1 conn-rate-per-ip 127.0.0.5/32 connecting faster than 3/h:3'
	local wait; wait=$(ev 'select(.event == "limit") | .retry_after')
	[ "$wait" -gt 1100 ] && [ "$wait" -le 1200 ]   # a connection every 1200 s
}

@test "--req-rate-per-ip answers 429 with Retry-After beyond its burst" {
	limited --req-rate-per-ip 2/h:2
	assert_equal "$(code 127.0.0.5)$(code 127.0.0.5)" 200200
	run curl -s -i --interface 127.0.0.5 "http://$P/"
	assert_line --partial 'HTTP/1.1 429 Too Many Requests'
	assert_line --partial 'Connection: close'
	local wait; wait=$(tr -d '\r' <<<"$output" | awk -F': ' '$1 == "Retry-After" { print $2 }')
	[ "$wait" -gt 1700 ] && [ "$wait" -le 1800 ]   # a request every 1800 s
	run code 127.0.0.6
	assert_output 200
	run ev 'select(.event == "limit") | [.step, .reason, .group, .retry_after == '"$wait"'] | join(" ")'
	assert_output '2 req-rate-per-ip 127.0.0.5/32 true'
	run grep ' 429 ' "$(err_of p)"
	assert_output --partial "err=\"req-rate-per-ip: 127.0.0.5/32 over 2/h:2, retry after $wait s\""
}

@test "a client that waits the Retry-After it was given is served again" {
	limited --req-rate-per-ip 1/s:1
	# both requests from one curl, so a loaded machine cannot start the
	# second a second later, when the bucket has its token back
	local heads head wait
	heads=$(curl -s -D - -o /dev/null -o /dev/null --interface 127.0.0.5 "http://$P/" "http://$P/" | tr -d '\r')
	assert_equal "${heads%%$'\n'*}" 'HTTP/1.1 200 OK'
	head=${heads#*$'\n\n'}   # the second answer's head
	assert_equal "${head%%$'\n'*}" 'HTTP/1.1 429 Too Many Requests'
	wait=$(awk -F': ' '$1 == "Retry-After" { print $2 }' <<<"$head")
	assert_equal "$wait" 1
	sleep "$wait"   # what a polite client does
	run code 127.0.0.5
	assert_output 200
}

@test "requests on one kept-alive connection count toward --req-rate-per-ip, and the 429 closes it" {
	limited --req-rate-per-ip 2/h:2
	run curl -s --interface 127.0.0.5 -o /dev/null -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
		"http://$P/" "http://$P/" "http://$P/"
	assert_output $'200 1\n200 0\n429 0'
	run code 127.0.0.5
	assert_output 429
}

@test "--ip-prefix4 24 makes a /24 one client" {
	limited --max-conns-per-ip 1 --ip-prefix4 24
	hold 127.0.0.5
	run code 127.0.0.6
	assert_output 000
	run code 127.0.1.6
	assert_output 200
	run ev 'select(.event == "limit") | .group'
	assert_output 127.0.0.0/24
}

@test "over IPv6 on ::1 the limits hold as over IPv4" {
	have_ipv6_loopback || skip "no ::1 on this machine"
	EV=$BATS_TEST_TMPDIR/events.jsonl
	start_bg p "$L7_BIN/proxy" --listen '[::1]:0' --backend "b1=$B1" --events "$EV" --max-conns-per-ip 1 \
		--req-rate-per-ip 1/h:1
	P=$(addr_of p)
	assert_equal "$(curl -s -o /dev/null -w '%{http_code}' "http://$P/")" 200
	run curl -s -o /dev/null -w '%{http_code}' "http://$P/"
	assert_output 429
	run ev 'select(.event == "limit") | .group'
	assert_output ::/64
}

@test "::1 and 127.0.0.1 are two clients, each with its own budget" {
	have_ipv6_loopback || skip "no ::1 on this machine"
	EV=$BATS_TEST_TMPDIR/events.jsonl
	start_bg p "$L7_BIN/proxy" --listen 127.0.0.2:0 --listen '[::1]:0' --backend "b1=$B1" --events "$EV" \
		--max-conns-per-ip 1
	P=$(awk '$1 == "listening" { print $2; exit }' "$(out_of p)")
	local p6; p6=$(awk '$1 == "listening" && $2 ~ /^\[/ { print $2 }' "$(out_of p)")
	hold 127.0.0.1 "$KEPT"
	run curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://$p6/"
	assert_output 200
	assert_equal "$(code 127.0.0.1)" 000
	run ev 'select(.event == "limit") | .group'
	assert_output 127.0.0.1/32
}

@test "an IPv6 client's /64 is one client, whatever address in it it uses (root: a namespace of its own)" {
	[ "$(id -u)" = 0 ] || skip "adding addresses in a network namespace needs root"
	# unshare's namespace has no name: nothing outside it sees it, and it goes
	# with its last process.  Three clients: two in one /64, one in another.
	cat >"$BATS_TEST_TMPDIR/in-ns.sh" <<-'SCRIPT'
	set -u
	ip link set lo up
	for a in 2001:db8:0:1::5 2001:db8:0:1::6 2001:db8:0:2::5; do ip -6 addr add "$a/128" dev lo nodad; done
	"$L7_BIN/mockserver" --listen '[::1]:0' --name b1 >"$D/m.out" 2>&1 &
	m=$!
	proxy=
	trap 'kill $proxy $m $held 2>/dev/null; wait' EXIT
	for i in $(seq 500); do grep -qs '^listening' "$D/m.out" && break; sleep 0.01; done
	"$L7_BIN/proxy" --listen '[::1]:0' --backend "$(awk '{ print $3 }' "$D/m.out")" --max-conns-per-ip 1 \
		--events "$D/ev.jsonl" >"$D/p.out" 2>"$D/p.err" &
	proxy=$!
	for i in $(seq 500); do grep -qs '^listening' "$D/p.out" && break; sleep 0.01; done
	port=$(awk '{ print $2 }' "$D/p.out"); port=${port##*:}
	mkfifo "$D/held"
	nc -s 2001:db8:0:1::5 ::1 "$port" <"$D/held" >/dev/null &
	held=$!
	exec 5>"$D/held"
	printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&5
	for i in $(seq 500); do grep -q '"accept"' "$D/ev.jsonl" 2>/dev/null && break; sleep 0.01; done
	for a in 2001:db8:0:1::6 2001:db8:0:2::5; do
		echo "$a $(curl -s --max-time 10 --interface "$a" -o /dev/null -w '%{http_code}' "http://[::1]:$port/")"
	done
	jq -r 'select(.event == "limit") | .group' "$D/ev.jsonl"
	SCRIPT
	run env D="$BATS_TEST_TMPDIR" unshare --net bash "$BATS_TEST_TMPDIR/in-ns.sh"
	assert_output $'2001:db8:0:1::6 000\n2001:db8:0:2::5 200\n2001:db8:0:1::/64'
}

@test "--min-body-rate answers 408 to a body that trickles in, and the server is not blamed" {
	limited --min-body-rate 1k/s:1s --max-fails 1
	# 100 bytes a second, in pieces 100 ms apart: never silent, always too slow.
	run bash -c '{ printf "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
		for i in $(seq 100); do printf 0123456789; sleep 0.1; done; } |
		timeout 20 nc -q 20 -s 127.0.0.5 "$0" "$1" | head -n 1' "${P%:*}" "${P##*:}"
	assert_output $'HTTP/1.1 408 Request Timeout\r'
	run ev 'select(.event == "limit") | [.step, .reason] | join(" ")'
	assert_output '2 min-body-rate'
	run grep ' 408 ' "$(err_of p)"
	assert_output --regexp 'err="min-body-rate: [0-9]+ body bytes in 1000 ms, fewer than 1024 B/s"'
	refute grep -q 'server-down' "$EV"
	run code 127.0.0.5   # b1 was not marked down (--max-fails 1)
	assert_output 200
}

@test "a slow POST under --min-body-rate holds no one up: another client is served while it trickles" {
	limited --min-body-rate 1k/s:3s
	# 100 bytes a second after its head, until the proxy answers.
	bash -c '{ printf "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
		for i in $(seq 100); do printf 0123456789; sleep 0.1; done; } |
		timeout 20 nc -q 20 -s 127.0.0.5 "$0" "$1" | head -n 1 >"$2"' "${P%:*}" "${P##*:}" "$BATS_TEST_TMPDIR/slow" &
	echo $! >>"$BATS_TEST_TMPDIR/spawned"
	wait_until grep -q '"request-headers"' "$EV"
	run curl -s --interface 127.0.0.6 -o /dev/null -w '%{http_code}' --data-binary 'a whole body' "http://$P/echo"
	assert_output 200
	wait_for 10 grep -q 408 "$BATS_TEST_TMPDIR/slow"
	# The other client was answered while the slow one was still trickling.
	run ev 'select(.event == "response-complete" or .event == "limit") | [.event, .client[0:9]] | join(" ")'
	assert_output $'response-complete 127.0.0.6\nlimit 127.0.0.5'
}

@test "a body sent at full speed is not held up by --min-body-rate" {
	limited --min-body-rate 1k/s:1s
	head -c 1000000 /dev/zero >"$BATS_TEST_TMPDIR/body"
	run curl -s --interface 127.0.0.5 --data-binary "@$BATS_TEST_TMPDIR/body" -o /dev/null \
		-w '%{http_code} %{size_upload}' "http://$P/echo"
	assert_output '200 1000000'
}

@test "each refusal is a limit event and is counted in /stats and /metrics" {
	limited --max-conns-per-ip 1 --req-rate-per-ip 1/h:1 --deny 127.0.0.9 --timeout-header 300ms \
		--admin 127.0.0.2:0
	local admin; admin=$(addr_of p admin)
	assert_equal "$(code 127.0.0.5)" 200
	assert_equal "$(code 127.0.0.5)" 429
	hold 127.0.0.6 "$KEPT"
	assert_equal "$(code 127.0.0.6)" 000
	assert_equal "$(code 127.0.0.9)" 000
	closed_by_proxy 127.0.0.7 'GET / HTTP/1.1\r\n'
	run ev 'select(.event == "limit" or .event == "deny") | [.step, .event, .reason] | join(" ")'
	assert_output $'2 limit req-rate-per-ip\n1 limit max-conns-per-ip\n1 deny deny\n2 limit timeout-header'
	run curl -s "http://$admin/stats"
	assert_equal "$(jq -c '.proxy.refused | with_entries(select(.value > 0))' <<<"$output")" \
		'{"deny":1,"max-conns-per-ip":1,"req-rate-per-ip":1,"timeout-header":1}'
	assert_equal "$(jq '.proxy.limit_groups' <<<"$output")" 3   # .5, .6 and .7: .9 was denied first
	run curl -s "http://$admin/metrics"
	assert_line 'l7lab_proxy_refused_total{step="1",reason="max-conns-per-ip"} 1'
	assert_line 'l7lab_proxy_refused_total{step="2",reason="req-rate-per-ip"} 1'
	assert_line 'l7lab_proxy_refused_total{step="2",reason="min-body-rate"} 0'
	assert_line 'l7lab_proxy_limit_groups 3'
}

@test "connection-rate and body-rate refusals are counted in /stats and /metrics too" {
	limited --conn-rate-per-ip 1/h:1 --min-body-rate 1k/s:300ms --admin 127.0.0.2:0
	local admin; admin=$(addr_of p admin)
	assert_equal "$(code 127.0.0.5)$(code 127.0.0.5)" 200000
	closed_by_proxy 127.0.0.6 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab'
	run ev 'select(.event == "limit") | [.step, .reason] | join(" ")'
	assert_output $'1 conn-rate-per-ip\n2 min-body-rate'
	run curl -s "http://$admin/stats"
	assert_equal "$(jq -c '.proxy.refused | with_entries(select(.value > 0))' <<<"$output")" \
		'{"conn-rate-per-ip":1,"min-body-rate":1}'
	run curl -s "http://$admin/metrics"
	assert_line 'l7lab_proxy_refused_total{step="1",reason="conn-rate-per-ip"} 1'
	assert_line 'l7lab_proxy_refused_total{step="2",reason="min-body-rate"} 1'
}

@test "the dashboard's page shows each limit with its setting and its refusals" {
	limited --max-conns-per-ip 1 --conn-rate-per-ip 10/s:20 --admin 127.0.0.2:0
	hold 127.0.0.5
	assert_equal "$(code 127.0.0.5)" 000
	run curl -s "http://$(addr_of p admin)/"
	assert_output --partial 'refused <b id="refused">1</b>'
	assert_output --regexp '<tr class="refusal hit" id="refused-max-conns-per-ip"><td class="n">1</td><th scope="row">max-conns-per-ip</th><td class="n count">1</td><td class="setting">1 per /32 or /64</td>'
	assert_output --partial '<th scope="row">conn-rate-per-ip</th><td class="n count">0</td><td class="setting">10/s:20</td>'
	assert_output --partial '<th scope="row">min-body-rate</th><td class="n count">0</td><td class="setting">off</td>'
}

@test "SIGUSR1 prints the refusals by reason" {
	limited --max-conns-per-ip 1
	hold 127.0.0.5
	assert_equal "$(code 127.0.0.5)" 000
	kill -USR1 "$(pid_of p)"
	wait_until grep -q 'stats refused' "$(err_of p)"
	run grep 'stats refused' "$(err_of p)"
	assert_output --partial ' max-conns-per-ip=1 conn-rate-per-ip=0 '
}

@test "the limits are config-file directives, and --check prints them so that they read back" {
	printf '%s\n' 'listen 127.0.0.2:0' "backend $B1" 'max-conns-per-ip 20' 'conn-rate-per-ip 120/m' \
		'req-rate-per-ip 10/s:50' 'ip-prefix6 56' 'min-body-rate 500/s:20s' >"$BATS_TEST_TMPDIR/l.conf"
	run "$L7_BIN/proxy" --check -c "$BATS_TEST_TMPDIR/l.conf"
	assert_success
	assert_line 'max-conns-per-ip 20'
	assert_line 'conn-rate-per-ip 2/s:2'
	assert_line 'req-rate-per-ip 10/s:50'
	assert_line 'ip-prefix4 32'
	assert_line 'ip-prefix6 56'
	assert_line 'min-body-rate 500/s:20s'
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/printed.conf"
	run "$L7_BIN/proxy" --check -c "$BATS_TEST_TMPDIR/printed.conf"
	assert_success
	assert_equal "$output" "$(cat "$BATS_TEST_TMPDIR/printed.conf")"
}

@test "bad limit values exit 2 with one line naming the flag" {
	local bad
	for bad in '--max-conns-per-ip -1' '--conn-rate-per-ip 10' '--req-rate-per-ip 10/x' '--req-rate-per-ip 0/s' \
		'--ip-prefix4 33' '--ip-prefix6 129' '--min-body-rate 1k' '--min-body-rate 0/s' '--min-body-rate 1k/s:5' \
		'--min-body-rate 1k/s:10ms'; do
		run --separate-stderr "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B1" $bad
		assert_equal "$status" 2
		assert_equal "$(wc -l <<<"$stderr")" 2   # the message, then "Try --help"
		assert_regex "${stderr%%$'\n'*}" "^proxy: ${bad%% *}: "
	done
}
