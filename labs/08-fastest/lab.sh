# labs/08-fastest/lab.sh - lab 08 for bin/lab: its pieces and its checks.
LAB_TITLE="Balancing by response time: ewma, one slow server, its recovery"
LAB_STEPS="3, 6"

# b1 and b2 answer in 2 ms, b3 in 20 ms until SIGUSR2 (then 2 ms).
lab_start() {
	local p=$L7LAB_BACKEND_PORT
	piece b12 "$L7_BIN/mockserver" --delay 2ms --listen "$B1_IP:$p" --name b1 --listen "$B2_IP:$p" --name b2
	piece b3 "$L7_BIN/mockserver" --listen "$B3_IP:$p" --name b3 --delay 20ms --delay-after usr2:2ms
	start_proxy_lab $(three_fixed) --balance ewma
}

# share3 FILE FROM TO: b3's share (%) of the requests that ended in
# seconds FROM to TO of a loadgen --timeline FILE.
share3() {
	awk -F, -v from="$2" -v to="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "X-Backend:b3") c = i; next }
		$1 >= from && $1 <= to { n += $2; s += c ? $c : 0 } END { printf "%.0f\n", n ? 100 * s / n : 0 }' "$1"
}

# until_decided N: until the proxy made N step-3 decisions (20 s at most).
until_decided() {
	local i
	for ((i = 0; i < 2000; i++)); do
		[ "$(grep -c '"event":"decide"' "$EVENTS")" -ge "$1" ] && return 0
		sleep 0.01
	done
	return 1
}

# until_gone PID: until PID has exited (30 s at most).
until_gone() {
	local i
	for ((i = 0; i < 3000; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.01
	done
	return 1
}

lab_check() {
	backends --delay 2ms -- --delay 2ms -- --delay 20ms --delay-after usr2:2ms
	part "1. One slow server"
	proxy $(three) --balance roundrobin
	lg -r 300 -c 32 -d 3s "http://$P/"
	local rr90 rrshare
	rr90=$(lgf '.latency_us.p90 / 1000') rrshare=$(lgf '100 * .by_header.b3 / .requests')
	expect_true "round robin sends b3 its third, and a third of the answers take 20 ms" \
		"$(( $(between "$rrshare" 30 37) && $(cmp "$rr90" ">=" 20) ))" \
		"b3 $(lgf '.by_header.b3') of $(lgf .requests), p90 $rr90 ms" "about 33%, p90 from 20 ms"
	proxy $(three) --balance ewma
	lg -r 300 -c 32 -d 3s "http://$P/"
	# (0.1% at load 6; a machine that stalls its processes for 100 ms
	# lifts the fast servers' peak estimates too, and b3 gets more)
	expect_true "ewma sends b3 less than round robin does (under 30%)" \
		"$(cmp "$(lgf '100 * (.by_header.b3 // 0) / .requests')" "<" 30)" \
		"b3 $(lgf '.by_header.b3 // 0') of $(lgf .requests)" "under 30%" \
		"the step-3 reason shows why: b3's estimate times its requests in flight"
	expect_true "each step-3 decision shows both candidates' costs" \
		"$(events 'select(.event == "decide") | .reason' | grep -c -E '^ewma: b[123]: [0-9.]+ ms × [0-9]+ = [0-9.]+ vs b[123]: ' | awk '{ print ($1 > 0) }')" \
		"$(events 'select(.event == "decide") | .reason' | tail -n 1)" "ewma: b1: 2.1 ms × 1 = 2.1 vs b3: 20.4 ms × 1 = 20.4 -> b1"

	part "2. The slow server recovers"
	proxy $(three) --balance ewma
	local tl; tl=$(l7_dir)/timeline.csv
	# 1,000 a second: at 300, b3's few samples after its recovery each pull
	# its estimate down only part of the way, and the climb back takes longer
	l7_spawn lgrec $(onp client) "$L7_BIN/loadgen" -r 1000 -c 64 -d 16s --timeline "$tl" "http://$P/"
	until_decided 4000                # about 4 s into the run
	kill -USR2 "$(l7_pid b3)"
	until_gone "$(l7_pid lgrec)"
	local before after
	before=$(share3 "$tl" 0 3) after=$(share3 "$tl" 13 15)
	expect_true "within 10 s of its recovery b3 is back near a third (25% or more in seconds 13-15, up from seconds 0-3)" \
		"$(( $(cmp "$after" ">=" 25) && $(cmp "$after" ">" "$before") ))" "$before% in seconds 0-3, $after% in 13-15" \
		"more than before, and 25% or more" \
		"its estimate decays with time (--ewma-decay 3s), so ewma tries it again and learns it is fast"
}
