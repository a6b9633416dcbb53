/*
 * net/api_exec.c: exec, background processes, code contexts, runCode and
 * git checkout: the calls that map onto one agent operation each.
 *
 * Theory of operation: each request gets a struct op with one agent call.
 * Frames from the agent are turned into either one JSON answer at the end
 * (output collected, bounded) or SSE events written as they come (with
 * `Accept: text/event-stream`). When the client's output queue is full the
 * agent call is paused, so a fast producer in the sandbox is held back
 * instead of filling sbxd's memory. If the agent connection ends early (the
 * sandbox stopped or crashed) the client gets 503, or an SSE error event.
 */
#include "net/api.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guest/proto.h"
#include "net/agent.h"
#include "net/sbxd.h"
#include "net/sse.h"

#define OP_OUT_MAX (16u * 1024 * 1024) /* collected stdout/stderr per stream */

enum op_kind {
	OP_EXEC,
	OP_GIT,
	OP_PROC_START,
	OP_PROC_LIST,
	OP_PROC_GET,
	OP_PROC_KILL,
	OP_PROC_KILL_ALL,
	OP_PROC_LOGS,
	OP_CTX_CREATE,
	OP_CTX_LIST,
	OP_CTX_DELETE,
	OP_CODE_CTX, /* creating the default context before a run */
	OP_CODE,
};

struct op {
	enum op_kind kind;
	struct conn *c;
	struct sandbox *s;
	struct agent_call *a;
	int sse;
	int finished;
	struct buf out, err;
	int out_trunc, err_trunc;
	json_t *list;  /* PROC_LIST, CTX_LIST, code results */
	json_t *extra; /* per-op data (code: request, git: request) */
	char command[1024];
	uint64_t start_ms;
	unsigned timeout_ms;
	int lang; /* code: 0 python, 1 javascript */
	/* SSE: the start of a UTF-8 sequence cut at a frame's end, per stream,
	 * kept for the next frame so it is not turned into U+FFFD */
	char carry[2][4];
	size_t ncarry[2];
};

static void op_drained(struct conn *c)
{
	struct op *op = c->hs;

	if (op && op->a)
		agent_call_pause(op->a, 0);
}

static void op_release(struct conn *c)
{
	struct op *op = c->hs;

	if (!op)
		return;
	agent_call_close(op->a);
	op->a = NULL;
	op->finished = 1;
	buf_free(&op->out);
	buf_free(&op->err);
	json_decref(op->list);
	json_decref(op->extra);
	op->list = op->extra = NULL;
	sbxd_defer_free(c->d, op);
}

static const struct conn_handler op_handler = {
	.drained = op_drained,
	.release = op_release,
};

static void op_finish(struct op *op)
{
	op->finished = 1;
	agent_call_close(op->a);
	op->a = NULL;
}

/* Backpressure after writing an event. */
static void op_after_write(struct op *op)
{
	if (op->a && conn_out_full(op->c))
		agent_call_pause(op->a, 1);
}

static void op_event(struct op *op, const char *name, json_t *data)
{
	/* An output that ended inside a UTF-8 sequence: send what is left
	 * (as U+FFFD) before the events that follow the output. */
	if (strcmp(name, "stdout") && strcmp(name, "stderr")) {
		for (int i = 0; i < 2; i++) {
			if (!op->ncarry[i])
				continue;
			json_t *o = json_pack("{s:o,s:s}", "data",
					      json_bytes(op->carry[i], op->ncarry[i]), "type",
					      i ? "stderr" : "stdout");
			op->ncarry[i] = 0;
			sse_event(op->c, i ? "stderr" : "stdout", o);
		}
	}
	json_object_set_new(data, "type", json_string(name));
	sse_event(op->c, name, data);
	op_after_write(op);
}

/* Bytes at the end of [p, p+n) that start a UTF-8 sequence not complete yet. */
static size_t op_utf8_tail(const unsigned char *p, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		unsigned char c = p[n - k];
		if ((c & 0xc0) == 0x80)
			continue; /* continuation: look further back */
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > k ? k : 0;
	}
	return 0;
}

/* An SSE stdout/stderr event of one output frame. */
static void op_output(struct op *op, int is_out, const struct proto_frame *f)
{
	int i = is_out ? 0 : 1;
	size_t total = op->ncarry[i] + f->len;
	char *tmp = malloc(total ? total : 1);

	if (!tmp)
		return;
	memcpy(tmp, op->carry[i], op->ncarry[i]);
	memcpy(tmp + op->ncarry[i], f->body, f->len);
	size_t tail = op_utf8_tail((const unsigned char *)tmp, total);
	op->ncarry[i] = tail;
	memcpy(op->carry[i], tmp + total - tail, tail);
	if (total - tail)
		op_event(op, is_out ? "stdout" : "stderr",
			 json_pack("{s:o}", "data", json_bytes(tmp, total - tail)));
	free(tmp);
}

static json_t *op_now_iso(void)
{
	char t[32];

	sandbox_iso_time(sandbox_wall_ms(), t);
	return json_string(t);
}

static void op_collect(struct op *op, struct buf *b, int *trunc,
		       const struct proto_frame *f)
{
	size_t n = f->len;

	if (buf_avail(b) + n > OP_OUT_MAX) {
		*trunc = 1;
		n = OP_OUT_MAX - buf_avail(b);
	}
	buf_append(b, f->body, n);
}

/*
 * Ends the request with an error: an SSE `error` event when the stream has
 * started, else a JSON error with STATUS. EXTRA (owned, may be NULL) adds
 * fields to the event.
 */
static void op_fail(struct op *op, int status, const char *code, const char *msg,
		    json_t *extra)
{
	if (op->sse && op->c->resp_started) {
		json_t *j = json_pack("{s:s,s:s}", "error", msg, "code", code);
		if (extra)
			json_object_update(j, extra);
		op_event(op, "error", j);
		conn_resp_end(op->c);
	} else {
		conn_reply_error(op->c, status, code, "%s", msg);
	}
	json_decref(extra);
}

static void op_error_frame(struct op *op, const struct proto_frame *f)
{
	char code[64] = "internal", msg[400] = "agent error";

	proto_get_str(f, PT_CODE, code, sizeof(code));
	proto_get_str(f, PT_MESSAGE, msg, sizeof(msg));
	op_fail(op, agent_error_status(code), code, msg,
		json_pack("{s:b}", "timedOut", !strcmp(code, "timeout")));
	op_finish(op);
}

/* A stdout or stderr frame: an SSE event now, or collected for the end. */
static void op_stream_frame(struct op *op, const struct proto_frame *f)
{
	int is_out = f->type == PROTO_STDOUT;

	if (!op->sse)
		op_collect(op, is_out ? &op->out : &op->err,
			   is_out ? &op->out_trunc : &op->err_trunc, f);
	else if (f->len)
		op_output(op, is_out, f);
}

static json_t *op_proc_json(const struct proto_frame *f)
{
	char id[64] = "", cmd[4096] = "", status[32] = "";
	char st[32], et[32];
	uint64_t start = proto_u64_or(f, PT_START_MS, 0);
	uint64_t end = proto_u64_or(f, PT_END_MS, 0);

	proto_get_str(f, PT_ID, id, sizeof(id));
	proto_get_str(f, PT_CMD, cmd, sizeof(cmd));
	proto_get_str(f, PT_STATUS, status, sizeof(status));
	sandbox_iso_time(start, st);
	json_t *j = json_pack("{s:s,s:i,s:s,s:s,s:s}", "id", id, "pid",
			      (int)proto_u32_or(f, PT_PID, 0), "command", cmd, "status",
			      status, "startTime", st);
	if (end) {
		sandbox_iso_time(end, et);
		json_object_set_new(j, "endTime", json_string(et));
		uint32_t sig = proto_u32_or(f, PT_SIGNAL, 0);
		if (sig)
			json_object_set_new(j, "signal", json_integer(sig));
		else
			json_object_set_new(j, "exitCode",
					    json_integer((int32_t)proto_u32_or(f, PT_EXIT_CODE, 0)));
	}
	return j;
}

/* The agent connection ended before the operation did. */
static void op_on_close(struct agent_call *a, int err)
{
	struct op *op = a->arg;
	char boot[256];
	const char *why = err == -ECHILD || err == -ETIMEDOUT || err == -EPROTO
				  ? sandbox_boot_message(op->s, boot, sizeof(boot))
			  : op->s->running ? "the sandbox agent closed the connection"
					   : "the sandbox stopped (crashed or was stopped) "
					     "while the request ran";

	op->a = NULL;
	if (op->finished)
		return;
	op->finished = 1;
	op_fail(op, 503, "unavailable", why, NULL);
}

/* --- exec, git and code: one dispatch ----------------------------------- */

static void op_exec_exit(struct op *op, const struct proto_frame *f)
{
	struct conn *c = op->c;
	int timed_out = (int)proto_u32_or(f, PT_TIMED_OUT, 0);
	uint32_t sig = proto_u32_or(f, PT_SIGNAL, 0);
	int code = (int32_t)proto_u32_or(f, PT_EXIT_CODE, 0);

	if (sig && !timed_out && code == 0)
		code = 128 + (int)sig;
	uint64_t dur = proto_u64_or(f, PT_DURATION_MS, loop_now_ms() - op->start_ms);
	if (op->sse) {
		if (timed_out)
			op_event(op, "error",
				 json_pack("{s:s,s:s,s:b,s:i,s:I}", "error", "command timed out",
					   "code", "timeout", "timedOut", 1, "exitCode", code,
					   "duration", (json_int_t)dur));
		else
			op_event(op, "complete",
				 json_pack("{s:i,s:b,s:I,s:o,s:s}", "exitCode", code, "success",
					   code == 0 && !sig, "duration", (json_int_t)dur,
					   "timestamp", op_now_iso(), "command", op->command));
		conn_resp_end(c);
		op_finish(op);
		return;
	}
	json_t *j = json_pack("{s:b,s:i,s:o,s:o,s:s,s:I,s:o}", "success",
			      code == 0 && !sig && !timed_out, "exitCode", code, "stdout",
			      json_bytes(buf_data(&op->out), buf_avail(&op->out)), "stderr",
			      json_bytes(buf_data(&op->err), buf_avail(&op->err)), "command",
			      op->command, "duration", (json_int_t)dur, "timestamp", op_now_iso());
	if (sig)
		json_object_set_new(j, "signal", json_integer(sig));
	if (op->out_trunc || op->err_trunc)
		json_object_set_new(j, "truncated", json_true());
	if (op->kind == OP_GIT) {
		json_object_update(j, op->extra);
		json_object_set_new(j, "success", json_boolean(code == 0 && !sig && !timed_out));
	}
	if (timed_out) {
		json_object_set_new(j, "timedOut", json_true());
		json_object_set_new(j, "error", json_pack("{s:s,s:s}", "code", "timeout", "message",
							  "command timed out"));
	}
	conn_reply_json(c, timed_out ? 504 : 200, j);
	op_finish(op);
}

/* A rich result or the run's error: JSON from the runner, kept as is when
 * it is an object, else wrapped as text. */
static void op_code_result(struct op *op, const struct proto_frame *f)
{
	json_error_t je;
	json_t *r = json_loadb((const char *)f->body, f->len, 0, &je);

	if (!json_is_object(r)) {
		json_decref(r);
		r = json_pack("{s:o}", "text", json_bytes((const char *)f->body, f->len));
	}
	if (op->sse)
		op_event(op, f->type == PROTO_CTX_ERROR ? "error" : "result", json_incref(r));
	if (f->type == PROTO_CTX_ERROR) {
		json_object_set(op->extra, "error", r);
		json_decref(r);
	} else {
		json_array_append_new(op->list, r);
	}
}

static void op_code_done(struct op *op, const struct proto_frame *f)
{
	uint64_t dur = proto_u64_or(f, PT_DURATION_MS, loop_now_ms() - op->start_ms);
	json_t *err = json_object_get(op->extra, "error");

	if (op->sse) {
		op_event(op, "complete",
			 json_pack("{s:b,s:I}", "success", err == NULL, "duration", (json_int_t)dur));
		conn_resp_end(op->c);
		op_finish(op);
		return;
	}
	json_t *lines_out = json_array(), *lines_err = json_array();
	if (buf_avail(&op->out))
		json_array_append_new(lines_out, json_bytes(buf_data(&op->out), buf_avail(&op->out)));
	if (buf_avail(&op->err))
		json_array_append_new(lines_err, json_bytes(buf_data(&op->err), buf_avail(&op->err)));
	json_t *j = json_pack("{s:b,s:o,s:O,s:{s:o,s:o},s:I,s:O}", "success", err == NULL,
			      "output", json_bytes(buf_data(&op->out), buf_avail(&op->out)),
			      "results", op->list, "logs", "stdout", lines_out, "stderr",
			      lines_err, "duration", (json_int_t)dur, "error",
			      err ? err : json_null());
	conn_reply_json(op->c, 200, j);
	op_finish(op);
}

/*
 * Frames of a running command (exec, git) or code run. Output is handled
 * the same way for both; the end differs: EXIT for a command, DONE for code.
 * A frame of the other kind's ending is ignored (the agent never sends it).
 */
static void op_run_frame(struct op *op, const struct proto_frame *f)
{
	int is_code = op->kind == OP_CODE;
	char code[64] = "";

	switch (f->type) {
	case PROTO_STARTED:
		if (op->sse && !is_code)
			op_event(op, "start", json_pack("{s:s,s:i,s:o}", "command", op->command,
						       "pid", (int)proto_u32_or(f, PT_PID, 0),
						       "timestamp", op_now_iso()));
		return;
	case PROTO_STDOUT:
	case PROTO_STDERR:
		op_stream_frame(op, f);
		return;
	case PROTO_EXIT:
		if (!is_code)
			op_exec_exit(op, f);
		return;
	case PROTO_RESULT:
	case PROTO_CTX_ERROR:
		if (is_code)
			op_code_result(op, f);
		return;
	case PROTO_DONE:
		if (is_code)
			op_code_done(op, f);
		return;
	case PROTO_ERROR:
		/* A default context the agent no longer knows: make a new one next time. */
		proto_get_str(f, PT_CODE, code, sizeof(code));
		if (is_code && !strcmp(code, "not_found") &&
		    !json_object_get(op->extra, "explicitContext"))
			op->s->default_ctx[op->lang][0] = 0;
		op_error_frame(op, f);
		return;
	default:
		return;
	}
}

/* --- processes ---------------------------------------------------------- */

static void op_proc_frame(struct op *op, const struct proto_frame *f)
{
	struct conn *c = op->c;

	if (f->type == PROTO_ERROR) {
		op_error_frame(op, f);
		return;
	}
	switch (op->kind) {
	case OP_PROC_START:
	case OP_PROC_GET:
		if (f->type == PROTO_PROC) {
			conn_reply_json(c, op->kind == OP_PROC_START ? 201 : 200, op_proc_json(f));
			op_finish(op);
		}
		return;
	case OP_PROC_LIST:
		if (f->type == PROTO_PROC) {
			json_array_append_new(op->list, op_proc_json(f));
		} else if (f->type == PROTO_END) {
			conn_reply_json(c, 200, json_pack("{s:O}", "processes", op->list));
			op_finish(op);
		}
		return;
	case OP_PROC_KILL:
	case OP_PROC_KILL_ALL:
		if (f->type == PROTO_OK) {
			json_t *j = json_pack("{s:b}", "success", 1);
			if (op->kind == OP_PROC_KILL_ALL)
				json_object_set_new(j, "killed",
						    json_integer(proto_u32_or(f, PT_COUNT, 0)));
			conn_reply_json(c, 200, j);
			op_finish(op);
		}
		return;
	case OP_PROC_LOGS:
		if (f->type == PROTO_OK) {
			if (op->sse)
				sse_start(c);
			return;
		}
		if (f->type == PROTO_STDOUT || f->type == PROTO_STDERR) {
			op_stream_frame(op, f);
			return;
		}
		if (f->type == PROTO_END || f->type == PROTO_EXIT) {
			if (op->sse) {
				json_t *j = json_object();
				if (f->type == PROTO_EXIT) {
					uint32_t sig = proto_u32_or(f, PT_SIGNAL, 0);
					json_object_set_new(j, sig ? "signal" : "exitCode",
							    json_integer(sig ? (int)sig
									     : (int32_t)proto_u32_or(f, PT_EXIT_CODE, 0)));
				}
				op_event(op, f->type == PROTO_EXIT ? "exit" : "complete", j);
				conn_resp_end(c);
			} else {
				conn_reply_json(c, 200,
						json_pack("{s:s,s:o,s:o}", "processId", c->route.sub,
							  "stdout", json_bytes(buf_data(&op->out), buf_avail(&op->out)),
							  "stderr", json_bytes(buf_data(&op->err), buf_avail(&op->err))));
			}
			op_finish(op);
		}
		return;
	default:
		return;
	}
}

/* --- contexts and code ------------------------------------------------ */

static json_t *op_ctx_json(const struct proto_frame *f)
{
	char id[64] = "", lang[32] = "", cwd[4096] = "";

	proto_get_str(f, PT_ID, id, sizeof(id));
	proto_get_str(f, PT_LANGUAGE, lang, sizeof(lang));
	proto_get_str(f, PT_CWD, cwd, sizeof(cwd));
	return json_pack("{s:s,s:s,s:s}", "id", id, "language", lang, "cwd", cwd);
}

static void op_code_run(struct op *op, const char *ctx_id);

static void op_ctx_frame(struct op *op, const struct proto_frame *f)
{
	struct conn *c = op->c;

	if (f->type == PROTO_ERROR) {
		op_error_frame(op, f);
		return;
	}
	switch (op->kind) {
	case OP_CTX_CREATE:
		if (f->type == PROTO_CTX) {
			conn_reply_json(c, 201, op_ctx_json(f));
			op_finish(op);
		}
		return;
	case OP_CTX_LIST:
		if (f->type == PROTO_CTX) {
			json_array_append_new(op->list, op_ctx_json(f));
		} else if (f->type == PROTO_END) {
			conn_reply_json(c, 200, json_pack("{s:O}", "contexts", op->list));
			op_finish(op);
		}
		return;
	case OP_CTX_DELETE:
		if (f->type == PROTO_OK) {
			conn_reply_json(c, 200, json_pack("{s:b}", "success", 1));
			op_finish(op);
		}
		return;
	case OP_CODE_CTX:
		if (f->type == PROTO_CTX) {
			char id[64] = "";
			proto_get_str(f, PT_ID, id, sizeof(id));
			snprintf(op->s->default_ctx[op->lang], 64, "%s", id);
			agent_call_close(op->a);
			op->a = NULL;
			op_code_run(op, id);
		}
		return;
	default:
		return;
	}
}

static void op_on_frame(struct agent_call *a, const struct proto_frame *f)
{
	struct op *op = a->arg;

	if (op->finished)
		return;
	switch (op->kind) {
	case OP_EXEC:
	case OP_GIT:
	case OP_CODE:
		op_run_frame(op, f);
		break;
	case OP_CTX_CREATE:
	case OP_CTX_LIST:
	case OP_CTX_DELETE:
	case OP_CODE_CTX:
		op_ctx_frame(op, f);
		break;
	default:
		op_proc_frame(op, f);
		break;
	}
}

/* Opens the agent call and sends the built request. 0, or replied. */
static int op_start(struct op *op, const void *frame, int len)
{
	if (len < 0) {
		conn_reply_error(op->c, 400, "bad_request", "request too large");
		return -1;
	}
	int rc = agent_call_open(op->c->d, op->s, op, &op->a);
	if (rc) {
		op->finished = 1;
		api_reply_dial_error(op->c, rc);
		return -1;
	}
	op->a->on_frame = op_on_frame;
	op->a->on_close = op_on_close;
	op->start_ms = loop_now_ms();
	agent_call_send(op->a, frame, (size_t)len);
	return 0;
}

static struct op *op_new(struct conn *c, struct sandbox *s, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof(*op));

	if (!op) {
		conn_reply_error(c, 503, "unavailable", "out of memory");
		return NULL;
	}
	op->kind = kind;
	op->c = c;
	op->s = s;
	op->list = json_array();
	op->extra = json_object();
	conn_set_handler(c, &op_handler, op);
	return op;
}

/* Reads an optional non-negative ms timeout field. -1 when invalid. */
static long op_timeout(json_t *body)
{
	json_t *t = json_object_get(body, "timeout");

	if (!t || json_is_null(t))
		return 0;
	if (!json_is_integer(t) || json_integer_value(t) < 0 ||
	    json_integer_value(t) > 0x7fffffff)
		return -1;
	return (long)json_integer_value(t);
}

static void api_exec_json(struct conn *c, struct sandbox *s, json_t *body)
{
	static uint8_t frame[PROTO_MAX_FRAME];
	struct proto_builder b;
	const char *cmd = json_string_value(json_object_get(body, "command"));
	json_t *env = json_object_get(body, "env");
	json_t *cwd = json_object_get(body, "cwd");
	long timeout = op_timeout(body);

	if (!cmd || !*cmd) {
		conn_reply_error(c, 400, "bad_request", "command (a string) is required");
		return;
	}
	if (timeout < 0 || (env && !json_is_object(env)) || (cwd && !json_is_string(cwd))) {
		conn_reply_error(c, 400, "bad_request",
				 "timeout must be ms, env an object, cwd a string");
		return;
	}
	struct op *op = op_new(c, s, OP_EXEC);
	if (!op)
		return;
	op->sse = sse_wanted(c);
	snprintf(op->command, sizeof(op->command), "%s", cmd);
	proto_build_begin(&b, frame, sizeof(frame), PROTO_EXEC);
	proto_put_str(&b, PT_CMD, cmd);
	api_put_env(&b, s, env);
	if (cwd)
		proto_put_str(&b, PT_CWD, json_string_value(cwd));
	if (timeout)
		proto_put_u32(&b, PT_TIMEOUT_MS, (uint32_t)timeout);
	if (op_start(op, frame, proto_build_end(&b)))
		return;
	if (op->sse)
		sse_start(c);
}

void api_exec(struct conn *c, struct sandbox *s)
{
	if (strcmp(c->req->method, "POST")) {
		conn_reply_error(c, 405, "method_not_allowed", "use POST");
		return;
	}
	api_with_json(c, s, api_exec_json, 0);
}

static void api_git_json(struct conn *c, struct sandbox *s, json_t *body)
{
	static uint8_t frame[PROTO_MAX_FRAME];
	struct proto_builder b;
	const char *url = json_string_value(json_object_get(body, "repoUrl"));
	const char *branch = json_string_value(json_object_get(body, "branch"));
	const char *dir = json_string_value(json_object_get(body, "targetDir"));
	long timeout = op_timeout(body);

	if (!url || !*url || url[0] == '-' || (branch && branch[0] == '-') || timeout < 0) {
		conn_reply_error(c, 400, "bad_request", "repoUrl (a string) is required");
		return;
	}
	if (!dir) {
		const char *slash = strrchr(url, '/');
		dir = slash && slash[1] ? slash + 1 : "repo";
	}
	char dirbuf[1024];
	snprintf(dirbuf, sizeof(dirbuf), "%s", dir);
	size_t dl = strlen(dirbuf);
	if (dl > 4 && !strcmp(dirbuf + dl - 4, ".git"))
		dirbuf[dl - 4] = 0;
	struct op *op = op_new(c, s, OP_GIT);
	if (!op)
		return;
	snprintf(op->command, sizeof(op->command), "git clone %s", url);
	json_object_set_new(op->extra, "repoUrl", json_string(url));
	json_object_set_new(op->extra, "branch", branch ? json_string(branch) : json_null());
	json_object_set_new(op->extra, "targetDir", json_string(dirbuf));
	proto_build_begin(&b, frame, sizeof(frame), PROTO_EXEC);
	proto_put_str(&b, PT_ARG, "git");
	proto_put_str(&b, PT_ARG, "clone");
	proto_put_str(&b, PT_ARG, "--depth");
	proto_put_str(&b, PT_ARG, "1");
	if (branch) {
		proto_put_str(&b, PT_ARG, "--branch");
		proto_put_str(&b, PT_ARG, branch);
	}
	proto_put_str(&b, PT_ARG, "--");
	proto_put_str(&b, PT_ARG, url);
	proto_put_str(&b, PT_ARG, dirbuf);
	api_put_env(&b, s, NULL);
	proto_put_u32(&b, PT_TIMEOUT_MS, timeout ? (uint32_t)timeout : 300000);
	op_start(op, frame, proto_build_end(&b));
}

void api_git_checkout(struct conn *c, struct sandbox *s)
{
	if (strcmp(c->req->method, "POST")) {
		conn_reply_error(c, 405, "method_not_allowed", "use POST");
		return;
	}
	api_with_json(c, s, api_git_json, 0);
}

/* --- processes --------------------------------------------------------- */

static int op_signal(const char *s)
{
	static const struct {
		const char *n;
		int v;
	} sigs[] = { { "TERM", SIGTERM }, { "KILL", SIGKILL }, { "INT", SIGINT },
		     { "HUP", SIGHUP },   { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 },
		     { "USR2", SIGUSR2 }, { "STOP", SIGSTOP }, { "CONT", SIGCONT } };
	char *e;
	long n = strtol(s, &e, 10);

	if (*s && !*e)
		return n > 0 && n < 65 ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcasecmp(s, sigs[i].n))
			return sigs[i].v;
	return -1;
}

static void api_proc_start_json(struct conn *c, struct sandbox *s, json_t *body)
{
	static uint8_t frame[PROTO_MAX_FRAME];
	struct proto_builder b;
	const char *cmd = json_string_value(json_object_get(body, "command"));
	json_t *id = json_object_get(body, "processId");
	json_t *env = json_object_get(body, "env");
	json_t *cwd = json_object_get(body, "cwd");

	if (!cmd || !*cmd) {
		conn_reply_error(c, 400, "bad_request", "command (a string) is required");
		return;
	}
	if ((id && (!json_is_string(id) || !route_valid_id(json_string_value(id)))) ||
	    (env && !json_is_object(env)) || (cwd && !json_is_string(cwd))) {
		conn_reply_error(c, 400, "bad_request",
				 "processId must match [A-Za-z0-9_-]{1,63}, env an object, cwd a string");
		return;
	}
	struct op *op = op_new(c, s, OP_PROC_START);
	if (!op)
		return;
	proto_build_begin(&b, frame, sizeof(frame), PROTO_PROC_START);
	if (id)
		proto_put_str(&b, PT_ID, json_string_value(id));
	proto_put_str(&b, PT_CMD, cmd);
	api_put_env(&b, s, env);
	if (cwd)
		proto_put_str(&b, PT_CWD, json_string_value(cwd));
	op_start(op, frame, proto_build_end(&b));
}

void api_processes(struct conn *c, struct sandbox *s)
{
	uint8_t frame[512];
	struct proto_builder b;
	const char *m = c->req->method;
	struct op *op;
	char q[32];

	if (c->route.kind == ROUTE_PROCESSES && !strcmp(m, "POST")) {
		api_with_json(c, s, api_proc_start_json, 0);
		return;
	}
	enum op_kind kind;
	if (c->route.kind == ROUTE_PROCESSES && !strcmp(m, "GET"))
		kind = OP_PROC_LIST;
	else if (c->route.kind == ROUTE_PROCESSES && !strcmp(m, "DELETE"))
		kind = OP_PROC_KILL_ALL;
	else if (c->route.kind == ROUTE_PROCESS && !strcmp(m, "GET"))
		kind = OP_PROC_GET;
	else if (c->route.kind == ROUTE_PROCESS && !strcmp(m, "DELETE"))
		kind = OP_PROC_KILL;
	else if (c->route.kind == ROUTE_PROCESS_LOGS && !strcmp(m, "GET"))
		kind = OP_PROC_LOGS;
	else {
		conn_reply_error(c, 405, "method_not_allowed", "method not allowed here");
		return;
	}
	int sig = SIGTERM;
	if ((kind == OP_PROC_KILL || kind == OP_PROC_KILL_ALL) &&
	    route_query(c->route.query, "signal", q, sizeof(q)) >= 0) {
		sig = op_signal(q);
		if (sig < 0) {
			conn_reply_error(c, 400, "bad_request", "unknown signal");
			return;
		}
	}
	op = op_new(c, s, kind);
	if (!op)
		return;
	static const uint16_t types[] = {
		[OP_PROC_LIST] = PROTO_PROC_LIST,   [OP_PROC_KILL_ALL] = PROTO_PROC_KILL_ALL,
		[OP_PROC_GET] = PROTO_PROC_GET,     [OP_PROC_KILL] = PROTO_PROC_KILL,
		[OP_PROC_LOGS] = PROTO_PROC_LOGS,
	};
	proto_build_begin(&b, frame, sizeof(frame), types[kind]);
	if (kind != OP_PROC_LIST && kind != OP_PROC_KILL_ALL)
		proto_put_str(&b, PT_ID, c->route.sub);
	if (kind == OP_PROC_KILL || kind == OP_PROC_KILL_ALL)
		proto_put_u32(&b, PT_SIGNAL_NUM, (uint32_t)sig);
	if (kind == OP_PROC_LOGS) {
		op->sse = sse_wanted(c);
		if (op->sse)
			proto_put_u32(&b, PT_FOLLOW, 1);
		if (route_query(c->route.query, "stream", q, sizeof(q)) >= 0)
			proto_put_u32(&b, PT_STREAM, !strcmp(q, "stdout") ? 1
						     : !strcmp(q, "stderr") ? 2 : 0);
	}
	op_start(op, frame, proto_build_end(&b));
}

/* --- contexts and code ------------------------------------------------- */

static int op_lang(const char *l)
{
	if (!l || !strcmp(l, "python") || !strcmp(l, "python3"))
		return 0;
	if (!strcmp(l, "javascript") || !strcmp(l, "js") || !strcmp(l, "node") ||
	    !strcmp(l, "typescript"))
		return 1;
	return -1;
}

static const char *const op_lang_names[] = { "python", "javascript" };

static void api_ctx_create_json(struct conn *c, struct sandbox *s, json_t *body)
{
	uint8_t frame[16384];
	struct proto_builder b;
	const char *lang = json_string_value(json_object_get(body, "language"));
	json_t *cwd = json_object_get(body, "cwd");
	json_t *env = json_object_get(body, "envVars");
	int l = op_lang(lang);

	if (l < 0 || (cwd && !json_is_string(cwd)) || (env && !json_is_object(env))) {
		conn_reply_error(c, 400, "bad_request",
				 "language must be python or javascript");
		return;
	}
	struct op *op = op_new(c, s, OP_CTX_CREATE);
	if (!op)
		return;
	proto_build_begin(&b, frame, sizeof(frame), PROTO_CTX_CREATE);
	proto_put_str(&b, PT_LANGUAGE, op_lang_names[l]);
	if (cwd)
		proto_put_str(&b, PT_CWD, json_string_value(cwd));
	api_put_env(&b, s, env);
	op_start(op, frame, proto_build_end(&b));
}

void api_contexts(struct conn *c, struct sandbox *s)
{
	uint8_t frame[512];
	struct proto_builder b;
	const char *m = c->req->method;
	struct op *op;

	if (c->route.kind == ROUTE_CONTEXTS && !strcmp(m, "POST")) {
		api_with_json(c, s, api_ctx_create_json, 1);
		return;
	}
	if (c->route.kind == ROUTE_CONTEXTS && !strcmp(m, "GET")) {
		if (!(op = op_new(c, s, OP_CTX_LIST)))
			return;
		proto_build_begin(&b, frame, sizeof(frame), PROTO_CTX_LIST);
	} else if (c->route.kind == ROUTE_CONTEXT && !strcmp(m, "DELETE")) {
		if (!(op = op_new(c, s, OP_CTX_DELETE)))
			return;
		proto_build_begin(&b, frame, sizeof(frame), PROTO_CTX_DELETE);
		proto_put_str(&b, PT_ID, c->route.sub);
		for (int i = 0; i < 2; i++)
			if (!strcmp(s->default_ctx[i], c->route.sub))
				s->default_ctx[i][0] = 0;
	} else {
		conn_reply_error(c, 405, "method_not_allowed", "method not allowed here");
		return;
	}
	op_start(op, frame, proto_build_end(&b));
}

static void op_code_run(struct op *op, const char *ctx_id)
{
	static uint8_t frame[PROTO_MAX_FRAME];
	struct proto_builder b;
	const char *code = json_string_value(json_object_get(op->extra, "code"));

	op->kind = OP_CODE;
	proto_build_begin(&b, frame, sizeof(frame), PROTO_CTX_RUN);
	proto_put_str(&b, PT_ID, ctx_id);
	proto_put_str(&b, PT_SOURCE, code);
	if (op->timeout_ms)
		proto_put_u32(&b, PT_TIMEOUT_MS, op->timeout_ms);
	int len = proto_build_end(&b);
	json_object_del(op->extra, "code");
	if (op_start(op, frame, len))
		return;
	if (op->sse && !op->c->resp_started)
		sse_start(op->c);
}

static void api_code_json(struct conn *c, struct sandbox *s, json_t *body)
{
	uint8_t frame[16384];
	struct proto_builder b;
	const char *code = json_string_value(json_object_get(body, "code"));
	json_t *ctx = json_object_get(body, "context");
	const char *lang = json_string_value(json_object_get(body, "language"));
	long timeout = op_timeout(body);
	int l = op_lang(lang);

	if (json_is_object(ctx))
		ctx = json_object_get(ctx, "id");
	if (!code || l < 0 || timeout < 0 || (ctx && !json_is_string(ctx)) ||
	    (ctx && !route_valid_id(json_string_value(ctx)))) {
		conn_reply_error(c, 400, "bad_request",
				 "code (a string) is required; context an id; "
				 "language python or javascript");
		return;
	}
	if (strlen(code) > PROTO_MAX_BODY - 1024) {
		conn_reply_error(c, 413, "too_large", "code too large");
		return;
	}
	struct op *op = op_new(c, s, OP_CODE);
	if (!op)
		return;
	op->sse = sse_wanted(c);
	op->lang = l;
	op->timeout_ms = (unsigned)timeout;
	json_object_set_new(op->extra, "code", json_string(code));
	if (ctx) {
		json_object_set_new(op->extra, "explicitContext", json_true());
		op_code_run(op, json_string_value(ctx));
		return;
	}
	if (s->default_ctx[l][0]) {
		char id[64];
		snprintf(id, sizeof(id), "%s", s->default_ctx[l]);
		op_code_run(op, id);
		return;
	}
	/* No context given and none yet: create the default one first. */
	op->kind = OP_CODE_CTX;
	proto_build_begin(&b, frame, sizeof(frame), PROTO_CTX_CREATE);
	proto_put_str(&b, PT_LANGUAGE, op_lang_names[l]);
	api_put_env(&b, s, NULL);
	op_start(op, frame, proto_build_end(&b));
}

void api_code(struct conn *c, struct sandbox *s)
{
	if (strcmp(c->req->method, "POST")) {
		conn_reply_error(c, 405, "method_not_allowed", "use POST");
		return;
	}
	api_with_json(c, s, api_code_json, 0);
}
