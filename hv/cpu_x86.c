/*
 * hv/cpu_x86.c: puts a vCPU in 64-bit long mode the way the Linux 64-bit
 * boot protocol wants it (Documentation/x86/boot.rst, "64-bit Boot
 * Protocol"): paging on with an identity map of the low 4 GiB (2 MiB pages;
 * 1 GiB pages fault under the nested /dev/kvm here), a flat GDT with
 * __BOOT_CS = 0x10 and __BOOT_DS = 0x18, interrupts off, rsi = zero page.
 *
 * CPUID is KVM_GET_SUPPORTED_CPUID with the APIC id and the hypervisor bit
 * patched per vCPU; a few MSRs get sane values; LINT0/LINT1 of each LAPIC
 * become ExtINT/NMI as on a PC. Application processors are left in
 * wait-for-SIPI: the guest starts them itself (the MP table lists them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kvm.h>

#include "hv/boot_x86.h"
#include "hv/vmm.h"

#define CR0_PE 0x1ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL

static const uint64_t cpu_gdt[] = {
	0,                     /* null */
	0,                     /* unused */
	0x00af9b000000ffffULL, /* 0x10: code, 64-bit, DPL 0 */
	0x00cf93000000ffffULL, /* 0x18: data, 4 GiB flat */
	0x00008b0000000067ULL, /* 0x20: 64-bit TSS, busy */
};

int cpu_x86_tables(const struct vm_mem *m)
{
	uint64_t *gdt = gpa_ptr(m, BOOT_GDT_ADDR, sizeof(cpu_gdt));
	uint64_t *pml4 = gpa_ptr(m, BOOT_PML4, 4096);
	uint64_t *pdpt = gpa_ptr(m, BOOT_PDPT, 4096);
	uint64_t *pd = gpa_ptr(m, BOOT_PD, 4 * 4096);
	uint64_t i;

	if (!gdt || !pml4 || !pdpt || !pd)
		return -EINVAL;
	memcpy(gdt, cpu_gdt, sizeof(cpu_gdt));
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT | PTE_P | PTE_RW;
	for (i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD + i * 4096) | PTE_P | PTE_RW;
	for (i = 0; i < 2048; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

static struct kvm_segment cpu_seg(uint16_t sel, uint8_t type, int code)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

static int cpu_set_sregs(struct vcpu *v)
{
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	s.cs = cpu_seg(0x10, 0xb, 1);
	s.ds = s.es = s.fs = s.gs = s.ss = cpu_seg(0x18, 0x3, 0);
	s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20,
				     .type = 0xb, .present = 1 };
	s.gdt.base = BOOT_GDT_ADDR;
	s.gdt.limit = sizeof(cpu_gdt) - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	s.cr3 = BOOT_PML4;
	s.cr4 = CR4_PAE;
	s.efer = EFER_LME | EFER_LMA;
	return ioctl(v->fd, KVM_SET_SREGS, &s) < 0 ? -errno : 0;
}

static int cpu_set_regs(struct vcpu *v)
{
	struct kvm_regs r = {
		.rip = v->vm->entry,
		.rsi = BOOT_ZERO_PAGE,
		.rsp = BOOT_STACK_TOP,
		.rbp = BOOT_STACK_TOP,
		.rflags = 0x2,
	};
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return ioctl(v->fd, KVM_SET_REGS, &r) < 0 ? -errno : 0;
}

static int cpu_set_cpuid(struct vcpu *v)
{
	struct kvm_cpuid2 *c;
	int nent = 128, r = 0, tsc_deadline, avx = 0;
	uint32_t i;

	for (;;) {
		c = calloc(1, sizeof(*c) + (size_t)nent * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = (uint32_t)nent;
		if (ioctl(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		r = -errno;
		free(c);
		if (r != -E2BIG || nent > 4096)
			return r;
		nent *= 2;
	}
	tsc_deadline = ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			avx = (c->entries[i].ecx >> 28) & 1;
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | ((uint32_t)v->id << 24) |
				 ((uint32_t)v->vm->ncpus << 16);
			e->ecx |= 1U << 31; /* hypervisor present */
			/* KVM emulates the TSC-deadline LAPIC timer but does not
			 * report it (api.rst, KVM_GET_SUPPORTED_CPUID); without it
			 * Linux calibrates the LAPIC timer, slowly. */
			if (tsc_deadline)
				e->ecx |= 1U << 24;
			if (v->vm->ncpus > 1)
				e->edx |= 1U << 28; /* HTT: multiple logical CPUs */
			break;
		case 0xb:
		case 0x1f:
			e->edx = (uint32_t)v->id; /* x2APIC id */
			break;
		case 6:
			e->ecx &= ~(1U << 3); /* no energy-perf bias MSR */
			break;
		case 0xd:
			/* XSAVE leaf: offer no state component whose feature bit
			 * leaf 1 lacks (AVX), or Linux warns "XSAVE consistency
			 * problem" and sizes disagree. */
			if (e->index == 0 && !avx) {
				e->eax &= ~0xe4U; /* AVX (2), AVX-512 (5..7) */
				e->ebx = e->ecx = 0x240;
			}
			break;
		default:
			break;
		}
	}
	r = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

static int cpu_set_msrs(struct vcpu *v)
{
	static const struct { uint32_t idx; uint64_t val; } init[] = {
		{ 0x174, 0 },           /* IA32_SYSENTER_CS */
		{ 0x175, 0 },           /* IA32_SYSENTER_ESP */
		{ 0x176, 0 },           /* IA32_SYSENTER_EIP */
		{ 0xc0000081, 0 },      /* STAR */
		{ 0xc0000082, 0 },      /* LSTAR */
		{ 0xc0000084, 0 },      /* SFMASK */
		{ 0x1a0, 1 },           /* IA32_MISC_ENABLE: fast strings */
		{ 0x2ff, (1 << 11) | 6 }, /* MTRRdefType: enabled, write-back */
	};
	size_t i, n = sizeof(init) / sizeof(init[0]);
	struct kvm_msrs *m;
	int r;

	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m)
		return -ENOMEM;
	m->nmsrs = (uint32_t)n;
	for (i = 0; i < n; i++) {
		m->entries[i].index = init[i].idx;
		m->entries[i].data = init[i].val;
	}
	/* KVM_SET_MSRS returns how many it set; KVM may refuse some. */
	r = ioctl(v->fd, KVM_SET_MSRS, m) < 0 ? -errno : 0;
	free(m);
	return r;
}

static int cpu_set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t lint0 = 7 << 8, lint1 = 4 << 8; /* ExtINT, NMI */

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return -errno;
	memcpy(&l.regs[0x350], &lint0, 4);
	memcpy(&l.regs[0x360], &lint1, 4);
	return ioctl(v->fd, KVM_SET_LAPIC, &l) < 0 ? -errno : 0;
}

int cpu_x86_vcpu_init(struct vm *vm, struct vcpu *v)
{
	int r;

	v->vm = vm;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->id);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	r = cpu_set_cpuid(v);
	if (r)
		return r;
	if (cpu_set_msrs(v) < 0)
		return -EIO;
	r = cpu_set_lapic(v);
	if (r)
		return r;
	if (v->id != 0)
		return 0;
	r = cpu_set_sregs(v);
	return r ? r : cpu_set_regs(v);
}
