/*
 * net/api_system.c: GET /v1/system and POST /v1/system/update (see
 * api_system.h), for operator tokens.
 *
 * An update is streamed as it arrives into STATE/update/upload.tmp (never
 * held in memory), at most SYSTEM_UPDATE_MAX bytes (413 past it, at once
 * when Content-Length says so). At the end of the body the file is synced
 * and renamed to STATE/update/sbx-update.efi, and the hook runs as
 * `HOOK FILE` with SBX_UPDATE_REBOOT=1|0 in its environment and its output
 * in STATE/update/hook.log. sbxd does not wait for it in the loop: the
 * hook's pidfd is watched, and when it exits the request is answered, 202
 * with the last line the hook printed (what happens next) when it
 * succeeded, 422 with that line when it refused the image. One update at a
 * time (409 for a second). What an image must be and how it is installed
 * is the hook's business (boards/appliance/update.sh on the appliance).
 */
#include "net/api_system.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/api.h"
#include "net/sbxd.h"

/* systemd-boot's vendor GUID: the entry it booted, per the Boot Loader
 * Interface. Absent without efivarfs or another boot loader. */
#define SYSTEM_EFIVAR_ENTRY \
	"/sys/firmware/efi/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"

struct sys_update {
	struct sbxd *d;
	struct conn *c;      /* NULL once the client is gone */
	int fd;              /* the upload, -1 once closed */
	long long got;
	unsigned char magic[2];
	int answered;        /* refused mid-body: the rest is dropped */
	int renamed;         /* the upload became the update file */
	int reboot;          /* ?reboot=true: the hook reboots when done */
	pid_t pid;           /* the hook while it runs, else 0 */
	uint64_t deadline_ms; /* the hook is killed past it (api_system_tick) */
	int timed_out;       /* ... and was */
	struct loop_watch w; /* the hook's pidfd, fd -1 when not watched */
	char tmp[4200], path[4200], log[4200];
};

/* --- helpers ---------------------------------------------------------- */

static int system_is_operator(struct conn *c)
{
	const char *h = http_req_header(c->req, "authorization");
	char tenant[AUTH_NAME_MAX];
	int op = 0;

	if (!h || strncasecmp(h, "Bearer ", 7))
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	if (auth_check_role(&c->d->auth, h, tenant, &op))
		return 0;
	return op;
}

/* Reads a small text file into out (NUL-terminated). 0 or -errno. */
static int system_read_small(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	out[0] = 0;
	if (fd < 0)
		return -errno;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	out[n] = 0;
	return 0;
}

/* Keeps printable ASCII only, so any bytes make a valid JSON string. */
static void system_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/* The value of KEY= in an os-release text, unquoted, into out. */
static void system_osrel(const char *text, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	const char *p = text;

	snprintf(out, cap, "%s", "");
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			const char *v = p + kl + 1;
			size_t n = strcspn(v, "\n");
			if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
				v++;
				n -= 2;
			}
			snprintf(out, cap, "%.*s", (int)n, v);
			system_printable(out);
			return;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

/* The boot entry systemd-boot reports (UTF-16LE after 4 attribute bytes),
 * as ASCII into out; "" when unknown. */
static void system_boot_entry(char *out, size_t cap)
{
	unsigned char raw[512];
	int fd = open(SYSTEM_EFIVAR_ENTRY, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, raw, sizeof(raw)) : -1;
	size_t o = 0;

	if (fd >= 0)
		close(fd);
	for (ssize_t i = 4; i + 1 < n && o + 1 < cap; i += 2) {
		if (!raw[i] && !raw[i + 1])
			break;
		out[o++] = raw[i + 1] || raw[i] < 0x20 || raw[i] > 0x7e ? '?' : (char)raw[i];
	}
	out[o] = 0;
}

/* --- GET /v1/system --------------------------------------------------- */

static void system_info(struct conn *c)
{
	char osrel[4096], id[64], version[128], name[256], entry[256], up[64];
	double uptime = 0;

	system_read_small("/etc/os-release", osrel, sizeof(osrel));
	system_osrel(osrel, "ID", id, sizeof(id));
	system_osrel(osrel, "IMAGE_VERSION", version, sizeof(version));
	system_osrel(osrel, "PRETTY_NAME", name, sizeof(name));
	/* Not the appliance (a developer install): the OS is not ours. */
	if (strcmp(id, "sbx") || !version[0])
		snprintf(version, sizeof(version), "dev");
	system_boot_entry(entry, sizeof(entry));
	if (!system_read_small("/proc/uptime", up, sizeof(up)))
		uptime = strtod(up, NULL);
	json_t *j = json_pack("{s:s,s:s,s:I,s:{s:b,s:b}}", "version", version, "name", name,
			      "uptimeSeconds", (json_int_t)uptime, "update", "hook",
			      c->d->cfg.update_hook != NULL, "inProgress",
			      c->d->update_job != NULL);
	json_object_set_new(j, "bootEntry", entry[0] ? json_string(entry) : json_null());
	conn_set_handler(c, &api_discard_handler, NULL);
	conn_reply_json(c, 200, j);
}

/* --- POST /v1/system/update ------------------------------------------- */

static void system_update_free(struct sys_update *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	if (!u->renamed)
		unlink(u->tmp);
	if (u->w.fd >= 0) {
		loop_del(&u->d->loop, &u->w);
		close(u->w.fd);
		u->w.fd = -1;
	}
	if (u->d->update_job == u)
		u->d->update_job = NULL;
	sbxd_defer_free(u->d, u);
}

/* Answers an error during the upload and drops the rest of the body. */
static void system_update_fail(struct sys_update *u, int status, const char *code,
			       const char *msg)
{
	u->answered = 1;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	unlink(u->tmp);
	/* conn_resp_end() closes after the answer when the rest is large. */
	conn_reply_error(u->c, status, code, "%s", msg);
}

static int system_update_body(struct conn *c, const char *data, size_t len)
{
	struct sys_update *u = c->hs;

	if (u->answered)
		return 0;
	if (u->got + (long long)len > SYSTEM_UPDATE_MAX) {
		system_update_fail(u, 413, "too_large", "update image over 256 MiB");
		return 0;
	}
	for (size_t i = 0; i < len && u->got + (long long)i < 2; i++)
		u->magic[u->got + (long long)i] = (unsigned char)data[i];
	while (len) {
		ssize_t n = write(u->fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int full = n < 0 && (errno == ENOSPC || errno == EDQUOT);
			system_update_fail(u, full ? 507 : 500, full ? "insufficient_storage"
				: "internal", full ? "no room for the update on the data partition"
				: "cannot write the update");
			return 0;
		}
		u->got += n;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The last non-empty line of the hook's log, printable, into out. */
static void system_hook_message(const struct sys_update *u, char *out, size_t cap)
{
	char buf[SYSTEM_HOOK_MSG_MAX + 1];
	int fd = open(u->log, O_RDONLY | O_CLOEXEC);
	off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
	off_t from = size > SYSTEM_HOOK_MSG_MAX ? size - SYSTEM_HOOK_MSG_MAX : 0;
	ssize_t n = size > 0 ? pread(fd, buf, (size_t)(size - from), from) : 0;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	char *line = strrchr(buf, '\n');
	snprintf(out, cap, "%s", line ? line + 1 : buf);
	system_printable(out);
}

static unsigned system_hook_limit_s(const struct sbxd *d)
{
	return d->cfg.update_hook_s ? d->cfg.update_hook_s : SYSTEM_HOOK_DEFAULT_S;
}

static void system_hook_exited(struct loop_watch *w, uint32_t events)
{
	struct sys_update *u = (struct sys_update *)((char *)w - offsetof(struct sys_update, w));
	char msg[SYSTEM_HOOK_MSG_MAX + 1];
	int st = 0;

	(void)events;
	if (waitpid(u->pid, &st, WNOHANG) != u->pid)
		return; /* spurious: not exited yet */
	u->pid = 0;
	loop_del(&u->d->loop, &u->w);
	close(u->w.fd);
	u->w.fd = -1;
	if (!u->c) { /* the client left: nobody to tell */
		system_update_free(u);
		return;
	}
	system_hook_message(u, msg, sizeof(msg));
	if (u->timed_out)
		conn_reply_error(u->c, 422, "update_rejected",
				 "the update hook did not finish within %u s%s%s",
				 system_hook_limit_s(u->d), msg[0] ? "; its last line: " : "",
				 msg);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		/* The reply completes the request: release() frees u. */
		conn_reply_json(u->c, 202, json_pack("{s:b,s:s,s:b,s:s}", "accepted", 1,
						     "message", msg, "reboot", u->reboot,
						     "log", u->log));
	else
		conn_reply_error(u->c, 422, "update_rejected", "%s",
				 msg[0] ? msg : "the update hook failed");
}

/* Starts the hook on the received file. 0 or -errno. */
static int system_hook_start(struct sys_update *u)
{
	const char *hook = u->d->cfg.update_hook;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		int in = open("/dev/null", O_RDONLY);
		int out = open(u->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* sbxd blocks its stop signals and ignores SIGPIPE: not so
		 * the hook. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setpgid(0, 0); /* its own group: a time-out ends its children too */
		signal(SIGPIPE, SIG_DFL);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
		    dup2(out, 2) < 0)
			_exit(126);
		setenv("SBX_UPDATE_REBOOT", u->reboot ? "1" : "0", 1);
		execl(hook, hook, u->path, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid); /* also here: the deadline may come before the child runs */
	u->pid = pid;
	u->deadline_ms = loop_now_ms() + 1000ULL * system_hook_limit_s(u->d);
	u->w.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	u->w.cb = system_hook_exited;
	if (u->w.fd < 0 || loop_add(&u->d->loop, &u->w, EPOLLIN)) {
		/* Cannot watch it: wait here, the hook is short. */
		int st;
		if (u->w.fd >= 0)
			close(u->w.fd);
		u->w.fd = -1;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		u->pid = 0;
		return -ECHILD;
	}
	return 0;
}

static void system_update_done(struct conn *c)
{
	struct sys_update *u = c->hs;

	if (u->answered)
		return;
	if (u->got == 0) {
		system_update_fail(u, 400, "bad_request", "the body must be the new boot image");
		return;
	}
	if (u->magic[0] != 'M' || u->magic[1] != 'Z') {
		system_update_fail(u, 400, "bad_request", "not an EFI image (no MZ header)");
		return;
	}
	if (fsync(u->fd) || close(u->fd)) {
		u->fd = -1;
		system_update_fail(u, 500, "internal", "cannot write the update");
		return;
	}
	u->fd = -1;
	if (rename(u->tmp, u->path)) {
		system_update_fail(u, 500, "internal", "cannot store the update");
		return;
	}
	u->renamed = 1;
	if (system_hook_start(u)) {
		u->answered = 1;
		conn_reply_error(c, 500, "internal", "cannot run the update hook");
	}
}

static void system_update_release(struct conn *c)
{
	struct sys_update *u = c->hs;

	if (!u)
		return;
	u->c = NULL;
	if (u->pid > 0)
		return; /* the hook runs on; its exit frees u */
	system_update_free(u);
}

static const struct conn_handler system_update_handler = {
	.body = system_update_body,
	.done = system_update_done,
	.release = system_update_release,
};

static void system_update(struct conn *c)
{
	struct sbxd *d = c->d;
	char dir[4096], v[16];

	if (strcmp(c->req->method, "POST")) {
		api_error_now(c, 405, "method_not_allowed", "use POST with the image as the body");
		return;
	}
	if (!d->cfg.update_hook) {
		api_error_now(c, 501, "not_implemented",
			      "updates are not configured here (sbxd serve --update-hook); "
			      "a developer install updates by rebuilding");
		return;
	}
	if (d->update_job) {
		api_error_now(c, 409, "conflict", "another update is being received");
		return;
	}
	if (c->req->has_length && c->req->content_length > SYSTEM_UPDATE_MAX) {
		api_error_now(c, 413, "too_large", "update image over 256 MiB");
		return;
	}
	struct sys_update *u = calloc(1, sizeof(*u));
	if (!u) {
		api_error_now(c, 503, "unavailable", "out of memory");
		return;
	}
	u->d = d;
	u->c = c;
	u->w.fd = -1;
	u->reboot = route_query(c->route.query, "reboot", v, sizeof(v)) >= 0 &&
		    (!v[0] || !strcmp(v, "true") || !strcmp(v, "1"));
	snprintf(dir, sizeof(dir), "%s/update", d->cfg.state_dir);
	snprintf(u->tmp, sizeof(u->tmp), "%s/upload.tmp", dir);
	snprintf(u->path, sizeof(u->path), "%s/sbx-update.efi", dir);
	snprintf(u->log, sizeof(u->log), "%s/hook.log", dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		u->fd = -1;
		free(u);
		api_error_now(c, 500, "internal", "cannot create the update folder");
		return;
	}
	u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (u->fd < 0) {
		free(u);
		api_error_now(c, 500, "internal", "cannot create the update file");
		return;
	}
	d->update_job = u;
	conn_set_handler(c, &system_update_handler, u);
}

void api_system_tick(struct sbxd *d, uint64_t now_ms)
{
	struct sys_update *u = d->update_job;

	if (!u || u->pid <= 0 || u->timed_out || now_ms <= u->deadline_ms)
		return;
	fprintf(stderr, "sbxd: update hook %d ran past %u s: killed\n", (int)u->pid,
		system_hook_limit_s(d));
	u->timed_out = 1;
	kill(-u->pid, SIGKILL); /* its pidfd then says it exited */
}

void api_system(struct conn *c)
{
	if (!system_is_operator(c)) {
		api_error_now(c, 403, "forbidden", "an operator token is required");
		return;
	}
	if (c->route.kind == ROUTE_SYSTEM_UPDATE) {
		system_update(c);
		return;
	}
	if (strcmp(c->req->method, "GET") && strcmp(c->req->method, "HEAD")) {
		api_error_now(c, 405, "method_not_allowed", "use GET");
		return;
	}
	system_info(c);
}
