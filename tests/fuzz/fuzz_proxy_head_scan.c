/*
 * fuzz_proxy_head_scan.c - the proxy's head scanner (head_scan, proxy.h),
 * which refuses what llhttp 8 lets through in a head: bare CR or LF,
 * obs-fold, control bytes.  Fed whole, one byte at a time and in random
 * pieces it must decide the same way at the same byte, and agree with a
 * line-by-line reference reading written here: where the head ends, or
 * that it is refused.
 */
#include "common.h"
#include "../../proxy/proxy.h"

static void init(void *st)
{
	head_scan_init(st);
}

static int step(void *st, const char *p, size_t n, size_t *used, const char **error)
{
	struct head_scan *h = st;
	int r = head_scan(h, p, n, used);
	*error = h->error;
	return r;
}

/* The reference: lines of the head, each checked whole (RFC 9112 2.2, 5.2). */
static int reference(const uint8_t *p, size_t n, size_t *end)
{
	size_t i = 0;
	bool seen_line = false;
	for (;;) {
		size_t start = i;
		while (i < n && p[i] != '\r' && p[i] != '\n')
			i++;
		for (size_t k = start; k < i; k++)
			if ((p[k] < 0x20 && p[k] != '\t') || p[k] == 0x7f)
				return -1;                   /* control byte */
		if (i > start && (p[start] == ' ' || p[start] == '\t'))
			return -1;                       /* obs-fold, or white space before the start line */
		if (i == n)
			return 0;
		if (p[i] == '\n')
			return -1;                       /* bare LF */
		if (i + 1 == n)
			return 0;
		if (p[i + 1] != '\n')
			return -1;                       /* bare CR */
		i += 2;
		if (i - 2 == start && seen_line) {
			*end = i;
			return 1;
		}
		seen_line |= i - 2 > start;          /* empty lines before the start line are skipped */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct head_scan h;
	struct scan_outcome o = scan_three_ways(init, step, &h, data, size, "head_scan");
	size_t end = 0;
	int want = reference(data, size, &end);
	FUZZ_CHECK(want == o.r && (want != 1 || end == o.end), "head_scan says %d (end %zu, %s), the reference %d (end %zu)",
	           o.r, o.end, o.error ? o.error : "-", want, end);
	return 0;
}
