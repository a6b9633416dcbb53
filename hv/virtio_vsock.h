/*
 * hv/virtio_vsock.h: virtio vsock device (virtio 1.1, 5.10 "Socket Device")
 * with its userspace backend, bridged to host Unix sockets the way
 * Firecracker does it:
 *   host → guest: connect to the --vsock socket, send "CONNECT <port>\n",
 *                 get "OK <hostport>\n", then a byte stream;
 *   guest → host: a guest connection to host port P is bridged to a
 *                 connect() on "<vsock path>_P".
 * Queues: 0 rx (device → driver), 1 tx (driver → device), 2 event (unused).
 * Flow control is vsock credit both ways: the guest may have at most
 * VSOCK_BUF_ALLOC bytes in flight towards a host socket, we never send more
 * than the guest advertised; nothing is buffered without bound.
 *
 * Threads: everything runs on the event loop thread under t.lock.
 */
#ifndef SBX_HV_VIRTIO_VSOCK_H
#define SBX_HV_VIRTIO_VSOCK_H

#include <stdint.h>

#include "hv/evloop.h"
#include "hv/virtio_mmio.h"
#include "hv/vsock_line.h"

#define VSOCK_HOST_CID 2
#define VSOCK_BUF_ALLOC (256 * 1024)  /* our receive buffer per connection */
#define VSOCK_MAX_PAYLOAD (64 * 1024) /* largest packet we accept or send */
#define VSOCK_MAX_CONNS 1024
#define VSOCK_ACCEPT_RETRY_MS 100     /* a listener paused by EMFILE retries */
#define VSOCK_HDR_LEN 44

enum vsock_state {
	VSOCK_LINE,        /* host side: reading the CONNECT line */
	VSOCK_CONNECTING,  /* REQUEST sent to the guest, waiting for RESPONSE */
	VSOCK_ESTABLISHED,
	VSOCK_CLOSING,     /* RST queued; freed once it is sent */
};

/* Control packets waiting for an rx buffer (bits of vsock_conn.pending). */
#define VSOCK_P_REQUEST 1u
#define VSOCK_P_RESPONSE 2u
#define VSOCK_P_CREDIT 4u
#define VSOCK_P_SHUTDOWN 8u
#define VSOCK_P_RST 16u

struct vsock;

struct vsock_conn {
	struct ev_handler h;        /* first */
	struct vsock *vs;
	struct vsock_conn *next;
	int fd;                     /* host socket, -1 once closed */
	enum vsock_state state;
	uint32_t host_port, guest_port;
	unsigned pending;
	uint32_t events;            /* epoll events registered */
	char line[VSOCK_LINE_MAX];
	size_t line_len;
	/* guest → host */
	uint8_t *buf;               /* VSOCK_BUF_ALLOC bytes, lazily */
	uint32_t buf_start, buf_end;
	uint32_t rx_cnt;            /* payload bytes received from the guest */
	uint32_t fwd_cnt;           /* of those, written to the host socket */
	uint32_t fwd_sent;          /* fwd_cnt last told to the guest */
	/* host → guest */
	uint32_t tx_cnt;            /* payload bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	int host_eof, guest_shut_send, guest_shut_rcv, shut_sent;
	int stalled;                /* host data waits for credit or rx buffers */
	int probe;                  /* the VMM's own readiness probe, no host fd */
	int dead;
};

struct vsock {
	struct virtio_mmio t;
	struct virtio_dev_ops ops;
	struct vm *vm;
	uint64_t guest_cid;
	char path[108];
	int listen_fd;
	struct ev_handler listen_h;
	struct vsock_conn *conns, *graveyard;
	int nconns;
	uint32_t next_port;
	int rx_full;                /* the guest gave us no rx buffers */
	uint32_t probe_port;        /* 0, or guest port probed until it accepts */
	int probe_fd;               /* timerfd pacing the probes */
	struct ev_handler probe_h;
	int probing;                /* a probe connection is in flight */
	int accept_fd;              /* timerfd: retry a paused listener */
	struct ev_handler accept_h;
	int accept_paused;          /* listener unwatched: out of fds (EMFILE) */
	uint64_t accept_pauses;     /* times it paused, for tests */
	struct virtq_chain rxc, txc; /* scratch chains (loop thread) */
	uint8_t scratch[VSOCK_MAX_PAYLOAD];
	uint64_t pkts_in, pkts_out, resets;
};

/*
 * Sets up the device with guest CID cid and, if path is non-NULL, listens on
 * the Unix socket path (unlinked first). vm may be NULL (tests, fuzzing).
 * Returns 0 or -errno. Setup only.
 */
int vsock_init(struct vm *vm, struct vsock *vs, uint64_t cid, const char *path);

/* Closes every connection and the listening socket. */
void vsock_free(struct vsock *vs);

/*
 * Readiness without the boot-timer port: from DRIVER_OK on, connect to guest
 * port `port` every 20 ms until the guest accepts, then reset the probe
 * connection and call boot_timer_ready(). 0/-errno. Setup only, vm != NULL.
 */
int vsock_probe_init(struct vsock *vs, uint32_t port);

/* Frees connections retired during this event-loop round. */
void vsock_gc(struct vsock *vs);

/* --- pure helpers (tests/unit/hv_vsock.c) --- */

/* The packet header, host byte order (x86: same as the le wire format). */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/* Decodes / encodes the 44-byte wire header. */
void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_LEN], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t b[VSOCK_HDR_LEN]);

/*
 * Checks a header sent by the guest with avail payload bytes behind it:
 * stream type, src_cid = guest cid, dst_cid = host, len <= avail and
 * <= VSOCK_MAX_PAYLOAD, op known. 0 or -EINVAL.
 */
int vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid,
		    uint64_t avail);

/* Bytes we may still send to a peer that advertised buf_alloc/fwd_cnt
 * after we sent tx_cnt bytes in total (wrapping counters). 0 if the peer's
 * numbers make no sense. */
uint32_t vsock_peer_free(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t tx_cnt);

/* 1 if a guest packet of len bytes fits our buffer given rx_cnt/fwd_cnt. */
int vsock_rx_fits(uint32_t rx_cnt, uint32_t fwd_cnt, uint32_t len);

#endif
