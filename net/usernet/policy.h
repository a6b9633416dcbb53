/*
 * net/usernet/policy.h: the egress policy of one sandbox (pure code).
 *
 * Every flow the guest opens is judged here on the address usernet would
 * actually dial, before any host socket exists. The order of the checks:
 *
 *   1. the host alias: the operator-set guest-visible address (e.g.
 *      10.0.2.100) dials a host address (e.g. 127.0.0.1) on the same port,
 *      when the port is in the alias range; any other port is refused;
 *   2. reserved ranges are never dialled, whatever the lists say: 0/8,
 *      loopback, RFC1918, CGNAT 100.64/10, link-local 169.254/16 (cloud
 *      metadata), multicast, 240/4 and broadcast, the documentation and
 *      benchmark nets; ::, ::1, fc00::/7, fe80::/10, fec0::/10, ff00::/8,
 *      and the IPv6 forms that embed a v4 address (::ffff:0:0/96,
 *      ::ffff:0:0:0/96, 64:ff9b::/96, 2002::/16) when the embedded address is
 *      reserved; 64:ff9b:1::/48, 2001::/23, 3fff::/20, 5f00::/16, ::/96 and
 *      everything outside global unicast 2000::/3 always;
 *   3. the deny list (CIDRs, and domains matched on the names this sandbox
 *      resolved to that address through usernet's DNS): deny wins;
 *   4. the allow list: allowed even when the internet switch is off;
 *   5. the internet switch (on by default): public addresses.
 *
 * Domain rules: "example.com" matches that name only; "*.example.com"
 * matches every name below it (not the apex). Case-insensitive, a trailing
 * dot ignored. Nothing here allocates or does I/O; any thread.
 */
#ifndef SBX_USERNET_POLICY_H
#define SBX_USERNET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_CIDRS   64
#define POLICY_MAX_DOMAINS 64
#define POLICY_NAME_MAX	   256 /* a DNS name in text, with its NUL */

/* An IPv4 or IPv6 address, in network byte order. IPv4 uses b[0..3]. */
struct policy_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t b[16];
};

struct policy_cidr {
	struct policy_addr addr; /* host bits cleared */
	uint8_t prefix;
};

struct policy {
	bool internet; /* public addresses allowed when no rule matched */
	unsigned n_allow_cidr, n_deny_cidr, n_allow_domain, n_deny_domain;
	struct policy_cidr allow_cidr[POLICY_MAX_CIDRS];
	struct policy_cidr deny_cidr[POLICY_MAX_CIDRS];
	char allow_domain[POLICY_MAX_DOMAINS][POLICY_NAME_MAX];
	char deny_domain[POLICY_MAX_DOMAINS][POLICY_NAME_MAX];
	bool alias_on;
	struct policy_addr alias_guest; /* what the guest dials */
	struct policy_addr alias_host;	/* what usernet dials instead */
	uint16_t alias_port_lo, alias_port_hi;
};

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_DENY_RESERVED,	/* loopback, private, link-local, ... */
	POLICY_DENY_RULE,	/* matched the deny list */
	POLICY_DENY_OFF,	/* internet off and no allow rule matched */
	POLICY_DENY_ALIAS_PORT, /* the alias address, port out of range */
};

/* Sets p to the default: internet on, no lists, no alias. */
void policy_init(struct policy *p);

/*
 * Parses "1.2.3.4" or "2001:db8::1" (brackets allowed around v6) into out.
 * Returns 0 or -EINVAL.
 */
int policy_parse_addr(const char *s, struct policy_addr *out);

/*
 * Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128).
 * Host bits past the prefix are cleared. Returns 0 or -EINVAL.
 */
int policy_parse_cidr(const char *s, struct policy_cidr *out);

/*
 * Normalises a domain rule or name into out (lowercase, no trailing dot).
 * Accepts letters, digits, '-', '_' and dots, labels of 1..63, a leading
 * "*." for rules when wildcard is true. Returns 0 or -EINVAL.
 */
int policy_parse_domain(const char *s, bool wildcard,
			char out[POLICY_NAME_MAX]);

/*
 * Adds one rule in text form. Returns 0, -EINVAL (bad syntax) or -ENOSPC.
 *   "internet on" | "internet off"
 *   "allow CIDR|DOMAIN" | "deny CIDR|DOMAIN"
 *   "alias GUEST_ADDR HOST_ADDR PORT[-PORT]"
 */
int policy_rule(struct policy *p, const char *rule);

/* True when a is inside c (same family, first c->prefix bits equal). */
bool policy_cidr_match(const struct policy_cidr *c,
		       const struct policy_addr *a);

/* True when the normalised name matches the normalised rule. */
bool policy_domain_match(const char *rule, const char *name);

/*
 * The name of the reserved range a is in, or NULL for a public address.
 * IPv6: only global unicast (2000::/3) can be public; forms that carry a v4
 * address (::ffff:0:0/96, ::ffff:0:0:0/96, 64:ff9b::/96, 2002::/16) are
 * judged by that address; 64:ff9b:1::/48, 2001::/23 (Teredo, benchmarking,
 * ORCHID), the documentation nets and ::/96 are always reserved.
 */
const char *policy_reserved(const struct policy_addr *a);

/* Turns an IPv4-mapped a (::ffff:a.b.c.d) into plain IPv4; else no-op. */
void policy_addr_canon(struct policy_addr *a);

/*
 * True, with the address in *v4, when a is IPv6 and carries an IPv4
 * address: mapped, SIIT (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96), 6to4.
 */
bool policy_embedded_v4(const struct policy_addr *a, struct policy_addr *v4);

/*
 * Judges a flow the guest opened to dst:port. names (n of them, normalised,
 * borrowed) are the names this sandbox resolved to dst. On POLICY_ALLOW,
 * *dial and *dial_port say what to connect to (dst itself, or the alias
 * target). Never dials anything itself. An IPv4-mapped dst is judged as
 * the IPv4 address; CIDR rules also match the v4 address inside a NAT64 or
 * 6to4 dst (either match counts: deny still wins).
 */
enum policy_verdict policy_check(const struct policy *p,
				 const struct policy_addr *dst, uint16_t port,
				 const char *const *names, size_t n,
				 struct policy_addr *dial, uint16_t *dial_port);

/* A short constant name for v ("allow", "reserved", ...). */
const char *policy_verdict_str(enum policy_verdict v);

/* Formats a into buf (at least 46 bytes); returns buf. */
const char *policy_addr_str(const struct policy_addr *a, char *buf, size_t len);

#endif
