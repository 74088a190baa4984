/*
 * report.h - what loadgen shows when the run ends: the human summary (with
 * a latency histogram drawn in the terminal), the --json document, the
 * --timeline CSV.  (--hdr is hist_write_percentiles.)
 */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "loadgen.h"

struct report {
	const struct config *cfg;
	const struct stats *st;      /* merged over the workers */
	double duration_s;           /* measured time (after --warmup) */
	bool interrupted;            /* stopped early by a signal */
};

/* Each returns 0, or -1 if writing failed. */
int report_text(const struct report *r, FILE *out);
int report_json(const struct report *r, FILE *out);
int report_timeline(const struct report *r, FILE *out);

/* 1234567 -> "1,234,567" into out (at least 32 bytes); returns out. */
char *fmt_count(uint64_t n, char *out);
/* Microseconds as milliseconds with 3 significant digits ("0.214", "15.2"). */
char *fmt_ms(double us, char *out);

#endif
