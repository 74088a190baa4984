/*
 * holdconns - hold N idle keep-alive connections to a server, for memory
 * benchmarks (what does a proxy pay per idle client?).  Each connection
 * sends one GET and reads the head of its answer; then, while every one is
 * held open, CMD runs (say, reading the server's VmRSS), and holdconns exits
 * with CMD's status, closing them all.
 *
 *   holdconns ADDR:PORT N CMD [ARG...]
 *
 * Connections and reads are blocking, 10 s each at most (the server under
 * test is local), BATCH at a time: BATCH connections each send their
 * request, then their answers are read, so the server has many requests in
 * hand at once, as under real load (one at a time, a poll()-based server
 * pays for every connection it holds at each of the request's turns: 10,000
 * would take minutes).  Any failure is one line, exit 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "net.h"

static const char request[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

#define BATCH 64

/* One connection with its request sent; the fd. */
static int dial(const struct addr *a, const char *name, size_t i)
{
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("connection %zu: socket: %s", i, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		fatal("connection %zu: setsockopt: %s", i, strerror(errno));
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		fatal("connection %zu: connect %s: %s", i, name, strerror(errno));
	if (send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(request) - 1))
		fatal("connection %zu: send: %s", i, strerror(errno));
	return fd;
}

/* Reads the head of connection i's answer. */
static void read_head(int fd, size_t i)
{
	/* The head ends at the first blank line; the body, if any, stays unread. */
	char buf[4096];
	size_t got = 0;
	while (got < 4 || memmem(buf, got, "\r\n\r\n", 4) == NULL) {
		if (got == sizeof(buf))
			fatal("connection %zu: a response head over %zu bytes", i, sizeof(buf));
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fatal("connection %zu: %s before the response head", i, n == 0 ? "closed" : strerror(errno));
		got += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	if (argc < 4)
		usage_error("usage: holdconns ADDR:PORT N CMD [ARG...]");
	struct addr a;
	char err[NET_ERRLEN];
	cli_addr("ADDR:PORT", argv[1], -1, &a);
	size_t n = (size_t)cli_uint("N", argv[2], 1, 1000000);
	long long have = net_raise_fd_limit(n + 64, err);
	if (have < 0)
		fatal("%s", err);
	if ((unsigned long long)have < n + 64)
		fatal("%zu connections need %zu file descriptors; the limit is %lld", n, n + 64, have);

	int *fds = calloc(n, sizeof(*fds));
	if (fds == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i += BATCH) {
		size_t end = n - i < BATCH ? n : i + BATCH;
		for (size_t k = i; k < end; k++)
			fds[k] = dial(&a, argv[1], k);
		for (size_t k = i; k < end; k++)
			read_head(fds[k], k);
	}

	if (fflush(stdout) != 0)
		fatal("stdout: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		fprintf(stderr, "holdconns: %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fatal("waitpid: %s", strerror(errno));
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
