#!/usr/bin/env bats
# tracer --html: the ladder page in Debian's headless Chromium (driven over
# WebDriver, tests/helpers.bash): it loads with no console error, shows as
# many arrows as the capture has packets, steps through them with the
# buttons and the arrow keys, and shows a packet's details on a click.

load helpers
bats_require_minimum_version 1.5.0

FX=$BATS_TEST_DIRNAME/fixtures
ARGS=(--proxy 127.0.0.2:8080 --backends 127.0.0.11:9001,127.0.0.12:9001,127.0.0.13:9001)

setup_file() {
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || return 0
	browser_start
}

teardown_file() {
	browser_stop
	stop_all_file
}

setup() {
	command -v chromium >/dev/null && command -v chromedriver >/dev/null ||
		skip "chromium and chromedriver are not installed (bin/install-deps installs them)"
}

# ladder FIXTURE: writes its page and opens it in the browser.
ladder() {
	"$L7_BIN/tracer" -r "$FX/$1.pcap" "${ARGS[@]}" --html "$BATS_TEST_TMPDIR/$1.html" 2>/dev/null
	browser_open "file://$BATS_TEST_TMPDIR/$1.html"
}

# The highlighted step: "STEP/REQUEST/ARROWS" of the current stop, or "none".
ON='var e = document.querySelectorAll("svg .on");
    return e.length ? e[0].getAttribute("data-step") + "/" + e[0].getAttribute("data-req") + "/" + e.length : "none";'

# key NAME: a key pressed on the page, then the highlighted step.
key() {
	browser_eval "document.dispatchEvent(new KeyboardEvent('keydown', {key: '$1', bubbles: true})); $ON"
}

@test "the ladder page loads without a console error and has an arrow per packet" {
	ladder nginx-retry
	run browser_errors
	assert_output ""
	run browser_eval 'return document.querySelectorAll("svg .arrow").length'
	assert_output "$("$L7_BIN/tracer" -r "$FX/nginx-retry.pcap" "${ARGS[@]}" --json 2>/dev/null | wc -l)"
	run browser_eval 'return document.querySelectorAll("ol.legend li").length + " " + document.querySelectorAll("svg .decide").length'
	assert_output "7 3"
}

@test "next step, previous step and next request move through the ladder, the rest dimmed" {
	ladder haproxy-concurrent8
	run browser_eval "document.getElementById('next').click(); $ON"
	assert_output --regexp '^1/1/[0-9]+$'
	local first=$output
	run browser_eval 'return document.querySelector("svg.ladder").classList.contains("stepping")'
	assert_output true
	run browser_eval "document.getElementById('next').click(); $ON"
	refute_output "$first"
	local second=$output
	run browser_eval "document.getElementById('prev').click(); $ON"
	assert_output "$first"
	run browser_eval "document.getElementById('nextreq').click(); $ON"
	refute_output --regexp '^[0-9]+/1/'
	run browser_errors
	assert_output ""
}

@test "the arrow keys step through the ladder too" {
	ladder nginx-one
	run key ArrowRight
	assert_output --regexp '^1/1/'
	run key ArrowRight
	assert_output --regexp '^2/1/'
	run key ArrowLeft
	assert_output --regexp '^1/1/'
	run key n
	refute_output --regexp '^1/1/'
}

@test "a click on an arrow shows its flags, seq/ack, bytes and the head it starts" {
	ladder l7lab-one
	run browser_eval 'var a = document.querySelectorAll("svg .arrow")[8].querySelector("line");
		a.dispatchEvent(new MouseEvent("click", {bubbles: true}));
		return document.getElementById("info").textContent'
	assert_output --partial "frame 9"
	assert_output --partial "seq / ack1 / 1"
	assert_output --partial "flagsPSH ACK"
	assert_output --partial "headers seenGET / HTTP/1.1"
	assert_output --partial "X-Forwarded-For: 127.0.0.1"
}

@test "the ladder page is self-contained: nothing is fetched from elsewhere" {
	"$L7_BIN/tracer" -r "$FX/haproxy-healthcheck.pcap" "${ARGS[@]}" --html "$BATS_TEST_TMPDIR/p.html" 2>/dev/null
	run grep -Eo '(src|href)=|@import|url\([^#]|https?://[a-z0-9.]+' "$BATS_TEST_TMPDIR/p.html"
	assert_output "http://www.w3.org"
}

@test "the ladder shows the retry as the proxy deciding again, and marks its packets" {
	"$L7_BIN/tracer" -r "$FX/nginx-retry.pcap" "${ARGS[@]}" --html "$BATS_TEST_TMPDIR/p.html" 2>/dev/null
	run grep -o '3 proxy decides +[0-9.]* ms → b2 again (retry)' "$BATS_TEST_TMPDIR/p.html"
	assert_success
	run grep -o 'class="mark">\[retry' "$BATS_TEST_TMPDIR/p.html"
	output=$(wc -l <<<"$output")
	[ "$output" -ge 5 ]
}
