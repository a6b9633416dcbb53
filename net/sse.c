/*
 * net/sse.c: SSE framing and byte-safe JSON strings (see sse.h).
 */
#include "net/sse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/conn.h"

int sse_start(struct conn *c)
{
	c->sse = 1;
	return conn_resp_start(c, 200, "text/event-stream", -1,
			       "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
}

int sse_event(struct conn *c, const char *name, json_t *data)
{
	char *s = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!s)
		return -1;
	size_t nl = strlen(name), sl = strlen(s);
	size_t total = 7 + nl + 7 + sl + 3;
	char *msg = malloc(total + 1);
	if (!msg) {
		free(s);
		return -1;
	}
	/* JSON from jansson never holds a raw newline: one data line. */
	int n = snprintf(msg, total + 1, "event: %s\ndata: %s\n\n", name, s);
	int rc = conn_resp_write(c, msg, (size_t)n);
	free(msg);
	free(s);
	return rc;
}

int sse_wanted(const struct conn *c)
{
	const char *acc = c->req ? http_req_header(c->req, "accept") : NULL;
	return acc && strcasestr(acc, "text/event-stream") != NULL;
}
