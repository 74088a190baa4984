/*
 * sched.h - the open-loop schedule (-r RATE): request k is due at
 * start + k / rate, whether or not the server has kept up.  Latency is
 * measured from that intended time, so a stall shows in the percentiles
 * instead of silently slowing the client down (coordinated omission, as
 * wrk2 corrects it).  Pure arithmetic; the worker owns the timer.
 */
#ifndef LG_SCHED_H
#define LG_SCHED_H

#include <stdbool.h>
#include <stdint.h>

struct sched {
	uint64_t start_ns;   /* intended time of request 0             */
	double interval_ns;  /* time between two requests              */
	uint64_t issued;     /* requests handed out so far              */
};

/* A schedule of rate requests per second starting at start_ns.  With
 * several threads, thread i of n uses sched_init(s, t0 + i * 1e9 / R, R / n),
 * and together they issue the single sequence t0 + k / R. */
void sched_init(struct sched *s, uint64_t start_ns, double rate);
/* The intended send time of request k. */
uint64_t sched_time(const struct sched *s, uint64_t k);
/* Requests due by now_ns and not yet handed out. */
uint64_t sched_due(const struct sched *s, uint64_t now_ns);
/* Hands out the next request if it is due by now_ns: true, with its
 * intended time in *intended. */
bool sched_take(struct sched *s, uint64_t now_ns, uint64_t *intended);
/* The intended time of the next request to hand out. */
static inline uint64_t sched_next(const struct sched *s) { return sched_time(s, s->issued); }

#endif
