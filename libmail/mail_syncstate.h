/*
 * mail_syncstate.h: what a user's store remembers about syncing with each
 * peer, so that a re-sync sends only what changed since: how far the peer
 * has our changes (a modseq of our log), how far we have the peer's (a
 * modseq of its log), and which log of the peer that was (its log id),
 * in users/NAME/sync/PEER (PEER the peer's node id in hex).
 *
 * A state is only a hint: a lost or stale one (the peer's store restored
 * or recreated, either side rolled back) falls back to a full comparison.
 */
#ifndef MAIL_SYNCSTATE_H
#define MAIL_SYNCSTATE_H

#include "mail_store.h"

struct mail_syncstate {
	uint64_t mine;		/* the peer has our changes up to this */
	uint64_t peer;		/* we have the peer's changes up to this */
	uint64_t peer_log;	/* the peer's log id back then */
	uint64_t log_size;	/* our log's size when mine was its last
				 * record, 0 unknown: a daemon compares it
				 * with the size now to see without opening
				 * the user that the peer has everything */
};

/* The identity of the user's log: the checksum of its first record, so
 * two logs created apart never share it. 0 for an empty log. */
int	mail_user_log_id(struct mail_user *user, uint64_t *id_r,
	    struct mail_err *err) WARN_UNUSED;
/* Read the state with peer_node; *found_r false when there is none (or it
 * is unreadable: it is only a hint). */
int	mail_syncstate_get(struct mail_user *user, uint64_t peer_node,
	    struct mail_syncstate *st, bool *found_r, struct mail_err *err)
	    WARN_UNUSED;
/* True when the state with peer_node in user_dir (STORE/users/NAME)
 * says the peer has every record of the user's log as it is now; false
 * when not or unsure. Opens no user: for a daemon deciding whether a
 * change it saw needs pushing to a peer at all. */
bool	mail_syncstate_peer_has_all(const char *user_dir, uint64_t peer_node);
/* Replace the state with peer_node, durably. */
int	mail_syncstate_set(struct mail_user *user, uint64_t peer_node,
	    const struct mail_syncstate *st, struct mail_err *err) WARN_UNUSED;

#endif
