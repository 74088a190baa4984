#!/usr/bin/env bash
# tests/bench/tracer.sh - offline labelling speed: the tracer's --json against
# tshark (HTTP dissection, fields out) and tcpdump (one line a packet) on the
# same large capture, made here with loadgen through our proxy in front of
# mockserver (bounded: TRACER_BENCH_REQUESTS requests or 20 s).
#
#   packets/s = packets in the capture / wall time of the read, median of
#   BENCH_RUNS runs (tshark: one run, it is the slow one).
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
# secs CMD...: wall seconds of one run, output thrown away.
secs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
pps() { awk -v n="$packets" -v s="$1" 'BEGIN { printf "%.0f\n", (s > 0 ? n / s : 0) }'; }

targs=(-r "$pcap" --proxy "127.0.0.2:$port" --backends "${backends[0]},${backends[1]}" --json)
ours=() dump=()
for ((i = 0; i < BENCH_RUNS; i++)); do
	ours+=("$(secs "$L7_BIN/tracer" "${targs[@]}")")
	dump+=("$(secs tcpdump -r "$pcap" -nn)")
	echo "bench: run $((i + 1))/$BENCH_RUNS: tracer ${ours[-1]} s, tcpdump ${dump[-1]} s" >&2
done
shark=$(secs tshark -r "$pcap" -d "tcp.port==$port,http" -T fields -e frame.number -e tcp.stream -e http.request.method -e http.response.code)
echo "bench: tshark $shark s" >&2

ours_pps=$(pps "$(median "${ours[@]}")")
row tracer tshark packets/s "$ours_pps" "$(pps "$shark")"
row tracer tcpdump packets/s "$ours_pps" "$(pps "$(median "${dump[@]}")")"
