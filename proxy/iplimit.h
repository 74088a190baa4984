/*
 * iplimit.h - STEP 1 (and 2): per-client limits.  Concurrent connections, a
 * new-connection rate and a request rate, counted per client address group:
 * an IPv4 address's /32 and an IPv6 address's /64 by default, so that one
 * IPv6 host, which owns a whole /64, cannot dodge a limit by changing its
 * address.  (The name shadows no system header: the build searches lib/,
 * never proxy/, for <...> includes.)
 *
 *   struct iplimit *l = iplimit_new(&cfg, key);
 *   accept:   iplimit_connect(l, &peer, now, &wait)   LIMIT_OK: let it in
 *   close:    iplimit_disconnect(l, &peer)             once per LIMIT_OK
 *   request:  iplimit_request(l, &peer, now, &wait)   LIMIT_REQ_RATE: 429,
 *                                                     Retry-After: wait
 *
 * Rates are token buckets, kept as GCRA's one timestamp per bucket: R per
 * second with a burst of B lets B through at once, then one every 1/R s.
 * Time is passed in (ev_now_ns(), monotonic nanoseconds), never read here,
 * so tests control it.
 *
 * Memory is bounded: at most max_clients groups are tracked, in a hash
 * table keyed with a secret (so a client cannot choose addresses that
 * collide).  When it is full, a new group takes the place of the group idle
 * the longest (no open connection); a group with open connections is never
 * forgotten.  So a client spraying addresses costs a fixed table, and the
 * concurrent limit always holds; what it can win is that an idle group's
 * rate history may be forgotten early.  Every operation is O(1).
 */
#ifndef PROXY_IPLIMIT_H
#define PROXY_IPLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

/* A rate: one event per interval_ns, up to burst at once.  interval_ns 0:
 * no limit. */
struct limit_rate {
	uint64_t interval_ns;
	uint32_t burst;
};

struct iplimit_config {
	uint32_t max_conns;           /* concurrent connections per group; 0: no limit */
	struct limit_rate conn_rate;  /* new connections per group                     */
	struct limit_rate req_rate;   /* requests per group                            */
	unsigned prefix4;             /* IPv4 group: this many leading bits, 0-32      */
	unsigned prefix6;             /* IPv6 group: 0-128                             */
	size_t max_clients;           /* groups tracked; keep it above the proxy's
	                               * --max-conns, so that some group is idle       */
};

#define LIMITS_PREFIX4_DEFAULT  32
#define LIMITS_PREFIX6_DEFAULT  64
#define LIMITS_CLIENTS_DEFAULT  16384

/* No limits, /32 and /64, LIMITS_CLIENTS_DEFAULT groups. */
void iplimit_config_init(struct iplimit_config *cfg);

/* Parses a rate "R/s", "R/m" or "R/h" with an optional burst, "R/s:B"
 * (R and B whole numbers, 1 to 1000000; burst default: R per second, at
 * least 1).  "0" is no limit.  Returns 0, or -1 with a reason in *why. */
int limit_rate_parse(const char *s, struct limit_rate *out, const char **why);

/* Writes r as limit_rate_parse reads it back ("10/s:20", "3/m:1", "0")
 * into out (LIMIT_RATE_STRLEN bytes); returns out. */
#define LIMIT_RATE_STRLEN 32
char *limit_rate_format(const struct limit_rate *r, char out[LIMIT_RATE_STRLEN]);

/* True if any limit is set (if not, the proxy need not keep a table). */
bool iplimit_enabled(const struct iplimit_config *cfg);

enum limit_verdict {
	LIMIT_OK,
	LIMIT_CONNS,        /* max_conns connections open from the group             */
	LIMIT_CONN_RATE,    /* connecting faster than conn_rate                      */
	LIMIT_REQ_RATE,     /* requesting faster than req_rate                       */
	LIMIT_FULL,         /* the table is full of groups with open connections:
	                     * max_clients is below the proxy's --max-conns           */
};

/* A short reason for logs and step events: "too many connections from
 * 10.0.0.0/24" is the caller's to build; this says "max-conns-per-ip". */
const char *limit_verdict_name(enum limit_verdict v);

struct iplimit;

/* Allocates the table for cfg (copied); key seeds the hash (16 random
 * bytes; NULL for a fixed key, in tests).  NULL when out of memory. */
struct iplimit *iplimit_new(const struct iplimit_config *cfg, const unsigned char key[16]);
void iplimit_free(struct iplimit *l);

/* STEP 1: may the client at a open a connection at now_ns?  LIMIT_OK
 * counts it as open (call iplimit_disconnect when it closes).
 * LIMIT_CONN_RATE sets *wait_s (if not NULL) to the whole seconds until it
 * may (at least 1); the other refusals set 0.  A refused attempt uses no
 * rate token. */
enum limit_verdict iplimit_connect(struct iplimit *l, const struct addr *a, uint64_t now_ns, unsigned *wait_s);
/* A connection that iplimit_connect let in has closed. */
void iplimit_disconnect(struct iplimit *l, const struct addr *a);
/* STEP 2: may the client at a send a request at now_ns?  LIMIT_REQ_RATE
 * sets *wait_s (for Retry-After) as above. */
enum limit_verdict iplimit_request(struct iplimit *l, const struct addr *a, uint64_t now_ns, unsigned *wait_s);

/* The group a counts in, as text ("10.1.2.0/24", "2001:db8::/64"), in out
 * (IPLIMIT_GROUP_STRLEN bytes); returns out. */
#define IPLIMIT_GROUP_STRLEN 64
char *iplimit_group_format(const struct iplimit *l, const struct addr *a, char out[IPLIMIT_GROUP_STRLEN]);

/* Open connections counted for a's group (0 if it is not tracked). */
uint32_t iplimit_open(const struct iplimit *l, const struct addr *a);

struct iplimit_stats {
	size_t groups;                /* tracked now                                   */
	uint64_t evicted;             /* idle groups forgotten to make room            */
	uint64_t refused[LIMIT_FULL + 1];   /* by verdict                             */
};
void iplimit_get_stats(const struct iplimit *l, struct iplimit_stats *st);

#endif
