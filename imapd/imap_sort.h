/*
 * imap_sort.h: the SORT command's ordering (RFC 5256 3, RFC 5957
 * DISPLAYFROM/DISPLAYTO) and the base subject both SORT and THREAD use.
 *
 * Sort keys, each compared in ascending order unless REVERSE precedes it:
 *  - ARRIVAL: the internal date and time;
 *  - DATE: the first Date: field in UTC, or the internal date when it is
 *    missing or invalid (RFC 5256 2.2);
 *  - SIZE: RFC822.SIZE;
 *  - SUBJECT: the base subject (RFC 5256 2.1);
 *  - FROM, TO, CC: the mailbox (local part) of the field's first address,
 *    the group name when that is a group (as the ENVELOPE shows it);
 *  - DISPLAYFROM, DISPLAYTO: the decoded display name of the first
 *    address, or "mailbox@domain" when it has none (RFC 5957 3).
 * A missing field sorts as "" (first). Strings are compared with an
 * approximation of i;unicode-casemap (imap_text_sortkey(): simple case
 * folding, Latin decompositions, then code point order), which is
 * exactly i;ascii-casemap on ASCII. Messages equal on every key are in
 * ascending sequence number order, REVERSE or not (RFC 5256 3).
 */
#ifndef IMAP_SORT_H
#define IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>

#include "mail_err.h"
#include "imap_parser.h"
#include "imap_search.h"

/*
 * Sort msgs[0..n) (any order) by crit[0..n_crit). Messages are fetched
 * through env->body (once each) only if a criterion needs their header.
 * Writes the resulting order as indexes into msgs into order_r, which
 * has room for n entries. Returns 0, or -1 with err filled when a body
 * fetch failed (order_r is then undefined) or a criterion is not one of
 * enum imap_sort_key (MAIL_ERR_PARAM).
 */
int	imap_sort(const struct imap_sort_criterion *crit, size_t n_crit,
	    const struct imap_msg_info *msgs, size_t n,
	    const struct imap_search_env *env, size_t *order_r,
	    struct mail_err *err) WARN_UNUSED;

/*
 * The RFC 5256 2.1 base subject of a raw Subject value (subject[0..len),
 * NULs allowed, possibly with RFC 2047 encoded-words in any charset iconv
 * knows): encoded-words decoded, whitespace runs made one space, and
 * "Re:", "Fwd:", "[list]" leaders, "(fwd)" trailers and "[fwd: ...]"
 * wrappers removed as the RFC's algorithm says; case is kept. Returns a
 * malloc'ed UTF-8 string (invalid bytes become U+FFFD) the caller frees;
 * never NULL.
 */
char	*imap_base_subject(const char *subject, size_t len);

#endif
