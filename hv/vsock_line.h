/*
 * hv/vsock_line.h: the text lines of Firecracker's vsock-over-Unix-socket
 * handshake, parsed by pure functions (fuzzed by tests/fuzz/connect_fuzz.c).
 *
 *   host → VMM:  "CONNECT <port>\n"     (port: decimal, 0..4294967295)
 *   VMM → host:  "OK <hostport>\n"
 */
#ifndef SBX_HV_VSOCK_LINE_H
#define SBX_HV_VSOCK_LINE_H

#include <stddef.h>
#include <stdint.h>

/* Longest line either side may send, newline included. */
#define VSOCK_LINE_MAX 32

/*
 * Parses "<word> <decimal u32>\n" at the start of buf[0..len).
 * Returns the bytes consumed (newline included) with *port set, 0 if the line
 * is not complete yet (and len < VSOCK_LINE_MAX), or -EINVAL if it can never
 * become valid. Exactly one space; no sign, no leading zeros but "0",
 * no trailing '\r'. Pure; any thread.
 */
int vsock_line_parse(const char *word, const char *buf, size_t len,
		     uint32_t *port);

/* CONNECT line, as vsock_line_parse("CONNECT", ...). */
int vsock_line_connect(const char *buf, size_t len, uint32_t *port);

/* OK line, as vsock_line_parse("OK", ...). */
int vsock_line_ok(const char *buf, size_t len, uint32_t *port);

#endif
