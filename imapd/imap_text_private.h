/*
 * imap_text_private.h: the text handling that SEARCH, SORT and THREAD
 * share inside libimapd (imap_text.c). Not for the server: it uses
 * imap_search.h, imap_sort.h and imap_thread.h.
 *
 * Everything here takes untrusted message bytes and never fails on them:
 * what cannot be decoded is passed on as the raw bytes, so a search can
 * still match it and nothing is lost.
 */
#ifndef IMAP_TEXT_PRIVATE_H
#define IMAP_TEXT_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "mail_buf.h"
#include "mail_header.h"

/* ---- case folding ---- */

/* The simple case folding (Unicode CaseFolding.txt, status C and S) of
 * code point cp; cp itself when it has none. All of Unicode 14 is covered
 * (Latin, Greek, Cyrillic, Armenian, Georgian, Cherokee, Glagolitic,
 * Deseret, fullwidth forms, ...); full foldings that change the length
 * ("ß" to "ss") are not applied. */
uint32_t imap_text_fold_cp(uint32_t cp);

/*
 * Append the folded form of p[0..n) to out, for substring search: each
 * character case folded, then canonically decomposed (NFD) when it is in
 * U+00C0..U+04FF or U+1E00..U+1EFF (Latin, Greek, Cyrillic, Vietnamese),
 * so "é" becomes "e" + U+0301: a search for "zoe" finds "Zoë", as
 * i;unicode-casemap (RFC 5051, which decomposes all of Unicode) does.
 * Valid UTF-8 sequences are folded; every byte of an invalid sequence
 * (bad lead, overlong form, surrogate, truncation) is copied as it is, so
 * raw 8-bit text still matches itself, and a valid UTF-8 needle can never
 * match across such bytes (UTF-8 synchronizes).
 */
void	imap_text_fold(const uint8_t *p, size_t n, struct mail_buf *out);

/* Append the sort key of text p[0..n) to out: imap_text_fold(), then
 * ASCII letters upper-cased, so plain ASCII compares exactly as
 * i;ascii-casemap (RFC 4790) does and accented letters sort with their
 * base letter. Comparing keys with memcmp() gives code point order. */
void	imap_text_sortkey(const uint8_t *p, size_t n, struct mail_buf *out);

/* Append p[0..n) to out with every invalid UTF-8 sequence (and NUL)
 * replaced by U+FFFD, for strings that are promised to be UTF-8. */
void	imap_text_sanitize(const uint8_t *p, size_t n, struct mail_buf *out);

/* ---- charsets ---- */

#define IMAP_TEXT_CONV_SLOTS	4
#define IMAP_TEXT_CHARSET_MAX	40	/* longer names are unknown */

/* Open iconv descriptors for the charsets met while handling one message
 * (or one command); descriptors are opened on first use. Initialize
 * with imap_text_conv_init(), free with imap_text_conv_free(). */
struct imap_text_conv {
	unsigned n;
	struct {
		char	 name[IMAP_TEXT_CHARSET_MAX + 1]; /* lower case */
		void	*cd;		/* iconv_t, or NULL: iconv knows
					 * no such charset */
	} slot[IMAP_TEXT_CONV_SLOTS];
};

void	imap_text_conv_init(struct imap_text_conv *c);
/* Close every descriptor; c may be initialized again. */
void	imap_text_conv_free(struct imap_text_conv *c);

/*
 * Append p[0..n), text in charset (len bytes of name, not necessarily
 * NUL-terminated; NULL or "" for none), to out as UTF-8. UTF-8 and ASCII
 * (and no charset) are copied as they are, ISO-8859-1 is converted here,
 * any other charset by iconv. A charset iconv does not know, or a byte
 * sequence it cannot convert, is copied raw (conversion goes on after
 * the bad byte). Never fails.
 */
void	imap_text_to_utf8(struct imap_text_conv *c, const char *charset,
	    size_t charset_len, const uint8_t *p, size_t n,
	    struct mail_buf *out);

/*
 * Append header value (NUL-terminated, as mail_header_field.value:
 * unfolded) to out with RFC 2047 encoded-words decoded into UTF-8 in any
 * charset iconv knows. Whitespace between two adjacent encoded-words is
 * dropped, and adjacent words in the same charset are joined before
 * conversion so a character split between them survives. Words that are
 * malformed or in an unknown charset stay as they are; other text is
 * copied as it is (8-bit bytes included).
 */
void	imap_text_decode_words(struct imap_text_conv *c, const char *value,
	    struct mail_buf *out);

/* ---- headers ---- */

/*
 * Parse the header of msg[0..len) with mail_header_parse(), never
 * failing: a header over mail_header's limits is parsed from ever shorter
 * prefixes (halving) until the parse succeeds, so the fields at its start
 * still count. Returns the headers (caller frees with
 * mail_headers_free()).
 */
struct mail_headers *imap_text_headers(const uint8_t *msg, size_t len);

/* The sent date of a message for SORT DATE and THREAD (RFC 5256 2.2): the
 * first Date: field in UTC, or idate when it is missing or unparseable. */
int64_t	imap_text_sent_date(const struct mail_headers *h, int64_t idate);

/* The calendar date a Date: value was written with, time and zone
 * disregarded (RFC 3501 SENTBEFORE/SENTON/SENTSINCE), as days since
 * 1970-01-01. Returns false if value is not a valid date. */
bool	imap_text_date_written(const char *value, int64_t *days_r);

/* Days since 1970-01-01 of y-m-d (proleptic Gregorian). */
int64_t	imap_text_days_from_civil(int y, int m, int d);

/* ---- addresses ---- */

/* The first address of an address-list header (RFC 5322 3.4, obsolete
 * forms and common breakage included), as the IMAP ENVELOPE has it. */
struct imap_text_addr {
	bool	 found;		/* false: no address at all */
	bool	 group;		/* a group: mailbox is its display name,
				 * name and domain are empty */
	struct mail_buf name;	/* display-name (quotes removed, encoded
				 * words not yet decoded); for a bare
				 * addr-spec its last comment */
	struct mail_buf mailbox; /* local part, quotes removed */
	struct mail_buf domain;	/* empty if missing */
};

/* Fill a from value (NUL-terminated, unfolded). a's buffers must be
 * initialized (MAIL_BUF_INIT) and are reset first; the caller frees them
 * (imap_text_addr_free()). Never fails. */
void	imap_text_first_addr(const char *value, struct imap_text_addr *a);
void	imap_text_addr_free(struct imap_text_addr *a);

/* ---- from imap_sort.c ---- */

/*
 * The RFC 5256 2.1 base subject of a Subject value (NUL-terminated, as
 * mail_header_field.value), encoded-words decoded with c, as a malloc'ed
 * UTF-8 string (caller frees); see imap_base_subject(). If refwd_r is not
 * NULL, sets it to whether the subject marked a reply or forward: a
 * subj-refwd leader ("Re:", "Fwd:"), a "(fwd)" trailer or a "[fwd: ...]"
 * wrapper was removed (RFC 5256 REFERENCES step 5).
 */
char	*imap_sort_base_subject(struct imap_text_conv *c, const char *value,
	    bool *refwd_r);

#endif
