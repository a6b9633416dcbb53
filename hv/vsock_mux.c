/*
 * hv/vsock_mux.c: vsock connections between the guest and host Unix sockets.
 *
 * Each connection is a (host port, guest port) pair with one host socket.
 * States: LINE (host client still sending "CONNECT <port>\n") → CONNECTING
 * (REQUEST queued/sent to the guest) → ESTABLISHED; a guest REQUEST to host
 * port P connects to "<path>_P" and goes straight to ESTABLISHED. Control
 * packets wait as bits in conn->pending until the guest gives rx buffers;
 * host data is read only while the guest has credit for it and rx buffers
 * exist, so a silent guest stops the host socket (backpressure) instead of
 * growing a buffer. Guest data that the host socket cannot take at once is
 * kept in a buffer of VSOCK_BUF_ALLOC bytes, the credit we advertise; a
 * guest that sends beyond it is reset. Freed connections go to a graveyard
 * emptied after each epoll round (their handler may still be in the batch).
 * Out of descriptors, the listener rests (mux_accept_pause) instead of
 * waking the loop for a client it cannot accept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_vsock.h>

#include "hv/vmm.h"
#include "hv/vsock_mux.h"

static void mux_conn_event(struct vm *vm, struct ev_handler *h, uint32_t ev);
static void mux_fd_closed(struct vsock *vs);

static struct vsock_conn *mux_find(struct vsock *vs, uint32_t host_port,
				   uint32_t guest_port)
{
	struct vsock_conn *c;

	for (c = vs->conns; c; c = c->next)
		if (c->host_port == host_port && c->guest_port == guest_port && !c->dead)
			return c;
	return NULL;
}

static int mux_port_used(struct vsock *vs, const struct vsock_conn *self,
			 uint32_t port)
{
	struct vsock_conn *c;

	for (c = vs->conns; c; c = c->next)
		if (c != self && c->host_port == port && !c->dead)
			return 1;
	return 0;
}

static struct vsock_conn *mux_new(struct vsock *vs, int fd)
{
	struct vsock_conn *c;

	if (vs->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->h.fn = mux_conn_event;
	c->vs = vs;
	c->fd = fd;
	c->next = vs->conns;
	vs->conns = c;
	vs->nconns++;
	return c;
}

/* Closes the host side and retires the connection. */
static void mux_kill(struct vsock_conn *c)
{
	struct vsock *vs = c->vs;

	if (c->dead)
		return;
	if (c->fd >= 0) {
		if (vs->vm && c->events)
			evloop_del(vs->vm, c->fd);
		close(c->fd);
		c->fd = -1;
		mux_fd_closed(vs);
	}
	c->dead = 1;
}

/* Queues an RST to the guest; the connection dies once it is sent. */
static void mux_reset(struct vsock_conn *c)
{
	if (c->fd >= 0) {
		if (c->vs->vm && c->events)
			evloop_del(c->vs->vm, c->fd);
		close(c->fd);
		c->fd = -1;
		c->events = 0;
		mux_fd_closed(c->vs);
	}
	c->state = VSOCK_CLOSING;
	c->pending = VSOCK_P_RST;
	c->vs->resets++;
}

void vsock_gc(struct vsock *vs)
{
	struct vsock_conn **pp = &vs->conns, *c;

	while ((c = *pp)) {
		if (c->dead) {
			*pp = c->next;
			vs->nconns--;
			free(c->buf);
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* Which epoll events the connection wants now. */
static uint32_t mux_want(struct vsock_conn *c)
{
	struct vsock *vs = c->vs;
	uint32_t ev = 0;

	if (c->fd < 0 || c->dead)
		return 0;
	if (c->state == VSOCK_LINE)
		return EPOLLIN;
	if (c->state == VSOCK_CONNECTING)
		return EPOLLRDHUP; /* only notice the client leaving */
	if (c->state == VSOCK_ESTABLISHED) {
		if (!c->host_eof && !vs->rx_full &&
		    vsock_peer_free(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt) > 0)
			ev |= EPOLLIN;
		if (c->buf_end > c->buf_start)
			ev |= EPOLLOUT;
	}
	return ev;
}

static void mux_update(struct vsock_conn *c)
{
	uint32_t want = mux_want(c);
	struct vm *vm = c->vs->vm;

	if (!vm || c->fd < 0 || want == c->events)
		return;
	if (!c->events)
		evloop_add(vm, c->fd, want, &c->h);
	else if (!want)
		evloop_del(vm, c->fd);
	else
		evloop_mod(vm, c->fd, want, &c->h);
	c->events = want;
}

static void mux_hdr(struct vsock_conn *c, struct vsock_hdr *h, uint16_t op)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID,
		.dst_cid = c->vs->guest_cid,
		.src_port = c->host_port,
		.dst_port = c->guest_port,
		.type = VIRTIO_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = VSOCK_BUF_ALLOC,
		.fwd_cnt = c->fwd_cnt,
	};
	c->fwd_sent = c->fwd_cnt;
}

/* Sends one queued control packet. 1 sent, 0 no rx buffer. */
static int mux_send_ctl(struct vsock_conn *c)
{
	static const struct { unsigned bit; uint16_t op; } order[] = {
		{ VSOCK_P_RST, VIRTIO_VSOCK_OP_RST },
		{ VSOCK_P_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
		{ VSOCK_P_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
		{ VSOCK_P_CREDIT, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
		{ VSOCK_P_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
	};
	struct vsock_hdr h;
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(c->pending & order[i].bit))
			continue;
		if (vsock_rx_pop(c->vs) <= 0)
			return 0;
		mux_hdr(c, &h, order[i].op);
		if (order[i].bit == VSOCK_P_SHUTDOWN)
			h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
		vsock_rx_put(c->vs, &h, NULL, 0);
		c->pending &= ~order[i].bit;
		if (order[i].bit == VSOCK_P_RST) {
			c->pending = 0;
			mux_kill(c);
		}
		return 1;
	}
	return 1;
}

/* Moves host data to the guest while credit and rx buffers last. */
static void mux_host_read(struct vsock_conn *c)
{
	struct vsock *vs = c->vs;

	while (c->state == VSOCK_ESTABLISHED && !c->host_eof && c->fd >= 0 &&
	       !c->pending) {
		uint32_t credit = vsock_peer_free(c->peer_buf_alloc, c->peer_fwd_cnt,
						  c->tx_cnt);
		struct vsock_hdr h;
		uint64_t room;
		ssize_t n;

		uint8_t probe;

		if (!credit || vs->rx_full) {
			c->stalled = 1; /* retried by vsock_mux_flush */
			return;
		}
		/* Take an rx buffer only for data or EOF, never to find EAGAIN. */
		n = recv(c->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (vsock_rx_pop(vs) <= 0) {
			c->stalled = 1;
			return;
		}
		room = vs->rxc.wlen - VSOCK_HDR_LEN;
		if (room > credit)
			room = credit;
		if (room > VSOCK_MAX_PAYLOAD)
			room = VSOCK_MAX_PAYLOAD;
		if (!room) {
			/*
			 * A buffer with room for the header only: recv() of 0
			 * bytes would return 0 and read as the host's EOF. Use it
			 * for a credit update and try the next buffer (each pass
			 * takes one, so the ring bounds this).
			 */
			mux_hdr(c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			vsock_rx_put(vs, &h, NULL, 0);
			continue;
		}
		n = recv(c->fd, vs->scratch, room, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			/* Hand the buffer back unused: a zero-length credit update. */
			mux_hdr(c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
			vsock_rx_put(vs, &h, NULL, 0);
			return;
		}
		if (n <= 0) {
			c->host_eof = 1;
			if (n < 0) {
				/* socket error: tell the guest with a reset */
				mux_hdr(c, &h, VIRTIO_VSOCK_OP_RST);
				vsock_rx_put(vs, &h, NULL, 0);
				mux_kill(c);
				return;
			}
			mux_hdr(c, &h, VIRTIO_VSOCK_OP_SHUTDOWN);
			h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
			vsock_rx_put(vs, &h, NULL, 0);
			c->shut_sent = 1;
			return;
		}
		mux_hdr(c, &h, VIRTIO_VSOCK_OP_RW);
		h.len = (uint32_t)n;
		vsock_rx_put(vs, &h, vs->scratch, (uint32_t)n);
		c->tx_cnt += (uint32_t)n;
	}
}

void vsock_mux_flush(struct vsock *vs)
{
	struct vsock_conn *c;

	for (c = vs->conns; c && !vs->rx_full; c = c->next) {
		while (!c->dead && c->pending && !vs->rx_full)
			if (!mux_send_ctl(c))
				break;
	}
	/* Only connections that stopped for want of credit or buffers: the
	 * others are woken by epoll when their socket has data. */
	for (c = vs->conns; c && !vs->rx_full; c = c->next) {
		if (!c->dead && c->stalled && c->state == VSOCK_ESTABLISHED) {
			c->stalled = 0;
			mux_host_read(c);
		}
	}
	for (c = vs->conns; c; c = c->next)
		mux_update(c);
}

/* Writes buffered guest data to the host socket; -errno on a dead socket. */
static int mux_drain(struct vsock_conn *c)
{
	while (c->buf_end > c->buf_start) {
		ssize_t n = send(c->fd, c->buf + c->buf_start, c->buf_end - c->buf_start,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -EPIPE;
		c->buf_start += (uint32_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	c->buf_start = c->buf_end = 0;
	return 0;
}

static void mux_credit_check(struct vsock_conn *c)
{
	if (c->fwd_cnt - c->fwd_sent >= VSOCK_BUF_ALLOC / 4)
		c->pending |= VSOCK_P_CREDIT;
}

/* Guest RW payload: straight to the socket, the rest into the buffer. */
static void mux_guest_data(struct vsock_conn *c, const struct virtq_chain *ch,
			   uint32_t len)
{
	uint64_t off = VSOCK_HDR_LEN;
	int i;

	if (!vsock_rx_fits(c->rx_cnt, c->fwd_cnt, len) || c->guest_shut_send) {
		mux_reset(c); /* the guest ignored our credit */
		return;
	}
	c->rx_cnt += len;
	if (c->fd < 0)
		return;
	if (!c->buf) {
		c->buf = malloc(VSOCK_BUF_ALLOC);
		if (!c->buf) {
			mux_reset(c);
			return;
		}
	}
	if (c->buf_end + len > VSOCK_BUF_ALLOC) {
		memmove(c->buf, c->buf + c->buf_start, c->buf_end - c->buf_start);
		c->buf_end -= c->buf_start;
		c->buf_start = 0;
	}
	/* buf_end - buf_start <= rx_cnt - fwd_cnt, so this fits after the move. */
	for (i = 0; i < ch->nr && len; i++) {
		uint32_t l = ch->seg[i].len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= (uint32_t)off;
		if (l > len)
			l = len;
		memcpy(c->buf + c->buf_end, ch->seg[i].p + off, l);
		c->buf_end += l;
		len -= l;
		off = 0;
	}
	if (mux_drain(c) < 0) {
		mux_reset(c);
		return;
	}
	mux_credit_check(c);
}

static void mux_guest_request(struct vsock *vs, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd = -1;

	char path[sizeof(vs->path) + 16];
	int n = snprintf(path, sizeof(path), "%s_%u", vs->path, h->dst_port);

	if (vs->path[0] && n > 0 && (size_t)n < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, path, (size_t)n + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		    errno != EINPROGRESS) {
			close(fd);
			fd = -1;
		}
	}
	c = mux_new(vs, fd);
	if (!c) {
		if (fd >= 0)
			close(fd);
		return;
	}
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (fd < 0) {
		mux_reset(c);
		return;
	}
	c->state = VSOCK_ESTABLISHED;
	c->pending = VSOCK_P_RESPONSE;
}

/* A packet for a connection we do not know: answer RST (not to a RST). */
static void mux_unknown(struct vsock *vs, const struct vsock_hdr *h)
{
	struct vsock_conn *c;

	if (h->op == VIRTIO_VSOCK_OP_RST)
		return;
	c = mux_new(vs, -1);
	if (!c)
		return;
	c->host_port = h->dst_port;
	c->guest_port = h->src_port;
	mux_reset(c);
}

void vsock_mux_packet(struct vsock *vs, const struct vsock_hdr *h,
		      const struct virtq_chain *ch)
{
	struct vsock_conn *c = mux_find(vs, h->dst_port, h->src_port);
	char ok[VSOCK_LINE_MAX];
	int n;

	if (h->op == VIRTIO_VSOCK_OP_REQUEST) {
		if (c)
			mux_reset(c);
		else
			mux_guest_request(vs, h);
		return;
	}
	if (!c || c->state == VSOCK_LINE || c->state == VSOCK_CLOSING) {
		if (!c || c->state == VSOCK_LINE)
			mux_unknown(vs, h);
		return;
	}
	if (h->buf_alloc != c->peer_buf_alloc || h->fwd_cnt != c->peer_fwd_cnt)
		c->stalled = 1; /* more credit, maybe: try reading the host again */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_CONNECTING) {
			mux_reset(c);
			break;
		}
		if (c->probe) { /* the agent accepts: ready; hang up */
			vs->probing = 0;
			mux_reset(c);
			if (vs->vm)
				boot_timer_ready(vs->vm, "vsock probe");
			break;
		}
		n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);
		if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
			mux_reset(c);
			break;
		}
		c->state = VSOCK_ESTABLISHED;
		c->stalled = 1; /* bytes sent after the CONNECT line may wait */
		break;
	case VIRTIO_VSOCK_OP_RST:
		c->pending = 0;
		mux_kill(c);
		if (c->probe) { /* nobody listens yet: again soon */
			vs->probing = 0;
			vsock_mux_probe_arm(vs, 20);
		}
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (h->flags & VIRTIO_VSOCK_SHUTDOWN_SEND)
			c->guest_shut_send = 1;
		if (h->flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->guest_shut_rcv = 1;
		if ((c->guest_shut_send && c->guest_shut_rcv) ||
		    (c->guest_shut_send && c->host_eof)) {
			/*
			 * Both directions are done, but what the guest sent
			 * last may still wait in our buffer for a slow host
			 * reader: the RST (which closes the host socket) comes
			 * only once it is written (mux_conn_event, EPOLLOUT).
			 */
			if (mux_drain(c) < 0 || c->buf_end == c->buf_start)
				mux_reset(c);
		} else if (c->guest_shut_send && c->buf_end == c->buf_start && c->fd >= 0) {
			shutdown(c->fd, SHUT_WR);
		}
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != VSOCK_ESTABLISHED) {
			mux_reset(c);
			break;
		}
		mux_guest_data(c, ch, h->len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* numbers taken above */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VSOCK_P_CREDIT;
		break;
	default:
		mux_reset(c);
	}
}

void vsock_mux_reset(struct vsock *vs)
{
	struct vsock_conn *c;

	vs->probing = 0;
	for (c = vs->conns; c; c = c->next) {
		c->pending = 0;
		mux_kill(c);
	}
	vs->rx_full = 1;
}

/* Host client sent (part of) its CONNECT line. */
static void mux_line(struct vsock_conn *c)
{
	struct vsock *vs = c->vs;
	uint32_t port;
	ssize_t n;
	int r;

	/* Peek so that bytes after the newline stay in the socket for later. */
	n = recv(c->fd, c->line + c->line_len, sizeof(c->line) - c->line_len,
		 MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mux_kill(c);
		return;
	}
	r = vsock_line_connect(c->line, c->line_len + (size_t)n, &port);
	if (r < 0) {
		mux_kill(c);
		return;
	}
	/* Consume what the line used of the peeked bytes (all if incomplete). */
	n = recv(c->fd, c->line + c->line_len,
		 r > 0 ? (size_t)r - c->line_len : (size_t)n, MSG_DONTWAIT);
	if (n <= 0) {
		mux_kill(c);
		return;
	}
	c->line_len += (size_t)n;
	if (r == 0)
		return;
	/* at most VSOCK_MAX_CONNS ports are taken: this ends */
	do
		c->host_port = vs->next_port++;
	while (mux_port_used(vs, c, c->host_port) || c->host_port < 1024);
	c->guest_port = port;
	c->state = VSOCK_CONNECTING;
	c->pending = VSOCK_P_REQUEST;
}

static void mux_conn_event(struct vm *vm, struct ev_handler *h, uint32_t ev)
{
	struct vsock_conn *c = (struct vsock_conn *)h;
	struct vsock *vs = c->vs;

	pthread_mutex_lock(&vs->t.lock);
	if (c->dead || c->fd < 0)
		goto out;
	switch (c->state) {
	case VSOCK_LINE:
		mux_line(c);
		break;
	case VSOCK_CONNECTING:
		if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			if (c->pending & VSOCK_P_REQUEST)
				mux_kill(c); /* the guest never heard of it */
			else
				mux_reset(c);
		}
		break;
	case VSOCK_ESTABLISHED:
		if ((ev & EPOLLOUT) || (ev & EPOLLERR)) {
			if (mux_drain(c) < 0) {
				mux_reset(c);
				break;
			}
			mux_credit_check(c);
			if (c->buf_end == c->buf_start && c->guest_shut_send) {
				if (c->guest_shut_rcv || c->host_eof) {
					mux_reset(c); /* drained: now end it */
					break;
				}
				shutdown(c->fd, SHUT_WR);
			}
		}
		if (ev & (EPOLLIN | EPOLLHUP))
			mux_host_read(c);
		break;
	default:
		break;
	}
	vsock_mux_flush(vs);
out:
	pthread_mutex_unlock(&vs->t.lock);
}

/*
 * Out of descriptors or memory, accept4 leaves the client in the backlog and
 * the listener stays readable: watched, it would wake the loop at once,
 * forever. So the listener is not watched until one of our sockets closes
 * or VSOCK_ACCEPT_RETRY_MS pass (the descriptors may be held elsewhere,
 * e.g. by usernet). t.lock held.
 */
static void mux_accept_pause(struct vsock *vs)
{
	struct itimerspec its = {
		.it_value = { 0, VSOCK_ACCEPT_RETRY_MS * 1000000L },
	};

	if (vs->accept_paused || !vs->vm)
		return;
	if (evloop_mod(vs->vm, vs->listen_fd, 0, &vs->listen_h))
		return;
	vs->accept_paused = 1;
	vs->accept_pauses++;
	if (vs->accept_fd >= 0)
		timerfd_settime(vs->accept_fd, 0, &its, NULL);
}

/* Watches the listener again. t.lock held; any thread (epoll_ctl only). */
static void mux_accept_resume(struct vsock *vs)
{
	if (!vs->accept_paused || !vs->vm)
		return;
	if (evloop_mod(vs->vm, vs->listen_fd, EPOLLIN, &vs->listen_h) == 0)
		vs->accept_paused = 0;
}

/* One of our host sockets closed: a descriptor is free for a client. */
static void mux_fd_closed(struct vsock *vs)
{
	if (vs->accept_paused)
		mux_accept_resume(vs);
}

/* The retry timer of a paused listener. */
static void mux_accept_retry(struct vm *vm, struct ev_handler *h, uint32_t ev)
{
	struct vsock *vs = &vm->vsock;
	uint64_t n;

	if (read(vs->accept_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&vs->t.lock);
	mux_accept_resume(vs);
	pthread_mutex_unlock(&vs->t.lock);
}

static void mux_accept(struct vm *vm, struct ev_handler *h, uint32_t ev)
{
	struct vsock *vs = &vm->vsock;
	struct vsock_conn *c;
	int fd;

	for (;;) {
		fd = accept4(vs->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				pthread_mutex_lock(&vs->t.lock);
				mux_accept_pause(vs);
				pthread_mutex_unlock(&vs->t.lock);
			}
			return;
		}
		pthread_mutex_lock(&vs->t.lock);
		c = mux_new(vs, fd);
		if (!c) {
			close(fd);
		} else {
			c->state = VSOCK_LINE;
			mux_update(c);
		}
		pthread_mutex_unlock(&vs->t.lock);
	}
}

void vsock_mux_probe_arm(struct vsock *vs, int ms)
{
	struct itimerspec its = { .it_value = { ms / 1000, (ms % 1000) * 1000000L } };

	if (vs->probe_fd < 0 || !vs->probe_port || vs->probing ||
	    (vs->vm && __atomic_load_n(&vs->vm->ready_us, __ATOMIC_RELAXED) >= 0))
		return;
	timerfd_settime(vs->probe_fd, 0, &its, NULL);
}

/* Timer: start one probe connection (a REQUEST from a port of our own). */
static void mux_probe_fire(struct vm *vm, struct ev_handler *h, uint32_t ev)
{
	struct vsock *vs = &vm->vsock;
	struct vsock_conn *c;
	uint64_t n;

	if (read(vs->probe_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&vs->t.lock);
	if (!vs->probing && virtio_mmio_live(&vs->t) &&
	    __atomic_load_n(&vm->ready_us, __ATOMIC_RELAXED) < 0 &&
	    (c = mux_new(vs, -1))) {
		do
			c->host_port = vs->next_port++;
		while (mux_port_used(vs, c, c->host_port) || c->host_port < 1024);
		c->guest_port = vs->probe_port;
		c->probe = 1;
		c->state = VSOCK_CONNECTING;
		c->pending = VSOCK_P_REQUEST;
		vs->probing = 1;
		vsock_mux_flush(vs);
	}
	pthread_mutex_unlock(&vs->t.lock);
}

int vsock_probe_init(struct vsock *vs, uint32_t port)
{
	vs->probe_port = port;
	vs->probe_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vs->probe_fd < 0)
		return -errno;
	vs->probe_h.fn = mux_probe_fire;
	return evloop_add(vs->vm, vs->probe_fd, EPOLLIN, &vs->probe_h);
}

int vsock_mux_listen(struct vsock *vs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r;

	strcpy(sa.sun_path, vs->path);
	unlink(vs->path);
	vs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (vs->listen_fd < 0)
		return -errno;
	if (bind(vs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(vs->listen_fd, 128) < 0)
		return -errno;
	if (!vs->vm)
		return 0;
	vs->listen_h.fn = mux_accept;
	r = evloop_add(vs->vm, vs->listen_fd, EPOLLIN, &vs->listen_h);
	if (r)
		return r;
	vs->accept_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vs->accept_fd < 0)
		return -errno;
	vs->accept_h.fn = mux_accept_retry;
	return evloop_add(vs->vm, vs->accept_fd, EPOLLIN, &vs->accept_h);
}

void vsock_free(struct vsock *vs)
{
	vsock_mux_reset(vs);
	vsock_gc(vs);
	if (vs->listen_fd >= 0) {
		close(vs->listen_fd);
		unlink(vs->path);
	}
	vs->listen_fd = -1;
	if (vs->probe_fd >= 0)
		close(vs->probe_fd);
	vs->probe_fd = -1;
	if (vs->accept_fd >= 0)
		close(vs->accept_fd);
	vs->accept_fd = -1;
}
