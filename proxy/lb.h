/*
 * lb.h - step 3, part two: which server of the pool.  Five algorithms, all
 * honouring the servers' weights:
 *   roundrobin  smooth weighted round robin (nginx's): with weights 5,1,1
 *               the order is a a b a c a a, never five a's in a row;
 *   leastconn   fewest requests in flight per unit of weight, ties in
 *               (weighted) turn;
 *   random      power of two choices: two servers drawn at random (by
 *               weight), the one with fewer in flight per weight wins;
 *   ewma        power of two choices on cost = time to first byte (a
 *               peak-EWMA that decays with time, and moves at least 5%
 *               toward each answer) x (in flight + 1) / weight, as
 *               Finagle, Linkerd and Envoy do ("least-time");
 *   hash        a consistent-hash ring (points in proportion to weight) on
 *               the client's IP, a header or the path: the same key goes to
 *               the same server, and a server that is down or removed moves
 *               only its own keys.
 * The core increments server->inflight when it sends a request and
 * decrements it when the response ends or fails, feeds each response's
 * time to first byte to lb_observe() when its head arrives (step 6), and
 * each failure to lb_observe_failure().
 */
#ifndef PROXY_LB_H
#define PROXY_LB_H

#include "buf.h"
#include "config.h"
#include "http.h"
#include "net.h"

#define LB_EWMA_DECAY_MS 3000             /* --ewma-decay's default             */
#define LB_EWMA_STEP     0.05             /* an answer's least pull on the EWMA */
#define LB_PENALTY_NS    1000000000.0     /* a request with no answer yet: 1 s  */

/* What lb_pick knows of the request: what a hash pool looks at (either
 * may be NULL, and rq itself: a pool with no key for a request picks in
 * turn instead), and the servers it already tried (a retry never goes to
 * one of them). */
struct lb_req {
	const struct addr *client;        /* hash:source                        */
	const struct http_msg *msg;       /* hash:uri, hash:header:NAME         */
	struct server *const *tried;      /* ntried servers, in the order tried */
	size_t ntried;
};

/* Builds what a pool's algorithm needs before the first pick (the hash
 * ring; the EWMA's time constant, decay_ms, 0 for the default).  Returns 0,
 * or -1 on ENOMEM. */
int lb_prepare(struct pool *pool, uint64_t decay_ms);
void lb_release(struct pool *pool);

/* Picks a server of pool, leaving out the servers rq tried (NULL when that
 * leaves none, or the pool has none) and those out of it at now
 * (ev_now_ns()): ejected (down_until after now) or checked down, unless
 * that leaves none.  When why is not NULL,
 * appends one line (no newline) saying why, for the access log and --events,
 * naming the algorithm and at most four servers (then "+N more"):
 *   "roundrobin: next in turn (b1: 0 in flight, b2: 0)"
 *   "roundrobin: next in turn (b1 w5: 0 in flight, b2 w1: 0, b3 w1: 0)"
 *   "leastconn: fewest in flight: b2 0, b1 1"
 *   "leastconn: fewest in flight: b1 0, b2 0 (tie: next in turn)"
 *   "random: two choices b1 (2 in flight) vs b3 (0) -> b3"
 *   "ewma: b1: 0.41 ms × 2 = 0.82 vs b3: 19.7 ms × 1 = 19.7 -> b1"
 *   "hash:uri '/cart' -> b2 on the ring"
 * The counts are those before this pick (the core increments inflight).
 * Servers left out are named after it: "...; skipped b1 (ejected), b2
 * (down), b3 (just failed)", or "...; all down: tried anyway" when only
 * servers out of the pool were left. */
struct server *lb_pick(struct pool *pool, const struct lb_req *rq, uint64_t now, struct buf *why);

/* A response's time to first byte, ttfb_ns, from server s, seen at now
 * (ev_now_ns()): the sample --balance ewma steers by.  The estimate jumps
 * up to a sample above it (peak) and otherwise moves toward the sample by
 * 1 - e^(-dt/decay), dt the time since the last sample, or LB_EWMA_STEP
 * if that is more (so a busy server forgets a spike within a few dozen
 * answers).  With no samples it decays toward zero with time alone, so a
 * server left idle is tried again. */
void lb_observe(struct server *s, uint64_t ttfb_ns, uint64_t now);
/* s failed before answering: counted as a one-second answer. */
void lb_observe_failure(struct server *s, uint64_t now);
/* s's estimate at now, in nanoseconds (decayed since its last sample);
 * -1 when it has none yet. */
double lb_ewma_ns(const struct server *s, uint64_t now);

/* The hash of a key, as the ring uses it (64 bits, FNV-1a + a finaliser). */
uint64_t lb_hash(const void *key, size_t len);

#endif
