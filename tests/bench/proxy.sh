#!/usr/bin/env bash
# tests/bench/proxy.sh - our proxy against HAProxy and nginx, each in front of
# the same three mockserver backends, loaded by wrk in the same run:
#   requests/s and p99 at -c64 and at -c1000 (keep-alive both sides);
#   requests/s with --admin on and /metrics polled each second, against
#   the same proxy without --admin;
#   RSS while 10,000 idle keep-alive client connections are held;
#   system calls per proxied request (strace -c -f over ab -k -n N).
# Every proxy runs one thread/worker and keeps idle server connections.
# load_cpu0_busy_% says how busy CPU 0 (wrk and the backends) was: at 100%
# behind both proxies, requests/s is that CPU's ceiling, not a proxy's.
# With BENCH_PIN=1 (the default) the proxy under test has the last CPU to
# itself, and wrk and the backends share CPU 0: the same for all three, and
# the scheduler cannot reshuffle them mid-run (unpinned, p99 swings by
# 20% between runs with where the five processes happen to land).
. "$(dirname "$0")/common.sh"
bench_init
command -v haproxy >/dev/null || { echo "bench: haproxy is missing (bin/install-deps --bench)" >&2; exit 2; }
# Idle clients need fds: take the hard limit (20,000 on these machines).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- three backends ----------------------------------------------------
bench_bg mock "${CLIENT_PIN[@]}" "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1 \
	--listen 127.0.0.12:0 --name b2 --listen 127.0.0.13:0 --name b3 --idle-timeout 60s
wait_listening "$BENCH_TMP/mock.out" 3
mapfile -t backends < <(awk '$1 == "listening" { print $3 }' "$BENCH_TMP/mock.out")

# ---- our proxy ---------------------------------------------------------
ours_port=$(free_port 127.0.0.2)
bench_bg proxy "${SERVER_PIN[@]}" "$L7_BIN/proxy" --listen "127.0.0.2:$ours_port" --source 127.0.0.2 --quiet \
	--backend "b1=${backends[0]}" --backend "b2=${backends[1]}" --backend "b3=${backends[2]}" \
	--server-keepalive 256 --max-conns 20000
ours_pid=$BG_PID
wait_listening "$BENCH_TMP/proxy.out" 1

# ---- HAProxy: nbthread 1, keep-alive both sides, roundrobin --------------
ha_port=$(free_port 127.0.0.5)
cat >"$BENCH_TMP/haproxy.cfg" <<CONF
global
    nbthread 1
    maxconn 9950       # HAProxy wants 2 fds a connection under the 20,000 fd limit
defaults
    mode http
    option http-keep-alive
    timeout connect 3s
    timeout client 60s
    timeout server 30s
    timeout http-keep-alive 60s
frontend fe
    bind 127.0.0.5:$ha_port
    default_backend be
backend be
    balance roundrobin
    http-reuse always
    server b1 ${backends[0]}
    server b2 ${backends[1]}
    server b3 ${backends[2]}
CONF
bench_bg haproxy "${SERVER_PIN[@]}" haproxy -db -f "$BENCH_TMP/haproxy.cfg"
ha_pid=$BG_PID
wait_port 127.0.0.5 "$ha_port"

# ---- nginx: 1 worker, upstream keepalive --------------------------------
ng_port=$(free_port 127.0.0.6)
ngdir=$BENCH_TMP/nginx-proxy
mkdir -p "$ngdir/logs"
cat >"$ngdir/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 30000;
daemon off;
pid $ngdir/nginx.pid;
error_log $ngdir/logs/error.log warn;
events { worker_connections 20000; }
http {
$(nginx_http_files "$ngdir")
    keepalive_requests 1000000;
    upstream pool {
        server ${backends[0]};
        server ${backends[1]};
        server ${backends[2]};
        keepalive 256;
    }
    server {
        listen 127.0.0.6:$ng_port;
        location / {
            proxy_pass http://pool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF
bench_bg nginxproxy "${SERVER_PIN[@]}" nginx -p "$ngdir" -c "$ngdir/nginx.conf" -e "$ngdir/logs/error.log"
wait_port 127.0.0.6 "$ng_port"
ng_pid=
for ((i = 0; i < 100; i++)); do
	ng_pid=$(pgrep -P "$BG_PID" | head -n 1 || true)
	[ -n "$ng_pid" ] && break
	sleep 0.01
done

ours=http://127.0.0.2:$ours_port/
haproxy=http://127.0.0.5:$ha_port/
nginx=http://127.0.0.6:$ng_port/

for conns in 64 1000; do
	BENCH_CONNS=$conns
	compare_wrk "$ours" "$haproxy" "$ours_pid" "$ha_pid"
	row proxy haproxy "requests/s -c$conns" "$OURS_RPS" "$THEIRS_RPS"
	row proxy haproxy "p99_ms -c$conns" "$OURS_P99" "$THEIRS_P99"
	row proxy haproxy "cpu_us/request -c$conns" "$OURS_CPU" "$THEIRS_CPU"
	# Pinned, CPU 0 carries wrk and the three backends.  When it is busy
	# all the time behind both proxies, requests/s is its ceiling: the
	# ratio then says both proxies kept up, not which one could carry more.
	[ ${#SERVER_PIN[@]} -eq 0 ] ||
		row proxy haproxy "load_cpu0_busy_% -c$conns" "$OURS_LOAD_BUSY" "$THEIRS_LOAD_BUSY"
	compare_wrk "$ours" "$nginx" "$ours_pid" "$ng_pid"
	row proxy nginx "requests/s -c$conns" "$OURS_RPS" "$THEIRS_RPS"
	row proxy nginx "p99_ms -c$conns" "$OURS_P99" "$THEIRS_P99"
done

# ---- what --admin costs: the same proxy with --admin, /metrics polled ----
# Telemetry records every answer in two histograms and closes a second of
# history each second; a client reads /metrics once a second meanwhile.
# ratio = with it / without it (target: requests/s >= 0.97; the CPU time
# per request says the same more steadily on a busy machine).
adm_port=$(free_port 127.0.0.2)
adm_admin=$(free_port 127.0.0.1)
bench_bg proxyadmin "${SERVER_PIN[@]}" "$L7_BIN/proxy" --listen "127.0.0.2:$adm_port" --source 127.0.0.2 --quiet \
	--backend "b1=${backends[0]}" --backend "b2=${backends[1]}" --backend "b3=${backends[2]}" \
	--server-keepalive 256 --max-conns 20000 --admin "127.0.0.1:$adm_admin"
adm_pid=$BG_PID
wait_listening "$BENCH_TMP/proxyadmin.out" 2
bench_bg poller "${CLIENT_PIN[@]}" bash -c "for ((i = 0; i < 900; i++)); do
	curl -s -o /dev/null http://127.0.0.1:$adm_admin/metrics; sleep 1; done"
BENCH_CONNS=64
compare_wrk "http://127.0.0.2:$adm_port/" "$ours" "$adm_pid" "$ours_pid"
row proxy "proxy, no --admin" "requests/s -c64 --admin + /metrics 1/s" "$OURS_RPS" "$THEIRS_RPS"
row proxy "proxy, no --admin" "cpu_us/request -c64 --admin + /metrics 1/s" "$OURS_CPU" "$THEIRS_CPU"
kill "$BG_PID" 2>/dev/null || true

# ---- RSS with 10,000 idle keep-alive client connections -----------------
# hold_idle HOST PORT N PID: open N connections, one request each, keep them
# open; print the RSS of PID (KiB) while they are held (tests/tools/holdconns).
hold_idle() {
	"$BENCH_TOP/build/rel/tests/tools/holdconns" "$1:$2" "$3" awk '$1 == "VmRSS:" { print $2 }' "/proc/$4/status"
}
# The target is absolute (10,000 idle clients in at most 60 MiB); HAProxy,
# limited to 9,950 connections by the fd limit, is compared at 9,000.
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
idle=${BENCH_IDLE:-10000}
row proxy "target 60 MiB" "RSS_MiB $idle idle conns" "$(mib "$(hold_idle 127.0.0.2 "$ours_port" "$idle" "$ours_pid")")" 60
ours_rss=$(hold_idle 127.0.0.2 "$ours_port" 9000 "$ours_pid")
ha_rss=$(hold_idle 127.0.0.5 "$ha_port" 9000 "$ha_pid")
row proxy haproxy "RSS_MiB 9000 idle conns" "$(mib "$ours_rss")" "$(mib "$ha_rss")"

# ---- system calls per proxied request -----------------------------------
# syscalls_per_request PID URL N: strace -c -f the process while ab -k sends
# N requests on 64 connections; total calls / N.
syscalls_per_request() {
	local pid=$1 url=$2 n=$3 out=$BENCH_TMP/strace.$1 spid
	strace -c -f -p "$pid" -o "$out" 2>/dev/null &
	spid=$!
	sleep 0.5    # strace needs a moment to attach; not a readiness wait for a server
	ab -q -k -n "$n" -c 64 "$url" >/dev/null 2>&1
	kill -INT "$spid"
	wait "$spid" 2>/dev/null || true
	awk -v n="$n" '$NF == "total" { printf "%.2f\n", $4 / n }' "$out"
}
if command -v strace >/dev/null; then
	n=${BENCH_STRACE_REQUESTS:-20000}
	row proxy haproxy "syscalls/request -c64" \
		"$(syscalls_per_request "$ours_pid" "$ours" "$n")" "$(syscalls_per_request "$ha_pid" "$haproxy" "$n")"
fi
