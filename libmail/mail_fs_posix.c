/*
 * mail_fs_posix.c: the ops table over the real system calls.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail_fs.h"

static int
posix_open(void *ctx, const char *path, int flags, mode_t mode)
{
	(void)ctx;
	return open(path, flags | O_CLOEXEC, mode);
}

static int
posix_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd);
}

static ssize_t
posix_pread(void *ctx, int fd, void *buf, size_t n, off_t off)
{
	(void)ctx;
	return pread(fd, buf, n, off);
}

static ssize_t
posix_write(void *ctx, int fd, const void *buf, size_t n)
{
	(void)ctx;
	return write(fd, buf, n);
}

static int
posix_fsync(void *ctx, int fd)
{
	(void)ctx;
	return fsync(fd);
}

static int
posix_ftruncate(void *ctx, int fd, off_t len)
{
	(void)ctx;
	return ftruncate(fd, len);
}

static int
posix_rename(void *ctx, const char *from, const char *to)
{
	(void)ctx;
	return rename(from, to);
}

static int
posix_unlink(void *ctx, const char *path)
{
	(void)ctx;
	return unlink(path);
}

static int
posix_mkdir(void *ctx, const char *path, mode_t mode)
{
	(void)ctx;
	return mkdir(path, mode);
}

static void
posix_writeback(void *ctx, int fd, off_t off, off_t len)
{
	(void)ctx;
	(void)sync_file_range(fd, off, len, SYNC_FILE_RANGE_WRITE);
}

static const struct mail_fs_ops posix_ops = {
	.open = posix_open,
	.close = posix_close,
	.pread = posix_pread,
	.write = posix_write,
	.fsync = posix_fsync,
	.ftruncate = posix_ftruncate,
	.rename = posix_rename,
	.unlink = posix_unlink,
	.mkdir = posix_mkdir,
	.writeback = posix_writeback,
};

static const struct mail_fs posix_fs = { &posix_ops, NULL };

const struct mail_fs *
mail_fs_posix(void)
{
	return &posix_fs;
}
