/*
 * tests/sdk/unit/cli_parse.c: the pure parts of the sbx CLI: the SSE parser
 * (events cut at every byte, CRLF, comments, multi-line data, limits) and
 * the config file parser and fingerprint normaliser.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/cli/cli.h"
#include "tests/lib/check.h"

struct seen {
	char names[8][64];
	char data[8][256];
	int n;
};

static int on_event(void *arg, const char *name, const char *data, size_t len)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->names[s->n], 64, "%s", name);
		snprintf(s->data[s->n], 256, "%.*s", (int)len, data);
	}
	s->n++;
	return 0;
}

static const char stream[] =
	": comment\r\n"
	"event: stdout\r\ndata: {\"data\":\"a\"}\r\n\r\n"
	"event: stderr\ndata: x\ndata: y\n\n"
	"data: plain\r\r"
	"event: empty\n\n"
	"event: complete\ndata:{\"exitCode\":3}\n\n";

static void check_stream(struct seen *s)
{
	CHECK_EQ(s->n, 4);
	CHECK(!strcmp(s->names[0], "stdout"));
	CHECK(!strcmp(s->data[0], "{\"data\":\"a\"}"));
	CHECK(!strcmp(s->names[1], "stderr"));
	CHECK(!strcmp(s->data[1], "x\ny"));
	CHECK(!strcmp(s->names[2], "message"));
	CHECK(!strcmp(s->data[2], "plain"));
	CHECK(!strcmp(s->names[3], "complete"));
	CHECK(!strcmp(s->data[3], "{\"exitCode\":3}"));
}

static void sse_whole(void)
{
	struct sse_parser p;
	struct seen s = { 0 };

	sse_parser_init(&p, on_event, &s);
	CHECK_EQ(sse_parser_feed(&p, stream, sizeof(stream) - 1), 0);
	check_stream(&s);
	sse_parser_free(&p);
}

static void sse_byte_by_byte(void)
{
	struct sse_parser p;
	struct seen s = { 0 };

	sse_parser_init(&p, on_event, &s);
	for (size_t i = 0; i < sizeof(stream) - 1; i++)
		CHECK_EQ(sse_parser_feed(&p, stream + i, 1), 0);
	check_stream(&s);
	sse_parser_free(&p);
}

static void sse_too_big(void)
{
	struct sse_parser p;
	struct seen s = { 0 };
	size_t n = SSE_MAX_EVENT + 16;
	char *big = malloc(n);

	if (!big) {
		SKIP("no memory");
		return;
	}
	memset(big, 'x', n);
	memcpy(big, "data: ", 6);
	sse_parser_init(&p, on_event, &s);
	CHECK_EQ(sse_parser_feed(&p, big, n), -E2BIG);
	sse_parser_free(&p);
	free(big);
}

static void config_parse(void)
{
	struct cli_config cfg = { 0 };
	int line = 0;

	CHECK_EQ(cli_config_parse("# c\nurl = https://h:1\n  token=sbx_1 \n\nfoo = bar\n"
				  "fingerprint = ab\nca=/x.pem",
				  &cfg, &line), 0);
	CHECK(!strcmp(cfg.url, "https://h:1"));
	CHECK(!strcmp(cfg.token, "sbx_1"));
	CHECK(!strcmp(cfg.fingerprint, "ab"));
	CHECK(!strcmp(cfg.ca, "/x.pem"));
	CHECK_EQ(cli_config_parse("url = a\nnot a pair\n", &cfg, &line), -EINVAL);
	CHECK_EQ(line, 2);
}

static void fingerprint_norm(void)
{
	char out[65];
	const char *colons = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
			     "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

	CHECK_EQ(cli_fingerprint_norm(colons, out), 0);
	CHECK(!strcmp(out, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"));
	CHECK_EQ(cli_fingerprint_norm("sha256:abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", out), 0);
	CHECK_EQ(cli_fingerprint_norm("abcd", out), -EINVAL);
	CHECK_EQ(cli_fingerprint_norm("zz", out), -EINVAL);
}

int main(void)
{
	TEST(sse_whole);
	TEST(sse_byte_by_byte);
	TEST(sse_too_big);
	TEST(config_parse);
	TEST(fingerprint_norm);
	return check_exit();
}
