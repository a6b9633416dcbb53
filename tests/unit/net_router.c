/*
 * tests/unit/net_router.c: routes, path normalisation, query parameters and
 * preview host names (net/router.c).
 */
#include <errno.h>
#include <string.h>

#include "net/router.h"
#include "tests/lib/check.h"

static void test_routes(void)
{
	struct route r;

	CHECK_EQ(route_match("/v1/sandboxes", &r), 0);
	CHECK_EQ(r.kind, ROUTE_SANDBOXES);
	CHECK_EQ(route_match("/v1/sandboxes/", &r), 0);
	CHECK_EQ(r.kind, ROUTE_SANDBOXES);
	CHECK_EQ(route_match("/v1/sandboxes/user-123", &r), 0);
	CHECK_EQ(r.kind, ROUTE_SANDBOX);
	CHECK(!strcmp(r.id, "user-123"));
	CHECK_EQ(route_match("/v1/sandboxes/a/exec", &r), 0);
	CHECK_EQ(r.kind, ROUTE_EXEC);
	CHECK_EQ(route_match("/v1/sandboxes/a/processes/p1/logs?x=1", &r), 0);
	CHECK_EQ(r.kind, ROUTE_PROCESS_LOGS);
	CHECK(!strcmp(r.sub, "p1"));
	CHECK(!strcmp(r.query, "x=1"));
	CHECK_EQ(route_match("/v1/sandboxes/a/git/checkout", &r), 0);
	CHECK_EQ(r.kind, ROUTE_GIT_CHECKOUT);
	CHECK_EQ(route_match("/v1/sandboxes/a/ports/8080", &r), 0);
	CHECK_EQ(r.kind, ROUTE_PORT);
	CHECK_EQ(route_match("/v1/sandboxes/a/contexts/c1", &r), 0);
	CHECK_EQ(r.kind, ROUTE_CONTEXT);
	CHECK_EQ(route_match("/v1/health", &r), 0);
	CHECK_EQ(r.kind, ROUTE_HEALTH);
	CHECK_EQ(route_match("/v1/system", &r), 0);
	CHECK_EQ(r.kind, ROUTE_SYSTEM);
	CHECK_EQ(route_match("/v1/system/update?reboot=true", &r), 0);
	CHECK_EQ(r.kind, ROUTE_SYSTEM_UPDATE);
	CHECK(!strcmp(r.query, "reboot=true"));
	CHECK_EQ(route_match("/v1/system/update/", &r), 0);
	CHECK_EQ(r.kind, ROUTE_SYSTEM_UPDATE);
	CHECK_EQ(route_match("/v1/system/reboot", &r), -ENOENT);
	CHECK_EQ(route_match("/v1/system/update/x", &r), -ENOENT);
	CHECK_EQ(route_match("/v1/systemx", &r), -ENOENT);
	CHECK_EQ(route_match("/v2/sandboxes", &r), -ENOENT);
	CHECK_EQ(route_match("/v1/sandboxes/a/nope", &r), -ENOENT);
	CHECK_EQ(route_match("/v1/sandboxes/a%2Fb", &r), -EINVAL);
	CHECK_EQ(route_match("/v1/sandboxes/a.b", &r), -EINVAL);
	CHECK_EQ(route_match("nope", &r), -EINVAL);
}

static void test_files(void)
{
	struct route r;

	CHECK_EQ(route_match("/v1/sandboxes/a/files/workspace/x%20y.txt", &r), 0);
	CHECK_EQ(r.kind, ROUTE_FILES);
	CHECK(!strcmp(r.path, "/workspace/x y.txt"));
	CHECK_EQ(route_match("/v1/sandboxes/a/files/workspace/../etc//p?list=1", &r), 0);
	CHECK(!strcmp(r.path, "/etc/p"));
	CHECK_EQ(route_match("/v1/sandboxes/a/files", &r), 0);
	CHECK(!strcmp(r.path, "/"));
	CHECK_EQ(route_match("/v1/sandboxes/a/files/a%00b", &r), -EINVAL);
	CHECK_EQ(route_match("/v1/sandboxes/a/files/%2e%2e/%2e%2e/x", &r), -EINVAL);
	CHECK_EQ(route_match("/v1/sandboxes/a/files/x%zz", &r), -EINVAL);
	CHECK_EQ(route_match("/v1/sandboxes/a/files/x%4", &r), -EINVAL);
}

static void test_normalize(void)
{
	char out[64];

	CHECK_EQ(route_normalize_path("a/./b/../c", 10, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/a/c"));
	CHECK_EQ(route_normalize_path("/..", 3, out, sizeof(out)), -EINVAL);
	CHECK_EQ(route_normalize_path("/a/..", 5, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/"));
	CHECK_EQ(route_normalize_path("////", 4, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/"));
	CHECK_EQ(route_normalize_path("a\0b", 3, out, sizeof(out)), -EINVAL);
	char big[200];
	memset(big, 'x', sizeof(big));
	CHECK_EQ(route_normalize_path(big, sizeof(big), out, sizeof(out)), -ENAMETOOLONG);
}

static void test_query(void)
{
	char v[32];

	CHECK_EQ(route_query("a=1&to=%2Fx+y&c", "to", v, sizeof(v)), 4);
	CHECK(!strcmp(v, "/x y"));
	CHECK_EQ(route_query("a=1&c", "c", v, sizeof(v)), 0);
	CHECK_EQ(route_query("a=1", "b", v, sizeof(v)), -ENOENT);
	CHECK_EQ(route_query("a=%00", "a", v, sizeof(v)), -EINVAL);
	CHECK_EQ(route_query("a=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "a", v, sizeof(v)),
		 -ENAMETOOLONG);
}

static void test_preview_host(void)
{
	unsigned port;
	char id[64], tok[64];

	CHECK_EQ(route_preview_host("8080-my-box-0123abcd.localhost:8443", "localhost",
				    &port, id, tok), 0);
	CHECK_EQ(port, 8080);
	CHECK(!strcmp(id, "my-box"));
	CHECK(!strcmp(tok, "0123abcd"));
	CHECK_EQ(route_preview_host("8080-a-t.sbx.example.com", "sbx.example.com", &port,
				    id, tok), 0);
	CHECK_EQ(route_preview_host("localhost:8443", "localhost", &port, id, tok), -ENOENT);
	CHECK_EQ(route_preview_host("x.8080-a-t.localhost", "localhost", &port, id, tok),
		 -ENOENT);
	CHECK_EQ(route_preview_host("99999-a-t.localhost", "localhost", &port, id, tok),
		 -ENOENT);
	CHECK_EQ(route_preview_host("8080-a.localhost", "localhost", &port, id, tok), -ENOENT);
	CHECK_EQ(route_preview_host("8080-a-t.evil.com", "localhost", &port, id, tok), -ENOENT);
}

static void test_valid_id(void)
{
	CHECK(route_valid_id("user-123_A"));
	CHECK(!route_valid_id(""));
	CHECK(!route_valid_id("a/b"));
	CHECK(!route_valid_id("a.b"));
	char big[80];
	memset(big, 'a', 79);
	big[79] = 0;
	CHECK(!route_valid_id(big));
}

int main(void)
{
	check_skip_reason = ""; /* never NULL for -Wformat-overflow */
	TEST(test_routes);
	TEST(test_files);
	TEST(test_normalize);
	TEST(test_query);
	TEST(test_preview_host);
	TEST(test_valid_id);
	return check_exit();
}
