/*
 * endpoints.c - what a mock backend answers (step 6 as a proxy sees it):
 * first the faults of its listener (unhealthy, --drop-rate, --reset-rate,
 * --fail-rate), then the endpoint the target names.
 *
 * Every response goes through head(): the status line and the headers that
 * make the backend visible to any client behind any proxy (X-Backend,
 * X-Conn, X-Conn-Request, Server).  Bodies that may be large (/bytes,
 * /chunked, /drip) are generated as the socket drains, never held whole.
 * /leak can cut its page into pieces at chosen places (chunks, pauses),
 * so that a data-leak filter meets values split across reads.
 */
#include "mockserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define LEN_CHUNKED  (-1)   /* Transfer-Encoding: chunked            */
#define LEN_NONE     (-2)   /* no body framing: 204, 304, or until close */
#define RAW_MAX      (16u << 20)

/* ---- output helpers ------------------------------------------------------- */

static void put(struct conn *c, const void *p, size_t n)
{
	if (buf_append(&c->out, p, n) < 0)
		c->oom = true;
}

#define PUT(c, lit) put((c), (lit), sizeof(lit) - 1)

static void put_str(struct conn *c, const char *s) { put(c, s, strlen(s)); }

static void put_u64(struct conn *c, uint64_t v)
{
	if (buf_put_uint(&c->out, v) < 0)
		c->oom = true;
}

/* Appends n bytes of the /bytes pattern, continuing where c->sent left off. */
static void put_pattern(struct conn *c, size_t n)
{
	const unsigned char *pat = c->srv->pattern;
	while (n > 0) {
		size_t at = (size_t)(c->sent % PATTERN_LEN), take = PATTERN_LEN - at;
		if (take > n)
			take = n;
		put(c, pat + at, take);
		c->sent += take;
		c->left -= take;
		n -= take;
	}
}

static bool is_http10(const struct conn *c)
{
	return http_major(&c->req) == 1 && http_minor(&c->req) == 0;
}

/* One line per request with -v: the status and length, or what happened
 * instead of an answer (status 0: outcome says it). */
static void log_request(struct conn *c, int status, int64_t length, const char *outcome)
{
	if (log_verbose < 1)
		return;
	const struct http_msg *m = &c->req;
	char len[32] = "-";
	if (length >= 0)
		snprintf(len, sizeof(len), "%lldB", (long long)length);
	char code[8] = "-";
	if (status != 0)
		snprintf(code, sizeof(code), "%d", status);
	log_debug("%s %s conn=%llu req=%llu \"%s %.200s HTTP/%d.%d\" %s %s%s%s",
	          c->be->name, c->peer, (unsigned long long)c->id, (unsigned long long)c->nreq,
	          m->headers_done ? http_method(m) : "-", m->headers_done ? http_target(m) : "-",
	          http_major(m), http_minor(m), code, len, c->close_after ? " close" : "",
	          outcome ? outcome : "");
}

/* Queues the status line and the headers of a response.  length is the
 * body's size, LEN_CHUNKED or LEN_NONE; extra holds more header lines. */
static void head(struct conn *c, int status, const char *ctype, int64_t length, const char *extra, size_t extra_len)
{
	struct backend *be = c->be;
	char code[4] = { (char)('0' + status / 100), (char)('0' + status / 10 % 10), (char)('0' + status % 10), ' ' };
	PUT(c, "HTTP/1.1 ");
	put(c, code, 4);
	put_str(c, http_reason(status));
	PUT(c, "\r\nServer: mockserver\r\nX-Backend: ");
	put_str(c, be->name);
	PUT(c, "\r\nX-Conn: ");
	put_u64(c, c->id);
	PUT(c, "\r\nX-Conn-Request: ");
	put_u64(c, c->nreq);
	PUT(c, "\r\n");
	if (ctype != NULL) {
		PUT(c, "Content-Type: ");
		put_str(c, ctype);
		PUT(c, "\r\n");
	}
	if (length >= 0) {
		PUT(c, "Content-Length: ");
		put_u64(c, (uint64_t)length);
		PUT(c, "\r\n");
	} else if (length == LEN_CHUNKED) {
		PUT(c, "Transfer-Encoding: chunked\r\n");
	}
	if (c->close_after)
		PUT(c, "Connection: close\r\n");
	else if (is_http10(c))
		PUT(c, "Connection: keep-alive\r\n");
	if (extra_len > 0)
		put(c, extra, extra_len);
	PUT(c, "\r\n");
	be->st.status[status]++;
	log_request(c, status, length, NULL);
}

/* A whole response with a small body.  204 and 304 carry none; neither
 * does the answer to HEAD (but it says how long the body would be). */
static void reply(struct conn *c, int status, const char *ctype, const char *body, size_t len,
                  const char *extra, size_t extra_len)
{
	if (status == 204 || status == 304) {
		head(c, status, NULL, LEN_NONE, extra, extra_len);
	} else {
		head(c, status, ctype, (int64_t)len, extra, extra_len);
		if (!c->head_only)
			put(c, body, len);
	}
	conn_response_done(c);
}

static void reply_text(struct conn *c, int status, const char *text)
{
	reply(c, status, "text/plain", text, strlen(text), NULL, 0);
}

static void reply_fmt(struct conn *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_fmt(struct conn *c, int status, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = '\0';
	reply_text(c, status, text);
}

/* Closes without an answer; responses queued before still go out. */
static void drop(struct conn *c, const char *why)
{
	log_request(c, 0, -1, c->reset_on_close ? " reset" : " dropped");
	c->why = why;
	conn_set_state(c, CS_CLOSING);
}

/* Closes with an RST (SO_LINGER 0) instead of a FIN. */
static void reset(struct conn *c, const char *why)
{
	c->reset_on_close = true;
	drop(c, why);
}

static bool roll(struct backend *be, double rate)
{
	return rate > 0 && rng_double(&be->rng) < rate;
}

/* ---- endpoints ------------------------------------------------------------ */

static void ep_hello(struct conn *c)
{
	const char *name = c->be->name;
	size_t n = strlen(name);
	head(c, 200, "text/plain", (int64_t)(sizeof("hello from \n") - 1 + n), NULL, 0);
	if (!c->head_only) {
		PUT(c, "hello from ");
		put(c, name, n);
		PUT(c, "\n");
	}
	conn_response_done(c);
}

/* {"backend":..., "method":..., "headers":[[name, value], ...], "body":...} */
static void ep_echo(struct conn *c)
{
	const struct http_msg *m = &c->req;
	struct buf *j = &c->srv->scratch;
	if (c->body_too_big) {
		reply_fmt(c, 413, "request body over %llu bytes (--max-body)\n", (unsigned long long)c->be->o.max_body);
		return;
	}
	buf_clear(j);
	int r = buf_puts(j, "{\"backend\":");
	r |= buf_json_str(j, c->be->name, strlen(c->be->name));
	r |= buf_printf(j, ",\"conn\":%llu,\"conn_request\":%llu,\"peer\":", (unsigned long long)c->id,
	                (unsigned long long)c->nreq);
	r |= buf_json_str(j, c->peer, strlen(c->peer));
	r |= buf_puts(j, ",\"method\":");
	r |= buf_json_str(j, http_method(m), strlen(http_method(m)));
	r |= buf_puts(j, ",\"target\":");
	r |= buf_json_str(j, http_target(m), m->target_len);
	r |= buf_printf(j, ",\"version\":\"HTTP/%d.%d\",\"headers\":[", http_major(m), http_minor(m));
	for (size_t i = 0; i < m->nhdrs; i++) {
		r |= buf_puts(j, i ? ",[" : "[");
		r |= buf_json_str(j, http_hdr_name(m, i), m->hdrs[i].name_len);
		r |= buf_puts(j, ",");
		r |= buf_json_str(j, http_hdr_value(m, i), m->hdrs[i].value_len);
		r |= buf_puts(j, "]");
	}
	r |= buf_puts(j, "],\"body\":");
	r |= buf_json_str(j, buf_begin(&c->body), buf_len(&c->body));
	r |= buf_puts(j, "}\n");
	if (r != 0) {
		c->oom = true;
		return;
	}
	reply(c, 200, "application/json", buf_begin(j), buf_len(j), NULL, 0);
}

static void ep_bytes(struct conn *c, uint64_t n)
{
	head(c, 200, "application/octet-stream", (int64_t)n, NULL, 0);
	c->left = c->head_only ? 0 : n;
	c->sent = 0;
	c->chunk = 0;
	if (c->left == 0)
		conn_response_done(c);
	else
		conn_set_state(c, CS_STREAMING);
}

static void ep_chunked(struct conn *c, uint64_t n, uint64_t size)
{
	c->sent = 0;
	if (is_http10(c)) {
		/* HTTP/1.0 knows no chunks: the body ends when the connection does. */
		c->close_after = true;
		c->chunk = 0;
		head(c, 200, "application/octet-stream", LEN_NONE, NULL, 0);
	} else {
		c->chunk = (size_t)size;
		head(c, 200, "application/octet-stream", LEN_CHUNKED, NULL, 0);
	}
	c->left = n;
	if (c->head_only) {
		c->left = 0;
		conn_response_done(c);
		return;
	}
	conn_set_state(c, CS_STREAMING);
}

void stream_more(struct conn *c, size_t max)
{
	size_t made = 0;
	while (c->left > 0 && made < max && !c->oom) {
		size_t n = c->chunk ? c->chunk : max - made;
		if (n > c->left)
			n = (size_t)c->left;
		if (c->chunk) {
			char hex[24];
			int h = snprintf(hex, sizeof(hex), "%zx\r\n", n);
			put(c, hex, (size_t)h);
			put_pattern(c, n);
			PUT(c, "\r\n");
		} else {
			put_pattern(c, n);
		}
		made += n;
	}
	if (c->left == 0) {
		if (c->chunk)
			PUT(c, "0\r\n\r\n");
		conn_response_done(c);
	}
}

static void ep_drip(struct conn *c, uint64_t n, uint64_t ms)
{
	head(c, 200, "application/octet-stream", (int64_t)n, NULL, 0);
	c->left = c->head_only ? 0 : n;
	c->sent = 0;
	c->chunk = 0;
	if (c->left == 0) {
		conn_response_done(c);
	} else if (ms == 0) {
		conn_set_state(c, CS_STREAMING);
	} else {
		c->tick_ms = ms;
		conn_set_state(c, CS_DRIPPING);
		conn_arm(c, ms);
	}
}

/* Where /leak?split=N cuts its page next after byte from: N bytes into
 * the first value (a leak or a near miss) whose cut lies beyond from, or
 * the page's end.  Values shorter than N are cut at their end. */
static size_t leak_next_cut(const struct buf *page, size_t from, size_t split)
{
	static const char *const *const lists[] = { leak_cards, leak_ssns, leak_near_misses };
	const char *const keys[] = { leak_api_key, leak_secret, NULL };
	const char *p = buf_begin(page);
	size_t len = buf_len(page), best = len;
	for (size_t l = 0; l <= sizeof(lists) / sizeof(lists[0]); l++) {
		const char *const *v = l < sizeof(lists) / sizeof(lists[0]) ? lists[l] : keys;
		for (; *v != NULL; v++) {
			size_t vlen = strlen(*v), k = split < vlen ? split : vlen;
			/* The first occurrence at or after from + 1 - k cuts beyond from. */
			size_t start = from + 1 > k ? from + 1 - k : 0;
			const char *at = start < len ? memmem(p + start, len - start, *v, vlen) : NULL;
			if (at != NULL && (size_t)(at - p) + k < best)
				best = (size_t)(at - p) + k;
		}
	}
	return best;
}

/* Queues the next piece of /leak: up to the next cut, as a chunk of its
 * own when the response is chunked. */
static void leak_piece(struct conn *c)
{
	const struct buf *page = &c->srv->leak_page;
	size_t at = (size_t)c->sent;
	size_t to = c->route.n ? leak_next_cut(page, at, (size_t)c->route.n) : buf_len(page);
	bool chunked = c->route.chunked && !is_http10(c);
	if (chunked) {
		char hex[24];
		int h = snprintf(hex, sizeof(hex), "%zx\r\n", to - at);
		put(c, hex, (size_t)h);
	}
	put(c, buf_begin(page) + at, to - at);
	if (chunked)
		PUT(c, "\r\n");
	c->sent = to;
	c->left = buf_len(page) - to;
	if (c->left == 0 && chunked)
		PUT(c, "0\r\n\r\n");
}

/* /leak: the page whole, or in pieces cut inside its values (?split=N),
 * as chunks (?chunked=1), with a pause between pieces (?ms=T) so that
 * each goes out in its own write. */
static void ep_leak(struct conn *c)
{
	const struct route *r = &c->route;
	size_t len = buf_len(&c->srv->leak_page);
	if (r->chunked && is_http10(c)) {
		c->close_after = true;   /* HTTP/1.0 knows no chunks: end by closing */
		head(c, 200, "text/html", LEN_NONE, NULL, 0);
	} else {
		head(c, 200, "text/html", r->chunked ? LEN_CHUNKED : (int64_t)len, NULL, 0);
	}
	c->sent = 0;
	c->left = c->head_only ? 0 : len;
	if (c->left > 0 && r->ms > 0 && r->n > 0) {
		leak_piece(c);
		if (c->left > 0) {
			c->tick_ms = r->ms;
			conn_set_state(c, CS_DRIPPING);
			conn_arm(c, r->ms);
			return;
		}
	}
	while (c->left > 0)
		leak_piece(c);
	conn_response_done(c);
}

void drip_one(struct conn *c)
{
	if (c->route.ep == EP_LEAK)
		leak_piece(c);
	else
		put_pattern(c, 1);
	if (c->left == 0)
		conn_response_done(c);
	else
		conn_arm(c, c->tick_ms);
}

static void ep_headers(struct conn *c, uint64_t n)
{
	struct buf *x = &c->srv->scratch;
	char body[64];
	buf_clear(x);
	for (uint64_t i = 1; i <= n; i++)
		if (buf_printf(x, "X-Header-%llu: value %llu\r\n", (unsigned long long)i, (unsigned long long)i) < 0) {
			c->oom = true;
			return;
		}
	int len = snprintf(body, sizeof(body), "%llu extra headers\n", (unsigned long long)n);
	reply(c, 200, "text/plain", body, (size_t)len, buf_begin(x), buf_len(x));
}

/* {"b1":{"address":...,"requests":N,"connections":N,...,"status":{"200":N}}, ...} */
static void ep_stats(struct conn *c)
{
	struct server *srv = c->srv;
	struct buf *j = &srv->scratch;
	int r = 0;
	buf_clear(j);
	r |= buf_puts(j, "{");
	for (size_t i = 0; i < srv->nbe; i++) {
		const struct backend *be = &srv->be[i];
		uint64_t queued = 0;
		for (const struct conn *q = be->queue_head; q != NULL; q = q->qnext)
			queued++;
		r |= buf_puts(j, i ? "," : "");
		r |= buf_json_str(j, be->name, strlen(be->name));
		r |= buf_puts(j, ":{\"address\":");
		r |= buf_json_str(j, be->addr_str, strlen(be->addr_str));
		r |= buf_printf(j, ",\"healthy\":%s,\"delay_ms\":%llu,\"requests\":%llu,\"connections\":%llu,\"open\":%llu,"
		                "\"dropped\":%llu,\"reset\":%llu,\"workers\":%llu,\"busy\":%llu,\"queued\":%llu,\"status\":{",
		                be->healthy ? "true" : "false", (unsigned long long)be->o.delay_ms, (unsigned long long)be->st.requests,
		                (unsigned long long)be->st.connections, (unsigned long long)be->st.open,
		                (unsigned long long)be->st.dropped, (unsigned long long)be->st.reset,
		                (unsigned long long)be->o.workers, (unsigned long long)be->busy, (unsigned long long)queued);
		bool first = true;
		for (int s = 100; s < 600; s++) {
			if (be->st.status[s] == 0)
				continue;
			r |= buf_printf(j, "%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)be->st.status[s]);
			first = false;
		}
		r |= buf_puts(j, "}}");
	}
	r |= buf_puts(j, "}\n");
	if (r != 0) {
		c->oom = true;
		return;
	}
	reply(c, 200, "application/json", buf_begin(j), buf_len(j), NULL, 0);
}

/* Sends the bytes of --raw-dir/FILE as they are, with nothing added, and
 * closes (with an RST for ?close=reset): the response is whatever the file
 * says, however malformed, cut off however a server may cut it off. */
static void ep_raw(struct conn *c)
{
	struct backend *be = c->be;
	char name[256];
	struct stat st;
	if (be->raw_dirfd < 0) {
		reply_text(c, 404, "no --raw-dir was given\n");
		return;
	}
	memcpy(name, c->route.file, c->route.file_len);
	name[c->route.file_len] = '\0';
	int fd = openat(be->raw_dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		reply_text(c, 404, errno == ENOENT ? "no such raw file\n" : "cannot open that raw file\n");
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		reply_text(c, 404, "not a regular file\n");
		return;
	}
	if ((uint64_t)st.st_size > RAW_MAX) {
		close(fd);
		reply_text(c, 500, "raw file over 16 MiB\n");
		return;
	}
	if (buf_reserve(&c->out, (size_t)st.st_size) < 0) {
		close(fd);
		c->oom = true;
		return;
	}
	size_t want = (size_t)st.st_size;
	while (want > 0) {
		ssize_t n = read(fd, c->out.data + c->out.off + c->out.len, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				log_warn("read %s: %s", name, strerror(errno));
			break;
		}
		c->out.len += (size_t)n;
		want -= (size_t)n;
	}
	close(fd);
	log_request(c, 0, st.st_size, c->route.reset ? " raw, then reset" : " raw");
	c->why = "raw response sent";
	c->reset_on_close = c->route.reset;
	conn_set_state(c, CS_CLOSING);
}

/* ---- dispatch ------------------------------------------------------------- */

void respond(struct conn *c)
{
	struct backend *be = c->be;
	const struct route *r = &c->route;

	/* Faults first: health, then the rates, in a fixed order so --seed
	 * replays the same sequence. */
	if (!be->healthy) {
		reply_fmt(c, 503, "%s is unhealthy\n", be->name);
		return;
	}
	if (roll(be, be->o.drop_rate)) {
		be->st.dropped++;
		drop(c, "dropped (--drop-rate)");
		return;
	}
	if (roll(be, be->o.reset_rate)) {
		be->st.reset++;
		reset(c, "reset (--reset-rate)");
		return;
	}
	if (roll(be, be->o.fail_rate)) {
		static const char fault[] = "X-Fault: fail-rate\r\n";
		char text[128];
		int n = snprintf(text, sizeof(text), "injected failure from %s\n", be->name);
		reply(c, be->o.fail_status, "text/plain", text, (size_t)n, fault, sizeof(fault) - 1);
		return;
	}

	switch (r->ep) {
	case EP_HELLO:
		ep_hello(c);
		break;
	case EP_STATUS:
		reply_fmt(c, (int)r->n, "status %d from %s\n", (int)r->n, be->name);
		break;
	case EP_DELAY:
		reply_fmt(c, 200, "hello from %s after %llu ms\n", be->name, (unsigned long long)r->n);
		break;
	case EP_ECHO:
		ep_echo(c);
		break;
	case EP_BYTES:
		ep_bytes(c, r->n);
		break;
	case EP_CHUNKED:
		ep_chunked(c, r->n, r->size);
		break;
	case EP_DRIP:
		ep_drip(c, r->n, r->ms);
		break;
	case EP_LEAK:
		ep_leak(c);
		break;
	case EP_HEADERS:
		ep_headers(c, r->n);
		break;
	case EP_CLOSE:
		c->close_after = true;
		c->why = "/close";
		reply_text(c, 200, "closing the connection\n");
		break;
	case EP_DROP:
		be->st.dropped++;
		drop(c, "/drop");
		break;
	case EP_RESET:
		be->st.reset++;
		reset(c, "/reset");
		break;
	case EP_HANG:
		log_request(c, 0, -1, " hang");
		conn_set_state(c, CS_HANGING);
		break;
	case EP_STATS:
		ep_stats(c);
		break;
	case EP_HEALTH:
		reply_text(c, 200, "ok\n");
		break;
	case EP_RAW:
		ep_raw(c);
		break;
	case EP_BAD:
		reply_fmt(c, 400, "%s\n", r->why);
		break;
	case EP_NOT_FOUND:
		reply_text(c, 404, "not found\n");
		break;
	}
}

void respond_parse_error(struct conn *c)
{
	const struct http_msg *m = &c->req;
	int status = m->limit_status ? m->limit_status : 400;
	c->head_only = false;
	c->close_after = true;
	c->why = "bad request";
	reply_fmt(c, status, "%s\n", m->error[0] ? m->error : "malformed request");
}

int leak_page_build(struct buf *b)
{
	static const char *const names[] = { "Alice Example", "Bob Sample", "Carol Test", "Dan Demo", "Erin Mock", "Frank Fake" };
	int r = buf_puts(b, "<!doctype html>\n<html><head><title>Customer records</title></head><body>\n"
	                    "<h1>Customer records</h1>\n"
	                    "<p>Fake data for data-leak labs: test card numbers (they pass the Luhn check),\n"
	                    "well-formed SSNs that belong to nobody, and the example keys of the AWS\n"
	                    "documentation.</p>\n"
	                    "<table>\n<tr><th>name</th><th>card</th><th>SSN</th></tr>\n");
	for (size_t i = 0; leak_cards[i] != NULL; i++) {
		const char *ssn = leak_ssns[i % 3];
		r |= buf_printf(b, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n", names[i % 6], leak_cards[i], ssn);
	}
	r |= buf_printf(b, "</table>\n<p>api_key=%s</p>\n<p>aws_secret_access_key=%s</p>\n", leak_api_key, leak_secret);
	r |= buf_puts(b, "<h2>Near misses</h2>\n<p>These only look sensitive: a data-leak filter must let them "
	                 "through untouched.</p>\n<table>\n<tr><th>what</th><th>text</th></tr>\n");
	for (size_t i = 0; leak_near_misses[i] != NULL; i += 2)
		r |= buf_printf(b, "<tr><td>%s</td><td>%s</td></tr>\n", leak_near_misses[i], leak_near_misses[i + 1]);
	r |= buf_puts(b, "</table>\n</body></html>\n");
	return r;
}
