/*
 * decode.c - link layer, IP and TCP headers (see decode.h).  Serves every
 * step: this is where a frame becomes "a segment from A to B".
 */
#include "decode.h"

#include <string.h>

#include <pcap/dlt.h>

#define ARPHRD_LOOPBACK 772
#define PACKET_OUTGOING 4
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86DD
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88A8

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

bool decode_linktype_ok(int lt)
{
	switch (lt) {
	case DLT_EN10MB: case DLT_NULL: case DLT_LOOP: case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
	case DLT_LINUX_SLL: case DLT_LINUX_SLL2:
		return true;
	default:
		return false;
	}
}

const char *decode_linktype_name(int lt)
{
	switch (lt) {
	case DLT_EN10MB: return "EN10MB";
	case DLT_NULL: return "NULL";
	case DLT_LOOP: return "LOOP";
	case DLT_RAW: case DLT_IPV4: case DLT_IPV6: return "RAW";
	case DLT_LINUX_SLL: return "LINUX_SLL";
	case DLT_LINUX_SLL2: return "LINUX_SLL2";
	default: return "unknown";
	}
}

/* The TCP header and payload; ip_payload is what the IP header says the
 * segment holds, have what was captured of it. */
static enum decode_result tcp(const uint8_t *p, uint32_t have, uint32_t ip_payload, struct pkt *out)
{
	if (ip_payload < 20 || have < 20)
		return DECODE_BAD;
	uint32_t off = (uint32_t)(p[12] >> 4) * 4;
	if (off < 20 || off > ip_payload || off > have)
		return DECODE_BAD;
	out->sport = be16(p);
	out->dport = be16(p + 2);
	out->seq = be32(p + 4);
	out->ack = be32(p + 8);
	out->flags = p[13];
	out->len = ip_payload - off;
	out->caplen = have - off < out->len ? have - off : out->len;
	out->payload = p + off;
	return DECODE_TCP;
}

static enum decode_result ipv4(const uint8_t *p, uint32_t have, struct pkt *out)
{
	if (have < 20 || p[0] >> 4 != 4)
		return DECODE_BAD;
	uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
	uint32_t total = be16(p + 2);
	if (ihl < 20 || total < ihl || ihl > have)
		return DECODE_BAD;
	if (p[9] != 6)
		return DECODE_OTHER;
	if ((be16(p + 6) & 0x3fff) != 0)   /* MF set or a non-zero offset */
		return DECODE_FRAGMENT;
	out->family = 4;
	memset(out->saddr, 0, sizeof(out->saddr));
	memset(out->daddr, 0, sizeof(out->daddr));
	memcpy(out->saddr, p + 12, 4);
	memcpy(out->daddr, p + 16, 4);
	/* Captured bytes beyond the IP length (Ethernet padding) are not payload. */
	uint32_t cap = have < total ? have : total;
	return tcp(p + ihl, cap - ihl, total - ihl, out);
}

static enum decode_result ipv6(const uint8_t *p, uint32_t have, struct pkt *out)
{
	if (have < 40 || p[0] >> 4 != 6)
		return DECODE_BAD;
	uint32_t plen = be16(p + 4);
	uint8_t next = p[6];
	uint32_t off = 40;
	uint32_t cap = have < 40 + plen ? have : 40 + plen;
	/* Skip the extension headers a TCP segment may carry before it. */
	while (next == 0 || next == 43 || next == 60) {
		if (off + 8 > cap)
			return DECODE_BAD;
		uint32_t hlen = ((uint32_t)p[off + 1] + 1) * 8;
		next = p[off];
		off += hlen;
	}
	if (next == 44)   /* a fragment: not reassembled, counted if it is TCP's */
		return off + 8 <= cap && p[off] == 6 ? DECODE_FRAGMENT : DECODE_OTHER;
	if (next != 6)
		return DECODE_OTHER;
	if (off > cap || off - 40 > plen)
		return DECODE_BAD;
	out->family = 6;
	memcpy(out->saddr, p + 8, 16);
	memcpy(out->daddr, p + 24, 16);
	return tcp(p + off, cap - off, plen - (off - 40), out);
}

static enum decode_result by_ethertype(uint16_t type, const uint8_t *p, uint32_t have, struct pkt *out)
{
	switch (type) {
	case ETH_IPV4: return ipv4(p, have, out);
	case ETH_IPV6: return ipv6(p, have, out);
	default: return DECODE_OTHER;
	}
}

/* BSD loopback: a 4-byte address family, in host order (NULL) or network
 * order (LOOP).  IPv6 is 10 on Linux, 24, 28 or 30 on the BSDs. */
static enum decode_result loopback(const uint8_t *p, uint32_t have, bool big_endian, struct pkt *out)
{
	if (have < 4)
		return DECODE_BAD;
	uint32_t fam = be32(p);
	if (!big_endian && fam > 0xffff)   /* written little-endian */
		fam = (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
	switch (fam) {
	case 2: return ipv4(p + 4, have - 4, out);
	case 10: case 24: case 28: case 30: return ipv6(p + 4, have - 4, out);
	default: return DECODE_OTHER;
	}
}

static enum decode_result raw_ip(const uint8_t *p, uint32_t have, struct pkt *out)
{
	if (have < 1)
		return DECODE_BAD;
	switch (p[0] >> 4) {
	case 4: return ipv4(p, have, out);
	case 6: return ipv6(p, have, out);
	default: return DECODE_OTHER;
	}
}

enum decode_result decode_frame(int lt, const uint8_t *p, uint32_t have, struct pkt *out)
{
	switch (lt) {
	case DLT_EN10MB: {
		if (have < 14)
			return DECODE_BAD;
		uint32_t off = 12;
		uint16_t type = be16(p + off);
		while (type == ETH_VLAN || type == ETH_QINQ) {
			off += 4;
			if (off + 2 > have)
				return DECODE_BAD;
			type = be16(p + off);
		}
		off += 2;
		return by_ethertype(type, p + off, have - off, out);
	}
	case DLT_NULL:
		return loopback(p, have, false, out);
	case DLT_LOOP:
		return loopback(p, have, true, out);
	case DLT_RAW: case DLT_IPV4: case DLT_IPV6:
		return raw_ip(p, have, out);
	case DLT_LINUX_SLL:
		/* packet type, ARPHRD type, address length, 8-byte address, protocol */
		if (have < 16)
			return DECODE_BAD;
		/* On "any", a loopback frame is seen going out and coming in:
		 * keep the incoming copy only. */
		if (be16(p) == PACKET_OUTGOING && be16(p + 2) == ARPHRD_LOOPBACK)
			return DECODE_DUPLICATE;
		return by_ethertype(be16(p + 14), p + 16, have - 16, out);
	case DLT_LINUX_SLL2:
		/* protocol, reserved, ifindex, ARPHRD type, packet type, address
		 * length, 8-byte address */
		if (have < 20)
			return DECODE_BAD;
		if (p[10] == PACKET_OUTGOING && be16(p + 8) == ARPHRD_LOOPBACK)
			return DECODE_DUPLICATE;
		return by_ethertype(be16(p), p + 20, have - 20, out);
	default:
		return DECODE_OTHER;
	}
}
