/*
 * tests/fuzz/virtq_fuzz.c: the split-virtqueue walker over guest memory
 * the fuzzer writes. The first bytes pick the queue size and the avail idx
 * offset; the rest is 64 KiB of guest RAM holding the rings. Every pop must
 * end (bounded), return only segments inside RAM, and never touch memory
 * outside the buffer (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/memory.h"
#include "hv/virtq.h"

#define RAM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain c;
	struct vm_mem m;
	struct virtq q;
	uint8_t *ram;
	int i, r, j;

	if (size < 4)
		return 0;
	ram = calloc(1, RAM);
	if (!ram)
		return 0;
	memcpy(ram, data + 4, size - 4 < RAM ? size - 4 : RAM);
	mem_wrap(&m, ram, RAM);
	q = (struct virtq){
		.size = (uint16_t)(1u << (data[0] % 10)), /* 1..512: 512 is refused */
		.ready = 1,
		.desc = 0x0000,
		.avail = 0x2000 + (data[1] & 0x3e) * 0x10,
		.used = 0x4000,
		.last_avail = (uint16_t)(data[2] | data[3] << 8),
	};
	for (i = 0; i < 600; i++) {
		r = virtq_pop(&m, &q, &c);
		if (r <= 0)
			break;
		for (j = 0; j < c.nr + c.nw; j++) {
			uint8_t *p = c.seg[j].p;

			if (p < ram || p + c.seg[j].len > ram + RAM)
				abort();
			if (c.seg[j].len)
				p[c.seg[j].len - 1] ^= 0; /* touch the last byte */
		}
		{
			uint8_t tmp[64];

			virtq_chain_read(&c, c.rlen / 2, tmp, sizeof(tmp));
			virtq_chain_write(&c, c.wlen / 2, tmp, sizeof(tmp));
		}
		if (virtq_push(&m, &q, c.head, (uint32_t)c.wlen) < 0)
			break;
	}
	free(ram);
	return 0;
}
