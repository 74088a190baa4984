#!/usr/bin/env bash
# tests/bench/tracer.sh - offline labelling speed: the tracer's --json against
# tshark (HTTP dissection, fields out) and tcpdump (one line a packet) on the
# same large capture, made here with loadgen through our proxy in front of
# mockserver (bounded: TRACER_BENCH_REQUESTS requests or 20 s); then live:
# the packets the kernel drops for the tracer -l and for tcpdump -l while
# loadgen -c 64 runs 10 s through the proxy.
#
#   packets/s     = packets in the capture / wall time of the read
#   packets/cpu-s = packets in the capture / CPU time (user + system) of the
#                   read: what a shared, busy machine does not blur
#   both the median of BENCH_RUNS runs (tshark: one run, it is the slow one).
#
# Needs root for tcpdump -i lo; without it the benchmark says so and exits 0.
. "$(dirname "$0")/common.sh"

REQUESTS=${TRACER_BENCH_REQUESTS:-250000}
for t in tcpdump tshark; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing" >&2; exit 2; }
done
if [ "$(id -u)" != 0 ]; then
	echo "bench: tracer.sh needs root to record its capture (tcpdump -i lo); skipped" >&2
	exit 0
fi
bench_init

# ---- the capture ----------------------------------------------------------
bench_bg mock "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name b2 \
	--idle-timeout 60s
wait_listening "$BENCH_TMP/mock.out" 2
mapfile -t backends < <(awk '$1 == "listening" { print $3 }' "$BENCH_TMP/mock.out")
bench_bg proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 --source 127.0.0.2 --quiet \
	--backend "b1=${backends[0]}" --backend "b2=${backends[1]}"
wait_listening "$BENCH_TMP/proxy.out" 1
port=$(awk '$1 == "listening" { sub(/.*:/, "", $NF); print $NF; exit }' "$BENCH_TMP/proxy.out")

pcap=$BENCH_TMP/big.pcap
filter="tcp and ((host 127.0.0.2 and port $port) or (host 127.0.0.11 and port ${backends[0]##*:}) or (host 127.0.0.12 and port ${backends[1]##*:}))"
tcpdump -i lo -n --immediate-mode -B 262144 -w "$pcap" "$filter" 2>"$BENCH_TMP/tcpdump.err" &
td=$!
_bench_pids+=("$td")
for ((i = 0; i < 500; i++)); do
	grep -q 'listening on' "$BENCH_TMP/tcpdump.err" 2>/dev/null && break
	sleep 0.01
done
"${CLIENT_PIN[@]}" "$L7_BIN/loadgen" -c 8 -n "$REQUESTS" -d 20s "http://127.0.0.2:$port/" >"$BENCH_TMP/loadgen.out" 2>&1 || true
sleep 0.3
kill -INT "$td"
wait "$td" 2>/dev/null || true
grep -E 'captured|dropped' "$BENCH_TMP/tcpdump.err" | sed 's/^/bench: tcpdump: /' >&2
packets=$(tcpdump -r "$pcap" -nn 2>/dev/null | wc -l)
echo "bench: capture of $packets packets, $(du -h "$pcap" | cut -f1)" >&2

# ---- the reads --------------------------------------------------------------
# times CMD...: "WALL CPU" seconds of one run (CPU: user + system), output
# thrown away.
times() {
	local TIMEFORMAT='%R %U %S' t
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
	awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' <<<"$t"
}
pps() { awk -v n="$packets" -v s="$1" 'BEGIN { printf "%.0f\n", (s > 0 ? n / s : 0) }'; }

targs=(-r "$pcap" --proxy "127.0.0.2:$port" --backends "${backends[0]},${backends[1]}" --json)
ours=() dump=() ours_cpu=() dump_cpu=()
for ((i = 0; i < BENCH_RUNS; i++)); do
	read -r w c < <(times "$L7_BIN/tracer" "${targs[@]}")
	ours+=("$w"); ours_cpu+=("$c")
	read -r w c < <(times tcpdump -r "$pcap" -nn)
	dump+=("$w"); dump_cpu+=("$c")
	echo "bench: run $((i + 1))/$BENCH_RUNS: tracer ${ours[-1]} s (${ours_cpu[-1]} s CPU)," \
	     "tcpdump ${dump[-1]} s (${dump_cpu[-1]} s CPU)" >&2
done
read -r shark shark_cpu < <(times tshark -r "$pcap" -d "tcp.port==$port,http" -T fields -e frame.number \
	-e tcp.stream -e http.request.method -e http.response.code)
echo "bench: tshark $shark s ($shark_cpu s CPU)" >&2

ours_pps=$(pps "$(median "${ours[@]}")")
ours_cpps=$(pps "$(median "${ours_cpu[@]}")")
row tracer tshark packets/s "$ours_pps" "$(pps "$shark")"
row tracer tcpdump packets/s "$ours_pps" "$(pps "$(median "${dump[@]}")")"
row tracer tshark packets/cpu-s "$ours_cpps" "$(pps "$shark_cpu")"
row tracer tcpdump packets/cpu-s "$ours_cpps" "$(pps "$(median "${dump_cpu[@]}")")"
rm -f "$pcap"

# ---- live: what the kernel drops while loadgen -c 64 runs 10 s ---------------
# live_drops NAME CMD...: CMD captures on lo during the load; prints the
# kernel's drops it reports on stopping.
live_drops() {
	local name=$1 pid i
	shift
	# (the timeline's closing line is on its stdout: keep the end of it)
	"$@" > >(tail -n 3 >"$BENCH_TMP/$name.out") 2>"$BENCH_TMP/$name.err" &
	pid=$!
	_bench_pids+=("$pid")
	for ((i = 0; i < 500; i++)); do
		grep -qE 'capturing on|listening on' "$BENCH_TMP/$name.err" 2>/dev/null && break
		sleep 0.01
	done
	"${CLIENT_PIN[@]}" "$L7_BIN/loadgen" -c 64 -d 10s "http://127.0.0.2:$port/" >"$BENCH_TMP/$name.lg" 2>&1 || true
	kill -INT "$pid"
	wait "$pid" 2>/dev/null || true
	echo "bench: $name: $(grep -E 'requests  ' "$BENCH_TMP/$name.lg" | head -n 1 | sed 's/^ *//')" >&2
	for ((i = 0; i < 500; i++)); do   # tail writes once its input ends
		[ -s "$BENCH_TMP/$name.out" ] && break
		sleep 0.01
	done
	cat "$BENCH_TMP/$name.out" "$BENCH_TMP/$name.err" | grep -E 'dropped' | tail -n 1 | sed "s/^/bench: $name: /" >&2 || true
	cat "$BENCH_TMP/$name.out" "$BENCH_TMP/$name.err" | grep -oE '[0-9]+ (packets )?dropped by (the )?kernel' |
		tail -n 1 | grep -oE '^[0-9]+' || true
}
ours_drops=$(live_drops tracer "$L7_BIN/tracer" -i lo --proxy "127.0.0.2:$port" \
	--backends "${backends[0]},${backends[1]}" -l)
dump_drops=$(live_drops tcpdump tcpdump -i lo -l -nn "$filter")
row "tracer -l" "tcpdump -l" drops-at-c64 "${ours_drops:-0}" "${dump_drops:-0}"
