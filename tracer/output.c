/*
 * output.c - the queue of labelled packets, the hold, and what every
 * printer shares (see output.h).  Each packet is resolved once into a
 * struct view (its request, its attempt, what it is) and handed to the
 * printer of the mode; the step-3 line ("the proxy decides") goes between
 * a request's last step-2 packet and its first backend packet.
 */
#include "output.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "ev.h"
#include "log.h"
#include "pcapng.h"
#include "stream.h"

#define HOLD_NS       1000000000ull   /* the longest a packet waits for its request */
#define HOLD_MAX      100000          /* the most packets waiting                   */
#define FLUSH_NS      10000000ull     /* live: output is written at least this often */
#define QUEUE_MIN     256             /* the queue's first size, and the least output_trim leaves */

/* ---- the queue ----------------------------------------------------------- */

/* The queue's ring moved into cap slots (cap >= qlen), oldest first. */
static void queue_resize(struct trace *t, size_t cap)
{
	struct rec *q = xcalloc(cap, sizeof(*q));
	for (size_t i = 0; i < t->qlen; i++)
		q[i] = t->q[(t->qhead + i) % t->qcap];
	free(t->q);
	t->q = q;
	t->qcap = cap;
	t->qhead = 0;
}

struct rec *output_rec(struct trace *t)
{
	if (t->qlen == t->qcap)
		queue_resize(t, t->qcap ? t->qcap * 2 : QUEUE_MIN);
	struct rec *r = &t->q[(t->qhead + t->qlen++) % t->qcap];
	memset(r, 0, sizeof(*r));
	r->serial = t->q_serial + t->qlen - 1;
	return r;
}

void output_trim(struct trace *t)
{
	size_t cap = t->qcap;
	while (cap > QUEUE_MIN && t->qlen <= cap / 8)
		cap /= 2;
	if (cap < t->qcap)
		queue_resize(t, cap);
}

struct rec *rec_by_serial(struct trace *t, uint64_t serial)
{
	if (serial < t->q_serial || serial - t->q_serial >= t->qlen)
		return NULL;
	return &t->q[(t->qhead + (serial - t->q_serial)) % t->qcap];
}

/* The slot a record's message is in, or NULL. */
static struct slot *rec_slot(const struct rec *r)
{
	const struct conn *c = r->conn;
	struct slot *s = conn_slot(c, r->idx);
	if (s == NULL && c->done && c->nslots > 0 && r->idx >= c->base + c->nslots)
		s = &c->slots[c->nslots - 1];   /* a teardown after the last message */
	return s;
}

/* True when the request of r is known (see output.h). */
static bool rec_ready(const struct rec *r)
{
	const struct conn *c = r->conn;
	if (c == NULL)
		return true;
	if (r->pending)
		return false;
	if (r->head_pending) {
		/* a message whose head is split: its first segment waits for the
		 * rest, to say the body's size */
		const struct half *h = &c->h[r->dir];
		if (!h->http_dead && !h->lost && !c->done && h->start_serial == r->serial)
			return false;
	}
	const struct slot *s = rec_slot(r);
	if (s == NULL || (c->kind == CONN_CLIENT ? s->req == NULL : s->x == NULL))
		return c->done || c->h[UP].http_dead;   /* no message yet: one may still come */
	if (c->kind == CONN_CLIENT)
		return s->req->settled;
	return s->x->final;
}

/* ---- what every printer shares --------------------------------------------- */

void out_put(struct trace *t, const char *s) { if (buf_puts(&t->line, s) < 0) oom(); }
void out_putn(struct trace *t, const char *s, size_t n) { if (buf_append(&t->line, s, n) < 0) oom(); }

void out_color(struct trace *t, const char *c)
{
	if (t->color)
		out_put(t, c);
}

void out_pad(struct trace *t, const char *s, size_t width)
{
	size_t cols = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			cols++;
	out_put(t, s);
	if (cols >= width && cols > 0)
		out_putn(t, " ", 1);
	for (; cols < width; cols++)
		out_putn(t, " ", 1);
}

void out_write(struct trace *t, bool force)
{
	if (!force && buf_len(&t->line) < 65536)
		return;
	if (buf_len(&t->line) && fwrite(buf_begin(&t->line), 1, buf_len(&t->line), t->out) != buf_len(&t->line))
		fatal("write: output failed");
	buf_clear(&t->line);
	if (force && fflush(t->out) != 0)
		fatal("write: output failed");
}

void output_flush(struct trace *t, bool force)
{
	if (!t->line_buffered || buf_len(&t->line) == 0)
		return;
	uint64_t now = ev_mono_ns();
	if (!force && now < t->last_flush_wall + FLUSH_NS)
		return;
	t->last_flush_wall = now;
	out_write(t, true);
}

uint64_t out_rel(const struct trace *t, uint64_t ts)
{
	return ts >= t->first_ts ? ts - t->first_ts : 0;
}

double out_ms(uint64_t ns) { return (double)ns / 1e6; }

const char *out_step_color(int step)
{
	switch (step) {
	case 1: case 4: return "\033[36m";   /* handshakes: cyan   */
	case 2: case 5: return "\033[32m";   /* requests: green    */
	case 3: return "\033[1;33m";         /* the decision       */
	case 6: case 7: return "\033[33m";   /* responses: yellow  */
	default: return "";
	}
}

/* "SYN ACK", "FIN PSH ACK", ... for each value of the flags byte. */
static char flag_names[256][32];

static void flags_str(uint8_t f, char out[32])
{
	static const struct { uint8_t bit; const char *name; } names[] = {
		{ TH_SYN, "SYN" }, { TH_FIN, "FIN" }, { TH_RST, "RST" }, { TH_PSH, "PSH" },
		{ TH_ACK, "ACK" }, { TH_URG, "URG" }, { TH_ECE, "ECE" }, { TH_CWR, "CWR" },
	};
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(f & names[i].bit))
			continue;
		n += (size_t)snprintf(out + n, 32 - n, "%s%s", n ? " " : "", names[i].name);
	}
}

const char *out_flags(uint8_t flags)
{
	return flag_names[flags];
}

const char *out_end_name(const struct trace *t, const struct conn *c, int side)
{
	if (c->kind == CONN_CLIENT)
		return side == UP ? "client" : t->proxy_name[0] ? t->proxy_name : "proxy";
	return side == UP ? (t->proxy_name[0] ? t->proxy_name : "proxy") : c->be->name;
}

const struct decision *out_decision(struct trace *t, const struct request *q)
{
	if (t->events == NULL || q == NULL || q->id == NULL)
		return NULL;
	return events_decision(t->events, q->id);
}

/* "+X-Forwarded-For +Via -Connection": the header names the proxy added
 * to the client's request and removed from it. */
static char *header_diff(const struct buf *client, const struct buf *fwd)
{
	struct buf d = BUF_INIT;
	const struct buf *lists[2] = { fwd, client };
	const char *signs = "+-";
	for (int k = 0; k < 2; k++) {
		const struct buf *have = lists[k], *other = lists[!k];
		const char *p = buf_begin(have), *end = p + buf_len(have);   /* never NULL + 0 */
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL)
				break;
			size_t n = (size_t)(nl - p);
			bool found = false, dup = false;
			for (const char *o = buf_begin(other), *oe = o + buf_len(other); o < oe && !found;) {
				const char *onl = memchr(o, '\n', (size_t)(oe - o));
				if (onl == NULL)
					break;
				found = (size_t)(onl - o) == n && strncasecmp(o, p, n) == 0;
				o = onl + 1;
			}
			/* a name added twice is said once */
			for (const char *o = buf_begin(have); o < p && !dup;) {
				const char *onl = memchr(o, '\n', (size_t)(p - o));
				if (onl == NULL)
					break;
				dup = (size_t)(onl - o) == n && strncasecmp(o, p, n) == 0;
				o = onl + 1;
			}
			if (!found && !dup) {
				if ((d.len && buf_append(&d, " ", 1) < 0) || buf_append(&d, signs + k, 1) < 0 ||
				    buf_append(&d, p, n) < 0)
					oom();
			}
			p = nl + 1;
		}
	}
	char *s = d.len ? xstrndup(buf_begin(&d), d.len) : NULL;
	buf_free(&d);
	return s;
}

/* ---- one record ------------------------------------------------------------ */

/* Fills v for record r: its request, attempt, names, and what it is. */
static void resolve(struct trace *t, const struct rec *r, struct view *v)
{
	memset(v, 0, sizeof(*v));
	v->r = r;
	struct conn *c = v->c = r->conn;
	struct slot *s = rec_slot(r);
	v->src = out_end_name(t, c, r->dir);
	v->dst = out_end_name(t, c, !r->dir);
	v->kind = r->kind;
	if (c->kind == CONN_CLIENT) {
		v->q = s ? s->req : NULL;
		if (v->q && v->q->proxy_made && r->dir == DOWN && r->len > 0 && v->kind != KIND_INTERIM)
			v->kind = KIND_PROXY_RESPONSE;
		return;
	}
	struct xchg *x = v->x = s ? s->x : NULL;
	if (x == NULL)
		return;
	v->q = x->req;
	if (x->health)
		v->kind = KIND_HEALTH;
	v->retry = x->attempt > 1;
	v->reuse = r->dir == UP && r->msg_start && x->reused;
	if (v->q) {
		v->how = corr_name(x->how);
		v->inferred = x->how == CORR_ORDER;
		/* A connection that carried no request was tied by order, unless
		 * the proxy's events say it chose that very server for it. */
		const struct decision *d = x->no_request ? out_decision(t, v->q) : NULL;
		if (d && ((d->server && strcmp(d->server, c->be->addr) == 0) ||
		          (d->server_name && strcmp(d->server_name, c->be->name) == 0))) {
			v->how = corr_name(CORR_EVENTS);
			v->inferred = false;
		}
		if (r->dir == UP && r->msg_start) {
			if (x->diff == NULL && (v->q->names.len || x->names.len))
				x->diff = header_diff(&v->q->names, &x->names);
			v->diff = x->diff;
		}
	}
}

/* Per-request times as its packets go by (for --summary), and whether the
 * step-3 line goes before this packet. */
static void note_times(struct trace *t, struct view *v)
{
	const struct rec *r = v->r;
	struct request *q = v->q;
	uint64_t ts = r->ts_ns;
	bool data = r->len > 0 && !r->retrans;
	(void)t;
	if (q == NULL || v->kind == KIND_HEALTH)
		return;
	if (!q->o_first)
		q->o_first = ts;
	if (v->c->kind == CONN_CLIENT) {
		if (r->step == 1 && (r->flags & TH_SYN) && r->dir == UP && !q->o_syn)
			q->o_syn = ts;
		if (r->step == 1 && !(r->flags & TH_SYN) && !r->close && r->dir == UP && !q->o_hs_end)
			q->o_hs_end = ts;
		if (r->step == 2 && data) {
			if (!q->o_first2)
				q->o_first2 = ts;
			if (!q->o_decided)
				q->o_last2 = ts;
		}
		if (r->step == 7 && data && v->kind != KIND_INTERIM) {
			if (!q->o_decided && q->proxy_made) {
				v->decide_first = true;
				uint64_t from = q->o_last2 > q->t_head ? q->o_last2 : q->t_head;
				v->decide_ms = from && ts > from ? out_ms(ts - from) : 0;
				q->o_decided = true;
				q->o_decide_ms = v->decide_ms;
			}
			if (!q->o_first7)
				q->o_first7 = ts;
			q->o_last7 = ts;
		}
	} else if (v->x) {
		struct xchg *x = v->x;
		if (!x->printed) {
			x->printed = true;
			v->decide_first = true;
			/* From the request's last step-2 packet, or from the packet that
			 * completed its head (a pipelined request has no packet of its
			 * own); a retry, from the request's packet before it. */
			uint64_t from = q->o_last2 > q->t_head ? q->o_last2 : q->t_head;
			if (q->o_decided)
				from = q->o_last;
			v->decide_ms = from && ts > from ? out_ms(ts - from) : 0;
			if (!q->o_decided) {
				q->o_decided = true;
				q->o_decide_ms = v->decide_ms;
				q->o_first_be = ts;
			}
		}
		/* The end of the first attempt's step 4: its handshake's ACK, or the
		 * reset of a connection that carried no request. */
		if (x->attempt == 1 && ((r->step == 4 && r->dir == UP && !(r->flags & (TH_SYN | TH_FIN | TH_RST))) ||
		                        (x->no_request && r->close && !q->o_hs4_end)))
			q->o_hs4_end = ts;
		if (r->step == 6 && data)
			q->o_last6 = ts;
	}
	q->o_last = ts;
}

static void pcapng_rec(struct trace *t, const struct rec *r, const struct view *v)
{
	char comment[512];
	if (r->conn == NULL) {
		comment[0] = '\0';
	} else {
		char req[64] = "";
		if (v->q)
			snprintf(req, sizeof(req), " \xc2\xb7 request %u", v->q->num);
		static const char *const kinds[] = { "", " \xc2\xb7 health check", " \xc2\xb7 proxy-made response",
		                                     " \xc2\xb7 interim response", " \xc2\xb7 refused" };
		snprintf(comment, sizeof(comment), "step %u %s \xe2\x86\x92 %s%s%s%s%s%s%s%s%s%s", r->step,
		         v->src, v->dst, req, r->summary[0] ? " \xc2\xb7 " : "", r->summary,
		         kinds[v->kind], r->close ? " \xc2\xb7 close" : "", r->reset ? " (reset)" : "",
		         v->reuse ? " \xc2\xb7 reuse" : "", v->retry ? " \xc2\xb7 retry" : "",
		         r->retrans ? " \xc2\xb7 retransmission" : "");
	}
	if (pcapng_write(t->pcapng, r->ts_ns, r->frame_data, r->frame_len, r->wire_len, comment) < 0)
		fatal("%s", pcapng_error(t->pcapng));
}

static void emit(struct trace *t, struct rec *r)
{
	struct view v;
	if (r->conn == NULL) {
		memset(&v, 0, sizeof(v));
		if (t->pcapng)
			pcapng_rec(t, r, &v);
		return;
	}
	resolve(t, r, &v);
	note_times(t, &v);
	if (t->pcapng)
		pcapng_rec(t, r, &v);
	if (t->req_lo && (v.q == NULL || v.q->o_skip))
		return;
	switch (t->mode) {
	case OUT_TIMELINE: timeline_rec(t, &v); break;
	case OUT_JSON: json_rec(t, &v); break;
	case OUT_MERMAID: mermaid_rec(t, &v); break;
	case OUT_HTML: html_rec(t, &v); break;
	case OUT_SUMMARY: break;
	}
	if (v.q && v.kind != KIND_INTERIM)
		v.q->o_seen_steps |= 1u << r->step | (v.decide_first ? 1u << 3 : 0);
	out_write(t, false);
}

void output_pump(struct trace *t, bool final)
{
	while (t->qlen > 0 && !(t->stop && *t->stop && !final)) {
		struct rec *r = &t->q[t->qhead];
		if (!final && !rec_ready(r)) {
			bool old = t->last_ts > r->ts_ns + HOLD_NS ||
			           (r->arrival_ns && t->now_wall_ns > r->arrival_ns + t->paused_ns + HOLD_NS);
			if (!old && t->qlen < HOLD_MAX)
				break;
			r->forced = true;
		}
		if (!t->discard)
			emit(t, r);
		struct conn *c = r->conn;
		free(r->frame_data);
		free(r->head);
		t->qhead = (t->qhead + 1) % t->qcap;
		t->qlen--;
		t->q_serial++;
		if (c) {
			c->refs--;
			conn_trim(t, c, r->low);
		}
	}
	if (final)
		out_write(t, true);
}

/* ---- the beginning and the end ------------------------------------------- */

static void role_str(const struct role_addr *r, char out[ADDR_STRLEN])
{
	if (r->any_ip) {
		snprintf(out, ADDR_STRLEN, "port %u", r->port);
		return;
	}
	struct addr a;
	memset(&a, 0, sizeof(a));
	if (r->family == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&a.ss;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, r->ip, 4);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&a.ss;
		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, r->ip, 16);
	}
	addr_set_port(&a, r->port);
	addr_format(&a, out);
}

void output_begin(struct trace *t)
{
	for (int f = 0; f < 256; f++)
		flags_str((uint8_t)f, flag_names[f]);
	if (t->mode == OUT_SUMMARY)
		summary_begin(t);
	if (t->mode != OUT_TIMELINE)
		return;
	char a[ADDR_STRLEN];
	size_t start = buf_len(&t->line);
	out_color(t, C_BOLD);
	out_put(t, "l7lab tracer");
	out_color(t, C_OFF);
	out_put(t, " \xc2\xb7 ");
	out_put(t, t->source);
	out_put(t, " \xc2\xb7 ");
	out_put(t, t->proxy_name[0] ? t->proxy_name : "proxy");
	out_put(t, " ");
	role_str(&t->proxy, a);
	out_put(t, a);
	out_put(t, " \xc2\xb7 backends ");
	for (size_t i = 0; i < t->nbcfg; i++) {
		role_str(&t->bcfg[i], a);
		if (i)
			out_put(t, ", ");
		if (t->bcfg[i].name[0] || !t->bcfg[i].any_ip) {
			char n[80];
			snprintf(n, sizeof(n), "%s ", t->bcfg[i].name[0] ? t->bcfg[i].name : "");
			if (!t->bcfg[i].name[0])
				snprintf(n, sizeof(n), "b%zu ", i + 1);
			out_put(t, n);
		}
		out_put(t, a);
	}
	out_put(t, "\n");
	out_fit(t, start);
	out_write(t, true);
}

void output_request_done(struct trace *t, struct request *q)
{
	if (t->mode == OUT_SUMMARY && t->summary && !q->o_skip)
		summary_row(t, q);
}

/* The closing line; on a terminal too narrow for it, broken at its " · ". */
static void closing_line(struct trace *t, const char *s)
{
	static const char sep[] = " \xc2\xb7 ";
	size_t col = 0;
	while (*s) {
		const char *next = strstr(s, sep);
		size_t n = next ? (size_t)(next - s) : strlen(s), cols = 0;
		for (size_t i = 0; i < n; i++)
			cols += ((unsigned char)s[i] & 0xc0) != 0x80;
		if (col > 0 && t->width && col + 3 + cols > t->width) {
			out_put(t, "\n");
			col = 0;
		} else if (col > 0) {
			out_put(t, sep);
			col += 3;
		}
		out_putn(t, s, n);
		col += cols;
		s += n + (next ? sizeof(sep) - 1 : 0);
	}
	out_put(t, "\n");
}

void output_end(struct trace *t, long long drops)
{
	/* Bytes still held for a gap are not coming: parse what is there. */
	trace_tick(t, true);
	output_pump(t, true);
	/* Everything is printed: what is left is finished. */
	trace_free_conns(t);
	corr_free_all(t);
	switch (t->mode) {
	case OUT_SUMMARY: summary_end(t); break;
	case OUT_MERMAID: mermaid_end(t); break;
	case OUT_HTML: html_end(t); break;
	case OUT_TIMELINE: timeline_end(t); break;
	case OUT_JSON: break;
	}

	struct buf line = BUF_INIT;
	int rc = buf_printf(&line, "%llu packets \xc2\xb7 %u request%s \xc2\xb7 client connections %u \xc2\xb7 "
	                    "backend connections %u opened, %llu reused \xc2\xb7 %llu retransmissions \xc2\xb7 %llu out of order",
	                    (unsigned long long)t->labelled, t->nreqs, t->nreqs == 1 ? "" : "s", t->nclient_conns,
	                    t->nbackend_conns, (unsigned long long)t->backend_reuses, (unsigned long long)t->retrans,
	                    (unsigned long long)t->ooo);
	if (rc >= 0 && t->retries)
		rc = buf_printf(&line, " \xc2\xb7 %llu retr%s", (unsigned long long)t->retries, t->retries == 1 ? "y" : "ies");
	if (rc >= 0 && t->health_checks)
		rc = buf_printf(&line, " \xc2\xb7 %llu health check%s", (unsigned long long)t->health_checks,
		                t->health_checks == 1 ? "" : "s");
	if (rc >= 0 && t->proxy_responses)
		rc = buf_printf(&line, " \xc2\xb7 %llu made by the proxy", (unsigned long long)t->proxy_responses);
	if (rc >= 0 && t->refused)
		rc = buf_printf(&line, " \xc2\xb7 %llu refused", (unsigned long long)t->refused);
	if (rc >= 0 && drops >= 0)
		rc = buf_printf(&line, " \xc2\xb7 %lld dropped by the kernel", drops);
	if (rc < 0 || buf_append(&line, "", 1) < 0)
		oom();
	/* The timeline ends with it; machine-readable outputs keep stdout clean. */
	if (t->mode == OUT_TIMELINE) {
		out_put(t, "\n");
		closing_line(t, buf_begin(&line));
		out_write(t, true);
	} else if (t->mode != OUT_MERMAID) {
		fprintf(stderr, "%s\n", buf_begin(&line));
	}
	buf_free(&line);
	if (fflush(t->out) != 0)
		fatal("write: output failed");
}

void output_free(struct trace *t)
{
	while (t->qlen > 0) {
		free(t->q[t->qhead].frame_data);
		free(t->q[t->qhead].head);
		t->qhead = (t->qhead + 1) % t->qcap;
		t->qlen--;
	}
	free(t->q);
	t->q = NULL;
	mermaid_free(t);
	buf_free(&t->line);
	summary_free(t);
	html_free(t);
}
