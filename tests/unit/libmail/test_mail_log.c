/*
 * test_mail_log.c: log record framing, the scanner and the appender.
 *
 * The decoder is fed every split point of a multi-record buffer and one
 * byte at a time; every bit of a record is flipped. The scanner is run
 * over logs with a clean end, a torn tail at every byte offset of the last
 * transaction, a transaction without its COMMIT, damage followed by good
 * records (also where the damage ends just before a 1 MiB read chunk
 * boundary), and transactions larger than one read chunk.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "mail_log.h"
#include "testlib.h"
#include "testlib_store.h"

#define CHUNK	(1024 * 1024)	/* LOG_READ_CHUNK in mail_log.c */

/* Deterministic payload bytes for record (modseq, idx). */
static uint8_t
pbyte(uint64_t modseq, size_t idx, size_t i)
{
	return (uint8_t)(modseq * 131 + idx * 31 + i * 7 + (i >> 8));
}

static void
put_rec(struct mail_buf *b, uint8_t type, bool commit, uint64_t modseq,
    size_t idx, size_t payload_len)
{
	struct mail_log_rec rec;
	uint8_t *p = mail_xmalloc(payload_len + 1);

	for (size_t i = 0; i < payload_len; i++)
		p[i] = pbyte(modseq, idx, i);
	memset(&rec, 0, sizeof(rec));
	rec.type = type;
	rec.flags = commit ? MAIL_REC_COMMIT : 0;
	rec.modseq = modseq;
	rec.node = 0x1122334455667788ull + idx;
	rec.hlc = (modseq << 16) | idx;
	rec.payload = p;
	rec.payload_len = payload_len;
	mail_log_encode(b, &rec);
	free(p);
}

/* A log image: header, then transaction t (modseq t + 1) of n_recs[t]
 * records of payload bytes each; ends_r[t] is the offset after it. */
static void
build_log(struct mail_buf *b, const size_t *n_recs, size_t n_txn,
    size_t payload, uint64_t *ends_r)
{
	uint8_t h[MAIL_LOG_HEADER_SIZE] = { 0 };

	memcpy(h, MAIL_LOG_MAGIC, 8);
	mail_put_le32(h + 8, MAIL_LOG_VERSION);
	mail_buf_append(b, h, sizeof(h));
	for (size_t t = 0; t < n_txn; t++) {
		for (size_t i = 0; i < n_recs[t]; i++)
			put_rec(b, (uint8_t)(1 + i % 11), i + 1 == n_recs[t],
			    t + 1, i, payload);
		if (ends_r != NULL)
			ends_r[t] = b->len;
	}
}

/* What the scanner delivered. */
struct seen {
	uint64_t *off;
	uint64_t *modseq;
	size_t	 n, cap, cap2;
	bool	 bad_payload;
	size_t	 stop_after;	/* return 7 after this many; 0: never */
};

static int
collect(void *ctx, const struct mail_log_rec *rec, uint64_t off,
    struct mail_err *err)
{
	struct seen *s = ctx;
	size_t idx = (size_t)(rec->hlc & 0xffff);

	(void)err;
	s->off = mail_xgrow(s->off, &s->cap, s->n + 1, sizeof(*s->off));
	s->modseq = mail_xgrow(s->modseq, &s->cap2, s->n + 1,
	    sizeof(*s->modseq));
	s->off[s->n] = off;
	s->modseq[s->n] = rec->modseq;
	s->n++;
	for (size_t i = 0; i < rec->payload_len; i++) {
		if (rec->payload[i] != pbyte(rec->modseq, idx, i))
			s->bad_payload = true;
	}
	if (s->stop_after != 0 && s->n == s->stop_after)
		return 7;
	return 0;
}

static void
seen_free(struct seen *s)
{
	free(s->off);
	free(s->modseq);
	memset(s, 0, sizeof(*s));
}

static size_t
sum(const size_t *v, size_t n)
{
	size_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += v[i];
	return t;
}

/* Scan path, expecting success. */
static void
scan_file(const char *path, uint64_t start, struct seen *s,
    struct mail_log_scan *scan)
{
	struct mail_err err;

	memset(s, 0, sizeof(*s));
	mail_err_clear(&err);
	if (mail_log_read(mail_fs_posix(), path, start, collect, s, scan,
	    &err) != 0)
		ck_abort_msg("mail_log_read: %s", err.msg);
	ck_assert(!s->bad_payload);
}

/* s holds exactly the records of the first n_txn transactions. */
static void
assert_prefix(const struct seen *s, const size_t *n_recs, size_t n_txn)
{
	size_t k = 0;

	ck_assert_uint_eq(s->n, sum(n_recs, n_txn));
	for (size_t t = 0; t < n_txn; t++) {
		for (size_t i = 0; i < n_recs[t]; i++, k++)
			ck_assert_uint_eq(s->modseq[k], t + 1);
	}
	for (size_t i = 1; i < s->n; i++)
		ck_assert_uint_gt(s->off[i], s->off[i - 1]);
}

static char *tmp;
static char *logpath;

static void
setup(void)
{
	tmp = testlib_tmpdir();
	logpath = mail_xasprintf("%s/log", tmp);
}

static void
teardown(void)
{
	testlib_rmdir_r(tmp);
	free(tmp);
	free(logpath);
}

START_TEST(test_encode_decode_roundtrip)
{
	static const size_t lens[] = { 0, 1, 7, 100, 1000, 65536 };
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_rec rec;
	struct mail_err err;
	size_t pos = 0;

	for (size_t i = 0; i < N_ELEMENTS(lens); i++)
		put_rec(&b, (uint8_t)(i + 1), i % 2 == 1, 1000 + i, i, lens[i]);
	for (size_t i = 0; i < N_ELEMENTS(lens); i++) {
		ssize_t r = mail_log_decode(b.data + pos, b.len - pos, &rec,
		    &err);

		ck_assert_int_eq(r, (ssize_t)(MAIL_LOG_REC_MIN + lens[i]));
		ck_assert_uint_eq(rec.type, i + 1);
		ck_assert_uint_eq(rec.flags, i % 2 == 1 ? MAIL_REC_COMMIT : 0);
		ck_assert_uint_eq(rec.modseq, 1000 + i);
		ck_assert_uint_eq(rec.node, 0x1122334455667788ull + i);
		ck_assert_uint_eq(rec.hlc, ((1000 + i) << 16) | i);
		ck_assert_uint_eq(rec.payload_len, lens[i]);
		ck_assert_ptr_eq(rec.payload, b.data + pos + MAIL_LOG_REC_HEADER);
		for (size_t k = 0; k < lens[i]; k++)
			ck_assert_uint_eq(rec.payload[k], pbyte(1000 + i, i, k));
		pos += (size_t)r;
	}
	ck_assert_uint_eq(pos, b.len);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_mark_commit)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_rec rec;
	struct mail_err err;

	put_rec(&b, 3, false, 5, 0, 20);
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err), 60);
	ck_assert_uint_eq(rec.flags, 0);
	mail_log_mark_commit(b.data);
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err), 60);
	ck_assert_uint_eq(rec.flags, MAIL_REC_COMMIT);
	ck_assert_uint_eq(rec.modseq, 5);
	mail_buf_free(&b);
}
END_TEST

/* Three records of different sizes; every cut decodes the complete ones
 * and answers "need more" for the rest, never -1. */
static struct mail_buf split_buf;
static size_t split_len[3];

static void
split_setup(void)
{
	mail_buf_reset(&split_buf);
	put_rec(&split_buf, 6, false, 9, 0, 0);
	put_rec(&split_buf, 7, false, 9, 1, 300);
	put_rec(&split_buf, 8, true, 9, 2, 17);
	split_len[0] = MAIL_LOG_REC_MIN;
	split_len[1] = MAIL_LOG_REC_MIN + 300;
	split_len[2] = MAIL_LOG_REC_MIN + 17;
}

static void
split_teardown(void)
{
	mail_buf_free(&split_buf);
}

START_TEST(test_decode_split)
{
	size_t cut = (size_t)_i, pos = 0, i = 0, want = 0;
	uint8_t *copy = mail_xmalloc(cut + 1);
	struct mail_log_rec rec;
	struct mail_err err;

	/* a private copy of exactly cut bytes: ASan catches any read
	 * beyond what the decoder was given */
	memcpy(copy, split_buf.data, cut);
	for (size_t k = 0, acc = 0; k < 3; k++) {
		acc += split_len[k];
		if (acc <= cut)
			want = acc;
	}
	for (;;) {
		ssize_t r = mail_log_decode(copy + pos, cut - pos, &rec, &err);

		ck_assert_int_ge(r, 0);
		if (r == 0)
			break;
		ck_assert_uint_eq((size_t)r, split_len[i]);
		ck_assert_uint_eq(rec.type, 6 + i);
		pos += (size_t)r;
		i++;
	}
	ck_assert_uint_eq(pos, want);
	free(copy);
}
END_TEST

START_TEST(test_decode_byte_at_a_time)
{
	struct mail_buf in = MAIL_BUF_INIT;
	struct mail_log_rec rec;
	struct mail_err err;
	size_t pos = 0, got = 0;

	for (size_t k = 0; k < split_buf.len; k++) {
		ssize_t r;

		mail_buf_append(&in, split_buf.data + k, 1);
		while ((r = mail_log_decode(in.data + pos, in.len - pos, &rec,
		    &err)) > 0) {
			ck_assert_uint_eq((size_t)r, split_len[got]);
			ck_assert_uint_eq(pos + (size_t)r, in.len);
			pos += (size_t)r;
			got++;
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert_uint_eq(got, 3);
	mail_buf_free(&in);
}
END_TEST

/* Every single-bit flip of a record is caught: by the checksum, or, for a
 * length that grew, by waiting for bytes that will never decode. */
START_TEST(test_decode_bitflip)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_rec rec;
	struct mail_err err;

	put_rec(&b, 9, true, 77, 3, 50);
	for (size_t bit = 0; bit < b.len * 8; bit++) {
		ssize_t r;

		b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		mail_err_clear(&err);
		r = mail_log_decode(b.data, b.len, &rec, &err);
		if (bit < 32 && mail_get_le32(b.data) > b.len &&
		    mail_get_le32(b.data) <= MAIL_LOG_REC_MAX) {
			ck_assert_int_eq(r, 0);
		} else {
			ck_assert_msg(r == -1, "bit %zu: decoded %zd", bit, r);
			ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
		}
		b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err), 90);
	mail_buf_free(&b);
}
END_TEST

/* Re-seal the checksum of the record at p after editing it. */
static void
reseal(uint8_t *p)
{
	uint32_t len = mail_get_le32(p);

	mail_put_le64(p + len - 8, XXH3_64bits(p, len - 8));
}

START_TEST(test_decode_bad_lengths)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_rec rec;
	struct mail_err err;
	uint8_t big[MAIL_LOG_REC_MIN];

	/* fewer than 4 bytes: need more */
	put_rec(&b, 1, true, 1, 0, 0);
	for (size_t n = 0; n < 4; n++)
		ck_assert_int_eq(mail_log_decode(b.data, n, &rec, &err), 0);
	/* below the minimum, above the maximum */
	memset(big, 0, sizeof(big));
	mail_put_le32(big, 0);
	ck_assert_int_eq(mail_log_decode(big, sizeof(big), &rec, &err), -1);
	mail_put_le32(big, MAIL_LOG_REC_MIN - 1);
	ck_assert_int_eq(mail_log_decode(big, sizeof(big), &rec, &err), -1);
	mail_put_le32(big, MAIL_LOG_REC_MAX + 1);
	ck_assert_int_eq(mail_log_decode(big, sizeof(big), &rec, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	mail_put_le32(big, UINT32_MAX);
	ck_assert_int_eq(mail_log_decode(big, 4, &rec, &err), -1);
	/* a plausible length beyond the buffer: need more */
	mail_put_le32(big, MAIL_LOG_REC_MAX);
	ck_assert_int_eq(mail_log_decode(big, sizeof(big), &rec, &err), 0);
	/* type 0, a reserved field, unknown flags: bad even when sealed */
	b.data[4] = 0;
	reseal(b.data);
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err), -1);
	b.data[4] = 1;
	b.data[5] = 0x02;
	reseal(b.data);
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err), -1);
	b.data[5] = MAIL_REC_COMMIT;
	b.data[6] = 1;
	reseal(b.data);
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err), -1);
	b.data[6] = 0;
	b.data[7] = 0x80;
	reseal(b.data);
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err), -1);
	b.data[7] = 0;
	reseal(b.data);
	ck_assert_int_eq(mail_log_decode(b.data, b.len, &rec, &err),
	    MAIL_LOG_REC_MIN);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_read_clean)
{
	static const size_t n_recs[] = { 1, 3, 1, 5, 2 };
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t ends[5];
	struct mail_log_scan scan;
	struct seen s;

	build_log(&b, n_recs, 5, 33, ends);
	testlib_write_file(logpath, b.data, b.len);
	scan_file(logpath, 0, &s, &scan);
	assert_prefix(&s, n_recs, 5);
	ck_assert_uint_eq(s.off[0], MAIL_LOG_HEADER_SIZE);
	ck_assert_uint_eq(scan.end, b.len);
	ck_assert_uint_eq(scan.file_size, b.len);
	ck_assert(!scan.damaged);
	ck_assert(!scan.mid_damage);
	seen_free(&s);
	/* from the end of transaction 2 on */
	scan_file(logpath, ends[1], &s, &scan);
	ck_assert_uint_eq(s.n, 1 + 5 + 2);
	ck_assert_uint_eq(s.off[0], ends[1]);
	ck_assert_uint_eq(s.modseq[0], 3);
	ck_assert_uint_eq(scan.end, b.len);
	seen_free(&s);
	/* from the end: nothing, clean */
	scan_file(logpath, b.len, &s, &scan);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(scan.end, b.len);
	ck_assert(!scan.damaged);
	seen_free(&s);
	/* an empty log */
	mail_buf_truncate(&b, MAIL_LOG_HEADER_SIZE);
	testlib_write_file(logpath, b.data, b.len);
	scan_file(logpath, 0, &s, &scan);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_uint_eq(scan.end, MAIL_LOG_HEADER_SIZE);
	ck_assert(!scan.damaged);
	seen_free(&s);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_read_callback_stops)
{
	static const size_t n_recs[] = { 2, 2, 2 };
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_scan scan;
	struct mail_err err;
	struct seen s;

	build_log(&b, n_recs, 3, 10, NULL);
	testlib_write_file(logpath, b.data, b.len);
	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	ck_assert_int_eq(mail_log_read(mail_fs_posix(), logpath, 0, collect,
	    &s, &scan, &err), 7);
	ck_assert_uint_eq(s.n, 3);
	seen_free(&s);
	/* no callback at all: only the scan */
	ck_assert_int_eq(mail_log_read(mail_fs_posix(), logpath, 0, NULL, NULL,
	    &scan, &err), 0);
	ck_assert_uint_eq(scan.end, b.len);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_read_bad_header)
{
	static const size_t n_recs[] = { 1 };
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_scan scan;
	struct mail_err err;

	build_log(&b, n_recs, 1, 10, NULL);
	/* wrong magic */
	b.data[0] ^= 1;
	testlib_write_file(logpath, b.data, b.len);
	ck_assert_int_eq(mail_log_read(mail_fs_posix(), logpath, 0, NULL, NULL,
	    &scan, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	b.data[0] ^= 1;
	/* wrong version */
	mail_put_le32(b.data + 8, 99);
	testlib_write_file(logpath, b.data, b.len);
	ck_assert_int_eq(mail_log_read(mail_fs_posix(), logpath, 0, NULL, NULL,
	    &scan, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	/* shorter than a header */
	testlib_write_file(logpath, MAIL_LOG_MAGIC, 8);
	ck_assert_int_eq(mail_log_read(mail_fs_posix(), logpath, 0, NULL, NULL,
	    &scan, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	/* missing */
	unlink(logpath);
	ck_assert_int_eq(mail_log_read(mail_fs_posix(), logpath, 0, NULL, NULL,
	    &scan, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	mail_buf_free(&b);
}
END_TEST

/* The last transaction torn at byte _i of it: what came before is
 * delivered, the tail is a torn tail, never mid-log damage. */
static const size_t torn_recs[] = { 2, 1, 3 };
static struct mail_buf torn_buf;
static uint64_t torn_ends[3];

static void
torn_setup(void)
{
	setup();
	mail_buf_reset(&torn_buf);
	build_log(&torn_buf, torn_recs, 3, 21, torn_ends);
}

static void
torn_teardown(void)
{
	mail_buf_free(&torn_buf);
	teardown();
}

START_TEST(test_read_torn_tail)
{
	size_t cut = torn_ends[1] + (size_t)_i;
	struct mail_log_scan scan;
	struct seen s;

	ck_assert_uint_lt(cut, torn_buf.len);
	testlib_write_file(logpath, torn_buf.data, cut);
	scan_file(logpath, 0, &s, &scan);
	assert_prefix(&s, torn_recs, 2);
	ck_assert_uint_eq(scan.end, torn_ends[1]);
	ck_assert_uint_eq(scan.file_size, cut);
	if (_i == 0) {
		ck_assert(!scan.damaged);
	} else {
		ck_assert(scan.damaged);
		ck_assert(!scan.mid_damage);
		ck_assert_uint_ge(scan.damage_off, torn_ends[1]);
	}
	seen_free(&s);
	/* the tail garbled instead of cut (a crash that left zeros) */
	if (_i > 0) {
		struct mail_buf g = MAIL_BUF_INIT;

		mail_buf_append(&g, torn_buf.data, cut);
		memset(g.data + torn_ends[1], 0, cut - torn_ends[1]);
		testlib_write_file(logpath, g.data, g.len);
		scan_file(logpath, 0, &s, &scan);
		assert_prefix(&s, torn_recs, 2);
		ck_assert_uint_eq(scan.end, torn_ends[1]);
		ck_assert(scan.damaged);
		ck_assert(!scan.mid_damage);
		seen_free(&s);
		mail_buf_free(&g);
	}
}
END_TEST

START_TEST(test_read_missing_commit)
{
	struct mail_log_scan scan;
	struct seen s;
	size_t last = torn_buf.len - (MAIL_LOG_REC_MIN + 21);

	/* the last record of the last transaction without its COMMIT flag,
	 * correctly sealed: an interrupted writer */
	ck_assert_uint_eq(torn_buf.data[last + 5], MAIL_REC_COMMIT);
	torn_buf.data[last + 5] = 0;
	reseal(torn_buf.data + last);
	testlib_write_file(logpath, torn_buf.data, torn_buf.len);
	scan_file(logpath, 0, &s, &scan);
	assert_prefix(&s, torn_recs, 2);
	ck_assert_uint_eq(scan.end, torn_ends[1]);
	ck_assert(scan.damaged);
	ck_assert(!scan.mid_damage);
	ck_assert_uint_eq(scan.damage_off, torn_ends[1]);
	ck_assert_uint_eq(scan.file_size, torn_buf.len);
	seen_free(&s);
}
END_TEST

/* Every bit of the first record of a middle transaction flipped: the
 * transactions before it are delivered, and since valid records follow,
 * the damage is reported as mid-log damage (a writer must never cut it
 * as if it were a torn tail). */
START_TEST(test_read_mid_damage)
{
	static const size_t n_recs[] = { 2, 2, 1, 3 };
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t ends[4];
	size_t rec_len = MAIL_LOG_REC_MIN + 45;

	build_log(&b, n_recs, 4, 45, ends);
	for (size_t bit = 0; bit < rec_len * 8; bit++) {
		struct mail_log_scan scan;
		struct seen s;
		size_t at = ends[0] + bit / 8;

		b.data[at] ^= (uint8_t)(1u << (bit % 8));
		testlib_write_file(logpath, b.data, b.len);
		scan_file(logpath, 0, &s, &scan);
		assert_prefix(&s, n_recs, 1);
		ck_assert_uint_eq(scan.end, ends[0]);
		ck_assert_msg(scan.damaged && scan.mid_damage,
		    "bit %zu of the record: damaged %d mid_damage %d", bit,
		    scan.damaged, scan.mid_damage);
		ck_assert_uint_eq(scan.damage_off, ends[0]);
		seen_free(&s);
		b.data[at] ^= (uint8_t)(1u << (bit % 8));
	}
	mail_buf_free(&b);
}
END_TEST

/* Damage in the last record that fits the first 1 MiB read chunk, with
 * the next (valid) record straddling the chunk boundary and many more
 * after it: still mid-log damage. */
START_TEST(test_read_mid_damage_chunk_boundary)
{
	size_t rec_len = 1000, n = 1100, damaged = (CHUNK / rec_len) - 1;
	size_t *n_recs = mail_xcalloc(n, sizeof(*n_recs));
	uint64_t *ends = mail_xcalloc(n, sizeof(*ends));
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_scan scan;
	struct seen s;

	for (size_t i = 0; i < n; i++)
		n_recs[i] = 1;
	build_log(&b, n_recs, n, rec_len - MAIL_LOG_REC_MIN, ends);
	/* record 'damaged' ends inside the first chunk, the next does not */
	ck_assert_uint_le(ends[damaged], MAIL_LOG_HEADER_SIZE + CHUNK);
	ck_assert_uint_gt(ends[damaged + 1], MAIL_LOG_HEADER_SIZE + CHUNK);
	/* a payload byte: a checksum mismatch */
	b.data[ends[damaged - 1] + 100] ^= 0x10;
	testlib_write_file(logpath, b.data, b.len);
	scan_file(logpath, 0, &s, &scan);
	ck_assert_uint_eq(s.n, damaged);
	ck_assert_uint_eq(scan.end, ends[damaged - 1]);
	ck_assert(scan.damaged);
	ck_assert_msg(scan.mid_damage, "damage before a chunk boundary taken "
	    "for a torn tail");
	seen_free(&s);
	b.data[ends[damaged - 1] + 100] ^= 0x10;
	/* a bad length field just before the boundary */
	mail_put_le32(b.data + ends[damaged], 3);
	testlib_write_file(logpath, b.data, b.len);
	scan_file(logpath, 0, &s, &scan);
	ck_assert_uint_eq(s.n, damaged + 1);
	ck_assert(scan.damaged);
	ck_assert_msg(scan.mid_damage, "bad length before a chunk boundary "
	    "taken for a torn tail");
	seen_free(&s);
	mail_buf_free(&b);
	free(n_recs);
	free(ends);
}
END_TEST

/* Transactions bigger than a read chunk, and single records bigger than a
 * read chunk, are delivered whole; torn, they are a torn tail. */
START_TEST(test_read_big_txn)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_log_scan scan;
	struct seen s;
	uint64_t ends[3];
	static const size_t n_recs[] = { 1, 350, 2 };

	/* 350 records of 10 KB: 3.5 MB in one transaction */
	build_log(&b, n_recs, 3, 10000, ends);
	testlib_write_file(logpath, b.data, b.len);
	scan_file(logpath, 0, &s, &scan);
	assert_prefix(&s, n_recs, 3);
	ck_assert_uint_eq(scan.end, b.len);
	ck_assert(!scan.damaged);
	seen_free(&s);
	/* torn in the middle of the big one */
	testlib_write_file(logpath, b.data, ends[0] + (ends[1] - ends[0]) / 2);
	scan_file(logpath, 0, &s, &scan);
	assert_prefix(&s, n_recs, 1);
	ck_assert_uint_eq(scan.end, ends[0]);
	ck_assert(scan.damaged && !scan.mid_damage);
	seen_free(&s);
	/* torn just before the commit record of the big one */
	testlib_write_file(logpath, b.data, ends[1] - 1);
	scan_file(logpath, 0, &s, &scan);
	assert_prefix(&s, n_recs, 1);
	ck_assert(scan.damaged && !scan.mid_damage);
	seen_free(&s);
	mail_buf_free(&b);

	/* one 3 MiB record between small ones */
	{
		struct mail_buf h = MAIL_BUF_INIT;
		uint8_t hdr[MAIL_LOG_HEADER_SIZE] = { 0 };
		size_t big = 3 * CHUNK + 123;

		memcpy(hdr, MAIL_LOG_MAGIC, 8);
		mail_put_le32(hdr + 8, MAIL_LOG_VERSION);
		mail_buf_append(&h, hdr, sizeof(hdr));
		put_rec(&h, 1, true, 1, 0, 10);
		put_rec(&h, 2, true, 2, 0, big);
		put_rec(&h, 3, true, 3, 0, 10);
		testlib_write_file(logpath, h.data, h.len);
		scan_file(logpath, 0, &s, &scan);
		ck_assert_uint_eq(s.n, 3);
		ck_assert_uint_eq(s.modseq[1], 2);
		ck_assert_uint_eq(scan.end, h.len);
		ck_assert(!scan.damaged);
		seen_free(&s);
		mail_buf_free(&h);
	}
}
END_TEST

START_TEST(test_create_append)
{
	struct mail_buf t1 = MAIL_BUF_INIT, t2 = MAIL_BUF_INIT;
	struct mail_log_scan scan;
	struct mail_err err;
	struct seen s;
	uint64_t end;

	ck_assert_int_eq(mail_log_create(mail_fs_posix(), logpath, &err), 0);
	ck_assert_int_eq(testlib_file_size(logpath), MAIL_LOG_HEADER_SIZE);
	ck_assert_int_eq(mail_log_create(mail_fs_posix(), logpath, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_EXISTS);

	put_rec(&t1, 1, false, 1, 0, 5);
	put_rec(&t1, 2, true, 1, 1, 6);
	ck_assert_int_eq(mail_log_append(mail_fs_posix(), logpath,
	    MAIL_LOG_HEADER_SIZE, t1.data, t1.len, &err), 0);
	end = MAIL_LOG_HEADER_SIZE + t1.len;
	ck_assert_int_eq(testlib_file_size(logpath), (int64_t)end);

	/* a torn tail: half of a transaction from a crashed writer */
	put_rec(&t2, 3, false, 2, 0, 50);
	put_rec(&t2, 4, true, 2, 1, 50);
	{
		int fd = open(logpath, O_WRONLY | O_APPEND);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, t2.data, t2.len - 7),
		    (ssize_t)(t2.len - 7));
		close(fd);
	}
	scan_file(logpath, 0, &s, &scan);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(scan.end, end);
	ck_assert(scan.damaged && !scan.mid_damage);
	seen_free(&s);

	/* the next writer cuts it and appends after the last commit */
	mail_buf_reset(&t2);
	put_rec(&t2, 5, true, 2, 0, 8);
	ck_assert_int_eq(mail_log_append(mail_fs_posix(), logpath, scan.end,
	    t2.data, t2.len, &err), 0);
	scan_file(logpath, 0, &s, &scan);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.modseq[2], 2);
	ck_assert_uint_eq(s.off[2], end);
	ck_assert(!scan.damaged);
	ck_assert_uint_eq(scan.end, end + t2.len);
	ck_assert_int_eq(testlib_file_size(logpath), (int64_t)(end + t2.len));
	seen_free(&s);
	mail_buf_free(&t1);
	mail_buf_free(&t2);
}
END_TEST

Suite *test_mail_log_suite(void);
Suite *
test_mail_log_suite(void)
{
	Suite *s = suite_create("mail_log");
	TCase *tc = tcase_create("codec");
	TCase *split = tcase_create("split");
	TCase *rd = tcase_create("read");
	TCase *torn = tcase_create("torn");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_encode_decode_roundtrip);
	tcase_add_test(tc, test_mark_commit);
	tcase_add_test(tc, test_decode_bitflip);
	tcase_add_test(tc, test_decode_bad_lengths);
	suite_add_tcase(s, tc);

	tcase_set_timeout(split, 30);
	tcase_add_checked_fixture(split, split_setup, split_teardown);
	/* split_buf is 40 + 340 + 57 bytes */
	tcase_add_loop_test(split, test_decode_split, 0, 437 + 1);
	tcase_add_test(split, test_decode_byte_at_a_time);
	suite_add_tcase(s, split);

	tcase_set_timeout(rd, 60);
	tcase_add_checked_fixture(rd, setup, teardown);
	tcase_add_test(rd, test_read_clean);
	tcase_add_test(rd, test_read_callback_stops);
	tcase_add_test(rd, test_read_bad_header);
	tcase_add_test(rd, test_read_mid_damage);
	tcase_add_test(rd, test_read_mid_damage_chunk_boundary);
	tcase_add_test(rd, test_read_big_txn);
	tcase_add_test(rd, test_create_append);
	suite_add_tcase(s, rd);

	tcase_set_timeout(torn, 30);
	tcase_add_checked_fixture(torn, torn_setup, torn_teardown);
	/* the last transaction is 3 records of 40 + 21 bytes */
	tcase_add_loop_test(torn, test_read_torn_tail, 0, 3 * 61);
	tcase_add_test(torn, test_read_missing_commit);
	suite_add_tcase(s, torn);
	return s;
}
