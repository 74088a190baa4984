/* Unit tests for lib/http.c: the llhttp glue, fed whole and byte by byte. */
#include "http.h"
#include "t.h"

struct seen {
	int messages, heads;
	struct buf body;
	char target[64], host[64], xa[64];
	size_t nhdrs;
	int status;
	bool pause;
};

static int on_headers(struct http_msg *m)
{
	struct seen *s = m->user;
	s->heads++;
	s->nhdrs = m->nhdrs;
	s->status = http_status(m);
	snprintf(s->target, sizeof(s->target), "%s", http_target(m));
	const char *h = http_get(m, "host");
	snprintf(s->host, sizeof(s->host), "%s", h ? h : "(none)");
	h = http_get(m, "X-A");
	snprintf(s->xa, sizeof(s->xa), "%s", h ? h : "(none)");
	return 0;
}

static int on_body(struct http_msg *m, const char *at, size_t len)
{
	struct seen *s = m->user;
	return buf_append(&s->body, at, len);
}

static int on_complete(struct http_msg *m)
{
	struct seen *s = m->user;
	s->messages++;
	return s->pause ? HPE_PAUSED : 0;
}

static const struct http_hooks hooks = { .on_headers = on_headers, .on_body = on_body, .on_complete = on_complete };

/* Feeds text in pieces of step bytes (0: all at once). */
static llhttp_errno_t feed(struct http_msg *m, const char *text, size_t step)
{
	size_t len = strlen(text);
	if (step == 0)
		step = len;
	for (size_t i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;
		llhttp_errno_t e = http_msg_feed(m, text + i, n, NULL);
		if (e != HPE_OK)
			return e;
	}
	return HPE_OK;
}

static const char chunked_post[] =
	"POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nX-A: one\r\nX-A: two\r\n"
	"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

TEST(trailer_fields_never_join_the_fields_of_the_head)
{
	static const char with_trailers[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	                                    "5\r\nhello\r\n0\r\nHost: evil\r\nX-A: t\r\n\r\n";
	for (size_t step = 0; step <= 1; step++) {
		struct seen s = { 0 };
		struct http_msg m;
		http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
		CHECK_INT(feed(&m, with_trailers, step), HPE_OK);
		CHECK_INT(s.messages, 1);
		CHECK_INT(m.nhdrs, 2);
		CHECK_INT(http_count(&m, "Host"), 1);
		CHECK_STR(http_get(&m, "Host"), "h");
		CHECK(http_get(&m, "X-A") == NULL);
		http_msg_free(&m);
		buf_free(&s.body);
	}
}

TEST(a_chunked_request_parses_the_same_whole_and_byte_by_byte)
{
	for (size_t step = 0; step <= 1; step++) {
		struct seen s = { 0 };
		struct http_msg m;
		http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
		CHECK_INT(feed(&m, chunked_post, step), HPE_OK);
		CHECK_INT(s.messages, 1);
		CHECK_STR(s.target, "/upload?x=1");
		CHECK_STR(s.host, "example.com");
		CHECK_STR(s.xa, "one");
		CHECK_INT(s.nhdrs, 4);
		CHECK_INT(http_count(&m, "x-a"), 2);
		CHECK_INT(buf_len(&s.body), 11);
		CHECK(memcmp(buf_begin(&s.body), "hello world", 11) == 0);
		CHECK_STR(http_method(&m), "POST");
		http_msg_free(&m);
		buf_free(&s.body);
	}
}

TEST(pipelined_requests_stop_at_each_boundary_when_paused)
{
	const char two[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
	struct seen s = { .pause = true };
	struct http_msg m;
	size_t used;
	http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
	CHECK_INT(http_msg_feed(&m, two, strlen(two), &used), HPE_PAUSED);
	CHECK_INT(used, strlen(two) / 2);
	CHECK_STR(s.target, "/a");
	http_msg_resume(&m);
	CHECK_INT(http_msg_feed(&m, two + used, strlen(two) - used, &used), HPE_PAUSED);
	CHECK_STR(s.target, "/b");
	CHECK_INT(s.messages, 2);
	http_msg_free(&m);
}

TEST(an_empty_header_value_reads_as_an_empty_string)
{
	struct seen s = { 0 };
	struct http_msg m;
	http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
	CHECK_INT(feed(&m, "GET / HTTP/1.1\r\nHost: h\r\nX-A:\r\n\r\n", 1), HPE_OK);
	CHECK_STR(s.xa, "");
	http_msg_free(&m);
}

TEST(a_header_block_over_the_limit_stops_with_431)
{
	struct seen s = { 0 };
	struct http_msg m;
	http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
	m.max_head = 64;
	struct buf req = BUF_INIT;
	buf_puts(&req, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
	for (int i = 0; i < 100; i++)
		buf_puts(&req, "x");
	buf_puts(&req, "\r\n\r\n");
	buf_append(&req, "", 1);
	CHECK(feed(&m, buf_begin(&req), 7) != HPE_OK);
	CHECK_INT(m.limit_status, 431);
	CHECK_INT(s.heads, 0);
	buf_free(&req);
	http_msg_free(&m);
}

TEST(a_long_request_target_stops_with_414)
{
	struct seen s = { 0 };
	struct http_msg m;
	http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
	m.max_target = 8;
	CHECK(feed(&m, "GET /0123456789 HTTP/1.1\r\nHost: h\r\n\r\n", 0) != HPE_OK);
	CHECK_INT(m.limit_status, 414);
	http_msg_free(&m);
}

TEST(malformed_requests_are_errors_with_a_reason)
{
	const char *bad[] = {
		"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GARBAGE\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seen s = { 0 };
		struct http_msg m;
		http_msg_init(&m, HTTP_REQUEST, &hooks, &s);
		CHECK(feed(&m, bad[i], 0) != HPE_OK);
		CHECK(m.error[0] != '\0');
		http_msg_free(&m);
	}
}

/* Feeds len bytes of text one at a time: the parse must stop before the
 * head is handed over, with error as the reason. */
static void check_refused(llhttp_type_t type, const char *text, size_t len, const char *error)
{
	struct seen s = { 0 };
	struct http_msg m;
	llhttp_errno_t e = HPE_OK;
	http_msg_init(&m, type, &hooks, &s);
	for (size_t i = 0; i < len && e == HPE_OK; i++)
		e = http_msg_feed(&m, text + i, 1, NULL);
	CHECK(e != HPE_OK);
	CHECK_STR(m.error, error);
	CHECK_INT(s.heads, 0);
	http_msg_free(&m);
}

/* Found by fuzzing (tests/fuzz/corpus/lib_http_request/regress-empty-name):
 * llhttp 8 takes ": 3" as a header with an empty name. */
TEST(a_header_line_that_starts_with_the_colon_is_an_error)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n: 3\r\n\r\n";
	check_refused(HTTP_REQUEST, req, sizeof(req) - 1, "empty header name");
}

/* Found by fuzzing (corpus/lib_http_response/regress-reason-nul): llhttp 8
 * takes NUL and other control bytes in a reason phrase, which the tools
 * then print or forward as a C string cut short. */
TEST(a_reason_phrase_with_a_control_byte_is_an_error)
{
	static const char bad[][21] = { "HTTP/1.1 200 O\0K\r\n\r\n", "HTTP/1.1 200 O\001K\r\n\r\n", "HTTP/1.1 200 OK\177\r\n\r\n" };
	for (size_t i = 0; i < 3; i++)
		check_refused(HTTP_RESPONSE, bad[i], 20, "invalid character in the reason phrase");
}

/* Found by the framing harness (corpus/proxy_framing/regress-target-htab):
 * llhttp 8 takes HTAB and FF inside a request-target; the proxy would pass
 * on a target that a server splitting at white space reads differently. */
TEST(a_request_target_with_a_tab_or_form_feed_is_an_error)
{
	const char *bad[] = { "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", "GET /a?q=\fb HTTP/1.1\r\nHost: x\r\n\r\n" };
	for (size_t i = 0; i < 2; i++)
		check_refused(HTTP_REQUEST, bad[i], strlen(bad[i]), "invalid character in the request target");
}

TEST(a_reason_phrase_may_hold_tabs_and_obs_text)
{
	struct seen s = { 0 };
	struct http_msg m;
	http_msg_init(&m, HTTP_RESPONSE, &hooks, &s);
	CHECK_INT(feed(&m, "HTTP/1.1 200 O\tK caf\xe9\r\nContent-Length: 0\r\n\r\n", 1), HPE_OK);
	CHECK_STR(s.target, "O\tK caf\xe9");
	CHECK_INT(s.messages, 1);
	http_msg_free(&m);
}

TEST(a_response_keeps_its_status_and_reason)
{
	struct seen s = { 0 };
	struct http_msg m;
	http_msg_init(&m, HTTP_RESPONSE, &hooks, &s);
	CHECK_INT(feed(&m, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc", 1), HPE_OK);
	CHECK_INT(s.status, 404);
	CHECK_STR(s.target, "Not Found");
	CHECK_INT(s.messages, 1);
	http_msg_free(&m);
	buf_free(&s.body);
}

TEST(a_response_read_until_close_ends_at_finish)
{
	struct seen s = { 0 };
	struct http_msg m;
	http_msg_init(&m, HTTP_RESPONSE, &hooks, &s);
	CHECK_INT(feed(&m, "HTTP/1.0 200 OK\r\n\r\nbody", 0), HPE_OK);
	CHECK_INT(s.messages, 0);
	CHECK_INT(http_msg_finish(&m), HPE_OK);
	CHECK_INT(s.messages, 1);
	CHECK_INT(buf_len(&s.body), 4);
	http_msg_free(&m);
	buf_free(&s.body);
}

TEST(comma_lists_are_searched_by_token)
{
	CHECK(http_list_has("keep-alive, Upgrade", "upgrade"));
	CHECK(http_list_has("close", "close"));
	CHECK(!http_list_has("closed", "close"));
	CHECK(!http_list_has("", "close"));
	CHECK(http_list_has(" a ,\tb\t, c", "b"));
}

TEST(list_elements_come_out_trimmed_and_in_order)
{
	const char *cursor = " gzip ,, \tchunked\t,", *el;
	size_t n;
	el = http_list_next(&cursor, &n);
	CHECK(el != NULL && n == 4 && strncmp(el, "gzip", 4) == 0);
	el = http_list_next(&cursor, &n);
	CHECK(el != NULL && n == 7 && strncmp(el, "chunked", 7) == 0);
	CHECK(http_list_next(&cursor, &n) == NULL);
	cursor = "";
	CHECK(http_list_next(&cursor, &n) == NULL);
}

TEST(reason_phrases_are_known)
{
	CHECK_STR(http_reason(502), "Bad Gateway");
	CHECK_STR(http_reason(431), "Request Header Fields Too Large");
	CHECK_STR(http_reason(299), "Unknown");
}

int main(void)
{
	RUN(a_chunked_request_parses_the_same_whole_and_byte_by_byte);
	RUN(trailer_fields_never_join_the_fields_of_the_head);
	RUN(pipelined_requests_stop_at_each_boundary_when_paused);
	RUN(an_empty_header_value_reads_as_an_empty_string);
	RUN(a_header_block_over_the_limit_stops_with_431);
	RUN(a_long_request_target_stops_with_414);
	RUN(malformed_requests_are_errors_with_a_reason);
	RUN(a_header_line_that_starts_with_the_colon_is_an_error);
	RUN(a_reason_phrase_with_a_control_byte_is_an_error);
	RUN(a_request_target_with_a_tab_or_form_feed_is_an_error);
	RUN(a_reason_phrase_may_hold_tabs_and_obs_text);
	RUN(a_response_keeps_its_status_and_reason);
	RUN(a_response_read_until_close_ends_at_finish);
	RUN(comma_lists_are_searched_by_token);
	RUN(list_elements_come_out_trimmed_and_in_order);
	RUN(reason_phrases_are_known);
	return t_done();
}
