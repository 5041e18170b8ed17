/*
 * mail_dump.h: the canonical text of everything about a user that
 * replicates. Two stores that converged print the same dump; node-local
 * values (modseqs, keyword table order, log offsets) are left out
 * (modseqs unless asked for: MAIL_DUMP_LOCAL).
 */
#ifndef MAIL_DUMP_H
#define MAIL_DUMP_H

#include "mail_state.h"

/* Append the dump of st (of user name) to out. Deleted mailboxes,
 * unsubscribed names and removed metadata and ACL entries are left out. */
void	mail_dump_state(const char *user, const struct mail_state *st,
	    struct mail_buf *out);

enum mail_dump_flags {
	/* also what only replication sees: deleted mailboxes, tombstones,
	 * used UIDs, unsubscribed names, removed metadata and ACL entries,
	 * and the (hlc, node) clock of every item. Equal for equal states,
	 * not necessarily on nodes that converged (a UID a message had is
	 * used only where it was known, say) */
	MAIL_DUMP_CLOCKS = 1 << 0,
	/* also node-local values: modseqs, the state's HLC and last
	 * UIDVALIDITY. Equal only for the same log: "check" compares a
	 * snapshot with a replay of the log by it */
	MAIL_DUMP_LOCAL = 1 << 1,
};
/* mail_dump_state() with more (flags: enum mail_dump_flags): the flags
 * add fields at the end of lines, and lines of their own. */
void	mail_dump_state_flags(const char *user, const struct mail_state *st,
	    unsigned flags, struct mail_buf *out);
/* Append s (n bytes) quoted: "..." with \\, \", \n, \r, \t and \xHH for
 * other bytes outside printable ASCII. */
void	mail_dump_quote(struct mail_buf *out, const void *s, size_t n);

#endif
