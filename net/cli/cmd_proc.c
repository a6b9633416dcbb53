/*
 * net/cli/cmd_proc.c: background processes (ps, logs, kill) and exposed
 * ports (ports) of one sandbox.
 */
#include "net/cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cli_sbx_path(struct cli *c, const char *id, const char *sub,
			const char *arg, char *out, size_t cap)
{
	snprintf(out, cap, "/v1/sandboxes/");
	if (cli_path_escape(id, out, cap, 0) || strlen(out) + strlen(sub) + 1 > cap)
		return cli_fail(c, "sandbox id too long");
	strcat(out, sub);
	if (arg && cli_path_escape(arg, out, cap, 0))
		return cli_fail(c, "argument too long");
	return 0;
}

/* --- start ------------------------------------------------------------ */

static int cli_start(struct cli *c, int argc, char **argv)
{
	char path[256], *cmd = NULL;
	json_t *body = json_object(), *env = json_object(), *j = NULL;
	int i = 2, rc;

	if (argc < 3)
		goto usage;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--id") && i + 1 < argc) {
			json_object_set_new(body, "processId", json_string(argv[++i]));
		} else if (!strcmp(argv[i], "--cwd") && i + 1 < argc) {
			json_object_set_new(body, "cwd", json_string(argv[++i]));
		} else if (!strcmp(argv[i], "--env") && i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');
			if (!eq || eq == argv[i])
				goto usage;
			*eq = 0;
			json_object_set_new(env, argv[i], json_string(eq + 1));
		} else {
			break;
		}
	}
	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	if (i >= argc)
		goto usage;
	size_t cap = 4096;
	for (int k = i; k < argc; k++)
		cap += strlen(argv[k]) * 4 + 4;
	cmd = malloc(cap);
	if (!cmd || cli_join_command(argc - i, argv + i, cmd, cap)) {
		rc = cli_fail(c, "command too long");
		goto out;
	}
	json_object_set_new(body, "command", json_string(cmd));
	if (json_object_size(env))
		json_object_set(body, "env", env);
	if ((rc = cli_sbx_path(c, argv[1], "/processes", NULL, path, sizeof(path))) ||
	    (rc = cli_ensure_sandbox(c, argv[1])) ||
	    (rc = cli_call_json(c, "POST", path, body, &j)))
		goto out;
	if (c->json)
		cli_print_json(j);
	else
		printf("%s\n", json_string_value(json_object_get(j, "id")) ?: "");
	json_decref(j);
	goto out;
usage:
	rc = cli_usage(&cli_cmd_start);
out:
	free(cmd);
	json_decref(env);
	json_decref(body);
	return rc;
}

const struct cli_cmd cli_cmd_start = {
	"start", "Starts a background process in a sandbox; prints its id.",
	"sbx start ID [--id PROCESS-ID] [--cwd DIR] [--env NAME=VALUE]... -- COMMAND [ARGS...]",
	cli_start,
};

/* --- ps ---------------------------------------------------------------- */

static int cli_ps(struct cli *c, int argc, char **argv)
{
	char path[256];
	json_t *j = NULL, *p;
	size_t i;

	if (argc != 2)
		return cli_usage(&cli_cmd_ps);
	if (cli_sbx_path(c, argv[1], "/processes", NULL, path, sizeof(path)) ||
	    cli_call_json(c, "GET", path, NULL, &j))
		return 1;
	json_t *arr = json_is_array(j) ? j : json_object_get(j, "processes");
	if (c->json) {
		cli_print_json(arr ? arr : json_array());
		json_decref(j);
		return 0;
	}
	printf("%-16s %-7s %-10s %-5s %s\n", "ID", "PID", "STATUS", "EXIT", "COMMAND");
	json_array_foreach(arr, i, p) {
		char exit[16] = "-";
		json_t *e = json_object_get(p, "exitCode"), *s = json_object_get(p, "signal");
		if (json_is_integer(e))
			snprintf(exit, sizeof(exit), "%lld", (long long)json_integer_value(e));
		else if (json_is_integer(s))
			snprintf(exit, sizeof(exit), "sig%lld", (long long)json_integer_value(s));
		printf("%-16s %-7lld %-10s %-5s %s\n",
		       json_string_value(json_object_get(p, "id")) ?: "?",
		       (long long)json_integer_value(json_object_get(p, "pid")),
		       json_string_value(json_object_get(p, "status")) ?: "?", exit,
		       json_string_value(json_object_get(p, "command")) ?: "");
	}
	json_decref(j);
	return 0;
}

const struct cli_cmd cli_cmd_ps = {
	"ps", "Lists a sandbox's background processes.", "sbx ps ID [--json]", cli_ps,
};

/* --- logs -------------------------------------------------------------- */

struct cli_follow {
	struct sse_parser p;
	int exit_code;
	int ended;
};

static int cli_follow_event(void *arg, const char *name, const char *data, size_t len)
{
	struct cli_follow *fl = arg;
	json_error_t je;
	json_t *j = json_loadb(data, len, 0, &je);
	json_t *d = json_object_get(j, "data");

	if ((!strcmp(name, "stdout") || !strcmp(name, "stderr")) && json_is_string(d)) {
		FILE *f = name[3] == 'o' ? stdout : stderr;
		fwrite(json_string_value(d), 1, json_string_length(d), f);
		fflush(f);
	} else if (!strcmp(name, "exit") || !strcmp(name, "complete")) {
		json_t *e = json_object_get(j, "exitCode"), *s = json_object_get(j, "signal");
		fl->exit_code = json_is_integer(e) ? (int)json_integer_value(e)
			       : json_is_integer(s) ? 128 + (int)json_integer_value(s) : 0;
		fl->ended = 1;
	} else if (!strcmp(name, "error")) {
		const char *m = json_string_value(json_object_get(j, "error"));
		fprintf(stderr, "sbx: %s\n", m ? m : "log stream failed");
		fl->exit_code = 1;
		fl->ended = 1;
	}
	json_decref(j);
	return 0;
}

static int cli_follow_data(void *arg, const char *buf, size_t len)
{
	struct cli_follow *fl = arg;

	return sse_parser_feed(&fl->p, buf, len);
}

static int cli_logs(struct cli *c, int argc, char **argv)
{
	char path[512];
	int follow = 0, n = 0;
	const char *pos[2] = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow = 1;
		else if (argv[i][0] != '-' && n < 2)
			pos[n++] = argv[i];
		else
			return cli_usage(&cli_cmd_logs);
	}
	if (n != 2)
		return cli_usage(&cli_cmd_logs);
	if (cli_sbx_path(c, pos[0], "/processes/", pos[1], path, sizeof(path)) ||
	    strlen(path) + 6 > sizeof(path))
		return 1;
	strcat(path, "/logs");
	if (follow) {
		struct cli_follow fl = { 0 };
		struct cli_sink sink = { .data = cli_follow_data, .arg = &fl, .upload_size = -1,
					 .accept = "text/event-stream" };
		sse_parser_init(&fl.p, cli_follow_event, &fl);
		int rc = cli_call_stream(c, "GET", path, NULL, &sink);
		sse_parser_free(&fl.p);
		return rc ? rc : fl.exit_code;
	}
	json_t *j = NULL;
	if (cli_call_json(c, "GET", path, NULL, &j))
		return 1;
	if (c->json) {
		cli_print_json(j);
	} else {
		json_t *o = json_object_get(j, "stdout"), *e = json_object_get(j, "stderr");
		fwrite(json_string_value(o) ?: "", 1, json_string_length(o), stdout);
		fwrite(json_string_value(e) ?: "", 1, json_string_length(e), stderr);
	}
	json_decref(j);
	return 0;
}

const struct cli_cmd cli_cmd_logs = {
	"logs", "Prints a background process's output; -f follows it until it exits.",
	"sbx logs [-f] ID PROCESS-ID [--json]", cli_logs,
};

/* --- kill -------------------------------------------------------------- */

static int cli_kill(struct cli *c, int argc, char **argv)
{
	char path[512];
	const char *sig = NULL, *pos[2] = { 0 };
	int n = 0, all = 0;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "--signal")) && i + 1 < argc)
			sig = argv[++i];
		else if (!strcmp(argv[i], "--all"))
			all = 1;
		else if (argv[i][0] != '-' && n < 2)
			pos[n++] = argv[i];
		else
			return cli_usage(&cli_cmd_kill);
	}
	if (n != 2 - all)
		return cli_usage(&cli_cmd_kill);
	if (cli_sbx_path(c, pos[0], all ? "/processes" : "/processes/", all ? NULL : pos[1],
			 path, sizeof(path)))
		return 1;
	if (sig && (strlen(path) + 9 > sizeof(path) ||
		    (strcat(path, "?signal="), cli_path_escape(sig, path, sizeof(path), 0))))
		return cli_usage(&cli_cmd_kill);
	json_t *j = NULL;
	if (cli_call_json(c, "DELETE", path, NULL, &j))
		return 1;
	if (c->json)
		cli_print_json(j);
	json_decref(j);
	return 0;
}

const struct cli_cmd cli_cmd_kill = {
	"kill", "Signals a background process (default SIGTERM), or all with --all.",
	"sbx kill [-s SIGNAL] ID PROCESS-ID | sbx kill [-s SIGNAL] ID --all", cli_kill,
};

/* --- ports ------------------------------------------------------------- */

static int cli_ports(struct cli *c, int argc, char **argv)
{
	char path[256];
	json_t *j = NULL;
	const char *name = NULL;
	int n = 0;
	const char *pos[3] = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (argv[i][0] != '-' && n < 3)
			pos[n++] = argv[i];
		else
			return cli_usage(&cli_cmd_ports);
	}
	if (n != 1 && n != 3)
		return cli_usage(&cli_cmd_ports);
	if (n == 1) { /* list */
		size_t i;
		json_t *p;
		if (cli_sbx_path(c, pos[0], "/ports", NULL, path, sizeof(path)) ||
		    cli_call_json(c, "GET", path, NULL, &j))
			return 1;
		json_t *arr = json_is_array(j) ? j : json_object_get(j, "ports");
		if (c->json) {
			cli_print_json(arr ? arr : json_array());
		} else {
			printf("%-6s %-12s %s\n", "PORT", "NAME", "URL");
			json_array_foreach(arr, i, p) {
				printf("%-6lld %-12s %s\n",
				       (long long)json_integer_value(json_object_get(p, "port")),
				       json_string_value(json_object_get(p, "name")) ?: "",
				       json_string_value(json_object_get(p, "url")) ?: "");
			}
		}
		json_decref(j);
		return 0;
	}
	char *e;
	long port = strtol(pos[2], &e, 10);
	if (*e || port < 1 || port > 65535)
		return cli_fail(c, "port must be 1..65535");
	if (!strcmp(pos[1], "expose")) {
		json_t *body = json_pack("{s:i}", "port", (int)port);
		if (name)
			json_object_set_new(body, "name", json_string(name));
		int rc = cli_sbx_path(c, pos[0], "/ports", NULL, path, sizeof(path));
		if (!rc)
			rc = cli_call_json(c, "POST", path, body, &j);
		json_decref(body);
		if (rc)
			return rc;
		if (c->json)
			cli_print_json(j);
		else
			printf("%s\n", json_string_value(json_object_get(j, "url")) ?: "");
		json_decref(j);
		return 0;
	}
	if (!strcmp(pos[1], "unexpose")) {
		char num[16];
		snprintf(num, sizeof(num), "%ld", port);
		if (cli_sbx_path(c, pos[0], "/ports/", num, path, sizeof(path)) ||
		    cli_call_json(c, "DELETE", path, NULL, NULL))
			return 1;
		return 0;
	}
	return cli_usage(&cli_cmd_ports);
}

const struct cli_cmd cli_cmd_ports = {
	"ports", "Lists exposed ports, or exposes one and prints its preview URL.",
	"sbx ports ID [--json] | sbx ports ID expose PORT [--name N] | sbx ports ID unexpose PORT",
	cli_ports,
};
