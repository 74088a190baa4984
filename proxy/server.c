/*
 * server.c - the server connection's life: its states are one table (step,
 * poll interest, timer, what the timer's expiry does), sconn_enter() the one
 * way into a state and sconn_refresh() the one place that sets its poll mask
 * and timer; the keep-alive pool of idle connections per server
 * (--server-keepalive, --timeout-pool); the one teardown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"

/* SS_BUSY runs timeout-server only while the server owes us something: to
 * take the request bytes we hold, or (the request complete) the response;
 * never while it waits for the client's body or we stop reading it for a
 * client that does not read (the client is timed then, client.c). */
const struct state server_states[] = {
	/*                 step  name        poll      timer       on expiry: fail, or close */
	[SS_CONNECTING] = { 4, "connecting", EV_WRITE, TO_CONNECT, 504 },   /* retried elsewhere if it may be */
	[SS_BUSY]       = { 5, "busy",       EV_READ,  TO_SERVER,  504 },   /* the same, or the response cut */
	[SS_IDLE]       = { 4, "idle",       EV_READ,  TO_POOL,    0 },     /* EOF while idle closes it too */
};

/* We do not read the server: its client has not taken what it has. */
static bool held_back(const struct sconn *s)
{
	const struct client *c = s->client;
	return s->state == SS_BUSY && c != NULL && (buf_len(&c->out) >= HIGH_WATER || ev_timer_armed(&c->pace));
}

static enum timeout sconn_timeout(const struct sconn *s)
{
	if (held_back(s))
		return TO_NONE;
	if (s->state == SS_BUSY && s->client != NULL && buf_len(&s->out) == 0 && !s->client->x.req_complete)
		return TO_NONE;   /* the client owes the rest of its body */
	return server_states[s->state].timeout;
}

static uint64_t timeout_ms(enum timeout to)
{
	const struct config *cfg = P.cfg;
	return to == TO_CONNECT ? cfg->timeout_connect : to == TO_SERVER ? cfg->timeout_server
	     : to == TO_POOL ? cfg->timeout_pool : to == TO_ATTEMPT ? cfg->timeout_attempt
	     : to == TO_REQUEST ? cfg->timeout_request : 0;
}

/* An earlier deadline: start + ms, when both are set. */
static void sooner(uint64_t *when, enum timeout *which, uint64_t start, uint64_t ms, enum timeout to)
{
	if (start != 0 && ms != 0 && start + ms * 1000000u < *when) {
		*when = start + ms * 1000000u;
		*which = to;
	}
}

/* When s's timer expires (0: none runs), and *which timer that is; a new
 * row timer starts from now.  While the server owes the proxy something
 * and the response head has not come, the request's own deadlines may
 * come first: --timeout-attempt and --timeout-request. */
static uint64_t sconn_deadline(struct sconn *s, enum timeout *which)
{
	enum timeout to = sconn_timeout(s);
	if (to != s->timeout) {
		s->timeout = to;
		s->t_io = ev_now_ns(P.loop);
	}
	*which = to;
	if (to == TO_NONE)
		return 0;
	uint64_t when = s->t_io + timeout_ms(to) * 1000000u;
	const struct exchange *x = s->client ? &s->client->x : NULL;
	if (x != NULL && x->status == 0) {
		sooner(&when, which, x->t_attempt, timeout_ms(TO_ATTEMPT), TO_ATTEMPT);
		sooner(&when, which, x->t_first, timeout_ms(TO_REQUEST), TO_REQUEST);
	}
	return when;
}

static void on_sconn_timer(ev_loop *loop, void *arg)
{
	(void)loop;
	struct sconn *s = arg;
	enum timeout which;
	if (!timer_due(&s->timer, sconn_deadline(s, &which), on_sconn_timer, s))
		return;
	char why[160], d[24];
	config_ms_str(timeout_ms(which), d);
	if (which == TO_CONNECT)
		snprintf(why, sizeof(why), "timeout-connect: no connection to %s after %s", s->server->name, d);
	else if (which == TO_ATTEMPT)
		snprintf(why, sizeof(why), "timeout-attempt: no response head from %s within %s", s->server->name, d);
	else if (which == TO_REQUEST)
		snprintf(why, sizeof(why), "timeout-request: no response head within %s (%s tried last)", d,
		         s->server->name);
	else
		snprintf(why, sizeof(why), "%s: %s silent for %s", timeout_names[which], s->server->name, d);
	int status = server_states[s->state].status;
	struct client *c = s->client;
	if (status == 0)
		sconn_close(s, timeout_names[s->timeout]);
	else if (server_failed(s, status, why) == 0)
		client_refresh(c);   /* retried, or answered: c lives on */
}

void sconn_refresh(struct sconn *s)
{
	int events = server_states[s->state].events;
	if (held_back(s))
		events = 0;
	if (s->state == SS_BUSY && buf_len(&s->out) > 0)
		events |= EV_WRITE;
	ev_set_mask(P.loop, s->fd, events);
	enum timeout which;
	timer_set(&s->timer, sconn_deadline(s, &which), on_sconn_timer, s);
}

void sconn_enter(struct sconn *s, enum server_state st)
{
	if (s->state != st)
		log_debug("server conn %lu %s: %s -> %s (step %d, %s)", s->id, s->server->name,
		          server_states[s->state].name, server_states[st].name, server_states[st].step,
		          timeout_names[server_states[st].timeout]);
	s->state = st;
	sconn_refresh(s);
}

void pool_unlink(struct sconn *s)
{
	struct server *srv = s->server;
	*(s->prev ? &s->prev->next : (struct sconn **)&srv->idle_head) = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	srv->nidle--;
}

/* The one teardown of a server connection. */
void sconn_close(struct sconn *s, const char *reason)
{
	log_debug("server conn %lu %s: closed: %s", s->id, s->server->name, reason);
	if (s->state == SS_IDLE)
		pool_unlink(s);
	if (s->client != NULL && s->client->srv == s)
		s->client->srv = NULL;
	ev_timer_stop(P.loop, &s->timer);
	ev_unwatch(P.loop, s->fd);
	close(s->fd);
	mem_release(&s->in);
	mem_release(&s->out);
	http_msg_free(&s->resp);
	free(s);
}

/* After a clean exchange: keep the connection for the next request to
 * this server, most recently used first. */
void pool_put(struct sconn *s)
{
	struct server *srv = s->server;
	if (P.stopping || srv->nidle >= P.cfg->server_keepalive || buf_len(&s->in) > 0) {
		sconn_close(s, buf_len(&s->in) > 0 ? "server sent bytes after its response" : "pool full");
		return;
	}
	s->client = NULL;
	mem_release(&s->in);
	mem_release(&s->out);
	s->prev = NULL;
	s->next = srv->idle_head;
	if (s->next != NULL)
		s->next->prev = s;
	srv->idle_head = s;
	srv->nidle++;
	sconn_enter(s, SS_IDLE);
}

void pool_close_all(void)
{
	for (size_t p = 0; p < P.cfg->npools; p++)
		for (size_t i = 0; i < P.cfg->pools[p].nservers; i++)
			while (P.cfg->pools[p].servers[i].idle_head != NULL)
				sconn_close(P.cfg->pools[p].servers[i].idle_head, "proxy stopping");
}
