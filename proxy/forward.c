/*
 * forward.c - STEP 5: the (edited) request goes to the server: the head
 * first, then the body as it arrives, re-framed (Content-Length as is,
 * chunked re-chunked), never held whole: above HIGH_WATER bytes waiting
 * for the server, the proxy stops reading the client (back-pressure).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proxy.h"

/* STEP 5: forward the request to the server. */
int step5_forward(struct client *c)
{
	struct exchange *x = &c->x;
	struct sconn *s = c->srv;
	size_t head = buf_len(&x->head);
	/* A reused connection may lose the keep-alive race, and a server may
	 * fail before it answers (--retries): keep the head to send it again.
	 * Otherwise the connection takes the head without a copy. */
	if (s->reused || buf_len(&s->out) > 0 || (P.cfg->retries > 0 && request_replayable(c))) {
		mem_prime(&s->out);
		if (buf_append(&s->out, buf_begin(&x->head), head) < 0)
			return client_error(c, 500, "out of memory");
	} else {
		mem_release(&s->out);
		s->out = x->head;
		x->head = (struct buf)BUF_INIT;
	}
	if (inspect_forward(c, &s->out) < 0)   /* the body step 3 held for the WAF */
		return client_error(c, 500, "out of memory");
	x->head_forwarded = true;
	x->t_sent = ev_mono_ns();
	x->server->inflight++;
	x->counted = true;
	s->nreq++;
	struct buf *e = event_begin(c, 5, "forward");
	if (e != NULL) {
		char a[ADDR_STRLEN];
		event_str(e, "server", addr_format(&s->server->addr, a));
		event_num(e, "head", (double)head);
		event_bool(e, "chunked", x->req_chunked);
		event_end(e);
	}
	if (x->waf.whole)
		return request_sent(c);   /* step 3 read the whole body: it is all queued */
	client_enter(c, CS_BODY);
	http_msg_resume(&c->req);   /* the body (if any) flows from here */
	return client_process(c);
}

/* Writes what waits for the server.  Returns -1 if the client is gone. */
int sconn_flush(struct sconn *s)
{
	while (buf_len(&s->out) > 0) {
		ssize_t n = buf_write_fd(&s->out, s->fd);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			char why[160], a[ADDR_STRLEN];
			snprintf(why, sizeof(why), "send %s: %s", addr_format(&s->server->addr, a), strerror(errno));
			return server_failed(s, 502, why);
		}
		s->sent += (uint64_t)n;
		s->t_io = ev_now_ns(P.loop);   /* a server taking a long upload is not silent */
	}
	return 0;
}

int chunk_append(struct buf *b, const char *at, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_printf(b, "%zx\r\n", len) < 0 || buf_append(b, at, len) < 0 || buf_append(b, "\r\n", 2) < 0)
		return -1;
	return 0;
}

/* A piece of the request body (de-chunked by llhttp). */
int request_on_body(struct http_msg *m, const char *at, size_t len)
{
	struct client *c = m->user;
	struct exchange *x = &c->x;
	x->req_body += len;
	if (P.cfg->max_body > 0 && x->req_body > P.cfg->max_body) {
		m->limit_status = 413;
		snprintf(m->error, sizeof(m->error), "request body over --max-body");
		return -1;
	}
	if (c->state == CS_INSPECT)
		return inspect_body(c, at, len);   /* STEP 3: held for the WAF's verdict */
	int r = x->req_chunked ? chunk_append(&c->srv->out, at, len) : buf_append(&c->srv->out, at, len);
	if (r < 0) {
		snprintf(m->error, sizeof(m->error), "out of memory");
		return -1;
	}
	return 0;
}

/* The request is complete: end the chunked body; pause until the response. */
int request_on_complete(struct http_msg *m)
{
	struct client *c = m->user;
	if (c->x.req_chunked && buf_puts(&c->srv->out, "0\r\n\r\n") < 0) {
		snprintf(m->error, sizeof(m->error), "out of memory");
		return -1;
	}
	return HPE_PAUSED;
}
