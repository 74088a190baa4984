/*
 * loadgen.h - the run's settings and the worker threads that make the load.
 *
 * main() parses the flags into a struct config (read-only once the workers
 * start), starts one worker per -t thread, each with its own event loop,
 * connections and stats, and merges the stats when they are done.
 */
#ifndef LG_LOADGEN_H
#define LG_LOADGEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"
#include "http.h"
#include "net.h"
#include "sched.h"
#include "stats.h"
#include "url.h"

/* One distinct address the URLs point at, and the requests that go there
 * (connections are spread evenly over targets; the requests to a target
 * take its URLs in turn). */
struct target {
	struct addr addr;
	char name[ADDR_STRLEN];
	struct buf *reqs;        /* the prebuilt request bytes, one per URL */
	size_t nreqs;
};

struct config {
	char **url_text;
	struct url *urls;
	size_t nurls;
	struct target *targets;
	size_t ntargets;

	uint64_t conns;           /* -c                                   */
	uint64_t threads;         /* -t                                   */
	uint64_t requests;        /* -n; 0: run for duration_us           */
	uint64_t duration_us;     /* -d                                   */
	uint64_t warmup_us;       /* --warmup                             */
	uint64_t timeout_us;      /* --timeout, per request               */
	double rate;              /* -r; 0: closed loop                   */
	bool keepalive;
	bool head;                /* -m HEAD: responses have no body       */
	const char *method;
	const char *by_header;    /* default X-Backend                     */
	struct addr *sources;     /* --source                              */
	size_t nsources;
	uint64_t slow_conns;      /* --slow CONNS:BYTES_PER_S              */
	uint64_t slow_bps;
	bool timeline;
};

enum conn_state {
	CONN_IDLE,        /* no request: waiting for its turn (open loop) or done */
	CONN_CONNECTING,  /* STEP 1: the TCP handshake is under way                */
	CONN_SENDING,     /* STEP 2: writing the request                          */
	CONN_READING,     /* STEP 7 (seen from the client): reading the response  */
};

struct worker;

struct conn {
	struct worker *w;
	int fd;
	enum conn_state state;
	size_t target;            /* index into cfg->targets                  */
	const struct buf *req;    /* the request in flight                    */
	size_t sent;
	size_t source;            /* --source index of this connection        */
	uint64_t start_ns;        /* latency starts here (intended time with -r) */
	uint64_t deadline_ns;     /* --timeout of the request in flight       */
	bool measured;            /* started after the warmup: counts          */
	bool complete;            /* the parser saw the whole response         */
	uint64_t got;             /* response bytes of the request in flight  */
	ev_timer wake;            /* deferred start (after an immediate error) */
	struct http_msg msg;
	struct conn *next_idle;   /* open loop: the stack of idle connections */
};

struct slow_conn;

struct worker {
	const struct config *cfg;
	size_t id;
	pthread_t thread;
	ev_loop *loop;
	struct stats st;

	struct conn *conns;
	size_t nconns;
	char *rbuf;               /* one large read buffer for all connections */
	size_t rbuf_len;

	uint64_t budget;          /* requests still to start (-n), else UINT64_MAX */
	uint64_t in_flight;
	uint64_t start_ns;        /* when the load started                      */
	uint64_t measure_ns;      /* when counting started (after --warmup)     */
	uint64_t count_until_ns;  /* -d: what ends later is not counted         */
	uint64_t end_ns;          /* when counting stopped                      */
	bool stopping;

	bool open_loop;           /* -r: requests come from the schedule        */
	struct sched sched;
	int sched_fd;             /* a timerfd: wakes the loop when one is due */
	uint64_t sched_armed_ns;  /* when it is set to fire; 0: not armed      */
	struct conn *idle;        /* open loop: connections free for a request, */
	struct conn *idle_tail;   /* first in, first out                        */
	size_t *next_req;         /* per target: the URL to use next            */

	ev_timer tick;            /* timeouts, the stop flag, the live counters */
	uint64_t tick_ns;
	ev_timer end_timer;       /* -d                                         */

	struct slow_conn *slow;   /* --slow (worker 0 only)                      */
	size_t nslow;
	struct http_hooks hooks;

	size_t next_source;
	_Atomic uint64_t live_requests, live_errors;
	int done_fd;              /* written when the worker finishes            */
	int error;                /* errno of a fatal worker failure, else 0    */
};

/* Set by main() to make every worker stop at its next tick (SIGINT). */
extern atomic_bool lg_stop;

/* Prepares worker id of cfg->threads: its loop, connections, stats.
 * 0, or -1 with errno. */
int worker_init(struct worker *w, const struct config *cfg, size_t id, uint64_t t0_ns, int done_fd);
/* The thread's body: runs the load until -n or -d is reached or lg_stop. */
void *worker_run(void *arg);
void worker_free(struct worker *w);

/* slow.c: the --slow connections of a worker. */
int slow_start(struct worker *w);
void slow_finish(struct worker *w);

#endif
