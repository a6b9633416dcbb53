/*
 * guest/selftest.c: an in-guest self-test of PID 1 mode, for booting the
 * guest without a host side (QEMU TCG with no vsock device, see
 * guest/selftest-qemu.sh). With "sbx.selftest" on the kernel command line,
 * sbx-init starts a thread once it serves, which connects to itself over
 * vsock loopback (CID 1, port 1024) and drives a few ops through the real
 * protocol, printing "sbx-init: selftest PASS|FAIL name" lines on the
 * console, then "sbx-init: selftest done".
 */
#include "guest/agent.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct st {
	uint8_t *buf, *out;
	char text[4096];  /* stdout and RESULT bytes gathered */
	size_t text_len;
	uint16_t last;    /* the type of the frame that ended the op */
	uint32_t code;    /* EXIT_CODE, or TIMED_OUT << 16 */
};

static int st_connect(void)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK,
				 .svm_cid = VMADDR_CID_LOCAL,
				 .svm_port = 1024 };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static void gather(struct st *t, const struct proto_frame *f)
{
	size_t room = sizeof(t->text) - 1 - t->text_len;
	size_t n = f->len < room ? f->len : room;

	memcpy(t->text + t->text_len, f->body, n);
	t->text_len += n;
	t->text[t->text_len] = 0;
}

/* Sends the built request (and an optional DATA+END), reads to the end. */
static int st_op(struct st *t, struct proto_builder *b, const char *data)
{
	struct proto_frame f;
	int fd = st_connect(), n = proto_build_end(b), r = -EIO;

	t->text_len = 0;
	t->text[0] = 0;
	t->last = 0;
	if (fd < 0 || n < 0 || proto_write_all(fd, b->buf, (size_t)n) < 0)
		goto out;
	if (data && (proto_write_frame(fd, PROTO_DATA, data, strlen(data)) < 0 ||
		     proto_write_frame(fd, PROTO_END, NULL, 0) < 0))
		goto out;
	while (proto_read_frame(fd, t->buf, PROTO_MAX_FRAME, &f) == 0) {
		t->last = f.type;
		if (f.type == PROTO_STDOUT || f.type == PROTO_DATA ||
		    f.type == PROTO_RESULT)
			gather(t, &f);
		if (f.type == PROTO_EXIT)
			t->code = proto_u32_or(&f, PT_EXIT_CODE, 0) |
				  proto_u32_or(&f, PT_TIMED_OUT, 0) << 16;
		if (f.type == PROTO_CTX)
			proto_get_str(&f, PT_ID, t->text, sizeof(t->text));
		if (f.type == PROTO_ERROR)
			proto_get_str(&f, PT_MESSAGE, t->text, sizeof(t->text));
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static void report(const char *name, int ok, const char *detail)
{
	console_log("selftest %s %s%s%s", ok ? "PASS" : "FAIL", name,
		    ok ? "" : ": ", ok ? "" : detail);
}

static void st_exec(struct st *t, const char *name, const char *cmd,
		    uint32_t timeout_ms)
{
	struct proto_builder b;
	size_t i;

	proto_build_begin(&b, t->out, PROTO_MAX_FRAME, PROTO_EXEC);
	proto_put_str(&b, PT_CMD, cmd);
	if (timeout_ms)
		proto_put_u32(&b, PT_TIMEOUT_MS, timeout_ms);
	st_op(t, &b, NULL);
	for (i = 0; i < t->text_len; i++)
		if (t->text[i] == '\n')
			t->text[i] = ' ';
	console_log("selftest %s output: %s", name, t->text);
}

static void *selftest_main(void *arg)
{
	struct st t = { .buf = malloc(PROTO_MAX_FRAME), .out = malloc(PROTO_MAX_FRAME) };
	struct proto_builder b;
	char id[64];

	(void)arg;
	if (!t.buf || !t.out) {
		free(t.buf);
		free(t.out);
		return NULL;
	}
	st_exec(&t, "exec", "echo hi; id -u; cat /proc/self/cgroup; "
		"mount | grep -c overlay; cat /workspace/persist.txt", 60000);
	report("exec", t.last == PROTO_EXIT && !strncmp(t.text, "hi 0 ", 5),
	       t.text);
	report("exec_in_user_cgroup", strstr(t.text, "/user/") != NULL, t.text);
	st_exec(&t, "timeout", "sleep 30", 500);
	report("exec_timeout", t.last == PROTO_EXIT && (t.code >> 16) == 1, "no timeout");
	st_exec(&t, "network", "cat /proc/net/dev | grep -c lo:", 10000);
	proto_build_begin(&b, t.out, PROTO_MAX_FRAME, PROTO_FILE_WRITE);
	proto_put_str(&b, PT_PATH, "persist.txt");
	st_op(&t, &b, "written by the selftest\n");
	report("file_write", t.last == PROTO_OK, t.text);
	proto_build_begin(&b, t.out, PROTO_MAX_FRAME, PROTO_CTX_CREATE);
	proto_put_str(&b, PT_LANGUAGE, "python");
	st_op(&t, &b, NULL);
	snprintf(id, sizeof(id), "%.63s", t.text);
	report("ctx_create", t.last == PROTO_CTX, "no CTX");
	proto_build_begin(&b, t.out, PROTO_MAX_FRAME, PROTO_CTX_RUN);
	proto_put_str(&b, PT_ID, id);
	proto_put_str(&b, PT_SOURCE, "x = 6\nx * 7");
	st_op(&t, &b, NULL);
	report("ctx_run", strstr(t.text, "42") != NULL, t.text);
	console_log("selftest done");
	free(t.buf);
	free(t.out);
	return NULL;
}

/* Starts the self-test thread when the kernel command line asks for it. */
void selftest_maybe_start(void)
{
	char cmdline[4096] = "";
	FILE *f = fopen("/proc/cmdline", "re");
	pthread_t th;

	if (f) {
		if (!fgets(cmdline, sizeof(cmdline), f))
			cmdline[0] = 0;
		fclose(f);
	}
	if (!strstr(cmdline, "sbx.selftest"))
		return;
	if (pthread_create(&th, NULL, selftest_main, NULL) == 0)
		pthread_detach(th);
}
