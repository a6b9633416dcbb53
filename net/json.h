/*
 * net/json.h: JSON helpers of the API: request body decoding (the fuzzed
 * part) and JSON strings from arbitrary bytes. Pure functions.
 */
#ifndef SBX_NET_JSON_H
#define SBX_NET_JSON_H

#include <stddef.h>

#include <jansson.h>

#define API_JSON_MAX (1024 * 1024)

/*
 * Decodes a request body: at most API_JSON_MAX bytes, one JSON object,
 * duplicate keys refused. Returns a new reference, or NULL with *why set
 * to a static message.
 */
json_t *api_decode_json(const char *data, size_t len, const char **why);

/*
 * Copies len bytes into out as valid UTF-8 (each invalid byte becomes
 * U+FFFD). out must hold 3 * len + 1 bytes. Returns the output length.
 */
size_t utf8_sanitize(const char *in, size_t len, char *out);

/* A JSON string of arbitrary bytes (new reference; NULL only on OOM). */
json_t *json_bytes(const char *data, size_t len);

#endif
