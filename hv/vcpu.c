/*
 * hv/vcpu.c: one thread per vCPU running KVM_RUN and dispatching its exits.
 *
 * Port I/O and MMIO go through vm->pio / vm->mmio. HLT, SHUTDOWN (triple
 * fault), FAIL_ENTRY and INTERNAL_ERROR end the VM with the documented exit
 * status, the crash exits after a report on stderr (vcpu_crash). To stop,
 * the main thread sets run->immediate_exit and sends SIGUSR1 (blocked
 * everywhere but in KVM_RUN's sigmask window, see below), so a vCPU leaves
 * KVM_RUN with EINTR and sees vm->exit_code set.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "hv/supervisor.h"
#include "hv/vmm.h"

#define VCPU_KICK_SIG SIGUSR1

static void vcpu_kick_handler(int sig) { (void)sig; }

/* Best effort: a crash report must not fail the exit path. */
static void vcpu_say(const char *s, size_t n)
{
	if (n && write(STDERR_FILENO, s, n) < 0)
		return;
}

int vcpu_crash(struct vcpu *v, const char *what)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	struct serial *ser = &vm->serial;
	char buf[512];
	unsigned i, n, k;
	int len, fd;

	len = snprintf(buf, sizeof(buf), "sbx-vmm: vcpu %d: %s\n", v->id, what);
	vcpu_say(buf, (size_t)len);
	cpu_x86_dump(v, STDERR_FILENO);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR) {
		n = run->internal.ndata < 16 ? run->internal.ndata : 16;
		len = snprintf(buf, sizeof(buf), "sbx-vmm: vcpu %d: internal data", v->id);
		for (i = 0; i < n && len > 0 && (size_t)len < sizeof(buf); i++)
			len += snprintf(buf + len, sizeof(buf) - (size_t)len, " %llx",
					(unsigned long long)run->internal.data[i]);
		if ((size_t)len > sizeof(buf) - 2)
			len = (int)sizeof(buf) - 2;
		buf[len++] = '\n';
		vcpu_say(buf, (size_t)len);
	}
	/* The last console bytes, escaped: where the guest's own story ends. */
	pthread_mutex_lock(&ser->lock);
	len = snprintf(buf, sizeof(buf), "sbx-vmm: vcpu %d: console tail: \"", v->id);
	n = ser->nlast < sizeof(ser->last) ? ser->nlast : (unsigned)sizeof(ser->last);
	for (i = ser->nlast - n; i != ser->nlast && (size_t)len < sizeof(buf) - 8; i++) {
		uint8_t c = ser->last[i % sizeof(ser->last)];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[len++] = (char)c;
		else
			len += snprintf(buf + len, sizeof(buf) - (size_t)len, "\\x%02x", c);
	}
	pthread_mutex_unlock(&ser->lock);
	len += snprintf(buf + len, sizeof(buf) - (size_t)len, "\"\n");
	vcpu_say(buf, (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf) - 1);

	fd = __atomic_exchange_n(&vm->crash_fd, -1, __ATOMIC_ACQ_REL);
	if (fd >= 0) {
		uint64_t done = 0;

		while (done < vm->mem.size) {
			k = vm->mem.size - done > (1U << 30) ? 1U << 30 : (unsigned)(vm->mem.size - done);
			len = (int)write(fd, vm->mem.host + done, k);
			if (len <= 0)
				break;
			done += (uint64_t)len;
		}
		len = snprintf(buf, sizeof(buf), "sbx-vmm: vcpu %d: %llu bytes of guest RAM in --crash-dump\n",
			       v->id, (unsigned long long)done);
		vcpu_say(buf, (size_t)len);
		close(fd);
	}
	return SBX_VMM_EXIT_CRASH;
}

static int vcpu_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;
	char what[64];

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
		return vcpu_crash(v, "triple fault");
	case KVM_EXIT_SYSTEM_EVENT:
		return run->system_event.type == KVM_SYSTEM_EVENT_RESET ?
			       SBX_VMM_EXIT_REBOOT : SBX_VMM_EXIT_POWEROFF;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return vcpu_crash(v, what);
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error %u", run->internal.suberror);
		return vcpu_crash(v, what);
	case KVM_EXIT_INTR:
		return -1;
	default:
		snprintf(what, sizeof(what), "unhandled exit %u", run->exit_reason);
		return vcpu_crash(v, what);
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
