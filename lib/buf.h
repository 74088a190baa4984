/*
 * buf.h - growable byte buffers: what a connection reads into and writes
 * out of.  Data lives in data[off .. off+len); consuming from the front is
 * O(1) and the space is reclaimed when the buffer empties or must grow.
 *
 * A buffer never grows by itself past what the caller asks for: the owner
 * checks buf_len() against its own limit (that is how back-pressure and the
 * 431/413 limits work).  Allocation failures are reported, never ignored.
 */
#ifndef L7_BUF_H
#define L7_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

struct buf {
	char *data;
	size_t off;   /* first unconsumed byte   */
	size_t len;   /* bytes held from off     */
	size_t cap;   /* bytes allocated at data */
};

#define BUF_INIT { NULL, 0, 0, 0 }

/* The first byte held.  A buffer that never held any has no storage: its
 * begin is an empty string, never NULL + 0 (undefined behaviour). */
extern char buf_nothing[1];
static inline char *buf_begin(const struct buf *b) { return b->data ? b->data + b->off : buf_nothing; }
static inline size_t buf_len(const struct buf *b) { return b->len; }

/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_clear(struct buf *b);
/* buf_reserve's slow path: slides the bytes to the front or grows. */
int buf_make_room(struct buf *b, size_t n);
/* Makes room for n more bytes at the end; returns 0, or -1 on ENOMEM.
 * Inline: the per-request paths call it for every piece of a head. */
static inline int buf_reserve(struct buf *b, size_t n)
{
	if (b->len == 0)
		b->off = 0;
	return b->off + b->len + n <= b->cap ? 0 : buf_make_room(b, n);
}
/* Appends bytes; 0, or -1 on ENOMEM (the buffer is unchanged then). */
static inline int buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}
static inline int buf_puts(struct buf *b, const char *s) { return buf_append(b, s, strlen(s)); }
/* Appends each string in turn, up to the NULL that ends the list:
 * buf_cat(b, "Via: 1.1 ", name, "\r\n", NULL).  The per-request paths
 * use it (and buf_put_uint) where printf's parsing would cost. */
int buf_cat(struct buf *b, ...) __attribute__((sentinel));
/* Appends v in decimal. */
int buf_put_uint(struct buf *b, unsigned long long v);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included, escaping as needed
 * (bytes that are not valid UTF-8 become \u00XX of their Latin-1 value). */
int buf_json_str(struct buf *b, const char *s, size_t n);
/* Drops n bytes from the front. */
void buf_consume(struct buf *b, size_t n);

/* Reads at most max bytes from fd onto the end (one recv(2), or read(2) if
 * fd is no socket: recv skips the file layer read goes through).  Returns what
 * it returned: >0 bytes, 0 at EOF, -1 with errno (EAGAIN included);
 * ENOMEM if the buffer could not grow. */
ssize_t buf_read_fd(struct buf *b, int fd, size_t max);
/* Writes from the front to fd (one write/send) and consumes what was
 * written.  Returns bytes written, or -1 with errno (EAGAIN included). */
ssize_t buf_write_fd(struct buf *b, int fd);

#endif
