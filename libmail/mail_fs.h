/*
 * mail_fs.h: every file operation of the store goes through a replaceable
 * ops table, so tests can fail the k-th call (EIO, ENOSPC, short write)
 * and check that the store stays valid. mail_fs_posix.c is the real one.
 */
#ifndef MAIL_FS_H
#define MAIL_FS_H

#include <stdbool.h>
#include <sys/types.h>

#include "mail_err.h"
#include "mail_buf.h"

struct mail_fs_ops {
	int	(*open)(void *ctx, const char *path, int flags, mode_t mode);
	int	(*close)(void *ctx, int fd);
	ssize_t	(*pread)(void *ctx, int fd, void *buf, size_t n, off_t off);
	ssize_t	(*write)(void *ctx, int fd, const void *buf, size_t n);
	int	(*fsync)(void *ctx, int fd);	/* data and metadata */
	int	(*ftruncate)(void *ctx, int fd, off_t len);
	int	(*rename)(void *ctx, const char *from, const char *to);
	int	(*unlink)(void *ctx, const char *path);
	int	(*mkdir)(void *ctx, const char *path, mode_t mode);
	/* Optional (NULL: no-op): start writing [off, off + len) of fd to
	 * disk without waiting, so that a later fsync has less to do. A
	 * hint: it guarantees nothing and its failure is ignored. */
	void	(*writeback)(void *ctx, int fd, off_t off, off_t len);
};

struct mail_fs {
	const struct mail_fs_ops *ops;
	void	*ctx;
};

/* The real filesystem. Static storage; never freed. */
const struct mail_fs *mail_fs_posix(void);

/* Each wrapper returns -1 and fills err (naming path) on failure. */
int	mail_fs_open(const struct mail_fs *fs, const char *path, int flags,
	    mode_t mode, struct mail_err *err) WARN_UNUSED;
/* Close fd if it is not -1 and set it to -1. Errors are ignored: only
 * called after the data that matters was fsynced. */
void	mail_fs_close(const struct mail_fs *fs, int *fdp);
/* Read up to n bytes at off, retrying short reads; returns the bytes read
 * (less than n only at end of file) or -1. */
ssize_t	mail_fs_pread_full(const struct mail_fs *fs, int fd, void *buf,
	    size_t n, off_t off, const char *path, struct mail_err *err)
	    WARN_UNUSED;
/* Write all n bytes at the current offset (O_APPEND files: at the end). */
int	mail_fs_write_full(const struct mail_fs *fs, int fd, const void *buf,
	    size_t n, const char *path, struct mail_err *err) WARN_UNUSED;
int	mail_fs_fsync(const struct mail_fs *fs, int fd, const char *path,
	    struct mail_err *err) WARN_UNUSED;
int	mail_fs_ftruncate(const struct mail_fs *fs, int fd, off_t len,
	    const char *path, struct mail_err *err) WARN_UNUSED;
int	mail_fs_rename(const struct mail_fs *fs, const char *from,
	    const char *to, struct mail_err *err) WARN_UNUSED;
int	mail_fs_unlink(const struct mail_fs *fs, const char *path,
	    struct mail_err *err) WARN_UNUSED;
/* mkdir; an existing directory is an error only when must_create. */
int	mail_fs_mkdir(const struct mail_fs *fs, const char *path,
	    bool must_create, struct mail_err *err) WARN_UNUSED;
/* fsync a directory so a rename or create in it is durable. */
int	mail_fs_fsync_dir(const struct mail_fs *fs, const char *dir,
	    struct mail_err *err) WARN_UNUSED;
/* Replace path with data: write path.tmp.PID, optionally fsync it,
 * rename over path, optionally fsync the directory. */
int	mail_fs_write_atomic(const struct mail_fs *fs, const char *path,
	    const void *data, size_t len, bool durable, struct mail_err *err)
	    WARN_UNUSED;
/* Read a whole file into out (appending). Files over max bytes are a
 * MAIL_ERR_LIMIT error. */
int	mail_fs_read_file(const struct mail_fs *fs, const char *path,
	    struct mail_buf *out, size_t max, struct mail_err *err) WARN_UNUSED;

/* Open (creating) the lock file path and take an exclusive flock on it,
 * waiting up to timeout_ms (negative: as long as it takes), then
 * MAIL_ERR_TEMP. Sets *fd_r; closing it releases the lock. */
int	mail_fs_lock(const struct mail_fs *fs, const char *path, int timeout_ms,
	    int *fd_r, struct mail_err *err) WARN_UNUSED;
/* rm -rf path, best effort: for cleaning up data that is already gone
 * from the store's point of view (a deleted user renamed aside). Not
 * through the ops table: nothing depends on it succeeding. */
void	mail_fs_remove_tree(const char *path);

#endif
