/*
 * tests/unit/net_auth.c: token creation, hashing, check and revoke
 * (net/auth.c), in a temporary state folder.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/auth.h"
#include "tests/lib/check.h"

static char dir[] = "/tmp/sbx-net-auth-XXXXXX";

static void test_hash(void)
{
	unsigned char h[32];
	/* SHA-256("abc") */
	static const unsigned char want[4] = { 0xba, 0x78, 0x16, 0xbf };

	auth_hash("abc", h);
	CHECK(!memcmp(h, want, 4));
	CHECK(auth_ct_equal("abcd", "abcd", 4));
	CHECK(!auth_ct_equal("abcd", "abce", 4));
}

static void test_tokens(void)
{
	struct auth a;
	char t1[AUTH_TOKEN_LEN + 1], t2[AUTH_TOKEN_LEN + 1], tenant[AUTH_NAME_MAX];

	CHECK_EQ(auth_load(&a, dir), 0);
	CHECK_EQ(a.n, 0);
	CHECK_EQ(auth_create(&a, "alice", t1), 0);
	CHECK_EQ(auth_create(&a, "bob", t2), 0);
	CHECK_EQ(auth_create(&a, "bad/name", t2 + 0) == -EINVAL, 1);
	CHECK_EQ(strlen(t1), AUTH_TOKEN_LEN);
	CHECK(!strncmp(t1, "sbx_", 4));
	CHECK_EQ(auth_check(&a, t1, tenant), 0);
	CHECK(!strcmp(tenant, "alice"));
	auth_free(&a);

	/* Only hashes on disk. */
	char path[256], buf[4096] = "";
	snprintf(path, sizeof(path), "%s/tokens.json", dir);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
	}
	CHECK(strstr(buf, t1 + 4) == NULL);

	CHECK_EQ(auth_load(&a, dir), 0);
	CHECK_EQ(a.n, 2);
	CHECK_EQ(auth_check(&a, t2, tenant), 0);
	CHECK(!strcmp(tenant, "bob"));
	char wrong[AUTH_TOKEN_LEN + 1];
	memcpy(wrong, t2, sizeof(wrong));
	wrong[10] ^= 1;
	CHECK_EQ(auth_check(&a, wrong, tenant), -EACCES);
	CHECK_EQ(auth_check(&a, "", tenant), -EACCES);
	CHECK_EQ(auth_check(&a, NULL, tenant), -EACCES);
	char id[16];
	snprintf(id, sizeof(id), "%s", a.v[0].id);
	CHECK_EQ(auth_revoke(&a, id), 0);
	CHECK_EQ(auth_revoke(&a, id), -ENOENT);
	CHECK_EQ(auth_check(&a, t1, tenant), -EACCES);
	auth_free(&a);
	CHECK_EQ(auth_load(&a, dir), 0);
	CHECK_EQ(a.n, 1);
	auth_free(&a);
}

/* Operator tokens: the flag is stored, survives a reload, and only a JSON
 * true in the file grants it. */
static void test_operator(void)
{
	struct auth a;
	char op[AUTH_TOKEN_LEN + 1], ten[AUTH_TOKEN_LEN + 1], tenant[AUTH_NAME_MAX];
	int is_op = -1;

	CHECK_EQ(auth_load(&a, dir), 0);
	CHECK_EQ(auth_create_role(&a, "ops", 1, op), 0);
	CHECK_EQ(auth_create_role(&a, "carol", 0, ten), 0);
	CHECK_EQ(auth_check_role(&a, op, tenant, &is_op), 0);
	CHECK_EQ(is_op, 1);
	CHECK(!strcmp(tenant, "ops"));
	CHECK_EQ(auth_check_role(&a, ten, tenant, &is_op), 0);
	CHECK_EQ(is_op, 0);
	auth_free(&a);

	CHECK_EQ(auth_load(&a, dir), 0);
	is_op = -1;
	CHECK_EQ(auth_check_role(&a, op, tenant, &is_op), 0);
	CHECK_EQ(is_op, 1);
	CHECK_EQ(auth_check_role(&a, ten, tenant, &is_op), 0);
	CHECK_EQ(is_op, 0);
	/* A bad token is no operator, whatever the caller's variable held. */
	is_op = 1;
	CHECK_EQ(auth_check_role(&a, "sbx_nope", tenant, &is_op), -EACCES);
	CHECK_EQ(is_op, 0);
	auth_free(&a);

	/* Hand-written file: "operator": "true" (a string) grants nothing. */
	char path[256];
	unsigned char h[32];
	char hex[65];
	snprintf(path, sizeof(path), "%s/tokens.json", dir);
	auth_hash(ten, h);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fprintf(f, "{\"tokens\":[{\"id\":\"x\",\"tenant\":\"carol\","
			   "\"sha256\":\"%s\",\"operator\":\"true\"}]}", hex);
		fclose(f);
	}
	CHECK_EQ(auth_load(&a, dir), 0);
	is_op = -1;
	CHECK_EQ(auth_check_role(&a, ten, tenant, &is_op), 0);
	CHECK_EQ(is_op, 0);
	auth_free(&a);
}

int main(void)
{
	check_skip_reason = ""; /* never NULL for -Wformat-overflow */
	if (!mkdtemp(dir))
		return 1;
	TEST(test_hash);
	TEST(test_tokens);
	TEST(test_operator);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return check_exit();
}
