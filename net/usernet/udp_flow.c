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

/*
 * The first datagram of a new flow: admitted (a refusal is an ICMP
 * unreachable), dialled, watched, linked. Returns the flow or NULL.
 */
static struct un_udp_flow *un_udp_open(struct usernet *un,
				       const struct un_ip4 *ip, uint16_t sport,
				       uint16_t dport)
{
	struct policy_addr dial;
	struct un_udp_flow *f;
	uint16_t dial_port;
	bool done;
	int r;

	r = un_flow_admit(un, ip, dport, &dial, &dial_port);
	if (r < 0) {
		/* 13 "administratively prohibited", 1 "host unreachable" */
		un_send_unreach(un, ip, r == -EACCES ? 13 : 1);
		return NULL;
	}
	f = un_flow_new(sizeof(*f), UN_UDP, ip, sport, dport);
	if (!f)
		return NULL;
	if (un_flow_dial(&f->fl, SOCK_DGRAM, &dial, dial_port, &done) < 0) {
		un->st.connect_failed++;
		free(f);
		return NULL;
	}
	if (un_watch(un, f->fl.fd, EPOLLIN, f, true) < 0) {
		close(f->fl.fd);
		free(f);
		return NULL;
	}
	un_flow_link(un, &f->fl);
	return f;
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

	f = (struct un_udp_flow *)un_flow_find(un->udp, ip->src, sport,
					       ip->dst, dport);
	if (!f) {
		f = un_udp_open(un, ip, sport, dport);
		if (!f)
			return;
	}
	f->last_ms = un_now_ms();
	(void)!send(f->fl.fd, data, len,
		    MSG_DONTWAIT); /* full or refused: dropped */
}

void un_udp_event(struct usernet *un, struct un_udp_flow *f, uint32_t events)
{
	static uint8_t buf[65536];

	for (int budget = 0; budget < 64; budget++) {
		ssize_t n = recv(f->fl.fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			return; /* EAGAIN; ICMP errors (ECONNREFUSED) are
				   dropped */
		f->last_ms = un_now_ms();
		un_build_udp(un, f->fl.daddr, f->fl.dport, f->fl.gaddr,
			     f->fl.gport, buf, (size_t)n);
	}
}

void un_udp_tick(struct usernet *un, uint64_t now)
{
	struct un_flow *f = un->udp, *next;

	for (; f; f = next) {
		next = f->next;
		if (now - ((struct un_udp_flow *)f)->last_ms >=
		    un->cfg.udp_idle_ms)
			un_flow_retire(un, f, true);
	}
}

void un_udp_destroy_all(struct usernet *un)
{
	while (un->udp)
		un_flow_retire(un, un->udp, true);
}
