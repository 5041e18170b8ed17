/*
 * dsync_cmd_export.c: `dsync export` writes a backup stream (full, or
 * incremental after an earlier backup); `dsync export --list` is
 * handed to dsync_cmd_verify.c, which reads backups. The format is
 * man/dsync-backup.5.
 *
 * Per user the state is listed with the same lister `dsync server` uses,
 * so a backup holds exactly what a sync would carry: mailboxes with their
 * clocks, messages, expunged keys, private flags, subscriptions,
 * metadata and ACLs. An incremental lists what changed after the user's
 * modseq in the previous backup, which the change log knows (expunges
 * and deleted mailboxes included). Bodies come once per backup chain:
 * a body the chain already holds is not written again.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsync_backup_chain.h"
#include "dsync_sync.h"
#include "mail_blob.h"
#include "mail_syncstate.h"

#define CHANGES_FRAME	(1024 * 1024)
#define DEFAULT_LEVEL	6

/* What the previous backup says about a user. */
struct prev_user {
	char	*name;
	uint64_t log_id, modseq;
	bool	 gone;
};

struct exporter {
	struct dsync_ctx *ctx;
	struct dsync_bk_writer w;
	struct wire_backup_zip *z;
	struct wire_backup_index ix;
	struct dsync_guid_set chain;		/* bodies of the previous backups */
	struct dsync_guid_set mine;		/* bodies written to this file */
	struct prev_user *prev;
	size_t	 n_prev;
	bool	 progress;
	/* the block being filled */
	struct mail_buf raw;
	struct wire_backup_piece *pieces;
	size_t	 n_pieces, cap_pieces;
	size_t	 first_body;		/* ix.bodies index of the first body
					 * starting in this block */
	struct mail_buf payload;
	/* the user being exported */
	struct mail_buf *frames;	/* CHANGES payloads */
	size_t	 n_frames, cap_frames;
	struct mail_guid ctx_mailbox;
	bool	 has_ctx;
	struct mail_guid *need;		/* bodies to write */
	size_t	 n_need, cap_need;
	struct wire_backup_user_end end;
	uint64_t n_users_done, n_users, bytes_total;
};

/* ---- bodies ---- */

static int
block_flush(struct exporter *ex, struct mail_err *err)
{
	uint64_t off;

	if (ex->n_pieces == 0)
		return 0;
	mail_buf_reset(&ex->payload);
	wire_backup_block_encode(ex->z, ex->pieces, ex->n_pieces, ex->raw.data,
	    ex->raw.len, &ex->payload);
	if (dsync_bk_write(&ex->w, WIRE_BK_BLOCK, ex->payload.data,
	    ex->payload.len, &off, err) < 0)
		return -1;
	for (size_t i = ex->first_body; i < ex->ix.n_bodies; i++)
		ex->ix.bodies[i].block_off = off;
	ex->first_body = ex->ix.n_bodies;
	ex->n_pieces = 0;
	mail_buf_reset(&ex->raw);
	return 0;
}

static int
add_body(struct exporter *ex, const struct mail_guid *h, const uint8_t *data,
    size_t len, struct mail_err *err)
{
	size_t off = 0;

	ex->ix.bodies = mail_xgrow(ex->ix.bodies, &ex->ix.cap_bodies,
	    ex->ix.n_bodies + 1, sizeof(*ex->ix.bodies));
	ex->ix.bodies[ex->ix.n_bodies].hash = *h;
	ex->ix.bodies[ex->ix.n_bodies].block_off = 0;
	ex->ix.n_bodies++;
	ex->end.n_bodies++;
	ex->end.body_bytes += len;
	ex->bytes_total += len;
	do {
		size_t room = WIRE_BACKUP_BLOCK_TARGET - ex->raw.len;
		size_t k = len - off < room ? len - off : room;
		struct wire_backup_piece *pc;

		ex->pieces = mail_xgrow(ex->pieces, &ex->cap_pieces,
		    ex->n_pieces + 1, sizeof(*ex->pieces));
		pc = &ex->pieces[ex->n_pieces++];
		pc->hash = *h;
		pc->total = len;
		pc->offset = off;
		pc->len = (uint32_t)k;
		mail_buf_append(&ex->raw, data + off, k);
		off += k;
		if (ex->raw.len >= WIRE_BACKUP_BLOCK_TARGET &&
		    block_flush(ex, err) < 0)
			return -1;
	} while (off < len);
	return 0;
}

/* ---- changes ---- */

static struct mail_buf *
cur_frame(struct exporter *ex)
{
	if (ex->n_frames == 0 || ex->frames[ex->n_frames - 1].len >=
	    CHANGES_FRAME) {
		struct mail_buf *b;

		ex->frames = mail_xgrow(ex->frames, &ex->cap_frames,
		    ex->n_frames + 1, sizeof(*ex->frames));
		b = &ex->frames[ex->n_frames++];
		memset(b, 0, sizeof(*b));
		/* each frame names its mailbox, so that a reader that lost
		 * the one before still knows where its messages belong */
		if (ex->has_ctx) {
			struct wire_change c;

			memset(&c, 0, sizeof(c));
			c.kind = WIRE_CH_CONTEXT;
			c.mailbox = ex->ctx_mailbox;
			wire_change_encode(&c, b);
			ex->end.n_changes++;
		}
	}
	return &ex->frames[ex->n_frames - 1];
}

static int
collect(void *arg, const struct wire_change *c, struct mail_err *err)
{
	struct exporter *ex = arg;

	(void)err;
	if (c->kind == WIRE_CH_CONTEXT) {
		ex->has_ctx = true;
		ex->ctx_mailbox = c->mailbox;
	}
	wire_change_encode(c, cur_frame(ex));
	ex->end.n_changes++;
	if (c->kind == WIRE_CH_PUT && !dsync_guid_set_has(&ex->chain, &c->body) &&
	    dsync_guid_set_add(&ex->mine, &c->body)) {
		ex->need = mail_xgrow(ex->need, &ex->cap_need, ex->n_need + 1,
		    sizeof(*ex->need));
		ex->need[ex->n_need++] = c->body;
	}
	return 0;
}

static void
user_reset(struct exporter *ex)
{
	for (size_t i = 0; i < ex->n_frames; i++)
		mail_buf_free(&ex->frames[i]);
	ex->n_frames = 0;
	ex->n_need = 0;
	ex->has_ctx = false;
	memset(&ex->end, 0, sizeof(ex->end));
}

static void
progress(struct exporter *ex, const char *user)
{
	if (ex->progress)
		fprintf(stderr, "\r\033[Kexport: user %" PRIu64 "/%" PRIu64
		    " %s, %.1f MB", ex->n_users_done + 1, ex->n_users, user,
		    ex->bytes_total / 1e6);
}

static const struct prev_user *
prev_find(const struct exporter *ex, const char *name)
{
	for (size_t i = 0; i < ex->n_prev; i++) {
		if (strcmp(ex->prev[i].name, name) == 0)
			return &ex->prev[i];
	}
	return NULL;
}

static int
index_user(struct exporter *ex, const char *name, uint64_t user_off,
    uint64_t changes_off, uint64_t end_off)
{
	struct wire_backup_index *ix = &ex->ix;

	ix->users = mail_xgrow(ix->users, &ix->cap_users, ix->n_users + 1,
	    sizeof(*ix->users));
	ix->users[ix->n_users].name = mail_xstrdup(name);
	ix->users[ix->n_users].user_off = user_off;
	ix->users[ix->n_users].changes_off = changes_off;
	ix->users[ix->n_users].end_off = end_off;
	ix->n_users++;
	return 0;
}

static int
write_user_frame(struct exporter *ex, const struct wire_backup_user *u,
    uint64_t *off_r, struct mail_err *err)
{
	mail_buf_reset(&ex->payload);
	wire_backup_user_encode(u, &ex->payload);
	return dsync_bk_write(&ex->w, WIRE_BK_USER, ex->payload.data,
	    ex->payload.len, off_r, err);
}

static int
write_user_end(struct exporter *ex, uint64_t *off_r, struct mail_err *err)
{
	mail_buf_reset(&ex->payload);
	wire_backup_user_end_encode(&ex->end, &ex->payload);
	return dsync_bk_write(&ex->w, WIRE_BK_USER_END, ex->payload.data,
	    ex->payload.len, off_r, err);
}

static int export_gone(struct exporter *ex, const struct prev_user *pu,
    struct mail_err *err);

static int
export_user(struct exporter *ex, const char *name, struct mail_err *err)
{
	struct mail_store *store = ex->ctx->store;
	struct mail_user *user = NULL;
	struct mail_state *st;
	struct wire_backup_user u;
	const struct prev_user *pu;
	struct mail_buf data = MAIL_BUF_INIT;
	uint64_t user_off, changes_off, end_off;
	int ret = -1;

	memset(&u, 0, sizeof(u));
	user_reset(ex);
	progress(ex, name);
	if (mail_user_open(store, name, false, &user, err) < 0) {
		if (err->code != MAIL_ERR_NOTFOUND)
			return -1;
		/* deleted since the users were listed: gone, if the
		 * previous backup had it */
		mail_err_clear(err);
		pu = prev_find(ex, name);
		ret = pu != NULL && !pu->gone ? export_gone(ex, pu, err) : 0;
		goto out;
	}
	st = mail_user_state(user);
	u.name = mail_xstrdup(name);
	u.modseq = st->modseq;
	if (mail_user_log_id(user, &u.log_id, err) < 0)
		goto out;
	pu = prev_find(ex, name);
	if (pu != NULL && !pu->gone && pu->log_id == u.log_id &&
	    pu->modseq <= u.modseq)
		u.since = pu->modseq;
	if (dsync_list_user(st, u.since, collect, ex, err) < 0)
		goto out;
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (dsync_list_msgs(st->mailboxes[i], u.since, collect, ex,
		    err) < 0)
			goto out;
	}
	if (write_user_frame(ex, &u, &user_off, err) < 0)
		goto out;
	ex->first_body = ex->ix.n_bodies;
	for (size_t i = 0; i < ex->n_need; i++) {
		mail_buf_reset(&data);
		if (mail_blobs_get(mail_store_blobs(store), &ex->need[i],
		    &data, err) < 0 ||
		    add_body(ex, &ex->need[i], data.data, data.len, err) < 0)
			goto out;
		if (i % 256 == 255)
			progress(ex, name);
	}
	if (block_flush(ex, err) < 0)
		goto out;
	changes_off = ex->w.off;
	for (size_t i = 0; i < ex->n_frames; i++) {
		if (dsync_bk_write(&ex->w, WIRE_BK_CHANGES, ex->frames[i].data,
		    ex->frames[i].len, NULL, err) < 0)
			goto out;
	}
	if (write_user_end(ex, &end_off, err) < 0)
		goto out;
	index_user(ex, name, user_off, changes_off, end_off);
	ret = 0;
out:
	if (ret < 0)
		mail_err_prefix(err, "user \"%s\"", name);
	mail_buf_free(&data);
	free(u.name);
	mail_user_close(&user);
	ex->n_users_done++;
	return ret;
}

/* A user of the previous backup that is no more. */
static int
export_gone(struct exporter *ex, const struct prev_user *pu,
    struct mail_err *err)
{
	struct wire_backup_user u;
	uint64_t user_off, end_off;

	memset(&u, 0, sizeof(u));
	u.name = pu->name;
	u.log_id = pu->log_id;
	u.modseq = u.since = pu->modseq;
	u.gone = true;
	user_reset(ex);
	if (write_user_frame(ex, &u, &user_off, err) < 0 ||
	    write_user_end(ex, &end_off, err) < 0)
		return -1;
	return index_user(ex, pu->name, user_off, end_off, end_off);
}

/* ---- the previous backup ---- */

static int
read_prev(struct exporter *ex, const char *path, struct mail_guid *parent_r,
    struct mail_err *err)
{
	struct dsync_bk_file *bf = NULL;
	struct mail_err ierr;
	int ret = -1;

	mail_err_clear(&ierr);
	if (dsync_bk_open(path, &bf, &ierr, err) < 0)
		return mail_err_prefix(err, "--since");
	if (!bf->has_index) {
		mail_err_set(err, MAIL_ERR_PARAM, "--since %s: %s", path,
		    ierr.msg[0] != '\0' ? ierr.msg : "no index");
		goto out;
	}
	*parent_r = bf->hdr.id;
	for (size_t i = 0; i < bf->ix.n_bodies; i++)
		(void)dsync_guid_set_add(&ex->chain, &bf->ix.bodies[i].hash);
	ex->prev = mail_xcalloc(bf->ix.n_users + 1, sizeof(*ex->prev));
	for (size_t i = 0; i < bf->ix.n_users; i++) {
		struct wire_frame f;
		struct wire_backup_user u;

		if (dsync_bk_seek(bf, bf->ix.users[i].user_off, err) < 0 ||
		    dsync_bk_next(bf, &f, NULL, err) <= 0)
			goto bad;
		if (f.type != WIRE_BK_USER ||
		    wire_backup_user_decode(f.payload, f.len, &u, err) < 0)
			goto bad;
		ex->prev[ex->n_prev].name = u.name;
		ex->prev[ex->n_prev].log_id = u.log_id;
		ex->prev[ex->n_prev].modseq = u.modseq;
		ex->prev[ex->n_prev].gone = u.gone;
		ex->n_prev++;
	}
	ret = 0;
	goto out;
bad:
	if (err->msg[0] == '\0')
		mail_err_set(err, MAIL_ERR_CORRUPT, "index points at no USER");
	mail_err_prefix(err, "--since %s", path);
out:
	dsync_bk_close(&bf);
	return ret;
}

/* ---- the command ---- */

static int
export_usage(void)
{
	return dsync_usage("export [-u USER | -A] [--since PREVIOUS] "
	    "[-o FILE] [-z LEVEL] | export --list FILE [-u USER [-m MAILBOX]]"
	    " | -u USER export maildir DIR");
}

static char *
source_label(const struct dsync_ctx *ctx)
{
	char host[256], path[4096];

	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	if (realpath(ctx->store_path, path) == NULL)
		snprintf(path, sizeof(path), "%s", ctx->store_path);
	return mail_xasprintf("%s:%s", host, path);
}

/* Where the backup goes: FILE.partial renamed into place at the end, so
 * a cron job never leaves a half backup under the final name. */
static int
open_output(const char *out, char **tmp_r, int *fd_r, struct mail_err *err)
{
	*tmp_r = NULL;
	if (out == NULL || strcmp(out, "-") == 0) {
		if (isatty(STDOUT_FILENO))
			return mail_err_set(err, MAIL_ERR_PARAM, "refusing to "
			    "write a backup to a terminal (use -o FILE or a "
			    "redirection)");
		*fd_r = STDOUT_FILENO;
		return 0;
	}
	*tmp_r = mail_xasprintf("%s.partial", out);
	*fd_r = open(*tmp_r, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*fd_r < 0) {
		mail_err_sys(err, errno, "create '%s'", *tmp_r);
		free(*tmp_r);
		*tmp_r = NULL;
		return -1;
	}
	return 0;
}

static int
close_output(const char *out, char *tmp, int fd, bool ok,
    struct mail_err *err)
{
	int ret = 0;

	if (tmp == NULL)
		return 0;
	if (ok && fsync(fd) < 0)
		ret = mail_err_sys(err, errno, "fsync '%s'", tmp);
	if (close(fd) < 0 && ok && ret == 0)
		ret = mail_err_sys(err, errno, "close '%s'", tmp);
	if (ok && ret == 0 && rename(tmp, out) < 0)
		ret = mail_err_sys(err, errno, "rename '%s' to '%s'", tmp, out);
	if (!ok || ret < 0)
		(void)unlink(tmp);
	free(tmp);
	return ret;
}

int
dsync_cmd_export(struct dsync_ctx *ctx, int argc, char **argv)
{
	enum { OPT_SINCE = 256, OPT_LIST };
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "list", required_argument, NULL, OPT_LIST },
		{ "output", required_argument, NULL, 'o' },
		{ "level", required_argument, NULL, 'z' },
		{ "mailbox", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct exporter ex;
	struct wire_backup_header h;
	struct mail_err err;
	const char *since = NULL, *list = NULL, *out = NULL, *mailbox = NULL;
	char **users = NULL, *tmp = NULL;
	size_t n_users = 0;
	int c, level = DEFAULT_LEVEL, fd = -1, ret;
	bool ok = false;

	dsync_take_user_opts(ctx, &argc, &argv);
	if (argc >= 2 && strcmp(argv[1], "maildir") == 0) {
		if (argc != 3)
			return export_usage();
		if ((ret = dsync_need_user(ctx, "export")) != 0 ||
		    (ret = dsync_open_store(ctx)) != 0)
			return ret;
		return dsync_maildir_export(ctx, argv[2]);
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:z:m:u:A", longopts,
	    NULL)) != -1) {
		switch (c) {
		case OPT_SINCE:
			since = optarg;
			break;
		case OPT_LIST:
			list = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'm':
			mailbox = optarg;
			break;
		case 'u':
			ctx->user = optarg;
			break;
		case 'A':
			ctx->all_users = true;
			break;
		case 'z': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end != '\0' || v < 0 || v > 12)
				return dsync_usage("-z: a level from 0 to 12, "
				    "not '%s'", optarg);
			level = (int)v;
			break;
		}
		default:
			return export_usage();
		}
	}
	if (optind != argc)
		return export_usage();
	if (list != NULL)
		return dsync_cmd_export_list(ctx, list, mailbox);
	if (mailbox != NULL)
		return dsync_usage("-m is for export --list");
	if ((ctx->user == NULL) == !ctx->all_users)
		return dsync_usage("export needs -u USER or -A");
	if ((ret = dsync_open_store(ctx)) != 0)
		return ret;

	memset(&ex, 0, sizeof(ex));
	memset(&h, 0, sizeof(h));
	ex.ctx = ctx;
	ex.progress = isatty(STDERR_FILENO);
	ex.z = wire_backup_zip_new(level);
	mail_err_clear(&err);
	if (since != NULL && read_prev(&ex, since, &h.parent, &err) < 0)
		goto out;
	/* the new file inherits the chain's bodies */
	for (size_t i = 0; i < ex.chain.cap; i++) {
		if (!ex.chain.used[i])
			continue;
		ex.ix.bodies = mail_xgrow(ex.ix.bodies, &ex.ix.cap_bodies,
		    ex.ix.n_bodies + 1, sizeof(*ex.ix.bodies));
		ex.ix.bodies[ex.ix.n_bodies].hash = ex.chain.v[i];
		ex.ix.bodies[ex.ix.n_bodies++].block_off = 0;
	}
	if (ctx->all_users) {
		struct mail_user *pub = NULL;

		if (mail_store_user_list(ctx->store, &users, &n_users,
		    &err) < 0)
			goto out;
		/* the public namespace's owner, when there is one */
		if (mail_user_open(ctx->store, MAIL_PUBLIC_USER, false, &pub,
		    &err) == 0) {
			users = mail_xrealloc(users, (n_users + 2) *
			    sizeof(*users));
			users[n_users++] = mail_xstrdup(MAIL_PUBLIC_USER);
			users[n_users] = NULL;
			mail_user_close(&pub);
		} else if (err.code != MAIL_ERR_NOTFOUND) {
			goto out;
		}
		mail_err_clear(&err);
	} else {
		struct mail_user *u = NULL;

		if (mail_user_open(ctx->store, ctx->user, false, &u, &err) < 0)
			goto out;
		mail_user_close(&u);
		users = mail_xcalloc(2, sizeof(*users));
		users[0] = mail_xstrdup(ctx->user);
		n_users = 1;
	}
	if (open_output(out, &tmp, &fd, &err) < 0)
		goto out;
	dsync_bk_writer_init(&ex.w, fd, out != NULL ? out : "stdout");
	h.version = WIRE_BACKUP_VERSION;
	h.node = mail_store_node_id(ctx->store);
	h.created_ms = mail_now_ms();
	mail_guid_generate(&h.id);
	h.all_users = ctx->all_users;
	h.source = source_label(ctx);
	mail_buf_reset(&ex.payload);
	wire_backup_header_encode(&h, &ex.payload);
	if (dsync_bk_write(&ex.w, WIRE_BK_HEADER, ex.payload.data,
	    ex.payload.len, NULL, &err) < 0)
		goto out;
	ex.n_users = n_users;
	for (size_t i = 0; i < n_users; i++) {
		if (export_user(&ex, users[i], &err) < 0)
			goto out;
	}
	for (size_t i = 0; ctx->all_users && i < ex.n_prev; i++) {
		bool found = false;

		for (size_t k = 0; k < n_users && !found; k++)
			found = strcmp(users[k], ex.prev[i].name) == 0;
		if (!found && !ex.prev[i].gone &&
		    export_gone(&ex, &ex.prev[i], &err) < 0)
			goto out;
	}
	if (dsync_bk_finish(&ex.w, &ex.ix, &err) < 0)
		goto out;
	ok = true;
out:
	if (fd >= 0 && close_output(out, tmp, fd, ok, &err) < 0)
		ok = false;
	if (ex.progress)
		fprintf(stderr, "\r\033[K");
	if (users != NULL)
		mail_store_user_list_free(users, n_users);
	for (size_t i = 0; i < ex.n_prev; i++)
		free(ex.prev[i].name);
	free(ex.prev);
	user_reset(&ex);
	free(ex.frames);
	free(ex.need);
	free(ex.pieces);
	mail_buf_free(&ex.raw);
	mail_buf_free(&ex.payload);
	dsync_guid_set_free(&ex.chain);
	dsync_guid_set_free(&ex.mine);
	wire_backup_index_free(&ex.ix);
	wire_backup_zip_free(&ex.z);
	wire_backup_header_free(&h);
	if (fd >= 0)
		dsync_bk_writer_free(&ex.w);
	return ok ? DSYNC_EXIT_OK : dsync_fail(&err);
}
