/*
 * mail_dump.h: the canonical text of everything about a user that
 * replicates. Two stores that converged print the same dump; node-local
 * values (modseqs, keyword table order, log offsets) are left out.
 */
#ifndef MAIL_DUMP_H
#define MAIL_DUMP_H

#include "mail_state.h"

/* Append the dump of st (of user name) to out. */
void	mail_dump_state(const char *user, const struct mail_state *st,
	    struct mail_buf *out);
/* Append s (n bytes) quoted: "..." with \\, \", \n, \r, \t and \xHH for
 * other bytes outside printable ASCII. */
void	mail_dump_quote(struct mail_buf *out, const void *s, size_t n);

#endif
