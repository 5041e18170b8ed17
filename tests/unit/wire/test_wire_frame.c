/*
 * test_wire_frame.c: frame encoding and decoding, fed at every split
 * point, with damage and limits.
 */
#include <stdlib.h>

#include "testlib.h"
#include "wire_frame.h"

/* Three frames back to back: empty payload, short, and one whose length
 * needs a 3-byte varint. */
static void
three_frames(struct mail_buf *b)
{
	uint8_t big[20000];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	wire_frame_encode(b, 1, NULL, 0);
	wire_frame_encode(b, 2, "hello", 5);
	wire_frame_encode(b, 255, big, sizeof(big));
}

static size_t
decode_all(const uint8_t *p, size_t n, struct wire_frame *out, size_t max_out)
{
	struct mail_err err;
	size_t pos = 0, k = 0;

	while (k < max_out) {
		ssize_t r = wire_frame_decode(p + pos, n - pos, WIRE_FRAME_MAX,
		    &out[k], &err);

		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		pos += (size_t)r;
		k++;
	}
	return k;
}

START_TEST(test_roundtrip)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f[4];

	three_frames(&b);
	ck_assert_uint_eq(decode_all(b.data, b.len, f, 4), 3);
	ck_assert_uint_eq(f[0].type, 1);
	ck_assert_uint_eq(f[0].len, 0);
	ck_assert_uint_eq(f[1].type, 2);
	ck_assert_uint_eq(f[1].len, 5);
	ck_assert_mem_eq(f[1].payload, "hello", 5);
	ck_assert_uint_eq(f[2].type, 255);
	ck_assert_uint_eq(f[2].len, 20000);
	ck_assert_uint_eq(f[2].payload[19999], (uint8_t)(19999 * 7));
	mail_buf_free(&b);
}
END_TEST

/* Every prefix decodes to the frames complete in it and asks for more,
 * never an error; the copy makes ASan catch any read past the cut. */
START_TEST(test_every_split_point)
{
	struct mail_buf b = MAIL_BUF_INIT;
	size_t ends[3], pos = 0;
	struct wire_frame f[4];

	three_frames(&b);
	for (size_t k = 0; k < 3; k++) {
		struct mail_err err;
		ssize_t r = wire_frame_decode(b.data + pos, b.len - pos,
		    WIRE_FRAME_MAX, &f[0], &err);

		ck_assert_int_gt(r, 0);
		pos += (size_t)r;
		ends[k] = pos;
	}
	for (size_t cut = 0; cut <= b.len; cut++) {
		uint8_t *copy = malloc(cut == 0 ? 1 : cut);
		size_t want = 0;

		memcpy(copy, b.data, cut);
		while (want < 3 && ends[want] <= cut)
			want++;
		ck_assert_uint_eq(decode_all(copy, cut, f, 4), want);
		free(copy);
	}
	mail_buf_free(&b);
}
END_TEST

/* One byte at a time through a growing buffer, as a socket might. */
START_TEST(test_one_byte_at_a_time)
{
	struct mail_buf in = MAIL_BUF_INIT, wire = MAIL_BUF_INIT;
	struct mail_err err;
	size_t got = 0;

	three_frames(&wire);
	for (size_t i = 0; i < wire.len; i++) {
		struct wire_frame f;
		ssize_t r;

		mail_buf_append(&in, wire.data + i, 1);
		while ((r = wire_frame_decode(in.data, in.len, WIRE_FRAME_MAX,
		    &f, &err)) > 0) {
			got++;
			mail_buf_consume(&in, (size_t)r);
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert_uint_eq(got, 3);
	ck_assert_uint_eq(in.len, 0);
	mail_buf_free(&in);
	mail_buf_free(&wire);
}
END_TEST

START_TEST(test_damage)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	struct mail_err err;

	wire_frame_encode(&b, 7, "payload bytes", 13);
	/* any flipped bit after the length is a checksum mismatch; in the
	 * length it is a mismatch, a need for more, or an error */
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			ssize_t r;

			b.data[i] ^= (uint8_t)(1 << bit);
			r = wire_frame_decode(b.data, b.len, WIRE_FRAME_MAX, &f,
			    &err);
			if (i > 0)
				ck_assert_int_eq(r, -1);
			else
				ck_assert_int_le(r, 0);
			if (r < 0)
				ck_assert(err.code == MAIL_ERR_PROTO ||
				    err.code == MAIL_ERR_LIMIT);
			b.data[i] ^= (uint8_t)(1 << bit);
		}
	}
	ck_assert_int_eq(wire_frame_decode(b.data, b.len, WIRE_FRAME_MAX, &f,
	    &err), (ssize_t)b.len);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_limits)
{
	static const uint8_t empty[] = { 0x00 };
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	static const uint8_t overlong[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t top[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x02 };
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	struct mail_err err;

	ck_assert_int_eq(wire_frame_decode(empty, sizeof(empty),
	    WIRE_FRAME_MAX, &f, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	/* refused from the length alone, before the bytes arrive */
	ck_assert_int_eq(wire_frame_decode(huge, sizeof(huge), WIRE_FRAME_MAX,
	    &f, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	ck_assert_int_eq(wire_frame_decode(overlong, sizeof(overlong),
	    WIRE_FRAME_MAX, &f, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert_int_eq(wire_frame_decode(top, sizeof(top), WIRE_FRAME_MAX,
	    &f, &err), -1);
	/* a caller's smaller limit: exactly at it passes, one over not */
	wire_frame_encode(&b, 1, "0123456789", 10);
	ck_assert_int_eq(wire_frame_decode(b.data, b.len, 11, &f, &err),
	    (ssize_t)b.len);
	ck_assert_int_eq(wire_frame_decode(b.data, b.len, 10, &f, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	mail_buf_free(&b);
}
END_TEST

Suite *test_wire_frame_suite(void);
Suite *
test_wire_frame_suite(void)
{
	Suite *s = suite_create("wire_frame");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_every_split_point);
	tcase_add_test(tc, test_one_byte_at_a_time);
	tcase_add_test(tc, test_damage);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);
	return s;
}
