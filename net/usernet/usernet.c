/*
 * net/usernet/usernet.c: user-mode networking for one sandbox: lwIP (NO_SYS,
 * raw API) inside sbx-vmm ends the guest's TCP flows, and host sockets
 * re-open them after the egress policy said yes.
 *
 * Theory of operation
 *
 * Frames from the guest (usernet_input) are parsed here before lwIP sees
 * them. Link layer: usernet is the only other host on the guest's Ethernet,
 * so ARP is answered here for the gateway, DNS and alias addresses (with the
 * gateway MAC), and every frame to the guest is addressed to the guest's MAC
 * from the gateway MAC: lwIP's netif has no ARP (no NETIF_FLAG_ETHARP) and
 * its output callback just prepends that header. IPv6 and non-IP frames are
 * dropped (the guest is IPv4-only), as are IPv4 fragments.
 *
 * Any destination: stock lwIP accepts only packets to its netif's own
 * address. Rather than rewriting addresses in front of lwIP (and back on
 * output, with checksums and a mapping table), usernet makes lwIP's single
 * netif a catch-all: just before a packet goes into ip4_input(), the
 * netif's address is set to the packet's destination, and restored right
 * after (a plain store, not netif_set_ipaddr(), which would abort pcbs).
 * lwIP then accepts the packet, and a pcb it creates takes the destination
 * as its local address (tcp_listen_input copies ip_current_dest_addr()), so
 * every later segment of that connection leaves with the right source. The
 * netmask is 0.0.0.0 so any address is on-link and routes to this netif.
 * Only TCP goes through lwIP: UDP (udp_flow.c) and DNS (dns.c) are simple
 * enough to answer here, and TCP SYNs are judged (tcp_flow.c) before lwIP
 * is allowed to answer them; ICMP to the gateway is answered by lwIP (ping).
 *
 * Host side: every host socket is non-blocking and sits in usernet's own
 * epoll set, with a timerfd for lwIP's TCP timer and usernet's timeouts;
 * the VMM adds that one epoll fd to its loop and calls usernet_poll() when
 * it is readable. Objects ended while a batch of events is being handled go
 * on a dead list and are freed after the batch.
 *
 * Timers: usernet runs only lwIP's TCP timer, tcp_tmr(), every
 * TCP_TMR_INTERVAL while any pcb lives (active or TIME-WAIT), and a 1 s tick
 * while a connect, a UDP flow or a DNS query waits. It never calls
 * sys_check_timeouts(): lwIP's other cyclic timers (ARP, reassembly, ND6,
 * MLD) serve nothing usernet uses, and an idle sandbox then costs no
 * wake-ups at all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "net/usernet/usernet_priv.h"

#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

#define ETH_HLEN 14
#define TICK_MS	 1000 /* usernet's own timeouts: connect, UDP idle, DNS */

static struct usernet *un_current; /* lwIP is global: one per process */
static bool un_lwip_ready;

uint64_t un_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* lwIP's clock (lwip/sys.h). */
u32_t sys_now(void)
{
	return (u32_t)un_now_ms();
}

int un_watch(struct usernet *un, int fd, uint32_t events, void *ptr, bool add)
{
	struct epoll_event ev = {.events = events, .data.ptr = ptr};

	if (epoll_ctl(un->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) <
	    0)
		return -errno;
	return 0;
}

void un_unwatch(struct usernet *un, int fd)
{
	epoll_ctl(un->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void un_output(struct usernet *un, const void *frame, size_t len)
{
	if (un->cfg.output(un->cfg.opaque, frame, len) == 0)
		un->st.tx_frames++;
	else
		un->st.tx_dropped++;
}

/* ---- lwIP's netif ---- */

/*
 * lwIP's IPv4 output: one Ethernet frame to the guest, no ARP. A segment
 * in one pbuf (the usual case: lwIP keeps link-header room in front) gets
 * its Ethernet header written in place and goes out without a copy; a
 * chain is flattened into txbuf.
 */
static err_t un_netif_output(struct netif *netif, struct pbuf *p,
			     const ip4_addr_t *ipaddr)
{
	struct usernet *un = netif->state;
	uint8_t *b = un->txbuf;

	if (!p->next && pbuf_add_header(p, ETH_HLEN) == 0) {
		b = p->payload;
		memcpy(b, un->cfg.guest_mac, 6);
		memcpy(b + 6, un->cfg.gateway_mac, 6);
		b[12] = 0x08;
		b[13] = 0x00;
		un_output(un, b, p->len);
		pbuf_remove_header(p, ETH_HLEN);
		return ERR_OK;
	}
	memcpy(b, un->cfg.guest_mac, 6);
	memcpy(b + 6, un->cfg.gateway_mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	pbuf_copy_partial(p, b + ETH_HLEN, p->tot_len, 0);
	un_output(un, b, ETH_HLEN + p->tot_len);
	return ERR_OK; /* a drop is a loss: TCP retransmits */
}

static err_t un_netif_linkoutput(struct netif *netif, struct pbuf *p)
{
	return ERR_OK; /* IPv6 and raw link output: not used */
}

static err_t un_netif_init(struct netif *netif)
{
	struct usernet *un = netif->state;

	netif->name[0] = 'u';
	netif->name[1] = 'n';
	netif->output = un_netif_output;
	netif->linkoutput = un_netif_linkoutput;
	netif->mtu = (u16_t)un->cfg.mtu;
	netif->hwaddr_len = 6;
	memcpy(netif->hwaddr, un->cfg.gateway_mac, 6);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

void un_lwip_input(struct usernet *un, const struct un_ip4 *ip)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)ip->ip_len, PBUF_RAM);
	ip4_addr_t *own = ip_2_ip4(&un->netif.ip_addr);
	u32_t saved = own->addr;

	if (!p) {
		un->st.rx_dropped++;
		return;
	}
	pbuf_take(p, ip->ip, (u16_t)ip->ip_len);
	own->addr = ip->dst; /* the catch-all: see the comment at the top */
	ip4_input(p, &un->netif);
	own->addr = saved;
}

/* ---- frames from the guest ---- */

/* Answers an ARP request for one of usernet's addresses. */
static void un_arp(struct usernet *un, const uint8_t *f, size_t len)
{
	const uint8_t *a = f + ETH_HLEN;
	uint8_t r[ETH_HLEN + 28];
	uint32_t tip;

	if (len < ETH_HLEN + 28)
		return;
	/* Ethernet, IPv4, 6, 4, request */
	if (a[0] != 0 || a[1] != 1 || a[2] != 8 || a[3] != 0 || a[4] != 6 ||
	    a[5] != 4 || a[6] != 0 || a[7] != 1)
		return;
	memcpy(&tip, a + 24, 4);
	if (tip != un->cfg.gateway_ip.s_addr && tip != un->cfg.dns_ip.s_addr &&
	    !(un->cfg.policy.alias_on &&
	      un->cfg.policy.alias_guest.family == AF_INET &&
	      memcmp(&tip, un->cfg.policy.alias_guest.b, 4) == 0))
		return;
	memcpy(r, f + 6, 6); /* to the asker */
	memcpy(r + 6, un->cfg.gateway_mac, 6);
	r[12] = 0x08;
	r[13] = 0x06;
	memcpy(r + ETH_HLEN, a, 6);
	r[ETH_HLEN + 6] = 0;
	r[ETH_HLEN + 7] = 2; /* reply */
	memcpy(r + ETH_HLEN + 8, un->cfg.gateway_mac, 6);
	memcpy(r + ETH_HLEN + 14, &tip, 4);
	memcpy(r + ETH_HLEN + 18, a + 8,
	       10); /* sender MAC and IP become target */
	un_output(un, r, sizeof(r));
}

/* Re-arms the timer for lwIP's next timeout, or usernet's tick when
 * something waits on one; disarms it when nothing does. */
static void un_arm_timer(struct usernet *un, bool force)
{
	uint64_t now = un_now_ms(), at = 0;
	struct itimerspec its = {0};

	if (tcp_active_pcbs || tcp_tw_pcbs) {
		if (!un->tcp_tmr_at)
			un->tcp_tmr_at = now + TCP_TMR_INTERVAL;
		at = un->tcp_tmr_at;
	} else {
		un->tcp_tmr_at = 0;
	}
	if (un->udp || un_dns_busy(un) || un_tcp_waiting(un)) {
		if (!at || at > now + TICK_MS)
			at = now + TICK_MS;
	}
	if (at && at <= now)
		at = now + 1;
	if (at == un->timer_at)
		return; /* armed for that already (or disarmed, for 0) */
	if (!force && un->timer_at && at && at >= un->timer_at)
		return; /* armed earlier already */
	if (!force && !at)
		return;
	un->timer_at = at;
	if (at) {
		its.it_value.tv_sec = (time_t)((at - now) / 1000);
		its.it_value.tv_nsec = (long)((at - now) % 1000) * 1000000;
	}
	timerfd_settime(un->timerfd, 0, &its, NULL);
}

void usernet_input(struct usernet *un, const void *frame, size_t len)
{
	const uint8_t *f = frame;
	struct un_ip4 ip;

	un->st.rx_frames++;
	if (len < ETH_HLEN) {
		un->st.rx_dropped++;
		return;
	}
	if (f[12] == 0x08 && f[13] == 0x06) {
		un_arp(un, f, len);
		return;
	}
	if (f[12] != 0x08 || f[13] != 0x00 ||
	    un_parse_ip4(f + ETH_HLEN, len - ETH_HLEN, &ip) < 0 ||
	    ip.src != un->cfg.guest_ip.s_addr || (ip.ip[6] & 0x3f) != 0 ||
	    ip.ip[7] != 0) { /* MF or an offset */
		un->st.rx_dropped++;
		return;
	}
	switch (ip.proto) {
	case 6:
		un_tcp_input(un, &ip);
		break;
	case 17:
		un_udp_input(un, &ip);
		break;
	case 1:
		if (ip.dst == un->cfg.gateway_ip.s_addr)
			un_lwip_input(un, &ip); /* echo from the gateway */
		else
			un->st.rx_dropped++;
		break;
	default:
		un->st.rx_dropped++;
		break;
	}
	un_flow_reap(un);
	un_arm_timer(un, false);
}

int usernet_fd(const struct usernet *un)
{
	return un->epfd;
}

void usernet_poll(struct usernet *un)
{
	struct epoll_event ev[64];
	int n;

	for (int round = 0; round < 8; round++) {
		n = epoll_wait(un->epfd, ev, 64, 0);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			enum un_kind *kind = ev[i].data.ptr;

			switch (*kind) {
			case UN_TIMER: {
				uint64_t ticks, now = un_now_ms();

				(void)!read(un->timerfd, &ticks, sizeof(ticks));
				un->timer_at = 0;
				if (un->tcp_tmr_at && now >= un->tcp_tmr_at) {
					un->tcp_tmr_at = 0;
					tcp_tmr();
				}
				un_tcp_tick(un, now);
				un_udp_tick(un, now);
				un_dns_tick(un, now);
				break;
			}
			case UN_TCP:
				un_tcp_event(un, (struct un_tcp_flow *)kind,
					     ev[i].events);
				break;
			case UN_UDP:
				un_udp_event(un, (struct un_udp_flow *)kind,
					     ev[i].events);
				break;
			case UN_DNS:
				un_dns_event(un,
					     (struct un_dns_resolver *)kind);
				break;
			default:
				break; /* ended earlier in this batch */
			}
		}
		un_flow_reap(un);
		if (n < 64)
			break;
	}
	un_arm_timer(un, true);
}

void usernet_stats(const struct usernet *un, struct usernet_stats *s)
{
	*s = un->st;
}

void usernet_config_default(struct usernet_config *c)
{
	static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00,
					     0x12, 0x34, 0x56};
	static const uint8_t gw_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

	memset(c, 0, sizeof(*c));
	memcpy(c->guest_mac, guest_mac, 6);
	memcpy(c->gateway_mac, gw_mac, 6);
	inet_pton(AF_INET, "10.0.2.15", &c->guest_ip);
	inet_pton(AF_INET, "10.0.2.2", &c->gateway_ip);
	inet_pton(AF_INET, "10.0.2.3", &c->dns_ip);
	c->prefix_len = 24;
	c->resolv_conf = "/etc/resolv.conf";
	policy_init(&c->policy);
	c->max_flows = 256;
	c->mtu = 1500;
	c->connect_timeout_ms = 20000;
	c->udp_idle_ms = 60000;
}

int usernet_create(const struct usernet_config *c, struct usernet **out)
{
	struct usernet *un;
	ip4_addr_t addr, mask, gw;
	int r;

	if (un_current)
		return -EBUSY;
	if (!c->output || c->mtu < 576 || c->mtu > 65535 ||
	    c->prefix_len > 30 || c->max_flows == 0)
		return -EINVAL;
	un = calloc(1, sizeof(*un));
	if (!un)
		return -ENOMEM;
	un->cfg = *c;
	un->epfd = un->timerfd = -1;
	if (un->cfg.n_resolvers == 0) {
		r = un_dns_read_resolv_conf(
		    c->resolv_conf ? c->resolv_conf : "/etc/resolv.conf",
		    un->cfg.resolvers, USERNET_MAX_RESOLVERS);
		/* No resolv.conf, or no nameserver in it: networking still
		 * works by address; the guest's DNS queries go unanswered. */
		if (r < 0 && r != -ENOENT)
			goto err;
		if (r <= 0)
			fprintf(stderr, "usernet: no DNS resolvers: sandbox names will not resolve\n");
		un->cfg.n_resolvers = r > 0 ? (unsigned)r : 0;
	}
	if (un->cfg.n_resolvers > USERNET_MAX_RESOLVERS) {
		r = -EINVAL;
		goto err;
	}
	un->epfd = epoll_create1(EPOLL_CLOEXEC);
	un->timerfd =
	    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (un->epfd < 0 || un->timerfd < 0) {
		r = -errno;
		goto err;
	}
	un->timer_kind = UN_TIMER;
	r = un_watch(un, un->timerfd, EPOLLIN, &un->timer_kind, true);
	if (r < 0)
		goto err;
	r = un_dns_init(un);
	if (r < 0)
		goto err;

	if (!un_lwip_ready) {
		lwip_init();
		un_lwip_ready = true;
	}
	addr.addr = c->gateway_ip.s_addr;
	mask.addr = 0; /* everything on-link: see the top of this file */
	gw.addr = 0;
	if (!netif_add(&un->netif, &addr, &mask, &gw, un, un_netif_init,
		       ip4_input)) {
		r = -ENOMEM;
		goto err;
	}
	netif_set_default(&un->netif);
	netif_set_up(&un->netif);
	netif_set_link_up(&un->netif);
	un_current = un;
	*out = un;
	return 0;
err:
	un_dns_fini(un);
	if (un->timerfd >= 0)
		close(un->timerfd);
	if (un->epfd >= 0)
		close(un->epfd);
	free(un);
	return r;
}

/* One line for the operator's log when a sandbox's network goes away. */
static void un_log_summary(const struct usernet *un)
{
	const struct usernet_stats *s = &un->st;

	if (!s->tcp_opened && !s->udp_opened && !s->refused_policy &&
	    !s->refused_limit && !s->dns_queries)
		return; /* never used: nothing worth a line */
	fprintf(stderr,
		"usernet: flows opened tcp %llu udp %llu; refused policy %llu "
		"limit %llu; connect failed %llu; dns %llu/%llu; frames to the "
		"guest %llu, dropped %llu\n",
		(unsigned long long)s->tcp_opened,
		(unsigned long long)s->udp_opened,
		(unsigned long long)s->refused_policy,
		(unsigned long long)s->refused_limit,
		(unsigned long long)s->connect_failed,
		(unsigned long long)s->dns_answers,
		(unsigned long long)s->dns_queries,
		(unsigned long long)s->tx_frames,
		(unsigned long long)s->tx_dropped);
}

void usernet_destroy(struct usernet *un)
{
	if (!un)
		return;
	un_log_summary(un);
	un_tcp_destroy_all(un);
	un_udp_destroy_all(un);
	un_flow_reap(un);
	un_dns_fini(un);
	netif_remove(&un->netif);
	close(un->timerfd);
	close(un->epfd);
	if (un_current == un)
		un_current = NULL;
	free(un);
}
