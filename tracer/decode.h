/*
 * decode.h - from a captured frame to the TCP segment it carries: the link
 * layers the tracer reads (Ethernet, BSD loopback, raw IP, Linux cooked v1
 * and v2), IPv4 and IPv6, then the TCP header.  Every length is checked
 * against what was captured; a frame that does not hold a whole TCP header
 * is not decoded, never read past.
 */
#ifndef TRACER_DECODE_H
#define TRACER_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* One TCP segment.  Pointers point into the captured frame. */
struct pkt {
	uint64_t frame;          /* 1-based position in the capture          */
	uint64_t ts_ns;          /* capture time, nanoseconds since the epoch */
	uint8_t family;          /* 4 or 6                                    */
	uint8_t flags;           /* TH_*                                      */
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint32_t len;            /* payload bytes on the wire (from IP length) */
	uint32_t caplen;         /* payload bytes captured (<= len)           */
	const uint8_t *payload;
};

enum decode_result {
	DECODE_FRAGMENT = 2,     /* an IP fragment: not reassembled, counted        */
	DECODE_TCP = 1,          /* *out holds a segment                           */
	DECODE_OTHER = 0,        /* not TCP/IP (ARP, UDP): skip it                  */
	DECODE_DUPLICATE = -1,   /* the outgoing copy of a loopback frame on "any"  */
	DECODE_BAD = -2,         /* malformed or cut short before the TCP payload   */
};

/* True if the tracer can read frames of this pcap link type. */
bool decode_linktype_ok(int linktype);
/* A short name for a link type ("EN10MB", "LINUX_SLL2"), for messages. */
const char *decode_linktype_name(int linktype);

/* Decodes one frame of the given link type.  Fills *out (except frame and
 * ts_ns) when it returns DECODE_TCP. */
enum decode_result decode_frame(int linktype, const uint8_t *p, uint32_t caplen, struct pkt *out);

#endif
