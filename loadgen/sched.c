/*
 * sched.c - the open-loop schedule (see sched.h).
 */
#include "sched.h"

void sched_init(struct sched *s, uint64_t start_ns, double rate)
{
	s->start_ns = start_ns;
	s->interval_ns = 1e9 / rate;
	s->issued = 0;
}

uint64_t sched_time(const struct sched *s, uint64_t k)
{
	return s->start_ns + (uint64_t)((double)k * s->interval_ns);
}

uint64_t sched_due(const struct sched *s, uint64_t now_ns)
{
	if (now_ns < s->start_ns)
		return 0;
	/* Requests 0..floor(elapsed / interval) are due; the check against
	 * sched_time keeps the float division from rounding one too far. */
	uint64_t k = (uint64_t)((double)(now_ns - s->start_ns) / s->interval_ns);
	while (k > 0 && sched_time(s, k) > now_ns)
		k--;
	while (sched_time(s, k + 1) <= now_ns)
		k++;
	return k + 1 > s->issued ? k + 1 - s->issued : 0;
}

bool sched_take(struct sched *s, uint64_t now_ns, uint64_t *intended)
{
	uint64_t t = sched_time(s, s->issued);
	if (t > now_ns)
		return false;
	*intended = t;
	s->issued++;
	return true;
}
