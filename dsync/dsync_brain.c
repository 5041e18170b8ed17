/*
 * dsync_brain.c: the merge. For one user it reads both locations' state
 * (only what changed since their last sync when both remember it the
 * same way), decides the merged result item by item and tells each side
 * what it lacks. Both sides end equal for everything exchanged.
 *
 * The rules (DESIGN.md, "Replication"):
 *   - names, attributes, flags, subscriptions, metadata, ACLs: last
 *     writer wins by (HLC, node);
 *   - messages are matched by key (GUID + instance), never by UID; an
 *     expunge wins over everything;
 *   - a UID that names different messages on the two sides is retired and
 *     the messages placed there get new UIDs above both sides' UIDNEXT, in
 *     key order, with a new UID clock that wins over the old placements;
 *   - a mailbox deleted on one side stays deleted only if no message the
 *     deleter had not seen is left; otherwise it comes back with those;
 *   - two live mailboxes with one name become one: the one created first
 *     (by its create clock) keeps its identity and gets the other's mail.
 * In backup mode the second location is made equal to the first instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "dsync_sync.h"
#include "mail_hlc.h"

#define CHANGES_FRAME_BYTES	(1024 * 1024)
#define CHUNK_ITEMS		5000
#define BODIES_PER_GET		256

/* Decoded changes. */
struct changes {
	struct wire_change *v;
	size_t	 n, cap;
};

static void
changes_free(struct changes *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		wire_change_free(&cs->v[i]);
	free(cs->v);
	memset(cs, 0, sizeof(*cs));
}

/* What is being sent to one side: changes accumulate and leave in
 * CHANGES frames; COMMIT ends a transaction there. */
struct side {
	struct dsync_peer *p;
	struct wire_head head;
	uint64_t since;			/* its changes we need: modseq > since */
	uint64_t mark;			/* its changes the other side has */
	bool	 mark_broken;		/* others wrote between our commits */
	struct mail_buf out;
	bool	 pending;		/* changes or bodies not committed */
	struct changes list;		/* its LIST */
};

struct brain {
	struct side s[2];		/* 0: first location, 1: second */
	const struct dsync_sync_opts *opts;
	const char *user;
	uint64_t hlc;			/* our clock for new UID placements */
	uint64_t n_stay_expunged;	/* backup: expunged at the destination */
	size_t	 n_mailboxes, done_mailboxes;
};

/* ---- talking ---- */

static int
send_frame(struct side *sd, uint8_t type, const void *p, size_t n,
    struct mail_err *err)
{
	return wire_io_send(sd->p->io, type, p, n, err);
}

static int
out_flush(struct side *sd, struct mail_err *err)
{
	int ret = 0;

	if (sd->out.len > 0)
		ret = send_frame(sd, WIRE_MSG_CHANGES, sd->out.data,
		    sd->out.len, err);
	mail_buf_reset(&sd->out);
	return ret;
}

static int
out_add(struct side *sd, const struct wire_change *c, struct mail_err *err)
{
	wire_change_encode(c, &sd->out);
	sd->pending = true;
	return sd->out.len >= CHANGES_FRAME_BYTES ? out_flush(sd, err) : 0;
}

static int
out_context(struct side *sd, const struct mail_guid *mailbox,
    struct mail_err *err)
{
	struct wire_change c;

	memset(&c, 0, sizeof(c));
	c.kind = WIRE_CH_CONTEXT;
	c.mailbox = *mailbox;
	return out_add(sd, &c, err);
}

/* Commit what was sent to sd, if anything. */
static int
side_commit(struct side *sd, struct mail_err *err)
{
	struct wire_frame f;
	struct mail_reader r;
	uint64_t pre, post;

	if (!sd->pending)
		return 0;
	if (out_flush(sd, err) < 0 ||
	    send_frame(sd, WIRE_MSG_COMMIT, NULL, 0, err) < 0 ||
	    wire_io_flush(sd->p->io, err) < 0 ||
	    wire_io_expect(sd->p->io, WIRE_MSG_COMMITTED, &f, err) < 0)
		return -1;
	mail_reader_init(&r, f.payload, f.len);
	pre = mail_get_varint(&r);
	post = mail_get_varint(&r);
	if (!mail_reader_end(&r) || post < pre)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed COMMITTED");
	/* Our own changes need not come back next time, as long as nobody
	 * else wrote in between. */
	if (pre == sd->mark && !sd->mark_broken)
		sd->mark = post;
	else
		sd->mark_broken = true;
	sd->pending = false;
	return 0;
}

/* Read CHANGES frames until END into cs. */
static int
recv_listing(struct side *sd, struct changes *cs, struct mail_err *err)
{
	struct wire_frame f;

	for (;;) {
		struct mail_reader r;
		struct wire_change c;
		int ret;

		if (wire_io_recv(sd->p->io, &f, err) < 0)
			return -1;
		if (f.type == WIRE_MSG_END)
			return 0;
		if (f.type != WIRE_MSG_CHANGES)
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "peer sent message type %u in a listing",
			    (unsigned)f.type);
		mail_reader_init(&r, f.payload, f.len);
		while ((ret = wire_change_decode(&r, &c, err)) > 0) {
			if (wire_change_check_clocks(&c, mail_now_ms(),
			    err) < 0) {
				wire_change_free(&c);
				return -1;
			}
			cs->v = mail_xgrow(cs->v, &cs->cap, cs->n + 1,
			    sizeof(*cs->v));
			cs->v[cs->n++] = c;
		}
		if (ret < 0)
			return mail_err_prefix(err, "from %s", sd->p->label);
	}
}

static int
request_msgs(struct side *sd, const struct mail_guid *guid, uint64_t since,
    struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	int ret;

	mail_buf_append(&b, guid->b, sizeof(guid->b));
	mail_buf_put_varint(&b, since);
	ret = send_frame(sd, WIRE_MSG_MSGS, b.data, b.len, err);
	mail_buf_free(&b);
	return ret < 0 ? -1 : wire_io_flush(sd->p->io, err);
}

/* ---- items of one mailbox ---- */

struct item {
	struct mail_msg_key key;
	const struct wire_change *put[2];	/* each side's, or NULL */
	bool	 tomb[2];
	bool	 dead;
	struct wire_change j;		/* merged (borrows from put[]) */
	bool	 send[2];
	bool	 known[2];		/* the side has the message already */
	bool	 renumber;
};

struct mbox {
	struct mail_guid guid;
	const struct wire_change *hdr[2];
	struct wire_change j;		/* merged header */
	struct changes d[2];		/* each side's message changes */
	struct item *items;
	size_t	 n_items;
};

static int
cmp_change_key(const void *a, const void *b)
{
	const struct wire_change *x = a, *y = b;
	int c = mail_msg_key_cmp(&x->key, &y->key);

	if (c != 0)
		return c;
	return (int)x->kind - (int)y->kind;
}

static int
cmp_item_key(const void *a, const void *b)
{
	return mail_msg_key_cmp(&((const struct item *)a)->key,
	    &((const struct item *)b)->key);
}

static int
cmp_item_uid(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a;
	const struct item *y = *(struct item *const *)b;

	if (x->j.uid != y->j.uid)
		return x->j.uid < y->j.uid ? -1 : 1;
	return mail_msg_key_cmp(&x->key, &y->key);
}

static struct item *
item_find(struct mbox *m, const struct mail_msg_key *k)
{
	struct item key;

	key.key = *k;
	return bsearch(&key, m->items, m->n_items, sizeof(*m->items),
	    cmp_item_key);
}

static const struct wire_change *
newer_of(const struct wire_change *a, const struct wire_clock *ca,
    const struct wire_change *b, const struct wire_clock *cb)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	return wire_clock_cmp(ca, cb) >= 0 ? a : b;
}

static bool
same_keywords(const struct wire_change *a, const struct wire_change *b)
{
	if (a->n_keywords != b->n_keywords)
		return false;
	for (size_t i = 0; i < a->n_keywords; i++) {
		bool found = false;

		for (size_t k = 0; k < b->n_keywords && !found; k++)
			found = strcmp(a->keywords[i], b->keywords[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* Does the side's version p already equal the merged j? */
static bool
put_equal(const struct wire_change *p, const struct wire_change *j)
{
	return p != NULL && p->uid == j->uid &&
	    wire_clock_cmp(&p->uid_clock, &j->uid_clock) == 0 &&
	    wire_clock_cmp(&p->flags_clock, &j->flags_clock) == 0 &&
	    p->flags == j->flags && same_keywords(p, j);
}

/* Gather each side's PUTs and TOMBs into items sorted by key. */
static void
build_items(struct mbox *m)
{
	size_t cap = m->d[0].n + m->d[1].n + 1;

	m->items = mail_xcalloc(cap, sizeof(*m->items));
	m->n_items = 0;
	for (int s = 0; s < 2; s++) {
		dsync_sort(m->d[s].v, m->d[s].n, sizeof(*m->d[s].v),
		    cmp_change_key);
	}
	/* Merge the two sorted lists of keys. */
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < m->d[s].n; i++) {
			const struct wire_change *c = &m->d[s].v[i];

			if (c->kind != WIRE_CH_PUT && c->kind != WIRE_CH_TOMB)
				continue;
			m->items[m->n_items].key = c->key;
			m->n_items++;
		}
	}
	dsync_sort(m->items, m->n_items, sizeof(*m->items), cmp_item_key);
	{
		size_t w = 0;

		for (size_t i = 0; i < m->n_items; i++) {
			if (w > 0 && mail_msg_key_cmp(&m->items[w - 1].key,
			    &m->items[i].key) == 0)
				continue;
			m->items[w++] = m->items[i];
		}
		m->n_items = w;
	}
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < m->d[s].n; i++) {
			const struct wire_change *c = &m->d[s].v[i];
			struct item *it;

			if (c->kind != WIRE_CH_PUT && c->kind != WIRE_CH_TOMB)
				continue;
			it = item_find(m, &c->key);
			if (c->kind == WIRE_CH_PUT) {
				it->put[s] = c;
				it->known[s] = true;
			} else
				it->tomb[s] = true;
		}
	}
}

/* The merged version of a live item (two-way). */
static void
merge_item(struct item *it)
{
	const struct wire_change *a = it->put[0], *b = it->put[1];
	const struct wire_change *u, *f;

	u = newer_of(a, a != NULL ? &a->uid_clock : NULL, b,
	    b != NULL ? &b->uid_clock : NULL);
	f = newer_of(a, a != NULL ? &a->flags_clock : NULL, b,
	    b != NULL ? &b->flags_clock : NULL);
	it->j = *u;
	it->j.flags = f->flags;
	it->j.keywords = f->keywords;
	it->j.n_keywords = f->n_keywords;
	it->j.flags_clock = f->flags_clock;
}

/* A clock later than anything seen, for decisions of this brain. */
static void
brain_clock(struct brain *br, const struct wire_clock *at_least,
    uint64_t node, struct wire_clock *c)
{
	if (at_least != NULL && at_least->hlc > br->hlc)
		br->hlc = at_least->hlc;
	br->hlc = mail_hlc_next(br->hlc, mail_now_ms());
	c->hlc = br->hlc;
	c->node = node;
}

static void
observe(struct brain *br, const struct wire_clock *c)
{
	if (c->hlc > br->hlc)
		br->hlc = c->hlc;
}

/* ---- bodies ---- */

/* Copy the bodies in hashes from side `from` to side `to`. */
static int
copy_bodies(struct brain *br, int from, int to, const struct mail_guid *hashes,
    size_t n, struct mail_err *err)
{
	struct side *src = &br->s[from], *dst = &br->s[to];

	for (size_t off = 0; off < n; off += BODIES_PER_GET) {
		size_t k = n - off < BODIES_PER_GET ? n - off : BODIES_PER_GET;
		struct mail_buf b = MAIL_BUF_INIT;
		struct wire_frame f;
		int ret;

		wire_hashes_encode(hashes + off, k, &b);
		ret = send_frame(src, WIRE_MSG_BODY_GET, b.data, b.len, err);
		mail_buf_free(&b);
		if (ret < 0 || wire_io_flush(src->p->io, err) < 0)
			return -1;
		for (;;) {
			struct wire_body_chunk c;

			if (wire_io_recv(src->p->io, &f, err) < 0)
				return -1;
			if (f.type == WIRE_MSG_END)
				break;
			if (f.type != WIRE_MSG_BODY)
				return mail_err_set(err, MAIL_ERR_PROTO,
				    "%s sent type %u among bodies",
				    src->p->label, (unsigned)f.type);
			if (wire_body_decode(f.payload, f.len, &c, err) < 0)
				return -1;
			if (send_frame(dst, WIRE_MSG_BODY_PUT, f.payload,
			    f.len, err) < 0)
				return -1;
			dst->p->bytes_in += c.len;
			dst->pending = true;
		}
	}
	return 0;
}

/* ---- probing and placing ---- */

static int
cmp_guid(const void *a, const void *b)
{
	return mail_guid_cmp(a, b);
}

/* Probe side s for the items of it[0..n) it is to receive. Marks
 * conflicts (*taken), keys dead there, and collects missing bodies. */
static int
probe_side(struct brain *br, struct mbox *m, int s, struct item **v, size_t n,
    bool *taken, struct mail_guid **missing, size_t *n_missing,
    struct mail_err *err)
{
	struct side *sd = &br->s[s];
	struct wire_probe p;
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	int ret;

	*n_missing = 0;
	if (n == 0)
		return 0;
	p.mailbox = m->guid;
	p.n = n;
	p.v = mail_xcalloc(n, sizeof(*p.v));
	for (size_t i = 0; i < n; i++) {
		p.v[i].uid = v[i]->j.uid;
		p.v[i].key = v[i]->key;
		p.v[i].body = v[i]->j.body;
	}
	wire_probe_encode(&p, &b);
	free(p.v);
	ret = send_frame(sd, WIRE_MSG_PROBE, b.data, b.len, err);
	mail_buf_free(&b);
	if (ret < 0 || wire_io_flush(sd->p->io, err) < 0 ||
	    wire_io_expect(sd->p->io, WIRE_MSG_PROBE_REPLY, &f, err) < 0)
		return -1;
	if (f.len != n)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "%s answered %zu of %zu probes", sd->p->label, f.len, n);
	*missing = mail_xgrow(*missing, &(size_t){ 0 }, n, sizeof(**missing));
	for (size_t i = 0; i < n; i++) {
		if (f.payload[i] & WIRE_PROBE_DEAD)
			v[i]->dead = true;
		if (f.payload[i] & WIRE_PROBE_UID_TAKEN)
			taken[i] = true;
		if (f.payload[i] & WIRE_PROBE_KNOWN)
			v[i]->known[s] = true;
		if (f.payload[i] & WIRE_PROBE_NO_BODY)
			(*missing)[(*n_missing)++] = v[i]->j.body;
	}
	dsync_sort(*missing, *n_missing, sizeof(**missing), cmp_guid);
	{
		size_t w = 0;

		for (size_t i = 0; i < *n_missing; i++) {
			if (w == 0 ||
			    mail_guid_cmp(&(*missing)[w - 1], &(*missing)[i]))
				(*missing)[w++] = (*missing)[i];
		}
		*n_missing = w;
	}
	return 0;
}

static int
send_tomb(struct side *sd, const struct mail_msg_key *k, struct mail_err *err)
{
	struct wire_change c;

	memset(&c, 0, sizeof(c));
	c.kind = WIRE_CH_TOMB;
	c.key = *k;
	return out_add(sd, &c, err);
}

static uint32_t
max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Place, transfer and send a chunk of items: v[0..n) all live and to
 * be sent to at least one side. */
static int
send_chunk(struct brain *br, struct mbox *m, struct item **v, size_t n,
    struct mail_err *err)
{
	struct item **to[2];
	size_t n_to[2] = { 0, 0 };
	bool *taken[2];
	struct mail_guid *missing[2] = { NULL, NULL };
	size_t n_missing[2] = { 0, 0 };
	int ret = -1;

	for (int s = 0; s < 2; s++) {
		to[s] = mail_xcalloc(n + 1, sizeof(*to[s]));
		taken[s] = mail_xcalloc(n + 1, sizeof(bool));
		for (size_t i = 0; i < n; i++) {
			if (v[i]->send[s])
				to[s][n_to[s]++] = v[i];
		}
	}
	for (int s = 0; s < 2; s++) {
		if (probe_side(br, m, s, to[s], n_to[s], taken[s], &missing[s],
		    &n_missing[s], err) < 0)
			goto out;
	}
	/* Conflicts: a UID taken on a side by another message. */
	{
		uint32_t base = m->j.uidnext;
		struct wire_clock clock;
		bool any = false;

		for (size_t i = 0; i < n; i++)
			base = max_u32(base, v[i]->j.uid + 1);
		for (int s = 0; s < 2; s++) {
			for (size_t i = 0; i < n_to[s]; i++) {
				if (taken[s][i] && !to[s][i]->dead &&
				    !br->opts->backup) {
					to[s][i]->renumber = true;
					any = true;
				}
			}
		}
		/* Everything placed at a conflicting UID moves, on both
		 * sides, in the order of v (by UID, then key). */
		if (any) {
			for (size_t i = 0; i < n; i++) {
				for (size_t k = 0; k < n; k++) {
					if (v[k]->renumber && !v[i]->dead &&
					    v[i]->j.uid == v[k]->j.uid)
						v[i]->renumber = true;
				}
			}
			brain_clock(br, NULL, br->s[0].p->node, &clock);
			for (size_t i = 0; i < n; i++) {
				if (!v[i]->renumber || v[i]->dead)
					continue;
				v[i]->j.uid = base++;
				v[i]->j.uid_clock = clock;
				v[i]->send[0] = v[i]->send[1] = true;
			}
			m->j.uidnext = base;
		}
	}
	/* Anything dead on one side dies on the other. */
	for (size_t i = 0; i < n; i++) {
		if (v[i]->dead)
			v[i]->send[0] = v[i]->send[1] = false;
	}
	for (int s = 0; s < 2; s++) {
		struct side *sd = &br->s[s];
		bool ctx = false;

		if (br->opts->backup && s == 0)
			continue;
		if (copy_bodies(br, 1 - s, s, missing[s], n_missing[s],
		    err) < 0)
			goto out;
		for (size_t i = 0; i < n; i++) {
			if (!v[i]->send[s] && !v[i]->dead)
				continue;
			if (!ctx && (out_context(sd, &m->guid, err) < 0))
				goto out;
			ctx = true;
			if (v[i]->dead) {
				if (!v[i]->tomb[s] &&
				    send_tomb(sd, &v[i]->key, err) < 0)
					goto out;
				continue;
			}
			if (!v[i]->known[s])
				sd->p->msgs_in++;
			else
				sd->p->changes_in++;
			if (out_add(sd, &v[i]->j, err) < 0)
				goto out;
		}
	}
	ret = 0;
out:
	for (int s = 0; s < 2; s++) {
		free(to[s]);
		free(taken[s]);
		free(missing[s]);
	}
	return ret;
}

/* What to send side s about an entry that it has as mine and the other
 * side as theirs (either may be NULL), with the clock in name_clock.
 * Returns true with *t filled when something must be sent. In backup mode
 * the source's entry wins even when older, and entries only the
 * destination has are removed; remove() turns an entry into its removal. */
static bool
decide_entry(struct brain *br, int s, const struct wire_change *mine,
    const struct wire_change *theirs, void (*remove)(struct wire_change *),
    struct wire_change *t)
{
	if (br->opts->backup && s == 0)
		return false;
	if (theirs == NULL) {
		if (!br->opts->backup || mine == NULL)
			return false;
		*t = *mine;
		remove(t);
		if (memcmp(t, mine, sizeof(*t)) == 0)
			return false;	/* already a removal */
		brain_clock(br, &mine->name_clock, br->s[0].p->node,
		    &t->name_clock);
		return true;
	}
	*t = *theirs;
	if (mine == NULL)
		return true;
	if (wire_clock_cmp(&theirs->name_clock, &mine->name_clock) > 0)
		return true;
	if (!br->opts->backup ||
	    wire_clock_cmp(&theirs->name_clock, &mine->name_clock) == 0)
		return false;
	brain_clock(br, &mine->name_clock, br->s[0].p->node, &t->name_clock);
	return true;
}

static void
remove_entry(struct wire_change *c)
{
	switch (c->kind) {
	case WIRE_CH_SUB:
		c->on = false;
		break;
	case WIRE_CH_PVT:
		c->flags = 0;
		break;
	case WIRE_CH_META:
		if (c->has_value) {
			c->has_value = false;
			c->value = NULL;
			c->value_len = 0;
		}
		break;
	case WIRE_CH_ACL:
		if (c->value_len > 0) {
			c->value = (uint8_t *)(uintptr_t)"";
			c->value_len = 0;
		}
		break;
	default:
		break;
	}
}

/* ---- private flags and message metadata ---- */

static int
cmp_pvt(const void *a, const void *b)
{
	const struct wire_change *x = *(struct wire_change *const *)a;
	const struct wire_change *y = *(struct wire_change *const *)b;
	int c = mail_msg_key_cmp(&x->key, &y->key);

	if (c == 0)
		c = strcmp(x->user, y->user);
	if (c == 0 && x->kind == WIRE_CH_META)
		c = strcmp(x->name, y->name);
	if (c == 0)
		c = (int)x->kind - (int)y->kind;
	return c;
}

/* Entries keyed by (message, user[, key]) with a clock in name_clock:
 * send each side the other's newer ones. In backup mode the first side's
 * entries win and the second side's own ones are reverted. */
static int
sync_keyed(struct brain *br, struct mbox *m, enum wire_change_kind kind,
    struct mail_err *err)
{
	const struct wire_change **v;
	size_t n = 0;
	int ret = 0;

	v = mail_xcalloc(m->d[0].n + m->d[1].n + 1, sizeof(*v));
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < m->d[s].n; i++) {
			if (m->d[s].v[i].kind == kind)
				v[n++] = &m->d[s].v[i];
		}
	}
	dsync_sort(v, n, sizeof(*v), cmp_pvt);
	for (size_t i = 0; i < n && ret == 0; ) {
		const struct wire_change *e[2] = { NULL, NULL };
		size_t k = i;

		for (; k < n && cmp_pvt(&v[i], &v[k]) == 0; k++)
			e[v[k] >= m->d[0].v && v[k] < m->d[0].v + m->d[0].n ?
			    0 : 1] = v[k];
		i = k;
		if (item_find(m, &e[e[0] != NULL ? 0 : 1]->key) != NULL &&
		    item_find(m, &e[e[0] != NULL ? 0 : 1]->key)->dead)
			continue;
		for (int s = 0; s < 2 && ret == 0; s++) {
			struct wire_change t;

			if (!decide_entry(br, s, e[s], e[1 - s], remove_entry,
			    &t))
				continue;
			ret = out_context(&br->s[s], &m->guid, err);
			if (ret == 0)
				ret = out_add(&br->s[s], &t, err);
		}
	}
	free(v);
	return ret;
}

/* ---- mailboxes ---- */

static bool
header_equal(const struct wire_change *a, const struct wire_change *b)
{
	return a != NULL && b != NULL &&
	    strcmp(a->name, b->name) == 0 &&
	    wire_clock_cmp(&a->name_clock, &b->name_clock) == 0 &&
	    a->deleted == b->deleted &&
	    strcmp(a->special_use, b->special_use) == 0 &&
	    wire_clock_cmp(&a->su_clock, &b->su_clock) == 0 &&
	    a->pvt_mask == b->pvt_mask &&
	    wire_clock_cmp(&a->pvt_clock, &b->pvt_clock) == 0 &&
	    a->uidnext == b->uidnext &&
	    mail_guid_cmp(&a->merged_into, &b->merged_into) == 0;
}

/* Where the mailbox was merged into, by either side: the lowest GUID
 * when they differ (as the server's join keeps it). */
static void
hdr_merged_into(const struct mbox *m, struct mail_guid *g)
{
	memset(g, 0, sizeof(*g));
	for (int s = 0; s < 2; s++) {
		const struct wire_change *h = m->hdr[s];

		if (h != NULL && !mail_guid_is_zero(&h->merged_into) &&
		    (mail_guid_is_zero(g) ||
		     mail_guid_cmp(&h->merged_into, g) < 0))
			*g = h->merged_into;
	}
}

/* Was the mailbox merged into another and deleted (on a side at least)?
 * Its mail then goes to the target instead of bringing it back. */
static bool
merged_away(const struct brain *br, const struct mbox *m)
{
	struct mail_guid g;

	if (br->opts->backup)
		return false;
	hdr_merged_into(m, &g);
	return !mail_guid_is_zero(&g) &&
	    ((m->hdr[0] != NULL && m->hdr[0]->deleted) ||
	     (m->hdr[1] != NULL && m->hdr[1]->deleted));
}

/* The merged header of a mailbox (deleted decided later). */
static void
merge_header(struct brain *br, struct mbox *m)
{
	const struct wire_change *a = m->hdr[0], *b = m->hdr[1], *w;

	if (br->opts->backup || b == NULL) {
		m->j = a != NULL ? *a : *b;
	} else if (a == NULL) {
		m->j = *b;
	} else {
		m->j = *a;
		w = newer_of(a, &a->name_clock, b, &b->name_clock);
		m->j.name = w->name;
		m->j.name_clock = w->name_clock;
		w = newer_of(a, &a->su_clock, b, &b->su_clock);
		m->j.special_use = w->special_use;
		m->j.su_clock = w->su_clock;
		w = newer_of(a, &a->pvt_clock, b, &b->pvt_clock);
		m->j.pvt_mask = w->pvt_mask;
		m->j.pvt_clock = w->pvt_clock;
		m->j.uidnext = max_u32(a->uidnext, b->uidnext);
		if (wire_clock_cmp(&b->create_clock, &a->create_clock) < 0)
			m->j.create_clock = b->create_clock;
		hdr_merged_into(m, &m->j.merged_into);
	}
	if (br->opts->backup && a != NULL && b != NULL) {
		/* The destination's newer values are reverted: the source's
		 * values with clocks that win there. */
		if (wire_clock_cmp(&b->name_clock, &a->name_clock) > 0)
			brain_clock(br, &b->name_clock, a->name_clock.node,
			    &m->j.name_clock);
		if (wire_clock_cmp(&b->su_clock, &a->su_clock) > 0)
			brain_clock(br, &b->su_clock, br->s[0].p->node,
			    &m->j.su_clock);
		if (wire_clock_cmp(&b->pvt_clock, &a->pvt_clock) > 0)
			brain_clock(br, &b->pvt_clock, br->s[0].p->node,
			    &m->j.pvt_clock);
		m->j.uidnext = max_u32(a->uidnext, b->uidnext);
	}
	for (int s = 0; s < 2; s++) {
		if (m->hdr[s] != NULL) {
			observe(br, &m->hdr[s]->name_clock);
			observe(br, &m->hdr[s]->su_clock);
			observe(br, &m->hdr[s]->pvt_clock);
		}
	}
}

/* The merged header to side s. Its highestmodseq says how much of the
 * mailbox there we know: the server deletes (or brings back) only a
 * mailbox that has not changed beyond it, so mail another sync put there
 * meanwhile keeps it, and the next sync decides with that mail in view.
 * We know what we listed, and, while nobody else wrote between our
 * commits there (the mark is not broken), everything up to the mark. */
static int
out_header(struct brain *br, const struct mbox *m, int s,
    struct mail_err *err)
{
	struct wire_change h = m->j;
	const struct side *sd = &br->s[s];

	h.highestmodseq = m->hdr[s] != NULL ? m->hdr[s]->highestmodseq : 0;
	if (!sd->mark_broken && sd->mark > h.highestmodseq)
		h.highestmodseq = sd->mark;
	return out_add(&br->s[s], &h, err);
}

static int
send_header(struct brain *br, struct mbox *m, struct mail_err *err)
{
	for (int s = 0; s < 2; s++) {
		if (br->opts->backup && s == 0)
			continue;
		if (header_equal(m->hdr[s], &m->j))
			continue;
		if (m->hdr[s] == NULL && m->j.deleted && br->opts->backup)
			continue;	/* nothing to delete there */
		if (out_header(br, m, s, err) < 0)
			return -1;
	}
	return 0;
}

static int
fetch_deltas(struct brain *br, struct mbox *m, uint64_t since[2],
    struct mail_err *err)
{
	for (int s = 0; s < 2; s++) {
		if (m->hdr[s] != NULL &&
		    request_msgs(&br->s[s], &m->guid, since[s], err) < 0)
			return -1;
	}
	for (int s = 0; s < 2; s++) {
		if (m->hdr[s] != NULL &&
		    recv_listing(&br->s[s], &m->d[s], err) < 0)
			return -1;
	}
	return 0;
}

/* Decide each item (two-way or backup) and whether the mailbox stays
 * deleted. */
static void
decide_items(struct brain *br, struct mbox *m)
{
	bool any_live = false;

	for (size_t i = 0; i < m->n_items; i++) {
		struct item *it = &m->items[i];

		if (br->opts->backup) {
			if (it->tomb[0] || it->put[0] == NULL) {
				/* Expunged at the source, or only at the
				 * destination (compared in full). */
				it->dead = true;
				continue;
			}
			it->j = *it->put[0];
			if (it->tomb[1])
				br->n_stay_expunged++;
			if (it->put[1] != NULL) {
				const struct wire_change *b = it->put[1];

				if (wire_clock_cmp(&b->uid_clock,
				    &it->j.uid_clock) > 0)
					brain_clock(br, &b->uid_clock,
					    br->s[0].p->node,
					    &it->j.uid_clock);
				if (wire_clock_cmp(&b->flags_clock,
				    &it->j.flags_clock) > 0)
					brain_clock(br, &b->flags_clock,
					    br->s[0].p->node,
					    &it->j.flags_clock);
			}
			it->send[1] = !put_equal(it->put[1], &it->j);
			any_live = true;
			continue;
		}
		if (it->tomb[0] || it->tomb[1]) {
			it->dead = true;
			continue;
		}
		merge_item(it);
		observe(br, &it->j.uid_clock);
		observe(br, &it->j.flags_clock);
		it->send[0] = !put_equal(it->put[0], &it->j);
		it->send[1] = !put_equal(it->put[1], &it->j);
		any_live = true;
	}
	if (br->opts->backup) {
		m->j.deleted = m->hdr[0] == NULL || m->hdr[0]->deleted;
	} else if ((m->hdr[0] != NULL && m->hdr[0]->deleted) ||
	    (m->hdr[1] != NULL && m->hdr[1]->deleted)) {
		/* Deleted stays deleted unless mail the deleter had not seen
		 * is left. */
		m->j.deleted = !any_live;
	}
}

static void
mbox_free(struct mbox *m)
{
	for (int s = 0; s < 2; s++)
		changes_free(&m->d[s]);
	free(m->items);
}

static void
progress(struct brain *br, const char *name)
{
	if (!br->opts->progress)
		return;
	fprintf(stderr, "\r\033[K%s: %zu/%zu mailboxes, %s", br->user,
	    br->done_mailboxes, br->n_mailboxes, name);
}

/* Which of each side's message changes in m the other side needs. */
static void
mbox_since(const struct brain *br, const struct mbox *m, bool full,
    uint64_t since[2])
{
	for (int s = 0; s < 2; s++) {
		/* A side that never saw the mailbox needs all of it. */
		since[s] = full || m->hdr[1 - s] == NULL ? 0 : br->s[s].since;
	}
	if (br->opts->backup && m->hdr[1] != NULL &&
	    m->hdr[1]->highestmodseq > since[1])
		since[0] = since[1] = 0;	/* revert the destination */
}

/* Sync one mailbox present on at least one side. */
static int
sync_mailbox(struct brain *br, struct mbox *m, bool full,
    struct mail_err *err)
{
	uint64_t since[2];
	struct item **v = NULL;
	size_t n = 0;
	int ret = -1;

	merge_header(br, m);
	if (br->opts->backup && m->hdr[1] == NULL && m->j.deleted)
		return 0;	/* deleted at the source, never seen here */
	mbox_since(br, m, full, since);
	if (m->hdr[0] != NULL && m->hdr[1] != NULL &&
	    m->hdr[0]->highestmodseq <= since[0] &&
	    m->hdr[1]->highestmodseq <= since[1]) {
		/* No message changed: only the header may differ. */
		if (br->opts->backup)
			m->j.deleted = m->hdr[0]->deleted;
		else
			m->j.deleted = m->hdr[0]->deleted || m->hdr[1]->deleted;
		return send_header(br, m, err);
	}
	progress(br, m->j.name);
	if (fetch_deltas(br, m, since, err) < 0)
		return -1;
	build_items(m);
	decide_items(br, m);
	if (send_header(br, m, err) < 0)
		return -1;
	v = mail_xcalloc(m->n_items + 1, sizeof(*v));
	for (size_t i = 0; i < m->n_items; i++) {
		struct item *it = &m->items[i];

		if (it->dead) {
			for (int s = 0; s < 2; s++) {
				if (br->opts->backup && s == 0)
					continue;
				if (it->tomb[s])
					continue;
				if (out_context(&br->s[s], &m->guid, err) < 0 ||
				    send_tomb(&br->s[s], &it->key, err) < 0)
					goto out;
			}
			continue;
		}
		if (it->send[0] || it->send[1])
			v[n++] = it;
	}
	/* In UID order, so that a side filling a mailbox appends rather than
	 * inserts (key order made applying a big backup quadratic); ties
	 * and renumbering stay in key order, the same on both sides. */
	dsync_sort(v, n, sizeof(*v), cmp_item_uid);
	for (size_t off = 0; off < n; off += CHUNK_ITEMS) {
		size_t k = n - off < CHUNK_ITEMS ? n - off : CHUNK_ITEMS;

		if (send_chunk(br, m, v + off, k, err) < 0)
			goto out;
		/* A renumbering raised UIDNEXT: both sides learn it. */
		for (int s = 0; s < 2; s++) {
			if (br->opts->backup && s == 0)
				continue;
			if (m->hdr[s] != NULL &&
			    m->hdr[s]->uidnext < m->j.uidnext &&
			    out_header(br, m, s, err) < 0)
				goto out;
		}
		if (side_commit(&br->s[0], err) < 0 ||
		    side_commit(&br->s[1], err) < 0)
			goto out;
	}
	if (sync_keyed(br, m, WIRE_CH_PVT, err) < 0 ||
	    sync_keyed(br, m, WIRE_CH_META, err) < 0)
		goto out;
	ret = 0;
out:
	free(v);
	return ret;
}

/* ---- the user ---- */

static int
cmp_change_ptr_mailbox(const void *a, const void *b)
{
	const struct wire_change *x = *(struct wire_change *const *)a;
	const struct wire_change *y = *(struct wire_change *const *)b;

	return mail_guid_cmp(&x->mailbox, &y->mailbox);
}

/* User-level entries of kind (SUB, META, ACL) in both LISTs, matched by
 * their identity, newer sent across (backup: the source's wins). */
static int
entry_cmp(const struct wire_change *x, const struct wire_change *y)
{
	int c = mail_guid_cmp(&x->mailbox, &y->mailbox);

	if (c == 0 && x->kind == WIRE_CH_META)
		c = strcmp(x->user, y->user);
	if (c == 0)
		c = strcmp(x->name, y->name);
	return c;
}

static int
entry_cmp_q(const void *a, const void *b)
{
	return entry_cmp(*(struct wire_change *const *)a,
	    *(struct wire_change *const *)b);
}

static int
sync_entries(struct brain *br, enum wire_change_kind kind,
    struct mail_err *err)
{
	const struct wire_change **v[2];
	size_t n[2] = { 0, 0 }, i = 0, k = 0;
	int ret = 0;

	for (int s = 0; s < 2; s++) {
		struct changes *l = &br->s[s].list;

		v[s] = mail_xcalloc(l->n + 1, sizeof(*v[s]));
		for (size_t x = 0; x < l->n; x++) {
			if (l->v[x].kind == kind && (kind != WIRE_CH_META ||
			    mail_guid_is_zero(&l->v[x].key.guid)))
				v[s][n[s]++] = &l->v[x];
		}
		dsync_sort(v[s], n[s], sizeof(*v[s]), entry_cmp_q);
	}
	while (ret == 0 && (i < n[0] || k < n[1])) {
		const struct wire_change *e[2] = { NULL, NULL };
		int c;

		if (i == n[0])
			c = 1;
		else if (k == n[1])
			c = -1;
		else
			c = entry_cmp(v[0][i], v[1][k]);
		if (c <= 0)
			e[0] = v[0][i++];
		if (c >= 0)
			e[1] = v[1][k++];
		for (int s = 0; s < 2 && ret == 0; s++) {
			struct wire_change t;

			if (decide_entry(br, s, e[s], e[1 - s], remove_entry,
			    &t))
				ret = out_add(&br->s[s], &t, err);
		}
	}
	free(v[0]);
	free(v[1]);
	return ret;
}

static int
open_side(struct brain *br, int s, uint64_t peer_node, bool create,
    bool *missing, struct mail_err *err)
{
	struct side *sd = &br->s[s];
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	int ret;

	*missing = false;
	mail_buf_put_str(&b, br->user);
	mail_buf_put_le64(&b, peer_node);
	mail_buf_put_u8(&b, create);
	ret = send_frame(sd, WIRE_MSG_OPEN, b.data, b.len, err);
	mail_buf_free(&b);
	if (ret < 0 || wire_io_flush(sd->p->io, err) < 0)
		return -1;
	if (wire_io_recv(sd->p->io, &f, err) < 0) {
		if (err->code == MAIL_ERR_NOTFOUND) {
			*missing = true;
			mail_err_clear(err);
			return 0;
		}
		return -1;
	}
	if (f.type != WIRE_MSG_HEAD)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "%s answered OPEN with type %u", sd->p->label,
		    (unsigned)f.type);
	return wire_head_decode(f.payload, f.len, &sd->head, err);
}

static int
open_user(struct brain *br, struct mail_err *err)
{
	bool missing[2];

	for (int s = 0; s < 2; s++) {
		if (open_side(br, s, br->s[1 - s].p->node, false, &missing[s],
		    err) < 0)
			return -1;
	}
	if (missing[0] && (missing[1] || br->opts->backup))
		return mail_err_set(err, MAIL_ERR_NOTFOUND,
		    "no user \"%s\" in %s", br->user, br->s[0].p->label);
	for (int s = 0; s < 2; s++) {
		if (missing[s] && (open_side(br, s, br->s[1 - s].p->node,
		    true, &missing[s], err) < 0 || missing[s]))
			return missing[s] ? mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "no user \"%s\" in %s", br->user,
			    br->s[s].p->label) : -1;
	}
	return 0;
}

/* The watermarks: valid only if both sides remember the same sync and
 * neither log was replaced or rolled back since. */
static void
choose_since(struct brain *br)
{
	struct wire_head *a = &br->s[0].head, *b = &br->s[1].head;
	bool valid = !br->opts->full && a->has_state && b->has_state &&
	    a->state_mine == b->state_peer && a->state_peer == b->state_mine &&
	    a->state_peer_log == b->log_id && b->state_peer_log == a->log_id &&
	    a->state_mine <= a->modseq && b->state_mine <= b->modseq &&
	    !a->created && !b->created;

	br->s[0].since = valid ? a->state_mine : 0;
	br->s[1].since = valid ? b->state_mine : 0;
	for (int s = 0; s < 2; s++) {
		br->s[s].mark = br->s[s].head.modseq;
		br->s[s].mark_broken = false;
	}
}

static int
list_sides(struct brain *br, struct mail_err *err)
{
	for (int s = 0; s < 2; s++) {
		struct mail_buf b = MAIL_BUF_INIT;
		int ret;

		/* Backup compares metadata in full: an entry only the
		 * destination has must be seen to be removed. */
		mail_buf_put_varint(&b, br->opts->backup ? 0 : br->s[s].since);
		ret = send_frame(&br->s[s], WIRE_MSG_LIST, b.data, b.len, err);
		mail_buf_free(&b);
		if (ret < 0 || wire_io_flush(br->s[s].p->io, err) < 0)
			return -1;
	}
	for (int s = 0; s < 2; s++) {
		if (recv_listing(&br->s[s], &br->s[s].list, err) < 0)
			return -1;
	}
	return 0;
}

/* The mailboxes of both LISTs, matched by GUID. */
static struct mbox *
collect_mailboxes(struct brain *br, size_t *n_r)
{
	const struct wire_change **v;
	size_t n = 0, cap = br->s[0].list.n + br->s[1].list.n + 1;
	struct mbox *m = mail_xcalloc(cap, sizeof(*m));
	size_t nm = 0;

	v = mail_xcalloc(cap, sizeof(*v));
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < br->s[s].list.n; i++) {
			if (br->s[s].list.v[i].kind == WIRE_CH_MAILBOX)
				v[n++] = &br->s[s].list.v[i];
		}
	}
	dsync_sort(v, n, sizeof(*v), cmp_change_ptr_mailbox);
	for (size_t i = 0; i < n; i++) {
		int s = v[i] >= br->s[0].list.v &&
		    v[i] < br->s[0].list.v + br->s[0].list.n ? 0 : 1;

		if (nm == 0 || mail_guid_cmp(&m[nm - 1].guid,
		    &v[i]->mailbox) != 0) {
			m[nm].guid = v[i]->mailbox;
			nm++;
		}
		m[nm - 1].hdr[s] = v[i];
	}
	free(v);
	*n_r = nm;
	return m;
}

/* ---- merged mailboxes ---- */

#define MERGE_CHAIN_MAX	8

/* The key a message of a merged-away mailbox takes in the mailbox it was
 * merged into (man/dsync-wire.7): the same for every brain, so that two
 * syncs that move one message make one copy, and an expunge of the old
 * key can name the copy. */
static void
merged_key(const struct mail_msg_key *k, const struct mail_guid *into,
    struct mail_msg_key *out)
{
	uint8_t b[MAIL_GUID_SIZE * 2 + 16];
	XXH128_hash_t h;

	memcpy(b, k->guid.b, MAIL_GUID_SIZE);
	mail_put_le64(b + MAIL_GUID_SIZE, k->inst_node);
	mail_put_le64(b + MAIL_GUID_SIZE + 8, k->inst_hlc);
	memcpy(b + MAIL_GUID_SIZE + 16, into->b, MAIL_GUID_SIZE);
	h = XXH3_128bits(b, sizeof(b));
	out->guid = k->guid;
	out->inst_node = h.low64;
	out->inst_hlc = k->inst_hlc;
}

static int
cmp_mbox_guid(const void *a, const void *b)
{
	return mail_guid_cmp(a, &((const struct mbox *)b)->guid);
}

/* Follow m's merges to the live mailbox they end in; the chain of
 * targets (the keys derive step by step along it). NULL when they end
 * in a deleted or unknown mailbox, or go round. */
static struct mbox *
merge_target(const struct brain *br, struct mbox *all, size_t n,
    struct mbox *m, struct mail_guid *chain, size_t *n_chain)
{
	struct mbox *t = m;
	struct mail_guid g;

	*n_chain = 0;
	while (merged_away(br, t) || t == m) {
		if (*n_chain == MERGE_CHAIN_MAX)
			return NULL;
		hdr_merged_into(t, &g);
		t = bsearch(&g, all, n, sizeof(*all), cmp_mbox_guid);
		if (t == NULL || t == m)
			return NULL;
		chain[(*n_chain)++] = g;
	}
	return t->j.deleted ? NULL : t;
}

/* Move m's mail into its merge target t, as far as the sides need it:
 * where m is still live on a side that has not learned of the merge (or
 * on both, when this brain just decided it), its messages the merger did
 * not have get placed in t, its newer flags reach their copies and its
 * expunges kill the copies; then m is deleted everywhere. */
static int
route_merged(struct brain *br, struct mbox *m, struct mbox *t,
    const struct mail_guid *chain, size_t n_chain, bool full,
    struct mail_err *err)
{
	struct mbox tm;
	struct item **v = NULL, *fresh = NULL;
	size_t n = 0, n_fresh = 0;
	uint64_t since[2], zero[2] = { 0, 0 };
	uint32_t uidnext = t->j.uidnext;
	struct wire_clock clock;
	bool live[2];
	int ret = -1;

	memset(&tm, 0, sizeof(tm));
	tm.guid = t->guid;
	tm.j = t->j;
	for (int s = 0; s < 2; s++) {
		live[s] = m->hdr[s] != NULL && !m->hdr[s]->deleted;
		tm.hdr[s] = &t->j;	/* it exists on both sides by now */
	}
	merge_header(br, m);
	mbox_since(br, m, full, since);
	progress(br, m->j.name);
	if (fetch_deltas(br, m, since, err) < 0 ||
	    fetch_deltas(br, &tm, zero, err) < 0)
		goto out;
	build_items(m);
	build_items(&tm);
	brain_clock(br, NULL, br->s[0].p->node, &clock);
	v = mail_xcalloc(m->n_items + 1, sizeof(*v));
	fresh = mail_xcalloc(m->n_items + 1, sizeof(*fresh));
	for (size_t i = 0; i < m->n_items; i++) {
		struct item *it = &m->items[i], *wt;
		const struct wire_change *src;
		struct mail_msg_key k = it->key;

		for (size_t c = 0; c < n_chain; c++)
			merged_key(&k, &chain[c], &k);
		wt = item_find(&tm, &k);
		/* An expunge where m is live, the other side having merged
		 * it: the copy dies too. */
		if ((it->tomb[0] && live[0] && !live[1]) ||
		    (it->tomb[1] && live[1] && !live[0])) {
			for (int s = 0; s < 2; s++) {
				if (wt != NULL && wt->tomb[s])
					continue;
				if (out_context(&br->s[s], &t->guid, err) < 0 ||
				    send_tomb(&br->s[s], &k, err) < 0)
					goto out;
			}
			continue;
		}
		if (wt != NULL && (wt->tomb[0] || wt->tomb[1]))
			continue;	/* the copy was expunged */
		src = NULL;
		for (int s = 0; s < 2; s++) {
			if (live[s] && it->put[s] != NULL)
				src = &it->j;
		}
		if (src == NULL)
			continue;	/* not live where m is */
		merge_item(it);
		if (wt != NULL) {
			/* Copied already: newer flags from m reach it. */
			merge_item(wt);
			if (wire_clock_cmp(&src->flags_clock,
			    &wt->j.flags_clock) <= 0)
				continue;
			wt->j.flags = src->flags;
			wt->j.keywords = src->keywords;
			wt->j.n_keywords = src->n_keywords;
			wt->j.flags_clock = src->flags_clock;
			for (int s = 0; s < 2; s++)
				wt->send[s] = !put_equal(wt->put[s], &wt->j);
			v[n++] = wt;
		} else if (!it->tomb[0] && !it->tomb[1]) {
			/* Mail the merger did not have: placed in t. */
			struct item *f = &fresh[n_fresh++];

			f->key = k;
			f->j = *src;
			f->j.key = k;
			f->j.uid = uidnext++;
			f->j.uid_clock = clock;
			f->send[0] = f->send[1] = true;
			v[n++] = f;
		}
	}
	tm.j.uidnext = uidnext;
	dsync_sort(v, n, sizeof(*v), cmp_item_uid);
	for (size_t off = 0; off < n; off += CHUNK_ITEMS) {
		size_t k = n - off < CHUNK_ITEMS ? n - off : CHUNK_ITEMS;

		if (send_chunk(br, &tm, v + off, k, err) < 0)
			goto out;
	}
	if (tm.j.uidnext > t->j.uidnext) {
		t->j.uidnext = tm.j.uidnext;
		for (int s = 0; s < 2; s++) {
			if (out_header(br, t, s, err) < 0)
				goto out;
		}
	}
	/* m ends deleted everywhere, its keys dead on every side. */
	for (int s = 0; s < 2; s++) {
		bool ctx = false;

		if (live[s])
			continue;	/* its delete kills them there */
		for (size_t i = 0; i < m->n_items; i++) {
			if (m->items[i].tomb[s])
				continue;
			if ((!ctx && out_context(&br->s[s], &m->guid,
			    err) < 0) ||
			    send_tomb(&br->s[s], &m->items[i].key, err) < 0)
				goto out;
			ctx = true;
		}
	}
	m->j.deleted = true;
	hdr_merged_into(m, &m->j.merged_into);
	if (mail_guid_is_zero(&m->j.merged_into))
		m->j.merged_into = chain[0];
	if (send_header(br, m, err) < 0 ||
	    side_commit(&br->s[0], err) < 0 ||
	    side_commit(&br->s[1], err) < 0)
		goto out;
	ret = 0;
out:
	free(v);
	free(fresh);
	mbox_free(&tm);
	return ret;
}

/* Mailboxes merged away earlier (by this or another brain): after the
 * others, so that their targets exist on both sides. */
static int
sync_merged(struct brain *br, struct mbox *m, size_t n, struct mail_err *err)
{
	struct mail_guid chain[MERGE_CHAIN_MAX];
	size_t n_chain;

	for (size_t i = 0; i < n; i++) {
		struct mbox *t;
		int ret;

		if (!merged_away(br, &m[i]))
			continue;
		/* Deleted on both sides, it only needs its tombstones
		 * shared, which the plain sync does. */
		t = (m[i].hdr[0] != NULL && !m[i].hdr[0]->deleted) ||
		    (m[i].hdr[1] != NULL && !m[i].hdr[1]->deleted) ?
		    merge_target(br, m, n, &m[i], chain, &n_chain) : NULL;
		if (t != NULL)
			ret = route_merged(br, &m[i], t, chain, n_chain, false,
			    err);
		else
			ret = sync_mailbox(br, &m[i], false, err);
		if (ret < 0)
			return -1;
		br->done_mailboxes++;
	}
	return side_commit(&br->s[0], err) < 0 ||
	    side_commit(&br->s[1], err) < 0 ? -1 : 0;
}

static int
cmp_mbox_winner(const struct mbox *x, const struct mbox *y)
{
	int c = wire_clock_cmp(&x->j.create_clock, &y->j.create_clock);

	return c != 0 ? c : mail_guid_cmp(&x->guid, &y->guid);
}

/* Two live mailboxes with one name: the later-created one is merged into
 * the first; its mail moves there with new keys and UIDs, and it is
 * deleted on both sides, remembering where it went. */
static int
merge_into(struct brain *br, struct mbox *win, struct mbox *lose,
    struct mail_err *err)
{
	struct wire_change h[2];

	/* Both sides hold lose equal by now; route_merged reads it in
	 * full. Its headers are marked as merged first. */
	const struct wire_change *was[2] = { lose->hdr[0], lose->hdr[1] };
	int ret;

	for (int s = 0; s < 2; s++) {
		h[s] = lose->j;
		h[s].merged_into = win->guid;
		lose->hdr[s] = &h[s];
	}
	mbox_free(lose);
	lose->items = NULL;
	lose->n_items = 0;
	ret = route_merged(br, lose, win, &win->guid, 1, true, err);
	lose->hdr[0] = was[0];
	lose->hdr[1] = was[1];
	return ret;
}

static int
cmp_mbox_name(const void *a, const void *b)
{
	const struct mbox *x = *(struct mbox *const *)a;
	const struct mbox *y = *(struct mbox *const *)b;
	int c = strcmp(x->j.name, y->j.name);

	return c != 0 ? c : cmp_mbox_winner(x, y);
}

static int
merge_same_names(struct brain *br, struct mbox *m, size_t n,
    struct mail_err *err)
{
	struct mbox **live = mail_xcalloc(n + 1, sizeof(*live));
	size_t nl = 0;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		if (!m[i].j.deleted)
			live[nl++] = &m[i];
	}
	dsync_sort(live, nl, sizeof(*live), cmp_mbox_name);
	for (size_t i = 1; i < nl && ret == 0; i++) {
		size_t w = i - 1;

		if (strcmp(live[w]->j.name, live[i]->j.name) != 0)
			continue;
		while (w > 0 && strcmp(live[w - 1]->j.name,
		    live[i]->j.name) == 0)
			w--;
		ret = merge_into(br, live[w], live[i], err);
	}
	free(live);
	return ret;
}

static int
remember(struct brain *br, struct mail_err *err)
{
	/* what the marks cover must be committed first */
	if (side_commit(&br->s[0], err) < 0 || side_commit(&br->s[1], err) < 0)
		return -1;
	for (int s = 0; s < 2; s++) {
		struct side *sd = &br->s[s], *o = &br->s[1 - s];
		struct wire_state st;
		struct mail_buf b = MAIL_BUF_INIT;
		int ret;

		st.peer_node = o->p->node;
		st.mine = sd->mark;
		sd->p->synced_mark = sd->mark;
		st.peer = o->mark;
		st.peer_log = o->head.log_id;
		wire_state_encode(&st, &b);
		ret = send_frame(sd, WIRE_MSG_STATE_SET, b.data, b.len, err);
		mail_buf_free(&b);
		if (ret < 0 || wire_io_flush(sd->p->io, err) < 0)
			return -1;
	}
	for (int s = 0; s < 2; s++) {
		struct wire_frame f;

		if (wire_io_expect(br->s[s].p->io, WIRE_MSG_OK, &f, err) < 0)
			return -1;
	}
	return 0;
}

int
dsync_brain_user(struct dsync_peer *a, struct dsync_peer *b, const char *user,
    const struct dsync_sync_opts *opts, struct mail_err *err)
{
	struct brain br;
	struct mbox *m = NULL;
	size_t n = 0;
	int ret = -1;

	memset(&br, 0, sizeof(br));
	br.s[0].p = a;
	br.s[1].p = b;
	br.opts = opts;
	br.user = user;
	if (open_user(&br, err) < 0)
		goto out;
	choose_since(&br);
	if (list_sides(&br, err) < 0)
		goto out;
	if (sync_entries(&br, WIRE_CH_SUB, err) < 0)
		goto out;
	m = collect_mailboxes(&br, &n);
	br.n_mailboxes = n;
	for (size_t i = 0; i < n; i++) {
		if (merged_away(&br, &m[i]))
			continue;
		if (sync_mailbox(&br, &m[i], false, err) < 0)
			goto out;
		br.done_mailboxes++;
	}
	/* ACLs and mailbox metadata after the mailboxes exist on both. */
	if (sync_entries(&br, WIRE_CH_META, err) < 0 ||
	    sync_entries(&br, WIRE_CH_ACL, err) < 0)
		goto out;
	if (side_commit(&br.s[0], err) < 0 || side_commit(&br.s[1], err) < 0)
		goto out;
	if (sync_merged(&br, m, n, err) < 0)
		goto out;
	if (!opts->backup && merge_same_names(&br, m, n, err) < 0)
		goto out;
	if (remember(&br, err) < 0)
		goto out;
	if (opts->progress)
		fprintf(stderr, "\r\033[K");
	if (br.n_stay_expunged > 0)
		fprintf(stderr, "dsync: warning: user \"%s\": %llu messages "
		    "expunged in %s stay expunged there\n", user,
		    (unsigned long long)br.n_stay_expunged, b->label);
	ret = 0;
out:
	for (size_t i = 0; i < n; i++)
		mbox_free(&m[i]);
	free(m);
	for (int s = 0; s < 2; s++) {
		changes_free(&br.s[s].list);
		mail_buf_free(&br.s[s].out);
	}
	return ret;
}

int
dsync_brain_users(struct dsync_peer *p, char ***names_r, size_t *n_r,
    struct mail_err *err)
{
	struct wire_frame f;
	struct mail_reader r;
	uint64_t n;
	char **v;

	if (wire_io_send(p->io, WIRE_MSG_USERS, NULL, 0, err) < 0 ||
	    wire_io_flush(p->io, err) < 0 ||
	    wire_io_expect(p->io, WIRE_MSG_USER_LIST, &f, err) < 0)
		return -1;
	mail_reader_init(&r, f.payload, f.len);
	n = mail_get_varint(&r);
	if (n > WIRE_USERS_MAX || n > r.left)
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed USER_LIST");
	v = mail_xcalloc(n + 1, sizeof(*v));
	for (uint64_t i = 0; i < n; i++)
		v[i] = mail_get_strdup(&r, WIRE_NAME_MAX);
	if (!mail_reader_end(&r)) {
		mail_store_user_list_free(v, n);
		return mail_err_set(err, MAIL_ERR_PROTO, "malformed USER_LIST");
	}
	*names_r = v;
	*n_r = n;
	return 0;
}

int
dsync_brain_compress(struct dsync_peer *p, int level, struct mail_err *err)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct wire_frame f;
	int ret;

	if ((p->features & WIRE_FEATURE_ZLIB) == 0)
		return 0;
	mail_buf_put_varint(&b, (uint64_t)level);
	ret = wire_io_send(p->io, WIRE_MSG_COMPRESS, b.data, b.len, err);
	mail_buf_free(&b);
	if (ret < 0 || wire_io_flush(p->io, err) < 0 ||
	    wire_io_expect(p->io, WIRE_MSG_OK, &f, err) < 0)
		return -1;
	return wire_io_start_compress(p->io, level, err);
}
