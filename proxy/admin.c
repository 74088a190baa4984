/*
 * admin.c - the --admin listener and its connections (admin.h).
 *
 * One request per connection: read the head (at most ADMIN_MAX_HEAD
 * bytes), answer it from admin_page.c or the embedded files, write, close.
 * All of it is non-blocking, in the proxy's own loop; a connection has
 * ADMIN_TIMEOUT_MS for the whole exchange, and at ADMIN_MAX_CONNS the
 * listener pauses until one closes.  The proxy's allow/deny lists are for
 * its clients: bind --admin to a loopback address.
 */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "telemetry.h"

#define ACCEPT_BACKOFF_MS 100     /* out of fds: pause the listener this long */

enum admin_state {
	AS_READING,     /* the request head is on its way (ADMIN_TIMEOUT_MS)  */
	AS_WRITING,     /* the answer goes out, then the connection closes    */
};

struct admin_conn {
	int fd;
	enum admin_state state;
	struct http_msg req;
	struct buf in, out;
	ev_timer timer;
	struct admin_conn *next, *prev;
};

static struct {
	int fd;                       /* the listener, -1 when closed       */
	struct admin_conn *conns;
	size_t nconns;
	ev_timer backoff;
	struct buf body;              /* a document being written, reused   */
	struct addr local;            /* where the listener is bound        */
} A = { .fd = -1 };

static void admin_close(struct admin_conn *c, const char *why)
{
	log_debug("admin connection: closed: %s", why);
	ev_timer_stop(P.loop, &c->timer);
	ev_unwatch(P.loop, c->fd);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	http_msg_free(&c->req);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		A.conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	A.nconns--;
	free(c);
	if (A.fd >= 0 && !ev_timer_armed(&A.backoff))
		ev_set_mask(P.loop, A.fd, EV_READ);       /* room again */
}

/* Queues an answer: status, headers, and body (len bytes; HEAD: none). */
static int answer(struct admin_conn *c, int status, const char *type, const char *body, size_t len,
                  const char *extra)
{
	bool head = strcmp(http_method(&c->req), "HEAD") == 0;
	int r = buf_printf(&c->out,
	                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
	                   "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	                   "Content-Security-Policy: default-src 'self'; img-src 'self' data:\r\n%s\r\n",
	                   status, http_reason(status), type, len, extra ? extra : "");
	if (r == 0 && !head)
		r = buf_append(&c->out, body, len);
	c->state = AS_WRITING;
	ev_set_mask(P.loop, c->fd, EV_WRITE);
	return r;
}

static int answer_error(struct admin_conn *c, int status, const char *why, const char *extra)
{
	char text[160];
	int n = snprintf(text, sizeof(text), "%d %s: %s\n", status, http_reason(status), why);
	return answer(c, status, "text/plain; charset=utf-8", text, (size_t)n, extra);
}

/* A document from admin_page.c, written into A.body first for its length. */
static int answer_page(struct admin_conn *c, int (*page)(struct buf *), const char *type)
{
	buf_clear(&A.body);
	if (page(&A.body) < 0)
		return answer_error(c, 500, "out of memory", NULL);
	return answer(c, 200, type, buf_begin(&A.body), buf_len(&A.body), NULL);
}

/* The request head is complete: answer it. */
static int respond(struct admin_conn *c)
{
	const char *method = http_method(&c->req), *target = http_target(&c->req);
	size_t len = strcspn(target, "?");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_error(c, 405, "the admin endpoint only reads: use GET", "Allow: GET, HEAD\r\n");
	if (c->req.parser.content_length > 0 || (c->req.parser.flags & F_CHUNKED))
		return answer_error(c, 413, "the admin endpoint takes no request body", NULL);
	if (len == 1 && target[0] == '/')
		return answer_page(c, admin_page_html, "text/html; charset=utf-8");
	if (len == 6 && strncmp(target, "/stats", len) == 0)
		return answer_page(c, admin_page_json, "application/json");
	if (len == 8 && strncmp(target, "/metrics", len) == 0)
		return answer_page(c, admin_page_metrics, "text/plain; version=0.0.4; charset=utf-8");
	for (const struct admin_asset *a = admin_assets; a->path != NULL; a++)
		if (strlen(a->path) == len && strncmp(target, a->path, len) == 0)
			return answer(c, 200, a->type, a->body, a->len, NULL);
	return answer_error(c, 404, "try /, /stats or /metrics", NULL);
}

static int on_headers(struct http_msg *m)
{
	(void)m;
	return HPE_PAUSED;        /* one request per connection: stop here */
}

static const struct http_hooks admin_hooks = { .on_headers = on_headers };

static void on_timeout(ev_loop *loop, void *arg)
{
	(void)loop;
	admin_close(arg, "timed out");
}

static void on_io(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)loop;
	struct admin_conn *c = arg;
	if (c->state == AS_READING && (mask & (EV_READ | EV_ERROR))) {
		ssize_t n = buf_read_fd(&c->in, fd, ADMIN_MAX_HEAD);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			admin_close(c, n == 0 ? "the client closed" : strerror(errno));
			return;
		}
		size_t used;
		llhttp_errno_t e = http_msg_feed(&c->req, buf_begin(&c->in), buf_len(&c->in), &used);
		buf_clear(&c->in);
		int r = 0;
		if (e == HPE_PAUSED)
			r = respond(c);
		else if (e != HPE_OK)
			r = answer_error(c, c->req.limit_status ? c->req.limit_status : 400, c->req.error, NULL);
		if (r < 0) {
			admin_close(c, "out of memory");
			return;
		}
	}
	if (c->state == AS_WRITING) {
		while (buf_len(&c->out) > 0) {
			if (buf_write_fd(&c->out, fd) < 0) {
				if (errno != EAGAIN && errno != EINTR)
					admin_close(c, strerror(errno));
				return;
			}
		}
		admin_close(c, "answered");
	}
}

static void on_backoff(ev_loop *loop, void *arg)
{
	(void)arg;
	if (A.fd >= 0 && A.nconns < ADMIN_MAX_CONNS)
		ev_set_mask(loop, A.fd, EV_READ);
}

static void on_accept(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)arg;
	(void)mask;
	while (A.nconns < ADMIN_MAX_CONNS) {
		struct addr peer;
		int cfd = net_accept(fd, &peer);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("admin: accept: %s; pausing %d ms", strerror(errno), ACCEPT_BACKOFF_MS);
				ev_set_mask(loop, fd, 0);
				ev_timer_arm(loop, &A.backoff, ACCEPT_BACKOFF_MS, on_backoff, NULL);
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				log_warn("admin: accept: %s", strerror(errno));
			}
			return;
		}
		struct admin_conn *c = calloc(1, sizeof(*c));
		if (c == NULL || ev_watch(loop, cfd, EV_READ, on_io, c) < 0) {
			log_warn("admin: accept: out of memory");
			free(c);
			close(cfd);
			return;
		}
		c->fd = cfd;
		http_msg_init(&c->req, HTTP_REQUEST, &admin_hooks, c);
		c->req.max_head = ADMIN_MAX_HEAD;
		c->req.max_target = ADMIN_MAX_HEAD;
		ev_timer_arm(loop, &c->timer, ADMIN_TIMEOUT_MS, on_timeout, c);
		c->next = A.conns;
		if (A.conns != NULL)
			A.conns->prev = c;
		A.conns = c;
		A.nconns++;
	}
	ev_set_mask(loop, fd, 0);     /* full: admin_close listens again */
}

int admin_start(void)
{
	char err[NET_ERRLEN], name[ADDR_STRLEN];
	if (!P.cfg->has_admin)
		return 0;
	if (telemetry_start(P.cfg, P.loop, ev_now_ns(P.loop)) < 0) {
		log_warn("admin: out of memory");
		return -1;
	}
	A.fd = net_listen(&P.cfg->admin, 64, err);
	if (A.fd < 0) {
		log_warn("admin: %s", err);
		return -1;
	}
	if (net_local_addr(A.fd, &A.local) < 0 || ev_watch(P.loop, A.fd, EV_READ, on_accept, NULL) < 0) {
		log_warn("admin: listen %s: %s", addr_format(&P.cfg->admin, name), strerror(errno));
		return -1;
	}
	return 0;
}

void admin_announce(FILE *out)
{
	char name[ADDR_STRLEN];
	if (A.fd >= 0)
		fprintf(out, "listening admin %s\n", addr_format(&A.local, name));
}

void admin_stop(void)
{
	while (A.conns != NULL)
		admin_close(A.conns, "proxy stopped");
	if (A.fd >= 0) {
		ev_unwatch(P.loop, A.fd);
		close(A.fd);
		A.fd = -1;
	}
	ev_timer_stop(P.loop, &A.backoff);
	buf_free(&A.body);
	if (P.cfg->has_admin)
		telemetry_stop(P.cfg, P.loop);
}
