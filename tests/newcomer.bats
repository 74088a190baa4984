#!/usr/bin/env bats
# A newcomer's path: `make demo` as the very first command (the packages it
# installs bring llhttp's sources only while make runs), `make demo` without
# the right to capture packets, `make install` and what it puts where.

load helpers

# Runs make without the settings of a make this test may run under.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }

@test "make demo works as the first command, llhttp's sources arriving with its packages" {
	local src=$BATS_TEST_TMPDIR/src llhttp=$BATS_TEST_TMPDIR/llhttp deps=$BATS_TEST_TMPDIR/install-deps
	# The repository as a clone has it: no build/, no built tools.
	mkdir "$src"
	tar -C "$TOP" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
	mk -s -C "$src" clean
	# Stands in for bin/install-deps on a pristine machine: llhttp's sources
	# appear only when it runs, after make has read the Makefile.
	cat >"$deps" <<-EOF
		#!/bin/sh
		echo "\$*" >>"$BATS_TEST_TMPDIR/install-deps.args"
		mkdir -p "$llhttp" && cp /usr/share/llhttp/*.c "$llhttp/"
	EOF
	chmod +x "$deps"
	run mk -C "$src" -j2 demo INSTALL_DEPS="$deps" LLHTTP_DIR="$llhttp" CFLAGS=-O0
	assert_success
	assert_output --partial "The proxy's access log"
	assert_equal "$(grep -c '"GET / HTTP/1.1" 200 ' <<<"$output")" 4
	run cat "$BATS_TEST_TMPDIR/install-deps.args"
	assert_output "--demo"      # only what the demo needs: no test or bench packages
}

@test "make demo without the right to capture shows a recorded trace and says how to get a live one" {
	[ "$(id -u)" = 0 ] || skip "needs root, to become another user"
	run setpriv --reuid=65534 --regid=65534 --clear-groups env L7_BIN="$L7_BIN" "$TOP/labs/demo.sh"
	assert_success
	assert_line --regexp '^\(no live trace: .*setcap cap_net_raw.*\)$'
	assert_line --partial "when these four requests were recorded (labs/captures/demo.pcapng)"
	assert_line --regexp '^request 4 '
	assert_output --partial "The proxy's access log"
}

@test "install-deps asks for the demo's, the tests' and the benchmarks' packages in turn" {
	run "$TOP/bin/install-deps" --help
	assert_success
	assert_line --partial "--demo    that and curl"
	# On this machine everything the tests need is there already.
	run "$TOP/bin/install-deps" --check --test
	assert_success
	run "$TOP/bin/install-deps" --nonsense
	assert_failure 2
}

@test "make install puts the tools, their man pages and completion under PREFIX" {
	local p=$BATS_TEST_TMPDIR/usr
	run mk -C "$TOP" install PREFIX="$p" BATSLIBDIR="$p/lib/bats"
	assert_success
	assert_file_exists "$p/lib/bats/l7lab/load.bash"
	local t
	for t in proxy mockserver loadgen tracer; do
		run "$p/bin/$t" --version
		assert_success
		assert_file_exists "$p/share/man/man1/$t.1"
		assert_file_exists "$p/share/bash-completion/completions/$t"
	done
	run bash -c "MANWIDTH=80 man -M '$p/share/man' proxy 2>&1 | head -n 1"
	assert_output --regexp '^PROXY\(1\) +l7lab manual +PROXY\(1\)$'
	run bash -c "MANWIDTH=80 man -M '$p/share/man' 5 proxy.conf 2>&1 | head -n 1"
	assert_output --regexp '^PROXY.CONF\(5\) '
	run bash -c "source '$p/share/bash-completion/completions/loadgen' && complete -p loadgen"
	assert_output "complete -o default -F _l7lab_complete loadgen"
	run mk -C "$TOP" uninstall PREFIX="$p" BATSLIBDIR="$p/lib/bats"
	assert_success
	run find "$p" -type f
	assert_output ""
}
