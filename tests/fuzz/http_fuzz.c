/*
 * tests/fuzz/http_fuzz.c: libFuzzer target for sbxd's HTTP request parser
 * (net/http.c over llhttp). The input is cut in two pieces at a point taken
 * from its first byte, to exercise split reads; pipelined messages are
 * resumed as the connection would.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/http.h"

static int fz_head(void *arg, struct http_req *req)
{
	/* Touch every header like the router does. */
	size_t n = strlen(req->target);
	for (int i = 0; i < req->nheaders; i++)
		n += strlen(req->headers[i].name) + strlen(req->headers[i].value);
	(void)http_req_header(req, "host");
	return n == 7 ? HTTP_HEAD_RAW : 0;
}

static int fz_body(void *arg, const char *d, size_t n)
{
	return 0;
}

static void fz_done(void *arg)
{
}

static const struct http_sink fz_sink = { fz_head, fz_body, fz_done };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_parser p;

	if (size < 1)
		return 0;
	size_t cut = data[0] % (size);
	data++;
	size--;
	if (cut > size)
		cut = size;
	http_parser_init(&p, &fz_sink, NULL);
	const char *s = (const char *)data;
	size_t off = 0;
	for (int round = 0; round < 64 && off < size; round++) {
		size_t end = off < cut ? cut : size;
		long n = http_parser_feed(&p, s + off, end - off);
		if (n < 0 || p.upgraded)
			break;
		off += (size_t)n;
		if (p.paused)
			http_parser_resume(&p);
		else if (n == 0)
			break;
	}
	return 0;
}
