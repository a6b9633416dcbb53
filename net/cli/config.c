/*
 * net/cli/config.c: the CLI's config file (~/.config/sbx/config).
 *
 * The file holds "key = value" lines: url, token, fingerprint, ca. It holds
 * a bearer token, so it is written with mode 0600 in a 0700 folder, through
 * a temporary file renamed over the old one. Environment variables
 * (SBX_URL, SBX_TOKEN, SBX_FINGERPRINT, SBX_CA) override what it says.
 */
#include "net/cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_fingerprint_norm(const char *in, char out[65])
{
	size_t n = 0;

	if (!strncasecmp(in, "sha256", 6)) {
		in += 6;
		if (*in == ':' || *in == '=')
			in++;
	}
	for (; *in; in++) {
		if (*in == ':' || isspace((unsigned char)*in))
			continue;
		if (!isxdigit((unsigned char)*in) || n >= 64)
			return -EINVAL;
		out[n++] = (char)tolower((unsigned char)*in);
	}
	if (n != 64)
		return -EINVAL;
	out[64] = 0;
	return 0;
}

static void cli_trim(char **s, char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

static int cli_config_set(struct cli_config *cfg, const char *k, size_t kl,
			  const char *v, size_t vl)
{
	char *dst = NULL;
	size_t cap = 0;

	if (kl == 3 && !memcmp(k, "url", 3)) {
		dst = cfg->url;
		cap = sizeof(cfg->url);
	} else if (kl == 5 && !memcmp(k, "token", 5)) {
		dst = cfg->token;
		cap = sizeof(cfg->token);
	} else if (kl == 11 && !memcmp(k, "fingerprint", 11)) {
		dst = cfg->fingerprint;
		cap = sizeof(cfg->fingerprint);
	} else if (kl == 2 && !memcmp(k, "ca", 2)) {
		dst = cfg->ca;
		cap = sizeof(cfg->ca);
	} else {
		return 0; /* unknown keys: ignored, for later versions */
	}
	if (vl >= cap)
		return -EINVAL;
	memcpy(dst, v, vl);
	dst[vl] = 0;
	return 0;
}

int cli_config_parse(const char *text, struct cli_config *cfg, int *line)
{
	int ln = 0;

	while (*text) {
		const char *nl = strchr(text, '\n');
		const char *end = nl ? nl : text + strlen(text);
		char *s = (char *)text, *e = (char *)end;
		ln++;
		cli_trim(&s, &e);
		if (s < e && *s != '#') {
			char *eq = memchr(s, '=', (size_t)(e - s));
			if (!eq) {
				*line = ln;
				return -EINVAL;
			}
			char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
			cli_trim(&ks, &ke);
			cli_trim(&vs, &ve);
			if (cli_config_set(cfg, ks, (size_t)(ke - ks), vs, (size_t)(ve - vs))) {
				*line = ln;
				return -EINVAL;
			}
		}
		text = nl ? nl + 1 : end;
	}
	return 0;
}

int cli_config_path(struct cli *c)
{
	const char *p = getenv("SBX_CONFIG");
	const char *x = getenv("XDG_CONFIG_HOME");
	const char *h = getenv("HOME");
	int n;

	if (p && *p)
		n = snprintf(c->config_path, sizeof(c->config_path), "%s", p);
	else if (x && *x)
		n = snprintf(c->config_path, sizeof(c->config_path), "%s/sbx/config", x);
	else if (h && *h)
		n = snprintf(c->config_path, sizeof(c->config_path), "%s/.config/sbx/config", h);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= sizeof(c->config_path) ? -ENAMETOOLONG : 0;
}

static void cli_env_override(char *dst, size_t cap, const char *name)
{
	const char *v = getenv(name);

	if (v && *v)
		snprintf(dst, cap, "%s", v);
}

int cli_config_load(struct cli *c)
{
	char buf[16384];
	int fd = open(c->config_path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		int err = errno;
		close(fd);
		if (n < 0)
			return -err;
		buf[n] = 0;
		int line = 0;
		if (cli_config_parse(buf, &c->cfg, &line)) {
			fprintf(stderr, "sbx: %s:%d: bad line\n", c->config_path, line);
			return -EINVAL;
		}
	} else if (errno != ENOENT) {
		return -errno;
	}
	cli_env_override(c->cfg.url, sizeof(c->cfg.url), "SBX_URL");
	cli_env_override(c->cfg.token, sizeof(c->cfg.token), "SBX_TOKEN");
	cli_env_override(c->cfg.ca, sizeof(c->cfg.ca), "SBX_CA");
	const char *fp = getenv("SBX_FINGERPRINT");
	if (fp && *fp && cli_fingerprint_norm(fp, c->cfg.fingerprint))
		return -EINVAL;
	size_t ul = strlen(c->cfg.url);
	while (ul && c->cfg.url[ul - 1] == '/')
		c->cfg.url[--ul] = 0;
	return 0;
}

/* mkdir -p for the folder of path, mode 0700 for what it creates. */
static int cli_mkdirs(const char *path)
{
	char d[CLI_PATH_MAX];

	snprintf(d, sizeof(d), "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash || slash == d)
		return 0;
	*slash = 0;
	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(d, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(d, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int cli_config_save(struct cli *c)
{
	char tmp[CLI_PATH_MAX + 16];
	int rc = cli_mkdirs(c->config_path);

	if (rc)
		return rc;
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp%d", c->config_path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	fchmod(fd, 0600);
	fprintf(f, "# sbx CLI config, written by `sbx login`. Holds a token: keep it private.\n");
	fprintf(f, "url = %s\n", c->cfg.url);
	fprintf(f, "token = %s\n", c->cfg.token);
	if (c->cfg.fingerprint[0])
		fprintf(f, "fingerprint = %s\n", c->cfg.fingerprint);
	if (c->cfg.ca[0])
		fprintf(f, "ca = %s\n", c->cfg.ca);
	if (fflush(f) || fsync(fd)) {
		rc = -errno;
		fclose(f);
		unlink(tmp);
		return rc;
	}
	if (fclose(f)) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, c->config_path)) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}
