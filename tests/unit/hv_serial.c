/*
 * tests/unit/hv_serial.c: the 8250 register file without KVM: divisor latch
 * (DLAB), scratch, LSR always ready, the THR-empty interrupt identification
 * that Linux's driver relies on, output to the log fd, loopback mode, and
 * odd access widths.
 */
#include <stdlib.h>
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

int main(void)
{
	check_skip_reason = "";
	TEST(test_registers);
	return check_exit();
}
