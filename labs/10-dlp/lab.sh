# labs/10-dlp/lab.sh - lab 10 for bin/lab: its pieces and its checks.
LAB_TITLE="Data-leak prevention at step 6: masking card numbers and keys"
LAB_STEPS="6, 7"

lab_start() {
	start_backends
	start_proxy_lab $(three_fixed) --dlp detect
}

# near FILE: the part of /leak after its "Near misses" heading.
near() { sed -n '/Near misses/,$p' "$1"; }
# chunks URL: the chunk data of a chunked response, chunks joined by '|'.
chunks() { on proxy curl -s --raw --max-time 10 "$1" | awk 'BEGIN { RS = "\r\n"; ORS = "" } NR % 2 == 0 { print (NR > 2 ? "|" : "") $0 }'; }
# same A B: "same" when files A and B hold the same bytes.
same() { command cmp -s "$1" "$2" && echo same; }

lab_check() {
	backends
	local d; d=$(l7_dir)
	on proxy curl -s --max-time 10 "http://$B1/leak" >"$d/leak.direct"
	proxy --backend "b1=$B1" --dlp detect
	part "1. Detect: counted, not changed"
	get /leak -H 'X-Request-ID: lab10-detect' >"$d/leak.detect"
	expect "the page comes through byte for byte" "$(same "$d/leak.direct" "$d/leak.detect")" same
	wait_event '.event == "dlp" and .id == "lab10-detect"'
	expect "the step-6 event counts what it found, by type" \
		"$(events 'select(.event == "dlp" and .id == "lab10-detect") | [.action, .found] | tostring')" \
		'["detected",{"card":6,"ssn":6,"aws-key":1,"secret":1}]'
	expect "and never shows a value: no digit of a card in the events" "$(grep -c '4111\|1111 1111' "$EVENTS")" 0

	part "2. Mask: the last four, the same length"
	proxy --backend "b1=$B1" --dlp mask
	get /leak -D "$d/head.mask" >"$d/leak.mask"
	expect "Alice's card and SSN keep their last four" \
		"$(grep -o '<td>Alice Example</td>.*</tr>' "$d/leak.mask")" \
		"<td>Alice Example</td><td>**** **** **** 1111</td><td>***-**-1120</td></tr>"
	expect "the AWS key id keeps its last four characters" "$(grep -o 'api_key=[^<]*' "$d/leak.mask" | head -n 1)" \
		"api_key=****************MPLE"
	expect "Content-Length is the server's, and the body that long" \
		"$(tr -d '\r' <"$d/head.mask" | awk -F': ' 'tolower($1) == "content-length" { print $2 }') $(wc -c <"$d/leak.mask")" \
		"$(wc -c <"$d/leak.direct") $(wc -c <"$d/leak.direct")"
	expect "the near misses pass untouched (Luhn-invalid, dates, phone numbers, ISBN...)" \
		"$([ "$(near "$d/leak.mask")" = "$(near "$d/leak.direct")" ] && echo untouched)" untouched

	part "3. A number cut in two"
	expect "the server cuts each value five bytes in, at a chunk boundary" \
		"$(chunks "http://$B1/leak?chunked=1&split=5" | grep -o '<td>Alice Example</td><td>[^<]*</td>')" \
		"<td>Alice Example</td><td>4111 |1111 1111 1111</td>"
	expect "through the proxy the number is found whole, and masked" \
		"$(get '/leak?chunked=1&split=5' | grep -o '<td>Alice Example</td><td>[^<]*</td>')" \
		"<td>Alice Example</td><td>**** **** **** 1111</td>"
	get '/leak?chunked=1&split=3' >"$d/leak.split3"
	expect "the masked page is the same whatever the cuts" "$(same "$d/leak.split3" "$d/leak.mask")" same

	part "4. Compression"
	expect "the server is asked for identity encoding, whatever the client accepts" \
		"$(get /echo -H 'Accept-Encoding: gzip, br' | jq -r '.headers[] | select(.[0] == "Accept-Encoding") | .[1]')" identity

	part "5. Block"
	proxy --backend "b1=$B1" --dlp block
	expect "a page with leaks is refused with 502, and nothing of it sent" \
		"$(get /leak -H 'X-Request-ID: lab10-block' | head -n 2 | paste -sd' ')" \
		"502 Bad Gateway The proxy's data-leak filter withheld this response: card number in the response body."
	expect "a clean page passes whole" "$(get / | cut -c1-10)" "hello from"
	wait_event '.event == "dlp" and .id == "lab10-block"'
	expect "the step-6 event says blocked, and why" \
		"$(events 'select(.event == "dlp" and .id == "lab10-block") | "\(.action): \(.reason)"')" \
		"blocked: card number in the response body"
}
