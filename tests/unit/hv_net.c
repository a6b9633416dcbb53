/*
 * tests/unit/hv_net.c: the virtio-net device without KVM. Guest RAM is a
 * malloc'd buffer, the test plays the guest driver through the virtio-mmio
 * register handler and the rings, and a fake backend stands where usernet
 * is: it records transmitted frames and can answer from inside the tx
 * callback. Cases: feature and config space, TX without the header, RX
 * with header and used index, the bounded pending ring and -ENOBUFS, the
 * retry on notify, answers from inside the tx callback, and hostile chains
 * (shorter than the header, outside RAM, loops, writable TX, GSO headers,
 * oversized frames) which must set NEEDS_RESET or drop, never crash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "hv/virtio_net.h"
#include "tests/lib/check.h"

#define QSZ 16
#define MEMSZ (4u << 20)
#define RXBUF 2048
#define RXBASE 0x100000ULL
#define TXBASE 0x200000ULL

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static struct vm_mem mem;
static struct vnet vn;
static uint16_t avail[2], seen[2];

/* the fake backend */
static uint8_t got[4096];
static size_t got_len;
static int got_n, echo;

static void fake_tx(void *opaque, const void *frame, size_t len)
{
	CHECK(opaque == &vn);
	got_n++;
	got_len = len < sizeof(got) ? len : sizeof(got);
	memcpy(got, frame, got_len);
	if (echo) /* like usernet answering ARP inside usernet_input */
		CHECK_EQ(vnet_rx(&vn, frame, len), 0);
}

static uint64_t qbase(int q) { return 0x10000 + (uint64_t)q * 0x4000; }

static void *g(uint64_t gpa, uint64_t len) { return gpa_ptr(&mem, gpa, len); }

static void reg_w(uint32_t off, uint32_t v)
{
	virtio_mmio_io(&vn.t, off, (uint8_t *)&v, 4, 1);
}

static uint32_t reg_r(uint32_t off)
{
	uint32_t v = 0;

	virtio_mmio_io(&vn.t, off, (uint8_t *)&v, 4, 0);
	return v;
}

static int needs_reset(void)
{
	return !!(reg_r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void put_desc(int q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct vring_desc *d = g(qbase(q) + 16ULL * i, 16);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void avail_push(int q, uint16_t head)
{
	uint16_t *ring = g(qbase(q) + 0x1000, 4 + 2 * QSZ);

	ring[2 + (avail[q] % QSZ)] = head;
	avail[q]++;
	ring[1] = avail[q];
}

static uint16_t used_idx(int q)
{
	return *(uint16_t *)g(qbase(q) + 0x2002, 2);
}

/* The used element i of queue q: id and len. */
static void used_elem(int q, uint16_t i, uint32_t *id, uint32_t *len)
{
	uint32_t *e = g(qbase(q) + 0x2004 + 8ULL * (i % QSZ), 8);

	*id = e[0];
	*len = e[1];
}

/* Resets the device and brings it up as the Linux driver would. */
static void setup(void)
{
	int q;

	memset(mem.host, 0, MEMSZ);
	memset(avail, 0, sizeof(avail));
	memset(seen, 0, sizeof(seen));
	got_n = 0;
	echo = 0;
	reg_w(VIRTIO_MMIO_STATUS, 0);
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_NET_F_MAC);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(reg_r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	for (q = 0; q < 2; q++) {
		reg_w(VIRTIO_MMIO_QUEUE_SEL, (uint32_t)q);
		reg_w(VIRTIO_MMIO_QUEUE_NUM, QSZ);
		reg_w(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)qbase(q));
		reg_w(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)qbase(q) + 0x1000);
		reg_w(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)qbase(q) + 0x2000);
		reg_w(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	CHECK(!needs_reset());
}

/* Posts n receive buffers of RXBUF bytes each and kicks the rx queue. */
static void rx_give(int n)
{
	while (n-- > 0) {
		uint16_t i = avail[0] % QSZ;

		put_desc(0, i, RXBASE + (uint64_t)i * RXBUF, RXBUF, VRING_DESC_F_WRITE, 0);
		avail_push(0, i);
	}
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_RXQ);
}

/* Takes the next received packet: returns its used length, -1 if none. */
static long rx_take(uint8_t *buf)
{
	uint32_t id, len;

	memset(buf, 0, RXBUF); /* a failed take leaves no stale bytes to check */
	if (used_idx(0) == seen[0])
		return -1;
	used_elem(0, seen[0]++, &id, &len);
	if (id < QSZ && len <= RXBUF)
		memcpy(buf, g(RXBASE + (uint64_t)id * RXBUF, len), len);
	return len;
}

/* Sends one packet: header then frame in one descriptor (or two if split). */
static void tx_send(const uint8_t *hdr, const void *frame, uint32_t len, int split)
{
	uint16_t i = avail[1] % QSZ;
	uint8_t *p = g(TXBASE + (uint64_t)i * 0x1000, 0x1000);

	memcpy(p, hdr, VNET_HDR_LEN);
	memcpy(p + VNET_HDR_LEN, frame, len);
	if (split) { /* header in descriptor i, frame in i + QSZ/2 */
		put_desc(1, i, TXBASE + (uint64_t)i * 0x1000, VNET_HDR_LEN,
			 VRING_DESC_F_NEXT, (uint16_t)((i + QSZ / 2) % QSZ));
		put_desc(1, (uint16_t)((i + QSZ / 2) % QSZ),
			 TXBASE + (uint64_t)i * 0x1000 + VNET_HDR_LEN, len, 0, 0);
	} else {
		put_desc(1, i, TXBASE + (uint64_t)i * 0x1000, VNET_HDR_LEN + len, 0, 0);
	}
	avail_push(1, i);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
}

static void frame_fill(uint8_t *f, uint32_t len, uint8_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

static void test_features_config(void)
{
	uint8_t cfg[8];
	uint32_t i;

	reg_w(VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(reg_r(VIRTIO_MMIO_DEVICE_ID), 1);
	reg_w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	CHECK_EQ(reg_r(VIRTIO_MMIO_DEVICE_FEATURES), 1u << VIRTIO_NET_F_MAC);
	reg_w(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	CHECK_EQ(reg_r(VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 */
	for (i = 0; i < 6; i++)
		virtio_mmio_io(&vn.t, VIRTIO_MMIO_CONFIG + i, &cfg[i], 1, 0);
	CHECK(!memcmp(cfg, mac, 6));
	/* writes are ignored, reads past the end are zero */
	cfg[0] = 0xff;
	virtio_mmio_io(&vn.t, VIRTIO_MMIO_CONFIG, cfg, 1, 1);
	virtio_mmio_io(&vn.t, VIRTIO_MMIO_CONFIG, cfg, 4, 0);
	CHECK(!memcmp(cfg, mac, 4));
	memset(cfg, 0xaa, sizeof(cfg));
	virtio_mmio_io(&vn.t, VIRTIO_MMIO_CONFIG + 6, cfg, 4, 0);
	CHECK_EQ(cfg[0] | cfg[1] | cfg[2] | cfg[3], 0);
	/* a driver asking for offloads we do not offer does not get FEATURES_OK */
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_NET_F_CSUM);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(!(reg_r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
}

static void test_tx(void)
{
	uint8_t hdr[VNET_HDR_LEN] = { 0 }, f[1514];
	uint64_t irqs;

	setup();
	frame_fill(f, sizeof(f), 1);
	irqs = vn.t.irqs;
	tx_send(hdr, f, 60, 0);
	CHECK_EQ(got_n, 1);
	CHECK_EQ(got_len, 60);
	CHECK(!memcmp(got, f, 60));
	CHECK_EQ(used_idx(1), 1);
	CHECK(vn.t.irqs > irqs);
	/* header and frame in separate descriptors; a full-size frame */
	tx_send(hdr, f, sizeof(f), 1);
	CHECK_EQ(got_n, 2);
	CHECK_EQ(got_len, sizeof(f));
	CHECK(!memcmp(got, f, sizeof(f)));
	CHECK_EQ(used_idx(1), 2);
	CHECK_EQ(vn.st.tx_frames, 2);
	CHECK(!needs_reset());
}

static void test_tx_dropped(void)
{
	uint8_t hdr[VNET_HDR_LEN] = { 0 }, f[VNET_MAX_FRAME + 1] = { 0 };
	uint64_t drops;

	setup();
	drops = vn.st.tx_dropped;
	tx_send(hdr, f, 0, 0); /* header only */
	tx_send(hdr, f, sizeof(f), 0); /* too big without GSO */
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	tx_send(hdr, f, 100, 0);
	hdr[1] = 0;
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	tx_send(hdr, f, 100, 0);
	CHECK_EQ(got_n, 0);
	CHECK_EQ(vn.st.tx_dropped - drops, 4);
	CHECK_EQ(used_idx(1), 4); /* every chain given back */
	CHECK(!needs_reset());
	hdr[0] = 0;
	tx_send(hdr, f, 100, 0); /* and the device still works */
	CHECK_EQ(got_n, 1);
}

static void test_rx(void)
{
	uint8_t f[1514], buf[RXBUF], zero[VNET_HDR_LEN] = { 0 };
	uint64_t irqs;

	setup();
	frame_fill(f, sizeof(f), 9);
	rx_give(2);
	irqs = vn.t.irqs;
	CHECK_EQ(vnet_rx(&vn, f, 42), 0);
	CHECK_EQ(used_idx(0), 1);
	CHECK(vn.t.irqs > irqs);
	CHECK_EQ(rx_take(buf), VNET_HDR_LEN + 42);
	CHECK(!memcmp(buf, zero, 10));     /* flags .. csum_offset zero */
	CHECK_EQ(buf[10] | buf[11] << 8, 1); /* num_buffers */
	CHECK(!memcmp(buf + VNET_HDR_LEN, f, 42));
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), 0);
	CHECK_EQ(rx_take(buf), VNET_HDR_LEN + sizeof(f));
	CHECK(!memcmp(buf + VNET_HDR_LEN, f, sizeof(f)));
	CHECK_EQ(vn.st.rx_frames, 2); /* first test to receive */
	/* out of range lengths are refused, not stored */
	CHECK_EQ(vnet_rx(&vn, f, 0), -EMSGSIZE);
	CHECK_EQ(vnet_rx(&vn, f, VNET_MAX_FRAME + 1), -EMSGSIZE);
	CHECK(!needs_reset());
}

static void test_rx_nobufs(void)
{
	uint8_t f[100], buf[RXBUF];
	int i;

	setup();
	/* no buffers: VNET_PENDING frames are kept, then -ENOBUFS */
	for (i = 0; i < VNET_PENDING; i++) {
		f[0] = (uint8_t)i;
		CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), 0);
	}
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), -ENOBUFS);
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), -ENOBUFS);
	CHECK_EQ(used_idx(0), 0);
	/* the guest adds buffers: kept frames go out in order on the notify */
	rx_give(4);
	CHECK_EQ(used_idx(0), 4);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(rx_take(buf), VNET_HDR_LEN + sizeof(f));
		CHECK_EQ(buf[VNET_HDR_LEN], i);
	}
	CHECK_EQ(vn.pend_n, VNET_PENDING - 4);
	/* a new frame queues behind the kept ones, never overtakes them */
	f[0] = 0xee;
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), 0);
	CHECK_EQ(vn.pend_n, VNET_PENDING - 3);
	rx_give(QSZ);
	for (i = 4; i < 4 + QSZ; i++) {
		CHECK_EQ(rx_take(buf), VNET_HDR_LEN + sizeof(f));
		CHECK_EQ(buf[VNET_HDR_LEN], i);
	}
	/* a reset forgets what was kept */
	reg_w(VIRTIO_MMIO_STATUS, 0);
	CHECK_EQ(vn.pend_n, 0);
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), -ENOBUFS); /* device not running */
}

static void test_rx_small_buffer(void)
{
	uint8_t f[1000], buf[RXBUF];
	uint64_t drops;

	setup();
	drops = vn.st.rx_dropped;
	/* a buffer that holds the header but not the frame: frame dropped */
	put_desc(0, 0, RXBASE, 100, VRING_DESC_F_WRITE, 0);
	avail_push(0, 0);
	put_desc(0, 1, RXBASE + RXBUF, RXBUF, VRING_DESC_F_WRITE, 0);
	avail_push(0, 1);
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), 0);
	CHECK_EQ(rx_take(buf), 0);
	CHECK_EQ(vn.st.rx_dropped - drops, 1);
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), 0);
	CHECK_EQ(rx_take(buf), VNET_HDR_LEN + sizeof(f));
	CHECK(!needs_reset());
	/* one shorter than the header: the driver broke the rules */
	put_desc(0, 2, RXBASE, VNET_HDR_LEN - 1, VRING_DESC_F_WRITE, 0);
	avail_push(0, 2);
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), -ENOBUFS);
	CHECK(needs_reset());
	/* a readable receive buffer */
	setup();
	put_desc(0, 0, RXBASE, RXBUF, 0, 0);
	avail_push(0, 0);
	vnet_rx(&vn, f, sizeof(f));
	CHECK(needs_reset());
}

static void test_echo_from_tx(void)
{
	uint8_t hdr[VNET_HDR_LEN] = { 0 }, f[64], buf[RXBUF];

	setup();
	frame_fill(f, sizeof(f), 3);
	rx_give(1);
	echo = 1; /* the callback answers at once, t.lock already held */
	tx_send(hdr, f, sizeof(f), 0);
	CHECK_EQ(got_n, 1);
	CHECK_EQ(rx_take(buf), VNET_HDR_LEN + sizeof(f));
	CHECK(!memcmp(buf + VNET_HDR_LEN, f, sizeof(f)));
	echo = 0;
}

static void test_tx_hostile(void)
{
	uint8_t hdr[VNET_HDR_LEN] = { 0 }, z[20] = { 0 };

	/* shorter than the header */
	setup();
	put_desc(1, 0, TXBASE, VNET_HDR_LEN - 2, 0, 0);
	avail_push(1, 0);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
	CHECK(needs_reset());
	CHECK_EQ(got_n, 0);
	/* outside guest RAM */
	setup();
	put_desc(1, 0, MEMSZ - 8, 100, 0, 0);
	avail_push(1, 0);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
	CHECK(needs_reset());
	setup();
	put_desc(1, 0, UINT64_MAX - 4, 100, 0, 0);
	avail_push(1, 0);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
	CHECK(needs_reset());
	/* a loop */
	setup();
	put_desc(1, 0, TXBASE, 8, VRING_DESC_F_NEXT, 1);
	put_desc(1, 1, TXBASE, 8, VRING_DESC_F_NEXT, 0);
	avail_push(1, 0);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
	CHECK(needs_reset());
	/* head index out of range */
	setup();
	avail_push(1, QSZ + 3);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
	CHECK(needs_reset());
	/* a writable buffer in a transmit chain */
	setup();
	memcpy(g(TXBASE, VNET_HDR_LEN), hdr, VNET_HDR_LEN);
	put_desc(1, 0, TXBASE, 64, VRING_DESC_F_WRITE, 0);
	avail_push(1, 0);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
	CHECK(needs_reset());
	CHECK_EQ(got_n, 0);
	/* avail idx far ahead */
	setup();
	*(uint16_t *)g(qbase(1) + 0x1002, 2) = QSZ + 5;
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_TXQ);
	CHECK(needs_reset());
	/* a device needing reset ignores the guest until it resets it */
	tx_send(hdr, z, sizeof(z), 0);
	CHECK_EQ(got_n, 0);
	setup();
	tx_send(hdr, z, sizeof(z), 0);
	CHECK_EQ(got_n, 1);
}

static void test_rx_hostile(void)
{
	uint8_t f[100];

	/* receive buffer outside RAM */
	setup();
	put_desc(0, 0, MEMSZ + 0x1000, RXBUF, VRING_DESC_F_WRITE, 0);
	avail_push(0, 0);
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), -ENOBUFS);
	CHECK(needs_reset());
	/* a looping receive chain */
	setup();
	put_desc(0, 0, RXBASE, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	avail_push(0, 0);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_RXQ);
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), -ENOBUFS);
	CHECK(needs_reset());
	/* kept frames meet a bad chain on the notify */
	setup();
	CHECK_EQ(vnet_rx(&vn, f, sizeof(f)), 0);
	avail_push(0, QSZ);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, VNET_RXQ);
	CHECK(needs_reset());
}

int main(void)
{
	mem.host = calloc(1, MEMSZ);
	if (!mem.host)
		return 1;
	mem_wrap(&mem, mem.host, MEMSZ);
	if (vnet_init(NULL, &vn, mac, fake_tx, &vn))
		return 1;
	vn.t.mem = &mem;
	TEST(test_features_config);
	TEST(test_tx);
	TEST(test_tx_dropped);
	TEST(test_rx);
	TEST(test_rx_nobufs);
	TEST(test_rx_small_buffer);
	TEST(test_echo_from_tx);
	TEST(test_tx_hostile);
	TEST(test_rx_hostile);
	free(mem.host);
	return check_exit();
}
