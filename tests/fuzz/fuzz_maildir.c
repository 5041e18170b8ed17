/*
 * fuzz_maildir.c: libFuzzer target for mail_maildir.c.
 *
 * The whole input goes through every parser of Maildir++ files: as a
 * message file name, a dovecot-uidlist, a dovecot-keywords file, a
 * subscriptions file, a folder directory name and a modified UTF-7
 * string. Inputs are real seeds of each kind (tests/fuzz/corpus/maildir/),
 * so mutations of one often reach the others. Beyond the sanitizers it
 * checks the documented results and traps when one breaks: uidlist UIDs
 * ascend below NEXTUID and every record is found by its name, decoded
 * names are valid UTF-8 that encode and decode back to themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_flags.h"
#include "mail_maildir.h"
#include "mail_name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_name(const char *s, size_t len)
{
	struct mail_maildir_name n;
	struct mail_err err;

	if (mail_maildir_name_parse(s, len, &n, &err) == 0) {
		if (n.base_len == 0 || n.base_len > len ||
		    (n.flags & ~MAIL_FLAGS_ALL) != 0 ||
		    (n.keywords >> MAIL_MAILDIR_KEYWORDS) != 0)
			__builtin_trap();
	} else if (err.code != MAIL_ERR_CORRUPT) {
		__builtin_trap();
	}
}

static void
fuzz_uidlist(const char *s, size_t len)
{
	struct mail_maildir_uidlist ul;
	struct mail_err err;

	if (mail_maildir_uidlist_parse(s, len, &ul, &err) < 0) {
		if (ul.recs != NULL || ul.n != 0 ||
		    (err.code != MAIL_ERR_CORRUPT && err.code != MAIL_ERR_LIMIT))
			__builtin_trap();
		return;
	}
	if (ul.uidvalidity == 0 || (ul.version != 1 && ul.version != 3))
		__builtin_trap();
	for (size_t i = 0; i < ul.n; i++) {
		const struct mail_maildir_uidlist_rec *r = &ul.recs[i];

		if (r->uid == 0 || r->uid >= ul.nextuid ||
		    (i > 0 && r->uid <= ul.recs[i - 1].uid) ||
		    r->base < s || r->base + r->base_len > s + len ||
		    r->base_len == 0 ||
		    (r->guid != NULL && (r->guid < s ||
		    r->guid + r->guid_len > s + len)))
			__builtin_trap();
		if (mail_maildir_uidlist_find(&ul, r->base, r->base_len) != r)
			__builtin_trap();
	}
	mail_maildir_uidlist_free(&ul);
}

static void
fuzz_keywords(const char *s, size_t len)
{
	struct mail_maildir_keywords kw;
	struct mail_err err;

	if (mail_maildir_keywords_parse(s, len, &kw, &err) < 0) {
		for (int i = 0; i < MAIL_MAILDIR_KEYWORDS; i++) {
			if (kw.names[i] != NULL)
				__builtin_trap();
		}
		return;
	}
	for (int i = 0; i < MAIL_MAILDIR_KEYWORDS; i++) {
		if (kw.names[i] != NULL && kw.names[i][0] == '\0')
			__builtin_trap();
	}
	mail_maildir_keywords_free(&kw);
}

/* A decoded name is UTF-8 and survives encode + decode unchanged. */
static void
fuzz_roundtrip(const struct mail_buf *dec, bool folder)
{
	struct mail_buf enc = MAIL_BUF_INIT, back = MAIL_BUF_INIT;
	struct mail_err err;
	const char *d = dec->len > 0 ? (const char *)dec->data : "";

	if (!mail_utf8_valid(d, dec->len))
		__builtin_trap();
	if (folder) {
		if (memchr(d, '\0', dec->len) != NULL ||
		    mail_maildir_name_to_folder(d, &enc, &err) < 0 ||
		    mail_maildir_folder_to_name((const char *)enc.data,
		    enc.len, &back, &err) < 0)
			__builtin_trap();
	} else {
		if (mail_maildir_mutf7_encode(d, dec->len, &enc, &err) < 0 ||
		    mail_maildir_mutf7_decode(enc.len > 0 ?
		    (const char *)enc.data : "", enc.len, &back, &err) < 0)
			__builtin_trap();
	}
	if (back.len != dec->len || (back.len > 0 &&
	    memcmp(back.data, dec->data, back.len) != 0))
		__builtin_trap();
	mail_buf_free(&enc);
	mail_buf_free(&back);
}

static void
fuzz_mutf7(const char *s, size_t len)
{
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;

	if (mail_maildir_mutf7_decode(s, len, &out, &err) == 0)
		fuzz_roundtrip(&out, false);
	mail_buf_reset(&out);
	/* as a folder name: components with empty ones filtered by the
	 * parser; a name with an empty component can not round-trip */
	if (mail_maildir_folder_to_name(s, len, &out, &err) == 0 &&
	    out.len > 0 && out.data[0] != '/' && out.data[out.len - 1] != '/' &&
	    memmem(out.data, out.len, "//", 2) == NULL)
		fuzz_roundtrip(&out, true);
	mail_buf_free(&out);
	/* encoding arbitrary bytes fails or yields printable ASCII */
	if (mail_maildir_mutf7_encode(s, len, &out, &err) == 0) {
		for (size_t i = 0; i < out.len; i++) {
			if (out.data[i] < 0x20 || out.data[i] > 0x7e)
				__builtin_trap();
		}
	}
	mail_buf_free(&out);
}

static void
fuzz_subscriptions(const char *s, size_t len)
{
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;
	char **names;
	size_t n, skipped;

	if (mail_maildir_subscriptions_parse(s, len, 1000, &names, &n,
	    &skipped, &err) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (mail_mailbox_name_check(names[i], &err) < 0)
			__builtin_trap();
	}
	if (mail_maildir_subscriptions_format(names, n, &out, &err) < 0)
		__builtin_trap();
	mail_maildir_names_free(names, n);
	mail_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* an exactly-sized copy, so reads past the end are caught */
	char *s = malloc(size > 0 ? size : 1);

	if (s == NULL)
		return 0;
	if (size > 0)
		memcpy(s, data, size);
	fuzz_name(s, size);
	fuzz_uidlist(s, size);
	fuzz_keywords(s, size);
	fuzz_mutf7(s, size);
	fuzz_subscriptions(s, size);
	free(s);
	return 0;
}
