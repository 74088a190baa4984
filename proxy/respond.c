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

/* Writes what waits for the client, now (the socket is writable, or the
 * connection is closing).  Handlers only queue bytes: the loop writes them
 * when it next finds the socket writable, one turn later, with the rest of
 * that turn's output.  Each answer then waits about one turn, rather than
 * anything from nothing to a whole turn by where its fd fell in the poll
 * set, so latencies come out even (the p99 rows of tests/bench/proxy.sh),
 * for the same one send per buffer.  After the last bytes of a closing
 * connection: shut down our side and drain theirs briefly (CS_LINGER), so
 * an error answer is not lost to a reset.  Returns -1 if c is gone. */
int client_flush(struct client *c)
{
	while (buf_len(&c->out) > 0 && !ev_timer_armed(&c->pace)) {
		ssize_t n = buf_write_fd(&c->out, c->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			char why[160];
			snprintf(why, sizeof(why), "send %s: %s", c->peer_s, strerror(errno));
			return client_close(c, why);
		}
		c->t_io = ev_now_ns(P.loop);
	}
	if (buf_len(&c->out) == 0 && c->state == CS_CLOSING) {
		mem_release(&c->out);
		if (c->read_eof)
			return client_close(c, "response sent, client gone");
		if (shutdown(c->fd, SHUT_WR) < 0)
			return client_close(c, "shutdown");
		client_enter(c, CS_LINGER);
	}
	return client_rest(c);
}

/* Passive telemetry (step 6's harvest), once the response is complete
 * (its time to first byte went to ewma and --admin at step 6). */
static void telemetry(struct client *c)
{
	struct exchange *x = &c->x;
	struct server_stats *st = &x->server->stats;
	uint64_t ttfb = (x->t_resp - x->t_sent) / 1000, ttlb = (x->t_end - x->t_sent) / 1000;
	st->requests++;
	st->by_class[x->status / 100 <= 5 ? x->status / 100 : 0]++;
	st->ttfb_us_total += ttfb;
	st->ttlb_us_total += ttlb;
	st->ttfb_us_ewma = st->ttfb_us_ewma ? (st->ttfb_us_ewma * 7 + ttfb) / 8 : ttfb;
	exchange_uncount(c);
}

/* STEP 7: the response is complete: finish the exchange. */
int step7_done(struct client *c)
{
	struct exchange *x = &c->x;
	struct sconn *s = c->srv;
	x->t_end = ev_mono_ns();
	telemetry(c);
	if (x->status >= 400 && P.cfg->retry_on[x->status - 400])   /* not retried, still a failure */
		health_failed(c, x->server, "a --retry-on status");
	else if (x->server->fails > 0)
		health_ok(x->server);
	struct buf *e = event_begin(c, 7, "response-complete");
	if (e != NULL) {
		event_num(e, "status", x->status);
		event_num(e, "bytes", (double)x->resp_bytes);
		event_bool(e, "keep_alive", x->keep_alive);
		event_num(e, "ms", ms_between(x->t_start, x->t_end));
		event_end(e);
	}
	log_access(c);
	x->logged = true;

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
		client_enter(c, CS_CLOSING);
		return client_flush(c);
	}
	/* Kept alive: the next request (maybe already here, pipelined); the
	 * response may still be on its way out (client.c: TO_SEND). */
	http_msg_resume(&c->req);
	request_begin(c);
	if (client_rest(c) < 0)
		return -1;
	return pace(c, client_process);   /* step 2 of the next request */
}
