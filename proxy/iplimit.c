/*
 * iplimit.c - STEP 1: per-client limits (iplimit.h says what and why).
 *
 * The table: max_clients groups in one array, chained from a power-of-two
 * array of bucket heads by SipHash-1-3 of the group's masked address (a
 * keyed hash: a client cannot aim its addresses at one chain).  Groups
 * with no open connection also sit on an idle list, least recently used
 * first; a new group takes a free slot, else the head of that list.
 * Indices, not pointers, link everything (NIL ends a list).
 */
#include "iplimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define NIL              UINT32_MAX
#define MAX_GROUPS       (1u << 24)
#define NS_PER_S         1000000000ull
#define RATE_MAX         1000000u

struct group {
	unsigned char key[16];       /* the address, masked to its prefix; IPv4 as ::ffff:a.b.c.d */
	uint32_t next;               /* hash chain, or the free list                          */
	uint32_t older, newer;       /* idle list (open == 0 only)                            */
	uint32_t open;               /* connections open now                                  */
	uint64_t conn_tat, req_tat;  /* GCRA: when each bucket is next "full"                 */
};

struct iplimit {
	struct iplimit_config cfg;
	uint64_t k0, k1;             /* hash key                                              */
	struct group *g;
	uint32_t *bucket;
	uint32_t mask;               /* buckets - 1                                           */
	uint32_t free;               /* never-used slots, by next                             */
	uint32_t oldest, newest;     /* the idle list's ends                                  */
	struct iplimit_stats st;
};

/* ---- configuration --------------------------------------------------------- */

void iplimit_config_init(struct iplimit_config *cfg)
{
	*cfg = (struct iplimit_config){ .prefix4 = LIMITS_PREFIX4_DEFAULT, .prefix6 = LIMITS_PREFIX6_DEFAULT,
	                               .max_clients = LIMITS_CLIENTS_DEFAULT };
}

bool iplimit_enabled(const struct iplimit_config *cfg)
{
	return cfg->max_conns > 0 || cfg->conn_rate.interval_ns > 0 || cfg->req_rate.interval_ns > 0;
}

/* A whole number in [1, RATE_MAX] at *s, which moves past it. */
static bool rate_number(const char **s, uint32_t *out)
{
	uint64_t v = 0;
	const char *p = *s;
	while (*p >= '0' && *p <= '9' && v <= RATE_MAX)
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p == *s || v < 1 || v > RATE_MAX)
		return false;
	*out = (uint32_t)v;
	*s = p;
	return true;
}

int limit_rate_parse(const char *s, struct limit_rate *out, const char **why)
{
	uint32_t n, burst = 0;
	uint64_t unit;
	if (strcmp(s, "0") == 0) {
		*out = (struct limit_rate){ 0, 0 };
		return 0;
	}
	*why = "a rate is R/s, R/m or R/h, optionally with a burst (10/s:20), R and burst 1-1000000";
	if (!rate_number(&s, &n) || *s++ != '/')
		return -1;
	switch (*s++) {
	case 's': unit = NS_PER_S; break;
	case 'm': unit = 60 * NS_PER_S; break;
	case 'h': unit = 3600 * NS_PER_S; break;
	default: return -1;
	}
	if (*s == ':' && (++s, !rate_number(&s, &burst)))
		return -1;
	if (*s != '\0')
		return -1;
	out->interval_ns = unit / n;
	if (burst == 0) {
		uint64_t per_s = NS_PER_S / out->interval_ns;
		burst = per_s < 1 ? 1 : (uint32_t)per_s;
	}
	out->burst = burst;
	return 0;
}

char *limit_rate_format(const struct limit_rate *r, char out[LIMIT_RATE_STRLEN])
{
	static const struct { char unit; uint64_t ns; } units[] = { { 's', NS_PER_S }, { 'm', 60 * NS_PER_S },
	                                                            { 'h', 3600 * NS_PER_S } };
	snprintf(out, LIMIT_RATE_STRLEN, "0");
	for (size_t i = 0; r->interval_ns > 0 && i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = units[i].ns / r->interval_ns;   /* the parse's interval is unit / n */
		if (n >= 1 && n <= RATE_MAX && units[i].ns / n == r->interval_ns) {
			snprintf(out, LIMIT_RATE_STRLEN, "%llu/%c:%u", (unsigned long long)n, units[i].unit, r->burst);
			break;
		}
	}
	return out;
}

const char *limit_verdict_name(enum limit_verdict v)
{
	switch (v) {
	case LIMIT_OK:        return "ok";
	case LIMIT_CONNS:     return "max-conns-per-ip";
	case LIMIT_CONN_RATE: return "conn-rate-per-ip";
	case LIMIT_REQ_RATE:  return "req-rate-per-ip";
	case LIMIT_FULL:      return "client table full";
	}
	return "?";
}

/* ---- keys and hashing -------------------------------------------------------- */

/* Keeps the first bits bits of p[0..n) and zeroes the rest. */
static void keep_bits(unsigned char *p, size_t n, unsigned bits)
{
	for (size_t i = 0; i < n; i++) {
		unsigned have = bits > 8 * i ? bits - 8 * (unsigned)i : 0;
		if (have < 8)
			p[i] &= (unsigned char)(0xff00u >> have);
	}
}

/* The group a belongs to: IPv4 (and IPv4-mapped IPv6) as ::ffff:a.b.c.d
 * masked to prefix4 bits of the IPv4 part; IPv6 masked to prefix6. */
static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void group_key(const struct iplimit *l, const struct addr *a, unsigned char key[16])
{
	memset(key, 0, 16);
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
		memcpy(key, mapped, 12);
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
		memcpy(key, &in6->sin6_addr, 16);
		if (memcmp(key, mapped, 12) != 0) {
			keep_bits(key, 16, l->cfg.prefix6);
			return;
		}
	} else {
		return;   /* not TCP/IP: one group for all */
	}
	keep_bits(key + 12, 4, l->cfg.prefix4);
}

char *iplimit_group_format(const struct iplimit *l, const struct addr *a, char out[IPLIMIT_GROUP_STRLEN])
{
	unsigned char key[16];
	char ip[INET6_ADDRSTRLEN];
	bool v6 = a->ss.ss_family == AF_INET6 &&
	          memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr, mapped, 12) != 0;
	group_key(l, a, key);
	if (inet_ntop(v6 ? AF_INET6 : AF_INET, v6 ? key : key + 12, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(out, IPLIMIT_GROUP_STRLEN, "%s/%u", ip, v6 ? l->cfg.prefix6 : l->cfg.prefix4);
	return out;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ROTL(v[1], 13); v[1] ^= v[0]; v[0] = ROTL(v[0], 32);
	v[2] += v[3]; v[3] = ROTL(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ROTL(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ROTL(v[1], 17); v[1] ^= v[2]; v[2] = ROTL(v[2], 32);
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* SipHash-1-3 of a 16-byte key (one compression round per word, three to
 * finish): fast, and unpredictable without k0 and k1. */
static uint32_t hash(const struct iplimit *l, const unsigned char key[16])
{
	uint64_t v[4] = { l->k0 ^ 0x736f6d6570736575ull, l->k1 ^ 0x646f72616e646f6dull,
	                  l->k0 ^ 0x6c7967656e657261ull, l->k1 ^ 0x7465646279746573ull };
	for (int i = 0; i < 2; i++) {
		uint64_t m = le64(key + 8 * i);
		v[3] ^= m;
		sipround(v);
		v[0] ^= m;
	}
	uint64_t last = (uint64_t)16 << 56;
	v[3] ^= last;
	sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	return (uint32_t)(v[0] ^ v[1] ^ v[2] ^ v[3]) & l->mask;
}

/* ---- the table ------------------------------------------------------------- */

struct iplimit *iplimit_new(const struct iplimit_config *cfg, const unsigned char key[16])
{
	if (cfg->max_clients == 0 || cfg->max_clients > MAX_GROUPS || cfg->prefix4 > 32 || cfg->prefix6 > 128)
		return NULL;
	struct iplimit *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->cfg = *cfg;
	uint32_t nb = 1;
	while (nb < cfg->max_clients)
		nb <<= 1;
	l->mask = nb - 1;
	/* calloc: pages are only touched as groups are used. */
	l->g = calloc(cfg->max_clients, sizeof(*l->g));
	l->bucket = malloc(nb * sizeof(*l->bucket));
	if (l->g == NULL || l->bucket == NULL) {
		iplimit_free(l);
		return NULL;
	}
	for (uint32_t i = 0; i < nb; i++)
		l->bucket[i] = NIL;
	for (uint32_t i = 0; i < cfg->max_clients; i++)
		l->g[i].next = i + 1 < cfg->max_clients ? i + 1 : NIL;
	l->free = 0;
	l->oldest = l->newest = NIL;
	if (key != NULL) {
		l->k0 = le64(key);
		l->k1 = le64(key + 8);
	}
	return l;
}

void iplimit_free(struct iplimit *l)
{
	if (l == NULL)
		return;
	free(l->g);
	free(l->bucket);
	free(l);
}

static void idle_unlink(struct iplimit *l, uint32_t i)
{
	struct group *g = &l->g[i];
	if (g->older != NIL)
		l->g[g->older].newer = g->newer;
	else
		l->oldest = g->newer;
	if (g->newer != NIL)
		l->g[g->newer].older = g->older;
	else
		l->newest = g->older;
}

static void idle_append(struct iplimit *l, uint32_t i)
{
	struct group *g = &l->g[i];
	g->older = l->newest;
	g->newer = NIL;
	if (l->newest != NIL)
		l->g[l->newest].newer = i;
	else
		l->oldest = i;
	l->newest = i;
}

/* Takes slot i out of its hash chain. */
static void chain_unlink(struct iplimit *l, uint32_t i)
{
	uint32_t *p = &l->bucket[hash(l, l->g[i].key)];
	while (*p != i)
		p = &l->g[*p].next;
	*p = l->g[i].next;
}

/* The group of a, created when new (evicting the idle group that waited
 * longest if the table is full), or NULL when every group has connections
 * open.  An idle group it returns moves to the newest end of the list. */
static struct group *group_get(struct iplimit *l, const struct addr *a)
{
	unsigned char key[16];
	group_key(l, a, key);
	uint32_t h = hash(l, key);
	for (uint32_t i = l->bucket[h]; i != NIL; i = l->g[i].next)
		if (memcmp(l->g[i].key, key, 16) == 0) {
			if (l->g[i].open == 0) {
				idle_unlink(l, i);
				idle_append(l, i);
			}
			return &l->g[i];
		}
	uint32_t i = l->free;
	if (i != NIL) {
		l->free = l->g[i].next;
	} else if ((i = l->oldest) != NIL) {
		idle_unlink(l, i);
		chain_unlink(l, i);
		l->st.evicted++;
		l->st.groups--;
	} else {
		return NULL;
	}
	struct group *g = &l->g[i];
	*g = (struct group){ .open = 0 };
	memcpy(g->key, key, 16);
	g->next = l->bucket[h];
	l->bucket[h] = i;
	idle_append(l, i);
	l->st.groups++;
	return g;
}

static struct group *group_find(const struct iplimit *l, const struct addr *a)
{
	unsigned char key[16];
	group_key(l, a, key);
	for (uint32_t i = l->bucket[hash(l, key)]; i != NIL; i = l->g[i].next)
		if (memcmp(l->g[i].key, key, 16) == 0)
			return &l->g[i];
	return NULL;
}

/* GCRA, the token bucket as one timestamp: an event at now conforms if
 * the bucket's "full again" time is at most burst-1 intervals ahead; then
 * it moves one interval on.  Otherwise *wait_ns says how long to wait. */
static bool take(uint64_t *tat, const struct limit_rate *r, uint64_t now, uint64_t *wait_ns)
{
	if (r->interval_ns == 0)
		return true;
	uint64_t t = *tat > now ? *tat : now;
	uint64_t tolerance = (uint64_t)(r->burst - 1) * r->interval_ns;
	if (t - now > tolerance) {
		*wait_ns = t - now - tolerance;
		return false;
	}
	*tat = t + r->interval_ns;
	return true;
}

static unsigned whole_seconds(uint64_t ns)
{
	uint64_t s = (ns + NS_PER_S - 1) / NS_PER_S;
	return s < 1 ? 1 : s > UINT32_MAX ? UINT32_MAX : (unsigned)s;
}

static enum limit_verdict refuse(struct iplimit *l, enum limit_verdict v, unsigned *wait_s, unsigned w)
{
	l->st.refused[v]++;
	if (wait_s != NULL)
		*wait_s = w;
	return v;
}

enum limit_verdict iplimit_connect(struct iplimit *l, const struct addr *a, uint64_t now_ns, unsigned *wait_s)
{
	struct group *g = group_get(l, a);
	uint64_t wait_ns;
	if (g == NULL)
		return refuse(l, LIMIT_FULL, wait_s, 0);
	if (l->cfg.max_conns > 0 && g->open >= l->cfg.max_conns)
		return refuse(l, LIMIT_CONNS, wait_s, 0);
	if (!take(&g->conn_tat, &l->cfg.conn_rate, now_ns, &wait_ns))
		return refuse(l, LIMIT_CONN_RATE, wait_s, whole_seconds(wait_ns));
	if (g->open++ == 0)
		idle_unlink(l, (uint32_t)(g - l->g));
	if (wait_s != NULL)
		*wait_s = 0;
	return LIMIT_OK;
}

void iplimit_disconnect(struct iplimit *l, const struct addr *a)
{
	struct group *g = group_find(l, a);
	if (g == NULL || g->open == 0)
		return;   /* not counted: a caller's bug, but not worth a crash */
	if (--g->open == 0)
		idle_append(l, (uint32_t)(g - l->g));
}

enum limit_verdict iplimit_request(struct iplimit *l, const struct addr *a, uint64_t now_ns, unsigned *wait_s)
{
	struct group *g = group_get(l, a);
	uint64_t wait_ns;
	if (g == NULL)
		return refuse(l, LIMIT_FULL, wait_s, 0);
	if (!take(&g->req_tat, &l->cfg.req_rate, now_ns, &wait_ns))
		return refuse(l, LIMIT_REQ_RATE, wait_s, whole_seconds(wait_ns));
	if (wait_s != NULL)
		*wait_s = 0;
	return LIMIT_OK;
}

uint32_t iplimit_open(const struct iplimit *l, const struct addr *a)
{
	const struct group *g = group_find(l, a);
	return g ? g->open : 0;
}

void iplimit_get_stats(const struct iplimit *l, struct iplimit_stats *st)
{
	*st = l->st;
}
