/*
 * dsync_cmd_verify.c: `dsync verify FILE...` reads a backup chain from
 * end to end without restoring it: every frame's checksum, the order of
 * frames, every block inflated and every body checked against its hash,
 * every message's body present in the chain, the counts of each user's
 * section, the index and the trailer, and that each file continues the
 * one before. And `dsync export --list FILE`: what a backup holds.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsync_backup_chain.h"
#include "mail_flags.h"

struct verifier {
	const char *path;
	unsigned problems;
	struct dsync_guid_set chain;	/* bodies of earlier files */
	struct dsync_guid_set mine;	/* bodies of this file */
	struct mail_guid *needed;	/* bodies this file's messages use */
	size_t	 n_needed, cap_needed;
	/* the body being put together from pieces */
	struct mail_buf body;
	struct mail_guid body_hash;
	uint64_t body_total;
	/* per user: modseq at the end of the chain so far */
	char	**users;
	uint64_t *modseqs;
	size_t	 n_users, cap_users, cap_modseqs;
	uint64_t n_msgs, n_bodies, body_bytes;
	bool	 verbose;
};

static void PRINTF_LIKE(3, 4)
problem(struct verifier *v, uint64_t off, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dsync: verify: %s: offset %" PRIu64 ": ", v->path,
	    off);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	v->problems++;
}

static uint64_t *
user_modseq(struct verifier *v, const char *name)
{
	for (size_t i = 0; i < v->n_users; i++) {
		if (strcmp(v->users[i], name) == 0)
			return &v->modseqs[i];
	}
	v->users = mail_xgrow(v->users, &v->cap_users, v->n_users + 1,
	    sizeof(*v->users));
	v->modseqs = mail_xgrow(v->modseqs, &v->cap_modseqs, v->n_users + 1,
	    sizeof(*v->modseqs));
	v->users[v->n_users] = mail_xstrdup(name);
	v->modseqs[v->n_users] = 0;
	return &v->modseqs[v->n_users++];
}

static void
check_block(struct verifier *v, struct wire_backup_zip *z,
    struct wire_backup_block *blk, const struct wire_frame *f, uint64_t off,
    struct wire_backup_user_end *counts)
{
	struct mail_err err;
	size_t pos = 0;

	if (wire_backup_block_decode(z, f->payload, f->len, blk, &err) < 0) {
		problem(v, off, "%s", err.msg);
		return;
	}
	for (size_t i = 0; i < blk->n; i++) {
		const struct wire_backup_piece *pc = &blk->v[i];

		if (pc->offset == 0) {
			mail_buf_reset(&v->body);
			v->body_hash = pc->hash;
			v->body_total = pc->total;
			counts->n_bodies++;
			if (!dsync_guid_set_add(&v->mine, &pc->hash))
				problem(v, off, "a body is stored twice");
		} else if (mail_guid_cmp(&pc->hash, &v->body_hash) != 0 ||
		    pc->offset != v->body.len) {
			problem(v, off, "a piece of a body out of order");
			pos += pc->len;
			continue;
		}
		mail_buf_append(&v->body, blk->data.data + pos, pc->len);
		counts->body_bytes += pc->len;
		pos += pc->len;
		if (v->body.len == v->body_total) {
			struct mail_guid h;
			char hex[MAIL_GUID_HEX];

			mail_guid_hash(v->body.data, v->body.len, &h);
			if (mail_guid_cmp(&h, &v->body_hash) != 0)
				problem(v, off, "body %s does not match its "
				    "hash", mail_guid_to_hex(&v->body_hash,
				    hex));
			v->n_bodies++;
			v->body_bytes += v->body.len;
		}
	}
}

static void
check_changes(struct verifier *v, const struct wire_frame *f, uint64_t off,
    struct wire_backup_user_end *counts)
{
	struct mail_reader r;
	struct wire_change c;
	struct mail_err err;
	int ret;

	mail_reader_init(&r, f->payload, f->len);
	while ((ret = wire_change_decode(&r, &c, &err)) > 0) {
		counts->n_changes++;
		if (c.kind == WIRE_CH_PUT) {
			v->n_msgs++;
			v->needed = mail_xgrow(v->needed, &v->cap_needed,
			    v->n_needed + 1, sizeof(*v->needed));
			v->needed[v->n_needed++] = c.body;
		}
		wire_change_free(&c);
	}
	if (ret < 0)
		problem(v, off, "%s", err.msg);
}

/* One file, in order, from its first frame to its trailer. */
static void
verify_file(struct verifier *v, struct dsync_bk_file *bf)
{
	struct wire_backup_zip *z = wire_backup_zip_new(0);
	struct wire_backup_block blk;
	struct wire_backup_user u;
	struct wire_backup_user_end counts, want;
	struct wire_backup_index ix;
	struct wire_frame f;
	struct mail_err err;
	uint64_t off = 0, index_off = 0, n_frames = 0, digest = 0;
	bool in_user = false, in_index = false, ended = false;
	int ret;

	memset(&blk, 0, sizeof(blk));
	memset(&u, 0, sizeof(u));
	memset(&ix, 0, sizeof(ix));
	memset(&counts, 0, sizeof(counts));
	v->n_needed = 0;
	for (;;) {
		struct wire_backup_digest before = bf->digest;

		if ((ret = dsync_bk_next(bf, &f, &off, &err)) <= 0)
			break;
		if (ended) {
			problem(v, off, "a frame after the TRAILER");
			break;
		}
		if (f.type == WIRE_BK_TRAILER) {
			n_frames = before.n_frames;
			digest = before.state;
			ended = true;
			continue;
		}
		if (in_index && f.type != WIRE_BK_INDEX) {
			problem(v, off, "%s after the INDEX",
			    wire_backup_type_name(f.type) ?
			    wire_backup_type_name(f.type) : "unknown frame");
			continue;
		}
		switch (f.type) {
		case WIRE_BK_USER:
			if (in_user)
				problem(v, off, "user \"%s\" has no USER_END",
				    u.name);
			wire_backup_user_free(&u);
			if (wire_backup_user_decode(f.payload, f.len, &u,
			    &err) < 0) {
				problem(v, off, "%s", err.msg);
				in_user = false;
				break;
			}
			{
				uint64_t *m = user_modseq(v, u.name);

				if (u.since != 0 && u.since != *m)
					problem(v, off, "user \"%s\" continues "
					    "from modseq %" PRIu64 ", but the "
					    "chain so far ends at %" PRIu64,
					    u.name, u.since, *m);
				*m = u.gone ? 0 : u.modseq;
			}
			memset(&counts, 0, sizeof(counts));
			in_user = true;
			break;
		case WIRE_BK_BLOCK:
			if (!in_user)
				problem(v, off, "a BLOCK outside a user");
			check_block(v, z, &blk, &f, off, &counts);
			break;
		case WIRE_BK_CHANGES:
			if (!in_user)
				problem(v, off, "CHANGES outside a user");
			check_changes(v, &f, off, &counts);
			break;
		case WIRE_BK_USER_END:
			if (!in_user) {
				problem(v, off, "USER_END outside a user");
				break;
			}
			if (wire_backup_user_end_decode(f.payload, f.len,
			    &want, &err) < 0)
				problem(v, off, "%s", err.msg);
			else if (want.n_changes != counts.n_changes ||
			    want.n_bodies != counts.n_bodies ||
			    want.body_bytes != counts.body_bytes)
				problem(v, off, "user \"%s\": the section "
				    "holds other counts than its USER_END says",
				    u.name);
			in_user = false;
			break;
		case WIRE_BK_INDEX:
			if (!in_index)
				index_off = off;
			in_index = true;
			if (wire_backup_index_decode(f.payload, f.len, &ix,
			    &err) < 0)
				problem(v, off, "%s", err.msg);
			break;
		default:
			problem(v, off, "unknown frame type %u",
			    (unsigned)f.type);
		}
	}
	if (ret < 0) {
		fprintf(stderr, "dsync: verify: %s\n", err.msg);
		v->problems++;
	} else if (!ended) {
		problem(v, bf->buf_off + bf->pos, "no TRAILER: the file is "
		    "truncated");
	} else if (!bf->has_index || bf->trailer.index_off != index_off ||
	    bf->trailer.n_frames != n_frames || bf->trailer.digest != digest) {
		problem(v, bf->size - WIRE_BACKUP_TRAILER_LEN, "the TRAILER "
		    "does not match the frames before it");
	}
	if (in_user)
		problem(v, off, "user \"%s\" has no USER_END", u.name);
	for (size_t i = 0; i < v->n_needed; i++) {
		char hex[MAIL_GUID_HEX];

		if (!dsync_guid_set_has(&v->mine, &v->needed[i]) &&
		    !dsync_guid_set_has(&v->chain, &v->needed[i])) {
			problem(v, 0, "a message's body %s is in no file of "
			    "the chain", mail_guid_to_hex(&v->needed[i], hex));
			break;
		}
	}
	for (size_t i = 0; i < v->mine.cap; i++) {
		if (v->mine.used[i])
			(void)dsync_guid_set_add(&v->chain, &v->mine.v[i]);
	}
	dsync_guid_set_free(&v->mine);
	wire_backup_user_free(&u);
	wire_backup_index_free(&ix);
	wire_backup_block_free(&blk);
	wire_backup_zip_free(&z);
}

int
dsync_cmd_verify(struct dsync_ctx *ctx, int argc, char **argv)
{
	struct verifier v;
	struct mail_guid prev_id;
	int first = 1;

	(void)ctx;
	memset(&v, 0, sizeof(v));
	if (argc > 1 && (strcmp(argv[1], "-v") == 0 ||
	    strcmp(argv[1], "--verbose") == 0)) {
		v.verbose = true;
		first = 2;
	}
	if (first >= argc)
		return dsync_usage("verify [-v] FILE...");
	memset(&prev_id, 0, sizeof(prev_id));
	for (int i = first; i < argc; i++) {
		struct dsync_bk_file *bf = NULL;
		struct mail_err err;
		unsigned before = v.problems;

		v.path = argv[i];
		if (dsync_bk_open(argv[i], &bf, NULL, &err) < 0) {
			fprintf(stderr, "dsync: verify: %s\n", err.msg);
			v.problems++;
			break;
		}
		if (mail_guid_cmp(&bf->hdr.parent, &prev_id) != 0)
			problem(&v, 0, i == first ? "an incremental backup: "
			    "give its full backup first" : "it does not "
			    "follow %s", argv[i - 1]);
		prev_id = bf->hdr.id;
		verify_file(&v, bf);
		if (v.verbose && v.problems == before)
			printf("%s: ok\n", argv[i]);
		dsync_bk_close(&bf);
	}
	if (v.verbose && v.problems == 0)
		printf("chain ok: %" PRIu64 " message records, %" PRIu64
		    " bodies, %.1f MB of mail\n", v.n_msgs, v.n_bodies,
		    v.body_bytes / 1e6);
	for (size_t i = 0; i < v.n_users; i++)
		free(v.users[i]);
	free(v.users);
	free(v.modseqs);
	free(v.needed);
	mail_buf_free(&v.body);
	dsync_guid_set_free(&v.chain);
	dsync_guid_set_free(&v.mine);
	return v.problems == 0 ? DSYNC_EXIT_OK : DSYNC_EXIT_ERROR;
}

/* ---- export --list ---- */

struct lister {
	const char *mailbox;		/* list its messages */
	struct mail_guid cur;
	bool	 in_mailbox;
	struct mail_buf line;
	/* per mailbox of the section: guid, name, counts */
	struct lbox {
		struct mail_guid guid;
		char	*name;
		bool	 deleted;
		uint64_t msgs, tombs;
	} *boxes;
	size_t	 n_boxes, cap_boxes;
};

static struct lbox *
lister_box(struct lister *l, const struct mail_guid *g)
{
	for (size_t i = 0; i < l->n_boxes; i++) {
		if (mail_guid_cmp(&l->boxes[i].guid, g) == 0)
			return &l->boxes[i];
	}
	l->boxes = mail_xgrow(l->boxes, &l->cap_boxes, l->n_boxes + 1,
	    sizeof(*l->boxes));
	memset(&l->boxes[l->n_boxes], 0, sizeof(l->boxes[0]));
	l->boxes[l->n_boxes].guid = *g;
	return &l->boxes[l->n_boxes++];
}

static int
list_change(void *ctx, const struct wire_change *c, struct mail_err *err)
{
	struct lister *l = ctx;
	struct lbox *b;

	(void)err;
	switch (c->kind) {
	case WIRE_CH_MAILBOX:
		b = lister_box(l, &c->mailbox);
		free(b->name);
		b->name = mail_xstrdup(c->name);
		b->deleted = c->deleted;
		break;
	case WIRE_CH_CONTEXT:
		l->cur = c->mailbox;
		l->in_mailbox = true;
		break;
	case WIRE_CH_PUT:
	case WIRE_CH_TOMB:
		if (!l->in_mailbox)
			break;
		b = lister_box(l, &l->cur);
		if (c->kind == WIRE_CH_TOMB) {
			b->tombs++;
			break;
		}
		b->msgs++;
		if (l->mailbox != NULL && b->name != NULL &&
		    strcmp(b->name, l->mailbox) == 0) {
			char hex[MAIL_GUID_HEX], date[32];
			time_t t = (time_t)c->idate;
			struct tm tm;

			mail_buf_reset(&l->line);
			mail_flags_format(c->flags, &l->line);
			for (size_t i = 0; i < c->n_keywords; i++)
				mail_buf_printf(&l->line, "%s%s",
				    l->line.len > 0 ? " " : "",
				    c->keywords[i]);
			gmtime_r(&t, &tm);
			strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("    uid %u  %s  %" PRIu64 " bytes  guid %s  "
			    "(%s)\n", (unsigned)c->uid, date, c->size,
			    mail_guid_to_hex(&c->key.guid, hex),
			    l->line.len > 0 ? (char *)l->line.data : "");
		}
		break;
	default:
		break;
	}
	return 0;
}

int
dsync_cmd_export_list(struct dsync_ctx *ctx, const char *path,
    const char *mailbox)
{
	struct dsync_bk_chain *ch = NULL;
	struct dsync_bk_file *bf;
	struct mail_err err;
	char *p, id[MAIL_GUID_HEX], parent[MAIL_GUID_HEX];
	char date[32];
	time_t t;
	struct tm tm;
	int ret = 0;

	if (mailbox != NULL && ctx->user == NULL)
		return dsync_usage("export --list -m MAILBOX needs -u USER");
	mail_err_clear(&err);
	p = mail_xstrdup(path);
	ret = dsync_bk_chain_open(&p, 1, DSYNC_BK_NEED_INDEX |
	    DSYNC_BK_ANY_FIRST, &ch, &err);
	free(p);
	if (ret < 0)
		return dsync_fail(&err);
	bf = ch->files[0].bf;
	t = (time_t)(bf->hdr.created_ms / 1000);
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("backup %s  %s", mail_guid_to_hex(&bf->hdr.id, id),
	    mail_guid_is_zero(&bf->hdr.parent) ? "full" : "incremental");
	if (!mail_guid_is_zero(&bf->hdr.parent))
		printf(" after %s", mail_guid_to_hex(&bf->hdr.parent, parent));
	printf("\n  created %s  source %s  node %016" PRIx64 "\n", date,
	    bf->hdr.source, bf->hdr.node);
	for (size_t s = 0; s < ch->files[0].n_sections && ret == 0; s++) {
		struct dsync_bk_section *sec = &ch->files[0].sections[s];
		struct lister l;

		if (ctx->user != NULL && strcmp(ctx->user, sec->user.name) != 0)
			continue;
		printf("user %s  modseq %" PRIu64 "  %s\n", sec->user.name,
		    sec->user.modseq, sec->user.gone ? "deleted" :
		    sec->user.since == 0 ? "full" : "changes only");
		memset(&l, 0, sizeof(l));
		l.mailbox = mailbox;
		ret = dsync_bk_section_changes(&ch->files[0], sec, list_change,
		    &l, &err);
		for (size_t i = 0; i < l.n_boxes; i++) {
			struct lbox *b = &l.boxes[i];

			if (b->name == NULL)
				continue;
			printf("  mailbox %s%s  %" PRIu64 " messages, %" PRIu64
			    " expunged\n", b->name, b->deleted ?
			    " (deleted)" : "", b->msgs, b->tombs);
			free(b->name);
		}
		free(l.boxes);
		mail_buf_free(&l.line);
	}
	dsync_bk_chain_close(&ch);
	return ret == 0 ? DSYNC_EXIT_OK : dsync_fail(&err);
}
