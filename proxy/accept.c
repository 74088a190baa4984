/*
 * accept.c - STEP 1: the client connects to the proxy.  Listeners (the
 * "listening" lines once every one is bound), the allow/deny lists, the
 * per-client limits (limits.c), --max-conns (the oldest idle keep-alive
 * client makes room), and the EMFILE back-off.  A refused client is closed
 * at once.  The client connection's life goes on in client.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "proxy.h"

struct proxy P;   /* the one process-wide state (proxy.h) */

#define ACCEPTS_PER_WAKEUP 64
#define EMFILE_BACKOFF_MS  100

/* Room for one more client: under --max-conns, or an idle one to give way. */
static bool room(void)
{
	return P.nclients < P.cfg->max_conns || P.idle_first != NULL;
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

/* STEP 1: a client connects: keep its address, start reading (step 2).
 * limits_connect has counted it: client_close, or the failure here, gives
 * its place back. */
struct client *client_new(int fd, const struct addr *peer)
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
	c->req.max_fields = MAX_FIELDS;
	if (ev_watch(P.loop, fd, 0, client_on_io, c) < 0)
		goto fail;
	c->next = P.clients;
	if (P.clients != NULL)
		P.clients->prev = c;
	P.clients = c;
	P.nclients++;
	log_debug("client %lu %s: accepted", c->id, c->peer_s);
	struct buf *e = event_begin(c, 1, "accept");
	if (e != NULL) {
		char local[ADDR_STRLEN];
		event_str(e, "proxy", addr_format(&c->local, local));
		event_end(e);
	}
	request_begin(c);   /* the first byte starts step 2 (timeout-header from now) */
	return pace(c, client_process) < 0 ? NULL : c;
fail:
	log_warn("accept: out of memory");
	limits_disconnect(peer);
	if (c != NULL)
		http_msg_free(&c->req);
	free(c);
	close(fd);
	return NULL;
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
	for (int i = 0; i < ACCEPTS_PER_WAKEUP && room(); i++) {
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
			refuse(NULL, &peer, REFUSE_DENY, 0, NULL);
			close(cfd);
			continue;
		}
		if (!limits_connect(&peer)) {   /* before an idle client gives way for it */
			close(cfd);
			continue;
		}
		if (P.nclients >= P.cfg->max_conns && !client_reclaim_idle()) {
			limits_disconnect(&peer);   /* the idle ones are still sending */
			refuse(NULL, &peer, REFUSE_MAX_CONNS, 0, "no idle client to make room");
			close(cfd);
			break;
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
	P.accepting = !P.stopping && room();
	for (size_t i = 0; i < P.nlisteners; i++)
		if (P.listeners[i].fd >= 0)
			ev_set_mask(P.loop, P.listeners[i].fd, P.accepting ? EV_READ : 0);
}

/* Binds every listener and checks --source; accept_announce says
 * "listening" once every listener of the proxy (--admin's too) is bound. */
int accept_start(void)
{
	const struct config *cfg = P.cfg;
	char err[NET_ERRLEN], name[ADDR_STRLEN];
	P.listeners = calloc(cfg->nlisteners, sizeof(*P.listeners));
	if (P.listeners == NULL && cfg->nlisteners > 0) {
		log_warn("listen: out of memory");
		return -1;
	}
	if (cfg->has_source && net_bind_check(&cfg->source, err) < 0) {
		log_warn("--source: %s", err);
		return -1;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
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
	}
	return 0;
}

/* On stdout, or on stderr when --events writes its JSON there. */
void accept_announce(void)
{
	char name[ADDR_STRLEN];
	FILE *out = P.cfg->events != NULL && strcmp(P.cfg->events, "-") == 0 ? stderr : stdout;
	for (size_t i = 0; i < P.nlisteners; i++)
		fprintf(out, "listening %s\n", addr_format(&P.listeners[i].addr, name));
	admin_announce(out);
	fflush(out);
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
