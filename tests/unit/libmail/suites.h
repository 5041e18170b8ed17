/*
 * suites.h: every libmail unit-test suite, one line each. check_libmail.c
 * runs them all (or the one named in CK_RUN_SUITE, a Check feature).
 */
SUITE(test_mail_buf_suite)
SUITE(test_mail_header_suite)
SUITE(test_mail_watch_suite)
