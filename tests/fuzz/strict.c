/*
 * strict.c - the strict request and response reader of the differential
 * harnesses (see strict.h).  Straight-line code over a byte array: a cursor, one function
 * per grammar rule, RFC 9112 section numbers beside each.
 */
#include "strict.h"

#include <string.h>

/* A cursor over the input; every rule returns a strict_result. */
struct rd {
	const unsigned char *p;
	size_t n, at;
	const char *why;
};

static enum strict_result bad(struct rd *r, const char *why)
{
	r->why = why;
	return STRICT_BAD;
}

/* RFC 9110 5.6.2 */
static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool vchar(unsigned char c) { return c >= 0x21 && c <= 0x7e; }
static bool obs_text(unsigned char c) { return c >= 0x80; }
static bool ows(unsigned char c) { return c == ' ' || c == '\t'; }

static int hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Finds the end of the line at r->at: *end is the CR of its CRLF.  A bare
 * CR or LF anywhere is an error (RFC 9112 2.2: this reader does not take
 * the MAY of a bare LF). */
static enum strict_result line(struct rd *r, size_t *end)
{
	for (size_t i = r->at; i < r->n; i++) {
		if (r->p[i] == '\n')
			return bad(r, "bare LF");
		if (r->p[i] == '\r') {
			if (i + 1 == r->n)
				return STRICT_MORE;
			if (r->p[i + 1] != '\n')
				return bad(r, "bare CR");
			*end = i;
			return STRICT_OK;
		}
	}
	return STRICT_MORE;
}

/* ---- the head ------------------------------------------------------------ */

/* A field line name ":" OWS value OWS (RFC 9112 5, RFC 9110 5.5), the line
 * ending at end.  Sets the name and the trimmed value. */
static enum strict_result field_line(struct rd *r, size_t end, size_t *name_len, size_t *v, size_t *v_len)
{
	size_t i = r->at;
	if (ows(r->p[i]))
		return bad(r, "white space at the start of a field line (obs-fold)");
	while (i < end && tchar(r->p[i]))
		i++;
	if (i == r->at)
		return bad(r, "a field name that is not a token");
	if (i == end || r->p[i] != ':')
		return bad(r, ows(r->p[i]) ? "white space between a field name and the colon" : "no colon after the field name");
	*name_len = i - r->at;
	i++;
	while (i < end && ows(r->p[i]))
		i++;
	size_t last = end;
	while (last > i && ows(r->p[last - 1]))
		last--;
	for (size_t k = i; k < last; k++)
		if (!(vchar(r->p[k]) || obs_text(r->p[k]) || ows(r->p[k])))
			return bad(r, "a control character in a field value");
	*v = i;
	*v_len = last - i;
	return STRICT_OK;
}

static bool name_is(const struct rd *r, size_t at, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char a = r->p[at + i], b = (unsigned char)name[i];
		if ((a | 0x20) != (b | 0x20))
			return false;
	}
	return true;
}

/* Walks a comma-separated list (RFC 9110 5.6.1), skipping empty elements:
 * returns false at the end, else the element's bounds (trimmed). */
static bool list_next(const struct rd *r, size_t *at, size_t end, size_t *el, size_t *el_len)
{
	size_t i = *at;
	while (i < end && (ows(r->p[i]) || r->p[i] == ','))
		i++;
	if (i == end) {
		*at = i;
		return false;
	}
	size_t j = i;
	while (j < end && r->p[j] != ',')
		j++;
	size_t last = j;
	while (last > i && ows(r->p[last - 1]))
		last--;
	*el = i;
	*el_len = last - i;
	*at = j;
	return true;
}

/* What the framing needs from the field lines. */
struct fields {
	unsigned host, cl, te;
	uint64_t content_length;
	unsigned codings, chunked_codings;
	bool final_chunked, conn_close, conn_keep_alive;
};

/* A transfer-coding: token *( OWS ";" OWS token "=" ( token / quoted ) ),
 * checked loosely past its name: only the name matters for framing. */
static enum strict_result coding(struct rd *r, size_t el, size_t len, struct fields *f)
{
	size_t i = el;
	while (i < el + len && tchar(r->p[i]))
		i++;
	if (i == el)
		return bad(r, "a transfer coding that is not a token");
	size_t name_len = i - el;
	while (i < el + len && ows(r->p[i]))
		i++;
	if (i < el + len && r->p[i] != ';')
		return bad(r, "junk after a transfer coding");
	f->codings++;
	f->final_chunked = name_is(r, el, name_len, "chunked");
	if (f->final_chunked)
		f->chunked_codings++;
	return STRICT_OK;
}

/* Content-Length = 1*DIGIT (RFC 9110 8.6); this reader takes no list. */
static enum strict_result content_length(struct rd *r, size_t v, size_t len, struct fields *f)
{
	uint64_t n = 0;
	if (len == 0)
		return bad(r, "an empty Content-Length");
	for (size_t i = v; i < v + len; i++) {
		if (r->p[i] < '0' || r->p[i] > '9')
			return bad(r, "a Content-Length that is not 1*DIGIT");
		if (n > (UINT64_MAX - 9) / 10)
			return bad(r, "a Content-Length too large");
		n = n * 10 + (uint64_t)(r->p[i] - '0');
	}
	f->content_length = n;
	return STRICT_OK;
}

static enum strict_result field(struct rd *r, size_t end, struct fields *f)
{
	size_t name_len, v, v_len, at, el, el_len;
	enum strict_result res = field_line(r, end, &name_len, &v, &v_len);
	if (res != STRICT_OK)
		return res;
	size_t name = r->at;
	if (name_is(r, name, name_len, "Host")) {
		f->host++;
	} else if (name_is(r, name, name_len, "Content-Length")) {
		f->cl++;
		return content_length(r, v, v_len, f);
	} else if (name_is(r, name, name_len, "Transfer-Encoding")) {
		f->te++;
		for (at = v; list_next(r, &at, v + v_len, &el, &el_len);)
			if ((res = coding(r, el, el_len, f)) != STRICT_OK)
				return res;
	} else if (name_is(r, name, name_len, "Connection")) {
		for (at = v; list_next(r, &at, v + v_len, &el, &el_len);) {
			f->conn_close |= name_is(r, el, el_len, "close");
			f->conn_keep_alive |= name_is(r, el, el_len, "keep-alive");
		}
	}
	return STRICT_OK;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3): a
 * target of visible characters, HTTP/1.x.  Runs of SP count as one (the
 * section's MAY: the proxy writes the line anew in any case). */
static enum strict_result request_line(struct rd *r, size_t end, int *minor)
{
	size_t i = r->at;
	while (i < end && tchar(r->p[i]))
		i++;
	if (i == r->at || i == end || r->p[i] != ' ')
		return bad(r, "a method that is not a token followed by SP");
	while (i < end && r->p[i] == ' ')
		i++;
	size_t t = i;
	while (i < end && (vchar(r->p[i]) || obs_text(r->p[i])))   /* see strict.h */
		i++;
	if (i == t || i == end || r->p[i] != ' ')
		return bad(r, "a request-target that is not visible characters followed by SP");
	while (i < end && r->p[i] == ' ')
		i++;
	if (end - i != 8 || memcmp(r->p + i, "HTTP/", 5) != 0 || r->p[i + 6] != '.' ||
	    r->p[i + 5] < '0' || r->p[i + 5] > '9' || r->p[i + 7] < '0' || r->p[i + 7] > '9')
		return bad(r, "an HTTP-version that is not HTTP/DIGIT.DIGIT at the end of the line");
	if (r->p[i + 5] != '1')
		return bad(r, "a major version other than 1");
	*minor = r->p[i + 7] - '0';
	return STRICT_OK;
}

/* ---- the chunked body (RFC 9112 7.1) -------------------------------------- */

static void skip_ows(struct rd *r, size_t end)
{
	while (r->at < end && ows(r->p[r->at]))
		r->at++;
}

/* chunk-ext (RFC 9112 7.1.1), from r->at to end (the CR of the chunk-size
 * line).  Only its end matters to framing, and the proxy re-chunks bodies
 * without extensions (as nginx, it skips them to the CRLF): this reader
 * asks for a ";" first (or BWS and ";") and no control bytes, not for the
 * name=value grammar.  BWS without a ";" after it is no chunk-ext. */
static enum strict_result chunk_ext(struct rd *r, size_t end)
{
	if (r->at == end)
		return STRICT_OK;
	skip_ows(r, end);
	if (r->at == end || r->p[r->at] != ';')
		return bad(r, "junk after the chunk size");
	for (; r->at < end; r->at++)
		if (!(vchar(r->p[r->at]) || obs_text(r->p[r->at]) || ows(r->p[r->at])))
			return bad(r, "a control character in a chunk extension");
	return STRICT_OK;
}

/* Field lines up to the empty line (a head's after its start line, or a
 * chunked body's trailers: f NULL, read for their syntax only): sets r->at
 * past it. */
static enum strict_result fields(struct rd *r, struct fields *f)
{
	size_t end, name_len, v, v_len;
	enum strict_result res;
	for (;;) {
		if ((res = line(r, &end)) != STRICT_OK)
			return res;
		if (end == r->at) {
			r->at = end + 2;
			return STRICT_OK;
		}
		res = f != NULL ? field(r, end, f) : field_line(r, end, &name_len, &v, &v_len);
		if (res != STRICT_OK)
			return res;
		r->at = end + 2;
	}
}

static enum strict_result chunked(struct rd *r)
{
	size_t end;
	enum strict_result res;
	for (;;) {
		/* chunk-size [ chunk-ext ] CRLF */
		uint64_t size = 0;
		size_t digits = 0;
		for (; r->at < r->n && hex(r->p[r->at]) >= 0; r->at++, digits++) {
			if (size >= (uint64_t)1 << 56)
				return bad(r, "a chunk size over 2^60");   /* any size is valid; none this large is sane */
			size = size * 16 + (uint64_t)hex(r->p[r->at]);
		}
		if (r->at == r->n)
			return STRICT_MORE;
		if (digits == 0)
			return bad(r, "a chunk size that is not 1*HEXDIG");
		if ((res = line(r, &end)) != STRICT_OK)
			return res;
		if ((res = chunk_ext(r, end)) != STRICT_OK)
			return res;
		r->at = end + 2;
		if (size == 0)
			break;
		/* chunk-data CRLF */
		if (r->n - r->at < size)
			return STRICT_MORE;
		r->at += (size_t)size;
		if (r->n - r->at < 2)
			return r->n - r->at == 1 && r->p[r->at] != '\r' ? bad(r, "chunk data not followed by CRLF") : STRICT_MORE;
		if (r->p[r->at] != '\r' || r->p[r->at + 1] != '\n')
			return bad(r, "chunk data not followed by CRLF");
		r->at += 2;
	}
	return fields(r, NULL);   /* trailer-section = *( field-line CRLF ), then CRLF */
}

enum strict_result strict_chunked(const char *p, size_t n, size_t *len, const char **why)
{
	struct rd r = { .p = (const unsigned char *)p, .n = n };
	enum strict_result res = chunked(&r);
	*len = r.at;
	*why = r.why;
	return res;
}

/* ---- the head ----------------------------------------------------------------- */

/* RFC 9112 6.1 and 6.3: the framing, one way only (both directions). */
static enum strict_result framing(struct rd *r, const struct fields *f, int minor)
{
	if (f->te > 0 && minor == 0)
		return bad(r, "Transfer-Encoding in an HTTP/1.0 message");
	if (f->te > 0 && f->cl > 0)
		return bad(r, "both Transfer-Encoding and Content-Length");
	if (f->cl > 1)
		return bad(r, "more than one Content-Length");
	if (f->te > 0 && (!f->final_chunked || f->chunked_codings != 1))
		return bad(r, "a Transfer-Encoding whose final coding is not a single chunked");
	return STRICT_OK;
}

/* A body of content_length bytes, or chunked, from r->at. */
static enum strict_result body(struct rd *r, const struct fields *f)
{
	if (f->te > 0) {
		size_t len;
		enum strict_result res = strict_chunked((const char *)r->p + r->at, r->n - r->at, &len, &r->why);
		r->at += len;
		return res;
	}
	if (r->n - r->at < f->content_length)
		return STRICT_MORE;
	r->at += (size_t)f->content_length;
	return STRICT_OK;
}

/* RFC 9112 2.2: empty lines before the start line are ignored. */
static void skip_empty_lines(struct rd *r)
{
	while (r->n - r->at >= 2 && r->p[r->at] == '\r' && r->p[r->at + 1] == '\n')
		r->at += 2;
}

/* ---- the request ----------------------------------------------------------- */

enum strict_result strict_request(const char *p, size_t n, struct strict_req *req)
{
	struct rd r = { .p = (const unsigned char *)p, .n = n };
	struct fields f = { 0 };
	size_t end;
	enum strict_result res;

	memset(req, 0, sizeof(*req));
	skip_empty_lines(&r);
	if ((res = line(&r, &end)) != STRICT_OK)
		goto out;
	if ((res = request_line(&r, end, &req->minor)) != STRICT_OK)
		goto out;
	req->line_ok = true;
	r.at = end + 2;
	if ((res = fields(&r, &f)) != STRICT_OK)
		goto out;
	req->head_len = r.at;

	/* RFC 9112 3.2: Host exactly once in HTTP/1.1, never twice. */
	if (f.host > 1 || (f.host == 0 && req->minor >= 1)) {
		res = bad(&r, f.host ? "two Host fields" : "an HTTP/1.1 request without Host");
		goto out;
	}
	if ((res = framing(&r, &f, req->minor)) != STRICT_OK)
		goto out;
	req->keep_alive = !f.conn_close && (req->minor >= 1 || f.conn_keep_alive);
	req->chunked = f.te > 0;
	req->content_length = f.content_length;
	/* RFC 9112 6.3 item 7: a request without either has no body. */
	res = body(&r, &f);
out:
	req->len = r.at;
	req->why = r.why;
	return res;
}

/* ---- the response ------------------------------------------------------------ */

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112
 * 4); the SP before an empty reason may be missing (see strict.h). */
static enum strict_result status_line(struct rd *r, size_t end, int *minor, int *status)
{
	const unsigned char *s = r->p + r->at;
	size_t len = end - r->at;
	if (len < 12 || memcmp(s, "HTTP/", 5) != 0 || s[6] != '.' || s[5] < '0' || s[5] > '9' || s[7] < '0' ||
	    s[7] > '9' || s[8] != ' ')
		return bad(r, "a status-line that does not start with HTTP/DIGIT.DIGIT SP");
	if (s[5] != '1')
		return bad(r, "a major version other than 1");
	*minor = s[7] - '0';
	for (size_t i = 9; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return bad(r, "a status code that is not 3DIGIT");
	*status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (*status < 100 || *status > 599)
		return bad(r, "a status code outside 100-599");
	if (len > 12 && s[12] != ' ')
		return bad(r, "no SP after the status code");
	for (size_t i = 13; i < len; i++)
		if (!(vchar(s[i]) || obs_text(s[i]) || ows(s[i])))
			return bad(r, "a control character in the reason-phrase");
	return STRICT_OK;
}

enum strict_result strict_response(const char *p, size_t n, bool head, bool eof, struct strict_resp *resp)
{
	struct rd r = { .p = (const unsigned char *)p, .n = n };
	struct fields f = { 0 };
	size_t end;
	enum strict_result res;

	memset(resp, 0, sizeof(*resp));
	skip_empty_lines(&r);   /* not in RFC 9112 for responses, but it moves no framing */
	if ((res = line(&r, &end)) != STRICT_OK)
		goto out;
	if ((res = status_line(&r, end, &resp->minor, &resp->status)) != STRICT_OK)
		goto out;
	r.at = end + 2;
	if ((res = fields(&r, &f)) != STRICT_OK)
		goto out;
	resp->head_len = r.at;
	if (resp->status == 101) {
		res = bad(&r, "101 Switching Protocols without an Upgrade asked for");
		goto out;
	}
	if ((res = framing(&r, &f, resp->minor)) != STRICT_OK)
		goto out;
	resp->keep_alive = !f.conn_close && (resp->minor >= 1 || f.conn_keep_alive);
	resp->content_length = f.content_length;
	resp->codings = f.codings;
	/* RFC 9112 6.3 item 1: these end with their head. */
	resp->has_body = !(head || resp->status < 200 || resp->status == 204 || resp->status == 304);
	if (!resp->has_body)
		goto out;
	resp->chunked = f.te > 0;
	if (f.te > 0 || f.cl > 0) {
		res = body(&r, &f);
		goto out;
	}
	/* item 8: the rest of the connection is the body */
	resp->until_close = true;
	resp->keep_alive = false;
	r.at = n;
	res = eof ? STRICT_OK : STRICT_MORE;
out:
	resp->len = r.at;
	resp->why = r.why;
	return res;
}

/* ---- reading a valid message's parts ------------------------------------------- */

size_t strict_body(const char *p, size_t head_len, size_t len, bool is_chunked, char *out)
{
	if (!is_chunked) {
		memcpy(out, p + head_len, len - head_len);
		return len - head_len;
	}
	struct rd r = { .p = (const unsigned char *)p, .n = len, .at = head_len };
	size_t w = 0;
	for (;;) {
		uint64_t size = 0;
		for (; r.at < r.n && hex(r.p[r.at]) >= 0; r.at++)
			size = size * 16 + (uint64_t)hex(r.p[r.at]);
		while (r.at < r.n && r.p[r.at] != '\n')   /* the extensions, CRLF */
			r.at++;
		r.at++;
		if (size == 0 || r.at >= r.n || r.n - r.at < size)
			return w;
		memcpy(out + w, r.p + r.at, (size_t)size);
		w += (size_t)size;
		r.at += (size_t)size + 2;
	}
}

bool strict_next_field(const char *p, size_t head_len, size_t *at, struct strict_field *f)
{
	struct rd r = { .p = (const unsigned char *)p, .n = head_len, .at = *at };
	size_t end, v, v_len;
	if (r.at == 0) {   /* past the empty lines and the start line */
		skip_empty_lines(&r);
		if (line(&r, &end) != STRICT_OK)
			return false;
		r.at = end + 2;
	}
	if (line(&r, &end) != STRICT_OK || end == r.at || field_line(&r, end, &f->name_len, &v, &v_len) != STRICT_OK)
		return false;
	f->name = p + r.at;
	f->value = p + v;
	f->value_len = v_len;
	*at = end + 2;
	return true;
}
