/*
 * imap_thread.h: the THREAD command (RFC 5256 3): ORDEREDSUBJECT,
 * REFERENCES, and REFS (draft-ietf-morg-inthread: REFERENCES without
 * the grouping by subject, threads ordered by their newest message's
 * sent date; equal dates put threads whose root message is missing
 * first, then go by the top message's sequence number, as in Dovecot).
 *
 * Messages are read through env->body, once each. Their sent date is
 * the first Date: field in UTC, or the internal date (RFC 5256 2.2), and
 * ties are broken by sequence number. Message-IDs are the text between
 * '<' and '>' with whitespace removed, and must contain '@'; they are
 * compared byte for byte. Subjects are grouped by base subject
 * (imap_base_subject()) compared as SORT compares them.
 */
#ifndef IMAP_THREAD_H
#define IMAP_THREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "mail_buf.h"
#include "mail_err.h"
#include "imap_parser.h"
#include "imap_search.h"

/*
 * Thread msgs[0..n) (in ascending sequence order: RFC 5256 gives the
 * first of several messages with one Message-ID that ID) with alg, and
 * append the THREAD response's data to out, e.g. "(1 2)(3 (4)(5))"
 * without "* THREAD " and CRLF; nothing for n == 0. Threads are written
 * with UIDs if use_uid, else sequence numbers. Work is O(m log m) in the
 * number of messages and references, whatever the references are;
 * nothing recurses on the message data. Returns 0, or -1 with err filled
 * when a body fetch failed (out may then hold part of a result; the
 * caller discards it) or alg is not one of the three (MAIL_ERR_PARAM).
 */
int	imap_thread(enum imap_thread_alg alg, const struct imap_msg_info *msgs,
	    size_t n, const struct imap_search_env *env, bool use_uid,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;

#endif
