/*
 * imap_sort.c: SORT (RFC 5256, RFC 5957) and the base subject.
 *
 * imap_sort() first computes every message's keys (fetching a message
 * only when a criterion needs its header, and then once for all of
 * them), then sorts indexes with qsort_r() and a comparator that ends on
 * the sequence number, so the order is total and the result does not
 * depend on the sort algorithm's stability.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_header.h"
#include "imap_sort.h"
#include "imap_text_private.h"

/* ---- base subject (RFC 5256 2.1) ---- */

static bool
imap_sort_ci_prefix(const char *p, size_t n, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i] != '\0'; i++) {
		char c = i < n ? p[i] : '\0';

		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (c != prefix[i])
			return false;
	}
	return true;
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at p[0..n): its length, or 0. */
static size_t
imap_sort_blob(const char *p, size_t n)
{
	size_t i = 1;

	if (n == 0 || p[0] != '[')
		return 0;
	while (i < n && p[i] != '[' && p[i] != ']')
		i++;
	if (i == n || p[i] != ']')
		return 0;
	for (i++; i < n && p[i] == ' '; i++)
		;
	return i;
}

/* *subj-blob subj-refwd at p[0..n), where subj-refwd = ("re" / ("fw"
 * ["d"])) *WSP [subj-blob] ":". Its length, or 0. */
static size_t
imap_sort_refwd(const char *p, size_t n)
{
	size_t i = 0, b;

	while ((b = imap_sort_blob(p + i, n - i)) > 0)
		i += b;
	if (imap_sort_ci_prefix(p + i, n - i, "re"))
		i += 2;
	else if (imap_sort_ci_prefix(p + i, n - i, "fwd"))
		i += 3;
	else if (imap_sort_ci_prefix(p + i, n - i, "fw"))
		i += 2;
	else
		return 0;
	while (i < n && p[i] == ' ')
		i++;
	i += imap_sort_blob(p + i, n - i);
	return i < n && p[i] == ':' ? i + 1 : 0;
}

char *
imap_sort_base_subject(struct imap_text_conv *c, const char *value,
    bool *refwd_r)
{
	struct mail_buf dec = MAIL_BUF_INIT, s = MAIL_BUF_INIT;
	struct mail_buf out = MAIL_BUF_INIT;
	const char *p;
	size_t start = 0, end, n;
	bool refwd = false, more;

	/* (1) Decode encoded-words; tabs and line ends become spaces and
	 * runs of spaces one space. */
	imap_text_decode_words(c, value, &dec);
	for (size_t i = 0; i < dec.len; i++) {
		uint8_t ch = dec.data[i];

		if (ch == '\t' || ch == '\r' || ch == '\n')
			ch = ' ';
		if (ch == ' ' && s.len > 0 && s.data[s.len - 1] == ' ')
			continue;
		mail_buf_append(&s, &ch, 1);
	}
	p = s.len > 0 ? (const char *)s.data : "";
	end = s.len;
	for (;;) {
		/* (2) Trailers: "(fwd)" and WSP, repeatedly. */
		for (;;) {
			if (end > start && p[end - 1] == ' ')
				end--;
			else if (end - start >= 5 &&
			    imap_sort_ci_prefix(p + end - 5, 5, "(fwd)")) {
				end -= 5;
				refwd = true;
			} else
				break;
		}
		/* (3)-(5) Leaders and blobs, until neither matches. */
		do {
			more = false;
			for (;;) {	/* (3) subj-leader, repeatedly */
				if (start < end && p[start] == ' ')
					start++;
				else if ((n = imap_sort_refwd(p + start,
				    end - start)) > 0) {
					start += n;
					refwd = true;
				} else
					break;
			}
			/* (4) A blob, if text is left after it. */
			n = imap_sort_blob(p + start, end - start);
			if (n > 0 && start + n < end) {
				start += n;
				more = true;
			}
		} while (more);
		/* (6) "[fwd:" ... "]": unwrap and start over from (2). */
		if (end - start >= 6 &&
		    imap_sort_ci_prefix(p + start, end - start, "[fwd:") &&
		    p[end - 1] == ']') {
			start += 5;
			end--;
			refwd = true;
			continue;
		}
		break;
	}
	imap_text_sanitize((const uint8_t *)p + start, end - start, &out);
	mail_buf_free(&dec);
	mail_buf_free(&s);
	if (refwd_r != NULL)
		*refwd_r = refwd;
	return mail_buf_steal_str(&out);
}

char *
imap_base_subject(const char *subject, size_t len)
{
	struct imap_text_conv c;
	char *copy, *ret;

	/* NULs become 0x80 as in mail_header values (and then U+FFFD). */
	copy = mail_xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		copy[i] = subject[i] == '\0' ? (char)0x80 : subject[i];
	copy[len] = '\0';
	imap_text_conv_init(&c);
	ret = imap_sort_base_subject(&c, copy, NULL);
	imap_text_conv_free(&c);
	free(copy);
	return ret;
}

/* ---- sorting ---- */

struct imap_sort_val {
	int64_t	 num;		/* ARRIVAL, DATE */
	uint64_t unum;		/* SIZE */
	uint8_t	*key;		/* string keys: imap_text_sortkey() */
	size_t	 key_len;
};

struct imap_sort_ctx {
	const struct imap_sort_criterion *crit;
	size_t	 n_crit;
	const struct imap_msg_info *msgs;
	struct imap_sort_val *vals;	/* n * n_crit */
};

static bool
imap_sort_needs_header(enum imap_sort_key key)
{
	return key != IMAP_SORT_ARRIVAL && key != IMAP_SORT_SIZE;
}

static const char *
imap_sort_field_name(enum imap_sort_key key)
{
	switch (key) {
	case IMAP_SORT_CC:
		return "Cc";
	case IMAP_SORT_FROM:
	case IMAP_SORT_DISPLAYFROM:
		return "From";
	case IMAP_SORT_TO:
	case IMAP_SORT_DISPLAYTO:
		return "To";
	default:
		return "Subject";
	}
}

/* The string to sort by for an address key, into out (UTF-8). */
static void
imap_sort_addr_string(struct imap_text_conv *c, enum imap_sort_key key,
    const char *value, struct mail_buf *out)
{
	struct imap_text_addr a = { false, false, MAIL_BUF_INIT,
	    MAIL_BUF_INIT, MAIL_BUF_INIT };

	imap_text_first_addr(value, &a);
	if (!a.found)
		goto out;
	if (key == IMAP_SORT_DISPLAYFROM || key == IMAP_SORT_DISPLAYTO) {
		/* RFC 5957 3: the display name (the ENVELOPE's addr-name),
		 * decoded, unless it is empty; then the addr-spec. A name
		 * of blanks is a name, as in Dovecot. */
		if (a.name.len > 0) {
			imap_text_decode_words(c, (const char *)a.name.data,
			    out);
			goto out;
		}
		mail_buf_append(out, a.mailbox.data, a.mailbox.len);
		if (a.domain.len > 0) {
			mail_buf_append(out, "@", 1);
			mail_buf_append(out, a.domain.data, a.domain.len);
		}
		goto out;
	}
	/* RFC 5256: the [IMAP] addr-mailbox */
	mail_buf_append(out, a.mailbox.data, a.mailbox.len);
out:
	if (out->data != NULL)
		out->data[out->len] = '\0';
	imap_text_addr_free(&a);
}

/* Fill the values of message i for every criterion. */
static int
imap_sort_fill(struct imap_sort_ctx *ctx, size_t i,
    const struct imap_search_env *env, struct imap_text_conv *c,
    struct mail_err *err)
{
	const struct imap_msg_info *m = &ctx->msgs[i];
	struct imap_sort_val *v = &ctx->vals[i * ctx->n_crit];
	struct mail_headers *h = NULL;
	struct mail_buf str = MAIL_BUF_INIT, key = MAIL_BUF_INIT;
	const uint8_t *data = NULL;
	const char *val;
	size_t len = 0;
	char *base;

	for (size_t k = 0; k < ctx->n_crit; k++) {
		enum imap_sort_key sk = ctx->crit[k].key;

		if (imap_sort_needs_header(sk) && h == NULL) {
			if (env->body == NULL) {
				mail_err_set(err, MAIL_ERR_INTERNAL,
				    "sort of uid %u needs the message but "
				    "no body callback is set", m->uid);
				goto fail;
			}
			if (env->body(env->body_ctx, m->uid, &data, &len,
			    err) < 0)
				goto fail;
			h = imap_text_headers(data, data != NULL ? len : 0);
		}
		switch (sk) {
		case IMAP_SORT_ARRIVAL:
			v[k].num = m->idate;
			continue;
		case IMAP_SORT_SIZE:
			v[k].unum = m->size;
			continue;
		case IMAP_SORT_DATE:
			v[k].num = imap_text_sent_date(h, m->idate);
			continue;
		default:
			break;
		}
		mail_buf_reset(&str);
		mail_buf_reset(&key);
		val = mail_header_get(h, imap_sort_field_name(sk));
		if (val != NULL && sk == IMAP_SORT_SUBJECT) {
			base = imap_sort_base_subject(c, val, NULL);
			mail_buf_append_str(&str, base);
			free(base);
		} else if (val != NULL)
			imap_sort_addr_string(c, sk, val, &str);
		imap_text_sortkey(str.data, str.len, &key);
		v[k].key_len = key.len;
		v[k].key = key.len > 0 ? (uint8_t *)mail_buf_steal_str(&key) :
		    NULL;
	}
	mail_headers_free(&h);
	mail_buf_free(&str);
	mail_buf_free(&key);
	return 0;
fail:
	mail_headers_free(&h);
	mail_buf_free(&str);
	mail_buf_free(&key);
	return -1;
}

static int
imap_sort_cmp(const void *pa, const void *pb, void *arg)
{
	const struct imap_sort_ctx *ctx = arg;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct imap_sort_val *va = &ctx->vals[a * ctx->n_crit];
	const struct imap_sort_val *vb = &ctx->vals[b * ctx->n_crit];
	uint32_t sa, sb;
	int r;

	for (size_t k = 0; k < ctx->n_crit; k++) {
		switch (ctx->crit[k].key) {
		case IMAP_SORT_ARRIVAL:
		case IMAP_SORT_DATE:
			r = (va[k].num > vb[k].num) - (va[k].num < vb[k].num);
			break;
		case IMAP_SORT_SIZE:
			r = (va[k].unum > vb[k].unum) -
			    (va[k].unum < vb[k].unum);
			break;
		default:
			/* "" sorts first (RFC 5256 3); a shorter key that
			 * is a prefix of the other comes first */
			r = memcmp(va[k].key != NULL ? va[k].key :
			    (const uint8_t *)"", vb[k].key != NULL ?
			    vb[k].key : (const uint8_t *)"",
			    va[k].key_len < vb[k].key_len ? va[k].key_len :
			    vb[k].key_len);
			if (r == 0)
				r = (va[k].key_len > vb[k].key_len) -
				    (va[k].key_len < vb[k].key_len);
			else
				r = r < 0 ? -1 : 1;
			break;
		}
		if (r != 0)
			return ctx->crit[k].reverse ? -r : r;
	}
	sa = ctx->msgs[a].seq;
	sb = ctx->msgs[b].seq;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	return (a > b) - (a < b);
}

int
imap_sort(const struct imap_sort_criterion *crit, size_t n_crit,
    const struct imap_msg_info *msgs, size_t n,
    const struct imap_search_env *env, size_t *order_r,
    struct mail_err *err)
{
	struct imap_sort_ctx ctx = { crit, n_crit, msgs, NULL };
	struct imap_text_conv c;
	size_t nvals, filled = 0;
	int ret = -1;

	for (size_t k = 0; k < n_crit; k++) {
		if ((unsigned)crit[k].key > (unsigned)IMAP_SORT_DISPLAYTO)
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "unknown sort criterion %d", (int)crit[k].key);
	}
	if (n == 0)
		return 0;
	if (__builtin_mul_overflow(n, n_crit, &nvals))
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "too many messages to sort");
	ctx.vals = mail_xcalloc(nvals == 0 ? 1 : nvals, sizeof(*ctx.vals));
	imap_text_conv_init(&c);
	for (; filled < n; filled++) {
		if (imap_sort_fill(&ctx, filled, env, &c, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++)
		order_r[i] = i;
	qsort_r(order_r, n, sizeof(*order_r), imap_sort_cmp, &ctx);
	ret = 0;
out:
	for (size_t i = 0; i < nvals; i++)
		free(ctx.vals[i].key);
	free(ctx.vals);
	imap_text_conv_free(&c);
	return ret;
}
