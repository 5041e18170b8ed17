/*
 * imap_search.h: evaluating IMAP SEARCH keys (RFC 3501 / RFC 9051 6.4.4,
 * RFC 5032 WITHIN, RFC 5182 "$", RFC 7162 MODSEQ, RFC 8514 SAVEDATE)
 * against one message at a time, independent of the server and the
 * store.
 *
 * The server describes each message with struct imap_msg_info (what its
 * index knows) and, only when a key needs the message's header or body,
 * lets this module read the raw bytes through a callback. Keys come from
 * imap_parser.h as a tree (struct imap_search_key).
 *
 * Semantics worth knowing:
 *  - Text keys (BCC, BODY, CC, FROM, SUBJECT, TEXT, TO, HEADER) are
 *    case-insensitive substring matches on UTF-8, after decoding: header
 *    values with RFC 2047 encoded-words decoded (any charset iconv knows),
 *    unfolded; BODY over the parts of type text (transfer encoding
 *    undone, converted from their charset); TEXT over that plus the
 *    message header, every MIME part header and the headers of attached
 *    messages. Case-insensitivity is Unicode simple case folding plus
 *    canonical decomposition of Latin letters, without locale
 *    (imap_text_private.h), so "zoe" finds "Zoë" as i;unicode-casemap
 *    (RFC 5051) and Dovecot have it. What cannot be
 *    decoded (an unknown charset, invalid bytes) is searched as the raw
 *    bytes. An empty
 *    string matches every message for BODY and TEXT, and the messages
 *    having the field for the header keys (RFC 9051 HEADER).
 *  - Address keys (FROM, TO, CC, BCC) search the decoded field text,
 *    display names and addresses alike.
 *  - BEFORE/ON/SINCE compare the internal date's day in the server's zone
 *    (env->tz_offset_min); SENTBEFORE/SENTON/SENTSINCE the date written in
 *    the first Date: field, time and zone disregarded (RFC 3501), or the
 *    internal date's day when there is no valid Date:; SAVEDBEFORE/
 *    SAVEDON/SAVEDSINCE the save date's day in the server's zone.
 *  - imapd has no \Recent (RFC 9051 removed it): RECENT and NEW match no
 *    message, OLD every message.
 *  - OLDER n matches messages whose internal date is at least n seconds
 *    before env->now, YOUNGER n the others, so the two are complements.
 *  - MODSEQ matches m->modseq >= n; the optional entry name and type
 *    (RFC 7162 3.1.5) are ignored: a message has one modseq here.
 *  - KEYWORD and UNKEYWORD compare keywords ASCII case-insensitively.
 *  - Sequence sets: 0 in a range stands for '*' (env->max_seq or
 *    env->max_uid), ranges may be reversed, and "$" (set.saved) means
 *    the UIDs in env->saved (none if NULL), for UID and sequence keys.
 *  - Malformed messages never fail a search; they may just not match.
 */
#ifndef IMAP_SEARCH_H
#define IMAP_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "mail_err.h"
#include "mail_uidset.h"
#include "imap_parser.h"

/* What the server knows of one message, without its body. Borrowed for
 * the duration of each call. */
struct imap_msg_info {
	uint32_t seq, uid;
	uint16_t flags;			/* MAIL_* bits of mail_flags.h as
					 * this viewer sees them */
	size_t	 n_keywords;
	const char *const *keywords;	/* the message's keywords */
	int64_t	 idate;			/* internal date, unix seconds */
	int64_t	 sdate;			/* save date (RFC 8514); 0:
					 * unknown */
	uint64_t size;			/* RFC822.SIZE */
	uint64_t modseq;
};

/* Fetch the raw message bytes of uid (CRLF or LF line ends). The bytes
 * are borrowed until the next call. Returns 0, or -1 with err filled
 * (the search then fails with that error). */
typedef int imap_msg_body_fn(void *ctx, uint32_t uid, const uint8_t **data_r,
    size_t *len_r, struct mail_err *err);

/* The mailbox around the messages; borrowed for each call. */
struct imap_search_env {
	uint32_t max_seq, max_uid;	/* what '*' means */
	const struct mail_uidset *saved; /* "$" (RFC 5182): the UIDs of
					 * the last SEARCH SAVE; NULL if
					 * none */
	int64_t	 now;			/* for OLDER/YOUNGER (RFC 5032) */
	int	 tz_offset_min;		/* the server's zone (minutes east
					 * of UTC) for the days of internal
					 * and save dates; 0 = UTC */
	imap_msg_body_fn *body;		/* may be NULL if no key needs the
					 * body (imap_search_needs_body) */
	void	*body_ctx;
};

/* Check a SEARCH, SORT or THREAD charset: NULL, "UTF-8" and "US-ASCII"
 * (any case) return 0; others return -1 with MAIL_ERR_PARAM and a message
 * suitable after "NO [BADCHARSET (UTF-8 US-ASCII)] ". */
int	imap_search_charset_check(const char *charset, struct mail_err *err)
	    WARN_UNUSED;

/* True if evaluating keys needs the message's header or body, so the
 * server fetches message bytes only then. keys may be NULL (false). */
bool	imap_search_needs_body(const struct imap_search_key *keys);

/*
 * Does message m match keys (a tree as the parser gives it, normally an
 * IMAP_SK_AND)? Keys that need no message bytes are tried first, so the
 * body is fetched only when the rest of the search still depends on it;
 * it is fetched and parsed at most once per call. Returns 0 and sets
 * *match_r, or -1 with err filled when env->body failed (or is NULL
 * while needed: MAIL_ERR_INTERNAL). The tree's depth is bounded by the
 * parser (max_search_depth); evaluation recurses on it.
 */
int	imap_search_match(const struct imap_search_key *keys,
	    const struct imap_search_env *env, const struct imap_msg_info *m,
	    bool *match_r, struct mail_err *err) WARN_UNUSED;

#endif
