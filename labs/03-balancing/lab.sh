# labs/03-balancing/lab.sh - lab 03 for bin/lab: its pieces and its checks.
LAB_TITLE="Which server? Round robin, least connections, random"
LAB_STEPS="3"
LAB_TOPOLOGY=1

lab_start() {
	start_backends
	start_proxy_lab -c "$LAB_DIR/roundrobin.conf"
}

lab_check() {
	backends
	proxy -c "$(lab_conf "$LAB_DIR/roundrobin.conf")"
	part "1. Weighted round robin, exactly"
	local order= i
	for i in 1 2 3 4 5 6 7; do order+="$(xbackend /) "; done
	expect "weights 5, 1, 1 send seven requests b1 b1 b2 b1 b3 b1 b1" "${order% }" "b1 b1 b2 b1 b3 b1 b1"
	expect "each decision says why" "$(events 'select(.event == "decide") | .reason' | head -n 1)" \
		"roundrobin: next in turn (b1 w5: 0 in flight, b2 w1: 0, b3 w1: 0)"
	lg -c 10 -n 7000 "http://$P/"
	expect "7,000 requests over 10 connections split exactly 5,000 / 1,000 / 1,000" \
		"$(lgf '[.by_header.b1, .by_header.b2, .by_header.b3] | map(tostring) | join(" / ")')" "5000 / 1000 / 1000"

	part "2. One slow backend (b1 answers 200 ms late)"
	l7_stop b1; l7_stop b2; l7_stop b3
	backends --delay 200ms
	local conf; conf=$(lab_conf "$LAB_DIR/leastconn.conf")
	proxy -c "$conf" --balance roundrobin
	lg -c 8 -n 240 "http://$P/"
	expect "round robin still gives b1 a third of the requests" "$(lgf .by_header.b1)" 80
	proxy -c "$conf"
	lg -c 8 -d 2s "http://$P/"
	expect_true "least connections sends b1 almost nothing (under 5%)" \
		"$(cmp "$(lgf '.by_header.b1 // 0')" '<' "$(lgf '.requests * 0.05')")" \
		"b1 $(lgf '.by_header.b1 // 0') of $(lgf .requests)" "under 5%" "leastconn counts requests in flight: b1's stay in flight 200 ms"
	proxy -c "$conf" --balance random
	lg -c 8 -d 2s "http://$P/"
	expect_true "random with two choices does nearly as well (under 10%)" \
		"$(cmp "$(lgf '.by_header.b1 // 0')" '<' "$(lgf '.requests * 0.10')")" \
		"b1 $(lgf '.by_header.b1 // 0') of $(lgf .requests)" "under 10%"
}
