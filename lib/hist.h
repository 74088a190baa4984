/*
 * hist.h - a log-linear latency histogram in the manner of HdrHistogram:
 * values in microseconds from 1 us to 60 s, kept to 3 significant digits,
 * in a fixed array of counters (139 KiB) allocated once.  Recording is a few
 * shifts and an increment: no allocation, no search, no lock.
 *
 * Layout (as HdrHistogram's): bucket 0 holds 0..2047 at a resolution of
 * 1 us; bucket b >= 1 holds 1024<<b .. (2048<<b)-1 at a resolution of 1<<b
 * in its upper 1024 sub-buckets (the lower half would repeat bucket b-1).
 * So any value is stored within 1/1024 of itself (< 0.1%).
 *
 * Exact min, max, sum and sum of squares ride along, so the mean and the
 * standard deviation are exact; percentiles are within the resolution.
 *
 * Shared by loadgen (latency of every request) and the proxy (each
 * server's time to first byte, for --admin).  The counters are calloc'ed
 * and only those in use are touched, so a histogram of values between
 * 0.1 and 20 ms holds a few pages of memory, not 139 KiB.
 */
#ifndef L7_HIST_H
#define L7_HIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_MAX_US       60000000u            /* highest trackable value: 60 s   */
#define HIST_SUB_HALF_BITS 10                   /* 1024 sub-buckets per half-bucket */
#define HIST_SUB_HALF     (1u << HIST_SUB_HALF_BITS)
#define HIST_SUB_COUNT    (2u * HIST_SUB_HALF)  /* 2048: 3 significant digits      */
#define HIST_BUCKETS      16                    /* 2048 << 15 > 60 s               */
#define HIST_LEN          ((HIST_BUCKETS + 1) * HIST_SUB_HALF)

struct hist {
	uint64_t *counts;     /* HIST_LEN counters                          */
	uint64_t total;       /* values recorded                            */
	uint64_t clamped;     /* values above HIST_MAX_US, recorded as max  */
	uint64_t min, max;    /* exact, in microseconds (min valid if total) */
	double sum, sumsq;    /* exact sums for mean and stdev              */
};

/* Allocates the counters; 0, or -1 on ENOMEM. */
int hist_init(struct hist *h);
void hist_free(struct hist *h);
/* Empties h, clearing only the counters between min and max (cheap for a
 * histogram reset every second). */
void hist_reset(struct hist *h);

/* Records one value in microseconds (values above HIST_MAX_US are
 * recorded as HIST_MAX_US and counted in h->clamped). */
void hist_record(struct hist *h, uint64_t us);
/* Adds every count of src into dst. */
void hist_add(struct hist *dst, const struct hist *src);

/* The value at percentile p (0..100): the highest value equivalent to the
 * one holding that rank, as HdrHistogram reports it (never above max).
 * 0 for an empty histogram. */
uint64_t hist_percentile(const struct hist *h, double p);
/* How many values were at most us (within the resolution: the counters
 * whose whole range is <= us), for Prometheus' cumulative buckets. */
uint64_t hist_count_upto(const struct hist *h, uint64_t us);
double hist_mean(const struct hist *h);
double hist_stdev(const struct hist *h);

/* Index of a value, and the range of values an index stands for. */
size_t hist_index(uint64_t us);
uint64_t hist_lowest_equiv(size_t index);
uint64_t hist_highest_equiv(size_t index);

/* Writes the distribution in HdrHistogram's percentile text format (as
 * HistogramLogProcessor and wrk2 print it), values in milliseconds, 5 ticks
 * per half-distance.  Returns 0, or -1 if a write failed. */
int hist_write_percentiles(const struct hist *h, FILE *out);

#endif
