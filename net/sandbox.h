/*
 * net/sandbox.h: the table of sandboxes and their lifecycle.
 *
 * A sandbox belongs to one tenant; its key is (tenant, id), so another
 * tenant's sandbox of the same id is simply not found. The persistent part
 * (settings, exposed ports) lives in STATE/sandboxes.json, rewritten whole on
 * every change; the runtime part (is it running, its pidfd, busy count) is
 * rebuilt on start: after an sbxd restart every sandbox is stopped and boots
 * again on first use, its workspace intact. A backend (host processes or
 * VMs, see struct backend_ops) starts, dials and stops them. Single-threaded.
 *
 * Lifecycle, never waited for on the loop: stopped -> starting (the backend
 * boots it, maybe in steps: mkfs, then the VMM) -> running -> stopping (the
 * guest syncs, SIGTERM, SIGKILL after a grace; its pidfd says when it is
 * gone) -> stopped. Calls that arrive while it starts or stops wait (in
 * s->waiters) and are connected once it runs. A VM that exits before it was
 * ever ready is booted once more before its waiters are failed.
 */
#ifndef SBX_NET_SANDBOX_H
#define SBX_NET_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "hv/supervisor.h"
#include "net/loop.h"

#define SANDBOX_MAX_PORTS 32
#define SANDBOX_DEFAULT_SLEEP_MS 600000ULL
#define SANDBOX_BOOT_MS 120000ULL /* longest asynchronous boot */
#define SANDBOX_FLUSH_MS 5000ULL  /* longest wait for the guest's sync at a stop */
#define SANDBOX_TERM_MS 3000ULL   /* SIGTERM to SIGKILL at a stop */

struct sbxd;
struct sbxd_config;
struct agent_call;
struct sandbox_vsock_dial;

struct sandbox_port {
	unsigned port;
	char token[17]; /* 16 hex digits, part of the preview host name */
	char name[64];
};

struct sandbox {
	struct sandbox *next;
	struct sbxd *d;
	char tenant[64];
	char id[64];
	char key[17]; /* hex digest of tenant/id: names its folder */
	char created[32];
	json_t *env;    /* object NAME -> value */
	json_t *limits; /* object, passed through */
	json_t *network; /* {"internet":bool,"allow":[..],"deny":[..]}; NULL: default */
	uint64_t sleep_after_ms;
	int keep_alive;
	struct sandbox_port ports[SANDBOX_MAX_PORTS];
	int nports;

	/* runtime */
	char dir[4096];  /* STATE/sandboxes/KEY */
	char sock[108];  /* agent socket (host) or vsock UDS (vm) */
	int running;
	pid_t pid;
	int pidfd;
	struct loop_watch pid_w;
	struct sbx_vmm vmm;
	unsigned busy;        /* agent calls open or waiting */
	int starting;         /* booting asynchronously (see ready_w) */
	int prep;             /* starting: pid is a step before the runtime (mkfs) */
	int boot_retried;     /* this boot already booted a dead VM again */
	int ready_fd;
	struct loop_watch ready_w;
	uint64_t start_deadline_ms;
	struct agent_call *waiters; /* calls waiting for a boot or a stop */
	struct sandbox_vsock_dial *dials; /* calls waiting for the VMM's "OK" */
	uint64_t last_used_ms;
	int crashed;          /* last stop was not asked for */
	char boot_error[160]; /* why the last boot failed, told in 503s */
	int stopping;         /* a stop is under way: stop_phase, until reaped */
	int stop_phase;       /* SANDBOX_STOP_FLUSH, _TERM or _KILL */
	uint64_t stop_deadline_ms; /* of the phase */
	struct agent_call *flush;  /* the guest's sync (SANDBOX_STOP_FLUSH) */
	int doomed;           /* destroyed: in table.dying until reaped */
	char default_ctx[2][64]; /* runCode without a context: python, javascript */
};

enum { SANDBOX_STOP_FLUSH = 1, SANDBOX_STOP_TERM, SANDBOX_STOP_KILL };

struct sandbox_table {
	char path[4096];
	struct sandbox *head;
	unsigned count;
	/* Destroyed while their runtime still ran: unlisted, their folder in
	 * STATE/trash, freed once the runtime is reaped. */
	struct sandbox *dying;
};

/*
 * The backend interface: one per kind of sandbox runtime. None of these
 * waits, but stop() (sbxd's own shutdown) and the file work of prepare()
 * and destroy().
 */
struct backend_ops {
	const char *name;
	int flush;      /* ask the guest to sync before a stop that keeps files */
	int boot_retry; /* boot once more a runtime that crashed before ready */
	/* At creation: make the workspace (folder or disk). Fast. 0 or -errno. */
	int (*prepare)(struct sbxd *d, struct sandbox *s);
	/* Boots the sandbox. Either the agent answers already (returns 0), or
	 * sets *pending and s->ready_fd (readable when check_ready can tell)
	 * and returns 0 at once; then it may set s->start_deadline_ms (else
	 * SANDBOX_BOOT_MS from now applies). Sets s->pid/pidfd. A boot may
	 * take a step first (mkfs of a new disk): then s->prep is set, pid and
	 * pidfd are that step's child, there is no ready_fd, and once reap()
	 * found it exited with status 0, start() is called again. 0 or -errno. */
	int (*start)(struct sbxd *d, struct sandbox *s, int *pending);
	/* With *pending: 1 ready, 0 not yet, -ECHILD the runtime is exiting
	 * (reap() tells how), other -errno failed to boot. */
	int (*check_ready)(struct sbxd *d, struct sandbox *s);
	/* A new connection to the agent (blocking fd). fd or -errno. */
	int (*dial)(struct sbxd *d, struct sandbox *s);
	/* Sends sig to the runtime (or step) of s, if it is not reaped yet. */
	void (*signal)(struct sbxd *d, struct sandbox *s, int sig);
	/* Reaps the runtime (or step) of s if it exited: then closes its fds,
	 * removes its socket (unless s->sock is ""), frees what it held, and
	 * returns 1 with *status a wait status. 0 while it runs. Its fds must
	 * be out of the loop first. */
	int (*reap)(struct sbxd *d, struct sandbox *s, int *status);
	/* s was destroyed while its runtime still runs: move its names (the
	 * socket, a jail folder) aside so that a new sandbox of the same id
	 * gets its own; reap() later removes what moved. NULL: the socket is
	 * unlinked and forgotten. */
	void (*retire)(struct sbxd *d, struct sandbox *s);
	/* Stops it and waits (bounded): sbxd's own shutdown only. */
	void (*stop)(struct sbxd *d, struct sandbox *s);
	/* Removes the workspace (s->dir) of a stopped sandbox. 0 or -errno. */
	int (*destroy)(struct sbxd *d, struct sandbox *s);
};

extern const struct backend_ops backend_host;
extern const struct backend_ops backend_vm;

/* Loads STATE/sandboxes.json. 0 or -errno. */
int sandbox_table_load(struct sbxd *d);
/* Stops every running sandbox and frees the table. */
void sandbox_table_fini(struct sbxd *d);
/* Rewrites STATE/sandboxes.json. 0 or -errno. */
int sandbox_table_save(struct sbxd *d);

/* Finds (tenant, id) or NULL. */
struct sandbox *sandbox_find(struct sbxd *d, const char *tenant, const char *id);
/* Creates (tenant, id) with its workspace; settings from JSON opts (may be
 * NULL). Returns 0 and *out, -EEXIST (with *out set) or -errno. */
int sandbox_create(struct sbxd *d, const char *tenant, const char *id,
		   json_t *opts, struct sandbox **out);
/* Applies settings (env, sleepAfter, keepAlive, limits). 0 or -EINVAL
 * with *why set. Does not save. */
int sandbox_apply(struct sandbox *s, json_t *opts, const char **why);
/*
 * Networking (VM backend). A sandbox's "network" setting, validated by
 * sandbox_apply(), becomes sbx-vmm --net-rule words at its next boot.
 */
#define SANDBOX_NET_MAX_LIST 32  /* entries of allow, and of deny */
#define SANDBOX_NET_MAX_RULES (2 * SANDBOX_NET_MAX_LIST + 2)
#define SANDBOX_NET_RULE_MAX 300 /* bytes of one rule, with its NUL */
/* The operator's `sbxd serve --net-alias GUEST=HOST:LO[-HI]`, e.g.
 * "10.0.2.100=127.0.0.1:8000-8999". 0 or -EINVAL. */
int sandbox_net_alias(struct sbxd_config *cfg, const char *spec);
/* `sbxd serve --no-net`: no sandbox gets a network device. */
void sandbox_net_disable(struct sbxd_config *cfg);
/* The --net-rule words for s into rules (SANDBOX_NET_MAX_RULES of
 * SANDBOX_NET_RULE_MAX bytes). Returns how many, or -1 when the operator
 * turned networking off (no --net at all). */
int sandbox_net_rules(const struct sbxd_config *cfg, const struct sandbox *s,
		      char rules[][SANDBOX_NET_RULE_MAX]);
/* Drops s from the table (at once: the same id may be created again
 * right after), stops it and removes its workspace: at once when it is
 * stopped, else its folder moves to STATE/trash and goes once the runtime
 * is reaped. s must not be used after. Returns the table save's 0/-errno. */
int sandbox_destroy(struct sbxd *d, struct sandbox *s);
/* JSON view of a sandbox (new reference). */
json_t *sandbox_json(struct sbxd *d, struct sandbox *s);

/*
 * Starts the sandbox when stopped and opens a new agent connection for a,
 * non-blocking. Counts it as busy until sandbox_release(). Returns the fd,
 * -EINPROGRESS when a was queued until the sandbox has booted (then
 * agent_call_attach() or agent_call_fail() follows), or -errno.
 */
int sandbox_dial(struct sbxd *d, struct sandbox *s, struct agent_call *a);
/* Removes a from the calls waiting for s to boot. */
void sandbox_unwait(struct sandbox *s, struct agent_call *a);
/* The 503 message for a call whose boot failed: "the sandbox could not
 * boot: WHY" in buf, WHY being the last boot's error. Returns buf. */
const char *sandbox_boot_message(const struct sandbox *s, char *buf, size_t cap);
/* An agent connection of s was closed. */
void sandbox_release(struct sbxd *d, struct sandbox *s);
/* Begins to stop a running sandbox, keeping its files (sleep): the guest
 * syncs, then the runtime is signalled and reaped from the loop. Returns at
 * once; calls that arrive meanwhile wait and boot it again. */
void sandbox_stop(struct sbxd *d, struct sandbox *s);
/* sbxd's shutdown: begins to stop every sandbox at once (each as in
 * sandbox_stop), so that they stop in parallel, through the loop. */
void sandbox_stop_all(struct sbxd *d);
/* No sandbox runs, boots or stops any more. */
int sandbox_all_stopped(const struct sbxd *d);
/* Called on ticks: puts idle sandboxes to sleep, enforces the deadlines of
 * boots and stops. */
void sandbox_tick(struct sbxd *d, uint64_t now_ms);

/* Preview: finds the sandbox and port exposed under (id, token) over all
 * tenants. Returns the port entry or NULL. */
struct sandbox_port *sandbox_find_preview(struct sbxd *d, const char *id,
					  unsigned port, const char *token,
					  struct sandbox **sb);

/* ISO 8601 UTC of a wall-clock ms time into out (cap >= 32). */
void sandbox_iso_time(uint64_t ms, char *out);
uint64_t sandbox_wall_ms(void);

#endif
