/*
 * fuzz_proxy_chunk_scan.c - the proxy's chunked-framing scanner
 * (chunk_scan, proxy.h), which checks what llhttp 8.1 does not (the CRLF
 * after chunk data).  Fed whole, one byte at a time and in random pieces it
 * must decide the same way at the same byte; against the strict reader
 * (strict.h) it must find the same end of a valid body, and never refuse a
 * valid body nor end a body before the reader does.  (It may accept chunk
 * extensions the reader refuses: the proxy re-chunks without them.)  The
 * trailer field lines it hides from the parser are ones the reader takes,
 * and what it shows the parser has none.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "strict.h"
#include "../../proxy/proxy.h"

static void init(void *st)
{
	chunk_scan_init(st);
}

static int step(void *st, const char *p, size_t n, size_t *used, const char **error)
{
	struct chunk_scan *cs = st;
	int r = chunk_scan(cs, p, n, used);
	*error = cs->error;
	return r;
}

/* A body the scanner took, run by run: the runs it hides are trailer
 * field lines RFC 9112 takes ("0" CRLF, them, CRLF is a valid body), and
 * what it shows the parser ends with the empty line (no trailer field). */
static void check_runs(const uint8_t *data, size_t end)
{
	struct chunk_scan cs;
	char *hidden = malloc(end + 5);
	size_t at = 0, n = 3, run, len = 0;
	const char *why = NULL;
	bool shown_end = false;
	if (hidden == NULL)
		fuzz_fail("out of memory");
	memcpy(hidden, "0\r\n", 3);
	chunk_scan_init(&cs);
	for (int r = 0; r == 0;) {
		r = chunk_scan(&cs, (const char *)data + at, end - at, &run);
		FUZZ_CHECK(r >= 0, "chunk_scan refuses a body it took before (%s)", cs.error);
		if (cs.hide)
			memcpy(hidden + n, data + at, run), n += run;
		else
			shown_end = at + run >= 4 && memcmp(data + at + run - 4, "\r\n\r\n", 4) == 0;
		at += run;
	}
	memcpy(hidden + n, "\r\n", 2);
	n += 2;
	FUZZ_CHECK(strict_chunked(hidden, n, &len, &why) == STRICT_OK && len == n,
	           "chunk_scan takes trailer lines RFC 9112 refuses (%s)", why ? why : "-");
	FUZZ_CHECK(shown_end, "chunk_scan shows the parser a trailer field");
	free(hidden);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunk_scan cs;
	struct scan_outcome o = scan_three_ways(init, step, &cs, data, size, "chunk_scan");
	size_t len = 0;
	const char *why = NULL;
	enum strict_result s = strict_chunked((const char *)data, size, &len, &why);
	if (s == STRICT_OK) {
		FUZZ_CHECK(o.r != -1, "chunk_scan refuses a valid chunked body (%s)", o.error);
		FUZZ_CHECK(o.r == 1, "chunk_scan wants more after a valid chunked body of %zu bytes", len);
		FUZZ_CHECK(o.end == len, "chunk_scan ends the body at %zu, RFC 9112 at %zu", o.end, len);
	} else if (s == STRICT_MORE) {
		FUZZ_CHECK(o.r != 1, "chunk_scan ends the body at %zu; RFC 9112 needs more", o.end);
	}
	if (o.r == 1)
		check_runs(data, o.end);
	return 0;
}
