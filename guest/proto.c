/*
 * guest/proto.c: the guest protocol codec (see guest/PROTOCOL.md).
 *
 * proto_decode() is the single gate for untrusted bytes: it checks the
 * header, the body length cap, that the type is known and, for control
 * frames, that the TLV list tiles the body exactly, that fixed-size fields
 * have their size and that strings hold no NUL byte. Accessors then rely on
 * that, but still never read out of bounds. Compiles with glibc and musl.
 */
#include "guest/proto.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

struct type_info {
	uint16_t type;
	uint8_t data;
	const char *name;
};

static const struct type_info types[] = {
	{ PROTO_HELLO, 0, "HELLO" },
	{ PROTO_EXEC, 0, "EXEC" },
	{ PROTO_FILE_READ, 0, "FILE_READ" },
	{ PROTO_FILE_WRITE, 0, "FILE_WRITE" },
	{ PROTO_MKDIR, 0, "MKDIR" },
	{ PROTO_DELETE, 0, "DELETE" },
	{ PROTO_RENAME, 0, "RENAME" },
	{ PROTO_LIST, 0, "LIST" },
	{ PROTO_STAT, 0, "STAT" },
	{ PROTO_PROC_START, 0, "PROC_START" },
	{ PROTO_PROC_LIST, 0, "PROC_LIST" },
	{ PROTO_PROC_GET, 0, "PROC_GET" },
	{ PROTO_PROC_KILL, 0, "PROC_KILL" },
	{ PROTO_PROC_KILL_ALL, 0, "PROC_KILL_ALL" },
	{ PROTO_PROC_LOGS, 0, "PROC_LOGS" },
	{ PROTO_WAIT_PORT, 0, "WAIT_PORT" },
	{ PROTO_PORT_CONNECT, 0, "PORT_CONNECT" },
	{ PROTO_CTX_CREATE, 0, "CTX_CREATE" },
	{ PROTO_CTX_RUN, 0, "CTX_RUN" },
	{ PROTO_CTX_LIST, 0, "CTX_LIST" },
	{ PROTO_CTX_DELETE, 0, "CTX_DELETE" },
	{ PROTO_DATA, 1, "DATA" },
	{ PROTO_END, 0, "END" },
	{ PROTO_STDIN, 1, "STDIN" },
	{ PROTO_STDIN_EOF, 0, "STDIN_EOF" },
	{ PROTO_STDOUT, 1, "STDOUT" },
	{ PROTO_STDERR, 1, "STDERR" },
	{ PROTO_OK, 0, "OK" },
	{ PROTO_ERROR, 0, "ERROR" },
	{ PROTO_STARTED, 0, "STARTED" },
	{ PROTO_EXIT, 0, "EXIT" },
	{ PROTO_ENTRY, 0, "ENTRY" },
	{ PROTO_PROC, 0, "PROC" },
	{ PROTO_CTX, 0, "CTX" },
	{ PROTO_RESULT, 1, "RESULT" },
	{ PROTO_CTX_ERROR, 1, "CTX_ERROR" },
	{ PROTO_DONE, 0, "DONE" },
};

static const struct type_info *type_lookup(uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

int proto_type_is_data(uint16_t type)
{
	const struct type_info *t = type_lookup(type);

	return t ? t->data : -1;
}

const char *proto_type_name(uint16_t type)
{
	const struct type_info *t = type_lookup(type);

	return t ? t->name : "?";
}

/* Indexed by tag; tags past the table are unknown and skipped. */
static const uint8_t tag_kinds[PT_TAG_LAST + 1] = {
	[PT_CMD] = PK_STR,	   [PT_ARG] = PK_STR,
	[PT_ENV] = PK_STR,	   [PT_CWD] = PK_STR,
	[PT_TIMEOUT_MS] = PK_U32,  [PT_PATH] = PK_STR,
	[PT_DEST] = PK_STR,	   [PT_RECURSIVE] = PK_U32,
	[PT_HIDDEN] = PK_U32,	   [PT_MODE] = PK_U32,
	[PT_SIZE] = PK_U64,	   [PT_MTIME_MS] = PK_U64,
	[PT_FTYPE] = PK_U32,	   [PT_NAME] = PK_STR,
	[PT_PID] = PK_U32,	   [PT_EXIT_CODE] = PK_U32,
	[PT_SIGNAL] = PK_U32,	   [PT_TIMED_OUT] = PK_U32,
	[PT_DURATION_MS] = PK_U64, [PT_CODE] = PK_STR,
	[PT_MESSAGE] = PK_STR,	   [PT_ID] = PK_STR,
	[PT_STATUS] = PK_STR,	   [PT_START_MS] = PK_U64,
	[PT_END_MS] = PK_U64,	   [PT_STREAM] = PK_U32,
	[PT_OFFSET] = PK_U64,	   [PT_FOLLOW] = PK_U32,
	[PT_PORT] = PK_U32,	   [PT_LANGUAGE] = PK_STR,
	[PT_SOURCE] = PK_STR,	   [PT_VERSION] = PK_U32,
	[PT_FEATURE] = PK_STR,	   [PT_OUT_DROPPED] = PK_U64,
	[PT_ERR_DROPPED] = PK_U64, [PT_OUT_TOTAL] = PK_U64,
	[PT_ERR_TOTAL] = PK_U64,   [PT_STDIN] = PK_U32,
	[PT_SIGNAL_NUM] = PK_U32,  [PT_COUNT] = PK_U32,
	[PT_ERRNO] = PK_U32,	   [PT_TARGET] = PK_STR,
};

enum proto_kind proto_tag_kind(uint16_t tag)
{
	if (tag > PT_TAG_LAST)
		return PK_NONE;
	return (enum proto_kind)tag_kinds[tag];
}

static int field_valid(uint16_t tag, const uint8_t *val, uint32_t len)
{
	switch (proto_tag_kind(tag)) {
	case PK_U32:
		return len == 4;
	case PK_U64:
		return len == 8;
	case PK_STR:
		return memchr(val, 0, len) == NULL;
	default:
		return 1;
	}
}

int proto_next_field(const struct proto_frame *f, size_t *pos,
		     struct proto_field *out)
{
	size_t p = *pos;
	uint32_t n;

	if (p >= f->len)
		return 0;
	if (f->len - p < PROTO_TLV_HDR_LEN)
		return -EBADMSG;
	n = get32(f->body + p + 2);
	if (n > f->len - p - PROTO_TLV_HDR_LEN)
		return -EBADMSG;
	out->tag = get16(f->body + p);
	out->len = n;
	out->val = f->body + p + PROTO_TLV_HDR_LEN;
	*pos = p + PROTO_TLV_HDR_LEN + n;
	return 1;
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_frame *f)
{
	struct proto_frame fr;
	struct proto_field fl;
	size_t pos = 0;
	int data, r;

	if (len < PROTO_HDR_LEN)
		return 0;
	fr.len = get32(buf);
	fr.type = get16(buf + 4);
	fr.flags = get16(buf + 6);
	fr.body = buf + PROTO_HDR_LEN;
	data = proto_type_is_data(fr.type);
	if (fr.len > PROTO_MAX_BODY || data < 0)
		return -EBADMSG;
	if (len - PROTO_HDR_LEN < fr.len)
		return 0;
	if (!data) {
		while ((r = proto_next_field(&fr, &pos, &fl)) > 0)
			if (!field_valid(fl.tag, fl.val, fl.len))
				return -EBADMSG;
		if (r < 0)
			return r;
	}
	*f = fr;
	return (int)(PROTO_HDR_LEN + fr.len);
}

int proto_find(const struct proto_frame *f, uint16_t tag,
	       struct proto_field *out)
{
	size_t pos = 0;

	while (proto_next_field(f, &pos, out) > 0)
		if (out->tag == tag)
			return 0;
	return -ENOENT;
}

int proto_count(const struct proto_frame *f, uint16_t tag)
{
	struct proto_field fl;
	size_t pos = 0;
	int n = 0;

	while (proto_next_field(f, &pos, &fl) > 0)
		n += fl.tag == tag;
	return n;
}

int proto_get_u32(const struct proto_frame *f, uint16_t tag, uint32_t *v)
{
	struct proto_field fl;

	if (proto_find(f, tag, &fl) < 0)
		return -ENOENT;
	if (fl.len != 4)
		return -EBADMSG;
	*v = get32(fl.val);
	return 0;
}

int proto_get_u64(const struct proto_frame *f, uint16_t tag, uint64_t *v)
{
	struct proto_field fl;

	if (proto_find(f, tag, &fl) < 0)
		return -ENOENT;
	if (fl.len != 8)
		return -EBADMSG;
	*v = get64(fl.val);
	return 0;
}

uint32_t proto_u32_or(const struct proto_frame *f, uint16_t tag, uint32_t dflt)
{
	uint32_t v;

	return proto_get_u32(f, tag, &v) == 0 ? v : dflt;
}

uint64_t proto_u64_or(const struct proto_frame *f, uint16_t tag, uint64_t dflt)
{
	uint64_t v;

	return proto_get_u64(f, tag, &v) == 0 ? v : dflt;
}

int proto_get_str(const struct proto_frame *f, uint16_t tag, char *buf,
		  size_t cap)
{
	struct proto_field fl;

	if (proto_find(f, tag, &fl) < 0)
		return -ENOENT;
	if (cap == 0 || fl.len > cap - 1)
		return -ENAMETOOLONG;
	memcpy(buf, fl.val, fl.len);
	buf[fl.len] = 0;
	return (int)fl.len;
}

void proto_build_begin(struct proto_builder *b, void *buf, size_t cap,
		       uint16_t type)
{
	b->buf = buf;
	b->cap = cap < PROTO_MAX_FRAME ? cap : PROTO_MAX_FRAME;
	b->len = PROTO_HDR_LEN;
	b->err = 0;
	if (b->cap < PROTO_HDR_LEN) {
		b->err = -E2BIG;
		return;
	}
	put32(b->buf, 0);
	put16(b->buf + 4, type);
	put16(b->buf + 6, 0);
}

static uint8_t *build_room(struct proto_builder *b, size_t n)
{
	uint8_t *p;

	if (b->err || n > b->cap - b->len) {
		b->err = -E2BIG;
		return NULL;
	}
	p = b->buf + b->len;
	b->len += n;
	return p;
}

void proto_put_bytes(struct proto_builder *b, uint16_t tag, const void *v,
		     size_t n)
{
	uint8_t *p;

	if (n > PROTO_MAX_BODY) {
		b->err = -E2BIG;
		return;
	}
	p = build_room(b, PROTO_TLV_HDR_LEN + n);
	if (!p)
		return;
	put16(p, tag);
	put32(p + 2, (uint32_t)n);
	if (n)
		memcpy(p + PROTO_TLV_HDR_LEN, v, n);
}

void proto_put_str(struct proto_builder *b, uint16_t tag, const char *s)
{
	proto_put_bytes(b, tag, s, strlen(s));
}

void proto_put_u32(struct proto_builder *b, uint16_t tag, uint32_t v)
{
	uint8_t tmp[4];

	put32(tmp, v);
	proto_put_bytes(b, tag, tmp, 4);
}

void proto_put_u64(struct proto_builder *b, uint16_t tag, uint64_t v)
{
	uint8_t tmp[8];

	put64(tmp, v);
	proto_put_bytes(b, tag, tmp, 8);
}

void proto_put_raw(struct proto_builder *b, const void *v, size_t n)
{
	uint8_t *p = build_room(b, n);

	if (p && n)
		memcpy(p, v, n);
}

int proto_build_end(struct proto_builder *b)
{
	if (b->err)
		return b->err;
	put32(b->buf, (uint32_t)(b->len - PROTO_HDR_LEN));
	return (int)b->len;
}

int proto_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EPIPE;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int proto_read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	ssize_t r;

	while (n) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int proto_write_frame(int fd, uint16_t type, const void *body, size_t len)
{
	uint8_t hdr[PROTO_HDR_LEN];
	int r;

	if (len > PROTO_MAX_BODY)
		return -E2BIG;
	put32(hdr, (uint32_t)len);
	put16(hdr + 4, type);
	put16(hdr + 6, 0);
	if (len == 0 || len > 4096) {
		r = proto_write_all(fd, hdr, sizeof(hdr));
		return r || !len ? r : proto_write_all(fd, body, len);
	}
	{
		/* Small frames go out in one write, so a frame is one packet. */
		uint8_t tmp[PROTO_HDR_LEN + 4096];

		memcpy(tmp, hdr, sizeof(hdr));
		memcpy(tmp + PROTO_HDR_LEN, body, len);
		return proto_write_all(fd, tmp, PROTO_HDR_LEN + len);
	}
}

int proto_read_frame(int fd, uint8_t *buf, size_t cap, struct proto_frame *f)
{
	ssize_t r;
	uint32_t len;
	int d;

	if (cap < PROTO_HDR_LEN)
		return -EINVAL;
	do
		r = read(fd, buf, 1);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ENODATA;
	d = proto_read_all(fd, buf + 1, PROTO_HDR_LEN - 1);
	if (d)
		return d;
	len = get32(buf);
	if (len > PROTO_MAX_BODY || proto_type_is_data(get16(buf + 4)) < 0)
		return -EBADMSG;
	if (len > cap - PROTO_HDR_LEN)
		return -EMSGSIZE;
	d = proto_read_all(fd, buf + PROTO_HDR_LEN, len);
	if (d)
		return d;
	d = proto_decode(buf, PROTO_HDR_LEN + len, f);
	return d > 0 ? 0 : -EBADMSG;
}

struct errmap {
	int err;
	const char *code;
};

static const struct errmap errmap[] = {
	{ ENOENT, "not_found" },
	{ EEXIST, "exists" },
	{ EISDIR, "is_directory" },
	{ ENOTDIR, "not_directory" },
	{ ENOTEMPTY, "not_empty" },
	{ ENOSPC, "no_space" },
	{ EDQUOT, "no_space" },
	{ EACCES, "permission_denied" },
	{ EPERM, "permission_denied" },
	{ EROFS, "read_only" },
	{ ENAMETOOLONG, "name_too_long" },
	{ ELOOP, "too_many_links" },
	{ EXDEV, "cross_device" },
	{ EBUSY, "busy" },
	{ EINVAL, "invalid_argument" },
	{ EBADMSG, "bad_request" },
	{ E2BIG, "too_large" },
	{ EFBIG, "too_large" },
	{ EMSGSIZE, "too_large" },
	{ ETIMEDOUT, "timeout" },
	{ ECONNREFUSED, "connection_refused" },
	{ ESRCH, "no_such_process" },
	{ ENOMEM, "no_memory" },
	{ EAGAIN, "resource_exhausted" },
	{ EMFILE, "resource_exhausted" },
	{ ENFILE, "resource_exhausted" },
	{ ENOEXEC, "exec_format" },
	{ ENOTSUP, "unsupported" },
	{ ENOSYS, "unsupported" },
	{ EIO, "io_error" },
	{ ECANCELED, "cancelled" },
};

const char *proto_errno_code(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(errmap) / sizeof(errmap[0]); i++)
		if (errmap[i].err == err)
			return errmap[i].code;
	return "internal";
}
