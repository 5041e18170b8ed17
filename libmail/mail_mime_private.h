/*
 * mail_mime_private.h: what the mail_mime modules share, and nothing
 * else includes. mail_mime.c builds the part tree; mail_mime_imap.c
 * writes BODYSTRUCTURE and BODY and resolves sections;
 * mail_mime_envelope.c writes ENVELOPE; mail_mime_decode.c undoes
 * transfer encodings. The public contract stays in mail_mime.h.
 */
#ifndef MAIL_MIME_PRIVATE_H
#define MAIL_MIME_PRIVATE_H

#include <stdbool.h>

#include "mail_buf.h"
#include "mail_header.h"
#include "mail_mime.h"

#define MAIL_MIME_IS_WSP(c)	((c) == ' ' || (c) == '\t')
#define MAIL_MIME_IS_SPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/* Stands in for a NULL msg of length 0, so offsets can be added to it.
 * (mail_mime.c) */
extern const uint8_t mail_mime_empty_msg[1];

/* a[0..an) equals b[0..bn), ASCII case-insensitive whatever the locale.
 * (mail_mime.c) */
bool	mail_mime_eq_n(const char *a, size_t an, const char *b, size_t bn);
/* a is not NULL and equals the C string b, as mail_mime_eq_n() compares.
 * (mail_mime.c) */
bool	mail_mime_eq(const char *a, const char *b);
/* c may stand in an RFC 2045 5.1 token: not a control, space or
 * tspecial; 8-bit bytes may. (mail_mime.c) */
bool	mail_mime_is_token(unsigned char c);
/* The quoted string at p (which is at '"'): appends its content, escapes
 * resolved, to out unless out is NULL. An unterminated string runs to
 * the end. Returns the byte after it. (mail_mime.c) */
const char *mail_mime_quoted(const char *p, struct mail_buf *out);
/* The comment at p (which is at '('), nested ones included: appends its
 * text without the outer parentheses, escapes resolved, to text unless
 * text is NULL. An unterminated comment runs to the end. Returns the byte
 * after it. (mail_mime.c) */
const char *mail_mime_comment(const char *p, struct mail_buf *text);
/* The header at msg[start, end) parsed with mail_header_parse(), whose
 * limits cut it short instead of failing: never NULL. Caller frees with
 * mail_headers_free(). (mail_mime.c) */
struct mail_headers *mail_mime_headers(const uint8_t *msg, size_t start,
	    size_t end);

/* Append s[0..n) as an IMAP string: quoted, or a literal when a byte is
 * not printable ASCII. (mail_mime_imap.c) */
void	mail_mime_put_str(struct mail_buf *out, const char *s, size_t n);
/* The same for a C string, and NIL for NULL. (mail_mime_imap.c) */
void	mail_mime_put_nstr(struct mail_buf *out, const char *s);

/* Append p[0..n) to out with every esc followed by two hex digits (either
 * case) turned into that byte; any other esc stays as it is. Percent
 * encoding (RFC 2231 4) and quoted-printable escapes (RFC 2045 6.7) both
 * read so. (mail_mime_decode.c) */
void	mail_mime_hex_unescape(const uint8_t *p, size_t n, uint8_t esc,
	    struct mail_buf *out);

#endif
