/*
 * mail_uidset.h: IMAP sequence sets of UIDs ("1:5,9,12:*"), normalized to
 * sorted, non-overlapping ranges.
 */
#ifndef MAIL_UIDSET_H
#define MAIL_UIDSET_H

#include <stdbool.h>
#include "mail_err.h"
#include "mail_buf.h"

struct mail_uid_range {
	uint32_t lo, hi;	/* inclusive, lo <= hi, lo >= 1 */
};

struct mail_uidset {
	struct mail_uid_range *r;	/* sorted, disjoint, not adjacent */
	size_t	 n, cap;
};

#define MAIL_UIDSET_INIT { NULL, 0, 0 }

/* Parse an IMAP sequence-set (RFC 9051 sequence-set) where "*" stands for
 * star (the highest UID in use; 0 for an empty mailbox makes "*" match
 * nothing). Appends to set. Returns 0, or -1 with MAIL_ERR_PARAM naming
 * the bad text. */
int	mail_uidset_parse(const char *s, uint32_t star, struct mail_uidset *set,
	    struct mail_err *err) WARN_UNUSED;
/* Add lo..hi (any order), keeping the set normalized. */
void	mail_uidset_add(struct mail_uidset *set, uint32_t lo, uint32_t hi);
bool	mail_uidset_contains(const struct mail_uidset *set, uint32_t uid);
/* Number of UIDs in the set. */
uint64_t mail_uidset_count(const struct mail_uidset *set);
/* Append "1:5,9" form to out. */
void	mail_uidset_format(const struct mail_uidset *set, struct mail_buf *out);
void	mail_uidset_free(struct mail_uidset *set);

#endif
