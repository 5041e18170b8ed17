/*
 * test_mail_flags.c: system flags (case-insensitive, \Recent refused) and
 * keyword atoms (RFC 9051 flag-keyword), flag lists and formatting.
 */
#include <stdlib.h>

#include "mail_flags.h"
#include "testlib.h"

START_TEST(test_system_flags)
{
	static const struct {
		const char *tok;
		uint16_t bit;
	} ok[] = {
		{ "\\Seen", MAIL_SEEN }, { "\\SEEN", MAIL_SEEN },
		{ "\\seen", MAIL_SEEN }, { "\\Answered", MAIL_ANSWERED },
		{ "\\fLaGgEd", MAIL_FLAGGED }, { "\\Deleted", MAIL_DELETED },
		{ "\\Draft", MAIL_DRAFT },
	};
	static const char *const bad[] = { "\\Recent", "\\recent", "\\",
	    "\\Seen2", "\\Foo", "\\*", "\\Seen ", "\\Se en" };
	struct mail_err err;
	uint16_t bit;

	for (size_t i = 0; i < N_ELEMENTS(ok); i++) {
		ck_assert_int_eq(mail_flag_parse(ok[i].tok, &bit, &err), 1);
		ck_assert_uint_eq(bit, ok[i].bit);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		mail_err_clear(&err);
		ck_assert_msg(mail_flag_parse(bad[i], &bit, &err) == -1,
		    "'%s' accepted", bad[i]);
		ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
		ck_assert_uint_eq(bit, 0);
	}
}
END_TEST

START_TEST(test_keywords)
{
	static const char *const ok[] = { "$Forwarded", "$MDNSent", "Junk",
	    "NonJunk", "a", "x-y_z.1", "!#&'+,-./:;<=>?@[^_`|}~", "Seen" };
	static const char *const bad[] = { "", "a b", "a(b", "a)b", "a{b",
	    "a%b", "a*b", "a\"b", "a\\b", "a]b", "tab\t", "nl\n", "\x01",
	    "del\x7f", "caf\xc3\xa9" };
	struct mail_err err;
	uint16_t bit;
	char max[MAIL_KEYWORD_MAX_LEN + 2];

	for (size_t i = 0; i < N_ELEMENTS(ok); i++) {
		ck_assert_msg(mail_keyword_valid(ok[i]), "'%s' refused", ok[i]);
		ck_assert_int_eq(mail_flag_parse(ok[i], &bit, &err), 0);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		ck_assert_msg(!mail_keyword_valid(bad[i]), "'%s' accepted",
		    bad[i]);
		ck_assert_int_eq(mail_flag_parse(bad[i], &bit, &err), -1);
		ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	}
	memset(max, 'k', sizeof(max));
	max[MAIL_KEYWORD_MAX_LEN] = '\0';
	ck_assert(mail_keyword_valid(max));
	max[MAIL_KEYWORD_MAX_LEN] = 'k';
	max[MAIL_KEYWORD_MAX_LEN + 1] = '\0';
	ck_assert(!mail_keyword_valid(max));
}
END_TEST

START_TEST(test_flag_list)
{
	struct mail_flag_list l;
	struct mail_err err;

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(mail_flag_list_add(&l, "\\seen", &err), 0);
	ck_assert_int_eq(mail_flag_list_add(&l, "zeta", &err), 0);
	ck_assert_int_eq(mail_flag_list_add(&l, "Alpha", &err), 0);
	ck_assert_int_eq(mail_flag_list_add(&l, "\\Draft", &err), 0);
	ck_assert_int_eq(mail_flag_list_add(&l, "zeta", &err), 0);
	ck_assert_int_eq(mail_flag_list_add(&l, "alpha", &err), 0);
	ck_assert_int_eq(mail_flag_list_add(&l, "\\Recent", &err), -1);
	ck_assert_int_eq(mail_flag_list_add(&l, "bad word", &err), -1);
	ck_assert_uint_eq(l.flags, MAIL_SEEN | MAIL_DRAFT);
	/* sorted, unique, case-sensitive */
	ck_assert_uint_eq(l.n_keywords, 3);
	ck_assert_str_eq(l.keywords[0], "Alpha");
	ck_assert_str_eq(l.keywords[1], "alpha");
	ck_assert_str_eq(l.keywords[2], "zeta");
	mail_flag_list_add_keyword(&l, "beta");
	ck_assert_str_eq(l.keywords[2], "beta");
	ck_assert_uint_eq(l.n_keywords, 4);
	mail_flag_list_free(&l);
	ck_assert_ptr_null(l.keywords);
	ck_assert_uint_eq(l.n_keywords, 0);
	ck_assert_uint_eq(l.flags, 0);
}
END_TEST

START_TEST(test_format)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_flags_format(0, &b);
	ck_assert_uint_eq(b.len, 0);
	mail_flags_format(MAIL_DRAFT | MAIL_SEEN, &b);
	ck_assert_str_eq((char *)b.data, "\\Seen \\Draft");
	mail_buf_reset(&b);
	mail_flags_format(MAIL_FLAGS_ALL, &b);
	ck_assert_str_eq((char *)b.data,
	    "\\Seen \\Answered \\Flagged \\Deleted \\Draft");
	mail_buf_reset(&b);
	/* bits beyond the system flags are not printed */
	mail_flags_format(0x20 | MAIL_FLAGGED, &b);
	ck_assert_str_eq((char *)b.data, "\\Flagged");
	mail_buf_free(&b);
}
END_TEST

Suite *test_mail_flags_suite(void);
Suite *
test_mail_flags_suite(void)
{
	Suite *s = suite_create("mail_flags");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_system_flags);
	tcase_add_test(tc, test_keywords);
	tcase_add_test(tc, test_flag_list);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	return s;
}
