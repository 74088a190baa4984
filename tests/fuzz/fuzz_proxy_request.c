/*
 * fuzz_proxy_request.c - the proxy's request path end to end: the input is
 * what a client sends (pipelined requests, any bytes), through the real
 * client_process, steps 3-5 and the server side (proxy_rig.h), to a backend
 * played here that answers each request it reads, "X-Fw: K" telling which.
 *
 * What must hold, read by the strict reader (strict.h):
 *   - every stream the backend receives is whole, valid requests (and at
 *     most a last one cut short), and they are exactly the client's first
 *     requests, in order: the same method, target and body byte for byte,
 *     every end-to-end field kept, no hop-by-hop field passed on;
 *   - the proxy forwards no request RFC 9112 refuses, and nothing after a
 *     refusal: a request it refuses gets an error answer, the last thing
 *     on the connection;
 *   - the client gets valid responses, one per request forwarded, each the
 *     backend's answer to it (no body on a HEAD's);
 *   - no connection waits without a timer, nothing leaks (proxy_rig.c).
 * The cut of the input into reads, and whether the client shuts down its
 * side after sending, come from the input's hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "proxy_rig.h"
#include "strict.h"

#define MAX_MSGS 256

struct fw {                 /* a request the backend received */
	size_t conn, at;        /* in server[conn].got, at this offset */
	struct strict_req s;
};

struct run {
	struct fw fw[MAX_MSGS];
	size_t nfw;
	size_t parsed[RIG_MAX_SERVERS];   /* bytes of server[i].got read as whole requests */
};

static const char *const flags[] = { "--retries", "0", "--max-fails", "0", "--max-body", "64k", NULL };
/* The client's fields the proxy rewrites, and the ones it adds (decide.c). */
static const char *const replaced[] = { "Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
                                        "X-Request-ID", NULL };
static const char *const added[] = { "Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
                                     "Via", "X-Request-ID", "Transfer-Encoding", NULL };

/* Past the empty lines a request may start with (RFC 9112 2.2). */
static const char *start_line(const char *p, size_t *n)
{
	while (*n >= 2 && p[0] == '\r' && p[1] == '\n') {
		p += 2;
		*n -= 2;
	}
	return p;
}

static bool is_head(const char *p, size_t n)
{
	p = start_line(p, &n);
	return n >= 5 && memcmp(p, "HEAD ", 5) == 0;
}

/* The request-target is "/..." (a valid request line assumed).  Another
 * (p, *) may be refused before llhttp has read the method: the error
 * answer to "HEAD p HTTP/1.1" may have a body. */
static bool origin_form(const char *p, size_t n)
{
	p = start_line(p, &n);
	const char *sp = memchr(p, ' ', n);
	while (sp != NULL && sp < p + n && *sp == ' ')
		sp++;
	return sp != NULL && sp < p + n && *sp == '/';
}

/* The backend: answers each whole request as it comes. */
static void on_server(struct rig *r, struct rig_end *e)
{
	struct run *run = r->user;
	size_t i = (size_t)(e - r->server);
	for (;;) {
		const char *p = buf_begin(&e->got) + run->parsed[i];
		size_t n = buf_len(&e->got) - run->parsed[i];
		struct strict_req s;
		enum strict_result res = strict_request(p, n, &s);
		FUZZ_CHECK(res != STRICT_BAD, "the proxy forwarded a request RFC 9112 refuses (%s):\n%.*s", s.why,
		           (int)(n < 2000 ? n : 2000), p);
		if (res == STRICT_MORE || run->nfw == MAX_MSGS)
			return;
		size_t k = run->nfw++;
		run->fw[k] = (struct fw){ .conn = i, .at = run->parsed[i], .s = s };
		run->parsed[i] += s.len;
		char body[32];
		int blen = snprintf(body, sizeof(body), "fw%zu\n", k);
		int rc = k % 3 == 1 ? buf_printf(&e->out, "HTTP/1.1 200 OK\r\nX-Fw: %zu\r\nTransfer-Encoding: chunked\r\n\r\n", k)
		                    : buf_printf(&e->out, "HTTP/1.1 200 OK\r\nX-Fw: %zu\r\nContent-Length: %d\r\n\r\n", k, blen);
		if (rc == 0 && !is_head(p, n))
			rc = k % 3 == 1 ? buf_printf(&e->out, "%x\r\n%s\r\n0\r\n\r\n", blen, body) : buf_puts(&e->out, body);
		if (rc < 0)
			fuzz_fail("out of memory");
	}
}

/* The request line's method and target (runs of SP between them allowed). */
struct span {
	const char *p;
	size_t n;
};
static void method_target(const char *p, size_t n, struct span *m, struct span *t)
{
	size_t i = 0, j;
	p = start_line(p, &n);
	while (i < n && p[i] != ' ')
		i++;
	*m = (struct span){ p, i };
	while (i < n && p[i] == ' ')
		i++;
	for (j = i; j < n && p[j] != ' ';)
		j++;
	*t = (struct span){ p + i, j - i };
}

static bool same_span(struct span a, struct span b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

static bool same_body(const char *a, const struct strict_req *sa, const char *b, const struct strict_req *sb)
{
	char *x = malloc(sa->len - sa->head_len + 1), *y = malloc(sb->len - sb->head_len + 1);
	if (x == NULL || y == NULL)
		fuzz_fail("out of memory");
	size_t nx = strict_body(a, sa->head_len, sa->len, sa->chunked, x);
	size_t ny = strict_body(b, sb->head_len, sb->len, sb->chunked, y);
	bool same = nx == ny && memcmp(x, y, nx) == 0;
	free(x);
	free(y);
	return same;
}

/* Forwarded request k is the client's request k, edited as a proxy may. */
static void check_forwarded(const struct rig *r, const struct run *run, const uint8_t *data, size_t size)
{
	size_t at = 0;
	for (size_t k = 0; k < run->nfw; k++) {
		struct strict_req c;
		FUZZ_CHECK(at < size && strict_request((const char *)data + at, size - at, &c) == STRICT_OK,
		           "the proxy forwarded request %zu, which RFC 9112 refuses or has not ended (%s)", k + 1,
		           at < size ? (c.why ? c.why : "incomplete") : "no such request");
		const char *cp = (const char *)data + at;
		const struct fw *f = &run->fw[k];
		const char *fp = buf_begin(&r->server[f->conn].got) + f->at;
		struct span m1, t1, m2, t2;
		method_target(cp, c.head_len, &m1, &t1);
		method_target(fp, f->s.head_len, &m2, &t2);
		FUZZ_CHECK(same_span(m1, m2) && same_span(t1, t2), "request %zu: the client sent %.*s %.*s, the server got %.*s %.*s",
		           k + 1, (int)m1.n, m1.p, (int)t1.n, t1.p, (int)m2.n, m2.p, (int)t2.n, t2.p);
		FUZZ_CHECK(same_body(cp, &c, fp, &f->s), "request %zu: the body changed on the way", k + 1);
		char what[64];
		snprintf(what, sizeof(what), "request %zu", k + 1);
		rig_check_fields(cp, c.head_len, fp, f->s.head_len, replaced, added, what);
		at += c.len;
		FUZZ_CHECK(c.keep_alive || k + 1 == run->nfw, "request %zu ends the connection, yet %zu more were forwarded",
		           k + 1, run->nfw - k - 1);
	}
	/* What is left on each connection is one request cut short, at most. */
	size_t cut = 0;
	for (size_t i = 0; i < r->nservers; i++) {
		size_t n = buf_len(&r->server[i].got) - run->parsed[i];
		cut += n > 0;
	}
	FUZZ_CHECK(cut <= 1, "%zu server connections hold a request cut short", cut);
}

/* A field's value in a valid head, or NULL. */
static const char *field(const char *p, size_t head, const char *name, size_t *len)
{
	struct strict_field f;
	for (size_t at = 0; strict_next_field(p, head, &at, &f);)
		if (f.name_len == strlen(name) && strncasecmp(f.name, name, f.name_len) == 0) {
			*len = f.value_len;
			return f.value;
		}
	return NULL;
}

/* The client got the backend's answer to each request forwarded, then at
 * most an error answer of the proxy's, the last thing it sent. */
static void check_responses(const struct rig *r, const struct run *run, const uint8_t *data, size_t size)
{
	const char *p = buf_begin(&r->client.got);
	size_t n = buf_len(&r->client.got), at = 0, k = 0, req_at = 0;
	bool refused = false;
	while (at < n) {
		/* Is it the answer to a HEAD?  When the request line is broken, the
		 * proxy may not know: its error answer may go either way. */
		struct strict_req c = { .line_ok = false };
		enum strict_result cr = req_at < size ? strict_request((const char *)data + req_at, size - req_at, &c) : STRICT_MORE;
		bool head = req_at < size && is_head((const char *)data + req_at, size - req_at);
		bool sure = (cr == STRICT_OK || c.line_ok) && origin_form((const char *)data + req_at, size - req_at);
		if (cr == STRICT_OK)
			req_at += c.len;
		struct strict_resp s;
		enum strict_result res = strict_response(p + at, n - at, head, r->client.eof && !r->client.reset, &s);
		if (!sure && k >= run->nfw && (res != STRICT_OK || at + s.len != n)) {
			struct strict_resp other;
			if (strict_response(p + at, n - at, !head, r->client.eof && !r->client.reset, &other) == STRICT_OK && at + other.len == n) {
				s = other;
				res = STRICT_OK;
				head = !head;
			}
		}
		FUZZ_CHECK(res != STRICT_BAD, "response %zu to the client: RFC 9112 refuses it (%s):\n%.*s", k + 1, s.why,
		           (int)(n - at < 2000 ? n - at : 2000), p + at);
		FUZZ_CHECK(!refused, "the proxy answered again after refusing request %zu", k);
		if (res == STRICT_MORE) {
			FUZZ_CHECK(!r->client.eof || r->cut_short, "response %zu to the client was cut short:\n%.*s", k + 1,
			           (int)(n - at < 2000 ? n - at : 2000), p + at);
			return;
		}
		FUZZ_CHECK(s.status >= 200, "the proxy sent a %d the backend never did", s.status);
		size_t len;
		const char *fw = field(p + at, s.head_len, "X-Fw", &len);
		if (k < run->nfw) {
			char want[24];
			int wl = snprintf(want, sizeof(want), "%zu", k);
			FUZZ_CHECK(fw != NULL && len == (size_t)wl && memcmp(fw, want, len) == 0 && s.status == 200,
			           "response %zu to the client is not the backend's answer to it (status %d)", k + 1, s.status);
			char body[32], got[64];
			int bl = head ? 0 : snprintf(body, sizeof(body), "fw%zu\n", k);
			FUZZ_CHECK(s.len - s.head_len < sizeof(got), "response %zu: a body too long", k + 1);
			size_t gl = strict_body(p + at, s.head_len, s.len, s.chunked, got);
			FUZZ_CHECK(gl == (size_t)bl && memcmp(got, body, gl) == 0, "response %zu: the body changed on the way",
			           k + 1);
		} else {
			FUZZ_CHECK(fw == NULL && s.status >= 400 && !s.keep_alive,
			           "response %zu to the client: request %zu was never forwarded, yet status %d%s", k + 1, k + 1,
			           s.status, s.keep_alive ? " and the connection kept" : "");
			refused = true;
		}
		at += s.len;
		k++;
	}
	if (r->client.eof && !r->cut_short && !refused)
		FUZZ_CHECK(k == run->nfw, "%zu requests forwarded, %zu answered", run->nfw, k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run run;
	static struct rig r = { .on_server = on_server, .user = &run };
	uint64_t h = fuzz_hash(data, size);
	enum split_mode mode = size <= 300 && (h & 7) == 0 ? SPLIT_BYTES : (h >> 3) & 1 ? SPLIT_RANDOM : SPLIT_WHOLE;
	memset(&run, 0, sizeof(run));
	rig_start(&r, flags, data, size, mode);
	r.client.shut_when_sent = (h >> 4) & 1;
	rig_run(&r);
	rig_stop(&r);
	check_forwarded(&r, &run, data, size);
	check_responses(&r, &run, data, size);
	rig_free(&r);
	return 0;
}
