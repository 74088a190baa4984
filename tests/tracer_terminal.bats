#!/usr/bin/env bats
# tracer on a terminal and in front of a class: --step's pauses (and the
# signals that end them), colours (--color auto, TERM=dumb, NO_COLOR as
# no-color.org says), and lines cut to the terminal's width.  A terminal is
# script(1)'s pseudo-terminal (util-linux, on every Debian).

load helpers
bats_require_minimum_version 1.5.0

FX=$BATS_TEST_DIRNAME/fixtures
ARGS=(--proxy 127.0.0.2:8080 --backends 127.0.0.11:9001,127.0.0.12:9001,127.0.0.13:9001)

teardown() {
	stop_all
}

# on_tty COLUMNS CMD...: CMD's output on a pseudo-terminal that wide.
on_tty() {
	local cols=$1
	shift
	local cmd
	printf -v cmd '%q ' "$@"
	script -qec "stty cols $cols rows 50; $cmd" /dev/null </dev/null
}

# ansi_balanced: every reset (ESC[0m) closes a colour that was opened.
ansi_balanced() {
	awk '{
		line = $0; open = 0
		while (match(line, /\033\[[0-9;]*m/)) {
			code = substr(line, RSTART, RLENGTH); line = substr(line, RSTART + RLENGTH)
			if (code == "\033[0m") { if (!open) { print "stray reset on line " NR ": " $0; bad = 1 } open = 0 }
			else open = 1
		}
	} END { exit bad }'
}

# ---- --step --------------------------------------------------------------------

@test "--step pauses after each step, step 3 too, until Enter" {
	run bash -c "yes '' | head -n 40 | '$L7_BIN/tracer' -r '$FX/nginx-one.pcap' ${ARGS[*]} --step --color never 2>'$BATS_TEST_TMPDIR/prompts'"
	assert_success
	run cat "$BATS_TEST_TMPDIR/prompts"
	assert_output --partial "-- step 1 done; Enter for step 2 --"
	assert_output --partial "-- step 2 done; Enter for step 3 --"
	assert_output --partial "-- step 3 done; Enter for step 4 --"
	assert_output --partial "-- step 6 done; Enter for step 7 --"
}

@test "--step runs to the end when its input closes" {
	run bash -c "'$L7_BIN/tracer' -r '$FX/nginx-one.pcap' ${ARGS[*]} --step --color never </dev/null"
	assert_success
	assert_line --index -1 --partial "17 packets"
}

# paused_tracer: the tracer in --step, paused at its first prompt, its
# input a fifo it holds open itself: no line ever comes, nor an end.
paused_tracer() {
	mkfifo "$BATS_TEST_TMPDIR/in"
	"$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}" --step --color never \
		<>"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/tr.out" 2>"$BATS_TEST_TMPDIR/tr.err" &
	echo $! >"$BATS_TEST_TMPDIR/tr.pid"
	echo tr >>"$BATS_TEST_TMPDIR/.bg-names"
	wait_until grep -q 'Enter for step 2' "$BATS_TEST_TMPDIR/tr.err"
}

@test "Ctrl-C ends --step while it is paused, with the closing line" {
	paused_tracer
	local pid; pid=$(cat "$BATS_TEST_TMPDIR/tr.pid")
	kill -INT "$pid"
	wait_until bash -c "! kill -0 $pid 2>/dev/null"
	wait "$pid"
	rm -f "$BATS_TEST_TMPDIR/tr.pid"
	run tail -n 1 "$BATS_TEST_TMPDIR/tr.out"
	assert_output --regexp '^[0-9]+ packets · 1 request · '
	run grep -c 'ms  4  proxy' "$BATS_TEST_TMPDIR/tr.out"
	assert_output 0
}

@test "SIGTERM ends --step while it is paused" {
	paused_tracer
	local pid; pid=$(cat "$BATS_TEST_TMPDIR/tr.pid")
	kill -TERM "$pid"
	wait_until bash -c "! kill -0 $pid 2>/dev/null"
	wait "$pid"
	rm -f "$BATS_TEST_TMPDIR/tr.pid"
	run tail -n 1 "$BATS_TEST_TMPDIR/tr.out"
	assert_output --regexp '^[0-9]+ packets · '
}

# ---- colours ------------------------------------------------------------------

@test "on a terminal the timeline has colours, with no reset that closes nothing" {
	run on_tty 200 "$L7_BIN/tracer" -r "$FX/nginx-close.pcap" "${ARGS[@]}"
	assert_success
	assert_output --partial $'\e[36m1\e[0m'
	ansi_balanced <<<"$output"
}

@test "--color always leaves no stray reset after [close]" {
	run "$L7_BIN/tracer" -r "$FX/nginx-close.pcap" "${ARGS[@]}" --color always
	assert_success
	assert_output --partial "[close]"
	refute_output --partial $'[close]\e[0m'
	ansi_balanced <<<"$output"
}

@test "TERM=dumb turns colours off" {
	TERM=dumb run on_tty 200 "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}"
	assert_success
	refute_output --partial $'\e['
}

@test "NO_COLOR set to something turns colours off, an empty NO_COLOR does not" {
	NO_COLOR=1 run on_tty 200 "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}"
	refute_output --partial $'\e['
	NO_COLOR= run on_tty 200 "$L7_BIN/tracer" -r "$FX/nginx-one.pcap" "${ARGS[@]}"
	assert_output --partial $'\e[36m'
}

# ---- the terminal's width ------------------------------------------------------

@test "on a terminal every timeline line fits its width" {
	run on_tty 72 "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}"
	assert_success
	assert_line --partial "…"
	local line long=0
	while IFS= read -r line; do
		line=${line%$'\r'}
		line=$(sed 's/\x1b\[[0-9;]*m//g' <<<"$line")
		LC_ALL=C.UTF-8 eval '[ "${#line}" -le 72 ]' || { echo "${#line}: $line"; long=1; }
	done <<<"$output"
	[ "$long" = 0 ]
}

@test "--json is not cut to the terminal's width" {
	run on_tty 72 "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --json
	assert_success
	run awk '{ gsub(/\r/, ""); if (length($0) > 300) n++ } END { print n + 0 }' <<<"$output"
	[ "$output" -gt 20 ]
}

@test "written to a file, timeline lines are whole" {
	run "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}"
	refute_output --partial "…"
	assert_line --partial "+X-Forwarded-For +X-Forwarded-Proto +X-Forwarded-Host +Forwarded +Via +X-Request-ID  the proxy forwards the request"
}
