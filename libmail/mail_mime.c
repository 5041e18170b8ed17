/*
 * mail_mime.c: parsing a message into its MIME part tree (RFC 2045, 2046),
 * with the Content-* fields of each part and their parameters (RFC 2231
 * sections, charsets and languages included). The IMAP views of the tree
 * are in mail_mime_imap.c and mail_mime_envelope.c, transfer decoding in
 * mail_mime_decode.c; mail_mime_private.h is what they share.
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

#include "mail_mime_private.h"

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

/* ---- helpers shared with the other mail_mime modules ---- */

const uint8_t mail_mime_empty_msg[1];

/* ASCII-only case folding: locale-independent, as protocol text needs. */
static int
mime_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

bool
mail_mime_eq_n(const char *a, size_t an, const char *b, size_t bn)
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

bool
mail_mime_eq(const char *a, const char *b)
{
	return a != NULL && mail_mime_eq_n(a, strlen(a), b, strlen(b));
}

/* ---- parsing header values: RFC 2045 tokens, quoted strings, CFWS ---- */

/* RFC 2045 5.1 tspecials. 8-bit bytes count as token characters: real
 * mail has them and refusing them helps nobody. */
bool
mail_mime_is_token(unsigned char c)
{
	return c > 0x20 && c != 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

const char *
mail_mime_quoted(const char *p, struct mail_buf *out)
{
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (out != NULL)
			mail_buf_put_u8(out, (uint8_t)*p);
	}
	return *p == '"' ? p + 1 : p;
}

/* Comments nest (RFC 5322 3.2.2): the depth is a counter, so a deep one
 * costs no stack. The outer parentheses are no part of the text. */
const char *
mail_mime_comment(const char *p, struct mail_buf *text)
{
	size_t depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(' && depth++ == 0)
			continue;
		else if (*p == ')' && --depth == 0)
			return p + 1;
		if (text != NULL)
			mail_buf_put_u8(text, (uint8_t)*p);
	}
	return p;
}

/* Skip whitespace and comments. */
static const char *
mime_skip_cfws(const char *p)
{
	for (;;) {
		while (MAIL_MIME_IS_SPACE(*p))
			p++;
		if (*p != '(')
			return p;
		p = mail_mime_comment(p, NULL);
	}
}

static size_t
mime_token_len(const char *p)
{
	size_t n = 0;

	while (mail_mime_is_token((unsigned char)p[n]))
		n++;
	return n;
}

/* Skip to the next ';' outside quoted strings and comments. */
static const char *
mime_skip_to_semicolon(const char *p)
{
	while (*p != '\0' && *p != ';') {
		if (*p == '"')
			p = mail_mime_quoted(p, NULL);
		else if (*p == '(')
			p = mime_skip_cfws(p);
		else
			p++;
	}
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

	while (*p != '\0' && *p != ';' && !MAIL_MIME_IS_SPACE(*p) && *p != '(' &&
	    *p != '"')
		p++;
	n = (size_t)(p - v);
	q = mime_skip_cfws(p);
	if (*q != '\0' && *q != ';') {
		while (*q != '\0' && *q != ';')
			q++;
		p = q;
		while (q > v && MAIL_MIME_IS_SPACE(q[-1]))
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
			p = mail_mime_quoted(p, &ps->vals);
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
 * 4); encoded sections are percent-decoded ("%XX" is a byte, a '%' not
 * followed by two hex digits stays), others taken as they are. A
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
		mail_mime_hex_unescape(p, len, '%', &v);
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

		for (j = i + 1; j < nsorted && mail_mime_eq_n(sorted[i]->name,
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
			for (j = group[i]; j < nsorted && mail_mime_eq_n(rp->name,
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

/* The cap keeps mail_header_parse() within its limits; if it fails
 * anyway the header is read as empty. */
struct mail_headers *
mail_mime_headers(const uint8_t *msg, size_t start, size_t end)
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
		    mail_mime_eq(hf->name, "mime-version"))
			f->mime_version = true;
		if ((hf->flags & MAIL_HEADER_FIELD_NO_COLON) != 0 ||
		    !mail_mime_eq_n(hf->name, strlen(hf->name) < 8 ? 0 : 8,
		    "content-", 8))
			continue;
		for (size_t k = 0; k < N_ELEMENTS(names); k++) {
			slot = (const char **)((char *)f + names[k].off);
			if (*slot == NULL && mail_mime_eq(hf->name + 8,
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
	struct mail_headers *h = mail_mime_headers(msg, start, end);
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
	if (mail_mime_eq(part->type, "text"))
		part->flags |= MAIL_MIME_PART_TEXT;
	else if (mail_mime_eq(part->type, "multipart"))
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
		msg = mail_mime_empty_msg;
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

		if (!mail_mime_eq(p->name, name))
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
	return mail_mime_eq(part->type, type) &&
	    (subtype == NULL || mail_mime_eq(part->subtype, subtype));
}
