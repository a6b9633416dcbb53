/*
 * hv/virtio_mmio.c: virtio-mmio version 2 register file (virtio 1.1, 4.2.2).
 *
 * Registers are 32-bit and little-endian; other widths below 0x100 are
 * ignored (reads return 0). The device-specific config space starts at
 * 0x100 and is handed to ops->config. Feature negotiation follows 3.1.1:
 * FEATURES_OK sticks only if the driver took VIRTIO_F_VERSION_1 and nothing
 * we did not offer. Queue registers are writable only while the queue is
 * not ready; QueueReady=1 validates the rings (virtq_check) first.
 * Nonsense from the driver sets DEVICE_NEEDS_RESET (2.1.1) and the device
 * stops touching its queues until the driver writes 0 to Status.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "hv/virtio_mmio.h"
#include "hv/vmm.h"

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_VENDOR_SBX 0x00584253 /* "SBX" */

static uint64_t vm_features(const struct virtio_mmio *t)
{
	return t->ops->features | (1ULL << VIRTIO_F_VERSION_1);
}

int virtio_mmio_live(const struct virtio_mmio *t)
{
	return (t->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

void virtio_mmio_irq(struct virtio_mmio *t)
{
	uint64_t one = 1;

	t->isr |= VIRTIO_MMIO_INT_VRING;
	t->irqs++;
	if (t->irqfd >= 0 && write(t->irqfd, &one, sizeof(one)) < 0)
		return;
}

void virtio_mmio_irq_queue(struct virtio_mmio *t, int q)
{
	if (virtq_wants_irq(t->mem, &t->q[q]))
		virtio_mmio_irq(t);
	else
		t->isr |= VIRTIO_MMIO_INT_VRING; /* seen when it next looks */
}

void virtio_mmio_fail(struct virtio_mmio *t, const char *why)
{
	uint64_t one = 1;

	if (t->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	fprintf(stderr, "sbx-vmm: %s: %s: device needs reset\n", t->ops->name, why);
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	t->isr |= VIRTIO_MMIO_INT_CONFIG;
	t->irqs++;
	if (t->irqfd >= 0 && write(t->irqfd, &one, sizeof(one)) < 0)
		return;
}

static void vm_reset(struct virtio_mmio *t)
{
	int i;

	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		memset(&t->q[i], 0, sizeof(t->q[i]));
	t->status = t->isr = 0;
	t->dev_feat_sel = t->drv_feat_sel = t->queue_sel = 0;
	t->drv_features = 0;
	if (t->ops->reset)
		t->ops->reset(t);
}

static struct virtq *vm_cur_queue(struct virtio_mmio *t)
{
	if (t->queue_sel >= (uint32_t)t->ops->nqueues)
		return NULL;
	return &t->q[t->queue_sel];
}

static uint32_t vm_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = vm_cur_queue(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_VENDOR_SBX;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->dev_feat_sel > 1)
			return 0;
		return (uint32_t)(vm_features(t) >> (32 * t->dev_feat_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? VIRTQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q ? (uint32_t)q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return t->isr;
	case VIRTIO_MMIO_STATUS: return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return 0;
	default: return 0;
	}
}

static void vm_set_addr(struct virtq *q, uint64_t *a, int high, uint32_t v)
{
	if (!q || q->ready)
		return;
	if (high)
		*a = (*a & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*a = (*a & ~0xffffffffULL) | v;
}

static void vm_write_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) { /* 4.2.3.1: writing 0 resets the device */
		vm_reset(t);
		return;
	}
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(t->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		if ((t->drv_features & ~vm_features(t)) ||
		    !(t->drv_features & (1ULL << VIRTIO_F_VERSION_1)))
			v &= ~(uint32_t)VIRTIO_CONFIG_S_FEATURES_OK;
	}
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(v & VIRTIO_CONFIG_S_FEATURES_OK)) {
		t->status = (v & 0xff) | (t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
		virtio_mmio_fail(t, "DRIVER_OK without FEATURES_OK");
		return;
	}
	/* The driver never clears bits but by reset; keep NEEDS_RESET. */
	t->status = (v & 0xff & ~(uint32_t)VIRTIO_CONFIG_S_NEEDS_RESET) |
		    (t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && virtio_mmio_live(t) && t->ops->activate)
		t->ops->activate(t);
}

static void vm_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = vm_cur_queue(t);

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->dev_feat_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->drv_feat_sel > 1 || (t->status & VIRTIO_CONFIG_S_FEATURES_OK))
			break;
		if (t->drv_feat_sel)
			t->drv_features = (t->drv_features & 0xffffffffULL) | (uint64_t)v << 32;
		else
			t->drv_features = (t->drv_features & ~0xffffffffULL) | v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->drv_feat_sel = v; break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = v; break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q && !q->ready)
			q->size = v > 0xffff ? 0 : (uint16_t)v;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (!q)
			break;
		if (!v) {
			q->ready = 0;
		} else if (!q->ready) {
			if (virtq_check(t->mem, q)) {
				virtio_mmio_fail(t, "bad queue configuration");
				break;
			}
			q->ready = 1;
			q->last_avail = q->used_idx = 0;
		}
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* Reached without ioeventfd (tests, vm_fd < 0) or when KVM's
		 * datamatch missed. With KVM, hand it to the event loop: devices
		 * run there, not on a vCPU thread (whose seccomp list is short). */
		if (v >= (uint32_t)t->ops->nqueues || !virtio_mmio_live(t) || !t->ops->notify)
			break;
		if (t->vm && t->vm->vm_fd >= 0 && t->kick[v].fd >= 0) {
			uint64_t one = 1;

			if (write(t->kick[v].fd, &one, sizeof(one)) < 0)
				break;
		} else {
			t->ops->notify(t, (int)v);
		}
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK: t->isr &= ~v; break;
	case VIRTIO_MMIO_STATUS: vm_write_status(t, v); break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: vm_set_addr(q, q ? &q->desc : NULL, 0, v); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: vm_set_addr(q, q ? &q->desc : NULL, 1, v); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: vm_set_addr(q, q ? &q->avail : NULL, 0, v); break;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: vm_set_addr(q, q ? &q->avail : NULL, 1, v); break;
	case VIRTIO_MMIO_QUEUE_USED_LOW: vm_set_addr(q, q ? &q->used : NULL, 0, v); break;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: vm_set_addr(q, q ? &q->used : NULL, 1, v); break;
	default: break; /* read-only or unknown: ignored */
	}
}

void virtio_mmio_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		    int is_write)
{
	struct virtio_mmio *t = dev;
	uint32_t v = 0;

	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (t->ops->config)
			t->ops->config(t, off - VIRTIO_MMIO_CONFIG, data, len, is_write);
		else if (!is_write)
			memset(data, 0, len);
	} else if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&v, data, 4);
		vm_write(t, off, v);
	} else {
		v = vm_read(t, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

static void virtio_mmio_kick(struct vm *vm, struct ev_handler *h, uint32_t events)
{
	struct virtio_kick *k = (struct virtio_kick *)h;
	struct virtio_mmio *t = k->t;
	uint64_t n;

	if (read(k->fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&t->lock);
	if (virtio_mmio_live(t) && t->ops->notify)
		t->ops->notify(t, k->q);
	pthread_mutex_unlock(&t->lock);
}

int virtio_mmio_init(struct vm *vm, struct virtio_mmio *t,
		     const struct virtio_dev_ops *ops, void *dev)
{
	int i, r, slot;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->vm = vm;
	t->ops = ops;
	t->dev = dev;
	t->irqfd = -1;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		t->kick[i].fd = -1;
	if (!vm)
		return 0;
	if (vm->nvdev >= VM_MAX_VDEV)
		return -ENOSPC;
	slot = vm->nvdev;
	t->mem = &vm->mem;
	t->base = VM_MMIO_BASE + (uint64_t)slot * VM_MMIO_STRIDE;
	t->irq = VM_VIRTIO_IRQ_BASE + (unsigned)slot;
	t->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irqfd < 0)
		return -errno;
	/* vm_fd < 0: a VM without KVM (tests): QueueNotify reaches vm_write. */
	r = vm->vm_fd >= 0 ? kvm_irqfd(vm, t->irqfd, t->irq) : 0;
	if (r)
		return r;
	for (i = 0; i < ops->nqueues; i++) {
		struct virtio_kick *k = &t->kick[i];

		k->h.fn = virtio_mmio_kick;
		k->t = t;
		k->q = i;
		k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->fd < 0)
			return -errno;
		if (vm->vm_fd >= 0) {
			r = kvm_ioeventfd(vm, t->base + VIRTIO_MMIO_QUEUE_NOTIFY,
					  (uint32_t)i, k->fd);
			if (r)
				return r;
		}
		r = evloop_add(vm, k->fd, EPOLLIN, &k->h);
		if (r)
			return r;
	}
	r = bus_add(&vm->mmio, t->base, VIRTIO_MMIO_WINDOW, virtio_mmio_io, t);
	if (r)
		return r;
	vm->vdev[vm->nvdev++] = t;
	return 0;
}
