/*
 * net.c - addresses, CIDR ranges and non-blocking sockets (see net.h).
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int addr_parse(const char *s, int default_port, struct addr *out, char err[NET_ERRLEN])
{
	char host[256];
	const char *h = s, *port_s = NULL;
	size_t hlen;
	uint16_t port = 0;

	if (s[0] == '[') {                   /* [V6]:PORT */
		const char *close = strchr(s, ']');
		if (close == NULL) {
			snprintf(err, NET_ERRLEN, "%.200s: missing ']' after the IPv6 address", s);
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(close - h);
		if (close[1] == ':')
			port_s = close + 2;
		else if (close[1] != '\0') {
			snprintf(err, NET_ERRLEN, "%s: expected ':PORT' after ']'", s);
			return -1;
		}
	} else {                             /* HOST:PORT or HOST */
		const char *colon = strrchr(s, ':');
		if (colon != NULL && strchr(s, ':') != colon) {
			snprintf(err, NET_ERRLEN, "%s: write IPv6 addresses as [ADDRESS]:PORT", s);
			return -1;
		}
		hlen = colon ? (size_t)(colon - s) : strlen(s);
		port_s = colon ? colon + 1 : NULL;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, NET_ERRLEN, "'%s': expected ADDRESS:PORT", s);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (port_s == NULL) {
		if (default_port < 0) {
			snprintf(err, NET_ERRLEN, "%s: expected ADDRESS:PORT (the port is missing)", s);
			return -1;
		}
		port = (uint16_t)default_port;
	} else if (parse_port(port_s, &port) < 0) {
		snprintf(err, NET_ERRLEN, "%s: invalid port '%s' (expected 0-65535)", s, port_s);
		return -1;
	}

	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		out->len = sizeof(*v4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		out->len = sizeof(*v6);
		return 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, NET_ERRLEN, "%.200s: cannot resolve: %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	addr_set_port(out, port);
	return 0;
}

char *addr_format_ip(const struct addr *a, char out[ADDR_STRLEN])
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;
	out[0] = '\0';
	if (a->ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &v4->sin_addr, out, ADDR_STRLEN);
	else if (a->ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &v6->sin6_addr, out, ADDR_STRLEN);
	else
		snprintf(out, ADDR_STRLEN, "?");
	return out;
}

char *addr_format(const struct addr *a, char out[ADDR_STRLEN])
{
	char ip[ADDR_STRLEN];
	addr_format_ip(a, ip);
	if (a->ss.ss_family == AF_INET6)
		snprintf(out, ADDR_STRLEN, "[%.64s]:%u", ip, addr_port(a));
	else
		snprintf(out, ADDR_STRLEN, "%.64s:%u", ip, addr_port(a));
	return out;
}

uint16_t addr_port(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return 0;
}

void addr_set_port(struct addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	if (a->ss.ss_family != b->ss.ss_family || addr_port(a) != addr_port(b))
		return false;
	if (a->ss.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
	if (a->ss.ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
		              &((const struct sockaddr_in6 *)&b->ss)->sin6_addr, 16) == 0;
	return false;
}

int cidr_parse(const char *s, struct cidr *out, char err[NET_ERRLEN])
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(ip)) {
		snprintf(err, NET_ERRLEN, "%s: expected ADDRESS[/PREFIX]", s);
		return -1;
	}
	memcpy(ip, s, n);
	ip[n] = '\0';
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, ip, out->net) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, ip, out->net) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		snprintf(err, NET_ERRLEN, "%s: '%s' is not an IP address", s, ip);
		return -1;
	}
	out->prefix = max;
	if (slash) {
		char *end;
		errno = 0;
		unsigned long p = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno || p > max) {
			snprintf(err, NET_ERRLEN, "%s: prefix length must be 0-%u", s, max);
			return -1;
		}
		out->prefix = (unsigned)p;
	}
	return 0;
}

bool cidr_match(const struct cidr *c, const struct addr *a)
{
	const unsigned char *ip;
	if (a->ss.ss_family == AF_INET && c->family == AF_INET) {
		ip = (const unsigned char *)&((const struct sockaddr_in *)&a->ss)->sin_addr;
	} else if (a->ss.ss_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		ip = in6->s6_addr;
		if (c->family == AF_INET) {
			if (!IN6_IS_ADDR_V4MAPPED(in6))
				return false;
			ip += 12;
		}
	} else {
		return false;
	}
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(ip, c->net, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xFF << (8 - rest));
	return (ip[full] & mask) == (c->net[full] & mask);
}

int net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

int net_set_nodelay(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int net_set_reset_on_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

int net_listen(const struct addr *a, int backlog, char err[NET_ERRLEN])
{
	char name[ADDR_STRLEN];
	int one = 1;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, NET_ERRLEN, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		snprintf(err, NET_ERRLEN, "setsockopt SO_REUSEADDR: %s", strerror(errno));
		goto fail;
	}
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		snprintf(err, NET_ERRLEN, "setsockopt IPV6_V6ONLY: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		snprintf(err, NET_ERRLEN, "bind %s: %s", addr_format(a, name), strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) < 0) {
		snprintf(err, NET_ERRLEN, "listen %s: %s", addr_format(a, name), strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int net_local_addr(int fd, struct addr *out)
{
	out->len = sizeof(out->ss);
	return getsockname(fd, (struct sockaddr *)&out->ss, &out->len);
}

int net_peer_addr(int fd, struct addr *out)
{
	out->len = sizeof(out->ss);
	return getpeername(fd, (struct sockaddr *)&out->ss, &out->len);
}

int net_accept(int listen_fd, struct addr *peer)
{
	struct addr tmp;
	struct addr *p = peer ? peer : &tmp;
	p->len = sizeof(p->ss);
	return accept4(listen_fd, (struct sockaddr *)&p->ss, &p->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int net_connect(const struct addr *a, const struct addr *source, char err[NET_ERRLEN])
{
	char name[ADDR_STRLEN];
	int saved;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, NET_ERRLEN, "socket: %s", strerror(errno));
		return -1;
	}
	if (source != NULL) {
		int one = 1;
		/* Many outgoing connections from one source IP: let the kernel pick
		 * the port at connect() time rather than at bind() time. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (const struct sockaddr *)&source->ss, source->len) < 0) {
			saved = errno;
			snprintf(err, NET_ERRLEN, "bind %s: %s", addr_format(source, name), strerror(errno));
			goto fail;
		}
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0 && errno != EINPROGRESS) {
		saved = errno;
		snprintf(err, NET_ERRLEN, "connect %s: %s", addr_format(a, name), strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	errno = saved;
	return -1;
}

int net_bind_check(const struct addr *a, char err[NET_ERRLEN])
{
	char name[ADDR_STRLEN];
	int one = 1, fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;
	if (fd < 0) {
		snprintf(err, NET_ERRLEN, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		snprintf(err, NET_ERRLEN, "bind %s: %s", addr_format(a, name), strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

int net_connect_result(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return errno;
	return e;
}

long long net_raise_fd_limit(unsigned long long want, char err[NET_ERRLEN])
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		snprintf(err, NET_ERRLEN, "getrlimit RLIMIT_NOFILE: %s", strerror(errno));
		return -1;
	}
	rlim_t target = (want == 0 || (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)) ? rl.rlim_max : (rlim_t)want;
	if (target == RLIM_INFINITY)
		target = 1u << 20;   /* what the kernel's nr_open allows by default */
	if (target <= rl.rlim_cur)
		return (long long)rl.rlim_cur;
	rl.rlim_cur = target;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		snprintf(err, NET_ERRLEN, "setrlimit RLIMIT_NOFILE %llu: %s", (unsigned long long)target, strerror(errno));
		return -1;
	}
	return (long long)target;
}
