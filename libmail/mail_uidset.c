/*
 * mail_uidset.c: sequence-set parsing and a small sorted range list.
 * Adding keeps the list normalized, so membership is a binary search.
 */
#include <stdlib.h>

#include "mail_uidset.h"

void
mail_uidset_add(struct mail_uidset *set, uint32_t lo, uint32_t hi)
{
	size_t i, j;

	if (lo > hi) {
		uint32_t t = lo;

		lo = hi;
		hi = t;
	}
	/* binary search: first range ending at or after lo - 1 (it may
	 * touch lo and merge); appends in order stay O(log n) */
	{
		size_t a = 0, z = set->n;
		uint32_t want = lo - (lo > 0 ? 1 : 0);

		while (a < z) {
			size_t mid = (a + z) / 2;

			if (set->r[mid].hi < want)
				a = mid + 1;
			else
				z = mid;
		}
		i = a;
	}
	if (i == set->n || set->r[i].lo > (hi == UINT32_MAX ? hi : hi + 1)) {
		set->r = mail_xgrow(set->r, &set->cap, set->n + 1,
		    sizeof(*set->r));
		memmove(&set->r[i + 1], &set->r[i],
		    (set->n - i) * sizeof(*set->r));
		set->r[i].lo = lo;
		set->r[i].hi = hi;
		set->n++;
		return;
	}
	/* merge with i and every following range that touches */
	if (lo < set->r[i].lo)
		set->r[i].lo = lo;
	if (hi > set->r[i].hi)
		set->r[i].hi = hi;
	for (j = i + 1; j < set->n; j++) {
		/* test for UINT32_MAX first: hi + 1 would wrap to 0 */
		if (set->r[i].hi != UINT32_MAX &&
		    set->r[j].lo > set->r[i].hi + 1)
			break;
		if (set->r[j].hi > set->r[i].hi)
			set->r[i].hi = set->r[j].hi;
	}
	memmove(&set->r[i + 1], &set->r[j], (set->n - j) * sizeof(*set->r));
	set->n -= j - i - 1;
}

static int
parse_num(const char **sp, uint32_t star, uint32_t *v, bool *is_star)
{
	const char *s = *sp;
	uint64_t n = 0;

	*is_star = false;
	if (*s == '*') {
		*v = star;
		*is_star = true;
		*sp = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return -1;
		s++;
	}
	*v = (uint32_t)n;
	*sp = s;
	return 0;
}

int
mail_uidset_parse(const char *str, uint32_t star, struct mail_uidset *set,
    struct mail_err *err)
{
	const char *s = str;

	for (;;) {
		uint32_t lo, hi;
		bool lo_star, hi_star;

		if (parse_num(&s, star, &lo, &lo_star) < 0)
			goto bad;
		hi = lo;
		hi_star = lo_star;
		if (*s == ':') {
			s++;
			if (parse_num(&s, star, &hi, &hi_star) < 0)
				goto bad;
		}
		/* "*" in an empty mailbox matches nothing; "5:*" with
		 * star < 5 means star:5 (RFC 9051 6.4.8), which for an empty
		 * mailbox is just 5. */
		if (lo_star && hi_star) {
			if (star != 0)
				mail_uidset_add(set, star, star);
		} else if (lo_star || hi_star) {
			uint32_t fixed = lo_star ? hi : lo;

			mail_uidset_add(set, fixed, star == 0 ? fixed : star);
		} else {
			mail_uidset_add(set, lo, hi);
		}
		if (*s == '\0')
			return 0;
		if (*s != ',')
			goto bad;
		s++;
	}
bad:
	return mail_err_set(err, MAIL_ERR_PARAM, "invalid UID set '%s'", str);
}

bool
mail_uidset_contains(const struct mail_uidset *set, uint32_t uid)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (uid < set->r[mid].lo)
			hi = mid;
		else if (uid > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t
mail_uidset_count(const struct mail_uidset *set)
{
	uint64_t n = 0;

	for (size_t i = 0; i < set->n; i++)
		n += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	return n;
}

void
mail_uidset_format(const struct mail_uidset *set, struct mail_buf *out)
{
	for (size_t i = 0; i < set->n; i++) {
		if (i > 0)
			mail_buf_append(out, ",", 1);
		if (set->r[i].lo == set->r[i].hi)
			mail_buf_printf(out, "%u", set->r[i].lo);
		else
			mail_buf_printf(out, "%u:%u", set->r[i].lo,
			    set->r[i].hi);
	}
}

void
mail_uidset_free(struct mail_uidset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = set->cap = 0;
}
