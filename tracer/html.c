/*
 * html.c - --html FILE: the trace as a ladder diagram in one self-contained
 * page (no CDN, no network).  Columns: the clients, the proxy, the
 * backends; each packet an arrow between two columns, coloured by its step
 * (a legend of the seven steps, in the seed article's words, at the top),
 * with its summary on it and its time on the left; the step-3 decision a
 * box on the proxy column; a heading before each run of a request's
 * packets.  The SVG is drawn here, so the page shows everything without
 * JavaScript; the script only steps through it (buttons and arrow keys:
 * previous step, next step, next request; the current step's arrows
 * highlighted, the rest dimmed) and shows a packet's details on a click
 * (flags, seq/ack, bytes, the message head it starts).
 *
 * The rows are kept until the end: at most HTML_MAX_ROWS (then the page
 * says it stops there).  --requests draws fewer.
 */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define HTML_MAX_ROWS 20000
#define HTML_MAX_CLIENTS 8
#define ROW_H 24
#define COL_W 190
#define LEFT 150
#define TOP 56

enum row_type { ROW_HEADING, ROW_DECIDE, ROW_PACKET };

struct hrow {
	uint8_t type, step, from, to, kind, flags;
	bool retrans, ooo, close, reset, reuse, retry, inferred;
	uint32_t req, frame, seq, ack, len;
	uint64_t rel_ns;
	size_t text, head;           /* offsets into strings (0: none) */
};

struct html {
	FILE *f;
	char *path;
	struct hrow *rows;
	size_t nrows, cap;
	bool full;
	struct buf strings;          /* NUL-terminated texts; offset 0 is "" */
	char clients[HTML_MAX_CLIENTS][ADDR_STRLEN];
	size_t nclients;
	bool other_clients;
	const struct backend *bes[64];
	size_t nbes;
	struct request *last_req;
	int last_group;
};

int html_open(struct trace *t, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	struct html *h = xcalloc(1, sizeof(*h));
	h->f = f;
	h->path = xstrdup(path);
	if (buf_append(&h->strings, "", 1) < 0)
		oom();
	t->html = h;
	return 0;
}

void html_free(struct trace *t)
{
	struct html *h = t->html;
	if (h == NULL)
		return;
	if (h->f)
		fclose(h->f);
	free(h->path);
	free(h->rows);
	buf_free(&h->strings);
	free(h);
	t->html = NULL;
}

static size_t keep(struct html *h, const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	size_t off = buf_len(&h->strings);
	if (buf_puts(&h->strings, s) < 0 || buf_append(&h->strings, "", 1) < 0)
		oom();
	return off;
}

static const char *str(const struct html *h, size_t off)
{
	return buf_begin(&h->strings) + off;
}

/* Column numbers: the clients first (one each, up to HTML_MAX_CLIENTS, then
 * one for the others), the proxy, then the backends as they appear.  The
 * final numbers are given at the end; here clients are 0.. and backends
 * 100.., the proxy 99. */
static uint8_t client_col(struct html *h, const char *client)
{
	for (size_t i = 0; i < h->nclients; i++)
		if (strcmp(h->clients[i], client) == 0)
			return (uint8_t)i;
	if (h->nclients < HTML_MAX_CLIENTS) {
		snprintf(h->clients[h->nclients], ADDR_STRLEN, "%s", client);
		return (uint8_t)h->nclients++;
	}
	h->other_clients = true;
	return HTML_MAX_CLIENTS;
}

static uint8_t backend_col(struct html *h, const struct backend *be)
{
	for (size_t i = 0; i < h->nbes; i++)
		if (h->bes[i] == be)
			return (uint8_t)(100 + i);
	if (h->nbes < sizeof(h->bes) / sizeof(h->bes[0]))
		h->bes[h->nbes++] = be;
	return (uint8_t)(100 + (h->nbes - 1));
}

static struct hrow *add(struct trace *t, struct html *h, uint8_t type)
{
	if (h->nrows >= HTML_MAX_ROWS) {
		if (!h->full)
			log_warn("--html: the ladder stops after %d rows; draw fewer with --requests", HTML_MAX_ROWS);
		h->full = true;
		return NULL;
	}
	(void)t;
	if (h->nrows == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->rows = xrealloc(h->rows, h->cap, sizeof(*h->rows));
	}
	struct hrow *r = &h->rows[h->nrows++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	return r;
}

void html_rec(struct trace *t, const struct view *v)
{
	struct html *h = t->html;
	const struct rec *r = v->r;
	const struct conn *c = v->c;
	struct request *q = v->q;
	char text[512];
	if (h->full)
		return;
	int group = q ? 1 : v->kind == KIND_HEALTH ? 3 : 2;
	if (group != h->last_group || q != h->last_req) {
		struct hrow *hr = add(t, h, ROW_HEADING);
		if (hr == NULL)
			return;
		h->last_group = group;
		h->last_req = q;
		if (q)
			snprintf(text, sizeof(text), "request %u%s%s%s%s \xc2\xb7 client %s%s%s", q->num, q->method ? "  " : "",
			         q->method ? q->method : "", q->method ? " " : "", q->target ? q->target : "", q->client,
			         q->id ? " \xc2\xb7 X-Request-ID " : "", q->id ? q->id : "");
		else
			snprintf(text, sizeof(text), "%s", group == 3 ? "health check (the proxy's own request)" : "outside any request");
		hr->req = q ? q->num : 0;
		hr->text = keep(h, text);
	}
	const char *client = q ? q->client : c->kind == CONN_CLIENT ? c->addr[UP] : NULL;
	uint8_t ccol = client ? client_col(h, client) : 0;
	uint8_t bcol = c->kind == CONN_BACKEND ? backend_col(h, c->be) : 0;
	if (v->decide_first) {
		struct hrow *d = add(t, h, ROW_DECIDE);
		if (d == NULL)
			return;
		const struct decision *dec = out_decision(t, q);
		if (v->x == NULL)
			snprintf(text, sizeof(text), "3 proxy decides +%.3f ms \xe2\x86\x92 no server: answers %d itself", v->decide_ms, q->status);
		else
			snprintf(text, sizeof(text), "3 proxy decides +%.3f ms \xe2\x86\x92 %s%s%s%s%s", v->decide_ms, c->be->name,
			         v->retry ? " again (retry)" : "", dec && dec->algorithm ? " (" : "",
			         dec && dec->algorithm ? dec->algorithm : "", dec && dec->algorithm ? ")" : "");
		d->step = 3;
		d->req = q ? q->num : 0;
		d->inferred = v->inferred;
		d->rel_ns = out_rel(t, r->ts_ns);
		d->text = keep(h, text);
	}
	struct hrow *p = add(t, h, ROW_PACKET);
	if (p == NULL)
		return;
	uint8_t a = c->kind == CONN_CLIENT ? ccol : 99, b = c->kind == CONN_CLIENT ? 99 : bcol;
	p->from = r->dir == UP ? a : b;
	p->to = r->dir == UP ? b : a;
	p->step = r->step;
	p->kind = v->kind;
	p->flags = r->flags;
	p->retrans = r->retrans;
	p->ooo = r->ooo;
	p->close = r->close;
	p->reset = r->reset;
	p->reuse = v->reuse;
	p->retry = v->retry;
	p->inferred = v->inferred;
	p->req = q ? q->num : 0;
	p->frame = (uint32_t)r->frame;
	p->seq = r->seq;
	p->ack = r->ack;
	p->len = r->len;
	p->rel_ns = out_rel(t, r->ts_ns);
	snprintf(text, sizeof(text), "%s%s%s", r->summary, v->diff ? "  " : "", v->diff ? v->diff : "");
	p->text = keep(h, text);
	p->head = keep(h, r->head);
}

/* ---- writing the page ---------------------------------------------------- */

static void xml(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s < 0x20)
				fputc(' ', f);
			else
				fputc(*s, f);
		}
	}
}

/* A JSON string; '<' escaped so that no "</script>" ends the block. */
static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *const legend[8] = {
	"",
	"the client opens a TCP connection to the proxy (allow/deny lists, TCP defences)",
	"the client sends the request: headers first, then the payload",
	"the proxy decides: load balancing or a routing table, security checks, headers inserted",
	"the proxy opens its own TCP connection to the chosen backend",
	"the proxy sends the (modified) request to the backend",
	"the proxy receives and inspects the response (retry elsewhere, telemetry)",
	"the proxy returns the response; the client connection stays open",
};

static const char *const colors[8] = { "#666", "#0e7490", "#15803d", "#a16207", "#1d4ed8", "#65a30d", "#c2410c", "#be123c" };

static const char style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}"
	"header{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 12px;z-index:2}"
	"h1{font-size:16px;margin:0 0 6px}"
	"ol.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:0 0 6px;padding:0;list-style:none;font-size:12px}"
	"ol.legend li span{display:inline-block;width:18px;text-align:center;color:#fff;border-radius:3px;margin-right:4px}"
	"button{font:inherit;margin-right:6px}#where{margin-left:8px;color:#555}"
	"main{display:flex;gap:12px;padding:8px 12px}svg{background:#fff;border:1px solid #ddd;flex:none}"
	"aside{min-width:260px;max-width:420px;font-size:13px}aside pre{white-space:pre-wrap;background:#f3f3f3;padding:6px}"
	"aside dt{font-weight:600}aside dd{margin:0 0 4px}"
	"text{font:12px system-ui,sans-serif}.col{font-weight:600}.time{fill:#555;font-variant-numeric:tabular-nums}"
	".heading text{font-weight:600}.arrow{cursor:pointer}.arrow:hover line{stroke-width:3}"
	".mark{fill:#b91c1c}.decide rect{fill:#fef3c7;stroke:#a16207}"
	"svg.stepping .arrow,svg.stepping .decide{opacity:.15}svg.stepping .on{opacity:1}"
	"svg .sel line{stroke-width:4}";

static const char script[] =
	"(function(){'use strict';"
	"var svg=document.querySelector('svg.ladder');"
	"var data=JSON.parse(document.getElementById('packets').textContent);"
	"var items=Array.prototype.slice.call(svg.querySelectorAll('.arrow,.decide'));"
	"var stops=[],last=null;"
	"items.forEach(function(e){var k=e.getAttribute('data-step')+'/'+e.getAttribute('data-req');"
	"if(k!==last){stops.push([]);last=k;}stops[stops.length-1].push(e);});"
	"var cur=-1,where=document.getElementById('where');"
	"function show(k){if(!stops.length)return;cur=Math.max(0,Math.min(stops.length-1,k));"
	"svg.classList.add('stepping');items.forEach(function(e){e.classList.remove('on');});"
	"stops[cur].forEach(function(e){e.classList.add('on');});"
	"var e=stops[cur][0];where.textContent='step '+e.getAttribute('data-step')+"
	"(e.getAttribute('data-req')!=='0'?' of request '+e.getAttribute('data-req'):'')+' ('+(cur+1)+' of '+stops.length+')';"
	"if(e.scrollIntoView)e.scrollIntoView({block:'nearest'});}"
	"function req(k){return stops[k][0].getAttribute('data-req');}"
	"function nextReq(){var k=cur<0?0:cur,r=cur<0?null:req(cur);"
	"while(k<stops.length-1&&req(k)===r)k++;show(k);}"
	"document.getElementById('prev').onclick=function(){show(cur<0?0:cur-1);};"
	"document.getElementById('next').onclick=function(){show(cur+1);};"
	"document.getElementById('nextreq').onclick=nextReq;"
	"document.getElementById('all').onclick=function(){cur=-1;svg.classList.remove('stepping');where.textContent='';};"
	"document.addEventListener('keydown',function(ev){"
	"if(ev.key==='ArrowRight'||ev.key==='ArrowDown'){show(cur+1);ev.preventDefault();}"
	"else if(ev.key==='ArrowLeft'||ev.key==='ArrowUp'){show(cur<0?0:cur-1);ev.preventDefault();}"
	"else if(ev.key==='PageDown'||ev.key==='n'){nextReq();ev.preventDefault();}});"
	"var info=document.getElementById('info');"
	"function row(dl,k,v){var dt=document.createElement('dt');dt.textContent=k;"
	"var dd=document.createElement('dd');dd.textContent=v;dl.appendChild(dt);dl.appendChild(dd);}"
	"svg.addEventListener('click',function(ev){var g=ev.target.closest?ev.target.closest('.arrow'):null;"
	"if(!g)return;var p=data[+g.getAttribute('data-i')];if(!p)return;"
	"svg.querySelectorAll('.sel').forEach(function(e){e.classList.remove('sel');});g.classList.add('sel');"
	"info.textContent='';var h=document.createElement('h2');h.textContent='frame '+p.frame;info.appendChild(h);"
	"var dl=document.createElement('dl');"
	"row(dl,'time',p.t+' ms');row(dl,'step',p.step+' \\u00b7 '+p.dir);row(dl,'flags',p.flags);"
	"row(dl,'seq / ack',p.seq+' / '+p.ack);row(dl,'bytes',p.len);"
	"row(dl,'request',p.req||'none');if(p.marks)row(dl,'marks',p.marks);if(p.summary)row(dl,'summary',p.summary);"
	"info.appendChild(dl);if(p.head){var pre=document.createElement('pre');pre.textContent=p.head;"
	"var t=document.createElement('dt');t.textContent='headers seen';info.appendChild(t);info.appendChild(pre);}});"
	"})();";

static const char *col_name(const struct trace *t, const struct html *h, uint8_t col, char *buf, size_t size)
{
	if (col == 99)
		return t->proxy_name[0] ? t->proxy_name : "proxy";
	if (col >= 100)
		return h->bes[col - 100]->name;
	if (col == HTML_MAX_CLIENTS)
		return "other clients";
	if (h->nclients == 1)
		return "client";
	snprintf(buf, size, "client %s", h->clients[col]);
	return buf;
}

/* The x of a column: clients, proxy, backends from left to right. */
static int col_x(const struct html *h, uint8_t col)
{
	size_t nc = h->nclients + h->other_clients;
	if (nc == 0)
		nc = 1;
	size_t i = col == 99 ? nc : col >= 100 ? nc + 1 + (size_t)(col - 100) : col;
	return LEFT + (int)i * COL_W + COL_W / 2;
}

static void marks(const struct hrow *p, char *out, size_t size)
{
	static const char *const kinds[] = { "", "health check", "made by the proxy", "interim response", "refused" };
	snprintf(out, size, "%s%s%s%s%s%s%s%s", kinds[p->kind], p->retry ? " retry" : "", p->reuse ? " reuse" : "",
	         p->retrans ? " retransmission" : "", p->ooo ? " out-of-order" : "", p->close ? " close" : "",
	         p->reset ? " reset" : "", p->inferred ? " inferred" : "");
	char *s = out;
	while (*s == ' ')
		memmove(s, s + 1, strlen(s));
}

void html_end(struct trace *t)
{
	struct html *h = t->html;
	FILE *f = h->f;
	char name[ADDR_STRLEN + 16], mk[160], tmp[64];
	size_t ncols = (h->nclients ? h->nclients : 1) + h->other_clients + 1 + h->nbes;
	int width = LEFT + (int)ncols * COL_W + 20, height = TOP + (int)h->nrows * ROW_H + 20;

	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n", f);
	fputs("<meta name=\"viewport\" content=\"width=device-width\">\n<title>l7lab tracer: ", f);
	xml(f, t->source);
	fprintf(f, "</title>\n<style>%s", style);
	for (int s = 1; s <= 7; s++)
		fprintf(f, ".s%d line{stroke:%s}.s%d .lbl{fill:%s}", s, colors[s], s, colors[s]);
	fputs("</style></head>\n<body>\n<header><h1>l7lab tracer \xc2\xb7 ", f);
	xml(f, t->source);
	fputs("</h1>\n<ol class=\"legend\">", f);
	for (int s = 1; s <= 7; s++) {
		fprintf(f, "<li><span style=\"background:%s\">%d</span>", colors[s], s);
		xml(f, legend[s]);
		fputs("</li>", f);
	}
	fputs("</ol>\n<button id=\"prev\" title=\"previous step (\xe2\x86\x90)\">\xe2\x97\x80 previous step</button>"
	      "<button id=\"next\" title=\"next step (\xe2\x86\x92)\">next step \xe2\x96\xb6</button>"
	      "<button id=\"nextreq\" title=\"next request (n)\">next request \xc2\xbb</button>"
	      "<button id=\"all\">show all</button><span id=\"where\"></span>", f);
	if (h->full)
		fprintf(f, " <strong>(the ladder stops after %d rows)</strong>", HTML_MAX_ROWS);
	fputs("</header>\n<main>\n", f);
	fprintf(f, "<svg class=\"ladder\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"ladder diagram\">\n<defs>", width, height, width, height);
	for (int s = 1; s <= 7; s++)
		fprintf(f, "<marker id=\"m%d\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
		        "orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"%s\"/></marker>", s, colors[s]);
	fputs("</defs>\n", f);
	/* the columns */
	uint8_t cols[HTML_MAX_CLIENTS + 1 + 1 + 64];
	size_t n = 0;
	for (size_t i = 0; i < (h->nclients ? h->nclients : 1); i++)
		cols[n++] = (uint8_t)i;
	if (h->other_clients)
		cols[n++] = HTML_MAX_CLIENTS;
	cols[n++] = 99;
	for (size_t i = 0; i < h->nbes; i++)
		cols[n++] = (uint8_t)(100 + i);
	for (size_t i = 0; i < n; i++) {
		int x = col_x(h, cols[i]);
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bbb\"/>", x, TOP - 14, x, height - 8);
		fprintf(f, "<text class=\"col\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x, TOP - 22);
		xml(f, col_name(t, h, cols[i], name, sizeof(name)));
		fputs("</text>\n", f);
	}
	/* the rows */
	size_t npk = 0;
	for (size_t i = 0; i < h->nrows; i++) {
		const struct hrow *r = &h->rows[i];
		int y = TOP + (int)i * ROW_H + ROW_H / 2;
		if (r->type == ROW_HEADING) {
			fprintf(f, "<g class=\"heading\"><text x=\"8\" y=\"%d\">", y + 4);
			xml(f, str(h, r->text));
			fputs("</text></g>\n", f);
			continue;
		}
		if (r->type == ROW_DECIDE) {
			int x = col_x(h, 99);
			fprintf(f, "<g class=\"decide s3\" data-step=\"3\" data-req=\"%u\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
			        "height=\"%d\" rx=\"4\"/><text x=\"%d\" y=\"%d\">", r->req, x - 60, y - ROW_H / 2 + 2,
			        COL_W + 120, ROW_H - 4, x - 54, y + 4);
			xml(f, str(h, r->text));
			if (r->inferred)
				xml(f, " (inferred)");
			fputs("</text></g>\n", f);
			continue;
		}
		int x1 = col_x(h, r->from), x2 = col_x(h, r->to);
		snprintf(tmp, sizeof(tmp), "%.3f ms", out_ms(r->rel_ns));
		fprintf(f, "<g class=\"arrow s%u\" data-i=\"%zu\" data-step=\"%u\" data-req=\"%u\">"
		        "<text class=\"time\" x=\"8\" y=\"%d\">%s</text><text class=\"lbl\" x=\"%d\" y=\"%d\">%u</text>"
		        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke-width=\"2\" marker-end=\"url(#m%u)\"%s/>",
		        r->step, npk, r->step, r->req, y + 4, tmp, LEFT - 30, y + 4, r->step, x1, y + 4, x2 + (x2 > x1 ? -2 : 2),
		        y + 4, r->step, r->close ? " stroke-dasharray=\"4 3\"" : "");
		const char *label = str(h, r->text);
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (x1 + x2) / 2, y - 1);
		char cut[64];
		snprintf(cut, sizeof(cut), "%s", *label ? label : out_flags(r->flags));
		if (strlen(*label ? label : "") > 40) {
			size_t k = 37;
			while (k > 0 && ((unsigned char)cut[k] & 0xc0) == 0x80)
				k--;   /* not inside a UTF-8 character */
			memcpy(cut + k, "...", 4);
		}
		xml(f, cut);
		marks(r, mk, sizeof(mk));
		if (*mk) {
			fputs(" <tspan class=\"mark\">[", f);
			xml(f, mk);
			fputs("]</tspan>", f);
		}
		fputs("</text></g>\n", f);
		npk++;
	}
	fputs("</svg>\n<aside id=\"info\"><p>Click an arrow for its details. Keys: \xe2\x86\x90 \xe2\x86\x92 step, n next request.</p></aside>\n</main>\n", f);
	/* the packets' details, for the clicks */
	fputs("<script type=\"application/json\" id=\"packets\">[", f);
	npk = 0;
	for (size_t i = 0; i < h->nrows; i++) {
		const struct hrow *r = &h->rows[i];
		if (r->type != ROW_PACKET)
			continue;
		marks(r, mk, sizeof(mk));
		fprintf(f, "%s{\"frame\":%u,\"t\":\"%.3f\",\"step\":%u,\"dir\":", npk++ ? ",\n" : "\n", r->frame, out_ms(r->rel_ns), r->step);
		snprintf(name, sizeof(name), "%s", col_name(t, h, r->from, name, sizeof(name)));
		char to[ADDR_STRLEN + 16];
		snprintf(tmp, sizeof(tmp), " \xe2\x86\x92 ");
		struct buf d = BUF_INIT;
		if (buf_cat(&d, name, tmp, col_name(t, h, r->to, to, sizeof(to)), NULL) < 0 || buf_append(&d, "", 1) < 0)
			oom();
		jstr(f, buf_begin(&d));
		buf_free(&d);
		fputs(",\"flags\":", f);
		jstr(f, out_flags(r->flags));
		fprintf(f, ",\"seq\":%u,\"ack\":%u,\"len\":%u,\"req\":%u,\"marks\":", r->seq, r->ack, r->len, r->req);
		jstr(f, mk);
		fputs(",\"summary\":", f);
		jstr(f, str(h, r->text));
		fputs(",\"head\":", f);
		jstr(f, str(h, r->head));
		fputc('}', f);
	}
	fprintf(f, "]</script>\n<script>%s</script>\n</body></html>\n", script);
	bool bad = ferror(f) || fflush(f) != 0;
	if (fclose(f) != 0 || bad) {
		h->f = NULL;
		fatal("--html: write %s: %s", h->path, strerror(errno));
	}
	h->f = NULL;
}
