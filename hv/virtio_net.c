/*
 * hv/virtio_net.c: the virtio-net device (virtio 1.1, 5.1).
 *
 * Theory of operation. Queue 0 (receiveq1) holds empty guest buffers, queue
 * 1 (transmitq1) frames the guest sends (5.1.2 Virtqueues). Every packet on
 * either queue starts with the 12-byte struct virtio_net_hdr_v1 (5.1.6
 * Device Operation; with VERSION_1 num_buffers is always there). Only
 * VIRTIO_NET_F_MAC is offered: no checksum or segmentation offload, no
 * mergeable buffers, so a transmitted frame is one Ethernet frame of at
 * most VNET_MAX_FRAME bytes whose header must say "no GSO, no partial
 * checksum", and each receive chain holds one frame.
 *
 * Transmit (5.1.6.2): pop a chain, check it, copy the frame after the
 * header into a scratch buffer, give the chain back, hand the frame to the
 * tx callback. Receive (5.1.6.3, 5.1.6.4): vnet_rx() writes a zeroed header
 * (num_buffers = 1) and the frame into the next receive chain; with no
 * chain available the frame waits in a ring of VNET_PENDING slots, which
 * the next receive-queue notify drains; a full ring means -ENOBUFS.
 *
 * Guest errors: a malformed ring, a transmit chain shorter than the header
 * or holding writable buffers, and a receive chain without room for the
 * header set DEVICE_NEEDS_RESET (virtio_mmio_fail). Frames we cannot take
 * (GSO, oversized, empty) and receive buffers too small for a frame (the
 * driver SHOULD post 1526 bytes, 5.1.6.3.1) only cost that frame.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "hv/virtio_net.h"
#include "hv/vmm.h"

static void vnet_config(struct virtio_mmio *t, uint64_t off, uint8_t *data,
			uint32_t len, int is_write)
{
	struct vnet *vn = t->dev;
	uint8_t cfg[8] = { 0 }; /* 5.1.4: u8 mac[6]; le16 status (no F_STATUS) */

	if (is_write)
		return; /* the MAC is read-only without the legacy interface */
	memset(data, 0, len);
	memcpy(cfg, vn->mac, 6);
	if (off < sizeof(cfg) && len <= sizeof(cfg) - off)
		memcpy(data, cfg + off, len);
}

/*
 * Writes one frame into the next receive chain. Returns 1 if a chain was
 * used (the frame is in it, or it was too small and the frame is dropped),
 * 0 if the guest has none, -EINVAL if the device failed. t.lock held.
 */
static int vnet_rx_put(struct vnet *vn, const void *frame, uint32_t len)
{
	struct virtq *q = &vn->t.q[VNET_RXQ];
	struct virtq_chain *c = &vn->rxc;
	uint8_t hdr[VNET_HDR_LEN] = { 0 };
	uint32_t used = 0;
	int r;

	r = virtq_pop(vn->t.mem, q, c);
	if (r <= 0) {
		if (r < 0)
			virtio_mmio_fail(&vn->t, "bad receive queue");
		return r;
	}
	if (c->nr || c->wlen < VNET_HDR_LEN) {
		virtio_mmio_fail(&vn->t, "receive buffer not writable or shorter than the header");
		return -EINVAL;
	}
	if (c->wlen >= VNET_HDR_LEN + (uint64_t)len) {
		hdr[10] = 1; /* num_buffers, le16 (5.1.6.4.1: 1 without MRG_RXBUF) */
		virtq_chain_write(c, 0, hdr, sizeof(hdr));
		virtq_chain_write(c, VNET_HDR_LEN, frame, len);
		used = VNET_HDR_LEN + len;
		vn->st.rx_frames++;
	} else {
		vn->st.rx_dropped++;
	}
	if (virtq_push(vn->t.mem, q, c->head, used) < 0) {
		virtio_mmio_fail(&vn->t, "bad receive used ring");
		return -EINVAL;
	}
	return 1;
}

/* Moves kept frames into guest buffers, oldest first. Returns how many
 * chains were used. t.lock held. */
static int vnet_flush(struct vnet *vn)
{
	int n = 0;

	while (vn->pend_n && virtio_mmio_live(&vn->t)) {
		struct vnet_frame *f = &vn->pend[vn->pend_head];

		if (vnet_rx_put(vn, f->data, f->len) <= 0)
			break;
		vn->pend_head = (vn->pend_head + 1) % VNET_PENDING;
		vn->pend_n--;
		n++;
	}
	return n;
}

int vnet_rx(void *dev, const void *frame, size_t len)
{
	struct vnet *vn = dev;
	int nested, placed = 0, r = 0;

	/* Inside the tx callback on this thread, t.lock is ours already. */
	nested = __atomic_load_n(&vn->in_tx, __ATOMIC_ACQUIRE) &&
		 pthread_equal(vn->tx_thread, pthread_self());
	if (!nested)
		pthread_mutex_lock(&vn->t.lock);
	if (!len || len > VNET_MAX_FRAME) {
		r = -EMSGSIZE;
	} else if (!virtio_mmio_live(&vn->t)) {
		r = -ENOBUFS;
	} else {
		placed = vnet_flush(vn);
		if (!vn->pend_n && vnet_rx_put(vn, frame, (uint32_t)len) > 0) {
			placed++;
		} else if (vn->pend_n < VNET_PENDING && virtio_mmio_live(&vn->t)) {
			struct vnet_frame *f =
				&vn->pend[(vn->pend_head + vn->pend_n) % VNET_PENDING];

			memcpy(f->data, frame, len);
			f->len = (uint32_t)len;
			vn->pend_n++;
		} else {
			r = -ENOBUFS;
		}
	}
	if (r)
		vn->st.rx_dropped++;
	if (placed)
		virtio_mmio_irq_queue(&vn->t, VNET_RXQ);
	if (!nested)
		pthread_mutex_unlock(&vn->t.lock);
	return r;
}

/* 1 if the guest's header asks for nothing we did not offer. */
static int vnet_hdr_ok(const uint8_t hdr[VNET_HDR_LEN])
{
	return hdr[0] == 0 && hdr[1] == VIRTIO_NET_HDR_GSO_NONE; /* flags, gso_type */
}

/* Drains the transmit queue (5.1.6.2). t.lock held. */
static void vnet_tx_queue(struct vnet *vn)
{
	struct virtq *q = &vn->t.q[VNET_TXQ];
	struct virtq_chain *c = &vn->txc;
	int r, any = 0;

	while (virtio_mmio_live(&vn->t) && (r = virtq_pop(vn->t.mem, q, c)) != 0) {
		uint8_t hdr[VNET_HDR_LEN];
		uint64_t len;
		int ok;

		if (r < 0) {
			virtio_mmio_fail(&vn->t, "bad transmit queue");
			break;
		}
		if (c->nw || c->rlen < VNET_HDR_LEN) {
			virtio_mmio_fail(&vn->t, "transmit chain writable or shorter than the header");
			break;
		}
		len = c->rlen - VNET_HDR_LEN;
		virtq_chain_read(c, 0, hdr, sizeof(hdr));
		ok = len && len <= VNET_MAX_FRAME && vnet_hdr_ok(hdr);
		if (ok)
			virtq_chain_read(c, VNET_HDR_LEN, vn->frame, len);
		/* 5.1.6.2.1: the buffer is done with once read; len 0 written */
		if (virtq_push(vn->t.mem, q, c->head, 0) < 0) {
			virtio_mmio_fail(&vn->t, "bad transmit used ring");
			break;
		}
		any = 1;
		if (!ok) {
			vn->st.tx_dropped++;
			continue;
		}
		vn->st.tx_frames++;
		vn->tx_thread = pthread_self();
		__atomic_store_n(&vn->in_tx, 1, __ATOMIC_RELEASE);
		vn->tx(vn->opaque, vn->frame, (size_t)len);
		__atomic_store_n(&vn->in_tx, 0, __ATOMIC_RELEASE);
	}
	if (any)
		virtio_mmio_irq_queue(&vn->t, VNET_TXQ);
}

void vnet_notify(struct virtio_mmio *t, int q)
{
	struct vnet *vn = t->dev;

	if (q == VNET_TXQ)
		vnet_tx_queue(vn);
	else if (q == VNET_RXQ && vnet_flush(vn))
		virtio_mmio_irq_queue(t, VNET_RXQ);
}

/* The driver reset the device: frames kept for it are gone. t.lock held. */
static void vnet_reset(struct virtio_mmio *t)
{
	struct vnet *vn = t->dev;

	vn->st.rx_dropped += vn->pend_n;
	vn->pend_head = vn->pend_n = 0;
}

void vnet_stats(struct vnet *vn, struct vnet_stats *s)
{
	pthread_mutex_lock(&vn->t.lock);
	*s = vn->st;
	pthread_mutex_unlock(&vn->t.lock);
}

int vnet_init(struct vm *vm, struct vnet *vn, const uint8_t mac[6],
	      vnet_tx_fn tx, void *opaque)
{
	memset(vn, 0, sizeof(*vn));
	memcpy(vn->mac, mac, 6);
	vn->tx = tx;
	vn->opaque = opaque;
	vn->ops = (struct virtio_dev_ops){
		.name = "virtio-net",
		.device_id = 1,
		.features = 1ULL << VIRTIO_NET_F_MAC,
		.nqueues = 2,
		.config = vnet_config,
		.notify = vnet_notify,
		.reset = vnet_reset,
	};
	return virtio_mmio_init(vm, &vn->t, &vn->ops, vn);
}
