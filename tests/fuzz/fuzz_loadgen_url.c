/*
 * fuzz_loadgen_url.c - what loadgen builds its requests from (loadgen/url.c):
 * the input, cut at NUL bytes, is a URL, a method (-m), a body (--body)
 * and -H headers.  url_parse, method_ok and header_check either accept or
 * say why in one printable line; what they accept, request_build turns into
 * one valid HTTP/1.1 request (strict RFC 9112 reader, strict.h), that
 * lib/http reads back with the same method, target and length (when the
 * method is one llhttp knows: -m takes any token, by design).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "strict.h"
#include "http.h"
#include "../../loadgen/url.h"

#define MAX_HEADERS 16

static void check_error_line(const char *err, const char *what)
{
	FUZZ_CHECK(err[0] != '\0', "%s refused without a reason", what);
	for (const char *c = err; *c; c++)
		FUZZ_CHECK((unsigned char)*c >= ' ' || *c == '\t' ? *c != 0x7f : false,
		           "%s: the error message holds control byte %#x (it goes to a terminal): %s", what,
		           (unsigned char)*c, err);
}

static size_t count_name(const char *const *h, size_t n, const char *name)
{
	size_t len = strlen(name), k = 0;
	for (size_t i = 0; i < n; i++)
		k += strncasecmp(h[i], name, len) == 0 && h[i][len] == ':';
	return k;
}

struct seen {
	int heads, complete;
	char method[40];
	char target_copy[8192];
};

static int on_headers(struct http_msg *m)
{
	struct seen *s = m->user;
	s->heads++;
	snprintf(s->method, sizeof(s->method), "%s", http_method(m));
	snprintf(s->target_copy, sizeof(s->target_copy), "%s", http_target(m));
	return 0;
}

static int on_complete(struct http_msg *m)
{
	((struct seen *)m->user)->complete++;
	return HPE_PAUSED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_strndup(data, size), *field[3 + MAX_HEADERS];
	size_t nf = 0;
	for (char *a = text; nf < 3 + MAX_HEADERS && a <= text + size; a += strlen(a) + 1)
		field[nf++] = a;
	while (nf < 3)
		field[nf++] = "";

	struct url u;
	char err[URL_ERRLEN] = "";
	if (url_parse(field[0], &u, err) < 0) {
		check_error_line(err, "url_parse");
		free(text);
		return 0;
	}
	FUZZ_CHECK(u.host[0] != '\0' && u.port >= 1 && u.target != NULL && u.target[0] == '/',
	           "url_parse accepts %s as host '%s' port %u target '%s'", field[0], u.host, u.port,
	           u.target ? u.target : "(null)");
	for (const char *c = u.target; *c; c++)
		FUZZ_CHECK((unsigned char)*c > ' ' && *c != 0x7f, "a target with byte %#x", (unsigned char)*c);
	err[0] = '\0';
	if (url_resolve(&u, err) < 0)
		check_error_line(err, "url_resolve");

	const char *method = field[1][0] ? field[1] : NULL;
	bool ok = method == NULL || method_ok(method);
	const char *const *headers = (const char *const *)field + 3;
	size_t nh = nf - 3;
	for (size_t i = 0; ok && i < nh; i++) {
		err[0] = '\0';
		if (header_check(headers[i], err) < 0) {
			check_error_line(err, "header_check");
			ok = false;
		}
	}
	if (!ok || count_name(headers, nh, "Host") > 1) {   /* two -H Host: the user asked for it */
		url_free(&u);
		free(text);
		return 0;
	}

	struct req_spec spec = { .method = method, .headers = headers, .nheaders = nh, .body = field[2],
	                         .body_len = strlen(field[2]), .keepalive = fuzz_hash(data, size) & 1 };
	struct buf req = BUF_INIT;
	if (request_build(&u, &spec, &req) < 0)
		fuzz_fail("request_build: out of memory");

	struct strict_req sr;
	enum strict_result r = strict_request(buf_begin(&req), buf_len(&req), &sr);
	FUZZ_CHECK(r == STRICT_OK && sr.len == buf_len(&req), "loadgen builds a request RFC 9112 %s (%s):\n%.*s",
	           r == STRICT_OK ? "reads with another length" : r == STRICT_MORE ? "finds incomplete" : "refuses",
	           sr.why ? sr.why : "-", (int)buf_len(&req), buf_begin(&req));

	static const char *const known[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", NULL };
	bool llhttp_knows = method == NULL;
	for (size_t i = 0; known[i] != NULL; i++)
		llhttp_knows |= method != NULL && strcmp(method, known[i]) == 0;
	if (!llhttp_knows) {
		buf_free(&req);
		url_free(&u);
		free(text);
		return 0;
	}
	struct seen s = { .heads = 0 };
	struct http_hooks hooks = { .on_headers = on_headers, .on_complete = on_complete };
	struct http_msg m;
	size_t used = 0;
	http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
	m.max_head = 1 << 20;
	m.max_target = 1 << 20;
	llhttp_errno_t e = http_msg_feed(&m, buf_begin(&req), buf_len(&req), &used);
	FUZZ_CHECK(e == HPE_PAUSED && s.complete == 1 && used == buf_len(&req),
	           "lib/http reads loadgen's request otherwise (%s, %d messages, %zu of %zu bytes):\n%.*s",
	           e == HPE_PAUSED ? "complete" : m.error, s.complete, used, buf_len(&req), (int)buf_len(&req),
	           buf_begin(&req));
	FUZZ_CHECK(strcmp(s.method, method ? method : "GET") == 0, "sent %s, read %s", method ? method : "GET", s.method);
	FUZZ_CHECK(strcmp(s.target_copy, u.target) == 0, "sent target %s, read %s", u.target, s.target_copy);
	http_msg_free(&m);
	buf_free(&req);
	url_free(&u);
	free(text);
	return 0;
}
