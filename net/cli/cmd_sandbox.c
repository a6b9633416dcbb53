/*
 * net/cli/cmd_sandbox.c: login, ls, create and rm: the commands
 * about the server and its sandboxes rather than what runs inside them.
 */
#include "net/cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- login ------------------------------------------------------------- */

static int cli_login(struct cli *c, int argc, char **argv)
{
	const char *url = NULL, *token = NULL, *fp = NULL, *ca = NULL;
	int verify = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--token") && i + 1 < argc)
			token = argv[++i];
		else if (!strcmp(argv[i], "--fingerprint") && i + 1 < argc)
			fp = argv[++i];
		else if (!strcmp(argv[i], "--ca") && i + 1 < argc)
			ca = argv[++i];
		else if (!strcmp(argv[i], "--no-verify"))
			verify = 0;
		else if (argv[i][0] != '-' && !url)
			url = argv[i];
		else
			return cli_usage(&cli_cmd_login);
	}
	if (!url || !token)
		return cli_usage(&cli_cmd_login);
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7))
		return cli_fail(c, "the URL must start with https://");
	if (!c->config_path[0])
		return cli_fail(c, "no place for the config: set HOME or SBX_CONFIG");
	memset(&c->cfg, 0, sizeof(c->cfg));
	snprintf(c->cfg.url, sizeof(c->cfg.url), "%s", url);
	size_t ul = strlen(c->cfg.url);
	while (ul && c->cfg.url[ul - 1] == '/')
		c->cfg.url[--ul] = 0;
	if (strlen(token) >= sizeof(c->cfg.token))
		return cli_fail(c, "token too long");
	snprintf(c->cfg.token, sizeof(c->cfg.token), "%s", token);
	if (fp && cli_fingerprint_norm(fp, c->cfg.fingerprint))
		return cli_fail(c, "the fingerprint must be 64 hex digits (SHA-256, colons allowed)");
	if (ca) {
		char abs[PATH_MAX];
		if (!realpath(ca, abs))
			return cli_fail(c, "cannot find CA file %s: %s", ca, strerror(errno));
		snprintf(c->cfg.ca, sizeof(c->cfg.ca), "%s", abs);
	}
	if (verify) {
		json_t *j = NULL;
		if (cli_call_json(c, "GET", "/v1/sandboxes", NULL, &j))
			return 1;
		json_decref(j);
	}
	int rc = cli_config_save(c);
	if (rc)
		return cli_fail(c, "cannot write %s: %s", c->config_path, strerror(-rc));
	if (!c->json)
		printf("logged in to %s (config: %s)\n", c->cfg.url, c->config_path);
	return 0;
}

const struct cli_cmd cli_cmd_login = {
	"login", "Stores the server URL, token and pinned certificate fingerprint.",
	"sbx login URL --token TOKEN [--fingerprint SHA256 | --ca PEMFILE] [--no-verify]",
	cli_login,
};

/* --- ls ---------------------------------------------------------------- */

static int cli_ls(struct cli *c, int argc, char **argv)
{
	json_t *j = NULL, *s;
	size_t i;

	if (argc != 1)
		return cli_usage(&cli_cmd_ls);
	if (cli_call_json(c, "GET", "/v1/sandboxes", NULL, &j))
		return 1;
	json_t *arr = json_is_array(j) ? j : json_object_get(j, "sandboxes");
	if (c->json) {
		cli_print_json(arr ? arr : json_array());
		json_decref(j);
		return 0;
	}
	printf("%-24s %-9s %-25s %s\n", "ID", "STATUS", "CREATED", "PORTS");
	json_array_foreach(arr, i, s) {
		char ports[256] = "";
		size_t k;
		json_t *p;
		json_array_foreach(json_object_get(s, "exposedPorts"), k, p) {
			size_t n = strlen(ports);
			snprintf(ports + n, sizeof(ports) - n, "%s%lld", n ? "," : "",
				 (long long)json_integer_value(json_object_get(p, "port")));
		}
		printf("%-24s %-9s %-25s %s\n",
		       json_string_value(json_object_get(s, "id")) ?: "?",
		       json_string_value(json_object_get(s, "status")) ?: "?",
		       json_string_value(json_object_get(s, "createdAt")) ?: "",
		       ports[0] ? ports : "-");
	}
	json_decref(j);
	return 0;
}

const struct cli_cmd cli_cmd_ls = {
	"ls", "Lists your sandboxes.", "sbx ls [--json]", cli_ls,
};

/* --- create ------------------------------------------------------------ */

static int cli_create(struct cli *c, int argc, char **argv)
{
	const char *id = NULL;
	json_t *body = json_object(), *env = json_object(), *j = NULL;
	char path[256] = "/v1/sandboxes/";
	int rc = 2;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--env") && i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');
			if (!eq || eq == argv[i])
				goto usage;
			*eq = 0;
			json_object_set_new(env, argv[i], json_string(eq + 1));
		} else if (!strcmp(argv[i], "--sleep-after") && i + 1 < argc) {
			json_object_set_new(body, "sleepAfter", json_string(argv[++i]));
		} else if (!strcmp(argv[i], "--keep-alive")) {
			json_object_set_new(body, "keepAlive", json_true());
		} else if (argv[i][0] != '-' && !id) {
			id = argv[i];
		} else {
			goto usage;
		}
	}
	if (!id)
		goto usage;
	if (json_object_size(env))
		json_object_set(body, "env", env);
	if (cli_path_escape(id, path, sizeof(path), 0)) {
		rc = cli_fail(c, "sandbox id too long");
		goto out;
	}
	rc = cli_call_json(c, "PUT", path, body, &j);
	if (!rc) {
		if (c->json)
			cli_print_json(j);
		else
			printf("%s %s\n", json_string_value(json_object_get(j, "id")) ?: id,
			       c->status == 201 ? "created" : "exists");
	}
	json_decref(j);
	goto out;
usage:
	rc = cli_usage(&cli_cmd_create);
out:
	json_decref(body);
	json_decref(env);
	return rc;
}

const struct cli_cmd cli_cmd_create = {
	"create", "Creates a sandbox (or finds the one that exists).",
	"sbx create ID [--env NAME=VALUE]... [--sleep-after 10m] [--keep-alive] [--json]",
	cli_create,
};

/* --- rm ---------------------------------------------------------------- */

static int cli_rm(struct cli *c, int argc, char **argv)
{
	int rc = 0;

	if (argc < 2)
		return cli_usage(&cli_cmd_rm);
	for (int i = 1; i < argc; i++) {
		char path[256] = "/v1/sandboxes/";
		if (cli_path_escape(argv[i], path, sizeof(path), 0)) {
			rc = cli_fail(c, "sandbox id too long");
			continue;
		}
		if (cli_call_json(c, "DELETE", path, NULL, NULL))
			rc = 1;
		else if (!c->json)
			printf("%s removed\n", argv[i]);
	}
	return rc;
}

const struct cli_cmd cli_cmd_rm = {
	"rm", "Destroys sandboxes and their workspaces.", "sbx rm ID...", cli_rm,
};
