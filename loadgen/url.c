/*
 * url.c - parsing http:// URLs and building the request bytes once
 * (see url.h).  Step 2 of the seven: what the client sends.
 */
#include "url.h"
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Characters of a host name or IPv4 address (RFC 3986 reg-name, roughly). */
static bool is_host_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("-._~%!$&'()*+,;=", c) != NULL);
}

/* An error message quotes what the user gave, which may hold any byte:
 * control bytes become '?', so the message stays one line on a terminal. */
static int printable(char err[URL_ERRLEN])
{
	for (char *c = err; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
	return -1;
}

static int fail(char err[URL_ERRLEN], const char *s, const char *why)
{
	snprintf(err, URL_ERRLEN, "%.160s: %s", s, why);
	return printable(err);
}

int url_parse(const char *s, struct url *u, char err[URL_ERRLEN])
{
	memset(u, 0, sizeof(*u));
	const char *sep = strstr(s, "://");
	if (sep == NULL)
		return fail(err, s, "not a URL (expected http://HOST[:PORT][/PATH])");
	size_t slen = (size_t)(sep - s);
	if (slen == 5 && strncasecmp(s, "https", 5) == 0)
		return fail(err, s, "https is not supported: loadgen speaks HTTP/1.x over plain TCP (use http://)");
	if (slen != 4 || strncasecmp(s, "http", 4) != 0)
		return fail(err, s, "unsupported scheme (only http:// is)");

	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *rest = auth + alen;
	if (alen == 0)
		return fail(err, s, "the host is missing");
	if (memchr(auth, '@', alen) != NULL)
		return fail(err, s, "user:password@ is not supported");
	if (alen >= sizeof(u->authority))
		return fail(err, s, "the host is too long");

	const char *host = auth, *port_s = NULL;
	size_t hlen;
	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', alen);
		if (close == NULL)
			return fail(err, s, "missing ']' after the IPv6 address");
		host = auth + 1;
		hlen = (size_t)(close - host);
		if (close + 1 < rest) {
			if (close[1] != ':')
				return fail(err, s, "expected ':PORT' after ']'");
			port_s = close + 2;
		}
		for (size_t i = 0; i < hlen; i++)
			if (!(is_host_char((unsigned char)host[i]) || host[i] == ':'))
				return fail(err, s, "invalid character in the IPv6 address");
	} else {
		const char *colon = memchr(auth, ':', alen);
		hlen = colon ? (size_t)(colon - auth) : alen;
		port_s = colon ? colon + 1 : NULL;
		for (size_t i = 0; i < hlen; i++)
			if (!is_host_char((unsigned char)host[i]))
				return fail(err, s, "invalid character in the host");
	}
	if (hlen == 0)
		return fail(err, s, "the host is missing");
	if (hlen >= sizeof(u->host))
		return fail(err, s, "the host is too long");
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	u->port = 80;
	if (port_s != NULL) {
		size_t plen = (size_t)(rest - port_s);
		unsigned long port = 0;
		if (plen == 0 || plen > 5)
			return fail(err, s, "invalid port (expected 1-65535)");
		for (size_t i = 0; i < plen; i++) {
			if (port_s[i] < '0' || port_s[i] > '9')
				return fail(err, s, "invalid port (expected 1-65535)");
			port = port * 10 + (unsigned long)(port_s[i] - '0');
		}
		if (port == 0 || port > 65535)
			return fail(err, s, "invalid port (expected 1-65535)");
		u->port = (uint16_t)port;
	}
	memcpy(u->authority, auth, alen);
	u->authority[alen] = '\0';

	size_t tlen = strcspn(rest, "#");
	for (size_t i = 0; i < tlen; i++)
		if ((unsigned char)rest[i] <= ' ' || rest[i] == 0x7f)
			return fail(err, s, "space or control character in the path (percent-encode it)");
	bool slash = rest[0] == '/';
	u->target = malloc(tlen + 2);
	if (u->target == NULL)
		return fail(err, s, strerror(errno));
	snprintf(u->target, tlen + 2, "%s%.*s", slash ? "" : "/", (int)tlen, rest);
	return 0;
}

int url_resolve(struct url *u, char err[URL_ERRLEN])
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *res;
	int rc = getaddrinfo(u->host, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, URL_ERRLEN, "%.200s: cannot resolve: %s", u->host, gai_strerror(rc));
		return -1;
	}
	size_t n = 0;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
		n++;
	u->addrs = calloc(n, sizeof(*u->addrs));
	if (u->addrs == NULL) {
		freeaddrinfo(res);
		return fail(err, u->host, strerror(errno));
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		struct addr a = { .len = ai->ai_addrlen };
		if (ai->ai_addrlen > sizeof(a.ss) || (ai->ai_family != AF_INET && ai->ai_family != AF_INET6))
			continue;
		memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
		addr_set_port(&a, u->port);
		bool seen = false;
		for (size_t i = 0; i < u->naddrs; i++)
			seen = seen || addr_equal(&u->addrs[i], &a);
		if (!seen)
			u->addrs[u->naddrs++] = a;
	}
	freeaddrinfo(res);
	if (u->naddrs == 0)
		return fail(err, u->host, "cannot resolve: no IPv4 or IPv6 address");
	u->addr = u->addrs[0];
	return 0;
}

void url_free(struct url *u)
{
	free(u->target);
	free(u->addrs);
	u->target = NULL;
	u->addrs = NULL;
	u->naddrs = 0;
}

bool method_ok(const char *m)
{
	if (*m == '\0' || strlen(m) > 32)
		return false;
	for (; *m; m++)
		if (!http_tchar((unsigned char)*m))
			return false;
	return true;
}

int header_check(const char *h, char err[URL_ERRLEN])
{
	size_t n = strcspn(h, ":");
	if (h[n] != ':' || n == 0) {
		snprintf(err, URL_ERRLEN, "'%.160s': expected 'Name: value'", h);
		return printable(err);
	}
	for (size_t i = 0; i < n; i++)
		if (!http_tchar((unsigned char)h[i])) {
			snprintf(err, URL_ERRLEN, "'%.160s': invalid character in the header name", h);
			return printable(err);
		}
	if (strpbrk(h + n + 1, "\r\n") != NULL) {
		snprintf(err, URL_ERRLEN, "'%.160s': CR or LF in the header value", h);
		return printable(err);
	}
	for (const char *v = h + n + 1; *v; v++)   /* RFC 9110 5.5: VCHAR, obs-text, SP, HTAB */
		if (((unsigned char)*v < ' ' && *v != '\t') || *v == 0x7f) {
			snprintf(err, URL_ERRLEN, "'%.160s': a control character in the header value", h);
			return printable(err);
		}
	if ((n == 14 && strncasecmp(h, "Content-Length", n) == 0) ||
	    (n == 17 && strncasecmp(h, "Transfer-Encoding", n) == 0)) {
		snprintf(err, URL_ERRLEN, "'%.160s': loadgen sets the body's framing itself (use --body)", h);
		return printable(err);
	}
	return 0;
}

static bool has_header(const struct req_spec *s, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < s->nheaders; i++)
		if (strncasecmp(s->headers[i], name, n) == 0 && s->headers[i][n] == ':')
			return true;
	return false;
}

int request_build(const struct url *u, const struct req_spec *s, struct buf *out)
{
	const char *method = s->method ? s->method : "GET";
	bool wants_length = s->body_len > 0 || strcmp(method, "POST") == 0 ||
	                    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
	int rc = buf_printf(out, "%s %s HTTP/1.1\r\n", method, u->target);
	if (rc == 0 && !has_header(s, "Host"))
		rc = buf_printf(out, "Host: %s\r\n", u->authority);
	if (rc == 0 && !has_header(s, "User-Agent"))
		rc = buf_puts(out, "User-Agent: l7lab-loadgen\r\n");
	for (size_t i = 0; rc == 0 && i < s->nheaders; i++) {
		/* "Name:value" and "Name:  value" both become "Name: value". */
		const char *h = s->headers[i];
		size_t n = strcspn(h, ":");
		const char *v = h + n + 1;
		v += strspn(v, " \t");
		rc = buf_printf(out, "%.*s: %s\r\n", (int)n, h, v);
	}
	if (rc == 0 && wants_length)
		rc = buf_printf(out, "Content-Length: %zu\r\n", s->body_len);
	if (rc == 0 && !s->keepalive && !has_header(s, "Connection"))
		rc = buf_puts(out, "Connection: close\r\n");
	if (rc == 0)
		rc = buf_puts(out, "\r\n");
	if (rc == 0 && s->body_len > 0)
		rc = buf_append(out, s->body, s->body_len);
	return rc;
}
