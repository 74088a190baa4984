/*
 * mem.c - buffers for bytes in flight.  A connection holds a buffer only
 * while data passes through it (10,000 idle clients cost almost nothing),
 * and a small cache of READ_MAX-sized buffers spares malloc and free a
 * round trip for every request.
 */
#include <stdlib.h>

#include "proxy.h"

#define MEM_CACHE 256

static char *cache[MEM_CACHE];
static size_t ncache;

void mem_prime(struct buf *b)
{
	if (b->data == NULL && ncache > 0) {
		b->data = cache[--ncache];
		b->cap = READ_MAX;
		b->off = b->len = 0;
	}
}

void mem_release(struct buf *b)
{
	if (b->data != NULL && b->cap == READ_MAX && ncache < MEM_CACHE) {
		cache[ncache++] = b->data;
		*b = (struct buf)BUF_INIT;
		return;
	}
	buf_free(b);
}

void mem_free_all(void)
{
	while (ncache > 0)
		free(cache[--ncache]);
}
