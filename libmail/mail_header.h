/*
 * mail_header.h: the header section of an RFC 5322 message.
 *
 * mail_header_parse() splits the bytes before the first empty line into
 * fields. Input is untrusted: it may hold NULs, 8-bit bytes, LF or CRLF
 * line ends, or no blank line at all. Malformed lines never fail the parse;
 * they are kept and flagged (see MAIL_HEADER_FIELD_*). Only the limits below
 * fail it. The parser is one-shot over a complete buffer and runs in linear
 * time, so a caller reading a stream can reparse a longer prefix; every
 * field that was complete in the shorter prefix comes out the same.
 *
 * The helpers decode RFC 2047 encoded-words and RFC 5322 dates found in
 * field values.
 */
#ifndef MAIL_HEADER_H
#define MAIL_HEADER_H

#include <stdbool.h>

#include "mail_err.h"

/* Limits; going over either fails the parse with MAIL_ERR_LIMIT. */
#define MAIL_HEADER_MAX_FIELDS	10000
#define MAIL_HEADER_MAX_SIZE	(1024 * 1024) /* fields + blank line */

/* Field flags: what was wrong with a line, for callers that care. */
#define MAIL_HEADER_FIELD_NO_COLON	0x01 /* first line has no ':' */
#define MAIL_HEADER_FIELD_BAD_NAME	0x02 /* empty name, WSP around it,
					      * or bytes outside RFC 5322
					      * ftext */
#define MAIL_HEADER_FIELD_HAS_NULS	0x04 /* NUL bytes in the field */
#define MAIL_HEADER_FIELD_NO_NEWLINE	0x08 /* data ended inside it */

struct mail_headers;		/* opaque, defined in mail_header.c */

/*
 * One header field. Every pointer is owned by the struct mail_headers it
 * came from and lives until mail_headers_free(). Offsets are byte offsets
 * into the msg passed to mail_header_parse().
 */
struct mail_header_field {
	const char *name;	/* NUL-terminated; WSP around it removed,
				 * NULs replaced by 0x80 (as Dovecot does);
				 * the whole first line when NO_COLON */
	const char *value;	/* unfolded (CRLF/LF before WSP dropped),
				 * leading and trailing WSP trimmed, NULs
				 * replaced by 0x80; NUL-terminated */
	const uint8_t *raw_value; /* the bytes after ':' up to the field's
				 * final line end (excluded): folding kept,
				 * may hold NULs, not NUL-terminated */
	size_t	 raw_value_len;
	size_t	 offset;	/* first byte of the field */
	size_t	 size;		/* whole field with its final line end */
	size_t	 value_offset;	/* of raw_value */
	unsigned int flags;	/* MAIL_HEADER_FIELD_* */
};

/*
 * Parse the header section of msg (len bytes; msg may be NULL when len is
 * 0). Fields run up to the first empty line or the end of data. Returns 0
 * and sets *hdrs_r (caller owns; free with mail_headers_free()); the
 * result does not point into msg, which the caller may free. Returns -1,
 * sets *hdrs_r = NULL and fills *err with MAIL_ERR_LIMIT when there are
 * more than MAIL_HEADER_MAX_FIELDS fields or the section is longer than
 * MAIL_HEADER_MAX_SIZE bytes.
 */
int	mail_header_parse(const uint8_t *msg, size_t len,
	    struct mail_headers **hdrs_r, struct mail_err *err) WARN_UNUSED;
/* Free everything, field strings included. NULL-safe; sets *hp = NULL. */
void	mail_headers_free(struct mail_headers **hp);

/* Number of fields, malformed ones included. */
size_t	mail_header_count(const struct mail_headers *h);
/* Field i in message order, or NULL if i >= mail_header_count(). Borrowed
 * from h. */
const struct mail_header_field *mail_header_field(const struct mail_headers *h,
	    size_t i);
/*
 * The value of the first field called name (ASCII case-insensitive),
 * unfolded and trimmed, or NULL if there is none. Fields without a colon
 * never match. Borrowed from h.
 */
const char *mail_header_get(const struct mail_headers *h, const char *name);

/* Bytes of the fields, without the blank line that ends them. */
size_t	mail_header_size(const struct mail_headers *h);
/* Offset of the first body byte: mail_header_size() plus the blank line
 * (0, 1 or 2 bytes). Equals the input length when there is no blank line. */
size_t	mail_header_body_offset(const struct mail_headers *h);
/* Whether the empty line ending the header section was seen. */
bool	mail_header_has_eoh(const struct mail_headers *h);

/*
 * Decode RFC 2047 encoded-words in a header value into UTF-8. B and Q
 * encodings; charsets utf-8, us-ascii, iso-8859-1 and windows-1252 (with
 * their usual aliases). Whitespace between two encoded-words is dropped
 * and their bytes are joined before conversion, so a character split over
 * two words survives. Words that are malformed or in another charset are
 * copied as they are. The result is always valid UTF-8: invalid sequences
 * (in the text or a decoded word) become U+FFFD, and so do decoded NULs.
 * Returns a NUL-terminated string the caller frees; never NULL.
 */
char	*mail_header_decode_words(const char *value);

/*
 * Parse an RFC 5322 date-time, obsolete forms included: day-of-week is
 * optional, seconds are optional, 2- and 3-digit years (RFC 5322 4.3),
 * comments anywhere, and named zones (UT, GMT, EST, PDT, ...). Unknown
 * alphabetic zones and a missing zone count as +0000. A word after a
 * numeric zone ("+0200 CEST") is ignored. Returns 0 and sets *unixtime_r
 * (seconds since the epoch, UTC), or -1 if value is not a valid date.
 */
int	mail_header_parse_date(const char *value, int64_t *unixtime_r)
	    WARN_UNUSED;

#endif
