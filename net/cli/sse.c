/*
 * net/cli/sse.c: the incremental text/event-stream parser (see sse.h).
 *
 * A line is collected byte by byte into p->line; at its end it is either a
 * field (event, data; id and retry are ignored) or, when empty, the end of
 * the event, which is handed to on_event if it had data.
 */
#include "net/cli/sse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sse_parser_init(struct sse_parser *p,
		     int (*on_event)(void *, const char *, const char *, size_t),
		     void *arg)
{
	memset(p, 0, sizeof(*p));
	p->on_event = on_event;
	p->arg = arg;
	strcpy(p->name, "message");
}

void sse_parser_free(struct sse_parser *p)
{
	free(p->line);
	free(p->data);
	p->line = p->data = NULL;
}

/* Grows *buf to hold need bytes. 0 or -ENOMEM / -E2BIG. */
static int sse_reserve(char **buf, size_t *cap, size_t need)
{
	if (need > SSE_MAX_EVENT + 1)
		return -E2BIG;
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	char *b = realloc(*buf, n);
	if (!b)
		return -ENOMEM;
	*buf = b;
	*cap = n;
	return 0;
}

static int sse_dispatch(struct sse_parser *p)
{
	int rc = 0;

	if (p->has_data) {
		p->data[p->data_len] = 0;
		rc = p->on_event(p->arg, p->name, p->data, p->data_len);
	}
	p->has_data = 0;
	p->data_len = 0;
	strcpy(p->name, "message");
	return rc;
}

/* One complete line (without its end). */
static int sse_line(struct sse_parser *p)
{
	const char *l = p->line ? p->line : "";
	size_t n = p->line_len;

	if (n == 0)
		return sse_dispatch(p);
	if (l[0] == ':')
		return 0;
	const char *colon = memchr(l, ':', n);
	size_t flen = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	size_t vlen = n - (size_t)(v - l);
	if (vlen && *v == ' ') {
		v++;
		vlen--;
	}
	if (flen == 5 && !memcmp(l, "event", 5)) {
		if (vlen >= sizeof(p->name))
			vlen = sizeof(p->name) - 1;
		memcpy(p->name, v, vlen);
		p->name[vlen] = 0;
	} else if (flen == 4 && !memcmp(l, "data", 4)) {
		size_t need = p->data_len + vlen + 2;
		int rc = sse_reserve(&p->data, &p->data_cap, need);
		if (rc)
			return rc;
		if (p->has_data)
			p->data[p->data_len++] = '\n';
		memcpy(p->data + p->data_len, v, vlen);
		p->data_len += vlen;
		p->has_data = 1;
	}
	return 0;
}

int sse_parser_feed(struct sse_parser *p, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (ch == '\n' && p->last_cr) {
			p->last_cr = 0;
			continue;
		}
		p->last_cr = ch == '\r';
		if (ch == '\n' || ch == '\r') {
			int rc = sse_line(p);
			p->line_len = 0;
			if (rc)
				return rc;
			continue;
		}
		int rc = sse_reserve(&p->line, &p->line_cap, p->line_len + 2);
		if (rc)
			return rc;
		p->line[p->line_len++] = ch;
		p->line[p->line_len] = 0;
	}
	return 0;
}
