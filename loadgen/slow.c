/*
 * slow.c - --slow CONNS:BYTES_PER_S: slowloris connections beside the
 * normal load.  Each one connects and sends the request head a few bytes
 * at a time, to see what the server (the proxy, at step 2) does about a
 * client that takes forever: answer 408 and close, close silently, or wait
 * until it is all there.  When one ends, another takes its place, so CONNS
 * of them are open all along.  They run on worker 0's loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadgen.h"
#include "log.h"

#define SLOW_REOPEN_NS 100000000u   /* a slot opens at most every 100 ms */

enum slow_state { SLOW_S_IDLE, SLOW_S_CONNECTING, SLOW_S_SENDING, SLOW_S_WAITING };

struct slow_conn {
	struct worker *w;
	int fd;
	enum slow_state state;
	size_t sent;
	uint64_t opened_ns;       /* connect() started     */
	uint64_t sending_ns;      /* the first byte went   */
	ev_timer timer;           /* next bytes, timeouts, reopening */
	struct http_msg msg;
	bool complete;
};

static void slow_open(ev_loop *loop, void *arg);
static void slow_io(ev_loop *loop, int fd, void *arg, int mask);

static const struct buf *slow_req(const struct slow_conn *s)
{
	return &s->w->cfg->targets[0].reqs[0];
}

static void slow_close(struct slow_conn *s)
{
	if (s->fd >= 0) {
		ev_unwatch(s->w->loop, s->fd);
		close(s->fd);
		s->fd = -1;
	}
	ev_timer_stop(s->w->loop, &s->timer);
	llhttp_reset(&s->msg.parser);
	s->msg.error[0] = '\0';
	s->state = SLOW_S_IDLE;
}

/* Records how the connection ended and opens its successor. */
static void slow_end(struct slow_conn *s, enum slow_outcome o, int status)
{
	struct worker *w = s->w;
	uint64_t now = ev_mono_ns();
	log_debug("slow connection %d: %s (status %d) after %.3f s", s->fd, slow_key[o], status,
	          (double)(now - s->opened_ns) / 1e9);
	stats_slow(&w->st, o, status, (double)(now - s->opened_ns) / 1e9);
	uint64_t opened = s->opened_ns;
	slow_close(s);
	if (!w->stopping) {
		uint64_t at = opened + SLOW_REOPEN_NS > now ? opened + SLOW_REOPEN_NS : now;
		ev_timer_arm_at(w->loop, &s->timer, at, slow_open, s);
	}
}

/* The next few bytes: as many as BYTES_PER_S allows since sending began
 * (one at once, so the server sees a client that has started). */
static void slow_send(ev_loop *loop, void *arg)
{
	struct slow_conn *s = arg;
	const struct config *cfg = s->w->cfg;
	const struct buf *req = slow_req(s);
	uint64_t now = ev_mono_ns();
	uint64_t due = (uint64_t)((double)(now - s->sending_ns) * (double)cfg->slow_bps / 1e9) + 1;
	if (due > buf_len(req))
		due = buf_len(req);
	if (due > s->sent) {
		ssize_t n = send(s->fd, buf_begin(req) + s->sent, due - s->sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			slow_end(s, errno == EPIPE ? SLOW_CLOSED : SLOW_RESET, 0);
			return;
		}
		if (n > 0)
			s->sent += (size_t)n;
	}
	if (s->sent == buf_len(req)) {
		s->state = SLOW_S_WAITING;
		ev_timer_arm_at(loop, &s->timer, now + cfg->timeout_us * 1000u, slow_open, s);
		return;
	}
	uint64_t period = 1000000000u / cfg->slow_bps;
	if (period < 100000000u)
		period = 100000000u;
	ev_timer_arm_at(loop, &s->timer, now + period, slow_send, s);
}

static void slow_read(struct slow_conn *s)
{
	struct worker *w = s->w;
	ssize_t n = read(s->fd, w->rbuf, w->rbuf_len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			slow_end(s, SLOW_RESET, 0);
		return;
	}
	llhttp_errno_t e;
	if (n == 0)
		e = http_msg_finish(&s->msg);
	else
		e = http_msg_feed(&s->msg, w->rbuf, (size_t)n, NULL);
	if (s->complete) {
		bool early = s->state == SLOW_S_SENDING;
		s->complete = false;
		slow_end(s, early ? SLOW_ANSWERED : SLOW_COMPLETED, http_status(&s->msg));
	} else if (n == 0 || (e != HPE_OK && e != HPE_PAUSED)) {
		slow_end(s, SLOW_CLOSED, 0);      /* closed, or garbage: no answer */
	}
}

static void slow_io(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)fd;
	(void)mask;
	struct slow_conn *s = arg;
	if (s->state != SLOW_S_CONNECTING) {
		slow_read(s);
		return;
	}
	int e = net_connect_result(s->fd);
	if (e != 0) {
		slow_end(s, SLOW_CONNECT_FAILED, 0);
		return;
	}
	s->state = SLOW_S_SENDING;
	s->sending_ns = ev_mono_ns();
	ev_set_mask(loop, s->fd, EV_READ);
	slow_send(loop, s);
}

/* Opens the connection of a slot; also the timer callback for connect and
 * response timeouts, which end the previous attempt first. */
static void slow_open(ev_loop *loop, void *arg)
{
	struct slow_conn *s = arg;
	struct worker *w = s->w;
	const struct config *cfg = w->cfg;
	if (s->state == SLOW_S_CONNECTING) {
		slow_end(s, SLOW_CONNECT_FAILED, 0);
		return;
	}
	if (s->state == SLOW_S_WAITING) {
		slow_end(s, SLOW_TIMEOUT, 0);
		return;
	}
	char err[NET_ERRLEN];
	const struct addr *src = cfg->nsources ? &cfg->sources[w->next_source++ % cfg->nsources] : NULL;
	s->opened_ns = ev_mono_ns();
	s->sent = 0;
	s->complete = false;
	s->state = SLOW_S_CONNECTING;
	s->fd = net_connect(&cfg->targets[0].addr, src, err);
	if (s->fd < 0 || ev_watch(loop, s->fd, EV_WRITE, slow_io, s) < 0) {
		log_debug("slow connection: %s", s->fd < 0 ? err : strerror(errno));
		slow_end(s, SLOW_CONNECT_FAILED, 0);
		return;
	}
	ev_timer_arm_at(loop, &s->timer, s->opened_ns + cfg->timeout_us * 1000u, slow_open, s);
}

static int slow_on_complete(struct http_msg *m)
{
	struct slow_conn *s = m->user;
	int status = http_status(m);
	if (status >= 100 && status < 200 && status != 101)
		return 0;
	s->complete = true;
	return HPE_PAUSED;
}

static const struct http_hooks slow_hooks = { .on_complete = slow_on_complete };

int slow_start(struct worker *w)
{
	w->slow = calloc(w->cfg->slow_conns, sizeof(*w->slow));
	if (w->slow == NULL)
		return -1;
	w->nslow = w->cfg->slow_conns;
	for (size_t i = 0; i < w->nslow; i++) {
		struct slow_conn *s = &w->slow[i];
		s->w = w;
		s->fd = -1;
		ev_timer_init(&s->timer);
		http_msg_init(&s->msg, HTTP_RESPONSE, &slow_hooks, s);
		slow_open(w->loop, s);
	}
	return 0;
}

/* Counts the connections still open as "open at the end" and closes them.
 * Safe to call twice. */
void slow_finish(struct worker *w)
{
	uint64_t now = ev_mono_ns();
	for (size_t i = 0; i < w->nslow; i++) {
		struct slow_conn *s = &w->slow[i];
		if (s->state != SLOW_S_IDLE)
			stats_slow(&w->st, SLOW_OPEN, 0, (double)(now - s->opened_ns) / 1e9);
		slow_close(s);
		http_msg_free(&s->msg);
	}
}
