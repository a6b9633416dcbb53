/*
 * net/cli/sse.h: an incremental parser of Server-Sent Events (the client
 * side of text/event-stream).
 *
 * Bytes go in as they arrive, in any cuts; each complete event (a blank
 * line ends it) comes out through the callback with its name ("message" when
 * none was given) and its data lines joined with '\n'. Lines may end with
 * "\n", "\r\n" or "\r"; comments (":...") are skipped. An event larger than
 * SSE_MAX_EVENT is an error. Pure code, no I/O.
 */
#ifndef SBX_NET_CLI_SSE_H
#define SBX_NET_CLI_SSE_H

#include <stddef.h>

#define SSE_MAX_EVENT (4u * 1024 * 1024)

struct sse_parser {
	/* Called per event; data is NUL-terminated. Return 0 to go on. */
	int (*on_event)(void *arg, const char *name, const char *data, size_t len);
	void *arg;
	char *line;     /* the line being read */
	size_t line_len, line_cap;
	char *data;     /* data lines of the event so far */
	size_t data_len, data_cap;
	int has_data;
	char name[64];
	int last_cr;    /* last byte was '\r': a following '\n' is not a new line */
};

void sse_parser_init(struct sse_parser *p,
		     int (*on_event)(void *, const char *, const char *, size_t),
		     void *arg);
/* Feeds bytes. 0, -E2BIG for an event too large, -ENOMEM, or the non-zero
 * value on_event returned. */
int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len);
void sse_parser_free(struct sse_parser *p);

#endif
