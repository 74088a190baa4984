/*
 * accept.c - STEP 1: the client connects to the proxy.  Listeners, the
 * allow/deny lists, --max-conns, and the EMFILE back-off; the client
 * connection's life cycle (state changes, pacing, teardown).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"

struct proxy P;   /* the one process-wide state (proxy.h) */

#define ACCEPTS_PER_WAKEUP 64
#define EMFILE_BACKOFF_MS  100

static const char *client_state_name(enum client_state st)
{
	switch (st) {
	case CS_IDLE:    return "idle";
	case CS_HEAD:    return "head";
	case CS_DECIDE:  return "decide";
	case CS_CONNECT: return "connect";
	case CS_BODY:    return "body";
	case CS_WAIT:    return "wait";
	case CS_CLOSING: return "closing";
	case CS_LINGER:  return "linger";
	}
	return "?";
}

void client_set_state(struct client *c, enum client_state st)
{
	if (c->state != st)
		log_debug("client %lu %s: %s -> %s", c->id, c->peer_s, client_state_name(c->state),
		          client_state_name(st));
	c->state = st;
}

/* Which events the client fd waits for, from its state and buffers. */
void client_update_mask(struct client *c)
{
	int mask = 0;
	bool paced = ev_timer_armed(&c->pace);   /* --pace: nothing moves */
	bool blocked = c->state == CS_BODY && c->srv != NULL && buf_len(&c->srv->out) >= HIGH_WATER;
	if (c->state == CS_LINGER || (!c->read_eof && !paced && !blocked && c->state != CS_CLOSING &&
	                              buf_len(&c->in) < HIGH_WATER))
		mask |= EV_READ;
	if (buf_len(&c->out) > 0 && !paced)
		mask |= EV_WRITE;
	ev_set_mask(P.loop, c->fd, mask);
}

static void on_pace(ev_loop *loop, void *arg)
{
	(void)loop;
	struct client *c = arg;
	pace_fn *fn = c->pace_next;
	c->pace_next = NULL;
	if (fn(c) < 0 || client_flush(c) < 0)
		return;
	if (c->srv != NULL)
		sconn_update_mask(c->srv);
}

int pace(struct client *c, pace_fn *fn)
{
	if (P.cfg->pace_ms == 0 || c->state == CS_CLOSING)
		return fn(c);
	c->pace_next = fn;
	ev_timer_arm(P.loop, &c->pace, P.cfg->pace_ms, on_pace, c);
	client_update_mask(c);
	if (c->srv != NULL)
		sconn_update_mask(c->srv);
	return 0;
}

/* The one teardown of a client connection. */
int client_close(struct client *c, const char *reason)
{
	log_debug("client %lu %s: closed: %s", c->id, c->peer_s, reason);
	struct buf *e = event_begin(c, 7, "close");
	if (e != NULL) {
		event_str(e, "reason", reason);
		event_end(e);
	}
	if (c->srv != NULL) {
		struct sconn *s = c->srv;
		c->srv = NULL;
		s->client = NULL;
		sconn_close(s, "client gone");
	}
	if (c->x.counted && c->x.server != NULL && c->x.server->inflight > 0)
		c->x.server->inflight--;
	ev_timer_stop(P.loop, &c->timer);
	ev_timer_stop(P.loop, &c->pace);
	ev_unwatch(P.loop, c->fd);
	close(c->fd);
	mem_release(&c->in);
	mem_release(&c->out);
	mem_release(&c->x.head);
	http_msg_free(&c->req);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		P.clients = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	P.nclients--;
	free(c);
	accept_update();
	if (P.stopping && P.nclients == 0)
		ev_stop(P.loop);
	return -1;
}

static bool allowed(const struct addr *peer)
{
	const struct config *cfg = P.cfg;
	for (size_t i = 0; i < cfg->ndeny; i++)
		if (cidr_match(&cfg->deny[i], peer))
			return false;
	if (cfg->nallow == 0)
		return true;
	for (size_t i = 0; i < cfg->nallow; i++)
		if (cidr_match(&cfg->allow[i], peer))
			return true;
	return false;
}

/* STEP 1: a client connects: keep its address, start reading (step 2). */
static void client_new(int fd, const struct addr *peer)
{
	struct client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->fd = fd;
	c->id = ++P.next_conn;
	c->peer = *peer;
	c->t_accept = ev_mono_ns();
	addr_format(peer, c->peer_s);
	if (net_local_addr(fd, &c->local) < 0)
		c->local.ss.ss_family = AF_UNSPEC;
	(void)net_set_nodelay(fd);   /* responses leave as soon as they are written */
	http_msg_init(&c->req, HTTP_REQUEST, &request_hooks, c);
	c->req.max_head = P.cfg->max_header;
	c->req.max_target = P.cfg->max_target;
	if (ev_watch(P.loop, fd, EV_READ, client_on_io, c) < 0)
		goto fail;
	c->next = P.clients;
	if (P.clients != NULL)
		P.clients->prev = c;
	P.clients = c;
	P.nclients++;
	c->state = CS_IDLE;
	log_debug("client %lu %s: accepted", c->id, c->peer_s);
	struct buf *e = event_begin(c, 1, "accept");
	if (e != NULL) {
		char local[ADDR_STRLEN];
		event_str(e, "proxy", addr_format(&c->local, local));
		event_end(e);
	}
	request_begin(c, P.cfg->timeout_header);   /* the first byte starts step 2 */
	pace(c, client_process);
	return;
fail:
	log_warn("accept: out of memory");
	if (c != NULL)
		http_msg_free(&c->req);
	free(c);
	close(fd);
}

static void on_accept_backoff(ev_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	accept_update();
}

static void on_accept(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)loop;
	(void)arg;
	(void)mask;
	for (int i = 0; i < ACCEPTS_PER_WAKEUP && P.nclients < P.cfg->max_conns; i++) {
		struct addr peer;
		int cfd = net_accept(fd, &peer);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of fds: stop listening for a moment rather than spin. */
				log_warn("accept: %s; pausing %d ms", strerror(errno), EMFILE_BACKOFF_MS);
				P.accepting = false;
				for (size_t l = 0; l < P.nlisteners; l++)
					ev_set_mask(P.loop, P.listeners[l].fd, 0);
				ev_timer_arm(P.loop, &P.accept_timer, EMFILE_BACKOFF_MS, on_accept_backoff, NULL);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("accept: %s", strerror(errno));
			}
			break;
		}
		if (!allowed(&peer)) {
			char s[ADDR_STRLEN];
			log_debug("client %s: denied by allow/deny", addr_format(&peer, s));
			event_deny(s);
			close(cfd);
			continue;
		}
		client_new(cfd, &peer);
	}
	accept_update();
}

/* Listens while there is room for one more client (and no back-off). */
void accept_update(void)
{
	if (ev_timer_armed(&P.accept_timer))
		return;
	P.accepting = !P.stopping && P.nclients < P.cfg->max_conns;
	for (size_t i = 0; i < P.nlisteners; i++)
		if (P.listeners[i].fd >= 0)
			ev_set_mask(P.loop, P.listeners[i].fd, P.accepting ? EV_READ : 0);
}

int accept_start(void)
{
	const struct config *cfg = P.cfg;
	P.listeners = calloc(cfg->nlisteners, sizeof(*P.listeners));
	if (P.listeners == NULL && cfg->nlisteners > 0) {
		log_warn("listen: out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		char err[NET_ERRLEN], name[ADDR_STRLEN];
		struct listener *l = &P.listeners[P.nlisteners];
		l->fd = net_listen(&cfg->listeners[i].addr, 1024, err);
		if (l->fd < 0) {
			log_warn("%s", err);
			return -1;
		}
		P.nlisteners++;
		if (net_local_addr(l->fd, &l->addr) < 0) {
			log_warn("getsockname: %s", strerror(errno));
			return -1;
		}
		if (ev_watch(P.loop, l->fd, EV_READ, on_accept, l) < 0) {
			log_warn("listen %s: %s", addr_format(&l->addr, name), strerror(errno));
			return -1;
		}
		printf("listening %s\n", addr_format(&l->addr, name));
	}
	fflush(stdout);
	return 0;
}

void accept_stop(void)
{
	for (size_t i = 0; i < P.nlisteners; i++) {
		if (P.listeners[i].fd < 0)
			continue;
		ev_unwatch(P.loop, P.listeners[i].fd);
		close(P.listeners[i].fd);
		P.listeners[i].fd = -1;
	}
	free(P.listeners);
	P.listeners = NULL;
	P.nlisteners = 0;
}
