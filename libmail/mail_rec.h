/*
 * mail_rec.h: the payloads of change-log records (see mail_log.h for the
 * framing). Strings and byte strings are varint length + bytes; GUIDs are
 * 16 raw bytes; integers are LEB128 varints; UID sets are a varint count
 * followed by (lo, hi - lo) varint pairs.
 *
 *   MAILBOX_CREATE  guid, uidvalidity, name
 *   MAILBOX_RENAME  guid, name
 *   MAILBOX_DELETE  guid
 *   MAILBOX_ATTR    guid, key, value          ("specialuse", "pvtflags",
 *                                             "uidnext": decimal, only
 *                                             ever raises UIDNEXT)
 *   SUBSCRIBE       name, on (0/1)
 *   MSG_ADD         mailbox guid, uid, message guid, instance node,
 *                   instance hlc, flags, keywords, internal date,
 *                   save date, size, body hash
 *   MSG_FLAGS       mailbox guid, op, flags, mask, keywords, uids
 *   MSG_EXPUNGE     mailbox guid, uids
 *   PVT_FLAGS       mailbox guid, user, op, flags, mask, uids
 *   METADATA        mailbox guid (zero: server), uid (0: mailbox), user
 *                   ("" for /shared), key, has value (0/1), value
 *   ACL             mailbox guid, identifier, rights ("" removes)
 *   MSG_PUT         mailbox guid, uid, message guid, instance node,
 *                   instance hlc, uid hlc, uid node, flags, keywords,
 *                   flags hlc, flags node, internal date, save date,
 *                   size, body hash
 *   MSG_TOMB        mailbox guid, message guid, instance node,
 *                   instance hlc
 *
 * MSG_PUT and MSG_TOMB carry one message's state from another node, with
 * the clocks of its UID and of its flags (the record's own hlc and node
 * are of the write that carried it); see mail_state_apply() for how they
 * join.
 *
 * Flag ops: ADD sets flags, REMOVE clears them, REPLACE sets the system
 * flags within mask to flags (others stay) and replaces the keywords.
 * Keywords are a varint count and strings. Dates are seconds since the
 * epoch, zigzag-encoded so dates before 1970 survive.
 */
#ifndef MAIL_REC_H
#define MAIL_REC_H

#include "mail_log.h"
#include "mail_guid.h"
#include "mail_uidset.h"

enum mail_rec_type {
	MAIL_REC_MAILBOX_CREATE = 1,
	MAIL_REC_MAILBOX_RENAME = 2,
	MAIL_REC_MAILBOX_DELETE = 3,
	MAIL_REC_MAILBOX_ATTR = 4,
	MAIL_REC_SUBSCRIBE = 5,
	MAIL_REC_MSG_ADD = 6,
	MAIL_REC_MSG_FLAGS = 7,
	MAIL_REC_MSG_EXPUNGE = 8,
	MAIL_REC_PVT_FLAGS = 9,
	MAIL_REC_METADATA = 10,
	MAIL_REC_ACL = 11,
	MAIL_REC_MSG_PUT = 12,
	MAIL_REC_MSG_TOMB = 13,
};

enum mail_flags_op {
	MAIL_FLAGS_ADD = 0,
	MAIL_FLAGS_REMOVE = 1,
	MAIL_FLAGS_REPLACE = 2,
};

#define MAIL_REC_MAX_KEYWORDS	64
#define MAIL_REC_MAX_RANGES	(256 * 1024)
#define MAIL_METADATA_KEY_MAX	1024
#define MAIL_METADATA_VALUE_MAX	(1024 * 1024)

/* One decoded record. Which fields are meaningful depends on type. Owns
 * its strings; free with mail_rec_free(). */
struct mail_rec {
	enum mail_rec_type type;
	uint64_t modseq, node, hlc;	/* from the log record header */
	struct mail_guid mailbox;
	uint32_t uidvalidity;
	char	*name;			/* mailbox name, attr/metadata key,
					 * ACL identifier */
	uint8_t	*value;			/* attr value, ACL rights, metadata
					 * value; NUL-terminated */
	size_t	 value_len;
	bool	 has_value;
	bool	 on;			/* SUBSCRIBE */
	char	*user;			/* PVT_FLAGS, METADATA */
	uint8_t	 op;			/* enum mail_flags_op */
	uint16_t flags;
	uint16_t mask;			/* REPLACE: which flags it replaces */
	char	**keywords;
	size_t	 n_keywords;
	struct mail_uidset uids;
	/* MSG_ADD, MSG_PUT (MSG_TOMB: guid and instance only) */
	uint32_t uid;
	struct mail_guid guid, body;
	uint64_t inst_node, inst_hlc;
	int64_t	 idate, sdate;
	uint64_t size;
	/* MSG_PUT */
	uint64_t uid_hlc, uid_node;	/* clock of the UID assignment */
	uint64_t flags_hlc, flags_node;	/* clock of flags and keywords */
};

/* Append the payload of rec to out. */
void	mail_rec_encode(const struct mail_rec *rec, struct mail_buf *out);
/* Decode the payload of a log record into rec (zeroed first). Returns 0,
 * or -1 with MAIL_ERR_CORRUPT for an unknown type, truncated or trailing
 * bytes, or values out of range. Never trusts the bytes. */
int	mail_rec_decode(const struct mail_log_rec *lrec, struct mail_rec *rec,
	    struct mail_err *err) WARN_UNUSED;
void	mail_rec_free(struct mail_rec *rec);

#endif
