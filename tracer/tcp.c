/*
 * tcp.c - per-connection tracking: which connection a segment belongs to
 * and its role (client connection, backend connection), the handshake and
 * teardown state the labels need, retransmission and out-of-order marks,
 * and enough stream reassembly to run llhttp on each direction, so the
 * tracer knows where each HTTP message starts and which request a packet
 * belongs to (keep-alive, pipelining, chunked bodies, split heads).
 */
#include "tracer.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "label.h"
#include "log.h"
#include "output.h"

/* An out-of-order segment, kept until the bytes before it arrive. */
struct seg {
	struct seg *next;
	uint32_t seq, len;
	uint8_t data[];
};

/* Out-of-order bytes and segments kept per direction while a gap waits to
 * be filled; past this the gap is taken as lost (a kernel drop). */
#define OOO_MAX_BYTES (1u << 20)
#define OOO_MAX_SEGS 64

/* ---- roles --------------------------------------------------------------- */

static bool role_match(const struct role_addr *r, uint8_t family, const uint8_t *ip, uint16_t port)
{
	if (r->port != port)
		return false;
	if (r->any_ip)
		return true;
	return r->family == family && memcmp(r->ip, ip, family == 4 ? 4 : 16) == 0;
}

static int backend_cfg_index(const struct trace *t, uint8_t family, const uint8_t *ip, uint16_t port)
{
	/* An exact ADDR:PORT wins over a bare port. */
	int any = -1;
	for (size_t i = 0; i < t->nbcfg; i++) {
		if (!role_match(&t->bcfg[i], family, ip, port))
			continue;
		if (!t->bcfg[i].any_ip)
			return (int)i;
		if (any < 0)
			any = (int)i;
	}
	return any;
}

static void format_ip_port(uint8_t family, const uint8_t *ip, uint16_t port, char out[ADDR_STRLEN])
{
	struct addr a;
	memset(&a, 0, sizeof(a));
	if (family == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a.ss;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, ip, 4);
		a.len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a.ss;
		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, ip, 16);
		a.len = sizeof(*s);
	}
	addr_set_port(&a, port);
	addr_format(&a, out);
}

static bool name_taken(const struct trace *t, const char *name)
{
	for (size_t i = 0; i < t->nbes; i++)
		if (strcmp(t->bes[i]->name, name) == 0)
			return true;
	return false;
}

/* The backend at this exact address, added on first sight with its name:
 * --name if given, else b<N> after its place in --backends (for ADDR:PORT
 * entries) or the next free b<N> (for bare ports). */
static struct backend *backend_get(struct trace *t, int cfg, uint8_t family, const uint8_t *ip, uint16_t port)
{
	size_t iplen = family == 4 ? 4 : 16;
	for (size_t i = 0; i < t->nbes; i++) {
		struct backend *b = t->bes[i];
		if (b->family == family && b->port == port && memcmp(b->ip, ip, iplen) == 0)
			return b;
	}
	struct backend *b = xcalloc(1, sizeof(*b));
	b->family = family;
	memcpy(b->ip, ip, iplen);
	b->port = port;
	format_ip_port(family, ip, port, b->addr);
	for (size_t i = 0; i < t->nnames; i++) {
		char a[ADDR_STRLEN];
		addr_format(&t->names[i].a, a);
		if (strcmp(a, b->addr) == 0) {
			snprintf(b->name, sizeof(b->name), "%s", t->names[i].name);
			b->fixed_name = true;
		}
	}
	if (!b->fixed_name) {
		if (!t->bcfg[cfg].any_ip)
			snprintf(b->name, sizeof(b->name), "b%d", cfg + 1);
		for (int n = 1; b->name[0] == '\0' || name_taken(t, b->name); n++)
			snprintf(b->name, sizeof(b->name), "b%d", n);
	}
	struct backend **bes = realloc(t->bes, (t->nbes + 1) * sizeof(*bes));
	if (bes == NULL)
		oom();
	t->bes = bes;
	t->bes[t->nbes++] = b;
	return b;
}

/* ---- the connection table ------------------------------------------------ */

static uint64_t ep_hash(const uint8_t *ip, uint16_t port)
{
	uint64_t h = 1469598103934665603u;
	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 1099511628211u;
	h = (h ^ port) * 1099511628211u;
	return h ^ (h >> 29);
}

/* The same value for both directions of a connection. */
static uint64_t conn_hash(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp)
{
	return ep_hash(a, ap) + ep_hash(b, bp);
}

int trace_init(struct trace *t)
{
	t->table_size = 1024;
	t->table = calloc(t->table_size, sizeof(*t->table));
	return t->table ? 0 : -1;
}

static void table_insert(struct trace *t, struct conn *c)
{
	if (t->nconns_live >= t->table_size) {
		size_t n = t->table_size * 2;
		struct conn **nt = calloc(n, sizeof(*nt));
		if (nt == NULL)
			oom();
		for (size_t i = 0; i < t->table_size; i++) {
			struct conn *x = t->table[i], *next;
			for (; x; x = next) {
				next = x->hnext;
				size_t k = conn_hash(x->ip[UP], x->port[UP], x->ip[DOWN], x->port[DOWN]) & (n - 1);
				x->hnext = nt[k];
				nt[k] = x;
			}
		}
		free(t->table);
		t->table = nt;
		t->table_size = n;
	}
	size_t k = conn_hash(c->ip[UP], c->port[UP], c->ip[DOWN], c->port[DOWN]) & (t->table_size - 1);
	c->hnext = t->table[k];
	t->table[k] = c;
	c->in_hash = true;
	t->nconns_live++;
}

static void table_remove(struct trace *t, struct conn *c)
{
	size_t k = conn_hash(c->ip[UP], c->port[UP], c->ip[DOWN], c->port[DOWN]) & (t->table_size - 1);
	for (struct conn **pp = &t->table[k]; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			c->in_hash = false;
			t->nconns_live--;
			return;
		}
	}
}

/* The connection of segment p and p's direction on it, or NULL. */
static struct conn *table_find(struct trace *t, const struct pkt *p, int *dir)
{
	size_t k = conn_hash(p->saddr, p->sport, p->daddr, p->dport) & (t->table_size - 1);
	size_t iplen = p->family == 4 ? 4 : 16;
	for (struct conn *c = t->table[k]; c; c = c->hnext) {
		if (c->family != p->family)
			continue;
		if (c->port[UP] == p->sport && c->port[DOWN] == p->dport &&
		    memcmp(c->ip[UP], p->saddr, iplen) == 0 && memcmp(c->ip[DOWN], p->daddr, iplen) == 0) {
			*dir = UP;
			return c;
		}
		if (c->port[UP] == p->dport && c->port[DOWN] == p->sport &&
		    memcmp(c->ip[UP], p->daddr, iplen) == 0 && memcmp(c->ip[DOWN], p->saddr, iplen) == 0) {
			*dir = DOWN;
			return c;
		}
	}
	return NULL;
}

/* ---- HTTP on each direction ---------------------------------------------- */

static struct trace *hook_trace;   /* the trace being fed (one at a time) */

/* The index of the message a segment in this direction continues or starts. */
static uint32_t half_data_index(const struct half *h)
{
	if (h->http_dead || h->lost || !h->msg.in_message)
		return (h->http_dead || h->lost) && h->heads > 0 ? h->heads - 1 : h->heads;
	return h->msg.headers_done && h->heads > 0 ? h->heads - 1 : h->heads;
}

/* The index of the last message seen in this direction (what an ACK of it
 * or a FIN after it belongs to). */
static uint32_t half_last_index(const struct half *h)
{
	if (h->msg.in_message && !h->msg.headers_done && !h->http_dead)
		return h->heads;
	return h->heads > 0 ? h->heads - 1 : 0;
}

static int on_headers(struct http_msg *m)
{
	struct half *h = m->user;
	struct conn *c = h->conn;
	int dir = h == &c->h[UP] ? UP : DOWN;
	int status = http_status(m);

	if (dir == DOWN && status >= 100 && status < 200 && status != 101)
		return 0;   /* 100 Continue and friends: the real response follows */
	if (dir == DOWN && h->heads >= c->h[UP].heads && !c->h[UP].http_dead)
		return 0;   /* it answers no request we saw (lost, or a 408 on an idle connection) */
	uint32_t idx = h->heads++;
	if (!h->head_in_feed) {
		/* For the summary: "HTTP/1.1 200 OK (312 B)". */
		h->head_in_feed = true;
		h->head_body = m->parser.flags & F_CHUNKED ? -1 :
		               m->parser.flags & F_CONTENT_LENGTH ? (int64_t)m->parser.content_length : -2;
	}
	if (dir == UP) {
		if (c->kind == CONN_CLIENT)
			corr_client_head(hook_trace, corr_client_request(hook_trace, c, idx), m);
		else
			corr_backend_head(hook_trace, c, idx, m);
		return 0;
	}
	corr_response_head(hook_trace, c, idx, m);
	struct request *r = conn_req(c, idx);
	if (r && r->method && strcmp(r->method, "HEAD") == 0) {
		h->head_body = -2;
		return 1;   /* a response to HEAD has no body */
	}
	return 0;
}

static int on_complete(struct http_msg *m)
{
	struct half *h = m->user;
	h->done_msgs++;
	return 0;
}

static const struct http_hooks hooks = {
	.on_headers = on_headers,
	.on_complete = on_complete,
};

/* Feeds in-order bytes to the direction's parser. */
static void half_feed(struct trace *t, struct conn *c, int dir, const uint8_t *data, uint32_t len)
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

static void half_drop_ooo(struct half *h)
{
	for (struct seg *s = h->ooo, *n; s; s = n) {
		n = s->next;
		free(s);
	}
	h->ooo = NULL;
	h->ooo_bytes = 0;
	h->ooo_segs = 0;
}

/* The parser cannot follow this direction any more. */
static void half_lose(struct half *h)
{
	h->http_dead = true;
	half_drop_ooo(h);
}

/* Bytes are missing (a kernel drop, a snap length): wait for the next
 * message start to parse again. */
static void half_gap(struct half *h)
{
	if (!h->http_dead)
		h->lost = true;
	half_drop_ooo(h);
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

/* Starts parsing again at a message start after lost bytes. */
static void half_resync(struct conn *c, int dir)
{
	struct half *h = &c->h[dir];
	if (h->http_on) {
		http_msg_free(&h->msg);
		h->http_on = false;
	}
	memset(&h->msg, 0, sizeof(h->msg));
	h->lost = false;
	/* Whole messages may have been lost: a response answers the newest
	 * request seen (no pipelining is the common case). */
	if (dir == DOWN && c->h[UP].heads > h->heads + 1)
		h->heads = c->h[UP].heads - 1;
}

/* Feeds the queued out-of-order segments that the gap no longer holds back. */
static void half_drain(struct trace *t, struct conn *c, int dir)
{
	struct half *h = &c->h[dir];
	bool progress = true;
	while (progress && h->ooo) {
		progress = false;
		for (struct seg **pp = &h->ooo; *pp; pp = &(*pp)->next) {
			struct seg *s = *pp;
			int32_t d = (int32_t)(s->seq - h->next);
			if (d > 0)
				continue;
			*pp = s->next;
			h->ooo_bytes -= s->len;
			h->ooo_segs--;
			if ((int64_t)d + s->len > 0) {
				uint32_t skip = (uint32_t)-d;
				if (h->lost && skip == 0 && looks_like_start(dir, s->data, s->len))
					half_resync(c, dir);
				half_feed(t, c, dir, s->data + skip, s->len - skip);
				h->next += s->len - skip;
			}
			free(s);
			progress = true;
			break;
		}
	}
}

/* The peer acknowledged bytes of direction dir that the capture never saw
 * (a kernel drop): they will not come.  Parsing goes on after them, from
 * the next message start. */
static void half_acked(struct trace *t, struct conn *c, int dir, uint32_t ack)
{
	struct half *h = &c->h[dir];
	if (!h->seen || (int32_t)(ack - h->next) <= 0)
		return;
	if (!h->http_dead)
		h->lost = true;
	h->next = ack;
	half_drain(t, c, dir);
}

/* Keeps an out-of-order segment; true if kept, false if the gap before it
 * is now taken as lost (the caller moves on past it). */
static bool half_keep(struct half *h, const struct pkt *p)
{
	if (h->http_dead || h->lost)
		return false;
	if (h->ooo_bytes + p->caplen > OOO_MAX_BYTES || h->ooo_segs >= OOO_MAX_SEGS || p->caplen < p->len) {
		half_gap(h);
		return false;
	}
	struct seg *s = malloc(sizeof(*s) + p->caplen);
	if (s == NULL)
		oom();
	s->seq = p->seq;
	s->len = p->caplen;
	memcpy(s->data, p->payload, p->caplen);
	s->next = h->ooo;
	h->ooo = s;
	h->ooo_bytes += p->caplen;
	h->ooo_segs++;
	return true;
}

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

/* ---- one segment --------------------------------------------------------- */

/* Which kind of connection a new segment opens, and from which side; -1 if
 * none of the roles is on it. */
static int classify(struct trace *t, const struct pkt *p, int *dir, int *cfg)
{
	bool syn_only = (p->flags & (TH_SYN | TH_ACK)) == TH_SYN;
	bool synack = (p->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
	/* The server side of a SYN is its destination; otherwise try both. */
	if (!synack && role_match(&t->proxy, p->family, p->daddr, p->dport)) {
		*dir = UP;
		return CONN_CLIENT;
	}
	if (!syn_only && role_match(&t->proxy, p->family, p->saddr, p->sport)) {
		*dir = DOWN;
		return CONN_CLIENT;
	}
	if (!synack && (*cfg = backend_cfg_index(t, p->family, p->daddr, p->dport)) >= 0) {
		*dir = UP;
		return CONN_BACKEND;
	}
	if (!syn_only && (*cfg = backend_cfg_index(t, p->family, p->saddr, p->sport)) >= 0) {
		*dir = DOWN;
		return CONN_BACKEND;
	}
	return -1;
}

static struct conn *conn_new(struct trace *t, const struct pkt *p, int kind, int dir, int cfg)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	c->num = ++t->nconns;
	c->kind = (enum conn_kind)kind;
	c->family = p->family;
	c->closer = -1;
	const uint8_t *from = dir == UP ? p->saddr : p->daddr, *to = dir == UP ? p->daddr : p->saddr;
	memcpy(c->ip[UP], from, 16);
	memcpy(c->ip[DOWN], to, 16);
	c->port[UP] = dir == UP ? p->sport : p->dport;
	c->port[DOWN] = dir == UP ? p->dport : p->sport;
	format_ip_port(c->family, c->ip[UP], c->port[UP], c->peer);
	c->h[UP].conn = c->h[DOWN].conn = c;
	if (kind == CONN_BACKEND)
		c->be = backend_get(t, cfg, c->family, c->ip[DOWN], c->port[DOWN]);
	c->all_next = t->all;
	t->all = c;
	table_insert(t, c);
	return c;
}

static void conn_done(struct trace *t, struct conn *c)
{
	if (c->done)
		return;
	c->done = true;
	corr_conn_done(t, c);
	for (int d = 0; d < 2; d++) {
		half_lose(&c->h[d]);
		if (c->h[d].http_on) {
			http_msg_free(&c->h[d].msg);
			c->h[d].http_on = false;
		}
	}
}

static void frame_copy(struct trace *t, struct rec *r, uint64_t frame, uint64_t ts, const uint8_t *raw, uint32_t rawlen, uint32_t wirelen)
{
	r->frame = frame;
	r->ts_ns = ts;
	r->arrival_ns = t->now_wall_ns;
	if (t->pcapng) {
		r->frame_data = malloc(rawlen ? rawlen : 1);
		if (r->frame_data == NULL)
			oom();
		memcpy(r->frame_data, raw, rawlen);
		r->frame_len = rawlen;
		r->wire_len = wirelen;
	}
}

void trace_other(struct trace *t, uint64_t frame, uint64_t ts, const uint8_t *raw, uint32_t rawlen, uint32_t wirelen)
{
	if (!t->pcapng)
		return;
	struct rec *r = output_rec(t);
	frame_copy(t, r, frame, ts, raw, rawlen, wirelen);
	output_pump(t, false);
}

void trace_packet(struct trace *t, const struct pkt *p, const uint8_t *raw, uint32_t rawlen, uint32_t wirelen)
{
	int dir = UP, cfg = -1;
	struct conn *c = table_find(t, p, &dir);
	bool pure_syn = (p->flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN;

	/* A new SYN on a closed 4-tuple is a new connection (port reuse). */
	if (c && pure_syn && dir == UP && (c->done || (c->syn_seen && c->h[UP].isn != p->seq))) {
		table_remove(t, c);
		c = NULL;
	}
	if (c == NULL) {
		int kind = classify(t, p, &dir, &cfg);
		if (kind < 0) {
			trace_other(t, p->frame, p->ts_ns, raw, rawlen, wirelen);
			return;
		}
		c = conn_new(t, p, kind, dir, cfg);
		if (kind == CONN_CLIENT)
			t->nclient_conns++;
		else
			t->nbackend_conns++;
	}

	struct half *h = &c->h[dir], *o = &c->h[!dir];
	struct rec *r = output_rec(t);
	frame_copy(t, r, p->frame, p->ts_ns, raw, rawlen, wirelen);
	r->conn = c;
	c->refs++;
	r->dir = (uint8_t)dir;
	r->flags = p->flags;
	r->len = p->len;

	struct label_in li = { .kind = c->kind, .dir = dir, .flags = p->flags, .len = p->len };

	/* SYN and SYN-ACK set the first sequence numbers. */
	if (p->flags & TH_SYN) {
		if (h->seen && h->isn == p->seq) {
			r->retrans = true;
		} else {
			h->seen = true;
			h->isn = p->seq;
			h->next = p->seq + 1;
		}
		if (dir == UP) {
			if (!c->syn_seen && c->kind == CONN_BACKEND)
				corr_backend_open(t, c);
			c->syn_seen = true;
			if (c->hs == HS_NONE)
				c->hs = HS_SYN;
		} else if (c->hs == HS_SYN) {
			c->hs = HS_SYNACK;
		}
	} else if (!h->seen) {
		/* Joined mid-stream: count from here. */
		h->seen = true;
		h->isn = p->seq - 1;
		h->next = p->seq;
	}
	if (!(p->flags & TH_SYN) && p->len == 0 && !(p->flags & (TH_FIN | TH_RST)) && (p->flags & TH_ACK)) {
		if (dir == UP && c->hs == HS_SYNACK && p->ack == o->isn + 1) {
			li.handshake_ack = true;
			c->hs = HS_DONE;
		} else if (o->fin && p->ack == o->fin_seq + 1) {
			li.acks_fin = true;
		}
	}

	if ((p->flags & TH_ACK) && !(p->flags & TH_SYN))
		half_acked(t, c, !dir, p->ack);

	/* Which message (request) the packet belongs to. */
	if (p->len > 0)
		r->idx = half_data_index(h);
	else if (p->flags & (TH_SYN))
		r->idx = 0;
	else if (p->flags & (TH_FIN | TH_RST) || li.acks_fin)
		r->idx = half_last_index(&c->h[UP]) > half_last_index(&c->h[DOWN]) ?
		         half_last_index(&c->h[UP]) : half_last_index(&c->h[DOWN]);
	else if (li.handshake_ack)
		r->idx = 0;
	else
		r->idx = half_last_index(o);

	/* The bytes: in order, old (a retransmission), or ahead of a gap. */
	if (p->len > 0 && !(p->flags & TH_SYN)) {
		int32_t d = (int32_t)(p->seq - h->next);
		if (c->hs != HS_DONE && dir == UP)
			c->hs = HS_DONE;
		if (d > 0) {
			r->ooo = true;
			t->ooo++;
			if (!half_keep(h, p)) {
				/* A gap that is not filling: the bytes before are lost
				 * (half_gap); these are taken as in order. */
				h->next = p->seq;
				d = 0;
			}
		}
		if (d > 0) {
			snprintf(r->summary, sizeof(r->summary), "out of order");
		} else if ((int64_t)d + p->len <= 0) {
			/* Old bytes again: they belong to the message they first carried. */
			r->idx = half_last_index(h);
			r->retrans = true;
			snprintf(r->summary, sizeof(r->summary), "retransmitted");
		} else {
			uint32_t skip = (uint32_t)-d;
			if (skip > 0)
				r->retrans = true;
			if (h->lost && skip == 0 && looks_like_start(dir, p->payload, p->caplen)) {
				half_resync(c, dir);
				r->idx = half_data_index(h);
			}
			bool starts = !h->http_dead && !h->lost && (!h->http_on || !h->msg.in_message) && skip == 0;
			if (c->kind == CONN_CLIENT && dir == UP && (starts || (h->http_dead && c->nreqs == 0)))
				corr_client_request(t, c, r->idx);
			if (starts) {
				r->msg_start = true;
				first_line(r->summary, sizeof(r->summary), p->payload, p->caplen);
			} else if (h->http_dead || h->lost) {
				snprintf(r->summary, sizeof(r->summary), "%s", skip ? "partly retransmitted" : h->lost ? "after lost bytes" : "data");
			} else {
				strcpy(r->summary, h->msg.headers_done ? "body" : "head, continued");
			}
			h->head_in_feed = false;
			if (p->caplen < p->len) {
				/* Cut by the snap length: what follows cannot be parsed. */
				if (p->caplen > skip)
					half_feed(t, c, dir, p->payload + skip, p->caplen - skip);
				half_gap(h);
			} else {
				half_feed(t, c, dir, p->payload + skip, p->len - skip);
			}
			h->next = p->seq + p->len;
			if (starts && h->head_in_feed && h->head_body != -2 && h->head_body != 0) {
				size_t n = strlen(r->summary);
				if (h->head_body == -1)
					snprintf(r->summary + n, sizeof(r->summary) - n, " (chunked)");
				else
					snprintf(r->summary + n, sizeof(r->summary) - n, " (%lld B)", (long long)h->head_body);
			}
			half_drain(t, c, dir);
		}
		if (r->retrans)
			t->retrans++;
		/* A request on a backend connection that carried one before, or
		 * that was open before the capture began, reuses it. */
		if (c->kind == CONN_BACKEND && dir == UP && r->msg_start && (r->idx > 0 || !c->syn_seen))
			r->reuse = true;
	}

	/* FIN: its sequence number, and a retransmitted FIN. */
	if (p->flags & TH_FIN) {
		uint32_t fin_seq = p->seq + p->len;
		if (h->fin && h->fin_seq == fin_seq && p->len == 0) {
			r->retrans = true;
			t->retrans++;
		}
		h->fin = true;
		h->fin_seq = fin_seq;
		if ((int32_t)(fin_seq + 1 - h->next) > 0)
			h->next = fin_seq + 1;
		if (c->closer < 0)
			c->closer = dir;
	}
	if (p->flags & TH_RST) {
		if (c->closer < 0)
			c->closer = dir;
		c->reset = true;
	}

	struct label l = label_packet(&li);
	r->step = l.step;
	r->close = l.close;
	r->reset = l.reset;
	r->seq = p->seq - h->isn;
	r->ack = (p->flags & TH_ACK) && o->seen ? p->ack - o->isn : 0;
	t->labelled++;

	/* A client's response has begun: its request is settled. */
	if (c->kind == CONN_CLIENT && dir == DOWN && p->len > 0) {
		struct request *rq = conn_req(c, r->idx);
		if (rq)
			rq->settled = true;
	}
	if ((p->flags & TH_RST) || (c->h[UP].fin && c->h[DOWN].fin))
		conn_done(t, c);

	output_pump(t, false);
}

void trace_free_conns(struct trace *t)
{
	for (struct conn *c = t->all, *n; c; c = n) {
		n = c->all_next;
		for (int d = 0; d < 2; d++) {
			half_lose(&c->h[d]);
			if (c->h[d].http_on)
				http_msg_free(&c->h[d].msg);
		}
		free(c->reqs);
		free(c);
	}
	t->all = NULL;
	free(t->table);
	t->table = NULL;
}
