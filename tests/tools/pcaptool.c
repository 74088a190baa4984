/*
 * pcaptool.c - makes the captures the tracer's tests need, from the
 * recorded fixtures or from a text spec, with nothing but C (the tests may
 * use only what bin/install-deps installs).  Built by the Makefile as
 * build/<build>/tests/tools/pcaptool.
 *
 *   pcaptool relink KIND IN OUT    an Ethernet capture as another link type:
 *                                  null, loop, raw, sll, sll2, any (sll2 with each
 *                                  frame twice, going out then coming in), micro
 *                                  (the same frames, microsecond timestamps)
 *   pcaptool linktype IN OUT N     the same file with link type N in its header
 *   pcaptool dup IN OUT            the first request segment (to port 8080) twice
 *   pcaptool split IN OUT          that segment cut in two, the second half first
 *   pcaptool drop IN OUT           the first response segment (from port 9001) lost
 *   pcaptool fragment IN OUT       that request segment as two IPv4 fragments
 *   pcaptool move IN OUT FROM TO   frame FROM (1-based) moved to position TO
 *   pcaptool corrupt IN DIR N SEED N damaged copies DIR/c000...: cut, bits flipped,
 *                                  header bytes changed, a 32-bit field made huge
 *   pcaptool spec SPEC OUT         a capture written from a text spec (below)
 *
 * A spec has one TCP/IPv4 segment a line ('#' starts a comment):
 *   TIME SRC:PORT > DST:PORT FLAGS SEQ ACK [PAYLOAD...]
 *   0.000100 127.0.0.1:40000 > 127.0.0.2:8080 PA 1001 5001 "GET / HTTP/1.1\r\n\r\n"
 * FLAGS are letters S F R P A U (or '.' for none); PAYLOAD is quoted strings
 * with C escapes (\r \n \t \" \\ \xHH) and +N for N filler bytes ('x').
 * Frames are Ethernet, timestamps in nanoseconds.
 *
 * Exit status 0, or 2 with one line on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

struct frame {
	uint32_t sec, frac, orig;
	uint32_t len;
	uint8_t *data;
};

struct capfile {
	uint32_t magic;
	uint16_t vmaj, vmin;
	int32_t zone;
	uint32_t sigfigs, snap, linktype;
	struct frame *f;
	size_t n, cap;
};

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("pcaptool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		die("out of memory");
	return p;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	size_t cap = 65536, n = 0, r;
	uint8_t *d = xmalloc(cap);
	while ((r = fread(d + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			d = realloc(d, cap);
			if (d == NULL)
				die("out of memory");
		}
	}
	if (ferror(f))
		die("%s: %s", path, strerror(errno));
	fclose(f);
	*len = n;
	return d;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

static void add_frame(struct capfile *c, uint32_t sec, uint32_t frac, uint32_t orig, const uint8_t *data, uint32_t len)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->f = realloc(c->f, c->cap * sizeof(*c->f));
		if (c->f == NULL)
			die("out of memory");
	}
	struct frame *f = &c->f[c->n++];
	f->sec = sec;
	f->frac = frac;
	f->orig = orig;
	f->len = len;
	f->data = xmalloc(len);
	memcpy(f->data, data, len);
}

/* Reads a little-endian classic pcap (what tcpdump writes here). */
static void load(const char *path, struct capfile *c)
{
	size_t len, off = 24;
	uint8_t *d = read_all(path, &len);
	memset(c, 0, sizeof(*c));
	if (len < 24 || (le32(d) != MAGIC_US && le32(d) != MAGIC_NS))
		die("%s: not a little-endian pcap file", path);
	c->magic = le32(d);
	c->vmaj = le16(d + 4);
	c->vmin = le16(d + 6);
	c->zone = (int32_t)le32(d + 8);
	c->sigfigs = le32(d + 12);
	c->snap = le32(d + 16);
	c->linktype = le32(d + 20);
	while (off + 16 <= len) {
		uint32_t incl = le32(d + off + 8);
		if (incl > len - off - 16)
			die("%s: cut inside a packet", path);
		add_frame(c, le32(d + off), le32(d + off + 4), le32(d + off + 12), d + off + 16, incl);
		off += 16 + incl;
	}
	free(d);
}

static void w32(FILE *f, uint32_t v) { uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) }; fwrite(b, 1, 4, f); }
static void w16(FILE *f, uint16_t v) { uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) }; fwrite(b, 1, 2, f); }

static void save(const char *path, const struct capfile *c)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	w32(f, c->magic);
	w16(f, c->vmaj);
	w16(f, c->vmin);
	w32(f, (uint32_t)c->zone);
	w32(f, c->sigfigs);
	w32(f, c->snap);
	w32(f, c->linktype);
	for (size_t i = 0; i < c->n; i++) {
		const struct frame *fr = &c->f[i];
		w32(f, fr->sec);
		w32(f, fr->frac);
		w32(f, fr->len);
		w32(f, fr->orig);
		fwrite(fr->data, 1, fr->len, f);
	}
	if (ferror(f) | fclose(f))
		die("%s: write failed", path);
}

static void release(struct capfile *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->f[i].data);
	free(c->f);
}

/* ---- Ethernet / IPv4 / TCP ------------------------------------------------- */

/* Offsets of an Ethernet IPv4 TCP frame: IP at 14, TCP at *t, payload at *p. */
static int tcp_parts(const struct frame *f, size_t *t, size_t *p, size_t *end)
{
	if (f->len < 14 + 20 || be16(f->data + 12) != 0x0800 || f->data[14 + 9] != 6)
		return -1;
	size_t ihl = (size_t)(f->data[14] & 15) * 4, total = be16(f->data + 16);
	*t = 14 + ihl;
	if (*t + 20 > f->len)
		return -1;
	*p = *t + (size_t)(f->data[*t + 12] >> 4) * 4;
	*end = 14 + total < f->len ? 14 + total : f->len;
	return *p <= *end ? 0 : -1;
}

/* The first frame with a payload to (or from) port; -1 if none. */
static long find(const struct capfile *c, uint16_t port, bool to)
{
	for (size_t i = 0; i < c->n; i++) {
		size_t t, p, end;
		if (tcp_parts(&c->f[i], &t, &p, &end) < 0 || end <= p)
			continue;
		if (be16(c->f[i].data + t + (to ? 2 : 0)) == port)
			return (long)i;
	}
	return -1;
}

static void remove_at(struct capfile *c, size_t i)
{
	free(c->f[i].data);
	memmove(c->f + i, c->f + i + 1, (c->n - i - 1) * sizeof(*c->f));
	c->n--;
}

/* Inserts a copy of frame f at position i. */
static void insert_at(struct capfile *c, size_t i, const struct frame *f)
{
	add_frame(c, f->sec, f->frac, f->orig, f->data, f->len);
	struct frame last = c->f[c->n - 1];
	memmove(c->f + i + 1, c->f + i, (c->n - 1 - i) * sizeof(*c->f));
	c->f[i] = last;
}

/* Segment f's bytes [from, to) of its payload as a frame of its own. */
static struct frame sub_segment(const struct frame *f, size_t from, size_t to)
{
	size_t t, p, end;
	tcp_parts(f, &t, &p, &end);
	struct frame n = *f;
	n.len = (uint32_t)(p + (to - from));
	n.data = xmalloc(n.len);
	memcpy(n.data, f->data, p);
	memcpy(n.data + p, f->data + p + from, to - from);
	put_be16(n.data + 16, (uint16_t)(n.len - 14));
	put_be32(n.data + t + 4, be32(f->data + t + 4) + (uint32_t)from);
	n.orig = n.len;
	return n;
}

/* ---- the operations ---------------------------------------------------------- */

static void relink(const char *kind, struct capfile *c)
{
	static const struct { const char *name; uint32_t lt; } kinds[] = {
		{ "null", 0 }, { "loop", 108 }, { "raw", 101 }, { "sll", 113 }, { "sll2", 276 }, { "any", 276 }, { "micro", 1 },
	};
	uint32_t lt = UINT32_MAX;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kind, kinds[i].name) == 0)
			lt = kinds[i].lt;
	if (lt == UINT32_MAX)
		die("relink: unknown kind '%s'", kind);
	if (c->linktype != 1)
		die("relink: the input is not an Ethernet capture");
	if (strcmp(kind, "micro") == 0) {
		if (c->magic == MAGIC_NS)
			for (size_t i = 0; i < c->n; i++)
				c->f[i].frac /= 1000;
		c->magic = MAGIC_US;
		return;
	}
	struct capfile out = *c;
	out.f = NULL;
	out.n = out.cap = 0;
	out.linktype = lt;
	for (size_t i = 0; i < c->n; i++) {
		const struct frame *f = &c->f[i];
		if (f->len < 14)
			die("relink: frame %zu is shorter than an Ethernet header", i + 1);
		uint16_t type = be16(f->data + 12);
		uint32_t ip = f->len - 14;
		uint8_t hdr[20];
		size_t hl = 0;
		memset(hdr, 0, sizeof(hdr));
		if (strcmp(kind, "null") == 0 || strcmp(kind, "loop") == 0) {
			uint32_t fam = type == 0x0800 ? 2 : 10;
			if (kind[0] == 'n') {
				hdr[0] = (uint8_t)fam;
			} else {
				put_be32(hdr, fam);
			}
			hl = 4;
		} else if (strcmp(kind, "sll") == 0) {
			put_be16(hdr + 2, 772);   /* ARPHRD_LOOPBACK */
			put_be16(hdr + 4, 6);
			put_be16(hdr + 14, type);
			hl = 16;
		} else if (strcmp(kind, "sll2") == 0 || strcmp(kind, "any") == 0) {
			put_be16(hdr, type);
			put_be32(hdr + 4, 1);     /* ifindex */
			put_be16(hdr + 8, 772);
			hdr[11] = 6;
			hl = 20;
		}
		uint32_t len = (uint32_t)hl + ip, orig = f->orig - (f->len - len);
		uint8_t *d = xmalloc(len);
		memcpy(d, hdr, hl);
		memcpy(d + hl, f->data + 14, ip);
		if (strcmp(kind, "any") == 0) {
			d[10] = 4;   /* PACKET_OUTGOING: the copy going out comes first */
			add_frame(&out, f->sec, f->frac, orig, d, len);
			d[10] = 0;
		}
		add_frame(&out, f->sec, f->frac, orig, d, len);
		free(d);
	}
	release(c);
	*c = out;
}

static void op_dup(struct capfile *c)
{
	long i = find(c, 8080, true);
	if (i < 0)
		die("dup: no request segment to port 8080");
	insert_at(c, (size_t)i + 1, &c->f[i]);
}

static void op_split(struct capfile *c)
{
	long i = find(c, 8080, true);
	if (i < 0)
		die("split: no request segment to port 8080");
	size_t t, p, end;
	tcp_parts(&c->f[i], &t, &p, &end);
	if (end - p <= 20)
		die("split: the request segment has 20 bytes or fewer");
	struct frame a = sub_segment(&c->f[i], 0, 20), b = sub_segment(&c->f[i], 20, end - p);
	remove_at(c, (size_t)i);
	insert_at(c, (size_t)i, &a);
	insert_at(c, (size_t)i, &b);
	free(a.data);
	free(b.data);
}

static void op_drop(struct capfile *c)
{
	long i = find(c, 9001, false);
	if (i < 0)
		die("drop: no response segment from port 9001");
	remove_at(c, (size_t)i);
}

/* The request segment as two IPv4 fragments: the TCP header and 8 bytes,
 * then the rest. */
static void op_fragment(struct capfile *c)
{
	long i = find(c, 8080, true);
	if (i < 0)
		die("fragment: no request segment to port 8080");
	const struct frame *f = &c->f[i];
	size_t t, p, end;
	tcp_parts(f, &t, &p, &end);
	size_t cut = (p - t) + 8;   /* bytes of the IP payload in the first fragment (a multiple of 8) */
	cut -= cut % 8;
	struct frame a = *f, b = *f;
	a.len = (uint32_t)(t + cut);
	a.data = xmalloc(a.len);
	memcpy(a.data, f->data, a.len);
	put_be16(a.data + 16, (uint16_t)(a.len - 14));
	put_be16(a.data + 20, 0x2000);   /* more fragments, offset 0 */
	b.len = (uint32_t)(t + (end - t - cut));
	b.data = xmalloc(b.len);
	memcpy(b.data, f->data, t);
	memcpy(b.data + t, f->data + t + cut, end - t - cut);
	put_be16(b.data + 16, (uint16_t)(b.len - 14));
	put_be16(b.data + 20, (uint16_t)(cut / 8));
	a.orig = a.len;
	b.orig = b.len;
	remove_at(c, (size_t)i);
	insert_at(c, (size_t)i, &b);
	insert_at(c, (size_t)i, &a);
	free(a.data);
	free(b.data);
}

static void op_move(struct capfile *c, const char *from_s, const char *to_s)
{
	long from = strtol(from_s, NULL, 10), to = strtol(to_s, NULL, 10);
	if (from < 1 || to < 1 || (size_t)from > c->n || (size_t)to > c->n)
		die("move: frames are 1 to %zu", c->n);
	struct frame f = c->f[from - 1];
	memmove(c->f + from - 1, c->f + from, (c->n - (size_t)from) * sizeof(*c->f));
	memmove(c->f + to, c->f + to - 1, (c->n - (size_t)to) * sizeof(*c->f));
	c->f[to - 1] = f;
}

/* A small, seeded generator: the same damage for the same seed. */
static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
	return n ? (uint32_t)((rng_state >> 33) % n) : 0;
}

static void op_corrupt(const char *in, const char *dir, const char *n_s, const char *seed_s)
{
	size_t len;
	uint8_t *d = read_all(in, &len);
	long n = strtol(n_s, NULL, 10);
	rng_state = (uint64_t)strtoull(seed_s, NULL, 10) * 2654435761u + 7;
	if (len < 32 || n < 1)
		die("corrupt: need a capture of 32 bytes or more and N >= 1");
	uint8_t *b = xmalloc(len);
	for (long i = 0; i < n; i++) {
		size_t blen = len;
		memcpy(b, d, len);
		switch (i % 4) {
		case 0:   /* truncated */
			blen = rnd((uint32_t)len);
			break;
		case 1:   /* a few bits flipped anywhere */
			for (uint32_t k = 1 + rnd(8); k > 0; k--)
				b[rnd((uint32_t)len)] ^= (uint8_t)(1u << rnd(8));
			break;
		case 2:   /* bytes changed in the first packets' headers */
			for (uint32_t k = 1 + rnd(4); k > 0; k--)
				b[24 + rnd((uint32_t)((len < 600 ? len : 600) - 24))] = (uint8_t)rnd(256);
			break;
		default: {   /* a 32-bit field set to a huge or zero value */
			static const uint32_t vals[] = { 0, 0xffffffffu, 0x7fffffffu, 0x10000, 65535 };
			size_t j = rnd((uint32_t)(len - 4)) & ~(size_t)3;
			uint32_t v = vals[rnd(5)];
			b[j] = (uint8_t)v;
			b[j + 1] = (uint8_t)(v >> 8);
			b[j + 2] = (uint8_t)(v >> 16);
			b[j + 3] = (uint8_t)(v >> 24);
			break;
		}
		}
		char path[4096];
		snprintf(path, sizeof(path), "%s/c%03ld", dir, i);
		FILE *f = fopen(path, "wb");
		if (f == NULL)
			die("%s: %s", path, strerror(errno));
		fwrite(b, 1, blen, f);
		if (ferror(f) | fclose(f))
			die("%s: write failed", path);
	}
	free(b);
	free(d);
}

/* ---- spec ------------------------------------------------------------------ */

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int endpoint(const char *s, uint8_t ip[4], uint16_t *port)
{
	char buf[64];
	const char *colon = strrchr(s, ':');
	if (colon == NULL || (size_t)(colon - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(colon - s));
	buf[colon - s] = '\0';
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 1 || p > 65535 || inet_pton(AF_INET, buf, ip) != 1)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* Appends the payload tokens of a spec line (from s) to out. */
static size_t payload(const char *s, uint8_t *out, size_t cap, int line)
{
	size_t n = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '\n' || *s == '#')
			break;
		if (*s == '+') {
			long k = strtol(s + 1, (char **)&s, 10);
			if (k < 0 || n + (size_t)k > cap)
				die("spec line %d: filler too long", line);
			memset(out + n, 'x', (size_t)k);
			n += (size_t)k;
			continue;
		}
		if (*s != '"')
			die("spec line %d: payload must be quoted strings or +N", line);
		for (s++; *s && *s != '"'; s++) {
			if (n >= cap)
				die("spec line %d: payload too long", line);
			char ch = *s;
			if (ch == '\\') {
				s++;
				switch (*s) {
				case 'r': ch = '\r'; break;
				case 'n': ch = '\n'; break;
				case 't': ch = '\t'; break;
				case 'x': {
					char hex[3] = { s[1], s[2], 0 };
					ch = (char)strtol(hex, NULL, 16);
					s += 2;
					break;
				}
				case '\0': die("spec line %d: a lone backslash", line);
				default: ch = *s; break;
				}
			}
			out[n++] = (uint8_t)ch;
		}
		if (*s != '"')
			die("spec line %d: unterminated string", line);
		s++;
	}
	return n;
}

static void op_spec(const char *in, struct capfile *c)
{
	FILE *f = fopen(in, "r");
	if (f == NULL)
		die("%s: %s", in, strerror(errno));
	memset(c, 0, sizeof(*c));
	c->magic = MAGIC_NS;
	c->vmaj = 2;
	c->vmin = 4;
	c->snap = 262144;
	c->linktype = 1;
	char line[70000];
	static uint8_t frame[66000];
	int ln = 0;
	while (fgets(line, sizeof(line), f)) {
		ln++;
		char *s = line;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '#' || *s == '\n' || *s == '\0')
			continue;
		char ts[32], src[64], gt[4], dst[64], flags[16];
		unsigned long seq, ack;
		int used = 0;
		if (sscanf(s, "%31s %63s %3s %63s %15s %lu %lu %n", ts, src, gt, dst, flags, &seq, &ack, &used) != 7 || strcmp(gt, ">") != 0)
			die("spec line %d: want TIME SRC:PORT > DST:PORT FLAGS SEQ ACK [PAYLOAD]", ln);
		uint8_t sip[4], dip[4];
		uint16_t sport, dport;
		if (endpoint(src, sip, &sport) < 0 || endpoint(dst, dip, &dport) < 0)
			die("spec line %d: an address is not IPv4:PORT", ln);
		uint8_t fl = 0;
		for (const char *p = flags; *p; p++) {
			switch (*p) {
			case 'F': fl |= 0x01; break;
			case 'S': fl |= 0x02; break;
			case 'R': fl |= 0x04; break;
			case 'P': fl |= 0x08; break;
			case 'A': fl |= 0x10; break;
			case 'U': fl |= 0x20; break;
			case '.': break;
			default: die("spec line %d: unknown flag '%c'", ln, *p);
			}
		}
		size_t plen = payload(s + used, frame + 54, sizeof(frame) - 54, ln);
		memset(frame, 0, 54);
		frame[12] = 0x08;
		uint8_t *ip = frame + 14, *tcp = frame + 34;
		ip[0] = 0x45;
		put_be16(ip + 2, (uint16_t)(40 + plen));
		put_be16(ip + 4, (uint16_t)ln);
		ip[6] = 0x40;
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, sip, 4);
		memcpy(ip + 16, dip, 4);
		put_be16(ip + 10, csum(ip, 20, 0));
		put_be16(tcp, sport);
		put_be16(tcp + 2, dport);
		put_be32(tcp + 4, (uint32_t)seq);
		put_be32(tcp + 8, (uint32_t)ack);
		tcp[12] = 0x50;
		tcp[13] = fl;
		put_be16(tcp + 14, 65535);
		double t = strtod(ts, NULL);
		uint32_t sec = (uint32_t)t;
		uint32_t ns = (uint32_t)((t - sec) * 1e9 + 0.5);
		add_frame(c, 1700000000u + sec, ns, (uint32_t)(54 + plen), frame, (uint32_t)(54 + plen));
	}
	if (ferror(f))
		die("%s: read failed", in);
	fclose(f);
	if (c->n == 0)
		die("%s: no packets", in);
}

int main(int argc, char **argv)
{
	struct capfile c;
	if (argc < 2)
		die("usage: pcaptool relink|linktype|dup|split|drop|fragment|move|corrupt|spec ... (see its source)");
	const char *op = argv[1];
	if (strcmp(op, "corrupt") == 0) {
		if (argc != 6)
			die("usage: pcaptool corrupt IN DIR N SEED");
		op_corrupt(argv[2], argv[3], argv[4], argv[5]);
		return 0;
	}
	if (strcmp(op, "spec") == 0) {
		if (argc != 4)
			die("usage: pcaptool spec SPEC OUT");
		op_spec(argv[2], &c);
		save(argv[3], &c);
		release(&c);
		return 0;
	}
	if (strcmp(op, "relink") == 0) {
		if (argc != 5)
			die("usage: pcaptool relink KIND IN OUT");
		load(argv[3], &c);
		relink(argv[2], &c);
		save(argv[4], &c);
		release(&c);
		return 0;
	}
	if (argc < 4)
		die("usage: pcaptool %s IN OUT ...", op);
	load(argv[2], &c);
	if (strcmp(op, "dup") == 0)
		op_dup(&c);
	else if (strcmp(op, "split") == 0)
		op_split(&c);
	else if (strcmp(op, "drop") == 0)
		op_drop(&c);
	else if (strcmp(op, "fragment") == 0)
		op_fragment(&c);
	else if (strcmp(op, "move") == 0 && argc == 6)
		op_move(&c, argv[4], argv[5]);
	else if (strcmp(op, "linktype") == 0 && argc == 5)
		c.linktype = (uint32_t)strtoul(argv[4], NULL, 10);
	else
		die("unknown operation or arguments: %s", op);
	save(argv[3], &c);
	release(&c);
	return 0;
}
