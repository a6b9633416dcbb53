/*
 * guest/agent.c: serving the guest protocol, the same in a VM (vsock) and in
 * host mode (Unix socket).
 *
 * Each accepted connection gets a detached thread that reads the first
 * frame, dispatches it to the module owning the op (exec.c, files.c,
 * procs.c, portfwd.c, contexts.c) and closes the connection when the op
 * returns. Ops write with blocking calls, which is the flow control: a slow
 * client holds back its own op and nothing else.
 */
#include "guest/agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int conn_send(struct conn *c, struct proto_builder *b)
{
	int n = proto_build_end(b);

	if (n < 0)
		return n;
	return proto_write_all(c->fd, b->buf, (size_t)n);
}

int conn_empty(struct conn *c, uint16_t type)
{
	return proto_write_frame(c->fd, type, NULL, 0);
}

int conn_error(struct conn *c, int err, const char *msg)
{
	struct proto_builder b;

	if (err < 0)
		err = -err;
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_ERROR);
	proto_put_str(&b, PT_CODE, proto_errno_code(err));
	proto_put_str(&b, PT_MESSAGE, msg ? msg : strerror(err));
	proto_put_u32(&b, PT_ERRNO, (uint32_t)err);
	return conn_send(c, &b);
}

static int hello_op(struct conn *c)
{
	static const char *const feats[] = { "exec", "files", "procs", "ports" };
	struct proto_builder b;
	size_t i;

	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_OK);
	proto_put_u32(&b, PT_VERSION, PROTO_VERSION);
	proto_put_str(&b, PT_NAME, "sbx-init " AGENT_VERSION);
	for (i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		proto_put_str(&b, PT_FEATURE, feats[i]);
	if (contexts_available(c->ag, "python"))
		proto_put_str(&b, PT_FEATURE, "ctx-python");
	if (contexts_available(c->ag, "javascript"))
		proto_put_str(&b, PT_FEATURE, "ctx-javascript");
	return conn_send(c, &b);
}

static int dispatch(struct conn *c, const struct proto_frame *req)
{
	switch (req->type) {
	case PROTO_HELLO:
		return hello_op(c);
	case PROTO_EXEC:
		return exec_op(c, req);
	case PROTO_FILE_READ:
	case PROTO_FILE_WRITE:
	case PROTO_MKDIR:
	case PROTO_DELETE:
	case PROTO_RENAME:
	case PROTO_LIST:
	case PROTO_STAT:
		return files_op(c, req);
	case PROTO_PROC_START:
	case PROTO_PROC_LIST:
	case PROTO_PROC_GET:
	case PROTO_PROC_KILL:
	case PROTO_PROC_KILL_ALL:
	case PROTO_PROC_LOGS:
		return procs_op(c, req);
	case PROTO_WAIT_PORT:
	case PROTO_PORT_CONNECT:
		return portfwd_op(c, req);
	case PROTO_CTX_CREATE:
	case PROTO_CTX_RUN:
	case PROTO_CTX_LIST:
	case PROTO_CTX_DELETE:
		return contexts_op(c, req);
	default:
		return conn_error(c, EBADMSG, "not a request");
	}
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct proto_frame req;
	int r;

	r = proto_read_frame(c->fd, c->buf, PROTO_MAX_FRAME, &req);
	if (r == -EBADMSG)
		conn_error(c, EBADMSG, "malformed frame");
	else if (r == 0)
		dispatch(c, &req);
	close(c->fd);
	free(c->buf);
	free(c->out);
	free(c);
	return NULL;
}

static void start_conn(struct agent *ag, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	pthread_attr_t at;
	pthread_t t;

	if (c) {
		c->buf = malloc(PROTO_MAX_FRAME);
		c->out = malloc(PROTO_MAX_FRAME);
	}
	if (!c || !c->buf || !c->out)
		goto fail;
	c->ag = ag;
	c->fd = fd;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 512 * 1024);
	if (pthread_create(&t, &at, conn_main, c) == 0) {
		pthread_attr_destroy(&at);
		return;
	}
	pthread_attr_destroy(&at);
fail:
	if (c) {
		free(c->buf);
		free(c->out);
	}
	free(c);
	close(fd);
}

/* Accepts connections forever; each gets its own thread. */
void agent_serve(struct agent *ag, int lfd)
{
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				usleep(100000);
			continue;
		}
		start_conn(ag, fd);
	}
}
