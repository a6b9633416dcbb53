/*
 * tests/fuzz/usernet_fuzz.c: arbitrary guest frames into usernet_input(),
 * and arbitrary bytes into the DNS answer parser.
 *
 * The first byte picks the target: odd -> the DNS parser gets the rest;
 * even -> the rest is split into frames (2-byte big-endian length, then
 * the frame) fed in order to one usernet, as a guest would send them. The
 * policy lets nothing out but the alias, which points at a loopback port
 * that nobody listens on, so the fuzzer never reaches past this machine;
 * the resolver is 127.0.0.1:9 (discard).
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/usernet/usernet_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_output(void *opaque, const void *frame, size_t len)
{
	static volatile uint8_t sink;

	if (len)
		sink =
		    ((const uint8_t *)frame)[len - 1]; /* touch every frame */
	return (len & 7) == 7 ? -ENOBUFS : 0;
}

static void fuzz_record(void *arg, const char *name,
			const struct policy_addr *a, uint32_t ttl)
{
	(*(size_t *)arg) += strlen(name) + a->family + (ttl & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct usernet_config c;
	struct usernet *un;
	struct sockaddr_in *r = (struct sockaddr_in *)&c.resolvers[0];
	size_t off = 1;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		size_t n = 0;

		un_dns_parse_response(data + 1, size - 1, fuzz_record, &n);
		return 0;
	}
	usernet_config_default(&c);
	c.output = fuzz_output;
	c.n_resolvers = 1;
	r->sin_family = AF_INET;
	r->sin_port = htons(9);
	r->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.max_flows = 4;
	policy_rule(&c.policy, "internet off");
	policy_rule(&c.policy, "alias 10.0.2.100 127.0.0.1 1");
	if (usernet_create(&c, &un) < 0)
		abort();
	while (off + 2 <= size) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (len > size - off)
			len = size - off;
		usernet_input(un, data + off, len);
		off += len;
		usernet_poll(un);
	}
	usernet_destroy(un);
	return 0;
}
