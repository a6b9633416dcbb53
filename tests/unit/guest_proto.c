/*
 * tests/unit/guest_proto.c: the guest protocol codec: round trips through the
 * builder and decoder, and the decoder refusing truncated, oversized and
 * malformed input. Also blocking frame I/O over a socketpair.
 */
#include "guest/proto.h"
#include "tests/lib/check.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static uint8_t buf[PROTO_MAX_FRAME];

static int build_exec(void)
{
	struct proto_builder b;

	proto_build_begin(&b, buf, sizeof(buf), PROTO_EXEC);
	proto_put_str(&b, PT_CMD, "echo hi");
	proto_put_str(&b, PT_ENV, "A=1");
	proto_put_str(&b, PT_ENV, "B=2");
	proto_put_u32(&b, PT_TIMEOUT_MS, 1500);
	proto_put_u64(&b, PT_SIZE, 0x123456789abcdefull);
	return proto_build_end(&b);
}

static void test_round_trip(void)
{
	struct proto_frame f;
	uint32_t t = 0;
	uint64_t s = 0;
	char cmd[32];
	int n = build_exec();

	CHECK(n > 0);
	CHECK_EQ(proto_decode(buf, (size_t)n, &f), n);
	CHECK_EQ(f.type, PROTO_EXEC);
	CHECK_EQ(proto_get_str(&f, PT_CMD, cmd, sizeof(cmd)), 7);
	CHECK(strcmp(cmd, "echo hi") == 0);
	CHECK_EQ(proto_count(&f, PT_ENV), 2);
	CHECK_EQ(proto_get_u32(&f, PT_TIMEOUT_MS, &t), 0);
	CHECK_EQ(t, 1500);
	CHECK_EQ(proto_get_u64(&f, PT_SIZE, &s), 0);
	CHECK(s == 0x123456789abcdefull);
	CHECK_EQ(proto_get_str(&f, PT_CWD, cmd, sizeof(cmd)), -ENOENT);
	CHECK_EQ(proto_u32_or(&f, PT_RECURSIVE, 7), 7);
	CHECK_EQ(proto_get_str(&f, PT_CMD, cmd, 4), -ENAMETOOLONG);
}

static void test_truncated(void)
{
	struct proto_frame f;
	int n = build_exec(), i;

	for (i = 0; i < n; i++)
		CHECK_EQ(proto_decode(buf, (size_t)i, &f), 0);
}

static void test_data_frame(void)
{
	struct proto_builder b;
	struct proto_frame f;
	uint8_t bytes[3] = { 0xff, 0x00, 0xfe };
	int n;

	proto_build_begin(&b, buf, sizeof(buf), PROTO_STDOUT);
	proto_put_raw(&b, bytes, sizeof(bytes));
	n = proto_build_end(&b);
	CHECK_EQ(n, PROTO_HDR_LEN + 3);
	CHECK_EQ(proto_decode(buf, (size_t)n, &f), n);
	CHECK_EQ(f.len, 3);
	CHECK(memcmp(f.body, bytes, 3) == 0);
}

static void set_header(uint32_t len, uint16_t type)
{
	buf[0] = (uint8_t)len;
	buf[1] = (uint8_t)(len >> 8);
	buf[2] = (uint8_t)(len >> 16);
	buf[3] = (uint8_t)(len >> 24);
	buf[4] = (uint8_t)type;
	buf[5] = (uint8_t)(type >> 8);
	buf[6] = buf[7] = 0;
}

static void test_rejects(void)
{
	struct proto_frame f;

	set_header(PROTO_MAX_BODY + 1, PROTO_DATA);
	CHECK_EQ(proto_decode(buf, 8, &f), -EBADMSG);
	set_header(0, 0x7777);
	CHECK_EQ(proto_decode(buf, 8, &f), -EBADMSG);
	/* TLV header cut short: 4 bytes of body. */
	set_header(4, PROTO_EXEC);
	memset(buf + 8, 0, 4);
	CHECK_EQ(proto_decode(buf, 12, &f), -EBADMSG);
	/* TLV length past the body. */
	set_header(6, PROTO_EXEC);
	memcpy(buf + 8, "\x01\x00\x05\x00\x00\x00", 6);
	CHECK_EQ(proto_decode(buf, 14, &f), -EBADMSG);
	/* u32 field of the wrong size. */
	set_header(9, PROTO_EXEC);
	memcpy(buf + 8, "\x05\x00\x03\x00\x00\x00xyz", 9);
	CHECK_EQ(proto_decode(buf, 17, &f), -EBADMSG);
	/* string holding a NUL. */
	set_header(9, PROTO_EXEC);
	memcpy(buf + 8, "\x01\x00\x03\x00\x00\x00" "a\0b", 9);
	CHECK_EQ(proto_decode(buf, 17, &f), -EBADMSG);
	/* unknown tag is skipped. */
	set_header(9, PROTO_EXEC);
	memcpy(buf + 8, "\xff\x7f\x03\x00\x00\x00" "a\0b", 9);
	CHECK_EQ(proto_decode(buf, 17, &f), 17);
	/* huge TLV length must not wrap. */
	set_header(6, PROTO_EXEC);
	memcpy(buf + 8, "\x01\x00\xff\xff\xff\xff", 6);
	CHECK_EQ(proto_decode(buf, 14, &f), -EBADMSG);
}

static void test_garbage(void)
{
	struct proto_frame f;
	unsigned seed = 1;
	int i, j, r;

	for (i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand_r(&seed) % 64);

		for (j = 0; j < (int)n; j++)
			buf[j] = (uint8_t)rand_r(&seed);
		if (n >= 6) {
			buf[2] = buf[3] = 0;
			buf[4] = (uint8_t)(rand_r(&seed) % 0x16);
			buf[5] = 0;
		}
		r = proto_decode(buf, n, &f);
		CHECK(r <= (int)n);
	}
}

static void test_builder_overflow(void)
{
	struct proto_builder b;
	uint8_t small[16];

	proto_build_begin(&b, small, sizeof(small), PROTO_EXEC);
	proto_put_str(&b, PT_CMD, "this is too long for 16 bytes");
	CHECK_EQ(proto_build_end(&b), -E2BIG);
}

static void test_fd_io(void)
{
	struct proto_frame f;
	uint8_t rbuf[1024];
	int sv[2], n = build_exec();

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		SKIP("no socketpair");
		return;
	}
	CHECK_EQ(proto_write_all(sv[0], buf, (size_t)n), 0);
	CHECK_EQ(proto_write_frame(sv[0], PROTO_STDERR, "abc", 3), 0);
	CHECK_EQ(proto_read_frame(sv[1], rbuf, sizeof(rbuf), &f), 0);
	CHECK_EQ(f.type, PROTO_EXEC);
	CHECK_EQ(proto_read_frame(sv[1], rbuf, sizeof(rbuf), &f), 0);
	CHECK_EQ(f.type, PROTO_STDERR);
	CHECK_EQ(f.len, 3);
	close(sv[0]);
	CHECK_EQ(proto_read_frame(sv[1], rbuf, sizeof(rbuf), &f), -ENODATA);
	close(sv[1]);
}

static void test_errno_codes(void)
{
	CHECK(strcmp(proto_errno_code(ENOENT), "not_found") == 0);
	CHECK(strcmp(proto_errno_code(-EISDIR), "is_directory") == 0);
	CHECK(strcmp(proto_errno_code(ENOSPC), "no_space") == 0);
	CHECK(strcmp(proto_errno_code(EACCES), "permission_denied") == 0);
	CHECK(strcmp(proto_errno_code(12345), "internal") == 0);
}

int main(void)
{
	TEST(test_round_trip);
	TEST(test_truncated);
	TEST(test_data_frame);
	TEST(test_rejects);
	TEST(test_garbage);
	TEST(test_builder_overflow);
	TEST(test_fd_io);
	TEST(test_errno_codes);
	return check_exit();
}
