/*
 * mail_mime_imap.c: the IMAP views of a MIME part tree: BODYSTRUCTURE and
 * BODY strings, section specs resolved to byte ranges of the message,
 * <partial> windows with the CRLF conversion IMAP sizes assume, and
 * HEADER.FIELDS filtering. Nothing here allocates beyond the output
 * buffer, and nothing recurses: the tree may be MAIL_MIME_MAX_DEPTH deep.
 *
 * BODYSTRUCTURE, RFC 3501 7.4.2 / RFC 9051 7.5.2, in short:
 *   basic:     (type subtype params id desc enc size [ext-1part])
 *   text:      (type subtype params id desc enc size lines [ext-1part])
 *   message:   (type subtype params id desc enc size envelope body lines
 *              [ext-1part])
 *   multipart: (body body ... subtype [params disposition language
 *              location])
 *   ext-1part: md5 disposition language location
 * BODY is the same without the bracketed extension data. The writer
 * walks the tree depth first: a multipart or message is opened on the way
 * down and closed on the way up. The envelope of a message part comes
 * from mail_mime_envelope.c.
 */
#include <string.h>

#include "mail_mime_private.h"

/* ---- IMAP strings ---- */

/* Whether every byte of s[0..n) is printable ASCII. */
static bool
mime_is_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	}
	return true;
}

/* A literal (RFC 3501 4.3) also carries 8-bit text and control
 * characters safely. Dovecot does the same but also sends strings with
 * '"' or '\' as literals; escaping them is as valid. */
void
mail_mime_put_str(struct mail_buf *out, const char *s, size_t n)
{
	if (!mime_is_printable(s, n)) {
		mail_buf_printf(out, "{%zu}\r\n", n);
		mail_buf_append(out, s, n);
		return;
	}
	mail_buf_put_u8(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			mail_buf_put_u8(out, '\\');
		mail_buf_put_u8(out, (uint8_t)s[i]);
	}
	mail_buf_put_u8(out, '"');
}

void
mail_mime_put_nstr(struct mail_buf *out, const char *s)
{
	if (s == NULL)
		mail_buf_append_str(out, "NIL");
	else
		mail_mime_put_str(out, s, strlen(s));
}

/* ---- BODYSTRUCTURE and BODY ---- */

/* One parameter. An RFC 2231 value that plain quoting cannot carry goes
 * out in RFC 2231 form again, re-encoded from the decoded value, so a
 * client decodes it one way whatever continuations the sender used. */
static void
mime_put_param(struct mail_buf *out, const struct mail_mime_param *p)
{
	struct mail_buf v = MAIL_BUF_INIT;
	const char *cs;

	if ((p->flags & MAIL_MIME_PARAM_EXTENDED) == 0 ||
	    (p->language == NULL && (p->charset == NULL ||
	    ((p->flags & MAIL_MIME_PARAM_RAW) == 0 &&
	    mime_is_printable(p->value, strlen(p->value)))))) {
		mail_mime_put_nstr(out, p->name);
		mail_buf_put_u8(out, ' ');
		mail_mime_put_nstr(out, p->value);
		return;
	}
	mail_buf_append_str(&v, p->name);
	mail_buf_put_u8(&v, '*');
	mail_mime_put_str(out, (const char *)v.data, v.len);
	mail_buf_truncate(&v, 0);
	cs = p->charset == NULL ? "" :
	    (p->flags & MAIL_MIME_PARAM_RAW) != 0 ? p->charset : "utf-8";
	mail_buf_printf(&v, "%s'%s'", cs,
	    p->language != NULL ? p->language : "");
	for (const char *c = p->value; *c != '\0'; c++) {
		/* RFC 2231 7 attribute-char */
		if (mail_mime_is_token((unsigned char)*c) &&
		    (unsigned char)*c < 0x80 && strchr("*'%", *c) == NULL)
			mail_buf_put_u8(&v, (uint8_t)*c);
		else
			mail_buf_printf(&v, "%%%02X", (unsigned char)*c);
	}
	mail_buf_put_u8(out, ' ');
	mail_mime_put_str(out, (const char *)v.data, v.len);
	mail_buf_free(&v);
}

/* body-fld-param: NIL or (name value ...). default_charset appends the
 * us-ascii charset a text part without one has (RFC 2045 5.2), at the
 * end, where Dovecot puts it. */
static void
mime_put_params(struct mail_buf *out, const struct mail_mime_param *params,
    size_t n, bool default_charset)
{
	if (n == 0 && !default_charset) {
		mail_buf_append_str(out, "NIL");
		return;
	}
	mail_buf_put_u8(out, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			mail_buf_put_u8(out, ' ');
		mime_put_param(out, &params[i]);
	}
	if (default_charset)
		mail_buf_append_str(out, n > 0 ? " \"charset\" \"us-ascii\"" :
		    "\"charset\" \"us-ascii\"");
	mail_buf_put_u8(out, ')');
}

/* body-ext-1part and body-ext-mpart after their first field: disposition,
 * language, location. */
static void
mime_put_ext_tail(struct mail_buf *out, const struct mail_mime_part *p)
{
	mail_buf_put_u8(out, ' ');
	if (p->disposition == NULL)
		mail_buf_append_str(out, "NIL");
	else {
		mail_buf_put_u8(out, '(');
		mail_mime_put_nstr(out, p->disposition);
		mail_buf_put_u8(out, ' ');
		mime_put_params(out, p->disp_params, p->ndisp_params, false);
		mail_buf_put_u8(out, ')');
	}
	mail_buf_put_u8(out, ' ');
	if (p->nlanguages == 0)
		mail_buf_append_str(out, "NIL");
	else {
		mail_buf_put_u8(out, '(');
		for (size_t i = 0; i < p->nlanguages; i++) {
			if (i > 0)
				mail_buf_put_u8(out, ' ');
			mail_mime_put_nstr(out, p->languages[i]);
		}
		mail_buf_put_u8(out, ')');
	}
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, p->location);
}

/* The empty text/plain part Dovecot shows as the child of a multipart
 * without children, since the grammar needs one (RFC 3501 body-type-mpart
 * is 1*body). */
static void
mime_put_empty_part(struct mail_buf *out, bool ext)
{
	mail_buf_append_str(out, "(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 0 0");
	mail_buf_append_str(out, ext ? " NIL NIL NIL NIL)" : ")");
}

/* "(" type subtype params id description encoding size: body-type-basic
 * and the common start of text and message. */
static void
mime_put_fields(struct mail_buf *out, const struct mail_mime_part *p,
    bool opaque)
{
	mail_buf_put_u8(out, '(');
	if (opaque)
		mail_buf_append_str(out, "\"application\" \"octet-stream\"");
	else {
		mail_mime_put_nstr(out, p->type);
		mail_buf_put_u8(out, ' ');
		mail_mime_put_nstr(out, p->subtype);
	}
	mail_buf_put_u8(out, ' ');
	mime_put_params(out, p->params, p->nparams, !opaque &&
	    (p->flags & MAIL_MIME_PART_TEXT) != 0 &&
	    mail_mime_param_get(p, "charset") == NULL);
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, p->id);
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, p->description);
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, p->encoding != NULL ? p->encoding : "7bit");
	mail_buf_printf(out, " %zu", p->body_vsize);
}

static void
mime_put_ext_1part(struct mail_buf *out, const struct mail_mime_part *p)
{
	mail_buf_put_u8(out, ' ');
	mail_mime_put_nstr(out, p->md5);
	mime_put_ext_tail(out, p);
}

/* Whether p is written as body-type-msg: message/rfc822 always, and
 * message/global for IMAP4rev2, which added it to media-message. */
static bool
mime_bs_is_message(const struct mail_mime_part *p, unsigned int flags)
{
	return (p->flags & MAIL_MIME_PART_MESSAGE) != 0 &&
	    (p->flags & MAIL_MIME_PART_OPAQUE) == 0 &&
	    ((p->flags & MAIL_MIME_PART_GLOBAL) == 0 ||
	    (flags & MAIL_MIME_BS_IMAP4REV2) != 0);
}

/* Whether p is written as body-type-mpart; an OPAQUE multipart is a
 * basic application/octet-stream body. */
static bool
mime_bs_is_multipart(const struct mail_mime_part *p)
{
	return (p->flags & (MAIL_MIME_PART_MULTIPART | MAIL_MIME_PART_OPAQUE))
	    == MAIL_MIME_PART_MULTIPART;
}

/* The end of a multipart or message whose children were written. */
static void
mime_bs_close(struct mail_buf *out, const struct mail_mime_part *p,
    unsigned int flags)
{
	bool ext = (flags & MAIL_MIME_BS_EXTENDED) != 0;

	if (mime_bs_is_multipart(p)) {
		mail_buf_put_u8(out, ' ');
		mail_mime_put_nstr(out, p->subtype);
		if (ext) {
			mail_buf_put_u8(out, ' ');
			mime_put_params(out, p->params, p->nparams, false);
			mime_put_ext_tail(out, p);
		}
	} else {
		mail_buf_printf(out, " %zu", p->body_lines);
		if (ext)
			mime_put_ext_1part(out, p);
	}
	mail_buf_put_u8(out, ')');
}

static const char mime_nil_envelope[] =
	"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";

/*
 * Write the start of p. Returns true when p has children to write next
 * (mime_bs_close() ends it after them), false when p was written whole.
 */
static bool
mime_bs_open(const uint8_t *msg, struct mail_buf *out,
    const struct mail_mime_part *p, unsigned int flags)
{
	bool ext = (flags & MAIL_MIME_BS_EXTENDED) != 0;

	if (mime_bs_is_multipart(p)) {
		mail_buf_put_u8(out, '(');
		if (p->children != NULL)
			return true;
		mime_put_empty_part(out, ext);
		mime_bs_close(out, p, flags);
		return false;
	}
	mime_put_fields(out, p, (p->flags & MAIL_MIME_PART_OPAQUE) != 0);
	if (mime_bs_is_message(p, flags)) {
		mail_buf_put_u8(out, ' ');
		if (p->children == NULL) {
			/* The header never ended: nothing embedded. */
			mail_buf_append_str(out, mime_nil_envelope);
			mail_buf_put_u8(out, ' ');
			mime_put_empty_part(out, ext);
			mime_bs_close(out, p, flags);
			return false;
		}
		mail_mime_envelope(msg, p->children, out);
		mail_buf_put_u8(out, ' ');
		return true;
	}
	if ((p->flags & MAIL_MIME_PART_TEXT) != 0 &&
	    (p->flags & MAIL_MIME_PART_OPAQUE) == 0)
		mail_buf_printf(out, " %zu", p->body_lines);
	if (ext)
		mime_put_ext_1part(out, p);
	mail_buf_put_u8(out, ')');
	return false;
}

void
mail_mime_bodystructure(const uint8_t *msg, const struct mail_mime_part *part,
    unsigned int flags, struct mail_buf *out)
{
	const struct mail_mime_part *p = part;

	if (msg == NULL)
		msg = mail_mime_empty_msg;
	/* Depth-first without recursion: children are entered through
	 * mime_bs_open() and finished by mime_bs_close() on the way up. */
	for (;;) {
		while (mime_bs_open(msg, out, p, flags))
			p = p->children;
		while (p != part && p->next == NULL) {
			p = p->parent;
			mime_bs_close(out, p, flags);
		}
		if (p == part)
			return;
		p = p->next;
	}
}

/* ---- sections ---- */

/* Child n (from 1) of p, or NULL. */
static const struct mail_mime_part *
mime_nth_child(const struct mail_mime_part *p, unsigned long n)
{
	const struct mail_mime_part *c = p->children;

	while (c != NULL && --n > 0)
		c = c->next;
	return c;
}

/*
 * One part number step from cur (NULL: the top). RFC 3501 6.4.5: in a
 * multipart it picks a child; in a message (the top or the one embedded
 * in a message/rfc822 part) it picks a child of the message's multipart,
 * or 1 is the message's only part. A leaf part has no numbered parts
 * (Dovecot answers some "2.1" with part 2, but not "2.1.1").
 */
static const struct mail_mime_part *
mime_step(const struct mail_mime_part *root, const struct mail_mime_part *cur,
    unsigned long n)
{
	const struct mail_mime_part *x;

	if (cur != NULL && mime_bs_is_multipart(cur))
		return mime_nth_child(cur, n);
	if (cur == NULL)
		x = root;
	else if ((cur->flags & MAIL_MIME_PART_MESSAGE) != 0 &&
	    cur->children != NULL)
		x = cur->children;
	else
		return NULL;
	if (mime_bs_is_multipart(x))
		return mime_nth_child(x, n);
	return n == 1 ? x : NULL;
}

/* Case-insensitive keyword at s; sets *rest_r after it. */
static bool
mime_keyword(const char *s, const char *kw, const char **rest_r)
{
	size_t n = strlen(kw);

	if (strlen(s) < n || !mail_mime_eq_n(s, n, kw, n))
		return false;
	*rest_r = s + n;
	return true;
}

/* The header of p (with its blank line, as BODY[HEADER] includes it) or
 * its body. */
static void
mime_sec_range(struct mail_mime_section *sec, const struct mail_mime_part *p,
    bool header)
{
	sec->part = p;
	sec->offset = header ? p->hdr_offset : p->body_offset;
	sec->size = header ? p->hdr_size : p->body_size;
	sec->vsize = header ? p->hdr_vsize : p->body_vsize;
}

/*
 * The keyword after the part numbers (or alone). numbered: part numbers
 * came first; cur: the part they name (NULL if there is none); msgpart:
 * the message HEADER and TEXT refer to (NULL if cur is no message).
 */
static int
mime_section_keyword(const char *kw, bool numbered,
    const struct mail_mime_part *cur, const struct mail_mime_part *msgpart,
    struct mail_mime_section *sec, struct mail_err *err)
{
	const char *rest;

	if (mime_keyword(kw, "MIME", &rest) && *rest == '\0') {
		if (!numbered)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "section MIME without a part number");
		if (cur == NULL)
			return mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "no such part");
		sec->kind = MAIL_MIME_SECTION_MIME;
		mime_sec_range(sec, cur, true);
		return 0;
	}
	if (mime_keyword(kw, "HEADER.FIELDS.NOT", &rest) &&
	    (*rest == '\0' || *rest == ' ' || *rest == '('))
		sec->kind = MAIL_MIME_SECTION_HEADER_FIELDS_NOT;
	else if (mime_keyword(kw, "HEADER.FIELDS", &rest) &&
	    (*rest == '\0' || *rest == ' ' || *rest == '('))
		sec->kind = MAIL_MIME_SECTION_HEADER_FIELDS;
	else if (mime_keyword(kw, "HEADER", &rest) && *rest == '\0')
		sec->kind = MAIL_MIME_SECTION_HEADER;
	else if (mime_keyword(kw, "TEXT", &rest) && *rest == '\0')
		sec->kind = MAIL_MIME_SECTION_TEXT;
	else
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "unknown section keyword '%s'", kw);
	if (msgpart == NULL)
		return mail_err_set(err, MAIL_ERR_NOTFOUND,
		    "no such part, or not a message");
	if (sec->kind == MAIL_MIME_SECTION_HEADER_FIELDS ||
	    sec->kind == MAIL_MIME_SECTION_HEADER_FIELDS_NOT)
		sec->fields = rest;
	mime_sec_range(sec, msgpart, sec->kind != MAIL_MIME_SECTION_TEXT);
	return 0;
}

/*
 * Syntax errors win over missing parts: "9.FOO" is BAD, not an empty
 * answer, so the numbers are parsed to the end even after one misses.
 */
int
mail_mime_section(const uint8_t *msg, const struct mail_mime_part *root,
    const char *section, struct mail_mime_section *sec_r,
    struct mail_err *err)
{
	const struct mail_mime_part *cur = NULL, *msgpart = NULL;
	const char *s = section;
	bool numbered = false, missing = false;
	unsigned long n;
	size_t digits;
	int ret;

	(void)msg;
	memset(sec_r, 0, sizeof(*sec_r));
	while (*s >= '1' && *s <= '9') {
		/* nz-number; more than nine digits is no part we have */
		numbered = true;
		for (n = 0, digits = 0; *s >= '0' && *s <= '9'; s++) {
			if (++digits <= 9)
				n = n * 10 + (unsigned long)(*s - '0');
		}
		if (!missing && (digits > 9 ||
		    (cur = mime_step(root, cur, n)) == NULL))
			missing = true;
		if (*s == '\0')
			break;
		if (*s != '.' || s[1] == '\0')
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "invalid section '%s'", section);
		s++;
	}
	if (*s >= '0' && *s <= '9')	/* a part number 0 */
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "invalid section '%s'", section);
	if (missing)
		cur = NULL;
	if (*s == '\0' && !numbered) {
		sec_r->kind = MAIL_MIME_SECTION_ALL;
		sec_r->part = root;
		sec_r->size = root->hdr_size + root->body_size;
		sec_r->vsize = root->hdr_vsize + root->body_vsize;
		return 0;
	}
	if (*s == '\0') {
		if (cur == NULL)
			return mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "no section '%s' in the message", section);
		sec_r->kind = MAIL_MIME_SECTION_BODY;
		mime_sec_range(sec_r, cur, false);
		return 0;
	}
	if (!numbered)
		msgpart = root;
	else if (cur != NULL && (cur->flags & MAIL_MIME_PART_MESSAGE) != 0)
		msgpart = cur->children;
	ret = mime_section_keyword(s, numbered, cur, msgpart, sec_r, err);
	if (ret < 0)
		memset(sec_r, 0, sizeof(*sec_r));
	return ret;
}

/* ---- <partial> windows, CRLF conversion, HEADER.FIELDS ---- */

/* Append the part of src[0..n) that falls in [vstart, vend), where src
 * starts at virtual offset v. */
static void
mime_window(struct mail_buf *out, const void *src, size_t n, uint64_t v,
    uint64_t vstart, uint64_t vend)
{
	uint64_t s = v > vstart ? v : vstart;
	uint64_t e = v + n < vend ? v + n : vend;

	if (s < e)
		mail_buf_append(out, (const uint8_t *)src + (s - v),
		    (size_t)(e - s));
}

/*
 * v counts octets of the converted form. Each stretch between LFs is
 * copied as it is; a bare LF is emitted as CRLF and so counts twice. The
 * window may start or end between the CR and the LF of a converted line
 * end, which is what IMAP <partial> on such a message means.
 */
void
mail_mime_append_crlf(const uint8_t *msg, size_t offset, size_t size,
    uint64_t vstart, uint64_t vlen, struct mail_buf *out)
{
	uint64_t v = 0, vend;
	size_t i = offset, end = offset + size, seg;
	const uint8_t *nl;

	if (__builtin_add_overflow(vstart, vlen, &vend))
		vend = UINT64_MAX;
	while (i < end && v < vend) {
		nl = memchr(msg + i, '\n', end - i);
		seg = (nl != NULL ? (size_t)(nl - msg) : end) - i;
		mime_window(out, msg + i, seg, v, vstart, vend);
		v += seg;
		i += seg;
		if (nl == NULL)
			break;
		if (i == 0 || msg[i - 1] != '\r')
			mime_window(out, "\r\n", 2, v++, vstart, vend);
		else
			mime_window(out, "\n", 1, v, vstart, vend);
		v++;
		i++;
	}
}

/* The end of the line at pos (after its LF, or end), and whether it is
 * empty (LF or CRLF alone). */
static size_t
mime_line_end(const uint8_t *msg, size_t pos, size_t end, bool *blank_r)
{
	const uint8_t *nl = memchr(msg + pos, '\n', end - pos);
	size_t e = nl != NULL ? (size_t)(nl - msg) : end;

	*blank_r = nl != NULL && (e == pos || (e == pos + 1 &&
	    msg[pos] == '\r'));
	return nl != NULL ? e + 1 : end;
}

/* Whether the field at msg[start, end) (first line only matters) is named
 * by one of names. Fields without a colon are never named. */
static bool
mime_field_named(const uint8_t *msg, size_t start, size_t end,
    const char *const *names, size_t n, bool *has_colon_r)
{
	const uint8_t *colon = memchr(msg + start, ':', end - start);
	const uint8_t *nl = memchr(msg + start, '\n', end - start);
	size_t s = start, e;

	*has_colon_r = colon != NULL && (nl == NULL || colon < nl);
	if (!*has_colon_r)
		return false;
	e = (size_t)(colon - msg);
	while (s < e && MAIL_MIME_IS_WSP(msg[s]))
		s++;
	while (e > s && MAIL_MIME_IS_WSP(msg[e - 1]))
		e--;
	for (size_t i = 0; i < n; i++) {
		if (mail_mime_eq_n((const char *)msg + s, e - s, names[i],
		    strlen(names[i])))
			return true;
	}
	return false;
}

void
mail_mime_header_fields(const uint8_t *msg, size_t offset, size_t size,
    const char *const *names, size_t n, bool not, struct mail_buf *out)
{
	size_t pos = offset, end = offset + size, fend;
	bool blank, named, colon;

	if (msg == NULL)
		msg = mail_mime_empty_msg;
	while (pos < end) {
		fend = mime_line_end(msg, pos, end, &blank);
		if (blank)
			break;
		/* RFC 5322 2.2.3: lines starting with WSP continue it */
		while (fend < end && MAIL_MIME_IS_WSP(msg[fend]))
			fend = mime_line_end(msg, fend, end, &blank);
		named = mime_field_named(msg, pos, fend, names, n, &colon);
		if (colon && named != not) {
			mail_mime_append_crlf(msg, pos, fend - pos, 0,
			    UINT64_MAX, out);
			if (msg[fend - 1] == '\r')
				mail_buf_put_u8(out, '\n');
			else if (msg[fend - 1] != '\n')
				mail_buf_append_str(out, "\r\n");
		}
		pos = fend;
	}
	mail_buf_append_str(out, "\r\n");
}
