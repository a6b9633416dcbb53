/*
 * hv/serial.c: 8250 UART emulation (PC16550D data sheet register set).
 *
 * Transmit completes at once: THR writes go straight to the console fds, so
 * LSR always reports THRE|TEMT and, with IER.ETBEI set, the THR-empty
 * interrupt is raised again after every byte (Linux's 8250 driver sends the
 * tty's output from that interrupt). There is no receive path: the console
 * is a log; the guest is driven over vsock.
 *
 * The log has a cap (SERIAL_LOG_MAX): a guest that prints without end must
 * not fill the host's disk. Past the cap one marker line is written and the
 * rest dropped, but the last SERIAL_TAIL bytes are kept in memory and
 * appended when the VM stops, since a post-mortem wants the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/serial.h"
#include "hv/vmm.h"

#define UART_RBR_THR 0 /* DLL when LCR.DLAB */
#define UART_IER 1     /* DLM when LCR.DLAB */
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define LCR_DLAB 0x80
#define IER_ETBEI 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define MCR_LOOP 0x10

/* Best effort: a full disk must not stop the guest. */
static int serial_put(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len ? 0 : -1;
}

/* One byte to the console log, within its cap. s->lock held. */
static void serial_log(struct serial *s, uint8_t c)
{
	static const char full[] = "\n[sbx-vmm: console log full: output dropped from here; "
				   "its last bytes follow when the VM stops]\n";

	if (s->out_fd < 0)
		return;
	if (s->log_size < s->log_max) {
		if (write(s->out_fd, &c, 1) < 0)
			s->out_fd = -1;
		else
			s->log_size++;
		return;
	}
	if (!s->dropped && serial_put(s->out_fd, full, sizeof(full) - 1) == 0)
		s->log_size += sizeof(full) - 1;
	s->tail[s->dropped++ % SERIAL_TAIL] = c;
}

static void serial_out(struct serial *s, uint8_t c)
{
	s->tx_bytes++;
	s->last[s->nlast++ % sizeof(s->last)] = c;
	serial_log(s, c);
	if (s->copy_fd >= 0 && write(s->copy_fd, &c, 1) < 0)
		s->copy_fd = -1;
}

static void serial_kick(struct serial *s)
{
	if ((s->ier & IER_ETBEI) && s->thre_irq && s->vm && s->vm->vm_fd >= 0)
		kvm_irq_pulse(s->vm, SERIAL_IRQ);
}

void serial_io(void *dev, uint64_t off, uint8_t *data, uint32_t len,
	       int is_write)
{
	struct serial *s = dev;
	uint8_t v = data[0];
	int kick = 0;

	if (len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (is_write) {
		switch (off) {
		case UART_RBR_THR:
			if (s->lcr & LCR_DLAB) {
				s->dll = v;
			} else {
				if (!(s->mcr & MCR_LOOP))
					serial_out(s, v);
				s->thre_irq = 1;
				kick = 1;
			}
			break;
		case UART_IER:
			if (s->lcr & LCR_DLAB) {
				s->dlm = v;
			} else {
				kick = !(s->ier & IER_ETBEI) && (v & IER_ETBEI);
				s->ier = v & 0x0f;
				if (kick)
					s->thre_irq = 1;
			}
			break;
		case UART_LCR: s->lcr = v; break;
		case UART_MCR: s->mcr = v & 0x1f; break;
		case UART_SCR: s->scr = v; break;
		default: break; /* FCR: no FIFO state to keep */
		}
		if (kick)
			serial_kick(s);
	} else {
		switch (off) {
		case UART_RBR_THR: v = (s->lcr & LCR_DLAB) ? s->dll : 0; break;
		case UART_IER: v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier; break;
		case UART_IIR_FCR:
			if ((s->ier & IER_ETBEI) && s->thre_irq) {
				v = IIR_THRI | 0xc0;
				s->thre_irq = 0; /* reading IIR clears THRI */
			} else {
				v = IIR_NONE | 0xc0;
			}
			break;
		case UART_LCR: v = s->lcr; break;
		case UART_MCR: v = s->mcr; break;
		case UART_LSR: v = LSR_THRE | LSR_TEMT; break;
		case UART_MSR: v = 0xb0; break; /* DCD, DSR, CTS */
		case UART_SCR: v = s->scr; break;
		default: v = 0xff;
		}
		data[0] = v;
	}
	pthread_mutex_unlock(&s->lock);
}

int serial_init(struct vm *vm, struct serial *s, int out_fd, int copy_fd)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->vm = vm;
	s->out_fd = out_fd;
	s->copy_fd = copy_fd;
	s->log_max = SERIAL_LOG_MAX;
	return bus_add(&vm->pio, SERIAL_PORT, 8, serial_io, s);
}

/* Cuts the log at fd (size bytes) to its last keep bytes, after a marker. */
static int serial_log_trim(int fd, uint64_t size, uint64_t keep, uint64_t *out)
{
	static const char cut[] = "[sbx-vmm: console log of earlier boots cut to its last part]\n";
	uint8_t *buf = malloc(keep);
	uint64_t got = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (got < keep) {
		ssize_t n = pread(fd, buf + got, keep - got, (off_t)(size - keep + got));

		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (uint64_t)n;
	}
	if (ftruncate(fd, 0) < 0 || serial_put(fd, cut, sizeof(cut) - 1) ||
	    serial_put(fd, buf, keep)) {
		r = -errno ? -errno : -EIO;
		goto out;
	}
	*out = sizeof(cut) - 1 + keep;
out:
	free(buf);
	return r;
}

int serial_log_open(struct serial *s, const char *path)
{
	struct stat st;
	int fd, r;

	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	s->log_size = (uint64_t)st.st_size;
	if (S_ISREG(st.st_mode) && s->log_size > s->log_max / 2) {
		r = serial_log_trim(fd, s->log_size, s->log_max / 4, &s->log_size);
		if (r) {
			close(fd);
			return r;
		}
	}
	if (s->out_fd >= 0)
		close(s->out_fd);
	s->out_fd = fd;
	return 0;
}

void serial_log_close(struct serial *s)
{
	char line[128];
	uint64_t n, start;
	int len;

	if (s->out_fd < 0)
		return;
	if (s->dropped) {
		n = s->dropped < SERIAL_TAIL ? s->dropped : SERIAL_TAIL;
		len = snprintf(line, sizeof(line),
			       "\n[sbx-vmm: %llu console bytes dropped; the last %llu follow]\n",
			       (unsigned long long)s->dropped, (unsigned long long)n);
		start = (s->dropped - n) % SERIAL_TAIL;
		if (len > 0 && serial_put(s->out_fd, line, (size_t)len) == 0 &&
		    serial_put(s->out_fd, s->tail + start, SERIAL_TAIL - start < n ?
					  SERIAL_TAIL - start : n) == 0 &&
		    SERIAL_TAIL - start < n)
			serial_put(s->out_fd, s->tail, n - (SERIAL_TAIL - start));
	}
	close(s->out_fd);
	s->out_fd = -1;
}
