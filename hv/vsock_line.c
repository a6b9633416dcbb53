/*
 * hv/vsock_line.c: parser for the CONNECT / OK handshake lines.
 *
 * The input is hostile (any local process that can reach the socket), so the
 * parser is strict: a fixed word, one space, a canonical decimal number that
 * fits in 32 bits, a newline, and nothing longer than VSOCK_LINE_MAX.
 */
#include <errno.h>
#include <string.h>

#include "hv/vsock_line.h"

int vsock_line_parse(const char *word, const char *buf, size_t len,
		     uint32_t *port)
{
	size_t wl = strlen(word), i;
	uint64_t v = 0;
	size_t ndig = 0;

	for (i = 0; i < len && i < VSOCK_LINE_MAX; i++) {
		char c = buf[i];

		if (i < wl) {
			if (c != word[i])
				return -EINVAL;
		} else if (i == wl) {
			if (c != ' ')
				return -EINVAL;
		} else if (c == '\n') {
			if (ndig == 0)
				return -EINVAL;
			*port = (uint32_t)v;
			return (int)(i + 1);
		} else if (c >= '0' && c <= '9') {
			if (ndig == 1 && v == 0)
				return -EINVAL; /* leading zero */
			v = v * 10 + (uint64_t)(c - '0');
			if (v > UINT32_MAX)
				return -EINVAL;
			ndig++;
		} else {
			return -EINVAL;
		}
	}
	if (i >= VSOCK_LINE_MAX)
		return -EINVAL;
	return 0;
}

int vsock_line_connect(const char *buf, size_t len, uint32_t *port)
{
	return vsock_line_parse("CONNECT", buf, len, port);
}

int vsock_line_ok(const char *buf, size_t len, uint32_t *port)
{
	return vsock_line_parse("OK", buf, len, port);
}
