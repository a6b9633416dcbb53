/*
 * net/http.c: the HTTP/1.1 request parser (see http.h).
 *
 * llhttp does the byte-level work; this file keeps the request head in a
 * fixed arena inside struct http_parser (so one parser never allocates),
 * enforces the size limits, refuses ambiguous framing, and pauses llhttp at
 * the end of every message.
 */
#include "net/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HTTP_FROM_LL(ll) ((struct http_parser *)(void *)(ll))

static int http_fail(struct http_parser *p, int status, const char *why)
{
	if (!p->status) {
		p->status = status;
		p->why = why;
	}
	return -1;
}

static int http_arena_put(struct http_parser *p, const char *at, size_t len)
{
	if (len > HTTP_MAX_HEAD - p->used)
		return http_fail(p, 431, "request head too large");
	memcpy(p->arena + p->used, at, len);
	p->used += len;
	return 0;
}

static int http_arena_end(struct http_parser *p)
{
	if (p->used >= HTTP_MAX_HEAD)
		return http_fail(p, 431, "request head too large");
	p->arena[p->used++] = 0;
	return 0;
}

static int http_on_message_begin(llhttp_t *ll)
{
	struct http_parser *p = HTTP_FROM_LL(ll);

	memset(&p->req, 0, sizeof(p->req));
	p->used = 0;
	p->target_len = 0;
	p->in_value = 1;
	p->n_cl = p->n_te = 0;
	p->req.target = p->arena;
	return 0;
}

static int http_on_url(llhttp_t *ll, const char *at, size_t len)
{
	struct http_parser *p = HTTP_FROM_LL(ll);

	p->target_len += len;
	if (p->target_len > HTTP_MAX_TARGET)
		return http_fail(p, 414, "request target too long");
	return http_arena_put(p, at, len);
}

static int http_on_url_complete(llhttp_t *ll)
{
	return http_arena_end(HTTP_FROM_LL(ll));
}

static int http_on_header_field(llhttp_t *ll, const char *at, size_t len)
{
	struct http_parser *p = HTTP_FROM_LL(ll);

	if (p->in_value) {
		if (p->req.nheaders >= HTTP_MAX_HEADERS)
			return http_fail(p, 431, "too many headers");
		p->req.headers[p->req.nheaders].name = p->arena + p->used;
		p->req.headers[p->req.nheaders].value = "";
		p->req.nheaders++;
		p->in_value = 0;
	}
	return http_arena_put(p, at, len);
}

static int http_on_header_field_complete(llhttp_t *ll)
{
	return http_arena_end(HTTP_FROM_LL(ll));
}

static int http_on_header_value(llhttp_t *ll, const char *at, size_t len)
{
	struct http_parser *p = HTTP_FROM_LL(ll);

	if (!p->in_value) {
		p->req.headers[p->req.nheaders - 1].value = p->arena + p->used;
		p->in_value = 1;
	}
	return http_arena_put(p, at, len);
}

static int http_on_header_value_complete(llhttp_t *ll)
{
	struct http_parser *p = HTTP_FROM_LL(ll);
	struct http_header *h;

	if (!p->in_value) { /* empty value: no data callback came */
		p->req.headers[p->req.nheaders - 1].value = p->arena + p->used;
		p->in_value = 1;
	}
	while (p->used && (p->arena[p->used - 1] == ' ' ||
			   p->arena[p->used - 1] == '\t') &&
	       p->arena + p->used - 1 >= p->req.headers[p->req.nheaders - 1].value)
		p->used--;
	if (http_arena_end(p))
		return -1;
	h = &p->req.headers[p->req.nheaders - 1];
	if (!strcasecmp(h->name, "content-length"))
		p->n_cl++;
	else if (!strcasecmp(h->name, "transfer-encoding"))
		p->n_te++;
	return 0;
}

static int http_on_headers_complete(llhttp_t *ll)
{
	struct http_parser *p = HTTP_FROM_LL(ll);
	struct http_req *r = &p->req;

	if (p->n_cl > 1)
		return http_fail(p, 400, "duplicate Content-Length");
	if (p->n_cl && p->n_te)
		return http_fail(p, 400, "Content-Length with Transfer-Encoding");
	if (p->n_te > 1)
		return http_fail(p, 400, "repeated Transfer-Encoding");
	if (p->target_len == 0)
		return http_fail(p, 400, "empty request target");
	snprintf(r->method, sizeof(r->method), "%s",
		 llhttp_method_name((llhttp_method_t)llhttp_get_method(ll)));
	r->has_length = (ll->flags & F_CONTENT_LENGTH) != 0;
	r->content_length = r->has_length ? ll->content_length : 0;
	r->chunked = (ll->flags & F_CHUNKED) != 0;
	if (p->n_te && !r->chunked)
		return http_fail(p, 400, "unsupported Transfer-Encoding");
	r->keep_alive = llhttp_should_keep_alive(ll);
	r->upgrade = ll->upgrade;
	int status = p->sink->head(p->arg, r);
	if (status == HTTP_HEAD_RAW) {
		p->upgraded = 1;
		return HPE_PAUSED;
	}
	if (status)
		return http_fail(p, status, "refused");
	return 0;
}

static int http_on_body(llhttp_t *ll, const char *at, size_t len)
{
	struct http_parser *p = HTTP_FROM_LL(ll);
	int status = p->sink->body(p->arg, at, len);

	if (status)
		return http_fail(p, status, "body refused");
	return 0;
}

static int http_on_message_complete(llhttp_t *ll)
{
	struct http_parser *p = HTTP_FROM_LL(ll);

	p->paused = 1;
	p->sink->done(p->arg);
	return HPE_PAUSED;
}

void http_parser_init(struct http_parser *p, const struct http_sink *sink,
		      void *arg)
{
	memset(p, 0, sizeof(*p));
	llhttp_settings_init(&p->settings);
	p->settings.on_message_begin = http_on_message_begin;
	p->settings.on_url = http_on_url;
	p->settings.on_url_complete = http_on_url_complete;
	p->settings.on_header_field = http_on_header_field;
	p->settings.on_header_field_complete = http_on_header_field_complete;
	p->settings.on_header_value = http_on_header_value;
	p->settings.on_header_value_complete = http_on_header_value_complete;
	p->settings.on_headers_complete = http_on_headers_complete;
	p->settings.on_body = http_on_body;
	p->settings.on_message_complete = http_on_message_complete;
	llhttp_init(&p->ll, HTTP_REQUEST, &p->settings);
	p->sink = sink;
	p->arg = arg;
}

long http_parser_feed(struct http_parser *p, const char *data, size_t len)
{
	if (p->status)
		return -1;
	if (p->paused || p->upgraded)
		return 0;
	if (!len)
		return 0;
	llhttp_errno_t err = llhttp_execute(&p->ll, data, len);
	if (err == HPE_OK)
		return (long)len;
	if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
		const char *pos = llhttp_get_error_pos(&p->ll);
		if (err == HPE_PAUSED_UPGRADE && !p->upgraded)
			return http_fail(p, 400, "unexpected protocol upgrade");
		return pos ? (long)(pos - data) : (long)len;
	}
	if (!p->status) {
		p->status = 400;
		p->why = llhttp_get_error_reason(&p->ll);
		if (!p->why)
			p->why = "malformed request";
	}
	return -1;
}

void http_parser_resume(struct http_parser *p)
{
	if (p->paused) {
		p->paused = 0;
		llhttp_resume(&p->ll);
	}
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
		if (!strcasecmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
