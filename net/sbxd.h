/*
 * net/sbxd.h: the one context struct of sbxd, passed to every module.
 *
 * main() fills the config, then sbxd_init() opens the state folder, TLS,
 * the token store and the sandbox table, and sbxd_serve() runs the loop.
 */
#ifndef SBX_NET_SBXD_H
#define SBX_NET_SBXD_H

#include <stdint.h>

#include "net/auth.h"
#include "net/loop.h"
#include "net/sandbox.h"
#include "net/tls.h"

struct conn;
struct agent_call;

struct sbxd_config {
	const char *state_dir;
	const char *run_dir; /* sockets of running sandboxes (default STATE/run) */
	const char *listen;  /* host:port */
	const char *domain;  /* preview domain */
	const char *backend; /* "host" or "vm" */
	const char *images;  /* vm: folder with vmlinux, initramfs, rootfs */
	const char *agent;   /* host: path of sbx-init */
	const char *vmm;     /* vm: path of sbx-vmm */
	const char *cert, *key;
	unsigned public_port; /* port in preview URLs (0: the listen port) */
	uint64_t disk_mib;    /* vm: workspace disk size */
	char net_alias[192];  /* vm: operator's host alias rule, "" for none */
	int no_net;           /* vm: no network device in any sandbox */
	const char *update_hook; /* POST /v1/system/update runs it (NULL: 501) */
	unsigned update_hook_s;  /* its time limit (0: SYSTEM_HOOK_DEFAULT_S) */
	int no_jail;          /* vm: do not jail the VMMs even as root */
	unsigned jail_uid_base; /* vm: first jail uid/gid (0: SBXD_JAIL_UID_BASE) */
};

/* Default first uid of jailed VMMs: one uid per running VM from here on. */
#define SBXD_JAIL_UID_BASE 200000

struct sbxd {
	struct sbxd_config cfg;
	struct loop loop;
	struct tls_server tls;
	struct auth auth;
	struct sandbox_table table;
	const struct backend_ops *backend;
	struct loop_watch listen_w;
	struct loop_watch signal_w;
	struct conn *conns; /* live connections */
	struct conn *dead;  /* closed in this batch, freed after it */
	struct agent_call *dead_calls;
	void **deferred; /* handler states released in this batch */
	unsigned ndeferred, cap_deferred;
	unsigned nconns;
	unsigned port;
	int accept_paused; /* out of descriptors: listen_w unregistered */
	void *update_job;  /* api_system.c: the update being received, or NULL */
	int draining;      /* SIGTERM: every sandbox stops, then sbxd exits */
	uint64_t drain_deadline_ms;
};

/*
 * Frees p after the current batch of events (conn.c). Handler states are
 * released from inside their own callbacks (a reply completes the request),
 * so their memory must outlive the callback that released them.
 */
void sbxd_defer_free(struct sbxd *d, void *p);

#endif
