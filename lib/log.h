/*
 * log.h - one-line messages on stderr, prefixed with the program's name.
 *
 * Startup failures call fatal(): one line, exit status 2.  Runtime trouble
 * with one peer is logged with log_warn() and handled by the code that owns
 * the peer; it never ends the process.
 */
#ifndef L7_LOG_H
#define L7_LOG_H

#include <stdnoreturn.h>

/* Sets the name printed before every message (argv[0]'s last part). */
void log_init(const char *argv0);
const char *log_prog(void);
/* 0 quiet (default), 1 for -v, 2 for -vv: log_debug prints at >= 1. */
extern int log_verbose;

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Without -v, a debug line costs one test: its arguments are not computed. */
#define log_debug(...) do { if (log_verbose >= 1) log_debug_line(__VA_ARGS__); } while (0)
/* Prints "PROG: message" and exits with status 2. */
noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
