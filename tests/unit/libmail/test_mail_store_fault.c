/*
 * test_mail_store_fault.c: I/O error injection into whole transactions
 * (SQLite's faultsimStep), with the fault fs of testlib_faultfs.h.
 *
 * A base store holds a user with earlier mail. For each kind of fault
 * (open, read, write with EIO, ENOSPC or a short write, fsync, rename) and
 * each k from 1 until the transaction completes without the fault firing,
 * a copy of the base store is opened with the fault fs failing the k-th
 * call of that kind, and one transaction saves three messages (bodies and
 * log) and sets flags. The transaction must succeed or fail cleanly with
 * -1. Then, with the real filesystem:
 *   - mail_store_check finds no problem (a torn tail is not one);
 *   - the user's state is exactly the state before (a failed commit) or
 *     exactly the state the transaction built (a successful one), never
 *     a mix, and never without the earlier mail; a full rebuild from the
 *     log agrees;
 *   - a successful commit depended on nothing unsynced (log, segments,
 *     index shards, and their directory entries);
 *   - the store takes the next transaction, and is still clean after it.
 * The "snapshot" variants start from a log big enough that the commit also
 * writes the index snapshot, which brings rename faults into play. The
 * "cumulative" variants keep one store across all k, so that whatever a
 * failed run leaves behind meets the next run; at the end the blob index
 * is rebuilt from the segments and the store must still check clean. The
 * "torn" variants first leave half a record at the end of the log, as a
 * writer killed mid-append would, for the commit to cut.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail_check.h"
#include "mail_log.h"
#include "mail_ops.h"
#include "testlib.h"
#include "testlib_faultfs.h"
#include "testlib_store.h"

#define USER	"alice"

struct variant {
	enum testlib_fault_kind kind;
	enum testlib_fault_mode mode;
	bool	 persist;
	bool	 snapshot;	/* the commit also writes the snapshot */
	bool	 cumulative;	/* one store for all k */
	bool	 torn;		/* a crashed writer's torn tail first */
};

static const struct variant variants[] = {
	{ TESTLIB_FAULT_OPEN, TESTLIB_FAULT_EIO, false, false, false, false },
	{ TESTLIB_FAULT_OPEN, TESTLIB_FAULT_ENOSPC, true, false, false, false },
	{ TESTLIB_FAULT_READ, TESTLIB_FAULT_EIO, false, false, false, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_EIO, false, false, false, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_ENOSPC, false, false, false, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_ENOSPC, true, false, false, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_SHORT, true, false, false, false },
	{ TESTLIB_FAULT_FSYNC, TESTLIB_FAULT_EIO, false, false, false, false },
	{ TESTLIB_FAULT_FSYNC, TESTLIB_FAULT_EIO, true, false, false, false },
	{ TESTLIB_FAULT_RENAME, TESTLIB_FAULT_EIO, false, false, false, false },
	/* the commit writes the snapshot too */
	{ TESTLIB_FAULT_OPEN, TESTLIB_FAULT_EIO, false, true, false, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_EIO, false, true, false, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_SHORT, true, true, false, false },
	{ TESTLIB_FAULT_FSYNC, TESTLIB_FAULT_EIO, false, true, false, false },
	{ TESTLIB_FAULT_RENAME, TESTLIB_FAULT_EIO, false, true, false, false },
	/* one store across all k */
	{ TESTLIB_FAULT_OPEN, TESTLIB_FAULT_EIO, false, false, true, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_EIO, false, false, true, false },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_SHORT, true, false, true, false },
	{ TESTLIB_FAULT_FSYNC, TESTLIB_FAULT_EIO, false, false, true, false },
	/* the log ends in a torn tail the commit has to cut */
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_EIO, false, false, false, true },
	{ TESTLIB_FAULT_WRITE, TESTLIB_FAULT_SHORT, true, false, false, true },
	{ TESTLIB_FAULT_FSYNC, TESTLIB_FAULT_EIO, false, false, false, true },
	{ TESTLIB_FAULT_OPEN, TESTLIB_FAULT_EIO, false, false, true, true },
};

static char *tmp, *base;

static void
setup(void)
{
	tmp = testlib_tmpdir();
	base = mail_xasprintf("%s/base", tmp);
}

static void
teardown(void)
{
	testlib_rmdir_r(tmp);
	free(tmp);
	free(base);
}

static void
flag_list(struct mail_flag_list *fl, const char *a, const char *b)
{
	struct mail_err err;

	memset(fl, 0, sizeof(*fl));
	if (a != NULL)
		ck_assert_int_eq(mail_flag_list_add(fl, a, &err), 0);
	if (b != NULL)
		ck_assert_int_eq(mail_flag_list_add(fl, b, &err), 0);
}

/* The base store: a user with two messages in INBOX and one in Work,
 * flags, keywords and metadata; with big, a log of over 256 KiB and no
 * snapshot, so that the next commit writes one. */
static void
make_base(bool big)
{
	struct mail_store *store = testlib_store_create(base, 1);
	struct mail_user *u = NULL;
	struct mail_txn *t = NULL;
	struct mail_mailbox *in, *work;
	struct mail_save_opts opts;
	struct mail_flag_list fl;
	struct mail_err err;
	uint32_t uid;
	char *index, *log;

	ck_assert_int_eq(mail_store_user_add(store, USER, &err), 0);
	ck_assert_int_eq(mail_user_open(store, USER, false, &u, &err), 0);
	ck_assert_int_eq(mail_txn_begin(u, &t, &err), 0);
	in = mail_state_mailbox_by_name(mail_user_state(u), "INBOX");
	ck_assert_int_eq(mail_op_mailbox_create(t, "Work", NULL, &work, &err),
	    0);
	memset(&opts, 0, sizeof(opts));
	flag_list(&fl, "\\Seen", "early");
	opts.flags = &fl;
	ck_assert_int_eq(mail_op_save(t, in, "Subject: early 1\r\n\r\nA\r\n",
	    22, &opts, &uid, NULL, &err), 0);
	mail_flag_list_free(&fl);
	opts.flags = NULL;
	ck_assert_int_eq(mail_op_save(t, in, "Subject: early 2\r\n\r\nB\r\n",
	    22, &opts, &uid, NULL, &err), 0);
	ck_assert_int_eq(mail_op_save(t, work, "Subject: work\r\n\r\nW\r\n",
	    19, &opts, &uid, NULL, &err), 0);
	ck_assert_int_eq(mail_op_metadata(t, in, 0, NULL, "/shared/comment",
	    "kept", 4, &err), 0);
	if (big) {
		char value[1000];

		memset(value, 'x', sizeof(value));
		for (int i = 0; i < 300; i++) {
			char key[32];

			snprintf(key, sizeof(key), "/private/k%d", i);
			ck_assert_int_eq(mail_op_metadata(t, in, 0, NULL, key,
			    value, sizeof(value), &err), 0);
		}
	}
	ck_assert_int_eq(mail_txn_commit(&t, &err), 0);
	mail_user_close(&u);
	mail_store_close(&store);
	index = mail_xasprintf("%s/users/" USER "/index", base);
	log = mail_xasprintf("%s/users/" USER "/log", base);
	if (big) {
		ck_assert_int_eq(unlink(index), 0);
		ck_assert_int_gt(testlib_file_size(log), 256 * 1024);
	}
	ck_assert_int_eq(testlib_file_size(index), -1);
	free(index);
	free(log);
}

/* The transaction under test, on the store at path through fs. Returns
 * its result; sets *after to the dump of the state it built (NULL if it
 * did not get that far). */
static int
run_txn(const char *path, const struct mail_fs *fs, unsigned round,
    char **after)
{
	struct mail_store *store = NULL;
	struct mail_user *u = NULL;
	struct mail_txn *t = NULL;
	struct mail_mailbox *in;
	struct mail_save_opts opts;
	struct mail_flag_list fl;
	struct mail_uidset all = MAIL_UIDSET_INIT;
	struct mail_err err;
	uint32_t uid;
	int ret = -1;

	*after = NULL;
	memset(&fl, 0, sizeof(fl));
	if (mail_store_open(path, fs, &store, &err) < 0 ||
	    mail_user_open(store, USER, false, &u, &err) < 0 ||
	    mail_txn_begin(u, &t, &err) < 0)
		goto out;
	in = mail_state_mailbox_by_name(mail_user_state(u), "INBOX");
	ck_assert_ptr_nonnull(in);
	memset(&opts, 0, sizeof(opts));
	for (unsigned i = 0; i < 3; i++) {
		char msg[3000];
		int n = snprintf(msg, sizeof(msg), "Subject: round %u msg %u\r\n"
		    "\r\n", round, i);

		/* the third body is big enough to be compressed */
		memset(msg + n, 'a' + (int)i, sizeof(msg) - (size_t)n);
		mail_flag_list_free(&fl);
		flag_list(&fl, i == 1 ? "\\Draft" : NULL, i == 2 ? "kw" : NULL);
		opts.flags = &fl;
		if (mail_op_save(t, in, msg, i == 2 ? sizeof(msg) :
		    (size_t)n + 10, &opts, &uid, NULL, &err) < 0)
			goto out;
	}
	mail_flag_list_free(&fl);
	flag_list(&fl, "\\Flagged", "$Done");
	mail_uidset_add(&all, 1, UINT32_MAX);
	if (mail_op_flags(t, in, &all, MAIL_FLAGS_ADD, &fl, NULL, &err) < 0)
		goto out;
	*after = testlib_user_dump(u);
	if (mail_txn_commit(&t, &err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0) {
		/* a clean error: a code and a message */
		ck_assert_int_ne(err.code, MAIL_ERR_NONE);
		ck_assert_int_ne(err.msg[0], '\0');
	}
	mail_txn_rollback(&t);
	mail_flag_list_free(&fl);
	mail_uidset_free(&all);
	mail_user_close(&u);
	mail_store_close(&store);
	return ret;
}

/* The durable parts a successful commit depends on. */
static void
assert_durable(const struct testlib_faultfs *f, const char *path)
{
	static const char *const parts[] = { "/users/" USER "/log",
	    "/blobs/seg", "/blobs/idx" };

	for (size_t i = 0; i < N_ELEMENTS(parts); i++) {
		char *p = mail_xasprintf("%s%s", path, parts[i]);
		const char *dirty = testlib_faultfs_unsynced(f, p);

		ck_assert_msg(dirty == NULL, "commit acknowledged with '%s' "
		    "not durable", dirty);
		free(p);
	}
}

static void
assert_clean(const char *path, const char *what, unsigned long k)
{
	char *report = NULL;
	uint64_t problems = testlib_store_check(path, &report);

	ck_assert_msg(problems == 0, "%s, k=%lu: check found %llu "
	    "problem(s):\n%s", what, k, (unsigned long long)problems, report);
	free(report);
}

/* The state on disk, and a full rebuild from the log, must equal want. */
static void
assert_state(const char *path, const char *want, const char *what,
    unsigned long k)
{
	struct mail_store *store = NULL;
	struct mail_user *u = NULL;
	struct mail_err err;
	char *now = testlib_store_dump(path, USER), *rebuilt;

	ck_assert_msg(strcmp(now, want) == 0, "%s, k=%lu: state is\n%s\n"
	    "want\n%s", what, k, now, want);
	ck_assert_int_eq(mail_store_open(path, NULL, &store, &err), 0);
	ck_assert_int_eq(mail_user_open(store, USER, false, &u, &err), 0);
	ck_assert_int_eq(mail_user_rebuild(u, false, &err), 0);
	rebuilt = testlib_user_dump(u);
	ck_assert_msg(strcmp(rebuilt, want) == 0, "%s, k=%lu: rebuild "
	    "differs", what, k);
	mail_user_close(&u);
	mail_store_close(&store);
	free(now);
	free(rebuilt);
}

/* What a writer killed in the middle of an append leaves: the start of a
 * record (here: a copy of the log's first 30 record bytes). */
static void
add_torn_tail(const char *path)
{
	char *log = mail_xasprintf("%s/users/" USER "/log", path);
	struct mail_buf b = MAIL_BUF_INIT;

	testlib_read_file(log, &b);
	mail_buf_append(&b, b.data + MAIL_LOG_HEADER_SIZE, 30);
	testlib_write_file(log, b.data, b.len);
	mail_buf_free(&b);
	free(log);
}

static void
rm_blob_index(const char *path)
{
	for (unsigned i = 0; i < 256; i++) {
		char *p = mail_xasprintf("%s/blobs/idx/%02x", path, i);

		(void)unlink(p);
		free(p);
	}
}

START_TEST(test_txn_faults)
{
	const struct variant *v = &variants[_i];
	struct testlib_faultfs f;
	char what[128], *before, *work = NULL;
	unsigned long k, failures = 0;

	snprintf(what, sizeof(what), "%s %s%s%s%s%s",
	    testlib_fault_kind_name(v->kind), testlib_fault_mode_name(v->mode),
	    v->persist ? " (persistent)" : "", v->snapshot ? " snapshot" : "",
	    v->cumulative ? " cumulative" : "", v->torn ? " torn" : "");
	make_base(v->snapshot);
	before = testlib_store_dump(base, USER);
	testlib_faultfs_init(&f);
	if (v->cumulative)
		work = mail_xstrdup(base);
	for (k = 1;; k++) {
		char *after = NULL, *dump;
		bool fired;
		int r;

		if (!v->cumulative) {
			work = mail_xasprintf("%s/run-%lu", tmp, k);
			testlib_cp_r(base, work);
		}
		if (v->torn)
			add_torn_tail(work);
		testlib_faultfs_forget(&f);
		testlib_faultfs_arm(&f, v->kind, v->mode, k, v->persist);
		r = run_txn(work, &f.fs, (unsigned)k, &after);
		fired = f.faults > 0;
		testlib_faultfs_disarm(&f);
		if (r == 0)
			assert_durable(&f, work);
		else
			failures++;
		ck_assert_msg(r == 0 || fired, "%s, k=%lu: failed without a "
		    "fault", what, k);

		assert_clean(work, what, k);
		/* all or nothing; the earlier mail is always there */
		assert_state(work, r == 0 ? after : before, what, k);
		dump = testlib_store_dump(work, USER);
		ck_assert_ptr_nonnull(strstr(dump, "\"kept\""));
		free(dump);

		/* the store takes the next transaction */
		{
			char *next = NULL;

			ck_assert_int_eq(run_txn(work, NULL, 100000 + (unsigned)k,
			    &next), 0);
			assert_clean(work, what, k);
			assert_state(work, next, what, k);
			if (v->cumulative) {
				free(before);
				before = next;
			} else {
				free(next);
			}
		}
		free(after);
		if (!v->cumulative) {
			testlib_rmdir_r(work);
			free(work);
		}
		if (!fired)
			break;
		ck_assert_uint_lt(k, 5000);
	}
	/* the fault hit every call of its kind once; some made the
	 * transaction fail (only the snapshot renames; a failed snapshot
	 * is not a failed commit) */
	if (getenv("TEST_FAULT_VERBOSE") != NULL)
		fprintf(stderr, "%s: %lu runs, %lu failed\n", what, k,
		    failures);
	if (v->kind != TESTLIB_FAULT_RENAME) {
		ck_assert_uint_gt(k, 1);
		ck_assert_uint_gt(failures, 0);
	} else if (v->snapshot) {
		ck_assert_uint_gt(k, 1);
	}
	if (v->cumulative) {
		/* whatever the failed runs left in the segments, the blob
		 * index can be rebuilt from them */
		struct mail_store *store = NULL;
		struct mail_err err;
		uint64_t n;

		rm_blob_index(work);
		ck_assert_int_eq(mail_store_open(work, NULL, &store, &err), 0);
		ck_assert_int_eq(mail_blobs_reindex(mail_store_blobs(store), &n,
		    &err), 0);
		mail_store_close(&store);
		assert_clean(work, what, k);
		free(work);
	}
	free(before);
	testlib_faultfs_free(&f);
}
END_TEST

Suite *test_mail_store_fault_suite(void);
Suite *
test_mail_store_fault_suite(void)
{
	Suite *s = suite_create("mail_store_fault");
	TCase *tc = tcase_create("faults");

	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_txn_faults, 0, (int)N_ELEMENTS(variants));
	suite_add_tcase(s, tc);
	return s;
}
