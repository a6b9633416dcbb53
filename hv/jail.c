/*
 * hv/jail.c: sbx-vmm's self-isolation, in this order, after vmm_build()
 * opened everything it needs (/dev/kvm, VM and vCPU fds, disks, console
 * log, the listening vsock socket) and before the first KVM_RUN:
 *
 *   1. a new mount namespace, mounts made private (nothing leaks back);
 *   2. chroot into --jail-dir (holding only this sandbox's files; sbxd puts
 *      the vsock sockets there), chdir /;
 *   3. rlimits: no core dumps, a bounded number of open files;
 *   4. drop supplementary groups, then gid, then uid to --jail-uid/gid;
 *   5. PR_SET_PDEATHSIG again (a uid change clears it), no-new-privs,
 *      not dumpable;
 *   6. (main) seccomp_install(): the syscall allowlist.
 *
 * Guest-initiated vsock connections then resolve "<path>_P" inside the
 * jail: the path is rewritten relative to the jail root.
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hv/vmm.h"

static int jail_rlimit(int res, rlim_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

int jail_enter(struct vm *vm)
{
	const char *dir = vm->cfg.jail_dir;
	uid_t uid = vm->cfg.jail_uid;
	gid_t gid = vm->cfg.jail_gid;
	pid_t ppid = getppid();
	int r;

	if (!uid)
		return -EINVAL; /* never "jail" as root */
	if (dir) {
		size_t dl = strlen(dir);

		if (unshare(CLONE_NEWNS) < 0)
			return -errno;
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return -errno;
		if (chroot(dir) < 0 || chdir("/") < 0)
			return -errno;
		/* Keep guest → host vsock working: path relative to the jail. */
		if (!strncmp(vm->vsock.path, dir, dl) && vm->vsock.path[dl] == '/')
			memmove(vm->vsock.path, vm->vsock.path + dl,
				strlen(vm->vsock.path + dl) + 1);
		else
			vm->vsock.path[0] = 0;
	}
	r = jail_rlimit(RLIMIT_CORE, 0);
	if (!r)
		r = jail_rlimit(RLIMIT_NOFILE, VSOCK_MAX_CONNS + 256 +
				(vm->cfg.net ? 512 : 0)); /* usernet flows, DNS */
	if (r)
		return r;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -errno;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != ppid)
		return -ESRCH;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0) < 0)
		return -errno;
	return 0;
}
