/*
 * hv/virtio_vsock.c: the virtio-vsock device (virtio 1.1, 5.10).
 *
 * Config space: le64 guest_cid (5.10.4). The tx queue carries packets from
 * the guest: a 44-byte header (5.10.6 Device Operation, struct
 * virtio_vsock_hdr) then len payload bytes, all in readable descriptors.
 * Each is checked (vsock_hdr_check) and handed to the multiplexer. The rx
 * queue holds empty guest buffers we fill with packets. The event queue is
 * only used for transport resets after migration, which we never do.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "hv/vmm.h"
#include "hv/vsock_mux.h"

#define VSOCK_RXQ 0
#define VSOCK_TXQ 1

static void le_put(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h)
{
	h->src_cid = le_get(b, 8);
	h->dst_cid = le_get(b + 8, 8);
	h->src_port = (uint32_t)le_get(b + 16, 4);
	h->dst_port = (uint32_t)le_get(b + 20, 4);
	h->len = (uint32_t)le_get(b + 24, 4);
	h->type = (uint16_t)le_get(b + 28, 2);
	h->op = (uint16_t)le_get(b + 30, 2);
	h->flags = (uint32_t)le_get(b + 32, 4);
	h->buf_alloc = (uint32_t)le_get(b + 36, 4);
	h->fwd_cnt = (uint32_t)le_get(b + 40, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN])
{
	le_put(b, h->src_cid, 8);
	le_put(b + 8, h->dst_cid, 8);
	le_put(b + 16, h->src_port, 4);
	le_put(b + 20, h->dst_port, 4);
	le_put(b + 24, h->len, 4);
	le_put(b + 28, h->type, 2);
	le_put(b + 30, h->op, 2);
	le_put(b + 32, h->flags, 4);
	le_put(b + 36, h->buf_alloc, 4);
	le_put(b + 40, h->fwd_cnt, 4);
}

int vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid,
		    uint64_t avail)
{
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return -EINVAL;
	if (h->src_cid != guest_cid || h->dst_cid != VSOCK_HOST_CID)
		return -EINVAL;
	if (h->len > VSOCK_MAX_PAYLOAD || h->len > avail)
		return -EINVAL;
	if (h->op < VIRTIO_VSOCK_OP_REQUEST || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return -EINVAL;
	if (h->op != VIRTIO_VSOCK_OP_RW && h->len)
		return -EINVAL;
	return 0;
}

uint32_t vsock_peer_free(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t tx_cnt)
{
	uint32_t in_flight = tx_cnt - fwd_cnt; /* wraps like the counters */

	if (in_flight > buf_alloc)
		return 0;
	return buf_alloc - in_flight;
}

int vsock_rx_fits(uint32_t rx_cnt, uint32_t fwd_cnt, uint32_t len)
{
	uint32_t used = rx_cnt - fwd_cnt;

	return used <= VSOCK_BUF_ALLOC && len <= VSOCK_BUF_ALLOC - used;
}

int vsock_rx_pop(struct vsock *vs)
{
	int r;

	if (!virtio_mmio_live(&vs->t)) {
		vs->rx_full = 1;
		return 0;
	}
	for (;;) {
		r = virtq_pop(vs->t.mem, &vs->t.q[VSOCK_RXQ], &vs->rxc);
		if (r < 0) {
			virtio_mmio_fail(&vs->t, "bad rx queue");
			vs->rx_full = 1;
			return r;
		}
		if (r == 0) {
			vs->rx_full = 1;
			return 0;
		}
		if (vs->rxc.wlen >= VSOCK_HDR_LEN)
			return 1;
		/* Too small for a header: give it back empty. */
		virtq_push(vs->t.mem, &vs->t.q[VSOCK_RXQ], vs->rxc.head, 0);
	}
}

void vsock_rx_put(struct vsock *vs, const struct vsock_hdr *h,
		  const void *payload, uint32_t len)
{
	uint8_t b[VSOCK_HDR_LEN];

	vsock_hdr_encode(h, b);
	virtq_chain_write(&vs->rxc, 0, b, sizeof(b));
	if (len)
		virtq_chain_write(&vs->rxc, VSOCK_HDR_LEN, payload, len);
	if (virtq_push(vs->t.mem, &vs->t.q[VSOCK_RXQ], vs->rxc.head,
		       VSOCK_HDR_LEN + len) < 0) {
		virtio_mmio_fail(&vs->t, "bad rx used ring");
		return;
	}
	vs->pkts_out++;
	virtio_mmio_irq_queue(&vs->t, VSOCK_RXQ);
}

static void vsock_tx(struct vsock *vs)
{
	struct virtq *q = &vs->t.q[VSOCK_TXQ];
	int r, any = 0;

	while (virtio_mmio_live(&vs->t) &&
	       (r = virtq_pop(vs->t.mem, q, &vs->txc)) != 0) {
		uint8_t b[VSOCK_HDR_LEN];
		struct vsock_hdr h;

		if (r < 0) {
			virtio_mmio_fail(&vs->t, "bad tx queue");
			break;
		}
		vs->pkts_in++;
		if (virtq_chain_read(&vs->txc, 0, b, sizeof(b)) == sizeof(b)) {
			vsock_hdr_decode(b, &h);
			if (!vsock_hdr_check(&h, vs->guest_cid, vs->txc.rlen - VSOCK_HDR_LEN))
				vsock_mux_packet(vs, &h, &vs->txc);
		}
		/* 5.10.6.6: the packet is consumed either way */
		if (virtq_push(vs->t.mem, q, vs->txc.head, 0) < 0) {
			virtio_mmio_fail(&vs->t, "bad tx used ring");
			break;
		}
		any = 1;
	}
	if (any)
		virtio_mmio_irq_queue(&vs->t, VSOCK_TXQ);
}

static void vsock_notify(struct virtio_mmio *t, int q)
{
	struct vsock *vs = t->dev;

	if (q == VSOCK_TXQ)
		vsock_tx(vs);
	else if (q == VSOCK_RXQ)
		vs->rx_full = 0;
	vsock_mux_flush(vs);
}

/*
 * DRIVER_OK (vCPU thread). Linux fills and kicks the rx queue before it
 * sets DRIVER_OK, and that kick was dropped (the device was not live), while
 * host clients may have queued REQUESTs as the guest booted: hand the loop
 * thread an rx notify so they go out now, not on some later event. Sockets
 * are not touched here: the vCPU threads' seccomp list has no room for them.
 */
static void vsock_activate(struct virtio_mmio *t)
{
	struct vsock *vs = t->dev;
	uint64_t one = 1;

	vs->rx_full = 0;
	vsock_mux_probe_arm(vs, 1);
	if (t->kick[VSOCK_RXQ].fd >= 0 &&
	    write(t->kick[VSOCK_RXQ].fd, &one, sizeof(one)) < 0)
		return; /* an eventfd write fails only on overflow */
}

static void vsock_reset(struct virtio_mmio *t)
{
	vsock_mux_reset(t->dev);
}

static void vsock_config(struct virtio_mmio *t, uint64_t off, uint8_t *data,
			 uint32_t len, int is_write)
{
	struct vsock *vs = t->dev;
	uint8_t cfg[8];

	if (is_write)
		return;
	memset(data, 0, len);
	le_put(cfg, vs->guest_cid, 8);
	if (off < 8 && len <= 8 - off)
		memcpy(data, cfg + off, len);
}

/* After each epoll round: under the lock, as a guest reset (vsock_reset,
 * on a vCPU thread) walks the same connection list. */
static void vsock_gc_post(struct vm *vm)
{
	pthread_mutex_lock(&vm->vsock.t.lock);
	vsock_gc(&vm->vsock);
	pthread_mutex_unlock(&vm->vsock.t.lock);
}

int vsock_init(struct vm *vm, struct vsock *vs, uint64_t cid, const char *path)
{
	int r;

	memset(vs, 0, sizeof(*vs));
	vs->vm = vm;
	vs->guest_cid = cid;
	vs->listen_fd = -1;
	vs->probe_fd = -1;
	vs->accept_fd = -1;
	vs->next_port = 1u << 30;
	vs->ops = (struct virtio_dev_ops){
		.name = "virtio-vsock",
		.device_id = 19,
		.features = 0,
		.nqueues = 3,
		.config = vsock_config,
		.notify = vsock_notify,
		.reset = vsock_reset,
		.activate = vsock_activate,
	};
	if (path) {
		if (strlen(path) + 12 >= sizeof(vs->path))
			return -ENAMETOOLONG;
		strcpy(vs->path, path);
	}
	r = virtio_mmio_init(vm, &vs->t, &vs->ops, vs);
	if (r)
		return r;
	if (vm && vm->evloop_post == NULL && vs == &vm->vsock)
		vm->evloop_post = vsock_gc_post;
	return path ? vsock_mux_listen(vs) : 0;
}
