/*
 * errors.c - errors are answers, never silence: the one function that
 * answers a client with an HTTP error (status and its standard reason, no
 * internal detail; Retry-After when x->retry_after says when to come
 * back), logs why, and closes the connection after it.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proxy.h"

int client_error(struct client *c, int status, const char *why)
{
	return client_refuse(c, status, why, NULL);
}

int client_refuse(struct client *c, int status, const char *why, const char *detail)
{
	struct exchange *x = &c->x;
	if (x->err[0] == '\0' || why != x->err)
		snprintf(x->err, sizeof(x->err), "%s", why);
	exchange_release(c, "exchange failed");   /* a server connection mid-exchange is not reusable */
	x->t_end = ev_mono_ns();
	if (c->state == CS_CLOSING || c->state == CS_LINGER)
		return client_close(c, why);
	if (x->status != 0)
		return client_cut(c, why);   /* a response has begun: all we can do is cut it */
	x->status = status;
	const char *reason = http_reason(status);
	char body[64];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, reason);
	size_t dlen = detail ? strlen(detail) + 1 : 0;   /* and its newline */
	/* The answer to a HEAD has no body (RFC 9110 9.3.2), only its length.
	 * llhttp names the method as soon as its letters match ("HEADX" is
	 * HEAD too): a HEAD it is once the target has begun. */
	bool head = c->req.parser.method == HTTP_HEAD && c->req.target_len > 0;
	size_t before = buf_len(&c->out);
	if (buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	               "%sConnection: close\r\n", status, reason, (size_t)blen + dlen,
	               detail ? "X-Content-Type-Options: nosniff\r\n" : "") < 0 ||
	    (x->id[0] != '\0' && P.cfg->return_id && buf_printf(&c->out, "X-Request-ID: %s\r\n", x->id) < 0) ||
	    (x->retry_after > 0 && buf_printf(&c->out, "Retry-After: %u\r\n", x->retry_after) < 0) ||
	    buf_printf(&c->out, "\r\n%s", head ? "" : body) < 0 ||
	    (detail && !head && buf_cat(&c->out, detail, "\n", NULL) < 0))
		return client_close(c, "out of memory");
	x->resp_bytes = buf_len(&c->out) - before;
	struct buf *e = event_begin(c, client_states[c->state].step, "error");
	if (e != NULL) {
		event_num(e, "status", status);
		event_str(e, "reason", x->err);
		event_end(e);
	}
	log_access(c);
	x->logged = true;
	ev_timer_stop(P.loop, &c->pace);
	client_enter(c, CS_CLOSING);
	return client_flush(c);
}
