/*
 * fuzz_wire_backup.c: the decoders of backup files (wire_backup.h), fed
 * bytes that may be damaged. The first byte picks what the rest is: a
 * whole file (magic, frames, trailer) read frame by frame as dsync
 * import does, or one payload for one decoder. What decodes re-encodes
 * to the same bytes where the encoding is canonical.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire_backup.h"
#include "wire_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wire_backup_zip *zip;
static struct wire_backup_block blk;

static void
same(const struct mail_buf *b, const uint8_t *p, size_t n)
{
	if (b->len != n || memcmp(b->data, p, n) != 0)
		abort();
}

static void
payload(unsigned type, const uint8_t *p, size_t n)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	struct wire_backup_header h;
	struct wire_backup_user u;
	struct wire_backup_user_end e;
	struct wire_backup_index ix;

	switch (type) {
	case WIRE_BK_HEADER:
		if (wire_backup_header_decode(p, n, &h, &err) == 0) {
			wire_backup_header_encode(&h, &b);
			same(&b, p, n);
			wire_backup_header_free(&h);
		}
		break;
	case WIRE_BK_USER:
		if (wire_backup_user_decode(p, n, &u, &err) == 0) {
			wire_backup_user_encode(&u, &b);
			same(&b, p, n);
			wire_backup_user_free(&u);
		}
		break;
	case WIRE_BK_USER_END:
		if (wire_backup_user_end_decode(p, n, &e, &err) == 0) {
			wire_backup_user_end_encode(&e, &b);
			same(&b, p, n);
		}
		break;
	case WIRE_BK_BLOCK:
		if (wire_backup_block_decode(zip, p, n, &blk, &err) == 0) {
			size_t sum = 0;

			for (size_t i = 0; i < blk.n; i++)
				sum += blk.v[i].len;
			if (sum != blk.data.len)
				abort();
		}
		(void)!wire_backup_block_pieces(p, n, &blk, &err);
		break;
	case WIRE_BK_INDEX:
		memset(&ix, 0, sizeof(ix));
		if (wire_backup_index_decode(p, n, &ix, &err) == 0) {
			wire_backup_index_sort(&ix);
			for (size_t i = 0; i < ix.n_bodies; i++) {
				if (wire_backup_index_find(&ix,
				    &ix.bodies[i].hash) == NULL)
					abort();
			}
		}
		wire_backup_index_free(&ix);
		break;
	default:
		break;
	}
	mail_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_backup_trailer t;
	struct mail_err err;
	size_t pos;

	if (zip == NULL)
		zip = wire_backup_zip_new(1);
	if (size < 1)
		return 0;
	if (data[0] != 0) {
		payload(data[0], data + 1, size - 1);
		return 0;
	}
	data++;
	size--;
	if (size >= WIRE_BACKUP_TRAILER_LEN)
		(void)!wire_backup_trailer_decode(data + size -
		    WIRE_BACKUP_TRAILER_LEN, WIRE_BACKUP_TRAILER_LEN, &t, &err);
	pos = size >= WIRE_BACKUP_MAGIC_LEN &&
	    memcmp(data, WIRE_BACKUP_MAGIC, WIRE_BACKUP_MAGIC_LEN) == 0 ?
	    WIRE_BACKUP_MAGIC_LEN : 0;
	while (pos < size) {
		struct wire_frame f;
		ssize_t got = wire_frame_decode(data + pos, size - pos,
		    WIRE_BACKUP_FRAME_MAX, &f, &err);

		if (got <= 0)
			break;
		payload(f.type, f.payload, f.len);
		pos += (size_t)got;
	}
	return 0;
}
