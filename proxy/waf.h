/*
 * waf.h - STEP 3, security checks: is this request an SQL injection or a
 * cross-site scripting attempt?  libmodsecurity3 judges it with one of the
 * rule sets in proxy/waf/ (proxy/waf.md says what each one checks and how
 * well, measured on the corpus in tests/waf/).
 *
 * One struct waf per rule set, opened at startup; one struct waf_tx per
 * request, fed the request as it arrives:
 *
 *   struct waf *w = waf_open("l7lab", 1, 64 * 1024, err);   NULL: print err, exit 2
 *   struct waf_tx *tx = waf_tx_new(w, WAF_BLOCK, "127.0.0.1", 53412, "127.0.0.2", 8080, id);
 *   waf_tx_request(tx, "POST", "/login?next=%2F", "1.1");
 *   waf_tx_header(tx, name, name_len, value, value_len);    once per header
 *   while (body bytes arrive && waf_tx_body(tx, p, n))      hold them meanwhile
 *       ;
 *   const struct waf_verdict *v = waf_tx_end(tx);           WAF_BLOCK: answer 403
 *   ... forward what was held, stream the rest of the body uninspected ...
 *   waf_tx_free(tx);
 *
 * The body is inspected up to the limit given to waf_open and no further:
 * waf_tx_body says when it has seen enough, and the caller streams the rest.
 */
#ifndef PROXY_WAF_H
#define PROXY_WAF_H

#include <stdbool.h>
#include <stddef.h>

#define WAF_ERRLEN 512

enum waf_mode {
	WAF_OFF,                  /* no inspection (callers make no waf_tx)        */
	WAF_DETECT,               /* judge and log, forward anyway                 */
	WAF_BLOCK,                /* judge, log, and refuse what the rules refuse  */
};

enum waf_action {
	WAF_PASS,                 /* nothing the rules would refuse                */
	WAF_DETECTED,             /* the rules would refuse it; detect mode: log it */
	WAF_BLOCKED,              /* refuse it (403), log it                       */
};

struct waf_verdict {
	enum waf_action action;
	int status;               /* the status the rules ask for (403), 0 if none */
	unsigned long rule;       /* id of the rule that found the attack, 0 if none */
	const char *var;          /* where: "ARGS:id", "REQUEST_COOKIES:session"   */
	const char *reason;       /* "SQLi in ARGS:id: libinjection fingerprint s&1c" */
};

struct waf;
struct waf_tx;

/* Loads a rule set: "l7lab" and "crs" name the sets in proxy/waf/, a name
 * with a '/' is a rule file of your own.  paranoia (1-4) picks how strict
 * (OWASP CRS's paranoia levels; l7lab has levels 1 and 2); inspect_limit is
 * how many body bytes a request gets inspected (at least 1).  Returns the
 * rule set, or NULL with one line in err ("waf: proxy/waf/x.conf: line 3:
 * ...") for the caller to print before exiting 2. */
struct waf *waf_open(const char *ruleset, unsigned paranoia, size_t inspect_limit, char err[WAF_ERRLEN]);
void waf_close(struct waf *w);
/* "l7lab (proxy/waf/l7lab.conf), paranoia 1, 42 rules": for logs and --help. */
const char *waf_describe(const struct waf *w);

/* Starts judging one request from client_ip:client_port to the proxy's
 * server_ip:server_port in mode WAF_DETECT or WAF_BLOCK (with WAF_OFF make
 * none); id (the X-Request-ID, may be NULL) names it in the engine's
 * messages.  NULL when out of memory. */
struct waf_tx *waf_tx_new(struct waf *w, enum waf_mode mode, const char *client_ip, unsigned client_port,
                          const char *server_ip, unsigned server_port, const char *id);
/* The request line: method "GET", target as sent ("/a?b=c"), version "1.1". */
void waf_tx_request(struct waf_tx *tx, const char *method, const char *target, const char *version);
void waf_tx_header(struct waf_tx *tx, const char *name, size_t name_len, const char *value, size_t value_len);
/* Body bytes, de-chunked, as they arrive.  Takes what fits under the
 * inspection limit; returns true while it wants more, false once it has
 * seen enough (the limit is reached, or the head alone is refused). */
bool waf_tx_body(struct waf_tx *tx, const char *data, size_t len);
/* The end of the body (or of what is inspected): the verdict, owned by tx.
 * May be called again; it does not change. */
const struct waf_verdict *waf_tx_end(struct waf_tx *tx);
void waf_tx_free(struct waf_tx *tx);

const char *waf_mode_name(enum waf_mode m);
const char *waf_action_name(enum waf_action a);

#endif
