/*
 * output.h - what a person sees: the timeline (default), --json, --summary,
 * --mermaid, and -w OUT.pcapng, all fed from one queue of labelled packets
 * in capture order.
 *
 * The hold: a packet is printed once the request it belongs to is known.
 * A SYN or a first request segment waits until the request's head is
 * complete and it is settled (forwarded, answered, or its connection
 * closed); a backend connection's handshake waits until the first request
 * on it says which client request it forwards.  Normally that is a fraction
 * of a millisecond.  A packet held longer than one second (capture time, or
 * wall-clock time when live), or behind 100000 others, is printed as it is.
 */
#ifndef TRACER_OUTPUT_H
#define TRACER_OUTPUT_H

#include "tracer.h"

/* A new, zeroed record at the tail of the queue. */
struct rec *output_rec(struct trace *t);
/* Prints what is ready at the head of the queue; final: everything. */
void output_pump(struct trace *t, bool final);
/* With -l (or on a terminal): writes what was printed so far.  The live
 * loop calls it after each batch of packets the kernel hands over. */
void output_flush(struct trace *t);
/* The timeline's first line (who is who). */
void output_begin(struct trace *t);
/* Prints the queue, then the closing line (and the --summary table or the
 * --mermaid diagram).  drops < 0: not a live capture. */
void output_end(struct trace *t, long long drops);
/* Frees the queue and the output buffers. */
void output_free(struct trace *t);

#endif
