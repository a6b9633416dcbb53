/*
 * tests/fuzz/connect_fuzz.c: the CONNECT / OK line parser on any bytes.
 * Checks: never reads past len, consumed count within the line limit, and
 * an accepted line really is "CONNECT <port>\n".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vsock_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	char again[VSOCK_LINE_MAX + 1];
	uint32_t port = 0;
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	r = vsock_line_connect(buf, size, &port);
	if (r > 0) {
		if ((size_t)r > size || r > VSOCK_LINE_MAX)
			abort();
		snprintf(again, sizeof(again), "CONNECT %u\n", port);
		if (strlen(again) != (size_t)r || memcmp(again, buf, (size_t)r))
			abort();
	}
	vsock_line_ok(buf, size, &port);
	free(buf);
	return 0;
}
