/*
 * config.c - before step 1: what the proxy listens on, its pools of servers,
 * the routing table of step 3, timeouts and limits (see config.h and
 * proxy.conf.5).
 *
 * One table of directives serves the command line and the config file:
 * "--timeout-server 5s" and the line "timeout-server 5s" run the same code,
 * so the two can never drift apart.  The file adds two friendlier forms,
 * "pool NAME { server ... }" blocks and "route MATCH POOL".
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ev.h"
#include "lb.h"
#include "log.h"

#define DEFAULT_POOL "default"
#define MAX_WEIGHT   1000
#define MAX_WORDS    8          /* the longest line: pool NAME balance ALGO { */
#define SERVER_USAGE "expected 'server [NAME] ADDR:PORT [weight N]'"
#define MAX_HASH_HEADER 64
#define TOKEN_CHARS  "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* Where the directive being applied comes from, and where its error goes. */
struct parse {
	struct config *cfg;
	const char *where;          /* "lab.conf:7" or "--listen"                   */
	unsigned source;            /* bumped at each file and back: see set_listen */
	unsigned listen_source;     /* the source the listeners came from           */
	char *err;
	size_t errlen;
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse *p, const char *fmt, ...)
{
	int n = snprintf(p->err, p->errlen, "%s: ", p->where);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	for (char *c = p->err; *c; c++)         /* a binary file must not drive the terminal */
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = '?';
	return -1;
}

/* The config is read once at start: running out of memory there ends the
 * program, like any other startup failure. */
static void *xrealloc(void *ptr, size_t n)
{
	void *q = realloc(ptr, n);
	if (q == NULL)
		fatal("out of memory reading the configuration");
	return q;
}

static char *xstrdup(const char *s) { return strcpy(xrealloc(NULL, strlen(s) + 1), s); }

/* Appends one zeroed element to a malloc'ed array; returns the new array. */
static void *push(void *arr, size_t *n, size_t size)
{
	char *a = xrealloc(arr, (*n + 1) * size);
	memset(a + *n * size, 0, size);
	(*n)++;
	return a;
}

/* Pool, server and proxy names stay one token in logs and Via headers. */
static bool valid_name(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
	return n > 0 && n <= 64 && s[n] == '\0';
}

static int bad_name(struct parse *p, const char *what, const char *s)
{
	return fail(p, "%s '%s': use 1 to 64 letters, digits, '.', '_' or '-'", what, s);
}

const char *lb_algo_name(enum lb_algo a)
{
	switch (a) {
	case LB_ROUNDROBIN: return "roundrobin";
	case LB_LEASTCONN:  return "leastconn";
	case LB_RANDOM:     return "random";
	case LB_EWMA:       return "ewma";
	case LB_HASH:       return "hash";
	}
	return "?";
}

char *balance_spec(const struct pool *pl, char out[BALANCE_STRLEN])
{
	static const char *const keys[] = { [HASH_SOURCE] = "source", [HASH_HEADER] = "header:", [HASH_URI] = "uri" };
	if (pl->algo != LB_HASH)
		snprintf(out, BALANCE_STRLEN, "%s", lb_algo_name(pl->algo));
	else   /* the header name is at most MAX_HASH_HEADER bytes: no truncation */
		snprintf(out, BALANCE_STRLEN, "hash:%s%s", keys[pl->hash_key],
		         pl->hash_key == HASH_HEADER ? pl->hash_header : "");
	return out;
}

#define ALGOS "roundrobin, leastconn, random, ewma (least-time), hash:source, hash:uri or hash:header:NAME"

/* ALGO as --balance and "balance" take it, into pl. */
static int parse_algo(struct parse *p, const char *s, struct pool *pl)
{
	if (strncmp(s, "hash:", 5) == 0) {
		const char *key = s + 5;
		if (strcmp(key, "source") == 0 || strcmp(key, "uri") == 0) {
			pl->hash_key = key[0] == 's' ? HASH_SOURCE : HASH_URI;
		} else if (strncmp(key, "header:", 7) == 0) {
			const char *name = key + 7;
			size_t n = strspn(name, TOKEN_CHARS);
			if (n == 0 || name[n] != '\0' || n > MAX_HASH_HEADER)
				return fail(p, "'%s': expected hash:header:NAME, a header name of 1 to %d characters", s,
				            MAX_HASH_HEADER);
			pl->hash_key = HASH_HEADER;
			free(pl->hash_header);
			pl->hash_header = xstrdup(name);
		} else {
			return fail(p, "'%s' is not an algorithm (" ALGOS ")", s);
		}
		pl->algo = LB_HASH;
		return 0;
	}
	if (strcmp(s, "least-time") == 0)
		s = "ewma";
	for (enum lb_algo a = LB_ROUNDROBIN; a <= LB_EWMA; a++)
		if (strcmp(s, lb_algo_name(a)) == 0) {
			pl->algo = a;
			return 0;
		}
	return fail(p, "'%s' is not an algorithm (" ALGOS ")", s);
}

/* ---- pools and servers ---------------------------------------------------- */

struct pool *config_pool(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->npools; i++)
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	return NULL;
}

/* The pool named name, created empty if needed.  The pointer is good until
 * the next pool is created. */
static struct pool *pool_get(struct parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct pool *pl = config_pool(cfg, name);
	if (pl == NULL) {
		cfg->pools = push(cfg->pools, &cfg->npools, sizeof(*cfg->pools));
		pl = &cfg->pools[cfg->npools - 1];
		pl->name = xstrdup(name);
		pl->where = xstrdup(p->where);
		pl->algo = LB_ROUNDROBIN;
	}
	return pl;
}

/* A pool block or --pool: names must not be defined twice. */
static struct pool *pool_define(struct parse *p, const char *name)
{
	if (!valid_name(name)) {
		bad_name(p, "pool name", name);
		return NULL;
	}
	struct pool *pl = pool_get(p, name);
	if (pl->defined || pl->nservers > 0) {
		fail(p, "duplicate pool '%s' (first at %s)", name, pl->where);
		return NULL;
	}
	pl->defined = true;
	free(pl->where);
	pl->where = xstrdup(p->where);
	return pl;
}

/* Adds a server; name NULL names it by its address, weight NULL means 1. */
static int add_server(struct parse *p, struct pool *pl, const char *name, const char *addr, const char *weight)
{
	struct server s = { .weight = 1 };
	char e[NET_ERRLEN];
	uint64_t w;

	if (name != NULL && !valid_name(name))
		return bad_name(p, "server name", name);
	if (addr_parse(addr, -1, &s.addr, e) < 0)
		return fail(p, "%s", e);
	if (addr_port(&s.addr) == 0)
		return fail(p, "%s: a server needs a port from 1 to 65535", addr);
	if (weight != NULL) {
		if (parse_uint(weight, 1, MAX_WEIGHT, &w) < 0)
			return fail(p, "weight '%s': expected a whole number from 1 to %d", weight, MAX_WEIGHT);
		s.weight = (unsigned)w;
	}
	addr_format(&s.addr, s.addr_s);
	if (name == NULL)
		name = s.addr_s;
	for (size_t i = 0; i < pl->nservers; i++)
		if (strcmp(pl->servers[i].name, name) == 0)
			return fail(p, "duplicate server '%s' in pool '%s'", name, pl->name);
	s.name = xstrdup(name);
	pl->servers = push(pl->servers, &pl->nservers, sizeof(s));
	pl->servers[pl->nservers - 1] = s;
	return 0;
}

/* SERVER as the flags write it: [NAME=]ADDR:PORT[*WEIGHT].  Edits spec. */
static int add_server_spec(struct parse *p, struct pool *pl, char *spec)
{
	char *name = NULL, *eq = strchr(spec, '='), *star;
	if (eq != NULL) {
		*eq = '\0';
		name = spec;
		spec = eq + 1;
	}
	if ((star = strrchr(spec, '*')) != NULL)
		*star++ = '\0';
	return add_server(p, pl, name, spec, star);
}

/* ---- the directives -------------------------------------------------------- */

static int set_listen(struct parse *p, char *v)
{
	struct config *cfg = p->cfg;
	struct addr a;
	char e[NET_ERRLEN];
	if (addr_parse(v, -1, &a, e) < 0)
		return fail(p, "%s", e);
	/* Listeners add up within one file or one command line; a later source
	 * replaces them, so "-c lab.conf --listen 127.0.0.1:0" moves a lab. */
	if (p->listen_source != p->source)
		cfg->nlisteners = 0;
	p->listen_source = p->source;
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (addr_port(&a) != 0 && addr_equal(&a, &cfg->listeners[i].addr))
			return fail(p, "%s is listed twice", v);
	cfg->listeners = push(cfg->listeners, &cfg->nlisteners, sizeof(*cfg->listeners));
	cfg->listeners[cfg->nlisteners - 1].addr = a;
	return 0;
}

static int set_backend(struct parse *p, char *v)
{
	return add_server_spec(p, pool_get(p, DEFAULT_POOL), v);
}

/* --pool NAME=SERVER[,SERVER...] */
static int set_pool(struct parse *p, char *v)
{
	char *eq = strchr(v, '='), *s, *next;
	if (eq == NULL || eq[1] == '\0')
		return fail(p, "expected NAME=SERVER[,SERVER...], not '%s'", v);
	*eq = '\0';
	struct pool *pl = pool_define(p, v);
	if (pl == NULL)
		return -1;
	for (s = eq + 1; s != NULL; s = next) {
		if ((next = strchr(s, ',')) != NULL)
			*next++ = '\0';
		if (*s == '\0')
			return fail(p, "pool '%s': empty server in the list", v);
		if (add_server_spec(p, pl, s) < 0)
			return -1;
	}
	return 0;
}

/* --balance ALGO (the default pool) or --balance POOL=ALGO */
static int set_balance(struct parse *p, char *v)
{
	char *eq = strchr(v, '=');
	const char *pool = DEFAULT_POOL;
	if (eq != NULL) {
		*eq = '\0';
		pool = v;
		v = eq + 1;
		if (!valid_name(pool))
			return bad_name(p, "pool name", pool);
	}
	struct pool probe = { .algo = LB_ROUNDROBIN };   /* the pool is not created for a bad ALGO */
	if (parse_algo(p, v, &probe) < 0)
		return -1;
	struct pool *pl = pool_get(p, pool);
	free(pl->hash_header);
	pl->algo = probe.algo;
	pl->hash_key = probe.hash_key;
	pl->hash_header = probe.hash_header;
	return 0;
}

static int add_route(struct parse *p, const char *match, const char *pool)
{
	struct config *cfg = p->cfg;
	struct route r = { .kind = ROUTE_HOST };
	const char *v, *colon;

	if (!valid_name(pool))
		return bad_name(p, "pool name", pool);
	if (strncmp(match, "host:", 5) == 0) {
		v = match + 5;
		const char *star = strchr(v, '*');
		if (*v == '\0' || (star != NULL && (star != v || v[1] != '.' || v[2] == '\0' || strchr(v + 1, '*'))))
			return fail(p, "'%s': expected host:NAME or host:*.DOMAIN", match);
		if (strchr(v, ':') != NULL && v[0] != '[')
			return fail(p, "'%s': a host pattern has no port (ports are ignored)", match);
	} else if (strncmp(match, "header:", 7) == 0) {
		r.kind = ROUTE_HEADER;
		colon = strchr(match + 7, ':');
		size_t nlen = colon ? (size_t)(colon - (match + 7)) : 0;
		if (nlen == 0 || strspn(match + 7, TOKEN_CHARS) != nlen)
			return fail(p, "'%s': expected header:NAME:VALUE", match);
		r.name = strndup(match + 7, nlen);
		if (r.name == NULL)
			fatal("out of memory reading the configuration");
		v = colon + 1;
	} else if (strncmp(match, "path:", 5) == 0) {
		r.kind = ROUTE_PATH;
		v = match + 5;
		if (v[0] != '/')
			return fail(p, "'%s': expected path:/PREFIX", match);
	} else {
		return fail(p, "'%s': expected host:NAME, header:NAME:VALUE or path:/PREFIX", match);
	}
	r.match = xstrdup(match);
	r.value = xstrdup(v);
	r.pool_name = xstrdup(pool);
	r.where = xstrdup(p->where);
	cfg->routes = push(cfg->routes, &cfg->nroutes, sizeof(r));
	cfg->routes[cfg->nroutes - 1] = r;
	return 0;
}

/* --route MATCH=POOL: the pool follows the last '=' (header values may hold one). */
static int set_route(struct parse *p, char *v)
{
	char *eq = strrchr(v, '=');
	if (eq == NULL || eq == v || eq[1] == '\0')
		return fail(p, "expected MATCH=POOL, not '%s'", v);
	*eq = '\0';
	return add_route(p, v, eq + 1);
}

static int add_cidr(struct parse *p, char *v, struct cidr **list, size_t *n)
{
	struct cidr c;
	char e[NET_ERRLEN];
	if (cidr_parse(v, &c, e) < 0)
		return fail(p, "%s", e);
	*list = push(*list, n, sizeof(c));
	(*list)[*n - 1] = c;
	return 0;
}
static int set_allow(struct parse *p, char *v) { return add_cidr(p, v, &p->cfg->allow, &p->cfg->nallow); }
static int set_deny(struct parse *p, char *v) { return add_cidr(p, v, &p->cfg->deny, &p->cfg->ndeny); }

/* ---- steps 1-2: per-client limits ------------------------------------------ */

/* A whole number from 0 to max into *out. */
static int set_whole(struct parse *p, const char *v, unsigned max, unsigned *out)
{
	uint64_t n;
	if (parse_uint(v, 0, max, &n) < 0)
		return fail(p, "'%s' is not a whole number from 0 to %u", v, max);
	*out = (unsigned)n;
	return 0;
}
static int set_conns_per_ip(struct parse *p, char *v) { return set_whole(p, v, 1000000, &p->cfg->per_ip.max_conns); }
static int set_prefix4(struct parse *p, char *v) { return set_whole(p, v, 32, &p->cfg->per_ip.prefix4); }
static int set_prefix6(struct parse *p, char *v) { return set_whole(p, v, 128, &p->cfg->per_ip.prefix6); }

static int set_rate(struct parse *p, const char *v, struct limit_rate *r)
{
	const char *why;
	if (limit_rate_parse(v, r, &why) < 0)
		return fail(p, "'%s': %s", v, why);
	return 0;
}
static int set_conn_rate(struct parse *p, char *v) { return set_rate(p, v, &p->cfg->per_ip.conn_rate); }
static int set_req_rate(struct parse *p, char *v) { return set_rate(p, v, &p->cfg->per_ip.req_rate); }

#define MIN_BODY_RATE_USAGE "expected BYTES/s with an optional window, such as 500/s or 1k/s:5s (0: none)"

/* --min-body-rate SIZE/s[:WINDOW], or 0 */
static int set_min_body_rate(struct parse *p, char *v)
{
	char num[32], e[CLI_ERRLEN];
	const char *per = strstr(v, "/s");
	uint64_t rate, us = 10000000;
	if (strcmp(v, "0") == 0) {
		p->cfg->min_body_rate = 0;
		return 0;
	}
	if (per == NULL || (size_t)(per - v) >= sizeof(num) || (per[2] != '\0' && per[2] != ':'))
		return fail(p, "'%s': " MIN_BODY_RATE_USAGE, v);
	memcpy(num, v, (size_t)(per - v));
	num[per - v] = '\0';
	if (parse_size(num, &rate) < 0 || rate == 0 || rate > (1u << 30))
		return fail(p, "'%s': " MIN_BODY_RATE_USAGE ", from 1 byte to 1G a second", v);
	if (per[2] == ':' && parse_duration_us(per + 3, &us, e) < 0)
		return fail(p, "'%s': the window: %s", v, e);
	if (us < 100000 || us > 3600000000u)
		return fail(p, "'%s': a window from 100ms to 1h", v);
	p->cfg->min_body_rate = rate;
	p->cfg->min_body_window = (us + 999) / 1000;
	return 0;
}

static int set_source(struct parse *p, char *v)
{
	char e[NET_ERRLEN];
	if (addr_parse(v, 0, &p->cfg->source, e) < 0)
		return fail(p, "%s", e);
	p->cfg->has_source = true;
	return 0;
}

static int set_admin(struct parse *p, char *v)
{
	char e[NET_ERRLEN];
	if (addr_parse(v, -1, &p->cfg->admin, e) < 0)
		return fail(p, "%s", e);
	p->cfg->has_admin = true;
	return 0;
}

static int set_name(struct parse *p, char *v)
{
	if (!valid_name(v))
		return bad_name(p, "name", v);
	free(p->cfg->name);
	p->cfg->name = xstrdup(v);
	return 0;
}

static int set_seed(struct parse *p, char *v)
{
	if (parse_uint(v, 0, UINT64_MAX, &p->cfg->seed) < 0)
		return fail(p, "'%s' is not a whole number", v);
	p->cfg->seed_set = true;
	return 0;
}

/* --retry-on 502,503,504: statuses from 400 to 599 */
static int set_retry_on(struct parse *p, char *v)
{
	uint64_t st;
	memset(p->cfg->retry_on, 0, sizeof(p->cfg->retry_on));
	for (char *s = strtok(v, ","); s != NULL; s = strtok(NULL, ","))
		if (parse_uint(s, 400, 599, &st) < 0)
			return fail(p, "'%s' is not a status from 400 to 599", s);
		else
			p->cfg->retry_on[st - 400] = true;
	return 0;
}

/* retry-backoff BASE[:CAP]: durations, CAP at least BASE (default 10 x BASE) */
static int set_backoff(struct parse *p, char *v)
{
	char *colon = strchr(v, ':'), e[CLI_ERRLEN];
	uint64_t base, cap;
	if (colon != NULL)
		*colon = '\0';
	if (parse_duration_us(v, &base, e) < 0 || (colon != NULL && parse_duration_us(colon + 1, &cap, e) < 0))
		return fail(p, "%s", e);
	base = (base + 999) / 1000;
	cap = colon != NULL ? (cap + 999) / 1000 : base * 10;
	if (base > 60000 || cap > 600000 || cap < base)
		return fail(p, "expected BASE[:CAP], BASE at most 1m, CAP from BASE to 10m");
	p->cfg->backoff_ms = base;
	p->cfg->backoff_max_ms = cap;
	return 0;
}

/* health-check PATH: it goes into a request line as it is */
static int set_health_check(struct parse *p, char *v)
{
	size_t n = strlen(v);
	if (v[0] != '/' || n > 1024)
		return fail(p, "'%s': expected a path such as /health (at most 1024 bytes)", v);
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return fail(p, "'%s': a path has no blanks or control characters", v);
	free(p->cfg->health_check);
	p->cfg->health_check = xstrdup(v);
	return 0;
}

/* log-format text|json */
static int set_log_format(struct parse *p, char *v)
{
	if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0)
		return fail(p, "'%s' is not a log format (text or json)", v);
	p->cfg->log_json = strcmp(v, "json") == 0;
	return 0;
}

/* return-request-id on|off */
static int set_return_id(struct parse *p, char *v)
{
	if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
		return fail(p, "'%s': expected on or off", v);
	p->cfg->return_id = v[1] == 'n';
	return 0;
}

static int set_verbose(struct parse *p, char *v)
{
	uint64_t n;
	if (parse_uint(v, 0, 3, &n) < 0)
		return fail(p, "'%s' is not a whole number from 0 to 3", v);
	p->cfg->verbose = (int)n;
	return 0;
}

/* ---- security: the WAF (step 3) and data-leak prevention (step 6) ------- */

static const char *const waf_modes[] = { [WAF_OFF] = "off", [WAF_DETECT] = "detect", [WAF_BLOCK] = "block" };

static int parse_waf_mode(struct parse *p, const char *s, enum waf_mode *out)
{
	for (int m = WAF_OFF; m <= WAF_BLOCK; m++)
		if (strcmp(s, waf_modes[m]) == 0) {
			*out = (enum waf_mode)m;
			return 0;
		}
	return fail(p, "'%s' is not a WAF mode (off, detect or block)", s);
}

/* --waf MODE, or --waf MATCH=MODE for the route written MATCH (the mode
 * follows the last '=': a header value may hold one). */
static int set_waf(struct parse *p, char *v)
{
	struct config *cfg = p->cfg;
	char *eq = strrchr(v, '=');
	enum waf_mode m = WAF_OFF;
	if (parse_waf_mode(p, eq ? eq + 1 : v, &m) < 0)
		return -1;
	if (eq == NULL) {
		cfg->waf = m;
		return 0;
	}
	if (eq == v)
		return fail(p, "expected MODE or MATCH=MODE, not '%s'", v);
	*eq = '\0';
	cfg->waf_routes = push(cfg->waf_routes, &cfg->nwaf_routes, sizeof(*cfg->waf_routes));
	struct waf_route *w = &cfg->waf_routes[cfg->nwaf_routes - 1];
	*w = (struct waf_route){ .match = xstrdup(v), .where = xstrdup(p->where), .mode = m };
	return 0;
}

static int set_waf_rules(struct parse *p, char *v)
{
	if (*v == '\0')
		return fail(p, "expected l7lab, crs or a rule file");
	free(p->cfg->waf_rules);
	p->cfg->waf_rules = xstrdup(v);
	return 0;
}

static int set_waf_paranoia(struct parse *p, char *v)
{
	uint64_t n;
	if (parse_uint(v, 1, 4, &n) < 0)
		return fail(p, "'%s' is not a paranoia level (1 to 4)", v);
	p->cfg->waf_paranoia = (unsigned)n;
	return 0;
}

/* A SIZE from min to max into *out. */
static int get_size(struct parse *p, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	if (parse_size(v, out) < 0)
		return fail(p, "'%s' is not a size (examples: 512, 16k, 1M)", v);
	if (*out < min || *out > max)
		return fail(p, "'%s' is out of range (%llu to %llu bytes)", v, (unsigned long long)min,
		            (unsigned long long)max);
	return 0;
}

static int set_waf_body_limit(struct parse *p, char *v)
{
	uint64_t n;
	if (get_size(p, v, 1, 64u << 20, &n) < 0)
		return -1;
	p->cfg->waf_body_limit = n;
	return 0;
}

static int set_dlp(struct parse *p, char *v)
{
	if (dlp_mode_parse(v, &p->cfg->dlp.mode) < 0)
		return fail(p, "'%s' is not a DLP mode (off, detect, mask or block)", v);
	return 0;
}

static int set_dlp_types(struct parse *p, char *v)
{
	if (dlp_types_parse(v, &p->cfg->dlp.types) < 0)
		return fail(p, "'%s': expected all, or a list of card, ssn, aws-key and secret", v);
	return 0;
}

static int set_dlp_block_limit(struct parse *p, char *v)
{
	uint64_t n;
	if (get_size(p, v, 1, 64u << 20, &n) < 0)
		return -1;
	p->cfg->dlp.block_limit = n;
	return 0;
}

/* WORD is one of two: a, the default (false), or b (true). */
static int set_either(struct parse *p, const char *v, const char *a, const char *b, bool *out)
{
	if (strcmp(v, a) != 0 && strcmp(v, b) != 0)
		return fail(p, "'%s': expected %s or %s", v, a, b);
	*out = strcmp(v, b) == 0;
	return 0;
}

static int set_dlp_over_limit(struct parse *p, char *v)
{
	return set_either(p, v, "mask", "block", &p->cfg->dlp.block_over_limit);
}

static int set_dlp_compressed(struct parse *p, char *v)
{
	return set_either(p, v, "pass", "block", &p->cfg->dlp.block_unreadable);
}

bool config_waf_used(const struct config *cfg)
{
	bool used = cfg->waf != WAF_OFF;
	for (size_t i = 0; i < cfg->nroutes; i++)
		used |= cfg->routes[i].waf_set && cfg->routes[i].waf != WAF_OFF;
	return used;
}

/* Most directives store one value in one field, checked against a range. */
enum dtype { T_FN, T_COUNT, T_SIZE, T_MS, T_STR, T_BOOL, T_PCT };

struct directive {
	const char *name;           /* --name on the command line, name in a file */
	const char *arg;            /* what it takes (NULL: nothing)              */
	enum dtype type;
	size_t off;                 /* offsetof(struct config, field)             */
	uint64_t min, max;
	int (*fn)(struct parse *p, char *v);
};

/* size_t and uint64_t fields are both stored as uint64_t. */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "size_t is 64 bits");
#define FIELD(f) offsetof(struct config, f)
#define DAY_MS   86400000u

static const struct directive directives[] = {
	{ "listen",           "ADDR:PORT",                 T_FN, 0, 0, 0, set_listen },
	{ "backend",          "[NAME=]ADDR:PORT[*WEIGHT]", T_FN, 0, 0, 0, set_backend },
	{ "pool",             "NAME=SERVER[,SERVER...]",   T_FN, 0, 0, 0, set_pool },
	{ "balance",          "[POOL=]ALGO",               T_FN, 0, 0, 0, set_balance },
	{ "route",            "MATCH=POOL",                T_FN, 0, 0, 0, set_route },
	{ "allow",            "CIDR",                      T_FN, 0, 0, 0, set_allow },
	{ "deny",             "CIDR",                      T_FN, 0, 0, 0, set_deny },
	{ "max-conns",        "N",    T_COUNT, FIELD(max_conns), 1, 1000000, NULL },
	{ "max-conns-per-ip", "N",                         T_FN, 0, 0, 0, set_conns_per_ip },
	{ "conn-rate-per-ip", "R/s[:BURST]",               T_FN, 0, 0, 0, set_conn_rate },
	{ "req-rate-per-ip",  "R/s[:BURST]",               T_FN, 0, 0, 0, set_req_rate },
	{ "ip-prefix4",       "BITS",                      T_FN, 0, 0, 0, set_prefix4 },
	{ "ip-prefix6",       "BITS",                      T_FN, 0, 0, 0, set_prefix6 },
	{ "max-header",       "SIZE", T_SIZE,  FIELD(max_header), 64, 64u << 20, NULL },
	{ "max-target",       "SIZE", T_SIZE,  FIELD(max_target), 16, 64u << 20, NULL },
	{ "max-body",         "SIZE", T_SIZE,  FIELD(max_body), 0, 1ull << 50, NULL },
	{ "timeout-header",   "DURATION", T_MS, FIELD(timeout_header), 1, DAY_MS, NULL },
	{ "timeout-idle",     "DURATION", T_MS, FIELD(timeout_idle), 1, DAY_MS, NULL },
	{ "timeout-client",   "DURATION", T_MS, FIELD(timeout_client), 1, DAY_MS, NULL },
	{ "timeout-body",     "DURATION", T_MS, FIELD(timeout_body), 1, DAY_MS, NULL },
	{ "min-body-rate",    "BYTES/s[:WINDOW]",          T_FN, 0, 0, 0, set_min_body_rate },
	{ "timeout-connect",  "DURATION", T_MS, FIELD(timeout_connect), 1, DAY_MS, NULL },
	{ "timeout-server",   "DURATION", T_MS, FIELD(timeout_server), 1, DAY_MS, NULL },
	{ "timeout-pool",     "DURATION", T_MS, FIELD(timeout_pool), 1, DAY_MS, NULL },
	{ "server-keepalive", "N",    T_COUNT, FIELD(server_keepalive), 0, 100000, NULL },
	{ "source",           "ADDR",                      T_FN, 0, 0, 0, set_source },
	{ "retries",          "N",    T_COUNT, FIELD(retries), 0, RETRIES_MAX, NULL },
	{ "retry-on",         "STATUS[,STATUS...]",        T_FN, 0, 0, 0, set_retry_on },
	{ "retry-budget",     "PERCENT", T_PCT, FIELD(retry_budget), 0, 100, NULL },
	{ "retry-budget-min", "N",    T_COUNT, FIELD(retry_budget_min), 0, 1000, NULL },
	{ "retry-backoff",    "BASE[:CAP]",                T_FN, 0, 0, 0, set_backoff },
	{ "timeout-attempt",  "DURATION", T_MS, FIELD(timeout_attempt), 0, DAY_MS, NULL },
	{ "timeout-request",  "DURATION", T_MS, FIELD(timeout_request), 0, DAY_MS, NULL },
	{ "max-fails",        "N",    T_COUNT, FIELD(max_fails), 0, 1000, NULL },
	{ "fail-timeout",     "DURATION", T_MS, FIELD(fail_timeout), 1, DAY_MS, NULL },
	{ "fail-timeout-max", "DURATION", T_MS, FIELD(fail_timeout_max), 1, DAY_MS, NULL },
	{ "max-ejected",      "PERCENT", T_PCT, FIELD(max_ejected), 1, 100, NULL },
	{ "health-check",     "PATH",                      T_FN, 0, 0, 0, set_health_check },
	{ "health-interval",  "DURATION", T_MS, FIELD(health_interval), 10, 3600000, NULL },
	{ "health-timeout",   "DURATION", T_MS, FIELD(health_timeout), 1, 3600000, NULL },
	{ "health-rise",      "N",    T_COUNT, FIELD(health_rise), 1, 100, NULL },
	{ "health-fall",      "N",    T_COUNT, FIELD(health_fall), 1, 100, NULL },
	{ "ewma-decay",       "DURATION", T_MS, FIELD(ewma_decay), 10, 3600000, NULL },
	{ "admin",            "ADDR:PORT",                 T_FN, 0, 0, 0, set_admin },
	{ "name",             "NAME",                      T_FN, 0, 0, 0, set_name },
	{ "return-request-id", "on|off",                   T_FN, 0, 0, 0, set_return_id },
	{ "access-log",       "FILE", T_STR,   FIELD(access_log), 0, 0, NULL },
	{ "log-format",       "text|json",                 T_FN, 0, 0, 0, set_log_format },
	{ "events",           "FILE", T_STR,   FIELD(events), 0, 0, NULL },
	{ "pace",             "DURATION", T_MS, FIELD(pace_ms), 0, 60000, NULL },
	{ "verbose",          "N",                         T_FN, 0, 0, 0, set_verbose },
	{ "quiet",            NULL,   T_BOOL,  FIELD(quiet), 0, 0, NULL },
	{ "seed",             "N",                         T_FN, 0, 0, 0, set_seed },
	{ "waf",              "[MATCH=]off|detect|block",  T_FN, 0, 0, 0, set_waf },
	{ "waf-rules",        "l7lab|crs|FILE",            T_FN, 0, 0, 0, set_waf_rules },
	{ "waf-paranoia",     "N",                         T_FN, 0, 0, 0, set_waf_paranoia },
	{ "waf-body-limit",   "SIZE",                      T_FN, 0, 0, 0, set_waf_body_limit },
	{ "dlp",              "off|detect|mask|block",     T_FN, 0, 0, 0, set_dlp },
	{ "dlp-types",        "all|TYPE[,TYPE...]",        T_FN, 0, 0, 0, set_dlp_types },
	{ "dlp-block-limit",  "SIZE",                      T_FN, 0, 0, 0, set_dlp_block_limit },
	{ "dlp-over-limit",   "mask|block",                T_FN, 0, 0, 0, set_dlp_over_limit },
	{ "dlp-compressed",   "pass|block",                T_FN, 0, 0, 0, set_dlp_compressed },
};
#define NDIRECTIVES (sizeof(directives) / sizeof(directives[0]))

static const struct directive *find_directive(const char *name, size_t len)
{
	for (size_t i = 0; i < NDIRECTIVES; i++)
		if (strlen(directives[i].name) == len && strncmp(directives[i].name, name, len) == 0)
			return &directives[i];
	return NULL;
}

static int apply(struct parse *p, const struct directive *d, char *v)
{
	char *field = (char *)p->cfg + d->off;
	uint64_t n = 0, us;
	char e[CLI_ERRLEN];

	switch (d->type) {
	case T_FN:
		return d->fn(p, v);
	case T_BOOL:
		*(bool *)field = true;
		return 0;
	case T_STR:
		if (*v == '\0')
			return fail(p, "expected %s", d->arg);
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return 0;
	case T_PCT:   /* "20" or "20%" */
		if (strlen(v) > 1 && v[strlen(v) - 1] == '%')
			v[strlen(v) - 1] = '\0';
		if (parse_uint(v, d->min, d->max, &n) < 0)
			return fail(p, "'%s' is not a percentage from %llu to %llu", v,
			            (unsigned long long)d->min, (unsigned long long)d->max);
		break;
	case T_COUNT:
		if (parse_uint(v, d->min, d->max, &n) < 0)
			return fail(p, "'%s' is not a whole number from %llu to %llu", v,
			            (unsigned long long)d->min, (unsigned long long)d->max);
		break;
	case T_SIZE:
		if (get_size(p, v, d->min, d->max, &n) < 0)
			return -1;
		break;
	case T_MS:
		if (parse_duration_us(v, &us, e) < 0)
			return fail(p, "%s", e);
		n = (us + 999) / 1000;
		if (n < d->min || n > d->max)
			return fail(p, "'%s' is out of range (%llums to %llus)", v,
			            (unsigned long long)d->min, (unsigned long long)d->max / 1000);
		break;
	}
	memcpy(field, &n, sizeof(n));
	return 0;
}

/* ---- the config file --------------------------------------------------------- */

#define OPEN_QUOTE "a quote (\") is not closed on its line"

static unsigned hexval(char c)
{
	return c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
	     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
}

/* One escape inside double quotes, *r at its backslash: the byte it stands
 * for in *c, *r past it.  \" \\ \n \r \t and \xHH (not \x00). */
static int unescape(struct parse *p, char **r, char *c)
{
	static const char from[] = "\"\\nrt", to[] = "\"\\\n\r\t";
	const char *s = *r + 1, *k = *s ? strchr(from, *s) : NULL;
	if (k != NULL) {
		*c = to[k - from];
		*r += 2;
		return 0;
	}
	if (*s == '\0' || *s == '\n')
		return fail(p, OPEN_QUOTE);
	unsigned hi, lo;
	if (*s == 'x' && s[1] && s[2] && (hi = hexval(s[1])) < 16 && (lo = hexval(s[2])) < 16) {
		if (hi == 0 && lo == 0)
			return fail(p, "\\x00: a value cannot hold a NUL byte");
		*c = (char)(hi << 4 | lo);
		*r += 4;
		return 0;
	}
	return fail(p, "unknown escape '\\%.1s' in quotes (\\\" \\\\ \\n \\r \\t \\xHH)", s);
}

/* Splits line in place into at most max words at blanks (count in *n, or
 * max + 1 if there are more).  A '#' that begins a word begins a comment.
 * Double quotes hold blanks, '#' and escapes (unescape): "path:/my docs"
 * and path:"/my docs" are the same word.  Outside quotes a backslash is
 * an ordinary byte.  Returns -1 for an open quote or a bad escape. */
static int split(struct parse *p, char *line, char **w, size_t max, size_t *n)
{
	char *r = line;
	for (*n = 0;; (*n)++) {
		r += strspn(r, " \t\r\n");
		if (*r == '\0' || *r == '#')
			return 0;
		if (*n == max) {
			*n = max + 1;
			return 0;
		}
		char *o = w[*n] = r;       /* the word is never longer than its text */
		while (*r != '\0' && strchr(" \t\r\n", *r) == NULL) {
			if (*r != '"') {
				*o++ = *r++;
				continue;
			}
			for (r++; *r != '"'; )
				if (*r == '\0' || *r == '\n')
					return fail(p, OPEN_QUOTE);
				else if (*r != '\\')
					*o++ = *r++;
				else if (unescape(p, &r, o++) < 0)
					return -1;
			r++;
		}
		if (*r != '\0')
			r++;
		*o = '\0';
	}
}

/* A line inside "pool NAME { ... }": server, balance, or the closing brace. */
static int block_line(struct parse *p, char **w, size_t n, size_t *block)
{
	struct pool *pl = &p->cfg->pools[*block - 1];
	if (n == 1 && strcmp(w[0], "}") == 0) {
		*block = 0;
		return 0;
	}
	if (n == 2 && strcmp(w[0], "balance") == 0)
		return parse_algo(p, w[1], pl);
	if (strcmp(w[0], "server") != 0)
		return fail(p, "expected 'server [NAME] ADDR:PORT [weight N]', 'balance ALGO' or '}'");
	/* server ADDR | server NAME ADDR, each with an optional "weight N" */
	if (n < 2 || n > 5)
		return fail(p, SERVER_USAGE);
	bool named = n == 3 || n == 5, weighted = n >= 4;
	const char *addr = w[named ? 2 : 1];
	if ((weighted && strcmp(w[n - 2], "weight") != 0) || strchr(addr, ':') == NULL)
		return fail(p, SERVER_USAGE);
	return add_server(p, pl, named ? w[1] : NULL, addr, weighted ? w[n - 1] : NULL);
}

static int file_line(struct parse *p, char **w, size_t n, size_t *block)
{
	if (n == 0)
		return 0;
	if (*block)
		return block_line(p, w, n, block);
	if (strcmp(w[0], "pool") == 0 && (n != 2 || strchr(w[1], '=') == NULL)) {
		/* pool NAME [balance ALGO] { */
		if ((n != 3 && n != 5) || strcmp(w[n - 1], "{") != 0 || (n == 5 && strcmp(w[2], "balance") != 0))
			return fail(p, "expected 'pool NAME [balance ALGO] {' or 'pool NAME=SERVER[,SERVER...]'");
		struct pool *pl = pool_define(p, w[1]);
		if (pl == NULL || (n == 5 && parse_algo(p, w[3], pl) < 0))
			return -1;
		*block = (size_t)(pl - p->cfg->pools) + 1;
		return 0;
	}
	if (strcmp(w[0], "route") == 0 && n == 3)
		return add_route(p, w[1], w[2]);
	if (strcmp(w[0], "route") == 0 && n == 5 && strcmp(w[3], "waf") == 0) {
		/* route MATCH POOL waf MODE: the route's own WAF mode */
		struct route *r;
		enum waf_mode m = WAF_OFF;
		if (parse_waf_mode(p, w[4], &m) < 0 || add_route(p, w[1], w[2]) < 0)
			return -1;
		r = &p->cfg->routes[p->cfg->nroutes - 1];
		r->waf_set = true;
		r->waf = m;
		return 0;
	}
	if (strcmp(w[0], "}") == 0)
		return fail(p, "'}' without an open pool block");
	const struct directive *d = find_directive(w[0], strlen(w[0]));
	if (d == NULL)
		return fail(p, "unknown directive '%s'", w[0]);
	if (n != (d->arg ? 2u : 1u)) {
		if (d->fn == set_route)
			return fail(p, "expected 'route MATCH POOL [waf MODE]'");
		return fail(p, "expected '%s%s%s'", d->name, d->arg ? " " : "", d->arg ? d->arg : "");
	}
	return apply(p, d, d->arg ? w[1] : NULL);
}

static int load_file(struct parse *p, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *where = NULL, *w[MAX_WORDS];
	size_t cap = 0, block = 0, n;
	ssize_t len;
	unsigned lineno = 0;
	int rc = 0;

	if (f == NULL) {
		snprintf(p->err, p->errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		free(where);
		if (asprintf(&where, "%s:%u", path, ++lineno) < 0)
			fatal("out of memory reading the configuration");
		p->where = where;
		if ((size_t)len != strlen(line))
			rc = fail(p, "a NUL byte in the line (is this a text file?)");
		else if ((rc = split(p, line, w, MAX_WORDS, &n)) == 0 && n > MAX_WORDS)
			rc = fail(p, "too many words");
		else if (rc == 0)
			rc = file_line(p, w, n, &block);
	}
	if (rc == 0 && ferror(f)) {
		snprintf(p->err, p->errlen, "read %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && block) {
		struct pool *pl = &p->cfg->pools[block - 1];
		p->where = pl->where;
		rc = fail(p, "pool '%s' has no closing '}'", pl->name);
	}
	p->where = NULL;
	free(where);
	free(line);
	fclose(f);
	return rc;
}

int config_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct parse p = { .cfg = cfg, .err = err, .errlen = errlen, .source = 1 };
	return load_file(&p, path);
}

/* ---- the command line -------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
"usage: proxy --listen ADDR:PORT --backend [NAME=]ADDR:PORT[*WEIGHT] ... [options]\n"
"       proxy -c FILE [options]      proxy --check -c FILE\n"
"\n"
"An HTTP/1.x reverse proxy that works in the seven steps of a request.\n"
"Every option is also a config-file directive without the dashes (proxy.conf(5)).\n"
"\n"
"Listening and pools (the lists repeat):\n"
"  --listen ADDR:PORT             listen there (port 0: any; prints 'listening ADDR:PORT')\n"
"  --backend [NAME=]ADDR:PORT[*WEIGHT]\n"
"                                 a server of the pool 'default' (weight 1 to 1000, default 1)\n"
"  --pool NAME=SERVER[,SERVER...] a pool; SERVER is [NAME=]ADDR:PORT[*WEIGHT]\n"
"  --balance [POOL=]ALGO          roundrobin (default), leastconn, random,\n"
"                                 ewma (least-time), hash:source, hash:uri\n"
"                                 or hash:header:NAME\n"
"  --route MATCH=POOL             host:NAME, host:*.DOMAIN, header:NAME:VALUE or\n"
"                                 path:/PREFIX; first match wins, else pool 'default'\n"
"Step 1, who may connect:\n"
"  --allow CIDR, --deny CIDR      e.g. 127.0.0.0/8 (deny wins; no allow: all allowed)\n"
"  --max-conns N                  client connections at once (10000)\n"
"Steps 1-2, per client address (its /32 or /64; 0: no limit, the default):\n"
"  --max-conns-per-ip N           connections at once; more are closed at accept\n"
"  --conn-rate-per-ip R/s[:BURST] new connections (R/s, R/m or R/h; BURST: R/s)\n"
"  --req-rate-per-ip R/s[:BURST]  requests; over it: 429 with Retry-After\n"
"  --ip-prefix4 BITS, --ip-prefix6 BITS\n"
"                                 the address group counted as one client (32, 64)\n"
"Limits (SIZE: 512, 16k, 1M):\n"
"  --max-header SIZE              request line and headers (16k; over it: 431)\n"
"  --max-target SIZE              request target (8k; over it: 414)\n"
"  --max-body SIZE                request body (0: no limit; over it: 413)\n"
"Timeouts (DURATION: 500ms, 10s, 2m: the unit is required):\n"
"  --timeout-header DURATION      client request headers (10s)\n"
"  --timeout-idle DURATION        client keep-alive idle (60s)\n"
"  --timeout-client DURATION      client silent mid-body, or taking none of our\n"
"                                 bytes (30s)\n"
"  --timeout-body DURATION        a whole request body (5m; then 408)\n"
"  --min-body-rate BYTES/s[:WINDOW]\n"
"                                 a request body slower than that over a WINDOW\n"
"                                 (10s): 408 (slow POST; 0: none, the default)\n"
"  --timeout-connect DURATION     connecting to a server (3s; then 504)\n"
"  --timeout-server DURATION      server response (30s; then 504)\n"
"  --timeout-pool DURATION        idle server connections are closed after (4s)\n"
"Step 3, security checks (a WAF: libmodsecurity3):\n"
"  --waf [MATCH=]off|detect|block judge requests for SQLi and XSS (off): detect\n"
"                                 logs, block answers 403; MATCH=: a route's mode\n"
"  --waf-rules l7lab|crs|FILE     the rule set (l7lab; crs: OWASP Core Rule Set)\n"
"  --waf-paranoia N               how strict, 1 to 4 (1)\n"
"  --waf-body-limit SIZE          body bytes inspected; the rest streams (64k)\n"
"Step 4:\n"
"  --server-keepalive N           idle connections kept per server (32)\n"
"  --source ADDR                  bind server-side sockets to ADDR\n"
"Step 6, retries (PERCENT: 20 or 20%%):\n"
"  --retries N                    another server after a failure before the\n"
"                                 response, if the request can be sent again (1)\n"
"  --retry-on STATUS[,STATUS...]  e.g. 502,503,504: such a response to a request\n"
"                                 without a body is dropped and retried elsewhere\n"
"  --retry-budget PERCENT         retries in flight at most this share of the\n"
"                                 pool's first attempts in flight (20%%)\n"
"  --retry-budget-min N           ... but always this many (3)\n"
"  --retry-backoff BASE[:CAP]     wait a random time up to BASE x 2^(retry-1),\n"
"                                 at most CAP, before a retry (25ms:250ms; 0: none)\n"
"  --timeout-attempt DURATION     one attempt, to the response head (0: none)\n"
"  --timeout-request DURATION     every attempt and backoff together (0: none)\n"
"  --ewma-decay DURATION          how fast ewma forgets response times (3s)\n"
"Step 6, data-leak prevention (text, HTML, JSON responses):\n"
"  --dlp off|detect|mask|block    card numbers, SSNs, API keys (off); mask keeps\n"
"                                 the length and last 4; block answers 502\n"
"  --dlp-types all|TYPE[,TYPE...] card, ssn, aws-key, secret (all)\n"
"  --dlp-block-limit SIZE         block: body held for the verdict (1M)\n"
"  --dlp-over-limit mask|block    block mode, a body over the limit (mask)\n"
"  --dlp-compressed pass|block    a compressed response: forward it unscanned, or\n"
"                                 502 (pass; the proxy asks for identity)\n"
"Step 6, health (outlier ejection and active checks):\n"
"  --max-fails N                  failures in a row that eject a server (3; 0: never)\n"
"  --fail-timeout DURATION        its first ejection; each next one longer (10s)\n"
"  --fail-timeout-max DURATION    the longest ejection (5m)\n"
"  --max-ejected PERCENT          of a pool ejected at once, never the last (50%%)\n"
"  --health-check PATH            GET PATH on every server every interval\n"
"  --health-interval DURATION     between checks (2s)\n"
"  --health-timeout DURATION      a check's answer, at most (1s)\n"
"  --health-rise N, --health-fall N\n"
"                                 passes (2) or failures (3) in a row: up or down\n"
"Observability:\n"
"  --name NAME                    in Via and Forwarded by= (l7lab)\n"
"  --return-request-id on|off     X-Request-ID on every response (on)\n"
"  --access-log FILE              one line per request (default: stderr)\n"
"  --log-format text|json         the access log's lines: text (default) or JSON\n"
"  --events FILE                  JSON lines, one per step event ('-': stdout;\n"
"                                 the 'listening' lines go to stderr then)\n"
"  --pace DURATION                wait before each step, for live demos (0)\n"
"  -v, --verbose                  debug messages (-vv: more)\n"
"  --quiet                        no access log\n"
"  --seed N                       seed for random and ewma (default: the clock)\n"
"  --admin ADDR:PORT              serve /stats (JSON), /metrics (Prometheus) and\n"
"                                 a live dashboard at / there (off by default)\n"
"Other:\n"
"  -c, --config FILE              read directives from FILE (later flags override)\n"
"  --check                        check the configuration, print it resolved, exit\n"
"  -h, --help, --version\n"
"\n"
"SIGHUP reopens the --access-log and --events files (after logrotate);\n"
"SIGUSR1 prints each server's counters on stderr.\n"
"Exit status: 0 after SIGINT/SIGTERM or --check, 2 for a bad flag or file.\n"
"See proxy(1) and proxy.conf(5).\n");
}

void config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = 10000;
	cfg->max_header = 16 * 1024;
	cfg->max_target = 8 * 1024;
	cfg->timeout_header = 10000;
	cfg->timeout_idle = 60000;
	cfg->timeout_client = 30000;
	cfg->timeout_body = 300000;
	cfg->timeout_connect = 3000;
	cfg->timeout_server = 30000;
	cfg->timeout_pool = 4000;
	cfg->server_keepalive = 32;
	cfg->retries = 1;
	cfg->retry_budget = 20;
	cfg->retry_budget_min = 3;
	cfg->backoff_ms = 25;
	cfg->backoff_max_ms = 250;
	cfg->max_fails = 3;
	cfg->fail_timeout = 10000;
	cfg->fail_timeout_max = 300000;
	cfg->max_ejected = 50;
	cfg->health_interval = 2000;
	cfg->health_timeout = 1000;
	cfg->health_rise = 2;
	cfg->health_fall = 3;
	cfg->ewma_decay = LB_EWMA_DECAY_MS;
	iplimit_config_init(&cfg->per_ip);
	cfg->min_body_window = 10000;
	cfg->name = xstrdup("l7lab");
	cfg->return_id = true;
	cfg->waf_rules = xstrdup("l7lab");
	cfg->waf_paranoia = 1;
	cfg->waf_body_limit = 64 * 1024;
	dlp_config_init(&cfg->dlp);
}

int config_parse_args(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	struct parse p = { .cfg = cfg, .err = err, .errlen = errlen };
	char *where = NULL, *v = NULL;
	int rc = 0;

	config_init(cfg);
	for (int i = 1; rc == 0 && i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t len = eq ? (size_t)(eq - a) : strlen(a);
		free(where);
		if ((where = strndup(a, len)) == NULL)
			fatal("out of memory reading the configuration");
		for (char *c = where; *c; c++) *c = (unsigned char)*c < ' ' || *c == 0x7f ? '?' : *c;   /* as fail() */
		p.where = where;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0 || strcmp(a, "--version") == 0) {
			bool version = a[2] == 'v';
			free(where);
			free(v);
			config_free(cfg);
			if (version)
				cli_version();
			usage(stdout);
			exit(fflush(stdout) == 0 ? 0 : 2);
		} else if (a[0] == '-' && a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
			cfg->verbose += (int)strlen(a + 1);
			continue;
		} else if (strcmp(a, "--verbose") == 0) {   /* as in the other tools; --verbose=N sets N */
			cfg->verbose++;
			continue;
		} else if (strcmp(a, "--check") == 0) {
			cfg->check_only = true;
			continue;
		}
		bool config = strcmp(where, "-c") == 0 || strcmp(where, "--config") == 0;
		const struct directive *d = NULL;
		if (!config && (strncmp(a, "--", 2) != 0 || (d = find_directive(a + 2, len - 2)) == NULL)) {
			snprintf(err, errlen, a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", where);
			rc = -1;
			break;
		}
		if (d != NULL && d->arg == NULL) {
			if (eq != NULL) {
				snprintf(err, errlen, "%s takes no value", where);
				rc = -1;
			} else {
				rc = apply(&p, d, NULL);
			}
			continue;
		}
		const char *val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
		if (val == NULL) {
			snprintf(err, errlen, "%s needs a value", where);
			rc = -1;
			break;
		}
		free(v);
		v = xstrdup(val);           /* setters cut their argument in pieces */
		if (config) {
			free(cfg->file);
			cfg->file = xstrdup(val);
			p.source++;
			if (load_file(&p, val) < 0)
				rc = -2;
			p.source++;
		} else {
			rc = apply(&p, d, v);
		}
	}
	free(where);
	free(v);
	if (rc == 0)
		rc = config_finish(cfg, err, errlen);
	return rc;
}

void config_from_args(struct config *cfg, int argc, char **argv)
{
	char err[512];
	int rc = config_parse_args(cfg, argc, argv, err, sizeof(err));
	if (rc < 0)
		config_free(cfg);
	if (rc == -1)
		usage_error("%s", err);
	if (rc < 0)
		fatal("%s", err);
	log_verbose = cfg->verbose;
}

/* --waf MATCH=MODE: every route written MATCH takes MODE (a later one wins). */
static int apply_waf_routes(struct parse *p)
{
	struct config *cfg = p->cfg;
	int rc = 0;
	for (size_t i = 0; i < cfg->nwaf_routes; i++) {
		struct waf_route *w = &cfg->waf_routes[i];
		bool found = false;
		for (size_t j = 0; j < cfg->nroutes; j++)
			if (strcmp(cfg->routes[j].match, w->match) == 0) {
				cfg->routes[j].waf_set = true;
				cfg->routes[j].waf = w->mode;
				found = true;
			}
		if (!found && rc == 0) {
			p->where = w->where;
			rc = fail(p, "no route '%s' to set the WAF mode of (the MATCH of a route, as written)", w->match);
		}
	}
	return rc;
}

int config_finish(struct config *cfg, char *err, size_t errlen)
{
	/* Errors name the place the pool or route was written; -2 for a file. */
	struct parse p = { .cfg = cfg, .err = err, .errlen = errlen };
	for (size_t i = 0; i < cfg->npools; i++) {
		struct pool *pl = &cfg->pools[i];
		if (pl->nservers == 0) {
			p.where = pl->where;
			fail(&p, pl->defined ? "no servers in pool '%s'" : "no pool named '%s'", pl->name);
			return p.where[0] == '-' ? -1 : -2;
		}
	}
	for (size_t i = 0; i < cfg->nroutes; i++) {
		struct route *r = &cfg->routes[i];
		if ((r->pool = config_pool(cfg, r->pool_name)) == NULL) {
			p.where = r->where;
			fail(&p, "route %s: no pool named '%s'", r->match, r->pool_name);
			return p.where[0] == '-' ? -1 : -2;
		}
	}
	if (apply_waf_routes(&p) < 0)
		return p.where[0] == '-' ? -1 : -2;
	if (cfg->npools == 0) {
		snprintf(err, errlen, "no servers: give --backend ADDR:PORT, --pool, or -c FILE");
		return -1;
	}
	if (cfg->nlisteners == 0) {
		snprintf(err, errlen, "nothing to listen on: give --listen ADDR:PORT");
		return -1;
	}
	if (!cfg->seed_set)
		cfg->seed = ev_wall_ns() ^ ((uint64_t)getpid() << 32);
	for (size_t i = 0; i < cfg->npools; i++) {
		rng_seed(&cfg->pools[i].rng, cfg->seed + i * 0x632BE59BD9B4E019u);
		if (lb_prepare(&cfg->pools[i], cfg->ewma_decay) < 0)
			fatal("out of memory reading the configuration");
	}
	return 0;
}

/* ---- printing ------------------------------------------------------------------ */

char *config_ms_str(uint64_t ms, char out[24])
{
	if (ms == 0)
		snprintf(out, 24, "0");
	else if (ms % 1000 == 0)
		snprintf(out, 24, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(out, 24, "%llums", (unsigned long long)ms);
	return out;
}

static void print_size(FILE *out, uint64_t n)
{
	if (n != 0 && n % (1024 * 1024) == 0)
		fprintf(out, "%lluM", (unsigned long long)(n >> 20));
	else if (n != 0 && n % 1024 == 0)
		fprintf(out, "%lluk", (unsigned long long)(n >> 10));
	else
		fprintf(out, "%llu", (unsigned long long)n);
}

static void print_cidrs(FILE *out, const char *word, const struct cidr *c, size_t n)
{
	char ip[INET6_ADDRSTRLEN];
	for (size_t i = 0; i < n; i++)
		if (inet_ntop(c[i].family, c[i].net, ip, sizeof(ip)) != NULL)
			fprintf(out, "%s %s/%u\n", word, ip, c[i].prefix);
}

/* s as one word of the file: as it is when split() reads it back so, else
 * in double quotes, escaped (unescape() reads it back). */
static void print_word(FILE *out, const char *s)
{
	bool plain = *s != '\0' && *s != '#' && strcmp(s, "{") != 0 && strcmp(s, "}") != 0;
	for (const char *c = s; plain && *c; c++)
		plain = (unsigned char)*c > ' ' && *c != 0x7f && *c != '"';
	if (plain) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c == '"' || *c == '\\')
			fprintf(out, "\\%c", *c);
		else if (*c == '\n' || *c == '\r' || *c == '\t')
			fprintf(out, "\\%c", *c == '\n' ? 'n' : *c == '\r' ? 'r' : 't');
		else if (*c < ' ' || *c == 0x7f)
			fprintf(out, "\\x%02x", *c);
		else
			fputc(*c, out);
	fputc('"', out);
}

/* The WAF's and DLP's lines, when either is on (off, they print nothing:
 * the defaults of a proxy that inspects nothing). */
static void print_security(const struct config *cfg, FILE *out)
{
	const struct dlp_config *d = &cfg->dlp;
	if (config_waf_used(cfg)) {
		fprintf(out, "waf %s\nwaf-rules ", waf_modes[cfg->waf]);
		print_word(out, cfg->waf_rules);
		fprintf(out, "\nwaf-paranoia %u\nwaf-body-limit ", cfg->waf_paranoia);
		print_size(out, cfg->waf_body_limit);
		fputc('\n', out);
	}
	if (d->mode == DLP_OFF)
		return;
	fprintf(out, "dlp %s\ndlp-types ", dlp_mode_name(d->mode));
	if (d->types == DLP_ALL_TYPES)
		fprintf(out, "all");
	for (int t = 0; t < DLP_NTYPES && d->types != DLP_ALL_TYPES; t++)
		if (d->types & DLP_TYPE_BIT(t))
			fprintf(out, "%s%s", d->types & (DLP_TYPE_BIT(t) - 1) ? "," : "", dlp_type_name((enum dlp_type)t));
	fprintf(out, "\ndlp-block-limit ");
	print_size(out, d->block_limit);
	fprintf(out, "\ndlp-over-limit %s\ndlp-compressed %s\n", d->block_over_limit ? "block" : "mask",
	        d->block_unreadable ? "block" : "pass");
}

/* The per-client limits and the body rate, when any is set. */
static void print_per_ip(const struct config *cfg, FILE *out)
{
	const struct iplimit_config *l = &cfg->per_ip;
	char r[LIMIT_RATE_STRLEN], d[24];
	if (l->max_conns > 0)
		fprintf(out, "max-conns-per-ip %u\n", l->max_conns);
	if (l->conn_rate.interval_ns > 0)
		fprintf(out, "conn-rate-per-ip %s\n", limit_rate_format(&l->conn_rate, r));
	if (l->req_rate.interval_ns > 0)
		fprintf(out, "req-rate-per-ip %s\n", limit_rate_format(&l->req_rate, r));
	if (iplimit_enabled(l) || l->prefix4 != LIMITS_PREFIX4_DEFAULT || l->prefix6 != LIMITS_PREFIX6_DEFAULT)
		fprintf(out, "ip-prefix4 %u\nip-prefix6 %u\n", l->prefix4, l->prefix6);
	if (cfg->min_body_rate > 0) {
		fprintf(out, "min-body-rate ");
		print_size(out, cfg->min_body_rate);
		fprintf(out, "/s:%s\n", config_ms_str(cfg->min_body_window, d));
	}
}

void config_print(const struct config *cfg, FILE *out)
{
	char a[ADDR_STRLEN], buf[24];

	fprintf(out, "# proxy configuration, resolved (proxy.conf(5) syntax)\n");
	for (size_t i = 0; i < cfg->nlisteners; i++)
		fprintf(out, "listen %s\n", addr_format(&cfg->listeners[i].addr, a));
	print_cidrs(out, "allow", cfg->allow, cfg->nallow);
	print_cidrs(out, "deny", cfg->deny, cfg->ndeny);
	for (size_t i = 0; i < NDIRECTIVES; i++) {
		const struct directive *d = &directives[i];
		const char *field = (const char *)cfg + d->off;
		uint64_t n;
		memcpy(&n, field, sizeof(n));
		switch (d->type) {
		case T_FN:
			break;
		case T_COUNT: fprintf(out, "%s %llu\n", d->name, (unsigned long long)n); break;
		case T_SIZE:  fprintf(out, "%s ", d->name); print_size(out, n); fputc('\n', out); break;
		case T_MS:    fprintf(out, "%s %s\n", d->name, config_ms_str(n, buf)); break;
		case T_PCT:   fprintf(out, "%s %llu%%\n", d->name, (unsigned long long)n); break;
		case T_STR:
			if (*(char *const *)field != NULL) {
				fprintf(out, "%s ", d->name);
				print_word(out, *(char *const *)field);
				fputc('\n', out);
			}
			break;
		case T_BOOL:
			if (*(const bool *)field)
				fprintf(out, "%s\n", d->name);
			break;
		}
	}
	if (cfg->has_source)
		fprintf(out, cfg->source.ss.ss_family == AF_INET6 && !addr_port(&cfg->source) ? "source [%s]\n" : "source %s\n",
		        addr_port(&cfg->source) ? addr_format(&cfg->source, a) : addr_format_ip(&cfg->source, a));
	if (cfg->has_admin)
		fprintf(out, "admin %s\n", addr_format(&cfg->admin, a));
	print_per_ip(cfg, out);
	fprintf(out, "name %s\n", cfg->name);
	if (!cfg->return_id)
		fprintf(out, "return-request-id off\n");
	const char *sep = "retry-on ";
	for (int st = 400; st < 600; st++)
		if (cfg->retry_on[st - 400]) {
			fprintf(out, "%s%d", sep, st);
			sep = ",";
		}
	if (sep[0] == ',')
		fputc('\n', out);
	fprintf(out, "retry-backoff %s", config_ms_str(cfg->backoff_ms, buf));
	fprintf(out, ":%s\n", config_ms_str(cfg->backoff_max_ms, buf));
	if (cfg->health_check != NULL) {
		fputs("health-check ", out);
		print_word(out, cfg->health_check);   /* '#' or '"' come back quoted */
		fputc('\n', out);
	}
	if (cfg->log_json)
		fprintf(out, "log-format json\n");
	if (cfg->verbose > 0)
		fprintf(out, "verbose %d\n", cfg->verbose > 3 ? 3 : cfg->verbose);
	if (cfg->seed_set)
		fprintf(out, "seed %llu\n", (unsigned long long)cfg->seed);
	print_security(cfg, out);
	for (size_t i = 0; i < cfg->npools; i++) {
		const struct pool *pl = &cfg->pools[i];
		char spec[BALANCE_STRLEN];
		fprintf(out, "\npool %s {\n\tbalance %s\n", pl->name, balance_spec(pl, spec));
		for (size_t j = 0; j < pl->nservers; j++) {
			const struct server *s = &pl->servers[j];
			addr_format(&s->addr, a);
			fprintf(out, "\tserver%s%s %s weight %u\n", strcmp(s->name, a) ? " " : "",
			        strcmp(s->name, a) ? s->name : "", a, s->weight);
		}
		fprintf(out, "}\n");
	}
	if (cfg->nroutes > 0)
		fputc('\n', out);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct route *r = &cfg->routes[i];
		fputs("route ", out);
		print_word(out, r->match);
		fprintf(out, " %s", r->pool_name);
		fprintf(out, r->waf_set ? " waf %s\n" : "\n", waf_modes[r->waf]);
	}
	if (config_pool(cfg, DEFAULT_POOL) == NULL)
		fprintf(out, "# no pool 'default': requests no route matches get 503\n");
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->npools; i++) {
		for (size_t j = 0; j < cfg->pools[i].nservers; j++)
			free(cfg->pools[i].servers[j].name);
		lb_release(&cfg->pools[i]);
		free(cfg->pools[i].servers);
		free(cfg->pools[i].hash_header);
		free(cfg->pools[i].name);
		free(cfg->pools[i].where);
	}
	for (size_t i = 0; i < cfg->nroutes; i++) {
		struct route *r = &cfg->routes[i];
		free(r->match);
		free(r->name);
		free(r->value);
		free(r->pool_name);
		free(r->where);
	}
	for (size_t i = 0; i < cfg->nwaf_routes; i++) {
		free(cfg->waf_routes[i].match);
		free(cfg->waf_routes[i].where);
	}
	free(cfg->waf_routes);
	free(cfg->waf_rules);
	free(cfg->pools);
	free(cfg->routes);
	free(cfg->listeners);
	free(cfg->allow);
	free(cfg->deny);
	free(cfg->name);
	free(cfg->access_log);
	free(cfg->events);
	free(cfg->file);
	free(cfg->health_check);
	memset(cfg, 0, sizeof(*cfg));
}
