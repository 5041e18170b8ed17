/*
 * test_mail_watch.c: a reader waiting on a user's log wakes up when
 * another process commits, and not for changes that add no records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mail_ops.h"
#include "mail_watch.h"
#include "testlib.h"

static void
commit_subscription(const char *dir, const char *user, const char *name)
{
	struct mail_store *s;
	struct mail_user *u;
	struct mail_txn *t;
	struct mail_err err;

	ck_assert_int_eq(mail_store_open(dir, NULL, &s, &err), 0);
	ck_assert_int_eq(mail_user_open(s, user, false, &u, &err), 0);
	ck_assert_int_eq(mail_txn_begin(u, &t, &err), 0);
	ck_assert_int_eq(mail_op_subscribe(t, name, true, &err), 0);
	ck_assert_int_eq(mail_txn_commit(&t, &err), 0);
	mail_user_close(&u);
	mail_store_close(&s);
}

START_TEST(test_watch_wakes_on_commit)
{
	char *dir = testlib_tmpdir();
	char *path = mail_xasprintf("%s/s", dir);
	struct mail_store *s;
	struct mail_user *a, *b;
	struct mail_watch *w;
	struct mail_err err;
	int ida, idb, id, status;
	pid_t pid;

	ck_assert_int_eq(mail_store_init(path, 0, &err), 0);
	ck_assert_int_eq(mail_store_open(path, NULL, &s, &err), 0);
	ck_assert_int_eq(mail_store_user_add(s, "a", &err), 0);
	ck_assert_int_eq(mail_store_user_add(s, "b", &err), 0);
	ck_assert_int_eq(mail_user_open(s, "a", false, &a, &err), 0);
	ck_assert_int_eq(mail_user_open(s, "b", false, &b, &err), 0);
	ck_assert_int_eq(mail_watch_new(&w, &err), 0);
	ida = mail_watch_add(w, a, &err);
	idb = mail_watch_add(w, b, &err);
	ck_assert_int_ge(ida, 0);
	ck_assert_int_ne(ida, idb);
	/* nothing happened yet */
	ck_assert_int_eq(mail_watch_wait(w, 50, &id, &err), 0);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		usleep(100 * 1000);
		commit_subscription(path, "b", "Lists");
		_exit(0);
	}
	ck_assert_int_eq(mail_watch_wait(w, 5000, &id, &err), 1);
	ck_assert_int_eq(id, idb);
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* after the wake-up, a refresh shows the new record */
	ck_assert(!mail_state_subscribed(mail_user_state(b), "Lists"));
	ck_assert_int_eq(mail_user_refresh(b, &err), 0);
	ck_assert(mail_state_subscribed(mail_user_state(b), "Lists"));
	/* drained: only one user changed */
	while (mail_watch_wait(w, 0, &id, &err) == 1)
		ck_assert_int_eq(id, idb);

	mail_watch_free(&w);
	ck_assert_ptr_null(w);
	mail_user_close(&a);
	mail_user_close(&b);
	mail_store_close(&s);
	testlib_rmdir_r(dir);
	free(path);
	free(dir);
}
END_TEST

/* Many users watched by directory: each commit wakes exactly its id,
 * once however many records; adding a directory twice gives its id. */
START_TEST(test_watch_many_dirs)
{
	char *dir = testlib_tmpdir();
	char *path = mail_xasprintf("%s/s", dir);
	struct mail_store *s;
	struct mail_watch *w;
	struct mail_err err;
	int ids[300], id;
	bool seen[300];

	ck_assert_int_eq(mail_store_init(path, 0, &err), 0);
	ck_assert_int_eq(mail_store_open(path, NULL, &s, &err), 0);
	ck_assert_int_eq(mail_watch_new(&w, &err), 0);
	for (int i = 0; i < 300; i++) {
		char name[16], *udir;

		snprintf(name, sizeof(name), "u%d", i);
		ck_assert_int_eq(mail_store_user_add(s, name, &err), 0);
		udir = mail_xasprintf("%s/users/%s", path, name);
		ids[i] = mail_watch_add_dir(w, udir, &err);
		ck_assert_int_eq(ids[i], i);
		ck_assert_int_eq(mail_watch_add_dir(w, udir, &err), i);
		free(udir);
	}
	ck_assert_int_lt(mail_watch_add_dir(w, "/nonexistent/dir", &err), 0);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 300; i += 7) {
		char name[16];

		snprintf(name, sizeof(name), "u%d", i);
		commit_subscription(path, name, "Lists");
		commit_subscription(path, name, "Other");
	}
	while (mail_watch_wait(w, 200, &id, &err) == 1) {
		ck_assert_int_ge(id, 0);
		ck_assert_int_lt(id, 300);
		ck_assert_msg(id % 7 == 0, "id %d woke", id);
		ck_assert_msg(!seen[id], "id %d twice", id);
		seen[id] = true;
	}
	for (int i = 0; i < 300; i += 7)
		ck_assert_msg(seen[i], "id %d missed", i);
	mail_watch_free(&w);
	mail_store_close(&s);
	testlib_rmdir_r(dir);
	free(path);
	free(dir);
}
END_TEST

Suite *test_mail_watch_suite(void);
Suite *
test_mail_watch_suite(void)
{
	Suite *s = suite_create("mail_watch");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_watch_wakes_on_commit);
	tcase_add_test(tc, test_watch_many_dirs);
	suite_add_tcase(s, tc);
	return s;
}
