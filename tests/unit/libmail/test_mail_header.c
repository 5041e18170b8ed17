/*
 * test_mail_header.c: header parsing, RFC 2047 decoding and dates.
 *
 * The split-point test parses every prefix of a message and checks that
 * each field the prefix holds completely comes out exactly as in the whole
 * message, which is what a caller reparsing a growing buffer relies on.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_header.h"
#include "testlib.h"

/* Parse a C string literal (or sized bytes) and fail the test on error. */
static struct mail_headers *
parse_ok(const void *msg, size_t len)
{
	struct mail_headers *h = NULL;
	struct mail_err err;

	mail_err_clear(&err);
	ck_assert_int_eq(mail_header_parse(msg, len, &h, &err), 0);
	ck_assert_ptr_nonnull(h);
	return h;
}

#define PARSE_STR(s) parse_ok((s), sizeof(s) - 1)

/* Checks every parse must pass: fields tile [0, size) in order, raw values
 * lie inside their field, and sizes add up. */
static void
check_invariants(const struct mail_headers *h, size_t len)
{
	size_t pos = 0;

	ck_assert_uint_le(mail_header_size(h), mail_header_body_offset(h));
	ck_assert_uint_le(mail_header_body_offset(h), len);
	ck_assert_uint_le(mail_header_body_offset(h) - mail_header_size(h), 2);
	if (!mail_header_has_eoh(h))
		ck_assert_uint_eq(mail_header_body_offset(h), len);
	for (size_t i = 0; i < mail_header_count(h); i++) {
		const struct mail_header_field *f = mail_header_field(h, i);

		ck_assert_uint_eq(f->offset, pos);
		ck_assert_uint_ge(f->value_offset, f->offset);
		ck_assert_uint_le(f->value_offset + f->raw_value_len,
		    f->offset + f->size);
		ck_assert_uint_le(strlen(f->value), f->raw_value_len);
		pos += f->size;
	}
	ck_assert_uint_eq(pos, mail_header_size(h));
	ck_assert_ptr_null(mail_header_field(h, mail_header_count(h)));
}

START_TEST(test_parse_basic)
{
	static const char msg[] = "From: a@example.org\n"
	    "To:b@example.org\n"
	    "Subject:   hello  \n"
	    "\n"
	    "body\n";
	struct mail_headers *h = PARSE_STR(msg);
	const struct mail_header_field *f;

	check_invariants(h, sizeof(msg) - 1);
	ck_assert_uint_eq(mail_header_count(h), 3);
	ck_assert(mail_header_has_eoh(h));
	ck_assert_uint_eq(mail_header_size(h), strstr(msg, "\n\n") + 1 - msg);
	ck_assert_uint_eq(mail_header_body_offset(h),
	    strstr(msg, "body") - msg);
	ck_assert_str_eq(mail_header_get(h, "from"), "a@example.org");
	ck_assert_str_eq(mail_header_get(h, "TO"), "b@example.org");
	ck_assert_str_eq(mail_header_get(h, "Subject"), "hello");
	ck_assert_ptr_null(mail_header_get(h, "Date"));
	ck_assert_ptr_null(mail_header_get(h, "Subj"));
	ck_assert_ptr_null(mail_header_get(h, "Subjects"));
	f = mail_header_field(h, 2);
	ck_assert_str_eq(f->name, "Subject");
	ck_assert_uint_eq(f->flags, 0);
	ck_assert_uint_eq(f->raw_value_len, strlen("   hello  "));
	ck_assert(memcmp(f->raw_value, "   hello  ", f->raw_value_len) == 0);
	ck_assert_uint_eq(f->value_offset, strstr(msg, "   hello") - msg);
	mail_headers_free(&h);
	ck_assert_ptr_null(h);
	mail_headers_free(&h);		/* NULL-safe */
}
END_TEST

START_TEST(test_parse_empty)
{
	struct mail_headers *h = parse_ok(NULL, 0);

	ck_assert_uint_eq(mail_header_count(h), 0);
	ck_assert(!mail_header_has_eoh(h));
	ck_assert_uint_eq(mail_header_body_offset(h), 0);
	mail_headers_free(&h);

	/* a message that starts with the blank line has no header */
	h = PARSE_STR("\r\nbody");
	ck_assert_uint_eq(mail_header_count(h), 0);
	ck_assert(mail_header_has_eoh(h));
	ck_assert_uint_eq(mail_header_size(h), 0);
	ck_assert_uint_eq(mail_header_body_offset(h), 2);
	mail_headers_free(&h);
}
END_TEST

START_TEST(test_parse_crlf_vs_lf)
{
	static const char lf[] = "A: 1\nB: two\n three\nC:\n\nbody";
	static const char crlf[] = "A: 1\r\nB: two\r\n three\r\nC:\r\n\r\nbody";
	struct mail_headers *h1 = PARSE_STR(lf), *h2 = PARSE_STR(crlf);

	check_invariants(h1, sizeof(lf) - 1);
	check_invariants(h2, sizeof(crlf) - 1);
	ck_assert_uint_eq(mail_header_count(h1), 3);
	ck_assert_uint_eq(mail_header_count(h2), 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(mail_header_field(h1, i)->name,
		    mail_header_field(h2, i)->name);
		ck_assert_str_eq(mail_header_field(h1, i)->value,
		    mail_header_field(h2, i)->value);
	}
	ck_assert_str_eq(mail_header_get(h2, "b"), "two three");
	ck_assert_str_eq(mail_header_get(h2, "c"), "");
	ck_assert_uint_eq(mail_header_body_offset(h1), sizeof(lf) - 5);
	ck_assert_uint_eq(mail_header_body_offset(h2), sizeof(crlf) - 5);
	ck_assert_uint_eq(mail_header_size(h2), sizeof(crlf) - 7);
	mail_headers_free(&h1);
	mail_headers_free(&h2);
}
END_TEST

START_TEST(test_parse_folding)
{
	static const char msg[] = "Subject: first\r\n"
	    "  second\r\n"
	    "\tthird \r\n"
	    " \r\n"
	    "X: y\r\n"
	    "\r\n";
	struct mail_headers *h = PARSE_STR(msg);
	const struct mail_header_field *f = mail_header_field(h, 0);
	static const char raw[] = " first\r\n  second\r\n\tthird \r\n ";

	check_invariants(h, sizeof(msg) - 1);
	ck_assert_uint_eq(mail_header_count(h), 2);
	/* unfolding drops the CRLFs and keeps the WSP after them */
	ck_assert_str_eq(f->value, "first  second\tthird");
	/* raw keeps the folding; the final line end is excluded */
	ck_assert_uint_eq(f->raw_value_len, sizeof(raw) - 1);
	ck_assert(memcmp(f->raw_value, raw, sizeof(raw) - 1) == 0);
	ck_assert_uint_eq(f->size, strstr(msg, "X:") - msg);
	ck_assert_str_eq(mail_header_get(h, "x"), "y");
	mail_headers_free(&h);

	/* a bare CR inside a line is data; a CR before LF is the line end */
	h = PARSE_STR("A: x\ry\n z\r\n");
	ck_assert_str_eq(mail_header_get(h, "a"), "x\ry z");
	mail_headers_free(&h);
}
END_TEST

START_TEST(test_parse_no_blank_line)
{
	static const char msg[] = "A: 1\nB: 2";
	struct mail_headers *h = PARSE_STR(msg);

	check_invariants(h, sizeof(msg) - 1);
	ck_assert(!mail_header_has_eoh(h));
	ck_assert_uint_eq(mail_header_count(h), 2);
	ck_assert_uint_eq(mail_header_size(h), sizeof(msg) - 1);
	ck_assert_uint_eq(mail_header_body_offset(h), sizeof(msg) - 1);
	ck_assert_uint_eq(mail_header_field(h, 0)->flags, 0);
	ck_assert_uint_eq(mail_header_field(h, 1)->flags,
	    MAIL_HEADER_FIELD_NO_NEWLINE);
	ck_assert_str_eq(mail_header_get(h, "b"), "2");
	mail_headers_free(&h);

	/* ends with a line end but no blank line */
	h = PARSE_STR("A: 1\r\nB: 2\r\n");
	ck_assert(!mail_header_has_eoh(h));
	ck_assert_uint_eq(mail_header_field(h, 1)->flags, 0);
	ck_assert_str_eq(mail_header_get(h, "b"), "2");
	mail_headers_free(&h);

	/* a lone CR at the end is a blank line cut short */
	h = PARSE_STR("A: 1\r\n\r");
	ck_assert(mail_header_has_eoh(h));
	ck_assert_uint_eq(mail_header_count(h), 1);
	ck_assert_uint_eq(mail_header_size(h), 6);
	ck_assert_uint_eq(mail_header_body_offset(h), 7);
	mail_headers_free(&h);
}
END_TEST

START_TEST(test_parse_duplicates)
{
	static const char msg[] = "Received: from a\n"
	    "received: from b\n"
	    "RECEIVED: from c\n"
	    "\n";
	struct mail_headers *h = PARSE_STR(msg);

	ck_assert_uint_eq(mail_header_count(h), 3);
	/* get returns the first, in any case */
	ck_assert_str_eq(mail_header_get(h, "RECEIVED"), "from a");
	ck_assert_str_eq(mail_header_field(h, 1)->name, "received");
	ck_assert_str_eq(mail_header_field(h, 2)->value, "from c");
	mail_headers_free(&h);
}
END_TEST

START_TEST(test_parse_malformed)
{
	/* the first line starts with WSP: a field, not a continuation */
	static const char msg[] = "  Lead: x\n"
	    "no colon here\n"
	    " folded into it\n"
	    "Subject : spaced\n"
	    ": empty name\n"
	    "N\0l: v\0x\n"
	    "Ok: fine\n"
	    "Subject: second\n"
	    "\n";
	struct mail_headers *h = parse_ok(msg, sizeof(msg) - 1);
	const struct mail_header_field *f;

	check_invariants(h, sizeof(msg) - 1);
	ck_assert_uint_eq(mail_header_count(h), 7);
	f = mail_header_field(h, 0);
	ck_assert_str_eq(f->name, "Lead");
	ck_assert_str_eq(f->value, "x");
	ck_assert_uint_eq(f->flags, MAIL_HEADER_FIELD_BAD_NAME);

	f = mail_header_field(h, 1);
	ck_assert_str_eq(f->name, "no colon here");
	ck_assert_str_eq(f->value, "folded into it");
	ck_assert(f->flags & MAIL_HEADER_FIELD_NO_COLON);
	/* fields without a colon never match */
	ck_assert_ptr_null(mail_header_get(h, "no colon here"));

	f = mail_header_field(h, 2);
	ck_assert_str_eq(f->name, "Subject");
	ck_assert_uint_eq(f->flags, MAIL_HEADER_FIELD_BAD_NAME);
	/* "Subject : x" still counts, as in Dovecot */
	ck_assert_str_eq(mail_header_get(h, "subject"), "spaced");

	f = mail_header_field(h, 3);
	ck_assert_str_eq(f->name, "");
	ck_assert_str_eq(f->value, "empty name");
	ck_assert_uint_eq(f->flags, MAIL_HEADER_FIELD_BAD_NAME);

	/* NULs become 0x80 in cooked strings and stay in raw_value */
	f = mail_header_field(h, 4);
	ck_assert_str_eq(f->name, "N\x80l");
	ck_assert_str_eq(f->value, "v\x80x");
	ck_assert_uint_eq(f->raw_value_len, 4);
	ck_assert(memcmp(f->raw_value, " v\0x", 4) == 0);
	ck_assert(f->flags & MAIL_HEADER_FIELD_HAS_NULS);
	ck_assert(f->flags & MAIL_HEADER_FIELD_BAD_NAME);

	ck_assert_uint_eq(mail_header_field(h, 5)->flags, 0);
	ck_assert_str_eq(mail_header_get(h, "ok"), "fine");
	mail_headers_free(&h);
}
END_TEST

START_TEST(test_parse_binary_garbage)
{
	uint8_t buf[4096];
	struct mail_headers *h;
	uint32_t x = 12345;

	/* Pseudo-random bytes biased towards the interesting ones; must never
	 * fail (it is far below the limits) and must keep the invariants. */
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			static const uint8_t pick[] = { '\r', '\n', ' ', '\t',
			    ':', '\0', 'a', 0xff };

			x = x * 1103515245 + 12345;
			buf[i] = (x >> 16) % 3 == 0 ? pick[(x >> 8) % 8] :
			    (uint8_t)(x >> 24);
		}
		h = parse_ok(buf, sizeof(buf));
		check_invariants(h, sizeof(buf));
		mail_headers_free(&h);
	}
}
END_TEST

START_TEST(test_parse_limits)
{
	struct mail_headers *h = NULL;
	struct mail_err err;
	uint8_t *buf;
	size_t len, i;

	/* exactly MAIL_HEADER_MAX_FIELDS fields is fine, one more is not */
	len = (MAIL_HEADER_MAX_FIELDS + 1) * 4 + 8;
	buf = mail_xmalloc(len);
	for (i = 0; i < MAIL_HEADER_MAX_FIELDS; i++)
		memcpy(buf + i * 4, "a:b\n", 4);
	memcpy(buf + i * 4, "\nbody", 5);
	h = parse_ok(buf, i * 4 + 5);
	ck_assert_uint_eq(mail_header_count(h), MAIL_HEADER_MAX_FIELDS);
	mail_headers_free(&h);
	memcpy(buf + i * 4, "c:d\n\n", 5);
	mail_err_clear(&err);
	ck_assert_int_eq(mail_header_parse(buf, i * 4 + 5, &h, &err), -1);
	ck_assert_ptr_null(h);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	/* folded lines are not fields: a long folded value is fine */
	memcpy(buf, "a:b\n", 4);
	for (i = 1; i <= MAIL_HEADER_MAX_FIELDS; i++)
		memcpy(buf + i * 4, " bb\n", 4);
	h = parse_ok(buf, i * 4);
	ck_assert_uint_eq(mail_header_count(h), 1);
	ck_assert_uint_eq(strlen(mail_header_get(h, "a")),
	    1 + MAIL_HEADER_MAX_FIELDS * 3);
	mail_headers_free(&h);
	free(buf);

	/* a section of exactly MAIL_HEADER_MAX_SIZE bytes, blank line
	 * included, is fine even with a large body after it */
	len = MAIL_HEADER_MAX_SIZE + 100;
	buf = mail_xmalloc(len + 1);
	memset(buf, 'x', len);
	memcpy(buf, "Big: ", 5);
	memcpy(buf + MAIL_HEADER_MAX_SIZE - 3, "\n\n", 2);
	h = parse_ok(buf, len);
	ck_assert_uint_eq(mail_header_body_offset(h), MAIL_HEADER_MAX_SIZE - 1);
	mail_headers_free(&h);
	memcpy(buf + MAIL_HEADER_MAX_SIZE - 3, "x\n\n", 3);
	h = parse_ok(buf, len);
	ck_assert_uint_eq(mail_header_body_offset(h), MAIL_HEADER_MAX_SIZE);
	ck_assert_uint_eq(mail_header_count(h), 1);
	mail_headers_free(&h);
	/* one byte more and it is over */
	memcpy(buf + MAIL_HEADER_MAX_SIZE - 3, "xx\n\n", 4);
	ck_assert_int_eq(mail_header_parse(buf, len, &h, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	ck_assert_ptr_null(h);
	/* the same with CRLF: the CR pushes the LF past the limit */
	memcpy(buf + MAIL_HEADER_MAX_SIZE - 3, "\r\n\r\n", 4);
	ck_assert_int_eq(mail_header_parse(buf, len, &h, &err), -1);
	/* no blank line at all: a short message is all header, a long one
	 * is over the limit */
	memset(buf + 5, 'x', len - 5);
	h = parse_ok(buf, MAIL_HEADER_MAX_SIZE);
	ck_assert(!mail_header_has_eoh(h));
	mail_headers_free(&h);
	ck_assert_int_eq(mail_header_parse(buf, MAIL_HEADER_MAX_SIZE + 1, &h,
	    &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	free(buf);
}
END_TEST

/* A message mixing CRLF and LF, folding, a NUL, a colon-less line, a lone
 * CR and a body, so every kind of cut point occurs. */
static const char split_msg[] = "Return-Path: <a@example.org>\r\n"
    "Received: from mx.example.org\r\n"
    "\tby mail.example.com; Tue, 1 Jul 2003 10:52:37 +0200\r\n"
    "Subject: =?utf-8?Q?caf=C3=A9?=\n"
    "  folded\n"
    "X-Nul: a\0b\r\n"
    "bogus line\n"
    "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
    "X-CR: a\rb\r\n"
    "\r\n"
    "Body: not a header\r\n";

START_TEST(test_parse_split)
{
	size_t cut = (size_t)_i, len = sizeof(split_msg) - 1, i, n;
	struct mail_headers *full = parse_ok(split_msg, len);
	struct mail_headers *h;
	/* Copy the prefix to its own allocation so ASan catches any read
	 * past the cut. */
	uint8_t *prefix = mail_xmalloc(cut);

	memcpy(prefix, split_msg, cut);
	h = parse_ok(cut == 0 ? NULL : prefix, cut);
	free(prefix);
	check_invariants(h, cut);
	n = mail_header_count(h);
	ck_assert_uint_le(n, mail_header_count(full));
	for (i = 0; i < n; i++) {
		const struct mail_header_field *a = mail_header_field(h, i);
		const struct mail_header_field *b = mail_header_field(full, i);

		ck_assert_uint_eq(a->offset, b->offset);
		if (i + 1 < n || mail_header_has_eoh(h)) {
			/* complete in the prefix: identical */
			ck_assert_str_eq(a->name, b->name);
			ck_assert_str_eq(a->value, b->value);
			ck_assert_uint_eq(a->size, b->size);
			ck_assert_uint_eq(a->flags, b->flags);
			ck_assert_uint_eq(a->raw_value_len, b->raw_value_len);
		} else {
			/* the last may be cut short (its name too, if the
			 * cut comes before the colon), never longer */
			ck_assert_uint_le(a->size, b->size);
			ck_assert_uint_le(a->value_offset + a->raw_value_len,
			    b->offset + b->size);
		}
		/* raw values are the input bytes, copied */
		ck_assert(a->raw_value_len == 0 ||
		    memcmp(a->raw_value, split_msg + a->value_offset,
		    a->raw_value_len) == 0);
	}
	if (cut >= mail_header_body_offset(full)) {
		ck_assert_uint_eq(n, mail_header_count(full));
		ck_assert_uint_eq(mail_header_body_offset(h),
		    mail_header_body_offset(full));
		ck_assert_str_eq(mail_header_get(h, "subject"),
		    "=?utf-8?Q?caf=C3=A9?=  folded");
	}
	mail_headers_free(&h);
	mail_headers_free(&full);
}
END_TEST

/* decode_words cases: input and expected UTF-8 */
static const struct {
	const char *in;
	const char *out;
} decode_cases[] = {
	/* no words */
	{ "", "" },
	{ "plain text", "plain text" },
	/* B and Q, upper and lower case, RFC 2047 8 examples */
	{ "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
	    "Keith Moore <moore@cs.utk.edu>" },
	{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
	{ "=?iso-8859-1?q?this=20is=20some=20text?=", "this is some text" },
	{ "=?UTF-8?B?Y2Fmw6k=?=", "caf\xc3\xa9" },
	{ "=?utf-8?b?Y2Fmw6k?=", "caf\xc3\xa9" },	/* no padding */
	{ "=?utf-8?Q?=E2=82=AC_5?=", "\xe2\x82\xac 5" },
	{ "=?utf-8*en?Q?lang?=", "lang" },	/* RFC 2231 */
	{ "=?utf-8?Q?" "?=", "" },		/* empty text */
	/* latin1 and windows-1252 */
	{ "=?latin1?Q?=A3=FF?=", "\xc2\xa3\xc3\xbf" },
	{ "=?windows-1252?Q?=80=93=E9?=", "\xe2\x82\xac\xe2\x80\x9c\xc3\xa9" },
	{ "=?cp1252?Q?=81?=", "\xef\xbf\xbd" },	/* undefined byte */
	{ "=?iso-8859-1?Q?=80?=", "\xc2\x80" },	/* C1 control */
	{ "=?us-ascii?Q?a=E9?=", "a\xef\xbf\xbd" },
	/* adjacent words join; whitespace between them is dropped, also
	 * when the value was folded */
	{ "=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=",
	    "a =?ISO-8859-2?Q?_b?=" },
	{ "=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab" },
	{ "=?utf-8?Q?a?=  \t =?utf-8?Q?b?=", "ab" },
	{ "=?utf-8?Q?a?=\r\n =?utf-8?Q?b?=", "ab" },
	{ "=?utf-8?Q?a?==?utf-8?Q?b?=", "ab" },
	{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
	{ "=?utf-8?Q?a_?= b", "a  b" },
	{ "x =?utf-8?Q?a?= y", "x a y" },
	{ "=?utf-8?Q?a?= ", "a " },
	{ "=?utf-8?Q?a?= =?latin1?Q?=E9?=", "a\xc3\xa9" },
	/* one character split over two words joins before conversion */
	{ "=?utf-8?B?w6==?= =?utf-8?B?qQ==?=", "\xc3\xa9" },
	{ "=?utf-8?Q?=E2=82?= =?utf-8?Q?=AC?=", "\xe2\x82\xac" },
	/* malformed words stay as they are */
	{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
	{ "=?utf-8?Q?abc", "=?utf-8?Q?abc" },
	{ "=?utf-8?Q?a b?=", "=?utf-8?Q?a b?=" },
	{ "=??Q?abc?=", "=??Q?abc?=" },
	{ "=?utf-8?B?@@@@?=", "=?utf-8?B?@@@@?=" },
	{ "=?utf-8?B?YQ==YQ?=", "=?utf-8?B?YQ==YQ?=" },
	{ "=?koi8-r?B?8NLJ?=", "=?koi8-r?B?8NLJ?=" },
	{ "=?", "=?" },
	{ "=?=?=?=?", "=?=?=?=?" },
	{ "=?utf-8?Q?ok?= =?utf-8?B?!?=", "ok =?utf-8?B?!?=" },
	{ "=?utf-8?Q?=4?=", "=4" },
	{ "=?utf-8?Q?=ZZ?=", "=ZZ" },
	/* output is valid UTF-8 whatever comes in */
	{ "=?utf-8?B?AA==?=", "\xef\xbf\xbd" },		/* decoded NUL */
	/* overlong, then a surrogate */
	{ "=?utf-8?Q?=C0=AF?=", "\xef\xbf\xbd\xef\xbf\xbd" },
	{ "=?utf-8?Q?=ED=A0=80?=", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "raw \xc3\xa9 ok", "raw \xc3\xa9 ok" },
	{ "raw \xe9 latin", "raw \xef\xbf\xbd latin" },
	{ "cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd" },
	{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd" },
};

START_TEST(test_decode_words)
{
	char *s = mail_header_decode_words(decode_cases[_i].in);

	ck_assert_msg(strcmp(s, decode_cases[_i].out) == 0,
	    "case %d: '%s' decoded to '%s', want '%s'", _i,
	    decode_cases[_i].in, s, decode_cases[_i].out);
	free(s);
}
END_TEST

START_TEST(test_decode_words_long)
{
	/* Inputs that could make a naive scanner quadratic; the tcase
	 * timeout catches that. */
	static const char *const units[] = { "=?", "=?a", "=?utf-8?Q?",
	    "=?utf-8?Q?a?= ", "=?utf-8?B?", "?=" };
	size_t n = 200000, ulen, i;
	char *in, *out;

	for (size_t u = 0; u < N_ELEMENTS(units); u++) {
		ulen = strlen(units[u]);
		in = mail_xmalloc(n * ulen + 1);
		for (i = 0; i < n; i++)
			memcpy(in + i * ulen, units[u], ulen);
		in[n * ulen] = '\0';
		out = mail_header_decode_words(in);
		ck_assert_ptr_nonnull(out);
		free(out);
		free(in);
	}
}
END_TEST

static const struct {
	const char *in;
	int64_t	 t;
} date_ok[] = {
	{ "Tue, 1 Jul 2003 10:52:37 +0200", 1057049557 },
	{ "1 Jul 2003 10:52:37 +0200", 1057049557 },	/* no weekday */
	{ "Tue 1 Jul 2003 10:52:37 +0200", 1057049557 },	/* no comma */
	{ "  tue,  01  JUL  2003  10:52:37  +0200  ", 1057049557 },
	{ "Tuesday, 1 July 2003 10:52:37 +0200", 1057049557 },
	{ "Tue, 01 Jul 03 10:52 GMT", 1057056720 },	/* no seconds */
	{ "Thu, 13 Feb 1969 23:32:54 -0330", -27723426 },
	{ "Mon, 2 Jun 1997 15:04:05 EST", 865281845 },
	{ "21 Nov 97 09:55:06 PDT", 880131306 },
	{ "Fri, 21 Nov 1997 09:55:06 -0600", 880127706 },
	{ "Mon, 24 Nov 1997 14:22:01 -0800 (PST)", 880410121 },
	{ "Mon, 24 Nov 1997 14:22:01 -0800 PST", 880410121 },
	{ "Sat, 29 Feb 2020 23:59:60 +0000", 1583020800 },	/* leap sec */
	{ "Wed, 31 Dec 1969 23:59:59 +0000", -1 },
	{ "Thu, 1 Jan 1970 00:00:00 Z", 0 },
	{ "Thu, 1 Jan 1970 00:00:00 A", 0 },		/* military */
	{ "Thu, 1 Jan 1970 00:00:00 CEST", 0 },	/* unknown */
	{ "Thu, 1 Jan 1970 00:00:00", 0 },		/* no zone */
	{ "Thu, 1 Jan 1970 00:00:00 -0000", 0 },
	{ "Tue, 12 Mar 2019 01:02:03 UT", 1552352523 },
	{ "Wed, 14 Aug 2024 12:00:00 +0530 (IST)", 1723617000 },
	{ "Sun, 7 Jan 2024 08:00:00 -0800 (PST)", 1704643200 },
	{ "(c) Sun, (x(nested)) 7 Jan 2024 08 : 00 : 00 -0800",
	    1704643200 },
	{ "1 Jan 49 00:00:00 +0000", 2493072000 },	/* < 50: 20xx */
	{ "1 Jan 50 00:00:00 +0000", -631152000 },	/* >= 50: 19xx */
	{ "1 Jan 101 00:00 +0000", 978307200 },		/* 1900 + 101 */
	{ "29 Feb 2000 00:00:00 +0000", 951782400 },
	{ "31 Dec 9999 23:59:59 +0000", 253402300799 },
	{ "1 Jan 1900 00:00:00 +0000", -2208988800 },
};

static const char *const date_bad[] = {
	"",
	"   ",
	"garbage",
	"Tue, 1 Jul 2003",			/* no time */
	"Tue, 1 Jul 2003 10",
	"Tue, 1 Jul 2003 10:",
	"Tue, 32 Jul 2003 10:52:37 +0200",	/* day */
	"Tue, 0 Jul 2003 10:52:37 +0200",
	"29 Feb 2003 10:52:37 +0200",		/* not a leap year */
	"29 Feb 1900 10:52:37 +0200",
	"31 Apr 2003 10:52:37 +0200",
	"1 Jux 2003 10:52:37 +0200",		/* month */
	"1 Ju 2003 10:52:37 +0200",
	"1 7 2003 10:52:37 +0200",
	"1 Jul 1899 10:52:37 +0200",		/* year */
	"1 Jul 7 10:52:37 +0200",
	"1 Jul 20031 10:52:37 +0200",
	"1 Jul 2003 24:00:00 +0200",		/* time */
	"1 Jul 2003 10:60:00 +0200",
	"1 Jul 2003 10:52:61 +0200",
	"1 Jul 2003 100:52:37 +0200",
	"1 Jul 2003 10:52:37 +02",		/* zone */
	"1 Jul 2003 10:52:37 +020000",
	"1 Jul 2003 10:52:37 +0260",
	"1 Jul 2003 10:52:37 + 0200",
	"1 Jul 2003 10:52:37 +0200 +0100",	/* trailing junk */
	"1 Jul 2003 10:52:37 +0200 CEST x",
	"1 Jul 2003 10:52:37 GMT GMT",
	"1 Jul 2003 10:52:37 +0200 ;",
	"Foo, 1 Jul 2003 10:52:37 +0200",	/* weekday */
	"2003-07-01 10:52:37",			/* not RFC 5322 */
	"1 Jul 99999999999999999999 10:52:37 +0200",
	"1 Jul 2003 10:52:37.5 +0200",
};

START_TEST(test_date_ok)
{
	int64_t t = 42;

	ck_assert_msg(mail_header_parse_date(date_ok[_i].in, &t) == 0,
	    "'%s' rejected", date_ok[_i].in);
	ck_assert_msg(t == date_ok[_i].t, "'%s': got %lld, want %lld",
	    date_ok[_i].in, (long long)t, (long long)date_ok[_i].t);
}
END_TEST

START_TEST(test_date_bad)
{
	int64_t t = 42;

	ck_assert_msg(mail_header_parse_date(date_bad[_i], &t) == -1,
	    "'%s' accepted", date_bad[_i]);
	ck_assert_int_eq(t, 42);	/* untouched on failure */
}
END_TEST

START_TEST(test_date_prefixes)
{
	static const char date[] = "Tue, 1 Jul 2003 10:52:37 +0200 (CEST)";
	char buf[sizeof(date)];
	int64_t t;

	/* every prefix parses or fails cleanly; ASan checks the reads */
	for (size_t cut = 0; cut < sizeof(date); cut++) {
		memcpy(buf, date, cut);
		buf[cut] = '\0';
		if (mail_header_parse_date(buf, &t) == 0)
			ck_assert(t > 1057049557 - 86400 &&
			    t < 1057049557 + 86400);
	}
}
END_TEST

Suite *test_mail_header_suite(void);
Suite *
test_mail_header_suite(void)
{
	Suite *s = suite_create("mail_header");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_parse_basic);
	tcase_add_test(tc, test_parse_empty);
	tcase_add_test(tc, test_parse_crlf_vs_lf);
	tcase_add_test(tc, test_parse_folding);
	tcase_add_test(tc, test_parse_no_blank_line);
	tcase_add_test(tc, test_parse_duplicates);
	tcase_add_test(tc, test_parse_malformed);
	tcase_add_test(tc, test_parse_binary_garbage);
	tcase_add_test(tc, test_parse_limits);
	tcase_add_loop_test(tc, test_parse_split, 0, sizeof(split_msg));
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_decode_words, 0,
	    (int)N_ELEMENTS(decode_cases));
	tcase_add_test(tc, test_decode_words_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("date");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_date_ok, 0, (int)N_ELEMENTS(date_ok));
	tcase_add_loop_test(tc, test_date_bad, 0, (int)N_ELEMENTS(date_bad));
	tcase_add_test(tc, test_date_prefixes);
	suite_add_tcase(s, tc);
	return s;
}
