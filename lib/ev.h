/*
 * ev.h - the event loop every l7lab tool runs on: poll() for sockets, a
 * binary heap for timers, one cached monotonic clock.
 *
 * Few verbs, in the spirit of Redis' ae.h:
 *   ev_watch / ev_unwatch   say which fds to poll and what to call back
 *   ev_timer_arm / _stop    one-shot timers embedded in the caller's structs
 *   ev_run / ev_stop        run until asked to stop
 *
 * Callbacks run on the loop's thread, one at a time.  A callback may watch,
 * unwatch or close any fd, including its own, and arm or stop any timer.
 */
#ifndef L7_EV_H
#define L7_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EV_READ  1  /* fd is readable (or at EOF, or in error)  */
#define EV_WRITE 2  /* fd is writable (or a connect() finished) */
#define EV_ERROR 4  /* POLLERR/POLLHUP/POLLNVAL seen; reported with the masks watched */

typedef struct ev_loop ev_loop;
typedef void ev_io_fn(ev_loop *loop, int fd, void *arg, int mask);
typedef void ev_timer_fn(ev_loop *loop, void *arg);

/* A one-shot timer.  Embed it in the object it times out; zero it (or call
 * ev_timer_init) before first use.  Stop it before freeing that object. */
typedef struct ev_timer {
	uint64_t when_ns;     /* deadline on the loop's monotonic clock      */
	size_t heap_index;    /* position in the heap + 1; 0 = not armed     */
	ev_timer_fn *fn;
	void *arg;
} ev_timer;

/* Returns a new loop, or NULL with errno set. */
ev_loop *ev_new(void);
/* Frees the loop; does not close the fds it was watching. */
void ev_free(ev_loop *loop);

/* Watches fd for the events in mask (EV_READ|EV_WRITE), calling fn(loop, fd,
 * arg, fired) when any fires.  Watching an fd again replaces its mask, fn and
 * arg.  A mask of 0 keeps the fd registered but silent.  Returns 0, or -1
 * with errno set (ENOMEM, EBADF for a negative fd). */
int ev_watch(ev_loop *loop, int fd, int mask, ev_io_fn *fn, void *arg);
/* Changes only the mask of an fd already watched (cheap; the hot path). */
void ev_set_mask(ev_loop *loop, int fd, int mask);
/* Forgets fd.  Call it before close(fd).  Unknown fds are ignored. */
void ev_unwatch(ev_loop *loop, int fd);

void ev_timer_init(ev_timer *t);
/* Arms t to call fn(loop, arg) once, after_ms from now (re-arms if armed). */
void ev_timer_arm(ev_loop *loop, ev_timer *t, uint64_t after_ms, ev_timer_fn *fn, void *arg);
/* Same, with a deadline in nanoseconds on ev_now_ns()'s clock. */
void ev_timer_arm_at(ev_loop *loop, ev_timer *t, uint64_t when_ns, ev_timer_fn *fn, void *arg);
void ev_timer_stop(ev_loop *loop, ev_timer *t);
static inline bool ev_timer_armed(const ev_timer *t) { return t->heap_index != 0; }

/* Runs until ev_stop() is called or nothing is watched or armed.  Returns 0,
 * or -1 with errno set if poll() fails for a reason other than EINTR. */
int ev_run(ev_loop *loop);
/* Makes ev_run return after the current iteration. */
void ev_stop(ev_loop *loop);

/* The loop's monotonic clock, read once per iteration (cheap). */
uint64_t ev_now_ns(ev_loop *loop);
/* Reads the clock again now (a system call); also refreshes ev_now_ns. */
uint64_t ev_update_time(ev_loop *loop);
/* Monotonic and wall clocks, in nanoseconds, read directly. */
uint64_t ev_mono_ns(void);
uint64_t ev_wall_ns(void);
/* For tests and fuzz harnesses: the monotonic clock (this one and
 * ev_mono_ns's) jumps to the earliest timer's deadline, which then fires at
 * the next turn.  False when no timer is armed. */
bool ev_warp(ev_loop *loop);

#endif
