/*
 * wire_sync.h: the messages of the sync protocol after the HELLO
 * exchange (man/dsync-wire.7 is the full description). A client (the
 * "brain" of dsync sync/backup, later dsyncd) asks a server (dsync
 * server) for its state and tells it what to apply; the server never
 * decides anything about the merge.
 *
 * Integers are LEB128 varints in shortest form unless noted; u64 fields
 * (node ids, HLC times) are 8 bytes little-endian; GUIDs and hashes are
 * 16 raw bytes; strings are a varint length and bytes without NUL.
 *
 * State travels as "changes" (struct wire_change), packed back to back
 * in CHANGES frames, each change a kind byte and its fields. The same
 * encoding carries what a server lists and what it is told to apply.
 */
#ifndef WIRE_SYNC_H
#define WIRE_SYNC_H

#include "mail_buf.h"
#include "mail_err.h"
#include "mail_guid.h"
#include "mail_state.h"

enum wire_sync_msg {
	WIRE_MSG_USERS = 3,	/* c->s: (none) */
	WIRE_MSG_USER_LIST = 4,	/* s->c: varint n, n strings */
	WIRE_MSG_OPEN = 5,	/* c->s: user, u64 peer node, u8 create */
	WIRE_MSG_HEAD = 6,	/* s->c: struct wire_head */
	WIRE_MSG_LIST = 7,	/* c->s: varint since; reply CHANGES.. END */
	WIRE_MSG_CHANGES = 8,	/* both: changes back to back */
	WIRE_MSG_END = 9,	/* s->c: varint count; ends a listing */
	WIRE_MSG_MSGS = 10,	/* c->s: mailbox guid, varint since */
	WIRE_MSG_PROBE = 11,	/* c->s: struct wire_probe */
	WIRE_MSG_PROBE_REPLY = 12,	/* s->c: struct wire_probe_reply */
	WIRE_MSG_BODY_GET = 13,	/* c->s: varint n, n hashes; reply BODY.. END */
	WIRE_MSG_BODY = 14,	/* s->c: struct wire_body_chunk */
	WIRE_MSG_BODY_PUT = 15,	/* c->s: struct wire_body_chunk */
	WIRE_MSG_COMMIT = 16,	/* c->s: (none) */
	WIRE_MSG_COMMITTED = 17,	/* s->c: varint modseq before, after */
	WIRE_MSG_STATE_SET = 18,	/* c->s: struct wire_state */
	WIRE_MSG_OK = 19,	/* s->c: (none) */
	WIRE_MSG_BYE = 20,	/* c->s: (none); reply OK, then EOF */
	WIRE_MSG_COMPRESS = 21,	/* c->s: varint level; reply OK */
};

/* Limits a decoder enforces (a peer beyond them is refused). */
#define WIRE_NAME_MAX		1024	/* mailbox names, keys, users */
#define WIRE_KEYWORDS_MAX	64
#define WIRE_META_VALUE_MAX	(1024 * 1024)
#define WIRE_BODY_MAX		(512u * 1024 * 1024)
#define WIRE_BODY_CHUNK		(4u * 1024 * 1024)
#define WIRE_PROBE_MAX		100000
#define WIRE_HASHES_MAX		100000
#define WIRE_USERS_MAX		10000000

/* A message's identity (GUID and instance) is libmail's struct
 * mail_msg_key, compared with mail_msg_key_cmp(). */

/* A clock: last writer wins by hlc, then node. */
struct wire_clock {
	uint64_t hlc, node;
};
int	wire_clock_cmp(const struct wire_clock *a, const struct wire_clock *b);

enum wire_change_kind {
	WIRE_CH_MAILBOX = 1,	/* a mailbox header */
	WIRE_CH_CONTEXT = 2,	/* the mailbox the following PUT, TOMB, PVT
				 * and message META changes are about */
	WIRE_CH_PUT = 3,	/* a message */
	WIRE_CH_TOMB = 4,	/* an expunged message */
	WIRE_CH_PVT = 5,	/* a user's private flags on a message */
	WIRE_CH_SUB = 6,	/* a subscription */
	WIRE_CH_META = 7,	/* a metadata entry (or tombstone) */
	WIRE_CH_ACL = 8,	/* an ACL entry (rights "" = removed) */
};

/* One change. Which fields are used depends on kind; decoded strings are
 * owned (wire_change_free). */
struct wire_change {
	enum wire_change_kind kind;
	struct mail_guid mailbox;	/* MAILBOX, CONTEXT, META (zero:
					 * server level), ACL */
	/* MAILBOX */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	char	*name;			/* MAILBOX, SUB: name; META: key;
					 * ACL: identifier */
	struct wire_clock name_clock;	/* MAILBOX name; the clock of SUB,
					 * PVT, META, ACL */
	struct wire_clock create_clock;
	bool	 deleted;
	char	*special_use;
	struct wire_clock su_clock;
	uint16_t pvt_mask;
	struct wire_clock pvt_clock;
	uint32_t n_msgs;
	struct mail_guid merged_into;	/* zero, or where a sync merged it */
	/* PUT, TOMB, PVT, META (zero key: not about a message) */
	struct mail_msg_key key;
	uint32_t uid;
	struct wire_clock uid_clock;
	uint16_t flags;			/* PUT: shared flags; PVT: flags */
	char	**keywords;
	size_t	 n_keywords;
	struct wire_clock flags_clock;
	int64_t	 idate, sdate;
	uint64_t size;
	struct mail_guid body;
	uint64_t modseq;		/* the sender's, for the record */
	/* PVT, META */
	char	*user;
	/* SUB */
	bool	 on;
	/* META: value; ACL: rights */
	uint8_t	*value;
	size_t	 value_len;
	bool	 has_value;
};

void	wire_change_encode(const struct wire_change *c, struct mail_buf *out);
/* Decode the next change of a CHANGES payload. Returns 1 (c filled; free
 * it with wire_change_free), 0 at the end of the payload, or -1 with
 * MAIL_ERR_PROTO naming what is wrong. Never trusts the bytes. */
int	wire_change_decode(struct mail_reader *r, struct wire_change *c,
	    struct mail_err *err) WARN_UNUSED;
void	wire_change_free(struct wire_change *c);

/* HEAD: what a server tells about an opened user. */
struct wire_head {
	uint64_t log_id;	/* identity of the user's log (its first
				 * record's checksum) */
	uint64_t modseq;	/* highest modseq of the state listed */
	bool	 has_state;	/* a sync state with the peer exists: */
	uint64_t state_mine;	/* how far the peer has our changes */
	uint64_t state_peer;	/* how far we have the peer's changes */
	uint64_t state_peer_log;	/* the peer's log id back then */
	bool	 created;	/* the user did not exist and was created */
};
void	wire_head_encode(const struct wire_head *h, struct mail_buf *out);
int	wire_head_decode(const uint8_t *p, size_t n, struct wire_head *h,
	    struct mail_err *err) WARN_UNUSED;

/* STATE_SET: remember the sync state with a peer for the open user. */
struct wire_state {
	uint64_t peer_node;
	uint64_t mine, peer, peer_log;
};
void	wire_state_encode(const struct wire_state *s, struct mail_buf *out);
int	wire_state_decode(const uint8_t *p, size_t n, struct wire_state *s,
	    struct mail_err *err) WARN_UNUSED;

/* PROBE: before messages are applied to a server, the client asks which
 * UIDs are taken there by other messages (or were used before), which
 * keys are expunged there, and which bodies it lacks. */
struct wire_probe_item {
	uint32_t uid;
	struct mail_msg_key key;
	struct mail_guid body;
};
struct wire_probe {
	struct mail_guid mailbox;
	struct wire_probe_item *v;
	size_t	 n;
};
enum wire_probe_status {
	WIRE_PROBE_UID_TAKEN = 1,	/* uid names another message, or
					 * did once */
	WIRE_PROBE_DEAD = 2,		/* the key is expunged here */
	WIRE_PROBE_NO_BODY = 4,		/* the body is not stored here */
	WIRE_PROBE_KNOWN = 8,		/* the key is a message here */
};
/* The reply: one status byte (enum wire_probe_status bits) per item. */
void	wire_probe_encode(const struct wire_probe *p, struct mail_buf *out);
int	wire_probe_decode(const uint8_t *p, size_t n, struct wire_probe *pr,
	    struct mail_err *err) WARN_UNUSED;
void	wire_probe_free(struct wire_probe *p);

/* A piece of a body: BODY (server to client) and BODY_PUT (client to
 * server). Bodies larger than WIRE_BODY_CHUNK travel in several pieces
 * with increasing offsets. */
struct wire_body_chunk {
	struct mail_guid hash;
	uint64_t total;
	uint64_t offset;
	const uint8_t *data;	/* borrowed from the frame */
	size_t	 len;
};
void	wire_body_encode(const struct wire_body_chunk *b, struct mail_buf *out);
int	wire_body_decode(const uint8_t *p, size_t n, struct wire_body_chunk *b,
	    struct mail_err *err) WARN_UNUSED;

/* Lists of hashes (BODY_GET) and of strings (USER_LIST). */
void	wire_hashes_encode(const struct mail_guid *v, size_t n,
	    struct mail_buf *out);
int	wire_hashes_decode(const uint8_t *p, size_t n, struct mail_guid **v_r,
	    size_t *n_r, struct mail_err *err) WARN_UNUSED;

/* The limit on HLC times a peer may send: at most this far ahead of our
 * clock (a peer whose clock runs far ahead would otherwise win every
 * last-writer-wins comparison for as long as the skew lasts). */
#define WIRE_MAX_CLOCK_AHEAD_MS	(24ull * 3600 * 1000)
/* Check every clock in c against now_ms. */
int	wire_change_check_clocks(const struct wire_change *c, uint64_t now_ms,
	    struct mail_err *err) WARN_UNUSED;

#endif
