/*
 * tests/unit/guest_ring.c: the bounded log ring of background processes:
 * reads by absolute offset, wrap-around, dropped-byte accounting, offsets
 * that were dropped moved up, writes larger than the ring, a freed ring.
 */
#include "guest/ring.h"
#include "tests/lib/check.h"

#include <stdlib.h>

static uint8_t pattern(uint64_t o)
{
	return (uint8_t)(o * 7 + (o >> 11));
}

static void put_pattern(struct ring *r, size_t n)
{
	uint8_t *p = malloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = pattern(r->total + i);
	ring_put(r, p, n);
	free(p);
}

/* 1 when every byte from off to the end reads back as the pattern. */
static int reads_back(const struct ring *r, uint64_t off)
{
	static uint8_t buf[65536];
	uint64_t o = off;
	size_t n, i;

	while ((n = ring_get(r, &o, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(o - n + i))
				return 0;
	return o == r->total;
}

static void test_small(void)
{
	struct ring r = { 0 };
	uint64_t off = 0;
	uint8_t buf[8];

	CHECK_EQ(ring_get(&r, &off, buf, sizeof(buf)), 0);
	ring_put(&r, (const uint8_t *)"hello", 5);
	CHECK_EQ(ring_get(&r, &off, buf, 3), 3);
	CHECK(memcmp(buf, "hel", 3) == 0);
	CHECK_EQ(ring_get(&r, &off, buf, 8), 2);
	CHECK_EQ(off, 5);
	CHECK_EQ(ring_dropped(&r), 0);
	ring_free(&r);
}

static void test_wrap_and_drop(void)
{
	struct ring r = { 0 };
	uint64_t off = 0;
	uint8_t b;
	int i;

	for (i = 0; i < 40; i++)
		put_pattern(&r, 100003);
	CHECK_EQ(r.total, 4000120);
	CHECK_EQ(ring_dropped(&r), 4000120 - RING_CAP);
	CHECK(reads_back(&r, 0));
	CHECK(reads_back(&r, r.total - 10));
	CHECK_EQ(ring_get(&r, &off, &b, 1), 1);
	CHECK_EQ(off, ring_dropped(&r) + 1);
	ring_free(&r);
}

static void test_huge_write(void)
{
	struct ring r = { 0 };

	put_pattern(&r, 3 * RING_CAP + 17);
	CHECK_EQ(r.total, 3 * RING_CAP + 17);
	CHECK(reads_back(&r, 0));
	ring_free(&r);
}

static void test_freed(void)
{
	struct ring r = { 0 };
	uint64_t off = 0;
	uint8_t b;

	put_pattern(&r, 1000);
	ring_free(&r);
	CHECK_EQ(ring_dropped(&r), 1000);
	CHECK_EQ(ring_get(&r, &off, &b, 1), 0);
	CHECK_EQ(off, 1000);
}

int main(void)
{
	TEST(test_small);
	TEST(test_wrap_and_drop);
	TEST(test_huge_write);
	TEST(test_freed);
	return check_exit();
}
