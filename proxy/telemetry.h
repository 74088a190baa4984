/*
 * telemetry.h - step 6's harvest, per server, for --admin: each answer's
 * time to first byte (TTFB) in log-linear histograms (lib/hist.h), one
 * since start and one per second for the last TELEMETRY_WINDOW seconds
 * (the p50/p99 the dashboard shows), and a ring of per-second figures for
 * the last TELEMETRY_HISTORY seconds (its charts).
 *
 * Recording an answer costs two histogram increments: no allocation, no
 * lock, no system call.  Once a second telemetry_tick() closes the second
 * for every server.  Without --admin nothing is allocated and the samples
 * only feed --balance ewma (lb_observe).
 */
#ifndef PROXY_TELEMETRY_H
#define PROXY_TELEMETRY_H

#include <stdint.h>

#include "config.h"
#include "ev.h"
#include "hist.h"

#define TELEMETRY_WINDOW  10       /* seconds behind the p50/p99 shown         */
#define TELEMETRY_HISTORY 300      /* seconds of history: five minutes          */

/* One server's second. */
struct tm_second {
	uint32_t requests;             /* exchanges that ended: answered or failed */
	uint32_t errors;               /* of those, failed or 5xx                  */
	uint32_t p50_us, p99_us;       /* TTFB of that second's answers (0: none)  */
	uint32_t inflight;             /* at the end of the second                 */
};

struct server_telemetry {
	struct hist ttfb;                       /* every answer since start          */
	struct hist sec[TELEMETRY_WINDOW];      /* [seconds % WINDOW]: this second   */
	uint64_t p50_us, p99_us;                /* over sec[], as of the last tick   */
	struct tm_second history[TELEMETRY_HISTORY];   /* [seconds % HISTORY]      */
	uint64_t seen_requests, seen_errors;    /* the counters at the last tick     */
};

/* The process's side: when it started, how many seconds were closed. */
struct telemetry {
	uint64_t start_ns, start_wall_ns;       /* ev_now_ns(), ev_wall_ns() at start */
	uint64_t seconds;                       /* seconds closed so far              */
	uint64_t p50_us, p99_us;                /* every server's window merged        */
	uint32_t requests;                      /* every server, the last second      */
	struct hist window, all;                /* scratch for the merges              */
	ev_timer tick;
};
extern struct telemetry T;

/* Allocates every server's histograms and starts the ticks (loop may be
 * NULL: then telemetry_tick is called by hand, as unit tests do).
 * Returns 0, or -1 on ENOMEM. */
int telemetry_start(struct config *cfg, ev_loop *loop, uint64_t now);
void telemetry_stop(struct config *cfg, ev_loop *loop);

/* An answer from s: its request went out at t_sent and the first byte of
 * the response came back at t_resp (ev_mono_ns() times).  Feeds lb_observe
 * and, with --admin, the histograms. */
void telemetry_response(struct server *s, uint64_t t_sent, uint64_t t_resp);

/* Closes the current second for every server of cfg. */
void telemetry_tick(struct config *cfg, uint64_t now);

/* s's second `ago` seconds before the last one closed (0: the last one), or
 * NULL when there is none that old. */
const struct tm_second *telemetry_second(const struct server *s, uint64_t ago);
/* How many seconds of history there are (at most TELEMETRY_HISTORY). */
uint64_t telemetry_seconds(void);

/* The counters the seconds are taken from. */
static inline uint64_t server_requests(const struct server *s)
{
	return s->stats.requests + s->stats.by_class[0];
}
static inline uint64_t server_errors(const struct server *s)
{
	return s->stats.by_class[0] + s->stats.by_class[5];
}

#endif
