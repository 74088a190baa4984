/*
 * stats.c - counting responses, errors and latencies per worker, and
 * merging the workers' counts (see stats.h).
 */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

const char *const err_key[ERR__COUNT] = {
	"connect_refused", "connect_timeout", "connect_other", "reset", "closed", "timeout", "malformed",
};
const char *const err_label[ERR__COUNT] = {
	"connect refused", "connect timeout", "connect failed", "reset", "closed early", "read timeout",
	"malformed",
};
const char *const slow_key[SLOW__COUNT] = {
	"answered_early", "closed_early", "reset", "completed", "timeout", "connect_failed", "open_at_end",
};

int stats_init(struct stats *s, size_t nsources, bool timeline)
{
	memset(s, 0, sizeof(*s));
	s->timeline = timeline;
	if (hist_init(&s->lat) < 0)
		return -1;
	if (nsources > 0) {
		s->sources = calloc(nsources, sizeof(*s->sources));
		if (s->sources == NULL)
			return -1;
		s->nsources = nsources;
		for (size_t i = 0; i < nsources; i++)
			if (hist_init(&s->sources[i].lat) < 0)
				return -1;
	}
	return 0;
}

void stats_free(struct stats *s)
{
	hist_free(&s->lat);
	for (size_t i = 0; i < s->nvalues; i++) {
		free(s->values[i].name);
		hist_free(&s->values[i].lat);
	}
	for (size_t i = 0; i < s->nsources; i++)
		hist_free(&s->sources[i].lat);
	free(s->sources);
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

/* The index of a --by-header value, added on first sight; -1 when the
 * table is full or memory ran out (counted as "other"). */
static long value_index(struct stats *s, const char *name)
{
	for (size_t i = 0; i < s->nvalues; i++)
		if (strcmp(s->values[i].name, name) == 0)
			return (long)i;
	if (s->nvalues == STATS_MAX_VALUES)
		return -1;
	struct value_stat *v = &s->values[s->nvalues];
	v->name = strdup(name);
	if (v->name == NULL)
		return -1;
	if (hist_init(&v->lat) < 0) {
		free(v->name);
		v->name = NULL;
		return -1;
	}
	v->count = 0;
	return (long)s->nvalues++;
}

static void status_add(struct status_count *t, uint64_t *other, int code, uint64_t n)
{
	for (size_t i = 0; i < SRC_STATUS_SLOTS; i++) {
		if (t[i].count > 0 && t[i].code == code) {
			t[i].count += n;
			return;
		}
		if (t[i].count == 0) {
			t[i].code = code;
			t[i].count = n;
			return;
		}
	}
	if (other != NULL)
		*other += n;
}

/* The row of second sec, grown (zeroed) as the run goes on; NULL if
 * memory ran out. */
static uint32_t *tl_row(struct stats *s, uint64_t sec)
{
	if (sec >= s->rows_cap) {
		size_t cap = s->rows_cap ? s->rows_cap : 64;
		while (cap <= sec)
			cap *= 2;
		uint32_t (*rows)[TL_COLS] = realloc(s->rows, cap * sizeof(*rows));
		if (rows == NULL)
			return NULL;
		memset(rows + s->rows_cap, 0, (cap - s->rows_cap) * sizeof(*rows));
		s->rows = rows;
		s->rows_cap = cap;
	}
	if (sec >= s->nrows)
		s->nrows = sec + 1;
	return s->rows[sec];
}

static long tl_status_col(struct stats *s, int code)
{
	for (size_t i = 0; i < s->ntl_status; i++)
		if (s->tl_status[i] == code)
			return (long)(TL_FIXED + i);
	if (s->ntl_status == TL_STATUS_COLS)
		return -1;
	s->tl_status[s->ntl_status] = (int16_t)code;
	return (long)(TL_FIXED + s->ntl_status++);
}

void stats_response(struct stats *s, int status, const char *value, size_t source, uint64_t lat_us,
                    uint64_t second)
{
	s->requests++;
	if (status >= 0 && status < STATS_STATUS_MAX)
		s->status[status]++;
	hist_record(&s->lat, lat_us);

	long vi = -1;
	if (value == NULL) {
		s->values_missing++;
	} else if ((vi = value_index(s, value)) < 0) {
		s->values_other++;
	} else {
		s->values[vi].count++;
		hist_record(&s->values[vi].lat, lat_us);
	}
	if (status >= 500)
		value == NULL ? s->proxy_5xx++ : s->backend_5xx++;

	if (source < s->nsources) {
		struct source_stat *src = &s->sources[source];
		src->requests++;
		status_add(src->status, &src->status_other, status, 1);
		hist_record(&src->lat, lat_us);
	}

	if (s->timeline) {
		uint32_t *row = tl_row(s, second);
		if (row == NULL) {
			s->tl_overflow++;
			return;
		}
		row[0]++;
		if (status >= 500 && value == NULL)
			row[2]++;
		long col = tl_status_col(s, status);
		if (col >= 0)
			row[col]++;
		else
			s->tl_overflow++;
		row[vi >= 0 ? tl_value_col((size_t)vi) : TL_COL_OTHER]++;
	}
}

void stats_error(struct stats *s, enum err_kind kind, size_t source, uint64_t second)
{
	s->errors[kind]++;
	if (source < s->nsources)
		s->sources[source].errors++;
	if (s->timeline) {
		uint32_t *row = tl_row(s, second);
		if (row != NULL)
			row[1]++;
		else
			s->tl_overflow++;
	}
}

void stats_slow(struct stats *s, enum slow_outcome o, int status, double seconds)
{
	s->slow.count[o]++;
	s->slow.seconds[o] += seconds;
	if (o == SLOW_ANSWERED || o == SLOW_COMPLETED)
		status_add(s->slow.status[o == SLOW_COMPLETED], NULL, status, 1);
}

uint64_t stats_errors(const struct stats *s)
{
	uint64_t n = 0;
	for (int k = 0; k < ERR__COUNT; k++)
		n += s->errors[k];
	return n;
}

static int merge_timeline(struct stats *dst, const struct stats *src)
{
	/* Column map: src column -> dst column (-1: lost to overflow). */
	long map[TL_COLS];
	for (size_t c = 0; c < TL_COLS; c++)
		map[c] = c < TL_FIXED || c == TL_COL_OTHER ? (long)c : -1;
	for (size_t i = 0; i < src->ntl_status; i++)
		map[TL_FIXED + i] = tl_status_col(dst, src->tl_status[i]);
	for (size_t i = 0; i < src->nvalues; i++) {
		long vi = value_index(dst, src->values[i].name);
		map[tl_value_col(i)] = vi >= 0 ? (long)tl_value_col((size_t)vi) : (long)TL_COL_OTHER;
	}
	for (size_t r = src->nrows; r-- > 0;) {   /* last row first: one realloc */
		uint32_t *row = tl_row(dst, r);
		if (row == NULL)
			return -1;
		for (size_t c = 0; c < TL_COLS; c++) {
			if (src->rows[r][c] == 0)
				continue;
			if (map[c] >= 0)
				row[map[c]] += src->rows[r][c];
			else
				dst->tl_overflow += src->rows[r][c];
		}
	}
	dst->tl_overflow += src->tl_overflow;
	return 0;
}

int stats_merge(struct stats *dst, const struct stats *src)
{
	dst->requests += src->requests;
	dst->bytes += src->bytes;
	for (int k = 0; k < ERR__COUNT; k++)
		dst->errors[k] += src->errors[k];
	dst->proxy_5xx += src->proxy_5xx;
	dst->backend_5xx += src->backend_5xx;
	dst->conns_opened += src->conns_opened;
	dst->unanswered += src->unanswered;
	for (int i = 0; i < STATS_STATUS_MAX; i++)
		dst->status[i] += src->status[i];
	hist_add(&dst->lat, &src->lat);

	for (size_t i = 0; i < src->nvalues; i++) {
		long vi = value_index(dst, src->values[i].name);
		if (vi < 0) {
			dst->values_other += src->values[i].count;
			continue;
		}
		dst->values[vi].count += src->values[i].count;
		hist_add(&dst->values[vi].lat, &src->values[i].lat);
	}
	dst->values_other += src->values_other;
	dst->values_missing += src->values_missing;

	for (size_t i = 0; i < src->nsources && i < dst->nsources; i++) {
		struct source_stat *d = &dst->sources[i];
		const struct source_stat *s = &src->sources[i];
		d->requests += s->requests;
		d->errors += s->errors;
		for (size_t j = 0; j < SRC_STATUS_SLOTS; j++)
			if (s->status[j].count > 0)
				status_add(d->status, &d->status_other, s->status[j].code, s->status[j].count);
		d->status_other += s->status_other;
		hist_add(&d->lat, &s->lat);
	}

	for (int o = 0; o < SLOW__COUNT; o++) {
		dst->slow.count[o] += src->slow.count[o];
		dst->slow.seconds[o] += src->slow.seconds[o];
	}
	for (int k = 0; k < 2; k++)
		for (size_t j = 0; j < SRC_STATUS_SLOTS; j++)
			if (src->slow.status[k][j].count > 0)
				status_add(dst->slow.status[k], NULL, src->slow.status[k][j].code, src->slow.status[k][j].count);

	if (dst->timeline && src->timeline && merge_timeline(dst, src) < 0)
		return -1;
	return 0;
}
