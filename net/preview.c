/*
 * net/preview.c: exposed ports and the preview-URL proxy.
 *
 * POST /v1/sandboxes/{id}/ports {port, name} exposes a port under a fresh
 * random token: https://{port}-{id}-{token}.{domain}:{sbxd port}/. A request
 * whose Host has that form is not an API call: if (id, port, token) match an
 * exposed port, the connection is joined to a PORT_CONNECT agent call. The
 * request head is rewritten (Connection: close unless it is an upgrade,
 * X-Forwarded-For/-Host/-Proto set, client-sent X-Forwarded-* dropped) and
 * everything after it, body or WebSocket frames, passes through raw both
 * ways until either side closes. Wrong token or unexposed port: 404.
 */
#include "net/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "guest/proto.h"
#include "net/agent.h"
#include "net/sbxd.h"

#define PREVIEW_QUEUE_MAX (1024 * 1024)

struct pxy {
	struct conn *c;
	struct sandbox *s;
	struct agent_call *a;
	int connected;
	struct buf pending; /* client bytes before the agent's OK */
};

static int pxy_body(struct conn *c, const char *data, size_t len)
{
	struct pxy *p = c->hs;

	if (!p->a)
		return 0;
	if (!p->connected)
		buf_append(&p->pending, data, len);
	else
		agent_call_send_raw(p->a, data, len);
	if (agent_call_queued(p->a) + buf_avail(&p->pending) > PREVIEW_QUEUE_MAX)
		conn_pause_body(c);
	return 0;
}

static void pxy_drained(struct conn *c)
{
	struct pxy *p = c->hs;

	if (p && p->a)
		agent_call_pause(p->a, 0);
}

static void pxy_release(struct conn *c)
{
	struct pxy *p = c->hs;

	if (!p)
		return;
	agent_call_close(p->a);
	p->a = NULL;
	buf_free(&p->pending);
	sbxd_defer_free(c->d, p);
}

static const struct conn_handler pxy_handler = {
	.body = pxy_body,
	.drained = pxy_drained,
	.release = pxy_release,
};

static void pxy_on_raw(struct agent_call *a, const char *data, size_t len)
{
	struct pxy *p = a->arg;

	conn_raw_write(p->c, data, len);
	if (p->a && conn_out_full(p->c))
		agent_call_pause(p->a, 1);
}

static void pxy_on_frame(struct agent_call *a, const struct proto_frame *f)
{
	struct pxy *p = a->arg;

	if (f->type == PROTO_OK) {
		p->connected = 1;
		p->c->resp_started = 1; /* the app answers, raw */
		a->raw = 1;
		if (buf_avail(&p->pending))
			agent_call_send_raw(a, buf_data(&p->pending), buf_avail(&p->pending));
		buf_free(&p->pending);
		return;
	}
	char msg[256] = "cannot connect to the port in the sandbox";
	proto_get_str(f, PT_MESSAGE, msg, sizeof(msg));
	agent_call_close(p->a);
	p->a = NULL;
	conn_reply_error(p->c, 502, "bad_gateway", "%s", msg);
	conn_close_after(p->c);
}

static void pxy_on_close(struct agent_call *a, int err)
{
	struct pxy *p = a->arg;

	p->a = NULL;
	if (!p->connected) {
		conn_reply_error(p->c, 503, "unavailable", "the sandbox is not available");
		conn_close_after(p->c);
		return;
	}
	conn_close_after(p->c); /* the app closed: the response is complete */
}

static void pxy_agent_drained(struct agent_call *a)
{
	struct pxy *p = a->arg;

	conn_resume_body(p->c);
}

/* The request head as the app should see it. */
static void pxy_head(struct conn *c, struct buf *out)
{
	const struct http_req *r = c->req;
	const char *host = http_req_header(r, "host");

	buf_printf(out, "%s %s HTTP/1.1\r\n", r->method, r->target);
	for (int i = 0; i < r->nheaders; i++) {
		const char *n = r->headers[i].name;
		if (!strncasecmp(n, "x-forwarded-", 12) || !strcasecmp(n, "forwarded") ||
		    (!r->upgrade && (!strcasecmp(n, "connection") ||
				     !strcasecmp(n, "keep-alive"))))
			continue;
		buf_printf(out, "%s: %s\r\n", n, r->headers[i].value);
	}
	if (!r->upgrade)
		buf_printf(out, "Connection: close\r\n");
	buf_printf(out, "X-Forwarded-For: %s\r\nX-Forwarded-Host: %s\r\n"
			"X-Forwarded-Proto: https\r\n\r\n",
		   c->peer[0] ? c->peer : "unknown", host ? host : "");
}

int preview_dispatch(struct conn *c, const char *host)
{
	unsigned port;
	char id[ROUTE_ID_MAX], token[64];
	struct sandbox *s = NULL;
	uint8_t frame[64];
	struct proto_builder b;

	if (route_preview_host(host, c->d->cfg.domain, &port, id, token))
		return -1;
	if (!sandbox_find_preview(c->d, id, port, token, &s)) {
		c->closing = 1;
		conn_reply_error(c, 404, "not_found", "no such preview URL");
		return 0;
	}
	snprintf(c->route.id, sizeof(c->route.id), "%s", s->id);
	snprintf(c->tenant, sizeof(c->tenant), "%s", s->tenant);
	struct pxy *p = calloc(1, sizeof(*p));
	if (!p) {
		c->closing = 1;
		conn_reply_error(c, 503, "unavailable", "out of memory");
		return 0;
	}
	p->c = c;
	p->s = s;
	int rc = agent_call_open(c->d, s, p, &p->a);
	if (rc) {
		free(p);
		c->closing = 1;
		api_reply_dial_error(c, rc);
		return 0;
	}
	conn_set_handler(c, &pxy_handler, p);
	p->a->on_frame = pxy_on_frame;
	p->a->on_raw = pxy_on_raw;
	p->a->on_close = pxy_on_close;
	p->a->on_drain = pxy_agent_drained;
	proto_build_begin(&b, frame, sizeof(frame), PROTO_PORT_CONNECT);
	proto_put_u32(&b, PT_PORT, port);
	agent_call_send(p->a, frame, (size_t)proto_build_end(&b));
	pxy_head(c, &p->pending);
	return HTTP_HEAD_RAW;
}

/* --- the ports calls ----------------------------------------------------- */

static json_t *ports_json(struct sbxd *d, struct sandbox *s, struct sandbox_port *p)
{
	char url[512];

	snprintf(url, sizeof(url), "https://%u-%s-%s.%s:%u/", p->port, s->id, p->token,
		 d->cfg.domain, d->cfg.public_port ? d->cfg.public_port : d->port);
	return json_pack("{s:i,s:s,s:s,s:s}", "port", (int)p->port, "url", url, "name",
			 p->name, "status", "active");
}

static void ports_expose(struct conn *c, struct sandbox *s, json_t *body)
{
	json_t *jp = json_object_get(body, "port");
	json_t *jn = json_object_get(body, "name");

	if (!json_is_integer(jp) || json_integer_value(jp) < 1 ||
	    json_integer_value(jp) > 65535 || (jn && !json_is_string(jn))) {
		conn_reply_error(c, 400, "bad_request", "port must be 1..65535");
		return;
	}
	unsigned port = (unsigned)json_integer_value(jp);
	for (int i = 0; i < s->nports; i++) {
		if (s->ports[i].port == port) {
			conn_reply_json(c, 200, ports_json(c->d, s, &s->ports[i]));
			return;
		}
	}
	if (s->nports >= SANDBOX_MAX_PORTS) {
		conn_reply_error(c, 409, "conflict", "too many exposed ports");
		return;
	}
	struct sandbox_port *p = &s->ports[s->nports];
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		conn_reply_error(c, 503, "unavailable", "no randomness");
		return;
	}
	memset(p, 0, sizeof(*p));
	p->port = port;
	for (int i = 0; i < 8; i++)
		snprintf(p->token + 2 * i, 3, "%02x", rnd[i]);
	snprintf(p->name, sizeof(p->name), "%s", jn ? json_string_value(jn) : "");
	s->nports++;
	sandbox_table_save(c->d);
	conn_reply_json(c, 201, ports_json(c->d, s, p));
}

void api_ports(struct conn *c, struct sandbox *s)
{
	const char *m = c->req->method;

	if (c->route.kind == ROUTE_PORTS && !strcmp(m, "POST")) {
		api_with_json(c, s, ports_expose, 0);
		return;
	}
	if (c->route.kind == ROUTE_PORTS && !strcmp(m, "GET")) {
		json_t *arr = json_array();
		for (int i = 0; i < s->nports; i++)
			json_array_append_new(arr, ports_json(c->d, s, &s->ports[i]));
		conn_reply_json(c, 200, json_pack("{s:o}", "ports", arr));
		return;
	}
	if (c->route.kind == ROUTE_PORT && !strcmp(m, "DELETE")) {
		char *e;
		unsigned long port = strtoul(c->route.sub, &e, 10);
		for (int i = 0; *e == 0 && i < s->nports; i++) {
			if (s->ports[i].port != port)
				continue;
			memmove(&s->ports[i], &s->ports[i + 1],
				(size_t)(s->nports - i - 1) * sizeof(s->ports[0]));
			s->nports--;
			sandbox_table_save(c->d);
			conn_reply_json(c, 200, json_pack("{s:b,s:i}", "success", 1, "port",
							  (int)port));
			return;
		}
		conn_reply_error(c, 404, "not_found", "port not exposed");
		return;
	}
	conn_reply_error(c, 405, "method_not_allowed", "method not allowed here");
}
