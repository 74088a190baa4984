/*
 * cli.h - reading numbers, durations, sizes, rates and addresses from the
 * command line and config files, range-checked.
 *
 * parse_* return 0 or -1 and never print: config readers use them to name
 * the file and line.  cli_* wrap them for flags: on bad input they print
 * "PROG: --flag: why" and exit 2.
 */
#ifndef L7_CLI_H
#define L7_CLI_H

#include <stdint.h>
#include <stdnoreturn.h>

#include "net.h"

/* A whole number in [min, max]. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* A duration such as 250ms, 10s, 1.5s, 2m, 1h, or 100us, in microseconds, at
 * most one day.  The unit is required in every tool and config file (only 0
 * may stand alone): "5" would be 5 ms to an HAProxy user and 5 s to a wrk
 * user, so it is refused rather than guessed.  Returns 0, or -1 with the
 * reason in err ("'5' needs a unit: 5ms or 5s"). */
#define CLI_ERRLEN 160
int parse_duration_us(const char *s, uint64_t *out_us, char err[CLI_ERRLEN]);
/* A byte count such as 512, 16k, 16KiB, 1M, 2G (k = 1024). */
int parse_size(const char *s, uint64_t *out);
/* A probability: 0.25 or 25%. */
int parse_prob(const char *s, double *out);

/* Prints "PROG: message", then "Try 'PROG --help'.", exits 2. */
noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The toolkit's version, one for the four tools (the Makefile's VERSION). */
extern const char l7lab_version[];
/* --version: prints "PROG (l7lab) VERSION" on stdout, exits 0 (2 if stdout
 * cannot be written). */
noreturn void cli_version(void);
/* The same words for the same mistakes in every tool (then exit 2):
 * "unknown option '--bogus'", "--listen needs a value",
 * "--json takes no value". */
noreturn void cli_unknown_option(const char *arg);
noreturn void cli_missing_value(const char *opt);
noreturn void cli_no_value(const char *opt);
/* After getopt_long(argc, argv, ":...", longopts, NULL) with opterr = 0
 * returned ':' or '?': says which of the three it was, exits 2. */
struct option;
noreturn void cli_getopt_error(int ch, char **argv, const struct option *longopts);

uint64_t cli_uint(const char *flag, const char *s, uint64_t min, uint64_t max);
/* Milliseconds (rounded up from the microseconds parse_duration_us gives). */
uint64_t cli_duration_ms(const char *flag, const char *s);
uint64_t cli_duration_us(const char *flag, const char *s);
uint64_t cli_size(const char *flag, const char *s);
double cli_prob(const char *flag, const char *s);
void cli_addr(const char *flag, const char *s, int default_port, struct addr *out);

#endif
