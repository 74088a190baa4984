/*
 * main.c - bin/proxy: read the configuration, open the listeners, run the
 * event loop until SIGINT or SIGTERM, then let in-flight requests finish
 * (at most STOP_MS) and exit 0.  SIGHUP reopens the log files (as for
 * nginx's and rsyslog's logrotate scripts), SIGUSR1 prints counters.  The seven steps live in their own files;
 * see proxy.h for the map.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"
#include "proxy.h"
#include "sig.h"

/* 10,000 clients and their servers need more than the usual 1024 fds. */
static void raise_nofile(void)
{
	char err[NET_ERRLEN];
	if (net_raise_fd_limit(0, err) < 0)
		log_warn("%s", err);
}

static void on_stop_timeout(ev_loop *loop, void *arg)
{
	(void)arg;
	log_debug("stop: %zu connection(s) still busy after %d ms, closing them", P.nclients, STOP_MS);
	ev_stop(loop);
}

/* SIGUSR1, the security checks: what the WAF (step 3) and DLP (step 6) did. */
static void print_security(void)
{
	const struct security_stats *sec = &P.sec;
	if (P.waf != NULL)
		log_warn("stats waf=%s passed=%llu detected=%llu blocked=%llu", waf_mode_name(P.cfg->waf),
		         (unsigned long long)sec->waf_passed, (unsigned long long)sec->waf_detected,
		         (unsigned long long)sec->waf_blocked);
	if (P.cfg->dlp.mode != DLP_OFF)
		log_warn("stats dlp=%s scanned=%llu leaking=%llu blocked=%llu unscanned=%llu card=%llu ssn=%llu "
		         "aws-key=%llu secret=%llu", dlp_mode_name(P.cfg->dlp.mode),
		         (unsigned long long)sec->dlp_scanned, (unsigned long long)sec->dlp_leaking,
		         (unsigned long long)sec->dlp_blocked, (unsigned long long)sec->dlp_unscanned,
		         (unsigned long long)sec->dlp_found[DLP_CARD], (unsigned long long)sec->dlp_found[DLP_SSN],
		         (unsigned long long)sec->dlp_found[DLP_AWS_KEY], (unsigned long long)sec->dlp_found[DLP_SECRET]);
}

/* SIGUSR1: step 6's passive telemetry, one line per server, and the
 * refusals of steps 1 and 2, on stderr. */
static void print_stats(void)
{
	char refused[512];
	size_t len = 0;
	for (int r = 0; r < REFUSE__COUNT && len < sizeof(refused); r++)   /* 350 bytes at most */
		len += (size_t)snprintf(refused + len, sizeof(refused) - len, " %s=%llu", refusals[r].name,
		                      (unsigned long long)P.refused[r]);
	log_warn("stats refused%s", refused);
	for (size_t p = 0; p < P.cfg->npools; p++) {
		const struct pool *pool = &P.cfg->pools[p];
		for (size_t i = 0; i < pool->nservers; i++) {
			const struct server *s = &pool->servers[i];
			const struct server_stats *st = &s->stats;
			double n = st->requests ? (double)st->requests : 1;
			uint64_t left;
			log_warn("stats pool=%s server=%s state=%s fails=%u requests=%llu 1xx=%llu 2xx=%llu 3xx=%llu 4xx=%llu "
			         "5xx=%llu failed=%llu inflight=%u connects=%llu reuses=%llu idle=%zu "
			         "ttfb_avg=%.3f ttfb_ewma=%.3f ttlb_avg=%.3f",
			         pool->name, s->name, health_state(s, ev_now_ns(P.loop), &left), s->fails,
			         (unsigned long long)st->requests,
			         (unsigned long long)st->by_class[1], (unsigned long long)st->by_class[2],
			         (unsigned long long)st->by_class[3], (unsigned long long)st->by_class[4],
			         (unsigned long long)st->by_class[5], (unsigned long long)st->by_class[0],
			         s->inflight, (unsigned long long)st->connects, (unsigned long long)st->reuses,
			         s->nidle, (double)st->ttfb_us_total / n / 1000, (double)st->ttfb_us_ewma / 1000,
			         (double)st->ttlb_us_total / n / 1000);
		}
	}
}

/* SIGINT/SIGTERM: stop accepting, close what is idle, let the rest finish
 * (responses still being written too: client_rest closes them after).  A
 * second signal stops at once. */
static void on_signal(ev_loop *loop, int signo, void *arg)
{
	(void)arg;
	if (signo == SIGUSR1) {
		print_stats();
		print_security();
	}
	if (signo == SIGHUP)
		logs_reopen();
	if (signo != SIGINT && signo != SIGTERM)
		return;
	if (P.stopping) {
		ev_stop(loop);
		return;
	}
	P.stopping = true;
	log_debug("%s: stopping", strsignal(signo));
	accept_stop();
	health_stop();
	pool_close_all();
	for (struct client *c = P.clients, *next; c != NULL; c = next) {
		next = c->next;
		client_rest(c);
	}
	if (P.nclients == 0)
		ev_stop(loop);
	else
		ev_timer_arm(loop, &P.stop_timer, STOP_MS, on_stop_timeout, NULL);
}

int main(int argc, char **argv)
{
	static struct config cfg;
	log_init(argv[0]);
	config_from_args(&cfg, argc, argv);
	log_verbose = cfg.verbose;
	P.cfg = &cfg;
	if (inspect_start() < 0)   /* the WAF's rules load now, or never (--check too) */
		exit(2);
	if (cfg.check_only) {
		config_print(&cfg, stdout);
		inspect_stop();
		config_free(&cfg);
		exit(fflush(stdout) == 0 ? 0 : 2);
	}
	P.log_fd = P.events_fd = -1;
	P.accepting = true;

	raise_nofile();
	P.loop = ev_new();
	if (P.loop == NULL)
		fatal("event loop: %s", strerror(errno));
	if (sig_setup(P.loop, on_signal, NULL) < 0)
		fatal("signals: %s", strerror(errno));
	struct rng seed;
	rng_seed(&seed, ev_wall_ns() ^ ((uint64_t)getpid() << 32));
	P.id_prefix = (uint32_t)rng_next(&seed);
	if (logs_open() < 0 || limits_start() < 0 || accept_start() < 0 || admin_start() < 0)
		exit(2);
	if (health_start() < 0)
		fatal("health checks: out of memory");
	accept_announce();

	if (ev_run(P.loop) < 0)
		log_warn("poll: %s", strerror(errno));

	/* Everything is freed, so ASan and valgrind see no leak. */
	while (P.clients != NULL)
		client_close(P.clients, "proxy stopped");
	accept_stop();
	admin_stop();
	health_stop();
	pool_close_all();
	limits_stop();
	ev_timer_stop(P.loop, &P.stop_timer);
	ev_timer_stop(P.loop, &P.accept_timer);
	logs_close();
	mem_free_all();
	buf_free(&P.why);
	buf_free(&P.scratch);
	inspect_stop();
	sig_teardown(P.loop);
	ev_free(P.loop);
	config_free(&cfg);
	return 0;
}
