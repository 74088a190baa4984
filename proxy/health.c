/*
 * health.c - step 6 feeding step 3: whether a server takes requests.
 *
 * Outlier ejection, from the traffic itself: --max-fails failures in a row
 * (no answer, a timeout, a --retry-on status) eject a server for
 * --fail-timeout; an ejection that comes soon after the last one lasts
 * longer (2x, 3x, ..., at most --fail-timeout-max), and each quiet spell of
 * --fail-timeout since its return forgives one, as Envoy does.  At most
 * --max-ejected of a pool is out at once, and never its last server: a
 * proxy that ejects everything has turned a slow pool into a dead one.
 * When its time is over the server comes back on probation: one more
 * failure ejects it again, one answer ends its run of failures.
 *
 * Active checks (--health-check PATH): every --health-interval each server
 * gets "GET PATH" on a connection of its own; a 2xx or 3xx status passes.
 * --health-fall failures in a row take the server out, --health-rise
 * passes bring it back.  Each check's life is a small state table, applied
 * by check_refresh() alone, as for the client and server connections.
 *
 * One timer re-admits ejected servers when their time is over, so the log
 * and the events say when it happens; schedule() alone arms it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"

#define MS            1000000u   /* nanoseconds */
#define CHECK_LINE_MAX 1024      /* a check's status line, at most */

static struct pool *pool_of(const struct server *s)
{
	for (size_t p = 0; p < P.cfg->npools; p++) {
		struct pool *pl = &P.cfg->pools[p];
		if (s >= pl->servers && s < pl->servers + pl->nservers)
			return pl;
	}
	return NULL;   /* not reached: every server is in a pool */
}

static bool out_of_pool(const struct server *s, uint64_t now)
{
	return s->down_until > now || s->check_down;
}

const char *health_state(const struct server *s, uint64_t now, uint64_t *left)
{
	*left = s->down_until > now ? (s->down_until - now + 999999999) / 1000000000 : 0;
	return *left > 0 ? "ejected" : s->check_down ? "down" : "up";
}

/* pool->nout: how many of its servers are out now (lb_pick's fast path). */
static void count_out(struct pool *pl, uint64_t now)
{
	pl->nout = 0;
	for (size_t i = 0; i < pl->nservers; i++)
		pl->nout += out_of_pool(&pl->servers[i], now);
}

/* ---- outlier ejection ------------------------------------------------------- */

static ev_timer readmit_timer;
static void on_readmit(ev_loop *loop, void *arg);

/* Arms the re-admission timer for the first ejection to end, if any. */
static void schedule(void)
{
	uint64_t next = 0;
	for (size_t p = 0; p < P.cfg->npools; p++)
		for (size_t i = 0; i < P.cfg->pools[p].nservers; i++) {
			uint64_t t = P.cfg->pools[p].servers[i].down_until;
			if (t != 0 && (next == 0 || t < next))
				next = t;
		}
	if (next != 0)
		ev_timer_arm_at(P.loop, &readmit_timer, next, on_readmit, NULL);
	else
		ev_timer_stop(P.loop, &readmit_timer);
}

/* How long ejection number n lasts: --fail-timeout x n, at most the max. */
static uint64_t ejection_ms(unsigned n)
{
	uint64_t ms = P.cfg->fail_timeout * n;
	return ms < P.cfg->fail_timeout_max ? ms : P.cfg->fail_timeout_max;
}

/* The ejection is over: back in the pool, on probation. */
static void readmit(struct pool *pl, struct server *s, uint64_t now)
{
	char d[24];
	config_ms_str(ejection_ms(s->ejected_in_row), d);
	s->down_until = 0;
	s->admitted_at = now;
	s->fails = P.cfg->max_fails > 0 ? (unsigned)P.cfg->max_fails - 1 : 0;
	count_out(pl, now);
	log_warn("server %s back in pool %s after %s ejected: on probation, one more failure ejects it again",
	         s->name, pl->name, d);
	struct buf *e = event_begin(NULL, 6, "server-up");
	if (e != NULL) {
		event_str(e, "server_name", s->name);
		event_str(e, "reason", "ejection over");
		event_num(e, "ejection", s->ejected_in_row);
		event_end(e);
	}
}

static void on_readmit(ev_loop *loop, void *arg)
{
	(void)arg;
	uint64_t now = ev_now_ns(loop);
	for (size_t p = 0; p < P.cfg->npools; p++)
		for (size_t i = 0; i < P.cfg->pools[p].nservers; i++) {
			struct server *s = &P.cfg->pools[p].servers[i];
			if (s->down_until != 0 && s->down_until <= now)
				readmit(&P.cfg->pools[p], s, now);
		}
	schedule();
}

/* --max-ejected: may s go out too?  At most that share of the pool (at
 * least one server) is out at once, never the last one. */
static bool may_eject(const struct pool *pl, const struct server *s, uint64_t now, unsigned *out)
{
	size_t allowed = pl->nservers * P.cfg->max_ejected / 100;
	if (allowed < 1)
		allowed = 1;
	if (allowed > pl->nservers - 1)
		allowed = pl->nservers - 1;
	*out = 0;
	for (size_t i = 0; i < pl->nservers; i++)
		*out += out_of_pool(&pl->servers[i], now);
	return s->check_down || *out + 1 <= allowed;
}

static void eject(struct client *c, struct pool *pl, struct server *s, const char *why, uint64_t now)
{
	const struct config *cfg = P.cfg;
	if (s->down_until != 0)   /* its last ejection ended, the timer has not said so yet */
		readmit(pl, s, now);
	/* each quiet spell of --fail-timeout since it came back forgives one */
	unsigned n = s->ejected_in_row;
	if (s->admitted_at != 0) {
		uint64_t forgiven = (now - s->admitted_at) / (cfg->fail_timeout * MS);
		n = forgiven < n ? n - (unsigned)forgiven : 0;
	}
	s->ejected_in_row = ++n;
	uint64_t ms = ejection_ms(n);
	s->down_until = now + ms * MS;
	s->eject_refused = false;
	s->stats.ejections++;   /* telemetry (--admin) */
	count_out(pl, now);
	char d[24];
	log_warn("server %s ejected for %s (ejection %u in a row): %u failures in a row, the last: %s", s->name,
	         config_ms_str(ms, d), n, s->fails, why);
	struct buf *e = event_begin(c, 6, "server-down");
	if (e != NULL) {
		event_str(e, "server_name", s->name);
		event_num(e, "fails", s->fails);
		event_str(e, "reason", why);
		event_num(e, "ms", (double)ms);
		event_num(e, "ejection", n);
		event_end(e);
	}
	schedule();
}

void health_failed(struct client *c, struct server *s, const char *why)
{
	const struct config *cfg = P.cfg;
	uint64_t now = ev_now_ns(P.loop);
	if (cfg->max_fails == 0 || ++s->fails < cfg->max_fails || s->down_until > now)
		return;
	struct pool *pl = pool_of(s);
	unsigned out;
	if (may_eject(pl, s, now, &out)) {
		eject(c, pl, s, why, now);
	} else if (!s->eject_refused) {   /* said once per run of failures */
		s->eject_refused = true;
		log_warn("server %s not ejected after %u failures in a row: %u of pool %s's %zu servers are out "
		         "(--max-ejected %llu%%, never the last)", s->name, s->fails, out, pl->name, pl->nservers,
		         (unsigned long long)cfg->max_ejected);
		struct buf *e = event_begin(c, 6, "server-kept");
		if (e != NULL) {
			event_str(e, "server_name", s->name);
			event_num(e, "fails", s->fails);
			event_num(e, "out", out);
			event_str(e, "reason", "max-ejected");
			event_end(e);
		}
	}
}

void health_ok(struct server *s)
{
	s->fails = 0;
	s->eject_refused = false;
}

/* ---- active checks ---------------------------------------------------------- */

enum check_state {
	HC_WAIT,        /* for the next check (its timer: when it starts)           */
	HC_CONNECT,     /* connecting (its timer, and the next two: --health-timeout) */
	HC_SEND,        /* sending "GET PATH"                                        */
	HC_READ,        /* reading the status line                                   */
};

static const struct { const char *name; int events; } check_states[] = {
	[HC_WAIT]    = { "wait",    0 },
	[HC_CONNECT] = { "connect", EV_WRITE },
	[HC_SEND]    = { "send",    EV_WRITE },
	[HC_READ]    = { "read",    EV_READ },
};

struct health_check {
	struct server *server;
	struct pool *pool;
	enum check_state state;
	int fd;                    /* -1 while waiting                               */
	uint64_t t_start;          /* this check's start; the next one's (HC_WAIT)   */
	struct buf out, in;
	ev_timer timer;
};

static void on_check_timer(ev_loop *loop, void *arg);
static void on_check_io(ev_loop *loop, int fd, void *arg, int mask);

/* The one place a check's poll interest and timer are set, from its row. */
static void check_refresh(struct health_check *hc)
{
	if (hc->fd >= 0)
		ev_set_mask(P.loop, hc->fd, check_states[hc->state].events);
	uint64_t when = hc->state == HC_WAIT ? hc->t_start : hc->t_start + P.cfg->health_timeout * MS;
	ev_timer_arm_at(P.loop, &hc->timer, when, on_check_timer, hc);
}

static void check_enter(struct health_check *hc, enum check_state st)
{
	if (hc->state != st)
		log_debug("health check %s: %s -> %s", hc->server->name, check_states[hc->state].name,
		          check_states[st].name);
	hc->state = st;
	check_refresh(hc);
}

static void check_close(struct health_check *hc)
{
	if (hc->fd >= 0) {
		ev_unwatch(P.loop, hc->fd);
		close(hc->fd);
		hc->fd = -1;
	}
	buf_free(&hc->in);
	buf_free(&hc->out);
}

/* A check's result: the run of passes or failures, and the server in or
 * out when it reaches --health-rise or --health-fall. */
static void check_result(struct health_check *hc, bool pass, const char *what)
{
	const struct config *cfg = P.cfg;
	struct server *s = hc->server;
	s->stats.checks[pass]++;
	s->check_run = s->check_passed == pass ? s->check_run + 1 : 1;
	s->check_passed = pass;
	log_debug("health check %s: %s (%u in a row)", s->name, what, s->check_run);
	bool flip = pass ? s->check_down && s->check_run >= cfg->health_rise
	                 : !s->check_down && s->check_run >= cfg->health_fall;
	if (!flip)
		return;
	s->check_down = !pass;
	count_out(hc->pool, ev_now_ns(P.loop));
	char reason[160];
	snprintf(reason, sizeof(reason), "health check GET %s: %s, %u %s in a row", cfg->health_check, what,
	         s->check_run, pass ? (s->check_run > 1 ? "passes" : "pass") : (s->check_run > 1 ? "failures" : "failure"));
	log_warn("server %s %s: %s", s->name, pass ? "up" : "down", reason);
	struct buf *e = event_begin(NULL, 6, pass ? "server-up" : "server-down");
	if (e != NULL) {
		event_str(e, "server_name", s->name);
		event_str(e, "reason", reason);
		event_end(e);
	}
}

/* The check ended: its result, then wait for the next (one interval after
 * this one began, or now if it took longer). */
static void check_done(struct health_check *hc, bool pass, const char *what)
{
	uint64_t now = ev_now_ns(P.loop), next = hc->t_start + P.cfg->health_interval * MS;
	check_close(hc);
	check_result(hc, pass, what);
	hc->t_start = next > now ? next : now;
	check_enter(hc, HC_WAIT);
}

static void check_begin(struct health_check *hc)
{
	const struct config *cfg = P.cfg;
	char err[NET_ERRLEN];
	hc->t_start = ev_now_ns(P.loop);
	hc->fd = net_connect(&hc->server->addr, cfg->has_source ? &cfg->source : NULL, err);
	if (hc->fd < 0) {
		check_done(hc, false, err);
		return;
	}
	if (ev_watch(P.loop, hc->fd, 0, on_check_io, hc) < 0 ||
	    buf_printf(&hc->out, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: l7lab-proxy health check\r\n"
	               "Connection: close\r\n\r\n", cfg->health_check, hc->server->addr_s) < 0) {
		check_done(hc, false, "out of memory");
		return;
	}
	check_enter(hc, HC_CONNECT);
}

static void on_check_timer(ev_loop *loop, void *arg)
{
	(void)loop;
	struct health_check *hc = arg;
	if (hc->state == HC_WAIT) {
		check_begin(hc);
		return;
	}
	char what[64], d[24];
	snprintf(what, sizeof(what), "no answer within %s", config_ms_str(P.cfg->health_timeout, d));
	check_done(hc, false, what);
}

/* "HTTP/1.1 200 OK": 2xx and 3xx pass. */
static void check_status_line(struct health_check *hc, const char *line, size_t len)
{
	char what[64];
	int st = status_line_code(line, len > 0 && line[len - 1] == '\r' ? len - 1 : len);
	if (st < 100) {
		check_done(hc, false, "not an HTTP/1.x status line");
		return;
	}
	snprintf(what, sizeof(what), "status %d", st);
	check_done(hc, st >= 200 && st < 400, what);
}

static void on_check_io(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)loop;
	(void)mask;
	struct health_check *hc = arg;
	char why[NET_ERRLEN + 32];
	if (hc->state == HC_CONNECT) {
		int err = net_connect_result(fd);
		if (err != 0) {
			snprintf(why, sizeof(why), "connect: %s", strerror(err));
			check_done(hc, false, why);
			return;
		}
		check_enter(hc, HC_SEND);
	}
	if (hc->state == HC_SEND) {
		while (buf_len(&hc->out) > 0)
			if (buf_write_fd(&hc->out, fd) < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return;
				snprintf(why, sizeof(why), "send: %s", strerror(errno));
				check_done(hc, false, why);
				return;
			}
		check_enter(hc, HC_READ);
		return;
	}
	if (hc->state != HC_READ)
		return;
	ssize_t n = buf_read_fd(&hc->in, fd, CHECK_LINE_MAX + 1 - buf_len(&hc->in));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	const char *p = buf_begin(&hc->in), *eol = memchr(p, '\n', buf_len(&hc->in));
	if (eol != NULL)
		check_status_line(hc, p, (size_t)(eol - p));
	else if (n <= 0)
		check_done(hc, false, n == 0 ? "closed before a status line" : strerror(errno));
	else if (buf_len(&hc->in) > CHECK_LINE_MAX)
		check_done(hc, false, "no status line in the first 1 KiB");
}

int health_start(void)
{
	const struct config *cfg = P.cfg;
	ev_timer_init(&readmit_timer);
	if (cfg->health_check == NULL)
		return 0;
	size_t total = 0, k = 0;
	for (size_t p = 0; p < cfg->npools; p++)
		total += cfg->pools[p].nservers;
	uint64_t now = ev_now_ns(P.loop);
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers; i++, k++) {
			struct server *s = &cfg->pools[p].servers[i];
			struct health_check *hc = calloc(1, sizeof(*hc));
			if (hc == NULL)
				return -1;
			*hc = (struct health_check){ .server = s, .pool = &cfg->pools[p], .fd = -1, .state = HC_WAIT,
			                             .in = BUF_INIT, .out = BUF_INIT };
			/* servers start up; their first checks spread over one interval */
			s->check = hc;
			s->check_passed = true;
			s->check_run = (unsigned)cfg->health_rise;
			hc->t_start = now + cfg->health_interval * MS * k / total;
			check_refresh(hc);
		}
	return 0;
}

void health_stop(void)
{
	ev_timer_stop(P.loop, &readmit_timer);
	for (size_t p = 0; p < P.cfg->npools; p++)
		for (size_t i = 0; i < P.cfg->pools[p].nservers; i++) {
			struct server *s = &P.cfg->pools[p].servers[i];
			if (s->check == NULL)
				continue;
			check_close(s->check);
			ev_timer_stop(P.loop, &s->check->timer);
			free(s->check);
			s->check = NULL;
		}
}
