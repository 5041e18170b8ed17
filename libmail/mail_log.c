/*
 * mail_log.c: encoding, decoding, scanning and appending log records.
 *
 * Durability: mail_log_append() writes with pwrite at the committed end and
 * fsyncs before returning, so a transaction is acknowledged only once it is
 * on disk. A crash mid-write leaves a torn tail: an incomplete record or a
 * checksum mismatch after the last commit. Readers simply stop there; the
 * next writer (holding the lock) cuts it. Damage followed by valid records
 * is not a torn tail and is never cut silently: the scan reports it and
 * "dsync check --repair" decides.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "mail_log.h"

#define LOG_READ_CHUNK	(1024 * 1024)

void
mail_log_encode(struct mail_buf *out, const struct mail_log_rec *rec)
{
	size_t start = out->len;
	size_t len = MAIL_LOG_REC_MIN + rec->payload_len;

	mail_assert(len <= MAIL_LOG_REC_MAX);
	mail_buf_put_le32(out, (uint32_t)len);
	mail_buf_put_u8(out, rec->type);
	mail_buf_put_u8(out, rec->flags);
	mail_buf_put_le16(out, 0);
	mail_buf_put_le64(out, rec->modseq);
	mail_buf_put_le64(out, rec->node);
	mail_buf_put_le64(out, rec->hlc);
	mail_buf_append(out, rec->payload, rec->payload_len);
	mail_buf_put_le64(out, XXH3_64bits(out->data + start, len - 8));
}

void
mail_log_mark_commit(uint8_t *rec)
{
	uint32_t len = mail_get_le32(rec);

	rec[5] |= MAIL_REC_COMMIT;
	mail_put_le64(rec + len - 8, XXH3_64bits(rec, len - 8));
}

ssize_t
mail_log_decode(const uint8_t *p, size_t n, struct mail_log_rec *rec,
    struct mail_err *err)
{
	uint32_t len;

	if (n < 4)
		return 0;
	len = mail_get_le32(p);
	if (len < MAIL_LOG_REC_MIN || len > MAIL_LOG_REC_MAX) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "bad record length %u", len);
		return -1;
	}
	if (n < len)
		return 0;
	if (XXH3_64bits(p, len - 8) != mail_get_le64(p + len - 8)) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "record checksum mismatch");
		return -1;
	}
	rec->type = p[4];
	rec->flags = p[5];
	if (rec->type == 0 || mail_get_le16(p + 6) != 0 ||
	    (rec->flags & ~MAIL_REC_COMMIT) != 0) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "bad record header");
		return -1;
	}
	rec->modseq = mail_get_le64(p + 8);
	rec->node = mail_get_le64(p + 16);
	rec->hlc = mail_get_le64(p + 24);
	rec->payload = p + MAIL_LOG_REC_HEADER;
	rec->payload_len = len - MAIL_LOG_REC_MIN;
	return len;
}

static int
log_check_header(const uint8_t *h, size_t n, const char *path,
    struct mail_err *err)
{
	if (n < MAIL_LOG_HEADER_SIZE || memcmp(h, MAIL_LOG_MAGIC, 8) != 0)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "'%s' is not a dsync log", path);
	if (mail_get_le32(h + 8) != MAIL_LOG_VERSION)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "'%s' has unsupported log version %u", path,
		    mail_get_le32(h + 8));
	return 0;
}

/* After damage, is there a valid commit in buf[*from..n)? Then the damage
 * is in the middle of the log, not a torn tail. *from is advanced past
 * the offsets that can never start a record, so that the caller can read
 * more of the file and ask again without rescanning them. */
static bool
log_valid_record_after(const uint8_t *buf, size_t n, size_t *from)
{
	struct mail_log_rec rec;
	struct mail_err err;
	bool settled = true;	/* no offset before i can start a record */
	size_t i;

	for (i = *from; i + MAIL_LOG_REC_MIN <= n; i++) {
		ssize_t r = mail_log_decode(buf + i, n - i, &rec, &err);

		/* only a commit proves damage: the unfinished transaction
		 * of a crashed writer may leave valid records after a hole
		 * (pages written back out of order), never a commit, since
		 * each transaction is fsynced before the next begins */
		if (r > 0 && (rec.flags & MAIL_REC_COMMIT))
			return true;
		if (r == 0 && settled) {
			*from = i;	/* may complete with more bytes */
			settled = false;
		}
	}
	if (settled)
		*from = i;
	return false;
}

int
mail_log_read(const struct mail_fs *fs, const char *path, uint64_t start,
    mail_log_rec_fn *fn, void *ctx, struct mail_log_scan *scan,
    struct mail_err *err)
{
	struct mail_buf buf = MAIL_BUF_INIT;
	uint64_t *txn = NULL;		/* file offsets of the open txn */
	size_t n_txn = 0, cap_txn = 0, pos = 0;
	uint64_t buf_off;		/* file offset of buf.data[0] */
	int fd = -1, ret = -1;
	bool eof = false;

	memset(scan, 0, sizeof(*scan));
	if ((fd = mail_fs_open(fs, path, O_RDONLY, 0, err)) < 0)
		goto out;
	mail_buf_reserve(&buf, MAIL_LOG_HEADER_SIZE);
	{
		ssize_t r = mail_fs_pread_full(fs, fd, buf.data,
		    MAIL_LOG_HEADER_SIZE, 0, path, err);

		if (r < 0 || log_check_header(buf.data, (size_t)r, path,
		    err) < 0)
			goto out;
	}
	if (start < MAIL_LOG_HEADER_SIZE)
		start = MAIL_LOG_HEADER_SIZE;
	buf_off = start;
	scan->end = start;
	for (;;) {
		struct mail_log_rec rec;
		ssize_t used;

		used = mail_log_decode(buf.data + pos, buf.len - pos, &rec, err);
		if (used == 0 && !eof) {
			/* keep the open transaction's records in the buffer:
			 * they are applied only once its commit is read */
			size_t keep = n_txn > 0 ?
			    (size_t)(txn[0] - buf_off) : pos;
			ssize_t r;

			mail_buf_consume(&buf, keep);
			buf_off += keep;
			pos -= keep;
			mail_buf_reserve(&buf, LOG_READ_CHUNK);
			r = mail_fs_pread_full(fs, fd, buf.data + buf.len,
			    LOG_READ_CHUNK, (off_t)(buf_off + buf.len), path,
			    err);
			if (r < 0)
				goto out;
			buf.len += (size_t)r;
			if (r < LOG_READ_CHUNK)
				eof = true;
			continue;
		}
		if (used == 0 && pos == buf.len)
			break;		/* clean end of file */
		if (used <= 0) {
			size_t from = pos + 1;

			scan->damaged = true;
			scan->damage_off = buf_off + pos;
			/* bytes that are no record are a torn tail only if
			 * no valid record follows them anywhere in the file,
			 * so read on until one does or the file ends: the
			 * next record may lie beyond this chunk, and a length
			 * that runs past the end of the file may be a flipped
			 * bit, not a cut. A writer cuts a torn tail, so
			 * guessing wrong here would drop commits. */
			while (!(scan->mid_damage = log_valid_record_after(
			    buf.data, buf.len, &from)) && !eof) {
				ssize_t r;

				mail_buf_reserve(&buf, LOG_READ_CHUNK);
				r = mail_fs_pread_full(fs, fd, buf.data +
				    buf.len, LOG_READ_CHUNK,
				    (off_t)(buf_off + buf.len), path, err);
				if (r < 0)
					goto out;
				buf.len += (size_t)r;
				if (r < LOG_READ_CHUNK)
					eof = true;
			}
			mail_err_clear(err);
			break;
		}
		txn = mail_xgrow(txn, &cap_txn, n_txn + 1, sizeof(*txn));
		txn[n_txn++] = buf_off + pos;
		pos += (size_t)used;
		if ((rec.flags & MAIL_REC_COMMIT) == 0)
			continue;
		for (size_t i = 0; fn != NULL && i < n_txn; i++) {
			size_t at = (size_t)(txn[i] - buf_off);

			/* decoded once already: cannot fail now */
			(void)mail_log_decode(buf.data + at, buf.len - at, &rec,
			    err);
			if ((ret = fn(ctx, &rec, txn[i], err)) != 0)
				goto out;
		}
		n_txn = 0;
		scan->end = buf_off + pos;
	}
	if (n_txn > 0 && !scan->damaged) {
		/* records without their commit: an interrupted writer */
		scan->damaged = true;
		scan->damage_off = scan->end;
	}
	scan->file_size = buf_off + buf.len;
	ret = 0;
out:
	mail_fs_close(fs, &fd);
	mail_buf_free(&buf);
	free(txn);
	return ret;
}

int
mail_log_create(const struct mail_fs *fs, const char *path,
    struct mail_err *err)
{
	uint8_t h[MAIL_LOG_HEADER_SIZE] = { 0 };
	int fd, ret = -1;

	memcpy(h, MAIL_LOG_MAGIC, 8);
	mail_put_le32(h + 8, MAIL_LOG_VERSION);
	if ((fd = mail_fs_open(fs, path, O_WRONLY | O_CREAT | O_EXCL, 0600,
	    err)) < 0)
		return -1;
	if (mail_fs_write_full(fs, fd, h, sizeof(h), path, err) == 0 &&
	    mail_fs_fsync(fs, fd, path, err) == 0)
		ret = 0;
	mail_fs_close(fs, &fd);
	return ret;
}

int
mail_log_mark(const struct mail_fs *fs, const char *path, uint64_t end,
    uint64_t *mark_r, struct mail_err *err)
{
	uint8_t b[8];
	int fd;
	ssize_t r;

	*mark_r = 0;
	if (end <= MAIL_LOG_HEADER_SIZE)
		return 0;
	if ((fd = mail_fs_open(fs, path, O_RDONLY, 0, err)) < 0)
		return -1;
	r = mail_fs_pread_full(fs, fd, b, sizeof(b), (off_t)(end - 8), path,
	    err);
	mail_fs_close(fs, &fd);
	if (r < 0)
		return -1;
	*mark_r = r == 8 ? mail_get_le64(b) : ~(uint64_t)0;
	return 0;
}

int
mail_log_append(const struct mail_fs *fs, const char *path, uint64_t end,
    const void *data, size_t len, struct mail_err *err)
{
	struct stat st;
	int fd, ret = -1;

	if ((fd = mail_fs_open(fs, path, O_WRONLY, 0, err)) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		mail_err_sys(err, errno, "stat '%s'", path);
		goto out;
	}
	/* cut a torn tail, so the new transaction follows the last commit */
	if ((uint64_t)st.st_size != end &&
	    mail_fs_ftruncate(fs, fd, (off_t)end, path, err) < 0)
		goto out;
	if (lseek(fd, (off_t)end, SEEK_SET) < 0) {
		mail_err_sys(err, errno, "seek '%s'", path);
		goto out;
	}
	if (mail_fs_write_full(fs, fd, data, len, path, err) < 0 ||
	    mail_fs_fsync(fs, fd, path, err) < 0) {
		/* leave no partial transaction behind if we can help it; a
		 * failed truncate is harmless: readers ignore the tail */
		(void)fs->ops->ftruncate(fs->ctx, fd, (off_t)end);
		goto out;
	}
	ret = 0;
out:
	mail_fs_close(fs, &fd);
	return ret;
}
