/*
 * testlib_faultfs.c: the error-injecting mail_fs (see testlib_faultfs.h).
 *
 * Durability model, as POSIX promises it: bytes written to a file are
 * durable once that file is fsynced; a new or renamed directory entry is
 * durable once its directory is fsynced. The tables below follow paths as
 * the code under test spells them, which is consistent within libmail (a
 * directory is always fsynced by the dirname of the paths in it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail_util.h"
#include "testlib_faultfs.h"

struct testlib_faultfs_file {
	char	*path;
	bool	 data_dirty;	/* written or truncated since its last fsync */
	bool	 entry_dirty;	/* created or renamed in, dir not fsynced */
};

struct testlib_faultfs_fd {
	int	 fd;
	char	*path;
};

static struct testlib_faultfs_file *
file_get(struct testlib_faultfs *f, const char *path)
{
	for (size_t i = 0; i < f->n_files; i++) {
		if (strcmp(f->files[i].path, path) == 0)
			return &f->files[i];
	}
	f->files = mail_xgrow(f->files, &f->cap_files, f->n_files + 1,
	    sizeof(*f->files));
	memset(&f->files[f->n_files], 0, sizeof(f->files[0]));
	f->files[f->n_files].path = mail_xstrdup(path);
	return &f->files[f->n_files++];
}

static void
file_forget(struct testlib_faultfs *f, const char *path)
{
	for (size_t i = 0; i < f->n_files; i++) {
		if (strcmp(f->files[i].path, path) != 0)
			continue;
		free(f->files[i].path);
		f->files[i] = f->files[--f->n_files];
		return;
	}
}

static const char *
fd_path(const struct testlib_faultfs *f, int fd)
{
	for (size_t i = 0; i < f->n_fds; i++) {
		if (f->fds[i].fd == fd)
			return f->fds[i].path;
	}
	return NULL;
}

static void
fd_forget(struct testlib_faultfs *f, int fd)
{
	for (size_t i = 0; i < f->n_fds; i++) {
		if (f->fds[i].fd != fd)
			continue;
		free(f->fds[i].path);
		f->fds[i] = f->fds[--f->n_fds];
		return;
	}
}

/* Count a call of kind; true when this one must fail. */
static bool
fault_hit(struct testlib_faultfs *f, enum testlib_fault_kind kind)
{
	unsigned long n = ++f->calls[kind];

	if (f->fail_at == 0 || kind != f->kind)
		return false;
	if (n == f->fail_at || (n > f->fail_at && f->persist)) {
		f->faults++;
		return true;
	}
	return false;
}

static int
fault_errno(const struct testlib_faultfs *f)
{
	return f->mode == TESTLIB_FAULT_EIO ? EIO : ENOSPC;
}

static int
ffs_open(void *ctx, const char *path, int flags, mode_t mode)
{
	struct testlib_faultfs *f = ctx;
	bool existed = access(path, F_OK) == 0;
	int fd;

	if (fault_hit(f, TESTLIB_FAULT_OPEN)) {
		errno = fault_errno(f);
		return -1;
	}
	if ((fd = open(path, flags | O_CLOEXEC, mode)) < 0)
		return -1;
	fd_forget(f, fd);
	f->fds = mail_xgrow(f->fds, &f->cap_fds, f->n_fds + 1,
	    sizeof(*f->fds));
	f->fds[f->n_fds].fd = fd;
	f->fds[f->n_fds].path = mail_xstrdup(path);
	f->n_fds++;
	if (!existed && (flags & O_CREAT))
		file_get(f, path)->entry_dirty = true;
	if (existed && (flags & O_TRUNC))
		file_get(f, path)->data_dirty = true;
	return fd;
}

static int
ffs_close(void *ctx, int fd)
{
	struct testlib_faultfs *f = ctx;

	fd_forget(f, fd);
	return close(fd);
}

static ssize_t
ffs_pread(void *ctx, int fd, void *buf, size_t n, off_t off)
{
	struct testlib_faultfs *f = ctx;

	if (fault_hit(f, TESTLIB_FAULT_READ)) {
		errno = fault_errno(f);
		return -1;
	}
	return pread(fd, buf, n, off);
}

static ssize_t
ffs_write(void *ctx, int fd, const void *buf, size_t n)
{
	struct testlib_faultfs *f = ctx;
	const char *path = fd_path(f, fd);
	ssize_t r;

	if (fault_hit(f, TESTLIB_FAULT_WRITE)) {
		if (f->mode != TESTLIB_FAULT_SHORT ||
		    f->calls[TESTLIB_FAULT_WRITE] > f->fail_at || n / 2 == 0) {
			errno = f->mode == TESTLIB_FAULT_EIO ? EIO : ENOSPC;
			return -1;
		}
		n /= 2;
	}
	if ((r = write(fd, buf, n)) > 0 && path != NULL)
		file_get(f, path)->data_dirty = true;
	return r;
}

static int
ffs_fsync(void *ctx, int fd)
{
	struct testlib_faultfs *f = ctx;
	const char *path = fd_path(f, fd);
	struct stat st;

	if (fault_hit(f, TESTLIB_FAULT_FSYNC)) {
		errno = EIO;
		return -1;
	}
	if (fsync(fd) < 0)
		return -1;
	if (path == NULL)
		return 0;
	file_get(f, path)->data_dirty = false;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		size_t n = strlen(path);

		/* entries directly in this directory are durable now */
		for (size_t i = 0; i < f->n_files; i++) {
			const char *p = f->files[i].path;

			if (strncmp(p, path, n) == 0 && p[n] == '/' &&
			    strchr(p + n + 1, '/') == NULL)
				f->files[i].entry_dirty = false;
		}
	}
	return 0;
}

static int
ffs_ftruncate(void *ctx, int fd, off_t len)
{
	struct testlib_faultfs *f = ctx;
	const char *path = fd_path(f, fd);

	if (ftruncate(fd, len) < 0)
		return -1;
	if (path != NULL)
		file_get(f, path)->data_dirty = true;
	return 0;
}

static int
ffs_rename(void *ctx, const char *from, const char *to)
{
	struct testlib_faultfs *f = ctx;
	bool data_dirty;

	if (fault_hit(f, TESTLIB_FAULT_RENAME)) {
		errno = fault_errno(f);
		return -1;
	}
	if (rename(from, to) < 0)
		return -1;
	data_dirty = file_get(f, from)->data_dirty;
	file_forget(f, from);
	file_get(f, to)->data_dirty = data_dirty;
	file_get(f, to)->entry_dirty = true;
	for (size_t i = 0; i < f->n_fds; i++) {
		if (strcmp(f->fds[i].path, from) == 0) {
			free(f->fds[i].path);
			f->fds[i].path = mail_xstrdup(to);
		}
	}
	return 0;
}

static int
ffs_unlink(void *ctx, const char *path)
{
	struct testlib_faultfs *f = ctx;

	if (unlink(path) < 0)
		return -1;
	file_forget(f, path);
	return 0;
}

static int
ffs_mkdir(void *ctx, const char *path, mode_t mode)
{
	struct testlib_faultfs *f = ctx;

	if (mkdir(path, mode) < 0)
		return -1;
	file_get(f, path)->entry_dirty = true;
	return 0;
}

static const struct mail_fs_ops faultfs_ops = {
	.open = ffs_open,
	.close = ffs_close,
	.pread = ffs_pread,
	.write = ffs_write,
	.fsync = ffs_fsync,
	.ftruncate = ffs_ftruncate,
	.rename = ffs_rename,
	.unlink = ffs_unlink,
	.mkdir = ffs_mkdir,
};

void
testlib_faultfs_init(struct testlib_faultfs *f)
{
	memset(f, 0, sizeof(*f));
	f->fs.ops = &faultfs_ops;
	f->fs.ctx = f;
}

static void
files_reset(struct testlib_faultfs *f)
{
	for (size_t i = 0; i < f->n_files; i++)
		free(f->files[i].path);
	f->n_files = 0;
}

void
testlib_faultfs_free(struct testlib_faultfs *f)
{
	files_reset(f);
	free(f->files);
	for (size_t i = 0; i < f->n_fds; i++)
		free(f->fds[i].path);
	free(f->fds);
	testlib_faultfs_init(f);
}

void
testlib_faultfs_arm(struct testlib_faultfs *f, enum testlib_fault_kind kind,
    enum testlib_fault_mode mode, unsigned long k, bool persist)
{
	f->kind = kind;
	f->mode = mode;
	f->fail_at = k;
	f->persist = persist || mode == TESTLIB_FAULT_SHORT;
	memset(f->calls, 0, sizeof(f->calls));
	f->faults = 0;
}

void
testlib_faultfs_forget(struct testlib_faultfs *f)
{
	files_reset(f);
}

void
testlib_faultfs_disarm(struct testlib_faultfs *f)
{
	f->fail_at = 0;
}

const char *
testlib_faultfs_unsynced(const struct testlib_faultfs *f, const char *prefix)
{
	size_t n = strlen(prefix);

	for (size_t i = 0; i < f->n_files; i++) {
		const struct testlib_faultfs_file *e = &f->files[i];

		if (strncmp(e->path, prefix, n) == 0 &&
		    (e->data_dirty || e->entry_dirty))
			return e->path;
	}
	return NULL;
}

const char *
testlib_fault_kind_name(enum testlib_fault_kind kind)
{
	static const char *const names[] = { "open", "read", "write", "fsync",
	    "rename" };

	return kind < TESTLIB_FAULT_NKINDS ? names[kind] : "?";
}

const char *
testlib_fault_mode_name(enum testlib_fault_mode mode)
{
	static const char *const names[] = { "EIO", "ENOSPC", "short write" };

	return mode <= TESTLIB_FAULT_SHORT ? names[mode] : "?";
}
