/*
 * match.c - response fingerprints (see match.h).  Serves steps 6 and 7:
 * the response a backend sent and the one the proxy returned.
 */
#include "match.h"

#include <ctype.h>
#include <string.h>

uint32_t match_hash(const char *s, size_t n, uint32_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = MATCH_HASH_INIT;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)tolower((unsigned char)s[i])) * 16777619u;
	return h;
}

/* Headers a proxy may add, drop or rewrite on a response it passes on. */
static bool volatile_header(const struct http_msg *m, size_t i)
{
	static const char *const names[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Content-Length",
		"TE", "Trailer", "Upgrade", "Date", "Server", "Via", "Age",
	};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (http_hdr_is(m, i, names[k]))
			return true;
	return false;
}

void match_head(struct fingerprint *fp, const struct http_msg *m, bool full)
{
	memset(fp, 0, sizeof(*fp));
	fp->head = true;
	fp->full = full;
	fp->status = http_status(m);
	fp->body_hash = 1469598103934665603u;
	for (size_t i = 0; full && i < m->nhdrs && fp->npairs < FP_PAIRS; i++) {
		if (volatile_header(m, i))
			continue;
		fp->pairs[fp->npairs][0] = name_hash(http_hdr_name(m, i), m->hdrs[i].name_len);
		fp->pairs[fp->npairs][1] = match_hash(http_hdr_value(m, i), m->hdrs[i].value_len, MATCH_HASH_INIT);
		fp->npairs++;
	}
}

void match_body(struct fingerprint *fp, const char *at, size_t len)
{
	if (fp->full && fp->body_len < FP_BODY_HASHED) {
		size_t n = FP_BODY_HASHED - fp->body_len < len ? FP_BODY_HASHED - fp->body_len : len;
		uint64_t h = fp->body_hash;
		for (size_t i = 0; i < n; i++)
			h = (h ^ (uint8_t)at[i]) * 1099511628211u;
		fp->body_hash = h;
	}
	fp->body_len += len;
}

/* -1: b has a's header name with none of a's values; 1: it has the same
 * value; 0: b lacks the header. */
static int pair_agrees(const struct fingerprint *a, size_t i, const struct fingerprint *b)
{
	bool name_seen = false;
	for (size_t j = 0; j < b->npairs; j++) {
		if (b->pairs[j][0] != a->pairs[i][0])
			continue;
		if (b->pairs[j][1] == a->pairs[i][1])
			return 1;
		name_seen = true;
	}
	return name_seen ? -1 : 0;
}

int match_compare(const struct fingerprint *a, const struct fingerprint *b)
{
	if (!a->head || !b->head)
		return 0;
	if (a->status != b->status)
		return -1;
	int score = 1;
	for (size_t i = 0; i < a->npairs; i++) {
		int v = pair_agrees(a, i, b);
		if (v < 0)
			return -1;
		score += v;
	}
	if (a->done && b->done && a->full && b->full) {
		if (a->body_len != b->body_len || a->body_hash != b->body_hash)
			return -1;
		score += a->body_len > 0;
	}
	return score;
}
