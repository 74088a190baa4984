/*
 * fuzz_mockserver_route.c - mockserver's pure helpers (mockserver/route.c):
 * any request target resolves to an endpoint whose pointers stay inside
 * the target, a /raw name is always a plain file name, a 400 always says
 * why; query_get and luhn_valid take any string.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "../../mockserver/mockserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = fuzz_strndup(data, size);
	size_t len = strlen(t);
	struct route r;
	route_parse(t, &r);
	FUZZ_CHECK(r.path >= t && r.path + r.path_len <= t + len, "the path points outside the target");
	if (r.ep == EP_RAW) {
		FUZZ_CHECK(r.file > t && r.file + r.file_len <= t + len, "the /raw name points outside the target");
		FUZZ_CHECK(raw_name_ok(r.file, r.file_len), "route_parse gives a /raw name raw_name_ok refuses");
		FUZZ_CHECK(memchr(r.file, '/', r.file_len) == NULL && r.file[0] != '.' && r.file_len <= 255,
		           "a /raw name that is not a plain file name: %.*s", (int)r.file_len, r.file);
	}
	if (r.ep == EP_BAD)
		FUZZ_CHECK(r.why != NULL && r.why[0] != '\0', "a 400 without a reason");
	if (r.ep == EP_STATUS)
		FUZZ_CHECK(r.n >= 200 && r.n <= 599, "status %llu", (unsigned long long)r.n);
	if (r.ep == EP_CHUNKED)
		FUZZ_CHECK(r.size >= 1 && r.size <= MAX_CHUNK, "chunk size %llu", (unsigned long long)r.size);
	const char *v;
	size_t vlen;
	if (query_get(t, len, "size", &v, &vlen))
		FUZZ_CHECK(v >= t && v + vlen <= t + len, "query_get's value points outside the query");
	(void)luhn_valid(t);
	free(t);
	return 0;
}
