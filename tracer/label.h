/*
 * label.h - the step of a packet: the contract every test and lab relies on.
 *
 * Client connection (to the proxy's port):
 *   SYN, SYN-ACK, the handshake's last ACK             1
 *   bytes client -> proxy, the proxy's pure ACKs       2
 *   bytes proxy -> client, the client's pure ACKs      7
 * Backend connection (to a backend's port):
 *   SYN, SYN-ACK, the handshake's last ACK             4
 *   bytes proxy -> backend, the backend's pure ACKs    5
 *   bytes backend -> proxy, the proxy's pure ACKs      6
 * Teardown: FIN and RST segments and pure ACKs of a FIN keep the step of
 * their side (7 on a client connection, 6 on a backend connection) and are
 * marked close (RST: also reset).  A FIN that carries bytes is labelled by
 * its bytes, and marked close.
 * Refused: a client connection the proxy closes at step 1 (an allow/deny
 * list, a connection limit: it closed or reset it before sending a byte
 * and before forwarding anything) keeps step 1 for its teardown.
 * Step 3, the proxy's decision, has no packet: output.c prints it as a line.
 *
 * What a packet is within its step (a retry, a health check, a response the
 * proxy made, an interim 1xx, a refusal) is told apart by the outputs.
 */
#ifndef TRACER_LABEL_H
#define TRACER_LABEL_H

#include <stdbool.h>
#include <stdint.h>

#include "tracer.h"

struct label_in {
	enum conn_kind kind;
	int dir;              /* UP: from the side that connected; DOWN: from the server */
	uint8_t flags;        /* TH_* */
	uint32_t len;         /* payload bytes */
	bool handshake_ack;   /* the connecting side's first pure ACK after the SYN-ACK */
	bool acks_fin;        /* a pure ACK of the other side's FIN */
	bool refused;         /* a client connection refused at step 1 */
};

struct label {
	uint8_t step;         /* 1, 2, 4, 5, 6 or 7 */
	bool close;
	bool reset;
};

struct label label_packet(const struct label_in *in);

/* The step of bytes going in direction dir on a connection of kind k. */
static inline uint8_t label_data_step(enum conn_kind k, int dir)
{
	if (k == CONN_CLIENT)
		return dir == UP ? 2 : 7;
	return dir == UP ? 5 : 6;
}

#endif
