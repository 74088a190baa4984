/*
 * match.h - which backend response reached which client: a response's
 * fingerprint (status, the values of the headers a proxy passes on
 * unchanged, body length and a hash of the body's first FP_BODY_HASHED
 * bytes) and a comparison of two of them.  Pure: no trace state, so
 * tests/unit/test_tracer_match.c can feed it anything.
 *
 * Headers that proxies add, drop or rewrite as a matter of course are not
 * compared: the hop-by-hop ones and framing (Connection, Keep-Alive,
 * Transfer-Encoding, Content-Length...), Date, Server, Via and Age.
 * Everything else a backend sends (X-Backend, ETag, Set-Cookie, a
 * mockserver's X-Conn) must come back to the client unchanged if it is
 * the same response.
 */
#ifndef TRACER_MATCH_H
#define TRACER_MATCH_H

#include <stddef.h>

#include "http.h"
#include "tracer.h"

#define FP_BODY_HASHED 1024

/* Notes the status of a response head and, if full, its header values
 * (and then its body, in match_body): a tie that is a fact needs only
 * the status. */
void match_head(struct fingerprint *fp, const struct http_msg *m, bool full);
/* Adds body bytes (de-chunked) as they are parsed. */
void match_body(struct fingerprint *fp, const char *at, size_t len);
/* -1: a and b cannot be the same response (status, a header value, or
 * complete bodies differ); otherwise how many things agree (0: unknown). */
int match_compare(const struct fingerprint *a, const struct fingerprint *b);
/* FNV-1a of s[0..n), also used for method + target keys. */
uint32_t match_hash(const char *s, size_t n, uint32_t h);
#define MATCH_HASH_INIT 2166136261u

#endif
