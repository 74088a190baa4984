/*
 * lb.c - step 3, part two: which server of the pool (lb.h), and a line
 * saying why, for the access log and the tracer.
 *
 * Every algorithm is a scan of the pool: pools hold a handful of servers,
 * and a scan keeps the state a student must follow down to two numbers per
 * server (current_weight and inflight).
 */
#include "lb.h"

#include <limits.h>
#include <stdbool.h>

#define WHY_SERVERS 4           /* servers a why line names; the rest are counted */

/* Smooth weighted round robin, nginx's: each candidate gains its weight,
 * the one with the most current weight wins and pays back the total of
 * the candidates.  Weights 5,1,1 give a a b a c a a.  Candidates are all
 * servers not skipped, or (all false) those with inflight and weight as given. */
static struct server *swrr(struct pool *pool, bool all, unsigned inflight, unsigned weight)
{
	struct server *best = NULL;
	long total = 0;
	for (size_t i = 0; i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		if (s->skip || (!all && (s->inflight != inflight || s->weight != weight)))
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
	bool weights = false;
	for (size_t i = 1; i < pool->nservers; i++)
		weights |= pool->servers[i].weight != pool->servers[0].weight;
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
	return swrr(pool, true, 0, 0);
}

/* Fewest in flight; among those the highest weight; among those, in turn. */
static struct server *pick_leastconn(struct pool *pool, struct buf *why)
{
	unsigned least = UINT_MAX, heaviest = 0;
	size_t nleast = 0, nheavy = 0;
	for (size_t i = 0; i < pool->nservers; i++)
		if (!pool->servers[i].skip && pool->servers[i].inflight < least)
			least = pool->servers[i].inflight;
	for (size_t i = 0; i < pool->nservers; i++) {
		const struct server *s = &pool->servers[i];
		if (s->skip || s->inflight != least)
			continue;
		nleast++;
		if (s->weight > heaviest) {
			heaviest = s->weight;
			nheavy = 0;
		}
		nheavy += s->weight == heaviest;
	}
	struct server *best = swrr(pool, false, least, heaviest);
	if (why != NULL) {
		(void)buf_puts(why, "leastconn: fewest in flight: ");
		list_servers(why, pool, best, " ", "");
		if (nheavy > 1)
			(void)buf_puts(why, " (tie: next in turn)");
		else if (nleast > 1)
			(void)buf_puts(why, " (tie: higher weight)");
	}
	return best;
}

/* Power of two choices: two distinct servers drawn by weight, the one with
 * fewer in flight wins (the first drawn on a tie, which keeps the weights). */
static struct server *pick_random(struct pool *pool, size_t candidates, struct buf *why)
{
	struct server *a = draw(pool, NULL);
	if (candidates == 1) {
		if (why != NULL)
			(void)buf_printf(why, "random: only one server (%s: %u in flight)", a->name, a->inflight);
		return a;
	}
	struct server *b = draw(pool, a);
	struct server *best = b->inflight < a->inflight ? b : a;
	if (why != NULL)
		(void)buf_printf(why, "random: two choices %s (%u in flight) vs %s (%u) -> %s%s", a->name,
		                 a->inflight, b->name, b->inflight, best->name,
		                 a->inflight == b->inflight ? " (tie: first drawn)" : "");
	return best;
}

/* Marks the servers this pick leaves out: avoid (it just failed), and
 * those down until after now.  When that leaves none, down servers are
 * tried anyway (one that may be back beats a sure error), and avoid too if
 * it is the only server; *anyway says so.  Returns the candidates left. */
static size_t mark_skips(struct pool *pool, const struct server *avoid, uint64_t now, bool *anyway)
{
	size_t left = 0;
	for (size_t i = 0; i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		s->skip = s == avoid || s->down_until > now;
		left += !s->skip;
	}
	*anyway = left == 0;
	for (size_t i = 0; *anyway && i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		s->skip = s == avoid && pool->nservers > 1;
		left += !s->skip;
	}
	return left;
}

/* Appends "; skipped b1 (down), b2 (just failed)", or "; all down: tried
 * anyway", to why, and clears the marks. */
static void note_skips(struct pool *pool, const struct server *avoid, bool anyway, struct buf *why)
{
	const char *sep = "; skipped ";
	for (size_t i = 0; i < pool->nservers; i++) {
		struct server *s = &pool->servers[i];
		if (why != NULL && s->skip) {
			(void)buf_puts(why, sep);
			(void)buf_puts(why, s->name);
			(void)buf_puts(why, s == avoid ? " (just failed)" : " (down)");
			sep = ", ";
		}
		s->skip = false;
	}
	if (why != NULL && anyway)
		(void)buf_puts(why, pool->nservers == 1 && avoid != NULL ? "; the only server: tried again"
		                                                          : "; all down: tried anyway");
}

struct server *lb_pick(struct pool *pool, const struct server *avoid, uint64_t now, struct buf *why)
{
	struct server *s = NULL;
	if (pool == NULL || pool->nservers == 0) {
		if (why != NULL)
			(void)buf_puts(why, "no servers in the pool");
		return NULL;
	}
	/* The common case, every server up and no retry, marks nothing. */
	bool marked = avoid != NULL || pool->nfailing > 0, anyway = false;
	size_t left = marked ? mark_skips(pool, avoid, now, &anyway) : pool->nservers;
	switch (pool->algo) {
	case LB_ROUNDROBIN: s = pick_roundrobin(pool, why); break;
	case LB_LEASTCONN:  s = pick_leastconn(pool, why); break;
	case LB_RANDOM:     s = pick_random(pool, left, why); break;
	}
	if (marked)
		note_skips(pool, avoid, anyway, why);
	return s;
}
