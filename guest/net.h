/*
 * guest/net.h: the sandbox's view of its network, set up by PID 1 after
 * the root switch. The kernel itself configures eth0 from the ip= word on
 * its command line (CONFIG_IP_PNP, no DHCP) and lists what it learnt in
 * /proc/net/pnp; sbx-init only turns that into /etc/resolv.conf and names
 * the host. Not used in host mode.
 */
#ifndef SBX_GUEST_NET_H
#define SBX_GUEST_NET_H

#include <stddef.h>

#define NET_HOSTNAME "sandbox"

/*
 * Turns the text of /proc/net/pnp ("#MANUAL", "domain D", "nameserver A",
 * "bootserver A" lines) into resolv.conf text in out (cap bytes, NUL
 * terminated). Only IPv4 nameserver lines (at most 3, the resolver's limit)
 * and a sane domain are taken. Returns the length written, 0 when pnp names
 * no nameserver (leave resolv.conf alone), -ENOSPC when out is too small.
 * Pure; any thread.
 */
int net_resolv_conf(const char *pnp, char *out, size_t cap);

/* 1 if name is one of the names (not the address) on a line of the
 * hosts(5) text hosts, comments ignored. Pure; any thread. */
int net_hosts_has(const char *hosts, const char *name);

/*
 * PID 1, after the root switch and /proc: when the kernel configured the
 * network (nameservers in /proc/net/pnp), replaces /etc/resolv.conf (a
 * symlink there is replaced, not followed) and writes /etc/hostname and
 * /etc/hosts for NET_HOSTNAME. Returns 1 if resolv.conf was written, 0 if
 * there was nothing to do, -errno on failure.
 */
int net_setup(void);

#endif
