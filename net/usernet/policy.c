/*
 * net/usernet/policy.c: the egress policy (see policy.h for the rules).
 *
 * Pure functions over struct policy: address and CIDR parsing, the table of
 * reserved ranges, domain matching, and the verdict for one flow.
 */
#include "net/usernet/policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->internet = true;
}

int policy_parse_addr(const char *s, struct policy_addr *out)
{
	char tmp[64];
	size_t n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return -EINVAL;
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, out->b) != 1)
			return -EINVAL;
		out->family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, s, out->b) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->b) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static unsigned policy_addr_bits(const struct policy_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

int policy_parse_cidr(const char *s, struct policy_cidr *out)
{
	char tmp[64];
	const char *slash;
	unsigned long prefix;
	char *end;
	size_t n;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (policy_parse_addr(tmp, &out->addr) < 0)
		return -EINVAL;
	prefix = policy_addr_bits(&out->addr);
	if (slash) {
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		errno = 0;
		prefix = strtoul(slash + 1, &end, 10);
		if (errno || *end || prefix > policy_addr_bits(&out->addr))
			return -EINVAL;
	}
	if (prefix >= 96 && out->addr.family == AF_INET6) {
		struct policy_addr a = out->addr;

		/* ::ffff:10.0.0.0/104 is 10.0.0.0/8: the check sees v4 */
		policy_addr_canon(&a);
		if (a.family == AF_INET) {
			out->addr = a;
			prefix -= 96;
		}
	}
	out->prefix = (uint8_t)prefix;
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix > i * 8 ? prefix - i * 8 : 0;

		if (keep < 8)
			out->addr.b[i] &= (uint8_t)(0xff00u >> keep);
	}
	return 0;
}

bool policy_cidr_match(const struct policy_cidr *c, const struct policy_addr *a)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->addr.family != a->family)
		return false;
	if (memcmp(c->addr.b, a->b, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);

		if ((c->addr.b[full] & mask) != (a->b[full] & mask))
			return false;
	}
	return true;
}

int policy_parse_domain(const char *s, bool wildcard, char out[POLICY_NAME_MAX])
{
	size_t n, label = 0, o = 0;
	size_t i = 0;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= POLICY_NAME_MAX)
		return -EINVAL;
	if (wildcard && n > 2 && s[0] == '*' && s[1] == '.') {
		out[o++] = '*';
		out[o++] = '.';
		i = 2;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return -EINVAL;
			c = (unsigned char)tolower(c);
		} else {
			return -EINVAL;
		}
		out[o++] = (char)c;
	}
	if (label == 0)
		return -EINVAL;
	out[o] = '\0';
	return 0;
}

bool policy_domain_match(const char *rule, const char *name)
{
	size_t rn, nn;

	if (rule[0] == '*' && rule[1] == '.') {
		rn = strlen(rule + 1); /* ".example.com" */
		nn = strlen(name);
		return nn > rn && strcmp(name + nn - rn, rule + 1) == 0;
	}
	return strcmp(rule, name) == 0;
}

/* The reserved IPv4 ranges, as (network, prefix) in host byte order. */
static const struct {
	uint32_t net;
	uint8_t prefix;
	const char *name;
} policy_v4_reserved[] = {
    {0x00000000, 8, "this-network"},   /* 0.0.0.0/8 */
    {0x0a000000, 8, "private"},	       /* 10.0.0.0/8 */
    {0x64400000, 10, "cgnat"},	       /* 100.64.0.0/10 */
    {0x7f000000, 8, "loopback"},       /* 127.0.0.0/8 */
    {0xa9fe0000, 16, "link-local"},    /* 169.254.0.0/16 */
    {0xac100000, 12, "private"},       /* 172.16.0.0/12 */
    {0xc0000000, 24, "ietf"},	       /* 192.0.0.0/24 */
    {0xc0000200, 24, "documentation"}, /* 192.0.2.0/24 */
    {0xc0586300, 24, "6to4-relay"},    /* 192.88.99.0/24, deprecated */
    {0xc0a80000, 16, "private"},       /* 192.168.0.0/16 */
    {0xc6120000, 15, "benchmark"},     /* 198.18.0.0/15 */
    {0xc6336400, 24, "documentation"}, /* 198.51.100.0/24 */
    {0xcb007100, 24, "documentation"}, /* 203.0.113.0/24 */
    {0xe0000000, 4, "multicast"},      /* 224.0.0.0/4 */
    {0xf0000000, 4, "reserved"},       /* 240.0.0.0/4, broadcast */
};

static const char *policy_reserved_v4(const uint8_t *b)
{
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		     (uint32_t)b[2] << 8 | b[3];

	for (size_t i = 0;
	     i < sizeof(policy_v4_reserved) / sizeof(policy_v4_reserved[0]);
	     i++) {
		uint32_t mask = 0xffffffffu
				<< (32 - policy_v4_reserved[i].prefix);

		if ((a & mask) == policy_v4_reserved[i].net)
			return policy_v4_reserved[i].name;
	}
	return NULL;
}

static bool policy_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * IPv6 prefixes that are never dialled, from IANA's special-purpose
 * registry (RFC 6890 and later). Besides these, only global unicast
 * (2000::/3) is dialled at all, so unassigned space stays closed too.
 */
static const struct {
	uint8_t net[8]; /* the first bytes; a prefix is at most 64 bits */
	uint8_t prefix;
	const char *name;
} policy_v6_reserved[] = {
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "nat64-local"}, /* RFC 8215 */
    {{0x01, 0x00}, 64, "discard"},		   /* 100::/64 */
    {{0x20, 0x01, 0x00, 0x00}, 32, "teredo"},	   /* embeds a v4, obfuscated */
    {{0x20, 0x01, 0x00, 0x00}, 23, "ietf"},	   /* 2001::/23: benchmarking,
						    * ORCHID, anycast services */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"}, /* 2001:db8::/32 */
    {{0x3f, 0xff, 0x00}, 20, "documentation"},	     /* 3fff::/20 */
    {{0x5f, 0x00}, 16, "srv6"},			     /* 5f00::/16 */
    {{0xfc}, 7, "unique-local"},		     /* fc00::/7 */
    {{0xfe, 0x80}, 10, "link-local"},		     /* fe80::/10 */
    {{0xfe, 0xc0}, 10, "site-local"},		     /* fec0::/10 */
    {{0xff}, 8, "multicast"},			     /* ff00::/8 */
};

static bool policy_prefix_eq(const uint8_t *a, const uint8_t *net,
			     unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;
	uint8_t mask = (uint8_t)(0xff00u >> rest);

	return memcmp(a, net, full) == 0 &&
	       (!rest || (a[full] & mask) == (net[full] & mask));
}

bool policy_embedded_v4(const struct policy_addr *a, struct policy_addr *v4)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	static const uint8_t siit[12] = {[8] = 0xff, [9] = 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	const uint8_t *b = a->b;
	size_t off;

	if (a->family != AF_INET6)
		return false;
	if (!memcmp(b, mapped, 12) || !memcmp(b, siit, 12) ||
	    !memcmp(b, nat64, 12))
		off = 12; /* ::ffff:0:0/96, ::ffff:0:0:0/96, 64:ff9b::/96 */
	else if (b[0] == 0x20 && b[1] == 0x02)
		off = 2; /* 2002::/16, 6to4 */
	else
		return false;
	memset(v4, 0, sizeof(*v4));
	v4->family = AF_INET;
	memcpy(v4->b, b + off, 4);
	return true;
}

void policy_addr_canon(struct policy_addr *a)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};

	if (a->family == AF_INET6 && !memcmp(a->b, mapped, 12)) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		a->family = AF_INET;
	}
}

static const char *policy_reserved_v6(const struct policy_addr *a)
{
	const uint8_t *b = a->b;
	struct policy_addr v4;

	if (policy_zero(b, 15) && (b[15] == 0 || b[15] == 1))
		return b[15] ? "loopback" : "unspecified";
	if (policy_zero(b, 12))
		return "v4-compatible"; /* ::a.b.c.d, deprecated */
	/* Forms that carry a v4 address are judged by it. */
	if (policy_embedded_v4(a, &v4)) {
		const char *r = policy_reserved_v4(v4.b);

		if (r)
			return r;
		if (b[0] != 0x20 || b[1] != 0x02)
			return NULL; /* mapped, SIIT or NAT64 of a public v4 */
	}
	for (size_t i = 0;
	     i < sizeof(policy_v6_reserved) / sizeof(policy_v6_reserved[0]);
	     i++)
		if (policy_prefix_eq(b, policy_v6_reserved[i].net,
				     policy_v6_reserved[i].prefix))
			return policy_v6_reserved[i].name;
	if ((b[0] & 0xe0) != 0x20)
		return "not-global-unicast"; /* outside 2000::/3 */
	return NULL;
}

const char *policy_reserved(const struct policy_addr *a)
{
	if (a->family == AF_INET)
		return policy_reserved_v4(a->b);
	if (a->family == AF_INET6)
		return policy_reserved_v6(a);
	return "unknown-family";
}

static bool policy_addr_eq(const struct policy_addr *x,
			   const struct policy_addr *y)
{
	return x->family == y->family &&
	       memcmp(x->b, y->b, x->family == AF_INET ? 4 : 16) == 0;
}

static bool policy_list_match(const struct policy_cidr *cidrs, unsigned n_cidr,
			      const char (*domains)[POLICY_NAME_MAX],
			      unsigned n_domain, const struct policy_addr *dst,
			      const char *const *names, size_t n)
{
	for (unsigned i = 0; i < n_cidr; i++)
		if (policy_cidr_match(&cidrs[i], dst))
			return true;
	for (unsigned i = 0; i < n_domain; i++)
		for (size_t j = 0; j < n; j++)
			if (names[j] &&
			    policy_domain_match(domains[i], names[j]))
				return true;
	return false;
}

/* A list matches dst, or the v4 address a NAT64 or 6to4 dst carries. */
static bool policy_list_match_any(const struct policy_cidr *cidrs,
				  unsigned n_cidr,
				  const char (*domains)[POLICY_NAME_MAX],
				  unsigned n_domain,
				  const struct policy_addr *dst,
				  const char *const *names, size_t n)
{
	struct policy_addr v4;

	if (policy_list_match(cidrs, n_cidr, domains, n_domain, dst, names, n))
		return true;
	return policy_embedded_v4(dst, &v4) &&
	       policy_list_match(cidrs, n_cidr, domains, 0, &v4, NULL, 0);
}

enum policy_verdict policy_check(const struct policy *p,
				 const struct policy_addr *dst_in,
				 uint16_t port, const char *const *names,
				 size_t n, struct policy_addr *dial,
				 uint16_t *dial_port)
{
	struct policy_addr dst = *dst_in;

	policy_addr_canon(&dst); /* ::ffff:a.b.c.d is a.b.c.d, everywhere */
	if (p->alias_on && policy_addr_eq(&dst, &p->alias_guest)) {
		if (port < p->alias_port_lo || port > p->alias_port_hi)
			return POLICY_DENY_ALIAS_PORT;
		*dial = p->alias_host;
		*dial_port = port;
		return POLICY_ALLOW;
	}
	if (policy_reserved(&dst))
		return POLICY_DENY_RESERVED;
	if (policy_list_match_any(p->deny_cidr, p->n_deny_cidr, p->deny_domain,
				  p->n_deny_domain, &dst, names, n))
		return POLICY_DENY_RULE;
	if (!policy_list_match_any(p->allow_cidr, p->n_allow_cidr,
				   p->allow_domain, p->n_allow_domain, &dst,
				   names, n) &&
	    !p->internet)
		return POLICY_DENY_OFF;
	*dial = dst;
	*dial_port = port;
	return POLICY_ALLOW;
}

/* Adds "CIDR" or "DOMAIN" to one list pair. */
static int policy_add_target(struct policy_cidr *cidrs, unsigned *n_cidr,
			     char (*domains)[POLICY_NAME_MAX],
			     unsigned *n_domain, const char *arg)
{
	struct policy_cidr c;

	if (policy_parse_cidr(arg, &c) == 0) {
		if (*n_cidr >= POLICY_MAX_CIDRS)
			return -ENOSPC;
		cidrs[(*n_cidr)++] = c;
		return 0;
	}
	if (*n_domain >= POLICY_MAX_DOMAINS)
		return -ENOSPC;
	if (policy_parse_domain(arg, true, domains[*n_domain]) < 0)
		return -EINVAL;
	(*n_domain)++;
	return 0;
}

static int policy_parse_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	unsigned long a, b;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	a = strtoul(s, &end, 10);
	b = a;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -EINVAL;
		b = strtoul(end + 1, &end, 10);
	}
	if (*end || a == 0 || a > 65535 || b > 65535 || b < a)
		return -EINVAL;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

int policy_rule(struct policy *p, const char *rule)
{
	char verb[16], a1[POLICY_NAME_MAX], a2[64], a3[32], extra[2];
	int n;

	if (!rule || strlen(rule) >= 400)
		return -EINVAL;
	n = sscanf(rule, "%15s %255s %63s %31s %1s", verb, a1, a2, a3, extra);
	if (n < 2)
		return -EINVAL;
	if (strcmp(verb, "internet") == 0 && n == 2) {
		if (strcmp(a1, "on") == 0)
			p->internet = true;
		else if (strcmp(a1, "off") == 0)
			p->internet = false;
		else
			return -EINVAL;
		return 0;
	}
	if (strcmp(verb, "allow") == 0 && n == 2)
		return policy_add_target(p->allow_cidr, &p->n_allow_cidr,
					 p->allow_domain, &p->n_allow_domain,
					 a1);
	if (strcmp(verb, "deny") == 0 && n == 2)
		return policy_add_target(p->deny_cidr, &p->n_deny_cidr,
					 p->deny_domain, &p->n_deny_domain, a1);
	if (strcmp(verb, "alias") == 0 && n == 4) {
		struct policy_addr g, h;
		uint16_t lo, hi;

		if (policy_parse_addr(a1, &g) < 0 ||
		    policy_parse_addr(a2, &h) < 0 ||
		    policy_parse_ports(a3, &lo, &hi) < 0)
			return -EINVAL;
		policy_addr_canon(&g);
		policy_addr_canon(&h);
		if (g.family != AF_INET)
			return -EINVAL; /* the guest is IPv4-only */
		p->alias_on = true;
		p->alias_guest = g;
		p->alias_host = h;
		p->alias_port_lo = lo;
		p->alias_port_hi = hi;
		return 0;
	}
	return -EINVAL;
}

const char *policy_verdict_str(enum policy_verdict v)
{
	switch (v) {
	case POLICY_ALLOW:
		return "allow";
	case POLICY_DENY_RESERVED:
		return "reserved";
	case POLICY_DENY_RULE:
		return "deny-rule";
	case POLICY_DENY_OFF:
		return "internet-off";
	case POLICY_DENY_ALIAS_PORT:
		return "alias-port";
	}
	return "?";
}

const char *policy_addr_str(const struct policy_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->b, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}
