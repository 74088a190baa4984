/*
 * test_proxy_core.c - the proxy core's pure functions: the head scanner
 * (bare LF, obs-fold, control characters), the request and response
 * checks, the header edits of steps 3 and 7, and the cache that keeps a
 * parsed head's storage between requests (mem.c).
 */
#include <string.h>

#include "../../proxy/proxy.h"
#include "t.h"

/* Parses a whole head into m (no hooks). */
static void parse(struct http_msg *m, llhttp_type_t type, const char *head)
{
	http_msg_init(m, type, NULL, NULL);
	http_msg_feed(m, head, strlen(head), NULL);
}

static int scan_all(const char *s, size_t *used, const char **err)
{
	struct head_scan h;
	head_scan_init(&h);
	int r = head_scan(&h, s, strlen(s), used);
	*err = h.error;
	return r;
}

TEST(the_head_scanner_finds_the_end_of_a_clean_head)
{
	size_t used;
	const char *err;
	const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
	CHECK_INT(scan_all(s, &used, &err), 1);
	CHECK_INT(used, strlen(s) - 4);
}

TEST(the_head_scanner_works_byte_by_byte)
{
	const char *s = "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n";
	struct head_scan h;
	size_t used = 0;
	int r = 0;
	head_scan_init(&h);
	for (size_t i = 0; i < strlen(s) && r == 0; i++)
		r = head_scan(&h, s + i, 1, &used);
	CHECK_INT(r, 1);
	CHECK_INT(used, 1);
}

TEST(the_head_scanner_measures_and_keeps_the_start_line_in_one_piece_or_many)
{
	const char *s = "\r\nHTTP/1.1 200 \tOK caf\xc3\xa9\r\nServer: x\r\n\r\n";
	size_t want = strlen("HTTP/1.1 200 \tOK caf\xc3\xa9"), used;
	struct head_scan h;
	head_scan_init(&h);
	CHECK_INT(head_scan(&h, s, strlen(s), &used), 1);
	CHECK_INT(h.start_len, want);
	CHECK(memcmp(h.start, "HTTP/1.1 200 \tOK ", 16) == 0);   /* its first 16 bytes kept */
	head_scan_init(&h);
	for (size_t i = 0; i < strlen(s); i += 3)
		(void)head_scan(&h, s + i, strlen(s) - i < 3 ? strlen(s) - i : 3, &used);
	CHECK_INT(h.start_len, want);
	CHECK(memcmp(h.start, "HTTP/1.1 200 \tOK ", 16) == 0);
}

TEST(the_head_scanner_skips_blank_lines_before_the_start_line)
{
	size_t used;
	const char *err;
	CHECK_INT(scan_all("\r\nGET / HTTP/1.1\r\n\r\n", &used, &err), 1);
}

TEST(the_head_scanner_refuses_a_bare_LF)
{
	size_t used;
	const char *err;
	CHECK_INT(scan_all("GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "bare LF in the header block");
}

TEST(the_head_scanner_refuses_a_bare_CR)
{
	size_t used;
	const char *err;
	CHECK_INT(scan_all("GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", &used, &err), -1);
}

/* The fast path over a line's plain bytes (plain_run) must not start right
 * after a CR that ended the previous read. */
TEST(the_head_scanner_refuses_a_bare_CR_that_ends_a_read)
{
	const char *heads[] = { "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\nHost: x\r" };
	for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
		struct head_scan h;
		size_t used;
		head_scan_init(&h);
		CHECK_INT(head_scan(&h, heads[k], strlen(heads[k]), &used), 0);
		CHECK_INT(head_scan(&h, "X: y\r\n\r\n", 8, &used), -1);
		CHECK_STR(h.error, "bare CR in the header block");
		CHECK_INT(used, 0);
	}
}

TEST(the_head_scanner_refuses_obs_fold)
{
	size_t used;
	const char *err;
	CHECK_INT(scan_all("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", &used, &err), -1);
	CHECK(strstr(err, "obs-fold") != NULL);
}

TEST(the_head_scanner_refuses_NUL_and_control_characters)
{
	size_t used;
	const char *err;
	struct head_scan h;
	head_scan_init(&h);
	CHECK_INT(head_scan(&h, "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26, &used), -1);
	CHECK_STR(h.error, "NUL in the header block");
	CHECK_INT(scan_all("GET / HTTP/1.1\r\nX\001: a\r\n\r\n", &used, &err), -1);
	CHECK_INT(scan_all("GET / HTTP/1.1\r\nX: a\tb\r\n\r\n", &used, &err), 1);   /* HTAB is fine */
}

TEST(the_head_scanner_counts_every_byte_toward_its_limit)
{
	const char *padded = "\r\n\r\n\r\nGET / HTTP/1.1\r\nX:          a\r\n\r\n", *plain = "GET / HTTP/1.1\r\nX: a\r\n\r\n";
	struct head_scan h;
	size_t used;
	head_scan_init(&h);
	h.max = 32;
	CHECK_INT(head_scan(&h, padded, strlen(padded), &used), -1);
	CHECK(h.too_long);
	head_scan_init(&h);
	h.max = 32;
	CHECK_INT(head_scan(&h, plain, strlen(plain), &used), 1);
}

static int check_req(const char *head, uint64_t max_body)
{
	struct http_msg m;
	const char *why = NULL;
	parse(&m, HTTP_REQUEST, head);
	int st = m.headers_done ? request_check(&m, max_body, &why) : -1;
	http_msg_free(&m);
	return st;
}

TEST(a_clean_request_passes_the_checks)
{
	CHECK_INT(check_req("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0), 0);
	CHECK_INT(check_req("GET / HTTP/1.0\r\n\r\n", 0), 0);
	CHECK_INT(check_req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 0), 0);
}

TEST(the_request_checks_refuse_Host_trouble)
{
	CHECK_INT(check_req("GET / HTTP/1.1\r\n\r\n", 0), 400);
	CHECK_INT(check_req("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0), 400);
}

TEST(the_request_checks_refuse_ambiguous_framing)
{
	CHECK_INT(check_req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 0), 400);
	CHECK_INT(check_req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0), 501);
	CHECK_INT(check_req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0), 400);
}

TEST(the_request_checks_enforce_max_body_on_Content_Length)
{
	CHECK_INT(check_req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n", 1024), 413);
	CHECK_INT(check_req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", 1024), 0);
}

TEST(CONNECT_gets_405)
{
	CHECK_INT(check_req("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0), 405);
}

TEST(step_3_edits_a_request_head)
{
	struct http_msg m;
	struct buf out = BUF_INIT;
	parse(&m, HTTP_REQUEST,
	      "POST /a?b HTTP/1.1\r\nHost: shop\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
	      "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\nTransfer-Encoding: chunked\r\n"
	      "Keep-Alive: 5\r\nX-Kept: yes\r\n\r\n");
	struct edit e = { .client_ip = "127.0.0.1", .client_port = 5000, .name = "edge", .id = "42",
	                  .host = NULL, .chunked = true };
	CHECK_INT(edit_request_head(&m, &e, &out), 0);
	CHECK_INT(buf_append(&out, "", 1), 0);
	CHECK_STR(buf_begin(&out),
	          "POST /a?b HTTP/1.1\r\nHost: shop\r\nX-Kept: yes\r\n"
	          "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: shop\r\n"
	          "Forwarded: for=\"127.0.0.1:5000\";proto=http;by=edge\r\nVia: 1.1 edge\r\n"
	          "X-Request-ID: 42\r\nTransfer-Encoding: chunked\r\n\r\n");
	buf_free(&out);
	http_msg_free(&m);
}

TEST(step_3_adds_Host_to_an_HTTP_1_0_request_and_brackets_IPv6)
{
	struct http_msg m;
	struct buf out = BUF_INIT;
	parse(&m, HTTP_REQUEST, "GET / HTTP/1.0\r\nX-Request-ID: theirs\r\n\r\n");
	struct edit e = { .client_ip = "::1", .client_port = 7, .ipv6 = true, .name = "a b",
	                  .id = NULL, .host = "127.0.0.11:9001" };
	CHECK_INT(edit_request_head(&m, &e, &out), 0);
	CHECK_INT(buf_append(&out, "", 1), 0);
	CHECK_STR(buf_begin(&out),
	          "GET / HTTP/1.1\r\nX-Request-ID: theirs\r\nHost: 127.0.0.11:9001\r\n"
	          "X-Forwarded-For: ::1\r\nX-Forwarded-Proto: http\r\n"
	          "Forwarded: for=\"[::1]:7\";proto=http;by=\"a b\"\r\nVia: 1.1 a b\r\n\r\n");
	buf_free(&out);
	http_msg_free(&m);
}

TEST(request_ids_must_be_short_and_visible)
{
	CHECK(request_id_ok("7f3a-12"));
	CHECK(!request_id_ok(""));
	CHECK(!request_id_ok("a b"));
	CHECK(!request_id_ok("a\"b"));
	CHECK(!request_id_ok("0123456789012345678901234567890123456789012345678901234567890123456789"));
}

static int check_resp(const char *head)
{
	struct http_msg m;
	const char *why = NULL;
	struct head_scan h;
	size_t used;
	head_scan_init(&h);   /* measures the status line, as step 6 does */
	if (head_scan(&h, head, strlen(head), &used) != 1)
		return -1;
	parse(&m, HTTP_RESPONSE, head);
	int st = m.headers_done ? response_check(&m, &h, &why) : -1;
	http_msg_free(&m);
	return st;
}

TEST(the_response_checks_refuse_ambiguous_responses)
{
	CHECK_INT(check_resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), 0);
	CHECK_INT(check_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	CHECK_INT(check_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"), 502);
	CHECK_INT(check_resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"), 502);
	CHECK_INT(check_resp("HTTP/1.1 0200 OK\r\nContent-Length: 3\r\n\r\n"), 502);   /* llhttp 8 reads 200 */
	CHECK_INT(check_resp("HTTP/1.1 200\r\nContent-Length: 3\r\n\r\n"), 0);
	CHECK_INT(check_resp("HTTP/1.1 200 \r\nContent-Length: 3\r\n\r\n"), 0);
	CHECK_INT(check_resp("HTTP/1.1 0202\r\n\r\n"), 502);   /* as long as "HTTP/1.1 202 " (fuzz) */
	CHECK_INT(check_resp("HTTP/1.1 02020 OK\r\n\r\n"), -1);   /* over 999: llhttp refuses it itself */
	CHECK_INT(check_resp("\r\nHTTP/1.1 204 No Content\r\n\r\n"), 0);
}

TEST(a_status_line_has_three_digits_then_a_space_or_its_end)
{
	CHECK_INT(status_line_code("HTTP/1.1 200 OK", 15), 200);
	CHECK_INT(status_line_code("HTTP/1.0 404", 12), 404);
	CHECK_INT(status_line_code("HTTP/1.1 204 ", 13), 204);
	CHECK_INT(status_line_code("HTTP/1.1 0202", 13), -1);
	CHECK_INT(status_line_code("HTTP/1.1 2000 OK", 16), -1);
	CHECK_INT(status_line_code("HTTP/1.1 20", 11), -1);
	CHECK_INT(status_line_code("HTTP/1.1 2x0 OK", 15), -1);
	CHECK_INT(status_line_code("HTTP/2.0 200 OK", 15), -1);
	CHECK_INT(status_line_code("HTTP/1.1  200 OK", 16), -1);
}

TEST(step_7_edits_a_response_head)
{
	struct http_msg m;
	struct buf out = BUF_INIT;
	parse(&m, HTTP_RESPONSE, "HTTP/1.1 200 Fine\r\nConnection: X-Hop\r\nX-Hop: 1\r\nTransfer-Encoding: chunked\r\nX-Kept: 1\r\n\r\n");
	CHECK_INT(edit_response_head(&m, FRAME_CHUNKED, "edge", NULL, 2, &out), 0);
	CHECK_INT(buf_append(&out, "", 1), 0);
	CHECK_STR(buf_begin(&out),
	          "HTTP/1.1 200 Fine\r\nX-Kept: 1\r\nVia: 1.1 edge\r\nTransfer-Encoding: chunked\r\n"
	          "Connection: keep-alive\r\n\r\n");
	buf_free(&out);
	http_msg_free(&m);
}

TEST(a_chunk_is_framed_in_hex)
{
	struct buf out = BUF_INIT;
	CHECK_INT(chunk_append(&out, "0123456789abcdefXYZ", 19), 0);
	CHECK_INT(chunk_append(&out, "", 0), 0);
	CHECK_INT(buf_append(&out, "", 1), 0);
	CHECK_STR(buf_begin(&out), "13\r\n0123456789abcdefXYZ\r\n");
	buf_free(&out);
}

/* Scans s as the proxy does, run after run: *used = bytes up to the end
 * (or all), and shown (when not NULL) gets the bytes llhttp would see (the
 * trailer field lines left out). */
static int chunks_shown(const char *s, size_t *used, const char **err, struct buf *shown)
{
	struct chunk_scan cs;
	size_t at = 0, n = strlen(s), run;
	int r = 0;
	chunk_scan_init(&cs);
	while (r == 0 && at < n) {
		r = chunk_scan(&cs, s + at, n - at, &run);
		if (r >= 0 && !cs.hide && shown != NULL && buf_append(shown, s + at, run) < 0)
			return -2;
		at += r >= 0 ? run : 0;
	}
	*used = at;
	*err = cs.error;
	return r;
}

static int chunks(const char *s, size_t *used, const char **err)
{
	return chunks_shown(s, used, err, NULL);
}

TEST(the_chunk_scanner_finds_the_end_of_a_chunked_body)
{
	size_t used;
	const char *err;
	const char *s = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: a\r\n\r\nGET /next";
	CHECK_INT(chunks(s, &used, &err), 1);
	CHECK_INT(used, strlen(s) - strlen("GET /next"));
	CHECK_INT(chunks("000005\r\nhello\r\n0\r\n\r\n", &used, &err), 1);
}

TEST(the_chunk_scanner_works_byte_by_byte)
{
	const char *s = "3\r\nabc\r\n0\r\n\r\n";
	struct chunk_scan cs;
	size_t used = 0;
	int r = 0;
	chunk_scan_init(&cs);
	for (size_t i = 0; i < strlen(s) && r == 0; i++)
		r = chunk_scan(&cs, s + i, 1, &used);
	CHECK_INT(r, 1);
}

TEST(the_chunk_scanner_refuses_bad_framing)
{
	size_t used;
	const char *err;
	CHECK_INT(chunks("5\r\nhelloXX0\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "chunk data not followed by CRLF");
	CHECK_INT(chunks("5\nhello\n0\n\n", &used, &err), -1);
	CHECK_INT(chunks("zz\r\n", &used, &err), -1);
	CHECK_STR(err, "invalid chunk size");
	CHECK_INT(chunks("ffffffffffffffffff\r\n", &used, &err), -1);
	CHECK_STR(err, "chunk size overflow");
	CHECK_INT(chunks("0\r\nX: a\r\n b\r\n\r\n", &used, &err), -1);
	CHECK_INT(chunks("1;\001\r\na\r\n0\r\n\r\n", &used, &err), -1);
}

TEST(the_chunk_scanner_leaves_trailer_fields_out_of_what_the_parser_sees)
{
	struct buf shown = BUF_INIT;
	size_t used;
	const char *err;
	const char *s = "5\r\nhello\r\n0\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nHost: evil\r\n\r\nNEXT";
	CHECK_INT(chunks_shown(s, &used, &err, &shown), 1);
	CHECK_INT(used, strlen(s) - strlen("NEXT"));
	CHECK_INT(buf_append(&shown, "", 1), 0);
	CHECK_STR(buf_begin(&shown), "5\r\nhello\r\n0\r\n\r\n");
	buf_free(&shown);
}

TEST(the_chunk_scanner_ends_a_run_where_trailer_fields_begin_and_end)
{
	struct chunk_scan cs;
	size_t used;
	const char *s = "0\r\nX: 1\r\n\r\n";
	chunk_scan_init(&cs);
	CHECK_INT(chunk_scan(&cs, s, strlen(s), &used), 0);
	CHECK(!cs.hide && used == 3);
	CHECK_INT(chunk_scan(&cs, s + 3, strlen(s) - 3, &used), 0);
	CHECK(cs.hide && used == 6);
	CHECK_INT(chunk_scan(&cs, s + 9, strlen(s) - 9, &used), 1);
	CHECK(!cs.hide && used == 2);
}

TEST(the_chunk_scanner_refuses_a_malformed_trailer_line)
{
	size_t used;
	const char *err;
	CHECK_INT(chunks("0\r\nnocolon\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "a trailer line with no colon");
	CHECK_INT(chunks("0\r\nBad Name: x\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "white space before a trailer field's colon");
	CHECK_INT(chunks("0\r\nX-A : 1\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "white space before a trailer field's colon");
	CHECK_INT(chunks("0\r\nX@A: 1\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "invalid character in a trailer field name");
	CHECK_INT(chunks("0\r\n: 1\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "a trailer field with no name");
	CHECK_INT(chunks("0\r\nX: a\nY: b\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "bare LF in a trailer");
	CHECK_INT(chunks("0\r\nX: a\rY: b\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "bare CR in a trailer");
	CHECK_INT(chunks("0\r\nX: 1\r\n folded\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "obs-fold in a trailer");
	CHECK_INT(chunks("0\r\nX: \x01\r\n\r\n", &used, &err), -1);
	CHECK_STR(err, "control character in a trailer");
	CHECK_INT(chunks("0\r\nX: caf\xc3\xa9\t!\r\nY:\r\n\r\n", &used, &err), 1);   /* obs-text, HTAB, empty */
}

TEST(the_chunk_scanner_bounds_size_lines_and_trailers)
{
	char big[CHUNK_LINE_MAX + 16];
	size_t used;
	const char *err;
	memset(big, '0', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(chunks(big, &used, &err), -1);
	CHECK_STR(err, "chunk size line too long");
	memcpy(big, "0\r\nX: ", 6);
	memset(big + 6, 'a', sizeof(big) - 7);
	CHECK_INT(chunks(big, &used, &err), -1);
	CHECK_STR(err, "chunked trailers too long");
}

TEST(a_small_head_s_storage_is_kept_for_the_next_request_and_a_big_one_freed)
{
	struct http_msg a, b;
	parse(&a, HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	char *raw = a.raw.data;
	struct http_hdr *hdrs = a.hdrs;
	mem_release_head(&a);
	CHECK(a.raw.data == NULL && a.hdrs == NULL);
	http_msg_init(&b, HTTP_REQUEST, NULL, NULL);
	mem_prime_head(&b);
	CHECK(b.raw.data == raw && b.hdrs == hdrs && b.nhdrs == 0);
	const char *next = "GET /b HTTP/1.1\r\nHost: y\r\n\r\n";
	http_msg_feed(&b, next, strlen(next), NULL);
	CHECK_STR(http_target(&b), "/b");
	CHECK_STR(http_get(&b, "Host"), "y");

	char big[2048 + 64];   /* a head too big to keep: freed, not cached */
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', 2048);
	memcpy(big + 19 + 2048, "\r\n\r\n", 5);
	http_msg_free(&b);
	parse(&b, HTTP_REQUEST, big);
	CHECK(b.raw.cap > 1024);
	mem_release_head(&b);
	http_msg_init(&a, HTTP_REQUEST, NULL, NULL);
	mem_prime_head(&a);
	CHECK(a.raw.data == NULL && a.hdrs == NULL);
	mem_free_all();
}

int main(void)
{
	RUN(the_head_scanner_finds_the_end_of_a_clean_head);
	RUN(the_head_scanner_works_byte_by_byte);
	RUN(the_head_scanner_measures_and_keeps_the_start_line_in_one_piece_or_many);
	RUN(the_head_scanner_skips_blank_lines_before_the_start_line);
	RUN(the_head_scanner_refuses_a_bare_LF);
	RUN(the_head_scanner_refuses_a_bare_CR);
	RUN(the_head_scanner_refuses_a_bare_CR_that_ends_a_read);
	RUN(the_head_scanner_refuses_obs_fold);
	RUN(the_head_scanner_refuses_NUL_and_control_characters);
	RUN(the_head_scanner_counts_every_byte_toward_its_limit);
	RUN(a_clean_request_passes_the_checks);
	RUN(the_request_checks_refuse_Host_trouble);
	RUN(the_request_checks_refuse_ambiguous_framing);
	RUN(the_request_checks_enforce_max_body_on_Content_Length);
	RUN(CONNECT_gets_405);
	RUN(step_3_edits_a_request_head);
	RUN(step_3_adds_Host_to_an_HTTP_1_0_request_and_brackets_IPv6);
	RUN(request_ids_must_be_short_and_visible);
	RUN(the_response_checks_refuse_ambiguous_responses);
	RUN(a_status_line_has_three_digits_then_a_space_or_its_end);
	RUN(step_7_edits_a_response_head);
	RUN(a_chunk_is_framed_in_hex);
	RUN(the_chunk_scanner_finds_the_end_of_a_chunked_body);
	RUN(the_chunk_scanner_works_byte_by_byte);
	RUN(the_chunk_scanner_refuses_bad_framing);
	RUN(the_chunk_scanner_leaves_trailer_fields_out_of_what_the_parser_sees);
	RUN(the_chunk_scanner_ends_a_run_where_trailer_fields_begin_and_end);
	RUN(the_chunk_scanner_refuses_a_malformed_trailer_line);
	RUN(the_chunk_scanner_bounds_size_lines_and_trailers);
	RUN(a_small_head_s_storage_is_kept_for_the_next_request_and_a_big_one_freed);
	return t_done();
}
