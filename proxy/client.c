/*
 * client.c - the client connection's life.  Its states are one table: the
 * seed's step, the poll interest, the timer that runs and what the timer's
 * expiry does.  client_enter() is the one way into a state; client_refresh()
 * the one place that sets the poll mask and the timer, derived from the
 * state, the buffers and the clock.  Also: --pace, the idle connections
 * given up at --max-conns, and the one teardown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"

/* Two rules outrank a row's timer: bytes of ours waiting for the client run
 * TO_SEND (so no idle timer cuts a response short, and a client that stops
 * reading is the one blamed), and a client we stop reading (back-pressure,
 * --pace) runs none. */
const struct state client_states[] = {
	/*              step  name     poll     timer      on expiry: answer, or close */
	[CS_IDLE]    = { 7, "idle",    EV_READ, TO_IDLE,   0 },
	[CS_HEAD]    = { 2, "head",    EV_READ, TO_HEADER, 408 },
	[CS_DECIDE]  = { 3, "decide",  EV_READ, TO_NONE,   0 },
	[CS_INSPECT] = { 3, "inspect", EV_READ, TO_BODY,   408 },   /* --waf: the body up to its limit */
	[CS_CONNECT] = { 4, "connect", EV_READ, TO_NONE,   0 },   /* timeout-connect: server.c */
	[CS_BACKOFF] = { 4, "backoff", EV_READ, TO_BACKOFF, 0 },  /* then step 4 again */
	[CS_BODY]    = { 5, "body",    EV_READ, TO_BODY,   408 },   /* and --min-body-rate */
	[CS_WAIT]    = { 6, "wait",    EV_READ, TO_NONE,   0 },   /* timeout-server: server.c */
	[CS_CLOSING] = { 7, "closing", 0,       TO_SEND,   0 },
	[CS_LINGER]  = { 7, "linger",  EV_READ, TO_LINGER, 0 },   /* drain, then close */
};

const char *const timeout_names[] = {
	[TO_NONE] = "none", [TO_HEADER] = "timeout-header", [TO_IDLE] = "timeout-idle",
	[TO_BODY] = "timeout-client", [TO_SEND] = "timeout-client", [TO_LINGER] = "linger",
	[TO_CONNECT] = "timeout-connect", [TO_SERVER] = "timeout-server", [TO_POOL] = "timeout-pool",
	[TO_BACKOFF] = "retry-backoff", [TO_ATTEMPT] = "timeout-attempt", [TO_REQUEST] = "timeout-request",
};

void timer_set(ev_timer *t, uint64_t when, ev_timer_fn *fn, void *arg)
{
	if (when != 0 && (!ev_timer_armed(t) || t->when_ns > when))
		ev_timer_arm_at(P.loop, t, when, fn, arg);
}

bool timer_due(ev_timer *t, uint64_t when, ev_timer_fn *fn, void *arg)
{
	if (when > ev_now_ns(P.loop))
		timer_set(t, when, fn, arg);
	return when != 0 && when <= ev_now_ns(P.loop);
}

static uint64_t ms(uint64_t n) { return n * 1000000u; }

/* We do not read the client: its body waits for the server, or --pace. */
static bool not_read(const struct client *c)
{
	return ev_timer_armed(&c->pace) ||
	       (c->state == CS_BODY && c->srv != NULL && buf_len(&c->srv->out) >= HIGH_WATER);
}

static enum timeout client_timeout(const struct client *c)
{
	if (not_read(c))
		return TO_NONE;
	if (buf_len(&c->out) > 0)
		return TO_SEND;
	if (c->state == CS_IDLE && c->t_accept != 0)
		return TO_HEADER;   /* a new connection: its first request is due */
	return client_states[c->state].timeout;
}

/* --min-body-rate: the body must bring rate x window bytes within each
 * window.  A window begins when the body's timer starts, and again as soon
 * as the client has sent that much: the deadline is the window's end. */
static uint64_t body_rate_deadline(struct client *c)
{
	const struct config *cfg = P.cfg;
	uint64_t quota = cfg->min_body_rate * cfg->min_body_window / 1000;
	if (c->x.req_body - c->rate_mark >= (quota > 0 ? quota : 1)) {
		c->t_rate = ev_now_ns(P.loop);
		c->rate_mark = c->x.req_body;
	}
	return c->t_rate + ms(cfg->min_body_window);
}

/* When c's timer expires (0: none runs); a new timer starts from now. */
static uint64_t client_deadline(struct client *c)
{
	const struct config *cfg = P.cfg;
	enum timeout to = client_timeout(c);
	if (to != c->timeout) {
		c->timeout = to;
		c->t_io = c->t_rate = ev_now_ns(P.loop);
		c->rate_mark = c->x.req_body;
	}
	uint64_t silent = c->t_io + ms(cfg->timeout_client), body_end = c->x.t_body + ms(cfg->timeout_body);
	uint64_t body = silent < body_end ? silent : body_end;
	switch (to) {
	case TO_HEADER: return (c->x.t_start ? c->x.t_start : c->t_accept) + ms(cfg->timeout_header);
	case TO_IDLE:   return c->t_io + ms(cfg->timeout_idle);
	case TO_SEND:   return silent;
	case TO_BODY:
		if (cfg->min_body_rate > 0) {
			uint64_t slow = body_rate_deadline(c);
			return slow < body ? slow : body;
		}
		return body;
	case TO_LINGER: return c->t_state + ms(LINGER_MS);
	case TO_BACKOFF: return c->x.t_retry;
	default:        return 0;
	}
}

/* The timer expired: answer (the row's status) or close, blaming the client;
 * a slow request is one of step 2's refusals. */
static void on_client_timer(ev_loop *loop, void *arg)
{
	(void)loop;
	struct client *c = arg;
	uint64_t when = client_deadline(c);
	if (!timer_due(&c->timer, when, on_client_timer, c))
		return;
	if (c->timeout == TO_BACKOFF) {   /* not an error: the retry goes on */
		if (retry_resume(c) == 0)
			client_refresh(c);
		return;
	}
	const char *why = "linger done";
	enum refusal refused = REFUSE__COUNT;
	char slow[96];
	switch (c->timeout) {
	case TO_HEADER:
		why = "timeout-header: request headers took too long";
		refused = REFUSE_TIMEOUT_HEADER;
		break;
	case TO_IDLE:   why = "idle timeout"; break;
	case TO_SEND:   why = "timeout-client: the client took no byte"; break;
	case TO_BODY:
		if (when == c->x.t_body + ms(P.cfg->timeout_body)) {
			why = "timeout-body: request body took too long";
			refused = REFUSE_TIMEOUT_BODY;
		} else if (when == c->t_io + ms(P.cfg->timeout_client)) {
			why = "timeout-client: request body stalled";
			refused = REFUSE_BODY_STALLED;
		} else {
			snprintf(slow, sizeof(slow), "min-body-rate: %llu body bytes in %llu ms, fewer than %llu B/s",
			         (unsigned long long)(c->x.req_body - c->rate_mark),
			         (unsigned long long)P.cfg->min_body_window, (unsigned long long)P.cfg->min_body_rate);
			why = slow;
			refused = REFUSE_MIN_BODY_RATE;
		}
		break;
	default:
		break;
	}
	if (refused != REFUSE__COUNT)
		refuse(c, NULL, refused, 0, why);
	int status = client_states[c->state].status;
	if (status != 0 && c->timeout != TO_SEND)
		client_error(c, status, why);
	else
		client_close(c, why);
}

/* c's own mask and timer. */
static void refresh(struct client *c)
{
	int events = client_states[c->state].events;
	if (c->state != CS_LINGER && (c->read_eof || buf_len(&c->in) >= HIGH_WATER || not_read(c)))
		events &= ~EV_READ;
	if (buf_len(&c->out) > 0 && !ev_timer_armed(&c->pace))
		events |= EV_WRITE;
	ev_set_mask(P.loop, c->fd, events);
	timer_set(&c->timer, client_deadline(c), on_client_timer, c);
}

void client_refresh(struct client *c)
{
	refresh(c);
	if (c->srv != NULL)
		sconn_refresh(c->srv);
}

/* The kept-alive idle clients, oldest first: --max-conns gives them up. */
static void idle_unlink(struct client *c)
{
	if (c->idle_prev == NULL && P.idle_first != c)
		return;   /* not queued */
	*(c->idle_prev ? &c->idle_prev->idle_next : &P.idle_first) = c->idle_next;
	*(c->idle_next ? &c->idle_next->idle_prev : &P.idle_last) = c->idle_prev;
	c->idle_next = c->idle_prev = NULL;
}

void client_enter(struct client *c, enum client_state st)
{
	if (c->state != st)
		log_debug("client %lu %s: %s -> %s (step %d, %s)", c->id, c->peer_s, client_states[c->state].name,
		          client_states[st].name, client_states[st].step, timeout_names[client_states[st].timeout]);
	idle_unlink(c);
	if (st == CS_IDLE && c->t_accept == 0) {   /* after a response */
		c->idle_prev = P.idle_last;
		*(P.idle_last ? &P.idle_last->idle_next : &P.idle_first) = c;
		P.idle_last = c;
	}
	c->state = st;
	c->t_state = ev_now_ns(P.loop);
	if ((st == CS_INSPECT || st == CS_BODY) && c->x.t_body == 0)
		c->x.t_body = c->t_state;   /* --timeout-body counts from the body's first read */
	refresh(c);   /* the handler's last client_refresh does the server side */
}

bool client_reclaim_idle(void)
{
	for (struct client *c = P.idle_first; c != NULL; c = c->idle_next)
		if (buf_len(&c->in) == 0 && buf_len(&c->out) == 0) {
			client_close(c, "max-conns: the oldest idle connection makes room");
			return true;
		}
	return false;
}

int client_rest(struct client *c)
{
	if (c->state != CS_IDLE || buf_len(&c->in) > 0 || buf_len(&c->out) > 0)
		return 0;
	if (P.stopping || c->read_eof)
		return client_close(c, P.stopping ? "proxy stopping" : "response sent, client gone");
	/* 10,000 idle keep-alive connections cost little memory: the buffers
	 * come back from mem.c's cache with the next request. */
	mem_release(&c->in);
	mem_release(&c->out);
	mem_release_head(&c->req);
	return 0;
}

static void on_pace(ev_loop *loop, void *arg)
{
	(void)loop;
	struct client *c = arg;
	pace_fn *fn = c->pace_next;
	c->pace_next = NULL;
	if (fn(c) < 0 || client_flush(c) < 0)
		return;
	client_refresh(c);
}

int pace(struct client *c, pace_fn *fn)
{
	if (P.cfg->pace_ms == 0 || c->state == CS_CLOSING)
		return fn(c);
	c->pace_next = fn;
	ev_timer_arm(P.loop, &c->pace, P.cfg->pace_ms, on_pace, c);
	client_refresh(c);
	return 0;
}

void exchange_release(struct client *c, const char *why)
{
	if (c->srv != NULL) {
		struct sconn *s = c->srv;
		c->srv = NULL;
		s->client = NULL;
		sconn_close(s, why);
	}
	exchange_uncount(c);
}

int client_abandon(struct client *c, const char *why)
{
	struct exchange *x = &c->x;
	if (buf_len(&c->out) == 0)
		return client_close(c, why);
	if (x->err[0] == '\0')
		snprintf(x->err, sizeof(x->err), "%s", why);
	exchange_release(c, "client gone mid-request");   /* a request that will not end */
	client_enter(c, CS_CLOSING);
	return client_flush(c);
}

int client_cut(struct client *c, const char *why)
{
	if (buf_len(&c->out) > 0 && buf_write_fd(&c->out, c->fd) < 0 && errno != EAGAIN)
		log_debug("client %lu %s: write: %s", c->id, c->peer_s, strerror(errno));
	/* A body that ends at the close would end cleanly with a FIN. */
	if (c->x.frame == FRAME_CLOSE && net_set_reset_on_close(c->fd) < 0)
		log_debug("client %lu %s: SO_LINGER: %s", c->id, c->peer_s, strerror(errno));
	snprintf(c->x.err, sizeof(c->x.err), "%s", why);
	return client_close(c, why);
}

/* The one teardown of a client connection. */
int client_close(struct client *c, const char *reason)
{
	struct exchange *x = &c->x;
	log_debug("client %lu %s: closed: %s", c->id, c->peer_s, reason);
	if (x->t_start != 0 && !x->logged) {   /* a request under way ends here */
		if (x->err[0] == '\0')
			snprintf(x->err, sizeof(x->err), "%s", reason);
		log_access(c);
	}
	struct buf *e = event_begin(c, 7, "close");
	if (e != NULL) {
		event_str(e, "reason", reason);
		event_end(e);
	}
	exchange_release(c, "client gone");
	limits_disconnect(&c->peer);   /* every client was counted at step 1 */
	ev_timer_stop(P.loop, &c->timer);
	ev_timer_stop(P.loop, &c->pace);
	idle_unlink(c);
	ev_unwatch(P.loop, c->fd);
	close(c->fd);
	mem_release(&c->in);
	mem_release(&c->out);
	mem_release(&x->head);
	inspect_free(&x->waf);
	screen_free(&x->dlp);
	mem_release(&x->resend);
	http_msg_free(&c->req);
	*(c->prev ? &c->prev->next : &P.clients) = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	P.nclients--;
	free(c);
	accept_update();
	if (P.stopping && P.nclients == 0)
		ev_stop(P.loop);
	return -1;
}
