/*
 * net/buf.h: a growable byte buffer with a read offset, used for the
 * outgoing side of every connection (TLS plaintext queued for the client,
 * bytes queued for an agent socket) and for small request bodies.
 *
 * Bytes are appended at the end and consumed from the front; the buffer
 * compacts itself when the consumed prefix grows large. Not thread-safe.
 */
#ifndef SBX_NET_BUF_H
#define SBX_NET_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
	char *p;
	size_t off; /* first unread byte */
	size_t len; /* end of data */
	size_t cap;
};

/* Bytes waiting to be consumed. */
static inline size_t buf_avail(const struct buf *b) { return b->len - b->off; }
static inline const char *buf_data(const struct buf *b) { return b->p + b->off; }

/* Appends n bytes. Returns 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n);
/* Appends a formatted string (no NUL). Returns 0 or -ENOMEM. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drops n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Frees the memory. Safe on a zeroed buffer and twice. */
void buf_free(struct buf *b);

#endif
