/*
 * tracer_setup.c - a trace for the tracer harnesses (see tracer_setup.h).
 */
#include "tracer_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "../../tracer/output.h"
#include "../../tracer/pcapng.h"

void tracer_begin(struct trace *t, uint64_t choice)
{
	static FILE *devnull;
	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		fuzz_fail("cannot open /dev/null");
	memset(t, 0, sizeof(*t));
	t->out = devnull;
	t->mode = (enum out_mode)(choice % 4);
	t->color = choice >> 2 & 1;
	t->proxy = (struct role_addr){ .family = 4, .ip = { 127, 0, 0, 2 }, .port = 8080 };
	t->bcfg = calloc(2, sizeof(*t->bcfg));
	if (t->bcfg == NULL)
		fuzz_fail("out of memory");
	t->bcfg[0] = (struct role_addr){ .family = 4, .ip = { 127, 0, 0, 11 }, .port = 9001 };
	t->bcfg[1] = (struct role_addr){ .any_ip = true, .port = 9002 };
	t->nbcfg = 2;
	t->source = "fuzz";
	if (trace_init(t) < 0)
		fuzz_fail("trace_init failed");
	char err[256];
	if ((choice >> 3 & 3) == 0 && (t->pcapng = pcapng_open("/dev/null", 1, 262144, err, sizeof(err))) == NULL)
		fuzz_fail("pcapng_open /dev/null: %s", err);
	output_begin(t);
}

void tracer_end(struct trace *t)
{
	char err[256];
	output_end(t, -1);
	if (t->pcapng != NULL && pcapng_close(t->pcapng, err, sizeof(err)) < 0)
		fuzz_fail("pcapng_close: %s", err);
	trace_free(t);
}
