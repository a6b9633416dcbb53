/*
 * hv/bus.c: linear lookup over a handful of ranges; an access must lie
 * entirely inside one range. Unclaimed reads see 0xff bytes, as on a PC.
 */
#include <errno.h>
#include <string.h>

#include "hv/bus.h"

int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_fn fn, void *dev)
{
	int i;

	if (b->n >= BUS_MAX)
		return -ENOSPC;
	if (!len || base + len < base)
		return -EINVAL;
	for (i = 0; i < b->n; i++)
		if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len)
			return -EEXIST;
	b->r[b->n++] = (struct bus_range){ base, len, fn, dev };
	return 0;
}

int bus_dispatch(const struct bus *b, uint64_t addr, uint8_t *data,
		 uint32_t len, int is_write)
{
	int i;

	for (i = 0; i < b->n; i++) {
		const struct bus_range *r = &b->r[i];

		if (addr >= r->base && addr - r->base < r->len &&
		    len <= r->len - (addr - r->base)) {
			r->fn(r->dev, addr - r->base, data, len, is_write);
			return 0;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	return -ENOENT;
}
