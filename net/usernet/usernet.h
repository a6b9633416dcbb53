/*
 * net/usernet/usernet.h: user-mode networking for one sandbox, the whole
 * interface the VMM's virtio-net device uses. The device knows nothing of
 * lwIP: it hands Ethernet frames from the guest to usernet_input(), takes
 * frames for the guest from the output callback, and services one fd.
 *
 * Addresses (the guest gets them on its kernel command line, no DHCP):
 *   guest    10.0.2.15/24, MAC 52:54:00:12:34:56 (the device's MAC)
 *   gateway  10.0.2.2, MAC 52:55:0a:00:02:02 (usernet answers ARP for it)
 *   DNS      10.0.2.3 (UDP 53, forwarded to the host's resolvers)
 *   alias    10.0.2.100 (optional: an operator-set host address, see policy.h)
 * e.g. ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3
 *
 * IPv4 only on the guest side (IPv6 frames from the guest are dropped).
 *
 * Threads: every function here must be called on one thread, the VMM's I/O
 * thread. lwIP keeps global state, so a process holds at most one usernet.
 */
#ifndef SBX_USERNET_H
#define SBX_USERNET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/usernet/policy.h"

#define USERNET_MAX_RESOLVERS 3

struct usernet; /* opaque */

/*
 * Called with one complete Ethernet frame (no virtio-net header) for the
 * guest; frame is only borrowed for the call. Must not block: return 0 when
 * the frame was queued, -ENOBUFS when the guest's RX queue is full (usernet
 * drops the frame, counts it, and TCP retransmits later).
 */
typedef int (*usernet_output_fn)(void *opaque, const void *frame, size_t len);

struct usernet_config {
	uint8_t guest_mac[6];
	uint8_t gateway_mac[6];
	struct in_addr guest_ip, gateway_ip, dns_ip; /* network byte order */
	unsigned prefix_len;			     /* of the guest's net */
	/* Host resolvers; when n_resolvers is 0, the nameserver lines of
	 * resolv_conf (default /etc/resolv.conf) are used. */
	unsigned n_resolvers;
	struct sockaddr_storage resolvers[USERNET_MAX_RESOLVERS];
	const char *resolv_conf;
	struct policy policy;	     /* copied at create */
	unsigned max_flows;	     /* TCP + UDP flows at once */
	unsigned mtu;		     /* guest's IP MTU, 1500 */
	unsigned connect_timeout_ms; /* host connect, then RST to the guest */
	unsigned udp_idle_ms;	     /* a UDP flow without traffic is closed */
	usernet_output_fn output;
	void *opaque;
};

/* Counters, all since create. */
struct usernet_stats {
	uint64_t rx_frames;  /* frames from the guest */
	uint64_t rx_dropped; /* malformed, unsupported, IPv6, fragments */
	uint64_t tx_frames;  /* frames queued to the guest */
	uint64_t tx_dropped; /* guest RX queue full */
	uint64_t tcp_opened, udp_opened;
	uint64_t refused_policy; /* flows refused by the egress policy */
	uint64_t refused_limit;	 /* flows refused by max_flows */
	uint64_t
	    connect_failed; /* host connect refused, unreachable, timed out */
	uint64_t dns_queries, dns_answers;
	unsigned tcp_flows, udp_flows; /* open now */
};

/* Fills c with the addresses above, the default policy, 256 flows, MTU
 * 1500, a 20 s connect timeout, a 60 s UDP idle timeout; output unset. */
void usernet_config_default(struct usernet_config *c);

/*
 * Creates the stack. Reads resolv.conf if needed; opens an epoll fd (see
 * usernet_fd). Returns 0 and *out, or -errno (-EBUSY when one exists in
 * this process, -EINVAL on a bad config, -ENOENT when no resolver).
 */
int usernet_create(const struct usernet_config *c, struct usernet **out);

/* One Ethernet frame from the guest; borrowed for the call. Never fails:
 * bad frames are dropped and counted. May call the output callback. */
void usernet_input(struct usernet *un, const void *frame, size_t len);

/*
 * An fd to add to the VMM's epoll loop (EPOLLIN). It is readable when a host
 * socket or usernet's own timer needs service; then call usernet_poll().
 */
int usernet_fd(const struct usernet *un);

/* Services ready host sockets and due timers (lwIP's, connect and idle
 * timeouts). Never blocks. May call the output callback. */
void usernet_poll(struct usernet *un);

/* Copies the counters into *s. */
void usernet_stats(const struct usernet *un, struct usernet_stats *s);

/* Closes every flow (guest connections simply vanish), frees everything.
 * NULL is fine. */
void usernet_destroy(struct usernet *un);

#endif
