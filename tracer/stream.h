/*
 * stream.h - one direction of a TCP connection, reassembled and parsed as
 * HTTP/1.x, so the tracer knows where each message starts and which
 * request a packet belongs to (keep-alive, pipelining, chunked bodies,
 * split heads).
 *
 * Reordering-safe: the next byte to parse moves only with bytes parsed.
 * Bytes captured ahead of a gap are held (at most OOO_MAX_BYTES and
 * OOO_MAX_SEGS a direction) and parsed when the gap fills; an ACK of bytes
 * not seen yet only notes the gap.  A gap is taken as lost (a kernel drop,
 * a snap length) when the held bytes pass those bounds, when it has waited
 * GAP_WAIT_NS, or when the connection ends; parsing then resumes at the
 * next message start.  The records of held segments are filled in when
 * their bytes are parsed (rec->pending until then).
 */
#ifndef TRACER_STREAM_H
#define TRACER_STREAM_H

#include "tracer.h"

#define OOO_MAX_BYTES (1u << 20)
#define OOO_MAX_SEGS 256
#define GAP_WAIT_NS 200000000ull   /* 200 ms of capture (or wall-clock) time */
#define GAP_ACKED_NS 1000000ull    /* bytes acknowledged 1 ms before later ones came: lost */

/* Segment p's bytes in direction dir of c, labelled in r: in order (parsed
 * now), old (a retransmission), or ahead of a gap (held). */
void stream_data(struct trace *t, struct conn *c, int dir, struct rec *r, const struct pkt *p);
/* The peer acknowledged direction dir's bytes up to ack. */
void stream_ack(struct trace *t, struct conn *c, int dir, uint32_t ack);
/* A FIN in direction dir at fin_seq. */
void stream_fin(struct trace *t, struct conn *c, int dir, uint32_t fin_seq);
/* Takes h's gap as lost now and parses what was held after it. */
void stream_settle(struct trace *t, struct half *h);
/* The connection is over: settles its gaps and stops parsing. */
void stream_close(struct trace *t, struct conn *c);
/* Frees the held bytes and the parser. */
void stream_free(struct trace *t, struct half *h);

/* The index of the message a segment in this direction continues or starts. */
uint32_t stream_data_index(const struct half *h);
/* The index of the last message seen in this direction (what an ACK of
 * it, or a FIN after it, belongs to). */
uint32_t stream_last_index(const struct half *h);

#endif
