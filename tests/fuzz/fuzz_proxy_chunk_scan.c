/*
 * fuzz_proxy_chunk_scan.c - the proxy's chunked-framing scanner
 * (chunk_scan, proxy.h), which checks what llhttp 8.1 does not (the CRLF
 * after chunk data).  Fed whole, one byte at a time and in random pieces it
 * must decide the same way at the same byte; against the strict reader
 * (strict.h) it must find the same end of a valid body, and never refuse a
 * valid body nor end a body before the reader does.  (It may accept what the
 * reader refuses in trailer lines: llhttp parses those behind it, and the
 * framing harness checks the pair.)
 */
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
	return 0;
}
