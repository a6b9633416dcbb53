/*
 * hv/vmm.h: the one context struct of sbx-vmm and the functions that build
 * and run a VM. No globals: every function gets the struct vm it works on.
 *
 * Threads: the main thread sets everything up, then runs the event loop
 * (evloop.c: ioeventfds of virtio queues, vsock sockets, signals); one thread
 * per vCPU runs KVM_RUN and dispatches port-I/O and MMIO exits through the
 * buses (bus.c) to device handlers, each device under its own lock.
 */
#ifndef SBX_HV_VMM_H
#define SBX_HV_VMM_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <linux/kvm.h>

#include "hv/bus.h"
#include "hv/evloop.h"
#include "hv/memory.h"
#include "hv/serial.h"
#include "hv/virtio_mmio.h"
#include "hv/virtio_blk.h"
#include "hv/virtio_net.h"
#include "hv/virtio_vsock.h"
#include "net/usernet/usernet.h"

#define VM_MAX_CPUS 32
#define VM_MAX_VDEV 8
/* virtio-mmio windows in the 32-bit hole; one 4 KiB window per device. */
#define VM_MMIO_BASE 0xd0000000ULL
#define VM_MMIO_STRIDE 0x1000ULL
#define VM_VIRTIO_IRQ_BASE 5
/* --net: usernet's addresses (net/usernet/usernet.h) for the guest kernel */
#define VM_NET_CMDLINE "ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3"
#define VM_MAX_NET_RULES 128
#define VM_GUEST_CID 3
#define VM_AGENT_PORT 1024 /* probed for readiness (docs/CONVENTIONS.md) */

/* What to boot; strings borrowed from argv. */
struct vmm_config {
	const char *kernel, *initrd, *rootfs, *disk, *vsock, *console, *cmdline;
	const char *crash_dump; /* --crash-dump: guest RAM goes here on a crash */
	int cpus;
	uint64_t mem_mib;
	int ready_fd;       /* -1 or a fd that gets "ready <usec>\n" */
	int console_stdout; /* also copy the console to stdout */
	int jail;           /* jail before the first KVM_RUN */
	unsigned jail_uid, jail_gid;
	const char *jail_dir;
	int seccomp;        /* install the seccomp allowlist */
	int net;            /* virtio-net behind usernet */
	const char *net_rules[VM_MAX_NET_RULES]; /* policy_rule() text, in order */
	int n_net_rules;
};

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int started;
};


struct vm {
	struct vmm_config cfg;
	int kvm_fd, vm_fd;
	int run_size;
	struct vm_mem mem;
	int ncpus;
	struct vcpu vcpu[VM_MAX_CPUS];
	uint64_t entry; /* 64-bit entry point */

	struct bus pio, mmio;
	struct serial serial;
	struct virtio_mmio *vdev[VM_MAX_VDEV];
	int nvdev;
	struct vblk blk[2];
	struct vsock vsock;
	struct vnet net;         /* with cfg.net */
	struct usernet *usernet; /* with cfg.net; its fd is in the event loop */
	struct ev_handler usernet_h;

	int epfd;                /* event loop */
	int stopfd;              /* eventfd: someone decided the exit code */
	struct ev_handler stop_h, sig_h;
	void (*evloop_post)(struct vm *vm); /* after each epoll batch */
	int sigfd;
	int exit_code;           /* -1 while running; set once (atomic) */
	struct timespec t0;      /* VMM start (CLOCK_MONOTONIC) */
	int64_t ready_us;        /* -1 until the guest said ready */
	int crash_fd;            /* --crash-dump file, -1; taken by the first crash */
	uint64_t exits_io, exits_mmio; /* counters, for tests */
};

/* kvm.c: opens /dev/kvm, creates the VM, irqchip, PIT, maps RAM. 0/-errno. */
int kvm_vm_init(struct vm *vm, uint64_t mem_bytes);
/* kvm.c: closes everything kvm_vm_init and vcpu_create opened. */
void kvm_vm_free(struct vm *vm);
/* kvm.c: registers an eventfd as the interrupt line gsi (KVM_IRQFD). */
int kvm_irqfd(struct vm *vm, int fd, unsigned gsi);
/* kvm.c: makes guest writes of 4 bytes = datamatch at addr signal fd. */
int kvm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t datamatch, int fd);
/* kvm.c: pulses ISA interrupt line irq (KVM_IRQ_LINE 1 then 0). Any thread. */
void kvm_irq_pulse(struct vm *vm, unsigned irq);

/* cpu_x86.c: writes GDT and identity page tables (2 MiB pages, 4 GiB). */
int cpu_x86_tables(const struct vm_mem *m);
/* cpu_x86.c: creates vCPU id and sets CPUID, MSRs, LAPIC, sregs, regs. */
int cpu_x86_vcpu_init(struct vm *vm, struct vcpu *v);
/*
 * cpu_x86.c: formats a crash report of a vCPU's state into buf (lines
 * starting with pfx; any of r, s, e may be NULL). Pure. Returns the length
 * written (at most size - 1).
 */
int cpu_x86_format_state(char *buf, size_t size, const char *pfx,
			 const struct kvm_regs *r, const struct kvm_sregs *s,
			 const struct kvm_vcpu_events *e);
/* cpu_x86.c: reads v's registers and events from KVM and writes the report
 * to fd. The vCPU's own thread (its seccomp list allows the three GETs). */
void cpu_x86_dump(struct vcpu *v, int fd);

/* vcpu.c: starts every vCPU thread. 0/-errno. */
int vcpu_start_all(struct vm *vm);
/* vcpu.c: kicks every vCPU out of KVM_RUN and joins the threads. */
void vcpu_stop_all(struct vm *vm);
/*
 * vcpu.c: the guest (or KVM) stopped v for good (v->run->exit_reason says
 * how): reports what on stderr with the vCPU's registers (cpu_x86_dump),
 * KVM's internal-error data and the last console bytes, and writes guest
 * RAM to --crash-dump (the first crash only; it takes vm->crash_fd). On the
 * vCPU thread: only write(2), close(2) and the KVM_GET_* ioctls its seccomp
 * list allows. Returns SBX_VMM_EXIT_CRASH.
 */
int vcpu_crash(struct vcpu *v, const char *what);


/* Sets the exit code if none is set yet and wakes the event loop. Any thread. */
void vm_request_exit(struct vm *vm, int code);
/* Microseconds since vm->t0. */
int64_t vm_uptime_us(const struct vm *vm);

/* i8042.c, boot_timer.c: register their ports on vm->pio. */
int i8042_init(struct vm *vm);
int boot_timer_init(struct vm *vm);
/* boot_timer.c: the guest is ready (first call wins): log, tell --ready-fd. Any thread. */
void boot_timer_ready(struct vm *vm, const char *how);

/* vmm.c: builds the whole machine from vm->cfg (everything before jailing). */
int vmm_build(struct vm *vm);
/* vmm.c: runs the vCPUs and the event loop; returns the exit code. */
int vmm_run(struct vm *vm);
/* vmm.c: frees everything. */
void vmm_free(struct vm *vm);

/* jail.c: drops into the jail described by vm->cfg. 0/-errno. */
int jail_enter(struct vm *vm);
/* seccomp.c: installs the process allowlist (inherited by later threads). */
int seccomp_install(void);
/* seccomp.c: stacks the vCPU allowlist on the calling thread only. */
int seccomp_install_vcpu(void);

#endif
