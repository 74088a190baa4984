/*
 * waf.c - STEP 3, security checks: SQL injection and cross-site scripting
 * judged by libmodsecurity3 (see waf.h for the calls, waf.md for the rule
 * sets and how well they do).
 *
 * The engine does the work: it parses the query, the cookies and the
 * form, JSON or multipart body into variables, and runs the rules over
 * them.  This file only feeds it the request and turns what it says into a
 * verdict.  The engine says two things:
 *   - an intervention (status 403) when a rule with a disruptive action
 *     matched: that decides the verdict;
 *   - a text message for each rule that logs a match: the most severe one
 *     (first on a tie) says why.  With the Core Rule Set, the rule that
 *     blocks (949110, "anomaly score exceeded") is never the interesting
 *     one; the SQLi or XSS rule that raised the score is.
 *
 * The messages mix rule metadata (id, msg) with request bytes (the value
 * matched, the URI), so a client can forge the text of its own request's
 * reason; never its verdict, which comes from the intervention alone.
 *
 * libmodsecurity is loaded when the first rule set is opened (dlopen), not
 * linked: with the WAF off the proxy does not carry it and the 45 libraries
 * it pulls in (about 10 MB of memory per process).
 */
#include "waf.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>

#ifndef WAF_RULES_DIR
#define WAF_RULES_DIR "proxy/waf"
#endif

/* The engine's C API, called as msc.init() for msc_init(): the functions
 * this file uses, looked up in the library once. */
#define MSC_CALLS(X) \
	X(init) X(set_connector_info) X(set_log_cb) X(cleanup) \
	X(create_rules_set) X(rules_add) X(rules_add_file) X(rules_cleanup) \
	X(new_transaction_with_id) X(process_connection) X(process_uri) X(add_n_request_header) \
	X(process_request_headers) X(append_request_body) X(process_request_body) \
	X(intervention) X(transaction_cleanup)
static struct {
#define MSC_FIELD(f) __typeof__(msc_##f) *f;
	MSC_CALLS(MSC_FIELD)
#undef MSC_FIELD
} msc;
static void *msc_lib;     /* kept for the life of the process */

struct waf {
	ModSecurity *ms;
	RulesSet *rules;
	size_t limit;             /* body bytes inspected per request              */
	unsigned long long ntx;   /* transactions so far, for their ids            */
	char *desc;
};

struct waf_tx {
	struct waf *w;
	Transaction *t;
	enum waf_mode mode;
	size_t body;              /* body bytes given to the engine                */
	bool head_done;           /* msc_process_request_headers ran               */
	bool ended;               /* msc_process_request_body ran: verdict final  */
	int status;               /* the intervention's status, 0: none           */
	char *why;                /* the most severe rule message so far           */
	int why_severity;         /* its severity (0 emergency .. 7 debug)         */
	struct waf_verdict v;
	char *var, *reason;       /* v.var and v.reason point here                 */
};

const char *waf_mode_name(enum waf_mode m)
{
	switch (m) {
	case WAF_OFF: return "off";
	case WAF_DETECT: return "detect";
	case WAF_BLOCK: return "block";
	}
	return "?";
}

const char *waf_action_name(enum waf_action a)
{
	switch (a) {
	case WAF_PASS: return "pass";
	case WAF_DETECTED: return "detect";
	case WAF_BLOCKED: return "block";
	}
	return "?";
}

/* ---- reading the engine's messages ---------------------------------- */

/* The text of field name in a message, '[name "text"]', starting the
 * search at from; NULL if absent.  Sets *len.  The text ends at the '"]'
 * that precedes the next field (or the end): values may contain quotes. */
static const char *msg_field(const char *from, const char *name, size_t *len)
{
	char key[24];
	snprintf(key, sizeof(key), "[%s \"", name);
	const char *p = strstr(from, key);
	if (p == NULL)
		return NULL;
	p += strlen(key);
	const char *end = strstr(p, "\"] [");
	if (end == NULL) {
		end = p + strlen(p);
		if (end - p >= 2 && end[-2] == '"' && end[-1] == ']')
			end -= 2;
	}
	*len = (size_t)(end - p);
	return p;
}

/* Where the rule's own fields begin: after the match text, which quotes
 * the request and may contain anything. */
static const char *msg_details(const char *text)
{
	const char *p = strstr(text, " [file \"");
	return p ? p : text;
}

static int msg_severity(const char *text)
{
	size_t n;
	const char *s = msg_field(msg_details(text), "severity", &n);
	return s && n == 1 && *s >= '0' && *s <= '7' ? *s - '0' : 8;
}

/* The engine calls this for each rule match that logs (not for the one
 * that disrupts: that text comes with the intervention).  A chained
 * rule's first links log too, with no msg and severity 0: they are steps
 * of a rule, not findings. */
static void on_message(void *data, const void *message)
{
	struct waf_tx *tx = data;
	const char *text = message;
	size_t n;
	if (tx == NULL || text == NULL)
		return;
	const char *msg = msg_field(msg_details(text), "msg", &n);
	if (msg == NULL || n == 0)
		return;
	int sev = msg_severity(text);
	if (tx->why != NULL && sev >= tx->why_severity)
		return;
	char *copy = strdup(text);
	if (copy == NULL)         /* the verdict stands; only its reason is lost */
		return;
	free(tx->why);
	tx->why = copy;
	tx->why_severity = sev;
}

static char *strndup_or_empty(const char *s, size_t n)
{
	return s ? strndup(s, n) : strdup("");
}

/* The variable a message names: CRS-style data "Matched Data: X found
 * within ARGS:id: value", else the match text "against variable `ARGS:id'". */
static char *msg_var(const char *text)
{
	size_t n;
	const char *data = msg_field(msg_details(text), "data", &n);
	const char *p;
	if (data != NULL && (p = strstr(data, " found within ")) != NULL && p < data + n) {
		p += strlen(" found within ");
		const char *end = strstr(p, ": ");
		size_t len = end && end < data + n ? (size_t)(end - p) : (size_t)(data + n - p);
		return strndup(p, len);
	}
	if ((p = strstr(text, "against variable `")) != NULL) {
		p += strlen("against variable `");
		return strndup(p, strcspn(p, "'"));
	}
	return strdup("");
}

/* Removes every "MATCHED_VARS:" from s: a chained rule that looks again
 * at what its first link matched names "MATCHED_VARS:ARGS:id" for ARGS:id. */
static void drop_matched_vars(char *s)
{
	static const char prefix[] = "MATCHED_VARS:";
	char *p;
	while (s != NULL && (p = strstr(s, prefix)) != NULL)
		memmove(p, p + sizeof(prefix) - 1, strlen(p + sizeof(prefix) - 1) + 1);
}

/* Fills tx->v from the intervention and the most severe message. */
static void make_verdict(struct waf_tx *tx)
{
	struct waf_verdict *v = &tx->v;
	if (tx->status == 0) {
		*v = (struct waf_verdict){ .action = WAF_PASS, .var = "", .reason = "" };
		return;
	}
	v->action = tx->mode == WAF_BLOCK ? WAF_BLOCKED : WAF_DETECTED;   /* never blocks unless told */
	v->status = tx->status;
	const char *text = tx->why ? tx->why : "";
	const char *d = msg_details(text);
	size_t n;
	const char *id = msg_field(d, "id", &n);
	v->rule = id ? strtoul(id, NULL, 10) : 0;
	tx->var = msg_var(text);
	drop_matched_vars(tx->var);
	const char *msg = msg_field(d, "msg", &n);
	char *m = strndup_or_empty(msg, n);
	drop_matched_vars(m);
	if (m != NULL && tx->var != NULL && tx->var[0] != '\0' && strstr(m, tx->var) == NULL) {
		/* "SQL Injection Attack Detected via libinjection" + " in ARGS:id" */
		size_t need = strlen(m) + strlen(tx->var) + 5;
		tx->reason = malloc(need);
		if (tx->reason != NULL)
			snprintf(tx->reason, need, "%s in %s", m, tx->var);
		free(m);
	} else {
		tx->reason = m;
	}
	v->var = tx->var ? tx->var : "";
	v->reason = tx->reason ? tx->reason : "rule matched (out of memory for the reason)";
}

/* ---- rule sets ------------------------------------------------------ */

/* One line: the engine's errors span several and end in a newline. */
static void flatten(char *s)
{
	char *end = s;
	for (char *p = s; *p; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
		if (*p != ' ')
			end = p + 1;
	}
	*end = '\0';
}

static void set_err(char err[WAF_ERRLEN], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char err[WAF_ERRLEN], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err, WAF_ERRLEN, fmt, ap);
	va_end(ap);
	if (n >= WAF_ERRLEN)      /* say so rather than cut silently */
		memcpy(err + WAF_ERRLEN - 4, "...", 4);
	flatten(err);
}

/* The file a rule set name stands for, malloc'ed. */
static char *ruleset_path(const char *name)
{
	char *path;
	if (strchr(name, '/') != NULL)
		return strdup(name);
	if (asprintf(&path, "%s/%s.conf", WAF_RULES_DIR, name) < 0)
		return NULL;
	return path;
}

/* What comes before the rule set: the engine's settings and the paranoia
 * level (tx.paranoia_level is the CRS variable; our rules read it too). */
static int add_settings(RulesSet *rules, unsigned paranoia, size_t limit, const char **error)
{
	char *text;
	if (asprintf(&text,
	             "SecRuleEngine On\n"
	             "SecRequestBodyAccess On\n"
	             "SecRequestBodyLimit %zu\n"
	             "SecRequestBodyNoFilesLimit %zu\n"
	             "SecRequestBodyLimitAction ProcessPartial\n"
	             "SecResponseBodyAccess Off\n"
	             "SecAuditEngine Off\n"
	             "SecAction \"id:10001,phase:1,pass,nolog,t:none,setvar:tx.paranoia_level=%u\"\n",
	             limit, limit, paranoia) < 0)
		return -1;
	int r = msc.rules_add(rules, text, error);
	free(text);
	return r;
}

/* Loads libmodsecurity and looks up the calls, once. */
static int msc_load(char err[WAF_ERRLEN])
{
	if (msc_lib != NULL)
		return 0;
	void *lib = dlopen("libmodsecurity.so.3", RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		set_err(err, "waf: cannot load libmodsecurity3: %s", dlerror());
		return -1;
	}
	/* POSIX's way to store a function dlsym found (a void * is no pointer
	 * to function in ISO C). */
#define MSC_LOAD(f) \
	if ((*(void **)&msc.f = dlsym(lib, "msc_" #f)) == NULL) { \
		set_err(err, "waf: libmodsecurity.so.3 has no msc_%s", #f); \
		dlclose(lib); \
		return -1; \
	}
	MSC_CALLS(MSC_LOAD)
#undef MSC_LOAD
	msc_lib = lib;
	return 0;
}

struct waf *waf_open(const char *ruleset, unsigned paranoia, size_t inspect_limit, char err[WAF_ERRLEN])
{
	struct waf *w = calloc(1, sizeof(*w));
	char *path = ruleset_path(ruleset);
	const char *error = NULL;
	int nrules;
	if (w == NULL || path == NULL) {
		set_err(err, "waf: %s: out of memory", ruleset);
		goto fail;
	}
	if (paranoia < 1 || paranoia > 4) {
		set_err(err, "waf: %s: paranoia level must be 1 to 4", ruleset);
		goto fail;
	}
	if (inspect_limit < 1) {
		set_err(err, "waf: %s: the inspection limit must be at least 1 byte", ruleset);
		goto fail;
	}
	FILE *f = fopen(path, "r");
	if (f == NULL && errno == ENOENT && strchr(ruleset, '/') == NULL) {
		set_err(err, "waf: no rule set '%s' (l7lab, crs, or a .conf file of your own)", ruleset);
		goto fail;
	}
	if (f == NULL) {
		set_err(err, "waf: %s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	if (msc_load(err) < 0)
		goto fail;
	w->limit = inspect_limit;
	w->ms = msc.init();
	w->rules = msc.create_rules_set();
	if (w->ms == NULL || w->rules == NULL) {
		set_err(err, "waf: %s: cannot start libmodsecurity", ruleset);
		goto fail;
	}
	msc.set_connector_info(w->ms, "l7lab proxy");
	msc.set_log_cb(w->ms, on_message);
	if (add_settings(w->rules, paranoia, inspect_limit, &error) < 0) {
		set_err(err, "waf: engine settings: %s", error ? error : "out of memory");
		goto fail;
	}
	nrules = msc.rules_add_file(w->rules, path, &error);
	if (nrules < 0) {
		set_err(err, "waf: %s: %s", path, error ? error : "rules rejected");
		goto fail;
	}
	if (asprintf(&w->desc, "%s (%s), paranoia %u, %d rules, body inspected up to %zu bytes",
	             ruleset, path, paranoia, nrules, inspect_limit) < 0) {
		w->desc = NULL;
		set_err(err, "waf: %s: out of memory", ruleset);
		goto fail;
	}
	free(path);
	return w;
fail:
	free((void *)error);      /* the engine's error strings are malloc'ed */
	free(path);
	waf_close(w);
	return NULL;
}

void waf_close(struct waf *w)
{
	if (w == NULL)
		return;
	if (w->rules != NULL)
		msc.rules_cleanup(w->rules);
	if (w->ms != NULL)
		msc.cleanup(w->ms);
	free(w->desc);
	free(w);
}

const char *waf_describe(const struct waf *w) { return w->desc; }

/* ---- one request ---------------------------------------------------- */

/* Records the first intervention; later ones cannot change the verdict. */
static void check_intervention(struct waf_tx *tx)
{
	ModSecurityIntervention it = { .status = 200 };
	if (msc.intervention(tx->t, &it) && tx->status == 0) {
		tx->status = it.status >= 400 ? it.status : 403;
		/* A disruptive rule's own text comes here, not to on_message. */
		if (it.log != NULL && (tx->why == NULL || msg_severity(it.log) < tx->why_severity)) {
			free(tx->why);
			tx->why = it.log;
			tx->why_severity = msg_severity(it.log);
			it.log = NULL;
		}
	}
	free(it.log);
	free(it.url);
}

struct waf_tx *waf_tx_new(struct waf *w, enum waf_mode mode, const char *client_ip, unsigned client_port,
                          const char *server_ip, unsigned server_port, const char *id)
{
	struct waf_tx *tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return NULL;
	tx->w = w;
	tx->mode = mode;
	tx->why_severity = 8;
	/* With an id of ours: msc_new_transaction would make one from a freshly
	 * seeded random generator, which costs more than an empty rule set. */
	char own[32];
	if (id == NULL) {
		snprintf(own, sizeof(own), "waf-%llu", ++w->ntx);
		id = own;
	}
	tx->t = msc.new_transaction_with_id(w->ms, w->rules, (char *)id, tx);
	if (tx->t == NULL) {
		free(tx);
		return NULL;
	}
	msc.process_connection(tx->t, client_ip, (int)client_port, server_ip, (int)server_port);
	return tx;
}

void waf_tx_request(struct waf_tx *tx, const char *method, const char *target, const char *version)
{
	msc.process_uri(tx->t, target, method, version);
}

void waf_tx_header(struct waf_tx *tx, const char *name, size_t name_len, const char *value, size_t value_len)
{
	msc.add_n_request_header(tx->t, (const unsigned char *)name, name_len,
	                         (const unsigned char *)value, value_len);
}

/* Phase 1 (the head) runs once, before the first body byte. */
static void head_done(struct waf_tx *tx)
{
	if (tx->head_done)
		return;
	tx->head_done = true;
	msc.process_request_headers(tx->t);
	check_intervention(tx);
}

bool waf_tx_body(struct waf_tx *tx, const char *data, size_t len)
{
	head_done(tx);
	if (tx->ended || tx->status != 0)
		return false;
	size_t room = tx->w->limit - tx->body;
	size_t n = len < room ? len : room;
	if (n > 0) {
		msc.append_request_body(tx->t, (const unsigned char *)data, n);
		tx->body += n;
	}
	return tx->body < tx->w->limit;
}

const struct waf_verdict *waf_tx_end(struct waf_tx *tx)
{
	if (tx->ended)
		return &tx->v;
	head_done(tx);
	tx->ended = true;
	if (tx->status == 0) {
		msc.process_request_body(tx->t);   /* phase 2: most rules run here */
		check_intervention(tx);
	}
	make_verdict(tx);
	return &tx->v;
}

void waf_tx_free(struct waf_tx *tx)
{
	if (tx == NULL)
		return;
	msc.transaction_cleanup(tx->t);
	free(tx->why);
	free(tx->var);
	free(tx->reason);
	free(tx);
}
