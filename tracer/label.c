/*
 * label.c - a packet's step from its connection, direction and flags (the
 * contract is in label.h).  Pure: tcp.c works out the handshake and FIN
 * state it needs.
 */
#include "label.h"

struct label label_packet(const struct label_in *in)
{
	struct label l = { 0, false, false };
	uint8_t open_step = in->kind == CONN_CLIENT ? 1 : 4;
	uint8_t close_step = in->kind == CONN_CLIENT ? (in->refused ? 1 : 7) : 6;

	if (in->flags & TH_RST) {
		l.step = close_step;
		l.close = l.reset = true;
		return l;
	}
	if (in->flags & TH_SYN) {
		l.step = open_step;
		return l;
	}
	if (in->len > 0) {
		/* Bytes: the direction says the step, a FIN on them says close. */
		l.step = label_data_step(in->kind, in->dir);
		l.close = (in->flags & TH_FIN) != 0;
		return l;
	}
	if (in->flags & TH_FIN) {
		l.step = close_step;
		l.close = true;
		return l;
	}
	if (in->handshake_ack) {
		l.step = open_step;
		return l;
	}
	if (in->acks_fin) {
		l.step = close_step;
		l.close = true;
		return l;
	}
	/* A pure ACK acknowledges the bytes going the other way. */
	l.step = label_data_step(in->kind, in->dir == UP ? DOWN : UP);
	return l;
}
