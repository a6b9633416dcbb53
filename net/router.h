/*
 * net/router.h: maps request targets and Host headers to API routes.
 *
 * Pure functions, no allocation: a target "/v1/sandboxes/ID/files/a%20b?x=1"
 * becomes {ROUTE_FILES, id "ID", path "/a b", query "x=1"}. Percent-escapes
 * are decoded once; %00, a raw NUL, bad escapes and ids outside
 * [A-Za-z0-9_-]{1,63} are refused. File paths are normalised inside the
 * sandbox root ("." and ".." resolved, never above "/").
 */
#ifndef SBX_NET_ROUTER_H
#define SBX_NET_ROUTER_H

#include <stddef.h>

enum route_kind {
	ROUTE_NONE = 0,
	ROUTE_HEALTH,        /* /v1/health */
	ROUTE_SANDBOXES,     /* /v1/sandboxes */
	ROUTE_SANDBOX,       /* /v1/sandboxes/{id} */
	ROUTE_EXEC,          /* /v1/sandboxes/{id}/exec */
	ROUTE_PROCESSES,     /* /v1/sandboxes/{id}/processes */
	ROUTE_PROCESS,       /* /v1/sandboxes/{id}/processes/{pid} */
	ROUTE_PROCESS_LOGS,  /* /v1/sandboxes/{id}/processes/{pid}/logs */
	ROUTE_FILES,         /* /v1/sandboxes/{id}/files/{path} */
	ROUTE_GIT_CHECKOUT,  /* /v1/sandboxes/{id}/git/checkout */
	ROUTE_CONTEXTS,      /* /v1/sandboxes/{id}/contexts */
	ROUTE_CONTEXT,       /* /v1/sandboxes/{id}/contexts/{ctx} */
	ROUTE_CODE,          /* /v1/sandboxes/{id}/code */
	ROUTE_PORTS,         /* /v1/sandboxes/{id}/ports */
	ROUTE_PORT,          /* /v1/sandboxes/{id}/ports/{port} */
	ROUTE_SYSTEM,        /* /v1/system (operator tokens only) */
	ROUTE_SYSTEM_UPDATE, /* /v1/system/update (operator tokens only) */
};

#define ROUTE_ID_MAX 64
#define ROUTE_PATH_MAX 4096

struct route {
	enum route_kind kind;
	char id[ROUTE_ID_MAX];
	char sub[ROUTE_ID_MAX];    /* pid, ctx or port */
	char path[ROUTE_PATH_MAX]; /* ROUTE_FILES: absolute, normalised */
	const char *query;         /* points into the target, "" if none */
};

/*
 * Matches target. Returns 0 with *r filled, -ENOENT for no such route,
 * -EINVAL for a malformed target (bad escape, NUL, bad id).
 */
int route_match(const char *target, struct route *r);

/* True when s is a valid sandbox/tenant id: [A-Za-z0-9_-]{1,63}. */
int route_valid_id(const char *s);

/*
 * Normalises an absolute or relative path (relative to "/") into out:
 * resolves "." and "..", collapses "//". Returns 0, -EINVAL if it climbs
 * above "/" or holds a NUL, -ENAMETOOLONG.
 */
int route_normalize_path(const char *in, size_t inlen, char *out, size_t cap);

/*
 * Decodes the query parameter name from query ("a=1&b=x%20y") into out.
 * Returns the decoded length, -ENOENT when absent, -EINVAL when malformed
 * or holding a NUL, -ENAMETOOLONG when out is too small.
 */
int route_query(const char *query, const char *name, char *out, size_t cap);

/*
 * Parses a preview Host header "{port}-{id}-{token}.{domain}[:port]".
 * Returns 0 with port, id (cap ROUTE_ID_MAX) and token (cap 64) filled,
 * or -ENOENT when host is not a preview name under domain.
 */
int route_preview_host(const char *host, const char *domain, unsigned *port,
		       char *id, char *token);

#endif
