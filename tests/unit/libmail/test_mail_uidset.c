/*
 * test_mail_uidset.c: sequence-set parsing ("*" included) and the
 * normalized range list, checked against a bitmap model.
 */
#include <stdlib.h>

#include "mail_uidset.h"
#include "testlib.h"

/* Parse s with star and return the formatted normalized set (malloc'ed),
 * failing the test on a parse error. */
static char *
parse_fmt(const char *s, uint32_t star)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;

	if (mail_uidset_parse(s, star, &set, &err) < 0)
		ck_abort_msg("'%s': %s", s, err.msg);
	mail_uidset_format(&set, &out);
	mail_uidset_free(&set);
	return mail_buf_steal_str(&out);
}

#define PARSE_EQ(s, star, want) do { \
	char *got_ = parse_fmt((s), (star)); \
	ck_assert_msg(strcmp(got_, (want)) == 0, "'%s' star %u: got '%s', " \
	    "want '%s'", (s), (unsigned)(star), got_, (want)); \
	free(got_); \
} while (0)

START_TEST(test_parse_valid)
{
	PARSE_EQ("1", 0, "1");
	PARSE_EQ("1:5,9", 100, "1:5,9");
	PARSE_EQ("5:1", 100, "1:5");
	PARSE_EQ("*", 42, "42");
	PARSE_EQ("*:*", 42, "42");
	PARSE_EQ("3:*", 10, "3:10");
	PARSE_EQ("*:3", 10, "3:10");
	/* star below the low end: star:3 (RFC 9051 6.4.8) */
	PARSE_EQ("3:*", 2, "2:3");
	PARSE_EQ("7:*", 1, "1:7");
	/* empty mailbox: "*" matches nothing, "3:*" is just 3 */
	PARSE_EQ("*", 0, "");
	PARSE_EQ("3:*", 0, "3");
	PARSE_EQ("1,*", 0, "1");
	/* overlapping and adjacent ranges merge */
	PARSE_EQ("1:3,2:6", 0, "1:6");
	PARSE_EQ("1:3,4:6", 0, "1:6");
	PARSE_EQ("4:6,1:3", 0, "1:6");
	PARSE_EQ("10,1,5,3,2,4", 0, "1:5,10");
	PARSE_EQ("1:2,4:5,3", 0, "1:5");
	PARSE_EQ("1:10,3:4", 0, "1:10");
	PARSE_EQ("3:4,1:10", 0, "1:10");
	PARSE_EQ("1,3,5,7,2:6", 0, "1:7");
	PARSE_EQ("1,1,1", 0, "1");
	/* huge numbers */
	PARSE_EQ("4294967295", 0, "4294967295");
	PARSE_EQ("4294967294:4294967295,1", 0, "1,4294967294:4294967295");
	PARSE_EQ("1:4294967295", 0, "1:4294967295");
	PARSE_EQ("4294967295:1", 0, "1:4294967295");
	PARSE_EQ("2:*", 4294967295u, "2:4294967295");
	PARSE_EQ("4294967295,4294967294", 0, "4294967294:4294967295");
	PARSE_EQ("5,9,1:4294967295", 0, "1:4294967295");
	PARSE_EQ("5,9,100:200,2:*", 4294967295u, "2:4294967295");
}
END_TEST

START_TEST(test_parse_invalid)
{
	static const char *const bad[] = { "", "0", "1:", ",", "a", "1,,2",
	    "4294967296", "99999999999999999999", ":5", "1:0", "0:1", "01",
	    "1,", ",1", "1:2:3", "1 ", " 1", "1;2", "-1", "**", "1:**",
	    "+1", "1:5,x" };

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		struct mail_uidset set = MAIL_UIDSET_INIT;
		struct mail_err err;

		mail_err_clear(&err);
		ck_assert_msg(mail_uidset_parse(bad[i], 10, &set, &err) == -1,
		    "'%s' accepted", bad[i]);
		ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
		ck_assert_ptr_nonnull(strstr(err.msg, bad[i]));
		mail_uidset_free(&set);
	}
}
END_TEST

START_TEST(test_contains_count_format)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;

	ck_assert(!mail_uidset_contains(&set, 1));
	ck_assert_uint_eq(mail_uidset_count(&set), 0);
	ck_assert_int_eq(mail_uidset_parse("2:4,10,20:4294967295", 0, &set,
	    &err), 0);
	ck_assert(!mail_uidset_contains(&set, 0));
	ck_assert(!mail_uidset_contains(&set, 1));
	ck_assert(mail_uidset_contains(&set, 2));
	ck_assert(mail_uidset_contains(&set, 4));
	ck_assert(!mail_uidset_contains(&set, 5));
	ck_assert(mail_uidset_contains(&set, 10));
	ck_assert(!mail_uidset_contains(&set, 19));
	ck_assert(mail_uidset_contains(&set, UINT32_MAX));
	ck_assert_uint_eq(mail_uidset_count(&set),
	    3 + 1 + ((uint64_t)UINT32_MAX - 20 + 1));
	mail_uidset_format(&set, &out);
	ck_assert_str_eq((char *)out.data, "2:4,10,20:4294967295");
	mail_buf_free(&out);
	mail_uidset_free(&set);
	ck_assert_ptr_null(set.r);
	ck_assert_uint_eq(set.n, 0);
}
END_TEST

/* Model check: random adds against a bitmap, in order, out of order and
 * reversed; the set stays sorted, disjoint and not adjacent. */
#define MODEL_MAX 4096

static void
check_model(const struct mail_uidset *set, const uint8_t *bits)
{
	uint64_t n = 0;

	for (size_t i = 0; i < set->n; i++) {
		ck_assert_uint_ge(set->r[i].lo, 1);
		ck_assert_uint_le(set->r[i].lo, set->r[i].hi);
		if (i > 0)
			ck_assert_uint_gt(set->r[i].lo, set->r[i - 1].hi + 1);
	}
	for (uint32_t u = 1; u < MODEL_MAX; u++) {
		ck_assert_int_eq(mail_uidset_contains(set, u), bits[u] != 0);
		n += bits[u];
	}
	ck_assert_uint_eq(mail_uidset_count(set), n);
}

START_TEST(test_add_model)
{
	int order = _i;		/* 0 ascending, 1 descending, 2 random */
	struct mail_uidset set = MAIL_UIDSET_INIT;
	uint8_t *bits = mail_xcalloc(MODEL_MAX + 64, 1);
	unsigned seed = 12345 + (unsigned)order;

	for (int i = 0; i < 3000; i++) {
		uint32_t lo, hi;

		if (order == 0) {
			lo = 1 + (uint32_t)(i * 3) % (MODEL_MAX - 60);
			hi = lo + (uint32_t)(i % 3);
		} else if (order == 1) {
			lo = MODEL_MAX - 50 - (uint32_t)(i * 3) % (MODEL_MAX - 60);
			hi = lo + (uint32_t)(i % 3);
		} else {
			lo = 1 + (uint32_t)rand_r(&seed) % (MODEL_MAX - 60);
			hi = lo + (uint32_t)rand_r(&seed) % 40;
		}
		if (i % 5 == 0)
			mail_uidset_add(&set, hi, lo);	/* either order */
		else
			mail_uidset_add(&set, lo, hi);
		for (uint32_t u = lo; u <= hi; u++)
			bits[u] = 1;
		if (i % 97 == 0)
			check_model(&set, bits);
	}
	check_model(&set, bits);
	mail_uidset_free(&set);
	free(bits);
}
END_TEST

START_TEST(test_add_many_in_order_fast)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;

	/* a million separate ranges, appended: must not be quadratic */
	for (uint32_t i = 0; i < 1000000; i++)
		mail_uidset_add(&set, 2 * i + 1, 2 * i + 1);
	ck_assert_uint_eq(set.n, 1000000);
	/* fill the gaps from the end (merging in the middle of the array is
	 * O(n) by design): everything merges into one range */
	for (uint32_t i = 1000000; i > 0; i--)
		mail_uidset_add(&set, 2 * i, 2 * i);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_uint_eq(set.r[0].lo, 1);
	ck_assert_uint_eq(set.r[0].hi, 2000000);
	mail_uidset_free(&set);
	/* 1:* over a set of many ranges swallows them all */
	for (uint32_t i = 0; i < 1000; i++)
		mail_uidset_add(&set, 3 * i + 5, 3 * i + 5);
	mail_uidset_add(&set, 2, UINT32_MAX);
	ck_assert_uint_eq(set.n, 1);
	mail_uidset_free(&set);
}
END_TEST

START_TEST(test_add_edges)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;

	mail_uidset_add(&set, UINT32_MAX, UINT32_MAX);
	mail_uidset_add(&set, UINT32_MAX - 1, UINT32_MAX - 1);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_uint_eq(set.r[0].lo, UINT32_MAX - 1);
	mail_uidset_add(&set, 1, 1);
	mail_uidset_add(&set, 3, UINT32_MAX - 3);
	ck_assert_uint_eq(set.n, 3);
	/* one range swallowing all */
	mail_uidset_add(&set, 1, UINT32_MAX);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_uint_eq(set.r[0].lo, 1);
	ck_assert_uint_eq(set.r[0].hi, UINT32_MAX);
	ck_assert_uint_eq(mail_uidset_count(&set), UINT32_MAX);
	mail_uidset_add(&set, 5, 5);
	ck_assert_uint_eq(set.n, 1);
	mail_uidset_free(&set);
}
END_TEST

Suite *test_mail_uidset_suite(void);
Suite *
test_mail_uidset_suite(void)
{
	Suite *s = suite_create("mail_uidset");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_parse_valid);
	tcase_add_test(tc, test_parse_invalid);
	tcase_add_test(tc, test_contains_count_format);
	tcase_add_loop_test(tc, test_add_model, 0, 3);
	tcase_add_test(tc, test_add_many_in_order_fast);
	tcase_add_test(tc, test_add_edges);
	suite_add_tcase(s, tc);
	return s;
}
