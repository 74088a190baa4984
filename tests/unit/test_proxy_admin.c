/*
 * test_proxy_admin.c - --admin's figures without a network: the per-second
 * telemetry with ticks called by hand (proxy/telemetry.c), and the three
 * documents (proxy/admin_page.c) written from a configuration in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "../../proxy/admin.h"
#include "../../proxy/lb.h"
#include "../../proxy/proxy.h"
#include "../../proxy/telemetry.h"
#include "t.h"

/* The proxy's process state P is defined in main.c, which unit tests leave
 * out (see test_proxy_lb.c). */
__attribute__((weak)) struct proxy P;

#define MS 1000000u

static struct config cfg;

/* A proxy of one pool, b1 and b2, with telemetry started at time 0. */
static void setup(const char *balance)
{
	char err[256];
	char *argv[] = { "proxy", "--listen", "127.0.0.1:0", "--backend", "b1=127.0.0.11:9001",
	                 "--backend", "b2=127.0.0.12:9001*2", "--balance", (char *)balance, NULL };
	if (config_parse_args(&cfg, 9, argv, err, sizeof(err)) != 0) {
		printf("# %s\n", err);
		abort();
	}
	P.cfg = &cfg;
	if (P.loop == NULL && (P.loop = ev_new()) == NULL)
		abort();
	if (telemetry_start(&cfg, NULL, ev_now_ns(P.loop)) < 0)
		abort();
}

static void teardown(void)
{
	telemetry_stop(&cfg, NULL);
	config_free(&cfg);
}

/* A response from s with this time to first byte, counted as step 7 does. */
static void answer(struct server *s, uint64_t ttfb_us, int status)
{
	s->stats.requests++;
	s->stats.by_class[status / 100]++;
	telemetry_response(s, 1000, 1000 + ttfb_us * 1000);
}

static char *page(int (*fn)(struct buf *))
{
	static struct buf b;
	buf_clear(&b);
	CHECK(fn(&b) == 0);
	buf_append(&b, "", 1);
	return buf_begin(&b);
}

TEST(each_tick_closes_a_second_of_counts_and_percentiles)
{
	setup("roundrobin");
	struct server *b1 = &cfg.pools[0].servers[0];
	for (int i = 1; i <= 100; i++)
		answer(b1, (uint64_t)i * 10, 200);      /* 10 us .. 1 ms */
	b1->stats.by_class[0] += 2;                 /* two failures */
	b1->inflight = 4;
	telemetry_tick(&cfg, 0);
	const struct tm_second *s = telemetry_second(b1, 0);
	CHECK(s != NULL);
	CHECK_INT(s->requests, 102);
	CHECK_INT(s->errors, 2);
	CHECK_INT(s->p50_us, 500);
	CHECK_INT(s->p99_us, 990);
	CHECK_INT(s->inflight, 4);
	CHECK(telemetry_second(b1, 1) == NULL);
	CHECK_INT(telemetry_seconds(), 1);
	CHECK_INT(T.requests, 102);
	/* a quiet second */
	telemetry_tick(&cfg, 0);
	CHECK_INT(telemetry_second(b1, 0)->requests, 0);
	CHECK_INT(telemetry_second(b1, 1)->requests, 102);
	teardown();
}

TEST(the_p50_and_p99_shown_cover_the_last_ten_seconds)
{
	setup("roundrobin");
	struct server *b1 = &cfg.pools[0].servers[0];
	for (int i = 0; i < 100; i++)
		answer(b1, 20000, 200);                  /* a slow second: 20 ms */
	telemetry_tick(&cfg, 0);
	CHECK_INT(b1->tm->p99_us, 20000);
	for (int sec = 1; sec < 10; sec++) {         /* then fast: 1 ms */
		for (int i = 0; i < 100; i++)
			answer(b1, 1000, 200);
		telemetry_tick(&cfg, 0);
	}
	CHECK_INT(b1->tm->p99_us, 20000);            /* still in the window */
	CHECK_INT(b1->tm->p50_us, 1000);
	for (int i = 0; i < 100; i++)
		answer(b1, 1000, 200);
	telemetry_tick(&cfg, 0);
	CHECK_INT(b1->tm->p99_us, 1000);             /* the slow second left it */
	CHECK_INT(hist_percentile(&b1->tm->ttfb, 100), 20000);   /* since start: kept */
	teardown();
}

TEST(the_history_keeps_five_minutes_newest_first)
{
	setup("roundrobin");
	struct server *b2 = &cfg.pools[0].servers[1];
	for (int sec = 0; sec < TELEMETRY_HISTORY + 25; sec++) {
		for (int i = 0; i < sec % 7; i++)
			answer(b2, 100, 200);
		telemetry_tick(&cfg, 0);
	}
	CHECK_INT(telemetry_seconds(), TELEMETRY_HISTORY);
	CHECK_INT(telemetry_second(b2, 0)->requests, (TELEMETRY_HISTORY + 24) % 7);
	CHECK_INT(telemetry_second(b2, TELEMETRY_HISTORY - 1)->requests, 25 % 7);
	CHECK(telemetry_second(b2, TELEMETRY_HISTORY) == NULL);
	teardown();
}

TEST(an_answer_feeds_ewma_even_without_admin)
{
	setup("ewma");
	struct server *b1 = &cfg.pools[0].servers[0];
	telemetry_stop(&cfg, NULL);                  /* as without --admin */
	telemetry_response(b1, 1000, 1000 + 3 * MS);
	CHECK(b1->tm == NULL);
	CHECK(lb_ewma_ns(b1, 1000 + 3 * MS) == 3.0 * MS);
	telemetry_response(b1, 5000, 4000);          /* answered before sent: ignored */
	CHECK(lb_ewma_ns(b1, 1000 + 3 * MS) == 3.0 * MS);
	telemetry_start(&cfg, NULL, 0);
	teardown();
}

TEST(the_json_names_pools_servers_and_their_counters)
{
	setup("hash:header:X-User");
	answer(&cfg.pools[0].servers[0], 1500, 200);
	answer(&cfg.pools[0].servers[0], 1500, 503);
	telemetry_tick(&cfg, 0);
	const char *json = page(admin_page_json);
	CHECK(strncmp(json, "{\"proxy\":{\"name\":\"l7lab\",", 25) == 0);
	CHECK(strstr(json, "\"pools\":[{\"name\":\"default\",\"balance\":\"hash:header:X-User\","
	                   "\"retry_budget\":{\"percent\":20,\"min\":3,\"active\":0,\"retrying\":0,\"refused\":0},"
	                   "\"servers_out\":0,\"servers\":[{"
	                   "\"name\":\"b1\",\"address\":\"127.0.0.11:9001\",\"state\":\"up\",\"ejected_for_s\":0,"
	                   "\"fails_in_row\":0,\"ejections_in_row\":0,\"weight\":1,\"in_flight\":0,\"requests\":2,\"errors\":1,") != NULL);
	CHECK(strstr(json, "\"responses\":{\"failed\":0,\"1xx\":0,\"2xx\":1,\"3xx\":0,\"4xx\":0,\"5xx\":1}") != NULL);
	CHECK(strstr(json, "\"history\":{\"seconds\":1,\"requests\":[2],\"errors\":[1],\"p99_ms\":[1.500]}}") != NULL);
	CHECK(strcmp(json + strlen(json) - 4, "}]}\n") == 0);
	teardown();
}

TEST(the_metrics_buckets_are_cumulative_and_end_with_the_count)
{
	setup("ewma");
	struct server *b1 = &cfg.pools[0].servers[0];
	answer(b1, 80, 200);
	answer(b1, 3000, 200);
	answer(b1, 3000, 200);
	answer(b1, 700000, 200);
	const char *m = page(admin_page_metrics);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_bucket{pool=\"default\",server=\"b1\",le=\"0.0001\"} 1\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_bucket{pool=\"default\",server=\"b1\",le=\"0.0025\"} 1\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_bucket{pool=\"default\",server=\"b1\",le=\"0.005\"} 3\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_bucket{pool=\"default\",server=\"b1\",le=\"0.5\"} 3\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_bucket{pool=\"default\",server=\"b1\",le=\"1\"} 4\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_bucket{pool=\"default\",server=\"b1\",le=\"+Inf\"} 4\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_count{pool=\"default\",server=\"b1\"} 4\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ttfb_seconds_sum{pool=\"default\",server=\"b1\"} 0.706080\n") != NULL);
	CHECK(strstr(m, "l7lab_server_weight{pool=\"default\",server=\"b2\"} 2\n") != NULL);
	CHECK(strstr(m, "l7lab_server_ewma_seconds{pool=\"default\",server=\"b1\"} ") != NULL);
	CHECK(strstr(m, "l7lab_server_ewma_seconds{pool=\"default\",server=\"b2\"}") == NULL);   /* no answer yet */
	teardown();
}

TEST(the_dashboard_has_a_row_per_server_and_escapes_what_it_shows)
{
	setup("hash:header:X-A&B");
	struct server *b2 = &cfg.pools[0].servers[1];
	b2->down_until = ev_now_ns(P.loop) + 8500 * (uint64_t)MS;
	answer(&cfg.pools[0].servers[0], 1000, 200);
	telemetry_tick(&cfg, 0);
	const char *html = page(admin_page_html);
	CHECK(strstr(html, "<h2>pool <b>default</b> · hash:header:X-A&amp;B</h2>") != NULL);
	CHECK(strstr(html, "<tr class=\"server up\" id=\"server-default-b1\"><th scope=\"row\">b1</th>") != NULL);
	CHECK(strstr(html, "<tr class=\"server ejected\" id=\"server-default-b2\">") != NULL);
	CHECK(strstr(html, "<td class=\"state\"><strong>ejected</strong> 9s left</td>") != NULL);
	CHECK(strstr(html, "<td class=\"n p50\">1 ms</td>") != NULL);
	CHECK(strstr(html, "<svg class=\"chart rps\"") != NULL);
	CHECK(strstr(html, "<path d=\"M299 32L299 1.0V32Z\"/>") != NULL);   /* one second: full height */
	CHECK(strcmp(html + strlen(html) - 8, "</html>\n") == 0);
	teardown();
}

int main(void)
{
	RUN(each_tick_closes_a_second_of_counts_and_percentiles);
	RUN(the_p50_and_p99_shown_cover_the_last_ten_seconds);
	RUN(the_history_keeps_five_minutes_newest_first);
	RUN(an_answer_feeds_ewma_even_without_admin);
	RUN(the_json_names_pools_servers_and_their_counters);
	RUN(the_metrics_buckets_are_cumulative_and_end_with_the_count);
	RUN(the_dashboard_has_a_row_per_server_and_escapes_what_it_shows);
	ev_free(P.loop);
	return t_done();
}
