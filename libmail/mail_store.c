/*
 * mail_store.c: store directories, users, loading state, and write
 * transactions.
 *
 * Loading a user: read the snapshot (if valid), then replay the log from
 * the offset it covers. Writing: take the user's flock, catch up with the
 * log, build the transaction's records while applying them to the state,
 * then commit bodies (fsync), append the records (fsync), release. The
 * state a writer applied is exactly what replay of the same records gives,
 * since both use mail_state_apply().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "mail_store.h"
#include "mail_hlc.h"
#include "mail_log.h"
#include "mail_name.h"
#include "mail_snapshot.h"

#define STORE_FILE		"dsync-store"
#define SNAPSHOT_EVERY		(256 * 1024)	/* log bytes between snapshots */
#define SNAPSHOT_ON_OPEN	(4 * 1024 * 1024)

struct mail_store {
	char	*path;
	const struct mail_fs *fs;
	uint64_t node_id;
	int	 compress;
	int	 lock_timeout_ms;
	struct mail_blobs *blobs;
};

struct mail_user {
	struct mail_store *store;
	char	*name;
	char	*dir, *log_path, *index_path, *lock_path;
	struct mail_state *state;
	uint64_t log_end;	/* applied up to here */
	uint64_t snap_end;	/* the snapshot on disk covers up to here */
	bool	 log_mid_damage;
	uint64_t damage_off;
};

struct mail_txn {
	struct mail_user *user;
	int	 lock_fd;
	uint64_t modseq;
	struct mail_buf buf;	/* encoded records */
	size_t	 last_rec;	/* offset of the last record in buf */
	size_t	 n_recs;
	bool	 blobs_open;
};

static int
store_read_file(struct mail_store *s, struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	char *path = mail_xasprintf("%s/" STORE_FILE, s->path);
	char *line, *save = NULL;
	bool have_version = false, have_node = false;
	int ret = -1;

	if (mail_fs_read_file(s->fs, path, &b, 65536, err) < 0) {
		if (err->code == MAIL_ERR_NOTFOUND)
			mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "no dsync store at '%s'", s->path);
		goto out;
	}
	for (line = strtok_r((char *)b.data, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		unsigned long long v;

		if (sscanf(line, "dsync-store %llu", &v) == 1) {
			if (v != MAIL_STORE_VERSION) {
				mail_err_set(err, MAIL_ERR_CORRUPT,
				    "store '%s' has unsupported format %llu",
				    s->path, v);
				goto out;
			}
			have_version = true;
		} else if (sscanf(line, "node_id %llx", &v) == 1) {
			s->node_id = v;
			have_node = v != 0;
		} else if (sscanf(line, "compress %llu", &v) == 1 && v <= 9) {
			s->compress = (int)v;
		}
	}
	if (!have_version || !have_node) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "'%s' is damaged", path);
		goto out;
	}
	ret = 0;
out:
	mail_buf_free(&b);
	free(path);
	return ret;
}

int
mail_store_init(const char *path, int compress_level, struct mail_err *err)
{
	const struct mail_fs *fs = mail_fs_posix();
	char *file = mail_xasprintf("%s/" STORE_FILE, path);
	char *users = mail_xasprintf("%s/users", path);
	char *blobs = mail_xasprintf("%s/blobs", path);
	char *text = NULL;
	uint64_t node = 0;
	struct stat st;
	int ret = -1;

	if (compress_level < 0 || compress_level > 9) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "compression level %d is not 0..9", compress_level);
		goto out;
	}
	if (stat(file, &st) == 0) {
		mail_err_set(err, MAIL_ERR_EXISTS, "a store exists at '%s'",
		    path);
		goto out;
	}
	while (node == 0)
		mail_random(&node, sizeof(node));
	text = mail_xasprintf("dsync-store %d\nnode_id %016" PRIx64
	    "\ncompress %d\n", MAIL_STORE_VERSION, node, compress_level);
	if (mail_fs_mkdir(fs, path, false, err) < 0 ||
	    mail_fs_mkdir(fs, users, false, err) < 0 ||
	    mail_blobs_create(fs, blobs, err) < 0 ||
	    mail_fs_fsync_dir(fs, path, err) < 0 ||
	    mail_fs_write_atomic(fs, file, text, strlen(text), true, err) < 0)
		goto out;
	ret = 0;
out:
	free(file);
	free(users);
	free(blobs);
	free(text);
	return ret;
}

int
mail_store_open(const char *path, const struct mail_fs *fs,
    struct mail_store **store_r, struct mail_err *err)
{
	struct mail_store *s = mail_xcalloc(1, sizeof(*s));
	char *blobs;

	s->path = mail_xstrdup(path);
	s->fs = fs != NULL ? fs : mail_fs_posix();
	s->lock_timeout_ms = 30000;
	if (store_read_file(s, err) < 0) {
		mail_store_close(&s);
		return -1;
	}
	blobs = mail_xasprintf("%s/blobs", path);
	if (mail_blobs_open(s->fs, blobs, s->compress, &s->blobs, err) < 0) {
		free(blobs);
		mail_store_close(&s);
		return -1;
	}
	free(blobs);
	*store_r = s;
	return 0;
}

void
mail_store_close(struct mail_store **storep)
{
	struct mail_store *s = *storep;

	if (s == NULL)
		return;
	mail_blobs_close(&s->blobs);
	free(s->path);
	free(s);
	*storep = NULL;
}

uint64_t
mail_store_node_id(const struct mail_store *store)
{
	return store->node_id;
}

const char *
mail_store_path(const struct mail_store *store)
{
	return store->path;
}

struct mail_blobs *
mail_store_blobs(struct mail_store *store)
{
	return store->blobs;
}

const struct mail_fs *
mail_store_fs(const struct mail_store *store)
{
	return store->fs;
}

void
mail_store_set_lock_timeout(struct mail_store *store, int ms)
{
	store->lock_timeout_ms = ms;
}

static int
user_check_name(const char *name, struct mail_err *err)
{
	if (strcmp(name, MAIL_PUBLIC_USER) == 0)
		return 0;
	return mail_user_name_check(name, err);
}

/* Create users/NAME with a log whose first transaction creates INBOX. The
 * directory appears under its final name only when complete. */
static int
user_create(struct mail_store *s, const char *name, bool with_inbox,
    struct mail_err *err)
{
	char *dir = mail_xasprintf("%s/users/%s", s->path, name);
	char *tmp = mail_xasprintf("%s/users/.new-%s-%ld", s->path, name,
	    (long)getpid());
	char *log = mail_xasprintf("%s/log", tmp);
	char *users = mail_xasprintf("%s/users", s->path);
	struct mail_buf payload = MAIL_BUF_INIT, recbuf = MAIL_BUF_INIT;
	struct stat st;
	int ret = -1;

	if (stat(dir, &st) == 0) {
		mail_err_set(err, MAIL_ERR_EXISTS, "user '%s' exists", name);
		goto out;
	}
	if (mail_fs_mkdir(s->fs, tmp, true, err) < 0 ||
	    mail_log_create(s->fs, log, err) < 0)
		goto out;
	if (with_inbox) {
		struct mail_rec rec;
		struct mail_log_rec lrec;

		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MAILBOX_CREATE;
		mail_mailbox_identity(name, "INBOX", &rec.mailbox,
		    &rec.uidvalidity);
		rec.name = (char *)(uintptr_t)"INBOX";
		mail_rec_encode(&rec, &payload);
		memset(&lrec, 0, sizeof(lrec));
		lrec.type = MAIL_REC_MAILBOX_CREATE;
		lrec.flags = MAIL_REC_COMMIT;
		lrec.modseq = 1;
		lrec.node = s->node_id;
		lrec.hlc = mail_hlc_next(0, mail_now_ms());
		lrec.payload = payload.data;
		lrec.payload_len = payload.len;
		mail_log_encode(&recbuf, &lrec);
		if (mail_log_append(s->fs, log, MAIL_LOG_HEADER_SIZE,
		    recbuf.data, recbuf.len, err) < 0)
			goto out;
	}
	if (mail_fs_fsync_dir(s->fs, tmp, err) < 0)
		goto out;
	if (rename(tmp, dir) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			mail_err_set(err, MAIL_ERR_EXISTS, "user '%s' exists",
			    name);
		else
			mail_err_sys(err, errno, "rename '%s'", tmp);
		goto out;
	}
	if (mail_fs_fsync_dir(s->fs, users, err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0) {
		(void)unlink(log);
		(void)rmdir(tmp);
	}
	mail_buf_free(&payload);
	mail_buf_free(&recbuf);
	free(dir);
	free(tmp);
	free(log);
	free(users);
	return ret;
}

int
mail_store_user_add(struct mail_store *s, const char *name,
    struct mail_err *err)
{
	if (mail_user_name_check(name, err) < 0)
		return -1;
	return user_create(s, name, true, err);
}

int
mail_store_user_del(struct mail_store *s, const char *name,
    struct mail_err *err)
{
	char *dir = mail_xasprintf("%s/users/%s", s->path, name);
	char *trash = mail_xasprintf("%s/users/.deleted-%s-%ld", s->path, name,
	    (long)getpid());
	int ret = -1;

	if (mail_user_name_check(name, err) < 0)
		goto out;
	/* rename first: the user vanishes atomically, cleanup can be slow */
	if (rename(dir, trash) < 0) {
		if (errno == ENOENT)
			mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "unknown user '%s'", name);
		else
			mail_err_sys(err, errno, "rename '%s'", dir);
		goto out;
	}
	mail_fs_remove_tree(trash);
	ret = 0;
out:
	free(dir);
	free(trash);
	return ret;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
mail_store_user_list(struct mail_store *s, char ***names_r, size_t *n_r,
    struct mail_err *err)
{
	char *path = mail_xasprintf("%s/users", s->path);
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		mail_err_sys(err, errno, "opendir '%s'", path);
		free(path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;	/* ., .., .public, .new-*, .deleted-* */
		names = mail_xgrow(names, &cap, n + 1, sizeof(*names));
		names[n++] = mail_xstrdup(de->d_name);
	}
	closedir(d);
	free(path);
	mail_qsort(names, n, sizeof(*names), cmp_str);
	*names_r = names;
	*n_r = n;
	return 0;
}

void
mail_store_user_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int
replay_rec(void *ctx, const struct mail_log_rec *lrec, uint64_t offset,
    struct mail_err *err)
{
	struct mail_user *u = ctx;
	struct mail_rec rec;

	if (mail_rec_decode(lrec, &rec, err) < 0)
		return mail_err_prefix(err, "'%s' at offset %" PRIu64,
		    u->log_path, offset);
	mail_state_apply(u->state, &rec);
	mail_rec_free(&rec);
	return 0;
}

/* Apply the log from u->log_end on. */
static int
user_replay(struct mail_user *u, struct mail_err *err)
{
	struct mail_log_scan scan;

	if (mail_log_read(u->store->fs, u->log_path, u->log_end, replay_rec, u,
	    &scan, err) != 0)
		return -1;
	u->log_end = scan.end;
	u->log_mid_damage = scan.mid_damage;
	u->damage_off = scan.damage_off;
	return 0;
}

/* Write the snapshot of the current state (a cache: failure is not an
 * error of the caller's operation, so only the return value tells). */
static int
user_write_snapshot(struct mail_user *u, uint64_t mark, struct mail_err *err)
{
	if (mail_snapshot_write(u->store->fs, u->index_path, u->state,
	    u->log_end, mark, err) < 0)
		return -1;
	u->snap_end = u->log_end;
	return 0;
}

static int
user_load(struct mail_user *u, bool use_snapshot, struct mail_err *err)
{
	struct mail_err serr;
	uint64_t end = 0, mark = 0, log_mark;

	mail_state_free(&u->state);
	u->log_end = 0;
	u->snap_end = 0;
	if (use_snapshot && mail_snapshot_read(u->store->fs, u->index_path,
	    &u->state, &end, &mark, &serr) == 0) {
		/* only a snapshot of this very log counts */
		if (mail_log_mark(u->store->fs, u->log_path, end, &log_mark,
		    &serr) == 0 && log_mark == mark) {
			u->log_end = end;
			u->snap_end = end;
		} else {
			mail_state_free(&u->state);
		}
	}
	if (u->state == NULL)
		u->state = mail_state_new();
	if (user_replay(u, err) < 0) {
		/* a damaged snapshot that passed its checksum: retry from
		 * the log alone once */
		if (u->snap_end == 0)
			return -1;
		return user_load(u, false, err);
	}
	return 0;
}

int
mail_user_open(struct mail_store *s, const char *name, bool create,
    struct mail_user **user_r, struct mail_err *err)
{
	struct mail_user *u;
	struct stat st;

	if (user_check_name(name, err) < 0)
		return -1;
	u = mail_xcalloc(1, sizeof(*u));
	u->store = s;
	u->name = mail_xstrdup(name);
	u->dir = mail_xasprintf("%s/users/%s", s->path, name);
	u->log_path = mail_xasprintf("%s/log", u->dir);
	u->index_path = mail_xasprintf("%s/index", u->dir);
	u->lock_path = mail_xasprintf("%s/lock", u->dir);
	if (stat(u->log_path, &st) < 0) {
		if (errno != ENOENT) {
			mail_err_sys(err, errno, "stat '%s'", u->log_path);
			goto fail;
		}
		if (!create) {
			mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "unknown user '%s'", name);
			goto fail;
		}
		if (user_create(s, name, false, err) < 0 &&
		    err->code != MAIL_ERR_EXISTS)
			goto fail;
	}
	if (user_load(u, true, err) < 0)
		goto fail;
	if (u->log_end - u->snap_end >= SNAPSHOT_ON_OPEN) {
		struct mail_err serr;
		uint64_t mark;

		if (mail_log_mark(s->fs, u->log_path, u->log_end, &mark,
		    &serr) == 0)
			(void)user_write_snapshot(u, mark, &serr);
	}
	*user_r = u;
	return 0;
fail:
	mail_user_close(&u);
	return -1;
}

void
mail_user_close(struct mail_user **userp)
{
	struct mail_user *u = *userp;

	if (u == NULL)
		return;
	mail_state_free(&u->state);
	free(u->name);
	free(u->dir);
	free(u->log_path);
	free(u->index_path);
	free(u->lock_path);
	free(u);
	*userp = NULL;
}

const char *
mail_user_name(const struct mail_user *u)
{
	return u->name;
}

struct mail_store *
mail_user_store(const struct mail_user *u)
{
	return u->store;
}

struct mail_state *
mail_user_state(const struct mail_user *u)
{
	return u->state;
}

int
mail_user_refresh(struct mail_user *u, struct mail_err *err)
{
	return user_replay(u, err);
}

const char *
mail_user_log_path(const struct mail_user *u)
{
	return u->log_path;
}

uint64_t
mail_user_log_end(const struct mail_user *u)
{
	return u->log_end;
}

int
mail_user_rebuild(struct mail_user *u, bool write_snapshot,
    struct mail_err *err)
{
	uint64_t mark;

	if (user_load(u, false, err) < 0)
		return -1;
	if (!write_snapshot)
		return 0;
	if (mail_log_mark(u->store->fs, u->log_path, u->log_end, &mark,
	    err) < 0)
		return -1;
	return user_write_snapshot(u, mark, err);
}

int
mail_txn_begin(struct mail_user *u, struct mail_txn **txn_r,
    struct mail_err *err)
{
	struct mail_txn *t;
	int fd;

	if (mail_fs_lock(u->store->fs, u->lock_path, u->store->lock_timeout_ms,
	    &fd, err) < 0)
		return -1;
	if (user_replay(u, err) < 0) {
		mail_fs_close(u->store->fs, &fd);
		return -1;
	}
	if (u->log_mid_damage) {
		mail_fs_close(u->store->fs, &fd);
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "log '%s' is damaged at offset %" PRIu64
		    "; run 'dsync check --repair'", u->log_path, u->damage_off);
	}
	t = mail_xcalloc(1, sizeof(*t));
	t->user = u;
	t->lock_fd = fd;
	t->modseq = u->state->modseq + 1;
	*txn_r = t;
	return 0;
}

uint64_t
mail_txn_next_hlc(struct mail_txn *t)
{
	return mail_hlc_next(t->user->state->hlc, mail_now_ms());
}

uint64_t
mail_txn_modseq(const struct mail_txn *t)
{
	return t->modseq;
}

struct mail_user *
mail_txn_user(const struct mail_txn *t)
{
	return t->user;
}

int
mail_txn_add(struct mail_txn *t, struct mail_rec *rec, struct mail_err *err)
{
	struct mail_buf payload = MAIL_BUF_INIT;
	struct mail_log_rec lrec;

	rec->modseq = t->modseq;
	if (rec->node == 0) {
		rec->node = t->user->store->node_id;
		rec->hlc = mail_txn_next_hlc(t);
	}
	mail_rec_encode(rec, &payload);
	if (payload.len > MAIL_LOG_REC_MAX - MAIL_LOG_REC_MIN) {
		mail_buf_free(&payload);
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "change too large for one log record");
	}
	memset(&lrec, 0, sizeof(lrec));
	lrec.type = (uint8_t)rec->type;
	lrec.modseq = rec->modseq;
	lrec.node = rec->node;
	lrec.hlc = rec->hlc;
	lrec.payload = payload.data;
	lrec.payload_len = payload.len;
	t->last_rec = t->buf.len;
	mail_log_encode(&t->buf, &lrec);
	t->n_recs++;
	mail_buf_free(&payload);
	mail_state_apply(t->user->state, rec);
	return 0;
}

int
mail_txn_put_body(struct mail_txn *t, const void *data, size_t len,
    struct mail_guid *hash_r, struct mail_err *err)
{
	struct mail_store *s = t->user->store;

	mail_guid_hash(data, len, hash_r);
	if (!t->blobs_open) {
		if (mail_blobs_begin(s->blobs, s->lock_timeout_ms, err) < 0)
			return -1;
		t->blobs_open = true;
	}
	return mail_blobs_put(s->blobs, data, len, hash_r, err);
}

static void
txn_free(struct mail_txn **tp)
{
	struct mail_txn *t = *tp;

	if (t->blobs_open)
		mail_blobs_abort(t->user->store->blobs);
	mail_fs_close(t->user->store->fs, &t->lock_fd);
	mail_buf_free(&t->buf);
	free(t);
	*tp = NULL;
}

int
mail_txn_commit(struct mail_txn **tp, struct mail_err *err)
{
	struct mail_txn *t = *tp;
	struct mail_user *u = t->user;
	struct mail_store *s = u->store;
	struct mail_err serr;
	uint64_t mark;

	if (t->blobs_open) {
		t->blobs_open = false;
		if (mail_blobs_commit(s->blobs, err) < 0)
			goto fail;
	}
	if (t->n_recs == 0) {
		txn_free(tp);
		return 0;
	}
	mail_log_mark_commit(t->buf.data + t->last_rec);
	if (mail_log_append(s->fs, u->log_path, u->log_end, t->buf.data,
	    t->buf.len, err) < 0)
		goto fail;
	u->log_end += t->buf.len;
	mark = mail_get_le64(t->buf.data + t->buf.len - 8);
	txn_free(tp);
	if (u->log_end - u->snap_end >= SNAPSHOT_EVERY)
		(void)user_write_snapshot(u, mark, &serr);
	return 0;
fail:
	txn_free(tp);
	/* the in-memory state has changes that are not on disk */
	if (user_load(u, true, &serr) < 0) {
		mail_state_free(&u->state);
		u->state = mail_state_new();
	}
	return -1;
}

void
mail_txn_rollback(struct mail_txn **tp)
{
	struct mail_txn *t = *tp;
	struct mail_user *u;
	struct mail_err serr;

	if (t == NULL)
		return;
	u = t->user;
	txn_free(tp);
	if (user_load(u, true, &serr) < 0) {
		mail_state_free(&u->state);
		u->state = mail_state_new();
	}
}
