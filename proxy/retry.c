/*
 * retry.c - step 4 again, when step 6 finds that the server failed before
 * its response: the one rule for sending a request again, the one retry of
 * the keep-alive race (same server, new connection), and --retries on
 * another server: never one the request tried, within the pool's retry
 * budget (--retry-budget), before --timeout-request, after a random backoff
 * (the client's CS_BACKOFF state, whose timer client.c's table arms).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb.h"
#include "log.h"
#include "proxy.h"

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
