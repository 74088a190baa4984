/*
 * test_proxy_lb.c - step 3, which server (proxy/lb.c): exact round-robin
 * sequences, leastconn and its ties, power-of-two-choices random, ewma with
 * injected time (and a simulated slow server that recovers), the hash ring
 * and how few keys move when a server goes, weights everywhere, and the
 * "why" lines the access log and the tracer show.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdarg.h>

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
	p->hash_key = HASH_URI;
	if (lb_prepare(p, 0) < 0)
		abort();
	return p;
}

static void pool_free(struct pool *p)
{
	lb_release(p);
	free(p->servers);
	free(p);
}

/* A parsed request for target (printf format) with header NAME: VALUE
 * lines from hdrs ("" for none); good until the next call. */
static const struct http_msg *request_with(const char *hdrs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const struct http_msg *request_with(const char *hdrs, const char *fmt, ...)
{
	static struct http_msg m;
	static bool ready;
	char target[256], text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(target, sizeof(target), fmt, ap);
	va_end(ap);
	if (ready)
		http_msg_free(&m);
	http_msg_init(&m, HTTP_REQUEST, NULL, NULL);
	ready = true;
	int n = snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n", target, hdrs);
	size_t used;
	if (http_msg_feed(&m, text, (size_t)n, &used) != HPE_OK)
		abort();
	return &m;
}
#define request(...) request_with("", __VA_ARGS__)

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

TEST(leastconn_breaks_ties_in_weighted_turn)
{
	struct pool *p = pool_of(LB_LEASTCONN, 1, W(1, 3, 3, 1));
	CHECK_STR(picks(p, 8), "bcabcdbc");      /* idle: shares 1:3:3:1, as roundrobin */
	p->servers[1].inflight = 1;
	p->servers[2].inflight = 1;
	CHECK_STR(picks(p, 4), "adad");
	pool_free(p);
}

TEST(leastconn_counts_in_flight_per_unit_of_weight)
{
	struct pool *p = pool_of(LB_LEASTCONN, 1, W(1, 3));
	p->servers[0].inflight = 1;
	p->servers[1].inflight = 2;           /* 2/3 < 1/1 */
	CHECK_STR(picks(p, 2), "bb");
	/* requests that stay in flight: b carries three times a's */
	p->servers[0].inflight = p->servers[1].inflight = 0;
	for (int i = 0; i < 40; i++)
		lb_pick(p, NULL, 0, NULL)->inflight++;
	CHECK_INT(p->servers[0].inflight, 10);
	CHECK_INT(p->servers[1].inflight, 30);
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
	p->servers[0].inflight = 1;
	p->servers[1].inflight = 1;
	CHECK_STR(why(p, NULL), "leastconn: fewest in flight per weight: b w2 1, a w1 1");
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

/* A request that tried server t (NULL: none yet). */
static struct lb_req *tried(struct server *t)
{
	static struct server *set[1];
	static struct lb_req rq;
	set[0] = t;
	rq = (struct lb_req){ .tried = set, .ntried = t != NULL };
	return &rq;
}

/* The next n picks of a request that tried avoid (NULL: none) at time now. */
static const char *picks_at(struct pool *p, size_t n, struct server *avoid, uint64_t now)
{
	static char s[64];
	for (size_t i = 0; i < n && i < sizeof(s) - 1; i++) {
		s[i] = lb_pick(p, tried(avoid), now, NULL)->name[0];
		s[i + 1] = '\0';
	}
	return s;
}

TEST(a_retry_never_goes_back_to_a_server_the_request_tried)
{
	enum lb_algo algos[] = { LB_ROUNDROBIN, LB_LEASTCONN, LB_RANDOM, LB_EWMA, LB_HASH };
	for (size_t a = 0; a < 5; a++) {
		struct pool *p = pool_of(algos[a], 7, W(1, 1, 1, 1));
		for (int i = 0; i < 50; i++) {
			struct server *set[] = { &p->servers[1], &p->servers[3] };
			struct lb_req rq = { .msg = request("/k%d", i), .tried = set, .ntried = 2 };
			struct server *s = lb_pick(p, &rq, 0, NULL);
			CHECK(s == &p->servers[0] || s == &p->servers[2]);
		}
		pool_free(p);
	}
}

TEST(a_request_that_tried_every_server_gets_none)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1, 1));
	p->servers[1].down_until = 1000;     /* out, and not tried: tried anyway */
	p->nout = 1;
	struct buf b = BUF_INIT;
	CHECK(lb_pick(p, tried(&p->servers[0]), 10, &b) == &p->servers[1]);
	struct server *set[] = { &p->servers[0], &p->servers[1] };
	struct lb_req rq = { .tried = set, .ntried = 2 };
	buf_clear(&b);
	CHECK(lb_pick(p, &rq, 10, &b) == NULL);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "every server was tried");
	CHECK(!p->servers[0].skip && !p->servers[1].skip);
	buf_free(&b);
	pool_free(p);
}

TEST(servers_checked_down_are_skipped_and_named)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1, 1, 1));
	p->servers[1].check_down = true;
	p->nout = 1;
	CHECK_STR(picks_at(p, 4, NULL, 0), "acac");
	struct buf b = BUF_INIT;
	lb_pick(p, NULL, 0, &b);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "roundrobin: next in turn (a: 0 in flight, b: 0, c: 0); skipped b (down)");
	buf_free(&b);
	pool_free(p);
}

TEST(down_servers_are_skipped_until_their_time_is_up)
{
	struct pool *p = pool_of(LB_ROUNDROBIN, 1, W(1, 1, 1));
	p->servers[0].down_until = 1000;
	p->nout = 1;
	CHECK_STR(picks_at(p, 4, NULL, 999), "bcbc");
	p->servers[0].down_until = 5000;
	struct buf b = BUF_INIT;
	lb_pick(p, tried(&p->servers[1]), 10, &b);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "roundrobin: next in turn (a: 0 in flight, b: 0, c: 0); skipped a (ejected), b (just failed)");
	CHECK(strchr(picks_at(p, 3, NULL, 5000), 'a') != NULL);   /* its time is up */
	buf_free(&b);
	pool_free(p);
}

TEST(when_every_server_is_down_they_are_tried_anyway)
{
	struct pool *p = pool_of(LB_LEASTCONN, 1, W(1, 1));
	p->servers[0].down_until = p->servers[1].down_until = 1000;
	p->nout = 2;
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


TEST(random_counts_in_flight_per_unit_of_weight)
{
	struct pool *p = pool_of(LB_RANDOM, 3, W(1, 3));
	for (int i = 0; i < 400; i++)
		lb_pick(p, NULL, 0, NULL)->inflight++;
	CHECK(p->servers[1].inflight >= 297 && p->servers[1].inflight <= 303);   /* 3:1 */
	pool_free(p);
}

/* ---- ewma ------------------------------------------------------------------- */

#define MS 1000000u          /* nanoseconds */
#define SEC 1000000000u

TEST(ewma_picks_the_lower_of_two_costs_time_times_load)
{
	struct pool *p = pool_of(LB_EWMA, 1, W(1, 1));
	lb_observe(&p->servers[0], 1 * MS, 0);
	lb_observe(&p->servers[1], 10 * MS, 0);
	CHECK_STR(picks(p, 4), "aaaa");
	p->servers[0].inflight = 10;          /* 1 ms x 11 > 10 ms x 1 */
	CHECK_STR(picks(p, 2), "bb");
	pool_free(p);
}

TEST(ewma_why_line_shows_both_candidates_costs)
{
	struct pool *p = pool_of(LB_EWMA, 1, W(1, 1));
	lb_observe(&p->servers[0], 410000, 0);       /* 0.41 ms */
	lb_observe(&p->servers[1], 19700000, 0);     /* 19.7 ms */
	p->servers[0].inflight = 1;
	struct server *s;
	const char *w = why(p, &s);
	CHECK(s == &p->servers[0]);
	if (strcmp(w, "ewma: a: 0.41 ms × 2 = 0.82 vs b: 19.7 ms × 1 = 19.7 -> a") != 0)
		CHECK_STR(w, "ewma: b: 19.7 ms × 1 = 19.7 vs a: 0.41 ms × 2 = 0.82 -> a");
	pool_free(p);

	p = pool_of(LB_EWMA, 1, W(1));
	CHECK_STR(why(p, NULL), "ewma: only one server (a: no answer yet, 0 in flight = 0)");
	pool_free(p);
	p = pool_of(LB_EWMA, 1, W(2, 1));
	lb_observe(&p->servers[0], 2 * MS, 0);
	p->servers[1].inflight = 1;
	w = why(p, NULL);
	CHECK(strstr(w, "a w2: 2 ms × 1 / 2 = 1") != NULL);
	CHECK(strstr(w, "b w1: no answer yet, 1 in flight = 1000") != NULL);
	pool_free(p);
}

TEST(ewma_jumps_up_to_a_slow_answer_and_comes_down_with_time)
{
	struct pool *p = pool_of(LB_EWMA, 1, W(1));
	struct server *s = &p->servers[0];
	CHECK(lb_ewma_ns(s, 0) < 0);                   /* no sample yet */
	lb_observe(s, 1 * MS, 0);
	lb_observe(s, 20 * MS, 1 * MS);
	CHECK(fabs(lb_ewma_ns(s, 1 * MS) - 20 * MS) < 1);    /* peak: at once */
	/* 1 ms answers every 200 ms (each pulls 1 - e^(-0.2/3) = 6.4%, more
	 * than LB_EWMA_STEP) for one decay time (3 s): 1 + 19/e ms */
	uint64_t t = 1 * MS;
	for (int i = 0; i < 15; i++)
		lb_observe(s, 1 * MS, t += 200 * MS);
	double want = 1 + 19 / M_E;
	CHECK(fabs(lb_ewma_ns(s, t) / MS - want) < 0.1);
	pool_free(p);
}

TEST(ewma_an_idle_servers_estimate_decays_with_time_alone)
{
	/* No answers at all: the estimate read later falls by e^(-t/decay),
	 * so a server left idle because it was slow is tried again. */
	struct pool *p = pool_of(LB_EWMA, 1, W(1, 1));
	struct server *idle = &p->servers[0], *sparse = &p->servers[1];
	lb_observe(idle, 20 * MS, 0);
	CHECK(fabs(lb_ewma_ns(idle, 3ull * SEC) / MS - 20 / M_E) < 0.01);
	CHECK(fabs(lb_ewma_ns(idle, 6ull * SEC) / MS - 20 / (M_E * M_E)) < 0.01);
	/* Answers far apart count as much as the time between them: 10 ms,
	 * then 1 ms answers at 0.5 s and 1 s give 1 + 9 e^(-1/3) ms. */
	lb_observe(sparse, 10 * MS, 0);
	lb_observe(sparse, 1 * MS, SEC / 2);
	lb_observe(sparse, 1 * MS, SEC);
	CHECK(fabs(lb_ewma_ns(sparse, SEC) / MS - (1 + 9 * exp(-1.0 / 3))) < 0.01);
	pool_free(p);
}

TEST(ewma_a_busy_server_forgets_a_spike_within_dozens_of_answers)
{
	/* 2 ms answers every 0.5 ms, one of 20 ms among them: 60 answers (30
	 * ms) later the estimate is back under 2.9 ms (each pulls at least
	 * LB_EWMA_STEP, 5%); by time alone it would still be 19.8 ms, and for
	 * seconds the server would look slower than it is. */
	struct pool *p = pool_of(LB_EWMA, 1, W(1));
	struct server *s = &p->servers[0];
	uint64_t t = 0;
	for (int i = 0; i < 100; i++)
		lb_observe(s, 2 * MS, t += MS / 2);
	lb_observe(s, 20 * MS, t += MS / 2);
	CHECK(fabs(lb_ewma_ns(s, t) / MS - 20) < 0.01);          /* the peak, at once */
	for (int i = 0; i < 60; i++)
		lb_observe(s, 2 * MS, t += MS / 2);
	printf("# 60 answers of 2 ms after a 20 ms spike: %.2f ms\n", lb_ewma_ns(s, t) / MS);
	CHECK(lb_ewma_ns(s, t) < 2.9 * MS);
	pool_free(p);
}

TEST(ewma_tries_an_idle_slow_server_again_once_its_estimate_has_decayed)
{
	struct pool *p = pool_of(LB_EWMA, 1, W(1, 1));
	struct server *slow = &p->servers[0], *fast = &p->servers[1];
	lb_observe(slow, 20 * MS, 0);
	fast->inflight = 2;                          /* cost 2 ms x 3 = 6 */
	uint64_t t = 0, first = 0;
	for (; t < 10ull * SEC && first == 0; t += 10 * MS) {
		lb_observe(fast, 2 * MS, t);
		if (lb_pick(p, NULL, t, NULL) == slow)
			first = t;
	}
	/* 20 ms x e^(-t/3s) < 6 ms: t > 3 ln(20/6) s = 3.6 s */
	printf("# the idle slow server is tried again after %.2f s\n", (double)first / SEC);
	CHECK(first > 3500 * MS && first < 3700 * MS);
	pool_free(p);
}

TEST(ewma_tries_a_server_with_no_answer_yet_but_does_not_pile_on_it)
{
	struct pool *p = pool_of(LB_EWMA, 1, W(1, 1));
	lb_observe(&p->servers[0], 1 * MS, 0);
	CHECK_STR(picks(p, 1), "b");                 /* idle and unknown: cost 0 */
	p->servers[1].inflight = 1;                  /* waiting for its first answer */
	CHECK_STR(picks(p, 3), "aaa");
	pool_free(p);
}

/* A small discrete-event simulation: Poisson arrivals at rate per second
 * over three servers a, b (2 ms) and c (20 ms until `recover`, then 2 ms),
 * each with +-10% jitter.  Counts c's share of requests in each second. */
struct sim_done { uint64_t at; struct server *s; uint64_t ttfb; };

static void heap_push(struct sim_done *h, size_t *n, struct sim_done d)
{
	size_t i = (*n)++;
	for (; i > 0 && h[(i - 1) / 2].at > d.at; i = (i - 1) / 2)
		h[i] = h[(i - 1) / 2];
	h[i] = d;
}

static struct sim_done heap_pop(struct sim_done *h, size_t *n)
{
	struct sim_done top = h[0], last = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1].at < h[c].at)
			c++;
		if (h[c].at >= last.at)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = last;
	return top;
}

static void simulate(struct pool *p, double rate, uint64_t recover, int seconds, double share[])
{
	static struct sim_done heap[100000];
	size_t n = 0;
	unsigned to_c[64] = { 0 }, all[64] = { 0 };
	struct rng r;
	rng_seed(&r, 99);
	uint64_t t = 0, end = (uint64_t)seconds * SEC;
	while (t < end) {
		t += (uint64_t)(-log(1 - rng_double(&r)) / rate * SEC);
		while (n > 0 && heap[0].at <= t) {
			struct sim_done d = heap_pop(heap, &n);
			lb_observe(d.s, d.ttfb, d.at);
			d.s->inflight--;
		}
		struct server *s = lb_pick(p, NULL, t, NULL);
		bool slow = s == &p->servers[2] && t < recover;
		uint64_t ttfb = (uint64_t)((slow ? 20 : 2) * MS * (0.9 + 0.2 * rng_double(&r)));
		s->inflight++;
		heap_push(heap, &n, (struct sim_done){ t + ttfb, s, ttfb });
		to_c[t / SEC] += s == &p->servers[2];
		all[t / SEC]++;
	}
	for (int i = 0; i < seconds; i++)
		share[i] = all[i] ? (double)to_c[i] / all[i] : 0;
}

TEST(ewma_keeps_a_slow_server_nearly_idle_and_brings_it_back_when_it_recovers)
{
	struct pool *p = pool_of(LB_EWMA, 11, W(1, 1, 1));
	double share[40];
	simulate(p, 1500, 20ull * SEC, 40, share);
	double slow = 0;
	for (int i = 5; i < 20; i++)
		slow += share[i] / 15;
	printf("# share of the slow server, seconds 5-20: %.2f%%; after it recovers at 20 s:", 100 * slow);
	for (int i = 20; i < 32; i++)
		printf(" %.0f", 100 * share[i]);
	printf(" %%\n");
	CHECK(slow < 0.01);                 /* under 1% of requests: p99 is not its */
	CHECK(share[29] > 0.20);            /* 10 s after: toward a third */
	pool_free(p);
}

/* ---- hash ------------------------------------------------------------------- */

TEST(hash_sends_the_same_key_to_the_same_server)
{
	struct pool *p = pool_of(LB_HASH, 1, W(1, 1, 1, 1));
	for (int k = 0; k < 50; k++) {
		struct lb_req rq = { .msg = request("/item/%d?session=%d", k, 1) };
		struct server *first = lb_pick(p, &rq, 0, NULL);
		rq.msg = request("/item/%d?session=%d", k, 2);     /* the query is not part of the key */
		CHECK(lb_pick(p, &rq, 0, NULL) == first);
	}
	p->hash_key = HASH_SOURCE;
	struct addr a, b;
	char e[NET_ERRLEN];
	CHECK(addr_parse("10.1.2.3:40000", -1, &a, e) == 0 && addr_parse("[::ffff:10.1.2.3]:50000", -1, &b, e) == 0);
	struct lb_req ra = { .client = &a }, rb = { .client = &b };
	CHECK(lb_pick(p, &ra, 0, NULL) == lb_pick(p, &rb, 0, NULL));   /* IPv4-mapped = IPv4 */
	pool_free(p);
}

TEST(hash_shares_keys_by_weight)
{
	struct pool *p = pool_of(LB_HASH, 1, W(1, 2, 1));
	unsigned count[3] = { 0 };
	for (int k = 0; k < 10000; k++) {
		struct lb_req rq = { .msg = request("/k/%d", k) };
		count[lb_pick(p, &rq, 0, NULL) - p->servers]++;
	}
	printf("# weights 1:2:1 -> %u %u %u of 10000 keys\n", count[0], count[1], count[2]);
	CHECK(count[0] > 2100 && count[0] < 2900);
	CHECK(count[1] > 4500 && count[1] < 5500);
	CHECK(count[2] > 2100 && count[2] < 2900);
	pool_free(p);
}

TEST(removing_one_of_four_servers_moves_only_its_share_of_the_keys)
{
	struct pool *four = pool_of(LB_HASH, 1, W(1, 1, 1, 1)), *three = pool_of(LB_HASH, 1, W(1, 1, 1));
	unsigned moved = 0, moved_mod = 0, wrongly = 0;
	for (int k = 0; k < 10000; k++) {
		struct lb_req rq = { .msg = request("/k/%d", k) };
		char before = lb_pick(four, &rq, 0, NULL)->name[0], after = lb_pick(three, &rq, 0, NULL)->name[0];
		moved += before != after;
		wrongly += before != after && before != 'd';   /* only d's keys may move */
		uint64_t h = lb_hash(http_target(rq.msg), strlen(http_target(rq.msg)));
		moved_mod += h % 4 != h % 3;
	}
	printf("# 4 -> 3 servers, 10000 keys: the ring moves %.1f%%, hash modulo N would move %.1f%%\n",
	       moved / 100.0, moved_mod / 100.0);
	CHECK(moved <= 3000);
	CHECK(moved_mod >= 7000);
	CHECK_INT(wrongly, 0);
	pool_free(four);
	pool_free(three);
}

TEST(a_down_server_hands_its_keys_to_the_others_and_no_other_key_moves)
{
	struct pool *p = pool_of(LB_HASH, 1, W(1, 1, 1, 1));
	char before[2000];
	for (int k = 0; k < 2000; k++) {
		struct lb_req rq = { .msg = request("/k/%d", k) };
		before[k] = lb_pick(p, &rq, 0, NULL)->name[0];
	}
	p->servers[2].down_until = 100;
	p->nout = 1;
	unsigned got[4] = { 0 }, others_moved = 0;
	for (int k = 0; k < 2000; k++) {
		struct lb_req rq = { .msg = request("/k/%d", k) };
		char now = lb_pick(p, &rq, 10, NULL)->name[0];
		if (before[k] == 'c')
			got[now - 'a']++;
		else
			others_moved += now != before[k];
	}
	CHECK_INT(others_moved, 0);
	CHECK_INT(got[2], 0);
	CHECK(got[0] > 50 && got[1] > 50 && got[3] > 50);   /* spread, not all on one */
	pool_free(p);
}

TEST(hash_why_lines_show_the_key_and_a_missing_key_picks_in_turn)
{
	struct pool *p = pool_of(LB_HASH, 1, W(1, 1));
	p->hash_key = HASH_HEADER;
	p->hash_header = "X-User";
	struct buf b = BUF_INIT;
	struct lb_req rq = { .msg = request_with("X-User: alice\r\n", "/") };
	struct server *s = lb_pick(p, &rq, 0, &b);
	buf_append(&b, "", 1);
	char want[128];
	snprintf(want, sizeof(want), "hash:header:X-User 'alice' -> %s on the ring", s->name);
	CHECK_STR(buf_begin(&b), want);
	buf_clear(&b);
	rq.msg = request("/");
	lb_pick(p, &rq, 0, &b);
	buf_append(&b, "", 1);
	CHECK_STR(buf_begin(&b), "hash:header:X-User: no X-User header: next in turn");
	const char *turns = picks(p, 4);
	CHECK(strcmp(turns, "abab") == 0 || strcmp(turns, "baba") == 0);
	buf_clear(&b);
	rq.msg = request_with("X-User: alice\r\n", "/");
	struct server *set[] = { s };
	rq.tried = set;
	rq.ntried = 1;
	lb_pick(p, &rq, 0, &b);                    /* a retry: the next server on the ring */
	buf_append(&b, "", 1);
	snprintf(want, sizeof(want), "hash:header:X-User 'alice' -> %s, next on the ring after %s; skipped %s (just failed)",
	         s == &p->servers[0] ? "b" : "a", s->name, s->name);
	CHECK_STR(buf_begin(&b), want);
	p->hash_header = NULL;
	buf_free(&b);
	pool_free(p);
}

TEST(weights_shape_every_algorithm)
{
	enum lb_algo algos[] = { LB_ROUNDROBIN, LB_LEASTCONN, LB_RANDOM, LB_EWMA, LB_HASH };
	for (size_t a = 0; a < 5; a++) {
		struct pool *p = pool_of(algos[a], 5, W(3, 1));
		unsigned heavy = 0;
		/* twelve requests in flight, all answering in 1 ms */
		struct server *ring[12] = { NULL };
		for (int i = 0; i < 4000; i++) {
			struct lb_req rq = { .msg = request("/k/%d", i) };
			if (ring[i % 12] != NULL)
				ring[i % 12]->inflight--;
			struct server *s = lb_pick(p, &rq, 0, NULL);
			lb_observe(s, 1 * MS, 0);
			s->inflight++;
			ring[i % 12] = s;
			heavy += s == &p->servers[0];
		}
		printf("# %s, weights 3:1: %.1f%% to the heavy one\n", lb_algo_name(algos[a]), heavy / 40.0);
		/* ewma's cost, time x (in flight + 1) / weight, leans further to
		 * the heavy server at low concurrency (at none, it takes all) */
		if (algos[a] == LB_EWMA)
			CHECK(heavy > 2800 && heavy < 3400);
		else
			CHECK(heavy > 2850 && heavy < 3150);
		pool_free(p);
	}
}

int main(void)
{
	RUN(roundrobin_follows_nginx_smooth_weighted_order);
	RUN(roundrobin_gives_each_server_its_weight_share_exactly);
	RUN(roundrobin_ignores_requests_in_flight);
	RUN(leastconn_picks_the_server_with_fewest_in_flight);
	RUN(leastconn_breaks_ties_in_weighted_turn);
	RUN(leastconn_counts_in_flight_per_unit_of_weight);
	RUN(leastconn_with_requests_finishing_spreads_the_load);
	RUN(random_is_reproducible_with_a_seed);
	RUN(random_spreads_idle_requests_by_weight);
	RUN(random_never_picks_the_busiest_of_three_servers);
	RUN(why_lines_say_how_the_server_was_chosen);
	RUN(why_lines_name_four_servers_at_most);
	RUN(an_empty_pool_gives_no_server);
	RUN(a_retry_never_goes_back_to_a_server_the_request_tried);
	RUN(a_request_that_tried_every_server_gets_none);
	RUN(servers_checked_down_are_skipped_and_named);
	RUN(down_servers_are_skipped_until_their_time_is_up);
	RUN(when_every_server_is_down_they_are_tried_anyway);
	RUN(random_counts_in_flight_per_unit_of_weight);
	RUN(ewma_picks_the_lower_of_two_costs_time_times_load);
	RUN(ewma_why_line_shows_both_candidates_costs);
	RUN(ewma_jumps_up_to_a_slow_answer_and_comes_down_with_time);
	RUN(ewma_an_idle_servers_estimate_decays_with_time_alone);
	RUN(ewma_a_busy_server_forgets_a_spike_within_dozens_of_answers);
	RUN(ewma_tries_an_idle_slow_server_again_once_its_estimate_has_decayed);
	RUN(ewma_tries_a_server_with_no_answer_yet_but_does_not_pile_on_it);
	RUN(ewma_keeps_a_slow_server_nearly_idle_and_brings_it_back_when_it_recovers);
	RUN(hash_sends_the_same_key_to_the_same_server);
	RUN(hash_shares_keys_by_weight);
	RUN(removing_one_of_four_servers_moves_only_its_share_of_the_keys);
	RUN(a_down_server_hands_its_keys_to_the_others_and_no_other_key_moves);
	RUN(hash_why_lines_show_the_key_and_a_missing_key_picks_in_turn);
	RUN(weights_shape_every_algorithm);
	return t_done();
}
