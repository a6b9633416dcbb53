/*
 * net/json.c: request body decoding and byte-safe JSON strings (json.h).
 */
#include "net/json.h"

#include <stdlib.h>
#include <string.h>

json_t *api_decode_json(const char *data, size_t len, const char **why)
{
	json_error_t err;

	if (len > API_JSON_MAX) {
		*why = "body too large";
		return NULL;
	}
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		*why = "malformed JSON";
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "body must be a JSON object";
		return NULL;
	}
	return j;
}

size_t utf8_sanitize(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		unsigned cp;
		if (c < 0x80) {
			out[o++] = (char)c;
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			goto bad;
		}
		if (i + need >= len)
			goto bad;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			goto bad;
		memcpy(out + o, s + i, need + 1);
		o += need + 1;
		i += need + 1;
		continue;
bad:
		out[o++] = (char)0xef;
		out[o++] = (char)0xbf;
		out[o++] = (char)0xbd;
		i++;
	}
	out[o] = 0;
	return o;
}

json_t *json_bytes(const char *data, size_t len)
{
	json_t *j = json_stringn(data, len); /* NULL when not valid UTF-8 */
	if (j)
		return j;
	char *tmp = malloc(3 * len + 1);
	if (!tmp)
		return NULL;
	size_t n = utf8_sanitize(data, len, tmp);
	j = json_stringn(tmp, n);
	free(tmp);
	return j;
}
