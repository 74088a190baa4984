/*
 * mockserver.h - the mock backends ("the Back-end App" of the seed's steps
 * 4 to 6): what a listener is, what a connection is, and the functions the
 * files of mockserver/ share.
 *
 *   main.c       flags, listeners, signals, health timers, shutdown
 *   conn.c       one client connection: read, parse, answer in order, close
 *   endpoints.c  what each endpoint and each fault answers
 *   route.c      pure helpers: target -> endpoint, query strings, Luhn
 *
 * Everything runs on one thread and one poll() loop (lib/ev).
 */
#ifndef MOCKSERVER_H
#define MOCKSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"
#include "http.h"
#include "net.h"
#include "rng.h"

#define NAME_MAX_LEN 63

/* ---- route.c: pure functions, unit-tested ------------------------------ */

enum endpoint {
	EP_NOT_FOUND,
	EP_BAD,         /* a known endpoint with a bad number: 400, route.why says why */
	EP_HELLO,       /* /                  */
	EP_STATUS,      /* /status/CODE       */
	EP_DELAY,       /* /delay/MS          */
	EP_ECHO,        /* /echo              */
	EP_BYTES,       /* /bytes/N           */
	EP_CHUNKED,     /* /chunked/N?size=K  */
	EP_DRIP,        /* /drip?bytes=N&ms=T */
	EP_LEAK,        /* /leak?chunked=1&split=N&ms=T */
	EP_HEADERS,     /* /headers/N         */
	EP_CLOSE,       /* /close             */
	EP_DROP,        /* /drop              */
	EP_RESET,       /* /reset             */
	EP_HANG,        /* /hang              */
	EP_STATS,       /* /stats             */
	EP_HEALTH,      /* /health            */
	EP_RAW,         /* /raw/FILE          */
};

/* Limits on the numbers a target may carry. */
#define MAX_DELAY_MS     600000u              /* /delay: 10 minutes         */
#define MAX_BODY_BYTES   (1ull << 30)         /* /bytes, /chunked: 1 GiB    */
#define MAX_CHUNK        (1u << 20)           /* /chunked?size: 1 MiB       */
#define DEFAULT_CHUNK    1024u
#define MAX_DRIP_BYTES   (1u << 20)
#define MAX_DRIP_MS      60000u
#define DEFAULT_DRIP_BYTES 10u
#define DEFAULT_DRIP_MS  100u
#define MAX_HEADERS      10000u
#define MAX_LEAK_SPLIT   64u                  /* /leak?split: bytes into a value */
#define MAX_WORKERS      10000u               /* --workers                  */

/* A request target, resolved.  Pointers point into the target string. */
struct route {
	enum endpoint ep;
	uint64_t n;                /* the number in the path (code, ms, bytes, count),
	                            * /leak?split=                                    */
	uint64_t size, ms;         /* /chunked?size=, /drip?ms= and /leak?ms= (and
	                            * /drip?bytes= into n)                            */
	bool chunked;              /* /leak?chunked=1                                 */
	const char *path;          /* the path, without scheme, authority or query    */
	size_t path_len;
	const char *file;          /* /raw/FILE                                        */
	size_t file_len;
	bool reset;                /* /raw/FILE?close=reset: end with an RST           */
	const char *why;           /* EP_BAD: a short reason for the 400               */
};

/* Resolves a request target (origin form "/a?b" or absolute form
 * "http://host/a?b") into r.  Never fails: unknown paths are EP_NOT_FOUND. */
void route_parse(const char *target, struct route *r);
/* Finds key in a query string ("a=1&b=2", no '?'); sets *val and *len to its
 * value (possibly empty) and returns true, or returns false. */
bool query_get(const char *query, size_t qlen, const char *key, const char **val, size_t *len);
/* True if s (digits, spaces and dashes allowed between them) has at least
 * two digits and passes the Luhn check that card numbers carry. */
bool luhn_valid(const char *s);
/* True if name is a plain file name: no '/', not "." or "..", no NUL, not
 * empty, not starting with '.', at most 255 bytes. */
bool raw_name_ok(const char *name, size_t len);

/* The fake sensitive data that /leak shows (NULL-terminated lists), and
 * the near misses it shows beside them: pairs of what it is and the text. */
extern const char *const leak_cards[];
extern const char *const leak_ssns[];
extern const char *const leak_api_key;
extern const char *const leak_secret;
extern const char *const leak_near_misses[];

/* ---- listeners ----------------------------------------------------------- */

/* Per-listener settings.  Flags before the first --listen set the defaults
 * that every listener starts from; flags after a --listen change only it. */
struct opts {
	uint64_t delay_ms, jitter_ms;     /* --delay MS[:JITTER]: the delay now  */
	uint64_t delay2_ms, jitter2_ms;   /* --delay-after WHEN:D[:JITTER]: the other */
	uint64_t delay_after_ms;          /* WHEN (a duration)                  */
	bool has_delay2;                  /* --delay-after was given            */
	bool delay_on_signal;             /* WHEN is usr2: SIGUSR2 alone switches */
	double fail_rate, drop_rate, reset_rate;
	int fail_status;                  /* --fail-status, default 500         */
	uint64_t max_requests;            /* --max-requests-per-conn, 0 = none  */
	uint64_t idle_ms;                 /* --idle-timeout, 0 = never          */
	uint64_t seed;
	bool seeded;
	uint64_t unhealthy_after_ms, unhealthy_for_ms;
	bool has_after, has_for;
	uint64_t max_header;              /* --max-header, default 16 KiB       */
	uint64_t max_body;                /* --max-body (/echo), default 1 MiB  */
	const char *raw_dir;              /* --raw-dir                          */
	uint64_t workers;                 /* --workers: requests served at once, 0 = no limit */
};

struct stats {
	uint64_t requests, connections, dropped, reset;
	uint64_t open;                    /* connections open now               */
	uint64_t status[600];             /* responses sent, by status code     */
};

struct server;

struct backend {
	struct server *srv;
	char name[ADDR_STRLEN];           /* --name, or the bound address       */
	char addr_str[ADDR_STRLEN];       /* as bound: "127.0.0.1:40123"        */
	struct addr addr;
	int fd;                           /* listening socket, -1 once closed   */
	int raw_dirfd;                    /* --raw-dir opened, or -1            */
	struct opts o;
	struct rng rng;
	bool healthy;
	int health_phase;                 /* 0 before --unhealthy-after, 1 during --unhealthy-for */
	ev_timer health_timer;
	ev_timer delay_timer;             /* --delay-after WHEN                 */
	bool delay_switched;              /* the --delay-after delay is on      */
	ev_timer accept_timer;            /* pause after EMFILE                 */
	uint64_t next_conn_id;
	uint64_t busy;                    /* requests holding a worker now      */
	struct conn *queue_head, *queue_tail; /* requests waiting for a worker, oldest first */
	struct stats st;
};

struct conn;

struct server {
	ev_loop *loop;
	struct backend *be;
	size_t nbe;
	struct conn *conns;               /* every open connection (a list)     */
	size_t nconns;
	bool draining;                    /* SIGTERM seen: finish, then exit    */
	uint64_t grace_ms;
	ev_timer grace_timer;
	struct buf scratch;               /* builds bodies whose length must come first */
	struct buf leak_page;
	unsigned char *pattern;           /* what /bytes sends, repeated        */
};

#define PATTERN_LEN 65536u

/* ---- connections --------------------------------------------------------- */

enum conn_state {
	CS_READING,      /* parsing requests, answering each at once             */
	CS_QUEUED,       /* a request waits for a free worker (--workers)        */
	CS_DELAYED,      /* a request waits for its timer (--delay, /delay)      */
	CS_STREAMING,    /* a body is generated as the socket drains (/bytes)    */
	CS_DRIPPING,     /* a body goes out one byte per tick (/drip)            */
	CS_HANGING,      /* a request was read and will never be answered        */
	CS_CLOSING,      /* the last bytes are queued; close once they are sent  */
};

struct conn {
	struct conn *prev, *next;
	struct server *srv;
	struct backend *be;
	int fd;
	uint64_t id;                      /* X-Conn                             */
	uint64_t nreq;                    /* X-Conn-Request of the last request */
	enum conn_state state;
	bool has_worker;                  /* the request holds one of --workers  */
	struct conn *qprev, *qnext;       /* CS_QUEUED: the backend's queue     */
	char peer[ADDR_STRLEN];

	struct buf in, out;
	struct http_msg req;
	bool paused;                      /* parser stopped after a request     */
	bool collect_body, body_too_big;
	struct buf body;                  /* /echo's request body               */

	/* The request being answered. */
	struct route route;
	bool head_only;                   /* HEAD: headers, no body             */
	bool close_after;                 /* Connection: close on this response */
	bool peer_eof;                    /* the client sent FIN                */
	bool reset_on_close;              /* close with an RST                  */
	bool oom;                         /* an append failed: close            */
	const char *why;                  /* CS_CLOSING: why it will close      */

	/* Streaming and dripping bodies. */
	uint64_t left;                    /* body bytes still to generate       */
	uint64_t sent;                    /* body bytes generated so far        */
	size_t chunk;                     /* chunk size, 0 = not chunked        */
	uint64_t tick_ms;

	ev_timer timer;                   /* idle, delay or drip, by state      */
	uint64_t last_active_ns;
};

/* conn.c */
void conn_accept(struct backend *be, int fd, const struct addr *peer);
void conn_set_state(struct conn *c, enum conn_state s);
void conn_close(struct conn *c, const char *why);
/* Arms the connection's timer (CS_DELAYED, CS_DRIPPING) for ms from now. */
void conn_arm(struct conn *c, uint64_t ms);
/* The request is answered in full (head and body queued). */
void conn_response_done(struct conn *c);
/* SIGTERM: close what is idle, let the rest finish its current response. */
void conn_drain_all(struct server *srv);
void conn_close_all(struct server *srv, const char *why);

/* endpoints.c */
/* Answers c's current request (faults first, then the endpoint). */
void respond(struct conn *c);
/* Answers a request the parser refused (400, 414 or 431) and closes. */
void respond_parse_error(struct conn *c);
/* Queues more of a /bytes or /chunked body, up to about max bytes. */
void stream_more(struct conn *c, size_t max);
/* Queues the next byte of a /drip body, or the next piece of /leak?ms. */
void drip_one(struct conn *c);
/* Builds the /leak page once at start. */
int leak_page_build(struct buf *b);

#endif
