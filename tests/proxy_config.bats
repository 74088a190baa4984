#!/usr/bin/env bats
# proxy's configuration on the command line: --check, --help, --version, and
# the errors a user makes (bad flags, bad files), each one line on stderr and
# exit status 2.  Nothing here opens a socket.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	cd "$BATS_TEST_TMPDIR"
	PROXY=$L7_BIN/proxy
}

# conf TEXT: write TEXT (printf format) to lab.conf.
conf() { printf "$1" >lab.conf; }

BASE='listen 127.0.0.2:8080\nbackend 127.0.0.11:9001\n'

@test "--check prints the resolved configuration of a lab and exits 0" {
	run --separate-stderr "$PROXY" --check -c "$TOP/labs/03-balancing/roundrobin.conf"
	assert_success
	cat >expected <<'EOF'
# proxy configuration, resolved (proxy.conf(5) syntax)
listen 127.0.3.2:8080
max-conns 10000
max-header 16k
max-target 8k
max-body 0
timeout-header 10s
timeout-idle 60s
timeout-client 30s
timeout-body 300s
timeout-connect 3s
timeout-server 30s
timeout-pool 4s
server-keepalive 32
retries 1
retry-budget 20%
retry-budget-min 3
timeout-attempt 0
timeout-request 0
max-fails 3
fail-timeout 10s
fail-timeout-max 300s
max-ejected 50%
health-interval 2s
health-timeout 1s
health-rise 2
health-fall 3
ewma-decay 3s
pace 0
source 127.0.3.2
name l7lab
retry-backoff 25ms:250ms

pool default {
	balance roundrobin
	server b1 127.0.3.11:9001 weight 5
	server b2 127.0.3.12:9001 weight 1
	server b3 127.0.3.13:9001 weight 1
}
EOF
	printf '%s\n' "$output" >actual
	diff -u expected actual
	assert_equal "$stderr" ""
}

@test "--check output is itself a configuration that reads back the same" {
	run "$PROXY" --check -c "$TOP/labs/04-routing/vhosts.conf"
	assert_success
	printf '%s\n' "$output" >printed.conf
	run "$PROXY" --check -c printed.conf
	assert_success
	printf '%s\n' "$output" | diff -u printed.conf -
}

@test "--check quotes a path with a blank and a log file named with '#', and they read back" {
	run "$PROXY" --check --listen 127.0.0.1:0 --backend 127.0.0.1:9001 --route 'path:/my docs=default' \
		--access-log '#access log'
	assert_success
	assert_line 'route "path:/my docs" default'
	assert_line 'access-log "#access log"'
	printf '%s\n' "$output" >printed.conf
	run "$PROXY" --check -c printed.conf
	assert_success
	printf '%s\n' "$output" | diff -u printed.conf -
}

@test "a quote left open in a file exits 2 naming the line" {
	conf "${BASE}route \"path:/my docs default\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output 'proxy: lab.conf:3: a quote (") is not closed on its line'
}

@test "--check accepts every lab configuration" {
	local f
	for f in "$TOP"/labs/*/*.conf; do
		run "$PROXY" --check -c "$f"
		[ "$status" -eq 0 ] || { echo "$f: $output"; return 1; }
	done
}

@test "flags after -c override the file and --listen replaces its listeners" {
	run "$PROXY" --check -c "$TOP/labs/04-routing/canary.conf" --timeout-server 1500ms --listen 127.0.0.1:0 --balance random
	assert_success
	assert_line 'timeout-server 1500ms'
	assert_line 'listen 127.0.0.1:0'
	refute_line 'listen 127.0.0.2:8080'
	assert_output --partial $'pool default {\n\tbalance random\n'
}

@test "--check shows the routes in order with their pools" {
	run "$PROXY" --check -c "$TOP/labs/04-routing/canary.conf"
	assert_success
	printf '%s\n' "$output" | grep '^route ' >actual
	printf 'route header:version:v2 canary\nroute path:/static/ static\n' | diff -u - actual
}

@test "the common case needs only flags" {
	run "$PROXY" --check --listen 127.0.0.1:8080 --backend 127.0.0.1:9001 --backend 127.0.0.1:9002 --balance leastconn
	assert_success
	assert_output --partial $'pool default {\n\tbalance leastconn\n\tserver 127.0.0.1:9001 weight 1\n\tserver 127.0.0.1:9002 weight 1\n}'
}

@test "--help prints the usage with every directive of proxy.conf.5 and exits 0" {
	run "$PROXY" --help
	assert_success
	assert_line --index 0 --partial 'usage: proxy'
	local d
	# every ".BI "word " ..." heading of the man page, and quiet
	for d in $(sed 's/\\-/-/g' "$TOP/proxy/proxy.conf.5" | sed -n 's/^\.BI "\([a-z-]*\) .*/\1/p' | sort -u) quiet; do
		[ "$d" = server ] && continue                # pool blocks only
		assert_output --partial -- "--$d "
	done
	assert_output --partial -- '--pool NAME='
	assert_output --partial -- '--route MATCH=POOL'
}

@test "--version prints the version and exits 0" {
	run "$PROXY" --version
	assert_success
	assert_output --regexp '^proxy \(l7lab\) [0-9]'
}

@test "an unknown flag exits 2 with one line and a hint" {
	run --separate-stderr "$PROXY" --lisen 127.0.0.1:0
	assert_equal "$status" 2
	assert_equal "$output" ""
	assert_equal "$stderr" "proxy: unknown option '--lisen'
Try 'proxy --help'."
}

@test "a flag without its value exits 2 naming it" {
	run "$PROXY" --backend 127.0.0.1:9001 --listen
	assert_equal "$status" 2
	assert_line --index 0 'proxy: --listen needs a value'
}

@test "a bad duration exits 2 naming the flag" {
	run "$PROXY" --listen 127.0.0.1:0 --backend 127.0.0.1:9001 --timeout-connect 3x
	assert_equal "$status" 2
	assert_line --index 0 "proxy: --timeout-connect: '3x' is not a duration (examples: 500ms, 10s, 2m)"
}

@test "a weight out of range on the command line exits 2" {
	run "$PROXY" --listen 127.0.0.1:0 --backend b1=127.0.0.1:9001*1001
	assert_equal "$status" 2
	assert_line --index 0 "proxy: --backend: weight '1001': expected a whole number from 1 to 1000"
}

@test "a route to an unknown pool on the command line exits 2" {
	run "$PROXY" --listen 127.0.0.1:0 --backend 127.0.0.1:9001 --route host:api.example.com=api
	assert_equal "$status" 2
	assert_line --index 0 "proxy: --route: route host:api.example.com: no pool named 'api'"
}

@test "no listen address exits 2" {
	run "$PROXY" --backend 127.0.0.1:9001
	assert_equal "$status" 2
	assert_line --index 0 'proxy: nothing to listen on: give --listen ADDR:PORT'
}

@test "no server exits 2" {
	run "$PROXY" --listen 127.0.0.1:0
	assert_equal "$status" 2
	assert_line --index 0 'proxy: no servers: give --backend ADDR:PORT, --pool, or -c FILE'
}

@test "a missing config file exits 2 naming it" {
	run --separate-stderr "$PROXY" -c nowhere.conf
	assert_equal "$status" 2
	assert_equal "$stderr" 'proxy: open nowhere.conf: No such file or directory'
}

@test "an unknown directive exits 2 with the file and line" {
	conf "$BASE# a comment\n\nlisten-on 127.0.0.1:80\n"
	run --separate-stderr "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_equal "$stderr" "proxy: lab.conf:5: unknown directive 'listen-on'"
}

@test "a bad server line exits 2 saying what was expected" {
	conf "${BASE}pool api {\n\tserver b1\n}\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:4: expected 'server [NAME] ADDR:PORT [weight N]'"
}

@test "a weight out of range in a file exits 2" {
	conf "${BASE}pool api {\n\tserver b1 127.0.0.1:9001 weight 0\n}\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:4: weight '0': expected a whole number from 1 to 1000"
}

@test "a bad address in a file exits 2" {
	conf "listen 127.0.0.1:70000\nbackend 127.0.0.11:9001\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:1: 127.0.0.1:70000: invalid port '70000' (expected 0-65535)"
}

@test "a bad duration in a file exits 2" {
	conf "${BASE}timeout-server soon\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:3: 'soon' is not a duration (examples: 500ms, 10s, 2m)"
}

@test "a route to an unknown pool in a file exits 2" {
	conf "${BASE}route header:version:v2 canary\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:3: route header:version:v2: no pool named 'canary'"
}

@test "a pool defined twice exits 2 naming both lines" {
	conf "${BASE}pool api=127.0.0.1:9001\npool api {\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:4: duplicate pool 'api' (first at lab.conf:3)"
}

@test "a pool without servers exits 2" {
	conf "${BASE}pool api {\n}\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:3: no servers in pool 'api'"
}

@test "a pool block left open exits 2" {
	conf "${BASE}pool api {\n\tserver 127.0.0.1:9001\n"
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output "proxy: lab.conf:3: pool 'api' has no closing '}'"
}

@test "a binary file exits 2 instead of crashing" {
	head -c 4096 "$PROXY" >lab.conf
	run "$PROXY" -c lab.conf
	assert_equal "$status" 2
	assert_output --regexp '^proxy: lab.conf:1: '
}
