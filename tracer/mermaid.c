/*
 * mermaid.c - --mermaid: a Mermaid sequence diagram of the flow, one
 * message per step of each request (a handshake is one line), the step-3
 * decision as a note over the proxy.  Participants are named after their
 * roles (client, proxy, b1...; client1, client2... when there are several)
 * and declared in the order the flow meets them: clients, proxy, backends.
 * --fenced wraps it in a ```mermaid block for Markdown.  Mermaid refuses
 * diagrams over 50,000 characters by default (maxTextSize): over that the
 * tracer warns; past MM_MAX it stops drawing and says where.
 */
#include "output.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MM_LIMIT 50000          /* Mermaid's default maxTextSize */
#define MM_MAX (4u << 20)       /* the most the tracer keeps      */

struct party {
	char id[72];
	char label[ADDR_STRLEN + 16];
	const void *key;             /* a backend, or NULL for a client */
	char client[ADDR_STRLEN];
};

struct mermaid {
	struct buf body;
	struct party *clients, *backends;
	size_t nclients, nbackends;
	bool full;
	uint32_t last_num;           /* the last request drawn */
};

static struct mermaid *mm_get(struct trace *t)
{
	if (t->mm == NULL)
		t->mm = xcalloc(1, sizeof(*t->mm));
	return t->mm;
}

void mermaid_free(struct trace *t)
{
	if (t->mm == NULL)
		return;
	buf_free(&t->mm->body);
	free(t->mm->clients);
	free(t->mm->backends);
	free(t->mm);
	t->mm = NULL;
}

/* A participant id: letters, digits and '_', not a keyword of the grammar. */
static void make_id(char *out, size_t size, const char *name)
{
	static const char *const words[] = { "end", "loop", "alt", "else", "opt", "par", "and", "rect",
	                                      "note", "participant", "actor", "critical", "break", "box",
	                                      "autonumber", "activate", "deactivate", "over", "left", "right",
	                                      "of", "title", "create", "destroy", "links", "link", "properties", "details" };
	size_t n = 0;
	if (!isalpha((unsigned char)name[0]))
		out[n++] = 'b';
	for (const char *p = name; *p && n + 2 < size; p++)
		out[n++] = isalnum((unsigned char)*p) ? *p : '_';
	out[n] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(out, words[i]) == 0 && n + 2 < size) {
			out[n++] = '_';
			out[n] = '\0';
		}
}

static const char *client_id(struct mermaid *m, const char *client)
{
	for (size_t i = 0; i < m->nclients; i++)
		if (strcmp(m->clients[i].client, client) == 0)
			return m->clients[i].id;
	m->clients = xrealloc(m->clients, m->nclients + 1, sizeof(*m->clients));
	struct party *p = &m->clients[m->nclients++];
	memset(p, 0, sizeof(*p));
	snprintf(p->client, sizeof(p->client), "%s", client);
	if (m->nclients == 1)
		snprintf(p->id, sizeof(p->id), "client");
	else
		snprintf(p->id, sizeof(p->id), "client%zu", m->nclients);
	snprintf(p->label, sizeof(p->label), "client %s", client);
	return p->id;
}

static const char *backend_id(struct mermaid *m, const struct backend *be)
{
	for (size_t i = 0; i < m->nbackends; i++)
		if (m->backends[i].key == be)
			return m->backends[i].id;
	m->backends = xrealloc(m->backends, m->nbackends + 1, sizeof(*m->backends));
	struct party *p = &m->backends[m->nbackends++];
	memset(p, 0, sizeof(*p));
	p->key = be;
	make_id(p->id, sizeof(p->id), be->name);
	for (size_t i = 0; i + 1 < m->nbackends; i++)
		if (strcmp(m->backends[i].id, p->id) == 0 || strcmp(p->id, "proxy") == 0 || strncmp(p->id, "client", 6) == 0)
			snprintf(p->id, sizeof(p->id), "b%zu", m->nbackends);
	snprintf(p->label, sizeof(p->label), "%s", be->name);
	return p->id;
}

/* Message text: no ';' or '#' (they end or escape a statement), no '%'
 * at the start (a comment), printable. */
static void text(struct buf *b, const char *s)
{
	for (; *s; s++) {
		char ch = *s == ';' ? ',' : *s == '#' ? '.' : (unsigned char)*s < 0x20 ? ' ' : *s;
		if (buf_append(b, &ch, 1) < 0)
			oom();
	}
}

static void line(struct mermaid *m, const char *from, const char *arrow, const char *to, const char *s)
{
	if (buf_cat(&m->body, "  ", from, arrow, to, ": ", NULL) < 0)
		oom();
	text(&m->body, s);
	if (buf_append(&m->body, "\n", 1) < 0)
		oom();
}

void mermaid_rec(struct trace *t, const struct view *v)
{
	const struct rec *r = v->r;
	const struct conn *c = v->c;
	struct request *q = v->q;
	struct mermaid *m = mm_get(t);
	char msg[320];
	if (q == NULL || m->full)
		return;
	if (buf_len(&m->body) > MM_MAX) {
		m->full = true;
		log_warn("--mermaid: the diagram stops after request %u (%u KiB); draw fewer with --requests",
		         m->last_num, MM_MAX >> 10);
		return;
	}
	m->last_num = q->num;
	const char *cl = client_id(m, q->client);
	const char *be = c->kind == CONN_BACKEND ? backend_id(m, c->be) : NULL;
	if (v->decide_first) {
		const struct decision *d = out_decision(t, q);
		if (v->x == NULL)
			snprintf(msg, sizeof(msg), "3 no server: the proxy answers %d itself", q->status);
		else
			snprintf(msg, sizeof(msg), "3 %s%s\xe2\x86\x92 %s%s%s", d && d->algorithm && !v->retry ? d->algorithm : "",
			         d && d->algorithm && !v->retry ? " " : "", c->be->name, v->retry ? " again (retry)" : "",
			         v->inferred ? " (inferred)" : "");
		if (buf_puts(&m->body, "  Note over proxy: ") < 0)
			oom();
		text(&m->body, msg);
		if (buf_append(&m->body, "\n", 1) < 0)
			oom();
	}
	const char *from = c->kind == CONN_CLIENT ? (r->dir == UP ? cl : "proxy") : (r->dir == UP ? "proxy" : be);
	const char *to = c->kind == CONN_CLIENT ? (r->dir == UP ? "proxy" : cl) : (r->dir == UP ? be : "proxy");
	const char *arrow = r->dir == UP ? "->>" : "-->>";
	uint32_t close_bit = 1u << (c->kind == CONN_CLIENT ? 10 + r->dir : 12 + r->dir);
	if ((r->flags & (TH_FIN | TH_RST)) && !(q->o_seen_steps & close_bit)) {
		q->o_seen_steps |= close_bit;
		snprintf(msg, sizeof(msg), "%u %s (%s %s%s)", r->step, r->flags & TH_RST ? "RST" : "FIN", v->src,
		         r->flags & TH_RST ? "resets" : "closes", v->kind == KIND_REFUSED ? ": refused" : "");
		line(m, from, arrow, to, msg);
		return;
	}
	/* One message a step: of the request, or of the attempt on a backend
	 * connection (a retry draws its own). */
	bool seen = c->kind == CONN_BACKEND && v->x ? (v->x->o_noted & (1u << r->step)) != 0
	                                            : (q->o_seen_steps & (1u << r->step)) != 0;
	if (seen && v->kind != KIND_INTERIM)
		return;
	const char *status = strncmp(r->summary, "HTTP/", 5) == 0 && strchr(r->summary, ' ') ? strchr(r->summary, ' ') + 1 : r->summary;
	switch (r->step) {
	case 1: case 4:
		if (!(r->flags & TH_SYN) || (r->flags & TH_ACK))
			return;   /* one line for the handshake, at its SYN */
		snprintf(msg, sizeof(msg), "%u TCP handshake (SYN, SYN-ACK, ACK)%s", r->step, v->retry ? " (retry)" : "");
		break;
	case 2: case 5:
		if (r->len == 0)
			return;
		snprintf(msg, sizeof(msg), "%u %s %s%s%s%s%s", r->step, q->method ? q->method : "",
		         q->target ? q->target : r->summary, v->diff ? " " : "", v->diff ? v->diff : "",
		         v->reuse ? " (reused connection)" : "", v->retry ? " (retry)" : "");
		break;
	case 6: case 7:
		if (r->len == 0)
			return;
		snprintf(msg, sizeof(msg), "%u %s%s", r->step, status,
		         v->kind == KIND_INTERIM ? " (interim)" : v->kind == KIND_PROXY_RESPONSE ? " (made by the proxy)" : "");
		if (v->kind == KIND_INTERIM) {
			line(m, from, arrow, to, msg);
			return;
		}
		break;
	default:
		return;
	}
	if (c->kind == CONN_BACKEND && v->x)
		v->x->o_noted |= (uint8_t)(1u << r->step);
	line(m, from, arrow, to, msg);
}

void mermaid_end(struct trace *t)
{
	struct mermaid *m = mm_get(t);
	struct buf out = BUF_INIT;
	if ((t->fenced && buf_puts(&out, "```mermaid\n") < 0) || buf_puts(&out, "sequenceDiagram\n") < 0)
		oom();
	for (size_t i = 0; i < m->nclients; i++)
		if (m->nclients == 1 ? buf_puts(&out, "  participant client\n") < 0
		                     : buf_printf(&out, "  participant %s as %s\n", m->clients[i].id, m->clients[i].label) < 0)
			oom();
	if ((t->proxy_name[0] ? buf_printf(&out, "  participant proxy as %s\n", t->proxy_name)
	                      : buf_puts(&out, "  participant proxy\n")) < 0)
		oom();
	for (size_t i = 0; i < m->nbackends; i++) {
		struct party *p = &m->backends[i];
		snprintf(p->label, sizeof(p->label), "%s", ((const struct backend *)p->key)->name);   /* renamed by X-Backend, maybe */
		if ((strcmp(p->id, p->label) == 0 ? buf_printf(&out, "  participant %s\n", p->id)
		                                  : buf_printf(&out, "  participant %s as %s\n", p->id, p->label)) < 0)
			oom();
	}
	if (buf_append(&out, buf_begin(&m->body), buf_len(&m->body)) < 0 || (t->fenced && buf_puts(&out, "```\n") < 0))
		oom();
	size_t chars = 0;
	for (size_t i = 0; i < out.len; i++)
		chars += ((unsigned char)out.data[out.off + i] & 0xc0) != 0x80;
	if (chars > MM_LIMIT)
		log_warn("--mermaid: the diagram is %zu characters, over Mermaid's default limit of %u (maxTextSize); "
		         "draw fewer requests with --requests", chars, MM_LIMIT);
	out_putn(t, buf_begin(&out), buf_len(&out));
	buf_free(&out);
	out_write(t, true);
}
