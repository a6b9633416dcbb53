/*
 * hv/evloop.h: the device-side event loop (epoll on the main thread).
 * Every fd registered carries a struct ev_handler (usually embedded in the
 * device's own struct) whose fn runs on the loop thread.
 */
#ifndef SBX_HV_EVLOOP_H
#define SBX_HV_EVLOOP_H

#include <stdint.h>

struct vm;

struct ev_handler {
	void (*fn)(struct vm *vm, struct ev_handler *h, uint32_t events);
};

/* Creates the epoll fd, the stop eventfd and the signalfd. 0/-errno. */
int evloop_init(struct vm *vm);
/* Adds/changes/removes fd with events (EPOLLIN...). 0/-errno. Loop thread or setup. */
int evloop_add(struct vm *vm, int fd, uint32_t events, struct ev_handler *h);
int evloop_mod(struct vm *vm, int fd, uint32_t events, struct ev_handler *h);
void evloop_del(struct vm *vm, int fd);
/* Waits up to timeout_ms and handles one batch. Returns events handled or -errno. */
int evloop_poll(struct vm *vm, int timeout_ms);
/* Runs until vm->exit_code is set; returns it. Main thread. */
int evloop_run(struct vm *vm);

#endif
