/*
 * tracer.h - the tracer's shared state: who is who (the proxy, the
 * backends), the TCP connections seen, the requests they carry, and the
 * labelled packets waiting to be printed.
 *
 * The flow of one packet:
 *   capture.c  reads a frame (live or from a file)
 *   decode.c   finds the TCP segment in it
 *   tcp.c      finds its connection, reassembles each direction, feeds llhttp
 *   trace.c    memory helpers, and freeing it all at the end
 *   label.c    gives it its step (1-7) and its teardown marks
 *   correlate.c ties a backend request to the client request it forwards
 *   output.c   prints it (timeline, --json, --summary, --mermaid, -w pcapng)
 *
 * Output is in capture order, but a packet is printed only once the request
 * it belongs to is known (a SYN does not say which request it serves): see
 * output.c for that hold and its time limit.
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

/* An address from the command line: a port alone (any address) or ADDR:PORT. */
struct role_addr {
	bool any_ip;
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;
};

/* A backend as seen on the wire: its exact address, and the name shown. */
struct backend {
	uint8_t family;
	uint8_t ip[16];
	uint16_t port;
	char name[64];
	bool fixed_name;        /* from --name: the X-Backend header does not rename it */
	char addr[ADDR_STRLEN]; /* "127.0.0.11:9001" */
};

/* ---- requests ------------------------------------------------------------ */

enum corr {
	CORR_NONE,              /* not tied to a backend request (yet)        */
	CORR_REQUEST_ID,        /* same X-Request-ID on both sides            */
	CORR_FORWARDED,         /* Forwarded: for="IP:PORT" names the client  */
	CORR_EVENTS,            /* the proxy's --events tie the id to the client */
	CORR_ORDER,             /* inferred: order and timing                 */
};

struct conn;

/* One client request, numbered in the order requests arrive at the proxy. */
struct request {
	uint32_t num;
	struct conn *cc;             /* the client connection it came on   */
	char *method, *target;       /* from the request line              */
	char *id;                    /* X-Request-ID, once seen (either side) */
	struct buf names;            /* the client's header names, '\n'-separated */
	char *diff;                  /* "+X-Request-ID +Forwarded": what the proxy changed */
	int status;                  /* the response's status, 0 before it */
	char *reason;
	struct backend *be;          /* the server that got it             */
	struct backend *tried;       /* a backend connection tried for it that carried no request */
	enum corr how;
	uint64_t t_head;             /* when its head was complete (capture time) */
	bool head_done, settled, reused, guessed;
	bool in_unmatched;
	struct request *un_prev, *un_next;   /* the unmatched list (correlate.c) */
	struct request *id_next;     /* the by-id hash chain (correlate.c)  */

	/* Filled as its packets are printed (output.c). */
	uint64_t o_first, o_first2, o_last2, o_decide, o_first4, o_last4;
	uint64_t o_first5, o_last6, o_first7, o_last7;
	double o_decide_ms;
	uint32_t o_seen_steps;       /* bit n: a packet of step n was printed */
	bool o_decided;
	bool o_client_closed;
};

/* ---- connections --------------------------------------------------------- */

enum conn_kind { CONN_CLIENT, CONN_BACKEND };
enum { UP = 0, DOWN = 1 };   /* UP: from the side that connected (client, or proxy to a backend) */

struct seg;   /* an out-of-order segment waiting for the gap to fill (tcp.c) */

/* One direction of a connection. */
struct half {
	bool seen;                   /* a segment went this way             */
	bool fin;                    /* a FIN went this way, at fin_seq     */
	uint32_t isn;                /* first sequence number (the SYN's)   */
	uint32_t next;               /* next byte expected                  */
	uint32_t fin_seq;
	struct http_msg msg;
	bool http_on;                /* parser initialised                  */
	bool http_dead;              /* not HTTP (or the connection is over): stop parsing */
	bool lost;                   /* bytes are missing: parse again from the next message start */
	uint32_t done_msgs;          /* messages completed                  */
	uint32_t heads;              /* message heads completed             */
	bool head_in_feed;           /* a head completed in the current segment */
	int64_t head_body;           /* its body: Content-Length, -1 chunked, -2 none or unknown */
	struct seg *ooo;
	size_t ooo_bytes, ooo_segs;
	struct conn *conn;           /* back-pointer for the llhttp hooks   */
};

struct conn {
	struct conn *hnext;          /* hash chain                          */
	struct conn *all_next;       /* every connection, for freeing       */
	uint32_t num;                /* per-trace connection number         */
	enum conn_kind kind;
	struct backend *be;          /* CONN_BACKEND: which backend         */
	uint8_t family;
	uint8_t ip[2][16];           /* [UP] the side that connected, [DOWN] the server */
	uint16_t port[2];
	char peer[ADDR_STRLEN];      /* the connecting side's "IP:PORT"     */
	struct half h[2];
	enum { HS_NONE, HS_SYN, HS_SYNACK, HS_DONE } hs;
	bool syn_seen;
	bool done;                   /* closed (both FINs, or a RST)        */
	bool in_hash;
	int closer;                  /* -1, UP or DOWN: who closed first    */
	bool reset;
	struct request **reqs;       /* by message index on this connection */
	uint32_t nreqs, capreqs;
	struct request *guess;       /* CONN_BACKEND: the request inferred at SYN time */
	bool guess_only;             /* it carried no request: reqs[0] is that guess */
	uint32_t refs;               /* records still queued that point here */
};

/* ---- labelled packets ---------------------------------------------------- */

#define IDX_NONE UINT32_MAX

/* One packet, labelled, waiting in the output queue. */
struct rec {
	uint64_t frame, ts_ns, arrival_ns;
	struct conn *conn;           /* NULL: not part of the trace (kept for -w) */
	uint32_t idx;                /* message index on conn: which request */
	uint32_t seq, ack, len;
	uint8_t flags, step, dir;    /* dir: UP or DOWN                      */
	bool close, reset, reuse, retrans, ooo, msg_start, forced;
	char summary[136];           /* a first line of at most 100 bytes, and "(N B)" */
	uint8_t *frame_data;         /* -w only: the captured frame          */
	uint32_t frame_len, wire_len;
};

/* ---- the whole trace ----------------------------------------------------- */

enum out_mode { OUT_TIMELINE, OUT_JSON, OUT_SUMMARY, OUT_MERMAID };

struct events;
struct pcapng;

struct trace {
	/* configuration */
	struct role_addr proxy;
	struct role_addr *bcfg;      /* --backends, in order */
	size_t nbcfg;
	struct { struct addr a; char *name; } *names;   /* --name ADDR:PORT=NAME */
	size_t nnames;
	enum out_mode mode;
	bool color, line_buffered, step_mode, quiet_header;
	const char *source;          /* interface or file name, for the header */
	struct events *events;
	struct pcapng *pcapng;
	FILE *out;
	FILE *step_in;               /* --step: where Enter is read from */

	/* backends seen */
	struct backend **bes;
	size_t nbes;

	/* connections */
	struct conn **table;
	size_t table_size, nconns_live;
	struct conn *all;
	uint32_t nconns, nclient_conns, nbackend_conns;

	/* requests */
	struct request **reqs;
	size_t nreqs, capreqs;
	struct request *un_head, *un_tail;   /* headers seen, not yet forwarded */
	struct request **by_id;      /* requests by X-Request-ID (correlate.c) */
	size_t by_id_size, by_id_count;

	/* output queue: a ring of records */
	struct rec *q;
	size_t qcap, qhead, qlen;
	uint64_t first_ts, last_ts;
	uint64_t now_wall_ns;        /* live: the wall clock when the batch was read */
	bool have_first;

	/* counters */
	uint64_t packets, labelled, retrans, ooo, undecoded, backend_reuses;

	/* output state (output.c) */
	struct request *last_printed_req;
	bool last_printed_none;
	bool header_printed;
	uint8_t last_step;
	struct request *last_step_req;
	struct buf mermaid;
	struct buf line;
};

/* tcp.c: one segment, already decoded, into the trace.  raw/rawlen/wirelen
 * are the whole frame, kept for -w. */
void trace_packet(struct trace *t, const struct pkt *p, const uint8_t *raw, uint32_t rawlen, uint32_t wirelen);
/* tcp.c: a frame that is not part of the trace (kept only for -w). */
void trace_other(struct trace *t, uint64_t frame, uint64_t ts_ns, const uint8_t *raw, uint32_t rawlen, uint32_t wirelen);
/* tcp.c: frees every connection. */
void trace_free_conns(struct trace *t);

/* Sets up the hash table; 0 or -1 (ENOMEM). */
int trace_init(struct trace *t);
/* Frees everything trace_init and the packets allocated. */
void trace_free(struct trace *t);

/* Memory failures while tracing end the run: one line, exit 2. */
void *xcalloc(size_t n, size_t size);
char *xstrndup(const char *s, size_t n);
noreturn void oom(void);

#endif
