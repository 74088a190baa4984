/*
 * test_proxy_iplimit.c - step 1, per-client limits (proxy/iplimit.c):
 * concurrent connections, connection and request rates per address group
 * (/32, /64, or as configured), Retry-After seconds, rate parsing, and a
 * table that stays bounded while a client sprays addresses.  Time is
 * passed in: nothing here sleeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../proxy/iplimit.h"
#include "../../proxy/proxy.h"
#include "t.h"

/* main.c's process state, left out of unit tests (see test_proxy_lb.c). */
__attribute__((weak)) struct proxy P;

#define MS 1000000ull
#define S  1000000000ull

static struct addr ip(const char *s)
{
	struct addr a;
	char err[NET_ERRLEN];
	if (addr_parse(s, 0, &a, err) < 0) {
		printf("# %s\n", err);
		abort();
	}
	return a;
}

static struct iplimit *table(uint32_t max_conns, const char *conn_rate, const char *req_rate, size_t max_clients)
{
	struct iplimit_config cfg;
	const char *why;
	iplimit_config_init(&cfg);
	cfg.max_conns = max_conns;
	if (limit_rate_parse(conn_rate, &cfg.conn_rate, &why) < 0 || limit_rate_parse(req_rate, &cfg.req_rate, &why) < 0)
		abort();
	cfg.max_clients = max_clients;
	return iplimit_new(&cfg, (const unsigned char *)"0123456789abcdef");
}

TEST(a_client_may_hold_max_conns_connections_and_no_more)
{
	struct iplimit *l = table(2, "0", "0", 16);
	struct addr a = ip("10.0.0.1");
	unsigned wait = 99;
	CHECK_INT(iplimit_connect(l, &a, 0, &wait), LIMIT_OK);
	CHECK_INT(wait, 0);
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a, 0, &wait), LIMIT_CONNS);
	CHECK_INT(wait, 0);
	CHECK_INT(iplimit_open(l, &a), 2);
	iplimit_disconnect(l, &a);
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	iplimit_free(l);
}

TEST(each_ipv4_address_has_its_own_limit_by_default)
{
	struct iplimit *l = table(1, "0", "0", 16);
	struct addr a = ip("10.0.0.1"), b = ip("10.0.0.2"), a_other_port = ip("10.0.0.1:4000");
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &b, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a_other_port, 0, NULL), LIMIT_CONNS);
	iplimit_free(l);
}

TEST(addresses_in_one_ipv6_slash_64_share_a_limit)
{
	struct iplimit *l = table(1, "0", "0", 16);
	struct addr a = ip("[2001:db8:1:2::1]:1"), b = ip("[2001:db8:1:2:ffff:eeee:dddd:cccc]:1"),
	            c = ip("[2001:db8:1:3::1]:1");
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &b, 0, NULL), LIMIT_CONNS);
	CHECK_INT(iplimit_connect(l, &c, 0, NULL), LIMIT_OK);
	iplimit_free(l);
}

TEST(the_prefixes_are_configurable)
{
	struct iplimit_config cfg;
	iplimit_config_init(&cfg);
	cfg.max_conns = 1;
	cfg.prefix4 = 24;
	cfg.prefix6 = 48;
	struct iplimit *l = iplimit_new(&cfg, NULL);
	struct addr a = ip("192.0.2.1"), b = ip("192.0.2.200"), c = ip("192.0.3.1");
	struct addr d = ip("[2001:db8:1:2::1]:1"), e = ip("[2001:db8:1:ffff::1]:1");
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &b, 0, NULL), LIMIT_CONNS);
	CHECK_INT(iplimit_connect(l, &c, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &d, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &e, 0, NULL), LIMIT_CONNS);
	iplimit_free(l);
	cfg.prefix4 = 33;
	CHECK(iplimit_new(&cfg, NULL) == NULL);
}

TEST(an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address)
{
	struct iplimit *l = table(1, "0", "0", 16);
	struct addr a = ip("10.1.2.3"), b = ip("[::ffff:10.1.2.3]:1");
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &b, 0, NULL), LIMIT_CONNS);
	iplimit_free(l);
}

TEST(the_connection_rate_lets_a_burst_through_then_one_per_interval)
{
	struct iplimit *l = table(0, "10/s:3", "0", 16);
	struct addr a = ip("10.0.0.1");
	unsigned wait;
	for (int i = 0; i < 3; i++)
		CHECK_INT(iplimit_connect(l, &a, 5 * S, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a, 5 * S, &wait), LIMIT_CONN_RATE);
	CHECK_INT(wait, 1);
	CHECK_INT(iplimit_connect(l, &a, 5 * S + 99 * MS, NULL), LIMIT_CONN_RATE);
	CHECK_INT(iplimit_connect(l, &a, 5 * S + 100 * MS, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a, 5 * S + 100 * MS, NULL), LIMIT_CONN_RATE);
	/* Quiet for a while: the whole burst again, not more. */
	for (int i = 0; i < 3; i++)
		CHECK_INT(iplimit_connect(l, &a, 60 * S, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a, 60 * S, NULL), LIMIT_CONN_RATE);
	iplimit_free(l);
}

TEST(the_request_rate_says_how_many_seconds_to_wait)
{
	struct iplimit *l = table(0, "0", "2/m", 16);
	struct addr a = ip("10.0.0.1");
	unsigned wait;
	CHECK_INT(iplimit_request(l, &a, 0, &wait), LIMIT_OK);
	CHECK_INT(iplimit_request(l, &a, 0, &wait), LIMIT_REQ_RATE);
	CHECK_INT(wait, 30);
	CHECK_INT(iplimit_request(l, &a, 29 * S + 1, &wait), LIMIT_REQ_RATE);
	CHECK_INT(wait, 1);                       /* rounded up, never 0 */
	CHECK_INT(iplimit_request(l, &a, 30 * S, &wait), LIMIT_OK);
	iplimit_free(l);
}

TEST(refused_requests_use_no_tokens)
{
	struct iplimit *l = table(0, "0", "10/s:1", 16);
	struct addr a = ip("10.0.0.1");
	CHECK_INT(iplimit_request(l, &a, 0, NULL), LIMIT_OK);
	for (int i = 0; i < 100; i++)
		CHECK_INT(iplimit_request(l, &a, 50 * MS, NULL), LIMIT_REQ_RATE);
	CHECK_INT(iplimit_request(l, &a, 100 * MS, NULL), LIMIT_OK);
	iplimit_free(l);
}

TEST(a_connection_over_max_conns_uses_no_rate_token)
{
	struct iplimit *l = table(1, "1/s:1", "0", 16);
	struct addr a = ip("10.0.0.1");
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a, 2 * S, NULL), LIMIT_CONNS);
	iplimit_disconnect(l, &a);
	CHECK_INT(iplimit_connect(l, &a, 2 * S, NULL), LIMIT_OK);
	iplimit_free(l);
}

TEST(rates_parse_with_units_and_bursts)
{
	struct limit_rate r;
	const char *why = NULL;
	CHECK_INT(limit_rate_parse("10/s", &r, &why), 0);
	CHECK_INT(r.interval_ns, 100 * MS);
	CHECK_INT(r.burst, 10);
	CHECK_INT(limit_rate_parse("10/s:25", &r, &why), 0);
	CHECK_INT(r.burst, 25);
	CHECK_INT(limit_rate_parse("30/m", &r, &why), 0);
	CHECK_INT(r.interval_ns, 2 * S);
	CHECK_INT(r.burst, 1);
	CHECK_INT(limit_rate_parse("7200/h", &r, &why), 0);
	CHECK_INT(r.interval_ns, 500 * MS);
	CHECK_INT(r.burst, 2);
	CHECK_INT(limit_rate_parse("0", &r, &why), 0);
	CHECK_INT(r.interval_ns, 0);
	static const char *const bad[] = { "", "10", "10/", "10/x", "0/s", "-1/s", "10/s:", "10/s:0", "10/s:5x",
	                                   "1000001/s", "10/sec", "99999999999999999999/s", " 10/s" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK_INT(limit_rate_parse(bad[i], &r, &why), -1);
		CHECK(why != NULL);
	}
}

TEST(a_rate_prints_as_it_parses_back)
{
	static const char *const in[] = { "10/s", "10/s:25", "30/m", "7200/h", "7/h:3", "120/m", "999999/s", "0" };
	static const char *const out[] = { "10/s:10", "10/s:25", "30/m:1", "2/s:2", "7/h:3", "2/s:2", "1000000/s:1000000", "0" };
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct limit_rate r, back;
		char s[LIMIT_RATE_STRLEN];
		const char *why;
		CHECK_INT(limit_rate_parse(in[i], &r, &why), 0);
		CHECK_STR(limit_rate_format(&r, s), out[i]);
		CHECK_INT(limit_rate_parse(s, &back, &why), 0);
		CHECK(back.interval_ns == r.interval_ns && back.burst == r.burst);
	}
}

TEST(a_group_prints_as_its_network_and_prefix)
{
	struct iplimit_config cfg;
	char s[IPLIMIT_GROUP_STRLEN];
	iplimit_config_init(&cfg);
	cfg.max_conns = 1;
	struct iplimit *l = iplimit_new(&cfg, NULL);
	struct addr a = ip("10.1.2.3"), b = ip("[2001:db8:1:2:3:4:5:6]:1"), c = ip("[::ffff:10.1.2.3]:1");
	CHECK_STR(iplimit_group_format(l, &a, s), "10.1.2.3/32");
	CHECK_STR(iplimit_group_format(l, &b, s), "2001:db8:1:2::/64");
	CHECK_STR(iplimit_group_format(l, &c, s), "10.1.2.3/32");
	iplimit_free(l);
	cfg.prefix4 = 20;
	cfg.prefix6 = 36;
	l = iplimit_new(&cfg, NULL);
	CHECK_STR(iplimit_group_format(l, &a, s), "10.1.0.0/20");
	CHECK_STR(iplimit_group_format(l, &b, s), "2001:db8::/36");
	CHECK_STR(iplimit_group_format(l, &c, s), "10.1.0.0/20");
	iplimit_free(l);
}

/* Connects and disconnects from n distinct addresses 10.x.y.z. */
static void spray(struct iplimit *l, uint32_t n, uint64_t now)
{
	for (uint32_t i = 0; i < n; i++) {
		char s[32];
		snprintf(s, sizeof(s), "10.%u.%u.%u", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
		struct addr a = ip(s);
		if (iplimit_connect(l, &a, now, NULL) == LIMIT_OK)
			iplimit_disconnect(l, &a);
	}
}

TEST(a_client_spraying_addresses_cannot_grow_the_table)
{
	struct iplimit *l = table(1, "1/s:1", "0", 64);
	struct iplimit_stats st;
	spray(l, 100000, 0);
	iplimit_get_stats(l, &st);
	CHECK_INT(st.groups, 64);
	CHECK_INT(st.evicted, 100000 - 64);
	iplimit_free(l);
}

TEST(a_client_with_open_connections_is_never_forgotten)
{
	struct iplimit *l = table(1, "0", "0", 64);
	struct addr victim = ip("192.0.2.7");
	CHECK_INT(iplimit_connect(l, &victim, 0, NULL), LIMIT_OK);
	spray(l, 10000, 0);
	CHECK_INT(iplimit_open(l, &victim), 1);
	CHECK_INT(iplimit_connect(l, &victim, 0, NULL), LIMIT_CONNS);
	iplimit_free(l);
}

TEST(the_group_idle_the_longest_makes_room_first)
{
	struct iplimit *l = table(0, "0", "1/s:1", 2);
	struct addr a = ip("10.0.0.1"), b = ip("10.0.0.2"), c = ip("10.0.0.3");
	CHECK_INT(iplimit_request(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_request(l, &b, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_request(l, &a, 0, NULL), LIMIT_REQ_RATE);   /* a is newer now */
	CHECK_INT(iplimit_request(l, &c, 0, NULL), LIMIT_OK);         /* b makes room  */
	CHECK_INT(iplimit_request(l, &a, 0, NULL), LIMIT_REQ_RATE);   /* a remembered  */
	CHECK_INT(iplimit_request(l, &b, 0, NULL), LIMIT_OK);         /* b forgotten   */
	iplimit_free(l);
}

TEST(a_table_full_of_open_connections_refuses_new_clients)
{
	struct iplimit *l = table(0, "0", "0", 4);
	struct addr a[5] = { ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4"), ip("10.0.0.5") };
	for (int i = 0; i < 4; i++)
		CHECK_INT(iplimit_connect(l, &a[i], 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a[4], 0, NULL), LIMIT_FULL);
	CHECK_INT(iplimit_request(l, &a[4], 0, NULL), LIMIT_FULL);
	iplimit_disconnect(l, &a[2]);
	CHECK_INT(iplimit_connect(l, &a[4], 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_open(l, &a[2]), 0);
	iplimit_free(l);
}

TEST(refusals_are_counted_by_reason)
{
	struct iplimit *l = table(1, "0", "1/s:1", 16);
	struct addr a = ip("10.0.0.1");
	struct iplimit_stats st;
	iplimit_connect(l, &a, 0, NULL);
	iplimit_connect(l, &a, 0, NULL);
	iplimit_request(l, &a, 0, NULL);
	iplimit_request(l, &a, 0, NULL);
	iplimit_request(l, &a, 0, NULL);
	iplimit_get_stats(l, &st);
	CHECK_INT(st.refused[LIMIT_CONNS], 1);
	CHECK_INT(st.refused[LIMIT_REQ_RATE], 2);
	CHECK_INT(st.groups, 1);
	CHECK_STR(limit_verdict_name(LIMIT_CONNS), "max-conns-per-ip");
	iplimit_free(l);
}

TEST(closing_a_connection_that_was_never_counted_is_harmless)
{
	struct iplimit *l = table(1, "0", "0", 16);
	struct addr a = ip("10.0.0.1");
	iplimit_disconnect(l, &a);
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	iplimit_disconnect(l, &a);
	iplimit_disconnect(l, &a);
	CHECK_INT(iplimit_open(l, &a), 0);
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_OK);
	CHECK_INT(iplimit_connect(l, &a, 0, NULL), LIMIT_CONNS);
	iplimit_free(l);
}

TEST(no_limit_configured_means_none_enabled)
{
	struct iplimit_config cfg;
	iplimit_config_init(&cfg);
	CHECK(!iplimit_enabled(&cfg));
	cfg.req_rate.interval_ns = S;
	CHECK(iplimit_enabled(&cfg));
}

int main(void)
{
	RUN(a_client_may_hold_max_conns_connections_and_no_more);
	RUN(a_rate_prints_as_it_parses_back);
	RUN(a_group_prints_as_its_network_and_prefix);
	RUN(each_ipv4_address_has_its_own_limit_by_default);
	RUN(addresses_in_one_ipv6_slash_64_share_a_limit);
	RUN(the_prefixes_are_configurable);
	RUN(an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address);
	RUN(the_connection_rate_lets_a_burst_through_then_one_per_interval);
	RUN(the_request_rate_says_how_many_seconds_to_wait);
	RUN(refused_requests_use_no_tokens);
	RUN(a_connection_over_max_conns_uses_no_rate_token);
	RUN(rates_parse_with_units_and_bursts);
	RUN(a_client_spraying_addresses_cannot_grow_the_table);
	RUN(a_client_with_open_connections_is_never_forgotten);
	RUN(the_group_idle_the_longest_makes_room_first);
	RUN(a_table_full_of_open_connections_refuses_new_clients);
	RUN(refusals_are_counted_by_reason);
	RUN(closing_a_connection_that_was_never_counted_is_harmless);
	RUN(no_limit_configured_means_none_enabled);
	return t_done();
}
