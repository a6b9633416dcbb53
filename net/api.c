/*
 * net/api.c: request dispatch, authentication and the sandbox calls.
 *
 * api_dispatch() runs on each request head: preview host names go to the
 * preview proxy; everything else needs "Authorization: Bearer TOKEN",
 * is routed (router.c), and the sandbox is looked up within the token's
 * tenant, so another tenant's sandbox is a plain 404.
 */
#include "net/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/agent.h"
#include "net/api_system.h"
#include "net/buf.h"
#include "net/sbxd.h"

/* --- JSON bodies -------------------------------------------------------- */

struct api_json {
	struct buf body;
	struct sandbox *s;
	api_fn fn;
	int allow_empty;
	int too_big;
};

static int api_json_body(struct conn *c, const char *data, size_t len)
{
	struct api_json *aj = c->hs;

	if (aj->too_big || buf_avail(&aj->body) + len > API_JSON_MAX) {
		aj->too_big = 1;
		return 0; /* answered 413 at the end, or now if it keeps coming */
	}
	return buf_append(&aj->body, data, len) ? 500 : 0;
}

static void api_json_done(struct conn *c)
{
	struct api_json *aj = c->hs;
	const char *why = NULL;
	json_t *j = NULL;

	if (aj->too_big) {
		conn_reply_error(c, 413, "too_large", "JSON body over %d bytes", API_JSON_MAX);
		return;
	}
	if (buf_avail(&aj->body) || !aj->allow_empty) {
		j = api_decode_json(buf_data(&aj->body), buf_avail(&aj->body), &why);
		if (!j) {
			conn_reply_error(c, 400, "bad_request", "%s", why);
			return;
		}
	}
	api_fn fn = aj->fn;
	struct sandbox *s = aj->s;
	/* The handler replaces this one: free the body first. */
	buf_free(&aj->body);
	free(aj);
	c->hs = NULL;
	c->h = NULL;
	fn(c, s, j);
	json_decref(j);
}

static void api_json_release(struct conn *c)
{
	struct api_json *aj = c->hs;

	if (aj) {
		buf_free(&aj->body);
		sbxd_defer_free(c->d, aj);
	}
}

static const struct conn_handler api_json_handler = {
	.body = api_json_body,
	.done = api_json_done,
	.release = api_json_release,
};

void api_with_json(struct conn *c, struct sandbox *s, api_fn fn, int allow_empty)
{
	if (c->req->has_length && c->req->content_length > API_JSON_MAX) {
		c->closing = 1;
		conn_reply_error(c, 413, "too_large", "JSON body over %d bytes", API_JSON_MAX);
		return;
	}
	struct api_json *aj = calloc(1, sizeof(*aj));
	if (!aj) {
		conn_reply_error(c, 503, "unavailable", "out of memory");
		return;
	}
	aj->s = s;
	aj->fn = fn;
	aj->allow_empty = allow_empty;
	conn_set_handler(c, &api_json_handler, aj);
}

/* A handler that drops a body (after an early answer on a small request). */
static int api_discard_body(struct conn *c, const char *data, size_t len)
{
	return 0;
}

const struct conn_handler api_discard_handler = {
	.body = api_discard_body,
};

/* Replies now; the request body, if any, is read and dropped when small. */
void api_error_now(struct conn *c, int status, const char *code,
			  const char *msg)
{
	if (c->req->chunked || (c->req->has_length && c->req->content_length > 65536))
		c->closing = 1;
	conn_set_handler(c, &api_discard_handler, NULL);
	conn_reply_error(c, status, code, "%s", msg);
}

/* --- errors from the backend and agent ------------------------------- */

void api_reply_dial_error(struct conn *c, int err)
{
	if (err == -EAGAIN)
		conn_reply_error(c, 429, "too_many_requests",
				 "too many operations running in this sandbox");
	else if (err == -ECHILD || err == -ETIMEDOUT || err == -ENOENT)
		conn_reply_error(c, 503, "unavailable",
				 "sandbox could not start (%s)", strerror(-err));
	else
		conn_reply_error(c, 503, "unavailable",
				 "sandbox not available: %s", strerror(-err));
}

void api_reply_agent_error(struct conn *c, const struct proto_frame *f)
{
	char code[64] = "internal", msg[400] = "agent error";

	proto_get_str(f, PT_CODE, code, sizeof(code));
	proto_get_str(f, PT_MESSAGE, msg, sizeof(msg));
	conn_reply_error(c, agent_error_status(code), code, "%s", msg);
}

void api_put_env(struct proto_builder *b, struct sandbox *s, json_t *extra)
{
	const char *k;
	json_t *v;
	char kv[8192];

	json_object_foreach(s->env, k, v) {
		if (extra && json_object_get(extra, k))
			continue;
		snprintf(kv, sizeof(kv), "%s=%s", k, json_string_value(v) ?: "");
		proto_put_str(b, PT_ENV, kv);
	}
	if (json_is_object(extra)) {
		json_object_foreach(extra, k, v) {
			if (!json_is_string(v) || !*k || strchr(k, '='))
				continue;
			snprintf(kv, sizeof(kv), "%s=%s", k, json_string_value(v));
			proto_put_str(b, PT_ENV, kv);
		}
	}
}

/* --- sandboxes ------------------------------------------------------- */

static void api_sandbox_put(struct conn *c, struct sandbox *unused, json_t *body)
{
	struct sbxd *d = c->d;
	struct sandbox *s;
	const char *why = "invalid settings";

	if (body) { /* validate on a scratch sandbox first */
		struct sandbox tmp = { .env = json_object(), .limits = json_object() };
		int bad = sandbox_apply(&tmp, body, &why);
		json_decref(tmp.env);
		json_decref(tmp.limits);
		json_decref(tmp.network);
		if (bad) {
			conn_reply_error(c, 400, "bad_request", "%s", why);
			return;
		}
	}
	int rc = sandbox_create(d, c->tenant, c->route.id, body, &s);
	if (rc == -EEXIST) {
		conn_reply_json(c, 200, sandbox_json(d, s));
		return;
	}
	if (rc && !s) {
		conn_reply_error(c, 503, "unavailable", "cannot create sandbox: %s",
				 strerror(-rc));
		return;
	}
	conn_reply_json(c, 201, sandbox_json(d, s));
}

static void api_sandbox_patch(struct conn *c, struct sandbox *s, json_t *body)
{
	const char *why = "invalid settings";
	struct sandbox tmp = { .env = json_object(), .limits = json_object() };
	int bad = sandbox_apply(&tmp, body, &why);

	json_decref(tmp.env);
	json_decref(tmp.limits);
	json_decref(tmp.network);
	if (bad) {
		conn_reply_error(c, 400, "bad_request", "%s", why);
		return;
	}
	sandbox_apply(s, body, &why);
	sandbox_table_save(c->d);
	conn_reply_json(c, 200, sandbox_json(c->d, s));
}

static void api_sandbox_list(struct conn *c)
{
	json_t *arr = json_array();

	for (struct sandbox *s = c->d->table.head; s; s = s->next)
		if (!strcmp(s->tenant, c->tenant))
			json_array_append_new(arr, sandbox_json(c->d, s));
	conn_reply_json(c, 200, json_pack("{s:o}", "sandboxes", arr));
}

/* --- dispatch -------------------------------------------------------- */

static int api_authenticate(struct conn *c)
{
	const char *h = http_req_header(c->req, "authorization");

	if (!h || strncasecmp(h, "Bearer ", 7))
		return -EACCES;
	h += 7;
	while (*h == ' ')
		h++;
	auth_refresh(&c->d->auth);
	return auth_check(&c->d->auth, h, c->tenant);
}

static int api_method(struct conn *c, const char *m)
{
	return !strcmp(c->req->method, m);
}

int api_dispatch(struct conn *c)
{
	struct sbxd *d = c->d;
	struct route *r = &c->route;
	const char *host = http_req_header(c->req, "host");

	if (host) {
		int rc = preview_dispatch(c, host);
		if (rc >= 0)
			return rc;
	}
	if (c->req->upgrade) {
		api_error_now(c, 400, "bad_request", "protocol upgrade not supported here");
		c->closing = 1;
		return 0;
	}
	int rc = route_match(c->req->target, r);
	if (rc == -EINVAL) {
		api_error_now(c, 400, "bad_request", "malformed path");
		return 0;
	}
	if (rc) {
		api_error_now(c, 404, "not_found", "no such endpoint");
		return 0;
	}
	if (r->kind == ROUTE_HEALTH) {
		conn_set_handler(c, &api_discard_handler, NULL);
		conn_reply_json(c, 200, json_pack("{s:b,s:s}", "ok", 1, "backend",
						  d->backend->name));
		return 0;
	}
	if (api_authenticate(c)) {
		api_error_now(c, 401, "unauthorized", "missing or invalid bearer token");
		return 0;
	}
	if (r->kind == ROUTE_SYSTEM || r->kind == ROUTE_SYSTEM_UPDATE) {
		api_system(c); /* operators only: it checks */
		return 0;
	}
	if (r->kind == ROUTE_SANDBOXES) {
		if (!api_method(c, "GET")) {
			api_error_now(c, 405, "method_not_allowed", "use GET");
			return 0;
		}
		conn_set_handler(c, &api_discard_handler, NULL);
		api_sandbox_list(c);
		return 0;
	}
	struct sandbox *s = sandbox_find(d, c->tenant, r->id);
	if (r->kind == ROUTE_SANDBOX && api_method(c, "PUT")) {
		api_with_json(c, NULL, api_sandbox_put, 1);
		return 0;
	}
	if (!s) {
		api_error_now(c, 404, "not_found", "no such sandbox");
		return 0;
	}
	switch (r->kind) {
	case ROUTE_SANDBOX:
		if (api_method(c, "GET") || api_method(c, "HEAD")) {
			conn_set_handler(c, &api_discard_handler, NULL);
			conn_reply_json(c, 200, sandbox_json(d, s));
		} else if (api_method(c, "PATCH")) {
			api_with_json(c, s, api_sandbox_patch, 0);
		} else if (api_method(c, "DELETE")) {
			char id[64];
			snprintf(id, sizeof(id), "%s", s->id);
			/* Drop the running calls of this sandbox first. */
			for (struct conn *o = d->conns; o; o = o->next)
				if (o != c && o->h && !strcmp(o->tenant, c->tenant) &&
				    !strcmp(o->route.id, id))
					conn_abort(o);
			sandbox_destroy(d, s);
			conn_set_handler(c, &api_discard_handler, NULL);
			conn_reply_json(c, 200, json_pack("{s:b,s:s}", "success", 1, "id", id));
		} else {
			api_error_now(c, 405, "method_not_allowed", "use PUT, GET, PATCH or DELETE");
		}
		return 0;
	case ROUTE_EXEC:
		api_exec(c, s);
		return 0;
	case ROUTE_PROCESSES:
	case ROUTE_PROCESS:
	case ROUTE_PROCESS_LOGS:
		api_processes(c, s);
		return 0;
	case ROUTE_FILES:
		api_files(c, s);
		return 0;
	case ROUTE_GIT_CHECKOUT:
		api_git_checkout(c, s);
		return 0;
	case ROUTE_CONTEXTS:
	case ROUTE_CONTEXT:
		api_contexts(c, s);
		return 0;
	case ROUTE_CODE:
		api_code(c, s);
		return 0;
	case ROUTE_PORTS:
	case ROUTE_PORT:
		api_ports(c, s);
		return 0;
	default:
		api_error_now(c, 404, "not_found", "no such endpoint");
		return 0;
	}
}
