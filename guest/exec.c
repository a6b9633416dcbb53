/*
 * guest/exec.c: the EXEC op: run a command, stream its stdout and stderr
 * separately as they are produced, feed it stdin frames, report its exit.
 *
 * The thread serving the connection polls the two output pipes, the
 * connection (stdin frames, or the client leaving) and the child's pidfd.
 * Output is forwarded with blocking writes, so a slow client stalls the
 * child through its full pipe and memory stays bounded. Stdin goes through a
 * non-blocking pipe with one pending frame, so a child that does not read
 * stdin never blocks the output. Deadlines are enforced by the reaper thread
 * (reaper.c). When the child exits, whatever still holds its pipes open is
 * killed with its tree; when the client leaves, the tree is killed.
 */
#include "guest/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void exec_free_argv(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* Copies every field with this tag into a NULL-terminated array at v[*n]. */
static int collect(const struct proto_frame *req, uint16_t tag, char **v,
		   size_t *n)
{
	struct proto_field fl;
	size_t pos = 0;

	while (proto_next_field(req, &pos, &fl) > 0) {
		if (fl.tag != tag)
			continue;
		v[*n] = strndup((const char *)fl.val, fl.len);
		if (!v[*n])
			return -ENOMEM;
		(*n)++;
	}
	v[*n] = NULL;
	return 0;
}

static char **build_argv(const struct proto_frame *req)
{
	int nargs = proto_count(req, PT_ARG);
	struct proto_field fl;
	char **v = calloc((size_t)nargs + 4, sizeof(char *));
	size_t n = 0;

	if (!v)
		return NULL;
	if (proto_find(req, PT_CMD, &fl) == 0) {
		v[0] = strdup("/bin/sh");
		v[1] = strdup("-c");
		v[2] = strndup((const char *)fl.val, fl.len);
		if (!v[0] || !v[1] || !v[2])
			goto fail;
		return v;
	}
	if (collect(req, PT_ARG, v, &n) < 0)
		goto fail;
	return v; /* v[0] is NULL when there is no command at all */
fail:
	exec_free_argv(v);
	return NULL;
}

/* The name part of NAME=VALUE, with its '=', is overridden by an ENV field. */
static int overridden(const struct proto_frame *req, const char *e)
{
	const char *eq = strchr(e, '=');
	size_t klen = eq ? (size_t)(eq - e) + 1 : strlen(e);
	struct proto_field fl;
	size_t pos = 0;

	while (proto_next_field(req, &pos, &fl) > 0)
		if (fl.tag == PT_ENV && fl.len >= klen &&
		    memcmp(fl.val, e, klen) == 0)
			return 1;
	return 0;
}

static char **build_envp(const struct proto_frame *req)
{
	size_t n = 0, base = 0, i;
	char **v;

	while (environ[base])
		base++;
	v = calloc(base + (size_t)proto_count(req, PT_ENV) + 1, sizeof(char *));
	if (!v)
		return NULL;
	for (i = 0; i < base; i++) {
		if (overridden(req, environ[i]))
			continue;
		v[n] = strdup(environ[i]);
		if (!v[n++])
			goto fail;
	}
	if (collect(req, PT_ENV, v, &n) == 0)
		return v;
fail:
	exec_free_argv(v);
	return NULL;
}

/*
 * Builds argv (CMD through /bin/sh -c, else ARGs; argv[0] is NULL when the
 * request has neither, and argv has room for at least 3 entries), envp (the agent's
 * environment with ENV fields added or overriding) and the resolved CWD
 * (cwd holds AGENT_PATH_MAX bytes). 0 or -errno; on error nothing is held.
 */
int exec_build(struct agent *ag, const struct proto_frame *req, char ***argv,
	       char ***envp, char *cwd)
{
	char in[AGENT_PATH_MAX];
	struct stat st;
	int r;

	if (proto_get_str(req, PT_CWD, in, sizeof(in)) < 0)
		strcpy(in, "");
	r = files_resolve(ag, in, cwd, AGENT_PATH_MAX);
	if (r < 0)
		return r;
	if (stat(cwd, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*argv = build_argv(req);
	if (!*argv)
		return -EINVAL;
	*envp = build_envp(req);
	if (!*envp) {
		exec_free_argv(*argv);
		return -ENOMEM;
	}
	return 0;
}

/* The command as text: CMD, or the ARGs joined by spaces (truncated). */
void exec_cmd_text(const struct proto_frame *req, char *buf, size_t cap)
{
	struct proto_field fl;
	size_t pos = 0, n = 0;

	buf[0] = 0;
	if (proto_get_str(req, PT_CMD, buf, cap) >= 0 || cap < 2)
		return;
	while (proto_next_field(req, &pos, &fl) > 0 && n + 1 < cap) {
		size_t k = fl.len < cap - n - 1 ? fl.len : cap - n - 1;

		if (fl.tag != PT_ARG)
			continue;
		if (n && n + 1 < cap)
			buf[n++] = ' ';
		k = k < cap - n - 1 ? k : cap - n - 1;
		memcpy(buf + n, fl.val, k);
		n += k;
		buf[n] = 0;
	}
}

struct exec_run {
	struct conn *c;
	struct child *ch;
	int out, err, in;    /* our ends; -1 when closed */
	uint8_t *pend;       /* stdin bytes not yet taken by the child */
	size_t pend_off, pend_len;
	int stdin_eof;       /* close stdin once pend is written */
	int exited;
	int reaped_tree;     /* the tree was killed after the child exited */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Forwards one read of a pipe as a frame. <0 when the client is gone. */
static int pump_output(struct exec_run *x, int *fd, uint16_t type)
{
	ssize_t n = read(*fd, x->c->buf, PROTO_CHUNK);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		close_fd(fd);
		return 0;
	}
	return proto_write_frame(x->c->fd, type, x->c->buf, (size_t)n);
}

static void flush_stdin(struct exec_run *x)
{
	ssize_t n;

	while (x->in >= 0 && x->pend_off < x->pend_len) {
		n = write(x->in, x->pend + x->pend_off, x->pend_len - x->pend_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) { /* the child closed its stdin: drop the rest */
			x->pend_off = x->pend_len;
			close_fd(&x->in);
			return;
		}
		x->pend_off += (size_t)n;
	}
	if (x->stdin_eof)
		close_fd(&x->in);
}

/* Reads one client frame. <0 when the client left or misbehaved. */
static int client_frame(struct exec_run *x)
{
	struct proto_frame f;
	int r = proto_read_frame(x->c->fd, x->c->buf, PROTO_MAX_FRAME, &f);

	if (r < 0)
		return r;
	if (f.type == PROTO_STDIN && x->in >= 0 && f.len) {
		if (!x->pend && !(x->pend = malloc(PROTO_MAX_BODY)))
			return -ENOMEM;
		memcpy(x->pend, f.body, f.len);
		x->pend_off = 0;
		x->pend_len = f.len;
	} else if (f.type == PROTO_STDIN_EOF) {
		x->stdin_eof = 1;
	}
	flush_stdin(x);
	return 0;
}

/* Once the child exited, whatever holds its pipes is killed. */
static void after_exit(struct exec_run *x)
{
	if (x->reaped_tree)
		return;
	x->reaped_tree = 1;
	reaper_kill(x->c->ag, x->ch, SIGKILL);
	close_fd(&x->in);
}

static int exec_loop(struct exec_run *x)
{
	struct pollfd p[5];
	int n, r, want_client;

	while (x->out >= 0 || x->err >= 0 || !x->exited) {
		want_client = x->pend_off >= x->pend_len;
		p[0] = (struct pollfd){ .fd = x->out, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = x->err, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = want_client ? x->c->fd : -1,
					.events = POLLIN };
		p[3] = (struct pollfd){ .fd = x->pend_off < x->pend_len ? x->in : -1,
					.events = POLLOUT };
		p[4] = (struct pollfd){ .fd = x->exited ? -1 : x->ch->pidfd,
					.events = POLLIN };
		n = poll(p, 5, 200);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (!x->exited && (p[4].revents || x->ch->done))
			x->exited = 1;
		if (x->exited)
			after_exit(x);
		if (p[0].revents && (r = pump_output(x, &x->out, PROTO_STDOUT)) < 0)
			return r;
		if (p[1].revents && (r = pump_output(x, &x->err, PROTO_STDERR)) < 0)
			return r;
		if (p[2].revents && (r = client_frame(x)) < 0)
			return r;
		if (p[3].revents)
			flush_stdin(x);
	}
	return 0;
}

static int send_exit(struct exec_run *x, uint64_t t0)
{
	struct proto_builder b;
	struct child *ch = x->ch;
	int st = ch->status, code = 0, sig = 0;

	if (WIFEXITED(st))
		code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		sig = WTERMSIG(st), code = 128 + sig;
	if (ch->timed_out)
		code = 124;
	proto_build_begin(&b, x->c->out, PROTO_MAX_FRAME, PROTO_EXIT);
	proto_put_u32(&b, PT_EXIT_CODE, (uint32_t)code);
	proto_put_u32(&b, PT_SIGNAL, (uint32_t)sig);
	proto_put_u32(&b, PT_TIMED_OUT, (uint32_t)ch->timed_out);
	proto_put_u64(&b, PT_DURATION_MS, mono_ms() - t0);
	return conn_send(x->c, &b);
}

/* Pipes for the child: p[0..1] stdout, p[2..3] stderr, p[4..5] stdin. */
static int open_pipes(int p[6], int want_stdin)
{
	int i;

	for (i = 0; i < 6; i++)
		p[i] = -1;
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(p + 2, O_CLOEXEC) < 0)
		goto fail;
	if (want_stdin) {
		if (pipe2(p + 4, O_CLOEXEC) < 0)
			goto fail;
		fcntl(p[5], F_SETFL, O_NONBLOCK);
	} else if ((p[4] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		goto fail;
	}
	return 0;
fail:
	for (i = 0; i < 6; i++)
		if (p[i] >= 0)
			close(p[i]);
	return -errno;
}

static int exec_start(struct conn *c, const struct proto_frame *req,
		      struct exec_run *x, int p[6])
{
	char **argv = NULL, **envp = NULL, cwd[AGENT_PATH_MAX];
	uint32_t tmo = proto_u32_or(req, PT_TIMEOUT_MS, 0);
	struct spawn sp;
	int r;

	r = exec_build(c->ag, req, &argv, &envp, cwd);
	if (r < 0)
		return r;
	if (!argv || !argv[0]) { /* no CMD and no ARG (argv is set when r is 0) */
		exec_free_argv(argv);
		exec_free_argv(envp);
		return -EINVAL;
	}
	sp = (struct spawn){ .argv = argv, .envp = envp, .cwd = cwd,
			     .fd_in = p[4], .fd_out = p[1], .fd_err = p[3],
			     .extra_fd = -1 };
	r = reaper_spawn(c->ag, &sp, tmo, &x->ch);
	exec_free_argv(argv);
	exec_free_argv(envp);
	return r;
}

/*
 * EXEC: STARTED, STDOUT/STDERR frames, then EXIT; or ERROR before STARTED.
 * Returns 0, or -errno when the client left (the tree is killed then).
 */
int exec_op(struct conn *c, const struct proto_frame *req)
{
	struct exec_run x = { .c = c, .in = -1 };
	struct proto_builder b;
	uint64_t t0 = mono_ms();
	int p[6], r;

	r = open_pipes(p, (int)proto_u32_or(req, PT_STDIN, 0));
	if (r < 0)
		return conn_error(c, r, NULL);
	r = exec_start(c, req, &x, p);
	close(p[1]);
	close(p[3]);
	close(p[4]);
	x.out = p[0];
	x.err = p[2];
	x.in = p[5];
	if (r < 0) {
		conn_error(c, r, NULL);
		goto out;
	}
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_STARTED);
	proto_put_u32(&b, PT_PID, (uint32_t)x.ch->pid);
	r = conn_send(c, &b);
	if (r == 0)
		r = exec_loop(&x);
	if (r == 0 && !reaper_wait(c->ag, x.ch, 5000))
		r = -ETIMEDOUT;
	if (r == 0)
		r = send_exit(&x, t0);
	else
		reaper_kill(c->ag, x.ch, SIGKILL);
	reaper_put(c->ag, x.ch);
out:
	close_fd(&x.out);
	close_fd(&x.err);
	close_fd(&x.in);
	free(x.pend);
	return r;
}
