/*
 * testlib_store.c: file and store helpers for the libmail unit tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail_check.h"
#include "mail_dump.h"
#include "testlib.h"
#include "testlib_store.h"

/* nftw has no context argument; the tests are single-threaded */
static const char *cp_src, *cp_dst;

static int
cp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char *to = mail_xasprintf("%s%s", cp_dst, path + strlen(cp_src));
	struct mail_buf b = MAIL_BUF_INIT;

	(void)ftw;
	if (flag == FTW_D) {
		if (mkdir(to, st->st_mode & 07777) < 0)
			ck_abort_msg("mkdir '%s': %s", to, strerror(errno));
	} else if (flag == FTW_F) {
		testlib_read_file(path, &b);
		testlib_write_file(to, b.data, b.len);
		mail_buf_free(&b);
	}
	free(to);
	return 0;
}

void
testlib_cp_r(const char *src, const char *dst)
{
	cp_src = src;
	cp_dst = dst;
	ck_assert_int_eq(nftw(src, cp_one, 16, FTW_PHYS), 0);
}

void
testlib_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		ck_abort_msg("open '%s': %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void
testlib_read_file(const char *path, struct mail_buf *out)
{
	struct mail_err err;

	if (mail_fs_read_file(mail_fs_posix(), path, out, SIZE_MAX / 2,
	    &err) < 0)
		ck_abort_msg("read '%s': %s", path, err.msg);
}

int64_t
testlib_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (int64_t)st.st_size;
}

void
testlib_truncate(const char *path, uint64_t len)
{
	if (truncate(path, (off_t)len) < 0)
		ck_abort_msg("truncate '%s': %s", path, strerror(errno));
}

void
testlib_flip(const char *path, uint64_t off, uint8_t mask)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	uint8_t c;

	if (fd < 0)
		ck_abort_msg("open '%s': %s", path, strerror(errno));
	ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
	c ^= mask;
	ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

struct mail_store *
testlib_store_create(const char *path, int level)
{
	struct mail_store *store = NULL;
	struct mail_err err;

	if (mail_store_init(path, level, &err) < 0 ||
	    mail_store_open(path, NULL, &store, &err) < 0)
		ck_abort_msg("store '%s': %s", path, err.msg);
	return store;
}

char *
testlib_user_dump(const struct mail_user *u)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_dump_state(mail_user_name(u), mail_user_state(u), &b);
	return mail_buf_steal_str(&b);
}

char *
testlib_user_dump_full(const struct mail_user *u)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_dump_state_flags(mail_user_name(u), mail_user_state(u),
	    MAIL_DUMP_CLOCKS | MAIL_DUMP_LOCAL, &b);
	return mail_buf_steal_str(&b);
}

char *
testlib_store_dump(const char *path, const char *user)
{
	struct mail_store *store = NULL;
	struct mail_user *u = NULL;
	struct mail_err err;
	char *dump;

	if (mail_store_open(path, NULL, &store, &err) < 0 ||
	    mail_user_open(store, user, false, &u, &err) < 0)
		ck_abort_msg("open '%s' user '%s': %s", path, user, err.msg);
	dump = testlib_user_dump(u);
	mail_user_close(&u);
	mail_store_close(&store);
	return dump;
}

uint64_t
testlib_store_check(const char *path, char **report)
{
	struct mail_store *store = NULL;
	struct mail_check_result res;
	struct mail_err err;
	uint64_t problems;

	if (mail_store_open(path, NULL, &store, &err) < 0 ||
	    mail_store_check(store, false, &res, &err) < 0)
		ck_abort_msg("check '%s': %s", path, err.msg);
	problems = res.problems;
	if (report != NULL)
		*report = mail_buf_steal_str(&res.report);
	mail_buf_free(&res.report);
	mail_store_close(&store);
	return problems;
}
