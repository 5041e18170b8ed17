/*
 * test_mail_name.c: user names (they become directory names) and mailbox
 * names (printable UTF-8, '/'-separated, bounded), INBOX normalization.
 */
#include <stdlib.h>

#include "mail_name.h"
#include "testlib.h"

static char *
repeat(char c, size_t n)
{
	char *s = mail_xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

START_TEST(test_user_names)
{
	static const char *const ok[] = { "alice", "a", "Bob.Smith",
	    "user@example.org", "x+tag=1", "a-b_c", "0", "a.", "a-" };
	static const char *const bad[] = { "", ".hidden", ".public", "-opt",
	    "a/b", "..", "a b", "a\\b", "\xc3\xa4", "a\n", "a:b", "a*" };
	struct mail_err err;
	char *s;

	for (size_t i = 0; i < N_ELEMENTS(ok); i++)
		ck_assert_msg(mail_user_name_check(ok[i], &err) == 0,
		    "'%s': %s", ok[i], err.msg);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		mail_err_clear(&err);
		ck_assert_msg(mail_user_name_check(bad[i], &err) == -1,
		    "'%s' accepted", bad[i]);
		ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	}
	s = repeat('u', MAIL_USER_NAME_MAX);
	ck_assert_int_eq(mail_user_name_check(s, &err), 0);
	free(s);
	s = repeat('u', MAIL_USER_NAME_MAX + 1);
	ck_assert_int_eq(mail_user_name_check(s, &err), -1);
	free(s);
}
END_TEST

START_TEST(test_mailbox_names)
{
	static const char *const ok[] = { "INBOX", "inbox", "a/b/c",
	    "Sent Items", "\xc3\xa4rger", "\xe2\x82\xac", "\xf0\x9f\x93\xa7",
	    "a.b", "...", ".x", "x.", "#news", "a\"b", "~x", "&AOQ-" };
	static const char *const bad[] = { "", "a//b", "/a", "a/", "/",
	    ".", "..", "a/./b", "a/../b", "../a", "x\x01", "\x1f", "a\x7f",
	    "tab\t", "nl\n", "a*", "a%b",
	    "\xc3", "\xc3\x28", "\x80", "\xff", "\xfe",
	    "\xc0\x80", "\xe0\x80\xaf",	/* overlong */
	    "\xed\xa0\x80",		/* surrogate U+D800 */
	    "\xf4\x90\x80\x80",		/* beyond U+10FFFF */
	    "\xf8\x88\x80\x80\x80" };
	struct mail_err err;

	for (size_t i = 0; i < N_ELEMENTS(ok); i++)
		ck_assert_msg(mail_mailbox_name_check(ok[i], &err) == 0,
		    "'%s': %s", ok[i], err.msg);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		mail_err_clear(&err);
		ck_assert_msg(mail_mailbox_name_check(bad[i], &err) == -1,
		    "bad name %zu accepted", i);
		ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	}
}
END_TEST

START_TEST(test_mailbox_name_lengths)
{
	struct mail_err err;
	char *s = mail_xmalloc(MAIL_MAILBOX_NAME_MAX + 2);

	/* 1000 bytes in components of 200: ok; 1001: not */
	for (size_t i = 0; i < MAIL_MAILBOX_NAME_MAX; i++)
		s[i] = (i % 200 == 199) ? '/' : 'm';
	s[MAIL_MAILBOX_NAME_MAX - 1] = 'm';
	s[MAIL_MAILBOX_NAME_MAX] = '\0';
	ck_assert_msg(mail_mailbox_name_check(s, &err) == 0, "%s", err.msg);
	s[MAIL_MAILBOX_NAME_MAX] = 'm';
	s[MAIL_MAILBOX_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(mail_mailbox_name_check(s, &err), -1);
	free(s);
	/* one component: 255 bytes ok, 256 not */
	s = repeat('c', MAIL_MAILBOX_COMPONENT_MAX);
	ck_assert_int_eq(mail_mailbox_name_check(s, &err), 0);
	free(s);
	s = repeat('c', MAIL_MAILBOX_COMPONENT_MAX + 1);
	ck_assert_int_eq(mail_mailbox_name_check(s, &err), -1);
	free(s);
	/* multibyte characters count in bytes */
	s = mail_xmalloc(MAIL_MAILBOX_COMPONENT_MAX + 3);
	for (size_t i = 0; i + 1 < MAIL_MAILBOX_COMPONENT_MAX + 1; i += 2)
		memcpy(s + i, "\xc3\xa4", 2);
	s[MAIL_MAILBOX_COMPONENT_MAX + 1] = '\0';	/* 256 bytes */
	ck_assert_int_eq(mail_mailbox_name_check(s, &err), -1);
	free(s);
}
END_TEST

START_TEST(test_utf8)
{
	ck_assert(mail_utf8_valid("", 0));
	ck_assert(mail_utf8_valid("plain", 5));
	ck_assert(mail_utf8_valid("\xef\xbf\xbf", 3));		/* U+FFFF */
	ck_assert(mail_utf8_valid("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	ck_assert(mail_utf8_valid("\xed\x9f\xbf", 3));		/* U+D7FF */
	ck_assert(!mail_utf8_valid("\xed\xbf\xbf", 3));		/* U+DFFF */
	ck_assert(!mail_utf8_valid("\xc1\xbf", 2));		/* overlong */
	ck_assert(!mail_utf8_valid("\xf0\x8f\xbf\xbf", 4));	/* overlong */
	/* a sequence cut by the length given */
	ck_assert(!mail_utf8_valid("\xe2\x82\xac", 2));
	ck_assert(mail_utf8_valid("a\xe2\x82\xac", 1));
}
END_TEST

START_TEST(test_normalize)
{
	static const char *const in[][2] = {
		{ "inbox", "INBOX" }, { "InBoX", "INBOX" },
		{ "INBOX", "INBOX" }, { "inbox/Sub", "INBOX/Sub" },
		{ "inbox/inbox", "INBOX/inbox" }, { "inboxes", "inboxes" },
		{ "Sub/inbox", "Sub/inbox" }, { "inbo", "inbo" },
		{ "x", "x" },
	};

	for (size_t i = 0; i < N_ELEMENTS(in); i++) {
		char *n = mail_mailbox_name_normalize(in[i][0]);

		ck_assert_str_eq(n, in[i][1]);
		free(n);
	}
}
END_TEST

Suite *test_mail_name_suite(void);
Suite *
test_mail_name_suite(void)
{
	Suite *s = suite_create("mail_name");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_user_names);
	tcase_add_test(tc, test_mailbox_names);
	tcase_add_test(tc, test_mailbox_name_lengths);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_normalize);
	suite_add_tcase(s, tc);
	return s;
}
