/*
 * testlib.h: helpers shared by the Check unit tests.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <check.h>
#include <stddef.h>

/* Create a fresh temporary directory (removed by testlib_rmdir_r). Returns a
 * malloc'ed path. */
char	*testlib_tmpdir(void);
/* rm -rf path. */
void	 testlib_rmdir_r(const char *path);

/* Run the suites (a NULL-terminated list of constructors) and return the
 * process exit status: EXIT_SUCCESS when no test failed. */
typedef Suite *testlib_suite_fn(void);
int	 testlib_run(testlib_suite_fn *const *suites);

#endif
