/*
 * decide.c - STEP 3: the proxy earns its keep.  It picks a pool by the
 * routing table (route.c), a server by the pool's algorithm (lb.c), and
 * edits the request: X-Forwarded-For/-Proto/-Host, Forwarded, Via,
 * X-Request-ID, hop-by-hop headers removed, the body re-framed.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lb.h"
#include "log.h"
#include "proxy.h"
#include "route.h"

/* Headers that describe one connection, never the message (RFC 9110 7.6.1),
 * plus the framing headers this proxy writes itself. */
#define NAME(s) { s, sizeof(s) - 1 }
static const struct { const char *name; size_t len; } hop_headers[] = {
	NAME("Connection"), NAME("Keep-Alive"), NAME("Proxy-Connection"), NAME("TE"),
	NAME("Trailer"), NAME("Upgrade"), NAME("Transfer-Encoding"),
};

static int put_field(struct buf *out, const char *name, size_t n, const char *value, size_t v)
{
	if (buf_reserve(out, n + v + 4) < 0)
		return -1;
	char *p = out->data + out->off + out->len;
	memcpy(p, name, n);
	memcpy(p + n, ": ", 2);
	memcpy(p + n + 2, value, v);
	memcpy(p + n + 2 + v, "\r\n", 2);
	out->len += n + v + 4;
	return 0;
}

int put_header(struct buf *out, const char *name, const char *value)
{
	return put_field(out, name, strlen(name), value, strlen(value));
}

int copy_header(struct buf *out, const struct http_msg *m, size_t i)
{
	return put_field(out, http_hdr_name(m, i), m->hdrs[i].name_len, http_hdr_value(m, i), m->hdrs[i].value_len);
}

bool hop_by_hop(const struct http_msg *m, const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(hop_headers) / sizeof(hop_headers[0]); i++)
		if (hop_headers[i].len == len && strncasecmp(name, hop_headers[i].name, len) == 0)
			return true;
	/* And whatever Connection names, but never the framing or the Host
	 * (RFC 9110 7.6.1): "Connection: Content-Length" would send a body as
	 * a second request that nothing here saw.  Such a token is ignored. */
	for (size_t i = 0; i < m->nhdrs; i++)
		if (http_hdr_is(m, i, "Connection") && http_list_has(http_hdr_value(m, i), name))
			return strcasecmp(name, "Content-Length") != 0 && strcasecmp(name, "Host") != 0;
	return false;
}

/* The X-Forwarded-* headers and X-Request-ID: the proxy writes its own. */
static bool rewritten(const struct http_msg *m, size_t i, bool own_id)
{
	return http_hdr_is(m, i, "X-Forwarded-For") || http_hdr_is(m, i, "X-Forwarded-Proto") ||
	       http_hdr_is(m, i, "X-Forwarded-Host") || (own_id && http_hdr_is(m, i, "X-Request-ID"));
}

bool request_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64)
		return false;
	for (const char *p = id; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
			return false;
	return true;
}

/* by= is a token, or else a quoted string (RFC 7239 section 4). */
static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!http_tchar((unsigned char)*s))
			return false;
	return true;
}

int edit_request_head(const struct http_msg *req, const struct edit *e, struct buf *out)
{
	const char *host = http_get(req, "Host");
	int r = buf_cat(out, http_method(req), " ", http_target(req), " HTTP/1.1\r\n", NULL);
	for (size_t i = 0; r == 0 && i < req->nhdrs; i++) {
		const char *name = http_hdr_name(req, i);
		if (e->host != NULL && http_hdr_is(req, i, "Host"))
			r = put_header(out, name, e->host);
		else if ((e->drop_expect && http_hdr_is(req, i, "Expect")) ||
		         (e->identity && http_hdr_is(req, i, "Accept-Encoding")))
			continue;   /* answered by us; --dlp reads identity bodies only */
		else if (!rewritten(req, i, e->id != NULL) && !hop_by_hop(req, name, req->hdrs[i].name_len))
			r = copy_header(out, req, i);
	}
	if (r == 0 && host == NULL)   /* HTTP/1.0 without Host: the server needs one */
		r = put_header(out, "Host", e->host);
	if (host != NULL && e->host != NULL)
		host = e->host;   /* X-Forwarded-Host: what the client asked for */
	/* X-Forwarded-For: the list so far (several lines make one list), then
	 * us; a list the client named in Connection is hop-by-hop: dropped. */
	bool keep_xff = !hop_by_hop(req, "X-Forwarded-For", strlen("X-Forwarded-For"));
	if (r == 0)
		r = buf_puts(out, "X-Forwarded-For: ");
	for (size_t i = 0; r == 0 && keep_xff && i < req->nhdrs; i++)
		if (http_hdr_is(req, i, "X-Forwarded-For") && http_hdr_value(req, i)[0] != '\0')
			r = buf_cat(out, http_hdr_value(req, i), ", ", NULL);
	if (r == 0)
		r = buf_cat(out, e->client_ip, "\r\nX-Forwarded-Proto: http\r\n", NULL);
	if (r == 0 && host != NULL)
		r = put_header(out, "X-Forwarded-Host", host);
	/* Forwarded (RFC 7239): the port pins down the client connection. */
	if (r == 0)
		r = buf_cat(out, "Forwarded: for=\"", e->ipv6 ? "[" : "", e->client_ip, e->ipv6 ? "]:" : ":", NULL);
	if (r == 0)
		r = buf_put_uint(out, e->client_port);
	if (r == 0)
		r = is_token(e->name) ? buf_cat(out, "\";proto=http;by=", e->name, "\r\n", NULL)
		                      : buf_cat(out, "\";proto=http;by=\"", e->name, "\"\r\n", NULL);
	if (r == 0)
		r = buf_cat(out, "Via: 1.1 ", e->name, "\r\n", NULL);
	if (r == 0 && e->id != NULL)
		r = put_header(out, "X-Request-ID", e->id);
	if (r == 0 && e->identity)
		r = buf_puts(out, "Accept-Encoding: identity\r\n");
	if (r == 0 && e->chunked)
		r = buf_puts(out, "Transfer-Encoding: chunked\r\n");
	if (r == 0)
		r = buf_puts(out, "\r\n");
	return r;
}

/* The client's IP as text, cut from its "IP:PORT" or "[IP]:PORT", which
 * accept.c wrote once (inet_ntop on every request would cost a sprintf). */
static const char *client_ip(const struct client *c, char out[ADDR_STRLEN])
{
	bool v6 = c->peer_s[0] == '[';
	const char *colon = strrchr(c->peer_s, ':');
	size_t n = (size_t)(colon - c->peer_s) - (v6 ? 2 : 0);
	memcpy(out, c->peer_s + (v6 ? 1 : 0), n);
	out[n] = '\0';
	return out;
}

/* STEP 3: choose a pool by the routing table; the WAF, when on for the
 * route, judges the request first (STEP 3, security checks: inspect.c). */
int step3_decide(struct client *c)
{
	struct exchange *x = &c->x;
	x->t_decide0 = step_time();
	x->pool = route_pick(P.cfg, &c->req, &x->route);
	if (x->pool == NULL)
		return client_error(c, 503, "no route and no default pool");
	enum waf_mode waf = x->route && x->route->waf_set ? x->route->waf : P.cfg->waf;
	if (waf != WAF_OFF)
		return step3_inspect(c, waf);
	return step3_choose(c);
}

/* STEP 3, continued: choose a server of the pool, and edit the request for it. */
int step3_choose(struct client *c)
{
	struct exchange *x = &c->x;
	char ip[ADDR_STRLEN], authority[ROUTE_AUTHORITY_MAX + 1];
	size_t alen;
	const char *auth = route_authority(http_target(&c->req), &alen), *host = NULL;
	/* The why line is written only for --events: it costs a few printf's. */
	buf_clear(&P.why);
	x->server = lb_pick(x->pool, &(struct lb_req){ .client = &c->peer, .msg = &c->req }, ev_now_ns(P.loop),
	                    P.events_fd >= 0 ? &P.why : NULL);
	if (x->server == NULL) {
		snprintf(x->err, sizeof(x->err), "pool %s has no server", x->pool->name);
		return client_error(c, 503, x->err);
	}
	while (buf_len(&P.why) > 0 && buf_begin(&P.why)[buf_len(&P.why) - 1] == '\n')
		P.why.len--;
	/* An absolute-form target names the host: the server gets it as Host,
	 * as the route saw it (RFC 9112 3.2.2; request_check bounds it). */
	if (auth != NULL) {
		memcpy(authority, auth, alen);
		authority[alen] = '\0';
		host = authority;
	} else if (http_get(&c->req, "Host") == NULL) {
		host = x->server->addr_s;   /* HTTP/1.0 without Host: the server needs one */
	}
	struct edit ed = {
		.client_ip = client_ip(c, ip),
		.client_port = addr_port(&c->peer),
		.ipv6 = c->peer.ss.ss_family == AF_INET6,
		.name = P.cfg->name ? P.cfg->name : "l7lab",
		.id = x->id_is_ours ? x->id : NULL,   /* ours replaces a refused one */
		.host = host,
		.chunked = (c->req.parser.flags & F_CHUNKED) != 0,
		.drop_expect = x->waf.continued,
		.identity = P.cfg->dlp.mode != DLP_OFF,
	};
	x->req_chunked = ed.chunked;
	mem_prime(&x->head);
	buf_clear(&x->head);
	if (edit_request_head(&c->req, &ed, &x->head) < 0)
		return client_error(c, 500, "out of memory");
	x->t_decided = step_time();
	struct buf *e = event_begin(c, 3, "decide");
	if (e != NULL) {
		event_str(e, "pool", x->pool->name);
		event_str(e, "server", x->server->addr_s);
		event_str(e, "server_name", x->server->name);
		event_str(e, "algorithm", lb_algo_name(x->pool->algo));
		buf_puts(e, ",\"reason\":");
		buf_json_str(e, buf_begin(&P.why), buf_len(&P.why));
		event_str(e, "route", x->route ? x->route->match : "default");
		event_num(e, "ms", ms_between(x->t_decide0, x->t_decided));
		event_end(e);
	}
	client_enter(c, CS_CONNECT);
	return pace(c, step4_connect);
}
