/*
 * mail_blob.c: body segments and their index.
 *
 * Segment record (little-endian):
 *   "BLOB"  magic
 *   u32     flags (bit 0: zlib-compressed)
 *   16      XXH3-128 of the raw body (mail_guid_hash)
 *   u64     raw length
 *   u64     stored length
 *   u64     XXH3-64 of the 40 bytes above
 *   ...     stored bytes
 * Index shard record (blobs/idx/XX, 56 bytes):
 *   16 hash, u32 segment, u32 flags, u64 offset, u64 stored length,
 *   u64 raw length, u64 XXH3-64 of the 48 bytes above.
 *
 * Durability order: segment bytes are fsynced before the index records
 * that point at them are written, and the index is fsynced before the log
 * record that references the body is written (by the caller). A crash can
 * only leave unreferenced bodies or a torn index record (skipped by its
 * checksum), never a reference to missing bytes. Reads verify the body
 * against its hash, so damage is reported, never served.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <zlib.h>

#include "mail_blob.h"

#define BLOB_WRITEBACK_BYTES	(8 * 1024 * 1024)
#define BLOB_HDR	48
#define IDX_REC		56
#define BLOB_ZLIB	0x1

struct idx_ent {
	struct mail_guid hash;
	uint32_t seg, flags;
	uint64_t off, stored, raw;
};

struct shard {
	bool	 loaded;
	bool	 dirty;		/* has unsynced appends in this batch */
	struct idx_ent *v;
	size_t	 n, cap;
	size_t	 n_disk;	/* v[0..n_disk) are the valid records read
				 * from the file; later ones are this batch's */
	uint64_t bytes;		/* whole records of the file read so far */
	uint64_t gen;		/* the batch (lock_gen) it was last read in */
};

struct mail_blobs {
	const struct mail_fs *fs;
	char	*dir;
	int	 level;
	int	 lock_fd;	/* -1 outside a batch */
	uint32_t seg;		/* current segment (in a batch) */
	uint64_t seg_size;
	uint64_t seg_flushed;	/* writeback started up to here */
	int	 seg_fd;
	bool	 seg_dirty;
	uint32_t rd_seg;	/* the segment rd_fd reads (bulk reads run */
	int	 rd_fd;		/* through one segment after another) */
	uint64_t lock_gen;	/* counts batches: a shard read in an earlier
				 * one is read again (what others appended)
				 * before this batch trusts it */
	struct shard shards[256];
};

static char *
seg_path(const struct mail_blobs *b, uint32_t seg)
{
	return mail_xasprintf("%s/seg/%08u", b->dir, seg);
}

static char *
shard_path(const struct mail_blobs *b, unsigned shard)
{
	return mail_xasprintf("%s/idx/%02x", b->dir, shard);
}

int
mail_blobs_create(const struct mail_fs *fs, const char *dir,
    struct mail_err *err)
{
	char *seg = mail_xasprintf("%s/seg", dir);
	char *idx = mail_xasprintf("%s/idx", dir);
	int ret = -1;

	if (mail_fs_mkdir(fs, dir, false, err) == 0 &&
	    mail_fs_mkdir(fs, seg, false, err) == 0 &&
	    mail_fs_mkdir(fs, idx, false, err) == 0 &&
	    mail_fs_fsync_dir(fs, dir, err) == 0)
		ret = 0;
	free(seg);
	free(idx);
	return ret;
}

int
mail_blobs_open(const struct mail_fs *fs, const char *dir, int level,
    struct mail_blobs **blobs_r, struct mail_err *err)
{
	struct mail_blobs *b;
	struct stat st;
	char *idx = mail_xasprintf("%s/idx", dir);

	if (stat(idx, &st) < 0) {
		mail_err_sys(err, errno, "blob store '%s'", dir);
		free(idx);
		return -1;
	}
	free(idx);
	b = mail_xcalloc(1, sizeof(*b));
	b->fs = fs;
	b->dir = mail_xstrdup(dir);
	b->level = level;
	b->lock_fd = -1;
	b->seg_fd = -1;
	b->rd_fd = -1;
	*blobs_r = b;
	return 0;
}

static void
shards_forget(struct mail_blobs *b)
{
	for (size_t i = 0; i < 256; i++) {
		free(b->shards[i].v);
		memset(&b->shards[i], 0, sizeof(b->shards[i]));
	}
}

void
mail_blobs_close(struct mail_blobs **blobsp)
{
	struct mail_blobs *b = *blobsp;

	if (b == NULL)
		return;
	if (b->lock_fd != -1)
		mail_blobs_abort(b);
	mail_fs_close(b->fs, &b->rd_fd);
	shards_forget(b);
	free(b->dir);
	free(b);
	*blobsp = NULL;
}

static void
idx_encode(const struct idx_ent *e, uint8_t out[IDX_REC])
{
	memcpy(out, e->hash.b, 16);
	mail_put_le32(out + 16, e->seg);
	mail_put_le32(out + 20, e->flags);
	mail_put_le64(out + 24, e->off);
	mail_put_le64(out + 32, e->stored);
	mail_put_le64(out + 40, e->raw);
	mail_put_le64(out + 48, XXH3_64bits(out, 48));
}

/* Load shard i from disk. Torn or damaged records are skipped: the body
 * they describe is either unreferenced or found again by reindex. */
static int
shard_load(struct mail_blobs *b, unsigned i, struct mail_err *err)
{
	struct shard *s = &b->shards[i];
	struct mail_buf buf = MAIL_BUF_INIT;
	char *path = shard_path(b, i);
	struct stat st;
	int fd = -1, ret = -1;
	ssize_t r;

	/* Shards only grow by whole records (a torn one is cut before the
	 * next append), so a reload reads just what was added since; a
	 * shorter file was rewritten (reindex) and is read again whole. */
	if ((fd = mail_fs_open(b->fs, path, O_RDONLY, 0, err)) < 0) {
		if (err->code != MAIL_ERR_NOTFOUND)
			goto out;
		mail_err_clear(err);
		s->n = s->n_disk = 0;
		s->bytes = 0;
		s->loaded = true;
		ret = 0;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		mail_err_sys(err, errno, "stat '%s'", path);
		goto out;
	}
	if (!s->loaded || (uint64_t)st.st_size < s->bytes) {
		s->n = 0;
		s->bytes = 0;
	} else {
		s->n = s->n_disk;
	}
	if ((uint64_t)st.st_size > s->bytes) {
		size_t want = (size_t)((uint64_t)st.st_size - s->bytes);

		mail_buf_reserve(&buf, want);
		r = mail_fs_pread_full(b->fs, fd, buf.data, want,
		    (off_t)s->bytes, path, err);
		if (r < 0)
			goto out;
		buf.len = (size_t)r;
	}
	for (size_t off = 0; off + IDX_REC <= buf.len; off += IDX_REC) {
		const uint8_t *p = buf.data + off;
		struct idx_ent *e;

		s->bytes += IDX_REC;
		if (XXH3_64bits(p, 48) != mail_get_le64(p + 48))
			continue;
		s->v = mail_xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v));
		e = &s->v[s->n++];
		memcpy(e->hash.b, p, 16);
		e->seg = mail_get_le32(p + 16);
		e->flags = mail_get_le32(p + 20);
		e->off = mail_get_le64(p + 24);
		e->stored = mail_get_le64(p + 32);
		e->raw = mail_get_le64(p + 40);
	}
	s->n_disk = s->n;
	s->loaded = true;
	ret = 0;
out:
	mail_fs_close(b->fs, &fd);
	mail_buf_free(&buf);
	free(path);
	return ret;
}

static const struct idx_ent *
shard_find(const struct shard *s, const struct mail_guid *h)
{
	for (size_t i = s->n; i > 0; i--) {
		if (mail_guid_cmp(&s->v[i - 1].hash, h) == 0)
			return &s->v[i - 1];
	}
	return NULL;
}

/* Find h, reloading the shard once if it is not in the cached copy
 * (another process may have added it). */
static int
blob_lookup(struct mail_blobs *b, const struct mail_guid *h,
    struct idx_ent *e_r, struct mail_err *err)
{
	struct shard *s = &b->shards[h->b[0]];
	const struct idx_ent *e;

	/* in a batch, the cache must hold what the file holds now, under
	 * our lock (shard_flush relies on it); the reload reads only what
	 * was appended since */
	if (!s->loaded || (b->lock_fd != -1 && s->gen != b->lock_gen)) {
		if (shard_load(b, h->b[0], err) < 0)
			return -1;
		s->gen = b->lock_gen;
	}
	if ((e = shard_find(s, h)) == NULL && b->lock_fd == -1) {
		if (shard_load(b, h->b[0], err) < 0)
			return -1;
		e = shard_find(s, h);
	}
	if (e == NULL)
		return 0;
	*e_r = *e;
	return 1;
}

int
mail_blobs_has(struct mail_blobs *b, const struct mail_guid *h,
    struct mail_err *err)
{
	struct idx_ent e;

	return blob_lookup(b, h, &e, err);
}

/* Open e's segment (kept open for the next read) and check e's blob
 * header. With more, the same read also takes up to more_len bytes of
 * the stored body (*more_r: how many). Returns the fd, or -1 with err. */
static int
blob_open_at(struct mail_blobs *b, const struct idx_ent *e, const char *path,
    uint8_t *more, size_t more_len, size_t *more_r, struct mail_err *err)
{
	uint8_t hdr[BLOB_HDR + 8192];
	ssize_t r;

	if (e->raw > MAIL_BLOB_MAX_SIZE || e->stored > MAIL_BLOB_MAX_SIZE)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "blob index entry for '%s' has impossible size", path);
	if (b->rd_fd == -1 || b->rd_seg != e->seg) {
		mail_fs_close(b->fs, &b->rd_fd);
		if ((b->rd_fd = mail_fs_open(b->fs, path, O_RDONLY, 0,
		    err)) < 0)
			return -1;
		b->rd_seg = e->seg;
	}
	mail_assert(more_len <= sizeof(hdr) - BLOB_HDR);
	if (more_len > e->stored)
		more_len = (size_t)e->stored;
	r = mail_fs_pread_full(b->fs, b->rd_fd, hdr, BLOB_HDR + more_len,
	    (off_t)e->off, path, err);
	if (r < 0)
		return -1;
	if (r < BLOB_HDR || memcmp(hdr, "BLOB", 4) != 0 ||
	    XXH3_64bits(hdr, 40) != mail_get_le64(hdr + 40) ||
	    memcmp(hdr + 8, e->hash.b, 16) != 0 ||
	    mail_get_le64(hdr + 32) != e->stored ||
	    mail_get_le64(hdr + 24) != e->raw)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "damaged blob header in '%s' at offset %llu", path,
		    (unsigned long long)e->off);
	if (more != NULL) {
		*more_r = (size_t)r - BLOB_HDR;
		memcpy(more, hdr + BLOB_HDR, *more_r);
	}
	return b->rd_fd;
}

static int
blob_read_at(struct mail_blobs *b, const struct idx_ent *e,
    struct mail_buf *out, struct mail_err *err)
{
	char *path = seg_path(b, e->seg);
	uint8_t *stored = NULL;
	struct mail_guid got;
	size_t start = out->len;
	int fd, ret = -1;
	ssize_t r;

	if ((fd = blob_open_at(b, e, path, NULL, 0, NULL, err)) < 0)
		goto out;
	if (e->flags & BLOB_ZLIB) {
		uLongf dlen = (uLongf)e->raw;

		stored = mail_xmalloc((size_t)e->stored);
		r = mail_fs_pread_full(b->fs, fd, stored, (size_t)e->stored,
		    (off_t)(e->off + BLOB_HDR), path, err);
		if (r < 0)
			goto out;
		mail_buf_reserve(out, (size_t)e->raw);
		if ((uint64_t)r != e->stored ||
		    uncompress(out->data + start, &dlen, stored,
		    (uLong)e->stored) != Z_OK || dlen != e->raw) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "damaged compressed blob in '%s' at offset %llu",
			    path, (unsigned long long)e->off);
			goto out;
		}
	} else {
		mail_buf_reserve(out, (size_t)e->raw);
		r = mail_fs_pread_full(b->fs, fd, out->data + start,
		    (size_t)e->raw, (off_t)(e->off + BLOB_HDR), path, err);
		if (r < 0)
			goto out;
		if ((uint64_t)r != e->raw) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "truncated blob in '%s' at offset %llu", path,
			    (unsigned long long)e->off);
			goto out;
		}
	}
	mail_guid_hash(out->data + start, (size_t)e->raw, &got);
	if (mail_guid_cmp(&got, &e->hash) != 0) {
		mail_err_set(err, MAIL_ERR_CORRUPT,
		    "blob in '%s' at offset %llu does not match its hash", path,
		    (unsigned long long)e->off);
		goto out;
	}
	out->len = start + (size_t)e->raw;
	out->data[out->len] = '\0';
	ret = 0;
out:
	if (ret < 0 && out->data != NULL)
		mail_buf_truncate(out, start);
	free(stored);
	free(path);
	return ret;
}

/* Where the header section of msg[0..len) ends: just after its empty
 * line, or 0 if none is in the bytes so far. */
static size_t
header_end(const uint8_t *msg, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 2;
		if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

#define HEADER_CHUNK	8192

/* Read e's raw bytes in chunks until out (from start) holds the whole
 * header section, or all of the message. */
static int
blob_read_header_at(struct mail_blobs *b, const struct idx_ent *e,
    struct mail_buf *out, size_t start, struct mail_err *err)
{
	char *path = seg_path(b, e->seg);
	uint8_t in[HEADER_CHUNK];
	uint64_t in_off = 0, limit = (e->flags & BLOB_ZLIB) ? e->stored :
	    e->raw;
	z_stream z;
	bool zlib = (e->flags & BLOB_ZLIB) != 0, zinit = false;
	size_t end = 0, got;
	int fd, ret = -1, zr = Z_OK;
	ssize_t r;

	memset(&z, 0, sizeof(z));
	/* the first chunk comes with the blob header: one read for most
	 * messages */
	if ((fd = blob_open_at(b, e, path, in, sizeof(in), &got, err)) < 0)
		goto out;
	if (zlib) {
		if (inflateInit(&z) != Z_OK) {
			mail_err_set(err, MAIL_ERR_INTERNAL, "inflateInit");
			goto out;
		}
		zinit = true;
	}
	for (;;) {
		in_off += got;
		if (!zlib) {
			mail_buf_append(out, in, got);
		} else {
			z.next_in = in;
			z.avail_in = (uInt)got;
			while (z.avail_in > 0 && zr != Z_STREAM_END) {
				mail_buf_reserve(out, HEADER_CHUNK * 4);
				z.next_out = out->data + out->len;
				z.avail_out = HEADER_CHUNK * 4;
				zr = inflate(&z, Z_NO_FLUSH);
				if (zr != Z_OK && zr != Z_STREAM_END) {
					mail_err_set(err, MAIL_ERR_CORRUPT,
					    "damaged compressed blob in '%s' "
					    "at offset %llu", path,
					    (unsigned long long)e->off);
					goto out;
				}
				out->len += HEADER_CHUNK * 4 - z.avail_out;
			}
		}
		end = header_end(out->data + start, out->len - start);
		if (end > 0 || in_off >= limit || zr == Z_STREAM_END)
			break;
		got = limit - in_off < sizeof(in) ? (size_t)(limit - in_off) :
		    sizeof(in);
		r = mail_fs_pread_full(b->fs, fd, in, got,
		    (off_t)(e->off + BLOB_HDR + in_off), path, err);
		if (r < 0)
			goto out;
		if ((size_t)r != got) {
			mail_err_set(err, MAIL_ERR_CORRUPT, "truncated blob in "
			    "'%s' at offset %llu", path,
			    (unsigned long long)e->off);
			goto out;
		}
	}
	if (end > 0)
		out->len = start + end;
	mail_buf_reserve(out, 1);
	out->data[out->len] = '\0';
	ret = 0;
out:
	if (zinit)
		inflateEnd(&z);
	if (ret < 0 && out->data != NULL)
		mail_buf_truncate(out, start);
	free(path);
	return ret;
}

/* The index entry of h; MAIL_ERR_NOTFOUND when the store lacks it. */
static int
blob_find(struct mail_blobs *b, const struct mail_guid *h,
    struct idx_ent *e_r, struct mail_err *err)
{
	char hex[MAIL_GUID_HEX];
	int r = blob_lookup(b, h, e_r, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return mail_err_set(err, MAIL_ERR_NOTFOUND,
		    "message body '%s' is missing from the blob store",
		    mail_guid_to_hex(h, hex));
	return 0;
}

int
mail_blobs_get(struct mail_blobs *b, const struct mail_guid *h,
    struct mail_buf *out, struct mail_err *err)
{
	struct idx_ent e;

	if (blob_find(b, h, &e, err) < 0)
		return -1;
	return blob_read_at(b, &e, out, err);
}

int
mail_blobs_get_header(struct mail_blobs *b, const struct mail_guid *h,
    struct mail_buf *out, struct mail_err *err)
{
	struct idx_ent e;

	if (blob_find(b, h, &e, err) < 0)
		return -1;
	return blob_read_header_at(b, &e, out, out->len, err);
}

/* Highest existing segment number, or 0 if none. */
static int
last_segment(struct mail_blobs *b, uint32_t *seg_r, struct mail_err *err)
{
	char *dir = mail_xasprintf("%s/seg", b->dir);
	DIR *d = opendir(dir);
	struct dirent *de;

	*seg_r = 0;
	if (d == NULL) {
		mail_err_sys(err, errno, "opendir '%s'", dir);
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long v = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] != '.' && *end == '\0' && v <= UINT32_MAX &&
		    v > *seg_r)
			*seg_r = (uint32_t)v;
	}
	closedir(d);
	free(dir);
	return 0;
}

int
mail_blobs_begin(struct mail_blobs *b, int timeout_ms, struct mail_err *err)
{
	char *path = mail_xasprintf("%s/lock", b->dir);

	mail_assert(b->lock_fd == -1);
	if (mail_fs_lock(b->fs, path, timeout_ms, &b->lock_fd, err) < 0)
		goto fail;
	free(path);
	/* others may have written since we cached: each shard this batch
	 * touches is read again (incrementally) first */
	b->lock_gen++;
	b->seg_fd = -1;
	b->seg_dirty = false;
	if (last_segment(b, &b->seg, err) < 0) {
		mail_blobs_abort(b);
		return -1;
	}
	if (b->seg == 0)
		b->seg = 1;
	return 0;
fail:
	mail_fs_close(b->fs, &b->lock_fd);
	free(path);
	return -1;
}

/* fsync the directory dir/name. */
static int
blobs_fsync_subdir(struct mail_blobs *b, const char *name,
    struct mail_err *err)
{
	char *path = mail_xasprintf("%s/%s", b->dir, name);
	int ret = mail_fs_fsync_dir(b->fs, path, err);

	free(path);
	return ret;
}

static int
seg_open_for_append(struct mail_blobs *b, struct mail_err *err)
{
	struct stat st;
	char *path;
	int ret = -1;

	if (b->seg_fd != -1)
		return 0;
	path = seg_path(b, b->seg);
	if ((b->seg_fd = mail_fs_open(b->fs, path, O_WRONLY | O_CREAT, 0600,
	    err)) < 0)
		goto out;
	if (fstat(b->seg_fd, &st) < 0) {
		mail_err_sys(err, errno, "stat '%s'", path);
		goto out;
	}
	b->seg_size = (uint64_t)st.st_size;
	b->seg_flushed = b->seg_size;
	/* a new (or still empty) segment: make its directory entry durable
	 * before any body goes in, so that no commit can depend on an entry
	 * a crash could take away, whoever created the file */
	if (st.st_size == 0 && blobs_fsync_subdir(b, "seg", err) < 0)
		goto out;
	if (lseek(b->seg_fd, 0, SEEK_END) < 0) {
		mail_err_sys(err, errno, "seek '%s'", path);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		mail_fs_close(b->fs, &b->seg_fd);
	free(path);
	return ret;
}

/* fsync the open segment and close it. */
static int
seg_finish(struct mail_blobs *b, struct mail_err *err)
{
	char *path;
	int ret = 0;

	if (b->seg_fd == -1) {
		if (!b->seg_dirty)
			return 0;
		/* a failed put closed the segment after bodies of this
		 * batch went in: they still need their fsync */
		if (seg_open_for_append(b, err) < 0)
			return -1;
	}
	path = seg_path(b, b->seg);
	if (b->seg_dirty)
		ret = mail_fs_fsync(b->fs, b->seg_fd, path, err);
	mail_fs_close(b->fs, &b->seg_fd);
	b->seg_dirty = false;
	free(path);
	return ret;
}

int
mail_blobs_put(struct mail_blobs *b, const void *data, size_t len,
    const struct mail_guid *h, struct mail_err *err)
{
	struct shard *s = &b->shards[h->b[0]];
	struct mail_buf rec = MAIL_BUF_INIT;
	struct idx_ent e;
	uint8_t *hdr;
	char *path = NULL;
	int r, ret = -1;

	mail_assert(b->lock_fd != -1);
	if ((uint64_t)len > MAIL_BLOB_MAX_SIZE)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "message of %zu bytes is over the limit", len);
	if ((r = blob_lookup(b, h, &e, err)) < 0)
		return -1;
	if (r == 1) {
		struct mail_buf old = MAIL_BUF_INIT;

		/* XXH3 is fast, not collision resistant: never let a
		 * crafted body alias another one */
		if (blob_read_at(b, &e, &old, err) < 0) {
			mail_buf_free(&old);
			if (err->code != MAIL_ERR_CORRUPT)
				return -1;
			/* the old copy is damaged: store a good one */
		} else {
			ret = old.len == len && memcmp(old.data, data, len) == 0 ?
			    0 : mail_err_set(err, MAIL_ERR_CORRUPT,
			    "body hash collision refused");
			mail_buf_free(&old);
			return ret;
		}
	}
	if (b->seg_size >= MAIL_BLOB_SEGMENT_MAX && b->seg_fd != -1) {
		if (seg_finish(b, err) < 0)
			return -1;
		b->seg++;
	}
	if (seg_open_for_append(b, err) < 0)
		return -1;
	if (b->seg_size >= MAIL_BLOB_SEGMENT_MAX) {
		if (seg_finish(b, err) < 0)
			return -1;
		b->seg++;
		if (seg_open_for_append(b, err) < 0)
			return -1;
	}
	memset(&e, 0, sizeof(e));
	e.hash = *h;
	e.seg = b->seg;
	e.off = b->seg_size;
	e.raw = len;
	mail_buf_reserve(&rec, BLOB_HDR + len);
	rec.len = BLOB_HDR;
	if (b->level > 0 && len > 512) {
		uLongf clen = compressBound((uLong)len);

		mail_buf_reserve(&rec, clen);
		if (compress2(rec.data + BLOB_HDR, &clen, data, (uLong)len,
		    b->level) == Z_OK && clen < len - len / 10) {
			e.flags |= BLOB_ZLIB;
			rec.len += clen;
		}
	}
	if ((e.flags & BLOB_ZLIB) == 0)
		mail_buf_append(&rec, data, len);
	e.stored = rec.len - BLOB_HDR;
	hdr = rec.data;
	memcpy(hdr, "BLOB", 4);
	mail_put_le32(hdr + 4, e.flags);
	memcpy(hdr + 8, h->b, 16);
	mail_put_le64(hdr + 24, e.raw);
	mail_put_le64(hdr + 32, e.stored);
	mail_put_le64(hdr + 40, XXH3_64bits(hdr, 40));
	path = seg_path(b, b->seg);
	if (mail_fs_write_full(b->fs, b->seg_fd, rec.data, rec.len, path,
	    err) < 0) {
		/* give back what a partial record took (a full disk must not
		 * stay full of garbage); if even that fails, readers skip
		 * it, and the next writer appends after it */
		(void)b->fs->ops->ftruncate(b->fs->ctx, b->seg_fd,
		    (off_t)b->seg_size);
		mail_fs_close(b->fs, &b->seg_fd);
		goto out;
	}
	b->seg_size += rec.len;
	b->seg_dirty = true;
	/* A big batch (a sync, an import) would leave all its bytes to the
	 * commit's fsync; starting writeback as it goes lets the disk work
	 * while we receive the next bodies. */
	if (b->fs->ops->writeback != NULL &&
	    b->seg_size - b->seg_flushed >= BLOB_WRITEBACK_BYTES) {
		b->fs->ops->writeback(b->fs->ctx, b->seg_fd,
		    (off_t)b->seg_flushed,
		    (off_t)(b->seg_size - b->seg_flushed));
		b->seg_flushed = b->seg_size;
	}
	/* in the cached shard now; on disk at commit */
	s->v = mail_xgrow(s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = e;
	s->dirty = true;
	ret = 0;
out:
	free(path);
	mail_buf_free(&rec);
	return ret;
}

/* Append shard i's entries added in this batch. Entries written by us are
 * the tail of the cached array past what is on disk. */
static int
shard_flush(struct mail_blobs *b, unsigned i, struct mail_err *err)
{
	struct shard *s = &b->shards[i];
	char *path = shard_path(b, i);
	struct mail_buf buf = MAIL_BUF_INIT;
	struct stat st;
	off_t whole;
	int fd = -1, ret = -1;

	if ((fd = mail_fs_open(b->fs, path, O_RDWR | O_CREAT, 0600, err)) < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		mail_err_sys(err, errno, "stat '%s'", path);
		goto out;
	}
	/* a new shard: its directory entry first (see seg_open_for_append) */
	if (st.st_size == 0 && blobs_fsync_subdir(b, "idx", err) < 0)
		goto out;
	/* the cache was loaded under this lock, so the file holds exactly
	 * the records it read (n_disk of them valid), plus maybe a torn
	 * record to drop */
	whole = st.st_size - st.st_size % IDX_REC;
	if (whole != st.st_size &&
	    mail_fs_ftruncate(b->fs, fd, whole, path, err) < 0)
		goto out;
	for (size_t k = s->n_disk; k < s->n; k++) {
		uint8_t rec[IDX_REC];

		idx_encode(&s->v[k], rec);
		mail_buf_append(&buf, rec, sizeof(rec));
	}
	if (lseek(fd, 0, SEEK_END) < 0) {
		mail_err_sys(err, errno, "seek '%s'", path);
		goto out;
	}
	if (mail_fs_write_full(b->fs, fd, buf.data, buf.len, path, err) < 0 ||
	    mail_fs_fsync(b->fs, fd, path, err) < 0)
		goto out;
	s->n_disk = s->n;
	s->bytes = (uint64_t)whole + buf.len;
	s->dirty = false;
	ret = 0;
out:
	mail_fs_close(b->fs, &fd);
	mail_buf_free(&buf);
	free(path);
	return ret;
}

int
mail_blobs_commit(struct mail_blobs *b, struct mail_err *err)
{
	int ret = -1;

	mail_assert(b->lock_fd != -1);
	if (seg_finish(b, err) < 0)
		goto out;
	for (unsigned i = 0; i < 256; i++) {
		if (b->shards[i].dirty && shard_flush(b, i, err) < 0)
			goto out;
	}
	ret = 0;
out:
	mail_blobs_abort(b);
	return ret;
}

void
mail_blobs_abort(struct mail_blobs *b)
{
	mail_fs_close(b->fs, &b->seg_fd);
	mail_fs_close(b->fs, &b->lock_fd);	/* releases the flock */
	/* a shard with entries that never reached the disk is forgotten
	 * (read again when next used); the others stay cached, so that a
	 * commit does not cost every later lookup a reload */
	for (size_t i = 0; i < 256; i++) {
		if (b->shards[i].dirty) {
			free(b->shards[i].v);
			memset(&b->shards[i], 0, sizeof(b->shards[i]));
		}
	}
}

/* Is there a whole, intact body record at h (avail bytes)? Reindex must
 * not trust a header alone: a crash can cut the body after it, and its
 * stored length would then skip over the records appended later. */
static bool
blob_rec_intact(const uint8_t *h, size_t avail)
{
	struct mail_guid got;
	uint64_t raw, stored;

	if (avail < BLOB_HDR || memcmp(h, "BLOB", 4) != 0 ||
	    XXH3_64bits(h, 40) != mail_get_le64(h + 40))
		return false;
	raw = mail_get_le64(h + 24);
	stored = mail_get_le64(h + 32);
	if (stored > avail - BLOB_HDR || raw > MAIL_BLOB_MAX_SIZE)
		return false;
	if ((mail_get_le32(h + 4) & BLOB_ZLIB) == 0) {
		if (raw != stored)
			return false;
		mail_guid_hash(h + BLOB_HDR, (size_t)raw, &got);
	} else {
		uint8_t *out = mail_xmalloc((size_t)raw);
		uLongf dlen = (uLongf)raw;
		bool ok = uncompress(out, &dlen, h + BLOB_HDR,
		    (uLong)stored) == Z_OK && dlen == raw;

		if (ok)
			mail_guid_hash(out, (size_t)raw, &got);
		free(out);
		if (!ok)
			return false;
	}
	return memcmp(got.b, h + 8, 16) == 0;
}

int
mail_blobs_reindex(struct mail_blobs *b, uint64_t *n_r, struct mail_err *err)
{
	uint32_t last;
	int ret = -1;

	*n_r = 0;
	if (mail_blobs_begin(b, 30000, err) < 0)
		return -1;
	last = b->seg;
	for (unsigned i = 0; i < 256; i++)
		b->shards[i].loaded = true;	/* start empty */
	for (uint32_t seg = 1; seg <= last; seg++) {
		char *path = seg_path(b, seg);
		struct mail_buf buf = MAIL_BUF_INIT;
		size_t off = 0;

		if (mail_fs_read_file(b->fs, path, &buf, SIZE_MAX / 2,
		    err) < 0) {
			free(path);
			mail_buf_free(&buf);
			if (err->code == MAIL_ERR_NOTFOUND) {
				mail_err_clear(err);
				continue;
			}
			goto out;
		}
		while (off + BLOB_HDR <= buf.len) {
			const uint8_t *h = buf.data + off;
			struct idx_ent e;

			if (!blob_rec_intact(h, buf.len - off)) {
				/* a record torn by a crashed writer, which
				 * later batches appended after: look for the
				 * next record rather than stop, or the only
				 * trace of those bodies is lost */
				const uint8_t *next = memmem(h + 1,
				    buf.len - off - 1, "BLOB", 4);

				if (next == NULL)
					break;
				off = (size_t)(next - buf.data);
				continue;
			}
			memset(&e, 0, sizeof(e));
			memcpy(e.hash.b, h + 8, 16);
			e.seg = seg;
			e.flags = mail_get_le32(h + 4);
			e.off = off;
			e.raw = mail_get_le64(h + 24);
			e.stored = mail_get_le64(h + 32);
			{
				struct shard *s = &b->shards[e.hash.b[0]];

				s->v = mail_xgrow(s->v, &s->cap, s->n + 1,
				    sizeof(*s->v));
				s->v[s->n++] = e;
			}
			(*n_r)++;
			off += BLOB_HDR + (size_t)e.stored;
		}
		mail_buf_free(&buf);
		free(path);
	}
	for (unsigned i = 0; i < 256; i++) {
		char *path = shard_path(b, i);
		struct mail_buf out = MAIL_BUF_INIT;
		int r;

		for (size_t k = 0; k < b->shards[i].n; k++) {
			uint8_t rec[IDX_REC];

			idx_encode(&b->shards[i].v[k], rec);
			mail_buf_append(&out, rec, sizeof(rec));
		}
		r = mail_fs_write_atomic(b->fs, path, out.data, out.len, true,
		    err);
		mail_buf_free(&out);
		free(path);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	mail_blobs_abort(b);
	return ret;
}
