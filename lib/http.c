/*
 * http.c - the llhttp glue (see http.h).  One static settings table routes
 * llhttp's callbacks to the collecting code below and to the tool's hooks.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct http_msg *msg_of(llhttp_t *p) { return (struct http_msg *)p->data; }

/* Stops the parse because a size limit was crossed. */
static int over_limit(struct http_msg *m, int status, const char *what)
{
	m->limit_status = status;
	snprintf(m->error, sizeof(m->error), "%s over the limit", what);
	return -1;
}

/* Appends a span of the head to raw, counting it against max_head. */
static int add_span(struct http_msg *m, const char *at, size_t len)
{
	m->head_bytes += len;
	if (m->head_bytes > m->max_head)
		return over_limit(m, 431, "header block");
	if (buf_append(&m->raw, at, len) < 0) {
		snprintf(m->error, sizeof(m->error), "out of memory");
		return -1;
	}
	return 0;
}

static int end_span(struct http_msg *m)
{
	return buf_append(&m->raw, "", 1);   /* the NUL that makes it a C string */
}

static uint32_t raw_end(const struct http_msg *m) { return (uint32_t)m->raw.len; }

/* ---- llhttp callbacks ---------------------------------------------------- */

/* A new message: forget the previous one's head. */
static int cb_message_begin(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	buf_clear(&m->raw);
	m->nhdrs = 0;
	m->head_bytes = 0;
	m->headers_done = false;
	m->in_message = true;
	m->target = 0;
	m->target_len = 0;
	return 0;
}

/* The request target (or the reason phrase, for responses), in pieces. */
static int cb_target(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	if (m->target_len == 0)
		m->target = raw_end(m);
	m->target_len += (uint32_t)len;
	if (p->type == HTTP_REQUEST && m->target_len > m->max_target)
		return over_limit(m, 414, "request target");
	return add_span(m, at, len);
}

/* What llhttp 8 lets through and RFC 9112 does not: HTAB and FF in a
 * request-target (section 3.2: no white space; a server that splits the
 * request-line at white space would read another target than we did), and
 * control bytes, NUL included, in a reason phrase (section 4: HTAB / SP /
 * VCHAR / obs-text; the tools use it as a C string). */
static int cb_target_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	bool request = p->type == HTTP_REQUEST;
	if (m->target_len == 0)
		m->target = raw_end(m);
	for (uint32_t i = 0; i < m->target_len; i++) {
		unsigned char c = (unsigned char)m->raw.data[m->target + i];
		if (request ? c <= ' ' || c == 0x7f : (c < ' ' && c != '\t') || c == 0x7f) {
			snprintf(m->error, sizeof(m->error), "invalid character in the %s",
			         request ? "request target" : "reason phrase");
			return -1;
		}
	}
	return end_span(m);
}

/* Trailer fields (after a chunked body) are not kept: RFC 9110 6.5.1 bars
 * merging them into the head, and no tool reads them.  They still count
 * toward max_head (the head's bytes and theirs, as before). */
static bool trailing(const llhttp_t *p) { return (p->flags & F_TRAILING) != 0; }

static int trailer_span(struct http_msg *m, size_t len)
{
	m->head_bytes += len;
	return m->head_bytes > m->max_head ? over_limit(m, 431, "header block") : 0;
}

/* A header name, in pieces: a new header starts when the previous value
 * is complete (or this is the first). */
static int cb_field(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	struct http_hdr *h;
	if (trailing(p))
		return trailer_span(m, len);
	if (m->nhdrs == 0 || m->hdrs[m->nhdrs - 1].value != 0) {
		if (m->max_fields > 0 && m->nhdrs == m->max_fields)
			return over_limit(m, 431, "header count");
		if (m->nhdrs == m->hdrs_cap) {
			size_t cap = m->hdrs_cap ? m->hdrs_cap * 2 : 16;
			h = realloc(m->hdrs, cap * sizeof(*h));
			if (h == NULL) {
				snprintf(m->error, sizeof(m->error), "out of memory");
				return -1;
			}
			m->hdrs = h;
			m->hdrs_cap = cap;
		}
		h = &m->hdrs[m->nhdrs++];
		*h = (struct http_hdr){ .name = raw_end(m) };
	}
	h = &m->hdrs[m->nhdrs - 1];
	h->name_len += (uint32_t)len;
	return add_span(m, at, len);
}

/* RFC 9110 token characters; llhttp 8 lets a space slip into a name, and
 * takes a line that starts with the colon as a header with no name. */
bool http_tchar(unsigned char c)
{
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	}
}

static int cb_field_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	if (trailing(p))
		return 0;
	const struct http_hdr *h = m->nhdrs ? &m->hdrs[m->nhdrs - 1] : NULL;
	if (h == NULL || h->name_len == 0) {
		snprintf(m->error, sizeof(m->error), "empty header name");
		return -1;
	}
	for (uint32_t i = 0; i < h->name_len; i++)
		if (!http_tchar((unsigned char)m->raw.data[h->name + i])) {
			snprintf(m->error, sizeof(m->error), "invalid character in header name");
			return -1;
		}
	return end_span(m);
}

static int cb_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	if (trailing(p))
		return trailer_span(m, len);
	struct http_hdr *h = &m->hdrs[m->nhdrs - 1];
	if (h->value == 0)
		h->value = raw_end(m);
	h->value_len += (uint32_t)len;
	return add_span(m, at, len);
}

/* An empty value never called cb_value: point it at an empty string.
 * Blanks after the value are not part of it (RFC 9110 5.5): llhttp keeps
 * them, so "Host: a  " would route one way and reach the server another. */
static int cb_value_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	if (trailing(p))
		return 0;
	struct http_hdr *h = &m->hdrs[m->nhdrs - 1];
	if (h->value == 0)
		h->value = raw_end(m);
	while (h->value_len > 0 && (m->raw.data[m->raw.len - 1] == ' ' || m->raw.data[m->raw.len - 1] == '\t')) {
		h->value_len--;
		m->raw.len--;
	}
	return end_span(m);
}

static int cb_headers_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	m->headers_done = true;
	return m->hooks->on_headers ? m->hooks->on_headers(m) : 0;
}

static int cb_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_msg *m = msg_of(p);
	return m->hooks->on_body ? m->hooks->on_body(m, at, len) : 0;
}

static int cb_message_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	m->in_message = false;
	return m->hooks->on_complete ? m->hooks->on_complete(m) : 0;
}

static int cb_chunk_header(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	return m->hooks->on_chunk_header ? m->hooks->on_chunk_header(m) : 0;
}

static int cb_chunk_complete(llhttp_t *p)
{
	struct http_msg *m = msg_of(p);
	return m->hooks->on_chunk_complete ? m->hooks->on_chunk_complete(m) : 0;
}

static const llhttp_settings_t settings = {
	.on_message_begin = cb_message_begin,     /* reset the collected head          */
	.on_url = cb_target,                      /* request target, in pieces         */
	.on_status = cb_target,                   /* reason phrase, in pieces          */
	.on_method = NULL,                        /* llhttp_get_method() is enough     */
	.on_version = NULL,                       /* http_major/http_minor are enough  */
	.on_header_field = cb_field,              /* header name, in pieces            */
	.on_header_value = cb_value,              /* header value, in pieces           */
	.on_chunk_extension_name = NULL,          /* chunk extensions are ignored      */
	.on_chunk_extension_value = NULL,
	.on_headers_complete = cb_headers_complete, /* -> hooks->on_headers           */
	.on_body = cb_body,                       /* -> hooks->on_body                 */
	.on_message_complete = cb_message_complete, /* -> hooks->on_complete          */
	.on_url_complete = cb_target_complete,    /* NUL-terminate the target          */
	.on_status_complete = cb_target_complete, /* NUL-terminate the reason          */
	.on_method_complete = NULL,
	.on_version_complete = NULL,
	.on_header_field_complete = cb_field_complete,
	.on_header_value_complete = cb_value_complete,
	.on_chunk_extension_name_complete = NULL,
	.on_chunk_extension_value_complete = NULL,
	.on_chunk_header = cb_chunk_header,       /* -> hooks->on_chunk_header         */
	.on_chunk_complete = cb_chunk_complete,   /* -> hooks->on_chunk_complete       */
	.on_reset = NULL,                         /* on_message_begin does the work    */
};

/* ---- public API ---------------------------------------------------------- */

void http_msg_init(struct http_msg *m, llhttp_type_t type, const struct http_hooks *hooks, void *user)
{
	static const struct http_hooks none;
	memset(m, 0, sizeof(*m));
	llhttp_init(&m->parser, type, &settings);
	m->parser.data = m;
	m->hooks = hooks ? hooks : &none;
	m->user = user;
	m->max_head = 16 * 1024;
	m->max_target = 8 * 1024;
}

void http_msg_free(struct http_msg *m)
{
	buf_free(&m->raw);
	free(m->hdrs);
	m->hdrs = NULL;
	m->nhdrs = m->hdrs_cap = 0;
}

static void set_error(struct http_msg *m, llhttp_errno_t e)
{
	if (e == HPE_OK || e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE)
		return;
	if (m->error[0] != '\0')
		return;     /* a callback of ours already said why */
	const char *reason = llhttp_get_error_reason(&m->parser);
	snprintf(m->error, sizeof(m->error), "%s: %s", llhttp_errno_name(e), reason ? reason : "parse error");
}

llhttp_errno_t http_msg_feed(struct http_msg *m, const char *data, size_t len, size_t *consumed)
{
	if (llhttp_get_errno(&m->parser) == HPE_OK)
		m->error[0] = '\0';
	llhttp_errno_t e = llhttp_execute(&m->parser, data, len);
	if (consumed != NULL) {
		const char *pos = llhttp_get_error_pos(&m->parser);
		*consumed = (e == HPE_OK || pos == NULL) ? len : (size_t)(pos - data);
	}
	set_error(m, e);
	return e;
}

llhttp_errno_t http_msg_finish(struct http_msg *m)
{
	llhttp_errno_t e = llhttp_finish(&m->parser);
	set_error(m, e);
	return e;
}

void http_msg_resume(struct http_msg *m)
{
	llhttp_resume(&m->parser);
}

const char *http_method(const struct http_msg *m)
{
	return llhttp_method_name((llhttp_method_t)m->parser.method);
}

const char *http_get(const struct http_msg *m, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < m->nhdrs; i++)
		if (http_hdr_is_n(m, i, name, len))
			return http_hdr_value(m, i);
	return NULL;
}

size_t http_count(const struct http_msg *m, const char *name)
{
	size_t n = 0, len = strlen(name);
	for (size_t i = 0; i < m->nhdrs; i++)
		n += http_hdr_is_n(m, i, name, len);
	return n;
}

const char *http_list_next(const char **cursor, size_t *len)
{
	const char *p = *cursor;
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (*p == '\0') {
		*cursor = p;
		return NULL;
	}
	const char *end = p;
	while (*end != '\0' && *end != ',')
		end++;
	const char *last = end;
	while (last > p && (last[-1] == ' ' || last[-1] == '\t'))
		last--;
	*cursor = end;
	*len = (size_t)(last - p);
	return p;
}

bool http_list_has(const char *value, const char *token)
{
	size_t tlen = strlen(token), n;
	const char *cursor = value, *el;
	while ((el = http_list_next(&cursor, &n)) != NULL)
		if (n == tlen && strncasecmp(el, token, tlen) == 0)
			return true;
	return false;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default:  return "Unknown";
	}
}
