/*
 * limits.c - STEPS 1 and 2: the per-client limits (iplimit.c's table) wired
 * into the proxy, and the one place where a refusal is counted and told.
 *
 *   step 1  limits_connect      --max-conns-per-ip, --conn-rate-per-ip
 *           limits_disconnect   from client_close: once per client let in
 *   step 2  limits_request      --req-rate-per-ip: 429 with Retry-After
 *   1, 2    refuse              P.refused[] (SIGUSR1, --admin) and the event
 *
 * A client over a step-1 limit is closed at once, before a byte of it is
 * read, as HAProxy's "tcp-request connection reject" does: an answer would
 * need its request read first (else the close resets the connection and
 * the answer with it), and so the buffers and the time that the limit is
 * there to save.  A request over --req-rate-per-ip is the client's to slow
 * down, so it gets 429 and how long to wait (nginx's limit_req answers 503
 * by default, without Retry-After).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "proxy.h"

const struct refusal_info refusals[REFUSE__COUNT] = {
	[REFUSE_DENY]           = { 1, "deny" },
	[REFUSE_MAX_CONNS]      = { 1, "max-conns" },
	[REFUSE_CONNS_PER_IP]   = { 1, "max-conns-per-ip" },
	[REFUSE_CONN_RATE]      = { 1, "conn-rate-per-ip" },
	[REFUSE_TABLE_FULL]     = { 1, "limits-table-full" },
	[REFUSE_REQ_RATE]       = { 2, "req-rate-per-ip" },
	[REFUSE_TIMEOUT_HEADER] = { 2, "timeout-header" },
	[REFUSE_BODY_STALLED]   = { 2, "timeout-client" },
	[REFUSE_MIN_BODY_RATE]  = { 2, "min-body-rate" },
	[REFUSE_TIMEOUT_BODY]   = { 2, "timeout-body" },
};

int limits_start(void)
{
	struct iplimit_config lc = P.cfg->per_ip;
	unsigned char key[16];
	ssize_t n;
	if (!iplimit_enabled(&lc))
		return 0;
	/* Every open connection's group and as many idle ones: a group with
	 * connections open is never forgotten, an idle one keeps its rates. */
	lc.max_clients = P.cfg->max_conns * 2 > LIMITS_CLIENTS_DEFAULT ? P.cfg->max_conns * 2 : LIMITS_CLIENTS_DEFAULT;
	while ((n = getrandom(key, sizeof(key), 0)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(key)) {
		log_warn("per-client limits: getrandom: %s", n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	if ((P.limits = iplimit_new(&lc, key)) == NULL) {
		log_warn("per-client limits: out of memory for %zu clients", lc.max_clients);
		return -1;
	}
	return 0;
}

void limits_stop(void)
{
	iplimit_free(P.limits);
	P.limits = NULL;
}

void refuse(struct client *c, const struct addr *peer, enum refusal why, unsigned retry_after, const char *detail)
{
	const struct refusal_info *r = &refusals[why];
	char s[ADDR_STRLEN], g[IPLIMIT_GROUP_STRLEN];
	P.refused[why]++;
	if (c != NULL)
		peer = &c->peer;
	addr_format(peer, s);
	log_debug("client %s: refused at step %d: %s%s%s", s, r->step, r->name, detail ? ": " : "", detail ? detail : "");
	struct buf *e = c ? event_begin(c, r->step, "limit")
	                  : event_begin_peer(s, r->step, why == REFUSE_DENY ? "deny" : "limit");
	if (e == NULL)
		return;
	event_str(e, "reason", r->name);
	if (P.limits != NULL && why >= REFUSE_CONNS_PER_IP && why <= REFUSE_REQ_RATE)
		event_str(e, "group", iplimit_group_format(P.limits, peer, g));
	if (retry_after > 0)
		event_num(e, "retry_after", retry_after);
	if (detail != NULL)
		event_str(e, "detail", detail);
	event_end(e);
}

bool limits_connect(const struct addr *peer)
{
	const struct iplimit_config *l = &P.cfg->per_ip;
	char detail[96], rate[LIMIT_RATE_STRLEN];
	unsigned wait = 0;
	if (P.limits == NULL)
		return true;
	switch (iplimit_connect(P.limits, peer, ev_now_ns(P.loop), &wait)) {
	case LIMIT_OK:
		return true;
	case LIMIT_CONNS:
		snprintf(detail, sizeof(detail), "%u connections open already", l->max_conns);
		refuse(NULL, peer, REFUSE_CONNS_PER_IP, 0, detail);
		return false;
	case LIMIT_CONN_RATE:
		snprintf(detail, sizeof(detail), "connecting faster than %s", limit_rate_format(&l->conn_rate, rate));
		refuse(NULL, peer, REFUSE_CONN_RATE, wait, detail);
		return false;
	default:
		refuse(NULL, peer, REFUSE_TABLE_FULL, 0, "every client tracked has connections open");
		return false;
	}
}

void limits_disconnect(const struct addr *peer)
{
	if (P.limits != NULL)
		iplimit_disconnect(P.limits, peer);
}

bool limits_request(struct client *c)
{
	const struct limit_rate *r = &P.cfg->per_ip.req_rate;
	char rate[LIMIT_RATE_STRLEN], g[IPLIMIT_GROUP_STRLEN], detail[64];
	unsigned wait = 0;
	if (P.limits == NULL || r->interval_ns == 0 ||
	    iplimit_request(P.limits, &c->peer, ev_now_ns(P.loop), &wait) != LIMIT_REQ_RATE)
		return true;
	limit_rate_format(r, rate);
	snprintf(c->x.err, sizeof(c->x.err), "req-rate-per-ip: %s over %s, retry after %u s",
	         iplimit_group_format(P.limits, &c->peer, g), rate, wait);
	snprintf(detail, sizeof(detail), "requests faster than %s", rate);
	c->x.retry_after = wait;
	refuse(c, NULL, REFUSE_REQ_RATE, wait, detail);
	return false;
}
