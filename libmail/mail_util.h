/*
 * mail_util.h: allocation that aborts on OOM, attribute macros and
 * little-endian integer helpers shared by every module.
 */
#ifndef MAIL_UTIL_H
#define MAIL_UTIL_H

#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define WARN_UNUSED	__attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN	__attribute__((noreturn))
#define N_ELEMENTS(a)	(sizeof(a) / sizeof((a)[0]))

/* Programmer-error check that stays on in release builds. */
#define mail_assert(expr) \
	((expr) ? (void)0 : mail_assert_fail(#expr, __FILE__, __LINE__))
NORETURN void mail_assert_fail(const char *expr, const char *file, int line);

/* Allocators: never return NULL; abort the process on OOM. */
void	*mail_xmalloc(size_t n);
void	*mail_xcalloc(size_t nmemb, size_t size);
void	*mail_xrealloc(void *p, size_t n);
/* Grow an array to hold at least want elements; *cap is updated. */
void	*mail_xgrow(void *p, size_t *cap, size_t want, size_t elem);
/* qsort() that accepts an empty array, which may be NULL (qsort's
 * pointer must never be NULL, even for zero elements). */
static inline void
mail_qsort(void *v, size_t n, size_t size, int (*cmp)(const void *,
    const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}
char	*mail_xstrdup(const char *s);
char	*mail_xstrndup(const char *s, size_t n);
/* Allocate a formatted string (caller frees). */
char	*mail_xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

static inline void
mail_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void
mail_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void
mail_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t
mail_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t
mail_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static inline uint64_t
mail_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The value of hex digit c (either case), or -1. */
int	mail_hex_value(char c);
/* The value of c in the base64 alphabet whose 63rd digit is c63 ('/' in
 * RFC 2045, ',' in IMAP's modified UTF-7), or -1. */
int	mail_base64_value(char c, char c63);
/* Wall clock in milliseconds since the epoch. */
uint64_t mail_now_ms(void);

/* Signed integers as varints: zigzag maps 0, -1, 1, -2 ... to 0, 1, 2,
 * 3 ... so small negative numbers stay short. */
static inline uint64_t
mail_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t
mail_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
/* Fill buf with n bytes from the kernel's CSPRNG (getrandom); aborts on
 * failure, which only happens on broken kernels. */
void	mail_random(void *buf, size_t n);

#endif
