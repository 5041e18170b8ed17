/*
 * test_mail_state.c: applying records to a user's state. After every step
 * the invariants are checked (messages sorted by UID, uidnext above them,
 * n_unseen and total_size equal to a recount, private flags and keyword
 * bits referring to what exists), then the specific effect.
 */
#include <stdlib.h>

#include "mail_state.h"
#include "mail_dump.h"
#include "testlib.h"

#define S(x)	((char *)(uintptr_t)(x))
#define U8(x)	((uint8_t *)(uintptr_t)(x))

static struct mail_state *st;
static uint64_t modseq;

static void
setup(void)
{
	st = mail_state_new();
	modseq = 0;
}

static void
teardown(void)
{
	mail_state_free(&st);
	ck_assert_ptr_null(st);
}

static struct mail_guid
G(uint8_t n)
{
	struct mail_guid g;

	memset(&g, 0, sizeof(g));
	g.b[0] = n;
	g.b[15] = (uint8_t)(n ^ 0x5a);
	return g;
}

static void
check_state(const struct mail_state *s)
{
	for (size_t i = 1; i < s->n_subs; i++)
		ck_assert_int_lt(strcmp(s->subs[i - 1].name, s->subs[i].name),
		    0);
	for (size_t i = 0; i < s->n_mailboxes; i++) {
		const struct mail_mailbox *mb = s->mailboxes[i];
		uint64_t unseen = 0, size = 0;

		if (mb->deleted)
			ck_assert_uint_eq(mb->n_msgs, 0);
		for (size_t k = 0; k < mb->n_msgs; k++) {
			const struct mail_msg *m = &mb->msgs[k];
			struct mail_msg_key key;

			if (k > 0)
				ck_assert_uint_gt(m->uid, mb->msgs[k - 1].uid);
			ck_assert_uint_lt(m->uid, mb->uidnext);
			if (mb->n_keywords < 64)
				ck_assert_uint_eq(m->keywords >> mb->n_keywords,
				    0);
			ck_assert_uint_le(m->modseq, mb->highestmodseq);
			if ((m->flags & MAIL_SEEN) == 0)
				unseen++;
			size += m->size;
			/* a live message is neither dead nor "gone" */
			mail_msg_key_of(m, &key);
			ck_assert_ptr_null(mail_mailbox_tomb_find(mb, &key));
			ck_assert(!mail_uidset_contains(&mb->gone, m->uid));
			ck_assert(mail_mailbox_uid_used(mb, m->uid));
			/* the key index, once built, is kept up to date */
			if (mb->key_index != NULL)
				ck_assert_ptr_eq(mail_mailbox_msg_by_key(mb,
				    &key), m);
		}
		ck_assert_uint_eq(mb->n_unseen, unseen);
		ck_assert_uint_eq(mb->total_size, size);
		for (size_t p = 0; p < mb->n_pvt; p++) {
			for (size_t k = 0; k < mb->pvt[p].n; k++) {
				ck_assert_ptr_nonnull(mail_mailbox_msg(mb,
				    mb->pvt[p].v[k].uid));
				if (k > 0)
					ck_assert_uint_gt(mb->pvt[p].v[k].uid,
					    mb->pvt[p].v[k - 1].uid);
			}
		}
		for (size_t k = 1; k < mb->n_tombs; k++)
			ck_assert_int_lt(mail_msg_key_cmp(&mb->tombs[k - 1].key,
			    &mb->tombs[k].key), 0);
		for (size_t k = 0; k < mb->n_tombs; k++)
			ck_assert_ptr_eq(mail_mailbox_tomb_find(mb,
			    &mb->tombs[k].key), &mb->tombs[k]);
		if (mb->gone.n > 0)
			ck_assert_uint_lt(mb->gone.r[mb->gone.n - 1].hi,
			    mb->uidnext);
		ck_assert_uint_le(mb->highestmodseq, s->modseq);
	}
}

static void
check_invariants(void)
{
	check_state(st);
}

static void
apply(struct mail_rec *rec, uint64_t hlc, uint64_t node)
{
	rec->modseq = ++modseq;
	rec->hlc = hlc != 0 ? hlc : modseq << 16;
	rec->node = node != 0 ? node : 1;
	mail_state_apply(st, rec);
	check_invariants();
}

static void
rec_init(struct mail_rec *rec, enum mail_rec_type type, uint8_t mb)
{
	memset(rec, 0, sizeof(*rec));
	rec->type = type;
	rec->mailbox = G(mb);
}

static struct mail_mailbox *
create(uint8_t g, const char *name, uint32_t uidvalidity)
{
	struct mail_rec rec;

	rec_init(&rec, MAIL_REC_MAILBOX_CREATE, g);
	rec.name = S(name);
	rec.uidvalidity = uidvalidity;
	apply(&rec, 0, 0);
	return mail_state_mailbox_by_guid(st, &rec.mailbox);
}

static void
add(uint8_t mb, uint32_t uid, uint16_t flags, uint64_t size,
    const char *kw)
{
	struct mail_rec rec;
	char *kws[1];

	rec_init(&rec, MAIL_REC_MSG_ADD, mb);
	rec.uid = uid;
	rec.flags = flags;
	rec.size = size;
	rec.guid = G((uint8_t)(100 + uid));
	rec.body = G((uint8_t)(200 + uid));
	rec.idate = 1000 + uid;
	rec.sdate = 2000 + uid;
	rec.inst_node = 7;
	rec.inst_hlc = uid;
	if (kw != NULL) {
		kws[0] = S(kw);
		rec.keywords = kws;
		rec.n_keywords = 1;
	}
	apply(&rec, 0, 0);
}

static void
set_flags(uint8_t mb, const char *uids, uint8_t op, uint16_t f, uint16_t mask,
    char **kw, size_t n_kw)
{
	struct mail_rec rec;
	struct mail_err err;

	rec_init(&rec, MAIL_REC_MSG_FLAGS, mb);
	ck_assert_int_eq(mail_uidset_parse(uids, 0, &rec.uids, &err), 0);
	rec.op = op;
	rec.flags = f;
	rec.mask = mask;
	rec.keywords = kw;
	rec.n_keywords = n_kw;
	apply(&rec, 0, 0);
	mail_uidset_free(&rec.uids);
}

static void
pvt(uint8_t mb, const char *user, const char *uids, uint8_t op, uint16_t f,
    uint16_t mask)
{
	struct mail_rec rec;
	struct mail_err err;

	rec_init(&rec, MAIL_REC_PVT_FLAGS, mb);
	ck_assert_int_eq(mail_uidset_parse(uids, 0, &rec.uids, &err), 0);
	rec.user = S(user);
	rec.op = op;
	rec.flags = f;
	rec.mask = mask;
	apply(&rec, 0, 0);
	mail_uidset_free(&rec.uids);
}

static void
expunge(uint8_t mb, const char *uids)
{
	struct mail_rec rec;
	struct mail_err err;

	rec_init(&rec, MAIL_REC_MSG_EXPUNGE, mb);
	ck_assert_int_eq(mail_uidset_parse(uids, 0, &rec.uids, &err), 0);
	apply(&rec, 0, 0);
	mail_uidset_free(&rec.uids);
}

/* mb 0: server level */
static void
meta(uint8_t mb, uint32_t uid, const char *user, const char *key,
    const char *value, uint64_t hlc, uint64_t node)
{
	struct mail_rec rec;

	rec_init(&rec, MAIL_REC_METADATA, mb);
	if (mb == 0)
		memset(&rec.mailbox, 0, sizeof(rec.mailbox));
	rec.uid = uid;
	rec.user = S(user);
	rec.name = S(key);
	rec.has_value = value != NULL;
	rec.value = U8(value);
	rec.value_len = value != NULL ? strlen(value) : 0;
	apply(&rec, hlc, node);
}

static const char *
meta_value(uint8_t mb, uint32_t uid, const char *user, const char *key)
{
	struct mail_guid g = G(mb);
	const struct mail_mailbox *m = mb == 0 ? NULL :
	    mail_state_mailbox_by_guid(st, &g);
	struct mail_meta *e = mail_state_meta_find(st, m, uid, user, key);

	if (e == NULL)
		return "(none)";
	return e->has_value ? (const char *)e->value : "(deleted)";
}

static void
acl(uint8_t mb, const char *id, const char *rights, uint64_t hlc,
    uint64_t node)
{
	struct mail_rec rec;

	rec_init(&rec, MAIL_REC_ACL, mb);
	rec.name = S(id);
	rec.value = U8(rights);
	rec.value_len = strlen(rights);
	apply(&rec, hlc, node);
}

static const char *
acl_rights(const struct mail_mailbox *mb, const char *id)
{
	const struct mail_acl_entry *e = mail_mailbox_acl_find(mb, id);

	return e != NULL ? e->rights : "(none)";
}

/* Live (not removed) ACL entries. */
static size_t
acl_live(const struct mail_mailbox *mb)
{
	size_t n;

	free(mail_mailbox_acl_sorted(mb, &n));
	return n;
}

static void
rename_mb(uint8_t mb, const char *name, uint64_t hlc, uint64_t node)
{
	struct mail_rec rec;

	rec_init(&rec, MAIL_REC_MAILBOX_RENAME, mb);
	rec.name = S(name);
	apply(&rec, hlc, node);
}

static void
delete_mb(uint8_t mb)
{
	struct mail_rec rec;

	rec_init(&rec, MAIL_REC_MAILBOX_DELETE, mb);
	apply(&rec, 0, 0);
}

START_TEST(test_create_add_counts)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1000);

	ck_assert_ptr_nonnull(mb);
	ck_assert_str_eq(mb->name, "INBOX");
	ck_assert_uint_eq(mb->uidvalidity, 1000);
	ck_assert_uint_eq(mb->uidnext, 1);
	ck_assert_uint_eq(mb->pvt_mask, MAIL_SEEN);
	ck_assert_str_eq(mb->special_use, "");
	ck_assert_uint_eq(st->last_uidvalidity, 1000);
	ck_assert_ptr_eq(mail_state_mailbox_by_name(st, "INBOX"), mb);
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "inbox"));

	add(1, 1, 0, 100, NULL);
	add(1, 2, MAIL_SEEN, 200, "Junk");
	add(1, 5, MAIL_FLAGGED, 500, NULL);
	/* out of order: sorted in */
	add(1, 3, 0, 300, "Junk");
	ck_assert_uint_eq(mb->n_msgs, 4);
	ck_assert_uint_eq(mb->n_unseen, 3);
	ck_assert_uint_eq(mb->total_size, 1100);
	ck_assert_uint_eq(mb->uidnext, 6);
	ck_assert_uint_eq(mb->n_keywords, 1);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 3)->keywords, 1);
	ck_assert_ptr_null(mail_mailbox_msg(mb, 4));
	ck_assert_uint_eq(mail_mailbox_msg_index(mb, 4), 3);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 5)->idate, 1005);
	/* the same UID again: already applied, nothing changes */
	add(1, 2, 0, 999, NULL);
	ck_assert_uint_eq(mb->n_msgs, 4);
	ck_assert_uint_eq(mb->n_unseen, 3);
	ck_assert_uint_eq(mb->total_size, 1100);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 2)->flags, MAIL_SEEN);
	/* the ignored record still counts for the user, not the mailbox */
	ck_assert_uint_eq(st->modseq, modseq);
	ck_assert_uint_eq(mb->highestmodseq, modseq - 1);
}
END_TEST

START_TEST(test_flags_ops)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);
	char *ab[] = { S("a"), S("b") };
	char *c[] = { S("c") };

	for (uint32_t u = 1; u <= 6; u++)
		add(1, u, u % 2 ? 0 : MAIL_SEEN | MAIL_DRAFT, u, NULL);
	ck_assert_uint_eq(mb->n_unseen, 3);

	set_flags(1, "1:3", MAIL_FLAGS_ADD, MAIL_SEEN, 0, NULL, 0);
	ck_assert_uint_eq(mb->n_unseen, 1);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 1)->modseq, modseq);
	/* unchanged messages keep their modseq */
	ck_assert_uint_lt(mail_mailbox_msg(mb, 2)->modseq, modseq);

	set_flags(1, "2:5", MAIL_FLAGS_REMOVE, MAIL_SEEN | MAIL_DRAFT, 0, NULL,
	    0);
	ck_assert_uint_eq(mb->n_unseen, 4);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 4)->flags, 0);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 6)->flags,
	    MAIL_SEEN | MAIL_DRAFT);

	/* REPLACE within a mask that excludes \Seen: \Seen stays */
	set_flags(1, "1:6", MAIL_FLAGS_REPLACE, MAIL_FLAGGED,
	    MAIL_FLAGS_ALL & ~MAIL_SEEN, NULL, 0);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 1)->flags,
	    MAIL_SEEN | MAIL_FLAGGED);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 2)->flags, MAIL_FLAGGED);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 6)->flags,
	    MAIL_SEEN | MAIL_FLAGGED);
	ck_assert_uint_eq(mb->n_unseen, 4);
	/* REPLACE with the whole mask */
	set_flags(1, "6", MAIL_FLAGS_REPLACE, MAIL_ANSWERED, MAIL_FLAGS_ALL, NULL,
	    0);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 6)->flags, MAIL_ANSWERED);
	ck_assert_uint_eq(mb->n_unseen, 5);

	/* keywords: add, remove, replace */
	set_flags(1, "1:4", MAIL_FLAGS_ADD, 0, 0, ab, 2);
	ck_assert_uint_eq(mb->n_keywords, 2);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 3)->keywords, 3);
	set_flags(1, "2", MAIL_FLAGS_REMOVE, 0, 0, ab, 1);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 2)->keywords, 2);
	set_flags(1, "1,3", MAIL_FLAGS_REPLACE, 0, 0, c, 1);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 1)->keywords, 4);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 3)->keywords, 4);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 4)->keywords, 3);
	/* REPLACE with no keywords clears them; system flags as masked */
	set_flags(1, "4", MAIL_FLAGS_REPLACE, 0, 0, NULL, 0);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 4)->keywords, 0);
	/* UIDs that do not exist are skipped */
	set_flags(1, "7:100", MAIL_FLAGS_ADD, MAIL_DELETED, 0, NULL, 0);
	ck_assert_uint_eq(mb->n_msgs, 6);
	ck_assert_uint_eq(mb->highestmodseq, modseq);
	/* flag changes record their (hlc, node) */
	ck_assert_uint_eq(mail_mailbox_msg(mb, 4)->flags_hlc,
	    (modseq - 1) << 16);
}
END_TEST

START_TEST(test_keyword_table_bound)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);
	char *kw[MAIL_MAILBOX_MAX_KEYWORDS + 5];

	add(1, 1, 0, 1, NULL);
	for (size_t i = 0; i < N_ELEMENTS(kw); i++)
		kw[i] = mail_xasprintf("k%zu", i);
	set_flags(1, "1", MAIL_FLAGS_ADD, 0, 0, kw, N_ELEMENTS(kw));
	/* the table is bounded; the extra names are dropped */
	ck_assert_uint_eq(mb->n_keywords, MAIL_MAILBOX_MAX_KEYWORDS);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 1)->keywords, UINT64_MAX);
	ck_assert_int_eq(mail_mailbox_keyword_index(mb, "k63"), 63);
	ck_assert_int_eq(mail_mailbox_keyword_index(mb, "k64"), -1);
	for (size_t i = 0; i < N_ELEMENTS(kw); i++)
		free(kw[i]);
}
END_TEST

START_TEST(test_expunge)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);

	for (uint32_t u = 1; u <= 10; u++)
		add(1, u, u <= 5 ? MAIL_SEEN : 0, 10 * u, NULL);
	pvt(1, "bob", "1:10", MAIL_FLAGS_ADD, MAIL_SEEN, MAIL_SEEN);
	meta(1, 3, "", "/shared/comment", "three", 0, 0);
	meta(1, 4, "", "/shared/comment", "four", 0, 0);
	meta(1, 0, "", "/shared/comment", "mailbox", 0, 0);
	expunge(1, "2:3,8,50:60");
	ck_assert_uint_eq(mb->n_msgs, 7);
	ck_assert_uint_eq(mb->n_unseen, 4);
	ck_assert_uint_eq(mb->total_size, 550 - 20 - 30 - 80);
	ck_assert_uint_eq(mb->uidnext, 11);
	ck_assert_ptr_null(mail_mailbox_msg(mb, 3));
	/* private flags and message metadata of expunged messages go */
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 3), 0);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 4), MAIL_SEEN);
	ck_assert_uint_eq(mb->pvt[0].n, 7);
	ck_assert_str_eq(meta_value(1, 3, "", "/shared/comment"), "(none)");
	ck_assert_str_eq(meta_value(1, 4, "", "/shared/comment"), "four");
	ck_assert_str_eq(meta_value(1, 0, "", "/shared/comment"), "mailbox");
	/* changes to expunged messages are no-ops */
	set_flags(1, "2", MAIL_FLAGS_ADD, MAIL_FLAGGED, 0, NULL, 0);
	meta(1, 2, "", "/shared/comment", "late", 0, 0);
	ck_assert_str_eq(meta_value(1, 2, "", "/shared/comment"), "(none)");
	pvt(1, "carol", "2:3", MAIL_FLAGS_ADD, MAIL_SEEN, MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "carol", 2), 0);
	/* expunge everything */
	expunge(1, "1:4294967295");
	ck_assert_uint_eq(mb->n_msgs, 0);
	ck_assert_uint_eq(mb->n_unseen, 0);
	ck_assert_uint_eq(mb->total_size, 0);
	ck_assert_uint_eq(mb->uidnext, 11);
}
END_TEST

START_TEST(test_pvt_flags)
{
	struct mail_mailbox *mb = create(1, "Shared", 1);

	for (uint32_t u = 1; u <= 4; u++)
		add(1, u, u == 4 ? MAIL_SEEN | MAIL_FLAGGED : MAIL_FLAGGED, 1,
		    NULL);
	pvt(1, "bob", "1:2", MAIL_FLAGS_ADD, MAIL_SEEN, MAIL_SEEN);
	/* shared flags untouched */
	ck_assert_uint_eq(mb->n_unseen, 3);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 1), MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 3), 0);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "carol", 1), 0);
	/* the owner sees the shared flags, others their own \Seen */
	ck_assert_uint_eq(mail_mailbox_view_flags(mb, mail_mailbox_msg(mb, 1),
	    "alice", true), MAIL_FLAGGED);
	ck_assert_uint_eq(mail_mailbox_view_flags(mb, mail_mailbox_msg(mb, 1),
	    "bob", false), MAIL_FLAGGED | MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_view_flags(mb, mail_mailbox_msg(mb, 4),
	    "bob", false), MAIL_FLAGGED);
	ck_assert_uint_eq(mail_mailbox_view_flags(mb, mail_mailbox_msg(mb, 4),
	    "alice", true), MAIL_SEEN | MAIL_FLAGGED);
	pvt(1, "bob", "2", MAIL_FLAGS_REMOVE, MAIL_SEEN, MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 2), 0);
	pvt(1, "bob", "1:4", MAIL_FLAGS_REPLACE, MAIL_SEEN, MAIL_SEEN);
	for (uint32_t u = 1; u <= 4; u++)
		ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", u),
		    MAIL_SEEN);
	pvt(1, "bob", "3", MAIL_FLAGS_REPLACE, 0, MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 3), 0);
	/* missing UIDs get no entries */
	pvt(1, "carol", "9:20", MAIL_FLAGS_ADD, MAIL_SEEN, MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "carol", 9), 0);
	/* pvt_mask 0: everyone sees the shared flags */
	{
		struct mail_rec rec;

		rec_init(&rec, MAIL_REC_MAILBOX_ATTR, 1);
		rec.name = S("pvtflags");
		rec.value = U8("0");
		rec.value_len = 1;
		apply(&rec, 0, 0);
	}
	ck_assert_uint_eq(mb->pvt_mask, 0);
	ck_assert_uint_eq(mail_mailbox_view_flags(mb, mail_mailbox_msg(mb, 1),
	    "bob", false), MAIL_FLAGGED);
}
END_TEST

START_TEST(test_metadata_lww)
{
	create(1, "INBOX", 1);
	add(1, 1, 0, 1, NULL);

	meta(1, 0, "alice", "/private/comment", "a", 10 << 16, 5);
	ck_assert_str_eq(meta_value(1, 0, "alice", "/private/comment"), "a");
	/* an older write loses */
	meta(1, 0, "alice", "/private/comment", "old", 9 << 16, 99);
	ck_assert_str_eq(meta_value(1, 0, "alice", "/private/comment"), "a");
	/* same time: the higher node wins, the lower loses */
	meta(1, 0, "alice", "/private/comment", "n6", 10 << 16, 6);
	ck_assert_str_eq(meta_value(1, 0, "alice", "/private/comment"), "n6");
	meta(1, 0, "alice", "/private/comment", "n4", 10 << 16, 4);
	ck_assert_str_eq(meta_value(1, 0, "alice", "/private/comment"), "n6");
	/* other users and levels are other items */
	ck_assert_str_eq(meta_value(1, 0, "bob", "/private/comment"),
	    "(none)");
	ck_assert_str_eq(meta_value(1, 1, "alice", "/private/comment"),
	    "(none)");
	/* delete: a tombstone, and an older set can not resurrect it */
	meta(1, 0, "alice", "/private/comment", NULL, 20 << 16, 1);
	ck_assert_str_eq(meta_value(1, 0, "alice", "/private/comment"),
	    "(deleted)");
	meta(1, 0, "alice", "/private/comment", "zombie", 15 << 16, 9);
	ck_assert_str_eq(meta_value(1, 0, "alice", "/private/comment"),
	    "(deleted)");
	meta(1, 0, "alice", "/private/comment", "new", 21 << 16, 1);
	ck_assert_str_eq(meta_value(1, 0, "alice", "/private/comment"), "new");
	/* server level */
	meta(0, 0, "", "/shared/admin", "root@x", 5 << 16, 1);
	meta(0, 0, "", "/shared/admin", "old", 4 << 16, 1);
	ck_assert_str_eq(meta_value(0, 0, "", "/shared/admin"), "root@x");
	ck_assert_uint_eq(st->n_meta, 1);
	/* message level */
	meta(1, 1, "", "/shared/x", "m", 0, 0);
	ck_assert_str_eq(meta_value(1, 1, "", "/shared/x"), "m");
	/* an unknown mailbox: ignored */
	meta(9, 0, "", "/shared/x", "nowhere", 0, 0);
	{
		struct mail_guid g9 = G(9);

		ck_assert_ptr_null(mail_state_mailbox_by_guid(st, &g9));
		ck_assert_uint_eq(st->n_meta, 1);
	}
}
END_TEST

START_TEST(test_acl_lww)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);

	acl(1, "bob", "lr", 5 << 16, 1);
	ck_assert_str_eq(acl_rights(mb, "bob"), "lr");
	acl(1, "bob", "lrswi", 3 << 16, 1);
	ck_assert_str_eq(acl_rights(mb, "bob"), "lr");
	acl(1, "bob", "lrs", 7 << 16, 1);
	ck_assert_str_eq(acl_rights(mb, "bob"), "lrs");
	acl(1, "anyone", "l", 7 << 16, 1);
	ck_assert_uint_eq(acl_live(mb), 2);
	/* same time: node tiebreak */
	acl(1, "bob", "lrsw", 7 << 16, 2);
	ck_assert_str_eq(acl_rights(mb, "bob"), "lrsw");
	acl(1, "bob", "l", 7 << 16, 1);
	ck_assert_str_eq(acl_rights(mb, "bob"), "lrsw");
	/* removal; an older removal does nothing */
	acl(1, "anyone", "", 6 << 16, 1);
	ck_assert_str_eq(acl_rights(mb, "anyone"), "l");
	acl(1, "anyone", "", 9 << 16, 1);
	ck_assert_str_eq(acl_rights(mb, "anyone"), "(none)");
	ck_assert_uint_eq(acl_live(mb), 1);
	acl(1, "nobody", "", 9 << 16, 1);
	ck_assert_uint_eq(acl_live(mb), 1);
	/* a removal is remembered: an older grant arriving after it (from a
	 * peer) does not bring the entry back, in either order */
	acl(1, "anyone", "lr", 8 << 16, 2);
	ck_assert_str_eq(acl_rights(mb, "anyone"), "(none)");
	acl(1, "nobody", "lr", 8 << 16, 2);
	ck_assert_str_eq(acl_rights(mb, "nobody"), "(none)");
	acl(1, "carol", "lr", 8 << 16, 2);
	acl(1, "carol", "", 9 << 16, 1);
	ck_assert_str_eq(acl_rights(mb, "carol"), "(none)");
}
END_TEST

START_TEST(test_rename_lww)
{
	struct mail_mailbox *mb = create(1, "A", 1);
	struct mail_rec rec;

	ck_assert_uint_eq(mb->name_hlc, 1 << 16);
	rename_mb(1, "B", 10 << 16, 5);
	ck_assert_str_eq(mb->name, "B");
	rename_mb(1, "C", 9 << 16, 9);
	ck_assert_str_eq(mb->name, "B");
	rename_mb(1, "D", 10 << 16, 4);
	ck_assert_str_eq(mb->name, "B");
	rename_mb(1, "E", 10 << 16, 6);
	ck_assert_str_eq(mb->name, "E");
	ck_assert_ptr_eq(mail_state_mailbox_by_name(st, "E"), mb);
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "A"));
	/* special-use and unknown attributes */
	rec_init(&rec, MAIL_REC_MAILBOX_ATTR, 1);
	rec.name = S("specialuse");
	rec.value = U8("\\Sent");
	rec.value_len = 5;
	apply(&rec, 0, 0);
	ck_assert_str_eq(mb->special_use, "\\Sent");
	rec.name = S("from-the-future");
	apply(&rec, 0, 0);
	ck_assert_str_eq(mb->special_use, "\\Sent");
	ck_assert_uint_eq(mb->highestmodseq, modseq);
	/* a rename of an unknown mailbox: nothing */
	rename_mb(7, "X", 0, 0);
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "X"));
}
END_TEST

static size_t
live_mailboxes(void)
{
	size_t n = 0;

	for (size_t i = 0; i < st->n_mailboxes; i++)
		n += !st->mailboxes[i]->deleted;
	return n;
}

START_TEST(test_delete_recreate)
{
	struct mail_guid g = G(2), g3 = G(3);
	struct mail_mailbox *mb;

	create(1, "INBOX", 1);
	create(2, "Trash", 2);
	add(2, 1, 0, 10, NULL);
	delete_mb(2);
	ck_assert_uint_eq(live_mailboxes(), 1);
	ck_assert_ptr_null(mail_state_mailbox_by_guid(st, &g));
	ck_assert(mail_state_guid_deleted(st, &g));
	/* it stays, deleted, with its name */
	mb = mail_state_mailbox_by_guid_any(st, &g);
	ck_assert_ptr_nonnull(mb);
	ck_assert(mb->deleted);
	ck_assert_str_eq(mb->name, "Trash");
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Trash"));
	/* the same GUID never comes back as a new mailbox (another
	 * UIDVALIDITY), nor do changes to its messages */
	ck_assert_ptr_null(create(2, "Trash", 3));
	add(2, 2, 0, 10, NULL);
	ck_assert_uint_eq(mb->n_msgs, 0);
	ck_assert_uint_eq(mb->uidnext, 2);
	ck_assert_uint_eq(live_mailboxes(), 1);
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Trash"));
	/* deleting twice changes nothing */
	delete_mb(2);
	ck_assert_uint_eq(st->n_mailboxes, 2);
	ck_assert_uint_eq(mb->n_tombs, 1);
	/* a delete that arrives before the create (from a peer) */
	delete_mb(3);
	ck_assert(mail_state_guid_deleted(st, &g3));
	ck_assert_ptr_null(create(3, "Later", 4));
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Later"));
	ck_assert_uint_eq(mail_state_mailbox_by_guid_any(st, &g3)->uidvalidity,
	    0);
	ck_assert_uint_eq(st->n_mailboxes, 3);
	/* the name is free for a new GUID */
	ck_assert_ptr_nonnull(create(4, "Trash", 5));
	ck_assert_uint_eq(st->last_uidvalidity, 5);
	/* a second create of a live GUID is ignored */
	ck_assert_ptr_nonnull(create(4, "Other", 6));
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Other"));
	ck_assert_uint_eq(live_mailboxes(), 2);
	ck_assert_uint_eq(st->n_mailboxes, 4);
}
END_TEST

START_TEST(test_subscriptions)
{
	static const char *const names[] = { "b", "a", "c", "a/b", "B" };
	struct mail_rec rec;

	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		rec_init(&rec, MAIL_REC_SUBSCRIBE, 0);
		rec.name = S(names[i]);
		rec.on = true;
		apply(&rec, 0, 0);
		apply(&rec, 0, 0);	/* twice: once in the list */
	}
	ck_assert_uint_eq(st->n_subs, 5);
	for (size_t i = 1; i < st->n_subs; i++)
		ck_assert_int_lt(strcmp(st->subs[i - 1].name,
		    st->subs[i].name), 0);
	ck_assert(mail_state_subscribed(st, "a/b"));
	ck_assert(!mail_state_subscribed(st, "A"));
	rec.name = S("a");
	rec.on = false;
	apply(&rec, 0, 0);
	ck_assert(!mail_state_subscribed(st, "a"));
	/* kept as a tombstone */
	ck_assert_uint_eq(st->n_subs, 5);
	rec.name = S("never");
	apply(&rec, 0, 0);
	ck_assert(!mail_state_subscribed(st, "never"));
	ck_assert_uint_eq(st->n_subs, 6);
	for (size_t i = 1; i < st->n_subs; i++)
		ck_assert_int_lt(strcmp(st->subs[i - 1].name,
		    st->subs[i].name), 0);
}
END_TEST

/* The state's highest modseq, HLC and UIDVALIDITY only go up. */
START_TEST(test_global_counters)
{
	create(1, "INBOX", 77);
	add(1, 1, 0, 1, NULL);
	meta(0, 0, "", "/shared/k", "v", (uint64_t)999 << 16, 1);
	ck_assert_uint_eq(st->hlc, (uint64_t)999 << 16);
	/* an older record does not lower the clock */
	add(1, 2, 0, 1, NULL);
	ck_assert_uint_eq(st->hlc, (uint64_t)999 << 16);
	ck_assert_uint_eq(st->modseq, modseq);
	ck_assert_uint_eq(st->last_uidvalidity, 77);
	create(2, "Old", 5);
	ck_assert_uint_eq(st->last_uidvalidity, 77);
}
END_TEST

/* ---- replication: keys, tombstones, used UIDs, joins ---- */

static struct mail_msg_key
K(uint8_t n)
{
	struct mail_msg_key k;

	memset(&k, 0, sizeof(k));
	k.guid = G((uint8_t)(150 + n));
	k.inst_node = 9;
	k.inst_hlc = (uint64_t)n << 16;
	return k;
}

static char *
dump_clocks(const struct mail_state *s)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_dump_state_flags("u", s, MAIL_DUMP_CLOCKS, &b);
	return mail_buf_steal_str(&b);
}

/* A MSG_PUT of key n: UID uid assigned at uid_hlc (node 1 + uid_hlc %
 * 3, so clocks differ in both parts), flags with their clock. */
static void
rec_put(struct mail_rec *rec, uint8_t mb, uint8_t n, uint32_t uid,
    uint64_t uid_hlc, uint16_t flags, uint64_t flags_hlc)
{
	struct mail_msg_key k = K(n);

	rec_init(rec, MAIL_REC_MSG_PUT, mb);
	rec->uid = uid;
	rec->guid = k.guid;
	rec->inst_node = k.inst_node;
	rec->inst_hlc = k.inst_hlc;
	rec->uid_hlc = uid_hlc << 16;
	rec->uid_node = 1 + uid_hlc % 3;
	rec->flags = flags;
	rec->flags_hlc = flags_hlc << 16;
	rec->flags_node = 1 + flags_hlc % 3;
	rec->body = G((uint8_t)(200 + n));
	rec->size = 100 + n;
	rec->idate = 1000 + n;
	rec->sdate = 2000 + n;
}

static void
put(uint8_t mb, uint8_t n, uint32_t uid, uint64_t uid_hlc, uint16_t flags,
    uint64_t flags_hlc)
{
	struct mail_rec rec;

	rec_put(&rec, mb, n, uid, uid_hlc, flags, flags_hlc);
	apply(&rec, 0, 0);
}

static void
rec_tomb(struct mail_rec *rec, uint8_t mb, uint8_t n)
{
	struct mail_msg_key k = K(n);

	rec_init(rec, MAIL_REC_MSG_TOMB, mb);
	rec->guid = k.guid;
	rec->inst_node = k.inst_node;
	rec->inst_hlc = k.inst_hlc;
}

static void
tomb(uint8_t mb, uint8_t n)
{
	struct mail_rec rec;

	rec_tomb(&rec, mb, n);
	apply(&rec, 0, 0);
}

static struct mail_msg *
by_key(const struct mail_mailbox *mb, uint8_t n)
{
	struct mail_msg_key k = K(n);

	return mail_mailbox_msg_by_key(mb, &k);
}

static bool
is_dead(const struct mail_mailbox *mb, uint8_t n)
{
	struct mail_msg_key k = K(n);

	return mail_mailbox_tomb_find(mb, &k) != NULL;
}

/* Apply recs (the mailbox create first) to a fresh state in the order
 * given; returns the dump with clocks (modseqs, which are local, left
 * out). */
static char *
run_order(const struct mail_rec *recs, const size_t *order, size_t n)
{
	struct mail_state *saved = st;
	uint64_t saved_modseq = modseq;
	char *d;

	st = mail_state_new();
	modseq = 0;
	create(1, "INBOX", 1);
	for (size_t i = 0; i < n; i++) {
		struct mail_rec rec = recs[order[i]];

		apply(&rec, rec.hlc, rec.node);
	}
	d = dump_clocks(st);
	mail_state_free(&st);
	st = saved;
	modseq = saved_modseq;
	return d;
}

/* The given order and its reverse give the same state. */
static void
assert_order_free(const struct mail_rec *recs, size_t n)
{
	size_t fwd[16], rev[16];
	char *a, *b;

	ck_assert_uint_le(n, 16);
	for (size_t i = 0; i < n; i++) {
		fwd[i] = i;
		rev[i] = n - 1 - i;
	}
	a = run_order(recs, fwd, n);
	b = run_order(recs, rev, n);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}

START_TEST(test_msg_key)
{
	struct mail_msg_key a = K(1), b;
	struct mail_msg m;

	memset(&m, 0, sizeof(m));
	m.guid = a.guid;
	m.inst_node = a.inst_node;
	m.inst_hlc = a.inst_hlc;
	m.uid = 77;
	mail_msg_key_of(&m, &b);
	ck_assert_int_eq(mail_msg_key_cmp(&a, &b), 0);
	/* GUID first, then instance node, then instance HLC */
	b.inst_hlc = a.inst_hlc + 1;
	ck_assert_int_lt(mail_msg_key_cmp(&a, &b), 0);
	ck_assert_int_gt(mail_msg_key_cmp(&b, &a), 0);
	b.inst_node = a.inst_node - 1;
	ck_assert_int_gt(mail_msg_key_cmp(&a, &b), 0);
	b.guid.b[0] = (uint8_t)(a.guid.b[0] + 1);
	ck_assert_int_lt(mail_msg_key_cmp(&a, &b), 0);
	b = a;
	b.guid.b[15] ^= 1;
	b.inst_node = 0;
	ck_assert_int_ne(mail_msg_key_cmp(&a, &b), 0);
	ck_assert_int_eq(mail_msg_key_cmp(&a, &b), -mail_msg_key_cmp(&b, &a));
}
END_TEST

/* MSG_ADD: the UID clock is the record's, like the flag clock. */
START_TEST(test_add_uid_clock)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);
	struct mail_msg *m;
	struct mail_msg_key k;

	add(1, 3, 0, 1, NULL);
	m = mail_mailbox_msg(mb, 3);
	ck_assert_uint_eq(m->uid_hlc, modseq << 16);
	ck_assert_uint_eq(m->uid_node, 1);
	ck_assert_uint_eq(m->flags_hlc, m->uid_hlc);
	ck_assert_uint_eq(m->flags_node, m->uid_node);
	mail_msg_key_of(m, &k);
	ck_assert_ptr_eq(mail_mailbox_msg_by_key(mb, &k), m);
	/* an ADD of a dead key or into a used UID adds nothing */
	expunge(1, "3");
	add(1, 3, 0, 1, NULL);
	ck_assert_ptr_null(mail_mailbox_msg(mb, 3));
	add(1, 5, 0, 1, NULL);
	{
		struct mail_rec rec;

		rec_init(&rec, MAIL_REC_MSG_ADD, 1);
		rec.uid = 5;	/* used, another key */
		rec.guid = G(99);
		apply(&rec, 0, 0);
		rec.uid = 3;	/* gone */
		apply(&rec, 0, 0);
	}
	ck_assert_uint_eq(mb->n_msgs, 1);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 5)->guid.b[0], 105);
}
END_TEST

/* MSG_EXPUNGE leaves tombstones and used UIDs. */
START_TEST(test_expunge_tombs)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);

	for (uint8_t n = 1; n <= 6; n++)
		put(1, n, n, 1, 0, 1);
	ck_assert(!mail_mailbox_uid_used(mb, 7));
	ck_assert(mail_mailbox_uid_used(mb, 2));
	expunge(1, "2:3,5");
	ck_assert_uint_eq(mb->n_tombs, 3);
	ck_assert(is_dead(mb, 2) && is_dead(mb, 3) && is_dead(mb, 5));
	ck_assert(!is_dead(mb, 1) && !is_dead(mb, 4));
	ck_assert_uint_eq(mail_mailbox_tomb_find(mb, &(struct mail_msg_key){
	    K(3).guid, K(3).inst_node, K(3).inst_hlc })->modseq, modseq);
	ck_assert(mail_mailbox_uid_used(mb, 3));
	ck_assert(mail_uidset_contains(&mb->gone, 5));
	ck_assert(!mail_uidset_contains(&mb->gone, 4));
	ck_assert_ptr_null(by_key(mb, 3));
	ck_assert_ptr_nonnull(by_key(mb, 4));
	/* the dead do not come back, whatever their clocks */
	put(1, 3, 3, 100, MAIL_SEEN, 100);
	put(1, 3, 9, 100, MAIL_SEEN, 100);
	ck_assert_ptr_null(by_key(mb, 3));
	ck_assert_uint_eq(mb->n_msgs, 3);
	/* but the UID that PUT named stays used, as it would be had the
	 * message been here with it */
	ck_assert(mail_uidset_contains(&mb->gone, 9));
	ck_assert_uint_eq(mb->uidnext, 10);
	/* a second expunge of the same: nothing more */
	expunge(1, "1:6");
	ck_assert_uint_eq(mb->n_msgs, 0);
	ck_assert_uint_eq(mb->n_tombs, 6);
	ck_assert_uint_eq(mb->gone.n, 2);
	ck_assert_uint_eq(mb->gone.r[0].lo, 1);
	ck_assert_uint_eq(mb->gone.r[0].hi, 6);
	ck_assert_uint_eq(mb->gone.r[1].lo, 9);
}
END_TEST

START_TEST(test_put_insert)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);
	char *kw[] = { S("$Label1"), S("Junk") };
	struct mail_rec rec;
	struct mail_msg *m;

	rec_put(&rec, 1, 1, 10, 5, MAIL_FLAGGED, 6);
	rec.keywords = kw;
	rec.n_keywords = 2;
	apply(&rec, 0, 0);
	m = mail_mailbox_msg(mb, 10);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_eq(by_key(mb, 1), m);
	ck_assert_uint_eq(m->flags, MAIL_FLAGGED);
	ck_assert_uint_eq(m->keywords, 3);
	ck_assert_uint_eq(m->uid_hlc, (uint64_t)5 << 16);
	ck_assert_uint_eq(m->uid_node, 3);
	ck_assert_uint_eq(m->flags_hlc, (uint64_t)6 << 16);
	ck_assert_uint_eq(m->flags_node, 1);
	ck_assert_uint_eq(m->size, 101);
	ck_assert_uint_eq(m->idate, 1001);
	ck_assert_uint_eq(m->sdate, 2001);
	ck_assert_uint_eq(m->modseq, modseq);
	ck_assert_uint_eq(mb->highestmodseq, modseq);
	ck_assert_uint_eq(mb->uidnext, 11);
	ck_assert_uint_eq(mb->n_unseen, 1);
	ck_assert_uint_eq(mb->total_size, 101);
	/* applied twice: nothing changes, not even modseqs */
	apply(&rec, 0, 0);
	ck_assert_uint_eq(m->modseq, modseq - 1);
	ck_assert_uint_eq(mb->highestmodseq, modseq - 1);
	ck_assert_uint_eq(mb->n_msgs, 1);
	/* into a UID a live message has: nothing (the writer checks) */
	put(1, 2, 10, 50, 0, 50);
	ck_assert_ptr_null(by_key(mb, 2));
	ck_assert_uint_eq(mb->n_msgs, 1);
	/* into a UID in gone: nothing */
	expunge(1, "10");
	put(1, 2, 10, 50, 0, 50);
	ck_assert_ptr_null(by_key(mb, 2));
	ck_assert_uint_eq(mb->n_msgs, 0);
	/* below UIDNEXT but never used: fine */
	put(1, 2, 4, 50, 0, 50);
	ck_assert_ptr_eq(by_key(mb, 2), mail_mailbox_msg(mb, 4));
	ck_assert_uint_eq(mb->uidnext, 11);
	/* a deleted or unknown mailbox takes nothing */
	put(7, 3, 1, 1, 0, 1);
	delete_mb(1);
	put(1, 3, 20, 60, 0, 60);
	ck_assert_uint_eq(mb->n_msgs, 0);
	ck_assert_uint_eq(mb->uidnext, 11);
}
END_TEST

/* The UID of a live key: last writer wins, into unused UIDs only. */
START_TEST(test_put_renumber)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);
	struct mail_msg *m;

	put(1, 1, 5, 10, MAIL_SEEN, 10);
	put(1, 2, 6, 10, 0, 10);
	pvt(1, "bob", "5", MAIL_FLAGS_ADD, MAIL_FLAGGED, MAIL_FLAGGED);
	meta(1, 5, "", "/shared/comment", "five", 0, 0);
	/* an older UID assignment: stays, but the UID it named is used */
	put(1, 1, 7, 9, MAIL_SEEN, 10);
	ck_assert_ptr_eq(by_key(mb, 1), mail_mailbox_msg(mb, 5));
	ck_assert(mail_mailbox_uid_used(mb, 7));
	ck_assert_uint_eq(mb->uidnext, 8);
	/* a newer one into a used UID (live, or gone): stays */
	put(1, 1, 6, 11, MAIL_SEEN, 10);
	put(1, 1, 7, 12, MAIL_SEEN, 10);
	m = by_key(mb, 1);
	ck_assert_uint_eq(m->uid, 5);
	ck_assert_uint_eq(m->uid_hlc, (uint64_t)10 << 16);
	/* a newer one into a fresh UID: moves, the old UID is used */
	put(1, 1, 3, 13, MAIL_SEEN, 10);
	m = by_key(mb, 1);
	ck_assert_uint_eq(m->uid, 3);
	ck_assert_uint_eq(m->uid_hlc, (uint64_t)13 << 16);
	ck_assert_uint_eq(m->uid_node, 2);
	ck_assert_uint_eq(m->modseq, modseq);
	ck_assert_ptr_null(mail_mailbox_msg(mb, 5));
	ck_assert(mail_uidset_contains(&mb->gone, 5));
	ck_assert_uint_eq(mb->msgs[0].uid, 3);
	ck_assert_uint_eq(mb->msgs[1].uid, 6);
	/* private flags and metadata follow the message */
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 3), MAIL_FLAGGED);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 5), 0);
	ck_assert_str_eq(meta_value(1, 3, "", "/shared/comment"), "five");
	ck_assert_str_eq(meta_value(1, 5, "", "/shared/comment"), "(none)");
	/* the same UID with a newer clock takes the clock */
	put(1, 1, 3, 20, MAIL_SEEN, 10);
	ck_assert_uint_eq(by_key(mb, 1)->uid_hlc, (uint64_t)20 << 16);
	ck_assert_uint_eq(by_key(mb, 1)->modseq, modseq);
	/* to the top */
	put(1, 2, 100, 21, 0, 10);
	ck_assert_uint_eq(mb->msgs[1].uid, 100);
	ck_assert_uint_eq(mb->uidnext, 101);
}
END_TEST

/* Flags and keywords of a live key: last writer wins on their clock. */
START_TEST(test_put_flags)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);
	char *kw[MAIL_MAILBOX_MAX_KEYWORDS + 3];
	struct mail_rec rec;
	struct mail_msg *m;
	uint64_t ms;

	put(1, 1, 1, 1, 0, 10);
	ck_assert_uint_eq(mb->n_unseen, 1);
	ms = modseq;
	/* older: nothing, not even the modseq */
	put(1, 1, 1, 1, MAIL_SEEN, 9);
	m = by_key(mb, 1);
	ck_assert_uint_eq(m->flags, 0);
	ck_assert_uint_eq(m->modseq, ms);
	ck_assert_uint_eq(mb->highestmodseq, ms);
	/* newer: replaces flags and keywords */
	for (size_t i = 0; i < N_ELEMENTS(kw); i++)
		kw[i] = mail_xasprintf("k%zu", i);
	rec_put(&rec, 1, 1, 1, 1, MAIL_SEEN | MAIL_ANSWERED, 11);
	rec.keywords = kw;
	rec.n_keywords = 2;
	apply(&rec, 0, 0);
	ck_assert_uint_eq(m->flags, MAIL_SEEN | MAIL_ANSWERED);
	ck_assert_uint_eq(m->keywords, 3);
	ck_assert_uint_eq(m->flags_hlc, (uint64_t)11 << 16);
	ck_assert_uint_eq(m->modseq, modseq);
	ck_assert_uint_eq(mb->n_unseen, 0);
	/* keywords beyond the table's 64 are dropped */
	rec_put(&rec, 1, 1, 1, 1, 0, 12);
	rec.keywords = kw;
	rec.n_keywords = N_ELEMENTS(kw);
	apply(&rec, 0, 0);
	ck_assert_uint_eq(mb->n_keywords, MAIL_MAILBOX_MAX_KEYWORDS);
	ck_assert_uint_eq(m->keywords, UINT64_MAX);
	ck_assert_uint_eq(mb->n_unseen, 1);
	for (size_t i = 0; i < N_ELEMENTS(kw); i++)
		free(kw[i]);
	/* the same flag clock again: nothing */
	rec_put(&rec, 1, 1, 1, 1, MAIL_DELETED, 12);
	apply(&rec, 0, 0);
	ck_assert_uint_eq(m->flags, 0);
}
END_TEST

/* MSG_FLAGS loses against newer flags from elsewhere. */
START_TEST(test_flags_lww)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);

	put(1, 1, 1, 1, 0, 1000);
	put(1, 2, 2, 1, 0, 1);
	/* the record of set_flags() has hlc modseq << 16 < 1000 << 16 */
	set_flags(1, "1:2", MAIL_FLAGS_ADD, MAIL_FLAGGED, 0, NULL, 0);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 1)->flags, 0);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 2)->flags, MAIL_FLAGGED);
	ck_assert_uint_eq(mail_mailbox_msg(mb, 2)->flags_hlc, modseq << 16);
	/* a newer one applies */
	{
		struct mail_rec rec;
		struct mail_err err;

		rec_init(&rec, MAIL_REC_MSG_FLAGS, 1);
		ck_assert_int_eq(mail_uidset_parse("1", 0, &rec.uids, &err),
		    0);
		rec.op = MAIL_FLAGS_ADD;
		rec.flags = MAIL_DRAFT;
		apply(&rec, (uint64_t)1001 << 16, 1);
		/* the same clock again: not newer */
		rec.flags = MAIL_DELETED;
		apply(&rec, (uint64_t)1001 << 16, 1);
		mail_uidset_free(&rec.uids);
	}
	ck_assert_uint_eq(mail_mailbox_msg(mb, 1)->flags, MAIL_DRAFT);
}
END_TEST

/* MSG_TOMB: expunges a live key, or records a dead one. */
START_TEST(test_tomb)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);

	put(1, 1, 4, 1, 0, 1);
	put(1, 2, 5, 1, MAIL_SEEN, 1);
	pvt(1, "bob", "4", MAIL_FLAGS_ADD, MAIL_SEEN, MAIL_SEEN);
	tomb(1, 1);
	ck_assert_ptr_null(by_key(mb, 1));
	ck_assert(is_dead(mb, 1));
	ck_assert(mail_uidset_contains(&mb->gone, 4));
	ck_assert_uint_eq(mb->n_unseen, 0);
	ck_assert_uint_eq(mb->total_size, 102);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 4), 0);
	ck_assert_uint_eq(mb->highestmodseq, modseq);
	/* a key never seen here */
	tomb(1, 3);
	ck_assert(is_dead(mb, 3));
	ck_assert_uint_eq(mb->n_tombs, 2);
	ck_assert_uint_eq(mb->highestmodseq, modseq);
	/* again: nothing, not even the modseq */
	tomb(1, 3);
	ck_assert_uint_eq(mb->n_tombs, 2);
	ck_assert_uint_eq(mb->highestmodseq, modseq - 1);
	ck_assert_uint_eq(mail_mailbox_tomb_find(mb, &(struct mail_msg_key){
	    K(3).guid, K(3).inst_node, K(3).inst_hlc })->modseq, modseq - 1);
	/* unknown mailbox: nothing */
	tomb(8, 1);
	/* a deleted mailbox takes tombstones */
	delete_mb(1);
	ck_assert(is_dead(mb, 2));
	tomb(1, 9);
	ck_assert(is_dead(mb, 9));
	ck_assert_uint_eq(mb->n_tombs, 4);
}
END_TEST

/* The brief's order-independence cases, each in both orders. */
START_TEST(test_put_tomb_orders)
{
	struct mail_rec r[4];

	/* two PUTs of one key with different clocks */
	rec_put(&r[0], 1, 1, 5, 10, MAIL_SEEN, 20);
	rec_put(&r[1], 1, 1, 7, 11, MAIL_FLAGGED, 19);
	assert_order_free(r, 2);
	/* the same UID clock, different flag clocks */
	rec_put(&r[1], 1, 1, 5, 10, MAIL_FLAGGED, 21);
	assert_order_free(r, 2);
	/* TOMB and PUT */
	rec_put(&r[0], 1, 1, 5, 10, MAIL_SEEN, 20);
	rec_tomb(&r[1], 1, 1);
	assert_order_free(r, 2);
	/* PUT, renumbering PUT, TOMB */
	rec_put(&r[1], 1, 1, 8, 12, MAIL_SEEN, 20);
	rec_tomb(&r[2], 1, 1);
	assert_order_free(r, 3);
	/* and another key beside it */
	rec_put(&r[3], 1, 2, 6, 3, 0, 3);
	assert_order_free(r, 4);
	/* a PUT into a UID in gone does nothing, whatever came first */
	{
		struct mail_mailbox *mb = create(1, "INBOX", 1);

		put(1, 1, 5, 1, 0, 1);
		tomb(1, 1);
		put(1, 2, 5, 2, 0, 2);
		ck_assert_uint_eq(mb->n_msgs, 0);
		ck_assert_ptr_null(by_key(mb, 2));
		ck_assert(!is_dead(mb, 2));
	}
}
END_TEST

static uint32_t
rnd(uint64_t *seed)
{
	*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*seed >> 33);
}

/* Many PUTs and TOMBs of a few keys in random orders give one state.
 * Each key's UIDs come from its own range (UIDs shared by two keys are
 * the sync engine's conflicts, resolved before it writes), each UID
 * assignment has its own UID and clock. */
START_TEST(test_put_tomb_random_orders)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	struct mail_rec recs[24];
	size_t order[24], n;
	char *want, *got;

	for (int trial = 0; trial < 60; trial++) {
		n = 0;
		for (uint8_t key = 1; key <= 4; key++) {
			uint32_t n_uid = 1 + rnd(&seed) % 3;
			uint32_t n_puts = 1 + rnd(&seed) % 4;

			for (uint32_t p = 0; p < n_puts; p++) {
				uint32_t a = rnd(&seed) % n_uid;
				uint16_t f = (uint16_t)(rnd(&seed) % 32);
				uint64_t fc = 1 + rnd(&seed) % 50;

				/* assignment a: UID key*10 + a at clock
				 * 1 + a (one UID, one clock); flags f at
				 * clock fc, which says which f (clocks are
				 * unique per value from honest writers) */
				f = (uint16_t)(fc % 32);
				rec_put(&recs[n++], 1, key, key * 10u + a,
				    1 + a, f, fc);
			}
			if (rnd(&seed) % 3 == 0)
				rec_tomb(&recs[n++], 1, key);
		}
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		want = run_order(recs, order, n);
		for (int perm = 0; perm < 10; perm++) {
			for (size_t i = n - 1; i > 0; i--) {
				size_t j = rnd(&seed) % (i + 1), t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
			got = run_order(recs, order, n);
			ck_assert_str_eq(got, want);
			free(got);
		}
		free(want);
	}
}
END_TEST

/* MAILBOX_DELETE keeps the mailbox, its messages become tombstones. */
START_TEST(test_delete_keeps_tombs)
{
	struct mail_mailbox *mb = create(2, "Box", 42);
	struct mail_guid g = G(2);
	struct mail_buf d = MAIL_BUF_INIT;
	uint64_t del_modseq;

	create(1, "INBOX", 1);
	put(2, 1, 3, 1, 0, 1);
	put(2, 2, 4, 1, MAIL_SEEN, 1);
	add(2, 9, 0, 1, NULL);
	pvt(2, "bob", "3:4", MAIL_FLAGS_ADD, MAIL_SEEN, MAIL_SEEN);
	meta(2, 4, "", "/shared/x", "y", 0, 0);
	meta(2, 0, "", "/shared/box", "b", 0, 0);
	acl(2, "bob", "lr", 0, 0);
	tomb(2, 7);
	(void)by_key(mb, 1);	/* builds the key index */
	delete_mb(2);
	del_modseq = modseq;
	ck_assert(mb->deleted);
	ck_assert_ptr_eq(mail_state_mailbox_by_guid_any(st, &g), mb);
	ck_assert_ptr_null(mail_state_mailbox_by_guid(st, &g));
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Box"));
	ck_assert_uint_eq(mb->n_msgs, 0);
	ck_assert_uint_eq(mb->n_unseen, 0);
	ck_assert_uint_eq(mb->total_size, 0);
	ck_assert_uint_eq(mb->n_tombs, 4);
	ck_assert(is_dead(mb, 1) && is_dead(mb, 2) && is_dead(mb, 7));
	ck_assert_uint_eq(mail_mailbox_tomb_find(mb, &(struct mail_msg_key){
	    K(1).guid, K(1).inst_node, K(1).inst_hlc })->modseq, del_modseq);
	ck_assert(mail_mailbox_uid_used(mb, 3) && mail_mailbox_uid_used(mb, 4)
	    && mail_mailbox_uid_used(mb, 9));
	ck_assert_uint_eq(mb->uidnext, 10);
	ck_assert_uint_eq(mb->uidvalidity, 42);
	ck_assert_uint_eq(mb->pvt[0].n, 0);
	ck_assert_str_eq(meta_value(2, 4, "", "/shared/x"), "(none)");
	/* the dump shows no trace of it; with clocks, all of it */
	mail_dump_state("u", st, &d);
	ck_assert_ptr_null(strstr((char *)d.data, "Box"));
	mail_buf_reset(&d);
	mail_dump_state_flags("u", st, MAIL_DUMP_CLOCKS, &d);
	ck_assert_ptr_nonnull(strstr((char *)d.data, "\"Box\""));
	ck_assert_ptr_nonnull(strstr((char *)d.data, " deleted 1 "));
	ck_assert_ptr_nonnull(strstr((char *)d.data, "  gone 3:4,9\n"));
	mail_buf_free(&d);
	/* changes to a deleted mailbox: ignored, but a rename */
	set_flags(2, "1:10", MAIL_FLAGS_ADD, MAIL_SEEN, 0, NULL, 0);
	expunge(2, "1:10");
	add(2, 20, 0, 1, NULL);
	put(2, 3, 21, 1, 0, 1);
	ck_assert_uint_eq(mb->n_msgs, 0);
	ck_assert_uint_eq(mb->uidnext, 10);
	rename_mb(2, "Box2", 0, 0);
	ck_assert_str_eq(mb->name, "Box2");
	ck_assert_uint_eq(mb->name_hlc, modseq << 16);
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Box2"));
	/* another UIDVALIDITY: ignored */
	ck_assert_ptr_null(create(2, "Box3", 43));
	ck_assert(mb->deleted);
	ck_assert_str_eq(mb->name, "Box2");
	/* the same: back, with its name from the record, dead keys and used
	 * UIDs kept */
	ck_assert_ptr_eq(create(2, "Box4", 42), mb);
	ck_assert(!mb->deleted);
	ck_assert_str_eq(mb->name, "Box4");
	ck_assert_uint_eq(mb->name_hlc, modseq << 16);
	ck_assert_uint_eq(mb->create_hlc, (uint64_t)1 << 16);
	ck_assert_ptr_eq(mail_state_mailbox_by_name(st, "Box4"), mb);
	ck_assert_uint_eq(mb->n_tombs, 4);
	ck_assert_uint_eq(mb->uidnext, 10);
	ck_assert(mail_mailbox_uid_used(mb, 4));
	ck_assert_str_eq(meta_value(2, 0, "", "/shared/box"), "b");
	ck_assert_str_eq(acl_rights(mb, "bob"), "lr");
	/* the dead stay dead, used UIDs used */
	put(2, 1, 30, 100, 0, 100);
	put(2, 5, 3, 100, 0, 100);
	ck_assert_uint_eq(mb->n_msgs, 0);
	put(2, 5, 12, 100, 0, 100);
	ck_assert_ptr_eq(by_key(mb, 5), mail_mailbox_msg(mb, 12));
	/* a create of a live GUID: ignored */
	ck_assert_ptr_eq(create(2, "Box5", 42), mb);
	ck_assert_str_eq(mb->name, "Box4");
}
END_TEST

/* Private flags: per entry, last writer wins. */
START_TEST(test_pvt_lww)
{
	struct mail_mailbox *mb = create(1, "Shared", 1);
	struct mail_rec rec;
	struct mail_err err;

	add(1, 1, 0, 1, NULL);
	add(1, 2, 0, 1, NULL);
	rec_init(&rec, MAIL_REC_PVT_FLAGS, 1);
	rec.user = S("bob");
	rec.op = MAIL_FLAGS_REPLACE;
	rec.mask = MAIL_FLAGS_ALL;
	ck_assert_int_eq(mail_uidset_parse("1:2", 0, &rec.uids, &err), 0);
	rec.flags = MAIL_SEEN;
	apply(&rec, (uint64_t)50 << 16, 2);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 1), MAIL_SEEN);
	ck_assert_uint_eq(mb->pvt[0].v[0].hlc, (uint64_t)50 << 16);
	ck_assert_uint_eq(mb->pvt[0].v[0].node, 2);
	/* older, or the same clock: loses */
	rec.flags = MAIL_FLAGGED;
	apply(&rec, (uint64_t)49 << 16, 9);
	apply(&rec, (uint64_t)50 << 16, 2);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 1), MAIL_SEEN);
	/* same time, higher node: wins */
	apply(&rec, (uint64_t)50 << 16, 3);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "bob", 2), MAIL_FLAGGED);
	ck_assert_uint_eq(mb->pvt[0].v[1].node, 3);
	ck_assert_uint_eq(mb->pvt[0].v[1].modseq, modseq);
	mail_uidset_free(&rec.uids);
	/* an entry another user never had: applied */
	pvt(1, "carol", "2", MAIL_FLAGS_ADD, MAIL_SEEN, MAIL_SEEN);
	ck_assert_uint_eq(mail_mailbox_pvt_flags(mb, "carol", 2), MAIL_SEEN);
}
END_TEST

static void
attr(uint8_t mb, const char *key, const char *value, uint64_t hlc,
    uint64_t node)
{
	struct mail_rec rec;

	rec_init(&rec, MAIL_REC_MAILBOX_ATTR, mb);
	rec.name = S(key);
	rec.value = U8(value);
	rec.value_len = strlen(value);
	apply(&rec, hlc, node);
}

START_TEST(test_attr_lww)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);

	attr(1, "specialuse", "\\Sent", 10 << 16, 1);
	ck_assert_uint_eq(mb->su_hlc, 10 << 16);
	attr(1, "specialuse", "\\Trash", 9 << 16, 5);
	ck_assert_str_eq(mb->special_use, "\\Sent");
	attr(1, "specialuse", "\\Junk", 10 << 16, 2);
	ck_assert_str_eq(mb->special_use, "\\Junk");
	ck_assert_uint_eq(mb->su_node, 2);
	attr(1, "pvtflags", "3", 7 << 16, 1);
	ck_assert_uint_eq(mb->pvt_mask, 3);
	attr(1, "pvtflags", "1", 6 << 16, 1);
	ck_assert_uint_eq(mb->pvt_mask, 3);
	ck_assert_uint_eq(mb->pvt_hlc, 7 << 16);
	/* the two clocks are separate */
	attr(1, "pvtflags", "0", 8 << 16, 1);
	ck_assert_uint_eq(mb->pvt_mask, 0);
	ck_assert_str_eq(mb->special_use, "\\Junk");
	/* uidnext: the maximum, whatever the clock */
	attr(1, "uidnext", "50", 1 << 16, 1);
	attr(1, "uidnext", "40", 99 << 16, 1);
	ck_assert_uint_eq(mb->uidnext, 50);
	/* both orders of two writes */
	{
		struct mail_rec r[2];

		rec_init(&r[0], MAIL_REC_MAILBOX_ATTR, 1);
		r[0].name = S("specialuse");
		r[0].value = U8("\\Drafts");
		r[0].value_len = 7;
		r[0].hlc = (uint64_t)1000 << 16;
		r[0].node = 1;
		r[1] = r[0];
		r[1].value = U8("\\Sent");
		r[1].value_len = 5;
		r[1].hlc = (uint64_t)999 << 16;
		r[1].node = 7;
		assert_order_free(r, 2);
	}
}
END_TEST

START_TEST(test_merged_into)
{
	struct mail_mailbox *mb = create(1, "Z", 1);
	struct mail_rec del;
	struct mail_guid g;

	attr(1, "mergedinto", "03030303030303030303030303030303", 5 << 16, 1);
	ck_assert_int_eq(mail_guid_from_hex("03030303030303030303030303030303",
	    &g), 0);
	ck_assert_int_eq(mail_guid_cmp(&mb->merged_into, &g), 0);
	rec_init(&del, MAIL_REC_MAILBOX_DELETE, 1);
	apply(&del, 6 << 16, 1);
	ck_assert(mb->deleted);
	/* it reaches the deleted mailbox; the lowest GUID stays, whatever
	 * the order */
	attr(1, "mergedinto", "04040404040404040404040404040404", 9 << 16, 1);
	ck_assert_int_eq(mail_guid_cmp(&mb->merged_into, &g), 0);
	attr(1, "mergedinto", "02020202020202020202020202020202", 1 << 16, 1);
	ck_assert_int_eq(mail_guid_from_hex("02020202020202020202020202020202",
	    &g), 0);
	ck_assert_int_eq(mail_guid_cmp(&mb->merged_into, &g), 0);
}
END_TEST

START_TEST(test_subscribe_lww)
{
	struct mail_rec r[3];
	struct mail_buf d = MAIL_BUF_INIT;

	rec_init(&r[0], MAIL_REC_SUBSCRIBE, 0);
	r[0].name = S("Lists");
	r[0].on = true;
	r[1] = r[0];
	r[1].on = false;
	apply(&r[0], 10 << 16, 1);
	ck_assert(mail_state_subscribed(st, "Lists"));
	/* an older unsubscribe loses */
	apply(&r[1], 9 << 16, 1);
	ck_assert(mail_state_subscribed(st, "Lists"));
	apply(&r[1], 11 << 16, 1);
	ck_assert(!mail_state_subscribed(st, "Lists"));
	ck_assert_uint_eq(st->subs[0].hlc, 11 << 16);
	/* an older subscribe loses against the tombstone */
	apply(&r[0], 10 << 16, 5);
	ck_assert(!mail_state_subscribed(st, "Lists"));
	ck_assert_uint_eq(st->n_subs, 1);
	/* an unsubscribe of a name never subscribed is remembered */
	r[2] = r[1];
	r[2].name = S("Other");
	apply(&r[2], 20 << 16, 1);
	r[2].on = true;
	apply(&r[2], 19 << 16, 1);
	ck_assert(!mail_state_subscribed(st, "Other"));
	/* the dump shows subscribed names only */
	r[2].name = S("On");
	apply(&r[2], 21 << 16, 1);
	mail_dump_state("u", st, &d);
	ck_assert_str_eq((char *)d.data, "user u\nsubscribed \"On\"\n");
	mail_buf_free(&d);
	/* both orders */
	r[0].hlc = 30 << 16;
	r[0].node = 1;
	r[1].hlc = 30 << 16;
	r[1].node = 2;
	assert_order_free(r, 2);
}
END_TEST

/* Every clock a record carries moves the state's HLC, so that the next
 * local write is newer than all of them. */
START_TEST(test_hlc_advance)
{
	struct mail_rec rec;

	create(1, "INBOX", 1);
	rec_put(&rec, 1, 1, 1, 500, 0, 400);
	apply(&rec, 1 << 16, 1);
	ck_assert_uint_eq(st->hlc, (uint64_t)500 << 16);
	rec_put(&rec, 1, 1, 1, 500, 0, 600);
	apply(&rec, 1 << 16, 1);
	ck_assert_uint_eq(st->hlc, (uint64_t)600 << 16);
	rec_tomb(&rec, 1, 1);
	rec.inst_hlc = (uint64_t)700 << 16;
	apply(&rec, 1 << 16, 1);
	ck_assert_uint_eq(st->hlc, (uint64_t)700 << 16);
	/* also when the mailbox is unknown */
	rec_put(&rec, 9, 1, 1, 800, 0, 1);
	apply(&rec, 1 << 16, 1);
	ck_assert_uint_eq(st->hlc, (uint64_t)800 << 16);
	rec_init(&rec, MAIL_REC_MSG_ADD, 1);
	rec.uid = 77;
	rec.inst_hlc = (uint64_t)900 << 16;
	apply(&rec, 1 << 16, 1);
	ck_assert_uint_eq(st->hlc, (uint64_t)900 << 16);
}
END_TEST

/* The key index: built on first use, kept right through inserts (with
 * growth), expunges and renumbering. */
START_TEST(test_key_index)
{
	struct mail_mailbox *mb = create(1, "INBOX", 1);
	struct mail_msg_key k;

	/* deliveries do not build it */
	for (uint32_t u = 101; u <= 105; u++)
		add(1, u, 0, 1, NULL);
	expunge(1, "105");
	ck_assert_ptr_null(mb->key_index);
	mail_msg_key_of(mail_mailbox_msg(mb, 103), &k);
	ck_assert_ptr_eq(mail_mailbox_msg_by_key(mb, &k),
	    mail_mailbox_msg(mb, 103));
	ck_assert_ptr_nonnull(mb->key_index);
	expunge(1, "101:104");
	for (uint8_t n = 1; n <= 90; n++)
		put(1, n, n, 1, 0, 1);	/* each checked by key */
	expunge(1, "10:20");
	for (uint8_t n = 21; n <= 40; n++)
		put(1, n, 100u + n, 2, 0, 1);
	for (uint8_t n = 41; n <= 60; n++)
		tomb(1, n);
	for (uint8_t n = 1; n <= 90; n++) {
		struct mail_msg *m = by_key(mb, n);

		if ((n >= 10 && n <= 20) || (n >= 41 && n <= 60))
			ck_assert_ptr_null(m);
		else if (n >= 21 && n <= 40)
			ck_assert_uint_eq(m->uid, 100u + n);
		else
			ck_assert_uint_eq(m->uid, n);
	}
	ck_assert_uint_eq(mb->n_msgs, 90 - 11 - 20);
}
END_TEST

Suite *test_mail_state_suite(void);
Suite *
test_mail_state_suite(void)
{
	Suite *s = suite_create("mail_state");
	TCase *tc = tcase_create("apply");

	tcase_set_timeout(tc, 10);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_add_counts);
	tcase_add_test(tc, test_flags_ops);
	tcase_add_test(tc, test_keyword_table_bound);
	tcase_add_test(tc, test_expunge);
	tcase_add_test(tc, test_pvt_flags);
	tcase_add_test(tc, test_metadata_lww);
	tcase_add_test(tc, test_acl_lww);
	tcase_add_test(tc, test_rename_lww);
	tcase_add_test(tc, test_delete_recreate);
	tcase_add_test(tc, test_subscriptions);
	tcase_add_test(tc, test_global_counters);
	tcase_add_test(tc, test_msg_key);
	tcase_add_test(tc, test_add_uid_clock);
	tcase_add_test(tc, test_expunge_tombs);
	tcase_add_test(tc, test_put_insert);
	tcase_add_test(tc, test_put_renumber);
	tcase_add_test(tc, test_put_flags);
	tcase_add_test(tc, test_flags_lww);
	tcase_add_test(tc, test_tomb);
	tcase_add_test(tc, test_put_tomb_orders);
	tcase_add_test(tc, test_put_tomb_random_orders);
	tcase_add_test(tc, test_delete_keeps_tombs);
	tcase_add_test(tc, test_pvt_lww);
	tcase_add_test(tc, test_attr_lww);
	tcase_add_test(tc, test_merged_into);
	tcase_add_test(tc, test_subscribe_lww);
	tcase_add_test(tc, test_hlc_advance);
	tcase_add_test(tc, test_key_index);
	suite_add_tcase(s, tc);
	return s;
}
