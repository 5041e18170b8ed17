/*
 * mail_mime_decode.c: undoing Content-Transfer-Encoding (RFC 2045 6) for
 * IMAP BINARY (RFC 3516) and SEARCH: base64, quoted-printable, and the
 * identity encodings with the CRLF conversion IMAP applies. The decoders
 * take bytes as they are in the message and never fail on them: junk in
 * base64 is skipped and a bad quoted-printable escape stays as it is.
 */
#include <string.h>

#include "mail_mime_private.h"

void
mail_mime_hex_unescape(const uint8_t *p, size_t n, uint8_t esc,
    struct mail_buf *out)
{
	int hi, lo;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == esc && i + 2 < n &&
		    (hi = mail_hex_value((char)p[i + 1])) >= 0 &&
		    (lo = mail_hex_value((char)p[i + 2])) >= 0) {
			mail_buf_put_u8(out, (uint8_t)(hi << 4 | lo));
			i += 2;
		} else
			mail_buf_put_u8(out, p[i]);
	}
}

void
mail_mime_decode_base64(const uint8_t *p, size_t n, struct mail_buf *out)
{
	uint32_t acc = 0;
	unsigned int bits = 0;
	int v;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=') {
			/* padding: the quantum is over; whatever bits are
			 * left are padding too. More data may follow (some
			 * mailers concatenate encoded blocks). */
			acc = 0;
			bits = 0;
			continue;
		}
		if ((v = mail_base64_value((char)p[i], '/')) < 0)
			continue;	/* line ends and junk */
		acc = ((acc << 6) | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			mail_buf_put_u8(out, (uint8_t)(acc >> bits));
		}
	}
}

void
mail_mime_decode_qp(const uint8_t *p, size_t n, struct mail_buf *out)
{
	size_t i = 0, ce, te, next;
	const uint8_t *nl;
	bool soft;

	while (i < n) {
		nl = memchr(p + i, '\n', n - i);
		ce = nl != NULL ? (size_t)(nl - p) : n;
		next = nl != NULL ? ce + 1 : n;
		if (nl != NULL && ce > i && p[ce - 1] == '\r')
			ce--;
		/* RFC 2045 6.7 (3): trailing whitespace was added in
		 * transport and goes; (5): "=" at the end is a soft break. */
		te = ce;
		while (te > i && MAIL_MIME_IS_WSP(p[te - 1]))
			te--;
		soft = te > i && p[te - 1] == '=';
		if (soft)
			te--;
		/* (1): "=XX" is a byte; a bad escape stays as it is */
		mail_mime_hex_unescape(p + i, te - i, '=', out);
		if (nl != NULL && !soft)
			mail_buf_append_str(out, "\r\n");
		i = next;
	}
}

/*
 * RFC 2045 6.1: 7bit, 8bit and binary are identities, and an absent field
 * means 7bit. Those bodies go through the CRLF conversion so BINARY and
 * BODY agree on a message stored with LF line ends; base64 yields bytes,
 * which are not converted.
 */
int
mail_mime_decode_body(const uint8_t *msg, const struct mail_mime_part *part,
    struct mail_buf *out, struct mail_err *err)
{
	const char *e = part->encoding;

	if (msg == NULL)
		msg = mail_mime_empty_msg;
	if (e == NULL || mail_mime_eq(e, "7bit") || mail_mime_eq(e, "8bit") ||
	    mail_mime_eq(e, "binary"))
		mail_mime_append_crlf(msg, part->body_offset, part->body_size,
		    0, UINT64_MAX, out);
	else if (mail_mime_eq(e, "base64"))
		mail_mime_decode_base64(msg + part->body_offset,
		    part->body_size, out);
	else if (mail_mime_eq(e, "quoted-printable"))
		mail_mime_decode_qp(msg + part->body_offset, part->body_size,
		    out);
	else
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "unknown content-transfer-encoding '%s'", e);
	return 0;
}
