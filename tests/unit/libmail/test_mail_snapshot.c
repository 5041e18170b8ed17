/*
 * test_mail_snapshot.c: the index snapshot. A state with several
 * mailboxes, 10,000 messages, keywords, private flags, metadata, ACLs,
 * subscriptions, deleted mailboxes, tombstones, used UIDs and replication
 * clocks survives write and read exactly (same dump, clocks and modseqs
 * included, and re-serializing the loaded state gives the same bytes). Any
 * damage to a snapshot is MAIL_ERR_CORRUPT; even damage with a valid
 * checksum (crafted) must never crash the reader.
 */
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "mail_dump.h"
#include "mail_snapshot.h"
#include "testlib.h"

/* the log mark read back by every mail_snapshot_read() here */
static uint64_t snap_mark;
#include "testlib_store.h"

#define S(x)	((char *)(uintptr_t)(x))
#define U8(x)	((uint8_t *)(uintptr_t)(x))

static char *tmp, *path, *path2;

static void
setup(void)
{
	tmp = testlib_tmpdir();
	path = mail_xasprintf("%s/index", tmp);
	path2 = mail_xasprintf("%s/index2", tmp);
}

static void
teardown(void)
{
	testlib_rmdir_r(tmp);
	free(tmp);
	free(path);
	free(path2);
}

struct builder {
	struct mail_state *st;
	uint64_t modseq;
};

static struct mail_guid
G(uint32_t n)
{
	struct mail_guid g;

	memset(&g, 0, sizeof(g));
	mail_put_le32(g.b, n);
	g.b[15] = (uint8_t)(n * 7 + 1);
	return g;
}

static void
put(struct builder *b, struct mail_rec *rec)
{
	rec->modseq = ++b->modseq;
	if (rec->hlc == 0)
		rec->hlc = (b->modseq << 16) | 3;
	if (rec->node == 0)
		rec->node = 0xabcdef;
	mail_state_apply(b->st, rec);
}

static void
b_create(struct builder *b, uint32_t g, const char *name, uint32_t uv)
{
	struct mail_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MAILBOX_CREATE;
	rec.mailbox = G(g);
	rec.name = S(name);
	rec.uidvalidity = uv;
	put(b, &rec);
}

static void
b_simple(struct builder *b, enum mail_rec_type type, uint32_t g,
    const char *name, const void *value, size_t value_len)
{
	struct mail_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = type;
	if (g != 0)
		rec.mailbox = G(g);
	rec.name = S(name);
	rec.value = U8(value);
	rec.value_len = value_len;
	rec.on = true;
	put(b, &rec);
}

static void
b_meta(struct builder *b, uint32_t g, uint32_t uid, const char *user,
    const char *key, const void *value, size_t len)
{
	struct mail_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_METADATA;
	if (g != 0)
		rec.mailbox = G(g);
	rec.uid = uid;
	rec.user = S(user);
	rec.name = S(key);
	rec.has_value = value != NULL;
	rec.value = U8(value);
	rec.value_len = len;
	put(b, &rec);
}

static void
b_msgs(struct builder *b, uint32_t g, uint32_t n, char **kw, size_t n_kw)
{
	for (uint32_t u = 1; u <= n; u++) {
		struct mail_rec rec;
		char *mine[4];
		size_t k = 0;

		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MSG_ADD;
		rec.mailbox = G(g);
		rec.uid = u * 2;	/* gaps */
		rec.guid = G(g * 100000 + u);
		rec.body = G(u % 977);	/* shared bodies */
		rec.inst_node = 0x1000 + g;
		rec.inst_hlc = ((uint64_t)u << 16) | g;
		rec.flags = (uint16_t)(u % 32);
		rec.idate = (int64_t)u * 86400 - 1000000000;
		rec.sdate = 1700000000 + u;
		rec.size = 1000 + u * 3;
		for (size_t i = 0; i < n_kw && k < 4; i++) {
			if ((u >> i) & 1)
				mine[k++] = kw[(i + u) % n_kw];
		}
		rec.keywords = mine;
		rec.n_keywords = k;
		put(b, &rec);
	}
}

/* A MSG_PUT of message u of b_msgs(g) (its key) at uid, with clocks. */
static void
b_put(struct builder *b, uint32_t g, uint32_t u, uint32_t uid,
    uint64_t uid_hlc, uint64_t flags_hlc, uint16_t flags)
{
	struct mail_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_PUT;
	rec.mailbox = G(g);
	rec.uid = uid;
	rec.guid = G(g * 100000 + u);
	rec.body = G(u % 977);
	rec.inst_node = 0x1000 + g;
	rec.inst_hlc = ((uint64_t)u << 16) | g;
	rec.uid_hlc = uid_hlc;
	rec.uid_node = 0x77;
	rec.flags_hlc = flags_hlc;
	rec.flags_node = 0x78;
	rec.flags = flags;
	rec.size = 1000 + u * 3;
	put(b, &rec);
}

static void
b_tomb(struct builder *b, uint32_t g, uint32_t u)
{
	struct mail_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_TOMB;
	rec.mailbox = G(g);
	rec.guid = G(g * 100000 + u);
	rec.inst_node = 0x1000 + g;
	rec.inst_hlc = ((uint64_t)u << 16) | g;
	put(b, &rec);
}

static void
b_uids(struct builder *b, enum mail_rec_type type, uint32_t g,
    const char *user, const char *set, uint8_t op, uint16_t flags)
{
	struct mail_rec rec;
	struct mail_err err;

	memset(&rec, 0, sizeof(rec));
	rec.type = type;
	rec.mailbox = G(g);
	rec.user = S(user);
	rec.op = op;
	rec.flags = flags;
	rec.mask = MAIL_FLAGS_ALL;
	ck_assert_int_eq(mail_uidset_parse(set, 0, &rec.uids, &err), 0);
	put(b, &rec);
	mail_uidset_free(&rec.uids);
}

/* The big state of the brief: 10,000 messages and one of everything. */
static struct mail_state *
build_big(void)
{
	struct builder b = { mail_state_new(), 0 };
	char *kw[20];
	static const uint8_t bin[] = { 0, 1, 2, 0xff, 0, '"', '\\', '\n' };
	size_t total = 0;

	for (size_t i = 0; i < N_ELEMENTS(kw); i++)
		kw[i] = mail_xasprintf("%s%zu", i % 2 ? "$Label" : "kw", i);
	b_create(&b, 1, "INBOX", 1000);
	b_create(&b, 2, "Archive/2023", 1001);
	b_create(&b, 3, "\xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9", 1002);
	b_create(&b, 4, "Shared", 1003);
	b_create(&b, 5, "Empty", 1004);
	b_create(&b, 6, "Gone", 1005);
	b_create(&b, 7, "Gone too", 1006);
	b_msgs(&b, 6, 30, kw, 3);
	b_simple(&b, MAIL_REC_MAILBOX_DELETE, 6, NULL, NULL, 0);
	b_simple(&b, MAIL_REC_MAILBOX_DELETE, 8, NULL, NULL, 0);
	b_simple(&b, MAIL_REC_MAILBOX_DELETE, 7, NULL, NULL, 0);
	b_simple(&b, MAIL_REC_MAILBOX_RENAME, 2, "Archive/Y2023", NULL, 0);
	b_simple(&b, MAIL_REC_MAILBOX_ATTR, 2, "specialuse", "\\Archive", 8);
	b_simple(&b, MAIL_REC_MAILBOX_ATTR, 4, "pvtflags", "3", 1);
	b_simple(&b, MAIL_REC_SUBSCRIBE, 0, "INBOX", NULL, 0);
	b_simple(&b, MAIL_REC_SUBSCRIBE, 0, "Shared", NULL, 0);
	b_simple(&b, MAIL_REC_SUBSCRIBE, 0, "Not/There", NULL, 0);
	b_simple(&b, MAIL_REC_SUBSCRIBE, 0, "Was/There", NULL, 0);
	{
		struct mail_rec rec;

		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_SUBSCRIBE;
		rec.name = S("Was/There");
		put(&b, &rec);
	}
	b_msgs(&b, 1, 6000, kw, 20);
	b_msgs(&b, 2, 2000, kw, 5);
	b_msgs(&b, 3, 1500, NULL, 0);
	b_msgs(&b, 4, 520, kw + 3, 2);
	b_uids(&b, MAIL_REC_MSG_EXPUNGE, 4, NULL, "2:40", 0, 0);
	/* replicated: renumbered, flags from elsewhere, dead keys */
	b_put(&b, 2, 7, 5000, (uint64_t)1 << 62, 3, MAIL_SEEN);
	b_put(&b, 2, 8, 16, 1, (uint64_t)1 << 61, MAIL_FLAGGED);
	b_put(&b, 2, 9000, 4002, 5, 5, 0);
	b_tomb(&b, 2, 9);
	b_tomb(&b, 2, 9999);
	b_uids(&b, MAIL_REC_MSG_FLAGS, 1, NULL, "100:4000", MAIL_FLAGS_ADD,
	    MAIL_DELETED);
	b_uids(&b, MAIL_REC_PVT_FLAGS, 4, "bob", "1:1040", MAIL_FLAGS_ADD,
	    MAIL_SEEN);
	b_uids(&b, MAIL_REC_PVT_FLAGS, 4, "carol", "500:700", MAIL_FLAGS_ADD,
	    MAIL_SEEN | MAIL_ANSWERED);
	b_uids(&b, MAIL_REC_PVT_FLAGS, 4, "carol", "600", MAIL_FLAGS_REMOVE,
	    MAIL_SEEN | MAIL_ANSWERED);
	b_simple(&b, MAIL_REC_ACL, 4, "bob", "lrs", 3);
	b_simple(&b, MAIL_REC_ACL, 4, "anyone", "l", 1);
	b_simple(&b, MAIL_REC_ACL, 4, "-carol", "w", 1);
	b_simple(&b, MAIL_REC_ACL, 1, "dave", "lrswipkxtea", 11);
	b_meta(&b, 0, 0, "", "/shared/admin", "mailto:root@example.org", 23);
	b_meta(&b, 0, 0, "alice", "/private/vendor/x", bin, sizeof(bin));
	b_meta(&b, 0, 0, "", "/shared/deleted", "x", 1);
	b_meta(&b, 0, 0, "", "/shared/deleted", NULL, 0);
	b_meta(&b, 1, 0, "", "/shared/comment", "the inbox", 9);
	b_meta(&b, 1, 2, "alice", "/private/note", bin, sizeof(bin));
	b_meta(&b, 1, 4, "", "/shared/comment", "", 0);
	b_meta(&b, 3, 0, "bob", "/private/color", NULL, 0);
	for (size_t i = 0; i < N_ELEMENTS(kw); i++)
		free(kw[i]);
	for (size_t i = 0; i < b.st->n_mailboxes; i++)
		total += b.st->mailboxes[i]->n_msgs;
	ck_assert_uint_eq(total, 6000 + 2000 + 1500 + 520 - 20 + 1 - 1);
	return b.st;
}

static char *
dump(const struct mail_state *st)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_dump_state("u", st, &b);
	return mail_buf_steal_str(&b);
}

static char *
dump_flags(const struct mail_state *st, unsigned flags)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_dump_state_flags("u", st, flags, &b);
	return mail_buf_steal_str(&b);
}

static char *
dump_full(const struct mail_state *st)
{
	return dump_flags(st, MAIL_DUMP_CLOCKS | MAIL_DUMP_LOCAL);
}

static void
write_ok(const char *p, const struct mail_state *st, uint64_t end)
{
	struct mail_err err;

	if (mail_snapshot_write(mail_fs_posix(), p, st, end, end ^ 0x5a5a,
	    &err) < 0)
		ck_abort_msg("write: %s", err.msg);
}

START_TEST(test_roundtrip_big)
{
	struct mail_state *st = build_big(), *st2 = NULL;
	struct mail_buf f1 = MAIL_BUF_INIT, f2 = MAIL_BUF_INIT;
	struct mail_err err;
	uint64_t end = 0;
	char *d1, *d2;

	write_ok(path, st, 0x123456789ull);
	ck_assert_int_eq(mail_snapshot_read(mail_fs_posix(), path, &st2, &end,
	    &snap_mark, &err), 0);
	ck_assert_uint_eq(end, 0x123456789ull);
	ck_assert_uint_eq(snap_mark, 0x123456789ull ^ 0x5a5a);
	d1 = dump(st);
	d2 = dump(st2);
	ck_assert_uint_gt(strlen(d1), 10000 * 100);
	ck_assert_str_eq(d1, d2);
	free(d1);
	free(d2);
	/* what replication sees, and the local modseqs */
	d1 = dump_full(st);
	d2 = dump_full(st2);
	ck_assert_ptr_nonnull(strstr(d1, "unsubscribed \"Was/There\""));
	ck_assert_ptr_nonnull(strstr(d1, "  tomb "));
	ck_assert_ptr_nonnull(strstr(d1, "  gone "));
	ck_assert_ptr_nonnull(strstr(d1, " deleted 1 "));
	ck_assert_ptr_nonnull(strstr(d1, " uid-clock 4000000000000000:77 "));
	ck_assert_str_eq(d1, d2);
	/* what the dump leaves out survives too: the same bytes again */
	write_ok(path2, st2, end);
	testlib_read_file(path, &f1);
	testlib_read_file(path2, &f2);
	ck_assert_uint_eq(f1.len, f2.len);
	ck_assert(memcmp(f1.data, f2.data, f1.len) == 0);
	/* and the counts that are rebuilt, not stored */
	ck_assert_uint_eq(st2->n_mailboxes, st->n_mailboxes);
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		ck_assert_uint_eq(st2->mailboxes[i]->n_unseen,
		    st->mailboxes[i]->n_unseen);
		ck_assert_uint_eq(st2->mailboxes[i]->total_size,
		    st->mailboxes[i]->total_size);
		ck_assert_uint_eq(st2->mailboxes[i]->highestmodseq,
		    st->mailboxes[i]->highestmodseq);
	}
	ck_assert_uint_eq(st2->modseq, st->modseq);
	ck_assert_uint_eq(st2->hlc, st->hlc);
	ck_assert_uint_eq(st2->last_uidvalidity, st->last_uidvalidity);
	{
		size_t n_deleted = 0;

		for (size_t i = 0; i < st2->n_mailboxes; i++)
			n_deleted += st2->mailboxes[i]->deleted;
		ck_assert_uint_eq(n_deleted, 3);	/* one never created */
	}
	/* the loaded state keeps working: apply to both, still equal */
	{
		struct builder b1 = { st, st->modseq }, b2 = { st2, st2->modseq };

		b_uids(&b1, MAIL_REC_MSG_EXPUNGE, 1, NULL, "1:100", 0, 0);
		b_uids(&b2, MAIL_REC_MSG_EXPUNGE, 1, NULL, "1:100", 0, 0);
		b_create(&b1, 9, "New", 2000);
		b_create(&b2, 9, "New", 2000);
		b_create(&b1, 7, "Back", 1006);	/* undeleted */
		b_create(&b2, 7, "Back", 1006);
		b_put(&b1, 2, 1, 7000, (uint64_t)1 << 62, 1, 0);
		b_put(&b2, 2, 1, 7000, (uint64_t)1 << 62, 1, 0);
		b_tomb(&b1, 2, 2);
		b_tomb(&b2, 2, 2);
		free(d1);
		free(d2);
		d1 = dump_full(st);
		d2 = dump_full(st2);
		ck_assert_str_eq(d1, d2);
		ck_assert_ptr_nonnull(strstr(d1, "mailbox \"Back\""));
		b_create(&b2, 6, "Gone", 2001);	/* still deleted */
		{
			struct mail_guid g6 = G(6);

			ck_assert(mail_state_guid_deleted(st2, &g6));
		}
	}
	free(d1);
	free(d2);
	mail_buf_free(&f1);
	mail_buf_free(&f2);
	mail_state_free(&st);
	mail_state_free(&st2);
}
END_TEST

START_TEST(test_empty_state)
{
	struct mail_state *st = mail_state_new(), *st2 = NULL;
	struct mail_err err;
	uint64_t end;
	char *d1, *d2;

	write_ok(path, st, 16);
	ck_assert_int_eq(mail_snapshot_read(mail_fs_posix(), path, &st2, &end,
	    &snap_mark, &err), 0);
	ck_assert_uint_eq(end, 16);
	d1 = dump(st);
	d2 = dump(st2);
	ck_assert_str_eq(d1, d2);
	free(d1);
	free(d2);
	mail_state_free(&st);
	mail_state_free(&st2);
	/* no snapshot */
	ck_assert_int_eq(mail_snapshot_read(mail_fs_posix(), path2, &st2, &end,
	    &snap_mark, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_ptr_null(st2);
}
END_TEST

/* A small state with one of each part, for the damage tests. */
static struct mail_buf small_snap;

static void
small_setup(void)
{
	struct builder b = { mail_state_new(), 0 };
	char *kw[] = { S("Junk") };

	setup();
	b_create(&b, 1, "INBOX", 7);
	b_create(&b, 2, "X", 8);
	b_msgs(&b, 2, 1, NULL, 0);
	b_simple(&b, MAIL_REC_MAILBOX_DELETE, 2, NULL, NULL, 0);
	/* two messages (uids 2, 8) after an expunge and a renumbering */
	b_msgs(&b, 1, 3, kw, 1);
	b_uids(&b, MAIL_REC_MSG_EXPUNGE, 1, NULL, "6", 0, 0);
	b_put(&b, 1, 2, 8, (uint64_t)1 << 40, 1, 0);
	b_tomb(&b, 1, 77);
	b_simple(&b, MAIL_REC_MAILBOX_ATTR, 1, "specialuse", "\\Sent", 5);
	b_uids(&b, MAIL_REC_PVT_FLAGS, 1, "bob", "2", MAIL_FLAGS_ADD,
	    MAIL_SEEN);
	b_simple(&b, MAIL_REC_ACL, 1, "bob", "lr", 2);
	b_simple(&b, MAIL_REC_SUBSCRIBE, 0, "INBOX", NULL, 0);
	{
		struct mail_rec rec;

		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_SUBSCRIBE;
		rec.name = S("Old");
		put(&b, &rec);
	}
	b_meta(&b, 0, 0, "", "/shared/a", "b", 1);
	b_meta(&b, 1, 2, "", "/shared/c", "d", 1);
	write_ok(path, b.st, 1234);
	mail_state_free(&b.st);
	mail_buf_reset(&small_snap);
	testlib_read_file(path, &small_snap);
}

static void
small_teardown(void)
{
	mail_buf_free(&small_snap);
	teardown();
}

static void
expect_corrupt(const void *data, size_t len, const char *what, size_t at)
{
	struct mail_state *st = NULL;
	struct mail_err err;
	uint64_t end = 0;

	testlib_write_file(path2, data, len);
	mail_err_clear(&err);
	ck_assert_msg(mail_snapshot_read(mail_fs_posix(), path2, &st, &end,
	    &snap_mark, &err) == -1, "%s at %zu: accepted", what, at);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	ck_assert_ptr_null(st);
}

/* The dump without its message lines: what the checksum protects. */
static char *
dump_but_msgs(const struct mail_state *st)
{
	char *d = dump(st), *out = mail_xstrdup(d), *w = out;

	for (const char *line = d; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		size_t n = nl != NULL ? (size_t)(nl - line) + 1 : strlen(line);

		if (strncmp(line, "  msg ", 6) != 0) {
			memcpy(w, line, n);
			w += n;
		}
		line += n;
	}
	*w = '\0';
	free(d);
	return out;
}

/* Every flipped byte is refused, except inside the message arrays, which
 * the checksum leaves out by design (see mail_snapshot.c; check finds
 * such damage by comparing with the log): there, everything else must
 * come through unchanged. */
START_TEST(test_damage_flip)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_state *orig = NULL;
	struct mail_err err;
	uint64_t end;
	size_t accepted = 0;
	char *want;

	ck_assert_uint_gt(small_snap.len, 200);
	testlib_write_file(path2, small_snap.data, small_snap.len);
	ck_assert_int_eq(mail_snapshot_read(mail_fs_posix(), path2, &orig,
	    &end, &snap_mark, &err), 0);
	want = dump_but_msgs(orig);
	mail_state_free(&orig);
	mail_buf_append(&b, small_snap.data, small_snap.len);
	for (size_t i = 0; i < b.len; i++) {
		static const uint8_t masks[] = { 0x01, 0x80, 0xff };

		for (size_t m = 0; m < N_ELEMENTS(masks); m++) {
			struct mail_state *st = NULL;

			b.data[i] ^= masks[m];
			testlib_write_file(path2, b.data, b.len);
			if (mail_snapshot_read(mail_fs_posix(), path2, &st,
			    &end, &snap_mark, &err) == 0) {
				char *got = dump_but_msgs(st);

				ck_assert_msg(strcmp(got, want) == 0,
				    "flip at %zu changed more than messages",
				    i);
				free(got);
				mail_state_free(&st);
				accepted++;
			} else {
				ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
			}
			b.data[i] ^= masks[m];
		}
	}
	/* exactly the array of INBOX's two messages and its 16 free slots
	 * is outside the checksum, for each of the three masks */
	ck_assert_uint_eq(accepted, 3 * (2 + 16) * sizeof(struct mail_msg));
	free(want);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_damage_truncate)
{
	for (size_t n = 0; n < small_snap.len; n++)
		expect_corrupt(small_snap.data, n, "truncated", n);
	/* and one byte too many */
	{
		struct mail_buf b = MAIL_BUF_INIT;

		mail_buf_append(&b, small_snap.data, small_snap.len);
		mail_buf_put_u8(&b, 0);
		expect_corrupt(b.data, b.len, "extended", b.len);
		mail_buf_free(&b);
	}
}
END_TEST

/* Damage that a checksum can not see (crafted, or a bug in a writer):
 * every byte of the body changed. The whole body is parsed before the
 * checksum is compared, so each of these exercises the parser on bad
 * bytes. The reader may accept (inside message arrays) or refuse, but
 * must not crash, leak or hand out a state that can not be dumped and
 * freed. Run under ASan. */
START_TEST(test_damage_resealed)
{
	struct mail_buf b = MAIL_BUF_INIT;
	size_t accepted = 0;

	mail_buf_append(&b, small_snap.data, small_snap.len);
	for (size_t i = 32; i + 8 < b.len; i++) {
		static const uint8_t masks[] = { 0x01, 0x40, 0x80, 0xff };

		for (size_t m = 0; m < N_ELEMENTS(masks); m++) {
			struct mail_state *st = NULL;
			struct mail_err err;
			uint64_t end;
			int r;

			b.data[i] ^= masks[m];
			testlib_write_file(path2, b.data, b.len);
			r = mail_snapshot_read(mail_fs_posix(), path2, &st,
			    &end, &snap_mark, &err);
			if (r == 0) {
				char *d = dump(st);

				free(d);
				mail_state_free(&st);
				accepted++;
			} else {
				ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
				ck_assert_ptr_null(st);
			}
			b.data[i] ^= masks[m];
		}
	}
	/* changes inside the message arrays are accepted */
	ck_assert_uint_gt(accepted, 0);
	mail_buf_free(&b);
}
END_TEST

/* Counts that claim more items than the file could hold are refused
 * before allocating. */
START_TEST(test_hostile_counts)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_state *st = NULL;
	struct mail_err err;
	uint64_t end;

	mail_buf_append(&b, small_snap.data, 32);
	mail_buf_put_varint(&b, 1);	/* modseq */
	mail_buf_put_varint(&b, 1);	/* hlc */
	mail_buf_put_varint(&b, 1);	/* last uidvalidity */
	mail_buf_put_varint(&b, UINT64_MAX / 2);	/* subscriptions */
	mail_buf_put_le64(&b, XXH3_64bits(b.data, b.len));
	testlib_write_file(path2, b.data, b.len);
	ck_assert_int_eq(mail_snapshot_read(mail_fs_posix(), path2, &st, &end,
	    &snap_mark, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	mail_buf_free(&b);
}
END_TEST

Suite *test_mail_snapshot_suite(void);
Suite *
test_mail_snapshot_suite(void)
{
	Suite *s = suite_create("mail_snapshot");
	TCase *tc = tcase_create("roundtrip");
	TCase *dmg = tcase_create("damage");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_roundtrip_big);
	tcase_add_test(tc, test_empty_state);
	suite_add_tcase(s, tc);

	tcase_set_timeout(dmg, 120);
	tcase_add_checked_fixture(dmg, small_setup, small_teardown);
	tcase_add_test(dmg, test_damage_flip);
	tcase_add_test(dmg, test_damage_truncate);
	tcase_add_test(dmg, test_damage_resealed);
	tcase_add_test(dmg, test_hostile_counts);
	suite_add_tcase(s, dmg);
	return s;
}
