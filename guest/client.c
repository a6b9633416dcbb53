/*
 * guest/client.c: sbx-agent-client, a small command-line client of the guest
 * protocol, for tests and debugging against sbx-init (host mode: a Unix
 * socket path).
 *
 *   sbx-agent-client SOCK COMMAND [ARGS]
 *
 * Data (stdout, file contents, forwarded bytes) goes to stdout, stderr
 * output to stderr; control frames are printed as one line each,
 * "TYPE name=value ...", on stdout (on stderr for exec, read, connect and
 * ctx-run, whose stdout is data). Exit status: exec returns the command's
 * status (124 on timeout, 128+N on signal N); an ERROR reply exits 3;
 * usage or connection problems exit 2.
 */
#include "guest/proto.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static uint8_t rbuf[PROTO_MAX_FRAME], wbuf[PROTO_MAX_FRAME];
static FILE *info;
static int sock = -1;

static const char *const tag_names[PT_TAG_LAST + 1] = {
	[PT_CMD] = "cmd", [PT_ARG] = "arg", [PT_ENV] = "env", [PT_CWD] = "cwd",
	[PT_TIMEOUT_MS] = "timeout_ms", [PT_PATH] = "path", [PT_DEST] = "dest",
	[PT_RECURSIVE] = "recursive", [PT_HIDDEN] = "hidden", [PT_MODE] = "mode",
	[PT_SIZE] = "size", [PT_MTIME_MS] = "mtime_ms", [PT_FTYPE] = "type",
	[PT_NAME] = "name", [PT_PID] = "pid", [PT_EXIT_CODE] = "exit_code",
	[PT_SIGNAL] = "signal", [PT_TIMED_OUT] = "timed_out",
	[PT_DURATION_MS] = "duration_ms", [PT_CODE] = "code",
	[PT_MESSAGE] = "message", [PT_ID] = "id", [PT_STATUS] = "status",
	[PT_START_MS] = "start_ms", [PT_END_MS] = "end_ms", [PT_STREAM] = "stream",
	[PT_OFFSET] = "offset", [PT_FOLLOW] = "follow", [PT_PORT] = "port",
	[PT_LANGUAGE] = "language", [PT_SOURCE] = "source",
	[PT_VERSION] = "version", [PT_FEATURE] = "feature",
	[PT_OUT_DROPPED] = "out_dropped", [PT_ERR_DROPPED] = "err_dropped",
	[PT_OUT_TOTAL] = "out_total", [PT_ERR_TOTAL] = "err_total",
	[PT_STDIN] = "stdin", [PT_SIGNAL_NUM] = "signal_num", [PT_COUNT] = "count",
	[PT_ERRNO] = "errno", [PT_TARGET] = "target",
};

static void die(const char *msg)
{
	fprintf(stderr, "sbx-agent-client: %s\n", msg);
	exit(2);
}

static void print_field(const struct proto_field *fl)
{
	const char *name = fl->tag <= PT_TAG_LAST ? tag_names[fl->tag] : NULL;
	const uint8_t *v = fl->val;

	fprintf(info, " %s=", name ? name : "?");
	switch (proto_tag_kind(fl->tag)) {
	case PK_U32:
		fprintf(info, "%u", (unsigned)(v[0] | v[1] << 8 | v[2] << 16 |
					       (uint32_t)v[3] << 24));
		break;
	case PK_U64: {
		uint64_t x = 0;
		int i;

		for (i = 7; i >= 0; i--)
			x = x << 8 | v[i];
		fprintf(info, "%llu", (unsigned long long)x);
		break;
	}
	default:
		fwrite(v, 1, fl->len, info);
	}
}

static void print_control(const struct proto_frame *f)
{
	struct proto_field fl;
	size_t pos = 0;

	fprintf(info, "%s", proto_type_name(f->type));
	while (proto_next_field(f, &pos, &fl) > 0)
		print_field(&fl);
	fprintf(info, "\n");
	fflush(info);
}

static void out_bytes(int fd, const void *p, size_t n)
{
	if (proto_write_all(fd, p, n) < 0)
		exit(2);
}

/*
 * Reads and prints frames until one that ends the op. Returns the exit
 * status for the command.
 */
static int read_replies(void)
{
	struct proto_frame f;
	int r;

	for (;;) {
		r = proto_read_frame(sock, rbuf, sizeof(rbuf), &f);
		if (r == -ENODATA)
			return 0;
		if (r < 0)
			die("connection lost");
		switch (f.type) {
		case PROTO_STDOUT:
		case PROTO_DATA:
			out_bytes(1, f.body, f.len);
			break;
		case PROTO_STDERR:
			out_bytes(2, f.body, f.len);
			break;
		case PROTO_RESULT:
		case PROTO_CTX_ERROR:
			fflush(stdout);
			printf("%s %.*s\n", f.type == PROTO_RESULT ? "RESULT" : "CTX_ERROR",
			       (int)f.len, (const char *)f.body);
			fflush(stdout);
			break;
		case PROTO_ERROR:
			print_control(&f);
			return 3;
		case PROTO_EXIT: {
			uint32_t code = proto_u32_or(&f, PT_EXIT_CODE, 0);

			print_control(&f);
			return proto_u32_or(&f, PT_TIMED_OUT, 0) ? 124 : (int)code;
		}
		default:
			print_control(&f);
		}
	}
}

static void send_built(struct proto_builder *b)
{
	int n = proto_build_end(b);

	if (n < 0 || proto_write_all(sock, wbuf, (size_t)n) < 0)
		die("send failed");
}

static void connect_sock(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(a.sun_path))
		die("socket path too long");
	strcpy(a.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("cannot connect");
}

/*
 * Copies one read of stdin into a frame of type data_type, or sends
 * end_type at end of input. 1 to go on, 0 when done or the send failed.
 */
static int pump_stdin(uint16_t data_type, uint16_t end_type)
{
	ssize_t n = read(0, wbuf + PROTO_HDR_LEN, PROTO_CHUNK);

	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0) {
		proto_write_frame(sock, end_type, NULL, 0);
		return 0;
	}
	/* A send fails when the agent answered early (ERROR): read that. */
	return proto_write_frame(sock, data_type, wbuf + PROTO_HDR_LEN,
				 (size_t)n) == 0;
}

static void *stdin_thread(void *arg)
{
	while (pump_stdin(PROTO_STDIN, PROTO_STDIN_EOF))
		;
	return NULL;
}

/*
 * Feeds stdin as STDIN frames from a second thread while this one reads
 * replies, so neither direction can hold the other back.
 */
static int exec_with_stdin(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, stdin_thread, NULL))
		die("thread");
	pthread_detach(t);
	return read_replies();
}

/* exec [-t MS] [-i] [-e K=V]... [-C DIR] [-a] CMD... */
static int cmd_exec(int argc, char **argv, uint16_t type)
{
	struct proto_builder b;
	int i, use_stdin = 0, as_argv = 0;
	char cmd[65536] = "";

	proto_build_begin(&b, wbuf, sizeof(wbuf), type);
	for (i = 0; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc)
			proto_put_u32(&b, PT_TIMEOUT_MS, (uint32_t)atoi(argv[++i]));
		else if (!strcmp(argv[i], "-e") && i + 1 < argc)
			proto_put_str(&b, PT_ENV, argv[++i]);
		else if (!strcmp(argv[i], "-C") && i + 1 < argc)
			proto_put_str(&b, PT_CWD, argv[++i]);
		else if (!strcmp(argv[i], "-I") && i + 1 < argc)
			proto_put_str(&b, PT_ID, argv[++i]);
		else if (!strcmp(argv[i], "-i"))
			use_stdin = 1;
		else if (!strcmp(argv[i], "-a"))
			as_argv = 1;
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else
			die("bad exec option");
	}
	for (; i < argc; i++) {
		if (as_argv) {
			proto_put_str(&b, PT_ARG, argv[i]);
			continue;
		}
		if (cmd[0])
			strncat(cmd, " ", sizeof(cmd) - strlen(cmd) - 1);
		strncat(cmd, argv[i], sizeof(cmd) - strlen(cmd) - 1);
	}
	if (!as_argv)
		proto_put_str(&b, PT_CMD, cmd);
	if (use_stdin)
		proto_put_u32(&b, PT_STDIN, 1);
	send_built(&b);
	return use_stdin ? exec_with_stdin() : read_replies();
}

static int cmd_write(const char *path)
{
	struct proto_builder b;

	proto_build_begin(&b, wbuf, sizeof(wbuf), PROTO_FILE_WRITE);
	proto_put_str(&b, PT_PATH, path);
	send_built(&b);
	while (pump_stdin(PROTO_DATA, PROTO_END))
		;
	return read_replies();
}

/* Sends type with PATH and flags from -r/-p/-a options. */
static int cmd_path(uint16_t type, int argc, char **argv)
{
	struct proto_builder b;
	int i;

	proto_build_begin(&b, wbuf, sizeof(wbuf), type);
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-r") || !strcmp(argv[i], "-p"))
			proto_put_u32(&b, PT_RECURSIVE, 1);
		else if (!strcmp(argv[i], "-a"))
			proto_put_u32(&b, PT_HIDDEN, 1);
		else if (!strcmp(argv[i], "-f"))
			proto_put_u32(&b, PT_FOLLOW, 1);
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			proto_put_u32(&b, PT_STREAM, (uint32_t)atoi(argv[++i]));
		else if (!strcmp(argv[i], "-o") && i + 1 < argc)
			proto_put_u64(&b, PT_OFFSET, strtoull(argv[++i], NULL, 10));
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			proto_put_u32(&b, PT_TIMEOUT_MS, (uint32_t)atoi(argv[++i]));
		else if (!strcmp(argv[i], "-S") && i + 1 < argc)
			proto_put_u32(&b, PT_SIGNAL_NUM, (uint32_t)atoi(argv[++i]));
		else if (!strcmp(argv[i], "-P") && i + 1 < argc)
			proto_put_u32(&b, PT_PORT, (uint32_t)atoi(argv[++i]));
		else if (!strcmp(argv[i], "-l") && i + 1 < argc)
			proto_put_str(&b, PT_LANGUAGE, argv[++i]);
		else if (!strcmp(argv[i], "-I") && i + 1 < argc)
			proto_put_str(&b, PT_ID, argv[++i]);
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			proto_put_str(&b, PT_SOURCE, argv[++i]);
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			proto_put_str(&b, PT_DEST, argv[++i]);
		else if (!strcmp(argv[i], "-e") && i + 1 < argc)
			proto_put_str(&b, PT_ENV, argv[++i]);
		else
			proto_put_str(&b, PT_PATH, argv[i]);
	}
	send_built(&b);
	return read_replies();
}

/* connect -P PORT: after OK, stdin/stdout are piped to the guest port. */
static int cmd_connect(int argc, char **argv)
{
	struct proto_builder b;
	struct proto_frame f;
	struct pollfd p[2];
	int in_open = 1;
	ssize_t n;

	proto_build_begin(&b, wbuf, sizeof(wbuf), PROTO_PORT_CONNECT);
	proto_put_u32(&b, PT_PORT, argc > 0 ? (uint32_t)atoi(argv[0]) : 0);
	send_built(&b);
	if (proto_read_frame(sock, rbuf, sizeof(rbuf), &f) < 0)
		die("connection lost");
	print_control(&f);
	if (f.type != PROTO_OK)
		return 3;
	for (;;) {
		p[0] = (struct pollfd){ .fd = in_open ? 0 : -1, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = sock, .events = POLLIN };
		poll(p, 2, -1);
		if (p[0].revents) {
			n = read(0, wbuf, sizeof(wbuf));
			if (n <= 0) {
				in_open = 0;
				shutdown(sock, SHUT_WR);
			} else {
				out_bytes(sock, wbuf, (size_t)n);
			}
		}
		if (p[1].revents) {
			n = read(sock, rbuf, sizeof(rbuf));
			if (n <= 0)
				return 0;
			out_bytes(1, rbuf, (size_t)n);
		}
	}
}

static const struct {
	const char *name;
	uint16_t type;
} simple[] = {
	{ "hello", PROTO_HELLO },	    { "read", PROTO_FILE_READ },
	{ "mkdir", PROTO_MKDIR },	    { "rm", PROTO_DELETE },
	{ "mv", PROTO_RENAME },		    { "ls", PROTO_LIST },
	{ "stat", PROTO_STAT },		    { "plist", PROTO_PROC_LIST },
	{ "pget", PROTO_PROC_GET },	    { "pkill", PROTO_PROC_KILL },
	{ "pkillall", PROTO_PROC_KILL_ALL }, { "plogs", PROTO_PROC_LOGS },
	{ "waitport", PROTO_WAIT_PORT },    { "ctx-create", PROTO_CTX_CREATE },
	{ "ctx-run", PROTO_CTX_RUN },	    { "ctx-list", PROTO_CTX_LIST },
	{ "ctx-delete", PROTO_CTX_DELETE },
};

static void usage(void)
{
	fprintf(stderr,
		"usage: sbx-agent-client SOCK COMMAND [ARGS]\n"
		"  hello | exec [-t MS] [-i] [-e K=V] [-C DIR] [-a] CMD...\n"
		"  read PATH | write PATH (stdin) | stat PATH | mkdir [-p] PATH\n"
		"  rm [-r] PATH | mv PATH -d DEST | ls [-r] [-a] PATH\n"
		"  pstart [-I ID] [-C DIR] CMD... | plist | pget -I ID\n"
		"  pkill -I ID [-S SIG] | pkillall [-S SIG]\n"
		"  plogs -I ID [-f] [-s 1|2] [-o OFF]\n"
		"  waitport -P PORT [-t MS] | connect PORT\n"
		"  ctx-create -l LANG [-e K=V] | ctx-run -I ID -c CODE [-t MS]\n"
		"  ctx-list | ctx-delete -I ID\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd;
	size_t i;

	if (argc < 3)
		usage();
	signal(SIGPIPE, SIG_IGN);
	cmd = argv[2];
	info = stdout;
	if (!strcmp(cmd, "exec") || !strcmp(cmd, "read") ||
	    !strcmp(cmd, "connect") || !strcmp(cmd, "ctx-run"))
		info = stderr;
	connect_sock(argv[1]);
	if (!strcmp(cmd, "exec"))
		return cmd_exec(argc - 3, argv + 3, PROTO_EXEC);
	if (!strcmp(cmd, "pstart"))
		return cmd_exec(argc - 3, argv + 3, PROTO_PROC_START);
	if (!strcmp(cmd, "write") && argc > 3)
		return cmd_write(argv[3]);
	if (!strcmp(cmd, "connect"))
		return cmd_connect(argc - 3, argv + 3);
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(cmd, simple[i].name))
			return cmd_path(simple[i].type, argc - 3, argv + 3);
	usage();
	return 2;
}
