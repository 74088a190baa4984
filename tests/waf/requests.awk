# requests.awk - whole requests written by hand, framed for the wire.
#
# Input: requests separated by lines "%%"; in each, the request line and
# headers, an empty line, then the body (if any).  Lines starting with "#"
# before a request are comments.  Output: each request with CRLF line ends,
# the body's lines joined by CRLF, and a Content-Length computed for it
# (unless the head has one).  Run with LC_ALL=C: lengths are bytes.

function flush(    i) {
	if (nhead == 0)
		return
	for (i = 1; i <= nhead; i++)
		printf "%s\r\n", head[i]
	if (nbody > 0 && !has_length)
		printf "Content-Length: %d\r\n", length(body)
	printf "\r\n%s", body
	nhead = 0; nbody = 0; body = ""; in_body = 0; has_length = 0
}

{ sub(/\r$/, "") }
/^%%$/ { flush(); next }
!in_body && nhead == 0 && (/^#/ || /^$/) { next }
!in_body && /^$/ { in_body = 1; next }
!in_body {
	head[++nhead] = $0
	if (tolower($0) ~ /^content-length:/)
		has_length = 1
	next
}
{ body = nbody++ ? body "\r\n" $0 : $0 }
END { flush() }
