/*
 * hv/virtio_mmio.h: the virtio-mmio transport, version 2 (virtio 1.1,
 * 4.2 "Virtio Over MMIO"). A device (blk, vsock, later net) supplies a
 * struct virtio_dev_ops; the transport owns the register file, the queues,
 * an ioeventfd per queue (QueueNotify writes go straight to the event loop
 * without a vCPU exit to user space) and an irqfd for its interrupt.
 *
 * Locking: t->lock guards everything in the struct. Register accesses come
 * from vCPU threads; ops->notify and the device's socket work run on the
 * event loop thread; both take t->lock.
 */
#ifndef SBX_HV_VIRTIO_MMIO_H
#define SBX_HV_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdint.h>

#include "hv/evloop.h"
#include "hv/virtq.h"

#define VIRTIO_MAX_QUEUES 3
#define VIRTIO_MMIO_WINDOW 0x1000

struct vm;
struct virtio_mmio;

struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;  /* 5.x Device Types: 2 blk, 19 vsock, 1 net */
	uint64_t features;   /* offered, VIRTIO_F_VERSION_1 added by the transport */
	int nqueues;
	/* Config space access at off (from 0x100), under t->lock. */
	void (*config)(struct virtio_mmio *t, uint64_t off, uint8_t *data,
		       uint32_t len, int is_write);
	/* Queue q was kicked; event loop thread, t->lock held, DRIVER_OK set. */
	void (*notify)(struct virtio_mmio *t, int q);
	/* The driver reset the device (status 0); t->lock held. */
	void (*reset)(struct virtio_mmio *t);
	/* The driver set DRIVER_OK; t->lock held. */
	void (*activate)(struct virtio_mmio *t);
};

struct virtio_kick {
	struct ev_handler h; /* first: the loop hands us this pointer */
	struct virtio_mmio *t;
	int q;
	int fd;
};

struct virtio_mmio {
	pthread_mutex_t lock;
	struct vm *vm;            /* NULL in unit tests: no irqfd/ioeventfd */
	const struct vm_mem *mem; /* guest RAM the queues live in */
	const struct virtio_dev_ops *ops;
	void *dev;
	uint64_t base;
	unsigned irq;
	int irqfd;
	struct virtio_kick kick[VIRTIO_MAX_QUEUES];
	uint32_t status, dev_feat_sel, drv_feat_sel, queue_sel, isr;
	uint64_t drv_features;
	struct virtq q[VIRTIO_MAX_QUEUES];
	uint64_t irqs;            /* interrupts raised, for tests */
};

/*
 * Sets up t as the next device slot of vm (window VM_MMIO_BASE + i*0x1000,
 * irq VM_VIRTIO_IRQ_BASE + i), with eventfds wired into KVM and the event
 * loop. vm may be NULL (tests): then only the register file works.
 * Returns 0 or -errno. Setup only.
 */
int virtio_mmio_init(struct vm *vm, struct virtio_mmio *t,
		     const struct virtio_dev_ops *ops, void *dev);

/* The register handler (4.2.2 MMIO Device Register Layout); bus callback. */
void virtio_mmio_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		    int is_write);

/* Raises the used-buffer interrupt. t->lock held. */
void virtio_mmio_irq(struct virtio_mmio *t);

/* Raises it for queue q unless the driver suppressed it there. t->lock held. */
void virtio_mmio_irq_queue(struct virtio_mmio *t, int q);

/* The guest did something wrong: set DEVICE_NEEDS_RESET, raise a config
 * interrupt, stop using the queues until reset. t->lock held. */
void virtio_mmio_fail(struct virtio_mmio *t, const char *why);

/* 1 if DRIVER_OK is set and NEEDS_RESET is not. t->lock held. */
int virtio_mmio_live(const struct virtio_mmio *t);


#endif
