/*
 * test_tracer_events.c - reading the proxy's JSON step events
 * (tracer/events.h): decisions and clients by request id, escapes, nested
 * values skipped, bad lines counted, a file that grows while read, both
 * forms of "t", the line cap, denied clients, forgetting a request.
 */
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../tracer/events.h"

static char path[64];

static struct events *open_with(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/l7lab-events-test.%d", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	char err[256];
	return events_open(path, err, sizeof(err));
}

TEST(a_decision_and_a_client_are_found_by_request_id)
{
	struct events *e = open_with(
		"{\"t\":1,\"id\":\"r1\",\"step\":2,\"event\":\"request-headers\",\"client\":\"127.0.0.1:5000\"}\n"
		"{\"t\":2,\"id\":\"r1\",\"step\":3,\"event\":\"decide\",\"pool\":\"default\",\"server\":\"b1\","
		"\"algorithm\":\"roundrobin\",\"reason\":\"next in turn\",\"ms\":0.5,\"ok\":true,\"x\":null}\n");
	CHECK(e != NULL);
	const struct decision *d = events_decision(e, "r1");
	CHECK(d != NULL);
	if (d) {
		CHECK_STR(d->pool, "default");
		CHECK_STR(d->server, "b1");
		CHECK_STR(d->algorithm, "roundrobin");
		CHECK_STR(d->reason, "next in turn");
	}
	CHECK_STR(events_client_of(e, "r1"), "127.0.0.1:5000");
	CHECK(events_decision(e, "r2") == NULL);
	CHECK_INT(events_bad_lines(e), 0);
	events_free(e);
	unlink(path);
}

TEST(escapes_are_decoded_and_nested_values_skipped)
{
	struct events *e = open_with(
		"{\"id\":\"a\\\"b\",\"step\":3,\"extra\":{\"k\":[1,2,{\"z\":\"}\"}]},\"reason\":\"tab\\there \\u0041\"}\n");
	const struct decision *d = events_decision(e, "a\"b");
	CHECK(d != NULL);
	if (d)
		CHECK_STR(d->reason, "tab\there A");
	events_free(e);
	unlink(path);
}

TEST(lines_that_are_not_json_objects_are_counted_and_skipped)
{
	struct events *e = open_with("not json\n{\"id\":\"x\",\"step\":3,\n[1,2]\n\n{\"id\":\"y\",\"step\":3}\n");
	CHECK_INT(events_bad_lines(e), 3);
	CHECK(events_decision(e, "y") != NULL);
	events_free(e);
	unlink(path);
}

TEST(lines_appended_later_are_read_when_needed)
{
	struct events *e = open_with("{\"id\":\"early\",\"step\":3}\n{\"id\":\"late\",");
	CHECK(events_decision(e, "late") == NULL);
	FILE *f = fopen(path, "a");
	fputs("\"step\":3,\"server\":\"b2\"}\n", f);
	fclose(f);
	const struct decision *d = events_decision(e, "late");
	CHECK(d != NULL);
	if (d)
		CHECK_STR(d->server, "b2");
	events_free(e);
	unlink(path);
}

TEST(both_forms_of_t_are_read_as_the_same_time)
{
	struct events *e = open_with(
		"{\"t\":1764158400000104000,\"id\":\"a\",\"step\":2,\"event\":\"request-headers\"}\n"
		"{\"t\":1764158400.5,\"id\":\"b\",\"step\":2,\"event\":\"request-headers\"}\n");
	uint64_t lo = 0, hi = 0;
	CHECK(events_span(e, &lo, &hi));
	CHECK_INT(lo, 1764158400000104000ll);
	CHECK(hi >= 1764158400499999000ull && hi <= 1764158400500001000ull);
	events_free(e);
	unlink(path);
}

TEST(a_line_longer_than_the_cap_is_skipped_and_the_next_one_read)
{
	snprintf(path, sizeof(path), "/tmp/l7lab-events-test.%d", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs("{\"id\":\"long\",\"reason\":\"", f);
	for (int i = 0; i < 200000; i++)
		fputc('x', f);
	fputs("\",\"step\":3}\n{\"id\":\"after\",\"step\":3,\"server_name\":\"b2\"}\n", f);
	fclose(f);
	char err[256];
	struct events *e = events_open(path, err, sizeof(err));
	CHECK(events_decision(e, "long") == NULL);
	const struct decision *d = events_decision(e, "after");
	CHECK(d != NULL);
	if (d)
		CHECK_STR(d->server_name, "b2");
	CHECK_INT(events_long_lines(e), 1);
	CHECK_INT(events_bad_lines(e), 0);
	events_free(e);
	unlink(path);
}

TEST(a_denied_client_is_remembered)
{
	struct events *e = open_with("{\"t\":1,\"id\":\"\",\"step\":1,\"event\":\"deny\",\"client\":\"127.0.0.31:4000\"}\n");
	CHECK(events_denied(e, "127.0.0.31:4000"));
	CHECK(!events_denied(e, "127.0.0.1:4000"));
	events_free(e);
	unlink(path);
}

TEST(a_forgotten_request_id_is_gone)
{
	struct events *e = open_with("{\"id\":\"r\",\"step\":2,\"client\":\"127.0.0.1:1\"}\n");
	CHECK_STR(events_client_of(e, "r"), "127.0.0.1:1");
	events_forget(e, "r");
	CHECK(events_client_of(e, "r") == NULL);
	events_free(e);
	unlink(path);
}

int main(void)
{
	RUN(a_decision_and_a_client_are_found_by_request_id);
	RUN(escapes_are_decoded_and_nested_values_skipped);
	RUN(lines_that_are_not_json_objects_are_counted_and_skipped);
	RUN(lines_appended_later_are_read_when_needed);
	RUN(both_forms_of_t_are_read_as_the_same_time);
	RUN(a_line_longer_than_the_cap_is_skipped_and_the_next_one_read);
	RUN(a_denied_client_is_remembered);
	RUN(a_forgotten_request_id_is_gone);
	return t_done();
}
