/*
 * tests/unit/hv_blk.c: virtio-blk requests against a temporary file, no KVM:
 * read, write, flush, GET_ID, requests past the end of the disk, writes to
 * a read-only disk, unknown types, chains without room for the status byte,
 * and data split across many descriptors.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "hv/virtio_blk.h"
#include "tests/lib/check.h"

static char path[] = "/tmp/hv_blk.XXXXXX";
static uint8_t hdrbuf[16], data[4096], status[1];

/* One request: header, then data (readable for OUT, writable otherwise), status. */
static uint32_t req(struct vblk *b, uint32_t type, uint64_t sector, uint8_t *buf,
		    uint32_t len, int split)
{
	static struct virtq_chain c;
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	int i, n = 0;

	memcpy(hdrbuf, &h, sizeof(h));
	memset(&c, 0, sizeof(c));
	c.seg[n++] = (struct virtq_seg){ hdrbuf, sizeof(h) };
	c.rlen = sizeof(h);
	if (type == VIRTIO_BLK_T_OUT) {
		for (i = 0; i < split; i++)
			c.seg[n++] = (struct virtq_seg){ buf + i * (len / split), len / split };
		c.rlen += len;
		c.nr = n;
	} else {
		c.nr = n;
		for (i = 0; i < split; i++)
			c.seg[n++] = (struct virtq_seg){ buf + i * (len / split), len / split };
		c.wlen = len;
	}
	c.seg[n++] = (struct virtq_seg){ status, 1 };
	c.wlen += 1;
	c.nw = n - c.nr;
	status[0] = 0xee;
	return vblk_request(b, &c);
}

static void test_rw(void)
{
	static struct vblk b;
	uint8_t buf[1024];
	int i;

	CHECK_EQ(vblk_init(NULL, &b, path, 0, "sbx-test-disk"), 0);
	CHECK_EQ(b.sectors, 64);
	for (i = 0; i < 1024; i++)
		buf[i] = (uint8_t)i;
	CHECK_EQ(req(&b, VIRTIO_BLK_T_OUT, 3, buf, 1024, 4), 1);
	CHECK_EQ(status[0], VIRTIO_BLK_S_OK);
	memset(data, 0, sizeof(data));
	CHECK_EQ(req(&b, VIRTIO_BLK_T_IN, 3, data, 1024, 2), 1025);
	CHECK_EQ(status[0], VIRTIO_BLK_S_OK);
	CHECK(!memcmp(data, buf, 1024));
	CHECK_EQ(req(&b, VIRTIO_BLK_T_FLUSH, 0, data, 0, 0), 1);
	CHECK_EQ(status[0], VIRTIO_BLK_S_OK);
	memset(data, 0, sizeof(data));
	CHECK_EQ(req(&b, VIRTIO_BLK_T_GET_ID, 0, data, 20, 1), 21);
	CHECK(!strcmp((char *)data, "sbx-test-disk"));
	close(b.fd);
}

static void test_bounds(void)
{
	static struct vblk b;

	CHECK_EQ(vblk_init(NULL, &b, path, 0, "x"), 0);
	CHECK_EQ(req(&b, VIRTIO_BLK_T_IN, 63, data, 512, 1), 513); /* last sector */
	CHECK_EQ(status[0], VIRTIO_BLK_S_OK);
	CHECK_EQ(req(&b, VIRTIO_BLK_T_IN, 63, data, 1024, 1), 1); /* past the end */
	CHECK_EQ(status[0], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(&b, VIRTIO_BLK_T_IN, UINT64_MAX / 512 + 5, data, 512, 1), 1);
	CHECK_EQ(status[0], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(&b, VIRTIO_BLK_T_OUT, UINT64_MAX, data, 512, 1), 1);
	CHECK_EQ(status[0], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(&b, VIRTIO_BLK_T_IN, 0, data, 100, 1), 1); /* not whole sectors */
	CHECK_EQ(status[0], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(&b, 77, 0, data, 512, 1), 1);
	CHECK_EQ(status[0], VIRTIO_BLK_S_UNSUPP);
	close(b.fd);
}

static void test_read_only(void)
{
	static struct vblk b;

	CHECK_EQ(vblk_init(NULL, &b, path, 1, "ro"), 0);
	CHECK(b.ops.features & (1ULL << VIRTIO_BLK_F_RO));
	CHECK_EQ(req(&b, VIRTIO_BLK_T_OUT, 0, data, 512, 1), 1);
	CHECK_EQ(status[0], VIRTIO_BLK_S_IOERR);
	CHECK_EQ(req(&b, VIRTIO_BLK_T_IN, 0, data, 512, 1), 513);
	CHECK_EQ(status[0], VIRTIO_BLK_S_OK);
	close(b.fd);
}

static void test_short_chains(void)
{
	static struct vblk b;
	static struct virtq_chain c;

	CHECK_EQ(vblk_init(NULL, &b, path, 0, "x"), 0);
	/* no writable byte at all: nothing written, nothing crashes */
	memset(&c, 0, sizeof(c));
	c.seg[0] = (struct virtq_seg){ hdrbuf, 16 };
	c.nr = 1;
	c.rlen = 16;
	CHECK_EQ(vblk_request(&b, &c), 0);
	/* a header cut short: IOERR in the status byte */
	memset(&c, 0, sizeof(c));
	c.seg[0] = (struct virtq_seg){ hdrbuf, 8 };
	c.seg[1] = (struct virtq_seg){ status, 1 };
	c.nr = 1;
	c.nw = 1;
	c.rlen = 8;
	c.wlen = 1;
	CHECK_EQ(vblk_request(&b, &c), 1);
	CHECK_EQ(status[0], VIRTIO_BLK_S_IOERR);
	close(b.fd);
}

int main(void)
{
	int fd;

	check_skip_reason = "";
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 64 * 512) < 0)
		return 1;
	close(fd);
	TEST(test_rw);
	TEST(test_bounds);
	TEST(test_read_only);
	TEST(test_short_chains);
	unlink(path);
	return check_exit();
}
