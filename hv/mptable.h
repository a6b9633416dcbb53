/*
 * hv/mptable.h: the Intel MultiProcessor Specification 1.4 table, so a guest
 * without ACPI finds its vCPUs, the IOAPIC and the ISA interrupt routing.
 */
#ifndef SBX_HV_MPTABLE_H
#define SBX_HV_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define MPTABLE_MAX_CPUS 32
#define MPTABLE_IOAPIC_ADDR 0xfec00000U
#define MPTABLE_LAPIC_ADDR 0xfee00000U
#define MPTABLE_IRQS 24

/*
 * Writes the floating pointer and configuration table for ncpus vCPUs
 * (LAPIC ids 0..ncpus-1, the first is the BSP) into buf, which lives at
 * guest-physical gpa. Returns the bytes written or -EINVAL (ncpus out of
 * 1..MPTABLE_MAX_CPUS) / -E2BIG (buf too small). Pure.
 */
int mptable_build(uint8_t *buf, size_t size, uint32_t gpa, int ncpus);

#endif
