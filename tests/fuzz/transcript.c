/*
 * transcript.c - lib/http under a recorder (see transcript.h).
 */
#include "transcript.h"

#include <stdio.h>
#include <string.h>

struct rec {
	struct buf *out;
	uint64_t head_mask;
	unsigned msgs;                /* messages begun                       */
	uint64_t body_len, body_hash;
};

static void say(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (buf_vprintf(r->out, fmt, ap) < 0)
		fuzz_fail("out of memory in the transcript");
	va_end(ap);
}

/* A string the glue handed out: inside raw, NUL-terminated at len, no NUL
 * before.  Writes it to the transcript, escaped. */
static void span(struct rec *r, const struct http_msg *m, uint32_t off, uint32_t len, const char *what)
{
	FUZZ_CHECK((size_t)off + len < m->raw.len || (len == 0 && (size_t)off <= m->raw.len),
	           "%s at %u+%u outside raw (%zu bytes)", what, off, len, m->raw.len);
	if (off == m->raw.len)
		return;          /* an empty span at the very end: nothing to read */
	const char *s = m->raw.data + off;
	FUZZ_CHECK(s[len] == '\0', "%s is not NUL-terminated at its length %u", what, len);
	FUZZ_CHECK(strlen(s) == len, "%s holds a NUL byte: strlen %zu, length %u (C string users cut it)",
	           what, strlen(s), len);
	if (buf_json_str(r->out, s, len) < 0)
		fuzz_fail("out of memory in the transcript");
}

static int on_headers(struct http_msg *m)
{
	struct rec *r = m->user;
	unsigned idx = r->msgs++;
	FUZZ_CHECK(m->headers_done && m->in_message, "on_headers outside a message");
	if (m->parser.type == HTTP_REQUEST)
		say(r, "\nhead %s ", http_method(m));
	else
		say(r, "\nhead %d ", http_status(m));
	if (m->target_len > 0)
		span(r, m, m->target, m->target_len, "target/reason");
	say(r, " HTTP/%d.%d", http_major(m), http_minor(m));
	for (size_t i = 0; i < m->nhdrs; i++) {
		say(r, "\n  ");
		span(r, m, m->hdrs[i].name, m->hdrs[i].name_len, "header name");
		say(r, ": ");
		span(r, m, m->hdrs[i].value, m->hdrs[i].value_len, "header value");
		FUZZ_CHECK(m->hdrs[i].name_len > 0, "an empty header name");
	}
	bool head = m->parser.type == HTTP_RESPONSE && idx < 64 && (r->head_mask >> idx & 1);
	say(r, "\n  flags=%#x cl=%llu ka=%d upgrade=%d head=%d", m->parser.flags,
	    (unsigned long long)m->parser.content_length, http_keep_alive(m), m->parser.upgrade, head);
	/* http_get / http_count / http_list_has on every name: no crash, and
	 * http_get finds the first of its name. */
	for (size_t i = 0; i < m->nhdrs; i++) {
		const char *v = http_get(m, http_hdr_name(m, i));
		FUZZ_CHECK(v != NULL && http_count(m, http_hdr_name(m, i)) >= 1, "http_get misses header %zu", i);
		(void)http_list_has(http_hdr_value(m, i), "chunked");
	}
	r->body_len = 0;
	r->body_hash = fuzz_hash("", 0);
	return head ? 1 : 0;
}

static int on_body(struct http_msg *m, const char *at, size_t len)
{
	struct rec *r = m->user;
	FUZZ_CHECK(len > 0, "on_body with no bytes");
	for (size_t i = 0; i < len; i++)
		r->body_hash = (r->body_hash ^ (unsigned char)at[i]) * 0x100000001b3u;
	r->body_len += len;
	return 0;
}

static int on_chunk_header(struct http_msg *m)
{
	say(m->user, " chunk=%llu", (unsigned long long)m->parser.content_length);
	return 0;
}

static int on_complete(struct http_msg *m)
{
	struct rec *r = m->user;
	FUZZ_CHECK(!m->in_message, "in_message still set at on_complete");
	say(r, "\nbody %llu %016llx\ncomplete", (unsigned long long)r->body_len, (unsigned long long)r->body_hash);
	r->body_len = 0;
	return HPE_PAUSED;   /* one message at a time, as the tools do */
}

static const struct http_hooks hooks = {
	.on_headers = on_headers,
	.on_body = on_body,
	.on_complete = on_complete,
	.on_chunk_header = on_chunk_header,
};

void http_transcript(llhttp_type_t type, const uint8_t *data, size_t size, enum split_mode mode,
                     uint64_t head_mask, size_t max_head, size_t max_target, struct buf *out)
{
	struct rec r = { .out = out, .head_mask = head_mask };
	struct http_msg m;
	struct splits sp;
	http_msg_init(&m, type, &hooks, &r);
	if (max_head)
		m.max_head = max_head;
	if (max_target)
		m.max_target = max_target;
	splits_init(&sp, mode, data, size);

	llhttp_errno_t e = HPE_OK;
	size_t off = 0;
	while (off < size && e == HPE_OK) {
		size_t piece = splits_next(&sp, size - off), used;
		const char *p = (const char *)data + off;
		off += piece;
		for (;;) {
			e = http_msg_feed(&m, p, piece, &used);
			FUZZ_CHECK(used <= piece, "consumed %zu of %zu bytes", used, piece);
			if (e != HPE_PAUSED)
				break;
			http_msg_resume(&m);
			p += used;
			piece -= used;
			e = HPE_OK;
			if (piece == 0)
				break;
		}
	}
	if (e == HPE_OK) {
		e = http_msg_finish(&m);
		say(&r, "\nfinish %s", llhttp_errno_name(e));
		if (e == HPE_PAUSED)   /* a read-until-close body ended */
			e = HPE_OK;
	} else if (e == HPE_PAUSED_UPGRADE) {
		say(&r, "\nupgrade");
	}
	if (e != HPE_OK && e != HPE_PAUSED_UPGRADE) {
		FUZZ_CHECK(m.error[0] != '\0', "an error without a reason");
		FUZZ_CHECK(m.limit_status == 0 || m.limit_status == 431 || m.limit_status == 414,
		           "limit_status %d", m.limit_status);
		/* Not which error: a head both too long and malformed is refused
		 * either way, but llhttp checks bytes as it scans them and the glue
		 * checks sizes as spans arrive, so the first one named depends on
		 * how the bytes were cut (400 whole, 414 or 431 byte by byte). */
		say(&r, "\nerror");
	}
	http_msg_free(&m);
}

void http_transcripts_agree(llhttp_type_t type, const uint8_t *data, size_t size, uint64_t head_mask,
                            size_t max_head, size_t max_target)
{
	struct buf t[SPLIT_MODES] = { BUF_INIT, BUF_INIT, BUF_INIT };
	const char *what = type == HTTP_REQUEST ? "request" : "response";
	for (enum split_mode mode = 0; mode < SPLIT_MODES; mode++)
		http_transcript(type, data, size, mode, head_mask, max_head, max_target, &t[mode]);
	for (enum split_mode mode = 1; mode < SPLIT_MODES; mode++)
		if (buf_len(&t[mode]) != buf_len(&t[0]) || memcmp(buf_begin(&t[mode]), buf_begin(&t[0]), buf_len(&t[0])) != 0)
			fuzz_fail("fed %s, the %s parse differs from fed whole:\n--- whole:%.*s\n--- %s:%.*s",
			          split_name(mode), what, (int)buf_len(&t[0]), buf_begin(&t[0]), split_name(mode),
			          (int)buf_len(&t[mode]), buf_begin(&t[mode]));
	for (enum split_mode mode = 0; mode < SPLIT_MODES; mode++)
		buf_free(&t[mode]);
}
