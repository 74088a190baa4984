/*
 * t.h - the unit-test harness: TAP output that tests/run counts.
 *
 *   TEST(name_as_a_sentence) { CHECK(x == 1); CHECK_STR(s, "abc"); }
 *   int main(void) { RUN(name_as_a_sentence); return t_done(); }
 *
 * Each TEST is one "ok N - name" or "not ok N - name" line; a failed CHECK
 * prints the file, line and expression as a TAP comment and the test goes on.
 */
#ifndef L7_T_H
#define L7_T_H

#include <stdio.h>
#include <string.h>

static int t_count, t_failed, t_cur_failed;

#define TEST(name) static void name(void)

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
		t_cur_failed = 1; \
	} \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ == NULL || strcmp(g_, w_) != 0) { \
		printf("#   %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_); \
		t_cur_failed = 1; \
	} \
} while (0)

#define CHECK_INT(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ != w_) { \
		printf("#   %s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_); \
		t_cur_failed = 1; \
	} \
} while (0)

/* Test names are C identifiers; underscores print as spaces. */
static inline void t_run(void (*fn)(void), const char *name)
{
	char pretty[256];
	snprintf(pretty, sizeof(pretty), "%s", name);
	for (char *p = pretty; *p; p++)
		if (*p == '_')
			*p = ' ';
	t_cur_failed = 0;
	fn();
	t_count++;
	t_failed += t_cur_failed;
	printf("%sok %d - %s\n", t_cur_failed ? "not " : "", t_count, pretty);
	fflush(stdout);
}

#define RUN(name) t_run(name, #name)

static inline int t_done(void)
{
	printf("1..%d\n", t_count);
	return t_failed ? 1 : 0;
}

#endif
