/*
 * hv/serial.c: 8250 UART emulation (PC16550D data sheet register set).
 *
 * Transmit completes at once: THR writes go straight to the console fds, so
 * LSR always reports THRE|TEMT and, with IER.ETBEI set, the THR-empty
 * interrupt is raised again after every byte (Linux's 8250 driver sends the
 * tty's output from that interrupt). There is no receive path: the console
 * is a log; the guest is driven over vsock.
 */
#include <errno.h>
#include <string.h>
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

static void serial_out(struct serial *s, uint8_t c)
{
	s->tx_bytes++;
	s->last[s->nlast++ % sizeof(s->last)] = c;
	if (s->out_fd >= 0 && write(s->out_fd, &c, 1) < 0)
		s->out_fd = -1;
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
	return bus_add(&vm->pio, SERIAL_PORT, 8, serial_io, s);
}
