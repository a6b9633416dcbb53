/*
 * tests/unit/net_json.c: request body decoding and byte-safe JSON strings
 * (net/json.c).
 */
#include <stdlib.h>
#include <string.h>

#include "net/json.h"
#include "tests/lib/check.h"

static void test_decode(void)
{
	const char *why = NULL;
	json_t *j = api_decode_json("{\"a\":1}", 7, &why);

	CHECK(j != NULL);
	json_decref(j);
	CHECK(api_decode_json("{\"a\":1", 6, &why) == NULL);
	CHECK(api_decode_json("[1]", 3, &why) == NULL);
	CHECK(api_decode_json("{\"a\":1,\"a\":2}", 13, &why) == NULL);
	CHECK(api_decode_json("", 0, &why) == NULL);
	char *big = malloc(API_JSON_MAX + 2);
	memset(big, ' ', API_JSON_MAX + 1);
	CHECK(api_decode_json(big, API_JSON_MAX + 1, &why) == NULL);
	free(big);
}

static void test_utf8(void)
{
	char out[64];

	CHECK_EQ(utf8_sanitize("ab", 2, out), 2);
	CHECK_EQ(utf8_sanitize("\xc3\xa9", 2, out), 2);
	CHECK_EQ(utf8_sanitize("\xff", 1, out), 3);
	CHECK(!memcmp(out, "\xef\xbf\xbd", 3));
	CHECK_EQ(utf8_sanitize("\xc3", 1, out), 3);          /* cut sequence */
	CHECK_EQ(utf8_sanitize("\xed\xa0\x80", 3, out), 9); /* surrogate */
	CHECK_EQ(utf8_sanitize("\xf0\x9f\x98\x80", 4, out), 4);
	json_t *j = json_bytes("a\xff" "b", 3);
	CHECK(j != NULL);
	CHECK(!strcmp(json_string_value(j), "a\xef\xbf\xbd" "b"));
	json_decref(j);
}

int main(void)
{
	check_skip_reason = ""; /* never NULL for -Wformat-overflow */
	TEST(test_decode);
	TEST(test_utf8);
	return check_exit();
}
