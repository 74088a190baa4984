/*
 * net.h - addresses and sockets: parse "127.0.0.1:9001" and "[::1]:9001",
 * print them back, CIDR ranges for allow/deny lists, and non-blocking
 * listen / accept / connect in the style of Redis' anet.c.
 *
 * Errors come back as -1 with a one-line reason in the caller's err buffer
 * ("bind 127.0.0.1:9001: Address already in use"), never on stderr: the
 * caller owns the resource and decides what the failure means.
 */
#ifndef L7_NET_H
#define L7_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An address with its length, as the socket calls want it. */
struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Big enough for "[ffff:...:ffff%ifname]:65535". */
#define ADDR_STRLEN 80
#define NET_ERRLEN 256

/* Parses HOST:PORT, [V6]:PORT, or (when default_port >= 0) a bare HOST.
 * HOST is numeric, or a name resolved once now (blocking: call it at start,
 * never from the event loop).  Returns 0, or -1 with the reason in err. */
int addr_parse(const char *s, int default_port, struct addr *out, char err[NET_ERRLEN]);
/* Formats "1.2.3.4:80" or "[::1]:80" into out; returns out. */
char *addr_format(const struct addr *a, char out[ADDR_STRLEN]);
/* Formats only the IP ("1.2.3.4", "::1"); returns out. */
char *addr_format_ip(const struct addr *a, char out[ADDR_STRLEN]);
uint16_t addr_port(const struct addr *a);
void addr_set_port(struct addr *a, uint16_t port);
bool addr_equal(const struct addr *a, const struct addr *b);   /* IP and port */

/* A CIDR range such as 10.0.0.0/8 or ::1/128 (a bare IP is a /32 or /128). */
struct cidr {
	int family;
	unsigned char net[16];
	unsigned prefix;
};
int cidr_parse(const char *s, struct cidr *out, char err[NET_ERRLEN]);
/* True if a's IP lies in c (IPv4-mapped IPv6 addresses match IPv4 ranges). */
bool cidr_match(const struct cidr *c, const struct addr *a);

/* Opens a non-blocking listening TCP socket (SO_REUSEADDR; IPV6_V6ONLY for
 * IPv6).  Returns the fd, or -1 with the reason in err. */
int net_listen(const struct addr *a, int backlog, char err[NET_ERRLEN]);
/* The address a socket is bound to (for port 0 listeners). */
int net_local_addr(int fd, struct addr *out);
int net_peer_addr(int fd, struct addr *out);
/* Accepts one connection, non-blocking, close-on-exec.  Returns the fd, or
 * -1 with errno (EAGAIN when none is waiting; EMFILE/ENFILE when out of fds). */
int net_accept(int listen_fd, struct addr *peer);
/* Starts a non-blocking connect to a, bound first to source when not NULL.
 * Returns the fd (connected or EINPROGRESS: watch it for EV_WRITE, then call
 * net_connect_result), or -1 with the reason in err and errno set. */
int net_connect(const struct addr *a, const struct addr *source, char err[NET_ERRLEN]);
/* Binds a throwaway socket to a, as net_connect binds its source: 0 when
 * connections can come from there, else -1 with the reason in err. */
int net_bind_check(const struct addr *a, char err[NET_ERRLEN]);
/* After EV_WRITE on a connecting fd: 0 if connected, else the errno value. */
int net_connect_result(int fd);
int net_set_nonblock(int fd);
int net_set_nodelay(int fd);
/* Makes close() send a TCP RST instead of a FIN (SO_LINGER 0). */
int net_set_reset_on_close(int fd);
/* Raises the soft RLIMIT_NOFILE to want (0: to the hard limit), never past
 * the hard limit, never lowering it.  Returns the soft limit now in force,
 * or -1 with the reason in err. */
long long net_raise_fd_limit(unsigned long long want, char err[NET_ERRLEN]);

#endif
