#!/usr/bin/env bats
# mockserver's /leak: fake sensitive data and near misses, whole, chunked,
# and cut inside every value (?split=N), with pauses between the pieces
# (?ms=T), for the data-leak labs and the proxy's step-6 tests.

load helpers

setup_file() {
	start_bg_file mock "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name b1
}

teardown_file() { stop_all_file; }

url() { echo "http://$(addr_of mock b1)$1"; }

# chunks URL: the chunk data of a chunked response, chunks joined by '|'
# (the page has no CR, so CRLF only frames the chunks).
chunks() {
	curl -s --raw "$1" | awk 'BEGIN { RS = "\r\n"; ORS = "" } NR % 2 == 0 { print (NR > 2 ? "|" : "") $0 }'
}

@test "/leak shows the AWS documentation's example key id and secret" {
	run curl -s "$(url /leak)"
	assert_output --partial 'api_key=AKIAIOSFODNN7EXAMPLE'
	assert_output --partial 'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
}

@test "/leak lists near misses beside the leaks" {
	run curl -s "$(url /leak)"
	assert_output --partial '<td>4111 1111 1111 1112</td>'
	assert_output --partial '<td>666-12-3456</td>'
	assert_output --partial '<td>+1 415-555-0132</td>'
	assert_output --partial '<td>2024-03-15</td>'
}

@test "/leak?chunked=1 sends the same page in chunks" {
	curl -s "$(url /leak)" >"$BATS_TEST_TMPDIR/whole"
	run curl -si "$(url '/leak?chunked=1&split=7')"
	assert_output --partial 'Transfer-Encoding: chunked'
	curl -s "$(url '/leak?chunked=1&split=7')" >"$BATS_TEST_TMPDIR/chunked"
	diff -u "$BATS_TEST_TMPDIR/whole" "$BATS_TEST_TMPDIR/chunked"
}

@test "/leak?split=5 ends a chunk five bytes into every value" {
	run chunks "$(url '/leak?chunked=1&split=5')"
	assert_output --partial '<td>4111 |1111 1111 1111</td>'
	assert_output --partial '<td>078-0|5-1120</td>'
	assert_output --partial 'api_key=AKIAI|OSFODNN7EXAMPLE'
	assert_output --partial 'aws_secret_access_key=wJalr|XUtnFEMI'
	assert_output --partial '<td>4111 |1111 1111 1112</td>'
	assert_output --partial '<td>+1 41|5-555-0132</td>'
}

@test "/leak?split longer than a value cuts at the value's end" {
	run chunks "$(url '/leak?chunked=1&split=64')"
	assert_output --partial '<td>078-05-1120|</td>'
	assert_output --partial '<td>4111 1111 1111 1111|</td>'
}

@test "/leak?split without chunked keeps the Content-Length and the page" {
	curl -s "$(url /leak)" >"$BATS_TEST_TMPDIR/whole"
	run curl -si "$(url '/leak?split=3')"
	assert_output --partial "Content-Length: $(wc -c <"$BATS_TEST_TMPDIR/whole")"
	curl -s "$(url '/leak?split=3')" >"$BATS_TEST_TMPDIR/split"
	diff -u "$BATS_TEST_TMPDIR/whole" "$BATS_TEST_TMPDIR/split"
}

@test "/leak?ms=T pauses between the pieces" {
	# 2 cuts per value (the page has more than 40 values): at least 40 pauses of 20 ms.
	run curl -s -o /dev/null -w '%{size_download} %{time_total}' "$(url '/leak?split=4&ms=20')"
	read -r size t <<<"$output"
	[ "$size" -eq "$(curl -s "$(url /leak)" | wc -c)" ]
	awk -v t="$t" 'BEGIN { exit !(t >= 0.8 && t < 30) }'
}

@test "/leak?chunked=1 to an HTTP/1.0 client ends the body by closing" {
	local a; a=$(addr_of mock b1)
	run bash -c "printf 'GET /leak?chunked=1&split=4 HTTP/1.0\r\n\r\n' | timeout 5 nc -N ${a%:*} ${a##*:}"
	refute_line --partial 'Transfer-Encoding'
	assert_line --partial 'Connection: close'
	assert_output --partial '</body></html>'
}

@test "a HEAD of /leak?chunked=1 has no body" {
	run curl -s -I "$(url '/leak?chunked=1&split=4')"
	assert_output --partial 'Transfer-Encoding: chunked'
	run curl -s --head -o /dev/null -w '%{size_download}' "$(url '/leak?chunked=1&split=4')"
	assert_output 0
}

@test "/leak refuses a bad split, chunked or ms with 400" {
	for q in 'split=0' 'split=65' 'chunked=2' 'ms=x'; do
		run curl -s -o /dev/null -w '%{http_code}' "$(url "/leak?$q")"
		assert_output 400
	done
	run curl -s "$(url '/leak?split=0')"
	assert_output 'split must be 1-64'
}
