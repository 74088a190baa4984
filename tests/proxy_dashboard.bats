#!/usr/bin/env bats
# proxy --admin's dashboard (/) in a real browser: headless Chromium, driven
# over WebDriver (helpers: browser_*).  What a person sees: every server
# listed, figures that move as requests go through, a server that is ejected
# shown ejected in words (and colour), charts, no console errors; and the
# figures without JavaScript too.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" \
		--listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name b2
	export B1=$(addr_of mock b1) B2=$(addr_of mock b2)
	browser_start
}

teardown_file() {
	browser_stop
	stop_all_file
}

teardown() {
	# a second browser a test opened (without JavaScript)
	[ -f "$BATS_TEST_TMPDIR/session" ] && curl -s -m 30 -X DELETE "$(cat "$BATS_TEST_TMPDIR/session")" >/dev/null
	stop_all
}

# dashboard ARGS...: a proxy with --admin for one test, its dashboard open
# in the browser; sets P and A.
dashboard() {
	start_bg proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 --admin 127.0.0.1:0 --quiet "$@"
	P=$(addr_of proxy)
	A=$(addr_of proxy admin)
	browser_open "http://$A/"
}

# shown SELECTOR: the text a person reads in the first element matching SELECTOR.
shown() { browser_eval "return document.querySelector('$1').textContent.trim()"; }
shown_is() { [ "$(shown "$1")" = "$2" ]; }
shown_matches() { [[ "$(shown "$1")" =~ $2 ]]; }

@test "the dashboard lists every server of every pool with its state and weight" {
	dashboard --backend "b1=$B1" --backend "b2=$B2*3" --pool "api=a1=$B1"
	run browser_eval "return [...document.querySelectorAll('tr.server')].map(r =>
		[...r.querySelectorAll('th, .state, .weight')].map(c => c.textContent.trim()).join(' ')).join(', ')"
	assert_output 'b1 up 1, b2 up 3, a1 up 1'
	run shown 'h2'
	assert_output 'pool default · roundrobin'
}

@test "the dashboard's figures move as requests go through, without a reload" {
	dashboard --backend "b1=$B1" --backend "b2=$B2"
	run shown '#server-default-b1 .requests'
	assert_output 0
	browser_eval 'window.sameDocument = true; return 1'
	for i in 1 2 3 4 5 6; do curl -sf -o /dev/null "http://$P/"; done
	wait_for 15 shown_is '#server-default-b1 .requests' 3
	wait_for 15 shown_matches '#server-default-b1 .p50' '^[0-9.]+ ms$'
	run browser_eval 'return window.sameDocument === true'
	assert_output true
}

@test "an ejected server reads 'ejected' in its row, with the seconds it has left, and stands out" {
	dashboard --backend "b1=$B1" --backend "dead=127.0.0.14:1" --max-fails 1 --fail-timeout 60s
	for i in 1 2; do curl -sf -o /dev/null "http://$P/"; done     # dead's request is retried on b1
	wait_for 15 shown_matches '#server-default-dead .state' '^ejected [0-9]+s left$'
	run shown '#server-default-b1 .state'
	assert_output up
	run browser_eval "const bg = id => getComputedStyle(document.getElementById(id)).backgroundColor;
		return bg('server-default-dead') !== bg('server-default-b1')"
	assert_output true
	run shown '#server-default-dead .errors'
	assert_output 1
}

@test "the dashboard draws each server's last seconds as charts" {
	dashboard --backend "b1=$B1"
	for i in 1 2 3; do curl -sf -o /dev/null "http://$P/"; done
	wait_for 15 browser_eval "return document.querySelector('#server-default-b1 svg.chart.rps path') !== null || null"
	run browser_eval "return document.querySelectorAll('#server-default-b1 svg.chart').length"
	assert_output 2
	run browser_eval "return document.querySelector('#server-default-b1 svg.chart.rps title').textContent"
	assert_output --regexp '^requests per second, last 5 min, highest [0-9]+$'
}

@test "the dashboard shows an ewma pool's estimates" {
	dashboard --backend "b1=$B1" --balance ewma
	curl -sf -o /dev/null "http://$P/"
	wait_for 15 shown_matches '#server-default-b1 .ewma' '^[0-9.]+ ms$'
	run shown 'h2'
	assert_output 'pool default · ewma'
}

@test "the dashboard logs no error to the browser's console while it refreshes" {
	dashboard --backend "b1=$B1" --backend "dead=127.0.0.14:1" --balance ewma
	browser_errors >/dev/null      # forget what earlier tests left
	browser_open "http://$A/"
	local first
	first=$(shown '#updated')
	wait_for 15 browser_eval "return document.getElementById('updated').textContent !== '$first' || null"
	run browser_errors
	assert_output ''
	run shown '#status'
	assert_output '· live'
}

@test "without JavaScript the dashboard still shows every figure" {
	dashboard --backend "b1=$B1" --backend "b2=$B2"
	for i in 1 2 3 4; do curl -sf -o /dev/null "http://$P/"; done
	BROWSER=$(browser_session "$BATS_TEST_TMPDIR/profile" --no-javascript)
	echo "$BROWSER" >"$BATS_TEST_TMPDIR/session"    # teardown closes it
	browser_open "http://$A/"
	run shown '#server-default-b1 .requests'
	assert_output 2
	run shown '#server-default-b2 .requests'
	assert_output 2
	run shown 'noscript'
	assert_output 'JavaScript is off: reload the page for new figures.'
	run shown '#status'           # the script never ran
	assert_output ''
}
