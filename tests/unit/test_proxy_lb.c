/*
 * test_proxy_lb.c - step 3, which server (proxy/lb.c): exact round-robin
 * sequences, leastconn and its ties, power-of-two-choices random, and the
 * "why" lines the access log and the tracer show.
 */
#include <stdlib.h>
#include <string.h>

#include "../../proxy/lb.h"
#include "t.h"

/* The proxy's process state P is defined in main.c, which unit tests leave
 * out; this weak stand-in lets the other modules link (a definition in any
 * module but main.c would take its place). */
#include "../../proxy/proxy.h"
__attribute__((weak)) struct proxy P;

/* A pool of servers a, b, c, ... with the given weights (0 ends the list). */
static struct pool *pool_of(enum lb_algo algo, uint64_t seed, const unsigned *weights)
{
	struct pool *p = calloc(1, sizeof(*p));
	size_t n = 0;
	while (weights[n] != 0)
		n++;
	if (p == NULL || (p->servers = calloc(n, sizeof(*p->servers))) == NULL)
		abort();
	p->name = "test";
	p->algo = algo;
	p->nservers = n;
	rng_seed(&p->rng, seed);
	static char names[26][2];
	for (size_t i = 0; i < n; i++) {
		names[i][0] = (char)('a' + i);
		p->servers[i].name = names[i];
		p->servers[i].weight = weights[i];
	}
	return p;
}

static void pool_free(struct pool *p)
{
	free(p->servers);
	free(p);
}

/* The names of the next n picks, as one string ("aabacaa"). */
static const char *picks(struct pool *p, size_t n)
{
	static char s[256];
	for (size_t i = 0; i < n && i < sizeof(s) - 1; i++) {
		struct server *srv = lb_pick(p, NULL, 0, NULL);
		s[i] = srv ? srv->name[0] : '-';
		s[i + 1] = '\0';
	}
	return s;
}

/* The why line of the next pick. */
static const char *why(struct pool *p, struct server **picked)
{
	static struct buf b;
	buf_clear(&b);
	struct server *s = lb_pick(p, NULL, 0, &b);
	if (picked != NULL)
		*picked = s;
	buf_append(&b, "", 1);
	return buf_begin(&b);
}

#define W(...) ((const unsigned[]){ __VA_ARGS__, 0 })

TEST(roundrobin_follows_nginx_smooth_weighted_order)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(5, 1, 1));
	CHECK_STR(picks(p, 14), "aabacaaaabacaa");
	pool_free(p);
	p = pool_of(LB_ROUNDROBIN, 1, W(1, 1, 1));
	CHECK_STR(picks(p, 7), "abcabca");
	pool_free(p);
	p = pool_of(LB_ROUNDROBIN, 1, W(2, 1));
	CHECK_STR(picks(p, 6), "abaaba");
	pool_free(p);
	p = pool_of(LB_ROUNDROBIN, 1, W(3, 2, 1));
	CHECK_STR(picks(p, 12), "abacbaabacba");
	pool_free(p);
	p = pool_of(LB_ROUNDROBIN, 1, W(4, 3, 2, 1));
	CHECK_STR(picks(p, 10), "abcabdacba");
	pool_free(p);
}

TEST(roundrobin_gives_each_server_its_weight_share_exactly)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1000, 1, 7, 300));
	unsigned count[4] = { 0 };
	for (int i = 0; i < 1308 * 3; i++)
		count[lb_pick(p, NULL, 0, NULL) - p->servers]++;
	CHECK_INT(count[0], 3000);
	CHECK_INT(count[1], 3);
	CHECK_INT(count[2], 21);
	CHECK_INT(count[3], 900);
	pool_free(p);
}

TEST(roundrobin_ignores_requests_in_flight)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1, 1));
	p->servers[0].inflight = 9;
	CHECK_STR(picks(p, 4), "abab");
	pool_free(p);
}

TEST(leastconn_picks_the_server_with_fewest_in_flight)
{
	struct pool *p = pool_of(LB_LEASTCONN, 1, W(1, 1, 1));
	p->servers[0].inflight = 2;
	p->servers[1].inflight = 1;
	p->servers[2].inflight = 3;
	CHECK_STR(picks(p, 3), "bbb");
	p->servers[1].inflight = 5;
	CHECK_STR(picks(p, 1), "a");
	pool_free(p);
}

TEST(leastconn_breaks_ties_by_higher_weight_then_in_turn)
{
	struct pool *p = pool_of(LB_LEASTCONN, 1, W(1, 3, 3, 1));
	CHECK_STR(picks(p, 4), "bcbc");
	p->servers[1].inflight = 1;
	p->servers[2].inflight = 1;
	CHECK_STR(picks(p, 4), "adad");
	pool_free(p);
}

TEST(leastconn_with_requests_finishing_spreads_the_load)
{
	/* a request that starts and ends before the next: all stay at 0 */
	struct pool *p = pool_of(LB_LEASTCONN, 1, W(1, 1, 1));
	CHECK_STR(picks(p, 6), "abcabc");
	/* requests that stay in flight: each goes to the least busy */
	for (int i = 0; i < 9; i++)
		lb_pick(p, NULL, 0, NULL)->inflight++;
	CHECK_INT(p->servers[0].inflight, 3);
	CHECK_INT(p->servers[1].inflight, 3);
	CHECK_INT(p->servers[2].inflight, 3);
	pool_free(p);
}

TEST(random_is_reproducible_with_a_seed)
{
	struct pool *p = pool_of(LB_RANDOM, 42, W(1, 1, 1, 1));
	struct pool *q = pool_of(LB_RANDOM, 42, W(1, 1, 1, 1));
	char first[256];
	strcpy(first, picks(p, 40));
	CHECK_STR(picks(q, 40), first);
	pool_free(p);
	pool_free(q);
}

TEST(random_spreads_idle_requests_by_weight)
{
	struct pool *p = pool_of(LB_RANDOM, 7, W(1, 1, 1));
	unsigned count[3] = { 0 };
	for (int i = 0; i < 3000; i++)
		count[lb_pick(p, NULL, 0, NULL) - p->servers]++;
	for (int i = 0; i < 3; i++)
		CHECK(count[i] > 900 && count[i] < 1100);
	pool_free(p);

	p = pool_of(LB_RANDOM, 7, W(3, 1));
	unsigned a = 0;
	for (int i = 0; i < 4000; i++)
		a += lb_pick(p, NULL, 0, NULL) == &p->servers[0];
	CHECK(a > 2850 && a < 3150);        /* 75% */
	pool_free(p);
}

TEST(random_never_picks_the_busiest_of_three_servers)
{
	/* two distinct servers are compared: the busiest always loses */
	struct pool *p = pool_of(LB_RANDOM, 3, W(1, 1, 1));
	p->servers[0].inflight = 10;
	p->servers[1].inflight = 1;
	unsigned count[3] = { 0 };
	for (int i = 0; i < 1000; i++)
		count[lb_pick(p, NULL, 0, NULL) - p->servers]++;
	CHECK_INT(count[0], 0);
	CHECK(count[2] > 600 && count[1] > 250);  /* c (idle) wins 2 pairs of 3 */
	pool_free(p);
}

TEST(why_lines_say_how_the_server_was_chosen)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1, 1));
	p->servers[1].inflight = 2;
	CHECK_STR(why(p, NULL), "roundrobin: next in turn (a: 0 in flight, b: 2)");
	pool_free(p);

	p = pool_of(LB_ROUNDROBIN, 1, W(5, 1, 1));
	CHECK_STR(why(p, NULL), "roundrobin: next in turn (a w5: 0 in flight, b w1: 0, c w1: 0)");
	pool_free(p);

	p = pool_of(LB_LEASTCONN, 1, W(1, 1, 1));
	p->servers[0].inflight = 1;
	p->servers[2].inflight = 3;
	CHECK_STR(why(p, NULL), "leastconn: fewest in flight: b 0, a 1, c 3");
	p->servers[1].inflight = 1;
	CHECK_STR(why(p, NULL), "leastconn: fewest in flight: a 1, b 1, c 3 (tie: next in turn)");
	pool_free(p);

	p = pool_of(LB_LEASTCONN, 1, W(1, 2));
	CHECK_STR(why(p, NULL), "leastconn: fewest in flight: b w2 0, a w1 0 (tie: higher weight)");
	pool_free(p);

	p = pool_of(LB_RANDOM, 1, W(1, 1));
	p->servers[0].inflight = 2;
	struct server *s;
	const char *w = why(p, &s);
	CHECK(s == &p->servers[1]);
	CHECK(strcmp(w, "random: two choices a (2 in flight) vs b (0) -> b") == 0 ||
	      strcmp(w, "random: two choices b (0 in flight) vs a (2) -> b") == 0);
	p->servers[0].inflight = 0;
	w = why(p, &s);
	CHECK(strstr(w, " (tie: first drawn)") != NULL);
	pool_free(p);

	p = pool_of(LB_RANDOM, 1, W(1));
	CHECK_STR(why(p, NULL), "random: only one server (a: 0 in flight)");
	pool_free(p);
}

TEST(why_lines_name_four_servers_at_most)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1, 1, 1, 1, 1, 1));
	CHECK_STR(why(p, NULL), "roundrobin: next in turn (a: 0 in flight, b: 0, c: 0, d: 0, +2 more)");
	pool_free(p);
	p = pool_of(LB_LEASTCONN, 1, W(1, 1, 1, 1, 1, 1));
	for (int i = 0; i < 5; i++)
		p->servers[i].inflight = 1;
	CHECK_STR(why(p, NULL), "leastconn: fewest in flight: f 0, a 1, b 1, c 1, +2 more");
	pool_free(p);
}

TEST(an_empty_pool_gives_no_server)
{
	struct pool p = { .name = "empty", .algo = LB_LEASTCONN };
	struct buf b = BUF_INIT;
	CHECK(lb_pick(&p, NULL, 0, &b) == NULL);
	CHECK(lb_pick(NULL, NULL, 0, NULL) == NULL);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "no servers in the pool");
	buf_free(&b);
}

/* The next n picks avoiding server avoid (NULL: none) at time now. */
static const char *picks_at(struct pool *p, size_t n, const struct server *avoid, uint64_t now)
{
	static char s[64];
	for (size_t i = 0; i < n && i < sizeof(s) - 1; i++) {
		s[i] = lb_pick(p, avoid, now, NULL)->name[0];
		s[i + 1] = '\0';
	}
	return s;
}

TEST(a_retry_never_goes_back_to_the_server_that_failed)
{
	enum lb_algo algos[] = { LB_ROUNDROBIN, LB_LEASTCONN, LB_RANDOM };
	for (size_t a = 0; a < 3; a++) {
		struct pool *p = pool_of(algos[a], 7, W(1, 1, 1));
		for (int i = 0; i < 50; i++)
			CHECK(lb_pick(p, &p->servers[1], 0, NULL) != &p->servers[1]);
		pool_free(p);
	}
}

TEST(the_only_server_is_tried_again_when_it_failed)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1));
	CHECK_STR(why(p, NULL), "roundrobin: next in turn (a: 0 in flight)");
	struct buf b = BUF_INIT;
	CHECK(lb_pick(p, &p->servers[0], 0, &b) == &p->servers[0]);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "roundrobin: next in turn (a: 0 in flight); the only server: tried again");
	buf_free(&b);
	pool_free(p);
}

TEST(down_servers_are_skipped_until_their_time_is_up)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1, 1, 1));
	p->servers[0].down_until = 1000;
	p->nfailing = 1;
	CHECK_STR(picks_at(p, 4, NULL, 999), "bcbc");
	p->servers[0].down_until = 5000;
	struct buf b = BUF_INIT;
	lb_pick(p, &p->servers[1], 10, &b);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "roundrobin: next in turn (a: 0 in flight, b: 0, c: 0); skipped a (down), b (just failed)");
	CHECK(strchr(picks_at(p, 3, NULL, 5000), 'a') != NULL);   /* its time is up */
	buf_free(&b);
	pool_free(p);
}

TEST(when_every_server_is_down_they_are_tried_anyway)
{
	struct pool *p = pool_of(LB_LEASTCONN, 1, W(1, 1));
	p->servers[0].down_until = p->servers[1].down_until = 1000;
	p->nfailing = 2;
	p->servers[0].inflight = 1;
	struct buf b = BUF_INIT;
	struct server *s = lb_pick(p, NULL, 10, &b);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "leastconn: fewest in flight: b 0, a 1; all down: tried anyway");
	CHECK(s == &p->servers[1]);
	CHECK(!p->servers[0].skip && !p->servers[1].skip);
	buf_free(&b);
	pool_free(p);
}

int main(void)
{
	RUN(roundrobin_follows_nginx_smooth_weighted_order);
	RUN(roundrobin_gives_each_server_its_weight_share_exactly);
	RUN(roundrobin_ignores_requests_in_flight);
	RUN(leastconn_picks_the_server_with_fewest_in_flight);
	RUN(leastconn_breaks_ties_by_higher_weight_then_in_turn);
	RUN(leastconn_with_requests_finishing_spreads_the_load);
	RUN(random_is_reproducible_with_a_seed);
	RUN(random_spreads_idle_requests_by_weight);
	RUN(random_never_picks_the_busiest_of_three_servers);
	RUN(why_lines_say_how_the_server_was_chosen);
	RUN(why_lines_name_four_servers_at_most);
	RUN(an_empty_pool_gives_no_server);
	RUN(a_retry_never_goes_back_to_the_server_that_failed);
	RUN(the_only_server_is_tried_again_when_it_failed);
	RUN(down_servers_are_skipped_until_their_time_is_up);
	RUN(when_every_server_is_down_they_are_tried_anyway);
	return t_done();
}
