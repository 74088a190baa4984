#!/usr/bin/env bash
# tests/bench/loadgen.sh - loadgen against the load generators people pick
# instead: wrk -t1 and ab -k, each driving nginx (1 worker, "return 200")
# and mockserver, -c64 for BENCH_DURATION (10 s), keep-alive, on "/", in the
# same run, alternating, medians of BENCH_RUNS (3).
#
# Rows (tool, peer, figure, ours, theirs, ratio), peer = "THEIRS@SERVER":
#   requests/s  higher is better; target: ratio >= 1.0 against wrk
#   p50_ms      closed loop; target: within 25% of wrk's
#   p99_ms      closed loop, for the record
#   p99_ms@50%  loadgen -r at half of wrk's rate (open loop, from intended
#               send times) against wrk's closed-loop p99 at full load
#   mean_ms     against ab (whose percentiles are whole milliseconds)
#   busy_conns  mean latency x requests/s (Little's law): how many of the 64
#               connections had a request outstanding on average.  Both
#               write each next request one loop turn after the response
#               and time it from then; at saturation the server queues
#               whatever the client keeps busy, so p50 = busy / throughput,
#               and this row says why two p50s differ.
# One client thread against one server worker on a 2-core machine: with
# BENCH_PIN=1 (the default) the server runs on the last CPU and the client
# on CPU 0.
. "$(dirname "$0")/common.sh"
bench_init
command -v jq >/dev/null || { echo "bench: jq is missing" >&2; exit 2; }
have_ab=1
command -v ab >/dev/null || { have_ab=0; echo "bench: ab is missing; no ab rows" >&2; }
secs=$(awk -v d="$BENCH_DURATION" 'BEGIN { n = d + 0; if (d ~ /ms$/) n /= 1000; else if (d ~ /m$/) n *= 60; print (n < 1) ? 1 : int(n) }')

bench_bg mock "${SERVER_PIN[@]}" "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1
wait_listening "$BENCH_TMP/mock.out" 1
mock=$(awk '$1 == "listening" { print $3; exit }' "$BENCH_TMP/mock.out")
nginx_start 127.0.0.21 "hello from b1"

# lg_once URL [ARGS...]: LG_RPS, LG_P50, LG_P99 and LG_MEAN (ms) of one loadgen run.
lg_once() {
	local url=$1 out; shift
	out=$("${CLIENT_PIN[@]}" "$L7_BIN/loadgen" -c "$BENCH_CONNS" -d "$BENCH_DURATION" --json "$@" "$url")
	LG_RPS=$(jq '.rps | round' <<<"$out")
	LG_P50=$(jq '.latency_us.p50 / 1000' <<<"$out")
	LG_P99=$(jq '.latency_us.p99 / 1000' <<<"$out")
	LG_MEAN=$(jq '.latency_us.mean | round / 1000' <<<"$out")
	if [ "$(jq .errors_total <<<"$out")" != 0 ]; then
		echo "bench: loadgen against $url reported errors: $(jq -c .errors <<<"$out")" >&2
	fi
}

# wrk_lat URL: WRK_RPS, WRK_P50, WRK_P99 and WRK_MEAN (ms) of one wrk -t1 run.
wrk_lat() {
	local out
	out=$("${CLIENT_PIN[@]}" wrk -t1 -c"$BENCH_CONNS" -d"$BENCH_DURATION" --latency "$1")
	WRK_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' <<<"$out")
	WRK_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	WRK_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	WRK_MEAN=$(to_ms "$(awk '$1 == "Latency" { print $2; exit }' <<<"$out")")
	grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "bench: wrk against $1 reported errors" >&2
	return 0
}

# ab_once URL: AB_RPS and AB_MEAN (ms, "Time per request") of one ab -k run.
ab_once() {
	local out
	out=$("${CLIENT_PIN[@]}" ab -k -q -c "$BENCH_CONNS" -t "$secs" -n 100000000 "$1" 2>&1)
	AB_RPS=$(awk '/^Requests per second:/ { printf "%.0f\n", $4 }' <<<"$out")
	AB_MEAN=$(awk '/^Time per request:/ { print $4; exit }' <<<"$out")
	grep -q '^Failed requests: *[1-9]' <<<"$out" && echo "bench: ab against $1 reported failures" >&2
	return 0
}

# bench_peer NAME URL: the rows for one server.
bench_peer() {
	local name=$1 url=$2 i
	local -a lr=() l50=() l99=() lm=() lb=() wr=() w50=() w99=() wb=() ar=() am=() lo99=()
	"${CLIENT_PIN[@]}" wrk -t1 -c"$BENCH_CONNS" -d1s "$url" >/dev/null   # warm up
	for ((i = 0; i < BENCH_RUNS; i++)); do
		lg_once "$url"
		lr+=("$LG_RPS"); l50+=("$LG_P50"); l99+=("$LG_P99"); lm+=("$LG_MEAN")
		lb+=("$(awk -v r="$LG_RPS" -v m="$LG_MEAN" 'BEGIN { printf "%.1f", r * m / 1000 }')")
		wrk_lat "$url"
		wr+=("$WRK_RPS"); w50+=("$WRK_P50"); w99+=("$WRK_P99")
		wb+=("$(awk -v r="$WRK_RPS" -v m="$WRK_MEAN" 'BEGIN { printf "%.1f", r * m / 1000 }')")
		if [ "$have_ab" = 1 ]; then
			ab_once "$url"
			ar+=("$AB_RPS"); am+=("$AB_MEAN")
		fi
		# Open loop at half of what wrk just reached.
		lg_once "$url" -r "$((WRK_RPS / 2))"
		lo99+=("$LG_P99")
		echo "bench: $name run $((i + 1))/$BENCH_RUNS: loadgen ${lr[-1]} req/s p50 ${l50[-1]} p99 ${l99[-1]} ms;" \
		     "wrk ${wr[-1]} req/s p50 ${w50[-1]} p99 ${w99[-1]} ms;" \
		     "ab ${ar[-1]:--} req/s mean ${am[-1]:--} ms (loadgen ${lm[-1]}); loadgen -r $((WRK_RPS / 2)) p99 ${lo99[-1]} ms" >&2
	done
	row loadgen "wrk@$name" requests/s "$(median "${lr[@]}")" "$(median "${wr[@]}")"
	row loadgen "wrk@$name" p50_ms "$(median "${l50[@]}")" "$(median "${w50[@]}")"
	row loadgen "wrk@$name" p99_ms "$(median "${l99[@]}")" "$(median "${w99[@]}")"
	row loadgen "wrk@$name" p99_ms@50% "$(median "${lo99[@]}")" "$(median "${w99[@]}")"
	row loadgen "wrk@$name" busy_conns "$(median "${lb[@]}")" "$(median "${wb[@]}")"
	if [ "$have_ab" = 1 ]; then
		row loadgen "ab@$name" requests/s "$(median "${lr[@]}")" "$(median "${ar[@]}")"
		row loadgen "ab@$name" mean_ms "$(median "${lm[@]}")" "$(median "${am[@]}")"
	fi
}

echo "bench: loadgen vs wrk -t1 vs ab -k, -c$BENCH_CONNS, $BENCH_DURATION, $BENCH_RUNS runs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bench_peer nginx "http://$NGINX_ADDR/"
bench_peer mockserver "http://$mock/"
