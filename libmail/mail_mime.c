/*
 * mail_mime.c: the MIME part tree of a message and the IMAP views of it
 * (BODYSTRUCTURE, ENVELOPE, sections, decoded bodies).
 *
 * The parser is one forward pass over the lines of the message (a line
 * ends at LF; a CR before it belongs to the line end). It keeps a stack of
 * the parts that are open, innermost last; the stack index is the part's
 * depth. A line is looked at for two things only: whether it is a
 * boundary line of an open multipart, and, while the innermost part is in
 * its header, whether it is the empty line ending the header. Bodies are
 * never copied; a part records positions, each with the number of LFs and
 * bare LFs before it, so body lines and vsizes are differences of counts.
 *
 * Invariants: a part's header and body tile [hdr_offset, body end); a
 * child lies inside its parent's body; siblings are in message order and
 * do not overlap. RFC 2046 5.1.1: the line end before a boundary line
 * belongs to the boundary, so a part ends before it, but never before its
 * own start (the line end may be the blank line ending its header).
 *
 * All strings of a tree come from one pool that mail_mime_free() drops at
 * once; the root part is the first member of the tree, so the root
 * pointer is all the caller holds.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_header.h"
#include "mail_mime.h"

/* ---- the pool ---- */

#define MIME_POOL_ALIGN	16
#define MIME_POOL_BLOCK	8192

struct mime_block {
	struct mime_block *next;
	size_t	 used, cap;
	unsigned char data[] __attribute__((aligned(MIME_POOL_ALIGN)));
};

struct mail_mime_tree {
	struct mail_mime_part root;	/* first: the caller's pointer */
	struct mime_block *blocks;
};

/* Zeroed memory from the tree's pool; aborts on OOM like mail_xmalloc. */
static void *
mime_alloc(struct mail_mime_tree *t, size_t n)
{
	struct mime_block *b = t->blocks;
	size_t cap;
	void *p;

	if (n > SIZE_MAX - MIME_POOL_BLOCK)
		mail_assert(!"mime pool allocation too large");
	n = (n + MIME_POOL_ALIGN - 1) & ~(size_t)(MIME_POOL_ALIGN - 1);
	if (b == NULL || b->cap - b->used < n) {
		cap = n > MIME_POOL_BLOCK ? n : MIME_POOL_BLOCK;
		b = mail_xcalloc(1, sizeof(*b) + cap);
		b->cap = cap;
		b->next = t->blocks;
		t->blocks = b;
	}
	p = b->data + b->used;
	b->used += n;
	return p;
}

static char *
mime_strndup(struct mail_mime_tree *t, const void *s, size_t n)
{
	char *p = mime_alloc(t, n + 1);

	if (n > 0)
		memcpy(p, s, n);
	return p;
}

static char *
mime_strdup(struct mail_mime_tree *t, const char *s)
{
	return s == NULL ? NULL : mime_strndup(t, s, strlen(s));
}

/* ---- small helpers ---- */

/* Stands in for a NULL msg of length 0, so offsets can be added to it. */
static const uint8_t mime_empty_msg[1];

#define MIME_IS_WSP(c)	((c) == ' ' || (c) == '\t')
#define MIME_IS_SPACE(c) \
	((c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

/* ASCII-only case folding: locale-independent, as protocol text needs. */
static int
mime_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* a[0..an) equals b[0..bn), ASCII case-insensitive. */
static bool
mime_eq_n(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++) {
		if (mime_lower((unsigned char)a[i]) !=
		    mime_lower((unsigned char)b[i]))
			return false;
	}
	return true;
}

static bool
mime_eq(const char *a, const char *b)
{
	return a != NULL && mime_eq_n(a, strlen(a), b, strlen(b));
}

/* ---- parsing header values: RFC 2045 tokens, quoted strings, CFWS ---- */

/* RFC 2045 5.1 tspecials. 8-bit bytes count as token characters: real
 * mail has them and refusing them helps nobody. */
static bool
mime_is_token(unsigned char c)
{
	return c > 0x20 && c != 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skip whitespace and comments. Comments nest (RFC 5322 3.2.2); the
 * depth is a counter and an unterminated comment runs to the end. */
static const char *
mime_skip_cfws(const char *p)
{
	size_t depth;

	for (;;) {
		while (MIME_IS_SPACE(*p))
			p++;
		if (*p != '(')
			return p;
		depth = 0;
		for (; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

static size_t
mime_token_len(const char *p)
{
	size_t n = 0;

	while (mime_is_token((unsigned char)p[n]))
		n++;
	return n;
}

/* Append the content of the quoted string at p (which is at '"') to out,
 * backslash escapes resolved. An unterminated string runs to the end.
 * Returns the byte after it. */
static const char *
mime_quoted(const char *p, struct mail_buf *out)
{
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		mail_buf_put_u8(out, (uint8_t)*p);
	}
	return *p == '"' ? p + 1 : p;
}

/* Skip to the next ';' outside quoted strings and comments. */
static const char *
mime_skip_to_semicolon(const char *p)
{
	struct mail_buf junk = MAIL_BUF_INIT;

	while (*p != '\0' && *p != ';') {
		if (*p == '"') {
			p = mime_quoted(p, &junk);
			mail_buf_truncate(&junk, 0);
		} else if (*p == '(')
			p = mime_skip_cfws(p);
		else
			p++;
	}
	mail_buf_free(&junk);
	return p;
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) ---- */

/* One "name=value" as it stood, before RFC 2231 joins sections. */
struct mime_rawparam {
	const char *name;	/* into the header value */
	size_t	 nlen;		/* whole name */
	size_t	 blen;		/* name without the RFC 2231 suffix */
	size_t	 voff, vlen;	/* value in the scratch buffer */
	long	 section;	/* "name*N": N; else -1 */
	bool	 encoded;	/* ends in '*': charset'lang'%XX */
	bool	 extended;	/* any RFC 2231 suffix */
	size_t	 idx;		/* position in the field */
};

struct mime_params {
	struct mime_rawparam *raw;
	size_t	 n, cap;
	struct mail_buf vals;	/* all values, back to back */
};

/*
 * Split an RFC 2231 suffix off a parameter name: "t*" (encoded), "t*3"
 * (section 3), "t*3*" (both). Section numbers are capped so the sort key
 * stays small; a name that is only a suffix stays a plain parameter.
 */
static void
mime_param_suffix(struct mime_rawparam *rp)
{
	size_t n = rp->nlen, digits = 0;
	long sec = 0;

	rp->blen = n;
	rp->section = -1;
	if (n > 1 && rp->name[n - 1] == '*') {
		rp->encoded = true;
		n--;
	}
	while (digits < n && rp->name[n - 1 - digits] >= '0' &&
	    rp->name[n - 1 - digits] <= '9')
		digits++;
	if (digits > 0 && digits <= 4 && n - digits > 1 &&
	    rp->name[n - 1 - digits] == '*') {
		for (size_t i = n - digits; i < n; i++)
			sec = sec * 10 + (rp->name[i] - '0');
		rp->section = sec;
		n -= digits + 1;
	} else if (!rp->encoded)
		return;
	rp->extended = true;
	rp->blen = n;
}

/* A value that is not quoted: a run up to ';', whitespace or a comment.
 * If anything but CFWS follows before the next ';' ("name=a b.jpg"), the
 * sender forgot the quotes and the value runs to the ';'. */
static const char *
mime_param_token_value(const char *p, struct mail_buf *out)
{
	const char *v = p, *q;
	size_t n;

	while (*p != '\0' && *p != ';' && !MIME_IS_SPACE(*p) && *p != '(' &&
	    *p != '"')
		p++;
	n = (size_t)(p - v);
	q = mime_skip_cfws(p);
	if (*q != '\0' && *q != ';') {
		while (*q != '\0' && *q != ';')
			q++;
		p = q;
		while (q > v && MIME_IS_SPACE(q[-1]))
			q--;
		n = (size_t)(q - v);
	}
	mail_buf_append(out, v, n);
	return p;
}

/* Collect the "; name=value" list at p. Anything unparsable up to the
 * next ';' is skipped, as are parameters without a name or '='. */
static void
mime_params_scan(const char *p, struct mime_params *ps)
{
	struct mime_rawparam *rp;
	const char *name;
	size_t nlen, voff;

	/* allocated even if every value is empty, so data is never NULL */
	mail_buf_reserve(&ps->vals, 0);
	for (;;) {
		p = mime_skip_to_semicolon(p);
		if (*p == '\0')
			return;
		name = mime_skip_cfws(p + 1);
		nlen = mime_token_len(name);
		p = mime_skip_cfws(name + nlen);
		if (nlen == 0 || *p != '=')
			continue;
		p = mime_skip_cfws(p + 1);
		voff = ps->vals.len;
		if (*p == '"')
			p = mime_quoted(p, &ps->vals);
		else
			p = mime_param_token_value(p, &ps->vals);
		ps->raw = mail_xgrow(ps->raw, &ps->cap, ps->n + 1,
		    sizeof(*ps->raw));
		rp = &ps->raw[ps->n];
		memset(rp, 0, sizeof(*rp));
		rp->name = name;
		rp->nlen = nlen;
		rp->voff = voff;
		rp->vlen = ps->vals.len - voff;
		rp->idx = ps->n++;
		mime_param_suffix(rp);
	}
}

/* Sort key for RFC 2231 sections: base name, section, position. */
static int
mime_section_cmp(const void *a, const void *b)
{
	const struct mime_rawparam *x = *(const struct mime_rawparam *const *)a;
	const struct mime_rawparam *y = *(const struct mime_rawparam *const *)b;
	size_t n = x->blen < y->blen ? x->blen : y->blen;
	int c;

	for (size_t i = 0; i < n; i++) {
		c = mime_lower((unsigned char)x->name[i]) -
		    mime_lower((unsigned char)y->name[i]);
		if (c != 0)
			return c;
	}
	if (x->blen != y->blen)
		return x->blen < y->blen ? -1 : 1;
	if (x->section != y->section)
		return x->section < y->section ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* RFC 2231 4: "%XX" is a byte; a '%' not followed by two hex digits is
 * kept as it is. */
static void
mime_pct_decode(const uint8_t *p, size_t n, struct mail_buf *out)
{
	int hi, lo;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '%' && i + 2 < n &&
		    (hi = mail_hex_value((char)p[i + 1])) >= 0 &&
		    (lo = mail_hex_value((char)p[i + 2])) >= 0) {
			mail_buf_put_u8(out, (uint8_t)(hi << 4 | lo));
			i += 2;
		} else
			mail_buf_put_u8(out, p[i]);
	}
}

/*
 * Convert n bytes in charset cs to UTF-8 through mail_header's RFC 2047
 * decoder, so there is one set of charset tables: the bytes become one
 * Q-encoded word. Returns a malloc'ed string, or NULL when the charset is
 * not one the decoder knows (it then leaves a probe word undecoded).
 */
static char *
mime_to_utf8(const char *cs, const uint8_t *p, size_t n)
{
	struct mail_buf w = MAIL_BUF_INIT;
	char hex[3] = { '=', 0, 0 }, *s;

	for (const char *c = cs; *c != '\0'; c++) {
		if (*c == '?' || (unsigned char)*c <= ' ' ||
		    (unsigned char)*c >= 0x7f)
			return NULL;
	}
	if (*cs == '\0' || strlen(cs) > 64)
		return NULL;
	mail_buf_printf(&w, "=?%s?Q?\?=", cs);
	s = mail_header_decode_words((const char *)w.data);
	if (*s != '\0') {
		free(s);
		mail_buf_free(&w);
		return NULL;
	}
	free(s);
	mail_buf_truncate(&w, 0);
	mail_buf_printf(&w, "=?%s?Q?", cs);
	for (size_t i = 0; i < n; i++) {
		hex[1] = "0123456789ABCDEF"[p[i] >> 4];
		hex[2] = "0123456789ABCDEF"[p[i] & 15];
		mail_buf_append(&w, hex, 3);
	}
	mail_buf_append_str(&w, "?=");
	s = mail_header_decode_words((const char *)w.data);
	mail_buf_free(&w);
	return s;
}

/* Raw bytes as a C string: NULs become 0x80, as mail_header does. */
static char *
mime_raw_str(struct mail_mime_tree *t, const uint8_t *p, size_t n)
{
	char *s = mime_strndup(t, p, n);

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0')
			s[i] = (char)0x80;
	}
	return s;
}

/*
 * Join the sorted sections g[0..n) of one RFC 2231 parameter into out.
 * The first section, if encoded, starts with charset'language' (RFC 2231
 * 4); encoded sections are percent-decoded, others taken as they are. A
 * repeated section number is ignored; gaps are tolerated.
 */
static void
mime_param_join(struct mail_mime_tree *t, const struct mime_params *ps,
    struct mime_rawparam *const *g, size_t n, struct mail_mime_param *out)
{
	struct mail_buf v = MAIL_BUF_INIT;
	const uint8_t *p, *q1, *q2;
	size_t len;
	char *cs = NULL, *u;

	for (size_t i = 0; i < n; i++) {
		if (i > 0 && g[i]->section == g[i - 1]->section)
			continue;
		p = ps->vals.data + g[i]->voff;
		len = g[i]->vlen;
		if (!g[i]->encoded) {
			mail_buf_append(&v, p, len);
			continue;
		}
		if (i == 0 && (q1 = memchr(p, '\'', len)) != NULL &&
		    (q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - p))) !=
		    NULL) {
			if (q1 > p)
				cs = mime_raw_str(t, p, (size_t)(q1 - p));
			if (q2 > q1 + 1)
				out->language = mime_raw_str(t, q1 + 1,
				    (size_t)(q2 - q1 - 1));
			len -= (size_t)(q2 + 1 - p);
			p = q2 + 1;
		}
		mime_pct_decode(p, len, &v);
	}
	out->name = mime_strndup(t, g[0]->name, g[0]->blen);
	out->flags = MAIL_MIME_PARAM_EXTENDED;
	out->charset = cs;
	if (cs != NULL && (u = mime_to_utf8(cs, v.data, v.len)) != NULL) {
		out->value = mime_strdup(t, u);
		free(u);
	} else {
		if (cs != NULL)
			out->flags |= MAIL_MIME_PARAM_RAW;
		out->value = mime_raw_str(t, v.data, v.len);
	}
	mail_buf_free(&v);
}

/*
 * Turn the parameter list at p (after the type) into the tree's array.
 * RFC 2231 sections are grouped by a sort, which keeps this O(n log n)
 * for headers with very many parameters; each group is emitted at the
 * place of its first member.
 */
static void
mime_params_parse(struct mail_mime_tree *t, const char *p,
    const struct mail_mime_param **params_r, size_t *n_r)
{
	struct mime_params ps = { NULL, 0, 0, MAIL_BUF_INIT };
	struct mime_rawparam **sorted = NULL;
	size_t *group = NULL, nsorted = 0, i, j, n = 0;
	struct mail_mime_param *out;

	*params_r = NULL;
	*n_r = 0;
	mime_params_scan(p, &ps);
	if (ps.n == 0)
		goto out;
	sorted = mail_xcalloc(ps.n, sizeof(*sorted));
	/* group[i]: 1 + start in sorted[] if raw[i] begins a group of
	 * sections, SIZE_MAX if it is a later section, 0 otherwise. */
	group = mail_xcalloc(ps.n, sizeof(*group));
	for (i = 0; i < ps.n; i++) {
		if (ps.raw[i].section >= 0)
			sorted[nsorted++] = &ps.raw[i];
	}
	mail_qsort(sorted, nsorted, sizeof(*sorted), mime_section_cmp);
	for (i = 0; i < nsorted; i = j) {
		size_t first = sorted[i]->idx;

		for (j = i + 1; j < nsorted && mime_eq_n(sorted[i]->name,
		    sorted[i]->blen, sorted[j]->name, sorted[j]->blen); j++) {
			if (sorted[j]->idx < first)
				first = sorted[j]->idx;
		}
		for (size_t k = i; k < j; k++)
			group[sorted[k]->idx] = SIZE_MAX;
		group[first] = i + 1;
	}
	out = mime_alloc(t, ps.n * sizeof(*out));
	for (i = 0; i < ps.n; i++) {
		struct mime_rawparam *rp = &ps.raw[i];

		if (group[i] == SIZE_MAX)
			continue;
		if (group[i] > 0) {
			for (j = group[i]; j < nsorted && mime_eq_n(rp->name,
			    rp->blen, sorted[j]->name, sorted[j]->blen); j++)
				;
			mime_param_join(t, &ps, sorted + group[i] - 1,
			    j - (group[i] - 1), &out[n++]);
		} else if (rp->extended) {
			mime_param_join(t, &ps, &rp, 1, &out[n++]);
		} else {
			out[n].name = mime_strndup(t, rp->name, rp->nlen);
			out[n++].value = mime_raw_str(t,
			    ps.vals.data + rp->voff, rp->vlen);
		}
	}
	*params_r = out;
	*n_r = n;
out:
	free(sorted);
	free(group);
	free(ps.raw);
	mail_buf_free(&ps.vals);
}

/* ---- the content fields of one header ---- */

/* The header fields mime reads, by name. */
struct mime_fields {
	const char *type, *encoding, *id, *description, *md5;
	const char *disposition, *language, *location;
	bool	 mime_version;	/* MIME-Version was there */
};

/* Parse "type/subtype; params" (RFC 2045 5.1). Returns false when it is
 * not a valid type, so the caller applies the default (RFC 2045 5.2). */
static bool
mime_content_type(struct mail_mime_tree *t, struct mail_mime_part *part,
    const char *value)
{
	const char *p = mime_skip_cfws(value), *type, *sub;
	size_t tlen, slen;

	type = p;
	tlen = mime_token_len(p);
	p = mime_skip_cfws(p + tlen);
	if (tlen == 0 || *p != '/')
		return false;
	sub = mime_skip_cfws(p + 1);
	slen = mime_token_len(sub);
	if (slen == 0)
		return false;
	part->type = mime_strndup(t, type, tlen);
	part->subtype = mime_strndup(t, sub, slen);
	mime_params_parse(t, sub + slen, &part->params, &part->nparams);
	return true;
}

/* A single token with nothing but CFWS around it, or NULL. */
static const char *
mime_single_token(struct mail_mime_tree *t, const char *value)
{
	const char *p = mime_skip_cfws(value);
	size_t n = mime_token_len(p);

	if (n == 0 || *mime_skip_cfws(p + n) != '\0')
		return NULL;
	return mime_strndup(t, p, n);
}

/* Content-Disposition (RFC 2183): a token and parameters; without the
 * token there is no disposition. */
static void
mime_disposition(struct mail_mime_tree *t, struct mail_mime_part *part,
    const char *value)
{
	const char *p = mime_skip_cfws(value);
	size_t n = mime_token_len(p);

	if (n == 0)
		return;
	part->disposition = mime_strndup(t, p, n);
	mime_params_parse(t, p + n, &part->disp_params, &part->ndisp_params);
}

/* Content-Language (RFC 3282): a comma-separated list of tags. */
static void
mime_languages(struct mail_mime_tree *t, struct mail_mime_part *part,
    const char *value)
{
	const char **tags = NULL, **arr;
	size_t n = 0, cap = 0, len;
	const char *p = value;

	for (;;) {
		p = mime_skip_cfws(p);
		len = mime_token_len(p);
		if (len > 0) {
			tags = mail_xgrow(tags, &cap, n + 1, sizeof(*tags));
			tags[n++] = mime_strndup(t, p, len);
			p += len;
		}
		while (*p != '\0' && *p != ',')
			p++;
		if (*p == '\0')
			break;
		p++;
	}
	if (n > 0) {
		arr = mime_alloc(t, n * sizeof(*arr));
		memcpy(arr, tags, n * sizeof(*arr));
		part->languages = arr;
		part->nlanguages = n;
	}
	free(tags);
}

/*
 * The longest prefix of a header section that mail_header_parse() takes
 * without a limit error: at most MAIL_HEADER_MAX_SIZE bytes and
 * MAIL_HEADER_MAX_FIELDS lines (a field has at least one). Fields past it
 * are ignored; such headers are not mail, and a parse must not fail.
 */
static size_t
mime_header_cap(const uint8_t *p, size_t n)
{
	const uint8_t *nl;
	size_t pos = 0, lines = 0;

	if (n > MAIL_HEADER_MAX_SIZE)
		n = MAIL_HEADER_MAX_SIZE;
	while (pos < n && (nl = memchr(p + pos, '\n', n - pos)) != NULL) {
		pos = (size_t)(nl - p) + 1;
		if (++lines == MAIL_HEADER_MAX_FIELDS)
			return pos;
	}
	return n;
}

/* Parse the header at msg[start, end). Never NULL: the cap keeps
 * mail_header_parse() within its limits, and if it fails anyway the
 * header is read as empty. Caller frees. */
static struct mail_headers *
mime_headers(const uint8_t *msg, size_t start, size_t end)
{
	struct mail_headers *h = NULL;
	struct mail_err err;
	size_t n = mime_header_cap(msg + start, end - start);

	if (mail_header_parse(msg + start, n, &h, &err) < 0 &&
	    mail_header_parse(NULL, 0, &h, &err) < 0)
		mail_assert(!"empty header failed to parse");
	return h;
}

/* Pick the Content-* fields out of h; the first of each name wins. */
static void
mime_fields_get(const struct mail_headers *h, struct mime_fields *f)
{
	static const struct {
		const char *name;
		size_t	 off;
	} names[] = {
		{ "type", offsetof(struct mime_fields, type) },
		{ "transfer-encoding", offsetof(struct mime_fields, encoding) },
		{ "id", offsetof(struct mime_fields, id) },
		{ "description", offsetof(struct mime_fields, description) },
		{ "md5", offsetof(struct mime_fields, md5) },
		{ "disposition", offsetof(struct mime_fields, disposition) },
		{ "language", offsetof(struct mime_fields, language) },
		{ "location", offsetof(struct mime_fields, location) },
	};
	const struct mail_header_field *hf;
	const char **slot;

	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < mail_header_count(h); i++) {
		hf = mail_header_field(h, i);
		if ((hf->flags & MAIL_HEADER_FIELD_NO_COLON) == 0 &&
		    mime_eq(hf->name, "mime-version"))
			f->mime_version = true;
		if ((hf->flags & MAIL_HEADER_FIELD_NO_COLON) != 0 ||
		    !mime_eq_n(hf->name, strlen(hf->name) < 8 ? 0 : 8,
		    "content-", 8))
			continue;
		for (size_t k = 0; k < N_ELEMENTS(names); k++) {
			slot = (const char **)((char *)f + names[k].off);
			if (*slot == NULL && mime_eq(hf->name + 8,
			    names[k].name))
				*slot = hf->value;
		}
	}
}

/*
 * Read part's MIME header at msg[start, end) into it. Inside
 * multipart/digest the default type is message/rfc822 (RFC 2046 5.1.5),
 * else text/plain (RFC 2045 5.2), which also replaces a Content-Type that
 * does not parse. RFC 2045 4: the header of a message (the top one or an
 * embedded one) is MIME only with MIME-Version; like Dovecot we also take
 * a Content-Type as a sign, and otherwise ignore the Content-* fields.
 * Body parts of a multipart are MIME by context.
 */
static void
mime_read_header(struct mail_mime_tree *t, const uint8_t *msg,
    struct mail_mime_part *part, size_t start, size_t end)
{
	struct mail_headers *h = mime_headers(msg, start, end);
	const struct mail_mime_part *parent = part->parent;
	struct mime_fields f;

	mime_fields_get(h, &f);
	if ((parent == NULL || (parent->flags & MAIL_MIME_PART_MESSAGE) != 0) &&
	    !f.mime_version && f.type == NULL)
		memset(&f, 0, sizeof(f));
	if (f.type == NULL || !mime_content_type(t, part, f.type)) {
		part->params = NULL;
		part->nparams = 0;
		if (parent != NULL && mail_mime_part_is(parent, "multipart",
		    "digest")) {
			part->type = "message";
			part->subtype = "rfc822";
		} else {
			part->type = "text";
			part->subtype = "plain";
		}
	}
	if (f.encoding != NULL)
		part->encoding = mime_single_token(t, f.encoding);
	part->id = mime_strdup(t, f.id);
	part->description = mime_strdup(t, f.description);
	part->md5 = mime_strdup(t, f.md5);
	part->location = mime_strdup(t, f.location);
	if (f.disposition != NULL)
		mime_disposition(t, part, f.disposition);
	if (f.language != NULL)
		mime_languages(t, part, f.language);
	if (mime_eq(part->type, "text"))
		part->flags |= MAIL_MIME_PART_TEXT;
	else if (mime_eq(part->type, "multipart"))
		part->flags |= MAIL_MIME_PART_MULTIPART;
	else if (mail_mime_part_is(part, "message", "rfc822"))
		part->flags |= MAIL_MIME_PART_MESSAGE;
	else if (mail_mime_part_is(part, "message", "global"))
		part->flags |= MAIL_MIME_PART_MESSAGE | MAIL_MIME_PART_GLOBAL;
	mail_headers_free(&h);
}

/* ---- the structure parser ---- */

/* A place in the message with the LFs and bare LFs before it. */
struct mime_pos {
	size_t	 off, lfs, bare;
};

enum mime_state {
	MIME_HEADER,		/* in the part's header */
	MIME_BODY,		/* in a body we do not split */
	MIME_PREAMBLE,		/* multipart before its first boundary */
	MIME_PARTS,		/* multipart with a child open */
	MIME_EPILOGUE,		/* multipart after its close delimiter */
	MIME_ENCLOSING,		/* message with its embedded message open */
};

struct mime_open {
	struct mail_mime_part *part;
	struct mail_mime_part *last;	/* last child so far */
	enum mime_state state;
	struct mime_pos hdr, body;	/* where header and body start */
	const char *boundary;		/* in PREAMBLE and PARTS */
	size_t	 blen;
};

struct mime_parser {
	const uint8_t *msg;
	size_t	 len;
	struct mail_mime_tree *tree;
	struct mime_open open[MAIL_MIME_MAX_DEPTH]; /* index = depth */
	size_t	 nopen;
	size_t	 nactive;		/* open entries with a boundary */
	size_t	 nparts;
	bool	 frozen;		/* part limit reached */
};

struct mime_line {
	struct mime_pos start, next;	/* next: after the LF */
	size_t	 cend;			/* content end: LF, CRLF excluded */
	bool	 has_lf;
};

/* The line at pos, with the counts after it: its LF, and whether that
 * LF is bare (no CR before it), which is what vsizes add. */
static void
mime_next_line(const uint8_t *msg, size_t len, const struct mime_pos *pos,
    struct mime_line *ln)
{
	const uint8_t *nl = memchr(msg + pos->off, '\n', len - pos->off);

	ln->start = *pos;
	ln->next = *pos;
	if (nl == NULL) {
		ln->cend = ln->next.off = len;
		ln->has_lf = false;
		return;
	}
	ln->has_lf = true;
	ln->cend = (size_t)(nl - msg);
	ln->next.off = ln->cend + 1;
	ln->next.lfs++;
	if (ln->cend > pos->off && msg[ln->cend - 1] == '\r')
		ln->cend--;
	else
		ln->next.bare++;
}

/* Start a new part at pos under the open entry o (NULL for the root). */
static void
mime_push(struct mime_parser *ps, struct mime_open *o,
    struct mail_mime_part *part, const struct mime_pos *pos)
{
	struct mime_open *n;

	mail_assert(ps->nopen < MAIL_MIME_MAX_DEPTH);
	if (o != NULL) {
		part->parent = o->part;
		part->depth = o->part->depth + 1;
		if (o->last == NULL)
			o->part->children = part;
		else
			o->last->next = part;
		o->last = part;
	}
	part->hdr_offset = pos->off;
	n = &ps->open[ps->nopen++];
	memset(n, 0, sizeof(*n));
	n->part = part;
	n->state = MIME_HEADER;
	n->hdr = *pos;
	if (++ps->nparts >= MAIL_MIME_MAX_PARTS)
		ps->frozen = true;
}

/* A new part at pos under o: the next part of a multipart, or the
 * embedded message of a message part. */
static void
mime_new_child(struct mime_parser *ps, struct mime_open *o,
    const struct mime_pos *pos)
{
	mime_push(ps, o, mime_alloc(ps->tree, sizeof(struct mail_mime_part)),
	    pos);
}

/*
 * The header of the innermost part ends; its body starts at body. With
 * descend, a multipart starts looking for its boundary and a message
 * opens its embedded message, unless the limits say no: then the part is
 * OPAQUE, one body, as Dovecot does.
 */
static void
mime_end_header(struct mime_parser *ps, const struct mime_pos *body,
    bool descend)
{
	struct mime_open *o = &ps->open[ps->nopen - 1];
	struct mail_mime_part *p = o->part;
	const struct mail_mime_param *b;
	bool room = p->depth + 1 < MAIL_MIME_MAX_DEPTH && !ps->frozen;

	o->body = *body;
	o->state = MIME_BODY;
	p->hdr_size = body->off - o->hdr.off;
	p->hdr_vsize = p->hdr_size + (body->bare - o->hdr.bare);
	p->body_offset = body->off;
	mime_read_header(ps->tree, ps->msg, p, o->hdr.off, body->off);
	if (!descend)
		return;
	if ((p->flags & MAIL_MIME_PART_MULTIPART) != 0) {
		b = mail_mime_param_get(p, "boundary");
		if (b == NULL || b->value[0] == '\0')
			return;		/* one body, no children */
		if (!room) {
			p->flags |= MAIL_MIME_PART_OPAQUE;
			return;
		}
		o->state = MIME_PREAMBLE;
		o->boundary = b->value;
		o->blen = strlen(b->value);
		ps->nactive++;
	} else if ((p->flags & MAIL_MIME_PART_MESSAGE) != 0) {
		if (!room) {
			p->flags |= MAIL_MIME_PART_OPAQUE;
			return;
		}
		o->state = MIME_ENCLOSING;
		mime_new_child(ps, o, body);
	}
}

/* Close the innermost open part at end. */
static void
mime_close_top(struct mime_parser *ps, const struct mime_pos *end)
{
	struct mime_open *o = &ps->open[ps->nopen - 1];
	struct mail_mime_part *p = o->part;

	if (o->state == MIME_HEADER) {
		mime_end_header(ps, end, false);
		p->flags |= MAIL_MIME_PART_NO_EOH;
	}
	if (o->boundary != NULL)
		ps->nactive--;
	p->body_size = end->off - o->body.off;
	p->body_vsize = p->body_size + (end->bare - o->body.bare);
	p->body_lines = end->lfs - o->body.lfs;
	ps->nopen--;
}

/*
 * Which open multipart's boundary the line [p, p + n) is, or -1. RFC 2046
 * 5.1.1: "--" and the boundary start the line; what follows does not
 * matter. Of several matches the longest boundary wins, then the
 * innermost, so neither a boundary that is a prefix of an outer one nor
 * one that extends it steals the other's lines.
 */
static long
mime_match(const struct mime_parser *ps, const uint8_t *p, size_t n,
    bool *close_r)
{
	long best = -1;
	size_t best_len = 0;

	if (n < 2 || p[0] != '-' || p[1] != '-')
		return -1;
	for (size_t i = ps->nopen; i-- > 0;) {
		const struct mime_open *o = &ps->open[i];

		if (o->boundary == NULL || o->blen > n - 2 ||
		    o->blen <= best_len ||
		    memcmp(p + 2, o->boundary, o->blen) != 0)
			continue;
		best = (long)i;
		best_len = o->blen;
	}
	*close_r = best >= 0 && n - 2 - best_len >= 2 &&
	    p[2 + best_len] == '-' && p[3 + best_len] == '-';
	return best;
}

/* A boundary line of open entry k: close what is inside it, then start
 * the next child or, for the close delimiter, the epilogue. */
static void
mime_boundary(struct mime_parser *ps, size_t k, bool close,
    const struct mime_line *ln)
{
	const struct mime_open *top = &ps->open[ps->nopen - 1];
	struct mime_pos cut = ln->start, floor;
	struct mime_open *o;

	/*
	 * The line end before the boundary line is the boundary's. That
	 * holds after a close delimiter too: in RFC 2046's grammar
	 * (close-delimiter [CRLF epilogue], delimiter := CRLF dash-boundary)
	 * one line end between "--inner--" and "--outer" is the outer
	 * delimiter's. Dovecot gives it to the inner multipart, so a
	 * message/rfc822 ending in a close delimiter is one line shorter
	 * here than there.
	 */
	if (cut.off > 0) {
		cut.lfs--;
		if (cut.off >= 2 && ps->msg[cut.off - 2] == '\r')
			cut.off -= 2;
		else {
			cut.off--;
			cut.bare--;
		}
	}
	floor = top->state == MIME_HEADER ? top->hdr : top->body;
	if (cut.off < floor.off)
		cut = floor;
	while (ps->nopen - 1 > k)
		mime_close_top(ps, &cut);
	o = &ps->open[k];
	/* A boundary line the data ends in (no LF) opens no part: the
	 * grammar wants a CRLF after it, and it is most likely a close
	 * delimiter cut short (Dovecot reads it so too). */
	if (close || !ln->has_lf) {
		o->state = MIME_EPILOGUE;
		o->boundary = NULL;
		ps->nactive--;
		return;
	}
	o->state = MIME_PARTS;
	mime_new_child(ps, o, &ln->next);
}

/*
 * The main loop: lines in order. Boundary lines come first, in a header
 * too: a part whose header is cut by the next boundary just has an empty
 * body (a MIME header cannot hold a line starting with "--boundary" that
 * is not one). Once the part limit is reached boundaries are not looked
 * for, so the parts already open run to the end.
 */
int
mail_mime_parse(const uint8_t *msg, size_t len,
    struct mail_mime_part **root_r, struct mail_err *err)
{
	struct mime_parser *ps = mail_xcalloc(1, sizeof(*ps));
	struct mime_pos pos = { 0, 0, 0 };
	struct mime_line ln;
	bool close;
	long k;

	(void)err;
	if (msg == NULL)
		msg = mime_empty_msg;
	ps->msg = msg;
	ps->len = len;
	ps->tree = mail_xcalloc(1, sizeof(*ps->tree));
	mime_push(ps, NULL, &ps->tree->root, &pos);
	while (pos.off < len) {
		mime_next_line(msg, len, &pos, &ln);
		if (ps->nactive > 0 && !ps->frozen &&
		    (k = mime_match(ps, msg + ln.start.off,
		    ln.cend - ln.start.off, &close)) >= 0)
			mime_boundary(ps, (size_t)k, close, &ln);
		else if (ps->open[ps->nopen - 1].state == MIME_HEADER &&
		    ln.has_lf && ln.cend == ln.start.off)
			mime_end_header(ps, &ln.next, true);
		pos = ln.next;
	}
	while (ps->nopen > 0)
		mime_close_top(ps, &pos);
	*root_r = &ps->tree->root;
	free(ps);
	return 0;
}

void
mail_mime_free(struct mail_mime_part **rootp)
{
	struct mail_mime_tree *t;
	struct mime_block *b, *next;

	if (*rootp == NULL)
		return;
	/* The root is the first member of its tree. */
	t = (struct mail_mime_tree *)(void *)*rootp;
	for (b = t->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(t);
	*rootp = NULL;
}

const struct mail_mime_param *
mail_mime_param_get(const struct mail_mime_part *part, const char *name)
{
	const struct mail_mime_param *found = NULL;

	for (size_t i = 0; i < part->nparams; i++) {
		const struct mail_mime_param *p = &part->params[i];

		if (!mime_eq(p->name, name))
			continue;
		if ((p->flags & MAIL_MIME_PARAM_EXTENDED) != 0)
			return p;
		if (found == NULL)
			found = p;
	}
	return found;
}

bool
mail_mime_part_is(const struct mail_mime_part *part, const char *type,
    const char *subtype)
{
	return mime_eq(part->type, type) &&
	    (subtype == NULL || mime_eq(part->subtype, subtype));
}

/*
 * ---- IMAP output ----
 *
 * RFC 3501 7.4.2 / RFC 9051 7.5.2, in short:
 *   basic:     (type subtype params id desc enc size [ext-1part])
 *   text:      (type subtype params id desc enc size lines [ext-1part])
 *   message:   (type subtype params id desc enc size envelope body lines
 *              [ext-1part])
 *   multipart: (body body ... subtype [params disposition language
 *              location])
 *   ext-1part: md5 disposition language location
 * BODY is the same without the bracketed extension data. The writer
 * walks the tree depth first without recursion: a multipart or message is
 * opened on the way down and closed on the way up.
 */

/* An IMAP string: quoted when every byte is printable ASCII, else a
 * literal (RFC 3501 4.3), which also carries 8-bit text and control
 * characters safely. Dovecot does the same but also sends strings with
 * '"' or '\' as literals; escaping them is as valid. */
static void
mime_put_str(struct mail_buf *out, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			break;
	}
	if (i < n) {
		mail_buf_printf(out, "{%zu}\r\n", n);
		mail_buf_append(out, s, n);
		return;
	}
	mail_buf_put_u8(out, '"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			mail_buf_put_u8(out, '\\');
		mail_buf_put_u8(out, (uint8_t)s[i]);
	}
	mail_buf_put_u8(out, '"');
}

static void
mime_put_nstr(struct mail_buf *out, const char *s)
{
	if (s == NULL)
		mail_buf_append_str(out, "NIL");
	else
		mime_put_str(out, s, strlen(s));
}

static bool
mime_is_printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	}
	return true;
}

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
	    mime_is_printable(p->value))))) {
		mime_put_nstr(out, p->name);
		mail_buf_put_u8(out, ' ');
		mime_put_nstr(out, p->value);
		return;
	}
	mail_buf_append_str(&v, p->name);
	mail_buf_put_u8(&v, '*');
	mime_put_str(out, (const char *)v.data, v.len);
	mail_buf_truncate(&v, 0);
	cs = p->charset == NULL ? "" :
	    (p->flags & MAIL_MIME_PARAM_RAW) != 0 ? p->charset : "utf-8";
	mail_buf_printf(&v, "%s'%s'", cs,
	    p->language != NULL ? p->language : "");
	for (const char *c = p->value; *c != '\0'; c++) {
		/* RFC 2231 7 attribute-char */
		if (mime_is_token((unsigned char)*c) &&
		    (unsigned char)*c < 0x80 && strchr("*'%", *c) == NULL)
			mail_buf_put_u8(&v, (uint8_t)*c);
		else
			mail_buf_printf(&v, "%%%02X", (unsigned char)*c);
	}
	mail_buf_put_u8(out, ' ');
	mime_put_str(out, (const char *)v.data, v.len);
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
		mime_put_nstr(out, p->disposition);
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
			mime_put_nstr(out, p->languages[i]);
		}
		mail_buf_put_u8(out, ')');
	}
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, p->location);
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
		mime_put_nstr(out, p->type);
		mail_buf_put_u8(out, ' ');
		mime_put_nstr(out, p->subtype);
	}
	mail_buf_put_u8(out, ' ');
	mime_put_params(out, p->params, p->nparams, !opaque &&
	    (p->flags & MAIL_MIME_PART_TEXT) != 0 &&
	    mail_mime_param_get(p, "charset") == NULL);
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, p->id);
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, p->description);
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, p->encoding != NULL ? p->encoding : "7bit");
	mail_buf_printf(out, " %zu", p->body_vsize);
}

static void
mime_put_ext_1part(struct mail_buf *out, const struct mail_mime_part *p)
{
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, p->md5);
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
		mime_put_nstr(out, p->subtype);
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
		msg = mime_empty_msg;
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

/* ---- ENVELOPE: RFC 5322 address lists ---- */

enum mime_atok {
	MIME_ATOK_END,
	MIME_ATOK_WORD,		/* atom, quoted string or domain literal */
	MIME_ATOK_SPECIAL,	/* one of < > @ , ; : */
};

/*
 * The address lexer. Atoms are taken loosely: '.' and 8-bit bytes are
 * part of them (obs-phrase, obs-local-part, raw UTF-8), and so are stray
 * ')', ']' and '\'. Comments are skipped, but the last one's text is kept
 * for the name of a bare addr-spec ("a@b (Name)").
 */
struct mime_alex {
	const char *p;
	const char *tok_start;	/* where the current token starts */
	enum mime_atok tok;
	char	 special;
	bool	 gap;		/* whitespace or a comment before it */
	bool	 quoted;	/* the word was a quoted string */
	bool	 pushed;	/* mime_alex_unget() was called */
	struct mail_buf word;	/* a word's text, quoting resolved */
	struct mail_buf comment; /* the last comment's text */
	size_t	 ncomments;
};

/* Read the comment at lx->p (at '('); nested parentheses stay in the
 * text, escapes are resolved, and an unterminated one runs to the end. */
static void
mime_alex_comment(struct mime_alex *lx)
{
	const char *p = lx->p;
	size_t depth = 0;

	mail_buf_truncate(&lx->comment, 0);
	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(' && depth++ == 0)
			continue;
		else if (*p == ')' && --depth == 0) {
			p++;
			break;
		}
		mail_buf_put_u8(&lx->comment, (uint8_t)*p);
	}
	lx->p = p;
	lx->ncomments++;
}

static enum mime_atok
mime_alex_next(struct mime_alex *lx)
{
	const char *p;

	if (lx->pushed) {
		lx->pushed = false;
		return lx->tok;
	}
	lx->gap = false;
	for (;;) {
		while (MIME_IS_SPACE(*lx->p)) {
			lx->p++;
			lx->gap = true;
		}
		if (*lx->p != '(')
			break;
		mime_alex_comment(lx);
		lx->gap = true;
	}
	mail_buf_truncate(&lx->word, 0);
	lx->quoted = false;
	p = lx->tok_start = lx->p;
	if (*p == '\0')
		return lx->tok = MIME_ATOK_END;
	if (strchr("<>@,;:", *p) != NULL) {
		lx->special = *p;
		lx->p = p + 1;
		return lx->tok = MIME_ATOK_SPECIAL;
	}
	if (*p == '"') {
		p = mime_quoted(p, &lx->word);
		lx->quoted = true;
	} else if (*p == '[') {
		/* domain literal, kept with its brackets */
		do {
			mail_buf_put_u8(&lx->word, (uint8_t)*p);
		} while (*p++ != ']' && *p != '\0');
	} else {
		/* Everything up to what starts another token; the first
		 * byte is always taken, so the lexer moves on. */
		do {
			mail_buf_put_u8(&lx->word, (uint8_t)*p++);
		} while (*p != '\0' && !MIME_IS_SPACE(*p) &&
		    strchr("(<>@,;:\"[", *p) == NULL);
	}
	lx->p = p;
	return lx->tok = MIME_ATOK_WORD;
}

static void
mime_alex_unget(struct mime_alex *lx)
{
	lx->pushed = true;
}

static bool
mime_alex_is(const struct mime_alex *lx, enum mime_atok t, char special)
{
	return lx->tok == t && (t != MIME_ATOK_SPECIAL || lx->special == special);
}

/* A buffer's text as a C string ("" before anything was added). */
static const char *
mime_buf_str(const struct mail_buf *b)
{
	return b->data != NULL ? (const char *)b->data : "";
}

/* One address list being written: "(" addresses ")" or NIL. */
struct mime_addrs {
	struct mail_buf out;
	size_t	 n;
	bool	 in_group;
};

static void
mime_addr_emit(struct mime_addrs *a, const char *name, const char *adl,
    const char *mailbox, const char *host)
{
	if (a->n++ == 0)
		mail_buf_put_u8(&a->out, '(');
	mail_buf_put_u8(&a->out, '(');
	mime_put_nstr(&a->out, name != NULL && *name != '\0' ? name : NULL);
	mail_buf_put_u8(&a->out, ' ');
	mime_put_nstr(&a->out, adl);
	mail_buf_put_u8(&a->out, ' ');
	mime_put_nstr(&a->out, mailbox);
	mail_buf_put_u8(&a->out, ' ');
	mime_put_nstr(&a->out, host);
	mail_buf_put_u8(&a->out, ')');
}

/* RFC 3501 7.4.2: a NIL host means group syntax, so a missing part gets a
 * placeholder (Dovecot's words). */
static void
mime_addr_mailbox(struct mime_addrs *a, const char *name, const char *adl,
    const char *local, const char *domain)
{
	mime_addr_emit(a, name, adl, *local != '\0' ? local :
	    "MISSING_MAILBOX", *domain != '\0' ? domain : "MISSING_DOMAIN");
}

static void
mime_addr_group_end(struct mime_addrs *a)
{
	if (a->in_group)
		mime_addr_emit(a, NULL, NULL, NULL, NULL);
	a->in_group = false;
}

/* Words up to the next non-word, concatenated ("a . b" is "a.b"). Leaves
 * the token after them current. */
static void
mime_addr_words(struct mime_alex *lx, struct mail_buf *out)
{
	while (mime_alex_next(lx) == MIME_ATOK_WORD)
		mail_buf_append(out, lx->word.data, lx->word.len);
}

/* A domain: words up to the next non-word or whitespace ("a@b c@d" lacks
 * a comma, it is not the domain "bc"). Leaves the token after it current. */
static void
mime_addr_domain(struct mime_alex *lx, struct mail_buf *out)
{
	bool first = true;

	while (mime_alex_next(lx) == MIME_ATOK_WORD && (first || !lx->gap)) {
		mail_buf_append(out, lx->word.data, lx->word.len);
		first = false;
	}
}

/* Skip to the ',' or ';' that ends an address and leave it unread. */
static void
mime_addr_skip(struct mime_alex *lx)
{
	while (!mime_alex_is(lx, MIME_ATOK_END, 0) &&
	    !mime_alex_is(lx, MIME_ATOK_SPECIAL, ',') &&
	    !mime_alex_is(lx, MIME_ATOK_SPECIAL, ';'))
		mime_alex_next(lx);
	mime_alex_unget(lx);
}

/*
 * angle-addr after its '<': an optional obsolete route ("@a,@b:"), the
 * local part, '@' and the domain, up to '>'. A route without its ':' was
 * a domain after all ("<@b>").
 */
static void
mime_addr_angle(struct mime_alex *lx, struct mime_addrs *a, const char *name)
{
	struct mail_buf adl = MAIL_BUF_INIT, local = MAIL_BUF_INIT;
	struct mail_buf domain = MAIL_BUF_INIT;

	mime_alex_next(lx);
	while (mime_alex_is(lx, MIME_ATOK_SPECIAL, '@')) {
		mail_buf_put_u8(&adl, '@');
		mime_addr_words(lx, &adl);
		if (!mime_alex_is(lx, MIME_ATOK_SPECIAL, ','))
			break;
		mail_buf_put_u8(&adl, ',');
		mime_alex_next(lx);
	}
	if (adl.len > 0 && !mime_alex_is(lx, MIME_ATOK_SPECIAL, ':')) {
		mail_buf_append(&domain, adl.data + 1, adl.len - 1);
		mail_buf_truncate(&adl, 0);
	} else {
		if (adl.len > 0)
			mime_alex_next(lx);
		while (mime_alex_is(lx, MIME_ATOK_WORD, 0)) {
			mail_buf_append(&local, lx->word.data, lx->word.len);
			mime_alex_next(lx);
		}
		if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '@'))
			mime_addr_domain(lx, &domain);
	}
	mime_addr_mailbox(a, name, adl.len > 0 ? mime_buf_str(&adl) : NULL,
	    mime_buf_str(&local), mime_buf_str(&domain));
	if (!mime_alex_is(lx, MIME_ATOK_SPECIAL, '>'))
		mime_alex_unget(lx);
	mail_buf_free(&adl);
	mail_buf_free(&local);
	mail_buf_free(&domain);
}

/* The words that start an address: all of them as a phrase (a space
 * where the message had whitespace), and where the last run of words
 * without whitespace between them starts (a local part). */
struct mime_phrase {
	struct mail_buf text;
	size_t	 nwords;
	size_t	 head_len;	/* text before the last run */
	size_t	 tail_off;	/* where the last run starts in text */
	size_t	 comments;	/* lx->ncomments after the first word */
	const char *start;	/* first word in the field value */
	bool	 quoted;	/* the first word was a quoted string */
};

static void
mime_phrase_read(struct mime_alex *lx, struct mime_phrase *ph)
{
	while (mime_alex_next(lx) == MIME_ATOK_WORD) {
		if (ph->nwords == 0) {
			ph->start = lx->tok_start;
			ph->comments = lx->ncomments;
			ph->quoted = lx->quoted;
		}
		if (ph->nwords == 0 || lx->gap) {
			ph->head_len = ph->text.len;
			if (ph->nwords > 0)
				mail_buf_put_u8(&ph->text, ' ');
			ph->tail_off = ph->text.len;
		}
		mail_buf_append(&ph->text, lx->word.data, lx->word.len);
		ph->nwords++;
	}
	if (ph->nwords == 0)
		ph->comments = lx->ncomments;
}

/* addr-spec: local "@" domain, the phrase's last run being the local
 * part. Words before it are a display name a mailer forgot to put in
 * front of "<"; else the name is the last comment after the address. An
 * addr-spec followed by '<' was the display name of what follows. */
static void
mime_addr_spec(struct mime_alex *lx, struct mime_addrs *a,
    struct mime_phrase *ph)
{
	struct mail_buf domain = MAIL_BUF_INIT, name = MAIL_BUF_INIT;
	const char *start = ph->start != NULL ? ph->start : lx->tok_start;
	const char *end;

	mime_addr_domain(lx, &domain);
	if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '<')) {
		end = lx->tok_start;
		while (end > start && MIME_IS_SPACE(end[-1]))
			end--;
		mail_buf_append(&name, start, (size_t)(end - start));
		mime_addr_angle(lx, a, mime_buf_str(&name));
		mime_alex_next(lx);
		mime_addr_skip(lx);
		goto out;
	}
	if (ph->head_len > 0)
		mail_buf_append(&name, ph->text.data, ph->head_len);
	else if (lx->ncomments > ph->comments)
		mail_buf_append(&name, lx->comment.data, lx->comment.len);
	mime_addr_mailbox(a, mime_buf_str(&name), NULL,
	    ph->nwords > 0 ? (const char *)ph->text.data + ph->tail_off : "",
	    mime_buf_str(&domain));
	if (mime_alex_is(lx, MIME_ATOK_WORD, 0))
		mime_alex_unget(lx);	/* "a@b c@d": a missing comma */
	else
		mime_addr_skip(lx);
out:
	mail_buf_free(&domain);
	mail_buf_free(&name);
}

/* One address or the start of a group; consumes at least one token. */
static void
mime_addr_item(struct mime_alex *lx, struct mime_addrs *a)
{
	struct mime_phrase ph;

	memset(&ph, 0, sizeof(ph));
	mime_phrase_read(lx, &ph);
	if (mime_alex_is(lx, MIME_ATOK_SPECIAL, ':')) {
		mime_addr_group_end(a);
		mime_addr_emit(a, NULL, NULL, mime_buf_str(&ph.text), NULL);
		a->in_group = true;
	} else if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '<')) {
		mime_addr_angle(lx, a, mime_buf_str(&ph.text));
		mime_alex_next(lx);
		mime_addr_skip(lx);
	} else if (mime_alex_is(lx, MIME_ATOK_SPECIAL, '@')) {
		mime_addr_spec(lx, a, &ph);
	} else {
		/* No '@' or '<': one word is a local part without domain;
		 * several, or a quoted string, are a name without address
		 * (as Dovecot reads them). */
		if (ph.nwords == 1 && !ph.quoted)
			mime_addr_mailbox(a, NULL, NULL, mime_buf_str(&ph.text),
			    "");
		else if (ph.nwords > 0)
			mime_addr_mailbox(a, mime_buf_str(&ph.text), NULL, "",
			    "");
		if (!mime_alex_is(lx, MIME_ATOK_SPECIAL, '>'))
			mime_alex_unget(lx);
		mime_alex_next(lx);
		mime_addr_skip(lx);
	}
	mail_buf_free(&ph.text);
}

/* Append the addresses of one field value to a. A group left open at the
 * end of the field is closed. */
static void
mime_addr_list(const char *value, struct mime_addrs *a)
{
	struct mime_alex lx;

	memset(&lx, 0, sizeof(lx));
	lx.p = value;
	for (;;) {
		mime_alex_next(&lx);
		if (lx.tok == MIME_ATOK_END)
			break;
		if (mime_alex_is(&lx, MIME_ATOK_SPECIAL, ','))
			continue;
		if (mime_alex_is(&lx, MIME_ATOK_SPECIAL, ';')) {
			mime_addr_group_end(a);
			continue;
		}
		mime_alex_unget(&lx);
		mime_addr_item(&lx, a);
	}
	mime_addr_group_end(a);
	mail_buf_free(&lx.word);
	mail_buf_free(&lx.comment);
}

static void
mime_put_addrs(struct mail_buf *out, const struct mime_addrs *a)
{
	if (a->n == 0) {
		mail_buf_append_str(out, "NIL");
		return;
	}
	mail_buf_append(out, a->out.data, a->out.len);
	mail_buf_put_u8(out, ')');
}

void
mail_mime_envelope(const uint8_t *msg, const struct mail_mime_part *part,
    struct mail_buf *out)
{
	/* RFC 3501 7.4.2 order; the first six are address lists. */
	static const char *const names[] = { "from", "sender", "reply-to",
	    "to", "cc", "bcc", "date", "subject", "in-reply-to",
	    "message-id" };
	struct mime_addrs addrs[6];
	const char *strs[4] = { NULL, NULL, NULL, NULL };
	const struct mail_header_field *f;
	struct mail_headers *h;
	size_t i, k;

	if (msg == NULL)
		msg = mime_empty_msg;
	memset(addrs, 0, sizeof(addrs));
	h = mime_headers(msg, part->hdr_offset,
	    part->hdr_offset + part->hdr_size);
	/* As Dovecot: the last of a repeated text field wins, repeated
	 * address fields add up. */
	for (i = 0; i < mail_header_count(h); i++) {
		f = mail_header_field(h, i);
		if ((f->flags & MAIL_HEADER_FIELD_NO_COLON) != 0)
			continue;
		for (k = 0; k < N_ELEMENTS(names); k++) {
			if (!mime_eq(f->name, names[k]))
				continue;
			if (k < 6)
				mime_addr_list(f->value, &addrs[k]);
			else
				strs[k - 6] = f->value;
		}
	}
	mail_buf_put_u8(out, '(');
	mime_put_nstr(out, strs[0]);
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, strs[1]);
	for (k = 0; k < 6; k++) {
		mail_buf_put_u8(out, ' ');
		/* sender and reply-to default to from */
		mime_put_addrs(out, (k == 1 || k == 2) && addrs[k].n == 0 ?
		    &addrs[0] : &addrs[k]);
	}
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, strs[2]);
	mail_buf_put_u8(out, ' ');
	mime_put_nstr(out, strs[3]);
	mail_buf_put_u8(out, ')');
	for (k = 0; k < 6; k++)
		mail_buf_free(&addrs[k].out);
	mail_headers_free(&h);
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

	if (strlen(s) < n || !mime_eq_n(s, n, kw, n))
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
	while (s < e && MIME_IS_WSP(msg[s]))
		s++;
	while (e > s && MIME_IS_WSP(msg[e - 1]))
		e--;
	for (size_t i = 0; i < n; i++) {
		if (mime_eq_n((const char *)msg + s, e - s, names[i],
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
		msg = mime_empty_msg;
	while (pos < end) {
		fend = mime_line_end(msg, pos, end, &blank);
		if (blank)
			break;
		/* RFC 5322 2.2.3: lines starting with WSP continue it */
		while (fend < end && MIME_IS_WSP(msg[fend]))
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

/* ---- decoding ---- */

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
	int hi, lo;

	while (i < n) {
		nl = memchr(p + i, '\n', n - i);
		ce = nl != NULL ? (size_t)(nl - p) : n;
		next = nl != NULL ? ce + 1 : n;
		if (nl != NULL && ce > i && p[ce - 1] == '\r')
			ce--;
		/* RFC 2045 6.7 (3): trailing whitespace was added in
		 * transport and goes; (5): "=" at the end is a soft break. */
		te = ce;
		while (te > i && MIME_IS_WSP(p[te - 1]))
			te--;
		soft = te > i && p[te - 1] == '=';
		if (soft)
			te--;
		for (size_t j = i; j < te; j++) {
			if (p[j] == '=' && j + 2 < te &&
			    (hi = mail_hex_value((char)p[j + 1])) >= 0 &&
			    (lo = mail_hex_value((char)p[j + 2])) >= 0) {
				mail_buf_put_u8(out, (uint8_t)(hi << 4 | lo));
				j += 2;
			} else
				mail_buf_put_u8(out, p[j]);
		}
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
		msg = mime_empty_msg;
	if (e == NULL || mime_eq(e, "7bit") || mime_eq(e, "8bit") ||
	    mime_eq(e, "binary"))
		mail_mime_append_crlf(msg, part->body_offset, part->body_size,
		    0, UINT64_MAX, out);
	else if (mime_eq(e, "base64"))
		mail_mime_decode_base64(msg + part->body_offset,
		    part->body_size, out);
	else if (mime_eq(e, "quoted-printable"))
		mail_mime_decode_qp(msg + part->body_offset, part->body_size,
		    out);
	else
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "unknown content-transfer-encoding '%s'", e);
	return 0;
}
