/*
 * ev.c - the poll()-based event loop behind ev.h.
 *
 * Watched fds live in a dense pollfd array (what poll() wants) plus a table
 * indexed by fd that says where each fd sits in it, so watch, unwatch and
 * mask changes are O(1).  Timers live in a binary min-heap keyed by deadline:
 * arming and stopping are O(log n), and the next deadline is O(1), so no
 * wake-up scans every connection.
 *
 * Dispatch happens in two passes: first the fired fds are copied out, then
 * their callbacks run.  A callback may close and unwatch other fds; each fd
 * carries a generation number so an event is never delivered to a newer fd
 * that the kernel handed out with the same number meanwhile.
 */
#include "ev.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct watch {            /* indexed by fd */
	int slot;             /* index into pfd/cb, or -1 when not watched */
	uint32_t gen;         /* bumped on every unwatch */
};

struct callback {         /* parallel to pfd */
	ev_io_fn *fn;
	void *arg;
	int fd;               /* pfd[].fd is ~fd (negative) while the mask is 0 */
};

struct fired {
	int fd;
	uint32_t gen;
	int mask;
};

struct ev_loop {
	struct pollfd *pfd;
	struct callback *cb;
	struct fired *fired;
	size_t nfds, cap;

	struct watch *watch;
	size_t watch_cap;

	ev_timer **heap;
	size_t nheap, heap_cap;

	uint64_t now_ns;
	size_t turn;        /* where the next scan of pfd starts (fairness) */
	bool stop;
};

/* How far ev_warp moved the monotonic clock (tests and fuzz harnesses). */
static uint64_t warp_ns;

uint64_t ev_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + warp_ns;
}

uint64_t ev_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

ev_loop *ev_new(void)
{
	ev_loop *loop = calloc(1, sizeof(*loop));
	if (loop != NULL)
		loop->now_ns = ev_mono_ns();
	return loop;
}

void ev_free(ev_loop *loop)
{
	if (loop == NULL)
		return;
	free(loop->pfd);
	free(loop->cb);
	free(loop->fired);
	free(loop->watch);
	free(loop->heap);
	free(loop);
}

uint64_t ev_now_ns(ev_loop *loop) { return loop->now_ns; }

uint64_t ev_update_time(ev_loop *loop)
{
	loop->now_ns = ev_mono_ns();
	return loop->now_ns;
}

bool ev_warp(ev_loop *loop)
{
	if (loop->nheap == 0)
		return false;
	uint64_t when = loop->heap[0]->when_ns;
	if (when > loop->now_ns) {
		warp_ns += when - loop->now_ns;
		loop->now_ns = when;
	}
	return true;
}

void ev_stop(ev_loop *loop) { loop->stop = true; }

/* ---- fds ---------------------------------------------------------------- */

static int grow_watch_table(ev_loop *loop, int fd)
{
	size_t need = (size_t)fd + 1, cap = loop->watch_cap ? loop->watch_cap : 64;
	if (need <= loop->watch_cap)
		return 0;
	while (cap < need)
		cap *= 2;
	struct watch *w = realloc(loop->watch, cap * sizeof(*w));
	if (w == NULL)
		return -1;
	for (size_t i = loop->watch_cap; i < cap; i++)
		w[i] = (struct watch){ .slot = -1, .gen = 0 };
	loop->watch = w;
	loop->watch_cap = cap;
	return 0;
}

static int grow_slots(ev_loop *loop)
{
	if (loop->nfds < loop->cap)
		return 0;
	size_t cap = loop->cap ? loop->cap * 2 : 64;
	struct pollfd *pfd = realloc(loop->pfd, cap * sizeof(*pfd));
	if (pfd == NULL)
		return -1;
	loop->pfd = pfd;
	struct callback *cb = realloc(loop->cb, cap * sizeof(*cb));
	if (cb == NULL)
		return -1;
	loop->cb = cb;
	struct fired *fired = realloc(loop->fired, cap * sizeof(*fired));
	if (fired == NULL)
		return -1;
	loop->fired = fired;
	loop->cap = cap;
	return 0;
}

/* Sets what poll() waits for in slot.  A silent fd (mask 0) is given to
 * poll() as a negative number, which poll() skips: otherwise a hang-up or
 * an error on it would be reported on every call and the loop would spin. */
static void set_slot_mask(ev_loop *loop, size_t slot, int mask)
{
	int fd = loop->cb[slot].fd;
	loop->pfd[slot].fd = mask ? fd : ~fd;
	loop->pfd[slot].events = (short)(((mask & EV_READ) ? POLLIN : 0) | ((mask & EV_WRITE) ? POLLOUT : 0));
	loop->pfd[slot].revents = 0;
}

int ev_watch(ev_loop *loop, int fd, int mask, ev_io_fn *fn, void *arg)
{
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (grow_watch_table(loop, fd) < 0)
		return -1;
	int slot = loop->watch[fd].slot;
	if (slot < 0) {
		if (grow_slots(loop) < 0)
			return -1;
		slot = (int)loop->nfds++;
		loop->watch[fd].slot = slot;
	}
	loop->cb[slot] = (struct callback){ fn, arg, fd };
	set_slot_mask(loop, (size_t)slot, mask);
	return 0;
}

void ev_set_mask(ev_loop *loop, int fd, int mask)
{
	if (fd >= 0 && (size_t)fd < loop->watch_cap && loop->watch[fd].slot >= 0)
		set_slot_mask(loop, (size_t)loop->watch[fd].slot, mask);
}

void ev_unwatch(ev_loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->watch_cap || loop->watch[fd].slot < 0)
		return;
	size_t slot = (size_t)loop->watch[fd].slot, last = loop->nfds - 1;
	if (slot != last) {     /* keep the array dense: move the last one here */
		loop->pfd[slot] = loop->pfd[last];
		loop->cb[slot] = loop->cb[last];
		loop->watch[loop->cb[slot].fd].slot = (int)slot;
	}
	loop->nfds--;
	loop->watch[fd].slot = -1;
	loop->watch[fd].gen++;
}

/* ---- timers: a binary min-heap on when_ns ------------------------------- */

static void heap_place(ev_loop *loop, size_t i, ev_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i + 1;
}

static void heap_up(ev_loop *loop, size_t i)
{
	ev_timer *t = loop->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (loop->heap[parent]->when_ns <= t->when_ns)
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void heap_down(ev_loop *loop, size_t i)
{
	ev_timer *t = loop->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap && loop->heap[child + 1]->when_ns < loop->heap[child]->when_ns)
			child++;
		if (t->when_ns <= loop->heap[child]->when_ns)
			break;
		heap_place(loop, i, loop->heap[child]);
		i = child;
	}
	heap_place(loop, i, t);
}

void ev_timer_init(ev_timer *t) { memset(t, 0, sizeof(*t)); }

void ev_timer_stop(ev_loop *loop, ev_timer *t)
{
	if (t->heap_index == 0)
		return;
	size_t i = t->heap_index - 1;
	t->heap_index = 0;
	ev_timer *last = loop->heap[--loop->nheap];
	if (i == loop->nheap)
		return;
	heap_place(loop, i, last);
	heap_up(loop, i);
	heap_down(loop, last->heap_index - 1);
}

void ev_timer_arm_at(ev_loop *loop, ev_timer *t, uint64_t when_ns, ev_timer_fn *fn, void *arg)
{
	ev_timer_stop(loop, t);
	if (loop->nheap == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		ev_timer **heap = realloc(loop->heap, cap * sizeof(*heap));
		if (heap == NULL)
			abort();    /* a lost timer would hang a peer forever: fail loudly */
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	t->when_ns = when_ns;
	t->fn = fn;
	t->arg = arg;
	heap_place(loop, loop->nheap++, t);
	heap_up(loop, loop->nheap - 1);
}

void ev_timer_arm(ev_loop *loop, ev_timer *t, uint64_t after_ms, ev_timer_fn *fn, void *arg)
{
	ev_timer_arm_at(loop, t, loop->now_ns + after_ms * 1000000u, fn, arg);
}

static void run_due_timers(ev_loop *loop)
{
	while (loop->nheap > 0 && loop->heap[0]->when_ns <= loop->now_ns) {
		ev_timer *t = loop->heap[0];
		ev_timer_stop(loop, t);
		t->fn(loop, t->arg);    /* may re-arm t or free its owner */
	}
}

/* Milliseconds poll() may sleep: until the next deadline, rounded up so a
 * timer never fires early; -1 (forever) with no timer armed. */
static int poll_timeout(ev_loop *loop)
{
	if (loop->nheap == 0)
		return -1;
	uint64_t when = loop->heap[0]->when_ns;
	if (when <= loop->now_ns)
		return 0;
	uint64_t ms = (when - loop->now_ns + 999999u) / 1000000u;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* ---- the loop ------------------------------------------------------------ */

int ev_run(ev_loop *loop)
{
	loop->stop = false;
	while (!loop->stop && (loop->nfds > 0 || loop->nheap > 0)) {
		int n = poll(loop->pfd, (nfds_t)loop->nfds, poll_timeout(loop));
		ev_update_time(loop);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* Scan from a different slot each turn, so no fd is always last. */
		size_t nfired = 0, nfds = loop->nfds, start = nfds ? loop->turn++ % nfds : 0;
		for (size_t k = 0; k < nfds && nfired < (size_t)n; k++) {
			size_t i = start + k < nfds ? start + k : start + k - nfds;
			short re = loop->pfd[i].revents;
			if (re == 0)
				continue;
			int fd = loop->cb[i].fd, mask = 0;
			short watched = loop->pfd[i].events;
			if (re & (POLLERR | POLLHUP | POLLNVAL))  /* let the owner find out by read/write */
				mask = EV_ERROR | ((watched & POLLIN) ? EV_READ : 0) | ((watched & POLLOUT) ? EV_WRITE : 0);
			if (re & POLLIN)
				mask |= EV_READ;
			if (re & POLLOUT)
				mask |= EV_WRITE;
			loop->fired[nfired++] = (struct fired){ fd, loop->watch[fd].gen, mask };
		}
		for (size_t i = 0; i < nfired; i++) {
			struct fired f = loop->fired[i];
			struct watch *w = &loop->watch[f.fd];
			if (w->slot < 0 || w->gen != f.gen)
				continue;   /* unwatched (and maybe reused) by an earlier callback */
			struct callback cb = loop->cb[w->slot];
			int want = f.mask & (EV_ERROR | (loop->pfd[w->slot].events & POLLIN ? EV_READ : 0) |
			                     (loop->pfd[w->slot].events & POLLOUT ? EV_WRITE : 0));
			if (want & ~EV_ERROR)
				cb.fn(loop, f.fd, cb.arg, want);
		}
		run_due_timers(loop);
	}
	return 0;
}
