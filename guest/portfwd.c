/*
 * guest/portfwd.c: WAIT_PORT and PORT_CONNECT.
 *
 * PORT_CONNECT connects to 127.0.0.1:PORT (then [::1]:PORT) inside the
 * guest, answers OK, and from then on copies bytes both ways between the
 * client connection and the TCP socket until both sides closed. An end of
 * stream on one side becomes a half-close on the other. Copies use blocking
 * writes of one buffer, so a slow side holds back the other.
 */
#include "guest/agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects to loopback:port over IPv4, then IPv6. fd or -errno. */
static int connect_local(uint16_t port)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd, e, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a4, sizeof(a4)) == 0)
		goto ok;
	e = errno;
	if (fd >= 0)
		close(fd);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0)
		goto ok;
	if (fd >= 0)
		close(fd);
	return -(e ? e : ECONNREFUSED);
ok:
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int req_port(const struct proto_frame *req, uint16_t *port)
{
	uint32_t p = proto_u32_or(req, PT_PORT, 0);

	if (p == 0 || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

static int wait_op(struct conn *c, const struct proto_frame *req)
{
	uint64_t end = mono_ms() + proto_u32_or(req, PT_TIMEOUT_MS, 30000);
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	uint16_t port;
	int fd;

	if (req_port(req, &port) < 0)
		return conn_error(c, EINVAL, "bad port");
	for (;;) {
		fd = connect_local(port);
		if (fd >= 0) {
			close(fd);
			return conn_empty(c, PROTO_OK);
		}
		if (mono_ms() >= end)
			return conn_error(c, ETIMEDOUT, "nothing listens on the port");
		if (poll(&p, 1, 100) > 0)
			return -ECONNRESET; /* the client left (or misbehaved) */
	}
}

/* Copies one read from 'from' to 'to'. 0, 1 at end of stream, or -errno. */
static int copy_once(int from, int to, uint8_t *buf)
{
	ssize_t n = read(from, buf, PROTO_CHUNK);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		shutdown(to, SHUT_WR);
		return 1;
	}
	return proto_write_all(to, buf, (size_t)n);
}

static void pipe_bytes(struct conn *c, int tcp)
{
	int open_c = 1, open_t = 1, r;
	struct pollfd p[2];

	while (open_c || open_t) {
		p[0] = (struct pollfd){ .fd = open_c ? c->fd : -1, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = open_t ? tcp : -1, .events = POLLIN };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents) {
			r = copy_once(c->fd, tcp, c->buf);
			if (r < 0)
				return;
			open_c = !r;
		}
		if (p[1].revents) {
			r = copy_once(tcp, c->fd, c->out);
			if (r < 0)
				return;
			open_t = !r;
		}
	}
}

static int connect_op(struct conn *c, const struct proto_frame *req)
{
	uint16_t port;
	int tcp, r;

	if (req_port(req, &port) < 0)
		return conn_error(c, EINVAL, "bad port");
	tcp = connect_local(port);
	if (tcp < 0)
		return conn_error(c, tcp, NULL);
	r = conn_empty(c, PROTO_OK);
	if (r == 0)
		pipe_bytes(c, tcp);
	close(tcp);
	return r;
}

/* Serves WAIT_PORT or PORT_CONNECT. */
int portfwd_op(struct conn *c, const struct proto_frame *req)
{
	if (req->type == PROTO_WAIT_PORT)
		return wait_op(c, req);
	return connect_op(c, req);
}
