#!/usr/bin/env bats
# The four tools behave alike where a user expects it: --version, the words
# for a mistyped option, durations with units, -v/--verbose, the version in
# the man pages, and bash completion of their options.

load helpers
bats_require_minimum_version 1.5.0

TOOLS=(proxy mockserver loadgen tracer)

teardown() { stop_all; }

@test "every tool prints the one version with --version" {
	local t versions=()
	for t in "${TOOLS[@]}"; do
		run "$L7_BIN/$t" --version
		assert_success
		assert_output --regexp "^$t \\(l7lab\\) [0-9]+\\.[0-9]+"
		versions+=("${output##* }")
	done
	assert_equal "$(printf '%s\n' "${versions[@]}" | sort -u | wc -l)" 1
}

@test "every man page's footer carries that version" {
	local version page
	version=$("$L7_BIN/proxy" --version)
	version=${version##* }
	for page in proxy/proxy.1 proxy/proxy.conf.5 mockserver/mockserver.1 loadgen/loadgen.1 tracer/tracer.1; do
		local built=$TOP/build/man/man${page##*.}/${page##*/}
		assert_file_exists "$built"
		run bash -c "MANWIDTH=80 man -l '$built' 2>/dev/null | tail -n 1"
		assert_output --regexp "^l7lab $version +[0-9-]+ +[A-Z.]+\\([15]\\)\$"
	done
}

@test "an unknown option reads the same in every tool" {
	local t
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$L7_BIN/$t" --bogus
		assert_equal "$status" 2
		assert_equal "$stderr" "$t: unknown option '--bogus'
Try '$t --help'."
	done
}

@test "an option without its value reads the same in every tool" {
	local t
	declare -A opt=([proxy]=--listen [mockserver]=--listen [loadgen]=--timeout [tracer]=--proxy)
	for t in "${TOOLS[@]}"; do
		run --separate-stderr "$L7_BIN/$t" "${opt[$t]}"
		assert_equal "$status" 2
		assert_equal "$stderr" "$t: ${opt[$t]} needs a value
Try '$t --help'."
	done
}

@test "a bare number is not a duration in any tool, and the message offers both units" {
	run "$L7_BIN/proxy" --listen 127.0.0.1:0 --backend 127.0.0.1:1 --timeout-server 5
	assert_equal "$status" 2
	assert_line --index 0 "proxy: --timeout-server: '5' needs a unit: 5ms or 5s"
	run "$L7_BIN/mockserver" --listen 127.0.0.1:0 --delay 5
	assert_equal "$status" 2
	assert_line --index 0 "mockserver: --delay: '5' needs a unit: 5ms or 5s"
	run "$L7_BIN/loadgen" -d 5 http://127.0.0.1:1/
	assert_equal "$status" 2
	assert_line --index 0 "loadgen: -d: '5' needs a unit: 5ms or 5s"
	run "$L7_BIN/tracer" -i lo --proxy 1 --backends 2 --duration 5
	assert_equal "$status" 2
	assert_line --index 0 "tracer: --duration: '5' needs a unit: 5ms or 5s"
}

@test "durations with a unit, and a bare 0, are taken by every tool" {
	run "$L7_BIN/proxy" --check --listen 127.0.0.1:0 --backend 127.0.0.1:1 --timeout-server 1.5s --pace 0
	assert_success
	assert_line "timeout-server 1500ms"
	start_bg m "$L7_BIN/mockserver" --listen 127.0.0.1:0 --delay 20ms:0 --grace 0
	run curl -s "http://$(addr_of m)/"
	assert_output "hello from $(addr_of m)"
	run "$L7_BIN/loadgen" -c 1 -d 200ms --timeout 2s --warmup 0 --json "http://$(addr_of m)/"
	assert_success
}

@test "-v and --verbose are one thing in proxy, mockserver and loadgen" {
	run "$L7_BIN/proxy" --check --listen 127.0.0.1:0 --backend 127.0.0.1:1 --verbose
	assert_line "verbose 1"
	run "$L7_BIN/proxy" --check --listen 127.0.0.1:0 --backend 127.0.0.1:1 -v --verbose
	assert_line "verbose 2"
	start_bg short "$L7_BIN/mockserver" -v --listen 127.0.0.1:0 --name short
	start_bg long "$L7_BIN/mockserver" --verbose --listen 127.0.0.1:0 --name long
	curl -s -o /dev/null "http://$(addr_of short)/" "http://$(addr_of long)/"
	wait_until grep -q '"GET / HTTP/1.1" 200' "$(err_of short)"
	wait_until grep -q '"GET / HTTP/1.1" 200' "$(err_of long)"
	run "$L7_BIN/loadgen" --verbose -c 1 -n 2 "http://$(addr_of short)/reset"
	assert_success
	assert_line --partial 'failed: reset'
}

@test "bash completion offers each tool's options and an option's values" {
	complete_words() {
		source "$TOP/bin/completion.bash"
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_l7lab_complete
		printf '%s\n' "${COMPREPLY[@]}"
	}
	run complete_words "$L7_BIN/proxy" --lis
	assert_output --listen
	run complete_words "$L7_BIN/mockserver" --unhealthy-
	assert_output $'--unhealthy-after\n--unhealthy-for'
	run complete_words "$L7_BIN/loadgen" --no-
	assert_output --no-keepalive
	run complete_words "$L7_BIN/tracer" --mer
	assert_output --mermaid
	run complete_words "$L7_BIN/proxy" --balance l
	assert_output $'leastconn\nleast-time'
	run complete_words "$L7_BIN/proxy" --balance e
	assert_output ewma
	run complete_words "$L7_BIN/proxy" --dlp m
	assert_output mask
	run complete_words "$L7_BIN/tracer" -i l
	assert_line lo
}
