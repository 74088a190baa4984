# tests/bench/common.sh - what every benchmark script sources: start nginx
# as the reference server, run wrk, pull numbers out of its report, print
# result rows.  Benchmarks run on loopback only and are bounded in time.
#
#   . "$(dirname "$0")/common.sh"
#   bench_init                               # temp dir, cleanup trap, tool checks
#   bench_bg NAME CMD...                     # a server; its pid in BG_PID
#   nginx_start 127.0.0.21 "hello from b1"   # sets NGINX_ADDR, NGINX_WORKER
#   compare_wrk URL1 URL2 PID1 PID2          # sets OURS_RPS, THEIRS_RPS, ...
#   row mockserver nginx requests/s "$OURS_RPS" "$THEIRS_RPS"
#
# Settings (environment): BENCH_DURATION (default 10s, wrk's -d), BENCH_RUNS
# (default 3; the median is kept), BENCH_CONNS (64), BENCH_THREADS (1),
# BENCH_PIN (1: with 2 CPUs or more, servers run on the last CPU and wrk on
# CPU 0, so the scheduler does not move them mid-run; 0 turns it off).

set -euo pipefail

BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_CONNS=${BENCH_CONNS:-64}
BENCH_THREADS=${BENCH_THREADS:-1}
BENCH_PIN=${BENCH_PIN:-1}
BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${L7_BIN:=$BENCH_TOP/bin}"

_bench_pids=()

# SERVER_PIN and CLIENT_PIN: command prefixes that pin a server or the load
# generator to its CPU (empty when not pinning):
#   bench_bg mock "${SERVER_PIN[@]}" "$L7_BIN/mockserver" ...
SERVER_PIN=()
CLIENT_PIN=()
if [ "$BENCH_PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
	SERVER_PIN=(taskset -c "$(($(nproc) - 1))")
	CLIENT_PIN=(taskset -c 0)
fi

# bench_init: a temp dir in $BENCH_TMP, removed (and every process started
# with bench_bg stopped, by pid) on exit.
bench_init() {
	local t
	for t in wrk nginx; do
		command -v "$t" >/dev/null 2>&1 || { echo "bench: $t is missing (bin/install-deps --bench)" >&2; exit 2; }
	done
	BENCH_TMP=$(mktemp -d /tmp/l7bench.XXXXXX)
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local pid
	for pid in "${_bench_pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${_bench_pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	[ -n "${BENCH_TMP:-}" ] && rm -rf "$BENCH_TMP"
}

# bench_bg NAME CMD...: start CMD in the background, output in
# $BENCH_TMP/NAME.{out,err}; its pid in BG_PID, remembered for the cleanup.
bench_bg() {
	local name=$1; shift
	# Emptied here, before the fork: emptied by the child's redirection, the
	# file could still show a restarted process's old "listening" line to
	# wait_listening, and its old address to the caller (balance.sh).
	: >"$BENCH_TMP/$name.out"
	"$@" >"$BENCH_TMP/$name.out" 2>"$BENCH_TMP/$name.err" </dev/null &
	BG_PID=$!
	_bench_pids+=("$BG_PID")
}

# wait_listening FILE COUNT: wait (5 s at most) for COUNT "listening" lines.
wait_listening() {
	local i n
	for ((i = 0; i < 500; i++)); do
		n=$(grep -c '^listening ' "$1" 2>/dev/null || true)
		[ "${n:-0}" -ge "$2" ] && return 0
		sleep 0.01
	done
	echo "bench: no 'listening' line in $1" >&2
	cat "${1%.out}.err" >&2
	return 1
}

# free_port IP: a TCP port nobody listens on at IP right now.
free_port() {
	local ip=$1 port i low=32768 high
	# Below the kernel's ephemeral range: a port there can be the local end
	# of some connection (wrk's, the proxy's own to its backends), and a
	# listener's bind then fails with "Address already in use".
	read -r low high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	[ "$low" -gt 11024 ] || low=11024
	for ((i = 0; i < 100; i++)); do
		port=$((1024 + RANDOM % (low - 1024)))
		if ! (exec 3<>"/dev/tcp/$ip/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	echo "bench: no free port on $ip" >&2
	return 1
}

# wait_port IP PORT: wait (5 s at most) until something accepts there.
wait_port() {
	local i
	for ((i = 0; i < 500; i++)); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.01
	done
	echo "bench: nothing listens on $1:$2" >&2
	return 1
}

# nginx_http_files DIR: the lines of an nginx.conf http block that keep
# nginx's files in DIR (temporary files) or nowhere (no access log).
nginx_http_files() {
	printf '    %s\n' "access_log off;" "client_body_temp_path $1/body;" "proxy_temp_path $1/proxy;" \
		"fastcgi_temp_path $1/fastcgi;" "uwsgi_temp_path $1/uwsgi;" "scgi_temp_path $1/scgi;"
}

# nginx_start IP BODY: nginx with 1 worker on IP and a free port, answering
# every request with 200 and BODY plus a newline (no access log); sets
# NGINX_ADDR and NGINX_WORKER (the worker's pid, for its CPU time).
nginx_start() {
	local ip=$1 body=$2 port dir=$BENCH_TMP/nginx i
	port=$(free_port "$ip")
	mkdir -p "$dir/logs"
	cat >"$dir/nginx.conf" <<-CONF
	worker_processes 1;
	daemon off;
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log warn;
	events { worker_connections 4096; }
	http {
	$(nginx_http_files "$dir")
	    keepalive_requests 1000000;
	    server {
	        listen $ip:$port;
	        location / {
	            default_type text/plain;
	            return 200 "$body\n";
	        }
	    }
	}
	CONF
	bench_bg nginx "${SERVER_PIN[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
	wait_port "$ip" "$port"
	NGINX_ADDR=$ip:$port
	NGINX_WORKER=
	for ((i = 0; i < 100; i++)); do
		NGINX_WORKER=$(pgrep -P "$BG_PID" | head -n 1 || true)
		[ -n "$NGINX_WORKER" ] && break
		sleep 0.01
	done
}

# to_ms VALUE: wrk's "812.00us", "1.23ms", "2.01s" in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000
		else if (v ~ /ms$/) n = n
		else if (v ~ /m$/) n *= 60000
		else if (v ~ /s$/) n *= 1000
		printf "%.3f\n", n
	}'
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# cpu0_times: "busy total" clock ticks of CPU 0 so far (/proc/stat), where
# wrk runs when pinned (CLIENT_PIN), with the backends of proxy.sh.
cpu0_times() {
	awk '$1 == "cpu0" { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# wrk_once URL [PID]: one wrk run; sets WRK_RPS, WRK_P99_MS, WRK_LOAD_BUSY
# (how busy CPU 0 was, in %: wrk's side when pinned) and, given the
# server's PID, WRK_CPU_US: its CPU time per request in microseconds.
wrk_once() {
	local out before=0 after=0 total c0 c1
	[ -n "${2:-}" ] && before=$(cpu_ticks "$2")
	c0=$(cpu0_times)
	out=$("${CLIENT_PIN[@]}" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"$BENCH_DURATION" --latency "$1")
	c1=$(cpu0_times)
	[ -n "${2:-}" ] && after=$(cpu_ticks "$2")
	WRK_LOAD_BUSY=$(awk -v a="$c0" -v b="$c1" 'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "%.1f\n", (y[2] > x[2] ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0) }')
	WRK_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' <<<"$out")
	WRK_P99_MS=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	total=$(awk '/requests in/ { print $1 }' <<<"$out")
	WRK_CPU_US=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="${total:-0}" \
		'BEGIN { if (n > 0) printf "%.2f\n", t / hz * 1e6 / n; else print 0 }')
	if [ -z "$WRK_RPS" ] || grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		echo "bench: wrk against $1 reported errors:" >&2
		echo "$out" >&2
	fi
}

# median V...: the median of numbers.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# compare_wrk OURS_URL THEIRS_URL OURS_PID THEIRS_PID: BENCH_RUNS runs of
# each, alternating (so drift in the machine's load hits both alike); sets
# OURS_RPS, THEIRS_RPS, OURS_P99, THEIRS_P99, OURS_CPU, THEIRS_CPU (server
# CPU microseconds per request), OURS_LOAD_BUSY, THEIRS_LOAD_BUSY (CPU 0
# busy, %) to the medians.
compare_wrk() {
	local ours=$1 theirs=$2 opid=${3:-} tpid=${4:-} i
	local -a orps=() trps=() op99=() tp99=() ocpu=() tcpu=() obusy=() tbusy=()
	"${CLIENT_PIN[@]}" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d1s "$ours" >/dev/null      # warm up both
	"${CLIENT_PIN[@]}" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d1s "$theirs" >/dev/null
	for ((i = 0; i < BENCH_RUNS; i++)); do
		wrk_once "$ours" "$opid"
		orps+=("$WRK_RPS"); op99+=("$WRK_P99_MS"); ocpu+=("$WRK_CPU_US"); obusy+=("$WRK_LOAD_BUSY")
		wrk_once "$theirs" "$tpid"
		trps+=("$WRK_RPS"); tp99+=("$WRK_P99_MS"); tcpu+=("$WRK_CPU_US"); tbusy+=("$WRK_LOAD_BUSY")
		echo "bench: run $((i + 1))/$BENCH_RUNS: ours ${orps[-1]} req/s, p99 ${op99[-1]} ms," \
		     "${ocpu[-1]} us CPU/req, CPU 0 ${obusy[-1]}% busy; theirs ${trps[-1]} req/s, p99 ${tp99[-1]} ms," \
		     "${tcpu[-1]} us CPU/req, CPU 0 ${tbusy[-1]}% busy" >&2
	done
	OURS_RPS=$(median "${orps[@]}")
	THEIRS_RPS=$(median "${trps[@]}")
	OURS_P99=$(median "${op99[@]}")
	THEIRS_P99=$(median "${tp99[@]}")
	OURS_CPU=$(median "${ocpu[@]}")
	THEIRS_CPU=$(median "${tcpu[@]}")
	OURS_LOAD_BUSY=$(median "${obusy[@]}")
	THEIRS_LOAD_BUSY=$(median "${tbusy[@]}")
}

# row TOOL PEER FIGURE OURS THEIRS: one TSV result row; ratio = ours/theirs.
row() {
	local ratio
	ratio=$(awk -v a="$4" -v b="$5" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$ratio"
}
