/*
 * proxy_rig.h - the real proxy driven by a harness (fuzz_proxy_request.c,
 * fuzz_proxy_response.c): the process state P on a loop of its own, one
 * client on a loopback TCP connection whose far end the rig gives the
 * proxy (client_new, as accept.c would), and the backend the harness plays
 * on a port-0 loopback listener, which the proxy connects to as to any
 * server.  The harness's side of every connection is read and written at
 * each turn of the loop, in pieces cut as splits say.  When nothing has
 * moved for a few turns, time jumps to the next timer (ev_warp): timeouts
 * fire at once, and a connection left waiting with no timer running is a
 * finding (it would hang forever).
 */
#ifndef FUZZ_PROXY_RIG_H
#define FUZZ_PROXY_RIG_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "common.h"
#include "strict.h"

#define RIG_MAX_SERVERS 16         /* backend connections a run accepts      */
#define RIG_GOT_MAX     (1u << 20) /* bytes kept of what one end received     */

/* One end of a connection, played by the harness. */
struct rig_end {
	int fd;                        /* -1: not open (any more)                 */
	struct buf got;                /* what arrived (the first RIG_GOT_MAX)    */
	bool eof;                      /* the proxy closed its side (or reset it) */
	bool reset;                    /* ... with a reset                        */
	struct buf out;                /* what is still to send                   */
	size_t sent;                   /* bytes of it sent so far                 */
	struct splits sp;              /* in pieces cut this way                  */
	bool shut_when_sent;           /* shut down our side once out is sent     */
	bool shut;
};

struct rig;
/* The harness's side: new bytes arrived at an end (at least one).  It may
 * queue bytes to send (end->out) and set shut_when_sent. */
typedef void rig_fn(struct rig *r, struct rig_end *end);

struct rig {
	struct rig_end client;
	struct rig_end server[RIG_MAX_SERVERS];   /* in the order accepted  */
	size_t nservers;
	rig_fn *on_client, *on_server;
	void *user;
	enum split_mode mode;
	unsigned turns, warps, idle;
	bool done;
	bool cut_short;                /* a bound ended the run, not the proxy    */
};

/* Sets up P for one run (a fresh loop; a configuration from the flags
 * given, after --backend naming the rig's listener; NULL-terminated), the
 * client (the proxy's end of its connection through client_new), and
 * client->out = data, sent in pieces cut as mode says. */
void rig_start(struct rig *r, const char *const *flags, const uint8_t *data, size_t size, enum split_mode mode);
/* Turns the loop until the proxy has closed the client connection, or a
 * bound (turns, warps) is hit. */
void rig_run(struct rig *r);
/* Closes what is left and frees P's run; a connection, buffer or fd left
 * behind is a finding.  r's buffers stay for the harness to read until
 * rig_free. */
void rig_stop(struct rig *r);
void rig_free(struct rig *r);

/* The head edited[0..edited_head) the proxy wrote for orig[0..orig_head)
 * (both read valid by strict.h) holds every end-to-end field of orig, with
 * its value, but those named in replaced (the proxy may drop or rewrite
 * them), and besides them only fields named in added (the proxy's own:
 * Transfer-Encoding only as "chunked", Connection only as close or
 * keep-alive).  Hop-by-hop fields (RFC 9110 7.6.1: the fixed names and
 * those orig's Connection names) never pass.  Lists end with NULL. */
void rig_check_fields(const char *orig, size_t orig_head, const char *edited, size_t edited_head,
                      const char *const *replaced, const char *const *added, const char *what);

#endif
