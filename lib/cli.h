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
/* A duration such as 250ms, 10s, 1.5s, 2m, 1h, or 100us; a bare number is in
 * default_unit ("ms" or "s").  Result in microseconds, at most one day. */
int parse_duration_us(const char *s, const char *default_unit, uint64_t *out_us);
/* A byte count such as 512, 16k, 16KiB, 1M, 2G (k = 1024). */
int parse_size(const char *s, uint64_t *out);
/* A probability: 0.25 or 25%. */
int parse_prob(const char *s, double *out);

/* Prints "PROG: message", then "Try 'PROG --help'.", exits 2. */
noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t cli_uint(const char *flag, const char *s, uint64_t min, uint64_t max);
/* Milliseconds (rounded up from the microseconds parse_duration_us gives). */
uint64_t cli_duration_ms(const char *flag, const char *s, const char *default_unit);
uint64_t cli_duration_us(const char *flag, const char *s, const char *default_unit);
uint64_t cli_size(const char *flag, const char *s);
double cli_prob(const char *flag, const char *s);
void cli_addr(const char *flag, const char *s, int default_port, struct addr *out);

#endif
