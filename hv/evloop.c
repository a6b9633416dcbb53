/*
 * hv/evloop.c: the event loop on the main thread. epoll over the virtio
 * queue doorbells (ioeventfds), vsock sockets, a signalfd (SIGTERM, SIGINT,
 * SIGHUP end the VM with SBX_VMM_EXIT_SIGNAL) and a stop eventfd written by
 * vm_request_exit(). Handlers run one at a time on this thread.
 */
#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "hv/supervisor.h"
#include "hv/vmm.h"

void vm_request_exit(struct vm *vm, int code)
{
	int expect = -1;
	uint64_t one = 1;

	if (__atomic_compare_exchange_n(&vm->exit_code, &expect, code, 0,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) &&
	    vm->stopfd >= 0 && write(vm->stopfd, &one, sizeof(one)) < 0)
		return;
}

int64_t vm_uptime_us(const struct vm *vm)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - vm->t0.tv_sec) * 1000000 +
	       (now.tv_nsec - vm->t0.tv_nsec) / 1000;
}

static void evloop_stop(struct vm *vm, struct ev_handler *h, uint32_t events)
{
	uint64_t n;

	if (read(vm->stopfd, &n, sizeof(n)) < 0)
		return;
}

static void evloop_signal(struct vm *vm, struct ev_handler *h, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(vm->sigfd, &si, sizeof(si)) == sizeof(si))
		vm_request_exit(vm, SBX_VMM_EXIT_SIGNAL);
}

int evloop_init(struct vm *vm)
{
	sigset_t set;
	int r;

	vm->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (vm->epfd < 0)
		return -errno;
	vm->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stopfd < 0)
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR1);
	sigdelset(&set, SIGPIPE);
	vm->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->sigfd < 0)
		return -errno;
	vm->stop_h.fn = evloop_stop;
	vm->sig_h.fn = evloop_signal;
	r = evloop_add(vm, vm->stopfd, EPOLLIN, &vm->stop_h);
	return r ? r : evloop_add(vm, vm->sigfd, EPOLLIN, &vm->sig_h);
}

int evloop_add(struct vm *vm, int fd, uint32_t events, struct ev_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(vm->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int evloop_mod(struct vm *vm, int fd, uint32_t events, struct ev_handler *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(vm->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void evloop_del(struct vm *vm, int fd)
{
	epoll_ctl(vm->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int evloop_poll(struct vm *vm, int timeout_ms)
{
	struct epoll_event ev[32];
	int n, i;

	n = epoll_wait(vm->epfd, ev, 32, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct ev_handler *h = ev[i].data.ptr;

		h->fn(vm, h, ev[i].events);
	}
	if (vm->evloop_post) /* frees what handlers retired this round */
		vm->evloop_post(vm);
	return n;
}

int evloop_run(struct vm *vm)
{
	while (__atomic_load_n(&vm->exit_code, __ATOMIC_ACQUIRE) < 0) {
		if (evloop_poll(vm, -1) < 0) {
			vm_request_exit(vm, SBX_VMM_EXIT_ERROR);
			break;
		}
	}
	return vm->exit_code;
}
