# labs/09-waf/lab.sh - lab 09 for bin/lab: its pieces and its checks.
LAB_TITLE="A web application firewall at step 3 (ModSecurity, OWASP CRS)"
LAB_STEPS="2, 3"

lab_start() {
	start_backends
	start_proxy_lab $(three_fixed) --waf detect
}

# The attack of the lab: id=1' or '1'='1, percent-encoded as curl sends it.
SQLI="/echo?id=1%27%20or%20%271%27%3D%271"

# code PATH [CURL ARGS]: the status the client gets.
code() { get "$@" -o /dev/null -w '%{http_code}'; }
# served NAME: requests backend NAME has answered so far.
served() { on proxy curl -s --max-time 5 "http://$(backend_addr "$1")/stats" | jq -r '.requests'; }
# wait_log PATTERN: until the access log has a line matching PATTERN (10 s).
wait_log() { local i; for ((i = 0; i < 1000; i++)); do grep -q -e "$1" "$ACCESS" && return 0; sleep 0.01; done; return 1; }
# median_ms JQ_SELECT: the median of the matching events' ms.
median_ms() { events "select($1) | .ms" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR ? v[int((NR + 1) / 2)] : 0 }'; }

lab_check() {
	backends
	proxy --backend "b1=$B1" --waf detect
	part "1. Detect: the attack is seen, and forwarded"
	expect "in detect mode the SQL injection reaches b1 (200)" "$(code "$SQLI" -H 'X-Request-ID: lab09-detect')" 200
	wait_event '.event == "waf" and .id == "lab09-detect"'
	expect "the step-3 event says why, with libinjection's fingerprint" \
		"$(events 'select(.event == "waf" and .id == "lab09-detect") | .reason' | sed 's/s&[a-z0-9]*$/s\&.../')" \
		"SQLi in ARGS:id: libinjection fingerprint s&..."
	wait_log 'id=lab09-detect'
	expect "the access log has the rule and the matched variable" \
		"$(grep -o 'waf=[a-z]* waf_rule=[0-9]* waf_var=[^ ]*' "$ACCESS")" "waf=detect waf_rule=11100 waf_var=ARGS:id"

	part "2. Block: 403, and no backend sees it"
	proxy --backend "b1=$B1" --waf block
	local before; before=$(served b1)
	expect "the same request now gets 403 with its X-Request-ID" \
		"$(get "$SQLI" -D - -o /dev/null -H 'X-Request-ID: lab09-block' | tr -d '\r' | grep -E '^HTTP|^X-Request-ID' | paste -sd' ')" \
		"HTTP/1.1 403 Forbidden X-Request-ID: lab09-block"
	expect "b1 served no request meanwhile" "$(served b1)" "$before"
	expect "no step-3 decision was made, no step 4 happened" \
		"$(events 'select(.id == "lab09-block") | .event' | grep -c -E '^(decide|connect)$')" 0

	part "3. Where the WAF looks"
	local places
	places=$(code /echo -G --data-urlencode "q=<script>alert(1)</script>"; echo
		code /account/login --data-urlencode "username=admin' --"; echo
		code /api/orders -H 'Content-Type: application/json' -d '{"filter":{"note":"1 UNION SELECT password FROM users"}}'; echo
		code / -H "Cookie: session=1' OR '1'='1"; echo
		code / -A "<script>alert(document.domain)</script>"; echo
		code "/users/1%27%20or%201=1--/profile"; echo)
	expect "query, form, JSON body, cookie, User-Agent, path segment: all refused" "$(echo $places)" "403 403 403 403 403 403"
	local benign
	benign=$(code /echo -G --data-urlencode "q=O'Reilly books < 20 dollars"; echo
		code /echo --data-urlencode "text=Rue de l'Église, 2 > 1 & \"quotes\""; echo
		code /echo -H 'Content-Type: application/json' -d '{"note":"select the blue one, or the red"}'; echo)
	expect "quotes, angle brackets and SQL words in ordinary text pass" "$(echo $benign)" "200 200 200"

	part "4. The body limit: inspect the first N bytes, then stream"
	proxy --backend "b1=$B1" --waf block --waf-body-limit 1k
	local pad; pad=$(printf '%4000s' | tr ' ' a)
	expect "an attack in the first KiB of a 4 KiB form is refused" \
		"$(code /echo --data "x=1%27%20or%201%3D1--&pad=$pad")" 403
	expect "the same attack after 4 KiB of padding is forwarded: past the limit the body streams uninspected" \
		"$(code /echo --data "pad=$pad&x=1%27%20or%201%3D1--")" 200
	wait_event '.event == "waf" and .verdict == "pass"'
	expect "the step-3 event says how much was inspected" \
		"$(events 'select(.event == "waf" and .verdict == "pass") | .inspected' | tail -n 1)" 1024

	part "5. Two rule sets"
	proxy --backend "b1=$B1" --waf block --waf-rules crs
	expect "the OWASP Core Rule Set refuses the attack too" "$(code "$SQLI")" 403
	wait_event '.event == "waf"'
	expect "with its own rule: 942xxx, SQL injection" "$(events 'select(.event == "waf") | .rule' | head -n 1 | cut -c1-3)" 942
	expect "but also a search for hotels near Union Station (a false positive)" \
		"$(code '/echo?q=union+station+select+hotels')" 403
	proxy --backend "b1=$B1" --waf block
	expect "which the l7lab rule set lets through" "$(code '/echo?q=union+station+select+hotels')" 200

	part "6. What it costs"
	local q='/?q=red+running+shoes&category=sport&sort=price_asc&page=2'
	proxy --backend "b1=$B1" --waf detect
	lg -c 2 -n 300 "http://$P$q"
	local l7ms; l7ms=$(median_ms '.event == "waf"')
	proxy --backend "b1=$B1" --waf detect --waf-rules crs
	lg -c 2 -n 300 "http://$P$q"
	local crsms; crsms=$(median_ms '.event == "waf"')
	expect_true "the CRS spends at least twice l7lab's time on each request (median of the waf events' ms)" \
		"$(cmp "$crsms" '>=' "$(awk -v a="$l7ms" 'BEGIN { print 2 * a }')")" "l7lab $l7ms ms, crs $crsms ms" \
		"crs at least 2 x l7lab" "the CRS runs hundreds of regular expressions; l7lab mostly libinjection"
}
