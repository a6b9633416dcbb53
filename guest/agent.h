/*
 * guest/agent.h: sbx-init's shared state and the interfaces between its
 * parts. One struct agent exists per process; each connection gets a thread
 * and a struct conn. Tables shared between threads (children, background
 * processes, code contexts) are guarded by agent.lock.
 */
#ifndef SBX_GUEST_AGENT_H
#define SBX_GUEST_AGENT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest/proto.h"

#define AGENT_VERSION "0.1"
#define AGENT_PATH_MAX 4096

struct child;
struct proc;
struct ctx;

struct agent {
	int host_mode;
	char root[AGENT_PATH_MAX];     /* the workspace */
	char runners[AGENT_PATH_MAX];  /* folder of code-context runners */
	char cgroup[AGENT_PATH_MAX];   /* parent cgroup for user code, "" if none */
	pthread_mutex_t lock;
	pthread_cond_t cond;           /* broadcast on any child/log change */
	struct child *children;
	struct proc *procs;
	struct ctx *ctxs;
	unsigned next_id;
};

/* One connection: its socket and a frame buffer of PROTO_MAX_FRAME bytes. */
struct conn {
	struct agent *ag;
	int fd;
	uint8_t *buf;
	uint8_t *out; /* a second buffer for building replies */
};

/* --- agent.c: serving connections --- */
/* Serves connections on a listening socket forever. */
void agent_serve(struct agent *ag, int lfd);
/* Sends ERROR {CODE from err, MESSAGE msg, ERRNO}. 0 or -errno. */
int conn_error(struct conn *c, int err, const char *msg);
/* Sends a control frame with no fields. */
int conn_empty(struct conn *c, uint16_t type);
/* Sends a built frame from c->out. */
int conn_send(struct conn *c, struct proto_builder *b);
uint64_t now_ms(void);
uint64_t mono_ms(void);

/* --- reaper.c: children, exit statuses, deadlines --- */
struct spawn {
	char **argv;        /* argv[0] looked up in PATH */
	char **envp;
	const char *cwd;    /* absolute, resolved */
	int fd_in, fd_out, fd_err; /* become 0, 1, 2 in the child */
	int extra_fd;       /* becomes fd 3 when >= 0 */
};

struct child {
	pid_t pid;
	int pidfd;          /* -1 when pidfd_open is not available */
	char cgroup[AGENT_PATH_MAX]; /* this child's own cgroup, "" if none */
	uint64_t deadline;  /* mono_ms, 0 = none */
	uint64_t start_ms, end_ms;
	int done, status, timed_out, killed;
	int refs;
	struct child *next;
};

int reaper_start(struct agent *ag);
/* Forks and execs sp, registered before it can be reaped. 0 or -errno. */
int reaper_spawn(struct agent *ag, const struct spawn *sp, uint64_t timeout_ms,
		 struct child **out);
/* Sends sig to the child's whole tree (cgroup or process group). */
void reaper_kill(struct agent *ag, struct child *ch, int sig);
/* Waits until the child is reaped or timeout_ms passes (0 = poll). 1 if done. */
int reaper_wait(struct agent *ag, struct child *ch, uint64_t timeout_ms);
void reaper_put(struct agent *ag, struct child *ch);

/* --- exec.c --- */
int exec_op(struct conn *c, const struct proto_frame *req);
/* Builds argv/envp from CMD|ARG and ENV fields; frees with exec_free_argv. */
int exec_build(struct agent *ag, const struct proto_frame *req, char ***argv,
	       char ***envp, char *cwd);
void exec_free_argv(char **v);
/* Human-readable command text for a request (CMD or ARGs joined). */
void exec_cmd_text(const struct proto_frame *req, char *buf, size_t cap);

/* --- files.c --- */
int files_op(struct conn *c, const struct proto_frame *req);
/* Maps a protocol path onto the agent's file system. 0 or -errno. */
int files_resolve(struct agent *ag, const char *in, char *out, size_t cap);

/* --- procs.c --- */
int procs_op(struct conn *c, const struct proto_frame *req);
void procs_kill_all(struct agent *ag, int sig);

/* --- portfwd.c --- */
int portfwd_op(struct conn *c, const struct proto_frame *req);

/* --- contexts.c --- */
int contexts_op(struct conn *c, const struct proto_frame *req);
/* 1 when the runner and interpreter for lang are present. */
int contexts_available(struct agent *ag, const char *lang);

/* --- cgroup.c --- */
/* Creates the user cgroup with limits under a mounted cgroup2 (PID 1). */
int cgroup_setup(struct agent *ag);
/* Creates a child cgroup for one spawn; fills path; 0 or -errno. */
int cgroup_new(struct agent *ag, char *path, size_t cap);
/* Kills every process in the cgroup (cgroup.kill) and removes it. */
void cgroup_kill(const char *path);
void cgroup_remove(const char *path);

/* --- mounts.c --- */
/* PID 1: mounts, overlay, chroot. Logs to the console; never fails hard. */
void mounts_setup(struct agent *ag);
void console_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- selftest.c --- */
/* PID 1: with sbx.selftest on the kernel command line, tests itself. */
void selftest_maybe_start(void);

#endif
