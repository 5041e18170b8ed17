/*
 * fuzz_message_header.c: libFuzzer target for mail_header.c.
 *
 * Parses the input as a message, looks up a few fields, decodes their
 * encoded-words and parses the Date. The whole input also goes, as one C
 * string, through the word decoder and the date parser, so those see bytes
 * the header parser would have split into lines. Beyond the sanitizers it
 * checks the documented invariants and traps when one breaks: fields tile
 * the section, sizes add up, and decoded text is valid UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoded text is always valid UTF-8 (mail_header.h). A deliberately
 * simple second implementation: lead byte, continuations, then ranges. */
static void
fuzz_check_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		n = (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
		    (*p & 0xf8) == 0xf0 ? 3 : 0;
		if (n == 0)
			__builtin_trap();
		cp = *p & (0x3f >> n);
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				__builtin_trap();
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			__builtin_trap();
		p += n + 1;
	}
}

static void
fuzz_decode(const char *value)
{
	char *s;

	if (value == NULL)
		return;
	s = mail_header_decode_words(value);
	fuzz_check_utf8(s);
	free(s);
}

/* A parsed date lies between 1 Jan 1900 and 31 Dec 9999, give or take the
 * largest zone offset (99:59). */
static void
fuzz_date(const char *value)
{
	int64_t t;

	if (mail_header_parse_date(value, &t) == 0 &&
	    (t < -2208988800LL - 100 * 3600 ||
	    t > 253402300799LL + 100 * 3600))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "Subject", "From", "To",
	    "Message-ID", "Content-Type" };
	struct mail_headers *h = NULL;
	struct mail_err err;
	const char *date;
	size_t pos = 0, count;
	char *str;

	if (mail_header_parse(data, size, &h, &err) == 0) {
		if (mail_header_size(h) > mail_header_body_offset(h) ||
		    mail_header_body_offset(h) > size)
			__builtin_trap();
		count = mail_header_count(h);
		for (size_t i = 0; i < count; i++) {
			const struct mail_header_field *f =
			    mail_header_field(h, i);

			if (f->offset != pos || f->value_offset < f->offset ||
			    f->value_offset + f->raw_value_len >
			    f->offset + f->size ||
			    memcmp(f->raw_value, data + f->value_offset,
			    f->raw_value_len) != 0)
				__builtin_trap();
			pos += f->size;
		}
		if (pos != mail_header_size(h))
			__builtin_trap();
		for (size_t i = 0; i < N_ELEMENTS(names); i++)
			fuzz_decode(mail_header_get(h, names[i]));
		/* every value, capped so a 10,000-field input stays fast */
		for (size_t i = 0; i < count && i < 64; i++)
			fuzz_decode(mail_header_field(h, i)->value);
		if ((date = mail_header_get(h, "Date")) != NULL)
			fuzz_date(date);
		mail_headers_free(&h);
	} else if (err.code != MAIL_ERR_LIMIT || h != NULL) {
		__builtin_trap();
	}

	/* The raw input as one string, cut at its first NUL. */
	str = malloc(size + 1);
	if (str == NULL)
		return 0;
	if (size > 0)
		memcpy(str, data, size);
	str[size] = '\0';
	fuzz_decode(str);
	fuzz_date(str);
	free(str);
	return 0;
}
