/*
 * net/conn.h: one client connection: TLS, the HTTP parser, and responses.
 *
 * A request's head goes to api_dispatch(), which installs a handler (struct
 * conn_handler) for the rest of that request: it gets the body as it arrives
 * and the end of the request, writes the response with conn_resp_*(), and
 * is told when queued output drained (to resume its upstream). When the
 * response and the request are both complete the handler is released and
 * the next pipelined request is parsed. Output is queued in c->out and
 * encrypted as the socket takes it; producers check conn_out_full() and
 * stop reading their upstream until drained() is called.
 */
#ifndef SBX_NET_CONN_H
#define SBX_NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "net/buf.h"
#include "net/http.h"
#include "net/loop.h"
#include "net/router.h"
#include "net/tls.h"

#define CONN_OUT_HIGH (256 * 1024) /* stop producing above this */
#define CONN_OUT_LOW (64 * 1024)   /* resume below this */
#define CONN_HANDSHAKE_MS 10000
#define CONN_HEAD_MS 30000
#define CONN_IDLE_MS 120000
#define CONN_BODY_MS 60000
#define CONN_SSE_PING_MS 25000

struct sbxd;
struct conn;

struct conn_handler {
	/* Body bytes (or, after an upgrade, raw client bytes). 0 or a status. */
	int (*body)(struct conn *c, const char *data, size_t len);
	/* The request (body) is complete. */
	void (*done)(struct conn *c);
	/* Queued output fell below CONN_OUT_LOW. */
	void (*drained)(struct conn *c);
	/* The handler's state must be freed (request over or connection gone). */
	void (*release)(struct conn *c);
};

struct conn {
	struct loop_watch w;
	struct sbxd *d;
	struct conn *next, *prev;
	struct tls_conn tls;
	struct http_parser hp;
	struct buf in, out;
	uint64_t deadline; /* monotonic ms, 0 = none */
	int handshaking;
	int closing;       /* no further requests (Connection: close) */
	int close_pending; /* close once out is flushed */
	int dead;
	int body_paused;
	char peer[64];

	/* current request */
	struct http_req *req;
	struct route route;
	char tenant[64];
	const struct conn_handler *h;
	void *hs;
	int req_done;
	int resp_started;
	int resp_chunked;
	int resp_done;
	int head_only;
	int upgraded; /* raw byte pipe (preview proxy) */
	int in_process;
	int sse; /* the response is an event stream (pinged when idle) */
	uint64_t last_write_ms;
};

/* Accepts connections on d->listen_w (loop callback). */
void conn_accept(struct loop_watch *w, uint32_t events);
/* Enforces deadlines; frees connections closed in the last batch. */
void conn_tick(struct sbxd *d, uint64_t now_ms);
/* Closes every connection (shutdown). */
void conn_close_all(struct sbxd *d);

/* Installs the handler of the current request. */
void conn_set_handler(struct conn *c, const struct conn_handler *h, void *hs);

/*
 * Starts a response. content_length < 0 means chunked. extra: more header
 * lines, each ending "\r\n", or NULL. Returns 0 or -errno.
 */
int conn_resp_start(struct conn *c, int status, const char *content_type,
		    int64_t content_length, const char *extra);
/* Queues body bytes (chunk-framed when chunked). 0 or -errno. */
int conn_resp_write(struct conn *c, const void *data, size_t len);
/* Ends the response. */
void conn_resp_end(struct conn *c);
/* Whole JSON response; steals the reference to body. */
void conn_reply_json(struct conn *c, int status, json_t *body);
/* JSON error {"error":{"code","message"}}; a finished response. */
void conn_reply_error(struct conn *c, int status, const char *code,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Upgrade: after queued output, the connection is a raw pipe both ways. */
void conn_upgrade(struct conn *c);
/* Queues raw bytes (after an upgrade). */
int conn_raw_write(struct conn *c, const void *data, size_t len);
/* True when producers should wait for drained(). */
int conn_out_full(const struct conn *c);
/* Stops / resumes reading the request body (back-pressure). */
void conn_pause_body(struct conn *c);
void conn_resume_body(struct conn *c);
/* Closes the connection after queued output is sent. */
void conn_close_after(struct conn *c);
/* Closes now. */
void conn_abort(struct conn *c);

/* In api.c: routes the request head; always installs a handler or replies.
 * Returns 0, or HTTP_HEAD_RAW when the rest of the stream goes raw to the
 * handler (preview proxy). */
int api_dispatch(struct conn *c);

#endif
