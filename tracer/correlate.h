/*
 * correlate.h - requests, and which client request a backend request
 * forwards (steps 2 -> 3 -> 5).
 *
 * A backend request is tied to a client request by, in this order:
 *   1. the same X-Request-ID on both (the client sent one, the proxy kept it);
 *   2. Forwarded: for="IP:PORT" (the last element) naming the client's address;
 *   3. the proxy's --events, which tie a request id to the client's address;
 *   4. order and timing: the oldest client request whose head is complete,
 *      that no backend request claimed yet, with the same method and target
 *      if one has them (marked inferred: CORR_ORDER).
 * The fourth is a guess.  It is right when the proxy forwards requests in
 * the order they arrive, and wrong when it reorders them (a slow decision,
 * a retry, a pool with a queue): tracer.1 says so, and the outputs mark it.
 */
#ifndef TRACER_CORRELATE_H
#define TRACER_CORRELATE_H

#include "tracer.h"

/* The request for message idx of client connection c, created (numbered)
 * if it does not exist yet. */
struct request *corr_client_request(struct trace *t, struct conn *c, uint32_t idx);
/* The head of a client request is complete: note what matching needs. */
void corr_client_head(struct trace *t, struct request *r, const struct http_msg *m);
/* A new backend connection (its SYN): guess which request it is for. */
void corr_backend_open(struct trace *t, struct conn *c);
/* The head of request idx on backend connection c is complete. */
void corr_backend_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m);
/* The head of response idx on connection c is complete. */
void corr_response_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m);
/* Connection c closed: settle what waited on it. */
void corr_conn_done(struct trace *t, struct conn *c);
/* The request record i of c: NULL when unknown. */
static inline struct request *conn_req(const struct conn *c, uint32_t i) { return i < c->nreqs ? c->reqs[i] : NULL; }
/* Frees a request. */
void corr_free_request(struct request *r);
/* "x-request-id", "forwarded", "events", "order" or NULL. */
const char *corr_name(enum corr how);

#endif
