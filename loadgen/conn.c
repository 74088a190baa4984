/*
 * conn.c - the client side of the seven steps, many times over: each
 * connection connects (step 1), sends its prebuilt request (step 2), and
 * reads the response (what step 7 returns), then starts over, on the same
 * connection while keep-alive holds.
 *
 * A worker thread owns an event loop, its connections and its stats.  In a
 * closed loop (the default) a connection sends its next request when the
 * loop next finds its socket writable, one turn after its response ended,
 * as wrk does: at saturation both then keep as many requests at the server
 * and their latencies compare.  In an open loop (-r) requests are due on a
 * schedule;
 * a due request goes to an idle connection, or waits for one, and its
 * latency counts from when it was due (see sched.h).
 *
 * The hot path allocates nothing: requests are prebuilt, all connections
 * read into the worker's one large buffer, and the parser's head storage
 * is reused from one response to the next.  Timeouts are found by a tick
 * that scans the connections, so no timer moves per request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"
#include "log.h"

atomic_bool lg_stop;

#define READ_BUF_SIZE (256 * 1024)

static void conn_next(struct conn *c);
static void on_io(ev_loop *loop, int fd, void *arg, int mask);
static void worker_stop(struct worker *w, uint64_t end_ns);

static const char *const state_name[] = { "idle", "connecting", "sending", "reading" };

/* The second of the measured run that now falls in (for --timeline). */
static uint64_t second_of(const struct worker *w, uint64_t now)
{
	return now > w->measure_ns ? (now - w->measure_ns) / 1000000000u : 0;
}

static void conn_set_state(struct conn *c, enum conn_state s)
{
	if (log_verbose >= 2)
		log_debug("conn %d: %s -> %s", c->fd, state_name[c->state], state_name[s]);
	c->state = s;
}

/* Closes the socket (quietly: the caller counted what needed counting)
 * and readies the parser for the next connection. */
static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		ev_unwatch(c->w->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	llhttp_reset(&c->msg.parser);
	c->msg.error[0] = '\0';
	c->msg.limit_status = 0;
	c->msg.in_message = false;
	conn_set_state(c, CONN_IDLE);
}

static void on_wake(ev_loop *loop, void *arg);

/* A request is over, one way or the other; the last one of -n ends the run. */
static void request_ended(struct worker *w)
{
	w->in_flight--;
	if (w->budget == 0 && w->in_flight == 0 && !w->stopping)
		worker_stop(w, ev_mono_ns());
}

/* The run's end has passed but its timer has not run yet: the loop was
 * late, and it serves I/O before timers, so an answer or a request due
 * may come first.  End the run now, at its time: what was in flight is
 * unanswered (not an answer uncounted and lost from the sum), and nothing
 * due after the end starts. */
static bool past_end(struct worker *w, uint64_t now)
{
	if (now < w->count_until_ns || w->stopping)
		return false;
	worker_stop(w, w->count_until_ns);
	return true;
}

/* One request ended badly: count it, drop the connection, go on.  After
 * a failure that happened at once (connect() refused on the spot) the next
 * request waits a millisecond, so a dead target cannot spin the loop. */
static void conn_fail(struct conn *c, enum err_kind kind, const char *why, bool immediate)
{
	struct worker *w = c->w;
	uint64_t now = ev_mono_ns();
	log_debug("request on conn %d (%s) failed: %s: %s", c->fd, state_name[c->state], err_key[kind], why);
	if (past_end(w, now))
		return;
	if (c->measured)
		stats_error(&w->st, kind, c->source, second_of(w, now));
	conn_close(c);
	request_ended(w);
	if (w->stopping)
		return;
	if (immediate)
		ev_timer_arm(w->loop, &c->wake, 1, on_wake, c);
	else
		conn_next(c);
}

static void on_wake(ev_loop *loop, void *arg)
{
	(void)loop;
	conn_next(arg);
}

/* STEP 2: send the request (all of it, usually, in one write). */
static void conn_write(struct conn *c)
{
	size_t len = buf_len(c->req);
	ssize_t n = send(c->fd, buf_begin(c->req) + c->sent, len - c->sent, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			ev_set_mask(c->w->loop, c->fd, EV_READ | EV_WRITE);
			return;
		}
		conn_fail(c, ERR_RESET, strerror(errno), false);
		return;
	}
	c->sent += (size_t)n;
	if (c->sent < len) {
		ev_set_mask(c->w->loop, c->fd, EV_READ | EV_WRITE);
		return;
	}
	conn_set_state(c, CONN_READING);
	ev_set_mask(c->w->loop, c->fd, EV_READ);
}

/* STEP 1: open a connection to the target, from the next --source address. */
static void conn_connect(struct conn *c)
{
	struct worker *w = c->w;
	const struct config *cfg = w->cfg;
	const struct addr *src = NULL;
	char err[NET_ERRLEN];
	if (cfg->nsources > 0) {
		c->source = w->next_source++ % cfg->nsources;
		src = &cfg->sources[c->source];
	}
	conn_set_state(c, CONN_CONNECTING);
	c->fd = net_connect(&cfg->targets[c->target].addr, src, err);
	if (c->fd < 0) {
		conn_fail(c, errno == ECONNREFUSED ? ERR_CONNECT_REFUSED : ERR_CONNECT, err, true);
		return;
	}
	if (ev_watch(w->loop, c->fd, EV_WRITE, on_io, c) < 0) {
		conn_fail(c, ERR_CONNECT, strerror(errno), true);
		return;
	}
}

static void conn_connected(struct conn *c)
{
	int e = net_connect_result(c->fd);
	if (e != 0) {
		enum err_kind k = e == ECONNREFUSED ? ERR_CONNECT_REFUSED : e == ETIMEDOUT ? ERR_CONNECT_TIMEOUT : ERR_CONNECT;
		conn_fail(c, k, strerror(e), false);
		return;
	}
	if (c->measured)
		c->w->st.conns_opened++;
	(void)net_set_nodelay(c->fd);   /* a request is one write; no delay either way */
	conn_set_state(c, CONN_SENDING);
	conn_write(c);
}

/* Starts a request on c whose latency counts from start_ns. */
static void conn_begin(struct conn *c, uint64_t start_ns, bool measured, uint64_t now)
{
	struct worker *w = c->w;
	const struct target *t = &w->cfg->targets[c->target];
	c->req = &t->reqs[w->next_req[c->target]++ % t->nreqs];   /* the URLs in turn */
	c->sent = 0;
	c->got = 0;
	c->complete = false;
	c->start_ns = start_ns;
	c->measured = measured;
	c->deadline_ns = now + w->cfg->timeout_us * 1000u;
	w->in_flight++;
	if (c->fd < 0) {
		conn_connect(c);
	} else {
		conn_set_state(c, CONN_SENDING);
		conn_write(c);
	}
}

/* May a request start now?  In a closed loop, yes until -n is reached; in
 * an open loop, if the schedule says one is due.  *start is when its
 * latency counts from. */
static bool take_request(struct worker *w, uint64_t now, uint64_t *start, bool *measured)
{
	if (w->stopping || w->budget == 0 || past_end(w, now))
		return false;
	if (w->open_loop) {
		if (!sched_take(&w->sched, now, start))
			return false;
	} else {
		*start = now;
	}
	*measured = *start >= w->measure_ns;
	if (*measured && w->budget != UINT64_MAX)
		w->budget--;
	return true;
}

/* Open loop: idle connections wait in a FIFO queue, so requests go round
 * all of them (and all targets) rather than to the one freed last. */
static void idle_push(struct worker *w, struct conn *c)
{
	c->next_idle = NULL;
	if (w->idle == NULL)
		w->idle = c;
	else
		w->idle_tail->next_idle = c;
	w->idle_tail = c;
}

static struct conn *idle_pop(struct worker *w)
{
	struct conn *c = w->idle;
	w->idle = c->next_idle;
	if (w->idle == NULL)
		w->idle_tail = NULL;
	return c;
}

/* The connection is free: give it the next request, or park it. */
static void conn_next(struct conn *c)
{
	struct worker *w = c->w;
	uint64_t now = ev_mono_ns(), start;
	bool measured;
	if (take_request(w, now, &start, &measured)) {
		conn_begin(c, start, measured, now);
		return;
	}
	if (w->open_loop && !w->stopping) {
		idle_push(w, c);
	} else if (c->fd >= 0) {
		conn_close(c);      /* closed loop and no more requests: done */
	}
}

/* A response is complete: count it, then reuse or close the connection. */
static void conn_done(struct conn *c, bool reusable)
{
	struct worker *w = c->w;
	uint64_t now = ev_mono_ns();
	if (past_end(w, now))
		return;
	if (c->measured) {
		const char *value = http_get(&c->msg, w->cfg->by_header);
		uint64_t lat = now > c->start_ns ? (now - c->start_ns + 500) / 1000 : 0;
		stats_response(&w->st, http_status(&c->msg), value, c->source, lat, second_of(w, now));
		w->st.bytes += c->got;
	}
	bool keep = reusable && w->cfg->keepalive && c->state == CONN_READING && http_keep_alive(&c->msg);
	if (keep) {
		http_msg_resume(&c->msg);
		conn_set_state(c, CONN_IDLE);
	} else {
		conn_close(c);
	}
	request_ended(w);
	if (w->stopping)
		return;
	if (w->open_loop || c->fd < 0)
		conn_next(c);
	else   /* closed loop: the next request goes when the loop comes back */
		ev_set_mask(w->loop, c->fd, EV_READ | EV_WRITE);
}

/* The peer closed its side. */
static void conn_eof(struct conn *c)
{
	if (c->state == CONN_IDLE) {
		conn_close(c);      /* an idle keep-alive connection timed out: fine */
		return;
	}
	(void)http_msg_finish(&c->msg);   /* a body read until close ends here */
	if (c->complete) {
		conn_done(c, false);
		return;
	}
	conn_fail(c, ERR_CLOSED, c->got == 0 ? "closed before responding" : "closed in the middle of the response",
	          false);
}

/* STEP 7 as the client sees it: read the response into the worker's
 * buffer and let llhttp find where it ends. */
static void conn_read(struct conn *c)
{
	struct worker *w = c->w;
	ssize_t n = read(c->fd, w->rbuf, w->rbuf_len);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (c->state == CONN_IDLE)
			conn_close(c);
		else
			conn_fail(c, ERR_RESET, strerror(errno), false);
		return;
	}
	if (n == 0) {
		conn_eof(c);
		return;
	}
	if (c->state == CONN_IDLE) {     /* bytes nobody asked for */
		log_debug("conn %d: %zd unsolicited bytes; closing", c->fd, n);
		conn_close(c);
		return;
	}
	c->got += (uint64_t)n;
	size_t used;
	llhttp_errno_t e = http_msg_feed(&c->msg, w->rbuf, (size_t)n, &used);
	if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
		/* Bytes after the response were not asked for: do not reuse. */
		conn_done(c, e == HPE_PAUSED && used == (size_t)n);
		return;
	}
	if (e != HPE_OK)
		conn_fail(c, ERR_MALFORMED, c->msg.error, false);
}

static void dispatch(struct worker *w);

static void on_io(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)fd;
	struct conn *c = arg;
	struct worker *w = c->w;
	switch (c->state) {
	case CONN_CONNECTING:
		conn_connected(c);
		break;
	case CONN_SENDING:
		/* The server may answer (413, 431, ...) before taking it all. */
		if (mask & EV_READ) {
			conn_read(c);
			if (c->fd < 0 || c->state != CONN_SENDING)
				break;
		}
		if (mask & EV_WRITE)
			conn_write(c);
		break;
	case CONN_READING:
		conn_read(c);
		break;
	case CONN_IDLE:
		if (mask & EV_READ)
			conn_read(c);   /* the server closed, or sent what nobody asked */
		if (w->open_loop || c->state != CONN_IDLE || (c->fd >= 0 && !(mask & EV_WRITE)))
			break;
		/* Closed loop: the turn for the next request, on this connection
		 * or, if the server just closed it, on a new one (else this
		 * connection would sit out the rest of the run). */
		if (c->fd >= 0)
			ev_set_mask(loop, c->fd, EV_READ);
		conn_next(c);
		break;
	default:
		abort();
	}
	if (w->open_loop && w->idle != NULL && !w->stopping)
		dispatch(w);
}

/* ---- parser hooks ----------------------------------------------------------- */

static int on_headers(struct http_msg *m)
{
	struct conn *c = m->user;
	return c->w->cfg->head ? 1 : 0;    /* a response to HEAD has no body */
}

static int on_complete(struct http_msg *m)
{
	struct conn *c = m->user;
	int status = http_status(m);
	if (status >= 100 && status < 200 && status != 101)
		return 0;                      /* an interim response: the real one follows */
	c->complete = true;
	return HPE_PAUSED;                 /* one response at a time */
}

/* ---- the worker ------------------------------------------------------------- */

/* Open loop: due requests go to idle connections as soon as the loop
 * notices them: after every I/O event (when the loop is busy, which is
 * when requests are due every few microseconds) and on a timerfd when it
 * would otherwise sleep.  The timerfd, not an ev_timer: poll() sleeps in
 * whole milliseconds, and a request sent up to 1 ms late adds that to a
 * latency measured from its intended time.  It is re-armed only when it
 * has fired or would fire too late, and never closer than SCHED_GAP_NS
 * ahead, so that a high rate does not cost two system calls per request. */
#define SCHED_GAP_NS 20000u

static void sched_arm(struct worker *w, uint64_t now)
{
	uint64_t at = sched_next(&w->sched);
	if (at < now + SCHED_GAP_NS)
		at = now + SCHED_GAP_NS;
	if (w->sched_armed_ns > now && w->sched_armed_ns <= at)
		return;                        /* it will fire in time; then we look again */
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(at / 1000000000u), .tv_nsec = (long)(at % 1000000000u) },
	};
	if (timerfd_settime(w->sched_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		w->error = errno;
		worker_stop(w, ev_mono_ns());
		return;
	}
	w->sched_armed_ns = at;
}

static void dispatch(struct worker *w)
{
	uint64_t now = ev_mono_ns(), start;
	bool measured;
	while (w->idle != NULL && take_request(w, now, &start, &measured))
		conn_begin(idle_pop(w), start, measured, now);
	if (!w->stopping && w->budget > 0)
		sched_arm(w, now);
}

static void on_schedule(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)loop;
	(void)mask;
	struct worker *w = arg;
	uint64_t expirations;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("read timerfd: %s", strerror(errno));
	w->sched_armed_ns = 0;
	dispatch(w);
}

static void on_tick(ev_loop *loop, void *arg)
{
	struct worker *w = arg;
	uint64_t now = ev_now_ns(loop);
	atomic_store_explicit(&w->live_requests, w->st.requests, memory_order_relaxed);
	atomic_store_explicit(&w->live_errors, stats_errors(&w->st), memory_order_relaxed);
	if (atomic_load(&lg_stop)) {
		worker_stop(w, now);
		return;
	}
	for (size_t i = 0; i < w->nconns && !w->stopping; i++) {
		struct conn *c = &w->conns[i];
		if (c->state == CONN_IDLE || now < c->deadline_ns)
			continue;
		if (c->state == CONN_CONNECTING)
			conn_fail(c, ERR_CONNECT_TIMEOUT, "no connection within --timeout", false);
		else
			conn_fail(c, ERR_TIMEOUT, "no complete response within --timeout", false);
	}
	if (!w->stopping)
		ev_timer_arm_at(loop, &w->tick, now + w->tick_ns, on_tick, w);
}

static void on_end(ev_loop *loop, void *arg)
{
	(void)loop;
	struct worker *w = arg;
	worker_stop(w, w->end_timer.when_ns);
}

/* Ends the run: requests in flight are dropped uncounted (as wrk does), so
 * the counts cover exactly [measure_ns, end_ns); how many were dropped
 * (and, in an open loop, were due but waited for a connection) is told. */
static void worker_stop(struct worker *w, uint64_t end_ns)
{
	if (w->stopping)
		return;
	w->stopping = true;
	w->end_ns = end_ns;
	if (w->open_loop)
		w->st.unanswered += sched_due(&w->sched, end_ns - 1);   /* due in [.., end_ns) */
	for (size_t i = 0; i < w->nconns; i++) {
		if (w->conns[i].state != CONN_IDLE && w->conns[i].measured)
			w->st.unanswered++;
		ev_timer_stop(w->loop, &w->conns[i].wake);
		conn_close(&w->conns[i]);
	}
	w->idle = w->idle_tail = NULL;
	if (w->sched_fd >= 0) {
		ev_unwatch(w->loop, w->sched_fd);
		close(w->sched_fd);
		w->sched_fd = -1;
	}
	ev_timer_stop(w->loop, &w->tick);
	ev_timer_stop(w->loop, &w->end_timer);
	slow_finish(w);
	atomic_store_explicit(&w->live_requests, w->st.requests, memory_order_relaxed);
	atomic_store_explicit(&w->live_errors, stats_errors(&w->st), memory_order_relaxed);
	ev_stop(w->loop);
}

static uint64_t share(uint64_t total, size_t parts, size_t i)
{
	return total / parts + (i < total % parts ? 1 : 0);
}

int worker_init(struct worker *w, const struct config *cfg, size_t id, uint64_t t0_ns, int done_fd)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->id = id;
	w->done_fd = done_fd;
	w->hooks.on_headers = on_headers;
	w->hooks.on_complete = on_complete;
	if (stats_init(&w->st, cfg->nsources, cfg->timeline) < 0)
		return -1;
	w->loop = ev_new();
	w->rbuf_len = READ_BUF_SIZE;
	w->rbuf = malloc(w->rbuf_len);
	w->nconns = share(cfg->conns, cfg->threads, id);
	w->conns = calloc(w->nconns ? w->nconns : 1, sizeof(*w->conns));
	w->next_req = calloc(cfg->ntargets, sizeof(*w->next_req));
	if (w->loop == NULL || w->rbuf == NULL || w->conns == NULL || w->next_req == NULL)
		return -1;
	size_t first = 0;            /* this worker's first connection, counted over all workers */
	for (size_t i = 0; i < id; i++)
		first += share(cfg->conns, cfg->threads, i);
	for (size_t i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		c->w = w;
		c->fd = -1;
		c->target = (first + i) % cfg->ntargets;
		ev_timer_init(&c->wake);
		http_msg_init(&c->msg, HTTP_RESPONSE, &w->hooks, c);
	}
	w->budget = cfg->requests ? share(cfg->requests, cfg->threads, id) : UINT64_MAX;
	w->start_ns = t0_ns;
	w->measure_ns = t0_ns + cfg->warmup_us * 1000u;
	w->count_until_ns = cfg->duration_us ? w->measure_ns + cfg->duration_us * 1000u : UINT64_MAX;
	w->open_loop = cfg->rate > 0;
	w->sched_fd = -1;
	if (w->open_loop) {
		w->sched_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (w->sched_fd < 0 || ev_watch(w->loop, w->sched_fd, EV_READ, on_schedule, w) < 0)
			return -1;
	}
	if (w->open_loop)
		sched_init(&w->sched, t0_ns + (uint64_t)((double)id * 1e9 / cfg->rate), cfg->rate / (double)cfg->threads);
	uint64_t tick_us = cfg->timeout_us / 20;
	tick_us = tick_us < 10000 ? 10000 : tick_us > 100000 ? 100000 : tick_us;
	w->tick_ns = tick_us * 1000u;
	ev_timer_init(&w->tick);
	ev_timer_init(&w->end_timer);
	return 0;
}

void *worker_run(void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = w->cfg;
	uint64_t now = ev_update_time(w->loop);
	ev_timer_arm_at(w->loop, &w->tick, now + w->tick_ns, on_tick, w);
	if (cfg->requests == 0 || cfg->duration_us > 0)
		ev_timer_arm_at(w->loop, &w->end_timer, w->count_until_ns, on_end, w);
	if (w->id == 0 && cfg->slow_conns > 0 && slow_start(w) < 0)
		w->error = errno;
	if (w->budget == 0 || w->error) {
		worker_stop(w, now);
	} else if (w->open_loop) {
		for (size_t i = 0; i < w->nconns; i++)
			idle_push(w, &w->conns[i]);
		dispatch(w);
	} else {
		for (size_t i = 0; i < w->nconns && !w->stopping; i++)
			conn_next(&w->conns[i]);
	}
	if (ev_run(w->loop) < 0 && w->error == 0)
		w->error = errno;
	if (!w->stopping)
		worker_stop(w, ev_mono_ns());
	unsigned char one = 1;
	while (write(w->done_fd, &one, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

void worker_free(struct worker *w)
{
	for (size_t i = 0; i < w->nconns; i++) {
		if (w->conns[i].fd >= 0)
			close(w->conns[i].fd);
		http_msg_free(&w->conns[i].msg);
	}
	free(w->conns);
	free(w->next_req);
	free(w->rbuf);
	slow_finish(w);
	free(w->slow);
	if (w->sched_fd >= 0)
		close(w->sched_fd);
	ev_free(w->loop);
	stats_free(&w->st);
}
