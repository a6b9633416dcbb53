/*
 * net/cli/cmd_files.c: `sbx cp`, files in and out of a sandbox, streamed.
 *
 * An upload reads the local file (or stdin) in pieces as libcurl asks for
 * them (chunked when the size is unknown); a download writes the answer to
 * LOCAL.sbx-part and renames it over LOCAL at the end, so a broken transfer
 * never leaves a truncated file under the real name. "-" is stdin/stdout.
 */
#include "net/cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cli_file {
	FILE *f;
	int failed;
};

static size_t cli_file_read(void *arg, char *buf, size_t len)
{
	struct cli_file *cf = arg;
	size_t n = fread(buf, 1, len, cf->f);

	if (n == 0 && ferror(cf->f)) {
		cf->failed = 1;
		return CURL_READFUNC_ABORT;
	}
	return n;
}

static int cli_file_write(void *arg, const char *buf, size_t len)
{
	struct cli_file *cf = arg;

	if (fwrite(buf, 1, len, cf->f) != len) {
		cf->failed = 1;
		return -EIO;
	}
	return 0;
}

/* Splits "ID:PATH" (ID valid). Returns 1 when remote, 0 for a local name. */
static int cli_remote(char *arg, char **id, char **path)
{
	char *colon = strchr(arg, ':');

	if (!colon || colon == arg)
		return 0;
	for (char *p = arg; p < colon; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", *p))
			return 0;
	*colon = 0;
	*id = arg;
	*path = colon + 1;
	return 1;
}

static int cli_files_path(struct cli *c, const char *id, const char *file,
			  char *out, size_t cap)
{
	snprintf(out, cap, "/v1/sandboxes/");
	if (cli_path_escape(id, out, cap, 0) || strlen(out) + 8 > cap)
		return cli_fail(c, "sandbox id too long");
	strcat(out, "/files");
	if (file[0] != '/')
		strcat(out, "/");
	if (cli_path_escape(file, out, cap, 1))
		return cli_fail(c, "path too long");
	return 0;
}

static int cli_upload(struct cli *c, const char *local, const char *id, const char *rpath)
{
	char path[8192];
	struct cli_file cf = { 0 };
	struct stat st;
	struct cli_sink sink = { .read = cli_file_read, .arg = &cf, .upload_size = -1 };
	int rc;

	if (cli_files_path(c, id, rpath, path, sizeof(path)))
		return 1;
	cf.f = strcmp(local, "-") ? fopen(local, "rb") : stdin;
	if (!cf.f)
		return cli_fail(c, "cannot open %s: %s", local, strerror(errno));
	if (!fstat(fileno(cf.f), &st) && S_ISREG(st.st_mode))
		sink.upload_size = (long long)st.st_size;
	else if (!fstat(fileno(cf.f), &st) && S_ISDIR(st.st_mode)) {
		fclose(cf.f);
		return cli_fail(c, "%s is a directory (cp copies one file)", local);
	}
	if ((rc = cli_ensure_sandbox(c, id)) == 0) {
		c->progress = isatty(STDERR_FILENO) && sink.upload_size > 0;
		rc = cli_call_stream(c, "PUT", path, NULL, &sink);
		c->progress = 0;
	}
	if (cf.failed)
		rc = cli_fail(c, "reading %s failed", local);
	if (cf.f != stdin)
		fclose(cf.f);
	return rc;
}

static int cli_download(struct cli *c, const char *id, const char *rpath, const char *local)
{
	char path[8192], part[CLI_PATH_MAX + 16], target[CLI_PATH_MAX];
	struct cli_file cf = { 0 };
	struct cli_sink sink = { .data = cli_file_write, .arg = &cf, .upload_size = -1,
				 .accept = "application/octet-stream" };
	struct stat st;
	int to_stdout = !strcmp(local, "-");

	if (cli_files_path(c, id, rpath, path, sizeof(path)))
		return 1;
	snprintf(target, sizeof(target), "%s", local);
	if (!to_stdout && !stat(local, &st) && S_ISDIR(st.st_mode)) {
		const char *base = strrchr(rpath, '/');
		base = base ? base + 1 : rpath;
		if (!*base)
			return cli_fail(c, "%s:%s names a directory", id, rpath);
		snprintf(target, sizeof(target), "%s/%s", local, base);
	}
	if (to_stdout) {
		cf.f = stdout;
	} else {
		snprintf(part, sizeof(part), "%s.sbx-part", target);
		cf.f = fopen(part, "wb");
		if (!cf.f)
			return cli_fail(c, "cannot create %s: %s", part, strerror(errno));
	}
	c->progress = isatty(STDERR_FILENO) && !to_stdout;
	int rc = cli_call_stream(c, "GET", path, NULL, &sink);
	c->progress = 0;
	if (to_stdout) {
		if (fflush(stdout) && !rc)
			rc = cli_fail(c, "writing to stdout failed");
		return rc; /* cppcheck-suppress memleak ; cf.f is stdout */
	}
	if (fclose(cf.f) && !rc)
		rc = cli_fail(c, "writing %s failed: %s", part, strerror(errno));
	if (cf.failed && !rc)
		rc = cli_fail(c, "writing %s failed", part);
	if (rc) {
		unlink(part);
		return rc;
	}
	if (rename(part, target)) {
		rc = cli_fail(c, "cannot rename %s to %s: %s", part, target, strerror(errno));
		unlink(part);
	}
	return rc;
}

static int cli_cp(struct cli *c, int argc, char **argv)
{
	char *sid, *spath, *did, *dpath;

	if (argc != 3)
		return cli_usage(&cli_cmd_cp);
	int src_remote = cli_remote(argv[1], &sid, &spath);
	int dst_remote = cli_remote(argv[2], &did, &dpath);
	if (src_remote == dst_remote)
		return cli_fail(c, "one side must be ID:PATH and the other a local file");
	if (dst_remote) {
		if (!*dpath)
			return cli_fail(c, "the remote path is empty");
		return cli_upload(c, argv[1], did, dpath);
	}
	if (!*spath)
		return cli_fail(c, "the remote path is empty");
	return cli_download(c, sid, spath, argv[2]);
}

const struct cli_cmd cli_cmd_cp = {
	"cp", "Copies a file into or out of a sandbox (streamed; - is stdin/stdout).",
	"sbx cp LOCAL ID:PATH | sbx cp ID:PATH LOCAL",
	cli_cp,
};
