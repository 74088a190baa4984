/*
 * trace.c - the trace's lifetime: memory helpers that end the run on
 * exhaustion (one line, exit 2), and freeing everything at the end.
 */
#include "tracer.h"

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

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (p == NULL)
		oom();
	return p;
}

void trace_free(struct trace *t)
{
	output_free(t);
	trace_free_conns(t);
	for (size_t i = 0; i < t->nreqs; i++)
		corr_free_request(t->reqs[i]);
	free(t->reqs);
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
