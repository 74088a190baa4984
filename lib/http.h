/*
 * http.h - the llhttp glue shared by every tool: one parser per direction of
 * a connection that collects the request line (or status line) and headers
 * of each message, enforces size limits, and hands the body and the message
 * boundaries to the tool through a few hooks.
 *
 * Trailer fields (after a chunked body's last chunk) are not collected:
 * they never join the head's fields (RFC 9110 6.5.1).  llhttp still reads
 * Content-Length, Transfer-Encoding and Connection in them into its flags;
 * the proxy keeps them from it (chunk_scan in proxy/scan.c).
 *
 * Memory: the target / reason and every header name and value are copied
 * into msg->raw, NUL-terminated, and stay valid until the next message
 * begins (llhttp's on_message_begin) or http_msg_free().  To work on one
 * message at a time, return HPE_PAUSED from on_complete and resume with
 * http_msg_resume() when done with it: that is how pipelining works.
 */
#ifndef L7_HTTP_H
#define L7_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>

#include <llhttp.h>

#include "buf.h"

struct http_msg;

/* Each hook may be NULL.  Return values are llhttp's: 0 to go on, -1 for an
 * error (the parse stops with HPE_USER), HPE_PAUSED to pause. */
struct http_hooks {
	/* Request line / status line and headers are complete.  May also return
	 * 1: the message has no body (a response to HEAD). */
	int (*on_headers)(struct http_msg *m);
	/* A piece of the body, already de-chunked; may be called many times. */
	int (*on_body)(struct http_msg *m, const char *at, size_t len);
	/* The message is complete (trailers included). */
	int (*on_complete)(struct http_msg *m);
	/* A chunk header was read: m->parser.content_length is its size. */
	int (*on_chunk_header)(struct http_msg *m);
	int (*on_chunk_complete)(struct http_msg *m);
};

struct http_hdr {
	uint32_t name, name_len;     /* offsets into raw */
	uint32_t value, value_len;
};

struct http_msg {
	llhttp_t parser;
	const struct http_hooks *hooks;
	void *user;                  /* the tool's object (a connection) */

	struct buf raw;              /* target or reason, names, values; NUL-terminated */
	uint32_t target, target_len; /* request target, or a response's reason phrase */
	struct http_hdr *hdrs;
	size_t nhdrs, hdrs_cap;
	size_t head_bytes;           /* bytes of the head seen so far (limit: max_head) */

	size_t max_head;             /* request/status line + headers; default 16 KiB  */
	size_t max_target;           /* request target; default 8 KiB                  */
	size_t max_fields;           /* header lines; 0 (default): no limit but max_head */
	int limit_status;            /* 431 or 414 when a limit stopped the parse      */
	bool in_message;             /* between message begin and message complete     */
	bool headers_done;
	char error[160];             /* why the last parse failed                      */
};

/* Prepares m to parse requests (HTTP_REQUEST) or responses (HTTP_RESPONSE). */
void http_msg_init(struct http_msg *m, llhttp_type_t type, const struct http_hooks *hooks, void *user);
void http_msg_free(struct http_msg *m);

/* Feeds len bytes.  Returns HPE_OK when all were consumed, HPE_PAUSED when
 * a hook paused (then *consumed says how many bytes were used; feed the rest
 * after http_msg_resume), or an error: m->error says why in one line, and
 * m->limit_status is 431/414 if a size limit was the cause. */
llhttp_errno_t http_msg_feed(struct http_msg *m, const char *data, size_t len, size_t *consumed);
/* Tells the parser the peer closed: completes a read-until-close body, or
 * returns an error for a message cut short (HPE_OK if between messages). */
llhttp_errno_t http_msg_finish(struct http_msg *m);
void http_msg_resume(struct http_msg *m);

static inline const char *http_target(const struct http_msg *m) { return m->target_len ? m->raw.data + m->target : ""; }
static inline const char *http_hdr_name(const struct http_msg *m, size_t i) { return m->raw.data + m->hdrs[i].name; }
static inline const char *http_hdr_value(const struct http_msg *m, size_t i) { return m->raw.data + m->hdrs[i].value; }
/* Is header i called name, in any case?  Lengths are compared first, so a
 * miss (the common case) costs no string compare. */
static inline bool http_hdr_is_n(const struct http_msg *m, size_t i, const char *name, size_t len)
{
	return m->hdrs[i].name_len == len && strncasecmp(http_hdr_name(m, i), name, len) == 0;
}
static inline bool http_hdr_is(const struct http_msg *m, size_t i, const char *name)
{
	return http_hdr_is_n(m, i, name, strlen(name));   /* strlen of a literal costs nothing */
}
/* "GET", "POST", ... for requests. */
const char *http_method(const struct http_msg *m);
static inline int http_status(const struct http_msg *m) { return (int)m->parser.status_code; }
static inline int http_major(const struct http_msg *m) { return m->parser.http_major; }
static inline int http_minor(const struct http_msg *m) { return m->parser.http_minor; }
/* True if the connection may carry another message after this one. */
static inline bool http_keep_alive(const struct http_msg *m) { return llhttp_should_keep_alive(&m->parser) != 0; }

/* The value of the first header named name (case-insensitive), or NULL. */
const char *http_get(const struct http_msg *m, const char *name);
/* How many headers are named name. */
size_t http_count(const struct http_msg *m, const char *name);
/* Walks a comma-separated header list ("gzip, chunked"): returns the next
 * element's start with its length in *len (blanks trimmed, empty elements
 * skipped) and moves *cursor past it; NULL at the end. */
const char *http_list_next(const char **cursor, size_t *len);
/* True if the comma-separated list value contains token (case-insensitive),
 * as in "Connection: keep-alive, Upgrade". */
bool http_list_has(const char *value, const char *token);
/* The standard reason phrase for a status code ("Not Found"), or "Unknown". */
const char *http_reason(int status);
/* True for the characters of an RFC 9110 token (field names, methods). */
bool http_tchar(unsigned char c);

#endif
