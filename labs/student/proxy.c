/*
 * labs/student/proxy.c - the starter proxy of the student track: a
 * sequential HTTP/1.x proxy in plain sockets, to grow milestone by
 * milestone (README.md) until bin/grade gives it every point.
 *
 *   make -C labs/student
 *   labs/student/proxy --listen 127.0.0.1:8080 --backend 127.0.0.11:9001
 *   bin/grade 'labs/student/proxy --listen {listen} --backend {backend}'
 *
 * As given it does the seven steps once per client connection, one client
 * at a time: accept (step 1), read the request head and a Content-Length
 * body (2), decide nothing (3: one backend), connect (4), forward the head
 * as HTTP/1.0 with "Connection: close" (5), and copy the response until
 * the backend closes (6, 7).  It scores the basic category of bin/grade and
 * nothing else: every other point is a milestone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 65536          /* a request head longer than this is refused */

/* A request head as read from the client, and what the parser found. */
struct request {
	char head[HEAD_MAX + 1];        /* the bytes read so far, NUL-terminated */
	size_t len;                     /* bytes in head[] */
	size_t head_len;                /* bytes up to and with the empty line */
	long long content_length;       /* -1: none */
};

static void die(const char *what)
{
	perror(what);
	exit(2);
}

/* "ADDR:PORT" into a socket address; 0 on success. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Write all of buf; -1 when the peer is gone. */
static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copy n bytes (or, n < 0, everything until EOF) from one socket to another. */
static int copy(int from, int to, long long n)
{
	char buf[16384];
	while (n != 0) {
		size_t want = n < 0 || n > (long long)sizeof buf ? sizeof buf : (size_t)n;
		ssize_t r = recv(from, buf, want, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return n < 0 ? 0 : -1;
		if (write_all(to, buf, (size_t)r) < 0)
			return -1;
		if (n > 0)
			n -= r;
	}
	return 0;
}

/*
 * THE PARSER HOOK (milestones 3 and 4): called once the head is complete.
 * Today it finds Content-Length and nothing else.  Chunked bodies,
 * Connection and the hop-by-hop headers, X-Forwarded-For, and the checks
 * that stop request smuggling all start here.
 */
static int on_request_head(struct request *r)
{
	r->content_length = -1;
	for (char *line = strstr(r->head, "\r\n"); line && line + 2 < r->head + r->head_len; line = strstr(line + 2, "\r\n")) {
		if (strncasecmp(line + 2, "Content-Length:", 15) == 0) {
			char *end;
			errno = 0;
			long long v = strtoll(line + 17, &end, 10);
			if (errno || v < 0)
				return -1;
			r->content_length = v;
		}
	}
	return 0;
}

/* Step 2: read until the empty line that ends the head. */
static int read_head(int client, struct request *r)
{
	r->len = 0;
	for (;;) {
		if (r->len == HEAD_MAX)
			return -1;
		ssize_t n = recv(client, r->head + r->len, HEAD_MAX - r->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		r->len += (size_t)n;
		r->head[r->len] = '\0';
		char *end = strstr(r->head, "\r\n\r\n");
		if (end) {
			r->head_len = (size_t)(end + 4 - r->head);
			return on_request_head(r);
		}
	}
}

/* Step 5: the request line as HTTP/1.0, the client's headers but its
 * Connection, then "Connection: close" so that the backend closes when the
 * response ends (the only framing this starter understands). */
static int forward_head(int server, const struct request *r)
{
	const char *eol = strstr(r->head, "\r\n");
	const char *version = eol;
	while (version > r->head && version[-1] != ' ')
		version--;
	if (write_all(server, r->head, (size_t)(version - r->head)) < 0 || write_all(server, "HTTP/1.0\r\n", 10) < 0)
		return -1;
	const char *line = eol + 2, *stop = r->head + r->head_len - 2;
	while (line < stop) {
		const char *next = strstr(line, "\r\n") + 2;
		if (strncasecmp(line, "Connection:", 11) != 0 && write_all(server, line, (size_t)(next - line)) < 0)
			return -1;
		line = next;
	}
	return write_all(server, "Connection: close\r\n\r\n", 21);
}

/* Steps 2 to 7 for one client connection. */
static void serve(int client, const struct sockaddr_storage *backend, socklen_t blen)
{
	static struct request r;
	if (read_head(client, &r) < 0)
		return;
	int server = socket(backend->ss_family, SOCK_STREAM, 0);           /* step 4 */
	if (server < 0) {
		perror("socket");
		return;
	}
	if (connect(server, (const struct sockaddr *)backend, blen) < 0) {
		perror("connect");             /* milestone: answer 502 */
		close(server);
		return;
	}
	size_t body_read = r.len - r.head_len;             /* body bytes that came with the head */
	if (forward_head(server, &r) == 0 &&
	    write_all(server, r.head + r.head_len, body_read) == 0 &&
	    (r.content_length <= (long long)body_read || copy(client, server, r.content_length - (long long)body_read) == 0))
		copy(server, client, -1);                  /* steps 6 and 7 */
	close(server);
}

int main(int argc, char **argv)
{
	const char *listen_at = NULL, *backend_at = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--listen") == 0)
			listen_at = argv[i + 1];
		else if (strcmp(argv[i], "--backend") == 0)
			backend_at = argv[i + 1];
	}
	struct sockaddr_storage la, ba;
	socklen_t llen, blen;
	if (!listen_at || !backend_at || parse_addr(listen_at, &la, &llen) || parse_addr(backend_at, &ba, &blen)) {
		fprintf(stderr, "usage: proxy --listen ADDR:PORT --backend ADDR:PORT\n");
		return 2;
	}
	int lfd = socket(la.ss_family, SOCK_STREAM, 0), one = 1;
	if (lfd < 0)
		die("socket");
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("setsockopt");
	if (bind(lfd, (struct sockaddr *)&la, llen) < 0 || listen(lfd, 128) < 0) {
		fprintf(stderr, "proxy: %s: %s\n", listen_at, strerror(errno));
		return 2;
	}
	printf("listening %s\n", listen_at);
	fflush(stdout);
	for (;;) {                      /* step 1, one client at a time (milestone 2: poll()) */
		int client = accept(lfd, NULL, NULL);
		if (client < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		serve(client, &ba, blen);
		close(client);
	}
}
