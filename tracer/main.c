/*
 * main.c - tracer: capture the client <-> proxy and proxy <-> backend TCP
 * connections of an HTTP/1.x proxy and label every packet with its step of
 * the request's flow (1 connect, 2 request, 3 decide, 4 backend connect,
 * 5 forward, 6 response, 7 return).  Flags, the capture loops, the end.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ev.h"
#include "log.h"
#include "sig.h"

#include "capture.h"
#include "correlate.h"
#include "decode.h"
#include "events.h"
#include "output.h"
#include "pcapng.h"
#include "tracer.h"

static void usage(FILE *f)
{
	fprintf(f,
	"usage: tracer (-i IFACE | -r FILE) --proxy [ADDR:]PORT --backends [ADDR:]PORT[,...]\n"
	"              [--name ADDR:PORT=NAME]... [--json | --summary | --mermaid]\n"
	"              [-w OUT.pcapng] [--events FILE] [--step] [-c COUNT] [--duration D]\n"
	"              [-l] [--color auto|always|never] [--snaplen N] [--buffer SIZE] [-v]\n"
	"\n"
	"Labels each packet between a client, an HTTP/1.x proxy and its backends with\n"
	"its step: 1 client connects, 2 request, 3 proxy decides, 4 proxy connects to\n"
	"the backend, 5 request forwarded, 6 response, 7 response returned.\n"
	"\n"
	"  -i IFACE              capture live on IFACE (lo, any, ...): needs root or CAP_NET_RAW\n"
	"  -r FILE               read a pcap or pcapng file\n"
	"  --proxy [ADDR:]PORT   the proxy's listening address (a port alone: any address)\n"
	"  --backends LIST       the backends' addresses, comma-separated; named b1, b2, ...\n"
	"  --name ADDR:PORT=NAME name a backend (else b<N>, or its X-Backend header)\n"
	"  --json                one JSON object a line per packet\n"
	"  --summary             a table of the time each request spent in each step\n"
	"  --mermaid             a Mermaid sequence diagram of the flow\n"
	"  -w OUT.pcapng         also write the packets, each with its label as a comment\n"
	"  --events FILE         the proxy's JSON step events: what step 3 decided\n"
	"  --step                pause after each step until Enter (for demos)\n"
	"  -c COUNT              stop after COUNT packets of the trace\n"
	"  --duration D          stop after D (live: 10s, 2m, ...)\n"
	"  -l, --line-buffered   print each packet as it arrives (default on a terminal)\n"
	"  --color WHEN          auto (on a terminal, unless NO_COLOR is set), always, never\n"
	"  --snaplen N           bytes captured per packet (default 262144)\n"
	"  --buffer SIZE         the kernel's capture buffer (default 64M)\n"
	"  -v                    say why a stream stopped being parsed as HTTP\n"
	"  -h, --help, --version\n"
	"\n"
	"Without --json, --summary or --mermaid it prints a timeline grouped by request.\n"
	"It stops at the end of the file, after -c or --duration, or on SIGINT/SIGTERM,\n"
	"and prints a closing line (on stderr with --json and --summary).  See tracer(1).\n");
}

/* [ADDR:]PORT: a bare port matches any address. */
static void parse_role(const char *flag, const char *s, struct role_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (*s != '\0' && strspn(s, "0123456789") == strlen(s)) {
		out->any_ip = true;
		out->port = (uint16_t)cli_uint(flag, s, 1, 65535);
		return;
	}
	struct addr a;
	cli_addr(flag, s, -1, &a);
	if (a.ss.ss_family == AF_INET) {
		out->family = 4;
		memcpy(out->ip, &((struct sockaddr_in *)&a.ss)->sin_addr, 4);
	} else {
		out->family = 6;
		memcpy(out->ip, &((struct sockaddr_in6 *)&a.ss)->sin6_addr, 16);
	}
	out->port = addr_port(&a);
	if (out->port == 0)
		usage_error("%s: '%s' needs a port other than 0", flag, s);
}

static void parse_backends(struct trace *t, const char *list)
{
	char *copy = xstrndup(list, strlen(list)), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct role_addr *n = realloc(t->bcfg, (t->nbcfg + 1) * sizeof(*n));
		if (n == NULL)
			oom();
		t->bcfg = n;
		parse_role("--backends", tok, &t->bcfg[t->nbcfg++]);
	}
	free(copy);
	if (t->nbcfg == 0)
		usage_error("--backends: no address in '%s'", list);
}

static void parse_name(struct trace *t, const char *s)
{
	const char *eq = strrchr(s, '=');
	if (eq == NULL || eq[1] == '\0' || eq == s)
		usage_error("--name: '%s' is not ADDR:PORT=NAME", s);
	if (strlen(eq + 1) >= sizeof(((struct backend *)0)->name))
		usage_error("--name: '%s' is longer than %zu bytes", eq + 1, sizeof(((struct backend *)0)->name) - 1);
	char *addr = xstrndup(s, (size_t)(eq - s));
	void *n = realloc(t->names, (t->nnames + 1) * sizeof(*t->names));
	if (n == NULL)
		oom();
	t->names = n;
	cli_addr("--name", addr, -1, &t->names[t->nnames].a);
	free(addr);
	t->names[t->nnames].name = xstrndup(eq + 1, strlen(eq + 1));
	t->nnames++;
}

/* ---- the capture loops --------------------------------------------------- */

struct run {
	struct trace *t;
	struct capture *cap;
	ev_loop *loop;
	uint64_t count;          /* -c: stop after this many packets (0: no limit) */
	uint64_t deadline_ns;    /* --duration, on the monotonic clock (0: none)  */
	uint64_t frames;
	bool stop;
	ev_timer tick;
};

static void on_frame(u_char *arg, const struct pcap_pkthdr *h, const u_char *data)
{
	struct run *run = (struct run *)arg;
	struct trace *t = run->t;
	struct pkt p;
	enum decode_result d = decode_frame(run->cap->linktype, data, h->caplen, &p);
	/* Live on "any", the outgoing copy of a loopback frame is dropped
	 * unseen; in a file it keeps its frame number. */
	if (d == DECODE_DUPLICATE && run->cap->live)
		return;
	uint64_t ts = capture_ts_ns(run->cap, h);
	p.frame = ++run->frames;
	p.ts_ns = ts;
	if (!t->have_first) {
		t->have_first = true;
		t->first_ts = ts;
	}
	if (ts > t->last_ts)
		t->last_ts = ts;
	t->packets++;
	if (d == DECODE_TCP) {
		trace_packet(t, &p, data, h->caplen, h->len);
	} else {
		if (d == DECODE_BAD)
			t->undecoded++;
		trace_other(t, p.frame, ts, data, h->caplen, h->len);
	}
	if (run->count && t->labelled >= run->count) {
		run->stop = true;
		pcap_breakloop(run->cap->p);
	}
}

static int read_file(struct run *run)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while (!run->stop && (rc = pcap_next_ex(run->cap->p, &h, &data)) == 1)
		on_frame((u_char *)run, h, data);
	if (run->stop || rc == PCAP_ERROR_BREAK)
		return 0;
	/* PCAP_ERROR: a truncated or corrupt file. */
	log_warn("%s: %s (after frame %llu)", run->cap->name, pcap_geterr(run->cap->p),
	         (unsigned long long)run->frames);
	return -1;
}

static void on_readable(ev_loop *loop, int fd, void *arg, int mask)
{
	(void)fd;
	(void)mask;
	struct run *run = arg;
	run->t->now_wall_ns = ev_wall_ns();
	int n = pcap_dispatch(run->cap->p, -1, on_frame, (u_char *)run);
	output_flush(run->t);
	if (n == PCAP_ERROR) {
		log_warn("capture on %s: %s", run->cap->name, pcap_geterr(run->cap->p));
		run->stop = true;
	}
	if (run->stop)
		ev_stop(loop);
}

/* Every 100 ms: packets held too long are printed, --duration ends. */
static void on_tick(ev_loop *loop, void *arg)
{
	struct run *run = arg;
	run->t->now_wall_ns = ev_wall_ns();
	output_pump(run->t, false);
	output_flush(run->t);
	if (run->deadline_ns && ev_now_ns(loop) >= run->deadline_ns) {
		ev_stop(loop);
		return;
	}
	ev_timer_arm(loop, &run->tick, 100, on_tick, run);
}

static void on_signal(ev_loop *loop, int signo, void *arg)
{
	(void)arg;
	if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP)
		ev_stop(loop);
}

static int read_live(struct run *run, uint64_t duration_us)
{
	ev_loop *loop = ev_new();
	if (loop == NULL)
		fatal("event loop: %s", strerror(errno));
	run->loop = loop;
	int fd = pcap_get_selectable_fd(run->cap->p);
	if (fd < 0)
		fatal("capture on %s: no selectable descriptor", run->cap->name);
	if (sig_setup(loop, on_signal, run) < 0)
		fatal("signals: %s", strerror(errno));
	if (ev_watch(loop, fd, EV_READ, on_readable, run) < 0)
		fatal("watch capture: %s", strerror(errno));
	if (duration_us)
		run->deadline_ns = ev_mono_ns() + duration_us * 1000;
	ev_timer_init(&run->tick);
	ev_timer_arm(loop, &run->tick, 100, on_tick, run);
	int rc = ev_run(loop);
	ev_timer_stop(loop, &run->tick);
	ev_unwatch(loop, fd);
	sig_teardown(loop);
	ev_free(loop);
	if (rc < 0)
		log_warn("event loop: %s", strerror(errno));
	return rc;
}

/* ---- main ---------------------------------------------------------------- */

enum {
	OPT_PROXY = 256, OPT_BACKENDS, OPT_NAME, OPT_JSON, OPT_SUMMARY, OPT_MERMAID, OPT_EVENTS,
	OPT_STEP, OPT_DURATION, OPT_COLOR, OPT_SNAPLEN, OPT_BUFFER, OPT_VERSION,
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "read", required_argument, NULL, 'r' },
		{ "write", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "proxy", required_argument, NULL, OPT_PROXY },
		{ "backends", required_argument, NULL, OPT_BACKENDS },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "summary", no_argument, NULL, OPT_SUMMARY },
		{ "mermaid", no_argument, NULL, OPT_MERMAID },
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "step", no_argument, NULL, OPT_STEP },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "line-buffered", no_argument, NULL, 'l' },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
		{ "buffer", required_argument, NULL, OPT_BUFFER },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct trace t;
	memset(&t, 0, sizeof(t));
	t.out = stdout;
	t.step_in = stdin;
	const char *iface = NULL, *file = NULL, *wfile = NULL, *evfile = NULL, *color = "auto";
	bool have_proxy = false;
	int nmodes = 0;
	uint64_t count = 0, duration_us = 0, snaplen = 262144, bufsize = 64u << 20;
	int ch;

	log_init(argv[0]);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":i:r:w:c:lvh", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': iface = optarg; break;
		case 'r': file = optarg; break;
		case 'w': wfile = optarg; break;
		case 'c': count = cli_uint("-c", optarg, 1, UINT64_MAX); break;
		case 'l': t.line_buffered = true; break;
		case 'v': log_verbose++; break;
		case 'h': usage(stdout); return 0;
		case OPT_PROXY: parse_role("--proxy", optarg, &t.proxy); have_proxy = true; break;
		case OPT_BACKENDS: parse_backends(&t, optarg); break;
		case OPT_NAME: parse_name(&t, optarg); break;
		case OPT_JSON: t.mode = OUT_JSON; nmodes++; break;
		case OPT_SUMMARY: t.mode = OUT_SUMMARY; nmodes++; break;
		case OPT_MERMAID: t.mode = OUT_MERMAID; nmodes++; break;
		case OPT_EVENTS: evfile = optarg; break;
		case OPT_STEP: t.step_mode = true; break;
		case OPT_DURATION: duration_us = cli_duration_us("--duration", optarg); break;
		case OPT_COLOR: color = optarg; break;
		case OPT_SNAPLEN: snaplen = cli_uint("--snaplen", optarg, 64, 262144); break;
		case OPT_BUFFER: bufsize = cli_size("--buffer", optarg); break;
		case OPT_VERSION: cli_version();
		default: cli_getopt_error(ch, argv, opts);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if ((iface == NULL) == (file == NULL))
		usage_error("give one of -i IFACE (live) or -r FILE");
	if (!have_proxy)
		usage_error("--proxy [ADDR:]PORT is required");
	if (t.nbcfg == 0)
		usage_error("--backends [ADDR:]PORT[,...] is required");
	if (nmodes > 1)
		usage_error("--json, --summary and --mermaid exclude each other");
	if (bufsize < 65536 || bufsize > (1u << 30))
		usage_error("--buffer: '%llu' is not from 64k to 1G", (unsigned long long)bufsize);
	if (strcmp(color, "always") == 0)
		t.color = true;
	else if (strcmp(color, "auto") == 0)
		t.color = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL && t.mode == OUT_TIMELINE;
	else if (strcmp(color, "never") != 0)
		usage_error("--color: '%s' is not auto, always or never", color);
	if (isatty(STDOUT_FILENO))
		t.line_buffered = true;
	if (duration_us && file)
		usage_error("--duration is for live capture (-i)");

	char err[512];
	if (evfile && (t.events = events_open(evfile, err, sizeof(err))) == NULL)
		fatal("--events: %s", err);
	if (trace_init(&t) < 0)
		oom();

	struct capture cap;
	char *filter = capture_filter(&t);
	int rc = file ? capture_open_file(&cap, file, err, sizeof(err))
	              : capture_open_live(&cap, iface, (uint32_t)snaplen, (uint32_t)bufsize,
	                                  t.line_buffered || t.step_mode, filter, err, sizeof(err));
	free(filter);
	if (rc < 0)
		fatal("%s", err);
	t.source = file ? file : iface;
	if (wfile && (t.pcapng = pcapng_open(wfile, cap.linktype, cap.snaplen, err, sizeof(err))) == NULL)
		fatal("-w: %s", err);

	if (!file) {
		/* The line scripts wait for before they send traffic. */
		fprintf(stderr, "%s: capturing on %s (%s)\n", log_prog(), iface, decode_linktype_name(cap.linktype));
	}
	output_begin(&t);
	struct run run = { .t = &t, .cap = &cap, .count = count };
	int status = 0;
	if (file) {
		if (read_file(&run) < 0)
			status = 2;
	} else {
		if (read_live(&run, duration_us) < 0)
			status = 2;
	}
	if (status == 0)
		output_end(&t, capture_drops(&cap));
	else
		output_pump(&t, true);
	if (status == 0 && t.undecoded)
		log_warn("%llu frames were not whole TCP/IP packets and were skipped", (unsigned long long)t.undecoded);
	if (status == 0 && t.events && events_bad_lines(t.events))
		log_warn("--events: %zu lines were not JSON objects", events_bad_lines(t.events));

	capture_close(&cap);
	if (t.pcapng && pcapng_close(t.pcapng, err, sizeof(err)) < 0) {
		log_warn("-w: %s", err);
		status = 2;
	}
	fflush(stdout);
	trace_free(&t);
	return status;
}
