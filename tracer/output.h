/*
 * output.h - what a person sees: the timeline (default), --json, --summary,
 * --mermaid, --html, and -w OUT.pcapng, all fed from one queue of labelled
 * packets in capture order.
 *
 * The hold: a packet is printed once the request it belongs to is known.
 * A SYN or a first request segment waits until the request's head is
 * complete and it is settled (forwarded, answered, or its connection
 * closed); a backend connection's packets wait until the request on it
 * says which client request it forwards and, when that tie is a guess
 * among look-alike requests, until the client's response checks it; a
 * segment held for a gap before it waits for its bytes to be parsed.
 * Normally that is a fraction of a millisecond.  A packet held longer than
 * one second (capture time, or wall-clock time when live), or behind
 * 100000 others, is printed with what is known.
 *
 * The printers (timeline.c, json.c, summary.c, mermaid.c, html.c) get one
 * struct view per packet, with everything resolved.
 */
#ifndef TRACER_OUTPUT_H
#define TRACER_OUTPUT_H

#include "events.h"
#include "tracer.h"

/* A new, zeroed record at the tail of the queue. */
struct rec *output_rec(struct trace *t);
/* Prints what is ready at the head of the queue; final: everything. */
void output_pump(struct trace *t, bool final);
/* Cuts back a queue a burst grew (a live capture that fell behind) once it
 * holds little again (trace_trim). */
void output_trim(struct trace *t);
/* Live: writes what was printed so far, when 10 ms have passed since the
 * last write (or now, with force).  Only with -l or on a terminal. */
void output_flush(struct trace *t, bool force);
/* The timeline's first line (who is who); sets up the printers. */
void output_begin(struct trace *t);
/* Settles what waits, prints the queue, frees what is finished, then the
 * closing line (and the --summary table, the --mermaid diagram, the --html
 * page).  drops < 0: not a live capture. */
void output_end(struct trace *t, long long drops);
/* Frees the queue and the output buffers. */
void output_free(struct trace *t);
/* A request is finished (correlate.c frees it next): --summary's row. */
void output_request_done(struct trace *t, struct request *q);

/* ---- for the printers ------------------------------------------------------ */

/* One packet, resolved. */
struct view {
	const struct rec *r;
	struct conn *c;
	struct request *q;           /* its request, or NULL */
	struct xchg *x;              /* backend connection: its attempt, or NULL */
	const char *src, *dst;       /* "client", "proxy", "b1" */
	uint8_t kind;                /* enum rec_kind */
	bool retry, reuse;
	bool decide_first;           /* the step-3 line goes before it */
	const char *diff;            /* the proxy's header changes, on a forwarded head */
	const char *how;             /* backend connection: how it was tied (corr_name) */
	bool inferred;
	double decide_ms;            /* the step-3 line's elapsed time */
};

void timeline_rec(struct trace *t, const struct view *v);
void timeline_end(struct trace *t);
void json_rec(struct trace *t, const struct view *v);
void mermaid_rec(struct trace *t, const struct view *v);
void mermaid_end(struct trace *t);
void mermaid_free(struct trace *t);
/* --html FILE: opens it now (0, or -1 with a reason in err), writes it at the end. */
int html_open(struct trace *t, const char *path, char *err, size_t errlen);
void html_rec(struct trace *t, const struct view *v);
void html_end(struct trace *t);
void html_free(struct trace *t);
void summary_begin(struct trace *t);
void summary_row(struct trace *t, const struct request *q);
void summary_end(struct trace *t);
void summary_free(struct trace *t);

/* Appends to the output line buffer. */
void out_put(struct trace *t, const char *s);
void out_putn(struct trace *t, const char *s, size_t n);
/* An ANSI colour, when colours are on. */
void out_color(struct trace *t, const char *c);
/* s padded with spaces to width columns (UTF-8 aware); at least one space
 * follows a text as wide as the column or wider. */
void out_pad(struct trace *t, const char *s, size_t width);
/* Cuts the line that starts at offset start of the buffer (it ends with
 * '\n') to the terminal's width (t->width, 0: no cut), with "…" where it
 * was cut; ANSI colours take no room. */
void out_fit(struct trace *t, size_t start);
/* Writes the buffer when it holds 64 KiB (or now, with force). */
void out_write(struct trace *t, bool force);
/* Seconds since the first packet, and milliseconds of a span. */
uint64_t out_rel(const struct trace *t, uint64_t ts);
double out_ms(uint64_t ns);
/* "SYN ACK", "FIN PSH ACK", ... */
const char *out_flags(uint8_t flags);
/* The name of side UP or DOWN of c: client, proxy (or --name), b1... */
const char *out_end_name(const struct trace *t, const struct conn *c, int side);
/* The proxy's step-3 decision for q from --events, or NULL. */
const struct decision *out_decision(struct trace *t, const struct request *q);

#define C_DIM   "\033[2m"
#define C_BOLD  "\033[1m"
#define C_RED   "\033[31m"
#define C_OFF   "\033[0m"
const char *out_step_color(int step);

#endif
