/*
 * fuzz_tracer_tcp.c - the tracer's TCP reassembly and HTTP labelling
 * (trace_packet), fed segments built here rather than a capture file, so
 * the fuzzer works on what matters: reordered, duplicated, overlapping and
 * lost segments, sequence numbers that wrap, resets, and any HTTP.
 *
 * The input is four texts cut at NUL bytes (the client's request, the
 * request the proxy forwards, the backend's response, the one the client
 * gets), then control bytes.  They play one exchange through a proxy
 * (client 127.0.0.1:50000 -> proxy 127.0.0.2:8080, proxy 127.0.0.2:40000 ->
 * backend 127.0.0.11:9001), in segments whose sizes, order, repeats,
 * overlaps, losses, initial sequence numbers and endings the control bytes
 * choose; the last control byte may make it a retry (b1 resets, the proxy
 * forwards again to 127.0.0.12:9001) or leave the backend out (a response
 * the proxy makes, a refusal).  The input's hash picks the tracer's options
 * (tracer_setup.h) and how far apart the segments are in time (up to 0.6 s:
 * past the tracer's waits for gaps and requests).  Never a crash, a leak,
 * undefined behaviour, a packet left unprinted or a request left unfreed.
 */
#include <string.h>

#include "common.h"
#include "tracer_setup.h"

struct ctl {
	const uint8_t *p;
	size_t n, at;
};

static unsigned next(struct ctl *c)
{
	return c->n ? c->p[c->at++ % c->n] : 0;
}

struct side {                   /* one direction of a connection */
	uint8_t ip[4];
	uint16_t port;
	uint32_t isn, next;         /* next: the next sequence number to send */
};

struct feed {
	struct fuzz_trace *ft;
	uint64_t frame, ts;
	uint64_t pace;              /* capture nanoseconds per gap unit: 1, or 1000 (gaps up to 0.6 s) */
	uint8_t raw[512];
};

static void segment(struct feed *f, struct side *from, struct side *to, uint8_t flags, uint32_t seq,
                    const uint8_t *data, uint32_t len)
{
	struct pkt p = { .family = 4, .flags = flags, .sport = from->port, .dport = to->port, .seq = seq,
	                 .ack = (flags & TH_ACK) ? to->next : 0, .len = len, .caplen = len, .payload = data };
	memcpy(p.saddr, from->ip, 4);
	memcpy(p.daddr, to->ip, 4);
	f->frame++;
	f->ts += (1000 + (f->frame % 7) * 100000) * f->pace;   /* now and then a gap */
	uint32_t raw = len < sizeof(f->raw) ? len : sizeof(f->raw);
	if (raw)
		memcpy(f->raw, data, raw);
	tracer_frame(f->ft, DECODE_TCP, &p, f->ts, f->raw, raw, len);
}

static void handshake(struct feed *f, struct side *a, struct side *b)
{
	segment(f, a, b, TH_SYN, a->isn, NULL, 0);
	a->next = a->isn + 1;
	segment(f, b, a, TH_SYN | TH_ACK, b->isn, NULL, 0);
	b->next = b->isn + 1;
	segment(f, a, b, TH_ACK, a->next, NULL, 0);
}

/* Sends text from a to b in segments the control bytes shape. */
static void stream(struct feed *f, struct ctl *c, struct side *a, struct side *b, const uint8_t *text, size_t len)
{
	uint32_t base = a->next;
	size_t off = 0, pend_off = 0, pend_len = 0;
	bool pending = false;
	while (off < len) {
		unsigned k = next(c), size = 1 + next(c) % 200;
		if (size > len - off)
			size = (unsigned)(len - off);
		switch (k & 7) {
		case 0:                     /* lost: a gap the next segments leave */
			break;
		case 1:                     /* held back: sent after the next one (reordered) */
			if (!pending) {
				pending = true;
				pend_off = off;
				pend_len = size;
				break;
			}
			/* fall through */
		default:
			segment(f, a, b, TH_ACK | TH_PSH, base + (uint32_t)off, text + off, size);
			break;
		case 2: {                   /* and again, overlapping what came before */
			size_t back = off < 16 ? off : 16;
			segment(f, a, b, TH_ACK | TH_PSH, base + (uint32_t)off, text + off, size);
			segment(f, a, b, TH_ACK | TH_PSH, base + (uint32_t)(off - back), text + off - back, (uint32_t)(back + size));
			break;
		}
		}
		off += size;
		if (pending && (k & 7) != 1) {
			segment(f, a, b, TH_ACK | TH_PSH, base + (uint32_t)pend_off, text + pend_off, (uint32_t)pend_len);
			pending = false;
		}
		a->next = base + (uint32_t)off;
		if ((k & 0x38) == 0x38)      /* the receiver acknowledges */
			segment(f, b, a, TH_ACK, b->next, NULL, 0);
	}
	if (pending)
		segment(f, a, b, TH_ACK | TH_PSH, base + (uint32_t)pend_off, text + pend_off, (uint32_t)pend_len);
	a->next = base + (uint32_t)len;
}

/* FINs both ways, or a reset, as the control bytes say. */
static void ending(struct feed *f, struct ctl *c, struct side *a, struct side *b)
{
	unsigned k = next(c);
	if (k & 1) {
		segment(f, (k & 2) ? a : b, (k & 2) ? b : a, TH_RST | TH_ACK, (k & 2) ? a->next : b->next, NULL, 0);
		return;
	}
	segment(f, a, b, TH_FIN | TH_ACK, a->next, NULL, 0);
	a->next++;
	segment(f, b, a, TH_FIN | TH_ACK, b->next, NULL, 0);
	b->next++;
	segment(f, a, b, TH_ACK, a->next, NULL, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *text[4] = { NULL };
	size_t len[4] = { 0 }, at = 0;
	for (int i = 0; i < 4; i++) {
		const uint8_t *nul = at < size ? memchr(data + at, 0, size - at) : NULL;
		size_t end = nul ? (size_t)(nul - data) : size;
		text[i] = data + at;
		len[i] = end - at;
		at = nul ? end + 1 : size;
	}
	struct ctl c = { .p = data + at, .n = size - at };
	uint32_t isn[4];
	for (int i = 0; i < 4; i++)      /* near the wrap, sometimes */
		isn[i] = (next(&c) & 1) ? 0xffffff00u + next(&c) : (uint32_t)next(&c) << 24 | next(&c);

	/* The last control byte picks what the proxy does besides forwarding
	 * (bits the seeds leave clear): */
	unsigned plan = c.n ? c.p[c.n - 1] : 0;
	bool retry = plan & 0x80;        /* b1 resets the request, the proxy tries b2 on a new connection */
	bool own = plan & 0x10;          /* no backend leg: the proxy answers, or refuses, by itself */

	struct side client = { { 127, 0, 0, 1 }, 50000, isn[0], 0 }, proxy = { { 127, 0, 0, 2 }, 8080, isn[1], 0 };
	struct side pout = { { 127, 0, 0, 2 }, 40000, isn[2], 0 }, backend = { { 127, 0, 0, 11 }, 9001, isn[3], 0 };
	struct side pout2 = { { 127, 0, 0, 2 }, 40001, isn[2] ^ 0x5a5a5a5au, 0 };
	struct side backend2 = { { 127, 0, 0, 12 }, 9001, isn[3] ^ 0xa5a5a5a5u, 0 };
	struct fuzz_trace ft;
	uint64_t choice = fuzz_hash(data, size);
	tracer_begin(&ft, choice);
	struct feed f = { .ft = &ft, .ts = 1700000000000000000u, .pace = (choice >> 40 & 1) ? 1000 : 1 };
	struct side *bout = &pout, *bend = &backend;   /* the backend leg that answers */

	handshake(&f, &client, &proxy);
	stream(&f, &c, &client, &proxy, text[0], len[0]);
	if (!own) {
		handshake(&f, &pout, &backend);
		stream(&f, &c, &pout, &backend, text[1], len[1]);
		if (retry) {
			segment(&f, &backend, &pout, TH_RST | TH_ACK, backend.next, NULL, 0);
			handshake(&f, &pout2, &backend2);
			stream(&f, &c, &pout2, &backend2, text[1], len[1]);
			bout = &pout2;
			bend = &backend2;
		}
		stream(&f, &c, bend, bout, text[2], len[2]);
	}
	stream(&f, &c, &proxy, &client, text[3], len[3]);
	if (next(&c) & 1) {              /* a second exchange on both connections */
		stream(&f, &c, &client, &proxy, text[0], len[0]);
		if (!own) {
			stream(&f, &c, bout, bend, text[1], len[1]);
			stream(&f, &c, bend, bout, text[2], len[2]);
		}
		stream(&f, &c, &proxy, &client, text[3], len[3]);
	}
	ending(&f, &c, &client, &proxy);
	if (!own)
		ending(&f, &c, bout, bend);
	tracer_end(&ft, true);
	return 0;
}
