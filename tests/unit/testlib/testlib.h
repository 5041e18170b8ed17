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

#endif
