/*
 * config.h - the proxy's configuration: listeners, pools of servers, the
 * routing table, timeouts and limits.  Built from the command line and/or a
 * config file whose directives are the same words as the flags (proxy.conf.5).
 *
 * Ownership: config_from_args() allocates everything below; config_free() frees
 * it.  The proxy core reads it and updates only the run-time fields marked
 * "run time" (load-balancing state and passive telemetry).
 */
#ifndef PROXY_CONFIG_H
#define PROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dlp.h"
#include "iplimit.h"
#include "net.h"
#include "rng.h"
#include "waf.h"

#define RETRIES_MAX 10              /* --retries: a request tries at most 11 servers */

enum lb_algo { LB_ROUNDROBIN, LB_LEASTCONN, LB_RANDOM, LB_EWMA, LB_HASH };
enum lb_hash_key { HASH_SOURCE, HASH_HEADER, HASH_URI };   /* hash:source, ... */

/* Passive telemetry for one server, updated at step 6 (run time). */
struct server_stats {
	uint64_t requests;          /* responses received (any status)              */
	uint64_t by_class[6];       /* [1]..[5]: 1xx..5xx; [0]: failed, no response  */
	uint64_t connects;          /* new connections opened (step 4)               */
	uint64_t reuses;            /* requests sent on a pooled connection          */
	uint64_t ttfb_us_total;     /* sum of times to response headers             */
	uint64_t ttlb_us_total;     /* sum of times to the last response byte        */
	uint64_t ttfb_us_ewma;      /* smoothed time to response headers (0: none)   */
	uint64_t retries;           /* requests it failed that went to another server */
	uint64_t ejections;         /* times passive health took it out (ejected)    */
	uint64_t checks[2];         /* --health-check: [0] failed, [1] passed        */
};

/* --balance ewma: time to first byte, peak-EWMA (lb.c, lb_observe). */
struct lb_ewma {
	double ns;                  /* the estimate at `at`                          */
	uint64_t at;                /* ev_now_ns() of the last sample                */
	uint64_t decay_ns;          /* the time constant (--ewma-decay)              */
	bool sampled;               /* false: no response seen yet                   */
};

/* A point of a hash pool's consistent-hash ring (lb.c). */
struct lb_point {
	uint64_t hash;
	size_t server;              /* index in pool->servers                       */
};

struct server_telemetry;        /* telemetry.h: only with --admin               */
struct health_check;            /* health.c: only with --health-check           */

struct server {
	char *name;                 /* "b1" from NAME=ADDR, else "ADDR:PORT"        */
	struct addr addr;
	char addr_s[ADDR_STRLEN];   /* addr as text, "127.0.0.11:9001"               */
	unsigned weight;            /* 1..1000, default 1                            */
	/* run time: load balancing */
	long current_weight;        /* smooth weighted round robin (nginx's)         */
	unsigned inflight;          /* requests sent and not yet answered            */
	/* run time: health (step 6, health.c) */
	unsigned fails;             /* failures in a row; --max-fails of them: ejected */
	uint64_t down_until;        /* ejected until this ev_now_ns() (0: not)       */
	unsigned ejected_in_row;    /* ejections without a quiet spell between       */
	uint64_t admitted_at;       /* when it came back from its last ejection      */
	bool eject_refused;         /* its run of failures met --max-ejected: said once */
	bool check_down;            /* --health-check: failed --health-fall in a row */
	bool check_passed;          /* the last check passed                         */
	unsigned check_run;         /* checks in a row with that result              */
	struct health_check *check; /* its check's connection and timer (health.c)   */
	bool skip;                  /* lb_pick leaves it out of this one pick        */
	struct lb_ewma ewma;        /* run time: --balance ewma                      */
	struct server_stats stats;
	struct server_telemetry *tm; /* run time: histograms and history (--admin)   */
	/* run time: the core's idle keep-alive connections to this server */
	void *idle_head;
	size_t nidle;
};

struct pool {
	char *name;                 /* "default" for --backend                       */
	enum lb_algo algo;
	enum lb_hash_key hash_key;  /* LB_HASH: what is hashed                       */
	char *hash_header;          /* HASH_HEADER: the header's name                */
	struct server *servers;
	size_t nservers;
	struct lb_point *ring;      /* LB_HASH: the ring, sorted (lb_prepare)        */
	size_t nring;
	struct rng rng;             /* run time: for LB_RANDOM and LB_EWMA, backoff   */
	unsigned nout;              /* run time: servers ejected or checked down      */
	/* run time: the retry budget (connect.c) */
	unsigned active;            /* requests in flight (step 4 to their end)      */
	unsigned retrying;          /* of those, past their first attempt            */
	uint64_t budget_refused;    /* retries the budget refused                    */
	char *where;                /* "lab.conf:3" or "--pool": where it was named  */
	bool defined;               /* by a pool block or --pool (not just --backend) */
};

enum route_kind { ROUTE_HOST, ROUTE_HEADER, ROUTE_PATH };

struct route {
	enum route_kind kind;
	char *match;                /* the text as written: "host:*.example.com"     */
	char *name;                 /* ROUTE_HEADER: the header name                 */
	char *value;                /* host pattern, header value, or path prefix    */
	struct pool *pool;          /* set by config_finish()                        */
	char *pool_name;            /* the pool as written                           */
	char *where;                /* "lab.conf:9" or "--route"                     */
	bool waf_set;               /* its own --waf mode (else the proxy's)         */
	enum waf_mode waf;
};

/* --waf MATCH=MODE: a route's mode, applied by config_finish(). */
struct waf_route {
	char *match, *where;
	enum waf_mode mode;
};

struct listener_conf {
	struct addr addr;
};

struct config {
	struct listener_conf *listeners;
	size_t nlisteners;
	struct pool *pools;         /* pools[i]; "default" is found by name          */
	size_t npools;
	struct route *routes;       /* first match wins                              */
	size_t nroutes;

	/* step 1: who may connect (empty allow list: everyone not denied) */
	struct cidr *allow, *deny;
	size_t nallow, ndeny;
	size_t max_conns;           /* --max-conns, default 10000                    */

	/* steps 1-2: per-client limits, counted per address group (iplimit.h) */
	struct iplimit_config per_ip;  /* --max-conns-per-ip, --conn-rate-per-ip,
	                                  --req-rate-per-ip, --ip-prefix4, --ip-prefix6 */
	uint64_t min_body_rate;     /* --min-body-rate BYTES/s, 0 = none (408)       */
	uint64_t min_body_window;   /* its window, ms (default 10s)                   */

	/* limits (steps 2 and 6) */
	size_t max_header;          /* --max-header, default 16 KiB  (431)           */
	size_t max_target;          /* --max-target, default 8 KiB   (414)           */
	uint64_t max_body;          /* --max-body, default 0 = no limit (413)        */

	/* timeouts, milliseconds */
	uint64_t timeout_header;    /* --timeout-header   10s                        */
	uint64_t timeout_idle;      /* --timeout-idle     60s                        */
	uint64_t timeout_client;    /* --timeout-client   30s (sending or taking bytes) */
	uint64_t timeout_body;      /* --timeout-body     5m (a whole request body)  */
	uint64_t timeout_connect;   /* --timeout-connect  3s                         */
	uint64_t timeout_server;    /* --timeout-server   30s                        */
	uint64_t timeout_pool;      /* --timeout-pool     4s                         */

	/* step 4 */
	size_t server_keepalive;    /* --server-keepalive N idle conns per server, default 32 */
	bool has_source;
	struct addr source;         /* --source ADDR                                 */

	/* step 6: retry elsewhere (connect.c) */
	size_t retries;             /* --retries N on another server, default 1      */
	bool retry_on[200];         /* --retry-on 502,503: [status - 400], default none */
	uint64_t retry_budget;      /* --retry-budget PCT: retries in flight per first
	                               attempts in flight, at most, default 20%      */
	uint64_t retry_budget_min;  /* --retry-budget-min N: always allowed, 3       */
	uint64_t backoff_ms;        /* --retry-backoff BASE[:CAP], 25ms:250ms (0: none) */
	uint64_t backoff_max_ms;
	uint64_t timeout_attempt;   /* --timeout-attempt: one attempt, 0 = none      */
	uint64_t timeout_request;   /* --timeout-request: all attempts, 0 = none     */
	uint64_t ewma_decay;        /* --ewma-decay: the EWMA's time constant, 3s    */

	/* step 3, security checks: the WAF (inspect.c, waf.h) */
	enum waf_mode waf;          /* --waf off|detect|block, default off; per route too */
	char *waf_rules;            /* --waf-rules l7lab|crs|FILE, default l7lab      */
	unsigned waf_paranoia;      /* --waf-paranoia 1..4, default 1                 */
	size_t waf_body_limit;      /* --waf-body-limit: body bytes inspected, 64k    */
	struct waf_route *waf_routes;   /* --waf MATCH=MODE until config_finish     */
	size_t nwaf_routes;

	/* step 6, data-leak prevention (screen.c, dlp.h): --dlp, --dlp-types,
	 * --dlp-block-limit, --dlp-over-limit, --dlp-compressed */
	struct dlp_config dlp;
	/* step 6: health (health.c) */
	size_t max_fails;           /* --max-fails N in a row: ejected, default 3    */
	uint64_t fail_timeout;      /* --fail-timeout: the first ejection, 10s       */
	uint64_t fail_timeout_max;  /* --fail-timeout-max: the longest, 5m           */
	uint64_t max_ejected;       /* --max-ejected PCT of a pool at once, 50%      */
	char *health_check;         /* --health-check PATH; NULL = no active checks  */
	uint64_t health_interval;   /* --health-interval, 2s                         */
	uint64_t health_timeout;    /* --health-timeout, 1s                          */
	size_t health_rise;         /* --health-rise N passes in a row: up, 2        */
	size_t health_fall;         /* --health-fall N failures in a row: down, 3    */

	/* observability */
	char *name;                 /* --name, for Via and Forwarded by=; default "l7lab" */
	bool return_id;             /* --return-request-id on|off: X-Request-ID to the client */
	char *access_log;           /* --access-log FILE; NULL = stderr              */
	bool log_json;              /* --log-format json: one JSON object a line     */
	char *events;               /* --events FILE ("-" = stdout); NULL = none     */
	uint64_t pace_ms;           /* --pace MS, default 0                          */
	int verbose;                /* -v count, --verbose, or verbose N in a file   */
	bool quiet;                 /* --quiet: no access log                        */
	uint64_t seed;              /* --seed for LB_RANDOM, default from the clock  */
	bool seed_set;              /* --seed was given (config_print shows it)      */
	bool has_admin;
	struct addr admin;          /* --admin ADDR:PORT: stats and dashboard         */

	bool check_only;            /* --check: print the resolved config, exit      */
	char *file;                 /* -c FILE, when given                           */
};

/* Sets every default (config_from_args does it first). */
void config_init(struct config *cfg);

/* config_from_args without printing or exiting: returns 0, or -1 with the
 * message in err for a command-line error (the caller adds "Try --help"),
 * or -2 for an error located in a config file ("lab.conf:7: ...").  Calls
 * config_finish.  --help and --version print and exit 0 all the same. */
int config_parse_args(struct config *cfg, int argc, char **argv, char *err, size_t errlen);

/* After the last directive: resolves routes to pools, checks that every pool
 * has servers and that there is a listener, seeds the pools' generators.
 * Returns 0, or -1 (command-line problem) / -2 (file problem) with err. */
int config_finish(struct config *cfg, char *err, size_t errlen);

/* Fills cfg from argv (flags and -c FILE; flags after -c override the file).
 * Handles --help and --version itself (prints, exits 0); --check is the
 * caller's (main.c: after the WAF's rules load, config_print).  On any error it
 * prints one line naming the flag, or FILE:LINE and what was expected, and
 * exits 2.  Ensures that every pool has a server, that every route names a
 * pool, and that at least one listener and one server exist; a "default"
 * pool is optional (without it, requests no route matches get NULL from
 * route_pick).  Sets log_verbose from -v. */
void config_from_args(struct config *cfg, int argc, char **argv);

/* Reads a config file into cfg (directives as in proxy.conf.5), after
 * config_init; call config_finish once every source is read.  Returns 0,
 * or -1 with "FILE:LINE: what was expected" in err. */
int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen);

/* Prints the resolved configuration in config-file syntax (for --check). */
void config_print(const struct config *cfg, FILE *out);

/* A duration as a person writes it: "10s", "1500ms". */
char *config_ms_str(uint64_t ms, char out[24]);

/* True if the WAF judges some requests: --waf, or a route's own mode. */
bool config_waf_used(const struct config *cfg);

/* The pool named name, or NULL. */
struct pool *config_pool(const struct config *cfg, const char *name);

void config_free(struct config *cfg);

const char *lb_algo_name(enum lb_algo a);
/* The pool's algorithm as --balance takes it ("roundrobin",
 * "hash:header:X-User"), in out (BALANCE_STRLEN bytes); returns out. */
#define BALANCE_STRLEN 96
char *balance_spec(const struct pool *pl, char out[BALANCE_STRLEN]);

#endif
