/*
 * tests/unit/usernet_policy.c: the egress policy and address parsing of
 * net/usernet/policy.c (pure code, no network).
 */
#include "net/usernet/policy.h"

#include <errno.h>
#include <sys/socket.h>

#include "tests/lib/check.h"

static struct policy_addr addr(const char *s)
{
	struct policy_addr a;

	if (policy_parse_addr(s, &a) < 0)
		printf("  bad test address %s\n", s);
	return a;
}

/* Verdict for dst:port with an optional single resolved name. */
static enum policy_verdict judge(const struct policy *p, const char *dst,
				 uint16_t port, const char *name)
{
	struct policy_addr a = addr(dst), dial;
	const char *names[1] = {name};
	uint16_t dport;

	return policy_check(p, &a, port, names, name ? 1 : 0, &dial, &dport);
}

static void parse_addr(void)
{
	struct policy_addr a;

	CHECK_EQ(policy_parse_addr("1.2.3.4", &a), 0);
	CHECK_EQ(a.family, AF_INET);
	CHECK(a.b[0] == 1 && a.b[3] == 4);
	CHECK_EQ(policy_parse_addr("2001:db8::1", &a), 0);
	CHECK_EQ(a.family, AF_INET6);
	CHECK(a.b[0] == 0x20 && a.b[15] == 1);
	CHECK_EQ(policy_parse_addr("[::1]", &a), 0);
	CHECK_EQ(a.family, AF_INET6);
	CHECK_EQ(policy_parse_addr("", &a), -EINVAL);
	CHECK_EQ(policy_parse_addr("1.2.3", &a), -EINVAL);
	CHECK_EQ(policy_parse_addr("1.2.3.256", &a), -EINVAL);
	CHECK_EQ(policy_parse_addr("[::1", &a), -EINVAL);
	CHECK_EQ(policy_parse_addr("[1.2.3.4]", &a), -EINVAL);
	CHECK_EQ(policy_parse_addr("example.com", &a), -EINVAL);
	CHECK_EQ(policy_parse_addr(NULL, &a), -EINVAL);
}

static void parse_cidr(void)
{
	struct policy_cidr c;

	CHECK_EQ(policy_parse_cidr("10.1.2.3/8", &c), 0);
	CHECK_EQ(c.prefix, 8);
	CHECK(c.addr.b[0] == 10 && c.addr.b[1] == 0 && c.addr.b[3] == 0);
	CHECK_EQ(policy_parse_cidr("192.168.1.77/25", &c), 0);
	CHECK_EQ(c.addr.b[3], 0);
	CHECK_EQ(policy_parse_cidr("192.168.1.177/25", &c), 0);
	CHECK_EQ(c.addr.b[3], 128);
	CHECK_EQ(policy_parse_cidr("1.2.3.4", &c), 0);
	CHECK_EQ(c.prefix, 32);
	CHECK_EQ(policy_parse_cidr("2001:db8::/32", &c), 0);
	CHECK_EQ(c.prefix, 32);
	CHECK_EQ(policy_parse_cidr("::/0", &c), 0);
	CHECK_EQ(c.prefix, 0);
	CHECK_EQ(policy_parse_cidr("1.2.3.4/33", &c), -EINVAL);
	CHECK_EQ(policy_parse_cidr("1.2.3.4/", &c), -EINVAL);
	CHECK_EQ(policy_parse_cidr("1.2.3.4/-1", &c), -EINVAL);
	CHECK_EQ(policy_parse_cidr("1.2.3.4/8x", &c), -EINVAL);
	CHECK_EQ(policy_parse_cidr("/8", &c), -EINVAL);
	CHECK_EQ(policy_parse_cidr("::1/129", &c), -EINVAL);
}

static void cidr_match(void)
{
	struct policy_cidr c;
	struct policy_addr a;

	policy_parse_cidr("172.16.0.0/12", &c);
	CHECK(policy_cidr_match(&c, (a = addr("172.31.255.255"), &a)));
	CHECK(!policy_cidr_match(&c, (a = addr("172.32.0.0"), &a)));
	CHECK(!policy_cidr_match(&c, (a = addr("::ffff:172.16.0.1"), &a)));
	policy_parse_cidr("0.0.0.0/0", &c);
	CHECK(policy_cidr_match(&c, (a = addr("8.8.8.8"), &a)));
	policy_parse_cidr("fe80::/10", &c);
	CHECK(policy_cidr_match(&c, (a = addr("febf::1"), &a)));
	CHECK(!policy_cidr_match(&c, (a = addr("fec0::1"), &a)));
}

static void reserved_v4(void)
{
	static const char *const bad[] = {
	    "0.0.0.0",	       "0.1.2.3",	  "10.0.0.1",
	    "10.255.255.255",  "127.0.0.1",	  "127.1.2.3",
	    "169.254.169.254", "172.16.0.1",	  "172.31.1.1",
	    "192.168.0.1",     "100.64.0.1",	  "100.127.255.255",
	    "224.0.0.1",       "239.255.255.250", "255.255.255.255",
	    "240.0.0.1",       "192.0.2.1",	  "198.18.0.1",
	};
	static const char *const good[] = {
	    "8.8.8.8",	       "1.1.1.1",	 "172.32.0.1",
	    "172.15.255.255",  "100.63.255.255", "100.128.0.1",
	    "169.253.1.1",     "192.169.0.1",	 "11.0.0.1",
	    "223.255.255.254",
	};
	struct policy_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = addr(bad[i]);
		if (!policy_reserved(&a))
			printf("  not reserved: %s\n", bad[i]);
		CHECK(policy_reserved(&a));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		a = addr(good[i]);
		if (policy_reserved(&a))
			printf("  reserved: %s\n", good[i]);
		CHECK(!policy_reserved(&a));
	}
}

static void reserved_v6(void)
{
	static const char *const bad[] = {
	    "::",
	    "::1",
	    "fc00::1",
	    "fd12:3456::1",
	    "fe80::1",
	    "febf::1",
	    "ff02::1",
	    "::ffff:127.0.0.1",
	    "::ffff:10.0.0.1",
	    "::ffff:169.254.169.254",
	    "::ffff:192.168.1.1",
	    "::127.0.0.1",
	    "64:ff9b::10.0.0.1",
	    "2002:a00:1::1",
	    "2002:7f00:1::",
	    "2001:db8::1",
	    "fec0::1",
	    "::ffff:0:10.0.0.1",      /* SIIT, judged by its v4 */
	    "::ffff:100.64.0.1",      /* CGNAT */
	    "64:ff9b::169.254.169.254",
	    "64:ff9b::127.0.0.1",
	    "64:ff9b:1::8.8.8.8",     /* local-use NAT64: never */
	    "::8.8.8.8",	      /* v4-compatible: deprecated */
	    "2001::1",		      /* Teredo */
	    "2001:2::1",	      /* benchmarking */
	    "2001:1ff:ffff::1",	      /* still 2001::/23 */
	    "3fff::1",		      /* documentation (RFC 9637) */
	    "5f00::1",		      /* SRv6 SIDs */
	    "100::1",		      /* discard */
	    "4000::1",		      /* outside 2000::/3 */
	    "e000::1",
	    "ff0e::1",
	    "::2",
	};
	static const char *const good[] = {
	    "2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8",
	    "64:ff9b::8.8.8.8",	    "2002:808:808::1",	    "::ffff:0:8.8.8.8",
	    "2001:200::1",	    "2a00:1450:4001::1",    "3fff:1000::1",
	};
	struct policy_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = addr(bad[i]);
		if (!policy_reserved(&a))
			printf("  not reserved: %s\n", bad[i]);
		CHECK(policy_reserved(&a));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		a = addr(good[i]);
		if (policy_reserved(&a))
			printf("  reserved: %s\n", good[i]);
		CHECK(!policy_reserved(&a));
	}
}

/* Mapped CIDRs become v4 ones; other v6 CIDRs stay v6. */
static void parse_cidr_v6(void)
{
	struct policy_cidr c;

	CHECK_EQ(policy_parse_cidr("::ffff:10.1.0.0/104", &c), 0);
	CHECK_EQ(c.addr.family, AF_INET);
	CHECK_EQ(c.prefix, 8);
	CHECK(c.addr.b[0] == 10 && c.addr.b[1] == 0);
	CHECK_EQ(policy_parse_cidr("::ffff:0:0/96", &c), 0);
	CHECK_EQ(c.addr.family, AF_INET);
	CHECK_EQ(c.prefix, 0);
	CHECK_EQ(policy_parse_cidr("::ffff:1.2.3.4", &c), 0);
	CHECK_EQ(c.addr.family, AF_INET);
	CHECK_EQ(c.prefix, 32);
	CHECK_EQ(policy_parse_cidr("[2606:4700::]/32", &c), 0);
	CHECK_EQ(c.addr.family, AF_INET6);
	CHECK_EQ(policy_parse_cidr("2606:4700::1/32", &c), 0);
	CHECK_EQ(c.addr.b[15], 0); /* host bits cleared */
	CHECK_EQ(policy_parse_cidr("fe80::1%eth0/64", &c), -EINVAL);
	CHECK_EQ(policy_parse_cidr("2606:4700::/128x", &c), -EINVAL);
}

/* The v6 forms of a reserved v4 address, and v6 lists. */
static void rules_v6(void)
{
	struct policy p;
	struct policy_addr a, dial;
	uint16_t port;

	policy_init(&p);
	CHECK_EQ(policy_rule(&p, "allow ::ffff:10.0.0.0/104"), 0);
	CHECK_EQ(policy_rule(&p, "allow fd00::/8"), 0);
	/* allow lists never open reserved space, in either spelling */
	CHECK_EQ(judge(&p, "10.0.0.1", 80, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "::ffff:10.0.0.1", 80, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "fd00::1", 80, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "64:ff9b::a00:1", 80, NULL), POLICY_DENY_RESERVED);

	policy_init(&p);
	CHECK_EQ(policy_rule(&p, "deny 2606:4700::/32"), 0);
	CHECK_EQ(policy_rule(&p, "deny ::ffff:1.2.3.0/120"), 0);
	CHECK_EQ(policy_rule(&p, "deny 8.8.8.0/24"), 0);
	CHECK_EQ(policy_rule(&p, "deny *.evil.net"), 0);
	CHECK_EQ(judge(&p, "2606:4700:4700::1111", 443, NULL),
		 POLICY_DENY_RULE);
	CHECK_EQ(judge(&p, "2001:4860:4860::8888", 443, NULL), POLICY_ALLOW);
	CHECK_EQ(judge(&p, "1.2.3.4", 443, NULL), POLICY_DENY_RULE);
	CHECK_EQ(judge(&p, "::ffff:1.2.3.4", 443, NULL), POLICY_DENY_RULE);
	/* a v4 deny rule holds for the NAT64 and 6to4 forms too */
	CHECK_EQ(judge(&p, "64:ff9b::8.8.8.8", 53, NULL), POLICY_DENY_RULE);
	CHECK_EQ(judge(&p, "2002:808:808::1", 53, NULL), POLICY_DENY_RULE);
	CHECK_EQ(judge(&p, "64:ff9b::9.9.9.9", 53, NULL), POLICY_ALLOW);
	CHECK_EQ(judge(&p, "2a00:1450::1", 443, "www.evil.net"),
		 POLICY_DENY_RULE);

	policy_init(&p);
	CHECK_EQ(policy_rule(&p, "internet off"), 0);
	CHECK_EQ(policy_rule(&p, "allow 2a00:1450::/32"), 0);
	CHECK_EQ(policy_rule(&p, "allow 1.1.1.1"), 0);
	CHECK_EQ(judge(&p, "2a00:1450:4001::1", 443, NULL), POLICY_ALLOW);
	CHECK_EQ(judge(&p, "2a00:1451::1", 443, NULL), POLICY_DENY_OFF);
	CHECK_EQ(judge(&p, "64:ff9b::1.1.1.1", 53, NULL), POLICY_ALLOW);
	/* a mapped destination is dialled as the v4 address it is */
	a = addr("::ffff:1.1.1.1");
	CHECK_EQ(policy_check(&p, &a, 53, NULL, 0, &dial, &port),
		 POLICY_ALLOW);
	CHECK_EQ(dial.family, AF_INET);
	CHECK(dial.b[0] == 1 && dial.b[3] == 1);
	CHECK_EQ(judge(&p, "::ffff:1.1.1.2", 53, NULL), POLICY_DENY_OFF);
}

static void domains(void)
{
	char out[POLICY_NAME_MAX];
	char big[300];

	CHECK_EQ(policy_parse_domain("Example.COM.", false, out), 0);
	CHECK(strcmp(out, "example.com") == 0);
	CHECK_EQ(policy_parse_domain("*.example.com", true, out), 0);
	CHECK(strcmp(out, "*.example.com") == 0);
	CHECK_EQ(policy_parse_domain("*.example.com", false, out), -EINVAL);
	CHECK_EQ(policy_parse_domain("a..b", false, out), -EINVAL);
	CHECK_EQ(policy_parse_domain(".a", false, out), -EINVAL);
	CHECK_EQ(policy_parse_domain("a b", false, out), -EINVAL);
	CHECK_EQ(policy_parse_domain("", false, out), -EINVAL);
	CHECK_EQ(policy_parse_domain(".", false, out), -EINVAL);
	memset(big, 'a', 64);
	big[64] = '\0';
	CHECK_EQ(policy_parse_domain(big, false, out),
		 -EINVAL); /* label of 64 */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 60; i < sizeof(big) - 1; i += 61)
		big[i] = '.';
	CHECK_EQ(policy_parse_domain(big, false, out), -EINVAL); /* too long */

	CHECK(policy_domain_match("example.com", "example.com"));
	CHECK(!policy_domain_match("example.com", "www.example.com"));
	CHECK(policy_domain_match("*.example.com", "www.example.com"));
	CHECK(policy_domain_match("*.example.com", "a.b.example.com"));
	CHECK(!policy_domain_match("*.example.com", "example.com"));
	CHECK(!policy_domain_match("*.example.com", "badexample.com"));
	CHECK(!policy_domain_match("*.example.com", "example.com.evil.net"));
}

static void default_policy(void)
{
	struct policy p;

	policy_init(&p);
	CHECK_EQ(judge(&p, "8.8.8.8", 53, NULL), POLICY_ALLOW);
	CHECK_EQ(judge(&p, "2606:4700:4700::1111", 443, NULL), POLICY_ALLOW);
	CHECK_EQ(judge(&p, "10.0.0.1", 80, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "169.254.169.254", 80, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "127.0.0.1", 80, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "10.0.2.100", 8080, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "::ffff:127.0.0.1", 80, NULL), POLICY_DENY_RESERVED);
}

static void rules(void)
{
	struct policy p;

	policy_init(&p);
	CHECK_EQ(policy_rule(&p, "deny 1.2.3.0/24"), 0);
	CHECK_EQ(policy_rule(&p, "deny *.evil.net"), 0);
	CHECK_EQ(policy_rule(&p, "allow 10.0.0.1"), 0);
	CHECK_EQ(judge(&p, "1.2.3.99", 443, NULL), POLICY_DENY_RULE);
	CHECK_EQ(judge(&p, "1.2.4.1", 443, NULL), POLICY_ALLOW);
	CHECK_EQ(judge(&p, "5.6.7.8", 443, "www.evil.net"), POLICY_DENY_RULE);
	CHECK_EQ(judge(&p, "5.6.7.8", 443, "evil.net"), POLICY_ALLOW);
	/* an allow rule never opens a reserved range */
	CHECK_EQ(judge(&p, "10.0.0.1", 80, NULL), POLICY_DENY_RESERVED);

	policy_init(&p);
	CHECK_EQ(policy_rule(&p, "internet off"), 0);
	CHECK_EQ(policy_rule(&p, "allow github.com"), 0);
	CHECK_EQ(policy_rule(&p, "allow 9.9.9.0/24"), 0);
	CHECK_EQ(judge(&p, "8.8.8.8", 443, NULL), POLICY_DENY_OFF);
	CHECK_EQ(judge(&p, "140.82.112.3", 443, "github.com"), POLICY_ALLOW);
	CHECK_EQ(judge(&p, "140.82.112.3", 443, "api.github.com"),
		 POLICY_DENY_OFF);
	CHECK_EQ(judge(&p, "9.9.9.9", 53, NULL), POLICY_ALLOW);
	/* deny wins over allow */
	CHECK_EQ(policy_rule(&p, "deny 9.9.9.9"), 0);
	CHECK_EQ(judge(&p, "9.9.9.9", 53, NULL), POLICY_DENY_RULE);

	CHECK_EQ(policy_rule(&p, "internet maybe"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "allow"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "allow a b"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "allow bad..name"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "permit 1.2.3.4"), -EINVAL);
	CHECK_EQ(policy_rule(&p, ""), -EINVAL);
	for (int i = 0; i < POLICY_MAX_CIDRS; i++)
		policy_rule(&p, "deny 4.4.4.4");
	CHECK_EQ(policy_rule(&p, "deny 4.4.4.4"), -ENOSPC);
}

static void alias(void)
{
	struct policy p;
	struct policy_addr dst = addr("10.0.2.100"), dial;
	uint16_t port = 0;

	policy_init(&p);
	CHECK_EQ(policy_rule(&p, "alias 10.0.2.100 127.0.0.1 8000-8099"), 0);
	CHECK_EQ(policy_check(&p, &dst, 8080, NULL, 0, &dial, &port),
		 POLICY_ALLOW);
	CHECK_EQ(port, 8080);
	CHECK_EQ(dial.family, AF_INET);
	CHECK(dial.b[0] == 127 && dial.b[3] == 1);
	CHECK_EQ(judge(&p, "10.0.2.100", 7999, NULL), POLICY_DENY_ALIAS_PORT);
	CHECK_EQ(judge(&p, "10.0.2.100", 8100, NULL), POLICY_DENY_ALIAS_PORT);
	/* the alias target itself stays unreachable */
	CHECK_EQ(judge(&p, "127.0.0.1", 8080, NULL), POLICY_DENY_RESERVED);
	/* internet off does not close the operator's alias */
	CHECK_EQ(policy_rule(&p, "internet off"), 0);
	CHECK_EQ(judge(&p, "10.0.2.100", 8000, NULL), POLICY_ALLOW);
	CHECK_EQ(policy_rule(&p, "alias 10.0.2.100 127.0.0.1 0"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "alias 10.0.2.100 127.0.0.1 9-8"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "alias 10.0.2.100 127.0.0.1 70000"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "alias 10.0.2.100 localhost 80"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "alias 10.0.2.100 ::1 80"), 0);
	/* the guest is IPv4-only: a v6 guest address could never match */
	CHECK_EQ(policy_rule(&p, "alias fd00::64 127.0.0.1 80"), -EINVAL);
	CHECK_EQ(policy_rule(&p, "alias ::ffff:10.0.2.101 [::ffff:127.0.0.1] 80"), 0);
	CHECK_EQ(policy_check(&p, (dst = addr("10.0.2.101"), &dst), 80, NULL,
			      0, &dial, &port),
		 POLICY_ALLOW);
	CHECK_EQ(dial.family, AF_INET);
	CHECK_EQ(dial.b[0], 127);
	/* the old alias address is now an ordinary private one */
	CHECK_EQ(judge(&p, "10.0.2.100", 80, NULL), POLICY_DENY_RESERVED);
	CHECK_EQ(judge(&p, "::1", 80, NULL), POLICY_DENY_RESERVED);
}

int main(void)
{
	check_skip_reason = ""; /* check.h: keeps gcc's format-overflow quiet */
	TEST(parse_addr);
	TEST(parse_cidr);
	TEST(parse_cidr_v6);
	TEST(cidr_match);
	TEST(reserved_v4);
	TEST(reserved_v6);
	TEST(domains);
	TEST(default_policy);
	TEST(rules);
	TEST(rules_v6);
	TEST(alias);
	return check_exit();
}
