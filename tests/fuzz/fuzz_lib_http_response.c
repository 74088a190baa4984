/*
 * fuzz_lib_http_response.c - lib/http (the llhttp glue every tool uses) on
 * responses: pipelined messages (some of them answers to HEAD, chosen from
 * the input's hash), 1xx, 204, 304, chunked and read-until-close bodies,
 * fed whole, one byte at a time and in random pieces, must give the same
 * transcript (transcript.h).  A 2 KiB head limit reaches the 431 path.
 */
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	http_transcripts_agree(HTTP_RESPONSE, data, size, fuzz_hash(data, size), 2048, 0);
	return 0;
}
