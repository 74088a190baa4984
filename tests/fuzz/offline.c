/*
 * offline.c - keeps the harnesses off the network.  The parsers resolve
 * host names with getaddrinfo() (addr_parse, url_resolve); under a fuzzer
 * that would send DNS queries for random strings.  This getaddrinfo answers
 * "localhost" with 127.0.0.1 and every other name with EAI_NONAME, which is
 * enough to reach both of the callers' paths.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
	(void)service;
	(void)hints;
	if (node == NULL || strcasecmp(node, "localhost") != 0)
		return EAI_NONAME;
	struct {
		struct addrinfo ai;
		struct sockaddr_in sin;
	} *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return EAI_MEMORY;
	r->sin.sin_family = AF_INET;
	r->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->ai.ai_family = AF_INET;
	r->ai.ai_socktype = SOCK_STREAM;
	r->ai.ai_addr = (struct sockaddr *)&r->sin;
	r->ai.ai_addrlen = sizeof(r->sin);
	*res = &r->ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	free(res);   /* the struct addrinfo is the first member of what was allocated */
}
