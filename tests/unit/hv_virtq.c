/*
 * tests/unit/hv_virtq.c: the split-virtqueue walker fed well-formed and
 * malicious rings: loops, chains longer than the queue, out-of-range
 * descriptor indexes and addresses, address+length overflow, avail idx
 * running too far ahead, writable-before-readable, INDIRECT, bad ring
 * placement; plus gpa_ptr's bounds on both RAM regions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ring.h>

#include "hv/memory.h"
#include "hv/virtq.h"
#include "tests/lib/check.h"

#define MEMSZ (1u << 20)
#define QSZ 8

static struct vm_mem m;
static struct virtq q;
static struct virtq_chain c;
static uint16_t avail_idx;

static void reset(void)
{
	memset(m.host, 0, MEMSZ);
	q = (struct virtq){ .size = QSZ, .ready = 1, .desc = 0x1000,
			    .avail = 0x2000, .used = 0x3000 };
	avail_idx = 0;
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = gpa_ptr(&m, q.desc + 16ULL * i, 16);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void offer(uint16_t head)
{
	uint16_t *a = gpa_ptr(&m, q.avail, 4 + 2 * QSZ);

	a[2 + avail_idx % QSZ] = head;
	a[1] = ++avail_idx;
}

static void test_gpa_ptr(void)
{
	struct vm_mem big = { .host = (uint8_t *)0x10000, .size = 5ULL << 30 };

	CHECK(gpa_ptr(&m, 0, MEMSZ) == m.host);
	CHECK(gpa_ptr(&m, MEMSZ - 1, 1) != NULL);
	CHECK(gpa_ptr(&m, MEMSZ - 1, 2) == NULL);
	CHECK(gpa_ptr(&m, MEMSZ, 0) == m.host + MEMSZ); /* empty range at the end */
	CHECK(gpa_ptr(&m, UINT64_MAX, 2) == NULL);      /* wraps */
	CHECK(gpa_ptr(&m, 8, UINT64_MAX) == NULL);
	CHECK(gpa_ptr(&m, MEM_HIGH_START, 1) == NULL);
	/* 5 GiB: 3 GiB low, 2 GiB from 4 GiB up; the hole is not RAM */
	big.low_size = MEM_LOW_END;
	CHECK(gpa_ptr(&big, MEM_LOW_END - 1, 1) == big.host + MEM_LOW_END - 1);
	CHECK(gpa_ptr(&big, MEM_LOW_END, 1) == NULL);
	CHECK(gpa_ptr(&big, MEM_LOW_END - 1, 2) == NULL);
	CHECK(gpa_ptr(&big, MEM_HIGH_START, 1) == big.host + MEM_LOW_END);
	CHECK(gpa_ptr(&big, MEM_HIGH_START + (2ULL << 30) - 1, 1) != NULL);
	CHECK(gpa_ptr(&big, MEM_HIGH_START + (2ULL << 30), 1) == NULL);
	CHECK(gpa_ptr(&big, MEM_HIGH_START + (2ULL << 30) - 1, 2) == NULL);
}

static void test_good_chain(void)
{
	reset();
	desc(0, 0x10000, 16, VRING_DESC_F_NEXT, 3);
	desc(3, 0x11000, 512, VRING_DESC_F_NEXT, 5);
	desc(5, 0x12000, 1, VRING_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(virtq_has_avail(&m, &q), 1);
	CHECK_EQ(virtq_pop(&m, &q, &c), 1);
	CHECK_EQ(c.head, 0);
	CHECK_EQ(c.nr, 2);
	CHECK_EQ(c.nw, 1);
	CHECK_EQ(c.rlen, 528);
	CHECK_EQ(c.wlen, 1);
	CHECK(c.seg[2].p == m.host + 0x12000);
	CHECK_EQ(virtq_pop(&m, &q, &c), 0);
	CHECK_EQ(virtq_push(&m, &q, 0, 1), 0);
	{
		uint16_t *u = gpa_ptr(&m, q.used, 4);
		uint32_t *e = gpa_ptr(&m, q.used + 4, 8);

		CHECK_EQ(u[1], 1);
		CHECK_EQ(e[0], 0);
		CHECK_EQ(e[1], 1);
	}
	CHECK_EQ(virtq_push(&m, &q, QSZ, 1), -EINVAL); /* head out of range */
}

static void test_interrupt_suppression(void)
{
	uint16_t *a;

	reset();
	a = gpa_ptr(&m, q.avail, 4);
	CHECK_EQ(virtq_wants_irq(&m, &q), 1);
	a[0] = VRING_AVAIL_F_NO_INTERRUPT;
	CHECK_EQ(virtq_wants_irq(&m, &q), 0);
	a[0] = 0;
	q.avail = MEMSZ + 4096; /* ring gone: interrupt rather than stall */
	CHECK_EQ(virtq_wants_irq(&m, &q), 1);
}

static void test_chain_read_write(void)
{
	uint8_t out[8], in[6] = "abcdef";

	reset();
	memcpy(m.host + 0x10000, "0123", 4);
	memcpy(m.host + 0x11000, "4567", 4);
	desc(0, 0x10000, 4, VRING_DESC_F_NEXT, 1);
	desc(1, 0x11000, 4, VRING_DESC_F_NEXT, 2);
	desc(2, 0x12000, 3, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	desc(3, 0x13000, 3, VRING_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), 1);
	CHECK_EQ(virtq_chain_read(&c, 2, out, 8), 6);
	CHECK(!memcmp(out, "234567", 6));
	CHECK_EQ(virtq_chain_write(&c, 1, in, 6), 5);
	CHECK(!memcmp(m.host + 0x12000, "\0ab", 3));
	CHECK(!memcmp(m.host + 0x13000, "cde", 3));
}

static void test_loop(void)
{
	reset();
	desc(0, 0x10000, 4, VRING_DESC_F_NEXT, 1);
	desc(1, 0x10000, 4, VRING_DESC_F_NEXT, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
	reset();
	desc(2, 0x10000, 4, VRING_DESC_F_NEXT, 2); /* self loop */
	offer(2);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
}

static void test_full_length_chain_ok(void)
{
	uint16_t i;

	reset();
	for (i = 0; i < QSZ; i++)
		desc(i, 0x10000, 4, i + 1 < QSZ ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), 1);
	CHECK_EQ(c.nr, QSZ);
}

static void test_bad_indexes(void)
{
	reset();
	offer(QSZ); /* head out of range */
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
	reset();
	desc(0, 0x10000, 4, VRING_DESC_F_NEXT, QSZ); /* next out of range */
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
	reset();
	desc(0, 0x10000, 4, 0, 0);
	offer(0);
	((uint16_t *)gpa_ptr(&m, q.avail, 4))[1] = QSZ + 1; /* too far ahead */
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
	CHECK_EQ(virtq_has_avail(&m, &q), -EINVAL);
	((uint16_t *)gpa_ptr(&m, q.avail, 4))[1] = 0xffff; /* "behind" = far ahead */
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
}

static void test_bad_addresses(void)
{
	reset();
	desc(0, MEMSZ - 2, 4, 0, 0); /* runs off the end of RAM */
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
	reset();
	desc(0, UINT64_MAX - 1, 4, 0, 0); /* addr + len wraps */
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
	reset();
	desc(0, 0x10000, 0xffffffff, 0, 0); /* 4 GiB into 1 MiB of RAM */
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
}

static void test_bad_flags(void)
{
	reset();
	desc(0, 0x10000, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(1, 0x10000, 4, 0, 0); /* readable after writable */
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
	reset();
	desc(0, 0x10000, 16, VRING_DESC_F_INDIRECT, 0); /* not offered */
	offer(0);
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
}

static void test_bad_config(void)
{
	reset();
	q.size = 3; /* not a power of 2 */
	CHECK_EQ(virtq_check(&m, &q), -EINVAL);
	q.size = 512; /* above our maximum */
	CHECK_EQ(virtq_check(&m, &q), -EINVAL);
	q.size = 0;
	CHECK_EQ(virtq_check(&m, &q), -EINVAL);
	reset();
	q.desc = MEMSZ - 16; /* table leaves RAM */
	CHECK_EQ(virtq_check(&m, &q), -EINVAL);
	reset();
	q.desc = 0x1008; /* misaligned */
	CHECK_EQ(virtq_check(&m, &q), -EINVAL);
	reset();
	q.ready = 0;
	CHECK_EQ(virtq_pop(&m, &q, &c), -EINVAL);
}

int main(void)
{
	check_skip_reason = "";
	mem_wrap(&m, calloc(1, MEMSZ), MEMSZ);
	TEST(test_gpa_ptr);
	TEST(test_good_chain);
	TEST(test_chain_read_write);
	TEST(test_interrupt_suppression);
	TEST(test_loop);
	TEST(test_full_length_chain_ok);
	TEST(test_bad_indexes);
	TEST(test_bad_addresses);
	TEST(test_bad_flags);
	TEST(test_bad_config);
	free(m.host);
	return check_exit();
}
