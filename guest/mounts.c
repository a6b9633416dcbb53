/*
 * guest/mounts.c: PID 1's file systems, in this order:
 *   1. devtmpfs on /dev of the initramfs, so /dev/vda, /dev/vdb and
 *      /dev/console exist;
 *   2. /dev/vda (ext4, read-only) on /mnt/ro; /dev/vdb (ext4, the sandbox's
 *      workspace disk) on /mnt/rw; an overlay on /sysroot whose upper and
 *      work dirs live on vdb, so everything written anywhere survives a
 *      restart of the sandbox;
 *   3. /sbx of the initramfs (runners) bound to /sysroot/opt/sbx;
 *   4. /sysroot moved over / and chrooted into;
 *   5. proc, sys, devtmpfs, devpts, /dev/shm, /tmp, /run, cgroup2 inside.
 * A missing device is a console message, never an exit (PID 1 must live):
 * without vda the agent serves from the initramfs itself; without vdb the
 * overlay's upper layer is a tmpfs and nothing persists.
 */
#include "guest/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

void console_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, "sbx-init: ", 10) < 0 || write(2, buf, (size_t)n) < 0)
		return;
}

static int do_mount(const char *src, const char *dst, const char *type,
		    unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) == 0)
		return 0;
	console_log("mount %s on %s (%s): %s", src, dst, type, strerror(errno));
	return -errno;
}

/* Makes 0, 1 and 2 the console (or /dev/null), whatever the kernel gave. */
static void open_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Step 2: the overlay on /sysroot. 0, or -errno when vda is unusable. */
static int mount_disks(void)
{
	char opts[256];

	mkdir("/mnt", 0755);
	if (do_mount("/dev/vda", "/mnt/ro", "ext4", MS_RDONLY, NULL) < 0) {
		console_log("no rootfs on /dev/vda: serving from the initramfs");
		return -ENODEV;
	}
	if (do_mount("/dev/vdb", "/mnt/rw", "ext4", MS_NOATIME, NULL) < 0) {
		console_log("no workspace disk on /dev/vdb: changes will not persist");
		if (do_mount("tmpfs", "/mnt/rw", "tmpfs", 0, "mode=0755") < 0)
			return -ENODEV;
	}
	mkdir("/mnt/rw/upper", 0755);
	mkdir("/mnt/rw/work", 0755);
	snprintf(opts, sizeof(opts),
		 "lowerdir=/mnt/ro,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work");
	if (do_mount("overlay", "/sysroot", "overlay", 0, opts) < 0) {
		console_log("overlay failed: serving the rootfs read-only");
		return do_mount("/mnt/ro", "/sysroot", NULL, MS_BIND, NULL);
	}
	return 0;
}

/* Step 4: /sysroot becomes /. */
static int enter_root(void)
{
	mkdir("/sysroot/opt", 0755);
	do_mount("/sbx", "/sysroot/opt/sbx", NULL, MS_BIND | MS_REC, NULL);
	if (chdir("/sysroot") < 0 || mount("/sysroot", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0) {
		console_log("switching root: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Step 5: the API file systems inside the root we serve from. */
static void mount_api(void)
{
	do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0 &&
	    errno != EBUSY)
		console_log("devtmpfs on /dev: %s", strerror(errno));
	do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		 "newinstance,ptmxmode=0666,mode=0620");
	do_mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	do_mount("cgroup2", "/sys/fs/cgroup", "cgroup2",
		 MS_NOSUID | MS_NODEV | MS_NOEXEC, "nsdelegate");
	if (access("/dev/ptmx", F_OK) != 0 &&
	    symlink("pts/ptmx", "/dev/ptmx") < 0)
		console_log("no /dev/ptmx");
}

/*
 * Sets up every file system of the sandbox (see the top of the file) and
 * leaves the process in the root it serves, with cwd /workspace.
 */
void mounts_setup(struct agent *ag)
{
	mkdir("/dev", 0755);
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") < 0)
		console_log("devtmpfs: %s", strerror(errno));
	open_console();
	if (mount_disks() == 0)
		enter_root();
	mount_api();
	if (mkdir("/workspace", 0755) < 0 && errno != EEXIST)
		console_log("mkdir /workspace: %s", strerror(errno));
	if (chdir("/workspace") < 0)
		console_log("chdir /workspace: %s", strerror(errno));
	snprintf(ag->root, sizeof(ag->root), "/workspace");
	snprintf(ag->runners, sizeof(ag->runners), "%s",
		 access("/opt/sbx/runners", F_OK) == 0 ? "/opt/sbx/runners"
						     : "/sbx/runners");
}
