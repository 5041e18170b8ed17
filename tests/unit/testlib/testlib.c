/*
 * testlib.c: temp directories for unit tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mail_fs.h"
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

void
testlib_rmdir_r(const char *path)
{
	mail_fs_remove_tree(path);
}
