/*
 * mail_fs.c: error-reporting wrappers over struct mail_fs_ops, and the
 * write-then-rename helper. Every error names the path it concerns.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <time.h>
#include <sys/file.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail_fs.h"

int
mail_fs_open(const struct mail_fs *fs, const char *path, int flags,
    mode_t mode, struct mail_err *err)
{
	int fd = fs->ops->open(fs->ctx, path, flags, mode);

	if (fd < 0)
		return mail_err_sys(err, errno, "open '%s'", path);
	return fd;
}

void
mail_fs_close(const struct mail_fs *fs, int *fdp)
{
	if (*fdp != -1)
		(void)fs->ops->close(fs->ctx, *fdp);
	*fdp = -1;
}

ssize_t
mail_fs_pread_full(const struct mail_fs *fs, int fd, void *buf, size_t n,
    off_t off, const char *path, struct mail_err *err)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = fs->ops->pread(fs->ctx, fd, (uint8_t *)buf + done,
		    n - done, off + (off_t)done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return mail_err_sys(err, errno, "read '%s'", path);
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

int
mail_fs_write_full(const struct mail_fs *fs, int fd, const void *buf,
    size_t n, const char *path, struct mail_err *err)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = fs->ops->write(fs->ctx, fd,
		    (const uint8_t *)buf + done, n - done);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return mail_err_sys(err, errno, "write '%s'", path);
		}
		if (r == 0)
			return mail_err_sys(err, ENOSPC, "write '%s'", path);
		done += (size_t)r;
	}
	return 0;
}

int
mail_fs_fsync(const struct mail_fs *fs, int fd, const char *path,
    struct mail_err *err)
{
	if (fs->ops->fsync(fs->ctx, fd) < 0)
		return mail_err_sys(err, errno, "fsync '%s'", path);
	return 0;
}

int
mail_fs_ftruncate(const struct mail_fs *fs, int fd, off_t len,
    const char *path, struct mail_err *err)
{
	if (fs->ops->ftruncate(fs->ctx, fd, len) < 0)
		return mail_err_sys(err, errno, "truncate '%s'", path);
	return 0;
}

int
mail_fs_rename(const struct mail_fs *fs, const char *from, const char *to,
    struct mail_err *err)
{
	if (fs->ops->rename(fs->ctx, from, to) < 0)
		return mail_err_sys(err, errno, "rename '%s' to '%s'", from,
		    to);
	return 0;
}

int
mail_fs_unlink(const struct mail_fs *fs, const char *path,
    struct mail_err *err)
{
	if (fs->ops->unlink(fs->ctx, path) < 0)
		return mail_err_sys(err, errno, "unlink '%s'", path);
	return 0;
}

int
mail_fs_mkdir(const struct mail_fs *fs, const char *path, bool must_create,
    struct mail_err *err)
{
	if (fs->ops->mkdir(fs->ctx, path, 0700) < 0) {
		if (errno == EEXIST && !must_create)
			return 0;
		return mail_err_sys(err, errno, "mkdir '%s'", path);
	}
	return 0;
}

int
mail_fs_fsync_dir(const struct mail_fs *fs, const char *dir,
    struct mail_err *err)
{
	int fd, ret;

	if ((fd = mail_fs_open(fs, dir, O_RDONLY | O_DIRECTORY, 0, err)) < 0)
		return -1;
	ret = mail_fs_fsync(fs, fd, dir, err);
	mail_fs_close(fs, &fd);
	return ret;
}

int
mail_fs_write_atomic(const struct mail_fs *fs, const char *path,
    const void *data, size_t len, bool durable, struct mail_err *err)
{
	char *tmp = mail_xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *dir = NULL;
	int fd = -1, ret = -1;

	if ((fd = mail_fs_open(fs, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600,
	    err)) < 0)
		goto out;
	if (mail_fs_write_full(fs, fd, data, len, tmp, err) < 0 ||
	    (durable && mail_fs_fsync(fs, fd, tmp, err) < 0))
		goto out;
	mail_fs_close(fs, &fd);
	if (mail_fs_rename(fs, tmp, path, err) < 0)
		goto out;
	if (durable) {
		dir = mail_xstrdup(path);
		if (mail_fs_fsync_dir(fs, dirname(dir), err) < 0)
			goto out;
	}
	ret = 0;
out:
	mail_fs_close(fs, &fd);
	if (ret < 0)
		(void)fs->ops->unlink(fs->ctx, tmp);
	free(tmp);
	free(dir);
	return ret;
}

int
mail_fs_read_file(const struct mail_fs *fs, const char *path,
    struct mail_buf *out, size_t max, struct mail_err *err)
{
	int fd;
	off_t off = 0;
	int ret = -1;

	if ((fd = mail_fs_open(fs, path, O_RDONLY, 0, err)) < 0)
		return -1;
	for (;;) {
		ssize_t r;

		mail_buf_reserve(out, 65536);
		r = mail_fs_pread_full(fs, fd, out->data + out->len, 65536, off,
		    path, err);
		if (r < 0)
			goto out;
		out->len += (size_t)r;
		out->data[out->len] = '\0';
		off += r;
		if ((size_t)off > max) {
			mail_err_set(err, MAIL_ERR_LIMIT,
			    "'%s' is larger than %zu bytes", path, max);
			goto out;
		}
		if (r < 65536)
			break;
	}
	ret = 0;
out:
	mail_fs_close(fs, &fd);
	return ret;
}

static int
remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
mail_fs_remove_tree(const char *path)
{
	(void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
mail_fs_lock(const struct mail_fs *fs, const char *path, int timeout_ms,
    int *fd_r, struct mail_err *err)
{
	int fd, waited = 0;

	if ((fd = mail_fs_open(fs, path, O_RDWR | O_CREAT, 0600, err)) < 0)
		return -1;
	/* flock has no timeout: poll every millisecond until it is up */
	while (flock(fd, LOCK_EX | (timeout_ms < 0 ? 0 : LOCK_NB)) < 0) {
		struct timespec ts = { 0, 1000 * 1000 };

		if (errno != EWOULDBLOCK && errno != EINTR) {
			mail_err_sys(err, errno, "lock '%s'", path);
			mail_fs_close(fs, &fd);
			return -1;
		}
		if (timeout_ms >= 0 && waited >= timeout_ms) {
			mail_fs_close(fs, &fd);
			return mail_err_set(err, MAIL_ERR_TEMP,
			    "timed out waiting for lock '%s'", path);
		}
		nanosleep(&ts, NULL);
		waited++;
	}
	*fd_r = fd;
	return 0;
}
