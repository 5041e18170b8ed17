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
};

/* Private flags of one user in one mailbox, sorted by uid. */
struct mail_pvt_entry {
	uint32_t uid;
	uint16_t flags;
	uint64_t modseq;
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

struct mail_mailbox {
	struct mail_guid guid;
	char	*name;
	uint64_t name_hlc, name_node;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	char	*special_use;		/* "" or e.g. "\\Sent" */
	uint16_t pvt_mask;		/* flags private to non-owners */
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
};

struct mail_state {
	struct mail_mailbox **mailboxes;	/* in creation order */
	size_t	 n_mailboxes, cap_mailboxes;
	struct mail_guid *deleted;	/* deleted mailbox GUIDs, never reused */
	size_t	 n_deleted, cap_deleted;
	char	**subs;			/* subscribed names, sorted */
	size_t	 n_subs, cap_subs;
	struct mail_meta *meta;		/* server-level metadata */
	size_t	 n_meta, cap_meta;
	uint64_t modseq;		/* highest modseq applied */
	uint64_t hlc;			/* highest HLC applied */
	uint32_t last_uidvalidity;
	void	*map;			/* the snapshot file, mapped private
					 * (copy-on-write) so that loading a
					 * big mailbox copies nothing */
	size_t	 map_len;
};

struct mail_state *mail_state_new(void);
void	mail_state_free(struct mail_state **statep);

/* Apply one decoded record. Records about mailboxes or messages that do
 * not exist change nothing; a MAILBOX_CREATE reusing a deleted GUID is
 * ignored. */
void	mail_state_apply(struct mail_state *st, const struct mail_rec *rec);

/* Lookups. Returned pointers are borrowed and valid until the next apply. */
struct mail_mailbox *mail_state_mailbox_by_name(const struct mail_state *st,
	    const char *name);
struct mail_mailbox *mail_state_mailbox_by_guid(const struct mail_state *st,
	    const struct mail_guid *guid);
bool	mail_state_guid_deleted(const struct mail_state *st,
	    const struct mail_guid *guid);
struct mail_msg *mail_mailbox_msg(const struct mail_mailbox *mb, uint32_t uid);
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
bool	mail_state_subscribed(const struct mail_state *st, const char *name);
/* The live (not removed) ACL entry of identifier on mb, or NULL. */
const struct mail_acl_entry *mail_mailbox_acl_find(
	    const struct mail_mailbox *mb, const char *identifier);
/* The live ACL entries of mb sorted by identifier, in a malloc'ed array of
 * borrowed pointers (caller frees the array); sets *n_r. */
const struct mail_acl_entry **mail_mailbox_acl_sorted(
	    const struct mail_mailbox *mb, size_t *n_r);

#endif
