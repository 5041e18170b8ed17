/*
 * test_mail_ops.c: validated operations. Each operation's error cases, and
 * after every commit the check that replay of the log (a fresh open, and
 * a full rebuild) gives exactly the state the writer applied, clocks,
 * tombstones and modseqs included.
 */
#include <stdlib.h>

#include "mail_dump.h"
#include "mail_ops.h"
#include "testlib.h"
#include "testlib_store.h"

static char *tmp, *path;
static struct mail_store *store;
static struct mail_user *alice;
static struct mail_txn *txn;

static void
setup(void)
{
	struct mail_err err;

	tmp = testlib_tmpdir();
	path = mail_xasprintf("%s/store", tmp);
	store = testlib_store_create(path, 0);
	ck_assert_int_eq(mail_store_user_add(store, "alice", &err), 0);
	ck_assert_int_eq(mail_store_user_add(store, "bob", &err), 0);
	ck_assert_int_eq(mail_user_open(store, "alice", false, &alice, &err),
	    0);
	ck_assert_int_eq(mail_txn_begin(alice, &txn, &err), 0);
}

static void
teardown(void)
{
	mail_txn_rollback(&txn);
	mail_user_close(&alice);
	mail_store_close(&store);
	testlib_rmdir_r(tmp);
	free(tmp);
	free(path);
}

/* Commit, check that a fresh open and a full rebuild give the same dump as
 * the writer's state, and begin the next transaction. */
static void
commit_verify(void)
{
	struct mail_user *u = NULL;
	struct mail_err err;
	char *live, *fresh, *rebuilt;

	if (mail_txn_commit(&txn, &err) < 0)
		ck_abort_msg("commit: %s", err.msg);
	live = testlib_user_dump_full(alice);
	ck_assert_int_eq(mail_user_open(store, "alice", false, &u, &err), 0);
	fresh = testlib_user_dump_full(u);
	ck_assert_int_eq(mail_user_rebuild(u, false, &err), 0);
	rebuilt = testlib_user_dump_full(u);
	ck_assert_str_eq(live, fresh);
	ck_assert_str_eq(live, rebuilt);
	mail_user_close(&u);
	free(live);
	free(fresh);
	free(rebuilt);
	ck_assert_int_eq(mail_txn_begin(alice, &txn, &err), 0);
}

static struct mail_mailbox *
mbox(const char *name)
{
	return mail_state_mailbox_by_name(mail_user_state(alice), name);
}

static struct mail_mailbox *
create_ok(const char *name)
{
	struct mail_mailbox *mb = NULL;
	struct mail_err err;

	if (mail_op_mailbox_create(txn, name, NULL, &mb, &err) < 0)
		ck_abort_msg("create '%s': %s", name, err.msg);
	ck_assert_ptr_nonnull(mb);
	return mb;
}

/* the error of the operation under test */
static struct mail_err e;

static uint32_t
save_ok(struct mail_mailbox *mb, const char *text, const char *flags)
{
	struct mail_flag_list fl;
	struct mail_save_opts opts;
	struct mail_err err;
	uint32_t uid;
	char *copy = mail_xstrdup(flags != NULL ? flags : ""), *tok, *sp;

	memset(&fl, 0, sizeof(fl));
	for (tok = strtok_r(copy, " ", &sp); tok != NULL;
	    tok = strtok_r(NULL, " ", &sp))
		ck_assert_int_eq(mail_flag_list_add(&fl, tok, &err), 0);
	memset(&opts, 0, sizeof(opts));
	opts.flags = &fl;
	if (mail_op_save(txn, mb, text, strlen(text), &opts, &uid, NULL,
	    &err) < 0)
		ck_abort_msg("save: %s", err.msg);
	mail_flag_list_free(&fl);
	free(copy);
	return uid;
}

static void
set_flags(struct mail_mailbox *mb, const char *uids, enum mail_flags_op op,
    const char *flags, const char *actor)
{
	struct mail_flag_list fl;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct mail_err err;
	char *copy = mail_xstrdup(flags), *tok, *sp;

	memset(&fl, 0, sizeof(fl));
	for (tok = strtok_r(copy, " ", &sp); tok != NULL;
	    tok = strtok_r(NULL, " ", &sp))
		ck_assert_int_eq(mail_flag_list_add(&fl, tok, &err), 0);
	ck_assert_int_eq(mail_uidset_parse(uids, 0, &set, &err), 0);
	if (mail_op_flags(txn, mb, &set, op, &fl, actor, &err) < 0)
		ck_abort_msg("flags: %s", err.msg);
	mail_uidset_free(&set);
	mail_flag_list_free(&fl);
	free(copy);
}

START_TEST(test_mailbox_create)
{
	struct mail_mailbox *mb;
	uint32_t uv;

	ck_assert_int_eq(mail_op_mailbox_create(txn, "INBOX", NULL, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	mail_err_clear(&e);
	ck_assert_int_eq(mail_op_mailbox_create(txn, "inbox", NULL, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	ck_assert_int_eq(mail_op_mailbox_create(txn, "a//b", NULL, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_create(txn, "", NULL, NULL, &e), -1);
	ck_assert_int_eq(mail_op_mailbox_create(txn, "X", "\\Bogus", NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_ptr_null(mbox("X"));
	ck_assert_int_eq(mail_op_mailbox_create(txn, "Sent", "\\sent", &mb,
	    &e), 0);
	ck_assert_str_eq(mb->special_use, "\\Sent");
	ck_assert_int_eq(mail_op_mailbox_create(txn, "Sent", NULL, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	/* INBOX children are normalized too */
	mb = create_ok("inbox/Sub");
	ck_assert_str_eq(mb->name, "INBOX/Sub");
	/* a fresh mailbox's identity follows from user and name, so two
	 * nodes creating "A" apart create one mailbox */
	{
		struct mail_guid g;

		mb = create_ok("A");
		mail_mailbox_identity(mail_user_name(mail_txn_user(txn)), "A",
		    &g, &uv);
		ck_assert_int_eq(mail_guid_cmp(&mb->guid, &g), 0);
		ck_assert_uint_eq(mb->uidvalidity, uv);
		ck_assert_uint_ne(create_ok("B")->uidvalidity, uv);
	}
	/* a renamed mailbox keeps that identity: the old name created again
	 * is another mailbox */
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "A", "A2", &e), 0);
	mb = create_ok("A");
	ck_assert_int_ne(mail_guid_cmp(&mb->guid, &mbox("A2")->guid), 0);
	ck_assert_uint_ne(mb->uidvalidity, mbox("A2")->uidvalidity);
	commit_verify();
}
END_TEST

START_TEST(test_mailbox_delete)
{
	struct mail_mailbox *mb = create_ok("Trash");
	struct mail_guid old;
	uint32_t uv;

	create_ok("P");
	create_ok("P/child");
	save_ok(mb, "x", "\\Seen");
	old = mb->guid;
	uv = mb->uidvalidity;
	commit_verify();

	ck_assert_int_eq(mail_op_mailbox_delete(txn, "Nope", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_NOTFOUND);
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "INBOX", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "inbox", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "P", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "a//", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "P/child", &e), 0);
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "P", &e), 0);
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "Trash", &e), 0);
	ck_assert_ptr_null(mbox("Trash"));
	/* the name again: the deleted mailbox comes back empty, with its
	 * UIDVALIDITY, and its old UIDs are never handed out again */
	mb = create_ok("Trash");
	ck_assert_int_eq(mail_guid_cmp(&mb->guid, &old), 0);
	ck_assert_uint_eq(mb->uidvalidity, uv);
	ck_assert_uint_eq(mb->n_msgs, 0);
	ck_assert_uint_eq(mb->uidnext, 2);
	ck_assert(mail_mailbox_uid_used(mb, 1));
	commit_verify();
}
END_TEST

START_TEST(test_mailbox_rename)
{
	struct mail_mailbox *mb;
	struct mail_guid g;

	mb = create_ok("a");
	g = mb->guid;
	save_ok(mb, "in a", "kw");
	create_ok("a/x");
	create_ok("a/x/y");
	create_ok("ab");	/* not a child of "a" */
	create_ok("c");
	commit_verify();

	ck_assert_int_eq(mail_op_mailbox_rename(txn, "nope", "z", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_NOTFOUND);
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "a", "c", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "a", "ab", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	/* INBOX always exists */
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "a", "INBOX", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "c", "inbox", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "a", "a/x/z", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "a", "b//", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "a", "", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);

	/* children follow; the GUID (and so the messages) stays */
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "a", "b/new", &e), 0);
	ck_assert_ptr_null(mbox("a"));
	ck_assert_ptr_null(mbox("a/x"));
	ck_assert_ptr_nonnull(mbox("b/new/x"));
	ck_assert_ptr_nonnull(mbox("b/new/x/y"));
	ck_assert_ptr_nonnull(mbox("ab"));
	mb = mbox("b/new");
	ck_assert_int_eq(mail_guid_cmp(&mb->guid, &g), 0);
	ck_assert_uint_eq(mb->n_msgs, 1);
	commit_verify();

	/* a child whose new name is taken: refused (and rolled back) */
	create_ok("d");
	create_ok("d/x");
	create_ok("e/x");
	commit_verify();
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "d", "e", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_EXISTS);
	mail_txn_rollback(&txn);
	ck_assert_ptr_nonnull(mbox("d"));
	ck_assert_ptr_nonnull(mbox("d/x"));
	ck_assert_ptr_null(mbox("e"));
	ck_assert_int_eq(mail_txn_begin(alice, &txn, &e), 0);
}
END_TEST

START_TEST(test_rename_inbox)
{
	struct mail_mailbox *in = mbox("INBOX"), *dst;
	struct mail_guid g_in = in->guid;
	uint32_t uv = in->uidvalidity;
	struct mail_msg m1, m2;

	save_ok(in, "one", "\\Seen kw1");
	save_ok(in, "two", "\\Flagged");
	create_ok("INBOX/child");
	commit_verify();
	in = mbox("INBOX");
	m1 = in->msgs[0];
	m2 = in->msgs[1];
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "INBOX", "Old", &e), 0);
	in = mbox("INBOX");
	dst = mbox("Old");
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(dst);
	/* INBOX stays (same identity), empty; its children stay */
	ck_assert_int_eq(mail_guid_cmp(&in->guid, &g_in), 0);
	ck_assert_uint_eq(in->uidvalidity, uv);
	ck_assert_uint_eq(in->n_msgs, 0);
	ck_assert_uint_eq(in->uidnext, 3);
	ck_assert_ptr_nonnull(mbox("INBOX/child"));
	ck_assert_ptr_null(mbox("Old/child"));
	/* the messages moved, keeping GUID, flags, keywords, body */
	ck_assert_uint_eq(dst->n_msgs, 2);
	ck_assert_int_eq(mail_guid_cmp(&dst->msgs[0].guid, &m1.guid), 0);
	ck_assert_int_eq(mail_guid_cmp(&dst->msgs[1].guid, &m2.guid), 0);
	ck_assert_int_eq(mail_guid_cmp(&dst->msgs[0].body, &m1.body), 0);
	ck_assert_uint_eq(dst->msgs[0].flags, MAIL_SEEN);
	ck_assert_uint_eq(dst->msgs[1].flags, MAIL_FLAGGED);
	ck_assert_uint_eq(dst->n_keywords, 1);
	ck_assert_uint_eq(dst->msgs[0].keywords, 1);
	ck_assert_int_eq(dst->msgs[0].idate, m1.idate);
	ck_assert_uint_eq(dst->msgs[1].size, m2.size);
	commit_verify();
	/* an empty INBOX renames too */
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "inbox", "Older", &e), 0);
	ck_assert_uint_eq(mbox("Older")->n_msgs, 0);
	commit_verify();
}
END_TEST

START_TEST(test_subscribe_and_settings)
{
	struct mail_mailbox *mb = create_ok("Box");

	ck_assert_int_eq(mail_op_subscribe(txn, "inbox", true, &e), 0);
	ck_assert_int_eq(mail_op_subscribe(txn, "Not/There", true, &e), 0);
	ck_assert(mail_state_subscribed(mail_user_state(alice), "INBOX"));
	ck_assert_int_eq(mail_op_subscribe(txn, "a//b", true, &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_subscribe(txn, "Not/There", false, &e), 0);
	ck_assert(!mail_state_subscribed(mail_user_state(alice), "Not/There"));

	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "color", "red", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "special-use", "\\Nope",
	    &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "special-use", "\\junk",
	    &e), 0);
	ck_assert_str_eq(mb->special_use, "\\Junk");
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "special-use", "", &e),
	    0);
	ck_assert_str_eq(mb->special_use, "");
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "private-flags",
	    "\\Seen \\flagged", &e), 0);
	ck_assert_uint_eq(mb->pvt_mask, MAIL_SEEN | MAIL_FLAGGED);
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "private-flags",
	    "(\\Seen)", &e), 0);
	ck_assert_uint_eq(mb->pvt_mask, MAIL_SEEN);
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "private-flags",
	    "\\Recent", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "private-flags",
	    "keyword", &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	ck_assert_uint_eq(mb->pvt_mask, MAIL_SEEN);
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "private-flags", "", &e),
	    0);
	ck_assert_uint_eq(mb->pvt_mask, 0);
	commit_verify();
}
END_TEST

START_TEST(test_save)
{
	struct mail_mailbox *in = mbox("INBOX");
	struct mail_save_opts opts;
	struct mail_flag_list fl;
	struct mail_guid g, got;
	struct mail_buf body = MAIL_BUF_INIT;
	static const char msg[] = "From: a@b\r\nSubject: hi\r\n\r\nbin\0ary\r\n";
	uint32_t uid;

	memset(&opts, 0, sizeof(opts));
	memset(&fl, 0, sizeof(fl));
	ck_assert_int_eq(mail_flag_list_add(&fl, "\\Answered", &e), 0);
	ck_assert_int_eq(mail_flag_list_add(&fl, "$Label1", &e), 0);
	mail_guid_generate(&g);
	opts.flags = &fl;
	opts.guid = &g;
	opts.idate = -100;
	opts.has_idate = true;
	opts.sdate = 1700000000;
	opts.has_sdate = true;
	ck_assert_int_eq(mail_op_save(txn, in, msg, sizeof(msg) - 1, &opts,
	    &uid, &got, &e), 0);
	ck_assert_uint_eq(uid, 1);
	ck_assert_int_eq(mail_guid_cmp(&got, &g), 0);
	ck_assert_uint_eq(in->msgs[0].flags, MAIL_ANSWERED);
	ck_assert_int_eq(in->msgs[0].idate, -100);
	ck_assert_int_eq(in->msgs[0].sdate, 1700000000);
	ck_assert_uint_eq(in->msgs[0].size, sizeof(msg) - 1);
	ck_assert_uint_eq(in->msgs[0].inst_node, mail_store_node_id(store));
	/* an import keeps UIDs, but only upwards */
	opts.guid = NULL;
	opts.uid = 100;
	ck_assert_int_eq(mail_op_save(txn, in, "x", 1, &opts, &uid, NULL, &e),
	    0);
	ck_assert_uint_eq(uid, 100);
	ck_assert_uint_eq(in->uidnext, 101);
	opts.uid = 50;
	ck_assert_int_eq(mail_op_save(txn, in, "x", 1, &opts, &uid, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	opts.uid = 100;
	ck_assert_int_eq(mail_op_save(txn, in, "x", 1, &opts, &uid, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	opts.uid = UINT32_MAX - 1;
	ck_assert_int_eq(mail_op_save(txn, in, "x", 1, &opts, &uid, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_LIMIT);
	opts.uid = 0;
	ck_assert_uint_eq(save_ok(in, "next", NULL), 101);
	mail_flag_list_free(&fl);
	commit_verify();
	/* the body is stored byte-exact */
	in = mbox("INBOX");
	ck_assert_int_eq(mail_blobs_get(mail_store_blobs(store),
	    &in->msgs[0].body, &body, &e), 0);
	ck_assert_uint_eq(body.len, sizeof(msg) - 1);
	ck_assert(memcmp(body.data, msg, body.len) == 0);
	mail_buf_free(&body);
}
END_TEST

START_TEST(test_keyword_limit)
{
	struct mail_mailbox *in = mbox("INBOX");
	struct mail_flag_list fl;
	struct mail_save_opts opts;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	uint32_t uid;
	char kw[32];

	/* 65 keywords at once */
	memset(&fl, 0, sizeof(fl));
	for (int i = 0; i <= MAIL_MAILBOX_MAX_KEYWORDS; i++) {
		snprintf(kw, sizeof(kw), "k%d", i);
		ck_assert_int_eq(mail_flag_list_add(&fl, kw, &e), 0);
	}
	memset(&opts, 0, sizeof(opts));
	opts.flags = &fl;
	ck_assert_int_eq(mail_op_save(txn, in, "x", 1, &opts, &uid, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_LIMIT);
	ck_assert_uint_eq(in->n_msgs, 0);
	mail_flag_list_free(&fl);
	/* 60 in the table, then 5 new ones */
	memset(&fl, 0, sizeof(fl));
	for (int i = 0; i < 60; i++) {
		snprintf(kw, sizeof(kw), "k%d", i);
		ck_assert_int_eq(mail_flag_list_add(&fl, kw, &e), 0);
	}
	ck_assert_int_eq(mail_op_save(txn, in, "x", 1, &opts, &uid, NULL, &e),
	    0);
	ck_assert_uint_eq(in->n_keywords, 60);
	mail_flag_list_free(&fl);
	memset(&fl, 0, sizeof(fl));
	for (int i = 55; i < 65; i++) {
		snprintf(kw, sizeof(kw), "k%d", i);
		ck_assert_int_eq(mail_flag_list_add(&fl, kw, &e), 0);
	}
	mail_uidset_add(&set, 1, 1);
	ck_assert_int_eq(mail_op_flags(txn, in, &set, MAIL_FLAGS_ADD, &fl,
	    NULL, &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_LIMIT);
	ck_assert_int_eq(mail_op_save(txn, in, "y", 1, &opts, &uid, NULL, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_LIMIT);
	ck_assert_uint_eq(in->n_keywords, 60);
	mail_flag_list_free(&fl);
	/* exactly 64 fit */
	memset(&fl, 0, sizeof(fl));
	for (int i = 60; i < 64; i++) {
		snprintf(kw, sizeof(kw), "k%d", i);
		ck_assert_int_eq(mail_flag_list_add(&fl, kw, &e), 0);
	}
	ck_assert_int_eq(mail_op_flags(txn, in, &set, MAIL_FLAGS_ADD, &fl,
	    NULL, &e), 0);
	ck_assert_uint_eq(in->n_keywords, 64);
	ck_assert_uint_eq(in->msgs[0].keywords, UINT64_MAX);
	mail_flag_list_free(&fl);
	mail_uidset_free(&set);
	commit_verify();
}
END_TEST

START_TEST(test_flags_and_expunge)
{
	struct mail_mailbox *in = mbox("INBOX");
	struct mail_uidset set = MAIL_UIDSET_INIT;
	uint64_t n, end;

	for (int i = 0; i < 5; i++)
		save_ok(in, "m", i % 2 ? "\\Seen" : NULL);
	commit_verify();
	in = mbox("INBOX");
	set_flags(in, "1:3", MAIL_FLAGS_ADD, "\\Flagged kw", NULL);
	ck_assert_uint_eq(in->msgs[2].flags, MAIL_FLAGGED);
	set_flags(in, "2", MAIL_FLAGS_REMOVE, "\\Seen", "alice");
	ck_assert_uint_eq(in->msgs[1].flags, MAIL_FLAGGED);
	ck_assert_uint_eq(in->n_unseen, 4);
	set_flags(in, "1:5", MAIL_FLAGS_REPLACE, "\\Draft", NULL);
	for (int i = 0; i < 5; i++) {
		ck_assert_uint_eq(in->msgs[i].flags, MAIL_DRAFT);
		ck_assert_uint_eq(in->msgs[i].keywords, 0);
	}
	commit_verify();
	/* nothing to change: no record at all */
	in = mbox("INBOX");
	end = mail_user_log_end(alice);
	set_flags(in, "50:60", MAIL_FLAGS_ADD, "\\Seen", NULL);
	ck_assert_int_eq(mail_uidset_parse("7:9", 0, &set, &e), 0);
	ck_assert_int_eq(mail_op_expunge(txn, in, &set, &n, &e), 0);
	ck_assert_uint_eq(n, 0);
	commit_verify();
	ck_assert_uint_eq(mail_user_log_end(alice), end);
	in = mbox("INBOX");
	mail_uidset_free(&set);
	ck_assert_int_eq(mail_uidset_parse("2,4:10", 0, &set, &e), 0);
	ck_assert_int_eq(mail_op_expunge(txn, in, &set, &n, &e), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(in->n_msgs, 2);
	ck_assert_uint_eq(in->uidnext, 6);
	mail_uidset_free(&set);
	commit_verify();
	/* UIDs are never reused after an expunge */
	ck_assert_uint_eq(save_ok(mbox("INBOX"), "new", NULL), 6);
	commit_verify();
}
END_TEST

START_TEST(test_private_flags)
{
	struct mail_mailbox *in = mbox("INBOX");
	struct mail_user *again = NULL;
	const struct mail_mailbox *m2;

	ck_assert_uint_eq(in->pvt_mask, MAIL_SEEN);	/* the default */
	save_ok(in, "a", NULL);
	save_ok(in, "b", NULL);
	commit_verify();
	in = mbox("INBOX");
	/* bob (not the owner) reads: his \Seen only */
	set_flags(in, "1:2", MAIL_FLAGS_ADD, "\\Seen", "bob");
	ck_assert_uint_eq(in->msgs[0].flags, 0);
	ck_assert_uint_eq(in->n_unseen, 2);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(in, "bob", 1), MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_view_flags(in, &in->msgs[0], "bob",
	    false), MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_view_flags(in, &in->msgs[0], "alice",
	    true), 0);
	/* a shared flag set by bob is shared */
	set_flags(in, "1", MAIL_FLAGS_ADD, "\\Flagged \\Seen", "bob");
	ck_assert_uint_eq(in->msgs[0].flags, MAIL_FLAGGED);
	/* the owner's \Seen is the shared one */
	set_flags(in, "2", MAIL_FLAGS_ADD, "\\Seen", "alice");
	ck_assert_uint_eq(in->msgs[1].flags, MAIL_SEEN);
	ck_assert_uint_eq(in->n_unseen, 1);
	/* REPLACE by bob: shared part within the non-private mask, private
	 * part his own */
	set_flags(in, "1", MAIL_FLAGS_REPLACE, "\\Answered", "bob");
	ck_assert_uint_eq(in->msgs[0].flags, MAIL_ANSWERED);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(in, "bob", 1), 0);
	set_flags(in, "2", MAIL_FLAGS_REMOVE, "\\Seen", "bob");
	ck_assert_uint_eq(in->msgs[1].flags, MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(in, "bob", 2), 0);
	commit_verify();
	/* it is all in the log */
	ck_assert_int_eq(mail_user_open(store, "alice", false, &again, &e), 0);
	m2 = mail_state_mailbox_by_name(mail_user_state(again), "INBOX");
	ck_assert_uint_eq(m2->msgs[0].flags, MAIL_ANSWERED);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(m2, "bob", 2), 0);
	ck_assert_uint_eq(mail_mailbox_view_flags(m2, &m2->msgs[1], "bob",
	    false), 0);
	mail_user_close(&again);
}
END_TEST

START_TEST(test_copy)
{
	struct mail_mailbox *in = mbox("INBOX"), *dst;
	struct mail_uidset set = MAIL_UIDSET_INIT, new_uids = MAIL_UIDSET_INIT;
	struct mail_user *bob = NULL;
	struct mail_txn *bt = NULL;
	struct mail_mailbox *bin;
	uint64_t n;

	save_ok(in, "one", "\\Seen zeta");
	save_ok(in, "two", "alpha \\Flagged");
	save_ok(in, "three", NULL);
	dst = create_ok("Dst");
	save_ok(dst, "pre", "other");
	commit_verify();
	in = mbox("INBOX");
	dst = mbox("Dst");
	ck_assert_int_eq(mail_uidset_parse("1:2,9", 0, &set, &e), 0);
	ck_assert_int_eq(mail_op_copy(txn, in, &set, dst, &new_uids, &n, &e),
	    0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(mail_uidset_count(&new_uids), 2);
	ck_assert(mail_uidset_contains(&new_uids, 2));
	ck_assert(mail_uidset_contains(&new_uids, 3));
	for (int i = 0; i < 2; i++) {
		const struct mail_msg *s = &in->msgs[i], *d = &dst->msgs[i + 1];
		struct mail_flag_list a, b;

		ck_assert_int_eq(mail_guid_cmp(&s->guid, &d->guid), 0);
		ck_assert_int_eq(mail_guid_cmp(&s->body, &d->body), 0);
		ck_assert_uint_eq(s->flags, d->flags);
		ck_assert_int_eq(s->idate, d->idate);
		ck_assert_uint_eq(s->size, d->size);
		/* a new instance */
		ck_assert(s->inst_hlc != d->inst_hlc);
		/* keywords by name (tables differ) */
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		for (size_t k = 0; k < 64; k++) {
			if (s->keywords & ((uint64_t)1 << k))
				mail_flag_list_add_keyword(&a, in->keywords[k]);
			if (d->keywords & ((uint64_t)1 << k))
				mail_flag_list_add_keyword(&b, dst->keywords[k]);
		}
		ck_assert_uint_eq(a.n_keywords, 1);
		ck_assert_uint_eq(b.n_keywords, 1);
		ck_assert_str_eq(a.keywords[0], b.keywords[0]);
		mail_flag_list_free(&a);
		mail_flag_list_free(&b);
	}
	/* into the same mailbox */
	mail_uidset_free(&set);
	mail_uidset_add(&set, 1, 3);
	ck_assert_int_eq(mail_op_copy(txn, in, &set, in, NULL, &n, &e), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(in->n_msgs, 6);
	commit_verify();

	/* into another user's mailbox: bodies shared, state separate */
	ck_assert_int_eq(mail_user_open(store, "bob", false, &bob, &e), 0);
	ck_assert_int_eq(mail_txn_begin(bob, &bt, &e), 0);
	bin = mail_state_mailbox_by_name(mail_user_state(bob), "INBOX");
	ck_assert_int_eq(mail_op_copy(bt, mbox("INBOX"), &set, bin, NULL, &n,
	    &e), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(mail_txn_commit(&bt, &e), 0);
	ck_assert_uint_eq(mbox("INBOX")->n_msgs, 6);
	mail_user_close(&bob);
	ck_assert_uint_eq(testlib_store_check(path, NULL), 0);
	mail_uidset_free(&set);
	mail_uidset_free(&new_uids);
}
END_TEST

START_TEST(test_copy_keyword_limit)
{
	struct mail_mailbox *src = create_ok("Src"), *dst = create_ok("Full");
	struct mail_flag_list fl;
	struct mail_save_opts opts;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	uint32_t uid;
	uint64_t n;
	char kw[16];

	memset(&fl, 0, sizeof(fl));
	for (int i = 0; i < 64; i++) {
		snprintf(kw, sizeof(kw), "d%d", i);
		ck_assert_int_eq(mail_flag_list_add(&fl, kw, &e), 0);
	}
	memset(&opts, 0, sizeof(opts));
	opts.flags = &fl;
	ck_assert_int_eq(mail_op_save(txn, dst, "d", 1, &opts, &uid, NULL, &e),
	    0);
	mail_flag_list_free(&fl);
	save_ok(src, "s", "newkw");
	mail_uidset_add(&set, 1, 1);
	ck_assert_int_eq(mail_op_copy(txn, src, &set, dst, NULL, &n, &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_LIMIT);
	mail_uidset_free(&set);
}
END_TEST

START_TEST(test_metadata)
{
	static const char *const bad[] = { "/foo", "comment", "/private",
	    "/private/", "/shared/", "/private//x", "/private/a/", "/shared/a*",
	    "/shared/a%", "/shared/a b", "/shared/\x01", "/shared/\xc3\xa4",
	    "" };
	struct mail_mailbox *in = mbox("INBOX");
	struct mail_meta *m;
	char *k, *big;

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		mail_err_clear(&e);
		ck_assert_msg(mail_op_metadata(txn, in, 0, NULL, bad[i], "v", 1,
		    &e) == -1, "'%s' accepted", bad[i]);
		ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	}
	k = mail_metadata_key_normalize("/Shared/Vendor/X", &e);
	ck_assert_str_eq(k, "/shared/vendor/x");
	free(k);
	ck_assert_str_eq(mail_metadata_key_user("/private/x", "bob"), "bob");
	ck_assert_str_eq(mail_metadata_key_user("/shared/x", "bob"), "");
	big = mail_xmalloc(MAIL_METADATA_KEY_MAX + 2);
	memcpy(big, "/shared/", 8);
	memset(big + 8, 'k', MAIL_METADATA_KEY_MAX - 8);
	big[MAIL_METADATA_KEY_MAX] = '\0';
	ck_assert_int_eq(mail_op_metadata(txn, in, 0, NULL, big, "v", 1, &e),
	    0);
	big[MAIL_METADATA_KEY_MAX] = 'k';
	big[MAIL_METADATA_KEY_MAX + 1] = '\0';
	ck_assert_int_eq(mail_op_metadata(txn, in, 0, NULL, big, "v", 1, &e),
	    -1);
	ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	free(big);
	/* value size */
	big = mail_xcalloc(MAIL_METADATA_VALUE_MAX + 1, 1);
	ck_assert_int_eq(mail_op_metadata(txn, in, 0, NULL, "/shared/big", big,
	    MAIL_METADATA_VALUE_MAX + 1, &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_LIMIT);
	ck_assert_int_eq(mail_op_metadata(txn, in, 0, NULL, "/shared/big", big,
	    MAIL_METADATA_VALUE_MAX, &e), 0);
	free(big);
	/* message level: the message must exist */
	ck_assert_int_eq(mail_op_metadata(txn, in, 7, NULL, "/shared/x", "v", 1,
	    &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_NOTFOUND);
	save_ok(in, "m", NULL);
	ck_assert_int_eq(mail_op_metadata(txn, in, 1, NULL, "/shared/x", "v", 1,
	    &e), 0);
	/* /private keys belong to the actor; case-normalized */
	ck_assert_int_eq(mail_op_metadata(txn, in, 0, "bob",
	    "/PRIVATE/Comment", "bobs", 4, &e), 0);
	ck_assert_int_eq(mail_op_metadata(txn, in, 0, NULL, "/private/comment",
	    "alices", 6, &e), 0);
	m = mail_state_meta_find(mail_user_state(alice), in, 0, "bob",
	    "/private/comment");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq((char *)m->value, "bobs");
	m = mail_state_meta_find(mail_user_state(alice), in, 0, "alice",
	    "/private/comment");
	ck_assert_str_eq((char *)m->value, "alices");
	/* server level, binary value, delete */
	ck_assert_int_eq(mail_op_metadata(txn, NULL, 0, NULL, "/shared/admin",
	    "a\0b", 3, &e), 0);
	m = mail_state_meta_find(mail_user_state(alice), NULL, 0, "",
	    "/shared/admin");
	ck_assert_uint_eq(m->value_len, 3);
	ck_assert_int_eq(mail_op_metadata(txn, NULL, 0, NULL, "/shared/admin",
	    NULL, 0, &e), 0);
	ck_assert(!m->has_value);
	commit_verify();
	{
		char *d = testlib_user_dump(alice);

		ck_assert_ptr_null(strstr(d, "/shared/admin"));
		ck_assert_ptr_nonnull(strstr(d, "\"bobs\""));
		free(d);
	}
}
END_TEST

START_TEST(test_acl)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "rwl", "lrw" }, { "aetxkpiwsrl", "lrswipkxtea" },
		{ "c", "kx" }, { "d", "te" }, { "lrlr", "lr" }, { "cd", "kxte" },
	};
	static const char *const bad_rights[] = { "z", "L", "lr ", "\xc3\xa4",
	    "" };
	static const char *const bad_ids[] = { "", "a b", "-", "../x", ".x",
	    "-.x" };
	struct mail_mailbox *in = mbox("INBOX");

	for (size_t i = 0; i < N_ELEMENTS(ok); i++) {
		ck_assert_int_eq(mail_op_acl(txn, in, "bob", ok[i].in, &e), 0);
		ck_assert_str_eq(mail_mailbox_acl_find(in, "bob")->rights,
		    ok[i].out);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad_rights); i++) {
		mail_err_clear(&e);
		ck_assert_int_eq(mail_op_acl(txn, in, "bob", bad_rights[i], &e),
		    -1);
		ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad_ids); i++) {
		mail_err_clear(&e);
		ck_assert_msg(mail_op_acl(txn, in, bad_ids[i], "l", &e) == -1,
		    "'%s' accepted", bad_ids[i]);
		ck_assert_int_eq(e.code, MAIL_ERR_PARAM);
	}
	ck_assert_int_eq(mail_op_acl(txn, in, "anyone", "l", &e), 0);
	ck_assert_int_eq(mail_op_acl(txn, in, "authenticated", "lr", &e), 0);
	ck_assert_int_eq(mail_op_acl(txn, in, "-carol", "w", &e), 0);
	ck_assert_ptr_nonnull(mail_mailbox_acl_find(in, "anyone"));
	ck_assert_uint_eq(in->n_acl, 4);
	/* removal */
	ck_assert_int_eq(mail_op_acl(txn, in, "dave", NULL, &e), -1);
	ck_assert_int_eq(e.code, MAIL_ERR_NOTFOUND);
	ck_assert_int_eq(mail_op_acl(txn, in, "anyone", NULL, &e), 0);
	ck_assert_ptr_null(mail_mailbox_acl_find(in, "anyone"));
	ck_assert_int_eq(mail_op_acl(txn, in, "anyone", NULL, &e), -1);
	commit_verify();
}
END_TEST

/* A record replicated from another node (it keeps its origin clock). */
static void
add_replicated(struct mail_rec *rec, uint64_t hlc)
{
	struct mail_err err;

	rec->node = 0xfeed;
	rec->hlc = hlc;
	if (mail_txn_add(txn, rec, &err) < 0)
		ck_abort_msg("add: %s", err.msg);
}

/* Clocks from other nodes, even far ahead of ours, never make a local
 * change lose: the transaction's next HLC is above every clock the
 * state holds. */
START_TEST(test_local_beats_replicated)
{
	struct mail_mailbox *mb = create_ok("R");
	struct mail_state *st = mail_user_state(alice);
	uint64_t future = (mail_now_ms() + 86400000ull) << 16;
	struct mail_msg_key key;
	struct mail_msg *m;
	struct mail_rec rec;
	uint32_t uid;

	uid = save_ok(mb, "Subject: r\r\n\r\nr\r\n", NULL);
	m = mail_mailbox_msg(mb, uid);
	mail_msg_key_of(m, &key);
	/* flags and UID clock of the message from a node a day ahead */
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_PUT;
	rec.mailbox = mb->guid;
	rec.uid = uid;
	rec.guid = key.guid;
	rec.inst_node = key.inst_node;
	rec.inst_hlc = key.inst_hlc;
	rec.uid_hlc = m->uid_hlc;
	rec.uid_node = m->uid_node;
	rec.flags = MAIL_FLAGGED;
	rec.flags_hlc = future + 5;
	rec.flags_node = 0xfeed;
	rec.body = m->body;
	rec.size = m->size;
	add_replicated(&rec, future);
	ck_assert_uint_ge(st->hlc, future + 5);
	ck_assert_uint_eq(mail_mailbox_msg(mb, uid)->flags, MAIL_FLAGGED);
	set_flags(mb, "1:100", MAIL_FLAGS_ADD, "\\Seen", NULL);
	m = mail_mailbox_msg(mb, uid);
	ck_assert_uint_eq(m->flags, MAIL_FLAGGED | MAIL_SEEN);
	ck_assert_uint_gt(m->flags_hlc, future + 5);
	/* special-use and subscriptions alike */
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MAILBOX_ATTR;
	rec.mailbox = mb->guid;
	rec.name = (char *)(uintptr_t)"specialuse";
	rec.value = (uint8_t *)(uintptr_t)"\\Junk";
	rec.value_len = 5;
	add_replicated(&rec, future + 10);
	ck_assert_str_eq(mb->special_use, "\\Junk");
	ck_assert_int_eq(mail_op_mailbox_set(txn, mb, "special-use", "\\Sent",
	    &e), 0);
	ck_assert_str_eq(mb->special_use, "\\Sent");
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_SUBSCRIBE;
	rec.name = (char *)(uintptr_t)"R";
	rec.on = true;
	add_replicated(&rec, future + 20);
	ck_assert(mail_state_subscribed(st, "R"));
	ck_assert_int_eq(mail_op_subscribe(txn, "R", false, &e), 0);
	ck_assert(!mail_state_subscribed(st, "R"));
	commit_verify();
	ck_assert(!mail_state_subscribed(mail_user_state(alice), "R"));
}
END_TEST

/* Deleted mailboxes stay in the state, out of sight of the operations. */
START_TEST(test_deleted_mailboxes)
{
	struct mail_mailbox *mb, *child;
	struct mail_mailbox_opts opts;
	struct mail_guid old;
	uint32_t uid;

	create_ok("P");
	child = create_ok("P/c");
	old = child->guid;
	uid = save_ok(child, "Subject: c\r\n\r\nc\r\n", "\\Seen");
	commit_verify();
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "P/c", &e), 0);
	child = mail_state_mailbox_by_guid_any(mail_user_state(alice), &old);
	ck_assert(child->deleted);
	ck_assert_uint_eq(child->n_tombs, 1);
	ck_assert(mail_mailbox_uid_used(child, uid));
	/* a deleted child does not stop a delete or rename of its parent,
	 * and keeps its name */
	ck_assert_int_eq(mail_op_mailbox_rename(txn, "P", "Q", &e), 0);
	ck_assert_str_eq(child->name, "P/c");
	ck_assert_ptr_null(mbox("Q/c"));
	ck_assert_int_eq(mail_op_mailbox_delete(txn, "Q", &e), 0);
	/* the name is free; a new GUID even when asked for the old one */
	memset(&opts, 0, sizeof(opts));
	opts.guid = &old;
	ck_assert_int_eq(mail_op_mailbox_create_with(txn, "P/c", NULL, &opts,
	    &mb, &e), 0);
	ck_assert_int_ne(mail_guid_cmp(&mb->guid, &old), 0);
	ck_assert(mail_state_guid_deleted(mail_user_state(alice), &old));
	commit_verify();
	/* the state after replay holds it too */
	child = mail_state_mailbox_by_guid_any(mail_user_state(alice), &old);
	ck_assert_ptr_nonnull(child);
	ck_assert(child->deleted);
	ck_assert_uint_eq(child->n_tombs, 1);
}
END_TEST

Suite *test_mail_ops_suite(void);
Suite *
test_mail_ops_suite(void)
{
	Suite *s = suite_create("mail_ops");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mailbox_create);
	tcase_add_test(tc, test_mailbox_delete);
	tcase_add_test(tc, test_mailbox_rename);
	tcase_add_test(tc, test_rename_inbox);
	tcase_add_test(tc, test_subscribe_and_settings);
	tcase_add_test(tc, test_save);
	tcase_add_test(tc, test_keyword_limit);
	tcase_add_test(tc, test_flags_and_expunge);
	tcase_add_test(tc, test_private_flags);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_copy_keyword_limit);
	tcase_add_test(tc, test_metadata);
	tcase_add_test(tc, test_acl);
	tcase_add_test(tc, test_local_beats_replicated);
	tcase_add_test(tc, test_deleted_mailboxes);
	suite_add_tcase(s, tc);
	return s;
}
