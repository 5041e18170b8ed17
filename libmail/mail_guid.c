/*
 * mail_guid.c: GUIDs and body hashes. Body hashes are XXH3-128 written
 * big-endian (high half first) so the hex form matches xxh128sum.
 */
#include <xxhash.h>

#include "mail_guid.h"

void
mail_guid_generate(struct mail_guid *g)
{
	mail_random(g->b, sizeof(g->b));
}

void
mail_guid_hash(const void *data, size_t len, struct mail_guid *g)
{
	XXH128_hash_t h = XXH3_128bits(data, len);
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(g->b, c.digest, sizeof(g->b));
}

bool
mail_guid_is_zero(const struct mail_guid *g)
{
	static const struct mail_guid zero;

	return memcmp(g, &zero, sizeof(zero)) == 0;
}

int
mail_guid_cmp(const struct mail_guid *a, const struct mail_guid *b)
{
	return memcmp(a->b, b->b, sizeof(a->b));
}

char *
mail_guid_to_hex(const struct mail_guid *g, char out[MAIL_GUID_HEX])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < MAIL_GUID_SIZE; i++) {
		out[2 * i] = hex[g->b[i] >> 4];
		out[2 * i + 1] = hex[g->b[i] & 0xf];
	}
	out[32] = '\0';
	return out;
}

int
mail_guid_from_hex(const char *s, struct mail_guid *g)
{
	for (int i = 0; i < MAIL_GUID_SIZE; i++) {
		int hi = mail_hex_value(s[2 * i]), lo;

		if (hi < 0)
			return -1;
		lo = mail_hex_value(s[2 * i + 1]);
		if (lo < 0)
			return -1;
		g->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[32] == '\0' ? 0 : -1;
}
