/* Unit tests for lib/ev.c and lib/buf.c: timers fire in deadline order,
 * fds fire when ready, callbacks may unwatch others; buffers grow, consume,
 * concatenate and escape JSON. */
#include <fcntl.h>
#include <unistd.h>

#include "buf.h"
#include "ev.h"
#include "t.h"

static char order[64];
static size_t norder;

static void mark(ev_loop *loop, void *arg)
{
	(void)loop;
	if (norder + 1 < sizeof(order))
		order[norder] = *(const char *)arg;
	norder++;
}

TEST(timers_fire_in_deadline_order_and_stopped_ones_never)
{
	ev_loop *loop = ev_new();
	ev_timer t[5];
	static const char names[] = "abcde";
	static const uint64_t after[] = { 30, 10, 20, 0, 15 };
	norder = 0;
	for (int i = 0; i < 5; i++) {
		ev_timer_init(&t[i]);
		ev_timer_arm(loop, &t[i], after[i], mark, (void *)&names[i]);
	}
	ev_timer_stop(loop, &t[4]);
	ev_timer_arm(loop, &t[0], 5, mark, (void *)&names[0]);   /* re-arm: earlier */
	CHECK(ev_run(loop) == 0);
	order[norder] = '\0';
	CHECK_STR(order, "dabc");
	CHECK(!ev_timer_armed(&t[1]));
	ev_free(loop);
}

TEST(a_timer_never_fires_early)
{
	ev_loop *loop = ev_new();
	ev_timer t;
	ev_timer_init(&t);
	norder = 0;
	uint64_t start = ev_mono_ns();
	ev_timer_arm(loop, &t, 20, mark, (void *)"x");
	ev_run(loop);
	CHECK(ev_mono_ns() - start >= 20 * 1000000u);
	CHECK_INT(norder, 1);
	ev_free(loop);
}

static int pipes[2][2];
static int reads;

static void on_readable(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)arg;
	char c;
	CHECK(mask & EV_READ);
	CHECK(read(fd, &c, 1) == 1);
	reads++;
	/* The first callback to run unwatches both: the other must not run. */
	ev_unwatch(loop, pipes[0][0]);
	ev_unwatch(loop, pipes[1][0]);
}

TEST(a_callback_may_unwatch_an_fd_that_also_fired)
{
	ev_loop *loop = ev_new();
	reads = 0;
	for (int i = 0; i < 2; i++) {
		CHECK(pipe(pipes[i]) == 0);
		CHECK(write(pipes[i][1], "x", 1) == 1);
		CHECK(ev_watch(loop, pipes[i][0], EV_READ, on_readable, NULL) == 0);
	}
	CHECK(ev_run(loop) == 0);
	CHECK_INT(reads, 1);
	for (int i = 0; i < 2; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	ev_free(loop);
}

static void stop_on_write(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)fd;
	*(int *)arg = mask;
	ev_stop(loop);
}

TEST(a_writable_fd_fires_for_write_and_masks_can_change)
{
	ev_loop *loop = ev_new();
	int p[2], got = 0;
	CHECK(pipe(p) == 0);
	CHECK(ev_watch(loop, p[1], 0, stop_on_write, &got) == 0);
	ev_set_mask(loop, p[1], EV_WRITE);
	CHECK(ev_run(loop) == 0);
	CHECK(got & EV_WRITE);
	ev_unwatch(loop, p[1]);
	close(p[0]);
	close(p[1]);
	ev_free(loop);
}

TEST(many_fds_and_timers_grow_the_tables)
{
	ev_loop *loop = ev_new();
	int fds[200][2];
	ev_timer t[300];
	norder = 0;
	for (int i = 0; i < 200; i++) {
		CHECK(pipe(fds[i]) == 0);
		CHECK(ev_watch(loop, fds[i][0], EV_READ, on_readable, NULL) == 0);
	}
	for (int i = 0; i < 200; i += 2)
		ev_unwatch(loop, fds[i][0]);
	for (int i = 0; i < 300; i++) {
		ev_timer_init(&t[i]);
		ev_timer_arm(loop, &t[i], (uint64_t)(i % 7), mark, (void *)"t");
	}
	for (int i = 1; i < 200; i += 2)
		ev_unwatch(loop, fds[i][0]);
	CHECK(ev_run(loop) == 0);
	CHECK_INT(norder, 300);
	for (int i = 0; i < 200; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
	ev_free(loop);
}

TEST(buffers_append_consume_and_grow)
{
	struct buf b = BUF_INIT;
	CHECK(buf_puts(&b, "hello ") == 0);
	CHECK(buf_printf(&b, "%s %d", "world", 42) == 0);
	CHECK_INT(buf_len(&b), 14);
	buf_consume(&b, 6);
	CHECK(memcmp(buf_begin(&b), "world 42", 8) == 0);
	for (int i = 0; i < 1000; i++)
		CHECK(buf_puts(&b, "0123456789") == 0);
	CHECK_INT(buf_len(&b), 8 + 10000);
	CHECK(buf_printf(&b, "%0500d", 7) == 0);
	CHECK_INT(buf_len(&b), 8 + 10000 + 500);
	buf_consume(&b, buf_len(&b));
	CHECK_INT(buf_len(&b), 0);
	buf_free(&b);
}

/* Found by fuzzing mockserver (an /echo without a body: corpus
 * mockserver_conn/from-tests-15): buf_begin was NULL + 0. */
TEST(a_buffer_that_never_held_bytes_begins_with_an_empty_string)
{
	struct buf b = BUF_INIT, out = BUF_INIT;
	CHECK(buf_begin(&b) != NULL);
	CHECK(buf_json_str(&out, buf_begin(&b), buf_len(&b)) == 0);
	CHECK(buf_len(&out) == 2 && memcmp(buf_begin(&out), "\"\"", 2) == 0);
	buf_free(&out);
	CHECK(buf_begin(&out) != NULL);
}

TEST(strings_and_numbers_are_appended_without_printf)
{
	struct buf b = BUF_INIT;
	CHECK(buf_cat(&b, "Via: 1.1 ", "edge", "\r\n", NULL) == 0);
	CHECK(buf_cat(&b, NULL) == 0);
	CHECK(buf_put_uint(&b, 0) == 0);
	CHECK(buf_puts(&b, " ") == 0);
	CHECK(buf_put_uint(&b, 18446744073709551615ull) == 0);
	CHECK(buf_append(&b, "", 1) == 0);
	CHECK_STR(buf_begin(&b), "Via: 1.1 edge\r\n0 18446744073709551615");
	buf_free(&b);
}

TEST(json_strings_are_escaped)
{
	struct buf b = BUF_INIT;
	const char in[] = "a\"b\\c\nd\x01\xc3\xa9\xff";
	CHECK(buf_json_str(&b, in, sizeof(in) - 1) == 0);
	CHECK(buf_append(&b, "", 1) == 0);
	CHECK_STR(buf_begin(&b), "\"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\\u00ff\"");
	buf_free(&b);
}

int main(void)
{
	RUN(timers_fire_in_deadline_order_and_stopped_ones_never);
	RUN(a_timer_never_fires_early);
	RUN(a_callback_may_unwatch_an_fd_that_also_fired);
	RUN(a_writable_fd_fires_for_write_and_masks_can_change);
	RUN(many_fds_and_timers_grow_the_tables);
	RUN(buffers_append_consume_and_grow);
	RUN(a_buffer_that_never_held_bytes_begins_with_an_empty_string);
	RUN(strings_and_numbers_are_appended_without_printf);
	RUN(json_strings_are_escaped);
	return t_done();
}
