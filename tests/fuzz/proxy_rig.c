/*
 * proxy_rig.c - the real proxy driven by a harness (see proxy_rig.h).
 */
#include "proxy_rig.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include "log.h"
#include "../../proxy/proxy.h"

#define MAX_TURNS  60000   /* turns of the loop in one run                    */
#define MAX_WARPS  64      /* jumps of the clock in one run                   */
#define IDLE_TURNS 3       /* turns without a byte moved before time jumps    */

static int listen_fd = -1, client_listen_fd = -1, tick_fd = -1;
static struct addr client_addr;
static char backend[ADDR_STRLEN];
static struct config cfg;

/* Once per process: the backend's listener, the one the client connects
 * through (TCP, not a socketpair: a reset must read as one), and the
 * always-readable eventfd whose callback is the rig's turn. */
static void setup_once(void)
{
	char err[NET_ERRLEN] = "";
	struct addr any, a;
	signal(SIGPIPE, SIG_IGN);
	if (addr_parse("127.0.0.1:0", 0, &any, err) < 0 || (listen_fd = net_listen(&any, 256, err)) < 0 ||
	    net_local_addr(listen_fd, &a) < 0 || (client_listen_fd = net_listen(&any, 16, err)) < 0 ||
	    net_local_addr(client_listen_fd, &client_addr) < 0)
		fuzz_fail("rig: cannot listen: %s", err);
	addr_format(&a, backend);
	tick_fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	if (tick_fd < 0)
		fuzz_fail("rig: eventfd: %s", strerror(errno));
}

static void end_init(struct rig_end *e, int fd, const uint8_t *seed, size_t n, enum split_mode mode)
{
	*e = (struct rig_end){ .fd = fd, .got = BUF_INIT, .out = BUF_INIT };
	splits_init(&e->sp, mode, seed, n);
}

/* Reads and writes what an end can now; true if a byte moved. */
static bool end_io(struct rig *r, struct rig_end *e, rig_fn *fn)
{
	bool moved = false, fresh = false;
	if (e->fd < 0)
		return false;
	while (!e->eof) {
		char tmp[65536];
		ssize_t n = read(e->fd, tmp, sizeof(tmp));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		moved = true;
		if (n <= 0) {
			e->eof = true;
			e->reset = n < 0;
			break;
		}
		size_t keep = RIG_GOT_MAX - buf_len(&e->got);
		keep = (size_t)n < keep ? (size_t)n : keep;
		if (keep > 0 && buf_append(&e->got, tmp, keep) < 0)
			fuzz_fail("rig: out of memory");
		fresh = true;
	}
	if (fresh && fn != NULL)
		fn(r, e);
	if (buf_len(&e->out) > 0) {
		size_t n = splits_next(&e->sp, buf_len(&e->out));
		ssize_t w = send(e->fd, buf_begin(&e->out), n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			buf_consume(&e->out, (size_t)w);
			e->sent += (size_t)w;
			moved = true;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			buf_clear(&e->out);   /* the proxy is gone: the rest is lost */
			moved = true;
		}
	}
	if (buf_len(&e->out) == 0 && e->shut_when_sent && !e->shut) {
		e->shut = true;
		(void)shutdown(e->fd, SHUT_WR);
		moved = true;
	}
	return moved;
}

/* A client of the proxy waits for something: a timer of its own, of its
 * --pace, or of its server connection must be running. */
static void check_timers(void)
{
	for (const struct client *c = P.clients; c != NULL; c = c->next)
		FUZZ_CHECK(ev_timer_armed(&c->timer) || ev_timer_armed(&c->pace) ||
		           (c->srv != NULL && ev_timer_armed(&c->srv->timer)),
		           "client %lu waits in state %s with no timer running (it would hang)", c->id,
		           client_states[c->state].name);
}

/* Bytes sent on fd that the peer has not acknowledged yet: on a loaded
 * machine loopback delivery can wait for ksoftirqd, and a jump in time
 * then would fire a timeout no real run could see.  A connection the peer
 * reset (state CLOSE) keeps its unacknowledged bytes for ever: they are not
 * on their way, and counting them stopped time for the rest of the run (the
 * run spun to MAX_TURNS, cut short). */
static bool unacked(int fd)
{
	int n = 0;
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	if (fd < 0 || ioctl(fd, SIOCOUTQ, &n) != 0 || n <= 0)
		return false;
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || ti.tcpi_state != TCP_CLOSE;
}

static bool bytes_in_flight(const struct rig *r)
{
	if (unacked(r->client.fd))
		return true;
	for (size_t i = 0; i < r->nservers; i++)
		if (unacked(r->server[i].fd))
			return true;
	for (const struct client *c = P.clients; c != NULL; c = c->next)
		if (unacked(c->fd) || (c->srv != NULL && unacked(c->srv->fd)))
			return true;
	return false;
}

static void on_tick(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)fd;
	(void)mask;
	struct rig *r = arg;
	bool moved = false;
	for (int s; (s = net_accept(listen_fd, NULL)) >= 0;) {
		moved = true;
		if (r->nservers == RIG_MAX_SERVERS) {
			close(s);
			continue;
		}
		/* No Nagle: a byte sent is a byte the proxy can read at its next
		 * turn, or the rig would jump time while a segment waits for an
		 * ACK the kernel delays. */
		if (net_set_nodelay(s) < 0)
			fuzz_fail("rig: TCP_NODELAY: %s", strerror(errno));
		struct rig_end *e = &r->server[r->nservers++];
		end_init(e, s, (const uint8_t *)&r->nservers, sizeof(r->nservers), r->mode);
	}
	moved |= end_io(r, &r->client, r->on_client);
	for (size_t i = 0; i < r->nservers; i++)
		moved |= end_io(r, &r->server[i], r->on_server);
	r->idle = moved ? 0 : r->idle + 1;
	if (r->client.eof && P.nclients == 0)
		r->done = true;   /* the proxy is through with the client */
	else if (r->idle >= IDLE_TURNS && !bytes_in_flight(r)) {
		r->idle = 0;
		check_timers();
		if (++r->warps > MAX_WARPS || !ev_warp(loop))
			r->done = r->cut_short = true;
	}
	if (++r->turns >= MAX_TURNS)
		r->done = r->cut_short = true;
	if (r->done)
		ev_stop(loop);
}

/* The lowest free file descriptor: the same before and after a run, or
 * the run leaked one. */
static int lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		fuzz_fail("rig: fcntl: %s", strerror(errno));
	close(fd);
	return fd;
}

static int fd_mark;

void rig_start(struct rig *r, const char *const *flags, const uint8_t *data, size_t size, enum split_mode mode)
{
	static bool ready;
	if (!ready) {
		setup_once();
		ready = true;
	}
	fd_mark = lowest_free_fd();
	char *argv[64] = { "proxy", "--listen", "127.0.0.1:0", "--backend", backend, "--quiet" };
	int argc = 6;
	for (size_t i = 0; flags[i] != NULL && argc < 63; i++)
		argv[argc++] = (char *)flags[i];
	argv[argc] = NULL;
	char err[256];
	if (config_parse_args(&cfg, argc, argv, err, sizeof(err)) != 0)
		fuzz_fail("rig: the proxy's flags: %s", err);
	log_verbose = getenv("RIG_VERBOSE") ? 2 : 0;

	P = (struct proxy){ .cfg = &cfg, .log_fd = -1, .events_fd = -1, .accepting = true };
	P.loop = ev_new();
	if (P.loop == NULL)
		fuzz_fail("rig: ev_new: %s", strerror(errno));
	*r = (struct rig){ .mode = mode, .on_client = r->on_client, .on_server = r->on_server, .user = r->user };

	/* The client's connection, and the proxy's end of it. */
	struct addr peer;
	struct pollfd pl = { .fd = client_listen_fd, .events = POLLIN };
	int cfd = net_connect(&client_addr, NULL, err), pfd = -1;
	if (cfd < 0 || poll(&pl, 1, 5000) != 1 || (pfd = net_accept(client_listen_fd, &peer)) < 0 ||
	    net_set_nodelay(cfd) < 0)
		fuzz_fail("rig: cannot connect the client: %s", cfd < 0 ? err : strerror(errno));
	end_init(&r->client, cfd, data, size, mode);
	if (buf_append(&r->client.out, data, size) < 0)
		fuzz_fail("rig: out of memory");
	if (client_new(pfd, &peer) == NULL)
		fuzz_fail("rig: client_new failed");
	if (ev_watch(P.loop, tick_fd, EV_READ, on_tick, r) < 0)
		fuzz_fail("rig: ev_watch: %s", strerror(errno));
}

void rig_run(struct rig *r)
{
	(void)r;
	if (ev_run(P.loop) < 0)
		fuzz_fail("rig: poll: %s", strerror(errno));
}

/* RIG_VERBOSE=1: the proxy's -vv messages, and at the end what each end
 * received (for a person reading a finding). */
static void dump(const struct rig *r)
{
	for (size_t i = 0; i < r->nservers; i++)
		fprintf(stderr, "--- server connection %zu got (it sent %zu bytes):\n%.*s\n", i + 1, r->server[i].sent,
		        (int)buf_len(&r->server[i].got), buf_begin(&r->server[i].got));
	fprintf(stderr, "--- the client got%s:\n%.*s\n---\n", r->client.reset ? " (then a reset)" : r->client.eof ? " (then EOF)" : "",
	        (int)buf_len(&r->client.got), buf_begin(&r->client.got));
}

void rig_stop(struct rig *r)
{
	if (getenv("RIG_VERBOSE") != NULL)
		dump(r);
	ev_unwatch(P.loop, tick_fd);
	while (P.clients != NULL)
		client_close(P.clients, "fuzz run over");
	pool_close_all();
	for (int s; (s = net_accept(listen_fd, NULL)) >= 0;)
		close(s);   /* connections the run never got to */
	if (r->client.fd >= 0)
		close(r->client.fd);
	for (size_t i = 0; i < r->nservers; i++)
		close(r->server[i].fd);
	r->client.fd = -1;
	ev_timer_stop(P.loop, &P.accept_timer);
	ev_timer_stop(P.loop, &P.flush_timer);
	ev_timer_stop(P.loop, &P.stop_timer);
	mem_free_all();
	FUZZ_CHECK(P.nclients == 0, "rig: %zu clients left", P.nclients);
	buf_free(&P.why);
	buf_free(&P.log);
	buf_free(&P.events);
	ev_free(P.loop);
	P.loop = NULL;
	config_free(&cfg);
	FUZZ_CHECK(lowest_free_fd() == fd_mark, "a file descriptor leaked (the lowest free one was %d, now %d)",
	           fd_mark, lowest_free_fd());
}

void rig_free(struct rig *r)
{
	buf_free(&r->client.got);
	buf_free(&r->client.out);
	for (size_t i = 0; i < r->nservers; i++) {
		buf_free(&r->server[i].got);
		buf_free(&r->server[i].out);
	}
}

/* ---- what an edited head may hold ------------------------------------------- */

static bool name_in(const char *name, size_t len, const char *const *names)
{
	for (size_t i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
			return true;
	return false;
}

static bool field_is(const struct strict_field *f, const char *name)
{
	return strlen(name) == f->name_len && strncasecmp(f->name, name, f->name_len) == 0;
}

/* Is token (len bytes) an element of the comma-separated list value? */
static bool list_has(const char *v, size_t vlen, const char *token, size_t len)
{
	size_t i = 0;
	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t j = i;
		while (j < vlen && v[j] != ',')
			j++;
		size_t last = j;
		while (last > i && (v[last - 1] == ' ' || v[last - 1] == '\t'))
			last--;
		if (last - i == len && strncasecmp(v + i, token, len) == 0)
			return true;
		i = j;
	}
	return false;
}

/* Hop-by-hop (RFC 9110 7.6.1): the fixed names, and what the message's
 * Connection fields name (never Content-Length or Host: see proxy.1). */
static bool hop(const char *p, size_t head, const struct strict_field *f)
{
	static const char *const fixed[] = { "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
	                                     "Upgrade", "Transfer-Encoding", NULL };
	if (name_in(f->name, f->name_len, fixed))
		return true;
	if (field_is(f, "Content-Length") || field_is(f, "Host"))
		return false;
	struct strict_field c;
	for (size_t at = 0; strict_next_field(p, head, &at, &c);)
		if (field_is(&c, "Connection") && list_has(c.value, c.value_len, f->name, f->name_len))
			return true;
	return false;
}

#define RIG_FIELDS 4096

void rig_check_fields(const char *orig, size_t orig_head, const char *edited, size_t edited_head,
                      const char *const *replaced, const char *const *added, const char *what)
{
	static struct strict_field from[RIG_FIELDS];
	static bool used[RIG_FIELDS];
	size_t n = 0;
	struct strict_field f;
	for (size_t at = 0; n < RIG_FIELDS && strict_next_field(orig, orig_head, &at, &f);)
		if (!hop(orig, orig_head, &f) && !name_in(f.name, f.name_len, replaced)) {
			used[n] = false;
			from[n++] = f;
		}
	for (size_t at = 0; strict_next_field(edited, edited_head, &at, &f);) {
		size_t i = 0;
		while (i < n && (used[i] || from[i].name_len != f.name_len ||
		                 strncasecmp(from[i].name, f.name, f.name_len) != 0 || from[i].value_len != f.value_len ||
		                 memcmp(from[i].value, f.value, f.value_len) != 0))
			i++;
		if (i < n) {
			used[i] = true;
			continue;
		}
		FUZZ_CHECK(name_in(f.name, f.name_len, added), "%s: a field the peer did not send end to end: %.*s: %.*s",
		           what, (int)f.name_len, f.name, (int)f.value_len, f.value);
		if (field_is(&f, "Transfer-Encoding"))
			FUZZ_CHECK(f.value_len == 7 && strncasecmp(f.value, "chunked", 7) == 0,
			           "%s: the proxy's own Transfer-Encoding is %.*s", what, (int)f.value_len, f.value);
		if (field_is(&f, "Connection"))
			FUZZ_CHECK(list_has(f.value, f.value_len, "close", 5) || list_has(f.value, f.value_len, "keep-alive", 10),
			           "%s: the proxy's own Connection is %.*s", what, (int)f.value_len, f.value);
	}
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(used[i], "%s: the end-to-end field %.*s: %.*s was lost", what, (int)from[i].name_len,
		           from[i].name, (int)from[i].value_len, from[i].value);
}
