/*
 * test_mockserver_conn.c - a mockserver connection driven over a socketpair,
 * without the network: requests fed whole and one byte at a time must get
 * the same responses, in order, and a parse error must get a 400 and a
 * close.  The test's own end writes the next byte each time round the loop
 * (when its socket is writable), so the connection sees one byte per read.
 */
#include "t.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../mockserver/mockserver.h"

struct peer {
	int fd;
	const char *send;
	size_t len, sent, step;      /* step: bytes per tick (0: all at once) */
	struct buf got;
	bool closed;
	ev_timer deadline;
};

/* The peer's one callback: read what came; with the socket writable (it
 * nearly always is), send the next step bytes, so each turn of the loop
 * sends one piece.  (A timer re-armed at 0 ms would run again in the same
 * turn, before any poll: the server would read everything at once.) */
static void peer_io(ev_loop *loop, int fd, void *arg, int mask)
{
	struct peer *p = arg;
	if (mask & EV_READ) {
		ssize_t n = buf_read_fd(&p->got, fd, 4096);
		if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
			p->closed = true;
			ev_unwatch(loop, fd);
			ev_stop(loop);
			return;
		}
	}
	if ((mask & EV_WRITE) && p->sent < p->len) {
		size_t n = p->step ? p->step : p->len;
		if (n > p->len - p->sent)
			n = p->len - p->sent;
		ssize_t w = send(fd, p->send + p->sent, n, MSG_NOSIGNAL);
		if (w > 0)
			p->sent += (size_t)w;
		else if (errno != EAGAIN)
			p->sent = p->len;        /* the server closed first (a 400): stop sending */
		if (p->sent == p->len) {
			shutdown(fd, SHUT_WR);   /* the server answers what it has, then closes */
			ev_set_mask(loop, fd, EV_READ);
		}
	}
}

static void peer_deadline(ev_loop *loop, void *arg)
{
	(void)arg;
	ev_stop(loop);
}

/* Runs one connection: sends req (step bytes per loop turn), returns what
 * came back until the server closed (or 5 s passed).  Caller frees. */
static char *exchange(const char *req, size_t step, bool *closed)
{
	static unsigned char pattern[PATTERN_LEN];
	struct server srv = { .grace_ms = 0 };
	struct backend be = { .srv = &srv, .fd = -1, .raw_dirfd = -1, .healthy = true };
	struct peer p = { .send = req, .len = strlen(req), .step = step, .got = BUF_INIT };
	int sv[2];
	struct addr peer_addr = { .len = 0 };

	memset(pattern, 'x', sizeof(pattern));
	srv.loop = ev_new();
	srv.pattern = pattern;
	srv.be = &be;
	srv.nbe = 1;
	snprintf(be.name, sizeof(be.name), "t1");
	be.o.max_header = 16 * 1024;
	be.o.max_body = 1024 * 1024;
	be.o.fail_status = 500;
	if (srv.loop == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return NULL;
	p.fd = sv[1];
	conn_accept(&be, sv[0], &peer_addr);
	ev_watch(srv.loop, p.fd, EV_READ | EV_WRITE, peer_io, &p);
	ev_timer_init(&p.deadline);
	ev_timer_arm(srv.loop, &p.deadline, 5000, peer_deadline, &p);
	ev_run(srv.loop);

	*closed = p.closed;
	conn_close_all(&srv, "test over");
	ev_timer_stop(srv.loop, &p.deadline);
	ev_unwatch(srv.loop, p.fd);
	close(p.fd);
	ev_free(srv.loop);
	buf_free(&srv.scratch);
	buf_append(&p.got, "", 1);
	return p.got.data;        /* the buffer's storage, NUL-terminated */
}

/* The status lines of a response stream (lines starting "HTTP/1.1 "), one
 * per line. */
static void status_lines(const char *s, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (const char *l = s; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, "HTTP/1.1 ", 9) != 0)
			continue;
		size_t n = strcspn(l, "\r\n");
		if (used + n + 2 > cap)
			break;
		memcpy(out + used, l, n);
		used += n;
		out[used++] = '\n';
		out[used] = '\0';
	}
}

static const char pipeline[] =
	"GET /status/201 HTTP/1.1\r\nHost: a\r\n\r\n"
	"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	"PUT /status/202 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz"
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

TEST(pipelined_requests_fed_whole_are_answered_in_order)
{
	bool closed;
	char *got = exchange(pipeline, 0, &closed), lines[512];
	CHECK(got != NULL);
	status_lines(got ? got : "", lines, sizeof(lines));
	CHECK_STR(lines, "HTTP/1.1 201 Created\nHTTP/1.1 200 OK\nHTTP/1.1 202 Accepted\nHTTP/1.1 200 OK\n");
	CHECK(got && strstr(got, "\"body\":\"abcde\""));
	CHECK(got && strstr(got, "X-Conn-Request: 4\r\n"));
	CHECK(got && strstr(got, "hello from t1\n"));
	CHECK(closed);
	free(got);
}

TEST(pipelined_requests_fed_byte_by_byte_get_the_same_answers)
{
	bool c1, c2;
	char *whole = exchange(pipeline, 0, &c1), *bytes = exchange(pipeline, 1, &c2);
	CHECK(whole && bytes && strcmp(whole, bytes) == 0);
	CHECK(c1 && c2);
	free(whole);
	free(bytes);
}

TEST(a_malformed_request_gets_400_and_the_connection_closes)
{
	bool closed;
	char *got = exchange("GET / HTTP/1.1\r\nHost: a\r\n\r\nBLAH\x01 / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", 1, &closed), lines[256];
	status_lines(got ? got : "", lines, sizeof(lines));
	CHECK_STR(lines, "HTTP/1.1 200 OK\nHTTP/1.1 400 Bad Request\n");
	CHECK(got && strstr(got, "Connection: close\r\n"));
	CHECK(closed);
	free(got);
}

TEST(a_head_block_over_the_limit_gets_431)
{
	bool closed;
	char *req = malloc(20000);
	strcpy(req, "GET / HTTP/1.1\r\nX-Big: ");
	memset(req + strlen(req), 'a', 17000);
	strcpy(req + 23 + 17000, "\r\n\r\n");
	char *got = exchange(req, 0, &closed);
	CHECK(got && strncmp(got, "HTTP/1.1 431 ", 13) == 0);
	CHECK(closed);
	free(got);
	free(req);
}

TEST(bytes_streams_exactly_n_bytes_after_the_head)
{
	bool closed;
	char *got = exchange("GET /bytes/300000 HTTP/1.1\r\nConnection: close\r\n\r\n", 0, &closed);
	const char *body = got ? strstr(got, "\r\n\r\n") : NULL;
	CHECK(body != NULL);
	CHECK(got && strstr(got, "Content-Length: 300000\r\n"));
	CHECK_INT(body ? strlen(body + 4) : 0, 300000);
	free(got);
}

/* /hang answers nothing "until the client leaves": a client that sent its
 * requests and half-closed gets every answer before the hung one, whole,
 * then the close (the server does not wait for a full close, nor cut the
 * last answer short). */
TEST(answers_before_a_hang_arrive_whole_then_the_close_when_the_client_leaves)
{
	bool closed;
	char *got = exchange("GET /bytes/300000 HTTP/1.1\r\nHost: a\r\n\r\nGET /hang HTTP/1.1\r\nHost: a\r\n\r\n",
	                     0, &closed);
	const char *body = got ? strstr(got, "\r\n\r\n") : NULL;
	CHECK(body != NULL);
	CHECK_INT(body ? strlen(body + 4) : 0, 300000);
	CHECK(closed);
	free(got);
}

int main(void)
{
	RUN(pipelined_requests_fed_whole_are_answered_in_order);
	RUN(pipelined_requests_fed_byte_by_byte_get_the_same_answers);
	RUN(a_malformed_request_gets_400_and_the_connection_closes);
	RUN(a_head_block_over_the_limit_gets_431);
	RUN(bytes_streams_exactly_n_bytes_after_the_head);
	RUN(answers_before_a_hang_arrive_whole_then_the_close_when_the_client_leaves);
	return t_done();
}
