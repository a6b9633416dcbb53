/*
 * net/auth.h: tenants and their bearer tokens.
 *
 * A tenant is a name; a token is "sbx_" + 64 hex digits of random. Only the
 * SHA-256 of each token is stored (STATE/tokens.json, mode 0600), with a
 * short id (the first 12 hex digits of the hash) to list and revoke it.
 * Checking a token hashes it and compares against every stored hash in
 * constant time. A token may also be an operator's ("operator": true in the
 * file): it manages the box itself (GET /v1/system, updates) besides being
 * a tenant like any other. Single-threaded.
 */
#ifndef SBX_NET_AUTH_H
#define SBX_NET_AUTH_H

#include <stddef.h>

#define AUTH_TOKEN_LEN 68 /* "sbx_" + 64 hex */
#define AUTH_NAME_MAX 64

struct auth_entry {
	char id[16];
	char tenant[AUTH_NAME_MAX];
	unsigned char hash[32];
	char created[32];
	int operator; /* may call the /v1/system endpoints */
};

struct auth {
	char path[4096];
	long long mtime_ns; /* of the file when loaded, to notice CLI changes */
	struct auth_entry *v;
	size_t n;
};

/* Loads STATE/tokens.json (absent = no tokens). Returns 0 or -errno. */
int auth_load(struct auth *a, const char *state_dir);
/* Reloads the file when it changed on disk (tokens created or revoked by
 * `sbxd token` while sbxd runs). Keeps the old set when the file is bad. */
void auth_refresh(struct auth *a);
void auth_free(struct auth *a);

/*
 * Creates a token for tenant, stores its hash and writes the token (a C
 * string, AUTH_TOKEN_LEN + 1 bytes) into out. Returns 0, -EINVAL for a bad
 * tenant name, or -errno.
 */
int auth_create(struct auth *a, const char *tenant, char *out);

/* auth_create() for an operator's token when operator is nonzero. */
int auth_create_role(struct auth *a, const char *tenant, int operator, char *out);

/* Removes the token with this id. Returns 0, -ENOENT, or -errno. */
int auth_revoke(struct auth *a, const char *id);

/*
 * Checks a presented token. Returns 0 and copies its tenant name
 * (AUTH_NAME_MAX) into tenant, or -EACCES.
 */
int auth_check(const struct auth *a, const char *token, char *tenant);

/*
 * Like auth_check(), and also tells whether the token is an operator's
 * (*operator set to 1 or 0). Returns 0 or -EACCES.
 */
int auth_check_role(const struct auth *a, const char *token, char *tenant,
		    int *operator);

/* SHA-256 of a token (pure; exposed for tests). */
void auth_hash(const char *token, unsigned char out[32]);

/* Constant-time equality of n bytes (pure). Returns 1 when equal. */
int auth_ct_equal(const void *a, const void *b, size_t n);

#endif
