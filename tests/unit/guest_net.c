/*
 * tests/unit/guest_net.c: /proc/net/pnp text → resolv.conf text: the
 * kernel's output for our ip= word, no nameserver (no ip=), several
 * nameservers and a domain, garbage and hostile lines, a small buffer;
 * and the hosts(5) name lookup that keeps /etc/hosts from growing.
 */
#include "guest/net.h"
#include "tests/lib/check.h"

#include <errno.h>

static char out[1024];

static void test_ours(void)
{
	int n = net_resolv_conf("#MANUAL\nnameserver 10.0.2.3\n", out, sizeof(out));

	CHECK(n > 0);
	CHECK_EQ(n, strlen(out));
	CHECK(strstr(out, "\nnameserver 10.0.2.3\n") != NULL);
	CHECK(out[0] == '#');
	CHECK(!strstr(out, "MANUAL"));
}

static void test_none(void)
{
	CHECK_EQ(net_resolv_conf("#MANUAL\n", out, sizeof(out)), 0);
	CHECK_EQ(out[0], 0);
	CHECK_EQ(net_resolv_conf("", out, sizeof(out)), 0);
	CHECK_EQ(net_resolv_conf("#PROTO: DHCP\nbootserver 10.0.2.2\n", out, sizeof(out)), 0);
}

static void test_many(void)
{
	int n = net_resolv_conf("#PROTO: DHCP\ndomain example.org\n"
				"nameserver 10.0.2.3\nnameserver 1.1.1.1\n"
				"nameserver 8.8.8.8\nnameserver 9.9.9.9\n"
				"bootserver 10.0.2.2\n", out, sizeof(out));

	CHECK(n > 0);
	CHECK(strstr(out, "search example.org\n") != NULL);
	CHECK(strstr(out, "nameserver 10.0.2.3\nnameserver 1.1.1.1\nnameserver 8.8.8.8\n") != NULL);
	CHECK(!strstr(out, "9.9.9.9")); /* at most three */
	CHECK(!strstr(out, "bootserver"));
}

static void test_hostile(void)
{
	int n = net_resolv_conf("nameserver 10.0.2.3; rm -rf /\n"
				"nameserver 300.1.1.1\nnameserver\n"
				"nameserver 0.0.0.0\nnameserver 255.255.255.255\n"
				"domain evil\\nnameserver.x\ndomain a b\n"
				"   nameserver    10.0.2.4   \n"
				"nameserver 10.0.2.5", out, sizeof(out));

	CHECK(n > 0);
	CHECK(!strstr(out, "rm"));
	CHECK(!strstr(out, "300."));
	CHECK(!strstr(out, "0.0.0.0"));
	CHECK(!strstr(out, "255."));
	CHECK(!strstr(out, "evil"));
	CHECK(strstr(out, "search a\n") != NULL);
	CHECK(strstr(out, "nameserver 10.0.2.4\nnameserver 10.0.2.5\n") != NULL);
}

static void test_small(void)
{
	char small[40];

	CHECK_EQ(net_resolv_conf("nameserver 10.0.2.3\n", small, 8), -ENOSPC);
	CHECK_EQ(net_resolv_conf("nameserver 10.0.2.3\n", small, sizeof(small)), -ENOSPC);
}

static void test_hosts(void)
{
	CHECK(net_hosts_has("127.0.0.1\tlocalhost\n127.0.1.1\tsandbox\n", "sandbox"));
	CHECK(net_hosts_has("127.0.1.1 box sandbox", "sandbox")); /* no newline */
	CHECK(net_hosts_has("::1 localhost\n  10.0.2.15   a  sandbox  # x\n", "sandbox"));
	CHECK(!net_hosts_has("127.0.0.1 localhost\n", "sandbox"));
	CHECK(!net_hosts_has("sandbox 127.0.0.1\n", "sandbox"));   /* the address column */
	CHECK(!net_hosts_has("127.0.1.1 sandboxes\n", "sandbox"));
	CHECK(!net_hosts_has("# 127.0.1.1 sandbox\n", "sandbox"));
	CHECK(!net_hosts_has("127.0.1.1 x # sandbox\n", "sandbox"));
	CHECK(!net_hosts_has("", "sandbox"));
	CHECK(!net_hosts_has("\n\n\n", "sandbox"));
}

int main(void)
{
	TEST(test_ours);
	TEST(test_none);
	TEST(test_many);
	TEST(test_hostile);
	TEST(test_small);
	TEST(test_hosts);
	return check_exit();
}
