/*
 * strict.h - an independent, deliberately simple reading of HTTP/1.1
 * message framing (RFC 9112), written for the differential harnesses and
 * sharing no code with the proxy or llhttp.  It answers one question: given
 * these bytes, where does the first request (or response) end, or is it not
 * a valid message at all?
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
	bool line_ok;           /* the request-line was read valid (BAD came later)               */
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

/* A response (RFC 9112 4 and 6.3), read as a client that sent the request
 * does: a response to HEAD, a 1xx, 204 or 304 ends with its head, whatever
 * its fields say; chunked, Content-Length, or else the body runs until the
 * connection closes.  The same field rules as requests, plus: a status-line
 * "HTTP/1.x DDD SP reason" (the SP may go with an empty reason: nothing
 * moves the framing there); 101 is BAD (no request here asks to upgrade);
 * Transfer-Encoding in HTTP/1.0, or one whose final coding is not a single
 * chunked, is BAD (RFC 9112 6.1: faulty framing; a close-delimited body
 * under another coding is no framing a proxy can keep). */
struct strict_resp {
	size_t len;             /* STRICT_OK: bytes of the message                          */
	size_t head_len;        /* bytes up to the end of the empty line ending the head    */
	int status, minor;
	bool keep_alive;        /* another response may follow on the connection           */
	bool chunked;
	unsigned codings;       /* transfer codings listed, the final chunked included     */
	bool until_close;       /* the body ends when the connection closes                 */
	bool has_body;          /* not HEAD, 1xx, 204 or 304                                */
	uint64_t content_length;
	const char *why;
};
/* eof: the connection closed after p[n-1], which ends a body delimited by
 * the close (STRICT_OK, len n); without eof such a body is STRICT_MORE. */
enum strict_result strict_response(const char *p, size_t n, bool head, bool eof, struct strict_resp *r);

/* The body of a message read STRICT_OK (or a close-delimited one so far),
 * de-chunked: writes it to out (room for len - head_len bytes) and returns
 * its size. */
size_t strict_body(const char *p, size_t head_len, size_t len, bool chunked, char *out);

/* Walks the field lines of a valid head p[0..head_len): false after the
 * last; else the name and the value (trimmed of OWS) of the next one.
 * *at starts at 0. */
struct strict_field {
	const char *name, *value;
	size_t name_len, value_len;
};
bool strict_next_field(const char *p, size_t head_len, size_t *at, struct strict_field *f);

#endif
