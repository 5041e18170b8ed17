/*
 * dsync_server.c: `dsync -s STORE server`, the server side of the sync
 * protocol on stdin/stdout. It lists its state and applies what the
 * client tells it, each change joined into the store by the same
 * last-writer-wins rules the state uses, so a change applied twice, late
 * or out of order does no harm. It decides nothing about the merge.
 *
 * Every change a peer sends is checked as if typed by a stranger: names,
 * keywords, rights, clocks, sizes, and bodies against their hashes.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsync_cli.h"
#include "dsync_sync.h"
#include "mail_hlc.h"
#include "mail_name.h"
#include "mail_syncstate.h"
#include "wire_io.h"
#include "wire_sync.h"

#define LIST_FRAME_BYTES	(1024 * 1024)

struct server {
	struct mail_store *store;
	struct wire_io *io;
	uint64_t node;
	struct mail_user *user;
	struct mail_txn *txn;
	uint64_t txn_pre;		/* state modseq when txn began */
	bool	 has_ctx;
	bool	 warned_keywords;	/* about MAIL_MAILBOX_MAX_KEYWORDS */
	struct mail_guid ctx;		/* mailbox of PUT/TOMB/PVT changes */
	struct mail_uidset expunge;	/* TOMBs of live messages of ctx, one
					 * MSG_EXPUNGE record for all (a record
					 * each would insert tombstones one by
					 * one) */
	struct mail_buf body;		/* body being received */
	struct mail_guid body_hash;
	uint64_t body_total;
	struct mail_guid *put;		/* bodies stored in this txn */
	size_t	 n_put, cap_put;
	struct mail_buf out;		/* CHANGES frame being filled */
	uint64_t n_out;
};

static int
emit_flush(struct server *s, struct mail_err *err)
{
	int ret = 0;

	if (s->out.len > 0)
		ret = wire_io_send(s->io, WIRE_MSG_CHANGES, s->out.data,
		    s->out.len, err);
	mail_buf_reset(&s->out);
	return ret;
}

static int
emit(struct server *s, const struct wire_change *c, struct mail_err *err)
{
	wire_change_encode(c, &s->out);
	s->n_out++;
	return s->out.len >= LIST_FRAME_BYTES ? emit_flush(s, err) : 0;
}

static int
emit_end(struct server *s, struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	int ret;

	if (emit_flush(s, err) < 0)
		return -1;
	mail_buf_put_varint(&b, s->n_out);
	ret = wire_io_send(s->io, WIRE_MSG_END, b.data, b.len, err);
	mail_buf_free(&b);
	s->n_out = 0;
	return ret < 0 ? -1 : wire_io_flush(s->io, err);
}

static int
send_simple(struct server *s, uint8_t type, struct mail_err *err)
{
	if (wire_io_send(s->io, type, NULL, 0, err) < 0)
		return -1;
	return wire_io_flush(s->io, err);
}

static struct mail_state *
state(struct server *s)
{
	return mail_user_state(s->user);
}

static int
need_user(struct server *s, struct mail_err *err)
{
	if (s->user == NULL)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "request before OPEN");
	return 0;
}

/* ---- listing ---- */

static int
server_emit(void *ctx, const struct wire_change *c, struct mail_err *err)
{
	return emit(ctx, c, err);
}

static int
handle_list(struct server *s, const struct wire_frame *f, struct mail_err *err)
{
	struct mail_reader r;
	uint64_t since;

	mail_reader_init(&r, f->payload, f->len);
	since = mail_get_varint(&r);
	if (!mail_reader_end(&r))
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed LIST");
	if (need_user(s, err) < 0 ||
	    dsync_list_user(state(s), since, server_emit, s, err) < 0)
		return -1;
	return emit_end(s, err);
}

static int
handle_msgs(struct server *s, const struct wire_frame *f, struct mail_err *err)
{
	struct mail_reader r;
	struct mail_guid guid;
	struct mail_mailbox *mb;
	uint64_t since;

	mail_reader_init(&r, f->payload, f->len);
	mail_get_raw(&r, guid.b, sizeof(guid.b));
	since = mail_get_varint(&r);
	if (!mail_reader_end(&r))
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed MSGS");
	if (need_user(s, err) < 0)
		return -1;
	mb = mail_state_mailbox_by_guid_any(state(s), &guid);
	if (mb != NULL &&
	    dsync_list_msgs(mb, since, server_emit, s, err) < 0)
		return -1;
	return emit_end(s, err);
}

/* ---- probing and bodies ---- */

static bool
body_put_here(const struct server *s, const struct mail_guid *h)
{
	for (size_t i = 0; i < s->n_put; i++) {
		if (mail_guid_cmp(&s->put[i], h) == 0)
			return true;
	}
	return false;
}

static int
have_body(struct server *s, const struct mail_guid *h, struct mail_err *err)
{
	if (body_put_here(s, h))
		return 1;
	return mail_blobs_has(mail_store_blobs(s->store), h, err);
}

static int
handle_probe(struct server *s, const struct wire_frame *f, struct mail_err *err)
{
	struct wire_probe p;
	struct mail_mailbox *mb;
	uint8_t *reply;
	int ret = 0;

	if (wire_probe_decode(f->payload, f->len, &p, err) < 0 ||
	    need_user(s, err) < 0) {
		wire_probe_free(&p);
		return -1;
	}
	mb = mail_state_mailbox_by_guid_any(state(s), &p.mailbox);
	reply = mail_xcalloc(p.n + 1, 1);
	for (size_t i = 0; i < p.n && ret == 0; i++) {
		const struct mail_msg_key *k = &p.v[i].key;
		uint32_t uid = p.v[i].uid;
		int has;

		if (mb != NULL) {
			struct mail_msg *known = mail_mailbox_msg_by_key(mb, k);

			/* used here, and not by this very message */
			if (mail_mailbox_uid_used(mb, uid) &&
			    (known == NULL || known->uid != uid))
				reply[i] |= WIRE_PROBE_UID_TAKEN;
			if (mail_mailbox_tomb_find(mb, k) != NULL)
				reply[i] |= WIRE_PROBE_DEAD;
			if (known != NULL)
				reply[i] |= WIRE_PROBE_KNOWN;
		}
		if ((has = have_body(s, &p.v[i].body, err)) < 0)
			ret = -1;
		else if (has == 0)
			reply[i] |= WIRE_PROBE_NO_BODY;
	}
	if (ret == 0)
		ret = wire_io_send(s->io, WIRE_MSG_PROBE_REPLY, reply, p.n,
		    err);
	if (ret == 0)
		ret = wire_io_flush(s->io, err);
	free(reply);
	wire_probe_free(&p);
	return ret;
}

static int
handle_body_get(struct server *s, const struct wire_frame *f,
    struct mail_err *err)
{
	struct mail_guid *v;
	struct mail_buf data = MAIL_BUF_INIT;
	size_t n;
	int ret = 0;

	if (wire_hashes_decode(f->payload, f->len, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		mail_buf_reset(&data);
		if (mail_blobs_get(mail_store_blobs(s->store), &v[i], &data,
		    err) < 0 ||
		    dsync_send_body(s->io, WIRE_MSG_BODY, &v[i], data.data,
		    data.len, err) < 0)
			ret = -1;
	}
	mail_buf_free(&data);
	free(v);
	return ret < 0 ? -1 : emit_end(s, err);
}

static int
txn_need(struct server *s, struct mail_err *err)
{
	if (s->txn != NULL)
		return 0;
	if (need_user(s, err) < 0 || mail_txn_begin(s->user, &s->txn, err) < 0)
		return -1;
	s->txn_pre = state(s)->modseq;
	return 0;
}

static int
handle_body_put(struct server *s, const struct wire_frame *f,
    struct mail_err *err)
{
	struct wire_body_chunk c;
	struct mail_guid h;

	if (wire_body_decode(f->payload, f->len, &c, err) < 0)
		return -1;
	if (c.offset == 0) {
		mail_buf_reset(&s->body);
		s->body_hash = c.hash;
		s->body_total = c.total;
	} else if (mail_guid_cmp(&c.hash, &s->body_hash) != 0 ||
	    c.offset != s->body.len || c.total != s->body_total) {
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "BODY_PUT piece out of order");
	}
	mail_buf_append(&s->body, c.data, c.len);
	if (s->body.len < s->body_total)
		return 0;
	mail_guid_hash(s->body.data, s->body.len, &h);
	if (mail_guid_cmp(&h, &s->body_hash) != 0) {
		char hex[MAIL_GUID_HEX];

		return mail_err_set(err, MAIL_ERR_PROTO,
		    "body sent as %s does not match its hash",
		    mail_guid_to_hex(&s->body_hash, hex));
	}
	if (txn_need(s, err) < 0 ||
	    mail_txn_put_body(s->txn, s->body.data, s->body.len, &h, err) < 0)
		return -1;
	s->put = mail_xgrow(s->put, &s->cap_put, s->n_put + 1,
	    sizeof(*s->put));
	s->put[s->n_put++] = h;
	mail_buf_free(&s->body);
	return 0;
}

/* ---- applying changes ---- */

static struct mail_mailbox *
ctx_mailbox(struct server *s, struct mail_err *err)
{
	struct mail_mailbox *mb;

	if (!s->has_ctx) {
		mail_err_set(err, MAIL_ERR_PROTO,
		    "message change before its mailbox");
		return NULL;
	}
	mb = mail_state_mailbox_by_guid_any(state(s), &s->ctx);
	if (mb == NULL)
		mail_err_set(err, MAIL_ERR_PROTO,
		    "message change for a mailbox not created first");
	return mb;
}

static int
add(struct server *s, struct mail_rec *rec, struct mail_err *err)
{
	return mail_txn_add(s->txn, rec, err);
}

static int
add_clocked(struct server *s, struct mail_rec *rec, const struct wire_clock *c,
    struct mail_err *err)
{
	/* A zero clock means "never set" on the sender: nothing to carry. */
	if (c->node == 0)
		return 0;
	rec->node = c->node;
	rec->hlc = c->hlc;
	return add(s, rec, err);
}

static bool
newer(const struct wire_clock *c, uint64_t hlc, uint64_t node)
{
	struct wire_clock mine = { hlc, node };

	return wire_clock_cmp(c, &mine) > 0;
}

static int
set_attr(struct server *s, const struct mail_guid *guid, const char *key,
    const char *value, const struct wire_clock *c, struct mail_err *err)
{
	struct mail_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MAILBOX_ATTR;
	rec.mailbox = *guid;
	rec.name = (char *)(uintptr_t)key;
	rec.value = (uint8_t *)(uintptr_t)value;
	rec.value_len = strlen(value);
	return c != NULL ? add_clocked(s, &rec, c, err) : add(s, &rec, err);
}

static int
apply_mailbox(struct server *s, const struct wire_change *c,
    struct mail_err *err)
{
	struct mail_mailbox *mb;
	struct mail_rec rec;
	uint64_t seen_here;
	bool do_delete;
	char buf[32];

	if (mail_mailbox_name_check(c->name, err) < 0)
		return mail_err_prefix(err, "peer's mailbox");
	mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
	/* before this change's own records bump it */
	seen_here = mb != NULL ? mb->highestmodseq : 0;
	memset(&rec, 0, sizeof(rec));
	rec.mailbox = c->mailbox;
	/* A client deletes (or brings back) only the mailbox it knows: one
	 * that another sync changed since the client read it is refused
	 * with a temporary error, and the whole transaction with it (its
	 * other half, e.g. the mail a merge moved out, must not stay); the
	 * next sync decides with the new mail in view. */
	if (mb != NULL && mb->deleted != c->deleted &&
	    seen_here > c->highestmodseq)
		return mail_err_set(err, MAIL_ERR_TEMP, "mailbox \"%s\" "
		    "changed during the sync (another sync wrote to it): "
		    "try again", c->name);
	if (mb == NULL || (mb->deleted && !c->deleted)) {
		if (mb != NULL && mb->uidvalidity != c->uidvalidity)
			goto uidvalidity;
		rec.type = MAIL_REC_MAILBOX_CREATE;
		rec.uidvalidity = c->uidvalidity;
		rec.name = c->name;
		if (add_clocked(s, &rec, mb == NULL ? &c->create_clock :
		    &c->name_clock, err) < 0)
			return -1;
		mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
		if (mb == NULL)
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "peer's mailbox \"%s\" could not be created",
			    c->name);
	}
	if (mb->uidvalidity != c->uidvalidity)
		goto uidvalidity;
	if (newer(&c->name_clock, mb->name_hlc, mb->name_node) ||
	    (strcmp(mb->name, c->name) != 0 &&
	     wire_clock_cmp(&c->name_clock,
	     &(struct wire_clock){ mb->name_hlc, mb->name_node }) == 0)) {
		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MAILBOX_RENAME;
		rec.mailbox = c->mailbox;
		rec.name = c->name;
		if (add_clocked(s, &rec, &c->name_clock, err) < 0)
			return -1;
		mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
	}
	if (newer(&c->su_clock, mb->su_hlc, mb->su_node)) {
		if (set_attr(s, &c->mailbox, "specialuse", c->special_use,
		    &c->su_clock, err) < 0)
			return -1;
		mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
	}
	if (newer(&c->pvt_clock, mb->pvt_hlc, mb->pvt_node)) {
		snprintf(buf, sizeof(buf), "%u", (unsigned)c->pvt_mask);
		if ((c->pvt_mask & ~MAIL_FLAGS_ALL) != 0)
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "peer sent private flags 0x%x", c->pvt_mask);
		if (set_attr(s, &c->mailbox, "pvtflags", buf, &c->pvt_clock,
		    err) < 0)
			return -1;
		mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
	}
	if (c->uidnext > mb->uidnext) {
		snprintf(buf, sizeof(buf), "%u", (unsigned)c->uidnext);
		if (set_attr(s, &c->mailbox, "uidnext", buf, NULL, err) < 0)
			return -1;
		mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
	}
	/* where it was merged goes with its delete: a mailbox that stays
	 * live is no merged-away one (its mail would be moved twice) */
	do_delete = c->deleted && !mb->deleted;
	if ((mb->deleted || do_delete) &&
	    !mail_guid_is_zero(&c->merged_into) &&
	    (mail_guid_is_zero(&mb->merged_into) ||
	     mail_guid_cmp(&c->merged_into, &mb->merged_into) < 0)) {
		char hex[MAIL_GUID_HEX];

		if (set_attr(s, &c->mailbox, "mergedinto",
		    mail_guid_to_hex(&c->merged_into, hex), NULL, err) < 0)
			return -1;
		mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
	}
	if (do_delete) {
		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MAILBOX_DELETE;
		rec.mailbox = c->mailbox;
		if (add(s, &rec, err) < 0)
			return -1;
	}
	return 0;
uidvalidity:
	return mail_err_set(err, MAIL_ERR_CORRUPT,
	    "mailbox \"%s\" has UIDVALIDITY %u here and %u on the peer",
	    c->name, (unsigned)mb->uidvalidity, (unsigned)c->uidvalidity);
}

/* A mailbox holds at most MAIL_MAILBOX_MAX_KEYWORDS keywords; the union
 * of two stores' can be more, and the store drops the rest. Not an error
 * (the message itself must arrive), but not silent either: once per
 * session, on stderr, which the brain's user or dsyncd's log sees. */
static void
warn_keyword_limit(struct server *s, const struct mail_mailbox *mb,
    const struct wire_change *c)
{
	size_t new_kw = 0;

	if (s->warned_keywords)
		return;
	for (size_t i = 0; i < c->n_keywords; i++)
		new_kw += mail_mailbox_keyword_index(mb, c->keywords[i]) < 0;
	if (mb->n_keywords + new_kw <= MAIL_MAILBOX_MAX_KEYWORDS)
		return;
	s->warned_keywords = true;
	fprintf(stderr, "dsync server: warning: mailbox \"%s\" has %d "
	    "keywords already: new ones from the peer are dropped\n",
	    mb->name, MAIL_MAILBOX_MAX_KEYWORDS);
}

static int
apply_put(struct server *s, const struct wire_change *c, struct mail_err *err)
{
	struct mail_mailbox *mb = ctx_mailbox(s, err);
	struct mail_msg *m;
	struct mail_rec rec;
	uint32_t uid = c->uid;
	struct wire_clock uid_clock = c->uid_clock;
	int has;

	if (mb == NULL)
		return -1;
	if ((c->flags & ~MAIL_FLAGS_ALL) != 0)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer sent flags 0x%x", c->flags);
	for (size_t i = 0; i < c->n_keywords; i++) {
		if (!mail_keyword_valid(c->keywords[i]))
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "peer sent an invalid keyword \"%.64s\"",
			    c->keywords[i]);
	}
	if (mb->deleted)
		return 0;
	if (mail_mailbox_tomb_find(mb, &c->key) != NULL)
		return 0;
	warn_keyword_limit(s, mb, c);
	m = mail_mailbox_msg_by_key(mb, &c->key);
	if (m == NULL) {
		if ((has = have_body(s, &c->body, err)) < 0)
			return -1;
		if (has == 0) {
			char hex[MAIL_GUID_HEX];

			return mail_err_set(err, MAIL_ERR_PROTO,
			    "peer sent a message without its body %s",
			    mail_guid_to_hex(&c->body, hex));
		}
		if (mail_mailbox_uid_used(mb, uid)) {
			/* Taken since the client probed (a delivery here):
			 * a new UID now; the next sync settles it. */
			uid = mb->uidnext;
			uid_clock.hlc = mail_txn_next_hlc(s->txn);
			uid_clock.node = s->node;
		}
	} else if (newer(&c->uid_clock, m->uid_hlc, m->uid_node) &&
	    c->uid != m->uid && mail_mailbox_uid_used(mb, c->uid)) {
		/* The newer placement is blocked: its UID was used here
		 * since the client probed (another sync). Left where it is,
		 * the message would stay at an older UID here for good (the
		 * client thinks it moved, and an incremental sync would not
		 * look at it again); moved to a new UID with a clock newer
		 * still, it wins everywhere and the next sync settles it (our
		 * commit tells the client that others wrote meanwhile). */
		uid = mb->uidnext;
		uid_clock.hlc = mail_txn_next_hlc(s->txn);
		uid_clock.node = s->node;
	} else if (!newer(&c->flags_clock, m->flags_hlc, m->flags_node) &&
	    (!newer(&c->uid_clock, m->uid_hlc, m->uid_node) ||
	     c->uid == m->uid)) {
		return 0;	/* nothing newer */
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_PUT;
	rec.mailbox = mb->guid;
	rec.uid = uid;
	rec.guid = c->key.guid;
	rec.inst_node = c->key.inst_node;
	rec.inst_hlc = c->key.inst_hlc;
	rec.uid_hlc = uid_clock.hlc;
	rec.uid_node = uid_clock.node;
	rec.flags = c->flags;
	rec.keywords = c->keywords;
	rec.n_keywords = c->n_keywords;
	rec.flags_hlc = c->flags_clock.hlc;
	rec.flags_node = c->flags_clock.node;
	rec.idate = c->idate;
	rec.sdate = c->sdate;
	rec.size = c->size;
	rec.body = c->body;
	return add(s, &rec, err);
}

/* Write the expunges gathered for the ctx mailbox. */
static int
expunge_flush(struct server *s, struct mail_err *err)
{
	struct mail_rec rec;
	int ret;

	if (s->expunge.n == 0)
		return 0;
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_EXPUNGE;
	rec.mailbox = s->ctx;
	rec.uids = s->expunge;
	ret = add(s, &rec, err);
	mail_uidset_free(&s->expunge);
	return ret;
}

static int
apply_tomb(struct server *s, const struct wire_change *c, struct mail_err *err)
{
	struct mail_mailbox *mb = ctx_mailbox(s, err);
	struct mail_msg *m;
	struct mail_rec rec;

	if (mb == NULL)
		return -1;
	if (mail_mailbox_tomb_find(mb, &c->key) != NULL)
		return 0;
	if ((m = mail_mailbox_msg_by_key(mb, &c->key)) != NULL) {
		mail_uidset_add(&s->expunge, m->uid, m->uid);
		return 0;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_TOMB;
	rec.mailbox = mb->guid;
	rec.guid = c->key.guid;
	rec.inst_node = c->key.inst_node;
	rec.inst_hlc = c->key.inst_hlc;
	return add(s, &rec, err);
}

static int
apply_pvt(struct server *s, const struct wire_change *c, struct mail_err *err)
{
	struct mail_mailbox *mb = ctx_mailbox(s, err);
	struct mail_msg *m;
	struct mail_rec rec;

	if (mb == NULL)
		return -1;
	if (mail_user_name_check(c->user, err) < 0)
		return mail_err_prefix(err, "peer's private flags");
	if ((c->flags & ~MAIL_FLAGS_ALL) != 0)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer sent private flags 0x%x", c->flags);
	if ((m = mail_mailbox_msg_by_key(mb, &c->key)) == NULL)
		return 0;
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_PVT_FLAGS;
	rec.mailbox = mb->guid;
	rec.user = c->user;
	rec.op = MAIL_FLAGS_REPLACE;
	rec.flags = c->flags;
	rec.mask = MAIL_FLAGS_ALL;
	mail_uidset_add(&rec.uids, m->uid, m->uid);
	{
		int ret = add_clocked(s, &rec, &c->name_clock, err);

		mail_uidset_free(&rec.uids);
		return ret;
	}
}

static int
apply_sub(struct server *s, const struct wire_change *c, struct mail_err *err)
{
	struct mail_state *st = state(s);
	struct mail_rec rec;

	if (mail_mailbox_name_check(c->name, err) < 0)
		return mail_err_prefix(err, "peer's subscription");
	for (size_t i = 0; i < st->n_subs; i++) {
		if (strcmp(st->subs[i].name, c->name) == 0 &&
		    !newer(&c->name_clock, st->subs[i].hlc, st->subs[i].node))
			return 0;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_SUBSCRIBE;
	rec.name = c->name;
	rec.on = c->on;
	return add_clocked(s, &rec, &c->name_clock, err);
}

static int
apply_meta(struct server *s, const struct wire_change *c, struct mail_err *err)
{
	struct mail_mailbox *mb = NULL;
	struct mail_meta *old;
	struct mail_rec rec;
	uint32_t uid = 0;
	char *norm;
	bool ok;

	norm = mail_metadata_key_normalize(c->name, err);
	ok = norm != NULL && strcmp(norm, c->name) == 0;
	free(norm);
	if (!ok)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer sent a bad metadata key \"%.64s\"", c->name);
	if ((strncmp(c->name, "/private/", 9) == 0) != (c->user[0] != '\0'))
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "peer's metadata key \"%.64s\" has the wrong owner",
		    c->name);
	if (!mail_guid_is_zero(&c->mailbox)) {
		mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
		if (mb == NULL)
			return 0;
		if (!mail_guid_is_zero(&c->key.guid)) {
					struct mail_msg *m;

					if ((m = mail_mailbox_msg_by_key(mb, &c->key)) == NULL)
				return 0;
			uid = m->uid;
		}
	}
	old = mail_state_meta_find(state(s), mb, uid, c->user, c->name);
	if (old != NULL && !newer(&c->name_clock, old->hlc, old->node))
		return 0;
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_METADATA;
	if (mb != NULL)
		rec.mailbox = mb->guid;
	rec.uid = uid;
	rec.user = c->user;
	rec.name = c->name;
	rec.has_value = c->has_value;
	rec.value = c->value;
	rec.value_len = c->value_len;
	return add_clocked(s, &rec, &c->name_clock, err);
}

static int
apply_acl(struct server *s, const struct wire_change *c, struct mail_err *err)
{
	static const char rights[] = "lrswipkxtea";
	struct mail_mailbox *mb;
	struct mail_rec rec;

	for (size_t i = 0; i < c->value_len; i++) {
		if (strchr(rights, c->value[i]) == NULL || c->value[i] == 0)
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "peer sent bad ACL rights \"%.32s\"", c->value);
	}
	mb = mail_state_mailbox_by_guid_any(state(s), &c->mailbox);
	if (mb == NULL)
		return 0;
	for (size_t i = 0; i < mb->n_acl; i++) {
		if (strcmp(mb->acl[i].identifier, c->name) == 0 &&
		    !newer(&c->name_clock, mb->acl[i].hlc, mb->acl[i].node))
			return 0;
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_ACL;
	rec.mailbox = c->mailbox;
	rec.name = c->name;
	rec.value = c->value;
	rec.value_len = c->value_len;
	return add_clocked(s, &rec, &c->name_clock, err);
}

static int
apply_change(struct server *s, const struct wire_change *c,
    struct mail_err *err)
{
	if (wire_change_check_clocks(c, mail_now_ms(), err) < 0)
		return -1;
	if (c->kind != WIRE_CH_TOMB && expunge_flush(s, err) < 0)
		return -1;
	switch (c->kind) {
	case WIRE_CH_MAILBOX:
		return apply_mailbox(s, c, err);
	case WIRE_CH_CONTEXT:
		s->has_ctx = true;
		s->ctx = c->mailbox;
		return 0;
	case WIRE_CH_PUT:
		return apply_put(s, c, err);
	case WIRE_CH_TOMB:
		return apply_tomb(s, c, err);
	case WIRE_CH_PVT:
		return apply_pvt(s, c, err);
	case WIRE_CH_SUB:
		return apply_sub(s, c, err);
	case WIRE_CH_META:
		return apply_meta(s, c, err);
	case WIRE_CH_ACL:
		return apply_acl(s, c, err);
	}
	return mail_err_set(err, MAIL_ERR_PROTO, "unknown change");
}

static int
handle_changes(struct server *s, const struct wire_frame *f,
    struct mail_err *err)
{
	struct mail_reader r;
	struct wire_change c;
	int ret;

	if (txn_need(s, err) < 0)
		return -1;
	mail_reader_init(&r, f->payload, f->len);
	while ((ret = wire_change_decode(&r, &c, err)) > 0) {
		ret = apply_change(s, &c, err);
		wire_change_free(&c);
		if (ret < 0)
			return -1;
	}
	return ret < 0 ? -1 : expunge_flush(s, err);
}

static int
handle_commit(struct server *s, struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t pre, post;
	int ret;

	if (need_user(s, err) < 0)
		return -1;
	if (s->txn != NULL) {
		pre = s->txn_pre;
		post = mail_txn_modseq(s->txn);
		if (mail_txn_commit(&s->txn, err) < 0)
			return -1;
		if (state(s)->modseq < post)
			post = state(s)->modseq;	/* nothing written */
	} else {
		if (mail_user_refresh(s->user, err) < 0)
			return -1;
		pre = post = state(s)->modseq;
	}
	s->n_put = 0;
	mail_buf_put_varint(&b, pre);
	mail_buf_put_varint(&b, post);
	ret = wire_io_send(s->io, WIRE_MSG_COMMITTED, b.data, b.len, err);
	mail_buf_free(&b);
	return ret < 0 ? -1 : wire_io_flush(s->io, err);
}

/* ---- sessions ---- */

static void
close_user(struct server *s)
{
	if (s->txn != NULL)
		mail_txn_rollback(&s->txn);
	mail_uidset_free(&s->expunge);
	mail_user_close(&s->user);
	s->has_ctx = false;
	s->n_put = 0;
}

static int
handle_open(struct server *s, const struct wire_frame *f, struct mail_err *err)
{
	struct mail_reader r;
	struct wire_head h;
	struct mail_syncstate ss;
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t peer;
	char *name;
	bool create;
	int ret;

	mail_reader_init(&r, f->payload, f->len);
	name = mail_get_strdup(&r, WIRE_NAME_MAX);
	peer = mail_get_u64(&r);
	create = mail_get_u8(&r) == 1;
	if (!mail_reader_end(&r)) {
		free(name);
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed OPEN");
	}
	close_user(s);
	memset(&h, 0, sizeof(h));
	/* the public namespace's owner is made by opening it (its name is
	 * not a user name) */
	ret = mail_user_open(s->store, name, create &&
	    strcmp(name, MAIL_PUBLIC_USER) == 0, &s->user, err);
	if (ret < 0 && err->code == MAIL_ERR_NOTFOUND && create) {
		ret = mail_store_user_add(s->store, name, err);
		if (ret == 0)
			h.created = true;
		/* another sync (another node's daemon) may have made it
		 * a moment ago: that is the same user */
		if (ret == 0 || err->code == MAIL_ERR_EXISTS)
			ret = mail_user_open(s->store, name, false, &s->user,
			    err);
	}
	free(name);
	if (ret < 0) {
		if (err->code != MAIL_ERR_NOTFOUND)
			return -1;
		/* Not fatal: the client decides what a missing user means. */
		wire_io_send_error(s->io, err);
		mail_err_clear(err);
		return 0;
	}
	h.modseq = state(s)->modseq;
	if (mail_user_log_id(s->user, &h.log_id, err) < 0 ||
	    mail_syncstate_get(s->user, peer, &ss, &h.has_state, err) < 0)
		return -1;
	h.state_mine = ss.mine;
	h.state_peer = ss.peer;
	h.state_peer_log = ss.peer_log;
	wire_head_encode(&h, &b);
	ret = wire_io_send(s->io, WIRE_MSG_HEAD, b.data, b.len, err);
	mail_buf_free(&b);
	return ret < 0 ? -1 : wire_io_flush(s->io, err);
}

static int
handle_users(struct server *s, struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	char **names;
	size_t n;
	int ret;

	if (mail_store_user_list(s->store, &names, &n, err) < 0)
		return -1;
	mail_buf_put_varint(&b, n);
	for (size_t i = 0; i < n; i++)
		mail_buf_put_str(&b, names[i]);
	mail_store_user_list_free(names, n);
	ret = wire_io_send(s->io, WIRE_MSG_USER_LIST, b.data, b.len, err);
	mail_buf_free(&b);
	return ret < 0 ? -1 : wire_io_flush(s->io, err);
}

static int
handle_state_set(struct server *s, const struct wire_frame *f,
    struct mail_err *err)
{
	struct wire_state ws;
	struct mail_syncstate ss;

	if (wire_state_decode(f->payload, f->len, &ws, err) < 0 ||
	    need_user(s, err) < 0)
		return -1;
	ss.mine = ws.mine;
	ss.peer = ws.peer;
	ss.peer_log = ws.peer_log;
	/* the log's size goes with mine only when mine is its last record
	 * we know of; a record another writer added makes the file larger,
	 * so the size then tells the truth too */
	ss.log_size = ws.mine == state(s)->modseq ?
	    mail_user_log_end(s->user) : 0;
	if (mail_syncstate_set(s->user, ws.peer_node, &ss, err) < 0)
		return -1;
	return send_simple(s, WIRE_MSG_OK, err);
}

static int
handle_compress(struct server *s, const struct wire_frame *f,
    struct mail_err *err)
{
	struct mail_reader r;
	uint64_t level;

	mail_reader_init(&r, f->payload, f->len);
	level = mail_get_varint(&r);
	if (!mail_reader_end(&r) || level < 1 || level > 9)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed COMPRESS");
	if (send_simple(s, WIRE_MSG_OK, err) < 0)
		return -1;
	return wire_io_start_compress(s->io, (int)level, err);
}

/* One request. Returns 1 to go on, 0 after BYE, -1 on error. */
static int
serve_one(struct server *s, struct mail_err *err)
{
	struct wire_frame f;

	if (wire_io_recv(s->io, &f, err) < 0)
		return -1;
	switch (f.type) {
	case WIRE_MSG_USERS:
		return handle_users(s, err) < 0 ? -1 : 1;
	case WIRE_MSG_OPEN:
		return handle_open(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_LIST:
		return handle_list(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_MSGS:
		return handle_msgs(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_PROBE:
		return handle_probe(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_BODY_GET:
		return handle_body_get(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_BODY_PUT:
		return handle_body_put(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_CHANGES:
		return handle_changes(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_COMMIT:
		return handle_commit(s, err) < 0 ? -1 : 1;
	case WIRE_MSG_STATE_SET:
		return handle_state_set(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_COMPRESS:
		return handle_compress(s, &f, err) < 0 ? -1 : 1;
	case WIRE_MSG_BYE:
		close_user(s);
		return send_simple(s, WIRE_MSG_OK, err) < 0 ? -1 : 0;
	}
	return mail_err_set(err, MAIL_ERR_PROTO,
	    "unexpected message type %u", (unsigned)f.type);
}

int
dsync_cmd_server(struct dsync_ctx *ctx, int argc, char **argv)
{
	struct server s;
	struct wire_hello ours, theirs;
	struct wire_conn *conn;
	struct mail_err err;
	uint32_t version;
	uint64_t features;
	int ret, status;

	(void)argv;
	if (argc != 1)
		return dsync_usage("server takes no arguments");
	if ((status = dsync_open_store(ctx)) != 0)
		return status;
	signal(SIGPIPE, SIG_IGN);
	memset(&s, 0, sizeof(s));
	s.store = ctx->store;
	s.node = mail_store_node_id(ctx->store);
	conn = wire_conn_from_fds(STDIN_FILENO, STDOUT_FILENO);
	s.io = wire_io_new(conn);
	dsync_hello_init(&ours, s.node);
	ret = wire_io_hello(s.io, &ours, &theirs, &version, &features, &err);
	if (ret == 0) {
		while ((ret = serve_one(&s, &err)) > 0)
			;
	}
	/* tell the client why (a lock held too long, a mailbox changed
	 * under us); if the connection itself broke this fails quietly */
	if (ret < 0)
		wire_io_send_error(s.io, &err);
	close_user(&s);
	mail_buf_free(&s.out);
	mail_buf_free(&s.body);
	free(s.put);
	wire_io_free(&s.io);
	if (ret < 0) {
		/* The client shows the error it got in the ERROR frame; a
		 * connection that is gone is the client's story to tell. */
		wire_conn_abort(&conn);
		return err.code == MAIL_ERR_TEMP ? DSYNC_EXIT_TEMPFAIL :
		    DSYNC_EXIT_ERROR;
	}
	return wire_conn_close(&conn, &err) < 0 ? dsync_fail(&err) :
	    DSYNC_EXIT_OK;
}
