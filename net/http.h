/*
 * net/http.h: the HTTP/1.1 request parser of sbxd, on top of llhttp.
 *
 * Pure code, no I/O: bytes go in with http_parser_feed(), and the sink's
 * callbacks come out: the head (method, target, headers) once complete, the
 * body in pieces as it arrives (chunked or fixed length, never buffered
 * here), then the end of the message. Limits: request target 8 KiB, whole
 * head 16 KiB, 100 headers. Refused: Content-Length with Transfer-Encoding,
 * duplicate Content-Length, any Transfer-Encoding but chunked, bytes llhttp
 * finds invalid. After each message the parser pauses, so the next pipelined
 * request waits until the connection has answered the current one.
 */
#ifndef SBX_NET_HTTP_H
#define SBX_NET_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#define HTTP_MAX_TARGET 8192
#define HTTP_MAX_HEAD 16384
#define HTTP_MAX_HEADERS 100

struct http_header {
	const char *name; /* NUL-terminated, in the parser's arena */
	const char *value;
};

struct http_req {
	char method[16];
	const char *target; /* as sent: path?query */
	struct http_header headers[HTTP_MAX_HEADERS];
	int nheaders;
	int has_length;          /* Content-Length given */
	uint64_t content_length; /* valid with has_length */
	int chunked;
	int keep_alive;
	int upgrade; /* Connection: upgrade with an Upgrade header */
};

/* Returned by sink->head: the bytes after the head are not HTTP to parse
 * (a proxied request: they are passed on raw). */
#define HTTP_HEAD_RAW 1

struct http_sink {
	/* Head complete. Return 0 to go on, HTTP_HEAD_RAW, or an HTTP status
	 * (4xx) to refuse. */
	int (*head)(void *arg, struct http_req *req);
	/* A piece of body. Return 0, or an HTTP status to stop with an error. */
	int (*body)(void *arg, const char *data, size_t len);
	/* Message complete. */
	void (*done)(void *arg);
};

struct http_parser {
	llhttp_t ll;
	llhttp_settings_t settings;
	const struct http_sink *sink;
	void *arg;
	struct http_req req;
	char arena[HTTP_MAX_HEAD + 2];
	size_t used;
	size_t target_len;
	int in_value;  /* last header callback was a value */
	int n_cl;      /* Content-Length headers seen */
	int n_te;      /* Transfer-Encoding headers seen */
	int status;    /* HTTP status of the error, when failed */
	const char *why;
	int paused;    /* a message completed; resume with http_parser_resume */
	int upgraded;  /* the rest of the stream is raw (HTTP_HEAD_RAW) */
};

/* Initialises p for a new connection. */
void http_parser_init(struct http_parser *p, const struct http_sink *sink,
		      void *arg);

/*
 * Feeds bytes. Returns the number consumed (fewer than len when the parser
 * paused after a message, or the connection upgraded), or -1 on a protocol
 * error with p->status (400, 413, 431, ...) and p->why set.
 */
long http_parser_feed(struct http_parser *p, const char *data, size_t len);

/* Starts the next message after a pause. */
void http_parser_resume(struct http_parser *p);

/* Finds a header by name (case-insensitive). Returns its value or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);

/* The reason phrase of a status code. */
const char *http_status_text(int status);

#endif
