/*
 * net/agent.h: asynchronous guest-protocol calls from the event loop.
 *
 * One struct agent_call is one connection to a sandbox's agent, i.e. one
 * operation (guest/PROTOCOL.md). Frames to send are queued in a->out and
 * written as the socket takes them; frames received are decoded with
 * guest/proto.c and handed to on_frame one by one. While a->paused (the
 * client cannot take more), nothing is read, so the agent's blocking writes
 * hold the producer back: that is the flow control. After PORT_CONNECT's OK
 * the owner sets a->raw and gets bytes through on_raw.
 *
 * Ownership: the handler that opened the call owns it and ends it with
 * agent_call_close(), which may run inside a callback; memory is freed after
 * the loop's batch. on_close runs at most once, when the agent closed or
 * failed first; the call is then closed too.
 */
#ifndef SBX_NET_AGENT_H
#define SBX_NET_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "guest/proto.h"
#include "net/buf.h"
#include "net/loop.h"

struct sbxd;
struct sandbox;

struct agent_call {
	struct loop_watch w;
	struct sbxd *d;
	struct sandbox *s;
	struct agent_call *next_dead;
	struct agent_call *next_wait; /* in s->waiters while the sandbox boots */
	int waiting;                  /* no fd yet: frames wait in out */
	struct buf in, out;
	int paused;
	int raw;
	int closed;
	int shut_wr_pending; /* shutdown(SHUT_WR) once out is drained */
	void (*on_frame)(struct agent_call *a, const struct proto_frame *f);
	void (*on_raw)(struct agent_call *a, const char *data, size_t len);
	void (*on_close)(struct agent_call *a, int err); /* 0 = EOF */
	void (*on_drain)(struct agent_call *a);          /* out below low water */
	void *arg;
};

/*
 * Starts sandbox s if needed and opens a call. Returns 0 and *out, or
 * -errno (-ECHILD/-ETIMEDOUT: could not boot; -ECONNREFUSED...). While a
 * VM boots the call exists without a connection: queued frames are sent
 * once it is up, or on_close reports the failed boot.
 */
int agent_call_open(struct sbxd *d, struct sandbox *s, void *arg,
		    struct agent_call **out);
/* A call of s with no connection yet (waiting), for sandbox.c to dial
 * itself (the guest's sync before a stop). The caller counts it in s->busy
 * (agent_call_close() releases it). NULL when out of memory. */
struct agent_call *agent_call_new(struct sbxd *d, struct sandbox *s, void *arg);
/* Queues a built frame. 0 or -errno. */
int agent_call_send(struct agent_call *a, const void *frame, size_t len);
/* Queues a data frame of type (DATA, STDIN) with raw bytes, cut in chunks. */
int agent_call_send_data(struct agent_call *a, uint16_t type, const void *data,
			 size_t len);
/* Queues raw bytes (after a->raw). */
int agent_call_send_raw(struct agent_call *a, const void *data, size_t len);
/* Bytes queued towards the agent. */
size_t agent_call_queued(const struct agent_call *a);
/* Stops/resumes reading from the agent. */
void agent_call_pause(struct agent_call *a, int paused);
/* Half-closes towards the agent once queued bytes are written. */
void agent_call_shutdown_write(struct agent_call *a);
/* The sandbox booted: the call gets its connection (sandbox.c). */
void agent_call_attach(struct agent_call *a, int fd);
/* The sandbox could not boot: on_close(err), then closed (sandbox.c). */
void agent_call_fail(struct agent_call *a, int err);
/* Ends the call (no more callbacks). Safe twice and on NULL. */
void agent_call_close(struct agent_call *a);
/* Frees calls closed during the last batch (from the loop tick). */
void agent_tick(struct sbxd *d);

/* Maps an agent ERROR code to an HTTP status. */
int agent_error_status(const char *code);

#endif
