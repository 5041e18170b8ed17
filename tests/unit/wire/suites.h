/*
 * suites.h: every wire unit-test suite, one line each; check_wire.c runs
 * them all (or the one named in CK_RUN_SUITE).
 */
SUITE(test_wire_frame_suite)
SUITE(test_wire_hello_suite)
SUITE(test_wire_url_suite)
SUITE(test_wire_conn_suite)
SUITE(test_wire_backup_suite)
