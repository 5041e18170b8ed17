/*
 * mail_mime.h: the MIME structure of a message (RFC 2045, 2046, 2231) and
 * what IMAP derives from it: BODYSTRUCTURE, BODY, ENVELOPE (RFC 3501
 * 7.4.2, RFC 9051 7.5.2), BODY[section] byte ranges and decoded bodies.
 *
 * mail_mime_parse() takes a whole message (CRLF or bare LF line ends) and
 * builds a tree of parts that records where each part's header and body
 * lie in the message, never copying either. Input is untrusted and the
 * parse never fails on it: a missing or broken boundary leaves one body, a
 * bad Content-Type means text/plain (RFC 2045 5.2), and the limits below
 * make deeper or further parts opaque bodies instead of errors. Work is
 * linear in the size times the nesting depth; nothing recurses.
 *
 * Sizes as IMAP reports them: IMAP sends messages with CRLF line ends, so
 * every LF not preceded by CR counts as two octets ("vsize", Dovecot's
 * virtual size; the same as RFC822.SIZE). Offsets and *_size fields are
 * physical, in msg; *_vsize fields are what FETCH shows. For a message
 * stored with CRLF line ends the two agree.
 */
#ifndef MAIL_MIME_H
#define MAIL_MIME_H

#include <stdbool.h>

#include "mail_buf.h"
#include "mail_err.h"

/* A part deeper than this (the root is at depth 0) or beyond this many
 * parts in all (the root included) is never created: the container that
 * would hold it becomes MAIL_MIME_PART_OPAQUE, and once the count is
 * reached boundaries are no longer looked for, so the last part runs to
 * the end of its message. Dovecot has the same limits. */
#define MAIL_MIME_MAX_DEPTH	100
#define MAIL_MIME_MAX_PARTS	10000

/* Part flags. */
#define MAIL_MIME_PART_TEXT	0x01 /* type "text" */
#define MAIL_MIME_PART_MULTIPART 0x02 /* type "multipart" */
#define MAIL_MIME_PART_MESSAGE	0x04 /* message/rfc822 or message/global:
				      * its one child is the embedded
				      * message (unless OPAQUE, or the
				      * header never ended) */
#define MAIL_MIME_PART_GLOBAL	0x08 /* message/global (RFC 6532) */
#define MAIL_MIME_PART_OPAQUE	0x10 /* a multipart or message the limits
				      * kept us out of: no children */
#define MAIL_MIME_PART_NO_EOH	0x20 /* the header ended at a boundary or
				      * the end of data, without the blank
				      * line; the body is empty */

/* Parameter flags. */
#define MAIL_MIME_PARAM_EXTENDED 0x01 /* RFC 2231 syntax: "name*..." */
#define MAIL_MIME_PARAM_RAW	0x02 /* value is in .charset, which could
				      * not be converted to UTF-8 */

/*
 * A parameter of Content-Type or Content-Disposition. RFC 2231 sections
 * ("title*0*", "title*1") are joined into one parameter named "title", at
 * the place of the first section; percent-encoding is decoded and the
 * value converted to UTF-8 when the charset is one mail_header knows.
 * Strings are NUL-terminated and owned by the tree.
 */
struct mail_mime_param {
	const char *name;	/* as given; "*..." suffix removed */
	const char *value;	/* unquoted; NULs become 0x80 */
	const char *charset;	/* RFC 2231 charset, or NULL */
	const char *language;	/* RFC 2231 language, or NULL */
	unsigned int flags;	/* MAIL_MIME_PARAM_* */
};

/*
 * One part. Everything is owned by the tree and lives until
 * mail_mime_free() of its root. Offsets are into the parsed msg. Header
 * and body tile the part: body_offset == hdr_offset + hdr_size. Strings
 * keep the case the message had; defaults are lowercase. An absent field
 * is NULL, an empty one "" (BODYSTRUCTURE shows NIL and "", as Dovecot);
 * the token fields (encoding, disposition, languages) are NULL or empty
 * when they hold no valid token. Content-* fields of a message header
 * (the top one or an embedded one) count only with MIME-Version or
 * Content-Type there (RFC 2045 4); the first of a repeated field wins.
 */
struct mail_mime_part {
	struct mail_mime_part *parent;	/* NULL for the root */
	struct mail_mime_part *children; /* first child, or NULL */
	struct mail_mime_part *next;	/* next sibling, or NULL */
	unsigned int depth;		/* root 0 */
	unsigned int flags;		/* MAIL_MIME_PART_* */

	size_t	 hdr_offset;		/* first byte of the part */
	size_t	 hdr_size;		/* header with its blank line */
	size_t	 hdr_vsize;
	size_t	 body_offset;
	size_t	 body_size;		/* up to the line end before the
					 * next boundary, or the end */
	size_t	 body_vsize;		/* the BODYSTRUCTURE size */
	size_t	 body_lines;		/* LFs in the body (Dovecot counts
					 * so: a last line without one does
					 * not count) */

	const char *type;		/* "text" if absent or invalid;
					 * "message" in multipart/digest */
	const char *subtype;		/* "plain"; "rfc822" in a digest */
	const struct mail_mime_param *params;	/* Content-Type's */
	size_t	 nparams;
	const char *id;			/* Content-ID */
	const char *description;	/* Content-Description, raw */
	const char *encoding;		/* Content-Transfer-Encoding token */
	const char *md5;		/* Content-MD5 */
	const char *disposition;	/* Content-Disposition type */
	const struct mail_mime_param *disp_params;
	size_t	 ndisp_params;
	const char *const *languages;	/* Content-Language tags */
	size_t	 nlanguages;
	const char *location;		/* Content-Location */
};

/*
 * Parse msg (len bytes; msg may be NULL when len is 0) into a tree of
 * parts. Multipart bodies are split per RFC 2046 5.1: a boundary line
 * starts with "--" and the boundary (the rest of the line may hold
 * anything, as the RFC's note to implementors says); when several open
 * multiparts' boundaries match, the longest wins, then the innermost. A
 * line matching an outer boundary also ends the inner multiparts (a
 * missing close delimiter). message/rfc822 and message/global bodies are
 * parsed as messages. Returns 0 and sets *root_r (caller owns; free with
 * mail_mime_free()); the tree does not point into msg, but offsets refer
 * to it, so keep msg for the other calls here. Never fails on content;
 * err is for future limits and is left untouched today.
 */
int	mail_mime_parse(const uint8_t *msg, size_t len,
	    struct mail_mime_part **root_r, struct mail_err *err) WARN_UNUSED;
/* Free the tree of a root from mail_mime_parse(). NULL-safe; sets *rootp
 * = NULL. Pointers to any part of the tree die with it. */
void	mail_mime_free(struct mail_mime_part **rootp);

/* The first Content-Type parameter called name (ASCII case-insensitive);
 * an RFC 2231 one wins over a plain one of the same name. NULL if none.
 * Borrowed from the tree. */
const struct mail_mime_param *mail_mime_param_get(
	    const struct mail_mime_part *part, const char *name);
/* True when part's type/subtype is type/subtype (ASCII case-insensitive;
 * subtype NULL matches any). */
bool	mail_mime_part_is(const struct mail_mime_part *part,
	    const char *type, const char *subtype);

/* Flags for mail_mime_bodystructure(). */
#define MAIL_MIME_BS_EXTENDED	0x01 /* BODYSTRUCTURE; else BODY */
#define MAIL_MIME_BS_IMAP4REV2	0x02 /* message/global has envelope and
				      * body (RFC 9051); else it is a basic
				      * body, as RFC 3501 has it */

/*
 * Append the BODYSTRUCTURE (or BODY) of part (normally the root; msg as
 * given to mail_mime_parse()) to out, without the FETCH item name.
 * Strings are quoted when all bytes are printable ASCII ('"' and '\'
 * escaped), else sent as literals {n}CRLF. Types, subtypes and parameter
 * names keep the message's case; defaults are lowercase: "text" "plain"
 * ("charset" "us-ascii") and "7bit", and a text part without a charset
 * parameter gets ("charset" "us-ascii") appended, as Dovecot does. An RFC
 * 2231 parameter goes out as name "value" when its value is plain ASCII,
 * else as name* "utf-8''percent-encoded" (or its original charset when
 * that could not be converted). Sizes are vsizes. Parts the limits made
 * OPAQUE are shown as "application" "octet-stream" with their parameters,
 * and a multipart without children gets an empty text/plain child (both
 * as Dovecot does). Never fails.
 */
void	mail_mime_bodystructure(const uint8_t *msg,
	    const struct mail_mime_part *part, unsigned int flags,
	    struct mail_buf *out);

/*
 * Append the ENVELOPE of the message whose header is part's to out: pass
 * the root, or the child of a message/rfc822 part for the embedded
 * message. Values are unfolded (RFC 5322 2.2.3: line ends go, the
 * whitespace stays) and trimmed; encoded words are left as they are. As
 * Dovecot, the last of a repeated date, subject, in-reply-to or
 * message-id wins and repeated address fields add up. Sender and Reply-To
 * default to From when absent or empty (RFC 3501 7.4.2). Addresses follow
 * RFC 5322 with its obsolete syntax (routes, comments, groups, quoted
 * local parts) and recover from common breakage (a missing comma, an
 * unquoted address as display name); a group is (NIL NIL "name" NIL) ...
 * (NIL NIL NIL NIL), the name of a bare addr-spec is its last comment,
 * and a missing local part or domain is "MISSING_MAILBOX" /
 * "MISSING_DOMAIN" (Dovecot's words; a NIL host would mean a group).
 * Never fails.
 */
void	mail_mime_envelope(const uint8_t *msg,
	    const struct mail_mime_part *part, struct mail_buf *out);

enum mail_mime_section_kind {
	MAIL_MIME_SECTION_ALL,		/* "": the whole message */
	MAIL_MIME_SECTION_BODY,		/* "1.2": a part's body */
	MAIL_MIME_SECTION_MIME,		/* "1.2.MIME": a part's header */
	MAIL_MIME_SECTION_HEADER,	/* "HEADER", "1.HEADER" */
	MAIL_MIME_SECTION_HEADER_FIELDS, /* range is the whole header */
	MAIL_MIME_SECTION_HEADER_FIELDS_NOT,
	MAIL_MIME_SECTION_TEXT,		/* "TEXT", "1.TEXT" */
};

struct mail_mime_section {
	enum mail_mime_section_kind kind;
	const struct mail_mime_part *part; /* whose header or body it is */
	size_t	 offset;		/* physical range in msg */
	size_t	 size;
	size_t	 vsize;			/* its size as IMAP sends it */
	const char *fields;		/* HEADER.FIELDS[.NOT]: the rest of
					 * the section string after the
					 * keyword, e.g. " (From To)";
					 * else NULL */
};

/*
 * Resolve an IMAP section spec (what stands between the brackets of
 * BODY[...]; keywords in any case) to a byte range, per RFC 3501 6.4.5:
 * part numbers index a multipart's children; after a message/rfc822 part
 * they index the embedded message's multipart, or "1" is its only part;
 * a message that is not multipart has part 1, its body. HEADER, TEXT and
 * HEADER.FIELDS apply to the top message or a message/rfc822 part; MIME
 * needs a part number. The range is a slice of msg (root from msg by
 * mail_mime_parse()), so a caller can serve <partial> without copying
 * when vsize == size, and with mail_mime_append_crlf() otherwise. For
 * HEADER.FIELDS the caller parses ->fields and uses
 * mail_mime_header_fields(). Returns 0 and fills *sec_r (pointers
 * borrowed from root and section), or -1 with MAIL_ERR_PARAM for a
 * malformed spec (IMAP BAD) or MAIL_ERR_NOTFOUND for one this message
 * lacks (a part number too high, HEADER of a non-message part; Dovecot
 * answers those with an empty string).
 */
int	mail_mime_section(const uint8_t *msg,
	    const struct mail_mime_part *root, const char *section,
	    struct mail_mime_section *sec_r, struct mail_err *err)
	    WARN_UNUSED;

/*
 * Append bytes [vstart, vstart + vlen) of msg[offset, offset + size) as
 * IMAP sends them, every LF not preceded by CR turned into CRLF; vstart
 * and vlen count in that form and are clipped to it. msg is the whole
 * message (the byte before offset decides whether a first LF is bare).
 */
void	mail_mime_append_crlf(const uint8_t *msg, size_t offset, size_t size,
	    uint64_t vstart, uint64_t vlen, struct mail_buf *out);

/*
 * BODY[HEADER.FIELDS (names)] and .NOT: append the fields of the header
 * section msg[offset, offset + size) whose names are (with not: are not)
 * among names[0..n) (ASCII case-insensitive), each whole with its folded
 * lines, in message order, with CRLF line ends, then the empty line that
 * RFC 3501 6.4.5 includes even when nothing matched. Lines without a
 * colon are no fields and never copied.
 */
void	mail_mime_header_fields(const uint8_t *msg, size_t offset,
	    size_t size, const char *const *names, size_t n, bool not,
	    struct mail_buf *out);

/*
 * Append part's body decoded from its Content-Transfer-Encoding, for
 * IMAP BINARY (RFC 3516) and SEARCH: base64 (bytes outside the alphabet
 * are skipped, '=' ends a quantum), quoted-printable (a bad '=' escape
 * stays as it is, trailing whitespace goes, line breaks become CRLF), and
 * 7bit, 8bit, binary or none as the bytes are with bare LFs as CRLF.
 * Returns 0, or -1 with MAIL_ERR_PARAM and out untouched for any other
 * encoding (BINARY answers NO [UNKNOWN-CTE]).
 */
int	mail_mime_decode_body(const uint8_t *msg,
	    const struct mail_mime_part *part, struct mail_buf *out,
	    struct mail_err *err) WARN_UNUSED;
/* The two decoders on their own, with the rules above; never fail. */
void	mail_mime_decode_base64(const uint8_t *p, size_t n,
	    struct mail_buf *out);
void	mail_mime_decode_qp(const uint8_t *p, size_t n, struct mail_buf *out);

#endif
