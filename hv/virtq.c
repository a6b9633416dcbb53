/*
 * hv/virtq.c: split virtqueue walker, see virtq.h for the threat model.
 *
 * Ring layouts (virtio 1.1, 2.6.5 The Virtqueue Descriptor Table, 2.6.6 The
 * Virtqueue Available Ring, 2.6.8 The Virtqueue Used Ring):
 *   desc[i]  = { le64 addr; le32 len; le16 flags; le16 next; }   16 bytes
 *   avail    = { le16 flags; le16 idx; le16 ring[size]; }
 *   used     = { le16 flags; le16 idx; { le32 id; le32 len; } ring[size]; }
 * The guest's avail->idx is read once with acquire ordering; the used
 * element is written before used->idx is published with release ordering.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "hv/virtq.h"

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

int virtq_check(const struct vm_mem *m, const struct virtq *q)
{
	uint64_t n = q->size;

	if (!n || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc & 15) || (q->avail & 1) || (q->used & 3))
		return -EINVAL;
	if (!gpa_ptr(m, q->desc, 16 * n) || !gpa_ptr(m, q->avail, 4 + 2 * n) ||
	    !gpa_ptr(m, q->used, 4 + 8 * n))
		return -EINVAL;
	return 0;
}

static int vq_avail_count(const struct vm_mem *m, const struct virtq *q,
			  uint16_t *count)
{
	uint16_t *idxp = gpa_ptr(m, q->avail + 2, 2);
	uint16_t idx, n;

	if (!idxp)
		return -EINVAL;
	idx = __atomic_load_n(idxp, __ATOMIC_ACQUIRE);
	n = (uint16_t)(idx - q->last_avail);
	if (n > q->size) /* 2.6.6: the driver can be at most size ahead */
		return -EINVAL;
	*count = n;
	return 0;
}

int virtq_wants_irq(const struct vm_mem *m, const struct virtq *q)
{
	uint16_t *flags = gpa_ptr(m, q->avail, 2);

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!flags)
		return 1;
	return !(__atomic_load_n(flags, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
}

int virtq_has_avail(const struct vm_mem *m, const struct virtq *q)
{
	uint16_t n;
	int r = vq_avail_count(m, q, &n);

	return r < 0 ? r : n > 0;
}

int virtq_pop(const struct vm_mem *m, struct virtq *q, struct virtq_chain *c)
{
	uint16_t n, head, i, *ringp;
	const uint8_t *dtab;
	int r, steps;

	if (!q->ready || virtq_check(m, q))
		return -EINVAL;
	r = vq_avail_count(m, q, &n);
	if (r < 0 || n == 0)
		return r;
	ringp = gpa_ptr(m, q->avail + 4 + 2ULL * (q->last_avail % q->size), 2);
	dtab = gpa_ptr(m, q->desc, 16ULL * q->size);
	if (!ringp || !dtab)
		return -EINVAL;
	head = __atomic_load_n(ringp, __ATOMIC_RELAXED);
	if (head >= q->size)
		return -EINVAL;
	c->head = head;
	c->nr = c->nw = 0;
	c->rlen = c->wlen = 0;
	i = head;
	for (steps = 0;; steps++) {
		struct vq_desc d;
		uint8_t *p;

		if (steps >= q->size) /* a loop, or longer than the table */
			return -EINVAL;
		memcpy(&d, dtab + 16 * (size_t)i, sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;
		p = gpa_ptr(m, d.addr, d.len);
		if (!p)
			return -EINVAL;
		if (d.flags & VRING_DESC_F_WRITE) {
			c->wlen += d.len;
			c->seg[c->nr + c->nw++] = (struct virtq_seg){ p, d.len };
		} else {
			if (c->nw) /* 2.6.4.2: readable before writable */
				return -EINVAL;
			c->rlen += d.len;
			c->seg[c->nr++] = (struct virtq_seg){ p, d.len };
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return -EINVAL;
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

int virtq_push(const struct vm_mem *m, struct virtq *q, uint16_t head,
	       uint32_t len)
{
	uint8_t *elem;
	uint16_t *idxp;
	uint32_t v[2] = { head, len };

	if (head >= q->size)
		return -EINVAL;
	elem = gpa_ptr(m, q->used + 4 + 8ULL * (q->used_idx % q->size), 8);
	idxp = gpa_ptr(m, q->used + 2, 2);
	if (!elem || !idxp)
		return -EINVAL;
	memcpy(elem, v, 8);
	q->used_idx++;
	__atomic_store_n(idxp, q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf,
			size_t len)
{
	size_t done = 0;
	int i;

	for (i = 0; i < c->nr && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		size_t take;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		take = s->len - off;
		if (take > len - done)
			take = len - done;
		memcpy((uint8_t *)buf + done, s->p + off, take);
		done += take;
		off = 0;
	}
	return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off,
			 const void *buf, size_t len)
{
	size_t done = 0;
	int i;

	for (i = c->nr; i < c->nr + c->nw && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		size_t take;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		take = s->len - off;
		if (take > len - done)
			take = len - done;
		memcpy(s->p + off, (const uint8_t *)buf + done, take);
		done += take;
		off = 0;
	}
	return done;
}
