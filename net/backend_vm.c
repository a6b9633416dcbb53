/*
 * net/backend_vm.c: the VM backend: one sbx-vmm per running sandbox.
 *
 * At creation the workspace disk is a sparse file, marked new (DISK_NEW).
 * start() spawns sbx-vmm through hv/supervisor.h with the guest kernel,
 * initramfs and rootfs of the images folder and returns at once: the event
 * loop watches vmm.ready_fd for the guest's READY (requests wait meanwhile,
 * others are served); dial() is vsock_dial(sock, 1024). The first boot of a
 * new disk takes a step before: start() runs mkfs.ext4 as a child (s->prep)
 * whose exit the loop watches, then is called again for the VMM. A disk is
 * formatted only while it is marked new and has no ext4 superblock yet, so
 * a workspace is never formatted twice; the mark goes once it has one.
 * Stops are the loop's too (sandbox.c): signal() sends SIGTERM or SIGKILL,
 * reap() collects the VMM once its pidfd says it exited. Each VM gets a
 * virtio-net device behind usernet with the sandbox's egress policy as
 * --net-rule words (sandbox_net_rules), unless the operator said --no-net. The
 * workspace disk outlives the VM, so files survive sleep and restarts.
 *
 * Jail: when sbxd runs as root (and not --no-jail), every VMM is jailed
 * (hv/jail.c) as its own uid and gid, jail_uid_base + a slot number held
 * while the VM runs, so no two running VMMs share a uid and one cannot
 * signal or ptrace another. Its chroot is a folder of its own, RUN/KEY/,
 * holding only its vsock socket: s->sock RUN/KEY.sock becomes RUN/KEY/sock
 * (the same length, so it still fits sun_path) and guest-initiated
 * connections ("<sock>_P") resolve inside the jail. The folder is root's,
 * mode 0711: the jailed VMM can reach its socket names but create nothing.
 * Disks, console log, /dev/kvm and the listening socket are opened by
 * sbx-vmm before it drops root, so they need no rights inside the jail.
 */
#include "net/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/proto.h"
#include "net/sbxd.h"

#define VM_AGENT_PORT 1024
#define VM_JAIL_SLOTS 4096 /* most VMs jailed at once */
#define VM_SOCK_NAME "/sock"
#define DISK_NEW "disk.new" /* beside disk.img: made, not formatted yet */
#define EXT4_MAGIC_OFF 1080   /* s_magic: superblock at 1024, field at 56 */

/* Jail slot i (uid and gid jail_uid_base + i) belongs to this sandbox, or
 * is free (NULL). Held from start to stop. */
static struct sandbox *vm_jail_owner[VM_JAIL_SLOTS];

static int vm_jailing(struct sbxd *d)
{
	return !d->cfg.no_jail && geteuid() == 0;
}

/* Takes the lowest free slot for s. The uid, or 0 if none is free. */
static uid_t vm_jail_take(struct sbxd *d, struct sandbox *s)
{
	uid_t base = d->cfg.jail_uid_base ? d->cfg.jail_uid_base : SBXD_JAIL_UID_BASE;

	for (unsigned i = 0; i < VM_JAIL_SLOTS; i++) {
		if (!vm_jail_owner[i]) {
			vm_jail_owner[i] = s;
			return base + i;
		}
	}
	return 0;
}

static void vm_jail_release(struct sandbox *s)
{
	for (unsigned i = 0; i < VM_JAIL_SLOTS; i++)
		if (vm_jail_owner[i] == s)
			vm_jail_owner[i] = NULL;
}

/*
 * Gives the VM's socket a folder of its own (see the top of the file):
 * RUN/KEY.sock becomes RUN/KEY/sock, once (a later boot finds it moved).
 * Creates the folder, root's and 0711, and puts its path in dir.
 * 0 or -errno.
 */
static int vm_sock_dir(struct sandbox *s, char *dir, size_t cap)
{
	size_t n = strlen(s->sock), k = strlen(VM_SOCK_NAME);
	struct stat st;

	if (n <= k || n - k >= cap)
		return -ENAMETOOLONG;
	if (!strcmp(s->sock + n - k, ".sock"))
		s->sock[n - k] = '/';
	else if (strcmp(s->sock + n - k, VM_SOCK_NAME))
		return -EINVAL;
	memcpy(dir, s->sock, n - k);
	dir[n - k] = 0;
	if (mkdir(dir, 0711) < 0 && errno != EEXIST)
		return -errno;
	/* It must be our own real folder, not something planted there. */
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	return chmod(dir, 0711) < 0 ? -errno : 0;
}

/* The jail folder of a VM whose socket was moved by vm_sock_dir. */
static void vm_sock_dir_remove(struct sandbox *s)
{
	char dir[sizeof(s->sock)];
	size_t n = strlen(s->sock), k = strlen(VM_SOCK_NAME);

	if (n <= k || strcmp(s->sock + n - k, VM_SOCK_NAME))
		return;
	memcpy(dir, s->sock, n - k);
	dir[n - k] = 0;
	rmdir(dir); /* fails, harmlessly, if something else is left in it */
}

/*
 * A VM destroyed while it runs: its VMM stays chrooted in RUN/KEY/ until it
 * is reaped, and a new sandbox of the same id must not share that folder
 * (the old VMM could reach the new one's socket). The folder moves to
 * RUN/KEY.dead.N (the VMM holds it by inode, its listening socket needs no
 * name); vm_reaped() removes it. If it cannot move, the socket's name goes
 * and the new VMM's start replaces the folder's contents as before.
 */
static void vm_retire(struct sbxd *d, struct sandbox *s)
{
	static unsigned seq;
	char dir[sizeof(s->sock)], dead[sizeof(s->sock)];
	size_t n = strlen(s->sock), k = strlen(VM_SOCK_NAME);

	unlink(s->sock);
	if (n <= k || strcmp(s->sock + n - k, VM_SOCK_NAME)) {
		s->sock[0] = 0; /* never booted with a folder of its own */
		return;
	}
	memcpy(dir, s->sock, n - k);
	dir[n - k] = 0;
	int m = snprintf(dead, sizeof(dead), "%s.dead.%u%s", dir, ++seq, VM_SOCK_NAME);
	if (m < 0 || (size_t)m >= sizeof(dead)) {
		s->sock[0] = 0;
		return;
	}
	dead[m - k] = 0;
	if (rename(dir, dead) < 0) {
		s->sock[0] = 0;
		return;
	}
	dead[m - k] = '/';
	memcpy(s->sock, dead, (size_t)m + 1); /* vm_reaped removes the folder */
}

/* Finds the first existing name in the images folder. */
static int vm_image(struct sbxd *d, const char *const *names, char *out, size_t cap)
{
	for (; *names; names++) {
		snprintf(out, cap, "%s/%s", d->cfg.images, *names);
		if (!access(out, R_OK))
			return 0;
	}
	return -ENOENT;
}

/* STATE/sandboxes/KEY/name into out. */
static void vm_path(struct sandbox *s, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", s->dir, name);
}

/* Has the workspace disk an ext4 superblock (mkfs.ext4 writes it last)? */
static int vm_disk_has_fs(const char *disk)
{
	unsigned char m[2] = { 0, 0 };
	int fd = open(disk, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, m, sizeof(m), EXT4_MAGIC_OFF);
	close(fd);
	return n == 2 && m[0] == 0x53 && m[1] == 0xef;
}

/*
 * Must the workspace disk be formatted before it boots? Only when it is
 * marked new and has no file system yet (a mkfs that was cut short). A
 * disk with one loses its mark here: from then on nothing formats it.
 */
static int vm_disk_needs_mkfs(struct sandbox *s)
{
	char mark[4200], disk[4200];

	vm_path(s, DISK_NEW, mark, sizeof(mark));
	vm_path(s, "disk.img", disk, sizeof(disk));
	if (access(mark, F_OK))
		return 0;
	if (!vm_disk_has_fs(disk))
		return 1;
	unlink(mark);
	return 0;
}

/* The workspace: a sparse disk.img, marked new (the mark first: a disk
 * without a mark is never formatted). Fast: mkfs waits for the first boot. */
static int vm_prepare(struct sbxd *d, struct sandbox *s)
{
	char disk[4200], mark[4200];

	vm_path(s, DISK_NEW, mark, sizeof(mark));
	vm_path(s, "disk.img", disk, sizeof(disk));
	int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	fd = open(disk, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	uint64_t mib = d->cfg.disk_mib ? d->cfg.disk_mib : 4096;
	if (ftruncate(fd, (off_t)(mib << 20))) {
		int e = -errno;
		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

/*
 * The boot step before the first boot: mkfs.ext4 of the new disk as a child
 * (s->prep), whose pidfd the loop watches; vm_reap() collects it. Without
 * pidfds (old kernels) it is waited for here, as sbxd once did. 0 or -errno.
 */
static int vm_mkfs_start(struct sandbox *s, int *pending)
{
	char disk[4200];

	vm_path(s, "disk.img", disk, sizeof(disk));
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Lazy inode tables and journal: the guest kernel zeroes them
		 * in the background, so the first boot writes a few MiB, not
		 * 20x that, before the VMM can start. */
		execlp("mkfs.ext4", "mkfs.ext4", "-q", "-F", "-i", "8192", "-E",
		       "lazy_itable_init=1,lazy_journal_init=1", "-L", "workspace",
		       disk, (char *)NULL);
		_exit(127);
	}
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			return -EIO;
		return 1; /* formatted: go on to the VMM */
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	s->prep = 1;
	s->pid = pid;
	s->pidfd = pidfd;
	s->ready_fd = -1;
	*pending = 1;
	return 0;
}

static int vm_start(struct sbxd *d, struct sandbox *s, int *pending)
{
	static const char *const kernels[] = { "vmlinux", "bzImage", "guest-vmlinux", NULL };
	static const char *const initrds[] = { "initramfs.cpio.gz", "initramfs.cpio",
					       "guest-initramfs.cpio.gz", NULL };
	static const char *const rootfss[] = { "rootfs.ext4", "rootfs.img", NULL };
	char kernel[4200], initrd[4200], rootfs[4200], disk[4200], console[4200];
	char jail[sizeof(s->sock)];
	static char rules[SANDBOX_NET_MAX_RULES][SANDBOX_NET_RULE_MAX];
	const char *rulep[SANDBOX_NET_MAX_RULES];

	if (!d->cfg.images || vm_image(d, kernels, kernel, sizeof(kernel))) {
		fprintf(stderr, "sbxd: no guest kernel in %s\n",
			d->cfg.images ? d->cfg.images : "(no --images)");
		return -ENOENT;
	}
	if (vm_disk_needs_mkfs(s)) {
		int rc = vm_mkfs_start(s, pending);
		if (rc <= 0)
			return rc;
	}
	int have_initrd = !vm_image(d, initrds, initrd, sizeof(initrd));
	int have_rootfs = !vm_image(d, rootfss, rootfs, sizeof(rootfs));
	snprintf(disk, sizeof(disk), "%s/disk.img", s->dir);
	snprintf(console, sizeof(console), "%s/console.log", s->dir);
	int rc = vm_sock_dir(s, jail, sizeof(jail));
	if (rc) {
		fprintf(stderr, "sbxd: %s: socket folder: %s\n", s->sock, strerror(-rc));
		return rc;
	}
	unlink(s->sock);
	struct sbx_vmm_config cfg = {
		.vmm_path = d->cfg.vmm,
		.kernel = kernel,
		.initrd = have_initrd ? initrd : NULL,
		.rootfs = have_rootfs ? rootfs : NULL,
		.disk = disk,
		.vsock_path = s->sock,
		.console_path = console,
		.cpus = 1,
		.mem_mib = 512,
	};
	json_t *mem = json_object_get(s->limits, "memoryMiB");
	if (json_is_integer(mem) && json_integer_value(mem) >= 64 &&
	    json_integer_value(mem) <= 65536)
		cfg.mem_mib = (unsigned)json_integer_value(mem);
	json_t *cpus = json_object_get(s->limits, "cpus");
	if (json_is_integer(cpus) && json_integer_value(cpus) >= 1 &&
	    json_integer_value(cpus) <= 32)
		cfg.cpus = (unsigned)json_integer_value(cpus);
	/* networking: the sandbox's policy as it is now (a PATCH applies at
	 * the next boot), unless the operator turned it off */
	int nrules = sandbox_net_rules(&d->cfg, s, rules);
	if (nrules >= 0) {
		for (int i = 0; i < nrules; i++)
			rulep[i] = rules[i];
		cfg.net = 1;
		cfg.net_rules = rulep;
		cfg.n_net_rules = (unsigned)nrules;
	}
	if (vm_jailing(d)) {
		cfg.jail_uid = vm_jail_take(d, s);
		cfg.jail_gid = (gid_t)cfg.jail_uid;
		cfg.jail_dir = jail;
		if (!cfg.jail_uid) {
			fprintf(stderr, "sbxd: more than %d VMs running: no jail uid left\n",
				VM_JAIL_SLOTS);
			return -EAGAIN;
		}
	}
	rc = sbx_vmm_spawn(&cfg, &s->vmm);
	if (rc) {
		vm_jail_release(s);
		return rc;
	}
	s->prep = 0;
	s->pid = s->vmm.pid;
	s->pidfd = s->vmm.pidfd;
	s->ready_fd = s->vmm.ready_fd;
	*pending = 1; /* sandbox.c watches ready_fd; see vm_check_ready */
	return 0;
}

/* The readiness pipe: "ready <usec>\n" when the guest is up, EOF if the
 * VMM exited first. */
static int vm_check_ready(struct sbxd *d, struct sandbox *s)
{
	char line[64];
	ssize_t got = read(s->vmm.ready_fd, line, sizeof(line) - 1);

	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (got == 0)
		return -ECHILD;
	line[got] = 0;
	if (strncmp(line, "ready", 5))
		return -EPROTO;
	return 1;
}

static int vm_dial(struct sbxd *d, struct sandbox *s)
{
	return vsock_dial(s->sock, VM_AGENT_PORT);
}

/*
 * Asks the guest to write its page cache to the workspace disk before the
 * VMM is stopped at sbxd's shutdown: a bounded, blocking exchange (the
 * loop's stops do the same asynchronously, sandbox.c). On any failure the
 * stop goes ahead (the guest may be gone already).
 */
static void vm_flush(struct sandbox *s)
{
	struct timeval tv = { .tv_sec = 5 };
	uint8_t buf[PROTO_HDR_LEN + 256];
	struct proto_builder b;
	struct proto_frame f;
	int fd, n;

	fd = vsock_dial(s->sock, VM_AGENT_PORT);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	proto_build_begin(&b, buf, sizeof(buf), PROTO_EXEC);
	proto_put_str(&b, PT_ARG, "sync");
	proto_put_u32(&b, PT_TIMEOUT_MS, 5000);
	n = proto_build_end(&b);
	if (n > 0 && proto_write_all(fd, buf, (size_t)n) == 0) {
		uint8_t in[PROTO_MAX_FRAME];

		while (proto_read_frame(fd, in, sizeof(in), &f) == 0 &&
		       f.type != PROTO_EXIT && f.type != PROTO_ERROR)
			;
	}
	close(fd);
}

static void vm_signal(struct sbxd *d, struct sandbox *s, int sig)
{
	if (s->prep) {
		if (s->pid > 0)
			kill(s->pid, sig); /* mkfs, not reaped yet; its mark stays */
		return;
	}
	sbx_vmm_signal(&s->vmm, sig);
}

/* What a VMM leaves behind once reaped: fds, socket, jail slot. */
static void vm_reaped(struct sandbox *s)
{
	sbx_vmm_close(&s->vmm);
	s->pid = 0;
	s->pidfd = -1;
	s->ready_fd = -1;
	if (s->sock[0]) {
		unlink(s->sock);
		vm_sock_dir_remove(s);
	}
	vm_jail_release(s); /* the VMM is reaped: its uid may be reused */
}

static int vm_reap(struct sbxd *d, struct sandbox *s, int *status)
{
	if (s->prep) {
		char disk[4200];
		int st;
		pid_t r = waitpid(s->pid, &st, WNOHANG);
		if (r == 0)
			return 0;
		if (r < 0)
			st = W_EXITCODE(127, 0);
		close(s->pidfd);
		s->pid = 0;
		s->pidfd = -1;
		/* a mkfs that says yes but left no file system would run forever */
		vm_path(s, "disk.img", disk, sizeof(disk));
		if (WIFEXITED(st) && !WEXITSTATUS(st) && !vm_disk_has_fs(disk))
			st = W_EXITCODE(1, 0);
		*status = st;
		return 1;
	}
	int r = sbx_vmm_poll(&s->vmm);
	if (r == 0)
		return 0;
	*status = r > 0 ? s->vmm.status : W_EXITCODE(SBX_VMM_EXIT_ERROR, 0);
	vm_reaped(s);
	return 1;
}

static void vm_stop(struct sbxd *d, struct sandbox *s)
{
	if (s->prep) {
		int st;
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
		}
		if (s->pidfd >= 0)
			close(s->pidfd);
		s->prep = 0;
		s->pid = 0;
		s->pidfd = -1;
		return;
	}
	if (s->pid > 0 && s->running && !s->starting && s->sock[0])
		vm_flush(s);
	if (s->pid > 0)
		sbx_vmm_stop(&s->vmm, 3000);
	vm_reaped(s);
}

static int vm_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static int vm_destroy(struct sbxd *d, struct sandbox *s)
{
	if (nftw(s->dir, vm_rm, 32, FTW_DEPTH | FTW_PHYS) && errno != ENOENT)
		return -errno;
	return 0;
}

const struct backend_ops backend_vm = {
	.name = "vm",
	.flush = 1,
	.boot_retry = 1,
	.prepare = vm_prepare,
	.start = vm_start,
	.check_ready = vm_check_ready,
	.dial = vm_dial,
	.signal = vm_signal,
	.reap = vm_reap,
	.retire = vm_retire,
	.stop = vm_stop,
	.destroy = vm_destroy,
};
