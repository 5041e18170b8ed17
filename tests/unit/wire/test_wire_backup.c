/*
 * test_wire_backup.c: the backup file's frames: round trips, blocks with
 * many small bodies and a big one in pieces, the index over several
 * frames, the trailer and the digest, and damage at every byte.
 */
#include <stdlib.h>

#include "testlib.h"
#include "wire_backup.h"
#include "wire_frame.h"

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 31 + seed) ^ (i >> 7));
}

START_TEST(test_header_user_roundtrip)
{
	struct wire_backup_header h, h2;
	struct wire_backup_user u, u2;
	struct wire_backup_user_end e, e2;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;

	memset(&h, 0, sizeof(h));
	h.version = WIRE_BACKUP_VERSION;
	h.node = 0x1122334455667788ull;
	h.created_ms = 1796663147000ull;
	mail_guid_generate(&h.id);
	mail_guid_generate(&h.parent);
	h.all_users = true;
	h.source = mail_xstrdup("host:/var/mail");
	wire_backup_header_encode(&h, &b);
	ck_assert_int_eq(wire_backup_header_decode(b.data, b.len, &h2, &err), 0);
	ck_assert_uint_eq(h2.node, h.node);
	ck_assert_uint_eq(h2.created_ms, h.created_ms);
	ck_assert_int_eq(mail_guid_cmp(&h2.id, &h.id), 0);
	ck_assert_int_eq(mail_guid_cmp(&h2.parent, &h.parent), 0);
	ck_assert(h2.all_users);
	ck_assert_str_eq(h2.source, "host:/var/mail");
	wire_backup_header_free(&h2);
	wire_backup_header_free(&h);
	/* every cut is refused, never read past */
	for (size_t cut = 0; cut < b.len; cut++)
		ck_assert_int_eq(wire_backup_header_decode(b.data, cut, &h2,
		    &err), -1);
	/* another version is named */
	b.data[0] = 9;
	ck_assert_int_eq(wire_backup_header_decode(b.data, b.len, &h2, &err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "version 9"));

	mail_buf_reset(&b);
	memset(&u, 0, sizeof(u));
	u.name = mail_xstrdup("alice");
	u.log_id = 77;
	u.modseq = 1000;
	u.since = 900;
	wire_backup_user_encode(&u, &b);
	ck_assert_int_eq(wire_backup_user_decode(b.data, b.len, &u2, &err), 0);
	ck_assert_str_eq(u2.name, "alice");
	ck_assert_uint_eq(u2.modseq, 1000);
	ck_assert_uint_eq(u2.since, 900);
	ck_assert(!u2.gone);
	wire_backup_user_free(&u2);
	/* since after modseq can not be */
	mail_buf_reset(&b);
	u.since = 1001;
	wire_backup_user_encode(&u, &b);
	ck_assert_int_eq(wire_backup_user_decode(b.data, b.len, &u2, &err), -1);
	wire_backup_user_free(&u);

	mail_buf_reset(&b);
	e.n_changes = 5;
	e.n_bodies = 3;
	e.body_bytes = 123456789;
	wire_backup_user_end_encode(&e, &b);
	ck_assert_int_eq(wire_backup_user_end_decode(b.data, b.len, &e2,
	    &err), 0);
	ck_assert_uint_eq(e2.body_bytes, 123456789);
	mail_buf_put_u8(&b, 0);
	ck_assert_int_eq(wire_backup_user_end_decode(b.data, b.len, &e2,
	    &err), -1);
	mail_buf_free(&b);
}
END_TEST

/* Three small bodies and the first piece of a big one in one block. */
START_TEST(test_block)
{
	struct wire_backup_zip *z = wire_backup_zip_new(6);
	struct wire_backup_piece pc[4];
	struct wire_backup_block blk;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	uint8_t raw[10000];
	size_t lens[4] = { 100, 2000, 1, 7899 };

	memset(&blk, 0, sizeof(blk));
	fill(raw, sizeof(raw), 3);
	for (size_t i = 0, off = 0; i < 4; off += lens[i], i++) {
		mail_guid_hash(raw + off, lens[i], &pc[i].hash);
		pc[i].total = i == 3 ? 50000 : lens[i];
		pc[i].offset = 0;
		pc[i].len = (uint32_t)lens[i];
	}
	wire_backup_block_encode(z, pc, 4, raw, sizeof(raw), &b);
	ck_assert_int_eq(wire_backup_block_decode(z, b.data, b.len, &blk, &err),
	    0);
	ck_assert_uint_eq(blk.n, 4);
	ck_assert_uint_eq(blk.data.len, sizeof(raw));
	ck_assert_mem_eq(blk.data.data, raw, sizeof(raw));
	ck_assert_uint_eq(blk.v[3].total, 50000);
	/* pieces alone, without inflating */
	ck_assert_int_eq(wire_backup_block_pieces(b.data, b.len, &blk, &err), 0);
	ck_assert_uint_eq(blk.n, 4);
	/* any cut, any flipped byte: an error or (a flip in the data that
	 * zlib's checksum misses cannot be) never a wrong success */
	for (size_t cut = 0; cut < b.len; cut++)
		ck_assert_int_eq(wire_backup_block_decode(z, b.data, cut, &blk,
		    &err), -1);
	for (size_t i = 0; i < b.len; i++) {
		int ret;

		b.data[i] ^= 0x10;
		ret = wire_backup_block_decode(z, b.data, b.len, &blk, &err);
		if (ret == 0)	/* a piece table still consistent */
			ck_assert_uint_eq(blk.data.len, sizeof(raw));
		b.data[i] ^= 0x10;
	}
	wire_backup_block_free(&blk);
	wire_backup_zip_free(&z);
	mail_buf_free(&b);
}
END_TEST

/* Pieces that do not add up to the block, or run past their body. */
START_TEST(test_block_bad_pieces)
{
	struct wire_backup_zip *z = wire_backup_zip_new(1);
	struct wire_backup_piece pc;
	struct wire_backup_block blk;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	uint8_t raw[100];

	memset(&blk, 0, sizeof(blk));
	fill(raw, sizeof(raw), 1);
	mail_guid_hash(raw, sizeof(raw), &pc.hash);
	pc.total = 100;
	pc.offset = 50;		/* 50 + 100 > 100 */
	pc.len = 100;
	wire_backup_block_encode(z, &pc, 1, raw, sizeof(raw), &b);
	ck_assert_int_eq(wire_backup_block_decode(z, b.data, b.len, &blk,
	    &err), -1);
	mail_buf_reset(&b);
	pc.offset = 0;
	pc.len = 99;		/* 99 != 100 raw bytes */
	wire_backup_block_encode(z, &pc, 1, raw, sizeof(raw), &b);
	ck_assert_int_eq(wire_backup_block_decode(z, b.data, b.len, &blk,
	    &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "add up"));
	wire_backup_block_free(&blk);
	wire_backup_zip_free(&z);
	mail_buf_free(&b);
}
END_TEST

struct collected {
	struct mail_buf all;
	unsigned frames;
};

static int
collect(void *ctx, const struct mail_buf *payload, struct mail_err *err)
{
	struct collected *c = ctx;

	(void)err;
	wire_frame_encode(&c->all, WIRE_BK_INDEX, payload->data, payload->len);
	c->frames++;
	return 0;
}

START_TEST(test_index)
{
	struct wire_backup_index ix, back;
	struct collected c = { MAIL_BUF_INIT, 0 };
	struct mail_err err;
	size_t pos = 0;

	memset(&ix, 0, sizeof(ix));
	memset(&back, 0, sizeof(back));
	ix.users = mail_xcalloc(2, sizeof(*ix.users));
	ix.users[0] = (struct wire_backup_index_user){ mail_xstrdup("a"), 8,
	    100, 200 };
	ix.users[1] = (struct wire_backup_index_user){ mail_xstrdup("b"), 300,
	    400, 500 };
	ix.n_users = 2;
	ix.bodies = mail_xcalloc(3000, sizeof(*ix.bodies));
	for (size_t i = 0; i < 3000; i++) {
		mail_guid_generate(&ix.bodies[i].hash);
		ix.bodies[i].block_off = i % 3 == 0 ? 0 : 1000 + i;
	}
	ix.n_bodies = 3000;
	ck_assert_int_eq(wire_backup_index_encode(&ix, 4096, collect, &c,
	    &err), 0);
	ck_assert_uint_gt(c.frames, 5);
	while (pos < c.all.len) {
		struct wire_frame f;
		ssize_t got = wire_frame_decode(c.all.data + pos,
		    c.all.len - pos, WIRE_BACKUP_FRAME_MAX, &f, &err);

		ck_assert_int_gt(got, 0);
		ck_assert_int_eq(wire_backup_index_decode(f.payload, f.len,
		    &back, &err), 0);
		pos += (size_t)got;
	}
	ck_assert_uint_eq(back.n_users, 2);
	ck_assert_str_eq(back.users[1].name, "b");
	ck_assert_uint_eq(back.users[1].end_off, 500);
	ck_assert_uint_eq(back.n_bodies, 3000);
	wire_backup_index_sort(&back);
	for (size_t i = 0; i < 3000; i++) {
		const struct wire_backup_index_body *f =
		    wire_backup_index_find(&back, &ix.bodies[i].hash);

		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(f->block_off, ix.bodies[i].block_off);
	}
	/* offsets that go backwards are refused */
	{
		struct mail_buf b = MAIL_BUF_INIT;
		struct wire_backup_index bad;

		memset(&bad, 0, sizeof(bad));
		mail_buf_put_u8(&b, 1);
		mail_buf_put_str(&b, "x");
		mail_buf_put_varint(&b, 100);
		mail_buf_put_varint(&b, 50);
		mail_buf_put_varint(&b, 200);
		ck_assert_int_eq(wire_backup_index_decode(b.data, b.len, &bad,
		    &err), -1);
		wire_backup_index_free(&bad);
		mail_buf_free(&b);
	}
	wire_backup_index_free(&ix);
	wire_backup_index_free(&back);
	mail_buf_free(&c.all);
}
END_TEST

START_TEST(test_trailer_and_digest)
{
	struct wire_backup_trailer t = { 12345, 77, 0xdeadbeefcafef00dull }, t2;
	struct wire_backup_digest d1 = { 0, 0 }, d2 = { 0, 0 };
	struct mail_buf b = MAIL_BUF_INIT, f1 = MAIL_BUF_INIT,
	    f2 = MAIL_BUF_INIT;
	struct mail_err err;

	wire_backup_trailer_encode(&t, &b);
	ck_assert_uint_eq(b.len, WIRE_BACKUP_TRAILER_LEN);
	ck_assert_int_eq(wire_backup_trailer_decode(b.data, b.len, &t2, &err),
	    0);
	ck_assert_uint_eq(t2.index_off, 12345);
	ck_assert_uint_eq(t2.n_frames, 77);
	ck_assert_uint_eq(t2.digest, t.digest);
	for (size_t i = 0; i < b.len; i++) {
		b.data[i] ^= 1;
		ck_assert_int_eq(wire_backup_trailer_decode(b.data, b.len, &t2,
		    &err), -1);
		b.data[i] ^= 1;
	}
	/* the digest tells the order of frames */
	wire_frame_encode(&f1, WIRE_BK_USER, "a", 1);
	wire_frame_encode(&f2, WIRE_BK_USER, "b", 1);
	wire_backup_digest_add(&d1, f1.data, f1.len);
	wire_backup_digest_add(&d1, f2.data, f2.len);
	wire_backup_digest_add(&d2, f2.data, f2.len);
	wire_backup_digest_add(&d2, f1.data, f1.len);
	ck_assert_uint_eq(d1.n_frames, 2);
	ck_assert_uint_ne(d1.state, d2.state);
	mail_buf_free(&b);
	mail_buf_free(&f1);
	mail_buf_free(&f2);
}
END_TEST

Suite *test_wire_backup_suite(void);

Suite *
test_wire_backup_suite(void)
{
	Suite *s = suite_create("wire_backup");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_header_user_roundtrip);
	tcase_add_test(tc, test_block);
	tcase_add_test(tc, test_block_bad_pieces);
	tcase_add_test(tc, test_index);
	tcase_add_test(tc, test_trailer_and_digest);
	suite_add_tcase(s, tc);
	return s;
}
