/*
 * guest/main.c: sbx-init's entry point, in one of two modes.
 *
 *   sbx-init                 PID 1 in a sandbox VM: mounts (mounts.c),
 *                            resolv.conf from the kernel's ip= (net.c), the
 *                            user cgroup (cgroup.c), loopback up, listens on
 *                            vsock port 1024, pokes the boot-timer port
 *                            0x440 when ready, serves forever. Never exits.
 *   sbx-init --host --listen SOCK --root DIR [--runners DIR]
 *                            an ordinary process serving the same protocol
 *                            on a Unix socket, DIR as the workspace, no
 *                            mounts (tests, sbxd's test backend).
 *
 * Setup order: make fds 0-2 safe, block SIGCHLD and ignore SIGPIPE (every
 * thread inherits that), set up the file systems, start the reaper thread,
 * open the listening socket, signal readiness, serve.
 */
#include "guest/agent.h"
#include "guest/net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vm_sockets.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <sys/io.h>
#endif

#define AGENT_VSOCK_PORT 1024
#define BOOT_TIMER_PORT 0x440

static void usage(void)
{
	fprintf(stderr, "usage: sbx-init                      (PID 1 in a VM)\n"
			"       sbx-init --host --listen SOCK --root DIR "
			"[--runners DIR]\n");
	exit(2);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int listen_vsock(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_ANY,
				 .svm_port = AGENT_VSOCK_PORT };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Brings up the loopback interface (port forwarding connects to it). */
static void loopback_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			console_log("lo up: %s", strerror(errno));
	}
	close(fd);
}

/* Tells the VMM the agent is ready: one byte to the boot-timer port. */
static void boot_timer_poke(void)
{
#if defined(__x86_64__)
	if (ioperm(BOOT_TIMER_PORT, 1, 1) == 0)
		outb(0x01, BOOT_TIMER_PORT);
#endif
}

/* SIGCHLD (and in host mode SIGTERM, SIGINT) go to the reaper thread. */
static void setup_signals(int host)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (host) {
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
	}
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* fds 0-2 must be open, or sockets and pipes would land on them. */
static void safe_std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

static void guest_env(void)
{
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/root", 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("TERM", "xterm", 0);
	sethostname(NET_HOSTNAME, strlen(NET_HOSTNAME));
}

/* PID 1: sets everything up and serves; never returns. */
static void run_pid1(struct agent *ag)
{
	int lfd, r;

	mounts_setup(ag);
	guest_env();
	r = net_setup();
	if (r < 0)
		console_log("network files: %s", strerror(-r));
	setup_signals(0);
	r = cgroup_setup(ag);
	if (r < 0)
		console_log("no user cgroup (%s): limits not enforced", strerror(-r));
	loopback_up();
	if (reaper_start(ag) < 0)
		console_log("reaper thread failed");
	while ((lfd = listen_vsock()) < 0) {
		console_log("vsock listen: %s (retrying)", strerror(-lfd));
		sleep(1);
	}
	boot_timer_poke();
	console_log("ready on vsock port %d", AGENT_VSOCK_PORT);
	selftest_maybe_start();
	agent_serve(ag, lfd);
	for (;;)
		pause();
}

/*
 * Default runners folder in host mode: guest/runners of the source tree the
 * binary was built in (found by walking up from it), else /opt/sbx/runners.
 */
static void default_runners(struct agent *ag)
{
	char exe[AGENT_PATH_MAX - 32], try[AGENT_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *s;

	snprintf(ag->runners, sizeof(ag->runners), "/opt/sbx/runners");
	if (n <= 0)
		return;
	exe[n] = 0;
	while ((s = strrchr(exe, '/')) && s != exe) {
		*s = 0;
		snprintf(try, sizeof(try), "%s/guest/runners", exe);
		if (access(try, F_OK) == 0) {
			snprintf(ag->runners, sizeof(ag->runners), "%s", try);
			return;
		}
	}
}

static int run_host(struct agent *ag, const char *sock, const char *root)
{
	int lfd;

	if (!realpath(root, ag->root)) {
		fprintf(stderr, "sbx-init: --root %s: %s\n", root, strerror(errno));
		return 1;
	}
	if (!ag->runners[0])
		default_runners(ag);
	setup_signals(1);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (reaper_start(ag) < 0)
		return 1;
	lfd = listen_unix(sock);
	if (lfd < 0) {
		fprintf(stderr, "sbx-init: listen %s: %s\n", sock, strerror(-lfd));
		return 1;
	}
	agent_serve(ag, lfd);
	return 0;
}

int main(int argc, char **argv)
{
	static struct agent ag = { .lock = PTHREAD_MUTEX_INITIALIZER,
				   .cond = PTHREAD_COND_INITIALIZER };
	const char *sock = NULL, *root = NULL;
	int host = 0, i;

	safe_std_fds();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--host"))
			host = 1;
		else if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "--root") && i + 1 < argc)
			root = argv[++i];
		else if (!strcmp(argv[i], "--runners") && i + 1 < argc)
			snprintf(ag.runners, sizeof(ag.runners), "%s", argv[++i]);
		else if (getpid() != 1)
			usage();
	}
	if (getpid() == 1 && !host)
		run_pid1(&ag);
	if (!host || !sock || !root)
		usage();
	ag.host_mode = 1;
	return run_host(&ag, sock, root);
}
