/*
 * mail_buf.c: growable buffer and bounded reader. The reader never trusts
 * its input: every length is checked against what is left before use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "mail_buf.h"

void
mail_buf_reserve(struct mail_buf *b, size_t n)
{
	size_t want;

	if (__builtin_add_overflow(b->len, n + 1, &want))
		mail_assert(!"buffer size overflow");
	b->data = mail_xgrow(b->data, &b->cap, want, 1);
}

void
mail_buf_append(struct mail_buf *b, const void *p, size_t n)
{
	mail_buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
mail_buf_append_str(struct mail_buf *b, const char *s)
{
	mail_buf_append(b, s, strlen(s));
}

void
mail_buf_printf(struct mail_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	mail_assert(n >= 0);
	mail_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
mail_buf_put_u8(struct mail_buf *b, uint8_t v)
{
	mail_buf_append(b, &v, 1);
}

void
mail_buf_put_le16(struct mail_buf *b, uint16_t v)
{
	uint8_t t[2];

	mail_put_le16(t, v);
	mail_buf_append(b, t, 2);
}

void
mail_buf_put_le32(struct mail_buf *b, uint32_t v)
{
	uint8_t t[4];

	mail_put_le32(t, v);
	mail_buf_append(b, t, 4);
}

void
mail_buf_put_le64(struct mail_buf *b, uint64_t v)
{
	uint8_t t[8];

	mail_put_le64(t, v);
	mail_buf_append(b, t, 8);
}

void
mail_buf_put_varint(struct mail_buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;

	do {
		t[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			t[n] |= 0x80;
		n++;
	} while (v != 0);
	mail_buf_append(b, t, n);
}

void
mail_buf_put_bytes(struct mail_buf *b, const void *p, size_t n)
{
	mail_buf_put_varint(b, n);
	mail_buf_append(b, p, n);
}

void
mail_buf_put_str(struct mail_buf *b, const char *s)
{
	mail_buf_put_bytes(b, s, strlen(s));
}

void
mail_buf_consume(struct mail_buf *b, size_t n)
{
	mail_assert(n <= b->len);
	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
mail_buf_truncate(struct mail_buf *b, size_t len)
{
	mail_assert(len <= b->len);
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

void
mail_buf_reset(struct mail_buf *b)
{
	mail_buf_truncate(b, 0);
}

void
mail_buf_free(struct mail_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
mail_buf_steal_str(struct mail_buf *b)
{
	char *s;

	if (b->data == NULL)
		return mail_xstrdup("");
	s = (char *)b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

static const uint8_t *
mail_get_n(struct mail_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || r->left < n) {
		r->bad = true;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

const uint8_t *
mail_get_span(struct mail_reader *r, size_t n)
{
	return mail_get_n(r, n);
}

uint8_t
mail_get_u8(struct mail_reader *r)
{
	const uint8_t *p = mail_get_n(r, 1);

	return p == NULL ? 0 : p[0];
}

uint16_t
mail_get_u16(struct mail_reader *r)
{
	const uint8_t *p = mail_get_n(r, 2);

	return p == NULL ? 0 : mail_get_le16(p);
}

uint32_t
mail_get_u32(struct mail_reader *r)
{
	const uint8_t *p = mail_get_n(r, 4);

	return p == NULL ? 0 : mail_get_le32(p);
}

uint64_t
mail_get_u64(struct mail_reader *r)
{
	const uint8_t *p = mail_get_n(r, 8);

	return p == NULL ? 0 : mail_get_le64(p);
}

uint64_t
mail_get_varint(struct mail_reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	for (;;) {
		const uint8_t *p = mail_get_n(r, 1);

		if (p == NULL)
			return 0;
		/* the 10th byte may only carry the top bit of a u64 */
		if (shift == 63 && (*p & 0x7e) != 0) {
			r->bad = true;
			return 0;
		}
		v |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p & 0x80) == 0) {
			/* one encoding per value: a zero last byte after
			 * the first is padding, which no encoder of ours
			 * writes */
			if (shift > 0 && *p == 0) {
				r->bad = true;
				return 0;
			}
			return v;
		}
		shift += 7;
		if (shift > 63) {
			r->bad = true;
			return 0;
		}
	}
}

void
mail_get_raw(struct mail_reader *r, void *dst, size_t n)
{
	const uint8_t *p = mail_get_n(r, n);

	if (p == NULL)
		memset(dst, 0, n);
	else
		memcpy(dst, p, n);
}

const uint8_t *
mail_get_bytes(struct mail_reader *r, size_t max, size_t *len_r)
{
	uint64_t n = mail_get_varint(r);
	const uint8_t *p;

	*len_r = 0;
	if (r->bad)
		return NULL;
	if (n > max || n > r->left) {
		r->bad = true;
		return NULL;
	}
	p = mail_get_n(r, (size_t)n);
	*len_r = (size_t)n;
	return p;
}

char *
mail_get_strdup(struct mail_reader *r, size_t max)
{
	size_t n;
	const uint8_t *p = mail_get_bytes(r, max, &n);

	if (p == NULL)
		return NULL;
	if (memchr(p, '\0', n) != NULL) {
		r->bad = true;
		return NULL;
	}
	return mail_xstrndup((const char *)p, n);
}

bool
mail_reader_end(const struct mail_reader *r)
{
	return !r->bad && r->left == 0;
}
