/*
 * tests/unit/hv_vsock.c: the virtio-vsock device and its Unix-socket mux,
 * driven without KVM: a struct vm with vm_fd = -1 (no irqfd/ioeventfd),
 * guest RAM in a malloc'd buffer, the test playing the guest driver through
 * the virtio-mmio register handler and the rings, and real host Unix
 * sockets on the other side. Also the pure header and credit helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_vsock.h>

#include "hv/vmm.h"
#include "hv/vsock_line.h"
#include "hv/vsock_mux.h"
#include "tests/lib/check.h"

#define QSZ 16
#define MEMSZ (4u << 20)
#define RXBUF 4096

static struct vm vm;
static struct vsock *vs;
static char dir[] = "/tmp/hv_vsock.XXXXXX";
static char path[90];
static uint16_t rx_avail, rx_seen, tx_avail, tx_seen;
static int rx_lazy; /* rx_take leaves refilling to the caller (Linux model) */

static uint64_t qbase(int q) { return 0x10000 + (uint64_t)q * 0x4000; }

static void reg_w(uint32_t off, uint32_t v)
{
	virtio_mmio_io(&vs->t, off, (uint8_t *)&v, 4, 1);
}

static uint32_t reg_r(uint32_t off)
{
	uint32_t v = 0;

	virtio_mmio_io(&vs->t, off, (uint8_t *)&v, 4, 0);
	return v;
}

static void *g(uint64_t gpa, uint64_t len) { return gpa_ptr(&vm.mem, gpa, len); }

static void put_desc(int q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
	struct vring_desc *d = g(qbase(q) + 16ULL * i, 16);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = 0;
}

static void avail_push(int q, uint16_t head, uint16_t *idx)
{
	uint16_t *ring = g(qbase(q) + 0x1000, 4 + 2 * QSZ);

	ring[2 + (*idx % QSZ)] = head;
	(*idx)++;
	ring[1] = *idx;
}

static void rx_give(int n)
{
	while (n-- > 0) {
		uint16_t i = rx_avail % QSZ;

		put_desc(0, i, 0x100000 + (uint64_t)i * RXBUF, RXBUF, VRING_DESC_F_WRITE);
		avail_push(0, i, &rx_avail);
	}
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

/* Takes the next packet the device put in the rx queue. 1 if there was one. */
static int rx_take(struct vsock_hdr *h, void *payload, uint32_t *len)
{
	uint16_t *used = g(qbase(0) + 0x2000, 4 + 8 * QSZ);
	uint32_t *elem;
	uint8_t *buf;

	if (used[1] == rx_seen)
		return 0;
	elem = (uint32_t *)(used + 2) + 2 * (rx_seen % QSZ);
	rx_seen++;
	buf = g(0x100000 + (uint64_t)elem[0] * RXBUF, RXBUF);
	vsock_hdr_decode(buf, h);
	if (len)
		*len = h->len;
	if (payload && h->len)
		memcpy(payload, buf + VSOCK_HDR_LEN, h->len);
	if (!rx_lazy)
		rx_give(1); /* recycle at once */
	return 1;
}

static void tx_send(const struct vsock_hdr *h, const void *payload, uint32_t len)
{
	uint8_t *buf = g(0x200000, VSOCK_HDR_LEN + len);
	uint16_t i = tx_avail % QSZ;

	vsock_hdr_encode(h, buf);
	if (len)
		memcpy(buf + VSOCK_HDR_LEN, payload, len);
	put_desc(1, i, 0x200000, VSOCK_HDR_LEN + len, 0);
	avail_push(1, i, &tx_avail);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	tx_seen = *(uint16_t *)g(qbase(1) + 0x2002, 2);
}

static struct vsock_hdr ghdr(uint32_t gport, uint32_t hport, uint16_t op)
{
	return (struct vsock_hdr){ .src_cid = 3, .dst_cid = 2, .src_port = gport,
				   .dst_port = hport, .type = VIRTIO_VSOCK_TYPE_STREAM,
				   .op = op, .buf_alloc = 65536 };
}

static void pump(void)
{
	int i;

	for (i = 0; i < 5; i++)
		evloop_poll(&vm, 10);
}

/* evloop_init blocks SIGTERM for its signalfd; let the harness kill us. */
static void unblock_term(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/*
 * The driver's side of initialisation (virtio 1.1, 3.1.1): features, the
 * three queues, then DRIVER_OK if driver_ok. 0 or -1.
 */
static int driver_init(int driver_ok)
{
	int q;

	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_w(VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VIRTIO_F_VERSION_1 */
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(reg_r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -1;
	for (q = 0; q < 3; q++) {
		reg_w(VIRTIO_MMIO_QUEUE_SEL, (uint32_t)q);
		reg_w(VIRTIO_MMIO_QUEUE_NUM, QSZ);
		reg_w(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)qbase(q));
		reg_w(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)qbase(q) + 0x1000);
		reg_w(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)qbase(q) + 0x2000);
		reg_w(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	if (driver_ok)
		reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
					  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	return 0;
}

static int setup(void)
{
	void *ram = calloc(1, MEMSZ);

	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = vm.kvm_fd = -1;
	vm.exit_code = -1;
	vm.ready_us = -1;
	vm.cfg.ready_fd = -1;
	vm.serial.out_fd = -1;
	mem_wrap(&vm.mem, ram, MEMSZ);
	if (evloop_init(&vm))
		return -1;
	unblock_term();
	vs = &vm.vsock;
	if (vsock_init(&vm, vs, 3, path))
		return -1;
	rx_avail = rx_seen = tx_avail = tx_seen = 0;
	rx_lazy = 0;
	if (driver_init(1))
		return -1;
	rx_give(QSZ - 1);
	return 0;
}

static void teardown(void)
{
	vsock_free(vs);
	close(vm.epfd);
	close(vm.stopfd);
	close(vm.sigfd);
	for (int q = 0; q < 3; q++)
		close(vs->t.kick[q].fd);
	close(vs->t.irqfd);
	free(vm.mem.host);
}

static int host_connect(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, p);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t recv_to(int fd, void *buf, size_t len)
{
	struct timeval tv = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return recv(fd, buf, len, 0);
}

/* Host connects; the guest accepts; data both ways; host closes. */
static void test_host_connect_flow(void)
{
	struct vsock_hdr h = { 0 }, r;
	char buf[256];
	uint32_t len, hport;
	int fd;

	CHECK_EQ(setup(), 0);
	fd = host_connect(path);
	CHECK(fd >= 0);
	/* the line and the first data in one write: data must not be eaten */
	CHECK_EQ(write(fd, "CONNECT 1024\nhello", 18), 18);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_EQ(h.dst_port, 1024);
	CHECK_EQ(h.dst_cid, 3);
	CHECK_EQ(h.src_cid, 2);
	hport = h.src_port;
	CHECK(hport >= 1024);
	r = ghdr(1024, hport, VIRTIO_VSOCK_OP_RESPONSE);
	tx_send(&r, NULL, 0);
	pump();
	len = 0;
	CHECK(recv_to(fd, buf, sizeof(buf)) > 0);
	snprintf(buf + 100, 50, "OK %u\n", hport);
	CHECK(!strncmp(buf, buf + 100, strlen(buf + 100)));
	CHECK(rx_take(&h, buf, &len));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_RW);
	CHECK_EQ(len, 5);
	CHECK(!memcmp(buf, "hello", 5));
	r = ghdr(1024, hport, VIRTIO_VSOCK_OP_RW);
	r.len = 5;
	tx_send(&r, "world", 5);
	pump();
	CHECK_EQ(recv_to(fd, buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "world", 5));
	/* host closes: the guest hears SHUTDOWN(SEND); its RST frees the conn */
	close(fd);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	r = ghdr(1024, hport, VIRTIO_VSOCK_OP_RST);
	tx_send(&r, NULL, 0);
	pump();
	CHECK_EQ(vs->nconns, 0);
	teardown();
}

/* The guest's credit bounds what we send; CREDIT_UPDATE opens it again. */
static void test_credit_to_guest(void)
{
	struct vsock_hdr h = { 0 }, r;
	char buf[64];
	uint32_t len, hport, got = 0;
	int fd, n;

	CHECK_EQ(setup(), 0);
	fd = host_connect(path);
	CHECK_EQ(write(fd, "CONNECT 7\n", 10), 10);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	hport = h.src_port;
	r = ghdr(7, hport, VIRTIO_VSOCK_OP_RESPONSE);
	r.buf_alloc = 8;
	tx_send(&r, NULL, 0);
	pump();
	CHECK(recv_to(fd, buf, sizeof(buf)) > 0);
	CHECK_EQ(write(fd, "0123456789abcdefghij", 20), 20);
	pump();
	for (n = 0; n < 10 && rx_take(&h, buf, &len); n++)
		if (h.op == VIRTIO_VSOCK_OP_RW)
			got += len;
	CHECK_EQ(got, 8);
	r = ghdr(7, hport, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	r.buf_alloc = 8;
	r.fwd_cnt = 8;
	tx_send(&r, NULL, 0);
	pump();
	for (n = 0; n < 10 && rx_take(&h, buf, &len); n++)
		if (h.op == VIRTIO_VSOCK_OP_RW)
			got += len;
	CHECK_EQ(got, 16);
	close(fd);
	teardown();
}

/* A guest sending beyond the credit we gave gets reset. */
static void test_guest_overrun_reset(void)
{
	static uint8_t big[VSOCK_MAX_PAYLOAD];
	struct vsock_hdr h = { 0 }, r;
	char buf[64];
	uint32_t hport;
	int fd, i, rst = 0;

	CHECK_EQ(setup(), 0);
	fd = host_connect(path);
	CHECK_EQ(write(fd, "CONNECT 9\n", 10), 10);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	hport = h.src_port;
	r = ghdr(9, hport, VIRTIO_VSOCK_OP_RESPONSE);
	tx_send(&r, NULL, 0);
	pump();
	CHECK(recv_to(fd, buf, sizeof(buf)) > 0);
	/* host never reads: socket buffer, then our 256 KiB, then RST */
	for (i = 0; i < 64 && !rst; i++) {
		r = ghdr(9, hport, VIRTIO_VSOCK_OP_RW);
		r.len = sizeof(big);
		tx_send(&r, big, sizeof(big));
		while (rx_take(&h, NULL, NULL))
			if (h.op == VIRTIO_VSOCK_OP_RST)
				rst = 1;
	}
	CHECK(rst);
	CHECK(i > 4); /* at least our buffer's worth went through first */
	close(fd);
	teardown();
}

/* Guest → host: connect to PATH_P; a missing listener answers RST. */
static void test_guest_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_hdr h = { 0 }, r;
	char buf[64];
	int l, c;

	CHECK_EQ(setup(), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5000", path);
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(l, 4) == 0);
	r = ghdr(40000, 5000, VIRTIO_VSOCK_OP_REQUEST);
	tx_send(&r, NULL, 0);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	CHECK_EQ(h.dst_port, 40000);
	c = accept(l, NULL, NULL);
	CHECK(c >= 0);
	r = ghdr(40000, 5000, VIRTIO_VSOCK_OP_RW);
	r.len = 3;
	tx_send(&r, "abc", 3);
	pump();
	CHECK_EQ(recv_to(c, buf, sizeof(buf)), 3);
	r = ghdr(40001, 5001, VIRTIO_VSOCK_OP_REQUEST); /* nobody listens */
	tx_send(&r, NULL, 0);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_RST);
	CHECK_EQ(h.dst_port, 40001);
	close(c);
	close(l);
	unlink(sa.sun_path);
	teardown();
}

/* Bad packets: ignored or reset, never a crash; bad rings: NEEDS_RESET. */
static void test_hostile_guest(void)
{
	struct vsock_hdr h = { 0 }, r;
	uint16_t *avail;
	int fd;

	CHECK_EQ(setup(), 0);
	r = ghdr(1, 2, VIRTIO_VSOCK_OP_RW);
	r.src_cid = 7; /* spoofed source */
	tx_send(&r, NULL, 0);
	pump();
	CHECK(!rx_take(&h, NULL, NULL));
	r = ghdr(1, 2, VIRTIO_VSOCK_OP_RW); /* unknown connection */
	r.len = 1;
	tx_send(&r, "x", 1);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_RST);
	r = ghdr(1, 2, 99); /* unknown op */
	tx_send(&r, NULL, 0);
	CHECK(!rx_take(&h, NULL, NULL));
	/* garbage CONNECT lines just close the client */
	fd = host_connect(path);
	CHECK_EQ(write(fd, "CONNECT -1\n", 11), 11);
	pump();
	CHECK(!rx_take(&h, NULL, NULL));
	close(fd);
	/* avail idx far ahead of what the queue can hold */
	avail = g(qbase(1) + 0x1000, 4);
	avail[1] = (uint16_t)(tx_avail + QSZ + 1);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	CHECK(reg_r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(reg_r(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	reg_w(VIRTIO_MMIO_STATUS, 0); /* reset clears it */
	CHECK_EQ(reg_r(VIRTIO_MMIO_STATUS), 0);
	teardown();
}

static void test_transport_registers(void)
{
	CHECK_EQ(setup(), 0);
	CHECK_EQ(reg_r(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	CHECK_EQ(reg_r(VIRTIO_MMIO_VERSION), 2);
	CHECK_EQ(reg_r(VIRTIO_MMIO_DEVICE_ID), 19);
	reg_w(VIRTIO_MMIO_QUEUE_SEL, 3);
	CHECK_EQ(reg_r(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	reg_w(VIRTIO_MMIO_QUEUE_SEL, 0);
	CHECK_EQ(reg_r(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	{
		uint8_t cid[8] = { 0 };

		virtio_mmio_io(&vs->t, 0x100, cid, 8, 0);
		CHECK_EQ(cid[0], 3);
	}
	/* FEATURES_OK refused without VERSION_1 */
	reg_w(VIRTIO_MMIO_STATUS, 0);
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK);
	CHECK(!(reg_r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK));
	/* a queue pointing outside RAM is refused */
	reg_w(VIRTIO_MMIO_QUEUE_NUM, QSZ);
	reg_w(VIRTIO_MMIO_QUEUE_DESC_LOW, 0xfffff000);
	reg_w(VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(reg_r(VIRTIO_MMIO_QUEUE_READY), 0);
	CHECK(reg_r(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	teardown();
}

/* Readiness probe: REQUEST to the agent port until it answers RESPONSE. */
static void test_ready_probe(void)
{
	struct vsock_hdr h = { 0 }, r;
	int i, got = 0;

	CHECK_EQ(setup(), 0);
	vm.cfg.ready_fd = -1;
	CHECK_EQ(vsock_probe_init(vs, 1024), 0);
	vsock_mux_probe_arm(vs, 1);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_EQ(h.dst_port, 1024);
	r = ghdr(1024, h.src_port, VIRTIO_VSOCK_OP_RST); /* not listening yet */
	tx_send(&r, NULL, 0);
	CHECK(vm.ready_us < 0);
	for (i = 0; i < 10 && !got; i++) { /* retried after 20 ms */
		pump();
		got = rx_take(&h, NULL, NULL);
	}
	CHECK(got);
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_REQUEST);
	r = ghdr(1024, h.src_port, VIRTIO_VSOCK_OP_RESPONSE);
	tx_send(&r, NULL, 0);
	CHECK(vm.ready_us >= 0);
	CHECK(rx_take(&h, NULL, NULL)); /* and the probe hangs up */
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_RST);
	pump();
	CHECK(!rx_take(&h, NULL, NULL)); /* no more probes once ready */
	CHECK_EQ(vs->nconns, 0);
	teardown();
}

static void test_header_and_credit(void)
{
	struct vsock_hdr a = { 3, 2, 1234, 1024, 5, 1, 5, 0, 65536, 77 }, b;
	uint8_t w[VSOCK_HDR_LEN];

	vsock_hdr_encode(&a, w);
	CHECK_EQ(w[0], 3);
	CHECK_EQ(w[24], 5);
	CHECK_EQ(w[30], 5);
	vsock_hdr_decode(w, &b);
	CHECK(a.src_cid == b.src_cid && a.dst_cid == b.dst_cid &&
	      a.src_port == b.src_port && a.dst_port == b.dst_port &&
	      a.len == b.len && a.type == b.type && a.op == b.op &&
	      a.flags == b.flags && a.buf_alloc == b.buf_alloc && a.fwd_cnt == b.fwd_cnt);
	CHECK_EQ(vsock_hdr_check(&a, 3, 5), 0);
	CHECK_EQ(vsock_hdr_check(&a, 3, 4), -EINVAL);   /* len beyond the chain */
	CHECK_EQ(vsock_hdr_check(&a, 4, 5), -EINVAL);   /* wrong source cid */
	a.len = VSOCK_MAX_PAYLOAD + 1;
	CHECK_EQ(vsock_hdr_check(&a, 3, 1 << 20), -EINVAL);
	a.len = 1;
	a.op = VIRTIO_VSOCK_OP_REQUEST; /* control ops carry no payload */
	CHECK_EQ(vsock_hdr_check(&a, 3, 1), -EINVAL);
	a.type = 2; /* seqpacket */
	a.len = 0;
	CHECK_EQ(vsock_hdr_check(&a, 3, 0), -EINVAL);

	CHECK_EQ(vsock_peer_free(100, 0, 0), 100);
	CHECK_EQ(vsock_peer_free(100, 0, 60), 40);
	CHECK_EQ(vsock_peer_free(100, 50, 150), 0);
	CHECK_EQ(vsock_peer_free(100, 0, 150), 0);      /* peer lies: no credit */
	CHECK_EQ(vsock_peer_free(100, 0xfffffff0u, 0x10), 68); /* counters wrap */
	CHECK_EQ(vsock_peer_free(100, 10, 5), 0);       /* fwd ahead of tx: nonsense */
	CHECK(vsock_rx_fits(0, 0, VSOCK_BUF_ALLOC));
	CHECK(!vsock_rx_fits(0, 0, VSOCK_BUF_ALLOC + 1));
	CHECK(vsock_rx_fits(0xfffffff0u, 0xfffffff0u - 10, VSOCK_BUF_ALLOC - 10));
	CHECK(!vsock_rx_fits(0xfffffff0u, 0xfffffff0u - 10, VSOCK_BUF_ALLOC - 9));
}

/*
 * Host connect + handshake as the Linux driver answers it; returns the host
 * socket (non-blocking) and sets *hport, *alloc, *fwd from our REQUEST.
 */
static int stream_open(uint32_t gport, uint32_t *hport, uint32_t *alloc,
		       uint32_t *fwd)
{
	struct vsock_hdr h = { 0 }, r;
	char line[64];
	int fd = host_connect(path);

	CHECK(fd >= 0);
	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	CHECK(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_REQUEST);
	*hport = h.src_port;
	*alloc = h.buf_alloc;
	*fwd = h.fwd_cnt;
	r = ghdr(gport, *hport, VIRTIO_VSOCK_OP_RESPONSE);
	r.buf_alloc = 256 * 1024;
	tx_send(&r, NULL, 0);
	pump();
	CHECK(recv_to(fd, line, sizeof(line)) > 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/*
 * Guest → host stream (vmm-vsock-stream): the guest sends while our credit
 * lasts, learning our fwd_cnt only from the packets we put in its rx queue,
 * and the host reads slowly, so our buffer fills and the host socket says
 * EAGAIN. Every byte must arrive; a lost credit update stalls it.
 */
static void test_stream_to_slow_host(void)
{
	static uint8_t chunk[VSOCK_MAX_PAYLOAD];
	const uint32_t total = 8u << 20;
	uint32_t hport, alloc, fwd, sent = 0, got = 0;
	struct vsock_hdr h = { 0 }, r;
	char buf[16384];
	int fd, idle = 0;

	CHECK_EQ(setup(), 0);
	fd = stream_open(1024, &hport, &alloc, &fwd);
	while (got < total && idle < 2000) {
		uint32_t credit;
		int progress = 0;
		ssize_t n;

		while (rx_take(&h, NULL, NULL)) {
			CHECK(h.op != VIRTIO_VSOCK_OP_RST);
			alloc = h.buf_alloc;
			fwd = h.fwd_cnt;
		}
		credit = vsock_peer_free(alloc, fwd, sent);
		if (sent < total && credit) {
			uint32_t len = credit < sizeof(chunk) ? credit : sizeof(chunk);

			if (len > total - sent)
				len = total - sent;
			r = ghdr(1024, hport, VIRTIO_VSOCK_OP_RW);
			r.buf_alloc = 256 * 1024;
			r.len = len;
			tx_send(&r, chunk, len);
			sent += len;
			progress = 1;
		}
		n = recv(fd, buf, 1 + (size_t)(rand() % (int)sizeof(buf)), MSG_DONTWAIT);
		if (n > 0) {
			got += (uint32_t)n;
			progress = 1;
		}
		evloop_poll(&vm, 0);
		idle = progress ? 0 : idle + 1;
	}
	CHECK_EQ(got, total);
	close(fd);
	teardown();
}

/*
 * Both directions at once against a guest modelled on Linux 6.1's driver:
 * it refills the rx queue only when fewer than half its buffers are left
 * (and kicks then), handles rx in batches of random size, reads what the
 * host sent at a random pace and sends CREDIT_UPDATE only when its free
 * space falls under 64 KiB; the host reads and writes at random too. Both
 * streams must finish.
 */
static void test_bidir_linux_guest(void)
{
	static uint8_t chunk[VSOCK_MAX_PAYLOAD];
	const uint32_t total = 4u << 20, galloc = 256 * 1024;
	uint32_t hport, alloc, fwd, sent = 0, got = 0; /* guest → host */
	uint32_t hsent = 0, grecv = 0, gfwd = 0, glast = 0; /* host → guest */
	uint32_t queued = 0;
	struct vsock_hdr h = { 0 }, r;
	char buf[16384];
	int fd, idle = 0, outstanding;

	CHECK_EQ(setup(), 0);
	fd = stream_open(1025, &hport, &alloc, &fwd);
	rx_lazy = 1;
	srand(7);
	while ((got < total || gfwd < total) && idle < 5000) {
		int progress = 0, batch = rand() % 6;
		uint32_t credit;
		ssize_t n;

		while (batch-- > 0 && rx_take(&h, NULL, NULL)) {
			CHECK(h.op != VIRTIO_VSOCK_OP_RST);
			alloc = h.buf_alloc;
			fwd = h.fwd_cnt;
			if (h.op == VIRTIO_VSOCK_OP_RW) {
				CHECK(queued + h.len <= galloc);
				queued += h.len;
				grecv += h.len;
			}
			progress = 1;
		}
		outstanding = (uint16_t)(rx_avail - rx_seen);
		if (outstanding < (QSZ - 1) / 2)
			rx_give(QSZ - 1 - outstanding);
		/* the guest's reader */
		if (queued && rand() % 3 == 0) {
			uint32_t take = (uint32_t)rand() % queued + 1;

			queued -= take;
			gfwd += take;
			progress = 1;
			if (galloc - (gfwd - glast) < VSOCK_MAX_PAYLOAD) {
				r = ghdr(1025, hport, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
				r.buf_alloc = galloc;
				r.fwd_cnt = glast = gfwd;
				tx_send(&r, NULL, 0);
			}
		}
		/* the guest's writer */
		credit = vsock_peer_free(alloc, fwd, sent);
		if (sent < total && credit && rand() % 2) {
			uint32_t len = (uint32_t)rand() % sizeof(chunk) + 1;

			if (len > credit)
				len = credit;
			if (len > total - sent)
				len = total - sent;
			r = ghdr(1025, hport, VIRTIO_VSOCK_OP_RW);
			r.buf_alloc = galloc;
			r.fwd_cnt = glast = gfwd;
			r.len = len;
			tx_send(&r, chunk, len);
			sent += len;
			progress = 1;
		}
		/* the host */
		n = recv(fd, buf, 1 + (size_t)(rand() % (int)sizeof(buf)), MSG_DONTWAIT);
		if (n > 0) {
			got += (uint32_t)n;
			progress = 1;
		}
		if (hsent < total) {
			size_t len = 1 + (size_t)(rand() % (int)sizeof(buf));

			if (len > total - hsent)
				len = total - hsent;
			n = send(fd, buf, len, MSG_DONTWAIT);
			if (n > 0) {
				hsent += (uint32_t)n;
				progress = 1;
			}
		}
		progress |= evloop_poll(&vm, 0) > 0;
		idle = progress ? 0 : idle + 1;
	}
	CHECK_EQ(got, total);
	CHECK_EQ(grecv, total);
	close(fd);
	teardown();
}

/*
 * Linux fills and kicks the rx queue before it sets DRIVER_OK (that kick is
 * dropped: the device is not live yet), and a host client may connect while
 * the guest still boots. Once DRIVER_OK comes, the queued REQUEST must go
 * out by itself, not wait for an unrelated event (here no probe timer).
 */
static void test_request_queued_before_driver_ok(void)
{
	struct vsock_hdr h = { 0 };
	int fd;

	CHECK_EQ(setup(), 0);
	reg_w(VIRTIO_MMIO_STATUS, 0); /* the guest resets the device */
	rx_avail = rx_seen = tx_avail = tx_seen = 0;
	CHECK_EQ(driver_init(0), 0);
	rx_give(QSZ - 1);
	fd = host_connect(path);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "CONNECT 1024\n", 13), 13);
	pump();
	CHECK(!rx_take(&h, NULL, NULL)); /* not live: nothing may be sent */
	reg_w(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	pump();
	CHECK(rx_take(&h, NULL, NULL));
	CHECK_EQ(h.op, VIRTIO_VSOCK_OP_REQUEST);
	CHECK_EQ(h.dst_port, 1024);
	close(fd);
	teardown();
}

/*
 * An rx buffer with room for the header only cannot carry data: it must not
 * be taken for the host's EOF (a SHUTDOWN that ends the stream to the guest
 * while the host still sends).
 */
static void test_header_only_rx_buffer(void)
{
	const uint32_t data = (QSZ - 1) * (RXBUF - VSOCK_HDR_LEN) + 1;
	uint32_t hport, alloc, fwd, got = 0, len;
	struct vsock_hdr h = { 0 };
	static char big[QSZ * RXBUF];
	int fd, shut = 0;

	CHECK_EQ(setup(), 0);
	fd = stream_open(1026, &hport, &alloc, &fwd);
	rx_lazy = 1; /* buffers come back only when this test gives them */
	/* enough host data to use up every rx buffer the device holds, +1 */
	CHECK_EQ(send(fd, big, data, 0), (ssize_t)data);
	pump();
	while (rx_take(&h, NULL, &len)) {
		CHECK_EQ(h.op, VIRTIO_VSOCK_OP_RW);
		got += len;
	}
	CHECK_EQ(got, data - 1);
	/* now a buffer of exactly one header, then a normal one */
	put_desc(0, rx_avail % QSZ, 0x100000 + (uint64_t)(rx_avail % QSZ) * RXBUF,
		 VSOCK_HDR_LEN, VRING_DESC_F_WRITE);
	avail_push(0, rx_avail % QSZ, &rx_avail);
	reg_w(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	pump();
	rx_give(1);
	pump();
	while (rx_take(&h, NULL, &len)) {
		if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN)
			shut = 1;
		if (h.op == VIRTIO_VSOCK_OP_RW)
			got += len;
	}
	CHECK(!shut);
	CHECK_EQ(got, data);
	close(fd);
	teardown();
}

/*
 * Out of descriptors, a waiting client cannot be accepted and the listener
 * stays readable: the listener must rest instead of waking the loop at once,
 * round after round, and accept the client once descriptors are back.
 */
static void test_accept_emfile_backs_off(void)
{
	struct rlimit old, low;
	int fill[256], nfill = 0, fd, i, busy = 0;

	CHECK_EQ(setup(), 0);
	fd = host_connect(path); /* waits in the backlog */
	CHECK(fd >= 0);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)fd + 64 < old.rlim_cur ? (rlim_t)fd + 64 : old.rlim_cur;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nfill < 256 && (fill[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nfill++;
	CHECK(nfill < 256); /* reached EMFILE */
	for (i = 0; i < 20; i++)
		busy += evloop_poll(&vm, 0) > 0;
	CHECK(busy <= 1); /* the first round pauses the listener */
	CHECK_EQ(vs->accept_pauses, 1);
	CHECK_EQ(vs->nconns, 0);
	/* descriptors come back; the retry timer watches the listener again */
	while (nfill > 0)
		close(fill[--nfill]);
	for (i = 0; i < 30 && vs->nconns == 0; i++)
		evloop_poll(&vm, 50);
	CHECK_EQ(vs->nconns, 1);
	CHECK_EQ(vs->accept_paused, 0);
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	close(fd);
	pump();
	teardown();
}

int main(void)
{
	check_skip_reason = ""; /* no SKIPs here; keeps gcc's format check calm */
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	TEST(test_header_and_credit);
	TEST(test_transport_registers);
	TEST(test_host_connect_flow);
	TEST(test_credit_to_guest);
	TEST(test_guest_overrun_reset);
	TEST(test_guest_connect);
	TEST(test_hostile_guest);
	TEST(test_ready_probe);
	TEST(test_stream_to_slow_host);
	TEST(test_bidir_linux_guest);
	TEST(test_request_queued_before_driver_ok);
	TEST(test_header_only_rx_buffer);
	TEST(test_accept_emfile_backs_off);
	unlink(path);
	rmdir(dir);
	return check_exit();
}
