/*
 * mail_guid.h: 128-bit identifiers (mailbox and message GUIDs, body
 * hashes) and their lowercase hex form.
 */
#ifndef MAIL_GUID_H
#define MAIL_GUID_H

#include <stdbool.h>
#include "mail_util.h"

#define MAIL_GUID_SIZE	16
#define MAIL_GUID_HEX	33	/* 32 hex digits and NUL */

struct mail_guid {
	uint8_t	b[MAIL_GUID_SIZE];
};

/* A new random GUID. */
void	mail_guid_generate(struct mail_guid *g);
/* XXH3-128 of data, big-endian, as body hashes are written. */
void	mail_guid_hash(const void *data, size_t len, struct mail_guid *g);
bool	mail_guid_is_zero(const struct mail_guid *g);
int	mail_guid_cmp(const struct mail_guid *a, const struct mail_guid *b);
/* Write 32 lowercase hex digits and a NUL into out; returns out. */
char	*mail_guid_to_hex(const struct mail_guid *g, char out[MAIL_GUID_HEX]);
/* Parse exactly 32 hex digits. Returns 0 or -1. */
int	mail_guid_from_hex(const char *s, struct mail_guid *g) WARN_UNUSED;

#endif
