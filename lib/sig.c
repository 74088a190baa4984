/*
 * sig.c - signals through the event loop with a self-pipe (see sig.h).
 * The handler only writes the signal number into a non-blocking pipe; the
 * loop reads it and calls the tool's function outside signal context.
 */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int pipe_fd[2] = { -1, -1 };
static sig_fn *user_fn;
static void *user_arg;
static const int routed[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };

static void on_signal(int signo)
{
	int saved = errno;
	unsigned char c = (unsigned char)signo;
	ssize_t r = write(pipe_fd[1], &c, 1);   /* full pipe: the signal is already pending */
	(void)r;
	errno = saved;
}

static void on_pipe(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)arg;
	(void)mask;
	unsigned char sigs[64];
	ssize_t n;
	while ((n = read(fd, sigs, sizeof(sigs))) > 0)
		for (ssize_t i = 0; i < n; i++)
			user_fn(loop, sigs[i], user_arg);
}

int sig_setup(ev_loop *loop, sig_fn *fn, void *arg)
{
	if (pipe2(pipe_fd, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	user_fn = fn;
	user_arg = arg;
	if (ev_watch(loop, pipe_fd[0], EV_READ, on_pipe, NULL) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(routed) / sizeof(routed[0]); i++)
		if (sigaction(routed[i], &sa, NULL) < 0)
			return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

void sig_teardown(ev_loop *loop)
{
	if (pipe_fd[0] < 0)
		return;
	for (size_t i = 0; i < sizeof(routed) / sizeof(routed[0]); i++)
		signal(routed[i], SIG_DFL);
	ev_unwatch(loop, pipe_fd[0]);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	pipe_fd[0] = pipe_fd[1] = -1;
}
