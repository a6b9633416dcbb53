/*
 * guest/proto.h: the guest protocol codec, shared by sbx-init (musl) and
 * sbxd (glibc). The wire format is specified in guest/PROTOCOL.md; the
 * numbers below are the ones written there and never change meaning.
 *
 * A frame is an 8-byte header {u32 body length, u16 type, u16 flags}, all
 * little endian, then the body. Control frames carry TLV fields
 * {u16 tag, u32 len, value}; data frames carry raw bytes. proto_decode() is
 * the one function that validates untrusted bytes; every accessor below
 * works on a frame it accepted. No function here allocates memory; all are
 * thread-safe (no shared state).
 */
#ifndef SBX_GUEST_PROTO_H
#define SBX_GUEST_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_HDR_LEN 8
#define PROTO_MAX_BODY (256u * 1024u)
#define PROTO_MAX_FRAME (PROTO_HDR_LEN + PROTO_MAX_BODY)
#define PROTO_TLV_HDR_LEN 6
/* Data frames are cut at this size by both sides (a limit, not a rule). */
#define PROTO_CHUNK (64u * 1024u)

/* Frame types. Requests open an operation (the first frame on a connection). */
enum proto_type {
	PROTO_HELLO = 0x0001,
	PROTO_EXEC = 0x0002,
	PROTO_FILE_READ = 0x0003,
	PROTO_FILE_WRITE = 0x0004,
	PROTO_MKDIR = 0x0005,
	PROTO_DELETE = 0x0006,
	PROTO_RENAME = 0x0007,
	PROTO_LIST = 0x0008,
	PROTO_STAT = 0x0009,
	PROTO_PROC_START = 0x000a,
	PROTO_PROC_LIST = 0x000b,
	PROTO_PROC_GET = 0x000c,
	PROTO_PROC_KILL = 0x000d,
	PROTO_PROC_KILL_ALL = 0x000e,
	PROTO_PROC_LOGS = 0x000f,
	PROTO_WAIT_PORT = 0x0010,
	PROTO_PORT_CONNECT = 0x0011,
	PROTO_CTX_CREATE = 0x0012,
	PROTO_CTX_RUN = 0x0013,
	PROTO_CTX_LIST = 0x0014,
	PROTO_CTX_DELETE = 0x0015,
	PROTO_REQ_LAST = PROTO_CTX_DELETE,

	/* Stream frames. */
	PROTO_DATA = 0x0100,      /* raw: file contents, either way */
	PROTO_END = 0x0101,       /* TLV: end of a stream or a list */
	PROTO_STDIN = 0x0102,     /* raw: client to agent */
	PROTO_STDIN_EOF = 0x0103, /* TLV (empty) */
	PROTO_STDOUT = 0x0104,    /* raw */
	PROTO_STDERR = 0x0105,    /* raw */

	/* Replies. */
	PROTO_OK = 0x0200,
	PROTO_ERROR = 0x0201,
	PROTO_STARTED = 0x0202,
	PROTO_EXIT = 0x0203,
	PROTO_ENTRY = 0x0204,
	PROTO_PROC = 0x0205,
	PROTO_CTX = 0x0206,
	PROTO_RESULT = 0x0207,    /* raw: JSON object */
	PROTO_CTX_ERROR = 0x0208, /* raw: JSON {name, message, traceback} */
	PROTO_DONE = 0x0209,
};

/* Field tags and the kind of value each carries (PROTOCOL.md, "Fields"). */
enum proto_tag {
	PT_CMD = 0x01,         /* str: shell command for /bin/sh -c */
	PT_ARG = 0x02,         /* str, repeated: argv instead of CMD */
	PT_ENV = 0x03,         /* str, repeated: NAME=VALUE */
	PT_CWD = 0x04,         /* str */
	PT_TIMEOUT_MS = 0x05,  /* u32, 0 = none */
	PT_PATH = 0x06,        /* str */
	PT_DEST = 0x07,        /* str */
	PT_RECURSIVE = 0x08,   /* u32 bool */
	PT_HIDDEN = 0x09,      /* u32 bool */
	PT_MODE = 0x0a,        /* u32: permission bits */
	PT_SIZE = 0x0b,        /* u64 */
	PT_MTIME_MS = 0x0c,    /* u64: ms since the epoch */
	PT_FTYPE = 0x0d,       /* u32: enum proto_ftype */
	PT_NAME = 0x0e,        /* str */
	PT_PID = 0x0f,         /* u32 */
	PT_EXIT_CODE = 0x10,   /* u32, holds an int32 */
	PT_SIGNAL = 0x11,      /* u32, 0 = none */
	PT_TIMED_OUT = 0x12,   /* u32 bool */
	PT_DURATION_MS = 0x13, /* u64 */
	PT_CODE = 0x14,        /* str: stable error code */
	PT_MESSAGE = 0x15,     /* str */
	PT_ID = 0x16,          /* str: process or context id */
	PT_STATUS = 0x17,      /* str: starting|running|completed|failed|killed */
	PT_START_MS = 0x18,    /* u64 */
	PT_END_MS = 0x19,      /* u64 */
	PT_STREAM = 0x1a,      /* u32: 0 both, 1 stdout, 2 stderr */
	PT_OFFSET = 0x1b,      /* u64 */
	PT_FOLLOW = 0x1c,      /* u32 bool */
	PT_PORT = 0x1d,        /* u32 */
	PT_LANGUAGE = 0x1e,    /* str: python|javascript */
	PT_SOURCE = 0x1f,      /* str: program text for CTX_RUN */
	PT_VERSION = 0x20,     /* u32 */
	PT_FEATURE = 0x21,     /* str, repeated */
	PT_OUT_DROPPED = 0x22, /* u64 */
	PT_ERR_DROPPED = 0x23, /* u64 */
	PT_OUT_TOTAL = 0x24,   /* u64 */
	PT_ERR_TOTAL = 0x25,   /* u64 */
	PT_STDIN = 0x26,       /* u32 bool: client will send STDIN frames */
	PT_SIGNAL_NUM = 0x27,  /* u32: signal to send (PROC_KILL) */
	PT_COUNT = 0x28,       /* u32 */
	PT_ERRNO = 0x29,       /* u32: the guest errno behind an ERROR */
	PT_TARGET = 0x2a,      /* str: symlink target (ENTRY) */
	PT_TAG_LAST = PT_TARGET,
};

enum proto_ftype {
	PROTO_FT_FILE = 1,
	PROTO_FT_DIR = 2,
	PROTO_FT_SYMLINK = 3,
	PROTO_FT_OTHER = 4,
};

enum proto_kind { PK_NONE, PK_U32, PK_U64, PK_STR, PK_BYTES };

/* A decoded frame. body points into the caller's buffer. */
struct proto_frame {
	uint16_t type;
	uint16_t flags;
	uint32_t len;
	const uint8_t *body;
};

/* One TLV field of a control frame; val points into the frame body. */
struct proto_field {
	uint16_t tag;
	uint32_t len;
	const uint8_t *val;
};

/*
 * Validates the bytes at buf[0..len) as one frame. Returns the frame's total
 * length (> 0) and fills *f when a whole valid frame is there; 0 when more
 * bytes are needed; -EBADMSG for an unknown type, a body over
 * PROTO_MAX_BODY, a malformed TLV list, a fixed-size field of the wrong
 * length, or a string field holding a NUL byte. Never reads past buf + len.
 */
int proto_decode(const uint8_t *buf, size_t len, struct proto_frame *f);

/* 1 when frames of this type carry raw bytes, 0 for TLV, -1 if unknown. */
int proto_type_is_data(uint16_t type);
/* The kind of value a tag carries (PK_NONE for unknown tags, skipped). */
enum proto_kind proto_tag_kind(uint16_t tag);
/* A short name for a type, for logs ("EXEC"); "?" when unknown. */
const char *proto_type_name(uint16_t type);

/*
 * Walks the fields of a control frame: *pos starts at 0. Returns 1 and fills
 * *out for the next field, 0 at the end, -EBADMSG on a malformed list.
 */
int proto_next_field(const struct proto_frame *f, size_t *pos,
		     struct proto_field *out);
/* First field with this tag: 0 and *out, or -ENOENT. */
int proto_find(const struct proto_frame *f, uint16_t tag,
	       struct proto_field *out);
/* Integer fields: 0, -ENOENT when absent, -EBADMSG on a wrong length. */
int proto_get_u32(const struct proto_frame *f, uint16_t tag, uint32_t *v);
int proto_get_u64(const struct proto_frame *f, uint16_t tag, uint64_t *v);
/* u32 with a default when absent or malformed. */
uint32_t proto_u32_or(const struct proto_frame *f, uint16_t tag, uint32_t dflt);
uint64_t proto_u64_or(const struct proto_frame *f, uint16_t tag, uint64_t dflt);
/*
 * Copies a string field into buf as a C string. Returns its length, -ENOENT
 * when absent, -ENAMETOOLONG when it does not fit in cap - 1 bytes.
 */
int proto_get_str(const struct proto_frame *f, uint16_t tag, char *buf,
		  size_t cap);
/* Number of fields with this tag (for repeated ARG, ENV, FEATURE). */
int proto_count(const struct proto_frame *f, uint16_t tag);

/*
 * Building a frame into a caller-owned buffer. Errors are sticky: after a
 * field does not fit, proto_build_end() returns -E2BIG and nothing is sent.
 */
struct proto_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

void proto_build_begin(struct proto_builder *b, void *buf, size_t cap,
		       uint16_t type);
void proto_put_bytes(struct proto_builder *b, uint16_t tag, const void *v,
		     size_t n);
void proto_put_str(struct proto_builder *b, uint16_t tag, const char *s);
void proto_put_u32(struct proto_builder *b, uint16_t tag, uint32_t v);
void proto_put_u64(struct proto_builder *b, uint16_t tag, uint64_t v);
/* Appends raw bytes to a data frame's body. */
void proto_put_raw(struct proto_builder *b, const void *v, size_t n);
/* Writes the header's length. Returns the frame length or -E2BIG. */
int proto_build_end(struct proto_builder *b);

/*
 * Blocking I/O on a stream fd (vsock, Unix socket, pipe). EINTR is retried.
 *
 * proto_read_frame reads one frame into buf (cap >= PROTO_HDR_LEN; frames
 * longer than cap are refused with -EMSGSIZE) and decodes it into *f, whose
 * body points into buf. Returns 0, -ENODATA on end of stream at a frame
 * boundary, -EPIPE on end of stream inside a frame, -EBADMSG on an invalid
 * frame, or another -errno.
 */
int proto_read_frame(int fd, uint8_t *buf, size_t cap, struct proto_frame *f);
/* Writes one whole frame with this type and raw body. 0 or -errno. */
int proto_write_frame(int fd, uint16_t type, const void *body, size_t len);
/* Writes n bytes (a built frame). 0 or -errno (-EPIPE when the peer left). */
int proto_write_all(int fd, const void *buf, size_t n);
/* Reads exactly n bytes. 0, -EPIPE on early end of stream, or -errno. */
int proto_read_all(int fd, void *buf, size_t n);

/* Error codes: the stable string for an errno ("not_found" for ENOENT). */
const char *proto_errno_code(int err);

#endif
