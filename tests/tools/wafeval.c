/*
 * wafeval.c - bin/wafeval: how well do the WAF's rule sets (proxy/waf.c,
 * step 3) tell attacks from ordinary requests?  It replays a labelled
 * corpus of raw HTTP requests through each rule set and prints, per rule
 * set and corpus folder, the share of SQLi and XSS requests blocked, the
 * share of benign requests blocked (false positives) and the time per
 * request.
 *
 *   wafeval [--rules SET[:PARANOIA]]... [--limit BYTES] [--repeat N]
 *           [--misses] [--json] PATH...
 *
 * A PATH is a corpus file or a folder of them (*.http, in it and below).
 * A corpus file holds HTTP/1.1 requests one after the other, framed as on
 * the wire (Content-Length or chunked); its name, or else its folder's,
 * says what they are: sqli*, xss* or benign*.  tests/waf/README.md
 * describes the corpus.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../../proxy/waf.h"
#include "buf.h"
#include "cli.h"
#include "http.h"
#include "log.h"

enum label { L_SQLI, L_XSS, L_BENIGN, NLABELS };
static const char *label_name[NLABELS] = { "SQLi", "XSS", "benign" };

/* One request of the corpus, parsed once, replayed many times. */
struct req {
	enum label label;
	char *method, *target, *version;
	char **names, **values;
	size_t *name_lens, *value_lens;
	size_t nhdrs;
	struct buf body;
	char *file;               /* where it came from: "valid/sqli.http #12"     */
	unsigned index;
};

struct corpus {
	char *path;               /* as given on the command line                  */
	struct req *reqs;
	size_t n, cap;
};

struct ruleset {
	char *name;
	unsigned paranoia;
	struct waf *waf;
};

struct opts {
	struct ruleset *sets;
	size_t nsets;
	size_t limit;
	unsigned repeat;
	bool misses, all, json;
};

/* ---- reading the corpus --------------------------------------------- */

struct reader {
	struct corpus *c;
	const char *file;
	enum label label;
	unsigned count;
	struct req cur;
};

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (p == NULL)
		fatal("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		fatal("out of memory");
	return p;
}

static int on_headers(struct http_msg *m)
{
	struct reader *r = m->user;
	struct req *q = &r->cur;
	char ver[8];
	snprintf(ver, sizeof(ver), "%d.%d", http_major(m), http_minor(m));
	q->label = r->label;
	q->method = xstrdup(http_method(m));
	q->target = xstrdup(http_target(m));
	q->version = xstrdup(ver);
	q->nhdrs = m->nhdrs;
	q->names = xcalloc(m->nhdrs, sizeof(char *));
	q->values = xcalloc(m->nhdrs, sizeof(char *));
	q->name_lens = xcalloc(m->nhdrs, sizeof(size_t));
	q->value_lens = xcalloc(m->nhdrs, sizeof(size_t));
	for (size_t i = 0; i < m->nhdrs; i++) {
		q->names[i] = xstrdup(http_hdr_name(m, i));
		q->values[i] = xstrdup(http_hdr_value(m, i));
		q->name_lens[i] = m->hdrs[i].name_len;
		q->value_lens[i] = m->hdrs[i].value_len;
	}
	return 0;
}

static int on_body(struct http_msg *m, const char *at, size_t len)
{
	struct reader *r = m->user;
	if (buf_append(&r->cur.body, at, len) < 0)
		fatal("out of memory");
	return 0;
}

static int on_complete(struct http_msg *m)
{
	struct reader *r = m->user;
	struct corpus *c = r->c;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->reqs = realloc(c->reqs, c->cap * sizeof(*c->reqs));
		if (c->reqs == NULL)
			fatal("out of memory");
	}
	r->cur.index = ++r->count;
	r->cur.file = xstrdup(r->file);
	c->reqs[c->n++] = r->cur;
	memset(&r->cur, 0, sizeof(r->cur));
	return HPE_PAUSED;        /* one request at a time: see read_file */
}

static const struct http_hooks corpus_hooks = {
	.on_headers = on_headers, .on_body = on_body, .on_complete = on_complete,
};

/* The class a corpus file's name says (sqli*, xss*, benign*), or else the
 * nearest folder's name (sqli/0001.http). */
static bool label_of(const char *path, enum label *out)
{
	static const char *const names[NLABELS] = { "sqli", "xss", "benign" };
	const char *end = path + strlen(path);
	while (end > path) {
		const char *base = end;
		while (base > path && base[-1] != '/')
			base--;
		for (int l = 0; l < NLABELS; l++)
			if ((size_t)(end - base) >= strlen(names[l]) && strncmp(base, names[l], strlen(names[l])) == 0) {
				*out = (enum label)l;
				return true;
			}
		end = base > path ? base - 1 : path;   /* up one folder */
	}
	return false;
}

static void read_file(struct corpus *c, const char *path)
{
	struct reader r = { .c = c, .file = path };
	if (!label_of(path, &r.label))
		fatal("%s: a corpus file's name (or its folder's) starts with sqli, xss or benign", path);
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		fatal("%s: %s", path, strerror(errno));
	struct buf data = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&data, chunk, n) < 0)
			fatal("out of memory");
	if (ferror(f))
		fatal("%s: %s", path, strerror(errno));
	fclose(f);

	/* A fresh parser for each request: the requests of a corpus are not one
	 * connection (an HTTP/1.0 request or "Connection: close" would end it). */
	const char *p = buf_begin(&data);
	size_t left = buf_len(&data);
	while (left > 0 && strspn(p, "\r\n") < left) {
		struct http_msg m;
		http_msg_init(&m, HTTP_REQUEST, &corpus_hooks, &r);
		m.max_head = 1 << 20;
		m.max_target = 1 << 20;
		size_t used = 0;
		llhttp_errno_t e = http_msg_feed(&m, p, left, &used);
		if (e == HPE_OK)         /* all taken, no request completed */
			e = http_msg_finish(&m);
		if (e != HPE_PAUSED && e != HPE_OK)
			fatal("%s: request %u: %s", path, r.count + 1, m.error);
		if (e == HPE_OK)         /* a message that ends at EOF */
			used = left;
		http_msg_free(&m);
		p += used;
		left -= used;
	}
	buf_free(&data);
	if (r.count == 0)
		fatal("%s: no requests", path);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or every *.http file in a folder and the folders below it (in
 * name order). */
static void read_path(struct corpus *c, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		fatal("%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		read_file(c, path);
		return;
	}
	size_t before = c->n;
	DIR *d = opendir(path);
	if (d == NULL)
		fatal("%s: %s", path, strerror(errno));
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (names == NULL || asprintf(&names[n], "%s/%s", path, de->d_name) < 0)
			fatal("out of memory");
		if (stat(names[n], &st) < 0)
			fatal("%s: %s", names[n], strerror(errno));
		if (S_ISDIR(st.st_mode) || (len > 5 && strcmp(de->d_name + len - 5, ".http") == 0))
			n++;
		else
			free(names[n]);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		read_path(c, names[i]);
		free(names[i]);
	}
	free(names);
	if (c->n == before)
		fatal("%s: no *.http corpus files", path);
}

static void free_corpus(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct req *q = &c->reqs[i];
		for (size_t h = 0; h < q->nhdrs; h++) {
			free(q->names[h]);
			free(q->values[h]);
		}
		free(q->names);
		free(q->values);
		free(q->name_lens);
		free(q->value_lens);
		free(q->method);
		free(q->target);
		free(q->version);
		free(q->file);
		buf_free(&q->body);
	}
	free(c->reqs);
}

/* ---- replaying it --------------------------------------------------- */

/* CPU time, not wall time: on a shared machine other processes' turns
 * would count as ours. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Runs one request through w as the proxy will; returns its verdict's
 * action, and when why is not NULL, what the verdict said. */
static enum waf_action judge(struct waf *w, const struct req *q, struct buf *why)
{
	struct waf_tx *tx = waf_tx_new(w, WAF_BLOCK, "127.0.0.1", 40000, "127.0.0.2", 8080, NULL);
	if (tx == NULL)
		fatal("out of memory");
	waf_tx_request(tx, q->method, q->target, q->version);
	for (size_t h = 0; h < q->nhdrs; h++)
		waf_tx_header(tx, q->names[h], q->name_lens[h], q->values[h], q->value_lens[h]);
	if (buf_len(&q->body) > 0)
		waf_tx_body(tx, buf_begin(&q->body), buf_len(&q->body));
	const struct waf_verdict *v = waf_tx_end(tx);
	enum waf_action a = v->action;
	if (why != NULL) {
		buf_clear(why);
		if (a != WAF_PASS && buf_printf(why, "rule %lu: %s", v->rule, v->reason) < 0)
			fatal("out of memory");
		if (buf_append(why, "", 1) < 0)       /* a C string for list_request */
			fatal("out of memory");
	}
	waf_tx_free(tx);
	return a;
}

struct result {
	size_t total[NLABELS], blocked[NLABELS];
	double us_per_req;        /* median of the passes' means                   */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Adds a line for --misses and --all: what happened, the request's file,
 * number and request line, and the verdict's reason. */
static void list_request(struct buf *list, const struct req *q, const char *what, const char *why)
{
	size_t tlen = strlen(q->target);
	if (buf_printf(list, "  %-6s %s #%u  %s %.*s%s%s%s\n", what, q->file, q->index, q->method,
	               200, q->target, tlen > 200 ? "..." : "", why[0] ? "  -- " : "", why) < 0)
		fatal("out of memory");
}

/* Runs the corpus through one rule set: once for the verdicts (listed in
 * list when it is not NULL), then o->repeat times for the time. */
static struct result evaluate(const struct ruleset *rs, const struct corpus *c, const struct opts *o,
                              struct buf *list)
{
	struct result r = { 0 };
	struct buf why = BUF_INIT;
	for (size_t i = 0; i < c->n; i++) {
		const struct req *q = &c->reqs[i];
		enum waf_action a = judge(rs->waf, q, list ? &why : NULL);
		r.total[q->label]++;
		if (a != WAF_PASS)
			r.blocked[q->label]++;
		bool wrong = (q->label == L_BENIGN) != (a == WAF_PASS);
		if (list != NULL && (o->all || wrong))
			list_request(list, q, a == WAF_PASS ? (wrong ? "missed" : "pass") : (wrong ? "FP" : "block"),
			             a == WAF_PASS ? "" : buf_begin(&why));
	}
	buf_free(&why);

	double *means = xcalloc(o->repeat, sizeof(double));
	for (unsigned p = 0; p < o->repeat; p++) {
		uint64_t t0 = cpu_ns();
		for (size_t i = 0; i < c->n; i++)
			judge(rs->waf, &c->reqs[i], NULL);
		means[p] = (double)(cpu_ns() - t0) / 1000.0 / (double)c->n;
	}
	qsort(means, o->repeat, sizeof(double), cmp_double);
	r.us_per_req = means[o->repeat / 2];
	free(means);
	return r;
}

static double pct(size_t part, size_t whole) { return whole ? 100.0 * (double)part / (double)whole : 0; }

/* The rule set column: wide enough for the longest "NAME PLn". */
static int name_width(const struct opts *o)
{
	size_t w = strlen("rule set");
	for (size_t s = 0; s < o->nsets; s++)
		if (strlen(o->sets[s].name) + 4 > w)
			w = strlen(o->sets[s].name) + 4;
	return (int)w;
}

static void print_row(const struct ruleset *rs, const struct result *r, int width)
{
	char cell[NLABELS][40];
	for (int l = 0; l < NLABELS; l++)
		snprintf(cell[l], sizeof(cell[l]), "%5.1f%% %4zu/%-4zu", pct(r->blocked[l], r->total[l]),
		         r->blocked[l], r->total[l]);
	printf("%s PL%u%*s %-18s %-18s %-18s %9.1f\n", rs->name, rs->paranoia, width - (int)strlen(rs->name) - 4, "",
	       cell[L_SQLI], cell[L_XSS], cell[L_BENIGN], r->us_per_req);
}

static void print_json(const struct ruleset *rs, const char *path, const struct result *r, bool first)
{
	struct buf b = BUF_INIT;
	if (buf_puts(&b, first ? "" : ",\n") < 0 || buf_puts(&b, "{\"rules\":") < 0 ||
	    buf_json_str(&b, rs->name, strlen(rs->name)) < 0 ||
	    buf_printf(&b, ",\"paranoia\":%u,\"corpus\":", rs->paranoia) < 0 ||
	    buf_json_str(&b, path, strlen(path)) < 0)
		fatal("out of memory");
	for (int l = 0; l < NLABELS; l++)
		if (buf_printf(&b, ",\"%s\":{\"total\":%zu,\"blocked\":%zu,\"rate\":%.4f}", label_name[l],
		               r->total[l], r->blocked[l], pct(r->blocked[l], r->total[l]) / 100) < 0)
			fatal("out of memory");
	size_t attacks = r->total[L_SQLI] + r->total[L_XSS];
	if (buf_printf(&b, ",\"attacks\":{\"total\":%zu,\"blocked\":%zu,\"rate\":%.4f},\"us_per_request\":%.1f}",
	               attacks, r->blocked[L_SQLI] + r->blocked[L_XSS],
	               pct(r->blocked[L_SQLI] + r->blocked[L_XSS], attacks) / 100, r->us_per_req) < 0)
		fatal("out of memory");
	fwrite(buf_begin(&b), 1, buf_len(&b), stdout);
	buf_free(&b);
}

/* ---- command line --------------------------------------------------- */

static void usage(void)
{
	printf("usage: wafeval [--rules SET[:PARANOIA]]... [--limit BYTES] [--repeat N]\n"
	       "               [--misses | --all] [--json] PATH...\n"
	       "\n"
	       "Replays a labelled corpus of raw HTTP requests through the proxy's WAF\n"
	       "and prints, per rule set and PATH, the share of SQLi and XSS requests\n"
	       "blocked, of benign requests blocked (false positives), and the time per\n"
	       "request (median of the passes).\n"
	       "\n"
	       "  PATH                a corpus file (named sqli*, xss*, benign*, or in a folder\n"
	       "                      so named), or a folder of *.http files\n"
	       "  --rules SET[:N]     rule set: l7lab, crs, or a .conf file; paranoia N (1-4,\n"
	       "                      default 1); repeat to compare (default: l7lab and crs)\n"
	       "  --limit BYTES       body bytes inspected per request (default 64k)\n"
	       "  --repeat N          timing passes (default 3)\n"
	       "  --misses            list the attacks let through and the benign blocked\n"
	       "  --all               list every request with its verdict\n"
	       "  --json              one JSON object per rule set and PATH, in an array\n"
	       "                      (the lists of --misses and --all go to stderr)\n");
}

static void add_ruleset(struct opts *o, const char *spec)
{
	struct ruleset rs = { .name = xstrdup(spec), .paranoia = 1 };
	char *colon = strrchr(rs.name, ':');
	if (colon != NULL && colon[1] != '\0' && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		rs.paranoia = (unsigned)cli_uint("--rules (paranoia)", colon + 1, 1, 4);
		*colon = '\0';
	}
	o->sets = realloc(o->sets, (o->nsets + 1) * sizeof(*o->sets));
	if (o->sets == NULL)
		fatal("out of memory");
	o->sets[o->nsets++] = rs;
}

int main(int argc, char **argv)
{
	log_init(argv[0]);
	struct opts o = { .limit = 64 * 1024, .repeat = 3 };
	enum { O_RULES = 256, O_LIMIT, O_REPEAT, O_MISSES, O_ALL, O_JSON };
	static const struct option longopts[] = {
		{ "rules", required_argument, NULL, O_RULES },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "repeat", required_argument, NULL, O_REPEAT },
		{ "misses", no_argument, NULL, O_MISSES },
		{ "all", no_argument, NULL, O_ALL },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_RULES: add_ruleset(&o, optarg); break;
		case O_LIMIT: o.limit = cli_size("--limit", optarg); break;
		case O_REPEAT: o.repeat = (unsigned)cli_uint("--repeat", optarg, 1, 1000); break;
		case O_MISSES: o.misses = true; break;
		case O_ALL: o.all = true; break;
		case O_JSON: o.json = true; break;
		case 'h': usage(); return 0;
		default: usage_error("unknown option");
		}
	}
	if (optind == argc)
		usage_error("give a corpus file or folder (tests/waf/valid)");
	if (o.limit == 0 || o.limit > (1u << 30))
		usage_error("--limit: from 1 byte to 1 GiB");
	if (o.nsets == 0) {
		add_ruleset(&o, "l7lab");
		add_ruleset(&o, "crs");
	}
	for (size_t s = 0; s < o.nsets; s++) {
		char err[WAF_ERRLEN];
		o.sets[s].waf = waf_open(o.sets[s].name, o.sets[s].paranoia, o.limit, err);
		if (o.sets[s].waf == NULL)
			fatal("%s", err);
	}

	size_t ncorpora = (size_t)(argc - optind);
	struct corpus *corpora = xcalloc(ncorpora, sizeof(*corpora));
	for (size_t i = 0; i < ncorpora; i++) {
		corpora[i].path = argv[optind + (int)i];
		read_path(&corpora[i], corpora[i].path);
	}

	if (o.json)
		printf("[");
	for (size_t i = 0; i < ncorpora; i++) {
		const struct corpus *c = &corpora[i];
		if (!o.json) {
			size_t t[NLABELS] = { 0 };
			for (size_t k = 0; k < c->n; k++)
				t[c->reqs[k].label]++;
			printf("%s%s: %zu requests (%zu SQLi, %zu XSS, %zu benign)\n", i ? "\n" : "", c->path, c->n,
			       t[L_SQLI], t[L_XSS], t[L_BENIGN]);
			printf("%-*s %-18s %-18s %-18s %9s\n", name_width(&o), "rule set", "SQLi blocked", "XSS blocked",
			       "benign blocked", "us/req");
		}
		struct buf *lists = xcalloc(o.nsets, sizeof(struct buf));
		for (size_t s = 0; s < o.nsets; s++) {
			struct result r = evaluate(&o.sets[s], c, &o, o.misses || o.all ? &lists[s] : NULL);
			if (o.json)
				print_json(&o.sets[s], c->path, &r, i == 0 && s == 0);
			else
				print_row(&o.sets[s], &r, name_width(&o));
		}
		for (size_t s = 0; s < o.nsets; s++) {
			/* with --json, stdout is for the JSON alone */
			if (buf_len(&lists[s]) > 0)
				fprintf(o.json ? stderr : stdout, "\n%s PL%u, %s, %s:\n%.*s", o.sets[s].name,
				        o.sets[s].paranoia, c->path,
				        o.all ? "every request" : "attacks let through, benign requests blocked",
				        (int)buf_len(&lists[s]), buf_begin(&lists[s]));
			buf_free(&lists[s]);
		}
		free(lists);
	}
	if (o.json)
		printf("]\n");

	for (size_t i = 0; i < ncorpora; i++)
		free_corpus(&corpora[i]);
	free(corpora);
	for (size_t s = 0; s < o.nsets; s++) {
		waf_close(o.sets[s].waf);
		free(o.sets[s].name);
	}
	free(o.sets);
	return 0;
}
