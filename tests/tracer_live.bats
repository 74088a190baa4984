#!/usr/bin/env bats
# tracer live on lo (root only): mockserver behind our proxy, curl through
# it, the tracer printing each packet as it arrives and stopping cleanly on
# SIGTERM (in a --step pause too), -c and --duration with its closing line and
# the kernel's drops, and its memory flat under a minute of load.

load helpers
bats_require_minimum_version 1.5.0

# Nothing closes an idle connection while the file runs: a tracer started
# in one test sees that test's traffic only (the proxy closes a pooled
# connection 4 s after its last use, mockserver an idle one after 5 s: a
# --step tracer would pause first on that close, at step 6).
setup_file() {
	[ "$(id -u)" = 0 ] || return 0
	start_bg_file mock "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1 --listen 127.0.0.12:0 --name b2 \
		--idle-timeout 0
	start_bg_file proxy "$L7_BIN/proxy" --listen 127.0.0.2:0 \
		--backend "b1=$(addr_of mock b1)" --backend "b2=$(addr_of mock b2)" --source 127.0.0.2 --quiet \
		--timeout-pool 1h
}

teardown_file() {
	stop_all_file
}

setup() {
	[ "$(id -u)" = 0 ] || skip "live capture needs root (or CAP_NET_RAW)"
	PROXY=$(addr_of proxy)
	TARGS=(--proxy "$PROXY" --backends "$(addr_of mock b1),$(addr_of mock b2)")
}

teardown() {
	stop_all
}

# start_tracer NAME ARGS...: the tracer in the background, ready once it
# says it is capturing.
start_tracer() {
	local name=$1; shift
	spawn "$name" "$L7_BIN/tracer" -i lo "${TARGS[@]}" "$@"
	wait_for_lines "$(err_of "$name")" '^tracer: capturing on lo' 1 "$(pid_of "$name")"
}

@test "live on lo, the tracer prints each request's packets as they arrive" {
	start_tracer tr --json -l
	run curl -sS -o /dev/null -w '%{http_code}' "http://$PROXY/"
	assert_output 200
	# the response's last step-7 ACK arrives without the tracer being stopped
	wait_until grep -q '"step":7,"src":"client"' "$(out_of tr)"
	run jq -r '.step' "$(out_of tr)"
	assert_line --index 0 1
	assert_line 2
	assert_line 4
	assert_line 5
	assert_line 6
	assert_line 7
	stop_bg tr
}

@test "live, SIGTERM stops the tracer with its closing line and the kernel's drops" {
	start_tracer tr -l --color never
	curl -sS -o /dev/null "http://$PROXY/" "http://$PROXY/bytes/10"
	wait_until grep -q '7  client → proxy' "$(out_of tr)"
	stop_bg tr
	run tail -n 1 "$BATS_TEST_TMPDIR/tr.out"
	assert_output --regexp '^[0-9]+ packets · 2 requests · client connections 1 · .* · 0 dropped by the kernel$'
}

@test "live, -c COUNT stops after COUNT packets by itself" {
	start_tracer tr --json -c 3
	curl -sS -o /dev/null "http://$PROXY/"
	wait_until bash -c "! kill -0 $(pid_of tr) 2>/dev/null"
	run wc -l <"$BATS_TEST_TMPDIR/tr.out"
	assert_output 3
	run tail -n 1 "$BATS_TEST_TMPDIR/tr.err"
	assert_output --regexp '^3 packets · .* dropped by the kernel$'
}

@test "live, --duration stops the tracer after that long" {
	start_tracer tr --summary --duration 300ms
	wait_until bash -c "! kill -0 $(pid_of tr) 2>/dev/null"
	run tail -n 1 "$BATS_TEST_TMPDIR/tr.err"
	assert_output --partial "dropped by the kernel"
}

@test "live with -w, the pcapng holds the labelled packets" {
	command -v tshark >/dev/null || skip "tshark is not installed"
	start_tracer tr --json -l -w "$BATS_TEST_TMPDIR/live.pcapng"
	curl -sS -o /dev/null "http://$PROXY/"
	wait_until grep -q '"step":7,"src":"client"' "$(out_of tr)"
	stop_bg tr
	run --separate-stderr tshark -r "$BATS_TEST_TMPDIR/live.pcapng" -Y 'frame.comment contains "step 5"' -T fields -e frame.comment
	assert_success
	assert_output --partial "step 5 proxy → b"
}

@test "live, SIGTERM ends --step while it is paused" {
	mkfifo "$BATS_TEST_TMPDIR/in"
	local dir=$BATS_TEST_TMPDIR
	# its input: a fifo it holds open itself, so no line ever comes
	"$L7_BIN/tracer" -i lo "${TARGS[@]}" --step --color never >"$dir/tr.out" 2>"$dir/tr.err" 3>&- <>"$dir/in" &
	echo $! >"$dir/tr.pid"
	echo tr >>"$dir/.bg-names"
	wait_for_lines "$dir/tr.err" '^tracer: capturing on lo' 1 "$!"
	curl -sS -o /dev/null "http://$PROXY/"
	wait_until grep -q 'Enter for step 2' "$dir/tr.err"
	stop_bg tr
	run tail -n 1 "$dir/tr.out"
	assert_output --regexp '^[0-9]+ packets · 1 request · .* dropped by the kernel$'
}

@test "live at a steady load for a minute, the tracer's memory stays flat" {
	# a small capture buffer: the ring's pages are all touched in the first
	# seconds; under ASan, no quarantine of freed memory (it would grow);
	# its output, a minute of JSON, goes to /dev/null
	ln -s /dev/null "$BATS_TEST_TMPDIR/mem.out"
	ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=0 start_tracer mem --json -l --buffer 4M
	local pid; pid=$(pid_of mem)
	# 500 requests a second, which the sanitizer build keeps up with on a
	# loaded machine: when a stalled tracer falls behind, the capture hands
	# it the backlog at once, and ASan's allocator keeps some of what that
	# took (the release build gives it back within a second)
	spawn lg "$L7_BIN/loadgen" -c 8 -r 500 -d 62s "http://$PROXY/"
	# The RSS after 10 s and after 60 s of the same load, sampled once a
	# second, each the lowest of its last five samples: what the tracer
	# keeps, not a backlog it is still working off.
	local t0=$SECONDS at rss rss10= rss60=
	while [ $((SECONDS - t0)) -lt 60 ]; do
		sleep 1
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
		at=$((SECONDS - t0))
		if [ "$at" -gt 5 ] && { [ "$at" -le 10 ] || [ -z "$rss10" ]; } && [ "${rss10:-$rss}" -ge "$rss" ]; then rss10=$rss; fi
		if [ "$at" -gt 55 ] && [ "${rss60:-$rss}" -ge "$rss" ]; then rss60=$rss; fi
	done
	echo "# tracer RSS: ${rss10} kB after 10 s, ${rss60} kB after 60 s" >&3
	stop_bg lg || true   # (the load's own exit status is not what is tested)
	stop_bg mem
	run tail -n 1 "$(err_of mem)"
	assert_output --regexp '^[0-9]+ packets · [0-9]+ requests · '
	# requests kept until exit would grow it by about a kilobyte each: 25,000 of them
	[ "$rss60" -le $((rss10 * 110 / 100)) ] || { echo "RSS grew from $rss10 kB to $rss60 kB"; return 1; }
}
