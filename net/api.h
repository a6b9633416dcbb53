/*
 * net/api.h: shared pieces of the API handlers (api*.c).
 *
 * Handlers that take a JSON body install api_json_handler through
 * api_with_json(): the body is collected (at most API_JSON_MAX bytes, else
 * 413), parsed at the end of the request (malformed: 400), and passed to the
 * handler function with the sandbox it addresses.
 */
#ifndef SBX_NET_API_H
#define SBX_NET_API_H

#include <jansson.h>

#include "guest/proto.h"
#include "net/conn.h"
#include "net/json.h"
#include "net/sandbox.h"


typedef void (*api_fn)(struct conn *c, struct sandbox *s, json_t *body);

/* Collects a JSON body, then calls fn (body may be NULL when empty and
 * allow_empty). */
void api_with_json(struct conn *c, struct sandbox *s, api_fn fn, int allow_empty);

/* Reply helpers for agent failures. */
void api_reply_dial_error(struct conn *c, int err);
void api_reply_agent_error(struct conn *c, const struct proto_frame *f);

/* api_exec.c */
void api_exec(struct conn *c, struct sandbox *s);
void api_processes(struct conn *c, struct sandbox *s);
void api_contexts(struct conn *c, struct sandbox *s);
void api_code(struct conn *c, struct sandbox *s);
void api_git_checkout(struct conn *c, struct sandbox *s);
/* api_files.c */
void api_files(struct conn *c, struct sandbox *s);
/* preview.c */
void api_ports(struct conn *c, struct sandbox *s);
int preview_dispatch(struct conn *c, const char *host);

/* Adds the sandbox's env (NAME=VALUE fields) to a request being built. */
void api_put_env(struct proto_builder *b, struct sandbox *s, json_t *extra);

/* Drops a request body (after an early answer). */
extern const struct conn_handler api_discard_handler;
/* Replies now; the request body, if any, is read and dropped when small,
 * and a large or chunked one closes the connection instead. */
void api_error_now(struct conn *c, int status, const char *code, const char *msg);

#endif
