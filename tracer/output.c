/*
 * output.c - the queue of labelled packets and the printers (see output.h).
 * Every printer sees the packets in capture order, each with its request,
 * and prints the step-3 line ("the proxy decides") between a request's
 * last step-2 packet and its first step-4 or step-5 packet.
 */
#include "output.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "events.h"
#include "log.h"
#include "pcapng.h"

#define HOLD_NS     1000000000ull   /* the longest a packet waits for its request */
#define HOLD_MAX    100000          /* the most packets waiting                   */

/* ---- the queue ----------------------------------------------------------- */

struct rec *output_rec(struct trace *t)
{
	if (t->qlen == t->qcap) {
		size_t cap = t->qcap ? t->qcap * 2 : 256;
		struct rec *q = malloc(cap * sizeof(*q));
		if (q == NULL)
			oom();
		for (size_t i = 0; i < t->qlen; i++)
			q[i] = t->q[(t->qhead + i) % t->qcap];
		free(t->q);
		t->q = q;
		t->qcap = cap;
		t->qhead = 0;
	}
	struct rec *r = &t->q[(t->qhead + t->qlen++) % t->qcap];
	memset(r, 0, sizeof(*r));
	return r;
}

/* True when the request of r is known (see output.h). */
static bool rec_ready(const struct rec *r)
{
	const struct conn *c = r->conn;
	if (c == NULL)
		return true;
	if (r->idx < c->nreqs) {
		const struct request *q = c->reqs[r->idx];
		return q == NULL || c->kind == CONN_BACKEND || q->settled;
	}
	/* No request yet: one may still come, unless the connection is over or
	 * its requests cannot be parsed. */
	return c->done || c->h[UP].http_dead;
}

static struct request *rec_request(const struct rec *r)
{
	const struct conn *c = r->conn;
	if (c == NULL)
		return NULL;
	if (r->idx < c->nreqs)
		return c->reqs[r->idx];
	if ((c->done || c->h[UP].http_dead) && c->nreqs > 0)
		return c->reqs[c->nreqs - 1];
	return NULL;
}

/* ---- names and small formatting ------------------------------------------ */

static const char *end_name(const struct conn *c, int side)
{
	if (c->kind == CONN_CLIENT)
		return side == UP ? "client" : "proxy";
	return side == UP ? "proxy" : c->be->name;
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

static void put(struct trace *t, const char *s) { if (buf_puts(&t->line, s) < 0) oom(); }
static void putn(struct trace *t, const char *s, size_t n) { if (buf_append(&t->line, s, n) < 0) oom(); }

/* Writes what was put, now (force) or once 64 KiB have gathered.  Live
 * with -l, output_flush() after each batch of packets does the rest. */
static void write_out(struct trace *t, bool force)
{
	if (!force && buf_len(&t->line) < 65536)
		return;
	if (buf_len(&t->line) && fwrite(buf_begin(&t->line), 1, buf_len(&t->line), t->out) != buf_len(&t->line))
		fatal("write: output failed");
	buf_clear(&t->line);
	if (force)
		fflush(t->out);
}

void output_flush(struct trace *t)
{
	if (t->line_buffered && buf_len(&t->line))
		write_out(t, true);
}

static void flush_line(struct trace *t)
{
	write_out(t, true);
}

static uint64_t rel(const struct trace *t, uint64_t ts)
{
	return ts >= t->first_ts ? ts - t->first_ts : 0;
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

/* ---- colors -------------------------------------------------------------- */

static const char *step_color(int step)
{
	switch (step) {
	case 1: case 4: return "\033[36m";   /* handshakes: cyan   */
	case 2: case 5: return "\033[32m";   /* requests: green    */
	case 3: return "\033[1;33m";         /* the decision       */
	case 6: case 7: return "\033[33m";   /* responses: yellow  */
	default: return "";
	}
}
#define C_DIM   "\033[2m"
#define C_BOLD  "\033[1m"
#define C_RED   "\033[31m"
#define C_OFF   "\033[0m"

static void color(struct trace *t, const char *c)
{
	if (t->color)
		put(t, c);
}

/* Pads with spaces to width columns, counting UTF-8 characters; at least
 * one space follows a text as wide as the column or wider. */
static void pad(struct trace *t, const char *s, size_t width)
{
	size_t cols = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			cols++;
	put(t, s);
	if (cols >= width && cols > 0)
		putn(t, " ", 1);
	for (; cols < width; cols++)
		putn(t, " ", 1);
}

/* ---- the step-3 line ----------------------------------------------------- */

/* The decision as the proxy's events tell it, if they do. */
static const struct decision *decision_of(struct trace *t, const struct request *q)
{
	if (t->events == NULL || q == NULL || q->id == NULL)
		return NULL;
	return events_decision(t->events, q->id);
}

/* How backend connection c was tied to request q: a connection that
 * carried no request (refused) was tied by order, unless the proxy's
 * events say it decided on that very server for that request. */
static const char *conn_how(struct trace *t, const struct conn *c, const struct request *q)
{
	if (c->kind != CONN_BACKEND || q == NULL)
		return NULL;
	if (!c->guess_only)
		return corr_name(q->how);
	const struct decision *d = decision_of(t, q);
	if (d && d->server && (strcmp(d->server, c->be->addr) == 0 || strcmp(d->server, c->be->name) == 0))
		return "events";
	return "order";
}

static bool inferred(struct trace *t, const struct conn *c, const struct request *q)
{
	const char *how = conn_how(t, c, q);
	return how && strcmp(how, "order") == 0;
}

static void timeline_decide(struct trace *t, const struct rec *r, struct request *q)
{
	const struct decision *d = decision_of(t, q);
	char elapsed[48];
	snprintf(elapsed, sizeof(elapsed), "+%.3f ms", q->o_decide_ms);
	put(t, "               ");
	color(t, step_color(3));
	put(t, "3");
	color(t, C_OFF);
	put(t, "  ");
	pad(t, "proxy decides", 18);
	pad(t, elapsed, 14);
	put(t, "\xe2\x86\x92 ");
	put(t, r->conn->be->name);
	if (d && (d->algorithm || d->pool)) {
		put(t, " (");
		put(t, d->algorithm ? d->algorithm : "");
		put(t, d->algorithm && d->pool ? ", " : "");
		if (d->pool) {
			put(t, "pool ");
			put(t, d->pool);
		}
		put(t, ")");
	}
	if (d && d->reason) {
		/* "roundrobin: next in turn" after "(roundrobin)" says it twice. */
		const char *why = d->reason;
		size_t alen = d->algorithm ? strlen(d->algorithm) : 0;
		if (alen && strncmp(why, d->algorithm, alen) == 0 && why[alen] == ':')
			why += alen + 1 + (why[alen + 1] == ' ');
		put(t, ": ");
		put(t, why);
	}
	if (inferred(t, r->conn, q)) {
		color(t, C_DIM);
		put(t, "  (inferred from order and timing)");
		color(t, C_OFF);
	}
	put(t, "\n");
}

/* ---- the timeline -------------------------------------------------------- */

static const char *note_for(const struct rec *r, const struct request *q, char *buf, size_t size)
{
	const struct conn *c = r->conn;
	if (r->close) {
		snprintf(buf, size, "%s %s", end_name(c, r->dir), r->reset ? "resets the connection" :
		         (c->closer == r->dir && (r->flags & TH_FIN)) ? "closes" : "closes too");
		if ((r->flags & (TH_FIN | TH_RST)) == 0)
			return NULL;
		return buf;
	}
	if (q && (q->o_seen_steps & (1u << r->step)))
		return NULL;
	switch (r->step) {
	case 1: return "TCP handshake: the client connects to the proxy";
	case 2: return "the request arrives: headers, then any body";
	case 4: snprintf(buf, size, "the proxy opens its own connection to %s", c->be->name); return buf;
	case 5: return r->reuse ? "the proxy forwards the request on a kept-alive connection" : "the proxy forwards the request";
	case 6: snprintf(buf, size, "%s answers; the proxy reads the response", c->be->name); return buf;
	case 7: return "the proxy returns the response";
	default: return NULL;
	}
}

static void timeline_header(struct trace *t, const struct request *q)
{
	put(t, "\n");
	color(t, C_BOLD);
	if (q == NULL) {
		put(t, "outside any request");
		color(t, C_OFF);
		put(t, "\n");
		return;
	}
	char num[32];
	snprintf(num, sizeof(num), "request %u", q->num);
	put(t, num);
	color(t, C_OFF);
	if (q->o_seen_steps) {
		put(t, " (continued)\n");
		return;
	}
	if (q->method) {
		put(t, "  ");
		put(t, q->method);
		put(t, " ");
		put(t, q->target);
	}
	put(t, "  \xc2\xb7 client ");
	put(t, q->cc->peer);
	if (q->id) {
		put(t, " \xc2\xb7 X-Request-ID ");
		put(t, q->id);
	}
	put(t, "\n");
}

static void timeline_rec(struct trace *t, const struct rec *r, struct request *q, bool decide_first)
{
	const struct conn *c = r->conn;
	if (q != t->last_printed_req || (q == NULL && !t->last_printed_none)) {
		timeline_header(t, q);
		t->last_printed_req = q;
		t->last_printed_none = q == NULL;
	}
	if (decide_first)
		timeline_decide(t, r, q);

	char tmp[96], arrow[160], flags[32], note[128];
	snprintf(tmp, sizeof(tmp), "%10.3f ms  ", ms(rel(t, r->ts_ns)));
	put(t, tmp);
	color(t, step_color(r->step));
	snprintf(tmp, sizeof(tmp), "%u", r->step);
	put(t, tmp);
	color(t, C_OFF);
	put(t, "  ");
	snprintf(arrow, sizeof(arrow), "%-6s \xe2\x86\x92 %s", end_name(c, r->dir), end_name(c, !r->dir));
	pad(t, arrow, 18);
	flags_str(r->flags, flags);
	pad(t, flags, 9);
	if (r->len) {
		snprintf(tmp, sizeof(tmp), "%u B", r->len);
		pad(t, tmp, 8);
	} else {
		put(t, "        ");
	}
	if (r->summary[0]) {
		put(t, r->summary);
		if (r->msg_start && c->kind == CONN_BACKEND && r->dir == UP && q && q->diff &&
		    q->be == c->be) {
			put(t, "  ");
			put(t, q->diff);
		}
	}
	if (r->retrans || r->ooo || r->reuse) {
		color(t, C_RED);
		if (r->retrans)
			put(t, "  [retransmission]");
		if (r->ooo)
			put(t, "  [out of order]");
		color(t, C_OFF);
		if (r->reuse)
			put(t, "  [reuse]");
	}
	const char *n = note_for(r, q, note, sizeof(note));
	if (r->close) {
		color(t, r->reset ? C_RED : "");
		put(t, r->reset ? "  [close, reset]" : "  [close]");
		color(t, C_OFF);
	}
	if (n) {
		color(t, C_DIM);
		put(t, "  ");
		put(t, n);
		color(t, C_OFF);
	}
	put(t, "\n");
}

/* ---- --json -------------------------------------------------------------- */

/* JSON is the hot path on big captures: each line is written straight into
 * the output buffer, reserved once. */
#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

static char *w_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(p, tmp + i, sizeof(tmp) - i);
	return p + sizeof(tmp) - i;
}

/* A JSON string's inside; needs 6 * strlen(s) bytes at most. */
static char *w_esc(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		unsigned char c = *u;
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) {
			*p++ = (char)c;   /* bytes >= 0x80: the summaries' UTF-8 ellipsis */
		} else if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else {
			p = LIT(p, "\\u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	return p;
}

static char *w_str(char *p, const char *s)
{
	*p++ = '"';
	p = w_esc(p, s);
	*p++ = '"';
	return p;
}

static char *w_strn(char *p, const char *s)
{
	return s ? w_str(p, s) : LIT(p, "null");
}

static char *w_bool(char *p, bool b)
{
	return b ? LIT(p, "true") : LIT(p, "false");
}

static void json_rec(struct trace *t, const struct rec *r, const struct request *q)
{
	const struct conn *c = r->conn;
	const char *diff = r->msg_start && c->kind == CONN_BACKEND && r->dir == UP && q && q->diff && q->be == c->be ? q->diff : NULL;
	const char *id = q ? q->id : NULL;
	const char *src = end_name(c, r->dir), *dst = end_name(c, !r->dir);
	/* How a backend packet was tied to its request; inferred = a guess. */
	const char *how = conn_how(t, c, q);
	size_t need = 512 + 6 * (strlen(r->summary) + (diff ? strlen(diff) + 2 : 0) + (id ? strlen(id) : 0) +
	                         2 * strlen(c->kind == CONN_BACKEND ? c->be->name : ""));
	if (buf_reserve(&t->line, need) < 0)
		oom();
	char *p0 = buf_begin(&t->line) + buf_len(&t->line), *p = p0;

	p = LIT(p, "{\"frame\":");
	p = w_u64(p, r->frame);
	p = LIT(p, ",\"t\":");
	uint64_t ns = rel(t, r->ts_ns);
	p = w_u64(p, ns / 1000000000u);
	*p++ = '.';
	uint64_t f = ns % 1000000000u;
	for (int i = 8; i >= 0; i--) {
		p[i] = (char)('0' + f % 10);
		f /= 10;
	}
	p += 9;
	p = LIT(p, ",\"step\":");
	*p++ = (char)('0' + r->step);
	p = LIT(p, ",\"src\":");
	p = w_str(p, src);
	p = LIT(p, ",\"dst\":");
	p = w_str(p, dst);
	p = LIT(p, ",\"flags\":");
	p = w_str(p, flag_names[r->flags]);
	p = LIT(p, ",\"seq\":");
	p = w_u64(p, r->seq);
	p = LIT(p, ",\"ack\":");
	p = w_u64(p, r->ack);
	p = LIT(p, ",\"len\":");
	p = w_u64(p, r->len);
	p = LIT(p, ",\"summary\":");
	*p++ = '"';
	p = w_esc(p, r->summary);
	if (diff) {
		/* "GET / HTTP/1.1  +X-Request-ID": what the proxy changed */
		p = LIT(p, "  ");
		p = w_esc(p, diff);
	}
	*p++ = '"';
	p = LIT(p, ",\"request\":");
	p = q ? w_u64(p, q->num) : LIT(p, "null");
	p = LIT(p, ",\"request_id\":");
	p = w_strn(p, id);
	p = LIT(p, ",\"conn\":");
	p = w_u64(p, c->num);
	p = LIT(p, ",\"close\":");
	p = w_bool(p, r->close);
	p = LIT(p, ",\"close_by\":");
	p = w_strn(p, r->close && c->closer >= 0 ? end_name(c, c->closer) : NULL);
	p = LIT(p, ",\"reset\":");
	p = w_bool(p, r->reset);
	p = LIT(p, ",\"reuse\":");
	p = w_bool(p, r->reuse);
	p = LIT(p, ",\"retransmission\":");
	p = w_bool(p, r->retrans);
	p = LIT(p, ",\"out_of_order\":");
	p = w_bool(p, r->ooo);
	p = LIT(p, ",\"correlation\":");
	p = w_strn(p, how);
	p = LIT(p, ",\"inferred\":");
	p = w_bool(p, how && strcmp(how, "order") == 0);
	p = LIT(p, "}\n");
	t->line.len += (size_t)(p - p0);
}

/* ---- --mermaid ------------------------------------------------------------ */

/* Mermaid message text: no ';' or '#' (they end or escape a statement). */
static void mm_text(struct buf *b, const char *s)
{
	for (; *s; s++) {
		char ch = *s == ';' ? ',' : *s == '#' ? '.' : *s;
		if (buf_append(b, &ch, 1) < 0)
			oom();
	}
}

static void mm_line(struct trace *t, const char *from, const char *arrow, const char *to, const char *text)
{
	if (buf_printf(&t->mermaid, "  %s%s%s: ", from, arrow, to) < 0)
		oom();
	mm_text(&t->mermaid, text);
	if (buf_append(&t->mermaid, "\n", 1) < 0)
		oom();
}

static void mermaid_rec(struct trace *t, const struct rec *r, struct request *q, bool decide_first)
{
	const struct conn *c = r->conn;
	char cl[32], be[32], text[256];
	if (q == NULL)
		return;
	snprintf(cl, sizeof(cl), "C%u", q->cc->num);
	if (c->kind == CONN_BACKEND) {
		size_t i;
		for (i = 0; i < t->nbes && t->bes[i] != c->be; i++)
			;
		snprintf(be, sizeof(be), "B%zu", i + 1);
	}
	if (decide_first) {
		const struct decision *d = decision_of(t, q);
		snprintf(text, sizeof(text), "3 %s%s\xe2\x86\x92 %s%s", d && d->algorithm ? d->algorithm : "",
		         d && d->algorithm ? " " : "", c->be->name,
		         inferred(t, c, q) ? " (inferred)" : "");
		if (buf_puts(&t->mermaid, "  Note over P: ") < 0)
			oom();
		mm_text(&t->mermaid, text);
		if (buf_append(&t->mermaid, "\n", 1) < 0)
			oom();
	}
	const char *from = c->kind == CONN_CLIENT ? (r->dir == UP ? cl : "P") : (r->dir == UP ? "P" : be);
	const char *to = c->kind == CONN_CLIENT ? (r->dir == UP ? "P" : cl) : (r->dir == UP ? be : "P");
	if ((r->flags & (TH_FIN | TH_RST)) && !(q->o_seen_steps & (1u << (c->kind == CONN_CLIENT ? 10 + r->dir : 12 + r->dir)))) {
		q->o_seen_steps |= 1u << (c->kind == CONN_CLIENT ? 10 + r->dir : 12 + r->dir);
		snprintf(text, sizeof(text), "%u %s (%s %s)", r->step, r->flags & TH_RST ? "RST" : "FIN",
		         end_name(c, r->dir), r->flags & TH_RST ? "resets" : "closes");
		mm_line(t, from, r->dir == UP ? "->>" : "-->>", to, text);
		return;
	}
	if (q->o_seen_steps & (1u << r->step))
		return;
	switch (r->step) {
	case 1: case 4:
		if (!(r->flags & TH_SYN) || (r->flags & TH_ACK))
			return;   /* one line for the handshake, at its SYN */
		snprintf(text, sizeof(text), "%u TCP handshake (SYN, SYN-ACK, ACK)", r->step);
		break;
	case 2: case 5:
		if (r->len == 0)
			return;
		snprintf(text, sizeof(text), "%u %s %s%s%s%s", r->step, q->method ? q->method : "",
		         q->target ? q->target : r->summary,
		         r->step == 5 && q->diff && q->be == c->be ? " " : "",
		         r->step == 5 && q->diff && q->be == c->be ? q->diff : "",
		         r->reuse ? " (reused connection)" : "");
		break;
	case 6: case 7:
		if (r->len == 0)
			return;
		snprintf(text, sizeof(text), "%u %s", r->step,
		         strncmp(r->summary, "HTTP/", 5) == 0 && strchr(r->summary, ' ') ? strchr(r->summary, ' ') + 1 : r->summary);
		break;
	default:
		return;
	}
	mm_line(t, from, r->dir == UP ? "->>" : "-->>", to, text);
}

/* ---- -w: the packets with their labels as comments ----------------------- */

static void pcapng_rec(struct trace *t, const struct rec *r, const struct request *q)
{
	char comment[512];
	if (r->conn == NULL) {
		comment[0] = '\0';
	} else {
		const struct conn *c = r->conn;
		char req[64] = "";
		if (q)
			snprintf(req, sizeof(req), " \xc2\xb7 request %u", q->num);
		snprintf(comment, sizeof(comment), "step %u %s \xe2\x86\x92 %s%s%s%s%s%s%s%s", r->step,
		         end_name(c, r->dir), end_name(c, !r->dir), req,
		         r->summary[0] ? " \xc2\xb7 " : "", r->summary,
		         r->close ? " \xc2\xb7 close" : "", r->reset ? " (reset)" : "",
		         r->reuse ? " \xc2\xb7 reuse" : "", r->retrans ? " \xc2\xb7 retransmission" : "");
	}
	if (pcapng_write(t->pcapng, r->ts_ns, r->frame_data, r->frame_len, r->wire_len, comment) < 0)
		fatal("%s", pcapng_error(t->pcapng));
}

/* ---- one record ---------------------------------------------------------- */

static void step_pause(struct trace *t, const struct rec *r, struct request *q)
{
	if (!t->step_mode || r->conn == NULL)
		return;
	if (t->last_step != 0 && (r->step != t->last_step || q != t->last_step_req)) {
		flush_line(t);
		fflush(t->out);
		fprintf(stderr, "-- step %u done; Enter for step %u --", t->last_step, r->step);
		fflush(stderr);
		char line[256];
		if (fgets(line, sizeof(line), t->step_in) == NULL)
			t->step_mode = false;   /* no more input: run to the end */
		fputc('\n', stderr);
	}
	t->last_step = r->step;
	t->last_step_req = q;
}

static void emit(struct trace *t, struct rec *r)
{
	struct request *q = rec_request(r);
	bool decide_first = false;

	if (r->conn && q) {
		/* Per-request times, as the packets go by. */
		uint64_t ts = r->ts_ns;
		if (!q->o_first)
			q->o_first = ts;
		bool data = r->len > 0 && !r->retrans;
		switch (r->step) {
		case 2:
			if (data) {
				if (!q->o_first2)
					q->o_first2 = ts;
				if (!q->o_decided)
					q->o_last2 = ts;
			}
			break;
		case 4: case 5:
			if (!q->o_decided) {
				decide_first = true;
				q->o_decided = true;
				q->o_decide = ts;
				/* From the request's last step-2 packet, or from the packet
				 * that completed its head (a pipelined request has no
				 * packet of its own). */
				uint64_t from = q->o_last2 > q->t_head ? q->o_last2 : q->t_head;
				q->o_decide_ms = from && ts > from ? ms(ts - from) : 0;
			}
			if (r->step == 4 && !r->conn->guess_only && (r->conn->be == q->be)) {
				if (!q->o_first4)
					q->o_first4 = ts;
				q->o_last4 = ts;
			}
			if (r->step == 5 && data && !q->o_first5 && r->conn->be == q->be)
				q->o_first5 = ts;
			break;
		case 6:
			if (data)
				q->o_last6 = ts;
			break;
		case 7:
			if (data) {
				if (!q->o_first7)
					q->o_first7 = ts;
				q->o_last7 = ts;
			}
			break;
		default:
			break;
		}
	}

	if (r->conn) {
		switch (t->mode) {
		case OUT_TIMELINE:
			step_pause(t, r, q);
			timeline_rec(t, r, q, decide_first);
			break;
		case OUT_JSON:
			json_rec(t, r, q);
			break;
		case OUT_MERMAID:
			mermaid_rec(t, r, q, decide_first);
			break;
		case OUT_SUMMARY:
			break;
		}
		if (q)
			q->o_seen_steps |= 1u << r->step | (decide_first ? 1u << 3 : 0);
		write_out(t, false);
	}
	if (t->pcapng)
		pcapng_rec(t, r, q);
}

void output_pump(struct trace *t, bool final)
{
	while (t->qlen > 0) {
		struct rec *r = &t->q[t->qhead];
		if (!final && !rec_ready(r)) {
			bool old = t->last_ts > r->ts_ns + HOLD_NS ||
			           (r->arrival_ns && t->now_wall_ns > r->arrival_ns + HOLD_NS);
			if (!old && t->qlen < HOLD_MAX)
				break;
			r->forced = true;
		}
		emit(t, r);
		if (r->conn)
			r->conn->refs--;
		free(r->frame_data);
		t->qhead = (t->qhead + 1) % t->qcap;
		t->qlen--;
	}
	if (final)
		write_out(t, true);
}

/* ---- the beginning and the end ------------------------------------------- */

static void role_str(const struct role_addr *r, char out[ADDR_STRLEN])
{
	if (r->any_ip) {
		snprintf(out, ADDR_STRLEN, "port %u", r->port);
		return;
	}
	char ip[ADDR_STRLEN];
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
	addr_format(&a, ip);
	snprintf(out, ADDR_STRLEN, "%s", ip);
}

void output_begin(struct trace *t)
{
	for (int f = 0; f < 256; f++)
		flags_str((uint8_t)f, flag_names[f]);
	if (t->mode != OUT_TIMELINE)
		return;
	char a[ADDR_STRLEN];
	color(t, C_BOLD);
	put(t, "l7lab tracer");
	color(t, C_OFF);
	put(t, " \xc2\xb7 ");
	put(t, t->source);
	put(t, " \xc2\xb7 proxy ");
	role_str(&t->proxy, a);
	put(t, a);
	put(t, " \xc2\xb7 backends ");
	for (size_t i = 0; i < t->nbcfg; i++) {
		role_str(&t->bcfg[i], a);
		if (i)
			put(t, ", ");
		if (!t->bcfg[i].any_ip) {
			char n[32];
			snprintf(n, sizeof(n), "b%zu ", i + 1);
			put(t, n);
		}
		put(t, a);
	}
	put(t, "\n");
	flush_line(t);
}

static void summary_cell(struct trace *t, uint64_t from, uint64_t to, bool ok)
{
	char tmp[32];
	if (ok && from && to && to >= from)
		snprintf(tmp, sizeof(tmp), "%.3f ms", ms(to - from));
	else
		snprintf(tmp, sizeof(tmp), "-");
	pad(t, tmp, 12);
}

static void summary_table(struct trace *t)
{
	put(t, "req   method  path                    server  conn    status  2 request   3 decide    4 connect   5-6 backend 7 return    total       correlation\n");
	for (size_t i = 0; i < t->nreqs; i++) {
		struct request *q = t->reqs[i];
		char tmp[64], path[32];
		snprintf(tmp, sizeof(tmp), "%u", q->num);
		pad(t, tmp, 6);
		pad(t, q->method ? q->method : "-", 8);
		const char *target = q->target ? q->target : "-";
		if (strlen(target) > 23)
			snprintf(path, sizeof(path), "%.20s\xe2\x80\xa6", target);
		else
			snprintf(path, sizeof(path), "%s", target);
		pad(t, path, 24);
		pad(t, q->be ? q->be->name : q->tried ? q->tried->name : "-", 8);
		pad(t, q->be ? (q->reused ? "reused" : "new") : "-", 8);
		snprintf(tmp, sizeof(tmp), "%d", q->status);
		pad(t, q->status ? tmp : "-", 8);
		summary_cell(t, q->o_first2, q->o_last2, true);
		snprintf(tmp, sizeof(tmp), "%.3f ms", q->o_decide_ms);
		pad(t, q->o_decided ? tmp : "-", 12);
		summary_cell(t, q->o_first4, q->o_last4, !q->reused);
		summary_cell(t, q->o_first5, q->o_last6, true);
		summary_cell(t, q->o_first7, q->o_last7, true);
		summary_cell(t, q->o_first, q->o_last7, true);
		put(t, q->be ? corr_name(q->how) : "-");
		put(t, "\n");
	}
	flush_line(t);
}

static void mermaid_print(struct trace *t)
{
	put(t, "sequenceDiagram\n");
	uint32_t nclients = 0;
	for (const struct conn *c = t->all; c; c = c->all_next)
		nclients += c->kind == CONN_CLIENT;
	/* Participants in the order the flow meets them: clients, proxy, backends. */
	struct conn **cl = xcalloc(nclients, sizeof(*cl));
	uint32_t n = 0;
	for (struct conn *c = t->all; c; c = c->all_next)
		if (c->kind == CONN_CLIENT)
			cl[n++] = c;
	for (uint32_t i = n; i-- > 0;) {
		char line[160];
		if (nclients == 1)
			snprintf(line, sizeof(line), "  participant C%u as client\n", cl[i]->num);
		else
			snprintf(line, sizeof(line), "  participant C%u as client %s\n", cl[i]->num, cl[i]->peer);
		put(t, line);
	}
	free(cl);
	put(t, "  participant P as proxy\n");
	for (size_t i = 0; i < t->nbes; i++) {
		char line[160];
		snprintf(line, sizeof(line), "  participant B%zu as %s\n", i + 1, t->bes[i]->name);
		put(t, line);
	}
	putn(t, buf_begin(&t->mermaid), buf_len(&t->mermaid));
	flush_line(t);
}

void output_end(struct trace *t, long long drops)
{
	output_pump(t, true);
	if (t->mode == OUT_SUMMARY)
		summary_table(t);
	if (t->mode == OUT_MERMAID)
		mermaid_print(t);

	char line[512];
	int n = snprintf(line, sizeof(line),
	                 "%llu packets \xc2\xb7 %zu request%s \xc2\xb7 client connections %u \xc2\xb7 "
	                 "backend connections %u opened, %llu reused \xc2\xb7 %llu retransmissions \xc2\xb7 %llu out of order",
	                 (unsigned long long)t->labelled, t->nreqs, t->nreqs == 1 ? "" : "s", t->nclient_conns, t->nbackend_conns,
	                 (unsigned long long)t->backend_reuses, (unsigned long long)t->retrans,
	                 (unsigned long long)t->ooo);
	if (drops >= 0 && n > 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, " \xc2\xb7 %lld dropped by the kernel", drops);
	/* The timeline ends with it; machine-readable outputs keep stdout clean. */
	if (t->mode == OUT_TIMELINE) {
		put(t, "\n");
		put(t, line);
		put(t, "\n");
		flush_line(t);
	} else if (t->mode == OUT_JSON || t->mode == OUT_SUMMARY) {
		fprintf(stderr, "%s\n", line);
	}
	if (fflush(t->out) != 0)
		fatal("write: output failed");
}

void output_free(struct trace *t)
{
	while (t->qlen > 0) {
		free(t->q[t->qhead].frame_data);
		t->qhead = (t->qhead + 1) % t->qcap;
		t->qlen--;
	}
	free(t->q);
	t->q = NULL;
	buf_free(&t->mermaid);
	buf_free(&t->line);
}
