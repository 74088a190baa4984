/*
 * url.h - the target of the load: http:// URLs, and the request bytes
 * built once from a URL and the flags (the hot path only copies pointers).
 */
#ifndef LG_URL_H
#define LG_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "net.h"

#define URL_ERRLEN 256

struct url {
	char host[256];       /* name or IP, without IPv6 brackets         */
	char authority[272];  /* the Host header: host[:port] as written   */
	uint16_t port;        /* 80 when not given                         */
	char *target;         /* path and query ("/" at least); malloc'd   */
	struct addr *addrs;   /* every address of host, by url_resolve     */
	size_t naddrs;
	struct addr addr;     /* the one in use (the first, until probed)  */
};

/* Parses http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT] (the fragment is
 * dropped; IPv6 as [::1]).  https:// and other schemes, user info, bad
 * ports and spaces or control bytes are refused with the reason in err.
 * Does not resolve.  Returns 0, or -1 (u holds nothing to free then). */
int url_parse(const char *s, struct url *u, char err[URL_ERRLEN]);
/* Resolves u->host (blocking: at start only) into all its addresses, in
 * getaddrinfo's order (u->addrs; u->addr is the first).  0, or -1 with err. */
int url_resolve(struct url *u, char err[URL_ERRLEN]);
void url_free(struct url *u);

/* What goes into every request besides the URL. */
struct req_spec {
	const char *method;          /* "GET" by default                 */
	const char *const *headers;  /* "Name: value" lines from -H       */
	size_t nheaders;
	const char *body;            /* may be NULL                       */
	size_t body_len;
	bool keepalive;              /* false: send Connection: close     */
};

/* Checks a -H argument: "Name: value", a token name, no control byte but
 * HTAB in the value; Content-Length and Transfer-Encoding are refused
 * (loadgen frames the body itself).  Returns 0, or -1 with the reason in err. */
int header_check(const char *h, char err[URL_ERRLEN]);
/* Checks a method name (an HTTP token such as GET or PURGE). */
bool method_ok(const char *m);
/* Appends the complete request (head and body) for u to out.  Host comes
 * from the URL unless a -H header names it.  0, or -1 on ENOMEM. */
int request_build(const struct url *u, const struct req_spec *s, struct buf *out);

#endif
