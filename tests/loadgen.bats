#!/usr/bin/env bats
# loadgen against mockserver: exact counts, the distribution by --by-header,
# client addresses with --source, the JSON document, the text summary, the
# --hdr and --timeline files, threads, keep-alive or not, --slow.

load helpers

setup_file() {
	start_bg_file m "$L7_BIN/mockserver" -v --listen 127.0.0.1:0 --name b1 --listen 127.0.0.1:0 --name b2 \
		--listen 127.0.0.1:0 --name q
}
teardown_file() { stop_all_file; }
teardown() { stop_all; }

lg() { "$L7_BIN/loadgen" "$@"; }
b1() { echo "http://$(addr_of m b1)"; }
b2() { echo "http://$(addr_of m b2)"; }
# stat NAME JQ: a field of backend NAME's /stats, asked of the third
# listener q so that the question does not change the answer.
stat() {
	curl -s "http://$(addr_of m q)/stats" | jq -r ".$1$2"
}

@test "loadgen --help prints the usage and exits 0" {
	run lg --help
	assert_success
	assert_line --index 0 'usage: loadgen [options] URL [URL...]'
	assert_output --partial '--by-header NAME'
}

@test "loadgen -n sends exactly that many requests" {
	local before; before=$(stat b1 .requests)
	run lg -c 8 -n 777 --json "$(b1)/"
	assert_success
	assert_equal "$(jq .requests <<<"$output")" 777
	assert_equal "$(jq .errors_total <<<"$output")" 0
	assert_equal "$(jq '.status["200"]' <<<"$output")" 777
	assert_equal "$(stat b1 .requests)" $((before + 777))
}

@test "loadgen -n with more connections than requests still sends exactly -n" {
	local before; before=$(stat b1 .requests)
	run lg -c 20 -t 2 -n 7 --json "$(b1)/"
	assert_success
	assert_equal "$(jq .requests <<<"$output")" 7
	assert_equal "$(stat b1 .requests)" $((before + 7))
}

@test "--by-header counts equal mockserver's /stats" {
	local b1_before b2_before
	b1_before=$(stat b1 '.status["200"] // 0')
	b2_before=$(stat b2 '.status["200"] // 0')
	run lg -c 6 -t 2 -n 900 --json "$(b1)/" "$(b2)/"
	assert_success
	assert_equal "$(jq .by_header_name <<<"$output")" '"X-Backend"'
	assert_equal "$(jq '.by_header.b1 + .by_header.b2' <<<"$output")" 900
	assert_equal "$(jq .by_header.b1 <<<"$output")" $(($(stat b1 '.status["200"]') - b1_before))
	assert_equal "$(jq .by_header.b2 <<<"$output")" $(($(stat b2 '.status["200"]') - b2_before))
}

@test "--by-header counts any response header, and responses without it apart" {
	run lg -c 2 -n 10 --by-header X-Conn-Request --json "$(b1)/"
	assert_success
	assert_equal "$(jq '[.by_header[]] | add' <<<"$output")" 10
	assert_equal "$(jq .by_header_missing <<<"$output")" 0
	run lg -c 2 -n 10 --by-header X-Nothing --json "$(b1)/"
	assert_equal "$(jq .by_header_missing <<<"$output")" 10
}

@test "--source addresses appear as the peer address mockserver sees" {
	: >"$(err_of m)"
	run lg -c 4 -n 40 --source 127.0.0.3,127.0.0.4 --json "$(b1)/echo"
	assert_success
	local n3 n4
	n3=$(jq '.by_source["127.0.0.3"].requests' <<<"$output")
	n4=$(jq '.by_source["127.0.0.4"].requests' <<<"$output")
	assert_equal $((n3 + n4)) 40
	[ "$n3" -gt 0 ] && [ "$n4" -gt 0 ]
	wait_until test "$(grep -c '"GET /echo' "$(err_of m)")" -ge 40
	# mockserver -v logs the peer address of each request, as /echo reports it.
	run awk '/"GET \/echo/ { split($3, a, ":"); n[a[1]]++ } END { for (ip in n) print ip, n[ip] }' "$(err_of m)"
	assert_line "127.0.0.3 $n3"
	assert_line "127.0.0.4 $n4"
	assert_equal "${#lines[@]}" 2
}

@test "--source with --no-keepalive takes the addresses in turn, request by request" {
	run lg -c 3 -n 40 --no-keepalive --source 127.0.0.3,127.0.0.4 --json "$(b1)/"
	assert_success
	assert_equal "$(jq '.by_source["127.0.0.3"].requests' <<<"$output")" 20
	assert_equal "$(jq '.by_source["127.0.0.4"].requests' <<<"$output")" 20
}

@test "/echo reports a --source address as the peer" {
	# One request whose body we can read: curl from the same address, to show
	# what /echo answers; loadgen's own requests are checked through the log above.
	run lg -c 1 -n 1 --source 127.0.0.5 --json "$(b1)/echo"
	assert_success
	wait_until grep -q '127.0.0.5:' "$(err_of m)"
	run curl -s --interface 127.0.0.5 "$(b1)/echo"
	assert_equal "$(jq -r '.peer | split(":")[0]' <<<"$output")" 127.0.0.5
}

@test "--json parses with jq and has the documented fields" {
	run lg -c 2 -n 50 --json "$(b1)/"
	assert_success
	jq -e '
	  (.requests | type == "number") and (.duration_s | type == "number") and (.rps | type == "number") and
	  (.bytes | type == "number") and (.connections == 2) and (.threads == 1) and (.mode == "closed") and
	  (.keepalive == true) and (.errors | keys == ["closed", "connect_other", "connect_refused",
	  "connect_timeout", "malformed", "reset", "timeout"]) and (.errors_total == 0) and
	  (.status | type == "object") and (.http_5xx.proxy == 0) and (.http_5xx.backend == 0) and
	  (.latency_us | keys == ["max", "mean", "min", "p50", "p90", "p99", "p999", "stdev"]) and
	  (.latency_us.min <= .latency_us.p50) and (.latency_us.p50 <= .latency_us.p99) and
	  (.latency_us.p99 <= .latency_us.max) and (.by_header | type == "object") and
	  (.by_header_latency_us.b1.p99 | type == "number") and (.by_source == {})' <<<"$output"
}

@test "the text summary shows counts, percentiles, a histogram and the distribution" {
	run lg -c 2 -n 100 "$(b1)/" "$(b2)/"
	assert_success
	assert_line --regexp '^loadgen · .* · 2 connections · 1 thread · keep-alive · closed loop · http://'
	assert_line --regexp '^  requests      100   '
	assert_line '  errors        none'
	assert_line '  status        200: 100'
	assert_line --regexp '^  latency       min [0-9.]+  mean [0-9.]+  stdev [0-9.]+  p50 [0-9.]+  p90 [0-9.]+  p99 [0-9.]+  p99.9 [0-9.]+  max [0-9.]+ ms$'
	assert_line --regexp '^ +[0-9.]+ ms █*[▏▎▍▌▋▊▉]? [0-9.]+%$'
	assert_line --regexp '^  by X-Backend  b1 +[0-9]+ +[0-9.]+%   p50 [0-9.]+  p99 [0-9.]+ ms$'
	assert_line --regexp '^ +b2 +[0-9]+ +[0-9.]+%   p50 [0-9.]+  p99 [0-9.]+ ms$'
}

@test "no progress line is written when stdout is not a terminal" {
	run lg -c 2 -d 1.2s "$(b1)/"
	assert_success
	refute_output --partial $'\r'
}

@test "--no-keepalive opens a connection for every request" {
	run lg -c 4 -n 60 --no-keepalive --json "$(b1)/"
	assert_success
	assert_equal "$(jq .requests <<<"$output")" 60
	assert_equal "$(jq .connections_opened <<<"$output")" 60
	assert_equal "$(jq .keepalive <<<"$output")" false
	run lg -c 4 -n 60 --json "$(b1)/"
	assert_equal "$(jq .connections_opened <<<"$output")" 4
}

@test "-t 2 splits connections over two threads and merges their counts" {
	run lg -c 4 -t 2 -n 400 --json "$(b1)/" "$(b2)/"
	assert_success
	assert_equal "$(jq .threads <<<"$output")" 2
	assert_equal "$(jq .requests <<<"$output")" 400
	assert_equal "$(jq '.by_header.b1 + .by_header.b2' <<<"$output")" 400
}

@test "-m and -H and --body shape the request" {
	printf 'hello body' >"$BATS_TEST_TMPDIR/body"
	run lg -c 1 -n 3 -m PUT -H 'Host: app.test' -H 'version: v2' --body "$BATS_TEST_TMPDIR/body" -v "$(b1)/echo"
	assert_success
	# mockserver logs the method; /echo answered with the body size we sent.
	wait_until grep -q '"PUT /echo' "$(err_of m)"
	run bash -c "printf 'x' | '$L7_BIN/loadgen' -c 1 -n 2 -m POST --body @- --json '$(b1)/echo'"
	assert_success
	assert_equal "$(jq .requests <<<"$output")" 2
}

@test "-m HEAD reads responses that have no body" {
	run lg -c 2 -n 20 -m HEAD --json "$(b1)/"
	assert_success
	assert_equal "$(jq .requests <<<"$output")" 20
	assert_equal "$(jq .errors_total <<<"$output")" 0
}

@test "--hdr writes the percentiles in HdrHistogram's text format" {
	run lg -c 2 -n 500 --hdr "$BATS_TEST_TMPDIR/lat.hdr" "$(b1)/"
	assert_success
	run head -n 1 "$BATS_TEST_TMPDIR/lat.hdr"
	assert_output '       Value     Percentile TotalCount 1/(1-Percentile)'
	run grep -E '^ +[0-9.]+ 1\.000000000000 +500$' "$BATS_TEST_TMPDIR/lat.hdr"
	assert_success
	run grep -c '^#\[' "$BATS_TEST_TMPDIR/lat.hdr"
	assert_output 3
}

@test "--timeline writes one CSV row per second with status and backend columns" {
	run lg -c 10 -d 2.5s -r 100 --json --timeline "$BATS_TEST_TMPDIR/t.csv" "$(b1)/" "$(b2)/status/503"
	assert_success
	# A row counts the answers that came in its second: 100 within 5%, give
	# or take those the slowest answer's latency moved across its edges.
	local late; late=$(jq '.latency_us.max / 1e6 * 100 | ceil' <<<"$output")
	run cat "$BATS_TEST_TMPDIR/t.csv"
	assert_line --index 0 'second,requests,errors,proxy_5xx,status_200,status_503,X-Backend:b1,X-Backend:b2'
	assert_equal "${#lines[@]}" 4
	# Each full second: about 100 requests, half to each backend.
	awk -F, -v late="$late" 'NR == 2 || NR == 3 {
		if ($2 < 95 - late || $2 > 105 + late || $5 != $7 || $6 != $8) { print "row " NR - 1 ": " $0; bad = 1 } }
		END { exit bad }' "$BATS_TEST_TMPDIR/t.csv"
}

@test "--slow connections answered early are reported with the status" {
	start_bg small "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name small --max-header 64
	run lg -c 1 -d 1.5s --slow 2:200 -H "X-Pad: $(printf 'p%.0s' {1..80})" --json "http://$(addr_of small)/"
	assert_success
	jq -e '.slow.outcomes.answered_early >= 2 and .slow.answered_status["431"] >= 2 and
	       .slow.outcomes.completed == 0' <<<"$output"
}

@test "--slow connections closed by an idle timeout are reported as closed" {
	start_bg idle "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name idle --idle-timeout 200ms
	run lg -c 1 -d 1.5s --slow 2:1 "http://$(addr_of idle)/"
	assert_success
	assert_line --regexp '^  slow          2 connections sending their request at 1 B/s'
	assert_line --regexp '^ +[0-9]+ closed by the server without a response, after 0\.[0-9]+ s on average$'
}

@test "--slow connections that finish sending are reported as completed" {
	run lg -c 1 -d 1.5s --slow 1:2000 --json "$(b1)/"
	assert_success
	jq -e '.slow.outcomes.completed >= 1 and .slow.completed_status["200"] >= 1' <<<"$output"
}

@test "one connection is one connection in the summary, two are connections" {
	run lg -c 1 -n 3 "$(b1)/"
	assert_line --regexp '^  requests      3   .*   1 connection opened$'
	run lg -c 2 -n 4 "$(b1)/"
	assert_line --regexp '^  requests      4   .*   2 connections opened$'
}

# dual CMD...: CMD where the name dual.test is both ::1 and 127.0.0.1 (its
# own /etc/hosts, in a mount namespace of its own: needs root).
dual() {
	printf '::1 dual.test\n127.0.0.1 dual.test\n' >"$BATS_TEST_TMPDIR/hosts"
	unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$BATS_TEST_TMPDIR/hosts" "$@"
}

need_dual() {
	have_ipv6_loopback || skip "::1 is not available here"
	dual true 2>/dev/null || skip "cannot give a command its own /etc/hosts here (root and unshare -m)"
}

@test "a host name's addresses are tried in turn, as curl does" {
	need_dual
	# One server on [::1], one on 127.0.0.1: dual.test reaches each on its
	# port, whichever address the resolver lists first.
	start_bg six "$L7_BIN/mockserver" --listen '[::1]:0' --name six
	start_bg four "$L7_BIN/mockserver" --listen '127.0.0.1:0' --name four
	run dual "$L7_BIN/loadgen" -c 1 -n 2 --json "http://dual.test:$(port_of six)/"
	assert_success
	assert_equal "$(jq '.by_header.six' <<<"$output")" 2
	run dual "$L7_BIN/loadgen" -c 1 -n 2 --json "http://dual.test:$(port_of four)/"
	assert_success
	assert_equal "$(jq '.by_header.four' <<<"$output")" 2
}

@test "when no address of a host name answers, each failure is named" {
	need_dual
	local port; port=$(dead_addr 127.0.0.1)
	port=${port##*:}
	run dual "$L7_BIN/loadgen" -n 1 "http://dual.test:$port/"
	assert_failure 2
	assert_equal "${#lines[@]}" 1
	assert_output --regexp "^loadgen: dual.test:$port: no address of dual.test accepts a connection: connect [^;]*: Connection refused; connect [^;]*: Connection refused\$"
}

@test "on a terminal the progress line is left out when TERM=dumb" {
	command -v script >/dev/null || skip "script (bsdutils) is not installed"
	run env TERM=dumb script -qec "$L7_BIN/loadgen -c 1 -n 50 $(b1)/" /dev/null
	assert_success
	refute_output --partial $'\e'
	run env TERM=xterm script -qec "$L7_BIN/loadgen -c 1 -n 50 $(b1)/" /dev/null
	assert_output --partial $'\e[K'
}
