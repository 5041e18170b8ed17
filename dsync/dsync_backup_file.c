/*
 * dsync_backup_file.c: writing and reading backup files. The reader
 * trusts nothing: a frame is used only after its checksum matched, a
 * length only after the limit check, and the index only after the
 * trailer that points at it was found intact.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsync_backup.h"

#define WRITE_CHUNK	(1024 * 1024)
#define READ_CHUNK	(1024 * 1024)
#define INDEX_FRAME	(1024 * 1024)
#define SCAN_FRAME_MAX	4096	/* a USER frame is smaller than this */

/* ---- sets of hashes ---- */

/* A set of body hashes (open addressing; hashes are uniform already). */
static size_t
guid_slot(const struct dsync_guid_set *s, const struct mail_guid *g)
{
	size_t i = (size_t)mail_get_le64(g->b) & (s->cap - 1);

	while (s->used[i] && mail_guid_cmp(&s->v[i], g) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

bool
dsync_guid_set_has(const struct dsync_guid_set *s, const struct mail_guid *g)
{
	return s->cap > 0 && s->used[guid_slot(s, g)];
}

/* Add g; false if it was there. */
bool
dsync_guid_set_add(struct dsync_guid_set *s, const struct mail_guid *g)
{
	size_t i;

	if (s->n * 2 >= s->cap) {
		struct dsync_guid_set t = { NULL, NULL, 0, s->cap ? s->cap * 2 : 1024 };

		t.v = mail_xcalloc(t.cap, sizeof(*t.v));
		t.used = mail_xcalloc(t.cap, sizeof(*t.used));
		for (size_t k = 0; k < s->cap; k++) {
			if (s->used[k])
				(void)dsync_guid_set_add(&t, &s->v[k]);
		}
		free(s->v);
		free(s->used);
		*s = t;
	}
	i = guid_slot(s, g);
	if (s->used[i])
		return false;
	s->used[i] = true;
	s->v[i] = *g;
	s->n++;
	return true;
}

void
dsync_guid_set_free(struct dsync_guid_set *s)
{
	free(s->v);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* ---- writing ---- */

static int
write_all(int fd, const uint8_t *p, size_t n, const char *label,
    struct mail_err *err)
{
	while (n > 0) {
		ssize_t got = write(fd, p, n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return mail_err_sys(err, errno, "write to %s", label);
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int
writer_flush(struct dsync_bk_writer *w, struct mail_err *err)
{
	int ret = write_all(w->fd, w->out.data, w->out.len, w->label, err);

	mail_buf_reset(&w->out);
	return ret;
}

void
dsync_bk_writer_init(struct dsync_bk_writer *w, int fd, const char *label)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->label = label;
	mail_buf_append(&w->out, WIRE_BACKUP_MAGIC, WIRE_BACKUP_MAGIC_LEN);
	w->off = WIRE_BACKUP_MAGIC_LEN;
}

int
dsync_bk_write(struct dsync_bk_writer *w, uint8_t type, const void *payload,
    size_t len, uint64_t *off_r, struct mail_err *err)
{
	mail_buf_reset(&w->frame);
	wire_frame_encode(&w->frame, type, payload, len);
	wire_backup_digest_add(&w->digest, w->frame.data, w->frame.len);
	if (off_r != NULL)
		*off_r = w->off;
	w->off += w->frame.len;
	mail_buf_append(&w->out, w->frame.data, w->frame.len);
	return w->out.len >= WRITE_CHUNK ? writer_flush(w, err) : 0;
}

struct index_emit {
	struct dsync_bk_writer *w;
	uint64_t first_off;
	bool	 any;
};

static int
index_emit(void *ctx, const struct mail_buf *payload, struct mail_err *err)
{
	struct index_emit *ie = ctx;
	uint64_t off;

	if (dsync_bk_write(ie->w, WIRE_BK_INDEX, payload->data, payload->len,
	    &off, err) < 0)
		return -1;
	if (!ie->any)
		ie->first_off = off;
	ie->any = true;
	return 0;
}

int
dsync_bk_finish(struct dsync_bk_writer *w, const struct wire_backup_index *ix,
    struct mail_err *err)
{
	struct index_emit ie = { w, 0, false };
	struct wire_backup_trailer t;

	if (wire_backup_index_encode(ix, INDEX_FRAME, index_emit, &ie,
	    err) < 0)
		return -1;
	t.index_off = ie.first_off;
	t.n_frames = w->digest.n_frames;
	t.digest = w->digest.state;
	wire_backup_trailer_encode(&t, &w->out);
	w->off += WIRE_BACKUP_TRAILER_LEN;
	return writer_flush(w, err);
}

void
dsync_bk_writer_free(struct dsync_bk_writer *w)
{
	mail_buf_free(&w->out);
	mail_buf_free(&w->frame);
}

/* ---- reading ---- */

int
dsync_bk_err(const struct dsync_bk_file *bf, struct mail_err *err)
{
	return mail_err_prefix(err, "%s", strcmp(bf->path, "-") == 0 ?
	    "stdin" : bf->path);
}

static int
pread_all(struct dsync_bk_file *bf, void *p, size_t n, uint64_t off,
    struct mail_err *err)
{
	uint8_t *q = p;

	while (n > 0) {
		ssize_t got = pread(bf->fd, q, n, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return mail_err_sys(err, errno, "read");
		if (got == 0)
			return mail_err_set(err, MAIL_ERR_CORRUPT,
			    "offset %llu: unexpected end of file",
			    (unsigned long long)off);
		q += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

/* Read more bytes into the buffer (at least want more, if there are). */
static int
fill(struct dsync_bk_file *bf, size_t want, struct mail_err *err)
{
	size_t room;

	if (bf->pos > 0) {
		mail_buf_consume(&bf->buf, bf->pos);
		bf->buf_off += bf->pos;
		bf->pos = 0;
	}
	room = want > READ_CHUNK ? want : READ_CHUNK;
	mail_buf_reserve(&bf->buf, room);
	while (room > 0) {
		ssize_t got = read(bf->fd, bf->buf.data + bf->buf.len, room);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return mail_err_sys(err, errno, "read");
		if (got == 0) {
			bf->eof = true;
			break;
		}
		bf->buf.len += (size_t)got;
		room -= (size_t)got;
		if ((size_t)got >= want)
			break;
		want -= (size_t)got;
	}
	return 0;
}

int
dsync_bk_next(struct dsync_bk_file *bf, struct wire_frame *f, uint64_t *off_r,
    struct mail_err *err)
{
	for (;;) {
		ssize_t got = wire_frame_decode(bf->buf.data + bf->pos,
		    bf->buf.len - bf->pos, WIRE_BACKUP_FRAME_MAX, f, err);
		uint64_t off = bf->buf_off + bf->pos;

		if (off_r != NULL)	/* also on errors: where it is */
			*off_r = off;
		if (got > 0) {
			if (bf->digest_ok)
				wire_backup_digest_add(&bf->digest,
				    bf->buf.data + bf->pos, (size_t)got);
			bf->pos += (size_t)got;
			return 1;
		}
		if (got < 0) {
			err->code = MAIL_ERR_CORRUPT;
			mail_err_prefix(err, "offset %llu",
			    (unsigned long long)off);
			return dsync_bk_err(bf, err);
		}
		if (bf->eof) {
			if (bf->pos == bf->buf.len)
				return 0;
			mail_err_set(err, MAIL_ERR_CORRUPT, "offset %llu: "
			    "truncated (the file ends inside a frame)",
			    (unsigned long long)off);
			return dsync_bk_err(bf, err);
		}
		if (fill(bf, 64 * 1024, err) < 0)
			return dsync_bk_err(bf, err);
	}
}

int
dsync_bk_seek(struct dsync_bk_file *bf, uint64_t off, struct mail_err *err)
{
	if (!bf->seekable)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "%s: can not seek in a pipe", bf->path);
	if (lseek(bf->fd, (off_t)off, SEEK_SET) < 0)
		return mail_err_sys(err, errno, "%s: seek", bf->path);
	mail_buf_reset(&bf->buf);
	bf->pos = 0;
	bf->buf_off = off;
	bf->eof = false;
	bf->digest_ok = false;
	return 0;
}

/* Is there a good frame at off? (max: the biggest one accepted) */
static bool
frame_at(struct dsync_bk_file *bf, uint64_t off, size_t max, bool user_only)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	struct mail_err err;
	uint8_t hdr[10];
	size_t n = sizeof(hdr);
	uint64_t len = 0;
	ssize_t got;
	bool ok = false;

	if (off >= bf->size)
		return false;
	if (bf->size - off < n)
		n = (size_t)(bf->size - off);
	if (pread_all(bf, hdr, n, off, &err) < 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		len |= (uint64_t)(hdr[i] & 0x7f) << (7 * i);
		if ((hdr[i] & 0x80) == 0) {
			len += i + 1 + 8;
			break;
		}
		if (i == n - 1)
			return false;
	}
	if (len > max + 18 || len > bf->size - off)
		return false;
	mail_buf_reserve(&b, (size_t)len);
	if (pread_all(bf, b.data, (size_t)len, off, &err) == 0) {
		got = wire_frame_decode(b.data, (size_t)len, max, &f, &err);
		ok = got > 0 && wire_backup_type_name(f.type) != NULL &&
		    (!user_only || f.type == WIRE_BK_USER);
	}
	mail_buf_free(&b);
	return ok;
}

int
dsync_bk_resync(struct dsync_bk_file *bf, uint64_t off)
{
	struct mail_err err;
	uint64_t best = UINT64_MAX;
	uint8_t *win;

	if (!bf->seekable)
		return 0;
	/* a damaged payload with an intact length: the next frame is
	 * right behind it */
	if (off < bf->size) {
		uint8_t hdr[10];
		size_t n = bf->size - off < sizeof(hdr) ?
		    (size_t)(bf->size - off) : sizeof(hdr), i;
		uint64_t len = 0;

		if (pread_all(bf, hdr, n, off, &err) < 0)
			n = 0;
		for (i = 0; i < n; i++) {
			len |= (uint64_t)(hdr[i] & 0x7f) << (7 * i);
			if ((hdr[i] & 0x80) == 0)
				break;
		}
		if (i < n && len <= WIRE_BACKUP_FRAME_MAX &&
		    frame_at(bf, off + i + 1 + len + 8,
		    WIRE_BACKUP_FRAME_MAX, false))
			best = off + i + 1 + len + 8;
	}
	/* else the next place the index knows */
	if (best == UINT64_MAX && bf->has_index) {
		const struct wire_backup_index *ix = &bf->ix;

		for (size_t i = 0; i < ix->n_users; i++) {
			const uint64_t o[3] = { ix->users[i].user_off,
			    ix->users[i].changes_off, ix->users[i].end_off };

			for (int k = 0; k < 3; k++) {
				if (o[k] > off && o[k] < best)
					best = o[k];
			}
		}
		for (size_t i = 0; i < ix->n_bodies; i++) {
			uint64_t o = ix->bodies[i].block_off;

			if (o > off && o < best)
				best = o;
		}
		if (bf->trailer.index_off > off && bf->trailer.index_off < best)
			best = bf->trailer.index_off;
		if (best != UINT64_MAX && !frame_at(bf, best,
		    WIRE_BACKUP_FRAME_MAX, false))
			best = UINT64_MAX;
	}
	/* else the next user's section, byte by byte */
	win = mail_xmalloc(READ_CHUNK + SCAN_FRAME_MAX);
	for (uint64_t at = off + 1; best == UINT64_MAX && at < bf->size;
	    at += READ_CHUNK) {
		size_t n = bf->size - at < READ_CHUNK + SCAN_FRAME_MAX ?
		    (size_t)(bf->size - at) : READ_CHUNK + SCAN_FRAME_MAX;

		if (pread_all(bf, win, n, at, &err) < 0)
			break;
		for (size_t i = 0; i + 2 < n && i < READ_CHUNK; i++) {
			/* a USER frame: a small length, then its type */
			if (win[i] < 0x80 && win[i + 1] == WIRE_BK_USER &&
			    frame_at(bf, at + i, SCAN_FRAME_MAX, true)) {
				best = at + i;
				break;
			}
		}
	}
	free(win);
	if (best == UINT64_MAX || dsync_bk_seek(bf, best, &err) < 0)
		return 0;
	return 1;
}

/* The trailer and the index of a complete file. */
static int
load_index(struct dsync_bk_file *bf, struct mail_err *err)
{
	uint8_t tr[WIRE_BACKUP_TRAILER_LEN];
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t end;
	size_t pos = 0;
	int ret = -1;

	if (bf->size < WIRE_BACKUP_MAGIC_LEN + WIRE_BACKUP_TRAILER_LEN)
		return mail_err_set(err, MAIL_ERR_CORRUPT, "no trailer: "
		    "the file is truncated");
	end = bf->size - WIRE_BACKUP_TRAILER_LEN;
	if (pread_all(bf, tr, sizeof(tr), end, err) < 0)
		return -1;
	if (wire_backup_trailer_decode(tr, sizeof(tr), &bf->trailer, err) < 0) {
		err->code = MAIL_ERR_CORRUPT;
		return mail_err_prefix(err, "no trailer at the end (the file "
		    "is truncated or damaged)");
	}
	if (bf->trailer.index_off < WIRE_BACKUP_MAGIC_LEN ||
	    bf->trailer.index_off >= end)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "the trailer points outside the file");
	mail_buf_reserve(&b, (size_t)(end - bf->trailer.index_off));
	if (pread_all(bf, b.data, (size_t)(end - bf->trailer.index_off),
	    bf->trailer.index_off, err) < 0)
		goto out;
	b.len = (size_t)(end - bf->trailer.index_off);
	while (pos < b.len) {
		struct wire_frame f;
		ssize_t got = wire_frame_decode(b.data + pos, b.len - pos,
		    WIRE_BACKUP_FRAME_MAX, &f, err);

		if (got <= 0 || f.type != WIRE_BK_INDEX) {
			if (got >= 0)
				mail_err_set(err, MAIL_ERR_CORRUPT,
				    "not an INDEX frame");
			err->code = MAIL_ERR_CORRUPT;
			mail_err_prefix(err, "index at offset %llu",
			    (unsigned long long)(bf->trailer.index_off + pos));
			goto out;
		}
		if (wire_backup_index_decode(f.payload, f.len, &bf->ix,
		    err) < 0) {
			err->code = MAIL_ERR_CORRUPT;
			goto out;
		}
		pos += (size_t)got;
	}
	for (size_t i = 0; i < bf->ix.n_users; i++) {
		if (bf->ix.users[i].end_off >= bf->trailer.index_off) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "index: user \"%s\" outside the file",
			    bf->ix.users[i].name);
			goto out;
		}
	}
	wire_backup_index_sort(&bf->ix);
	bf->has_index = true;
	ret = 0;
out:
	if (ret < 0)
		wire_backup_index_free(&bf->ix);
	mail_buf_free(&b);
	return ret;
}

int
dsync_bk_open(const char *path, struct dsync_bk_file **f_r,
    struct mail_err *index_err, struct mail_err *err)
{
	struct dsync_bk_file *bf = mail_xcalloc(1, sizeof(*bf));
	struct mail_err ierr;
	struct wire_frame f;
	struct stat st;
	int ret;

	bf->path = mail_xstrdup(path);
	bf->fd = strcmp(path, "-") == 0 ? dup(0) :
	    open(path, O_RDONLY | O_CLOEXEC);
	if (bf->fd < 0) {
		mail_err_sys(err, errno, "open '%s'", path);
		goto fail;
	}
	if (fstat(bf->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		bf->seekable = true;
		bf->size = (uint64_t)st.st_size;
	}
	if (fill(bf, WIRE_BACKUP_MAGIC_LEN, err) < 0)
		goto fail_named;
	if (bf->buf.len < WIRE_BACKUP_MAGIC_LEN ||
	    memcmp(bf->buf.data, WIRE_BACKUP_MAGIC,
	    WIRE_BACKUP_MAGIC_LEN) != 0) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "not a dsync backup "
		    "(it does not start with \"%s\")", WIRE_BACKUP_MAGIC);
		goto fail_named;
	}
	bf->pos = WIRE_BACKUP_MAGIC_LEN;
	bf->digest_ok = true;
	if ((ret = dsync_bk_next(bf, &f, NULL, err)) < 0)
		goto fail;
	if (ret == 0 || f.type != WIRE_BK_HEADER) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "no HEADER after the magic");
		goto fail_named;
	}
	if (wire_backup_header_decode(f.payload, f.len, &bf->hdr, err) < 0) {
		err->code = MAIL_ERR_CORRUPT;
		goto fail_named;
	}
	if (bf->seekable && load_index(bf, &ierr) < 0 && index_err != NULL)
		*index_err = ierr;
	else if (index_err != NULL && !bf->seekable)
		mail_err_set(index_err, MAIL_ERR_PARAM, "read from a pipe");
	*f_r = bf;
	return 0;
fail_named:
	dsync_bk_err(bf, err);
fail:
	dsync_bk_close(&bf);
	return -1;
}

void
dsync_bk_close(struct dsync_bk_file **fp)
{
	struct dsync_bk_file *bf = *fp;

	if (bf == NULL)
		return;
	if (bf->fd >= 0)
		close(bf->fd);
	wire_backup_header_free(&bf->hdr);
	wire_backup_index_free(&bf->ix);
	mail_buf_free(&bf->buf);
	free(bf->path);
	free(bf);
	*fp = NULL;
}
