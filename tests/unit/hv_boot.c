/*
 * tests/unit/hv_boot.c: the x86 boot pieces as pure functions: e820 map,
 * command line assembly, initramfs placement, zero page fields
 * (Documentation/x86/boot.rst), ELF and bzImage loading with hostile
 * headers, and the MP table's checksums and entries.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>

#include "hv/boot_x86.h"
#include "hv/mptable.h"
#include "tests/lib/check.h"

#define MEMSZ (64u << 20)

static struct vm_mem m;

static void test_e820(void)
{
	struct vm_mem big = { .size = 6ULL << 30, .low_size = MEM_LOW_END };
	struct boot_e820 e[8];
	int n;

	n = boot_e820_build(&m, e, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(e[0].addr, 0);
	CHECK_EQ(e[0].size, BOOT_EBDA_START);
	CHECK_EQ(e[0].type, 1);
	CHECK_EQ(e[1].type, 2);
	CHECK_EQ(e[1].addr + e[1].size, 0x100000);
	CHECK_EQ(e[2].addr, 0x100000);
	CHECK_EQ(e[2].addr + e[2].size, MEMSZ);
	n = boot_e820_build(&big, e, 8);
	CHECK_EQ(n, 4);
	CHECK_EQ(e[2].addr + e[2].size, MEM_LOW_END);
	CHECK_EQ(e[3].addr, MEM_HIGH_START);
	CHECK_EQ(e[3].size, (6ULL << 30) - MEM_LOW_END);
	CHECK_EQ(boot_e820_build(&big, e, 2), 2); /* bounded by the caller's array */
}

static void test_cmdline(void)
{
	char buf[512], tiny[40];
	int n;

	n = boot_cmdline_build(buf, sizeof(buf), 3, 0xd0000000, 0x1000, 5, "quiet");
	CHECK(n > 0);
	CHECK_EQ((size_t)n, strlen(buf));
	CHECK(!strcmp(buf, "console=ttyS0 reboot=k panic=-1 quiet"
			   " virtio_mmio.device=4K@0xd0000000:5"
			   " virtio_mmio.device=4K@0xd0001000:6"
			   " virtio_mmio.device=4K@0xd0002000:7 quiet"));
	n = boot_cmdline_build(buf, sizeof(buf), 0, 0, 0, 0, NULL);
	CHECK_EQ((size_t)n, strlen(buf));
	CHECK(!strcmp(buf, "console=ttyS0 reboot=k panic=-1 quiet"));
	CHECK_EQ(boot_cmdline_build(tiny, sizeof(tiny), 1, 0xd0000000, 0x1000, 5, NULL), -E2BIG);
}

static void test_initrd_addr(void)
{
	uint64_t a;

	a = boot_initrd_addr(&m, 1000000, 0x200000, 0x7fffffff);
	CHECK(a);
	CHECK_EQ(a & 0xfff, 0);
	CHECK(a + 1000000 <= MEMSZ);
	CHECK(a + 1000000 > MEMSZ - 0x1000); /* as high as it goes */
	CHECK_EQ(boot_initrd_addr(&m, MEMSZ, 0x200000, 0x7fffffff), 0); /* too big */
	CHECK_EQ(boot_initrd_addr(&m, 60u << 20, 8u << 20, 0x7fffffff), 0); /* hits kernel */
	a = boot_initrd_addr(&m, 4096, 0x200000, 0x1fffff + (16u << 20));
	CHECK_EQ(a, (18u << 20) - 4096); /* initrd_addr_max respected */
}

static void test_zero_page(void)
{
	struct boot_kernel k = { .entry = 0x1000000, .end = 0x2000000 };
	struct boot_params *bp;

	CHECK_EQ(boot_zero_page_build(&m, &k, "console=ttyS0", 0x3000000, 12345), 0);
	bp = gpa_ptr(&m, BOOT_ZERO_PAGE, sizeof(*bp));
	CHECK_EQ(bp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(bp->hdr.header, 0x53726448);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK(bp->hdr.loadflags & LOADED_HIGH);
	CHECK_EQ(bp->hdr.cmd_line_ptr, BOOT_CMDLINE);
	CHECK_EQ(bp->hdr.cmdline_size, 13);
	CHECK(!strcmp((char *)gpa_ptr(&m, BOOT_CMDLINE, 14), "console=ttyS0"));
	CHECK_EQ(bp->hdr.ramdisk_image, 0x3000000);
	CHECK_EQ(bp->hdr.ramdisk_size, 12345);
	CHECK_EQ(bp->e820_entries, 3);
	CHECK_EQ(bp->e820_table[2].addr, 0x100000);
	{
		char longline[BOOT_CMDLINE_MAX + 1];

		memset(longline, 'a', sizeof(longline) - 1);
		longline[sizeof(longline) - 1] = 0;
		CHECK_EQ(boot_zero_page_build(&m, &k, longline, 0, 0), -EINVAL);
	}
}

struct elf_img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t code[64];
};

static void elf_init(struct elf_img *e)
{
	memset(e, 0, sizeof(*e));
	memcpy(e->eh.e_ident, ELFMAG, SELFMAG);
	e->eh.e_ident[EI_CLASS] = ELFCLASS64;
	e->eh.e_machine = EM_X86_64;
	e->eh.e_entry = 0xffffffff81000000ULL; /* virtual: converted */
	e->eh.e_phoff = sizeof(e->eh);
	e->eh.e_phentsize = sizeof(Elf64_Phdr);
	e->eh.e_phnum = 1;
	e->ph[0].p_type = PT_LOAD;
	e->ph[0].p_offset = offsetof(struct elf_img, code);
	e->ph[0].p_paddr = 0x1000000;
	e->ph[0].p_filesz = 64;
	e->ph[0].p_memsz = 4096;
	memset(e->code, 0x90, 64);
}

static void test_elf(void)
{
	struct boot_kernel k;
	struct elf_img e;

	elf_init(&e);
	memset(m.host + 0x1000000, 0xee, 4096);
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), 0);
	CHECK_EQ(k.entry, 0x1000000);
	CHECK_EQ(k.end, 0x1001000);
	CHECK_EQ(m.host[0x1000000], 0x90);
	CHECK_EQ(m.host[0x1000040], 0); /* bss zeroed */
	elf_init(&e);
	e.ph[0].p_paddr = MEMSZ - 100; /* segment leaves RAM */
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), -EINVAL);
	elf_init(&e);
	e.ph[0].p_filesz = 1 << 20; /* beyond the file */
	e.ph[0].p_memsz = 1 << 20;
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), -EINVAL);
	elf_init(&e);
	e.ph[0].p_filesz = 8192; /* filesz > memsz */
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), -EINVAL);
	elf_init(&e);
	e.eh.e_phnum = 60000; /* headers beyond the file */
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), -EINVAL);
	elf_init(&e);
	e.eh.e_phoff = UINT64_MAX - 8;
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), -EINVAL);
	elf_init(&e);
	e.eh.e_machine = EM_386;
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), -ENOEXEC);
	elf_init(&e);
	e.eh.e_entry = 0x5000000; /* entry outside RAM */
	CHECK_EQ(boot_load_kernel(&m, &e, sizeof(e), &k), -EINVAL);
}

static void test_bzimage(void)
{
	static uint8_t img[8192];
	struct boot_params *bp;
	struct boot_kernel k;

	memset(img, 0, sizeof(img));
	img[0x1f1] = 3;                      /* setup_sects: (3+1)*512 = 2048 */
	img[0x1fe] = 0x55; img[0x1ff] = 0xaa; /* boot_flag */
	memcpy(img + 0x202, "HdrS", 4);
	img[0x201] = 0x6a;                   /* jump: header ends at 0x26c */
	img[0x206] = 0x0f; img[0x207] = 0x02; /* version 2.15 */
	img[0x236] = 1;                      /* XLF_KERNEL_64 */
	img[0x22c] = 0xff; img[0x22d] = 0xff; img[0x22e] = 0xff; img[0x22f] = 0x7f;
	img[2048] = 0xf4;
	CHECK_EQ(boot_load_kernel(&m, img, sizeof(img), &k), 0);
	CHECK_EQ(k.is_bzimage, 1);
	CHECK_EQ(k.entry, 0x100200);
	CHECK_EQ(m.host[0x100000], 0xf4);
	CHECK_EQ(k.initrd_addr_max, 0x7fffffff);
	CHECK_EQ(boot_zero_page_build(&m, &k, "x", 0, 0), 0);
	bp = gpa_ptr(&m, BOOT_ZERO_PAGE, sizeof(*bp));
	CHECK_EQ(bp->hdr.setup_sects, 3);
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	img[0x236] = 0; /* no 64-bit entry */
	CHECK_EQ(boot_load_kernel(&m, img, sizeof(img), &k), -ENOEXEC);
	img[0x236] = 1;
	img[0x1f1] = 200; /* setup beyond the file */
	CHECK_EQ(boot_load_kernel(&m, img, sizeof(img), &k), -EINVAL);
	CHECK_EQ(boot_load_kernel(&m, img, 16, &k), -ENOEXEC);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void test_mptable(void)
{
	uint8_t buf[1024];
	uint16_t len, count;
	int n, i, cpus = 0;

	n = mptable_build(buf, sizeof(buf), 0x9fc00, 4);
	CHECK(n > 0);
	CHECK(!memcmp(buf, "_MP_", 4));
	CHECK_EQ(sum(buf, 16), 0);
	CHECK_EQ(buf[4] | buf[5] << 8 | buf[6] << 16 | buf[7] << 24, 0x9fc10);
	CHECK(!memcmp(buf + 16, "PCMP", 4));
	len = (uint16_t)(buf[20] | buf[21] << 8);
	count = (uint16_t)(buf[16 + 34] | buf[16 + 35] << 8);
	CHECK_EQ(16 + len, n);
	CHECK_EQ(sum(buf + 16, len), 0);
	CHECK_EQ(count, 4 + 1 + 1 + 24 + 2);
	for (i = 16 + 44; i < n;) {
		if (buf[i] == 0) {
			CHECK_EQ(buf[i + 1], cpus);
			CHECK_EQ(buf[i + 3] & 2, cpus == 0 ? 2 : 0); /* BSP flag */
			cpus++;
			i += 20;
		} else {
			i += 8;
		}
	}
	CHECK_EQ(cpus, 4);
	CHECK_EQ(mptable_build(buf, sizeof(buf), 0x9fc00, 0), -EINVAL);
	CHECK_EQ(mptable_build(buf, sizeof(buf), 0x9fc00, MPTABLE_MAX_CPUS + 1), -EINVAL);
	CHECK(mptable_build(buf, sizeof(buf), 0x9fc00, MPTABLE_MAX_CPUS) > 0);
	CHECK_EQ(mptable_build(buf, 100, 0x9fc00, 2), -E2BIG);
}

int main(void)
{
	check_skip_reason = "";
	mem_wrap(&m, calloc(1, MEMSZ), MEMSZ);
	TEST(test_e820);
	TEST(test_cmdline);
	TEST(test_initrd_addr);
	TEST(test_zero_page);
	TEST(test_elf);
	TEST(test_bzimage);
	TEST(test_mptable);
	free(m.host);
	return check_exit();
}
