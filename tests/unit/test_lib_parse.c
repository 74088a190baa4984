/* Unit tests for lib/net.c and lib/cli.c: addresses, CIDR ranges, numbers,
 * durations, sizes and probabilities as users write them. */
#include "cli.h"
#include "net.h"
#include "t.h"

static const char *roundtrip(const char *in)
{
	static char out[ADDR_STRLEN];
	static char err[NET_ERRLEN];
	struct addr a;
	if (addr_parse(in, -1, &a, err) < 0)
		return err;
	return addr_format(&a, out);
}

TEST(addresses_parse_and_print_back)
{
	CHECK_STR(roundtrip("127.0.0.1:9001"), "127.0.0.1:9001");
	CHECK_STR(roundtrip("[::1]:8080"), "[::1]:8080");
	CHECK_STR(roundtrip("0.0.0.0:0"), "0.0.0.0:0");
	const char *local = roundtrip("localhost:80");
	CHECK(strcmp(local, "127.0.0.1:80") == 0 || strcmp(local, "[::1]:80") == 0);
}

TEST(bad_addresses_say_what_was_expected)
{
	char err[NET_ERRLEN];
	struct addr a;
	CHECK(addr_parse("127.0.0.1", -1, &a, err) < 0);
	CHECK(strstr(err, "port is missing") != NULL);
	CHECK(addr_parse("127.0.0.1:99999", -1, &a, err) < 0);
	CHECK(strstr(err, "invalid port") != NULL);
	CHECK(addr_parse("::1:80", -1, &a, err) < 0);
	CHECK(strstr(err, "[ADDRESS]:PORT") != NULL);
	CHECK(addr_parse("[::1", -1, &a, err) < 0);
	CHECK(addr_parse(":80", -1, &a, err) < 0);
	CHECK(addr_parse("127.0.0.1:8o", -1, &a, err) < 0);
	CHECK(addr_parse("127.0.0.1", 80, &a, err) == 0);
	CHECK_INT(addr_port(&a), 80);
}

static bool in(const char *range, const char *ip_port)
{
	char err[NET_ERRLEN];
	struct cidr c;
	struct addr a;
	if (cidr_parse(range, &c, err) < 0 || addr_parse(ip_port, -1, &a, err) < 0)
		return false;
	return cidr_match(&c, &a);
}

TEST(cidr_ranges_match_the_addresses_inside_them)
{
	CHECK(in("127.0.0.0/8", "127.1.2.3:1"));
	CHECK(!in("127.0.0.0/8", "128.0.0.1:1"));
	CHECK(in("10.1.2.3", "10.1.2.3:1"));
	CHECK(!in("10.1.2.3", "10.1.2.4:1"));
	CHECK(in("192.168.0.0/23", "192.168.1.255:1"));
	CHECK(!in("192.168.0.0/23", "192.168.2.0:1"));
	CHECK(in("0.0.0.0/0", "8.8.8.8:1"));
	CHECK(in("::1/128", "[::1]:1"));
	CHECK(in("127.0.0.0/8", "[::ffff:127.0.0.5]:1"));
	CHECK(!in("::1/128", "127.0.0.1:1"));
}

TEST(bad_cidr_ranges_are_refused)
{
	char err[NET_ERRLEN];
	struct cidr c;
	CHECK(cidr_parse("10.0.0.0/33", &c, err) < 0);
	CHECK(cidr_parse("10.0.0.0/", &c, err) < 0);
	CHECK(cidr_parse("10.0.0/8", &c, err) < 0);
	CHECK(cidr_parse("::1/129", &c, err) < 0);
	CHECK(cidr_parse("", &c, err) < 0);
}

TEST(durations_take_units)
{
	uint64_t us;
	char err[CLI_ERRLEN];
	CHECK(parse_duration_us("250ms", &us, err) == 0 && us == 250000);
	CHECK(parse_duration_us("10s", &us, err) == 0 && us == 10000000);
	CHECK(parse_duration_us("1.5s", &us, err) == 0 && us == 1500000);
	CHECK(parse_duration_us("2m", &us, err) == 0 && us == 120000000);
	CHECK(parse_duration_us("1h", &us, err) == 0 && us == 3600000000u);
	CHECK(parse_duration_us("100us", &us, err) == 0 && us == 100);
	CHECK(parse_duration_us("-1s", &us, err) < 0);
	CHECK(parse_duration_us("1e3", &us, err) < 0);
	CHECK(parse_duration_us("10 s", &us, err) < 0);
	CHECK(parse_duration_us("10x", &us, err) < 0);
	CHECK(parse_duration_us("10q", &us, err) < 0);
	CHECK_STR(err, "'10q' is not a duration (units: us, ms, s, m, h)");
	CHECK(parse_duration_us("2d", &us, err) < 0);
	CHECK(parse_duration_us("", &us, err) < 0);
	CHECK(parse_duration_us("25h", &us, err) < 0);
	CHECK_STR(err, "'25h' is longer than a day");
}

TEST(a_bare_number_is_not_a_duration_except_zero)
{
	uint64_t us = 1;
	char err[CLI_ERRLEN];
	CHECK(parse_duration_us("5", &us, err) < 0);
	CHECK_STR(err, "'5' needs a unit: 5ms or 5s");
	CHECK(parse_duration_us("0.5", &us, err) < 0);
	CHECK(parse_duration_us("0", &us, err) == 0 && us == 0);
	CHECK(parse_duration_us("0ms", &us, err) == 0 && us == 0);
}

TEST(sizes_take_binary_units)
{
	uint64_t n;
	CHECK(parse_size("512", &n) == 0 && n == 512);
	CHECK(parse_size("16k", &n) == 0 && n == 16384);
	CHECK(parse_size("16KiB", &n) == 0 && n == 16384);
	CHECK(parse_size("1M", &n) == 0 && n == 1048576);
	CHECK(parse_size("1.5k", &n) == 0 && n == 1536);
	CHECK(parse_size("0.3", &n) < 0);
	CHECK(parse_size("1T", &n) < 0);
	CHECK(parse_size("k", &n) < 0);
}

TEST(whole_numbers_are_range_checked)
{
	uint64_t n;
	CHECK(parse_uint("42", 1, 100, &n) == 0 && n == 42);
	CHECK(parse_uint("0", 1, 100, &n) < 0);
	CHECK(parse_uint("101", 1, 100, &n) < 0);
	CHECK(parse_uint("-1", 0, 100, &n) < 0);
	CHECK(parse_uint("4x", 0, 100, &n) < 0);
	CHECK(parse_uint("99999999999999999999999", 0, UINT64_MAX, &n) < 0);
}

TEST(probabilities_are_fractions_or_percentages)
{
	double p;
	CHECK(parse_prob("0.25", &p) == 0 && p == 0.25);
	CHECK(parse_prob("25%", &p) == 0 && p == 0.25);
	CHECK(parse_prob("1", &p) == 0 && p == 1.0);
	CHECK(parse_prob("1.5", &p) < 0);
	CHECK(parse_prob("150%", &p) < 0);
	CHECK(parse_prob("nan", &p) < 0);
}

int main(void)
{
	RUN(addresses_parse_and_print_back);
	RUN(bad_addresses_say_what_was_expected);
	RUN(cidr_ranges_match_the_addresses_inside_them);
	RUN(bad_cidr_ranges_are_refused);
	RUN(durations_take_units);
	RUN(a_bare_number_is_not_a_duration_except_zero);
	RUN(sizes_take_binary_units);
	RUN(whole_numbers_are_range_checked);
	RUN(probabilities_are_fractions_or_percentages);
	return t_done();
}
