/*
 * correlate.c - requests and their correlation (see correlate.h): step 2's
 * request on the client connection, step 3's choice of a server, step 5's
 * forwarded copy on a backend connection.
 */
#include "correlate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "events.h"

const char *corr_name(enum corr how)
{
	switch (how) {
	case CORR_REQUEST_ID: return "x-request-id";
	case CORR_FORWARDED: return "forwarded";
	case CORR_EVENTS: return "events";
	case CORR_ORDER: return "order";
	default: return NULL;
	}
}

static void set_conn_req(struct conn *c, uint32_t idx, struct request *r)
{
	if (idx >= c->capreqs) {
		uint32_t cap = c->capreqs ? c->capreqs * 2 : 4;
		while (cap <= idx)
			cap *= 2;
		struct request **n = realloc(c->reqs, cap * sizeof(*n));
		if (n == NULL)
			oom();
		c->reqs = n;
		c->capreqs = cap;
	}
	while (c->nreqs <= idx)
		c->reqs[c->nreqs++] = NULL;
	c->reqs[idx] = r;
}

struct request *corr_client_request(struct trace *t, struct conn *c, uint32_t idx)
{
	if (idx < c->nreqs && c->reqs[idx])
		return c->reqs[idx];
	struct request *r = xcalloc(1, sizeof(*r));
	if (t->nreqs == t->capreqs) {
		size_t cap = t->capreqs ? t->capreqs * 2 : 64;
		struct request **n = realloc(t->reqs, cap * sizeof(*n));
		if (n == NULL)
			oom();
		t->reqs = n;
		t->capreqs = cap;
	}
	t->reqs[t->nreqs++] = r;
	r->num = (uint32_t)t->nreqs;
	r->cc = c;
	set_conn_req(c, idx, r);
	return r;
}

/* ---- the unmatched list: heads seen, not yet forwarded, oldest first ---- */

static void un_append(struct trace *t, struct request *r)
{
	r->un_prev = t->un_tail;
	r->un_next = NULL;
	if (t->un_tail)
		t->un_tail->un_next = r;
	else
		t->un_head = r;
	t->un_tail = r;
	r->in_unmatched = true;
}

static void un_remove(struct trace *t, struct request *r)
{
	if (!r->in_unmatched)
		return;
	if (r->un_prev)
		r->un_prev->un_next = r->un_next;
	else
		t->un_head = r->un_next;
	if (r->un_next)
		r->un_next->un_prev = r->un_prev;
	else
		t->un_tail = r->un_prev;
	r->un_prev = r->un_next = NULL;
	r->in_unmatched = false;
}

static char *dup_str(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

/* ---- requests by X-Request-ID: a chained hash table that doubles ------- */

static size_t id_hash(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211u;
	return (size_t)(h ^ (h >> 32));
}

static void id_insert(struct trace *t, struct request *r)
{
	if (t->by_id_count >= t->by_id_size) {
		size_t n = t->by_id_size ? t->by_id_size * 2 : 1024;
		struct request **nb = calloc(n, sizeof(*nb));
		if (nb == NULL)
			oom();
		for (size_t i = 0; i < t->by_id_size; i++) {
			for (struct request *x = t->by_id[i], *next; x; x = next) {
				next = x->id_next;
				size_t k = id_hash(x->id) & (n - 1);
				x->id_next = nb[k];
				nb[k] = x;
			}
		}
		free(t->by_id);
		t->by_id = nb;
		t->by_id_size = n;
	}
	size_t k = id_hash(r->id) & (t->by_id_size - 1);
	r->id_next = t->by_id[k];
	t->by_id[k] = r;
	t->by_id_count++;
}

/* Sets r's request id (once) and indexes it. */
static void set_id(struct trace *t, struct request *r, const char *id)
{
	if (r->id || id == NULL || *id == '\0')
		return;
	r->id = dup_str(id);
	id_insert(t, r);
}

void corr_client_head(struct trace *t, struct request *r, const struct http_msg *m)
{
	(void)t;
	if (r->head_done)
		return;
	r->head_done = true;
	r->t_head = t->last_ts;
	r->method = dup_str(http_method(m));
	r->target = dup_str(http_target(m));
	set_id(t, r, http_get(m, "X-Request-ID"));
	for (size_t i = 0; i < m->nhdrs; i++)
		if (buf_puts(&r->names, http_hdr_name(m, i)) < 0 || buf_append(&r->names, "\n", 1) < 0)
			oom();
	un_append(t, r);
}

void corr_backend_open(struct trace *t, struct conn *c)
{
	struct request *r;
	for (r = t->un_head; r && r->guessed; r = r->un_next)
		;
	if (r == NULL)
		r = t->un_head;   /* a second try for the same request */
	if (r) {
		r->guessed = true;
		c->guess = r;
	}
}

/* The value of the last element's for= parameter of the last Forwarded
 * header, without quotes, into out; false if there is none. */
static bool forwarded_for(const struct http_msg *m, char *out, size_t size)
{
	const char *v = NULL;
	for (size_t i = 0; i < m->nhdrs; i++)
		if (http_hdr_is(m, i, "Forwarded"))
			v = http_hdr_value(m, i);
	if (v == NULL)
		return false;
	const char *elem = strrchr(v, ',');
	elem = elem ? elem + 1 : v;
	for (const char *p = elem; *p; p++) {
		if (strncasecmp(p, "for=", 4) != 0 || (p != elem && p[-1] != ';' && p[-1] != ' '))
			continue;
		p += 4;
		bool quoted = *p == '"';
		p += quoted;
		size_t n = 0;
		while (p[n] && (quoted ? p[n] != '"' : (p[n] != ';' && p[n] != ',' && p[n] != ' ')))
			n++;
		if (n == 0 || n >= size)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static bool names_have(const struct buf *names, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = buf_begin(names), *end = p + buf_len(names);   /* never NULL + 0 */
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		if ((size_t)(nl - p) == nlen && strncasecmp(p, name, nlen) == 0)
			return true;
		p = nl + 1;
	}
	return false;
}

/* What the proxy changed in the head: "+Name" for each header it added,
 * "-Name" for each it removed. */
static void header_diff(struct request *r, const struct http_msg *m)
{
	struct buf d = BUF_INIT, seen = BUF_INIT;
	for (size_t i = 0; i < m->nhdrs; i++) {
		const char *n = http_hdr_name(m, i);
		if (names_have(&r->names, n) || names_have(&seen, n))
			continue;
		if ((d.len && buf_append(&d, " ", 1) < 0) || buf_append(&d, "+", 1) < 0 || buf_puts(&d, n) < 0 ||
		    buf_puts(&seen, n) < 0 || buf_append(&seen, "\n", 1) < 0)
			oom();
	}
	const char *p = buf_begin(&r->names), *end = p + buf_len(&r->names);   /* never NULL + 0 */
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		bool kept = false;
		for (size_t i = 0; i < m->nhdrs && !kept; i++) {
			const char *n = http_hdr_name(m, i);
			kept = strlen(n) == (size_t)(nl - p) && strncasecmp(n, p, (size_t)(nl - p)) == 0;
		}
		if (!kept && (((d.len && buf_append(&d, " ", 1) < 0)) || buf_append(&d, "-", 1) < 0 ||
		              buf_append(&d, p, (size_t)(nl - p)) < 0))
			oom();
		p = nl + 1;
	}
	free(r->diff);
	r->diff = d.len ? xstrndup(buf_begin(&d), d.len) : NULL;
	buf_free(&d);
	buf_free(&seen);
}

/* The newest request with this id: a retry of a request already forwarded
 * once carries the same id, so it need not be unmatched. */
static struct request *find_by_id(struct trace *t, const char *id)
{
	for (struct request *r = t->un_head; r; r = r->un_next)
		if (r->id && strcmp(r->id, id) == 0)
			return r;
	if (t->by_id_size == 0)
		return NULL;
	for (struct request *r = t->by_id[id_hash(id) & (t->by_id_size - 1)]; r; r = r->id_next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

static struct request *find_by_client(struct trace *t, const char *peer)
{
	for (struct request *r = t->un_head; r; r = r->un_next)
		if (strcmp(r->cc->peer, peer) == 0)
			return r;
	return NULL;
}

void corr_backend_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m)
{
	const char *id = http_get(m, "X-Request-ID");
	struct request *r = NULL;
	enum corr how = CORR_NONE;
	char fwd[ADDR_STRLEN + 8];

	if (id && *id && (r = find_by_id(t, id)) != NULL)
		how = CORR_REQUEST_ID;
	if (r == NULL && forwarded_for(m, fwd, sizeof(fwd)) && (r = find_by_client(t, fwd)) != NULL)
		how = CORR_FORWARDED;
	if (r == NULL && id && *id && t->events) {
		const char *client = events_client_of(t->events, id);
		if (client && (r = find_by_client(t, client)) != NULL)
			how = CORR_EVENTS;
	}
	if (r == NULL) {
		/* STEP 3 seen from outside: no header names the client, so assume
		 * the proxy forwards requests in the order their heads arrived,
		 * skipping those whose method or target differ (proxies seldom
		 * rewrite them; when they do, order alone decides). */
		const char *method = http_method(m), *target = http_target(m);
		for (r = t->un_head; r; r = r->un_next)
			if (r->method && strcmp(r->method, method) == 0 && strcmp(r->target, target) == 0)
				break;
		if (r == NULL)
			r = idx == 0 && c->guess && c->guess->in_unmatched ? c->guess : t->un_head;
		if (r)
			how = CORR_ORDER;
	}
	if (c->guess) {
		c->guess->guessed = false;
		c->guess = NULL;
	}
	if (r) {
		un_remove(t, r);
		r->how = how;
		r->be = c->be;
		r->reused = idx > 0 || !c->syn_seen;
		r->settled = true;
		if (r->reused)
			t->backend_reuses++;
		set_id(t, r, id);
		header_diff(r, m);
	}
	set_conn_req(c, idx, r);
}

void corr_response_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m)
{
	(void)t;
	struct request *r = conn_req(c, idx);
	if (c->kind == CONN_BACKEND) {
		const char *name = http_get(m, "X-Backend");
		if (name && *name && !c->be->fixed_name) {
			snprintf(c->be->name, sizeof(c->be->name), "%s", name);
			c->be->fixed_name = true;
		}
		return;
	}
	if (r == NULL)
		return;
	r->status = http_status(m);
	free(r->reason);
	r->reason = dup_str(http_target(m));
	r->settled = true;
	set_id(t, r, http_get(m, "X-Request-ID"));
}

void corr_conn_done(struct trace *t, struct conn *c)
{
	(void)t;
	if (c->kind == CONN_CLIENT) {
		for (uint32_t i = 0; i < c->nreqs; i++)
			if (c->reqs[i])
				c->reqs[i]->settled = true;
		return;
	}
	if (c->nreqs == 0 && c->guess) {
		/* A backend connection that carried no request (refused, or closed
		 * at once): it was opened for the request guessed at its SYN. */
		struct request *r = c->guess;
		r->guessed = false;
		if (r->tried == NULL)
			r->tried = c->be;
		c->guess = NULL;
		c->guess_only = true;
		set_conn_req(c, 0, r);
	}
}

void corr_free_request(struct request *r)
{
	free(r->method);
	free(r->target);
	free(r->id);
	free(r->diff);
	free(r->reason);
	buf_free(&r->names);
	free(r);
}
