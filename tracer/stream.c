/*
 * stream.c - reassembly and HTTP parsing of one direction of a connection
 * (see stream.h).  Serves steps 2 and 5 (where a request starts) and 6
 * and 7 (where a response starts, which request it answers, what it holds).
 */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "log.h"
#include "match.h"

/* Bytes captured ahead of a gap, waiting for it to fill. */
struct seg {
	struct seg *next;
	uint64_t serial;             /* its record in the output queue */
	uint32_t seq, len, caplen;
	uint32_t up_heads;           /* requests seen when it was captured */
	uint64_t ts;                 /* and when */
	uint8_t data[];
};

/* ---- message indexes ------------------------------------------------------ */

uint32_t stream_data_index(const struct half *h)
{
	if (h->http_dead || h->lost || !h->msg.in_message)
		return (h->http_dead || h->lost) && h->heads > 0 ? h->heads - 1 : h->heads;
	return h->msg.headers_done && h->heads > 0 ? h->heads - 1 : h->heads;
}

uint32_t stream_last_index(const struct half *h)
{
	if (h->msg.in_message && !h->msg.headers_done && !h->http_dead)
		return h->heads;
	return h->heads > 0 ? h->heads - 1 : 0;
}

/* ---- the llhttp hooks ------------------------------------------------------ */

static struct trace *hook_trace;   /* the trace being fed (one at a time) */

static int on_headers(struct http_msg *m)
{
	struct half *h = m->user;
	struct conn *c = h->conn;
	int dir = h == &c->h[UP] ? UP : DOWN;
	int status = http_status(m);

	if (dir == DOWN && status >= 100 && status < 200 && status != 101) {
		h->interim_in_feed = true;
		return 0;   /* 100 Continue and friends: the real response follows */
	}
	if (dir == DOWN && h->heads >= c->h[UP].heads && !c->h[UP].http_dead) {
		if (!c->h[UP].lost && !c->h[UP].gap)
			return 0;   /* it answers no request (a 408 on an idle connection) */
		c->h[UP].heads = h->heads + 1;   /* it answers one the capture lost */
	}
	uint32_t idx = h->heads++;
	if (!h->head_in_feed) {
		/* For the summary: "HTTP/1.1 200 OK (312 B)". */
		h->head_in_feed = true;
		h->head_body = m->parser.flags & F_CHUNKED ? -1 :
		               m->parser.flags & F_CONTENT_LENGTH ? (int64_t)m->parser.content_length : -2;
	}
	h->body_hashed = 0;
	if (dir == UP) {
		struct slot *s = conn_slot_make(c, idx);
		if (s)
			s->head_method = strcmp(http_method(m), "HEAD") == 0;
		if (c->kind == CONN_CLIENT)
			corr_client_head(hook_trace, c, idx, m);
		else
			corr_backend_head(hook_trace, c, idx, m);
		return 0;
	}
	corr_response_head(hook_trace, c, idx, m);
	struct slot *s = conn_slot(c, idx);
	if (s && s->head_method) {
		h->head_body = -2;
		return 1;   /* a response to HEAD has no body */
	}
	return 0;
}

/* The fingerprint the current response's body goes into, or NULL. */
static struct fingerprint *body_fp(struct half *h)
{
	struct conn *c = h->conn;
	if (h != &c->h[DOWN] || h->heads == 0)
		return NULL;
	struct slot *s = conn_slot(c, h->heads - 1);
	if (s == NULL)
		return NULL;
	if (c->kind == CONN_CLIENT)
		return s->req ? &s->req->fp : NULL;
	return s->x ? &s->x->fp : NULL;
}

static int on_body(struct http_msg *m, const char *at, size_t len)
{
	struct half *h = m->user;
	struct fingerprint *fp = body_fp(h);
	if (fp)
		match_body(fp, at, len);
	return 0;
}

static int on_complete(struct http_msg *m)
{
	struct half *h = m->user;
	struct conn *c = h->conn;
	if (h == &c->h[DOWN] && h->heads > 0 && http_status(m) >= 200) {
		struct fingerprint *fp = body_fp(h);
		if (fp && fp->head && !fp->done) {
			fp->done = true;
			corr_response_done(hook_trace, c, h->heads - 1);
		}
	}
	return 0;
}

static const struct http_hooks hooks = {
	.on_headers = on_headers,
	.on_body = on_body,
	.on_complete = on_complete,
};

/* Feeds in-order bytes to the direction's parser. */
static void feed(struct trace *t, struct conn *c, int dir, const uint8_t *data, uint32_t len)
{
	struct half *h = &c->h[dir];
	if (h->http_dead || h->lost || len == 0)
		return;
	if (!h->http_on) {
		http_msg_init(&h->msg, dir == UP ? HTTP_REQUEST : HTTP_RESPONSE, &hooks, h);
		h->msg.max_head = 64 * 1024;   /* a tracer reads what the proxy accepted */
		h->msg.max_target = 64 * 1024;
		h->http_on = true;
	}
	hook_trace = t;
	llhttp_errno_t e = http_msg_feed(&h->msg, (const char *)data, len, NULL);
	if (e != HPE_OK) {
		/* An upgrade (101, CONNECT) turns the stream into a tunnel; anything
		 * else is not HTTP we can follow.  Labels go on by direction. */
		log_debug("connection %u %s: %s", c->num, dir == UP ? "up" : "down",
		          e == HPE_PAUSED_UPGRADE ? "upgraded, no more HTTP" : h->msg.error);
		h->http_dead = true;
	}
}

/* ---- gaps ------------------------------------------------------------------ */

static void gap_unlink(struct trace *t, struct half *h)
{
	if (!h->gap)
		return;
	if (h->gprev)
		h->gprev->gnext = h->gnext;
	else
		t->gaps = h->gnext;
	if (h->gnext)
		h->gnext->gprev = h->gprev;
	h->gnext = h->gprev = NULL;
	h->gap = false;
}

/* Opens or closes h's gap after a change: bytes are missing when held
 * data waits or the peer acknowledged bytes not parsed yet. */
static void gap_update(struct trace *t, struct half *h)
{
	bool missing = h->ooo != NULL || (int32_t)(h->acked - h->next) > 0;
	if (!missing) {
		gap_unlink(t, h);
		return;
	}
	if (h->gap)
		return;
	h->gap = true;
	h->gap_ts = t->last_ts;
	if (h->conn->kind == CONN_BACKEND && h == &h->conn->h[UP])
		t->fwd_loss_ts = t->last_ts;   /* a forwarded request may be missing */
	h->gap_wall = t->now_wall_ns;
	/* Oldest first: append. */
	struct half *last = t->gaps;
	while (last && last->gnext)
		last = last->gnext;
	h->gprev = last;
	h->gnext = NULL;
	if (last)
		last->gnext = h;
	else
		t->gaps = h;
}

/* Does a segment after lost bytes begin a message?  A status line, or a
 * request line ("GET /", "OPTIONS *", "CONNECT host:443"). */
static bool looks_like_start(int dir, const uint8_t *p, uint32_t len)
{
	if (dir == DOWN)
		return len >= 7 && memcmp(p, "HTTP/1.", 7) == 0;
	uint32_t i = 0;
	while (i < len && i < 20 && p[i] >= 'A' && p[i] <= 'Z')
		i++;
	return i > 0 && i + 1 < len && p[i] == ' ' && p[i + 1] > ' ' && p[i + 1] < 0x7f;
}

/* Starts parsing again at a message start after lost bytes; up_heads:
 * the requests seen when the segment was captured. */
static void resync(struct conn *c, int dir, uint32_t up_heads)
{
	struct half *h = &c->h[dir];
	if (h->http_on) {
		http_msg_free(&h->msg);
		h->http_on = false;
	}
	memset(&h->msg, 0, sizeof(h->msg));
	h->lost = false;
	/* Whole messages may have been lost: a response answers the newest
	 * request seen by then (no pipelining is the common case). */
	if (dir == DOWN && up_heads > h->heads + 1)
		h->heads = up_heads - 1;
}

/* ---- parsing a segment's new bytes ----------------------------------------- */

/* The first line of a message, printable, for the summary. */
static void first_line(char *out, size_t size, const uint8_t *p, uint32_t len)
{
	size_t n = 0, max = size - 36 < 100 ? size - 36 : 100;   /* room for "…", " (N B)", NUL */
	uint32_t i;
	for (i = 0; i < len && p[i] != '\r' && p[i] != '\n' && n < max; i++)
		out[n++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
	if (i < len && p[i] != '\r' && p[i] != '\n')
		memcpy(out + n, "\xe2\x80\xa6", 3), n += 3;   /* cut: say so */
	out[n] = '\0';
}

/* A message head for --html: its bytes up to the blank line (4 KiB at most). */
static void keep_head(struct rec *r, const uint8_t *p, uint32_t len)
{
	uint32_t n = 0;
	while (n < len && n < 4096) {
		if (n >= 3 && p[n - 3] == '\r' && p[n - 2] == '\n' && p[n - 1] == '\r' && p[n] == '\n')
			break;
		n++;
	}
	free(r->head);
	r->head = xstrndup((const char *)p, n);
}

/* Parses a segment's bytes from skip on (the first skip bytes were parsed
 * before) and fills its record: the message it belongs to, its summary. */
static void take(struct trace *t, struct conn *c, int dir, struct rec *r, uint32_t up_heads,
                 uint32_t seq, const uint8_t *data, uint32_t caplen, uint32_t len, uint32_t skip)
{
	struct half *h = &c->h[dir];
	r->pending = false;
	r->idx = stream_data_index(h);
	if (skip > 0)
		r->retrans = true;
	if (h->lost && skip == 0 && caplen > 0 && looks_like_start(dir, data, caplen)) {
		resync(c, dir, up_heads);
		r->idx = stream_data_index(h);
	}
	bool starts = !h->http_dead && !h->lost && (!h->http_on || !h->msg.in_message) && skip == 0;
	if (c->kind == CONN_CLIENT && dir == UP && (starts || (h->http_dead && c->nslots == 0 && c->base == 0)))
		corr_client_request(t, c, r->idx);
	if (starts) {
		r->msg_start = true;
		first_line(r->summary, sizeof(r->summary), data, caplen);
		if (t->mode == OUT_HTML)
			keep_head(r, data, caplen);
	} else if (h->http_dead || h->lost) {
		snprintf(r->summary, sizeof(r->summary), "%s", skip ? "partly retransmitted" : h->lost ? "after lost bytes" : "data");
	} else {
		strcpy(r->summary, h->msg.headers_done ? "body" : "head, continued");
	}
	h->head_in_feed = false;
	h->interim_in_feed = false;
	t->parse_ts = r->ts_ns;   /* what the parse hooks see as "now" */
	if (caplen < len) {
		/* Cut by the snap length: what follows cannot be parsed. */
		if (caplen > skip)
			feed(t, c, dir, data + skip, caplen - skip);
		if (!h->http_dead)
			h->lost = true;
		corr_bytes_lost(t, c, dir);
	} else {
		feed(t, c, dir, data + skip, len - skip);
	}
	h->next = seq + len;
	if (h->fin && h->next == h->fin_seq)
		h->next++;   /* the FIN came before these bytes were parsed */
	if (starts && h->interim_in_feed && !h->head_in_feed)
		r->kind = KIND_INTERIM;
	/* The head is complete: its body's size goes on the segment that
	 * started it ("HTTP/1.1 200 OK (312 B)"), if it is not printed yet. */
	struct rec *first = starts ? r : h->head_in_feed ? rec_by_serial(t, h->start_serial) : NULL;
	if (starts)
		h->start_serial = r->serial;
	if (first && h->head_in_feed)
		first->head_pending = false;
	else if (starts && h->http_on && h->msg.in_message && !h->msg.headers_done)
		r->head_pending = true;   /* the head goes on in a later segment */
	if (first && first->msg_start && h->head_in_feed && h->head_body != -2 && h->head_body != 0 &&
	    !strstr(first->summary, " B)") && !strstr(first->summary, "(chunked)")) {
		size_t n = strlen(first->summary);
		if (h->head_body == -1)
			snprintf(first->summary + n, sizeof(first->summary) - n, " (chunked)");
		else
			snprintf(first->summary + n, sizeof(first->summary) - n, " (%lld B)", (long long)h->head_body);
	}
}

static void seg_free(struct seg *s)
{
	free(s);
}

static void drop_held(struct half *h)
{
	for (struct seg *s = h->ooo, *n; s; s = n) {
		n = s->next;
		seg_free(s);
	}
	h->ooo = NULL;
	h->ooo_bytes = h->ooo_segs = 0;
}

/* Parses the held segments the gap no longer holds back. */
static void drain(struct trace *t, struct conn *c, int dir)
{
	struct half *h = &c->h[dir];
	struct seg *s;
	while ((s = h->ooo) != NULL && (int32_t)(s->seq - h->next) <= 0) {
		h->ooo = s->next;
		h->ooo_bytes -= s->caplen;
		h->ooo_segs--;
		struct rec scratch, *r = rec_by_serial(t, s->serial);
		if (r == NULL) {
			memset(&scratch, 0, sizeof(scratch));
			scratch.ts_ns = s->ts;
			r = &scratch;   /* printed already (held too long): parse all the same */
		}
		int32_t d = (int32_t)(s->seq - h->next);
		if ((int64_t)d + s->len <= 0) {
			r->pending = false;   /* its bytes came again in between */
			r->retrans = true;
		} else {
			take(t, c, dir, r, s->up_heads, s->seq, s->data, s->caplen, s->len, (uint32_t)-d);
		}
		if (r == &scratch)
			free(scratch.head);
		seg_free(s);
	}
}

/* Keeps a segment that came ahead of a gap; false if it cannot be kept
 * (the bounds, or nothing is parsed any more). */
static bool hold(struct half *h, const struct pkt *p, const struct rec *r)
{
	if (h->http_dead)
		return false;
	if (h->ooo_bytes + p->caplen > OOO_MAX_BYTES || h->ooo_segs >= OOO_MAX_SEGS)
		return false;
	struct seg **pp = &h->ooo;
	while (*pp && (int32_t)((*pp)->seq - p->seq) < 0)
		pp = &(*pp)->next;
	if (*pp && (*pp)->seq == p->seq && (*pp)->len >= p->len)
		return true;   /* held already: a retransmission of held bytes */
	struct seg *s = malloc(sizeof(*s) + p->caplen);
	if (s == NULL)
		oom();
	s->serial = r->serial;
	s->up_heads = h->conn->h[UP].heads;
	s->ts = p->ts_ns;
	s->seq = p->seq;
	s->len = p->len;
	s->caplen = p->caplen;
	memcpy(s->data, p->payload, p->caplen);
	s->next = *pp;
	*pp = s;
	h->ooo_bytes += p->caplen;
	h->ooo_segs++;
	return true;
}

void stream_settle(struct trace *t, struct half *h)
{
	struct conn *c = h->conn;
	int dir = h == &c->h[UP] ? UP : DOWN;
	if (h->ooo || (int32_t)(h->acked - h->next) > 0)
		corr_bytes_lost(t, c, dir);
	while (h->ooo) {
		if (!h->http_dead)
			h->lost = true;
		h->next = h->ooo->seq;
		drain(t, c, dir);
	}
	if ((int32_t)(h->acked - h->next) > 0) {
		if (!h->http_dead)
			h->lost = true;
		h->next = h->acked;
	}
	gap_update(t, h);
}

void stream_data(struct trace *t, struct conn *c, int dir, struct rec *r, const struct pkt *p)
{
	struct half *h = &c->h[dir];
	int32_t d = (int32_t)(p->seq - h->next);
	h->sent = true;
	if (d > 0) {
		r->ooo = true;
		t->ooo++;
		r->idx = stream_data_index(h);
		/* The peer acknowledged the missing bytes a while before these were
		 * sent: they were lost, not reordered (a capture reorders by
		 * microseconds, not by a round trip). */
		bool lost = (int32_t)(h->acked - h->next) > 0 && (int32_t)(p->seq - h->acked) >= 0 && h->gap &&
		            p->ts_ns > h->gap_ts + GAP_ACKED_NS;
		if (!lost && hold(h, p, r)) {
			r->pending = true;
			snprintf(r->summary, sizeof(r->summary), "out of order");
			gap_update(t, h);
			return;
		}
		/* Not kept: the bytes before it are lost, these are parsed now. */
		stream_settle(t, h);
		if (h->ooo == NULL && (int32_t)(p->seq - h->next) > 0) {
			if (!h->http_dead)
				h->lost = true;
			h->next = p->seq;
			corr_bytes_lost(t, c, dir);
		}
		d = (int32_t)(p->seq - h->next);
	}
	if ((int64_t)d + p->len <= 0) {
		/* Old bytes again: they belong to the message they first carried. */
		r->idx = stream_last_index(h);
		r->retrans = true;
		snprintf(r->summary, sizeof(r->summary), "retransmitted");
		return;
	}
	take(t, c, dir, r, c->h[UP].heads, p->seq, p->payload, p->caplen, p->len, (uint32_t)-d);
	drain(t, c, dir);
	gap_update(t, h);
}

void stream_ack(struct trace *t, struct conn *c, int dir, uint32_t ack)
{
	struct half *h = &c->h[dir];
	if (!h->seen)
		return;
	if ((int32_t)(ack - h->next) > 0 && (int32_t)(ack - h->acked) > 0) {
		h->acked = ack;
		gap_update(t, h);
	}
}

void stream_fin(struct trace *t, struct conn *c, int dir, uint32_t fin_seq)
{
	struct half *h = &c->h[dir];
	h->fin = true;
	h->fin_seq = fin_seq;
	if (h->next == fin_seq)
		h->next = fin_seq + 1;
	gap_update(t, h);
}

void stream_close(struct trace *t, struct conn *c)
{
	for (int d = 0; d < 2; d++) {
		struct half *h = &c->h[d];
		if (h->gap)
			stream_settle(t, h);
		if (h->http_on && !h->http_dead) {
			/* A body read until the close is complete now. */
			hook_trace = t;
			(void)http_msg_finish(&h->msg);
		}
		h->http_dead = true;
	}
}

void stream_free(struct trace *t, struct half *h)
{
	gap_unlink(t, h);
	drop_held(h);
	if (h->http_on) {
		http_msg_free(&h->msg);
		h->http_on = false;
	}
}
