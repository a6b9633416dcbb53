/*
 * hv/supervisor.c: start, watch and stop sbx-vmm processes (used by sbxd).
 *
 * Spawn builds the whole argv before fork() so that the child only makes
 * async-signal-safe calls (sbxd may have threads): set PR_SET_PDEATHSIG,
 * its own process group, stdin from /dev/null, the readiness pipe on fd 3,
 * close every other fd, exec. The parent keeps a pidfd (for epoll) and the
 * read end of the readiness pipe. vsock_dial speaks the CONNECT handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hv/supervisor.h"
#include "hv/vsock_line.h"

#define SUP_MAX_ARGS (40 + 2 * SBX_VMM_MAX_NET_RULES)

struct sup_argv {
	char *argv[SUP_MAX_ARGS];
	int n;
	char num[6][24];
	int nnum;
};

static void sup_add(struct sup_argv *a, const char *opt, const char *val)
{
	if (!val || a->n + 2 >= SUP_MAX_ARGS)
		return;
	a->argv[a->n++] = (char *)opt;
	a->argv[a->n++] = (char *)val;
}

static void sup_add_num(struct sup_argv *a, const char *opt, unsigned long v)
{
	if (a->nnum >= 6)
		return;
	snprintf(a->num[a->nnum], sizeof(a->num[0]), "%lu", v);
	sup_add(a, opt, a->num[a->nnum++]);
}

static int sup_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	errno = ENOSYS;
	return -1;
#endif
}

int sbx_vmm_spawn(const struct sbx_vmm_config *cfg, struct sbx_vmm *vmm)
{
	struct sup_argv a = { .n = 0 };
	int pipefd[2], errpipe[2], nul, err;
	pid_t parent = getpid(), pid;
	ssize_t r;

	vmm->pid = -1;
	vmm->pidfd = -1;
	vmm->ready_fd = -1;
	vmm->status = -1;
	if (!cfg->kernel || !cfg->vsock_path)
		return -EINVAL;

	a.argv[a.n++] = (char *)(cfg->vmm_path ? cfg->vmm_path : "sbx-vmm");
	sup_add(&a, "--kernel", cfg->kernel);
	sup_add(&a, "--initrd", cfg->initrd);
	sup_add(&a, "--rootfs", cfg->rootfs);
	sup_add(&a, "--disk", cfg->disk);
	sup_add(&a, "--vsock", cfg->vsock_path);
	sup_add(&a, "--console", cfg->console_path);
	sup_add(&a, "--cmdline", cfg->cmdline);
	sup_add_num(&a, "--cpus", cfg->cpus ? cfg->cpus : 1);
	sup_add_num(&a, "--mem", cfg->mem_mib ? cfg->mem_mib : 512);
	sup_add(&a, "--ready-fd", "3");
	if (cfg->jail_uid > 0) {
		sup_add_num(&a, "--jail-uid", cfg->jail_uid);
		sup_add_num(&a, "--jail-gid", cfg->jail_gid ? cfg->jail_gid : cfg->jail_uid);
		sup_add(&a, "--jail-dir", cfg->jail_dir);
	}
	if (cfg->net) {
		if (cfg->n_net_rules > SBX_VMM_MAX_NET_RULES ||
		    (cfg->n_net_rules && !cfg->net_rules))
			return -EINVAL;
		a.argv[a.n++] = (char *)"--net";
		for (unsigned i = 0; i < cfg->n_net_rules; i++)
			sup_add(&a, "--net-rule", cfg->net_rules[i]);
	}
	a.argv[a.n] = NULL;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		err = -errno;
		goto err_pipe;
	}
	nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nul < 0) {
		err = -errno;
		goto err_errpipe;
	}

	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto err_nul;
	}
	if (pid == 0) {
		int e;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0);
		if (dup2(nul, 0) < 0 || dup2(pipefd[1], 3) < 0)
			goto child_fail;
		if (errpipe[1] != 4) {
			if (dup2(errpipe[1], 4) < 0)
				goto child_fail;
		}
		fcntl(4, F_SETFD, FD_CLOEXEC);
		syscall(SYS_close_range, 5, ~0U, 0);
		{
			sigset_t none;

			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
		}
		if (strchr(a.argv[0], '/'))
			execv(a.argv[0], a.argv);
		else
			execvp(a.argv[0], a.argv);
child_fail:
		e = errno;
		if (write(4, &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}

	close(pipefd[1]);
	close(errpipe[1]);
	close(nul);
	pipefd[1] = errpipe[1] = -1;
	/* The child's exec closes errpipe; an int arrives only on failure. */
	do
		r = read(errpipe[0], &err, sizeof(err));
	while (r < 0 && errno == EINTR);
	close(errpipe[0]);
	if (r == sizeof(err)) {
		waitpid(pid, NULL, 0);
		close(pipefd[0]);
		return -(err ? err : ENOENT);
	}
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	vmm->pid = pid;
	vmm->pidfd = sup_pidfd_open(pid);
	if (vmm->pidfd >= 0)
		fcntl(vmm->pidfd, F_SETFD, FD_CLOEXEC);
	vmm->ready_fd = pipefd[0];
	return 0;

err_nul:
	close(nul);
err_errpipe:
	close(errpipe[0]);
	close(errpipe[1]);
err_pipe:
	close(pipefd[0]);
	close(pipefd[1]);
	return err;
}

int sbx_vmm_poll(struct sbx_vmm *vmm)
{
	int st;
	pid_t r;

	if (vmm->status != -1)
		return 1;
	if (vmm->pid <= 0)
		return -ECHILD;
	r = waitpid(vmm->pid, &st, WNOHANG);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	vmm->status = st;
	return 1;
}

/* Signals the VMM's process group (it made its own), else the process. */
static int sup_kill(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && kill(pid, sig) < 0)
		return -errno;
	return 0;
}

int sbx_vmm_signal(struct sbx_vmm *vmm, int sig)
{
	/* Not reaped means the pid (and its group) cannot have been reused. */
	if (vmm->pid <= 0 || vmm->status != -1)
		return -ESRCH;
	return sup_kill(vmm->pid, sig);
}

int sbx_vmm_stop(struct sbx_vmm *vmm, unsigned grace_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	unsigned waited = 0;
	int r;

	r = sbx_vmm_poll(vmm);
	if (r != 0)
		return r < 0 ? r : 0;
	sup_kill(vmm->pid, SIGTERM);
	while (waited < grace_ms) {
		r = sbx_vmm_poll(vmm);
		if (r != 0)
			return r < 0 ? r : 0;
		nanosleep(&ts, NULL);
		waited += 10;
	}
	sup_kill(vmm->pid, SIGKILL);
	while (waitpid(vmm->pid, &vmm->status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

void sbx_vmm_close(struct sbx_vmm *vmm)
{
	if (vmm->pidfd >= 0)
		close(vmm->pidfd);
	if (vmm->ready_fd >= 0)
		close(vmm->ready_fd);
	vmm->pidfd = vmm->ready_fd = -1;
}

int sbx_vmm_exit_decode(int wait_status, const char **name)
{
	static const char *const names[] = {
		[SBX_VMM_EXIT_POWEROFF] = "poweroff", [SBX_VMM_EXIT_REBOOT] = "reboot",
		[SBX_VMM_EXIT_ERROR] = "error",       [SBX_VMM_EXIT_USAGE] = "usage",
		[SBX_VMM_EXIT_CRASH] = "crash",       [SBX_VMM_EXIT_SIGNAL] = "signal",
	};
	int code;

	if (WIFEXITED(wait_status)) {
		code = WEXITSTATUS(wait_status);
		if (code >= 0 && code <= SBX_VMM_EXIT_SIGNAL) {
			if (name)
				*name = names[code];
			return code;
		}
		if (name)
			*name = "error";
		return SBX_VMM_EXIT_ERROR;
	}
	if (name)
		*name = "killed by signal";
	return SBX_VMM_EXIT_ERROR;
}

int vsock_dial(const char *uds_path, uint32_t port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[VSOCK_LINE_MAX + 1];
	size_t got = 0;
	uint32_t hostport;
	int fd, n, err;

	if (strlen(uds_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, uds_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto fail;
	}
	n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		err = -EIO;
		goto fail;
	}
	/* Read one byte at a time so no guest data past the line is eaten. */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		n = poll(&p, 1, 2000);
		if (n == 0) {
			err = -ETIMEDOUT;
			goto fail;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto fail;
		}
		r = read(fd, line + got, 1);
		if (r == 0) {
			err = -ECONNREFUSED;
			goto fail;
		}
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			err = -errno;
			goto fail;
		}
		got++;
		n = vsock_line_ok(line, got, &hostport);
		if (n > 0)
			return fd;
		if (n < 0) {
			err = -ECONNREFUSED;
			goto fail;
		}
	}
fail:
	close(fd);
	return err;
}
