/*
 * net/cli/main.c: `sbx`, the command line of sbx.
 *
 * sbx [--json] [-v] COMMAND [ARGS]: global options come before the command
 * (--json is also accepted after it). The command table below maps names to
 * cmd_*.c; each command prints its usage for --help or -h. Exit status: 0,
 * 1 for an error (one line on stderr), 2 for bad usage; `sbx exec` exits
 * with the command's own status.
 */
#include "net/cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cli_cmd *const cli_cmds[] = {
	&cli_cmd_login, &cli_cmd_ls,   &cli_cmd_create, &cli_cmd_rm,
	&cli_cmd_exec,  &cli_cmd_run,  &cli_cmd_cp,     &cli_cmd_start,
	&cli_cmd_ps,    &cli_cmd_logs, &cli_cmd_kill,   &cli_cmd_ports,
	&cli_cmd_token,
};

#define CLI_NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

int cli_fail(struct cli *c, const char *fmt, ...)
{
	va_list ap;

	fputs("sbx: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_usage(const struct cli_cmd *cmd)
{
	fprintf(stderr, "usage: %s\n", cmd->usage);
	return 2;
}

int cli_wants_help(const struct cli_cmd *cmd, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: %s\n\n%s\n", cmd->usage, cmd->summary);
			return 1;
		}
	}
	return 0;
}

void cli_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
}

int cli_join_command(int argc, char **argv, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = 0;
	if (argc == 1) {
		if (strlen(argv[0]) + 1 > cap)
			return -ENAMETOOLONG;
		strcpy(out, argv[0]);
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int plain = *a != 0;
		for (const char *p = a; *p; p++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789-_./=:,+@%", *p))
				plain = 0;
		if (n + strlen(a) * 4 + 4 > cap)
			return -ENAMETOOLONG;
		if (i)
			out[n++] = ' ';
		if (plain) {
			memcpy(out + n, a, strlen(a));
			n += strlen(a);
		} else {
			out[n++] = '\'';
			for (const char *p = a; *p; p++) {
				if (*p == '\'') {
					memcpy(out + n, "'\\''", 4);
					n += 4;
				} else {
					out[n++] = *p;
				}
			}
			out[n++] = '\'';
		}
		out[n] = 0;
	}
	return 0;
}

static void cli_help(void)
{
	printf("usage: sbx [--json] [-v] COMMAND [ARGS]\n\n"
	       "The command line of sbx, the self-hosted sandbox service.\n\n"
	       "commands:\n");
	for (size_t i = 0; i < CLI_NCMDS; i++)
		printf("  %-8s %s\n", cli_cmds[i]->name, cli_cmds[i]->summary);
	printf("\nEvery command takes --help. The server, token and pinned certificate\n"
	       "come from `sbx login` (~/.config/sbx/config), or SBX_URL, SBX_TOKEN,\n"
	       "SBX_FINGERPRINT, SBX_CA, SBX_CONFIG in the environment.\n");
}

int main(int argc, char **argv)
{
	struct cli c = { .prog = argv[0] };
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--json"))
			c.json = 1;
		else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			c.verbose++;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			cli_help();
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("sbx 0.1\n");
			return 0;
		} else {
			fprintf(stderr, "sbx: unknown option %s (see sbx --help)\n", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		cli_help();
		return 2;
	}
	const struct cli_cmd *cmd = NULL;
	for (size_t k = 0; k < CLI_NCMDS; k++)
		if (!strcmp(argv[i], cli_cmds[k]->name))
			cmd = cli_cmds[k];
	if (!cmd) {
		fprintf(stderr, "sbx: unknown command %s (see sbx --help)\n", argv[i]);
		return 2;
	}
	int cargc = argc - i;
	char **cargv = argv + i;
	if (cli_wants_help(cmd, cargc, cargv))
		return 0;
	/* --json after the command, before any "--", counts too. */
	int w = 1;
	for (int r = 1; r < cargc; r++) {
		if (!strcmp(cargv[r], "--")) {
			while (r < cargc)
				cargv[w++] = cargv[r++];
			break;
		}
		if (!strcmp(cargv[r], "--json"))
			c.json = 1;
		else
			cargv[w++] = cargv[r];
	}
	cargc = w;
	cargv[cargc] = NULL;

	int rc = cli_config_path(&c);
	if (rc == 0)
		rc = cli_config_load(&c);
	else if (rc == -ENOENT)
		rc = 0; /* no home: the environment must say it all */
	if (rc)
		return cli_fail(&c, "cannot read config %s: %s", c.config_path, strerror(-rc));
	if (cli_http_init(&c))
		return cli_fail(&c, "cannot start libcurl");
	rc = cmd->run(&c, cargc, cargv);
	cli_http_fini(&c);
	explicit_bzero(c.cfg.token, sizeof(c.cfg.token));
	return rc;
}
