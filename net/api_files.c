/*
 * net/api_files.c: the file calls, /v1/sandboxes/{id}/files/{path}.
 *
 *   PUT    raw body → FILE_WRITE, streamed as DATA frames (no size cap)
 *   GET    → FILE_READ, streamed back with Content-Length from the stat
 *   GET    ?list=true[&recursive=true][&hidden=true] → LIST as JSON
 *   GET    ?stat=true → STAT as JSON; HEAD → 200/404 (exists)
 *   POST   ?op=mkdir[&recursive=true]; ?op=rename|move&to=/new/path
 *   DELETE [?recursive=true]
 *
 * Uploads hold the client back while more than FILES_QUEUE_MAX bytes wait
 * for the agent; downloads pause the agent while the client's queue is full.
 */
#include "net/api.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/proto.h"
#include "net/agent.h"
#include "net/sbxd.h"

#define FILES_QUEUE_MAX (1024 * 1024)

enum fop_kind { FOP_WRITE, FOP_READ, FOP_LIST, FOP_STAT, FOP_HEAD, FOP_SIMPLE };

struct fop {
	enum fop_kind kind;
	struct conn *c;
	struct sandbox *s;
	struct agent_call *a;
	int finished;
	int failed_early; /* the agent refused a write before the body ended */
	uint64_t size, sent;
	json_t *list;
	char path[ROUTE_PATH_MAX];
};

static void fop_finish(struct fop *f)
{
	f->finished = 1;
	agent_call_close(f->a);
	f->a = NULL;
}

static int fop_body(struct conn *c, const char *data, size_t len)
{
	struct fop *f = c->hs;

	if (f->finished || !f->a)
		return 0; /* answered already; the connection will close */
	agent_call_send_data(f->a, PROTO_DATA, data, len);
	if (agent_call_queued(f->a) > FILES_QUEUE_MAX)
		conn_pause_body(c);
	return 0;
}

static void fop_done(struct conn *c)
{
	struct fop *f = c->hs;
	uint8_t frame[64];
	struct proto_builder b;

	if (f->finished || !f->a || f->kind != FOP_WRITE)
		return;
	proto_build_begin(&b, frame, sizeof(frame), PROTO_END);
	agent_call_send(f->a, frame, (size_t)proto_build_end(&b));
}

static void fop_drained(struct conn *c)
{
	struct fop *f = c->hs;

	if (f && f->a)
		agent_call_pause(f->a, 0);
}

static void fop_release(struct conn *c)
{
	struct fop *f = c->hs;

	if (!f)
		return;
	agent_call_close(f->a);
	f->a = NULL;
	f->finished = 1;
	json_decref(f->list);
	f->list = NULL;
	sbxd_defer_free(c->d, f);
}

static const struct conn_handler fop_handler = {
	.body = fop_body,
	.done = fop_done,
	.drained = fop_drained,
	.release = fop_release,
};

static void fop_agent_drained(struct agent_call *a)
{
	struct fop *f = a->arg;

	conn_resume_body(f->c);
}

static json_t *fop_entry_json(const struct proto_frame *fr)
{
	static const char *const types[] = { "other", "file", "directory", "symlink", "other" };
	char name[4096] = "", path[4096] = "", target[4096] = "", mt[32];
	uint32_t ft = proto_u32_or(fr, PT_FTYPE, 4);

	proto_get_str(fr, PT_NAME, name, sizeof(name));
	proto_get_str(fr, PT_PATH, path, sizeof(path));
	sandbox_iso_time(proto_u64_or(fr, PT_MTIME_MS, 0), mt);
	json_t *j = json_pack("{s:s,s:s,s:I,s:i,s:s}", "name", name, "type",
			      types[ft < 5 ? ft : 4], "size",
			      (json_int_t)proto_u64_or(fr, PT_SIZE, 0), "mode",
			      (int)proto_u32_or(fr, PT_MODE, 0), "modifiedAt", mt);
	if (path[0])
		json_object_set_new(j, "path", json_string(path));
	if (proto_get_str(fr, PT_TARGET, target, sizeof(target)) >= 0)
		json_object_set_new(j, "target", json_string(target));
	return j;
}

static void fop_error(struct fop *f, const struct proto_frame *fr)
{
	if (f->c->resp_started) {
		conn_abort(f->c); /* mid-download: the length cannot be kept */
		return;
	}
	if (f->kind == FOP_HEAD) {
		char code[64] = "";
		proto_get_str(fr, PT_CODE, code, sizeof(code));
		conn_resp_start(f->c, agent_error_status(code), NULL, 0, NULL);
		conn_resp_end(f->c);
	} else {
		api_reply_agent_error(f->c, fr);
	}
	fop_finish(f);
}

static void fop_on_frame(struct agent_call *a, const struct proto_frame *fr)
{
	struct fop *f = a->arg;
	struct conn *c = f->c;

	if (f->finished)
		return;
	if (fr->type == PROTO_ERROR) {
		fop_error(f, fr);
		return;
	}
	switch (f->kind) {
	case FOP_WRITE:
		if (fr->type == PROTO_OK) {
			conn_reply_json(c, 201, json_pack("{s:b,s:s,s:I}", "success", 1,
							  "path", f->path, "size",
							  (json_int_t)proto_u64_or(fr, PT_SIZE, 0)));
			fop_finish(f);
		}
		return;
	case FOP_READ:
		if (fr->type == PROTO_ENTRY) {
			f->size = proto_u64_or(fr, PT_SIZE, 0);
			conn_resp_start(c, 200, "application/octet-stream", (int64_t)f->size,
					NULL);
		} else if (fr->type == PROTO_DATA) {
			if (f->sent + fr->len > f->size) { /* grew while read */
				conn_abort(c);
				return;
			}
			f->sent += fr->len;
			conn_resp_write(c, fr->body, fr->len);
			if (f->a && conn_out_full(c))
				agent_call_pause(f->a, 1);
		} else if (fr->type == PROTO_END) {
			if (f->sent != f->size) { /* shrank while read */
				conn_abort(c);
				return;
			}
			conn_resp_end(c);
			fop_finish(f);
		}
		return;
	case FOP_LIST:
		if (fr->type == PROTO_ENTRY) {
			json_array_append_new(f->list, fop_entry_json(fr));
		} else if (fr->type == PROTO_END) {
			conn_reply_json(c, 200, json_pack("{s:s,s:O,s:i}", "path", f->path,
							  "files", f->list, "count",
							  (int)json_array_size(f->list)));
			fop_finish(f);
		}
		return;
	case FOP_STAT:
		if (fr->type == PROTO_ENTRY) {
			json_t *j = fop_entry_json(fr);
			json_object_set_new(j, "exists", json_true());
			json_object_set_new(j, "path", json_string(f->path));
			conn_reply_json(c, 200, j);
			fop_finish(f);
		}
		return;
	case FOP_HEAD:
		if (fr->type == PROTO_ENTRY) {
			conn_resp_start(c, 200, "application/octet-stream",
					(int64_t)proto_u64_or(fr, PT_SIZE, 0), NULL);
			conn_resp_end(c);
			fop_finish(f);
		}
		return;
	case FOP_SIMPLE:
		if (fr->type == PROTO_OK) {
			conn_reply_json(c, 200, json_pack("{s:b,s:s}", "success", 1, "path",
							  f->path));
			fop_finish(f);
		}
		return;
	}
}

static void fop_on_close(struct agent_call *a, int err)
{
	struct fop *f = a->arg;
	char boot[256];

	f->a = NULL;
	if (f->finished)
		return;
	f->finished = 1;
	if (f->c->resp_started)
		conn_abort(f->c);
	else
		conn_reply_error(f->c, 503, "unavailable", "%s",
				 err == -ECHILD || err == -ETIMEDOUT || err == -EPROTO
					 ? sandbox_boot_message(f->s, boot, sizeof(boot))
					 : "the sandbox stopped while the request ran");
}

static int fop_bool(const char *query, const char *name)
{
	char v[16];

	if (route_query(query, name, v, sizeof(v)) < 0)
		return 0;
	return !v[0] || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes");
}

void api_files(struct conn *c, struct sandbox *s)
{
	uint8_t frame[16384];
	struct proto_builder b;
	const char *m = c->req->method;
	const char *q = c->route.query;
	enum fop_kind kind;
	uint16_t type;
	char opname[32], to[ROUTE_PATH_MAX], dest[ROUTE_PATH_MAX];

	if (!strcmp(m, "PUT")) {
		kind = FOP_WRITE;
		type = PROTO_FILE_WRITE;
	} else if (!strcmp(m, "GET") && fop_bool(q, "list")) {
		kind = FOP_LIST;
		type = PROTO_LIST;
	} else if (!strcmp(m, "GET") && fop_bool(q, "stat")) {
		kind = FOP_STAT;
		type = PROTO_STAT;
	} else if (!strcmp(m, "GET")) {
		kind = FOP_READ;
		type = PROTO_FILE_READ;
	} else if (!strcmp(m, "HEAD")) {
		kind = FOP_HEAD;
		type = PROTO_STAT;
	} else if (!strcmp(m, "DELETE")) {
		kind = FOP_SIMPLE;
		type = PROTO_DELETE;
	} else if (!strcmp(m, "POST")) {
		kind = FOP_SIMPLE;
		if (route_query(q, "op", opname, sizeof(opname)) < 0) {
			conn_reply_error(c, 400, "bad_request", "POST needs ?op=mkdir|rename|move");
			return;
		}
		if (!strcmp(opname, "mkdir")) {
			type = PROTO_MKDIR;
		} else if (!strcmp(opname, "rename") || !strcmp(opname, "move")) {
			type = PROTO_RENAME;
			int n = route_query(q, "to", to, sizeof(to));
			if (n <= 0 || route_normalize_path(to, (size_t)n, dest, sizeof(dest)) ||
			    !strcmp(dest, "/")) {
				conn_reply_error(c, 400, "bad_request",
						 "rename/move needs ?to=/new/path");
				return;
			}
		} else {
			conn_reply_error(c, 400, "bad_request", "unknown op");
			return;
		}
	} else {
		conn_reply_error(c, 405, "method_not_allowed", "method not allowed here");
		return;
	}
	if ((kind == FOP_WRITE || type == PROTO_DELETE || type == PROTO_RENAME) &&
	    !strcmp(c->route.path, "/")) {
		conn_reply_error(c, 400, "bad_request", "a file path is required");
		return;
	}
	struct fop *f = calloc(1, sizeof(*f));
	if (!f) {
		conn_reply_error(c, 503, "unavailable", "out of memory");
		return;
	}
	f->kind = kind;
	f->c = c;
	f->s = s;
	f->list = json_array();
	snprintf(f->path, sizeof(f->path), "%s", c->route.path);
	conn_set_handler(c, &fop_handler, f);

	proto_build_begin(&b, frame, sizeof(frame), type);
	proto_put_str(&b, PT_PATH, c->route.path);
	if (type == PROTO_RENAME)
		proto_put_str(&b, PT_DEST, dest);
	if (type == PROTO_MKDIR || type == PROTO_DELETE || type == PROTO_LIST)
		proto_put_u32(&b, PT_RECURSIVE, (uint32_t)fop_bool(q, "recursive"));
	if (type == PROTO_LIST)
		proto_put_u32(&b, PT_HIDDEN, (uint32_t)fop_bool(q, "hidden"));
	if (kind == FOP_WRITE) {
		char mode[16];
		if (route_query(q, "mode", mode, sizeof(mode)) > 0)
			proto_put_u32(&b, PT_MODE, (uint32_t)strtoul(mode, NULL, 8) & 07777);
	}
	int len = proto_build_end(&b);
	int rc = agent_call_open(c->d, s, f, &f->a);
	if (rc) {
		f->finished = 1;
		api_reply_dial_error(c, rc);
		return;
	}
	f->a->on_frame = fop_on_frame;
	f->a->on_close = fop_on_close;
	f->a->on_drain = fop_agent_drained;
	agent_call_send(f->a, frame, (size_t)len);
}
