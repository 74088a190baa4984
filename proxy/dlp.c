/*
 * dlp.c - STEP 6: data-leak prevention on response bodies (dlp.h says how
 * the proxy drives it).  What counts as a match:
 *
 * Card number: 13 to 19 digits that are a whole number, not a piece of a
 *   longer one: unbroken, or grouped by single spaces or single dashes (the
 *   same one throughout) as 4-4-4-4, 4-4-4-4-3, 4-4-4-1..4 or 4-6-5/4-6-4
 *   (American Express, Diners).  The first digits and the length must be a
 *   network's (Visa 4: 13, 16, 19; Mastercard 51-55, 2221-2720: 16; Amex
 *   34, 37: 15; Discover 6011, 644-649, 65; UnionPay 62; JCB 3528-3589;
 *   Diners 300-305, 3095, 36, 38-39; Mir 2200-2204; Maestro; RuPay 60, 508),
 *   and the Luhn check must pass.  Not after a letter, '_', '+' (a phone
 *   number) or "digit." (a decimal), not before a letter or ".digit".  A
 *   group sequence that goes on (4111 1111 1111 1111 2222) is looked at in
 *   aligned windows; the longest valid one from each start wins.
 * SSN: AAA-GG-SSSS or AAA GG SSSS (one separator, the same twice), not part
 *   of a longer chain with that separator, with the Social Security
 *   Administration's structural rules: area not 000, 666 or 900-999, group
 *   not 00, serial not 0000.  Nine digits with no separator are not taken
 *   for an SSN: order numbers, ZIP+4 codes and routing numbers look the same.
 * AWS access key id: AKIA or ASIA and 16 capitals or digits, as a word.
 * Generic secret: a value assigned to a key whose name ends in a secret's
 *   name (api_key, apiKey, x-api-key, client_secret, secret_key, password,
 *   passwd, private_key, access_key, access_token, auth_token,
 *   refresh_token, api_token; case, '_', '-' and '.' ignored) by ':' or
 *   '=', as in JSON, YAML, query strings, HTML attributes and .env files;
 *   the value (quotes optional) is 16 to DLP_SECRET_MAX characters of
 *   [A-Za-z0-9+/=_.~-], with a letter and a digit, and at least 3 bits of
 *   Shannon entropy per character (so "YOUR_API_KEY_HERE" and
 *   "changeme-changeme" are not secrets).
 * When two matches could start at the same byte, the first type above wins;
 * matches never overlap.
 *
 * Masking replaces digits (card, SSN) or characters (keys, secrets) with '*'
 * but the last four: "**** **** **** 1111", "***-**-1120".  It keeps the
 * length, not the syntax: a card written as a bare JSON number becomes
 * ************1111, which a JSON parser refuses (the data does not leak).
 *
 * How it streams: the body goes through a window, win[0..len): first up to
 * CTX bytes already emitted (the context the matchers look back at: "is
 * this digit after a letter?", "is this value after api_key=?"), then the
 * undecided bytes.  Each round tries the matchers at every position where
 * one may start; a matcher that runs out of bytes says MORE, and the round
 * stops there: everything before is final and emitted, the rest is held
 * for the next piece.  A matcher never reads more than DLP_HOLD_MAX bytes
 * from where it starts, so that is the most ever held back.
 */
#include "dlp.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CTX    64                          /* bytes kept before the undecided ones */
#define SLICE  4096                        /* new bytes scanned per round           */
#define WIN    (CTX + DLP_HOLD_MAX + SLICE)
#define SECRET_MIN      16
#define SECRET_ENTROPY  3.0                /* bits per character                    */

/* What a matcher says about a position. */
enum { NO, MATCH, MORE };

/* peek() past the last byte: the body ended (END) or more may come (NEED). */
#define END   (-1)
#define NEED  (-2)

struct text {
	const unsigned char *p;
	size_t n;
	bool eof;
};

struct hit {
	enum dlp_type type;
	size_t end;                   /* the match is p[s..end)                     */
};

enum dlp_state { ST_STREAM, ST_HOLDING, ST_BLOCKED };

struct dlp {
	struct dlp_config cfg;
	enum dlp_state state;
	unsigned trig;                /* trigger classes of the enabled types      */
	uint64_t fed;                 /* body bytes fed                            */
	uint64_t decided;             /* body bytes decided (win[ctx] is the next) */
	size_t ctx, len;
	unsigned found[DLP_NTYPES];
	const char *why;
	struct buf hold;              /* DLP_BLOCK: the body until the verdict     */
	unsigned char win[WIN];
};

static_assert(CTX >= 2 + 8 + 1 + 8 + 2 + 32, "CTX covers the secret matcher's look-back");

/* ---- character classes ------------------------------------------------- */

/* A position s may start a match of some kind when the class bits of p[s]
 * and those of p[s-1] (index 256: nothing before) share one: */
enum {
	T_NUM = 1,     /* card, SSN: a digit, not after a digit                  */
	T_AWS = 2,     /* 'A', not after a letter or digit                       */
	T_VAL = 4,     /* a secret's value character after a quote, : or =       */
	T_GAP = 8,     /* the same after a blank: a secret's only if the blanks
	                * follow a quote, : or = (checked in scan_round)         */
};
static unsigned char cur_cls[256], prev_cls[257];

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static bool is_alpha(int c) { return is_upper(c) || (c >= 'a' && c <= 'z'); }
static bool is_alnum(int c) { return is_digit(c) || is_alpha(c); }
static bool is_blank(int c) { return c == ' ' || c == '\t'; }
static bool is_quote(int c) { return c == '"' || c == '\''; }
static bool is_value(int c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '.' || c == '~';
}

static void tables_init(void)
{
	static bool done;
	if (done)
		return;
	for (int c = 0; c < 256; c++) {
		cur_cls[c] = (unsigned char)((is_digit(c) ? T_NUM : 0) | (c == 'A' ? T_AWS : 0) | (is_value(c) ? T_VAL | T_GAP : 0));
		prev_cls[c] = (unsigned char)((is_digit(c) ? 0 : T_NUM) | (is_alnum(c) ? 0 : T_AWS) |
		                              (is_quote(c) || c == ':' || c == '=' ? T_VAL : 0) | (is_blank(c) ? T_GAP : 0));
	}
	prev_cls[256] = T_NUM | T_AWS;   /* the body's first byte: no key before it */
	done = true;
}

/* The byte k before s.  Before the window means before the body (the
 * window keeps CTX bytes of context otherwise): END. */
static int back(const struct text *t, size_t s, size_t k)
{
	return k > s ? END : t->p[s - k];
}

static int peek(const struct text *t, size_t i)
{
	if (i < t->n)
		return t->p[i];
	return t->eof ? END : NEED;
}

/* ---- numbers: cards and SSNs ------------------------------------------- */

/* A number may start at s (a digit after a non-digit): not inside a word,
 * not a phone number's "+", not the decimals of "3.14". */
static bool number_starts(const struct text *t, size_t s)
{
	int b1 = back(t, s, 1);
	if (is_alnum(b1) || b1 == '_' || b1 == '+')
		return false;
	return !(b1 == '.' && is_digit(back(t, s, 2)));
}

/* A number may end before c, c2: not inside a word, not before decimals. */
static bool number_ends(int c, int c2)
{
	if (is_alnum(c) || c == '_')
		return false;
	return !(c == '.' && is_digit(c2));
}

#define LEN(n)        (1u << (n))
#define LENS(a, b)    ((LEN((b) + 1) - 1) & ~(LEN(a) - 1))

/* Issuer prefixes: the first ndigits digits within [lo, hi], and the card
 * lengths (bit n: n digits) the network issues. */
static const struct issuer {
	unsigned lo, hi, ndigits;
	uint32_t lens;
} issuers[] = {
	{ 4, 4, 1, LEN(13) | LEN(16) | LEN(19) },   /* Visa                          */
	{ 51, 55, 2, LEN(16) },                     /* Mastercard                    */
	{ 2221, 2720, 4, LEN(16) },                 /* Mastercard (2-series)         */
	{ 34, 34, 2, LEN(15) },                     /* American Express              */
	{ 37, 37, 2, LEN(15) },
	{ 6011, 6011, 4, LENS(16, 19) },            /* Discover                      */
	{ 644, 649, 3, LENS(16, 19) },
	{ 65, 65, 2, LENS(16, 19) },
	{ 62, 62, 2, LENS(16, 19) },                /* UnionPay                      */
	{ 3528, 3589, 4, LENS(16, 19) },            /* JCB                           */
	{ 300, 305, 3, LENS(14, 19) },              /* Diners Club                   */
	{ 3095, 3095, 4, LENS(14, 19) },
	{ 36, 36, 2, LENS(14, 19) },
	{ 38, 39, 2, LENS(16, 19) },
	{ 2200, 2204, 4, LENS(16, 19) },            /* Mir                           */
	{ 5018, 5018, 4, LENS(13, 19) },            /* Maestro                       */
	{ 5020, 5020, 4, LENS(13, 19) },
	{ 5038, 5038, 4, LENS(13, 19) },
	{ 5893, 5893, 4, LENS(13, 19) },
	{ 6304, 6304, 4, LENS(13, 19) },
	{ 6759, 6759, 4, LENS(13, 19) },
	{ 6761, 6763, 4, LENS(13, 19) },
	{ 60, 60, 2, LEN(16) },                     /* RuPay                         */
	{ 508, 508, 3, LEN(16) },
};

static bool issuer_ok(const unsigned char *dig, size_t n)
{
	for (size_t i = 0; i < sizeof(issuers) / sizeof(issuers[0]); i++) {
		const struct issuer *is = &issuers[i];
		unsigned v = 0;
		for (size_t k = 0; k < is->ndigits; k++)
			v = v * 10 + dig[k];
		if (v >= is->lo && v <= is->hi && (is->lens & LEN(n)))
			return true;
	}
	return false;
}

/* From the last digit, double every second one; the digits' sum must be a
 * multiple of 10. */
static bool luhn_ok(const unsigned char *dig, size_t n)
{
	unsigned sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = dig[n - 1 - i];
		if (i % 2 == 1)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	return sum % 10 == 0;
}

/* Group sizes g[0..k) of a card: 13-19 unbroken, 4-6-4/5, or fours with a
 * last group of 1 to 4. */
static bool layout_ok(const size_t *g, size_t k)
{
	if (k == 1)
		return g[0] >= 13 && g[0] <= 19;
	if (k == 3 && g[0] == 4 && g[1] == 6)
		return g[2] == 4 || g[2] == 5;
	if (k < 4)
		return false;
	for (size_t i = 0; i + 1 < k; i++)
		if (g[i] != 4)
			return false;
	return g[k - 1] >= 1 && g[k - 1] <= 4;
}

static int match_card(const struct text *t, size_t s, struct hit *h)
{
	unsigned char dig[19];
	size_t grp[5], end[5], ng = 0, nd = 0, i = s;
	int sep = 0, c;
	if (!number_starts(t, s))
		return NO;
	/* Read groups: as many as a layout may have, 19 digits at most. */
	for (;;) {
		size_t g = 0;
		bool too_long = false;
		while (is_digit(c = peek(t, i))) {
			if (nd + g == sizeof(dig)) {
				too_long = true;
				break;
			}
			dig[nd + g++] = (unsigned char)(c - '0');
			i++;
		}
		if (c == NEED)
			return MORE;
		if (too_long)
			break;        /* this group cannot be part of a card */
		grp[ng] = g;
		end[ng++] = i;
		nd += g;
		if (ng == 1 && g != 4)
			break;        /* unbroken, or no layout starts so */
		if (ng == 5)
			break;
		if (!((c == ' ' || c == '-') && (sep == 0 || c == sep)))
			break;
		int c2 = peek(t, i + 1);
		if (c2 == NEED)
			return MORE;
		if (!is_digit(c2))
			break;
		sep = c;
		i++;
	}
	/* The longest valid candidate wins. */
	for (size_t k = ng; k > 0; k--) {
		size_t n = 0;
		for (size_t j = 0; j < k; j++)
			n += grp[j];
		if (n < 13 || n > 19 || !layout_ok(grp, k) || !issuer_ok(dig, n) || !luhn_ok(dig, n))
			continue;
		int a = peek(t, end[k - 1]), b = a == '.' ? peek(t, end[k - 1] + 1) : END;
		if (a == NEED || b == NEED)
			return MORE;
		if (!number_ends(a, b))
			continue;
		h->type = DLP_CARD;
		h->end = end[k - 1];
		return MATCH;
	}
	return NO;
}

static int match_ssn(const struct text *t, size_t s, struct hit *h)
{
	unsigned v[3] = { 0, 0, 0 };
	int sep = 0;
	if (!number_starts(t, s))
		return NO;
	/* "ddd-dd-dddd": fields 0, 1, 2 between the separators at 3 and 6. */
	for (size_t k = 0, f = 0; k < 11; k++) {
		int c = peek(t, s + k);
		if (c == NEED)
			return MORE;
		if (k == 3 || k == 6) {
			if (k == 3 ? c != '-' && c != ' ' : c != sep)
				return NO;
			sep = c;
			f++;
		} else if (is_digit(c)) {
			v[f] = v[f] * 10 + (unsigned)(c - '0');
		} else {
			return NO;
		}
	}
	int a = peek(t, s + 11), b = a == '.' || a == sep ? peek(t, s + 12) : END;
	if (a == NEED || b == NEED)
		return MORE;
	if (is_digit(a) || !number_ends(a, b) || (a == sep && is_digit(b)))
		return NO;
	if (back(t, s, 1) == sep && is_digit(back(t, s, 2)))
		return NO;   /* the end of a longer chain: 1-234-56-7890 */
	if (v[0] == 0 || v[0] == 666 || v[0] >= 900 || v[1] == 0 || v[2] == 0)
		return NO;
	h->type = DLP_SSN;
	h->end = s + 11;
	return MATCH;
}

/* ---- keys ---------------------------------------------------------------- */

static int match_aws(const struct text *t, size_t s, struct hit *h)
{
	for (size_t k = 0; k <= 20; k++) {
		int c = peek(t, s + k);
		if (c == NEED)
			return MORE;
		bool ok;
		switch (k) {
		case 0: case 3: ok = c == 'A'; break;
		case 1:         ok = c == 'K' || c == 'S'; break;
		case 2:         ok = c == 'I'; break;
		case 20:        ok = !is_alnum(c); break;
		default:        ok = is_upper(c) || is_digit(c); break;
		}
		if (!ok)
			return NO;
	}
	h->type = DLP_AWS_KEY;
	h->end = s + 20;
	return MATCH;
}

/* Names that end a secret's key, lower case, without '_', '-' or '.'. */
#define NAME(s) { s, sizeof(s) - 1 }
static const struct { const char *s; size_t n; } secret_names[] = {
	NAME("apikey"), NAME("apitoken"), NAME("accesskey"), NAME("accesstoken"), NAME("authtoken"),
	NAME("refreshtoken"), NAME("secret"), NAME("secretkey"), NAME("privatekey"), NAME("password"),
	NAME("passwd"),
};
#define NAME_MAX_LEN 12

/* Look-back helpers: the distance k back from s past a quote (or an
 * escaped one, \"), past up to 8 blanks. */
static size_t skip_quote(const struct text *t, size_t s, size_t k)
{
	if (is_quote(back(t, s, k)))
		k += back(t, s, k + 1) == '\\' ? 2 : 1;
	return k;
}

static size_t skip_blanks(const struct text *t, size_t s, size_t k)
{
	for (int n = 0; n < 8 && is_blank(back(t, s, k)); n++)
		k++;
	return k;
}

/* Is s (a value character) the start of a value assigned to a secret's
 * key?  Looks back over: quote, blanks, ':' or '=', blanks, quote, key. */
static bool after_secret_key(const struct text *t, size_t s)
{
	size_t k = skip_blanks(t, s, skip_quote(t, s, 1));
	if (back(t, s, k) != ':' && back(t, s, k) != '=')
		return false;
	k = skip_quote(t, s, skip_blanks(t, s, k + 1));
	/* The key's last letters and digits, lower case, backwards.  Every
	 * name ends in d, n, t or y: most keys ("name", "id") stop there. */
	char rev[NAME_MAX_LEN];
	size_t n = 0;
	for (int steps = 0; steps < 32 && n < sizeof(rev); steps++, k++) {
		int c = back(t, s, k);
		if (is_alnum(c))
			rev[n++] = (char)(is_upper(c) ? c - 'A' + 'a' : c);
		else if (c != '_' && c != '-' && c != '.')
			break;
		if (n == 1 && rev[0] != 'd' && rev[0] != 'n' && rev[0] != 't' && rev[0] != 'y')
			return false;
	}
	for (size_t i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++) {
		size_t len = secret_names[i].n, j = 0;
		while (j < len && j < n && rev[j] == secret_names[i].s[len - 1 - j])
			j++;
		if (j == len)
			return true;
	}
	return false;
}

/* Shannon entropy of p[0..n), bits per character. */
static double entropy(const unsigned char *p, size_t n)
{
	unsigned count[256] = { 0 };
	double h = 0;
	for (size_t i = 0; i < n; i++)
		count[p[i]]++;
	for (size_t c = 0; c < 256; c++)
		if (count[c] > 0) {
			double q = (double)count[c] / (double)n;
			h -= q * log2(q);
		}
	return h;
}

static int match_secret(const struct text *t, size_t s, struct hit *h)
{
	if (!after_secret_key(t, s))
		return NO;
	size_t i = s;
	int c = END;
	while (i - s <= DLP_SECRET_MAX && is_value(c = peek(t, i)))
		i++;
	if (c == NEED)
		return MORE;
	while (i > s && t->p[i - 1] == '.')
		i--;                 /* the end of a sentence */
	size_t n = i - s;
	if (n < SECRET_MIN || n > DLP_SECRET_MAX)
		return NO;
	bool letter = false, digit = false;
	for (size_t k = s; k < i; k++) {
		letter |= is_alpha(t->p[k]);
		digit |= is_digit(t->p[k]);
	}
	if (!letter || !digit || entropy(t->p + s, n) < SECRET_ENTROPY)
		return NO;
	h->type = DLP_SECRET;
	h->end = i;
	return MATCH;
}

typedef int matcher(const struct text *t, size_t s, struct hit *h);

/* Tries the matchers that may start at s (trigger classes m) in order of
 * precedence.  The first that does not say NO decides: its MATCH wins, its
 * MORE makes the rest wait (a later match could lose to it). */
static int match_at(const struct dlp *d, const struct text *t, size_t s, unsigned m, struct hit *h)
{
	matcher *try[4];
	size_t n = 0;
	if (m & T_NUM) {
		/* A card's first group has 4 or 13-19 digits, an SSN's 3: most
		 * numbers (prices, ids, dates) stop here. */
		size_t g = 0;
		int c;
		while (g < 20 && is_digit(c = peek(t, s + g)))
			g++;
		if (g < 20 && c == NEED)
			return MORE;
		if ((g == 4 || (g >= 13 && g <= 19)) && (d->cfg.types & DLP_TYPE_BIT(DLP_CARD)))
			try[n++] = match_card;
		if (g == 3 && (d->cfg.types & DLP_TYPE_BIT(DLP_SSN)))
			try[n++] = match_ssn;
	}
	if (m & T_AWS)
		try[n++] = match_aws;
	if (m & T_VAL)
		try[n++] = match_secret;
	for (size_t i = 0; i < n; i++) {
		int r = try[i](t, s, h);
		if (r != NO)
			return r;
	}
	return NO;
}

/* ---- the stream ------------------------------------------------------------ */

/* '*' for every digit (card, SSN) or character but the last four. */
static void mask(char *p, size_t n, bool digits_only)
{
	size_t keep = 4;
	for (size_t i = n; i-- > 0;) {
		if (digits_only && !is_digit(p[i]))
			continue;
		if (keep > 0)
			keep--;
		else
			p[i] = '*';
	}
}

/* Appends win[a..b) to out, masked as type t (DLP_NTYPES: as it is).  The
 * window is only read: the matchers always see the body's own bytes. */
static int emit(struct dlp *d, struct buf *out, size_t a, size_t b, enum dlp_type t)
{
	if (b == a || d->state != ST_STREAM || d->cfg.mode == DLP_DETECT)
		return 0;   /* detect and block send the bytes as they were fed */
	size_t at = buf_len(out);
	if (buf_append(out, d->win + a, b - a) < 0)
		return -1;
	if (t != DLP_NTYPES)
		mask(buf_begin(out) + at, b - a, t == DLP_CARD || t == DLP_SSN);
	return 0;
}

static void block(struct dlp *d, const char *why)
{
	d->state = ST_BLOCKED;
	d->why = why;
	buf_free(&d->hold);
}

static const char *const found_why[DLP_NTYPES] = {
	[DLP_CARD] = "card number in the response body",
	[DLP_SSN] = "social security number in the response body",
	[DLP_AWS_KEY] = "AWS access key id in the response body",
	[DLP_SECRET] = "secret (API key, password or token) in the response body",
};

/* Decides what can be decided in win[ctx..len), emits it, and keeps CTX
 * bytes of context before what is still undecided. */
static int scan_round(struct dlp *d, bool eof, struct buf *out)
{
	const struct text t = { d->win, d->len, eof };
	const unsigned char *w = d->win;
	const size_t len = d->len;
	const unsigned trig = d->trig;
	size_t s = d->ctx, from = d->ctx;
	int prev = s > 0 ? w[s - 1] : 256;
	while (s < len) {
		/* The hot loop: most bytes start nothing. */
		unsigned m = cur_cls[w[s]] & prev_cls[prev] & trig;
		if (m & T_GAP) {
			int c = back(&t, s, skip_blanks(&t, s, 1));
			m = (m & ~(unsigned)T_GAP) | (is_quote(c) || c == ':' || c == '=' ? T_VAL : 0);
		}
		struct hit h;
		int r = m ? match_at(d, &t, s, m, &h) : NO;
		if (r == MORE)
			break;
		if (r == NO) {
			prev = w[s++];
			continue;
		}
		d->found[h.type]++;
		if (d->state == ST_HOLDING) {
			block(d, found_why[h.type]);
			return 0;
		}
		if (emit(d, out, from, s, DLP_NTYPES) < 0 || emit(d, out, s, h.end, h.type) < 0)
			return -1;
		from = s = h.end;
		prev = w[s - 1];
	}
	if (emit(d, out, from, s, DLP_NTYPES) < 0)
		return -1;
	d->decided += s - d->ctx;
	size_t drop = s > CTX ? s - CTX : 0;
	memmove(d->win, d->win + drop, d->len - drop);
	d->len -= drop;
	d->ctx = s - drop;
	assert(d->len - d->ctx <= DLP_HOLD_MAX);
	assert(!eof || d->len == d->ctx);
	return 0;
}

struct dlp *dlp_new(const struct dlp_config *cfg)
{
	struct dlp *d = malloc(sizeof(*d));
	if (d == NULL)
		return NULL;
	tables_init();
	memset(d, 0, offsetof(struct dlp, win));
	d->cfg = *cfg;
	d->hold = (struct buf)BUF_INIT;
	d->state = cfg->mode == DLP_BLOCK ? ST_HOLDING : ST_STREAM;
	unsigned ty = cfg->types;
	d->trig = (ty & (DLP_TYPE_BIT(DLP_CARD) | DLP_TYPE_BIT(DLP_SSN)) ? T_NUM : 0) |
	          (ty & DLP_TYPE_BIT(DLP_AWS_KEY) ? T_AWS : 0) | (ty & DLP_TYPE_BIT(DLP_SECRET) ? T_VAL | T_GAP : 0);
	return d;
}

void dlp_free(struct dlp *d)
{
	if (d == NULL)
		return;
	buf_free(&d->hold);
	free(d);
}

int dlp_feed(struct dlp *d, const char *p, size_t n, struct buf *out)
{
	if (d->state == ST_BLOCKED)
		return DLP_BLOCKED;
	if (d->state == ST_HOLDING && buf_len(&d->hold) + n > d->cfg.block_limit) {
		if (d->cfg.block_over_limit) {
			block(d, "response body over the DLP block limit");
			return DLP_BLOCKED;
		}
		/* Send what is decided; from here on, mask. */
		if (buf_append(out, buf_begin(&d->hold), (size_t)d->decided) < 0)
			return -1;
		buf_free(&d->hold);
		d->state = ST_STREAM;
		d->cfg.mode = DLP_MASK;
	}
	if (d->state == ST_HOLDING && buf_append(&d->hold, p, n) < 0)
		return -1;
	if (d->cfg.mode == DLP_DETECT && buf_append(out, p, n) < 0)
		return -1;
	d->fed += n;
	while (n > 0) {
		size_t take = WIN - d->len;
		if (take > n)
			take = n;
		memcpy(d->win + d->len, p, take);
		d->len += take;
		p += take;
		n -= take;
		if (scan_round(d, false, out) < 0)
			return -1;
		if (d->state == ST_BLOCKED)
			return DLP_BLOCKED;
	}
	return DLP_PASS;
}

int dlp_finish(struct dlp *d, struct buf *out)
{
	if (d->state == ST_BLOCKED)
		return DLP_BLOCKED;
	if (scan_round(d, true, out) < 0)
		return -1;
	if (d->state == ST_BLOCKED)
		return DLP_BLOCKED;
	if (d->state == ST_HOLDING) {
		if (buf_append(out, buf_begin(&d->hold), buf_len(&d->hold)) < 0)
			return -1;
		buf_free(&d->hold);
		d->state = ST_STREAM;
	}
	return DLP_PASS;
}

size_t dlp_held(const struct dlp *d)
{
	switch (d->state) {
	case ST_HOLDING:
		return buf_len(&d->hold);
	case ST_BLOCKED:
		return 0;
	case ST_STREAM:
		return d->cfg.mode == DLP_DETECT ? 0 : (size_t)(d->fed - d->decided);
	}
	return 0;
}

unsigned dlp_count(const struct dlp *d, enum dlp_type t) { return d->found[t]; }

unsigned dlp_total(const struct dlp *d)
{
	unsigned n = 0;
	for (int t = 0; t < DLP_NTYPES; t++)
		n += d->found[t];
	return n;
}

const char *dlp_why(const struct dlp *d) { return d->why; }

int dlp_summary(const struct dlp *d, struct buf *out)
{
	int r = 0;
	bool any = false;
	for (int t = 0; t < DLP_NTYPES && r == 0; t++) {
		if (d->found[t] == 0)
			continue;
		r = buf_cat(out, any ? " " : "", dlp_type_name((enum dlp_type)t), "=", NULL);
		if (r == 0)
			r = buf_put_uint(out, d->found[t]);
		any = true;
	}
	return r == 0 && !any ? buf_puts(out, "none") : r;
}

/* ---- configuration and scope ----------------------------------------------- */

static const char *const mode_names[] = { "off", "detect", "mask", "block" };
static const char *const type_names[DLP_NTYPES] = { "card", "ssn", "aws-key", "secret" };

void dlp_config_init(struct dlp_config *cfg)
{
	*cfg = (struct dlp_config){ .mode = DLP_OFF, .types = DLP_ALL_TYPES, .block_limit = DLP_BLOCK_LIMIT_DEFAULT };
}

int dlp_mode_parse(const char *s, enum dlp_mode *out)
{
	for (int m = DLP_OFF; m <= DLP_BLOCK; m++)
		if (strcmp(s, mode_names[m]) == 0) {
			*out = (enum dlp_mode)m;
			return 0;
		}
	return -1;
}

const char *dlp_mode_name(enum dlp_mode m) { return mode_names[m]; }

const char *dlp_type_name(enum dlp_type t) { return type_names[t]; }

int dlp_types_parse(const char *s, unsigned *out)
{
	unsigned set = 0;
	const char *p = s;
	if (strcmp(s, "all") == 0) {
		*out = DLP_ALL_TYPES;
		return 0;
	}
	for (;;) {
		size_t len = strcspn(p, ","), t = 0;
		while (t < DLP_NTYPES && !(strlen(type_names[t]) == len && strncmp(p, type_names[t], len) == 0))
			t++;
		if (t == DLP_NTYPES)
			return -1;
		set |= DLP_TYPE_BIT(t);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*out = set;
	return 0;
}

/* Is the media type (before any ';') one the scanner reads? */
static bool text_type(const char *v)
{
	size_t n = strcspn(v, ";");
	while (n > 0 && is_blank(v[n - 1]))
		n--;
	while (n > 0 && is_blank(*v)) {
		v++;
		n--;
	}
	static const char *const exact[] = { "application/json", "application/x-ndjson", "application/xml",
	                                     "application/javascript", "application/ecmascript" };
	if (n >= 5 && strncasecmp(v, "text/", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strlen(exact[i]) == n && strncasecmp(v, exact[i], n) == 0)
			return true;
	/* application/problem+json, application/xhtml+xml, ... */
	if (n > 12 && strncasecmp(v, "application/", 12) == 0)
		return (n >= 5 && strncasecmp(v + n - 5, "+json", 5) == 0) || (n >= 4 && strncasecmp(v + n - 4, "+xml", 4) == 0);
	return false;
}

enum dlp_scope dlp_scope(const struct dlp_config *cfg, const struct http_msg *resp, const char **why)
{
	const char *dummy;
	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (cfg->mode == DLP_OFF) {
		*why = "DLP is off";
		return DLP_SKIP;
	}
	/* One Content-Type that is not text: skip.  None, or several (which
	 * a client may read either way): scan. */
	size_t nct = 0;
	bool text = false;
	for (size_t i = 0; i < resp->nhdrs; i++)
		if (http_hdr_is(resp, i, "Content-Type")) {
			nct++;
			text = text_type(http_hdr_value(resp, i));
		}
	if (nct == 1 && !text) {
		*why = "not a text, HTML or JSON response";
		return DLP_SKIP;
	}
	/* Every coding of every Content-Encoding header must be identity. */
	for (size_t i = 0; i < resp->nhdrs; i++) {
		if (!http_hdr_is(resp, i, "Content-Encoding"))
			continue;
		const char *cur = http_hdr_value(resp, i), *el;
		size_t len;
		while ((el = http_list_next(&cur, &len)) != NULL)
			if (!(len == 8 && strncasecmp(el, "identity", 8) == 0)) {
				*why = "compressed response (Content-Encoding), which the DLP scanner cannot read";
				return cfg->block_unreadable ? DLP_UNREAD_BLOCK : DLP_UNREAD_PASS;
			}
	}
	return DLP_SCAN;
}
