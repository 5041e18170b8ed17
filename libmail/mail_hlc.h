/*
 * mail_hlc.h: hybrid logical clocks. An HLC value is 48 bits of wall
 * clock milliseconds and 16 bits of logical counter, so it orders like
 * time but never goes backwards and never repeats on one node, even when
 * the wall clock steps back. Last-writer-wins compares (hlc, node id).
 */
#ifndef MAIL_HLC_H
#define MAIL_HLC_H

#include "mail_util.h"

#define MAIL_HLC_LOGICAL_BITS 16

/* The next local timestamp after last, given the wall clock now_ms:
 * max(now_ms << 16, last + 1). */
uint64_t mail_hlc_next(uint64_t last, uint64_t now_ms);
/* Merge a timestamp seen from another node: the result is greater than
 * both last and remote. */
uint64_t mail_hlc_observe(uint64_t last, uint64_t remote, uint64_t now_ms);
/* Milliseconds part. */
static inline uint64_t
mail_hlc_ms(uint64_t hlc)
{
	return hlc >> MAIL_HLC_LOGICAL_BITS;
}
/* -1, 0, 1: order of (hlc_a, node_a) against (hlc_b, node_b). */
int	mail_hlc_cmp(uint64_t hlc_a, uint64_t node_a, uint64_t hlc_b,
	    uint64_t node_b);

#endif
