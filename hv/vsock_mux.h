/*
 * hv/vsock_mux.h: internal interface between the virtio-vsock device
 * (virtio_vsock.c: queues, packet codec) and the connection multiplexer
 * (vsock_mux.c: host sockets, the connection state machine, credit).
 * Loop thread, vs->t.lock held, for all of these.
 */
#ifndef SBX_HV_VSOCK_MUX_H
#define SBX_HV_VSOCK_MUX_H

#include "hv/virtio_vsock.h"

/* Handles one packet from the guest; payload at chain offset VSOCK_HDR_LEN. */
void vsock_mux_packet(struct vsock *vs, const struct vsock_hdr *h,
		      const struct virtq_chain *c);

/* Sends queued control packets and host data while rx buffers last. */
void vsock_mux_flush(struct vsock *vs);

/* Drops every connection (device reset). */
void vsock_mux_reset(struct vsock *vs);

/* Arms the probe timer to fire in ms milliseconds (if probing is on). */
void vsock_mux_probe_arm(struct vsock *vs, int ms);

/* Starts listening on vs->path. 0/-errno. */
int vsock_mux_listen(struct vsock *vs);

/*
 * Takes an rx buffer able to hold a header: 1 with vs->rxc filled, 0 if
 * none (sets vs->rx_full), -EINVAL if the ring is bad (device failed).
 */
int vsock_rx_pop(struct vsock *vs);

/* Fills vs->rxc with h and len payload bytes, returns it, interrupts. */
void vsock_rx_put(struct vsock *vs, const struct vsock_hdr *h,
		  const void *payload, uint32_t len);

#endif
