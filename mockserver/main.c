/*
 * mockserver - mock HTTP/1.x backends ("the Back-end App" the proxy talks
 * to in steps 4 to 6) with httpbin-like endpoints and fault injection.
 *
 * main.c reads the flags into one struct backend per --listen, opens the
 * listeners, prints "listening NAME ADDRESS:PORT" for each, and runs the
 * loop: accepting (below), connections (conn.c), answers (endpoints.c),
 * health timers and signals (below).
 */
#include "mockserver.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "sig.h"

static const char usage_text[] =
	"usage: mockserver [-v] [--listen ADDRESS:PORT [--name NAME] [FAULTS...]]...\n"
	"\n"
	"Mock HTTP/1.x backends: one process serves every --listen, each a named\n"
	"backend.  Flags after a --listen apply to it; flags before the first\n"
	"--listen are defaults for all.  With port 0 the kernel picks a free port;\n"
	"each listener prints \"listening NAME ADDRESS:PORT\" on stdout once it accepts.\n"
	"\n"
	"  --listen ADDRESS:PORT      listen here (127.0.0.1:9001, [::1]:0; default 127.0.0.1:9001)\n"
	"  --name NAME                X-Backend name (default: the bound ADDRESS:PORT)\n"
	"  --delay D[:JITTER]         answer every request D (+ up to JITTER) late\n"
	"  --delay-after WHEN:D[:JITTER]\n"
	"                             from WHEN after start (or usr2: at SIGUSR2 only)\n"
	"                             answer D late instead\n"
	"  --workers N                serve at most N requests at once (1 to 10000;\n"
	"                             default no limit); the others wait their turn,\n"
	"                             and their delay starts when a worker takes them\n"
	"  --fail-rate P              answer --fail-status with probability P (0.1 or 10%)\n"
	"  --fail-status CODE         status of injected failures (default 500)\n"
	"  --drop-rate P              close without answering with probability P\n"
	"  --reset-rate P             close with a TCP RST with probability P\n"
	"  --max-requests-per-conn N  close each connection after N requests\n"
	"  --idle-timeout D           close idle connections (default 5s; 0 never)\n"
	"  --unhealthy-after D        answer 503 to everything from D after start\n"
	"  --unhealthy-for D          ... for D, then recover (from start if alone)\n"
	"  --seed N                   seed the fault dice (reproducible runs)\n"
	"  --max-header SIZE          request line + headers limit, else 431 (default 16k)\n"
	"  --max-body SIZE            /echo body limit, else 413 (default 1M)\n"
	"  --raw-dir DIR              where /raw/FILE reads its files\n"
	"  --grace D                  on SIGTERM, time to finish responses (default 2s)\n"
	"  -v, --verbose              one line per request on stderr (-vv: connections)\n"
	"  -h, --help, --version\n"
	"\n"
	"Durations take a unit: 250ms, 1.5s, 2m (0 alone is fine).\n"
	"Endpoints: /  /status/CODE  /delay/MS  /echo  /bytes/N  /chunked/N?size=K\n"
	"  /drip?bytes=N&ms=T  /leak  /headers/N  /close  /drop  /reset  /hang\n"
	"  /stats  /health  /raw/FILE\n"
	"Every response carries X-Backend, X-Conn, X-Conn-Request and Server: mockserver.\n"
	"SIGUSR1 toggles health (503 while unhealthy); SIGUSR2 switches to the\n"
	"--delay-after delay now (and back); SIGINT/SIGTERM finish and exit 0.\n"
	"See mockserver(1).\n";

/* ---- flags ---------------------------------------------------------------- */

static const struct opts default_opts = {
	.fail_status = 500,
	.idle_ms = 5000,
	.max_header = 16 * 1024,
	.max_body = 1024 * 1024,
};

/* "D" or "D:JITTER", each a duration (250ms, 1.5s), for flag. */
static void parse_delay(const char *flag, const char *s, uint64_t *delay, uint64_t *jitter)
{
	char first[64];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	if (n >= sizeof(first))
		usage_error("%s: '%s' is not D[:JITTER]", flag, s);
	memcpy(first, s, n);
	first[n] = '\0';
	*delay = cli_duration_ms(flag, first);
	*jitter = colon ? cli_duration_ms(flag, colon + 1) : 0;
}

/* "WHEN:D[:JITTER]", WHEN a duration or usr2. */
static void parse_delay_after(const char *s, struct opts *o)
{
	char when[64];
	const char *colon = strchr(s, ':');
	if (colon == NULL || (size_t)(colon - s) >= sizeof(when))
		usage_error("--delay-after: '%s' is not WHEN:D[:JITTER] (10s:2ms, usr2:2ms)", s);
	memcpy(when, s, (size_t)(colon - s));
	when[colon - s] = '\0';
	o->delay_on_signal = strcmp(when, "usr2") == 0;
	if (!o->delay_on_signal)
		o->delay_after_ms = cli_duration_ms("--delay-after", when);
	parse_delay("--delay-after", colon + 1, &o->delay2_ms, &o->jitter2_ms);
	o->has_delay2 = true;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

/* A new listener; the flags that follow apply to it. */
static void add_listener(struct server *srv, const char *addr, const struct opts *defaults, const char **names)
{
	struct backend *be = realloc(srv->be, (srv->nbe + 1) * sizeof(*be));
	if (be == NULL)
		fatal("out of memory");
	srv->be = be;
	be = &srv->be[srv->nbe];
	memset(be, 0, sizeof(*be));
	cli_addr("--listen", addr, -1, &be->addr);
	be->o = *defaults;
	be->fd = -1;
	be->raw_dirfd = -1;
	names[srv->nbe++] = NULL;
}

enum {
	O_LISTEN = 256, O_NAME, O_DELAY, O_FAIL_RATE, O_FAIL_STATUS, O_DROP_RATE, O_RESET_RATE,
	O_MAX_REQUESTS, O_IDLE_TIMEOUT, O_UNHEALTHY_AFTER, O_UNHEALTHY_FOR, O_SEED, O_MAX_HEADER,
	O_MAX_BODY, O_RAW_DIR, O_GRACE, O_VERSION, O_DELAY_AFTER, O_WORKERS,
};

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, O_LISTEN },
	{ "name", required_argument, NULL, O_NAME },
	{ "delay", required_argument, NULL, O_DELAY },
	{ "delay-after", required_argument, NULL, O_DELAY_AFTER },
	{ "workers", required_argument, NULL, O_WORKERS },
	{ "fail-rate", required_argument, NULL, O_FAIL_RATE },
	{ "fail-status", required_argument, NULL, O_FAIL_STATUS },
	{ "drop-rate", required_argument, NULL, O_DROP_RATE },
	{ "reset-rate", required_argument, NULL, O_RESET_RATE },
	{ "max-requests-per-conn", required_argument, NULL, O_MAX_REQUESTS },
	{ "idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT },
	{ "unhealthy-after", required_argument, NULL, O_UNHEALTHY_AFTER },
	{ "unhealthy-for", required_argument, NULL, O_UNHEALTHY_FOR },
	{ "seed", required_argument, NULL, O_SEED },
	{ "max-header", required_argument, NULL, O_MAX_HEADER },
	{ "max-body", required_argument, NULL, O_MAX_BODY },
	{ "raw-dir", required_argument, NULL, O_RAW_DIR },
	{ "grace", required_argument, NULL, O_GRACE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Fills srv->be from argv, in order: flags before the first --listen are
 * defaults, later ones apply to the listener before them.  Exits 2 with one
 * line on bad input. */
static void parse_flags(struct server *srv, int argc, char **argv, const char **names)
{
	struct opts defaults = default_opts;
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
		struct backend *cur = srv->nbe ? &srv->be[srv->nbe - 1] : NULL;
		struct opts *o = cur ? &cur->o : &defaults;
		const char *v = optarg;
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
			exit(fflush(stdout) == 0 ? 0 : 2);
		case O_VERSION:
			cli_version();
		case 'v':
			log_verbose++;
			break;
		case O_LISTEN:
			add_listener(srv, v, &defaults, names);
			break;
		case O_NAME:
			if (cur == NULL)
				usage_error("--name: put it after the --listen it names");
			if (!name_ok(v))
				usage_error("--name: '%s' is not 1-63 letters, digits, '-', '_' or '.'", v);
			for (size_t k = 0; k + 1 < srv->nbe; k++)
				if (names[k] && strcmp(names[k], v) == 0)
					usage_error("--name: '%s' is used twice", v);
			names[srv->nbe - 1] = v;
			break;
		case O_DELAY: parse_delay("--delay", v, &o->delay_ms, &o->jitter_ms); break;
		case O_DELAY_AFTER: parse_delay_after(v, o); break;
		case O_WORKERS: o->workers = cli_uint("--workers", v, 1, MAX_WORKERS); break;
		case O_FAIL_RATE: o->fail_rate = cli_prob("--fail-rate", v); break;
		case O_FAIL_STATUS: o->fail_status = (int)cli_uint("--fail-status", v, 200, 599); break;
		case O_DROP_RATE: o->drop_rate = cli_prob("--drop-rate", v); break;
		case O_RESET_RATE: o->reset_rate = cli_prob("--reset-rate", v); break;
		case O_MAX_REQUESTS: o->max_requests = cli_uint("--max-requests-per-conn", v, 1, UINT64_MAX / 2); break;
		case O_IDLE_TIMEOUT: o->idle_ms = cli_duration_ms("--idle-timeout", v); break;
		case O_UNHEALTHY_AFTER:
			o->unhealthy_after_ms = cli_duration_ms("--unhealthy-after", v);
			o->has_after = true;
			break;
		case O_UNHEALTHY_FOR:
			o->unhealthy_for_ms = cli_duration_ms("--unhealthy-for", v);
			o->has_for = true;
			break;
		case O_SEED:
			o->seed = cli_uint("--seed", v, 0, UINT64_MAX);
			o->seeded = true;
			break;
		case O_MAX_HEADER:
			o->max_header = cli_size("--max-header", v);
			if (o->max_header < 64 || o->max_header > 1024 * 1024)
				usage_error("--max-header: '%s' must be from 64 bytes to 1M", v);
			break;
		case O_MAX_BODY:
			o->max_body = cli_size("--max-body", v);
			if (o->max_body > 64 * 1024 * 1024)
				usage_error("--max-body: '%s' must be at most 64M", v);
			break;
		case O_RAW_DIR: o->raw_dir = v; break;
		case O_GRACE: srv->grace_ms = cli_duration_ms("--grace", v); break;
		default:
			cli_getopt_error(ch, argv, longopts);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (srv->nbe == 0)          /* no --listen: one backend on the default port */
		add_listener(srv, "127.0.0.1:9001", &defaults, names);
}

/* ---- listeners ------------------------------------------------------------ */

static void on_accept(ev_loop *loop, int fd, void *arg, int mask);

static void resume_accept(ev_loop *loop, void *arg)
{
	struct backend *be = arg;
	if (be->fd >= 0)
		ev_set_mask(loop, be->fd, EV_READ);
}

/* STEP 4, the backend's side: the proxy's connect() lands here. */
static void on_accept(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)mask;
	struct backend *be = arg;
	for (int i = 0; i < 64; i++) {      /* a bounded batch per wake-up */
		struct addr peer;
		int cfd = net_accept(fd, &peer);
		if (cfd >= 0) {
			conn_accept(be, cfd, &peer);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		log_warn("accept %s: %s%s", be->addr_str, strerror(errno),
		         errno == EMFILE || errno == ENFILE ? " (pausing accepts for 100 ms)" : "");
		/* The connection stays queued, so poll() would wake us at once:
		 * pause instead of spinning. */
		ev_set_mask(loop, fd, 0);
		ev_timer_arm(loop, &be->accept_timer, 100, resume_accept, be);
		return;
	}
}

static void open_listener(struct server *srv, struct backend *be, const char *name)
{
	char err[NET_ERRLEN];
	be->srv = srv;
	be->fd = net_listen(&be->addr, 1024, err);
	if (be->fd < 0)
		fatal("%s", err);
	if (net_local_addr(be->fd, &be->addr) < 0)
		fatal("getsockname: %s", strerror(errno));
	addr_format(&be->addr, be->addr_str);
	snprintf(be->name, sizeof(be->name), "%s", name ? name : be->addr_str);
	for (struct backend *o = srv->be; o < be; o++)
		if (strcmp(o->name, be->name) == 0)
			fatal("--name: '%s' is used twice", be->name);
	if (be->o.raw_dir != NULL) {
		be->raw_dirfd = open(be->o.raw_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (be->raw_dirfd < 0)
			fatal("--raw-dir: open %s: %s", be->o.raw_dir, strerror(errno));
	}
	rng_seed(&be->rng, be->o.seeded ? be->o.seed : ev_wall_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(be - srv->be));
	ev_timer_init(&be->health_timer);
	ev_timer_init(&be->delay_timer);
	ev_timer_init(&be->accept_timer);
	be->healthy = true;
	if (ev_watch(srv->loop, be->fd, EV_READ, on_accept, be) < 0)
		fatal("watch %s: %s", be->addr_str, strerror(errno));
}

/* ---- health --------------------------------------------------------------- */

static void set_health(struct backend *be, bool healthy, const char *why)
{
	if (be->healthy != healthy)
		log_debug("%s: now %s (%s)", be->name, healthy ? "healthy" : "unhealthy", why);
	be->healthy = healthy;
}

/* Phase 0 ends at --unhealthy-after, phase 1 after --unhealthy-for. */
static void health_timer(ev_loop *loop, void *arg)
{
	struct backend *be = arg;
	if (be->health_phase == 0) {
		set_health(be, false, "--unhealthy-after");
		be->health_phase = 1;
		if (be->o.has_for)
			ev_timer_arm(loop, &be->health_timer, be->o.unhealthy_for_ms, health_timer, be);
	} else {
		set_health(be, true, "--unhealthy-for is over");
	}
}

static void start_health(struct server *srv, struct backend *be)
{
	if (be->o.has_after) {
		ev_timer_arm(srv->loop, &be->health_timer, be->o.unhealthy_after_ms, health_timer, be);
	} else if (be->o.has_for) {
		set_health(be, false, "--unhealthy-for");
		be->health_phase = 1;
		ev_timer_arm(srv->loop, &be->health_timer, be->o.unhealthy_for_ms, health_timer, be);
	}
}

/* ---- the delay switch (--delay-after, SIGUSR2) ------------------------------ */

/* Swaps --delay and the --delay-after delay. */
static void switch_delay(struct backend *be, const char *why)
{
	struct opts *o = &be->o;
	uint64_t d = o->delay_ms, j = o->jitter_ms;
	o->delay_ms = o->delay2_ms;
	o->jitter_ms = o->jitter2_ms;
	o->delay2_ms = d;
	o->jitter2_ms = j;
	be->delay_switched = !be->delay_switched;
	log_debug("%s: delay now %llu ms (+ up to %llu) (%s)", be->name, (unsigned long long)o->delay_ms,
	          (unsigned long long)o->jitter_ms, why);
}

static void delay_timer(ev_loop *loop, void *arg)
{
	(void)loop;
	switch_delay(arg, "--delay-after");
}

static void start_delay(struct server *srv, struct backend *be)
{
	if (be->o.has_delay2 && !be->o.delay_on_signal)
		ev_timer_arm(srv->loop, &be->delay_timer, be->o.delay_after_ms, delay_timer, be);
}

/* ---- signals and shutdown ------------------------------------------------- */

static void grace_over(ev_loop *loop, void *arg)
{
	struct server *srv = arg;
	conn_close_all(srv, "grace period over");
	ev_stop(loop);
}

static void on_signal(ev_loop *loop, int signo, void *arg)
{
	struct server *srv = arg;
	if (signo == SIGUSR1) {
		for (size_t i = 0; i < srv->nbe; i++)
			set_health(&srv->be[i], !srv->be[i].healthy, "SIGUSR1");
		return;
	}
	if (signo == SIGUSR2) {   /* now, instead of at WHEN; again: back */
		for (size_t i = 0; i < srv->nbe; i++)
			if (srv->be[i].o.has_delay2) {
				ev_timer_stop(loop, &srv->be[i].delay_timer);
				switch_delay(&srv->be[i], "SIGUSR2");
			}
		return;
	}
	if (signo != SIGINT && signo != SIGTERM)
		return;
	if (srv->draining) {        /* a second signal: stop now */
		conn_close_all(srv, "second signal");
		ev_stop(loop);
		return;
	}
	log_debug("%s: stopping: no new connections, finishing responses", strsignal(signo));
	srv->draining = true;
	for (size_t i = 0; i < srv->nbe; i++) {
		struct backend *be = &srv->be[i];
		ev_unwatch(loop, be->fd);
		close(be->fd);
		be->fd = -1;
		ev_timer_stop(loop, &be->health_timer);
		ev_timer_stop(loop, &be->delay_timer);
		ev_timer_stop(loop, &be->accept_timer);
	}
	conn_drain_all(srv);
	if (srv->nconns == 0)
		ev_stop(loop);
	else
		ev_timer_arm(loop, &srv->grace_timer, srv->grace_ms, grace_over, srv);
}

/* ---- main ----------------------------------------------------------------- */

/* The /bytes body: printable, reproducible, 64 characters a line. */
static unsigned char *make_pattern(void)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *p = malloc(PATTERN_LEN);
	struct rng r;
	if (p == NULL)
		return NULL;
	rng_seed(&r, 7);
	for (size_t i = 0; i < PATTERN_LEN; i++)
		p[i] = (i % 65 == 64) ? '\n' : (unsigned char)alphabet[rng_next(&r) & 63];
	return p;
}

/* Load tests open many connections: allow as many fds as the hard limit. */
static void raise_fd_limit(void)
{
	char err[NET_ERRLEN];
	if (net_raise_fd_limit(0, err) < 0)
		log_debug("%s", err);
}

int main(int argc, char **argv)
{
	struct server srv = { .grace_ms = 2000, .scratch = BUF_INIT, .leak_page = BUF_INIT };
	log_init(argv[0]);
	const char **names = calloc((size_t)argc + 1, sizeof(*names));
	if (names == NULL)
		fatal("out of memory");
	parse_flags(&srv, argc, argv, names);

	raise_fd_limit();
	srv.loop = ev_new();
	srv.pattern = make_pattern();
	if (srv.loop == NULL || srv.pattern == NULL || leak_page_build(&srv.leak_page) < 0)
		fatal("out of memory");
	ev_timer_init(&srv.grace_timer);
	for (size_t i = 0; i < srv.nbe; i++)
		open_listener(&srv, &srv.be[i], names[i]);
	free(names);
	if (sig_setup(srv.loop, on_signal, &srv) < 0)
		fatal("signals: %s", strerror(errno));
	for (size_t i = 0; i < srv.nbe; i++) {
		start_health(&srv, &srv.be[i]);
		start_delay(&srv, &srv.be[i]);
		printf("listening %s %s\n", srv.be[i].name, srv.be[i].addr_str);
	}
	if (fflush(stdout) != 0)
		fatal("stdout: %s", strerror(errno));

	int rc = 0;
	if (ev_run(srv.loop) < 0) {
		log_warn("poll: %s", strerror(errno));
		rc = 1;
	}

	conn_close_all(&srv, "exiting");
	for (size_t i = 0; i < srv.nbe; i++) {
		if (srv.be[i].fd >= 0) {
			ev_unwatch(srv.loop, srv.be[i].fd);
			close(srv.be[i].fd);
		}
		if (srv.be[i].raw_dirfd >= 0)
			close(srv.be[i].raw_dirfd);
	}
	sig_teardown(srv.loop);
	ev_free(srv.loop);
	free(srv.be);
	free(srv.pattern);
	buf_free(&srv.scratch);
	buf_free(&srv.leak_page);
	return rc;
}
