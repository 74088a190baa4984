/*
 * test_tracer_decode.c - frames to TCP segments (tracer/decode.h): each
 * link type, VLAN tags, IPv6 extension headers, fragments skipped, and
 * every frame cut short at every length is refused, never over-read.
 */
#include "t.h"

#include <stdlib.h>

#include <pcap/dlt.h>

#include "../../tracer/decode.h"

/* An IPv4 TCP segment 127.0.0.1:40000 -> 127.0.0.2:8080 with 5 bytes "hello". */
static size_t ipv4_seg(uint8_t *p)
{
	static const uint8_t seg[] = {
		0x45, 0, 0, 45, 0, 1, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2,
		0x9c, 0x40, 0x1f, 0x90, 0, 0, 0, 100, 0, 0, 0, 200, 0x50, TH_PSH | TH_ACK, 1, 0, 0, 0, 0, 0,
		'h', 'e', 'l', 'l', 'o',
	};
	memcpy(p, seg, sizeof(seg));
	return sizeof(seg);
}

static size_t frame(int lt, uint8_t *p)
{
	size_t h = 0;
	switch (lt) {
	case DLT_EN10MB:
		memset(p, 0, 12);
		p[12] = 0x08; p[13] = 0x00;
		h = 14;
		break;
	case DLT_NULL:
		p[0] = 2; p[1] = p[2] = p[3] = 0;
		h = 4;
		break;
	case DLT_LOOP:
		p[0] = p[1] = p[2] = 0; p[3] = 2;
		h = 4;
		break;
	case DLT_RAW:
		h = 0;
		break;
	case DLT_LINUX_SLL:
		memset(p, 0, 16);
		p[3] = 4;   /* ARPHRD 4: not loopback */
		p[14] = 0x08;
		h = 16;
		break;
	case DLT_LINUX_SLL2:
		memset(p, 0, 20);
		p[0] = 0x08;
		h = 20;
		break;
	}
	return h + ipv4_seg(p + h);
}

TEST(every_link_type_finds_the_same_segment)
{
	int lts[] = { DLT_EN10MB, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2 };
	for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
		uint8_t buf[128];
		struct pkt p;
		size_t n = frame(lts[i], buf);
		CHECK_INT(decode_frame(lts[i], buf, (uint32_t)n, &p), DECODE_TCP);
		CHECK_INT(p.sport, 40000);
		CHECK_INT(p.dport, 8080);
		CHECK_INT(p.seq, 100);
		CHECK_INT(p.ack, 200);
		CHECK_INT(p.len, 5);
		CHECK(memcmp(p.payload, "hello", 5) == 0);
	}
}

TEST(a_frame_cut_anywhere_before_the_payload_is_refused)
{
	int lts[] = { DLT_EN10MB, DLT_NULL, DLT_LOOP, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2 };
	for (size_t i = 0; i < sizeof(lts) / sizeof(lts[0]); i++) {
		uint8_t buf[128];
		size_t n = frame(lts[i], buf);
		for (size_t cut = 0; cut < n - 5; cut++) {
			/* a fresh copy of exactly cut bytes, so ASan sees any over-read */
			uint8_t *copy = malloc(cut ? cut : 1);
			memcpy(copy, buf, cut);
			struct pkt p;
			enum decode_result r = decode_frame(lts[i], copy, (uint32_t)cut, &p);
			CHECK(r != DECODE_TCP);
			free(copy);
		}
	}
}

TEST(a_payload_cut_by_the_snap_length_says_how_much_was_captured)
{
	uint8_t buf[128];
	struct pkt p;
	size_t n = frame(DLT_RAW, buf);
	CHECK_INT(decode_frame(DLT_RAW, buf, (uint32_t)n - 3, &p), DECODE_TCP);
	CHECK_INT(p.len, 5);
	CHECK_INT(p.caplen, 2);
}

TEST(vlan_tags_are_skipped)
{
	uint8_t buf[160];
	memset(buf, 0, 12);
	buf[12] = 0x81; buf[13] = 0x00; buf[14] = 0; buf[15] = 5;
	buf[16] = 0x08; buf[17] = 0x00;
	size_t n = 18 + ipv4_seg(buf + 18);
	struct pkt p;
	CHECK_INT(decode_frame(DLT_EN10MB, buf, (uint32_t)n, &p), DECODE_TCP);
	CHECK_INT(p.dport, 8080);
}

TEST(ipv4_fragments_are_told_apart_not_decoded)
{
	uint8_t buf[128];
	size_t n = ipv4_seg(buf);
	buf[6] = 0x20;   /* more fragments */
	struct pkt p;
	CHECK_INT(decode_frame(DLT_RAW, buf, (uint32_t)n, &p), DECODE_FRAGMENT);
	buf[6] = 0;
	buf[7] = 8;      /* a later fragment: offset 64 bytes */
	CHECK_INT(decode_frame(DLT_RAW, buf, (uint32_t)n, &p), DECODE_FRAGMENT);
	buf[7] = 0;
	buf[9] = 17;     /* UDP: not ours to count */
	buf[6] = 0x20;
	CHECK_INT(decode_frame(DLT_RAW, buf, (uint32_t)n, &p), DECODE_OTHER);
}

TEST(ipv6_with_a_hop_by_hop_header_is_decoded)
{
	uint8_t buf[160] = { 0x60, 0, 0, 0, 0, 8 + 20 + 2, 0, 64 };
	buf[8 + 15] = 1;    /* ::1 */
	buf[24 + 15] = 1;   /* ::1 */
	uint8_t *x = buf + 40;
	x[0] = 6;           /* next: TCP */
	x[1] = 0;           /* 8 bytes */
	uint8_t *t = x + 8;
	t[0] = 0x1f; t[1] = 0x90; t[2] = 0x23; t[3] = 0x29;
	t[12] = 0x50;
	t[13] = TH_ACK;
	t[20] = 'h'; t[21] = 'i';
	struct pkt p;
	CHECK_INT(decode_frame(DLT_RAW, buf, 40 + 8 + 22, &p), DECODE_TCP);
	CHECK_INT(p.family, 6);
	CHECK_INT(p.sport, 8080);
	CHECK_INT(p.dport, 9001);
	CHECK_INT(p.len, 2);
}

TEST(the_outgoing_copy_of_a_loopback_frame_on_any_is_a_duplicate)
{
	uint8_t buf[128];
	size_t n = frame(DLT_LINUX_SLL2, buf);
	buf[8] = 0x03; buf[9] = 0x04;   /* ARPHRD_LOOPBACK (772) */
	buf[10] = 4;                    /* PACKET_OUTGOING */
	struct pkt p;
	CHECK_INT(decode_frame(DLT_LINUX_SLL2, buf, (uint32_t)n, &p), DECODE_DUPLICATE);
	buf[10] = 0;                    /* the incoming copy */
	CHECK_INT(decode_frame(DLT_LINUX_SLL2, buf, (uint32_t)n, &p), DECODE_TCP);
}

int main(void)
{
	RUN(every_link_type_finds_the_same_segment);
	RUN(a_frame_cut_anywhere_before_the_payload_is_refused);
	RUN(a_payload_cut_by_the_snap_length_says_how_much_was_captured);
	RUN(vlan_tags_are_skipped);
	RUN(ipv4_fragments_are_told_apart_not_decoded);
	RUN(ipv6_with_a_hop_by_hop_header_is_decoded);
	RUN(the_outgoing_copy_of_a_loopback_frame_on_any_is_a_duplicate);
	return t_done();
}
