#!/usr/bin/env bats
# tracer --html: the ladder page, checked in Debian's headless chromium by
# tests/html/ladder-check.html: it loads with no console message, shows as
# many arrows as the capture has packets, and steps through them (buttons
# and arrow keys), and a click on an arrow shows its details.

load helpers
bats_require_minimum_version 1.5.0

FX=$BATS_TEST_DIRNAME/fixtures
ARGS=(--proxy 127.0.0.2:8080 --backends 127.0.0.11:9001,127.0.0.12:9001,127.0.0.13:9001)

setup() {
	command -v chromium >/dev/null || skip "chromium is not installed (bin/install-deps installs it)"
}

# ladder_check FIXTURE: writes its page, opens it in chromium through the
# checker, and leaves the checker's line in $output, chromium's log in
# $BATS_TEST_TMPDIR/chromium.err.
ladder_check() {
	local page=$BATS_TEST_TMPDIR/$1.html n
	"$L7_BIN/tracer" -r "$FX/$1.pcap" "${ARGS[@]}" --html "$page" 2>/dev/null
	n=$("$L7_BIN/tracer" -r "$FX/$1.pcap" "${ARGS[@]}" --json 2>/dev/null | wc -l)
	run timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-extensions --no-first-run --user-data-dir="$BATS_TEST_TMPDIR/chromium" \
		--allow-file-access-from-files --enable-logging=stderr --v=0 --virtual-time-budget=10000 \
		--dump-dom "file://$BATS_TEST_DIRNAME/html/ladder-check.html#$page|$n" 2>"$BATS_TEST_TMPDIR/chromium.err"
	output=$(grep -o 'RESULT [^<]*' <<<"$output")
}

@test "the ladder page loads without console messages and has an arrow per packet" {
	ladder_check nginx-retry
	assert_output --regexp '^RESULT ok arrows=28 '
	run grep 'CONSOLE' "$BATS_TEST_TMPDIR/chromium.err"
	assert_output ""
}

@test "the ladder steps through a busy trace one step and one request at a time" {
	ladder_check haproxy-concurrent8
	assert_output --regexp '^RESULT ok arrows=[0-9]+ steps 1/1/0/[0-9]+ '
	run grep 'CONSOLE' "$BATS_TEST_TMPDIR/chromium.err"
	assert_output ""
}

@test "the ladder page is self-contained: nothing is fetched from elsewhere" {
	"$L7_BIN/tracer" -r "$FX/haproxy-healthcheck.pcap" "${ARGS[@]}" --html "$BATS_TEST_TMPDIR/p.html" 2>/dev/null
	run grep -Eo '(src|href)=|@import|url\([^#]|https?://[a-z0-9.]+' "$BATS_TEST_TMPDIR/p.html"
	assert_output "http://www.w3.org"
}

@test "the ladder shows the seven steps' legend, the decisions and what each packet is" {
	"$L7_BIN/tracer" -r "$FX/nginx-retry.pcap" "${ARGS[@]}" --html "$BATS_TEST_TMPDIR/p.html" 2>/dev/null
	run grep -o '<li><span style' "$BATS_TEST_TMPDIR/p.html"
	output=$(wc -l <<<"$output")
	assert_output 7
	run grep -o '3 proxy decides +[0-9.]* ms → b2 again (retry)' "$BATS_TEST_TMPDIR/p.html"
	assert_success
	run grep -o 'class="mark">\[retry' "$BATS_TEST_TMPDIR/p.html"
	output=$(wc -l <<<"$output")
	[ "$output" -ge 5 ]
}
