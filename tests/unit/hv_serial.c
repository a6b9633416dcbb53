/*
 * tests/unit/hv_serial.c: the 8250 register file without KVM: divisor latch
 * (DLAB), scratch, LSR always ready, the THR-empty interrupt identification
 * that Linux's driver relies on, output to the log fd, loopback mode, and
 * odd access widths; the console log's cap (a flooding guest cannot fill
 * the disk, and the end of its output is still there) and the trim of an
 * old log at start.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "hv/vmm.h"
#include "tests/lib/check.h"

static struct vm vm;

static uint8_t rd(int off)
{
	uint8_t v = 0;

	serial_io(&vm.serial, (uint64_t)off, &v, 1, 0);
	return v;
}

static void wr(int off, uint8_t v)
{
	serial_io(&vm.serial, (uint64_t)off, &v, 1, 1);
}

static void test_registers(void)
{
	int p[2];
	char out[8] = { 0 };

	CHECK(pipe(p) == 0);
	vm.vm_fd = -1;
	CHECK_EQ(serial_init(&vm, &vm.serial, p[1], -1), 0);
	CHECK_EQ(rd(5) & 0x60, 0x60);  /* LSR: THRE | TEMT */
	CHECK_EQ(rd(2) & 0x0f, 0x01);  /* IIR: nothing pending */
	wr(3, 0x80);                   /* DLAB */
	wr(0, 0x0c);
	wr(1, 0x00);
	CHECK_EQ(rd(0), 0x0c);         /* DLL */
	wr(3, 0x03);                   /* 8N1, DLAB off */
	wr(7, 0x5a);
	CHECK_EQ(rd(7), 0x5a);         /* scratch */
	wr(0, 'h');
	wr(0, 'i');
	CHECK_EQ(read(p[0], out, sizeof(out)), 2);
	CHECK(!memcmp(out, "hi", 2));
	CHECK_EQ(vm.serial.tx_bytes, 2);
	/* enabling ETBEI with an empty THR raises THRI once, read clears it */
	wr(1, 0x02);
	CHECK_EQ(rd(1), 0x02);
	CHECK_EQ(rd(2) & 0x0f, 0x02);
	CHECK_EQ(rd(2) & 0x0f, 0x01);
	wr(0, '!');                    /* each byte sent re-arms THRI */
	CHECK_EQ(rd(2) & 0x0f, 0x02);
	wr(4, 0x10);                   /* loopback: nothing goes out */
	wr(0, 'x');
	CHECK_EQ(vm.serial.tx_bytes, 3);
	{
		uint8_t w[4] = { 1, 2, 3, 4 };

		serial_io(&vm.serial, 0, w, 4, 1); /* 32-bit write: ignored */
		serial_io(&vm.serial, 0, w, 4, 0);
		CHECK_EQ(w[0], 0xff);
		CHECK_EQ(vm.serial.tx_bytes, 3);
	}
	close(p[0]);
	close(p[1]);
}

static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	*len = 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = calloc(1, (size_t)st.st_size + 1);
	if (buf && read(fd, buf, (size_t)st.st_size) == st.st_size)
		*len = (size_t)st.st_size;
	close(fd);
	return buf;
}

/* A guest printing without end: the log stops growing at the cap (plus
 * marker lines and, at stop, the kept tail), and ends with the last bytes
 * the guest printed. */
static void test_log_cap(void)
{
	char path[] = "/tmp/hv_serial.XXXXXX";
	size_t len, i, total = 300000;
	char *buf;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	vm.vm_fd = -1;
	memset(&vm.pio, 0, sizeof(vm.pio));
	CHECK_EQ(serial_init(&vm, &vm.serial, -1, -1), 0);
	vm.serial.log_max = 4096;
	CHECK_EQ(serial_log_open(&vm.serial, path), 0);
	wr(3, 0x03);
	for (i = 0; i < total; i++)
		wr(0, (uint8_t)('a' + i % 26));
	CHECK_EQ(vm.serial.tx_bytes, total);
	CHECK_EQ(vm.serial.dropped, total - 4096);
	buf = slurp(path, &len);
	CHECK(buf != NULL);
	CHECK(len > 4096 && len < 4096 + 200); /* the cap and one marker line */
	CHECK(buf && strstr(buf, "console log full") != NULL);
	free(buf);
	serial_log_close(&vm.serial);
	CHECK_EQ(vm.serial.out_fd, -1);
	buf = slurp(path, &len);
	CHECK(buf != NULL);
	CHECK(len > 4096 + SERIAL_TAIL && len < 4096 + SERIAL_TAIL + 300);
	CHECK(buf && strstr(buf, "console bytes dropped") != NULL);
	/* the file ends with exactly the guest's last bytes */
	for (i = 0; buf && i < SERIAL_TAIL; i++) {
		if (buf[len - 1 - i] != (char)('a' + (total - 1 - i) % 26)) {
			CHECK(!"tail differs");
			break;
		}
	}
	free(buf);
	unlink(path);
}

/* A log left large by earlier boots is cut to its last quarter at open. */
static void test_log_trim_at_open(void)
{
	char path[] = "/tmp/hv_serial.XXXXXX";
	char old[10000];
	size_t len, i;
	char *buf;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	for (i = 0; i < sizeof(old); i++)
		old[i] = (char)('0' + i % 10);
	CHECK_EQ(write(fd, old, sizeof(old)), (ssize_t)sizeof(old));
	close(fd);
	memset(&vm.pio, 0, sizeof(vm.pio));
	CHECK_EQ(serial_init(&vm, &vm.serial, -1, -1), 0);
	vm.serial.log_max = 8000; /* 10000 > 8000 / 2: cut to the last 2000 */
	CHECK_EQ(serial_log_open(&vm.serial, path), 0);
	wr(3, 0x03);
	wr(0, '!');
	serial_log_close(&vm.serial);
	buf = slurp(path, &len);
	CHECK(buf != NULL);
	CHECK(len > 2001 && len < 2001 + 100);
	CHECK(buf && !strncmp(buf, "[sbx-vmm: console log of earlier boots cut", 42));
	CHECK(buf && !memcmp(buf + len - 2001, old + sizeof(old) - 2000, 2000));
	CHECK(buf && buf[len - 1] == '!');
	free(buf);
	/* a small log is left alone */
	memset(&vm.pio, 0, sizeof(vm.pio));
	CHECK_EQ(serial_init(&vm, &vm.serial, -1, -1), 0);
	CHECK_EQ(serial_log_open(&vm.serial, path), 0);
	CHECK_EQ(vm.serial.log_size, len);
	serial_log_close(&vm.serial);
	unlink(path);
}

int main(void)
{
	check_skip_reason = "";
	TEST(test_registers);
	TEST(test_log_cap);
	TEST(test_log_trim_at_open);
	return check_exit();
}
