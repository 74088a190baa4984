/*
 * test_mockserver_route.c - the pure helpers of mockserver/route.c: which
 * endpoint a target names, query strings, the Luhn check, raw file names.
 */
#include "t.h"

#include "../../mockserver/mockserver.h"

TEST(the_root_path_is_hello)
{
	struct route r;
	route_parse("/", &r);
	CHECK_INT(r.ep, EP_HELLO);
	route_parse("/?x=1", &r);
	CHECK_INT(r.ep, EP_HELLO);
}

TEST(status_takes_a_code_from_200_to_599)
{
	struct route r;
	route_parse("/status/404", &r);
	CHECK_INT(r.ep, EP_STATUS);
	CHECK_INT(r.n, 404);
	route_parse("/status/199", &r);
	CHECK_INT(r.ep, EP_BAD);
	route_parse("/status/600", &r);
	CHECK_INT(r.ep, EP_BAD);
	route_parse("/status/", &r);
	CHECK_INT(r.ep, EP_BAD);
	route_parse("/status/20x", &r);
	CHECK_INT(r.ep, EP_BAD);
	route_parse("/status/-200", &r);
	CHECK_INT(r.ep, EP_BAD);
}

TEST(numbers_too_long_for_64_bits_are_refused)
{
	struct route r;
	route_parse("/bytes/99999999999999999999999", &r);
	CHECK_INT(r.ep, EP_BAD);
	route_parse("/delay/18446744073709551616", &r);
	CHECK_INT(r.ep, EP_BAD);
}

TEST(chunked_reads_its_size_from_the_query)
{
	struct route r;
	route_parse("/chunked/100?size=7", &r);
	CHECK_INT(r.ep, EP_CHUNKED);
	CHECK_INT(r.n, 100);
	CHECK_INT(r.size, 7);
	route_parse("/chunked/100", &r);
	CHECK_INT(r.size, DEFAULT_CHUNK);
	route_parse("/chunked/100?size=0", &r);
	CHECK_INT(r.ep, EP_BAD);
	route_parse("/chunked/100?size=", &r);
	CHECK_INT(r.ep, EP_BAD);
}

TEST(drip_has_defaults_and_reads_bytes_and_ms)
{
	struct route r;
	route_parse("/drip", &r);
	CHECK_INT(r.ep, EP_DRIP);
	CHECK_INT(r.n, DEFAULT_DRIP_BYTES);
	CHECK_INT(r.ms, DEFAULT_DRIP_MS);
	route_parse("/drip?ms=5&bytes=3", &r);
	CHECK_INT(r.n, 3);
	CHECK_INT(r.ms, 5);
	route_parse("/drip?ms=600001", &r);
	CHECK_INT(r.ep, EP_BAD);
}

TEST(absolute_form_targets_route_by_their_path)
{
	struct route r;
	route_parse("http://example.com/echo?a=1", &r);
	CHECK_INT(r.ep, EP_ECHO);
	route_parse("http://example.com", &r);
	CHECK_INT(r.ep, EP_HELLO);
}

/* Found by fuzzing (tests/fuzz/corpus/mockserver_route/regress-no-path):
 * without a path, the path pointed to a string outside the target (and
 * the query was dropped). */
TEST(an_absolute_form_target_without_a_path_routes_to_hello_within_the_target)
{
	struct route r;
	const char *t = "http://example.com?size=3";
	route_parse(t, &r);
	CHECK_INT(r.ep, EP_HELLO);
	CHECK(r.path >= t && r.path <= t + strlen(t));
	route_parse("http://h.example?bytes=4&ms=0", &r);
	CHECK_INT(r.ep, EP_HELLO);
	route_parse("http://h.example/drip?bytes=4&ms=0", &r);
	CHECK_INT(r.ep, EP_DRIP);
	CHECK_INT(r.n, 4);
}

TEST(unknown_paths_and_near_misses_are_not_found)
{
	struct route r;
	const char *misses[] = { "/echo/", "/echoes", "/STATS", "//", "/status", "*", "", "/hang/1" };
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		route_parse(misses[i], &r);
		CHECK(r.ep == EP_NOT_FOUND);
	}
}

TEST(every_plain_endpoint_is_found)
{
	struct { const char *t; enum endpoint ep; } cases[] = {
		{ "/echo", EP_ECHO }, { "/leak", EP_LEAK }, { "/close", EP_CLOSE }, { "/drop", EP_DROP },
		{ "/reset", EP_RESET }, { "/hang", EP_HANG }, { "/stats", EP_STATS }, { "/health", EP_HEALTH },
		{ "/headers/3", EP_HEADERS }, { "/bytes/0", EP_BYTES }, { "/delay/0", EP_DELAY },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route r;
		route_parse(cases[i].t, &r);
		CHECK_INT(r.ep, cases[i].ep);
	}
}

TEST(raw_file_names_must_be_plain)
{
	struct route r;
	route_parse("/raw/cl-te.http", &r);
	CHECK_INT(r.ep, EP_RAW);
	CHECK_INT(r.file_len, 10);
	const char *bad[] = { "/raw/../etc/passwd", "/raw/..", "/raw/.", "/raw/", "/raw/a/b", "/raw/.hidden",
	                      "/raw/%2e%2e", "/raw/a\\b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		route_parse(bad[i], &r);
		CHECK(r.ep == EP_BAD);
	}
}

TEST(query_get_finds_keys_and_empty_values)
{
	const char *q = "a=1&bb=&c&d=4";
	const char *v;
	size_t n;
	CHECK(query_get(q, strlen(q), "a", &v, &n) && n == 1 && v[0] == '1');
	CHECK(query_get(q, strlen(q), "bb", &v, &n) && n == 0);
	CHECK(query_get(q, strlen(q), "c", &v, &n) && n == 0);
	CHECK(query_get(q, strlen(q), "d", &v, &n) && n == 1 && v[0] == '4');
	CHECK(!query_get(q, strlen(q), "b", &v, &n));
	CHECK(!query_get("", 0, "a", &v, &n));
}

TEST(leak_reads_chunked_split_and_ms_from_the_query)
{
	struct route r;
	route_parse("/leak", &r);
	CHECK_INT(r.ep, EP_LEAK);
	CHECK_INT(r.n, 0);
	CHECK(!r.chunked);
	route_parse("/leak?chunked=1&split=5&ms=20", &r);
	CHECK_INT(r.ep, EP_LEAK);
	CHECK(r.chunked);
	CHECK_INT(r.n, 5);
	CHECK_INT(r.ms, 20);
	const char *bad[] = { "/leak?chunked=2", "/leak?split=0", "/leak?split=65", "/leak?split=x",
	                      "/leak?ms=60001", "/leak?chunked=" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		route_parse(bad[i], &r);
		CHECK(r.ep == EP_BAD);
	}
}

TEST(the_leak_near_misses_come_in_pairs_and_include_luhn_failures)
{
	size_t n = 0;
	while (leak_near_misses[n] != NULL)
		n++;
	CHECK(n > 0 && n % 2 == 0);
	CHECK(!luhn_valid(leak_near_misses[1]));
	CHECK(luhn_valid(leak_near_misses[3]));   /* valid, but no network starts with 9 */
}

TEST(luhn_accepts_the_leak_cards_and_refuses_typos)
{
	for (size_t i = 0; leak_cards[i] != NULL; i++)
		CHECK(luhn_valid(leak_cards[i]));
	CHECK(!luhn_valid("4111 1111 1111 1112"));
	CHECK(!luhn_valid("4111-1111-1111-111x"));
	CHECK(!luhn_valid("0"));
	CHECK(luhn_valid("79927398713"));
}

int main(void)
{
	RUN(the_root_path_is_hello);
	RUN(status_takes_a_code_from_200_to_599);
	RUN(numbers_too_long_for_64_bits_are_refused);
	RUN(chunked_reads_its_size_from_the_query);
	RUN(drip_has_defaults_and_reads_bytes_and_ms);
	RUN(absolute_form_targets_route_by_their_path);
	RUN(an_absolute_form_target_without_a_path_routes_to_hello_within_the_target);
	RUN(unknown_paths_and_near_misses_are_not_found);
	RUN(every_plain_endpoint_is_found);
	RUN(raw_file_names_must_be_plain);
	RUN(query_get_finds_keys_and_empty_values);
	RUN(leak_reads_chunked_split_and_ms_from_the_query);
	RUN(the_leak_near_misses_come_in_pairs_and_include_luhn_failures);
	RUN(luhn_accepts_the_leak_cards_and_refuses_typos);
	return t_done();
}
