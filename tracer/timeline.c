/*
 * timeline.c - the default output: packets grouped by request under a
 * heading, the step-3 line before a request's first backend packet, a note
 * on the first packet of each step, --step's pauses (one after each step,
 * step 3 included), and lines cut to a terminal's width.
 */
#include "output.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"

/* ---- lines that fit a terminal ------------------------------------------- */

/* (see output.h) */
void out_fit(struct trace *t, size_t start)
{
	if (t->width == 0)
		return;
	char *s = buf_begin(&t->line) + start;
	size_t len = buf_len(&t->line) - start, cols = 0, cut = 0;
	for (size_t i = 0; i < len && s[i] != '\n'; i++) {
		if (s[i] == '\033') {
			while (i < len && s[i] != 'm')
				i++;
			continue;
		}
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		cols++;
		if (cols == t->width)
			cut = i;   /* the last column's first byte */
		if (cols > t->width) {
			t->line.len = start + cut;
			out_put(t, "\xe2\x80\xa6");
			out_color(t, C_OFF);
			out_put(t, "\n");
			return;
		}
	}
}

/* ---- --step ------------------------------------------------------------------ */

/* Waits for Enter on the step input.  At its end, runs on; a signal (Ctrl-C,
 * SIGTERM) ends the run: nothing more is printed but the closing line. */
static void step_wait(struct trace *t, unsigned done, unsigned next)
{
	out_write(t, true);
	fprintf(stderr, "-- step %u done; Enter for step %u --", done, next);
	fflush(stderr);
	uint64_t t0 = ev_mono_ns();
	for (;;) {
		struct pollfd pfd = { .fd = t->step_fd, .events = POLLIN };
		int n = poll(&pfd, 1, -1);
		if (n < 0) {
			if (errno == EINTR) {   /* only the signals that stop us are caught */
				if (t->stop)
					*t->stop = true;
				t->discard = true;
				break;
			}
			t->step_mode = false;
			break;
		}
		char ch;
		ssize_t r = read(t->step_fd, &ch, 1);
		if (r == 1 && ch != '\n')
			continue;
		if (r <= 0 && !(r < 0 && errno == EINTR))
			t->step_mode = false;   /* no more input: run to the end */
		if (r < 0 && errno == EINTR) {
			if (t->stop)
				*t->stop = true;
			t->discard = true;
		}
		break;
	}
	fputc('\n', stderr);
	fflush(stderr);
	t->paused_ns += ev_mono_ns() - t0;
}

/* Pauses before a packet of another step (or request) than the last one. */
static void step_pause(struct trace *t, uint8_t step, const struct request *q)
{
	if (!t->step_mode || t->discard)
		return;
	if (t->last_step != 0 && (step != t->last_step || q != t->last_step_req))
		step_wait(t, t->last_step, step);
	t->last_step = step;
	t->last_step_req = (struct request *)q;
}

/* ---- the step-3 line ----------------------------------------------------- */

static void decide_line(struct trace *t, const struct view *v)
{
	const struct request *q = v->q;
	const struct decision *d = out_decision(t, q);
	char elapsed[48];
	size_t start = buf_len(&t->line);
	snprintf(elapsed, sizeof(elapsed), "+%.3f ms", v->decide_ms);
	out_put(t, "               ");
	out_color(t, out_step_color(3));
	out_put(t, "3");
	out_color(t, C_OFF);
	out_put(t, "  ");
	out_pad(t, t->proxy_name[0] ? t->proxy_name : "proxy", 6);
	out_pad(t, "decides", 11);
	out_pad(t, elapsed, 14);
	out_put(t, "\xe2\x86\x92 ");
	if (v->x == NULL) {
		char s[64];
		snprintf(s, sizeof(s), "no server: answers %d itself", q->status);
		out_put(t, s);
		out_put(t, "\n");
		out_fit(t, start);
		return;
	}
	out_put(t, v->c->be->name);
	if (v->retry) {
		char s[48];
		snprintf(s, sizeof(s), " again (try %u)", v->x->attempt);
		out_put(t, s);
	}
	if (d && (d->algorithm || d->pool) && !v->retry) {
		out_put(t, " (");
		out_put(t, d->algorithm ? d->algorithm : "");
		out_put(t, d->algorithm && d->pool ? ", " : "");
		if (d->pool) {
			out_put(t, "pool ");
			out_put(t, d->pool);
		}
		out_put(t, ")");
	}
	if (d && d->reason && !v->retry) {
		/* "roundrobin: next in turn" after "(roundrobin)" says it twice. */
		const char *why = d->reason;
		size_t alen = d->algorithm ? strlen(d->algorithm) : 0;
		if (alen && strncmp(why, d->algorithm, alen) == 0 && why[alen] == ':')
			why += alen + 1 + (why[alen + 1] == ' ');
		out_put(t, ": ");
		out_put(t, why);
	}
	if (v->inferred) {
		out_color(t, C_DIM);
		out_put(t, "  (inferred from order and timing)");
		out_color(t, C_OFF);
	}
	out_put(t, "\n");
	out_fit(t, start);
}

/* ---- one packet ---------------------------------------------------------- */

/* A line written straight into the output buffer, reserved beforehand. */
struct lw {
	char *p;
};

static void lw_s(struct lw *w, const char *s)
{
	size_t n = strlen(s);
	memcpy(w->p, s, n);
	w->p += n;
}

static void lw_spaces(struct lw *w, size_t n)
{
	memset(w->p, ' ', n);
	w->p += n;
}

/* s, then spaces to width columns; returns the columns written (UTF-8
 * characters), at least width. */
static size_t lw_pad(struct lw *w, const char *s, size_t width)
{
	size_t cols = 0;
	for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
		*w->p++ = (char)*u;
		cols += (*u & 0xc0) != 0x80;
	}
	if (cols < width) {
		lw_spaces(w, width - cols);
		cols = width;
	}
	return cols;
}

/* Milliseconds with three decimals, right-aligned in ten columns, as
 * printf's "%10.3f" (rounded to the microsecond). */
static void lw_ms(struct lw *w, uint64_t ns)
{
	char tmp[32];
	char *e = tmp + sizeof(tmp), *d = e;
	uint64_t us = (ns + 500) / 1000, ms = us / 1000;
	unsigned frac = (unsigned)(us % 1000);
	for (int i = 0; i < 3; i++, frac /= 10)
		*--d = (char)('0' + frac % 10);
	*--d = '.';
	do {
		*--d = (char)('0' + ms % 10);
		ms /= 10;
	} while (ms);
	size_t n = (size_t)(e - d);
	if (n < 10)
		lw_spaces(w, 10 - n);
	memcpy(w->p, d, n);
	w->p += n;
}

/* The note on the first packet of a step (and on every close). */
static const char *note_for(struct trace *t, const struct view *v, char *buf, size_t size)
{
	const struct rec *r = v->r;
	const struct conn *c = v->c;
	const char *be = c->kind == CONN_BACKEND ? c->be->name : "";
	if (v->kind == KIND_REFUSED) {
		if (r->dir == DOWN && (r->flags & (TH_FIN | TH_RST)) && c->closer == DOWN)
			return "the proxy refuses the connection (step 1: an allow/deny list, a limit)";
		return (r->flags & (TH_FIN | TH_RST)) ? "the refused connection closes" : NULL;
	}
	if (r->close) {
		if ((r->flags & (TH_FIN | TH_RST)) == 0)
			return NULL;
		if (r->reset && c->kind == CONN_BACKEND && r->dir == DOWN && v->x && v->x->failed)
			snprintf(buf, size, "%s resets the connection: the attempt failed", be);
		else
			snprintf(buf, size, "%s %s", v->src, r->reset ? "resets the connection" :
			         (c->closer == r->dir && (r->flags & TH_FIN)) ? "closes" : "closes too");
		return buf;
	}
	if (v->kind == KIND_INTERIM)
		return "an interim response: the final one follows";
	/* Once per step of a request (of an attempt, on a backend connection). */
	if (c->kind == CONN_BACKEND && v->x) {
		if (v->x->o_noted & (1u << r->step))
			return NULL;
		v->x->o_noted |= (uint8_t)(1u << r->step);
	} else if (v->q && (v->q->o_seen_steps & (1u << r->step))) {
		return NULL;
	} else if (v->q == NULL && !((r->flags & TH_SYN) && !(r->flags & TH_ACK))) {
		return NULL;   /* no request to say it once for: on the SYN only */
	}
	(void)t;
	if (v->kind == KIND_HEALTH) {
		switch (r->step) {
		case 4: snprintf(buf, size, "the proxy connects to %s for a health check", be); return buf;
		case 5: return "a health check: the proxy's own request, no client sent it";
		case 6: snprintf(buf, size, "%s answers the health check", be); return buf;
		default: return NULL;
		}
	}
	switch (r->step) {
	case 1: return "TCP handshake: the client connects to the proxy";
	case 2: return "the request arrives: headers, then any body";
	case 4:
		snprintf(buf, size, v->retry ? "the proxy tries again: its own connection to %s" :
		         "the proxy opens its own connection to %s", be);
		return buf;
	case 5:
		if (v->retry)
			return "the proxy forwards the request again (a retry)";
		return v->reuse ? "the proxy forwards the request on a kept-alive connection" : "the proxy forwards the request";
	case 6: snprintf(buf, size, "%s answers; the proxy reads the response", be); return buf;
	case 7:
		if (v->kind == KIND_PROXY_RESPONSE)
			return "the proxy answers by itself: no backend response behind it";
		return "the proxy returns the response";
	default: return NULL;
	}
}

static void heading(struct trace *t, const struct view *v)
{
	const struct request *q = v->q;
	/* 1 a request, 2 outside any, 3 health checks, 4 a client connection with no request */
	int group = q ? 1 : v->kind == KIND_HEALTH ? 3 : v->c->kind == CONN_CLIENT ? 4 : 2;
	if (group == t->last_printed_group && (group != 1 || q == t->last_printed_req) &&
	    (group != 4 || v->c == t->last_printed_conn))
		return;
	t->last_printed_group = group;
	t->last_printed_req = (struct request *)q;
	t->last_printed_conn = v->c;
	size_t start = buf_len(&t->line);
	out_put(t, "\n");
	start++;
	out_color(t, C_BOLD);
	if (group == 3) {
		out_put(t, "health check");
		out_color(t, C_OFF);
		out_put(t, "  the proxy's own request, no client request behind it\n");
		out_fit(t, start);
		return;
	}
	if (group == 4) {
		out_put(t, "client ");
		out_put(t, v->c->addr[UP]);
		out_color(t, C_OFF);
		out_put(t, v->c->refused ? "  \xc2\xb7 no request: refused at step 1\n" : "  \xc2\xb7 no request\n");
		out_fit(t, start);
		return;
	}
	if (q == NULL) {
		out_put(t, "outside any request");
		out_color(t, C_OFF);
		out_put(t, "\n");
		return;
	}
	char num[32];
	snprintf(num, sizeof(num), "request %u", q->num);
	out_put(t, num);
	out_color(t, C_OFF);
	if (q->o_seen_steps) {
		out_put(t, " (continued)\n");
		return;
	}
	if (q->method) {
		out_put(t, "  ");
		out_put(t, q->method);
		out_put(t, " ");
		out_put(t, q->target);
	}
	out_put(t, "  \xc2\xb7 client ");
	out_put(t, q->client);
	if (q->id) {
		out_put(t, " \xc2\xb7 X-Request-ID ");
		out_put(t, q->id);
	}
	out_put(t, "\n");
	out_fit(t, start);
}

void timeline_rec(struct trace *t, const struct view *v)
{
	const struct rec *r = v->r;
	if (t->discard)
		return;
	heading(t, v);
	if (v->decide_first) {
		step_pause(t, 3, v->q);
		if (t->discard)
			return;
		decide_line(t, v);
	}
	step_pause(t, r->step, v->q);
	if (t->discard)
		return;

	/* The hot path with -l at full load: one reservation, then plain
	 * copies (printf's float formatting cost more than the rest). */
	char note[160];
	const char *n = note_for(t, v, note, sizeof(note));
	const char *diff = r->summary[0] && v->diff && v->q && v->q->be == v->c->be ? v->diff : NULL;
	size_t start = buf_len(&t->line);
	if (buf_reserve(&t->line, 512 + strlen(r->summary) + (diff ? strlen(diff) : 0) + (n ? strlen(n) : 0) +
	                          strlen(v->src) + strlen(v->dst)) < 0)
		oom();
	struct lw w = { buf_begin(&t->line) + buf_len(&t->line) };
	lw_ms(&w, out_rel(t, r->ts_ns));
	lw_s(&w, " ms  ");
	if (t->color)
		lw_s(&w, out_step_color(r->step));
	*w.p++ = (char)('0' + r->step);
	if (t->color)
		lw_s(&w, C_OFF);
	lw_s(&w, "  ");
	size_t cols = lw_pad(&w, v->src, 6);
	lw_s(&w, " \xe2\x86\x92 ");
	cols += 3 + lw_pad(&w, v->dst, 0);
	lw_spaces(&w, cols < 18 ? 18 - cols : 1);
	cols = lw_pad(&w, out_flags(r->flags), 0);
	lw_spaces(&w, cols < 9 ? 9 - cols : 1);
	if (r->len) {
		char num[16];
		char *e = num + sizeof(num), *d = e;
		uint32_t len = r->len;
		do {
			*--d = (char)('0' + len % 10);
			len /= 10;
		} while (len);
		memcpy(w.p, d, (size_t)(e - d));
		w.p += e - d;
		lw_s(&w, " B");
		lw_spaces(&w, (size_t)(e - d) + 2 < 8 ? 8 - ((size_t)(e - d) + 2) : 1);
	} else {
		lw_spaces(&w, 8);
	}
	lw_s(&w, r->summary);
	if (diff) {
		lw_s(&w, "  ");
		lw_s(&w, diff);
	}
	if (r->retrans || r->ooo) {
		if (t->color)
			lw_s(&w, C_RED);
		if (r->retrans)
			lw_s(&w, "  [retransmission]");
		if (r->ooo)
			lw_s(&w, "  [out of order]");
		if (t->color)
			lw_s(&w, C_OFF);
	}
	if (v->reuse)
		lw_s(&w, "  [reuse]");
	if (v->retry && (r->step == 4 || r->step == 5) && !r->close)
		lw_s(&w, "  [retry]");
	if (r->close) {
		if (r->reset && t->color)
			lw_s(&w, C_RED);
		lw_s(&w, r->reset ? "  [close, reset]" : "  [close]");
		if (r->reset && t->color)
			lw_s(&w, C_OFF);
	}
	if (n) {
		if (t->color)
			lw_s(&w, C_DIM);
		lw_s(&w, "  ");
		lw_s(&w, n);
		if (t->color)
			lw_s(&w, C_OFF);
	}
	char *line = buf_begin(&t->line) + start;
	while (w.p > line && w.p[-1] == ' ')
		w.p--;   /* no padding after the last column */
	*w.p++ = '\n';
	t->line.len += (size_t)(w.p - line);
	out_fit(t, start);
}

void timeline_end(struct trace *t)
{
	(void)t;
}
