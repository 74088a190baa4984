/*
 * strict.h - an independent, deliberately simple reading of HTTP/1.1
 * request framing (RFC 9112), written for the differential harnesses and
 * sharing no code with the proxy or llhttp.  It answers one question: given
 * these bytes, where does the first request end, or is it not a valid
 * request at all?
 *
 * Strict where framing is at stake: CRLF only, no obs-fold, no white space
 * before a colon or at the start of a line, token names, visible
 * request-targets, exactly one valid Content-Length or exactly one final
 * "chunked" (never both, never Transfer-Encoding in HTTP/1.0), exactly one
 * Host in HTTP/1.1 (at most one otherwise), and the chunked grammar of
 * RFC 9112 section 7.1 (sizes, CRLFs, trailer field lines; of extensions,
 * only that they start with ";" and hold no control bytes: see chunk_ext).
 * Lenient where the RFC lets a recipient be (section 2.2): empty lines
 * before the request-line are skipped; empty list elements are ignored.
 * Lenient, too, where a rule does not move a message's end and llhttp is
 * known to be looser: runs of SP in the request-line (section 3 allows
 * it), bytes 0x80-0xFF in the request-target (RFC 3986 has none; llhttp
 * takes them, as nginx does; the proxy forwards them as sent).
 */
#ifndef FUZZ_STRICT_H
#define FUZZ_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum strict_result {
	STRICT_OK,      /* a complete, valid message: len bytes            */
	STRICT_MORE,    /* valid so far, incomplete                        */
	STRICT_BAD,     /* not a valid message: why says what               */
};

struct strict_req {
	size_t len;             /* STRICT_OK: bytes of the message, leading empty lines included */
	size_t head_len;        /* bytes up to the end of the empty line ending the head          */
	int minor;              /* HTTP/1.minor                                                  */
	bool keep_alive;        /* another request may follow on the connection                  */
	bool chunked;
	uint64_t content_length;
	const char *why;        /* STRICT_BAD: the rule broken                                  */
};

/* Reads the request at the start of p[0..n). */
enum strict_result strict_request(const char *p, size_t n, struct strict_req *r);

/* Reads a chunked body (chunks, last chunk, trailer section, CRLF) at the
 * start of p[0..n); *len is its size on STRICT_OK, *why says why on BAD. */
enum strict_result strict_chunked(const char *p, size_t n, size_t *len, const char **why);

#endif
