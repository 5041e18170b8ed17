/*
 * mail_state.h: the in-memory state of one user, built by applying log
 * records in order (mail_state_apply). It is what every reader sees: the
 * mailbox list, messages, flags, private flags, metadata, ACLs and
 * subscriptions. The index snapshot (mail_snapshot.h) is this state
 * serialized, so opening a user needs only the log tail after it.
 *
 * Apply is deterministic and lenient: a record about a mailbox or message
 * that does not exist (already deleted or expunged) changes nothing, so
 * the same function serves replay of our own log and changes from peers.
 *
 * Replication merges states item by item, last writer wins on (hlc, node)
 * (mail_hlc_cmp): mailbox names, special-use, private-flag masks,
 * subscriptions, message flags and UIDs, private flags, metadata, ACLs.
 * What is gone stays as a tombstone so that an older copy can not bring
 * it back: a deleted mailbox stays in the list (deleted = true), an
 * expunged message leaves a mail_tomb, an unsubscribed name stays with
 * on = false, a deleted metadata key or ACL entry stays empty. Every
 * lookup and listing below skips deleted mailboxes unless it says
 * otherwise; code that walks st->mailboxes itself must skip them too.
 */
#ifndef MAIL_STATE_H
#define MAIL_STATE_H

#include "mail_rec.h"
#include "mail_flags.h"

#define MAIL_MAILBOX_MAX_KEYWORDS 64

/* One message. Also the fixed-size snapshot record (see mail_snapshot.c). */
struct mail_msg {
	uint32_t uid;
	uint16_t flags;		/* enum mail_flag bits, the shared flags */
	uint16_t reserved;
	uint64_t keywords;	/* bit i: the mailbox's keyword i */
	struct mail_guid guid;	/* kept by copy, move and replication */
	struct mail_guid body;	/* XXH3-128 of the raw message bytes */
	uint64_t inst_node;	/* instance: the node and HLC time of the */
	uint64_t inst_hlc;	/* save or copy that created this message */
	int64_t	 idate;		/* internal date, unix seconds */
	int64_t	 sdate;		/* save date, unix seconds */
	uint64_t size;		/* bytes of the raw message */
	uint64_t modseq;	/* last change to this message */
	uint64_t flags_hlc;	/* (hlc, node) of the last flag change, for */
	uint64_t flags_node;	/* last-writer-wins in replication */
	uint64_t uid_hlc;	/* (hlc, node) of the UID assignment: the */
	uint64_t uid_node;	/* save, or the last renumbering (PUT) */
};

/* The identity of a message within a mailbox: its GUID and instance. A
 * copy is a new instance; replication matches messages by key, never by
 * UID. */
struct mail_msg_key {
	struct mail_guid guid;
	uint64_t inst_node, inst_hlc;
};

/* An expunged message: its key is dead in this mailbox for good. */
struct mail_tomb {
	struct mail_msg_key key;
	uint64_t modseq;	/* when it died here (node-local) */
};

/* Index from key to UID, private to mail_state.c. */
struct mail_msg_index;

/* Private flags of one user in one mailbox, sorted by uid. */
struct mail_pvt_entry {
	uint32_t uid;
	uint16_t flags;
	uint64_t modseq;
	uint64_t hlc, node;	/* the last PVT_FLAGS that changed it */
};
struct mail_pvt_user {
	char	*user;
	struct mail_pvt_entry *v;
	size_t	 n, cap;
};

/* A metadata entry (RFC 5464) at server, mailbox or message level. A
 * deleted key stays as a tombstone (has_value false) so that replication
 * can not bring it back. */
struct mail_meta {
	uint32_t uid;		/* 0: mailbox or server level */
	char	*user;		/* owner of a /private key; "" for /shared */
	char	*key;		/* "/private/..." or "/shared/..." */
	uint8_t	*value;
	size_t	 value_len;
	bool	 has_value;
	uint64_t modseq, hlc, node;
};

/* An ACL entry. A removed entry stays as a tombstone with rights "" so
 * that a removal and an older grant meet in the same result whatever
 * order they arrive in (last writer wins on (hlc, node)). */
struct mail_acl_entry {
	char	*identifier;	/* user name, "anyone", "authenticated" */
	char	*rights;	/* RFC 4314 rights letters, canonical order;
				 * "" for a tombstone */
	uint64_t hlc, node;
};

/* A mailbox. A deleted one (deleted = true) keeps its GUID, name and
 * name clock, UIDVALIDITY, UIDNEXT, tombstones and used UIDs (every
 * message became a tombstone when it was deleted), and its other
 * attributes, unseen; a MAILBOX_CREATE with the same GUID and UIDVALIDITY
 * brings it back as it was. */
struct mail_mailbox {
	struct mail_guid guid;
	char	*name;			/* "": a GUID only known deleted */
	uint64_t name_hlc, name_node;
	bool	 deleted;
	uint64_t create_hlc, create_node;	/* of its MAILBOX_CREATE */
	uint32_t uidvalidity;		/* 0: only known deleted */
	uint32_t uidnext;
	uint64_t highestmodseq;
	char	*special_use;		/* "" or e.g. "\\Sent" */
	uint64_t su_hlc, su_node;	/* of the last special-use change */
	uint16_t pvt_mask;		/* flags private to non-owners */
	uint64_t pvt_hlc, pvt_node;	/* of the last pvt_mask change */
	struct mail_guid merged_into;	/* zero, or the mailbox a sync merged
					 * this one into when two live
					 * mailboxes had one name (kept when
					 * deleted: later syncs route mail and
					 * expunges that reach it there) */
	char	*keywords[MAIL_MAILBOX_MAX_KEYWORDS];
	size_t	 n_keywords;
	struct mail_msg *msgs;		/* sorted by uid */
	size_t	 n_msgs, cap_msgs;
	bool	 msgs_mapped;		/* msgs points into the snapshot
					 * mapping (mail_state.map), which
					 * has cap_msgs slots; moved to the
					 * heap before it grows beyond */
	uint64_t n_unseen;		/* owner's view */
	uint64_t total_size;
	struct mail_pvt_user *pvt;
	size_t	 n_pvt, cap_pvt;
	struct mail_meta *meta;
	size_t	 n_meta, cap_meta;
	struct mail_acl_entry *acl;
	size_t	 n_acl, cap_acl;
	struct mail_tomb *tombs;	/* sorted by key (mail_msg_key_cmp) */
	size_t	 n_tombs, cap_tombs;
	struct mail_uidset gone;	/* UIDs that named a message here and
					 * no longer do (expunged, moved away
					 * by a renumbering, or named by a
					 * MSG_PUT that lost): never given
					 * to another message */
	struct mail_msg_index *key_index; /* NULL until a lookup by key;
					 * then kept up to date */
};

/* A subscription. Unsubscribing keeps the entry (on = false), so that an
 * older subscribe from a peer loses against it. */
struct mail_sub {
	char	*name;
	bool	 on;
	uint64_t hlc, node;
};

struct mail_state {
	struct mail_mailbox **mailboxes;	/* in creation order, deleted
						 * ones included */
	size_t	 n_mailboxes, cap_mailboxes;
	struct mail_sub *subs;		/* sorted by name, off ones too */
	size_t	 n_subs, cap_subs;
	struct mail_meta *meta;		/* server-level metadata */
	size_t	 n_meta, cap_meta;
	uint64_t modseq;		/* highest modseq applied */
	uint64_t hlc;			/* highest HLC applied: of records, and
					 * the instance, UID and flag clocks
					 * they carry, so that the next local
					 * HLC is above every clock here */
	uint32_t last_uidvalidity;
	void	*map;			/* the snapshot file, mapped private
					 * (copy-on-write) so that loading a
					 * big mailbox copies nothing */
	size_t	 map_len;
};

/* The identity a mailbox created fresh under name gets: a GUID and a
 * UIDVALIDITY derived from the user and the name, so that nodes creating
 * the same name apart (every node's INBOX) create one mailbox. */
void	mail_mailbox_identity(const char *user, const char *name,
	    struct mail_guid *guid_r, uint32_t *uidvalidity_r);

struct mail_state *mail_state_new(void);
void	mail_state_free(struct mail_state **statep);

/* Apply one decoded record. Records about mailboxes or messages that do
 * not exist change nothing. What each type does:
 *
 * MAILBOX_CREATE  a new GUID: a new mailbox. A deleted GUID with the same
 *                 UIDVALIDITY: undeleted, with the record's name and name
 *                 clock (tombstones, used UIDs, UIDNEXT and the creation
 *                 clock kept). A live GUID,
 *                 or a deleted one with another UIDVALIDITY: ignored.
 * MAILBOX_RENAME  last writer wins; also on deleted mailboxes.
 * MAILBOX_DELETE  marks it deleted; each message becomes a tombstone and
 *                 its UID used; private flags of them go. A GUID never
 *                 seen is remembered as deleted (a delete that arrives
 *                 before the create).
 * MAILBOX_ATTR    "specialuse", "pvtflags": last writer wins; "uidnext":
 *                 the maximum.
 * SUBSCRIBE       last writer wins per name.
 * MSG_ADD         inserts a new instance at its UID (clocks: the
 *                 record's); nothing if the UID is used or the key has a
 *                 tombstone. The writer makes the instance: it is not
 *                 looked up among the live messages.
 * MSG_FLAGS       per message, if the record is newer than its flags.
 * MSG_EXPUNGE     each message becomes a tombstone, its UID used.
 * PVT_FLAGS       per entry, if the record is newer than the entry.
 * MSG_PUT         joins one message from elsewhere (live mailboxes only):
 *                 a tombstoned key stays dead; a live key takes the
 *                 record's UID if its UID clock is newer and that UID is
 *                 unused, and its flags and keywords if its flag clock is
 *                 newer; a missing key is inserted unless the UID is used.
 *                 Every UID a PUT names that does not end up naming its
 *                 message counts as used (unless another message has it)
 *                 and UIDNEXT goes past it, so that the result does not
 *                 depend on the order PUTs and TOMBs arrive in.
 * MSG_TOMB        expunges the key if live, else records the tombstone;
 *                 also on deleted mailboxes.
 *
 * Keywords beyond a mailbox's MAIL_MAILBOX_MAX_KEYWORDS are dropped. */
void	mail_state_apply(struct mail_state *st, const struct mail_rec *rec);

/* Lookups. Returned pointers are borrowed and valid until the next apply. */
/* The live mailbox named name, or NULL. */
struct mail_mailbox *mail_state_mailbox_by_name(const struct mail_state *st,
	    const char *name);
/* The live mailbox with guid, or NULL. */
struct mail_mailbox *mail_state_mailbox_by_guid(const struct mail_state *st,
	    const struct mail_guid *guid);
/* The mailbox with guid, deleted or not, or NULL. */
struct mail_mailbox *mail_state_mailbox_by_guid_any(
	    const struct mail_state *st, const struct mail_guid *guid);
/* True if a mailbox with guid existed and is deleted. */
bool	mail_state_guid_deleted(const struct mail_state *st,
	    const struct mail_guid *guid);
struct mail_msg *mail_mailbox_msg(const struct mail_mailbox *mb, uint32_t uid);
/* The live message with key in mb, or NULL. The first call on a mailbox
 * builds an index of its messages (reads the whole array); it is kept up
 * to date from then on. */
struct mail_msg *mail_mailbox_msg_by_key(const struct mail_mailbox *mb,
	    const struct mail_msg_key *key);
/* The tombstone of key in mb, or NULL (binary search). */
const struct mail_tomb *mail_mailbox_tomb_find(const struct mail_mailbox *mb,
	    const struct mail_msg_key *key);
/* True if uid names a live message of mb or once named one (mb->gone):
 * such a UID is never given to another message. */
bool	mail_mailbox_uid_used(const struct mail_mailbox *mb, uint32_t uid);
/* Order of keys: GUID (bytes), then inst_node, then inst_hlc. */
int	mail_msg_key_cmp(const struct mail_msg_key *a,
	    const struct mail_msg_key *b);
/* The key of msg. */
void	mail_msg_key_of(const struct mail_msg *msg,
	    struct mail_msg_key *key_r);
/* Index of the first message with uid >= given uid. */
size_t	mail_mailbox_msg_index(const struct mail_mailbox *mb, uint32_t uid);
/* Index of kw in the mailbox's keyword table, or -1. */
int	mail_mailbox_keyword_index(const struct mail_mailbox *mb, const char *kw);
/* The system flags that viewer sees on msg: the shared flags, with the
 * mailbox's private flags replaced by viewer's own when viewer is not the
 * owner. */
uint16_t mail_mailbox_view_flags(const struct mail_mailbox *mb,
	    const struct mail_msg *msg, const char *viewer, bool is_owner);
/* viewer's private flags on uid (0 if none). */
uint16_t mail_mailbox_pvt_flags(const struct mail_mailbox *mb,
	    const char *viewer, uint32_t uid);
/* The metadata entry for (uid, user, key) in mb (NULL mb: server level),
 * tombstones included; NULL if never set. */
struct mail_meta *mail_state_meta_find(const struct mail_state *st,
	    const struct mail_mailbox *mb, uint32_t uid, const char *user,
	    const char *key);
/* True if name is subscribed (an entry that is on). */
bool	mail_state_subscribed(const struct mail_state *st, const char *name);
/* The live (not removed) ACL entry of identifier on mb, or NULL. */
const struct mail_acl_entry *mail_mailbox_acl_find(
	    const struct mail_mailbox *mb, const char *identifier);
/* The live ACL entries of mb sorted by identifier, in a malloc'ed array of
 * borrowed pointers (caller frees the array); sets *n_r. */
const struct mail_acl_entry **mail_mailbox_acl_sorted(
	    const struct mail_mailbox *mb, size_t *n_r);

#endif
