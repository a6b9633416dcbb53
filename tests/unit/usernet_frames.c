/*
 * tests/unit/usernet_frames.c: usernet driven by hand-made guest frames, the
 * way the VMM's virtio-net device drives it: ARP, refused SYNs (RST at once,
 * nothing dialled), lwIP answering for any destination (the catch-all
 * netif), ping to the gateway, malformed frames, the flow limit, and one
 * whole TCP connection through the host alias to a listener on this
 * process's loopback (no other network).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/usernet/usernet_priv.h"
#include "tests/lib/check.h"

#define MAXF 64

static struct {
	int n;
	size_t len[MAXF];
	uint8_t f[MAXF][2048];
	bool full; /* pretend the guest's RX queue is full */
} out;

static int capture(void *opaque, const void *frame, size_t len)
{
	if (out.full)
		return -ENOBUFS;
	if (out.n < MAXF && len <= sizeof(out.f[0])) {
		memcpy(out.f[out.n], frame, len);
		out.len[out.n] = len;
	}
	out.n++;
	return 0;
}

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t gw_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* Builds a guest TCP segment; returns the frame length. */
static size_t tcp_frame(uint8_t *b, uint32_t dst, uint16_t sport,
			uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, const void *data, size_t len)
{
	uint32_t src = ip4("10.0.2.15");
	uint8_t *ip = b + 14, *t = ip + 20, ph[12];
	uint16_t c;

	memcpy(b, gw_mac, 6);
	memcpy(b + 6, guest_mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((40 + len) >> 8);
	ip[3] = (uint8_t)(40 + len);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = un_csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	t[0] = (uint8_t)(sport >> 8);
	t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8);
	t[3] = (uint8_t)dport;
	seq = htonl(seq);
	ack = htonl(ack);
	memcpy(t + 4, &seq, 4);
	memcpy(t + 8, &ack, 4);
	t[12] = 5 << 4;
	t[13] = flags;
	t[14] = 0xff; /* window 65535 */
	t[15] = 0xff;
	if (len)
		memcpy(t + 20, data, len);
	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)((20 + len) >> 8);
	ph[11] = (uint8_t)(20 + len);
	c = un_csum(t, 20 + len, un_csum_add(ph, 12, 0));
	t[16] = (uint8_t)(c >> 8);
	t[17] = (uint8_t)c;
	return 14 + 40 + len;
}

/* Fields of a TCP frame usernet sent. */
struct seg {
	uint32_t src, dst, seq, ack;
	uint16_t sport, dport;
	uint8_t flags;
	size_t len;
	const uint8_t *data;
};

static bool parse_seg(int i, struct seg *s)
{
	const uint8_t *f = out.f[i], *ip = f + 14, *t;
	size_t hl;

	if (i >= out.n || out.len[i] < 54 || f[12] != 0x08 || f[13] != 0 ||
	    ip[9] != 6)
		return false;
	CHECK(memcmp(f, guest_mac, 6) == 0);
	CHECK(memcmp(f + 6, gw_mac, 6) == 0);
	CHECK_EQ(un_csum(ip, 20, 0), 0);
	hl = (size_t)(ip[0] & 15) * 4;
	t = ip + hl;
	memcpy(&s->src, ip + 12, 4);
	memcpy(&s->dst, ip + 16, 4);
	s->sport = (uint16_t)(t[0] << 8 | t[1]);
	s->dport = (uint16_t)(t[2] << 8 | t[3]);
	s->seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 |
		 (uint32_t)t[6] << 8 | t[7];
	s->ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 |
		 (uint32_t)t[10] << 8 | t[11];
	s->flags = t[13];
	s->len = (size_t)(ip[2] << 8 | ip[3]) - hl - (size_t)(t[12] >> 4) * 4;
	s->data = t + (t[12] >> 4) * 4;
	return true;
}

static struct usernet *make(const char *rule, unsigned max_flows)
{
	struct usernet_config c;
	struct usernet *un = NULL;
	struct sockaddr_in *r = (struct sockaddr_in *)&c.resolvers[0];

	usernet_config_default(&c);
	c.n_resolvers = 1;
	r->sin_family = AF_INET;
	r->sin_port = htons(9);
	r->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.output = capture;
	c.max_flows = max_flows;
	if (rule)
		CHECK_EQ(policy_rule(&c.policy, rule), 0);
	CHECK_EQ(usernet_create(&c, &un), 0);
	memset(&out, 0, sizeof(out));
	return un;
}

static void arp(void)
{
	struct usernet *un = make(NULL, 8);
	uint8_t f[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00,
			 0x12, 0x34, 0x56, 0x08, 0x06, 0,    1,	   8,	 0,
			 6,    4,    0,	   1,	 0x52, 0x54, 0x00, 0x12, 0x34,
			 0x56, 10,   0,	   2,	 15,   0,    0,	   0,	 0,
			 0,    0,    10,   0,	 2,    2};

	if (!un)
		return;
	usernet_input(un, f, sizeof(f));
	CHECK_EQ(out.n, 1);
	CHECK(memcmp(out.f[0], guest_mac, 6) == 0);
	CHECK(out.f[0][21] == 2);		      /* a reply */
	CHECK(memcmp(out.f[0] + 22, gw_mac, 6) == 0); /* sender: the gateway */
	CHECK(memcmp(out.f[0] + 28, f + 38, 4) == 0); /* for 10.0.2.2 */
	CHECK(memcmp(out.f[0] + 32, guest_mac, 6) == 0); /* to the guest */
	f[41] = 3;					 /* DNS */
	usernet_input(un, f, sizeof(f));
	CHECK_EQ(out.n, 2);
	f[41] = 77; /* nobody */
	usernet_input(un, f, sizeof(f));
	CHECK_EQ(out.n, 2);
	usernet_destroy(un);
}

/* A SYN to dst gets a RST|ACK from dst at once, nothing else. */
static void refused_one(struct usernet *un, const char *dst, uint16_t port)
{
	uint8_t f[128];
	size_t n = tcp_frame(f, ip4(dst), 40000, port, 1000, 0, 0x02, NULL, 0);
	struct seg s;
	int before = out.n;

	usernet_input(un, f, n);
	CHECK_EQ(out.n, before + 1);
	if (!parse_seg(before, &s))
		return;
	CHECK_EQ(s.src, ip4(dst));
	CHECK_EQ(s.sport, port);
	CHECK_EQ(s.dport, 40000);
	CHECK_EQ(s.flags, 0x14); /* RST|ACK */
	CHECK_EQ(s.ack, 1001);
}

static void refused(void)
{
	struct usernet *un = make("alias 10.0.2.100 127.0.0.1 8000-8099", 8);
	struct usernet_stats st;

	if (!un)
		return;
	refused_one(un, "10.0.0.1", 80);
	refused_one(un, "169.254.169.254", 80);
	refused_one(un, "127.0.0.1", 22);
	refused_one(un, "192.168.1.1", 443);
	refused_one(un, "10.0.2.2", 80);
	refused_one(un, "10.0.2.100", 22); /* alias, port out of range */
	usernet_stats(un, &st);
	CHECK_EQ(st.refused_policy, 6);
	CHECK_EQ(st.tcp_flows, 0);
	usernet_destroy(un);
}

static void internet_off(void)
{
	struct usernet *un = make("internet off", 8);
	struct usernet_stats st;

	if (!un)
		return;
	refused_one(un, "8.8.8.8", 443);
	usernet_stats(un, &st);
	CHECK_EQ(st.refused_policy, 1);
	usernet_destroy(un);
}

/* lwIP itself answers a stray segment to an arbitrary address with a RST
 * from that address: the catch-all netif accepts any destination. */
static void any_destination(void)
{
	struct usernet *un = make("internet off", 8);
	uint8_t f[128];
	size_t n = tcp_frame(f, ip4("93.184.216.34"), 40001, 443, 5000, 777,
			     0x10, NULL, 0);
	struct seg s;

	if (!un)
		return;
	usernet_input(un, f, n);
	CHECK_EQ(out.n, 1);
	if (parse_seg(0, &s)) {
		CHECK_EQ(s.src, ip4("93.184.216.34"));
		CHECK_EQ(s.sport, 443);
		CHECK(s.flags & 0x04);
		CHECK_EQ(s.seq, 777);
	}
	usernet_destroy(un);
}

static void ping_gateway(void)
{
	struct usernet *un = make(NULL, 8);
	uint8_t f[14 + 28];
	uint8_t *ip = f + 14, *ic = ip + 20;
	uint32_t src = ip4("10.0.2.15"), dst = ip4("10.0.2.2");
	uint16_t c;

	if (!un)
		return;
	memcpy(f, gw_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 8;
	f[13] = 0;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[3] = 28;
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = un_csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	ic[0] = 8; /* echo request */
	ic[4] = 0x12;
	ic[6] = 0x00;
	ic[7] = 0x01;
	c = un_csum(ic, 8, 0);
	ic[2] = (uint8_t)(c >> 8);
	ic[3] = (uint8_t)c;
	usernet_input(un, f, sizeof(f));
	CHECK_EQ(out.n, 1);
	if (out.n == 1) {
		CHECK_EQ(out.f[0][14 + 9], 1);
		CHECK_EQ(out.f[0][14 + 20], 0); /* echo reply */
		CHECK(memcmp(out.f[0] + 14 + 12, &dst, 4) == 0);
	}
	usernet_destroy(un);
}

static void malformed(void)
{
	struct usernet *un = make("internet off", 8);
	uint8_t f[128];
	size_t n;
	struct usernet_stats st;

	if (!un)
		return;
	usernet_input(un, f, 0);
	usernet_input(un, f, 13);
	n = tcp_frame(f, ip4("8.8.8.8"), 40002, 80, 1, 0, 0x02, NULL, 0);
	f[14 + 20 + 16] ^= 1; /* bad TCP checksum */
	usernet_input(un, f, n);
	n = tcp_frame(f, ip4("8.8.8.8"), 40002, 80, 1, 0, 0x02, NULL, 0);
	f[14 + 10] ^= 1; /* bad IP checksum */
	usernet_input(un, f, n);
	n = tcp_frame(f, ip4("8.8.8.8"), 40002, 80, 1, 0, 0x02, NULL, 0);
	usernet_input(un, f, n - 1); /* shorter than tot_len */
	n = tcp_frame(f, ip4("8.8.8.8"), 40002, 80, 1, 0, 0x02, NULL, 0);
	f[14 + 15] = 99; /* not the guest's source address */
	usernet_input(un, f, n);
	f[12] = 0x86; /* IPv6 */
	f[13] = 0xdd;
	usernet_input(un, f, n);
	usernet_stats(un, &st);
	CHECK_EQ(out.n, 0);
	CHECK_EQ(st.rx_dropped, 7);
	CHECK_EQ(st.tcp_flows, 0);
	usernet_destroy(un);
}

/* A UDP datagram to a refused destination: ICMP "prohibited" back. */
static void udp_refused(void)
{
	struct usernet *un = make(NULL, 8);
	uint8_t f[64] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x52,
			 0x54, 0x00, 0x12, 0x34, 0x56, 8,    0};
	uint8_t *ip = f + 14, *u = ip + 20;
	uint32_t src = ip4("10.0.2.15"), dst = ip4("169.254.169.254");
	struct usernet_stats st;
	uint16_t c;

	if (!un)
		return;
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	c = un_csum(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	u[0] = 0x30;
	u[1] = 0x39; /* 12345 */
	u[3] = 53;
	u[5] = 12; /* length; checksum 0: none */
	memcpy(u + 8, "abcd", 4);
	usernet_input(un, f, 14 + 32);
	CHECK_EQ(out.n, 1);
	if (out.n == 1) {
		const uint8_t *r = out.f[0] + 14;

		CHECK_EQ(r[9], 1);   /* ICMP */
		CHECK_EQ(r[20], 3);  /* unreachable */
		CHECK_EQ(r[21], 13); /* administratively prohibited */
		CHECK(memcmp(r + 16, &src, 4) == 0);
		CHECK(memcmp(r + 28, ip, 28) == 0); /* the quote */
		CHECK_EQ(un_csum(r + 20, out.len[0] - 34, 0), 0);
	}
	usernet_stats(un, &st);
	CHECK_EQ(st.refused_policy, 1);
	CHECK_EQ(st.udp_flows, 0);
	usernet_destroy(un);
}

/* Runs usernet's loop until cond() or about 2 s. */
static void pump(struct usernet *un, bool (*cond)(void *), void *arg)
{
	for (int i = 0; i < 200 && !cond(arg); i++) {
		struct pollfd p = {.fd = usernet_fd(un), .events = POLLIN};

		poll(&p, 1, 10);
		usernet_poll(un);
	}
}

static bool have_frames(void *arg)
{
	return out.n >= *(int *)arg;
}

/* True when the host socket *arg has something to read (or EOF). */
static bool host_readable(void *arg)
{
	struct pollfd p = {.fd = *(int *)arg, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* The whole way: SYN -> host connect -> SYN|ACK from lwIP -> data both
 * ways -> FIN both ways, through the alias to a loopback listener. */
static void alias_connection(void)
{
	struct usernet *un;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = -1, want;
	char rule[96], buf[64];
	uint8_t f[256];
	uint16_t port;
	uint32_t iss = 9000, srv;
	struct seg s;
	size_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		SKIP("no loopback listener");
		if (lfd >= 0)
			close(lfd);
		return;
	}
	port = ntohs(sa.sin_port);
	snprintf(rule, sizeof(rule), "alias 10.0.2.100 127.0.0.1 %u", port);
	un = make(rule, 8);
	if (!un) {
		close(lfd);
		return;
	}
	n = tcp_frame(f, ip4("10.0.2.100"), 41000, port, iss, 0, 0x02, NULL, 0);
	usernet_input(un, f, n);
	want = 1;
	pump(un, have_frames, &want);
	CHECK_EQ(out.n, 1);
	if (!parse_seg(0, &s))
		goto done;
	CHECK_EQ(s.flags, 0x12); /* SYN|ACK */
	CHECK_EQ(s.src, ip4("10.0.2.100"));
	CHECK_EQ(s.sport, port);
	CHECK_EQ(s.ack, iss + 1);
	srv = s.seq + 1;
	cfd = accept(lfd, NULL, NULL);
	CHECK(cfd >= 0);

	/* ACK with data: the guest talks first */
	n = tcp_frame(f, ip4("10.0.2.100"), 41000, port, iss + 1, srv, 0x18,
		      "ping", 4);
	usernet_input(un, f, n);
	/* guest data leaves for the host when usernet's loop runs next */
	pump(un, host_readable, &cfd);
	CHECK_EQ(recv(cfd, buf, sizeof(buf), MSG_DONTWAIT), 4);
	CHECK(memcmp(buf, "ping", 4) == 0);

	/* a burst of segments before the loop runs: gathered into one send,
	 * in order, nothing lost or doubled */
	for (uint32_t i = 0; i < 3; i++) {
		n = tcp_frame(f, ip4("10.0.2.100"), 41000, port,
			      iss + 5 + 2 * i, srv, 0x18, "a1b2c3" + 2 * i, 2);
		usernet_input(un, f, n);
	}
	pump(un, host_readable, &cfd);
	CHECK_EQ(recv(cfd, buf, sizeof(buf), MSG_DONTWAIT), 6);
	CHECK(memcmp(buf, "a1b2c3", 6) == 0);

	/* the host answers and closes */
	CHECK_EQ(send(cfd, "pong", 4, 0), 4);
	shutdown(cfd, SHUT_WR);
	out.n = 0;
	want = 2;
	pump(un, have_frames, &want);
	{
		bool got_data = false, got_fin = false;

		for (int i = 0; i < out.n; i++) {
			if (!parse_seg(i, &s))
				continue;
			if (s.len == 4 && memcmp(s.data, "pong", 4) == 0)
				got_data = true;
			if (s.flags & 0x01)
				got_fin = true;
		}
		CHECK(got_data);
		CHECK(got_fin);
	}
	/* the guest acks data and FIN, and closes too */
	n = tcp_frame(f, ip4("10.0.2.100"), 41000, port, iss + 11, srv + 5,
		      0x11, NULL, 0);
	usernet_input(un, f, n);
	pump(un, host_readable, &cfd);
	CHECK_EQ(recv(cfd, buf, sizeof(buf), MSG_DONTWAIT), 0); /* EOF */
	{
		struct usernet_stats st;

		usernet_stats(un, &st);
		CHECK_EQ(st.tcp_opened, 1);
		CHECK_EQ(st.tcp_flows, 0);
	}
	/* lwIP's side is in TIME-WAIT now; the guest reuses its port at once
	 * for the same destination: a fresh SYN|ACK, not a RST */
	close(cfd);
	out.n = 0;
	n = tcp_frame(f, ip4("10.0.2.100"), 41000, port, iss + 100000, 0, 0x02,
		      NULL, 0);
	usernet_input(un, f, n);
	want = 1;
	pump(un, have_frames, &want);
	CHECK_EQ(out.n, 1);
	if (parse_seg(0, &s)) {
		CHECK_EQ(s.flags, 0x12);
		CHECK_EQ(s.ack, iss + 100001);
	}
	cfd = accept(lfd, NULL, NULL);
	CHECK(cfd >= 0);
done:
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	usernet_destroy(un);
}

/* A second flow past max_flows is refused with a RST; a refused host
 * connect (closed port behind the alias) gives the guest a RST too. */
static void limits(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), want;
	struct usernet *un;
	struct usernet_stats st;
	char rule[96];
	uint8_t f[128];
	uint16_t port;
	struct seg s;
	size_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		SKIP("no loopback socket");
		if (lfd >= 0)
			close(lfd);
		return;
	}
	port = ntohs(sa.sin_port); /* bound, not listening: connect refused */
	snprintf(rule, sizeof(rule), "alias 10.0.2.100 127.0.0.1 %u", port);
	un = make(rule, 1);
	if (!un) {
		close(lfd);
		return;
	}
	n = tcp_frame(f, ip4("10.0.2.100"), 42000, port, 1, 0, 0x02, NULL, 0);
	usernet_input(un, f, n);
	n = tcp_frame(f, ip4("10.0.2.100"), 42001, port, 1, 0, 0x02, NULL, 0);
	usernet_input(un, f, n); /* over the limit while the first connects */
	want = 2;
	pump(un, have_frames, &want);
	CHECK_EQ(out.n, 2);
	for (int i = 0; i < out.n; i++)
		if (parse_seg(i, &s))
			CHECK_EQ(s.flags, 0x14);
	usernet_stats(un, &st);
	CHECK_EQ(st.refused_limit, 1);
	CHECK_EQ(st.connect_failed, 1);
	CHECK_EQ(st.tcp_flows, 0);
	/* a full guest queue drops and counts, never blocks */
	out.full = true;
	n = tcp_frame(f, ip4("10.9.9.9"), 42002, 80, 1, 0, 0x02, NULL, 0);
	usernet_input(un, f, n);
	out.full = false;
	CHECK_EQ(out.n, 2);
	usernet_stats(un, &st);
	CHECK_EQ(st.tx_dropped, 1);
	close(lfd);
	usernet_destroy(un);
}

static void one_per_process(void)
{
	struct usernet *a = make(NULL, 8), *b = NULL;
	struct usernet_config c;

	usernet_config_default(&c);
	c.output = capture;
	c.n_resolvers = 1;
	c.resolvers[0].ss_family = AF_INET;
	CHECK_EQ(usernet_create(&c, &b), -EBUSY);
	usernet_destroy(a);
	c.output = NULL;
	CHECK_EQ(usernet_create(&c, &b), -EINVAL);
}

int main(void)
{
	check_skip_reason = ""; /* check.h: keeps gcc's format-overflow quiet */
	/* As in sbx-vmm (evloop.c blocks it): a write to a socket the other
	 * side closed is an error a CHECK reports, not death by SIGPIPE (this
	 * test once died so, status 141, with no word on where). */
	signal(SIGPIPE, SIG_IGN);
	TEST(arp);
	TEST(refused);
	TEST(internet_off);
	TEST(any_destination);
	TEST(ping_gateway);
	TEST(malformed);
	TEST(udp_refused);
	TEST(alias_connection);
	TEST(limits);
	TEST(one_per_process);
	return check_exit();
}
