/*
 * test_loadgen_stats.c - counting per worker and merging: --by-header
 * values, proxy-made 5xx, per-source tables, timeline columns, and the
 * report's number formats.
 */
#include <stdlib.h>

#include "t.h"
#include "../../loadgen/report.h"
#include "../../loadgen/stats.h"

TEST(responses_are_counted_by_status_value_and_source)
{
	struct stats s;
	CHECK(stats_init(&s, 2, false) == 0);
	stats_response(&s, 200, "b1", 0, 100, 0);
	stats_response(&s, 200, "b2", 1, 200, 0);
	stats_response(&s, 503, "b1", 1, 300, 0);
	stats_response(&s, 502, NULL, 0, 400, 0);
	stats_error(&s, ERR_RESET, 0, 0);
	CHECK_INT(s.requests, 4);
	CHECK_INT(s.status[200], 2);
	CHECK_INT(s.nvalues, 2);
	CHECK_STR(s.values[0].name, "b1");
	CHECK_INT(s.values[0].count, 2);
	CHECK_INT(s.values_missing, 1);
	CHECK_INT(s.proxy_5xx, 1);
	CHECK_INT(s.backend_5xx, 1);
	CHECK_INT(s.sources[0].requests, 2);
	CHECK_INT(s.sources[0].errors, 1);
	CHECK_INT(s.sources[1].requests, 2);
	CHECK_INT(stats_errors(&s), 1);
	stats_free(&s);
}

TEST(more_than_64_distinct_values_are_counted_as_other)
{
	struct stats s;
	char name[16];
	CHECK(stats_init(&s, 0, false) == 0);
	for (int i = 0; i < STATS_MAX_VALUES + 5; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		stats_response(&s, 200, name, 0, 10, 0);
	}
	CHECK_INT(s.nvalues, STATS_MAX_VALUES);
	CHECK_INT(s.values_other, 5);
	stats_free(&s);
}

TEST(merging_matches_values_by_name_and_adds_everything)
{
	struct stats a, b;
	CHECK(stats_init(&a, 1, true) == 0 && stats_init(&b, 1, true) == 0);
	stats_response(&a, 200, "b1", 0, 100, 0);
	stats_response(&b, 200, "b2", 0, 100, 0);
	stats_response(&b, 200, "b1", 0, 100, 1);
	stats_response(&b, 404, "b1", 0, 100, 2);
	stats_error(&b, ERR_TIMEOUT, 0, 2);
	CHECK(stats_merge(&a, &b) == 0);
	CHECK_INT(a.requests, 4);
	CHECK_INT(a.nvalues, 2);
	CHECK_STR(a.values[1].name, "b2");
	CHECK_INT(a.values[0].count, 3);
	CHECK_INT(a.values[0].lat.total, 3);
	CHECK_INT(a.errors[ERR_TIMEOUT], 1);
	CHECK_INT(a.sources[0].requests, 4);
	CHECK_INT(a.sources[0].errors, 1);
	CHECK_INT(a.nrows, 3);
	CHECK_INT(a.rows[0][0], 2);
	CHECK_INT(a.rows[2][1], 1);
	/* b's b1 column lands in a's b1 column, b's 404 in a new status column. */
	CHECK_INT(a.rows[1][tl_value_col(0)], 1);
	CHECK_INT(a.rows[0][tl_value_col(1)], 1);
	CHECK_INT(a.ntl_status, 2);
	stats_free(&a);
	stats_free(&b);
}

TEST(the_timeline_csv_has_sorted_status_and_value_columns)
{
	struct stats s;
	CHECK(stats_init(&s, 0, true) == 0);
	stats_response(&s, 503, "b2", 0, 10, 0);
	stats_response(&s, 200, "b1", 0, 10, 0);
	stats_response(&s, 200, "b,1", 0, 10, 1);
	stats_response(&s, 502, NULL, 0, 10, 1);
	struct config cfg = { .by_header = "X-Backend" };
	struct report r = { .cfg = &cfg, .st = &s, .duration_s = 2 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(report_timeline(&r, f) == 0);
	fclose(f);
	CHECK_STR(text, "second,requests,errors,proxy_5xx,status_200,status_502,status_503,"
	                "\"X-Backend:b,1\",X-Backend:b1,X-Backend:b2,X-Backend:(none)\n"
	                "0,2,0,0,1,0,1,0,1,1,0\n"
	                "1,2,0,1,1,1,0,1,0,0,1\n");
	free(text);
	stats_free(&s);
}

TEST(numbers_are_formatted_for_people)
{
	char out[32];
	CHECK_STR(fmt_count(0, out), "0");
	CHECK_STR(fmt_count(999, out), "999");
	CHECK_STR(fmt_count(1000, out), "1,000");
	CHECK_STR(fmt_count(1234567, out), "1,234,567");
	CHECK_STR(fmt_ms(214, out), "0.214");
	CHECK_STR(fmt_ms(1520, out), "1.52");
	CHECK_STR(fmt_ms(15200, out), "15.2");
	CHECK_STR(fmt_ms(1001846, out), "1002");
}

int main(void)
{
	RUN(responses_are_counted_by_status_value_and_source);
	RUN(more_than_64_distinct_values_are_counted_as_other);
	RUN(merging_matches_values_by_name_and_adds_everything);
	RUN(the_timeline_csv_has_sorted_status_and_value_columns);
	RUN(numbers_are_formatted_for_people);
	return t_done();
}
