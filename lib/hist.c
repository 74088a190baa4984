/*
 * hist.c - the log-linear latency histogram (see hist.h).
 */
#include "hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->counts = calloc(HIST_LEN, sizeof(*h->counts));
	return h->counts ? 0 : -1;
}

void hist_free(struct hist *h)
{
	free(h->counts);
	h->counts = NULL;
}

void hist_reset(struct hist *h)
{
	uint64_t *counts = h->counts;
	if (h->total > 0) {
		size_t lo = hist_index(h->min), hi = hist_index(h->max);
		memset(counts + lo, 0, (hi - lo + 1) * sizeof(*counts));
	}
	memset(h, 0, sizeof(*h));
	h->counts = counts;
}

/* The bucket is given by the highest set bit above the sub-bucket range;
 * the sub-bucket by the value shifted down to that bucket's resolution. */
size_t hist_index(uint64_t us)
{
	if (us > HIST_MAX_US)
		us = HIST_MAX_US;
	unsigned pow2ceil = 64u - (unsigned)__builtin_clzll(us | (HIST_SUB_COUNT - 1));
	unsigned bucket = pow2ceil - (HIST_SUB_HALF_BITS + 1);
	uint64_t sub = us >> bucket;
	return ((size_t)(bucket + 1) << HIST_SUB_HALF_BITS) + (size_t)(sub - HIST_SUB_HALF);
}

static unsigned index_bucket(size_t index, uint64_t *sub)
{
	long bucket = (long)(index >> HIST_SUB_HALF_BITS) - 1;
	*sub = (index & (HIST_SUB_HALF - 1)) + HIST_SUB_HALF;
	if (bucket < 0) {
		*sub -= HIST_SUB_HALF;
		bucket = 0;
	}
	return (unsigned)bucket;
}

uint64_t hist_lowest_equiv(size_t index)
{
	uint64_t sub;
	unsigned bucket = index_bucket(index, &sub);
	return sub << bucket;
}

uint64_t hist_highest_equiv(size_t index)
{
	uint64_t sub;
	unsigned bucket = index_bucket(index, &sub);
	return (sub << bucket) + (1u << bucket) - 1;
}

void hist_record(struct hist *h, uint64_t us)
{
	if (us > HIST_MAX_US) {
		us = HIST_MAX_US;
		h->clamped++;
	}
	h->counts[hist_index(us)]++;
	if (h->total == 0 || us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
	h->total++;
	h->sum += (double)us;
	h->sumsq += (double)us * (double)us;
}

void hist_add(struct hist *dst, const struct hist *src)
{
	if (src->total == 0)
		return;
	for (size_t i = hist_index(src->min); i <= hist_index(src->max); i++)   /* the others are 0 */
		dst->counts[i] += src->counts[i];
	if (dst->total == 0 || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->total += src->total;
	dst->clamped += src->clamped;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
}

static uint64_t clamp_value(const struct hist *h, uint64_t v)
{
	if (v > h->max)
		v = h->max;
	if (v < h->min)
		v = h->min;
	return v;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	if (h->total == 0)
		return 0;
	if (p > 100)
		p = 100;
	if (p < 0)
		p = 0;
	uint64_t rank = (uint64_t)(p / 100 * (double)h->total + 0.5), seen = 0;
	if (rank < 1)
		rank = 1;
	for (size_t i = hist_index(h->min); i < HIST_LEN; i++) {   /* none below min */
		seen += h->counts[i];
		if (seen >= rank)
			return clamp_value(h, hist_highest_equiv(i));
	}
	return h->max;
}

uint64_t hist_count_upto(const struct hist *h, uint64_t us)
{
	if (h->total == 0 || us < h->min)
		return 0;
	if (us >= h->max)
		return h->total;
	uint64_t n = 0;
	for (size_t i = hist_index(h->min); i < HIST_LEN && hist_highest_equiv(i) <= us; i++)
		n += h->counts[i];
	return n;
}

double hist_mean(const struct hist *h)
{
	return h->total ? h->sum / (double)h->total : 0;
}

double hist_stdev(const struct hist *h)
{
	if (h->total < 2)
		return 0;
	double mean = hist_mean(h);
	double var = h->sumsq / (double)h->total - mean * mean;
	return var > 0 ? sqrt(var) : 0;
}

/* HdrHistogram's percentile iteration: report at percentiles that get
 * closer together as they approach 100 (5 ticks per halving of the
 * distance to 100%), then one last line at 100%. */
static double next_percentile(double p)
{
	double halvings = floor(log2(100.0 / (100.0 - p))) + 1;
	return p + 100.0 / (5.0 * pow(2.0, halvings));
}

int hist_write_percentiles(const struct hist *h, FILE *out)
{
	fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
	double to = 0;
	uint64_t cum = 0;
	for (size_t i = 0; i < HIST_LEN && h->total > 0; i++) {
		if (h->counts[i] == 0)
			continue;
		cum += h->counts[i];
		double ms = (double)clamp_value(h, hist_highest_equiv(i)) / 1000.0;
		if (cum >= h->total) {
			fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", ms, to / 100, (unsigned long long)cum, 1 / (1 - to / 100));
			fprintf(out, "%12.3f %2.12f %10llu\n", ms, 1.0, (unsigned long long)cum);
			break;
		}
		while (100.0 * (double)cum / (double)h->total >= to) {
			fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", ms, to / 100, (unsigned long long)cum, 1 / (1 - to / 100));
			to = next_percentile(to);
		}
	}
	fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hist_mean(h) / 1000, hist_stdev(h) / 1000);
	fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", (double)h->max / 1000, (unsigned long long)h->total);
	fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", HIST_BUCKETS, HIST_SUB_COUNT);
	return ferror(out) ? -1 : 0;
}
