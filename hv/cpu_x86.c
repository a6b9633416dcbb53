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
 *
 * cpu_x86_dump() is the crash report: registers, control registers,
 * segments, descriptor tables and pending events of a vCPU that stopped
 * (triple fault, failed entry, KVM internal error), one compact block on
 * stderr, so RIP can be looked up in the guest's System.map.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Appends printf output to buf[*n..size), keeping it NUL-terminated. */
static void __attribute__((format(printf, 4, 5)))
cpu_out(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n >= size)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < size ? *n + (size_t)k : size - 1;
}

static void cpu_out_seg(char *buf, size_t size, size_t *n, const char *name,
			const struct kvm_segment *g)
{
	cpu_out(buf, size, n, " %s %04x base %llx lim %x type %x dpl %u%s%s%s", name,
		g->selector, (unsigned long long)g->base, g->limit, g->type, g->dpl,
		g->present ? "" : " np", g->l ? " l" : "", g->db ? " db" : "");
}

int cpu_x86_format_state(char *buf, size_t size, const char *pfx,
			 const struct kvm_regs *r, const struct kvm_sregs *s,
			 const struct kvm_vcpu_events *e)
{
	size_t n = 0;

	if (!size)
		return 0;
	buf[0] = 0;
	if (r) {
		cpu_out(buf, size, &n, "%s rip %llx rsp %llx rbp %llx rflags %llx\n", pfx,
			(unsigned long long)r->rip, (unsigned long long)r->rsp,
			(unsigned long long)r->rbp, (unsigned long long)r->rflags);
		cpu_out(buf, size, &n, "%s rax %llx rbx %llx rcx %llx rdx %llx rsi %llx rdi %llx\n",
			pfx, (unsigned long long)r->rax, (unsigned long long)r->rbx,
			(unsigned long long)r->rcx, (unsigned long long)r->rdx,
			(unsigned long long)r->rsi, (unsigned long long)r->rdi);
		cpu_out(buf, size, &n, "%s r8 %llx r9 %llx r10 %llx r11 %llx r12 %llx r13 %llx r14 %llx r15 %llx\n",
			pfx, (unsigned long long)r->r8, (unsigned long long)r->r9,
			(unsigned long long)r->r10, (unsigned long long)r->r11,
			(unsigned long long)r->r12, (unsigned long long)r->r13,
			(unsigned long long)r->r14, (unsigned long long)r->r15);
	}
	if (s) {
		cpu_out(buf, size, &n, "%s cr0 %llx cr2 %llx cr3 %llx cr4 %llx cr8 %llx efer %llx apic_base %llx\n",
			pfx, (unsigned long long)s->cr0, (unsigned long long)s->cr2,
			(unsigned long long)s->cr3, (unsigned long long)s->cr4,
			(unsigned long long)s->cr8, (unsigned long long)s->efer,
			(unsigned long long)s->apic_base);
		cpu_out(buf, size, &n, "%s", pfx);
		cpu_out_seg(buf, size, &n, "cs", &s->cs);
		cpu_out_seg(buf, size, &n, "ss", &s->ss);
		cpu_out(buf, size, &n, "\n%s", pfx);
		cpu_out_seg(buf, size, &n, "tr", &s->tr);
		cpu_out(buf, size, &n, " gs base %llx gdt %llx/%x idt %llx/%x\n",
			(unsigned long long)s->gs.base,
			(unsigned long long)s->gdt.base, s->gdt.limit,
			(unsigned long long)s->idt.base, s->idt.limit);
	}
	if (e)
		cpu_out(buf, size, &n,
			"%s exception injected %u pending %u nr %u error %s%x; interrupt injected %u nr %u shadow %u; nmi injected %u pending %u masked %u\n",
			pfx, e->exception.injected, e->exception.pending, e->exception.nr,
			e->exception.has_error_code ? "" : "none ", e->exception.error_code,
			e->interrupt.injected, e->interrupt.nr, e->interrupt.shadow,
			e->nmi.injected, e->nmi.pending, e->nmi.masked);
	/* After a triple fault, KVM on AMD INITs the vCPU (svm.c,
	 * shutdown_interception: the VMCB is undefined after SHUTDOWN). */
	if (r && s && r->rip == 0xfff0 && s->cs.selector == 0xf000 && !(s->cr0 & CR0_PE))
		cpu_out(buf, size, &n,
			"%s (reset state: KVM on AMD re-INITs a vCPU that shut down, the faulting state is gone; see the console log and --crash-dump)\n",
			pfx);
	return (int)n;
}

void cpu_x86_dump(struct vcpu *v, int fd)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_vcpu_events e;
	char pfx[32], buf[2048];
	int have_r, have_s, have_e, n;

	snprintf(pfx, sizeof(pfx), "sbx-vmm: vcpu %d:", v->id);
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	memset(&e, 0, sizeof(e));
	have_r = ioctl(v->fd, KVM_GET_REGS, &r) == 0;
	have_s = ioctl(v->fd, KVM_GET_SREGS, &s) == 0;
	have_e = ioctl(v->fd, KVM_GET_VCPU_EVENTS, &e) == 0;
	n = cpu_x86_format_state(buf, sizeof(buf), pfx, have_r ? &r : NULL,
				 have_s ? &s : NULL, have_e ? &e : NULL);
	if (!have_r || !have_s || !have_e)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s no%s%s%s\n", pfx,
			      have_r ? "" : " regs", have_s ? "" : " sregs",
			      have_e ? "" : " events");
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		return;
}
