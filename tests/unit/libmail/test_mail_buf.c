/*
 * test_mail_buf.c: the buffer and the bounded reader.
 */
#include <stdlib.h>

#include "mail_buf.h"
#include "testlib.h"

START_TEST(test_varint_roundtrip)
{
	static const uint64_t vals[] = { 0, 1, 127, 128, 300, 16383, 16384,
	    UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX };
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_reader r;

	for (size_t i = 0; i < N_ELEMENTS(vals); i++)
		mail_buf_put_varint(&b, vals[i]);
	mail_reader_init(&r, b.data, b.len);
	for (size_t i = 0; i < N_ELEMENTS(vals); i++)
		ck_assert_uint_eq(mail_get_varint(&r), vals[i]);
	ck_assert(mail_reader_end(&r));
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_varint_overlong)
{
	/* 11 continuation bytes can not be a u64 */
	static const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t top[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0x02 };
	struct mail_reader r;

	mail_reader_init(&r, bad, sizeof(bad));
	(void)mail_get_varint(&r);
	ck_assert(r.bad);
	mail_reader_init(&r, top, sizeof(top));
	(void)mail_get_varint(&r);
	ck_assert(r.bad);
	/* padded: 5 written as 0x85 0x00 */
	{
		static const uint8_t padded[] = { 0x85, 0x00 };

		mail_reader_init(&r, padded, sizeof(padded));
		(void)mail_get_varint(&r);
		ck_assert(r.bad);
	}
}
END_TEST

START_TEST(test_reader_truncated)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_reader r;
	size_t len;

	mail_buf_put_str(&b, "hello");
	/* every strict prefix is bad, the whole is good */
	for (size_t cut = 0; cut < b.len; cut++) {
		mail_reader_init(&r, b.data, cut);
		(void)mail_get_bytes(&r, 100, &len);
		ck_assert(r.bad);
	}
	mail_reader_init(&r, b.data, b.len);
	ck_assert_ptr_nonnull(mail_get_bytes(&r, 100, &len));
	ck_assert_uint_eq(len, 5);
	ck_assert(mail_reader_end(&r));
	/* over the limit */
	mail_reader_init(&r, b.data, b.len);
	ck_assert_ptr_null(mail_get_bytes(&r, 4, &len));
	ck_assert(r.bad);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_buf_consume_printf)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_buf_printf(&b, "%s-%d", "abc", 42);
	ck_assert_str_eq((char *)b.data, "abc-42");
	mail_buf_consume(&b, 4);
	ck_assert_str_eq((char *)b.data, "42");
	ck_assert_uint_eq(b.len, 2);
	mail_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

Suite *test_mail_buf_suite(void);
Suite *
test_mail_buf_suite(void)
{
	Suite *s = suite_create("mail_buf");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_varint_roundtrip);
	tcase_add_test(tc, test_varint_overlong);
	tcase_add_test(tc, test_reader_truncated);
	tcase_add_test(tc, test_buf_consume_printf);
	suite_add_tcase(s, tc);
	return s;
}
