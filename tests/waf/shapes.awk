# shapes.awk - one value per input line in, one raw HTTP/1.1 request out,
# carrying the value in one of a dozen places (see mkcorpus).  Run with
# LC_ALL=C so that lengths are bytes.  Lines starting with "##" and empty
# lines are skipped; a line is taken byte for byte (no escapes).  Load
# encode.awk first (pct, ord, unreserved).

BEGIN {
	# What a browser's address bar leaves as it is in a query.
	browser_ok = unreserved "!$'()*,/:;@?"
	nua = split("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36|" \
	            "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0|" \
	            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1|" \
	            "curl/7.88.1|python-requests/2.31.0|Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", ua, "|")
	nhost = split("shop.example.com|www.example.org|api.example.net|blog.example.com", host, "|")
	nshape = 13
	n = 0
}

# A JSON string's inside; html_safe also escapes < > & ' as \u00XX, as
# Go's encoder and many others do.
function jstr(s, html_safe,    out, i, c, o) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1); o = ord[c]
		if (c == "\"" || c == "\\")
			out = out "\\" c
		else if (o < 32 || (html_safe && (c == "<" || c == ">" || c == "&" || c == "'")))
			out = out sprintf("\\u%04x", o)
		else
			out = out c
	}
	return out
}

# True if s may stand as it is in a header value.
function header_safe(s,    i, o) {
	for (i = 1; i <= length(s); i++) {
		o = ord[substr(s, i, 1)]
		if ((o < 32 && o != 9) || o == 127)
			return 0
	}
	return s !~ /^[ \t]/ && s !~ /[ \t]$/
}

function common(k) {
	return "Host: " host[k % nhost + 1] "\r\n" \
	       "User-Agent: " ua[k % nua + 1] "\r\n" \
	       "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" \
	       "Accept-Language: en-US,en;q=0.5\r\n" \
	       "Accept-Encoding: gzip, deflate, br\r\n"
}

function get(target, k, extra) {
	printf "GET %s HTTP/1.1\r\n%s%s\r\n", target, common(k), extra
}

function post(target, k, type, body, extra) {
	printf "POST %s HTTP/1.1\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s", target, common(k), type,
	       length(body), extra, body
}

function emit(v, k,    s, b, body) {
	s = k % nshape
	if (s == 6 && !header_safe(v))
		s = 7
	if (s == 0)
		get("/search?q=" pct(v, unreserved, 1) "&sort=relevance&page=2", k, "")
	else if (s == 1)
		get("/catalog/item.php?id=" pct(v, browser_ok, 0) "&cat=7", k, "Referer: https://" host[k % nhost + 1] "/catalog/\r\n")
	else if (s == 2)
		post("/account/login", k, "application/x-www-form-urlencoded",
		     "username=" pct(v, unreserved, 1) "&password=correct+horse+battery&remember=on", "")
	else if (s == 3)
		post("/api/v2/search", k, "application/json",
		     "{\"query\":\"" jstr(v, 0) "\",\"filters\":{\"in_stock\":true,\"max_price\":250},\"limit\":20}", "Accept: application/json\r\n")
	else if (s == 4)
		get("/dashboard", k, "Cookie: sid=8f14e45fceea167a5a36dedd4bea2543; theme=" pct(v, unreserved, 0) "; tz=Europe%2FParis\r\n")
	else if (s == 5)
		get("/news/latest", k, "Referer: https://www.example.com/?q=" pct(v, unreserved, 1) "\r\n")
	else if (s == 6)
		printf "GET /status HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n\r\n", host[k % nhost + 1], v
	else if (s == 7)
		get("/users/" pct(v, unreserved, 0) "/profile", k, "")
	else if (s == 8) {
		b = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
		body = "--" b "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHoliday photos\r\n" \
		       "--" b "\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n" v "\r\n" \
		       "--" b "\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"beach.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" \
		       "JFIF-not-really-an-image\r\n--" b "--\r\n"
		post("/upload", k, "multipart/form-data; boundary=" b, body, "")
	} else if (s == 9)
		get("/go?next=" pct(pct(v, unreserved, 0), unreserved, 0) "&src=mail", k, "")
	else if (s == 10)
		post("/api/comments", k, "application/json; charset=utf-8",
		     "{\"post_id\":4711,\"author\":{\"name\":\"Ann Lee\",\"email\":\"ann@example.com\"},\"tags\":[\"travel\",\"" \
		     jstr(v, 1) "\"]}", "X-Requested-With: XMLHttpRequest\r\n")
	else if (s == 11)
		post("/blog/7/comments", k, "application/x-www-form-urlencoded",
		     "post_id=7&comment=" pct(v, unreserved, 1) "&notify=1", "")
	else
		get("/api/v1/orders/" pct(v, unreserved, 0) "?expand=items", k, "Accept: application/json\r\n")
}

/^##/ || /^$/ { next }
{ sub(/\r$/, ""); emit($0, n++) }
