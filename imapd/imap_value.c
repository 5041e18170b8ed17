/*
 * imap_value.c: the per-command arena and the IMAP values of the parser
 * (imap_parser.h, imap_parser_private.h).
 *
 * The arena holds everything of one command: its argument tree, its
 * decoded values and struct imap_cmd itself; it is freed at once.
 *
 * The values are numbers, quoted strings, sequence sets (RFC 9051
 * sequence-set, RFC 5182 "$"), dates and date-times. Each parser refuses
 * anything its ABNF does not allow, and each writer produces the one
 * spelling its parser reads back, so the canonical writer
 * (imap_cmd_write.c) round-trips. Client text in error messages is cut
 * short and made printable (imap_show()).
 */
#include <inttypes.h>
#include <stdio.h>

#include "imap_parser_private.h"

/* ---- the per-command arena ---- */

/*
 * A bump allocator: chunks grow from 1 KiB to 64 KiB, so a small command
 * costs one small malloc; a big literal gets a chunk of its own. Freed at
 * once with the command.
 */
struct imap_arena_chunk {
	struct imap_arena_chunk *prev;
	size_t	 size, used;
	max_align_t data[];
};

struct imap_arena {
	struct imap_arena_chunk *cur;
	size_t	 next_size;
};

/* Under AddressSanitizer every allocation is followed by a poisoned
 * redzone, so an overflow inside a chunk is caught as in malloc(). */
#if defined(__SANITIZE_ADDRESS__)
#define IMAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IMAP_ASAN 1
#endif
#endif
#ifdef IMAP_ASAN
#include <sanitizer/asan_interface.h>
#define IMAP_REDZONE		16
#else
#define ASAN_POISON_MEMORY_REGION(p, n)	((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define IMAP_REDZONE		0
#endif

#define IMAP_ARENA_FIRST	1024
#define IMAP_ARENA_CHUNK_MAX	65536
#define IMAP_ARENA_ALIGN	_Alignof(max_align_t)

struct imap_arena *
imap_arena_new(void)
{
	struct imap_arena *a = mail_xcalloc(1, sizeof(*a));

	a->next_size = IMAP_ARENA_FIRST;
	return a;
}

void *
imap_arena_raw(struct imap_arena *a, size_t n)
{
	struct imap_arena_chunk *c = a->cur;
	size_t need = (n + IMAP_REDZONE + IMAP_ARENA_ALIGN - 1) &
	    ~(IMAP_ARENA_ALIGN - 1);
	void *ptr;

	mail_assert(need >= n && need < SIZE_MAX / 2);
	if (c == NULL || c->size - c->used < need) {
		size_t size = need > a->next_size ? need : a->next_size;

		c = mail_xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		ASAN_POISON_MEMORY_REGION(c->data, size);
		if (a->cur != NULL && need > a->next_size / 2) {
			/* big: keep filling the current chunk afterwards */
			c->prev = a->cur->prev;
			a->cur->prev = c;
			c->used = need;
			ASAN_UNPOISON_MEMORY_REGION(c->data, n);
			return c->data;
		}
		c->prev = a->cur;
		a->cur = c;
		if (a->next_size < IMAP_ARENA_CHUNK_MAX)
			a->next_size *= 2;
	}
	ptr = (uint8_t *)c->data + c->used;
	c->used += need;
	ASAN_UNPOISON_MEMORY_REGION(ptr, n);
	return ptr;
}

void *
imap_arena_alloc(struct imap_arena *a, size_t n)
{
	return memset(imap_arena_raw(a, n), 0, n);
}

/* The count comes from input already bounded by the line length, but
 * check the product anyway. */
void *
imap_arena_array(struct imap_arena *a, size_t nmemb, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(nmemb, size, &n))
		abort();
	return imap_arena_alloc(a, n);
}

char *
imap_arena_memdup(struct imap_arena *a, const void *p, size_t n)
{
	char *s = imap_arena_raw(a, n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* For imap_parser_mem_used(): what the command holds, so every chunk
 * counts, used or not. */
size_t
imap_arena_size(const struct imap_arena *a)
{
	size_t n = sizeof(*a);

	for (const struct imap_arena_chunk *c = a->cur; c != NULL;
	    c = c->prev)
		n += sizeof(*c) + c->size;
	return n;
}

void
imap_arena_free(struct imap_arena **ap)
{
	struct imap_arena *a = *ap;
	struct imap_arena_chunk *c, *prev;

	if (a == NULL)
		return;
	for (c = a->cur; c != NULL; c = prev) {
		prev = c->prev;
		ASAN_UNPOISON_MEMORY_REGION(c->data, c->size);
		free(c);
	}
	free(a);
	*ap = NULL;
}

/* ---- numbers and strings ---- */

const char *
imap_show(char *buf, size_t size, const char *s, size_t n)
{
	size_t i, max = size > 44 ? 40 : size - 4;

	for (i = 0; i < n && i < max; i++) {
		uint8_t c = (uint8_t)s[i];

		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < n) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

bool
imap_num_parse(const char *s, size_t n, uint64_t max, bool nz, uint64_t *v_r)
{
	uint64_t v = 0;

	if (n == 0 || (nz && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(uint8_t)s[i] - '0';

		if (!imap_is_digit((uint8_t)s[i]) || d > max ||
		    v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*v_r = v;
	return true;
}

/* Saturated rather than refused: an announcement too big for any limit
 * is answered as over the limit, and a broken command's literal is still
 * known to be too big to skip. */
uint64_t
imap_num_saturated(const uint8_t *s, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX :
		    v * 10 + (s[i] - '0');
	return v;
}

int
imap_quoted_scan(const uint8_t *s, size_t n, size_t *end_r, size_t *len_r,
    struct mail_err *err)
{
	size_t j, len = 0;

	for (j = 1; j < n && s[j] != '"'; j++, len++) {
		if (s[j] == '\\') {
			if (j + 1 == n || (s[j + 1] != '"' && s[j + 1] != '\\'))
				return mail_err_set(err, MAIL_ERR_PROTO,
				    "invalid escape in a quoted string");
			j++;
		} else if (s[j] == '\0' || s[j] == '\r')
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "invalid character 0x%02x in a quoted string", s[j]);
	}
	if (j == n)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "missing '\"' at the end of a quoted string");
	*end_r = j;
	*len_r = len;
	return 0;
}

char *
imap_quoted_copy(struct imap_arena *a, const uint8_t *s, size_t end,
    size_t len)
{
	char *str = imap_arena_raw(a, len + 1), *out = str;

	for (size_t k = 1; k < end; k++) {
		if (s[k] == '\\')
			k++;
		*out++ = (char)s[k];
	}
	*out = '\0';
	return str;
}

/* ---- sequence sets ---- */

int
imap_seqset_parse(struct imap_arena *a, const char *s, size_t len,
    bool dollar, struct imap_seqset *set_r, struct mail_err *err)
{
	struct imap_seq_range *r;
	size_t i = 0, k = 0, n = 1;
	char show[48];

	memset(set_r, 0, sizeof(*set_r));
	if (dollar && len == 1 && s[0] == '$') {
		set_r->saved = true;	/* RFC 5182: "$" stands alone */
		return 0;
	}
	/* one range per comma and one more: allocated once, at its size */
	for (size_t j = 0; j < len; j++)
		n += s[j] == ',';
	r = imap_arena_array(a, n, sizeof(*r));
	for (;;) {
		/* seq-range = seq-number ":" seq-number; seq-number =
		 * nz-number / "*" */
		for (int end = 0; end < 2; end++) {
			size_t j = i;
			uint64_t v = 0;

			if (j < len && s[j] == '*') {
				j++;
			} else {
				while (j < len && imap_is_digit((uint8_t)s[j]))
					j++;
				if (!imap_num_parse(s + i, j - i, UINT32_MAX,
				    true, &v))
					goto bad;
			}
			if (end == 0)
				r[k].lo = r[k].hi = (uint32_t)v;
			else
				r[k].hi = (uint32_t)v;
			i = j;
			if (end == 1 || i == len || s[i] != ':')
				break;
			i++;
		}
		k++;
		if (i == len)
			break;
		if (s[i] != ',')
			goto bad;
		i++;
	}
	set_r->n = k;
	set_r->r = r;
	return 0;
bad:
	return mail_err_set(err, MAIL_ERR_PROTO, "invalid sequence set '%s'",
	    imap_show(show, sizeof(show), s, len));
}

/* As sent ("5:3" stays so: the order of a range is the client's, and
 * '*' is only known in a mailbox), one spelling per number: "*" for 0. */
void
imap_seqset_write(struct mail_buf *out, const struct imap_seqset *set)
{
	if (set->saved) {
		mail_buf_append_str(out, "$");
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct imap_seq_range *r = &set->r[i];

		if (i > 0)
			mail_buf_append_str(out, ",");
		if (r->lo == 0)
			mail_buf_append_str(out, "*");
		else
			mail_buf_printf(out, "%" PRIu32, r->lo);
		if (r->hi == r->lo)
			continue;
		if (r->hi == 0)
			mail_buf_append_str(out, ":*");
		else
			mail_buf_printf(out, ":%" PRIu32, r->hi);
	}
}

/* ---- dates ---- */

static const char *const imap_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static unsigned
imap_days_in_month(unsigned year, unsigned month)
{
	static const uint8_t days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[month - 1] + (month == 2 && leap);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no timegm() and no time zone state. */
static int64_t
imap_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
imap_civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = doy - (153 * mp + 2) / 5 + 1;
	*m_r = mp < 10 ? mp + 3 : mp - 9;
	*y_r = (int64_t)yoe + era * 400 + (*m_r <= 2);
}

/* n digits at s as a number, or -1. */
static int
imap_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!imap_is_digit((uint8_t)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
imap_month(const char *s)
{
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(s, imap_months[i], 3) == 0)
			return i + 1;
	}
	return -1;
}

int
imap_date_parse(const char *s, size_t len, struct imap_date *date_r,
    struct mail_err *err)
{
	size_t dl = len > 1 && s[1] == '-' ? 1 : 2;
	int day, month, year;
	char show[48];

	/* date-text = date-day "-" date-month "-" date-year */
	if (len != dl + 9 || s[dl] != '-' || s[dl + 4] != '-' ||
	    (day = imap_digits(s, dl)) < 1 ||
	    (month = imap_month(s + dl + 1)) < 0 ||
	    (year = imap_digits(s + dl + 5, 4)) < 0 ||
	    (unsigned)day > imap_days_in_month((unsigned)year, (unsigned)month))
		return mail_err_set(err, MAIL_ERR_PROTO, "invalid date '%s'",
		    imap_show(show, sizeof(show), s, len));
	date_r->year = (uint16_t)year;
	date_r->month = (uint8_t)month;
	date_r->day = (uint8_t)day;
	return 0;
}

void
imap_date_write(struct mail_buf *out, const struct imap_date *d)
{
	mail_buf_printf(out, "%u-%s-%04u", (unsigned)d->day,
	    imap_months[d->month - 1], (unsigned)d->year);
}

int
imap_datetime_parse(const char *s, size_t len, struct imap_datetime *dt_r,
    struct mail_err *err)
{
	int day, month, year, hh, mm, ss, zh, zm;
	char show[48];

	/* "dd-Mon-yyyy hh:mm:ss +zzzz", date-day-fixed = (SP DIGIT) / 2DIGIT */
	if (len != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' ||
	    s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
	    (s[21] != '+' && s[21] != '-') ||
	    (day = s[0] == ' ' ? imap_digits(s + 1, 1) :
	    imap_digits(s, 2)) < 1 ||
	    (month = imap_month(s + 3)) < 0 ||
	    (year = imap_digits(s + 7, 4)) < 0 ||
	    (unsigned)day > imap_days_in_month((unsigned)year, (unsigned)month) ||
	    (hh = imap_digits(s + 12, 2)) < 0 || hh > 23 ||
	    (mm = imap_digits(s + 15, 2)) < 0 || mm > 59 ||
	    (ss = imap_digits(s + 18, 2)) < 0 || ss > 60 ||
	    (zh = imap_digits(s + 22, 2)) < 0 || zh > 23 ||
	    (zm = imap_digits(s + 24, 2)) < 0 || zm > 59)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "invalid date-time '%s'", imap_show(show, sizeof(show), s,
		    len));
	dt_r->zone = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	dt_r->t = imap_days_from_civil(year, (unsigned)month, (unsigned)day) *
	    86400 + hh * 3600 + mm * 60 + ss - (int64_t)dt_r->zone * 60;
	return 0;
}

/* The local time of the zone as sent, so the text round-trips (a leap
 * second :60 comes back as :00 of the next minute: t has no room for it). */
void
imap_datetime_write(struct mail_buf *out, const struct imap_datetime *dt)
{
	int64_t local = dt->t + (int64_t)dt->zone * 60, y;
	int64_t days = local / 86400 - (local % 86400 < 0);
	int64_t secs = local - days * 86400;
	int zone = dt->zone < 0 ? -dt->zone : dt->zone;
	unsigned m, d;

	imap_civil_from_days(days, &y, &m, &d);
	mail_buf_printf(out, "\"%02u-%s-%04" PRId64 " %02d:%02d:%02d %c%02d%02d\"",
	    d, imap_months[m - 1], y, (int)(secs / 3600), (int)(secs / 60 % 60),
	    (int)(secs % 60), dt->zone < 0 ? '-' : '+', zone / 60, zone % 60);
}
