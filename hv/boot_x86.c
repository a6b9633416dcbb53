/*
 * hv/boot_x86.c: kernel loading and the zero page (Linux x86 boot protocol,
 * Documentation/x86/boot.rst, "64-bit Boot Protocol").
 *
 * A vmlinux ELF is loaded by its PT_LOAD physical addresses and entered at
 * e_entry (phys_startup_64). A bzImage's protected-mode part (after
 * (setup_sects+1)*512 bytes) goes to 1 MiB and is entered at +0x200, the
 * 64-bit entry. Either way the vCPU starts in long mode with rsi = zero page.
 * All guest writes go through gpa_ptr(); the image is untrusted input too.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <asm/bootparam.h>

#include "hv/boot_x86.h"

#define KERNEL_MAP 0xffffffff80000000ULL
#define E820_RAM 1
#define E820_RESERVED 2

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }


int boot_elf_segments(const struct vm_mem *m, const void *img, size_t len,
		      struct boot_seg *segs, int max, uint64_t *entry)
{
	const uint8_t *p = img;
	Elf64_Ehdr eh;
	int i, n = 0;

	if (len < sizeof(eh) || memcmp(p, ELFMAG, SELFMAG))
		return -ENOEXEC;
	memcpy(&eh, p, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr))
		return -ENOEXEC;
	if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return -EINVAL;
	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, p + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len ||
		    ph.p_filesz > len - ph.p_offset || n >= max)
			return -EINVAL;
		if (!gpa_ptr(m, ph.p_paddr, ph.p_memsz))
			return -EINVAL;
		segs[n++] = (struct boot_seg){ ph.p_offset, ph.p_filesz, ph.p_paddr, ph.p_memsz };
	}
	if (!n)
		return -EINVAL;
	*entry = eh.e_entry >= KERNEL_MAP ? eh.e_entry - KERNEL_MAP : eh.e_entry;
	if (!gpa_ptr(m, *entry, 1))
		return -EINVAL;
	return n;
}

static int boot_load_elf(const struct vm_mem *m, const uint8_t *img, size_t len,
			 struct boot_kernel *k)
{
	struct boot_seg seg[BOOT_MAX_SEGS];
	int i, n;

	n = boot_elf_segments(m, img, len, seg, BOOT_MAX_SEGS, &k->entry);
	if (n < 0)
		return n;
	k->end = 0;
	for (i = 0; i < n; i++) {
		uint8_t *dst = gpa_ptr(m, seg[i].paddr, seg[i].memsz);

		memcpy(dst, img + seg[i].offset, seg[i].filesz);
		memset(dst + seg[i].filesz, 0, seg[i].memsz - seg[i].filesz);
		if (seg[i].paddr + seg[i].memsz > k->end)
			k->end = seg[i].paddr + seg[i].memsz;
	}
	k->is_bzimage = 0;
	k->initrd_addr_max = 0x7fffffff;
	return 0;
}

static int boot_load_bzimage(const struct vm_mem *m, const uint8_t *img,
			     size_t len, struct boot_kernel *k)
{
	size_t setup, hdr_end, pm_len;
	uint64_t init_size;
	uint8_t *dst;

	if (len < 0x268 || rd16(img + 0x1fe) != 0xaa55 ||
	    rd32(img + 0x202) != 0x53726448)
		return -ENOEXEC;
	if (rd16(img + 0x206) < 0x20c || !(rd16(img + 0x236) & 1 /* XLF_KERNEL_64 */))
		return -ENOEXEC;
	setup = img[0x1f1] ? img[0x1f1] : 4;
	setup = (setup + 1) * 512;
	if (setup >= len)
		return -EINVAL;
	hdr_end = 0x202 + img[0x201];
	if (hdr_end > 0x1f1 + sizeof(k->setup_hdr))
		hdr_end = 0x1f1 + sizeof(k->setup_hdr);
	k->setup_hdr_len = hdr_end - 0x1f1;
	memcpy(k->setup_hdr, img + 0x1f1, k->setup_hdr_len);
	pm_len = len - setup;
	init_size = rd32(img + 0x260);
	if (init_size < pm_len)
		init_size = pm_len;
	dst = gpa_ptr(m, BOOT_HIMEM, init_size);
	if (!dst)
		return -EINVAL;
	memcpy(dst, img + setup, pm_len);
	k->entry = BOOT_HIMEM + 0x200;
	k->end = BOOT_HIMEM + init_size;
	k->is_bzimage = 1;
	k->initrd_addr_max = rd32(img + 0x22c);
	if (!k->initrd_addr_max)
		k->initrd_addr_max = 0x37ffffff;
	return 0;
}

int boot_load_kernel(const struct vm_mem *m, const void *img, size_t len,
		     struct boot_kernel *k)
{
	const uint8_t *p = img;

	memset(k, 0, sizeof(*k));
	if (len >= 4 && !memcmp(p, ELFMAG, SELFMAG))
		return boot_load_elf(m, p, len, k);
	return boot_load_bzimage(m, p, len, k);
}

uint64_t boot_initrd_addr(const struct vm_mem *m, uint64_t len,
			  uint64_t kernel_end, uint64_t max_addr)
{
	uint64_t top = m->low_size, addr;

	if (max_addr && max_addr < UINT64_MAX && max_addr + 1 < top)
		top = max_addr + 1;
	if (len > top)
		return 0;
	addr = (top - len) & ~0xfffULL;
	if (addr < kernel_end || addr < BOOT_HIMEM)
		return 0;
	return addr;
}

int boot_e820_build(const struct vm_mem *m, struct boot_e820 *out, int max)
{
	struct boot_e820 e[4];
	int n = 0, i;

	e[n++] = (struct boot_e820){ 0, BOOT_EBDA_START, E820_RAM };
	e[n++] = (struct boot_e820){ BOOT_EBDA_START, BOOT_HIMEM - BOOT_EBDA_START,
				     E820_RESERVED };
	if (m->low_size > BOOT_HIMEM)
		e[n++] = (struct boot_e820){ BOOT_HIMEM, m->low_size - BOOT_HIMEM, E820_RAM };
	if (m->size > m->low_size)
		e[n++] = (struct boot_e820){ MEM_HIGH_START, m->size - m->low_size, E820_RAM };
	for (i = 0; i < n && i < max; i++)
		out[i] = e[i];
	return i;
}

int boot_cmdline_build(char *out, size_t outsz, int ndev, uint64_t mmio_base,
		       uint64_t mmio_stride, unsigned irq_base,
		       const char *extra)
{
	size_t n;
	int i, r;

	r = snprintf(out, outsz, "console=ttyS0 reboot=k panic=-1 quiet");
	if (r < 0 || (size_t)r >= outsz)
		return -E2BIG;
	n = (size_t)r;
	for (i = 0; i < ndev; i++) {
		r = snprintf(out + n, outsz - n, " virtio_mmio.device=4K@0x%llx:%u",
			     (unsigned long long)(mmio_base + (uint64_t)i * mmio_stride),
			     irq_base + (unsigned)i);
		if (r < 0 || (size_t)r >= outsz - n)
			return -E2BIG;
		n += (size_t)r;
	}
	if (extra && *extra) {
		r = snprintf(out + n, outsz - n, " %s", extra);
		if (r < 0 || (size_t)r >= outsz - n)
			return -E2BIG;
		n += (size_t)r;
	}
	return (int)n;
}

int boot_zero_page_build(const struct vm_mem *m, const struct boot_kernel *k,
			 const char *cmdline, uint64_t initrd_addr,
			 uint64_t initrd_len)
{
	struct boot_params *bp = gpa_ptr(m, BOOT_ZERO_PAGE, sizeof(*bp));
	size_t clen = strlen(cmdline);
	struct boot_e820 e[BOOT_E820_MAX];
	char *cl;
	int n, i;

	cl = gpa_ptr(m, BOOT_CMDLINE, BOOT_CMDLINE_MAX);
	if (!bp || !cl || clen >= BOOT_CMDLINE_MAX)
		return -EINVAL;
	memset(bp, 0, sizeof(*bp));
	memcpy(cl, cmdline, clen + 1);
	if (k->is_bzimage)
		memcpy((uint8_t *)bp + 0x1f1, k->setup_hdr, k->setup_hdr_len);
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.boot_flag = 0xaa55;
	bp->hdr.header = 0x53726448; /* "HdrS" */
	bp->hdr.loadflags |= LOADED_HIGH;
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE;
	bp->hdr.cmdline_size = (uint32_t)clen;
	if (initrd_len) {
		bp->hdr.ramdisk_image = (uint32_t)initrd_addr;
		bp->hdr.ramdisk_size = (uint32_t)initrd_len;
		bp->ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
		bp->ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	}
	n = boot_e820_build(m, e, BOOT_E820_MAX);
	for (i = 0; i < n; i++) {
		bp->e820_table[i].addr = e[i].addr;
		bp->e820_table[i].size = e[i].size;
		bp->e820_table[i].type = e[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	return 0;
}
