/*
 * hv/supervisor.h: how sbxd starts, watches and stops sbx-vmm processes.
 *
 * One sbx-vmm process runs one sandbox. sbxd fills a struct sbx_vmm_config,
 * calls sbx_vmm_spawn(), adds vmm->pidfd (readable when the VMM exits) and
 * vmm->ready_fd (readable when the guest agent is up) to its epoll set, and
 * talks to the guest with vsock_dial(). The VMM dies with sbxd
 * (PR_SET_PDEATHSIG), so a crashed sbxd leaves no VMM behind.
 *
 * All functions are plain, non-blocking except where said, and may run on any
 * thread; none keeps hidden state.
 */
#ifndef SBX_HV_SUPERVISOR_H
#define SBX_HV_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Exit statuses of sbx-vmm (its exit code; see sbx_vmm_exit_decode()).
 * The guest asks for poweroff by writing SBX_BOOT_PORT_POWEROFF to I/O port
 * 0x440 (after syncing its disks); it reboots through the i8042 reset line
 * (kernel cmdline reboot=k), which a kernel panic also uses (panic=-1).
 */
enum sbx_vmm_exit {
	SBX_VMM_EXIT_POWEROFF = 0, /* guest powered off */
	SBX_VMM_EXIT_REBOOT = 1,   /* guest rebooted or panicked: restart it if wanted */
	SBX_VMM_EXIT_ERROR = 2,    /* VMM failed (setup, KVM error, internal) */
	SBX_VMM_EXIT_USAGE = 3,    /* bad command line */
	SBX_VMM_EXIT_CRASH = 4,    /* guest triple fault / KVM internal error */
	SBX_VMM_EXIT_SIGNAL = 5,   /* got SIGTERM/SIGINT and stopped the guest */
};

/* Values the guest writes to the boot-timer port (0x440). */
#define SBX_BOOT_PORT 0x440
#define SBX_BOOT_PORT_READY 0x01    /* sbx-init is ready to serve */
#define SBX_BOOT_PORT_POWEROFF 0x02 /* power off now (disks already synced) */

/*
 * What to run. Strings are borrowed for the duration of sbx_vmm_spawn() only.
 * NULL/0 fields take defaults: vmm_path "sbx-vmm" from $PATH, cpus 1,
 * mem_mib 512, no initrd/rootfs/disk/console.
 */
struct sbx_vmm_config {
	const char *vmm_path;     /* sbx-vmm binary */
	const char *kernel;       /* guest vmlinux (ELF) or bzImage; required */
	const char *initrd;       /* initramfs, optional */
	const char *rootfs;       /* read-only root disk (/dev/vda), optional */
	const char *disk;         /* read-write workspace disk (/dev/vdb), optional */
	const char *vsock_path;   /* host Unix socket of the guest's vsock; required */
	const char *console_path; /* console log file (appended), optional */
	const char *cmdline;      /* extra kernel command-line words, optional */
	unsigned cpus;            /* vCPUs, 1..32 */
	unsigned mem_mib;         /* guest RAM in MiB */
	uid_t jail_uid;           /* >0: run the VMM jailed as this uid */
	gid_t jail_gid;           /* with jail_uid */
	const char *jail_dir;     /* empty dir to chroot into (with jail_uid) */
	int net;                  /* 1: --net, a virtio-net device behind usernet */
	const char *const *net_rules; /* --net-rule TEXT each, in order (with net) */
	unsigned n_net_rules;     /* at most SBX_VMM_MAX_NET_RULES */
};

/* Most --net-rule words sbx_vmm_spawn() passes (sbx-vmm takes 128). */
#define SBX_VMM_MAX_NET_RULES 100

/*
 * A running VMM. pidfd becomes readable (EPOLLIN) when the process exits;
 * ready_fd becomes readable when the guest is ready: it wrote READY to port
 * 0x440, or (kernels without ioperm) the agent accepted a vsock connection on
 * port 1024 (the VMM probes every 20 ms). Read a line "ready <usec>\n"
 * (microseconds since the VMM started), then EOF when the VMM exits. Both fds are O_CLOEXEC and owned by the struct.
 */
struct sbx_vmm {
	pid_t pid;
	int pidfd;    /* -1 if pidfd_open is unsupported */
	int ready_fd; /* read end of the readiness pipe, O_NONBLOCK */
	int status;   /* wait status once reaped, else -1 */
};

/*
 * Starts sbx-vmm for cfg. The child gets PR_SET_PDEATHSIG(SIGKILL), its own
 * process group, stdin /dev/null, and inherits stdout/stderr. Returns 0 and
 * fills *vmm, or -errno (-EINVAL for a bad config, -ENOENT if exec failed).
 */
int sbx_vmm_spawn(const struct sbx_vmm_config *cfg, struct sbx_vmm *vmm);

/*
 * Reaps the VMM if it has exited, without blocking. Returns 1 and sets
 * vmm->status (a wait status) if it exited, 0 if it still runs, -errno.
 */
int sbx_vmm_poll(struct sbx_vmm *vmm);

/*
 * Sends sig (SIGTERM: stop the guest and exit; SIGKILL) to the VMM's process
 * group, unless it was reaped already (its pid may belong to another process
 * by then). Does not wait: the pidfd becomes readable when it exits, then
 * sbx_vmm_poll() reaps it. Returns 0, -ESRCH once reaped, or -errno.
 */
int sbx_vmm_signal(struct sbx_vmm *vmm, int sig);

/*
 * Stops the VMM: SIGTERM to its process group, wait up to grace_ms, then
 * SIGKILL and wait. For a caller that may block (sbxd's shutdown): an event
 * loop uses sbx_vmm_signal() and the pidfd instead.
 * Blocks up to grace_ms plus the kill. Returns 0 with vmm->status set,
 * or -errno. Does not close the fds (sbx_vmm_close does).
 */
int sbx_vmm_stop(struct sbx_vmm *vmm, unsigned grace_ms);

/* Closes the fds (not the process). Safe to call twice. */
void sbx_vmm_close(struct sbx_vmm *vmm);

/*
 * Decodes a wait status: returns an enum sbx_vmm_exit for a normal exit,
 * SBX_VMM_EXIT_ERROR for an unknown code or a death by signal.
 * If name is non-NULL it gets a static string ("poweroff", "reboot",
 * "error", "usage", "crash", "signal", "killed by signal").
 */
int sbx_vmm_exit_decode(int wait_status, const char **name);

/*
 * Connects to port `port` of the guest behind the VMM's vsock Unix socket
 * uds_path (Firecracker's host-initiated protocol): connect, write
 * "CONNECT <port>\n", read "OK <hostport>\n". Blocks up to ~2 s for the
 * answer. Returns the connected stream fd (O_CLOEXEC, blocking) or -errno
 * (-ECONNREFUSED if the guest refused or nothing listens on the port).
 */
int vsock_dial(const char *uds_path, uint32_t port);

#endif
