/*
 * fuzz_proxy_framing.c - the differential harness: where does a request
 * end?  The proxy's answer (lib/http's llhttp glue, head_scan, chunk_scan
 * and request_check, driven the way client_process drives them in step 2)
 * against the strict RFC 9112 reader of strict.h, message after message
 * along a pipelined connection.
 *
 * The rule: when both accept a message, they end it at the same byte;
 * when the reader refuses one, the proxy refuses it too; the proxy never
 * ends a message the reader still needs bytes for, nor waits for bytes
 * after a message the reader has ended.  The proxy may refuse what the
 * reader accepts (CONNECT, its limits, codings it does not speak).  And the
 * proxy decides the same whether the bytes come whole, one at a time or in
 * random pieces (the same verdict at the same byte; a refusal's status may
 * name another of the head's problems first: see transcript.c).
 *
 * Phase 2 (after the proxy's restructuring): feed a struct client through
 * client_process itself instead of this model of it.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "strict.h"
#include "../../proxy/proxy.h"

#define MAX_MSGS 64

enum verdict { V_COMPLETE, V_MORE, V_REFUSED };

struct decision {
	enum verdict v;
	size_t end;          /* V_COMPLETE: where the message ends (from the stream's start) */
	bool keep_alive;
	int status;          /* V_REFUSED: the status the proxy would answer */
	const char *why;
};

/* ---- the proxy's side -------------------------------------------------- */

static int on_complete(struct http_msg *m)
{
	(void)m;
	return HPE_PAUSED;   /* as request_on_complete: wait for the response */
}

struct model {
	struct http_msg req;
	struct http_hooks hooks;
	struct head_scan scan;
	struct chunk_scan chunks;
	bool in_body;
	size_t base;         /* stream offset of the first byte not yet fed   */
};

/* One call of client_process over the unfed bytes p[0..n): 1 and *d when
 * the message is decided, 0 when it needs more.  As there, the body state
 * feeds llhttp even with no bytes: that is how a message without a body
 * completes once the parser is resumed after the head. */
static int model_turn(struct model *md, const char *p, size_t n, struct decision *d)
{
	for (;;) {
		size_t feed = n, used = 0;
		bool whole_head = false;
		if (!md->in_body && n == 0)
			return 0;
		if (!md->in_body) {
			int r = head_scan(&md->scan, p, n, &used);
			if (r < 0) {
				*d = (struct decision){ .v = V_REFUSED, .status = 400, .why = md->scan.error };
				return 1;
			}
			whole_head = r > 0;
			feed = used;                  /* the head alone; its end pauses the parser */
		} else if (md->req.parser.flags & F_CHUNKED) {
			int r = chunk_scan(&md->chunks, p, n, &used);
			if (r < 0) {
				*d = (struct decision){ .v = V_REFUSED, .status = 400, .why = md->chunks.error };
				return 1;
			}
			if (md->chunks.hide) {        /* trailer fields: dropped, never parsed */
				p += used;
				n -= used;
				md->base += used;
				continue;
			}
			feed = used;                  /* nothing past the body's end */
		}
		llhttp_errno_t e = http_msg_feed(&md->req, p, feed, &used);
		FUZZ_CHECK(used <= feed, "the glue consumed %zu of %zu bytes", used, feed);
		p += used;
		n -= used;
		md->base += used;
		if (e == HPE_OK && whole_head) {   /* PRI: the proxy refuses it (400) */
			*d = (struct decision){ .v = V_REFUSED, .status = 400, .why = "method PRI" };
			return 1;
		}
		if (e == HPE_PAUSED && !md->in_body) {
			const char *why = NULL;
			int status = request_check(&md->req, 0, &why);
			if (status != 0) {
				*d = (struct decision){ .v = V_REFUSED, .status = status, .why = why };
				return 1;
			}
			chunk_scan_init(&md->chunks);
			md->in_body = true;           /* steps 3-5, then step 5 resumes the parser */
			http_msg_resume(&md->req);
			continue;
		}
		if (e == HPE_PAUSED) {
			*d = (struct decision){ .v = V_COMPLETE, .end = md->base, .keep_alive = http_keep_alive(&md->req) };
			return 1;
		}
		if (e != HPE_OK) {
			int status = md->req.limit_status ? md->req.limit_status : 400;
			*d = (struct decision){ .v = V_REFUSED, .status = status, .why = md->req.error };
			return 1;
		}
		if (n == 0)
			return 0;
	}
}

/* The proxy's decisions for the messages of the stream, fed as mode cuts
 * it; returns how many (the last one V_MORE or V_REFUSED, or a message
 * that ends the connection). */
static size_t proxy_read(const uint8_t *data, size_t size, enum split_mode mode, struct decision *out)
{
	struct model md = { .base = 0 };
	struct splits sp;
	size_t nd = 0, arrived = 0;
	md.hooks = request_hooks;             /* the proxy's own on_headers: pause, no upgrade */
	md.hooks.on_body = NULL;
	md.hooks.on_complete = on_complete;
	http_msg_init(&md.req, HTTP_REQUEST, &md.hooks, NULL);
	head_scan_init(&md.scan);
	splits_init(&sp, mode, data, size);
	while (nd < MAX_MSGS) {
		struct decision d;
		if (model_turn(&md, (const char *)data + md.base, arrived - md.base, &d)) {
			out[nd++] = d;
			if (d.v != V_COMPLETE || !d.keep_alive)
				break;
			/* request_begin: the next request on the connection */
			http_msg_resume(&md.req);
			head_scan_init(&md.scan);
			md.in_body = false;
			continue;
		}
		if (arrived == size) {
			out[nd++] = (struct decision){ .v = V_MORE };
			break;
		}
		arrived += splits_next(&sp, size - arrived);
	}
	http_msg_free(&md.req);
	return nd;
}

/* ---- the comparison ----------------------------------------------------- */

static const char *verdict_name(enum verdict v)
{
	return v == V_COMPLETE ? "complete" : v == V_MORE ? "needs more" : "refused";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct decision d[SPLIT_MODES][MAX_MSGS];
	size_t nd[SPLIT_MODES];
	for (enum split_mode m = 0; m < SPLIT_MODES; m++)
		nd[m] = proxy_read(data, size, m, d[m]);
	for (enum split_mode m = 1; m < SPLIT_MODES; m++) {
		FUZZ_CHECK(nd[m] == nd[0], "fed %s the proxy reads %zu messages, fed whole %zu", split_name(m), nd[m], nd[0]);
		/* (Not the status of a refusal: see transcript.c on which of two
		 * problems is named first.) */
		for (size_t i = 0; i < nd[0]; i++)
			FUZZ_CHECK(d[m][i].v == d[0][i].v && d[m][i].end == d[0][i].end,
			           "message %zu fed %s: %s at %zu (%d %s); fed whole: %s at %zu (%d %s)", i + 1,
			           split_name(m), verdict_name(d[m][i].v), d[m][i].end, d[m][i].status,
			           d[m][i].why ? d[m][i].why : "", verdict_name(d[0][i].v), d[0][i].end, d[0][i].status,
			           d[0][i].why ? d[0][i].why : "");
	}

	size_t at = 0;
	for (size_t i = 0; i < nd[0]; i++) {
		const struct decision *p = &d[0][i];
		struct strict_req s;
		enum strict_result r = strict_request((const char *)data + at, size - at, &s);
		if (p->v == V_REFUSED)
			return 0;                     /* refusing is always allowed */
		if (p->v == V_MORE) {
			FUZZ_CHECK(r != STRICT_OK, "message %zu: RFC 9112 ends it at %zu, the proxy waits for more",
			           i + 1, at + s.len);
			return 0;
		}
		FUZZ_CHECK(r != STRICT_BAD, "message %zu: the proxy accepts it (ends at %zu), RFC 9112 refuses it: %s",
		           i + 1, p->end, s.why);
		FUZZ_CHECK(r != STRICT_MORE, "message %zu: the proxy ends it at %zu, RFC 9112 needs more", i + 1, p->end);
		FUZZ_CHECK(at + s.len == p->end, "message %zu: the proxy ends it at %zu, RFC 9112 at %zu", i + 1,
		           p->end, at + s.len);
		if (!s.keep_alive)
			return 0;                     /* a server stops reading here */
		at = p->end;
	}
	return 0;
}
