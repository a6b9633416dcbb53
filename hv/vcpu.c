/*
 * hv/vcpu.c: one thread per vCPU running KVM_RUN and dispatching its exits.
 *
 * Port I/O and MMIO go through vm->pio / vm->mmio. HLT, SHUTDOWN (triple
 * fault), FAIL_ENTRY and INTERNAL_ERROR end the VM with the documented exit
 * status. To stop, the main thread sets run->immediate_exit and sends
 * SIGUSR1 (blocked everywhere but in KVM_RUN's sigmask window, see below),
 * so a vCPU leaves KVM_RUN with EINTR and sees vm->exit_code set.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "hv/supervisor.h"
#include "hv/vmm.h"

#define VCPU_KICK_SIG SIGUSR1

static void vcpu_kick_handler(int sig) { (void)sig; }

static int vcpu_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *data = (uint8_t *)run + run->io.data_offset;
		uint32_t i;

		__atomic_fetch_add(&vm->exits_io, 1, __ATOMIC_RELAXED);
		if ((uint64_t)run->io.data_offset + (uint64_t)run->io.size * run->io.count >
		    (uint64_t)vm->run_size)
			return SBX_VMM_EXIT_ERROR;
		for (i = 0; i < run->io.count; i++, data += run->io.size)
			bus_dispatch(&vm->pio, run->io.port, data, run->io.size,
				     run->io.direction == KVM_EXIT_IO_OUT);
		return -1;
	}
	case KVM_EXIT_MMIO:
		__atomic_fetch_add(&vm->exits_mmio, 1, __ATOMIC_RELAXED);
		if (run->mmio.len > 8)
			return -1;
		bus_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
			     run->mmio.len, run->mmio.is_write);
		return -1;
	case KVM_EXIT_HLT:
		return SBX_VMM_EXIT_POWEROFF;
	case KVM_EXIT_SHUTDOWN:
		fprintf(stderr, "sbx-vmm: vcpu %d: triple fault\n", v->id);
		return SBX_VMM_EXIT_CRASH;
	case KVM_EXIT_SYSTEM_EVENT:
		return run->system_event.type == KVM_SYSTEM_EVENT_RESET ?
			       SBX_VMM_EXIT_REBOOT : SBX_VMM_EXIT_POWEROFF;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, "sbx-vmm: vcpu %d: entry failed, reason 0x%llx\n", v->id,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return SBX_VMM_EXIT_CRASH;
	case KVM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, "sbx-vmm: vcpu %d: KVM internal error %u\n", v->id,
			run->internal.suberror);
		return SBX_VMM_EXIT_CRASH;
	case KVM_EXIT_INTR:
		return -1;
	default:
		fprintf(stderr, "sbx-vmm: vcpu %d: unhandled exit %u\n", v->id,
			run->exit_reason);
		return SBX_VMM_EXIT_CRASH;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%d", v->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIG);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (vm->cfg.seccomp && seccomp_install_vcpu()) {
		fprintf(stderr, "sbx-vmm: vcpu %d: seccomp failed\n", v->id);
		vm_request_exit(vm, SBX_VMM_EXIT_ERROR);
		return NULL;
	}
	while (__atomic_load_n(&vm->exit_code, __ATOMIC_ACQUIRE) < 0) {
		int code;

		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				continue;
			}
			fprintf(stderr, "sbx-vmm: vcpu %d: KVM_RUN: %s\n", v->id,
				strerror(errno));
			vm_request_exit(vm, SBX_VMM_EXIT_ERROR);
			break;
		}
		code = vcpu_exit(v);
		if (code >= 0)
			vm_request_exit(vm, code);
	}
	return NULL;
}

int vcpu_start_all(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	int i, r;

	sigaction(VCPU_KICK_SIG, &sa, NULL);
	for (i = 0; i < vm->ncpus; i++) {
		r = pthread_create(&vm->vcpu[i].thread, NULL, vcpu_thread, &vm->vcpu[i]);
		if (r)
			return -r;
		vm->vcpu[i].started = 1;
	}
	return 0;
}

void vcpu_stop_all(struct vm *vm)
{
	int i, j;

	/* Kick until each has left KVM_RUN: a signal can land just before it enters. */
	for (i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpu[i];

		if (!v->started)
			continue;
		for (j = 0; j < 1000; j++) {
			struct timespec ts = { 0, 1000 * 1000 };

			if (v->run)
				__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
			if (pthread_kill(v->thread, VCPU_KICK_SIG))
				break;
			if (pthread_timedjoin_np(v->thread, NULL, &(struct timespec){0, 0}) == 0) {
				v->started = 0;
				break;
			}
			nanosleep(&ts, NULL);
		}
		if (v->started) {
			pthread_join(v->thread, NULL);
			v->started = 0;
		}
	}
}
