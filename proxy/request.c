/*
 * request.c - STEP 2: the client sends request headers, then the body.
 * Reads the client connection, feeds llhttp (the raw bytes are scanned
 * first, scan.c), enforces the limits (431, 414, 413) and the
 * request-smuggling defences an intermediary owes the server behind it
 * (RFC 9112 sections 2.2, 5, 6 and 7), then hands the request to step 3.
 * The parser pauses after the head (steps 3-5 run outside llhttp) and
 * after the message (pipelined requests wait their turn).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "route.h"

/* What a request starting "PRI * HTTP/x" is told (RFC 9113 3.4). */
#define H2_PREFACE "the HTTP/2 preface (method PRI) on an HTTP/1.x port"

/* ---- checks on a complete head (pure) ----------------------------------- */

int framing_check(const struct http_msg *m, const char **why)
{
	size_t te = 0, codings = 0, chunked = 0, cl = http_count(m, "Content-Length");
	bool last_chunked = false;
	for (size_t i = 0; i < m->nhdrs; i++) {
		if (!http_hdr_is(m, i, "Transfer-Encoding"))
			continue;
		const char *cursor = http_hdr_value(m, i), *el;
		size_t n;
		te++;
		while ((el = http_list_next(&cursor, &n)) != NULL) {
			codings++;
			last_chunked = n == 7 && strncasecmp(el, "chunked", 7) == 0;
			chunked += last_chunked;
		}
	}
	*why = NULL;
	if (cl > 1)
		*why = "two Content-Length headers";
	else if (te == 0)
		return 0;
	else if (cl > 0)
		*why = "Transfer-Encoding together with Content-Length";
	else if (http_minor(m) == 0)
		*why = "Transfer-Encoding in HTTP/1.0";
	else if (!last_chunked)
		*why = "Transfer-Encoding whose final coding is not chunked";
	else if (chunked > 1)
		*why = "chunked applied twice";
	else if (codings > 1) {
		*why = "a transfer coding other than chunked";
		return 501;
	}
	return *why == NULL ? 0 : 400;
}

int request_check(const struct http_msg *req, uint64_t max_body, const char **why)
{
	if (req->parser.method == HTTP_CONNECT) {
		*why = "CONNECT is not supported by a reverse proxy";
		return 405;
	}
	if (http_major(req) != 1) {
		*why = "only HTTP/1.0 and HTTP/1.1 are spoken here";
		return 505;
	}
	size_t hosts = http_count(req, "Host");
	if (http_minor(req) >= 1 && hosts == 0) {
		*why = "HTTP/1.1 request without Host";
		return 400;
	}
	if (hosts > 1) {
		*why = "two Host headers";
		return 400;
	}
	size_t alen;
	if (route_authority(http_target(req), &alen) != NULL && (alen == 0 || alen > ROUTE_AUTHORITY_MAX)) {
		*why = "an absolute target with an empty or overlong host";
		return 400;
	}
	int status = framing_check(req, why);
	if (status != 0)
		return status;
	if (http_count(req, "Content-Length") == 1 && max_body > 0 && req->parser.content_length > max_body) {
		*why = "Content-Length over --max-body";
		return 413;
	}
	return 0;
}

/* ---- llhttp hooks --------------------------------------------------------- */

/* The head is complete: pause, so steps 3-5 run outside the parser. */
static int on_request_headers(struct http_msg *m)
{
	/* Upgrade is hop-by-hop and removed at step 3; tell llhttp not to
	 * switch protocols after this message. */
	if (m->parser.method != HTTP_CONNECT)
		m->parser.upgrade = 0;
	return HPE_PAUSED;
}

const struct http_hooks request_hooks = {
	.on_headers = on_request_headers,    /* pause: step 3 comes next            */
	.on_body = request_on_body,          /* step 5: stream to the server        */
	.on_complete = request_on_complete,  /* pause: wait for the response        */
};

/* ---- the client connection ---------------------------------------------- */

void request_begin(struct client *c)
{
	mem_release(&c->x.head);
	inspect_free(&c->x.waf);
	screen_free(&c->x.dlp);
	c->x = (struct exchange){ 0 };
	/* Until llhttp begins the next message, the last one's head is gone. */
	c->req.headers_done = false;
	c->req.nhdrs = 0;
	c->req.target_len = 0;
	head_scan_init(&c->scan);
	c->scan.max = P.cfg->max_header;
	client_enter(c, CS_IDLE);
}

/* Our request IDs: the process's random prefix, then a counter, in 16 hex
 * digits (out has room for 17 bytes). */
static void make_request_id(char *out, uint32_t prefix, uint32_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v = (uint64_t)prefix << 32 | n;
	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = hex[v & 15];
	out[16] = '\0';
}

/* The head parsed cleanly: check it, then step 3. */
static int request_head_done(struct client *c)
{
	struct exchange *x = &c->x;
	const char *why = NULL;
	x->t_head = step_time();
	const char *id = http_get(&c->req, "X-Request-ID");
	if (id != NULL && request_id_ok(id)) {
		snprintf(x->id, sizeof(x->id), "%s", id);
	} else {
		make_request_id(x->id, P.id_prefix, (uint32_t)++P.next_req);
		x->id_is_ours = true;
	}
	x->keep_alive = http_keep_alive(&c->req) && !P.stopping;
	struct buf *e = event_begin(c, 2, "request-headers");
	if (e != NULL) {
		char v[16];
		event_str(e, "method", http_method(&c->req));
		event_str(e, "target", http_target(&c->req));
		snprintf(v, sizeof(v), "HTTP/%d.%d", http_major(&c->req), http_minor(&c->req));
		event_str(e, "version", v);
		event_num(e, "ms", ms_between(x->t_start, x->t_head));
		event_end(e);
	}
	if (!limits_request(c))
		return client_error(c, 429, c->x.err);
	int status = request_check(&c->req, P.cfg->max_body, &why);
	if (status != 0)
		return client_error(c, status, why);
	chunk_scan_init(&c->chunks);
	client_enter(c, CS_DECIDE);
	return pace(c, step3_decide);
}

/* --pace before step 6: the server's answer is not read until then. */
static int step6_wait(struct client *c)
{
	(void)c;
	return 0;
}

int request_sent(struct client *c)
{
	client_enter(c, CS_WAIT);
	struct buf *ev = event_begin(c, 5, "request-sent");
	if (ev != NULL) {
		event_num(ev, "body", (double)c->x.req_body);
		event_end(ev);
	}
	return pace(c, step6_wait);
}

/* STEP 2: read the request.  Feeds what the client sent to the parser, as
 * far as the state allows: the head, scanned first; then, after steps 3-5,
 * the body (with --waf, its first bytes at step 3: CS_INSPECT). */
int client_process(struct client *c)
{
	for (;;) {
		size_t n = buf_len(&c->in), used = 0;
		if (c->state == CS_IDLE) {
			if (n == 0)
				break;
			/* The first request's clock starts at step 1, as in HAProxy. */
			c->x.t_start = c->t_accept ? c->t_accept : step_time();
			c->t_accept = 0;
			mem_prime_head(&c->req);
			client_enter(c, CS_HEAD);
		}
		if (c->state == CS_HEAD && n == 0)
			break;
		if (c->state != CS_HEAD && c->state != CS_INSPECT && c->state != CS_BODY)
			break;
		if (c->state == CS_BODY && (buf_len(&c->srv->out) >= HIGH_WATER || ev_timer_armed(&c->pace)))
			break;   /* back-pressure: the server has not taken what it has */
		const char *p = n ? buf_begin(&c->in) : "";
		bool whole_head = false;
		if (c->state == CS_HEAD) {
			int r = head_scan(&c->scan, p, n, &used);
			whole_head = r > 0;
			if (r < 0) {
				/* llhttp reads what came before the refused byte: the
				 * answer to a HEAD must know it is one (no body). */
				(void)http_msg_feed(&c->req, p, used, &used);
				bool tls = used == 0 && c->scan.bytes == 0 && (unsigned char)p[0] == 0x16;   /* a TLS record */
				return client_error(c, c->scan.too_long ? 431 : 400,
				                    tls ? "a TLS handshake on the plain HTTP port" : c->scan.error);
			}
			n = used;   /* feed the head alone; its end pauses the parser */
		} else if (c->req.parser.flags & F_CHUNKED) {
			int r = chunk_scan(&c->chunks, p, n, &used);
			if (r < 0)
				return client_error(c, 400, c->chunks.error);
			if (c->chunks.hide) {   /* trailer fields: dropped, never parsed */
				buf_consume(&c->in, used);
				continue;
			}
			n = used;   /* nothing past the body's end */
		}
		llhttp_errno_t e = http_msg_feed(&c->req, p, n, &used);
		buf_consume(&c->in, used);
		if (e == HPE_PAUSED) {
			if (c->state == CS_HEAD)
				return request_head_done(c);
			/* The message is complete; the response comes next. */
			c->x.req_complete = true;
			if (c->state == CS_INSPECT)
				return inspect_verdict(c);   /* STEP 3: the whole body was inspected */
			return request_sent(c);
		}
		if (e == HPE_OK && whole_head)   /* PRI: llhttp waits for HTTP/2's "SM" */
			return client_error(c, 400, H2_PREFACE);
		if (e != HPE_OK) {
			int status = c->req.limit_status ? c->req.limit_status : 400;
			if (c->x.err[0] == '\0')
				snprintf(c->x.err, sizeof(c->x.err), "%s", e == HPE_PAUSED_H2_UPGRADE ?
				         H2_PREFACE : c->req.error);
			return client_error(c, status, c->x.err);
		}
		if (c->state == CS_INSPECT && c->x.waf.enough)
			return inspect_verdict(c);   /* STEP 3: the inspection limit is reached */
		if (buf_len(&c->in) == 0)
			break;
	}
	/* The client shut down its side before its request was whole (a
	 * pipelined one may be cut after the answers to those before it). */
	if ((c->state == CS_HEAD || c->state == CS_INSPECT || c->state == CS_BODY) && c->read_eof &&
	    buf_len(&c->in) == 0)
		return client_abandon(c, c->state == CS_HEAD ? "client closed mid-headers" : "client closed mid-body");
	return 0;
}

/* The client closed its side.  What that means depends on the step. */
static int client_eof(struct client *c)
{
	c->read_eof = true;
	switch (c->state) {
	case CS_IDLE:   /* the last response may still be on its way: client_rest closes */
		return buf_len(&c->out) > 0 ? 0 : client_close(c, "client closed");
	case CS_HEAD:
		return client_abandon(c, buf_len(&c->in) ? "client closed mid-headers" : "client closed");
	case CS_DECIDE:
	case CS_INSPECT:
	case CS_CONNECT:
	case CS_BACKOFF:
	case CS_BODY:
		return client_process(c);   /* the rest of the request may be buffered */
	case CS_WAIT:
	case CS_CLOSING:
		return 0;
	case CS_LINGER:
		return client_close(c, "linger done");
	}
	return 0;
}

static int client_read(struct client *c)
{
	if (c->state == CS_LINGER) {   /* drain and drop until EOF or the timer */
		char sink[4096];
		ssize_t n = read(c->fd, sink, sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return client_close(c, "linger done");
		return 0;
	}
	mem_prime(&c->in);
	ssize_t n = buf_read_fd(&c->in, c->fd, READ_MAX);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		char why[128];
		snprintf(why, sizeof(why), "read %s: %s", c->peer_s, strerror(errno));
		return client_close(c, why);
	}
	if (n == 0)
		return client_eof(c);
	c->t_io = ev_now_ns(P.loop);
	return client_process(c);
}

void client_on_io(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)loop;
	(void)fd;
	struct client *c = arg;
	if ((mask & EV_WRITE) && client_flush(c) < 0)
		return;
	if ((mask & EV_READ) && client_read(c) < 0)
		return;
	client_refresh(c);
}
