/*
 * test_loadgen_url.c - URL parsing, -H checks, and the request bytes.
 */
#include <stdlib.h>

#include "t.h"
#include "../../loadgen/url.h"

static struct url u;
static char err[URL_ERRLEN];

static int parse(const char *s)
{
	url_free(&u);
	err[0] = '\0';
	return url_parse(s, &u, err);
}

TEST(a_plain_url_gives_host_port_and_path)
{
	CHECK(parse("http://127.0.0.1:9001/a/b?x=1") == 0);
	CHECK_STR(u.host, "127.0.0.1");
	CHECK_INT(u.port, 9001);
	CHECK_STR(u.target, "/a/b?x=1");
	CHECK_STR(u.authority, "127.0.0.1:9001");
}

TEST(the_port_defaults_to_80_and_the_path_to_a_slash)
{
	CHECK(parse("http://localhost") == 0);
	CHECK_INT(u.port, 80);
	CHECK_STR(u.target, "/");
	CHECK_STR(u.authority, "localhost");
	CHECK(parse("HTTP://example.test?q") == 0);
	CHECK_STR(u.target, "/?q");
}

TEST(an_ipv6_address_goes_in_brackets)
{
	CHECK(parse("http://[::1]:8080/x") == 0);
	CHECK_STR(u.host, "::1");
	CHECK_INT(u.port, 8080);
	CHECK_STR(u.authority, "[::1]:8080");
	CHECK(parse("http://[::1/") < 0);
	CHECK(parse("http://[::1]x/") < 0);
}

TEST(the_fragment_is_not_sent)
{
	CHECK(parse("http://h:1/p#frag") == 0);
	CHECK_STR(u.target, "/p");
}

TEST(https_is_refused_with_the_reason)
{
	CHECK(parse("https://127.0.0.1/") < 0);
	CHECK(strstr(err, "HTTP/1.x over plain TCP") != NULL);
}

TEST(malformed_urls_are_refused)
{
	const char *bad[] = {
		"127.0.0.1:80/", "ftp://h/", "http://", "http:///x", "http://:80/", "http://h:/",
		"http://h:0/", "http://h:65536/", "http://h:12a/", "http://u:p@h/", "http://h/a b",
		"http://h/\x01", "http://h h/", "http://h:1:2/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i]);
		if (rc == 0)
			printf("#   accepted '%s'\n", bad[i]);
		CHECK(rc < 0);
		CHECK(err[0] != '\0');
	}
}

/* Found by fuzzing (tests/fuzz/corpus/loadgen_url/regress-control-bytes):
 * the message quoted the URL or header with its control bytes. */
TEST(an_error_shows_control_bytes_as_question_marks)
{
	CHECK(parse("h://x\033[2J\n") < 0);
	CHECK_STR(err, "h://x?[2J?: unsupported scheme (only http:// is)");
	CHECK(header_check("X: a\r\nInjected: 1", err) < 0);
	CHECK_STR(err, "'X: a??Injected: 1': CR or LF in the header value");
}

/* Found by fuzzing (tests/fuzz/corpus/loadgen_url/regress-long-host): a
 * host of 256 to 271 bytes fit the authority but overflowed u.host. */
TEST(a_host_longer_than_255_bytes_is_refused)
{
	char url[400];
	snprintf(url, sizeof(url), "http://%0260d:80/", 0);
	CHECK(parse(url) < 0);
	CHECK(strstr(err, "the host is too long") != NULL);
	snprintf(url, sizeof(url), "http://%0255d/", 0);
	CHECK(parse(url) == 0);
	CHECK_INT(strlen(u.host), 255);
	url_free(&u);
}

TEST(a_numeric_host_resolves_without_dns)
{
	CHECK(parse("http://127.0.0.5:81/") == 0);
	CHECK(url_resolve(&u, err) == 0);
	char s[ADDR_STRLEN];
	CHECK_STR(addr_format(&u.addr, s), "127.0.0.5:81");
}

TEST(header_arguments_are_checked)
{
	CHECK(header_check("Host: example", err) == 0);
	CHECK(header_check("version:v2", err) == 0);
	CHECK(header_check("NoColon", err) < 0);
	CHECK(header_check(": v", err) < 0);
	CHECK(header_check("Bad Name: v", err) < 0);
	CHECK(header_check("X: a\r\nInjected: 1", err) < 0);
	CHECK(header_check("X: tab\tis fine, caf\xe9 too", err) == 0);
	/* found by fuzzing (corpus/loadgen_url/regress-header-ctl) */
	CHECK(header_check("X: a\033[2Jb", err) < 0);
	CHECK_STR(err, "'X: a?[2Jb': a control character in the header value");
	CHECK(header_check("content-length: 5", err) < 0);
	CHECK(header_check("Transfer-Encoding: chunked", err) < 0);
}

TEST(method_names_are_tokens)
{
	CHECK(method_ok("GET"));
	CHECK(method_ok("PURGE"));
	CHECK(!method_ok(""));
	CHECK(!method_ok("GET /"));
}

static char *build(const struct req_spec *s)
{
	struct buf b = BUF_INIT;
	CHECK(request_build(&u, s, &b) == 0);
	CHECK(buf_append(&b, "", 1) == 0);
	return b.data;
}

TEST(a_get_request_has_host_and_user_agent_and_nothing_else)
{
	CHECK(parse("http://127.0.0.1:9001/x") == 0);
	struct req_spec s = { .keepalive = true };
	char *r = build(&s);
	CHECK_STR(r, "GET /x HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: l7lab-loadgen\r\n\r\n");
	free(r);
}

TEST(headers_from_the_command_line_replace_host_and_are_normalised)
{
	CHECK(parse("http://127.0.0.1:9001/") == 0);
	const char *h[] = { "Host: app.test", "version:v2" };
	struct req_spec s = { .headers = h, .nheaders = 2, .keepalive = false };
	char *r = build(&s);
	CHECK_STR(r, "GET / HTTP/1.1\r\nUser-Agent: l7lab-loadgen\r\nHost: app.test\r\nversion: v2\r\n"
	             "Connection: close\r\n\r\n");
	free(r);
}

TEST(a_body_gets_its_content_length)
{
	CHECK(parse("http://h/echo") == 0);
	struct req_spec s = { .method = "POST", .body = "hello", .body_len = 5, .keepalive = true };
	char *r = build(&s);
	CHECK_STR(r, "POST /echo HTTP/1.1\r\nHost: h\r\nUser-Agent: l7lab-loadgen\r\nContent-Length: 5\r\n\r\nhello");
	free(r);
	struct req_spec empty = { .method = "POST", .keepalive = true };
	r = build(&empty);
	CHECK(strstr(r, "Content-Length: 0\r\n") != NULL);
	free(r);
}

int main(void)
{
	RUN(a_plain_url_gives_host_port_and_path);
	RUN(the_port_defaults_to_80_and_the_path_to_a_slash);
	RUN(an_ipv6_address_goes_in_brackets);
	RUN(the_fragment_is_not_sent);
	RUN(https_is_refused_with_the_reason);
	RUN(malformed_urls_are_refused);
	RUN(an_error_shows_control_bytes_as_question_marks);
	RUN(a_host_longer_than_255_bytes_is_refused);
	RUN(a_numeric_host_resolves_without_dns);
	RUN(header_arguments_are_checked);
	RUN(method_names_are_tokens);
	RUN(a_get_request_has_host_and_user_agent_and_nothing_else);
	RUN(headers_from_the_command_line_replace_host_and_are_normalised);
	RUN(a_body_gets_its_content_length);
	url_free(&u);
	return t_done();
}
