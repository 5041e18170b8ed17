/*
 * wire_frame.c: frame encoding and the untrusting decoder. The length is
 * checked against the limit as soon as its varint is complete, so a peer
 * can never make us buffer more than the limit by announcing a huge frame
 * and sending it slowly.
 */
#include <xxhash.h>

#include "wire_frame.h"

void
wire_frame_encode(struct mail_buf *out, uint8_t type, const void *payload,
    size_t len)
{
	size_t start;

	mail_assert(len < WIRE_FRAME_MAX);
	mail_buf_put_varint(out, (uint64_t)len + 1);
	start = out->len;
	mail_buf_put_u8(out, type);
	mail_buf_append(out, payload, len);
	mail_buf_put_le64(out, XXH3_64bits(out->data + start, len + 1));
}

ssize_t
wire_frame_decode(const uint8_t *p, size_t n, size_t max,
    struct wire_frame *f, struct mail_err *err)
{
	uint64_t len = 0;
	size_t hdr = 0;

	/* the varint, by hand: a truncated one needs more bytes, an
	 * overlong one is an error (mail_get_varint can not tell apart) */
	for (;;) {
		if (hdr == n)
			return 0;
		if (hdr == 10 || (hdr == 9 && (p[hdr] & 0x7e) != 0)) {
			mail_err_set(err, MAIL_ERR_PROTO,
			    "frame length varint too long");
			return -1;
		}
		len |= (uint64_t)(p[hdr] & 0x7f) << (7 * hdr);
		if ((p[hdr++] & 0x80) == 0)
			break;
	}
	/* one encoding per length: a padded varint is not ours */
	if (hdr > 1 && p[hdr - 1] == 0) {
		mail_err_set(err, MAIL_ERR_PROTO, "frame length varint padded");
		return -1;
	}
	if (len == 0) {
		mail_err_set(err, MAIL_ERR_PROTO, "empty frame");
		return -1;
	}
	if (len > max) {
		mail_err_set(err, MAIL_ERR_LIMIT,
		    "frame of %llu bytes is over the limit of %zu",
		    (unsigned long long)len, max);
		return -1;
	}
	if (n - hdr < len + 8)
		return 0;
	if (XXH3_64bits(p + hdr, (size_t)len) !=
	    mail_get_le64(p + hdr + len)) {
		mail_err_set(err, MAIL_ERR_PROTO, "frame checksum mismatch");
		return -1;
	}
	f->type = p[hdr];
	f->payload = p + hdr + 1;
	f->len = (size_t)len - 1;
	return (ssize_t)(hdr + len + 8);
}
