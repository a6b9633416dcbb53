/*
 * net/usernet/udp_flow.c: the guest's UDP flows, without lwIP.
 *
 * A flow is (guest addr:port, destination addr:port). Its first datagram is
 * judged by the egress policy; if allowed, a connected non-blocking host
 * socket carries the flow's datagrams both ways, and answers come back to
 * the guest from the destination the guest used (the alias address stays
 * the alias address). A refused flow gets ICMP "administratively
 * prohibited" (the flow limit: "host unreachable"), so the guest's
 * sendto/recv fails at once. A flow idle for udp_idle_ms is closed. Datagrams
 * are never queued: a full host socket drops them, as UDP may.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/usernet/usernet_priv.h"

static void un_udp_free(struct usernet *un, struct un_udp_flow *f)
{
	struct un_udp_flow **pp;

	for (pp = &un->udp; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	un_unwatch(un, f->fd);
	close(f->fd);
	un->st.udp_flows--;
	f->kind = 0; /* dead: freed by un_reap() */
	f->next = un->dead_udp;
	un->dead_udp = f;
}

/* Opens the host socket for a new flow to dial:port. Returns fd or -errno. */
static int un_udp_dial(const struct policy_addr *dial, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, r;

	memset(&ss, 0, sizeof(ss));
	if (dial->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, dial->b, 4);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, dial->b, 16);
		sl = sizeof(*s);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static bool un_udp_csum_ok(const struct un_ip4 *ip)
{
#ifdef SBX_FUZZ
	return true; /* let the fuzzer past the checksums */
#endif
	uint8_t ph[12];
	uint16_t c;

	memcpy(&c, ip->l4 + 6, 2);
	if (c == 0)
		return true; /* no checksum (IPv4 allows it) */
	memcpy(ph, &ip->src, 4);
	memcpy(ph + 4, &ip->dst, 4);
	ph[8] = 0;
	ph[9] = 17;
	ph[10] = (uint8_t)(ip->l4_len >> 8);
	ph[11] = (uint8_t)ip->l4_len;
	return un_csum(ip->l4, ip->l4_len, un_csum_add(ph, 12, 0)) == 0;
}

void un_udp_input(struct usernet *un, const struct un_ip4 *ip)
{
	struct un_udp_flow *f;
	uint16_t sport, dport, ulen;
	const uint8_t *data;
	size_t len;

	if (ip->l4_len < 8) {
		un->st.rx_dropped++;
		return;
	}
	memcpy(&sport, ip->l4, 2);
	memcpy(&dport, ip->l4 + 2, 2);
	ulen = (uint16_t)(ip->l4[4] << 8 | ip->l4[5]);
	if (ulen < 8 || ulen > ip->l4_len || !un_udp_csum_ok(ip)) {
		un->st.rx_dropped++;
		return;
	}
	data = ip->l4 + 8;
	len = (size_t)ulen - 8;

	if (ip->dst == un->cfg.dns_ip.s_addr) {
		if (dport == htons(53))
			un_dns_query(un, ip, data, len);
		else
			un->st.rx_dropped++;
		return;
	}

	for (f = un->udp; f; f = f->next)
		if (f->gaddr == ip->src && f->gport == sport &&
		    f->daddr == ip->dst && f->dport == dport)
			break;
	if (!f) {
		struct policy_addr dst = {.family = AF_INET}, dial;
		const char *names[UN_DNS_NAMES];
		enum policy_verdict v;
		uint16_t dial_port;
		size_t n;
		int fd;

		memcpy(dst.b, &ip->dst, 4);
		n = un_names_for(un, &dst, names);
		v = policy_check(&un->cfg.policy, &dst, ntohs(dport), names, n,
				 &dial, &dial_port);
		if (v != POLICY_ALLOW) {
			un->st.refused_policy++;
			un_send_unreach(un, ip, 13);
			return;
		}
		if (!un_flow_room(un)) {
			un->st.refused_limit++;
			un_send_unreach(un, ip, 1);
			return;
		}
		fd = un_udp_dial(&dial, dial_port);
		if (fd < 0) {
			un->st.connect_failed++;
			return;
		}
		f = calloc(1, sizeof(*f));
		if (!f) {
			close(fd);
			return;
		}
		*f = (struct un_udp_flow){
		    .kind = UN_UDP,
		    .gaddr = ip->src,
		    .gport = sport,
		    .daddr = ip->dst,
		    .dport = dport,
		    .fd = fd,
		};
		if (un_watch(un, fd, EPOLLIN, f, true) < 0) {
			close(fd);
			free(f);
			return;
		}
		f->next = un->udp;
		un->udp = f;
		un->st.udp_flows++;
		un->st.udp_opened++;
	}
	f->last_ms = un_now_ms();
	(void)!send(f->fd, data, len,
		    MSG_DONTWAIT); /* full or refused: dropped */
}

void un_udp_event(struct usernet *un, struct un_udp_flow *f, uint32_t events)
{
	static uint8_t buf[65536];

	for (int budget = 0; budget < 64; budget++) {
		ssize_t n = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			return; /* EAGAIN; ICMP errors (ECONNREFUSED) are
				   dropped */
		f->last_ms = un_now_ms();
		un_build_udp(un, f->daddr, f->dport, f->gaddr, f->gport, buf,
			     (size_t)n);
	}
}

void un_udp_tick(struct usernet *un, uint64_t now)
{
	struct un_udp_flow *f = un->udp, *next;

	for (; f; f = next) {
		next = f->next;
		if (now - f->last_ms >= un->cfg.udp_idle_ms)
			un_udp_free(un, f);
	}
}

void un_udp_destroy_all(struct usernet *un)
{
	while (un->udp)
		un_udp_free(un, un->udp);
}
