/*
 * sig.h - signals delivered through the event loop (the self-pipe trick), so
 * a handler runs as an ordinary callback and may do anything a callback may.
 */
#ifndef L7_SIG_H
#define L7_SIG_H

#include "ev.h"

typedef void sig_fn(ev_loop *loop, int signo, void *arg);

/* Routes SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 to fn through loop and
 * ignores SIGPIPE (writes to a closed peer then fail with EPIPE instead).
 * Call once.  Returns 0, or -1 with errno set. */
int sig_setup(ev_loop *loop, sig_fn *fn, void *arg);
/* Stops routing (default dispositions back) and closes the pipe. */
void sig_teardown(ev_loop *loop);

#endif
