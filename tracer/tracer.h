/*
 * tracer.h - the tracer's shared state: who is who (the proxy, the
 * backends), the TCP connections seen, the requests they carry, the
 * attempts at a backend that forward them, and the labelled packets
 * waiting to be printed.
 *
 * The flow of one packet:
 *   capture.c   reads a frame (live or from a file)
 *   decode.c    finds the TCP segment in it
 *   tcp.c       finds its connection and labels it (label.c: its step)
 *   stream.c    reassembles each direction (reordering-safe), feeds llhttp
 *   correlate.c ties a backend attempt to the client request it forwards,
 *               checked against the response that reached the client (match.c)
 *   output.c    holds it until its request is known, then hands it to a
 *               printer: timeline.c, json.c, summary.c, mermaid.c, html.c,
 *               and pcapng.c for -w
 *   trace.c     memory: what is finished is printed and freed as it goes,
 *               so a long live capture runs in flat memory
 */
#ifndef TRACER_TRACER_H
#define TRACER_TRACER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

#include "buf.h"
#include "http.h"
#include "net.h"

#include "decode.h"

/* ---- roles --------------------------------------------------------------- */

/* An address from the command line: a port alone (any address) or
 * ADDR:PORT, with the name given to it (NAME=ADDR:PORT), if any. */
struct role_addr {
	bool any_ip;
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;
	char name[64];
};

/* A backend as seen on the wire: its exact address, and the name shown. */
struct backend {
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;
	char name[64];
	bool fixed_name;        /* named on the command line: X-Backend does not rename it */
	char addr[ADDR_STRLEN]; /* "127.0.0.11:9001" */
};

/* ---- a response's fingerprint (match.c) ----------------------------------- */

#define FP_PAIRS 24

/* What a response looks like, to tell which backend response reached
 * which client: status, header values the proxy passes unchanged, body
 * length and a hash of the body's start. */
struct fingerprint {
	int status;
	bool head, done;             /* head seen; body complete */
	bool full;                   /* headers and body noted, not only the status */
	uint8_t npairs;
	uint32_t pairs[FP_PAIRS][2]; /* hash of the lower-case name, hash of the value */
	uint64_t body_len;
	uint64_t body_hash;          /* FNV-1a of the first FP_BODY_HASHED bytes */
};

/* ---- requests and attempts ------------------------------------------------ */

/* How an attempt at a backend was tied to a client request (strongest first). */
enum corr {
	CORR_NONE,
	CORR_REQUEST_ID,        /* the same X-Request-ID on both sides               */
	CORR_FORWARDED,         /* Forwarded: for="IP:PORT" names the client          */
	CORR_EVENTS,            /* the proxy's --events tie the id to the client      */
	CORR_XFF,               /* X-Forwarded-For / X-Real-IP: the only client at that IP */
	CORR_RESPONSE,          /* the response the client got is this attempt's      */
	CORR_TARGET,            /* "only": the only waiting request (with this method and target) */
	CORR_ORDER,             /* inferred: order and timing, nothing else settles it */
};

struct conn;
struct request;

/* One attempt at a backend: a request on a backend connection, or a
 * connection that carried none (refused, or closed before a request). */
struct xchg {
	struct request *req;         /* the client request it forwards; NULL: the proxy's own */
	struct conn *conn;
	uint32_t idx;                /* message index on conn */
	enum corr how;
	uint8_t attempt;             /* 1, or 2... for a retry */
	bool final;                  /* the tie will not change any more */
	bool health;                 /* a request no client sent (a health check) */
	bool no_request;             /* the connection carried no request */
	bool failed;                 /* closed or reset before a response */
	bool resp_lost;              /* bytes were lost where its response would be */
	bool reused;                 /* on a connection that carried a request before */
	bool printed;                /* its first packet was printed (output.c) */
	uint8_t o_noted;             /* bit n: the timeline explained its step n */
	uint32_t key;                /* hash of method and target */
	char *id;                    /* X-Request-ID of the forwarded request */
	struct buf names;            /* its header names, '\n'-separated */
	char *diff;                  /* "+Via -Connection": set by output.c, reset on a swap */
	struct fingerprint fp;       /* the backend's response */
	struct xchg *tprev, *tnext;  /* the tentative list: order guesses not yet checked */
	bool in_tentative;
};

/* One client request, numbered in the order requests arrive at the proxy. */
struct request {
	uint32_t num;
	uint32_t refs;               /* client slot, attempts, pending list, guesses */
	struct conn *cc;             /* the client connection (NULL once it is freed) */
	char client[ADDR_STRLEN];    /* its "IP:PORT" */
	char *method, *target;       /* from the request line */
	char *id;                    /* X-Request-ID, once known */
	char *reason;
	struct buf names;            /* the client's header names, '\n'-separated */
	uint32_t key;                /* hash of method and target */
	int status;                  /* the response's status, 0 before it */
	struct xchg *x;              /* the latest attempt at a backend */
	bool x_gone;                 /* it was freed (its connection moved on) before the client's response: */
	bool x_failed;               /* what check_tie needs of it */
	int x_status;
	struct backend *be;          /* the server of x, kept once x is freed */
	struct backend *tried;       /* a server tried for it without a request sent */
	enum corr how;
	uint8_t attempts;
	uint8_t guessed;             /* open backend connections guessed to be for it */
	bool head_done, settled, answered, proxy_made, refused, reused, in_pending, retry_wait;
	bool o_skip;                 /* outside --requests: not printed */
	struct request *pprev, *pnext;   /* the pending list: waiting to be forwarded */
	struct request *id_next;     /* the by-id hash chain */
	uint64_t t_head;             /* when its head was complete (capture time) */
	struct fingerprint fp;       /* the response the client got */

	/* Times filled as its packets are printed (output.c), for --summary. */
	uint64_t o_first, o_syn, o_hs_end, o_first2, o_last2, o_first_be, o_hs4_end, o_last6;
	uint64_t o_first7, o_last7, o_last;
	uint32_t o_seen_steps;       /* bit n: a packet of step n was printed */
	bool o_decided;
	double o_decide_ms;
};

/* ---- connections --------------------------------------------------------- */

enum conn_kind { CONN_CLIENT, CONN_BACKEND };
enum { UP = 0, DOWN = 1 };   /* UP: from the side that connected (client, or proxy to a backend) */

struct seg;   /* bytes waiting for a gap before them to fill (stream.c) */

/* One direction of a connection: its reassembly and its HTTP parser. */
struct half {
	bool seen;                   /* a segment went this way             */
	bool fin;                    /* a FIN went this way, at fin_seq     */
	bool sent;                   /* bytes went this way                 */
	uint32_t isn;                /* first sequence number (the SYN's)   */
	uint32_t next;               /* next byte to parse: moves only with bytes parsed */
	uint32_t fin_seq;
	uint32_t acked;              /* the peer acknowledged up to here (if ahead of next) */
	bool gap;                    /* bytes before held data or an ACK are missing */
	uint64_t gap_ts, gap_wall;   /* since when (capture and wall-clock time) */
	struct half *gnext, *gprev;  /* the trace's list of open gaps */
	struct seg *ooo;             /* held segments, by sequence number   */
	size_t ooo_bytes, ooo_segs;
	struct http_msg msg;
	bool http_on;                /* parser initialised                  */
	bool http_dead;              /* not HTTP (or the connection is over): stop parsing */
	bool lost;                   /* bytes were lost: parse again from the next message start */
	uint32_t heads;              /* message heads completed             */
	bool head_in_feed;           /* a head completed in the current feed */
	bool interim_in_feed;        /* a 1xx head completed in the current feed */
	int64_t head_body;           /* its body: Content-Length, -1 chunked, -2 none or unknown */
	uint64_t start_serial;       /* the record of the segment that started the current message */
	uint32_t body_hashed;        /* bytes of the current body hashed so far */
	struct conn *conn;           /* back-pointer for the llhttp hooks   */
};

/* What a connection knows about message i (i >= base). */
struct slot {
	struct request *req;         /* client connection: the request      */
	struct xchg *x;              /* backend connection: the attempt     */
	bool head_method;            /* the request was a HEAD: its response has no body */
};

struct conn {
	struct conn *hnext;          /* hash chain                          */
	struct conn *prev, *next;    /* the trace's list of connections     */
	uint32_t num;                /* per-trace connection number         */
	enum conn_kind kind;
	struct backend *be;          /* CONN_BACKEND: which backend         */
	uint8_t family;
	uint8_t ip[2][16];           /* [UP] the side that connected, [DOWN] the server */
	uint16_t port[2];
	char addr[2][ADDR_STRLEN];   /* the same, "IP:PORT"                 */
	struct half h[2];
	enum { HS_NONE, HS_SYN, HS_SYNACK, HS_DONE } hs;
	bool syn_seen;
	bool done;                   /* closed (both FINs, or a RST)        */
	bool in_hash;
	bool refused;                /* client connection closed by the proxy at step 1 */
	bool lossy;                  /* the capture lost (or held back) bytes of it: ties on it are unsure */
	int closer;                  /* -1, UP or DOWN: who closed first    */
	bool reset;
	uint64_t t_syn, t_done;      /* capture times                       */
	struct slot *slots;          /* message base + i                    */
	uint32_t base, nslots, capslots;
	struct request *guess;       /* CONN_BACKEND: the request guessed at its SYN */
	bool guess_sole;             /* it was the only request waiting then */
	uint32_t refs;               /* records still queued that point here */
};

/* ---- labelled packets ---------------------------------------------------- */

enum rec_kind { KIND_NONE, KIND_HEALTH, KIND_PROXY_RESPONSE, KIND_INTERIM, KIND_REFUSED };

/* One packet, labelled, waiting in the output queue. */
struct rec {
	uint64_t serial;             /* position in the queue since the start */
	uint64_t frame, ts_ns, arrival_ns;
	struct conn *conn;           /* NULL: not part of the trace (kept for -w) */
	uint32_t idx;                /* message index on conn: which request */
	uint32_t low;                /* the connection needs no message below this any more */
	uint32_t seq, ack, len;
	uint8_t flags, step, dir;    /* dir: UP or DOWN                      */
	uint8_t kind;                /* enum rec_kind, when known at capture time */
	bool close, reset, reuse, retrans, ooo, msg_start, forced, pending, head_pending;
	char summary[136];           /* a first line of at most 100 bytes, and "(N B)" */
	uint8_t *frame_data;         /* -w only: the captured frame          */
	uint32_t frame_len, wire_len;
	char *head;                  /* --html only: the message head it starts */
};

/* ---- the whole trace ----------------------------------------------------- */

/* Requests answered before an attempt was seen (its bytes held behind a
 * gap, or lost) stay findable by exact evidence for a while. */
#define ORPHANS 256

enum out_mode { OUT_TIMELINE, OUT_JSON, OUT_SUMMARY, OUT_MERMAID, OUT_HTML };

struct events;
struct pcapng;
struct summary;
struct html;
struct mermaid;

struct trace {
	/* configuration */
	struct role_addr proxy;
	struct role_addr *bcfg;      /* --backends / --backend, in order */
	size_t nbcfg;
	char proxy_name[64];         /* --name NAME: the proxy's name, as proxy --name */
	struct { struct addr a; char *name; } *names;   /* --name ADDR:PORT=NAME (older form) */
	size_t nnames;
	enum out_mode mode;
	bool color, line_buffered, step_mode, fenced;
	bool discard;                /* stopped during --step: print no more packets */
	unsigned width;              /* a terminal's width: timeline lines are cut to it (0: no cut) */
	uint32_t req_lo, req_hi;     /* --requests (0, 0: all) */
	const char *source;          /* interface or file name, for the header */
	const char *html_path;
	struct events *events;
	struct pcapng *pcapng;
	FILE *out;
	int step_fd;                 /* --step: where Enter is read from */
	volatile bool *stop;         /* set to end the run (a signal during --step) */

	/* backends seen */
	struct backend **bes;
	size_t nbes;

	/* connections */
	struct conn **table;
	size_t table_size, nconns_live;
	struct conn *conns;          /* open connections */
	struct conn *closed, *closed_tail;   /* closed ones, oldest first, freed once printed */
	uint32_t nconns, nclient_conns, nbackend_conns;

	/* requests and attempts */
	uint32_t nreqs;              /* requests numbered so far */
	size_t live_reqs;            /* not freed yet */
	struct request *p_head, *p_tail;   /* pending: heads seen, waiting to be forwarded */
	struct request *orphans[ORPHANS];  /* answered before any attempt was seen, newest last */
	size_t norphans;
	uint64_t parse_ts;           /* capture time of the bytes being parsed (stream.c) */
	struct xchg *t_head;         /* tentative attempts (correlate.c) */
	struct request **by_id;      /* live requests by X-Request-ID (correlate.c) */
	size_t by_id_size, by_id_count;
	struct half *gaps;           /* directions waiting for missing bytes (stream.c) */

	/* output queue: a ring of records */
	struct rec *q;
	size_t qcap, qhead, qlen;
	uint64_t q_serial;           /* serial of q[qhead] */
	uint64_t first_ts, last_ts;
	uint64_t now_wall_ns;        /* live: the wall clock when the batch was read */
	uint64_t paused_ns;          /* wall time spent in --step pauses */
	bool have_first;

	/* counters */
	uint64_t packets, labelled, retrans, ooo, undecoded, fragments, backend_reuses;
	uint64_t retries, health_checks, proxy_responses, refused;
	uint64_t fwd_loss_ts;        /* when bytes proxy -> backend were last lost (capture time) */

	/* output state (output.c and the printers) */
	struct request *last_printed_req;
	const struct conn *last_printed_conn;
	int last_printed_group;      /* 0 none yet, 1 a request, 2 outside, 3 health */
	uint8_t last_step;
	struct request *last_step_req;
	struct buf line;
	uint64_t last_flush_wall;
	struct summary *summary;
	struct mermaid *mm;
	struct html *html;
};

/* tcp.c: one captured frame, decoded as d into p (decode.h): numbered
 * frame, stamped ts_ns, counted, and traced (trace_packet) if it is a TCP
 * segment, else kept for -w only (trace_other).  raw/rawlen/wirelen are
 * the whole frame. */
void trace_frame(struct trace *t, enum decode_result d, struct pkt *p, uint64_t frame, uint64_t ts_ns,
                 const uint8_t *raw, uint32_t rawlen, uint32_t wirelen);
/* tcp.c: one segment, already decoded, into the trace.  raw/rawlen/wirelen
 * are the whole frame, kept for -w. */
void trace_packet(struct trace *t, const struct pkt *p, const uint8_t *raw, uint32_t rawlen, uint32_t wirelen);
/* tcp.c: a frame that is not part of the trace (kept only for -w). */
void trace_other(struct trace *t, uint64_t frame, uint64_t ts_ns, const uint8_t *raw, uint32_t rawlen, uint32_t wirelen);
/* tcp.c: every 100 ms live, and at the end: gaps that waited too long are
 * taken as lost, closed connections are freed.  final: everything. */
void trace_tick(struct trace *t, bool final);
/* tcp.c: the slot of message idx on c, NULL if trimmed or not there yet. */
struct slot *conn_slot(const struct conn *c, uint32_t idx);
/* tcp.c: the slot of message idx on c, made if it does not exist yet;
 * NULL if idx was trimmed already. */
struct slot *conn_slot_make(struct conn *c, uint32_t idx);
/* tcp.c: forget messages below low on c (their records are printed). */
void conn_trim(struct trace *t, struct conn *c, uint32_t low);
/* tcp.c: the queued record with this serial, or NULL once printed. */
struct rec *rec_by_serial(struct trace *t, uint64_t serial);

/* Sets up the hash table; 0 or -1 (ENOMEM). */
int trace_init(struct trace *t);
/* Live, once a second: what a burst took (the capture fell behind and
 * thousands of requests were in flight at once) goes back to the system
 * once they are done, so the memory used follows what is live, not the
 * peak. */
void trace_trim(struct trace *t);
/* Frees everything trace_init and the packets allocated. */
void trace_free(struct trace *t);
void trace_free_conns(struct trace *t);

/* Memory failures while tracing end the run: one line, exit 2. */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n, size_t size);
char *xstrndup(const char *s, size_t n);
char *xstrdup(const char *s);
noreturn void oom(void);

#endif
