/*
 * net/auth.c: bearer tokens stored as SHA-256 hashes (see auth.h).
 *
 * The file is JSON: {"tokens":[{"id","tenant","sha256","created",
 * "operator"}]} ("operator" only when true), rewritten whole (temp file, fsync, rename) on every change.
 */
#include "net/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/sha256.h>

#include "net/router.h"

void auth_hash(const char *token, unsigned char out[32])
{
	mbedtls_sha256_ret((const unsigned char *)token, strlen(token), out, 0);
}

int auth_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static void auth_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = 0;
}

static int auth_unhex(const char *s, unsigned char *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static long long auth_mtime(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec +
	       (long long)st.st_ino * 7;
}

void auth_refresh(struct auth *a)
{
	struct auth fresh;
	char dir[4096];

	if (auth_mtime(a->path) == a->mtime_ns)
		return;
	snprintf(dir, sizeof(dir), "%s", a->path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return;
	*slash = 0;
	if (auth_load(&fresh, dir))
		return;
	auth_free(a);
	*a = fresh;
}

int auth_load(struct auth *a, const char *state_dir)
{
	json_error_t jerr;

	memset(a, 0, sizeof(*a));
	snprintf(a->path, sizeof(a->path), "%s/tokens.json", state_dir);
	a->mtime_ns = auth_mtime(a->path);
	if (access(a->path, F_OK))
		return 0;
	json_t *root = json_load_file(a->path, 0, &jerr);
	if (!root) {
		fprintf(stderr, "sbxd: %s: %s\n", a->path, jerr.text);
		return -EINVAL;
	}
	json_t *arr = json_object_get(root, "tokens");
	size_t n = json_array_size(arr);
	a->v = calloc(n ? n : 1, sizeof(*a->v));
	if (!a->v) {
		json_decref(root);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_array_get(arr, i);
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *tn = json_string_value(json_object_get(t, "tenant"));
		const char *h = json_string_value(json_object_get(t, "sha256"));
		const char *c = json_string_value(json_object_get(t, "created"));
		struct auth_entry *e = &a->v[a->n];
		if (!id || !tn || !h || auth_unhex(h, e->hash, 32))
			continue;
		snprintf(e->id, sizeof(e->id), "%s", id);
		snprintf(e->tenant, sizeof(e->tenant), "%s", tn);
		snprintf(e->created, sizeof(e->created), "%s", c ? c : "");
		/* Only a real JSON true makes an operator: "yes", 1 and the
		 * like, written by hand into the file, do not. */
		e->operator = json_is_true(json_object_get(t, "operator"));
		a->n++;
	}
	json_decref(root);
	return 0;
}

void auth_free(struct auth *a)
{
	if (a->v)
		explicit_bzero(a->v, a->n * sizeof(*a->v));
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static int auth_save(struct auth *a)
{
	json_t *arr = json_array();
	char hex[65], tmp[4200];

	for (size_t i = 0; i < a->n; i++) {
		auth_hex(a->v[i].hash, 32, hex);
		json_t *t = json_pack("{s:s,s:s,s:s,s:s}", "id", a->v[i].id, "tenant",
				      a->v[i].tenant, "sha256", hex, "created",
				      a->v[i].created);
		if (a->v[i].operator)
			json_object_set_new(t, "operator", json_true());
		json_array_append_new(arr, t);
	}
	json_t *root = json_pack("{s:o}", "tokens", arr);
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		json_decref(root);
		return -errno;
	}
	int rc = json_dumpfd(root, fd, JSON_INDENT(1));
	json_decref(root);
	if (rc || fsync(fd) || close(fd)) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, a->path))
		return -errno;
	a->mtime_ns = auth_mtime(a->path);
	return 0;
}

int auth_create(struct auth *a, const char *tenant, char *out)
{
	return auth_create_role(a, tenant, 0, out);
}

int auth_create_role(struct auth *a, const char *tenant, int operator, char *out)
{
	unsigned char rnd[32];
	struct auth_entry e = { 0 };

	if (!route_valid_id(tenant))
		return -EINVAL;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return -EIO;
	memcpy(out, "sbx_", 4);
	auth_hex(rnd, 32, out + 4);
	explicit_bzero(rnd, sizeof(rnd));
	auth_hash(out, e.hash);
	auth_hex(e.hash, 6, e.id);
	snprintf(e.tenant, sizeof(e.tenant), "%s", tenant);
	e.operator = !!operator;
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(e.created, sizeof(e.created), "%Y-%m-%dT%H:%M:%SZ", &tm);

	struct auth_entry *v = realloc(a->v, (a->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	a->v = v;
	a->v[a->n++] = e;
	int rc = auth_save(a);
	if (rc) {
		a->n--;
		explicit_bzero(out, AUTH_TOKEN_LEN);
	}
	return rc;
}

int auth_revoke(struct auth *a, const char *id)
{
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].id, id))
			continue;
		struct auth_entry gone = a->v[i];
		memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(*a->v));
		a->n--;
		int rc = auth_save(a);
		if (rc)
			a->v[a->n++] = gone;
		return rc;
	}
	return -ENOENT;
}

int auth_check(const struct auth *a, const char *token, char *tenant)
{
	int operator;

	return auth_check_role(a, token, tenant, &operator);
}

int auth_check_role(const struct auth *a, const char *token, char *tenant,
		    int *operator)
{
	unsigned char h[32];
	int found = -1;

	*operator = 0;
	if (!token || strlen(token) != AUTH_TOKEN_LEN)
		return -EACCES;
	auth_hash(token, h);
	for (size_t i = 0; i < a->n; i++)
		if (auth_ct_equal(h, a->v[i].hash, 32) && found < 0)
			found = (int)i;
	explicit_bzero(h, sizeof(h));
	if (found < 0)
		return -EACCES;
	memcpy(tenant, a->v[found].tenant, AUTH_NAME_MAX);
	*operator = a->v[found].operator;
	return 0;
}
