/*
 * correlate.c - requests, attempts and their ties (see correlate.h): step
 * 2's request on the client connection, step 3's choice of a server seen
 * from outside, step 5's forwarded copy on a backend connection, checked
 * against step 6's response and step 7's.
 */
#include "correlate.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "events.h"
#include "match.h"
#include "output.h"
#include "stream.h"

const char *corr_name(enum corr how)
{
	switch (how) {
	case CORR_REQUEST_ID: return "x-request-id";
	case CORR_FORWARDED: return "forwarded";
	case CORR_EVENTS: return "events";
	case CORR_XFF: return "x-forwarded-for";
	case CORR_RESPONSE: return "response";
	case CORR_TARGET: return "only";
	case CORR_ORDER: return "order";
	default: return NULL;
	}
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
		struct request **nb = xcalloc(n, sizeof(*nb));
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

static void id_remove(struct trace *t, struct request *r)
{
	if (r->id == NULL || t->by_id_size == 0)
		return;
	for (struct request **pp = &t->by_id[id_hash(r->id) & (t->by_id_size - 1)]; *pp; pp = &(*pp)->id_next) {
		if (*pp == r) {
			*pp = r->id_next;
			t->by_id_count--;
			return;
		}
	}
}

/* Sets r's request id (once) and indexes it. */
static void set_id(struct trace *t, struct request *r, const char *id)
{
	if (r->id || id == NULL || *id == '\0')
		return;
	r->id = xstrdup(id);
	id_insert(t, r);
}

/* ---- references and freeing ------------------------------------------------ */

void corr_ref(struct request *r)
{
	r->refs++;
}

static void request_free(struct trace *t, struct request *r)
{
	id_remove(t, r);
	if (t->events && r->id)
		events_forget(t->events, r->id);
	free(r->method);
	free(r->target);
	free(r->id);
	free(r->reason);
	buf_free(&r->names);
	free(r);
	t->live_reqs--;
}

void corr_unref(struct trace *t, struct request *r)
{
	if (r == NULL || --r->refs > 0)
		return;
	output_request_done(t, r);
	request_free(t, r);
}

/* ---- the pending list: heads seen, waiting to be forwarded (again) ------- */

static void pending_add(struct trace *t, struct request *r, bool retry)
{
	r->retry_wait = retry;
	if (r->in_pending)
		return;
	r->pprev = t->p_tail;
	r->pnext = NULL;
	if (t->p_tail)
		t->p_tail->pnext = r;
	else
		t->p_head = r;
	t->p_tail = r;
	r->in_pending = true;
	corr_ref(r);
}

static void pending_remove(struct trace *t, struct request *r)
{
	if (!r->in_pending)
		return;
	if (r->pprev)
		r->pprev->pnext = r->pnext;
	else
		t->p_head = r->pnext;
	if (r->pnext)
		r->pnext->pprev = r->pprev;
	else
		t->p_tail = r->pprev;
	r->pprev = r->pnext = NULL;
	r->in_pending = false;
	r->retry_wait = false;
	corr_unref(t, r);
}

/* ---- the tentative list: ties by order, not checked yet ------------------ */

static void tentative_add(struct trace *t, struct xchg *x)
{
	if (x->in_tentative)
		return;
	x->tprev = NULL;
	x->tnext = t->t_head;
	if (t->t_head)
		t->t_head->tprev = x;
	t->t_head = x;
	x->in_tentative = true;
}

static void tentative_remove(struct trace *t, struct xchg *x)
{
	if (!x->in_tentative)
		return;
	if (x->tprev)
		x->tprev->tnext = x->tnext;
	else
		t->t_head = x->tnext;
	if (x->tnext)
		x->tnext->tprev = x->tprev;
	x->tprev = x->tnext = NULL;
	x->in_tentative = false;
}

/* The tie of x will not change any more. */
static void finalize(struct trace *t, struct xchg *x)
{
	x->final = true;
	tentative_remove(t, x);
	if (x->req) {
		set_id(t, x->req, x->id);
		if (x->req->x == x)
			x->req->how = x->how;
	}
}

/* ---- client requests ------------------------------------------------------- */

static uint32_t key_of(const char *method, const char *target)
{
	uint32_t h = match_hash(method, strlen(method), MATCH_HASH_INIT);
	h = match_hash(" ", 1, h);
	return match_hash(target, strlen(target), h);
}

struct request *corr_client_request(struct trace *t, struct conn *c, uint32_t idx)
{
	struct slot *s = conn_slot_make(c, idx);
	if (s == NULL)
		return NULL;
	if (s->req)
		return s->req;
	struct request *r = xcalloc(1, sizeof(*r));
	r->num = ++t->nreqs;
	r->refs = 1;   /* the slot's */
	r->cc = c;
	memcpy(r->client, c->addr[UP], sizeof(r->client));
	r->o_skip = t->req_lo && (r->num < t->req_lo || r->num > t->req_hi);
	s->req = r;
	t->live_reqs++;
	return r;
}

void corr_client_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m)
{
	struct request *r = corr_client_request(t, c, idx);
	if (r == NULL || r->head_done)
		return;
	r->head_done = true;
	r->t_head = t->parse_ts;
	r->method = xstrdup(http_method(m));
	r->target = xstrdup(http_target(m));
	r->key = key_of(r->method, r->target);
	set_id(t, r, http_get(m, "X-Request-ID"));
	for (size_t i = 0; i < m->nhdrs; i++)
		if (buf_puts(&r->names, http_hdr_name(m, i)) < 0 || buf_append(&r->names, "\n", 1) < 0)
			oom();
	pending_add(t, r, false);
}

/* ---- backend connections and attempts ------------------------------------- */

void corr_backend_open(struct trace *t, struct conn *c)
{
	struct request *r;
	for (r = t->p_head; r && r->guessed; r = r->pnext)
		;
	if (r == NULL)
		r = t->p_head;   /* a second connection for the same request */
	if (r == NULL)
		return;
	r->guessed++;
	c->guess = r;
	c->guess_sole = t->p_head == t->p_tail;
	corr_ref(r);
}

static void drop_guess(struct trace *t, struct conn *c)
{
	struct request *r = c->guess;
	if (r == NULL)
		return;
	c->guess = NULL;
	r->guessed--;
	corr_unref(t, r);
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
		if (n == 0 || n + 2 >= size)
			return false;
		const char *colon = memchr(p, ':', n), *last = colon;
		for (const char *q = p + n - 1; q > p && last; q--)
			if (*q == ':') {
				last = q;
				break;
			}
		if (p[0] != '[' && colon && colon != last) {
			/* for="::1:5000": an IPv6 address a proxy did not bracket */
			size_t ipn = (size_t)(last - p);
			out[0] = '[';
			memcpy(out + 1, p, ipn);
			out[ipn + 1] = ']';
			memcpy(out + ipn + 2, last, n - ipn);
			out[n + 2] = '\0';
			return true;
		}
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* The client's IP alone as the proxy says it: the last element of
 * X-Forwarded-For, X-Real-IP, or a Forwarded for= without a port.  Into
 * out, in the form addr_format_ip prints; false if none parses. */
static bool forwarded_ip(const struct http_msg *m, const char *fwd, char *out, size_t size)
{
	char tmp[ADDR_STRLEN];
	const char *v = NULL;
	if (fwd) {
		v = fwd;
	} else {
		for (size_t i = 0; i < m->nhdrs; i++)
			if (http_hdr_is(m, i, "X-Forwarded-For"))
				v = http_hdr_value(m, i);
		if (v == NULL)
			v = http_get(m, "X-Real-IP");
		if (v == NULL)
			return false;
		const char *last = strrchr(v, ',');
		v = last ? last + 1 : v;
	}
	while (*v == ' ')
		v++;
	size_t n = strcspn(v, " ;,");
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	char *ip = tmp;
	if (*ip == '[') {   /* [v6] or [v6]:port */
		char *close = strchr(ip, ']');
		if (close == NULL)
			return false;
		*close = '\0';
		ip++;
	}
	uint8_t bin[16];
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, ip, bin) != 1 || inet_ntop(fam, bin, out, (socklen_t)size) == NULL)
		return false;
	return true;
}

/* The IP part of "IP:PORT" or "[IP]:PORT". */
static bool same_ip(const char *addr, const char *ip)
{
	size_t n = strlen(ip);
	if (addr[0] == '[')
		return strncmp(addr + 1, ip, n) == 0 && addr[n + 1] == ']';
	return strncmp(addr, ip, n) == 0 && addr[n] == ':';
}

static bool names_have(const struct buf *names, const char *name, size_t nlen)
{
	const char *p = buf_begin(names), *end = p + buf_len(names);   /* never NULL + 0 */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		if ((size_t)(nl - p) == nlen && strncasecmp(p, name, nlen) == 0)
			return true;
		p = nl + 1;
	}
	return false;
}

/* Does the forwarded head keep most of the client's header names (a
 * request whose method or target the proxy rewrote)? */
static bool keeps_names(const struct request *r, const struct buf *fwd)
{
	size_t total = 0, kept = 0;
	const char *p = buf_begin(&r->names), *end = p + buf_len(&r->names);   /* never NULL + 0 */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		total++;
		kept += names_have(fwd, p, (size_t)(nl - p));
		p = nl + 1;
	}
	return total >= 2 && kept * 2 >= total;
}

/* Does a backend request carry what proxies add to a forwarded request? */
static bool looks_forwarded(const struct http_msg *m)
{
	static const char *const names[] = { "X-Forwarded-For", "Forwarded", "Via", "X-Real-IP", "X-Request-ID" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (http_get(m, names[i]))
			return true;
	return false;
}

/* ---- orphans: answered before an attempt was seen ------------------------- */

static void orphan_add(struct trace *t, struct request *r)
{
	if (t->norphans == ORPHANS) {
		corr_unref(t, t->orphans[0]);
		memmove(t->orphans, t->orphans + 1, (ORPHANS - 1) * sizeof(*t->orphans));
		t->norphans--;
	}
	t->orphans[t->norphans++] = r;
	corr_ref(r);
}

static void orphan_remove(struct trace *t, struct request *r)
{
	for (size_t i = 0; i < t->norphans; i++) {
		if (t->orphans[i] == r) {
			memmove(t->orphans + i, t->orphans + i + 1, (t->norphans - i - 1) * sizeof(*t->orphans));
			t->norphans--;
			corr_unref(t, r);
			return;
		}
	}
}

/* An orphan the exact evidence names: its id, or its client "IP:PORT". */
static struct request *orphan_find(struct trace *t, const char *id, const char *client)
{
	for (size_t i = t->norphans; i-- > 0;) {
		struct request *r = t->orphans[i];
		if (r->t_head + 1000000000u < t->parse_ts)
			break;   /* older ones are a second old: not held bytes any more */
		if ((id && r->id && strcmp(r->id, id) == 0) || (client && strcmp(r->client, client) == 0))
			return r;
	}
	return NULL;
}

static struct request *pending_by_id(struct trace *t, const char *id)
{
	for (struct request *r = t->p_head; r; r = r->pnext)
		if (r->id && strcmp(r->id, id) == 0)
			return r;
	if (t->by_id_size == 0)
		return NULL;
	/* A retry of a request forwarded once carries the same id. */
	for (struct request *r = t->by_id[id_hash(id) & (t->by_id_size - 1)]; r; r = r->id_next)
		if (strcmp(r->id, id) == 0 && !r->answered)
			return r;
	return NULL;
}

static struct request *pending_by_client(struct trace *t, const char *peer)
{
	for (struct request *r = t->p_head; r; r = r->pnext)
		if (strcmp(r->client, peer) == 0)
			return r;
	return NULL;
}

/* Ties attempt x to request r. */
static void tie(struct trace *t, struct xchg *x, struct request *r, enum corr how)
{
	x->req = r;
	x->how = how;
	corr_ref(r);
	r->attempts++;
	x->attempt = r->attempts;
	if (x->attempt > 1)
		t->retries++;
	if (!x->no_request) {
		r->x = x;
		r->x_gone = false;
		r->be = x->conn->be;
		r->reused = x->reused;
		r->how = how;
	} else if (r->tried == NULL) {
		r->tried = x->conn->be;
	}
	if (!x->no_request) {
		r->settled = true;   /* forwarded (a refused connection forwarded nothing) */
		pending_remove(t, r);
		orphan_remove(t, r);
	}
	if (how == CORR_ORDER && !x->no_request) {
		x->final = false;
		tentative_add(t, x);
	} else {
		finalize(t, x);
	}
}

static struct xchg *xchg_new(struct conn *c, uint32_t idx)
{
	struct xchg *x = xcalloc(1, sizeof(*x));
	x->conn = c;
	x->idx = idx;
	x->final = true;
	x->reused = idx > 0 || !c->syn_seen;
	return x;
}

void corr_backend_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m)
{
	struct slot *s = conn_slot_make(c, idx);
	if (s == NULL || s->x)
		return;
	struct xchg *x = xchg_new(c, idx);
	s->x = x;
	x->key = key_of(http_method(m), http_target(m));
	const char *id = http_get(m, "X-Request-ID");
	if (id && *id)
		x->id = xstrdup(id);
	for (size_t i = 0; i < m->nhdrs; i++)
		if (buf_puts(&x->names, http_hdr_name(m, i)) < 0 || buf_append(&x->names, "\n", 1) < 0)
			oom();
	if (x->reused)
		t->backend_reuses++;

	struct request *r = NULL, *guess = c->guess;
	enum corr how = CORR_NONE;
	char fwd[ADDR_STRLEN + 8], ip[ADDR_STRLEN];
	bool have_fwd = forwarded_for(m, fwd, sizeof(fwd));

	if (x->id && ((r = pending_by_id(t, x->id)) != NULL || (r = orphan_find(t, x->id, NULL)) != NULL))
		how = CORR_REQUEST_ID;
	if (r == NULL && have_fwd && ((r = pending_by_client(t, fwd)) != NULL || (r = orphan_find(t, NULL, fwd)) != NULL))
		how = CORR_FORWARDED;
	if (r == NULL && x->id && t->events) {
		const char *client = events_client_of(t->events, x->id);
		if (client && ((r = pending_by_client(t, client)) != NULL || (r = orphan_find(t, NULL, client)) != NULL))
			how = CORR_EVENTS;
	}
	if (r == NULL) {
		/* STEP 3 seen from outside.  The candidates: waiting requests from
		 * the client the forwarding headers name (if they name one that
		 * waits), with the same method and target (proxies seldom rewrite
		 * them), else a rewrite that kept the client's headers. */
		bool by_ip = forwarded_ip(m, have_fwd ? fwd : NULL, ip, sizeof(ip));
		if (by_ip) {
			bool any = false;
			for (struct request *q = t->p_head; q && !any; q = q->pnext)
				any = same_ip(q->client, ip);
			by_ip = any;
		}
		size_t same = 0, from_ip = 0;
		struct request *first = NULL, *rewrite = NULL;
		for (struct request *q = t->p_head; q; q = q->pnext) {
			if ((by_ip && !same_ip(q->client, ip)) || q->t_head > t->parse_ts)
				continue;   /* (a request that came after these bytes cannot be theirs) */
			from_ip++;
			if (q->head_done && q->key == x->key) {
				same++;
				if (first == NULL || q == guess)
					first = q == guess || first == NULL ? q : first;
			} else if (rewrite == NULL && keeps_names(q, &x->names)) {
				rewrite = q;
			}
		}
		/* Guesses made before and not checked yet may be wrong, and this
		 * attempt may be for one of their requests: they count as
		 * candidates too. */
		size_t tent = 0;
		for (struct xchg *y = t->t_head; y; y = y->tnext)
			if (y->req && !y->req->answered && y->key == x->key && (!by_ip || same_ip(y->req->client, ip)))
				tent++;
		if (first) {
			r = first;
			how = tent ? CORR_ORDER : by_ip && from_ip == 1 ? CORR_XFF : same == 1 ? CORR_TARGET : CORR_ORDER;
		} else if (rewrite) {
			r = rewrite;
			how = by_ip && from_ip == 1 ? CORR_XFF : CORR_ORDER;
		} else if (!looks_forwarded(m)) {
			x->health = true;   /* no client asked for it: the proxy's own request */
			t->health_checks++;
		}
	}
	if (r)
		tie(t, x, r, how);
	drop_guess(t, c);
}

/* ---- responses --------------------------------------------------------------- */

static void swap(struct xchg *a, struct xchg *b)
{
	struct request *ra = a->req, *rb = b->req;
	uint8_t att = a->attempt;
	a->req = rb;
	b->req = ra;
	a->attempt = b->attempt;
	b->attempt = att;
	ra->x = b;
	rb->x = a;
	ra->be = b->conn->be;
	rb->be = a->conn->be;
	ra->reused = b->reused;
	rb->reused = a->reused;
	free(a->diff);
	free(b->diff);
	a->diff = b->diff = NULL;
}

/* Checks r's tie against the response the client got (at its head, and
 * again at its end): swaps a guess the capture contradicts, settles one it
 * confirms, and says whether the proxy made the response itself. */
static void check_tie(struct trace *t, struct request *r, bool at_end)
{
	struct xchg *x = r->x;
	int sx = x && x->fp.head ? match_compare(&x->fp, &r->fp) : -1;
	if (x == NULL && r->x_gone) {
		/* the attempt's connection moved on first: what it left */
		if (!at_end && (r->x_failed || r->x_status != r->fp.status)) {
			r->proxy_made = true;
			t->proxy_responses++;
		}
		return;
	}
	/* The backend's side lost bytes (a kernel drop): its response may be
	 * among them, so nothing is said of who made the client's. */
	if (x && (x->resp_lost || x->conn->lossy || (!x->fp.head && (x->conn->h[DOWN].gap || x->conn->h[UP].gap))))
		return;
	/* No attempt seen while the capture lost forwarded bytes: it may have
	 * been among them. */
	if (x == NULL && t->fwd_loss_ts && t->fwd_loss_ts + GAP_WAIT_NS >= r->t_head)
		return;
	if (x == NULL || x->final) {
		if (!at_end && sx < 0 && (x == NULL || !x->fp.head || x->fp.status != r->fp.status || x->failed)) {
			r->proxy_made = true;
			t->proxy_responses++;
		}
		return;
	}
	/* A guess: which attempts' responses could be the one the client got? */
	struct xchg *best = sx >= 0 ? x : NULL;
	int best_score = sx;
	size_t compatible = sx >= 0;
	for (struct xchg *y = t->t_head; y; y = y->tnext) {
		if (y == x || y->req == NULL || y->req == r || y->req->answered || y->key != x->key || !y->fp.head)
			continue;
		int sy = match_compare(&y->fp, &r->fp);
		if (sy < 0)
			continue;
		compatible++;
		if (best == NULL || (best != x && sy > best_score)) {
			best = y;
			best_score = sy;
		}
	}
	if (best == NULL) {
		/* No attempt sent this: the proxy made it (or its backend side is
		 * not in the capture). */
		if (!at_end) {
			r->proxy_made = true;
			t->proxy_responses++;
		}
		finalize(t, x);
		return;
	}
	if (best != x) {
		swap(x, best);
		x = best;
	}
	if (compatible == 1) {
		x->how = CORR_RESPONSE;
		finalize(t, x);
	} else if (at_end) {
		finalize(t, x);   /* responses alike: order decides, and says so */
	}
}

void corr_response_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m)
{
	struct slot *s = conn_slot(c, idx);
	if (c->kind == CONN_BACKEND) {
		const char *name = http_get(m, "X-Backend");
		if (name && *name && !c->be->fixed_name) {
			snprintf(c->be->name, sizeof(c->be->name), "%s", name);
			c->be->fixed_name = true;
		}
		struct xchg *x = s ? s->x : NULL;
		if (x == NULL)
			return;
		match_head(&x->fp, m, !x->final);
		/* A 5xx may be retried elsewhere (proxy --retry-on): the request
		 * waits again until the client gets an answer. */
		if (x->fp.status >= 500 && x->req && !x->req->answered && x->req->x == x)
			pending_add(t, x->req, true);
		return;
	}
	struct request *r = s ? s->req : NULL;
	if (r == NULL || r->answered)
		return;
	r->answered = true;
	r->settled = true;
	r->status = http_status(m);
	free(r->reason);
	r->reason = xstrdup(http_target(m));
	set_id(t, r, http_get(m, "X-Request-ID"));
	pending_remove(t, r);
	if (r->x == NULL && !r->x_gone)
		orphan_add(t, r);
	match_head(&r->fp, m, r->x && !r->x->final);
	check_tie(t, r, false);
}

void corr_response_done(struct trace *t, struct conn *c, uint32_t idx)
{
	if (c->kind != CONN_CLIENT)
		return;
	struct request *r = slot_request(c, conn_slot(c, idx));
	if (r)
		check_tie(t, r, true);
}

/* ---- the end of a connection ---------------------------------------------- */

void corr_conn_done(struct trace *t, struct conn *c)
{
	if (c->kind == CONN_CLIENT) {
		for (uint32_t i = 0; i < c->nslots; i++) {
			struct request *r = c->slots[i].req;
			if (r == NULL)
				continue;
			r->settled = true;
			pending_remove(t, r);
			if (r->x && !r->x->final)
				finalize(t, r->x);
		}
		return;
	}
	bool any = false;
	for (uint32_t i = 0; i < c->nslots; i++) {
		struct xchg *x = c->slots[i].x;
		if (x == NULL)
			continue;
		any = true;
		if (x->fp.head)
			continue;
		/* Closed or reset before its response: the attempt failed, and the
		 * request may be tried again elsewhere (unless the capture lost
		 * where its response would be). */
		if (x->resp_lost)
			continue;
		x->failed = true;
		if (!x->final)
			finalize(t, x);
		if (x->req && !x->req->answered && x->req->x == x)
			pending_add(t, x->req, true);
	}
	if (!any && c->guess && c->base == 0) {
		/* A connection that carried no request (refused, or closed at once):
		 * it was opened for the request guessed at its SYN. */
		struct slot *s = conn_slot_make(c, 0);
		if (s) {
			struct xchg *x = xchg_new(c, 0);
			x->no_request = true;
			x->failed = true;
			s->x = x;
			/* (the proxy's --events may confirm it once the request's id is
			 * known: output.c asks them) */
			tie(t, x, c->guess, c->guess_sole ? CORR_TARGET : CORR_ORDER);
			if (!c->guess->answered)
				pending_add(t, c->guess, true);
		}
	}
	drop_guess(t, c);
}

void corr_bytes_lost(struct trace *t, struct conn *c, int dir)
{
	if (c->kind != CONN_BACKEND)
		return;
	c->lossy = true;
	if (dir == UP) {
		t->fwd_loss_ts = t->last_ts;   /* a forwarded request may be among them */
		return;
	}
	for (uint32_t i = 0; i < c->nslots; i++)
		if (c->slots[i].x && !c->slots[i].x->fp.head)
			c->slots[i].x->resp_lost = true;
}

void corr_slot_release(struct trace *t, struct conn *c, struct slot *s)
{
	if (c->kind == CONN_CLIENT) {
		struct request *r = s->req;
		s->req = NULL;
		if (r) {
			if (r->cc == c)
				r->cc = NULL;
			corr_unref(t, r);
		}
		return;
	}
	struct xchg *x = s->x;
	s->x = NULL;
	if (x == NULL)
		return;
	tentative_remove(t, x);
	struct request *r = x->req;
	if (r && r->x == x) {
		r->x = NULL;
		r->x_gone = true;
		r->x_failed = (x->failed || !x->fp.head) && !x->resp_lost && !x->conn->lossy;
		r->x_status = x->fp.status;
	}
	free(x->id);
	free(x->diff);
	buf_free(&x->names);
	free(x);
	corr_unref(t, r);
}

void corr_free_all(struct trace *t)
{
	while (t->norphans)
		orphan_remove(t, t->orphans[t->norphans - 1]);
	while (t->p_head) {
		struct request *r = t->p_head;
		pending_remove(t, r);
	}
}
