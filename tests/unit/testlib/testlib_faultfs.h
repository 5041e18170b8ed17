/*
 * testlib_faultfs.h: a struct mail_fs for I/O error injection (SQLite's
 * faultsimStep). It wraps the posix calls, counts calls of each kind and
 * fails the k-th one of a chosen kind, so a test can run an operation once
 * for every k until it completes.
 *
 * It also remembers which files hold data, and which directory entries
 * (created or renamed files), that were not fsynced yet: a test can then
 * check that everything an acknowledged commit depends on was made
 * durable before it was acknowledged.
 */
#ifndef TESTLIB_FAULTFS_H
#define TESTLIB_FAULTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "mail_fs.h"

enum testlib_fault_kind {
	TESTLIB_FAULT_OPEN,
	TESTLIB_FAULT_READ,
	TESTLIB_FAULT_WRITE,
	TESTLIB_FAULT_FSYNC,
	TESTLIB_FAULT_RENAME,
	TESTLIB_FAULT_NKINDS,
};

enum testlib_fault_mode {
	TESTLIB_FAULT_EIO,	/* the call fails with EIO */
	TESTLIB_FAULT_ENOSPC,	/* the call fails with ENOSPC */
	TESTLIB_FAULT_SHORT,	/* write only: half the bytes land, then every
				 * later write fails with ENOSPC (disk full) */
};

struct testlib_faultfs_file;
struct testlib_faultfs_fd;

struct testlib_faultfs {
	struct mail_fs fs;		/* hand &f->fs to the code under test */
	enum testlib_fault_kind kind;
	enum testlib_fault_mode mode;
	unsigned long fail_at;		/* 1-based call of kind to fail; 0: none */
	bool	 persist;		/* also fail every later call of kind */
	unsigned long calls[TESTLIB_FAULT_NKINDS];	/* calls seen */
	unsigned long faults;		/* faults injected */
	/* durability tracking */
	struct testlib_faultfs_file *files;
	size_t	 n_files, cap_files;
	struct testlib_faultfs_fd *fds;
	size_t	 n_fds, cap_fds;
};

/* Set up f with no fault armed. */
void	testlib_faultfs_init(struct testlib_faultfs *f);
/* Free the tracking tables. */
void	testlib_faultfs_free(struct testlib_faultfs *f);
/* Fail call number k (1-based; 0: none, only count) of kind in mode
 * (persist: and every later call of that kind). Resets the counters;
 * the durability tracking goes on. */
void	testlib_faultfs_arm(struct testlib_faultfs *f,
	    enum testlib_fault_kind kind, enum testlib_fault_mode mode,
	    unsigned long k, bool persist);
/* Forget what is unsynced (e.g. garbage of a failed operation that no
 * later commit depends on). */
void	testlib_faultfs_forget(struct testlib_faultfs *f);
/* Stop injecting (counting and tracking go on). */
void	testlib_faultfs_disarm(struct testlib_faultfs *f);
/* The first file at or below prefix that holds unsynced data, or whose
 * directory entry was created or renamed without an fsync of its
 * directory; NULL when all is durable. Borrowed. */
const char *testlib_faultfs_unsynced(const struct testlib_faultfs *f,
	    const char *prefix);
/* Human-readable names for messages. */
const char *testlib_fault_kind_name(enum testlib_fault_kind kind);
const char *testlib_fault_mode_name(enum testlib_fault_mode mode);

#endif
