/*
 * guest/files.c: the file ops: FILE_READ, FILE_WRITE, MKDIR, DELETE,
 * RENAME, LIST, STAT; and the mapping of protocol paths onto the agent's
 * file system (files_resolve).
 *
 * Contents move as DATA frames of at most PROTO_CHUNK bytes, read and
 * written with blocking calls, so any size streams in constant memory.
 * Writes go to a temp file beside the target, fsynced and renamed over it,
 * so a reader never sees half a file and a cancelled write leaves nothing.
 */
#include "guest/agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WS "/workspace"

/*
 * Maps a protocol path (PROTOCOL.md, "Paths") to a real one: "" and
 * relative paths go under the workspace, /workspace/... maps to the
 * workspace (which is /workspace itself in a VM). 0, or -ENAMETOOLONG.
 */
int files_resolve(struct agent *ag, const char *in, char *out, size_t cap)
{
	size_t wl = strlen(WS);
	int n;

	if (!in[0])
		n = snprintf(out, cap, "%s", ag->root);
	else if (strncmp(in, WS, wl) == 0 && (in[wl] == '/' || !in[wl]))
		n = snprintf(out, cap, "%s%s", ag->root, in + wl);
	else if (in[0] == '/')
		n = snprintf(out, cap, "%s", in);
	else
		n = snprintf(out, cap, "%s/%s", ag->root, in);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int req_path(struct conn *c, const struct proto_frame *req,
		    uint16_t tag, char *out)
{
	char in[AGENT_PATH_MAX];

	if (proto_get_str(req, tag, in, sizeof(in)) < 0)
		return -EINVAL;
	return files_resolve(c->ag, in, out, AGENT_PATH_MAX);
}

/* mkdir -p; 0 or -errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[AGENT_PATH_MAX];
	size_t i;

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (i = 1; tmp[i]; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static uint32_t ftype(mode_t m)
{
	if (S_ISREG(m))
		return PROTO_FT_FILE;
	if (S_ISDIR(m))
		return PROTO_FT_DIR;
	if (S_ISLNK(m))
		return PROTO_FT_SYMLINK;
	return PROTO_FT_OTHER;
}

/* Sends ENTRY for st; real is the real path (for a symlink target). */
static int send_entry(struct conn *c, const char *name, const char *path,
		      const char *real, const struct stat *st)
{
	struct proto_builder b;
	char target[AGENT_PATH_MAX];
	ssize_t n;

	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_ENTRY);
	proto_put_str(&b, PT_NAME, name);
	proto_put_str(&b, PT_PATH, path);
	proto_put_u32(&b, PT_FTYPE, ftype(st->st_mode));
	proto_put_u64(&b, PT_SIZE, (uint64_t)st->st_size);
	proto_put_u32(&b, PT_MODE, st->st_mode & 07777);
	proto_put_u64(&b, PT_MTIME_MS, (uint64_t)st->st_mtim.tv_sec * 1000 +
					       (uint64_t)st->st_mtim.tv_nsec / 1000000);
	if (S_ISLNK(st->st_mode)) {
		n = readlink(real, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = 0;
			proto_put_str(&b, PT_TARGET, target);
		}
	}
	return conn_send(c, &b);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s && s[1] ? s + 1 : p;
}

static int read_op(struct conn *c, const struct proto_frame *req)
{
	char path[AGENT_PATH_MAX], in[AGENT_PATH_MAX];
	struct proto_builder b;
	uint64_t total = 0;
	struct stat st;
	ssize_t n;
	int fd, r;

	if ((r = req_path(c, req, PT_PATH, path)) < 0)
		return conn_error(c, r, NULL);
	proto_get_str(req, PT_PATH, in, sizeof(in));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return conn_error(c, errno, NULL);
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? EISDIR : errno;
		close(fd);
		return conn_error(c, r, NULL);
	}
	r = send_entry(c, base_name(in), in, path, &st);
	while (r == 0 && (n = read(fd, c->buf, PROTO_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = conn_error(c, errno, NULL);
			close(fd);
			return r ? r : -EIO;
		}
		total += (uint64_t)n;
		r = proto_write_frame(c->fd, PROTO_DATA, c->buf, (size_t)n);
	}
	close(fd);
	if (r)
		return r;
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_END);
	proto_put_u64(&b, PT_SIZE, total);
	return conn_send(c, &b);
}

/* Receives DATA frames into fd until END. Returns bytes or -errno. */
static int64_t receive_data(struct conn *c, int fd, int *client_gone)
{
	struct proto_frame f;
	int64_t total = 0;
	int r;

	for (;;) {
		r = proto_read_frame(c->fd, c->buf, PROTO_MAX_FRAME, &f);
		if (r < 0) {
			*client_gone = 1;
			return r;
		}
		if (f.type == PROTO_END)
			return total;
		if (f.type != PROTO_DATA)
			return -EBADMSG;
		r = proto_write_all(fd, f.body, f.len);
		if (r < 0)
			return r;
		total += f.len;
	}
}

/*
 * Opens a fresh temp file beside path (".NAME.sbx-tmp-N", where N is
 * unique across boots as well: a temp left by a crash never blocks a write).
 * fd or -errno; the name goes to tmp (AGENT_PATH_MAX + 64 bytes).
 */
static int open_temp(const char *path, mode_t mode, char *tmp)
{
	static unsigned seq;
	const char *slash = strrchr(path, '/');
	int i, fd = -EEXIST;

	for (i = 0; i < 16 && fd == -EEXIST; i++) {
		snprintf(tmp, AGENT_PATH_MAX + 64, "%.*s.%s.sbx-tmp-%llx-%u",
			 slash ? (int)(slash - path + 1) : 0, path,
			 slash ? slash + 1 : path,
			 (unsigned long long)now_ms(),
			 __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0)
			fd = -errno;
	}
	return fd;
}

/* Makes a rename in the folder of path durable (fsync of the folder). */
static void sync_parent(const char *path)
{
	char dir[AGENT_PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return;
	slash[slash == dir] = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int write_op(struct conn *c, const struct proto_frame *req)
{
	char path[AGENT_PATH_MAX], tmp[AGENT_PATH_MAX + 64], dir[AGENT_PATH_MAX];
	mode_t mode = proto_u32_or(req, PT_MODE, 0644) & 07777;
	struct proto_builder b;
	int fd, r, gone = 0;
	int64_t n;
	char *slash;

	if ((r = req_path(c, req, PT_PATH, path)) < 0)
		return conn_error(c, r, NULL);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if ((r = mkdir_p(dir, 0755)) < 0)
			return conn_error(c, r, NULL);
	}
	fd = open_temp(path, mode, tmp);
	if (fd < 0)
		return conn_error(c, fd, NULL);
	n = receive_data(c, fd, &gone);
	if (n >= 0 && fsync(fd) < 0)
		n = -errno;
	if (close(fd) < 0 && n >= 0)
		n = -errno;
	if (n >= 0 && rename(tmp, path) < 0)
		n = -errno;
	if (n < 0) {
		unlink(tmp);
		return gone ? (int)n : conn_error(c, (int)n, NULL);
	}
	sync_parent(path);
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_OK);
	proto_put_u64(&b, PT_SIZE, (uint64_t)n);
	return conn_send(c, &b);
}

/* rm -rf without following symlinks; 0 or -errno. */
/* rm -rf without following symlinks; 0 or -errno. Path buffers are on the
 * heap: recursion depth must not cost thread stack. */
static int remove_tree(const char *path, int depth)
{
	struct dirent *e;
	struct stat st;
	char *sub;
	DIR *d;
	int r = 0;

	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	if (depth > 256)
		return -ELOOP;
	if (!(sub = malloc(AGENT_PATH_MAX)))
		return -ENOMEM;
	if (!(d = opendir(path))) {
		free(sub);
		return -errno;
	}
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(sub, AGENT_PATH_MAX, "%s/%s", path, e->d_name) >=
		    AGENT_PATH_MAX)
			r = -ENAMETOOLONG;
		else
			r = remove_tree(sub, depth + 1);
	}
	closedir(d);
	free(sub);
	if (r == 0 && rmdir(path) < 0)
		r = -errno;
	return r;
}

static int simple_op(struct conn *c, const struct proto_frame *req)
{
	char path[AGENT_PATH_MAX], dest[AGENT_PATH_MAX];
	int rec = (int)proto_u32_or(req, PT_RECURSIVE, 0), r;
	struct stat st;

	if ((r = req_path(c, req, PT_PATH, path)) < 0)
		return conn_error(c, r, NULL);
	if (req->type == PROTO_MKDIR) {
		mode_t mode = proto_u32_or(req, PT_MODE, 0755) & 07777;

		r = rec ? mkdir_p(path, mode) : mkdir(path, mode) < 0 ? -errno : 0;
	} else if (req->type == PROTO_DELETE) {
		if (lstat(path, &st) < 0)
			r = -errno;
		else if (S_ISDIR(st.st_mode))
			r = rec ? remove_tree(path, 0) : rmdir(path) < 0 ? -errno : 0;
		else
			r = unlink(path) < 0 ? -errno : 0;
	} else {
		if ((r = req_path(c, req, PT_DEST, dest)) == 0)
			r = rename(path, dest) < 0 ? -errno : 0;
	}
	if (r == -EEXIST && req->type == PROTO_DELETE)
		r = -ENOTEMPTY;
	return r < 0 ? conn_error(c, r, NULL) : conn_empty(c, PROTO_OK);
}

struct lister {
	struct conn *c;
	const char *req_path; /* as the client wrote it */
	int recursive, hidden;
	uint32_t count;
};

/* out = dir "/" name (no slash when dir is ""); -ENAMETOOLONG if cut. */
static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, AGENT_PATH_MAX, "%s%s%s", dir, dir[0] ? "/" : "",
			 name);

	return n < 0 || n >= AGENT_PATH_MAX ? -ENAMETOOLONG : 0;
}

struct list_paths {
	char sub[AGENT_PATH_MAX], name[AGENT_PATH_MAX], ppath[AGENT_PATH_MAX];
};

/* Sends an ENTRY per entry of real, recursing when asked (on the heap). */
static int list_dir(struct lister *l, const char *real, const char *rel,
		    int depth)
{
	struct list_paths *p = malloc(sizeof(*p));
	struct dirent *e;
	struct stat st;
	DIR *d = p ? opendir(real) : NULL;
	int r = 0;

	if (!d) {
		r = p ? -errno : -ENOMEM;
		free(p);
		return r;
	}
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_name[0] == '.' && !l->hidden)
			continue;
		if (join(p->sub, real, e->d_name) < 0 ||
		    join(p->name, rel, e->d_name) < 0 ||
		    join(p->ppath, l->req_path, p->name) < 0 ||
		    lstat(p->sub, &st) < 0)
			continue;
		r = send_entry(l->c, p->name, p->ppath, p->sub, &st);
		l->count++;
		if (r == 0 && l->recursive && S_ISDIR(st.st_mode) && depth < 64)
			r = list_dir(l, p->sub, p->name, depth + 1);
		if (r == -EACCES || r == -ENOENT)
			r = 0; /* an unreadable or vanished folder is skipped */
	}
	closedir(d);
	free(p);
	return r;
}

static int list_op(struct conn *c, const struct proto_frame *req)
{
	char path[AGENT_PATH_MAX], in[AGENT_PATH_MAX];
	struct lister l = { .c = c };
	struct proto_builder b;
	struct stat st;
	int r;

	if ((r = req_path(c, req, PT_PATH, path)) < 0)
		return conn_error(c, r, NULL);
	proto_get_str(req, PT_PATH, in, sizeof(in));
	if (stat(path, &st) < 0)
		return conn_error(c, errno, NULL);
	if (!S_ISDIR(st.st_mode))
		return conn_error(c, ENOTDIR, NULL);
	l.req_path = in;
	l.recursive = (int)proto_u32_or(req, PT_RECURSIVE, 0);
	l.hidden = (int)proto_u32_or(req, PT_HIDDEN, 0);
	r = list_dir(&l, path, "", 0);
	if (r == -EPIPE || r == -ECONNRESET)
		return r;
	if (r < 0)
		return conn_error(c, r, NULL);
	proto_build_begin(&b, c->out, PROTO_MAX_FRAME, PROTO_END);
	proto_put_u32(&b, PT_COUNT, l.count);
	return conn_send(c, &b);
}

static int stat_op(struct conn *c, const struct proto_frame *req)
{
	char path[AGENT_PATH_MAX], in[AGENT_PATH_MAX];
	struct stat st;
	int r;

	if ((r = req_path(c, req, PT_PATH, path)) < 0)
		return conn_error(c, r, NULL);
	proto_get_str(req, PT_PATH, in, sizeof(in));
	if (lstat(path, &st) < 0)
		return conn_error(c, errno, NULL);
	return send_entry(c, base_name(in), in, path, &st);
}

/* Serves one file op; returns 0 or -errno when the client is gone. */
int files_op(struct conn *c, const struct proto_frame *req)
{
	switch (req->type) {
	case PROTO_FILE_READ:
		return read_op(c, req);
	case PROTO_FILE_WRITE:
		return write_op(c, req);
	case PROTO_LIST:
		return list_op(c, req);
	case PROTO_STAT:
		return stat_op(c, req);
	default:
		return simple_op(c, req);
	}
}
