/*
 * test_proxy_route.c - step 3, which pool (proxy/route.c): host patterns,
 * header and path routes, first match wins, the default pool.
 */
#include <stdlib.h>

#include "../../proxy/route.h"
#include "t.h"

/* The proxy's process state P is defined in main.c, which unit tests leave
 * out; this weak stand-in lets the other modules link (a definition in any
 * module but main.c would take its place). */
#include "../../proxy/proxy.h"
__attribute__((weak)) struct proxy P;

static const struct http_hooks no_hooks;

/* The pool route_pick chooses for a raw request ("-" if none), and in
 * *how the matching route's text ("default" if none matched). */
static const char *pick(const struct config *cfg, const char *raw, const char **how)
{
	static struct http_msg m;
	size_t used;
	http_msg_init(&m, HTTP_REQUEST, &no_hooks, NULL);
	llhttp_errno_t e = http_msg_feed(&m, raw, strlen(raw), &used);
	if (e != HPE_OK || !m.headers_done) {
		printf("#   cannot parse %s: %s\n", raw, m.error);
		http_msg_free(&m);
		return "parse error";
	}
	const struct route *r = (const struct route *)1;
	struct pool *p = route_pick(cfg, &m, &r);
	if (how != NULL)
		*how = r ? r->match : "default";
	http_msg_free(&m);
	return p ? p->name : "-";
}

static void setup(struct config *cfg, const char *extra_route)
{
	char err[256];
	char *argv[] = {
		"proxy", "--listen", "127.0.0.1:0",
		"--backend", "127.0.0.1:9001",
		"--pool", "api=127.0.0.1:9002", "--pool", "wild=127.0.0.1:9003",
		"--pool", "canary=127.0.0.1:9004", "--pool", "static=127.0.0.1:9005",
		"--route", "host:api.example.com=api",
		"--route", "host:*.example.com=wild",
		"--route", "header:version:v2=canary",
		"--route", "path:/static/=static",
		"--route", extra_route ? (char *)extra_route : "host:[::1]=api",
	};
	if (config_parse_args(cfg, (int)(sizeof(argv) / sizeof(argv[0])), argv, err, sizeof(err)) != 0) {
		printf("# setup: %s\n", err);
		exit(1);
	}
}

TEST(host_patterns_match_names_and_subdomains_ignoring_case_and_port)
{
	CHECK(route_host_matches("api.example.com", "api.example.com"));
	CHECK(route_host_matches("api.example.com", "API.Example.COM"));
	CHECK(route_host_matches("api.example.com", "api.example.com:8080"));
	CHECK(route_host_matches("api.example.com", "api.example.com."));
	CHECK(!route_host_matches("api.example.com", "api.example.com.evil"));
	CHECK(!route_host_matches("api.example.com", "xapi.example.com"));
	CHECK(!route_host_matches("api.example.com", ""));
	CHECK(route_host_matches("*.example.com", "a.example.com"));
	CHECK(route_host_matches("*.example.com", "a.b.example.com:80"));
	CHECK(route_host_matches("*.example.com", "A.EXAMPLE.com"));
	CHECK(!route_host_matches("*.example.com", "example.com"));
	CHECK(!route_host_matches("*.example.com", ".example.com"));
	CHECK(!route_host_matches("*.example.com", "badexample.com"));
	CHECK(route_host_matches("127.0.0.2", "127.0.0.2:8080"));
	CHECK(route_host_matches("[::1]", "[::1]:8080"));
	CHECK(!route_host_matches("[::1]", "[::2]:8080"));
}

TEST(a_request_goes_to_the_pool_of_the_first_route_it_matches)
{
	struct config cfg;
	const char *how;
	setup(&cfg, NULL);
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n", &how), "api");
	CHECK_STR(how, "host:api.example.com");
	/* api.example.com also matches *.example.com, but comes first */
	CHECK_STR(pick(&cfg, "GET /static/x HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n", NULL), "api");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", &how), "wild");
	CHECK_STR(how, "host:*.example.com");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", NULL), "api");
	config_free(&cfg);
}

TEST(a_header_route_matches_the_name_in_any_case_and_the_value_exactly)
{
	struct config cfg;
	const char *how;
	setup(&cfg, NULL);
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: a\r\nversion: v2\r\n\r\n", &how), "canary");
	CHECK_STR(how, "header:version:v2");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: a\r\nVERSION: v2  \r\n\r\n", NULL), "canary");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: a\r\nversion: V2\r\n\r\n", NULL), "default");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: a\r\nversion: v22\r\n\r\n", NULL), "default");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: a\r\nversion: v1\r\nversion: v2\r\n\r\n", NULL), "canary");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: a\r\nx-version: v2\r\n\r\n", NULL), "default");
	config_free(&cfg);
}

TEST(a_path_route_matches_a_prefix_of_the_path_not_of_the_query)
{
	struct config cfg;
	setup(&cfg, "path:/a?b=api");
	CHECK_STR(pick(&cfg, "GET /static/app.js HTTP/1.1\r\nHost: a\r\n\r\n", NULL), "static");
	CHECK_STR(pick(&cfg, "GET /static/ HTTP/1.1\r\nHost: a\r\n\r\n", NULL), "static");
	CHECK_STR(pick(&cfg, "GET /static HTTP/1.1\r\nHost: a\r\n\r\n", NULL), "default");
	CHECK_STR(pick(&cfg, "GET /Static/x HTTP/1.1\r\nHost: a\r\n\r\n", NULL), "default");
	CHECK_STR(pick(&cfg, "GET /x?/static/ HTTP/1.1\r\nHost: a\r\n\r\n", NULL), "default");
	CHECK_STR(pick(&cfg, "GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n", NULL), "default");
	config_free(&cfg);
}

TEST(an_absolute_form_target_routes_by_its_authority_and_path)
{
	struct config cfg;
	setup(&cfg, NULL);
	CHECK_STR(pick(&cfg, "GET http://api.example.com/x HTTP/1.1\r\nHost: other\r\n\r\n", NULL), "api");
	CHECK_STR(pick(&cfg, "GET http://u:p@www.example.com:81 HTTP/1.1\r\nHost: api.example.com\r\n\r\n", NULL), "wild");
	CHECK_STR(pick(&cfg, "GET http://other/static/a.css?v=1 HTTP/1.1\r\nHost: other\r\n\r\n", NULL), "static");
	config_free(&cfg);
}

TEST(a_request_no_route_matches_goes_to_the_default_pool)
{
	struct config cfg;
	const char *how;
	setup(&cfg, NULL);
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", &how), "default");
	CHECK_STR(how, "default");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.0\r\n\r\n", NULL), "default");
	CHECK_STR(pick(&cfg, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", NULL), "default");
	config_free(&cfg);
}

TEST(without_a_default_pool_an_unmatched_request_gets_no_pool)
{
	struct config cfg;
	char err[256];
	char *argv[] = { "proxy", "--listen", "127.0.0.1:0", "--pool", "api=127.0.0.1:9002",
	                 "--route", "host:api.example.com=api" };
	CHECK_INT(config_parse_args(&cfg, 7, argv, err, sizeof(err)), 0);
	const char *how = "?";
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", &how), "-");
	CHECK_STR(how, "default");
	CHECK_STR(pick(&cfg, "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n", NULL), "api");
	config_free(&cfg);
}

int main(void)
{
	RUN(host_patterns_match_names_and_subdomains_ignoring_case_and_port);
	RUN(a_request_goes_to_the_pool_of_the_first_route_it_matches);
	RUN(a_header_route_matches_the_name_in_any_case_and_the_value_exactly);
	RUN(a_path_route_matches_a_prefix_of_the_path_not_of_the_query);
	RUN(an_absolute_form_target_routes_by_its_authority_and_path);
	RUN(a_request_no_route_matches_goes_to_the_default_pool);
	RUN(without_a_default_pool_an_unmatched_request_gets_no_pool);
	return t_done();
}
