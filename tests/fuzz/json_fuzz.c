/*
 * tests/fuzz/json_fuzz.c: libFuzzer target for API request body decoding
 * (net/json.c): the JSON body decoder and the byte-to-UTF-8 sanitiser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	json_t *j = api_decode_json((const char *)data, size, &why);

	if (j) {
		/* the fields the handlers read */
		(void)json_string_value(json_object_get(j, "command"));
		json_t *env = json_object_get(j, "env");
		const char *k;
		json_t *v;
		if (json_is_object(env))
			json_object_foreach(env, k, v) (void)json_string_value(v);
		char *s = json_dumps(j, JSON_COMPACT);
		free(s);
		json_decref(j);
	}
	json_t *b = json_bytes((const char *)data, size);
	if (b) {
		char *s = json_dumps(b, JSON_ENCODE_ANY);
		free(s);
		json_decref(b);
	}
	return 0;
}
