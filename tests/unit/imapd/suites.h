/*
 * suites.h: every imapd unit-test suite, one line each; check_imapd.c runs
 * them all (or the one named in CK_RUN_SUITE).
 */
SUITE(test_imap_parser_suite)
SUITE(test_imap_passwd_suite)
SUITE(test_imap_conn_suite)
SUITE(test_imap_search_suite)
SUITE(test_imap_sort_suite)
SUITE(test_imap_thread_suite)
