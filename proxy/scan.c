/*
 * scan.c - the raw-byte scanners both directions share (steps 2 and 6).
 * llhttp 8 lets through what an intermediary must refuse (RFC 9112): these
 * look at the bytes before llhttp does.  head_scan() finds the end of a
 * head and refuses bare LF or CR, obs-fold, control characters and a head
 * over its limit (every byte counts); chunk_scan() checks chunked framing
 * byte by byte, with size lines and trailers bounded, reads the trailer
 * section's syntax (RFC 9112 7.1.2) and marks its field lines, which the
 * proxy drops unparsed: llhttp would read Content-Length, Transfer-Encoding
 * and Connection there as if in the head.  Pure: no I/O, no allocation, any
 * split of the input gives the same answer.
 */
#include <string.h>

#include "http.h"
#include "proxy.h"

/* ---- a status line -------------------------------------------------------- */

int status_line_code(const char *line, size_t len)
{
	int st = 0;
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' || (len > 12 && line[12] != ' '))
		return -1;
	for (size_t i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		st = st * 10 + (line[i] - '0');
	}
	return st;
}

/* ---- the head scanner ----------------------------------------------------- */

void head_scan_init(struct head_scan *h)
{
	*h = (struct head_scan){ .prev = '\n', .line_start = true };
}

/* Refuses the head at p[at]: *used = the bytes before it. */
static int head_fail(struct head_scan *h, const char *why, size_t at, size_t *used)
{
	h->error = why;
	*used = at;
	return -1;
}

/* The head so far is over its limit (blank lines and blanks count too). */
static int head_over(struct head_scan *h, size_t n, size_t *used)
{
	h->bytes += n;
	h->too_long = h->max > 0 && h->bytes > h->max;
	return h->too_long ? head_fail(h, "header block over the limit", n, used) : 0;
}

/* A control character a header or chunk line may not hold (tab it may). */
static inline bool field_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Counts n more bytes of the start line (if it is still going on) and keeps
 * them while start[] has room: the first 16 are enough to read the status. */
static void start_line_bytes(struct head_scan *h, const unsigned char *p, size_t n)
{
	if (h->start_done)
		return;
	if (h->start_len < sizeof(h->start)) {
		size_t room = sizeof(h->start) - h->start_len;
		memcpy(h->start + h->start_len, p, n < room ? n : room);
	}
	h->start_len += n;
}

/* The common case, the rest of a line: bytes that are neither CR, LF nor
 * another control character need no check but the count.  Returns how many
 * such bytes begin p (none at a line's start or after a CR). */
static size_t plain_run(struct head_scan *h, const unsigned char *p, size_t n)
{
	size_t i = 0;
	if (h->line_start || h->prev == '\r')
		return 0;
	while (i < n && !field_ctl(p[i]))   /* CR and LF are control characters too */
		i++;
	if (i > 0) {
		h->prev = p[i - 1];
		start_line_bytes(h, p, i);
	}
	return i;
}

int head_scan(struct head_scan *h, const char *p, size_t n, size_t *used)
{
	for (size_t i = 0; i < n; i++) {
		i += plain_run(h, (const unsigned char *)p + i, n - i);
		if (i == n)
			break;
		unsigned char c = (unsigned char)p[i];
		if (c == '\n') {
			if (h->prev != '\r')
				return head_fail(h, "bare LF in the header block", i, used);
			h->prev = c;
			h->start_done |= h->seen_line;
			if (h->line_start && h->seen_line) {
				*used = i + 1;
				return head_over(h, i + 1, used) < 0 ? -1 : 1;
			}
			h->line_start = true;   /* blank lines before the start line are ignored */
			continue;
		}
		if (h->prev == '\r')
			return head_fail(h, "bare CR in the header block", i, used);
		h->prev = c;
		if (c == '\r')
			continue;
		if (h->line_start) {
			if (c == ' ' || c == '\t')
				return head_fail(h, h->seen_line ? "obs-fold (a header line starting with white space)"
				                                 : "white space before the start line", i, used);
			h->line_start = false;
			h->seen_line = true;
		}
		start_line_bytes(h, &c, 1);
		if (field_ctl(c))
			return head_fail(h, c == 0 ? "NUL in the header block" : "control character in the header block", i,
			                 used);
	}
	*used = n;
	return head_over(h, n, used);
}

/* ---- the chunked-framing scanner ----------------------------------------- */

void chunk_scan_init(struct chunk_scan *cs)
{
	*cs = (struct chunk_scan){ .at = CH_SIZE };
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

static int chunk_fail(struct chunk_scan *cs, const char *why)
{
	cs->error = why;
	return -1;
}

/* Is c, read in state cs->at, a byte of a trailer field line? */
static bool in_trailer_line(const struct chunk_scan *cs, unsigned char c)
{
	return (cs->at == CH_TRAILER_START && c != '\r') || cs->at == CH_TRAILER_NAME ||
	       cs->at == CH_TRAILER_VALUE || cs->at == CH_TRAILER_LF;
}

int chunk_scan(struct chunk_scan *cs, const char *p, size_t n, size_t *used)
{
	cs->hide = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		bool ctl = field_ctl(c);
		/* A run is trailer field lines alone, or none: stop where that changes. */
		bool hide = in_trailer_line(cs, c);
		if (i == 0) {
			cs->hide = hide;
		} else if (hide != cs->hide) {
			*used = i;
			return 0;
		}
		/* Size lines (zeros and extensions included) and trailers are bounded. */
		if (cs->at != CH_DATA && ++cs->line > CHUNK_LINE_MAX)
			return chunk_fail(cs, cs->at >= CH_TRAILER_START ? "chunked trailers too long"
			                                                 : "chunk size line too long");
		switch (cs->at) {
		case CH_SIZE:
			if (hexval(c) >= 0) {
				if (cs->left >= (uint64_t)1 << 56)
					return chunk_fail(cs, "chunk size overflow");
				cs->left = cs->left * 16 + (uint64_t)hexval(c);
				cs->digits++;
			} else if (cs->digits == 0) {
				return chunk_fail(cs, "invalid chunk size");
			} else if (c == ';' || c == ' ' || c == '\t') {
				cs->at = CH_EXT;
			} else if (c == '\r') {
				cs->at = CH_SIZE_LF;
			} else {
				return chunk_fail(cs, "invalid chunk size");
			}
			break;
		case CH_EXT:   /* chunk extensions are ignored, but must be clean */
			if (c == '\r')
				cs->at = CH_SIZE_LF;
			else if (ctl)
				return chunk_fail(cs, "control character in a chunk extension");
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return chunk_fail(cs, "chunk size line not ended by CRLF");
			cs->digits = 0;
			if (cs->left > 0)
				cs->line = 0;   /* the trailers go on counting after the last one */
			cs->at = cs->left == 0 ? CH_TRAILER_START : CH_DATA;
			break;
		case CH_DATA: {
			size_t take = n - i < cs->left ? n - i : (size_t)cs->left;
			cs->left -= take;
			i += take - 1;
			if (cs->left == 0)
				cs->at = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r')
				return chunk_fail(cs, "chunk data not followed by CRLF");
			cs->at = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return chunk_fail(cs, "chunk data not followed by CRLF");
			cs->line = 0;
			cs->at = CH_SIZE;
			break;
		case CH_TRAILER_START:   /* field-name ":" OWS field-value OWS CRLF, or the end */
			if (c == '\r') {
				cs->at = CH_END_LF;
				break;
			}
			if (c == ' ' || c == '\t')
				return chunk_fail(cs, "obs-fold in a trailer");
			if (c == ':')
				return chunk_fail(cs, "a trailer field with no name");
			cs->at = CH_TRAILER_NAME;
			/* fall through */
		case CH_TRAILER_NAME:
			if (c == ':')
				cs->at = CH_TRAILER_VALUE;
			else if (c == ' ' || c == '\t')
				return chunk_fail(cs, "white space before a trailer field's colon");
			else if (c == '\r' || c == '\n')
				return chunk_fail(cs, "a trailer line with no colon");
			else if (!http_tchar(c))
				return chunk_fail(cs, "invalid character in a trailer field name");
			break;
		case CH_TRAILER_VALUE:
			if (c == '\r')
				cs->at = CH_TRAILER_LF;
			else if (c == '\n')
				return chunk_fail(cs, "bare LF in a trailer");
			else if (ctl)
				return chunk_fail(cs, "control character in a trailer");
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				return chunk_fail(cs, "bare CR in a trailer");
			cs->at = CH_TRAILER_START;
			break;
		case CH_END_LF:
			if (c != '\n')
				return chunk_fail(cs, "chunked body not ended by CRLF");
			*used = i + 1;
			return 1;
		}
	}
	*used = n;
	return 0;
}
