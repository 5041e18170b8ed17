/*
 * mail_check.c: "dsync check [--repair]".
 *
 * What counts as damage: a record whose checksum or payload is bad with
 * valid records after it, modseqs going backwards, a snapshot that does
 * not match the log, a body missing or not matching its hash. A torn tail
 * (the last, incomplete transaction of a crashed writer) is not damage:
 * that transaction was never acknowledged, and the next writer cuts it.
 *
 * Salvage keeps every complete transaction whose records all decode, in
 * order, and drops the rest; the damaged original is kept beside the log
 * as log.damaged-TIME for the operator.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "mail_check.h"
#include "mail_dump.h"
#include "mail_log.h"
#include "mail_snapshot.h"

struct check_ctx {
	struct mail_check_result *res;
	const char *user;
	uint64_t last_modseq;
	bool	 modseq_bad;
	struct mail_state *state;
	bool	 decode_bad;
	uint64_t bad_off;
};

static void PRINTF_LIKE(2, 3)
report(struct mail_check_result *res, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	mail_buf_append_str(&res->report, line);
	mail_buf_append_str(&res->report, "\n");
}

static int
check_rec(void *vctx, const struct mail_log_rec *lrec, uint64_t offset,
    struct mail_err *err)
{
	struct check_ctx *c = vctx;
	struct mail_rec rec;

	if (lrec->modseq < c->last_modseq && !c->modseq_bad) {
		c->modseq_bad = true;
		c->bad_off = offset;
	}
	c->last_modseq = lrec->modseq;
	if (mail_rec_decode(lrec, &rec, err) < 0) {
		if (!c->decode_bad)
			c->bad_off = offset;
		c->decode_bad = true;
		mail_err_clear(err);
		return 0;
	}
	mail_state_apply(c->state, &rec);
	mail_rec_free(&rec);
	return 0;
}

/* Rewrite the log keeping the complete, decodable transactions. */
static int
salvage_log(const struct mail_fs *fs, const char *path, uint64_t *dropped_r,
    struct mail_err *err)
{
	struct mail_buf in = MAIL_BUF_INIT, out = MAIL_BUF_INIT;
	size_t pos = MAIL_LOG_HEADER_SIZE, txn_start_out;
	char *saved = NULL;
	int ret = -1;
	bool txn_ok = true;

	*dropped_r = 0;
	if (mail_fs_read_file(fs, path, &in, SIZE_MAX / 2, err) < 0)
		goto out;
	if (in.len < MAIL_LOG_HEADER_SIZE) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "'%s' is truncated", path);
		goto out;
	}
	mail_buf_append(&out, in.data, MAIL_LOG_HEADER_SIZE);
	txn_start_out = out.len;
	while (pos < in.len) {
		struct mail_log_rec lrec;
		struct mail_rec rec;
		ssize_t used = mail_log_decode(in.data + pos, in.len - pos,
		    &lrec, err);

		if (used <= 0) {
			/* skip to the next offset where a record decodes;
			 * the open transaction is lost */
			(*dropped_r)++;
			mail_buf_truncate(&out, txn_start_out);
			txn_ok = true;
			pos++;
			while (pos < in.len && mail_log_decode(in.data + pos,
			    in.len - pos, &lrec, err) <= 0)
				pos++;
			continue;
		}
		if (mail_rec_decode(&lrec, &rec, err) < 0)
			txn_ok = false;
		else
			mail_rec_free(&rec);
		mail_buf_append(&out, in.data + pos, (size_t)used);
		pos += (size_t)used;
		if (lrec.flags & MAIL_REC_COMMIT) {
			if (!txn_ok) {
				(*dropped_r)++;
				mail_buf_truncate(&out, txn_start_out);
			}
			txn_ok = true;
			txn_start_out = out.len;
		}
	}
	mail_buf_truncate(&out, txn_start_out);
	mail_err_clear(err);
	saved = mail_xasprintf("%s.damaged-%ld", path, (long)time(NULL));
	if (mail_fs_write_atomic(fs, saved, in.data, in.len, true, err) < 0 ||
	    mail_fs_write_atomic(fs, path, out.data, out.len, true, err) < 0)
		goto out;
	ret = 0;
out:
	mail_buf_free(&in);
	mail_buf_free(&out);
	free(saved);
	return ret;
}

static int
check_bodies(struct mail_store *store, const char *user,
    const struct mail_state *st, bool report_each,
    struct mail_check_result *res, uint64_t *bad_r, struct mail_err *err)
{
	struct mail_blobs *blobs = mail_store_blobs(store);
	struct mail_buf body = MAIL_BUF_INIT;

	*bad_r = 0;
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		const struct mail_mailbox *mb = st->mailboxes[i];

		/* a deleted mailbox has no messages */
		for (size_t k = 0; k < mb->n_msgs; k++) {
			mail_buf_reset(&body);
			if (mail_blobs_get(blobs, &mb->msgs[k].body, &body,
			    err) == 0)
				continue;
			if (err->code != MAIL_ERR_NOTFOUND &&
			    err->code != MAIL_ERR_CORRUPT) {
				mail_buf_free(&body);
				return -1;
			}
			(*bad_r)++;
			if (report_each)
				report(res, "user '%s' mailbox '%s' uid %u: %s",
				    user, mb->name, mb->msgs[k].uid, err->msg);
			mail_err_clear(err);
		}
	}
	mail_buf_free(&body);
	return 0;
}

/* Was the snapshot with this mark made from this log? */
static bool
snapshot_of_log(const struct mail_fs *fs, const char *log, uint64_t end,
    uint64_t mark)
{
	struct mail_err err;
	uint64_t have;

	return mail_log_mark(fs, log, end, &have, &err) == 0 && have == mark;
}

static int
check_user(struct mail_store *store, const char *name, bool repair,
    struct mail_check_result *res, struct mail_err *err)
{
	const struct mail_fs *fs = mail_store_fs(store);
	char *dir = mail_xasprintf("%s/users/%s", mail_store_path(store), name);
	char *log = mail_xasprintf("%s/log", dir);
	char *index = mail_xasprintf("%s/index", dir);
	struct check_ctx c;
	struct mail_log_scan scan;
	struct mail_state *snap = NULL;
	struct mail_buf d1 = MAIL_BUF_INIT, d2 = MAIL_BUF_INIT;
	uint64_t snap_end = 0, snap_mark = 0, bad = 0;
	int lock_fd = -1, ret = -1;
	struct mail_err serr;

	if (repair) {
		char *lock = mail_xasprintf("%s/lock", dir);
		int r = mail_fs_lock(fs, lock, -1, &lock_fd, err);

		free(lock);
		if (r < 0)
			goto out;
	}
	memset(&c, 0, sizeof(c));
	c.res = res;
	c.user = name;
	c.state = mail_state_new();
	if (mail_log_read(fs, log, 0, check_rec, &c, &scan, err) != 0) {
		if (err->code != MAIL_ERR_CORRUPT)
			goto out;
		/* a bad header: nothing to salvage automatically */
		report(res, "user '%s': %s", name, err->msg);
		res->problems++;
		mail_err_clear(err);
		ret = 0;
		goto out;
	}
	if (scan.damaged && !scan.mid_damage && scan.end < scan.file_size) {
		if (repair) {
			int fd = mail_fs_open(fs, log, O_WRONLY, 0, err);
			int r = fd < 0 ? -1 : mail_fs_ftruncate(fs, fd,
			    (off_t)scan.end, log, err);

			if (r == 0)
				r = mail_fs_fsync(fs, fd, log, err);
			mail_fs_close(fs, &fd);
			if (r < 0)
				goto out;
			report(res, "user '%s': cut torn log tail at offset "
			    "%" PRIu64 " (%" PRIu64 " bytes)", name, scan.end,
			    scan.file_size - scan.end);
			res->repaired++;
		}
	}
	if (scan.mid_damage || c.decode_bad || c.modseq_bad) {
		uint64_t dropped;

		report(res, "user '%s': log damaged at offset %" PRIu64, name,
		    scan.mid_damage ? scan.damage_off : c.bad_off);
		if (!repair || c.modseq_bad) {
			if (c.modseq_bad)
				report(res, "user '%s': modseqs go backwards "
				    "at offset %" PRIu64, name, c.bad_off);
			res->problems++;
		} else {
			if (salvage_log(fs, log, &dropped, err) < 0)
				goto out;
			report(res, "user '%s': log salvaged, %" PRIu64
			    " damaged transaction(s) dropped; original kept "
			    "as log.damaged-*", name, dropped);
			res->repaired++;
			/* recheck what we now have */
			mail_state_free(&c.state);
			c.state = mail_state_new();
			c.decode_bad = false;
			c.last_modseq = 0;
			if (mail_log_read(fs, log, 0, check_rec, &c, &scan,
			    err) != 0)
				goto out;
		}
	}
	/* the snapshot must be of this log, and equal a replay of it */
	if (mail_snapshot_read(fs, index, &snap, &snap_end, &snap_mark,
	    &serr) == 0 && !snapshot_of_log(fs, log, snap_end, snap_mark)) {
		report(res, "user '%s': index snapshot is not of this log",
		    name);
		if (repair) {
			res->repaired++;
			(void)unlink(index);
		} else {
			res->problems++;
		}
	} else if (snap != NULL) {
		struct mail_user *u = NULL;

		/* everything, clocks, tombstones and modseqs included: a
		 * snapshot is the state of this very log */
		mail_dump_state_flags(name, c.state,
		    MAIL_DUMP_CLOCKS | MAIL_DUMP_LOCAL, &d1);
		/* snapshot plus the log tail, as readers see it */
		if (mail_user_open(store, name, false, &u, err) < 0)
			goto out;
		mail_dump_state_flags(name, mail_user_state(u),
		    MAIL_DUMP_CLOCKS | MAIL_DUMP_LOCAL, &d2);
		mail_user_close(&u);
		if (d1.len != d2.len || memcmp(d1.data, d2.data, d1.len) != 0) {
			report(res, "user '%s': index snapshot does not match "
			    "the log", name);
			if (repair) {
				res->repaired++;
				(void)unlink(index);
			} else {
				res->problems++;
			}
		}
	} else if (serr.code != MAIL_ERR_NOTFOUND) {
		report(res, "user '%s': %s", name, serr.msg);
		if (repair) {
			res->repaired++;
			(void)unlink(index);
		} else {
			res->problems++;
		}
	}
	if (repair) {
		struct mail_user *u = NULL;

		/* rebuild the snapshot from the (repaired) log */
		if (mail_user_open(store, name, false, &u, err) < 0)
			goto out;
		if (mail_user_rebuild(u, true, err) < 0) {
			mail_user_close(&u);
			goto out;
		}
		mail_user_close(&u);
	}
	for (size_t i = 0; i < c.state->n_mailboxes; i++) {
		if (c.state->mailboxes[i]->deleted)
			continue;	/* no messages; not listed */
		res->messages += c.state->mailboxes[i]->n_msgs;
		res->mailboxes++;
	}
	if (check_bodies(store, name, c.state, !repair, res, &bad, err) < 0)
		goto out;
	if (bad > 0 && repair) {
		uint64_t n;

		if (mail_blobs_reindex(mail_store_blobs(store), &n, err) < 0)
			goto out;
		if (check_bodies(store, name, c.state, true, res, &bad,
		    err) < 0)
			goto out;
		if (bad == 0) {
			report(res, "blob index rebuilt (%" PRIu64 " bodies)",
			    n);
			res->repaired++;
		}
	}
	res->problems += bad;
	ret = 0;
out:
	mail_fs_close(fs, &lock_fd);
	mail_state_free(&c.state);
	mail_state_free(&snap);
	mail_buf_free(&d1);
	mail_buf_free(&d2);
	free(dir);
	free(log);
	free(index);
	return ret;
}

int
mail_store_check(struct mail_store *store, bool repair,
    struct mail_check_result *res, struct mail_err *err)
{
	char *users = mail_xasprintf("%s/users", mail_store_path(store));
	DIR *d = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if ((d = opendir(users)) == NULL) {
		mail_err_sys(err, errno, "opendir '%s'", users);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, ".new-", 5) == 0 ||
		    strncmp(de->d_name, ".deleted-", 9) == 0) {
			char *p = mail_xasprintf("%s/%s", users, de->d_name);

			report(res, "leftover of an interrupted user add or "
			    "delete: '%s'%s", de->d_name,
			    repair ? " (removed)" : "");
			if (repair) {
				mail_fs_remove_tree(p);
				res->repaired++;
			}
			free(p);
			continue;
		}
		names = mail_xgrow(names, &cap, n + 1, sizeof(*names));
		names[n++] = mail_xstrdup(de->d_name);
	}
	for (size_t i = 0; i < n; i++) {
		res->users++;
		if (check_user(store, names[i], repair, res, err) < 0)
			goto out;
	}
	ret = 0;
out:
	if (d != NULL)
		closedir(d);
	mail_store_user_list_free(names, n);
	free(users);
	return ret;
}
