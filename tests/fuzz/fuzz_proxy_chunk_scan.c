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
#include <string.h>

#include "common.h"
#include "strict.h"
#include "../../proxy/proxy.h"

struct outcome {
	int r;
	size_t end;
	const char *error;
};

static struct outcome scan(const uint8_t *data, size_t size, enum split_mode mode)
{
	struct chunk_scan cs;
	struct splits sp;
	struct outcome o = { 0 };
	size_t off = 0;
	chunk_scan_init(&cs);
	splits_init(&sp, mode, data, size);
	while (off < size) {
		size_t n = splits_next(&sp, size - off), used = 0;
		o.r = chunk_scan(&cs, (const char *)data + off, n, &used);
		if (o.r != 0) {
			FUZZ_CHECK(o.r < 0 || (used >= 1 && used <= n), "chunk_scan used %zu of %zu", used, n);
			o.end = o.r > 0 ? off + used : 0;   /* a refusal says why, not where */
			o.error = cs.error;
			FUZZ_CHECK(o.r > 0 || o.error != NULL, "chunk_scan refused without a reason");
			return o;
		}
		FUZZ_CHECK(used == n, "chunk_scan wants more but used %zu of %zu", used, n);
		off += n;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome o[SPLIT_MODES];
	for (enum split_mode m = 0; m < SPLIT_MODES; m++)
		o[m] = scan(data, size, m);
	for (enum split_mode m = 1; m < SPLIT_MODES; m++)
		FUZZ_CHECK(o[m].r == o[0].r && o[m].end == o[0].end &&
		           (o[m].error == o[0].error || strcmp(o[m].error, o[0].error) == 0),
		           "chunk_scan fed %s: %d at %zu (%s); fed whole: %d at %zu (%s)", split_name(m), o[m].r,
		           o[m].end, o[m].error ? o[m].error : "-", o[0].r, o[0].end, o[0].error ? o[0].error : "-");

	size_t len = 0;
	const char *why = NULL;
	enum strict_result s = strict_chunked((const char *)data, size, &len, &why);
	if (s == STRICT_OK) {
		FUZZ_CHECK(o[0].r != -1, "chunk_scan refuses a valid chunked body (%s)", o[0].error);
		FUZZ_CHECK(o[0].r == 1, "chunk_scan wants more after a valid chunked body of %zu bytes", len);
		FUZZ_CHECK(o[0].end == len, "chunk_scan ends the body at %zu, RFC 9112 at %zu", o[0].end, len);
	} else if (s == STRICT_MORE) {
		FUZZ_CHECK(o[0].r != 1, "chunk_scan ends the body at %zu; RFC 9112 needs more", o[0].end);
	}
	return 0;
}
