/*
 * mail_syncstate.c: per-peer sync state files and the log id.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail_log.h"
#include "mail_syncstate.h"

int
mail_user_log_id(struct mail_user *user, uint64_t *id_r, struct mail_err *err)
{
	const struct mail_fs *fs = mail_store_fs(mail_user_store(user));
	const char *path = mail_user_log_path(user);
	uint8_t hdr[4];
	ssize_t n;
	int fd;

	*id_r = 0;
	if ((fd = mail_fs_open(fs, path, O_RDONLY, 0, err)) < 0)
		return -1;
	n = mail_fs_pread_full(fs, fd, hdr, sizeof(hdr), MAIL_LOG_HEADER_SIZE,
	    path, err);
	mail_fs_close(fs, &fd);
	if (n < 0)
		return -1;
	if (n < (ssize_t)sizeof(hdr))
		return 0;
	return mail_log_mark(fs, path, MAIL_LOG_HEADER_SIZE + mail_get_le32(hdr),
	    id_r, err);
}

static char *
state_dir(struct mail_user *user)
{
	const char *log = mail_user_log_path(user);
	const char *slash = strrchr(log, '/');

	return mail_xasprintf("%.*s/sync", (int)(slash - log), log);
}

static char *
state_path(struct mail_user *user, uint64_t peer_node)
{
	char *dir = state_dir(user);
	char *path = mail_xasprintf("%s/%016" PRIx64, dir, peer_node);

	free(dir);
	return path;
}

/* Read the state file at path into *st (zeroed first). Returns the
 * number of fields found: 3 for a state written before log_size
 * existed, 4 with it, fewer for none or garbage. Unreadable is the same
 * as missing: the state is only a hint. */
static int
state_read(const struct mail_fs *fs, const char *path,
    struct mail_syncstate *st)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	char *text;
	int n = 0;

	memset(st, 0, sizeof(*st));
	if (mail_fs_read_file(fs, path, &b, 4096, &err) == 0) {
		text = mail_buf_steal_str(&b);
		n = sscanf(text, "mine %" SCNu64 " peer %" SCNu64
		    " peer_log %" SCNx64 " log_size %" SCNu64, &st->mine,
		    &st->peer, &st->peer_log, &st->log_size);
		free(text);
	}
	mail_buf_free(&b);
	return n;
}

int
mail_syncstate_get(struct mail_user *user, uint64_t peer_node,
    struct mail_syncstate *st, bool *found_r, struct mail_err *err)
{
	char *path = state_path(user, peer_node);

	(void)err;
	*found_r = state_read(mail_store_fs(mail_user_store(user)), path,
	    st) >= 3;
	free(path);
	return 0;
}

bool
mail_syncstate_peer_has_all(const char *user_dir, uint64_t peer_node)
{
	char *path = mail_xasprintf("%s/sync/%016" PRIx64, user_dir,
	    peer_node);
	struct mail_syncstate st;
	struct stat log;
	int n = state_read(mail_fs_posix(), path, &st);

	free(path);
	if (n != 4 || st.log_size == 0)
		return false;
	path = mail_xasprintf("%s/log", user_dir);
	n = stat(path, &log);
	free(path);
	return n == 0 && (uint64_t)log.st_size == st.log_size;
}

/* Remove temp files a writer killed mid-write left in dir: their writer
 * (the PID in the name) is gone. */
static void
remove_stale_temps(const struct mail_fs *fs, const char *dir)
{
	struct mail_err ignored;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *t = strstr(de->d_name, ".tmp.");
		char *end, *path;
		long pid;

		if (t == NULL)
			continue;
		pid = strtol(t + 5, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		/* a live writer other than us (we write nothing meanwhile) */
		if (pid != getpid() &&
		    (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			continue;
		path = mail_xasprintf("%s/%s", dir, de->d_name);
		(void)!mail_fs_unlink(fs, path, &ignored);
		free(path);
	}
	closedir(d);
}

int
mail_syncstate_set(struct mail_user *user, uint64_t peer_node,
    const struct mail_syncstate *st, struct mail_err *err)
{
	const struct mail_fs *fs = mail_store_fs(mail_user_store(user));
	char *dir = state_dir(user);
	char *path = state_path(user, peer_node);
	char *text = mail_xasprintf("mine %" PRIu64 " peer %" PRIu64
	    " peer_log %016" PRIx64 " log_size %" PRIu64 "\n", st->mine,
	    st->peer, st->peer_log, st->log_size);
	struct mail_buf cur = MAIL_BUF_INIT;
	int ret = -1;

	/* A sync that changed nothing leaves the same state: rewriting it
	 * durably would cost a create, an fsync and a rename per no-op
	 * sync (dsyncd makes many). */
	if (mail_fs_read_file(fs, path, &cur, 4096, err) == 0 &&
	    cur.len == strlen(text) && memcmp(cur.data, text, cur.len) == 0) {
		mail_buf_free(&cur);
		free(text);
		free(path);
		free(dir);
		return 0;
	}
	mail_err_clear(err);
	mail_buf_free(&cur);
	if (mail_fs_mkdir(fs, dir, false, err) == 0) {
		remove_stale_temps(fs, dir);
		if (mail_fs_write_atomic(fs, path, text, strlen(text), true,
		    err) == 0)
			ret = 0;
	}
	free(text);
	free(path);
	free(dir);
	return ret;
}
