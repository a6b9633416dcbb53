/*
 * net/agent.c: asynchronous guest-protocol calls (see agent.h).
 */
#include "net/agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sbxd.h"

#define AGENT_OUT_LOW (64 * 1024)
#define AGENT_MAX_PER_SANDBOX 1024 /* operations at once; more: 429 */

static void agent_update(struct agent_call *a)
{
	uint32_t ev = 0;

	if (a->closed || a->waiting)
		return;
	if (!a->paused)
		ev |= EPOLLIN;
	if (buf_avail(&a->out))
		ev |= EPOLLOUT;
	if (!ev) /* paused: unregister, or a hang-up would be reported forever */
		loop_del(&a->d->loop, &a->w);
	else
		loop_mod(&a->d->loop, &a->w, ev);
}

static void agent_fail(struct agent_call *a, int err)
{
	void (*cb)(struct agent_call *, int) = a->on_close;

	if (a->closed)
		return;
	a->on_close = NULL;
	if (cb)
		cb(a, err);
	agent_call_close(a);
}

/* Hands buffered frames (or raw bytes) to the owner while not paused. */
static void agent_deliver(struct agent_call *a)
{
	while (!a->closed && !a->paused && buf_avail(&a->in)) {
		if (a->raw) {
			size_t n = buf_avail(&a->in);
			char *tmp = malloc(n);
			if (!tmp)
				return agent_fail(a, -ENOMEM);
			memcpy(tmp, buf_data(&a->in), n);
			buf_consume(&a->in, n);
			a->on_raw(a, tmp, n);
			free(tmp);
			continue;
		}
		struct proto_frame f;
		int n = proto_decode((const uint8_t *)buf_data(&a->in), buf_avail(&a->in), &f);
		if (n < 0)
			return agent_fail(a, -EBADMSG);
		if (n == 0)
			return;
		/* The frame points into a->in: copy it out before the callback,
		 * which may queue or close. */
		uint8_t *copy = malloc((size_t)n);
		if (!copy)
			return agent_fail(a, -ENOMEM);
		memcpy(copy, buf_data(&a->in), (size_t)n);
		buf_consume(&a->in, (size_t)n);
		proto_decode(copy, (size_t)n, &f);
		a->on_frame(a, &f);
		free(copy);
	}
}

static void agent_flush(struct agent_call *a)
{
	int was_full = buf_avail(&a->out) >= AGENT_OUT_LOW;

	if (a->waiting)
		return;
	while (!a->closed && buf_avail(&a->out)) {
		ssize_t n = send(a->w.fd, buf_data(&a->out), buf_avail(&a->out),
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			/* The agent may have answered ERROR before closing: read it. */
			buf_reset(&a->out);
			break;
		}
		buf_consume(&a->out, (size_t)n);
	}
	if (a->closed)
		return;
	if (!buf_avail(&a->out) && a->shut_wr_pending) {
		a->shut_wr_pending = 0;
		shutdown(a->w.fd, SHUT_WR);
	}
	agent_update(a);
	if (was_full && buf_avail(&a->out) < AGENT_OUT_LOW && a->on_drain)
		a->on_drain(a);
}

static void agent_on_event(struct loop_watch *w, uint32_t events)
{
	struct agent_call *a = (struct agent_call *)w;
	char tmp[65536];

	if (a->closed)
		return;
	if (events & EPOLLOUT)
		agent_flush(a);
	if (a->closed || a->paused)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = recv(a->w.fd, tmp, sizeof(tmp), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			agent_deliver(a);
			if (!a->closed && buf_avail(&a->in) && !a->raw && !a->paused)
				return agent_fail(a, -EPIPE); /* cut inside a frame */
			if (!a->closed && !a->paused)
				agent_fail(a, n == 0 ? 0 : -errno);
			return;
		}
		buf_append(&a->in, tmp, (size_t)n);
		agent_deliver(a);
	}
}

struct agent_call *agent_call_new(struct sbxd *d, struct sandbox *s, void *arg)
{
	struct agent_call *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->d = d;
	a->s = s;
	a->arg = arg;
	a->w.fd = -1;
	a->w.cb = agent_on_event;
	a->waiting = 1;
	return a;
}

int agent_call_open(struct sbxd *d, struct sandbox *s, void *arg,
		    struct agent_call **out)
{
	if (s->busy >= AGENT_MAX_PER_SANDBOX)
		return -EAGAIN;
	struct agent_call *a = agent_call_new(d, s, arg);

	if (!a)
		return -ENOMEM;
	a->waiting = 0;
	int fd = sandbox_dial(d, s, a);
	if (fd == -EINPROGRESS) {
		a->waiting = 1;
		*out = a;
		return 0;
	}
	if (fd < 0) {
		free(a);
		return fd;
	}
	a->w.fd = fd;
	int rc = loop_add(&d->loop, &a->w, EPOLLIN);
	if (rc) {
		close(fd);
		sandbox_release(d, s);
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void agent_call_attach(struct agent_call *a, int fd)
{
	a->waiting = 0;
	a->w.fd = fd;
	if (loop_add(&a->d->loop, &a->w, EPOLLIN)) {
		agent_fail(a, -ENOMEM);
		return;
	}
	agent_flush(a);
}

void agent_call_fail(struct agent_call *a, int err)
{
	a->waiting = 0;
	agent_fail(a, err);
}

int agent_call_send(struct agent_call *a, const void *frame, size_t len)
{
	if (a->closed)
		return -EPIPE;
	int rc = buf_append(&a->out, frame, len);
	if (!rc)
		agent_flush(a);
	return rc;
}

int agent_call_send_data(struct agent_call *a, uint16_t type, const void *data,
			 size_t len)
{
	const char *p = data;

	if (a->closed)
		return -EPIPE;
	do {
		size_t n = len > PROTO_CHUNK ? PROTO_CHUNK : len;
		uint8_t hdr[PROTO_HDR_LEN];
		hdr[0] = (uint8_t)n;
		hdr[1] = (uint8_t)(n >> 8);
		hdr[2] = (uint8_t)(n >> 16);
		hdr[3] = (uint8_t)(n >> 24);
		hdr[4] = (uint8_t)type;
		hdr[5] = (uint8_t)(type >> 8);
		hdr[6] = hdr[7] = 0;
		if (buf_append(&a->out, hdr, sizeof(hdr)) || buf_append(&a->out, p, n))
			return -ENOMEM;
		p += n;
		len -= n;
	} while (len);
	agent_flush(a);
	return 0;
}

int agent_call_send_raw(struct agent_call *a, const void *data, size_t len)
{
	if (a->closed)
		return -EPIPE;
	int rc = buf_append(&a->out, data, len);
	if (!rc)
		agent_flush(a);
	return rc;
}

size_t agent_call_queued(const struct agent_call *a)
{
	return buf_avail(&a->out);
}

void agent_call_pause(struct agent_call *a, int paused)
{
	if (!a || a->closed || a->paused == paused)
		return;
	a->paused = paused;
	agent_update(a);
	if (!paused)
		agent_deliver(a);
}

void agent_call_shutdown_write(struct agent_call *a)
{
	if (a->closed)
		return;
	a->shut_wr_pending = 1;
	agent_flush(a);
}

void agent_call_close(struct agent_call *a)
{
	if (!a || a->closed)
		return;
	a->closed = 1;
	if (a->waiting)
		sandbox_unwait(a->s, a);
	a->waiting = 0;
	if (a->w.fd >= 0) {
		loop_del(&a->d->loop, &a->w);
		close(a->w.fd);
	}
	a->w.fd = -1;
	sandbox_release(a->d, a->s);
	a->next_dead = a->d->dead_calls;
	a->d->dead_calls = a;
}

void agent_tick(struct sbxd *d)
{
	while (d->dead_calls) {
		struct agent_call *a = d->dead_calls;
		d->dead_calls = a->next_dead;
		buf_free(&a->in);
		buf_free(&a->out);
		free(a);
	}
}

int agent_error_status(const char *code)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
		{ "not_found", 404 },         { "exists", 409 },
		{ "is_directory", 400 },      { "not_directory", 400 },
		{ "not_empty", 409 },         { "no_space", 507 },
		{ "permission_denied", 403 }, { "read_only", 403 },
		{ "name_too_long", 400 },     { "too_many_links", 400 },
		{ "cross_device", 400 },      { "busy", 409 },
		{ "invalid_argument", 400 },  { "bad_request", 400 },
		{ "too_large", 413 },         { "timeout", 504 },
		{ "connection_refused", 502 }, { "no_such_process", 404 },
		{ "resource_exhausted", 429 }, { "unsupported", 501 },
		{ "exec_format", 400 },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (code && !strcmp(code, map[i].code))
			return map[i].status;
	return 500;
}
