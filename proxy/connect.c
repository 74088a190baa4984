/*
 * connect.c - STEP 4: the proxy opens its own connection to the server, or
 * takes an idle one from that server's keep-alive pool (server.c), so the
 * client side and the server side live separate lives.  Step 4 again, on
 * another server or after the keep-alive race: retry.c.
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
	x->t_connected = step_time();
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
int connect_new(struct client *c, struct buf *out)
{
	static unsigned long next_id;
	struct server *srv = c->x.server;
	struct sconn *s = NULL;
	char err[NET_ERRLEN];
	c->x.t_connect0 = step_time();
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
int connect_to(struct client *c, struct buf *out)
{
	struct server *srv = c->x.server;
	struct sconn *s = srv->idle_head;
	c->x.t_attempt = ev_now_ns(P.loop);
	if (s == NULL)
		return connect_new(c, out);
	pool_unlink(s);
	s->reused = true;
	c->x.t_connect0 = step_time();
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

