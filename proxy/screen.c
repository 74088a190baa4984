/*
 * screen.c - STEP 6, data-leak prevention: the response body is screened
 * for card numbers, social security numbers and API keys (dlp.c, the
 * scanner) before step 7 returns it.
 *
 * The head says whether the body is read (dlp_scope: text, HTML, JSON; a
 * compressed one cannot be, and the proxy asks servers for identity
 * encoding so that it rarely comes).  The body reaches the scanner
 * de-chunked, piece by piece as llhttp hands it over; the scanner holds
 * back the few bytes that could still begin a match, so a card number cut
 * by a chunk or a TCP segment is found whole.  What it lets go is framed
 * as the body would have been (relay_body): masking keeps the length, so
 * Content-Length and chunk sizes stay true.
 *
 *   detect  the body goes out as it came; matches are counted and logged
 *   mask    each match but its last four digits or characters becomes '*'
 *   block   the head and body wait (up to --dlp-block-limit) for the
 *           verdict: a match answers 502, nothing of the response sent
 */
#include <stdio.h>

#include "log.h"
#include "proxy.h"

void screen_free(struct screening *d)
{
	dlp_free(d->scan);
	d->scan = NULL;
	buf_free(&d->head);
}

/* The step-6 event: what was found (types and counts, never a value). */
static void event_dlp(struct client *c, const char *action, const char *reason)
{
	const struct screening *d = &c->x.dlp;
	struct buf *e = event_begin(c, 6, "dlp");
	if (e == NULL)
		return;
	event_str(e, "mode", dlp_mode_name(P.cfg->dlp.mode));
	event_str(e, "action", action);
	if (d->scan != NULL) {
		buf_puts(e, ",\"found\":{");
		for (int t = 0, n = 0; t < DLP_NTYPES; t++)
			if (dlp_count(d->scan, (enum dlp_type)t) > 0)
				buf_printf(e, "%s\"%s\":%u", n++ ? "," : "", dlp_type_name((enum dlp_type)t),
				           dlp_count(d->scan, (enum dlp_type)t));
		buf_puts(e, "}");
		event_num(e, "matches", dlp_total(d->scan));
		event_num(e, "ms", (double)d->ns / 1e6);
	}
	if (reason != NULL)
		event_str(e, "reason", reason);
	event_end(e);
}

struct buf *screen_head(struct client *c, const struct http_msg *resp)
{
	struct exchange *x = &c->x;
	struct screening *d = &x->dlp;
	const struct dlp_config *cfg = &P.cfg->dlp;
	const char *why;
	if (cfg->mode == DLP_OFF || x->frame == FRAME_NONE)
		return &c->out;
	switch (dlp_scope(cfg, resp, &why)) {
	case DLP_SKIP:
		return &c->out;
	case DLP_UNREAD_PASS:
		d->unscanned = why;
		P.sec.dlp_unscanned++;
		event_dlp(c, "unscanned", why);
		return &c->out;
	case DLP_UNREAD_BLOCK:
		d->refused = why;
		return NULL;
	case DLP_SCAN:
		break;
	}
	if ((d->scan = dlp_new(cfg)) == NULL) {
		d->refused = "out of memory for the DLP scanner";
		return NULL;
	}
	P.sec.dlp_scanned++;
	if (cfg->mode != DLP_BLOCK)
		return &c->out;
	d->status = http_status(resp);
	return &d->head;   /* block: the head waits for the verdict */
}

/* Block mode: the verdict is in, the held head goes out first. */
static int release_head(struct client *c)
{
	struct exchange *x = &c->x;
	struct screening *d = &x->dlp;
	if (d->status == 0)
		return 0;
	mem_prime(&c->out);
	if (buf_append(&c->out, buf_begin(&d->head), buf_len(&d->head)) < 0)
		return -1;
	x->resp_bytes += buf_len(&d->head);
	x->status = d->status;
	d->status = 0;
	buf_free(&d->head);
	return 0;
}

/* What the scanner let go (in P.scratch) goes to the client, framed. */
static int relay_scanned(struct client *c)
{
	size_t n = buf_len(&P.scratch);
	if (n == 0)
		return 0;
	if (release_head(c) < 0)
		return -1;
	return relay_body(c, buf_begin(&P.scratch), n);
}

/* The scanner's answer: go on, or the response is refused. */
static int verdict(struct client *c, int r)
{
	struct screening *d = &c->x.dlp;
	if (r == DLP_BLOCKED)
		d->refused = dlp_why(d->scan);
	return r == DLP_PASS ? relay_scanned(c) : -1;
}

int screen_body(struct client *c, const char *at, size_t len)
{
	struct screening *d = &c->x.dlp;
	uint64_t t0 = ev_mono_ns();
	buf_clear(&P.scratch);
	int r = dlp_feed(d->scan, at, len, &P.scratch);
	d->ns += ev_mono_ns() - t0;
	return verdict(c, r);
}

/* The counters of what was found (--admin, SIGUSR1). */
static void count_found(const struct dlp *scan)
{
	P.sec.dlp_leaking += dlp_total(scan) > 0;
	for (int t = 0; t < DLP_NTYPES; t++)
		P.sec.dlp_found[t] += dlp_count(scan, (enum dlp_type)t);
}

int screen_end(struct client *c)
{
	struct screening *d = &c->x.dlp;
	uint64_t t0 = ev_mono_ns();
	buf_clear(&P.scratch);
	int r = dlp_finish(d->scan, &P.scratch);
	d->ns += ev_mono_ns() - t0;
	if (verdict(c, r) < 0 || release_head(c) < 0)   /* an empty body: the head alone */
		return -1;
	count_found(d->scan);
	/* block: matches that let the body through were past --dlp-block-limit, masked */
	bool detect = P.cfg->dlp.mode == DLP_DETECT;
	event_dlp(c, dlp_total(d->scan) == 0 ? "clean" : detect ? "detected" : "masked", NULL);
	return 0;
}

int screen_refuse(struct client *c)
{
	struct screening *d = &c->x.dlp;
	P.sec.dlp_blocked++;
	if (d->scan != NULL)
		count_found(d->scan);
	event_dlp(c, "blocked", d->refused);
	buf_free(&d->head);
	d->status = 0;
	char why[160], detail[160];
	snprintf(why, sizeof(why), "dlp: %s", d->refused);
	/* d->refused is the scanner's own words, never a byte of the response */
	snprintf(detail, sizeof(detail), "The proxy's data-leak filter withheld this response: %s.", d->refused);
	return client_refuse(c, 502, why, detail);
}
