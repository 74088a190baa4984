/*
 * report.c - the summary a person reads, the JSON a script reads, and the
 * per-second CSV of --timeline (see report.h).
 */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

char *fmt_count(uint64_t n, char *out)
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
	char *p = out;
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			*p++ = ',';
		*p++ = digits[i];
	}
	*p = '\0';
	return out;
}

char *fmt_ms(double us, char *out)
{
	double ms = us / 1000.0;
	const char *f = ms < 1 ? "%.3f" : ms < 10 ? "%.2f" : ms < 100 ? "%.1f" : "%.0f";
	snprintf(out, 32, f, ms);
	return out;
}

static char *fmt_bytes(double bytes, char *out)
{
	const char *unit[] = { "B", "kB", "MB", "GB", "TB" };
	int u = 0;
	while (bytes >= 1000 && u < 4) {
		bytes /= 1000;
		u++;
	}
	snprintf(out, 32, u == 0 ? "%.0f %s" : "%.1f %s", bytes, unit[u]);
	return out;
}

static int cmp_name(const void *a, const void *b, void *arg)
{
	const struct stats *st = arg;
	return strcmp(st->values[*(const size_t *)a].name, st->values[*(const size_t *)b].name);
}

/* The --by-header values in name order. */
static void sorted_values(const struct stats *st, size_t order[STATS_MAX_VALUES])
{
	for (size_t i = 0; i < st->nvalues; i++)
		order[i] = i;
	qsort_r(order, st->nvalues, sizeof(order[0]), cmp_name, (void *)st);
}

static int cmp_status(const void *a, const void *b)
{
	const struct status_count *x = a, *y = b;
	if ((x->count == 0) != (y->count == 0))
		return x->count == 0 ? 1 : -1;      /* empty slots last */
	return x->code - y->code;
}

/* A status table in code order (empty slots last), into out. */
static const struct status_count *sorted_status(const struct status_count *t, struct status_count *out)
{
	memcpy(out, t, SRC_STATUS_SLOTS * sizeof(*out));
	qsort(out, SRC_STATUS_SLOTS, sizeof(*out), cmp_status);
	return out;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* A value shown in a table: at most 32 bytes of it, control bytes as '?'. */
static void print_value(FILE *out, const char *v, int width)
{
	char shown[40];
	size_t n = strlen(v), k = n > 32 ? 31 : n;
	for (size_t i = 0; i < k; i++)
		shown[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	shown[k] = '\0';
	fprintf(out, "%-*s%s", width, shown, n > 32 ? "~" : "");
}

/* ---- the terminal histogram ---------------------------------------------- */

#define BAR_WIDTH 40

/* Upper bounds in microseconds on a 1-2-5 scale, from 10 us to 60 s. */
static size_t hist_bounds(uint64_t bounds[32], bool decades)
{
	static const uint64_t steps[] = { 1, 2, 5 };
	size_t n = 0;
	for (uint64_t d = 10; d <= 10000000000u && n < 32; d *= 10)
		for (size_t s = 0; s < 3 && n < 32; s++)
			if (!decades || s == 0)
				bounds[n++] = d * steps[s];
	return n;
}

static void print_histogram(const struct hist *h, FILE *out)
{
	uint64_t bounds[32], counts[32] = { 0 };
	size_t nb = hist_bounds(bounds, false), first, last;
	for (first = 0; first + 1 < nb && bounds[first] < h->min; first++)
		;
	for (last = first; last + 1 < nb && bounds[last] < h->max; last++)
		;
	if (last - first >= 14) {             /* too many rows: one per decade */
		nb = hist_bounds(bounds, true);
		for (first = 0; first + 1 < nb && bounds[first] < h->min; first++)
			;
		for (last = first; last + 1 < nb && bounds[last] < h->max; last++)
			;
	}
	for (size_t i = 0; i < HIST_LEN; i++) {
		if (h->counts[i] == 0)
			continue;
		uint64_t v = hist_lowest_equiv(i);
		size_t b = first;
		while (b < last && v > bounds[b])
			b++;
		counts[b] += h->counts[i];
	}
	uint64_t top = 1;
	for (size_t b = first; b <= last; b++)
		if (counts[b] > top)
			top = counts[b];
	static const char *const eighth[] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };
	for (size_t b = first; b <= last; b++) {
		char ms[32];
		fprintf(out, "                %8s ms ", fmt_ms((double)bounds[b], ms));
		unsigned cells = (unsigned)((double)counts[b] * BAR_WIDTH * 8 / (double)top);
		for (unsigned i = 0; i < cells / 8; i++)
			fputs("█", out);
		if (cells % 8)
			fputs(eighth[cells % 8], out);
		else if (cells == 0 && counts[b] > 0)
			fputs("▏", out);
		fprintf(out, " %.1f%%\n", pct(counts[b], h->total));
	}
}

/* ---- text ---------------------------------------------------------------- */

static void print_status_list(FILE *out, const uint64_t *status)
{
	char n[32];
	bool any = false;
	for (int code = 0; code < STATS_STATUS_MAX; code++)
		if (status[code]) {
			fprintf(out, "%s%d: %s", any ? " · " : "", code, fmt_count(status[code], n));
			any = true;
		}
	if (!any)
		fputs("none", out);
}

static void print_errors(FILE *out, const struct stats *st)
{
	char n[32];
	bool any = false;
	for (int k = 0; k < ERR__COUNT; k++)
		if (st->errors[k]) {
			fprintf(out, "%s%s %s", any ? " · " : "", fmt_count(st->errors[k], n), err_label[k]);
			any = true;
		}
	if (!any)
		fputs("none", out);
}

static void print_by_header(const struct report *r, FILE *out)
{
	const struct stats *st = r->st;
	const char *name = r->cfg->by_header;
	size_t order[STATS_MAX_VALUES];
	char n[32], a[32], b[32];
	sorted_values(st, order);
	if (st->nvalues == 0) {
		fprintf(out, "  by %-10s no response had this header\n", name);
		return;
	}
	int width = 8;
	for (size_t i = 0; i < st->nvalues; i++) {
		int len = (int)strlen(st->values[i].name);
		width = len > width ? (len > 32 ? 33 : len) : width;
	}
	for (size_t i = 0; i < st->nvalues; i++) {
		const struct value_stat *v = &st->values[order[i]];
		if (i == 0)
			fprintf(out, "  by %-10s ", name);
		else
			fprintf(out, "  %-13s ", "");
		print_value(out, v->name, width);
		fprintf(out, " %12s %6.1f%%   p50 %s  p99 %s ms\n", fmt_count(v->count, n), pct(v->count, st->requests),
		        fmt_ms((double)hist_percentile(&v->lat, 50), a), fmt_ms((double)hist_percentile(&v->lat, 99), b));
	}
	if (st->values_other)
		fprintf(out, "  %-13s %-*s %12s %6.1f%%   (more than %d distinct values)\n", "", width, "(other)",
		        fmt_count(st->values_other, n), pct(st->values_other, st->requests), STATS_MAX_VALUES);
	if (st->values_missing)
		fprintf(out, "  %-13s %-*s %12s %6.1f%%   (no %s header)\n", "", width, "(none)",
		        fmt_count(st->values_missing, n), pct(st->values_missing, st->requests), name);
}

static void print_sources(const struct report *r, FILE *out)
{
	const struct stats *st = r->st;
	char ip[ADDR_STRLEN], n[32], e[32], a[32], b[32];
	for (size_t i = 0; i < st->nsources; i++) {
		const struct source_stat *s = &st->sources[i];
		fprintf(out, "  %-13s %-15s %12s request%s  %s error%s  ", i == 0 ? "by source" : "",
		        addr_format_ip(&r->cfg->sources[i], ip), fmt_count(s->requests, n), s->requests == 1 ? " " : "s",
		        fmt_count(s->errors, e), s->errors == 1 ? "" : "s");
		if (s->lat.total > 0)
			fprintf(out, "p50 %s  p99 %s ms  ", fmt_ms((double)hist_percentile(&s->lat, 50), a),
			        fmt_ms((double)hist_percentile(&s->lat, 99), b));
		fputs("status ", out);
		struct status_count sorted[SRC_STATUS_SLOTS];
		const struct status_count *t = sorted_status(s->status, sorted);
		bool any = false;
		for (size_t j = 0; j < SRC_STATUS_SLOTS; j++)
			if (t[j].count) {
				fprintf(out, "%s%d: %s", any ? " · " : "", t[j].code, fmt_count(t[j].count, n));
				any = true;
			}
		if (s->status_other)
			fprintf(out, "%sother: %s", any ? " · " : "", fmt_count(s->status_other, n));
		else if (!any)
			fputs("none", out);
		fputc('\n', out);
	}
}

static void print_slow(const struct report *r, FILE *out)
{
	const struct slow_stats *sl = &r->st->slow;
	char n[32];
	fprintf(out, "  slow          %llu connections sending their request at %llu B/s; how they ended:\n",
	        (unsigned long long)r->cfg->slow_conns, (unsigned long long)r->cfg->slow_bps);
	static const char *const what[SLOW__COUNT] = {
		"answered before the request was complete", "closed by the server without a response",
		"reset by the server", "sent completely and answered", "sent completely, no response in time",
		"could not connect", "still open when the run ended",
	};
	bool any = false;
	for (int o = 0; o < SLOW__COUNT; o++) {
		if (sl->count[o] == 0)
			continue;
		any = true;
		fprintf(out, "                %s %s, after %.2f s on average", fmt_count(sl->count[o], n), what[o],
		        sl->seconds[o] / (double)sl->count[o]);
		if (o == SLOW_ANSWERED || o == SLOW_COMPLETED) {
			struct status_count sorted[SRC_STATUS_SLOTS];
			const struct status_count *t = sorted_status(sl->status[o == SLOW_COMPLETED], sorted);
			fputs(" (status", out);
			for (size_t j = 0; j < SRC_STATUS_SLOTS; j++)
				if (t[j].count)
					fprintf(out, " %d ×%s", t[j].code, fmt_count(t[j].count, n));
			fputc(')', out);
		}
		fputc('\n', out);
	}
	if (!any)
		fputs("                none opened\n", out);
}

int report_text(const struct report *r, FILE *out)
{
	const struct config *cfg = r->cfg;
	const struct stats *st = r->st;
	char n[32], a[32], b[32], c[32];

	fprintf(out, "loadgen · %.*f s · %llu connection%s · %llu thread%s · %s · ", r->duration_s < 1 ? 3 : 2, r->duration_s,
	        (unsigned long long)cfg->conns, cfg->conns == 1 ? "" : "s", (unsigned long long)cfg->threads,
	        cfg->threads == 1 ? "" : "s", cfg->keepalive ? "keep-alive" : "no keep-alive");
	if (cfg->rate > 0)
		fprintf(out, "open loop at %s/s", fmt_count((uint64_t)cfg->rate, n));
	else
		fputs("closed loop", out);
	for (size_t i = 0; i < cfg->nurls; i++)
		fprintf(out, " · %s", cfg->url_text[i]);
	fprintf(out, "%s\n", r->interrupted ? " · interrupted" : "");

	double secs = r->duration_s > 0 ? r->duration_s : 1e-9;
	fprintf(out, "  requests      %s   %s/s   %s/s   %s connection%s opened", fmt_count(st->requests, n),
	        fmt_count((uint64_t)llround((double)st->requests / secs), a), fmt_bytes((double)st->bytes / secs, b),
	        fmt_count(st->conns_opened, c), st->conns_opened == 1 ? "" : "s");
	if (st->unanswered)
		fprintf(out, "   %s unanswered at the end", fmt_count(st->unanswered, n));
	fputc('\n', out);
	fputs("  errors        ", out);
	print_errors(out, st);
	fputs("\n  status        ", out);
	print_status_list(out, st->status);
	fputc('\n', out);
	if (st->proxy_5xx || st->backend_5xx)
		fprintf(out, "  5xx           %s made by the proxy (no %s header) · %s from a backend\n",
		        fmt_count(st->proxy_5xx, n), cfg->by_header, fmt_count(st->backend_5xx, a));

	const struct hist *h = &st->lat;
	if (h->total > 0) {
		char v[8][32];
		fprintf(out, "  latency       min %s  mean %s  stdev %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s ms\n",
		        fmt_ms((double)h->min, v[0]), fmt_ms(hist_mean(h), v[1]), fmt_ms(hist_stdev(h), v[2]),
		        fmt_ms((double)hist_percentile(h, 50), v[3]), fmt_ms((double)hist_percentile(h, 90), v[4]),
		        fmt_ms((double)hist_percentile(h, 99), v[5]), fmt_ms((double)hist_percentile(h, 99.9), v[6]),
		        fmt_ms((double)h->max, v[7]));
		if (cfg->rate > 0)
			fputs("                (open loop: from each request's intended send time)\n", out);
		print_histogram(h, out);
		print_by_header(r, out);
	} else {
		fputs("  latency       no responses\n", out);
	}
	if (st->nsources > 0)
		print_sources(r, out);
	if (cfg->slow_conns > 0)
		print_slow(r, out);
	return ferror(out) ? -1 : 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_str(FILE *out, const char *s)
{
	struct buf b = BUF_INIT;
	if (buf_json_str(&b, s, strlen(s)) == 0)
		fwrite(buf_begin(&b), 1, buf_len(&b), out);
	else
		fputs("\"\"", out);
	buf_free(&b);
}

static void json_hist(FILE *out, const struct hist *h)
{
	fprintf(out, "{\"min\": %llu, \"mean\": %.1f, \"stdev\": %.1f, \"p50\": %llu, \"p90\": %llu, "
	             "\"p99\": %llu, \"p999\": %llu, \"max\": %llu}",
	        (unsigned long long)(h->total ? h->min : 0), hist_mean(h), hist_stdev(h),
	        (unsigned long long)hist_percentile(h, 50), (unsigned long long)hist_percentile(h, 90),
	        (unsigned long long)hist_percentile(h, 99), (unsigned long long)hist_percentile(h, 99.9),
	        (unsigned long long)h->max);
}

static void json_status(FILE *out, const struct status_count *unsorted)
{
	struct status_count sorted[SRC_STATUS_SLOTS];
	const struct status_count *t = sorted_status(unsorted, sorted);
	fputc('{', out);
	bool any = false;
	for (size_t j = 0; j < SRC_STATUS_SLOTS; j++)
		if (t[j].count) {
			fprintf(out, "%s\"%d\": %llu", any ? ", " : "", t[j].code, (unsigned long long)t[j].count);
			any = true;
		}
	fputc('}', out);
}

int report_json(const struct report *r, FILE *out)
{
	const struct config *cfg = r->cfg;
	const struct stats *st = r->st;
	size_t order[STATS_MAX_VALUES];
	double secs = r->duration_s > 0 ? r->duration_s : 1e-9;
	sorted_values(st, order);

	fputs("{\n  \"urls\": [", out);
	for (size_t i = 0; i < cfg->nurls; i++) {
		fputs(i ? ", " : "", out);
		json_str(out, cfg->url_text[i]);
	}
	fprintf(out, "],\n  \"connections\": %llu,\n  \"threads\": %llu,\n  \"mode\": \"%s\",\n  \"rate\": %.17g,\n"
	             "  \"keepalive\": %s,\n  \"interrupted\": %s,\n",
	        (unsigned long long)cfg->conns, (unsigned long long)cfg->threads, cfg->rate > 0 ? "open" : "closed",
	        cfg->rate, cfg->keepalive ? "true" : "false", r->interrupted ? "true" : "false");
	fprintf(out, "  \"requests\": %llu,\n  \"duration_s\": %.6f,\n  \"rps\": %.3f,\n  \"bytes\": %llu,\n"
	             "  \"bytes_per_s\": %.1f,\n  \"connections_opened\": %llu,\n  \"unanswered\": %llu,\n",
	        (unsigned long long)st->requests, r->duration_s, (double)st->requests / secs,
	        (unsigned long long)st->bytes, (double)st->bytes / secs, (unsigned long long)st->conns_opened,
	        (unsigned long long)st->unanswered);

	fputs("  \"errors\": {", out);
	for (int k = 0; k < ERR__COUNT; k++)
		fprintf(out, "%s\"%s\": %llu", k ? ", " : "", err_key[k], (unsigned long long)st->errors[k]);
	fprintf(out, "},\n  \"errors_total\": %llu,\n  \"status\": {", (unsigned long long)stats_errors(st));
	bool any = false;
	for (int code = 0; code < STATS_STATUS_MAX; code++)
		if (st->status[code]) {
			fprintf(out, "%s\"%d\": %llu", any ? ", " : "", code, (unsigned long long)st->status[code]);
			any = true;
		}
	fprintf(out, "},\n  \"http_5xx\": {\"proxy\": %llu, \"backend\": %llu},\n  \"latency_us\": ",
	        (unsigned long long)st->proxy_5xx, (unsigned long long)st->backend_5xx);
	json_hist(out, &st->lat);
	fprintf(out, ",\n  \"latency_clamped\": %llu,\n  \"by_header_name\": ", (unsigned long long)st->lat.clamped);
	json_str(out, cfg->by_header);
	fputs(",\n  \"by_header\": {", out);
	for (size_t i = 0; i < st->nvalues; i++) {
		fputs(i ? ", " : "", out);
		json_str(out, st->values[order[i]].name);
		fprintf(out, ": %llu", (unsigned long long)st->values[order[i]].count);
	}
	fprintf(out, "},\n  \"by_header_missing\": %llu,\n  \"by_header_other\": %llu,\n  \"by_header_latency_us\": {",
	        (unsigned long long)st->values_missing, (unsigned long long)st->values_other);
	for (size_t i = 0; i < st->nvalues; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		json_str(out, st->values[order[i]].name);
		fputs(": ", out);
		json_hist(out, &st->values[order[i]].lat);
	}
	fputs(st->nvalues ? "\n  },\n  \"by_source\": {" : "},\n  \"by_source\": {", out);
	for (size_t i = 0; i < st->nsources; i++) {
		const struct source_stat *s = &st->sources[i];
		char ip[ADDR_STRLEN];
		fprintf(out, "%s\"%s\": {\"requests\": %llu, \"errors\": %llu, \"status\": ", i ? ",\n    " : "\n    ",
		        addr_format_ip(&cfg->sources[i], ip), (unsigned long long)s->requests, (unsigned long long)s->errors);
		json_status(out, s->status);
		fprintf(out, ", \"status_other\": %llu, \"latency_us\": ", (unsigned long long)s->status_other);
		json_hist(out, &s->lat);
		fputc('}', out);
	}
	fputs(st->nsources ? "\n  }" : "}", out);
	if (cfg->slow_conns > 0) {
		const struct slow_stats *sl = &st->slow;
		fprintf(out, ",\n  \"slow\": {\"connections\": %llu, \"bytes_per_s\": %llu, \"outcomes\": {",
		        (unsigned long long)cfg->slow_conns, (unsigned long long)cfg->slow_bps);
		for (int o = 0; o < SLOW__COUNT; o++)
			fprintf(out, "%s\"%s\": %llu", o ? ", " : "", slow_key[o], (unsigned long long)sl->count[o]);
		fputs("}, \"mean_lifetime_s\": {", out);
		for (int o = 0; o < SLOW__COUNT; o++)
			fprintf(out, "%s\"%s\": %.3f", o ? ", " : "", slow_key[o],
			        sl->count[o] ? sl->seconds[o] / (double)sl->count[o] : 0.0);
		fputs("}, \"answered_status\": ", out);
		json_status(out, sl->status[0]);
		fputs(", \"completed_status\": ", out);
		json_status(out, sl->status[1]);
		fputc('}', out);
	}
	fputs("\n}\n", out);
	return ferror(out) ? -1 : 0;
}

/* ---- --timeline CSV ------------------------------------------------------ */

static void csv_cell(FILE *out, const char *prefix, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL && strpbrk(prefix, ",\"") == NULL) {
		fprintf(out, ",%s%s", prefix, s);
		return;
	}
	fprintf(out, ",\"%s", prefix);
	for (; *s; s++)
		fputs(*s == '"' ? "\"\"" : (char[2]){ *s, 0 }, out);
	fputc('"', out);
}

static int cmp_int16(const void *a, const void *b)
{
	return *(const int16_t *)a - *(const int16_t *)b;
}

int report_timeline(const struct report *r, FILE *out)
{
	const struct stats *st = r->st;
	size_t order[STATS_MAX_VALUES];
	int16_t codes[TL_STATUS_COLS];
	size_t status_col[TL_STATUS_COLS];
	char prefix[300];
	sorted_values(st, order);
	memcpy(codes, st->tl_status, st->ntl_status * sizeof(codes[0]));
	qsort(codes, st->ntl_status, sizeof(codes[0]), cmp_int16);
	for (size_t i = 0; i < st->ntl_status; i++)
		for (size_t j = 0; j < st->ntl_status; j++)
			if (st->tl_status[j] == codes[i])
				status_col[i] = TL_FIXED + j;
	bool other = false;
	for (size_t row = 0; row < st->nrows; row++)
		other |= st->rows[row][TL_COL_OTHER] != 0;

	fputs("second,requests,errors,proxy_5xx", out);
	for (size_t i = 0; i < st->ntl_status; i++)
		fprintf(out, ",status_%d", codes[i]);
	snprintf(prefix, sizeof(prefix), "%.200s:", r->cfg->by_header);
	for (size_t i = 0; i < st->nvalues; i++)
		csv_cell(out, prefix, st->values[order[i]].name);
	if (other)
		csv_cell(out, prefix, "(none)");
	fputc('\n', out);
	for (size_t row = 0; row < st->nrows; row++) {
		const uint32_t *c = st->rows[row];
		fprintf(out, "%zu,%u,%u,%u", row, c[0], c[1], c[2]);
		for (size_t i = 0; i < st->ntl_status; i++)
			fprintf(out, ",%u", c[status_col[i]]);
		for (size_t i = 0; i < st->nvalues; i++)
			fprintf(out, ",%u", c[tl_value_col(order[i])]);
		if (other)
			fprintf(out, ",%u", c[TL_COL_OTHER]);
		fputc('\n', out);
	}
	return ferror(out) ? -1 : 0;
}
