/*
 * proxy.h - the proxy core: one client connection, one server connection,
 * and the exchange (request + response) that links them, plus one function
 * per step of the seven-step flow.  Read it top to bottom:
 *
 *   step 1  accept.c    listeners, allow/deny, max-conns       client_new
 *   steps 1-2 limits.c  per-client limits (iplimit.c), refusals counted
 *   step 2  request.c   llhttp on the client side, limits, checks
 *   step 3  decide.c    route_pick, lb_pick, header edits
 *           inspect.c   security checks: the WAF's verdict (--waf)
 *   step 4  connect.c   connect or reuse a pooled connection
 *           retry.c     step 4 again: the retry rule, budget and backoff
 *   step 5  forward.c   request head, then the body, streamed
 *   step 6  response.c  llhttp on the server side, checks, telemetry
 *           screen.c    data-leak prevention on the body (--dlp)
 *           health.c    outlier ejection, active checks (--health-check)
 *   step 7  respond.c   back to the client, keep-alive or close
 *           client.c    the client connection's states (its table), teardown
 *           server.c    the server connection's states (its table), the pool
 *           scan.c      the raw head and chunk scanners (smuggling defences)
 *           errors.c    the one function that answers with an error
 *           logs.c      access log, --events
 *           mem.c       buffers for bytes in flight
 *
 * Ownership: a client owns the server connection attached to it (c->srv);
 * an idle server connection belongs to its server's pool.  Every function
 * that may free a connection returns -1 when it did: the caller must then
 * stop touching it.
 */
#ifndef PROXY_PROXY_H
#define PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "dlp.h"
#include "ev.h"
#include "http.h"
#include "net.h"
#include "rng.h"
#include "waf.h"

#define READ_MAX   (32 * 1024)   /* bytes per read(2)                               */
#define HIGH_WATER (64 * 1024)   /* output above this: stop reading the other side  */
#define LINGER_MS  2000          /* after an error answer, drain input this long    */
#define STOP_MS    5000          /* SIGTERM: how long in-flight requests may finish */
#define CHUNK_LINE_MAX 4096      /* a chunk-size line, or the trailers, at most     */
#define MAX_INTERIM 16           /* 1xx responses to one request; past it: 502 (a
                                    1xx storm never ends the response otherwise) */
#define MAX_FIELDS 100           /* header lines in a head (431; a response's: 502), as
                                    HAProxy's 101 and Apache's 100: per field, step 3
                                    looks through the others (Connection)           */

/* Scans a head (start line + header lines) for what llhttp 8 lets through
 * but an intermediary must refuse (RFC 9112): bare LF, bare CR, obs-fold,
 * control characters, and a head over max bytes, every byte counted (blank
 * lines and blanks too).  Bytes may come in pieces. */
struct head_scan {
	unsigned char prev;      /* the previous byte                  */
	bool line_start;         /* the next byte begins a line        */
	bool seen_line;          /* the start line has begun           */
	bool too_long;           /* the error is the size limit        */
	bool start_done;         /* the start line has ended           */
	size_t start_len;        /* its bytes (CRLF excluded)          */
	char start[16];          /* its first bytes (step 6 reads the status code there) */
	size_t bytes, max;       /* of the head so far; 0: no limit    */
	const char *error;       /* why the head was refused           */
};
void head_scan_init(struct head_scan *h);
/* The status code of a status line ("HTTP/1.1 200 OK", CRLF excluded) or
 * -1: RFC 9112 4 wants "HTTP/1.x", SP, three digits, then SP or the end,
 * where llhttp 8 reads any run of digits ("HTTP/1.1 0200" as 200).  Reads
 * line[0..12] only, so a kept prefix of a longer line will do. */
int status_line_code(const char *line, size_t len);
/* Returns 1 when the blank line ending the head was seen (*used = bytes up
 * to and including it), 0 when more bytes are needed (all n used), or -1
 * with h->error set (*used = the bytes before the one refused). */
int head_scan(struct head_scan *h, const char *p, size_t n, size_t *used);

/* Checks chunked framing (RFC 9112 7.1) byte by byte, since llhttp 8.1
 * takes any two bytes after chunk data for the CRLF: a smuggling vector.
 * A chunk-size line (extensions included) and the trailer section are
 * bounded by CHUNK_LINE_MAX bytes each.  A trailer field line must be
 * token ":" value CRLF (no obs-fold, bare CR or LF, control character);
 * the scanner marks those lines (hide) and the proxy drops them before
 * llhttp, which would merge Content-Length, Transfer-Encoding and
 * Connection from trailers into its framing state (RFC 9110 6.5.1 forbids
 * it): llhttp sees an empty trailer section. */
enum chunk_at { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
                CH_TRAILER_START, CH_TRAILER_NAME, CH_TRAILER_VALUE, CH_TRAILER_LF, CH_END_LF };
struct chunk_scan {
	enum chunk_at at;
	uint64_t left;           /* chunk-size, then data bytes still to come */
	unsigned digits;         /* of the chunk-size so far                 */
	unsigned line;           /* bytes of the size line or trailers so far */
	bool hide;               /* the bytes just scanned are trailer field lines */
	const char *error;
};
void chunk_scan_init(struct chunk_scan *cs);
/* Returns 1 when the body ended (*used = bytes up to its last byte), 0 when
 * more is needed or a run ends (*used bytes scanned: all n, or fewer where
 * trailer field lines begin or end), or -1 with cs->error set.  cs->hide
 * says whether the *used bytes are trailer field lines (drop them unread)
 * or framing for the parser; a run is never both. */
int chunk_scan(struct chunk_scan *cs, const char *p, size_t n, size_t *used);

/* ---- the connections' states ---------------------------------------------
 *
 * Each state has one row in a table (client.c, server.c): the seed's step,
 * a name, the poll interest, the timer that runs, and what its expiry does.
 * client_enter() and sconn_enter() are the only ways into a state, and
 * client_refresh() and sconn_refresh() the only places that set a mask or
 * arm a connection's timer: from the row, the buffers and the clock.
 * proxy.1 prints both tables (STATES). */
enum client_state {
	CS_IDLE,      /* 7: kept alive, waiting for a request                        */
	CS_HEAD,      /* 2: reading the request line and headers                     */
	CS_DECIDE,    /* 3: choosing a pool and server, editing the headers          */
	CS_INSPECT,   /* 3: --waf: reading the body up to the inspection limit        */
	CS_CONNECT,   /* 4: waiting for the server connection                        */
	CS_BACKOFF,   /* 4: a server failed; waiting a moment before the next one    */
	CS_BODY,      /* 5: head forwarded, streaming the request body              */
	CS_WAIT,      /* 6: request forwarded, the response is on its way           */
	CS_CLOSING,   /* 7: sending the last bytes, then close                       */
	CS_LINGER,    /* 7: output shut down; draining input briefly before close    */
};

enum server_state {
	SS_CONNECTING, /* 4: non-blocking connect in progress                         */
	SS_BUSY,       /* 5-6: carrying one exchange                                  */
	SS_IDLE,       /* 4: idle in its server's keep-alive pool                     */
};

/* Which timer a state runs.  Pending output to a client outranks its
 * state's timer: while the client has bytes of ours to take, TO_SEND. */
enum timeout {
	TO_NONE,      /* none here: the other connection is timed                   */
	TO_HEADER,    /* --timeout-header, from the request's first byte (or accept) */
	TO_IDLE,      /* --timeout-idle, from the last byte sent                     */
	TO_BODY,      /* --timeout-client without a byte; --timeout-body in all       */
	TO_SEND,      /* --timeout-client without the client taking a byte           */
	TO_LINGER,    /* LINGER_MS, from entering the state                          */
	TO_CONNECT,   /* --timeout-connect                                           */
	TO_SERVER,    /* --timeout-server without a byte, while the server owes one   */
	TO_POOL,      /* --timeout-pool                                              */
	TO_BACKOFF,   /* --retry-backoff: the wait before a retry, drawn at random    */
	TO_ATTEMPT,   /* --timeout-attempt, from this attempt's start (server side)   */
	TO_REQUEST,   /* --timeout-request, from the first attempt's (server side)    */
};

struct state {
	int step;                  /* the seed's step                               */
	const char *name;          /* for -v and proxy.1                            */
	int events;                /* poll interest (EV_READ, EV_WRITE); the buffers
	                              add EV_WRITE and take EV_READ away (back-pressure) */
	enum timeout timeout;
	int status;                /* on expiry: answer this (0: close; 504: the
	                              server failed, retried elsewhere if it may be) */
};
extern const struct state client_states[], server_states[];

struct client;

struct sconn {
	int fd;
	enum server_state state;
	enum timeout timeout;      /* the timer running (sconn_refresh)             */
	uint64_t t_io;             /* its start: the last byte moved, or the switch  */
	unsigned long id;
	struct server *server;
	struct client *client;     /* while SS_CONNECTING / SS_BUSY                  */
	struct addr local;         /* the proxy's side of this connection           */
	struct buf in, out;        /* allocated only while bytes are in flight      */
	struct http_msg resp;
	struct head_scan scan;
	struct chunk_scan chunks;
	ev_timer timer;
	struct sconn *next, *prev; /* in the server's idle pool                    */
	bool reused;               /* taken from the pool for this exchange          */
	bool eof;                  /* the server closed its side                     */
	uint64_t sent, received;   /* bytes of this exchange                        */
	uint64_t nreq;             /* exchanges carried so far                      */
};

/* STEP 3, --waf: one request's inspection (inspect.c). */
struct inspection {
	enum waf_mode mode;        /* WAF_OFF: not inspected                        */
	struct waf_tx *tx;         /* until the verdict                             */
	struct buf held;           /* body bytes read before the verdict (step 5
	                              sends them ahead of the rest)                 */
	bool enough;               /* the engine has all the body it inspects       */
	bool whole;                /* the whole body was read before the verdict    */
	bool continued;            /* we answered Expect: 100-continue ourselves    */
	enum waf_action action;    /* the verdict                                   */
	unsigned long rule;        /* the rule that found the attack (0: none)      */
	char var[64];              /* where it was: "ARGS:id" ("..." ends a cut one) */
	uint64_t ns;               /* the engine's time                             */
};

/* STEP 6, --dlp: one response's screening (screen.c). */
struct screening {
	struct dlp *scan;          /* NULL: the body is not scanned                 */
	struct buf head;           /* --dlp block: the response head, held until
	                              the verdict (x->status stays 0 until then)     */
	int status;                /* ... and its status                           */
	const char *unscanned;     /* why a text body went out unscanned            */
	const char *refused;       /* why the response is refused with 502          */
	uint64_t ns;               /* the scanner's time                            */
};

/* Response framing toward the client. */
enum frame { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

/* One request and its response. */
struct exchange {
	char id[72];               /* X-Request-ID: the client's, or ours          */
	bool id_is_ours;
	bool req_chunked;          /* forward the body chunked                      */
	bool req_complete;         /* the whole request was read                   */
	bool keep_alive;           /* the client may send another request           */
	bool counted;              /* server->inflight was incremented              */
	bool head_forwarded;       /* step 5 has queued the head once               */
	bool reused;               /* on a pooled server connection                  */
	bool logged;               /* its access-log line is written                 */
	int retries;               /* times step 4 was done again (access log)        */
	unsigned retry_after;      /* an error answer's Retry-After, seconds (0: none) */
	int interim;               /* 1xx responses relayed (MAX_INTERIM)             */
	bool race_retried;         /* one of them was the keep-alive race's            */
	bool discarded;            /* --retry-on: this response goes no further        */
	bool active;               /* counted in pool->active (the retry budget)      */
	bool retrying;             /* counted in pool->retrying: past its first try    */
	struct server *tried[RETRIES_MAX + 1];   /* the servers tried, in order   */
	unsigned ntried;
	enum client_state resume;  /* CS_BACKOFF: the state to go back to            */
	struct buf resend;         /* CS_BACKOFF: the bytes to send when it ends      */
	uint64_t t_retry;          /* CS_BACKOFF: when it ends (loop clock)            */
	uint64_t t_first, t_attempt; /* the first attempt's start, this one's (loop
	                              clock): --timeout-request, --timeout-attempt   */
	enum frame frame;          /* how the response body goes to the client      */
	int status;                /* status sent to the client (0: nothing yet)     */
	uint64_t req_body;         /* request body bytes read                       */
	uint64_t resp_bytes;       /* bytes sent toward the client                   */
	struct pool *pool;
	const struct route *route; /* the route step 3 took (NULL: the default pool) */
	struct server *server;
	struct buf head;           /* the edited request head, until the response   */
	uint64_t t_body;           /* its body began to be read (loop clock), for
	                              --timeout-body across CS_INSPECT and CS_BODY   */
	struct inspection waf;     /* step 3, --waf                                 */
	struct screening dlp;      /* step 6, --dlp                                 */
	char err[160];             /* why it failed, for the log                     */
	/* ev_mono_ns() (a vDSO read, no system call), not the loop's cached
	 * clock, so steps within one turn of the loop get their own times:
	 * always for t_sent, t_resp and t_end (the time to first and last
	 * byte: --balance ewma, --admin), for the others when a log shows
	 * them (step_time); 0 = did not happen */
	uint64_t t_start, t_head, t_decide0, t_decided, t_connect0, t_connected,
	         t_sent, t_resp, t_end;
};

typedef int pace_fn(struct client *c);

struct client {
	int fd;
	enum client_state state;
	enum timeout timeout;      /* the timer running (client_refresh)           */
	uint64_t t_state, t_io;    /* entered the state; the last byte moved, or
	                              the timer's switch (loop clock)             */
	unsigned long id;
	struct addr peer, local;
	char peer_s[ADDR_STRLEN];
	struct buf in, out;
	struct http_msg req;
	struct head_scan scan;
	struct chunk_scan chunks;
	ev_timer timer;            /* the state's timer (see the table)             */
	ev_timer pace;             /* --pace: the next step waits for this          */
	pace_fn *pace_next;
	struct sconn *srv;
	struct exchange x;
	bool read_eof;             /* the client shut down its side                  */
	uint64_t t_rate, rate_mark; /* --min-body-rate: the window's start, and the
	                              body bytes read by then (client_deadline)      */
	uint64_t t_accept;         /* step 1's time, until the first request uses it */
	struct client *next, *prev;
	struct client *idle_next, *idle_prev;   /* kept alive, idle: oldest first */
};

struct listener {
	int fd;
	struct addr addr;
};

/* What the security checks did: SIGUSR1, --admin's /stats and /metrics. */
struct security_stats {
	uint64_t waf_passed, waf_detected, waf_blocked;   /* requests judged        */
	uint64_t dlp_scanned;      /* response bodies scanned                       */
	uint64_t dlp_leaking;      /* ... with at least one match                   */
	uint64_t dlp_blocked;      /* responses refused with 502 (a match, over the
	                              block limit, or compressed with --dlp-compressed block) */
	uint64_t dlp_unscanned;    /* compressed text bodies forwarded unscanned    */
	uint64_t dlp_found[DLP_NTYPES];   /* matches by type                        */
};
/* Why a client was refused at step 1 (its connection closed at once) or at
 * step 2 (its request answered 429 or 408): the defences against clients
 * that take too much, counted in P.refused and told as "limit" events. */
enum refusal {
	REFUSE_DENY,            /* 1: the allow/deny lists (the "deny" event)        */
	REFUSE_MAX_CONNS,       /* 1: --max-conns, and no idle client to make room   */
	REFUSE_CONNS_PER_IP,    /* 1: --max-conns-per-ip                             */
	REFUSE_CONN_RATE,       /* 1: --conn-rate-per-ip                             */
	REFUSE_TABLE_FULL,      /* 1: the limits' table is full of open groups       */
	REFUSE_REQ_RATE,        /* 2: --req-rate-per-ip: 429 with Retry-After        */
	REFUSE_TIMEOUT_HEADER,  /* 2: --timeout-header: headers too slow (slowloris) */
	REFUSE_BODY_STALLED,    /* 2: --timeout-client: no body byte (408)           */
	REFUSE_MIN_BODY_RATE,   /* 2: --min-body-rate: a body too slow (slow POST)   */
	REFUSE_TIMEOUT_BODY,    /* 2: --timeout-body: a body too long in all (408)   */
	REFUSE__COUNT
};
struct refusal_info {
	int step;
	const char *name;          /* the flag that refused: "max-conns-per-ip"      */
};
extern const struct refusal_info refusals[REFUSE__COUNT];

/* The process: one loop, one configuration, the live connections. */
struct proxy {
	ev_loop *loop;
	struct config *cfg;
	struct listener *listeners;
	size_t nlisteners;
	struct client *clients;
	size_t nclients;
	struct client *idle_first, *idle_last;  /* kept-alive idle clients, oldest first */
	unsigned long next_conn;
	uint64_t next_req;
	uint32_t id_prefix;
	bool stopping;
	bool accepting;
	ev_timer accept_timer;     /* EMFILE back-off                                */
	ev_timer stop_timer;       /* SIGTERM: bounded wait                          */
	ev_timer flush_timer;      /* writes the log buffers once per loop turn      */
	int log_fd, events_fd;     /* -1 = off                                       */
	struct buf log, events;
	struct buf why;            /* lb_pick's reason, reused                      */
	struct waf *waf;           /* the rule set, when some requests are judged    */
	struct buf scratch;        /* screen.c's output before it is framed, reused */
	struct security_stats sec;
	struct iplimit *limits;    /* the per-client table; NULL: no such limit       */
	uint64_t refused[REFUSE__COUNT];   /* steps 1-2: refusals by reason (limits.c) */
};
extern struct proxy P;

/* mem.c: READ_MAX buffers, cached while idle connections hold none */
void mem_prime(struct buf *b);
void mem_release(struct buf *b);
/* The same for the storage of a request's parsed head (small ones are
 * cached, big ones freed): taken when a request begins, given back when
 * its client is idle. */
void mem_prime_head(struct http_msg *m);
void mem_release_head(struct http_msg *m);
void mem_free_all(void);

/* client.c: the client connection's life (the table, proxy.h above) */
void client_enter(struct client *c, enum client_state st);
/* Sets c's poll mask and timer from its state and buffers, and its server
 * connection's; every handler ends with it.  Handlers only queue bytes:
 * the loop writes them when it next finds the socket writable. */
void client_refresh(struct client *c);
/* Runs fn now, or after --pace milliseconds. */
int pace(struct client *c, pace_fn *fn);
/* A client with nothing in flight gives its buffers back, or closes when
 * the proxy stops or the client has shut down its side.  Returns -1 if c
 * is gone. */
int client_rest(struct client *c);
/* --max-conns reached: closes the client idle the longest; false if none. */
bool client_reclaim_idle(void);
/* The exchange lets go of its server: the connection (mid-exchange, not
 * reusable) is closed for why, the counts given back (exchange_uncount). */
void exchange_release(struct client *c, const char *why);
/* The client shut down its side before its request was whole: the
 * request is given up (its server connection closed), what is queued for
 * the client (answers to its earlier, pipelined requests) still goes out,
 * then the connection closes.  Returns -1 if c is gone. */
int client_abandon(struct client *c, const char *why);
/* The response under way is cut short (the server failed mid-way): what
 * was relayed goes out first (one best-effort write), so the client sees
 * a truncated response rather than none; a client reading the body to the
 * close (HTTP/1.0) gets a reset, not a FIN that would look like its end.
 * Then client_close; returns -1. */
int client_cut(struct client *c, const char *why);
/* Frees c and its server connection (the access-log line of a request
 * under way first); always "returns" -1 for callers. */
int client_close(struct client *c, const char *reason);
/* Arms t for when, unless it fires earlier already (its callback then
 * finds the deadline not due and arms again); when 0 leaves it be. */
void timer_set(ev_timer *t, uint64_t when, ev_timer_fn *fn, void *arg);
/* In t's callback: true when the deadline when has come; false when none
 * runs (0: the timer was left from an earlier state) or it is later (t is
 * armed again for it). */
bool timer_due(ev_timer *t, uint64_t when, ev_timer_fn *fn, void *arg);
extern const char *const timeout_names[];

/* server.c: the server connection's life and the pool (the table above) */
void sconn_enter(struct sconn *s, enum server_state st);
void sconn_refresh(struct sconn *s);
void sconn_close(struct sconn *s, const char *reason);
void pool_unlink(struct sconn *s);
void pool_put(struct sconn *s);
void pool_close_all(void);

/* step 1: accept.c */
/* A client on the connected socket fd (taken: closed on failure), peer
 * its address; NULL if it could not be set up. */
struct client *client_new(int fd, const struct addr *peer);
int accept_start(void);
void accept_announce(void);
void accept_stop(void);
void accept_update(void);

/* steps 1-2: limits.c, the per-client limits */
/* Allocates the table when a per-client limit is set.  0, or -1 (said why). */
int limits_start(void);
void limits_stop(void);
/* STEP 1: may a client at peer connect?  True: it is counted (call
 * limits_disconnect once when it closes); false: refused, counted and told
 * (the caller closes the socket). */
bool limits_connect(const struct addr *peer);
void limits_disconnect(const struct addr *peer);
/* STEP 2: may c send this request?  False: refused, with x->err and
 * x->retry_after set for the 429 the caller answers. */
bool limits_request(struct client *c);
/* Counts a refusal and writes its event, "limit" ("deny" for the lists),
 * with the reason, the client's group, retry_after (0: none) and detail
 * (NULL: none).  c: NULL before step 1 made one; peer then says who. */
void refuse(struct client *c, const struct addr *peer, enum refusal why, unsigned retry_after, const char *detail);

/* step 2: request.c */
extern const struct http_hooks request_hooks;
void client_on_io(ev_loop *loop, int fd, void *arg, int mask);
int client_process(struct client *c);
/* A new exchange: forget the last one, wait for the next request (CS_IDLE). */
void request_begin(struct client *c);
/* The checks on a complete request head: 0, or the status to answer with
 * and *why.  Pure: reads only req. */
int request_check(const struct http_msg *req, uint64_t max_body, const char **why);
/* The framing rules requests and responses share (RFC 9112 6): one
 * Content-Length at most and not with Transfer-Encoding, whose codings are
 * chunked once and last, never in HTTP/1.0.  0, or 400 (501: a coding other
 * than chunked) with *why. */
int framing_check(const struct http_msg *m, const char **why);

/* step 3: decide.c, then inspect.c */
struct edit {
	const char *client_ip;
	uint16_t client_port;
	bool ipv6;
	const char *name;          /* for Via and Forwarded by=                     */
	const char *id;            /* X-Request-ID to add, or NULL to keep theirs   */
	const char *host;          /* Host to send instead of theirs (NULL: theirs),
	                              added when the request has none                */
	bool chunked;              /* re-frame the body as chunked                   */
	bool drop_expect;          /* we answered Expect: 100-continue ourselves     */
	bool identity;             /* --dlp: ask for Accept-Encoding: identity       */
};
int step3_decide(struct client *c);
/* STEP 3 after the WAF's verdict (or without one): a server of the pool,
 * and the request edited for it. */
int step3_choose(struct client *c);
/* Writes the request head the server receives: hop-by-hop headers removed,
 * forwarding headers added.  Returns 0, or -1 on ENOMEM. */
int edit_request_head(const struct http_msg *req, const struct edit *e, struct buf *out);
/* Appends "name: value\r\n"; 0, or -1 on ENOMEM. */
int put_header(struct buf *out, const char *name, const char *value);
/* The same for header i of m, as it came. */
int copy_header(struct buf *out, const struct http_msg *m, size_t i);
/* True if header name (len bytes) must not be forwarded (hop-by-hop, RFC 9110 7.6.1).
 * A Connection token never removes Content-Length or Host. */
bool hop_by_hop(const struct http_msg *m, const char *name, size_t len);
/* True if id may be passed on as an X-Request-ID (short, visible ASCII). */
bool request_id_ok(const char *id);

/* step 3, security checks: inspect.c */
/* Loads the rule set when some requests are to be judged: 0, or -1 after
 * saying why in one line. */
int inspect_start(void);
void inspect_stop(void);
/* STEP 3: the WAF judges the request (mode: the route's, or --waf). */
int step3_inspect(struct client *c, enum waf_mode mode);
/* A body piece read in CS_INSPECT: held, and inspected up to the limit. */
int inspect_body(struct client *c, const char *at, size_t len);
/* The body is read up to the limit (or whole): the verdict, then 403 or
 * step3_choose. */
int inspect_verdict(struct client *c);
/* Step 5: appends the held body to out, framed as the server gets it. */
int inspect_forward(struct client *c, struct buf *out);
void inspect_free(struct inspection *w);

/* step 4: connect.c */
int step4_connect(struct client *c);
/* An attempt on x->server: an idle connection to it if there is one, else
 * a new one (connect_new); out (may be NULL) is what to send on it, taken.
 * 0, or -1 if c is gone. */
int connect_to(struct client *c, struct buf *out);
int connect_new(struct client *c, struct buf *out);
/* The request ends or lets go of its server: it leaves the server's
 * in-flight count and its pool's (the retry budget's). */
void exchange_uncount(struct client *c);

/* step 4 again: retry.c */
/* The one rule for sending a request again: nothing reached the client, and
 * none of the request went out on s (NULL: connect(2) failed at once), or it
 * is replayable with its head still held.  race: the keep-alive race's one
 * retry on a fresh connection to the same server (not counted).  Else
 * another server: --retries left, one not tried yet, the retry budget
 * (--retry-budget), --timeout-request not passed, not while stopping.
 * Returns NULL when it may, or why not ("the retry budget is spent"). */
const char *retry_refusal(const struct client *c, const struct sconn *s, bool race);
static inline bool may_retry(const struct client *c, const struct sconn *s, bool race)
{
	return retry_refusal(c, s, race) == NULL;
}
/* A retry was refused (why, from retry_refusal): counted when the budget
 * refused it, and told (event "retry-refused") when --retries allowed one. */
void retry_refused(struct client *c, const char *why);
/* CS_BACKOFF is over: step 4 again, on the server picked (client.c's timer). */
int retry_resume(struct client *c);
/* The keep-alive race's retry on a fresh connection (see retry.c). */
int server_retry(struct sconn *s);
/* STEP 4 again on another server of the pool (--retries), when x->server
 * failed before its response and retry_refusal allows it, after a backoff:
 * 1 when started, 0 when not, -1 if c is gone.  s: the failed connection,
 * or NULL with out the bytes a failed connect(2) was to send; out is always
 * taken. */
int retry_elsewhere(struct client *c, struct sconn *s, struct buf *out, const char *why);
/* An idempotent method (GET, HEAD, OPTIONS, PUT, DELETE, TRACE; RFC 9110
 * 9.2.2) and no body: the request may be sent twice. */
bool request_replayable(const struct client *c);
void sconn_on_io_connecting(struct sconn *s);

/* step 5: forward.c */
int step5_forward(struct client *c);
int sconn_flush(struct sconn *s);
int request_on_body(struct http_msg *m, const char *at, size_t len);
int request_on_complete(struct http_msg *m);
/* The whole request is out (or queued): wait for the response (CS_WAIT). */
int request_sent(struct client *c);

/* step 6: response.c */
void sconn_on_io(ev_loop *loop, int fd, void *arg, int mask);
extern const struct http_hooks response_hooks;
/* The server failed before or during its response: retry, answer an
 * error, or cut the client off.  Returns -1 (c and s are gone) or 0. */
int server_failed(struct sconn *s, int status, const char *why);
/* x->server failed before its response: counted for passive health and
 * ewma, then the request is retried elsewhere or answered with status.  s
 * and out as for retry_elsewhere.  Returns -1 (c is gone) or 0. */
int exchange_failed(struct client *c, struct sconn *s, struct buf *out, int status, const char *why);
int response_check(const struct http_msg *resp, const struct head_scan *scan, const char **why);
/* Queues a piece of the response body for the client, framed. */
int relay_body(struct client *c, const char *at, size_t len);
/* Writes the response head the client receives: hop-by-hop headers
 * removed, Via and X-Request-ID id (NULL: none) added, framed as frame
 * says; conn 0 adds "Connection: close", 1 nothing, 2 "Connection:
 * keep-alive" (HTTP/1.0 clients). */
int edit_response_head(const struct http_msg *resp, enum frame frame, const char *name, const char *id,
                       int conn, struct buf *out);

/* step 6, data-leak prevention: screen.c */
/* The response head arrived: decides whether its body is scanned.  Returns
 * where the head goes (c->out, or in block mode a buffer held until the
 * verdict), or NULL when the response is refused (x->dlp.refused). */
struct buf *screen_head(struct client *c, const struct http_msg *resp);
/* A body piece: scanned, then relayed as the mode says.  -1: refused
 * (x->dlp.refused) or out of memory. */
int screen_body(struct client *c, const char *at, size_t len);
/* The body ended: the held-back bytes, the step-6 event. */
int screen_end(struct client *c);
/* Answers 502 for a refused response (x->dlp.refused). */
int screen_refuse(struct client *c);
void screen_free(struct screening *d);
/* health.c: whether a server takes requests (step 6 feeding step 3) */
/* Outlier ejection: srv failed (why), c's request (NULL: none); or a
 * response from srv ends its run of failures (called only when srv->fails
 * > 0: the hot path pays one test). */
void health_failed(struct client *c, struct server *srv, const char *why);
void health_ok(struct server *srv);
/* Starts the active checks (--health-check) and the re-admission timer;
 * health_stop closes their connections.  0, or -1 on ENOMEM. */
int health_start(void);
void health_stop(void);
/* "up", "ejected" (*left: seconds to go) or "down" (checks failing). */
const char *health_state(const struct server *s, uint64_t now, uint64_t *left);

/* step 7: respond.c */
int client_flush(struct client *c);
int step7_done(struct client *c);
int chunk_append(struct buf *b, const char *at, size_t len);

/* errors.c */
int client_error(struct client *c, int status, const char *why);
/* The same with one more line of text in the body: detail must be safe to
 * show (no bytes of the request). */
int client_refuse(struct client *c, int status, const char *why, const char *detail);

/* logs.c */
int logs_open(void);
/* SIGHUP: writes what is buffered, then opens --access-log and --events
 * anew (logrotate moved the old files away); stdout/stderr are kept. */
void logs_reopen(void);
void logs_close(void);
void log_access(struct client *c);
/* --events: event_begin writes {"t":..,"id":..,"step":N,"event":NAME,"client":..
 * and returns the buffer to add fields to (NULL when --events is off);
 * event_end closes the line.  Without a client (c NULL: health.c's events)
 * the id is "" and conn and client are left out. */
struct buf *event_begin(struct client *c, int step, const char *name);
/* The same for a client step 1 refused (no connection, no request: id is
 * empty, no conn). */
struct buf *event_begin_peer(const char *peer, int step, const char *name);
void event_str(struct buf *b, const char *key, const char *val);
void event_num(struct buf *b, const char *key, double v);
void event_bool(struct buf *b, const char *key, bool v);
void event_end(struct buf *b);
void logs_flush_soon(void);
double ms_between(uint64_t a, uint64_t b);
/* When a step happened, for the times only the access log and --events
 * show (req_hdr, decide, connect, total): a fresh clock read when one of
 * them is on, else the loop's clock, read once per turn (timeout-header
 * counts from t_start, and needs no better). */
uint64_t step_time(void);

#endif
