/*
 * test_lib_hist.c - the latency histogram (lib/hist.c): index layout, accuracy to 3
 * significant digits, percentiles, merging, and the HdrHistogram text.
 */
#include <math.h>
#include <stdlib.h>

#include "t.h"
#include "hist.h"

TEST(values_below_2048_us_are_stored_exactly)
{
	for (uint64_t v = 0; v < 2048; v++) {
		size_t i = hist_index(v);
		CHECK_INT(hist_lowest_equiv(i), v);
		CHECK_INT(hist_highest_equiv(i), v);
	}
}

TEST(every_value_up_to_60_s_is_kept_within_one_part_in_a_thousand)
{
	int bad = 0;
	for (uint64_t v = 1; v <= HIST_MAX_US; v += v / 77 + 1) {
		size_t i = hist_index(v);
		uint64_t lo = hist_lowest_equiv(i), hi = hist_highest_equiv(i);
		if (i >= HIST_LEN || lo > v || hi < v || (double)(hi - lo) > (double)v / 1000.0)
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK(hist_index(HIST_MAX_US) < HIST_LEN);
	CHECK(hist_index(UINT64_MAX) == hist_index(HIST_MAX_US));
}

TEST(indexes_are_monotonic_and_ranges_touch)
{
	for (size_t i = 1; i < HIST_LEN - HIST_SUB_HALF; i++)
		CHECK_INT(hist_lowest_equiv(i), hist_highest_equiv(i - 1) + 1);
}

TEST(percentiles_of_a_uniform_distribution_are_within_resolution)
{
	struct hist h;
	CHECK(hist_init(&h) == 0);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(&h, v);
	double want[][2] = { { 50, 50000 }, { 90, 90000 }, { 99, 99000 }, { 99.9, 99900 }, { 100, 100000 } };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		double got = (double)hist_percentile(&h, want[i][0]);
		if (fabs(got - want[i][1]) > want[i][1] / 1000.0 + 1)
			printf("#   p%g = %g, want %g\n", want[i][0], got, want[i][1]);
		CHECK(fabs(got - want[i][1]) <= want[i][1] / 1000.0 + 1);
	}
	CHECK_INT(h.min, 1);
	CHECK_INT(h.max, 100000);
	CHECK(fabs(hist_mean(&h) - 50000.5) < 1e-6);
	CHECK(fabs(hist_stdev(&h) - 28867.5) < 1);
	hist_free(&h);
}

TEST(a_percentile_never_reports_above_the_maximum_or_below_the_minimum)
{
	struct hist h;
	CHECK(hist_init(&h) == 0);
	hist_record(&h, 123457);
	CHECK_INT(hist_percentile(&h, 0), 123457);
	CHECK_INT(hist_percentile(&h, 50), 123457);
	CHECK_INT(hist_percentile(&h, 100), 123457);
	hist_free(&h);
}

TEST(an_empty_histogram_reports_zero)
{
	struct hist h;
	CHECK(hist_init(&h) == 0);
	CHECK_INT(hist_percentile(&h, 99), 0);
	CHECK(hist_mean(&h) == 0);
	hist_free(&h);
}

TEST(values_above_60_s_are_clamped_and_counted)
{
	struct hist h;
	CHECK(hist_init(&h) == 0);
	hist_record(&h, 90000000u);
	CHECK_INT(h.clamped, 1);
	CHECK_INT(h.max, HIST_MAX_US);
	hist_free(&h);
}

TEST(a_stall_shows_in_the_tail_percentiles)
{
	/* 98% fast answers and 2% one-second stalls: p50 fast, p99 the stall. */
	struct hist h;
	CHECK(hist_init(&h) == 0);
	for (int i = 0; i < 9800; i++)
		hist_record(&h, 100);
	for (int i = 0; i < 200; i++)
		hist_record(&h, 1000000);
	CHECK_INT(hist_percentile(&h, 50), 100);
	CHECK(hist_percentile(&h, 99) >= 999000);
	hist_free(&h);
}

TEST(merging_two_histograms_adds_their_counts)
{
	struct hist a, b;
	CHECK(hist_init(&a) == 0 && hist_init(&b) == 0);
	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(&a, v);
	for (uint64_t v = 1001; v <= 2000; v++)
		hist_record(&b, v);
	hist_add(&a, &b);
	CHECK_INT(a.total, 2000);
	CHECK_INT(a.min, 1);
	CHECK_INT(a.max, 2000);
	CHECK_INT(hist_percentile(&a, 50), 1000);
	hist_free(&a);
	hist_free(&b);
}

TEST(the_hdr_text_has_the_header_the_percentile_lines_and_the_footer)
{
	struct hist h;
	CHECK(hist_init(&h) == 0);
	for (uint64_t v = 1; v <= 10000; v++)
		hist_record(&h, v);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(hist_write_percentiles(&h, f) == 0);
	fclose(f);
	CHECK(strstr(text, "       Value     Percentile TotalCount 1/(1-Percentile)\n\n") == text);
	CHECK(strstr(text, "       0.001 0.000000000000          1           1.00\n") != NULL);
	CHECK(strstr(text, "      10.000 1.000000000000      10000\n") != NULL);
	CHECK(strstr(text, "#[Max     =       10.000, Total count    =        10000]\n") != NULL);
	CHECK(strstr(text, "#[Buckets =           16, SubBuckets     =         2048]\n") != NULL);
	/* Percentiles go up, and the counts with them. */
	double last_p = -1;
	long last_c = 0;
	int lines = 0, ordered = 1;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		double v, p, inv;
		long c;
		if (sscanf(line, "%lf %lf %ld %lf", &v, &p, &c, &inv) < 3 || line[0] == '#')
			continue;
		lines++;
		if (p < last_p || c < last_c)
			ordered = 0;
		last_p = p;
		last_c = c;
	}
	CHECK(lines > 50);
	CHECK(ordered);
	free(text);
	hist_free(&h);
}

TEST(a_reset_histogram_is_empty_and_records_again)
{
	struct hist h;
	CHECK(hist_init(&h) == 0);
	for (uint64_t v = 500; v <= 90000; v += 7)
		hist_record(&h, v);
	hist_reset(&h);
	CHECK_INT(h.total, 0);
	int left = 0;
	for (size_t i = 0; i < HIST_LEN; i++)
		left += h.counts[i] != 0;
	CHECK_INT(left, 0);
	hist_record(&h, 42);
	CHECK_INT(hist_percentile(&h, 50), 42);
	hist_free(&h);
}

TEST(counts_up_to_a_bound_are_cumulative_as_prometheus_buckets_are)
{
	struct hist h;
	CHECK(hist_init(&h) == 0);
	CHECK_INT(hist_count_upto(&h, 1000), 0);
	for (uint64_t v = 1; v <= 10000; v++)
		hist_record(&h, v);
	CHECK_INT(hist_count_upto(&h, 0), 0);
	CHECK_INT(hist_count_upto(&h, 1000), 1000);      /* exact below 2048 us */
	CHECK(labs((long)hist_count_upto(&h, 5000) - 5000) <= 5);
	CHECK_INT(hist_count_upto(&h, 10000), 10000);
	CHECK_INT(hist_count_upto(&h, UINT64_MAX), 10000);
	hist_free(&h);
}

int main(void)
{
	RUN(values_below_2048_us_are_stored_exactly);
	RUN(every_value_up_to_60_s_is_kept_within_one_part_in_a_thousand);
	RUN(indexes_are_monotonic_and_ranges_touch);
	RUN(percentiles_of_a_uniform_distribution_are_within_resolution);
	RUN(a_percentile_never_reports_above_the_maximum_or_below_the_minimum);
	RUN(an_empty_histogram_reports_zero);
	RUN(values_above_60_s_are_clamped_and_counted);
	RUN(a_stall_shows_in_the_tail_percentiles);
	RUN(merging_two_histograms_adds_their_counts);
	RUN(the_hdr_text_has_the_header_the_percentile_lines_and_the_footer);
	RUN(a_reset_histogram_is_empty_and_records_again);
	RUN(counts_up_to_a_bound_are_cumulative_as_prometheus_buckets_are);
	return t_done();
}
