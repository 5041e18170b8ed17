/*
 * mail_ops.c: validated user and admin operations, expressed as log
 * records. Validation happens here, against the state the transaction
 * sees under the user's lock, so a record in the log is always one that
 * was valid when written; replay and replication then apply it without
 * asking again.
 */
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "mail_ops.h"
#include "mail_name.h"

static const char *const special_uses[] = {
	"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
	"\\Trash", "\\Important",
};

/* RFC 4314 rights in canonical order; c and d are the obsolete RFC 2086
 * rights, mapped to k/x and t/e as section 2.1.1 suggests. */
static const char acl_rights[] = "lrswipkxtea";

static bool
is_owner(struct mail_txn *t, const char *actor)
{
	return actor == NULL ||
	    strcmp(mail_user_name(mail_txn_user(t)), actor) == 0;
}

static struct mail_state *
txn_state(struct mail_txn *t)
{
	return mail_user_state(mail_txn_user(t));
}

static int
special_use_check(const char *use, const char **canon_r,
    struct mail_err *err)
{
	*canon_r = "";
	if (use == NULL || *use == '\0')
		return 0;
	for (size_t i = 0; i < N_ELEMENTS(special_uses); i++) {
		if (strcasecmp(use, special_uses[i]) == 0) {
			*canon_r = special_uses[i];
			return 0;
		}
	}
	return mail_err_set(err, MAIL_ERR_PARAM,
	    "unknown special-use attribute '%.64s'", use);
}

/* Create a mailbox; uv 0 and guid NULL pick new ones. */
static int
mailbox_create_raw(struct mail_txn *t, const char *name, const char *use,
    uint32_t uv, const struct mail_guid *guid, struct mail_mailbox **mb_r,
    struct mail_err *err)
{
	struct mail_state *st = txn_state(t);
	struct mail_mailbox *old;
	struct mail_guid derived;
	uint32_t derived_uv;
	struct mail_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MAILBOX_CREATE;
	/* A fresh mailbox gets the identity its name implies, so that the
	 * same name created on two nodes apart is one mailbox when they
	 * meet. If that identity is taken by a live mailbox (renamed since)
	 * a random one is used; if it was deleted it comes back, keeping
	 * its UIDVALIDITY and never reusing a UID. */
	mail_mailbox_identity(mail_user_name(mail_txn_user(t)), name,
	    &derived, &derived_uv);
	if (guid == NULL && uv == 0 &&
	    ((old = mail_state_mailbox_by_guid_any(st, &derived)) == NULL ||
	     old->deleted)) {
		rec.mailbox = derived;
		uv = old != NULL ? old->uidvalidity : derived_uv;
	}
	/* UIDVALIDITY must differ from any earlier mailbox of this name,
	 * also one created and deleted within the same second */
	if (uv == 0) {
		uv = (uint32_t)time(NULL);
		if (uv <= st->last_uidvalidity)
			uv = st->last_uidvalidity + 1;
	}
	/* a GUID in use or deleted would make apply ignore the record (or
	 * bring a deleted mailbox back) */
	if (!mail_guid_is_zero(&rec.mailbox))
		;
	else if (guid != NULL && !mail_guid_is_zero(guid) &&
	    mail_state_mailbox_by_guid_any(st, guid) == NULL)
		rec.mailbox = *guid;
	else
		mail_guid_generate(&rec.mailbox);
	rec.uidvalidity = uv;
	rec.name = (char *)(uintptr_t)name;
	if (mail_txn_add(t, &rec, err) < 0)
		return -1;
	*mb_r = mail_state_mailbox_by_guid(st, &rec.mailbox);
	mail_assert(*mb_r != NULL);
	if (*use != '\0')
		return mail_op_mailbox_set(t, *mb_r, "special-use", use, err);
	return 0;
}

int
mail_op_mailbox_create(struct mail_txn *t, const char *name,
    const char *special_use, struct mail_mailbox **mb_r, struct mail_err *err)
{
	static const struct mail_mailbox_opts fresh;	/* new identity */

	return mail_op_mailbox_create_with(t, name, special_use, &fresh, mb_r,
	    err);
}

bool
mail_mailbox_unused(const struct mail_mailbox *mb)
{
	return mb->n_msgs == 0 && mb->uidnext == 1 && mb->n_meta == 0 &&
	    mb->n_acl == 0 && mb->n_pvt == 0 && mb->n_tombs == 0;
}

int
mail_op_mailbox_create_with(struct mail_txn *t, const char *name,
    const char *special_use, const struct mail_mailbox_opts *opts,
    struct mail_mailbox **mb_r, struct mail_err *err)
{
	struct mail_state *st = txn_state(t);
	struct mail_mailbox *mb;
	struct mail_rec rec;
	const char *use;
	char *norm = NULL;
	int ret = -1;

	if (mail_mailbox_name_check(name, err) < 0 ||
	    special_use_check(special_use, &use, err) < 0)
		return -1;
	norm = mail_mailbox_name_normalize(name);
	if ((mb = mail_state_mailbox_by_name(st, norm)) != NULL) {
		if (!opts->replace_unused || !mail_mailbox_unused(mb)) {
			mail_err_set(err, MAIL_ERR_EXISTS, "mailbox '%s' exists",
			    norm);
			goto out;
		}
		if ((opts->uidvalidity == 0 ||
		    opts->uidvalidity == mb->uidvalidity) &&
		    (opts->guid == NULL ||
		    mail_guid_cmp(opts->guid, &mb->guid) == 0)) {
			/* nothing to gain from a new identity */
			if (*use != '\0' && strcmp(mb->special_use, use) != 0 &&
			    mail_op_mailbox_set(t, mb, "special-use", use,
			    err) < 0)
				goto out;
			ret = 0;
			goto done;
		}
		/* written as a delete and a create rather than a new record
		 * type, so that replay and peers need nothing new; this is
		 * also the only way INBOX is ever deleted */
		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MAILBOX_DELETE;
		rec.mailbox = mb->guid;
		if (mail_txn_add(t, &rec, err) < 0)
			goto out;
	}
	if (mailbox_create_raw(t, norm, use, opts->uidvalidity, opts->guid,
	    &mb, err) < 0)
		goto out;
	ret = 0;
done:
	if (mb_r != NULL)
		*mb_r = mb;
out:
	free(norm);
	return ret;
}

int
mail_op_mailbox_set_uidnext(struct mail_txn *t, struct mail_mailbox *mb,
    uint32_t uidnext, struct mail_err *err)
{
	struct mail_rec rec;
	char num[16];

	if (uidnext <= mb->uidnext)
		return 0;
	snprintf(num, sizeof(num), "%u", uidnext);
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MAILBOX_ATTR;
	rec.mailbox = mb->guid;
	rec.name = (char *)(uintptr_t)"uidnext";
	rec.value = (uint8_t *)num;
	rec.value_len = strlen(num);
	return mail_txn_add(t, &rec, err);
}

/* Is child below parent in the hierarchy ("a/b" below "a")? */
static bool
name_is_below(const char *child, const char *parent)
{
	size_t n = strlen(parent);

	return strncmp(child, parent, n) == 0 && child[n] == '/';
}

static int
rename_inbox(struct mail_txn *t, const char *new_name, struct mail_err *err)
{
	struct mail_state *st = txn_state(t);
	struct mail_mailbox *inbox, *dst;
	struct mail_uidset all = MAIL_UIDSET_INIT;
	int ret = -1;

	if (mail_op_mailbox_create(t, new_name, NULL, &dst, err) < 0)
		return -1;
	inbox = mail_state_mailbox_by_name(st, "INBOX");
	if (inbox->n_msgs > 0) {
		mail_uidset_add(&all, 1, UINT32_MAX);
		if (mail_op_copy(t, inbox, &all, dst, NULL, NULL, err) < 0 ||
		    mail_op_expunge(t, inbox, &all, NULL, err) < 0)
			goto out;
	}
	ret = 0;
out:
	mail_uidset_free(&all);
	return ret;
}

int
mail_op_mailbox_rename(struct mail_txn *t, const char *old_name,
    const char *new_name, struct mail_err *err)
{
	struct mail_state *st = txn_state(t);
	struct mail_mailbox *mb;
	char *from = NULL, *to = NULL;
	size_t from_len;
	int ret = -1;

	if (mail_mailbox_name_check(old_name, err) < 0 ||
	    mail_mailbox_name_check(new_name, err) < 0)
		return -1;
	from = mail_mailbox_name_normalize(old_name);
	to = mail_mailbox_name_normalize(new_name);
	from_len = strlen(from);
	if ((mb = mail_state_mailbox_by_name(st, from)) == NULL) {
		mail_err_set(err, MAIL_ERR_NOTFOUND, "unknown mailbox '%s'",
		    from);
		goto out;
	}
	if (mail_state_mailbox_by_name(st, to) != NULL) {
		mail_err_set(err, MAIL_ERR_EXISTS, "mailbox '%s' exists", to);
		goto out;
	}
	if (strcmp(to, "INBOX") == 0 || name_is_below(to, from)) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "can not rename '%s' to '%s'", from, to);
		goto out;
	}
	if (strcmp(from, "INBOX") == 0) {
		ret = rename_inbox(t, to, err);
		goto out;
	}
	/* the mailbox and each child, each renamed by its own record; the
	 * loop re-reads names because records change the state */
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		struct mail_mailbox *m = st->mailboxes[i];
		struct mail_rec rec;
		char *newname;
		int r;

		/* a deleted mailbox keeps its name, as a peer may still
		 * have it */
		if (m->deleted || (strcmp(m->name, from) != 0 &&
		    !name_is_below(m->name, from)))
			continue;
		newname = mail_xasprintf("%s%s", to, m->name + from_len);
		if (mail_mailbox_name_check(newname, err) < 0) {
			free(newname);
			goto out;
		}
		if (mail_state_mailbox_by_name(st, newname) != NULL) {
			mail_err_set(err, MAIL_ERR_EXISTS, "mailbox '%s' exists",
			    newname);
			free(newname);
			goto out;
		}
		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MAILBOX_RENAME;
		rec.mailbox = m->guid;
		rec.name = newname;
		r = mail_txn_add(t, &rec, err);
		free(newname);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	free(from);
	free(to);
	return ret;
}

int
mail_op_mailbox_delete(struct mail_txn *t, const char *name,
    struct mail_err *err)
{
	struct mail_state *st = txn_state(t);
	struct mail_mailbox *mb;
	struct mail_rec rec;
	char *norm;
	int ret = -1;

	if (mail_mailbox_name_check(name, err) < 0)
		return -1;
	norm = mail_mailbox_name_normalize(name);
	if ((mb = mail_state_mailbox_by_name(st, norm)) == NULL) {
		mail_err_set(err, MAIL_ERR_NOTFOUND, "unknown mailbox '%s'",
		    norm);
		goto out;
	}
	if (strcmp(norm, "INBOX") == 0) {
		mail_err_set(err, MAIL_ERR_PARAM, "INBOX can not be deleted");
		goto out;
	}
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (!st->mailboxes[i]->deleted &&
		    name_is_below(st->mailboxes[i]->name, norm)) {
			mail_err_set(err, MAIL_ERR_PARAM,
			    "mailbox '%s' has children; delete them first",
			    norm);
			goto out;
		}
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MAILBOX_DELETE;
	rec.mailbox = mb->guid;
	ret = mail_txn_add(t, &rec, err);
out:
	free(norm);
	return ret;
}

int
mail_op_subscribe(struct mail_txn *t, const char *name, bool on,
    struct mail_err *err)
{
	struct mail_rec rec;
	char *norm;
	int ret;

	if (mail_mailbox_name_check(name, err) < 0)
		return -1;
	norm = mail_mailbox_name_normalize(name);
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_SUBSCRIBE;
	rec.name = norm;
	rec.on = on;
	ret = mail_txn_add(t, &rec, err);
	free(norm);
	return ret;
}

static int
parse_flag_names(const char *value, uint16_t *flags_r, struct mail_err *err)
{
	char *copy = mail_xstrdup(value), *tok, *save = NULL;
	int ret = 0;

	*flags_r = 0;
	for (tok = strtok_r(copy, " ()", &save); tok != NULL;
	    tok = strtok_r(NULL, " ()", &save)) {
		uint16_t bit;
		int r = mail_flag_parse(tok, &bit, err);

		if (r < 0 || r == 0) {
			if (r == 0)
				mail_err_set(err, MAIL_ERR_PARAM,
				    "only system flags can be private, not "
				    "'%.64s'", tok);
			ret = -1;
			break;
		}
		*flags_r |= bit;
	}
	free(copy);
	return ret;
}

int
mail_op_mailbox_set(struct mail_txn *t, struct mail_mailbox *mb,
    const char *key, const char *value, struct mail_err *err)
{
	struct mail_rec rec;
	char num[16];
	const char *use;

	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MAILBOX_ATTR;
	rec.mailbox = mb->guid;
	if (strcmp(key, "special-use") == 0) {
		if (special_use_check(value, &use, err) < 0)
			return -1;
		rec.name = (char *)(uintptr_t)"specialuse";
		rec.value = (uint8_t *)(uintptr_t)use;
		rec.value_len = strlen(use);
	} else if (strcmp(key, "private-flags") == 0) {
		uint16_t flags;

		if (parse_flag_names(value, &flags, err) < 0)
			return -1;
		snprintf(num, sizeof(num), "%u", flags);
		rec.name = (char *)(uintptr_t)"pvtflags";
		rec.value = (uint8_t *)num;
		rec.value_len = strlen(num);
	} else {
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "unknown mailbox setting '%.64s' (special-use, "
		    "private-flags)", key);
	}
	return mail_txn_add(t, &rec, err);
}

/* Refuse keywords that would overflow the mailbox's keyword table. */
static int
keywords_fit(const struct mail_mailbox *mb, char *const *kw, size_t n,
    struct mail_err *err)
{
	size_t add = 0;

	for (size_t i = 0; i < n; i++) {
		if (mail_mailbox_keyword_index(mb, kw[i]) < 0)
			add++;
	}
	if (mb->n_keywords + add > MAIL_MAILBOX_MAX_KEYWORDS)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "mailbox '%s' can not hold more than %d keywords", mb->name,
		    MAIL_MAILBOX_MAX_KEYWORDS);
	return 0;
}

int
mail_op_save(struct mail_txn *t, struct mail_mailbox *mb, const void *data,
    size_t len, const struct mail_save_opts *opts, uint32_t *uid_r,
    struct mail_guid *guid_r, struct mail_err *err)
{
	struct mail_store *s = mail_user_store(mail_txn_user(t));
	struct mail_rec rec;
	uint32_t uid = opts->uid != 0 ? opts->uid : mb->uidnext;
	time_t now = time(NULL);

	if (opts->uid != 0 && opts->uid < mb->uidnext)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "UID %u is below UIDNEXT %u of '%s'", opts->uid,
		    mb->uidnext, mb->name);
	if (uid >= UINT32_MAX - 1)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "mailbox '%s' has run out of UIDs", mb->name);
	if (opts->flags != NULL && keywords_fit(mb, opts->flags->keywords,
	    opts->flags->n_keywords, err) < 0)
		return -1;
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_MSG_ADD;
	if (mail_txn_put_body(t, data, len, &rec.body, err) < 0)
		return -1;
	rec.mailbox = mb->guid;
	rec.uid = uid;
	if (opts->guid != NULL)
		rec.guid = *opts->guid;
	else
		mail_guid_generate(&rec.guid);
	rec.node = mail_store_node_id(s);
	rec.hlc = mail_txn_next_hlc(t);
	rec.inst_node = rec.node;
	rec.inst_hlc = rec.hlc;
	if (opts->flags != NULL) {
		rec.flags = opts->flags->flags;
		rec.keywords = opts->flags->keywords;
		rec.n_keywords = opts->flags->n_keywords;
	}
	rec.idate = opts->has_idate ? opts->idate : (int64_t)now;
	rec.sdate = opts->has_sdate ? opts->sdate : (int64_t)now;
	rec.size = len;
	if (mail_txn_add(t, &rec, err) < 0)
		return -1;
	*uid_r = uid;
	if (guid_r != NULL)
		*guid_r = rec.guid;
	return 0;
}

static int
flags_record(struct mail_txn *t, struct mail_mailbox *mb,
    const struct mail_uidset *uids, enum mail_rec_type type, uint8_t op,
    uint16_t flags, uint16_t mask, char *const *kw, size_t n_kw,
    const char *user, struct mail_err *err)
{
	struct mail_rec rec;
	int ret;

	memset(&rec, 0, sizeof(rec));
	rec.type = type;
	rec.mailbox = mb->guid;
	rec.op = op;
	rec.flags = flags;
	rec.mask = mask;
	rec.keywords = (char **)(uintptr_t)kw;
	rec.n_keywords = n_kw;
	rec.user = (char *)(uintptr_t)user;
	/* the record owns its copy of the set only during apply */
	rec.uids = *uids;
	ret = mail_txn_add(t, &rec, err);
	return ret;
}

/* The part of uids that names existing messages: records list only those,
 * so replay never depends on what was missing at the time. */
static void
existing_uids(const struct mail_mailbox *mb, const struct mail_uidset *uids,
    struct mail_uidset *out)
{
	for (size_t r = 0; r < uids->n; r++) {
		size_t i = mail_mailbox_msg_index(mb, uids->r[r].lo);

		for (; i < mb->n_msgs && mb->msgs[i].uid <= uids->r[r].hi; i++)
			mail_uidset_add(out, mb->msgs[i].uid, mb->msgs[i].uid);
	}
}

int
mail_op_flags(struct mail_txn *t, struct mail_mailbox *mb,
    const struct mail_uidset *uids, enum mail_flags_op op,
    const struct mail_flag_list *fl, const char *actor, struct mail_err *err)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;
	uint16_t pvt = is_owner(t, actor) ? 0 : mb->pvt_mask;
	uint16_t shared_flags = fl->flags & (uint16_t)~pvt;
	int ret = -1;

	if (keywords_fit(mb, fl->keywords, fl->n_keywords, err) < 0)
		return -1;
	existing_uids(mb, uids, &set);
	if (set.n == 0) {
		ret = 0;
		goto out;
	}
	if (op == MAIL_FLAGS_REPLACE || shared_flags != 0 ||
	    fl->n_keywords > 0) {
		if (flags_record(t, mb, &set, MAIL_REC_MSG_FLAGS, (uint8_t)op,
		    shared_flags, (uint16_t)(MAIL_FLAGS_ALL & ~pvt),
		    fl->keywords, fl->n_keywords, NULL, err) < 0)
			goto out;
	}
	if (pvt != 0 && (op == MAIL_FLAGS_REPLACE || (fl->flags & pvt))) {
		if (flags_record(t, mb, &set, MAIL_REC_PVT_FLAGS, (uint8_t)op,
		    fl->flags & pvt, pvt, NULL, 0, actor, err) < 0)
			goto out;
	}
	ret = 0;
out:
	mail_uidset_free(&set);
	return ret;
}

int
mail_op_expunge(struct mail_txn *t, struct mail_mailbox *mb,
    const struct mail_uidset *uids, uint64_t *n_r, struct mail_err *err)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct mail_rec rec;
	int ret = 0;

	existing_uids(mb, uids, &set);
	if (n_r != NULL)
		*n_r = mail_uidset_count(&set);
	if (set.n > 0) {
		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MSG_EXPUNGE;
		rec.mailbox = mb->guid;
		rec.uids = set;
		ret = mail_txn_add(t, &rec, err);
	}
	mail_uidset_free(&set);
	return ret;
}

int
mail_op_copy(struct mail_txn *t, const struct mail_mailbox *src,
    const struct mail_uidset *uids, struct mail_mailbox *dst,
    struct mail_uidset *new_uids, uint64_t *n_r, struct mail_err *err)
{
	struct mail_store *s = mail_user_store(mail_txn_user(t));
	struct mail_msg *msgs = NULL;
	char **kwnames = NULL;
	size_t n = 0, cap = 0;
	int ret = -1;

	/* snapshot the source first: when src == dst, adding messages
	 * moves dst's array under us */
	for (size_t r = 0; r < uids->n; r++) {
		size_t i = mail_mailbox_msg_index(src, uids->r[r].lo);

		for (; i < src->n_msgs && src->msgs[i].uid <= uids->r[r].hi;
		    i++) {
			msgs = mail_xgrow(msgs, &cap, n + 1, sizeof(*msgs));
			msgs[n++] = src->msgs[i];
		}
	}
	kwnames = mail_xcalloc(src->n_keywords + 1, sizeof(char *));
	for (size_t k = 0; k < src->n_keywords; k++)
		kwnames[k] = mail_xstrdup(src->keywords[k]);
	for (size_t i = 0; i < n; i++) {
		struct mail_rec rec;
		char *kw[MAIL_MAILBOX_MAX_KEYWORDS];
		size_t n_kw = 0;

		for (size_t k = 0; k < src->n_keywords; k++) {
			if (msgs[i].keywords & ((uint64_t)1 << k))
				kw[n_kw++] = kwnames[k];
		}
		if (keywords_fit(dst, kw, n_kw, err) < 0)
			goto out;
		if (dst->uidnext >= UINT32_MAX - 1) {
			mail_err_set(err, MAIL_ERR_LIMIT,
			    "mailbox '%s' has run out of UIDs", dst->name);
			goto out;
		}
		memset(&rec, 0, sizeof(rec));
		rec.type = MAIL_REC_MSG_ADD;
		rec.mailbox = dst->guid;
		rec.uid = dst->uidnext;
		rec.guid = msgs[i].guid;
		rec.body = msgs[i].body;
		rec.node = mail_store_node_id(s);
		rec.hlc = mail_txn_next_hlc(t);
		rec.inst_node = rec.node;
		rec.inst_hlc = rec.hlc;
		rec.flags = msgs[i].flags;
		rec.keywords = kw;
		rec.n_keywords = n_kw;
		rec.idate = msgs[i].idate;
		rec.sdate = (int64_t)time(NULL);
		rec.size = msgs[i].size;
		if (mail_txn_add(t, &rec, err) < 0)
			goto out;
		if (new_uids != NULL)
			mail_uidset_add(new_uids, rec.uid, rec.uid);
	}
	if (n_r != NULL)
		*n_r = n;
	ret = 0;
out:
	for (size_t k = 0; k < src->n_keywords; k++)
		free(kwnames[k]);
	free(kwnames);
	free(msgs);
	return ret;
}

char *
mail_metadata_key_normalize(const char *key, struct mail_err *err)
{
	size_t n = strlen(key);
	char *k;

	if (strncasecmp(key, "/private/", 9) != 0 &&
	    strncasecmp(key, "/shared/", 8) != 0) {
		mail_err_set(err, MAIL_ERR_PARAM,
		    "metadata key '%.64s' must start with /private/ or /shared/",
		    key);
		return NULL;
	}
	if (n > MAIL_METADATA_KEY_MAX || key[n - 1] == '/' ||
	    strstr(key, "//") != NULL) {
		mail_err_set(err, MAIL_ERR_PARAM, "invalid metadata key '%.64s'",
		    key);
		return NULL;
	}
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		/* RFC 5464 3.2: no wildcards, no controls, 7-bit here */
		if (*p <= 0x20 || *p >= 0x7f || *p == '*' || *p == '%') {
			mail_err_set(err, MAIL_ERR_PARAM,
			    "invalid character in metadata key '%.64s'", key);
			return NULL;
		}
	}
	/* entry names are case-insensitive (RFC 5464 3.2) */
	k = mail_xstrdup(key);
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

const char *
mail_metadata_key_user(const char *key, const char *actor)
{
	return strncmp(key, "/private/", 9) == 0 ? actor : "";
}

int
mail_op_metadata(struct mail_txn *t, struct mail_mailbox *mb, uint32_t uid,
    const char *actor, const char *key, const void *value, size_t value_len,
    struct mail_err *err)
{
	struct mail_rec rec;
	char *k;
	int ret;

	if ((k = mail_metadata_key_normalize(key, err)) == NULL)
		return -1;
	if (value != NULL && value_len > MAIL_METADATA_VALUE_MAX) {
		free(k);
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "metadata value over %d bytes", MAIL_METADATA_VALUE_MAX);
	}
	if (mb != NULL && uid != 0 && mail_mailbox_msg(mb, uid) == NULL) {
		free(k);
		return mail_err_set(err, MAIL_ERR_NOTFOUND,
		    "no message with UID %u in '%s'", uid, mb->name);
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_METADATA;
	if (mb != NULL)
		rec.mailbox = mb->guid;
	rec.uid = mb != NULL ? uid : 0;
	rec.user = (char *)(uintptr_t)mail_metadata_key_user(k,
	    actor != NULL ? actor : mail_user_name(mail_txn_user(t)));
	rec.name = k;
	rec.has_value = value != NULL;
	rec.value = (uint8_t *)(uintptr_t)value;
	rec.value_len = value != NULL ? value_len : 0;
	ret = mail_txn_add(t, &rec, err);
	free(k);
	return ret;
}

static int
acl_identifier_check(const char *id, struct mail_err *err)
{
	const char *name = id[0] == '-' ? id + 1 : id;

	if (strcmp(name, "anyone") == 0 || strcmp(name, "authenticated") == 0)
		return 0;
	if (mail_user_name_check(name, err) < 0)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "invalid ACL identifier '%.64s'", id);
	return 0;
}

int
mail_op_acl(struct mail_txn *t, struct mail_mailbox *mb,
    const char *identifier, const char *rights, struct mail_err *err)
{
	struct mail_rec rec;
	char canon[sizeof(acl_rights)];
	size_t n = 0;

	if (acl_identifier_check(identifier, err) < 0)
		return -1;
	memset(canon, 0, sizeof(canon));
	if (rights != NULL) {
		bool want[128] = { false };

		for (const char *p = rights; *p; p++) {
			char c = *p;

			if (c == 'c')
				c = 'k';	/* RFC 4314 2.1.1 */
			if (c == 'd')
				c = 't';
			if ((unsigned char)c >= 128 ||
			    strchr(acl_rights, c) == NULL)
				return mail_err_set(err, MAIL_ERR_PARAM,
				    "invalid ACL right '%c' (valid: %s)", *p,
				    acl_rights);
			want[(unsigned char)c] = true;
			if (*p == 'c')
				want['x'] = true;
			if (*p == 'd')
				want['e'] = true;
		}
		for (const char *p = acl_rights; *p; p++) {
			if (want[(unsigned char)*p])
				canon[n++] = *p;
		}
		if (n == 0)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "empty ACL rights; use 'acl delete' to remove");
	} else {
		if (mail_mailbox_acl_find(mb, identifier) == NULL)
			return mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "no ACL entry for '%.64s' on '%s'", identifier,
			    mb->name);
	}
	memset(&rec, 0, sizeof(rec));
	rec.type = MAIL_REC_ACL;
	rec.mailbox = mb->guid;
	rec.name = (char *)(uintptr_t)identifier;
	rec.value = (uint8_t *)canon;
	rec.value_len = n;
	return mail_txn_add(t, &rec, err);
}
