#!/usr/bin/env bash
# tests/bench/balance.sh - the class experiment of lab 08: which algorithm
# keeps the tail short when one server of three is slow, and how fast ewma
# notices that it recovered.
#
#   tests/bench/balance.sh          (also run by tests/bench/run balance)
#
# Three mockserver backends (b1 127.0.88.11, b2 .12, slow .13, free ports):
# b1 and b2 answer in 2 ms, slow in 20 ms, each with --workers
# BALANCE_WORKERS (4): at most 4 requests served at once, the others wait
# their turn, as in a small app server.  A backend with W workers that
# answers in D carries W/D requests a second, so the pool has a capacity,
# computed, not measured: W/2ms x 2 + W/20ms (4,200/s at W=4; slow has 1/21
# of it).  The proxy (127.0.88.2) is run once per algorithm: roundrobin,
# leastconn, random, ewma, and once with three fast servers (the baseline,
# ewma).  loadgen sends an open loop at half of that capacity (BALANCE_RATE
# to choose another; the baseline runs at the same rate) for
# BALANCE_SECONDS (10), over BALANCE_OPEN_CONNS (256) connections.
# All of that BALANCE_RUNS times (5): a p99 of 10 s of traffic moves with
# the machine's other load from run to run, so every cell of the table is
# the median of the runs, and each run's ewma and all-fast p99 are shown.
# roundrobin sends slow a third of the load, 3.5x what it can carry: its
# queue grows until the connections are all waiting there (requests and
# errors columns).  With 8 workers, ewma's p99 is slow's in most runs
# (labs/08-fastest, "Capacity", says why).  BALANCE_WORKERS=0: no limit,
# as before --workers; a delay is then a pure timer, the pool has no
# capacity, and "half of it" is half of what a closed loop at -c
# BALANCE_CONNS (64) gets through three fast servers in 3 s: Little's law
# over 64 connections, which loads a 2-core machine heavily (about 10k/s)
# and puts ~13 requests in flight on each fast server, so ewma's cost
# (EWMA x (in flight + 1)) prefers the idle slow one.
# One row per algorithm: p50, p99, share of requests to slow, requests,
# errors.
# Then the recovery: ewma, slow's delay drops to 2 ms at SIGUSR2 after 5 s;
# the loadgen --timeline (--by-header X-Backend) gives slow's share second
# by second, and the seconds until it is back above 25%.  BALANCE_PROXY_ARGS
# adds flags to every proxy run (--ewma-decay 300ms, say).  The machine's
# other load shows in every p99: run it on a quiet machine.
#
# Progress and the tables go to stderr; the rows for tests/bench/run
# ("tool peer figure ours theirs ratio") to stdout:
#   proxy-ewma         all-fast    p99_ms   (target: ratio <= 1.5)
#   proxy-roundrobin   slow-server p99_ms   (roundrobin's p99 is slow's)
. "$(dirname "$0")/common.sh"      # bench_bg, wait_listening, bench_cleanup
SECONDS_RUN=${BALANCE_SECONDS:-10}
CONNS=${BALANCE_CONNS:-64}      # closed loop, for the capacity (BALANCE_WORKERS=0)
WORKERS=${BALANCE_WORKERS:-4}   # per backend; 0 = no limit
RUNS=${BALANCE_RUNS:-5}
OPEN_CONNS=${BALANCE_OPEN_CONNS:-256}   # open loop: enough that none waits for a connection
NET=127.0.88

BENCH_TMP=$(mktemp -d /tmp/l7balance.XXXXXX)   # no bench_init: neither wrk nor nginx is needed
tmp=$BENCH_TMP
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# spawn NAME CMD...: CMD in the background, once it says "listening"; its pid in PID.
spawn() {
	local name=$1
	shift
	bench_bg "$name" "$@"
	PID=$BG_PID
	wait_listening "$tmp/$name.out" 1 || exit 1
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

case $WORKERS in
''|*[!0-9]*) echo "balance: BALANCE_WORKERS='$WORKERS' is not a whole number" >&2; exit 2 ;;
esac
case $RUNS in
''|0|*[!0-9]*) echo "balance: BALANCE_RUNS='$RUNS' is not a whole number above 0" >&2; exit 2 ;;
esac
WFLAGS=()
[ "$WORKERS" -eq 0 ] || WFLAGS=(--workers "$WORKERS")

# backends SLOW_FLAGS...: b1, b2 at 2 ms and slow with SLOW_FLAGS; sets B1 B2 B3.
backends() {
	spawn b1 "$L7_BIN/mockserver" --listen "$NET.11:0" --name b1 --delay 2ms "${WFLAGS[@]}"; MB1=$PID
	spawn b2 "$L7_BIN/mockserver" --listen "$NET.12:0" --name b2 --delay 2ms "${WFLAGS[@]}"; MB2=$PID
	spawn slow "$L7_BIN/mockserver" --listen "$NET.13:0" --name slow "${WFLAGS[@]}" "$@"; MB3=$PID
	B1=$(awk '{ print $3; exit }' "$tmp/b1.out") B2=$(awk '{ print $3; exit }' "$tmp/b2.out")
	B3=$(awk '{ print $3; exit }' "$tmp/slow.out")
}
stop_backends() { stop "$MB1"; stop "$MB2"; stop "$MB3"; }

# proxy_run ALGO: the proxy in front of them; sets P and PP (its pid).
proxy_run() {
	spawn proxy "$L7_BIN/proxy" --listen "$NET.2:0" --source "$NET.2" --quiet --balance "$1" \
		--backend "b1=$B1" --backend "b2=$B2" --backend "slow=$B3" ${BALANCE_PROXY_ARGS:-}
	PP=$PID
	P=$(awk '{ print $2; exit }' "$tmp/proxy.out")
}

# load FILE ARGS...: loadgen --json into FILE.
load() { local f=$1; shift; "$L7_BIN/loadgen" --json "$@" "http://$P/" >"$f" 2>"$f.err"; }

# row_of LABEL FILE: "LABEL p50 p99 share" from a loadgen report.
row_of() {
	jq -r --arg l "$1" '[$l, .latency_us.p50 / 1000, .latency_us.p99 / 1000,
		(1000 * (.by_header.slow // 0) / ([.by_header[]] | add) | round / 10), .requests, .errors_total] | @tsv' "$2"
}

# 1. capacity: computed from the workers (or, without, measured with three
# fast servers in a closed loop)
if [ -n "${BALANCE_RATE:-}" ]; then
	echo "balance: open loop at $BALANCE_RATE/s (BALANCE_RATE)" >&2
elif [ "$WORKERS" -gt 0 ]; then
	cap=$((WORKERS * 1000 / 2 * 2 + WORKERS * 1000 / 20))
	BALANCE_RATE=$((cap / 2))
	echo "balance: capacity $cap requests/s, computed: $WORKERS workers / 2 ms x 2 + $WORKERS / 20 ms" \
		"(slow: $((WORKERS * 1000 / 20))/s); open loop at half, $BALANCE_RATE/s, the all-fast baseline too" >&2
else
	backends --delay 2ms
	proxy_run roundrobin
	load "$tmp/cap.json" -c "$CONNS" -d 3s
	stop "$PP"
	stop_backends
	BALANCE_RATE=$(jq '.rps / 2 | floor' "$tmp/cap.json")
	echo "balance: no --workers: capacity $(jq '.rps | floor' "$tmp/cap.json") requests/s, measured" \
		"(3 fast, closed loop, -c $CONNS); open loop at $BALANCE_RATE/s" >&2
fi
RATE=$BALANCE_RATE

# 2. the table: all-fast baseline, then one slow server per algorithm,
# RUNS times; rows "run N<TAB>label<TAB>p50 p99 share requests errors"
: >"$tmp/rows"
for ((run = 1; run <= RUNS; run++)); do
	backends --delay 2ms
	proxy_run ewma
	load "$tmp/fast.json" -r "$RATE" -c "$OPEN_CONNS" -d "${SECONDS_RUN}s"
	row_of "ewma, 3 fast" "$tmp/fast.json" | sed "s/^/$run\t/" >>"$tmp/rows"
	stop "$PP"
	stop_backends
	backends --delay 20ms
	for algo in roundrobin leastconn random ewma; do
		proxy_run "$algo"
		load "$tmp/$algo.json" -r "$RATE" -c "$OPEN_CONNS" -d "${SECONDS_RUN}s"
		row_of "$algo" "$tmp/$algo.json" | sed "s/^/$run\t/" >>"$tmp/rows"
		stop "$PP"
	done
	stop_backends
	echo "balance: run $run of $RUNS done:" \
		"$(awk -F'\t' -v r="$run" '$1 == r && $2 ~ /^ewma/ { printf "%s p99 %s ms; ", $2, $4 }' "$tmp/rows")" >&2
done

# cell LABEL COLUMN: the median over the runs of one cell (columns as in
# $tmp/rows: 3 p50, 4 p99, 5 share, 6 requests, 7 errors).
cell() {
	local -a v
	mapfile -t v < <(awk -F'\t' -v l="$1" -v c="$2" '$2 == l { print $c }' "$tmp/rows")
	median "${v[@]}"
}
{
	echo -e "run\tp50_ms\tp99_ms\tslow_%\trequests\terrors"
	for label in "ewma, 3 fast" roundrobin leastconn random ewma; do
		printf '%s' "$label"
		for c in 3 4 5 6 7; do printf '\t%s' "$(cell "$label" "$c")"; done
		echo
	done
} >"$tmp/table"
{
	echo
	echo "one of three servers 20 ms (others 2 ms), $( [ "$WORKERS" -gt 0 ] && echo "$WORKERS workers each" || echo "no --workers"), open loop $RATE requests/s for ${SECONDS_RUN}s, -c $OPEN_CONNS;" \
		"median of $RUNS runs:"
	column -t -s $'\t' "$tmp/table"
	echo "p99_ms of each run, ewma, 3 fast: $(awk -F'\t' '$2 == "ewma, 3 fast" { printf "%s ", $4 }' "$tmp/rows")"
	echo "p99_ms of each run, ewma:         $(awk -F'\t' '$2 == "ewma" { printf "%s ", $4 }' "$tmp/rows")"
} >&2

# 3. recovery: slow drops to 2 ms at SIGUSR2, 5 s into a 20 s ewma run
backends --delay 20ms --delay-after usr2:2ms
proxy_run ewma
load "$tmp/recover.json" -r "$RATE" -c "$OPEN_CONNS" -d 20s --timeline "$tmp/timeline.csv" &
lgpid=$!
sleep 5      # the experiment's own schedule: slow recovers 5 s into the run
kill -USR2 "$MB3"
wait "$lgpid"
stop "$PP"
stop_backends
{
	echo
	echo "ewma, slow recovers (20 ms -> 2 ms) at about second 5; slow's share each second:"
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "X-Backend:slow") c = i; next }
		$2 > 0 { printf "%s:%.0f%% ", $1, 100 * (c ? $c : 0) / $2 } END { print "" }' "$tmp/timeline.csv"
} >&2
back=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "X-Backend:slow") c = i; next }
	$1 >= 5 && $2 > 0 && c && $c / $2 >= 0.25 { print $1 - 5; exit }' "$tmp/timeline.csv")
echo "balance: slow's share back above 25% ${back:-never} s after it recovered" >&2

# rows for tests/bench/run
fast99=$(cell "ewma, 3 fast" 4)
ewma99=$(cell ewma 4)
rr99=$(cell roundrobin 4)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'; }
printf 'proxy-ewma\tall-fast\tp99_ms\t%s\t%s\t%s\n' "$ewma99" "$fast99" "$(ratio "$ewma99" "$fast99")"
printf 'proxy-roundrobin\tslow-server\tp99_ms\t%s\t20\t%s\n' "$rr99" "$(ratio "$rr99" 20)"
printf 'proxy-ewma\trecovery\tseconds\t%s\t10\t%s\n' "${back:-inf}" "$(ratio "${back:-99}" 10)"
