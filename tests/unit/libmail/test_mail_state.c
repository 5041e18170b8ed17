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
check_invariants(void)
{
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		const struct mail_mailbox *mb = st->mailboxes[i];
		uint64_t unseen = 0, size = 0;

		for (size_t k = 0; k < mb->n_msgs; k++) {
			const struct mail_msg *m = &mb->msgs[k];

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
		ck_assert_uint_le(mb->highestmodseq, st->modseq);
	}
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

START_TEST(test_delete_recreate)
{
	struct mail_guid g = G(2);

	create(1, "INBOX", 1);
	create(2, "Trash", 2);
	add(2, 1, 0, 10, NULL);
	delete_mb(2);
	ck_assert_uint_eq(st->n_mailboxes, 1);
	ck_assert_ptr_null(mail_state_mailbox_by_guid(st, &g));
	ck_assert(mail_state_guid_deleted(st, &g));
	/* the same GUID never comes back, nor do changes to it */
	ck_assert_ptr_null(create(2, "Trash", 3));
	add(2, 2, 0, 10, NULL);
	rename_mb(2, "Bin", 0, 0);
	ck_assert_uint_eq(st->n_mailboxes, 1);
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Trash"));
	/* deleting twice records the GUID once */
	delete_mb(2);
	ck_assert_uint_eq(st->n_deleted, 1);
	/* a delete that arrives before the create (from a peer) */
	delete_mb(3);
	ck_assert_ptr_null(create(3, "Later", 4));
	ck_assert_uint_eq(st->n_deleted, 2);
	/* the name is free for a new GUID */
	ck_assert_ptr_nonnull(create(4, "Trash", 5));
	ck_assert_uint_eq(st->last_uidvalidity, 5);
	/* a second create of a live GUID is ignored */
	ck_assert_ptr_nonnull(create(4, "Other", 6));
	ck_assert_ptr_null(mail_state_mailbox_by_name(st, "Other"));
	ck_assert_uint_eq(st->n_mailboxes, 2);
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
		ck_assert_int_lt(strcmp(st->subs[i - 1], st->subs[i]), 0);
	ck_assert(mail_state_subscribed(st, "a/b"));
	ck_assert(!mail_state_subscribed(st, "A"));
	rec.name = S("a");
	rec.on = false;
	apply(&rec, 0, 0);
	ck_assert(!mail_state_subscribed(st, "a"));
	ck_assert_uint_eq(st->n_subs, 4);
	rec.name = S("never");
	apply(&rec, 0, 0);
	ck_assert_uint_eq(st->n_subs, 4);
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
	suite_add_tcase(s, tc);
	return s;
}
