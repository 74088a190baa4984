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
