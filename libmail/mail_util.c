/*
 * mail_util.c: allocation wrappers, the assertion hook, clocks and
 * randomness. Allocation failure aborts: crash safety comes from the on-disk
 * protocol, not from unwinding half-done work.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/random.h>
#include <errno.h>

#include "mail_util.h"

static NORETURN void
mail_oom(size_t n)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void
mail_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "fatal: assertion '%s' failed at %s:%d\n", expr, file,
	    line);
	abort();
}

void *
mail_xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		mail_oom(n);
	return p;
}

void *
mail_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);

	if (p == NULL)
		mail_oom(nmemb * size);
	return p;
}

void *
mail_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n == 0 ? 1 : n);

	if (q == NULL)
		mail_oom(n);
	return q;
}

void *
mail_xgrow(void *p, size_t *cap, size_t want, size_t elem)
{
	size_t ncap = *cap, bytes;

	if (want <= *cap)
		return p;
	if (ncap < 8)
		ncap = 8;
	while (ncap < want) {
		if (__builtin_mul_overflow(ncap, 2, &ncap))
			mail_oom(SIZE_MAX);
	}
	if (__builtin_mul_overflow(ncap, elem, &bytes))
		mail_oom(SIZE_MAX);
	p = mail_xrealloc(p, bytes);
	*cap = ncap;
	return p;
}

char *
mail_xstrdup(const char *s)
{
	return mail_xstrndup(s, strlen(s));
}

char *
mail_xstrndup(const char *s, size_t n)
{
	char *p = mail_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
mail_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		mail_oom(strlen(fmt));
	va_end(ap);
	return s;
}

int
mail_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
mail_base64_value(char c, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == c63)
		return 63;
	return -1;
}

uint64_t
mail_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
mail_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fatal: getrandom failed\n");
			abort();
		}
		p += r;
		n -= (size_t)r;
	}
}
