/*
 * hv/boot_timer.c: I/O port 0x440, the guest's way to say how far it got.
 *
 * SBX_BOOT_PORT_READY (1): sbx-init is ready. The VMM logs the time since it
 * started on stderr and the console log ("sbx-vmm: guest ready after N us")
 * and writes "ready N\n" to the --ready-fd for the supervisor (once).
 * A guest kernel without ioperm(2) cannot reach the port: then the vsock
 * device's probe of the agent port (vsock_mux.c) calls boot_timer_ready().
 * SBX_BOOT_PORT_POWEROFF (2): the guest synced its disks; exit with
 * SBX_VMM_EXIT_POWEROFF. Reads return the ready flag.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hv/supervisor.h"
#include "hv/vmm.h"

/* Best effort: a full or closed log must not stop the guest. */
static void bt_write(int fd, const char *s, int n)
{
	if (fd >= 0 && n > 0 && write(fd, s, (size_t)n) < 0)
		return;
}

void boot_timer_ready(struct vm *vm, const char *how)
{
	char line[96];
	int64_t us = vm_uptime_us(vm), expect = -1;
	int n;

	if (!__atomic_compare_exchange_n(&vm->ready_us, &expect, us, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return; /* said already */
	n = snprintf(line, sizeof(line), "sbx-vmm: guest ready after %lld us (%s)\n",
		     (long long)us, how);
	bt_write(STDERR_FILENO, line, n);
	bt_write(vm->serial.out_fd, line, n);
	n = snprintf(line, sizeof(line), "ready %lld\n", (long long)us);
	bt_write(vm->cfg.ready_fd, line, n);
}

static void boot_timer_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
			  int is_write)
{
	struct vm *vm = dev;

	if (!is_write) {
		memset(data, 0, len);
		data[0] = __atomic_load_n(&vm->ready_us, __ATOMIC_RELAXED) >= 0;
		return;
	}
	if (data[0] == SBX_BOOT_PORT_POWEROFF)
		vm_request_exit(vm, SBX_VMM_EXIT_POWEROFF);
	else if (data[0] == SBX_BOOT_PORT_READY)
		boot_timer_ready(vm, "port 0x440");
}

int boot_timer_init(struct vm *vm)
{
	vm->ready_us = -1;
	return bus_add(&vm->pio, SBX_BOOT_PORT, 1, boot_timer_io, vm);
}
