/*
 * trace.c - the trace's lifetime: memory helpers that end the run on
 * exhaustion (one line, exit 2), and freeing everything at the end.
 * Freeing as the trace goes is each module's business: tcp.c frees closed
 * connections once their packets are printed, and with them the requests
 * nothing else refers to (correlate.c).
 */
#include "tracer.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "events.h"
#include "log.h"
#include "output.h"

void oom(void)
{
	fatal("out of memory");
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	size_t bytes = n * size;
	void *q = realloc(p, bytes ? bytes : 1);
	if (q == NULL)
		oom();
	return q;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (p == NULL)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

void trace_trim(struct trace *t)
{
	output_trim(t);
	malloc_trim(0);   /* glibc: free heap pages go back, not only the top */
}

void trace_free(struct trace *t)
{
	trace_free_conns(t);
	corr_free_all(t);
	output_free(t);
	free(t->by_id);
	for (size_t i = 0; i < t->nbes; i++)
		free(t->bes[i]);
	free(t->bes);
	for (size_t i = 0; i < t->nnames; i++)
		free(t->names[i].name);
	free(t->names);
	free(t->bcfg);
	events_free(t->events);
	t->events = NULL;
}
