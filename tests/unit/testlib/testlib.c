/*
 * testlib.c: temp directories for unit tests.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail_util.h"
#include "testlib.h"

char *
testlib_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = mail_xasprintf("%s/dsync-unit-XXXXXX",
	    base != NULL ? base : "/tmp");

	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testlib_rmdir_r(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
