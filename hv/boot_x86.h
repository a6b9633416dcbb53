/*
 * hv/boot_x86.h: Linux x86_64 64-bit boot protocol (Documentation/x86/boot.rst).
 *
 * Pure functions over guest RAM (struct vm_mem), testable without /dev/kvm:
 * load the kernel (vmlinux ELF by its program headers' physical addresses,
 * or a bzImage's protected-mode part at 1 MiB), place the initramfs high
 * below the top of low RAM, assemble the command line, and build the zero
 * page (struct boot_params) with its e820 map.
 *
 * Fixed guest-physical layout below 1 MiB:
 *   0x0500  GDT            0x7000  zero page       0x9000  PML4
 *   0xa000  PDPT           0xb000  4 PDs (0xb000..0xefff, 2 MiB pages)
 *   0x20000 command line   0x9fc00 MP table (last KiB of base memory)
 */
#ifndef SBX_HV_BOOT_X86_H
#define SBX_HV_BOOT_X86_H

#include <stddef.h>
#include <stdint.h>

#include "hv/memory.h"

#define BOOT_GDT_ADDR 0x500ULL
#define BOOT_ZERO_PAGE 0x7000ULL
#define BOOT_STACK_TOP 0x6ff0ULL
#define BOOT_PML4 0x9000ULL
#define BOOT_PDPT 0xa000ULL
#define BOOT_PD 0xb000ULL
#define BOOT_CMDLINE 0x20000ULL
#define BOOT_CMDLINE_MAX 4096
#define BOOT_MPTABLE 0x9fc00ULL
#define BOOT_EBDA_START 0x9fc00ULL
#define BOOT_HIMEM 0x100000ULL
#define BOOT_E820_MAX 8

/* Result of loading a kernel image. */
struct boot_kernel {
	uint64_t entry;        /* 64-bit entry point (guest-physical) */
	uint64_t end;          /* first byte after the loaded kernel */
	int is_bzimage;
	uint8_t setup_hdr[0x80]; /* bzImage: bytes 0x1f1.. of the image */
	size_t setup_hdr_len;
	uint32_t initrd_addr_max;
};

/* One PT_LOAD segment of a vmlinux, checked against the file and RAM. */
struct boot_seg {
	uint64_t offset, filesz; /* in the file */
	uint64_t paddr, memsz;   /* in the guest */
};

#define BOOT_MAX_SEGS 16

/*
 * Lists the PT_LOAD segments of an ELF vmlinux in img[0..len): every one
 * lies inside the file and inside guest RAM. Returns the count (>= 1) and
 * sets *entry (physical), or -ENOEXEC (not an x86_64 ELF) / -EINVAL.
 */
int boot_elf_segments(const struct vm_mem *m, const void *img, size_t len,
		      struct boot_seg *segs, int max, uint64_t *entry);

/*
 * Loads a kernel image (ELF vmlinux or bzImage) from img[0..len) into guest
 * RAM. Returns 0 and fills *k, or -ENOEXEC (not a kernel we boot), -EINVAL
 * (a segment outside RAM or malformed headers).
 */
int boot_load_kernel(const struct vm_mem *m, const void *img, size_t len,
		     struct boot_kernel *k);

/*
 * Picks where the initramfs of size len goes: the highest 2 MiB... 4 KiB
 * aligned address so that it ends below min(low RAM top, max_addr+1) and
 * starts above kernel_end. Returns the address or 0 if it does not fit.
 */
uint64_t boot_initrd_addr(const struct vm_mem *m, uint64_t len,
			  uint64_t kernel_end, uint64_t max_addr);

/* One e820 entry as Linux reads it. */
struct boot_e820 {
	uint64_t addr, size;
	uint32_t type; /* 1 RAM, 2 reserved */
};

/*
 * Fills out[] with the e820 map for m: RAM [0, EBDA), reserved EBDA..1 MiB,
 * RAM [1 MiB, low top), RAM above 4 GiB. Returns the number of entries.
 */
int boot_e820_build(const struct vm_mem *m, struct boot_e820 *out, int max);

/*
 * Assembles the kernel command line into out[0..outsz): the fixed words
 * (console, reboot, panic), the virtio_mmio.device= words for ndev devices
 * at mmio_base + i*mmio_stride with irq irq_base+i, then extra (may be NULL).
 * Returns the length (without NUL) or -E2BIG.
 */
int boot_cmdline_build(char *out, size_t outsz, int ndev, uint64_t mmio_base,
		       uint64_t mmio_stride, unsigned irq_base,
		       const char *extra);

/*
 * Writes the zero page at BOOT_ZERO_PAGE and the command line at
 * BOOT_CMDLINE: setup header (copied from a bzImage if any), loader type,
 * cmd_line_ptr, ramdisk, e820 table. Returns 0 or -EINVAL.
 */
int boot_zero_page_build(const struct vm_mem *m, const struct boot_kernel *k,
			 const char *cmdline, uint64_t initrd_addr,
			 uint64_t initrd_len);

#endif
