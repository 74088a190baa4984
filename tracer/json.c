/*
 * json.c - --json: one object a line per packet.  Fields that the proxy's
 * --events also has mean the same there: t (Unix seconds), step, id
 * (X-Request-ID), client ("IP:PORT"), server (a backend's "IP:PORT") and
 * server_name.  JSON is the hot path on big captures: each line is written
 * straight into the output buffer, reserved once.
 */
#include "output.h"

#include <string.h>

#include "correlate.h"

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

/* Seconds with nine decimals. */
static char *w_secs(char *p, uint64_t ns)
{
	p = w_u64(p, ns / 1000000000u);
	*p++ = '.';
	uint64_t f = ns % 1000000000u;
	for (int i = 8; i >= 0; i--) {
		p[i] = (char)('0' + f % 10);
		f /= 10;
	}
	return p + 9;
}

/* Bytes a JSON string carries as they are: not a control, '"' or '\\'
 * (bytes >= 0x80: the summaries' UTF-8 ellipsis).  The end of a string,
 * NUL, is not one of them. */
static const bool plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x30] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x40] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x50] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	[0x60] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0x70] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
	[0x80] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xa0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xc0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	[0xe0] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

/* A JSON string's inside; needs 6 * strlen(s) bytes at most.  Runs of
 * plain bytes are copied at once. */
static char *w_esc(char *p, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	for (;;) {
		const unsigned char *run = u;
		while (plain[*u])
			u++;
		memcpy(p, run, (size_t)(u - run));
		p += u - run;
		unsigned char c = *u;
		if (c == '\0')
			return p;
		u++;
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else {
			p = LIT(p, "\\u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
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

static size_t slen(const char *s)
{
	return s ? strlen(s) : 0;
}

void json_rec(struct trace *t, const struct view *v)
{
	static const char *const kinds[] = { NULL, "health-check", "proxy-response", "interim", "refused" };
	const struct rec *r = v->r;
	const struct conn *c = v->c;
	const struct request *q = v->q;
	const char *diff = v->diff && q && q->be == c->be ? v->diff : NULL;
	const char *id = q ? q->id : NULL;
	const char *client = q ? q->client : c->kind == CONN_CLIENT ? c->addr[UP] : NULL;
	const struct backend *be = c->kind == CONN_BACKEND ? c->be : q ? q->be : NULL;
	/* The fixed fields, and every string at its longest escaped: the
	 * summary (136), four names (64) and four addresses (ADDR_STRLEN). */
	size_t need = 640 + 6 * (sizeof(r->summary) + 4 * 64 + 4 * ADDR_STRLEN + slen(diff) + slen(id));
	if (buf_reserve(&t->line, need) < 0)
		oom();
	char *p0 = buf_begin(&t->line) + buf_len(&t->line), *p = p0;

	p = LIT(p, "{\"frame\":");
	p = w_u64(p, r->frame);
	p = LIT(p, ",\"t\":");
	p = w_secs(p, r->ts_ns);
	p = LIT(p, ",\"rel\":");
	p = w_secs(p, out_rel(t, r->ts_ns));
	p = LIT(p, ",\"step\":");
	*p++ = (char)('0' + r->step);
	p = LIT(p, ",\"src\":");
	p = w_str(p, v->src);
	p = LIT(p, ",\"dst\":");
	p = w_str(p, v->dst);
	p = LIT(p, ",\"src_addr\":\"");
	p = w_esc(p, c->addr[r->dir]);
	p = LIT(p, "\",\"dst_addr\":\"");
	p = w_esc(p, c->addr[!r->dir]);
	p = LIT(p, "\",\"flags\":\"");
	p = w_esc(p, out_flags(r->flags));
	p = LIT(p, "\",\"seq\":");
	p = w_u64(p, r->seq);
	p = LIT(p, ",\"ack\":");
	p = w_u64(p, r->ack);
	p = LIT(p, ",\"len\":");
	p = w_u64(p, r->len);
	p = LIT(p, ",\"summary\":\"");
	p = w_esc(p, r->summary);
	if (diff) {
		/* "GET / HTTP/1.1  +X-Request-ID": what the proxy changed */
		p = LIT(p, "  ");
		p = w_esc(p, diff);
	}
	p = LIT(p, "\",\"request\":");
	p = q ? w_u64(p, q->num) : LIT(p, "null");
	p = LIT(p, ",\"id\":");
	p = w_strn(p, id);
	p = LIT(p, ",\"client\":");
	p = w_strn(p, client);
	p = LIT(p, ",\"server\":");
	p = w_strn(p, be ? be->addr : NULL);
	p = LIT(p, ",\"server_name\":");
	p = w_strn(p, be ? be->name : NULL);
	p = LIT(p, ",\"conn\":");
	p = w_u64(p, c->num);
	p = LIT(p, ",\"close\":");
	p = w_bool(p, r->close);
	p = LIT(p, ",\"close_by\":");
	p = w_strn(p, r->close && c->closer >= 0 ? out_end_name(t, c, c->closer) : NULL);
	p = LIT(p, ",\"reset\":");
	p = w_bool(p, r->reset);
	p = LIT(p, ",\"reuse\":");
	p = w_bool(p, v->reuse);
	p = LIT(p, ",\"retry\":");
	p = w_bool(p, v->retry);
	p = LIT(p, ",\"retransmission\":");
	p = w_bool(p, r->retrans);
	p = LIT(p, ",\"out_of_order\":");
	p = w_bool(p, r->ooo);
	p = LIT(p, ",\"kind\":");
	p = w_strn(p, kinds[v->kind]);
	p = LIT(p, ",\"correlation\":");
	p = w_strn(p, v->how);
	p = LIT(p, ",\"inferred\":");
	p = w_bool(p, v->inferred);
	p = LIT(p, "}\n");
	t->line.len += (size_t)(p - p0);
}
