/*
 * test_mail_hlc.c: hybrid logical clocks never go backwards, never repeat,
 * and order (hlc, node) pairs with the node id as the tiebreak.
 */
#include "mail_hlc.h"
#include "testlib.h"

START_TEST(test_next_follows_wall_clock)
{
	uint64_t t = mail_hlc_next(0, 1000);

	ck_assert_uint_eq(t, (uint64_t)1000 << MAIL_HLC_LOGICAL_BITS);
	ck_assert_uint_eq(mail_hlc_ms(t), 1000);
	/* the clock moved on: the logical part restarts at 0 */
	t = mail_hlc_next(t, 1001);
	ck_assert_uint_eq(t, (uint64_t)1001 << MAIL_HLC_LOGICAL_BITS);
	/* the same millisecond: the counter ticks */
	ck_assert_uint_eq(mail_hlc_next(t, 1001), t + 1);
}
END_TEST

START_TEST(test_next_monotonic_clock_backwards)
{
	/* a wall clock that jumps back by an hour, stalls, then recovers */
	uint64_t now = 1700000000000ull, last = 0, prev;

	for (int i = 0; i < 100000; i++) {
		if (i == 1000)
			now -= 3600 * 1000;
		else if (i % 7 != 0 && (i < 2000 || i > 50000))
			now++;
		prev = last;
		last = mail_hlc_next(last, now);
		ck_assert_uint_gt(last, prev);
		ck_assert_uint_ge(mail_hlc_ms(last), mail_hlc_ms(prev));
	}
	/* once the wall clock passes the HLC again, it follows it */
	last = mail_hlc_next(last, now + 4000 * 1000);
	ck_assert_uint_eq(mail_hlc_ms(last), now + 4000 * 1000);
}
END_TEST

START_TEST(test_observe_exceeds_both)
{
	static const uint64_t vals[] = { 0, 1, 0xffff, 0x10000,
	    (uint64_t)1700000000000 << 16, ((uint64_t)1700000000000 << 16) | 5,
	    ((uint64_t)1700000009999 << 16) | 0xfffe };
	static const uint64_t clocks[] = { 0, 1700000000000ull,
	    1700000005000ull, 1800000000000ull };

	for (size_t a = 0; a < N_ELEMENTS(vals); a++) {
		for (size_t b = 0; b < N_ELEMENTS(vals); b++) {
			for (size_t c = 0; c < N_ELEMENTS(clocks); c++) {
				uint64_t t = mail_hlc_observe(vals[a], vals[b],
				    clocks[c]);

				ck_assert_uint_gt(t, vals[a]);
				ck_assert_uint_gt(t, vals[b]);
				ck_assert_uint_ge(t, clocks[c] << 16);
			}
		}
	}
	/* a remote clock ahead of ours pulls us forward */
	ck_assert_uint_eq(mail_hlc_observe(10 << 16, 50 << 16, 20),
	    (50 << 16) + 1);
	/* our wall clock ahead of both: wall clock wins */
	ck_assert_uint_eq(mail_hlc_observe(10 << 16, 50 << 16, 60), 60 << 16);
}
END_TEST

START_TEST(test_cmp)
{
	ck_assert_int_eq(mail_hlc_cmp(1, 9, 2, 1), -1);
	ck_assert_int_eq(mail_hlc_cmp(2, 1, 1, 9), 1);
	/* same time: the node id decides */
	ck_assert_int_eq(mail_hlc_cmp(5, 1, 5, 2), -1);
	ck_assert_int_eq(mail_hlc_cmp(5, 2, 5, 1), 1);
	ck_assert_int_eq(mail_hlc_cmp(5, 2, 5, 2), 0);
	/* unsigned compare: no sign trouble at the top */
	ck_assert_int_eq(mail_hlc_cmp(UINT64_MAX, 0, 1, UINT64_MAX), 1);
	ck_assert_int_eq(mail_hlc_cmp(7, UINT64_MAX, 7, 0), 1);
	/* antisymmetric over a grid */
	for (uint64_t a = 0; a < 4; a++)
		for (uint64_t b = 0; b < 4; b++)
			for (uint64_t x = 0; x < 3; x++)
				for (uint64_t y = 0; y < 3; y++)
					ck_assert_int_eq(mail_hlc_cmp(a, x, b, y),
					    -mail_hlc_cmp(b, y, a, x));
}
END_TEST

Suite *test_mail_hlc_suite(void);
Suite *
test_mail_hlc_suite(void)
{
	Suite *s = suite_create("mail_hlc");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_next_follows_wall_clock);
	tcase_add_test(tc, test_next_monotonic_clock_backwards);
	tcase_add_test(tc, test_observe_exceeds_both);
	tcase_add_test(tc, test_cmp);
	suite_add_tcase(s, tc);
	return s;
}
