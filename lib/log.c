/*
 * log.c - one-line messages on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int log_verbose;
static const char *prog = "l7lab";

void log_init(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	prog = slash ? slash + 1 : argv0;
}

const char *log_prog(void) { return prog; }

static void vline(const char *fmt, va_list ap)
{
	/* One fprintf per line keeps lines whole when several processes share
	 * a terminal or a log file. */
	char msg[1024];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	fprintf(stderr, "%s: %s%s\n", prog, msg, (size_t)n >= sizeof(msg) ? "..." : "");
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
}

void log_debug_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
	exit(2);
}
