/*
 * mail_ops.h: the operations users and admins perform, each validating its
 * input against the current state and turning it into log records inside
 * a transaction (mail_store.h). Programs (the CLI, imapd, the sync engine)
 * call these rather than building records themselves.
 *
 * All take the transaction of the mailbox owner's user. actor is the user
 * doing the change: when it is not the owner, the mailbox's private flags
 * go to actor's private flag store instead of the shared flags.
 */
#ifndef MAIL_OPS_H
#define MAIL_OPS_H

#include "mail_store.h"

#define MAIL_SPECIAL_USE_MAX	64

/* Create mailbox name (validated, "inbox" normalized), with special_use
 * ("" or NULL for none). MAIL_ERR_EXISTS if the name is taken. Sets
 * *mb_r (borrowed from the state) when mb_r is not NULL. */
int	mail_op_mailbox_create(struct mail_txn *t, const char *name,
	    const char *special_use, struct mail_mailbox **mb_r,
	    struct mail_err *err) WARN_UNUSED;
/* True if mb never held a message (none live, none tombstoned, UIDNEXT
 * 1) and has no metadata, ACL or private flag entries: replacing it
 * (mail_mailbox_opts.replace_unused) loses nothing. */
bool	mail_mailbox_unused(const struct mail_mailbox *mb);
/* Options of mail_op_mailbox_create_with(). Zero means "default". */
struct mail_mailbox_opts {
	uint32_t uidvalidity;		/* 0: a new one, as create does */
	const struct mail_guid *guid;	/* NULL: a new one; also when this
					 * one is in use or was deleted
					 * (a GUID never comes back) */
	bool	 replace_unused;	/* an existing mailbox of that name
					 * that never held a message and has
					 * no metadata or ACL entries is
					 * deleted and created anew */
};
/* Create mailbox name like mail_op_mailbox_create(), keeping identities
 * from elsewhere: imports keep a Maildir's UIDVALIDITY and mailbox GUID
 * so that IMAP clients' caches stay valid. The caller answers for the
 * UIDVALIDITY: it is not checked against earlier mailboxes of that name.
 * With replace_unused, an existing unused mailbox whose UIDVALIDITY or
 * GUID differs from the ones asked for is replaced (otherwise it is kept,
 * and given special_use if that is not empty); any other existing
 * mailbox is MAIL_ERR_EXISTS. Sets *mb_r (borrowed from the state) when
 * mb_r is not NULL. */
int	mail_op_mailbox_create_with(struct mail_txn *t, const char *name,
	    const char *special_use, const struct mail_mailbox_opts *opts,
	    struct mail_mailbox **mb_r, struct mail_err *err) WARN_UNUSED;
/* Raise mb's UIDNEXT to uidnext (at most 2^32 - 1), so that UIDs below
 * it, used elsewhere before an import, are never handed out here. A
 * value at or below the current UIDNEXT changes nothing: UIDNEXT never
 * goes down. Written as the MAILBOX_ATTR "uidnext", which versions that
 * do not know it ignore. */
int	mail_op_mailbox_set_uidnext(struct mail_txn *t,
	    struct mail_mailbox *mb, uint32_t uidnext, struct mail_err *err)
	    WARN_UNUSED;
/* Rename old to new, children included ("a/b" follows "a"). Renaming
 * INBOX moves its messages to a new mailbox and leaves INBOX empty, as
 * IMAP RENAME does. */
int	mail_op_mailbox_rename(struct mail_txn *t, const char *old_name,
	    const char *new_name, struct mail_err *err) WARN_UNUSED;
/* Delete a mailbox and its messages (they become tombstones; the
 * mailbox stays in the state as deleted, see mail_state.h). INBOX and
 * mailboxes with children are refused. */
int	mail_op_mailbox_delete(struct mail_txn *t, const char *name,
	    struct mail_err *err) WARN_UNUSED;
/* Subscribe or unsubscribe a name (it need not exist, as in IMAP). */
int	mail_op_subscribe(struct mail_txn *t, const char *name, bool on,
	    struct mail_err *err) WARN_UNUSED;
/* Set a mailbox attribute: "special-use" (RFC 6154 name or "") or
 * "private-flags" (space-separated system flags, or ""). */
int	mail_op_mailbox_set(struct mail_txn *t, struct mail_mailbox *mb,
	    const char *key, const char *value, struct mail_err *err)
	    WARN_UNUSED;

/* Options of a save. Zero means "default": a new GUID, the next UID, the
 * current time. */
struct mail_save_opts {
	const struct mail_flag_list *flags;	/* may be NULL */
	int64_t	 idate;
	int64_t	 sdate;
	uint32_t uid;		/* must be >= uidnext (imports keep UIDs) */
	const struct mail_guid *guid;
	bool	 has_idate, has_sdate;
};
/* Store data (the raw message, byte-exact) in mb. Sets *uid_r and, if
 * not NULL, *guid_r. */
int	mail_op_save(struct mail_txn *t, struct mail_mailbox *mb,
	    const void *data, size_t len, const struct mail_save_opts *opts,
	    uint32_t *uid_r, struct mail_guid *guid_r, struct mail_err *err)
	    WARN_UNUSED;
/* Change flags of the messages in uids (missing UIDs are skipped) as
 * actor. */
int	mail_op_flags(struct mail_txn *t, struct mail_mailbox *mb,
	    const struct mail_uidset *uids, enum mail_flags_op op,
	    const struct mail_flag_list *flags, const char *actor,
	    struct mail_err *err) WARN_UNUSED;
/* Expunge the messages in uids (missing UIDs are skipped). Sets
 * *n_r to the number expunged if n_r is not NULL. */
int	mail_op_expunge(struct mail_txn *t, struct mail_mailbox *mb,
	    const struct mail_uidset *uids, uint64_t *n_r, struct mail_err *err)
	    WARN_UNUSED;
/* Copy the messages uids of src (a mailbox of any user, read-only here)
 * into dst in t, keeping GUIDs, flags, keywords and dates; bodies are
 * shared. Appends the new UIDs to *new_uids if not NULL. Sets *n_r. */
int	mail_op_copy(struct mail_txn *t, const struct mail_mailbox *src,
	    const struct mail_uidset *uids, struct mail_mailbox *dst,
	    struct mail_uidset *new_uids, uint64_t *n_r, struct mail_err *err)
	    WARN_UNUSED;
/* Set (value != NULL) or unset a metadata key. mb NULL: server level;
 * uid 0: mailbox level. /private keys belong to actor. */
int	mail_op_metadata(struct mail_txn *t, struct mail_mailbox *mb,
	    uint32_t uid, const char *actor, const char *key,
	    const void *value, size_t value_len, struct mail_err *err)
	    WARN_UNUSED;
/* Check a metadata key (RFC 5464 entry name) and return a malloc'ed
 * lowercased copy, or NULL with MAIL_ERR_PARAM. */
char	*mail_metadata_key_normalize(const char *key, struct mail_err *err);
/* The user a metadata key is stored under: actor for /private, "". */
const char *mail_metadata_key_user(const char *key, const char *actor);
/* Set identifier's rights (RFC 4314 letters) or remove them (NULL). */
int	mail_op_acl(struct mail_txn *t, struct mail_mailbox *mb,
	    const char *identifier, const char *rights, struct mail_err *err)
	    WARN_UNUSED;

#endif
