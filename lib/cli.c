/*
 * cli.c - range-checked parsing of numbers, durations, sizes, probabilities
 * and addresses for flags and config files (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Splits "1.5s" into 1.5 and "s".  Returns -1 unless a plain decimal number
 * (no sign, no exponent, no hex) comes first. */
static int number_and_unit(const char *s, double *v, const char **unit)
{
	char *end;
	if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
		return -1;
	for (const char *p = s; *p && *p != ' '; p++)
		if (*p == 'e' || *p == 'E' || *p == 'x' || *p == 'X')
			if (p[1] == '\0' || (p[1] >= '0' && p[1] <= '9') || p[1] == '+' || p[1] == '-')
				return -1;
	errno = 0;
	*v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(*v) || *v < 0)
		return -1;
	*unit = end;
	return 0;
}

int parse_duration_us(const char *s, uint64_t *out_us, char err[CLI_ERRLEN])
{
	double v;
	const char *unit;
	if (number_and_unit(s, &v, &unit) < 0) {
		snprintf(err, CLI_ERRLEN, "'%.40s' is not a duration (examples: 500ms, 10s, 2m)", s ? s : "");
		return -1;
	}
	double scale;
	if (*unit == '\0' && v == 0)
		scale = 1;              /* 0 is 0 in any unit */
	else if (*unit == '\0') {
		snprintf(err, CLI_ERRLEN, "'%.40s' needs a unit: %.40sms or %.40ss", s, s, s);
		return -1;
	} else if (strcmp(unit, "us") == 0)
		scale = 1;
	else if (strcmp(unit, "ms") == 0)
		scale = 1e3;
	else if (strcmp(unit, "s") == 0)
		scale = 1e6;
	else if (strcmp(unit, "m") == 0)
		scale = 60e6;
	else if (strcmp(unit, "h") == 0)
		scale = 3600e6;
	else {
		snprintf(err, CLI_ERRLEN, "'%.40s' is not a duration (units: us, ms, s, m, h)", s);
		return -1;
	}
	double us = v * scale;
	if (us > 86400e6) {
		snprintf(err, CLI_ERRLEN, "'%.40s' is longer than a day", s);
		return -1;
	}
	*out_us = (uint64_t)llround(us);
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	double v;
	const char *unit;
	if (number_and_unit(s, &v, &unit) < 0)
		return -1;
	double scale;
	if (*unit == '\0' || strcmp(unit, "B") == 0)
		scale = 1;
	else if (strcmp(unit, "k") == 0 || strcmp(unit, "K") == 0 || strcmp(unit, "KiB") == 0 || strcmp(unit, "kB") == 0)
		scale = 1024;
	else if (strcmp(unit, "M") == 0 || strcmp(unit, "MiB") == 0 || strcmp(unit, "MB") == 0)
		scale = 1024.0 * 1024;
	else if (strcmp(unit, "G") == 0 || strcmp(unit, "GiB") == 0 || strcmp(unit, "GB") == 0)
		scale = 1024.0 * 1024 * 1024;
	else
		return -1;
	double bytes = v * scale;
	if (bytes > 1e15 || bytes != floor(bytes))
		return -1;
	*out = (uint64_t)bytes;
	return 0;
}

int parse_prob(const char *s, double *out)
{
	double v;
	const char *unit;
	if (number_and_unit(s, &v, &unit) < 0)
		return -1;
	if (strcmp(unit, "%") == 0)
		v /= 100;
	else if (*unit != '\0')
		return -1;
	if (v > 1)
		return -1;
	*out = v;
	return 0;
}

void usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", log_prog(), msg, log_prog());
	exit(2);
}

#ifndef L7LAB_VERSION
#error "L7LAB_VERSION is defined by the Makefile (VERSION)"
#endif
const char l7lab_version[] = L7LAB_VERSION;

void cli_version(void)
{
	printf("%s (l7lab) %s\n", log_prog(), l7lab_version);
	exit(fflush(stdout) == 0 ? 0 : 2);
}

void cli_unknown_option(const char *arg)
{
	usage_error("unknown option '%s'", arg);
}

void cli_missing_value(const char *opt)
{
	usage_error("%s needs a value", opt);
}

void cli_no_value(const char *opt)
{
	usage_error("%s takes no value", opt);
}

void cli_getopt_error(int ch, char **argv, const struct option *longopts)
{
	/* A long option always moves optind past itself; a short one in a
	 * cluster ("-vx") may not, so short ones are named from optopt. */
	const char *arg = argv[optind - 1];
	bool is_long = arg[0] == '-' && arg[1] == '-';
	if (ch == ':') {
		if (is_long)
			cli_missing_value(arg);
		usage_error("-%c needs a value", optopt);
	}
	if (is_long && optopt == 0)
		cli_unknown_option(arg);
	const char *eq = is_long ? strchr(arg, '=') : NULL;
	for (const struct option *o = longopts; eq != NULL && o->name != NULL; o++)
		if (o->val == optopt && strlen(o->name) == (size_t)(eq - arg - 2) &&
		    strncmp(o->name, arg + 2, (size_t)(eq - arg - 2)) == 0)
			usage_error("%.*s takes no value", (int)(eq - arg), arg);
	if (optopt > 0 && optopt < 256)
		usage_error("unknown option '-%c'", optopt);
	cli_unknown_option(arg);
}

uint64_t cli_uint(const char *flag, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;
	if (parse_uint(s, min, max, &v) < 0)
		usage_error("%s: '%s' is not a whole number from %llu to %llu", flag, s ? s : "",
		            (unsigned long long)min, (unsigned long long)max);
	return v;
}

uint64_t cli_duration_us(const char *flag, const char *s)
{
	uint64_t v;
	char err[CLI_ERRLEN];
	if (parse_duration_us(s, &v, err) < 0)
		usage_error("%s: %s", flag, err);
	return v;
}

uint64_t cli_duration_ms(const char *flag, const char *s)
{
	return (cli_duration_us(flag, s) + 999) / 1000;
}

uint64_t cli_size(const char *flag, const char *s)
{
	uint64_t v;
	if (parse_size(s, &v) < 0)
		usage_error("%s: '%s' is not a size (examples: 512, 16k, 1M)", flag, s ? s : "");
	return v;
}

double cli_prob(const char *flag, const char *s)
{
	double v;
	if (parse_prob(s, &v) < 0)
		usage_error("%s: '%s' is not a probability (0 to 1, or 0%% to 100%%)", flag, s ? s : "");
	return v;
}

void cli_addr(const char *flag, const char *s, int default_port, struct addr *out)
{
	char err[NET_ERRLEN];
	if (addr_parse(s ? s : "", default_port, out, err) < 0)
		usage_error("%s: %s", flag, err);
}
