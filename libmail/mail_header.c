/*
 * mail_header.c: the RFC 5322 header section, RFC 2047 encoded-words and
 * RFC 5322 dates.
 *
 * Parsing is two passes over the input. The first finds lines: a line
 * ends at LF, and a CR just before the LF belongs to the line end. A line
 * starting with SP or HTAB continues the field before it (RFC 5322 2.2.3);
 * any other non-empty line starts a field; an empty line ends the section.
 * It records where each field's name and value lie, so it never copies.
 * The second pass copies the section once and writes every cooked name and
 * value into a single allocation sized in advance, so pointers handed out
 * stay put and a parse costs four allocations plus the array growth.
 *
 * Invariants: fields are in message order and tile the section: field i
 * ends where field i + 1 starts, and the last ends at mail_header_size().
 * Everything is O(input); nothing recurses.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_buf.h"
#include "mail_header.h"

struct mail_headers {
	uint8_t	*raw;		/* copy of the fields (hdr_size bytes) */
	char	*strings;	/* cooked names and values */
	struct mail_header_field *fields;
	size_t	 count;
	size_t	 hdr_size;	/* fields only, blank line excluded */
	size_t	 body_offset;
	bool	 eoh;		/* the blank line was seen */
};

/* Where the parts of one field lie in the input; filled by the first pass. */
struct mail_header_slot {
	size_t	 start;
	size_t	 name_start, name_end;
	size_t	 value_start, value_end; /* without the final line end */
	size_t	 end;		/* after the final line end */
	unsigned int flags;
};

#define MAIL_HEADER_IS_WSP(c)	((c) == ' ' || (c) == '\t')
#define MAIL_HEADER_IS_SPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/* Unicode replacement character, emitted for anything undecodable. */
#define MAIL_HEADER_REPLACEMENT 0xfffdU

/*
 * Split the first line of a field, [pos, content_end), into name and value.
 * RFC 5322 3.6.8 says a name is 1*ftext (printable ASCII but ':'), right
 * before the colon. Real mail breaks this ("Subject : x", 8-bit names), so
 * like Dovecot we keep the field with the name trimmed and only flag it.
 */
static void
mail_header_split_line(const uint8_t *msg, size_t pos, size_t content_end,
    struct mail_header_slot *slot)
{
	const uint8_t *colon;
	size_t s = pos, e, i;

	memset(slot, 0, sizeof(*slot));
	slot->start = pos;
	/* Only the first line of the section can start with WSP here: later
	 * ones continue the previous field. */
	if (MAIL_HEADER_IS_WSP(msg[s])) {
		slot->flags |= MAIL_HEADER_FIELD_BAD_NAME;
		while (s < content_end && MAIL_HEADER_IS_WSP(msg[s]))
			s++;
	}
	colon = memchr(msg + s, ':', content_end - s);
	if (colon == NULL) {
		/* No colon: keep the line as the name, so nothing is lost
		 * and the field tiling invariant holds. */
		slot->flags |= MAIL_HEADER_FIELD_NO_COLON;
		e = content_end;
		slot->value_start = content_end;
	} else {
		e = (size_t)(colon - msg);
		slot->value_start = e + 1;
	}
	slot->value_end = content_end;
	while (e > s && MAIL_HEADER_IS_WSP(msg[e - 1])) {
		e--;
		slot->flags |= MAIL_HEADER_FIELD_BAD_NAME;
	}
	slot->name_start = s;
	slot->name_end = e;
	if (s == e)
		slot->flags |= MAIL_HEADER_FIELD_BAD_NAME;
	for (i = s; i < e; i++) {
		if (msg[i] < 33 || msg[i] > 126) {
			slot->flags |= MAIL_HEADER_FIELD_BAD_NAME;
			break;
		}
	}
}

/*
 * Copy a name into dst, NULs replaced by 0x80 so C strings keep the whole
 * name (Dovecot's MESSAGE_HEADER_REPLACE_NULS_WITH_0x80). Returns the byte
 * after the terminating NUL.
 */
static char *
mail_header_cook_name(const uint8_t *msg, const struct mail_header_slot *slot,
    char *dst)
{
	for (size_t i = slot->name_start; i < slot->name_end; i++)
		*dst++ = msg[i] == '\0' ? (char)0x80 : (char)msg[i];
	*dst++ = '\0';
	return dst;
}

/*
 * Unfold and trim a raw value into dst. RFC 5322 2.2.3: unfolding removes
 * each CRLF that is followed by WSP; inside a field every line end is, so
 * all of them go. A CR right before LF is part of the line end; other CRs
 * are data and stay. Returns the byte after the terminating NUL.
 */
static char *
mail_header_cook_value(const uint8_t *msg,
    const struct mail_header_slot *slot, char *dst)
{
	char *start = dst, *s, *e;

	for (size_t i = slot->value_start; i < slot->value_end; i++) {
		if (msg[i] == '\n') {
			if (dst > start && dst[-1] == '\r')
				dst--;
			continue;
		}
		*dst++ = msg[i] == '\0' ? (char)0x80 : (char)msg[i];
	}
	/* Trim in place. A trailing CR is possible when the data ends
	 * between CR and LF; it is a line end cut short, not content. */
	s = start;
	e = dst;
	while (s < e && MAIL_HEADER_IS_SPACE(*s))
		s++;
	while (e > s && MAIL_HEADER_IS_SPACE(e[-1]))
		e--;
	if (s != start)
		memmove(start, s, (size_t)(e - s));
	dst = start + (e - s);
	*dst++ = '\0';
	return dst;
}

/*
 * Second pass: build the result from the slots. Cooked strings never grow
 * (unfolding and trimming only drop bytes), so name + value + two NULs per
 * field bound the string space and one allocation holds it all.
 */
static struct mail_headers *
mail_header_build(const uint8_t *msg, const struct mail_header_slot *slots,
    size_t count, size_t hdr_size)
{
	struct mail_headers *h = mail_xcalloc(1, sizeof(*h));
	size_t total = 0, i;
	char *p;

	h->raw = mail_xmalloc(hdr_size + 1);
	if (hdr_size > 0)
		memcpy(h->raw, msg, hdr_size);
	h->raw[hdr_size] = '\0';
	for (i = 0; i < count; i++) {
		/* Each term is at most hdr_size, and count is at most
		 * MAIL_HEADER_MAX_FIELDS: no overflow possible. */
		total += slots[i].name_end - slots[i].name_start +
		    slots[i].value_end - slots[i].value_start + 2;
	}
	h->strings = mail_xmalloc(total);
	h->fields = mail_xcalloc(count, sizeof(*h->fields));
	h->count = count;
	p = h->strings;
	for (i = 0; i < count; i++) {
		const struct mail_header_slot *slot = &slots[i];
		struct mail_header_field *f = &h->fields[i];

		f->name = p;
		p = mail_header_cook_name(msg, slot, p);
		f->value = p;
		p = mail_header_cook_value(msg, slot, p);
		f->raw_value = h->raw + slot->value_start;
		f->raw_value_len = slot->value_end - slot->value_start;
		f->offset = slot->start;
		f->size = slot->end - slot->start;
		f->value_offset = slot->value_start;
		f->flags = slot->flags;
		if (memchr(msg + slot->start, '\0', f->size) != NULL)
			f->flags |= MAIL_HEADER_FIELD_HAS_NULS;
	}
	return h;
}

int
mail_header_parse(const uint8_t *msg, size_t len,
    struct mail_headers **hdrs_r, struct mail_err *err)
{
	struct mail_header_slot *slots = NULL, *cur = NULL;
	size_t nslots = 0, cap = 0, pos = 0, n, hdr_size = 0, body_offset = 0;
	bool eoh = false;
	int ret = -1;

	*hdrs_r = NULL;
	/* Never look past the limit: a section that has not ended by then is
	 * over it, whatever follows. This also bounds the work per call. */
	n = len < MAIL_HEADER_MAX_SIZE ? len : MAIL_HEADER_MAX_SIZE;
	while (pos < n) {
		const uint8_t *nl = memchr(msg + pos, '\n', n - pos);
		size_t line_end = nl != NULL ? (size_t)(nl - msg) : n;
		size_t next = nl != NULL ? line_end + 1 : n;
		size_t content_end = line_end;

		if (nl != NULL && content_end > pos &&
		    msg[content_end - 1] == '\r')
			content_end--;
		if (content_end == pos && nl != NULL) {
			/* The empty line: end of the header section. */
			eoh = true;
			hdr_size = pos;
			body_offset = next;
			break;
		}
		if (nl == NULL && n == len && next - pos == 1 &&
		    msg[pos] == '\r') {
			/* A lone CR at the very end is a CRLF blank line cut
			 * short. Treating it so keeps a prefix consistent with
			 * the whole message (it is not a field in either). */
			eoh = true;
			hdr_size = pos;
			body_offset = len;
			break;
		}
		if (cur != NULL && MAIL_HEADER_IS_WSP(msg[pos])) {
			/* Folded line: extend the current field. */
			cur->value_end = content_end;
			cur->end = next;
		} else {
			if (nslots == MAIL_HEADER_MAX_FIELDS) {
				mail_err_set(err, MAIL_ERR_LIMIT,
				    "header has more than %d fields",
				    MAIL_HEADER_MAX_FIELDS);
				goto out;
			}
			slots = mail_xgrow(slots, &cap, nslots + 1,
			    sizeof(*slots));
			cur = &slots[nslots++];
			mail_header_split_line(msg, pos, content_end, cur);
			cur->end = next;
		}
		if (nl == NULL)
			cur->flags |= MAIL_HEADER_FIELD_NO_NEWLINE;
		pos = next;
	}
	if (!eoh) {
		if (len > MAIL_HEADER_MAX_SIZE) {
			mail_err_set(err, MAIL_ERR_LIMIT,
			    "header section longer than %d bytes",
			    MAIL_HEADER_MAX_SIZE);
			goto out;
		}
		/* No blank line: everything is header, the body is empty. */
		hdr_size = body_offset = len;
	}
	*hdrs_r = mail_header_build(msg, slots, nslots, hdr_size);
	(*hdrs_r)->hdr_size = hdr_size;
	(*hdrs_r)->body_offset = body_offset;
	(*hdrs_r)->eoh = eoh;
	ret = 0;
out:
	free(slots);
	return ret;
}

void
mail_headers_free(struct mail_headers **hp)
{
	struct mail_headers *h = *hp;

	if (h == NULL)
		return;
	free(h->raw);
	free(h->strings);
	free(h->fields);
	free(h);
	*hp = NULL;
}

size_t
mail_header_count(const struct mail_headers *h)
{
	return h->count;
}

const struct mail_header_field *
mail_header_field(const struct mail_headers *h, size_t i)
{
	return i < h->count ? &h->fields[i] : NULL;
}

size_t
mail_header_size(const struct mail_headers *h)
{
	return h->hdr_size;
}

size_t
mail_header_body_offset(const struct mail_headers *h)
{
	return h->body_offset;
}

bool
mail_header_has_eoh(const struct mail_headers *h)
{
	return h->eoh;
}

/* ASCII-only lowercase: field names are ASCII, and tolower() would depend
 * on the locale and be undefined for negative chars. */
static int
mail_header_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive comparison of a against the n bytes at b (not
 * NUL-terminated); true when equal. */
static bool
mail_header_eq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] == '\0' || mail_header_lower((unsigned char)a[i]) !=
		    mail_header_lower((unsigned char)b[i]))
			return false;
	}
	return a[n] == '\0';
}

const char *
mail_header_get(const struct mail_headers *h, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < h->count; i++) {
		const struct mail_header_field *f = &h->fields[i];

		if ((f->flags & MAIL_HEADER_FIELD_NO_COLON) == 0 &&
		    mail_header_eq_n(f->name, name, len))
			return f->value;
	}
	return NULL;
}

/*
 * RFC 2047 encoded-words.
 *
 * The decoder collects decoded bytes in a "run" that shares one charset and
 * converts the run to UTF-8 only when the charset changes or plain text
 * follows. Adjacent words of the same charset thus join before conversion:
 * mailers do split one UTF-8 character over two words.
 */

enum mail_header_cs {
	MAIL_HEADER_CS_NONE = 0,	/* unsupported: leave the word alone */
	MAIL_HEADER_CS_TEXT,		/* text between words: UTF-8 */
	MAIL_HEADER_CS_UTF8,
	MAIL_HEADER_CS_ASCII,
	MAIL_HEADER_CS_LATIN1,
	MAIL_HEADER_CS_CP1252,
};

static const struct {
	const char *name;
	enum mail_header_cs cs;
} mail_header_charsets[] = {
	{ "utf-8", MAIL_HEADER_CS_UTF8 },
	{ "utf8", MAIL_HEADER_CS_UTF8 },
	{ "us-ascii", MAIL_HEADER_CS_ASCII },
	{ "ascii", MAIL_HEADER_CS_ASCII },
	{ "iso-8859-1", MAIL_HEADER_CS_LATIN1 },
	{ "iso8859-1", MAIL_HEADER_CS_LATIN1 },
	{ "iso_8859-1", MAIL_HEADER_CS_LATIN1 },
	{ "latin1", MAIL_HEADER_CS_LATIN1 },
	{ "windows-1252", MAIL_HEADER_CS_CP1252 },
	{ "cp1252", MAIL_HEADER_CS_CP1252 },
};

/* Windows-1252 bytes 0x80-0x9f; the rest is Latin-1. 0 marks the five
 * bytes the code page leaves undefined. */
static const uint16_t mail_header_cp1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/* RFC 2047 2: an encoded-word is at most 75 bytes, but real mail has much
 * longer ones, so only the charset is bounded (to keep rescans short). */
#define MAIL_HEADER_MAX_CHARSET 64

struct mail_header_word {
	enum mail_header_cs cs;
	char	 enc;		/* 'B' or 'Q' */
	const char *text;	/* encoded-text, not NUL-terminated */
	size_t	 text_len;
	const char *end;	/* after the closing "?=" */
};

/* Append one code point as UTF-8. Everything converted here (Latin-1,
 * Windows-1252, U+FFFD) lies in the BMP; valid 4-byte UTF-8 input is copied
 * as it is and never comes through here. */
static void
mail_header_put_cp(struct mail_buf *out, uint32_t cp)
{
	uint8_t b[3];
	size_t n;

	mail_assert(cp < 0x10000);
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else {
		b[0] = (uint8_t)(0xe0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	}
	mail_buf_append(out, b, n);
}

/*
 * Copy valid UTF-8 from p, replacing each byte that does not start a valid
 * sequence with U+FFFD. Overlong forms, surrogates and code points above
 * U+10FFFF are invalid (RFC 3629 4): they are how filters get bypassed.
 */
static void
mail_header_put_utf8(struct mail_buf *out, const uint8_t *p, size_t n)
{
	size_t i = 0, need, k;
	uint32_t cp, min;

	while (i < n) {
		uint8_t c = p[i];

		if (c < 0x80) {
			mail_header_put_cp(out,
			    c == 0 ? MAIL_HEADER_REPLACEMENT : c);
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else
			goto bad;
		if (n - i - 1 < need)
			goto bad;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		mail_buf_append(out, p + i, need + 1);
		i += need + 1;
		continue;
bad:
		mail_header_put_cp(out, MAIL_HEADER_REPLACEMENT);
		i++;
	}
}

/* Convert n bytes in charset cs to UTF-8 onto out. */
static void
mail_header_convert(struct mail_buf *out, enum mail_header_cs cs,
    const uint8_t *p, size_t n)
{
	uint32_t cp;

	if (cs == MAIL_HEADER_CS_UTF8 || cs == MAIL_HEADER_CS_TEXT) {
		mail_header_put_utf8(out, p, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		cp = p[i];
		if (cp == 0 || (cs == MAIL_HEADER_CS_ASCII && cp >= 0x80))
			cp = MAIL_HEADER_REPLACEMENT;
		else if (cs == MAIL_HEADER_CS_CP1252 && cp >= 0x80 &&
		    cp <= 0x9f) {
			cp = mail_header_cp1252[cp - 0x80];
			if (cp == 0)
				cp = MAIL_HEADER_REPLACEMENT;
		}
		mail_header_put_cp(out, cp);
	}
}

static enum mail_header_cs
mail_header_charset(const char *name, size_t len)
{
	const char *star = memchr(name, '*', len);

	/* RFC 2231 5: "charset*language"; the language does not matter. */
	if (star != NULL)
		len = (size_t)(star - name);
	for (size_t i = 0; i < N_ELEMENTS(mail_header_charsets); i++) {
		if (mail_header_eq_n(mail_header_charsets[i].name, name, len))
			return mail_header_charsets[i].cs;
	}
	return MAIL_HEADER_CS_NONE;
}

/*
 * Recognise "=?charset?enc?text?=" at p (which starts with "=?"). Scans
 * stop at '?', whitespace or the end, and a failed attempt resumes one byte
 * later; since neither the charset nor the text holds '?', a byte is
 * rescanned only a bounded number of times and decoding stays linear.
 */
static bool
mail_header_word_parse(const char *p, struct mail_header_word *w)
{
	const char *cs = p + 2, *q = cs, *text;

	while (*q != '\0' && *q != '?' && !MAIL_HEADER_IS_SPACE(*q) &&
	    q - cs <= MAIL_HEADER_MAX_CHARSET)
		q++;
	if (*q != '?' || q == cs || q - cs > MAIL_HEADER_MAX_CHARSET)
		return false;
	w->cs = mail_header_charset(cs, (size_t)(q - cs));
	if (w->cs == MAIL_HEADER_CS_NONE)
		return false;
	q++;
	if (*q == 'b' || *q == 'B')
		w->enc = 'B';
	else if (*q == 'q' || *q == 'Q')
		w->enc = 'Q';
	else
		return false;
	if (*++q != '?')
		return false;
	text = ++q;
	/* 8-bit bytes are allowed in the text: broken mailers send them in
	 * Q words, and they decode to themselves. */
	while (*q != '\0' && *q != '?' && !MAIL_HEADER_IS_SPACE(*q))
		q++;
	if (q[0] != '?' || q[1] != '=')
		return false;
	w->text = text;
	w->text_len = (size_t)(q - text);
	w->end = q + 2;
	return true;
}

/*
 * Append the decoded bytes of w to run. Returns false (run unchanged) when
 * B text holds a byte outside the base64 alphabet or data after padding.
 * Missing padding and trailing partial bits are tolerated, as most readers
 * do. In Q (RFC 2047 4.2) '_' is a space and "=XX" a byte; a '=' not
 * followed by two hex digits is kept literally rather than failing the
 * whole word.
 */
static bool
mail_header_word_decode(const struct mail_header_word *w,
    struct mail_buf *run)
{
	size_t mark = run->len, i;
	uint32_t acc = 0;
	unsigned int bits = 0;
	int v, hi, lo;

	if (w->enc == 'B') {
		for (i = 0; i < w->text_len && w->text[i] != '='; i++) {
			if ((v = mail_base64_value(w->text[i], '/')) < 0)
				goto bad;
			acc = ((acc << 6) | (uint32_t)v) & 0xffffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				mail_buf_put_u8(run, (uint8_t)(acc >> bits));
			}
		}
		for (; i < w->text_len; i++) {
			if (w->text[i] != '=')
				goto bad;
		}
		return true;
	}
	for (i = 0; i < w->text_len; i++) {
		char c = w->text[i];

		if (c == '_')
			c = ' ';
		else if (c == '=' && i + 2 < w->text_len &&
		    (hi = mail_hex_value(w->text[i + 1])) >= 0 &&
		    (lo = mail_hex_value(w->text[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		mail_buf_put_u8(run, (uint8_t)c);
	}
	return true;
bad:
	mail_buf_truncate(run, mark);
	return false;
}

/* Convert the pending run onto out and empty it. */
static void
mail_header_flush(struct mail_buf *out, struct mail_buf *run,
    enum mail_header_cs cs)
{
	if (run->len > 0)
		mail_header_convert(out, cs, run->data, run->len);
	mail_buf_truncate(run, 0);
}

char *
mail_header_decode_words(const char *value)
{
	struct mail_buf out = MAIL_BUF_INIT, run = MAIL_BUF_INIT;
	enum mail_header_cs run_cs = MAIL_HEADER_CS_TEXT;
	struct mail_header_word w;
	const char *p = value, *ws = NULL, *ws_end = NULL;
	bool after_word = false;

	while (*p != '\0') {
		if (p[0] == '=' && p[1] == '?' &&
		    mail_header_word_parse(p, &w)) {
			if (w.cs != run_cs) {
				mail_header_flush(&out, &run, run_cs);
				run_cs = w.cs;
			}
			if (mail_header_word_decode(&w, &run)) {
				/* RFC 2047 6.2: whitespace between two
				 * encoded-words is not displayed. */
				ws = NULL;
				after_word = true;
				p = w.end;
				continue;
			}
		}
		if (after_word && ws == NULL && MAIL_HEADER_IS_SPACE(*p)) {
			/* Hold whitespace back until we know whether
			 * another word follows. */
			ws = p;
			while (MAIL_HEADER_IS_SPACE(*p))
				p++;
			ws_end = p;
			continue;
		}
		/* Plain text ends the run of words. */
		if (run_cs != MAIL_HEADER_CS_TEXT) {
			mail_header_flush(&out, &run, run_cs);
			run_cs = MAIL_HEADER_CS_TEXT;
		}
		if (ws != NULL) {
			mail_buf_append(&run, ws, (size_t)(ws_end - ws));
			ws = NULL;
		}
		after_word = false;
		mail_buf_put_u8(&run, (uint8_t)*p++);
	}
	mail_header_flush(&out, &run, run_cs);
	if (ws != NULL)
		mail_buf_append(&out, ws, (size_t)(ws_end - ws));
	mail_buf_free(&run);
	return mail_buf_steal_str(&out);
}

/*
 * RFC 5322 3.3 dates. The value is split into tokens (digit runs, letter
 * runs, single punctuation) with whitespace and comments skipped between
 * them, which covers the obsolete syntax of 4.3 where CFWS may appear
 * anywhere.
 */

enum mail_date_tok_type {
	MAIL_DATE_END = 0,
	MAIL_DATE_NUM,
	MAIL_DATE_WORD,
	MAIL_DATE_PUNCT,
};

struct mail_date_tok {
	enum mail_date_tok_type type;
	const char *p;
	size_t	 len;
	int	 num;		/* MAIL_DATE_NUM only; -1 if too long */
};

static const char *const mail_date_months[12][2] = {
	{ "jan", "january" }, { "feb", "february" }, { "mar", "march" },
	{ "apr", "april" }, { "may", "may" }, { "jun", "june" },
	{ "jul", "july" }, { "aug", "august" }, { "sep", "september" },
	{ "oct", "october" }, { "nov", "november" }, { "dec", "december" },
};

static const char *const mail_date_days[7][2] = {
	{ "mon", "monday" }, { "tue", "tuesday" }, { "wed", "wednesday" },
	{ "thu", "thursday" }, { "fri", "friday" }, { "sat", "saturday" },
	{ "sun", "sunday" },
};

/* RFC 5322 4.3 obs-zone names with a known meaning, in minutes east. */
static const struct {
	const char *name;
	int	 minutes;
} mail_date_zones[] = {
	{ "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
	{ "est", -5 * 60 }, { "edt", -4 * 60 },
	{ "cst", -6 * 60 }, { "cdt", -5 * 60 },
	{ "mst", -7 * 60 }, { "mdt", -6 * 60 },
	{ "pst", -8 * 60 }, { "pdt", -7 * 60 },
};

/* Skip whitespace and comments. Comments nest (RFC 5322 3.2.2); depth is a
 * counter and an unterminated comment runs to the end. */
static const char *
mail_date_skip(const char *p)
{
	unsigned int depth;

	for (;;) {
		while (MAIL_HEADER_IS_SPACE(*p))
			p++;
		if (*p != '(')
			return p;
		depth = 0;
		while (*p != '\0') {
			if (*p == '\\' && p[1] != '\0') {
				p += 2;
				continue;
			}
			if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
			p++;
		}
	}
}

static bool
mail_date_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *
mail_date_next(const char *p, struct mail_date_tok *t)
{
	const char *s = mail_date_skip(p);

	t->p = s;
	t->len = 0;
	t->num = -1;
	if (*s == '\0') {
		t->type = MAIL_DATE_END;
		return s;
	}
	if (*s >= '0' && *s <= '9') {
		t->type = MAIL_DATE_NUM;
		while (s[t->len] >= '0' && s[t->len] <= '9')
			t->len++;
		/* Nine digits fit an int; anything longer is no date part. */
		if (t->len <= 9) {
			t->num = 0;
			for (size_t i = 0; i < t->len; i++)
				t->num = t->num * 10 + (s[i] - '0');
		}
	} else if (mail_date_is_alpha(*s)) {
		t->type = MAIL_DATE_WORD;
		while (mail_date_is_alpha(s[t->len]))
			t->len++;
	} else {
		t->type = MAIL_DATE_PUNCT;
		t->len = 1;
	}
	return s + t->len;
}

/* Index of the word in a {abbrev, full} table, or -1. */
static int
mail_date_lookup(const struct mail_date_tok *t, const char *const tbl[][2],
    int n)
{
	if (t->type != MAIL_DATE_WORD)
		return -1;
	for (int i = 0; i < n; i++) {
		if (mail_header_eq_n(tbl[i][0], t->p, t->len) ||
		    mail_header_eq_n(tbl[i][1], t->p, t->len))
			return i;
	}
	return -1;
}

static bool
mail_date_is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. The
 * year is shifted to start in March so the leap day comes last; then a
 * 400-year era has a fixed 146097 days. */
static int64_t
mail_date_days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
mail_header_parse_date(const char *value, int64_t *unixtime_r)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	struct mail_date_tok t;
	const char *p = value;
	int day, month, year, hour, min, sec = 0, zone = 0, sign, dim;

	p = mail_date_next(p, &t);
	/* Optional day-of-week; its comma is optional too in the wild.
	 * Whether it matches the date is not checked: mailers get it wrong
	 * and the numbers are what count. */
	if (t.type == MAIL_DATE_WORD) {
		if (mail_date_lookup(&t, mail_date_days, 7) < 0)
			return -1;
		p = mail_date_next(p, &t);
		if (t.type == MAIL_DATE_PUNCT && *t.p == ',')
			p = mail_date_next(p, &t);
	}
	if (t.type != MAIL_DATE_NUM || t.len > 2 || t.num < 1)
		return -1;
	day = t.num;
	p = mail_date_next(p, &t);
	if ((month = mail_date_lookup(&t, mail_date_months, 12)) < 0)
		return -1;
	p = mail_date_next(p, &t);
	if (t.type != MAIL_DATE_NUM || t.len < 2 || t.len > 4)
		return -1;
	/* RFC 5322 4.3: two-digit years below 50 are 20xx, the others and
	 * all three-digit years are offsets from 1900. */
	year = t.num;
	if (t.len == 2)
		year += year < 50 ? 2000 : 1900;
	else if (t.len == 3)
		year += 1900;
	else if (year < 1900)
		return -1;
	dim = mdays[month] + (month == 1 && mail_date_is_leap(year));
	if (day > dim)
		return -1;

	p = mail_date_next(p, &t);
	if (t.type != MAIL_DATE_NUM || t.len > 2 || t.num > 23)
		return -1;
	hour = t.num;
	p = mail_date_next(p, &t);
	if (t.type != MAIL_DATE_PUNCT || *t.p != ':')
		return -1;
	p = mail_date_next(p, &t);
	if (t.type != MAIL_DATE_NUM || t.len > 2 || t.num > 59)
		return -1;
	min = t.num;
	p = mail_date_next(p, &t);
	if (t.type == MAIL_DATE_PUNCT && *t.p == ':') {
		p = mail_date_next(p, &t);
		/* 60 is a leap second (RFC 5322 3.3); time_t has none, so it
		 * lands on the next minute's first second. */
		if (t.type != MAIL_DATE_NUM || t.len > 2 || t.num > 60)
			return -1;
		sec = t.num;
		p = mail_date_next(p, &t);
	}

	if (t.type == MAIL_DATE_PUNCT && (*t.p == '+' || *t.p == '-')) {
		sign = *t.p == '-' ? -1 : 1;
		/* The digits must follow the sign directly. */
		if (!(t.p[1] >= '0' && t.p[1] <= '9'))
			return -1;
		p = mail_date_next(p, &t);
		if (t.len != 4 || t.num % 100 > 59)
			return -1;
		zone = sign * (t.num / 100 * 60 + t.num % 100);
		p = mail_date_next(p, &t);
		/* "+0200 CEST": a redundant name without parentheses. */
		if (t.type == MAIL_DATE_WORD)
			p = mail_date_next(p, &t);
	} else if (t.type == MAIL_DATE_WORD) {
		/* RFC 5322 4.3: military zones and unknown names mean
		 * -0000, "no information"; we read it as UTC. */
		for (size_t i = 0; i < N_ELEMENTS(mail_date_zones); i++) {
			if (mail_header_eq_n(mail_date_zones[i].name, t.p,
			    t.len)) {
				zone = mail_date_zones[i].minutes;
				break;
			}
		}
		p = mail_date_next(p, &t);
	}
	/* Anything else left over means this was not a date. */
	if (t.type != MAIL_DATE_END)
		return -1;
	*unixtime_r = mail_date_days_from_civil(year, month + 1, day) * 86400 +
	    hour * 3600 + min * 60 + sec - (int64_t)zone * 60;
	return 0;
}
