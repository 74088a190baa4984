/*
 * lb.c - step 3, part two: which server of the pool (lb.h), and a line
 * saying why, for the access log and the tracer.
 *
 * Most algorithms are a scan of the pool: pools hold a handful of servers,
 * and a scan keeps the state a student must follow down to a few numbers
 * per server (current_weight, inflight, the EWMA).  Hashing looks its key
 * up on a ring built once, at start.
 */
#include "lb.h"

#include <math.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WHY_SERVERS 4           /* servers a why line names; the rest are counted */
#define WHY_KEY     40          /* bytes of a hash key a why line shows            */
#define RING_POINTS 400         /* ring points per unit of weight: shares within ~5% */
#define RING_MAX    65536       /* at most this many points in a pool              */

/* s carries less load than t for its weight: s->inflight / s->weight <
 * t->inflight / t->weight, cross-multiplied to stay in integers. */
static bool lighter(const struct server *s, const struct server *t)
{
	return (uint64_t)s->inflight * t->weight < (uint64_t)t->inflight * s->weight;
}

static bool same_load(const struct server *s, const struct server *t)
{
	return !lighter(s, t) && !lighter(t, s);
}

static bool weights_differ(const struct pool *pool)
{
	for (size_t i = 1; i < pool->nservers; i++)
		if (pool->servers[i].weight != pool->servers[0].weight)
			return true;
	return false;
}

/* Smooth weighted round robin, nginx's: each candidate gains its weight,
 * the one with the most current weight wins and pays back the total of
 * the candidates.  Weights 5,1,1 give a a b a c a a.  Candidates are the
 * servers not skipped and, when like is not NULL, as loaded as like. */
static struct server *swrr(struct pool *pool, const struct server *like)
{
	struct server *best = NULL;
	long total = 0;
	for (size_t i = 0; i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		if (s->skip || (like != NULL && !same_load(s, like)))
			continue;
		s->current_weight += s->weight;
		total += s->weight;
		if (best == NULL || s->current_weight > best->current_weight)
			best = s;
	}
	best->current_weight -= total;
	return best;
}

/* Draws a server at random, by weight, leaving out skip (NULL: none) and
 * those marked to skip. */
static struct server *draw(struct pool *pool, const struct server *skip)
{
	uint64_t total = 0, r;
	for (size_t i = 0; i < pool->nservers; i++)
		if (&pool->servers[i] != skip && !pool->servers[i].skip)
			total += pool->servers[i].weight;
	r = rng_below(&pool->rng, total);
	for (size_t i = 0; i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		if (s == skip || s->skip)
			continue;
		if (r < s->weight)
			return s;
		r -= s->weight;
	}
	return NULL;            /* not reached: r < total */
}

/* Appends "b1: 0 in flight, b2: 0" (sep ": ", unit " in flight") or
 * "b2 0, b1 1" (sep " ", unit "") to why: first (if not NULL) first, then
 * the others in pool order, at most WHY_SERVERS, weights when they differ. */
static void list_servers(struct buf *why, const struct pool *pool, const struct server *first,
                         const char *sep, const char *unit)
{
	bool weights = weights_differ(pool);
	size_t shown = 0;
	for (size_t i = 0; i <= pool->nservers && shown < WHY_SERVERS; i++) {
		/* i == 0 is first; then the others in pool order */
		const struct server *s = i == 0 ? first : &pool->servers[i - 1];
		if (s == NULL || (i > 0 && s == first))
			continue;
		(void)buf_puts(why, shown ? ", " : "");
		(void)buf_puts(why, s->name);
		if (weights) {
			(void)buf_puts(why, " w");
			(void)buf_put_uint(why, s->weight);
		}
		(void)buf_puts(why, sep);
		(void)buf_put_uint(why, s->inflight);
		(void)buf_puts(why, shown++ ? "" : unit);
	}
	if (pool->nservers > shown) {
		(void)buf_puts(why, ", +");
		(void)buf_put_uint(why, pool->nservers - shown);
		(void)buf_puts(why, " more");
	}
}

static struct server *pick_roundrobin(struct pool *pool, struct buf *why)
{
	if (why != NULL) {
		(void)buf_puts(why, "roundrobin: next in turn (");
		list_servers(why, pool, NULL, ": ", " in flight");
		(void)buf_puts(why, ")");
	}
	return swrr(pool, NULL);
}

/* Fewest in flight for its weight (nginx's least_conn); among equals, in
 * weighted turn, so an idle pool still shares by weight. */
static struct server *pick_leastconn(struct pool *pool, struct buf *why)
{
	const struct server *least = NULL;
	size_t tied = 0;
	for (size_t i = 0; i < pool->nservers; i++)
		if (!pool->servers[i].skip && (least == NULL || lighter(&pool->servers[i], least)))
			least = &pool->servers[i];
	for (size_t i = 0; i < pool->nservers; i++)
		tied += !pool->servers[i].skip && same_load(&pool->servers[i], least);
	struct server *best = swrr(pool, least);
	if (why != NULL) {
		(void)buf_puts(why, weights_differ(pool) ? "leastconn: fewest in flight per weight: "
		                                         : "leastconn: fewest in flight: ");
		list_servers(why, pool, best, " ", "");
		if (tied > 1)
			(void)buf_puts(why, " (tie: next in turn)");
	}
	return best;
}

/* "b1" or, when the pool's weights differ, "b1 w3". */
static void put_name(struct buf *why, const struct pool *pool, const struct server *s)
{
	(void)buf_puts(why, s->name);
	if (weights_differ(pool)) {
		(void)buf_puts(why, " w");
		(void)buf_put_uint(why, s->weight);
	}
}

/* Power of two choices: two distinct servers drawn by weight, the one with
 * fewer in flight for its weight wins (the first drawn on a tie, which
 * keeps the weights' shares in an idle pool). */
static struct server *pick_random(struct pool *pool, size_t candidates, struct buf *why)
{
	struct server *a = draw(pool, NULL);
	if (candidates == 1) {
		if (why != NULL)
			(void)buf_printf(why, "random: only one server (%s: %u in flight)", a->name, a->inflight);
		return a;
	}
	struct server *b = draw(pool, a);
	struct server *best = lighter(b, a) ? b : a;
	if (why != NULL) {
		(void)buf_puts(why, "random: two choices ");
		put_name(why, pool, a);
		(void)buf_printf(why, " (%u in flight) vs ", a->inflight);
		put_name(why, pool, b);
		(void)buf_printf(why, " (%u) -> %s%s", b->inflight, best->name, same_load(a, b) ? " (tie: first drawn)" : "");
	}
	return best;
}

/* ---- ewma: peak-EWMA of the time to first byte ---------------------------- */

/* e^(-dt/decay): how much of the estimate is left after dt without samples. */
static double kept(const struct lb_ewma *e, uint64_t now)
{
	double decay = e->decay_ns ? (double)e->decay_ns : LB_EWMA_DECAY_MS * 1e6;
	return now > e->at ? exp(-(double)(now - e->at) / decay) : 1;
}

double lb_ewma_ns(const struct server *s, uint64_t now)
{
	return s->ewma.sampled ? s->ewma.ns * kept(&s->ewma, now) : -1;
}

/* A sample at or below the estimate moves it toward the sample by the
 * larger of two shares: what time has taken from the past (1 - kept: an
 * idle server's estimate follows its first answer after a long gap), and
 * LB_EWMA_STEP (a busy server forgets a passing spike within a few dozen
 * answers; by time alone it would keep it for about the decay, and while
 * it did, its cost would send requests to a truly slower server). */
static double moved(double kept_share)
{
	return 1 - kept_share > LB_EWMA_STEP ? 1 - kept_share : LB_EWMA_STEP;
}

void lb_observe(struct server *s, uint64_t ttfb_ns, uint64_t now)
{
	struct lb_ewma *e = &s->ewma;
	double sample = (double)ttfb_ns;
	if (!e->sampled) {
		e->ns = sample;
		e->sampled = true;
	} else {
		double w = kept(e, now);
		if (sample > e->ns * w)
			e->ns = sample;                  /* the peak: slower at once */
		else
			e->ns += (sample - e->ns) * moved(w);
	}
	e->at = now;
}

void lb_observe_failure(struct server *s, uint64_t now)
{
	lb_observe(s, (uint64_t)LB_PENALTY_NS, now);
}

/* cost = EWMA x (in flight + 1) / weight, in ns.  With no answer yet, an
 * idle server costs nothing (try it) and a busy one a second per request
 * in flight (do not pile requests on a server before it has answered). */
static double ewma_cost(const struct server *s, uint64_t now, double *est)
{
	*est = lb_ewma_ns(s, now);
	if (*est < 0)
		return LB_PENALTY_NS * s->inflight / s->weight;
	return *est * (s->inflight + 1) / s->weight;
}

/* Milliseconds with 3 significant digits: "0.41", "19.7", "1250", "0". */
static void put_ms(struct buf *b, double ns)
{
	double ms = ns / 1e6;
	if (ns == 0)
		(void)buf_puts(b, "0");
	else
		(void)buf_printf(b, ms >= 1000 ? "%.0f" : ms >= 0.01 ? "%.3g" : "%.3f", ms);
}

/* "b1: 0.41 ms × 2 = 0.82", "b1 w2: 0.41 ms × 2 / 2 = 0.41", or
 * "b1: no answer yet, 2 in flight = 2000". */
static void put_cost(struct buf *why, const struct pool *pool, const struct server *s, uint64_t now)
{
	double est, cost = ewma_cost(s, now, &est);
	put_name(why, pool, s);
	if (est < 0) {
		(void)buf_printf(why, ": no answer yet, %u in flight = ", s->inflight);
	} else {
		(void)buf_puts(why, ": ");
		put_ms(why, est);
		(void)buf_printf(why, " ms × %u", s->inflight + 1);
		if (s->weight != 1)
			(void)buf_printf(why, " / %u", s->weight);
		(void)buf_puts(why, " = ");
	}
	put_ms(why, cost);
}

/* Power of two choices on the cost. */
static struct server *pick_ewma(struct pool *pool, size_t candidates, uint64_t now, struct buf *why)
{
	struct server *a = draw(pool, NULL), *b = candidates > 1 ? draw(pool, a) : NULL;
	double est, ca = ewma_cost(a, now, &est), cb = b ? ewma_cost(b, now, &est) : 0;
	struct server *best = b != NULL && cb < ca ? b : a;
	if (why != NULL) {
		(void)buf_puts(why, b ? "ewma: " : "ewma: only one server (");
		put_cost(why, pool, a, now);
		if (b != NULL) {
			(void)buf_puts(why, " vs ");
			put_cost(why, pool, b, now);
			(void)buf_cat(why, " -> ", best->name, ca == cb ? " (tie: first drawn)" : "", NULL);
		} else {
			(void)buf_puts(why, ")");
		}
	}
	return best;
}

/* ---- hash: a consistent-hash ring ------------------------------------------ */

/* MurmurHash3's finaliser: every input bit moves every output bit. */
static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdu;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53u;
	return k ^ (k >> 33);
}

uint64_t lb_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325u;        /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return mix(h);
}

static int by_hash(const void *a, const void *b)
{
	const struct lb_point *p = a, *q = b;
	if (p->hash != q->hash)
		return p->hash < q->hash ? -1 : 1;
	return p->server < q->server ? -1 : p->server > q->server;
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b != 0) {
		unsigned t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Each server gets RING_POINTS points per unit of weight (weights divided
 * by their greatest common divisor), at hashes of its name: a server's
 * points do not depend on the other servers, which is what makes the ring
 * consistent. */
static int ring_build(struct pool *pool)
{
	unsigned g = 0;
	size_t units = 0, per_unit = RING_POINTS, n = 0;
	for (size_t i = 0; i < pool->nservers; i++)
		g = gcd(pool->servers[i].weight, g);
	for (size_t i = 0; i < pool->nservers; i++)
		units += pool->servers[i].weight / g;
	if (units * per_unit > RING_MAX)
		per_unit = RING_MAX / units > 0 ? RING_MAX / units : 1;
	pool->ring = malloc(units * per_unit * sizeof(*pool->ring));
	if (pool->ring == NULL)
		return -1;
	for (size_t i = 0; i < pool->nservers; i++) {
		const struct server *s = &pool->servers[i];
		uint64_t base = lb_hash(s->name, strlen(s->name));
		for (size_t j = 0; j < s->weight / g * per_unit; j++)
			pool->ring[n++] = (struct lb_point){ mix(base ^ mix(j + 1)), i };
	}
	qsort(pool->ring, n, sizeof(*pool->ring), by_hash);
	pool->nring = n;
	return 0;
}

/* The first point at or after h (wrapping around) whose server is not
 * skipped; *owner is the server of the very first point. */
static struct server *ring_walk(struct pool *pool, uint64_t h, struct server **owner)
{
	size_t lo = 0, hi = pool->nring;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pool->ring[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	*owner = &pool->servers[pool->ring[lo % pool->nring].server];
	for (size_t k = 0; k < pool->nring; k++) {
		struct server *s = &pool->servers[pool->ring[(lo + k) % pool->nring].server];
		if (!s->skip)
			return s;
	}
	return NULL;   /* not reached: lb_pick leaves a candidate */
}

/* The request's key for the pool's hash in *key, *len; false if it has
 * none (no such header, no request).  ip holds an address's bytes. */
static bool hash_key(const struct pool *pool, const struct lb_req *rq, const void **key, size_t *len,
                     unsigned char ip[16])
{
	const char *v = NULL;
	if (rq == NULL)
		return false;
	switch (pool->hash_key) {
	case HASH_SOURCE:
		if (rq->client == NULL)
			return false;
		if (rq->client->ss.ss_family == AF_INET) {
			memcpy(ip, &((const struct sockaddr_in *)&rq->client->ss)->sin_addr, 4);
			*len = 4;
		} else {
			memcpy(ip, &((const struct sockaddr_in6 *)&rq->client->ss)->sin6_addr, 16);
			*len = 16;
			if (memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {   /* IPv4-mapped: as IPv4 */
				memmove(ip, ip + 12, 4);
				*len = 4;
			}
		}
		*key = ip;
		return true;
	case HASH_URI:                     /* the path: the query string is left out */
		if (rq->msg == NULL)
			return false;
		v = http_target(rq->msg);
		*len = strcspn(v, "?");
		break;
	case HASH_HEADER:
		if (rq->msg == NULL || (v = http_get(rq->msg, pool->hash_header)) == NULL || *v == '\0')
			return false;
		*len = strlen(v);
		break;
	}
	*key = v;
	return true;
}

static struct server *pick_hash(struct pool *pool, const struct lb_req *rq, struct buf *why)
{
	char spec[BALANCE_STRLEN];
	unsigned char ip[16];
	const void *key = NULL;
	size_t len = 0;
	if (!hash_key(pool, rq, &key, &len, ip)) {
		bool header = pool->hash_key == HASH_HEADER;
		if (why != NULL)
			(void)buf_cat(why, balance_spec(pool, spec), ": no ", header ? pool->hash_header : "request",
			              header ? " header" : "", ": next in turn", NULL);
		return swrr(pool, NULL);
	}
	struct server *owner, *s = ring_walk(pool, lb_hash(key, len), &owner);
	if (why != NULL) {
		(void)buf_cat(why, balance_spec(pool, spec), " '", NULL);
		if (pool->hash_key == HASH_SOURCE) {
			char a[ADDR_STRLEN];
			(void)buf_puts(why, addr_format_ip(rq->client, a));
		} else {
			(void)buf_append(why, key, len < WHY_KEY ? len : WHY_KEY);
			(void)buf_puts(why, len > WHY_KEY ? "..." : "");
		}
		if (s == owner)
			(void)buf_cat(why, "' -> ", s->name, " on the ring", NULL);
		else
			(void)buf_cat(why, "' -> ", s->name, ", next on the ring after ", owner->name, NULL);
	}
	return s;
}

int lb_prepare(struct pool *pool, uint64_t decay_ms)
{
	for (size_t i = 0; i < pool->nservers; i++)
		pool->servers[i].ewma.decay_ns = (decay_ms ? decay_ms : LB_EWMA_DECAY_MS) * 1000000u;
	return pool->algo == LB_HASH && pool->ring == NULL && pool->nservers > 0 ? ring_build(pool) : 0;
}

void lb_release(struct pool *pool)
{
	free(pool->ring);
	pool->ring = NULL;
	pool->nring = 0;
}

static bool tried(const struct lb_req *rq, const struct server *s)
{
	for (size_t i = 0; rq != NULL && i < rq->ntried; i++)
		if (rq->tried[i] == s)
			return true;
	return false;
}

/* Out of the pool at now: ejected, or checked down (health.c). */
static bool out(const struct server *s, uint64_t now)
{
	return s->down_until > now || s->check_down;
}

/* Marks the servers this pick leaves out: those rq tried, and those out
 * of the pool.  When only servers out of the pool are left, they are
 * tried anyway (one that may be back beats a sure error); *anyway says
 * so.  Returns the candidates left (0: every server was tried). */
static size_t mark_skips(struct pool *pool, const struct lb_req *rq, uint64_t now, bool *anyway)
{
	size_t left = 0, untried = 0;
	for (size_t i = 0; i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		bool t = tried(rq, s);
		s->skip = t || out(s, now);
		left += !s->skip;
		untried += !t;
	}
	*anyway = left == 0 && untried > 0;
	for (size_t i = 0; *anyway && i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		s->skip = tried(rq, s);
		left += !s->skip;
	}
	return left;
}

/* Appends "; skipped b1 (ejected), b2 (just failed)", or "; all down:
 * tried anyway", to why, and clears the marks. */
static void note_skips(struct pool *pool, const struct lb_req *rq, bool anyway, uint64_t now, struct buf *why)
{
	const char *sep = "; skipped ";
	for (size_t i = 0; i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		if (why != NULL && s->skip) {
			(void)buf_cat(why, sep, s->name, tried(rq, s) ? " (just failed)" : s->check_down ? " (down)"
			              : s->down_until > now ? " (ejected)" : "", NULL);
			sep = ", ";
		}
		s->skip = false;
	}
	if (why != NULL && anyway)
		(void)buf_puts(why, "; all down: tried anyway");
}

struct server *lb_pick(struct pool *pool, const struct lb_req *rq, uint64_t now, struct buf *why)
{
	struct server *s = NULL;
	if (pool == NULL || pool->nservers == 0) {
		if (why != NULL)
			(void)buf_puts(why, "no servers in the pool");
		return NULL;
	}
	/* The common case, every server in and no retry, marks nothing. */
	bool marked = (rq != NULL && rq->ntried > 0) || pool->nout > 0, anyway = false;
	size_t left = marked ? mark_skips(pool, rq, now, &anyway) : pool->nservers;
	if (left == 0) {
		if (why != NULL)
			(void)buf_puts(why, "every server was tried");
		note_skips(pool, rq, false, now, NULL);
		return NULL;
	}
	switch (pool->algo) {
	case LB_ROUNDROBIN: s = pick_roundrobin(pool, why); break;
	case LB_LEASTCONN:  s = pick_leastconn(pool, why); break;
	case LB_RANDOM:     s = pick_random(pool, left, why); break;
	case LB_EWMA:       s = pick_ewma(pool, left, now, why); break;
	case LB_HASH:       s = pick_hash(pool, rq, why); break;
	}
	if (marked)
		note_skips(pool, rq, anyway, now, why);
	return s;
}
