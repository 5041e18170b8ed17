/*
 * suites.h: every libmail unit-test suite, one line each. check_libmail.c
 * runs them all (or the one named in CK_RUN_SUITE, a Check feature).
 */
SUITE(test_mail_buf_suite)
SUITE(test_mail_header_suite)
SUITE(test_mail_watch_suite)
SUITE(test_mail_log_suite)
SUITE(test_mail_rec_suite)
SUITE(test_mail_hlc_suite)
SUITE(test_mail_uidset_suite)
SUITE(test_mail_flags_suite)
SUITE(test_mail_name_suite)
SUITE(test_mail_state_suite)
SUITE(test_mail_snapshot_suite)
SUITE(test_mail_maildir_suite)
SUITE(test_mail_blob_suite)
SUITE(test_mail_store_suite)
SUITE(test_mail_ops_suite)
SUITE(test_mail_store_fault_suite)
SUITE(test_mail_conf_suite)
SUITE(test_mail_settings_suite)
SUITE(test_mail_check_suite)
