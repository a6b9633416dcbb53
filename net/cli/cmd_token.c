/*
 * net/cli/cmd_token.c: `sbx token`, operators' token management on the box
 * itself.
 *
 * sbxd owns the token store (STATE/tokens.json, hashed tokens), so create
 * and revoke hand over to `sbxd token ...` (found beside sbx, else in PATH).
 * `create TENANT` is accepted as well as sbxd's `create --tenant TENANT`.
 * `list --json` reads the store itself, because sbxd prints only a table:
 * it prints id, tenant, created and role of each token, never the hashes.
 */
#include "net/cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs sbxd with args (NULL-terminated); returns only on failure. */
static int token_exec_sbxd(struct cli *c, char **args)
{
	char self[PATH_MAX], sbxd[PATH_MAX + 8];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			snprintf(sbxd, sizeof(sbxd), "%s/sbxd", self);
			if (!access(sbxd, X_OK))
				execv(sbxd, args);
		}
	}
	execvp("sbxd", args);
	return cli_fail(c, "cannot run sbxd (needed for tokens, on the box itself): %s",
			strerror(errno));
}

/* The --state DIR in argv, else $SBX_STATE, else /var/lib/sbx (make run's). */
static const char *token_state(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--state"))
			return argv[i + 1];
	const char *e = getenv("SBX_STATE");
	return e && *e ? e : "/var/lib/sbx";
}

/* `token list --json`: the store's records without their hashes. */
static int token_list_json(struct cli *c, int argc, char **argv)
{
	char path[CLI_PATH_MAX];
	json_error_t err;
	size_t i;
	json_t *t;

	if (snprintf(path, sizeof(path), "%s/tokens.json", token_state(argc, argv)) >=
	    (int)sizeof(path))
		return cli_fail(c, "state path too long");
	json_t *store = json_load_file(path, 0, &err);
	if (!store) {
		if (access(path, F_OK))
			return cli_fail(c, "no token store at %s: %s", path, strerror(errno));
		return cli_fail(c, "cannot read %s: %s", path, err.text);
	}
	json_t *list = json_object_get(store, "tokens"), *out = json_array();
	json_array_foreach(list, i, t) {
		json_t *o = json_object();
		json_object_set(o, "id", json_object_get(t, "id"));
		json_object_set(o, "tenant", json_object_get(t, "tenant"));
		json_object_set(o, "created", json_object_get(t, "created"));
		json_object_set_new(o, "role", json_string(json_is_true(json_object_get(t, "operator"))
							   ? "operator" : "tenant"));
		json_array_append_new(out, o);
	}
	cli_print_json(out);
	json_decref(out);
	json_decref(store);
	return 0;
}

static int cli_token(struct cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage(&cli_cmd_token);
	if (!strcmp(argv[1], "list") && c->json)
		return token_list_json(c, argc, argv);
	/* sbxd token ARGS..., with "create NAME" as "create --tenant NAME". */
	char **args = calloc((size_t)argc + 4, sizeof(*args));
	int n = 0;
	if (!args)
		return cli_fail(c, "out of memory");
	args[n++] = "sbxd";
	args[n++] = "token";
	args[n++] = argv[1];
	int i = 2;
	if (!strcmp(argv[1], "create") && argc > 2 && argv[2][0] != '-') {
		args[n++] = "--tenant";
		args[n++] = argv[i++];
	}
	for (; i < argc; i++)
		args[n++] = argv[i];
	int rc = token_exec_sbxd(c, args);
	free(args);
	return rc;
}

const struct cli_cmd cli_cmd_token = {
	"token", "Manages tokens on the box itself (runs `sbxd token ...`).",
	"sbx token create TENANT [--operator] | list [--json] | revoke ID  [--state DIR]",
	cli_token,
};
