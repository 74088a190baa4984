/*
 * logs.c - what the proxy tells people: one access-log line per request
 * with per-step timings (HAProxy style; --log-format json for machines),
 * and --events, one JSON object a line per step of each request (the
 * tracer reads these to show step 3, which has no packets).  Lines collect
 * in a buffer written once per turn of the event loop, so logging costs no
 * system call per request.  SIGHUP reopens both files (logs_reopen).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"

uint64_t step_time(void)
{
	return P.log_fd >= 0 || P.events_fd >= 0 ? ev_mono_ns() : ev_now_ns(P.loop);
}

double ms_between(uint64_t a, uint64_t b)
{
	return (a == 0 || b < a) ? 0 : (double)(b - a) / 1e6;
}

static int open_out(const char *path, const char *what)
{
	if (strcmp(path, "-") == 0)
		return STDOUT_FILENO;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		log_warn("%s: open %s: %s", what, path, strerror(errno));
	return fd;
}

int logs_open(void)
{
	const struct config *cfg = P.cfg;
	P.log_fd = STDERR_FILENO;
	if (cfg->quiet)
		P.log_fd = -1;
	else if (cfg->access_log != NULL && (P.log_fd = open_out(cfg->access_log, "--access-log")) < 0)
		return -1;
	if (cfg->events != NULL && (P.events_fd = open_out(cfg->events, "--events")) < 0)
		return -1;
	return 0;
}

static void write_all(int fd, struct buf *b)
{
	while (fd >= 0 && buf_len(b) > 0) {
		ssize_t n = buf_write_fd(b, fd);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;   /* a log that cannot be written must not stop the proxy */
	}
	buf_clear(b);
}

static void on_flush(ev_loop *loop, void *arg)
{
	(void)loop;
	(void)arg;
	write_all(P.log_fd, &P.log);
	write_all(P.events_fd, &P.events);
}

void logs_flush_soon(void)
{
	if (!ev_timer_armed(&P.flush_timer))
		ev_timer_arm(P.loop, &P.flush_timer, 0, on_flush, NULL);
}

/* Opens path anew for *fd (a file only, not stdout or stderr); on failure
 * the old file stays in use and the reason goes to stderr. */
static void reopen(int *fd, const char *path, const char *what)
{
	if (path == NULL || strcmp(path, "-") == 0 || *fd <= STDERR_FILENO)
		return;
	int nfd = open_out(path, what);
	if (nfd < 0)
		return;
	close(*fd);
	*fd = nfd;
}

void logs_reopen(void)
{
	on_flush(P.loop, NULL);     /* what is buffered belongs to the old files */
	reopen(&P.log_fd, P.cfg->access_log, "--access-log");
	reopen(&P.events_fd, P.cfg->events, "--events");
	log_debug("SIGHUP: log files reopened");
}

void logs_close(void)
{
	ev_timer_stop(P.loop, &P.flush_timer);
	on_flush(P.loop, NULL);
	if (P.log_fd > STDERR_FILENO)
		close(P.log_fd);
	if (P.events_fd > STDERR_FILENO)
		close(P.events_fd);
	buf_free(&P.log);
	buf_free(&P.events);
}

/* Appends s with quotes, backslashes, non-printables (and spaces, unless
 * space_ok) as \xHH, so a log line always splits the same way. */
static void put_escaped(struct buf *b, const char *s, bool space_ok)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < ' ' || (ch == ' ' && !space_ok) || ch >= 0x7f || ch == '"' || ch == '\\')
			buf_printf(b, "\\x%02x", ch);
		else
			buf_append(b, s, 1);
	}
}

/* Unix time in seconds with microseconds, "1764158400.000063": exact in a
 * JavaScript number and in jq, where integer nanoseconds above 2^53 are not. */
static void put_unix_time(struct buf *b, uint64_t wall_ns)
{
	char frac[8];
	unsigned long us = (unsigned long)(wall_ns / 1000 % 1000000);
	frac[0] = '.';
	for (int i = 6; i >= 1; i--, us /= 10)
		frac[i] = (char)('0' + us % 10);
	buf_put_uint(b, wall_ns / 1000000000u);
	buf_append(b, frac, 7);
}

/* "2026-11-30T11:02:03.123Z" (UTC); the second's text is made once a second. */
static void put_iso_time(struct buf *b, uint64_t wall_ns)
{
	static time_t cached_sec = -1;
	static char cached[32];
	time_t sec = (time_t)(wall_ns / 1000000000u);
	if (sec != cached_sec) {
		struct tm tm;
		if (gmtime_r(&sec, &tm) == NULL || strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
			snprintf(cached, sizeof(cached), "%lld", (long long)sec);
		cached_sec = sec;
	}
	unsigned ms = (unsigned)(wall_ns / 1000000 % 1000);
	char frac[] = { '.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z', '\0' };
	buf_cat(b, cached, frac, NULL);
}

/* One timing: " key=0.123" (ms) in text, ,"key":0.123 in JSON; - or null
 * when the step did not happen. */
static void put_ms(struct buf *b, bool json, const char *key, uint64_t a, uint64_t z)
{
	if (json)
		buf_cat(b, ",\"", key, "\":", NULL);
	else
		buf_cat(b, " ", key, "=", NULL);
	if (a == 0 || z == 0)
		buf_puts(b, json ? "null" : "-");
	else
		buf_printf(b, "%.3f", ms_between(a, z));
}

/* The time of each step: req_hdr (2), decide (3), connect (4), ttfb (5-6),
 * total (to 7, or to now for a request still open). */
static void put_timings(struct buf *b, bool json, const struct exchange *x)
{
	uint64_t end = x->t_end ? x->t_end : ev_mono_ns();
	put_ms(b, json, "req_hdr", x->t_start, x->t_head);
	put_ms(b, json, "decide", x->t_decide0, x->t_decided);
	put_ms(b, json, "connect", x->t_connect0, x->t_connected);
	put_ms(b, json, "ttfb", x->t_sent, x->t_resp);
	put_ms(b, json, "total", x->t_start, end);
}

/* ,"key":"value" or ,"key":null */
static void put_json_str(struct buf *b, const char *key, const char *val)
{
	buf_cat(b, ",\"", key, "\":", NULL);
	if (val == NULL)
		buf_puts(b, "null");
	else
		buf_json_str(b, val, strlen(val));
}

/* What step 3's WAF and step 6's DLP found, when they found something:
 * waf=block waf_rule=11100 waf_var=ARGS:id dlp=mask dlp_found="card=2 ssn=1"
 * (JSON: the same keys, null when nothing was found). */
static void put_security(struct buf *b, bool json, const struct exchange *x)
{
	const struct inspection *w = &x->waf;
	const struct screening *d = &x->dlp;
	bool waf = w->mode != WAF_OFF && w->action != WAF_PASS;
	bool found = d->scan != NULL && dlp_total(d->scan) > 0;
	const char *dlp = d->refused ? "block" : d->unscanned ? "unscanned" : found ? dlp_mode_name(P.cfg->dlp.mode) : NULL;
	if (json) {
		put_json_str(b, "waf", waf ? waf_action_name(w->action) : NULL);
		buf_puts(b, ",\"waf_rule\":");
		if (waf)
			buf_put_uint(b, w->rule);
		else
			buf_puts(b, "null");
		put_json_str(b, "waf_var", waf ? w->var : NULL);
		put_json_str(b, "dlp", dlp);
		buf_puts(b, ",\"dlp_found\":");
	} else {
		if (waf) {
			buf_printf(b, " waf=%s waf_rule=%lu waf_var=", waf_action_name(w->action), w->rule);
			put_escaped(b, w->var[0] ? w->var : "-", false);
		}
		if (dlp != NULL)
			buf_cat(b, " dlp=", dlp, NULL);
		if (!found)
			return;
		buf_puts(b, " dlp_found=");
	}
	if (!found) {
		buf_puts(b, "null");
		return;
	}
	buf_puts(b, "\"");
	dlp_summary(d->scan, b);
	buf_puts(b, "\"");
}

/* --log-format json: the same facts as the text line, one object a line,
 * with "t" as in --events. */
static void log_access_json(struct client *c, struct buf *b)
{
	struct exchange *x = &c->x;
	bool head = c->req.headers_done;
	char proto[16];
	snprintf(proto, sizeof(proto), "HTTP/%d.%d", head ? http_major(&c->req) : 0, head ? http_minor(&c->req) : 0);
	buf_puts(b, "{\"t\":");
	put_unix_time(b, ev_wall_ns());
	put_json_str(b, "client", c->peer_s);
	put_json_str(b, "method", head ? http_method(&c->req) : NULL);
	put_json_str(b, "target", head ? http_target(&c->req) : NULL);
	put_json_str(b, "proto", head ? proto : NULL);
	buf_puts(b, ",\"status\":");
	if (x->status != 0)
		buf_put_uint(b, (unsigned)x->status);
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"bytes\":");
	buf_put_uint(b, x->resp_bytes);
	put_json_str(b, "pool", x->pool ? x->pool->name : NULL);
	put_json_str(b, "server", x->server ? x->server->name : NULL);
	put_json_str(b, "conn", x->t_connected == 0 ? NULL : x->reused ? "reused" : "new");
	put_timings(b, true, x);
	put_json_str(b, "id", x->id[0] ? x->id : NULL);
	buf_puts(b, ",\"retries\":");
	buf_put_uint(b, (unsigned)x->retries);
	put_json_str(b, "err", x->err[0] ? x->err : NULL);
	put_security(b, true, x);
	buf_puts(b, "}\n");
}

/* The text line: when, who, what, the answer, then key=value pairs (each
 * key once, so a logfmt reader keeps them all):
 *   2026-11-30T11:02:03.123Z 127.0.0.1:53412 "GET /a HTTP/1.1" 200 171B pool=default
 *   server=b1 conn=new req_hdr=0.040 decide=0.041 connect=0.021 ttfb=0.061 total=0.207 id=... */
void log_access(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *b = &P.log;
	if (P.log_fd < 0)
		return;
	if (P.cfg->log_json) {
		log_access_json(c, b);
		logs_flush_soon();
		return;
	}
	put_iso_time(b, ev_wall_ns());
	buf_printf(b, " %s \"", c->peer_s);
	if (c->req.headers_done) {
		buf_printf(b, "%s ", http_method(&c->req));
		put_escaped(b, http_target(&c->req), false);
		buf_printf(b, " HTTP/%d.%d\"", http_major(&c->req), http_minor(&c->req));
	} else {
		buf_puts(b, "-\"");
	}
	if (x->status != 0)
		buf_printf(b, " %d", x->status);
	else
		buf_puts(b, " -");
	buf_printf(b, " %lluB pool=%s server=%s conn=%s", (unsigned long long)x->resp_bytes,
	           x->pool ? x->pool->name : "-", x->server ? x->server->name : "-",
	           x->t_connected == 0 ? "-" : x->reused ? "reused" : "new");
	put_timings(b, false, x);
	buf_printf(b, " id=%s", x->id[0] ? x->id : "-");
	if (x->retries > 0)   /* server= named the one that answered in the end */
		buf_printf(b, " retries=%d", x->retries);
	put_security(b, false, x);
	if (x->err[0] != '\0') {
		buf_puts(b, " err=\"");
		put_escaped(b, x->err, true);
		buf_puts(b, "\"");
	}
	buf_puts(b, "\n");
	logs_flush_soon();
}

struct buf *event_begin(struct client *c, int step, const char *name)
{
	struct buf *b = &P.events;
	if (P.events_fd < 0)
		return NULL;
	buf_puts(b, "{\"t\":");
	put_unix_time(b, ev_wall_ns());
	buf_puts(b, ",\"id\":");
	buf_json_str(b, c ? c->x.id : "", c ? strlen(c->x.id) : 0);
	buf_printf(b, ",\"step\":%d,\"event\":\"%s\"", step, name);
	if (c != NULL)
		buf_printf(b, ",\"conn\":%lu,\"client\":\"%s\"", c->id, c->peer_s);
	return b;
}

struct buf *event_begin_peer(const char *peer, int step, const char *name)
{
	struct buf *b = &P.events;
	if (P.events_fd < 0)
		return NULL;
	buf_puts(b, "{\"t\":");
	put_unix_time(b, ev_wall_ns());
	buf_printf(b, ",\"id\":\"\",\"step\":%d,\"event\":\"%s\",\"client\":\"%s\"", step, name, peer);
	return b;
}

void event_str(struct buf *b, const char *key, const char *val)
{
	buf_printf(b, ",\"%s\":", key);
	buf_json_str(b, val, strlen(val));
}

void event_num(struct buf *b, const char *key, double v)
{
	if (v == (double)(long long)v)
		buf_printf(b, ",\"%s\":%lld", key, (long long)v);
	else
		buf_printf(b, ",\"%s\":%.3f", key, v);
}

void event_bool(struct buf *b, const char *key, bool v)
{
	buf_printf(b, ",\"%s\":%s", key, v ? "true" : "false");
}

void event_end(struct buf *b)
{
	buf_puts(b, "}\n");
	logs_flush_soon();
}
