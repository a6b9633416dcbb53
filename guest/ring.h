/*
 * guest/ring.h: a bounded byte ring for process logs. It keeps the last
 * RING_CAP bytes of a stream and counts every byte ever written, so a
 * reader addresses bytes by their absolute offset in the stream and can
 * tell how many were dropped. Not thread-safe: callers hold their lock.
 */
#ifndef SBX_GUEST_RING_H
#define SBX_GUEST_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_CAP (1u << 20)

struct ring {
	uint8_t *buf;   /* RING_CAP bytes, allocated on the first write */
	uint64_t total; /* bytes ever written */
};

/* Appends n bytes (only the last RING_CAP of them are kept). */
void ring_put(struct ring *r, const uint8_t *p, size_t n);
/* Bytes no longer kept: the oldest offset still readable. */
uint64_t ring_dropped(const struct ring *r);
/*
 * Copies at most max bytes from absolute offset *off into dst; an offset
 * already dropped is moved up to the oldest kept byte. Advances *off and
 * returns the count (0 when *off is at the end).
 */
size_t ring_get(const struct ring *r, uint64_t *off, uint8_t *dst, size_t max);
/* Frees the buffer. */
void ring_free(struct ring *r);

#endif
