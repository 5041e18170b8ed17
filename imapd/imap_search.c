/*
 * imap_search.c: SEARCH key evaluation for one message (imap_search.h).
 *
 * The key tree is walked directly; each call works on one message and
 * keeps what it learned about it in a struct imap_search_ctx, so the
 * message is fetched, its header parsed and its MIME structure decoded at
 * most once per call, and only when a key needs them. Keys that need no
 * message bytes are tried first in AND and OR, so "UNSEEN BODY x" never
 * reads the body of a seen message.
 *
 * Text matching: the haystacks (the decoded header, the decoded body
 * text, the MIME part headers) are built once per call in case-folded
 * UTF-8 (imap_text_fold()), and every needle is folded the same way;
 * memmem() then does a case-insensitive substring search in linear time.
 */
#include <string.h>

#include "mail_flags.h"
#include "mail_header.h"
#include "mail_mime.h"
#include "imap_search.h"
#include "imap_text_private.h"

struct imap_search_ctx {
	const struct imap_search_env *env;
	const struct imap_msg_info *m;
	struct mail_err *err;

	bool	 fetched;
	const uint8_t *msg;		/* borrowed from env->body */
	size_t	 len;
	struct mail_headers *hdrs;

	bool	 have_hdr_text, have_body;
	struct mail_buf hdr_text;	/* "name: value\n" of every field of
					 * the message header, decoded */
	struct mail_buf body_text;	/* BODY's text: the text parts */
	struct mail_buf part_hdrs;	/* the headers of MIME parts and
					 * attached messages (TEXT) */
	struct mail_buf needle;
	struct mail_buf tmp, tmp2;	/* scratch */
	struct imap_text_conv conv;
};

/* ASCII case-insensitive equality of a[0..alen) and the C string b. The
 * C library's functions follow the locale, which must not matter here. */
static bool
imap_search_ascii_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		char x = a[i], y = b[i];

		if (y == '\0')
			return false;
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return b[i] == '\0';
}

int
imap_search_charset_check(const char *charset, struct mail_err *err)
{
	char shown[65];
	size_t i;

	if (charset == NULL ||
	    imap_search_ascii_eq(charset, strlen(charset), "UTF-8") ||
	    imap_search_ascii_eq(charset, strlen(charset), "US-ASCII"))
		return 0;
	/* The name goes back to the client in a response line: only
	 * printable ASCII, and not too much of it. */
	for (i = 0; charset[i] != '\0' && i < sizeof(shown) - 1; i++)
		shown[i] = charset[i] >= 0x20 && charset[i] < 0x7f ?
		    charset[i] : '?';
	shown[i] = '\0';
	return mail_err_set(err, MAIL_ERR_PARAM,
	    "charset '%s' is not supported", shown);
}

bool
imap_search_needs_body(const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		switch (k->type) {
		case IMAP_SK_AND:
		case IMAP_SK_OR:
		case IMAP_SK_NOT:
			if (imap_search_needs_body(k->child))
				return true;
			break;
		case IMAP_SK_BCC:
		case IMAP_SK_BODY:
		case IMAP_SK_CC:
		case IMAP_SK_FROM:
		case IMAP_SK_SUBJECT:
		case IMAP_SK_TEXT:
		case IMAP_SK_TO:
		case IMAP_SK_HEADER:
		case IMAP_SK_SENTBEFORE:
		case IMAP_SK_SENTON:
		case IMAP_SK_SENTSINCE:
			return true;
		default:
			break;
		}
	}
	return false;
}

/* One key (not its siblings) needs message bytes. The copy cuts the
 * sibling chain without touching the caller's tree. */
static bool
imap_search_key_needs_body(const struct imap_search_key *k)
{
	struct imap_search_key one = *k;

	one.next = NULL;
	return imap_search_needs_body(&one);
}

/* ---- the message ---- */

/* Read the message and parse its header, once per call. A message the
 * callback hands out as NULL is an empty one, not an error: what the
 * store lost is no reason to fail the whole SEARCH. */
static int
imap_search_fetch(struct imap_search_ctx *ctx)
{
	const struct imap_search_env *env = ctx->env;

	if (ctx->fetched)
		return 0;
	if (env->body == NULL)
		return mail_err_set(ctx->err, MAIL_ERR_INTERNAL,
		    "search of uid %u needs the message but no body "
		    "callback is set", ctx->m->uid);
	ctx->msg = NULL;
	ctx->len = 0;
	if (env->body(env->body_ctx, ctx->m->uid, &ctx->msg, &ctx->len,
	    ctx->err) < 0)
		return -1;
	if (ctx->msg == NULL)
		ctx->len = 0;
	ctx->hdrs = imap_text_headers(ctx->msg, ctx->len);
	ctx->fetched = true;
	return 0;
}

/* Append every field of h as "name: decoded value\n", folded. */
static void
imap_search_fold_header(struct imap_search_ctx *ctx,
    const struct mail_headers *h, struct mail_buf *out)
{
	const struct mail_header_field *f;

	mail_buf_reset(&ctx->tmp);
	for (size_t i = 0; (f = mail_header_field(h, i)) != NULL; i++) {
		mail_buf_append_str(&ctx->tmp, f->name);
		/* a line without a colon (name is the line) is text too */
		if ((f->flags & MAIL_HEADER_FIELD_NO_COLON) != 0) {
			mail_buf_append(&ctx->tmp, "\n", 1);
			continue;
		}
		mail_buf_append(&ctx->tmp, ": ", 2);
		imap_text_decode_words(&ctx->conv, f->value, &ctx->tmp);
		mail_buf_append(&ctx->tmp, "\n", 1);
	}
	imap_text_fold(ctx->tmp.data, ctx->tmp.len, out);
}

/* The header of a MIME part, parsed on its own. */
static void
imap_search_fold_part_header(struct imap_search_ctx *ctx,
    const struct mail_mime_part *p, struct mail_buf *out)
{
	struct mail_headers *h;

	h = imap_text_headers(ctx->msg + p->hdr_offset, p->hdr_size);
	imap_search_fold_header(ctx, h, out);
	mail_headers_free(&h);
}

/* A text part's body: transfer encoding undone (an unknown one leaves the
 * raw bytes), then converted from its charset. */
static void
imap_search_fold_text_part(struct imap_search_ctx *ctx,
    const struct mail_mime_part *p)
{
	const struct mail_mime_param *cs;
	struct mail_err err;

	mail_buf_reset(&ctx->tmp);
	mail_buf_reset(&ctx->tmp2);
	if (mail_mime_decode_body(ctx->msg, p, &ctx->tmp, &err) < 0)
		mail_buf_append(&ctx->tmp, ctx->msg + p->body_offset,
		    p->body_size);
	cs = mail_mime_param_get(p, "charset");
	imap_text_to_utf8(&ctx->conv, cs != NULL ? cs->value : NULL,
	    cs != NULL ? strlen(cs->value) : 0, ctx->tmp.data, ctx->tmp.len,
	    &ctx->tmp2);
	imap_text_fold(ctx->tmp2.data, ctx->tmp2.len, &ctx->body_text);
	/* Parts are apart: a needle must not match across two of them. */
	mail_buf_append(&ctx->body_text, "\n", 1);
}

/*
 * Build body_text and part_hdrs from the MIME tree, walking it without
 * recursion (parent and sibling pointers). Containers (multipart,
 * message) have no text of their own: the preamble and epilogue of a
 * multipart are not content (RFC 2046 5.1.1). Headers, those of attached
 * messages included, are not BODY's text, as in Dovecot (TEXT searches
 * them through part_hdrs). A container without parts
 * (no usable boundary, a message header that never ended, or past
 * mail_mime's limits) is searched as text, raw: better than hiding what
 * it holds. Non-text leaves (attachments) are not searched.
 */
static void
imap_search_build_body(struct imap_search_ctx *ctx)
{
	struct mail_mime_part *root = NULL;
	const struct mail_mime_part *p;
	struct mail_err err;
	size_t off;

	ctx->have_body = true;
	if (mail_mime_parse(ctx->msg, ctx->len, &root, &err) < 0 ||
	    root == NULL) {
		/* mail_mime never fails on content today; if a limit is
		 * added, search the raw body rather than nothing. */
		off = mail_header_body_offset(ctx->hdrs);
		imap_text_fold(ctx->msg + off, ctx->len - off,
		    &ctx->body_text);
		return;
	}
	for (p = root; p != NULL;) {
		/* the header of a MIME part or of an attached message */
		if (p != root)
			imap_search_fold_part_header(ctx, p, &ctx->part_hdrs);
		if ((p->flags & MAIL_MIME_PART_TEXT) != 0 ||
		    ((p->flags & (MAIL_MIME_PART_MULTIPART |
		    MAIL_MIME_PART_MESSAGE)) != 0 && p->children == NULL))
			imap_search_fold_text_part(ctx, p);

		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != NULL && p->next == NULL)
			p = p->parent;
		if (p != NULL)
			p = p->next;
	}
	mail_mime_free(&root);
}

/* ---- text keys ---- */

static void
imap_search_set_needle(struct imap_search_ctx *ctx, const struct imap_str *s)
{
	mail_buf_reset(&ctx->needle);
	if (s->data != NULL)
		imap_text_fold((const uint8_t *)s->data, s->len, &ctx->needle);
}

/* Substring test on folded text. An empty needle is in everything; the
 * callers decide what "" means for their key before asking. */
static bool
imap_search_contains(const struct mail_buf *hay, const struct mail_buf *needle)
{
	if (needle->len == 0)
		return true;
	if (hay->len < needle->len)
		return false;
	return memmem(hay->data, hay->len, needle->data, needle->len) != NULL;
}

/* Does a field called name[0..name_len) contain s (decoded, folded)? With
 * an empty s, does the field exist (RFC 9051 HEADER)? */
static int
imap_search_field(struct imap_search_ctx *ctx, const char *name,
    size_t name_len, const struct imap_str *s, bool *match_r)
{
	const struct mail_header_field *f;
	struct mail_buf val = MAIL_BUF_INIT;

	*match_r = false;
	if (imap_search_fetch(ctx) < 0)
		return -1;
	imap_search_set_needle(ctx, s);
	for (size_t i = 0; (f = mail_header_field(ctx->hdrs, i)) != NULL;
	    i++) {
		if ((f->flags & MAIL_HEADER_FIELD_NO_COLON) != 0 ||
		    !imap_search_ascii_eq(name, name_len, f->name))
			continue;
		if (ctx->needle.len == 0) {
			*match_r = true;
			break;
		}
		mail_buf_reset(&ctx->tmp);
		mail_buf_reset(&val);
		imap_text_decode_words(&ctx->conv, f->value, &ctx->tmp);
		imap_text_fold(ctx->tmp.data, ctx->tmp.len, &val);
		if (imap_search_contains(&val, &ctx->needle)) {
			*match_r = true;
			break;
		}
	}
	mail_buf_free(&val);
	return 0;
}

/* BODY (text false) or TEXT (true). TEXT looks at the message header
 * first: it is small and already parsed, and a hit there spares
 * decoding the body. */
static int
imap_search_body(struct imap_search_ctx *ctx, const struct imap_str *s,
    bool text, bool *match_r)
{
	*match_r = false;
	if (imap_search_fetch(ctx) < 0)
		return -1;
	imap_search_set_needle(ctx, s);
	if (ctx->needle.len == 0) {
		*match_r = true;
		return 0;
	}
	if (text) {
		if (!ctx->have_hdr_text) {
			imap_search_fold_header(ctx, ctx->hdrs,
			    &ctx->hdr_text);
			ctx->have_hdr_text = true;
		}
		if (imap_search_contains(&ctx->hdr_text, &ctx->needle)) {
			*match_r = true;
			return 0;
		}
	}
	if (!ctx->have_body)
		imap_search_build_body(ctx);
	*match_r = imap_search_contains(&ctx->body_text, &ctx->needle) ||
	    (text && imap_search_contains(&ctx->part_hdrs, &ctx->needle));
	return 0;
}

/* ---- dates and sets ---- */

/* The day (since 1970-01-01) of unix time t in a zone tz minutes east.
 * Division rounds toward zero in C, so days before 1970 need the
 * correction; a time so large that the zone overflows it saturates
 * (dates come from the store, but UBSan forbids the overflow). */
static int64_t
imap_search_day(int64_t t, int tz)
{
	int64_t d;

	if (__builtin_add_overflow(t, (int64_t)tz * 60, &t))
		t = tz > 0 ? INT64_MAX : INT64_MIN;
	d = t / 86400;
	if (t % 86400 < 0)
		d--;
	return d;
}

/* Compare day with the key's date: BEFORE (<), ON (==), SINCE (>=). */
static bool
imap_search_cmp_day(int64_t day, const struct imap_date *date, int kind)
{
	int64_t kday = imap_text_days_from_civil(date->year, date->month,
	    date->day);

	if (kind < 0)
		return day < kday;
	if (kind == 0)
		return day == kday;
	return day >= kday;
}

static int
imap_search_sent_day(struct imap_search_ctx *ctx, int64_t *day_r)
{
	const char *v;

	if (imap_search_fetch(ctx) < 0)
		return -1;
	v = mail_header_get(ctx->hdrs, "Date");
	/* RFC 3501: the date as written, time and zone disregarded. */
	if (v == NULL || !imap_text_date_written(v, day_r))
		*day_r = imap_search_day(ctx->m->idate,
		    ctx->env->tz_offset_min);
	return 0;
}

/* Is v in the set as sent (RFC 9051 sequence-set: "*" is the largest
 * number in use, so "5:*" holds the last message even when that is
 * below 5)? The ranges are not normalized, so this is linear in them:
 * the parser's line limit keeps them to a few thousand. */
static bool
imap_search_in_set(const struct imap_search_ctx *ctx,
    const struct imap_seqset *set, uint32_t v, uint32_t star)
{
	uint32_t lo, hi, t;

	if (set->saved)		/* "$" holds UIDs, whatever the key */
		return ctx->env->saved != NULL &&
		    mail_uidset_contains(ctx->env->saved, ctx->m->uid);
	for (size_t i = 0; i < set->n; i++) {
		lo = set->r[i].lo == 0 ? star : set->r[i].lo;
		hi = set->r[i].hi == 0 ? star : set->r[i].hi;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi)
			return true;
	}
	return false;
}

static bool
imap_search_has_keyword(const struct imap_msg_info *m,
    const struct imap_str *kw)
{
	for (size_t i = 0; i < m->n_keywords; i++) {
		if (kw->data != NULL &&
		    imap_search_ascii_eq(kw->data, kw->len, m->keywords[i]))
			return true;
	}
	return false;
}

/* ---- evaluation ---- */

static int imap_search_eval(struct imap_search_ctx *ctx,
    const struct imap_search_key *k, bool *match_r);

/* All children match. Two passes: first the children that need no
 * message bytes, then the others, each only while all matched so far. */
static int
imap_search_eval_and(struct imap_search_ctx *ctx,
    const struct imap_search_key *first, bool *match_r)
{
	const struct imap_search_key *c;
	bool m;

	*match_r = true;
	for (int pass = 0; pass < 2; pass++) {
		for (c = first; c != NULL; c = c->next) {
			if (imap_search_key_needs_body(c) != (pass == 1))
				continue;
			if (imap_search_eval(ctx, c, &m) < 0)
				return -1;
			if (!m) {
				*match_r = false;
				return 0;
			}
		}
	}
	return 0;
}

/* Either child matches; the one that needs no message bytes is tried
 * first, since it may settle the answer without them. */
static int
imap_search_eval_or(struct imap_search_ctx *ctx,
    const struct imap_search_key *a, bool *match_r)
{
	const struct imap_search_key *b = a != NULL ? a->next : NULL, *t;

	*match_r = false;
	if (a == NULL)
		return 0;
	if (b != NULL && imap_search_key_needs_body(a) &&
	    !imap_search_key_needs_body(b)) {
		t = a;
		a = b;
		b = t;
	}
	if (imap_search_eval(ctx, a, match_r) < 0)
		return -1;
	if (*match_r || b == NULL)
		return 0;
	return imap_search_eval(ctx, b, match_r);
}

static int
imap_search_eval(struct imap_search_ctx *ctx, const struct imap_search_key *k,
    bool *match_r)
{
	const struct imap_msg_info *m = ctx->m;
	const struct imap_search_env *env = ctx->env;
	int64_t day, t;
	bool r = false;

	switch (k->type) {
	case IMAP_SK_AND:
		return imap_search_eval_and(ctx, k->child, match_r);
	case IMAP_SK_OR:
		return imap_search_eval_or(ctx, k->child, match_r);
	case IMAP_SK_NOT:
		if (k->child != NULL &&
		    imap_search_eval(ctx, k->child, &r) < 0)
			return -1;
		r = !r;
		break;
	case IMAP_SK_ALL:
		r = true;
		break;
	case IMAP_SK_ANSWERED:
		r = (m->flags & MAIL_ANSWERED) != 0;
		break;
	case IMAP_SK_DELETED:
		r = (m->flags & MAIL_DELETED) != 0;
		break;
	case IMAP_SK_DRAFT:
		r = (m->flags & MAIL_DRAFT) != 0;
		break;
	case IMAP_SK_FLAGGED:
		r = (m->flags & MAIL_FLAGGED) != 0;
		break;
	case IMAP_SK_SEEN:
		r = (m->flags & MAIL_SEEN) != 0;
		break;
	case IMAP_SK_UNANSWERED:
		r = (m->flags & MAIL_ANSWERED) == 0;
		break;
	case IMAP_SK_UNDELETED:
		r = (m->flags & MAIL_DELETED) == 0;
		break;
	case IMAP_SK_UNDRAFT:
		r = (m->flags & MAIL_DRAFT) == 0;
		break;
	case IMAP_SK_UNFLAGGED:
		r = (m->flags & MAIL_FLAGGED) == 0;
		break;
	case IMAP_SK_UNSEEN:
		r = (m->flags & MAIL_SEEN) == 0;
		break;
	case IMAP_SK_NEW:		/* RECENT UNSEEN: never, no \Recent */
	case IMAP_SK_RECENT:
		r = false;
		break;
	case IMAP_SK_OLD:		/* NOT RECENT */
		r = true;
		break;
	case IMAP_SK_KEYWORD:
		r = imap_search_has_keyword(m, &k->str);
		break;
	case IMAP_SK_UNKEYWORD:
		r = !imap_search_has_keyword(m, &k->str);
		break;
	case IMAP_SK_BCC:
		return imap_search_field(ctx, "Bcc", 3, &k->str, match_r);
	case IMAP_SK_CC:
		return imap_search_field(ctx, "Cc", 2, &k->str, match_r);
	case IMAP_SK_FROM:
		return imap_search_field(ctx, "From", 4, &k->str, match_r);
	case IMAP_SK_SUBJECT:
		return imap_search_field(ctx, "Subject", 7, &k->str, match_r);
	case IMAP_SK_TO:
		return imap_search_field(ctx, "To", 2, &k->str, match_r);
	case IMAP_SK_HEADER:
		return imap_search_field(ctx, k->field.data != NULL ?
		    k->field.data : "", k->field.len, &k->str, match_r);
	case IMAP_SK_BODY:
		return imap_search_body(ctx, &k->str, false, match_r);
	case IMAP_SK_TEXT:
		return imap_search_body(ctx, &k->str, true, match_r);
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
		day = imap_search_day(m->idate, env->tz_offset_min);
		r = imap_search_cmp_day(day, &k->date,
		    (int)k->type - (int)IMAP_SK_ON);
		break;
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		if (imap_search_sent_day(ctx, &day) < 0)
			return -1;
		r = imap_search_cmp_day(day, &k->date,
		    (int)k->type - (int)IMAP_SK_SENTON);
		break;
	case IMAP_SK_SAVEDBEFORE:
	case IMAP_SK_SAVEDON:
	case IMAP_SK_SAVEDSINCE:
		/* RFC 8514: without a save date, no SAVED* key matches */
		if (m->sdate == 0)
			break;
		day = imap_search_day(m->sdate, env->tz_offset_min);
		r = imap_search_cmp_day(day, &k->date,
		    (int)k->type - (int)IMAP_SK_SAVEDON);
		break;
	case IMAP_SK_SAVEDATESUPPORTED:
		r = m->sdate != 0;
		break;
	case IMAP_SK_LARGER:
		r = m->size > k->num;
		break;
	case IMAP_SK_SMALLER:
		r = m->size < k->num;
		break;
	case IMAP_SK_OLDER:
	case IMAP_SK_YOUNGER:
		/* RFC 5032: against now - n. OLDER includes the exact
		 * instant, so OLDER n and YOUNGER n split the mailbox. */
		if (k->num > (uint64_t)INT64_MAX ||
		    __builtin_sub_overflow(env->now, (int64_t)k->num, &t))
			t = INT64_MIN;
		r = m->idate <= t;
		if (k->type == IMAP_SK_YOUNGER)
			r = !r;
		break;
	case IMAP_SK_SEQSET:
		r = imap_search_in_set(ctx, &k->set, m->seq, env->max_seq);
		break;
	case IMAP_SK_UID:
		r = imap_search_in_set(ctx, &k->set, m->uid, env->max_uid);
		break;
	case IMAP_SK_MODSEQ:
		r = m->modseq >= k->num;
		break;
	}
	*match_r = r;
	return 0;
}

int
imap_search_match(const struct imap_search_key *keys,
    const struct imap_search_env *env, const struct imap_msg_info *m,
    bool *match_r, struct mail_err *err)
{
	struct imap_search_ctx ctx;
	int ret;

	memset(&ctx, 0, sizeof(ctx));
	ctx.env = env;
	ctx.m = m;
	ctx.err = err;
	imap_text_conv_init(&ctx.conv);
	*match_r = true;	/* no keys: everything */
	ret = keys == NULL ? 0 : imap_search_eval_and(&ctx, keys, match_r);
	if (ret < 0)
		*match_r = false;
	mail_headers_free(&ctx.hdrs);
	mail_buf_free(&ctx.hdr_text);
	mail_buf_free(&ctx.body_text);
	mail_buf_free(&ctx.part_hdrs);
	mail_buf_free(&ctx.needle);
	mail_buf_free(&ctx.tmp);
	mail_buf_free(&ctx.tmp2);
	imap_text_conv_free(&ctx.conv);
	return ret;
}
