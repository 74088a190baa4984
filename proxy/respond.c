/*
 * respond.c - STEP 7: the response goes back to the client, streamed as it
 * arrives.  When it is complete: telemetry, the access-log line, the server
 * connection back to its pool (or closed), and the client connection kept
 * open for its next request (pipelined ones are already waiting) unless
 * either side asked to close, until timeout-idle.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "proxy.h"
#include "telemetry.h"

static void on_linger_timeout(ev_loop *loop, void *arg)
{
	(void)loop;
	client_close(arg, "linger done");
}

/* An idle keep-alive connection holds no buffers (10,000 of them cost
 * little memory): they come back from mem.c's cache with the next request. */
static void drop_buffers_if_idle(struct client *c)
{
	if (c->state == CS_IDLE && buf_len(&c->in) == 0 && buf_len(&c->out) == 0) {
		mem_release(&c->in);
		mem_release(&c->out);
		http_msg_free(&c->req);
	}
}

/* Bytes for the client (or the server) are queued: they go out when the
 * loop next finds the socket writable, one turn later, with the rest of
 * that turn's output.  Handlers fill buffers; the loop writes.  Each
 * answer then waits about one turn, rather than anything from nothing to
 * a whole turn by where its fd fell in the poll set, so latencies come out
 * even (the p99 rows of tests/bench/proxy.sh), for the same one send per
 * buffer. */
int client_send_soon(struct client *c)
{
	client_update_mask(c);
	if (c->srv != NULL)
		sconn_update_mask(c->srv);
	return 0;
}

/* Writes what waits for the client, now (the socket is writable, or the
 * connection is closing).  After the last bytes of a closing connection:
 * shut down our side and drain theirs briefly, so an error answer is not
 * lost to a reset.  Returns -1 if c is gone. */
int client_flush(struct client *c)
{
	while (buf_len(&c->out) > 0 && !ev_timer_armed(&c->pace)) {
		ssize_t n = buf_write_fd(&c->out, c->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			char why[160];
			snprintf(why, sizeof(why), "send %s: %s", c->peer_s, strerror(errno));
			if (c->x.status != 0 && c->state != CS_IDLE && c->state != CS_CLOSING) {
				snprintf(c->x.err, sizeof(c->x.err), "%s", why);
				log_access(c);
			}
			return client_close(c, why);
		}
	}
	if (buf_len(&c->out) == 0 && c->state == CS_CLOSING) {
		mem_release(&c->out);
		if (c->read_eof)
			return client_close(c, "response sent, client gone");
		if (shutdown(c->fd, SHUT_WR) < 0)
			return client_close(c, "shutdown");
		client_set_state(c, CS_LINGER);
		ev_timer_arm(P.loop, &c->timer, LINGER_MS, on_linger_timeout, c);
	}
	drop_buffers_if_idle(c);
	client_update_mask(c);
	if (c->srv != NULL)
		sconn_update_mask(c->srv);
	return 0;
}

/* Passive telemetry (step 6's harvest), once the response is complete. */
static void telemetry(struct exchange *x)
{
	struct server_stats *st = &x->server->stats;
	uint64_t ttfb = (x->t_resp - x->t_sent) / 1000, ttlb = (x->t_end - x->t_sent) / 1000;
	st->requests++;
	st->by_class[x->status / 100 <= 5 ? x->status / 100 : 0]++;
	st->ttfb_us_total += ttfb;
	st->ttlb_us_total += ttlb;
	st->ttfb_us_ewma = st->ttfb_us_ewma ? (st->ttfb_us_ewma * 7 + ttfb) / 8 : ttfb;
	telemetry_response(x->server, x->t_sent, x->t_resp);   /* TTFB: --balance ewma, --admin */
	if (x->counted && x->server->inflight > 0)
		x->server->inflight--;
	x->counted = false;
}

/* STEP 7: the response is complete: finish the exchange. */
int step7_done(struct client *c)
{
	struct exchange *x = &c->x;
	struct sconn *s = c->srv;
	x->t_end = ev_mono_ns();
	telemetry(x);
	if (x->status >= 400 && P.cfg->retry_on[x->status - 400])   /* not retried, still a failure */
		health_failed(c, x->server, "a --retry-on status");
	else if (x->server->fails > 0)
		health_ok(c, x->server);
	struct buf *e = event_begin(c, 7, "response-complete");
	if (e != NULL) {
		event_num(e, "status", x->status);
		event_num(e, "bytes", (double)x->resp_bytes);
		event_bool(e, "keep_alive", x->keep_alive);
		event_num(e, "ms", ms_between(x->t_start, x->t_end));
		event_end(e);
	}
	log_access(c);

	/* The server connection: back to the pool if it is clean. */
	bool reusable = !s->eof && http_keep_alive(&s->resp) && x->req_complete && buf_len(&s->out) == 0;
	c->srv = NULL;
	s->client = NULL;
	if (reusable)
		pool_put(s);
	else
		sconn_close(s, s->eof ? "server closed" : "not reusable");

	/* A client that shut down its side gets its pipelined answers, then goodbye. */
	if (!x->keep_alive || (c->read_eof && buf_len(&c->in) == 0)) {
		client_set_state(c, CS_CLOSING);
		ev_timer_stop(P.loop, &c->timer);
		return client_flush(c);
	}
	/* Kept alive: the next request (maybe already here, pipelined). */
	http_msg_resume(&c->req);
	request_begin(c, P.cfg->timeout_idle);
	client_send_soon(c);
	drop_buffers_if_idle(c);
	return pace(c, client_process);   /* step 2 of the next request */
}
