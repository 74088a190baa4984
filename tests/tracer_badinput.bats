#!/usr/bin/env bats
# tracer on bad input: wrong flags, files that are not captures, truncated
# and corrupted captures, unknown interfaces, unhandled link types.  Always
# one line on stderr and exit 2 (or a clean run), never a crash: the suite
# runs the ASan + UBSan build, which exits 86/87 on a memory error.

load helpers
bats_require_minimum_version 1.5.0

FX=$BATS_TEST_DIRNAME/fixtures
ARGS=(--proxy 127.0.0.2:8080 --backends 127.0.0.11:9001,127.0.0.12:9001)

# fails_cleanly CMD...: exit 2 and exactly one line on stderr.
fails_cleanly() {
	run --separate-stderr "$@"
	[ "$status" -eq 2 ] || { echo "exit $status, want 2; stderr: $stderr"; return 1; }
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ] || { echo "stderr is not one line: $stderr"; return 1; }
	[ -n "$stderr" ]
}

@test "a file that is not a capture is one line and exit 2" {
	printf 'GET / HTTP/1.1\r\n\r\n' >"$BATS_TEST_TMPDIR/text"
	fails_cleanly "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/text" "${ARGS[@]}"
	assert_equal "$stderr" "tracer: $BATS_TEST_TMPDIR/text: unknown file format"
}

@test "an empty file is one line and exit 2" {
	: >"$BATS_TEST_TMPDIR/empty"
	fails_cleanly "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/empty" "${ARGS[@]}"
}

@test "a missing file is one line and exit 2" {
	fails_cleanly "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/nothing.pcap" "${ARGS[@]}"
	assert_equal "$stderr" "tracer: $BATS_TEST_TMPDIR/nothing.pcap: No such file or directory"
}

@test "a capture cut inside a packet is one line and exit 2 after the packets before it" {
	local size; size=$(stat -c %s "$FX/l7lab-one.pcap")
	head -c $((size - 40)) "$FX/l7lab-one.pcap" >"$BATS_TEST_TMPDIR/cut.pcap"
	fails_cleanly "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/cut.pcap" "${ARGS[@]}" --json
	assert_output --partial '"frame":1,'
	[[ "$stderr" == *"truncated"* ]]
}

@test "a link type the tracer does not read is one line and exit 2" {
	# The fixture with its link type changed to 105 (IEEE 802.11).
	"$L7_TEST_TOOLS/pcaptool" linktype "$FX/nginx-one.pcap" "$BATS_TEST_TMPDIR/wifi.pcap" 105
	fails_cleanly "$L7_BIN/tracer" -r "$BATS_TEST_TMPDIR/wifi.pcap" "${ARGS[@]}"
	assert_equal "$stderr" "tracer: $BATS_TEST_TMPDIR/wifi.pcap: link type 105 (IEEE802_11) is not handled (EN10MB, NULL, LOOP, RAW, LINUX_SLL and LINUX_SLL2 are)"
}

@test "the reader survives hundreds of truncated and bit-flipped captures" {
	mkdir "$BATS_TEST_TMPDIR/c"
	"$L7_TEST_TOOLS/pcaptool" corrupt "$FX/l7lab-keepalive.pcap" "$BATS_TEST_TMPDIR/c" 160 11
	# pcapng too, from the tracer's own writer
	"$L7_BIN/tracer" -r "$FX/haproxy-chunked.pcap" "${ARGS[@]}" --json -w "$BATS_TEST_TMPDIR/h.pcapng" >/dev/null 2>&1
	mkdir "$BATS_TEST_TMPDIR/c2"
	"$L7_TEST_TOOLS/pcaptool" corrupt "$BATS_TEST_TMPDIR/h.pcapng" "$BATS_TEST_TMPDIR/c2" 80 12
	for f in "$BATS_TEST_TMPDIR"/c2/*; do mv "$f" "$BATS_TEST_TMPDIR/c/n${f##*/}"; done
	local f rc ran=0
	for f in "$BATS_TEST_TMPDIR"/c/*; do
		rc=0
		"$L7_BIN/tracer" -r "$f" "${ARGS[@]}" --json >/dev/null 2>"$BATS_TEST_TMPDIR/err" || rc=$?
		ran=$((ran + 1))
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
			echo "$f: exit $rc"
			cat "$BATS_TEST_TMPDIR/err"
			return 1
		fi
		if [ "$rc" -eq 2 ] && [ "$(wc -l <"$BATS_TEST_TMPDIR/err")" -ne 1 ]; then
			echo "$f: exit 2 with more than one line:"
			cat "$BATS_TEST_TMPDIR/err"
			return 1
		fi
	done
	[ "$ran" -ge 240 ]
}

@test "a corrupt events file is skipped line by line with a warning" {
	printf '{"id":"x","step":3,\nnot json\n{"id":"y","step":3,"server":"b1"}\n' >"$BATS_TEST_TMPDIR/ev"
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --events "$BATS_TEST_TMPDIR/ev" --json
	assert_success
	assert_equal "${stderr##*$'\n'}" "tracer: --events: 2 lines were not JSON objects"
}

@test "an events stream with no newline ends with a warning instead of growing without bound" {
	run --separate-stderr timeout 60 "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --events /dev/zero --json
	assert_success
	assert_line --index 0 --partial '"frame":1,'
	[[ "$stderr" == *"tracer: --events: stopped reading after 1024 MiB"* ]]
}

@test "an events line longer than 64 KiB is skipped with a warning, the rest read" {
	{
		printf '{"id":"x","reason":"'
		head -c 100000 /dev/zero | tr '\0' 'x'
		printf '"}\n'
		cat "$FX/l7lab-keepalive.events"
	} >"$BATS_TEST_TMPDIR/ev"
	run --separate-stderr "$L7_BIN/tracer" -r "$FX/l7lab-keepalive.pcap" "${ARGS[@]}" --events "$BATS_TEST_TMPDIR/ev" --color never
	assert_success
	assert_line --regexp '→ b1 \(roundrobin, pool default\)'
	assert_equal "$stderr" "tracer: --events: 1 lines longer than 64 KiB were skipped"
}

@test "a missing events file is one line and exit 2" {
	fails_cleanly "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --events "$BATS_TEST_TMPDIR/none"
}

@test "an unwritable --html file is one line and exit 2" {
	fails_cleanly "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" --html "$BATS_TEST_TMPDIR/no/such/dir.html"
}

@test "an unwritable -w file is one line and exit 2" {
	fails_cleanly "$L7_BIN/tracer" -r "$FX/l7lab-one.pcap" "${ARGS[@]}" -w "$BATS_TEST_TMPDIR/no/such/dir.pcapng"
}

@test "an unknown interface is one line and exit 2" {
	[ "$(id -u)" = 0 ] || skip "needs root to get past the permission check"
	fails_cleanly "$L7_BIN/tracer" -i l7lab-nosuch0 "${ARGS[@]}"
	assert_equal "$stderr" "tracer: l7lab-nosuch0: no such interface"
}

@test "live capture without the privilege is one line and exit 2" {
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	[ "$(id -u)" = 0 ] || skip "needs root to drop to nobody"
	fails_cleanly setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$L7_BIN/tracer" -i lo "${ARGS[@]}"
	[[ "$stderr" == *"needs root or CAP_NET_RAW"* ]]
}

@test "bad flags are one line, a hint, and exit 2" {
	local bad
	for bad in "--proxy 8080" "-r x --backends 9001" "-r x -i lo --proxy 1 --backends 2" \
	           "-r x --proxy 0 --backends 2" "-r x --proxy 99999 --backends 2" \
	           "-r x --proxy 1 --backends 2 --json --summary" "-r x --proxy 1 --backends 2 --bogus" \
	           "-r x --proxy 1 --backends 2 --color sometimes" "-r x --proxy 1 --backends 2 -c 0" \
	           "-r x --proxy 1 --backends 2 --name =b1" "-r x --proxy 1 --backends 2 --duration 1s" \
	           "-r x --proxy nohost:1 --backends 2" "-r x --proxy 1 --backends 2 extra" \
	           "-r x --proxy 1 --backends =2" "-r x --proxy 1 --backend b1=nohost:2" \
	           "-r x --proxy 1 --backends 2 --requests 5-3" "-r x --proxy 1 --backends 2 --requests x" \
	           "-r x --proxy 1 --backends 2 --fenced" "-r x --proxy 1 --backends 2 --json --step" \
	           "-r x --proxy 1 --backends 2 --mermaid --html y" "-r x --proxy 1 --backends 2 --name 'a b'" \
	           "-r x --proxy 1 --backends 2 --verbose=x"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$L7_BIN/tracer" $bad
		[ "$status" -eq 2 ] || { echo "'$bad': exit $status"; return 1; }
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 2 ] || { echo "'$bad': $stderr"; return 1; }
		[[ "$stderr" == *"Try 'tracer --help'."* ]] || { echo "'$bad': $stderr"; return 1; }
	done
}

@test "--help prints the usage and exits 0" {
	run "$L7_BIN/tracer" --help
	assert_success
	assert_line --index 0 --partial "usage: tracer (-i IFACE | -r FILE) --proxy"
}
