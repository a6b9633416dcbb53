/*
 * net/api_system.h: the box itself, for operator tokens only.
 *
 *   GET  /v1/system          version, booted boot entry, uptimes, updates
 *   POST /v1/system/update   raw body = a new boot image (the appliance's
 *                            UKI), streamed to STATE/update/ and handed to
 *                            the update hook (sbxd serve --update-hook)
 *
 * A tenant's token gets 403, no token 401 (api.c), and without a hook (a
 * developer install) the update answers 501.
 */
#ifndef SBX_NET_API_SYSTEM_H
#define SBX_NET_API_SYSTEM_H

#include "net/conn.h"

/* Largest update body accepted; more is answered 413. A UKI is ~25 MiB. */
#define SYSTEM_UPDATE_MAX (256LL * 1024 * 1024)
/* Bytes of the hook's output kept for the answer. */
#define SYSTEM_HOOK_MSG_MAX 1024
/* The hook's default time limit: it checks and writes a ~25 MiB image;
 * past the limit it is killed, with its process group, and the update is
 * answered 422. */
#define SYSTEM_HOOK_DEFAULT_S 600

/* Serves ROUTE_SYSTEM and ROUTE_SYSTEM_UPDATE for an authenticated
 * request: checks the token is an operator's, then installs a handler or
 * replies. Event-loop thread. */
void api_system(struct conn *c);
/* On every loop tick: ends an update hook that ran past its limit. */
void api_system_tick(struct sbxd *d, uint64_t now_ms);

#endif
