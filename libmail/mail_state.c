/*
 * mail_state.c: applying change-log records to a user's in-memory state.
 *
 * Invariants kept here: messages of a mailbox are sorted by UID and UIDs
 * are unique; uidnext is above every UID ever used (live, in gone, or
 * named by a MSG_PUT); a UID in gone names no live message and is never
 * given to another; a key with a tombstone is not live; a deleted
 * mailbox has no messages and keeps its GUID; n_unseen and total_size
 * match the messages. Conflicting writes to one item (mailbox name,
 * special-use, private-flag mask, subscription, flags, UID of a message,
 * private flags, metadata value, ACL entry) resolve by last writer wins
 * on (hlc, node), so applying records from several nodes in any order
 * that respects each node's own order gives the same result.
 *
 * Local writes always win against what is already here: mail_txn picks
 * the next HLC above st->hlc, which apply raises to every clock a record
 * carries (its own, and the instance, UID and flag clocks of a PUT).
 *
 * Messages are found by key (GUID and instance) through a hash index of
 * UIDs, built on the first lookup by key and kept up to date after: a
 * reader or a delivery never pays for it, a sync pays O(n) once.
 */
#include <stdlib.h>
#include <strings.h>
#include <sys/mman.h>
#include <xxhash.h>

#include "mail_state.h"
#include "mail_hlc.h"

/* The key index: open addressing with linear probing over UIDs. UID 0
 * and 2^32-1 never name a message (the decoder refuses them), so they
 * mark empty and removed slots. */
struct mail_msg_index {
	uint32_t *slot;
	size_t	 cap;		/* a power of two */
	size_t	 used;		/* slots not empty, removed ones too */
};

#define KIDX_EMPTY	0u
#define KIDX_REMOVED	UINT32_MAX

void
mail_mailbox_identity(const char *user, const char *name,
    struct mail_guid *guid_r, uint32_t *uidvalidity_r)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_buf_append_str(&b, "dsync mailbox");
	mail_buf_append(&b, "", 1);
	mail_buf_append_str(&b, user);
	mail_buf_append(&b, "", 1);
	mail_buf_append_str(&b, name);
	mail_guid_hash(b.data, b.len, guid_r);
	mail_buf_free(&b);
	/* Any value but 0 will do; the top bit kept clear so it reads as a
	 * plausible timestamp-like number in clients' debug output. */
	*uidvalidity_r = (mail_get_le32(guid_r->b) & 0x7fffffff) | 1;
}

struct mail_state *
mail_state_new(void)
{
	return mail_xcalloc(1, sizeof(struct mail_state));
}

static void
meta_free_array(struct mail_meta *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].user);
		free(m[i].key);
		free(m[i].value);
	}
	free(m);
}

static void
kidx_free(struct mail_mailbox *mb)
{
	if (mb->key_index == NULL)
		return;
	free(mb->key_index->slot);
	free(mb->key_index);
	mb->key_index = NULL;
}

static void
mailbox_free(struct mail_mailbox *mb)
{
	free(mb->name);
	free(mb->special_use);
	for (size_t i = 0; i < mb->n_keywords; i++)
		free(mb->keywords[i]);
	if (!mb->msgs_mapped)
		free(mb->msgs);
	for (size_t i = 0; i < mb->n_pvt; i++) {
		free(mb->pvt[i].user);
		free(mb->pvt[i].v);
	}
	free(mb->pvt);
	meta_free_array(mb->meta, mb->n_meta);
	for (size_t i = 0; i < mb->n_acl; i++) {
		free(mb->acl[i].identifier);
		free(mb->acl[i].rights);
	}
	free(mb->acl);
	free(mb->tombs);
	mail_uidset_free(&mb->gone);
	kidx_free(mb);
	free(mb);
}

void
mail_state_free(struct mail_state **statep)
{
	struct mail_state *st = *statep;

	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_mailboxes; i++)
		mailbox_free(st->mailboxes[i]);
	free(st->mailboxes);
	for (size_t i = 0; i < st->n_subs; i++)
		free(st->subs[i].name);
	free(st->subs);
	meta_free_array(st->meta, st->n_meta);
	if (st->map != NULL)
		munmap(st->map, st->map_len);
	free(st);
	*statep = NULL;
}

struct mail_mailbox *
mail_state_mailbox_by_name(const struct mail_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (!st->mailboxes[i]->deleted &&
		    strcmp(st->mailboxes[i]->name, name) == 0)
			return st->mailboxes[i];
	}
	return NULL;
}

struct mail_mailbox *
mail_state_mailbox_by_guid_any(const struct mail_state *st,
    const struct mail_guid *guid)
{
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (mail_guid_cmp(&st->mailboxes[i]->guid, guid) == 0)
			return st->mailboxes[i];
	}
	return NULL;
}

struct mail_mailbox *
mail_state_mailbox_by_guid(const struct mail_state *st,
    const struct mail_guid *guid)
{
	struct mail_mailbox *mb = mail_state_mailbox_by_guid_any(st, guid);

	return mb != NULL && !mb->deleted ? mb : NULL;
}

bool
mail_state_guid_deleted(const struct mail_state *st,
    const struct mail_guid *guid)
{
	struct mail_mailbox *mb = mail_state_mailbox_by_guid_any(st, guid);

	return mb != NULL && mb->deleted;
}

size_t
mail_mailbox_msg_index(const struct mail_mailbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->n_msgs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct mail_msg *
mail_mailbox_msg(const struct mail_mailbox *mb, uint32_t uid)
{
	size_t i = mail_mailbox_msg_index(mb, uid);

	return i < mb->n_msgs && mb->msgs[i].uid == uid ? &mb->msgs[i] : NULL;
}

bool
mail_mailbox_uid_used(const struct mail_mailbox *mb, uint32_t uid)
{
	return mail_mailbox_msg(mb, uid) != NULL ||
	    mail_uidset_contains(&mb->gone, uid);
}

int
mail_msg_key_cmp(const struct mail_msg_key *a, const struct mail_msg_key *b)
{
	int c = mail_guid_cmp(&a->guid, &b->guid);

	if (c != 0)
		return c < 0 ? -1 : 1;
	if (a->inst_node != b->inst_node)
		return a->inst_node < b->inst_node ? -1 : 1;
	if (a->inst_hlc != b->inst_hlc)
		return a->inst_hlc < b->inst_hlc ? -1 : 1;
	return 0;
}

void
mail_msg_key_of(const struct mail_msg *msg, struct mail_msg_key *key_r)
{
	memset(key_r, 0, sizeof(*key_r));
	key_r->guid = msg->guid;
	key_r->inst_node = msg->inst_node;
	key_r->inst_hlc = msg->inst_hlc;
}

static void
key_of_rec(const struct mail_rec *rec, struct mail_msg_key *key_r)
{
	memset(key_r, 0, sizeof(*key_r));
	key_r->guid = rec->guid;
	key_r->inst_node = rec->inst_node;
	key_r->inst_hlc = rec->inst_hlc;
}

static bool
msg_has_key(const struct mail_msg *m, const struct mail_msg_key *key)
{
	return m->inst_hlc == key->inst_hlc && m->inst_node == key->inst_node &&
	    mail_guid_cmp(&m->guid, &key->guid) == 0;
}

static size_t
key_slot0(const struct mail_msg_index *ix, const struct mail_msg_key *key)
{
	uint8_t b[32];

	memcpy(b, key->guid.b, 16);
	mail_put_le64(b + 16, key->inst_node);
	mail_put_le64(b + 24, key->inst_hlc);
	return (size_t)XXH3_64bits(b, sizeof(b)) & (ix->cap - 1);
}

static void
kidx_place(struct mail_msg_index *ix, const struct mail_msg *m)
{
	struct mail_msg_key key;
	size_t i;

	if (m->uid == KIDX_EMPTY || m->uid == KIDX_REMOVED)
		return;		/* garbage from a damaged array */
	mail_msg_key_of(m, &key);
	i = key_slot0(ix, &key);
	while (ix->slot[i] != KIDX_EMPTY && ix->slot[i] != KIDX_REMOVED)
		i = (i + 1) & (ix->cap - 1);
	if (ix->slot[i] == KIDX_EMPTY)
		ix->used++;
	ix->slot[i] = m->uid;
}

/* (Re)build mb's index with room for want messages: at most half full,
 * so that probes stay short and always meet an empty slot. */
static void
kidx_build(struct mail_mailbox *mb, size_t want)
{
	struct mail_msg_index *ix = mb->key_index;
	size_t cap = 16;

	while (cap / 2 < want)
		cap *= 2;
	if (ix == NULL)
		ix = mb->key_index = mail_xcalloc(1, sizeof(*ix));
	free(ix->slot);
	ix->slot = mail_xcalloc(cap, sizeof(*ix->slot));
	ix->cap = cap;
	ix->used = 0;
	for (size_t i = 0; i < mb->n_msgs; i++)
		kidx_place(ix, &mb->msgs[i]);
}

/* m was just inserted into mb's messages. */
static void
kidx_add(struct mail_mailbox *mb, const struct mail_msg *m)
{
	struct mail_msg_index *ix = mb->key_index;

	if (ix == NULL)
		return;
	if ((ix->used + 1) * 4 > ix->cap * 3)
		kidx_build(mb, mb->n_msgs);	/* m included */
	else
		kidx_place(ix, m);
}

/* Find the slot holding uid for key, or NULL. */
static uint32_t *
kidx_slot_of(const struct mail_mailbox *mb, const struct mail_msg_key *key,
    uint32_t uid)
{
	struct mail_msg_index *ix = mb->key_index;
	size_t i;

	if (ix == NULL)
		return NULL;
	i = key_slot0(ix, key);
	for (size_t n = 0; n < ix->cap && ix->slot[i] != KIDX_EMPTY; n++) {
		if (ix->slot[i] == uid)
			return &ix->slot[i];
		i = (i + 1) & (ix->cap - 1);
	}
	return NULL;
}

struct mail_msg *
mail_mailbox_msg_by_key(const struct mail_mailbox *cmb,
    const struct mail_msg_key *key)
{
	/* the index is a cache: building it does not change the mailbox */
	struct mail_mailbox *mb = (struct mail_mailbox *)(uintptr_t)cmb;
	struct mail_msg_index *ix;
	size_t i;

	if (mb->n_msgs == 0)
		return NULL;
	if (mb->key_index == NULL)
		kidx_build(mb, mb->n_msgs);
	ix = mb->key_index;
	i = key_slot0(ix, key);
	for (size_t n = 0; n < ix->cap && ix->slot[i] != KIDX_EMPTY; n++) {
		if (ix->slot[i] != KIDX_REMOVED) {
			struct mail_msg *m = mail_mailbox_msg(mb, ix->slot[i]);

			if (m != NULL && msg_has_key(m, key))
				return m;
		}
		i = (i + 1) & (ix->cap - 1);
	}
	return NULL;
}

/* Index of the first tombstone with key >= key. */
static size_t
tomb_index(const struct mail_mailbox *mb, const struct mail_msg_key *key)
{
	size_t lo = 0, hi = mb->n_tombs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mail_msg_key_cmp(&mb->tombs[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct mail_tomb *
mail_mailbox_tomb_find(const struct mail_mailbox *mb,
    const struct mail_msg_key *key)
{
	size_t i = tomb_index(mb, key);

	return i < mb->n_tombs && mail_msg_key_cmp(&mb->tombs[i].key,
	    key) == 0 ? &mb->tombs[i] : NULL;
}

/* Add a tombstone unless key has one. Returns true if added. */
static bool
tomb_add(struct mail_mailbox *mb, const struct mail_msg_key *key,
    uint64_t modseq)
{
	size_t i = tomb_index(mb, key);

	if (i < mb->n_tombs && mail_msg_key_cmp(&mb->tombs[i].key, key) == 0)
		return false;
	mb->tombs = mail_xgrow(mb->tombs, &mb->cap_tombs, mb->n_tombs + 1,
	    sizeof(*mb->tombs));
	memmove(&mb->tombs[i + 1], &mb->tombs[i],
	    (mb->n_tombs - i) * sizeof(*mb->tombs));
	mb->tombs[i].key = *key;
	mb->tombs[i].modseq = modseq;
	mb->n_tombs++;
	return true;
}

static int
cmp_tomb(const void *a, const void *b)
{
	return mail_msg_key_cmp(&((const struct mail_tomb *)a)->key,
	    &((const struct mail_tomb *)b)->key);
}

/* Merge n new tombstones (any order; taken) into mb's sorted array in
 * one pass, so that deleting a big mailbox is not quadratic. A key that
 * has a tombstone keeps the one it has. */
static void
tomb_merge(struct mail_mailbox *mb, struct mail_tomb *add, size_t n)
{
	struct mail_tomb *out;
	size_t i = 0, k = 0, w = 0, cap = mb->n_tombs + n;

	if (n == 0)
		return;
	if (n == 1) {
		(void)tomb_add(mb, &add[0].key, add[0].modseq);
		return;
	}
	mail_qsort(add, n, sizeof(*add), cmp_tomb);
	out = mail_xcalloc(cap, sizeof(*out));
	while (i < mb->n_tombs || k < n) {
		int c = i == mb->n_tombs ? 1 : k == n ? -1 :
		    mail_msg_key_cmp(&mb->tombs[i].key, &add[k].key);
		const struct mail_tomb *t = c <= 0 ? &mb->tombs[i++] :
		    &add[k++];

		if (c == 0)
			k++;
		if (w > 0 && mail_msg_key_cmp(&out[w - 1].key, &t->key) == 0)
			continue;	/* a key twice among the new ones */
		out[w++] = *t;
	}
	free(mb->tombs);
	mb->tombs = out;
	mb->n_tombs = w;
	mb->cap_tombs = cap;
}

int
mail_mailbox_keyword_index(const struct mail_mailbox *mb, const char *kw)
{
	for (size_t i = 0; i < mb->n_keywords; i++) {
		if (strcmp(mb->keywords[i], kw) == 0)
			return (int)i;
	}
	return -1;
}
/* The keyword bit mask for names, adding them to the mailbox's table.
 * The table is bounded; writers refuse new keywords beyond it, so a name
 * that does not fit here can only come from a damaged or hostile source
 * and is dropped. */
static uint64_t
mailbox_keyword_mask(struct mail_mailbox *mb, char *const *kw, size_t n)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < n; i++) {
		int idx = mail_mailbox_keyword_index(mb, kw[i]);

		if (idx < 0 && mb->n_keywords < MAIL_MAILBOX_MAX_KEYWORDS) {
			idx = (int)mb->n_keywords;
			mb->keywords[mb->n_keywords++] = mail_xstrdup(kw[i]);
		}
		if (idx >= 0)
			mask |= (uint64_t)1 << idx;
	}
	return mask;
}

static struct mail_pvt_user *
pvt_user(struct mail_mailbox *mb, const char *user, bool create)
{
	for (size_t i = 0; i < mb->n_pvt; i++) {
		if (strcmp(mb->pvt[i].user, user) == 0)
			return &mb->pvt[i];
	}
	if (!create)
		return NULL;
	mb->pvt = mail_xgrow(mb->pvt, &mb->cap_pvt, mb->n_pvt + 1,
	    sizeof(*mb->pvt));
	memset(&mb->pvt[mb->n_pvt], 0, sizeof(mb->pvt[0]));
	mb->pvt[mb->n_pvt].user = mail_xstrdup(user);
	return &mb->pvt[mb->n_pvt++];
}

static struct mail_pvt_entry *
pvt_entry(struct mail_pvt_user *pu, uint32_t uid, bool create)
{
	size_t lo = 0, hi = pu->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (pu->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < pu->n && pu->v[lo].uid == uid)
		return &pu->v[lo];
	if (!create)
		return NULL;
	pu->v = mail_xgrow(pu->v, &pu->cap, pu->n + 1, sizeof(*pu->v));
	memmove(&pu->v[lo + 1], &pu->v[lo], (pu->n - lo) * sizeof(*pu->v));
	memset(&pu->v[lo], 0, sizeof(pu->v[lo]));
	pu->v[lo].uid = uid;
	pu->n++;
	return &pu->v[lo];
}

uint16_t
mail_mailbox_pvt_flags(const struct mail_mailbox *mb, const char *viewer,
    uint32_t uid)
{
	struct mail_pvt_user *pu;
	struct mail_pvt_entry *e;

	pu = pvt_user((struct mail_mailbox *)(uintptr_t)mb, viewer, false);
	if (pu == NULL || (e = pvt_entry(pu, uid, false)) == NULL)
		return 0;
	return e->flags;
}

uint16_t
mail_mailbox_view_flags(const struct mail_mailbox *mb,
    const struct mail_msg *msg, const char *viewer, bool is_owner)
{
	if (is_owner || mb->pvt_mask == 0)
		return msg->flags;
	return (uint16_t)((msg->flags & ~mb->pvt_mask) |
	    (mail_mailbox_pvt_flags(mb, viewer, msg->uid) & mb->pvt_mask));
}

static uint16_t
flags_apply_op(uint16_t cur, uint8_t op, uint16_t flags, uint16_t mask)
{
	switch (op) {
	case MAIL_FLAGS_ADD:
		return cur | flags;
	case MAIL_FLAGS_REMOVE:
		return cur & (uint16_t)~flags;
	default:
		return (uint16_t)((cur & ~mask) | (flags & mask));
	}
}

static uint64_t
kw_apply_op(uint64_t cur, uint8_t op, uint64_t mask)
{
	switch (op) {
	case MAIL_FLAGS_ADD:
		return cur | mask;
	case MAIL_FLAGS_REMOVE:
		return cur & ~mask;
	default:
		return mask;
	}
}

static void
bump_modseq(struct mail_mailbox *mb, uint64_t modseq)
{
	if (modseq > mb->highestmodseq)
		mb->highestmodseq = modseq;
}

static void
hlc_seen(struct mail_state *st, uint64_t hlc)
{
	if (hlc > st->hlc)
		st->hlc = hlc;
}

static struct mail_mailbox *
mailbox_new(struct mail_state *st, const struct mail_guid *guid)
{
	struct mail_mailbox *mb = mail_xcalloc(1, sizeof(*mb));

	mb->guid = *guid;
	mb->uidnext = 1;
	mb->special_use = mail_xstrdup("");
	mb->pvt_mask = MAIL_SEEN;
	st->mailboxes = mail_xgrow(st->mailboxes, &st->cap_mailboxes,
	    st->n_mailboxes + 1, sizeof(*st->mailboxes));
	st->mailboxes[st->n_mailboxes++] = mb;
	return mb;
}

static void
apply_mailbox_create(struct mail_state *st, const struct mail_rec *rec)
{
	struct mail_mailbox *mb = mail_state_mailbox_by_guid_any(st,
	    &rec->mailbox);

	/* a GUID names one mailbox: a live one is not created twice, and a
	 * deleted one comes back only as itself (same UIDVALIDITY, so that
	 * UIDs keep their meaning), never as a new mailbox */
	if (mb != NULL && (!mb->deleted || mb->uidvalidity != rec->uidvalidity))
		return;
	if (mb == NULL) {
		mb = mailbox_new(st, &rec->mailbox);
		mb->uidvalidity = rec->uidvalidity;
		mb->create_hlc = rec->hlc;
		mb->create_node = rec->node;
	}
	/* new, or undeleted: its creation clock stays the first one */
	mb->deleted = false;
	free(mb->name);
	mb->name = mail_xstrdup(rec->name);
	mb->name_hlc = rec->hlc;
	mb->name_node = rec->node;
	bump_modseq(mb, rec->modseq);
	if (rec->uidvalidity > st->last_uidvalidity)
		st->last_uidvalidity = rec->uidvalidity;
}

/* Open a zeroed slot at index i of mb's messages. */
static struct mail_msg *
msgs_open_slot(struct mail_mailbox *mb, size_t i)
{
	if (mb->msgs_mapped && mb->n_msgs + 1 > mb->cap_msgs) {
		/* the snapshot's free slots are used up: the array leaves
		 * the mapping (in place changes are fine, growth is not) */
		struct mail_msg *heap = mail_xcalloc(mb->n_msgs + 1,
		    sizeof(*heap));

		if (mb->n_msgs > 0)
			memcpy(heap, mb->msgs, mb->n_msgs * sizeof(*heap));
		mb->msgs = heap;
		mb->cap_msgs = mb->n_msgs + 1;
		mb->msgs_mapped = false;
	}
	mb->msgs = mail_xgrow(mb->msgs, &mb->cap_msgs, mb->n_msgs + 1,
	    sizeof(*mb->msgs));
	memmove(&mb->msgs[i + 1], &mb->msgs[i],
	    (mb->n_msgs - i) * sizeof(*mb->msgs));
	mb->n_msgs++;
	memset(&mb->msgs[i], 0, sizeof(mb->msgs[i]));
	return &mb->msgs[i];
}

static void
meta_remove_uids(struct mail_meta *m, size_t *n, const struct mail_uidset *u)
{
	size_t w = 0;

	for (size_t i = 0; i < *n; i++) {
		if (m[i].uid != 0 && mail_uidset_contains(u, m[i].uid)) {
			free(m[i].user);
			free(m[i].key);
			free(m[i].value);
			continue;
		}
		m[w++] = m[i];
	}
	*n = w;
}

/* Expunge the messages of mb whose UIDs are in uids: each leaves a
 * tombstone (at modseq) and its UID in gone; their private flags and
 * metadata go. Walks the ranges by binary search, so expunging one
 * message of a big mailbox costs one search and one move. */
static void
msgs_expunge(struct mail_mailbox *mb, const struct mail_uidset *uids,
    uint64_t modseq)
{
	struct mail_tomb *dead = NULL;
	size_t n_dead = 0, cap_dead = 0, n = mb->n_msgs, w = 0, i = 0;
	const size_t sz = sizeof(*mb->msgs);

	for (size_t r = 0; r < uids->n && i < n; r++) {
		size_t lo = i, hi = n;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (mb->msgs[mid].uid < uids->r[r].lo)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* keep [i, lo) */
		if (w != i && lo > i)
			memmove(&mb->msgs[w], &mb->msgs[i], (lo - i) * sz);
		w += lo - i;
		for (i = lo; i < n && mb->msgs[i].uid <= uids->r[r].hi; i++) {
			struct mail_msg *m = &mb->msgs[i];
			uint32_t *slot;

			if ((m->flags & MAIL_SEEN) == 0)
				mb->n_unseen--;
			mb->total_size -= m->size;
			dead = mail_xgrow(dead, &cap_dead, n_dead + 1,
			    sizeof(*dead));
			mail_msg_key_of(m, &dead[n_dead].key);
			dead[n_dead].modseq = modseq;
			if ((slot = kidx_slot_of(mb, &dead[n_dead].key,
			    m->uid)) != NULL)
				*slot = KIDX_REMOVED;
			n_dead++;
			mail_uidset_add(&mb->gone, m->uid, m->uid);
		}
	}
	if (w != i && n > i)
		memmove(&mb->msgs[w], &mb->msgs[i], (n - i) * sz);
	w += n - i;
	mb->n_msgs = w;
	if (n_dead == 0)
		return;
	tomb_merge(mb, dead, n_dead);
	free(dead);
	for (size_t p = 0; p < mb->n_pvt; p++) {
		struct mail_pvt_user *pu = &mb->pvt[p];
		size_t pw = 0;

		for (size_t k = 0; k < pu->n; k++) {
			if (!mail_uidset_contains(uids, pu->v[k].uid))
				pu->v[pw++] = pu->v[k];
		}
		pu->n = pw;
	}
	meta_remove_uids(mb->meta, &mb->n_meta, uids);
}

/* uid was given to a message that does not have it here (it is dead
 * here, or holds a UID assigned later): it stays used, as it would be
 * had the message been here with it. Returns true if mb changed. */
static bool
uid_retire(struct mail_mailbox *mb, uint32_t uid)
{
	bool changed = false;

	if (uid == 0 || uid == UINT32_MAX)
		return false;
	if (!mail_mailbox_uid_used(mb, uid)) {
		mail_uidset_add(&mb->gone, uid, uid);
		changed = true;
	}
	if (uid >= mb->uidnext) {
		mb->uidnext = uid + 1;
		changed = true;
	}
	return changed;
}

/* Give m the unused UID to: it moves to its sorted place, its old UID
 * goes to gone, its private flags and metadata follow it. Returns the
 * message at its new place. */
static struct mail_msg *
msg_renumber(struct mail_mailbox *mb, struct mail_msg *m, uint32_t to)
{
	struct mail_msg copy = *m;
	struct mail_msg_key key;
	size_t i = (size_t)(m - mb->msgs), j;
	uint32_t from = m->uid, *slot;

	memmove(&mb->msgs[i], &mb->msgs[i + 1],
	    (mb->n_msgs - i - 1) * sizeof(*mb->msgs));
	mb->n_msgs--;
	j = mail_mailbox_msg_index(mb, to);
	memmove(&mb->msgs[j + 1], &mb->msgs[j],
	    (mb->n_msgs - j) * sizeof(*mb->msgs));
	mb->n_msgs++;
	copy.uid = to;
	mb->msgs[j] = copy;
	mail_msg_key_of(&copy, &key);
	if ((slot = kidx_slot_of(mb, &key, from)) != NULL)
		*slot = to;
	mail_uidset_add(&mb->gone, from, from);
	if (to >= mb->uidnext)
		mb->uidnext = to + 1;
	for (size_t p = 0; p < mb->n_pvt; p++) {
		struct mail_pvt_user *pu = &mb->pvt[p];
		struct mail_pvt_entry *e = pvt_entry(pu, from, false), saved;
		size_t k;

		if (e == NULL)
			continue;
		saved = *e;
		k = (size_t)(e - pu->v);
		memmove(&pu->v[k], &pu->v[k + 1],
		    (pu->n - k - 1) * sizeof(*pu->v));
		pu->n--;
		saved.uid = to;
		*pvt_entry(pu, to, true) = saved;
	}
	for (size_t k = 0; k < mb->n_meta; k++) {
		if (mb->meta[k].uid == from)
			mb->meta[k].uid = to;
	}
	return &mb->msgs[j];
}

/* Insert the message of an ADD or PUT at its (unused) UID. */
static void
msg_insert(struct mail_mailbox *mb, const struct mail_rec *rec,
    uint64_t uid_hlc, uint64_t uid_node, uint64_t flags_hlc,
    uint64_t flags_node)
{
	struct mail_msg *m = msgs_open_slot(mb,
	    mail_mailbox_msg_index(mb, rec->uid));

	m->uid = rec->uid;
	m->flags = rec->flags;
	m->keywords = mailbox_keyword_mask(mb, rec->keywords, rec->n_keywords);
	m->guid = rec->guid;
	m->body = rec->body;
	m->inst_node = rec->inst_node;
	m->inst_hlc = rec->inst_hlc;
	m->idate = rec->idate;
	m->sdate = rec->sdate;
	m->size = rec->size;
	m->modseq = rec->modseq;
	m->flags_hlc = flags_hlc;
	m->flags_node = flags_node;
	m->uid_hlc = uid_hlc;
	m->uid_node = uid_node;
	if ((m->flags & MAIL_SEEN) == 0)
		mb->n_unseen++;
	mb->total_size += m->size;
	if (rec->uid >= mb->uidnext)
		mb->uidnext = rec->uid + 1;
	kidx_add(mb, m);
	bump_modseq(mb, rec->modseq);
}

/* MSG_ADD: a new instance, made by the writer. It is not looked up among
 * the live messages (that would read a big mailbox's whole array on each
 * delivery): a save or copy makes a fresh instance (node, new HLC). */
static void
apply_msg_add(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	struct mail_msg_key key;

	/* never decoded: only from a caller's bug */
	if (rec->uid == 0 || rec->uid == UINT32_MAX)
		return;
	key_of_rec(rec, &key);
	if (mail_mailbox_tomb_find(mb, &key) != NULL) {
		if (uid_retire(mb, rec->uid))
			bump_modseq(mb, rec->modseq);
		return;
	}
	if (mail_mailbox_uid_used(mb, rec->uid))
		return;		/* already applied */
	msg_insert(mb, rec, rec->hlc, rec->node, rec->hlc, rec->node);
}

/* MSG_PUT: join one message's state from elsewhere (see mail_state.h).
 * Each part is last writer wins on its own clock, and every UID a PUT
 * names stays used here whatever the outcome, so PUTs and TOMBs of one
 * key give the same state in any order. */
static void
apply_msg_put(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	struct mail_msg_key key;
	struct mail_msg *m;
	bool touched = false;

	/* never decoded: only from a caller's bug */
	if (rec->uid == 0 || rec->uid == UINT32_MAX)
		return;
	key_of_rec(rec, &key);
	if (mail_mailbox_tomb_find(mb, &key) != NULL) {
		/* dead here forever; its UID is not reusable either */
		if (uid_retire(mb, rec->uid))
			bump_modseq(mb, rec->modseq);
		return;
	}
	if ((m = mail_mailbox_msg_by_key(mb, &key)) == NULL) {
		/* a used UID: the writer checks first; UIDNEXT is already
		 * past it */
		if (!mail_mailbox_uid_used(mb, rec->uid))
			msg_insert(mb, rec, rec->uid_hlc, rec->uid_node,
			    rec->flags_hlc, rec->flags_node);
		return;
	}
	if (mail_hlc_cmp(rec->uid_hlc, rec->uid_node, m->uid_hlc,
	    m->uid_node) > 0 && (rec->uid == m->uid ||
	    !mail_mailbox_uid_used(mb, rec->uid))) {
		if (rec->uid != m->uid)
			m = msg_renumber(mb, m, rec->uid);
		m->uid_hlc = rec->uid_hlc;
		m->uid_node = rec->uid_node;
		touched = true;
	} else if (rec->uid != m->uid && uid_retire(mb, rec->uid)) {
		/* an older assignment (or one blocked by a used UID) */
		bump_modseq(mb, rec->modseq);
	}
	if (mail_hlc_cmp(rec->flags_hlc, rec->flags_node, m->flags_hlc,
	    m->flags_node) > 0) {
		uint64_t kw = mailbox_keyword_mask(mb, rec->keywords,
		    rec->n_keywords);

		if ((m->flags & MAIL_SEEN) != (rec->flags & MAIL_SEEN)) {
			if (rec->flags & MAIL_SEEN)
				mb->n_unseen--;
			else
				mb->n_unseen++;
		}
		m->flags = rec->flags;
		m->keywords = kw;
		m->flags_hlc = rec->flags_hlc;
		m->flags_node = rec->flags_node;
		touched = true;
	}
	if (touched) {
		m->modseq = rec->modseq;
		bump_modseq(mb, rec->modseq);
	}
}

/* MSG_TOMB: the key is dead in mb, live or not (yet) here. */
static void
apply_msg_tomb(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	struct mail_msg_key key;
	struct mail_msg *m;

	key_of_rec(rec, &key);
	if ((m = mail_mailbox_msg_by_key(mb, &key)) != NULL) {
		struct mail_uid_range one = { m->uid, m->uid };
		struct mail_uidset set = { &one, 1, 1 };

		msgs_expunge(mb, &set, rec->modseq);
	} else if (!tomb_add(mb, &key, rec->modseq)) {
		return;		/* known dead */
	}
	bump_modseq(mb, rec->modseq);
}

static void
apply_mailbox_delete(struct mail_state *st, struct mail_mailbox *mb,
    const struct mail_rec *rec)
{
	struct mail_uid_range all_r = { 1, UINT32_MAX };
	struct mail_uidset all = { &all_r, 1, 1 };

	if (mb == NULL) {
		/* a delete that arrives before the create (from a peer):
		 * remembered, so that the create can not bring it back
		 * (UIDVALIDITY 0 matches no create) */
		mb = mailbox_new(st, &rec->mailbox);
		mb->name = mail_xstrdup("");
	}
	if (!mb->deleted) {
		msgs_expunge(mb, &all, rec->modseq);
		kidx_free(mb);
		mb->deleted = true;
	}
	bump_modseq(mb, rec->modseq);
}

static void
apply_mailbox_attr(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	if (strcmp(rec->name, "specialuse") == 0) {
		if (mail_hlc_cmp(rec->hlc, rec->node, mb->su_hlc,
		    mb->su_node) >= 0) {
			free(mb->special_use);
			mb->special_use = mail_xstrdup(
			    (const char *)rec->value);
			mb->su_hlc = rec->hlc;
			mb->su_node = rec->node;
		}
	} else if (strcmp(rec->name, "pvtflags") == 0) {
		if (mail_hlc_cmp(rec->hlc, rec->node, mb->pvt_hlc,
		    mb->pvt_node) >= 0) {
			mb->pvt_mask = (uint16_t)(strtoul(
			    (const char *)rec->value, NULL, 10) &
			    MAIL_FLAGS_ALL);
			mb->pvt_hlc = rec->hlc;
			mb->pvt_node = rec->node;
		}
	} else if (strcmp(rec->name, "mergedinto") == 0) {
		/* the lowest GUID wins, so that apply order does not matter
		 * (two merges of one mailbox are rare and both end in the
		 * same place once their targets merge) */
		struct mail_guid g;

		if (mail_guid_from_hex((const char *)rec->value, &g) == 0 &&
		    (mail_guid_is_zero(&mb->merged_into) ||
		     mail_guid_cmp(&g, &mb->merged_into) < 0))
			mb->merged_into = g;
	} else if (strcmp(rec->name, "uidnext") == 0) {
		/* the decoder checked the number; taking the maximum keeps
		 * apply order-independent and UIDs never reused */
		unsigned long v = strtoul((const char *)rec->value, NULL, 10);

		if (v > mb->uidnext && v <= UINT32_MAX)
			mb->uidnext = (uint32_t)v;
	}
	/* unknown attributes are from a newer version: ignored */
	bump_modseq(mb, rec->modseq);
}

/* Index of the first subscription with name >= name. */
static size_t
sub_index(const struct mail_state *st, const char *name)
{
	size_t lo = 0, hi = st->n_subs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(st->subs[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
apply_subscribe(struct mail_state *st, const struct mail_rec *rec)
{
	size_t i = sub_index(st, rec->name);
	struct mail_sub *s;

	if (i < st->n_subs && strcmp(st->subs[i].name, rec->name) == 0) {
		s = &st->subs[i];
		if (mail_hlc_cmp(rec->hlc, rec->node, s->hlc, s->node) < 0)
			return;		/* an older write lost */
	} else {
		/* also an unsubscribe: it must beat an older subscribe
		 * that arrives later */
		st->subs = mail_xgrow(st->subs, &st->cap_subs, st->n_subs + 1,
		    sizeof(*st->subs));
		memmove(&st->subs[i + 1], &st->subs[i],
		    (st->n_subs - i) * sizeof(*st->subs));
		s = &st->subs[i];
		s->name = mail_xstrdup(rec->name);
		st->n_subs++;
	}
	s->on = rec->on;
	s->hlc = rec->hlc;
	s->node = rec->node;
}

bool
mail_state_subscribed(const struct mail_state *st, const char *name)
{
	size_t i = sub_index(st, name);

	return i < st->n_subs && strcmp(st->subs[i].name, name) == 0 &&
	    st->subs[i].on;
}

static void
apply_msg_flags(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	uint64_t kwmask = mailbox_keyword_mask(mb, rec->keywords,
	    rec->n_keywords);

	for (size_t r = 0; r < rec->uids.n; r++) {
		size_t i = mail_mailbox_msg_index(mb, rec->uids.r[r].lo);

		for (; i < mb->n_msgs && mb->msgs[i].uid <= rec->uids.r[r].hi;
		    i++) {
			struct mail_msg *m = &mb->msgs[i];
			uint16_t nf = flags_apply_op(m->flags, rec->op,
			    rec->flags, rec->mask);
			uint64_t nk = kw_apply_op(m->keywords, rec->op, kwmask);

			/* flags from elsewhere (MSG_PUT) may be newer than
			 * this change; a local change never is (see top) */
			if (mail_hlc_cmp(rec->hlc, rec->node, m->flags_hlc,
			    m->flags_node) <= 0)
				continue;
			if (nf == m->flags && nk == m->keywords)
				continue;
			if ((m->flags & MAIL_SEEN) != (nf & MAIL_SEEN)) {
				if (nf & MAIL_SEEN)
					mb->n_unseen--;
				else
					mb->n_unseen++;
			}
			m->flags = nf;
			m->keywords = nk;
			m->modseq = rec->modseq;
			m->flags_hlc = rec->hlc;
			m->flags_node = rec->node;
		}
	}
	bump_modseq(mb, rec->modseq);
}

static void
apply_pvt_flags(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	struct mail_pvt_user *pu = pvt_user(mb, rec->user, true);

	for (size_t r = 0; r < rec->uids.n; r++) {
		size_t i = mail_mailbox_msg_index(mb, rec->uids.r[r].lo);

		for (; i < mb->n_msgs && mb->msgs[i].uid <= rec->uids.r[r].hi;
		    i++) {
			struct mail_pvt_entry *e = pvt_entry(pu,
			    mb->msgs[i].uid, true);
			uint16_t nf = flags_apply_op(e->flags, rec->op,
			    rec->flags, rec->mask);

			if (e->modseq != 0 && mail_hlc_cmp(rec->hlc,
			    rec->node, e->hlc, e->node) <= 0)
				continue;	/* an older write lost */
			if (nf != e->flags || e->modseq == 0) {
				e->flags = nf;
				e->modseq = rec->modseq;
				e->hlc = rec->hlc;
				e->node = rec->node;
			}
		}
	}
	bump_modseq(mb, rec->modseq);
}

struct mail_meta *
mail_state_meta_find(const struct mail_state *st,
    const struct mail_mailbox *mb, uint32_t uid, const char *user,
    const char *key)
{
	struct mail_meta *m = mb != NULL ? mb->meta : st->meta;
	size_t n = mb != NULL ? mb->n_meta : st->n_meta;

	for (size_t i = 0; i < n; i++) {
		if (m[i].uid == uid && strcmp(m[i].user, user) == 0 &&
		    strcmp(m[i].key, key) == 0)
			return &m[i];
	}
	return NULL;
}

static void
apply_metadata(struct mail_state *st, struct mail_mailbox *mb,
    const struct mail_rec *rec)
{
	struct mail_meta *e = mail_state_meta_find(st, mb, rec->uid, rec->user,
	    rec->name);

	if (mb != NULL && rec->uid != 0 && mail_mailbox_msg(mb, rec->uid) ==
	    NULL)
		return;		/* message expunged meanwhile */
	if (e == NULL) {
		struct mail_meta **arr = mb != NULL ? &mb->meta : &st->meta;
		size_t *n = mb != NULL ? &mb->n_meta : &st->n_meta;
		size_t *cap = mb != NULL ? &mb->cap_meta : &st->cap_meta;

		*arr = mail_xgrow(*arr, cap, *n + 1, sizeof(**arr));
		e = &(*arr)[(*n)++];
		memset(e, 0, sizeof(*e));
		e->uid = rec->uid;
		e->user = mail_xstrdup(rec->user);
		e->key = mail_xstrdup(rec->name);
	} else if (mail_hlc_cmp(rec->hlc, rec->node, e->hlc, e->node) < 0) {
		return;		/* an older write lost */
	}
	free(e->value);
	e->value = NULL;
	e->value_len = 0;
	e->has_value = rec->has_value;
	if (rec->has_value) {
		e->value = mail_xmalloc(rec->value_len + 1);
		memcpy(e->value, rec->value, rec->value_len);
		e->value[rec->value_len] = '\0';
		e->value_len = rec->value_len;
	}
	e->modseq = rec->modseq;
	e->hlc = rec->hlc;
	e->node = rec->node;
	if (mb != NULL)
		bump_modseq(mb, rec->modseq);
}

static void
apply_acl(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	size_t i;

	for (i = 0; i < mb->n_acl; i++) {
		if (strcmp(mb->acl[i].identifier, rec->name) == 0)
			break;
	}
	if (i < mb->n_acl && mail_hlc_cmp(rec->hlc, rec->node, mb->acl[i].hlc,
	    mb->acl[i].node) < 0)
		return;		/* an older write lost */
	if (i == mb->n_acl) {
		mb->acl = mail_xgrow(mb->acl, &mb->cap_acl, mb->n_acl + 1,
		    sizeof(*mb->acl));
		mb->acl[i].identifier = mail_xstrdup(rec->name);
		mb->acl[i].rights = NULL;
		mb->n_acl++;
	}
	/* a removal (no rights) stays as a tombstone */
	free(mb->acl[i].rights);
	mb->acl[i].rights = mail_xstrdup((const char *)rec->value);
	mb->acl[i].hlc = rec->hlc;
	mb->acl[i].node = rec->node;
	bump_modseq(mb, rec->modseq);
}

const struct mail_acl_entry *
mail_mailbox_acl_find(const struct mail_mailbox *mb, const char *identifier)
{
	for (size_t i = 0; i < mb->n_acl; i++) {
		if (strcmp(mb->acl[i].identifier, identifier) == 0)
			return mb->acl[i].rights[0] != '\0' ? &mb->acl[i] :
			    NULL;
	}
	return NULL;
}

static int
cmp_acl_ptr(const void *a, const void *b)
{
	const struct mail_acl_entry *x = *(const struct mail_acl_entry *const *)a;
	const struct mail_acl_entry *y = *(const struct mail_acl_entry *const *)b;

	return strcmp(x->identifier, y->identifier);
}

const struct mail_acl_entry **
mail_mailbox_acl_sorted(const struct mail_mailbox *mb, size_t *n_r)
{
	const struct mail_acl_entry **v = mail_xcalloc(mb->n_acl + 1,
	    sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < mb->n_acl; i++) {
		if (mb->acl[i].rights[0] != '\0')
			v[n++] = &mb->acl[i];
	}
	mail_qsort(v, n, sizeof(*v), cmp_acl_ptr);
	*n_r = n;
	return v;
}

void
mail_state_apply(struct mail_state *st, const struct mail_rec *rec)
{
	struct mail_mailbox *mb = NULL;

	if (rec->modseq > st->modseq)
		st->modseq = rec->modseq;
	/* every clock a record carries, so that the next local write is
	 * newer than all of them */
	hlc_seen(st, rec->hlc);
	if (rec->type == MAIL_REC_MSG_ADD || rec->type == MAIL_REC_MSG_PUT ||
	    rec->type == MAIL_REC_MSG_TOMB)
		hlc_seen(st, rec->inst_hlc);
	if (rec->type == MAIL_REC_MSG_PUT) {
		hlc_seen(st, rec->uid_hlc);
		hlc_seen(st, rec->flags_hlc);
	}
	switch (rec->type) {
	case MAIL_REC_MAILBOX_CREATE:
		apply_mailbox_create(st, rec);
		return;
	case MAIL_REC_SUBSCRIBE:
		apply_subscribe(st, rec);
		return;
	case MAIL_REC_MAILBOX_DELETE:
		apply_mailbox_delete(st, mail_state_mailbox_by_guid_any(st,
		    &rec->mailbox), rec);
		return;
	case MAIL_REC_MAILBOX_RENAME:
	case MAIL_REC_MSG_TOMB:
		/* these reach deleted mailboxes too: a name and tombstones
		 * are what a deleted mailbox keeps */
		mb = mail_state_mailbox_by_guid_any(st, &rec->mailbox);
		break;
	case MAIL_REC_MAILBOX_ATTR:
		/* a deleted mailbox keeps its attributes too, so that a peer
		 * that sends them is answered by the same values (and not
		 * by a write on every sync) */
		mb = mail_state_mailbox_by_guid_any(st, &rec->mailbox);
		break;
	case MAIL_REC_METADATA:
		if (mail_guid_is_zero(&rec->mailbox)) {
			apply_metadata(st, NULL, rec);
			return;
		}
		/* FALLTHROUGH */
	default:
		mb = mail_state_mailbox_by_guid(st, &rec->mailbox);
		break;
	}
	if (mb == NULL)
		return;		/* its mailbox is gone: nothing to do */
	switch (rec->type) {
	case MAIL_REC_MAILBOX_RENAME:
		if (mail_hlc_cmp(rec->hlc, rec->node, mb->name_hlc,
		    mb->name_node) >= 0) {
			free(mb->name);
			mb->name = mail_xstrdup(rec->name);
			mb->name_hlc = rec->hlc;
			mb->name_node = rec->node;
		}
		bump_modseq(mb, rec->modseq);
		break;
	case MAIL_REC_MAILBOX_ATTR:
		apply_mailbox_attr(mb, rec);
		break;
	case MAIL_REC_MSG_ADD:
		apply_msg_add(mb, rec);
		break;
	case MAIL_REC_MSG_FLAGS:
		apply_msg_flags(mb, rec);
		break;
	case MAIL_REC_MSG_EXPUNGE:
		msgs_expunge(mb, &rec->uids, rec->modseq);
		bump_modseq(mb, rec->modseq);
		break;
	case MAIL_REC_PVT_FLAGS:
		apply_pvt_flags(mb, rec);
		break;
	case MAIL_REC_METADATA:
		apply_metadata(st, mb, rec);
		break;
	case MAIL_REC_ACL:
		apply_acl(mb, rec);
		break;
	case MAIL_REC_MSG_PUT:
		apply_msg_put(mb, rec);
		break;
	case MAIL_REC_MSG_TOMB:
		apply_msg_tomb(mb, rec);
		break;
	default:
		break;	/* handled above, or from a newer version */
	}
}
