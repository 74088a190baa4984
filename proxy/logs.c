/*
 * logs.c - what the proxy tells people: one access-log line per request
 * with per-step timings (HAProxy style), and --events, one JSON object a
 * line per step of each request (the tracer reads these to show step 3,
 * which has no packets).  Lines collect in a buffer written once per turn
 * of the event loop, so logging costs no system call per request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"

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

static void put_ms(struct buf *b, const char *key, uint64_t a, uint64_t z)
{
	if (a == 0 || z == 0)
		buf_printf(b, " %s=-", key);
	else
		buf_printf(b, " %s=%.3f", key, ms_between(a, z));
}

void log_access(struct client *c)
{
	struct exchange *x = &c->x;
	struct buf *b = &P.log;
	if (P.log_fd < 0)
		return;
	buf_printf(b, "%s \"", c->peer_s);
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
	uint64_t end = x->t_end ? x->t_end : ev_mono_ns();
	put_ms(b, "req_hdr", x->t_start, x->t_head);
	put_ms(b, "decide", x->t_decide0, x->t_decided);
	put_ms(b, "connect", x->t_connect0, x->t_connected);
	put_ms(b, "server", x->t_sent, x->t_resp);
	put_ms(b, "total", x->t_start, end);
	buf_printf(b, " id=%s", x->id[0] ? x->id : "-");
	if (x->retries > 0)   /* server= named the one that answered in the end */
		buf_printf(b, " retries=%d", x->retries);
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
	buf_printf(b, "{\"t\":%llu,\"id\":", (unsigned long long)ev_wall_ns());
	buf_json_str(b, c->x.id, strlen(c->x.id));
	buf_printf(b, ",\"step\":%d,\"event\":\"%s\",\"conn\":%lu,\"client\":\"%s\"", step, name, c->id, c->peer_s);
	return b;
}

void event_deny(const char *peer)
{
	if (P.events_fd < 0)
		return;
	buf_printf(&P.events, "{\"t\":%llu,\"id\":\"\",\"step\":1,\"event\":\"deny\",\"client\":\"%s\"}\n",
	           (unsigned long long)ev_wall_ns(), peer);
	logs_flush_soon();
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
