/*
 * fuzz_wire_sync.c: the sync messages a peer sends after HELLO. The first
 * byte picks the decoder; a decoded CHANGES payload re-encodes to the same
 * bytes, change by change.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire_sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_changes(const uint8_t *p, size_t n)
{
	struct mail_reader r;
	struct wire_change c;
	struct mail_err err;
	struct mail_buf b = MAIL_BUF_INIT;
	const uint8_t *start = p;

	mail_reader_init(&r, p, n);
	for (;;) {
		size_t before = (size_t)(r.p - start);
		int ret = wire_change_decode(&r, &c, &err);

		if (ret <= 0)
			break;
		mail_buf_reset(&b);
		wire_change_encode(&c, &b);
		if (b.len != (size_t)(r.p - start) - before ||
		    memcmp(b.data, start + before, b.len) != 0)
			abort();
		(void)!wire_change_check_clocks(&c, 1, &err);
		wire_change_free(&c);
	}
	mail_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_err err;

	if (size == 0)
		return 0;
	switch (data[0] % 6) {
	case 0:
		fuzz_changes(data + 1, size - 1);
		break;
	case 1: {
		struct wire_head h;

		(void)!wire_head_decode(data + 1, size - 1, &h, &err);
		break;
	}
	case 2: {
		struct wire_state s;

		(void)!wire_state_decode(data + 1, size - 1, &s, &err);
		break;
	}
	case 3: {
		struct wire_probe p;

		if (wire_probe_decode(data + 1, size - 1, &p, &err) == 0)
			wire_probe_free(&p);
		break;
	}
	case 4: {
		struct wire_body_chunk c;

		(void)!wire_body_decode(data + 1, size - 1, &c, &err);
		break;
	}
	case 5: {
		struct mail_guid *v;
		size_t n;

		if (wire_hashes_decode(data + 1, size - 1, &v, &n, &err) == 0)
			free(v);
		break;
	}
	}
	return 0;
}
