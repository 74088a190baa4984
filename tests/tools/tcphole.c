/*
 * tcphole - a TCP listener that never accepts, for tests of connect
 * timeouts (a server too busy to take a connection).  Its accept queue
 * (backlog 0) holds one connection; once that is taken, the kernel drops the
 * SYNs of further ones and their connect() waits until the client gives up.
 *
 *   tcphole [--full] IP
 *
 * Binds IP on a free port and prints "listening hole IP:PORT".  With --full
 * it takes the one place in the queue itself first, so the very first
 * client already waits.  Runs until SIGTERM or SIGINT, then exits 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "net.h"

/* Fills the queue: one connection to ourselves, left unaccepted. */
static int fill(const struct addr *a)
{
	char err[NET_ERRLEN];
	int fd = net_connect(a, NULL, err);
	if (fd < 0)
		fatal("%s", err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int n;
	while ((n = poll(&p, 1, 5000)) < 0 && errno == EINTR)
		;
	if (n <= 0 || net_connect_result(fd) != 0)
		fatal("filling the queue: the connection did not complete");
	return fd;
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	bool full = argc == 3 && strcmp(argv[1], "--full") == 0;
	if (argc != 2 + full)
		usage_error("usage: tcphole [--full] IP");

	struct addr a;
	char err[NET_ERRLEN], name[ADDR_STRLEN];
	cli_addr("IP", argv[argc - 1], 0, &a);
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0)
		fatal("sigprocmask: %s", strerror(errno));

	int lfd = net_listen(&a, 0, err);
	if (lfd < 0)
		fatal("%s", err);
	if (net_local_addr(lfd, &a) < 0)
		fatal("getsockname: %s", strerror(errno));
	int cfd = full ? fill(&a) : -1;
	printf("listening hole %s\n", addr_format(&a, name));
	if (fflush(stdout) != 0)
		fatal("stdout: %s", strerror(errno));

	int sig;
	while ((errno = sigwait(&stop, &sig)) != 0)
		if (errno != EINTR)
			fatal("sigwait: %s", strerror(errno));
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return 0;
}
