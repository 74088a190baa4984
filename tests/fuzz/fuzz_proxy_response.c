/*
 * fuzz_proxy_response.c - the proxy's response path end to end: the input
 * is what a backend sends, through the real server side (steps 4-7:
 * llhttp, the scanners, the checks and edits of response.c, respond.c) to
 * a client that pipelines a few GET and HEAD requests (proxy_rig.h).
 *
 * The input's first byte says what the client sends: 1 to 4 requests
 * (bits 0-1), which of them are HEAD (bits 2-5), HTTP/1.0 with keep-alive
 * instead of HTTP/1.1 (bit 6), and whether the backend closes its side
 * once it has sent its bytes (bit 7).  The rest is the backend's bytes:
 * each connection the proxy opens gets the next part (parts are cut at
 * "\r\n--8<--\r\n"), once a whole request has reached it.
 *
 * What must hold, read by the strict reader (strict.h), for request K:
 *   - when the backend answered it validly (RFC 9112, whole), the client
 *     gets that answer: the same status, the same body byte for byte (none
 *     to a HEAD, none with 204 or 304), every end-to-end field kept, no
 *     hop-by-hop field passed on, its 1xx passed on (HTTP/1.1 clients only);
 *   - when the answer is not valid, or not whole, the client gets no whole
 *     relayed answer: a 502 or 504 of the proxy's, or the answer cut short,
 *     and that is the last thing on the connection (nothing is forwarded
 *     after it, no later request reaches a backend);
 *   - what the client reads is always valid responses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "proxy_rig.h"
#include "strict.h"

#define MAX_REQ  4
#define MAX_1XX  64
#define CUT      "\r\n--8<--\r\n"

static const char *const flags[] = { "--retries", "0", "--max-fails", "0", NULL };
/* The backend's fields the proxy drops or rewrites, and those it adds. */
static const char *const replaced[] = { "X-Request-ID", NULL };
static const char *const replaced_no_length[] = { "X-Request-ID", "Content-Length", NULL };
static const char *const added[] = { "Via", "X-Request-ID", "Connection", "Transfer-Encoding", NULL };

struct script {
	unsigned nreq;
	bool head[MAX_REQ];
	bool http10, close_after;
	const char *parts;          /* the backend's bytes            */
	size_t nparts_bytes;
	size_t next_part;           /* where the next part begins     */
	bool part_done;             /* no part left                   */
	bool given[RIG_MAX_SERVERS];
	const char *part[RIG_MAX_SERVERS];   /* what connection i was given */
};

/* What the backend sent for one request, as the strict reader reads it. */
struct expect {
	bool reached;               /* the request reached a backend               */
	bool answered;              /* ... and that backend sent a byte for it     */
	enum strict_result res;     /* of its final answer (MORE: none, or cut)    */
	int interim[MAX_1XX];
	size_t ninterim;
	bool new_minor;             /* a 1xx in HTTP/1.2 or up came first          */
	const char *p;              /* the final answer                            */
	struct strict_resp s;
};

/* The backend: a connection gets its part once a request has reached it. */
static void on_server(struct rig *r, struct rig_end *e)
{
	struct script *sc = r->user;
	size_t i = (size_t)(e - r->server);
	struct strict_req q;
	if (sc->given[i] || strict_request(buf_begin(&e->got), buf_len(&e->got), &q) != STRICT_OK)
		return;
	sc->given[i] = true;
	e->shut_when_sent = sc->close_after || sc->part_done;
	if (sc->part_done)
		return;               /* nothing left to say: close */
	const char *p = sc->part[i] = sc->parts + sc->next_part;
	size_t left = sc->nparts_bytes - sc->next_part;
	const char *cut = memmem(p, left, CUT, strlen(CUT));
	size_t n = cut ? (size_t)(cut - p) : left;
	if (buf_append(&e->out, p, n) < 0)
		fuzz_fail("out of memory");
	sc->next_part += cut ? n + strlen(CUT) : n;
	sc->part_done = cut == NULL;
}

/* The request number K of "GET /K" or "HEAD /K". */
static int target_of(const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	return sp != NULL && sp + 2 < p + n && sp[1] == '/' && sp[2] >= '0' && sp[2] < '0' + MAX_REQ ? sp[2] - '0' : -1;
}

/* Reads each connection's part as answers to the requests it carried. */
static void expected(const struct rig *r, const struct script *sc, struct expect *ex)
{
	for (size_t i = 0; i < r->nservers; i++) {
		const struct rig_end *e = &r->server[i];
		const char *req = buf_begin(&e->got), *part = sc->part[i];
		size_t nreq = buf_len(&e->got), at = 0, n = e->sent, ra = 0;
		bool eof = e->shut && buf_len(&e->out) == 0;
		while (ra < nreq) {
			struct strict_req q;
			enum strict_result qr = strict_request(req + ra, nreq - ra, &q);
			FUZZ_CHECK(qr != STRICT_BAD, "the proxy forwarded an invalid request (%s)", q.why);
			if (qr != STRICT_OK)
				break;
			int k = target_of(req + ra, q.head_len);
			FUZZ_CHECK(k >= 0 && (unsigned)k < sc->nreq, "the backend got a request the client never sent");
			ra += q.len;
			struct expect *x = &ex[k];
			/* Again only as the keep-alive race's retry: its connection
			 * closed without a byte of answer. */
			FUZZ_CHECK(!x->reached || !x->answered, "request %d reached a backend twice", k + 1);
			x->reached = true;
			x->res = STRICT_MORE;
			x->answered = part != NULL && n > at;
			if (part == NULL)
				continue;
			for (;;) {
				enum strict_result res = strict_response(part + at, n - at, sc->head[k], eof, &x->s);
				x->res = res;
				x->p = part + at;
				if (res != STRICT_OK)
					break;
				at += x->s.len;
				if (x->s.status >= 200)
					break;
				x->new_minor |= x->s.minor > 1;
				if (x->ninterim < MAX_1XX)
					x->interim[x->ninterim] = x->s.status;
				x->ninterim++;
			}
			if (x->res != STRICT_OK)
				break;   /* the connection is done for */
		}
	}
}

/* A field's value in a valid head, or NULL. */
static const char *field(const char *p, size_t head, const char *name)
{
	struct strict_field f;
	for (size_t at = 0; strict_next_field(p, head, &at, &f);)
		if (f.name_len == strlen(name) && strncasecmp(f.name, name, f.name_len) == 0)
			return f.value;
	return NULL;
}

static size_t body_of(const char *p, const struct strict_resp *s, char **out)
{
	*out = malloc(s->len - s->head_len + 1);
	if (*out == NULL)
		fuzz_fail("out of memory");
	return strict_body(p, s->head_len, s->len, s->chunked, *out);
}

/* The proxy may refuse an answer the strict reader takes: one in a
 * version it does not speak (HTTP/1.2 and up: llhttp refuses them, where
 * RFC 9112 2.3 would read them as 1.1; a 1xx in one before it too), one
 * with over MAX_FIELDS (100) header lines, or after over MAX_INTERIM (16)
 * 1xx. */
static bool refusable(const struct expect *x)
{
	if (x->res != STRICT_OK || x->s.minor > 1 || x->new_minor)
		return true;
	struct strict_field f;
	size_t fields = 0;
	for (size_t at = 0; strict_next_field(x->p, x->s.head_len, &at, &f);)
		fields++;
	/* a coding besides chunked: the proxy relays chunked alone (502) */
	return fields > 100 || x->ninterim > 16 || x->s.codings > 1;
}

static void check_client(const struct rig *r, const struct script *sc, const struct expect *ex)
{
	const char *p = buf_begin(&r->client.got);
	size_t n = buf_len(&r->client.got), at = 0;
	unsigned k = 0;
	size_t interims = 0;
	while (at < n) {
		FUZZ_CHECK(k < sc->nreq, "the client got more answers than it sent requests");
		const struct expect *x = &ex[k];
		struct strict_resp s;
		enum strict_result res = strict_response(p + at, n - at, sc->head[k], r->client.eof && !r->client.reset, &s);
		FUZZ_CHECK(res != STRICT_BAD, "answer %u to the client: RFC 9112 refuses it (%s):\n%.*s", k + 1, s.why,
		           (int)(n - at < 2000 ? n - at : 2000), p + at);
		if (res == STRICT_MORE) {   /* cut short: the proxy gave up mid-answer */
			FUZZ_CHECK(!r->client.eof || r->cut_short || x->res != STRICT_OK,
			           "answer %u: a valid answer of the backend's reached the client cut short", k + 1);
			return;
		}
		if (s.status < 200) {
			FUZZ_CHECK(!sc->http10, "a %d reached an HTTP/1.0 client", s.status);
			FUZZ_CHECK(interims < x->ninterim && (interims >= MAX_1XX || x->interim[interims] == s.status),
			           "answer %u: a %d the backend never sent", k + 1, s.status);
			interims++;
			at += s.len;
			continue;
		}
		bool relayed = field(p + at, s.head_len, "Via") != NULL;
		if (!relayed) {   /* the proxy's own answer: the last thing it says */
			FUZZ_CHECK(s.status == 502 || s.status == 504, "answer %u: the proxy's own %d", k + 1, s.status);
			FUZZ_CHECK(!s.keep_alive && at + s.len == n, "answer %u: the proxy's %d is not the last thing it says",
			           k + 1, s.status);
			FUZZ_CHECK(refusable(x), "answer %u: the proxy refused a valid answer (%d):\n%.*s", k + 1, s.status,
			           (int)(x->s.len < 2000 ? x->s.len : 2000), x->p);
			for (unsigned j = k + 1; j < sc->nreq; j++)
				FUZZ_CHECK(!ex[j].reached, "request %u reached a backend after the proxy refused request %u", j + 1,
				           k + 1);
			return;
		}
		FUZZ_CHECK(x->reached && x->res == STRICT_OK,
		           "answer %u: the client got a whole answer the backend never gave validly:\n%.*s", k + 1,
		           (int)(n - at < 2000 ? n - at : 2000), p + at);
		FUZZ_CHECK(sc->http10 || interims == x->ninterim, "answer %u: %zu of the backend's %zu 1xx passed on", k + 1,
		           interims, x->ninterim);
		FUZZ_CHECK(s.status == x->s.status, "answer %u: status %d, the backend said %d", k + 1, s.status,
		           x->s.status);
		char *b1, *b2;
		size_t n1 = body_of(p + at, &s, &b1), n2 = body_of(x->p, &x->s, &b2);
		FUZZ_CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0, "answer %u: the body changed on the way (%zu bytes, %zu sent)",
		           k + 1, n1, n2);
		free(b1);
		free(b2);
		char what[32];
		snprintf(what, sizeof(what), "answer %u", k + 1);
		rig_check_fields(x->p, x->s.head_len, p + at, s.head_len, s.status == 204 ? replaced_no_length : replaced,
		                 added, what);
		at += s.len;
		k++;
		interims = 0;
		if (!s.keep_alive) {
			FUZZ_CHECK(at == n, "the proxy went on after an answer that ends the connection");
			return;
		}
	}
	if (r->client.eof && !r->cut_short)
		FUZZ_CHECK(k == sc->nreq, "the proxy closed the connection with request %u unanswered", k + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script sc;
	static struct rig r = { .on_server = on_server, .user = &sc };
	static struct expect ex[MAX_REQ];
	unsigned c0 = size > 0 ? data[0] : 0;
	memset(&sc, 0, sizeof(sc));
	memset(ex, 0, sizeof(ex));
	sc.nreq = 1 + (c0 & 3);
	sc.http10 = (c0 >> 6) & 1;
	sc.close_after = (c0 >> 7) & 1;
	sc.parts = size > 1 ? (const char *)data + 1 : "";
	sc.nparts_bytes = size > 1 ? size - 1 : 0;
	char req[MAX_REQ * 64];
	size_t len = 0;
	for (unsigned k = 0; k < sc.nreq; k++) {
		sc.head[k] = (c0 >> (2 + k)) & 1;
		len += (size_t)snprintf(req + len, sizeof(req) - len, "%s /%u HTTP/1.%s\r\n", sc.head[k] ? "HEAD" : "GET", k,
		                        sc.http10 ? "0\r\nConnection: keep-alive" : "1\r\nHost: f");
		len += (size_t)snprintf(req + len, sizeof(req) - len, "\r\n");
	}
	uint64_t h = fuzz_hash(data, size);
	enum split_mode mode = size <= 300 && (h & 7) == 0 ? SPLIT_BYTES : (h >> 3) & 1 ? SPLIT_RANDOM : SPLIT_WHOLE;
	rig_start(&r, flags, (const uint8_t *)req, len, mode);
	rig_run(&r);
	rig_stop(&r);
	expected(&r, &sc, ex);
	check_client(&r, &sc, ex);
	rig_free(&r);
	return 0;
}
