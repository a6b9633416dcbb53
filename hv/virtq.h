/*
 * hv/virtq.h: split virtqueue walker (virtio 1.1, 2.6 "Split Virtqueues").
 *
 * Pure code over struct vm_mem: the guest owns the rings and may write
 * anything into them at any time, so every index is checked against the
 * queue size, every chain is bounded by the queue size, every address goes
 * through gpa_ptr(), and lengths are summed with overflow checks. A
 * malformed ring makes virtq_pop() return -EINVAL; the transport then sets
 * DEVICE_NEEDS_RESET. Indirect descriptors and EVENT_IDX are not offered.
 *
 * Threads: a queue is used by one thread at a time (the device's lock).
 */
#ifndef SBX_HV_VIRTQ_H
#define SBX_HV_VIRTQ_H

#include <stddef.h>
#include <stdint.h>

#include "hv/memory.h"

#define VIRTQ_MAX_SIZE 256

struct virtq {
	uint16_t size;    /* QueueNum, a power of 2, <= VIRTQ_MAX_SIZE */
	int ready;        /* QueueReady */
	uint64_t desc, avail, used; /* ring addresses (guest-physical) */
	uint16_t last_avail;        /* next avail entry to take */
	uint16_t used_idx;          /* next used entry to fill */
};

/* One guest buffer of a chain, already translated to a host pointer. */
struct virtq_seg {
	uint8_t *p;
	uint32_t len;
};

/* A descriptor chain: readable segments first, then writable ones. */
struct virtq_chain {
	uint16_t head;
	int nr, nw;                      /* readable, writable segment counts */
	struct virtq_seg seg[VIRTQ_MAX_SIZE]; /* nr readable, then nw writable */
	uint64_t rlen, wlen;             /* total readable / writable bytes */
};

/* Checks that a queue configuration is usable (size, ring addresses). 0/-EINVAL. */
int virtq_check(const struct vm_mem *m, const struct virtq *q);

/*
 * Takes the next available chain. Returns 1 with *c filled, 0 if the ring is
 * empty, -EINVAL if the guest wrote nonsense (bad avail idx, head or next
 * index out of range, a loop or chain longer than the queue, an address
 * outside RAM, a readable descriptor after a writable one, INDIRECT).
 */
int virtq_pop(const struct vm_mem *m, struct virtq *q, struct virtq_chain *c);

/* Puts head back as used with len bytes written. 0 or -EINVAL. */
int virtq_push(const struct vm_mem *m, struct virtq *q, uint16_t head,
	       uint32_t len);

/*
 * 1 if the driver wants an interrupt for used buffers on q, 0 if it set
 * VRING_AVAIL_F_NO_INTERRUPT (2.6.7.1; EVENT_IDX is not offered). Call
 * after virtq_push: a full fence orders the used idx store before the read.
 */
int virtq_wants_irq(const struct vm_mem *m, const struct virtq *q);

/* 1 if the guest has chains waiting, 0 if not, -EINVAL on a bad avail idx. */
int virtq_has_avail(const struct vm_mem *m, const struct virtq *q);

/* Copies up to len readable bytes from offset off of the chain. Returns count. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *buf,
			size_t len);

/* Copies up to len bytes into the writable part at offset off. Returns count. */
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off,
			 const void *buf, size_t len);

#endif
