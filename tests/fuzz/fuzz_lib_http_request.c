/*
 * fuzz_lib_http_request.c - lib/http (the llhttp glue every tool uses) on
 * requests: pipelined messages fed whole, one byte at a time and in random
 * pieces must give the same transcript (transcript.h), and the glue's
 * memory promises hold for every header.  Small limits (2 KiB of head, 512
 * bytes of target) so that the 431 and 414 paths are reached.
 */
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	http_transcripts_agree(HTTP_REQUEST, data, size, 0, 2048, 512);
	return 0;
}
