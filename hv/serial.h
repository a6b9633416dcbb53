/*
 * hv/serial.h: an 8250/16550 UART at COM1 (0x3f8, IRQ 4), transmit only:
 * what the guest writes goes to the console log and, optionally, stdout.
 */
#ifndef SBX_HV_SERIAL_H
#define SBX_HV_SERIAL_H

#include <pthread.h>
#include <stdint.h>

#define SERIAL_PORT 0x3f8
#define SERIAL_IRQ 4
/* The console log holds at most SERIAL_LOG_MAX bytes (plus a few marker
 * lines): past it, output is dropped but the last SERIAL_TAIL bytes are kept
 * in memory and appended when the VM stops (serial_log_close). */
#define SERIAL_LOG_MAX (8u << 20)
#define SERIAL_TAIL (64u << 10)

struct vm;

struct serial {
	pthread_mutex_t lock;
	struct vm *vm;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	int thre_irq;    /* THR-empty interrupt pending (IIR) */
	int out_fd;      /* console log, -1 for none */
	uint64_t log_max;  /* cap of the log file, SERIAL_LOG_MAX (tests lower it) */
	uint64_t log_size; /* bytes in the log file */
	uint64_t dropped;  /* bytes past the cap (the last SERIAL_TAIL in tail) */
	uint8_t tail[SERIAL_TAIL];
	int copy_fd;     /* stdout copy, -1 for none */
	uint64_t tx_bytes;
	uint8_t last[64]; /* last bytes sent, for tests */
	unsigned nlast;
};

/* Registers COM1 on vm->pio. out_fd, copy_fd: -1 or fds the serial owns. */
int serial_init(struct vm *vm, struct serial *s, int out_fd, int copy_fd);

/*
 * Opens (appends to, creates) the console log at path, before the jail. A
 * log already past half the cap (earlier boots of the same sandbox) is cut
 * to its last quarter first, with a marker line, so each boot has room.
 * Returns 0 or -errno; s owns the fd.
 */
int serial_log_open(struct serial *s, const char *path);

/* Appends what the cap dropped (a marker and the last SERIAL_TAIL bytes)
 * and closes the log. Main thread, after the vCPUs stopped. */
void serial_log_close(struct serial *s);

/*
 * Handles one register access (8250 register set, off 0..7). Pure except
 * for output and the IRQ; used by the bus and by tests.
 */
void serial_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
	       int is_write);

#endif
