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

/* Picks a server of pool (NULL if it has none).  When why is not NULL,
 * appends one line saying why, for the access log and --events:
 * "next in turn (b1: 0 in flight, b2: 0)" or
 * "fewest in flight: b2 0, b1 1". */
struct server *lb_pick(struct pool *pool, struct buf *why);

#endif
