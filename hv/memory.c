/*
 * hv/memory.c: guest RAM mapping and the checked gpa → host accessor.
 *
 * Layout: [0, low_size) is host[0, low_size); [4 GiB, 4 GiB + size - low_size)
 * is host[low_size, size). MAP_NORESERVE so untouched RAM costs nothing.
 */
#include <errno.h>
#include <sys/mman.h>

#include "hv/memory.h"

int vm_mem_init(struct vm_mem *m, uint64_t size)
{
	void *p;

	if (size < (2ULL << 20) || size > (1ULL << 40))
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, size, MADV_MERGEABLE);
	mem_wrap(m, p, size);
	return 0;
}

void mem_wrap(struct vm_mem *m, void *buf, uint64_t size)
{
	m->host = buf;
	m->size = size;
	m->low_size = size < MEM_LOW_END ? size : MEM_LOW_END;
}

void vm_mem_free(struct vm_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	m->host = NULL;
}

void *gpa_ptr(const struct vm_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	if (end <= m->low_size)
		return m->host + gpa;
	if (gpa >= MEM_HIGH_START) {
		uint64_t off = gpa - MEM_HIGH_START;

		if (off + len <= m->size - m->low_size) /* off, len < 2^40 here */
			return m->host + m->low_size + off;
	}
	return NULL;
}
