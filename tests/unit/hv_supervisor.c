/*
 * tests/unit/hv_supervisor.c: what sbxd uses to run VMMs, without a VMM:
 * the CONNECT/OK line parser, exit-status decoding, vsock_dial against a
 * fake VMM socket (a thread), and spawn/ready/stop/signal against a shell script
 * standing in for sbx-vmm.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/supervisor.h"
#include "hv/vsock_line.h"
#include "tests/lib/check.h"

static char dir[] = "/tmp/hv_sup.XXXXXX";
static char sock[100], script[128];

static void test_line_parser(void)
{
	uint32_t p = 0;

	CHECK_EQ(vsock_line_connect("CONNECT 1024\n", 13, &p), 13);
	CHECK_EQ(p, 1024);
	CHECK_EQ(vsock_line_connect("CONNECT 1024\nxyz", 16, &p), 13);
	CHECK_EQ(vsock_line_connect("CONNECT 0\n", 10, &p), 10);
	CHECK_EQ(p, 0);
	CHECK_EQ(vsock_line_connect("CONNECT 4294967295\n", 19, &p), 19);
	CHECK_EQ(p, 4294967295u);
	CHECK_EQ(vsock_line_connect("CONNECT 4294967296\n", 19, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT 99999999999999999999\n", 29, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT 10", 10, &p), 0);  /* more to come */
	CHECK_EQ(vsock_line_connect("CONN", 4, &p), 0);
	CHECK_EQ(vsock_line_connect("", 0, &p), 0);
	CHECK_EQ(vsock_line_connect("CONNECT \n", 9, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT  1\n", 11, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT -1\n", 11, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT +1\n", 11, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT 01\n", 11, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT 1\r\n", 11, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("connect 1\n", 10, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECTX1\n", 10, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT 1\0\n", 11, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT 00000000000000000000000", 31, &p), -EINVAL);
	CHECK_EQ(vsock_line_connect("CONNECT 1111111111111111111111111", 33, &p), -EINVAL);
	CHECK_EQ(vsock_line_ok("OK 1073741824\n", 14, &p), 14);
	CHECK_EQ(p, 1073741824u);
	CHECK_EQ(vsock_line_ok("NO 1\n", 5, &p), -EINVAL);
}

static void test_exit_decode(void)
{
	const char *name = NULL;

	CHECK_EQ(sbx_vmm_exit_decode(0 << 8, &name), SBX_VMM_EXIT_POWEROFF);
	CHECK(!strcmp(name, "poweroff"));
	CHECK_EQ(sbx_vmm_exit_decode(1 << 8, &name), SBX_VMM_EXIT_REBOOT);
	CHECK(!strcmp(name, "reboot"));
	CHECK_EQ(sbx_vmm_exit_decode(4 << 8, &name), SBX_VMM_EXIT_CRASH);
	CHECK_EQ(sbx_vmm_exit_decode(5 << 8, &name), SBX_VMM_EXIT_SIGNAL);
	CHECK_EQ(sbx_vmm_exit_decode(77 << 8, &name), SBX_VMM_EXIT_ERROR);
	CHECK_EQ(sbx_vmm_exit_decode(SIGKILL, &name), SBX_VMM_EXIT_ERROR);
	CHECK(!strcmp(name, "killed by signal"));
}

/* A fake VMM socket: reads the CONNECT line, answers with `reply`. */
struct fake {
	int lfd;
	const char *reply;
	char got[64];
};

static void *fake_vmm(void *arg)
{
	struct fake *f = arg;
	int c = accept(f->lfd, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	n = read(c, f->got, sizeof(f->got) - 1);
	if (n > 0 && f->reply && write(c, f->reply, strlen(f->reply)) < 0)
		f->got[0] = 0; /* the test then sees no CONNECT line */
	usleep(100 * 1000);
	close(c);
	return NULL;
}

static int fake_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	unlink(sock);
	strcpy(sa.sun_path, sock);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
		return -1;
	return fd;
}

static void test_vsock_dial(void)
{
	struct fake f = { .reply = "OK 1073741825\nDATA" };
	pthread_t t;
	char buf[8] = { 0 };
	int fd;

	f.lfd = fake_listen();
	CHECK(f.lfd >= 0);
	pthread_create(&t, NULL, fake_vmm, &f);
	fd = vsock_dial(sock, 1024);
	CHECK(fd >= 0);
	if (fd >= 0) {
		/* the bytes after the OK line are the guest's: still there */
		CHECK_EQ(read(fd, buf, 4), 4);
		CHECK(!memcmp(buf, "DATA", 4));
		close(fd);
	}
	pthread_join(t, NULL);
	CHECK(!strcmp(f.got, "CONNECT 1024\n"));
	f.reply = "NO\n";
	pthread_create(&t, NULL, fake_vmm, &f);
	CHECK_EQ(vsock_dial(sock, 5), -ECONNREFUSED);
	pthread_join(t, NULL);
	f.reply = NULL; /* closes without answering */
	pthread_create(&t, NULL, fake_vmm, &f);
	CHECK_EQ(vsock_dial(sock, 5), -ECONNREFUSED);
	pthread_join(t, NULL);
	close(f.lfd);
	unlink(sock);
	CHECK_EQ(vsock_dial(sock, 5), -ENOENT);
}

static int write_script(const char *body)
{
	FILE *f = fopen(script, "w");

	if (!f)
		return -1;
	fprintf(f, "#!/bin/sh\nexec 2>/dev/null\n%s\n", body);
	fclose(f);
	return chmod(script, 0755);
}

static void test_spawn_ready_exit(void)
{
	struct sbx_vmm_config cfg = { .vmm_path = script, .kernel = "/k",
				      .vsock_path = sock, .cpus = 2, .mem_mib = 128 };
	struct sbx_vmm v;
	struct pollfd p;
	char buf[64] = { 0 };
	ssize_t n;
	int i;

	/* the fake checks its arguments, says ready on fd 3, "reboots" */
	CHECK_EQ(write_script(
		"case \"$*\" in *'--kernel /k'*'--cpus 2 --mem 128 --ready-fd 3'*) ;;"
		" *) exit 9;; esac\necho 'ready 1234' >&3\nexit 1"), 0);
	CHECK_EQ(sbx_vmm_spawn(&cfg, &v), 0);
	CHECK(v.pid > 0);
	CHECK(v.pidfd >= 0);
	p = (struct pollfd){ .fd = v.pidfd, .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 5000), 1);
	for (i = 0; i < 100; i++) {
		n = read(v.ready_fd, buf, sizeof(buf) - 1);
		if (n > 0 || (n < 0 && errno != EAGAIN))
			break;
		usleep(10000);
	}
	CHECK(!strcmp(buf, "ready 1234\n"));
	CHECK_EQ(sbx_vmm_poll(&v), 1);
	CHECK_EQ(sbx_vmm_exit_decode(v.status, NULL), SBX_VMM_EXIT_REBOOT);
	sbx_vmm_close(&v);
	sbx_vmm_close(&v);
}

static void test_spawn_stop(void)
{
	struct sbx_vmm_config cfg = { .vmm_path = script, .kernel = "/k", .vsock_path = sock };
	struct sbx_vmm v;

	/* ignores SIGTERM: stop must escalate to SIGKILL */
	CHECK_EQ(write_script("trap '' TERM\nwhile :; do sleep 1; done"), 0);
	CHECK_EQ(sbx_vmm_spawn(&cfg, &v), 0);
	usleep(100 * 1000);
	CHECK_EQ(sbx_vmm_poll(&v), 0);
	CHECK_EQ(sbx_vmm_stop(&v, 200), 0);
	CHECK(WIFSIGNALED(v.status) && WTERMSIG(v.status) == SIGKILL);
	sbx_vmm_close(&v);
	/* exits on SIGTERM: no SIGKILL needed */
	CHECK_EQ(write_script("trap 'exit 5' TERM\nwhile :; do sleep 0.05; done"), 0);
	CHECK_EQ(sbx_vmm_spawn(&cfg, &v), 0);
	usleep(200 * 1000);
	CHECK_EQ(sbx_vmm_stop(&v, 3000), 0);
	CHECK_EQ(sbx_vmm_exit_decode(v.status, NULL), SBX_VMM_EXIT_SIGNAL);
	sbx_vmm_close(&v);
}

/* The loop's way: signal, then learn of the exit from the pidfd. */
static void test_spawn_signal(void)
{
	struct sbx_vmm_config cfg = { .vmm_path = script, .kernel = "/k", .vsock_path = sock };
	struct sbx_vmm v;
	struct pollfd p;

	CHECK_EQ(write_script("trap '' TERM\nwhile :; do sleep 1; done"), 0);
	CHECK_EQ(sbx_vmm_spawn(&cfg, &v), 0);
	usleep(100 * 1000);
	CHECK_EQ(sbx_vmm_signal(&v, SIGTERM), 0); /* returns at once, ignored */
	p = (struct pollfd){ .fd = v.pidfd, .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 300), 0);
	CHECK_EQ(sbx_vmm_poll(&v), 0);
	CHECK_EQ(sbx_vmm_signal(&v, SIGKILL), 0);
	CHECK_EQ(poll(&p, 1, 5000), 1);
	CHECK_EQ(sbx_vmm_poll(&v), 1);
	CHECK(WIFSIGNALED(v.status) && WTERMSIG(v.status) == SIGKILL);
	/* reaped: its pid may be anyone's now, so nothing is sent */
	CHECK_EQ(sbx_vmm_signal(&v, SIGKILL), -ESRCH);
	sbx_vmm_close(&v);
}

static void test_spawn_errors(void)
{
	struct sbx_vmm_config cfg = { .vmm_path = "/nonexistent/sbx-vmm", .kernel = "/k",
				      .vsock_path = sock };
	struct sbx_vmm v;

	CHECK_EQ(sbx_vmm_spawn(&cfg, &v), -ENOENT);
	cfg.kernel = NULL;
	CHECK_EQ(sbx_vmm_spawn(&cfg, &v), -EINVAL);
}

int main(void)
{
	check_skip_reason = "";
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/v.sock", dir);
	snprintf(script, sizeof(script), "%s/fake-vmm", dir);
	TEST(test_line_parser);
	TEST(test_exit_decode);
	TEST(test_vsock_dial);
	TEST(test_spawn_ready_exit);
	TEST(test_spawn_stop);
	TEST(test_spawn_signal);
	TEST(test_spawn_errors);
	unlink(script);
	unlink(sock);
	rmdir(dir);
	return check_exit();
}
