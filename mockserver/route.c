/*
 * route.c - the pure part of mockserver: which endpoint a request target
 * names, query strings, the Luhn check behind /leak's fake card numbers.
 * No I/O here, so tests/unit/test_mockserver_route.c can feed it anything.
 */
#include "mockserver.h"

#include <string.h>

/* A decimal number in s[0..len) within [min, max], digits only. */
static bool parse_num(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool query_get(const char *query, size_t qlen, const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = query, *end = query + qlen;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		const char *kend = eq ? eq : stop;
		if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0) {
			*val = eq ? eq + 1 : stop;
			*len = (size_t)(stop - *val);
			return true;
		}
		p = stop + (amp ? 1 : 0);
	}
	return false;
}

/* Reads query parameter key as a number in [min, max] into *out (left as
 * it is when absent).  Returns false if present but not such a number. */
static bool query_num(const char *q, size_t qlen, const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *v;
	size_t len;
	if (!query_get(q, qlen, key, &v, &len))
		return true;
	return parse_num(v, len, min, max, out);
}

/* The path after prefix, if path starts with prefix. */
static bool after(const char *path, size_t len, const char *prefix, const char **rest, size_t *rest_len)
{
	size_t plen = strlen(prefix);
	if (len < plen || memcmp(path, prefix, plen) != 0)
		return false;
	*rest = path + plen;
	*rest_len = len - plen;
	return true;
}

static bool is(const char *path, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(path, name, len) == 0;
}

static void bad(struct route *r, const char *why)
{
	r->ep = EP_BAD;
	r->why = why;
}

void route_parse(const char *target, struct route *r)
{
	memset(r, 0, sizeof(*r));
	const char *t = target;
	/* Absolute form, as a forward proxy would send it: skip scheme://authority.
	 * Without a path ("http://h?x=1") the path is "/" and the query stays. */
	const char *scheme = strstr(t, "://");
	bool absolute = t[0] != '/' && scheme != NULL && (size_t)(scheme - t) <= 5;
	if (absolute)
		t = scheme + 3 + strcspn(scheme + 3, "/?#");
	size_t path_len = strcspn(t, "?#");
	const char *q = "";
	size_t qlen = 0;
	if (t[path_len] == '?') {
		q = t + path_len + 1;
		qlen = strcspn(q, "#");
	}
	r->path = t;
	r->path_len = path_len;
	r->ep = EP_NOT_FOUND;

	const char *rest;
	size_t rl;
	if (is(t, path_len, "/") || (absolute && path_len == 0))
		r->ep = EP_HELLO;
	else if (after(t, path_len, "/status/", &rest, &rl))
		r->ep = parse_num(rest, rl, 200, 599, &r->n) ? EP_STATUS : (bad(r, "status must be 200-599"), EP_BAD);
	else if (after(t, path_len, "/delay/", &rest, &rl))
		r->ep = parse_num(rest, rl, 0, MAX_DELAY_MS, &r->n) ? EP_DELAY : (bad(r, "delay must be 0-600000 ms"), EP_BAD);
	else if (is(t, path_len, "/echo"))
		r->ep = EP_ECHO;
	else if (after(t, path_len, "/bytes/", &rest, &rl))
		r->ep = parse_num(rest, rl, 0, MAX_BODY_BYTES, &r->n) ? EP_BYTES : (bad(r, "bytes must be 0-1073741824"), EP_BAD);
	else if (after(t, path_len, "/chunked/", &rest, &rl)) {
		r->size = DEFAULT_CHUNK;
		if (!parse_num(rest, rl, 0, MAX_BODY_BYTES, &r->n))
			bad(r, "bytes must be 0-1073741824");
		else if (!query_num(q, qlen, "size", 1, MAX_CHUNK, &r->size))
			bad(r, "size must be 1-1048576");
		else
			r->ep = EP_CHUNKED;
	} else if (is(t, path_len, "/drip")) {
		r->n = DEFAULT_DRIP_BYTES;
		r->ms = DEFAULT_DRIP_MS;
		if (!query_num(q, qlen, "bytes", 0, MAX_DRIP_BYTES, &r->n))
			bad(r, "bytes must be 0-1048576");
		else if (!query_num(q, qlen, "ms", 0, MAX_DRIP_MS, &r->ms))
			bad(r, "ms must be 0-60000");
		else
			r->ep = EP_DRIP;
	} else if (is(t, path_len, "/leak")) {
		uint64_t chunked = 0;
		if (!query_num(q, qlen, "chunked", 0, 1, &chunked))
			bad(r, "chunked must be 0 or 1");
		else if (!query_num(q, qlen, "split", 1, MAX_LEAK_SPLIT, &r->n))
			bad(r, "split must be 1-64");
		else if (!query_num(q, qlen, "ms", 0, MAX_DRIP_MS, &r->ms))
			bad(r, "ms must be 0-60000");
		else
			r->ep = EP_LEAK;
		r->chunked = chunked == 1;
	}
	else if (after(t, path_len, "/headers/", &rest, &rl))
		r->ep = parse_num(rest, rl, 0, MAX_HEADERS, &r->n) ? EP_HEADERS : (bad(r, "headers must be 0-10000"), EP_BAD);
	else if (is(t, path_len, "/close"))
		r->ep = EP_CLOSE;
	else if (is(t, path_len, "/drop"))
		r->ep = EP_DROP;
	else if (is(t, path_len, "/reset"))
		r->ep = EP_RESET;
	else if (is(t, path_len, "/hang"))
		r->ep = EP_HANG;
	else if (is(t, path_len, "/stats"))
		r->ep = EP_STATS;
	else if (is(t, path_len, "/health"))
		r->ep = EP_HEALTH;
	else if (after(t, path_len, "/raw/", &rest, &rl)) {
		const char *v;
		size_t vl;
		bool how = query_get(q, qlen, "close", &v, &vl);
		if (!raw_name_ok(rest, rl)) {
			bad(r, "FILE must be a plain file name");
		} else if (how && !(vl == 3 && memcmp(v, "fin", 3) == 0) && !(vl == 5 && memcmp(v, "reset", 5) == 0)) {
			bad(r, "close must be fin or reset");
		} else {
			r->ep = EP_RAW;
			r->file = rest;
			r->file_len = rl;
			r->reset = how && vl == 5;
		}
	}
}

bool luhn_valid(const char *s)
{
	/* From the rightmost digit, double every second one; the sum of the
	 * digits of the results is a multiple of 10 for a valid number. */
	size_t n = strlen(s), digits = 0;
	unsigned sum = 0;
	for (size_t i = n; i-- > 0;) {
		if (s[i] == ' ' || s[i] == '-')
			continue;
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (digits++ % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return digits >= 2 && sum % 10 == 0;
}

bool raw_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > 255 || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == '\0' || name[i] == '\\' || name[i] == '%')
			return false;
	return true;
}

/* Published test numbers of the card networks (Visa, Mastercard, Amex,
 * Discover): they pass Luhn and belong to nobody. */
const char *const leak_cards[] = {
	"4111 1111 1111 1111",
	"4012 8888 8888 1881",
	"5555 5555 5555 4444",
	"5105 1051 0510 5100",
	"3782 822463 10005",
	"6011 1111 1111 1117",
	NULL,
};

/* Well-formed SSNs that belong to nobody: 078-05-1120 was printed on a
 * sample card sold in wallets and voided, 219-09-9999 appeared in an
 * advertisement, 123-45-6789 is everybody's placeholder. */
const char *const leak_ssns[] = {
	"078-05-1120",
	"219-09-9999",
	"123-45-6789",
	NULL,
};

/* The example key id and secret access key of the AWS documentation. */
const char *const leak_api_key = "AKIAIOSFODNN7EXAMPLE";
const char *const leak_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/* Text that looks like the above and is not: a data-leak filter must let
 * it through untouched.  Pairs of (what, text). */
const char *const leak_near_misses[] = {
	"card number failing the Luhn check", "4111 1111 1111 1112",
	"Luhn-valid, but no card network starts with 9", "9111 1111 1111 1003",
	"order number of 20 digits", "41111111111111111115",
	"date", "2024-03-15",
	"timestamp", "2024-03-15T10:30:00.123Z",
	"Unix time in milliseconds", "1710498600009",
	"phone number", "+1 415-555-0132",
	"phone number, international form", "+4915123456787",
	"ISBN", "978-0-596-52068-7",
	"version", "v4.1.1.1111",
	"SSN-shaped, area 666 (never issued)", "666-12-3456",
	"SSN-shaped, area 9xx (never issued)", "912-34-5678",
	"SSN-shaped, group 00 (never issued)", "123-00-4567",
	"nine digits without dashes", "078051120",
	"AWS-like key id, one character short", "AKIAIOSFODNN7EXAMPL",
	"API key placeholder", "api_key=YOUR_API_KEY_HERE",
	NULL,
};
