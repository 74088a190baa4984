/*
 * loadgen - a load generator that shows what a proxy does: how fast, how
 * honest about latency (open loop with -r), which backend answered
 * (--by-header), from which client address (--source), and what happens to
 * clients that send too slowly (--slow).
 *
 *   loadgen [options] URL [URL...]
 *
 * main() reads the flags, checks at start everything that can be checked
 * (URLs, names, files, that the targets answer a TCP connect), starts the
 * worker threads (conn.c), shows a progress line on a terminal, and prints
 * the report (report.c) when they are done.  See loadgen.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "loadgen.h"
#include "report.h"
#include "sig.h"

#define MAX_BODY     (64u * 1024 * 1024)
#define MAX_SOURCES  256
#define MAX_THREADS  64
#define MAX_CONNS    100000

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: loadgen [options] URL [URL...]\n"
	    "\n"
	    "Sends HTTP/1.1 requests to URL (http:// only; several URLs are used in turn)\n"
	    "and reports throughput, errors by kind, status codes, latency percentiles and\n"
	    "histogram, and which backend answered (the --by-header value).\n"
	    "\n"
	    "  -c, --connections N     connections kept busy (default 10)\n"
	    "  -n, --requests N        send N requests, then stop\n"
	    "  -d, --duration D        run for D (default 10s unless -n is given)\n"
	    "      --warmup D          send load for D before counting\n"
	    "  -r, --rate R            open loop: R requests/s in all, latency measured from\n"
	    "                          each request's intended send time (default: closed loop)\n"
	    "  -t, --threads N         worker threads, each with its own loop (default 1)\n"
	    "  -m, --method M          request method (default GET)\n"
	    "  -H, --header 'N: V'     add a request header (repeatable; may set Host)\n"
	    "      --body FILE         send FILE as the request body (@- for stdin)\n"
	    "      --timeout D         per-request timeout, connect included (default 5s)\n"
	    "      --no-keepalive      a new connection for every request\n"
	    "      --by-header NAME    count responses by this header (default X-Backend)\n"
	    "      --source IP[,IP..]  bind client sockets to these addresses in turn\n"
	    "      --slow C:BPS        also hold C connections sending at BPS bytes/s\n"
	    "      --json              print the report as JSON\n"
	    "      --hdr FILE          write the latency percentiles in HdrHistogram format\n"
	    "      --timeline FILE     write per-second counts as CSV\n"
	    "  -v, --verbose           log connection errors (-vv: every state change)\n"
	    "  -h, --help, --version\n"
	    "\n"
	    "Durations take a unit: 500ms, 10s, 2m.  A host name's addresses are tried in\n"
	    "turn at start, as curl does; the first that accepts a connection is loaded.\n"
	    "Exit status: 0 when the run completed, 2 on bad usage or an unreachable target.\n");
}

struct options {
	struct config cfg;
	const char **headers;
	size_t nheaders;
	const char *body_path;
	const char *hdr_path, *timeline_path;
	bool json;
	bool duration_set;
};

static double parse_rate(const char *s)
{
	char *end;
	errno = 0;
	double r = strtod(s, &end);
	if (s[0] < '0' || s[0] > '9' || errno || *end != '\0' || !isfinite(r) || r <= 0 || r > 1e7)
		usage_error("--rate: '%s' is not a rate in requests/s (above 0, at most 10000000)", s);
	return r;
}

static void parse_slow(const char *s, struct config *cfg)
{
	const char *colon = strchr(s, ':');
	char conns[32];
	if (colon == NULL || (size_t)(colon - s) >= sizeof(conns))
		usage_error("--slow: '%s': expected CONNS:BYTES_PER_S (e.g. 4:10)", s);
	memcpy(conns, s, (size_t)(colon - s));
	conns[colon - s] = '\0';
	cfg->slow_conns = cli_uint("--slow (connections)", conns, 1, 10000);
	cfg->slow_bps = cli_uint("--slow (bytes per second)", colon + 1, 1, 1000000);
}

static void parse_sources(const char *list, struct config *cfg)
{
	char *copy = strdup(list), *save = NULL;
	if (copy == NULL)
		fatal("out of memory");
	for (char *ip = strtok_r(copy, ",", &save); ip; ip = strtok_r(NULL, ",", &save)) {
		char spec[ADDR_STRLEN + 4];
		if (cfg->nsources == MAX_SOURCES)
			usage_error("--source: at most %d addresses", MAX_SOURCES);
		if (strchr(ip, ':') && ip[0] != '[')
			snprintf(spec, sizeof(spec), "[%.*s]", ADDR_STRLEN - 4, ip);
		else
			snprintf(spec, sizeof(spec), "%.*s", ADDR_STRLEN, ip);
		struct addr *a = realloc(cfg->sources, (cfg->nsources + 1) * sizeof(*a));
		if (a == NULL)
			fatal("out of memory");
		cfg->sources = a;
		cli_addr("--source", spec, 0, &cfg->sources[cfg->nsources]);
		if (addr_port(&cfg->sources[cfg->nsources]) != 0)
			usage_error("--source: '%s': an IP address, without a port", ip);
		cfg->nsources++;
	}
	free(copy);
	if (cfg->nsources == 0)
		usage_error("--source: expected IP[,IP...]");
}

static bool token_ok(const char *s)
{
	return method_ok(s);   /* a header name is a token too */
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { O_WARMUP = 256, O_BODY, O_TIMEOUT, O_NOKA, O_BYHDR, O_SOURCE, O_SLOW, O_JSON, O_HDR, O_TIMELINE, O_VERSION };
	static const struct option longopts[] = {
		{ "connections", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "rate", required_argument, NULL, 'r' },
		{ "threads", required_argument, NULL, 't' },
		{ "method", required_argument, NULL, 'm' },
		{ "header", required_argument, NULL, 'H' },
		{ "body", required_argument, NULL, O_BODY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "no-keepalive", no_argument, NULL, O_NOKA },
		{ "by-header", required_argument, NULL, O_BYHDR },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "slow", required_argument, NULL, O_SLOW },
		{ "json", no_argument, NULL, O_JSON },
		{ "hdr", required_argument, NULL, O_HDR },
		{ "timeline", required_argument, NULL, O_TIMELINE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct config *cfg = &o->cfg;
	char err[URL_ERRLEN];
	cfg->conns = 10;
	cfg->threads = 1;
	cfg->duration_us = 10000000u;
	cfg->timeout_us = 5000000u;
	cfg->keepalive = true;
	cfg->method = "GET";
	cfg->by_header = "X-Backend";
	o->headers = calloc((size_t)argc, sizeof(*o->headers));
	if (o->headers == NULL)
		fatal("out of memory");

	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":c:n:d:r:t:m:H:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfg->conns = cli_uint("-c", optarg, 1, MAX_CONNS); break;
		case 'n': cfg->requests = cli_uint("-n", optarg, 1, UINT64_MAX / 2); break;
		case 'd':
			cfg->duration_us = cli_duration_us("-d", optarg);
			if (cfg->duration_us == 0)
				usage_error("-d: the duration must be above 0");
			o->duration_set = true;
			break;
		case O_WARMUP: cfg->warmup_us = cli_duration_us("--warmup", optarg); break;
		case 'r': cfg->rate = parse_rate(optarg); break;
		case 't': cfg->threads = cli_uint("-t", optarg, 1, MAX_THREADS); break;
		case 'm':
			if (!method_ok(optarg))
				usage_error("-m: '%s' is not a method name", optarg);
			cfg->method = optarg;
			break;
		case 'H':
			if (header_check(optarg, err) < 0)
				usage_error("-H: %s", err);
			o->headers[o->nheaders++] = optarg;
			break;
		case O_BODY: o->body_path = optarg; break;
		case O_TIMEOUT:
			cfg->timeout_us = cli_duration_us("--timeout", optarg);
			if (cfg->timeout_us < 1000 || cfg->timeout_us > 3600000000u)
				usage_error("--timeout: '%s' must be from 1ms to 1h", optarg);
			break;
		case O_NOKA: cfg->keepalive = false; break;
		case O_BYHDR:
			if (!token_ok(optarg))
				usage_error("--by-header: '%s' is not a header name", optarg);
			cfg->by_header = optarg;
			break;
		case O_SOURCE: parse_sources(optarg, cfg); break;
		case O_SLOW: parse_slow(optarg, cfg); break;
		case O_JSON: o->json = true; break;
		case O_HDR: o->hdr_path = optarg; break;
		case O_TIMELINE: o->timeline_path = optarg; cfg->timeline = true; break;
		case 'v': log_verbose++; break;
		case 'h': usage(stdout); exit(fflush(stdout) == 0 ? 0 : 2);
		case O_VERSION: cli_version();
		default: cli_getopt_error(ch, argv, longopts);
		}
	}
	if (optind == argc)
		usage_error("expected a URL (http://HOST[:PORT][/PATH])");
	if (cfg->threads > cfg->conns)
		usage_error("-t %llu: more threads than connections (-c %llu)", (unsigned long long)cfg->threads,
		            (unsigned long long)cfg->conns);
	if (cfg->requests > 0 && !o->duration_set)
		cfg->duration_us = 0;           /* -n alone: run until they are all answered */
	cfg->head = strcmp(cfg->method, "HEAD") == 0;
	cfg->url_text = argv + optind;
	cfg->nurls = (size_t)(argc - optind);
}

/* Reads --body FILE (or @- for stdin) whole. */
static char *read_body(const char *path, size_t *len)
{
	bool in = strcmp(path, "@-") == 0;
	int fd = in ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fatal("--body: open %s: %s", path, strerror(errno));
	struct buf b = BUF_INIT;
	for (;;) {
		ssize_t n = buf_read_fd(&b, fd, 65536);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("--body: read %s: %s", in ? "stdin" : path, strerror(errno));
		}
		if (buf_len(&b) > MAX_BODY)
			fatal("--body: %s is larger than %u MiB", in ? "stdin" : path, MAX_BODY >> 20);
	}
	if (!in)
		close(fd);
	*len = buf_len(&b);
	return b.data;      /* NULL for an empty body */
}

/* A blocking connect with a timeout, to say at once (exit 2) that a target
 * or a --source address will not do, instead of counting errors for 10 s.
 * Returns 0, or -1 with the reason in err. */
static int probe(const struct addr *to, const struct addr *src, uint64_t timeout_us, char err[NET_ERRLEN])
{
	char name[ADDR_STRLEN];
	int fd = net_connect(to, src, err);
	if (fd < 0)
		return -1;
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int ms = (int)(timeout_us / 1000 > 10000 ? 10000 : timeout_us / 1000);
	int n;
	while ((n = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	int e = n < 0 ? errno : n == 0 ? 0 : net_connect_result(fd);
	close(fd);
	if (n < 0)
		snprintf(err, NET_ERRLEN, "poll: %s", strerror(e));
	else if (n == 0)
		snprintf(err, NET_ERRLEN, "connect %s: no answer within %d ms", addr_format(to, name), ms);
	else if (e != 0)
		snprintf(err, NET_ERRLEN, "connect %s: %s", addr_format(to, name), strerror(e));
	return n > 0 && e == 0 ? 0 : -1;
}

/* STEP 1, once at start: a host name may have several addresses (localhost:
 * ::1 and 127.0.0.1); like curl, try each in turn and load the first that
 * accepts a connection.  None: one line naming each failure, exit 2. */
static void pick_address(struct url *u, const struct addr *src, uint64_t timeout_us)
{
	char err[NET_ERRLEN];
	struct buf why = BUF_INIT;
	for (size_t i = 0; i < u->naddrs; i++) {
		if (probe(&u->addrs[i], src, timeout_us, err) == 0) {
			u->addr = u->addrs[i];
			buf_free(&why);
			return;
		}
		log_debug("%s: %s", u->host, err);
		if (buf_printf(&why, "%s%s", i ? "; " : "", err) < 0)
			fatal("out of memory");
	}
	if (u->naddrs == 1)
		fatal("%s", err);
	fatal("%s: no address of %s accepts a connection: %.*s", u->authority, u->host, (int)buf_len(&why),
	      buf_begin(&why));
}

/* Parses and resolves the URLs, groups them by address, and builds every
 * request once. */
static void setup_targets(struct options *o, const char *body, size_t body_len)
{
	struct config *cfg = &o->cfg;
	char err[URL_ERRLEN];
	cfg->urls = calloc(cfg->nurls, sizeof(*cfg->urls));
	cfg->targets = calloc(cfg->nurls, sizeof(*cfg->targets));
	if (cfg->urls == NULL || cfg->targets == NULL)
		fatal("out of memory");
	struct req_spec spec = {
		.method = cfg->method, .headers = o->headers, .nheaders = o->nheaders,
		.body = body, .body_len = body_len, .keepalive = cfg->keepalive,
	};
	for (size_t i = 0; i < cfg->nurls; i++) {
		struct url *u = &cfg->urls[i];
		if (url_parse(cfg->url_text[i], u, err) < 0)
			fatal("%s", err);
		if (url_resolve(u, err) < 0)
			fatal("%s", err);
		pick_address(u, cfg->nsources ? &cfg->sources[0] : NULL, cfg->timeout_us);
		size_t t;
		for (t = 0; t < cfg->ntargets; t++)
			if (addr_equal(&cfg->targets[t].addr, &u->addr))
				break;
		struct target *tg = &cfg->targets[t];
		if (t == cfg->ntargets) {
			cfg->ntargets++;
			tg->addr = u->addr;
			addr_format(&u->addr, tg->name);
			tg->reqs = calloc(cfg->nurls, sizeof(*tg->reqs));
			if (tg->reqs == NULL)
				fatal("out of memory");
		}
		if (request_build(u, &spec, &tg->reqs[tg->nreqs++]) < 0)
			fatal("out of memory");
	}
}

/* Enough file descriptors for every connection, or a clear refusal. */
static void check_fd_limit(const struct config *cfg)
{
	char err[NET_ERRLEN];
	unsigned long long need = cfg->conns + cfg->slow_conns + 64 + 4 * cfg->threads;
	long long have = net_raise_fd_limit(need, err);
	if (have < 0)
		fatal("%s", err);
	if ((unsigned long long)have < need)
		fatal("-c %llu needs %llu file descriptors; the limit is %lld (see ulimit -n)",
		      (unsigned long long)cfg->conns, need, have);
}

static FILE *open_output(const char *flag, const char *path)
{
	if (path == NULL)
		return NULL;
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (f == NULL)
		fatal("%s: open %s: %s", flag, path, strerror(errno));
	return f;
}

/* ---- the run ------------------------------------------------------------- */

struct run {
	struct worker *workers;
	size_t nworkers, ndone;
	bool interrupted;
	bool progress;
	uint64_t start_ns, last_ns, last_requests;
	ev_timer progress_timer;
};

static void on_signal(ev_loop *loop, int signo, void *arg)
{
	(void)loop;
	struct run *run = arg;
	if (signo == SIGINT || signo == SIGTERM) {
		run->interrupted = true;
		atomic_store(&lg_stop, true);
	}
}

static void on_worker_done(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)mask;
	struct run *run = arg;
	unsigned char b[64];
	ssize_t n = read(fd, b, sizeof(b));
	if (n > 0)
		run->ndone += (size_t)n;
	if (run->ndone >= run->nworkers)
		ev_stop(loop);
}

/* The live line on a terminal: elapsed, requests/s over the last second,
 * errors so far. */
static void on_progress(ev_loop *loop, void *arg)
{
	struct run *run = arg;
	uint64_t now = ev_now_ns(loop), requests = 0, errors = 0;
	for (size_t i = 0; i < run->nworkers; i++) {
		requests += atomic_load_explicit(&run->workers[i].live_requests, memory_order_relaxed);
		errors += atomic_load_explicit(&run->workers[i].live_errors, memory_order_relaxed);
	}
	double dt = (double)(now - run->last_ns) / 1e9;
	char a[32], b[32], c[32];
	printf("\r\033[K  %.0f s  %s requests  %s/s  %s errors", (double)(now - run->start_ns) / 1e9,
	       fmt_count(requests, a), fmt_count(dt > 0 ? (uint64_t)((double)(requests - run->last_requests) / dt) : 0, b),
	       fmt_count(errors, c));
	fflush(stdout);
	run->last_ns = now;
	run->last_requests = requests;
	ev_timer_arm(loop, &run->progress_timer, 1000, on_progress, run);
}

int main(int argc, char **argv)
{
	struct options o;
	memset(&o, 0, sizeof(o));
	log_init(argv[0]);
	parse_args(argc, argv, &o);
	struct config *cfg = &o.cfg;

	size_t body_len = 0;
	char *body = o.body_path ? read_body(o.body_path, &body_len) : NULL;
	setup_targets(&o, body, body_len);
	check_fd_limit(cfg);
	FILE *hdr_out = open_output("--hdr", o.hdr_path);
	FILE *timeline_out = open_output("--timeline", o.timeline_path);
	char err[NET_ERRLEN];
	for (size_t s = 1; s < cfg->nsources; s++)
		if (probe(&cfg->targets[0].addr, &cfg->sources[s], cfg->timeout_us, err) < 0)
			fatal("%s", err);

	ev_loop *loop = ev_new();
	int done_pipe[2];
	if (loop == NULL)
		fatal("out of memory");
	if (pipe2(done_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe: %s", strerror(errno));
	struct run run = { .nworkers = cfg->threads };
	run.workers = calloc(cfg->threads, sizeof(*run.workers));
	if (run.workers == NULL)
		fatal("out of memory");
	if (sig_setup(loop, on_signal, &run) < 0 || ev_watch(loop, done_pipe[0], EV_READ, on_worker_done, &run) < 0)
		fatal("signals: %s", strerror(errno));

	uint64_t t0 = ev_mono_ns();   /* the schedule and the counting start here */
	for (size_t i = 0; i < cfg->threads; i++)
		if (worker_init(&run.workers[i], cfg, i, t0, done_pipe[1]) < 0)
			fatal("worker %zu: out of memory", i);
	size_t started = 0;
	for (; started < cfg->threads; started++) {
		int rc = pthread_create(&run.workers[started].thread, NULL, worker_run, &run.workers[started]);
		if (rc != 0) {
			log_warn("pthread_create: %s", strerror(rc));
			atomic_store(&lg_stop, true);
			run.nworkers = started;
			break;
		}
	}
	/* A terminal that cannot erase a line (TERM=dumb) gets no progress line. */
	const char *term = getenv("TERM");
	run.progress = isatty(STDOUT_FILENO) && !o.json && !(term != NULL && strcmp(term, "dumb") == 0);
	run.start_ns = run.last_ns = ev_update_time(loop);
	ev_timer_init(&run.progress_timer);
	if (run.progress)
		ev_timer_arm(loop, &run.progress_timer, 1000, on_progress, &run);
	if (run.nworkers > 0 && ev_run(loop) < 0)
		fatal("poll: %s", strerror(errno));
	ev_timer_stop(loop, &run.progress_timer);
	if (run.progress)
		fputs("\r\033[K", stdout);

	int status = started < cfg->threads ? 1 : 0;
	uint64_t end = 0;
	for (size_t i = 0; i < started; i++) {
		pthread_join(run.workers[i].thread, NULL);
		if (run.workers[i].error) {
			log_warn("worker %zu: %s", i, strerror(run.workers[i].error));
			status = 1;
		}
		if (run.workers[i].end_ns > end)
			end = run.workers[i].end_ns;
	}
	struct stats *st = &run.workers[0].st;
	for (size_t i = 1; i < cfg->threads; i++)
		if (stats_merge(st, &run.workers[i].st) < 0) {
			log_warn("merging the counts: out of memory");
			status = 1;
		}
	uint64_t measure = run.workers[0].measure_ns;
	struct report r = {
		.cfg = cfg, .st = st, .interrupted = run.interrupted,
		.duration_s = end > measure ? (double)(end - measure) / 1e9 : 0,
	};
	if ((o.json ? report_json(&r, stdout) : report_text(&r, stdout)) < 0 || fflush(stdout) != 0)
		status = 1;
	if (hdr_out && (hist_write_percentiles(&st->lat, hdr_out) < 0 || (hdr_out != stdout && fclose(hdr_out) != 0))) {
		log_warn("--hdr %s: %s", o.hdr_path, strerror(errno));
		status = 1;
	}
	if (timeline_out && (report_timeline(&r, timeline_out) < 0 ||
	                     (timeline_out != stdout && fclose(timeline_out) != 0))) {
		log_warn("--timeline %s: %s", o.timeline_path, strerror(errno));
		status = 1;
	}
	if (st->tl_overflow)
		log_warn("--timeline: %llu counts did not fit (more than %d status codes?)",
		         (unsigned long long)st->tl_overflow, TL_STATUS_COLS);

	for (size_t i = 0; i < cfg->threads; i++)
		worker_free(&run.workers[i]);
	free(run.workers);
	sig_teardown(loop);
	ev_unwatch(loop, done_pipe[0]);
	close(done_pipe[0]);
	close(done_pipe[1]);
	ev_free(loop);
	for (size_t t = 0; t < cfg->ntargets; t++) {
		for (size_t i = 0; i < cfg->targets[t].nreqs; i++)
			buf_free(&cfg->targets[t].reqs[i]);
		free(cfg->targets[t].reqs);
	}
	for (size_t i = 0; i < cfg->nurls; i++)
		url_free(&cfg->urls[i]);
	free(cfg->targets);
	free(cfg->urls);
	free(cfg->sources);
	free(o.headers);
	free(body);
	return status;
}
