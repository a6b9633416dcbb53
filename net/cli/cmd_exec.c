/*
 * net/cli/cmd_exec.c: `sbx exec` (a command) and `sbx run` (code in a
 * context), both streamed as Server-Sent Events.
 *
 * Output events are written to our stdout and stderr as they arrive. exec
 * exits with the command's own exit status (124 when it timed out); a
 * stream that ends without a complete event is an error, never a silent 0.
 */
#include "net/cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cli_stream {
	struct cli *c;
	struct sse_parser p;
	int done;      /* complete or error seen */
	int exit_code; /* what we exit with */
	int code_error; /* run: the code raised */
};

static void cli_out(FILE *f, json_t *v)
{
	const char *s = json_string_value(v);

	if (s) {
		fwrite(s, 1, json_string_length(v), f);
		fflush(f);
	}
}

/* A failure event {error, code}: one line, exit 124 for a timeout. */
static int cli_stream_error(struct cli_stream *st, json_t *j)
{
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(j, "code"));
	const char *msg = json_is_string(e) ? json_string_value(e)
					    : json_string_value(json_object_get(j, "message"));

	cli_fail(st->c, "%s (%s)", msg ? msg : "failed", code ? code : "error");
	st->exit_code = code && !strcmp(code, "timeout") ? 124 : 1;
	st->done = 1;
	return 0;
}

static int cli_exec_event(void *arg, const char *name, const char *data, size_t len)
{
	struct cli_stream *st = arg;
	json_error_t je;
	json_t *j = json_loadb(data, len, 0, &je);

	if (!strcmp(name, "stdout"))
		cli_out(stdout, json_object_get(j, "data"));
	else if (!strcmp(name, "stderr"))
		cli_out(stderr, json_object_get(j, "data"));
	else if (!strcmp(name, "complete")) {
		st->exit_code = (int)json_integer_value(json_object_get(j, "exitCode"));
		st->done = 1;
	} else if (!strcmp(name, "error")) {
		cli_stream_error(st, j);
	}
	json_decref(j);
	return 0;
}

static int cli_stream_data(void *arg, const char *buf, size_t len)
{
	struct cli_stream *st = arg;

	return sse_parser_feed(&st->p, buf, len);
}

/* Parses exec's and run's shared options; returns the index of the first
 * argument it did not take, or -1 on bad usage. */
static int cli_exec_opts(int argc, char **argv, int i, json_t *body, int *envs)
{
	json_t *env = json_object_get(body, "env");

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--env") && i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');
			if (!eq || eq == argv[i])
				return -1;
			*eq = 0;
			json_object_set_new(env, argv[i], json_string(eq + 1));
			*envs = 1;
		} else if (!strcmp(argv[i], "--cwd") && i + 1 < argc) {
			json_object_set_new(body, "cwd", json_string(argv[++i]));
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *e;
			long t = strtol(argv[++i], &e, 10);
			if (*e || t < 0)
				return -1;
			json_object_set_new(body, "timeout", json_integer(t));
		} else if (!strcmp(argv[i], "--lang") && i + 1 < argc) {
			json_object_set_new(body, "language", json_string(argv[++i]));
		} else if (!strcmp(argv[i], "--context") && i + 1 < argc) {
			json_object_set_new(body, "context", json_string(argv[++i]));
		} else {
			break;
		}
	}
	return i;
}

/* Runs one SSE call and returns the exit status for it. */
static int cli_stream_call(struct cli *c, const char *path, json_t *body,
			   int (*on_event)(void *, const char *, const char *, size_t))
{
	struct cli_stream st = { .c = c, .exit_code = 1 };
	struct cli_sink sink = { .data = cli_stream_data, .arg = &st, .upload_size = -1,
				 .accept = "text/event-stream" };

	sse_parser_init(&st.p, on_event, &st);
	int rc = cli_call_stream(c, "POST", path, body, &sink);
	sse_parser_free(&st.p);
	if (rc)
		return rc;
	if (!st.done)
		return cli_fail(c, "the stream ended without an exit status (connection lost?)");
	return st.exit_code;
}

static int cli_sandbox_path(struct cli *c, const char *id, const char *sub,
			    char *path, size_t cap)
{
	snprintf(path, cap, "/v1/sandboxes/");
	if (cli_path_escape(id, path, cap, 0) || strlen(path) + strlen(sub) + 1 > cap)
		return cli_fail(c, "sandbox id too long");
	strcat(path, sub);
	return 0;
}

static int cli_exec(struct cli *c, int argc, char **argv)
{
	json_t *body = json_pack("{s:{}}", "env");
	char path[256], *cmd = NULL;
	int envs = 0, rc;

	if (argc < 3)
		goto usage;
	const char *id = argv[1];
	int i = cli_exec_opts(argc, argv, 2, body, &envs);
	if (i < 0)
		goto usage;
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		goto usage;
	if (!envs)
		json_object_del(body, "env");
	size_t cap = 4096;
	for (int k = i; k < argc; k++)
		cap += strlen(argv[k]) * 4 + 4;
	cmd = malloc(cap);
	if (!cmd || cli_join_command(argc - i, argv + i, cmd, cap)) {
		rc = cli_fail(c, "command too long");
		goto out;
	}
	json_object_set_new(body, "command", json_string(cmd));
	if ((rc = cli_sandbox_path(c, id, "/exec", path, sizeof(path))))
		goto out;
	if ((rc = cli_ensure_sandbox(c, id)))
		goto out;
	rc = cli_stream_call(c, path, body, cli_exec_event);
	goto out;
usage:
	rc = cli_usage(&cli_cmd_exec);
out:
	free(cmd);
	json_decref(body);
	return rc;
}

const struct cli_cmd cli_cmd_exec = {
	"exec", "Runs a command in a sandbox, streaming its output; exits with its status.",
	"sbx exec ID [--env NAME=VALUE]... [--cwd DIR] [--timeout MS] -- COMMAND [ARGS...]\n"
	"       (one COMMAND argument is a shell line; several are quoted and joined)",
	cli_exec,
};

/* --- run --------------------------------------------------------------- */

static int cli_run_event(void *arg, const char *name, const char *data, size_t len)
{
	struct cli_stream *st = arg;
	json_error_t je;
	json_t *j = json_loadb(data, len, 0, &je);

	if (!strcmp(name, "stdout")) {
		cli_out(stdout, json_object_get(j, "data"));
	} else if (!strcmp(name, "stderr")) {
		cli_out(stderr, json_object_get(j, "data"));
	} else if (!strcmp(name, "result")) {
		if (st->c->json) {
			json_object_del(j, "type");
			char *s = json_dumps(j, JSON_COMPACT);
			if (s)
				printf("%s\n", s);
			free(s);
		} else if (json_is_string(json_object_get(j, "text"))) {
			printf("%s\n", json_string_value(json_object_get(j, "text")));
		}
		fflush(stdout);
	} else if (!strcmp(name, "error")) {
		if (json_object_get(j, "name") || json_object_get(j, "traceback")) {
			json_t *tb = json_object_get(j, "traceback");
			if (json_is_string(tb) && json_string_length(tb))
				fprintf(stderr, "%s%s", json_string_value(tb),
					json_string_value(tb)[json_string_length(tb) - 1] == '\n' ? "" : "\n");
			else
				fprintf(stderr, "%s: %s\n",
					json_string_value(json_object_get(j, "name")) ?: "Error",
					json_string_value(json_object_get(j, "message")) ?: "");
			st->code_error = 1;
		} else {
			cli_stream_error(st, j);
		}
	} else if (!strcmp(name, "complete")) {
		st->done = 1;
		if (!st->exit_code || st->exit_code == 1)
			st->exit_code = st->code_error ? 1 : 0;
	}
	json_decref(j);
	return 0;
}

/* Reads all of f into a NUL-terminated buffer (caller frees). NULL on OOM. */
static char *cli_read_all(FILE *f, size_t *len)
{
	size_t cap = 65536, n = 0, r;
	char *b = malloc(cap);

	if (!b)
		return NULL;
	while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 < 4096) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	b[n] = 0;
	*len = n;
	return b;
}

static int cli_run(struct cli *c, int argc, char **argv)
{
	json_t *body = json_object();
	char path[256], *src = NULL;
	int envs = 0, rc;
	size_t len = 0;

	if (argc < 3)
		goto usage;
	const char *id = argv[1];
	int i = cli_exec_opts(argc, argv, 2, body, &envs);
	if (i < 0 || i != argc - 1 || envs)
		goto usage;
	const char *file = argv[i];
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		rc = cli_fail(c, "cannot open %s: %s", file, strerror(errno));
		goto out;
	}
	src = cli_read_all(f, &len);
	if (f != stdin)
		fclose(f);
	if (!src) {
		rc = cli_fail(c, "cannot read %s", file);
		goto out;
	}
	if (strlen(src) != len) {
		rc = cli_fail(c, "%s holds a NUL byte: not source code", file);
		goto out;
	}
	json_object_set_new(body, "code", json_string(src));
	if (!json_object_get(body, "code")) {
		rc = cli_fail(c, "%s is not UTF-8 text", file);
		goto out;
	}
	if (!json_object_get(body, "language"))
		json_object_set_new(body, "language", json_string("python"));
	if ((rc = cli_sandbox_path(c, id, "/code", path, sizeof(path))))
		goto out;
	if ((rc = cli_ensure_sandbox(c, id)))
		goto out;
	rc = cli_stream_call(c, path, body, cli_run_event);
	goto out;
usage:
	rc = cli_usage(&cli_cmd_run);
out:
	free(src);
	json_decref(body);
	return rc;
}

const struct cli_cmd cli_cmd_run = {
	"run", "Runs code (python or javascript) in a sandbox's code context.",
	"sbx run ID [--lang python|javascript] [--context CTX] [--timeout MS] FILE|-\n"
	"       (prints output and results; exits 1 when the code raised)",
	cli_run,
};
