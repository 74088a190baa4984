/*
 * dlp.h - STEP 6: data-leak prevention.  A streaming scanner over the bytes
 * of a response body that finds payment card numbers, US social security
 * numbers and API keys, and counts, masks or blocks them.
 *
 * The proxy feeds it the body as it arrives from the server (after llhttp
 * has removed any chunked framing) and forwards what it emits.  A match may
 * straddle any two pieces: the scanner holds back the bytes that could still
 * begin a match (at most DLP_HOLD_MAX) and emits everything before them;
 * dlp_finish() emits the rest when the body ends.
 *
 *   struct dlp *d = dlp_new(&cfg);                 when the head says DLP_SCAN
 *   r = dlp_feed(d, at, len, &out);                each body piece; forward out
 *   r = dlp_finish(d, &out);                       at the end of the body
 *   if (r == DLP_BLOCKED) answer 502 with dlp_why(d)
 *   dlp_count(d, DLP_CARD) ...                     for the step-6 event
 *   dlp_free(d);
 *
 * What counts as a match (and what does not) is described atop dlp.c.
 * Matches are reported by type and count only: the scanner never keeps or
 * returns a matched value.
 */
#ifndef PROXY_DLP_H
#define PROXY_DLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http.h"

enum dlp_mode {
	DLP_OFF,        /* no scanning                                               */
	DLP_DETECT,     /* count matches; forward the body as it is, with no delay    */
	DLP_MASK,       /* replace each match but its last four digits/characters with
	                 * '*', same length (Content-Length stays right)             */
	DLP_BLOCK,      /* hold the body (up to block_limit); any match: answer 502   */
};

enum dlp_type { DLP_CARD, DLP_SSN, DLP_AWS_KEY, DLP_SECRET, DLP_NTYPES };

#define DLP_TYPE_BIT(t)   (1u << (t))
#define DLP_ALL_TYPES     ((1u << DLP_NTYPES) - 1)

/* The longest value a generic secret may have (longer tokens, such as most
 * JWTs, are not taken for secrets), and so the most bytes held back. */
#define DLP_SECRET_MAX    128
#define DLP_HOLD_MAX      DLP_SECRET_MAX

#define DLP_BLOCK_LIMIT_DEFAULT (1u << 20)

struct dlp_config {
	enum dlp_mode mode;
	unsigned types;          /* DLP_TYPE_BIT()s to look for; default all        */
	size_t block_limit;      /* DLP_BLOCK: body bytes held for the verdict      */
	bool block_over_limit;   /* DLP_BLOCK, body over block_limit: block it
	                          * unread (true), or send what was held and mask
	                          * the rest (false, the default)                   */
	bool block_unreadable;   /* a compressed text response, which the scanner
	                          * cannot read: answer 502 (true), or forward it
	                          * unscanned (false, the default)                  */
};

/* Sets the defaults: mode off, every type, 1 MiB block limit, mask past the
 * limit, forward unreadable responses. */
void dlp_config_init(struct dlp_config *cfg);

/* "off", "detect", "mask", "block" <-> mode.  Parse: 0, or -1. */
int dlp_mode_parse(const char *s, enum dlp_mode *out);
const char *dlp_mode_name(enum dlp_mode m);
/* "card", "ssn", "aws-key", "secret". */
const char *dlp_type_name(enum dlp_type t);
/* A comma-separated list of type names ("card,ssn") or "all" into a
 * DLP_TYPE_BIT() set.  Returns 0, or -1 (unknown or empty name). */
int dlp_types_parse(const char *s, unsigned *out);

/* ---- which responses are scanned (from the head, at step 6) ------------- */

enum dlp_scope {
	DLP_SKIP,           /* not text: forwarded untouched                         */
	DLP_SCAN,           /* readable text: feed the body to a scanner             */
	DLP_UNREAD_PASS,    /* text under a Content-Encoding other than identity:
	                     * forwarded unscanned (say so in the step-6 event)      */
	DLP_UNREAD_BLOCK,   /* the same, with block_unreadable: answer 502           */
};

/* Decides from the response head.  Scanned media types: text/ (any), JSON
 * (application/json, application/...+json, application/x-ndjson), XML and
 * XHTML (application/xml, application/...+xml), JavaScript; a response
 * without Content-Type is scanned too (browsers sniff such bodies as text).
 * The scanner reads identity-encoded bodies only: the proxy asks for them
 * (Accept-Encoding: identity toward the server whenever DLP is on), and a
 * server that compresses anyway gets DLP_UNREAD_*.  *why (may be NULL) is
 * set to a short reason for the two DLP_UNREAD_* answers and DLP_SKIP. */
enum dlp_scope dlp_scope(const struct dlp_config *cfg, const struct http_msg *resp, const char **why);

/* ---- the scanner ----------------------------------------------------------- */

struct dlp;

/* Verdicts of dlp_feed and dlp_finish. */
enum dlp_verdict {
	DLP_PASS,       /* go on: forward what was appended to out                  */
	DLP_BLOCKED,    /* DLP_BLOCK mode: a match, or the limit with
	                 * block_over_limit: answer 502 with dlp_why() and send
	                 * nothing of the body; later feeds are ignored             */
};

/* A scanner for one response body, in cfg's mode (not DLP_OFF); cfg is
 * copied.  Returns NULL when out of memory.  Its size is fixed (a few KiB)
 * except in DLP_BLOCK mode, which holds up to block_limit body bytes. */
struct dlp *dlp_new(const struct dlp_config *cfg);
void dlp_free(struct dlp *d);

/* Scans n more body bytes and appends to out the bytes that are now final:
 * as they came (detect), masked (mask), nothing until the verdict (block).
 * Returns DLP_PASS, DLP_BLOCKED, or -1 when out of memory (out may then hold
 * part of the output: give up on the response). */
int dlp_feed(struct dlp *d, const char *p, size_t n, struct buf *out);
/* The body ended: decides what was held back and appends the rest.  Over
 * the whole body, out has received exactly as many bytes as were fed,
 * unless the verdict is DLP_BLOCKED. */
int dlp_finish(struct dlp *d, struct buf *out);

/* Bytes fed but not yet emitted (at most DLP_HOLD_MAX, except in DLP_BLOCK
 * mode before its verdict, which holds the whole body). */
size_t dlp_held(const struct dlp *d);
/* Matches of type t so far; all types. */
unsigned dlp_count(const struct dlp *d, enum dlp_type t);
unsigned dlp_total(const struct dlp *d);
/* After DLP_BLOCKED: why, e.g. "card number in the response body" or
 * "response body over the DLP block limit"; NULL before. */
const char *dlp_why(const struct dlp *d);
/* Appends the counts as "card=2 ssn=1" (types with no match left out;
 * "none" when nothing matched), for logs and the step-6 event. */
int dlp_summary(const struct dlp *d, struct buf *out);

#endif
