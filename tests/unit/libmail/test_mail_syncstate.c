/*
 * test_mail_syncstate.c: per-peer sync states survive a round trip, old
 * states without a log size still read, and the daemon's cheap check
 * says "the peer has everything" only while the log has not grown.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "mail_ops.h"
#include "mail_syncstate.h"
#include "testlib.h"
#include "testlib_store.h"

static void
subscribe(struct mail_user *u, const char *name)
{
	struct mail_txn *t;
	struct mail_err err;

	ck_assert_int_eq(mail_txn_begin(u, &t, &err), 0);
	ck_assert_int_eq(mail_op_subscribe(t, name, true, &err), 0);
	ck_assert_int_eq(mail_txn_commit(&t, &err), 0);
}

START_TEST(test_syncstate_roundtrip_and_has_all)
{
	char *dir = testlib_tmpdir();
	char *path = mail_xasprintf("%s/s", dir);
	char *udir = mail_xasprintf("%s/users/alice", path);
	char *old;
	struct mail_store *s;
	struct mail_user *u;
	struct mail_syncstate st, got;
	struct mail_err err;
	bool found;
	const uint64_t peer = 0x1234abcdULL;

	ck_assert_int_eq(mail_store_init(path, 0, &err), 0);
	ck_assert_int_eq(mail_store_open(path, NULL, &s, &err), 0);
	ck_assert_int_eq(mail_store_user_add(s, "alice", &err), 0);
	ck_assert_int_eq(mail_user_open(s, "alice", false, &u, &err), 0);
	subscribe(u, "A");
	/* no state yet */
	ck_assert_int_eq(mail_syncstate_get(u, peer, &got, &found, &err), 0);
	ck_assert(!found);
	ck_assert(!mail_syncstate_peer_has_all(udir, peer));

	st.mine = mail_user_state(u)->modseq;
	st.peer = 7;
	st.peer_log = 0xfeedULL;
	st.log_size = mail_user_log_end(u);
	ck_assert_int_eq(mail_syncstate_set(u, peer, &st, &err), 0);
	ck_assert_int_eq(mail_syncstate_get(u, peer, &got, &found, &err), 0);
	ck_assert(found);
	ck_assert_uint_eq(got.mine, st.mine);
	ck_assert_uint_eq(got.peer, 7);
	ck_assert_uint_eq(got.peer_log, 0xfeedULL);
	ck_assert_uint_eq(got.log_size, st.log_size);
	ck_assert(mail_syncstate_peer_has_all(udir, peer));
	ck_assert(!mail_syncstate_peer_has_all(udir, peer + 1));

	/* the log grows: no longer */
	subscribe(u, "B");
	ck_assert(!mail_syncstate_peer_has_all(udir, peer));

	/* unknown size: never */
	st.log_size = 0;
	ck_assert_int_eq(mail_syncstate_set(u, peer, &st, &err), 0);
	ck_assert(!mail_syncstate_peer_has_all(udir, peer));

	/* a state written before log_size existed still reads */
	old = mail_xasprintf("%s/sync/%016" PRIx64, udir, peer);
	testlib_write_file(old, "mine 3 peer 4 peer_log 00000000000000aa\n",
	    41);
	ck_assert_int_eq(mail_syncstate_get(u, peer, &got, &found, &err), 0);
	ck_assert(found);
	ck_assert_uint_eq(got.mine, 3);
	ck_assert_uint_eq(got.log_size, 0);
	ck_assert(!mail_syncstate_peer_has_all(udir, peer));
	/* garbage is no state */
	testlib_write_file(old, "nonsense", 8);
	ck_assert_int_eq(mail_syncstate_get(u, peer, &got, &found, &err), 0);
	ck_assert(!found);
	ck_assert(!mail_syncstate_peer_has_all(udir, peer));

	free(old);
	mail_user_close(&u);
	mail_store_close(&s);
	testlib_rmdir_r(dir);
	free(udir);
	free(path);
	free(dir);
}
END_TEST

Suite *test_mail_syncstate_suite(void);
Suite *
test_mail_syncstate_suite(void)
{
	Suite *s = suite_create("mail_syncstate");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_syncstate_roundtrip_and_has_all);
	suite_add_tcase(s, tc);
	return s;
}
