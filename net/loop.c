/*
 * net/loop.c: the epoll event loop (see loop.h).
 *
 * Watches are level-triggered: an owner that cannot make progress (output
 * buffer full, peer slow) removes EPOLLIN from its mask rather than leaving
 * bytes unread, which is how back-pressure travels through sbxd.
 */
#include "net/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int loop_init(struct loop *l)
{
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->stop = 0;
	l->stalled_ms = 0;
	return l->epfd < 0 ? -errno : 0;
}

void loop_fini(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

int loop_add(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
		return -errno;
	w->events = events | 0x80000000u; /* marks "registered" */
	return 0;
}

int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (!(w->events & 0x80000000u))
		return loop_add(l, w, events);
	if ((w->events & ~0x80000000u) == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events | 0x80000000u;
	return 0;
}

void loop_del(struct loop *l, struct loop_watch *w)
{
	if (w->fd >= 0 && (w->events & 0x80000000u))
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->events = 0;
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];
	uint64_t last_tick = loop_now_ms();

	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, 64, 250);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		uint64_t t0 = loop_now_ms();
		for (int i = 0; i < n; i++) {
			struct loop_watch *w = evs[i].data.ptr;
			w->cb(w, evs[i].events);
		}
		/* After every batch: owners free what was closed in it (no
		 * watch may be freed while later events of the batch can still
		 * point at it) and, every 250 ms, check their deadlines. */
		uint64_t now = loop_now_ms();
		if (now - t0 > LOOP_STALL_MS)
			l->stalled_ms += now - t0;
		int deadlines = now - last_tick >= 250;
		if (l->tick)
			l->tick(l->tick_arg, deadlines ? now : 0);
		if (deadlines) {
			last_tick = now;
			l->stalled_ms = 0;
		}
	}
	return 0;
}
