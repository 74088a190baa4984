/*
 * main.c - tracer: capture the client <-> proxy and proxy <-> backend TCP
 * connections of an HTTP/1.x proxy and label every packet with its step of
 * the request's flow (1 connect, 2 request, 3 decide, 4 backend connect,
 * 5 forward, 6 response, 7 return).  Flags, the capture loops, the end.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
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
	"usage: tracer (-i IFACE | -r FILE) --proxy [ADDR:]PORT --backends [NAME=][ADDR:]PORT[,...]\n"
	"              [--backend [NAME=]ADDR:PORT]... [--name NAME]\n"
	"              [--json | --summary | --mermaid [--fenced] | --html FILE] [--requests N[-M]]\n"
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
	"  --backends LIST       the backends, comma-separated, each [NAME=][ADDR:]PORT\n"
	"                        (unnamed: b1, b2, ... or their X-Backend header)\n"
	"  --backend [NAME=]ADDR:PORT  one backend, as proxy --backend (repeatable)\n"
	"  --name NAME           the proxy's name, as proxy --name (shown instead of 'proxy')\n"
	"  --json                one JSON object a line per packet\n"
	"  --summary             a table of the time each request spent in each step\n"
	"  --mermaid             a Mermaid sequence diagram of the flow (--fenced: for Markdown)\n"
	"  --html FILE           a ladder diagram page to step through in class\n"
	"  --requests N[-M]      only requests N to M (N-: from N on)\n"
	"  -w OUT.pcapng         also write the packets, each with its label as a comment\n"
	"  --events FILE         the proxy's JSON step events: what step 3 decided\n"
	"  --step                pause after each step until Enter (for demos)\n"
	"  -c COUNT              stop after COUNT packets of the trace\n"
	"  --duration D          stop after D (live: 10s, 2m, ...)\n"
	"  -l, --line-buffered   print packets as they arrive, every 10 ms (default on a terminal)\n"
	"  --color WHEN          auto (on a terminal, unless NO_COLOR or TERM=dumb), always, never\n"
	"  --snaplen N           bytes captured per packet (default 262144)\n"
	"  --buffer SIZE         the kernel's capture buffer (default 64M)\n"
	"  -v, --verbose         say why a stream stopped being parsed as HTTP (--verbose=N)\n"
	"  -h, --help, --version\n"
	"\n"
	"Without --json, --summary, --mermaid or --html it prints a timeline grouped by\n"
	"request.  It stops at the end of the file, after -c or --duration, or on\n"
	"SIGINT/SIGTERM, and prints a closing line (on stderr with --json, --summary and\n"
	"--html).  See tracer(1).\n");
}

/* [NAME=][ADDR:]PORT: a bare port matches any address. */
static void parse_role(const char *flag, const char *s, struct role_addr *out, bool named)
{
	memset(out, 0, sizeof(*out));
	const char *eq = named ? strchr(s, '=') : NULL;
	if (eq) {
		size_t n = (size_t)(eq - s);
		if (n == 0 || n >= sizeof(out->name))
			usage_error("%s: '%s': the name before '=' must be 1 to %zu bytes", flag, s, sizeof(out->name) - 1);
		memcpy(out->name, s, n);
		out->name[n] = '\0';
		s = eq + 1;
	}
	char *copy = xstrdup(s);
	char *star = strrchr(copy, '*');   /* proxy --backend's *WEIGHT: not the tracer's business */
	if (star && star != copy && strspn(star + 1, "0123456789") == strlen(star + 1) && star[1])
		*star = '\0';
	if (*copy != '\0' && strspn(copy, "0123456789") == strlen(copy)) {
		out->any_ip = true;
		out->port = (uint16_t)cli_uint(flag, copy, 1, 65535);
		free(copy);
		return;
	}
	struct addr a;
	cli_addr(flag, copy, -1, &a);
	free(copy);
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

static void add_backend(struct trace *t, const char *flag, const char *s)
{
	t->bcfg = xrealloc(t->bcfg, t->nbcfg + 1, sizeof(*t->bcfg));
	parse_role(flag, s, &t->bcfg[t->nbcfg++], true);
}

static void parse_backends(struct trace *t, const char *list)
{
	char *copy = xstrdup(list), *save = NULL;
	size_t before = t->nbcfg;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		add_backend(t, "--backends", tok);
	free(copy);
	if (t->nbcfg == before)
		usage_error("--backends: no address in '%s'", list);
}

/* --name NAME names the proxy, as proxy --name does; the older form
 * ADDR:PORT=NAME names a backend. */
static void parse_name(struct trace *t, const char *s)
{
	const char *eq = strrchr(s, '=');
	if (eq == NULL) {
		if (*s == '\0' || strlen(s) >= sizeof(t->proxy_name) || strpbrk(s, " \t\r\n"))
			usage_error("--name: '%s' is not a name (1 to %zu bytes, no spaces)", s, sizeof(t->proxy_name) - 1);
		snprintf(t->proxy_name, sizeof(t->proxy_name), "%s", s);
		return;
	}
	if (eq[1] == '\0' || eq == s)
		usage_error("--name: '%s' is not NAME, or ADDR:PORT=NAME", s);
	if (strlen(eq + 1) >= sizeof(((struct backend *)0)->name))
		usage_error("--name: '%s' is longer than %zu bytes", eq + 1, sizeof(((struct backend *)0)->name) - 1);
	char *addr = xstrndup(s, (size_t)(eq - s));
	t->names = xrealloc(t->names, t->nnames + 1, sizeof(*t->names));
	cli_addr("--name", addr, -1, &t->names[t->nnames].a);
	free(addr);
	t->names[t->nnames].name = xstrdup(eq + 1);
	t->nnames++;
}

/* N, N-M or N-: request numbers. */
static void parse_requests(struct trace *t, const char *s)
{
	const char *dash = strchr(s, '-');
	char *lo = xstrndup(s, dash ? (size_t)(dash - s) : strlen(s));
	t->req_lo = (uint32_t)cli_uint("--requests", lo, 1, UINT32_MAX);
	free(lo);
	if (dash == NULL)
		t->req_hi = t->req_lo;
	else if (dash[1] == '\0')
		t->req_hi = UINT32_MAX;
	else
		t->req_hi = (uint32_t)cli_uint("--requests", dash + 1, 1, UINT32_MAX);
	if (t->req_hi < t->req_lo)
		usage_error("--requests: '%s' ends before it starts", s);
}

/* Does the backend entry name the proxy's own address? */
static bool same_role(const struct role_addr *a, const struct role_addr *b)
{
	if (a->port != b->port)
		return false;
	if (a->any_ip || b->any_ip)
		return true;
	return a->family == b->family && memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16) == 0;
}

/* ---- signals ----------------------------------------------------------------- */

static volatile bool stop_flag;

/* Reading a file: SIGINT, SIGTERM and SIGHUP end the run with its closing
 * line; not restarted, so a --step pause wakes up. */
static void on_stop_signal(int signo)
{
	(void)signo;
	stop_flag = true;
}

static void file_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			fatal("sigaction: %s", strerror(errno));
}

/* ---- the capture loops --------------------------------------------------- */

struct run {
	struct trace *t;
	struct capture *cap;
	ev_loop *loop;
	uint64_t count;          /* -c: stop after this many packets (0: no limit) */
	uint64_t deadline_ns;    /* --duration, on the monotonic clock (0: none)  */
	uint64_t frames;
	unsigned ticks;
	uint64_t trimmed_ns;     /* when trace_trim last ran (monotonic) */
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
	trace_frame(t, d, &p, ++run->frames, capture_ts_ns(run->cap, h), data, h->caplen, h->len);
	if ((run->count && t->labelled >= run->count) || (stop_flag && !run->cap->live)) {
		run->stop = true;
		pcap_breakloop(run->cap->p);
	}
}

static int read_file(struct run *run)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	while (!run->stop && !stop_flag && (rc = pcap_next_ex(run->cap->p, &h, &data)) == 1)
		on_frame((u_char *)run, h, data);
	if (run->stop || stop_flag || rc == PCAP_ERROR_BREAK)
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
	output_flush(run->t, false);
	if (n == PCAP_ERROR) {
		log_warn("capture on %s: %s", run->cap->name, pcap_geterr(run->cap->p));
		run->stop = true;
	}
	if (run->stop || stop_flag)
		ev_stop(loop);
}

/* Every 10 ms: output is written (-l); every 100 ms: packets held too long
 * are printed, gaps that waited too long are settled, --duration ends;
 * every second: memory a burst took goes back (trace_trim). */
static void on_tick(ev_loop *loop, void *arg)
{
	struct run *run = arg;
	struct trace *t = run->t;
	t->now_wall_ns = ev_wall_ns();
	if (++run->ticks % 10 == 0 || !t->line_buffered) {
		trace_tick(t, false);
		output_pump(t, false);
	}
	output_flush(t, false);
	if (ev_now_ns(loop) >= run->trimmed_ns + 1000000000u) {
		trace_trim(t);
		run->trimmed_ns = ev_now_ns(loop);
	}
	if (stop_flag || (run->deadline_ns && ev_now_ns(loop) >= run->deadline_ns)) {
		ev_stop(loop);
		return;
	}
	ev_timer_arm(loop, &run->tick, t->line_buffered ? 10 : 100, on_tick, run);
}

static void on_signal(ev_loop *loop, int signo, void *arg)
{
	(void)arg;
	if (signo == SIGINT || signo == SIGTERM || signo == SIGHUP) {
		stop_flag = true;
		ev_stop(loop);
	}
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
	ev_timer_arm(loop, &run->tick, run->t->line_buffered ? 10 : 100, on_tick, run);
	int rc = ev_run(loop);
	/* What the kernel captured before the stop is part of the trace
	 * (unless a signal ended a --step pause: then nothing more is shown):
	 * read on until nothing comes for 100 ms (the kernel hands a block
	 * over 10 ms after its first packet at the latest). */
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (!run->stop && !run->t->discard) {
		int n = pcap_dispatch(run->cap->p, -1, on_frame, (u_char *)run);
		if (n > 0)
			continue;
		if (n < 0 || poll(&pfd, 1, 100) <= 0)
			break;
	}
	ev_timer_stop(loop, &run->tick);
	ev_unwatch(loop, fd);
	sig_teardown(loop);
	ev_free(loop);
	if (rc < 0)
		log_warn("event loop: %s", strerror(errno));
	return rc;
}

/* ---- colours and the terminal ------------------------------------------------- */

/* --color auto: a terminal that can show them, unless NO_COLOR is set to
 * something (no-color.org: an empty NO_COLOR does not count). */
static bool want_color(const char *when, enum out_mode mode)
{
	if (strcmp(when, "always") == 0)
		return true;
	if (strcmp(when, "never") == 0)
		return false;
	if (strcmp(when, "auto") != 0)
		usage_error("--color: '%s' is not auto, always or never", when);
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
	if (no && *no)
		return false;
	if (term && strcmp(term, "dumb") == 0)
		return false;
	return mode == OUT_TIMELINE && isatty(STDOUT_FILENO);
}

/* A terminal's width: timeline lines are cut to it (tcpdump does the same
 * on a terminal).  0 when stdout is not a terminal. */
static unsigned term_width(void)
{
	if (!isatty(STDOUT_FILENO))
		return 0;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *cols = getenv("COLUMNS");
	uint64_t n;
	if (cols && parse_uint(cols, 20, 10000, &n) == 0)
		return (unsigned)n;
	return 80;
}

/* "2026-11-26 10:00:00 UTC" for a warning. */
static const char *utc(uint64_t ns, char *buf, size_t size)
{
	time_t s = (time_t)(ns / 1000000000u);
	struct tm tm;
	if (gmtime_r(&s, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "%llu", (unsigned long long)(ns / 1000000000u));
	return buf;
}

/* What --events had to skip, and a file from another time than the capture. */
static void events_warnings(struct trace *t)
{
	char a[48], b[48], c[48], d[48];
	uint64_t lo, hi;
	if (events_bad_lines(t->events))
		log_warn("--events: %zu lines were not JSON objects", events_bad_lines(t->events));
	if (events_long_lines(t->events))
		log_warn("--events: %zu lines longer than %u KiB were skipped", events_long_lines(t->events), EV_LINE_MAX >> 10);
	if (events_capped(t->events))
		log_warn("--events: stopped reading after %llu MiB", (unsigned long long)(EV_TOTAL_MAX >> 20));
	if (events_span(t->events, &lo, &hi) && t->have_first &&
	    (hi + 1000000000u < t->first_ts || lo > t->last_ts + 1000000000u))
		log_warn("--events: its events (%s to %s) are not from the capture's time (%s to %s)",
		         utc(lo, a, sizeof(a)), utc(hi, b, sizeof(b)), utc(t->first_ts, c, sizeof(c)), utc(t->last_ts, d, sizeof(d)));
}

/* ---- main ---------------------------------------------------------------- */

enum {
	OPT_PROXY = 256, OPT_BACKENDS, OPT_BACKEND, OPT_NAME, OPT_JSON, OPT_SUMMARY, OPT_MERMAID, OPT_FENCED,
	OPT_HTML, OPT_REQUESTS, OPT_EVENTS, OPT_STEP, OPT_DURATION, OPT_COLOR, OPT_SNAPLEN, OPT_BUFFER,
	OPT_VERBOSE, OPT_VERSION,
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
		{ "backend", required_argument, NULL, OPT_BACKEND },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "summary", no_argument, NULL, OPT_SUMMARY },
		{ "mermaid", no_argument, NULL, OPT_MERMAID },
		{ "fenced", no_argument, NULL, OPT_FENCED },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "requests", required_argument, NULL, OPT_REQUESTS },
		{ "events", required_argument, NULL, OPT_EVENTS },
		{ "step", no_argument, NULL, OPT_STEP },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "line-buffered", no_argument, NULL, 'l' },
		{ "color", required_argument, NULL, OPT_COLOR },
		{ "snaplen", required_argument, NULL, OPT_SNAPLEN },
		{ "buffer", required_argument, NULL, OPT_BUFFER },
		{ "verbose", optional_argument, NULL, OPT_VERBOSE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct trace t;
	memset(&t, 0, sizeof(t));
	t.out = stdout;
	t.step_fd = STDIN_FILENO;
	t.stop = &stop_flag;
	const char *iface = NULL, *file = NULL, *wfile = NULL, *evfile = NULL, *color = "auto", *html = NULL;
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
		case OPT_VERBOSE:
			/* --verbose adds one, --verbose=N sets N, as in the proxy */
			log_verbose = optarg ? (int)cli_uint("--verbose", optarg, 0, 9) : log_verbose + 1;
			break;
		case OPT_PROXY: parse_role("--proxy", optarg, &t.proxy, false); have_proxy = true; break;
		case OPT_BACKENDS: parse_backends(&t, optarg); break;
		case OPT_BACKEND: add_backend(&t, "--backend", optarg); break;
		case OPT_NAME: parse_name(&t, optarg); break;
		case OPT_JSON: t.mode = OUT_JSON; nmodes++; break;
		case OPT_SUMMARY: t.mode = OUT_SUMMARY; nmodes++; break;
		case OPT_MERMAID: t.mode = OUT_MERMAID; nmodes++; break;
		case OPT_FENCED: t.fenced = true; break;
		case OPT_HTML: t.mode = OUT_HTML; html = optarg; nmodes++; break;
		case OPT_REQUESTS: parse_requests(&t, optarg); break;
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
		usage_error("--backends [NAME=][ADDR:]PORT[,...] (or --backend) is required");
	if (nmodes > 1)
		usage_error("--json, --summary, --mermaid and --html exclude each other");
	if (t.fenced && t.mode != OUT_MERMAID)
		usage_error("--fenced goes with --mermaid");
	if (t.step_mode && t.mode != OUT_TIMELINE)
		usage_error("--step goes with the timeline (not --json, --summary, --mermaid or --html)");
	if (bufsize < 65536 || bufsize > (1u << 30))
		usage_error("--buffer: '%llu' is not from 64k to 1G", (unsigned long long)bufsize);
	t.color = want_color(color, t.mode);
	if (isatty(STDOUT_FILENO))
		t.line_buffered = true;
	if (t.mode == OUT_TIMELINE)
		t.width = term_width();
	if (duration_us && file)
		usage_error("--duration is for live capture (-i)");
	for (size_t i = 0; i < t.nbcfg; i++) {
		if (same_role(&t.bcfg[i], &t.proxy)) {
			log_warn("--backends: entry %zu names the --proxy port %u: connections there are taken as "
			         "client connections", i + 1, t.proxy.port);
			break;
		}
	}

	char err[512];
	if (evfile && (t.events = events_open(evfile, err, sizeof(err))) == NULL)
		fatal("--events: %s", err);
	if (trace_init(&t) < 0)
		oom();

	struct capture cap;
	char *filter = capture_filter(&t);
	int rc = file ? capture_open_file(&cap, file, err, sizeof(err))
	              : capture_open_live(&cap, iface, (uint32_t)snaplen, (uint32_t)bufsize,
	                                  t.step_mode ? 0 : t.line_buffered ? 10 : 50, filter, err, sizeof(err));
	free(filter);
	if (rc < 0)
		fatal("%s", err);
	t.source = file ? file : iface;
	if (wfile && (t.pcapng = pcapng_open(wfile, cap.linktype, cap.snaplen, err, sizeof(err))) == NULL)
		fatal("-w: %s", err);
	if (html && html_open(&t, html, err, sizeof(err)) < 0)
		fatal("--html: %s", err);

	if (!file) {
		/* The line scripts wait for before they send traffic. */
		fprintf(stderr, "%s: capturing on %s (%s)\n", log_prog(), iface, decode_linktype_name(cap.linktype));
	} else {
		file_signals();
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
	if (status == 0) {
		output_end(&t, capture_drops(&cap));
	} else {
		trace_tick(&t, true);
		output_pump(&t, true);
	}
	if (status == 0 && t.undecoded)
		log_warn("%llu frames were not whole TCP/IP packets and were skipped", (unsigned long long)t.undecoded);
	if (status == 0 && t.fragments)
		log_warn("%llu IP fragments were not reassembled and were skipped", (unsigned long long)t.fragments);
	if (status == 0 && t.events)
		events_warnings(&t);

	capture_close(&cap);
	if (t.pcapng && pcapng_close(t.pcapng, err, sizeof(err)) < 0) {
		log_warn("-w: %s", err);
		status = 2;
	}
	fflush(stdout);
	trace_free(&t);
	return status;
}
