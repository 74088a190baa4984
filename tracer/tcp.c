/*
 * tcp.c - per-connection tracking: which connection a segment belongs to
 * and its role (client connection, backend connection), the handshake and
 * teardown state the labels need, retransmission marks, the messages each
 * connection remembers (a window of slots), and freeing connections once
 * they are closed and printed.  Reassembly and parsing are in stream.c.
 */
#include "tracer.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "events.h"
#include "label.h"
#include "output.h"
#include "stream.h"

#define CONN_LINGER_NS 2000000000ull   /* a closed connection is kept 2 s for late packets */
#define REFUSE_WINDOW_NS 1000000000ull /* a close this soon after the handshake, with no request, is a refusal */

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
 * the NAME= of its --backends entry or an older --name ADDR=NAME, else
 * b<N> after its place in --backends (for ADDR:PORT entries) or the next
 * free b<N> (for bare ports). */
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
	if (t->bcfg[cfg].name[0] && !t->bcfg[cfg].any_ip) {
		snprintf(b->name, sizeof(b->name), "%s", t->bcfg[cfg].name);
		b->fixed_name = true;
	}
	for (size_t i = 0; i < t->nnames; i++) {
		char a[ADDR_STRLEN];
		addr_format(&t->names[i].a, a);
		if (strcmp(a, b->addr) == 0) {
			snprintf(b->name, sizeof(b->name), "%s", t->names[i].name);
			b->fixed_name = true;
		}
	}
	if (!b->fixed_name) {
		if (t->bcfg[cfg].name[0])
			snprintf(b->name, sizeof(b->name), "%s", t->bcfg[cfg].name);
		else if (!t->bcfg[cfg].any_ip)
			snprintf(b->name, sizeof(b->name), "b%d", cfg + 1);
		for (int n = 1; b->name[0] == '\0' || name_taken(t, b->name); n++)
			snprintf(b->name, sizeof(b->name), "b%d", n);
	}
	t->bes = xrealloc(t->bes, t->nbes + 1, sizeof(*t->bes));
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
		struct conn **nt = xcalloc(n, sizeof(*nt));
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
	if (!c->in_hash)
		return;
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

/* ---- lists: open connections, and closed ones oldest first ---------------- */

static void list_unlink(struct conn **head, struct conn **tail, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else if (tail)
		*tail = c->prev;
	c->prev = c->next = NULL;
}

/* ---- the messages a connection remembers ---------------------------------- */

struct slot *conn_slot(const struct conn *c, uint32_t idx)
{
	if (idx < c->base || idx - c->base >= c->nslots)
		return NULL;
	return &c->slots[idx - c->base];
}

struct slot *conn_slot_make(struct conn *c, uint32_t idx)
{
	if (idx < c->base)
		return NULL;
	uint32_t i = idx - c->base;
	if (i >= c->capslots) {
		uint32_t cap = c->capslots ? c->capslots * 2 : 4;
		while (cap <= i)
			cap *= 2;
		c->slots = xrealloc(c->slots, cap, sizeof(*c->slots));
		c->capslots = cap;
	}
	while (c->nslots <= i)
		memset(&c->slots[c->nslots++], 0, sizeof(*c->slots));
	return &c->slots[i];
}

void conn_trim(struct trace *t, struct conn *c, uint32_t low)
{
	if (low <= c->base)
		return;
	uint32_t k = low - c->base < c->nslots ? low - c->base : c->nslots;
	if (k > 0) {   /* (no slots yet: no storage either, never NULL + 0) */
		for (uint32_t i = 0; i < k; i++)
			corr_slot_release(t, c, &c->slots[i]);
		memmove(c->slots, c->slots + k, (c->nslots - k) * sizeof(*c->slots));
		c->nslots -= k;
	}
	c->base = low;
}

/* ---- connections' lifetime ------------------------------------------------ */

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
	format_ip_port(c->family, c->ip[UP], c->port[UP], c->addr[UP]);
	format_ip_port(c->family, c->ip[DOWN], c->port[DOWN], c->addr[DOWN]);
	c->h[UP].conn = c->h[DOWN].conn = c;
	if (kind == CONN_BACKEND)
		c->be = backend_get(t, cfg, c->family, c->ip[DOWN], c->port[DOWN]);
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	table_insert(t, c);
	return c;
}

static void conn_done(struct trace *t, struct conn *c, uint64_t ts)
{
	if (c->done)
		return;
	stream_close(t, c);
	corr_conn_done(t, c);
	c->done = true;
	c->t_done = ts;
	list_unlink(&t->conns, NULL, c);
	c->prev = t->closed_tail;
	if (t->closed_tail)
		t->closed_tail->next = c;
	else
		t->closed = c;
	t->closed_tail = c;
}

static void conn_free(struct trace *t, struct conn *c)
{
	table_remove(t, c);
	if (c->done)
		list_unlink(&t->closed, &t->closed_tail, c);
	else
		list_unlink(&t->conns, NULL, c);
	for (uint32_t i = 0; i < c->nslots; i++)
		corr_slot_release(t, c, &c->slots[i]);
	if (c->guess) {
		c->guess->guessed--;
		corr_unref(t, c->guess);
	}
	for (int d = 0; d < 2; d++)
		stream_free(t, &c->h[d]);
	free(c->slots);
	free(c);
}

void trace_tick(struct trace *t, bool final)
{
	/* Gaps that waited long enough: those bytes are not coming. */
	while (t->gaps) {
		struct half *h = t->gaps;
		bool old = t->last_ts > h->gap_ts + GAP_WAIT_NS ||
		           (h->gap_wall && t->now_wall_ns > h->gap_wall + t->paused_ns + GAP_WAIT_NS);
		if (!final && !old)
			break;
		stream_settle(t, h);
		if (t->gaps == h)
			break;   /* cannot settle (should not happen): try again later */
	}
	/* Closed connections whose packets are all printed. */
	for (struct conn *c = t->closed, *n; c; c = n) {
		n = c->next;
		if (!final && t->last_ts < c->t_done + CONN_LINGER_NS)
			break;
		if (c->refs == 0)
			conn_free(t, c);
	}
}

void trace_free_conns(struct trace *t)
{
	while (t->conns)
		conn_free(t, t->conns);
	while (t->closed)
		conn_free(t, t->closed);
	free(t->table);
	t->table = NULL;
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

void trace_frame(struct trace *t, enum decode_result d, struct pkt *p, uint64_t frame, uint64_t ts_ns,
                 const uint8_t *raw, uint32_t rawlen, uint32_t wirelen)
{
	p->frame = frame;
	p->ts_ns = ts_ns;
	if (!t->have_first) {
		t->have_first = true;
		t->first_ts = ts_ns;
	}
	if (ts_ns > t->last_ts)
		t->last_ts = ts_ns;
	t->packets++;
	if (d == DECODE_TCP) {
		trace_packet(t, p, raw, rawlen, wirelen);
		return;
	}
	if (d == DECODE_BAD)
		t->undecoded++;
	else if (d == DECODE_FRAGMENT)
		t->fragments++;
	trace_other(t, frame, ts_ns, raw, rawlen, wirelen);
}

/* STEP 1 seen from outside: the proxy closes a client connection before it
 * sent a byte and before it forwarded anything, right after the handshake
 * or after a request it never answered (an allow/deny list, a connection
 * limit), or its events say it denied that client. */
static bool refuses(struct trace *t, const struct conn *c, uint64_t ts)
{
	if (c->h[DOWN].sent)
		return false;
	bool requested = false;
	for (uint32_t i = 0; i < c->nslots; i++) {
		const struct request *r = c->slots[i].req;
		if (r && (r->x || r->attempts || r->answered))
			return false;
		requested |= r != NULL;
	}
	if (requested || ts < c->t_syn + REFUSE_WINDOW_NS)
		return true;
	return t->events && events_denied(t->events, c->addr[UP]);
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
			t->retrans++;
		} else {
			h->seen = true;
			h->isn = p->seq;
			h->next = h->acked = p->seq + 1;
		}
		if (dir == UP) {
			if (!c->syn_seen) {
				c->t_syn = p->ts_ns;
				if (c->kind == CONN_BACKEND)
					corr_backend_open(t, c);
			}
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
		h->next = h->acked = p->seq;
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
		stream_ack(t, c, !dir, p->ack);

	/* Which message (request) the packet belongs to. */
	if (p->flags & (TH_FIN | TH_RST) || li.acks_fin) {
		uint32_t a = stream_last_index(&c->h[UP]), b = stream_last_index(&c->h[DOWN]);
		r->idx = a > b ? a : b;
	} else if (p->flags & TH_SYN || li.handshake_ack) {
		r->idx = 0;
	} else {
		r->idx = stream_last_index(o);
	}

	if (p->len > 0 && !(p->flags & TH_SYN)) {
		if (c->hs != HS_DONE && dir == UP)
			c->hs = HS_DONE;
		stream_data(t, c, dir, r, p);
		if (r->retrans)
			t->retrans++;
	}

	/* FIN: its sequence number, and a retransmitted FIN. */
	if (p->flags & TH_FIN) {
		uint32_t fin_seq = p->seq + p->len;
		if (h->fin && h->fin_seq == fin_seq && p->len == 0) {
			r->retrans = true;
			t->retrans++;
		}
		stream_fin(t, c, dir, fin_seq);
		if (c->closer < 0)
			c->closer = dir;
	}
	if (p->flags & TH_RST) {
		if (c->closer < 0)
			c->closer = dir;
		c->reset = true;
	}
	if (c->kind == CONN_CLIENT && dir == DOWN && (p->flags & (TH_FIN | TH_RST)) && p->len == 0 &&
	    !c->refused && c->closer == DOWN && refuses(t, c, p->ts_ns)) {
		c->refused = true;
		t->refused++;
	}
	li.refused = c->refused;

	struct label l = label_packet(&li);
	r->step = l.step;
	r->close = l.close;
	r->reset = l.reset;
	if (c->refused && l.step == 1 && l.close)
		r->kind = KIND_REFUSED;
	r->seq = p->seq - h->isn;
	r->ack = (p->flags & TH_ACK) && o->seen ? p->ack - o->isn : 0;
	t->labelled++;

	/* A client's response has begun: its request is settled. */
	if (c->kind == CONN_CLIENT && dir == DOWN && p->len > 0) {
		struct request *rq = slot_request(c, conn_slot(c, r->idx));
		if (rq)
			rq->settled = true;
	}
	/* From now on the connection needs no message below the last one of
	 * either direction. */
	uint32_t a = stream_last_index(&c->h[UP]), b = stream_last_index(&c->h[DOWN]);
	r->low = a < b ? a : b;
	if (r->idx < r->low)
		r->idx = r->low;
	if ((p->flags & TH_RST) || (c->h[UP].fin && c->h[DOWN].fin))
		conn_done(t, c, p->ts_ns);

	if ((t->gaps && t->last_ts > t->gaps->gap_ts + GAP_WAIT_NS) ||
	    (t->closed && t->last_ts > t->closed->t_done + CONN_LINGER_NS))
		trace_tick(t, false);
	output_pump(t, false);
}
