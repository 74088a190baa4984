/*
 * summary.c - --summary: one row per request with the time it spent in
 * each step, then the mean, p50 and p99 of each column across requests.
 *
 * The columns add up to the total.  They cut the request's life at its
 * packets, in this order: the client's SYN (or its first request byte on a
 * kept-alive connection), the handshake's ACK (1 connect), the last request
 * byte (2 request), the first packet to a backend (3 decide), the backend
 * handshake's ACK (4 connect, new connections only), the backend
 * response's last byte (5-6 backend), the first byte returned (proxy: the
 * proxy's own time between the backend's response and its reply), the
 * last byte returned (7 return).  Where steps overlap (a response returned
 * while it still arrives) the time goes to the earlier step.
 *
 * Rows are printed as requests finish, in request order (a finished
 * request waits for those before it, up to ROW_HOLD rows), and the
 * column statistics are histograms (lib/hist), so memory stays flat.
 */
#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "hist.h"

#define ROW_HOLD 1024

enum { COL_1, COL_2, COL_3, COL_4, COL_56, COL_PROXY, COL_7, COL_TOTAL, NCOL };

struct row {
	uint32_t num;
	char *text;
};

struct summary {
	struct hist h[NCOL];
	struct row *rows;            /* finished, waiting for those before them */
	size_t nrows, cap;
	uint32_t next;               /* the next request number to print */
	bool header;
};

static const char header[] =
	"req   method  path                    server  conn    status  tries  1 connect   2 request   3 decide    "
	"4 connect   5-6 backend proxy       7 return    total       correlation\n";

void summary_begin(struct trace *t)
{
	struct summary *s = xcalloc(1, sizeof(*s));
	for (int i = 0; i < NCOL; i++)
		if (hist_init(&s->h[i]) < 0)
			oom();
	s->next = t->req_lo ? t->req_lo : 1;
	t->summary = s;
}

void summary_free(struct trace *t)
{
	struct summary *s = t->summary;
	if (s == NULL)
		return;
	for (int i = 0; i < NCOL; i++)
		hist_free(&s->h[i]);
	for (size_t i = 0; i < s->nrows; i++)
		free(s->rows[i].text);
	free(s->rows);
	free(s);
	t->summary = NULL;
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* A time cell: "0.041 ms", or "-" for a step that did not happen. */
static void cell(struct buf *b, struct hist *h, bool happened, uint64_t ns)
{
	char tmp[32];
	if (happened) {
		snprintf(tmp, sizeof(tmp), "%.3f ms", out_ms(ns));
		hist_record(h, (ns + 500) / 1000);
	} else {
		snprintf(tmp, sizeof(tmp), "-");
	}
	if (buf_printf(b, "%-12s", tmp) < 0)
		oom();
}

static void row_text(struct summary *s, const struct request *q, struct buf *b)
{
	char tmp[64], path[32];
	const char *target = q->target ? q->target : "-";
	if (strlen(target) > 23)
		snprintf(path, sizeof(path), "%.20s\xe2\x80\xa6", target);
	else
		snprintf(path, sizeof(path), "%s", target);
	snprintf(tmp, sizeof(tmp), "%d", q->status);
	const char *server = q->be ? q->be->name : q->tried ? q->tried->name : "-";
	if (buf_printf(b, "%-6u%-8s", q->num, q->method ? q->method : "-") < 0)
		oom();
	/* The path may hold a multi-byte "…": pad by characters. */
	size_t cols = 0;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		cols += (*p & 0xc0) != 0x80;
	if (buf_puts(b, path) < 0 || buf_printf(b, "%*s", (int)(cols < 24 ? 24 - cols : 1), "") < 0 ||
	    buf_printf(b, "%-8s%-8s%-8s%-7u", server, q->be ? (q->reused ? "reused" : "new") : "-",
	               q->refused ? "refused" : q->status ? tmp : "-", q->attempts) < 0)
		oom();

	uint64_t start2 = q->o_first2 ? q->o_first2 : q->t_head;
	uint64_t b0 = q->o_syn ? q->o_syn : start2;
	bool be = q->o_first_be != 0, new4 = be && q->o_hs4_end && !q->reused;
	uint64_t b1 = q->o_syn ? max64(b0, q->o_hs_end ? q->o_hs_end : start2) : b0;
	uint64_t b2 = max64(b1, q->o_last2 ? q->o_last2 : q->t_head);
	uint64_t b3 = be ? max64(b2, q->o_first_be) : b2;
	uint64_t b4 = new4 ? max64(b3, q->o_hs4_end) : b3;
	uint64_t b6 = q->o_last6 ? max64(b4, q->o_last6) : b4;
	uint64_t b7s = q->o_first7 ? max64(b6, q->o_first7) : b6;
	uint64_t b7 = q->o_last7 ? max64(b7s, q->o_last7) : b7s;
	bool ok = b0 != 0;
	cell(b, &s->h[COL_1], ok && q->o_syn, b1 - b0);
	cell(b, &s->h[COL_2], ok, b2 - b1);
	cell(b, &s->h[COL_3], ok && be, b3 - b2);
	cell(b, &s->h[COL_4], ok && new4, b4 - b3);
	cell(b, &s->h[COL_56], ok && q->o_last6, b6 - b4);
	cell(b, &s->h[COL_PROXY], ok && q->o_first7, b7s - b6);
	cell(b, &s->h[COL_7], ok && q->o_first7, b7 - b7s);
	cell(b, &s->h[COL_TOTAL], ok, b7 - b0);
	const char *how = q->refused ? "refused" : q->proxy_made && !q->be ? "proxy" : q->be ? corr_name(q->how) : "-";
	if (buf_puts(b, how ? how : "-") < 0 || buf_append(b, "\n", 1) < 0)
		oom();
}

static void print_row(struct trace *t, struct summary *s, size_t i)
{
	if (!s->header) {
		out_put(t, header);
		s->header = true;
	}
	out_put(t, s->rows[i].text);
	free(s->rows[i].text);
	if (s->rows[i].num >= s->next)
		s->next = s->rows[i].num + 1;
	memmove(s->rows + i, s->rows + i + 1, (s->nrows - i - 1) * sizeof(*s->rows));
	s->nrows--;
}

void summary_row(struct trace *t, const struct request *q)
{
	struct summary *s = t->summary;
	struct buf b = BUF_INIT;
	row_text(s, q, &b);
	if (buf_append(&b, "", 1) < 0)
		oom();
	if (s->nrows == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->rows = xrealloc(s->rows, s->cap, sizeof(*s->rows));
	}
	size_t i = s->nrows;
	while (i > 0 && s->rows[i - 1].num > q->num)
		i--;
	memmove(s->rows + i + 1, s->rows + i, (s->nrows - i) * sizeof(*s->rows));
	s->rows[i].num = q->num;
	s->rows[i].text = b.data;   /* NUL-terminated above; b.off is 0 */
	s->nrows++;
	while (s->nrows && (s->rows[0].num <= s->next || s->nrows > ROW_HOLD))
		print_row(t, s, 0);
	out_write(t, false);
}

static void stat_row(struct trace *t, struct summary *s, const char *name, int what)
{
	char tmp[32];
	struct buf b = BUF_INIT;
	if (buf_printf(&b, "%-6s%-8s%-24s%-8s%-8s%-8s%-7s", name, "", "", "", "", "", "") < 0)
		oom();
	for (int i = 0; i < NCOL; i++) {
		const struct hist *h = &s->h[i];
		if (h->total == 0)
			snprintf(tmp, sizeof(tmp), "-");
		else if (what == 0)
			snprintf(tmp, sizeof(tmp), "%.3f ms", hist_mean(h) / 1000);
		else
			snprintf(tmp, sizeof(tmp), "%.3f ms", (double)hist_percentile(h, what) / 1000);
		if (buf_printf(&b, "%-12s", tmp) < 0)
			oom();
	}
	if (buf_append(&b, "\n", 1) < 0 || buf_append(&b, "", 1) < 0)
		oom();
	out_put(t, buf_begin(&b));
	buf_free(&b);
}

void summary_end(struct trace *t)
{
	struct summary *s = t->summary;
	while (s->nrows)
		print_row(t, s, 0);
	if (!s->header)
		out_put(t, header);
	if (s->h[COL_TOTAL].total) {
		stat_row(t, s, "mean", 0);
		stat_row(t, s, "p50", 50);
		stat_row(t, s, "p99", 99);
	}
	out_write(t, true);
}
