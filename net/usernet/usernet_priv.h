/*
 * net/usernet/usernet_priv.h: what usernet's own files share (the context
 * struct, the flow structs, the packet helpers). Not for the VMM: it sees
 * only usernet.h. Everything here runs on the VMM's I/O thread.
 */
#ifndef SBX_USERNET_PRIV_H
#define SBX_USERNET_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/usernet/usernet.h"

#include "lwip/netif.h"

struct tcp_pcb;
struct pbuf;

/* What an epoll event's data.ptr points to: the first member of each
 * watched object, so usernet_poll() can dispatch on it. */
enum un_kind { UN_TIMER = 1, UN_TCP, UN_UDP, UN_DNS };

/* A parsed IPv4 packet from the guest; pointers into the frame. */
struct un_ip4 {
	const uint8_t *ip; /* IPv4 header */
	size_t ip_len;	   /* header + payload, from tot_len */
	size_t hdr_len;	   /* IHL * 4 */
	uint8_t proto;
	uint32_t src, dst; /* network byte order */
	const uint8_t *l4; /* payload */
	size_t l4_len;
};

/* ---- the flows ---- */

/*
 * What a TCP and a UDP flow share, the first member of each (so a flow
 * pointer is also an epoll data.ptr to its kind). Owned by flow.c: admit,
 * create, dial, link, find and retire; the protocol files add the rest.
 */
struct un_flow {
	enum un_kind kind; /* UN_TCP or UN_UDP; 0 once retired */
	struct un_flow *next;
	uint32_t gaddr, daddr; /* guest, destination (network order) */
	uint16_t gport, dport; /* network order */
	int fd;		       /* host socket, -1 before the dial */
};

enum un_tcp_state {
	UN_TCP_CONNECTING, /* host connect in progress; the guest's SYN held */
	UN_TCP_ACCEPTING,  /* SYN handed to lwIP; waiting for the accept */
	UN_TCP_OPEN,	   /* spliced */
};

struct un_listener; /* tcp_flow.c */

struct un_tcp_flow {
	struct un_flow fl; /* kind UN_TCP; first */
	enum un_tcp_state state;
	uint32_t events;     /* what fl.fd is registered for now */
	struct tcp_pcb *pcb; /* lwIP side, once accepted */
	struct un_listener *listener;
	uint8_t *syn; /* the guest's SYN (IPv4 packet) */
	size_t syn_len;
	uint64_t deadline_ms; /* connect / accept timeout */
	struct pbuf *pending; /* guest data not yet written to fd */
	size_t pending_off;   /* bytes of pending already written */
	bool guest_fin;	      /* the guest sent FIN (host write side shut
			       * after pending drained) */
	bool host_eof;	      /* the host sent FIN (pcb shut for writing) */
	bool host_shut;	      /* shutdown(fd, SHUT_WR) done */
};

struct un_udp_flow {
	struct un_flow fl; /* kind UN_UDP; first */
	uint64_t last_ms;
};

/* ---- DNS (dns.c) ---- */

#define UN_DNS_PENDING 64
#define UN_DNS_CACHE   512
#define UN_DNS_NAMES   8 /* names at most per address in one verdict */

struct un_dns_query {
	bool used;
	uint16_t id, guest_id; /* ours, the guest's */
	uint16_t gport;	       /* guest's source port (network order) */
	uint32_t gaddr;
	uint64_t sent_ms;
};

struct un_dns_name {
	struct policy_addr addr;
	uint64_t expires_ms;
	char name[POLICY_NAME_MAX];
};

struct un_dns_resolver {
	enum un_kind kind; /* UN_DNS; first */
	int fd;		   /* connected UDP socket */
};

struct un_dns {
	struct un_dns_resolver res[USERNET_MAX_RESOLVERS];
	unsigned n_res, next_res;
	uint16_t next_id;
	struct un_dns_query q[UN_DNS_PENDING];
	struct un_dns_name cache[UN_DNS_CACHE];
	unsigned cache_next; /* ring: the oldest entry goes first */
};

/* ---- the context ---- */

struct usernet {
	struct usernet_config cfg;
	int epfd, timerfd;
	enum un_kind
	    timer_kind; /* UN_TIMER: what timerfd's data.ptr points to */
	struct netif netif;
	uint32_t netmask; /* guest net, network order */
	struct un_flow *tcp, *udp; /* open flows (struct un_*_flow) */
	struct un_listener *listeners;
	struct un_dns dns;
	struct un_flow *dead; /* retired this round, freed by un_flow_reap() */
	uint64_t timer_at;   /* when timerfd fires, 0: disarmed */
	uint64_t tcp_tmr_at; /* next tcp_tmr(), 0: none due */
	uint64_t limit_logged_ms; /* last "flow limit" log line, 0: never */
	struct usernet_stats st;
	uint8_t txbuf[65536 + 64]; /* one frame for the guest, being built */
};

/* usernet.c */
uint64_t un_now_ms(void);
int un_watch(struct usernet *un, int fd, uint32_t events, void *ptr, bool add);
void un_unwatch(struct usernet *un, int fd);
void un_output(struct usernet *un, const void *frame, size_t len);
void un_lwip_input(struct usernet *un, const struct un_ip4 *ip);

/* flow.c: the bookkeeping TCP and UDP flows share. */
int un_flow_admit(struct usernet *un, const struct un_ip4 *ip, uint16_t dport,
		  struct policy_addr *dial, uint16_t *dial_port);
bool un_flow_room(struct usernet *un);
void *un_flow_new(size_t size, enum un_kind kind, const struct un_ip4 *ip,
		  uint16_t sport, uint16_t dport);
int un_flow_dial(struct un_flow *f, int type, const struct policy_addr *dial,
		 uint16_t port, bool *done);
void un_flow_link(struct usernet *un, struct un_flow *f);
struct un_flow *un_flow_find(struct un_flow *list, uint32_t gaddr,
			     uint16_t gport, uint32_t daddr, uint16_t dport);
void un_flow_retire(struct usernet *un, struct un_flow *f, bool watched);
void un_flow_reap(struct usernet *un);

/* pkt.c: building frames for the guest and checksums. */
uint16_t un_csum(const void *data, size_t len, uint32_t sum);
uint32_t un_csum_add(const void *data, size_t len, uint32_t sum);
int un_parse_ip4(const uint8_t *pkt, size_t len, struct un_ip4 *out);
size_t un_build_udp(struct usernet *un, uint32_t src, uint16_t sport,
		    uint32_t dst, uint16_t dport, const void *payload,
		    size_t len);
void un_send_rst(struct usernet *un, const struct un_ip4 *ip);
void un_send_unreach(struct usernet *un, const struct un_ip4 *ip, uint8_t code);

/* tcp_flow.c */
void un_tcp_input(struct usernet *un, const struct un_ip4 *ip);
void un_tcp_event(struct usernet *un, struct un_tcp_flow *f, uint32_t events);
void un_tcp_tick(struct usernet *un, uint64_t now);
void un_tcp_destroy_all(struct usernet *un);
bool un_tcp_waiting(const struct usernet *un);

/* udp_flow.c */
void un_udp_input(struct usernet *un, const struct un_ip4 *ip);
void un_udp_event(struct usernet *un, struct un_udp_flow *f, uint32_t events);
void un_udp_tick(struct usernet *un, uint64_t now);
void un_udp_destroy_all(struct usernet *un);

/* dns.c */
int un_dns_init(struct usernet *un);
void un_dns_fini(struct usernet *un);
void un_dns_query(struct usernet *un, const struct un_ip4 *ip,
		  const uint8_t *msg, size_t len);
void un_dns_event(struct usernet *un, struct un_dns_resolver *r);
void un_dns_tick(struct usernet *un, uint64_t now);
bool un_dns_busy(const struct usernet *un);
size_t un_names_for(struct usernet *un, const struct policy_addr *a,
		    const char *names[UN_DNS_NAMES]);
int un_dns_read_resolv_conf(const char *path, struct sockaddr_storage *out,
			    unsigned max);

/*
 * Parses a DNS response (untrusted: from the network) and calls fn for
 * every A/AAAA record with the name the guest asked (qname) and the
 * record's owner name, both normalised. Returns 0 or -EINVAL. Pure.
 */
typedef void (*un_dns_record_fn)(void *arg, const char *name,
				 const struct policy_addr *a, uint32_t ttl);
int un_dns_parse_response(const uint8_t *msg, size_t len, un_dns_record_fn fn,
			  void *arg);

#endif
