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

int
testlib_run(testlib_suite_fn *const *suites)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	for (size_t i = 0; suites[i] != NULL; i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
