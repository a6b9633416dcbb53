/*
 * net/cli/cli.h: the `sbx` command line: its one context struct and the
 * interfaces between its files.
 *
 * main.c parses the global options and picks a command; config.c reads and
 * writes ~/.config/sbx/config; http.c talks to sbxd through libcurl (with
 * certificate pinning from pin.c); sse.c cuts a text/event-stream into
 * events; cmd_*.c are the commands. Single-threaded; every function takes
 * the struct cli it works for.
 */
#ifndef SBX_NET_CLI_CLI_H
#define SBX_NET_CLI_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <curl/curl.h>
#include <jansson.h>

#include "net/cli/sse.h"

#define CLI_URL_MAX 1024
#define CLI_TOKEN_MAX 256
#define CLI_PATH_MAX 4096

/* What `sbx login` stores. */
struct cli_config {
	char url[CLI_URL_MAX];       /* https://host:port, no trailing slash */
	char token[CLI_TOKEN_MAX];
	char fingerprint[65];        /* lowercase hex SHA-256 of the leaf cert, or "" */
	char ca[CLI_PATH_MAX];       /* PEM file to trust, or "" */
};

struct cli {
	struct cli_config cfg;
	char config_path[CLI_PATH_MAX];
	const char *prog;   /* argv[0] */
	int json;           /* --json: machine-readable output */
	int progress;       /* show a progress bar (stderr is a terminal) */
	int verbose;
	CURL *curl;
	char curl_err[CURL_ERROR_SIZE];
	long status;        /* HTTP status of the last call */
	/* The body of an error answer, collected while streaming. */
	char err_body[4096];
	size_t err_len;
};

/* A command: name, one-line summary, usage text, function. */
struct cli_cmd {
	const char *name;
	const char *summary;
	const char *usage;
	int (*run)(struct cli *c, int argc, char **argv);
};

/* --- main.c --- */
/* Prints "sbx: MESSAGE" to stderr. Returns 1 (the exit status of a failure). */
int cli_fail(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv holds --help or -h; prints the usage of cmd then. */
int cli_wants_help(const struct cli_cmd *cmd, int argc, char **argv);
/* Prints usage of cmd to stderr and returns 2. */
int cli_usage(const struct cli_cmd *cmd);

/* --- config.c --- */
/* Finds the config path ($SBX_CONFIG, $XDG_CONFIG_HOME/sbx/config,
 * $HOME/.config/sbx/config) into c->config_path. 0 or -errno. */
int cli_config_path(struct cli *c);
/* Reads c->config_path (absent: empty config), then applies $SBX_URL,
 * $SBX_TOKEN, $SBX_FINGERPRINT, $SBX_CA. 0 or -errno. */
int cli_config_load(struct cli *c);
/* Writes c->cfg to c->config_path with mode 0600 (folder 0700), atomically.
 * 0 or -errno. */
int cli_config_save(struct cli *c);
/* Parses "key = value" lines into cfg (pure; unknown keys ignored).
 * Returns 0, or -EINVAL with the bad line number in *line. */
int cli_config_parse(const char *text, struct cli_config *cfg, int *line);
/* Normalises a fingerprint ("AB:CD:...", "sha256//..." not accepted) into 64
 * lowercase hex digits. 0 or -EINVAL (pure). */
int cli_fingerprint_norm(const char *in, char out[65]);

/* --- http.c --- */
/* Streaming callbacks of one call. */
struct cli_sink {
	/* Body bytes of a successful answer (2xx). Return 0, or non-zero to stop. */
	int (*data)(void *arg, const char *buf, size_t len);
	/* Request body bytes: fill buf, return the count, 0 at the end, or
	 * CURL_READFUNC_ABORT. NULL: no streamed body. */
	size_t (*read)(void *arg, char *buf, size_t len);
	void *arg;
	long long upload_size; /* -1 unknown (chunked) */
	const char *accept;    /* Accept header or NULL */
	const char *content_type;
};

/* Starts libcurl. 0 or -errno. */
int cli_http_init(struct cli *c);
void cli_http_fini(struct cli *c);
/*
 * One call with a JSON body (or none) whose answer is JSON. On success
 * returns 0 with *out (a new reference; JSON null for an empty answer; out
 * may be NULL). On failure prints the one-line error and returns 1.
 */
int cli_call_json(struct cli *c, const char *method, const char *path,
		  json_t *body, json_t **out);
/*
 * One streamed call: json_body (may be NULL) or sink->read provides the
 * request body; answers of 2xx go to sink->data. On failure prints the
 * error and returns 1; 0 on success.
 */
int cli_call_stream(struct cli *c, const char *method, const char *path,
		    json_t *json_body, struct cli_sink *sink);
/* Appends a percent-encoded path segment (keeping '/') to out. 0 or -ENAMETOOLONG. */
int cli_path_escape(const char *in, char *out, size_t cap, int keep_slash);
/* PUT /v1/sandboxes/ID (create-or-get). 0 or 1 (error printed). */
int cli_ensure_sandbox(struct cli *c, const char *id);

/* --- pin.c --- */
/* Installs the pin on libcurl's OpenSSL context (CURLOPT_SSL_CTX_FUNCTION). */
CURLcode cli_pin_ssl_ctx(CURL *curl, void *ssl_ctx, void *arg);

/* --- commands --- */
extern const struct cli_cmd cli_cmd_login, cli_cmd_ls, cli_cmd_create,
	cli_cmd_rm, cli_cmd_exec, cli_cmd_run, cli_cmd_cp, cli_cmd_ps,
	cli_cmd_start, cli_cmd_logs, cli_cmd_kill, cli_cmd_ports, cli_cmd_token;

/* Prints j (a listing) as JSON on stdout. */
void cli_print_json(json_t *j);
/* Shell-quotes args into one command line (one arg: used as it is). */
int cli_join_command(int argc, char **argv, char *out, size_t cap);

#endif
