/*
 * dsync_backup_chain.c: a full backup and its incrementals, opened
 * together: the order checked (each file follows the one before), each
 * file's user sections found (through its index, or by reading it when
 * it has none, as a truncated file), the sections of one user in order,
 * and bodies fetched by hash from whichever file holds them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsync_backup_chain.h"

static void
section_add(struct dsync_bk_cfile *cf, const struct dsync_bk_section *s)
{
	cf->sections = mail_xgrow(cf->sections, &cf->cap_sections,
	    cf->n_sections + 1, sizeof(*cf->sections));
	cf->sections[cf->n_sections++] = *s;
}

static void
scan_body_add(struct wire_backup_index *ix, const struct mail_guid *h,
    uint64_t off)
{
	ix->bodies = mail_xgrow(ix->bodies, &ix->cap_bodies, ix->n_bodies + 1,
	    sizeof(*ix->bodies));
	ix->bodies[ix->n_bodies].hash = *h;
	ix->bodies[ix->n_bodies++].block_off = off;
}

/* Read a file from its start, finding sections and bodies; with salvage,
 * damage ends a section (marked damaged) and reading goes on at the next
 * good frame. */
static int
scan_file(struct dsync_bk_cfile *cf, bool salvage, struct mail_err *err)
{
	struct dsync_bk_file *bf = cf->bf;
	struct dsync_bk_section cur;
	struct wire_backup_block blk;
	struct wire_backup_index found;
	struct wire_frame f;
	uint64_t off;
	bool in_user = false;
	int ret;

	memset(&blk, 0, sizeof(blk));
	memset(&cur, 0, sizeof(cur));
	memset(&found, 0, sizeof(found));
	/* what the index says (if there is one) only helps to skip damage:
	 * the bodies are those found in intact blocks; from after the magic
	 * and the header */
	if (dsync_bk_seek(bf, WIRE_BACKUP_MAGIC_LEN, err) < 0 ||
	    dsync_bk_next(bf, &f, NULL, err) <= 0)
		return -1;
	for (;;) {
		ret = dsync_bk_next(bf, &f, &off, err);
		if (ret == 0)
			break;
		if (ret < 0) {
			if (!salvage)
				goto fail;
			fprintf(stderr, "dsync: warning: %s\n", err->msg);
			cf->damaged = true;
			/* the section goes on after the damage, unless the
			 * next good frame starts another */
			cur.damaged = in_user;
			mail_err_clear(err);
			if (dsync_bk_resync(bf, off) == 0)
				break;
			continue;
		}
		switch (f.type) {
		case WIRE_BK_USER:
			if (in_user) {	/* USER_END lost */
				cur.damaged = true;
				section_add(cf, &cur);
			}
			memset(&cur, 0, sizeof(cur));
			if (wire_backup_user_decode(f.payload, f.len, &cur.user,
			    err) < 0) {
				in_user = false;
				if (!salvage)
					goto fail_at;
				continue;
			}
			cur.user_off = off;
			cur.changes_off = 0;
			in_user = true;
			break;
		case WIRE_BK_BLOCK:
			if (wire_backup_block_pieces(f.payload, f.len, &blk,
			    err) < 0) {
				if (!salvage)
					goto fail_at;
				continue;
			}
			for (size_t i = 0; i < blk.n; i++) {
				if (blk.v[i].offset == 0)
					scan_body_add(&found, &blk.v[i].hash,
					    off);
			}
			break;
		case WIRE_BK_CHANGES:
			if (in_user && cur.changes_off == 0)
				cur.changes_off = off;
			break;
		case WIRE_BK_USER_END:
			if (in_user) {
				if (cur.changes_off == 0)
					cur.changes_off = off;
				cur.end_off = off;
				section_add(cf, &cur);
				in_user = false;
			}
			break;
		case WIRE_BK_INDEX:
		case WIRE_BK_TRAILER:
			break;
		default:
			if (!salvage) {
				mail_err_set(err, MAIL_ERR_CORRUPT,
				    "unknown frame type %u", (unsigned)f.type);
				goto fail_at;
			}
		}
	}
	if (in_user) {
		cur.damaged = true;
		section_add(cf, &cur);
	}
	wire_backup_block_free(&blk);
	wire_backup_index_free(&bf->ix);
	bf->ix = found;
	wire_backup_index_sort(&bf->ix);
	return 0;
fail_at:
	err->code = MAIL_ERR_CORRUPT;
	mail_err_prefix(err, "offset %" PRIu64, off);
	dsync_bk_err(bf, err);
fail:
	if (in_user)
		wire_backup_user_free(&cur.user);
	wire_backup_block_free(&blk);
	wire_backup_index_free(&found);
	return -1;
}

/* Sections from the index: each USER frame read where it says. */
static int
index_sections(struct dsync_bk_cfile *cf, struct mail_err *err)
{
	struct dsync_bk_file *bf = cf->bf;

	for (size_t i = 0; i < bf->ix.n_users; i++) {
		const struct wire_backup_index_user *iu = &bf->ix.users[i];
		struct dsync_bk_section s;
		struct wire_frame f;
		int ret;

		memset(&s, 0, sizeof(s));
		if (dsync_bk_seek(bf, iu->user_off, err) < 0 ||
		    (ret = dsync_bk_next(bf, &f, NULL, err)) < 0)
			return -1;
		if (ret == 0 || f.type != WIRE_BK_USER ||
		    wire_backup_user_decode(f.payload, f.len, &s.user,
		    err) < 0 || strcmp(s.user.name, iu->name) != 0) {
			wire_backup_user_free(&s.user);
			mail_err_set(err, MAIL_ERR_CORRUPT, "index: no USER "
			    "\"%s\" at offset %" PRIu64, iu->name,
			    iu->user_off);
			return dsync_bk_err(bf, err);
		}
		s.user_off = iu->user_off;
		s.changes_off = iu->changes_off;
		s.end_off = iu->end_off;
		section_add(cf, &s);
	}
	return 0;
}

int
dsync_bk_chain_open(char **paths, size_t n, unsigned flags,
    struct dsync_bk_chain **chain_r, struct mail_err *err)
{
	struct dsync_bk_chain *ch = mail_xcalloc(1, sizeof(*ch));
	bool salvage = (flags & DSYNC_BK_SALVAGE) != 0;
	bool need_index = (flags & DSYNC_BK_NEED_INDEX) != 0;

	ch->files = mail_xcalloc(n, sizeof(*ch->files));
	for (size_t i = 0; i < n; i++) {
		struct dsync_bk_cfile *cf = &ch->files[i];
		struct mail_err ierr;

		mail_err_clear(&ierr);
		if (dsync_bk_open(paths[i], &cf->bf, &ierr, err) < 0)
			goto fail;
		ch->n_files++;
		cf->salvage = salvage;
		if (i == 0 && !mail_guid_is_zero(&cf->bf->hdr.parent) &&
		    (flags & DSYNC_BK_ANY_FIRST) == 0) {
			mail_err_set(err, MAIL_ERR_PARAM, "%s is an incremental "
			    "backup: give its full backup first, then every "
			    "incremental after it, in order", paths[i]);
			goto fail;
		}
		if (i > 0 && mail_guid_cmp(&cf->bf->hdr.parent,
		    &ch->files[i - 1].bf->hdr.id) != 0) {
			mail_err_set(err, MAIL_ERR_PARAM, "%s does not follow "
			    "%s (it is not the incremental made from it)",
			    paths[i], paths[i - 1]);
			goto fail;
		}
		if (!cf->bf->seekable) {
			if (need_index || n > 1) {
				mail_err_set(err, MAIL_ERR_PARAM, "%s: this "
				    "needs a backup file, not a pipe",
				    paths[i]);
				goto fail;
			}
			ch->streaming = true;
			continue;
		}
		if (cf->bf->has_index && !salvage) {
			if (index_sections(cf, err) < 0)
				goto fail;
			continue;
		}
		if (cf->bf->has_index) {
			/* salvage reads every frame, to find the damage */
			if (scan_file(cf, salvage, err) < 0)
				goto fail;
			continue;
		}
		if (!salvage) {
			mail_err_set(err, MAIL_ERR_CORRUPT, "%s: %s; --salvage "
			    "restores what is intact", paths[i], ierr.msg);
			goto fail;
		}
		fprintf(stderr, "dsync: warning: %s: %s; reading it all\n",
		    paths[i], ierr.msg);
		cf->damaged = true;
		if (scan_file(cf, salvage, err) < 0)
			goto fail;
	}
	*chain_r = ch;
	return 0;
fail:
	dsync_bk_chain_close(&ch);
	return -1;
}

void
dsync_bk_chain_close(struct dsync_bk_chain **chp)
{
	struct dsync_bk_chain *ch = *chp;

	if (ch == NULL)
		return;
	for (size_t i = 0; i < ch->n_files; i++) {
		struct dsync_bk_cfile *cf = &ch->files[i];

		for (size_t k = 0; k < cf->n_sections; k++)
			wire_backup_user_free(&cf->sections[k].user);
		free(cf->sections);
		dsync_bk_close(&cf->bf);
	}
	free(ch->files);
	wire_backup_block_free(&ch->blk);
	wire_backup_zip_free(&ch->z);
	free(ch);
	*chp = NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
dsync_bk_chain_users(const struct dsync_bk_chain *ch, size_t *n_r)
{
	char **v = NULL;
	size_t n = 0, cap = 0, k = 0;

	for (size_t i = 0; i < ch->n_files; i++) {
		const struct dsync_bk_cfile *cf = &ch->files[i];

		for (size_t s = 0; s < cf->n_sections; s++) {
			v = mail_xgrow(v, &cap, n + 1, sizeof(*v));
			v[n++] = cf->sections[s].user.name;
		}
	}
	mail_qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (k == 0 || strcmp(v[k - 1], v[i]) != 0)
			v[k++] = v[i];
	}
	*n_r = k;
	return v;
}

int
dsync_bk_chain_user(const struct dsync_bk_chain *ch, const char *user,
    struct dsync_bk_usec **v_r, size_t *n_r, struct mail_err *err)
{
	struct dsync_bk_usec *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < ch->n_files; i++) {
		struct dsync_bk_cfile *cf = &ch->files[i];

		for (size_t s = 0; s < cf->n_sections; s++) {
			struct dsync_bk_section *sec = &cf->sections[s];

			if (strcmp(sec->user.name, user) != 0)
				continue;
			/* a full section or a gone user starts afresh */
			if (sec->user.since == 0 || sec->user.gone)
				n = 0;
			else if (n == 0) {
				free(v);
				return mail_err_set(err, MAIL_ERR_PARAM,
				    "user \"%s\": %s holds only changes: the "
				    "backup it builds on is not given", user,
				    cf->bf->path);
			} else if (v[n - 1].sec->user.modseq !=
			    sec->user.since) {
				uint64_t before = v[n - 1].sec->user.modseq;

				free(v);
				return mail_err_set(err, MAIL_ERR_CORRUPT,
				    "user \"%s\": %s continues from modseq "
				    "%" PRIu64 ", but the backup before ends "
				    "at %" PRIu64, user, cf->bf->path,
				    sec->user.since, before);
			}
			v = mail_xgrow(v, &cap, n + 1, sizeof(*v));
			v[n].file = cf;
			v[n].sec = sec;
			n++;
		}
	}
	if (n > 0 && v[n - 1].sec->user.gone)
		n = 0;		/* deleted at the source by the end */
	*v_r = v;
	*n_r = n;
	return 0;
}

int
dsync_bk_section_changes(struct dsync_bk_cfile *cf,
    const struct dsync_bk_section *sec, dsync_emit_fn *fn, void *ctx,
    struct mail_err *err)
{
	struct dsync_bk_file *bf = cf->bf;

	if (sec->user.gone || sec->changes_off == 0)
		return 0;
	if (dsync_bk_seek(bf, sec->changes_off, err) < 0)
		return -1;
	for (;;) {
		struct wire_frame f;
		struct mail_reader r;
		struct wire_change c;
		uint64_t off;
		int ret;

		off = bf->buf_off + bf->pos;
		if ((ret = dsync_bk_next(bf, &f, &off, err)) < 0) {
			/* each CHANGES frame names its mailbox first: the
			 * ones after a damaged one are still good */
			if (!cf->salvage)
				return -1;
			fprintf(stderr, "dsync: warning: %s\n", err->msg);
			mail_err_clear(err);
			cf->damaged = true;
			if (dsync_bk_resync(bf, off) == 0)
				return 0;
			continue;
		}
		if (ret == 0 || f.type == WIRE_BK_USER_END ||
		    f.type == WIRE_BK_USER || f.type == WIRE_BK_INDEX)
			return 0;	/* a damaged section just ends */
		if (f.type != WIRE_BK_CHANGES)
			continue;
		mail_reader_init(&r, f.payload, f.len);
		while ((ret = wire_change_decode(&r, &c, err)) > 0) {
			ret = fn(ctx, &c, err);
			wire_change_free(&c);
			if (ret != 0)
				return ret < 0 ? -1 : 0;
		}
		if (ret < 0) {
			err->code = MAIL_ERR_CORRUPT;
			mail_err_prefix(err, "offset %" PRIu64, off);
			dsync_bk_err(bf, err);
			if (!cf->salvage)
				return -1;
			fprintf(stderr, "dsync: warning: %s\n", err->msg);
			mail_err_clear(err);
			cf->damaged = true;
		}
	}
}

int
dsync_bk_chain_body(struct dsync_bk_chain *ch, const struct mail_guid *h,
    struct mail_buf *out, struct mail_err *err)
{
	char hex[MAIL_GUID_HEX];

	if (ch->z == NULL)
		ch->z = wire_backup_zip_new(0);
	for (size_t i = ch->n_files; i-- > 0;) {
		struct dsync_bk_cfile *cf = &ch->files[i];
		const struct wire_backup_index_body *b =
		    wire_backup_index_find(&cf->bf->ix, h);
		uint64_t off, total = UINT64_MAX;
		struct mail_guid got;

		if (b == NULL || b->block_off == 0)
			continue;
		mail_buf_reset(out);
		off = b->block_off;
		while (out->len < total) {
			struct wire_frame f;
			uint64_t pos = 0;
			bool found = false;
			int ret;

			if (ch->blk_file != cf || ch->blk_off != off) {
				ch->blk_file = NULL;
				if (dsync_bk_seek(cf->bf, off, err) < 0 ||
				    (ret = dsync_bk_next(cf->bf, &f, NULL,
				    err)) < 0)
					return -1;
				if (ret == 0 || f.type != WIRE_BK_BLOCK) {
					mail_err_set(err, MAIL_ERR_CORRUPT,
					    "offset %" PRIu64 ": no BLOCK", off);
					return dsync_bk_err(cf->bf, err);
				}
				if (wire_backup_block_decode(ch->z, f.payload,
				    f.len, &ch->blk, err) < 0) {
					err->code = MAIL_ERR_CORRUPT;
					mail_err_prefix(err, "offset %" PRIu64,
					    off);
					return dsync_bk_err(cf->bf, err);
				}
				ch->blk_file = cf;
				ch->blk_off = off;
				ch->blk_next = cf->bf->buf_off + cf->bf->pos;
			}
			for (size_t k = 0; k < ch->blk.n; k++) {
				const struct wire_backup_piece *pc =
				    &ch->blk.v[k];

				if (mail_guid_cmp(&pc->hash, h) == 0 &&
				    pc->offset == out->len) {
					total = pc->total;
					mail_buf_append(out,
					    ch->blk.data.data + pos, pc->len);
					found = true;
				}
				pos += pc->len;
			}
			if (!found)
				break;
			off = ch->blk_next;
		}
		mail_guid_hash(out->data, out->len, &got);
		if (total != UINT64_MAX && out->len == total &&
		    mail_guid_cmp(&got, h) == 0)
			return 0;
		mail_err_set(err, MAIL_ERR_CORRUPT, "body %s is damaged",
		    mail_guid_to_hex(h, hex));
		return dsync_bk_err(cf->bf, err);
	}
	return mail_err_set(err, MAIL_ERR_NOTFOUND, "body %s is in none of "
	    "the backup files", mail_guid_to_hex(h, hex));
}
