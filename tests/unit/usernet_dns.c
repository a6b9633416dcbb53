/*
 * tests/unit/usernet_dns.c: usernet's DNS answer parser (the names a
 * sandbox resolved, for domain rules) and its resolv.conf reader. Pure.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <unistd.h>

#include "net/usernet/usernet_priv.h"
#include "tests/lib/check.h"

struct seen {
	int n;
	char name[16][POLICY_NAME_MAX];
	struct policy_addr addr[16];
	uint32_t ttl[16];
};

static void record(void *arg, const char *name, const struct policy_addr *a,
		   uint32_t ttl)
{
	struct seen *s = arg;

	if (s->n < 16) {
		snprintf(s->name[s->n], POLICY_NAME_MAX, "%s", name);
		s->addr[s->n] = *a;
		s->ttl[s->n] = ttl;
	}
	s->n++;
}

/* A small DNS message writer for the tests. */
struct msg {
	uint8_t b[512];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, unsigned v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(m, b, 2);
}

static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		m->b[m->n++] = (uint8_t)l;
		put(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	m->b[m->n++] = 0;
}

static void header(struct msg *m, unsigned an, unsigned rcode)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, 0x8180 | rcode);
	put16(m, 1);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

static void rr(struct msg *m, const char *owner, unsigned type,
	       const void *rdata, size_t len)
{
	put_name(m, owner);
	put16(m, type);
	put16(m, 1);
	put32(m, 300);
	put16(m, (unsigned)len);
	put(m, rdata, len);
}

static void simple_a(void)
{
	struct msg m;
	struct seen s = {0};
	uint8_t a[4] = {93, 184, 216, 34};

	header(&m, 1, 0);
	put_name(&m, "Example.COM");
	put16(&m, 1);
	put16(&m, 1);
	/* the answer's owner as a compression pointer to the question */
	put16(&m, 0xc00c);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 60);
	put16(&m, 4);
	put(&m, a, 4);
	CHECK_EQ(un_dns_parse_response(m.b, m.n, record, &s), 0);
	CHECK_EQ(s.n, 1);
	CHECK(strcmp(s.name[0], "example.com") == 0);
	CHECK_EQ(s.addr[0].family, AF_INET);
	CHECK(memcmp(s.addr[0].b, a, 4) == 0);
	CHECK_EQ(s.ttl[0], 60);
}

static void cname_chain(void)
{
	struct msg m, t;
	struct seen s = {0};
	uint8_t a[4] = {151, 101, 1, 1}, b[4] = {6, 6, 6, 6};
	uint8_t v6[16] = {0x2a, 0x04, 0x4e, 0x42, [15] = 1};

	header(&m, 4, 0);
	put_name(&m, "api.github.com");
	put16(&m, 1);
	put16(&m, 1);
	t.n = 0;
	put_name(&t, "cdn.fastly.net");
	rr(&m, "api.github.com", 5, t.b, t.n);
	rr(&m, "cdn.fastly.net", 1, a, 4);
	rr(&m, "cdn.fastly.net", 28, v6, 16);
	rr(&m, "github.com", 1, b, 4); /* outside the chain: ignored */
	CHECK_EQ(un_dns_parse_response(m.b, m.n, record, &s), 0);
	CHECK_EQ(s.n, 4); /* 2 addresses x 2 names */
	CHECK(strcmp(s.name[0], "api.github.com") == 0);
	CHECK(strcmp(s.name[1], "cdn.fastly.net") == 0);
	CHECK(memcmp(s.addr[0].b, a, 4) == 0);
	CHECK_EQ(s.addr[2].family, AF_INET6);
	for (int i = 0; i < s.n && i < 16; i++)
		CHECK(memcmp(s.addr[i].b, b, 4) != 0);
}

static void refused_answers(void)
{
	struct msg m;
	struct seen s = {0};
	uint8_t a[4] = {1, 2, 3, 4};

	/* NXDOMAIN */
	header(&m, 1, 3);
	put_name(&m, "x.com");
	put16(&m, 1);
	put16(&m, 1);
	rr(&m, "x.com", 1, a, 4);
	CHECK(un_dns_parse_response(m.b, m.n, record, &s) < 0);
	/* a query, not an answer */
	m.b[2] = 0x01;
	m.b[3] = 0x00;
	CHECK(un_dns_parse_response(m.b, m.n, record, &s) < 0);
	/* truncated everywhere */
	header(&m, 1, 0);
	put_name(&m, "x.com");
	put16(&m, 1);
	put16(&m, 1);
	rr(&m, "x.com", 1, a, 4);
	for (size_t n = 0; n < m.n; n++)
		CHECK(un_dns_parse_response(m.b, n, record, &s) < 0);
	CHECK_EQ(s.n, 0);
	/* a label with a dot inside it cannot pose as a name */
	header(&m, 1, 0);
	put_name(&m, "x.com");
	put16(&m, 1);
	put16(&m, 1);
	{
		static const uint8_t evil[] = {10,  'g', 'i', 't', 'h', 'u',
					       'b', '.', 'c', 'o', 'm', 0};

		put(&m, evil, sizeof(evil));
	}
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 1);
	put16(&m, 4);
	put(&m, a, 4);
	CHECK(un_dns_parse_response(m.b, m.n, record, &s) < 0);
	CHECK_EQ(s.n, 0);
	/* a compression loop */
	header(&m, 0, 0);
	put16(&m, 0xc00c);
	put16(&m, 1);
	put16(&m, 1);
	CHECK(un_dns_parse_response(m.b, m.n, record, &s) < 0);
	/* wrong rdata length for A: skipped, not an error */
	header(&m, 1, 0);
	put_name(&m, "x.com");
	put16(&m, 1);
	put16(&m, 1);
	rr(&m, "x.com", 1, a, 3);
	CHECK_EQ(un_dns_parse_response(m.b, m.n, record, &s), 0);
	CHECK_EQ(s.n, 0);
}

static void resolv_conf(void)
{
	char path[] = "/tmp/usernet-resolv-XXXXXX";
	struct sockaddr_storage ss[3];
	int fd = mkstemp(path);
	static const char text[] =
	    "# comment\nsearch example\nnameserver 127.0.0.53\n"
	    "nameserver   2001:4860:4860::8888\nnameserver fe80::1%eth0\n"
	    "nameserver bogus\nnameserver 9.9.9.9\nnameserver 1.1.1.1\n";

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, text, sizeof(text) - 1), (long)sizeof(text) - 1);
	close(fd);
	CHECK_EQ(un_dns_read_resolv_conf(path, ss, 3), 3);
	CHECK_EQ(ss[0].ss_family, AF_INET);
	CHECK_EQ(ntohs(((struct sockaddr_in *)&ss[0])->sin_port), 53);
	CHECK_EQ(ss[1].ss_family, AF_INET6);
	CHECK_EQ(ss[2].ss_family, AF_INET);
	CHECK_EQ(((uint8_t *)&((struct sockaddr_in *)&ss[2])->sin_addr)[0], 9);
	unlink(path);
	CHECK(un_dns_read_resolv_conf("/nonexistent/resolv.conf", ss, 3) < 0);
}

int main(void)
{
	check_skip_reason = ""; /* check.h: keeps gcc's format-overflow quiet */
	TEST(simple_a);
	TEST(cname_chain);
	TEST(refused_answers);
	TEST(resolv_conf);
	return check_exit();
}
