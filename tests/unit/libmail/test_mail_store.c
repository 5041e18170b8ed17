/*
 * test_mail_store.c: stores, users and transactions. Init and open
 * errors; user add, delete and list; a transaction's changes are seen by
 * other handles only after commit (and refresh); rollback; the user lock;
 * torn tails are cut by the next writer while mid-log damage stops
 * writers; snapshots written after many commits give, on reopen, exactly
 * the state a full rebuild from the log gives.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_check.h"
#include "mail_dump.h"
#include "mail_ops.h"
#include "mail_snapshot.h"
#include "testlib.h"
#include "testlib_store.h"

static char *tmp, *path;
static struct mail_store *store;

static void
setup(void)
{
	struct mail_err err;

	tmp = testlib_tmpdir();
	path = mail_xasprintf("%s/store", tmp);
	store = testlib_store_create(path, 0);
	ck_assert_int_eq(mail_store_user_add(store, "alice", &err), 0);
}

static void
teardown(void)
{
	mail_store_close(&store);
	ck_assert_ptr_null(store);
	testlib_rmdir_r(tmp);
	free(tmp);
	free(path);
}

static struct mail_user *
user_open(const char *name)
{
	struct mail_user *u = NULL;
	struct mail_err err;

	if (mail_user_open(store, name, false, &u, &err) < 0)
		ck_abort_msg("open '%s': %s", name, err.msg);
	return u;
}

static struct mail_txn *
begin(struct mail_user *u)
{
	struct mail_txn *t = NULL;
	struct mail_err err;

	if (mail_txn_begin(u, &t, &err) < 0)
		ck_abort_msg("begin: %s", err.msg);
	return t;
}

static void
commit(struct mail_txn **t)
{
	struct mail_err err;

	if (mail_txn_commit(t, &err) < 0)
		ck_abort_msg("commit: %s", err.msg);
	ck_assert_ptr_null(*t);
}

static struct mail_mailbox *
mbox(struct mail_user *u, const char *name)
{
	return mail_state_mailbox_by_name(mail_user_state(u), name);
}

static uint32_t
save(struct mail_txn *t, struct mail_mailbox *mb, const char *text)
{
	struct mail_save_opts opts;
	struct mail_err err;
	uint32_t uid;

	memset(&opts, 0, sizeof(opts));
	if (mail_op_save(t, mb, text, strlen(text), &opts, &uid, NULL,
	    &err) < 0)
		ck_abort_msg("save: %s", err.msg);
	return uid;
}

static void
create(struct mail_txn *t, const char *name)
{
	struct mail_err err;

	if (mail_op_mailbox_create(t, name, NULL, NULL, &err) < 0)
		ck_abort_msg("create '%s': %s", name, err.msg);
}

START_TEST(test_init_open)
{
	struct mail_store *s2 = NULL;
	struct mail_err err;
	char *p2 = mail_xasprintf("%s/other", tmp);
	char *file = mail_xasprintf("%s/dsync-store", path);

	/* twice: EXISTS, and the first store is untouched */
	mail_err_clear(&err);
	ck_assert_int_eq(mail_store_init(path, 0, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_EXISTS);
	ck_assert_uint_ne(mail_store_node_id(store), 0);
	ck_assert_str_eq(mail_store_path(store), path);
	ck_assert_ptr_nonnull(mail_store_blobs(store));
	ck_assert_ptr_eq(mail_store_fs(store), mail_fs_posix());
	/* bad compression levels */
	ck_assert_int_eq(mail_store_init(p2, 10, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_store_init(p2, -1, &err), -1);
	/* no store there */
	ck_assert_int_eq(mail_store_open(p2, NULL, &s2, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_ptr_null(s2);
	/* two stores get different node ids */
	ck_assert_int_eq(mail_store_init(p2, 9, &err), 0);
	ck_assert_int_eq(mail_store_open(p2, NULL, &s2, &err), 0);
	ck_assert_uint_ne(mail_store_node_id(s2), mail_store_node_id(store));
	mail_store_close(&s2);
	mail_store_close(&s2);	/* NULL-safe */
	/* a damaged store file */
	testlib_write_file(file, "dsync-store 1\n", 14);
	ck_assert_int_eq(mail_store_open(path, NULL, &s2, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	testlib_write_file(file, "dsync-store 2\nnode_id 1\n", 24);
	ck_assert_int_eq(mail_store_open(path, NULL, &s2, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	testlib_write_file(file, "dsync-store 1\nnode_id 0\n", 24);
	ck_assert_int_eq(mail_store_open(path, NULL, &s2, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	testlib_write_file(file, "dsync-store 1\nnode_id abc\ncompress 3\n",
	    37);
	ck_assert_int_eq(mail_store_open(path, NULL, &s2, &err), 0);
	ck_assert_uint_eq(mail_store_node_id(s2), 0xabc);
	mail_store_close(&s2);
	free(p2);
	free(file);
}
END_TEST

START_TEST(test_users)
{
	struct mail_user *u = NULL;
	struct mail_err err;
	char **names;
	size_t n;

	mail_err_clear(&err);
	ck_assert_int_eq(mail_store_user_add(store, "alice", &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_EXISTS);
	ck_assert_int_eq(mail_store_user_add(store, "bob", &err), 0);
	ck_assert_int_eq(mail_store_user_add(store, "Carol@x.org", &err), 0);
	ck_assert_int_eq(mail_store_user_add(store, ".public", &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_store_user_add(store, "../evil", &err), -1);
	ck_assert_int_eq(mail_store_user_add(store, "", &err), -1);
	ck_assert_int_eq(mail_store_user_list(store, &names, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[0], "Carol@x.org");
	ck_assert_str_eq(names[1], "alice");
	ck_assert_str_eq(names[2], "bob");
	mail_store_user_list_free(names, n);

	/* a new user has an empty INBOX */
	u = user_open("bob");
	ck_assert_uint_eq(mail_user_state(u)->n_mailboxes, 1);
	ck_assert_ptr_nonnull(mbox(u, "INBOX"));
	ck_assert_uint_eq(mbox(u, "INBOX")->n_msgs, 0);
	ck_assert_str_eq(mail_user_name(u), "bob");
	ck_assert_ptr_eq(mail_user_store(u), store);
	mail_user_close(&u);
	mail_user_close(&u);	/* NULL-safe */

	ck_assert_int_eq(mail_store_user_del(store, "bob", &err), 0);
	ck_assert_int_eq(mail_store_user_del(store, "bob", &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_int_eq(mail_store_user_del(store, "../alice", &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_user_open(store, "bob", false, &u, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_ptr_null(u);
	ck_assert_int_eq(mail_user_open(store, "a/b", false, &u, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);

	/* the public namespace owner: created on demand, empty, unlisted */
	ck_assert_int_eq(mail_user_open(store, MAIL_PUBLIC_USER, false, &u,
	    &err), -1);
	ck_assert_int_eq(mail_user_open(store, MAIL_PUBLIC_USER, true, &u,
	    &err), 0);
	ck_assert_uint_eq(mail_user_state(u)->n_mailboxes, 0);
	mail_user_close(&u);
	ck_assert_int_eq(mail_user_open(store, MAIL_PUBLIC_USER, true, &u,
	    &err), 0);
	mail_user_close(&u);
	ck_assert_int_eq(mail_store_user_list(store, &names, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	mail_store_user_list_free(names, n);
	/* a user deleted and added again starts afresh */
	ck_assert_int_eq(mail_store_user_add(store, "bob", &err), 0);
	u = user_open("bob");
	ck_assert_uint_eq(mail_user_state(u)->n_mailboxes, 1);
	mail_user_close(&u);
	{
		struct mail_check_result res;

		ck_assert_int_eq(mail_store_check(store, false, &res, &err), 0);
		ck_assert_uint_eq(res.problems, 0);
		ck_assert_uint_eq(res.users, 4);
		mail_buf_free(&res.report);
	}
}
END_TEST

START_TEST(test_txn_visibility)
{
	struct mail_user *u1 = user_open("alice"), *u2 = user_open("alice"),
	    *u3 = NULL;
	struct mail_txn *t = begin(u1);
	struct mail_err err;
	uint64_t end = mail_user_log_end(u1);
	uint32_t uid;

	ck_assert_ptr_eq(mail_txn_user(t), u1);
	create(t, "Work");
	uid = save(t, mbox(u1, "INBOX"), "Subject: one\r\n\r\nbody\r\n");
	ck_assert_uint_eq(uid, 1);
	/* the writer sees its own changes at once */
	ck_assert_ptr_nonnull(mbox(u1, "Work"));
	ck_assert_uint_eq(mbox(u1, "INBOX")->n_msgs, 1);
	/* nobody else does, nor is anything on disk */
	ck_assert_int_eq(mail_user_refresh(u2, &err), 0);
	ck_assert_ptr_null(mbox(u2, "Work"));
	ck_assert_int_eq(testlib_file_size(mail_user_log_path(u1)),
	    (int64_t)end);
	u3 = user_open("alice");
	ck_assert_ptr_null(mbox(u3, "Work"));
	mail_user_close(&u3);
	commit(&t);
	ck_assert_uint_gt(mail_user_log_end(u1), end);
	ck_assert_int_eq(testlib_file_size(mail_user_log_path(u1)),
	    (int64_t)mail_user_log_end(u1));
	/* others see it after a refresh (or a new open) */
	ck_assert_ptr_null(mbox(u2, "Work"));
	ck_assert_int_eq(mail_user_refresh(u2, &err), 0);
	ck_assert_ptr_nonnull(mbox(u2, "Work"));
	ck_assert_uint_eq(mbox(u2, "INBOX")->n_msgs, 1);
	ck_assert_uint_eq(mail_user_log_end(u2), mail_user_log_end(u1));
	u3 = user_open("alice");
	{
		char *d1 = testlib_user_dump(u1), *d3 = testlib_user_dump(u3);

		ck_assert_str_eq(d1, d3);
		free(d1);
		free(d3);
	}
	/* modseqs grow by one per transaction */
	ck_assert_uint_eq(mail_user_state(u3)->modseq, 2);
	t = begin(u2);
	ck_assert_uint_eq(mail_txn_modseq(t), 3);
	ck_assert_uint_gt(mail_txn_next_hlc(t), mail_user_state(u2)->hlc);
	commit(&t);	/* empty: writes nothing */
	ck_assert_uint_eq(mail_user_log_end(u2), mail_user_log_end(u1));
	mail_user_close(&u1);
	mail_user_close(&u2);
	mail_user_close(&u3);
}
END_TEST

START_TEST(test_rollback)
{
	struct mail_user *u = user_open("alice");
	struct mail_txn *t;
	char *before = testlib_user_dump(u), *after;
	int64_t size = testlib_file_size(mail_user_log_path(u));

	t = begin(u);
	create(t, "Tmp");
	save(t, mbox(u, "INBOX"), "x");
	ck_assert_ptr_nonnull(mbox(u, "Tmp"));
	mail_txn_rollback(&t);
	ck_assert_ptr_null(t);
	mail_txn_rollback(&t);	/* NULL-safe */
	ck_assert_ptr_null(mbox(u, "Tmp"));
	after = testlib_user_dump(u);
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(testlib_file_size(mail_user_log_path(u)), size);
	/* the lock was released, and the handle works on */
	t = begin(u);
	create(t, "Kept");
	commit(&t);
	ck_assert_ptr_nonnull(mbox(u, "Kept"));
	free(before);
	free(after);
	mail_user_close(&u);
}
END_TEST

START_TEST(test_lock_and_two_users)
{
	struct mail_user *a1 = user_open("alice"), *a2 = user_open("alice"),
	    *b = NULL;
	struct mail_txn *t1, *t2 = NULL, *tb;
	struct mail_err err;

	ck_assert_int_eq(mail_store_user_add(store, "bob", &err), 0);
	b = user_open("bob");
	mail_store_set_lock_timeout(store, 30);
	t1 = begin(a1);
	create(t1, "A1");
	mail_err_clear(&err);
	ck_assert_int_eq(mail_txn_begin(a2, &t2, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_ptr_null(t2);
	/* another user is not blocked */
	tb = begin(b);
	create(tb, "B1");
	commit(&tb);
	commit(&t1);
	/* begin catches up with what others committed */
	t2 = begin(a2);
	ck_assert_ptr_nonnull(mbox(a2, "A1"));
	create(t2, "A2");
	commit(&t2);
	ck_assert_ptr_null(mbox(a2, "B1"));
	ck_assert_ptr_null(mbox(b, "A1"));
	ck_assert_ptr_nonnull(mbox(b, "B1"));
	ck_assert_int_eq(mail_user_refresh(a1, &err), 0);
	ck_assert_ptr_nonnull(mbox(a1, "A2"));
	mail_user_close(&a1);
	mail_user_close(&a2);
	mail_user_close(&b);
}
END_TEST

/* A crashed writer's torn tail: readers ignore it, the next writer cuts
 * it, check does not call it damage. Damage with valid records after it
 * stops writers (never cut silently). */
START_TEST(test_torn_tail_and_damage)
{
	struct mail_user *u = user_open("alice");
	struct mail_txn *t = begin(u);
	struct mail_err err;
	char *log = mail_xstrdup(mail_user_log_path(u));
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t end;
	char *report = NULL, *d1, *d2;

	create(t, "One");
	commit(&t);
	end = mail_user_log_end(u);
	/* half of a transaction from a writer that died */
	testlib_read_file(log, &b);
	mail_buf_truncate(&b, end);
	mail_buf_append(&b, b.data + MAIL_LOG_HEADER_SIZE, 30);
	testlib_write_file(log, b.data, b.len);
	ck_assert_uint_eq(testlib_store_check(path, &report), 0);
	free(report);
	mail_user_close(&u);
	u = user_open("alice");
	ck_assert_uint_eq(mail_user_log_end(u), end);
	t = begin(u);
	create(t, "Two");
	commit(&t);
	ck_assert_int_eq(testlib_file_size(log),
	    (int64_t)mail_user_log_end(u));
	d1 = testlib_user_dump(u);
	mail_user_close(&u);
	d2 = testlib_store_dump(path, "alice");
	ck_assert_str_eq(d1, d2);
	ck_assert_ptr_nonnull(strstr(d2, "\"Two\""));
	free(d1);
	free(d2);

	/* damage in the first transaction, valid ones after it */
	end = (uint64_t)testlib_file_size(log);
	testlib_flip(log, MAIL_LOG_HEADER_SIZE + 40, 0x01);
	ck_assert_uint_gt(testlib_store_check(path, NULL), 0);
	u = user_open("alice");
	mail_err_clear(&err);
	ck_assert_int_eq(mail_txn_begin(u, &t, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	ck_assert_ptr_null(t);
	/* nothing was cut */
	ck_assert_int_eq(testlib_file_size(log), (int64_t)end);
	mail_user_close(&u);
	mail_buf_free(&b);
	free(log);
}
END_TEST

/* Many commits: a snapshot is written along the way; reopening (snapshot
 * plus log tail) gives the same dump as a full rebuild from the log. */
START_TEST(test_snapshot_vs_rebuild)
{
	struct mail_user *u = user_open("alice"), *u2;
	char *index = mail_xasprintf("%s/users/alice/index", path);
	char *d_live, *d_open, *d_rebuild;
	struct mail_err err;
	char value[900];
	int i = 0;

	memset(value, 'v', sizeof(value));
	/* until a snapshot exists, then 50 transactions more */
	for (int extra = 0; extra < 50; i++) {
		struct mail_txn *t = begin(u);
		struct mail_mailbox *in = mbox(u, "INBOX");
		char key[64], msg[128];
		struct mail_uidset set = MAIL_UIDSET_INIT;
		struct mail_flag_list fl;

		snprintf(key, sizeof(key), "/shared/k%d", i % 40);
		snprintf(msg, sizeof(msg), "Subject: %d\r\n\r\n%d\r\n", i, i);
		ck_assert_int_eq(mail_op_metadata(t, in, 0, NULL, key, value,
		    sizeof(value), &err), 0);
		save(t, in, msg);
		memset(&fl, 0, sizeof(fl));
		ck_assert_int_eq(mail_flag_list_add(&fl, i % 2 ? "\\Seen" :
		    "kw", &err), 0);
		mail_uidset_add(&set, (uint32_t)(i / 2 + 1), (uint32_t)i + 1);
		ck_assert_int_eq(mail_op_flags(t, in, &set, MAIL_FLAGS_ADD, &fl,
		    NULL, &err), 0);
		if (i % 5 == 4) {
			mail_uidset_free(&set);
			mail_uidset_add(&set, (uint32_t)i - 2, (uint32_t)i - 2);
			ck_assert_int_eq(mail_op_expunge(t, in, &set, NULL,
			    &err), 0);
		}
		mail_uidset_free(&set);
		mail_flag_list_free(&fl);
		commit(&t);
		if (testlib_file_size(index) > 0)
			extra++;
	}
	ck_assert_int_gt(testlib_file_size(index), 0);
	d_live = testlib_user_dump_full(u);
	mail_user_close(&u);
	u = user_open("alice");
	d_open = testlib_user_dump_full(u);
	u2 = user_open("alice");
	ck_assert_int_eq(mail_user_rebuild(u2, false, &err), 0);
	d_rebuild = testlib_user_dump_full(u2);
	ck_assert_str_eq(d_live, d_open);
	ck_assert_str_eq(d_open, d_rebuild);
	ck_assert_uint_eq(mail_user_log_end(u), mail_user_log_end(u2));
	ck_assert_uint_eq(mail_user_state(u)->modseq,
	    mail_user_state(u2)->modseq);
	ck_assert_uint_eq(mail_user_state(u)->modseq, (uint64_t)i + 1);
	/* rebuild with a fresh snapshot; a damaged snapshot is ignored */
	ck_assert_int_eq(mail_user_rebuild(u2, true, &err), 0);
	mail_user_close(&u2);
	testlib_flip(index, 100, 0x04);
	u2 = user_open("alice");
	free(d_rebuild);
	d_rebuild = testlib_user_dump_full(u2);
	ck_assert_str_eq(d_open, d_rebuild);
	mail_user_close(&u2);
	/* check reports the damaged snapshot; without it all is well */
	ck_assert_uint_eq(testlib_store_check(path, NULL), 1);
	ck_assert_int_eq(unlink(index), 0);
	ck_assert_uint_eq(testlib_store_check(path, NULL), 0);
	free(d_live);
	free(d_open);
	free(d_rebuild);
	free(index);
	mail_user_close(&u);
}
END_TEST

/* A snapshot of an older format is refused, and the state rebuilt from
 * the log, with nothing lost (here: what version 6 added). */
START_TEST(test_snapshot_old_version)
{
	struct mail_user *u = user_open("alice");
	char *index = mail_xasprintf("%s/users/alice/index", path);
	struct mail_txn *t = begin(u);
	struct mail_state *st = NULL;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	uint64_t end, mark;
	struct mail_err err;
	char *want, *got;

	create(t, "Box");
	save(t, mbox(u, "Box"), "Subject: 1\r\n\r\n1\r\n");
	save(t, mbox(u, "INBOX"), "Subject: 2\r\n\r\n2\r\n");
	mail_uidset_add(&set, 1, 1);
	ck_assert_int_eq(mail_op_expunge(t, mbox(u, "INBOX"), &set, NULL,
	    &err), 0);
	mail_uidset_free(&set);
	ck_assert_int_eq(mail_op_mailbox_delete(t, "Box", &err), 0);
	ck_assert_int_eq(mail_op_subscribe(t, "Box", false, &err), 0);
	commit(&t);
	ck_assert_int_eq(mail_user_rebuild(u, true, &err), 0);
	want = testlib_user_dump_full(u);
	mail_user_close(&u);
	/* the same file but for its version: 6 */
	testlib_read_file(index, &b);
	ck_assert_uint_eq(mail_get_le32(b.data + 8), 7);
	mail_put_le32(b.data + 8, 6);
	testlib_write_file(index, b.data, b.len);
	ck_assert_int_eq(mail_snapshot_read(mail_fs_posix(), index, &st, &end,
	    &mark, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	ck_assert_ptr_null(st);
	u = user_open("alice");
	got = testlib_user_dump_full(u);
	ck_assert_str_eq(got, want);
	ck_assert_ptr_nonnull(strstr(got, "tomb guid"));
	ck_assert_ptr_nonnull(strstr(got, "unsubscribed \"Box\""));
	mail_user_close(&u);
	/* check calls it a problem; repair writes a current one */
	ck_assert_uint_eq(testlib_store_check(path, NULL), 1);
	{
		struct mail_check_result res;
		struct mail_store *s2 = NULL;

		ck_assert_int_eq(mail_store_open(path, NULL, &s2, &err), 0);
		ck_assert_int_eq(mail_store_check(s2, true, &res, &err), 0);
		mail_buf_free(&res.report);
		mail_store_close(&s2);
	}
	ck_assert_uint_eq(testlib_store_check(path, NULL), 0);
	ck_assert_int_eq(mail_snapshot_read(mail_fs_posix(), index, &st, &end,
	    &mark, &err), 0);
	mail_state_free(&st);
	free(want);
	free(got);
	free(index);
	mail_buf_free(&b);
}
END_TEST

Suite *test_mail_store_suite(void);
Suite *
test_mail_store_suite(void)
{
	Suite *s = suite_create("mail_store");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_init_open);
	tcase_add_test(tc, test_users);
	tcase_add_test(tc, test_txn_visibility);
	tcase_add_test(tc, test_rollback);
	tcase_add_test(tc, test_lock_and_two_users);
	tcase_add_test(tc, test_torn_tail_and_damage);
	tcase_add_test(tc, test_snapshot_vs_rebuild);
	tcase_add_test(tc, test_snapshot_old_version);
	suite_add_tcase(s, tc);
	return s;
}
