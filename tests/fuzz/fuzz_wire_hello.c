/*
 * fuzz_wire_hello.c: HELLO and ERROR payloads from an unauthenticated
 * peer. A decoded HELLO re-encodes to the same bytes and negotiates
 * against ours without trouble.
 */
#include <stdint.h>
#include <stdlib.h>

#include "wire_hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_hello theirs, ours;
	struct mail_err err, peer;
	uint32_t v;
	uint64_t f;

	if (wire_hello_decode(data, size, &theirs, &err) == 0) {
		struct mail_buf b = MAIL_BUF_INIT;

		wire_hello_encode(&theirs, &b);
		if (b.len != size || memcmp(b.data, data, size) != 0)
			abort();
		mail_buf_free(&b);
		memset(&ours, 0, sizeof(ours));
		ours.version_min = WIRE_VERSION_MIN;
		ours.version_max = WIRE_VERSION_MAX;
		ours.node_id = 42;
		(void)!wire_hello_negotiate(&ours, &theirs, &v, &f, &err);
	}
	(void)!wire_error_decode(data, size, &peer, &err);
	return 0;
}
