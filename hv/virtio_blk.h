/*
 * hv/virtio_blk.h: virtio block device (virtio 1.1, 5.2 "Block Device")
 * over a host file: read-only for the rootfs (VIRTIO_BLK_F_RO), read-write
 * for the workspace disk. Requests run synchronously on the event loop.
 */
#ifndef SBX_HV_VIRTIO_BLK_H
#define SBX_HV_VIRTIO_BLK_H

#include <stdint.h>

#include "hv/virtio_mmio.h"

struct vblk {
	struct virtio_mmio t;
	struct virtio_dev_ops ops;
	int fd;
	int ro;
	uint64_t sectors;
	char id[20];
	uint64_t reqs, errs;
};

/*
 * Opens path (O_RDONLY if ro) and attaches the device to vm (vm may be NULL
 * in tests). Returns 0 or -errno. Setup only.
 */
int vblk_init(struct vm *vm, struct vblk *b, const char *path, int ro,
	      const char *id);

/* Handles one request chain (5.2.6); returns bytes written to the guest.
 * Pure but for the file I/O; exposed for tests. */
uint32_t vblk_request(struct vblk *b, const struct virtq_chain *c);

/* Processes queue 0 (event loop thread, t->lock held). */
void vblk_notify(struct virtio_mmio *t, int q);

#endif
