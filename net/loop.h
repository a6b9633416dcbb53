/*
 * net/loop.h: the one epoll event loop of sbxd.
 *
 * Every file descriptor sbxd waits on (the listening socket, client
 * connections, agent sockets, child pidfds, signalfd) is a struct loop_watch
 * embedded in its owner; the loop calls watch->cb with the epoll events.
 * After every batch of events the loop calls its tick hook, with now_ms set
 * every 250 ms (0 otherwise): owners free objects closed during the batch
 * there, and enforce deadlines when now_ms is set. Single-threaded.
 */
#ifndef SBX_NET_LOOP_H
#define SBX_NET_LOOP_H

#include <stdint.h>

struct loop_watch;
typedef void (*loop_cb)(struct loop_watch *w, uint32_t events);

struct loop_watch {
	int fd;
	uint32_t events; /* currently registered EPOLL* mask */
	loop_cb cb;
};

/* A batch of callbacks longer than this is a stall (see stalled_ms). */
#define LOOP_STALL_MS 50

struct loop {
	int epfd;
	int stop;
	/* ms spent in batches of callbacks longer than LOOP_STALL_MS since the
	 * last deadline tick: while they ran, no one else was served. Owners
	 * of deadlines add it to them in the tick, so a client is never cut
	 * off for time sbxd itself was stuck; a past time (a last write, which
	 * may lie inside the stall) moves by it at most up to now. Reset
	 * after each such tick. */
	uint64_t stalled_ms;
	void (*tick)(void *arg, uint64_t now_ms);
	void *tick_arg;
};

/* Creates the epoll instance. Returns 0 or -errno. */
int loop_init(struct loop *l);
void loop_fini(struct loop *l);
/* Registers w->fd for events. Returns 0 or -errno. */
int loop_add(struct loop *l, struct loop_watch *w, uint32_t events);
/* Changes the events of a registered watch (no-op when unchanged). */
int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events);
/* Unregisters (does not close the fd). Safe when not registered. */
void loop_del(struct loop *l, struct loop_watch *w);
/* Runs until l->stop is set. Returns 0 or -errno. */
int loop_run(struct loop *l);
/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);

#endif
