/*
 * events.c - reading the proxy's JSON step events (see events.h).  A small
 * JSON reader for flat objects: string, number, true/false/null values are
 * read, nested objects and arrays are skipped.  Serves step 3.
 */
#include "events.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tracer.h"

#define NBUCKETS 4096

struct entry {
	struct entry *next;
	char *id;
	char *client;
	struct decision d;
	bool has_decision;
};

struct events {
	FILE *f;
	struct buf partial;    /* an unfinished last line */
	struct entry *b[NBUCKETS];
	size_t bad;
};

static size_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % NBUCKETS;
}

static struct entry *entry_get(struct events *e, const char *id, bool create)
{
	size_t k = hash(id);
	for (struct entry *x = e->b[k]; x; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	if (!create)
		return NULL;
	struct entry *x = xcalloc(1, sizeof(*x));
	x->id = xstrndup(id, strlen(id));
	x->next = e->b[k];
	e->b[k] = x;
	return x;
}

/* ---- a JSON reader for one flat object ----------------------------------- */

struct jr { const char *p, *end; };

static void ws(struct jr *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* A string into out (escapes decoded; \u00XX kept as a byte, others as '?'). */
static int jstring(struct jr *j, struct buf *out)
{
	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		char c = *j->p++;
		if (c == '\\') {
			if (j->p >= j->end)
				return -1;
			c = *j->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				if (j->end - j->p < 4)
					return -1;
				int v = 0;
				for (int i = 0; i < 4; i++) {
					int h = hexval(j->p[i]);
					if (h < 0)
						return -1;
					v = v * 16 + h;
				}
				j->p += 4;
				c = v < 0x100 ? (char)v : '?';
				break;
			}
			default: break;   /* \" \\ \/ */
			}
		}
		if (out && buf_append(out, &c, 1) < 0)
			oom();
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	if (out && buf_append(out, "", 1) < 0)
		oom();
	return 0;
}

/* Skips any value; a scalar's text goes into out (strings decoded). */
static int jvalue(struct jr *j, struct buf *out, int depth)
{
	ws(j);
	if (j->p >= j->end || depth > 32)
		return -1;
	if (*j->p == '"')
		return jstring(j, out);
	if (*j->p == '{' || *j->p == '[') {
		char close = *j->p == '{' ? '}' : ']';
		j->p++;
		ws(j);
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				ws(j);
				if (jstring(j, NULL) < 0)
					return -1;
				ws(j);
				if (j->p >= j->end || *j->p++ != ':')
					return -1;
			}
			if (jvalue(j, NULL, depth + 1) < 0)
				return -1;
			ws(j);
			if (j->p >= j->end)
				return -1;
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			if (*j->p++ != close)
				return -1;
			return 0;
		}
	}
	const char *s = j->p;
	while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') || (*j->p >= 'a' && *j->p <= 'z')))
		j->p++;
	if (j->p == s)
		return -1;
	if (out && (buf_append(out, s, (size_t)(j->p - s)) < 0 || buf_append(out, "", 1) < 0))
		oom();
	return 0;
}

enum { K_ID, K_STEP, K_CLIENT, K_POOL, K_SERVER, K_ALGO, K_REASON, K_N };
static const char *const keys[K_N] = { "id", "step", "client", "pool", "server", "algorithm", "reason" };

static void take_line(struct events *e, const char *line, size_t len)
{
	struct jr j = { line, line + len };
	struct buf key = BUF_INIT, val[K_N];
	for (int i = 0; i < K_N; i++)
		val[i] = (struct buf)BUF_INIT;
	ws(&j);
	if (j.p >= j.end)
		return;   /* an empty line */
	if (*j.p != '{')
		goto bad;
	j.p++;
	ws(&j);
	if (j.p < j.end && *j.p == '}')
		goto done;
	for (;;) {
		ws(&j);
		buf_clear(&key);
		if (jstring(&j, &key) < 0)
			goto bad;
		ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			goto bad;
		int k;
		for (k = 0; k < K_N && strcmp(buf_begin(&key), keys[k]) != 0; k++)
			;
		if (k < K_N)
			buf_clear(&val[k]);
		if (jvalue(&j, k < K_N ? &val[k] : NULL, 0) < 0)
			goto bad;
		ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}')
			break;
		goto bad;
	}
done:
	if (val[K_ID].len > 1) {
		struct entry *x = entry_get(e, buf_begin(&val[K_ID]), true);
		if (val[K_CLIENT].len > 1 && x->client == NULL)
			x->client = xstrndup(buf_begin(&val[K_CLIENT]), val[K_CLIENT].len);
		if (val[K_STEP].len && strcmp(buf_begin(&val[K_STEP]), "3") == 0 && !x->has_decision) {
			x->has_decision = true;
			char **f[4] = { &x->d.pool, &x->d.server, &x->d.algorithm, &x->d.reason };
			int src[4] = { K_POOL, K_SERVER, K_ALGO, K_REASON };
			for (int i = 0; i < 4; i++)
				if (val[src[i]].len > 1)
					*f[i] = xstrndup(buf_begin(&val[src[i]]), val[src[i]].len);
		}
	}
	goto out;
bad:
	e->bad++;
out:
	buf_free(&key);
	for (int i = 0; i < K_N; i++)
		buf_free(&val[i]);
}

void events_poll(struct events *e)
{
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), e->f)) > 0) {
		if (buf_append(&e->partial, chunk, n) < 0)
			oom();
		char *p = buf_begin(&e->partial), *nl;
		size_t left = buf_len(&e->partial);
		while ((nl = memchr(p, '\n', left)) != NULL) {
			take_line(e, p, (size_t)(nl - p));
			left -= (size_t)(nl - p) + 1;
			p = nl + 1;
		}
		buf_consume(&e->partial, buf_len(&e->partial) - left);
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

size_t events_bad_lines(const struct events *e)
{
	return e->bad;
}

void events_free(struct events *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		for (struct entry *x = e->b[i], *n; x; x = n) {
			n = x->next;
			free(x->id);
			free(x->client);
			free(x->d.pool);
			free(x->d.server);
			free(x->d.algorithm);
			free(x->d.reason);
			free(x);
		}
	}
	buf_free(&e->partial);
	fclose(e->f);
	free(e);
}
