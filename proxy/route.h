/*
 * route.h - step 3, part one: which pool serves this request.  The routing
 * table is walked in order and the first matching route wins; a request no
 * route matches goes to the pool named "default" (NULL if there is none:
 * the core answers 503).
 */
#ifndef PROXY_ROUTE_H
#define PROXY_ROUTE_H

#include "config.h"
#include "http.h"

/* Returns the pool for req (headers complete) and sets *matched to the route
 * that chose it (NULL when the default pool was used). */
struct pool *route_pick(const struct config *cfg, const struct http_msg *req, const struct route **matched);

/* For an absolute-form target ("http://user@host:port/path?q") returns
 * where its authority's host[:port] begins, with its length in *len; NULL
 * for the origin form.  RFC 9112 3.2.2: it takes precedence over Host. */
#define ROUTE_AUTHORITY_MAX 255
const char *route_authority(const char *target, size_t *len);

/* True if host (a Host header value, any ":port" ignored, case-insensitive)
 * matches pattern: an exact name, or "*.example.com" for any subdomain. */
bool route_host_matches(const char *pattern, const char *host);

#endif
