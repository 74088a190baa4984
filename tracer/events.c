/*
 * events.c - reading the proxy's JSON step events (see events.h) with
 * libjansson, one line at a time.  Serves steps 1 (denied clients) and 3
 * (the decision, and which client a request id belongs to).
 */
#include "events.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "tracer.h"

#define DENIED_MAX 1024

struct entry {
	struct entry *next;          /* hash chain */
	struct entry *older, *newer; /* age list, for the cap */
	char *id;
	char *client;
	struct decision d;
	bool has_decision;
};

struct events {
	FILE *f;
	const char *path;
	struct buf partial;          /* an unfinished last line */
	bool skipping;               /* inside a line longer than EV_LINE_MAX */
	uint64_t total;              /* bytes read */
	bool capped;
	size_t bad, long_lines;
	struct entry **b;
	size_t nb, count;
	struct entry *oldest, *newest;
	char *denied[DENIED_MAX];    /* a ring of denied clients */
	size_t ndenied, denied_next;
	bool have_t;
	uint64_t t_lo, t_hi;
};

static size_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void entry_free(struct entry *x)
{
	free(x->id);
	free(x->client);
	free(x->d.pool);
	free(x->d.server);
	free(x->d.server_name);
	free(x->d.algorithm);
	free(x->d.reason);
	free(x);
}

static void entry_unlink(struct events *e, struct entry *x)
{
	for (struct entry **pp = &e->b[hash(x->id) & (e->nb - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	}
	if (x->older)
		x->older->newer = x->newer;
	else
		e->oldest = x->newer;
	if (x->newer)
		x->newer->older = x->older;
	else
		e->newest = x->older;
	e->count--;
}

static struct entry *entry_get(struct events *e, const char *id, bool create)
{
	size_t k = hash(id) & (e->nb - 1);
	for (struct entry *x = e->b[k]; x; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	if (!create)
		return NULL;
	if (e->count >= EV_MAX_ENTRIES) {
		struct entry *old = e->oldest;
		entry_unlink(e, old);
		entry_free(old);
	}
	struct entry *x = xcalloc(1, sizeof(*x));
	x->id = xstrdup(id);
	x->next = e->b[k];
	e->b[k] = x;
	x->older = e->newest;
	if (e->newest)
		e->newest->newer = x;
	else
		e->oldest = x;
	e->newest = x;
	e->count++;
	return x;
}

/* A string member of o, or NULL. */
static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

static void keep(char **dst, const char *s)
{
	if (s && *dst == NULL)
		*dst = xstrdup(s);
}

/* "t": Unix seconds with a fraction, or (older proxies) integer
 * nanoseconds; 0 when absent. */
static uint64_t time_ns(json_t *o)
{
	json_t *t = json_object_get(o, "t");
	if (json_is_integer(t)) {
		json_int_t v = json_integer_value(t);
		if (v <= 0)
			return 0;
		return v > 100000000000000ll ? (uint64_t)v : (uint64_t)v * 1000000000u;
	}
	if (json_is_real(t)) {
		double v = json_real_value(t);
		return v > 0 && v < 1e11 ? (uint64_t)(v * 1e9) : 0;
	}
	return 0;
}

static void take_line(struct events *e, const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return;   /* an empty line */
	json_error_t jerr;
	json_t *o = json_loadb(line, len, 0, &jerr);
	if (!json_is_object(o)) {
		e->bad++;
		json_decref(o);
		return;
	}
	uint64_t t = time_ns(o);
	if (t) {
		if (!e->have_t || t < e->t_lo)
			e->t_lo = t;
		if (!e->have_t || t > e->t_hi)
			e->t_hi = t;
		e->have_t = true;
	}
	const char *id = str(o, "id"), *event = str(o, "event"), *client = str(o, "client");
	if (event && strcmp(event, "deny") == 0 && client) {
		free(e->denied[e->denied_next]);
		e->denied[e->denied_next] = xstrdup(client);
		e->denied_next = (e->denied_next + 1) % DENIED_MAX;
		if (e->ndenied < DENIED_MAX)
			e->ndenied++;
	}
	if (id) {
		struct entry *x = entry_get(e, id, true);
		keep(&x->client, client);
		json_t *step = json_object_get(o, "step");
		if (json_is_integer(step) && json_integer_value(step) == 3 && !x->has_decision) {
			x->has_decision = true;
			keep(&x->d.pool, str(o, "pool"));
			keep(&x->d.server, str(o, "server"));
			keep(&x->d.server_name, str(o, "server_name"));
			keep(&x->d.algorithm, str(o, "algorithm"));
			keep(&x->d.reason, str(o, "reason"));
		}
	}
	json_decref(o);
}

void events_poll(struct events *e)
{
	char chunk[65536];
	size_t n;
	while (!e->capped && (n = fread(chunk, 1, sizeof(chunk), e->f)) > 0) {
		e->total += n;
		const char *p = chunk, *end = chunk + n, *nl;
		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			size_t len = (size_t)(nl - p);
			if (e->skipping) {
				e->skipping = false;   /* the end of an over-long line */
			} else if (buf_len(&e->partial) + len > EV_LINE_MAX) {
				e->long_lines++;
				buf_clear(&e->partial);
			} else if (buf_len(&e->partial)) {
				if (buf_append(&e->partial, p, len) < 0)
					oom();
				take_line(e, buf_begin(&e->partial), buf_len(&e->partial));
				buf_clear(&e->partial);
			} else {
				take_line(e, p, len);
			}
			p = nl + 1;
		}
		size_t rest = (size_t)(end - p);
		if (e->skipping) {
			/* still inside the long line */
		} else if (buf_len(&e->partial) + rest > EV_LINE_MAX) {
			e->long_lines++;
			e->skipping = true;
			buf_clear(&e->partial);
		} else if (rest && buf_append(&e->partial, p, rest) < 0) {
			oom();
		}
		if (e->total >= EV_TOTAL_MAX)
			e->capped = true;
	}
	clearerr(e->f);   /* EOF now; a live proxy may append more */
}

struct events *events_open(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	struct events *e = xcalloc(1, sizeof(*e));
	e->f = f;
	e->path = path;
	e->nb = 1024;
	e->b = xcalloc(e->nb, sizeof(*e->b));
	events_poll(e);
	return e;
}

const char *events_client_of(struct events *e, const char *id)
{
	struct entry *x = entry_get(e, id, false);
	if (x == NULL || x->client == NULL) {
		events_poll(e);
		x = entry_get(e, id, false);
	}
	return x ? x->client : NULL;
}

const struct decision *events_decision(struct events *e, const char *id)
{
	struct entry *x = entry_get(e, id, false);
	if (x == NULL || !x->has_decision) {
		events_poll(e);
		x = entry_get(e, id, false);
	}
	return x && x->has_decision ? &x->d : NULL;
}

bool events_denied(struct events *e, const char *client)
{
	events_poll(e);
	for (size_t i = 0; i < e->ndenied; i++)
		if (strcmp(e->denied[i], client) == 0)
			return true;
	return false;
}

void events_forget(struct events *e, const char *id)
{
	struct entry *x = entry_get(e, id, false);
	if (x) {
		entry_unlink(e, x);
		entry_free(x);
	}
}

size_t events_bad_lines(const struct events *e) { return e->bad; }
size_t events_long_lines(const struct events *e) { return e->long_lines; }
bool events_capped(const struct events *e) { return e->capped; }

bool events_span(const struct events *e, uint64_t *lo, uint64_t *hi)
{
	*lo = e->t_lo;
	*hi = e->t_hi;
	return e->have_t;
}

void events_free(struct events *e)
{
	if (e == NULL)
		return;
	while (e->oldest) {
		struct entry *x = e->oldest;
		entry_unlink(e, x);
		entry_free(x);
	}
	for (size_t i = 0; i < e->ndenied; i++)
		free(e->denied[i]);
	free(e->b);
	buf_free(&e->partial);
	fclose(e->f);
	free(e);
}
