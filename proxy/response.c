/*
 * response.c - STEP 6: the response comes back from the server.  llhttp on
 * the server side; framing by Content-Length, chunked, or close; no body
 * for HEAD, 1xx, 204 and 304, whatever their headers say (bytes after such
 * a head are the next response, or talk out of turn); 1xx (100 Continue)
 * passed on; the request's framing rules again (an ambiguous response is
 * never forwarded: 502); passive telemetry per server, the time to first
 * byte taken when the head arrives (so ewma learns at once).  The body
 * streams on to the client (step 7).  A server that failed before its
 * answer: passive health (health.c), then a retry elsewhere (connect.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lb.h"
#include "log.h"
#include "proxy.h"
#include "telemetry.h"

int response_check(const struct http_msg *resp, const struct head_scan *scan, const char **why)
{
	int st = status_line_code(scan->start, scan->start_len);   /* llhttp 8 reads "0200" as 200 */
	if (st < 0 && http_major(resp) == 1) {
		*why = "a status code that is not three digits";
		return 502;
	}
	if (st == 101) {
		*why = "101 Switching Protocols, but no upgrade was asked";
		return 502;
	}
	if (st < 100 || st > 599 || http_major(resp) != 1) {
		*why = "not an HTTP/1.x status line";
		return 502;
	}
	return framing_check(resp, why) ? 502 : 0;
}

/* Headers the client gets from us, not from the server: X-Request-ID when
 * we return ours, Content-Length on a status that never has a body. */
static bool replaced(const struct http_msg *resp, size_t i, const char *id)
{
	int st = http_status(resp);
	return (id != NULL && http_hdr_is(resp, i, "X-Request-ID")) ||
	       ((st < 200 || st == 204) && http_hdr_is(resp, i, "Content-Length"));
}

/* conn: 0 adds "Connection: close", 1 nothing (HTTP/1.1 keeps alive),
 * 2 "Connection: keep-alive" (for an HTTP/1.0 client). */
int edit_response_head(const struct http_msg *resp, enum frame frame, const char *name, const char *id,
                       int conn, struct buf *out)
{
	const char *reason = http_target(resp);
	int st = http_status(resp);
	int r = buf_puts(out, "HTTP/1.1 ");
	if (r == 0)
		r = buf_put_uint(out, (unsigned)st);
	if (r == 0)
		r = buf_cat(out, " ", reason[0] ? reason : http_reason(st), "\r\n", NULL);
	for (size_t i = 0; r == 0 && i < resp->nhdrs; i++) {
		if (!hop_by_hop(resp, http_hdr_name(resp, i), resp->hdrs[i].name_len) && !replaced(resp, i, id))
			r = copy_header(out, resp, i);
	}
	if (r == 0 && st >= 200)
		r = buf_cat(out, "Via: 1.1 ", name, "\r\n", NULL);
	if (r == 0 && st >= 200 && id != NULL)
		r = put_header(out, "X-Request-ID", id);
	if (r == 0 && frame == FRAME_CHUNKED)
		r = buf_puts(out, "Transfer-Encoding: chunked\r\n");
	if (r == 0 && conn == 0)
		r = buf_puts(out, "Connection: close\r\n");
	if (r == 0 && conn == 2)
		r = buf_puts(out, "Connection: keep-alive\r\n");
	if (r == 0)
		r = buf_puts(out, "\r\n");
	return r;
}

/* STEP 6: the response head has arrived: inspect it, decide its framing
 * toward the client, and queue the edited head (step 7 sends it). */
static int on_response_headers(struct http_msg *m)
{
	struct sconn *s = m->user;
	struct client *c = s->client;
	struct exchange *x = &c->x;
	const char *why;
	const char *name = P.cfg->name ? P.cfg->name : "l7lab", *id = P.cfg->return_id ? x->id : NULL;
	int st = http_status(m);
	bool client11 = http_minor(&c->req) >= 1;
	if (response_check(m, &s->scan, &why) != 0) {
		snprintf(m->error, sizeof(m->error), "%s", why);
		return -1;
	}
	if (st < 200) {   /* 100 Continue, 103 Early Hints: pass on to HTTP/1.1 clients */
		if (++x->interim > MAX_INTERIM) {
			snprintf(m->error, sizeof(m->error), "more than %d interim (1xx) responses", MAX_INTERIM);
			return -1;
		}
		size_t before = buf_len(&c->out);
		if (client11 && edit_response_head(m, FRAME_NONE, name, NULL, 1, &c->out) < 0)
			goto nomem;
		x->resp_bytes += buf_len(&c->out) - before;
		return 1;   /* no body, whatever the headers say */
	}
	/* STEP 6: --retry-on: a status that means "try another server", for a
	 * request that may be sent again, before anything reached the client. */
	if (st >= 400 && P.cfg->retry_on[st - 400]) {
		const char *no = retry_refusal(c, s, false);
		if (no == NULL) {
			snprintf(m->error, sizeof(m->error), "%d from %s (retry-on)", st, s->server->name);
			x->discarded = true;
			return -1;   /* server_failed retries it */
		}
		retry_refused(c, no);   /* the status goes to the client */
	}
	bool head = c->req.parser.method == HTTP_HEAD;
	if (head || st == 204 || st == 304)
		x->frame = FRAME_NONE;
	else if (m->parser.flags & F_CONTENT_LENGTH)
		x->frame = FRAME_LENGTH;
	else
		x->frame = client11 ? FRAME_CHUNKED : FRAME_CLOSE;
	/* The client connection lives on if it asked to, the response length
	 * is known, and the whole request was read (nothing left to skip). */
	x->keep_alive = x->keep_alive && x->frame != FRAME_CLOSE && x->req_complete && !P.stopping;
	/* STEP 6, --dlp: is the body screened; in block mode the head waits (screen.c) */
	struct buf *out = screen_head(c, m);
	if (out == NULL) {
		snprintf(m->error, sizeof(m->error), "%s", x->dlp.refused);
		return -1;   /* server_failed sees x->dlp.refused: 502 */
	}
	mem_prime(&c->out);
	size_t before = buf_len(out);
	if (edit_response_head(m, x->frame, name, id, x->keep_alive ? (client11 ? 1 : 2) : 0, out) < 0)
		goto nomem;
	if (out == &c->out) {
		x->resp_bytes += buf_len(&c->out) - before;
		x->status = st;
	}
	x->t_resp = ev_mono_ns();
	telemetry_response(s->server, x->t_sent, x->t_resp);   /* TTFB: --balance ewma, --admin */
	chunk_scan_init(&s->chunks);
	mem_release(&x->head);   /* too late to retry now */
	struct buf *e = event_begin(c, 6, "response-headers");
	if (e != NULL) {
		char a[ADDR_STRLEN];
		event_str(e, "server", addr_format(&s->server->addr, a));
		event_num(e, "status", st);
		event_num(e, "ms", ms_between(x->t_sent, x->t_resp));
		event_end(e);
	}
	if (x->frame == FRAME_NONE)
		return 1;   /* HEAD, 204, 304: no body follows, whatever the headers say */
	return P.cfg->pace_ms ? HPE_PAUSED : 0;   /* --pace: step 7 waits */
nomem:
	snprintf(m->error, sizeof(m->error), "out of memory");
	return -1;
}

int relay_body(struct client *c, const char *at, size_t len)
{
	size_t before = buf_len(&c->out);
	int r = c->x.frame == FRAME_CHUNKED ? chunk_append(&c->out, at, len) : buf_append(&c->out, at, len);
	c->x.resp_bytes += buf_len(&c->out) - before;
	return r;
}

static int on_response_body(struct http_msg *m, const char *at, size_t len)
{
	struct sconn *s = m->user;
	struct client *c = s->client;
	/* STEP 6, --dlp: screened, and masked or held (screen.c) */
	int r = c->x.dlp.scan ? screen_body(c, at, len) : relay_body(c, at, len);
	if (r < 0) {
		snprintf(m->error, sizeof(m->error), "%s", c->x.dlp.refused ? c->x.dlp.refused : "out of memory");
		return -1;
	}
	return 0;
}

static int on_response_complete(struct http_msg *m)
{
	struct sconn *s = m->user;
	struct client *c = s->client;
	if (http_status(m) < 200) {   /* an interim response: the real one follows */
		head_scan_init(&s->scan);
		s->scan.max = P.cfg->max_header;
		return 0;
	}
	if (c->x.dlp.scan != NULL && screen_end(c) < 0) {   /* STEP 6, --dlp: the rest, the verdict */
		snprintf(m->error, sizeof(m->error), "%s", c->x.dlp.refused ? c->x.dlp.refused : "out of memory");
		return -1;
	}
	if (c->x.frame == FRAME_CHUNKED) {
		if (buf_puts(&c->out, "0\r\n\r\n") < 0) {
			snprintf(m->error, sizeof(m->error), "out of memory");
			return -1;
		}
		c->x.resp_bytes += 5;
	}
	return HPE_PAUSED;   /* step 7 finishes the exchange outside llhttp */
}

const struct http_hooks response_hooks = {
	.on_headers = on_response_headers,   /* check, edit, forward the head      */
	.on_body = on_response_body,         /* stream to the client, re-framed     */
	.on_complete = on_response_complete, /* pause: step 7                       */
};

int exchange_failed(struct client *c, struct sconn *s, struct buf *out, int status, const char *why)
{
	struct server *srv = c->x.server;
	srv->stats.by_class[0]++;
	lb_observe_failure(srv, ev_now_ns(P.loop));   /* ewma: a one-second answer */
	health_failed(c, srv, why);
	int r = retry_elsewhere(c, s, out, why);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return client_error(c, status, why);
}

int server_failed(struct sconn *s, int status, const char *why)
{
	struct client *c = s->client;
	if (c == NULL) {
		sconn_close(s, why);
		return -1;
	}
	if (c->x.dlp.refused != NULL)   /* STEP 6, --dlp: our refusal, not the server's failure */
		return screen_refuse(c);
	if (status == 502) {
		int r = server_retry(s);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	if (c->x.status == 0)
		return exchange_failed(c, s, NULL, status, why);
	return client_cut(c, why);   /* the response had begun */
}

static int response_process(struct sconn *s);

/* --pace before step 7: the held response head may go now; parse on. */
static int step7_return(struct client *c)
{
	http_msg_resume(&c->srv->resp);
	return response_process(c->srv);
}

/* Feeds what the server sent to the response parser. */
static int response_process(struct sconn *s)
{
	struct client *c = s->client;
	while (buf_len(&s->in) > 0) {
		const char *p = buf_begin(&s->in);
		size_t n = buf_len(&s->in), used;
		if (!(s->resp.in_message && s->resp.headers_done)) {
			int r = head_scan(&s->scan, p, n, &used);
			if (r < 0)
				return server_failed(s, 502, s->scan.error);
			n = used;
		} else if (s->resp.parser.flags & F_CHUNKED) {
			int r = chunk_scan(&s->chunks, p, n, &used);
			if (r < 0)
				return server_failed(s, 502, s->chunks.error);
			if (s->chunks.hide) {   /* trailer fields: dropped, never parsed */
				buf_consume(&s->in, used);
				continue;
			}
			n = used;
		}
		llhttp_errno_t e = http_msg_feed(&s->resp, p, n, &used);
		buf_consume(&s->in, used);
		if (e == HPE_PAUSED && s->resp.in_message)
			return pace(c, step7_return);   /* paused after the head */
		if (e == HPE_PAUSED)
			return step7_done(c);
		if (e != HPE_OK)
			return server_failed(s, 502, s->resp.error);
	}
	return 0;
}

/* The server closed its side (err NULL) or reset it (err says so). */
static int response_eof(struct sconn *s, const char *err)
{
	char why[160], a[ADDR_STRLEN];
	s->eof = true;
	if (s->received == 0 || !s->resp.in_message) {
		snprintf(why, sizeof(why), "%s closed the connection before the response",
		         addr_format(&s->server->addr, a));
		return server_failed(s, 502, err ? err : why);
	}
	llhttp_errno_t e = err ? HPE_OK : http_msg_finish(&s->resp);
	if (err == NULL && (e == HPE_PAUSED || (e == HPE_OK && !s->resp.in_message)))
		return step7_done(s->client);   /* a body delimited by the close */
	return server_failed(s, 502, err ? err : "server closed mid-response");
}

static int sconn_read(struct sconn *s)
{
	char why[160], a[ADDR_STRLEN];
	mem_prime(&s->in);
	ssize_t n = buf_read_fd(&s->in, s->fd, READ_MAX);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		snprintf(why, sizeof(why), "read %s: %s", addr_format(&s->server->addr, a), strerror(errno));
		return response_eof(s, why);
	}
	if (n == 0)
		return response_eof(s, NULL);
	s->received += (uint64_t)n;
	s->t_io = ev_now_ns(P.loop);
	return response_process(s);
}

void sconn_on_io(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)loop;
	struct sconn *s = arg;
	struct client *c = s->client;
	if (s->state == SS_CONNECTING) {
		sconn_on_io_connecting(s);
		return;
	}
	if (s->state == SS_IDLE) {   /* the server closed it, or talks out of turn */
		char b;
		ssize_t n = read(fd, &b, 1);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		sconn_close(s, n == 0 ? "server closed the idle connection" : "server spoke while idle");
		return;
	}
	if (mask & EV_WRITE) {
		if (sconn_flush(s) < 0)
			return;
		/* the server took some: the client's body may flow again */
		if (c->state == CS_BODY && buf_len(&c->in) > 0 && c->srv != NULL &&
		    buf_len(&c->srv->out) < HIGH_WATER && client_process(c) < 0)
			return;
		s = c->srv;
	}
	if ((mask & EV_READ) && s != NULL && s->state == SS_BUSY && sconn_read(s) < 0)
		return;
	client_refresh(c);
}
