/*
 * boards/hostinit.c: PID 1 of the host side (the qemu-x86_64 host VM and
 * the flashed appliance, boards/appliance), a static musl binary.
 *
 * Theory of operation, in order:
 *   1. mount proc, sys, devtmpfs, devpts, /tmp and /run;
 *   2. load the kernel modules listed in /etc/sbx/modules, in that order
 *      (the build resolved their dependencies), with finit_module;
 *   3. bring up lo and eth0 with the address given on the kernel command line
 *      (sbx.ip=A.B.C.D/N sbx.gw=A.B.C.D; QEMU user networking's defaults else;
 *      not in appliance mode, whose setup script does it from sbx.conf);
 *   4. run the job the command line names with sbx.mode=:
 *        run   sbxd serving the API (/etc/sbx/run holds its argv, one per line),
 *              its state folder shared from the build machine over 9p (tag
 *              state) at /var/lib/sbx, so tokens, the sandbox table and the
 *              workspace disks outlive the VM
 *        test  the test runner of the build machine: the host's root is shared
 *              read-only over 9p (tag hostroot), the output folder read-write
 *              (tag out); we chroot into the host root and run sbx.cmd there
 *        shell busybox sh on the console, for debugging
 *        appliance  the flashed box (boards/appliance): no address from the
 *              command line; /etc/sbx/appliance-setup (busybox sh) mounts
 *              the config and data partitions, brings up the network and
 *              writes sbxd's argv to /run/sbx/sbxd.argv; then sbxd (logs to
 *              /var/lib/sbx/log/sbxd.log) and the operator's menu
 *              /usr/bin/sbx-console on the serial port (sbx.console=,
 *              default ttyS0) are kept running, each restarted when it
 *              exits; /usr/bin/sbx-health runs once, and blesses the boot
 *              entry when sbxd answers (on a trial boot, when a sandbox
 *              also booted and ran a command through the API). On a trial
 *              boot (a new version, /run/sbx/trial) a watchdog reboots the
 *              box unless /run/sbx/healthy appears within
 *              /run/sbx/health_timeout seconds of the kernel's start, so
 *              systemd-boot burns one of the entry's tries and falls back
 *              to the previous version when they are gone. This mode never
 *              powers off on its own
 *   5. reap every child; when the job ends, sync and power off, so QEMU exits.
 *
 * PID 1 must never exit on its own errors: each step reports on the console
 * and carries on, and the end is always a power-off.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The appliance's watchdog wakes wait() this often. */
#define WATCHDOG_TICK_S 5

#define CMDLINE_MAX 4096
#define ARGV_MAX 64

struct hostinit {
	char cmdline[CMDLINE_MAX];
	char mode[32];
	char ip[64];
	char gw[64];
	char cmd[1024];
	char console[32];
	char version[64]; /* sbx.version=: the appliance image's version */
};

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hostinit: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Copies the value of "key=" from the kernel command line into out. */
static int cmdline_get(const struct hostinit *hi, const char *key, char *out,
		       size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = hi->cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			const char *v = p + klen + 1;
			size_t n = strcspn(v, " \n");

			if (n >= outlen)
				return -ENAMETOOLONG;
			memcpy(out, v, n);
			out[n] = '\0';
			return 0;
		}
		p += strcspn(p, " ");
	}
	return -ENOENT;
}

static void mount_one(const char *src, const char *dst, const char *type,
		      unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		say("mount %s on %s: %s", type, dst, strerror(errno));
}

static void mount_basics(void)
{
	mount_one("proc", "/proc", "proc", 0, NULL);
	mount_one("sysfs", "/sys", "sysfs", 0, NULL);
	mount_one("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount_one("devpts", "/dev/pts", "devpts", 0, "ptmxmode=0666");
	mount_one("tmpfs", "/tmp", "tmpfs", 0, "mode=1777");
	mount_one("tmpfs", "/run", "tmpfs", 0, "mode=0755");
}

static void load_modules(void)
{
	FILE *f = fopen("/etc/sbx/modules", "r");
	char path[512];

	if (!f) {
		say("no /etc/sbx/modules: %s", strerror(errno));
		return;
	}
	while (fgets(path, sizeof(path), f)) {
		int fd;

		path[strcspn(path, "\n")] = '\0';
		if (!path[0])
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("module %s: %s", path, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			say("module %s: %s", path, strerror(errno));
		close(fd);
	}
	fclose(f);
}

static int ifr_set_addr(int s, const char *ifname, unsigned long req,
			in_addr_t addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = addr;
	return ioctl(s, req, &ifr) < 0 ? -errno : 0;
}

static int if_up(int s, const char *ifname)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static int route_default(int s, in_addr_t gw)
{
	struct rtentry rt = { 0 };
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
	struct sockaddr_in *via = (struct sockaddr_in *)&rt.rt_gateway;

	dst->sin_family = mask->sin_family = via->sin_family = AF_INET;
	via->sin_addr.s_addr = gw;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	return ioctl(s, SIOCADDRT, &rt) < 0 ? -errno : 0;
}

/* Brings up lo and eth0; "A.B.C.D/N" in ip, the gateway in gw. */
static void net_up(const struct hostinit *hi)
{
	char addr[64];
	char *slash;
	int prefix = 24, s, rc;
	in_addr_t a, mask;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		say("socket: %s", strerror(errno));
		return;
	}
	if_up(s, "lo");
	snprintf(addr, sizeof(addr), "%s", hi->ip);
	slash = strchr(addr, '/');
	if (slash) {
		*slash = '\0';
		prefix = atoi(slash + 1);
	}
	if (prefix < 0 || prefix > 32 || inet_pton(AF_INET, addr, &a) != 1) {
		say("bad sbx.ip=%s", hi->ip);
		goto out;
	}
	mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	rc = ifr_set_addr(s, "eth0", SIOCSIFADDR, a);
	if (!rc)
		rc = ifr_set_addr(s, "eth0", SIOCSIFNETMASK, mask);
	if (!rc)
		rc = if_up(s, "eth0");
	if (!rc && inet_pton(AF_INET, hi->gw, &a) == 1)
		rc = route_default(s, a);
	if (rc)
		say("eth0: %s", strerror(-rc));
out:
	close(s);
}

/* Splits a file of one argument per line into argv (static storage).
 * Returns the count of arguments, or -1 (errno set) when the file cannot
 * be read; argv is NULL-terminated either way. */
static int read_argv(const char *path, char **argv, int max)
{
	static char buf[8192];
	int fd, argc = 0;
	ssize_t n;
	char *p;

	argv[0] = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (p = strtok(buf, "\n"); p && argc < max - 1; p = strtok(NULL, "\n"))
		argv[argc++] = p;
	argv[argc] = NULL;
	return argc;
}

/* Prepares the chroot of the test mode: the host's root over 9p. */
static int test_root(void)
{
	mount_one("hostroot", "/host", "9p", MS_RDONLY,
		  "trans=virtio,version=9p2000.L,msize=512000,cache=loose");
	if (mount("/dev", "/host/dev", NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount("proc", "/host/proc", "proc", 0, NULL) < 0 ||
	    mount("sysfs", "/host/sys", "sysfs", 0, NULL) < 0 ||
	    mount("tmpfs", "/host/tmp", "tmpfs", 0, "mode=1777") < 0 ||
	    mount("tmpfs", "/host/run", "tmpfs", 0, "mode=0755") < 0) {
		say("test root: %s", strerror(errno));
		return -errno;
	}
	/* The output folder, shared read-write, lands at the same path. */
	if (mount("out", "/host/run/out", "9p", 0,
		  "trans=virtio,version=9p2000.L,msize=512000") < 0) {
		mkdir("/host/run/out", 0755);
		if (mount("out", "/host/run/out", "9p", 0,
			  "trans=virtio,version=9p2000.L,msize=512000") < 0)
			say("out share: %s", strerror(errno));
	}
	return 0;
}

/* Mounts the state folder of the run mode, shared over 9p. */
static void state_mount(void)
{
	mount_one("state", "/var/lib/sbx", "9p", 0,
		  "trans=virtio,version=9p2000.L,msize=512000");
}

static pid_t start_job(struct hostinit *hi)
{
	char *argv[ARGV_MAX];
	pid_t pid;

	if (!strcmp(hi->mode, "test") && test_root() < 0)
		return -1;
	if (!strcmp(hi->mode, "run"))
		state_mount();
	pid = fork();
	if (pid != 0)
		return pid;

	setsid();
	if (!strcmp(hi->mode, "test")) {
		if (chroot("/host") < 0 || chdir("/") < 0)
			_exit(127);
		execl("/bin/bash", "bash", "-c", hi->cmd, (char *)NULL);
	} else if (!strcmp(hi->mode, "run") &&
		   read_argv("/etc/sbx/run", argv, ARGV_MAX) > 0) {
		execv(argv[0], argv);
	} else {
		execl("/bin/sh", "sh", (char *)NULL);
	}
	_exit(127);
}

/* Spawns argv with stdio on the files given (NULL: /dev/null), in a new
 * session; a tty as stdin becomes the controlling terminal. */
static pid_t spawn(char *const argv[], const char *in, const char *out)
{
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	setsid();
	fd = open(in ? in : "/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		if (fd > 0)
			close(fd);
	}
	ioctl(0, TIOCSCTTY, 0);
	fd = out ? open(out, O_WRONLY | O_CREAT | O_APPEND, 0600) : dup(0);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	execv(argv[0], argv);
	_exit(127);
}

/* Rewrites /run/sbx/sbxd.pid after (re)starting sbxd, for the console. */
static void pid_write(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fprintf(f, "%d\n", (int)pid);
		fclose(f);
	}
}

/* Reads a small decimal number from a file; def when absent or bad. */
static long read_long(const char *path, long def)
{
	char buf[32];
	char *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	long v;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return def;
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	return end == buf || v <= 0 ? def : v;
}

/* Seconds since the kernel started (suspend included). */
static long uptime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long)ts.tv_sec;
}

static void on_alarm(int sig)
{
	(void)sig; /* only interrupts wait() */
}

/* The trial watchdog: 0 when not armed, else the uptime by which
 * /run/sbx/healthy must exist. Floor of 30 s so a typo cannot make a
 * healthy version miss it. */
static long watchdog_arm(void)
{
	struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
	long t;

	if (access("/run/sbx/trial", F_OK))
		return 0;
	t = read_long("/run/sbx/health_timeout", 300);
	if (t < 30)
		t = 30;
	sigaction(SIGALRM, &sa, NULL);
	say("version on trial: it must answer /v1/health and boot a sandbox "
	    "within %ld s of boot", t);
	return t;
}

/* Reboots when the deadline passed without /run/sbx/healthy. Returns the
 * deadline still to watch: 0 once healthy (the watchdog is done). */
static long watchdog_check(const struct hostinit *hi, long deadline)
{
	if (!deadline)
		return 0;
	if (!access("/run/sbx/healthy", F_OK)) {
		say("version %s is healthy", hi->version);
		alarm(0);
		return 0;
	}
	if (uptime_s() < deadline)
		return deadline;
	say("version %s never became healthy: rebooting (systemd-boot falls back "
	    "to the previous version when its tries are used up)", hi->version);
	sync();
	reboot(RB_AUTOBOOT);
	return deadline;
}

/* The appliance: setup once, then sbxd and the console forever. A child
 * that dies within a few seconds of its start is restarted after a pause,
 * so a crash loop cannot take the CPU. */
static void appliance(const struct hostinit *hi)
{
	static char *setup[] = { "/bin/sh", "/etc/sbx/appliance-setup", NULL };
	static char *console[] = { "/usr/bin/sbx-console", NULL };
	static char *health[] = { "/usr/bin/sbx-health", NULL };
	char *sbxd[ARGV_MAX];
	char tty[64];
	pid_t sbxd_pid = 0, con_pid = 0, pid;
	time_t sbxd_t = 0, con_t = 0;
	long deadline;
	int status;

	say("appliance version %s", hi->version[0] ? hi->version : "unknown");
	snprintf(tty, sizeof(tty), "/dev/%s", hi->console);
	pid = spawn(setup, NULL, "/dev/console");
	while (pid > 0 && (waitpid(pid, &status, 0) < 0 && errno == EINTR))
		;
	deadline = watchdog_arm();
	spawn(health, NULL, NULL);
	for (;;) {
		deadline = watchdog_check(hi, deadline);
		time_t now = time(NULL);

		if (sbxd_pid <= 0) {
			if (now - sbxd_t < 3)
				sleep(3);
			if (read_argv("/run/sbx/sbxd.argv", sbxd, ARGV_MAX) > 0) {
				mkdir("/var/lib/sbx/log", 0700);
				sbxd_pid = spawn(sbxd, NULL, "/var/lib/sbx/log/sbxd.log");
				pid_write("/run/sbx/sbxd.pid", sbxd_pid);
			} else {
				say("no /run/sbx/sbxd.argv: see /run/sbx/setup.log");
				sbxd_pid = -1;
			}
			sbxd_t = time(NULL);
		}
		if (con_pid <= 0) {
			if (now - con_t < 3)
				sleep(3);
			con_pid = spawn(console, tty, NULL);
			con_t = time(NULL);
		}
		if (deadline)
			alarm(WATCHDOG_TICK_S);
		pid = wait(&status);
		if (pid < 0 && errno != EINTR)
			sleep(1);
		if (pid > 0 && pid == sbxd_pid)
			sbxd_pid = 0;
		if (pid > 0 && pid == con_pid)
			con_pid = 0;
		if (sbxd_pid < 0 && time(NULL) - sbxd_t > 10)
			sbxd_pid = 0;	/* retry: the setup may be fixed by hand */
	}
}

int main(void)
{
	struct hostinit hi = { .mode = "run", .ip = "10.0.2.15/24",
			       .gw = "10.0.2.2", .console = "ttyS0" };
	int fd, status;
	pid_t job, pid;
	ssize_t n;

	if (getpid() != 1) {
		fprintf(stderr, "sbx-hostinit runs as PID 1 of the host VM\n");
		return 2;
	}
	mount_basics();
	fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, hi.cmdline, sizeof(hi.cmdline) - 1) : -1;
	hi.cmdline[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	cmdline_get(&hi, "sbx.mode", hi.mode, sizeof(hi.mode));
	cmdline_get(&hi, "sbx.ip", hi.ip, sizeof(hi.ip));
	cmdline_get(&hi, "sbx.gw", hi.gw, sizeof(hi.gw));
	cmdline_get(&hi, "sbx.console", hi.console, sizeof(hi.console));
	cmdline_get(&hi, "sbx.version", hi.version, sizeof(hi.version));
	if (cmdline_get(&hi, "sbx.cmd", hi.cmd, sizeof(hi.cmd)) < 0)
		snprintf(hi.cmd, sizeof(hi.cmd), "/run/out/job.sh");

	load_modules();
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/root", 1);
	if (!strcmp(hi.mode, "appliance")) {
		/* systemd-boot's variables: which entry booted (GET /v1/system) */
		if (!access("/sys/firmware/efi", F_OK))
			mount_one("efivarfs", "/sys/firmware/efi/efivars", "efivarfs",
				  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
		appliance(&hi);	/* does not return */
	}
	net_up(&hi);
	say("ready, mode %s", hi.mode);

	job = start_job(&hi);
	for (;;) {
		pid = wait(&status);
		if (pid < 0 && errno == ECHILD)
			break;
		if (pid == job && job > 0)
			break;
	}
	if (job > 0 && WIFEXITED(status))
		say("job exited with status %d", WEXITSTATUS(status));
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
