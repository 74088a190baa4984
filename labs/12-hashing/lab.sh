# labs/12-hashing/lab.sh - lab 12 for bin/lab: its pieces and its checks.
LAB_TITLE="Keeping a key on its server: consistent hashing, and what a removal moves"
LAB_STEPS="3"
KEYS=10000

# b1..b3 as every lab's, and b4 (127.0.12.14) for the fourth server.
lab_start() {
	local p=$L7LAB_BACKEND_PORT
	piece backends "$L7_BIN/mockserver" --listen "$B1_IP:$p" --name b1 --listen "$B2_IP:$p" --name b2 \
		--listen "$B3_IP:$p" --name b3 --listen "$LAB_NET.14:$p" --name b4
	start_proxy_lab $(three_fixed) --backend "b4=$LAB_NET.14:$p" --balance hash:uri
}

# where FILE: for each of the KEYS keys /k/1 ... (one curl, one keep-alive
# connection), the server that answered, one a line, into FILE.
where() {
	local cfg; cfg=$(l7_dir)/keys.curl
	for ((k = 1; k <= KEYS; k++)); do
		printf 'url = "http://%s/k/%d"\noutput = /dev/null\n' "$P" "$k"
	done >"$cfg"
	on client curl -s -K "$cfg" -w '%header{x-backend}\n' >"$1"
}

# moved A B: keys whose server differs between the maps A and B.
moved() { paste -d' ' "$1" "$2" | awk '$1 != $2 { n++ } END { print n + 0 }'; }

# modulo_moved: the keys plain "hash mod N" moves from 4 servers to 3
# (djb2, h = h * 33 + byte, on 32 bits, the same hash for both).
modulo_moved() {
	awk -v n="$KEYS" 'BEGIN {
		for (i = 0; i < 256; i++) ord[sprintf("%c", i)] = i
		for (k = 1; k <= n; k++) {
			s = "/k/" k; h = 5381
			for (j = 1; j <= length(s); j++) h = (h * 33 + ord[substr(s, j, 1)]) % 4294967296
			moved += (h % 4) != (h % 3)
		}
		print moved
	}'
}

lab_check() {
	backends
	_backend b4 "$LAB_NET.14" || return 1
	local b4; b4=$(backend_addr b4)
	local d; d=$(l7_dir)
	part "1. The same key, the same server"
	proxy $(three) --backend "b4=$b4" --balance hash:uri
	where "$d/four"
	expect_true "each of the four servers holds about a quarter of the $KEYS keys (20-30%)" \
		"$(sort "$d/four" | uniq -c | awk -v n="$KEYS" '$1 < n * 0.2 || $1 > n * 0.3 { bad = 1 } END { print (NR == 4 && !bad) ? 1 : 0 }')" \
		"$(sort "$d/four" | uniq -c | awk '{ printf "%s %s  ", $2, $1 }')" "2,000 to 3,000 each"
	where "$d/again"
	expect "asked again, every key goes to the same server" "$(moved "$d/four" "$d/again")" 0

	part "2. Remove one server"
	proxy $(three) --balance hash:uri
	where "$d/three"
	local m wrong
	m=$(moved "$d/four" "$d/three")
	wrong=$(paste -d' ' "$d/four" "$d/three" | awk '$1 != $2 && $1 != "b4" { n++ } END { print n + 0 }')
	expect_true "removing b4 moves only b4's keys: at most 30%, none between the others" \
		"$(( $(cmp "$m" "<=" $((KEYS * 30 / 100))) && wrong == 0 ))" "$m moved, $wrong between the others" \
		"at most 3,000, 0 between the others"
	local mm; mm=$(modulo_moved)
	expect_true "plain hash mod N would have moved about 75%" "$(between "$mm" $((KEYS * 70 / 100)) $((KEYS * 80 / 100)))" \
		"$mm of $KEYS" "7,000 to 8,000"

	part "3. A server goes down"
	proxy $(three) --backend "b4=$b4" --balance hash:uri --max-fails 1
	l7_stop b4
	where "$d/down"
	m=$(moved "$d/four" "$d/down")
	wrong=$(paste -d' ' "$d/four" "$d/down" | awk '$1 != $2 && $1 != "b4" { n++ } END { print n + 0 }')
	expect_true "with b4 down its keys go to the next servers on the ring, and no other key moves" \
		"$(( wrong == 0 && $(cmp "$m" ">" 0) ))" "$m moved, $wrong between the others" "b4's keys only"
	expect "and the answer to every key still comes" "$(grep -c . "$d/down")" "$KEYS"
}
