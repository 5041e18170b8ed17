/*
 * mail_snapshot.c: writing and reading the index snapshot.
 *
 * Layout: "DSYNCIDX", u32 version, u32 sizeof(struct mail_msg), u32 byte
 * order mark, u32 zero, u64 log end, u64 log mark, then the state as
 * varints and strings (mail_buf_put_*), and an XXH3-64 at the end:
 *
 *   modseq, hlc, last uidvalidity
 *   subscriptions: count, then name, on (u8), hlc, node
 *   server metadata
 *   mailboxes (deleted ones too): count, then each: guid, name, name
 *     hlc, name node, deleted (u8), create hlc, create node, uidvalidity,
 *     uidnext, highestmodseq, special-use, its hlc and node, pvt mask,
 *     its hlc and node, keywords, unseen, size, the message array (see
 *     below), private flags (user; uid, flags, modseq, hlc, node),
 *     metadata, ACL, tombstones (guid, instance node and hlc, modseq;
 *     sorted), used UIDs (ranges as lo, hi - lo; normalized)
 *
 * A snapshot of another version is refused, and the state is rebuilt
 * from the log.
 *
 * Each mailbox's messages are one raw, 8-aligned array of struct mail_msg
 * in host layout, followed by free slots, and used in place in a private
 * mapping of the file: loading (and appending to) 100,000 messages copies
 * nothing. The host layout is fine for a cache: another layout fails the
 * header check and the snapshot is rebuilt from the log.
 *
 * The checksum covers everything but the message arrays, so opening a
 * user touches only the pages it reads: "mailbox status" of a big mailbox
 * reads its stored counters, not its messages. The arrays are protected
 * instead by writing the file durably (fsync before rename), so a crash
 * can not leave a renamed file with unwritten pages; disk damage inside
 * an array is found by "dsync check", which compares the snapshot with a
 * replay of the log. Garbage in an array can not make us misbehave:
 * every index into it is bounded by its count.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <xxhash.h>

#include "mail_snapshot.h"

#define SNAP_MAGIC	"DSYNCIDX"
#define SNAP_VERSION	7	/* 6: tombstones, used UIDs, deleted
				 * mailboxes, clocks of subscriptions,
				 * private flags, special-use, pvt mask;
				 * 7: merged_into */
#define SNAP_BOM	0x01020304u
#define SNAP_MAX	((size_t)8 * 1024 * 1024 * 1024)

/* The byte ranges of the message arrays (with their free slots), which
 * the checksum leaves out. */
struct snap_spans {
	size_t	*off, *len;
	size_t	 n, cap_off, cap_len;
};

static void
spans_add(struct snap_spans *sp, size_t off, size_t len)
{
	sp->off = mail_xgrow(sp->off, &sp->cap_off, sp->n + 1, sizeof(size_t));
	sp->len = mail_xgrow(sp->len, &sp->cap_len, sp->n + 1, sizeof(size_t));
	sp->off[sp->n] = off;
	sp->len[sp->n] = len;
	sp->n++;
}

static void
spans_free(struct snap_spans *sp)
{
	free(sp->off);
	free(sp->len);
	memset(sp, 0, sizeof(*sp));
}

/* XXH3-64 of data[0..len) without the spans (sorted, inside len). */
static uint64_t
snap_checksum(const uint8_t *data, size_t len, const struct snap_spans *sp)
{
	XXH3_state_t *h = XXH3_createState();
	size_t at = 0;
	uint64_t sum;

	mail_assert(h != NULL);
	XXH3_64bits_reset(h);
	for (size_t i = 0; i < sp->n; i++) {
		XXH3_64bits_update(h, data + at, sp->off[i] - at);
		at = sp->off[i] + sp->len[i];
	}
	XXH3_64bits_update(h, data + at, len - at);
	sum = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return sum;
}

static void
put_meta(struct mail_buf *b, const struct mail_meta *m, size_t n)
{
	mail_buf_put_varint(b, n);
	for (size_t i = 0; i < n; i++) {
		mail_buf_put_varint(b, m[i].uid);
		mail_buf_put_str(b, m[i].user);
		mail_buf_put_str(b, m[i].key);
		mail_buf_put_u8(b, m[i].has_value);
		mail_buf_put_bytes(b, m[i].value, m[i].has_value ?
		    m[i].value_len : 0);
		mail_buf_put_varint(b, m[i].modseq);
		mail_buf_put_varint(b, m[i].hlc);
		mail_buf_put_varint(b, m[i].node);
	}
}

/* Free message slots after each array: an eighth more, at least 16. */
static size_t
snapshot_slack(size_t n)
{
	return n / 8 + 16;
}

static void
put_mailbox(struct mail_buf *b, const struct mail_mailbox *mb,
    struct snap_spans *sp)
{
	/* a deleted mailbox gets messages only after an undelete, which
	 * moves its (empty) array to the heap anyway */
	size_t slack = mb->deleted ? 0 : snapshot_slack(mb->n_msgs), bytes;
	uint8_t pad;
	static const uint8_t zero[8];

	mail_buf_append(b, mb->guid.b, 16);
	mail_buf_put_str(b, mb->name);
	mail_buf_put_varint(b, mb->name_hlc);
	mail_buf_put_varint(b, mb->name_node);
	mail_buf_put_u8(b, mb->deleted ? 1 : 0);
	mail_buf_put_varint(b, mb->create_hlc);
	mail_buf_put_varint(b, mb->create_node);
	mail_buf_put_varint(b, mb->uidvalidity);
	mail_buf_put_varint(b, mb->uidnext);
	mail_buf_put_varint(b, mb->highestmodseq);
	mail_buf_put_str(b, mb->special_use);
	mail_buf_put_varint(b, mb->su_hlc);
	mail_buf_put_varint(b, mb->su_node);
	mail_buf_put_varint(b, mb->pvt_mask);
	mail_buf_put_varint(b, mb->pvt_hlc);
	mail_buf_put_varint(b, mb->pvt_node);
	mail_buf_append(b, mb->merged_into.b, sizeof(mb->merged_into.b));
	mail_buf_put_varint(b, mb->n_keywords);
	for (size_t i = 0; i < mb->n_keywords; i++)
		mail_buf_put_str(b, mb->keywords[i]);
	/* the counters "mailbox status" needs, so it never reads the
	 * array */
	mail_buf_put_varint(b, mb->n_unseen);
	mail_buf_put_varint(b, mb->total_size);
	/* the messages and free slots after them (room to append in place
	 * in the reader's private mapping: a delivery into a big mailbox
	 * copies no array, and the snapshot is rewritten long before the
	 * slots run out), 8-aligned in the file */
	mail_buf_put_varint(b, mb->n_msgs);
	mail_buf_put_varint(b, slack);
	pad = (uint8_t)((8 - (b->len + 1) % 8) % 8);
	mail_buf_put_u8(b, pad);
	mail_buf_append(b, zero, pad);
	bytes = (mb->n_msgs + slack) * sizeof(*mb->msgs);
	spans_add(sp, b->len, bytes);
	mail_buf_reserve(b, bytes);
	if (mb->n_msgs > 0)
		memcpy(b->data + b->len, mb->msgs,
		    mb->n_msgs * sizeof(*mb->msgs));
	memset(b->data + b->len + mb->n_msgs * sizeof(*mb->msgs), 0,
	    slack * sizeof(*mb->msgs));
	b->len += bytes;
	b->data[b->len] = '\0';
	mail_buf_put_varint(b, mb->n_pvt);
	for (size_t i = 0; i < mb->n_pvt; i++) {
		const struct mail_pvt_user *pu = &mb->pvt[i];

		mail_buf_put_str(b, pu->user);
		mail_buf_put_varint(b, pu->n);
		for (size_t k = 0; k < pu->n; k++) {
			mail_buf_put_varint(b, pu->v[k].uid);
			mail_buf_put_varint(b, pu->v[k].flags);
			mail_buf_put_varint(b, pu->v[k].modseq);
			mail_buf_put_varint(b, pu->v[k].hlc);
			mail_buf_put_varint(b, pu->v[k].node);
		}
	}
	put_meta(b, mb->meta, mb->n_meta);
	mail_buf_put_varint(b, mb->n_acl);
	for (size_t i = 0; i < mb->n_acl; i++) {
		mail_buf_put_str(b, mb->acl[i].identifier);
		mail_buf_put_str(b, mb->acl[i].rights);
		mail_buf_put_varint(b, mb->acl[i].hlc);
		mail_buf_put_varint(b, mb->acl[i].node);
	}
	mail_buf_put_varint(b, mb->n_tombs);
	for (size_t i = 0; i < mb->n_tombs; i++) {
		const struct mail_tomb *t = &mb->tombs[i];

		mail_buf_append(b, t->key.guid.b, 16);
		mail_buf_put_varint(b, t->key.inst_node);
		mail_buf_put_varint(b, t->key.inst_hlc);
		mail_buf_put_varint(b, t->modseq);
	}
	mail_buf_put_varint(b, mb->gone.n);
	for (size_t i = 0; i < mb->gone.n; i++) {
		mail_buf_put_varint(b, mb->gone.r[i].lo);
		mail_buf_put_varint(b, mb->gone.r[i].hi - mb->gone.r[i].lo);
	}
}

int
mail_snapshot_write(const struct mail_fs *fs, const char *path,
    const struct mail_state *st, uint64_t log_end, uint64_t log_mark,
    struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct snap_spans sp;
	int ret;

	memset(&sp, 0, sizeof(sp));
	mail_buf_append(&b, SNAP_MAGIC, 8);
	mail_buf_put_le32(&b, SNAP_VERSION);
	mail_buf_put_le32(&b, sizeof(struct mail_msg));
	mail_buf_put_le32(&b, SNAP_BOM);
	mail_buf_put_le32(&b, 0);
	mail_buf_put_le64(&b, log_end);
	mail_buf_put_le64(&b, log_mark);
	mail_buf_put_varint(&b, st->modseq);
	mail_buf_put_varint(&b, st->hlc);
	mail_buf_put_varint(&b, st->last_uidvalidity);
	mail_buf_put_varint(&b, st->n_subs);
	for (size_t i = 0; i < st->n_subs; i++) {
		mail_buf_put_str(&b, st->subs[i].name);
		mail_buf_put_u8(&b, st->subs[i].on ? 1 : 0);
		mail_buf_put_varint(&b, st->subs[i].hlc);
		mail_buf_put_varint(&b, st->subs[i].node);
	}
	put_meta(&b, st->meta, st->n_meta);
	mail_buf_put_varint(&b, st->n_mailboxes);
	for (size_t i = 0; i < st->n_mailboxes; i++)
		put_mailbox(&b, st->mailboxes[i], &sp);
	mail_buf_put_le64(&b, snap_checksum(b.data, b.len, &sp));
	/* durable: the arrays are not checksummed (see the top) */
	ret = mail_fs_write_atomic(fs, path, b.data, b.len, true, err);
	mail_buf_free(&b);
	spans_free(&sp);
	return ret;
}

/* Counts read from the file are bounded by the bytes left, so a damaged
 * count can not make us allocate more than the file could describe. */
static size_t
get_count(struct mail_reader *r, size_t min_each)
{
	uint64_t n = mail_get_varint(r);

	if (n > r->left / (min_each == 0 ? 1 : min_each)) {
		r->bad = true;
		return 0;
	}
	return (size_t)n;
}

static void
get_meta(struct mail_reader *r, struct mail_meta **arr, size_t *n_r,
    size_t *cap_r)
{
	size_t n = get_count(r, 8);

	*arr = mail_xcalloc(n, sizeof(**arr));
	*cap_r = n;
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct mail_meta *m = &(*arr)[i];
		size_t len;
		const uint8_t *v;

		m->uid = (uint32_t)mail_get_varint(r);
		m->user = mail_get_strdup(r, 255);
		m->key = mail_get_strdup(r, 4096);
		m->has_value = mail_get_u8(r) != 0;
		v = mail_get_bytes(r, SIZE_MAX, &len);
		m->modseq = mail_get_varint(r);
		m->hlc = mail_get_varint(r);
		m->node = mail_get_varint(r);
		*n_r = i + 1;
		if (m->user == NULL || m->key == NULL || v == NULL) {
			r->bad = true;
			break;
		}
		m->value = mail_xmalloc(len + 1);
		memcpy(m->value, v, len);
		m->value[len] = '\0';
		m->value_len = len;
	}
}

/* Tombstones, strictly ascending as the state keeps them (lookups are
 * binary searches). */
static void
get_tombs(struct mail_reader *r, struct mail_mailbox *mb)
{
	size_t n = get_count(r, 16 + 3);

	mb->tombs = mail_xcalloc(n, sizeof(*mb->tombs));
	mb->cap_tombs = n;
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct mail_tomb *t = &mb->tombs[i];

		mail_get_raw(r, t->key.guid.b, 16);
		t->key.inst_node = mail_get_varint(r);
		t->key.inst_hlc = mail_get_varint(r);
		t->modseq = mail_get_varint(r);
		if (i > 0 && mail_msg_key_cmp(&mb->tombs[i - 1].key,
		    &t->key) >= 0)
			r->bad = true;
		mb->n_tombs = i + 1;
	}
}

/* Used UIDs: a normalized set (ascending, disjoint, not adjacent), which
 * mail_uidset_add() relies on. */
static void
get_gone(struct mail_reader *r, struct mail_uidset *set)
{
	size_t n = get_count(r, 2);

	set->r = mail_xcalloc(n, sizeof(*set->r));
	set->cap = n;
	for (size_t i = 0; i < n && !r->bad; i++) {
		uint64_t lo = mail_get_varint(r), span = mail_get_varint(r);

		if (lo == 0 || lo > UINT32_MAX || span > UINT32_MAX - lo ||
		    (i > 0 && lo <= (uint64_t)set->r[i - 1].hi + 1)) {
			r->bad = true;
			break;
		}
		set->r[i].lo = (uint32_t)lo;
		set->r[i].hi = (uint32_t)(lo + span);
		set->n = i + 1;
	}
}

static struct mail_mailbox *
get_mailbox(struct mail_reader *r, const uint8_t *base, struct snap_spans *sp)
{
	struct mail_mailbox *mb = mail_xcalloc(1, sizeof(*mb));
	const uint8_t *arr, *zeros;
	size_t n, slack, bytes;
	uint64_t v;
	uint8_t pad;

	mail_get_raw(r, mb->guid.b, 16);
	mb->name = mail_get_strdup(r, 4096);
	mb->name_hlc = mail_get_varint(r);
	mb->name_node = mail_get_varint(r);
	v = mail_get_u8(r);
	mb->deleted = v == 1;
	if (v > 1)
		r->bad = true;
	mb->create_hlc = mail_get_varint(r);
	mb->create_node = mail_get_varint(r);
	mb->uidvalidity = (uint32_t)mail_get_varint(r);
	mb->uidnext = (uint32_t)mail_get_varint(r);
	mb->highestmodseq = mail_get_varint(r);
	mb->special_use = mail_get_strdup(r, 256);
	mb->su_hlc = mail_get_varint(r);
	mb->su_node = mail_get_varint(r);
	mb->pvt_mask = (uint16_t)mail_get_varint(r);
	mb->pvt_hlc = mail_get_varint(r);
	mb->pvt_node = mail_get_varint(r);
	mail_get_raw(r, mb->merged_into.b, sizeof(mb->merged_into.b));
	n = (size_t)mail_get_varint(r);
	if (n > MAIL_MAILBOX_MAX_KEYWORDS)
		r->bad = true;
	for (size_t i = 0; i < n && !r->bad; i++) {
		char *kw = mail_get_strdup(r, 256);

		if (kw == NULL)
			break;
		mb->keywords[mb->n_keywords++] = kw;
	}
	mb->n_unseen = mail_get_varint(r);
	mb->total_size = mail_get_varint(r);
	n = get_count(r, sizeof(struct mail_msg));
	slack = get_count(r, sizeof(struct mail_msg));
	pad = mail_get_u8(r);
	if (pad > 7 || n + slack > r->left / sizeof(struct mail_msg))
		r->bad = true;
	zeros = mail_get_span(r, r->bad ? 0 : pad);
	for (size_t i = 0; zeros != NULL && i < pad; i++)
		r->bad |= zeros[i] != 0;
	bytes = r->bad ? 0 : (n + slack) * sizeof(struct mail_msg);
	arr = mail_get_span(r, bytes);
	if (arr == NULL || ((uintptr_t)arr % 8) != 0 || mb->n_unseen > n)
		r->bad = true;
	if (!r->bad) {
		/* in place, in the private mapping, with the free slots
		 * behind it as room to grow; not read here */
		spans_add(sp, (size_t)(arr - base), bytes);
		mb->msgs = (struct mail_msg *)(uintptr_t)arr;
		mb->msgs_mapped = true;
		mb->n_msgs = n;
		mb->cap_msgs = n + slack;
	}
	n = get_count(r, 2);
	mb->pvt = mail_xcalloc(n, sizeof(*mb->pvt));
	mb->cap_pvt = n;
	for (size_t i = 0; i < n && !r->bad; i++) {
		struct mail_pvt_user *pu = &mb->pvt[i];
		size_t k;

		pu->user = mail_get_strdup(r, 255);
		mb->n_pvt = i + 1;
		pu->n = get_count(r, 3);
		pu->cap = pu->n;
		pu->v = mail_xcalloc(pu->n, sizeof(*pu->v));
		for (k = 0; k < pu->n && !r->bad; k++) {
			pu->v[k].uid = (uint32_t)mail_get_varint(r);
			pu->v[k].flags = (uint16_t)mail_get_varint(r);
			pu->v[k].modseq = mail_get_varint(r);
			pu->v[k].hlc = mail_get_varint(r);
			pu->v[k].node = mail_get_varint(r);
		}
		if (pu->user == NULL)
			r->bad = true;
	}
	get_meta(r, &mb->meta, &mb->n_meta, &mb->cap_meta);
	n = get_count(r, 4);
	mb->acl = mail_xcalloc(n, sizeof(*mb->acl));
	mb->cap_acl = n;
	for (size_t i = 0; i < n && !r->bad; i++) {
		mb->acl[i].identifier = mail_get_strdup(r, 255);
		mb->acl[i].rights = mail_get_strdup(r, 64);
		mb->acl[i].hlc = mail_get_varint(r);
		mb->acl[i].node = mail_get_varint(r);
		mb->n_acl = i + 1;
		if (mb->acl[i].identifier == NULL || mb->acl[i].rights == NULL)
			r->bad = true;
	}
	get_tombs(r, mb);
	get_gone(r, &mb->gone);
	if (mb->name == NULL || mb->special_use == NULL)
		r->bad = true;
	return mb;
}

int
mail_snapshot_read(const struct mail_fs *fs, const char *path,
    struct mail_state **st_r, uint64_t *log_end_r, uint64_t *log_mark_r,
    struct mail_err *err)
{
	struct mail_state *st = NULL;
	struct mail_reader r;
	struct snap_spans sp;
	struct stat sb;
	uint8_t *map = MAP_FAILED;
	size_t n, len = 0;
	int fd = -1, ret = -1;

	*st_r = NULL;
	memset(&sp, 0, sizeof(sp));
	if ((fd = mail_fs_open(fs, path, O_RDONLY, 0, err)) < 0)
		goto out;
	if (fstat(fd, &sb) < 0) {
		mail_err_sys(err, errno, "stat '%s'", path);
		goto out;
	}
	len = (size_t)sb.st_size;
	/* 40-byte header and the checksum; the state of an empty user is
	 * only 7 more bytes, and the reader checks the rest */
	if (len < 40 + 8 || (uint64_t)sb.st_size > SNAP_MAX)
		goto bad;
	/* private: apply may change loaded arrays in place, and only the
	 * pages written then become ours, never the file's. Not populated:
	 * the pages of arrays nobody reads are never touched. */
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		mail_err_sys(err, errno, "mmap '%s'", path);
		goto out;
	}
	if (memcmp(map, SNAP_MAGIC, 8) != 0 ||
	    mail_get_le32(map + 8) != SNAP_VERSION ||
	    mail_get_le32(map + 12) != sizeof(struct mail_msg) ||
	    mail_get_le32(map + 16) != SNAP_BOM)
		goto bad;
	*log_end_r = mail_get_le64(map + 24);
	*log_mark_r = mail_get_le64(map + 32);
	mail_reader_init(&r, map + 40, len - 40 - 8);
	st = mail_state_new();
	st->map = map;
	st->map_len = len;
	map = MAP_FAILED;
	st->modseq = mail_get_varint(&r);
	st->hlc = mail_get_varint(&r);
	st->last_uidvalidity = (uint32_t)mail_get_varint(&r);
	n = get_count(&r, 4);
	st->subs = mail_xcalloc(n, sizeof(*st->subs));
	st->cap_subs = n;
	for (size_t i = 0; i < n && !r.bad; i++) {
		struct mail_sub *sub = &st->subs[i];
		uint64_t on;

		if ((sub->name = mail_get_strdup(&r, 4096)) == NULL)
			break;
		st->n_subs = i + 1;
		on = mail_get_u8(&r);
		sub->on = on == 1;
		sub->hlc = mail_get_varint(&r);
		sub->node = mail_get_varint(&r);
		/* sorted by name, as lookups assume */
		if (on > 1 || (i > 0 && strcmp(st->subs[i - 1].name,
		    sub->name) >= 0))
			r.bad = true;
	}
	get_meta(&r, &st->meta, &st->n_meta, &st->cap_meta);
	n = get_count(&r, 16);
	st->mailboxes = mail_xcalloc(n, sizeof(*st->mailboxes));
	st->cap_mailboxes = n;
	for (size_t i = 0; i < n && !r.bad; i++) {
		st->mailboxes[i] = get_mailbox(&r, st->map, &sp);
		st->n_mailboxes = i + 1;
	}
	/* the parse is bounded whatever the bytes; the checksum (which
	 * needs the array spans the parse found) decides if they count */
	if (!mail_reader_end(&r) || snap_checksum(st->map, len - 8, &sp) !=
	    mail_get_le64((const uint8_t *)st->map + len - 8))
		goto bad;
	*st_r = st;
	st = NULL;
	ret = 0;
	goto out;
bad:
	mail_err_set(err, MAIL_ERR_CORRUPT,
	    "index snapshot '%s' is damaged or from another version", path);
out:
	if (map != MAP_FAILED)
		munmap(map, len);
	mail_state_free(&st);
	mail_fs_close(fs, &fd);
	spans_free(&sp);
	return ret;
}
