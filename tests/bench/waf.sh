#!/usr/bin/env bash
# tests/bench/waf.sh - what the security checks cost the proxy, in the same
# run: requests/s (wrk, keep-alive, one mockserver backend) with
#   the WAF off, the l7lab rule set and the OWASP Core Rule Set (paranoia 1),
#   both in block mode, on GETs with a query string of five arguments and on
#   4 KiB url-encoded form POSTs (every byte inspected: --waf-body-limit 64k);
#   DLP off and DLP mask on a 2 KiB HTML page with 14 leaks (mockserver /leak).
# Every proxy is the same binary, one thread, on the same CPU; the runs
# alternate between configurations (so the machine's drift hits each alike)
# and the median of BENCH_RUNS is kept, with the proxy's CPU time per
# request (the steadier figure on a shared machine: the WAF's cost is CPU).
# ratio = with the check / without.
. "$(dirname "$0")/common.sh"
bench_init
# The WAF costs milliseconds of CPU a request: 64 connections would queue
# for seconds.  16 keep the single-threaded proxies busy without that.
BENCH_CONNS=${BENCH_WAF_CONNS:-16}

bench_bg mock "${CLIENT_PIN[@]}" "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1 --idle-timeout 60s
wait_listening "$BENCH_TMP/mock.out" 1
backend=$(awk '$1 == "listening" { print $3 }' "$BENCH_TMP/mock.out")

# proxy NAME FLAGS...: our proxy on 127.0.0.2 and a free port; its URL in
# URL[NAME] and its pid in PID[NAME].
declare -A URL PID
proxy() {
	local name=$1 port; shift
	port=$(free_port 127.0.0.2)
	bench_bg "$name" "${SERVER_PIN[@]}" "$L7_BIN/proxy" --listen "127.0.0.2:$port" --source 127.0.0.2 --quiet \
		--backend "b1=$backend" --server-keepalive 256 "$@"
	PID[$name]=$BG_PID
	wait_listening "$BENCH_TMP/$name.out" 1
	URL[$name]=http://127.0.0.2:$port
}
proxy off
proxy l7lab --waf block --waf-rules l7lab
proxy crs --waf block --waf-rules crs --waf-paranoia 1
proxy dlp --dlp mask

# A GET as a search form sends it, and a 4 KiB form POST (wrk's Lua).
query='/?q=red+running+shoes&category=sport&sort=price_asc&page=2&lang=en'
cat >"$BENCH_TMP/post.lua" <<'LUA'
local fields = {}
local i = 0
while #table.concat(fields, "&") < 4096 do
	i = i + 1
	fields[#fields + 1] = "field" .. i .. "=some+ordinary+text+from+a+form+number+" .. i
end
wrk.method = "POST"
wrk.body = string.sub(table.concat(fields, "&"), 1, 4096)
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

# run NAME PATH [WRK ARGS]: one wrk run against proxy NAME; prints its
# requests/s and the proxy's CPU time per request in microseconds (errors
# and non-2xx answers are reported on stderr).
run() {
	local name=$1 path=$2 out before after n; shift 2
	before=$(cpu_ticks "${PID[$name]}")
	out=$("${CLIENT_PIN[@]}" wrk -t"$BENCH_THREADS" -c"$BENCH_CONNS" -d"$BENCH_DURATION" --timeout 30s "$@" \
		"${URL[$name]}$path")
	after=$(cpu_ticks "${PID[$name]}")
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		echo "bench: wrk against $name $path reported errors:" >&2
		echo "$out" >&2
	fi
	n=$(awk '/requests in/ { print $1 }' <<<"$out")
	awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="${n:-0}" \
		'/^Requests\/sec:/ { printf "%.0f %.1f\n", $2, (n > 0 ? t / hz * 1e6 / n : 0) }' <<<"$out"
}

# table LABEL PATH "NAME..." [WRK ARGS]: BENCH_RUNS rounds over the named
# proxies in turn; sets RPS[NAME] and CPU[NAME] to the medians.
declare -A RPS CPU
table() {
	local label=$1 path=$2 names=$3 n i r; shift 3
	declare -A rps=() cpu=()
	for n in $names; do BENCH_DURATION=1s run "$n" "$path" "$@" >/dev/null; done   # warm up
	for ((i = 0; i < BENCH_RUNS; i++)); do
		local line="bench: $label, run $((i + 1))/$BENCH_RUNS:"
		for n in $names; do
			r=$(run "$n" "$path" "$@")
			rps[$n]+="${r% *} " cpu[$n]+="${r#* } "
			line+=" $n ${r% *} req/s ${r#* } us CPU/req;"
		done
		echo "${line%;}" >&2
	done
	for n in $names; do
		# shellcheck disable=SC2086
		RPS[$n]=$(median ${rps[$n]}) CPU[$n]=$(median ${cpu[$n]})
	done
}

# rows TOOL PEER WHAT NAME BASE: requests/s and CPU per request of proxy
# NAME against proxy BASE.
rows() {
	row "$1" "$2" "requests/s $3" "${RPS[$4]}" "${RPS[$5]}"
	row "$1" "$2" "cpu_us/request $3" "${CPU[$4]}" "${CPU[$5]}"
}

table "GET with a query" "$query" "off l7lab crs"
rows "proxy --waf block" "waf off" "GET ?query, l7lab rules" l7lab off
rows "proxy --waf block" "waf off" "GET ?query, CRS PL1" crs off

table "4 KiB form POST" / "off l7lab crs" -s "$BENCH_TMP/post.lua"
rows "proxy --waf block" "waf off" "POST 4 KiB form, l7lab rules" l7lab off
rows "proxy --waf block" "waf off" "POST 4 KiB form, CRS PL1" crs off

table "2 KiB HTML with 14 leaks" /leak "off dlp"
rows "proxy --dlp mask" "dlp off" "GET /leak (2 KiB HTML)" dlp off
