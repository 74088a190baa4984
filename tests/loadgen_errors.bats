#!/usr/bin/env bats
# loadgen when things go wrong: each error kind produced by a mockserver
# fault and classified right, proxy-made 5xx apart from backend 5xx, a
# stalled server that cannot stretch the run, and bad input at start (one
# line, exit 2).

load helpers

setup_file() {
	local raw="$BATS_FILE_TMPDIR/raw"
	mkdir -p "$raw"
	printf 'this is not HTTP at all\r\n\r\n' >"$raw/garbage.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it' >"$raw/short.http"
	printf 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' >"$raw/proxy502.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nka' >"$raw/ka.http"
	start_bg_file m "$L7_BIN/mockserver" --raw-dir "$raw" --listen 127.0.0.1:0 --name b1 \
		--listen 127.0.0.1:0 --name q \
		--listen 127.0.0.1:0 --name f --fail-rate 0.2 --fail-status 503 --drop-rate 0.1 --reset-rate 0.1 --seed 7
}
teardown_file() { stop_all_file; }
teardown() {
	[ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2>/dev/null
	stop_all
}

lg() { "$L7_BIN/loadgen" "$@"; }
b1() { echo "http://$(addr_of m b1)"; }

@test "a server that closes without answering counts as closed early" {
	run lg -c 4 -n 40 --json "$(b1)/drop"
	assert_success
	assert_equal "$(jq .errors.closed <<<"$output")" 40
	assert_equal "$(jq .errors_total <<<"$output")" 40
	assert_equal "$(jq .requests <<<"$output")" 0
}

@test "a server that closes in the middle of a response counts as closed early" {
	run lg -c 2 -n 10 --json "$(b1)/raw/short.http"
	assert_success
	assert_equal "$(jq .errors.closed <<<"$output")" 10
}

@test "a server that resets the connection counts as reset" {
	run lg -c 4 -n 40 --json "$(b1)/reset"
	assert_success
	assert_equal "$(jq .errors.reset <<<"$output")" 40
	assert_equal "$(jq .errors_total <<<"$output")" 40
}

@test "a server that never answers counts as read timeout after --timeout" {
	SECONDS=0
	run lg -c 2 -n 4 --timeout 200ms --json "$(b1)/hang"
	assert_success
	assert_equal "$(jq .errors.timeout <<<"$output")" 4
	[ "$SECONDS" -le 3 ]
}

@test "a response that is not HTTP counts as malformed" {
	run lg -c 2 -n 10 --json "$(b1)/raw/garbage.http"
	assert_success
	assert_equal "$(jq .errors.malformed <<<"$output")" 10
	assert_equal "$(jq .errors_total <<<"$output")" 10
}

@test "the text summary names the error kinds" {
	run lg -c 2 -n 10 "$(b1)/reset"
	assert_success
	assert_line '  errors        10 reset'
	assert_line '  status        none'
}

@test "a connection the server's full accept queue never takes counts as connect timeout" {
	start_bg full "$L7_TEST_TOOLS/tcphole" 127.0.0.1   # loadgen's check at start takes its one place
	run lg -c 2 -n 4 --timeout 300ms --json "http://$(addr_of full)/"
	assert_success
	assert_equal "$(jq .errors.connect_timeout <<<"$output")" 4
}

@test "connections refused during the run are counted and the run goes on" {
	start_bg dying "$L7_BIN/mockserver" --grace 0 --listen 127.0.0.1:0 --name dying
	# -d 60s never ends by itself here: loadgen is stopped (SIGINT: report
	# and exit 0) once it has logged (-v) a refused connection.
	spawn lg "$L7_BIN/loadgen" -v -c 2 -d 60s --json "http://$(addr_of dying)/"
	wait_until bash -c "curl -s http://$(addr_of dying)/stats | jq -e '.dying.requests > 100' >/dev/null"
	stop_bg dying || fail "mockserver did not exit 0"
	wait_for_lines "$(err_of lg)" 'connect_refused' 1 "$(pid_of lg)"
	kill -INT "$(pid_of lg)"
	wait_exit lg || fail "loadgen exited with status $?"
	jq -e '.requests > 100 and .errors.connect_refused > 0 and .interrupted' "$(out_of lg)"
}

@test "a server that closes a kept-alive connection gets the next request on a new one" {
	# ka.http promises keep-alive, then the server closes while loadgen
	# waits for its next turn: the run goes on instead of stalling.
	run timeout 10 "$L7_BIN/loadgen" -c 1 -n 5 --json "$(b1)/raw/ka.http"
	assert_success
	jq -e '.requests >= 1 and .requests + .errors_total == 5 and .connections_opened >= 2' <<<"$output"
}

@test "a 5xx without the by-header header counts as made by the proxy" {
	run lg -c 2 -n 10 --json "$(b1)/raw/proxy502.http"
	assert_success
	assert_equal "$(jq '.status["502"]' <<<"$output")" 10
	assert_equal "$(jq .http_5xx.proxy <<<"$output")" 10
	assert_equal "$(jq .http_5xx.backend <<<"$output")" 0
	run lg -c 2 -n 10 "$(b1)/raw/proxy502.http"
	assert_line '  5xx           10 made by the proxy (no X-Backend header) · 0 from a backend'
}

@test "a 5xx with the by-header header counts as a backend error" {
	run lg -c 2 -n 10 --json "$(b1)/status/503"
	assert_success
	assert_equal "$(jq .http_5xx.backend <<<"$output")" 10
	assert_equal "$(jq .http_5xx.proxy <<<"$output")" 0
}

@test "with mockserver's fault rates, loadgen's counts equal mockserver's /stats" {
	run lg -c 4 -n 400 --json "http://$(addr_of m f)/"
	assert_success
	local stats; stats=$(curl -s "http://$(addr_of m q)/stats")
	assert_equal "$(jq .errors.closed <<<"$output")" "$(jq .f.dropped <<<"$stats")"
	assert_equal "$(jq .errors.reset <<<"$output")" "$(jq .f.reset <<<"$stats")"
	assert_equal "$(jq '.status["503"]' <<<"$output")" "$(jq '.f.status["503"]' <<<"$stats")"
	assert_equal "$(jq '.status["200"]' <<<"$output")" "$(jq '.f.status["200"]' <<<"$stats")"
	assert_equal "$(jq '.requests + .errors_total' <<<"$output")" 400
	jq -e '.errors.closed > 10 and .errors.reset > 10 and .status["503"] > 20' <<<"$output"
}

@test "a stalled server cannot stretch the run past -d plus --timeout" {
	start_bg stall "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name stall
	STOPPED=$(pid_of stall)
	kill -STOP "$STOPPED"
	SECONDS=0
	run timeout 10 "$L7_BIN/loadgen" -c 4 -d 1s --timeout 500ms --json "http://$(addr_of stall)/"
	kill -CONT "$STOPPED"
	assert_success
	[ "$SECONDS" -le 3 ]
	jq -e '.requests == 0 and .errors.timeout > 0' <<<"$output"
}

# ---- bad input: one line on stderr, exit 2 ----------------------------------

@test "an https URL is refused: HTTP/1.x over TCP only" {
	run lg -n 1 https://127.0.0.1/
	assert_failure 2
	assert_output 'loadgen: https://127.0.0.1/: https is not supported: loadgen speaks HTTP/1.x over plain TCP (use http://)'
}

@test "a malformed URL is refused" {
	for u in 'http://' '127.0.0.1:80/' 'http://h:99999/' 'http://a b/' 'ftp://h/'; do
		run lg -n 1 "$u"
		assert_failure 2
		assert_equal "${#lines[@]}" 1
		assert_output --regexp "^loadgen: "
	done
}

@test "an unresolvable host is refused" {
	run lg -n 1 http://no-such-host.invalid/
	assert_failure 2
	assert_equal "${#lines[@]}" 1
	assert_output --partial 'no-such-host.invalid: cannot resolve'
}

@test "an unreachable target is refused at start" {
	start_bg gone "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name gone
	local a; a=$(addr_of gone)
	stop_bg gone || fail "mockserver did not exit 0"
	run lg -n 1 "http://$a/"
	assert_failure 2
	assert_output "loadgen: connect $a: Connection refused"
}

@test "a --source address that is not local is refused at start" {
	run lg -n 1 --source 192.0.2.1 "$(b1)/"
	assert_failure 2
	assert_output 'loadgen: bind 192.0.2.1:0: Cannot assign requested address'
}

@test "bad flags print one line and a hint, and exit 2" {
	local args
	for args in "-c 0" "-c x" "-n -1" "-d 0" "-d 5parsecs" "-r 0" "-r fast" "-t 0" "-t 3 -c 2" \
		"--slow 3" "--slow 0:10" "-H NoColon" "-H Content-Length:3" "-m GET/" "--by-header a:b" \
		"--timeout 0" "--source nope" "--source 127.0.0.1:80" "--bogus" "-c"; do
		run lg $args "$(b1)/"
		assert_failure 2
		assert_line --index 0 --regexp '^loadgen: '
		assert_line --index 1 "Try 'loadgen --help'."
	done
}

@test "a missing URL is a usage error" {
	run lg -n 1
	assert_failure 2
	assert_line --index 0 'loadgen: expected a URL (http://HOST[:PORT][/PATH])'
}

@test "an unreadable --body file and an unwritable --hdr file are refused at start" {
	run lg -n 1 --body /nonexistent/body "$(b1)/"
	assert_failure 2
	assert_output 'loadgen: --body: open /nonexistent/body: No such file or directory'
	run lg -n 1 --hdr /nonexistent/dir/out.hdr "$(b1)/"
	assert_failure 2
	assert_output 'loadgen: --hdr: open /nonexistent/dir/out.hdr: No such file or directory'
}
