/*
 * fuzz_wire_frame.c: the frame decoder on a byte stream from a hostile
 * peer, decoded the way a connection does: frames back to back, each
 * re-encoded to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "wire_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_err err;
	size_t pos = 0;

	while (pos < size) {
		struct wire_frame f;
		struct mail_buf b = MAIL_BUF_INIT;
		ssize_t r = wire_frame_decode(data + pos, size - pos,
		    WIRE_FRAME_MAX, &f, &err);

		if (r <= 0)
			break;
		wire_frame_encode(&b, f.type, f.payload, f.len);
		if (b.len != (size_t)r || memcmp(b.data, data + pos, b.len) != 0)
			abort();	/* decoding is not the inverse of encoding */
		mail_buf_free(&b);
		pos += (size_t)r;
	}
	return 0;
}
