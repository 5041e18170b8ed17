/*
 * test_mail_check.c: what "dsync check" calls damage, and what --repair
 * makes of it: a torn tail is no problem (repair cuts it); mid-log damage
 * is, and repair keeps every other transaction; a lost blob index is
 * rebuilt; a snapshot that disagrees with the log is dropped; leftovers of
 * interrupted user creation are removed.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_check.h"
#include "mail_log.h"
#include "mail_ops.h"
#include "mail_snapshot.h"
#include "testlib.h"
#include "testlib_store.h"

static char *tmp, *path, *logpath;
static uint64_t txn_end[4];	/* log offset after each transaction */

/* A user with four transactions: INBOX saves, a mailbox, flags. */
static void
setup(void)
{
	struct mail_store *store;
	struct mail_user *u = NULL;
	struct mail_err err;

	tmp = testlib_tmpdir();
	path = mail_xasprintf("%s/store", tmp);
	logpath = mail_xasprintf("%s/users/u/log", path);
	store = testlib_store_create(path, 0);
	ck_assert_int_eq(mail_store_user_add(store, "u", &err), 0);
	ck_assert_int_eq(mail_user_open(store, "u", false, &u, &err), 0);
	for (int i = 0; i < 4; i++) {
		struct mail_txn *t = NULL;
		struct mail_save_opts opts;
		char name[16], body[64];
		uint32_t uid;

		memset(&opts, 0, sizeof(opts));
		snprintf(name, sizeof(name), "Box%d", i);
		snprintf(body, sizeof(body), "Subject: %d\r\n\r\nbody %d\r\n", i,
		    i);
		ck_assert_int_eq(mail_txn_begin(u, &t, &err), 0);
		ck_assert_int_eq(mail_op_mailbox_create(t, name, NULL, NULL,
		    &err), 0);
		ck_assert_int_eq(mail_op_save(t, mail_state_mailbox_by_name(
		    mail_user_state(u), "INBOX"), body, strlen(body), &opts,
		    &uid, NULL, &err), 0);
		ck_assert_int_eq(mail_txn_commit(&t, &err), 0);
		txn_end[i] = mail_user_log_end(u);
	}
	mail_user_close(&u);
	mail_store_close(&store);
}

static void
teardown(void)
{
	testlib_rmdir_r(tmp);
	free(tmp);
	free(path);
	free(logpath);
}

static struct mail_check_result
check(bool repair)
{
	struct mail_store *store = NULL;
	struct mail_check_result res;
	struct mail_err err;

	ck_assert_int_eq(mail_store_open(path, NULL, &store, &err), 0);
	if (mail_store_check(store, repair, &res, &err) < 0)
		ck_abort_msg("check: %s", err.msg);
	mail_store_close(&store);
	return res;
}

START_TEST(test_clean)
{
	struct mail_check_result res = check(false);

	ck_assert_uint_eq(res.problems, 0);
	ck_assert_uint_eq(res.repaired, 0);
	ck_assert_uint_eq(res.users, 1);
	ck_assert_uint_eq(res.mailboxes, 5);
	ck_assert_uint_eq(res.messages, 4);
	mail_buf_free(&res.report);
	res = check(true);
	ck_assert_uint_eq(res.problems, 0);
	ck_assert_uint_eq(res.repaired, 0);
	mail_buf_free(&res.report);
}
END_TEST

START_TEST(test_torn_tail)
{
	struct mail_check_result res;
	char *before = testlib_store_dump(path, "u"), *after;

	testlib_truncate(logpath, txn_end[3] - 7);
	res = check(false);
	ck_assert_uint_eq(res.problems, 0);
	mail_buf_free(&res.report);
	res = check(true);
	ck_assert_uint_eq(res.problems, 0);
	ck_assert_uint_eq(res.repaired, 1);
	ck_assert_ptr_nonnull(strstr((char *)res.report.data, "torn"));
	mail_buf_free(&res.report);
	ck_assert_int_eq(testlib_file_size(logpath), (int64_t)txn_end[2]);
	after = testlib_store_dump(path, "u");
	ck_assert_ptr_null(strstr(after, "Box3"));
	ck_assert_ptr_nonnull(strstr(before, "Box3"));
	free(before);
	free(after);
}
END_TEST

START_TEST(test_mid_damage_salvage)
{
	struct mail_check_result res;
	char *dump;
	DIR *d;
	struct dirent *de;
	bool saved = false;

	/* a payload byte of the second transaction */
	testlib_flip(logpath, txn_end[0] + 40, 0x01);
	res = check(false);
	ck_assert_uint_ge(res.problems, 1);
	mail_buf_free(&res.report);
	res = check(true);
	ck_assert_uint_ge(res.repaired, 1);
	mail_buf_free(&res.report);
	res = check(false);
	ck_assert_uint_eq(res.problems, 0);
	mail_buf_free(&res.report);
	/* only the damaged transaction is gone */
	dump = testlib_store_dump(path, "u");
	ck_assert_ptr_nonnull(strstr(dump, "Box0"));
	ck_assert_ptr_null(strstr(dump, "Box1"));
	ck_assert_ptr_nonnull(strstr(dump, "Box2"));
	ck_assert_ptr_nonnull(strstr(dump, "Box3"));
	free(dump);
	/* the original is kept for the operator */
	{
		char *dir = mail_xasprintf("%s/users/u", path);

		d = opendir(dir);
		free(dir);
	}
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		saved |= strncmp(de->d_name, "log.damaged-", 12) == 0;
	closedir(d);
	ck_assert(saved);
}
END_TEST

START_TEST(test_lost_blob_index)
{
	struct mail_check_result res;

	for (unsigned i = 0; i < 256; i++) {
		char *p = mail_xasprintf("%s/blobs/idx/%02x", path, i);

		(void)unlink(p);
		free(p);
	}
	res = check(false);
	ck_assert_uint_eq(res.problems, 4);
	mail_buf_free(&res.report);
	res = check(true);
	ck_assert_uint_eq(res.problems, 0);
	ck_assert_uint_ge(res.repaired, 1);
	mail_buf_free(&res.report);
	res = check(false);
	ck_assert_uint_eq(res.problems, 0);
	mail_buf_free(&res.report);
}
END_TEST

START_TEST(test_snapshot_mismatch)
{
	struct mail_check_result res;
	struct mail_state *st = mail_state_new();
	struct mail_err err;
	char *index = mail_xasprintf("%s/users/u/index", path);

	/* a valid snapshot of the wrong state, covering the whole log */
	ck_assert_int_eq(mail_snapshot_write(mail_fs_posix(), index, st,
	    txn_end[3], 0, &err), 0);
	mail_state_free(&st);
	res = check(false);
	ck_assert_uint_eq(res.problems, 1);
	mail_buf_free(&res.report);
	res = check(true);
	ck_assert_uint_ge(res.repaired, 1);
	mail_buf_free(&res.report);
	res = check(false);
	ck_assert_uint_eq(res.problems, 0);
	mail_buf_free(&res.report);
	free(index);
}
END_TEST

/* A snapshot of this log that differs from a replay only in what the
 * public dump leaves out (a tombstone, a clock) is found too. */
START_TEST(test_snapshot_hidden_mismatch)
{
	struct mail_check_result res;
	struct mail_store *store = NULL;
	struct mail_user *u = NULL;
	struct mail_err err;
	struct mail_rec rec;
	char *index = mail_xasprintf("%s/users/u/index", path);
	uint64_t mark;

	ck_assert_int_eq(mail_store_open(path, NULL, &store, &err), 0);
	ck_assert_int_eq(mail_user_open(store, "u", false, &u, &err), 0);
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_TOMB;
	rec.mailbox = mail_state_mailbox_by_name(mail_user_state(u),
	    "INBOX")->guid;
	rec.guid.b[0] = 1;
	rec.modseq = 1;
	rec.node = 1;
	mail_state_apply(mail_user_state(u), &rec);
	ck_assert_int_eq(mail_log_mark(mail_fs_posix(), logpath, txn_end[3],
	    &mark, &err), 0);
	ck_assert_int_eq(mail_snapshot_write(mail_fs_posix(), index,
	    mail_user_state(u), txn_end[3], mark, &err), 0);
	mail_user_close(&u);
	mail_store_close(&store);
	res = check(false);
	ck_assert_uint_eq(res.problems, 1);
	ck_assert_ptr_nonnull(strstr((char *)res.report.data,
	    "does not match the log"));
	mail_buf_free(&res.report);
	res = check(true);
	ck_assert_uint_ge(res.repaired, 1);
	mail_buf_free(&res.report);
	res = check(false);
	ck_assert_uint_eq(res.problems, 0);
	mail_buf_free(&res.report);
	free(index);
}
END_TEST

START_TEST(test_leftovers)
{
	struct mail_check_result res;
	char *p = mail_xasprintf("%s/users/.new-x-123", path);
	struct stat st;

	ck_assert_int_eq(mkdir(p, 0700), 0);
	res = check(false);
	ck_assert_uint_eq(res.problems, 0);
	ck_assert_ptr_nonnull(strstr((char *)res.report.data, ".new-x-123"));
	mail_buf_free(&res.report);
	res = check(true);
	mail_buf_free(&res.report);
	ck_assert_int_eq(stat(p, &st), -1);
	free(p);
}
END_TEST

Suite *test_mail_check_suite(void);
Suite *
test_mail_check_suite(void)
{
	Suite *s = suite_create("mail_check");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_clean);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_mid_damage_salvage);
	tcase_add_test(tc, test_lost_blob_index);
	tcase_add_test(tc, test_snapshot_mismatch);
	tcase_add_test(tc, test_snapshot_hidden_mismatch);
	tcase_add_test(tc, test_leftovers);
	suite_add_tcase(s, tc);
	return s;
}
