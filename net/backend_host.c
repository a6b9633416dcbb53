/*
 * net/backend_host.c: the host backend (tests and development only).
 *
 * Each sandbox is an `sbx-init --host --listen SOCK --root DIR/workspace`
 * process: the same agent and protocol as in a VM, with no isolation. Its
 * workspace is a plain folder, so it survives the process and sbxd.
 *
 * start() forks the agent and returns at once, like the VM backend: its
 * ready_fd is a timerfd ticking every HOST_POLL_MS, and on each tick
 * check_ready() tries to connect to the agent's socket, until it answers
 * or HOST_START_MS pass. An agent that exits first is noticed through its
 * pidfd (sandbox.c). The event loop serves other requests meanwhile. A stop
 * is the loop's too: signal() sends SIGTERM (SIGKILL after a grace) to the
 * agent's process group, reap() collects it once its pidfd says it exited.
 */
#include "net/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/sbxd.h"

#define HOST_POLL_MS 5     /* how often a starting agent is tried */
#define HOST_START_MS 5000 /* longest wait for it to listen */

static int host_prepare(struct sbxd *d, struct sandbox *s)
{
	char ws[4200];

	snprintf(ws, sizeof(ws), "%s/workspace", s->dir);
	if (mkdir(ws, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Connects a Unix stream socket to path. fd or -errno. */
static int host_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* The forked child: becomes the agent. Never returns. */
static void host_exec_agent(struct sbxd *d, struct sandbox *s, pid_t parent,
			    const char *ws, const char *log)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul >= 0)
		dup2(nul, 0);
	if (lfd >= 0) {
		dup2(lfd, 1);
		dup2(lfd, 2);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execl(d->cfg.agent, d->cfg.agent, "--host", "--listen", s->sock, "--root", ws,
	      (char *)NULL);
	_exit(127);
}

/* A timerfd firing every HOST_POLL_MS. fd or -errno. */
static int host_poll_timer(void)
{
	struct itimerspec it = {
		.it_interval = { 0, HOST_POLL_MS * 1000000L },
		.it_value = { 0, HOST_POLL_MS * 1000000L },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &it, NULL) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

static int host_start(struct sbxd *d, struct sandbox *s, int *pending)
{
	char ws[4200], log[4200];

	snprintf(ws, sizeof(ws), "%s/workspace", s->dir);
	snprintf(log, sizeof(log), "%s/agent.log", s->dir);
	mkdir(ws, 0755);
	unlink(s->sock);
	int tfd = host_poll_timer();
	if (tfd < 0)
		return tfd;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(tfd);
		return e;
	}
	if (pid == 0)
		host_exec_agent(d, s, parent, ws, log);
	s->pid = pid;
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	s->ready_fd = tfd;
	s->start_deadline_ms = loop_now_ms() + HOST_START_MS;
	*pending = 1;
	return 0;
}

/* On a tick of the poll timer: does the agent accept connections yet?
 * 1 yes (the timer is stopped), 0 not yet, -errno given up. */
static int host_check_ready(struct sbxd *d, struct sandbox *s)
{
	static const struct itimerspec off;
	uint64_t ticks;
	siginfo_t si = { 0 };

	if (read(s->ready_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -errno;
	int fd = host_connect(s->sock);
	if (fd >= 0) {
		close(fd);
		timerfd_settime(s->ready_fd, 0, &off, NULL);
		return 1;
	}
	/* Exited (not reaped here: stop() does it)? Normally the pidfd tells
	 * sandbox.c first; this covers a kernel without pidfd_open. */
	if (!waitid(P_PID, (id_t)s->pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid) {
		fprintf(stderr, "sbxd: agent %s exited at start (see %s/agent.log)\n",
			d->cfg.agent, s->dir);
		return -ECHILD;
	}
	return 0;
}

static int host_dial(struct sbxd *d, struct sandbox *s)
{
	return host_connect(s->sock);
}

static void host_signal(struct sbxd *d, struct sandbox *s, int sig)
{
	if (s->pid <= 0) /* reaped: the pid may be anyone's now */
		return;
	kill(-s->pid, sig);
	kill(s->pid, sig);
}

/* What an agent leaves behind once reaped. */
static void host_reaped(struct sandbox *s)
{
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	s->pid = 0;
	if (s->ready_fd >= 0)
		close(s->ready_fd);
	s->ready_fd = -1;
	if (s->sock[0])
		unlink(s->sock);
}

static int host_reap(struct sbxd *d, struct sandbox *s, int *status)
{
	int st = 0;

	if (s->pid > 0) {
		pid_t r = waitpid(s->pid, &st, WNOHANG);
		if (r == 0)
			return 0;
		if (r < 0)
			st = W_EXITCODE(127, 0);
	}
	*status = st;
	host_reaped(s);
	return 1;
}

/* sbxd's shutdown: SIGTERM, up to 2 s, SIGKILL, all waited for. */
static void host_stop(struct sbxd *d, struct sandbox *s)
{
	if (s->pid > 0) {
		host_signal(d, s, SIGTERM);
		int st;
		int done = 0;
		for (int i = 0; i < 200 && !done; i++) {
			if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
				done = 1;
				break;
			}
			struct timespec ts = { 0, 10 * 1000000 };
			nanosleep(&ts, NULL);
		}
		if (!done) {
			host_signal(d, s, SIGKILL);
			waitpid(s->pid, &st, 0);
		}
	}
	host_reaped(s);
}

static int host_rm(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) ? 0 : 0;
	unlink(path);
	return 0;
}

static int host_destroy(struct sbxd *d, struct sandbox *s)
{
	if (nftw(s->dir, host_rm, 32, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return -errno;
	return 0;
}

const struct backend_ops backend_host = {
	.name = "host",
	.check_ready = host_check_ready,
	.prepare = host_prepare,
	.start = host_start,
	.dial = host_dial,
	.signal = host_signal,
	.reap = host_reap,
	.stop = host_stop,
	.destroy = host_destroy,
};
