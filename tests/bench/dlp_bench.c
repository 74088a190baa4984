/*
 * dlp_bench.c - throughput of the proxy's data-leak scanner (proxy/dlp.c)
 * on 1 MiB of made-up HTML and JSON, without and with leaks, against the
 * regular expression a user would write instead, run by glibc's regexec.
 * Built and run by tests/bench/dlp.sh (make bench), not a test.
 *
 *   dlp_bench DIR     writes DIR/clean.txt and DIR/leaky.txt (for grep),
 *                     prints "FIGURE VALUE" lines: MB/s medians (MB per
 *                     CPU second), match counts
 *
 * The scanner is fed in 16 KiB pieces, as the proxy would feed it reads.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../proxy/dlp.h"
#include "rng.h"

#define TEXT_SIZE  (1u << 20)
#define PIECE      (16u * 1024)
#define RUNS       7
#define PASSES     4            /* scans of the text per timed run */

/* The pattern of labs/06-responses/README.md, with the key prefixes of dlp.c. */
static const char pattern[] =
	"[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}|[0-9]{3}-[0-9]{2}-[0-9]{4}|(AKIA|ASIA)[0-9A-Z]{16}";

/* CPU seconds of this process: the machine is shared, and a scan is one
 * thread that never waits. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* TEXT_SIZE bytes of HTML and JSON with numbers that are not leaks (dates,
 * prices, ids, phone numbers, versions); with leaks, a real one about
 * every KiB as well. */
static char *make_text(bool leaks)
{
	static const char *const filler[] = {
		"<p>The quick brown fox jumps over the lazy dog.</p>\n",
		"<li><a href=\"/orders/10452\">Order 10452</a> shipped 2024-03-15, total $129.99</li>\n",
		"{\"id\": 98231, \"name\": \"Widget\", \"price\": 19.95, \"updated\": \"2024-03-15T10:30:00Z\"}\n",
		"<tr><td>Support</td><td>+1 415-555-0132</td><td>v4.1.2</td></tr>\n",
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n",
		"{\"page_token\": \"c2VjcmV0\", \"count\": 25, \"status\": \"ok\"}\n",
	};
	static const char *const leaky[] = {
		"<td>4111 1111 1111 1111</td>\n", "<td>078-05-1120</td>\n", "key=AKIAIOSFODNN7EXAMPLE\n",
		"{\"client_secret\": \"a8f5f167f44f4964e6c998dee827110c\"}\n", "<td>3782 822463 10005</td>\n",
	};
	char *t = malloc(TEXT_SIZE + 1);
	struct rng r;
	size_t n = 0, next_leak = 1024;
	if (t == NULL)
		exit(2);
	rng_seed(&r, 42);
	while (n < TEXT_SIZE) {
		const char *s = leaks && n >= next_leak ? leaky[rng_below(&r, 5)] : filler[rng_below(&r, 6)];
		if (leaks && n >= next_leak)
			next_leak += 1024;
		size_t len = strlen(s);
		if (len > TEXT_SIZE - n)
			len = TEXT_SIZE - n;
		memcpy(t + n, s, len);
		n += len;
	}
	t[TEXT_SIZE] = '\0';
	return t;
}

/* MB/s of the scanner in mode over text (median of RUNS); its matches. */
static double scan_rate(const char *text, enum dlp_mode mode, unsigned *found)
{
	struct dlp_config cfg;
	struct buf out = BUF_INIT;
	double rate[RUNS];
	dlp_config_init(&cfg);
	cfg.mode = mode;
	for (int run = 0; run < RUNS; run++) {
		double t0 = now_s();
		for (int pass = 0; pass < PASSES; pass++) {
			struct dlp *d = dlp_new(&cfg);
			if (d == NULL)
				exit(2);
			for (size_t at = 0; at < TEXT_SIZE; at += PIECE) {
				buf_clear(&out);
				if (dlp_feed(d, text + at, PIECE, &out) < 0)
					exit(2);
			}
			dlp_finish(d, &out);
			*found = dlp_total(d);
			dlp_free(d);
		}
		rate[run] = PASSES * (TEXT_SIZE / 1e6) / (now_s() - t0);
	}
	buf_free(&out);
	return median(rate, RUNS);
}

/* The same with regexec finding every match of the pattern. */
static double regex_rate(const char *text, unsigned *found)
{
	regex_t re;
	double rate[RUNS];
	if (regcomp(&re, pattern, REG_EXTENDED) != 0)
		exit(2);
	for (int run = 0; run < RUNS; run++) {
		double t0 = now_s();
		for (int pass = 0; pass < PASSES; pass++) {
			const char *p = text;
			regmatch_t m;
			int flags = 0;
			*found = 0;
			while (regexec(&re, p, 1, &m, flags) == 0) {
				(*found)++;
				p += m.rm_eo > 0 ? m.rm_eo : 1;
				flags = REG_NOTBOL;
			}
		}
		rate[run] = PASSES * (TEXT_SIZE / 1e6) / (now_s() - t0);
	}
	regfree(&re);
	return median(rate, RUNS);
}

static void save(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(text, 1, TEXT_SIZE, f) != TEXT_SIZE || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: dlp_bench DIR\n");
		return 2;
	}
	char *clean = make_text(false), *leaky = make_text(true);
	unsigned n;
	save(argv[1], "clean.txt", clean);
	save(argv[1], "leaky.txt", leaky);
	printf("pattern %s\n", pattern);
	printf("detect_clean %.1f\n", scan_rate(clean, DLP_DETECT, &n));
	printf("mask_clean %.1f\n", scan_rate(clean, DLP_MASK, &n));
	printf("mask_clean_matches %u\n", n);
	printf("detect_leaky %.1f\n", scan_rate(leaky, DLP_DETECT, &n));
	printf("mask_leaky %.1f\n", scan_rate(leaky, DLP_MASK, &n));
	printf("mask_leaky_matches %u\n", n);
	printf("regex_clean %.1f\n", regex_rate(clean, &n));
	printf("regex_clean_matches %u\n", n);
	printf("regex_leaky %.1f\n", regex_rate(leaky, &n));
	printf("regex_leaky_matches %u\n", n);
	free(clean);
	free(leaky);
	return 0;
}
