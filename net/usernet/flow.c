/*
 * net/usernet/flow.c: the life every flow shares, TCP or UDP.
 *
 * A flow is born when the guest's first packet to a new (guest addr:port,
 * destination addr:port) passes un_flow_admit(): the egress policy on the
 * destination and the names this sandbox resolved to it, then the
 * sandbox's flow limit. Refusals are counted here, so the counters mean
 * the same for both protocols. un_flow_new() allocates it, un_flow_dial()
 * opens its non-blocking host socket, un_flow_link() puts it on its
 * protocol's list and counts it. un_flow_retire() is the one way out: off
 * the list and epoll, host socket closed, uncounted, and onto the dead list
 * that un_flow_reap() frees once no event of the current batch can point
 * at it. The protocol files keep only what differs (lwIP, datagrams).
 * Everything here runs on the VMM's I/O thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/usernet/usernet_priv.h"

#define LIMIT_LOG_MS 10000 /* at most one "flow limit" log line per 10 s */

bool un_flow_room(struct usernet *un)
{
	uint64_t now;

	if (un->st.tcp_flows + un->st.udp_flows < un->cfg.max_flows)
		return true;
	un->st.refused_limit++;
	/* Tell the operator, but a flood must not flood the log too. */
	now = un_now_ms();
	if (!un->limit_logged_ms || now - un->limit_logged_ms >= LIMIT_LOG_MS) {
		un->limit_logged_ms = now;
		fprintf(stderr,
			"usernet: flow limit reached (%u flows open): %llu "
			"flows refused so far\n",
			un->cfg.max_flows,
			(unsigned long long)un->st.refused_limit);
	}
	return false;
}

/*
 * Judges a new flow from the guest (ip, its destination port dport in
 * network order). Returns 0 with what to dial in *dial and *dial_port,
 * -EACCES when the policy refused it, -EAGAIN when the flow limit did;
 * both are counted.
 */
int un_flow_admit(struct usernet *un, const struct un_ip4 *ip, uint16_t dport,
		  struct policy_addr *dial, uint16_t *dial_port)
{
	struct policy_addr dst = {.family = AF_INET};
	const char *names[UN_DNS_NAMES];
	size_t n;

	memcpy(dst.b, &ip->dst, 4);
	n = un_names_for(un, &dst, names);
	if (policy_check(&un->cfg.policy, &dst, ntohs(dport), names, n, dial,
			 dial_port) != POLICY_ALLOW) {
		un->st.refused_policy++;
		return -EACCES;
	}
	return un_flow_room(un) ? 0 : -EAGAIN;
}

/*
 * Allocates a flow of size bytes (a struct un_tcp_flow or un_udp_flow)
 * for ip's addresses and the ports given (network order), zeroed, not yet
 * linked, fd -1. Returns it (caller frees until linked) or NULL.
 */
void *un_flow_new(size_t size, enum un_kind kind, const struct un_ip4 *ip,
		  uint16_t sport, uint16_t dport)
{
	struct un_flow *f = calloc(1, size);

	if (!f)
		return NULL;
	f->kind = kind;
	f->gaddr = ip->src;
	f->gport = sport;
	f->daddr = ip->dst;
	f->dport = dport;
	f->fd = -1;
	return f;
}

/*
 * Opens f's host socket (SOCK_STREAM or SOCK_DGRAM, non-blocking) and
 * connects it to dial:port (port in host order). *done: the connect
 * finished at once (always for UDP). Returns 0 or -errno (no socket left).
 */
int un_flow_dial(struct un_flow *f, int type, const struct policy_addr *dial,
		 uint16_t port, bool *done)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int r;

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
	f->fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return -errno;
	if (type == SOCK_STREAM) {
		int one = 1;

		setsockopt(f->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(f->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	*done = false;
	if (connect(f->fd, (struct sockaddr *)&ss, sl) == 0) {
		*done = true;
		return 0;
	}
	if (errno == EINPROGRESS && type == SOCK_STREAM)
		return 0;
	r = -errno;
	close(f->fd);
	f->fd = -1;
	return r;
}

/* Puts f on its protocol's list and counts it open. */
void un_flow_link(struct usernet *un, struct un_flow *f)
{
	struct un_flow **list = f->kind == UN_TCP ? &un->tcp : &un->udp;

	f->next = *list;
	*list = f;
	if (f->kind == UN_TCP) {
		un->st.tcp_flows++;
		un->st.tcp_opened++;
	} else {
		un->st.udp_flows++;
		un->st.udp_opened++;
	}
}

/* The flow on list with this 4-tuple (network order), or NULL. */
struct un_flow *un_flow_find(struct un_flow *list, uint32_t gaddr,
			     uint16_t gport, uint32_t daddr, uint16_t dport)
{
	for (struct un_flow *f = list; f; f = f->next)
		if (f->gaddr == gaddr && f->gport == gport &&
		    f->daddr == daddr && f->dport == dport)
			return f;
	return NULL;
}

/*
 * Ends a linked flow's common part: off its list, off epoll (when watched),
 * host socket closed, uncounted, kind cleared; then on the dead list for
 * un_flow_reap(). The protocol frees its own parts first.
 */
void un_flow_retire(struct usernet *un, struct un_flow *f, bool watched)
{
	struct un_flow **pp = f->kind == UN_TCP ? &un->tcp : &un->udp;

	for (; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	if (watched)
		un_unwatch(un, f->fd);
	if (f->fd >= 0)
		close(f->fd);
	if (f->kind == UN_TCP)
		un->st.tcp_flows--;
	else
		un->st.udp_flows--;
	f->kind = 0; /* an event still queued for it is skipped */
	f->next = un->dead;
	un->dead = f;
}

/* Frees the flows retired since the last call. */
void un_flow_reap(struct usernet *un)
{
	while (un->dead) {
		struct un_flow *f = un->dead;

		un->dead = f->next;
		free(f);
	}
}
