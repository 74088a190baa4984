/*
 * test_tracer_match.c - response fingerprints (tracer/match.h): the same
 * response through a proxy matches, another one does not, and what proxies
 * change as a matter of course is not held against a match.
 */
#include "t.h"

#include "../../tracer/match.h"

static int on_headers(struct http_msg *m)
{
	match_head(m->user, m, true);
	return 0;
}

static int on_body(struct http_msg *m, const char *at, size_t len)
{
	match_body(m->user, at, len);
	return 0;
}

static int on_complete(struct http_msg *m)
{
	((struct fingerprint *)m->user)->done = true;
	return 0;
}

static const struct http_hooks hooks = { .on_headers = on_headers, .on_body = on_body, .on_complete = on_complete };

/* The fingerprint of one parsed response (head and de-chunked body). */
static void fp_of(const char *text, struct fingerprint *fp)
{
	struct http_msg m;
	memset(fp, 0, sizeof(*fp));
	http_msg_init(&m, HTTP_RESPONSE, &hooks, fp);
	llhttp_errno_t e = http_msg_feed(&m, text, strlen(text), NULL);
	CHECK(e == HPE_OK);
	CHECK(fp->done);
	http_msg_free(&m);
}

static const char backend[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nX-Backend: b1\r\nX-Conn: 3\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
	"Server: mockserver\r\nConnection: keep-alive\r\n\r\nhello from b1\n";

TEST(the_same_response_through_a_proxy_matches)
{
	struct fingerprint a, b;
	fp_of(backend, &a);
	fp_of("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 01 Jan 2024 00:00:01 GMT\r\nTransfer-Encoding: chunked\r\n"
	      "X-Backend: b1\r\nX-Conn: 3\r\nVia: 1.1 l7lab\r\nConnection: close\r\n\r\ne\r\nhello from b1\n\r\n0\r\n\r\n", &b);
	CHECK(match_compare(&a, &b) > 0);
}

TEST(a_header_value_that_differs_tells_them_apart)
{
	struct fingerprint a, b;
	fp_of(backend, &a);
	fp_of("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nX-Backend: b1\r\nX-Conn: 4\r\n\r\nhello from b1\n", &b);
	CHECK_INT(match_compare(&a, &b), -1);
}

TEST(a_status_or_a_body_that_differs_tells_them_apart)
{
	struct fingerprint a, b;
	fp_of(backend, &a);
	fp_of("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 14\r\n\r\nhello from b1\n", &b);
	CHECK_INT(match_compare(&a, &b), -1);
	fp_of("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nX-Backend: b1\r\nX-Conn: 3\r\n\r\nhello from b2\n", &b);
	CHECK_INT(match_compare(&a, &b), -1);
}

TEST(headers_the_proxy_adds_are_not_held_against_a_match)
{
	struct fingerprint a, b;
	fp_of(backend, &a);
	fp_of("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nX-Backend: b1\r\nX-Conn: 3\r\nX-Request-ID: 7f\r\n"
	      "Set-Cookie: lb=b1\r\n\r\nhello from b1\n", &b);
	CHECK(match_compare(&a, &b) > 0);
}

TEST(more_agreeing_headers_score_higher)
{
	struct fingerprint a, b, c;
	fp_of(backend, &a);
	fp_of("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nhello from b1\n", &b);
	fp_of("HTTP/1.1 200 OK\r\nContent-Length: 14\r\nX-Backend: b1\r\nX-Conn: 3\r\n\r\nhello from b1\n", &c);
	CHECK(match_compare(&a, &c) > match_compare(&a, &b));
}

TEST(only_the_start_of_a_long_body_is_hashed_but_all_of_it_counted)
{
	struct fingerprint a;
	memset(&a, 0, sizeof(a));
	a.head = a.full = true;
	char chunk[700];
	memset(chunk, 'x', sizeof(chunk));
	match_body(&a, chunk, sizeof(chunk));
	uint64_t h = a.body_hash;
	match_body(&a, chunk, sizeof(chunk));
	CHECK(a.body_hash != h);
	h = a.body_hash;
	match_body(&a, chunk, sizeof(chunk));
	CHECK(a.body_hash == h);
	CHECK_INT(a.body_len, 2100);
}

TEST(a_status_only_fingerprint_compares_the_status_alone)
{
	struct http_msg m;
	struct fingerprint a, b;
	fp_of(backend, &a);
	http_msg_init(&m, HTTP_RESPONSE, NULL, NULL);
	static const char head[] = "HTTP/1.1 200 OK\r\nX-Conn: 9\r\nContent-Length: 0\r\n\r\n";
	CHECK(http_msg_feed(&m, head, sizeof(head) - 1, NULL) == HPE_OK);
	match_head(&b, &m, false);
	http_msg_free(&m);
	CHECK_INT(b.npairs, 0);
	CHECK(match_compare(&a, &b) > 0);
	b.status = 502;
	CHECK_INT(match_compare(&a, &b), -1);
}

int main(void)
{
	RUN(the_same_response_through_a_proxy_matches);
	RUN(a_header_value_that_differs_tells_them_apart);
	RUN(a_status_or_a_body_that_differs_tells_them_apart);
	RUN(headers_the_proxy_adds_are_not_held_against_a_match);
	RUN(more_agreeing_headers_score_higher);
	RUN(only_the_start_of_a_long_body_is_hashed_but_all_of_it_counted);
	RUN(a_status_only_fingerprint_compares_the_status_alone);
	return t_done();
}
