/*
 * dsync_cmd_import.c: `dsync import` restores from a backup chain, in
 * one of two ways per user:
 *
 *   replay   the user is not in the store (or has never been written):
 *            its sections are sent to a `dsync -s STORE server` as a
 *            sync would send them, so the user comes back exactly as it
 *            was (UIDs, clocks, expunged keys, metadata, ACLs): `dump`
 *            shows the same as the source's did.
 *   restore  into an existing user, or for one mailbox (-m), some
 *            messages (--uid), or into another name: each selected
 *            message whose GUID the target mailbox lacks is saved anew
 *            (new UID, same GUID, flags, keywords and dates), so a
 *            restore brings back what was expunged and a repeated
 *            restore adds nothing.
 *
 * Both go through the store's transactions, so imapd and dsyncd may run
 * meanwhile, and what is restored replicates like any other change.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsync_backup_chain.h"
#include "mail_blob.h"
#include "mail_name.h"

#define REPLAY_COMMIT_BYTES	(64u * 1024 * 1024)
#define REPLAY_COMMIT_CHANGES	5000
#define RESTORE_COMMIT_MSGS	5000
#define CHANGES_FRAME		(1024 * 1024)

/* The importer's node id in its HELLO: its own, not the store's (a
 * server refuses a peer with its own id, as a copy of itself). */
static uint64_t
import_node(void)
{
	uint64_t id = 0;

	while (id == 0)
		mail_random(&id, sizeof(id));
	return id;
}

struct import_opts {
	const char *mailbox;		/* -m */
	const char *to_user, *to_mailbox;
	struct mail_uidset uids;	/* --uid */
	bool	 has_uids;
	bool	 salvage, verbose, progress;
};

struct import_stats {
	uint64_t users_replayed, users_restored;
	uint64_t restored, present, lost;
};

/* ---- replay through a server ---- */

struct replay {
	struct dsync_peer *peer;
	struct mail_buf out;
	uint64_t changes, bytes;	/* since the last commit */
	bool	 body_open;		/* a body's pieces are under way */
	struct dsync_guid_set sent;	/* bodies sent in this replay */
	/* for bodies from elsewhere in the chain */
	struct dsync_bk_chain *ch;
	struct mail_store *store;
	struct mail_guid *need;
	size_t	 n_need, cap_need;
};

static int
replay_send(struct replay *rp, uint8_t type, const void *p, size_t n,
    struct mail_err *err)
{
	return wire_io_send(rp->peer->io, type, p, n, err);
}

static int
replay_flush(struct replay *rp, struct mail_err *err)
{
	int ret = 0;

	if (rp->out.len > 0)
		ret = replay_send(rp, WIRE_MSG_CHANGES, rp->out.data,
		    rp->out.len, err);
	mail_buf_reset(&rp->out);
	return ret;
}

static int
replay_commit(struct replay *rp, struct mail_err *err)
{
	struct wire_frame f;

	if (replay_flush(rp, err) < 0 ||
	    replay_send(rp, WIRE_MSG_COMMIT, NULL, 0, err) < 0 ||
	    wire_io_flush(rp->peer->io, err) < 0 ||
	    wire_io_expect(rp->peer->io, WIRE_MSG_COMMITTED, &f, err) < 0)
		return -1;
	rp->changes = rp->bytes = 0;
	return 0;
}

static int
replay_maybe_commit(struct replay *rp, struct mail_err *err)
{
	if (rp->body_open || (rp->bytes < REPLAY_COMMIT_BYTES &&
	    rp->changes < REPLAY_COMMIT_CHANGES))
		return 0;
	return replay_commit(rp, err);
}

static int
replay_block(struct replay *rp, struct wire_backup_zip *z,
    struct wire_backup_block *blk, const struct wire_frame *f,
    struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	size_t pos = 0;
	int ret = 0;

	if (wire_backup_block_decode(z, f->payload, f->len, blk, err) < 0)
		return -1;
	for (size_t i = 0; i < blk->n && ret == 0; i++) {
		const struct wire_backup_piece *pc = &blk->v[i];
		struct wire_body_chunk c;

		c.hash = pc->hash;
		c.total = pc->total;
		c.offset = pc->offset;
		c.data = blk->data.data + pos;
		c.len = pc->len;
		pos += pc->len;
		mail_buf_reset(&b);
		wire_body_encode(&c, &b);
		ret = replay_send(rp, WIRE_MSG_BODY_PUT, b.data, b.len, err);
		rp->bytes += pc->len;
		rp->body_open = pc->offset + pc->len < pc->total;
		if (pc->offset == 0)
			(void)dsync_guid_set_add(&rp->sent, &pc->hash);
	}
	mail_buf_free(&b);
	return ret;
}

static int
replay_change(void *ctx, const struct wire_change *c, struct mail_err *err)
{
	struct replay *rp = ctx;
	struct wire_change m;

	m = *c;
	/* the restore knows the mailbox as it is: its delete is meant
	 * (the server refuses deletes from clients that know less) */
	if (m.kind == WIRE_CH_MAILBOX)
		m.highestmodseq = UINT64_MAX;
	wire_change_encode(&m, &rp->out);
	rp->changes++;
	if (rp->out.len >= CHANGES_FRAME && replay_flush(rp, err) < 0)
		return -1;
	return 0;
}

/* A message whose body is neither sent yet nor in the store: its body
 * is in another section of the chain (another user's, or an earlier
 * file's). */
static int
replay_need(void *ctx, const struct wire_change *c, struct mail_err *err)
{
	struct replay *rp = ctx;
	int has;

	if (c->kind != WIRE_CH_PUT || dsync_guid_set_has(&rp->sent, &c->body))
		return 0;
	if ((has = mail_blobs_has(mail_store_blobs(rp->store), &c->body,
	    err)) < 0)
		return -1;
	if (has == 0) {
		rp->need = mail_xgrow(rp->need, &rp->cap_need, rp->n_need + 1,
		    sizeof(*rp->need));
		rp->need[rp->n_need++] = c->body;
	}
	(void)dsync_guid_set_add(&rp->sent, &c->body);
	return 0;
}

static int
replay_other_bodies(struct replay *rp, struct dsync_bk_cfile *cf,
    const struct dsync_bk_section *sec, struct mail_err *err)
{
	struct mail_buf body = MAIL_BUF_INIT;
	int ret = 0;

	rp->n_need = 0;
	if (dsync_bk_section_changes(cf, sec, replay_need, rp, err) < 0)
		return -1;
	for (size_t i = 0; i < rp->n_need && ret == 0; i++) {
		if (dsync_bk_chain_body(rp->ch, &rp->need[i], &body, err) < 0 ||
		    dsync_send_body(rp->peer->io, WIRE_MSG_BODY_PUT,
		    &rp->need[i], body.data, body.len, err) < 0)
			ret = -1;
		rp->bytes += body.len;
	}
	mail_buf_free(&body);
	return ret;
}

/* Send one section: its bodies, then its changes. */
static int
replay_section(struct replay *rp, struct dsync_bk_cfile *cf,
    const struct dsync_bk_section *sec, struct wire_backup_zip *z,
    struct wire_backup_block *blk, struct mail_err *err)
{
	struct dsync_bk_file *bf = cf->bf;
	struct mail_reader r;
	struct wire_change c;
	struct wire_frame f;
	uint64_t off;
	int ret;

	if (dsync_bk_seek(bf, sec->user_off, err) < 0 ||
	    dsync_bk_next(bf, &f, NULL, err) < 0)
		return -1;
	for (;;) {
		if ((ret = dsync_bk_next(bf, &f, &off, err)) < 0)
			return -1;
		if (ret == 0 || f.type != WIRE_BK_BLOCK)
			break;
		if (replay_block(rp, z, blk, &f, err) < 0 ||
		    replay_maybe_commit(rp, err) < 0)
			return -1;
	}
	if (ret > 0 && f.type == WIRE_BK_CHANGES) {
		if (replay_other_bodies(rp, cf, sec, err) < 0 ||
		    dsync_bk_seek(bf, sec->changes_off, err) < 0 ||
		    (ret = dsync_bk_next(bf, &f, &off, err)) < 0)
			return -1;
	}
	while (ret > 0 && f.type == WIRE_BK_CHANGES) {
		mail_reader_init(&r, f.payload, f.len);
		while ((ret = wire_change_decode(&r, &c, err)) > 0) {
			ret = replay_change(rp, &c, err);
			wire_change_free(&c);
			if (ret < 0)
				return -1;
		}
		if (ret < 0) {
			err->code = MAIL_ERR_CORRUPT;
			mail_err_prefix(err, "offset %" PRIu64, off);
			return dsync_bk_err(bf, err);
		}
		if (replay_flush(rp, err) < 0 ||
		    replay_maybe_commit(rp, err) < 0)
			return -1;
		if ((ret = dsync_bk_next(bf, &f, &off, err)) < 0)
			return -1;
	}
	if (ret == 0 || f.type != WIRE_BK_USER_END) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "offset %" PRIu64 ": "
		    "user \"%s\" does not end with USER_END", off,
		    sec->user.name);
		return dsync_bk_err(bf, err);
	}
	return 0;
}

static int
replay_open(struct replay *rp, const char *user, struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	int ret;

	mail_buf_put_str(&b, user);
	mail_buf_put_le64(&b, 0);
	mail_buf_put_u8(&b, 1);
	ret = replay_send(rp, WIRE_MSG_OPEN, b.data, b.len, err);
	mail_buf_free(&b);
	if (ret < 0 || wire_io_flush(rp->peer->io, err) < 0 ||
	    wire_io_expect(rp->peer->io, WIRE_MSG_HEAD, &f, err) < 0)
		return -1;
	return 0;
}

/* The server of the store, started at the first replay and kept for the
 * users after it (*peerp; the caller closes it). */
static int
replay_connect(struct dsync_ctx *ctx, struct dsync_peer **peerp,
    struct mail_err *err)
{
	struct dsync_connect_opts co;

	if (*peerp != NULL)
		return 0;
	memset(&co, 0, sizeof(co));
	co.timeout_ms = 600 * 1000;
	return dsync_peer_connect(ctx->store_path, &co, import_node(), peerp,
	    err);
}

static int
replay_user(struct dsync_ctx *ctx, struct dsync_peer **peerp,
    struct dsync_bk_chain *ch, const char *user,
    const struct dsync_bk_usec *v, size_t n, struct mail_err *err)
{
	struct replay rp;
	struct wire_backup_zip *z = wire_backup_zip_new(0);
	struct wire_backup_block blk;
	int ret = -1;

	memset(&rp, 0, sizeof(rp));
	rp.ch = ch;
	rp.store = ctx->store;
	memset(&blk, 0, sizeof(blk));
	if (replay_connect(ctx, peerp, err) < 0)
		goto out;
	rp.peer = *peerp;
	if (replay_open(&rp, user, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (replay_section(&rp, v[i].file, v[i].sec, z, &blk,
		    err) < 0)
			goto out;
	}
	if (replay_commit(&rp, err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0 && *peerp != NULL)
		dsync_peer_abort(peerp);
	mail_buf_free(&rp.out);
	dsync_guid_set_free(&rp.sent);
	free(rp.need);
	wire_backup_block_free(&blk);
	wire_backup_zip_free(&z);
	return ret;
}

/* ---- the state of a user at the end of the chain ---- */

struct rmsg {
	struct mail_msg_key key;
	uint64_t seq;			/* order of appearance */
	bool	 tomb;
	struct wire_change put;		/* owned (PUT only) */
};

struct rmbox {
	struct mail_guid guid;
	char	*name;
	char	*special_use;
	bool	 deleted;
	bool	 wanted;		/* -m: its name at the end matches */
	struct rmsg *msgs;
	size_t	 n_msgs, cap_msgs;
};

struct rstate {
	struct rmbox *v;
	size_t	 n, cap;
	struct rmbox *cur;
	uint64_t seq;
	/* what to keep: with -m only the wanted mailboxes' messages, with
	 * --uid only those UIDs (and whatever later says of their keys), so
	 * one message of a big user costs little */
	const struct import_opts *o;
	bool	 headers_only;		/* the first pass of -m */
	char	**subs;			/* subscribed at the end */
	size_t	 n_subs, cap_subs;
};

static struct rmbox *
rstate_mailbox(struct rstate *rs, const struct mail_guid *g)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (mail_guid_cmp(&rs->v[i].guid, g) == 0)
			return &rs->v[i];
	}
	rs->v = mail_xgrow(rs->v, &rs->cap, rs->n + 1, sizeof(*rs->v));
	memset(&rs->v[rs->n], 0, sizeof(rs->v[rs->n]));
	rs->v[rs->n].guid = *g;
	return &rs->v[rs->n++];
}

static void
rstate_sub(struct rstate *rs, const char *name, bool on)
{
	for (size_t i = 0; i < rs->n_subs; i++) {
		if (strcmp(rs->subs[i], name) == 0) {
			if (!on) {
				free(rs->subs[i]);
				rs->subs[i] = rs->subs[--rs->n_subs];
			}
			return;
		}
	}
	if (on) {
		rs->subs = mail_xgrow(rs->subs, &rs->cap_subs, rs->n_subs + 1,
		    sizeof(*rs->subs));
		rs->subs[rs->n_subs++] = mail_xstrdup(name);
	}
}

/* Later changes win: the chain is one store at later and later times. */
static int
rstate_change(void *ctx, const struct wire_change *c, struct mail_err *err)
{
	struct rstate *rs = ctx;
	struct rmbox *mb;
	struct rmsg *m;

	(void)err;
	switch (c->kind) {
	case WIRE_CH_MAILBOX:
		mb = rstate_mailbox(rs, &c->mailbox);
		free(mb->name);
		free(mb->special_use);
		mb->name = mail_xstrdup(c->name);
		mb->special_use = mail_xstrdup(c->special_use != NULL ?
		    c->special_use : "");
		mb->deleted = c->deleted;
		break;
	case WIRE_CH_CONTEXT:
		if (rs->headers_only)
			return 1;	/* the headers come first: done */
		rs->cur = rstate_mailbox(rs, &c->mailbox);
		break;
	case WIRE_CH_PUT:
	case WIRE_CH_TOMB:
		if (rs->cur == NULL || (rs->o->mailbox != NULL &&
		    !rs->cur->wanted))
			break;
		mb = rs->cur;
		if (rs->o->has_uids && (c->kind == WIRE_CH_TOMB ||
		    !mail_uidset_contains(&rs->o->uids, c->uid))) {
			bool tracked = false;

			for (size_t i = 0; i < mb->n_msgs && !tracked; i++)
				tracked = mail_msg_key_cmp(&mb->msgs[i].key,
				    &c->key) == 0;
			if (!tracked)
				break;
		}
		mb->msgs = mail_xgrow(mb->msgs, &mb->cap_msgs, mb->n_msgs + 1,
		    sizeof(*mb->msgs));
		m = &mb->msgs[mb->n_msgs++];
		memset(m, 0, sizeof(*m));
		m->key = c->key;
		m->seq = rs->seq++;
		m->tomb = c->kind == WIRE_CH_TOMB;
		if (!m->tomb) {
			m->put = *c;
			m->put.keywords = mail_xcalloc(c->n_keywords + 1,
			    sizeof(char *));
			for (size_t i = 0; i < c->n_keywords; i++)
				m->put.keywords[i] =
				    mail_xstrdup(c->keywords[i]);
			m->put.name = m->put.special_use = m->put.user = NULL;
			m->put.value = NULL;
		}
		break;
	case WIRE_CH_SUB:
		rstate_sub(rs, c->name, c->on);
		break;
	default:
		break;
	}
	return 0;
}

static void
rmsg_free(struct rmsg *m)
{
	if (!m->tomb) {
		for (size_t i = 0; i < m->put.n_keywords; i++)
			free(m->put.keywords[i]);
		free(m->put.keywords);
	}
}

static int
cmp_rmsg_key(const void *a, const void *b)
{
	const struct rmsg *x = a, *y = b;
	int c = mail_msg_key_cmp(&x->key, &y->key);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
cmp_rmsg_uid(const void *a, const void *b)
{
	const struct rmsg *x = a, *y = b;

	return x->put.uid < y->put.uid ? -1 : x->put.uid > y->put.uid;
}

/* Keep the last word on each key; drop expunged ones; UID order. */
static void
rstate_settle(struct rstate *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		struct rmbox *mb = &rs->v[i];
		size_t k = 0;

		mail_qsort(mb->msgs, mb->n_msgs, sizeof(*mb->msgs),
		    cmp_rmsg_key);
		for (size_t j = 0; j < mb->n_msgs; j++) {
			bool last = j + 1 == mb->n_msgs ||
			    mail_msg_key_cmp(&mb->msgs[j].key,
			    &mb->msgs[j + 1].key) != 0;

			if (last && !mb->msgs[j].tomb)
				mb->msgs[k++] = mb->msgs[j];
			else
				rmsg_free(&mb->msgs[j]);
		}
		mb->n_msgs = k;
		mail_qsort(mb->msgs, mb->n_msgs, sizeof(*mb->msgs),
		    cmp_rmsg_uid);
	}
}

static void
rstate_free(struct rstate *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		for (size_t j = 0; j < rs->v[i].n_msgs; j++)
			rmsg_free(&rs->v[i].msgs[j]);
		free(rs->v[i].msgs);
		free(rs->v[i].name);
		free(rs->v[i].special_use);
	}
	free(rs->v);
	for (size_t i = 0; i < rs->n_subs; i++)
		free(rs->subs[i]);
	free(rs->subs);
	memset(rs, 0, sizeof(*rs));
}

/* ---- restore as new messages ---- */

static bool
name_matches(const char *a, const char *b)
{
	if (strcasecmp(a, "INBOX") == 0)
		return strcasecmp(b, "INBOX") == 0;
	return strcmp(a, b) == 0;
}

static bool
subscribed(const struct mail_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_subs; i++) {
		if (strcmp(st->subs[i].name, name) == 0)
			return st->subs[i].on;
	}
	return false;
}

/* The target mailbox in t's state, created if missing. */
static int
target_mailbox(struct mail_txn *t, const char *name, const char *special_use,
    struct mail_mailbox **mb_r, struct mail_err *err)
{
	struct mail_state *st = mail_user_state(mail_txn_user(t));

	*mb_r = mail_state_mailbox_by_name(st, name);
	if (*mb_r != NULL)
		return 0;
	if (mail_op_mailbox_create(t, name, special_use, mb_r, err) == 0)
		return 0;
	/* the special-use may be another mailbox's by now */
	if (special_use[0] == '\0' || err->code == MAIL_ERR_EXISTS)
		return -1;
	mail_err_clear(err);
	return mail_op_mailbox_create(t, name, "", mb_r, err);
}

static int
restore_mailbox(struct dsync_bk_chain *ch, struct mail_user *user,
    const struct rmbox *src, const char *name, const struct import_opts *o,
    struct import_stats *stats, struct mail_err *err)
{
	struct mail_txn *t = NULL;
	struct mail_mailbox *mb;
	struct mail_buf body = MAIL_BUF_INIT;
	struct dsync_guid_set have;	/* GUIDs the target holds */
	bool have_built = false;
	size_t in_txn = 0;
	uint64_t in_bytes = 0;
	int ret = -1;

	memset(&have, 0, sizeof(have));
	for (size_t i = 0; i < src->n_msgs; i++) {
		const struct wire_change *p = &src->msgs[i].put;
		struct mail_flag_list fl;
		struct mail_save_opts so;
		bool present = false;
		uint32_t uid;

		if (o->has_uids && !mail_uidset_contains(&o->uids, p->uid))
			continue;
		if (t == NULL) {
			if (mail_txn_begin(user, &t, err) < 0 ||
			    target_mailbox(t, name, src->special_use, &mb,
			    err) < 0)
				goto out;
		}
		if (!have_built) {
			for (size_t k = 0; k < mb->n_msgs; k++)
				(void)dsync_guid_set_add(&have,
				    &mb->msgs[k].guid);
			have_built = true;
		}
		present = !dsync_guid_set_add(&have, &p->key.guid);
		if (present) {
			stats->present++;
			continue;
		}
		if (dsync_bk_chain_body(ch, &p->body, &body, err) < 0) {
			if (!o->salvage)
				goto out;
			fprintf(stderr, "dsync: warning: UID %u of \"%s\" not "
			    "restored: %s\n", (unsigned)p->uid, src->name,
			    err->msg);
			mail_err_clear(err);
			stats->lost++;
			continue;
		}
		memset(&fl, 0, sizeof(fl));
		fl.flags = p->flags;
		for (size_t k = 0; k < p->n_keywords; k++)
			mail_flag_list_add_keyword(&fl, p->keywords[k]);
		memset(&so, 0, sizeof(so));
		so.flags = &fl;
		so.idate = p->idate;
		so.sdate = p->sdate;
		so.has_idate = so.has_sdate = true;
		so.guid = &p->key.guid;
		ret = mail_op_save(t, mb, body.data, body.len, &so, &uid, NULL,
		    err);
		mail_flag_list_free(&fl);
		if (ret < 0)
			goto out;
		ret = -1;
		/* the state may have moved: find the mailbox again */
		mb = mail_state_mailbox_by_name(mail_user_state(user), name);
		stats->restored++;
		in_bytes += body.len;
		if (++in_txn >= RESTORE_COMMIT_MSGS ||
		    in_bytes >= REPLAY_COMMIT_BYTES) {
			in_bytes = 0;
			if (mail_txn_commit(&t, err) < 0)
				goto out;
			in_txn = 0;
		}
	}
	/* a mailbox with nothing to restore still comes back */
	if (t == NULL && !o->has_uids) {
		if (mail_txn_begin(user, &t, err) < 0 ||
		    target_mailbox(t, name, src->special_use, &mb, err) < 0)
			goto out;
	}
	if (t != NULL && mail_txn_commit(&t, err) < 0)
		goto out;
	ret = 0;
out:
	if (t != NULL)
		mail_txn_rollback(&t);
	mail_buf_free(&body);
	dsync_guid_set_free(&have);
	if (ret < 0)
		mail_err_prefix(err, "mailbox \"%s\"", name);
	return ret;
}

static int
restore_user(struct dsync_ctx *ctx, struct dsync_bk_chain *ch,
    const char *user, const struct dsync_bk_usec *v, size_t n,
    const struct import_opts *o, struct import_stats *stats,
    struct mail_err *err)
{
	const char *target = o->to_user != NULL ? o->to_user : user;
	struct mail_user *mu = NULL;
	struct rstate rs;
	size_t matched = 0;
	uint64_t before = stats->restored + stats->present + stats->lost;
	int ret = -1;

	memset(&rs, 0, sizeof(rs));
	rs.o = o;
	if (o->mailbox != NULL) {
		/* which mailbox has that name at the end of the chain */
		rs.headers_only = true;
		for (size_t i = 0; i < n; i++) {
			if (dsync_bk_section_changes(v[i].file, v[i].sec,
			    rstate_change, &rs, err) < 0 && !o->salvage)
				goto out;
			mail_err_clear(err);
		}
		for (size_t i = 0; i < rs.n; i++)
			rs.v[i].wanted = !rs.v[i].deleted &&
			    rs.v[i].name != NULL &&
			    name_matches(rs.v[i].name, o->mailbox);
		rs.headers_only = false;
	}
	for (size_t i = 0; i < n; i++) {
		rs.cur = NULL;
		if (dsync_bk_section_changes(v[i].file, v[i].sec, rstate_change,
		    &rs, err) < 0) {
			if (!o->salvage)
				goto out;
			fprintf(stderr, "dsync: warning: %s\n", err->msg);
			mail_err_clear(err);
		}
	}
	rstate_settle(&rs);
	if (mail_user_open(ctx->store, target,
	    strcmp(target, MAIL_PUBLIC_USER) == 0, &mu, err) < 0) {
		if (err->code != MAIL_ERR_NOTFOUND ||
		    mail_store_user_add(ctx->store, target, err) < 0 ||
		    mail_user_open(ctx->store, target, false, &mu, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < rs.n; i++) {
		const struct rmbox *src = &rs.v[i];
		const char *name;

		if (src->deleted || src->name == NULL ||
		    (o->mailbox != NULL && !name_matches(src->name,
		    o->mailbox)))
			continue;
		matched++;
		name = o->to_mailbox != NULL ? o->to_mailbox : src->name;
		if (restore_mailbox(ch, mu, src, name, o, stats, err) < 0)
			goto out;
	}
	if (o->mailbox != NULL && matched == 0) {
		mail_err_set(err, MAIL_ERR_NOTFOUND, "no mailbox \"%s\" in the "
		    "backup", o->mailbox);
		goto out;
	}
	if (o->has_uids && stats->restored + stats->present + stats->lost ==
	    before) {
		struct mail_buf b = MAIL_BUF_INIT;

		mail_uidset_format(&o->uids, &b);
		mail_err_set(err, MAIL_ERR_NOTFOUND, "no message with UID %s in "
		    "mailbox \"%s\" of the backup", (char *)b.data,
		    o->mailbox);
		mail_buf_free(&b);
		goto out;
	}
	/* subscriptions of what came back */
	if (o->mailbox == NULL && o->to_user == NULL) {
		struct mail_txn *t = NULL;

		for (size_t i = 0; i < rs.n_subs; i++) {
			if (subscribed(mail_user_state(mu), rs.subs[i]))
				continue;
			if ((t == NULL && mail_txn_begin(mu, &t, err) < 0) ||
			    mail_op_subscribe(t, rs.subs[i], true, err) < 0) {
				if (t != NULL)
					mail_txn_rollback(&t);
				goto out;
			}
		}
		if (t != NULL && mail_txn_commit(&t, err) < 0)
			goto out;
	}
	stats->users_restored++;
	ret = 0;
out:
	mail_user_close(&mu);
	rstate_free(&rs);
	return ret;
}

/* ---- streaming: one file from a pipe, replayed in order ---- */

static int
import_stream(struct dsync_ctx *ctx, struct dsync_bk_chain *ch,
    struct import_stats *stats, struct mail_err *err)
{
	struct dsync_bk_file *bf = ch->files[0].bf;
	struct replay rp;
	struct wire_backup_zip *z = wire_backup_zip_new(0);
	struct wire_backup_block blk;
	struct wire_backup_user u;
	struct wire_frame f;
	bool active = false, skip = false;
	uint64_t off;
	int ret = -1, r;

	memset(&rp, 0, sizeof(rp));
	memset(&blk, 0, sizeof(blk));
	memset(&u, 0, sizeof(u));
	if (replay_connect(ctx, &rp.peer, err) < 0)
		goto out;
	while ((r = dsync_bk_next(bf, &f, &off, err)) > 0) {
		switch (f.type) {
		case WIRE_BK_USER: {
			struct mail_user *mu = NULL;

			wire_backup_user_free(&u);
			if (wire_backup_user_decode(f.payload, f.len, &u,
			    err) < 0)
				goto corrupt;
			skip = u.gone;
			if (skip)
				break;
			if (mail_user_open(ctx->store, u.name, false, &mu,
			    err) == 0) {
				bool used = mail_user_state(mu)->modseq > 0;

				mail_user_close(&mu);
				if (used) {
					mail_err_set(err, MAIL_ERR_PARAM,
					    "user \"%s\" exists: restoring "
					    "into it needs the backup as a "
					    "file, not a pipe", u.name);
					goto out;
				}
			} else if (err->code != MAIL_ERR_NOTFOUND) {
				goto out;
			}
			mail_err_clear(err);
			if (replay_open(&rp, u.name, err) < 0)
				goto out;
			active = true;
			break;
		}
		case WIRE_BK_BLOCK:
			if (active && !skip &&
			    (replay_block(&rp, z, &blk, &f, err) < 0 ||
			    replay_maybe_commit(&rp, err) < 0))
				goto out;
			break;
		case WIRE_BK_CHANGES:
			if (active && !skip) {
				struct mail_reader rd;
				struct wire_change c;

				mail_reader_init(&rd, f.payload, f.len);
				while ((r = wire_change_decode(&rd, &c,
				    err)) > 0) {
					r = replay_change(&rp, &c, err);
					wire_change_free(&c);
					if (r < 0)
						goto out;
				}
				if (r < 0)
					goto corrupt;
				if (replay_flush(&rp, err) < 0 ||
				    replay_maybe_commit(&rp, err) < 0)
					goto out;
			}
			break;
		case WIRE_BK_USER_END:
			if (active && !skip) {
				if (replay_commit(&rp, err) < 0)
					goto out;
				stats->users_replayed++;
			}
			active = false;
			break;
		default:
			break;
		}
	}
	if (r < 0)
		goto out;
	if (active) {
		mail_err_set(err, MAIL_ERR_CORRUPT, "the stream ends inside "
		    "user \"%s\" (truncated): what came before is restored",
		    u.name);
		goto named;
	}
	if (dsync_peer_close(&rp.peer, err) < 0)
		goto out;
	ret = 0;
	goto out;
corrupt:
	err->code = MAIL_ERR_CORRUPT;
	mail_err_prefix(err, "offset %" PRIu64, off);
named:
	dsync_bk_err(bf, err);
out:
	if (rp.peer != NULL)
		dsync_peer_abort(&rp.peer);
	wire_backup_user_free(&u);
	mail_buf_free(&rp.out);
	dsync_guid_set_free(&rp.sent);
	wire_backup_block_free(&blk);
	wire_backup_zip_free(&z);
	return ret;
}

/* ---- the command ---- */

static int
import_usage(void)
{
	return dsync_usage("import [-u USER] [-m MAILBOX] [--uid UIDSET] "
	    "[--to-user USER] [--to-mailbox NAME] [--salvage] [-v] FILE... | "
	    "-u USER import maildir DIR");
}

/* Replay when the whole user is restored under its name into a store
 * that has never had it (or has an untouched one). */
static int
can_replay(struct dsync_ctx *ctx, const char *user, const struct import_opts *o,
    const struct dsync_bk_usec *v, size_t n, bool *replay_r,
    struct mail_err *err)
{
	struct mail_user *mu = NULL;

	*replay_r = false;
	if (o->mailbox != NULL || o->has_uids || o->to_user != NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].sec->damaged)
			return 0;
	}
	if (mail_user_open(ctx->store, user, false, &mu, err) < 0) {
		if (err->code != MAIL_ERR_NOTFOUND)
			return -1;
		mail_err_clear(err);
		*replay_r = true;
		return 0;
	}
	*replay_r = mail_user_state(mu)->modseq == 0;
	mail_user_close(&mu);
	return 0;
}

static int
import_users(struct dsync_ctx *ctx, struct dsync_bk_chain *ch,
    const struct import_opts *o, struct import_stats *stats,
    struct mail_err *err)
{
	struct dsync_peer *peer = NULL;
	char **users;
	size_t n_users;
	int ret = 0;
	bool found = false;

	users = dsync_bk_chain_users(ch, &n_users);
	for (size_t i = 0; i < n_users && ret == 0; i++) {
		struct dsync_bk_usec *v = NULL;
		size_t n = 0;
		bool replay;

		if (ctx->user != NULL && strcmp(ctx->user, users[i]) != 0)
			continue;
		found = true;
		if (o->progress)
			fprintf(stderr, "\r\033[Kimport: user %zu/%zu %s",
			    i + 1, n_users, users[i]);
		if (dsync_bk_chain_user(ch, users[i], &v, &n, err) < 0 ||
		    can_replay(ctx, users[i], o, v, n, &replay, err) < 0)
			ret = -1;
		else if (n == 0)
			;	/* deleted at the source: nothing to restore */
		else if (replay) {
			ret = replay_user(ctx, &peer, ch, users[i], v, n,
			    err);
			if (ret == 0)
				stats->users_replayed++;
		} else {
			ret = restore_user(ctx, ch, users[i], v, n, o, stats,
			    err);
		}
		if (ret < 0)
			mail_err_prefix(err, "user \"%s\"", users[i]);
		free(v);
	}
	free(users);
	if (peer != NULL) {
		if (ret == 0)
			ret = dsync_peer_close(&peer, err);
		else
			dsync_peer_abort(&peer);
	}
	if (ret == 0 && ctx->user != NULL && !found)
		return mail_err_set(err, MAIL_ERR_NOTFOUND, "no user \"%s\" in "
		    "the backup", ctx->user);
	return ret;
}

int
dsync_cmd_import(struct dsync_ctx *ctx, int argc, char **argv)
{
	enum { OPT_UID = 256, OPT_TO_USER, OPT_TO_MAILBOX, OPT_SALVAGE };
	static const struct option longopts[] = {
		{ "uid", required_argument, NULL, OPT_UID },
		{ "to-user", required_argument, NULL, OPT_TO_USER },
		{ "to-mailbox", required_argument, NULL, OPT_TO_MAILBOX },
		{ "salvage", no_argument, NULL, OPT_SALVAGE },
		{ "mailbox", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct import_opts o;
	struct import_stats stats;
	struct dsync_bk_chain *ch = NULL;
	struct mail_err err;
	int c, ret;

	dsync_take_user_opts(ctx, &argc, &argv);
	if (argc >= 2 && strcmp(argv[1], "maildir") == 0) {
		if (argc != 3)
			return import_usage();
		if ((ret = dsync_need_user(ctx, "import")) != 0 ||
		    (ret = dsync_open_store(ctx)) != 0)
			return ret;
		return dsync_maildir_import(ctx, argv[2]);
	}
	memset(&o, 0, sizeof(o));
	memset(&stats, 0, sizeof(stats));
	o.progress = isatty(STDERR_FILENO);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "m:u:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.mailbox = optarg;
			break;
		case 'u':
			ctx->user = optarg;
			break;
		case 'v':
			o.verbose = true;
			break;
		case OPT_UID:
			mail_uidset_free(&o.uids);
			if (mail_uidset_parse(optarg, UINT32_MAX, &o.uids,
			    &err) < 0)
				return dsync_usage("--uid: %s", err.msg);
			o.has_uids = true;
			break;
		case OPT_TO_USER:
			o.to_user = optarg;
			break;
		case OPT_TO_MAILBOX:
			o.to_mailbox = optarg;
			break;
		case OPT_SALVAGE:
			o.salvage = true;
			break;
		default:
			mail_uidset_free(&o.uids);
			return import_usage();
		}
	}
	ret = DSYNC_EXIT_USAGE;
	if (optind == argc)
		ret = import_usage();
	else if ((o.mailbox != NULL || o.to_user != NULL) && ctx->user == NULL)
		ret = dsync_usage("-m and --to-user need -u USER");
	else if (o.has_uids && o.mailbox == NULL)
		ret = dsync_usage("--uid needs -m MAILBOX");
	else if (o.to_mailbox != NULL && o.mailbox == NULL)
		ret = dsync_usage("--to-mailbox needs -m MAILBOX");
	else if (ctx->all_users)
		ret = dsync_usage("import restores every user unless -u is "
		    "given; -A is not needed");
	else if (o.to_mailbox != NULL &&
	    mail_mailbox_name_check(o.to_mailbox, &err) < 0)
		ret = dsync_usage("--to-mailbox: %s", err.msg);
	else if (o.to_user != NULL && mail_user_name_check(o.to_user,
	    &err) < 0)
		ret = dsync_usage("--to-user: %s", err.msg);
	else
		ret = dsync_open_store(ctx);
	if (ret != 0) {
		mail_uidset_free(&o.uids);
		return ret;
	}
	mail_err_clear(&err);
	ret = dsync_bk_chain_open(argv + optind, (size_t)(argc - optind),
	    (o.salvage ? DSYNC_BK_SALVAGE : 0) | (o.mailbox != NULL ||
	    o.to_user != NULL ? DSYNC_BK_NEED_INDEX : 0), &ch, &err);
	if (ret == 0 && ch->streaming && ctx->user != NULL) {
		/* another user's section may hold a body this one needs */
		ret = -1;
		mail_err_set(&err, MAIL_ERR_PARAM, "-u needs the backup as a "
		    "file, not a pipe");
	} else if (ret == 0) {
		if (ch->streaming)
			ret = import_stream(ctx, ch, &stats, &err);
		else
			ret = import_users(ctx, ch, &o, &stats, &err);
	}
	if (o.progress)
		fprintf(stderr, "\r\033[K");
	if (ret == 0 && (o.verbose || o.progress))
		printf("import: %" PRIu64 " users replayed, %" PRIu64
		    " restored into existing users: %" PRIu64 " messages "
		    "restored, %" PRIu64 " already there%s\n",
		    stats.users_replayed, stats.users_restored, stats.restored,
		    stats.present, "");
	for (size_t i = 0; ret == 0 && ch != NULL && i < ch->n_files; i++) {
		if (ch->files[i].damaged) {
			ret = -1;
			mail_err_set(&err, MAIL_ERR_CORRUPT, "%s is damaged: "
			    "what was intact is restored%s",
			    ch->files[i].bf->path, stats.lost > 0 ?
			    ", some messages are lost" : "");
		}
	}
	if (ret == 0 && stats.lost > 0) {
		ret = -1;
		mail_err_set(&err, MAIL_ERR_CORRUPT, "%" PRIu64 " messages "
		    "could not be restored (damaged)", stats.lost);
	}
	dsync_bk_chain_close(&ch);
	mail_uidset_free(&o.uids);
	return ret == 0 ? DSYNC_EXIT_OK : dsync_fail(&err);
}
