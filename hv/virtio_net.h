/*
 * hv/virtio_net.h: virtio network device (virtio 1.1, 5.1 "Network Device")
 * with one receive and one transmit queue, no offloads, no control queue.
 *
 * The device moves Ethernet frames and knows nothing of what is behind it
 * (usernet in sbx-vmm, a fake in tests): frames the guest transmits go to
 * the tx callback, frames for the guest come in through vnet_rx(), whose
 * signature is usernet's output callback. When the guest has posted no
 * receive buffer, vnet_rx() keeps up to VNET_PENDING frames and then
 * answers -ENOBUFS; the kept frames go out when the guest adds buffers.
 *
 * Threads: everything under t.lock. The tx callback is called with t.lock
 * held, on the thread that processes the transmit queue (the event loop);
 * it may call vnet_rx() from inside (usernet answers ARP at once), which
 * vnet_rx() recognises and does not lock again.
 */
#ifndef SBX_HV_VIRTIO_NET_H
#define SBX_HV_VIRTIO_NET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/virtio_mmio.h"

#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_HDR_LEN 12       /* struct virtio_net_hdr_v1, num_buffers included */
#define VNET_MAX_FRAME 1518   /* 1500-byte MTU + Ethernet header + a VLAN tag */
#define VNET_PENDING 32       /* frames kept while the guest has no rx buffer */

/* A frame the guest sent, header stripped; frame is borrowed for the call. */
typedef void (*vnet_tx_fn)(void *opaque, const void *frame, size_t len);

struct vnet_stats {
	uint64_t tx_frames;  /* guest → host, handed to the callback */
	uint64_t tx_dropped; /* empty, oversized or GSO frames from the guest */
	uint64_t rx_frames;  /* host → guest, in guest buffers */
	uint64_t rx_dropped; /* no room (returned -ENOBUFS), oversized, device down */
};

struct vnet_frame {
	uint32_t len;
	uint8_t data[VNET_MAX_FRAME];
};

struct vnet {
	struct virtio_mmio t;
	struct virtio_dev_ops ops;
	uint8_t mac[6];
	vnet_tx_fn tx;
	void *opaque;
	/* set while the tx callback runs, by the thread running it */
	int in_tx;
	pthread_t tx_thread;
	struct virtq_chain rxc, txc; /* scratch chains */
	uint8_t frame[VNET_MAX_FRAME]; /* tx scratch */
	struct vnet_frame pend[VNET_PENDING]; /* ring of frames for the guest */
	unsigned pend_head, pend_n;
	struct vnet_stats st;
};

/*
 * Sets up the device with MAC mac; tx gets every frame the guest sends,
 * with opaque. vm may be NULL (tests, fuzzing; set vn->t.mem then).
 * Returns 0 or -errno. Setup only.
 */
int vnet_init(struct vm *vm, struct vnet *vn, const uint8_t mac[6],
	      vnet_tx_fn tx, void *opaque);

/*
 * Gives one Ethernet frame (no virtio-net header) to the guest; frame is
 * copied. dev is the struct vnet (the usernet_output_fn signature). Returns
 * 0 when the frame is in a guest buffer or kept for one, -ENOBUFS when the
 * guest has no buffer and the pending ring is full, or when the device is
 * not running, -EMSGSIZE when len is 0 or above VNET_MAX_FRAME. Never
 * blocks. Any thread; from inside the tx callback too.
 */
int vnet_rx(void *dev, const void *frame, size_t len);

/* The transport's notify op (event loop thread, t.lock held); for tests. */
void vnet_notify(struct virtio_mmio *t, int q);

/* Copies the counters (takes t.lock). */
void vnet_stats(struct vnet *vn, struct vnet_stats *s);

#endif
