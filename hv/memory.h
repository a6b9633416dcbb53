/*
 * hv/memory.h: guest physical memory and its one checked accessor.
 *
 * Guest RAM is one anonymous MAP_NORESERVE mapping. Below 4 GiB it ends at
 * MEM_LOW_END at most (the 32-bit MMIO hole holds virtio-mmio, the IOAPIC and
 * the LAPIC); the rest is mapped from 4 GiB up. Every access to guest memory
 * from device code goes through gpa_ptr(), which refuses ranges that overflow
 * or leave RAM, so a hostile guest address can never reach host memory.
 */
#ifndef SBX_HV_MEMORY_H
#define SBX_HV_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#define MEM_LOW_END 0xc0000000ULL  /* 3 GiB: start of the MMIO hole */
#define MEM_HIGH_START 0x100000000ULL

struct vm_mem {
	uint8_t *host;     /* host mapping of all guest RAM, size bytes */
	uint64_t size;     /* total RAM */
	uint64_t low_size; /* RAM at [0, low_size); the rest at [4 GiB, ...) */
};

/*
 * Maps size bytes of guest RAM (MAP_NORESERVE) into m. Returns 0 or -errno.
 * Setup only. (Not mem_init: lwIP, linked into sbx-vmm, has that name.)
 */
int vm_mem_init(struct vm_mem *m, uint64_t size);

/* Describes an existing buffer as guest RAM (tests, fuzzers). */
void mem_wrap(struct vm_mem *m, void *buf, uint64_t size);

/* Unmaps what vm_mem_init mapped. */
void vm_mem_free(struct vm_mem *m);

/*
 * Returns a host pointer to guest-physical [gpa, gpa+len) if the whole range
 * lies inside one RAM region, else NULL. len 0 is allowed (for a valid gpa).
 * Pure; any thread. The pointer is borrowed: valid while m is.
 */
void *gpa_ptr(const struct vm_mem *m, uint64_t gpa, uint64_t len);

#endif
