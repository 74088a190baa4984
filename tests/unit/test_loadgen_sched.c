/*
 * test_loadgen_sched.c - the open-loop schedule: requests are due at
 * start + k / rate, a backlog builds up when nobody takes them, and
 * several threads together make one even sequence.
 */
#include "t.h"
#include "../../loadgen/sched.h"

TEST(nothing_is_due_before_the_start)
{
	struct sched s;
	sched_init(&s, 1000000000u, 100);
	CHECK_INT(sched_due(&s, 999999999u), 0);
	CHECK_INT(sched_due(&s, 1000000000u), 1);
}

TEST(request_k_is_due_at_start_plus_k_over_rate)
{
	struct sched s;
	sched_init(&s, 0, 1000);
	CHECK_INT(sched_time(&s, 0), 0);
	CHECK_INT(sched_time(&s, 1), 1000000);
	CHECK_INT(sched_time(&s, 1000), 1000000000);
	CHECK_INT(sched_due(&s, 999999), 1);
	CHECK_INT(sched_due(&s, 1000000), 2);
	CHECK_INT(sched_due(&s, 5000000000u), 5001);
}

TEST(taking_requests_hands_out_their_intended_times_in_order)
{
	struct sched s;
	uint64_t t;
	sched_init(&s, 0, 1000);
	CHECK(sched_take(&s, 2500000, &t));
	CHECK_INT(t, 0);
	CHECK(sched_take(&s, 2500000, &t));
	CHECK_INT(t, 1000000);
	CHECK(sched_take(&s, 2500000, &t));
	CHECK_INT(t, 2000000);
	CHECK(!sched_take(&s, 2500000, &t));
	CHECK_INT(sched_next(&s), 3000000);
}

TEST(a_stalled_client_keeps_the_backlog_and_its_intended_times)
{
	/* Nothing taken for a second at 100/s: 101 due, the first from t=0. */
	struct sched s;
	uint64_t t, n = 0, first = 1;
	sched_init(&s, 0, 100);
	while (sched_take(&s, 1000000000u, &t)) {
		if (n == 0)
			first = t;
		n++;
	}
	CHECK_INT(n, 101);
	CHECK_INT(first, 0);
}

TEST(fractional_rates_work)
{
	struct sched s;
	sched_init(&s, 0, 0.5);
	CHECK_INT(sched_time(&s, 1), 2000000000u);
	CHECK_INT(sched_due(&s, 3999999999u), 2);
}

TEST(threads_with_staggered_starts_make_one_even_sequence)
{
	/* 3 threads at 300/s in all: merged, one request every 1/300 s. */
	double rate = 300;
	struct sched s[3];
	for (int i = 0; i < 3; i++)
		sched_init(&s[i], (uint64_t)((double)i * 1e9 / rate), rate / 3);
	uint64_t last = 0;
	int ok = 1;
	for (uint64_t k = 0; k < 300; k++) {
		uint64_t t = sched_time(&s[k % 3], k / 3);
		uint64_t want = (uint64_t)((double)k * 1e9 / rate);
		if (t + 2 < want || t > want + 2 || (k > 0 && t <= last))
			ok = 0;
		last = t;
	}
	CHECK(ok);
	uint64_t due = 0;
	for (int i = 0; i < 3; i++)
		due += sched_due(&s[i], 5000000000u);
	CHECK_INT(due, 1501);
}

int main(void)
{
	RUN(nothing_is_due_before_the_start);
	RUN(request_k_is_due_at_start_plus_k_over_rate);
	RUN(taking_requests_hands_out_their_intended_times_in_order);
	RUN(a_stalled_client_keeps_the_backlog_and_its_intended_times);
	RUN(fractional_rates_work);
	RUN(threads_with_staggered_starts_make_one_even_sequence);
	return t_done();
}
