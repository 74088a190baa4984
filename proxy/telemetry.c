/*
 * telemetry.c - per-server histograms and per-second history for --admin
 * (see telemetry.h).
 */
#include "telemetry.h"

#include <stdlib.h>

#include "lb.h"

#define SECOND_NS 1000000000u

struct telemetry T;
static struct config *tick_cfg;     /* what the timer closes seconds for */

static uint32_t clamp32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v; }

static void on_tick(ev_loop *loop, void *arg);

static void arm(ev_loop *loop)
{
	ev_timer_arm_at(loop, &T.tick, T.start_ns + (T.seconds + 1) * SECOND_NS, on_tick, loop);
}

int telemetry_start(struct config *cfg, ev_loop *loop, uint64_t now)
{
	T.start_ns = now;
	T.start_wall_ns = ev_wall_ns();
	T.seconds = 0;
	if (hist_init(&T.window) < 0 || hist_init(&T.all) < 0)
		return -1;
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers; i++) {
			struct server *s = &cfg->pools[p].servers[i];
			struct server_telemetry *tm = calloc(1, sizeof(*tm));
			if (tm == NULL)
				return -1;
			s->tm = tm;    /* set first: telemetry_stop frees what is there */
			if (hist_init(&tm->ttfb) < 0)
				return -1;
			for (size_t k = 0; k < TELEMETRY_WINDOW; k++)
				if (hist_init(&tm->sec[k]) < 0)
					return -1;
			tm->seen_requests = server_requests(s);
			tm->seen_errors = server_errors(s);
		}
	tick_cfg = cfg;
	if (loop != NULL)
		arm(loop);
	return 0;
}

void telemetry_stop(struct config *cfg, ev_loop *loop)
{
	if (loop != NULL)
		ev_timer_stop(loop, &T.tick);
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers; i++) {
			struct server_telemetry *tm = cfg->pools[p].servers[i].tm;
			if (tm == NULL)
				continue;
			hist_free(&tm->ttfb);
			for (size_t k = 0; k < TELEMETRY_WINDOW; k++)
				hist_free(&tm->sec[k]);
			free(tm);
			cfg->pools[p].servers[i].tm = NULL;
		}
	hist_free(&T.window);
	hist_free(&T.all);
	tick_cfg = NULL;
}

void telemetry_response(struct server *s, uint64_t t_sent, uint64_t t_resp)
{
	if (t_sent == 0 || t_resp < t_sent)   /* the answer came before the request was sent */
		return;
	lb_observe(s, t_resp - t_sent, t_resp);
	if (s->tm != NULL) {
		uint64_t us = (t_resp - t_sent) / 1000;
		hist_record(&s->tm->ttfb, us);
		hist_record(&s->tm->sec[T.seconds % TELEMETRY_WINDOW], us);
	}
}

/* Closes s's second: its counts, the second's percentiles, and the
 * window's (merged into T.all too). */
static void close_second(struct server *s)
{
	struct server_telemetry *tm = s->tm;
	struct tm_second *sec = &tm->history[T.seconds % TELEMETRY_HISTORY];
	const struct hist *now = &tm->sec[T.seconds % TELEMETRY_WINDOW];
	uint64_t req = server_requests(s), err = server_errors(s);
	sec->requests = clamp32(req - tm->seen_requests);
	sec->errors = clamp32(err - tm->seen_errors);
	sec->p50_us = clamp32(hist_percentile(now, 50));
	sec->p99_us = clamp32(hist_percentile(now, 99));
	sec->inflight = s->inflight;
	tm->seen_requests = req;
	tm->seen_errors = err;
	T.requests += sec->requests;
	hist_reset(&T.window);
	for (size_t k = 0; k < TELEMETRY_WINDOW; k++)
		hist_add(&T.window, &tm->sec[k]);
	tm->p50_us = hist_percentile(&T.window, 50);
	tm->p99_us = hist_percentile(&T.window, 99);
	hist_add(&T.all, &T.window);
}

void telemetry_tick(struct config *cfg, uint64_t now)
{
	(void)now;
	T.requests = 0;
	hist_reset(&T.all);
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers; i++)
			if (cfg->pools[p].servers[i].tm != NULL)
				close_second(&cfg->pools[p].servers[i]);
	T.p50_us = hist_percentile(&T.all, 50);
	T.p99_us = hist_percentile(&T.all, 99);
	T.seconds++;
	/* the oldest second of the window becomes the new one */
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers; i++)
			if (cfg->pools[p].servers[i].tm != NULL)
				hist_reset(&cfg->pools[p].servers[i].tm->sec[T.seconds % TELEMETRY_WINDOW]);
}

/* Once a second, on the second since start; a late loop catches up (the
 * seconds it missed are closed empty, at most WINDOW of them per turn). */
static void on_tick(ev_loop *loop, void *arg)
{
	(void)arg;
	uint64_t now = ev_now_ns(loop);
	for (int n = 0; n < TELEMETRY_WINDOW && now >= T.start_ns + (T.seconds + 1) * SECOND_NS; n++)
		telemetry_tick(tick_cfg, now);
	arm(loop);
}

const struct tm_second *telemetry_second(const struct server *s, uint64_t ago)
{
	if (s->tm == NULL || ago >= telemetry_seconds())
		return NULL;
	return &s->tm->history[(T.seconds - 1 - ago) % TELEMETRY_HISTORY];
}

uint64_t telemetry_seconds(void)
{
	return T.seconds < TELEMETRY_HISTORY ? T.seconds : TELEMETRY_HISTORY;
}
