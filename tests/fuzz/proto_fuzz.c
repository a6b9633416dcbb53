/*
 * tests/fuzz/proto_fuzz.c: libFuzzer target for the guest protocol decoder.
 * Feeds arbitrary bytes to proto_decode() and, for each accepted frame, walks
 * every field and accessor, so out-of-bounds reads show up under ASan.
 */
#include "guest/proto.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct proto_frame *f)
{
	struct proto_field fl;
	size_t pos = 0;
	char s[64];
	uint32_t v32;
	uint64_t v64;

	if (proto_type_is_data(f->type))
		return;
	while (proto_next_field(f, &pos, &fl) > 0) {
		(void)proto_get_u32(f, fl.tag, &v32);
		(void)proto_get_u64(f, fl.tag, &v64);
		(void)proto_get_str(f, fl.tag, s, sizeof(s));
		(void)proto_count(f, fl.tag);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_frame f;
	int n;

	while (size > 0) {
		n = proto_decode(data, size, &f);
		if (n <= 0)
			break;
		walk(&f);
		data += n;
		size -= (size_t)n;
	}
	return 0;
}
