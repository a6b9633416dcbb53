/*
 * net/conn.c: client connections (see conn.h).
 *
 * Theory of operation: a connection is one loop watch. Readable: decrypt
 * into c->in and feed the HTTP parser, which calls the head/body/done sink
 * below; the parser pauses after each request until its response is done,
 * and reading stops while a handler has paused the body or a response is
 * in progress (pipelined bytes wait in the kernel). Writable: encrypt from
 * c->out. Closed connections move to d->dead and are freed after the loop's
 * batch, so no event can reach a freed connection.
 */
#include "net/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sbxd.h"

#define CONN_MAX 10000
#define CONN_FLUSH_MAX (64 * 1024) /* plaintext per tls_conn_write() */

static void conn_process(struct conn *c);
static void conn_flush(struct conn *c);

static void conn_update(struct conn *c)
{
	uint32_t ev = EPOLLRDHUP;

	if (c->dead)
		return;
	if (c->handshaking) {
		ev |= EPOLLIN;
	} else {
		int reading = !c->closing && !c->body_paused &&
			      (c->upgraded || !c->hp.paused);
		if (reading)
			ev |= EPOLLIN;
		if (buf_avail(&c->out))
			ev |= EPOLLOUT;
	}
	loop_mod(&c->d->loop, &c->w, ev);
}

static void conn_release_handler(struct conn *c)
{
	const struct conn_handler *h = c->h;

	c->h = NULL;
	if (h && h->release)
		h->release(c);
	c->hs = NULL;
}

void conn_abort(struct conn *c)
{
	struct sbxd *d = c->d;

	if (c->dead)
		return;
	c->dead = 1;
	conn_release_handler(c);
	loop_del(&d->loop, &c->w);
	shutdown(c->w.fd, SHUT_RDWR);
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = d->dead;
	c->prev = NULL;
	d->dead = c;
	d->nconns--;
}

static void conn_free(struct conn *c)
{
	tls_conn_fini(&c->tls);
	close(c->w.fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

void conn_close_after(struct conn *c)
{
	c->closing = 1;
	c->close_pending = 1;
	if (!buf_avail(&c->out)) {
		tls_conn_close_notify(&c->tls);
		conn_abort(c);
		return;
	}
	conn_update(c);
}

/* The request and its response are both complete: get ready for the next. */
static void conn_finish_request(struct conn *c)
{
	int keep = c->req && c->req->keep_alive && !c->closing && !c->upgraded;

	conn_release_handler(c);
	c->req = NULL;
	c->req_done = c->resp_started = c->resp_done = c->resp_chunked = 0;
	c->head_only = 0;
	c->body_paused = 0;
	c->sse = 0;
	if (!keep) {
		conn_close_after(c);
		return;
	}
	c->deadline = loop_now_ms() + CONN_IDLE_MS;
	http_parser_resume(&c->hp);
	conn_update(c);
	if (!c->in_process && buf_avail(&c->in))
		conn_process(c);
}

/* --- the parser's sink ------------------------------------------------ */

static int conn_on_head(void *arg, struct http_req *req)
{
	struct conn *c = arg;

	c->req = req;
	c->req_done = 0;
	int body = (req->has_length && req->content_length) || req->chunked;
	c->deadline = body ? loop_now_ms() + CONN_BODY_MS : 0;
	int rc = api_dispatch(c);
	/* A client waiting for "100 Continue" (curl does for uploads) gets
	 * it once the request was accepted; a proxied request is the app's. */
	const char *expect = http_req_header(req, "expect");
	if (rc == 0 && body && expect && !strcasecmp(expect, "100-continue") &&
	    !c->resp_started && !c->dead) {
		buf_printf(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
		conn_flush(c);
	}
	return rc;
}

static int conn_on_body(void *arg, const char *data, size_t len)
{
	struct conn *c = arg;

	c->deadline = loop_now_ms() + CONN_BODY_MS;
	if (c->h && c->h->body)
		return c->h->body(c, data, len);
	return 0;
}

static void conn_on_done(void *arg)
{
	struct conn *c = arg;

	c->req_done = 1;
	c->deadline = 0;
	if (c->h && c->h->done)
		c->h->done(c);
	else if (!c->h && !c->resp_started)
		conn_reply_error(c, 500, "internal", "no handler");
	if (!c->dead && c->resp_done && c->req_done && !c->in_process)
		conn_finish_request(c);
}

static const struct http_sink conn_sink = {
	.head = conn_on_head,
	.body = conn_on_body,
	.done = conn_on_done,
};

static const char *conn_error_code(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 404: return "not_found";
	case 408: return "timeout";
	case 409: return "conflict";
	case 413: return "too_large";
	case 414: return "uri_too_long";
	case 429: return "too_many_requests";
	case 431: return "headers_too_large";
	case 503: return "unavailable";
	case 504: return "timeout";
	default: return "error";
	}
}

/* Feeds buffered input to the parser (or, once raw, to the handler). */
static void conn_process(struct conn *c)
{
	c->in_process = 1;
	while (!c->dead && buf_avail(&c->in)) {
		if (c->upgraded) {
			size_t n = buf_avail(&c->in);
			int rc = c->h && c->h->body ? c->h->body(c, buf_data(&c->in), n) : 0;
			buf_consume(&c->in, n);
			if (rc) {
				conn_abort(c);
				break;
			}
			continue;
		}
		if (c->body_paused || c->hp.paused || c->closing)
			break;
		long n = http_parser_feed(&c->hp, buf_data(&c->in), buf_avail(&c->in));
		if (n < 0) {
			int st = c->hp.status ? c->hp.status : 400;
			buf_reset(&c->in);
			if (!c->resp_started) {
				c->closing = 1;
				conn_reply_error(c, st, conn_error_code(st), "%s",
						 c->hp.why ? c->hp.why : "bad request");
			}
			conn_close_after(c);
			break;
		}
		buf_consume(&c->in, (size_t)n);
		if (c->hp.upgraded && !c->upgraded)
			c->upgraded = 1;
		if (c->hp.paused && c->resp_done && c->req_done)
			conn_finish_request(c); /* in_process: no recursion */
	}
	c->in_process = 0;
	if (!c->dead)
		conn_update(c);
}

static void conn_read(struct conn *c)
{
	char tmp[16384];

	for (;;) {
		if (c->dead || c->closing || c->body_paused)
			return;
		if (!c->upgraded && c->hp.paused)
			return;
		ssize_t n = tls_conn_read(&c->tls, tmp, sizeof(tmp));
		if (n == -EAGAIN)
			return;
		if (n <= 0) {
			conn_abort(c);
			return;
		}
		if (buf_append(&c->in, tmp, (size_t)n)) {
			conn_abort(c);
			return;
		}
		conn_process(c);
	}
}

static void conn_flush(struct conn *c)
{
	int was_full = buf_avail(&c->out) >= CONN_OUT_LOW;

	while (!c->dead && buf_avail(&c->out)) {
		/* Up to four records per call: tls_record.c seals them into
		 * one send(), a quarter of the syscalls of a download. */
		size_t n = buf_avail(&c->out);
		if (n > CONN_FLUSH_MAX)
			n = CONN_FLUSH_MAX;
		ssize_t w = tls_conn_write(&c->tls, buf_data(&c->out), n);
		if (w == -EAGAIN)
			break;
		if (w < 0) {
			conn_abort(c);
			return;
		}
		buf_consume(&c->out, (size_t)w);
		c->last_write_ms = loop_now_ms();
	}
	if (c->dead)
		return;
	if (c->close_pending && !buf_avail(&c->out)) {
		tls_conn_close_notify(&c->tls);
		conn_abort(c);
		return;
	}
	conn_update(c);
	if (was_full && buf_avail(&c->out) < CONN_OUT_LOW && c->h && c->h->drained)
		c->h->drained(c);
}

static void conn_on_event(struct loop_watch *w, uint32_t events)
{
	struct conn *c = (struct conn *)w;

	if (c->dead)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_abort(c);
		return;
	}
	if (c->handshaking) {
		int ww;
		int rc = tls_conn_handshake(&c->tls, &ww);
		if (rc == -EAGAIN) {
			loop_mod(&c->d->loop, &c->w, ww ? EPOLLOUT : EPOLLIN);
			return;
		}
		if (rc) {
			conn_abort(c);
			return;
		}
		c->handshaking = 0;
		c->deadline = loop_now_ms() + CONN_HEAD_MS;
		conn_update(c);
		conn_read(c);
		return;
	}
	if (events & EPOLLOUT)
		conn_flush(c);
	if (!c->dead && (events & EPOLLIN))
		conn_read(c);
	if (!c->dead && (events & EPOLLRDHUP) && !(events & EPOLLIN))
		conn_abort(c); /* peer went away while we were not reading */
}

void conn_accept(struct loop_watch *w, uint32_t events)
{
	struct sbxd *d = (struct sbxd *)((char *)w - offsetof(struct sbxd, listen_w));

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss = { 0 };
		socklen_t sl = sizeof(ss);
		int fd = accept4(w->fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: stop accepting for a tick
				 * rather than spin on a readable socket. */
				loop_del(&d->loop, w);
				d->accept_paused = 1;
			}
			return;
		}
		if (d->nconns >= CONN_MAX) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		if (!c || tls_conn_init(&d->tls, &c->tls, fd)) {
			free(c);
			close(fd);
			continue;
		}
		c->d = d;
		c->w.fd = fd;
		c->w.cb = conn_on_event;
		c->handshaking = 1;
		c->deadline = loop_now_ms() + CONN_HANDSHAKE_MS;
		http_parser_init(&c->hp, &conn_sink, c);
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
				  c->peer, sizeof(c->peer));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
				  c->peer, sizeof(c->peer));
		if (loop_add(&d->loop, &c->w, EPOLLIN | EPOLLRDHUP)) {
			tls_conn_fini(&c->tls);
			close(fd);
			free(c);
			continue;
		}
		c->next = d->conns;
		if (d->conns)
			d->conns->prev = c;
		d->conns = c;
		d->nconns++;
	}
}

void sbxd_defer_free(struct sbxd *d, void *p)
{
	if (!p)
		return;
	if (d->ndeferred == d->cap_deferred) {
		unsigned cap = d->cap_deferred ? d->cap_deferred * 2 : 64;
		void **v = realloc(d->deferred, cap * sizeof(*v));
		if (!v) {
			return; /* out of memory: leak p rather than free it early */
		}
		d->deferred = v;
		d->cap_deferred = cap;
	}
	d->deferred[d->ndeferred++] = p;
}

/*
 * Moves the last write of c later by the loop's stall, but never past now.
 * The stall is counted over whole batches of callbacks, and a write made
 * inside one (the agent's bytes queued behind a full socket) already lies
 * after part of it: moved by all of it, last_write_ms would be in the
 * future, now - last_write_ms would wrap around, and a download that was
 * moving would be cut off as a reader that stopped reading.
 */
static void conn_forgive_stall(struct conn *c, uint64_t stall, uint64_t now_ms)
{
	if (c->last_write_ms + stall > now_ms)
		c->last_write_ms = now_ms;
	else
		c->last_write_ms += stall;
}

void conn_tick(struct sbxd *d, uint64_t now_ms)
{
	for (unsigned i = 0; i < d->ndeferred; i++)
		free(d->deferred[i]);
	d->ndeferred = 0;
	while (d->dead) {
		struct conn *c = d->dead;
		d->dead = c->next;
		conn_free(c);
	}
	if (!now_ms)
		return;
	if (d->accept_paused && d->listen_w.fd >= 0 &&
	    !loop_add(&d->loop, &d->listen_w, EPOLLIN))
		d->accept_paused = 0;
	/* Time the loop itself was stuck (a sandbox created or stopped in a
	 * callback) is not the clients': their deadlines move by it. */
	uint64_t stall = d->loop.stalled_ms;
	for (struct conn *c = d->conns, *n; c; c = n) {
		n = c->next;
		if (c->deadline)
			c->deadline += stall;
		conn_forgive_stall(c, stall, now_ms);
		if (c->deadline && now_ms > c->deadline) {
			conn_abort(c);
			continue;
		}
		if (buf_avail(&c->out) && now_ms - c->last_write_ms > CONN_IDLE_MS) {
			conn_abort(c); /* a reader that stopped reading */
			continue;
		}
		/* Idle event streams get a comment now and then, so proxies and
		 * NATs keep them and a vanished client is noticed. */
		if (c->sse && c->resp_started && !c->resp_done && !buf_avail(&c->out) &&
		    now_ms - c->last_write_ms > CONN_SSE_PING_MS)
			conn_resp_write(c, ": ping\n\n", 8);
	}
}

void conn_close_all(struct sbxd *d)
{
	while (d->conns)
		conn_abort(d->conns);
	conn_tick(d, 0);
}

void conn_set_handler(struct conn *c, const struct conn_handler *h, void *hs)
{
	c->h = h;
	c->hs = hs;
}

int conn_resp_start(struct conn *c, int status, const char *content_type,
		    int64_t content_length, const char *extra)
{
	if (c->resp_started || c->dead)
		return -EALREADY;
	c->resp_started = 1;
	if (c->req && !strcmp(c->req->method, "HEAD"))
		c->head_only = 1;
	int close_it = c->closing || !c->req || !c->req->keep_alive;
	buf_printf(&c->out, "HTTP/1.1 %d %s\r\nServer: sbxd\r\n", status,
		   http_status_text(status));
	if (content_type)
		buf_printf(&c->out, "Content-Type: %s\r\n", content_type);
	if (content_length >= 0) {
		buf_printf(&c->out, "Content-Length: %lld\r\n", (long long)content_length);
	} else if (status != 101 && status != 204) {
		c->resp_chunked = 1;
		buf_printf(&c->out, "Transfer-Encoding: chunked\r\n");
	}
	if (close_it)
		buf_printf(&c->out, "Connection: close\r\n");
	if (extra)
		buf_printf(&c->out, "%s", extra);
	int rc = buf_printf(&c->out, "\r\n");
	c->last_write_ms = loop_now_ms();
	conn_flush(c);
	return rc;
}

int conn_resp_write(struct conn *c, const void *data, size_t len)
{
	int rc;

	if (c->dead || !len)
		return c->dead ? -EPIPE : 0;
	if (c->head_only)
		return 0;
	if (!buf_avail(&c->out))
		c->last_write_ms = loop_now_ms();
	if (c->resp_chunked) {
		buf_printf(&c->out, "%zx\r\n", len);
		buf_append(&c->out, data, len);
		rc = buf_append(&c->out, "\r\n", 2);
	} else {
		rc = buf_append(&c->out, data, len);
	}
	conn_flush(c);
	return rc;
}

void conn_resp_end(struct conn *c)
{
	if (c->dead || c->resp_done)
		return;
	if (c->resp_chunked && !c->head_only)
		buf_append(&c->out, "0\r\n\r\n", 5);
	c->resp_done = 1;
	conn_flush(c);
	if (c->dead)
		return;
	if (!c->req_done) {
		/* Answered before the request ended: a small rest is read and
		 * dropped (the next request follows); a large one is not. */
		if (c->upgraded || (c->req && (c->req->chunked ||
				    c->req->content_length > 65536)))
			conn_close_after(c);
		return;
	}
	if (!c->in_process)
		conn_finish_request(c);
}

void conn_reply_json(struct conn *c, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (!s) {
		conn_abort(c);
		return;
	}
	size_t n = strlen(s);
	if (!conn_resp_start(c, status, "application/json", (int64_t)n + 1, NULL)) {
		conn_resp_write(c, s, n);
		conn_resp_write(c, "\n", 1);
		conn_resp_end(c);
	}
	free(s);
}

void conn_reply_error(struct conn *c, int status, const char *code,
		      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_reply_json(c, status, json_pack("{s:{s:s,s:s}}", "error", "code", code,
					     "message", msg));
}

void conn_upgrade(struct conn *c)
{
	c->upgraded = 1;
	conn_update(c);
}

int conn_raw_write(struct conn *c, const void *data, size_t len)
{
	if (c->dead)
		return -EPIPE;
	if (!buf_avail(&c->out))
		c->last_write_ms = loop_now_ms();
	int rc = buf_append(&c->out, data, len);
	conn_flush(c);
	return rc;
}

int conn_out_full(const struct conn *c)
{
	return buf_avail(&c->out) >= CONN_OUT_HIGH;
}

void conn_pause_body(struct conn *c)
{
	c->body_paused = 1;
	conn_update(c);
}

void conn_resume_body(struct conn *c)
{
	if (!c->body_paused || c->dead)
		return;
	c->body_paused = 0;
	conn_update(c);
	if (!c->in_process) {
		if (buf_avail(&c->in))
			conn_process(c);
		/* mbedTLS may hold decrypted bytes the socket will not announce */
		if (!c->dead && !c->body_paused)
			conn_read(c);
	}
}
