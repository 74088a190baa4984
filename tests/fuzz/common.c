/*
 * common.c - splits, hash and findings for the harnesses (see common.h).
 */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t fuzz_hash(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3u;
	return h;
}

void splits_init(struct splits *sp, enum split_mode mode, const uint8_t *data, size_t size)
{
	sp->mode = mode;
	sp->state = fuzz_hash(data, size) | 1;
}

size_t splits_next(struct splits *sp, size_t left)
{
	size_t n = left;
	switch (sp->mode) {
	case SPLIT_WHOLE:
		break;
	case SPLIT_BYTES:
		n = 1;
		break;
	case SPLIT_RANDOM:
		/* xorshift64: pieces of 1 to 97 bytes, small ones more often */
		sp->state ^= sp->state << 13;
		sp->state ^= sp->state >> 7;
		sp->state ^= sp->state << 17;
		n = (sp->state & 1) ? 1 + (sp->state >> 8) % 7 : 1 + (sp->state >> 8) % 97;
		break;
	case SPLIT_MODES:
		break;
	}
	return n < left ? n : left;
}

const char *split_name(enum split_mode mode)
{
	switch (mode) {
	case SPLIT_WHOLE:  return "whole";
	case SPLIT_BYTES:  return "one byte at a time";
	case SPLIT_RANDOM: return "random pieces";
	case SPLIT_MODES:  break;
	}
	return "?";
}

static struct scan_outcome scan_pieces(scan_init_fn *init, scan_step_fn *step, void *state, const uint8_t *data,
                                       size_t size, enum split_mode mode, const char *what)
{
	struct scan_outcome o = { 0, 0, NULL };
	struct splits sp;
	size_t off = 0;
	init(state);
	splits_init(&sp, mode, data, size);
	while (off < size) {
		size_t n = splits_next(&sp, size - off), used = 0;
		o.r = step(state, (const char *)data + off, n, &used, &o.error);
		if (o.r > 0) {
			FUZZ_CHECK(used >= 1 && used <= n, "%s says done after %zu of %zu bytes", what, used, n);
			o.end = off + used;
			o.error = NULL;
			return o;
		}
		if (o.r < 0) {
			FUZZ_CHECK(o.error != NULL, "%s refused without a reason", what);
			return o;                 /* a refusal says why, not where */
		}
		/* A run may end early (chunk_scan: where trailer field lines begin or end). */
		FUZZ_CHECK(used <= n && used > 0, "%s wants more but used %zu of %zu bytes", what, used, n);
		off += used;
	}
	o.error = NULL;
	return o;
}

struct scan_outcome scan_three_ways(scan_init_fn *init, scan_step_fn *step, void *state, const uint8_t *data,
                                    size_t size, const char *what)
{
	struct scan_outcome o[SPLIT_MODES];
	for (enum split_mode m = 0; m < SPLIT_MODES; m++)
		o[m] = scan_pieces(init, step, state, data, size, m, what);
	for (enum split_mode m = 1; m < SPLIT_MODES; m++)
		FUZZ_CHECK(o[m].r == o[0].r && o[m].end == o[0].end &&
		           (o[m].error == o[0].error || (o[m].error && o[0].error && strcmp(o[m].error, o[0].error) == 0)),
		           "%s fed %s: %d at %zu (%s); fed whole: %d at %zu (%s)", what, split_name(m), o[m].r, o[m].end,
		           o[m].error ? o[m].error : "-", o[0].r, o[0].end, o[0].error ? o[0].error : "-");
	return o[0];
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("finding: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
