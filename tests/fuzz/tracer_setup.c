/*
 * tracer_setup.c - a trace for the tracer harnesses (see tracer_setup.h).
 */
#include "tracer_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "../../tracer/events.h"
#include "../../tracer/output.h"
#include "../../tracer/pcapng.h"

#define TICK_NS 100000000ull   /* the live loop's trace_tick, every 100 ms */

/* The proxy's events for --events: a denied client, the step-3 decisions
 * of requests the tracer harness's inputs (X-Request-ID: fuzz1) and the
 * seed captures (our proxy's ids) carry, and lines to skip. */
static const char events_text[] =
	"{\"t\":1700000000.000100,\"id\":\"\",\"step\":1,\"event\":\"deny\",\"client\":\"127.0.0.1:50001\"}\n"
	"{\"t\":1700000000.000200,\"id\":\"fuzz1\",\"step\":2,\"event\":\"request-headers\",\"conn\":1,"
	"\"client\":\"127.0.0.1:50000\",\"method\":\"GET\",\"target\":\"/\",\"version\":\"HTTP/1.1\",\"ms\":0.066}\n"
	"{\"t\":1700000000.000300,\"id\":\"fuzz1\",\"step\":3,\"event\":\"decide\",\"conn\":1,\"client\":\"127.0.0.1:50000\","
	"\"pool\":\"default\",\"server\":\"127.0.0.11:9001\",\"server_name\":\"b1\",\"algorithm\":\"roundrobin\","
	"\"reason\":\"roundrobin: next in turn\",\"route\":\"default\",\"ms\":0.007}\n"
	"{\"t\":1700000000000400000,\"id\":\"fuzz2\",\"step\":3,\"event\":\"decide\",\"client\":\"127.0.0.1:50000\","
	"\"server\":\"127.0.0.12:9001\"}\n"
	"{\"t\":1795699826218866900,\"id\":\"8c9ec28300000001\",\"step\":3,\"event\":\"decide\",\"conn\":2,"
	"\"client\":\"127.0.0.1:50886\",\"pool\":\"default\",\"server\":\"127.0.0.11:9001\",\"server_name\":\"b1\","
	"\"algorithm\":\"roundrobin\",\"reason\":\"roundrobin: next in turn\",\"route\":\"default\",\"ms\":0}\n"
	"not an event\n"
	"[1, 2]\n";

/* A memfd holding events_text, by its /proc path. */
static const char *events_path(void)
{
	static char path[64];
	if (path[0] == '\0') {
		int fd = memfd_create("fuzz.events", MFD_CLOEXEC);
		if (fd < 0)
			fuzz_fail("memfd_create failed");
		if (write(fd, events_text, sizeof(events_text) - 1) != (ssize_t)(sizeof(events_text) - 1))
			fuzz_fail("cannot write the events memfd");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);   /* kept open for the process */
	}
	return path;
}

static FILE *dev_null(void)
{
	static FILE *f;
	if (f == NULL && (f = fopen("/dev/null", "w")) == NULL)
		fuzz_fail("cannot open /dev/null");
	return f;
}

void tracer_begin(struct fuzz_trace *f, uint64_t choice)
{
	memset(f, 0, sizeof(*f));
	struct trace *t = &f->t;
	char err[512];
	t->out = dev_null();
	t->step_fd = -1;
	t->mode = (enum out_mode)(choice % 5);
	choice /= 5;
	t->color = choice & 1;
	t->fenced = t->mode == OUT_MERMAID && (choice & 2);
	t->line_buffered = choice & 4;
	f->live = choice & 8;
	f->warp = (choice & 16) ? 1000 : 1;    /* a slow machine's wall clock: everything waits too long */
	if (choice & 32) {                       /* --requests 2-3 */
		t->req_lo = 2;
		t->req_hi = 3;
	}
	if (t->mode == OUT_TIMELINE && (choice & 64))
		t->width = (choice & 128) ? 20 : 72;
	t->proxy = (struct role_addr){ .family = 4, .ip = { 127, 0, 0, 2 }, .port = 8080 };
	t->bcfg = calloc(3, sizeof(*t->bcfg));
	if (t->bcfg == NULL)
		fuzz_fail("out of memory");
	t->bcfg[0] = (struct role_addr){ .family = 4, .ip = { 127, 0, 0, 11 }, .port = 9001, .name = "b1" };
	t->bcfg[1] = (struct role_addr){ .family = 4, .ip = { 127, 0, 0, 12 }, .port = 9001 };
	t->bcfg[2] = (struct role_addr){ .any_ip = true, .port = 9002 };
	t->nbcfg = 3;
	if (choice & 256) {                      /* --name edge --name 127.0.0.12:9001=beta */
		snprintf(t->proxy_name, sizeof(t->proxy_name), "edge");
		char nerr[NET_ERRLEN];
		if ((t->names = calloc(1, sizeof(*t->names))) == NULL || (t->names[0].name = strdup("beta")) == NULL)
			fuzz_fail("out of memory");
		if (addr_parse("127.0.0.12:9001", -1, &t->names[0].a, nerr) < 0)
			fuzz_fail("addr_parse: %s", nerr);
		t->nnames = 1;
	}
	if ((choice & 512) && (t->events = events_open(events_path(), err, sizeof(err))) == NULL)
		fuzz_fail("events_open: %s", err);
	t->source = "fuzz";
	if (trace_init(t) < 0)
		fuzz_fail("trace_init failed");
	if ((choice & 0xc00) == 0 && (t->pcapng = pcapng_open("/dev/null", 1, 262144, err, sizeof(err))) == NULL)
		fuzz_fail("pcapng_open /dev/null: %s", err);
	if (t->mode == OUT_HTML && html_open(t, "/dev/null", err, sizeof(err)) < 0)
		fuzz_fail("html_open /dev/null: %s", err);
	output_begin(t);
}

/* What the live loop does every 10 ms (write out, with -l), 100 ms and
 * second (give memory back). */
static void live_tick(struct fuzz_trace *f)
{
	struct trace *t = &f->t;
	if (t->now_wall_ns >= f->last_tick + TICK_NS) {
		f->last_tick = t->now_wall_ns;
		trace_tick(t, false);
		output_pump(t, false);
	}
	output_flush(t, false);
	if (t->now_wall_ns >= f->last_trim + 10 * TICK_NS) {
		f->last_trim = t->now_wall_ns;
		trace_trim(t);
	}
}

void tracer_frame(struct fuzz_trace *f, enum decode_result d, struct pkt *p, uint64_t ts_ns, const uint8_t *raw,
                  uint32_t rawlen, uint32_t wirelen)
{
	struct trace *t = &f->t;
	if (d == DECODE_DUPLICATE && f->live)
		return;
	if (f->live) {
		if (f->wall0 == 0)
			f->wall0 = f->last_tick = f->last_trim = 1800000000000000000u;
		uint64_t since = t->have_first && ts_ns > t->first_ts ? ts_ns - t->first_ts : 0;
		t->now_wall_ns = f->wall0 + (since > UINT64_MAX / f->warp / 2 ? UINT64_MAX / 2 : since * f->warp);
	}
	trace_frame(t, d, p, ++f->frames, ts_ns, raw, rawlen, wirelen);
	if (f->live)
		live_tick(f);
}

void tracer_end(struct fuzz_trace *f, bool ok)
{
	struct trace *t = &f->t;
	char err[256];
	if (ok) {
		output_end(t, f->live ? 0 : -1);
	} else {
		trace_tick(t, true);
		output_pump(t, true);
	}
	FUZZ_CHECK(t->qlen == 0, "%zu packets were never printed", t->qlen);
	if (t->pcapng != NULL && pcapng_close(t->pcapng, err, sizeof(err)) < 0)
		fuzz_fail("pcapng_close: %s", err);
	t->pcapng = NULL;
	trace_free(t);
	FUZZ_CHECK(t->live_reqs == 0, "%zu requests were never freed", t->live_reqs);
	FUZZ_CHECK(t->by_id_count == 0, "%zu request ids were left indexed", t->by_id_count);
}
