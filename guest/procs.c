/*
 * guest/procs.c: background processes: PROC_START, PROC_LIST, PROC_GET,
 * PROC_KILL, PROC_KILL_ALL, PROC_LOGS.
 *
 * A background process outlives the connection that started it. A pump
 * thread per process reads its stdout and stderr into one bounded ring per
 * stream (RING_CAP bytes; the oldest bytes are dropped and counted), and
 * records the exit. Log readers copy from the rings under agent.lock and,
 * when following, wait on agent.cond, which the pump broadcasts. Entries
 * stay in the table for the agent's life.
 */
#include "guest/agent.h"
#include "guest/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEEP_LOGS 32    /* finished processes whose logs are kept */
#define MAX_RUNNING 128 /* background processes at once */

struct proc {
	struct agent *ag;
	char id[64];
	char cmd[1024];
	struct child *ch;  /* NULL once the pump released it */
	struct ring rings[2];
	int out, err;
	pid_t pid;
	int killed, finished, status;
	uint64_t start_ms, end_ms;
	struct proc *next;
};

static struct proc *find_proc(struct agent *ag, const char *id)
{
	struct proc *p;

	for (p = ag->procs; p; p = p->next)
		if (!strcmp(p->id, id))
			return p;
	return NULL;
}

/* Reads a pipe into a ring; closes the fd at end of stream. */
static void pump_one(struct agent *ag, struct proc *p, int *fd, int idx)
{
	uint8_t tmp[16384];
	ssize_t n = read(*fd, tmp, sizeof(tmp));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	pthread_mutex_lock(&ag->lock);
	if (n > 0)
		ring_put(&p->rings[idx], tmp, (size_t)n);
	pthread_cond_broadcast(&ag->cond);
	pthread_mutex_unlock(&ag->lock);
	if (n <= 0) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Agent memory must not grow with the number of processes started: only
 * the KEEP_LOGS most recent finished processes keep their log rings (older
 * ones answer PROC_LOGS with everything counted as dropped). Lock held.
 */
static void prune_logs(struct agent *ag)
{
	struct proc *p;
	int n = 0;

	for (p = ag->procs; p; p = p->next) {
		if (!p->finished || ++n <= KEEP_LOGS)
			continue;
		ring_free(&p->rings[0]);
		ring_free(&p->rings[1]);
	}
}

static int running_count(struct agent *ag)
{
	struct proc *p;
	int n = 0;

	for (p = ag->procs; p; p = p->next)
		n += !p->finished;
	return n;
}

static void *pump_main(void *arg)
{
	struct proc *p = arg;
	struct agent *ag = p->ag;
	struct child *ch = p->ch;
	struct pollfd fds[3];
	int exited = 0;

	while (p->out >= 0 || p->err >= 0) {
		fds[0] = (struct pollfd){ .fd = p->out, .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = p->err, .events = POLLIN };
		fds[2] = (struct pollfd){ .fd = exited ? -1 : ch->pidfd,
					  .events = POLLIN };
		if (poll(fds, 3, 200) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			pump_one(ag, p, &p->out, 0);
		if (fds[1].revents)
			pump_one(ag, p, &p->err, 1);
		if (!exited && (fds[2].revents || ch->done)) {
			exited = 1;
			reaper_kill(ag, ch, SIGKILL); /* what holds the pipes */
		}
	}
	while (!reaper_wait(ag, ch, 1000))
		;
	pthread_mutex_lock(&ag->lock);
	p->status = ch->status;
	p->end_ms = ch->end_ms;
	p->finished = 1;
	p->ch = NULL;
	prune_logs(ag);
	pthread_cond_broadcast(&ag->cond);
	pthread_mutex_unlock(&ag->lock);
	reaper_put(ag, ch);
	return NULL;
}

static const char *status_text(const struct proc *p)
{
	if (!p->finished)
		return "running";
	if (p->killed && WIFSIGNALED(p->status))
		return "killed";
	if (WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0)
		return "completed";
	return "failed";
}

/* Builds PROC for p into c->out; lock held. */
static void build_proc(struct conn *c, struct proto_builder *b,
		       const struct proc *p)
{
	proto_build_begin(b, c->out, PROTO_MAX_FRAME, PROTO_PROC);
	proto_put_str(b, PT_ID, p->id);
	proto_put_u32(b, PT_PID, (uint32_t)p->pid);
	proto_put_str(b, PT_CMD, p->cmd);
	proto_put_str(b, PT_STATUS, status_text(p));
	proto_put_u64(b, PT_START_MS, p->start_ms);
	proto_put_u64(b, PT_END_MS, p->finished ? p->end_ms : 0);
	if (p->finished && WIFEXITED(p->status))
		proto_put_u32(b, PT_EXIT_CODE, (uint32_t)WEXITSTATUS(p->status));
	if (p->finished && WIFSIGNALED(p->status)) {
		proto_put_u32(b, PT_EXIT_CODE, 128 + (uint32_t)WTERMSIG(p->status));
		proto_put_u32(b, PT_SIGNAL, (uint32_t)WTERMSIG(p->status));
	}
}

static int send_proc(struct conn *c, struct proc *p)
{
	struct proto_builder b;

	pthread_mutex_lock(&c->ag->lock);
	build_proc(c, &b, p);
	pthread_mutex_unlock(&c->ag->lock);
	return conn_send(c, &b);
}

static int valid_id(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (!(id[i] == '-' || id[i] == '_' || id[i] == '.' ||
		      (id[i] >= '0' && id[i] <= '9') ||
		      ((id[i] | 0x20) >= 'a' && (id[i] | 0x20) <= 'z')))
			return 0;
	return i > 0;
}

/* Spawns the process for p with pipes; 0 or -errno. */
static int proc_spawn(struct conn *c, const struct proto_frame *req,
		      struct proc *p)
{
	char **argv, **envp, cwd[AGENT_PATH_MAX];
	int po[2], pe[2], nul, r;
	struct spawn sp;

	r = exec_build(c->ag, req, &argv, &envp, cwd);
	if (r < 0)
		return r;
	if (!argv[0]) {
		exec_free_argv(argv);
		exec_free_argv(envp);
		return -EINVAL;
	}
	po[0] = po[1] = pe[0] = pe[1] = -1;
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul < 0 || pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		r = -errno;
	} else {
		sp = (struct spawn){ .argv = argv, .envp = envp, .cwd = cwd,
				     .fd_in = nul, .fd_out = po[1],
				     .fd_err = pe[1], .extra_fd = -1 };
		r = reaper_spawn(c->ag, &sp, 0, &p->ch);
	}
	exec_free_argv(argv);
	exec_free_argv(envp);
	if (nul >= 0)
		close(nul);
	if (po[1] >= 0)
		close(po[1]);
	if (pe[1] >= 0)
		close(pe[1]);
	p->out = po[0];
	p->err = pe[0];
	if (r < 0) {
		if (po[0] >= 0)
			close(po[0]);
		if (pe[0] >= 0)
			close(pe[0]);
	}
	return r;
}

static int start_op(struct conn *c, const struct proto_frame *req)
{
	struct agent *ag = c->ag;
	struct proc *p = calloc(1, sizeof(*p));
	pthread_t t;
	int r;

	if (!p)
		return conn_error(c, ENOMEM, NULL);
	p->ag = ag;
	if (proto_get_str(req, PT_ID, p->id, sizeof(p->id)) >= 0 &&
	    !valid_id(p->id)) {
		free(p);
		return conn_error(c, EINVAL, "bad process id");
	}
	exec_cmd_text(req, p->cmd, sizeof(p->cmd));
	pthread_mutex_lock(&ag->lock);
	if (!p->id[0])
		snprintf(p->id, sizeof(p->id), "proc-%u", ++ag->next_id);
	r = find_proc(ag, p->id) ? -EEXIST : 0;
	if (r == 0 && running_count(ag) >= MAX_RUNNING)
		r = -EAGAIN;
	pthread_mutex_unlock(&ag->lock);
	if (r == 0)
		r = proc_spawn(c, req, p);
	if (r < 0) {
		free(p);
		return conn_error(c, r, NULL);
	}
	p->pid = p->ch->pid;
	p->start_ms = p->ch->start_ms;
	pthread_mutex_lock(&ag->lock);
	p->next = ag->procs;
	ag->procs = p;
	pthread_mutex_unlock(&ag->lock);
	if (pthread_create(&t, NULL, pump_main, p) == 0) {
		pthread_detach(t);
	} else { /* no thread to watch it: it cannot run unwatched */
		reaper_kill(ag, p->ch, SIGKILL);
		pump_main(p);
	}
	return send_proc(c, p);
}

static int list_op(struct conn *c)
{
	struct proto_builder b;
	struct proc *p;
	uint32_t n = 0;
	int r = 0;

	/* Entries are never removed and go in front: next never changes. */
	pthread_mutex_lock(&c->ag->lock);
	p = c->ag->procs;
	pthread_mutex_unlock(&c->ag->lock);
	for (; p && r == 0; p = p->next, n++)
		r = send_proc(c, p);
	if (r)
		return r;
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_END);
	proto_put_u32(&b, PT_COUNT, n);
	return conn_send(c, &b);
}

/* Sends sig to p's tree; lock held. */
static void kill_proc(struct agent *ag, struct proc *p, int sig)
{
	if (!p->ch || p->finished)
		return;
	p->killed = 1;
	reaper_kill(ag, p->ch, sig);
}

/* Signals every running background process (PROC_KILL_ALL, shutdown). */
void procs_kill_all(struct agent *ag, int sig)
{
	struct proc *p;

	pthread_mutex_lock(&ag->lock);
	for (p = ag->procs; p; p = p->next)
		kill_proc(ag, p, sig);
	pthread_mutex_unlock(&ag->lock);
}

static int kill_op(struct conn *c, const struct proto_frame *req)
{
	int sig = (int)proto_u32_or(req, PT_SIGNAL_NUM, SIGTERM);
	struct proto_builder b;
	char id[64];
	struct proc *p;
	uint32_t n = 0;

	if (sig <= 0 || sig >= 65)
		return conn_error(c, EINVAL, "bad signal");
	if (req->type == PROTO_PROC_KILL_ALL) {
		pthread_mutex_lock(&c->ag->lock);
		for (p = c->ag->procs; p; p = p->next)
			n += p->ch && !p->finished;
		pthread_mutex_unlock(&c->ag->lock);
		procs_kill_all(c->ag, sig);
		proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_OK);
		proto_put_u32(&b, PT_COUNT, n);
		return conn_send(c, &b);
	}
	if (proto_get_str(req, PT_ID, id, sizeof(id)) < 0)
		return conn_error(c, EINVAL, "no process id");
	pthread_mutex_lock(&c->ag->lock);
	p = find_proc(c->ag, id);
	if (p)
		kill_proc(c->ag, p, sig);
	pthread_mutex_unlock(&c->ag->lock);
	return p ? conn_empty(c, PROTO_OK) : conn_error(c, ENOENT, "no such process");
}

static int get_op(struct conn *c, const struct proto_frame *req)
{
	char id[64];
	struct proc *p;

	if (proto_get_str(req, PT_ID, id, sizeof(id)) < 0)
		return conn_error(c, EINVAL, "no process id");
	pthread_mutex_lock(&c->ag->lock);
	p = find_proc(c->ag, id);
	pthread_mutex_unlock(&c->ag->lock);
	return p ? send_proc(c, p) : conn_error(c, ENOENT, "no such process");
}

/* 1 when the client hung up (a follower checks while idle). */
static int client_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

static void wait_change(struct agent *ag)
{
	struct timespec ts;
	uint64_t t = now_ms() + 200;

	ts.tv_sec = (time_t)(t / 1000);
	ts.tv_nsec = (long)(t % 1000) * 1000000L;
	pthread_cond_timedwait(&ag->cond, &ag->lock, &ts);
}

static int send_log_info(struct conn *c, struct proc *p)
{
	struct proto_builder b;

	pthread_mutex_lock(&c->ag->lock);
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_OK);
	proto_put_u64(&b, PT_OUT_DROPPED, ring_dropped(&p->rings[0]));
	proto_put_u64(&b, PT_ERR_DROPPED, ring_dropped(&p->rings[1]));
	proto_put_u64(&b, PT_OUT_TOTAL, p->rings[0].total);
	proto_put_u64(&b, PT_ERR_TOTAL, p->rings[1].total);
	pthread_mutex_unlock(&c->ag->lock);
	return conn_send(c, &b);
}

static int send_log_end(struct conn *c, struct proc *p, int follow)
{
	struct proto_builder b;
	int st = p->status;

	if (!follow)
		return conn_empty(c, PROTO_END);
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_EXIT);
	proto_put_u32(&b, PT_EXIT_CODE, WIFEXITED(st) ? (uint32_t)WEXITSTATUS(st)
						       : 128 + (uint32_t)WTERMSIG(st));
	proto_put_u32(&b, PT_SIGNAL, WIFSIGNALED(st) ? (uint32_t)WTERMSIG(st) : 0);
	proto_put_u32(&b, PT_TIMED_OUT, 0);
	proto_put_u64(&b, PT_DURATION_MS, p->end_ms - p->start_ms);
	return conn_send(c, &b);
}

static int logs_op(struct conn *c, const struct proto_frame *req)
{
	uint32_t stream = proto_u32_or(req, PT_STREAM, 0);
	int follow = (int)proto_u32_or(req, PT_FOLLOW, 0), r, idx, fin;
	uint64_t off[2];
	char id[64];
	struct proc *p;
	size_t n;

	off[0] = off[1] = proto_u64_or(req, PT_OFFSET, 0);
	if (proto_get_str(req, PT_ID, id, sizeof(id)) < 0)
		return conn_error(c, EINVAL, "no process id");
	pthread_mutex_lock(&c->ag->lock);
	p = find_proc(c->ag, id);
	pthread_mutex_unlock(&c->ag->lock);
	if (!p)
		return conn_error(c, ENOENT, "no such process");
	if ((r = send_log_info(c, p)) < 0)
		return r;
	for (;;) {
		pthread_mutex_lock(&c->ag->lock);
		n = 0;
		for (idx = 0; idx < 2 && !n; idx++)
			if (stream == 0 || stream == (uint32_t)idx + 1)
				n = ring_get(&p->rings[idx], &off[idx], c->buf,
					     PROTO_CHUNK);
		fin = p->finished;
		if (!n && follow && !fin)
			wait_change(c->ag);
		pthread_mutex_unlock(&c->ag->lock);
		if (n) { /* idx is one past the ring that gave bytes */
			r = proto_write_frame(c->fd, idx == 1 ? PROTO_STDOUT
							     : PROTO_STDERR,
					      c->buf, n);
			if (r < 0)
				return r;
			continue;
		}
		if (fin || !follow)
			break;
		if (client_gone(c->fd))
			return -ECONNRESET;
	}
	return send_log_end(c, p, follow);
}

/* Serves one process op; 0 or -errno when the client is gone. */
int procs_op(struct conn *c, const struct proto_frame *req)
{
	switch (req->type) {
	case PROTO_PROC_START:
		return start_op(c, req);
	case PROTO_PROC_LIST:
		return list_op(c);
	case PROTO_PROC_GET:
		return get_op(c, req);
	case PROTO_PROC_KILL:
	case PROTO_PROC_KILL_ALL:
		return kill_op(c, req);
	default:
		return logs_op(c, req);
	}
}
