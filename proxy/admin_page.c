/*
 * admin_page.c - what --admin serves (admin.h): the dashboard (HTML with
 * inline SVG charts), /stats (JSON) and /metrics (Prometheus' text format),
 * all written from the same figures: the servers' counters (step 6),
 * their telemetry (telemetry.h), the load balancer's state (lb.h), and the
 * clients refused at steps 1 and 2 (limits.c).
 */
#include "admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lb.h"
#include "proxy.h"
#include "telemetry.h"

#define CHART_H 32                 /* the charts' height in SVG units; width: a unit a second */

/* Appending, with out-of-memory remembered: a page that could not be
 * written whole is not served (done() says so and starts afresh). */
static bool failed;
static void put(struct buf *b, const char *s) { failed |= buf_puts(b, s) < 0; }
static void putn(struct buf *b, const char *s, size_t n) { failed |= buf_append(b, s, n) < 0; }
static void putu(struct buf *b, uint64_t v) { failed |= buf_put_uint(b, v) < 0; }
static void put_json(struct buf *b, const char *s, size_t n) { failed |= buf_json_str(b, s, n) < 0; }

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	failed |= buf_vprintf(b, fmt, ap) < 0;
	va_end(ap);
}

/* put() each string up to the NULL. */
static void cat(struct buf *b, ...) __attribute__((sentinel));
static void cat(struct buf *b, ...)
{
	va_list ap;
	va_start(ap, b);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
		put(b, s);
	va_end(ap);
}

static int done(void)
{
	int r = failed ? -1 : 0;
	failed = false;
	return r;
}

/* ---- the figures ------------------------------------------------------------- */

static uint64_t now_ns(void) { return ev_now_ns(P.loop); }

/* "up", "ejected" with the seconds it has left in *left, or "down". */
static const char *server_state(const struct server *s, uint64_t *left)
{
	return health_state(s, now_ns(), left);
}

/* Requests in the last closed second (0 without history). */
static uint64_t server_rps(const struct server *s)
{
	const struct tm_second *sec = telemetry_second(s, 0);
	return sec ? sec->requests : 0;
}

static size_t idle_clients(void)
{
	size_t n = 0;
	for (const struct client *c = P.clients; c != NULL; c = c->next)
		n += c->state == CS_IDLE;
	return n;
}

static uint64_t total(uint64_t (*count)(const struct server *))
{
	uint64_t n = 0;
	for (size_t p = 0; p < P.cfg->npools; p++)
		for (size_t i = 0; i < P.cfg->pools[p].nservers; i++)
			n += count(&P.cfg->pools[p].servers[i]);
	return n;
}
static uint64_t retries_of(const struct server *s) { return s->stats.retries; }

static double uptime_s(void) { return (double)(now_ns() - T.start_ns) / 1e9; }

static uint64_t refused_total(void)
{
	uint64_t n = 0;
	for (int r = 0; r < REFUSE__COUNT; r++)
		n += P.refused[r];
	return n;
}

/* Client address groups the per-client limits track now. */
static uint64_t limit_groups(void)
{
	struct iplimit_stats st = { 0 };
	if (P.limits != NULL)
		iplimit_get_stats(P.limits, &st);
	return st.groups;
}

/* What a refusal's limit is set to, as the flag takes it ("off": none). */
static const char *refusal_setting(enum refusal r, char out[48])
{
	const struct config *cfg = P.cfg;
	const struct iplimit_config *l = &cfg->per_ip;
	char d[24], rate[LIMIT_RATE_STRLEN];
	const struct limit_rate *lr = r == REFUSE_CONN_RATE ? &l->conn_rate : &l->req_rate;
	snprintf(out, 48, "off");
	switch (r) {
	case REFUSE_DENY:
		if (cfg->nallow + cfg->ndeny > 0)
			snprintf(out, 48, "%zu allow, %zu deny", cfg->nallow, cfg->ndeny);
		break;
	case REFUSE_MAX_CONNS:      snprintf(out, 48, "%zu", cfg->max_conns); break;
	case REFUSE_CONNS_PER_IP:
		if (l->max_conns > 0)
			snprintf(out, 48, "%u per /%u or /%u", l->max_conns, l->prefix4, l->prefix6);
		break;
	case REFUSE_CONN_RATE:
	case REFUSE_REQ_RATE:
		if (lr->interval_ns > 0)
			snprintf(out, 48, "%s", limit_rate_format(lr, rate));
		break;
	case REFUSE_TABLE_FULL:
		if (P.limits != NULL)
			snprintf(out, 48, "%llu tracked", (unsigned long long)limit_groups());
		break;
	case REFUSE_TIMEOUT_HEADER: snprintf(out, 48, "%s", config_ms_str(cfg->timeout_header, d)); break;
	case REFUSE_BODY_STALLED:   snprintf(out, 48, "%s", config_ms_str(cfg->timeout_client, d)); break;
	case REFUSE_TIMEOUT_BODY:   snprintf(out, 48, "%s", config_ms_str(cfg->timeout_body, d)); break;
	case REFUSE_MIN_BODY_RATE:
		if (cfg->min_body_rate > 0)
			snprintf(out, 48, "%llu B/s over %s", (unsigned long long)cfg->min_body_rate,
			         config_ms_str(cfg->min_body_window, d));
		break;
	case REFUSE__COUNT:
		break;
	}
	return out;
}

/* ---- HTML ------------------------------------------------------------------------ */

static void html(struct buf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '<': put(b, "&lt;"); break;
		case '>': put(b, "&gt;"); break;
		case '&': put(b, "&amp;"); break;
		case '"': put(b, "&quot;"); break;
		case '\'': put(b, "&#39;"); break;
		default: putn(b, s, 1);
		}
}

/* 1204 as "1,204". */
static void put_count(struct buf *b, uint64_t v)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
	for (int i = 0; i < n; i++) {
		putn(b, &digits[i], 1);
		if ((n - i - 1) % 3 == 0 && i < n - 1)
			put(b, ",");
	}
}

/* Microseconds as milliseconds with 3 significant digits, "–" for none. */
static void put_ms(struct buf *b, uint64_t us)
{
	double ms = (double)us / 1000;
	if (us == 0)
		put(b, "–");
	else
		putf(b, ms >= 1000 ? "%.0f ms" : "%.3g ms", ms);
}

/* "2h 14m", "5m 2s", "35s". */
static void put_duration(struct buf *b, uint64_t s)
{
	if (s >= 86400)
		putf(b, "%llud %lluh", (unsigned long long)(s / 86400), (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		putf(b, "%lluh %llum", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		putf(b, "%llum %llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else
		putf(b, "%llus", (unsigned long long)s);
}

static uint64_t sec_requests(const struct tm_second *s) { return s->requests; }
static uint64_t sec_p99(const struct tm_second *s) { return s->p99_us; }

/* The highest value of one figure in a pool's history (at least 1). */
static uint64_t pool_max(const struct pool *pl, uint64_t (*figure)(const struct tm_second *))
{
	uint64_t max = 1;
	for (size_t i = 0; i < pl->nservers; i++)
		for (uint64_t ago = 0; ago < telemetry_seconds(); ago++) {
			uint64_t v = figure(telemetry_second(&pl->servers[i], ago));
			max = v > max ? v : max;
		}
	return max;
}

/* One figure of s's history as a small area chart, oldest second on the
 * left, scaled to max (the pool's, so servers compare at a glance). */
static void put_chart(struct buf *b, const struct server *s, uint64_t (*figure)(const struct tm_second *),
                      uint64_t max, const char *what, const char *label)
{
	uint64_t n = telemetry_seconds();
	putf(b, "<svg class=\"chart %s\" viewBox=\"0 0 %d %d\" preserveAspectRatio=\"none\" "
	                 "role=\"img\" aria-label=\"%s\"><title>%s, last %d min, highest ",
	                 what, TELEMETRY_HISTORY, CHART_H, label, label, TELEMETRY_HISTORY / 60);
	if (figure == sec_p99)
		put_ms(b, max);
	else
		put_count(b, max);
	put(b, "</title>");
	if (n > 0) {
		putf(b, "<path d=\"M%llu %d", (unsigned long long)(TELEMETRY_HISTORY - n), CHART_H);
		for (uint64_t ago = n; ago-- > 0;) {
			uint64_t v = figure(telemetry_second(s, ago));
			putf(b, "L%llu %.1f", (unsigned long long)(TELEMETRY_HISTORY - ago - 1),
			                 CHART_H - (double)v * (CHART_H - 1) / (double)max);
		}
		putf(b, "V%dZ\"/>", CHART_H);
	}
	put(b, "</svg>");
}

static void put_cell(struct buf *b, const char *cls, uint64_t v, bool ms)
{
	cat(b, "<td class=\"n ", cls, "\">", NULL);
	if (ms)
		put_ms(b, v);
	else
		put_count(b, v);
	put(b, "</td>");
}

static void put_server_row(struct buf *b, const struct pool *pl, const struct server *s, uint64_t max_rps,
                           uint64_t max_p99)
{
	uint64_t left;
	const char *state = server_state(s, &left);
	const struct server_telemetry *tm = s->tm;
	cat(b, "<tr class=\"server ", state, "\" id=\"server-", pl->name, "-", s->name, "\"><th scope=\"row\">",
	              s->name, "</th><td class=\"address\">", s->addr_s, "</td><td class=\"state\"><strong>", state,
	              "</strong>", NULL);
	if (left > 0)
		putf(b, " %llus left", (unsigned long long)left);
	put(b, "</td>");
	put_cell(b, "weight", s->weight, false);
	put_cell(b, "inflight", s->inflight, false);
	put_cell(b, "rps", server_rps(s), false);
	put_cell(b, "p50", tm->p50_us, true);
	put_cell(b, "p99", tm->p99_us, true);
	if (pl->algo == LB_EWMA) {
		double e = lb_ewma_ns(s, now_ns());
		put_cell(b, "ewma", e < 0 ? 0 : e < 1000 ? 1 : (uint64_t)(e / 1000), true);
	}
	put_cell(b, "requests", server_requests(s), false);
	put_cell(b, "errors", server_errors(s), false);
	put_cell(b, "retries", s->stats.retries, false);
	put_cell(b, "ejections", s->stats.ejections, false);
	put(b, "<td class=\"charts\">");
	put_chart(b, s, sec_requests, max_rps, "rps", "requests per second");
	put_chart(b, s, sec_p99, max_p99, "p99", "p99 time to first byte");
	put(b, "</td></tr>\n");
}

static void put_pool(struct buf *b, const struct pool *pl)
{
	char spec[BALANCE_STRLEN];
	cat(b, "<section class=\"pool\" id=\"pool-", pl->name, "\">\n<h2>pool <b>", pl->name, "</b> · ", NULL);
	html(b, balance_spec(pl, spec));
	put(b, "</h2>\n<p class=\"budget\">retry budget: <b class=\"retrying\">");
	put_count(b, pl->retrying);
	put(b, "</b> of <b class=\"active\">");
	put_count(b, pl->active);
	putf(b, "</b> requests in flight retrying (at most %llu%% of the others, or %llu) · refused <b class=\"refused\">",
	     (unsigned long long)P.cfg->retry_budget, (unsigned long long)P.cfg->retry_budget_min);
	put_count(b, pl->budget_refused);
	put(b, "</b> · servers out <b class=\"out\">");
	put_count(b, pl->nout);
	put(b, "</b></p>\n<table>\n<thead><tr><th scope=\"col\">server</th><th scope=\"col\">address</th>"
	                  "<th scope=\"col\">state</th><th scope=\"col\" class=\"n\">weight</th>"
	                  "<th scope=\"col\" class=\"n\">in flight</th><th scope=\"col\" class=\"n\">req/s</th>"
	                  "<th scope=\"col\" class=\"n\">p50 ttfb</th><th scope=\"col\" class=\"n\">p99 ttfb</th>");
	if (pl->algo == LB_EWMA)
		put(b, "<th scope=\"col\" class=\"n\">ewma</th>");
	put(b, "<th scope=\"col\" class=\"n\">requests</th><th scope=\"col\" class=\"n\">errors</th>"
	                  "<th scope=\"col\" class=\"n\">retries</th><th scope=\"col\" class=\"n\">ejections</th>"
	                  "<th scope=\"col\">req/s · p99 ttfb, last 5 min</th></tr></thead>\n<tbody>\n");
	uint64_t max_rps = pool_max(pl, sec_requests), max_p99 = pool_max(pl, sec_p99);
	for (size_t i = 0; i < pl->nservers; i++)
		put_server_row(b, pl, &pl->servers[i], max_rps, max_p99);
	put(b, "</tbody>\n</table>\n</section>\n");
}

/* The security checks' line, when one is on: WAF (step 3), DLP (step 6). */
static void put_security(struct buf *b)
{
	const struct security_stats *sec = &P.sec;
	if (P.waf == NULL && P.cfg->dlp.mode == DLP_OFF)
		return;
	put(b, "<p class=\"security\">");
	if (P.waf != NULL) {
		cat(b, "WAF <b>", waf_mode_name(P.cfg->waf), "</b> (", NULL);
		html(b, P.cfg->waf_rules);
		put(b, "): <b id=\"waf-blocked\">");
		put_count(b, sec->waf_blocked);
		put(b, "</b> blocked · <b id=\"waf-detected\">");
		put_count(b, sec->waf_detected);
		put(b, "</b> detected · ");
		put_count(b, sec->waf_passed);
		put(b, " passed");
	}
	if (P.waf != NULL && P.cfg->dlp.mode != DLP_OFF)
		put(b, " &nbsp;|&nbsp; ");
	if (P.cfg->dlp.mode != DLP_OFF) {
		cat(b, "DLP <b>", dlp_mode_name(P.cfg->dlp.mode), "</b>: ", NULL);
		put_count(b, sec->dlp_scanned);
		put(b, " responses scanned · <b id=\"dlp-leaking\">");
		put_count(b, sec->dlp_leaking);
		put(b, "</b> with leaks · <b id=\"dlp-blocked\">");
		put_count(b, sec->dlp_blocked);
		put(b, "</b> blocked");
		for (int t = 0; t < DLP_NTYPES; t++)
			if (sec->dlp_found[t] > 0) {
				cat(b, " · ", dlp_type_name((enum dlp_type)t), " ", NULL);
				put_count(b, sec->dlp_found[t]);
			}
	}
	put(b, "</p>\n");
}

/* Steps 1 and 2: the clients each limit refused, beside its setting. */
static void put_refusals(struct buf *b)
{
	char set[48];
	put(b, "<section class=\"refusals\" id=\"refusals\">\n<h2>refused at steps 1 and 2</h2>\n<table>\n"
	       "<thead><tr><th scope=\"col\">step</th><th scope=\"col\">limit</th>"
	       "<th scope=\"col\" class=\"n\">refused</th><th scope=\"col\">setting</th></tr></thead>\n<tbody>\n");
	for (int r = 0; r < REFUSE__COUNT; r++) {
		putf(b, "<tr class=\"refusal%s\" id=\"refused-%s\"><td class=\"n\">%d</td><th scope=\"row\">%s</th>",
		     P.refused[r] ? " hit" : "", refusals[r].name, refusals[r].step, refusals[r].name);
		put_cell(b, "count", P.refused[r], false);
		cat(b, "<td class=\"setting\">", refusal_setting((enum refusal)r, set), "</td></tr>\n", NULL);
	}
	put(b, "</tbody>\n</table>\n</section>\n");
}

int admin_page_html(struct buf *b)
{
	const char *name = P.cfg->name ? P.cfg->name : "l7lab";
	uint64_t requests = total(server_requests), retries = total(retries_of);
	char when[16] = "";
	time_t wall = (time_t)(ev_wall_ns() / 1000000000u);
	struct tm tm;
	if (localtime_r(&wall, &tm) != NULL)
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	cat(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	              "<title>", name, " · l7lab proxy</title>\n<link rel=\"icon\" href=\"data:,\">\n"
	              "<link rel=\"stylesheet\" href=\"/dashboard.css\">\n<script src=\"/dashboard.js\" defer></script>\n"
	              "</head>\n<body>\n<main id=\"live\">\n<header>\n<h1>l7lab proxy <b>", name, "</b></h1>\n"
	              "<p class=\"summary\">up <span id=\"uptime\">", NULL);
	put_duration(b, (uint64_t)uptime_s());
	put(b, "</span> · <b id=\"rps\">");
	put_count(b, T.requests);
	put(b, "</b> req/s · <b id=\"clients\">");
	put_count(b, P.nclients);
	put(b, "</b> clients (");
	put_count(b, idle_clients());
	put(b, " idle) · p99 <b id=\"p99\">");
	put_ms(b, T.p99_us);
	putf(b, "</b> · retries <b id=\"retries\">%.1f%%</b>",
	                 requests ? 100.0 * (double)retries / (double)requests : 0.0);
	put(b, " · refused <b id=\"refused\">");
	put_count(b, refused_total());
	put(b, "</b></p>\n");
	put_security(b);
	put(b, "</header>\n");
	for (size_t p = 0; p < P.cfg->npools; p++)
		put_pool(b, &P.cfg->pools[p]);
	put_refusals(b);
	cat(b, "<footer><p>figures of the last second; p50 and p99 time to first byte over the last 10 s · "
	              "updated <time id=\"updated\">", when, "</time> <span id=\"status\"></span> · "
	              "<a href=\"/stats\">/stats</a> · <a href=\"/metrics\">/metrics</a></p></footer>\n</main>\n"
	              "<noscript><p>JavaScript is off: reload the page for new figures.</p></noscript>\n"
	              "</body>\n</html>\n", NULL);
	return done();
}

/* ---- JSON ------------------------------------------------------------------------ */

static void json_key(struct buf *b, const char *key) { cat(b, "\"", key, "\":", NULL); }

static void json_str(struct buf *b, const char *key, const char *v)
{
	json_key(b, key);
	put_json(b, v, strlen(v));
	put(b, ",");
}

static void json_num(struct buf *b, const char *key, uint64_t v)
{
	json_key(b, key);
	putu(b, v);
	put(b, ",");
}

static void json_ms(struct buf *b, const char *key, double us)
{
	json_key(b, key);
	putf(b, "%.3f,", us / 1000);
}

/* "name":[oldest, ..., newest] over the history. */
static void json_history(struct buf *b, const char *key, const struct server *s,
                         uint64_t (*figure)(const struct tm_second *), bool ms)
{
	json_key(b, key);
	put(b, "[");
	for (uint64_t ago = telemetry_seconds(); ago-- > 0;) {
		uint64_t v = figure(telemetry_second(s, ago));
		if (ms)
			putf(b, "%.3f", (double)v / 1000);
		else
			putu(b, v);
		put(b, ago ? "," : "");
	}
	put(b, "]");
}

static uint64_t sec_errors(const struct tm_second *s) { return s->errors; }

static void json_server(struct buf *b, const struct pool *pl, const struct server *s)
{
	static const char *const classes[] = { "failed", "1xx", "2xx", "3xx", "4xx", "5xx" };
	const struct server_stats *st = &s->stats;
	uint64_t left;
	put(b, "{");
	json_str(b, "name", s->name);
	json_str(b, "address", s->addr_s);
	json_str(b, "state", server_state(s, &left));
	json_num(b, "ejected_for_s", left);
	json_num(b, "fails_in_row", s->fails);
	json_num(b, "ejections_in_row", s->ejected_in_row);
	json_num(b, "weight", s->weight);
	json_num(b, "in_flight", s->inflight);
	json_num(b, "requests", server_requests(s));
	json_num(b, "errors", server_errors(s));
	json_num(b, "retries", st->retries);
	json_num(b, "ejections", st->ejections);
	json_num(b, "connections", st->connects);
	json_num(b, "reuses", st->reuses);
	json_num(b, "idle_connections", s->nidle);
	if (P.cfg->health_check != NULL) {
		json_key(b, "checks");
		putf(b, "{\"passed\":%llu,\"failed\":%llu,\"last\":\"%s\",\"in_row\":%u},",
		     (unsigned long long)st->checks[1], (unsigned long long)st->checks[0], s->check_passed ? "pass" : "fail",
		     s->check_run);
	}
	json_key(b, "responses");
	for (int k = 0; k < 6; k++) {
		cat(b, k ? "," : "{", "\"", classes[k], "\":", NULL);
		putu(b, st->by_class[k]);
	}
	put(b, "},");
	json_num(b, "requests_per_s", server_rps(s));
	json_key(b, "ttfb_ms");
	put(b, "{");
	json_ms(b, "p50", (double)s->tm->p50_us);
	json_ms(b, "p99", (double)s->tm->p99_us);
	json_num(b, "window_s", TELEMETRY_WINDOW);
	json_ms(b, "p50_since_start", (double)hist_percentile(&s->tm->ttfb, 50));
	json_ms(b, "p99_since_start", (double)hist_percentile(&s->tm->ttfb, 99));
	json_ms(b, "mean_since_start", hist_mean(&s->tm->ttfb));
	b->len--;   /* the last comma */
	put(b, "},");
	if (pl->algo == LB_EWMA) {
		double e = lb_ewma_ns(s, now_ns());
		json_key(b, "ewma_ms");
		if (e < 0)
			put(b, "null,");
		else
			putf(b, "%.3f,", e / 1e6);
	}
	json_key(b, "history");
	put(b, "{");
	json_num(b, "seconds", telemetry_seconds());
	json_history(b, "requests", s, sec_requests, false);
	put(b, ",");
	json_history(b, "errors", s, sec_errors, false);
	put(b, ",");
	json_history(b, "p99_ms", s, sec_p99, true);
	put(b, "}}");
}

/* "waf":{...},"dlp":{...}, (null when off) */
static void json_security(struct buf *b)
{
	const struct security_stats *sec = &P.sec;
	json_key(b, "waf");
	if (P.waf != NULL) {
		put(b, "{");
		json_str(b, "mode", waf_mode_name(P.cfg->waf));
		json_str(b, "rules", P.cfg->waf_rules);
		json_num(b, "paranoia", P.cfg->waf_paranoia);
		json_num(b, "passed", sec->waf_passed);
		json_num(b, "detected", sec->waf_detected);
		json_num(b, "blocked", sec->waf_blocked);
		b->len--;
		put(b, "},");
	} else {
		put(b, "null,");
	}
	json_key(b, "dlp");
	if (P.cfg->dlp.mode == DLP_OFF) {
		put(b, "null,");
		return;
	}
	put(b, "{");
	json_str(b, "mode", dlp_mode_name(P.cfg->dlp.mode));
	json_num(b, "scanned", sec->dlp_scanned);
	json_num(b, "leaking", sec->dlp_leaking);
	json_num(b, "blocked", sec->dlp_blocked);
	json_num(b, "unscanned", sec->dlp_unscanned);
	json_key(b, "found");
	for (int t = 0; t < DLP_NTYPES; t++) {
		cat(b, t ? "," : "{", "\"", dlp_type_name((enum dlp_type)t), "\":", NULL);
		putu(b, sec->dlp_found[t]);
	}
	put(b, "}},");
}

int admin_page_json(struct buf *b)
{
	char spec[BALANCE_STRLEN];
	put(b, "{\"proxy\":{");
	json_str(b, "name", P.cfg->name ? P.cfg->name : "l7lab");
	json_num(b, "pid", (uint64_t)getpid());
	json_key(b, "t");
	putf(b, "%.6f,", (double)ev_wall_ns() / 1e9);
	json_key(b, "uptime_s");
	putf(b, "%.3f,", uptime_s());
	json_num(b, "clients", P.nclients);
	json_num(b, "clients_idle", idle_clients());
	json_num(b, "requests", total(server_requests));
	json_num(b, "retries", total(retries_of));
	json_num(b, "requests_per_s", T.requests);
	json_ms(b, "p50_ms", (double)T.p50_us);
	json_ms(b, "p99_ms", (double)T.p99_us);
	json_num(b, "limit_groups", limit_groups());
	json_key(b, "refused");
	for (int r = 0; r < REFUSE__COUNT; r++) {
		cat(b, r ? ",\"" : "{\"", refusals[r].name, "\":", NULL);
		putu(b, P.refused[r]);
	}
	put(b, "}},");
	json_security(b);
	put(b, "\"pools\":[");
	for (size_t p = 0; p < P.cfg->npools; p++) {
		const struct pool *pl = &P.cfg->pools[p];
		put(b, p ? ",{" : "{");
		json_str(b, "name", pl->name);
		json_str(b, "balance", balance_spec(pl, spec));
		json_key(b, "retry_budget");
		putf(b, "{\"percent\":%llu,\"min\":%llu,\"active\":%u,\"retrying\":%u,\"refused\":%llu},",
		     (unsigned long long)P.cfg->retry_budget, (unsigned long long)P.cfg->retry_budget_min, pl->active,
		     pl->retrying, (unsigned long long)pl->budget_refused);
		json_num(b, "servers_out", pl->nout);
		json_key(b, "servers");
		for (size_t i = 0; i < pl->nservers; i++) {
			put(b, i ? "," : "[");
			json_server(b, pl, &pl->servers[i]);
		}
		put(b, "]}");
	}
	put(b, "]}\n");
	return done();
}

/* ---- Prometheus ---------------------------------------------------------------- */

/* The buckets of l7lab_server_ttfb_seconds, in microseconds. */
static const uint64_t bucket_us[] = { 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
                                      100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000 };

static void metric_head(struct buf *b, const char *name, const char *type, const char *help)
{
	cat(b, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", NULL);
}

/* name{pool="..",server=".."[,extra]} (names are [A-Za-z0-9._-]: no escaping) */
static void metric_labels(struct buf *b, const char *name, const struct pool *pl, const struct server *s,
                          const char *extra)
{
	cat(b, name, "{pool=\"", pl->name, "\",server=\"", s->name, "\"", extra ? "," : "", extra ? extra : "",
	              "} ", NULL);
}

typedef uint64_t figure_fn(const struct server *s);
typedef uint64_t pool_fn(const struct pool *pl);
static uint64_t pool_active(const struct pool *pl) { return pl->active; }
static uint64_t pool_retrying(const struct pool *pl) { return pl->retrying; }
static uint64_t pool_refused(const struct pool *pl) { return pl->budget_refused; }

static void metric_pools(struct buf *b, const char *name, const char *type, const char *help, pool_fn *fn)
{
	metric_head(b, name, type, help);
	for (size_t p = 0; p < P.cfg->npools; p++) {
		cat(b, name, "{pool=\"", P.cfg->pools[p].name, "\"} ", NULL);
		putu(b, fn(&P.cfg->pools[p]));
		put(b, "\n");
	}
}
static uint64_t up_of(const struct server *s) { uint64_t left; return server_state(s, &left)[0] == 'u'; }
static uint64_t ejected_of(const struct server *s) { uint64_t left; return server_state(s, &left)[0] == 'e'; }
static uint64_t checks_passed(const struct server *s) { return s->stats.checks[1]; }
static uint64_t checks_failed(const struct server *s) { return s->stats.checks[0]; }
static uint64_t weight_of(const struct server *s) { return s->weight; }
static uint64_t inflight_of(const struct server *s) { return s->inflight; }
static uint64_t failures_of(const struct server *s) { return s->stats.by_class[0]; }
static uint64_t ejections_of(const struct server *s) { return s->stats.ejections; }
static uint64_t connects_of(const struct server *s) { return s->stats.connects; }

static void metric_servers(struct buf *b, const char *name, const char *type, const char *help, figure_fn *fn)
{
	metric_head(b, name, type, help);
	for (size_t p = 0; p < P.cfg->npools; p++)
		for (size_t i = 0; i < P.cfg->pools[p].nservers; i++) {
			metric_labels(b, name, &P.cfg->pools[p], &P.cfg->pools[p].servers[i], NULL);
			putu(b, fn(&P.cfg->pools[p].servers[i]));
			put(b, "\n");
		}
}

/* l7lab_waf_requests_total{verdict=...}, l7lab_dlp_... (only when on). */
static void metrics_security(struct buf *b)
{
	const struct security_stats *sec = &P.sec;
	if (P.waf != NULL) {
		metric_head(b, "l7lab_waf_requests_total", "counter", "Requests the WAF judged (step 3), by verdict.");
		putf(b, "l7lab_waf_requests_total{verdict=\"pass\"} %llu\n", (unsigned long long)sec->waf_passed);
		putf(b, "l7lab_waf_requests_total{verdict=\"detect\"} %llu\n", (unsigned long long)sec->waf_detected);
		putf(b, "l7lab_waf_requests_total{verdict=\"block\"} %llu\n", (unsigned long long)sec->waf_blocked);
	}
	if (P.cfg->dlp.mode == DLP_OFF)
		return;
	metric_head(b, "l7lab_dlp_responses_total", "counter",
	            "Text responses the data-leak filter saw (step 6): scanned, with leaks, blocked, unscanned (compressed).");
	putf(b, "l7lab_dlp_responses_total{outcome=\"scanned\"} %llu\n", (unsigned long long)sec->dlp_scanned);
	putf(b, "l7lab_dlp_responses_total{outcome=\"leaking\"} %llu\n", (unsigned long long)sec->dlp_leaking);
	putf(b, "l7lab_dlp_responses_total{outcome=\"blocked\"} %llu\n", (unsigned long long)sec->dlp_blocked);
	putf(b, "l7lab_dlp_responses_total{outcome=\"unscanned\"} %llu\n", (unsigned long long)sec->dlp_unscanned);
	metric_head(b, "l7lab_dlp_matches_total", "counter", "Sensitive values the data-leak filter found, by type.");
	for (int t = 0; t < DLP_NTYPES; t++)
		putf(b, "l7lab_dlp_matches_total{type=\"%s\"} %llu\n", dlp_type_name((enum dlp_type)t),
		     (unsigned long long)sec->dlp_found[t]);
}

int admin_page_metrics(struct buf *b)
{
	const struct config *cfg = P.cfg;
	metric_head(b, "l7lab_proxy_start_time_seconds", "gauge", "When the proxy started, in seconds since the Unix epoch.");
	putf(b, "l7lab_proxy_start_time_seconds %.3f\n", (double)T.start_wall_ns / 1e9);
	metric_head(b, "l7lab_proxy_client_connections", "gauge", "Client connections open now.");
	putf(b, "l7lab_proxy_client_connections %zu\n", P.nclients);
	metric_head(b, "l7lab_proxy_refused_total", "counter",
	            "Clients refused at step 1 (connection closed) or step 2 (429, 408), by the limit that refused them.");
	for (int r = 0; r < REFUSE__COUNT; r++)
		putf(b, "l7lab_proxy_refused_total{step=\"%d\",reason=\"%s\"} %llu\n", refusals[r].step, refusals[r].name,
		     (unsigned long long)P.refused[r]);
	metric_head(b, "l7lab_proxy_limit_groups", "gauge", "Client address groups the per-client limits track now.");
	putf(b, "l7lab_proxy_limit_groups %llu\n", (unsigned long long)limit_groups());
	metric_servers(b, "l7lab_server_up", "gauge", "1 while the server takes requests, 0 while it is down.", up_of);
	metric_servers(b, "l7lab_server_weight", "gauge", "The server's weight in its pool.", weight_of);
	metric_servers(b, "l7lab_server_in_flight", "gauge", "Requests sent to the server and not answered yet.",
	               inflight_of);
	metric_servers(b, "l7lab_server_requests_total", "counter", "Requests the server answered or failed.",
	               server_requests);
	metric_head(b, "l7lab_server_responses_total", "counter", "Responses from the server by status class.");
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers; i++)
			for (int k = 1; k <= 5; k++) {
				char cls[24];
				snprintf(cls, sizeof(cls), "code=\"%dxx\"", k);
				metric_labels(b, "l7lab_server_responses_total", &cfg->pools[p], &cfg->pools[p].servers[i], cls);
				putu(b, cfg->pools[p].servers[i].stats.by_class[k]);
				put(b, "\n");
			}
	metric_servers(b, "l7lab_server_failures_total", "counter",
	               "Requests the server failed without a response (connect error, reset, timeout).", failures_of);
	metric_servers(b, "l7lab_server_retries_total", "counter", "Requests the server failed that went to another server.",
	               retries_of);
	metric_servers(b, "l7lab_server_ejected", "gauge", "1 while outlier ejection keeps the server out.", ejected_of);
	metric_servers(b, "l7lab_server_ejections_total", "counter", "Times outlier ejection took the server out.",
	               ejections_of);
	if (cfg->health_check != NULL) {
		metric_servers(b, "l7lab_server_checks_passed_total", "counter", "Active health checks the server passed.",
		               checks_passed);
		metric_servers(b, "l7lab_server_checks_failed_total", "counter", "Active health checks the server failed.",
		               checks_failed);
	}
	metric_pools(b, "l7lab_pool_requests_in_flight", "gauge",
	             "Requests of the pool between step 4 and their end (the retry budget's base).", pool_active);
	metric_pools(b, "l7lab_pool_retries_in_flight", "gauge", "Requests of the pool past their first attempt.",
	             pool_retrying);
	metric_pools(b, "l7lab_pool_retries_refused_total", "counter", "Retries the pool's retry budget refused.",
	             pool_refused);
	metric_servers(b, "l7lab_server_connections_total", "counter", "Connections the proxy opened to the server.",
	               connects_of);
	metric_head(b, "l7lab_server_ttfb_seconds", "histogram", "Time to the first byte of the server's responses.");
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers; i++) {
			const struct pool *pl = &cfg->pools[p];
			const struct server *s = &pl->servers[i];
			const struct hist *h = &s->tm->ttfb;
			for (size_t k = 0; k <= sizeof(bucket_us) / sizeof(bucket_us[0]); k++) {
				char le[32];
				bool inf = k == sizeof(bucket_us) / sizeof(bucket_us[0]);
				if (inf)
					snprintf(le, sizeof(le), "le=\"+Inf\"");
				else
					snprintf(le, sizeof(le), "le=\"%g\"", (double)bucket_us[k] / 1e6);
				metric_labels(b, "l7lab_server_ttfb_seconds_bucket", pl, s, le);
				putu(b, inf ? h->total : hist_count_upto(h, bucket_us[k]));
				put(b, "\n");
			}
			metric_labels(b, "l7lab_server_ttfb_seconds_sum", pl, s, NULL);
			putf(b, "%.6f\n", h->sum / 1e6);
			metric_labels(b, "l7lab_server_ttfb_seconds_count", pl, s, NULL);
			putu(b, h->total);
			put(b, "\n");
		}
	metrics_security(b);
	metric_head(b, "l7lab_server_ewma_seconds", "gauge",
	            "The time-to-first-byte estimate --balance ewma steers by (servers of ewma pools with an answer).");
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t i = 0; i < cfg->pools[p].nservers && cfg->pools[p].algo == LB_EWMA; i++) {
			double e = lb_ewma_ns(&cfg->pools[p].servers[i], now_ns());
			if (e >= 0) {
				metric_labels(b, "l7lab_server_ewma_seconds", &cfg->pools[p], &cfg->pools[p].servers[i], NULL);
				putf(b, "%.9f\n", e / 1e9);
			}
		}
	return done();
}
