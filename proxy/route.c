/*
 * route.c - step 3, part one: which pool serves this request (route.h).
 *
 * The routing table is short and walked in order; the first route that
 * matches wins.  A few string comparisons per request, no allocation.
 */
#include "route.h"

#include <string.h>
#include <strings.h>

/* Length of the host in a Host value or an authority, without the port,
 * the path that may follow, or a trailing dot: "[::1]:8080" -> "[::1]",
 * "Example.COM.:80" -> "Example.COM". */
static size_t host_len(const char *host)
{
	size_t n;
	const char *close;
	if (host[0] == '[' && (close = strchr(host, ']')) != NULL)
		n = (size_t)(close - host) + 1;
	else
		n = strcspn(host, ":/?#");
	if (n > 1 && host[n - 1] == '.')
		n--;
	return n;
}

bool route_host_matches(const char *pattern, const char *host)
{
	size_t n = host_len(host), plen = strlen(pattern);
	if (pattern[0] == '*' && pattern[1] == '.') {
		/* "*.example.com": at least one label before ".example.com" */
		const char *suffix = pattern + 1;
		size_t slen = plen - 1;
		return n > slen && strncasecmp(host + n - slen, suffix, slen) == 0;
	}
	return n == plen && strncasecmp(host, pattern, n) == 0;
}

const char *route_authority(const char *target, size_t *len)
{
	if (target[0] == '/')
		return NULL;   /* origin-form, the common case */
	const char *scheme_end = strstr(target, "://");
	if (scheme_end == NULL)
		return NULL;
	const char *auth = scheme_end + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', alen);      /* skip user:password@ */
	*len = at ? alen - (size_t)(at + 1 - auth) : alen;
	return at ? at + 1 : auth;
}

/* True if the request has a header name with exactly value (trailing
 * blanks of the request's value aside). */
static bool header_matches(const struct http_msg *req, const char *name, const char *value)
{
	size_t vlen = strlen(value);
	for (size_t i = 0; i < req->nhdrs; i++) {
		if (!http_hdr_is(req, i, name))
			continue;
		const char *v = http_hdr_value(req, i);
		if (strncmp(v, value, vlen) == 0 && v[vlen + strspn(v + vlen, " \t")] == '\0')
			return true;
	}
	return false;
}

/* True if the path (up to any query) starts with prefix. */
static bool path_matches(const char *path, const char *prefix)
{
	size_t plen = strlen(prefix);
	return plen <= strcspn(path, "?#") && strncmp(path, prefix, plen) == 0;
}

struct pool *route_pick(const struct config *cfg, const struct http_msg *req, const struct route **matched)
{
	const char *path = http_target(req);
	size_t alen;
	const char *host = route_authority(path, &alen);
	if (host != NULL)   /* the path follows the authority ("/" when empty) */
		path = host[alen] == '/' ? host + alen : "/";
	else
		host = http_get(req, "host");

	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct route *r = &cfg->routes[i];
		bool hit = false;
		switch (r->kind) {
		case ROUTE_HOST:   hit = host != NULL && route_host_matches(r->value, host); break;
		case ROUTE_HEADER: hit = header_matches(req, r->name, r->value); break;
		case ROUTE_PATH:   hit = path_matches(path, r->value); break;
		}
		if (hit) {
			if (matched != NULL)
				*matched = r;
			return r->pool;
		}
	}
	if (matched != NULL)
		*matched = NULL;
	return config_pool(cfg, "default");
}
