/*
 * test_proxy_config.c - the proxy's flags and config file (proxy/config.c):
 * every directive, every error with its exact message, --check's output.
 * Files are written as "lab.conf" in a temporary folder, so the messages
 * read exactly as a user sees them.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../proxy/config.h"
#include "t.h"

/* The proxy's process state P is defined in main.c, which unit tests leave
 * out; this weak stand-in lets the other modules link (a definition in any
 * module but main.c would take its place). */
#include "../../proxy/proxy.h"
__attribute__((weak)) struct proxy P;

static char err[512];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Runs config_parse_args on "proxy ARGS..." (NULL-terminated). */
static int args(struct config *cfg, ...)
{
	char *argv[64] = { "proxy" };
	int argc = 1;
	va_list ap;
	va_start(ap, cfg);
	while (argc < 63 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	err[0] = '\0';
	return config_parse_args(cfg, argc, argv, err, sizeof(err));
}

/* Writes text to lab.conf and runs "proxy -c lab.conf". */
static int file(struct config *cfg, const char *text)
{
	write_file("lab.conf", text);
	return args(cfg, "-c", "lab.conf", NULL);
}

/* The error message for a lab.conf holding text (the config is freed). */
static const char *file_error(const char *text)
{
	struct config cfg;
	if (file(&cfg, text) == 0)
		snprintf(err, sizeof(err), "(no error)");
	config_free(&cfg);
	return err;
}

static const char *args_error(int want_rc, ...)
{
	struct config cfg;
	char *argv[64] = { "proxy" };
	int argc = 1;
	va_list ap;
	va_start(ap, want_rc);
	while (argc < 63 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	err[0] = '\0';
	int rc = config_parse_args(&cfg, argc, argv, err, sizeof(err));
	if (rc != want_rc)
		snprintf(err + strlen(err), sizeof(err) - strlen(err), " (rc %d, want %d)", rc, want_rc);
	config_free(&cfg);
	return err;
}

static const char *addr_str(const struct addr *a)
{
	static char s[ADDR_STRLEN];
	return addr_format(a, s);
}

#define BASE "listen 127.0.0.2:8080\nbackend 127.0.0.11:9001\n"

TEST(defaults_are_those_of_the_man_page)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:9001", NULL), 0);
	CHECK_INT(cfg.max_conns, 10000);
	CHECK_INT(cfg.max_header, 16384);
	CHECK_INT(cfg.max_target, 8192);
	CHECK_INT(cfg.max_body, 0);
	CHECK_INT(cfg.timeout_header, 10000);
	CHECK_INT(cfg.timeout_idle, 60000);
	CHECK_INT(cfg.timeout_connect, 3000);
	CHECK_INT(cfg.timeout_server, 30000);
	CHECK_INT(cfg.timeout_pool, 4000);
	CHECK_INT(cfg.server_keepalive, 32);
	CHECK_STR(cfg.name, "l7lab");
	CHECK(cfg.access_log == NULL && cfg.events == NULL && !cfg.quiet && !cfg.has_source);
	CHECK(!cfg.seed_set && !cfg.check_only && cfg.verbose == 0);
	CHECK(!cfg.has_admin);
	CHECK_INT(cfg.ewma_decay, 3000);
	config_free(&cfg);
}

TEST(the_common_case_makes_one_default_pool)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.1:8080", "--backend", "127.0.0.1:9001", "--backend",
	               "127.0.0.1:9002", "--balance", "leastconn", NULL), 0);
	CHECK_INT(cfg.nlisteners, 1);
	CHECK_STR(addr_str(&cfg.listeners[0].addr), "127.0.0.1:8080");
	CHECK_INT(cfg.npools, 1);
	struct pool *p = config_pool(&cfg, "default");
	CHECK(p != NULL && p->algo == LB_LEASTCONN && p->nservers == 2);
	if (p != NULL && p->nservers == 2) {
		CHECK_STR(p->servers[0].name, "127.0.0.1:9001");
		CHECK_STR(p->servers[1].name, "127.0.0.1:9002");
		CHECK_INT(p->servers[1].weight, 1);
	}
	config_free(&cfg);
}

TEST(a_backend_takes_a_name_and_a_weight)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "[::1]:0", "--backend", "b1=127.0.0.11:9001*5", "--backend=b2=[::1]:9002", NULL), 0);
	struct pool *p = config_pool(&cfg, "default");
	CHECK(p != NULL && p->nservers == 2);
	if (p != NULL && p->nservers == 2) {
		CHECK_STR(p->servers[0].name, "b1");
		CHECK_INT(p->servers[0].weight, 5);
		CHECK_STR(addr_str(&p->servers[0].addr), "127.0.0.11:9001");
		CHECK_STR(p->servers[1].name, "b2");
		CHECK_STR(addr_str(&p->servers[1].addr), "[::1]:9002");
	}
	config_free(&cfg);
}

TEST(a_pool_flag_lists_its_servers_and_balance_names_the_pool)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.1:0", "--pool", "api=b1=127.0.0.11:9001*2,127.0.0.12:9001",
	               "--balance", "api=random", "--route", "host:api.example.com=api", NULL), 0);
	struct pool *p = config_pool(&cfg, "api");
	CHECK(p != NULL && p->algo == LB_RANDOM && p->nservers == 2 && p->defined);
	if (p != NULL && p->nservers == 2) {
		CHECK_STR(p->servers[0].name, "b1");
		CHECK_INT(p->servers[0].weight, 2);
		CHECK_STR(p->servers[1].name, "127.0.0.12:9001");
	}
	CHECK(config_pool(&cfg, "default") == NULL);
	CHECK_INT(cfg.nroutes, 1);
	CHECK(cfg.nroutes == 1 && cfg.routes[0].pool == p);
	config_free(&cfg);
}

TEST(every_scalar_flag_sets_its_field)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:9001",
	               "--max-conns", "50", "--max-header", "8k", "--max-target", "1024", "--max-body", "1M",
	               "--timeout-header", "2s", "--timeout-idle", "1.5s", "--timeout-connect", "250ms",
	               "--timeout-server", "5000ms", "--timeout-pool", "1m", "--server-keepalive", "0",
	               "--source", "127.0.0.2", "--name", "edge-1", "--access-log", "/tmp/a.log",
	               "--events", "-", "--pace", "200ms", "--quiet", "--seed", "42", "-vv",
	               "--allow", "127.0.0.0/8", "--deny", "127.0.0.9", "--check", NULL), 0);
	CHECK_INT(cfg.max_conns, 50);
	CHECK_INT(cfg.max_header, 8192);
	CHECK_INT(cfg.max_target, 1024);
	CHECK_INT(cfg.max_body, 1048576);
	CHECK_INT(cfg.timeout_header, 2000);
	CHECK_INT(cfg.timeout_idle, 1500);
	CHECK_INT(cfg.timeout_connect, 250);
	CHECK_INT(cfg.timeout_server, 5000);
	CHECK_INT(cfg.timeout_pool, 60000);
	CHECK_INT(cfg.server_keepalive, 0);
	CHECK(cfg.has_source);
	CHECK_STR(addr_str(&cfg.source), "127.0.0.2:0");
	CHECK_STR(cfg.name, "edge-1");
	CHECK_STR(cfg.access_log, "/tmp/a.log");
	CHECK_STR(cfg.events, "-");
	CHECK_INT(cfg.pace_ms, 200);
	CHECK(cfg.quiet && cfg.seed_set && cfg.check_only);
	CHECK_INT(cfg.seed, 42);
	CHECK_INT(cfg.verbose, 2);
	CHECK_INT(cfg.nallow, 1);
	CHECK_INT(cfg.ndeny, 1);
	CHECK(cfg.ndeny == 1 && cfg.deny[0].prefix == 32);
	config_free(&cfg);
}

static const char lab[] =
	"# a lab: two pools, three routes\n"
	"listen 127.0.0.2:8080\n"
	"timeout-server 5s   # backends are quick\n"
	"max-body 64k\n"
	"\n"
	"pool default {\n"
	"\tserver b1 127.0.0.11:9001 weight 2\n"
	"\tserver 127.0.0.12:9001\n"
	"}\n"
	"pool api balance leastconn {\n"
	"    server a1 127.0.0.13:9001\n"
	"    server 127.0.0.14:9001 weight 3\n"
	"}\n"
	"pool canary=c1=127.0.0.15:9001\n"
	"pool static {\n"
	"    balance random\n"
	"    server s1 127.0.0.16:9001\n"
	"}\n"
	"route host:api.example.com api\n"
	"route header:version:v2 canary\n"
	"route path:/static/=static\n";

TEST(a_config_file_sets_pools_servers_and_routes)
{
	struct config cfg;
	CHECK_INT(file(&cfg, lab), 0);
	CHECK_STR(err, "");
	CHECK_INT(cfg.timeout_server, 5000);
	CHECK_INT(cfg.max_body, 65536);
	CHECK_STR(cfg.file, "lab.conf");
	CHECK_INT(cfg.npools, 4);
	struct pool *d = config_pool(&cfg, "default"), *api = config_pool(&cfg, "api");
	CHECK(d != NULL && d->nservers == 2 && d->algo == LB_ROUNDROBIN);
	CHECK(api != NULL && api->nservers == 2 && api->algo == LB_LEASTCONN);
	if (d != NULL && api != NULL && d->nservers == 2 && api->nservers == 2) {
		CHECK_STR(d->servers[0].name, "b1");
		CHECK_INT(d->servers[0].weight, 2);
		CHECK_STR(d->servers[1].name, "127.0.0.12:9001");
		CHECK_STR(api->servers[1].name, "127.0.0.14:9001");
		CHECK_INT(api->servers[1].weight, 3);
	}
	CHECK(config_pool(&cfg, "static") != NULL && config_pool(&cfg, "static")->algo == LB_RANDOM);
	CHECK_INT(cfg.nroutes, 3);
	if (cfg.nroutes == 3) {
		CHECK(cfg.routes[0].kind == ROUTE_HOST && cfg.routes[0].pool == api);
		CHECK_STR(cfg.routes[0].value, "api.example.com");
		CHECK(cfg.routes[1].kind == ROUTE_HEADER);
		CHECK_STR(cfg.routes[1].name, "version");
		CHECK_STR(cfg.routes[1].value, "v2");
		CHECK_STR(cfg.routes[1].pool->name, "canary");
		CHECK(cfg.routes[2].kind == ROUTE_PATH);
		CHECK_STR(cfg.routes[2].value, "/static/");
		CHECK_STR(cfg.routes[2].match, "path:/static/");
	}
	config_free(&cfg);
}

TEST(flags_after_the_file_override_it_and_listen_flags_replace_the_files)
{
	struct config cfg;
	write_file("lab.conf", lab);
	CHECK_INT(args(&cfg, "--timeout-server", "1s", "-c", "lab.conf", "--listen", "127.0.0.1:0",
	               "--listen", "127.0.0.1:1", "--max-body", "0", "--backend", "b9=127.0.0.19:9001", NULL), 0);
	CHECK_INT(cfg.timeout_server, 5000);
	CHECK_INT(cfg.max_body, 0);
	CHECK_INT(cfg.nlisteners, 2);
	CHECK_STR(addr_str(&cfg.listeners[0].addr), "127.0.0.1:0");
	CHECK(config_pool(&cfg, "default") && config_pool(&cfg, "default")->nservers == 3);
	config_free(&cfg);
}

TEST(check_prints_the_resolved_configuration_in_file_syntax)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.2:8080", "--backend", "b1=127.0.0.11:9001*2", "--backend",
	               "127.0.0.12:9001", "--route", "header:version:v2=default", "--seed", "7",
	               "--timeout-connect", "1500ms", "--max-body", "100", "--retry-on", "503,502", NULL), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	CHECK_STR(text,
		"# proxy configuration, resolved (proxy.conf(5) syntax)\n"
		"listen 127.0.0.2:8080\n"
		"max-conns 10000\n"
		"max-header 16k\n"
		"max-target 8k\n"
		"max-body 100\n"
		"timeout-header 10s\n"
		"timeout-idle 60s\n"
		"timeout-client 30s\n"
		"timeout-body 300s\n"
		"timeout-connect 1500ms\n"
		"timeout-server 30s\n"
		"timeout-pool 4s\n"
		"server-keepalive 32\n"
		"retries 1\n"
		"retry-budget 20%\n"
		"retry-budget-min 3\n"
		"timeout-attempt 0\n"
		"timeout-request 0\n"
		"max-fails 3\n"
		"fail-timeout 10s\n"
		"fail-timeout-max 300s\n"
		"max-ejected 50%\n"
		"health-interval 2s\n"
		"health-timeout 1s\n"
		"health-rise 2\n"
		"health-fall 3\n"
		"ewma-decay 3s\n"
		"pace 0\n"
		"name l7lab\n"
		"retry-on 502,503\n"
		"retry-backoff 25ms:250ms\n"
		"seed 7\n"
		"\n"
		"pool default {\n"
		"\tbalance roundrobin\n"
		"\tserver b1 127.0.0.11:9001 weight 2\n"
		"\tserver 127.0.0.12:9001 weight 1\n"
		"}\n"
		"\n"
		"route header:version:v2 default\n");
	free(text);
	config_free(&cfg);
}

TEST(the_printed_configuration_reads_back_the_same)
{
	struct config cfg;
	char *one = NULL, *two = NULL;
	size_t len;
	write_file("lab.conf", lab);
	CHECK_INT(args(&cfg, "-c", "lab.conf", "--allow", "10.0.0.0/8", "--deny", "::1", "--quiet",
	               "--events", "ev.json", "--source", "127.0.0.2", "--verbose", "--log-format", "json", NULL), 0);
	FILE *f = open_memstream(&one, &len);
	config_print(&cfg, f);
	fclose(f);
	config_free(&cfg);
	write_file("printed.conf", one);
	CHECK_INT(args(&cfg, "-c", "printed.conf", NULL), 0);
	CHECK_STR(err, "");
	f = open_memstream(&two, &len);
	config_print(&cfg, f);
	fclose(f);
	CHECK_STR(two, one);
	CHECK(strstr(one, "allow 10.0.0.0/8\ndeny ::1/128\n") != NULL);
	CHECK(strstr(one, "pool api {\n\tbalance leastconn\n\tserver a1 127.0.0.13:9001 weight 1\n") != NULL);
	config_free(&cfg);
	free(one);
	free(two);
}

/* Found by fuzzing (tests/fuzz/corpus/proxy_config/regress-source-v6):
 * an IPv6 source without a port was printed bare, which does not load. */
TEST(an_ipv6_source_without_a_port_prints_in_brackets_and_reads_back)
{
	struct config cfg;
	char *text = NULL;
	size_t len;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:1", "--source", "[::1]", NULL), 0);
	FILE *f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	config_free(&cfg);
	CHECK(strstr(text, "\nsource [::1]\n") != NULL);
	write_file("printed.conf", text);
	CHECK_INT(args(&cfg, "-c", "printed.conf", NULL), 0);
	CHECK_STR(err, "");
	config_free(&cfg);
	free(text);
}

/* config_print's text (malloc'ed). */
static char *printed(const struct config *cfg)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	config_print(cfg, f);
	fclose(f);
	return text;
}

TEST(double_quotes_hold_blanks_a_hash_and_escapes)
{
	struct config cfg;
	CHECK_INT(file(&cfg, BASE "route \"path:/my docs\" default\n"
	                         "route path:\"/a b\"/c default   # quoted and plain parts join\n"
	                         "route header:X-Q:\"say \\\"hi\\\"\\t\\\\\\x41\" default\n"
	                         "access-log \"#access log\"\n"
	                         "events C:\\logs\\ev.json\n"), 0);
	CHECK_STR(err, "");
	CHECK_INT(cfg.nroutes, 3);
	CHECK_STR(cfg.routes[0].value, "/my docs");
	CHECK_STR(cfg.routes[1].value, "/a b/c");
	CHECK_STR(cfg.routes[2].value, "say \"hi\"\t\\A");
	CHECK_STR(cfg.access_log, "#access log");
	CHECK_STR(cfg.events, "C:\\logs\\ev.json");   /* outside quotes a backslash is a byte */
	config_free(&cfg);
}

TEST(a_quoting_error_names_the_line)
{
	CHECK_STR(file_error(BASE "access-log \"my log\n"), "lab.conf:3: a quote (\") is not closed on its line");
	CHECK_STR(file_error(BASE "access-log \"my log\\\n"), "lab.conf:3: a quote (\") is not closed on its line");
	CHECK_STR(file_error(BASE "access-log \"a\\q\"\n"),
	          "lab.conf:3: unknown escape '\\q' in quotes (\\\" \\\\ \\n \\r \\t \\xHH)");
	CHECK_STR(file_error(BASE "access-log \"a\\x4\"\n"),
	          "lab.conf:3: unknown escape '\\x' in quotes (\\\" \\\\ \\n \\r \\t \\xHH)");
	CHECK_STR(file_error(BASE "access-log \"a\\x00\"\n"), "lab.conf:3: \\x00: a value cannot hold a NUL byte");
	CHECK_STR(file_error(BASE "access-log \"\"\n"), "lab.conf:3: expected FILE");
}

/* Found by fuzzing (tests/fuzz/corpus/proxy_args/regress-file-blank and
 * regress-route-blank): values with blanks, a leading '#' or control bytes
 * were printed bare, and the printed file did not load. */
TEST(check_quotes_the_values_that_need_it_and_they_read_back)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:1", "--route", "path:/ap i=default",
	               "--route", "header:X-Q:\"{\\}\"=default", "--access-log", "#log file", "--events",
	               "a\tb\x01\x7f\xc3\xa9\n", NULL), 0);
	char *one = printed(&cfg);
	config_free(&cfg);
	CHECK(strstr(one, "\nroute \"path:/ap i\" default\n") != NULL);
	CHECK(strstr(one, "\nroute \"header:X-Q:\\\"{\\\\}\\\"\" default\n") != NULL);
	CHECK(strstr(one, "\naccess-log \"#log file\"\n") != NULL);
	CHECK(strstr(one, "\nevents \"a\\tb\\x01\\x7f\xc3\xa9\\n\"\n") != NULL);
	write_file("printed.conf", one);
	CHECK_INT(args(&cfg, "-c", "printed.conf", NULL), 0);
	CHECK_STR(err, "");
	char *two = printed(&cfg);
	CHECK_STR(two, one);
	config_free(&cfg);
	free(one);
	free(two);
}

TEST(a_plain_value_is_printed_without_quotes)
{
	struct config cfg;
	CHECK_INT(args(&cfg, "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:1", "--route", "path:/api=default",
	               "--access-log", "/var/log/l7lab/access.log", "--events", "C:\\ev#1", NULL), 0);
	char *text = printed(&cfg);
	CHECK(strstr(text, "\nroute path:/api default\n") != NULL);
	CHECK(strstr(text, "\naccess-log /var/log/l7lab/access.log\n") != NULL);
	CHECK(strstr(text, "\nevents C:\\ev#1\n") != NULL);
	config_free(&cfg);
	free(text);
}

TEST(a_config_without_a_default_pool_says_so_when_printed)
{
	struct config cfg;
	CHECK_INT(file(&cfg, "listen 127.0.0.1:0\npool api=127.0.0.1:9001\nroute host:a api\n"), 0);
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	CHECK(strstr(text, "# no pool 'default': requests no route matches get 503\n") != NULL);
	free(text);
	config_free(&cfg);
}

TEST(each_file_error_names_the_line_and_what_was_expected)
{
	CHECK_STR(file_error(BASE "lisen 127.0.0.1:80\n"), "lab.conf:3: unknown directive 'lisen'");
	CHECK_STR(file_error(BASE "listen\n"), "lab.conf:3: expected 'listen ADDR:PORT'");
	CHECK_STR(file_error(BASE "quiet yes\n"), "lab.conf:3: expected 'quiet'");
	CHECK_STR(file_error(BASE "listen 127.0.0.1:80 127.0.0.1:81\n"), "lab.conf:3: expected 'listen ADDR:PORT'");
	CHECK_STR(file_error(BASE "listen 127.0.0.2:8080\n"), "lab.conf:3: 127.0.0.2:8080 is listed twice");
	CHECK_STR(file_error("listen 127.0.0.1:0\nlisten 127.0.0.1:0\nbackend 127.0.0.1:1\n"), "(no error)");
	CHECK_STR(file_error(BASE "listen 127.0.0.1:99999\n"),
	          "lab.conf:3: 127.0.0.1:99999: invalid port '99999' (expected 0-65535)");
	CHECK_STR(file_error(BASE "timeout-server 5x\n"),
	          "lab.conf:3: '5x' is not a duration (examples: 500ms, 10s, 2m)");
	CHECK_STR(file_error(BASE "timeout-server 5\n"), "lab.conf:3: '5' needs a unit: 5ms or 5s");
	CHECK_STR(file_error(BASE "log-format xml\n"), "lab.conf:3: 'xml' is not a log format (text or json)");
	CHECK_STR(file_error(BASE "timeout-idle 0\n"), "lab.conf:3: '0' is out of range (1ms to 86400s)");
	CHECK_STR(file_error(BASE "max-header 10\n"), "lab.conf:3: '10' is out of range (64 to 67108864 bytes)");
	CHECK_STR(file_error(BASE "max-body lots\n"), "lab.conf:3: 'lots' is not a size (examples: 512, 16k, 1M)");
	CHECK_STR(file_error(BASE "max-conns 0\n"), "lab.conf:3: '0' is not a whole number from 1 to 1000000");
	CHECK_STR(file_error(BASE "name a/b\n"), "lab.conf:3: name 'a/b': use 1 to 64 letters, digits, '.', '_' or '-'");
	file_error(BASE "allow 10.0.0.0/33\n");            /* lib/net's wording follows */
	CHECK(strncmp(err, "lab.conf:3: 10.0.0.0/33", 23) == 0);
	CHECK_STR(file_error(BASE "balance fastest\n"),
	          "lab.conf:3: 'fastest' is not an algorithm (roundrobin, leastconn, random, ewma (least-time), "
	          "hash:source, hash:uri or hash:header:NAME)");
}

TEST(each_pool_and_route_error_names_the_line)
{
	CHECK_STR(file_error(BASE "pool api {\n  server b1\n}\n"), "lab.conf:4: expected 'server [NAME] ADDR:PORT [weight N]'");
	CHECK_STR(file_error(BASE "pool api {\n  server\n}\n"), "lab.conf:4: expected 'server [NAME] ADDR:PORT [weight N]'");
	CHECK_STR(file_error(BASE "pool api {\n  server 127.0.0.1:1 weight\n}\n"), "lab.conf:4: expected 'server [NAME] ADDR:PORT [weight N]'");
	CHECK_STR(file_error(BASE "pool api {\n  server b1 127.0.0.1:1 wait 2\n}\n"),
	          "lab.conf:4: expected 'server [NAME] ADDR:PORT [weight N]'");
	CHECK_STR(file_error(BASE "pool api {\n  server b1 127.0.0.1:1 weight 0\n}\n"),
	          "lab.conf:4: weight '0': expected a whole number from 1 to 1000");
	CHECK_STR(file_error(BASE "pool api {\n  server 127.0.0.1:1 weight 1001\n}\n"),
	          "lab.conf:4: weight '1001': expected a whole number from 1 to 1000");
	CHECK_STR(file_error(BASE "pool api {\n  server 127.0.0.1:0\n}\n"),
	          "lab.conf:4: 127.0.0.1:0: a server needs a port from 1 to 65535");
	CHECK_STR(file_error(BASE "pool api {\n  server b1 127.0.0.1:1\n  server b1 127.0.0.1:2\n}\n"),
	          "lab.conf:5: duplicate server 'b1' in pool 'api'");
	CHECK_STR(file_error(BASE "pool api {\n  listen 127.0.0.1:1\n}\n"),
	          "lab.conf:4: expected 'server [NAME] ADDR:PORT [weight N]', 'balance ALGO' or '}'");
	CHECK_STR(file_error(BASE "pool api {\n}\n"), "lab.conf:3: no servers in pool 'api'");
	CHECK_STR(file_error(BASE "pool api {\n  server 127.0.0.1:1\n"), "lab.conf:3: pool 'api' has no closing '}'");
	CHECK_STR(file_error(BASE "}\n"), "lab.conf:3: '}' without an open pool block");
	CHECK_STR(file_error(BASE "pool api\n"),
	          "lab.conf:3: expected 'pool NAME [balance ALGO] {' or 'pool NAME=SERVER[,SERVER...]'");
	CHECK_STR(file_error(BASE "pool a=127.0.0.1:1\npool a {\n"), "lab.conf:4: duplicate pool 'a' (first at lab.conf:3)");
	CHECK_STR(file_error(BASE "pool default=127.0.0.1:1\n"), "lab.conf:3: duplicate pool 'default' (first at lab.conf:2)");
	CHECK_STR(file_error(BASE "pool a=127.0.0.1:1,\n"), "lab.conf:3: pool 'a': empty server in the list");
	CHECK_STR(file_error(BASE "route host:api.example.com api\n"),
	          "lab.conf:3: route host:api.example.com: no pool named 'api'");
	CHECK_STR(file_error(BASE "route cookie:x default\n"),
	          "lab.conf:3: 'cookie:x': expected host:NAME, header:NAME:VALUE or path:/PREFIX");
	CHECK_STR(file_error(BASE "route header:version default\n"), "lab.conf:3: 'header:version': expected header:NAME:VALUE");
	CHECK_STR(file_error(BASE "route path:static default\n"), "lab.conf:3: 'path:static': expected path:/PREFIX");
	CHECK_STR(file_error(BASE "route host:a.*.com default\n"), "lab.conf:3: 'host:a.*.com': expected host:NAME or host:*.DOMAIN");
	CHECK_STR(file_error(BASE "route host:a.com:80 default\n"),
	          "lab.conf:3: 'host:a.com:80': a host pattern has no port (ports are ignored)");
	CHECK_STR(file_error(BASE "route host:a.com\n"), "lab.conf:3: expected MATCH=POOL, not 'host:a.com'");
	CHECK_STR(file_error(BASE "route a b c\n"), "lab.conf:3: expected 'route MATCH POOL [waf MODE]'");
	CHECK_STR(file_error(BASE "balance nope=random\n"), "lab.conf:3: no pool named 'nope'");
	CHECK_STR(file_error("listen 127.0.0.1:0\nbalance leastconn\n"), "lab.conf:2: no pool named 'default'");
}

TEST(a_garbage_file_is_an_error_not_a_crash)
{
	FILE *f = fopen("lab.conf", "w");
	fwrite("listen 1\0x\n", 1, 11, f);
	fclose(f);
	struct config cfg;
	CHECK_INT(args(&cfg, "-c", "lab.conf", NULL), -2);
	CHECK_STR(err, "lab.conf:1: a NUL byte in the line (is this a text file?)");
	config_free(&cfg);
	CHECK_STR(file_error("\x7f" "ELF\x01\x01\n"), "lab.conf:1: unknown directive '?ELF?\?'");
	CHECK_STR(file_error("a b c d e f g h i\n"), "lab.conf:1: too many words");
	CHECK_STR(file_error(BASE "pace 61s\n"), "lab.conf:3: '61s' is out of range (0ms to 60s)");
}

TEST(file_errors_return_minus_2_and_flag_errors_minus_1)
{
	CHECK_STR(args_error(-2, "-c", "missing.conf", NULL), "open missing.conf: No such file or directory");
	CHECK_STR(args_error(-1, "--lisen", "127.0.0.1:0", NULL), "unknown option '--lisen'");
	CHECK_STR(args_error(-1, "-x", NULL), "unknown option '-x'");
	/* found by fuzzing (corpus/proxy_args/regress-flag-newline) */
	CHECK_STR(args_error(-1, "--bogus\nproxy: all \033[32mgood", NULL), "unknown option '--bogus?proxy: all ?[32mgood'");
	CHECK_STR(args_error(-1, "127.0.0.1:0", NULL), "unexpected argument '127.0.0.1:0'");
	CHECK_STR(args_error(-1, "--listen", NULL), "--listen needs a value");
	CHECK_STR(args_error(-1, "-c", NULL), "-c needs a value");
	CHECK_STR(args_error(-1, "--quiet=yes", NULL), "--quiet takes no value");
	CHECK_STR(args_error(-1, "--timeout-connect=soon", NULL),
	          "--timeout-connect: 'soon' is not a duration (examples: 500ms, 10s, 2m)");
	CHECK_STR(args_error(-1, "--timeout-connect", "3", NULL), "--timeout-connect: '3' needs a unit: 3ms or 3s");
	CHECK_STR(args_error(-1, "--backend", "b1=127.0.0.1:1*x", NULL), "--backend: weight 'x': expected a whole number from 1 to 1000");
	CHECK_STR(args_error(-1, "--backend", "127.0.0.1", NULL), "--backend: 127.0.0.1: expected ADDRESS:PORT (the port is missing)");
	CHECK_STR(args_error(-1, "--pool", "api", NULL), "--pool: expected NAME=SERVER[,SERVER...], not 'api'");
	CHECK_STR(args_error(-1, "--balance", "nope=random", "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:1", NULL),
	          "--balance: no pool named 'nope'");
	CHECK_STR(args_error(-1, "--route", "path:/a=api", "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:1", NULL),
	          "--route: route path:/a: no pool named 'api'");
	CHECK_STR(args_error(-1, "--seed", "-1", NULL), "--seed: '-1' is not a whole number");
	CHECK_STR(args_error(-1, "--verbose=9", NULL), "--verbose: '9' is not a whole number from 0 to 3");
	CHECK_STR(args_error(-1, "--verbose", "2", NULL), "unexpected argument '2'");
	CHECK_STR(args_error(-1, "--listen", "127.0.0.1:0", NULL), "no servers: give --backend ADDR:PORT, --pool, or -c FILE");
	CHECK_STR(args_error(-1, "--backend", "127.0.0.1:1", NULL), "nothing to listen on: give --listen ADDR:PORT");
}

TEST(a_pool_algorithm_can_be_set_on_the_pool_line_or_in_its_block)
{
	struct config cfg;
	CHECK_INT(file(&cfg, "listen 127.0.0.1:0\npool a balance random {\nserver 127.0.0.1:1\n}\n"
	                     "pool b {\nserver 127.0.0.1:2\nbalance leastconn\n}\nbalance b=roundrobin\n"), 0);
	CHECK(config_pool(&cfg, "a") && config_pool(&cfg, "a")->algo == LB_RANDOM);
	CHECK(config_pool(&cfg, "b") && config_pool(&cfg, "b")->algo == LB_ROUNDROBIN);
	config_free(&cfg);
}

/* The pool's algorithm as --check prints it back. */
static const char *balance_of(const char *algo)
{
	static char spec[sizeof(err)];
	struct config cfg;
	if (args(&cfg, "--listen", "127.0.0.1:0", "--backend", "127.0.0.1:1", "--balance", algo, NULL) != 0)
		snprintf(spec, sizeof(spec), "%s", err);
	else
		balance_spec(config_pool(&cfg, "default"), spec);
	config_free(&cfg);
	return spec;
}

TEST(balance_takes_ewma_least_time_and_three_hash_keys)
{
	CHECK_STR(balance_of("ewma"), "ewma");
	CHECK_STR(balance_of("least-time"), "ewma");
	CHECK_STR(balance_of("hash:source"), "hash:source");
	CHECK_STR(balance_of("hash:uri"), "hash:uri");
	CHECK_STR(balance_of("hash:header:X-User"), "hash:header:X-User");
	CHECK_STR(balance_of("hash:cookie"), "--balance: 'hash:cookie' is not an algorithm (roundrobin, leastconn, "
	                                     "random, ewma (least-time), hash:source, hash:uri or hash:header:NAME)");
	CHECK_STR(balance_of("hash:header:"), "--balance: 'hash:header:': expected hash:header:NAME, a header name "
	                                      "of 1 to 64 characters");
	CHECK_STR(balance_of("hash:header:a b"), "--balance: 'hash:header:a b': expected hash:header:NAME, a header "
	                                         "name of 1 to 64 characters");
	struct config cfg;
	CHECK_INT(file(&cfg, "listen 127.0.0.1:0\npool a balance hash:header:X-Tenant {\nserver x 127.0.0.1:1\n"
	                     "server y 127.0.0.1:2 weight 3\n}\n"), 0);
	struct pool *a = config_pool(&cfg, "a");
	CHECK(a != NULL && a->algo == LB_HASH && a->hash_key == HASH_HEADER);
	CHECK(a != NULL && a->nring == 4 * 400);     /* 400 points per unit of weight */
	config_free(&cfg);
}

TEST(admin_and_ewma_decay_are_directives_like_the_others)
{
	struct config cfg;
	CHECK_INT(file(&cfg, BASE "admin 127.0.0.1:0\newma-decay 500ms\n"), 0);
	CHECK(cfg.has_admin);
	CHECK_STR(addr_str(&cfg.admin), "127.0.0.1:0");
	CHECK_INT(cfg.ewma_decay, 500);
	CHECK_INT(cfg.pools[0].servers[0].ewma.decay_ns, 500000000);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	CHECK(strstr(text, "\nadmin 127.0.0.1:0\n") != NULL);
	CHECK(strstr(text, "\newma-decay 500ms\n") != NULL);
	free(text);
	config_free(&cfg);
	CHECK_STR(file_error(BASE "admin nowhere\n"), "lab.conf:3: nowhere: expected ADDRESS:PORT (the port is missing)");
	CHECK_STR(file_error(BASE "ewma-decay 1ms\n"), "lab.conf:3: '1ms' is out of range (10ms to 3600s)");
}

TEST(per_client_limits_and_the_body_rate_are_directives_printed_when_set)
{
	struct config cfg;
	CHECK_INT(file(&cfg, BASE "max-conns-per-ip 20\nconn-rate-per-ip 30/m\nreq-rate-per-ip 10/s:50\n"
	                          "ip-prefix4 24\nmin-body-rate 1k/s:2500ms\n"), 0);
	CHECK_INT(cfg.per_ip.max_conns, 20);
	CHECK_INT(cfg.per_ip.conn_rate.interval_ns, 2000000000);
	CHECK_INT(cfg.per_ip.req_rate.burst, 50);
	CHECK_INT(cfg.per_ip.prefix4, 24);
	CHECK_INT(cfg.per_ip.prefix6, 64);
	CHECK_INT(cfg.min_body_rate, 1024);
	CHECK_INT(cfg.min_body_window, 2500);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	CHECK(strstr(text, "\nmax-conns-per-ip 20\nconn-rate-per-ip 30/m:1\nreq-rate-per-ip 10/s:50\n"
	                   "ip-prefix4 24\nip-prefix6 64\nmin-body-rate 1k/s:2500ms\n") != NULL);
	free(text);
	config_free(&cfg);
	CHECK_INT(file(&cfg, BASE), 0);   /* none set: none printed */
	CHECK_INT(cfg.min_body_rate, 0);
	CHECK(!iplimit_enabled(&cfg.per_ip));
	f = open_memstream(&text, &len);
	config_print(&cfg, f);
	fclose(f);
	CHECK(strstr(text, "per-ip") == NULL && strstr(text, "ip-prefix") == NULL && strstr(text, "body-rate") == NULL);
	free(text);
	config_free(&cfg);
	CHECK_STR(file_error(BASE "max-conns-per-ip many\n"), "lab.conf:3: 'many' is not a whole number from 0 to 1000000");
	CHECK_STR(file_error(BASE "ip-prefix6 129\n"), "lab.conf:3: '129' is not a whole number from 0 to 128");
	CHECK_STR(file_error(BASE "req-rate-per-ip 10/d\n"),
	          "lab.conf:3: '10/d': a rate is R/s, R/m or R/h, optionally with a burst (10/s:20), R and burst 1-1000000");
	CHECK_STR(file_error(BASE "min-body-rate 100\n"),
	          "lab.conf:3: '100': expected BYTES/s with an optional window, such as 500/s or 1k/s:5s (0: none)");
	CHECK_STR(file_error(BASE "min-body-rate 1k/s:61m\n"), "lab.conf:3: '1k/s:61m': a window from 100ms to 1h");
	CHECK_STR(file_error(BASE "min-body-rate 2G/s\n"),
	          "lab.conf:3: '2G/s': expected BYTES/s with an optional window, such as 500/s or 1k/s:5s (0: none), "
	          "from 1 byte to 1G a second");
}

TEST(pools_get_different_random_streams_from_one_seed)
{
	struct config a, b;
	CHECK_INT(args(&a, "--listen", "127.0.0.1:0", "--pool", "x=127.0.0.1:1", "--pool", "y=127.0.0.1:2",
	               "--seed", "5", NULL), 0);
	CHECK_INT(args(&b, "--listen", "127.0.0.1:0", "--pool", "x=127.0.0.1:1", "--seed", "5", NULL), 0);
	CHECK(a.pools[0].rng.state == b.pools[0].rng.state);
	CHECK(a.pools[0].rng.state != a.pools[1].rng.state);
	config_free(&a);
	config_free(&b);
}

TEST(config_load_file_reads_one_file_into_a_config)
{
	struct config cfg;
	config_init(&cfg);
	write_file("lab.conf", lab);
	CHECK_INT(config_load_file(&cfg, "lab.conf", err, sizeof(err)), 0);
	CHECK_INT(config_finish(&cfg, err, sizeof(err)), 0);
	CHECK_INT(cfg.npools, 4);
	CHECK_INT(cfg.nlisteners, 1);
	config_free(&cfg);
	config_init(&cfg);
	write_file("lab.conf", "pool a {\n");
	CHECK_INT(config_load_file(&cfg, "lab.conf", err, sizeof(err)), -1);
	CHECK_STR(err, "lab.conf:1: pool 'a' has no closing '}'");
	config_free(&cfg);
}

/* Lines built from the grammar's own words and some noise: whatever comes
 * out, the parser answers 0 or an error, never a crash (ASan watches). */
TEST(random_lines_get_an_answer_never_a_crash)
{
	static const char *words[] = {
		"pool", "server", "route", "listen", "backend", "balance", "{", "}", "weight", "a", "b1",
		"api=127.0.0.1:1", "127.0.0.1:9001", "[::1]:1", "0", "1001", "host:*.x", "header:v:2",
		"path:/", "=", "*", ",", "#", "leastconn", "quiet", "timeout-idle", "5s", "\t", "\x01", "",
	};
	struct rng r;
	rng_seed(&r, 1);
	int answered = 0;
	for (int i = 0; i < 300; i++) {
		char text[1024] = BASE;
		for (int line = 0; line < 4; line++) {
			for (int k = (int)rng_below(&r, 6); k >= 0; k--) {
				strcat(text, words[rng_below(&r, sizeof(words) / sizeof(words[0]))]);
				strcat(text, rng_below(&r, 4) ? " " : "");
			}
			strcat(text, "\n");
		}
		struct config cfg;
		int rc = file(&cfg, text);
		answered += rc == 0 || ((rc == -1 || rc == -2) && err[0] != '\0');
		config_free(&cfg);
	}
	CHECK_INT(answered, 300);
}

int main(void)
{
	char dir[] = "/tmp/l7lab-config-XXXXXX";
	if (mkdtemp(dir) == NULL || chdir(dir) != 0) {
		perror(dir);
		return 1;
	}
	RUN(defaults_are_those_of_the_man_page);
	RUN(the_common_case_makes_one_default_pool);
	RUN(a_backend_takes_a_name_and_a_weight);
	RUN(a_pool_flag_lists_its_servers_and_balance_names_the_pool);
	RUN(every_scalar_flag_sets_its_field);
	RUN(a_config_file_sets_pools_servers_and_routes);
	RUN(flags_after_the_file_override_it_and_listen_flags_replace_the_files);
	RUN(check_prints_the_resolved_configuration_in_file_syntax);
	RUN(the_printed_configuration_reads_back_the_same);
	RUN(an_ipv6_source_without_a_port_prints_in_brackets_and_reads_back);
	RUN(double_quotes_hold_blanks_a_hash_and_escapes);
	RUN(a_quoting_error_names_the_line);
	RUN(check_quotes_the_values_that_need_it_and_they_read_back);
	RUN(a_plain_value_is_printed_without_quotes);
	RUN(a_config_without_a_default_pool_says_so_when_printed);
	RUN(each_file_error_names_the_line_and_what_was_expected);
	RUN(each_pool_and_route_error_names_the_line);
	RUN(a_garbage_file_is_an_error_not_a_crash);
	RUN(file_errors_return_minus_2_and_flag_errors_minus_1);
	RUN(a_pool_algorithm_can_be_set_on_the_pool_line_or_in_its_block);
	RUN(balance_takes_ewma_least_time_and_three_hash_keys);
	RUN(admin_and_ewma_decay_are_directives_like_the_others);
	RUN(per_client_limits_and_the_body_rate_are_directives_printed_when_set);
	RUN(pools_get_different_random_streams_from_one_seed);
	RUN(config_load_file_reads_one_file_into_a_config);
	RUN(random_lines_get_an_answer_never_a_crash);
	unlink("lab.conf");
	unlink("printed.conf");
	if (chdir("/") != 0 || rmdir(dir) != 0)
		perror(dir);
	return t_done();
}
