/*
 * check_imapd.c: the runner for imapd's unit tests (suites.h lists them).
 */
#include "testlib.h"

#define SUITE(fn) Suite *fn(void);
#include "suites.h"
#undef SUITE

int
main(void)
{
	static testlib_suite_fn *const suites[] = {
#define SUITE(fn) fn,
#include "suites.h"
#undef SUITE
		NULL,
	};

	return testlib_run(suites);
}
