/*
 * mail_hlc.c: hybrid logical clock arithmetic (Kulkarni et al.), packed
 * into one u64 so it can be compared with a single integer compare.
 */
#include "mail_hlc.h"

uint64_t
mail_hlc_next(uint64_t last, uint64_t now_ms)
{
	uint64_t phys = now_ms << MAIL_HLC_LOGICAL_BITS;

	return phys > last ? phys : last + 1;
}

uint64_t
mail_hlc_observe(uint64_t last, uint64_t remote, uint64_t now_ms)
{
	uint64_t m = last > remote ? last : remote;

	return mail_hlc_next(m, now_ms);
}

int
mail_hlc_cmp(uint64_t hlc_a, uint64_t node_a, uint64_t hlc_b, uint64_t node_b)
{
	if (hlc_a != hlc_b)
		return hlc_a < hlc_b ? -1 : 1;
	if (node_a != node_b)
		return node_a < node_b ? -1 : 1;
	return 0;
}
