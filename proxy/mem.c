/*
 * mem.c - buffers for bytes in flight.  A connection holds a buffer only
 * while data passes through it (10,000 idle clients cost almost nothing),
 * and a small cache of READ_MAX-sized buffers spares malloc and free a
 * round trip for every request.  The same goes for the storage of a
 * request's parsed head (its names and values, and the table of them).
 *
 * After a burst (a thousand busy clients, each with its buffers) free()
 * keeps the memory: glibc gives back only the top of its heap.  So once
 * the proxy has been quiet for a second, the cache and every free page go
 * back to the kernel (malloc_trim, as HAProxy does), and idle connections
 * cost what they hold, not what the last burst needed.
 */
#include <malloc.h>
#include <stdlib.h>

#include "proxy.h"

#define MEM_CACHE 256
#define QUIET_MS  1000
#define HEAD_RAW_MAX  1024   /* a head's storage cached up to these sizes */
#define HEAD_HDRS_MAX 32

static char *cache[MEM_CACHE];
static size_t ncache;

struct head_storage {
	struct buf raw;
	struct http_hdr *hdrs;
	size_t hdrs_cap;
};
static struct head_storage heads[MEM_CACHE];
static size_t nheads;

static void free_heads(void)
{
	while (nheads > 0) {
		struct head_storage *h = &heads[--nheads];
		buf_free(&h->raw);
		free(h->hdrs);
	}
}
static uint64_t primed, primed_at_check;   /* activity since the last check */
static ev_timer quiet_timer;

static void on_quiet_check(ev_loop *loop, void *arg)
{
	(void)arg;
	if (primed != primed_at_check) {   /* busy: look again later */
		primed_at_check = primed;
		ev_timer_arm(loop, &quiet_timer, QUIET_MS, on_quiet_check, NULL);
		return;
	}
	while (ncache > 0)
		free(cache[--ncache]);
	free_heads();
	(void)malloc_trim(0);
}

void mem_prime(struct buf *b)
{
	primed++;
	if (!ev_timer_armed(&quiet_timer)) {
		primed_at_check = primed;
		ev_timer_arm(P.loop, &quiet_timer, QUIET_MS, on_quiet_check, NULL);
	}
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

void mem_prime_head(struct http_msg *m)
{
	if (m->raw.data != NULL || m->hdrs != NULL || nheads == 0)
		return;
	struct head_storage *h = &heads[--nheads];
	m->raw = h->raw;
	m->hdrs = h->hdrs;
	m->hdrs_cap = h->hdrs_cap;
	m->nhdrs = 0;
}

void mem_release_head(struct http_msg *m)
{
	if (m->raw.data == NULL && m->hdrs == NULL)
		return;   /* nothing held (given back already) */
	if (nheads < MEM_CACHE && m->raw.cap <= HEAD_RAW_MAX && m->hdrs_cap <= HEAD_HDRS_MAX) {
		buf_clear(&m->raw);
		heads[nheads++] = (struct head_storage){ m->raw, m->hdrs, m->hdrs_cap };
		m->raw = (struct buf)BUF_INIT;
		m->hdrs = NULL;
		m->nhdrs = m->hdrs_cap = 0;
		return;
	}
	http_msg_free(m);
}

void mem_free_all(void)
{
	ev_timer_stop(P.loop, &quiet_timer);
	while (ncache > 0)
		free(cache[--ncache]);
	free_heads();
}
