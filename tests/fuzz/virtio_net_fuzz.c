/*
 * tests/fuzz/virtio_net_fuzz.c: the virtio-net device with the fuzzer as
 * the guest. The input is guest RAM holding the receive and transmit rings
 * and buffers; the device drains the transmit queue (chains, headers and
 * lengths all hostile; the fake backend echoes some frames back from inside
 * the callback, as usernet answers ARP), takes frames for the guest into
 * receive chains and the pending ring, and drains that ring on receive
 * notifies. Must never crash, hang or leak (ASan), whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "hv/virtio_net.h"

#define RAM (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The device never reaches KVM here (no struct vm); these satisfy the linker. */
int kvm_irqfd(struct vm *vm, int fd, unsigned gsi) { return 0; }
int kvm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t datamatch, int fd) { return 0; }
void kvm_irq_pulse(struct vm *vm, unsigned irq) {}

static struct vnet vn;
static int echo;

static void fuzz_tx(void *opaque, const void *frame, size_t len)
{
	if (echo && len && (((const uint8_t *)frame)[0] & 1))
		vnet_rx(&vn, frame, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static uint8_t frame[VNET_MAX_FRAME + 8];
	struct vm_mem m;
	uint8_t *ram;
	int q, round, i;

	if (size < 8)
		return 0;
	ram = calloc(1, RAM);
	if (!ram)
		return 0;
	memcpy(ram, data + 8, size - 8 < RAM ? size - 8 : RAM);
	mem_wrap(&m, ram, RAM);
	if (vnet_init(NULL, &vn, mac, fuzz_tx, NULL))
		abort();
	vn.t.mem = &m;
	for (q = 0; q < 2; q++) {
		vn.t.q[q] = (struct virtq){
			.size = (uint16_t)(1u << (data[q] % 9)),
			.ready = 1,
			.desc = 0x1000 * (uint64_t)(q * 3 + 1),
			.avail = 0x1000 * (uint64_t)(q * 3 + 2),
			.used = 0x1000 * (uint64_t)(q * 3 + 3),
		};
	}
	vn.t.status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		      VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	echo = data[2] & 1;
	memset(frame, data[4], sizeof(frame));
	for (round = 0; round < (data[3] & 3) + 1; round++) {
		vnet_notify(&vn.t, VNET_TXQ);
		/* a burst from the host: sizes from the input, some out of range */
		for (i = 0; i < (data[5] & 63); i++)
			vnet_rx(&vn, frame, (size_t)((data[6] * 7u + (unsigned)i * data[7]) %
						     (sizeof(frame) + 1)));
		vnet_notify(&vn.t, VNET_RXQ);
		vnet_notify(&vn.t, 2); /* no such queue */
	}
	close(vn.t.irqfd);
	free(ram);
	return 0;
}
