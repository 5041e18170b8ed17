/*
 * mail_state.c: applying change-log records to a user's in-memory state.
 *
 * Invariants kept here: messages of a mailbox are sorted by UID and UIDs
 * are unique; uidnext is above every UID ever added (expunged UIDs are
 * never reused); a deleted mailbox GUID never comes back; n_unseen and
 * total_size match the messages. Conflicting writes to one item (mailbox
 * name, metadata value, ACL entry) resolve by last writer wins on
 * (hlc, node), so applying records from several nodes in any order that
 * respects each node's own order gives the same result.
 */
#include <stdlib.h>
#include <strings.h>
#include <sys/mman.h>

#include "mail_state.h"
#include "mail_hlc.h"

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
	free(st->deleted);
	for (size_t i = 0; i < st->n_subs; i++)
		free(st->subs[i]);
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
		if (strcmp(st->mailboxes[i]->name, name) == 0)
			return st->mailboxes[i];
	}
	return NULL;
}

struct mail_mailbox *
mail_state_mailbox_by_guid(const struct mail_state *st,
    const struct mail_guid *guid)
{
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (mail_guid_cmp(&st->mailboxes[i]->guid, guid) == 0)
			return st->mailboxes[i];
	}
	return NULL;
}

bool
mail_state_guid_deleted(const struct mail_state *st,
    const struct mail_guid *guid)
{
	for (size_t i = 0; i < st->n_deleted; i++) {
		if (mail_guid_cmp(&st->deleted[i], guid) == 0)
			return true;
	}
	return false;
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
apply_mailbox_create(struct mail_state *st, const struct mail_rec *rec)
{
	struct mail_mailbox *mb;

	if (mail_state_guid_deleted(st, &rec->mailbox) ||
	    mail_state_mailbox_by_guid(st, &rec->mailbox) != NULL)
		return;
	mb = mail_xcalloc(1, sizeof(*mb));
	mb->guid = rec->mailbox;
	mb->name = mail_xstrdup(rec->name);
	mb->name_hlc = rec->hlc;
	mb->name_node = rec->node;
	mb->uidvalidity = rec->uidvalidity;
	mb->uidnext = 1;
	mb->highestmodseq = rec->modseq;
	mb->special_use = mail_xstrdup("");
	mb->pvt_mask = MAIL_SEEN;
	st->mailboxes = mail_xgrow(st->mailboxes, &st->cap_mailboxes,
	    st->n_mailboxes + 1, sizeof(*st->mailboxes));
	st->mailboxes[st->n_mailboxes++] = mb;
	if (rec->uidvalidity > st->last_uidvalidity)
		st->last_uidvalidity = rec->uidvalidity;
}

static void
apply_mailbox_delete(struct mail_state *st, const struct mail_rec *rec)
{
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (mail_guid_cmp(&st->mailboxes[i]->guid, &rec->mailbox) != 0)
			continue;
		mailbox_free(st->mailboxes[i]);
		memmove(&st->mailboxes[i], &st->mailboxes[i + 1],
		    (st->n_mailboxes - i - 1) * sizeof(*st->mailboxes));
		st->n_mailboxes--;
		break;
	}
	if (!mail_state_guid_deleted(st, &rec->mailbox)) {
		st->deleted = mail_xgrow(st->deleted, &st->cap_deleted,
		    st->n_deleted + 1, sizeof(*st->deleted));
		st->deleted[st->n_deleted++] = rec->mailbox;
	}
}

static void
apply_mailbox_attr(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	if (strcmp(rec->name, "specialuse") == 0) {
		free(mb->special_use);
		mb->special_use = mail_xstrdup((const char *)rec->value);
	} else if (strcmp(rec->name, "pvtflags") == 0) {
		mb->pvt_mask = (uint16_t)(strtoul((const char *)rec->value,
		    NULL, 10) & MAIL_FLAGS_ALL);
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

static void
apply_subscribe(struct mail_state *st, const struct mail_rec *rec)
{
	size_t i;

	for (i = 0; i < st->n_subs; i++) {
		int c = strcmp(st->subs[i], rec->name);

		if (c == 0) {
			if (!rec->on) {
				free(st->subs[i]);
				memmove(&st->subs[i], &st->subs[i + 1],
				    (st->n_subs - i - 1) * sizeof(char *));
				st->n_subs--;
			}
			return;
		}
		if (c > 0)
			break;
	}
	if (!rec->on)
		return;
	st->subs = mail_xgrow(st->subs, &st->cap_subs, st->n_subs + 1,
	    sizeof(char *));
	memmove(&st->subs[i + 1], &st->subs[i],
	    (st->n_subs - i) * sizeof(char *));
	st->subs[i] = mail_xstrdup(rec->name);
	st->n_subs++;
}

bool
mail_state_subscribed(const struct mail_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_subs; i++) {
		if (strcmp(st->subs[i], name) == 0)
			return true;
	}
	return false;
}

static void
apply_msg_add(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	size_t i = mail_mailbox_msg_index(mb, rec->uid);
	struct mail_msg *m;

	if (i < mb->n_msgs && mb->msgs[i].uid == rec->uid)
		return;		/* already applied */
	if (mb->msgs_mapped && mb->n_msgs + 1 > mb->cap_msgs) {
		/* the snapshot's free slots are used up: the array leaves
		 * the mapping (in place changes are fine, growth is not) */
		struct mail_msg *heap = mail_xcalloc(mb->n_msgs + 1,
		    sizeof(*heap));

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
	m = &mb->msgs[i];
	memset(m, 0, sizeof(*m));
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
	m->flags_hlc = rec->hlc;
	m->flags_node = rec->node;
	if ((m->flags & MAIL_SEEN) == 0)
		mb->n_unseen++;
	mb->total_size += m->size;
	if (rec->uid >= mb->uidnext)
		mb->uidnext = rec->uid + 1;
	bump_modseq(mb, rec->modseq);
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

static void
apply_msg_expunge(struct mail_mailbox *mb, const struct mail_rec *rec)
{
	size_t w = 0;

	for (size_t i = 0; i < mb->n_msgs; i++) {
		struct mail_msg *m = &mb->msgs[i];

		if (mail_uidset_contains(&rec->uids, m->uid)) {
			if ((m->flags & MAIL_SEEN) == 0)
				mb->n_unseen--;
			mb->total_size -= m->size;
			continue;
		}
		if (w != i)
			mb->msgs[w] = *m;
		w++;
	}
	mb->n_msgs = w;
	for (size_t p = 0; p < mb->n_pvt; p++) {
		struct mail_pvt_user *pu = &mb->pvt[p];
		size_t pw = 0;

		for (size_t i = 0; i < pu->n; i++) {
			if (!mail_uidset_contains(&rec->uids, pu->v[i].uid))
				pu->v[pw++] = pu->v[i];
		}
		pu->n = pw;
	}
	meta_remove_uids(mb->meta, &mb->n_meta, &rec->uids);
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

			if (nf != e->flags || e->modseq == 0) {
				e->flags = nf;
				e->modseq = rec->modseq;
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
	qsort(v, n, sizeof(*v), cmp_acl_ptr);
	*n_r = n;
	return v;
}

void
mail_state_apply(struct mail_state *st, const struct mail_rec *rec)
{
	struct mail_mailbox *mb = NULL;

	if (rec->modseq > st->modseq)
		st->modseq = rec->modseq;
	if (rec->hlc > st->hlc)
		st->hlc = rec->hlc;
	if (rec->type != MAIL_REC_MAILBOX_CREATE &&
	    rec->type != MAIL_REC_SUBSCRIBE &&
	    !(rec->type == MAIL_REC_METADATA &&
	    mail_guid_is_zero(&rec->mailbox))) {
		mb = mail_state_mailbox_by_guid(st, &rec->mailbox);
		if (mb == NULL && rec->type != MAIL_REC_MAILBOX_DELETE)
			return;		/* its mailbox is gone: nothing to do */
	}
	switch (rec->type) {
	case MAIL_REC_MAILBOX_CREATE:
		apply_mailbox_create(st, rec);
		break;
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
	case MAIL_REC_MAILBOX_DELETE:
		apply_mailbox_delete(st, rec);
		break;
	case MAIL_REC_MAILBOX_ATTR:
		apply_mailbox_attr(mb, rec);
		break;
	case MAIL_REC_SUBSCRIBE:
		apply_subscribe(st, rec);
		break;
	case MAIL_REC_MSG_ADD:
		apply_msg_add(mb, rec);
		break;
	case MAIL_REC_MSG_FLAGS:
		apply_msg_flags(mb, rec);
		break;
	case MAIL_REC_MSG_EXPUNGE:
		apply_msg_expunge(mb, rec);
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
	}
}
