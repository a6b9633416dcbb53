/*
 * hv/seccomp.c: the syscall allowlist of a running sbx-vmm (libseccomp).
 *
 * Two lists. The process list is installed by main() after jail_enter(),
 * before the vCPU threads start, so every thread inherits it. Each vCPU
 * thread then stacks the shorter vCPU list on itself before its first
 * KVM_RUN: a vCPU thread (the one a guest exit lands on) cannot open
 * sockets, accept or connect. Anything not listed kills the process
 * (SIGSYS): the supervisor sees "killed by signal". One syscall per line,
 * with what needs it.
 */
#include <errno.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/kvm.h>

#include "hv/vmm.h"

#define ALLOW(name) { SCMP_SYS(name) }

static const struct { int nr; } seccomp_allow[] = {
	/* ioctl: only the requests listed in seccomp_ioctls, below */
	ALLOW(read),            /* eventfds, signalfd, sockets */
	ALLOW(write),           /* console log, eventfds (irqfd), ready fd */
	ALLOW(pread64),         /* virtio-blk (glibc may pick plain pread) */
	ALLOW(pwrite64),        /* virtio-blk */
	ALLOW(preadv),          /* virtio-blk reads */
	ALLOW(pwritev),         /* virtio-blk writes */
	ALLOW(fdatasync),       /* virtio-blk FLUSH */
	ALLOW(epoll_wait),      /* event loop */
	ALLOW(epoll_pwait),     /* event loop (glibc's epoll_wait) */
	ALLOW(epoll_ctl),       /* event loop: vsock connections come and go */
	ALLOW(timerfd_settime), /* vsock readiness probe pacing; usernet timers */
	ALLOW(accept4),         /* vsock: host clients */
	ALLOW(socket),          /* vsock: guest → host connections (AF_UNIX only, below) */
	ALLOW(connect),         /* vsock: guest → host; usernet: host TCP/UDP flows */
	ALLOW(setsockopt),      /* usernet: socket options of host flows */
	ALLOW(getsockopt),      /* usernet: SO_ERROR after a non-blocking connect */
	ALLOW(recvfrom),        /* vsock, usernet: host data (recv) */
	ALLOW(sendto),          /* vsock, usernet: guest data (send) */
	ALLOW(shutdown),        /* vsock, usernet: half-close */
	ALLOW(close),           /* vsock connections, exit */
	ALLOW(unlink),          /* vsock: remove the listening socket on exit */
	ALLOW(fcntl),           /* glibc internals */
	ALLOW(mmap),            /* malloc, thread stacks */
	ALLOW(munmap),          /* free, exit */
	ALLOW(mprotect),        /* thread stack guard pages */
	ALLOW(madvise),         /* malloc trimming */
	ALLOW(brk),             /* malloc */
	ALLOW(futex),           /* mutexes */
	ALLOW(clone),           /* vCPU threads (older glibc) */
	ALLOW(clone3),          /* vCPU threads */
	ALLOW(set_robust_list), /* new threads */
	ALLOW(rseq),            /* new threads */
	ALLOW(prctl),           /* pthread_setname_np on self; no-new-privs */
	ALLOW(seccomp),         /* vCPU threads stack their own, stricter list */
	ALLOW(rt_sigaction),    /* kick signal handler */
	ALLOW(rt_sigprocmask),  /* thread signal masks */
	ALLOW(rt_sigreturn),    /* return from the kick handler */
	ALLOW(tgkill),          /* pthread_kill: kick vCPUs out of KVM_RUN */
	ALLOW(getpid),          /* pthread_kill */
	ALLOW(gettid),          /* glibc */
	ALLOW(sched_yield),     /* glibc locks */
	ALLOW(clock_gettime),   /* boot timer (vDSO fallback) */
	ALLOW(nanosleep),       /* vCPU stop loop */
	ALLOW(clock_nanosleep), /* vCPU stop loop */
	ALLOW(restart_syscall), /* interrupted sleeps */
	ALLOW(exit),            /* thread exit */
	ALLOW(exit_group),      /* VMM exit */
	ALLOW(getrandom),       /* glibc malloc; usernet: lwIP's ISNs and ports */
	ALLOW(newfstatat),      /* glibc stdio */
	ALLOW(fstat),           /* glibc stdio */
	ALLOW(lseek),           /* glibc stdio */
};

/* What a vCPU thread does: KVM_RUN and exit handling, which touches device
 * registers (virtio-mmio resets close vsock sockets, arm the probe timer). */
static const struct { int nr; } seccomp_vcpu_allow[] = {
	/* ioctl: KVM_RUN, KVM_IRQ_LINE, the crash report's GETs only, below */
	ALLOW(write),           /* console log, irqfd and stop eventfds, ready fd */
	ALLOW(close),           /* vsock sockets on a device reset */
	ALLOW(epoll_ctl),       /* vsock sockets on a device reset */
	ALLOW(timerfd_settime), /* vsock readiness probe, armed at DRIVER_OK */
	ALLOW(futex),           /* device locks */
	ALLOW(rt_sigreturn),    /* return from the kick handler */
	ALLOW(rt_sigprocmask),  /* glibc around signal handling */
	ALLOW(clock_gettime),   /* boot timer (vDSO fallback) */
	ALLOW(gettid),          /* glibc */
	ALLOW(getpid),          /* glibc */
	ALLOW(sched_yield),     /* glibc locks */
	ALLOW(mmap),            /* malloc (stdio on an error path) */
	ALLOW(munmap),          /* free */
	ALLOW(madvise),         /* free */
	ALLOW(brk),             /* malloc */
	ALLOW(restart_syscall), /* interrupted calls */
	ALLOW(exit),            /* thread exit */
	ALLOW(exit_group),      /* glibc abort paths */
};

/* The first SECCOMP_VCPU_IOCTLS are the vCPU threads' own. */
static const unsigned long seccomp_ioctls[] = {
	KVM_RUN,             /* vCPU threads */
	KVM_IRQ_LINE,        /* serial interrupt (kvm_irq_pulse) */
	KVM_GET_REGS,        /* crash report (cpu_x86_dump), read only */
	KVM_GET_SREGS,       /* crash report */
	KVM_GET_VCPU_EVENTS, /* crash report */
	TCGETS,              /* glibc stdio asks whether stdout is a terminal */
};
#define SECCOMP_VCPU_IOCTLS 5

/* Builds and loads one list; ioctls n_ioctl first entries of seccomp_ioctls. */
static int seccomp_load_list(const int *nrs, size_t n, size_t n_ioctl, int sockets)
{
	scmp_filter_ctx ctx;
	size_t i;
	int r = 0;

	if (n_ioctl > sizeof(seccomp_ioctls) / sizeof(seccomp_ioctls[0]))
		return -EINVAL;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
		if (r < 0 && r != -EDOM)
			goto out;
	}
	for (i = 0; i < n_ioctl; i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, seccomp_ioctls[i]));
		if (r < 0)
			goto out;
	}
	/* socket(2): Unix sockets (vsock); IPv4 and IPv6 stream and datagram
	 * sockets (usernet's host flows, DNS); no raw, packet or netlink. */
	if (sockets) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
		for (i = 0; r >= 0 && i < 4; i++)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
					     SCMP_A0(SCMP_CMP_EQ, i < 2 ? AF_INET : AF_INET6),
					     SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff,
						     i % 2 ? SOCK_DGRAM : SOCK_STREAM));
		if (r < 0)
			goto out;
	}
	r = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return r < 0 ? r : 0;
}

int seccomp_install(void)
{
	int nrs[sizeof(seccomp_allow) / sizeof(seccomp_allow[0])];
	size_t i, n = 0;

#if defined(__SANITIZE_ADDRESS__)
	/* The ASan runtime makes calls of its own (sigaltstack, /proc reads at
	 * exit): a sanitizer build is for debugging and runs without the lists. */
	return 0;
#endif
	for (i = 0; i < sizeof(seccomp_allow) / sizeof(seccomp_allow[0]); i++)
		nrs[n++] = seccomp_allow[i].nr;
	return seccomp_load_list(nrs, n, sizeof(seccomp_ioctls) / sizeof(seccomp_ioctls[0]), 1);
}

int seccomp_install_vcpu(void)
{
	int nrs[sizeof(seccomp_vcpu_allow) / sizeof(seccomp_vcpu_allow[0])];
	size_t i, n = 0;

#if defined(__SANITIZE_ADDRESS__)
	return 0;
#endif
	for (i = 0; i < sizeof(seccomp_vcpu_allow) / sizeof(seccomp_vcpu_allow[0]); i++)
		nrs[n++] = seccomp_vcpu_allow[i].nr;
	return seccomp_load_list(nrs, n, SECCOMP_VCPU_IOCTLS, 0);
}
