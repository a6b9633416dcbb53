/*
 * net/usernet/tcp_flow.c: the guest's TCP connections, ended in lwIP and
 * re-opened from host sockets.
 *
 * A flow's life:
 *   1. The guest's SYN reaches un_tcp_input() before lwIP. The egress policy
 *      judges the destination (and the names the sandbox resolved to it),
 *      and the flow limit is checked; a refusal is a RST|ACK at once. Else a
 *      non-blocking host connect starts and the SYN is kept (CONNECTING).
 *      Retransmitted SYNs are dropped meanwhile.
 *   2. Connect fails or times out: RST|ACK to the guest, as a refused port
 *      would. Connect succeeds: a listening pcb for the destination
 *      addr:port is made (shared by flows to the same destination,
 *      refcounted) and the kept SYN goes into lwIP, which answers SYN|ACK
 *      (ACCEPTING). The guest's ACK makes lwIP call the accept callback,
 *      which finds the flow by its 4-tuple, drops the listener and starts
 *      the splice (OPEN). A listener lives only while a handshake is open,
 *      so unrelated SYNs never reach one: they are refused above.
 *   3. The splice, with backpressure both ways and no buffer of our own:
 *      guest -> host: lwIP's recv callback hands us pbufs (one segment
 *      each); they wait until the guest's burst of frames is in (the next
 *      usernet_poll, or 32 KiB), then go to the host socket in one send()
 *      as it takes them, and only then are acknowledged with tcp_recved(),
 *      so the guest's window closes while the host is slow (at most TCP_WND
 *      bytes wait in pbufs). Per-segment sends cost a host wake-up each:
 *      batching made uploads ~3x faster natively. host -> guest: the host socket
 *      is read only while lwIP's send buffer has room; tcp_sent re-opens it.
 *   4. Half-closes pass through (FIN -> shutdown(SHUT_WR); EOF ->
 *      tcp_shutdown tx); resets pass through (guest RST -> host RST via
 *      SO_LINGER 0; host ECONNRESET -> tcp_abort -> RST to the guest).
 *
 * A pcb usernet let go of (closing, or in TIME-WAIT) may still hold the
 * 4-tuple when the guest reuses its port for the same destination: such a
 * leftover is dropped without a RST before the new SYN goes into lwIP.
 *
 * TCP to the DNS address's port 53 (the guest's fallback for truncated
 * answers) goes to the first host resolver, like the UDP queries.
 *
 * Without SO_REUSE in lwipopts.h, lwIP will not bind a second pcb to an
 * addr:port an established pcb holds: the listener is then bound to a free
 * port and its local_port set to the destination's after tcp_listen (lwIP
 * matches listeners by local_port and local_ip only).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/usernet/usernet_priv.h"

#include "lwip/ip.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#define ACCEPT_TIMEOUT_MS 10000
#define UN_TCP_BATCH	  (32 * 1024) /* guest bytes that go to the host at once */
#define UN_TCP_RESUME	  (TCP_SND_BUF / 4) /* lwIP room before reading again */

struct un_listener {
	struct un_listener *next;
	struct tcp_pcb *pcb; /* in LISTEN */
	uint32_t addr;	     /* network order */
	uint16_t port;	     /* network order */
	unsigned refs;
};

/* The one usernet of this process (lwIP's callbacks carry no context). */
static struct usernet *un_tcp_un;

/* ---- listeners ---- */

static err_t un_tcp_accept_cb(void *arg, struct tcp_pcb *pcb, err_t err);

static struct un_listener *un_listener_get(struct usernet *un, uint32_t addr,
					   uint16_t port)
{
	struct un_listener *l;
	struct tcp_pcb *pcb, *lpcb;
	ip_addr_t a;

	for (l = un->listeners; l; l = l->next) {
		if (l->addr == addr && l->port == port) {
			l->refs++;
			return l;
		}
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (!pcb) {
		free(l);
		return NULL;
	}
	ip_addr_set_ip4_u32_val(a, addr);
#if SO_REUSE
	ip_set_option(pcb, SOF_REUSEADDR);
	if (tcp_bind(pcb, &a, ntohs(port)) != ERR_OK) {
#else
	if (tcp_bind(pcb, &a, 0) != ERR_OK) {
#endif
		tcp_abort(pcb);
		free(l);
		return NULL;
	}
	lpcb = tcp_listen_with_backlog(pcb, 255);
	if (!lpcb) {
		tcp_abort(pcb);
		free(l);
		return NULL;
	}
#if !SO_REUSE
	lpcb->local_port = ntohs(port);
#endif
	tcp_arg(lpcb, l);
	tcp_accept(lpcb, un_tcp_accept_cb);
	*l = (struct un_listener){.next = un->listeners,
				  .pcb = lpcb,
				  .addr = addr,
				  .port = port,
				  .refs = 1};
	un->listeners = l;
	return l;
}

static void un_listener_put(struct usernet *un, struct un_listener *l)
{
	struct un_listener **pp;

	if (!l || --l->refs > 0)
		return;
	for (pp = &un->listeners; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	tcp_arg(l->pcb, NULL);
	tcp_accept(l->pcb, NULL);
	tcp_close(l->pcb); /* a listener's close cannot fail */
	free(l);
}

/* ---- flows ---- */

static struct un_tcp_flow *un_tcp_find(struct usernet *un, uint32_t gaddr,
				       uint16_t gport, uint32_t daddr,
				       uint16_t dport)
{
	return (struct un_tcp_flow *)un_flow_find(un->tcp, gaddr, gport, daddr,
						  dport);
}

/*
 * Whether to read f's host socket: while lwIP's send buffer has room; once
 * it filled, only again when a quarter of it drained. Re-arming on every
 * guest ACK (a few KiB each) would cost two epoll_ctl and a small recv per
 * ACK; this way each recv fills a good part of the buffer.
 */
static bool un_tcp_want_host(const struct un_tcp_flow *f)
{
	size_t need = (f->events & EPOLLIN) ? 1 : UN_TCP_RESUME;

	/* snd_buf itself: tcp_sndbuf() saturates at 65535, which would never
	 * reach UN_TCP_RESUME once TCP_SND_BUF is 256 KiB or more. */
	return !f->host_eof && f->pcb && f->pcb->snd_buf >= need &&
	       tcp_sndqueuelen(f->pcb) + 4 < TCP_SND_QUEUELEN;
}

/* Sets the epoll interest of f's host socket to what its state needs. */
static void un_tcp_watch(struct usernet *un, struct un_tcp_flow *f)
{
	uint32_t ev = 0;

	if (f->state == UN_TCP_CONNECTING) {
		ev = EPOLLOUT;
	} else if (f->state == UN_TCP_OPEN) {
		if (f->pending)
			ev |= EPOLLOUT;
		if (un_tcp_want_host(f))
			ev |= EPOLLIN;
	}
	if (ev == f->events)
		return;
	/* Nothing wanted: off the set, so a hang-up cannot spin the loop. */
	if (ev == 0)
		un_unwatch(un, f->fl.fd);
	else
		un_watch(un, f->fl.fd, ev, f, f->events == 0);
	f->events = ev;
}

/* Unhooks f from its pcb so lwIP calls back no more. */
static void un_tcp_detach(struct un_tcp_flow *f)
{
	if (!f->pcb)
		return;
	tcp_arg(f->pcb, NULL);
	tcp_recv(f->pcb, NULL);
	tcp_sent(f->pcb, NULL);
	tcp_err(f->pcb, NULL);
}

/*
 * Ends f. rst_host: reset the host connection instead of closing it. The
 * pcb, if still attached, is closed gracefully (abort_pcb false) or aborted
 * with a RST to the guest. The struct is retired (flow.c): freed once no
 * epoll event of this round can point at it. Returns true when the pcb was
 * aborted (a callback of it must return ERR_ABRT).
 */
static bool un_tcp_end(struct usernet *un, struct un_tcp_flow *f, bool rst_host,
		       bool abort_pcb)
{
	bool aborted = false;

	if (f->pcb) {
		struct tcp_pcb *pcb = f->pcb;

		un_tcp_detach(f);
		f->pcb = NULL;
		if (abort_pcb || tcp_close(pcb) != ERR_OK) {
			tcp_abort(pcb);
			aborted = true;
		}
	}
	if (rst_host) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		setsockopt(f->fl.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (f->pending)
		pbuf_free(f->pending);
	free(f->syn);
	un_listener_put(un, f->listener);
	un_flow_retire(un, &f->fl, f->events != 0);
	return aborted;
}

/*
 * Keeps lwIP's TIME-WAIT list short: MEMP_MEM_MALLOC lifts lwIP's own pool
 * limits, so a guest opening and closing connections fast would grow it for
 * two minutes each. Beyond 2 x max_flows, the oldest (the list's tail) go.
 */
static void un_tcp_trim_timewait(struct usernet *un)
{
	unsigned n = 0;

	for (struct tcp_pcb *p = tcp_tw_pcbs, *next; p; p = next) {
		next = p->next;
		if (++n > 2 * un->cfg.max_flows)
			tcp_abandon(p, 0);
	}
}

/* Ends f once both directions are closed and nothing waits. Returns 0
 * (still open), 1 (ended) or 2 (ended, its pcb aborted). */
static int un_tcp_maybe_done(struct usernet *un, struct un_tcp_flow *f)
{
	if (f->guest_fin && f->host_shut && f->host_eof && !f->pending) {
		int r = un_tcp_end(un, f, false, false) ? 2 : 1;

		un_tcp_trim_timewait(un);
		return r;
	}
	return 0;
}

/*
 * Drops the first n bytes of f's pending chain (written to the host) and
 * acknowledges them to lwIP, which re-opens the guest's window.
 */
static void un_tcp_consume(struct un_tcp_flow *f, size_t n)
{
	if (f->pcb) {
		for (size_t left = n; left;) {
			u16_t k = left > 0xffff ? 0xffff : (u16_t)left;

			tcp_recved(f->pcb, k); /* takes a u16_t */
			left -= k;
		}
	}
	while (f->pending && n >= f->pending->len - f->pending_off) {
		struct pbuf *q = f->pending;

		n -= q->len - f->pending_off;
		/* Unlink by hand: pbuf_dechain() would drop the reference q
		 * holds on the rest, which is ours now. */
		f->pending = q->next;
		f->pending_off = 0;
		q->next = NULL;
		q->tot_len = q->len;
		pbuf_free(q);
	}
	f->pending_off += n;
}

/*
 * Gathers up to 64 KiB of f's pending chain into one buffer for a single
 * send(): each guest segment is a pbuf of at most an MSS, and one send()
 * (one wake-up of the host reader) per segment costs far more than the
 * copy. A lone pbuf is sent from where it is. Returns the byte count and
 * sets *data.
 */
static size_t un_tcp_gather(struct un_tcp_flow *f, const uint8_t **data)
{
	static uint8_t buf[64 * 1024];
	const struct pbuf *q = f->pending;
	size_t off = f->pending_off, n = 0;

	if (!q->next || q->len - off >= sizeof(buf)) {
		*data = (const uint8_t *)q->payload + off;
		return q->len - off;
	}
	for (; q && n < sizeof(buf); q = q->next, off = 0) {
		size_t k = q->len - off;

		if (k > sizeof(buf) - n)
			k = sizeof(buf) - n;
		memcpy(buf + n, (const uint8_t *)q->payload + off, k);
		n += k;
	}
	*data = buf;
	return n;
}

/*
 * Writes pending guest data to the host socket. Returns 0, or -1 when the
 * flow was ended (the host socket failed: the guest got a RST).
 */
static int un_tcp_to_host(struct usernet *un, struct un_tcp_flow *f)
{
	while (f->pending) {
		const uint8_t *data;
		size_t len = un_tcp_gather(f, &data);
		ssize_t n = len ? send(f->fl.fd, data, len,
				       MSG_DONTWAIT | MSG_NOSIGNAL)
				: 0;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			un_tcp_end(un, f, true, true);
			return -1;
		}
		un_tcp_consume(f, (size_t)n);
		if ((size_t)n < len)
			break; /* the socket is full: EPOLLOUT brings us back */
	}
	if (!f->pending && f->guest_fin && !f->host_shut) {
		shutdown(f->fl.fd, SHUT_WR);
		f->host_shut = true;
	}
	return 0;
}

/*
 * Reads from the host socket into lwIP while its send buffer has room.
 * Returns 0, or -1 when the flow was ended.
 */
static int un_tcp_from_host(struct usernet *un, struct un_tcp_flow *f)
{
	static uint8_t buf[0xffff];
	bool wrote = false;

	while (!f->host_eof && f->pcb) {
		size_t room = tcp_sndbuf(f->pcb);
		long segs =
		    (long)TCP_SND_QUEUELEN - (long)tcp_sndqueuelen(f->pcb) - 4;
		ssize_t n;

		if (segs <= 0 || room == 0)
			break;
		if (room > (size_t)segs * TCP_MSS)
			room = (size_t)segs * TCP_MSS;
		if (room > 0xffff) /* tcp_write takes a u16_t */
			room = 0xffff;
		n = recv(f->fl.fd, buf, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			un_tcp_end(un, f, false,
				   true); /* reset: RST the guest */
			return -1;
		}
		if (n == 0) {
			f->host_eof = true;
			tcp_shutdown(f->pcb, 0,
				     1); /* FIN after the queued data */
			wrote = true;
			break;
		}
		if (tcp_write(f->pcb, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) !=
		    ERR_OK) {
			un_tcp_end(un, f, true,
				   true); /* out of memory: bytes lost */
			return -1;
		}
		wrote = true;
	}
	if (wrote && f->pcb)
		tcp_output(f->pcb);
	if (un_tcp_maybe_done(un, f))
		return -1;
	return 0;
}

/* ---- lwIP callbacks ---- */

static err_t un_tcp_recv_cb(void *arg, struct tcp_pcb *pcb, struct pbuf *p,
			    err_t err)
{
	struct un_tcp_flow *f = arg;
	struct usernet *un = un_tcp_un;

	if (!f) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (!p) {
		f->guest_fin = true;
	} else if (f->pending) {
		pbuf_cat(f->pending, p);
	} else {
		f->pending = p;
		f->pending_off = 0;
	}
	/* Data waits for the end of the guest's batch of frames: EPOLLOUT
	 * (un_tcp_watch) brings usernet_poll() back as soon as the VMM's loop
	 * looks again, and the burst leaves in one send(). A FIN, or a batch
	 * big enough, goes at once. */
	if ((!p || f->pending->tot_len - f->pending_off >= UN_TCP_BATCH) &&
	    un_tcp_to_host(un, f) < 0)
		return ERR_ABRT;
	switch (un_tcp_maybe_done(un, f)) {
	case 1:
		return ERR_OK; /* pcb closed gracefully */
	case 2:
		return ERR_ABRT;
	}
	un_tcp_watch(un, f);
	return ERR_OK;
}

static err_t un_tcp_sent_cb(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct un_tcp_flow *f = arg;

	if (f)
		un_tcp_watch(un_tcp_un, f); /* room again: read the host */
	return ERR_OK;
}

/* The pcb is gone (reset by the guest, or lwIP gave up); reset the host. */
static void un_tcp_err_cb(void *arg, err_t err)
{
	struct un_tcp_flow *f = arg;

	if (!f)
		return;
	f->pcb = NULL;
	un_tcp_end(un_tcp_un, f, err != ERR_CLSD, false);
}

static err_t un_tcp_accept_cb(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct usernet *un = un_tcp_un;
	struct un_tcp_flow *f;

	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	f = un_tcp_find(un, ip_2_ip4(&pcb->remote_ip)->addr,
			htons(pcb->remote_port), ip_2_ip4(&pcb->local_ip)->addr,
			htons(pcb->local_port));
	if (!f || f->state != UN_TCP_ACCEPTING) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	f->pcb = pcb;
	f->state = UN_TCP_OPEN;
	tcp_arg(pcb, f);
	tcp_recv(pcb, un_tcp_recv_cb);
	tcp_sent(pcb, un_tcp_sent_cb);
	tcp_err(pcb, un_tcp_err_cb);
	tcp_nagle_disable(pcb);
	un_listener_put(un, f->listener);
	f->listener = NULL;
	un_tcp_watch(un, f);
	return ERR_OK;
}

/* ---- the guest's segments ---- */

static bool un_tcp_csum_ok(const struct un_ip4 *ip)
{
#ifdef SBX_FUZZ
	return true; /* let the fuzzer past the checksums */
#endif
	uint8_t ph[12];

	memcpy(ph, &ip->src, 4);
	memcpy(ph + 4, &ip->dst, 4);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)(ip->l4_len >> 8);
	ph[11] = (uint8_t)ip->l4_len;
	return un_csum(ip->l4, ip->l4_len, un_csum_add(ph, 12, 0)) == 0;
}

/* Drops lwIP pcbs of ended flows that still hold f's 4-tuple. */
static void un_tcp_purge(struct un_tcp_flow *f)
{
	struct tcp_pcb **lists[] = {&tcp_active_pcbs, &tcp_tw_pcbs};

	for (size_t i = 0; i < 2; i++) {
		for (struct tcp_pcb *p = *lists[i], *next; p; p = next) {
			next = p->next;
			if (p->callback_arg == NULL &&
			    IP_IS_V4_VAL(p->local_ip) &&
			    ip_2_ip4(&p->remote_ip)->addr == f->fl.gaddr &&
			    htons(p->remote_port) == f->fl.gport &&
			    ip_2_ip4(&p->local_ip)->addr == f->fl.daddr &&
			    htons(p->local_port) == f->fl.dport)
				tcp_abandon(p, 0);
		}
	}
}

/* Host connect done: hand the kept SYN to lwIP behind a listener. */
static void un_tcp_connected(struct usernet *un, struct un_tcp_flow *f)
{
	struct un_ip4 ip;

	f->listener = un_listener_get(un, f->fl.daddr, f->fl.dport);
	if (!f->listener || un_parse_ip4(f->syn, f->syn_len, &ip) < 0) {
		if (un_parse_ip4(f->syn, f->syn_len, &ip) == 0)
			un_send_rst(un, &ip);
		un_tcp_end(un, f, true, false);
		return;
	}
	f->state = UN_TCP_ACCEPTING;
	f->deadline_ms = un_now_ms() + ACCEPT_TIMEOUT_MS;
	un_tcp_watch(un, f);
	un_tcp_purge(f);
	un_lwip_input(un, &ip); /* SYN|ACK; the accept comes with the ACK */
	free(f->syn);
	f->syn = NULL;
}

/* TCP to the DNS address's port 53: the first host resolver, which the
 * operator chose (no policy). */
static void un_tcp_dns_target(const struct usernet *un,
			      struct policy_addr *dial, uint16_t *dial_port)
{
	const struct sockaddr_storage *r = &un->cfg.resolvers[0];

	memset(dial, 0, sizeof(*dial));
	dial->family = (uint8_t)r->ss_family;
	if (r->ss_family == AF_INET) {
		memcpy(dial->b, &((const struct sockaddr_in *)r)->sin_addr, 4);
		*dial_port = ntohs(((const struct sockaddr_in *)r)->sin_port);
	} else {
		memcpy(dial->b, &((const struct sockaddr_in6 *)r)->sin6_addr,
		       16);
		*dial_port = ntohs(((const struct sockaddr_in6 *)r)->sin6_port);
	}
}

/* A SYN for a flow we do not know yet. */
static void un_tcp_open(struct usernet *un, const struct un_ip4 *ip,
			uint16_t sport, uint16_t dport)
{
	struct policy_addr dial;
	struct un_tcp_flow *f;
	uint16_t dial_port = 0;
	bool done = false;

	if (ip->dst == un->cfg.dns_ip.s_addr && dport == htons(53)) {
		un_tcp_dns_target(un, &dial, &dial_port);
		if (!un_flow_room(un)) {
			un_send_rst(un, ip);
			return;
		}
	} else if (un_flow_admit(un, ip, dport, &dial, &dial_port) < 0) {
		un_send_rst(un, ip);
		return;
	}
	f = un_flow_new(sizeof(*f), UN_TCP, ip, sport, dport);
	if (f)
		f->syn = malloc(ip->ip_len);
	if (!f || !f->syn) {
		free(f);
		un_send_rst(un, ip);
		return;
	}
	f->state = UN_TCP_CONNECTING;
	memcpy(f->syn, ip->ip, ip->ip_len);
	f->syn_len = ip->ip_len;
	if (un_flow_dial(&f->fl, SOCK_STREAM, &dial, dial_port, &done) < 0) {
		un->st.connect_failed++;
		un_send_rst(un, ip);
		free(f->syn);
		free(f);
		return;
	}
	f->deadline_ms = un_now_ms() + un->cfg.connect_timeout_ms;
	un_flow_link(un, &f->fl);
	if (done)
		un_tcp_connected(un, f);
	else
		un_tcp_watch(un, f);
}

void un_tcp_input(struct usernet *un, const struct un_ip4 *ip)
{
	struct un_tcp_flow *f;
	uint16_t sport, dport;
	uint8_t flags;
	size_t doff;

	un_tcp_un = un;
	if (ip->l4_len < 20) {
		un->st.rx_dropped++;
		return;
	}
	doff = (size_t)(ip->l4[12] >> 4) * 4;
	if (doff < 20 || doff > ip->l4_len) {
		un->st.rx_dropped++;
		return;
	}
	memcpy(&sport, ip->l4, 2);
	memcpy(&dport, ip->l4 + 2, 2);
	flags = ip->l4[13];
	f = un_tcp_find(un, ip->src, sport, ip->dst, dport);
	/* lwIP checks the checksum of what it gets; usernet checks only the
	 * segments it acts on itself (a new SYN, a RST while connecting), so
	 * the data path pays for one pass over each segment, not two. */
	if ((!f || f->state == UN_TCP_CONNECTING) && !un_tcp_csum_ok(ip)) {
		un->st.rx_dropped++;
		return;
	}
	if ((flags & (0x02 | 0x10 | 0x04)) == 0x02) { /* SYN, no ACK, no RST */
		if (!f)
			un_tcp_open(un, ip, sport, dport);
		else if (f->state != UN_TCP_CONNECTING)
			un_lwip_input(
			    un, ip); /* a retransmitted SYN: lwIP answers */
		return;
	}
	if (f && f->state == UN_TCP_CONNECTING) {
		if (flags & 0x04) /* RST: the guest gave up */
			un_tcp_end(un, f, true, false);
		return;
	}
	/* lwIP's pcb, or lwIP's RST when there is none. */
	un_lwip_input(un, ip);
}

void un_tcp_event(struct usernet *un, struct un_tcp_flow *f, uint32_t events)
{
	un_tcp_un = un;
	if (f->state == UN_TCP_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct un_ip4 ip;

		if (getsockopt(f->fl.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
			un_tcp_connected(un, f);
			return;
		}
		un->st.connect_failed++;
		if (un_parse_ip4(f->syn, f->syn_len, &ip) == 0)
			un_send_rst(un, &ip);
		un_tcp_end(un, f, false, false);
		return;
	}
	if (f->state != UN_TCP_OPEN)
		return;
	if ((events & EPOLLOUT) && un_tcp_to_host(un, f) < 0)
		return;
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    un_tcp_from_host(un, f) < 0)
		return;
	if (!un_tcp_maybe_done(un, f))
		un_tcp_watch(un, f);
}

void un_tcp_tick(struct usernet *un, uint64_t now)
{
	struct un_flow *fl, *next;

	un_tcp_un = un;
	for (fl = un->tcp; fl; fl = next) {
		struct un_tcp_flow *f = (struct un_tcp_flow *)fl;

		next = fl->next;
		if (f->state == UN_TCP_OPEN || now < f->deadline_ms)
			continue;
		if (f->state == UN_TCP_CONNECTING) {
			struct un_ip4 ip;

			un->st.connect_failed++;
			if (un_parse_ip4(f->syn, f->syn_len, &ip) == 0)
				un_send_rst(un, &ip);
		}
		un_tcp_end(un, f, true, false);
	}
}

bool un_tcp_waiting(const struct usernet *un)
{
	for (const struct un_flow *f = un->tcp; f; f = f->next)
		if (((const struct un_tcp_flow *)f)->state != UN_TCP_OPEN)
			return true;
	return false;
}

void un_tcp_destroy_all(struct usernet *un)
{
	un_tcp_un = un;
	while (un->tcp)
		un_tcp_end(un, (struct un_tcp_flow *)un->tcp, true, true);
	un_tcp_un = NULL;
}
