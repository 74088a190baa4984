/*
 * correlate.h - requests, attempts at a backend, and which client request
 * an attempt forwards (steps 2 -> 3 -> 5, and 6 -> 7 to check it).
 *
 * An attempt (a request on a backend connection) is tied to a client
 * request by the strongest evidence the capture holds:
 *   1. the same X-Request-ID on both (the client sent one, the proxy kept it);
 *   2. Forwarded: for="IP:PORT" (the last element) naming the client's address;
 *   3. the proxy's --events, which tie a request id to the client's address;
 *   4. X-Forwarded-For, X-Real-IP or Forwarded: for=IP naming the only
 *      waiting client at that address;
 *   5. the only waiting request with the same method and target;
 *   6. order and timing among several such requests: a guess, checked when
 *      the client's response arrives.  The backend response that reached the
 *      client (its status, the header values it kept, its body's length and
 *      hash) settles it, and guesses are swapped when the capture says so;
 *      a guess nothing settles stays marked inferred.
 * A request waiting again after its attempt failed (a reset, a close, a
 * 5xx) is taken by the next matching attempt: a retry.  An attempt that
 * matches no waiting request and carries none of a forwarded request's
 * headers is the proxy's own request (a health check).  A response the
 * client gets that no attempt's response matches, or that came with no
 * attempt at all, was made by the proxy.
 *
 * Lifetime: a request is referenced by its client connection's slot, by its
 * attempts, by the pending list and by backend connections' guesses; when
 * the last reference goes it is handed to the outputs (--summary) and freed.
 */
#ifndef TRACER_CORRELATE_H
#define TRACER_CORRELATE_H

#include "tracer.h"

/* The request for message idx of client connection c, created (numbered)
 * if it does not exist yet; NULL if that message is forgotten. */
struct request *corr_client_request(struct trace *t, struct conn *c, uint32_t idx);
/* The head of a client request is complete: note what matching needs. */
void corr_client_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m);
/* A new backend connection (its SYN): guess which request it is for. */
void corr_backend_open(struct trace *t, struct conn *c);
/* The head of request idx on backend connection c is complete. */
void corr_backend_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m);
/* The head of response idx on connection c is complete. */
void corr_response_head(struct trace *t, struct conn *c, uint32_t idx, const struct http_msg *m);
/* Response idx on connection c is complete. */
void corr_response_done(struct trace *t, struct conn *c, uint32_t idx);
/* Connection c closed: attempts that got no response failed, and what
 * waited on it is settled. */
void corr_conn_done(struct trace *t, struct conn *c);
/* Direction dir of c lost bytes (a kernel drop): responses not seen yet may
 * be among them. */
void corr_bytes_lost(struct trace *t, struct conn *c, int dir);
/* c's slot s is forgotten: drop what it holds. */
void corr_slot_release(struct trace *t, struct conn *c, struct slot *s);

/* The request a slot of c stands for (client: its request; backend: the
 * request its attempt forwards), or NULL. */
static inline struct request *slot_request(const struct conn *c, const struct slot *s)
{
	if (s == NULL)
		return NULL;
	return c->kind == CONN_CLIENT ? s->req : s->x ? s->x->req : NULL;
}

void corr_ref(struct request *r);
void corr_unref(struct trace *t, struct request *r);
/* Frees what is left at the end (without printing it). */
void corr_free_all(struct trace *t);
/* "x-request-id", "forwarded", ..., "order", or NULL. */
const char *corr_name(enum corr how);

#endif
