/*
 * test_proxy_dlp.c - step 6, data-leak prevention (proxy/dlp.c): what is a
 * card number, an SSN, an AWS key or a secret and what only looks like one;
 * masking that keeps the length and the last four; the same output whatever
 * the pieces the body comes in (every split point, one byte at a time); the
 * hold-back bound; detect and block modes; which responses are scanned.
 */
#include <stdlib.h>
#include <string.h>

#include "../../proxy/dlp.h"
#include "../../proxy/proxy.h"
#include "rng.h"
#include "t.h"

/* main.c's process state, left out of unit tests (see test_proxy_lb.c). */
__attribute__((weak)) struct proxy P;

static struct dlp_config config(enum dlp_mode mode)
{
	struct dlp_config cfg;
	dlp_config_init(&cfg);
	cfg.mode = mode;
	return cfg;
}

/* The output of a whole body fed in pieces cut at cuts[0..ncuts) (offsets,
 * ascending), and its counts in *found (may be NULL).  Static storage. */
static const char *scan_cut(const struct dlp_config *cfg, const char *in, size_t len, const size_t *cuts,
                            size_t ncuts, unsigned *found, int *verdict)
{
	static struct buf out = BUF_INIT;
	struct dlp *d = dlp_new(cfg);
	size_t at = 0;
	int r = DLP_PASS;
	buf_clear(&out);
	for (size_t i = 0; i <= ncuts && r == DLP_PASS; i++) {
		size_t to = i < ncuts ? cuts[i] : len;
		r = dlp_feed(d, in + at, to - at, &out);
		at = to;
	}
	if (r == DLP_PASS)
		r = dlp_finish(d, &out);
	if (found != NULL)
		*found = dlp_total(d);
	if (verdict != NULL)
		*verdict = r;
	dlp_free(d);
	buf_append(&out, "", 1);
	return buf_begin(&out);
}

static const char *mask_of(const char *in)
{
	struct dlp_config cfg = config(DLP_MASK);
	return scan_cut(&cfg, in, strlen(in), NULL, 0, NULL, NULL);
}

/* A scanner in mode that has read in whole; the caller frees it. */
static struct dlp *scanned(enum dlp_mode mode, const char *in)
{
	struct dlp_config cfg = config(mode);
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	dlp_feed(d, in, strlen(in), &out);
	dlp_finish(d, &out);
	buf_free(&out);
	return d;
}

static unsigned found_in(const char *in)
{
	struct dlp_config cfg = config(DLP_MASK);
	unsigned n;
	scan_cut(&cfg, in, strlen(in), NULL, 0, &n, NULL);
	return n;
}

/* ---- what is masked ---------------------------------------------------- */

TEST(a_card_number_is_masked_but_its_last_four_digits)
{
	CHECK_STR(mask_of("card 4111 1111 1111 1111 ok"), "card **** **** **** 1111 ok");
	CHECK_STR(mask_of("4111-1111-1111-1111"), "****-****-****-1111");
	CHECK_STR(mask_of("<td>4111111111111111</td>"), "<td>************1111</td>");
	CHECK_STR(mask_of("{\"card\":\"5555555555554444\"}"), "{\"card\":\"************4444\"}");
}

TEST(every_network_and_layout_of_card_numbers_is_found)
{
	static const char *const cards[] = {
		"4111 1111 1111 1111",     /* Visa 16                */
		"4222222222222",           /* Visa 13                */
		"4000 0000 0000 0000 006", /* Visa 19, 4-4-4-4-3     */
		"5105 1051 0510 5100",     /* Mastercard             */
		"2221000000000009",        /* Mastercard 2-series    */
		"3782 822463 10005",       /* Amex, 4-6-5            */
		"3056 930902 5904",        /* Diners, 4-6-4          */
		"6011 0009 9013 9424",     /* Discover               */
		"3530111333300000",        /* JCB                    */
		"6200000000000005",        /* UnionPay               */
		"2200000000000004",        /* Mir                    */
	};
	for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
		char in[64];
		snprintf(in, sizeof(in), "[%s]", cards[i]);
		unsigned n = found_in(in);
		if (n != 1)
			printf("#   not found: %s\n", cards[i]);
		CHECK_INT(n, 1);
	}
	CHECK_STR(mask_of("3782 822463 10005"), "**** ****** *0005");
	CHECK_STR(mask_of("4000 0000 0000 0000 006"), "**** **** **** ***0 006");
}

TEST(an_ssn_is_masked_but_its_serial)
{
	CHECK_STR(mask_of("SSN: 078-05-1120."), "SSN: ***-**-1120.");
	CHECK_STR(mask_of("ssn 219 09 9999\n"), "ssn *** ** 9999\n");
	CHECK_STR(mask_of("2024-03-15 123-45-6789"), "2024-03-15 ***-**-6789");
}

TEST(an_aws_access_key_id_is_masked_but_its_last_four)
{
	CHECK_STR(mask_of("key AKIAIOSFODNN7EXAMPLE\n"), "key ****************MPLE\n");
	CHECK_STR(mask_of("\"ASIAY34FZKBOKMUTVV7A\""), "\"****************VV7A\"");
}

TEST(a_key_assigned_to_an_aws_name_counts_as_an_aws_key_not_a_secret)
{
	struct dlp *d = scanned(DLP_MASK, "<p>api_key=AKIAIOSFODNN7EXAMPLE</p>");
	CHECK_INT(dlp_count(d, DLP_AWS_KEY), 1);
	CHECK_INT(dlp_count(d, DLP_SECRET), 0);
	dlp_free(d);
}

TEST(generic_secrets_after_a_secret_name_are_masked)
{
	CHECK_STR(mask_of("api_key=Zx8Pq2Lm9Rt4Vw7Yb3Nc&x=1"), "api_key=****************b3Nc&x=1");
	CHECK_STR(mask_of("{\"client_secret\": \"a8f5f167f44f4964e6c998dee827110c\"}"),
	          "{\"client_secret\": \"****************************110c\"}");
	CHECK_STR(mask_of("password: S3cr3tP4ssw0rdXyZ!"), "password: *************dXyZ!");
	CHECK_STR(mask_of("<div data-api-key=\"kq93JfLw02mZpX7vTb\">"), "<div data-api-key=\"**************7vTb\">");
	CHECK_STR(mask_of("STRIPE_SECRET_KEY = 'sk9live4Xp2Qm8Rz1Lw5'"), "STRIPE_SECRET_KEY = '****************1Lw5'");
	CHECK_STR(mask_of("{\\\"apiKey\\\":\\\"Zx8Pq2Lm9Rt4Vw7Yb3Nc\\\"}"), "{\\\"apiKey\\\":\\\"****************b3Nc\\\"}");
	CHECK_STR(mask_of("secret: Zx8Pq2Lm9Rt4Vw7Yb3Nc."), "secret: ****************b3Nc.");
}

TEST(a_secret_may_be_as_long_as_DLP_SECRET_MAX_and_no_longer)
{
	char in[DLP_SECRET_MAX + 32], want[DLP_SECRET_MAX + 32];
	struct rng r;
	rng_seed(&r, 7);
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	memcpy(in, "token_secret=", 13);
	for (size_t i = 0; i < DLP_SECRET_MAX; i++)
		in[13 + i] = alnum[rng_below(&r, 62)];
	in[13 + DLP_SECRET_MAX] = '\0';
	memcpy(want, in, sizeof(in));
	memset(want + 13, '*', DLP_SECRET_MAX - 4);
	CHECK_STR(mask_of(in), want);
	in[13 + DLP_SECRET_MAX] = 'x';
	in[14 + DLP_SECRET_MAX] = '\0';
	CHECK_STR(mask_of(in), in);
}

/* ---- what is not ----------------------------------------------------------- */

/* Each looks like a match and is none; each passes untouched. */
static const char *const near_misses[] = {
	"4111 1111 1111 1112",             /* Luhn fails                       */
	"4111111111111112",
	"9111111111111003",                /* Luhn passes, no network is 9     */
	"1234 5678 9012 3452",             /* nor 1                            */
	"41111111111111111115",            /* 20 digits: a longer number       */
	"order 4111111111111111337",       /* 19 digits that fail the checks   */
	"4111 1111 1111 11",               /* 14 digits, a Visa has 13/16/19   */
	"4111  1111  1111  1111",          /* two blanks are not one separator */
	"4111-1111 1111-1111",             /* mixed separators                 */
	"41111 11111 11111 1",             /* not a card layout                */
	"0.4111111111111111",              /* decimals                         */
	"4111111111111111.25",
	"id4111111111111111",              /* inside a word                    */
	"4111111111111111px",
	"+4915123456787",                  /* a phone number (E.164)           */
	"+1 415-555-0132",
	"(415) 555-0198",
	"415.555.0100",
	"2024-03-15",                      /* dates and times                  */
	"15/03/2024 10:30",
	"2024-03-15T10:30:00.123Z",
	"1710498600009",                   /* epoch milliseconds, Luhn-valid   */
	"20240315103000121",
	"ISBN 978-0-596-52068-7",          /* ISBNs                            */
	"ISBN 9780596520609",
	"v4.1.1.1111 and 10.0.19045.4170", /* versions                         */
	"192.168.100.200",
	"1Z999AA10123456784",              /* a parcel tracking number         */
	"666-12-3456",                     /* SSN areas never issued           */
	"000-12-3456",
	"912-34-5678",
	"123-00-4567",                     /* group 00                         */
	"123-45-0000",                     /* serial 0000                      */
	"078051120",                       /* nine bare digits                 */
	"078-05-11200",
	"1-078-05-1120",                   /* part of a longer chain           */
	"078-05-1120-5",
	"078-05 1120",
	"AKIAIOSFODNN7EXAMPL",             /* AWS key too short                */
	"AKIAIOSFODNN7EXAMPLEX",           /* too long                         */
	"XAKIAIOSFODNN7EXAMPLE",
	"akiaiosfodnn7example",
	"AKIDIOSFODNN7EXAMPLE",
	"api_key=YOUR_API_KEY_HERE",       /* secrets: no digit                */
	"password: changeme",              /* too short                        */
	"\"secret\": \"aaaaaaaaaaaaaaaaaaa1\"", /* low entropy                   */
	"\"api_key\": null",
	"page_token=Zx8Pq2Lm9Rt4Vw7Yb3Nc", /* not a secret's name              */
	"secretName: Zx8Pq2Lm9Rt4Vw7Yb3Nc",
	"the api key is Zx8Pq2Lm9Rt4Vw7Yb3Nc",
	"Zx8Pq2Lm9Rt4Vw7Yb3Nc",
};

TEST(near_misses_pass_unmasked)
{
	for (size_t i = 0; i < sizeof(near_misses) / sizeof(near_misses[0]); i++) {
		char in[128];
		snprintf(in, sizeof(in), "<td>%s</td>\n", near_misses[i]);
		const char *out = mask_of(in);
		if (strcmp(out, in) != 0)
			printf("#   masked: %s -> %s\n", in, out);
		CHECK_INT(found_in(in), 0);
	}
}

TEST(a_match_in_a_longer_run_of_groups_is_found_in_its_window)
{
	CHECK_STR(mask_of("2024-03-15 4111 1111 1111 1111 12/27"), "2024-03-15 **** **** **** 1111 12/27");
	CHECK_STR(mask_of("4111 1111 1111 1111 123"), "**** **** **** 1111 123");
	CHECK_STR(mask_of("[4111111111111111,5555555555554444]"), "[************1111,************4444]");
}

TEST(a_number_assigned_to_a_secret_name_counts_as_what_it_is)
{
	struct dlp *d = scanned(DLP_DETECT, "secret: 4111111111111111\npassword=078-05-1120\n");
	CHECK_INT(dlp_count(d, DLP_CARD), 1);
	CHECK_INT(dlp_count(d, DLP_SSN), 1);
	CHECK_INT(dlp_count(d, DLP_SECRET), 0);
	dlp_free(d);
}

TEST(an_empty_body_and_empty_pieces_pass)
{
	static const enum dlp_mode modes[] = { DLP_DETECT, DLP_MASK, DLP_BLOCK };
	for (size_t i = 0; i < 3; i++) {
		struct dlp_config cfg = config(modes[i]);
		struct dlp *d = dlp_new(&cfg);
		struct buf out = BUF_INIT;
		CHECK_INT(dlp_feed(d, "", 0, &out), DLP_PASS);
		CHECK_INT(dlp_finish(d, &out), DLP_PASS);
		CHECK_INT(buf_len(&out), 0);
		CHECK_INT(dlp_total(d), 0);
		dlp_free(d);
		buf_free(&out);
	}
}

TEST(disabled_types_are_not_looked_for)
{
	struct dlp_config cfg = config(DLP_MASK);
	CHECK_INT(dlp_types_parse("card,aws-key", &cfg.types), 0);
	const char *in = "4111111111111111 078-05-1120 AKIAIOSFODNN7EXAMPLE secret=Zx8Pq2Lm9Rt4Vw7Yb3Nc";
	CHECK_STR(scan_cut(&cfg, in, strlen(in), NULL, 0, NULL, NULL),
	          "************1111 078-05-1120 ****************MPLE secret=Zx8Pq2Lm9Rt4Vw7Yb3Nc");
}

/* ---- pieces: every split point, byte by byte -------------------------------- */

/* A page with every kind of match and near miss, like mockserver's /leak. */
static char *leak_doc(size_t *len)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "<html><body><table>\n"
	             "<tr><td>4111 1111 1111 1111</td><td>078-05-1120</td></tr>\n"
	             "<tr><td>3782 822463 10005</td><td>219 09 9999</td></tr>\n"
	             "<tr><td>4000-0000-0000-0000-006</td><td>5555555555554444</td></tr>\n"
	             "</table><p>api_key=AKIAIOSFODNN7EXAMPLE</p>\n"
	             "{\"client_secret\":\"a8f5f167f44f4964e6c998dee827110c\"}\n");
	for (size_t i = 0; i < sizeof(near_misses) / sizeof(near_misses[0]); i++)
		buf_cat(&b, "<li>", near_misses[i], "</li>\n", NULL);
	buf_puts(&b, "password=S3cr3tP4ssw0rdXyZ 123-45-6789\n</body></html>\n");
	*len = buf_len(&b);
	buf_append(&b, "", 1);
	return b.data;
}

#define LEAK_DOC_MATCHES 10

TEST(the_output_is_the_same_for_every_split_point_of_the_body)
{
	size_t len;
	char *doc = leak_doc(&len);
	struct dlp_config cfg = config(DLP_MASK);
	unsigned whole_n, n;
	char *whole = strdup(scan_cut(&cfg, doc, len, NULL, 0, &whole_n, NULL));
	CHECK_INT(whole_n, LEAK_DOC_MATCHES);
	CHECK_INT(strlen(whole), len);
	int bad = 0;
	for (size_t at = 0; at <= len && bad < 3; at++) {
		const char *out = scan_cut(&cfg, doc, len, &at, 1, &n, NULL);
		if (strcmp(out, whole) != 0 || n != whole_n) {
			printf("#   split at %zu differs\n", at);
			bad++;
		}
	}
	CHECK_INT(bad, 0);
	free(whole);
	free(doc);
}

TEST(the_output_is_the_same_fed_one_byte_at_a_time_and_never_holds_more_than_DLP_HOLD_MAX)
{
	size_t len;
	char *doc = leak_doc(&len);
	struct dlp_config cfg = config(DLP_MASK);
	char *whole = strdup(scan_cut(&cfg, doc, len, NULL, 0, NULL, NULL));
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	size_t most = 0;
	for (size_t i = 0; i < len; i++) {
		CHECK_INT(dlp_feed(d, doc + i, 1, &out), DLP_PASS);
		CHECK_INT(buf_len(&out) + dlp_held(d), i + 1);
		if (dlp_held(d) > most)
			most = dlp_held(d);
	}
	dlp_finish(d, &out);
	CHECK(most <= DLP_HOLD_MAX);
	CHECK_INT(dlp_held(d), 0);
	CHECK_INT(dlp_total(d), LEAK_DOC_MATCHES);
	CHECK_INT(buf_len(&out), len);
	CHECK(buf_len(&out) == len && memcmp(buf_begin(&out), whole, len) == 0);
	dlp_free(d);
	buf_free(&out);
	free(whole);
	free(doc);
}

TEST(every_split_point_of_every_match_finds_it)
{
	static const char *const matches[] = {
		"4111 1111 1111 1111", "4000-0000-0000-0000-006", "3782 822463 10005", "4222222222222",
		"078-05-1120", "219 09 9999", "AKIAIOSFODNN7EXAMPLE", "api_key: \"Zx8Pq2Lm9Rt4Vw7Yb3Nc\"",
	};
	struct dlp_config cfg = config(DLP_MASK);
	int bad = 0;
	for (size_t m = 0; m < sizeof(matches) / sizeof(matches[0]); m++) {
		char in[96], whole[96];
		snprintf(in, sizeof(in), "x %s y", matches[m]);
		size_t len = strlen(in);
		snprintf(whole, sizeof(whole), "%s", mask_of(in));
		CHECK(strcmp(whole, in) != 0);
		/* Two pieces cut anywhere, and three cut around every byte. */
		for (size_t a = 0; a <= len; a++)
			for (size_t b = a; b <= len; b++) {
				size_t cuts[2] = { a, b };
				unsigned n;
				if (strcmp(scan_cut(&cfg, in, len, cuts, 2, &n, NULL), whole) != 0 || n != 1)
					bad++;
			}
	}
	CHECK_INT(bad, 0);
}

TEST(random_pieces_of_random_text_give_the_whole_body_output)
{
	/* Text of digits, separators, key names and letters, where matches
	 * and near misses are dense, cut at random. */
	static const char *const atoms[] = {
		"4111", "1111", "0000", "006", "3782", "822463", "10005", "078", "05", "1120", " ", "-", ".",
		"+", "AKIA", "IOSFODNN7EXAMPLE", "api_key=", "secret: \"", "Zx8Pq2Lm9Rt4Vw7Yb3Nc", "\n", "a", "9",
	};
	struct dlp_config cfg = config(DLP_MASK);
	struct rng r;
	struct buf doc = BUF_INIT;
	rng_seed(&r, 12);
	int bad = 0;
	for (int round = 0; round < 200; round++) {
		buf_clear(&doc);
		for (int k = 0; k < 300; k++)
			buf_puts(&doc, atoms[rng_below(&r, sizeof(atoms) / sizeof(atoms[0]))]);
		size_t len = buf_len(&doc), cuts[64], ncuts = 0;
		char *whole = strdup(scan_cut(&cfg, buf_begin(&doc), len, NULL, 0, NULL, NULL));
		size_t at = 0;
		while (ncuts < 64 && (at += 1 + rng_below(&r, 40)) < len)
			cuts[ncuts++] = at;
		if (strlen(whole) != len || strcmp(scan_cut(&cfg, buf_begin(&doc), len, cuts, ncuts, NULL, NULL), whole) != 0)
			bad++;
		free(whole);
	}
	CHECK_INT(bad, 0);
	buf_free(&doc);
}

TEST(a_large_body_crosses_the_scanner_window_without_a_miss)
{
	/* 64 KiB with a card every 1000 bytes: matches fall across the
	 * scanner's 4 KiB rounds as well as across the feeds. */
	struct buf doc = BUF_INIT;
	while (buf_len(&doc) < 65536) {
		buf_puts(&doc, "<p>4111 1111 1111 1111</p>");
		for (int k = 0; k < 973; k++)
			buf_puts(&doc, k % 7 ? "x" : " ");
	}
	struct dlp_config cfg = config(DLP_MASK);
	unsigned whole_n, n;
	size_t len = buf_len(&doc), cuts[] = { 4095, 4096, 4097, 9000, 30001 };
	char *whole = strdup(scan_cut(&cfg, buf_begin(&doc), len, NULL, 0, &whole_n, NULL));
	CHECK_INT(whole_n, (len + 999) / 1000);
	CHECK(strcmp(scan_cut(&cfg, buf_begin(&doc), len, cuts, 5, &n, NULL), whole) == 0);
	CHECK_INT(n, whole_n);
	CHECK(strstr(whole, "4111") == NULL);
	free(whole);
	buf_free(&doc);
}

/* ---- the hold-back ----------------------------------------------------------- */

static size_t held_after(const char *in)
{
	struct dlp_config cfg = config(DLP_MASK);
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	dlp_feed(d, in, strlen(in), &out);
	size_t held = dlp_held(d);
	CHECK_INT(buf_len(&out) + held, strlen(in));
	dlp_free(d);
	buf_free(&out);
	return held;
}

TEST(only_what_may_begin_a_match_is_held_back)
{
	CHECK_INT(held_after("hello world\n"), 0);
	CHECK_INT(held_after("data: {\"n\": 12}\n\n"), 0);
	CHECK_INT(held_after("card 4111"), 4);
	CHECK_INT(held_after("card 4111 1111 1111 1111"), 19);   /* a 19-digit Visa may follow */
	CHECK_INT(held_after("card 4111 1111 1111 1111\n"), 0);
	CHECK_INT(held_after("id AKIAIOSF"), 8);
	CHECK_INT(held_after("ssn 078-05-"), 7);
	CHECK_INT(held_after("api_key=Zx8Pq"), 5);
	CHECK_INT(held_after("api_key="), 0);
	CHECK_INT(held_after("words and words A"), 1);
}

TEST(a_long_token_is_held_back_no_longer_than_DLP_HOLD_MAX)
{
	char in[DLP_HOLD_MAX * 3];
	memcpy(in, "secret=", 7);
	memset(in + 7, 'k', sizeof(in) - 8);
	in[sizeof(in) - 1] = '\0';
	CHECK_INT(held_after(in), 0);                /* too long to be a secret */
	in[7 + DLP_HOLD_MAX] = '\0';
	CHECK_INT(held_after(in), DLP_HOLD_MAX);
}

/* ---- modes ------------------------------------------------------------------- */

TEST(detect_counts_and_forwards_every_byte_at_once)
{
	struct dlp_config cfg = config(DLP_DETECT);
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	const char *in = "a 4111 1111 1111 1111 and 078-05-1120 and 4111";
	CHECK_INT(dlp_feed(d, in, strlen(in), &out), DLP_PASS);
	CHECK_INT(buf_len(&out), strlen(in));
	CHECK_INT(dlp_held(d), 0);
	CHECK_INT(dlp_finish(d, &out), DLP_PASS);
	CHECK_INT(buf_len(&out), strlen(in));
	CHECK(memcmp(buf_begin(&out), in, strlen(in)) == 0);
	CHECK_INT(dlp_count(d, DLP_CARD), 1);
	CHECK_INT(dlp_count(d, DLP_SSN), 1);
	dlp_free(d);
	buf_free(&out);
}

TEST(block_holds_a_clean_body_until_its_end_then_passes_it)
{
	struct dlp_config cfg = config(DLP_BLOCK);
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	CHECK_INT(dlp_feed(d, "nothing to see ", 15, &out), DLP_PASS);
	CHECK_INT(dlp_feed(d, "here 4111 1111 1111 1112\n", 25, &out), DLP_PASS);
	CHECK_INT(buf_len(&out), 0);
	CHECK_INT(dlp_held(d), 40);
	CHECK_INT(dlp_finish(d, &out), DLP_PASS);
	CHECK_INT(buf_len(&out), 40);
	CHECK(dlp_why(d) == NULL);
	dlp_free(d);
	buf_free(&out);
}

TEST(block_blocks_a_match_split_across_pieces_and_sends_nothing)
{
	struct dlp_config cfg = config(DLP_BLOCK);
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	CHECK_INT(dlp_feed(d, "ssn 078-0", 9, &out), DLP_PASS);
	CHECK_INT(dlp_feed(d, "5-1120 more", 11, &out), DLP_BLOCKED);
	CHECK_INT(dlp_feed(d, "later", 5, &out), DLP_BLOCKED);
	CHECK_INT(dlp_finish(d, &out), DLP_BLOCKED);
	CHECK_INT(buf_len(&out), 0);
	CHECK_STR(dlp_why(d), "social security number in the response body");
	dlp_free(d);
	buf_free(&out);
}

TEST(block_over_its_limit_sends_what_it_held_and_masks_the_rest)
{
	struct dlp_config cfg = config(DLP_BLOCK);
	cfg.block_limit = 16;
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	CHECK_INT(dlp_feed(d, "0123456789 card ", 16, &out), DLP_PASS);
	CHECK_INT(buf_len(&out), 0);
	CHECK_INT(dlp_feed(d, "4111 1111 1111 1111!", 20, &out), DLP_PASS);
	CHECK_INT(dlp_finish(d, &out), DLP_PASS);
	buf_append(&out, "", 1);
	CHECK_STR(buf_begin(&out), "0123456789 card **** **** **** 1111!");
	CHECK_INT(dlp_count(d, DLP_CARD), 1);
	dlp_free(d);
	buf_free(&out);
}

TEST(block_over_its_limit_with_block_over_limit_blocks)
{
	struct dlp_config cfg = config(DLP_BLOCK);
	cfg.block_limit = 16;
	cfg.block_over_limit = true;
	struct dlp *d = dlp_new(&cfg);
	struct buf out = BUF_INIT;
	CHECK_INT(dlp_feed(d, "0123456789abcdef", 16, &out), DLP_PASS);
	CHECK_INT(dlp_feed(d, "!", 1, &out), DLP_BLOCKED);
	CHECK_INT(buf_len(&out), 0);
	CHECK_STR(dlp_why(d), "response body over the DLP block limit");
	dlp_free(d);
	buf_free(&out);
}

TEST(masked_output_has_the_length_of_the_input)
{
	size_t len;
	char *doc = leak_doc(&len);
	struct dlp_config cfg = config(DLP_MASK);
	CHECK_INT(strlen(scan_cut(&cfg, doc, len, NULL, 0, NULL, NULL)), len);
	free(doc);
}

/* ---- names, summary, scope ------------------------------------------------- */

TEST(modes_and_types_parse_and_print)
{
	enum dlp_mode m;
	unsigned types;
	CHECK_INT(dlp_mode_parse("mask", &m), 0);
	CHECK_INT(m, DLP_MASK);
	CHECK_STR(dlp_mode_name(DLP_BLOCK), "block");
	CHECK_INT(dlp_mode_parse("Mask", &m), -1);
	CHECK_INT(dlp_mode_parse("", &m), -1);
	CHECK_INT(dlp_types_parse("all", &types), 0);
	CHECK_INT(types, DLP_ALL_TYPES);
	CHECK_INT(dlp_types_parse("ssn,secret", &types), 0);
	CHECK_INT(types, DLP_TYPE_BIT(DLP_SSN) | DLP_TYPE_BIT(DLP_SECRET));
	CHECK_INT(dlp_types_parse("ssn,", &types), -1);
	CHECK_INT(dlp_types_parse("cards", &types), -1);
	CHECK_STR(dlp_type_name(DLP_AWS_KEY), "aws-key");
}

TEST(the_summary_names_types_and_counts_never_values)
{
	struct buf sum = BUF_INIT;
	struct dlp *d = scanned(DLP_DETECT, "4111 nothing here");
	dlp_summary(d, &sum);
	buf_append(&sum, "", 1);
	CHECK_STR(buf_begin(&sum), "none");
	dlp_free(d);
	d = scanned(DLP_DETECT, "4111111111111111 5555555555554444 078-05-1120");
	buf_clear(&sum);
	dlp_summary(d, &sum);
	buf_append(&sum, "", 1);
	CHECK_STR(buf_begin(&sum), "card=2 ssn=1");
	dlp_free(d);
	buf_free(&sum);
}

static enum dlp_scope scope_of(const struct dlp_config *cfg, const char *head)
{
	struct http_msg m;
	http_msg_init(&m, HTTP_RESPONSE, NULL, NULL);
	http_msg_feed(&m, head, strlen(head), NULL);
	enum dlp_scope s = dlp_scope(cfg, &m, NULL);
	http_msg_free(&m);
	return s;
}

TEST(text_html_and_json_responses_are_scanned_and_others_skipped)
{
	struct dlp_config cfg = config(DLP_MASK);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"), DLP_SCAN);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: TEXT/plain\r\n\r\n"), DLP_SCAN);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"), DLP_SCAN);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: application/problem+json\r\n\r\n"), DLP_SCAN);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: application/xhtml+xml\r\n\r\n"), DLP_SCAN);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), DLP_SCAN);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n"), DLP_SKIP);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n"), DLP_SKIP);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: application/jsonx\r\n\r\n"), DLP_SKIP);
}

TEST(a_compressed_text_response_is_refused_or_passed_as_configured)
{
	struct dlp_config cfg = config(DLP_MASK);
	const char *gz = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n";
	CHECK_INT(scope_of(&cfg, gz), DLP_UNREAD_PASS);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: identity\r\n\r\n"),
	          DLP_SCAN);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: identity\r\n"
	                         "Content-Encoding: br\r\n\r\n"), DLP_UNREAD_PASS);
	CHECK_INT(scope_of(&cfg, "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Encoding: gzip\r\n\r\n"), DLP_SKIP);
	cfg.block_unreadable = true;
	CHECK_INT(scope_of(&cfg, gz), DLP_UNREAD_BLOCK);
	cfg.mode = DLP_OFF;
	CHECK_INT(scope_of(&cfg, gz), DLP_SKIP);
}

int main(void)
{
	RUN(a_card_number_is_masked_but_its_last_four_digits);
	RUN(every_network_and_layout_of_card_numbers_is_found);
	RUN(an_ssn_is_masked_but_its_serial);
	RUN(an_aws_access_key_id_is_masked_but_its_last_four);
	RUN(a_key_assigned_to_an_aws_name_counts_as_an_aws_key_not_a_secret);
	RUN(generic_secrets_after_a_secret_name_are_masked);
	RUN(a_secret_may_be_as_long_as_DLP_SECRET_MAX_and_no_longer);
	RUN(near_misses_pass_unmasked);
	RUN(a_match_in_a_longer_run_of_groups_is_found_in_its_window);
	RUN(a_number_assigned_to_a_secret_name_counts_as_what_it_is);
	RUN(an_empty_body_and_empty_pieces_pass);
	RUN(disabled_types_are_not_looked_for);
	RUN(the_output_is_the_same_for_every_split_point_of_the_body);
	RUN(the_output_is_the_same_fed_one_byte_at_a_time_and_never_holds_more_than_DLP_HOLD_MAX);
	RUN(every_split_point_of_every_match_finds_it);
	RUN(random_pieces_of_random_text_give_the_whole_body_output);
	RUN(a_large_body_crosses_the_scanner_window_without_a_miss);
	RUN(only_what_may_begin_a_match_is_held_back);
	RUN(a_long_token_is_held_back_no_longer_than_DLP_HOLD_MAX);
	RUN(detect_counts_and_forwards_every_byte_at_once);
	RUN(block_holds_a_clean_body_until_its_end_then_passes_it);
	RUN(block_blocks_a_match_split_across_pieces_and_sends_nothing);
	RUN(block_over_its_limit_sends_what_it_held_and_masks_the_rest);
	RUN(block_over_its_limit_with_block_over_limit_blocks);
	RUN(masked_output_has_the_length_of_the_input);
	RUN(modes_and_types_parse_and_print);
	RUN(the_summary_names_types_and_counts_never_values);
	RUN(text_html_and_json_responses_are_scanned_and_others_skipped);
	RUN(a_compressed_text_response_is_refused_or_passed_as_configured);
	return t_done();
}
