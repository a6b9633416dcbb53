/*
 * lwIP options for usernet (sbx-vmm's user-mode network stack).
 *
 * Built into $SBX_CACHE/lwip-<hash>/liblwip.a by image/lwip.sh; the headers
 * the library was built with (this file, arch/cc.h, arch/sbx_hooks.h and
 * lwIP's own) are in build/images/lwip/include/: compile usernet with
 * -I build/images/lwip/include so both sides agree.
 *
 * - NO_SYS=1, raw (callback) API only: no sockets, no netconn, no threads.
 *   lwIP is not thread-safe here: call it from one thread only.
 * - The caller provides u32_t sys_now(void) (milliseconds, monotonic) and
 *   calls sys_check_timeouts() regularly.
 * - Memory: lwIP's heap and pools come from malloc (MEM_LIBC_MALLOC,
 *   MEMP_MEM_MALLOC), so an idle VMM costs almost nothing; the MEMP_NUM_*
 *   counts below are then NOT enforced by lwIP: usernet must bound the
 *   number of flows (and buffered bytes) per sandbox itself.
 * - TCP tuned for throughput: window scaling, 128 KiB windows and send
 *   buffers, MSS 1460 (guest MTU 1500).
 * - Initial sequence numbers: RFC 6528 (keyed hash of the 4-tuple plus a
 *   4 us clock), see arch/sbx_port.c.
 * - Checksums generated and checked in software (the guest's virtio-net has
 *   no offloads).
 * - Optional input hooks (arch/sbx_hooks.h): sbx_lwip_ip4_input_hook and
 *   sbx_lwip_ip6_input_hook, NULL by default, see a packet before lwIP's
 *   address checks (stock lwIP accepts only packets to its own addresses).
 */
#ifndef SBX_LWIPOPTS_H
#define SBX_LWIPOPTS_H

/* System: no OS, raw API. */
#define NO_SYS                        1
#define SYS_LIGHTWEIGHT_PROT          0
#define LWIP_SOCKET                   0
#define LWIP_NETCONN                  0
#define LWIP_NETIF_API                0
#define LWIP_ALTCP                    0
#define LWIP_CALLBACK_API             1
#define LWIP_TIMERS                   1

/* Memory. */
#define MEM_ALIGNMENT                 8
#define MEM_LIBC_MALLOC               1
#define MEMP_MEM_MALLOC               1
#define MEMP_OVERFLOW_CHECK           0
#define MEMP_NUM_PBUF                 1024
#define MEMP_NUM_RAW_PCB              16
#define MEMP_NUM_UDP_PCB              512
#define MEMP_NUM_TCP_PCB              1024
#define MEMP_NUM_TCP_PCB_LISTEN       64
#define MEMP_NUM_TCP_SEG              8192
#define MEMP_NUM_REASSDATA            32
#define MEMP_NUM_FRAG_PBUF            256
#define MEMP_NUM_ARP_QUEUE            64
#define MEMP_NUM_ND6_QUEUE            64
#define PBUF_POOL_SIZE                1024
#define LWIP_SUPPORT_CUSTOM_PBUF      1

/* Link: Ethernet with ARP (IPv4) and neighbour discovery (IPv6). */
#define LWIP_ARP                      1
#define LWIP_ETHERNET                 1
#define ARP_TABLE_SIZE                16
#define ARP_QUEUEING                  1
#define ETHARP_SUPPORT_STATIC_ENTRIES 1
#define ETHARP_TABLE_MATCH_NETIF      0
#define LWIP_HAVE_LOOPIF              0
#define LWIP_NETIF_LOOPBACK           0
#define LWIP_SINGLE_NETIF             0
#define LWIP_NETIF_STATUS_CALLBACK    0
#define LWIP_NETIF_LINK_CALLBACK      0
#define LWIP_NETIF_HOSTNAME           0

/* IPv4. */
#define LWIP_IPV4                     1
#define IP_FORWARD                    0
#define IP_REASSEMBLY                 1
#define IP_FRAG                       1
#define IP_REASS_MAX_PBUFS            64
#define IP_DEFAULT_TTL                64
#define LWIP_ICMP                     1
#define LWIP_RAW                      1
#define LWIP_DHCP                     0
#define LWIP_AUTOIP                   0
#define LWIP_IGMP                     0
#define LWIP_DNS                      0

/* IPv6: no autoconfiguration of our own addresses (usernet sets them), no
 * duplicate address detection delay. */
#define LWIP_IPV6                     1
#define LWIP_IPV6_NUM_ADDRESSES       3
#define LWIP_IPV6_FORWARD             0
#define LWIP_IPV6_FRAG                1
#define LWIP_IPV6_REASS               1
#define LWIP_ICMP6                    1
#define LWIP_IPV6_MLD                 1
#define LWIP_IPV6_AUTOCONFIG          0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_DHCP6               0
#define LWIP_ND6_ALLOW_RA_UPDATES     0
#define LWIP_ND6_NUM_NEIGHBORS        16
#define LWIP_ND6_NUM_DESTINATIONS     64

/* UDP. */
#define LWIP_UDP                      1
#define LWIP_UDPLITE                  0

/* TCP, sized for throughput. */
#define LWIP_TCP                      1
#define TCP_MSS                       1460
#define LWIP_WND_SCALE                1
#define TCP_RCV_SCALE                 2
#define TCP_WND                       (128 * 1024)
#define TCP_SND_BUF                   (256 * 1024)
#define TCP_SND_QUEUELEN              ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
/* lwIP's init.c wants it 4 MSS below 65535 (a u16_t view of snd_buf). */
#define TCP_SNDLOWAT                  (48 * 1024)
#define TCP_SNDQUEUELOWAT             (TCP_SND_QUEUELEN / 2)
#define TCP_QUEUE_OOSEQ               1
#define TCP_OOSEQ_MAX_BYTES           (256 * 1024)
#define TCP_OOSEQ_MAX_PBUFS           256
#define TCP_CALCULATE_EFF_SEND_MSS    1
#define TCP_OVERSIZE                  TCP_MSS
#define TCP_LISTEN_BACKLOG            0
#define LWIP_TCP_KEEPALIVE            1
#define LWIP_TCP_TIMESTAMPS           0
#define LWIP_TCP_SACK_OUT             1
#define LWIP_TCP_MAX_SACK_NUM         4
#define LWIP_CHECKSUM_ON_COPY         1

/* Checksums: all generated and checked in software. */
#define CHECKSUM_GEN_IP               1
#define CHECKSUM_GEN_UDP              1
#define CHECKSUM_GEN_TCP              1
#define CHECKSUM_GEN_ICMP             1
#define CHECKSUM_GEN_ICMP6            1
#define CHECKSUM_CHECK_IP             1
#define CHECKSUM_CHECK_UDP            1
#define CHECKSUM_CHECK_TCP            1
#define CHECKSUM_CHECK_ICMP           1
#define CHECKSUM_CHECK_ICMP6          1

/* Hooks (declared in arch/sbx_hooks.h, defined in arch/sbx_port.c). */
#define LWIP_HOOK_FILENAME            "arch/sbx_hooks.h"
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
	sbx_lwip_tcp_isn(local_ip, local_port, remote_ip, remote_port)
#define LWIP_HOOK_IP4_INPUT(p, inp) \
	(sbx_lwip_ip4_input_hook != NULL && sbx_lwip_ip4_input_hook(p, inp))
#define LWIP_HOOK_IP6_INPUT(p, inp) \
	(sbx_lwip_ip6_input_hook != NULL && sbx_lwip_ip6_input_hook(p, inp))

/* No statistics, no debug output. */
#define LWIP_STATS                    0
#define LWIP_STATS_DISPLAY            0
#define LWIP_DBG_TYPES_ON             0

#endif /* SBX_LWIPOPTS_H */
