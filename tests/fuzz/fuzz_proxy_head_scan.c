/*
 * fuzz_proxy_head_scan.c - the proxy's head scanner (head_scan, proxy.h),
 * which refuses what llhttp 8 lets through in a head: bare CR or LF,
 * obs-fold, control bytes.  Fed whole, one byte at a time and in random
 * pieces it must decide the same way at the same byte, and agree with a
 * line-by-line reference reading written here: where the head ends, or
 * that it is refused.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "../../proxy/proxy.h"

struct outcome {
	int r;              /* head_scan's: 1 end seen, 0 more needed, -1 refused */
	size_t end;         /* r == 1: bytes up to and including the empty line  */
	const char *error;
};

static struct outcome scan(const uint8_t *data, size_t size, enum split_mode mode)
{
	struct head_scan h;
	struct splits sp;
	struct outcome o = { 0 };
	size_t off = 0;
	head_scan_init(&h);
	splits_init(&sp, mode, data, size);
	while (off < size) {
		size_t n = splits_next(&sp, size - off), used = 0;
		o.r = head_scan(&h, (const char *)data + off, n, &used);
		if (o.r != 0) {
			FUZZ_CHECK(o.r < 0 || (used >= 1 && used <= n), "head_scan used %zu of %zu", used, n);
			o.end = o.r > 0 ? off + used : 0;   /* a refusal says why, not where */
			o.error = h.error;
			FUZZ_CHECK(o.r > 0 || o.error != NULL, "head_scan refused without a reason");
			return o;
		}
		FUZZ_CHECK(used == n, "head_scan wants more but used %zu of %zu", used, n);
		off += n;
	}
	return o;
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
	struct outcome o[SPLIT_MODES];
	for (enum split_mode m = 0; m < SPLIT_MODES; m++)
		o[m] = scan(data, size, m);
	for (enum split_mode m = 1; m < SPLIT_MODES; m++)
		FUZZ_CHECK(o[m].r == o[0].r && o[m].end == o[0].end &&
		           (o[m].error == o[0].error || strcmp(o[m].error, o[0].error) == 0),
		           "head_scan fed %s: %d at %zu (%s); fed whole: %d at %zu (%s)", split_name(m), o[m].r,
		           o[m].end, o[m].error ? o[m].error : "-", o[0].r, o[0].end, o[0].error ? o[0].error : "-");
	size_t end = 0;
	int want = reference(data, size, &end);
	FUZZ_CHECK(want == o[0].r && (want != 1 || end == o[0].end),
	           "head_scan says %d (end %zu, %s), the reference %d (end %zu)", o[0].r, o[0].end,
	           o[0].error ? o[0].error : "-", want, end);
	return 0;
}
