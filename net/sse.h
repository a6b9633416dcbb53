/*
 * net/sse.h: Server-Sent Events.
 *
 * sse_event() writes "event: NAME\ndata: JSON\n\n" as one chunk of the
 * current (chunked, text/event-stream) response.
 */
#ifndef SBX_NET_SSE_H
#define SBX_NET_SSE_H

#include <stddef.h>

#include <jansson.h>

struct conn;

/* Starts an SSE response (200, text/event-stream, no caching). */
int sse_start(struct conn *c);
/* Sends one event; steals the reference to data. 0 or -errno. */
int sse_event(struct conn *c, const char *name, json_t *data);
/* True when the request asked for SSE (Accept: text/event-stream). */
int sse_wanted(const struct conn *c);

#include "net/json.h"

#endif
