/*
 * guest/ring.c: the bounded log ring (see guest/ring.h). The byte at
 * absolute offset o lives at buf[o % RING_CAP] while o >= total - RING_CAP.
 */
#include "guest/ring.h"

#include <stdlib.h>
#include <string.h>

void ring_put(struct ring *r, const uint8_t *p, size_t n)
{
	size_t at, k;

	if (!r->buf && !(r->buf = malloc(RING_CAP)))
		return;
	if (n > RING_CAP) {
		r->total += n - RING_CAP;
		p += n - RING_CAP;
		n = RING_CAP;
	}
	while (n) {
		at = (size_t)(r->total % RING_CAP);
		k = RING_CAP - at < n ? RING_CAP - at : n;
		memcpy(r->buf + at, p, k);
		r->total += k, p += k, n -= k;
	}
}

uint64_t ring_dropped(const struct ring *r)
{
	if (!r->buf)
		return r->total; /* freed (or never written): nothing kept */
	return r->total > RING_CAP ? r->total - RING_CAP : 0;
}

size_t ring_get(const struct ring *r, uint64_t *off, uint8_t *dst, size_t max)
{
	size_t n, at, k, done = 0;

	if (*off < ring_dropped(r))
		*off = ring_dropped(r);
	if (*off >= r->total || !r->buf)
		return 0;
	n = (size_t)(r->total - *off) < max ? (size_t)(r->total - *off) : max;
	while (done < n) {
		at = (size_t)((*off + done) % RING_CAP);
		k = RING_CAP - at < n - done ? RING_CAP - at : n - done;
		memcpy(dst + done, r->buf + at, k);
		done += k;
	}
	*off += n;
	return n;
}

void ring_free(struct ring *r)
{
	free(r->buf);
	r->buf = NULL; /* total stays: every byte now counts as dropped */
}
