/*
 * tests/unit/net_http.c: the HTTP request parser (net/http.c): framing,
 * limits, smuggling cases, pipelining and the raw hand-over.
 */
#include <string.h>

#include "net/http.h"
#include "tests/lib/check.h"

struct rec {
	int heads, dones, raw;
	size_t body;
	char target[256];
	char method[16];
};

static int rec_head(void *arg, struct http_req *req)
{
	struct rec *r = arg;
	r->heads++;
	snprintf(r->target, sizeof(r->target), "%s", req->target);
	snprintf(r->method, sizeof(r->method), "%s", req->method);
	return r->raw ? HTTP_HEAD_RAW : 0;
}

static int rec_body(void *arg, const char *d, size_t n)
{
	((struct rec *)arg)->body += n;
	return 0;
}

static void rec_done(void *arg)
{
	((struct rec *)arg)->dones++;
}

static const struct http_sink sink = { rec_head, rec_body, rec_done };
static struct http_parser p;

static long feed(struct rec *r, const char *s)
{
	http_parser_init(&p, &sink, r);
	return http_parser_feed(&p, s, strlen(s));
}

static void test_simple(void)
{
	struct rec r = { 0 };
	const char *s = "GET /v1/x?y=1 HTTP/1.1\r\nHost: a\r\nX-A:  b  \r\n\r\n";

	CHECK_EQ(feed(&r, s), (long)strlen(s));
	CHECK_EQ(r.heads, 1);
	CHECK_EQ(r.dones, 1);
	CHECK(!strcmp(r.target, "/v1/x?y=1"));
	CHECK(!strcmp(r.method, "GET"));
	CHECK(!strcmp(http_req_header(&p.req, "x-a"), "b"));
	CHECK(!strcmp(http_req_header(&p.req, "HOST"), "a"));
	CHECK(p.req.keep_alive);
}

static void test_bodies(void)
{
	struct rec r = { 0 };

	CHECK(feed(&r, "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello") > 0);
	CHECK_EQ(r.body, 5);
	CHECK_EQ(r.dones, 1);
	memset(&r, 0, sizeof(r));
	CHECK(feed(&r, "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") > 0);
	CHECK_EQ(r.body, 5);
	CHECK_EQ(r.dones, 1);
}

static void test_smuggling(void)
{
	struct rec r = { 0 };

	CHECK_EQ(feed(&r, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), -1);
	CHECK_EQ(p.status, 400);
	CHECK_EQ(feed(&r, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
			  "Content-Length: 4\r\n\r\nabcd"), -1);
	CHECK_EQ(p.status, 400);
	CHECK_EQ(feed(&r, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
			  "Content-Length: 3\r\n\r\nabc"), -1);
	CHECK_EQ(feed(&r, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), -1);
	CHECK_EQ(feed(&r, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), -1);
	http_parser_init(&p, &sink, &r);
	CHECK_EQ(http_parser_feed(&p, "GET /a\0b HTTP/1.1\r\n\r\n", 22), -1);
	CHECK_EQ(p.status, 400);
}

static void test_limits(void)
{
	struct rec r = { 0 };
	static char big[40000];

	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', 9000);
	strcpy(big + 9005, " HTTP/1.1\r\n\r\n");
	CHECK_EQ(feed(&r, big), -1);
	CHECK_EQ(p.status, 414);
	strcpy(big, "GET / HTTP/1.1\r\nX: ");
	memset(big + 19, 'b', 20000);
	strcpy(big + 20019, "\r\n\r\n");
	CHECK_EQ(feed(&r, big), -1);
	CHECK_EQ(p.status, 431);
	char *q = big;
	q += sprintf(q, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 150; i++)
		q += sprintf(q, "H%d: v\r\n", i);
	strcpy(q, "\r\n");
	CHECK_EQ(feed(&r, big), -1);
	CHECK_EQ(p.status, 431);
}

static void test_pipeline(void)
{
	struct rec r = { 0 };
	const char *two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t first = strlen("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");

	http_parser_init(&p, &sink, &r);
	long n = http_parser_feed(&p, two, strlen(two));
	CHECK_EQ(n, (long)first);
	CHECK_EQ(r.dones, 1);
	CHECK_EQ(http_parser_feed(&p, two + n, strlen(two) - (size_t)n), 0); /* paused */
	http_parser_resume(&p);
	CHECK_EQ(http_parser_feed(&p, two + n, strlen(two) - (size_t)n), (long)(strlen(two) - (size_t)n));
	CHECK_EQ(r.dones, 2);
	CHECK(!strcmp(r.target, "/2"));
}

static void test_raw(void)
{
	struct rec r = { .raw = 1 };
	const char *s = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
			"Connection: Upgrade\r\n\r\nRAWBYTES";

	http_parser_init(&p, &sink, &r);
	long n = http_parser_feed(&p, s, strlen(s));
	CHECK_EQ(n, (long)(strlen(s) - 8));
	CHECK(p.upgraded);
}

static void test_split(void)
{
	struct rec r = { 0 };
	const char *s = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody";

	http_parser_init(&p, &sink, &r);
	for (size_t i = 0; s[i]; i++)
		CHECK_EQ(http_parser_feed(&p, s + i, 1), 1);
	CHECK_EQ(r.dones, 1);
	CHECK_EQ(r.body, 4);
	CHECK(!strcmp(http_req_header(&p.req, "content-length"), "4"));
}

int main(void)
{
	check_skip_reason = ""; /* never NULL for -Wformat-overflow */
	TEST(test_simple);
	TEST(test_bodies);
	TEST(test_smuggling);
	TEST(test_limits);
	TEST(test_pipeline);
	TEST(test_raw);
	TEST(test_split);
	return check_exit();
}
