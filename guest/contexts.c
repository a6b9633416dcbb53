/*
 * guest/contexts.c: code contexts: CTX_CREATE, CTX_RUN, CTX_LIST,
 * CTX_DELETE.
 *
 * A context is one long-lived interpreter running a runner script from the
 * runners folder (python_runner.py, node_runner.js). The channel:
 *   - fd 0 of the runner: requests, "RUN <n>\n" followed by n bytes of code;
 *   - fds 1 and 2: the user code's output, streamed live as STDOUT/STDERR;
 *   - fd 3: control lines from the runner: "ready", "result <json>",
 *     "error <json>", "done". JSON is passed through as bytes; the agent
 *     never parses it.
 * The runner flushes stdout/stderr before it writes "done", so the agent
 * drains the output pipes (non-blocking) before it sends DONE. One run at a
 * time per context (run_lock); an interrupted run (timeout, client gone)
 * gets SIGINT and the context lives on.
 */
#include "guest/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES (PROTO_MAX_BODY + 64)

struct ctx {
	char id[64];
	char lang[16];
	char cwd[AGENT_PATH_MAX];
	struct child *ch;
	int req, out, err, ctl;
	char *line;         /* partial control line */
	size_t line_len;
	int dead;
	int refs;           /* the table holds one */
	pthread_mutex_t run_lock;
	struct ctx *next;
};

static const char *runner_file(const char *lang)
{
	if (!strcmp(lang, "python"))
		return "python_runner.py";
	if (!strcmp(lang, "javascript"))
		return "node_runner.js";
	return NULL;
}

static const char *interpreter(const char *lang)
{
	return !strcmp(lang, "python") ? "python3" : "node";
}

/* 1 when prog is an executable file in a folder of $PATH. */
static int in_path(const char *prog)
{
	const char *path = getenv("PATH"), *p, *e;
	char buf[AGENT_PATH_MAX];

	for (p = path ? path : "/usr/bin:/bin"; *p; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (!e)
			e = p + strlen(p);
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p), p, prog);
		if (access(buf, X_OK) == 0)
			return 1;
	}
	return 0;
}

int contexts_available(struct agent *ag, const char *lang)
{
	const char *f = runner_file(lang);
	char path[AGENT_PATH_MAX + 64];

	if (!f)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", ag->runners, f);
	return access(path, R_OK) == 0 && in_path(interpreter(lang));
}

static void ctx_put(struct agent *ag, struct ctx *x)
{
	int last;

	pthread_mutex_lock(&ag->lock);
	last = --x->refs == 0;
	pthread_mutex_unlock(&ag->lock);
	if (!last)
		return;
	if (x->ch) {
		reaper_kill(ag, x->ch, SIGKILL);
		reaper_put(ag, x->ch);
	}
	close(x->req);
	close(x->out);
	close(x->err);
	close(x->ctl);
	free(x->line);
	pthread_mutex_destroy(&x->run_lock);
	free(x);
}

/* Finds a context by id and takes a reference, or NULL. */
static struct ctx *ctx_get(struct agent *ag, const char *id)
{
	struct ctx *x;

	pthread_mutex_lock(&ag->lock);
	for (x = ag->ctxs; x; x = x->next)
		if (!strcmp(x->id, id))
			break;
	if (x)
		x->refs++;
	pthread_mutex_unlock(&ag->lock);
	return x;
}

/*
 * Reads control bytes and returns the next complete line (NUL-terminated,
 * without '\n') in x->line: 1 with a line, 0 when none yet, -EPIPE when the
 * runner closed fd 3. Over-long lines are cut (their tail is dropped).
 */
static int ctl_line(struct ctx *x, size_t *len)
{
	char *nl;
	ssize_t n;

	for (;;) {
		nl = x->line_len ? memchr(x->line, '\n', x->line_len) : NULL;
		if (nl) {
			*nl = 0;
			*len = (size_t)(nl - x->line);
			return 1;
		}
		if (x->line_len == LINE_MAX_BYTES - 1)
			x->line_len = 0; /* too long: drop it */
		n = read(x->ctl, x->line + x->line_len,
			 LINE_MAX_BYTES - 1 - x->line_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -EPIPE;
		x->line_len += (size_t)n;
	}
}

/* Removes the first line (len bytes + '\n') from the buffer. */
static void ctl_consume(struct ctx *x, size_t len)
{
	memmove(x->line, x->line + len + 1, x->line_len - len - 1);
	x->line_len -= len + 1;
}

static int set_nonblock(int fd)
{
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Waits (up to 60 s) for the runner's "ready" line. */
static int wait_ready(struct ctx *x)
{
	struct pollfd p = { .fd = x->ctl, .events = POLLIN };
	uint64_t end = mono_ms() + 60000;
	size_t len;
	int r;

	while (mono_ms() < end) {
		r = ctl_line(x, &len);
		if (r < 0)
			return -ENOEXEC;
		if (r > 0) {
			int ready = !strcmp(x->line, "ready");

			ctl_consume(x, len);
			if (ready)
				return 0;
			continue;
		}
		poll(&p, 1, 200);
	}
	return -ETIMEDOUT;
}

static int ctx_spawn(struct conn *c, const struct proto_frame *req,
		     struct ctx *x)
{
	char **argv, **envp, cwd[AGENT_PATH_MAX], runner[AGENT_PATH_MAX + 64];
	int pi[2] = { -1, -1 }, po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	int pc[2] = { -1, -1 }, r, i;
	struct spawn sp;
	int *all[] = { pi, po, pe, pc };

	r = exec_build(c->ag, req, &argv, &envp, cwd);
	if (r < 0)
		return r;
	snprintf(runner, sizeof(runner), "%s/%s", c->ag->runners,
		 runner_file(x->lang));
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	/* argv has room for 4 entries (exec_build); python unbuffered (-u)
	 * so prints stream live. */
	i = !strcmp(x->lang, "python");
	argv[0] = strdup(interpreter(x->lang));
	argv[1] = strdup(i ? "-u" : runner);
	argv[2] = i ? strdup(runner) : NULL;
	argv[3] = NULL;
	snprintf(x->cwd, sizeof(x->cwd), "%s", cwd);
	if (pipe2(pi, O_CLOEXEC) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
	    pipe2(pe, O_CLOEXEC) < 0 || pipe2(pc, O_CLOEXEC) < 0 || !argv[0] ||
	    !argv[1] || (i && !argv[2])) {
		r = -errno;
	} else {
		sp = (struct spawn){ .argv = argv, .envp = envp, .cwd = cwd,
				     .fd_in = pi[0], .fd_out = po[1],
				     .fd_err = pe[1], .extra_fd = pc[1] };
		r = reaper_spawn(c->ag, &sp, 0, &x->ch);
	}
	exec_free_argv(argv);
	exec_free_argv(envp);
	x->req = pi[1], x->out = po[0], x->err = pe[0], x->ctl = pc[0];
	pi[1] = po[0] = pe[0] = pc[0] = -1;
	for (i = 0; i < 4; i++) {
		if (all[i][0] >= 0)
			close(all[i][0]);
		if (all[i][1] >= 0)
			close(all[i][1]);
	}
	set_nonblock(x->out);
	set_nonblock(x->err);
	set_nonblock(x->ctl);
	return r < 0 ? r : wait_ready(x);
}

static int send_ctx(struct conn *c, struct ctx *x)
{
	struct proto_builder b;

	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_CTX);
	proto_put_str(&b, PT_ID, x->id);
	proto_put_str(&b, PT_LANGUAGE, x->lang);
	proto_put_str(&b, PT_CWD, x->cwd);
	return conn_send(c, &b);
}

static int create_op(struct conn *c, const struct proto_frame *req)
{
	struct agent *ag = c->ag;
	struct ctx *x = calloc(1, sizeof(*x));
	int r;

	if (!x || !(x->line = malloc(LINE_MAX_BYTES))) {
		free(x);
		return conn_error(c, ENOMEM, NULL);
	}
	x->req = x->out = x->err = x->ctl = -1;
	x->refs = 1;
	pthread_mutex_init(&x->run_lock, NULL);
	if (proto_get_str(req, PT_LANGUAGE, x->lang, sizeof(x->lang)) < 0)
		strcpy(x->lang, "python");
	if (!strcmp(x->lang, "js"))
		strcpy(x->lang, "javascript");
	if (!contexts_available(ag, x->lang)) {
		ctx_put(ag, x);
		return conn_error(c, ENOTSUP, "no runner for this language");
	}
	r = ctx_spawn(c, req, x);
	if (r < 0) {
		ctx_put(ag, x);
		return conn_error(c, r, "the runner did not start");
	}
	pthread_mutex_lock(&ag->lock);
	snprintf(x->id, sizeof(x->id), "ctx-%u", ++ag->next_id);
	x->next = ag->ctxs;
	ag->ctxs = x;
	pthread_mutex_unlock(&ag->lock);
	return send_ctx(c, x);
}

/* Forwards what a pipe has; with drain, until it is empty. */
static int forward(struct conn *c, int fd, uint16_t type, int drain,
		   int muted)
{
	ssize_t n;
	int r;

	do {
		n = read(fd, c->buf, PROTO_CHUNK);
		if (n <= 0)
			return 0;
		if (!muted && (r = proto_write_frame(c->fd, type, c->buf,
						     (size_t)n)) < 0)
			return r;
	} while (drain);
	return 0;
}

struct run {
	struct conn *c;
	struct ctx *x;
	int muted;      /* the client left: keep reading, send nothing */
	int timed_out;
	int done;
};

/* Handles control lines; sets done at "done". <0 when the runner died. */
static int run_ctl(struct run *rn)
{
	struct ctx *x = rn->x;
	size_t len;
	int r;

	while ((r = ctl_line(x, &len)) > 0) {
		uint16_t type = 0;
		const char *body = NULL;

		if (!strncmp(x->line, "result ", 7))
			type = PROTO_RESULT, body = x->line + 7;
		else if (!strncmp(x->line, "error ", 6))
			type = PROTO_CTX_ERROR, body = x->line + 6;
		else if (!strcmp(x->line, "done"))
			rn->done = 1;
		if (type && !rn->muted &&
		    strlen(body) <= PROTO_MAX_BODY &&
		    proto_write_frame(rn->c->fd, type, body, strlen(body)) < 0)
			rn->muted = 1;
		ctl_consume(x, len);
		if (rn->done)
			return 0;
	}
	return r;
}

static void interrupt(struct run *rn)
{
	kill(rn->x->ch->pid, SIGINT);
}

static int run_loop(struct run *rn, uint64_t deadline)
{
	struct ctx *x = rn->x;
	struct pollfd p[4];
	uint64_t hard = 0;

	while (!rn->done) {
		p[0] = (struct pollfd){ .fd = x->out, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = x->err, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = x->ctl, .events = POLLIN };
		p[3] = (struct pollfd){ .fd = rn->muted ? -1 : rn->c->fd,
					.events = POLLIN };
		poll(p, 4, 200);
		if (p[0].revents && forward(rn->c, x->out, PROTO_STDOUT, 0, rn->muted))
			rn->muted = 1;
		if (p[1].revents && forward(rn->c, x->err, PROTO_STDERR, 0, rn->muted))
			rn->muted = 1;
		if (p[2].revents && run_ctl(rn) < 0)
			return -EPIPE;
		if (p[3].revents && !rn->muted) {
			rn->muted = 1; /* any byte or hangup: cancel */
			interrupt(rn);
			hard = mono_ms() + 5000;
		}
		if (deadline && !rn->timed_out && mono_ms() >= deadline) {
			rn->timed_out = 1;
			interrupt(rn);
			hard = mono_ms() + 5000;
		}
		if (hard && mono_ms() >= hard)
			return -ETIMEDOUT;
	}
	forward(rn->c, x->out, PROTO_STDOUT, 1, rn->muted);
	forward(rn->c, x->err, PROTO_STDERR, 1, rn->muted);
	return 0;
}

/* Sends the request line and the code to the runner. */
static int send_code(struct ctx *x, const struct proto_frame *req)
{
	struct proto_field fl;
	char head[32];
	int r;

	if (proto_find(req, PT_SOURCE, &fl) < 0)
		return -EINVAL;
	snprintf(head, sizeof(head), "RUN %u\n", fl.len);
	r = proto_write_all(x->req, head, strlen(head));
	return r ? r : proto_write_all(x->req, fl.val, fl.len);
}

static int run_op(struct conn *c, const struct proto_frame *req)
{
	uint32_t tmo = proto_u32_or(req, PT_TIMEOUT_MS, 0);
	struct run rn = { .c = c };
	uint64_t t0 = mono_ms();
	struct proto_builder b;
	char id[64];
	int r;

	if (proto_get_str(req, PT_ID, id, sizeof(id)) < 0)
		return conn_error(c, EINVAL, "no context id");
	rn.x = ctx_get(c->ag, id);
	if (!rn.x)
		return conn_error(c, ENOENT, "no such context");
	pthread_mutex_lock(&rn.x->run_lock);
	r = rn.x->dead ? -EPIPE : send_code(rn.x, req);
	if (r == 0)
		r = run_loop(&rn, tmo ? t0 + tmo : 0);
	if (r < 0 && r != -EINVAL) {
		rn.x->dead = 1; /* the runner is gone or stuck: kill it */
		reaper_kill(c->ag, rn.x->ch, SIGKILL);
	}
	pthread_mutex_unlock(&rn.x->run_lock);
	ctx_put(c->ag, rn.x);
	if (rn.muted)
		return -ECONNRESET;
	if (r < 0)
		return conn_error(c, r, r == -EINVAL ? "no source" : "the runner died");
	if (rn.timed_out)
		return conn_error(c, ETIMEDOUT, "the run timed out");
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_DONE);
	proto_put_u64(&b, PT_DURATION_MS, mono_ms() - t0);
	return conn_send(c, &b);
}

/* CTX frames for every context are built under the lock, sent after it. */
static int list_op(struct conn *c)
{
	size_t cap = 0, len = 0, need;
	struct proto_builder b;
	uint8_t *all = NULL, *grown;
	struct ctx *x;
	uint32_t n = 0;
	int r = 0, k;

	pthread_mutex_lock(&c->ag->lock);
	for (x = c->ag->ctxs; x && r == 0; x = x->next) {
		need = 3 * PROTO_TLV_HDR_LEN + PROTO_HDR_LEN + strlen(x->id) +
		       strlen(x->lang) + strlen(x->cwd);
		if (len + need > cap) {
			cap = (len + need) * 2;
			grown = realloc(all, cap);
			if (!grown) {
				r = -ENOMEM;
				break;
			}
			all = grown;
		}
		proto_build_begin(&b, all + len, cap - len, PROTO_CTX);
		proto_put_str(&b, PT_ID, x->id);
		proto_put_str(&b, PT_LANGUAGE, x->lang);
		proto_put_str(&b, PT_CWD, x->cwd);
		k = proto_build_end(&b);
		if (k > 0)
			len += (size_t)k, n++;
	}
	pthread_mutex_unlock(&c->ag->lock);
	if (r == 0 && len)
		r = proto_write_all(c->fd, all, len);
	free(all);
	if (r)
		return r == -ENOMEM ? conn_error(c, r, NULL) : r;
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_END);
	proto_put_u32(&b, PT_COUNT, n);
	return conn_send(c, &b);
}

static int delete_op(struct conn *c, const struct proto_frame *req)
{
	struct ctx **pp, *x = NULL;
	char id[64];

	if (proto_get_str(req, PT_ID, id, sizeof(id)) < 0)
		return conn_error(c, EINVAL, "no context id");
	pthread_mutex_lock(&c->ag->lock);
	for (pp = &c->ag->ctxs; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->id, id)) {
			x = *pp;
			*pp = x->next;
			x->dead = 1;
			break;
		}
	}
	pthread_mutex_unlock(&c->ag->lock);
	if (!x)
		return conn_error(c, ENOENT, "no such context");
	reaper_kill(c->ag, x->ch, SIGKILL);
	ctx_put(c->ag, x);
	return conn_empty(c, PROTO_OK);
}

/* Serves one code-context op. */
int contexts_op(struct conn *c, const struct proto_frame *req)
{
	switch (req->type) {
	case PROTO_CTX_CREATE:
		return create_op(c, req);
	case PROTO_CTX_RUN:
		return run_op(c, req);
	case PROTO_CTX_LIST:
		return list_op(c);
	default:
		return delete_op(c, req);
	}
}
