/*
 * net/usernet/pkt.c: the packets usernet writes itself, without lwIP: UDP
 * datagrams to the guest (fragmented to the guest's MTU when needed), the
 * RST|ACK that refuses a guest's SYN, and the ICMP destination-unreachable
 * that refuses a guest's UDP flow. Also the Internet checksum and the
 * checked parse of an IPv4 header from the guest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "net/usernet/usernet_priv.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define UDP_HLEN 8
#define TCP_HLEN 20

uint32_t un_csum_add(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t s = sum;

	while (len >= 2) {
		s += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* The Internet checksum (RFC 1071) of data plus a partial sum, in host
 * order, ready to be stored with htons(). */
uint16_t un_csum(const void *data, size_t len, uint32_t sum)
{
	sum = un_csum_add(data, len, sum);
	return (uint16_t)~sum;
}

int un_parse_ip4(const uint8_t *pkt, size_t len, struct un_ip4 *out)
{
	size_t hl, tot;

	if (len < IP4_HLEN || (pkt[0] >> 4) != 4)
		return -EINVAL;
	hl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = (size_t)pkt[2] << 8 | pkt[3];
	if (hl < IP4_HLEN || tot < hl || tot > len)
		return -EINVAL;
#ifndef SBX_FUZZ /* let the fuzzer past the checksums */
	if (un_csum(pkt, hl, 0) != 0)
		return -EINVAL;
#endif
	out->ip = pkt;
	out->ip_len = tot;
	out->hdr_len = hl;
	out->proto = pkt[9];
	memcpy(&out->src, pkt + 12, 4);
	memcpy(&out->dst, pkt + 16, 4);
	out->l4 = pkt + hl;
	out->l4_len = tot - hl;
	return 0;
}

/* Writes an Ethernet header for the guest at b. */
static void un_put_eth(struct usernet *un, uint8_t *b)
{
	memcpy(b, un->cfg.guest_mac, 6);
	memcpy(b + 6, un->cfg.gateway_mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
}

/* Writes an IPv4 header at b. frag: the fragment offset field (host
 * order, with the MF bit). */
static void un_put_ip4(uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto,
		       size_t tot, uint16_t id, uint16_t frag)
{
	uint16_t c;

	b[0] = 0x45;
	b[1] = 0;
	b[2] = (uint8_t)(tot >> 8);
	b[3] = (uint8_t)tot;
	b[4] = (uint8_t)(id >> 8);
	b[5] = (uint8_t)id;
	b[6] = (uint8_t)(frag >> 8);
	b[7] = (uint8_t)frag;
	b[8] = 64;
	b[9] = proto;
	b[10] = b[11] = 0;
	memcpy(b + 12, &src, 4);
	memcpy(b + 16, &dst, 4);
	c = un_csum(b, IP4_HLEN, 0);
	b[10] = (uint8_t)(c >> 8);
	b[11] = (uint8_t)c;
}

/* The pseudo-header sum of RFC 768 / RFC 793. */
static uint32_t un_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	uint8_t ph[12];

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return un_csum_add(ph, sizeof(ph), 0);
}

/*
 * Sends a UDP datagram src:sport -> dst:dport (network order) to the guest,
 * in IPv4 fragments when it exceeds the MTU. Returns the payload bytes
 * sent, 0 when too big (over 65507).
 */
size_t un_build_udp(struct usernet *un, uint32_t src, uint16_t sport,
		    uint32_t dst, uint16_t dport, const void *payload,
		    size_t len)
{
	static uint16_t ip_id;
	uint8_t udp[UDP_HLEN];
	size_t ulen = UDP_HLEN + len, off = 0;
	size_t chunk = (un->cfg.mtu - IP4_HLEN) & ~(size_t)7;
	uint8_t *b = un->txbuf;
	uint16_t c, id = ++ip_id;

	if (ulen > 65535 - IP4_HLEN)
		return 0;
	memcpy(udp, &sport, 2);
	memcpy(udp + 2, &dport, 2);
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	c = un_csum(payload, len,
		    un_csum_add(udp, UDP_HLEN, un_pseudo(src, dst, 17, ulen)));
	if (c == 0)
		c = 0xffff;
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;

	/* Each fragment carries a slice of the UDP datagram (header + data). */
	while (off < ulen) {
		size_t n =
		    ulen - off <= un->cfg.mtu - IP4_HLEN ? ulen - off : chunk;
		uint16_t frag =
		    (uint16_t)(off / 8) | (off + n < ulen ? 0x2000 : 0);
		uint8_t *d = b + ETH_HLEN + IP4_HLEN;
		size_t i = 0;

		un_put_eth(un, b);
		un_put_ip4(b + ETH_HLEN, src, dst, 17, IP4_HLEN + n, id, frag);
		/* the slice [off, off + n) of udp header ++ payload */
		for (; off + i < UDP_HLEN && i < n; i++)
			d[i] = udp[off + i];
		if (i < n)
			memcpy(d + i,
			       (const uint8_t *)payload + (off + i - UDP_HLEN),
			       n - i);
		un_output(un, b, ETH_HLEN + IP4_HLEN + n);
		off += n;
	}
	return len;
}

/*
 * Refuses the guest's TCP segment ip (a SYN usually) with RST|ACK from its
 * destination, so the guest's connect() fails at once (ECONNREFUSED).
 * Nothing is sent in answer to a RST.
 */
void un_send_rst(struct usernet *un, const struct un_ip4 *ip)
{
	const uint8_t *t = ip->l4;
	uint8_t *b = un->txbuf, *o = b + ETH_HLEN + IP4_HLEN;
	uint32_t seq, ack, seglen;
	uint8_t flags;
	uint16_t c;

	if (ip->l4_len < TCP_HLEN)
		return;
	flags = t[13];
	if (flags & 0x04) /* RST */
		return;
	memcpy(&seq, t + 4, 4);
	memcpy(&ack, t + 8, 4);
	seglen = (uint32_t)(ip->l4_len - (size_t)(t[12] >> 4) * 4);
	if (flags & 0x02)
		seglen++; /* SYN */
	if (flags & 0x01)
		seglen++; /* FIN */
	memset(o, 0, TCP_HLEN);
	memcpy(o, t + 2, 2); /* ports swapped */
	memcpy(o + 2, t, 2);
	if (flags & 0x10) { /* ACK: RST with seq = their ack (RFC 793, 3.4) */
		memcpy(o + 4, &ack, 4);
		o[13] = 0x04;
	} else {
		uint32_t a = htonl(ntohl(seq) + seglen);

		memcpy(o + 8, &a, 4);
		o[13] = 0x14; /* RST|ACK */
	}
	o[12] = 5 << 4;
	c = un_csum(o, TCP_HLEN, un_pseudo(ip->dst, ip->src, 6, TCP_HLEN));
	o[16] = (uint8_t)(c >> 8);
	o[17] = (uint8_t)c;
	un_put_eth(un, b);
	un_put_ip4(b + ETH_HLEN, ip->dst, ip->src, 6, IP4_HLEN + TCP_HLEN, 0,
		   0x4000);
	un_output(un, b, ETH_HLEN + IP4_HLEN + TCP_HLEN);
}

/*
 * Refuses the guest's datagram ip with ICMP destination unreachable, code
 * (RFC 792; 13: communication administratively prohibited), from the
 * gateway, quoting the IP header and 8 bytes of payload.
 */
void un_send_unreach(struct usernet *un, const struct un_ip4 *ip, uint8_t code)
{
	uint8_t *b = un->txbuf, *o = b + ETH_HLEN + IP4_HLEN;
	size_t quote = ip->hdr_len + (ip->l4_len < 8 ? ip->l4_len : 8);
	uint16_t c;

	memset(o, 0, 8);
	o[0] = 3;
	o[1] = code;
	memcpy(o + 8, ip->ip, quote);
	c = un_csum(o, 8 + quote, 0);
	o[2] = (uint8_t)(c >> 8);
	o[3] = (uint8_t)c;
	un_put_eth(un, b);
	un_put_ip4(b + ETH_HLEN, un->cfg.gateway_ip.s_addr, ip->src, 1,
		   IP4_HLEN + 8 + quote, 0, 0);
	un_output(un, b, ETH_HLEN + IP4_HLEN + 8 + quote);
}
