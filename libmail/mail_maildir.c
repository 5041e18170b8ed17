/*
 * mail_maildir.c: parsers and formatters for the files of a Maildir++
 * tree as Dovecot writes them (formats in mail_maildir.h).
 *
 * All input is untrusted: a Maildir handed to `dsync import` may come
 * from anywhere. Every parser works on a complete buffer with explicit
 * lengths (no reliance on NUL terminators), bounds every number before
 * using it, never recurses, and reports the 1-based line of the first
 * problem. The dovecot-uidlist parser keeps pointers into the caller's
 * buffer instead of copying 100,000 file names.
 *
 * Strictness follows what a wrong guess would cost. A UID or a file name
 * taken from a damaged dovecot-uidlist would silently give a message the
 * wrong identity, so anything doubtful there is an error. A file name of
 * a message is only a hint about flags and sizes, so odd ones are
 * tolerated.
 */
#include <stdlib.h>

#include "mail_maildir.h"
#include "mail_flags.h"
#include "mail_name.h"

/* Dovecot's keyword letters start at 'a'; system flags are upper case. */
static const struct {
	char	 letter;
	uint16_t bit;
} maildir_flag_letters[] = {
	/* in ASCII order, the order the Maildir spec wants them in */
	{ 'D', MAIL_DRAFT },
	{ 'F', MAIL_FLAGGED },
	{ 'R', MAIL_ANSWERED },
	{ 'S', MAIL_SEEN },
	{ 'T', MAIL_DELETED },
};

/* Parse decimal digits at s[*pos..end) into *v_r, at most max. Leading
 * zeros are accepted (Dovecot's str_to_uint accepts them too). Returns
 * false for no digits or a value over max; *pos moves past the digits. */
static bool
maildir_parse_dec(const char *s, size_t end, size_t *pos, uint64_t max,
    uint64_t *v_r)
{
	size_t i = *pos;
	uint64_t v = 0;

	if (i >= end || s[i] < '0' || s[i] > '9')
		return false;
	for (; i < end && s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*pos = i;
	*v_r = v;
	return true;
}

/* ---- message file names ---- */

/* Look for ",<key>=<digits>" among the comma-separated fields of the base
 * name; the first well-formed one wins, malformed ones are ignored.
 * Dovecot writes S= (the file size, which saves it a stat()) and W= (the
 * size with CRLF line ends, what IMAP RFC822.SIZE reports); other
 * programs add fields of their own, and some put a ',' in the host name,
 * so a field that does not parse is just not one of these. */
static bool
maildir_name_field(const char *s, size_t base_len, char key, uint64_t *v_r)
{
	for (size_t i = 0; i + 2 < base_len; i++) {
		size_t pos = i + 3;
		uint64_t v;

		if (s[i] != ',' || s[i + 1] != key || s[i + 2] != '=')
			continue;
		if (!maildir_parse_dec(s, base_len, &pos, UINT64_MAX, &v))
			continue;
		if (pos != base_len && s[pos] != ',')
			continue;
		*v_r = v;
		return true;
	}
	return false;
}

int
mail_maildir_name_parse(const char *name, size_t len,
    struct mail_maildir_name *r, struct mail_err *err)
{
	const char *colon;

	memset(r, 0, sizeof(*r));
	if (len == 0)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "empty maildir file name");
	if (len > MAIL_MAILDIR_NAME_MAX)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "maildir file name longer than %d bytes",
		    MAIL_MAILDIR_NAME_MAX);
	if (memchr(name, '\0', len) != NULL || memchr(name, '/', len) != NULL)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "maildir file name '%.*s' holds '/' or NUL",
		    (int)(len > 64 ? 64 : len), name);
	/* The base is the message's identity: flag changes rename the file
	 * but keep everything before ':', and dovecot-uidlist names files
	 * by it. Dovecot's maildir_info_sep can be changed (';' on some
	 * filesystems); ':' is its default and the Maildir spec's. */
	colon = memchr(name, ':', len);
	r->base_len = colon != NULL ? (size_t)(colon - name) : len;
	if (r->base_len == 0)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "maildir file name '%.*s' has an empty base",
		    (int)(len > 64 ? 64 : len), name);
	r->has_size = maildir_name_field(name, r->base_len, 'S', &r->size);
	r->has_vsize = maildir_name_field(name, r->base_len, 'W', &r->vsize);
	/* ":2," is the only info version with a meaning; ":1," was an
	 * experiment nobody uses. Letters we do not know (Dovecot keeps
	 * e.g. 'P' passed) are dropped. */
	if (colon == NULL || len - r->base_len < 3 || colon[1] != '2' ||
	    colon[2] != ',')
		return 0;
	r->has_info = true;
	for (size_t i = r->base_len + 3; i < len; i++) {
		char c = name[i];

		if (c >= 'a' && c <= 'z') {
			r->keywords |= (uint32_t)1 << (c - 'a');
			continue;
		}
		for (size_t k = 0; k < N_ELEMENTS(maildir_flag_letters); k++) {
			if (maildir_flag_letters[k].letter == c)
				r->flags |= maildir_flag_letters[k].bit;
		}
	}
	return 0;
}

/* Readers (mutt, Courier, Dovecot) compare info parts as strings when
 * they look for a flag change, so the letters are always written sorted:
 * upper case (system flags) before lower case (keywords). */
void
mail_maildir_info_format(uint16_t flags, uint32_t keywords,
    struct mail_buf *out)
{
	mail_buf_append_str(out, ":2,");
	for (size_t k = 0; k < N_ELEMENTS(maildir_flag_letters); k++) {
		if (flags & maildir_flag_letters[k].bit)
			mail_buf_append(out, &maildir_flag_letters[k].letter,
			    1);
	}
	for (unsigned i = 0; i < MAIL_MAILDIR_KEYWORDS; i++) {
		char c = (char)('a' + i);

		if (keywords & ((uint32_t)1 << i))
			mail_buf_append(out, &c, 1);
	}
}

/* ---- line splitting shared by the file parsers ---- */

struct maildir_lines {
	const char *data;
	size_t	 len, pos;
	uint32_t line;		/* number of the line last returned */
};

/* The next line (without its LF) in *start and *end. Returns 1, 0 at
 * the end of data, or -1 for a last line without LF: every writer we know
 * ends each line, so a missing one means the file was cut short. */
static int
maildir_next_line(struct maildir_lines *l, size_t *start, size_t *end)
{
	const char *nl;

	if (l->pos >= l->len)
		return 0;
	l->line++;
	nl = memchr(l->data + l->pos, '\n', l->len - l->pos);
	if (nl == NULL)
		return -1;
	*start = l->pos;
	*end = (size_t)(nl - l->data);
	l->pos = *end + 1;
	return 1;
}

/* ---- dovecot-uidlist ---- */

/* Order of by_base: by base name bytes, then by line. An import looks up
 * every file of a folder (100,000 in a big INBOX), so the lookup is a
 * binary search rather than a scan; the same sort finds duplicates. */
static int
uidlist_cmp_base(const void *a, const void *b, void *ctx)
{
	const struct mail_maildir_uidlist_rec *recs = ctx;
	const struct mail_maildir_uidlist_rec *x = &recs[*(const size_t *)a];
	const struct mail_maildir_uidlist_rec *y = &recs[*(const size_t *)b];
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->base, y->base, n);

	if (c != 0)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	/* equal names: keep file order so the error names the later line */
	return x->line < y->line ? -1 : x->line > y->line;
}


/* Header "3 V<uidvalidity> N<nextuid> G<guid> ..." or "1 <uidvalidity>
 * <nextuid>"; s[p..end) is what follows the version and its space. */
static int
uidlist_parse_header(struct mail_maildir_uidlist *ul, const char *s,
    size_t p, size_t end, struct mail_err *err)
{
	uint64_t v;

	/* version 1 is also Courier's courierimapuiddb format: exactly two
	 * numbers, both non-zero (IMAP has no UIDVALIDITY 0 nor UID 0) */
	if (ul->version == 1) {
		if (!maildir_parse_dec(s, end, &p, UINT32_MAX, &v) || v == 0 ||
		    p >= end || s[p++] != ' ')
			goto bad_v1;
		ul->uidvalidity = (uint32_t)v;
		if (!maildir_parse_dec(s, end, &p, UINT32_MAX, &v) || v == 0 ||
		    p != end)
			goto bad_v1;
		ul->nextuid = (uint32_t)v;
		return 0;
	}
	/* version 3: space-separated fields, each a key letter and its
	 * value, in any order (Dovecot writes V N G, and keeps fields it
	 * does not know when it rewrites the file) */
	while (p < end) {
		const char *sp = memchr(s + p, ' ', end - p);
		size_t tok_end = sp != NULL ? (size_t)(sp - s) : end;
		size_t q = p + 1;
		char key = s[p];

		if (tok_end == p) {
			p++;		/* a doubled space: harmless */
			continue;
		}
		switch (key) {
		case 'V':
		case 'N':
			if (!maildir_parse_dec(s, tok_end, &q, UINT32_MAX, &v) ||
			    q != tok_end || v == 0)
				return mail_err_set(err, MAIL_ERR_CORRUPT,
				    "line 1: bad '%c' field in the header",
				    key);
			if (key == 'V')
				ul->uidvalidity = (uint32_t)v;
			else
				ul->nextuid = (uint32_t)v;
			break;
		case 'G':
			if (tok_end - q != MAIL_GUID_HEX - 1)
				goto bad_guid;
			{
				char hex[MAIL_GUID_HEX];

				memcpy(hex, s + q, MAIL_GUID_HEX - 1);
				hex[MAIL_GUID_HEX - 1] = '\0';
				if (mail_guid_from_hex(hex, &ul->guid) < 0)
					goto bad_guid;
			}
			ul->has_guid = true;
			break;
		default:
			/* Dovecot keeps header fields it does not know,
			 * and so may a newer version: ignore them */
			break;
		}
		p = tok_end + 1;
	}
	/* Dovecot refuses such a header too ("Broken header") */
	if (ul->uidvalidity == 0 || ul->nextuid == 0)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line 1: header lacks the UIDVALIDITY (V) or NEXTUID (N) "
		    "field");
	return 0;
bad_v1:
	return mail_err_set(err, MAIL_ERR_CORRUPT,
	    "line 1: bad version 1 header (want \"1 UIDVALIDITY NEXTUID\")");
bad_guid:
	return mail_err_set(err, MAIL_ERR_CORRUPT,
	    "line 1: mailbox GUID (G) is not 32 hex digits");
}

/* The fields of a version 3 line after "<uid> ": "<key><value>" tokens
 * up to the one starting with ':', whose rest is the file name. The name
 * is last because it is the one field that may hold spaces. Keys are
 * Dovecot's enum maildir_uidlist_rec_ext_key: G the message GUID (any
 * string), S the file size, W the virtual size, P the POP3 UIDL, O the
 * POP3 order. A bad S or W is an error, not a skip: a line that damaged
 * may have lost the separator between two fields as well. */
static int
uidlist_parse_v3_fields(struct mail_maildir_uidlist_rec *rec, const char *s,
    size_t p, size_t end, struct mail_err *err)
{
	while (p < end && s[p] != ':') {
		const char *sp = memchr(s + p, ' ', end - p);
		size_t tok_end = sp != NULL ? (size_t)(sp - s) : end;
		size_t q = p + 1;
		char key = s[p];

		if (tok_end == p) {
			p++;
			continue;
		}
		switch (key) {
		case 'G':
			if (tok_end == q)
				goto bad;
			rec->guid = s + q;
			rec->guid_len = tok_end - q;
			break;
		case 'S':
		case 'W':
			if (!maildir_parse_dec(s, tok_end, &q, UINT64_MAX,
			    key == 'S' ? &rec->size : &rec->vsize) ||
			    q != tok_end)
				goto bad;
			if (key == 'S')
				rec->has_size = true;
			else
				rec->has_vsize = true;
			break;
		default:
			break;	/* POP3 UIDL (P), order (O), newer ones */
		}
		p = tok_end + 1;
		continue;
bad:
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line %u: bad '%c' field", rec->line, key);
	}
	if (p >= end)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line %u: no \":<file name>\" field", rec->line);
	rec->base = s + p + 1;
	rec->base_len = end - p - 1;
	return 0;
}

static int
uidlist_parse_line(struct mail_maildir_uidlist *ul, const char *s,
    size_t p, size_t end, uint32_t line, struct mail_err *err)
{
	struct mail_maildir_uidlist_rec rec;
	uint32_t prev = ul->n > 0 ? ul->recs[ul->n - 1].uid : 0;
	const char *colon;
	uint64_t v;

	memset(&rec, 0, sizeof(rec));
	rec.line = line;
	/* 2^32-1 is the largest UID RFC 9051 allows, but Dovecot uses it as
	 * "no UID" and refuses it; the store can not hold it either */
	if (!maildir_parse_dec(s, end, &p, UINT32_MAX - 1, &v) || v == 0 ||
	    p >= end || s[p] != ' ')
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line %u: does not start with a UID and a space", line);
	rec.uid = (uint32_t)v;
	p++;
	if (rec.uid <= prev)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line %u: UID %u is not above the previous UID %u", line,
		    rec.uid, prev);
	if (ul->version == 1) {
		/* "<uid> <file name>"; Courier-era files may keep the info
		 * part, which is not part of the identity */
		rec.base = s + p;
		colon = memchr(s + p, ':', end - p);
		rec.base_len = colon != NULL ? (size_t)(colon - (s + p)) :
		    end - p;
	} else if (uidlist_parse_v3_fields(&rec, s, p, end, err) < 0) {
		return -1;
	}
	/* a name no directory entry can have would match no file: the
	 * line is damaged, and its UID would go to waste silently */
	if (rec.base_len == 0 || rec.base_len > MAIL_MAILDIR_NAME_MAX ||
	    memchr(rec.base, '/', rec.base_len) != NULL ||
	    memchr(rec.base, '\0', rec.base_len) != NULL)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line %u: bad file name", line);
	ul->recs = mail_xgrow(ul->recs, &ul->cap, ul->n + 1,
	    sizeof(*ul->recs));
	ul->recs[ul->n++] = rec;
	return 0;
}

int
mail_maildir_uidlist_parse(const void *data, size_t len,
    struct mail_maildir_uidlist *ul, struct mail_err *err)
{
	struct maildir_lines l = { data, len, 0, 0 };
	const char *s = data;
	size_t start, end, p;
	uint64_t v;
	int r;

	memset(ul, 0, sizeof(*ul));
	/* a line is at least "1 :x\n", so the bound also caps the record
	 * array at a quarter of it; callers read no more than this */
	if (len > MAIL_MAILDIR_FILE_MAX)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "dovecot-uidlist over %zu bytes", MAIL_MAILDIR_FILE_MAX);
	if ((r = maildir_next_line(&l, &start, &end)) <= 0)
		return mail_err_set(err, MAIL_ERR_CORRUPT, r == 0 ?
		    "empty file" : "line 1: no newline at the end (truncated?)");
	/* the first number is the format version; 2 was written only by
	 * development versions of Dovecot 1.0 and never released */
	p = start;
	if (!maildir_parse_dec(s, end, &p, 1000, &v) ||
	    (p < end && s[p] != ' '))
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line 1: not a dovecot-uidlist header");
	if (v != 1 && v != 3)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line 1: unsupported dovecot-uidlist version %u",
		    (unsigned)v);
	ul->version = (unsigned)v;
	if (uidlist_parse_header(ul, s, p < end ? p + 1 : p, end, err) < 0)
		goto fail;
	while ((r = maildir_next_line(&l, &start, &end)) == 1) {
		if (uidlist_parse_line(ul, s, start, end, l.line, err) < 0)
			goto fail;
	}
	if (r < 0) {
		mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line %u: no newline at the end (truncated?)", l.line);
		goto fail;
	}
	/* Dovecot appends lines without rewriting the header, so NEXTUID
	 * may lag behind; it is never below what is in use */
	if (ul->n > 0 && ul->recs[ul->n - 1].uid >= ul->nextuid)
		ul->nextuid = ul->recs[ul->n - 1].uid + 1;
	/* n + 1: never a zero-sized allocation, never qsort() of NULL */
	ul->by_base = mail_xcalloc(ul->n + 1, sizeof(*ul->by_base));
	for (size_t i = 0; i < ul->n; i++)
		ul->by_base[i] = i;
	qsort_r(ul->by_base, ul->n, sizeof(*ul->by_base), uidlist_cmp_base,
	    ul->recs);
	/* Two lines for one file would give it two UIDs; Dovecot calls the
	 * file "duplicate" and rebuilds. Sorted by base, equal names are
	 * neighbors, and the later line is the one to report. */
	for (size_t i = 1; i < ul->n; i++) {
		const struct mail_maildir_uidlist_rec *a, *b;

		a = &ul->recs[ul->by_base[i - 1]];
		b = &ul->recs[ul->by_base[i]];
		if (a->base_len == b->base_len &&
		    memcmp(a->base, b->base, a->base_len) == 0) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "line %u: file name of line %u again", b->line,
			    a->line);
			goto fail;
		}
	}
	return 0;
fail:
	mail_maildir_uidlist_free(ul);
	return -1;
}

/* Binary search over by_base with the same order as uidlist_cmp_base;
 * names are unique, so the line tie-break never matters here. */
const struct mail_maildir_uidlist_rec *
mail_maildir_uidlist_find(const struct mail_maildir_uidlist *ul,
    const char *base, size_t len)
{
	size_t lo = 0, hi = ul->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mail_maildir_uidlist_rec *r =
		    &ul->recs[ul->by_base[mid]];
		size_t n = r->base_len < len ? r->base_len : len;
		int c = memcmp(r->base, base, n);

		if (c == 0 && r->base_len != len)
			c = r->base_len < len ? -1 : 1;
		if (c == 0)
			return r;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
mail_maildir_uidlist_free(struct mail_maildir_uidlist *ul)
{
	free(ul->recs);
	free(ul->by_base);
	memset(ul, 0, sizeof(*ul));
}

/* ---- dovecot-keywords ---- */

int
mail_maildir_keywords_parse(const void *data, size_t len,
    struct mail_maildir_keywords *kw, struct mail_err *err)
{
	struct maildir_lines l = { data, len, 0, 0 };
	const char *s = data;
	size_t start, end;
	int r;

	memset(kw, 0, sizeof(*kw));
	if (len > MAIL_MAILDIR_FILE_MAX)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "dovecot-keywords over %zu bytes", MAIL_MAILDIR_FILE_MAX);
	/* Dovecot writes "<index> <name>" lines for the 26 letters a..z and
	 * reads them back leniently; empty lines are the only slack kept
	 * here. Anything else wrong would make flags mean other keywords. */
	while ((r = maildir_next_line(&l, &start, &end)) == 1) {
		size_t p = start;
		uint64_t idx;

		if (start == end)
			continue;
		if (!maildir_parse_dec(s, end, &p, 99, &idx) ||
		    p - start > 2 || p >= end || s[p] != ' ') {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "line %u: not \"<index> <keyword>\"", l.line);
			goto fail;
		}
		p++;
		if (idx >= MAIL_MAILDIR_KEYWORDS) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "line %u: keyword index %u is not 0..%d", l.line,
			    (unsigned)idx, MAIL_MAILDIR_KEYWORDS - 1);
			goto fail;
		}
		if (kw->names[idx] != NULL) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "line %u: keyword index %u given twice", l.line,
			    (unsigned)idx);
			goto fail;
		}
		if (end == p || end - p > MAIL_KEYWORD_MAX_LEN) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "line %u: keyword is empty or over %d bytes",
			    l.line, MAIL_KEYWORD_MAX_LEN);
			goto fail;
		}
		/* IMAP keywords are atoms: whether the name is one the
		 * store takes (mail_keyword_valid) is the importer's call,
		 * but bytes that could not be in any atom mean damage */
		for (size_t i = p; i < end; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c <= 0x20 || c >= 0x7f) {
				mail_err_set(err, MAIL_ERR_CORRUPT,
				    "line %u: keyword holds a space, control "
				    "or 8-bit byte", l.line);
				goto fail;
			}
		}
		kw->names[idx] = mail_xstrndup(s + p, end - p);
	}
	if (r < 0) {
		mail_err_set(err, MAIL_ERR_CORRUPT,
		    "line %u: no newline at the end (truncated?)", l.line);
		goto fail;
	}
	return 0;
fail:
	mail_maildir_keywords_free(kw);
	return -1;
}

void
mail_maildir_keywords_free(struct mail_maildir_keywords *kw)
{
	for (size_t i = 0; i < MAIL_MAILDIR_KEYWORDS; i++) {
		free(kw->names[i]);
		kw->names[i] = NULL;
	}
}

/* ---- modified UTF-7 (RFC 3501 5.1.3) ---- */

/* RFC 2045 base64 with ',' in place of '/'. */
static const char mutf7_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static void
utf8_put(struct mail_buf *out, uint32_t cp)
{
	uint8_t b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	mail_buf_append(out, b, n);
}

/* Decode the shifted run s[start..end) (between '&' and '-'): modified
 * base64 of UTF-16BE. Bits collect in an accumulator that never needs
 * more than 6 + 15 bits; every 16 make a code unit. A high surrogate
 * waits for its low one, which must follow in the same run.
 *
 * The checks make each name have exactly one spelling, so that the
 * folder names, subscriptions and uidlists of one tree agree on it and a
 * hostile tree can not smuggle "/" or ".." in as encoded ASCII. */
static int
mutf7_decode_run(const char *s, size_t start, size_t end,
    struct mail_buf *out, struct mail_err *err)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;

	for (size_t i = start; i < end; i++) {
		int v = mail_base64_value(s[i], ',');
		uint32_t u;

		if (v < 0)
			return mail_err_set(err, MAIL_ERR_CORRUPT,
			    "invalid modified UTF-7: bad base64 byte 0x%02x",
			    (unsigned char)s[i]);
		bits = (bits << 6 | (uint32_t)v) & 0x3fffff;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		u = (bits >> nbits) & 0xffff;
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				goto bad_surrogate;
			utf8_put(out, 0x10000 + ((high - 0xd800) << 10) +
			    (u - 0xdc00));
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			goto bad_surrogate;
		} else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
			/* printable ASCII must stand for itself, so that
			 * every name has one spelling */
			return mail_err_set(err, MAIL_ERR_CORRUPT,
			    "invalid modified UTF-7: encodes U+%04X", u);
		} else {
			utf8_put(out, u);
		}
	}
	if (high != 0)
		goto bad_surrogate;
	/* padding: fewer than 6 bits left over, all zero */
	if (nbits >= 6 || (bits & ((1U << nbits) - 1)) != 0)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "invalid modified UTF-7: bad padding");
	return 0;
bad_surrogate:
	return mail_err_set(err, MAIL_ERR_CORRUPT,
	    "invalid modified UTF-7: unpaired surrogate");
}

int
mail_maildir_mutf7_decode(const char *src, size_t len, struct mail_buf *out,
    struct mail_err *err)
{
	size_t i = 0;

	/* Adjacent runs ("&AOQ-&APY-") are accepted although an encoder
	 * would merge them: they decode to one unambiguous string, and
	 * Dovecot accepts them too. */
	while (i < len) {
		unsigned char c = (unsigned char)src[i];
		const char *dash;

		if (c < 0x20 || c > 0x7e)
			return mail_err_set(err, MAIL_ERR_CORRUPT,
			    "invalid modified UTF-7: byte 0x%02x", c);
		if (c != '&') {
			mail_buf_append(out, &c, 1);
			i++;
			continue;
		}
		dash = memchr(src + i + 1, '-', len - i - 1);
		if (dash == NULL)
			return mail_err_set(err, MAIL_ERR_CORRUPT,
			    "invalid modified UTF-7: '&' without '-'");
		if (dash == src + i + 1) {
			mail_buf_append(out, "&", 1);	/* "&-" */
		} else if (mutf7_decode_run(src, i + 1, (size_t)(dash - src),
		    out, err) < 0) {
			return -1;
		}
		i = (size_t)(dash - src) + 1;
	}
	return 0;
}

/* Next code point of valid UTF-8 at s[*i]. */
static uint32_t
utf8_next(const unsigned char *s, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp;
	size_t n;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
	cp = c & (0x7f >> n);
	for (size_t k = 1; k < n; k++)
		cp = cp << 6 | (s[*i + k] & 0x3f);
	*i += n;
	return cp;
}

/* Add one UTF-16 unit to a shifted run: 16 bits in, a base64 letter out
 * for every 6 collected. At most 5 bits wait between units. */
static void
mutf7_put_unit(struct mail_buf *out, uint32_t *bits, unsigned *nbits,
    uint32_t u)
{
	*bits = (*bits << 16 | u) & 0x3fffff;
	*nbits += 16;
	while (*nbits >= 6) {
		*nbits -= 6;
		mail_buf_append(out, &mutf7_b64[(*bits >> *nbits) & 0x3f], 1);
	}
}

int
mail_maildir_mutf7_encode(const char *src, size_t len, struct mail_buf *out,
    struct mail_err *err)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0;

	/* validated first, so utf8_next() below can trust the lengths */
	if (!mail_utf8_valid(src, len) || memchr(src, '\0', len) != NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "'%.*s' is not valid UTF-8", (int)(len > 64 ? 64 : len),
		    src);
	while (i < len) {
		uint32_t bits = 0;
		unsigned nbits = 0;

		if (s[i] >= 0x20 && s[i] <= 0x7e) {
			mail_buf_append(out, s[i] == '&' ? "&-" : (const
			    char *)&s[i], s[i] == '&' ? 2 : 1);
			i++;
			continue;
		}
		/* one shifted run for all consecutive non-printables */
		mail_buf_append(out, "&", 1);
		while (i < len && !(s[i] >= 0x20 && s[i] <= 0x7e)) {
			uint32_t cp = utf8_next(s, &i);

			if (cp >= 0x10000) {
				cp -= 0x10000;
				mutf7_put_unit(out, &bits, &nbits,
				    0xd800 + (cp >> 10));
				mutf7_put_unit(out, &bits, &nbits,
				    0xdc00 + (cp & 0x3ff));
			} else {
				mutf7_put_unit(out, &bits, &nbits, cp);
			}
		}
		/* the last bits, zero-padded to a letter; the decoder
		 * insists on the zeros, so padding is part of the one
		 * spelling */
		if (nbits > 0)
			mail_buf_append(out,
			    &mutf7_b64[(bits << (6 - nbits)) & 0x3f], 1);
		/* always closed with '-', even at the end of the string,
		 * as RFC 3501 asks (RFC 2152 UTF-7 may leave it out) */
		mail_buf_append(out, "-", 1);
	}
	return 0;
}

/* ---- folder names ---- */

/*
 * Maildir++ keeps every folder as one directory below the root, ".A.B"
 * for A/B: '.' separates the components, so a '.' inside a component
 * needs an escape. Dovecot refuses such names unless its listescape
 * plugin is loaded, which writes "\2e"; we write and read the same. The
 * components are modified UTF-7 unless Dovecot runs with ":UTF-8".
 */

/* Undo listescape's "\XX" in component s[0..len), appending to out. Only
 * printable ASCII other than '/' comes out of an escape: a '/' would
 * change the hierarchy, a control character is no valid name. */
static void
folder_unescape(const char *s, size_t len, struct mail_buf *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '\\' && len - i >= 3 &&
		    (hi = mail_hex_value(s[i + 1])) >= 0 &&
		    (lo = mail_hex_value(s[i + 2])) >= 0 &&
		    hi * 16 + lo >= 0x20 && hi * 16 + lo <= 0x7e &&
		    hi * 16 + lo != '/') {
			char c = (char)(hi * 16 + lo);

			mail_buf_append(out, &c, 1);
			i += 2;
			continue;
		}
		mail_buf_append(out, &s[i], 1);
	}
}

/* Decode one folder name component s[0..len) and append it to out. */
static int
folder_component_decode(const char *s, size_t len, struct mail_buf *out,
    struct mail_err *err)
{
	struct mail_buf tmp = MAIL_BUF_INIT;
	bool raw_utf8 = false;
	int ret = -1;

	if (len == 0)
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "empty folder name component");
	/* Dovecot's ":UTF-8" option stores names as UTF-8; modified UTF-7
	 * never holds 8-bit bytes, so the two can not be confused */
	for (size_t i = 0; i < len && !raw_utf8; i++)
		raw_utf8 = (unsigned char)s[i] >= 0x80;
	if (raw_utf8) {
		if (!mail_utf8_valid(s, len) || memchr(s, '\0', len) != NULL) {
			mail_err_set(err, MAIL_ERR_CORRUPT,
			    "folder name is neither modified UTF-7 nor UTF-8");
			goto out;
		}
		mail_buf_append(&tmp, s, len);
	} else if (mail_maildir_mutf7_decode(s, len, &tmp, err) < 0) {
		goto out;
	}
	if (tmp.len > 0 && memchr(tmp.data, '/', tmp.len) != NULL) {
		mail_err_set(err, MAIL_ERR_CORRUPT,
		    "folder name component '%.*s' holds '/'", (int)tmp.len,
		    (const char *)tmp.data);
		goto out;
	}
	folder_unescape((const char *)tmp.data, tmp.len, out);
	ret = 0;
out:
	mail_buf_free(&tmp);
	return ret;
}

/* Decode components of s[0..len) separated by sep, joined with '/'. An
 * empty component (".A..B", ".A.") is an error here rather than a name
 * check later, as it would map two directories to one name. */
static int
folder_components_decode(const char *s, size_t len, char sep,
    struct mail_buf *out, struct mail_err *err)
{
	size_t p = 0;

	for (;;) {
		const char *e = memchr(s + p, sep, len - p);
		size_t end = e != NULL ? (size_t)(e - s) : len;

		if (folder_component_decode(s + p, end - p, out, err) < 0)
			return -1;
		if (e == NULL)
			return 0;
		mail_buf_append(out, "/", 1);
		p = end + 1;
	}
}

int
mail_maildir_folder_to_name(const char *dir, size_t len,
    struct mail_buf *out, struct mail_err *err)
{
	if (len < 2 || dir[0] != '.')
		return mail_err_set(err, MAIL_ERR_CORRUPT,
		    "'%.*s' is not a Maildir++ folder name",
		    (int)(len > 64 ? 64 : len), dir);
	return folder_components_decode(dir + 1, len - 1, '.', out, err);
}

/* Escape and encode one component of a mailbox name. */
static int
folder_component_encode(const char *s, size_t len, struct mail_buf *out,
    struct mail_err *err)
{
	struct mail_buf tmp = MAIL_BUF_INIT;
	int ret;

	if (len == 0)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "empty mailbox name component");
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.')
			mail_buf_append_str(&tmp, "\\2e");
		else if (s[i] == '\\')
			mail_buf_append_str(&tmp, "\\5c");
		else
			mail_buf_append(&tmp, &s[i], 1);
	}
	ret = mail_maildir_mutf7_encode((const char *)tmp.data, tmp.len, out,
	    err);
	mail_buf_free(&tmp);
	return ret;
}

int
mail_maildir_name_to_folder(const char *name, struct mail_buf *out,
    struct mail_err *err)
{
	size_t len = strlen(name), p = 0;

	mail_buf_append(out, ".", 1);
	for (;;) {
		const char *e = memchr(name + p, '/', len - p);
		size_t end = e != NULL ? (size_t)(e - name) : len;

		if (folder_component_encode(name + p, end - p, out, err) < 0)
			return -1;
		if (e == NULL)
			return 0;
		mail_buf_append(out, ".", 1);
		p = end + 1;
	}
}

/* ---- subscriptions ---- */

/* Dovecot 2.2+ writes this header and then separates components with TAB,
 * so the file does not depend on the namespace's separator; files
 * without it (older versions) use the list's separator, '.' here. */
static const char subs_v2_header[] = "V\t2\n\n";

/* Undo Dovecot's tab-escaping (str_append_tabescaped: \001 1, \001 t,
 * \001 r, \001 n) of s[0..len), appending to out. */
static bool
subs_tab_unescape(const char *s, size_t len, struct mail_buf *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\001') {
			if (++i == len)
				return false;
			switch (s[i]) {
			case '1':
				c = '\001';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			default:
				return false;
			}
		}
		mail_buf_append(out, &c, 1);
	}
	return true;
}

/* One subscriptions line to a mailbox name in out; false if it does not
 * decode to a valid name. */
static bool
subs_line_decode(const char *s, size_t len, bool v2, struct mail_buf *out)
{
	/* A subscription may name a mailbox that does not exist, or one
	 * another program wrote in a spelling we do not take; such a line
	 * costs one subscription, never the import. */
	struct mail_buf comp = MAIL_BUF_INIT;
	struct mail_err err;
	size_t p = 0;
	bool ok = false;

	if (!v2) {
		if (folder_components_decode(s, len, '.', out, &err) < 0)
			return false;
	} else {
		for (;;) {
			const char *e = memchr(s + p, '\t', len - p);
			size_t end = e != NULL ? (size_t)(e - s) : len;

			mail_buf_reset(&comp);
			if (!subs_tab_unescape(s + p, end - p, &comp) ||
			    folder_component_decode((const char *)comp.data,
			    comp.len, out, &err) < 0)
				goto out;
			if (e == NULL)
				break;
			mail_buf_append(out, "/", 1);
			p = end + 1;
		}
	}
	ok = out->len > 0 && mail_mailbox_name_check((const char *)out->data,
	    &err) == 0;
out:
	mail_buf_free(&comp);
	return ok;
}

int
mail_maildir_subscriptions_parse(const void *data, size_t len, size_t limit,
    char ***names_r, size_t *n_r, size_t *skipped_r, struct mail_err *err)
{
	const char *s = data;
	struct mail_buf name = MAIL_BUF_INIT;
	char **names = NULL;
	size_t n = 0, cap = 0, p = 0, lines = 0;
	bool v2 = false;

	*names_r = NULL;
	*n_r = 0;
	*skipped_r = 0;
	/* only the exact header counts, as in Dovecot: a v1 file whose
	 * first name happened to start "V<TAB>2" can not exist, since
	 * names hold no TAB */
	if (len >= sizeof(subs_v2_header) - 1 &&
	    memcmp(s, subs_v2_header, sizeof(subs_v2_header) - 1) == 0) {
		v2 = true;
		p = sizeof(subs_v2_header) - 1;
	}
	/* Dovecot reads this file with partial last lines allowed, so a
	 * last name without LF counts */
	while (p < len) {
		const char *nl = memchr(s + p, '\n', len - p);
		size_t end = nl != NULL ? (size_t)(nl - s) : len;

		if (end > p) {
			if (++lines > limit) {
				mail_buf_free(&name);
				mail_maildir_names_free(names, n);
				return mail_err_set(err, MAIL_ERR_LIMIT,
				    "more than %zu subscriptions", limit);
			}
			mail_buf_reset(&name);
			if (subs_line_decode(s + p, end - p, v2, &name)) {
				names = mail_xgrow(names, &cap, n + 1,
				    sizeof(*names));
				names[n++] = mail_buf_steal_str(&name);
			} else {
				(*skipped_r)++;
			}
		}
		p = end + 1;
	}
	mail_buf_free(&name);
	*names_r = names;
	*n_r = n;
	return 0;
}

int
mail_maildir_subscriptions_format(char *const *names, size_t n,
    struct mail_buf *out, struct mail_err *err)
{
	struct mail_buf comp = MAIL_BUF_INIT;
	int ret = -1;

	/* always version 2: Dovecot 2.2 and later read it, and TAB between
	 * components keeps a '.' inside a name unambiguous */
	mail_buf_append_str(out, subs_v2_header);
	for (size_t i = 0; i < n; i++) {
		const char *s = names[i];
		size_t len = strlen(s), p = 0;

		for (;;) {
			const char *e = memchr(s + p, '/', len - p);
			size_t end = e != NULL ? (size_t)(e - s) : len;

			mail_buf_reset(&comp);
			if (folder_component_encode(s + p, end - p, &comp,
			    err) < 0)
				goto out;
			/* modified UTF-7 is printable ASCII: nothing for the
			 * tab-escaping to do */
			mail_buf_append(out, comp.data, comp.len);
			if (e == NULL)
				break;
			mail_buf_append(out, "\t", 1);
			p = end + 1;
		}
		mail_buf_append(out, "\n", 1);
	}
	ret = 0;
out:
	mail_buf_free(&comp);
	return ret;
}

void
mail_maildir_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
