/*
 * hv/virtio_blk.c: virtio-blk requests (virtio 1.1, 5.2.6 Device Operation).
 *
 * A request chain is: readable header {le32 type; le32 reserved; le64
 * sector}, then data (readable for OUT, writable for IN/GET_ID), then one
 * writable status byte at the very end. Data moves with preadv/pwritev
 * straight between the file and guest RAM. Out-of-range sectors, writes to
 * a read-only disk and short chains get VIRTIO_BLK_S_IOERR/UNSUPP, never
 * a host error; a malformed ring sets NEEDS_RESET (virtq_pop).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "hv/virtio_blk.h"
#include "hv/vmm.h"

#define SECTOR 512ULL

static void vblk_config(struct virtio_mmio *t, uint64_t off, uint8_t *data,
			uint32_t len, int is_write)
{
	struct vblk *b = t->dev;
	uint8_t cfg[8];

	if (is_write)
		return;
	memset(data, 0, len);
	memcpy(cfg, &b->sectors, 8); /* 5.2.4: le64 capacity at 0 */
	if (off < 8 && len <= 8 - off)
		memcpy(data, cfg + off, len);
}

/* Builds an iovec over the data part of the chain: bytes [skip, skip+len). */
static int vblk_iov(const struct virtq_chain *c, int first, int last,
		    uint64_t skip, uint64_t len, struct iovec *iov)
{
	int i, n = 0;

	for (i = first; i < last && len; i++) {
		uint64_t l = c->seg[i].len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		iov[n].iov_base = c->seg[i].p + skip;
		iov[n].iov_len = l;
		n++;
		len -= l;
		skip = 0;
	}
	return n;
}

static int vblk_rw(int fd, struct iovec *iov, int n, uint64_t off, int write)
{
	while (n > 0) {
		ssize_t r = write ? pwritev(fd, iov, n, (off_t)off) :
				    preadv(fd, iov, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EIO;
		off += (uint64_t)r;
		while (n > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

uint32_t vblk_request(struct vblk *b, const struct virtq_chain *c)
{
	struct virtio_blk_outhdr h;
	struct iovec iov[VIRTQ_MAX_SIZE];
	uint8_t status = VIRTIO_BLK_S_OK;
	uint64_t dlen, off;
	uint32_t written = 0;
	int n;

	b->reqs++;
	if (c->wlen < 1)
		return 0; /* nowhere to put a status: drop it */
	if (virtq_chain_read(c, 0, &h, sizeof(h)) != sizeof(h)) {
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (h.type == VIRTIO_BLK_T_IN) {
			dlen = c->wlen - 1;
			n = vblk_iov(c, c->nr, c->nr + c->nw, 0, dlen, iov);
		} else {
			dlen = c->rlen - sizeof(h);
			n = vblk_iov(c, 0, c->nr, sizeof(h), dlen, iov);
		}
		if (h.type == VIRTIO_BLK_T_OUT && b->ro) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if ((dlen % SECTOR) || h.sector > b->sectors ||
		    dlen / SECTOR > b->sectors - h.sector) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		off = h.sector * SECTOR;
		if (vblk_rw(b->fd, iov, n, off, h.type == VIRTIO_BLK_T_OUT)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (h.type == VIRTIO_BLK_T_IN)
			written = (uint32_t)dlen;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!b->ro && fdatasync(b->fd) < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		size_t l = c->wlen - 1 < VIRTIO_BLK_ID_BYTES ? c->wlen - 1 : VIRTIO_BLK_ID_BYTES;

		written = (uint32_t)virtq_chain_write(c, 0, b->id, l);
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
done:
	if (status != VIRTIO_BLK_S_OK)
		b->errs++;
	virtq_chain_write(c, c->wlen - 1, &status, 1);
	return written + 1;
}

void vblk_notify(struct virtio_mmio *t, int q)
{
	static __thread struct virtq_chain c;
	struct vblk *b = t->dev;
	int r, any = 0;

	if (q != 0)
		return;
	while ((r = virtq_pop(t->mem, &t->q[0], &c)) > 0) {
		uint32_t len = vblk_request(b, &c);

		if (virtq_push(t->mem, &t->q[0], c.head, len) < 0) {
			r = -EINVAL;
			break;
		}
		any = 1;
	}
	if (r < 0)
		virtio_mmio_fail(t, "bad request queue");
	if (any)
		virtio_mmio_irq_queue(t, 0);
}

int vblk_init(struct vm *vm, struct vblk *b, const char *path, int ro,
	      const char *id)
{
	off_t size;

	memset(b, 0, sizeof(*b));
	b->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		return -errno;
	/* SEEK_END gives the size of block devices too (fstat says 0) */
	size = lseek(b->fd, 0, SEEK_END);
	if (size < 0)
		return -errno;
	b->ro = ro;
	b->sectors = (uint64_t)size / SECTOR;
	memcpy(b->id, id, strnlen(id, sizeof(b->id)));
	b->ops = (struct virtio_dev_ops){
		.name = ro ? "virtio-blk (rootfs)" : "virtio-blk (disk)",
		.device_id = 2,
		.features = (1ULL << VIRTIO_BLK_F_FLUSH) |
			    (ro ? 1ULL << VIRTIO_BLK_F_RO : 0),
		.nqueues = 1,
		.config = vblk_config,
		.notify = vblk_notify,
	};
	return virtio_mmio_init(vm, &b->t, &b->ops, b);
}
