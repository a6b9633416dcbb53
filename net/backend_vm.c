/*
 * net/backend_vm.c: the VM backend: one sbx-vmm per running sandbox.
 *
 * At creation the workspace disk is a sparse file formatted with mkfs.ext4.
 * start() spawns sbx-vmm through hv/supervisor.h with the guest kernel,
 * initramfs and rootfs of the images folder and returns at once: the event
 * loop watches vmm.ready_fd for the guest's READY (requests wait meanwhile,
 * others are served); dial() is vsock_dial(sock, 1024). Each VM gets a
 * virtio-net device behind usernet with the sandbox's egress policy as
 * --net-rule words (sandbox_net_rules), unless the operator said --no-net. The
 * workspace disk outlives the VM, so files survive sleep and restarts.
 */
#include "net/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/proto.h"
#include "net/sbxd.h"

#define VM_AGENT_PORT 1024

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

static int vm_prepare(struct sbxd *d, struct sandbox *s)
{
	char disk[4200];

	snprintf(disk, sizeof(disk), "%s/disk.img", s->dir);
	int fd = open(disk, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	uint64_t mib = d->cfg.disk_mib ? d->cfg.disk_mib : 4096;
	if (ftruncate(fd, (off_t)(mib << 20))) {
		int e = -errno;
		close(fd);
		return e;
	}
	close(fd);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		execlp("mkfs.ext4", "mkfs.ext4", "-q", "-F", "-i", "8192", "-L",
		       "workspace", disk, (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -EIO;
	return 0;
}

static int vm_start(struct sbxd *d, struct sandbox *s, int *pending)
{
	static const char *const kernels[] = { "vmlinux", "bzImage", "guest-vmlinux", NULL };
	static const char *const initrds[] = { "initramfs.cpio.gz", "initramfs.cpio",
					       "guest-initramfs.cpio.gz", NULL };
	static const char *const rootfss[] = { "rootfs.ext4", "rootfs.img", NULL };
	char kernel[4200], initrd[4200], rootfs[4200], disk[4200], console[4200];
	static char rules[SANDBOX_NET_MAX_RULES][SANDBOX_NET_RULE_MAX];
	const char *rulep[SANDBOX_NET_MAX_RULES];

	if (!d->cfg.images || vm_image(d, kernels, kernel, sizeof(kernel))) {
		fprintf(stderr, "sbxd: no guest kernel in %s\n",
			d->cfg.images ? d->cfg.images : "(no --images)");
		return -ENOENT;
	}
	int have_initrd = !vm_image(d, initrds, initrd, sizeof(initrd));
	int have_rootfs = !vm_image(d, rootfss, rootfs, sizeof(rootfs));
	snprintf(disk, sizeof(disk), "%s/disk.img", s->dir);
	snprintf(console, sizeof(console), "%s/console.log", s->dir);
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
	int rc = sbx_vmm_spawn(&cfg, &s->vmm);
	if (rc)
		return rc;
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
 * VMM is stopped: what user code wrote with ordinary writes is otherwise
 * still in guest memory, and a sleep would lose it. A bounded, blocking
 * exchange (sync on an idle guest takes milliseconds); on any failure the
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

static void vm_stop(struct sbxd *d, struct sandbox *s)
{
	if (s->pid > 0 && s->running && !s->starting)
		vm_flush(s);
	if (s->pid > 0)
		sbx_vmm_stop(&s->vmm, 3000);
	sbx_vmm_close(&s->vmm);
	s->pid = 0;
	s->pidfd = -1;
	s->ready_fd = -1;
	unlink(s->sock);
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
	.prepare = vm_prepare,
	.start = vm_start,
	.check_ready = vm_check_ready,
	.dial = vm_dial,
	.stop = vm_stop,
	.destroy = vm_destroy,
};
