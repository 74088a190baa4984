/*
 * buf.c - growable byte buffers (see buf.h).
 */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

char buf_nothing[1];

void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf)BUF_INIT;
}

void buf_clear(struct buf *b)
{
	b->off = 0;
	b->len = 0;
}

int buf_make_room(struct buf *b, size_t n)
{
	if (b->len + n <= b->cap && b->off >= b->cap / 2) {  /* slide instead of growing */
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	char *data = malloc(cap);
	if (data == NULL)
		return -1;
	if (b->len > 0)
		memcpy(data, b->data + b->off, b->len);
	free(b->data);
	b->data = data;
	b->off = 0;
	b->cap = cap;
	return 0;
}

int buf_cat(struct buf *b, ...)
{
	size_t len0 = b->len;   /* all or nothing, like buf_append */
	va_list ap;
	va_start(ap, b);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
		if (buf_append(b, s, strlen(s)) < 0) {
			b->len = len0;
			va_end(ap);
			return -1;
		}
	va_end(ap);
	return 0;
}

int buf_put_uint(struct buf *b, unsigned long long v)
{
	char digits[24], *p = digits + sizeof(digits);
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	if (buf_reserve(b, (size_t)n + 1) < 0)
		return -1;
	vsnprintf(b->data + b->off + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		need = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need;
}

int buf_json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	size_t run = 0;   /* bytes copied as they are, flushed in one append */
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		const char *esc = NULL;
		char tmp[7];
		size_t skip = 1;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && (skip = utf8_len(u + i, n - i)) == 0)) {
			tmp[0] = '\\'; tmp[1] = 'u'; tmp[2] = '0'; tmp[3] = '0';
			tmp[4] = hex[c >> 4]; tmp[5] = hex[c & 15]; tmp[6] = 0;
			esc = tmp;
			skip = 1;
		}
		if (esc == NULL) {
			run += skip;
			i += skip;
			continue;
		}
		if (buf_append(b, s + i - run, run) < 0 || buf_puts(b, esc) < 0)
			return -1;
		run = 0;
		i += skip;
	}
	if (buf_append(b, s + n - run, run) < 0)
		return -1;
	return buf_append(b, "\"", 1);
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

ssize_t buf_read_fd(struct buf *b, int fd, size_t max)
{
	if (buf_reserve(b, max) < 0) {
		errno = ENOMEM;
		return -1;
	}
	ssize_t n = recv(fd, b->data + b->off + b->len, max, 0);
	if (n < 0 && errno == ENOTSOCK)
		n = read(fd, b->data + b->off + b->len, max);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

ssize_t buf_write_fd(struct buf *b, int fd)
{
	if (b->len == 0)
		return 0;
	ssize_t n = send(fd, buf_begin(b), b->len, MSG_NOSIGNAL);
	if (n < 0 && errno == ENOTSOCK)
		n = write(fd, buf_begin(b), b->len);
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}
