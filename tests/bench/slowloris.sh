#!/usr/bin/env bash
# tests/bench/slowloris.sh - what slow clients cost a proxy (issue 12): the
# proxy's memory (RSS) and CPU, and a normal client's latency (p50, p99),
# while 1,000 slow clients hold connections to it, with and without the
# per-client limits; HAProxy and nginx under the same attack.
#
#   heads   1,000 slowloris clients: request heads at 1 byte a second
#   posts   1,000 slow POSTs: a 100 KB body at 200 bytes a second
#           (its head too: 1 s of head, then the body)
#
# The slow clients come from one address (127.0.0.50, loadgen --slow); the
# normal client from 127.0.0.1 (loadgen, open loop at 500 requests/s, so
# that latency is measured from each request's intended time).  "limits"
# is --max-conns-per-ip 20 and --min-body-rate 1k/s:2s for our proxy; for
# HAProxy a stick table refusing a 21st connection from an address
# (tcp-request connection reject; it has no body rate); for nginx
# limit_conn 20 per address (checked once a request's head is read, so it
# cannot refuse slow heads; no body rate either).  The three proxies have
# the same timeouts (header 10 s, client 30 s, server 30 s).  RSS counts
# every process of a proxy (nginx: master and worker).
#
# Each case runs SLOW_RUNS times (3), the proxies in turn, and the medians
# are kept; everything is on loopback, each run bounded (SLOW_SECONDS of
# measurement, 6 s by default), every process stopped by pid.  Prints
# result rows for tests/bench/run and the whole table on stderr.
# SLOW_ONLY="ours on" runs only the cases whose "proxy limits attack"
# holds that text; SLOW_CONNS sets the slow clients (1000).
. "$(dirname "$0")/common.sh"
bench_init
command -v haproxy >/dev/null || { echo "bench: haproxy is missing (bin/install-deps --bench)" >&2; exit 2; }
RUNS=${SLOW_RUNS:-3}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

SLOW=${SLOW_CONNS:-1000}
SECONDS_MEASURED=${SLOW_SECONDS:-6}
RATE=${SLOW_RATE:-500}
ATTACKER=127.0.0.50

bench_bg mock "${CLIENT_PIN[@]}" "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1 --idle-timeout 60s
wait_listening "$BENCH_TMP/mock.out" 1
backend=$(awk '$1 == "listening" { print $3 }' "$BENCH_TMP/mock.out")
head -c 100000 /dev/zero | tr '\0' x >"$BENCH_TMP/body"

# start_ours LIMITS(on|off): our proxy on a free port of 127.0.0.2; sets URL, PID.
start_ours() {
	local port limits=()
	port=$(free_port 127.0.0.2)
	[ "$1" = on ] && limits=(--max-conns-per-ip 20 --min-body-rate 1k/s:2s)
	bench_bg "ours-$1" "${SERVER_PIN[@]}" "$L7_BIN/proxy" --listen "127.0.0.2:$port" --source 127.0.0.2 --quiet \
		--backend "b1=$backend" --max-conns 20000 --server-keepalive 256 "${limits[@]}"
	PID=$BG_PID
	wait_listening "$BENCH_TMP/ours-$1.out" 1
	URL=http://127.0.0.2:$port/
}

# start_haproxy LIMITS(on|off): the same for HAProxy on 127.0.0.5, with our
# proxy's timeouts (header 10 s, client 30 s, server 30 s).
start_haproxy() {
	local port cfg=$BENCH_TMP/haproxy-$1.cfg limits=
	port=$(free_port 127.0.0.5)
	[ "$1" = on ] && limits="    stick-table type ip size 100k expire 60s store conn_cur
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc0_conn_cur gt 20 }"
	cat >"$cfg" <<-CONF
	global
	    nbthread 1
	    maxconn 9950
	defaults
	    mode http
	    option http-keep-alive
	    timeout connect 3s
	    timeout client 30s
	    timeout server 30s
	    timeout http-request 10s
	    timeout http-keep-alive 60s
	frontend fe
	    bind 127.0.0.5:$port
	$limits
	    default_backend be
	backend be
	    http-reuse always
	    server b1 $backend
	CONF
	bench_bg "haproxy-$1" "${SERVER_PIN[@]}" haproxy -db -f "$cfg"
	PID=$BG_PID
	wait_port 127.0.0.5 "$port"
	URL=http://127.0.0.5:$port/
}

# start_nginx LIMITS(on|off): the same for nginx (one worker) on 127.0.0.6.
start_nginx() {
	local port dir=$BENCH_TMP/nginx-$1 limits= zone= user=
	port=$(free_port 127.0.0.6)
	mkdir -p "$dir/logs"
	[ "$1" = on ] && zone='limit_conn_zone $binary_remote_addr zone=perip:10m;' && limits='limit_conn perip 20;'
	[ "$(id -u)" = 0 ] && user='user root;'   # its temp files are in our 0700 folder
	cat >"$dir/nginx.conf" <<-CONF
	$user
	worker_processes 1;
	worker_rlimit_nofile 20000;
	daemon off;
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log crit;
	events { worker_connections 10000; }
	http {
	$(nginx_http_files "$dir")
	    client_header_timeout 10s;
	    client_body_timeout 30s;
	    keepalive_timeout 60s;
	    keepalive_requests 1000000;
	    $zone
	    upstream be {
	        server $backend;
	        keepalive 256;
	    }
	    server {
	        listen 127.0.0.6:$port;
	        location / {
	            $limits
	            proxy_pass http://be;
	            proxy_http_version 1.1;
	            proxy_set_header Connection "";
	            proxy_read_timeout 30s;
	        }
	    }
	}
	CONF
	bench_bg "nginx-$1" "${SERVER_PIN[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
	PID=$BG_PID
	wait_port 127.0.0.6 "$port"
	URL=http://127.0.0.6:$port/
}

# kib KEY PID: KEY (VmRSS:, VmHWM:) of PID and its children, in KiB.
kib() {
	local p n=0
	for p in "$2" $(pgrep -P "$2" || true); do   # a child may be gone meanwhile
		n=$((n + $(awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	echo "$n"
}
# cpu PID: CPU ticks of PID and its children.
cpu() {
	local p n=0
	for p in "$1" $(pgrep -P "$1" || true); do n=$((n + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
	echo "$n"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# held URL: established connections from the attacker to the proxy at URL.
held() {
	local hp=${1#http://}
	hp=${hp%/}
	ss -Htn state established "( dport = :${hp##*:} )" src "$ATTACKER" | wc -l
}

# measure PROXY LIMITS ATTACK(none|heads|posts): one run; prints a line
# "proxy limits attack held rss_mib hwm_mib cpu_s p50_ms p99_ms errors".
measure() {
	local who=$1 limits=$2 attack=$3 slow=() before after
	"start_$who" "$limits"
	local pid=$PID url=$URL
	case $attack in
	heads) slow=(--slow "$SLOW:1") ;;
	posts) slow=(--slow "$SLOW:200" -m POST --body "$BENCH_TMP/body") ;;
	esac
	if [ "$attack" != none ]; then
		# The attacker's own normal load is one request a second: loadgen needs some.
		bench_bg "slow-$who-$limits-$attack" "${CLIENT_PIN[@]}" "$L7_BIN/loadgen" --source "$ATTACKER" -c 1 -r 1 \
			-d 120s --timeout 120s "${slow[@]}" "$url"
		local slowpid=$BG_PID
		# The slots open at once; wait until they are in (or 5 s, when refused).
		local t0=$SECONDS
		while [ "$(held "$url")" -lt "$SLOW" ] && [ $((SECONDS - t0)) -lt 5 ]; do
			sleep 0.1
		done
		sleep 1   # posts: the heads (1 s at 200 B/s) are in, the bodies trickle
	fi
	local n; n=$(held "$url")
	before=$(cpu "$pid")
	"${CLIENT_PIN[@]}" "$L7_BIN/loadgen" --json -c 8 -r "$RATE" -d "${SECONDS_MEASURED}s" "$url" >"$BENCH_TMP/lg.json" 2>/dev/null
	after=$(cpu "$pid")
	local rss hwm
	rss=$(kib VmRSS: "$pid")
	hwm=$(kib VmHWM: "$pid")
	if [ "$attack" != none ]; then
		kill "$slowpid" 2>/dev/null || true
		wait "$slowpid" 2>/dev/null || true
	fi
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	printf '%s %s %s %s %s %s %s %s %s %s\n' "$who" "$limits" "$attack" "$n" "$(mib "$rss")" "$(mib "$hwm")" \
		"$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')" \
		"$(jq '.latency_us.p50 / 1000' "$BENCH_TMP/lg.json")" "$(jq '.latency_us.p99 / 1000' "$BENCH_TMP/lg.json")" \
		"$(jq '.errors_total + ([.status | to_entries[] | select(.key != "200") | .value] | add // 0)' "$BENCH_TMP/lg.json")"
}

results=$BENCH_TMP/results
for ((run = 1; run <= RUNS; run++)); do
	for attack in none heads posts; do
		for limits in off on; do
			[ "$attack" = none ] && [ "$limits" = on ] && continue
			for who in ours haproxy nginx; do
				case "$who $limits $attack" in *${SLOW_ONLY:-}*) ;; *) continue ;; esac
				echo "bench: run $run/$RUNS: $who, limits $limits, $attack" >&2
				measure "$who" "$limits" "$attack" | tee -a "$results" >&2
			done
		done
	done
done

# The medians of each case's runs.
medians=$BENCH_TMP/medians
for attack in none heads posts; do
	for limits in off on; do
		for who in ours haproxy nginx; do
			awk -v w="$who" -v l="$limits" -v a="$attack" '$1 == w && $2 == l && $3 == a' "$results" >"$BENCH_TMP/case"
			[ -s "$BENCH_TMP/case" ] || continue
			line="$who $limits $attack"
			for c in 4 5 6 7 8 9 10; do
				line+=" $(median $(awk -v c=$c '{ print $c }' "$BENCH_TMP/case"))"
			done
			echo "$line" >>"$medians"
		done
	done
done

{
	echo
	echo "what $SLOW slow clients from one address cost (normal client: $RATE requests/s for ${SECONDS_MEASURED} s;" \
	     "medians of $RUNS runs)"
	{
		echo "proxy limits attack held RSS_MiB peak_MiB CPU_s p50_ms p99_ms bad_answers"
		cat "$medians"
	} | column -t
	echo
} >&2

# Rows: ours against HAProxy and nginx in each case.
fig() { awk -v w="$1" -v l="$2" -v a="$3" -v c="$4" '$1 == w && $2 == l && $3 == a { print $c }' "$medians"; }
for attack in none heads posts; do
	for limits in off on; do
		[ "$attack" = none ] && [ "$limits" = on ] && continue
		what="$attack, limits $limits"
		[ "$attack" = none ] && what="no slow clients"
		[ -n "$(fig ours "$limits" "$attack" 5)" ] || continue
		for peer in haproxy nginx; do
			[ -n "$(fig "$peer" "$limits" "$attack" 5)" ] || continue
			row proxy "$peer" "RSS_MiB $what" "$(fig ours "$limits" "$attack" 5)" "$(fig "$peer" "$limits" "$attack" 5)"
			row proxy "$peer" "p99_ms $what" "$(fig ours "$limits" "$attack" 9)" "$(fig "$peer" "$limits" "$attack" 9)"
		done
	done
done
