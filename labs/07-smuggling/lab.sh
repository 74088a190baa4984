# labs/07-smuggling/lab.sh - lab 07 for bin/lab: its pieces and its checks.
LAB_TITLE="Ambiguous messages: request smuggling"
LAB_STEPS="2, 5, 6"

lab_start() {
	start_backends
	start_proxy_lab $(three_fixed) -v
}

send() { printf "$1" | on client timeout 5 nc -N "${P%:*}" "${P##*:}"; }
total() { stats | jq '[.[].requests] | add'; }

lab_check() {
	backends
	proxy $(three)
	part "1. Two requests in one write are fine"
	expect "two pipelined requests, two answers, in order, from two backends" \
		"$(send 'GET /echo HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | tr -d '\r' | grep -a -E '^X-Backend' | paste -sd' ')" \
		"X-Backend: b1 X-Backend: b2"

	part "2. Ambiguous requests are refused"
	local before after codes= p
	before=$(total)
	for p in \
		'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 37\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n' \
		'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd' \
		'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n' \
		'GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n' \
		'GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n' \
		'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\001b\r\n\r\n' \
		'GET / HTTP/1.1\r\n\r\n' \
		'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'; do
		codes+="$(send "$p" | head -n 1 | awk '{ print $2 }') "
	done
	after=$(total)
	expect "CL.TE, two Content-Lengths, a bad coding, obs-fold, bare LF, a control character, no Host, two Hosts: all 400" \
		"${codes% }" "400 400 400 400 400 400 400 400"
	expect "and the backends received none of them (only the /stats request that counts)" "$((after - before))" 3

	part "3. Ambiguous responses are not forwarded"
	local raw; raw=$(l7_dir)/raw
	mkdir -p "$raw"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc' >"$raw/good.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' >"$raw/cl-te.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc' >"$raw/two-cl.http"
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Fold: a\r\n b\r\n\r\nabc' >"$raw/fold.http"
	printf 'HTTP/1.1 200 OK\nContent-Length: 3\n\nabc' >"$raw/bare-lf.http"
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n' >"$raw/bad-chunk.http"
	restart_backend b1 --raw-dir "$raw"
	proxy --backend "b1=$B1"
	local f got=
	for f in good cl-te two-cl fold bare-lf; do got+="$f=$(get "/raw/$f.http" -o /dev/null -w '%{http_code}') "; done
	expect "the good response passes; four ambiguous ones become a 502 made by the proxy" "${got% }" \
		"good=200 cl-te=502 two-cl=502 fold=502 bare-lf=502"
	get /raw/bad-chunk.http -o /dev/null
	expect "a bad chunk after the head: the client's transfer is cut short (curl exit 18)" "$?" 18
}
