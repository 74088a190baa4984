/*
 * conn.c - one client connection to a mock backend: accept it, read
 * requests, parse them with llhttp (lib/http), answer them strictly in
 * order, and close it.  Seen from a proxy, this is the far end of step 4
 * (the proxy connects here), step 5 (the request arrives) and step 6 (the
 * response leaves).
 *
 * The pump, conn_run(), does all the work possible now and then says what
 * to wait for.  Pipelining falls out of it: the parser pauses after each
 * request (http.h), the request is answered into c->out, parsing resumes;
 * every response that was ready goes out in one write.  Back-pressure: no
 * parsing while c->out holds OUT_HIGH bytes, no reading while c->in holds
 * IN_MAX unparsed bytes, so a connection never holds unbounded data.
 *
 * Workers (--workers N): a request is served by one of its backend's N
 * workers, from the moment one takes it (its delay starts then) until its
 * response is queued whole in c->out (written in the same turn of the
 * pump), its connection closes, or, for /bytes and /drip, its body is all
 * generated.  A request that finds them all busy waits in CS_QUEUED, in the
 * backend's queue, first come first served across its connections; a
 * client that leaves while it waits leaves the queue.  conn_set_state() is
 * the one place that joins and leaves the queue and gives workers back.
 */
#include "mockserver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define IN_MAX   (64u * 1024)     /* unparsed request bytes held            */
#define READ_MAX (16u * 1024)     /* one read(2); dozens of small requests  */
#define OUT_LOW  (64u * 1024)     /* generate more of a stream below this   */
#define OUT_HIGH (256u * 1024)    /* stop answering above this              */
#define ROUNDS   16               /* write rounds per wake-up (fairness)    */

static void conn_run(struct conn *c);
static void conn_timer(ev_loop *loop, void *arg);

static const char *state_name(enum conn_state s)
{
	switch (s) {
	case CS_READING:   return "reading";
	case CS_QUEUED:    return "queued";
	case CS_DELAYED:   return "delayed";
	case CS_STREAMING: return "streaming";
	case CS_DRIPPING:  return "dripping";
	case CS_HANGING:   return "hanging";
	case CS_CLOSING:   return "closing";
	}
	return "?";
}

/* States in which the timer means "idle for too long". */
static bool idle_state(enum conn_state s)
{
	return s == CS_READING || s == CS_STREAMING || s == CS_CLOSING;
}

static void arm_idle(struct conn *c)
{
	ev_loop *loop = c->srv->loop;
	c->last_active_ns = ev_now_ns(loop);
	if (c->be->o.idle_ms == 0)
		ev_timer_stop(loop, &c->timer);
	else
		ev_timer_arm(loop, &c->timer, c->be->o.idle_ms, conn_timer, c);
}

void conn_arm(struct conn *c, uint64_t ms)
{
	ev_timer_arm(c->srv->loop, &c->timer, ms, conn_timer, c);
}

/* ---- workers and their queue (--workers) ---------------------------------- */

static void queue_push(struct conn *c)
{
	struct backend *be = c->be;
	c->qnext = NULL;
	c->qprev = be->queue_tail;
	if (be->queue_tail)
		be->queue_tail->qnext = c;
	else
		be->queue_head = c;
	be->queue_tail = c;
}

static void queue_remove(struct conn *c)
{
	struct backend *be = c->be;
	if (c->qprev)
		c->qprev->qnext = c->qnext;
	else
		be->queue_head = c->qnext;
	if (c->qnext)
		c->qnext->qprev = c->qprev;
	else
		be->queue_tail = c->qprev;
	c->qprev = c->qnext = NULL;
}

/* Takes a worker for c's request, or returns false: all busy, or others
 * wait already (first come, first served). */
static bool worker_take(struct conn *c)
{
	struct backend *be = c->be;
	if (be->o.workers != 0 && (be->busy >= be->o.workers || be->queue_head != NULL))
		return false;
	be->busy++;
	c->has_worker = true;
	return true;
}

/* --delay (+ jitter) and /delay/MS, drawn when a worker takes the request. */
static uint64_t request_delay(struct conn *c)
{
	struct backend *be = c->be;
	uint64_t delay = be->o.delay_ms;
	if (be->o.jitter_ms != 0)
		delay += rng_below(&be->rng, be->o.jitter_ms + 1);
	if (c->route.ep == EP_DELAY)
		delay += c->route.n;
	return delay;
}

/* c's request is done with its worker: it passes to the oldest waiting
 * request, whose delay starts now.  That one is answered from its timer
 * (0 ms at least), on its own turn of the loop, never inside c's. */
static void worker_give(struct conn *c)
{
	struct backend *be = c->be;
	struct conn *next = be->queue_head;
	c->has_worker = false;
	if (next == NULL) {
		be->busy--;
		return;
	}
	next->has_worker = true;
	conn_set_state(next, CS_DELAYED);       /* leaves the queue */
	conn_arm(next, request_delay(next));
}

/* The one place where a state change joins or leaves the queue, gives the
 * worker back (the response is queued whole, or the connection closes
 * after it) and says what the timer means. */
void conn_set_state(struct conn *c, enum conn_state s)
{
	enum conn_state old = c->state;
	if (log_verbose >= 2 && old != s)
		log_debug("%s conn %llu: %s -> %s", c->be->name, (unsigned long long)c->id,
		          state_name(old), state_name(s));
	c->state = s;
	if (old == CS_QUEUED && s != CS_QUEUED)
		queue_remove(c);
	else if (s == CS_QUEUED && old != CS_QUEUED)
		queue_push(c);
	if (c->has_worker && (s == CS_READING || s == CS_CLOSING))
		worker_give(c);
	if (s == CS_QUEUED) {
		ev_timer_stop(c->srv->loop, &c->timer);   /* waiting is not idling */
	} else if (s == CS_HANGING) {
		ev_timer_stop(c->srv->loop, &c->timer);   /* hang until the peer gives up */
		buf_clear(&c->in);                        /* never answered: forget it */
	} else if (idle_state(s) && !idle_state(old)) {
		arm_idle(c);
	}
}

/* ---- parser hooks --------------------------------------------------------- */

/* Headers are in: find the endpoint now, so /echo knows to keep the body,
 * and say "100 Continue" to a client that waits for it. */
static int on_headers(struct http_msg *m)
{
	struct conn *c = m->user;
	route_parse(http_target(m), &c->route);
	c->collect_body = c->route.ep == EP_ECHO;
	c->body_too_big = false;
	buf_clear(&c->body);
	bool has_body = (m->parser.flags & F_CHUNKED) || m->parser.content_length > 0;
	if (has_body && http_major(m) == 1 && http_minor(m) == 1) {
		const char *expect = http_get(m, "Expect");
		if (expect != NULL && http_list_has(expect, "100-continue") &&
		    buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
			c->oom = true;
	}
	return 0;
}

static int on_body(struct http_msg *m, const char *at, size_t len)
{
	struct conn *c = m->user;
	if (!c->collect_body || c->body_too_big)
		return 0;       /* other endpoints read the body and forget it */
	if (buf_len(&c->body) + len > c->be->o.max_body || buf_append(&c->body, at, len) < 0) {
		c->body_too_big = true;
		buf_free(&c->body);
	}
	return 0;
}

/* Stop at each request's end: it is answered before the next is parsed. */
static int on_complete(struct http_msg *m)
{
	(void)m;
	return HPE_PAUSED;
}

static const struct http_hooks hooks = {
	.on_headers = on_headers,
	.on_body = on_body,
	.on_complete = on_complete,
};

/* ---- requests ------------------------------------------------------------- */

/* A whole request was parsed: count it, find it a worker (or queue it),
 * apply --delay, answer it. */
static void request_complete(struct conn *c, bool upgrade)
{
	struct backend *be = c->be;
	struct server *srv = c->srv;
	c->nreq++;
	be->st.requests++;
	c->head_only = c->req.parser.method == HTTP_HEAD;
	c->close_after = upgrade || !http_keep_alive(&c->req) || srv->draining ||
	                 (be->o.max_requests != 0 && c->nreq >= be->o.max_requests);
	c->why = "Connection: close";
	/* /stats takes no worker: it is the mock's window, not its app, and
	 * shows the queue while every worker is busy. */
	if (c->route.ep != EP_STATS && !worker_take(c)) {
		conn_set_state(c, CS_QUEUED);
		return;
	}
	uint64_t delay = request_delay(c);
	if (delay != 0) {
		conn_set_state(c, CS_DELAYED);
		conn_arm(c, delay);
		return;
	}
	respond(c);
}

enum parse_result { PARSE_MORE, PARSE_DONE };

/* STEP 5, the backend's side: the proxy's request arrives.
 * Parses up to the end of the next request in c->in and answers it.
 * PARSE_MORE: more bytes are needed; PARSE_DONE: a request (or a parse
 * error) was answered and the state may have changed. */
static enum parse_result parse_next(struct conn *c)
{
	if (buf_len(&c->in) == 0)
		return PARSE_MORE;
	if (c->paused) {
		http_msg_resume(&c->req);
		c->paused = false;
	}
	size_t used;
	llhttp_errno_t e = http_msg_feed(&c->req, buf_begin(&c->in), buf_len(&c->in), &used);
	buf_consume(&c->in, used);
	switch (e) {
	case HPE_OK:
		return PARSE_MORE;
	case HPE_PAUSED:
		/* Upgrade and CONNECT requests are answered as any other, then
		 * the connection closes: nothing here speaks another protocol. */
		c->paused = true;
		request_complete(c, c->req.parser.upgrade != 0);
		return PARSE_DONE;
	case HPE_PAUSED_UPGRADE:      /* only after an upgrade, which closed */
		c->why = "upgrade";
		conn_set_state(c, CS_CLOSING);
		return PARSE_DONE;
	default:
		c->nreq++;
		c->be->st.requests++;
		respond_parse_error(c);
		return PARSE_DONE;
	}
}

void conn_response_done(struct conn *c)
{
	c->collect_body = false;
	if (c->body.cap > IN_MAX)
		buf_free(&c->body);     /* a big /echo body: give the memory back */
	else
		buf_clear(&c->body);
	conn_set_state(c, c->close_after ? CS_CLOSING : CS_READING);
}

/* ---- the pump ---------------------------------------------------------- */

static int conn_read(struct conn *c)
{
	size_t room = IN_MAX - buf_len(&c->in);
	if (room > READ_MAX)
		room = READ_MAX;
	ssize_t n = buf_read_fd(&c->in, c->fd, room);
	if (n > 0) {
		c->last_active_ns = ev_now_ns(c->srv->loop);
		if (c->state == CS_HANGING)
			buf_clear(&c->in);      /* it will never be answered: forget it */
		return 0;
	}
	if (n == 0) {
		c->peer_eof = true;     /* conn_run decides what that ends */
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	conn_close(c, errno == ECONNRESET ? "reset by peer" : strerror(errno));
	return -1;
}

/* STEP 6, the backend's side: the response leaves, every answer that is
 * ready in one write.  Answers what is parsed and generates what streams,
 * then writes, until the socket is full or there is nothing more to do. */
static void conn_run(struct conn *c)
{
	bool more = false;
	for (int round = 0; round < ROUNDS; round++) {
		for (;;) {
			if (c->state == CS_READING && buf_len(&c->out) < OUT_HIGH) {
				if (parse_next(c) == PARSE_MORE) {
					if (c->peer_eof) {  /* no more requests will come */
						c->why = "peer closed";
						conn_set_state(c, CS_CLOSING);
					}
					break;
				}
			} else if (c->state == CS_STREAMING && buf_len(&c->out) < OUT_LOW) {
				stream_more(c, OUT_HIGH - buf_len(&c->out));
			} else {
				break;
			}
			if (c->oom) {
				conn_close(c, "out of memory");
				return;
			}
		}
		if (c->oom) {
			conn_close(c, "out of memory");
			return;
		}
		if (buf_len(&c->out) == 0)
			break;
		ssize_t n = buf_write_fd(&c->out, c->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			conn_close(c, errno == EPIPE || errno == ECONNRESET ? "reset by peer" : strerror(errno));
			return;
		}
		c->last_active_ns = ev_now_ns(c->srv->loop);
		if (buf_len(&c->out) > 0)
			break;              /* the socket is full: wait until writable */
		more = c->state == CS_STREAMING || (c->state == CS_READING && buf_len(&c->in) > 0);
		if (!more)
			break;
	}
	if ((c->state == CS_HANGING || c->state == CS_QUEUED) && c->peer_eof) {
		/* The client left (/hang's only way out; a queued request loses
		 * its place): the answers before that request still go out
		 * whole, then the close. */
		c->why = "peer closed";
		conn_set_state(c, CS_CLOSING);
	}
	if (c->state == CS_CLOSING && buf_len(&c->out) == 0) {
		conn_close(c, c->why ? c->why : "closing");
		return;
	}
	int mask = 0;
	if (!c->peer_eof && c->state != CS_CLOSING && buf_len(&c->in) < IN_MAX && buf_len(&c->out) < OUT_HIGH)
		mask |= EV_READ;
	if (buf_len(&c->out) > 0 || more)
		mask |= EV_WRITE;       /* "more": work left after ROUNDS; come back soon */
	ev_set_mask(c->srv->loop, c->fd, mask);
}

static void conn_io(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)loop;
	(void)fd;
	struct conn *c = arg;
	if ((mask & EV_READ) && conn_read(c) < 0)
		return;
	conn_run(c);
}

/* The one timer of a connection: its meaning depends on the state. */
static void conn_timer(ev_loop *loop, void *arg)
{
	struct conn *c = arg;
	switch (c->state) {
	case CS_DELAYED:
		respond(c);
		conn_run(c);
		break;
	case CS_DRIPPING:
		drip_one(c);
		conn_run(c);
		break;
	case CS_READING:
	case CS_STREAMING:
	case CS_CLOSING: {
		/* Reads and writes only move last_active_ns; the timer catches up
		 * here, so the hot path never touches the timer heap. */
		uint64_t deadline = c->last_active_ns + c->be->o.idle_ms * 1000000u;
		if (ev_now_ns(loop) >= deadline)
			conn_close(c, "idle timeout");
		else
			ev_timer_arm_at(loop, &c->timer, deadline, conn_timer, c);
		break;
	}
	case CS_QUEUED:
	case CS_HANGING:
		break;
	}
}

/* ---- open and close ------------------------------------------------------ */

void conn_accept(struct backend *be, int fd, const struct addr *peer)
{
	struct server *srv = be->srv;
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		log_warn("%s: out of memory for a new connection", be->name);
		close(fd);
		return;
	}
	c->srv = srv;
	c->be = be;
	c->fd = fd;
	c->id = ++be->next_conn_id;
	addr_format(peer, c->peer);
	ev_timer_init(&c->timer);
	http_msg_init(&c->req, HTTP_REQUEST, &hooks, c);
	c->req.max_head = be->o.max_header;
	if (ev_watch(srv->loop, fd, EV_READ, conn_io, c) < 0) {
		log_warn("%s: cannot watch a new connection: %s", be->name, strerror(errno));
		http_msg_free(&c->req);
		free(c);
		close(fd);
		return;
	}
	(void)net_set_nodelay(fd);   /* responses go out whole; no Nagle wait for a tail */
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	be->st.connections++;
	be->st.open++;
	c->state = CS_READING;
	arm_idle(c);
	if (log_verbose >= 2)
		log_debug("%s conn %llu: accepted from %s", be->name, (unsigned long long)c->id, c->peer);
}

void conn_close(struct conn *c, const char *why)
{
	struct server *srv = c->srv;
	if (log_verbose >= 2)
		log_debug("%s conn %llu: closed (%s)", c->be->name, (unsigned long long)c->id, why);
	conn_set_state(c, CS_CLOSING);   /* leaves the queue, gives the worker back */
	ev_timer_stop(srv->loop, &c->timer);
	ev_unwatch(srv->loop, c->fd);
	if (c->reset_on_close)
		(void)net_set_reset_on_close(c->fd);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	c->be->st.open--;
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->body);
	http_msg_free(&c->req);
	free(c);
	if (srv->draining && srv->nconns == 0)
		ev_stop(srv->loop);
}

void conn_drain_all(struct server *srv)
{
	struct conn *c = srv->conns, *next;
	for (; c != NULL; c = next) {
		next = c->next;
		switch (c->state) {
		case CS_READING:
			if (buf_len(&c->out) == 0) {
				conn_close(c, "shutting down");
			} else {
				c->why = "shutting down";
				conn_set_state(c, CS_CLOSING);
			}
			break;
		case CS_HANGING:
			conn_close(c, "shutting down");
			break;
		case CS_QUEUED:
		case CS_DELAYED:
		case CS_STREAMING:
		case CS_DRIPPING:
			c->close_after = true;  /* finish this response, then close */
			c->why = "shutting down";
			break;
		case CS_CLOSING:
			break;
		}
	}
}

void conn_close_all(struct server *srv, const char *why)
{
	while (srv->conns != NULL)
		conn_close(srv->conns, why);
}
