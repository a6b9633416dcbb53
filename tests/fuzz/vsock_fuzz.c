/*
 * tests/fuzz/vsock_fuzz.c: the virtio-vsock device with the fuzzer as the
 * guest. The input is guest RAM holding the rx and tx rings and packets;
 * the device walks the tx queue (headers, payload lengths, ops, ports,
 * credit numbers all hostile) and answers on the rx queue. No host socket
 * path, so guest connects are refused with RST. Must never crash, hang or
 * leak (ASan), whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "hv/vmm.h"

#define RAM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The device never reaches KVM here (no struct vm); these satisfy the linker. */
int kvm_irqfd(struct vm *vm, int fd, unsigned gsi) { return 0; }
int kvm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t datamatch, int fd) { return 0; }
void kvm_irq_pulse(struct vm *vm, unsigned irq) {}
void boot_timer_ready(struct vm *vm, const char *how) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vsock vs;
	struct vm_mem m;
	uint8_t *ram;
	int q, round;

	if (size < 8)
		return 0;
	ram = calloc(1, RAM);
	if (!ram)
		return 0;
	memcpy(ram, data + 8, size - 8 < RAM ? size - 8 : RAM);
	mem_wrap(&m, ram, RAM);
	if (vsock_init(NULL, &vs, 3, NULL))
		abort();
	vs.t.mem = &m;
	for (q = 0; q < 3; q++) {
		vs.t.q[q] = (struct virtq){
			.size = (uint16_t)(1u << (data[q] % 9)),
			.ready = 1,
			.desc = 0x1000 * (uint64_t)(q * 3 + 1),
			.avail = 0x1000 * (uint64_t)(q * 3 + 2),
			.used = 0x1000 * (uint64_t)(q * 3 + 3),
		};
	}
	vs.t.status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	/* a few rounds: tx, then rx refills, as a guest would kick */
	for (round = 0; round < (data[3] & 3) + 1; round++) {
		vs.ops.notify(&vs.t, 1);
		vs.ops.notify(&vs.t, 0);
		vs.ops.notify(&vs.t, 2);
		vsock_gc(&vs);
	}
	vsock_free(&vs);
	close(vs.t.irqfd);
	free(ram);
	return 0;
}
