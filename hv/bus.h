/*
 * hv/bus.h: port-I/O and MMIO dispatch by address range.
 *
 * A bus is a small fixed table filled at setup and read-only afterwards, so
 * vCPU threads look it up without a lock; each handler locks its device.
 */
#ifndef SBX_HV_BUS_H
#define SBX_HV_BUS_H

#include <stdint.h>

#define BUS_MAX 16

/* Handles one access at offset off of the range; data holds len bytes. */
typedef void (*bus_fn)(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		       int is_write);

struct bus_range {
	uint64_t base, len;
	bus_fn fn;
	void *dev;
};

struct bus {
	struct bus_range r[BUS_MAX];
	int n;
};

/* Adds [base, base+len). 0, -EEXIST on overlap, -ENOSPC. Setup only. */
int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_fn fn, void *dev);

/*
 * Dispatches an access. Returns 0 if a device took it, -ENOENT if none
 * (reads then return all ones). Any thread.
 */
int bus_dispatch(const struct bus *b, uint64_t addr, uint8_t *data,
		 uint32_t len, int is_write);

#endif
