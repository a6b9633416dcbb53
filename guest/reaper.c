/*
 * guest/reaper.c: starting children, reaping every child (and, as PID 1 or a
 * subreaper, every orphan), and enforcing deadlines.
 *
 * SIGCHLD is blocked in every thread; one reaper thread waits for it with
 * sigtimedwait(), calls waitpid(-1) and records statuses in the table of
 * children (agent.children) under agent.lock, then broadcasts agent.cond.
 * Unknown pids (orphans) are simply reaped. The same thread kills trees whose
 * deadline passed, so a timeout holds even while the thread serving the
 * connection is blocked writing to a slow client. reaper_spawn() forks with
 * the lock held, so a child is always registered before it can be reaped.
 */
#include "guest/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static struct child *find_child(struct agent *ag, pid_t pid)
{
	struct child *ch;

	for (ch = ag->children; ch; ch = ch->next)
		if (ch->pid == pid && !ch->done)
			return ch;
	return NULL;
}

/* Reaps all exited children; called with the lock held. */
static void reap_all(struct agent *ag)
{
	struct child *ch;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		ch = find_child(ag, pid);
		if (!ch)
			continue;
		ch->done = 1;
		ch->status = status;
		ch->end_ms = now_ms();
	}
}

/* Kills trees past their deadline; returns ms to the next deadline. */
static uint64_t check_deadlines(struct agent *ag)
{
	uint64_t now = mono_ms(), next = 1000;
	struct child *ch;

	for (ch = ag->children; ch; ch = ch->next) {
		if (ch->done || !ch->deadline)
			continue;
		if (ch->deadline <= now) {
			if (!ch->timed_out)
				reaper_kill(ag, ch, SIGKILL);
			ch->timed_out = 1;
			continue;
		}
		if (ch->deadline - now < next)
			next = ch->deadline - now;
	}
	return next;
}

/* Host mode, SIGTERM or SIGINT: every tree we started dies with us. */
static void shutdown_all(struct agent *ag)
{
	struct child *ch;

	pthread_mutex_lock(&ag->lock);
	for (ch = ag->children; ch; ch = ch->next)
		if (!ch->done)
			reaper_kill(ag, ch, SIGKILL);
	_exit(0);
}

static void *reaper_main(void *arg)
{
	struct agent *ag = arg;
	struct timespec ts;
	uint64_t next = 1000;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (ag->host_mode) {
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
	}
	for (;;) {
		ts.tv_sec = (time_t)(next / 1000);
		ts.tv_nsec = (long)(next % 1000) * 1000000L;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			shutdown_all(ag);
		pthread_mutex_lock(&ag->lock);
		reap_all(ag);
		next = check_deadlines(ag);
		pthread_cond_broadcast(&ag->cond);
		pthread_mutex_unlock(&ag->lock);
		if (next < 5)
			next = 5;
	}
	return NULL;
}

/*
 * Starts the reaper thread. SIGCHLD must already be blocked in the calling
 * thread (main does it before any thread starts).
 */
int reaper_start(struct agent *ag)
{
	pthread_t t;
	int r = pthread_create(&t, NULL, reaper_main, ag);

	if (r)
		return -r;
	pthread_detach(t);
	return 0;
}

/* Moves fd to a number >= 10 so the dup2s below cannot clobber it. */
static int high_fd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD, 10);
}

/* In the child after fork: only async-signal-safe calls until exec. */
static void child_exec(const struct spawn *sp, int cg_fd, int errfd)
{
	int in = high_fd(sp->fd_in), out = high_fd(sp->fd_out);
	int err = high_fd(sp->fd_err), extra = high_fd(sp->extra_fd);
	sigset_t all;
	int e, sig, keep;

	setpgid(0, 0);
	if (cg_fd >= 0 && write(cg_fd, "0", 1) < 0)
		goto fail;
	for (sig = 1; sig < 32; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	if (extra >= 0 && dup2(extra, 3) < 0)
		goto fail;
	if (sp->cwd && chdir(sp->cwd) < 0)
		goto fail;
	keep = extra >= 0 ? 4 : 3; /* errfd survives until exec closes it */
	if (dup3(errfd, keep, O_CLOEXEC) < 0)
		goto fail;
	errfd = keep;
	syscall(SYS_close_range, keep + 1, ~0u, 0);
	execvpe(sp->argv[0], sp->argv, sp->envp);
fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

static int open_cgroup_procs(const char *cg)
{
	char p[AGENT_PATH_MAX + 32];

	if (!cg[0])
		return -1;
	snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
	return open(p, O_WRONLY | O_CLOEXEC);
}

/* Forks and waits for the exec to succeed; lock held. pid or -errno. */
static pid_t fork_exec(const struct spawn *sp, const char *cg)
{
	int ep[2], e = 0, cg_fd;
	ssize_t n;
	pid_t pid;

	if (pipe2(ep, O_CLOEXEC) < 0)
		return -errno;
	cg_fd = open_cgroup_procs(cg);
	pid = fork();
	if (pid == 0)
		child_exec(sp, cg_fd, ep[1]);
	e = errno;
	close(ep[1]);
	if (cg_fd >= 0)
		close(cg_fd);
	if (pid < 0) {
		close(ep[0]);
		return -e;
	}
	do
		n = read(ep[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		return -(e ? e : EIO);
	}
	return pid;
}

/*
 * Starts sp as a new child in its own process group (and cgroup when the
 * agent has one). timeout_ms > 0 sets a deadline after which the reaper kills
 * the tree and marks it timed_out. On success *out holds a reference that
 * the caller drops with reaper_put(). Returns 0 or -errno (exec errors, such
 * as -ENOENT for an unknown program, come back here).
 */
int reaper_spawn(struct agent *ag, const struct spawn *sp, uint64_t timeout_ms,
		 struct child **out)
{
	struct child *ch = calloc(1, sizeof(*ch));
	pid_t pid;

	if (!ch)
		return -ENOMEM;
	ch->pidfd = -1;
	if (ag->cgroup[0] && cgroup_new(ag, ch->cgroup, sizeof(ch->cgroup)) < 0)
		ch->cgroup[0] = 0;
	pthread_mutex_lock(&ag->lock);
	pid = fork_exec(sp, ch->cgroup);
	if (pid < 0) {
		pthread_mutex_unlock(&ag->lock);
		if (ch->cgroup[0])
			cgroup_remove(ch->cgroup);
		free(ch);
		return pid;
	}
	ch->pid = pid;
	ch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	ch->start_ms = now_ms();
	ch->deadline = timeout_ms ? mono_ms() + timeout_ms : 0;
	ch->refs = 1;
	ch->next = ag->children;
	ag->children = ch;
	pthread_mutex_unlock(&ag->lock);
	if (ch->deadline)
		kill(getpid(), SIGCHLD); /* the reaper recomputes its sleep */
	*out = ch;
	return 0;
}

/*
 * Sends sig to the child's tree: cgroup.kill for SIGKILL when the child has
 * a cgroup, the process group otherwise. Safe with or without the lock.
 */
void reaper_kill(struct agent *ag, struct child *ch, int sig)
{
	if (sig == SIGKILL && ch->cgroup[0])
		cgroup_kill(ch->cgroup);
	if (kill(-ch->pid, sig) < 0 && !ch->done)
		kill(ch->pid, sig);
}

/* Waits for the child to be reaped, at most timeout_ms. 1 if done. */
int reaper_wait(struct agent *ag, struct child *ch, uint64_t timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;
	struct timespec ts;
	int done;

	pthread_mutex_lock(&ag->lock);
	while (!ch->done && mono_ms() < end) {
		uint64_t t = now_ms() + (end - mono_ms());

		ts.tv_sec = (time_t)(t / 1000);
		ts.tv_nsec = (long)(t % 1000) * 1000000L;
		pthread_cond_timedwait(&ag->cond, &ag->lock, &ts);
	}
	done = ch->done;
	pthread_mutex_unlock(&ag->lock);
	return done;
}

/* Drops a reference; the last one unlinks the child and frees it. */
void reaper_put(struct agent *ag, struct child *ch)
{
	struct child **pp;

	pthread_mutex_lock(&ag->lock);
	if (--ch->refs > 0) {
		pthread_mutex_unlock(&ag->lock);
		return;
	}
	for (pp = &ag->children; *pp; pp = &(*pp)->next) {
		if (*pp == ch) {
			*pp = ch->next;
			break;
		}
	}
	pthread_mutex_unlock(&ag->lock);
	if (!ch->done)
		reaper_kill(ag, ch, SIGKILL);
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	if (ch->cgroup[0])
		cgroup_remove(ch->cgroup);
	free(ch);
}
