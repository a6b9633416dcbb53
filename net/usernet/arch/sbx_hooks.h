/* lwIP hooks for sbx (included by lwIP through LWIP_HOOK_FILENAME). */
#ifndef SBX_LWIP_HOOKS_H
#define SBX_LWIP_HOOKS_H

#include "lwip/arch.h"
#include "lwip/ip_addr.h"

struct pbuf;
struct netif;

/* RFC 6528 initial sequence number: a keyed hash (SipHash-2-4, key from
 * getrandom) of the 4-tuple plus a clock ticking every 4 us. */
u32_t sbx_lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
		       const ip_addr_t *remote_ip, u16_t remote_port);

/* Optional input hooks, NULL by default. Called for every IPv4 (IPv6)
 * packet before lwIP's own checks; return nonzero when the packet was taken
 * (the hook then owns and frees the pbuf), zero to let lwIP go on. */
extern int (*sbx_lwip_ip4_input_hook)(struct pbuf *p, struct netif *inp);
extern int (*sbx_lwip_ip6_input_hook)(struct pbuf *p, struct netif *inp);

#endif
