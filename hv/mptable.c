/*
 * hv/mptable.c: builds an MP 1.4 table (floating pointer "_MP_" followed by
 * the "PCMP" configuration table) in the last KiB of base memory, where
 * Linux's smp_scan_config() looks for it.
 *
 * Entries: one processor per vCPU, one ISA bus, one IOAPIC (id = ncpus),
 * ISA IRQ i → IOAPIC pin i for i < 24, LINT0 = ExtINT, LINT1 = NMI.
 */
#include <errno.h>
#include <string.h>

#include "hv/mptable.h"

struct mpt_writer {
	uint8_t *p;
	size_t n, size;
	int err;
};

static void mpt_bytes(struct mpt_writer *w, const void *b, size_t len)
{
	if (w->n + len > w->size) {
		w->err = -E2BIG;
		return;
	}
	memcpy(w->p + w->n, b, len);
	w->n += len;
}

static void mpt_u8(struct mpt_writer *w, uint8_t v) { mpt_bytes(w, &v, 1); }

static void mpt_u16(struct mpt_writer *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	mpt_bytes(w, b, 2);
}

static void mpt_u32(struct mpt_writer *w, uint32_t v)
{
	mpt_u16(w, (uint16_t)v);
	mpt_u16(w, (uint16_t)(v >> 16));
}

static uint8_t mpt_checksum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return (uint8_t)-s;
}

int mptable_build(uint8_t *buf, size_t size, uint32_t gpa, int ncpus)
{
	struct mpt_writer w = { .p = buf, .size = size };
	size_t cfg, i;
	uint16_t entries = 0;
	uint8_t ioapic_id = (uint8_t)ncpus;

	if (ncpus < 1 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	/* MP Floating Pointer Structure (spec 4.1), 16 bytes. */
	mpt_bytes(&w, "_MP_", 4);
	mpt_u32(&w, gpa + 16); /* PHYSICAL ADDRESS POINTER */
	mpt_u8(&w, 1);         /* LENGTH in 16-byte units */
	mpt_u8(&w, 4);         /* SPEC_REV 1.4 */
	mpt_u8(&w, 0);         /* CHECKSUM, below */
	mpt_bytes(&w, "\0\0\0\0\0", 5); /* FEATURE 1..5: table present, no IMCR */
	if (w.err)
		return w.err;
	buf[10] = mpt_checksum(buf, 16);

	/* MP Configuration Table Header (spec 4.2), 44 bytes. */
	cfg = w.n;
	mpt_bytes(&w, "PCMP", 4);
	mpt_u16(&w, 0);        /* BASE TABLE LENGTH, below */
	mpt_u8(&w, 4);         /* SPEC_REV */
	mpt_u8(&w, 0);         /* CHECKSUM, below */
	mpt_bytes(&w, "SBX     ", 8);     /* OEM ID */
	mpt_bytes(&w, "SBX-VMM     ", 12); /* PRODUCT ID */
	mpt_u32(&w, 0);        /* OEM TABLE POINTER */
	mpt_u16(&w, 0);        /* OEM TABLE SIZE */
	mpt_u16(&w, 0);        /* ENTRY COUNT, below */
	mpt_u32(&w, MPTABLE_LAPIC_ADDR);
	mpt_u16(&w, 0);        /* EXTENDED TABLE LENGTH */
	mpt_u8(&w, 0);         /* EXTENDED TABLE CHECKSUM */
	mpt_u8(&w, 0);

	/* Processor entries (spec 4.3.1), 20 bytes each. */
	for (i = 0; i < (size_t)ncpus; i++, entries++) {
		mpt_u8(&w, 0);
		mpt_u8(&w, (uint8_t)i);   /* LOCAL APIC ID */
		mpt_u8(&w, 0x14);         /* LOCAL APIC VERSION */
		mpt_u8(&w, i == 0 ? 3 : 1); /* CPU FLAGS: EN, BP */
		mpt_u32(&w, 0x600);       /* CPU SIGNATURE: family 6 */
		mpt_u32(&w, 0x201);       /* FEATURE FLAGS: FPU, APIC */
		mpt_bytes(&w, "\0\0\0\0\0\0\0\0", 8);
	}
	/* Bus entry (spec 4.3.2). */
	mpt_u8(&w, 1);
	mpt_u8(&w, 0);
	mpt_bytes(&w, "ISA   ", 6);
	entries++;
	/* I/O APIC entry (spec 4.3.3). */
	mpt_u8(&w, 2);
	mpt_u8(&w, ioapic_id);
	mpt_u8(&w, 0x11);
	mpt_u8(&w, 1); /* EN */
	mpt_u32(&w, MPTABLE_IOAPIC_ADDR);
	entries++;
	/* I/O interrupt assignment entries (spec 4.3.4). */
	for (i = 0; i < MPTABLE_IRQS; i++, entries++) {
		mpt_u8(&w, 3);
		mpt_u8(&w, 0);  /* INT */
		mpt_u16(&w, 0); /* conforms to bus: edge, active high */
		mpt_u8(&w, 0);  /* SOURCE BUS ID */
		mpt_u8(&w, (uint8_t)i);
		mpt_u8(&w, ioapic_id);
		mpt_u8(&w, (uint8_t)i);
	}
	/* Local interrupt assignment entries (spec 4.3.5). */
	for (i = 0; i < 2; i++, entries++) {
		mpt_u8(&w, 4);
		mpt_u8(&w, i == 0 ? 3 : 1); /* ExtINT, NMI */
		mpt_u16(&w, 0);
		mpt_u8(&w, 0);
		mpt_u8(&w, 0);
		mpt_u8(&w, 0xff); /* all local APICs */
		mpt_u8(&w, (uint8_t)i);
	}
	if (w.err)
		return w.err;
	buf[cfg + 4] = (uint8_t)(w.n - cfg);
	buf[cfg + 5] = (uint8_t)((w.n - cfg) >> 8);
	buf[cfg + 34] = (uint8_t)entries;
	buf[cfg + 35] = (uint8_t)(entries >> 8);
	buf[cfg + 7] = mpt_checksum(buf + cfg, w.n - cfg);
	return (int)w.n;
}
