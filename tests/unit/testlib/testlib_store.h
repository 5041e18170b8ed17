/*
 * testlib_store.h: file and store helpers shared by the libmail unit
 * tests. Every helper fails the running Check test (ck_abort) instead of
 * returning errors, so tests stay short.
 */
#ifndef TESTLIB_STORE_H
#define TESTLIB_STORE_H

#include <stdint.h>

#include "mail_buf.h"
#include "mail_store.h"

/* cp -a src dst (dst must not exist). */
void	testlib_cp_r(const char *src, const char *dst);
/* Create or replace path with data. */
void	testlib_write_file(const char *path, const void *data, size_t len);
/* Append the contents of path to out. */
void	testlib_read_file(const char *path, struct mail_buf *out);
/* Size of path in bytes (-1 if missing). */
int64_t	testlib_file_size(const char *path);
/* Truncate or extend path to len bytes. */
void	testlib_truncate(const char *path, uint64_t len);
/* XOR the byte at off of path with mask. */
void	testlib_flip(const char *path, uint64_t off, uint8_t mask);

/* mail_store_init + mail_store_open on the real filesystem. */
struct mail_store *testlib_store_create(const char *path, int level);
/* The canonical dump of u's current state (malloc'ed). */
char	*testlib_user_dump(const struct mail_user *u);
/* The dump with clocks, tombstones and modseqs (MAIL_DUMP_CLOCKS |
 * MAIL_DUMP_LOCAL): equal for states of the same log (malloc'ed). */
char	*testlib_user_dump_full(const struct mail_user *u);
/* Open the store at path on the real filesystem, open user and dump it
 * (malloc'ed). */
char	*testlib_store_dump(const char *path, const char *user);
/* Run mail_store_check (no repair) on the store at path with the real
 * filesystem; returns the number of problems and, if report is not NULL,
 * a malloc'ed copy of the report. */
uint64_t testlib_store_check(const char *path, char **report);

#endif
