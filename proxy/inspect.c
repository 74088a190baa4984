/*
 * inspect.c - STEP 3, security checks: is the request an SQL injection or
 * a cross-site scripting attempt?  The WAF (waf.c: libmodsecurity3 and
 * the rule set of --waf-rules) judges it before a server is chosen.
 *
 * The head is judged at once.  A body is read first, de-chunked, up to
 * --waf-body-limit bytes (state CS_INSPECT, timed as a body is), and held
 * until the verdict: step 5 sends it ahead of the rest, which then streams
 * uninspected, so a large upload costs the limit in memory, not its size.
 * A client waiting for "100 Continue" gets it from the proxy here.
 *
 * detect: the verdict is logged (access log, step-3 event) and the request
 * forwarded; block: 403 with the reason, and nothing reaches a server.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "proxy.h"

int inspect_start(void)
{
	char err[WAF_ERRLEN];
	if (!config_waf_used(P.cfg))
		return 0;
	P.waf = waf_open(P.cfg->waf_rules, P.cfg->waf_paranoia, P.cfg->waf_body_limit, err);
	if (P.waf == NULL) {
		log_warn("%s", err);
		return -1;
	}
	log_debug("waf: %s", waf_describe(P.waf));
	return 0;
}

void inspect_stop(void)
{
	waf_close(P.waf);
	P.waf = NULL;
}

void inspect_free(struct inspection *w)
{
	waf_tx_free(w->tx);
	w->tx = NULL;
	buf_free(&w->held);
}

/* The request line and the headers, as the client sent them. */
static void judge_head(struct waf_tx *tx, const struct http_msg *req)
{
	waf_tx_request(tx, http_method(req), http_target(req), http_minor(req) ? "1.1" : "1.0");
	for (size_t i = 0; i < req->nhdrs; i++)
		waf_tx_header(tx, http_hdr_name(req, i), req->hdrs[i].name_len, http_hdr_value(req, i),
		              req->hdrs[i].value_len);
}

static bool has_body(const struct http_msg *req)
{
	return req->parser.content_length > 0 || (req->parser.flags & F_CHUNKED);
}

/* Expect: 100-continue: the client waits for a go-ahead before its body,
 * and the body is what the proxy waits for.  The proxy gives it (as nginx
 * and HAProxy do when they read the body first), and the server, which
 * gets the body with the head, is not asked again (decide.c). */
static void answer_continue(struct client *c)
{
	const char *expect = http_get(&c->req, "Expect");
	if (expect == NULL || http_minor(&c->req) == 0 || strcasecmp(expect, "100-continue") != 0)
		return;
	mem_prime(&c->out);
	/* Not counted in x->resp_bytes: no byte of a response has gone out, and
	 * a connect failure may still send the request elsewhere (may_retry). */
	c->x.waf.continued = buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n") == 0;
}

/* STEP 3, security checks: the WAF judges the request. */
int step3_inspect(struct client *c, enum waf_mode mode)
{
	struct inspection *w = &c->x.waf;
	char peer[ADDR_STRLEN], local[ADDR_STRLEN];
	uint64_t t0 = ev_mono_ns();
	w->mode = mode;
	w->tx = waf_tx_new(P.waf, mode, addr_format_ip(&c->peer, peer), addr_port(&c->peer),
	                   addr_format_ip(&c->local, local), addr_port(&c->local), c->x.id);
	if (w->tx == NULL)
		return client_error(c, 500, "out of memory");
	judge_head(w->tx, &c->req);
	w->ns += ev_mono_ns() - t0;
	if (!has_body(&c->req))
		return inspect_verdict(c);
	/* Read the body up to the limit, then judge (request.c calls
	 * inspect_verdict; the body pieces come to inspect_body). */
	client_enter(c, CS_INSPECT);
	answer_continue(c);
	http_msg_resume(&c->req);
	return client_process(c);
}

int inspect_body(struct client *c, const char *at, size_t len)
{
	struct inspection *w = &c->x.waf;
	if (buf_append(&w->held, at, len) < 0) {
		snprintf(c->req.error, sizeof(c->req.error), "out of memory");
		return -1;
	}
	if (!w->enough) {
		uint64_t t0 = ev_mono_ns();
		w->enough = !waf_tx_body(w->tx, at, len);
		w->ns += ev_mono_ns() - t0;
	}
	return 0;
}

/* The variable for the 403's body: "ARGS:id" as it is, but a name the
 * attacker wrote in other bytes ("ARGS_NAMES:<script>...") is left out,
 * only its collection shown ("ARGS_NAMES"): no byte of the attack goes back. */
static void safe_copy(char *out, size_t size, const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-");
	if (s[n] != '\0')
		n = strcspn(s, ":");
	snprintf(out, size, "%.*s", (int)n, s);
	if (n >= size && size > 4)
		memcpy(out + size - 4, "...", 4);   /* cut: say so */
}

/* The step-3 event: the verdict and why. */
static void event_waf(struct client *c, const struct waf_verdict *v)
{
	const struct inspection *w = &c->x.waf;
	struct buf *e = event_begin(c, 3, "waf");
	if (e == NULL)
		return;
	event_str(e, "mode", waf_mode_name(w->mode));
	event_str(e, "verdict", waf_action_name(v->action));
	if (v->action != WAF_PASS) {
		event_num(e, "rule", (double)v->rule);
		event_str(e, "var", v->var);
		event_str(e, "reason", v->reason);
	}
	uint64_t limit = P.cfg->waf_body_limit;
	event_num(e, "inspected", (double)(c->x.req_body < limit ? c->x.req_body : limit));
	event_num(e, "held", (double)buf_len(&w->held));
	event_num(e, "ms", (double)w->ns / 1e6);
	event_end(e);
}

int inspect_verdict(struct client *c)
{
	struct exchange *x = &c->x;
	struct inspection *w = &x->waf;
	uint64_t t0 = ev_mono_ns();
	w->whole = x->req_complete;
	const struct waf_verdict *v = waf_tx_end(w->tx);
	w->ns += ev_mono_ns() - t0;
	w->action = v->action;
	w->rule = v->rule;
	snprintf(w->var, sizeof(w->var), "%s", v->var);
	if (strlen(v->var) >= sizeof(w->var))
		memcpy(w->var + sizeof(w->var) - 4, "...", 4);
	event_waf(c, v);
	if (v->action == WAF_PASS)
		P.sec.waf_passed++;
	else if (v->action == WAF_DETECTED)
		P.sec.waf_detected++;
	if (v->action != WAF_BLOCKED) {
		waf_tx_free(w->tx);
		w->tx = NULL;
		return step3_choose(c);
	}
	P.sec.waf_blocked++;
	char var[sizeof(w->var)], detail[160];
	safe_copy(var, sizeof(var), v->var);
	snprintf(detail, sizeof(detail), "The proxy's web application firewall refused this request (rule %lu, in %s).",
	         v->rule, var[0] ? var : "the request");
	snprintf(x->err, sizeof(x->err), "waf: %s", v->reason);
	waf_tx_free(w->tx);
	w->tx = NULL;
	return client_refuse(c, 403, x->err, detail);
}

int inspect_forward(struct client *c, struct buf *out)
{
	struct exchange *x = &c->x;
	struct inspection *w = &x->waf;
	size_t n = buf_len(&w->held);
	int r = 0;
	if (n > 0)
		r = x->req_chunked ? chunk_append(out, buf_begin(&w->held), n) : buf_append(out, buf_begin(&w->held), n);
	/* A chunked body that ended before the verdict: its last chunk too
	 * (request_on_complete could not write it: there was no server yet). */
	if (r == 0 && w->whole && x->req_chunked)
		r = buf_puts(out, "0\r\n\r\n");
	buf_free(&w->held);
	return r;
}
