/*
 * mail_buf.h: the one growable byte buffer. data[len] is kept '\0' once
 * allocated, but no API relies on it: bodies hold NULs, so APIs take
 * (ptr, len). Also a bounds-checked reader with a sticky error flag for
 * decoding untrusted bytes.
 */
#ifndef MAIL_BUF_H
#define MAIL_BUF_H

#include <stdbool.h>
#include "mail_util.h"

struct mail_buf {
	uint8_t	*data;		/* NULL while cap == 0 */
	size_t	 len;		/* bytes used; data[len] == '\0' once allocated */
	size_t	 cap;
};

#define MAIL_BUF_INIT { NULL, 0, 0 }

/* Make room for n more bytes (aborts on OOM). */
void	mail_buf_reserve(struct mail_buf *b, size_t n);
void	mail_buf_append(struct mail_buf *b, const void *p, size_t n);
void	mail_buf_append_str(struct mail_buf *b, const char *s);
void	mail_buf_printf(struct mail_buf *b, const char *fmt, ...)
	    PRINTF_LIKE(2, 3);
void	mail_buf_put_u8(struct mail_buf *b, uint8_t v);
void	mail_buf_put_le16(struct mail_buf *b, uint16_t v);
void	mail_buf_put_le32(struct mail_buf *b, uint32_t v);
void	mail_buf_put_le64(struct mail_buf *b, uint64_t v);
/* LEB128 unsigned varint. */
void	mail_buf_put_varint(struct mail_buf *b, uint64_t v);
/* varint length followed by the bytes. */
void	mail_buf_put_bytes(struct mail_buf *b, const void *p, size_t n);
void	mail_buf_put_str(struct mail_buf *b, const char *s);
/* Drop n bytes from the front. */
void	mail_buf_consume(struct mail_buf *b, size_t n);
void	mail_buf_truncate(struct mail_buf *b, size_t len);
void	mail_buf_reset(struct mail_buf *b);
/* Free the storage; the buffer is empty and reusable afterwards. */
void	mail_buf_free(struct mail_buf *b);
/* Hand the storage to the caller as a NUL-terminated string (caller frees);
 * the buffer is left empty. Never returns NULL. */
char	*mail_buf_steal_str(struct mail_buf *b);

/* A read cursor over borrowed bytes. Any read past the end, or a malformed
 * varint (over 64 bits, or padded: not in its shortest form), sets bad and
 * returns zeros; check once with mail_reader_end(). */
struct mail_reader {
	const uint8_t *p;
	size_t	 left;
	bool	 bad;
};

static inline void
mail_reader_init(struct mail_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->bad = false;
}
uint8_t	 mail_get_u8(struct mail_reader *r);
uint16_t mail_get_u16(struct mail_reader *r);
uint32_t mail_get_u32(struct mail_reader *r);
uint64_t mail_get_u64(struct mail_reader *r);
uint64_t mail_get_varint(struct mail_reader *r);
/* Copy n bytes out; on failure dst is zeroed. */
void	 mail_get_raw(struct mail_reader *r, void *dst, size_t n);
/* Borrow the next n bytes (no copy); NULL and bad when fewer are left. */
const uint8_t *mail_get_span(struct mail_reader *r, size_t n);
/* A varint-prefixed byte string, borrowed from the reader's memory;
 * *len_r set. Returns NULL (and sets bad) when truncated or longer than
 * max. */
const uint8_t *mail_get_bytes(struct mail_reader *r, size_t max,
	    size_t *len_r);
/* Like mail_get_bytes() but returns a malloc'ed NUL-terminated copy that
 * must not contain NUL bytes (caller frees); NULL and bad on error. */
char	*mail_get_strdup(struct mail_reader *r, size_t max);
/* True when nothing went wrong and every byte was consumed. */
bool	 mail_reader_end(const struct mail_reader *r);

#endif
