/*
 * test_mail_blob.c: the content-addressed body store. Round trips with and
 * without compression (the "level" loop: 0 and 6), dedup, refusal of a
 * body that claims another body's hash, verification on read, abort,
 * reindex (also after a failed write left garbage mid-segment), locking,
 * and durability: after a commit no body, index record or new file may
 * depend on an fsync that was not done (checked with the fault fs).
 */
#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "mail_blob.h"
#include "testlib.h"
#include "testlib_faultfs.h"
#include "testlib_store.h"

static char *tmp, *dir;
static struct testlib_faultfs fault;
static struct mail_blobs *blobs;
static int level;

static struct mail_blobs *
open_blobs(const struct mail_fs *fs)
{
	struct mail_blobs *b = NULL;
	struct mail_err err;

	if (mail_blobs_open(fs, dir, level, &b, &err) < 0)
		ck_abort_msg("open: %s", err.msg);
	return b;
}

static void
setup_level(int lvl)
{
	struct mail_err err;

	level = lvl;
	tmp = testlib_tmpdir();
	dir = mail_xasprintf("%s/blobs", tmp);
	ck_assert_int_eq(mail_blobs_create(mail_fs_posix(), dir, &err), 0);
	testlib_faultfs_init(&fault);
	blobs = open_blobs(&fault.fs);
}

static void
setup(void)
{
	setup_level(0);
}

static void
teardown(void)
{
	mail_blobs_close(&blobs);
	ck_assert_ptr_null(blobs);
	testlib_faultfs_free(&fault);
	testlib_rmdir_r(tmp);
	free(tmp);
	free(dir);
}

/* Body number n of len bytes: compressible text or random bytes. */
static uint8_t *
body(unsigned n, size_t len, bool text)
{
	uint8_t *p = mail_xmalloc(len + 1);
	unsigned seed = n * 7919 + 1;

	for (size_t i = 0; i < len; i++) {
		if (text)
			p[i] = (uint8_t)"Subject: hello world\r\n"[(i + n) % 22];
		else
			p[i] = (uint8_t)rand_r(&seed);
	}
	return p;
}

static void
begin(struct mail_blobs *b)
{
	struct mail_err err;

	if (mail_blobs_begin(b, 1000, &err) < 0)
		ck_abort_msg("begin: %s", err.msg);
}

static void
put_ok(struct mail_blobs *b, const void *data, size_t len,
    struct mail_guid *h)
{
	struct mail_err err;

	mail_guid_hash(data, len, h);
	if (mail_blobs_put(b, data, len, h, &err) < 0)
		ck_abort_msg("put: %s", err.msg);
}

static void
commit_ok(struct mail_blobs *b)
{
	struct mail_err err;

	if (mail_blobs_commit(b, &err) < 0)
		ck_abort_msg("commit: %s", err.msg);
}

static void
get_eq(struct mail_blobs *b, const struct mail_guid *h, const void *data,
    size_t len)
{
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;

	mail_buf_append(&out, "prefix", 6);	/* get appends */
	if (mail_blobs_get(b, h, &out, &err) < 0)
		ck_abort_msg("get: %s", err.msg);
	ck_assert_uint_eq(out.len, 6 + len);
	ck_assert(memcmp(out.data, "prefix", 6) == 0);
	ck_assert(len == 0 || memcmp(out.data + 6, data, len) == 0);
	mail_buf_free(&out);
}

static int
get_fails(struct mail_blobs *b, const struct mail_guid *h)
{
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;

	mail_buf_append(&out, "keep", 4);
	mail_err_clear(&err);
	ck_assert_int_eq(mail_blobs_get(b, h, &out, &err), -1);
	/* a failed get leaves the buffer as it was */
	ck_assert_uint_eq(out.len, 4);
	mail_buf_free(&out);
	return err.code;
}

static uint64_t
seg_bytes(void)
{
	char *segdir = mail_xasprintf("%s/seg", dir);
	DIR *d = opendir(segdir);
	struct dirent *de;
	uint64_t total = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = mail_xasprintf("%s/%s", segdir, de->d_name);
		total += (uint64_t)testlib_file_size(p);
		free(p);
	}
	closedir(d);
	free(segdir);
	return total;
}

/* An unsynced segment or index file (the lock file does not matter). */
static const char *
unsynced(void)
{
	char *seg = mail_xasprintf("%s/seg", dir);
	char *idx = mail_xasprintf("%s/idx", dir);
	const char *p = testlib_faultfs_unsynced(&fault, seg);

	if (p == NULL)
		p = testlib_faultfs_unsynced(&fault, idx);
	free(seg);
	free(idx);
	return p;
}

struct sample {
	size_t len;
	bool text;
};

static const struct sample samples[] = {
	{ 0, true }, { 1, true }, { 511, true }, { 513, true },
	{ 100000, true }, { 100000, false }, { 1024 * 1024 + 7, true },
	{ 3000, false },
};

START_TEST(test_roundtrip)
{
	struct mail_guid h[N_ELEMENTS(samples)];
	uint8_t *data[N_ELEMENTS(samples)];
	struct mail_blobs *other;
	struct mail_err err;
	uint64_t raw = 0;

	begin(blobs);
	for (size_t i = 0; i < N_ELEMENTS(samples); i++) {
		data[i] = body((unsigned)i, samples[i].len, samples[i].text);
		put_ok(blobs, data[i], samples[i].len, &h[i]);
		raw += samples[i].len;
	}
	commit_ok(blobs);
	ck_assert_msg(unsynced() == NULL, "'%s' not durable after commit",
	    unsynced());
	if (level == 0)
		ck_assert_uint_eq(seg_bytes(), raw + 48 * N_ELEMENTS(samples));
	else
		ck_assert_uint_lt(seg_bytes(), raw / 2);
	/* this handle, and another one (another process) */
	other = open_blobs(mail_fs_posix());
	for (size_t i = 0; i < N_ELEMENTS(samples); i++) {
		get_eq(blobs, &h[i], data[i], samples[i].len);
		get_eq(other, &h[i], data[i], samples[i].len);
		ck_assert_int_eq(mail_blobs_has(other, &h[i], &err), 1);
		free(data[i]);
	}
	/* unknown */
	{
		struct mail_guid unknown;

		mail_guid_hash("nope", 4, &unknown);
		ck_assert_int_eq(mail_blobs_has(other, &unknown, &err), 0);
		ck_assert_int_eq(get_fails(other, &unknown), MAIL_ERR_NOTFOUND);
	}
	mail_blobs_close(&other);
}
END_TEST

/* mail_blobs_get_header(): the header section, whatever its size, line
 * ends or the chunking, and the whole message when there is no empty
 * line; the same with and without compression. */
START_TEST(test_get_header)
{
	static const size_t header_lens[] = { 0, 1, 100, 8190, 8191, 8192,
	    8193, 30000, 70000 };
	struct mail_guid h[N_ELEMENTS(header_lens) * 3];
	struct mail_buf msgs[N_ELEMENTS(header_lens) * 3];
	size_t heads[N_ELEMENTS(header_lens) * 3];
	struct mail_err err;
	size_t n = 0;

	begin(blobs);
	for (size_t i = 0; i < N_ELEMENTS(header_lens); i++) {
		for (int kind = 0; kind < 3; kind++) {
			struct mail_buf *m = &msgs[n];
			size_t hl = header_lens[i];

			memset(m, 0, sizeof(*m));
			/* header lines of "X-Fill: ...", then the empty line
			 * (CRLF, LF, or none at all), then a body */
			while (m->len + 10 < hl)
				mail_buf_printf(m, "X-Fill: %zu%s", m->len,
				    kind == 0 ? "\r\n" : "\n");
			if (m->len == 0)
				mail_buf_append_str(m, kind == 0 ? "A: b\r\n" :
				    "A: b\n");
			mail_buf_append_str(m, kind == 0 ? "\r\n" :
			    kind == 1 ? "\n" : "");
			heads[n] = kind == 2 ? 0 : m->len;
			for (size_t k = 0; k < 2000; k++)
				mail_buf_printf(m, "body line %zu\n", k + i);
			if (kind == 2)
				heads[n] = m->len;
			put_ok(blobs, m->data, m->len, &h[n]);
			n++;
		}
	}
	commit_ok(blobs);
	for (size_t i = 0; i < n; i++) {
		struct mail_buf out = MAIL_BUF_INIT;

		mail_buf_append_str(&out, "prefix");
		ck_assert_int_eq(mail_blobs_get_header(blobs, &h[i], &out,
		    &err), 0);
		ck_assert_uint_eq(out.len, 6 + heads[i]);
		ck_assert(memcmp(out.data, "prefix", 6) == 0);
		ck_assert(memcmp(out.data + 6, msgs[i].data, heads[i]) == 0);
		ck_assert_uint_eq(out.data[out.len], 0);
		mail_buf_free(&out);
		mail_buf_free(&msgs[i]);
	}
	{
		struct mail_guid unknown;
		struct mail_buf out = MAIL_BUF_INIT;

		mail_guid_hash("nope", 4, &unknown);
		ck_assert_int_eq(mail_blobs_get_header(blobs, &unknown, &out,
		    &err), -1);
		ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	}
}
END_TEST

START_TEST(test_dedup)
{
	uint8_t *a = body(1, 20000, level > 0), *b = body(2, 700, true);
	struct mail_guid ha, hb;
	uint64_t size;

	begin(blobs);
	put_ok(blobs, a, 20000, &ha);
	put_ok(blobs, a, 20000, &ha);	/* same batch */
	commit_ok(blobs);
	size = seg_bytes();
	begin(blobs);
	put_ok(blobs, a, 20000, &ha);	/* later batch */
	commit_ok(blobs);
	ck_assert_uint_eq(seg_bytes(), size);
	/* another handle too */
	{
		struct mail_blobs *other = open_blobs(mail_fs_posix());

		begin(other);
		put_ok(other, a, 20000, &ha);
		put_ok(other, b, 700, &hb);
		commit_ok(other);
		ck_assert_uint_gt(seg_bytes(), size);
		size = seg_bytes();
		mail_blobs_close(&other);
	}
	begin(blobs);
	put_ok(blobs, b, 700, &hb);
	commit_ok(blobs);
	ck_assert_uint_eq(seg_bytes(), size);
	get_eq(blobs, &ha, a, 20000);
	get_eq(blobs, &hb, b, 700);
	free(a);
	free(b);
}
END_TEST

/* Append a hand-made index record to the shard of hash h. */
static void
forge_index(const struct mail_guid *h, uint32_t seg, uint32_t flags,
    uint64_t off, uint64_t stored, uint64_t raw)
{
	uint8_t rec[56];
	char *path = mail_xasprintf("%s/idx/%02x", dir, h->b[0]);
	struct mail_buf b = MAIL_BUF_INIT;

	memcpy(rec, h->b, 16);
	mail_put_le32(rec + 16, seg);
	mail_put_le32(rec + 20, flags);
	mail_put_le64(rec + 24, off);
	mail_put_le64(rec + 32, stored);
	mail_put_le64(rec + 40, raw);
	mail_put_le64(rec + 48, XXH3_64bits(rec, 48));
	if (testlib_file_size(path) > 0)
		testlib_read_file(path, &b);
	mail_buf_append(&b, rec, sizeof(rec));
	testlib_write_file(path, b.data, b.len);
	mail_buf_free(&b);
	free(path);
}

START_TEST(test_collision_refused)
{
	uint8_t *a = body(1, 3000, true), *b = body(2, 3000, true);
	struct mail_guid ha, hb;
	struct mail_err err;

	begin(blobs);
	put_ok(blobs, a, 3000, &ha);
	commit_ok(blobs);
	/* b presented under a's hash: never shared with a */
	begin(blobs);
	mail_err_clear(&err);
	ck_assert_int_eq(mail_blobs_put(blobs, b, 3000, &ha, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	mail_blobs_abort(blobs);
	get_eq(blobs, &ha, a, 3000);

	/* an index entry that claims b's hash lives where a is: reading it
	 * is an error, never a's bytes; storing b stores a good copy */
	mail_guid_hash(b, 3000, &hb);
	forge_index(&hb, 1, 0, 0, 3000, 3000);
	ck_assert_int_eq(get_fails(blobs, &hb), MAIL_ERR_CORRUPT);
	begin(blobs);
	put_ok(blobs, b, 3000, &hb);
	commit_ok(blobs);
	get_eq(blobs, &hb, b, 3000);
	get_eq(blobs, &ha, a, 3000);
	/* an entry with an impossible size */
	mail_guid_hash("x", 1, &hb);
	forge_index(&hb, 1, 0, 0, UINT64_MAX, UINT64_MAX);
	ck_assert_int_eq(get_fails(blobs, &hb), MAIL_ERR_CORRUPT);
	/* an entry pointing at a missing segment */
	mail_guid_hash("y", 1, &hb);
	forge_index(&hb, 77, 0, 0, 1, 1);
	ck_assert_int_ne(get_fails(blobs, &hb), MAIL_ERR_NONE);
	free(a);
	free(b);
}
END_TEST

/* Corrupt each of a few bytes of a stored body (header and data): get
 * reports MAIL_ERR_CORRUPT; putting the body again stores a good copy. */
START_TEST(test_get_verifies)
{
	uint8_t *a = body(5, 4000, true);
	struct mail_guid ha;
	char *seg = mail_xasprintf("%s/seg/00000001", dir);
	int64_t size;
	static const size_t offs[] = { 0, 4, 8, 23, 24, 32, 40, 47, 48, 100 };

	begin(blobs);
	put_ok(blobs, a, 4000, &ha);
	commit_ok(blobs);
	size = testlib_file_size(seg);
	ck_assert_int_gt(size, 48);
	for (size_t i = 0; i < N_ELEMENTS(offs); i++) {
		testlib_flip(seg, offs[i], 0x20);
		ck_assert_int_eq(get_fails(blobs, &ha), MAIL_ERR_CORRUPT);
		testlib_flip(seg, offs[i], 0x20);
		get_eq(blobs, &ha, a, 4000);
	}
	/* the last byte of the body */
	testlib_flip(seg, (uint64_t)size - 1, 0x01);
	ck_assert_int_eq(get_fails(blobs, &ha), MAIL_ERR_CORRUPT);
	/* a truncated segment */
	testlib_flip(seg, (uint64_t)size - 1, 0x01);
	testlib_truncate(seg, (uint64_t)size - 10);
	ck_assert_int_eq(get_fails(blobs, &ha), MAIL_ERR_CORRUPT);
	/* storing it again repairs it */
	begin(blobs);
	put_ok(blobs, a, 4000, &ha);
	commit_ok(blobs);
	get_eq(blobs, &ha, a, 4000);
	free(seg);
	free(a);
}
END_TEST

START_TEST(test_abort_invisible)
{
	uint8_t *a = body(1, 1000, true), *c = body(3, 1000, false);
	struct mail_guid ha, hc;
	struct mail_blobs *other = open_blobs(mail_fs_posix());
	struct mail_err err;

	begin(blobs);
	put_ok(blobs, a, 1000, &ha);
	commit_ok(blobs);
	begin(blobs);
	put_ok(blobs, c, 1000, &hc);
	/* not visible to others before the commit */
	ck_assert_int_eq(mail_blobs_has(other, &hc, &err), 0);
	mail_blobs_abort(blobs);
	ck_assert_int_eq(mail_blobs_has(blobs, &hc, &err), 0);
	ck_assert_int_eq(mail_blobs_has(other, &hc, &err), 0);
	ck_assert_int_eq(get_fails(blobs, &hc), MAIL_ERR_NOTFOUND);
	get_eq(other, &ha, a, 1000);
	/* the lock was released */
	begin(other);
	mail_blobs_abort(other);
	/* close with an open batch aborts it */
	begin(blobs);
	put_ok(blobs, c, 1000, &hc);
	mail_blobs_close(&blobs);
	ck_assert_int_eq(mail_blobs_has(other, &hc, &err), 0);
	blobs = open_blobs(&fault.fs);
	mail_blobs_close(&other);
	free(a);
	free(c);
}
END_TEST

START_TEST(test_lock)
{
	struct mail_blobs *other = open_blobs(mail_fs_posix());
	struct mail_err err;

	begin(blobs);
	mail_err_clear(&err);
	ck_assert_int_eq(mail_blobs_begin(other, 20, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	commit_ok(blobs);
	begin(other);
	commit_ok(other);
	mail_blobs_close(&other);
}
END_TEST

static void
rm_index(void)
{
	for (unsigned i = 0; i < 256; i++) {
		char *p = mail_xasprintf("%s/idx/%02x", dir, i);

		(void)unlink(p);
		free(p);
	}
}

START_TEST(test_reindex)
{
	enum { N = 40 };
	uint8_t *data[N];
	struct mail_guid h[N];
	struct mail_err err;
	uint64_t n;

	for (unsigned i = 0; i < N; i++) {
		if (i % 7 == 0)
			begin(blobs);
		data[i] = body(i, 100 + i * 97, i % 2 == 0);
		put_ok(blobs, data[i], 100 + i * 97, &h[i]);
		if (i % 7 == 6 || i == N - 1)
			commit_ok(blobs);
	}
	rm_index();
	/* a process that opens the store now finds nothing (this handle
	 * keeps what it has read: bodies never leave a store) */
	{
		struct mail_blobs *fresh = open_blobs(mail_fs_posix());

		for (unsigned i = 0; i < N; i++)
			ck_assert_int_eq(mail_blobs_has(fresh, &h[i], &err),
			    0);
		mail_blobs_close(&fresh);
	}
	ck_assert_int_eq(mail_blobs_reindex(blobs, &n, &err), 0);
	ck_assert_uint_eq(n, N);
	for (unsigned i = 0; i < N; i++)
		get_eq(blobs, &h[i], data[i], 100 + i * 97);
	ck_assert_msg(unsynced() == NULL, "'%s' not durable after reindex",
	    unsynced());
	/* reindex of an intact index changes nothing visible */
	ck_assert_int_eq(mail_blobs_reindex(blobs, &n, &err), 0);
	ck_assert_uint_eq(n, N);
	/* a torn record at the end of the segment is skipped */
	{
		char *seg = mail_xasprintf("%s/seg/00000001", dir);
		int64_t size = testlib_file_size(seg);

		testlib_truncate(seg, (uint64_t)size - 5);
		ck_assert_int_eq(mail_blobs_reindex(blobs, &n, &err), 0);
		ck_assert_uint_eq(n, N - 1);
		free(seg);
	}
	for (unsigned i = 0; i + 1 < N; i++)
		get_eq(blobs, &h[i], data[i], 100 + i * 97);
	for (unsigned i = 0; i < N; i++)
		free(data[i]);
}
END_TEST

/* A put whose write fails (disk full: half the record lands) leaves
 * garbage in the middle of the segment once later batches append after
 * it. Reindex must find the bodies after the garbage. */
START_TEST(test_reindex_after_failed_write)
{
	uint8_t *a = body(1, 5000, true), *b = body(2, 5000, false),
	    *c = body(3, 6000, true);
	struct mail_guid ha, hb, hc;
	struct mail_err err;
	uint64_t n;

	begin(blobs);
	put_ok(blobs, a, 5000, &ha);
	commit_ok(blobs);
	begin(blobs);
	testlib_faultfs_arm(&fault, TESTLIB_FAULT_WRITE, TESTLIB_FAULT_SHORT, 1,
	    false);
	mail_guid_hash(b, 5000, &hb);
	ck_assert_int_eq(mail_blobs_put(blobs, b, 5000, &hb, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOSPACE);
	ck_assert_uint_ge(fault.faults, 1);
	testlib_faultfs_disarm(&fault);
	mail_blobs_abort(blobs);
	/* space again: the next batch appends after the half record */
	begin(blobs);
	put_ok(blobs, c, 6000, &hc);
	commit_ok(blobs);
	get_eq(blobs, &hc, c, 6000);
	ck_assert_int_eq(mail_blobs_has(blobs, &hb, &err), 0);

	rm_index();
	ck_assert_int_eq(mail_blobs_reindex(blobs, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	get_eq(blobs, &ha, a, 5000);
	get_eq(blobs, &hc, c, 6000);
	ck_assert_int_eq(mail_blobs_has(blobs, &hb, &err), 0);
	free(a);
	free(b);
	free(c);
}
END_TEST

/* Append to segment 1 what a writer that crashed in the middle of a put
 * leaves: the record header of data and the first half of data, or (when
 * the file grew but its blocks were never written) zeros. */
static void
append_torn_record(const uint8_t *data, size_t len, bool zeros)
{
	char *seg = mail_xasprintf("%s/seg/00000001", dir);
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_guid h;
	uint8_t hdr[48];

	testlib_read_file(seg, &b);
	mail_guid_hash(data, len, &h);
	memcpy(hdr, "BLOB", 4);
	mail_put_le32(hdr + 4, 0);
	memcpy(hdr + 8, h.b, 16);
	mail_put_le64(hdr + 24, len);
	mail_put_le64(hdr + 32, len);
	mail_put_le64(hdr + 40, XXH3_64bits(hdr, 40));
	if (zeros) {
		memset(hdr, 0, sizeof(hdr));
		mail_buf_append(&b, hdr, sizeof(hdr));
		mail_buf_append(&b, hdr, sizeof(hdr));
	} else {
		mail_buf_append(&b, hdr, sizeof(hdr));
		mail_buf_append(&b, data, len / 2);
	}
	testlib_write_file(seg, b.data, b.len);
	mail_buf_free(&b);
	free(seg);
}

/* A crash in the middle of a put leaves half a record at the end of the
 * segment; the next batch appends after it. Reindex (check --repair)
 * must find every body after the garbage: it is the only copy of mail
 * whose index records were lost. */
START_TEST(test_reindex_after_crash)
{
	uint8_t *a = body(1, 5000, true), *b = body(2, 5000, false),
	    *c = body(3, 6000, false), *d = body(4, 700, true);
	struct mail_guid ha, hc, hd, hb;
	struct mail_err err;
	uint64_t n;

	begin(blobs);
	put_ok(blobs, a, 5000, &ha);
	commit_ok(blobs);
	append_torn_record(b, 5000, false);
	begin(blobs);
	put_ok(blobs, c, 6000, &hc);
	commit_ok(blobs);
	append_torn_record(b, 5000, true);
	begin(blobs);
	put_ok(blobs, d, 700, &hd);
	commit_ok(blobs);
	get_eq(blobs, &hc, c, 6000);
	get_eq(blobs, &hd, d, 700);

	rm_index();
	ck_assert_int_eq(mail_blobs_reindex(blobs, &n, &err), 0);
	get_eq(blobs, &ha, a, 5000);
	get_eq(blobs, &hc, c, 6000);
	get_eq(blobs, &hd, d, 700);
	ck_assert_uint_eq(n, 3);
	mail_guid_hash(b, 5000, &hb);
	ck_assert_int_eq(mail_blobs_has(blobs, &hb, &err), 0);
	free(a);
	free(b);
	free(c);
	free(d);
}
END_TEST

/* A put that fails in the middle of a batch must not make the commit
 * skip the fsync of the bodies the batch wrote before it; and files the
 * batch created (the first segment, new index shards) must have durable
 * directory entries, also when a failed batch created them. The tracking
 * is never reset here: whatever is unsynced at the end was missed. */
START_TEST(test_failed_put_keeps_durability)
{
	uint8_t *a = body(1, 5000, false), *b = body(2, 5000, false);
	struct mail_guid ha, hb;
	struct mail_err err;

	/* a failed first batch: creates the segment, leaves half a record */
	begin(blobs);
	testlib_faultfs_arm(&fault, TESTLIB_FAULT_WRITE, TESTLIB_FAULT_SHORT, 1,
	    false);
	mail_guid_hash(b, 5000, &hb);
	ck_assert_int_eq(mail_blobs_put(blobs, b, 5000, &hb, &err), -1);
	testlib_faultfs_disarm(&fault);
	mail_blobs_abort(blobs);
	for (int mode = TESTLIB_FAULT_EIO; mode <= TESTLIB_FAULT_SHORT;
	    mode++) {
		begin(blobs);
		/* the first write (a) goes through, the second (b) fails */
		testlib_faultfs_arm(&fault, TESTLIB_FAULT_WRITE,
		    (enum testlib_fault_mode)mode, 2, false);
		a[0] = (uint8_t)mode;
		b[0] = (uint8_t)mode;
		put_ok(blobs, a, 5000, &ha);
		mail_guid_hash(b, 5000, &hb);
		ck_assert_int_eq(mail_blobs_put(blobs, b, 5000, &hb, &err), -1);
		ck_assert_uint_ge(fault.faults, 1);
		testlib_faultfs_disarm(&fault);
		/* the caller goes on without b */
		commit_ok(blobs);
		get_eq(blobs, &ha, a, 5000);
		ck_assert_int_eq(mail_blobs_has(blobs, &hb, &err), 0);
		ck_assert_msg(unsynced() == NULL, "%s: '%s' not durable after "
		    "commit", testlib_fault_mode_name(
		    (enum testlib_fault_mode)mode), unsynced());
	}
	free(a);
	free(b);
}
END_TEST

/* Each fault during a commit: the commit fails cleanly (or succeeds),
 * and afterwards every body committed before is intact, the store takes
 * new bodies, and what the failed batch wrote is either fully readable
 * or absent. */
START_TEST(test_commit_faults)
{
	static const struct {
		enum testlib_fault_kind kind;
		enum testlib_fault_mode mode;
	} faults[] = {
		{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_EIO },
		{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_SHORT },
		{ TESTLIB_FAULT_FSYNC, TESTLIB_FAULT_EIO },
		{ TESTLIB_FAULT_OPEN, TESTLIB_FAULT_EIO },
		{ TESTLIB_FAULT_READ, TESTLIB_FAULT_EIO },
	};
	uint8_t *base = body(100, 3000, true);
	struct mail_guid hbase;
	unsigned runs = 0;

	begin(blobs);
	put_ok(blobs, base, 3000, &hbase);
	commit_ok(blobs);
	for (size_t f = 0; f < N_ELEMENTS(faults); f++) {
		for (unsigned long k = 1;; k++) {
			uint8_t *x = body((unsigned)(f * 1000 + k), 2000, true),
			    *y = body((unsigned)(f * 1000 + k + 500), 2000,
			    false);
			struct mail_guid hx, hy;
			struct mail_err err;
			bool ok;
			struct mail_blobs *check;

			mail_guid_hash(x, 2000, &hx);
			mail_guid_hash(y, 2000, &hy);
			/* what failed runs left unsynced is garbage no
			 * commit depends on */
			testlib_faultfs_forget(&fault);
			testlib_faultfs_arm(&fault, faults[f].kind, faults[f].mode,
			    k, false);
			ok = mail_blobs_begin(blobs, 1000, &err) == 0;
			if (ok) {
				ok = mail_blobs_put(blobs, x, 2000, &hx,
				    &err) == 0 &&
				    mail_blobs_put(blobs, y, 2000, &hy,
				    &err) == 0;
				if (ok)
					ok = mail_blobs_commit(blobs, &err) == 0;
				else
					mail_blobs_abort(blobs);
			}
			testlib_faultfs_disarm(&fault);
			if (ok)
				ck_assert_msg(unsynced() == NULL, "'%s' not "
				    "durable after commit", unsynced());
			check = open_blobs(mail_fs_posix());
			get_eq(check, &hbase, base, 3000);
			if (ok) {
				get_eq(check, &hx, x, 2000);
				get_eq(check, &hy, y, 2000);
			} else {
				struct mail_buf out = MAIL_BUF_INIT;

				/* absent, or intact: never wrong bytes */
				if (mail_blobs_get(check, &hx, &out, &err) == 0)
					ck_assert(out.len == 2000 &&
					    memcmp(out.data, x, 2000) == 0);
				mail_buf_free(&out);
			}
			/* the store takes new bodies */
			begin(check);
			put_ok(check, x, 2000, &hx);
			commit_ok(check);
			get_eq(check, &hx, x, 2000);
			mail_blobs_close(&check);
			free(x);
			free(y);
			runs++;
			if (fault.faults == 0)
				break;
			ck_assert_uint_lt(k, 1000);
		}
	}
	ck_assert_uint_gt(runs, 10);
	free(base);
}
END_TEST

static void
setup6(void)
{
	setup_level(6);
}

Suite *test_mail_blob_suite(void);
Suite *
test_mail_blob_suite(void)
{
	Suite *s = suite_create("mail_blob");
	TCase *tc = tcase_create("core");
	TCase *z = tcase_create("zlib");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_get_header);
	tcase_add_test(tc, test_dedup);
	tcase_add_test(tc, test_collision_refused);
	tcase_add_test(tc, test_get_verifies);
	tcase_add_test(tc, test_abort_invisible);
	tcase_add_test(tc, test_lock);
	tcase_add_test(tc, test_reindex);
	tcase_add_test(tc, test_reindex_after_failed_write);
	tcase_add_test(tc, test_reindex_after_crash);
	tcase_add_test(tc, test_failed_put_keeps_durability);
	tcase_add_test(tc, test_commit_faults);
	suite_add_tcase(s, tc);

	/* the same with zlib level 6 */
	tcase_set_timeout(z, 60);
	tcase_add_checked_fixture(z, setup6, teardown);
	tcase_add_test(z, test_roundtrip);
	tcase_add_test(z, test_get_header);
	tcase_add_test(z, test_dedup);
	tcase_add_test(z, test_collision_refused);
	tcase_add_test(z, test_get_verifies);
	tcase_add_test(z, test_reindex);
	tcase_add_test(z, test_reindex_after_failed_write);
	tcase_add_test(z, test_reindex_after_crash);
	tcase_add_test(z, test_commit_faults);
	suite_add_tcase(s, z);
	return s;
}
