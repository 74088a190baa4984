#!/usr/bin/env bats
# proxy, step 6: data-leak prevention wired in (--dlp, --dlp-types,
# --dlp-block-limit, --dlp-over-limit, --dlp-compressed).  mockserver's /leak
# serves fake card numbers, SSNs and AWS keys beside near misses, whole,
# chunked, or cut inside every value.  Mask keeps the length and the last
# four; block answers 502; the framing of HEAD, 204 and 304 is kept; the
# step-6 event names types and counts, never a value.  (The scanner byte by
# byte is tests/unit/test_proxy_dlp.c's.)

load helpers

setup_file() {
	export RAW_DIR=$BATS_FILE_TMPDIR/raw
	mkdir -p "$RAW_DIR"
	local card='4111 1111 1111 1111' n
	n=$(printf '%s' "$card" | wc -c)
	printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s' \
		"$n" "$card" >"$RAW_DIR/gzip.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n%s' "$n" "$card" >"$RAW_DIR/png.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' "$n" "$card" >"$RAW_DIR/untyped.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n{"card":"4111-1111-1111-1111","n":1}\n' \
		>"$RAW_DIR/json.http"
	# Heads that carry no body whatever they say: what follows is not theirs.
	local injected='HTTP/1.1 299 Injected\r\nContent-Length: 0\r\n\r\n'
	n=$(printf "$injected" | wc -c)
	printf "HTTP/1.1 204 No Content\r\nContent-Type: text/html\r\nContent-Length: $n\r\n\r\n$injected" >"$RAW_DIR/204.http"
	printf "HTTP/1.1 304 Not Modified\r\nContent-Type: text/html\r\nContent-Length: $n\r\n\r\n$injected" >"$RAW_DIR/304.http"
	start_bg_file mock "$L7_BIN/mockserver" --raw-dir "$RAW_DIR" --listen 127.0.0.11:0 --name b1
	export B1=$(addr_of mock b1)
	start_bg_file pm "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" --dlp mask \
		--events "$BATS_FILE_TMPDIR/pm.events"
	export PM=$(addr_of pm)
	curl -s "http://$B1/leak" >"$BATS_FILE_TMPDIR/leak.direct"
	curl -s "http://$PM/leak" >"$BATS_FILE_TMPDIR/leak.masked"
}

teardown_file() { stop_all_file; }

teardown() { stop_all; }

proxy_with() { local n=$1; shift; start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "b1=$B1" "$@"; }

# The part of /leak after its "Near misses" heading.
near_misses() { sed -n '/Near misses/,$p' "$1"; }

# ---- mask ---------------------------------------------------------------

@test "mask keeps the last four digits of every card number and SSN" {
	run cat "$BATS_FILE_TMPDIR/leak.masked"
	assert_line '<tr><td>Alice Example</td><td>**** **** **** 1111</td><td>***-**-1120</td></tr>'
	assert_line '<tr><td>Erin Mock</td><td>**** ****** *0005</td><td>***-**-9999</td></tr>'
	refute_output --partial '4111 1111 1111 1111'
	refute_output --partial '078-05-1120'
}

@test "mask hides the AWS key id and the secret but their last four characters" {
	run cat "$BATS_FILE_TMPDIR/leak.masked"
	assert_line '<p>api_key=****************MPLE</p>'
	assert_line '<p>aws_secret_access_key=************************************EKEY</p>'
}

@test "mask keeps the length: Content-Length is the server's and the body has that many bytes" {
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{size_download} %header{content-length}' "http://$PM/leak"
	local direct; direct=$(wc -c <"$BATS_FILE_TMPDIR/leak.direct")
	assert_output "$direct $direct"
}

@test "near misses pass unmasked: Luhn-invalid numbers, dates, phone numbers, ISBNs" {
	assert_equal "$(near_misses "$BATS_FILE_TMPDIR/leak.masked")" "$(near_misses "$BATS_FILE_TMPDIR/leak.direct")"
	run near_misses "$BATS_FILE_TMPDIR/leak.masked"
	assert_output --partial '4111 1111 1111 1112'
	assert_output --partial '+1 415-555-0132'
	assert_output --partial '2024-03-15'
	refute_output --partial '*'
}

@test "values cut by chunk boundaries at every offset from 1 to 19 are masked the same" {
	local n
	for n in $(seq 1 19); do
		curl -s "http://$PM/leak?chunked=1&split=$n" >"$BATS_TEST_TMPDIR/split"
		cmp "$BATS_TEST_TMPDIR/split" "$BATS_FILE_TMPDIR/leak.masked" || fail "split=$n differs"
	done
}

@test "values cut across TCP segments of a Content-Length body are masked the same" {
	curl -s "http://$PM/leak?split=9&ms=20" >"$BATS_TEST_TMPDIR/split"
	cmp "$BATS_TEST_TMPDIR/split" "$BATS_FILE_TMPDIR/leak.masked"
}

@test "a chunked response stays chunked, masked, and ends with its last chunk" {
	curl -s --raw -i "http://$PM/leak?chunked=1&split=5" >"$BATS_TEST_TMPDIR/raw"
	run cat "$BATS_TEST_TMPDIR/raw"
	assert_line --partial 'Transfer-Encoding: chunked'
	assert_output --partial '**** **** **** 1111'
	cmp <(tail -c 7 "$BATS_TEST_TMPDIR/raw") <(printf '\r\n0\r\n\r\n')
}

@test "an HTTP/1.0 client gets a chunked page masked, delimited by the close" {
	curl -s -0 -D "$BATS_TEST_TMPDIR/head" "http://$PM/leak?chunked=1&split=5" >"$BATS_TEST_TMPDIR/body"
	run grep -i -c 'transfer-encoding' "$BATS_TEST_TMPDIR/head"
	assert_output 0
	cmp "$BATS_TEST_TMPDIR/body" "$BATS_FILE_TMPDIR/leak.masked"
}

@test "a JSON body is masked too" {
	run curl -s "http://$PM/raw/json.http"
	assert_output '{"card":"****-****-****-1111","n":1}'
}

@test "a body with no Content-Type is scanned, as a browser would sniff it as text" {
	run curl -s "http://$PM/raw/untyped.http"
	assert_output '**** **** **** 1111'
}

@test "an image is not scanned and passes as it came" {
	run curl -s "http://$PM/raw/png.http"
	assert_output '4111 1111 1111 1111'
}

# ---- what the log and the events say ----------------------------------------

@test "the step-6 event names each type found and its count" {
	curl -s -o /dev/null -H 'X-Request-ID: ev-6' "http://$PM/leak"
	wait_until grep -q '"id":"ev-6","step":6,"event":"dlp"' "$BATS_FILE_TMPDIR/pm.events"
	run jq -c 'select(.id == "ev-6" and .event == "dlp") | [.mode, .action, .found, .matches]' "$BATS_FILE_TMPDIR/pm.events"
	assert_output '["mask","masked",{"card":6,"ssn":6,"aws-key":1,"secret":1},14]'
}

@test "no matched value reaches the events or the access log" {
	curl -s -o /dev/null -H 'X-Request-ID: nv-6' "http://$PM/leak"
	wait_until grep -q 'id=nv-6' "$(err_of pm)"
	run cat "$BATS_FILE_TMPDIR/pm.events" "$(err_of pm)"
	refute_output --partial '1111 1111'
	refute_output --partial '078-05'
	refute_output --partial 'AKIA'
	refute_output --partial 'wJalr'
}

@test "the access log says dlp=mask and what was found" {
	curl -s -o /dev/null -H 'X-Request-ID: log-6' "http://$PM/leak"
	wait_until grep -q 'id=log-6' "$(err_of pm)"
	run grep 'id=log-6' "$(err_of pm)"
	assert_output --partial ' dlp=mask dlp_found="card=6 ssn=6 aws-key=1 secret=1"'
}

@test "a clean response is scanned and logged as clean in the event" {
	curl -s -o /dev/null -H 'X-Request-ID: clean-6' "http://$PM/"
	wait_until grep -q '"id":"clean-6","step":6,"event":"dlp"' "$BATS_FILE_TMPDIR/pm.events"
	run jq -r 'select(.id == "clean-6" and .event == "dlp") | "\(.action) \(.matches)"' "$BATS_FILE_TMPDIR/pm.events"
	assert_output 'clean 0'
}

# ---- the request: identity encoding -----------------------------------------

@test "with DLP on the server is asked for identity encoding, not the client's gzip" {
	run curl -s -H 'Accept-Encoding: gzip, br' "http://$PM/echo"
	assert_equal "$(jq -c '[.headers[] | select(.[0] == "Accept-Encoding") | .[1]]' <<<"$output")" '["identity"]'
}

@test "with DLP off the client's Accept-Encoding goes to the server as it is" {
	proxy_with po
	run curl -s -H 'Accept-Encoding: gzip, br' "http://$(addr_of po)/echo"
	assert_equal "$(jq -c '[.headers[] | select(.[0] == "Accept-Encoding") | .[1]]' <<<"$output")" '["gzip, br"]'
}

@test "a compressed text response is forwarded unscanned, and the event says why" {
	proxy_with pz --dlp mask --events "$BATS_TEST_TMPDIR/ev"
	run curl -s -H 'X-Request-ID: gz-1' "http://$(addr_of pz)/raw/gzip.http"
	assert_output '4111 1111 1111 1111'
	wait_until grep -q '"event":"dlp"' "$BATS_TEST_TMPDIR/ev"
	run jq -r 'select(.event == "dlp") | "\(.action): \(.reason)"' "$BATS_TEST_TMPDIR/ev"
	assert_output 'unscanned: compressed response (Content-Encoding), which the DLP scanner cannot read'
}

@test "--dlp-compressed block answers 502 to a compressed text response" {
	proxy_with pz --dlp mask --dlp-compressed block
	run curl -s -i "http://$(addr_of pz)/raw/gzip.http"
	assert_line --index 0 --partial 'HTTP/1.1 502'
	refute_output --partial '4111'
}

# ---- detect, block ----------------------------------------------------------

@test "detect forwards the body untouched and counts what it found" {
	proxy_with pd --dlp detect --events "$BATS_TEST_TMPDIR/ev"
	curl -s -H 'X-Request-ID: det-6' "http://$(addr_of pd)/leak" >"$BATS_TEST_TMPDIR/body"
	cmp "$BATS_TEST_TMPDIR/body" "$BATS_FILE_TMPDIR/leak.direct"
	wait_until grep -q '"event":"dlp"' "$BATS_TEST_TMPDIR/ev"
	run jq -c 'select(.event == "dlp") | [.action, .matches]' "$BATS_TEST_TMPDIR/ev"
	assert_output '["detected",14]'
}

@test "block answers 502 with the reason and the X-Request-ID, and no byte of the page" {
	proxy_with pb --dlp block
	run curl -s -i -H 'X-Request-ID: blk-6' "http://$(addr_of pb)/leak"
	assert_line --index 0 --partial 'HTTP/1.1 502 Bad Gateway'
	assert_line --partial 'X-Request-ID: blk-6'
	assert_line --regexp "^The proxy's data-leak filter withheld this response: .*card number"
	refute_output --partial 'Customer records'
	refute_output --partial 'X-Backend'
}

@test "block logs 502 with the reason, and the step-6 event says blocked" {
	proxy_with pb --dlp block --events "$BATS_TEST_TMPDIR/ev"
	curl -s -o /dev/null -H 'X-Request-ID: blk-7' "http://$(addr_of pb)/leak?chunked=1&split=3"
	wait_until grep -q 'id=blk-7' "$(err_of pb)"
	run grep 'id=blk-7' "$(err_of pb)"
	assert_output --partial '" 502 '
	assert_output --regexp 'dlp=block .*err="dlp: [^"]*card number'
	run jq -r 'select(.event == "dlp") | "\(.action) \(.found.card)"' "$BATS_TEST_TMPDIR/ev"
	assert_output --regexp '^blocked [0-9]+$'
}

@test "block lets a clean response through whole, and the connection stays open" {
	proxy_with pb --dlp block
	local a; a=$(addr_of pb)
	run curl -s -o /dev/null -w '%{http_code} %{size_download} %{num_connects}\n' "http://$a/bytes/100000" \
		--next -s -o /dev/null -w '%{http_code} %{size_download} %{num_connects}\n' "http://$a/"
	assert_line --index 0 '200 100000 1'
	assert_line --index 1 --regexp '^200 [0-9]+ 0$'
}

@test "block with a body over --dlp-block-limit masks the rest by default" {
	proxy_with pb --dlp block --dlp-block-limit 1k
	run curl -s -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' "http://$(addr_of pb)/leak"
	assert_output 200
	run cat "$BATS_TEST_TMPDIR/body"
	assert_output --partial '**** **** **** 1111'
	assert_equal "$(wc -c <"$BATS_TEST_TMPDIR/body")" "$(wc -c <"$BATS_FILE_TMPDIR/leak.direct")"
}

@test "--dlp-over-limit block answers 502 to a body over --dlp-block-limit" {
	proxy_with pb --dlp block --dlp-block-limit 1k --dlp-over-limit block
	head -c 5000 /dev/zero | tr '\0' a >"$BATS_TEST_TMPDIR/body"
	run curl -s -i --data-binary @"$BATS_TEST_TMPDIR/body" "http://$(addr_of pb)/echo"
	assert_line --index 0 --partial 'HTTP/1.1 502'
	assert_output --partial 'over the DLP block limit'
}

@test "--dlp-types card masks card numbers and leaves SSNs alone" {
	proxy_with pt --dlp mask --dlp-types card
	run curl -s "http://$(addr_of pt)/leak"
	assert_line '<tr><td>Alice Example</td><td>**** **** **** 1111</td><td>078-05-1120</td></tr>'
}

# ---- framing: no body where there is none --------------------------------------

@test "HEAD through DLP mask: the server's Content-Length, and no body" {
	run curl -s -I "http://$PM/leak"
	assert_line --partial "Content-Length: $(wc -c <"$BATS_FILE_TMPDIR/leak.direct")"
	run curl -s -o /dev/null -w '%{http_code} %{size_download}' -X HEAD -m 3 "http://$PM/leak"
	assert_output '200 0'
}

@test "a 204 with a body-like tail passes no body on, and the next response is the next request's" {
	run raw_exchange "$PM" 'GET /raw/204.http HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' 5
	assert_equal "$(grep -a -o '^HTTP/1\.1 [0-9]*' <<<"$output" | cut -d' ' -f2 | paste -sd' ')" '204 201'
}

@test "a 304 with a body-like tail passes no body on either" {
	run raw_exchange "$PM" 'GET /raw/304.http HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' 5
	assert_equal "$(grep -a -o '^HTTP/1\.1 [0-9]*' <<<"$output" | cut -d' ' -f2 | paste -sd' ')" '304 201'
}

@test "pipelined requests through DLP block get their responses in order, each whole" {
	proxy_with pb --dlp block
	run raw_exchange "$(addr_of pb)" 'GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD /leak HTTP/1.1\r\nHost: x\r\n\r\nGET /status/201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' 5
	assert_equal "$(grep -a -o '^HTTP/1\.1 [0-9]*' <<<"$output" | cut -d' ' -f2 | paste -sd' ')" '200 200 201'
}

# ---- counters ----------------------------------------------------------------

@test "DLP's counts are in /stats and /metrics" {
	proxy_with pa --dlp mask --admin 127.0.0.1:0
	curl -s -o /dev/null "http://$(addr_of pa)/leak"
	curl -s -o /dev/null "http://$(addr_of pa)/"
	run curl -s "http://$(addr_of pa admin)/stats"
	assert_equal "$(jq -c '.dlp | [.mode, .scanned, .leaking, .blocked, .found.card, .found.ssn]' <<<"$output")" \
		'["mask",2,1,0,6,6]'
	run curl -s "http://$(addr_of pa admin)/metrics"
	assert_line 'l7lab_dlp_matches_total{type="card"} 6'
	assert_line 'l7lab_dlp_responses_total{outcome="leaking"} 1'
}

@test "SIGUSR1 prints DLP's counts on stderr" {
	proxy_with pu --dlp mask
	curl -s -o /dev/null "http://$(addr_of pu)/leak"
	kill -USR1 "$(pid_of pu)"
	wait_until grep -q 'stats dlp=' "$(err_of pu)"
	run grep 'stats dlp=' "$(err_of pu)"
	assert_output 'proxy: stats dlp=mask scanned=1 leaking=1 blocked=0 unscanned=0 card=6 ssn=6 aws-key=1 secret=1'
}

@test "--check prints the DLP settings" {
	run "$L7_BIN/proxy" --check --listen 127.0.0.2:0 --backend "$B1" --dlp block --dlp-types card,ssn \
		--dlp-block-limit 64k --dlp-over-limit block --dlp-compressed block
	assert_success
	assert_line 'dlp block'
	assert_line 'dlp-types card,ssn'
	assert_line 'dlp-block-limit 64k'
	assert_line 'dlp-over-limit block'
	assert_line 'dlp-compressed block'
}

# ---- refusals: one line, exit 2 ----------------------------------------------

refused() { run timeout 10 "$L7_BIN/proxy" --listen 127.0.0.2:0 --backend "$B1" "$@"; assert_equal "$status" 2; }

@test "--dlp with an unknown mode exits 2 naming the modes" {
	refused --dlp on
	assert_line --index 0 "proxy: --dlp: 'on' is not a DLP mode (off, detect, mask or block)"
}

@test "--dlp-types with an unknown type exits 2 naming the types" {
	refused --dlp mask --dlp-types card,iban
	assert_line --index 0 "proxy: --dlp-types: 'card,iban': expected all, or a list of card, ssn, aws-key and secret"
}

@test "--dlp-block-limit 0 exits 2" {
	refused --dlp block --dlp-block-limit 0
	assert_line --index 0 "proxy: --dlp-block-limit: '0' is out of range (1 to 67108864 bytes)"
}

@test "--dlp-over-limit other than mask or block exits 2" {
	refused --dlp block --dlp-over-limit pass
	assert_line --index 0 "proxy: --dlp-over-limit: 'pass': expected mask or block"
}

@test "--dlp-compressed other than pass or block exits 2" {
	refused --dlp block --dlp-compressed mask
	assert_line --index 0 "proxy: --dlp-compressed: 'mask': expected pass or block"
}

@test "a bad dlp line in a file names the file and the line" {
	printf 'listen 127.0.0.2:0\nbackend %s\ndlp shred\n' "$B1" >"$BATS_TEST_TMPDIR/p.conf"
	run timeout 10 "$L7_BIN/proxy" -c "$BATS_TEST_TMPDIR/p.conf"
	assert_equal "$status" 2
	assert_output "proxy: $BATS_TEST_TMPDIR/p.conf:3: 'shred' is not a DLP mode (off, detect, mask or block)"
}
