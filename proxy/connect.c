/*
 * connect.c - STEP 4: the proxy opens its own connection to the server, or
 * takes an idle one from that server's keep-alive pool (server.c), so the
 * client side and the server side live separate lives.  Also: the one rule
 * for sending a request again, the one retry of the keep-alive race, and
 * step 4 again on another server when step 6 finds that the first one failed
 * (--retries): never a server the request tried, within the pool's retry
 * budget, after a random backoff (CS_BACKOFF).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb.h"
#include "log.h"
#include "proxy.h"

static void attach(struct client *c, struct sconn *s)
{
	s->client = c;
	c->srv = s;
	s->sent = s->received = 0;
	/* A fresh parser; the header storage of the last response is reused. */
	struct buf raw = s->resp.raw;
	struct http_hdr *hdrs = s->resp.hdrs;
	size_t hdrs_cap = s->resp.hdrs_cap;
	http_msg_init(&s->resp, HTTP_RESPONSE, &response_hooks, s);
	s->resp.raw = raw;
	s->resp.hdrs = hdrs;
	s->resp.hdrs_cap = hdrs_cap;
	s->resp.max_head = P.cfg->max_header;
	s->resp.max_fields = MAX_FIELDS;
	head_scan_init(&s->scan);
	s->scan.max = P.cfg->max_header;
}

/* The connection is up: note it, then step 5. */
static int connected(struct client *c, struct sconn *s)
{
	struct exchange *x = &c->x;
	char local[ADDR_STRLEN], remote[ADDR_STRLEN];
	x->t_connected = ev_mono_ns();
	x->reused = s->reused;
	if (!s->reused && net_local_addr(s->fd, &s->local) < 0)
		s->local.ss.ss_family = AF_UNSPEC;
	sconn_enter(s, SS_BUSY);
	struct buf *e = event_begin(c, 4, "connect");
	if (e != NULL) {
		event_str(e, "server", addr_format(&s->server->addr, remote));
		event_str(e, "local", addr_format(&s->local, local));
		event_bool(e, "reused", s->reused);
		event_num(e, "ms", s->reused ? 0 : ms_between(x->t_connect0, x->t_connected));
		if (x->retries > 0)
			event_num(e, "retry", x->retries);
		event_end(e);
	}
	if (x->head_forwarded) {   /* a retry: step 5 has already queued the bytes */
		x->t_sent = ev_mono_ns();   /* this attempt's time to first byte */
		return sconn_flush(s);
	}
	return pace(c, step5_forward);
}

static int connect_result(struct sconn *s)
{
	struct client *c = s->client;
	int err = net_connect_result(s->fd);
	if (err != 0) {
		char why[160], a[ADDR_STRLEN];
		snprintf(why, sizeof(why), "connect %s: %s", addr_format(&s->server->addr, a), strerror(err));
		return server_failed(s, 502, why);
	}
	(void)net_set_nodelay(s->fd);
	s->server->stats.connects++;
	return connected(c, s);
}

void sconn_on_io_connecting(struct sconn *s)
{
	struct client *c = s->client;
	if (c == NULL) {
		sconn_close(s, "client gone");
		return;
	}
	if (connect_result(s) < 0)
		return;
	client_refresh(c);   /* and c->srv, if any: s itself may be gone */
}

/* Opens a new connection to x->server; out (may be NULL) is what to send. */
static int connect_new(struct client *c, struct buf *out)
{
	static unsigned long next_id;
	struct server *srv = c->x.server;
	struct sconn *s = NULL;
	char err[NET_ERRLEN];
	c->x.t_connect0 = ev_mono_ns();
	int fd = net_connect(&srv->addr, P.cfg->has_source ? &P.cfg->source : NULL, err);
	if (fd < 0)   /* failed at once: as if it had failed later (step 6) */
		return exchange_failed(c, NULL, out, errno == ETIMEDOUT ? 504 : 502, err);
	snprintf(err, sizeof(err), "out of memory");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto fail;
	*s = (struct sconn){ .fd = fd, .id = ++next_id, .server = srv, .state = SS_CONNECTING };
	if (ev_watch(P.loop, fd, EV_WRITE, sconn_on_io, s) < 0)
		goto fail;
	if (out != NULL) {   /* a retry: the bytes to send again */
		s->out = *out;
		*out = (struct buf)BUF_INIT;
	}
	attach(c, s);
	log_debug("server conn %lu %s: connecting", s->id, srv->name);
	sconn_enter(s, SS_CONNECTING);
	return 0;
fail:
	free(s);
	close(fd);
	if (out != NULL)
		mem_release(out);
	return client_error(c, 500, err);
}

/* An attempt: an idle connection to x->server if there is one, else a
 * new one; out (may be NULL) is what to send on it. */
static int connect_to(struct client *c, struct buf *out)
{
	struct server *srv = c->x.server;
	struct sconn *s = srv->idle_head;
	c->x.t_attempt = ev_now_ns(P.loop);
	if (s == NULL)
		return connect_new(c, out);
	pool_unlink(s);
	s->reused = true;
	c->x.t_connect0 = ev_mono_ns();
	srv->stats.reuses++;
	attach(c, s);
	if (out != NULL) {
		s->out = *out;
		*out = (struct buf)BUF_INIT;
	}
	return connected(c, s);
}

/* STEP 4: connect to the backend (or reuse an idle connection to it).
 * The request is in flight for its pool's retry budget from here. */
int step4_connect(struct client *c)
{
	struct exchange *x = &c->x;
	x->t_first = ev_now_ns(P.loop);
	x->tried[0] = x->server;
	x->ntried = 1;
	x->active = true;
	x->pool->active++;
	return connect_to(c, NULL);
}

void exchange_uncount(struct client *c)
{
	struct exchange *x = &c->x;
	if (x->counted && x->server != NULL && x->server->inflight > 0)
		x->server->inflight--;
	x->counted = false;
	if (x->active) {
		x->pool->active -= x->pool->active > 0;
		x->pool->retrying -= x->retrying && x->pool->retrying > 0;
	}
	x->active = x->retrying = false;
}

bool request_replayable(const struct client *c)
{
	llhttp_method_t m = (llhttp_method_t)c->req.parser.method;
	bool idempotent = m == HTTP_GET || m == HTTP_HEAD || m == HTTP_PUT || m == HTTP_DELETE ||
	                  m == HTTP_OPTIONS || m == HTTP_TRACE;
	return idempotent && c->x.req_body == 0 && c->req.parser.content_length == 0 &&
	       !(c->req.parser.flags & F_CHUNKED);
}

static const char budget_spent[] = "the retry budget is spent";

/* --retry-budget: with this request among them, the requests of the pool
 * past their first attempt stay at most PCT% of those on their first (or
 * within --retry-budget-min), so retries add at most PCT% to the load. */
static bool budget_allows(const struct exchange *x)
{
	const struct pool *pl = x->pool;
	uint64_t retrying = pl->retrying + !x->retrying, active = pl->active;
	uint64_t first = active > retrying ? active - retrying : 0;
	return retrying <= P.cfg->retry_budget_min || retrying * 100 <= P.cfg->retry_budget * first;
}

const char *retry_refusal(const struct client *c, const struct sconn *s, bool race)
{
	const struct exchange *x = &c->x;
	const struct config *cfg = P.cfg;
	if (x->status != 0 || x->resp_bytes > 0)
		return "the response had begun";
	if (s != NULL && s->sent > 0 && !(request_replayable(c) && buf_len(&x->head) > 0))
		return "the request went out and cannot be sent twice";
	if (race)
		return s->reused && s->received == 0 && !x->race_retried ? NULL : "not the keep-alive race";
	if (P.stopping)
		return "the proxy is stopping";
	if ((size_t)(x->retries - x->race_retried) >= cfg->retries)
		return "no --retries left";
	if (x->ntried >= x->pool->nservers)
		return "every server of the pool was tried";
	if (cfg->timeout_request != 0 && ev_now_ns(P.loop) >= x->t_first + cfg->timeout_request * 1000000u)
		return "no time left (timeout-request)";
	if (!budget_allows(x))
		return budget_spent;
	return NULL;
}

void retry_refused(struct client *c, const char *why)
{
	struct exchange *x = &c->x;
	if (P.cfg->retries == 0)
		return;
	if (why == budget_spent)
		x->pool->budget_refused++;
	struct buf *e = event_begin(c, 6, "retry-refused");
	if (e != NULL) {
		event_str(e, "server_name", x->server->name);
		event_str(e, "reason", why);
		event_num(e, "retrying", x->pool->retrying);
		event_num(e, "active", x->pool->active);
		event_end(e);
	}
}

/* The bytes to send again after s failed (may_retry said it may), into
 * out: all of s->out when nothing was sent yet (the body, if any, goes on
 * flowing behind them), else a copy of the held head.  False on ENOMEM. */
static bool replay_bytes(struct client *c, struct sconn *s, struct buf *out)
{
	if (s->sent == 0) {
		*out = s->out;
		s->out = (struct buf)BUF_INIT;
		return true;
	}
	return buf_append(out, buf_begin(&c->x.head), buf_len(&c->x.head)) == 0;
}

/* The keep-alive race: a pooled connection the server closed meanwhile
 * dies before any response byte.  Retry once on a fresh connection to the
 * same server if the request can be sent again; this retry is not the
 * server's fault, so it counts neither as a failure nor against --retries.
 * Returns 1 when a retry was started, 0 when not possible, -1 if c is gone. */
int server_retry(struct sconn *s)
{
	struct client *c = s->client;
	struct exchange *x = &c->x;
	struct buf out = BUF_INIT;
	if (!may_retry(c, s, true) || !replay_bytes(c, s, &out))
		return 0;
	log_debug("server conn %lu %s: keep-alive race, retrying on a new connection", s->id, s->server->name);
	x->retries++;
	x->race_retried = true;
	c->srv = NULL;
	s->client = NULL;
	sconn_close(s, "keep-alive race");
	return connect_new(c, &out) < 0 ? -1 : 1;
}

/* --retry-backoff: a wait drawn at random up to BASE x 2^(retry - 1), at
 * most CAP ("full jitter": retries of many clients do not come back in
 * step), ending before --timeout-request.  In nanoseconds. */
static uint64_t backoff_ns(struct exchange *x)
{
	const struct config *cfg = P.cfg;
	uint64_t cap = cfg->backoff_ms;
	for (int i = 1; i < x->retries && cap < cfg->backoff_max_ms; i++)
		cap *= 2;
	cap = (cap < cfg->backoff_max_ms ? cap : cfg->backoff_max_ms) * 1000000u;
	uint64_t wait = cap ? rng_below(&x->pool->rng, cap + 1) : 0, now = ev_now_ns(P.loop);
	if (cfg->timeout_request != 0) {
		uint64_t end = x->t_first + cfg->timeout_request * 1000000u;
		if (now + wait >= end)
			wait = end > now ? (end - now) / 2 : 0;
	}
	return wait;
}

/* STEP 4 again: x->server failed before any byte of its response (why).
 * When retry_refusal allows it, another server of the pool gets the
 * request, picked now, after a backoff (CS_BACKOFF, client.c's timer;
 * retry_resume).  s is the failed connection, or NULL when connect(2)
 * failed at once, with out (may be NULL) the bytes it was to send; out is
 * taken in every case.  Returns 1 when a retry was started, 0 when not
 * possible, -1 if c is gone. */
int retry_elsewhere(struct client *c, struct sconn *s, struct buf *out, const char *why)
{
	struct exchange *x = &c->x;
	struct server *failed = x->server, *next;
	struct buf bytes = BUF_INIT;
	if (out != NULL) {
		bytes = *out;
		*out = (struct buf)BUF_INIT;
	}
	const char *no = retry_refusal(c, s, false);
	if (no == NULL && s != NULL && s->received > 0 && !x->discarded)
		no = "the server had begun its answer";
	if (no == NULL && s != NULL && !replay_bytes(c, s, &bytes))
		no = "out of memory";
	buf_clear(&P.why);
	next = no ? NULL : lb_pick(x->pool, &(struct lb_req){ &c->peer, &c->req, x->tried, x->ntried },
	                           ev_now_ns(P.loop), &P.why);
	if (next == NULL || x->ntried > RETRIES_MAX) {   /* not reached: retry_refusal counted them */
		retry_refused(c, no ? no : "every server of the pool was tried");
		mem_release(&bytes);
		return 0;
	}
	if (x->counted)     /* the request leaves the failed server */
		failed->inflight -= failed->inflight > 0;
	next->inflight += x->counted;
	x->tried[x->ntried++] = next;
	x->retries++;
	if (!x->retrying)
		x->pool->retrying++;
	x->retrying = true;
	failed->stats.retries++;   /* telemetry (--admin) */
	x->discarded = false;
	uint64_t wait = backoff_ns(x);
	struct buf *e = event_begin(c, 4, "retry");
	if (e != NULL) {
		event_str(e, "failed", failed->name);
		event_str(e, "reason", why);
		event_str(e, "server_name", next->name);
		buf_puts(e, ",\"pick\":");
		buf_json_str(e, buf_begin(&P.why), buf_len(&P.why));
		event_num(e, "retry", x->retries);
		event_num(e, "backoff_ms", (double)(wait / 1000) / 1000);
		event_end(e);
	}
	log_debug("client %lu: %s failed (%s), retry %d on %s in %.3f ms", c->id, failed->name, why, x->retries,
	          next->name, (double)wait / 1e6);
	x->server = next;
	if (s != NULL) {
		c->srv = NULL;
		s->client = NULL;
		sconn_close(s, why);
	}
	if (wait == 0)
		return connect_to(c, &bytes) < 0 ? -1 : 1;
	x->resend = bytes;
	x->resume = c->state;
	x->t_retry = ev_now_ns(P.loop) + wait;
	client_enter(c, CS_BACKOFF);
	return 1;
}

int retry_resume(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf bytes = x->resend;
	x->resend = (struct buf)BUF_INIT;
	x->t_retry = 0;
	client_enter(c, x->resume);
	return connect_to(c, &bytes);
}
