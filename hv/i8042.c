/*
 * hv/i8042.c: the part of the PS/2 controller a guest uses to reboot.
 * Writing command 0xfe (pulse reset line) to port 0x64 ends the VMM with
 * SBX_VMM_EXIT_REBOOT (the kernel runs with reboot=k, and panic=-1 reboots).
 * Status reads say "no data, input buffer empty"; port 0x60 reads 0.
 */
#include <stdint.h>
#include <string.h>

#include "hv/supervisor.h"
#include "hv/vmm.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define I8042_CMD_RESET 0xfe

/* Port 0x60, data: nothing to read, writes ignored. */
static void i8042_data(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		       int is_write)
{
	if (!is_write)
		memset(data, 0, len);
}

/* Port 0x64: status on read (0: no data, ready), command on write. */
static void i8042_cmd(void *dev, uint64_t off, uint8_t *data, uint32_t len,
		      int is_write)
{
	struct vm *vm = dev;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == I8042_CMD_RESET)
		vm_request_exit(vm, SBX_VMM_EXIT_REBOOT);
}

int i8042_init(struct vm *vm)
{
	int r = bus_add(&vm->pio, I8042_DATA, 1, i8042_data, vm);

	return r ? r : bus_add(&vm->pio, I8042_CMD, 1, i8042_cmd, vm);
}
