/*
 * lb.h - step 3, part two: which server of the pool.  Three algorithms:
 *   roundrobin  smooth weighted round robin (nginx's): with weights 5,1,1
 *               the order is a a b a c a a, never five a's in a row;
 *   leastconn   fewest requests in flight, ties broken by higher weight,
 *               then by round robin;
 *   random      power of two choices: two servers drawn at random (by
 *               weight), the one with fewer in flight wins.
 * The core increments server->inflight when it sends a request and
 * decrements it when the response ends or fails.
 */
#ifndef PROXY_LB_H
#define PROXY_LB_H

#include "buf.h"
#include "config.h"

/* Picks a server of pool (NULL if it has none), leaving out avoid (a
 * server that just failed; NULL: none) and servers whose down_until is
 * after now (ev_now_ns()), unless that leaves none.  When why is not NULL,
 * appends one line (no newline) saying why, for the access log and --events,
 * naming the algorithm and at most four servers (then "+N more"):
 *   "roundrobin: next in turn (b1: 0 in flight, b2: 0)"
 *   "roundrobin: next in turn (b1 w5: 0 in flight, b2 w1: 0, b3 w1: 0)"
 *   "leastconn: fewest in flight: b2 0, b1 1"
 *   "leastconn: fewest in flight: b1 0, b2 0 (tie: next in turn)"
 *   "random: two choices b1 (2 in flight) vs b3 (0) -> b3"
 * The counts are those before this pick (the core increments inflight).
 * Servers left out are named after it: "...; skipped b1 (down)", or
 * "...; all down: tried anyway" when none was left. */
struct server *lb_pick(struct pool *pool, const struct server *avoid, uint64_t now, struct buf *why);

#endif
