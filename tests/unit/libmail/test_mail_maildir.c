/*
 * test_mail_maildir.c: Maildir file names, dovecot-uidlist,
 * dovecot-keywords, subscriptions, modified UTF-7 and folder names.
 *
 * The parsers are one-shot over whole files (callers read the file, then
 * parse), so their "split points" are truncations: every prefix of every
 * sample is parsed, and must either fail with MAIL_ERR_CORRUPT or, when
 * it ends at a line end, give exactly the leading records of the whole.
 * Inputs are copied into exactly-sized heap buffers so that ASan catches
 * any read past the end.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_maildir.h"
#include "mail_flags.h"
#include "testlib.h"

/* An exactly-sized heap copy of s[0..len): reads past it fault. */
static char *
dup_exact(const void *s, size_t len)
{
	char *p = malloc(len > 0 ? len : 1);

	ck_assert_ptr_nonnull(p);
	if (len > 0)
		memcpy(p, s, len);
	return p;
}

/* ---- file names ---- */

static struct mail_maildir_name
name_ok(const char *s)
{
	struct mail_maildir_name n;
	struct mail_err err;
	char *p = dup_exact(s, strlen(s));

	ck_assert_msg(mail_maildir_name_parse(p, strlen(s), &n, &err) == 0,
	    "'%s': %s", s, err.msg);
	free(p);
	return n;
}

START_TEST(test_name_basic)
{
	struct mail_maildir_name n;

	n = name_ok("1795871946.M603323P31295.vm,S=30,W=34:2,FRSab");
	ck_assert_uint_eq(n.base_len, strlen("1795871946.M603323P31295.vm,"
	    "S=30,W=34"));
	ck_assert_uint_eq(n.flags, MAIL_FLAGGED | MAIL_ANSWERED | MAIL_SEEN);
	ck_assert_uint_eq(n.keywords, 3);
	ck_assert(n.has_info && n.has_size && n.has_vsize);
	ck_assert_uint_eq(n.size, 30);
	ck_assert_uint_eq(n.vsize, 34);

	n = name_ok("1.M2P3.host");
	ck_assert_uint_eq(n.base_len, 11);
	ck_assert(!n.has_info && !n.has_size && !n.has_vsize);
	ck_assert_uint_eq(n.flags, 0);

	n = name_ok("x:2,DT");
	ck_assert_uint_eq(n.flags, MAIL_DRAFT | MAIL_DELETED);
	n = name_ok("x:2,z");
	ck_assert_uint_eq(n.keywords, (uint32_t)1 << 25);
	n = name_ok("x:2,");
	ck_assert(n.has_info);
	ck_assert_uint_eq(n.flags, 0);
}
END_TEST

START_TEST(test_name_odd)
{
	struct mail_maildir_name n;

	/* tolerated: unknown info version, unknown letters, junk sizes */
	n = name_ok("x:1,S");
	ck_assert(!n.has_info);
	ck_assert_uint_eq(n.flags, 0);
	n = name_ok("x:2,PS9-!");
	ck_assert_uint_eq(n.flags, MAIL_SEEN);
	n = name_ok("x,S=12x:2,S");
	ck_assert(!n.has_size);
	n = name_ok("x,S=,W=5");
	ck_assert(!n.has_size && n.has_vsize);
	ck_assert_uint_eq(n.vsize, 5);
	n = name_ok("x,S=99999999999999999999999");
	ck_assert(!n.has_size);
	n = name_ok("x,S=18446744073709551615");
	ck_assert(n.has_size);
	ck_assert_uint_eq(n.size, UINT64_MAX);
	n = name_ok("x,S=1,S=2");
	ck_assert_uint_eq(n.size, 1);
	n = name_ok("x,S=junk,S=7");
	ck_assert_uint_eq(n.size, 7);
	/* a size after the info is not a size */
	n = name_ok("x:2,S,S=5");
	ck_assert(!n.has_size);
	n = name_ok("a:b:c");
	ck_assert_uint_eq(n.base_len, 1);
	ck_assert(!n.has_info);
}
END_TEST

START_TEST(test_name_errors)
{
	static const char *const bad[] = { "", ":2,S", "a/b", ":" };
	struct mail_maildir_name n;
	struct mail_err err;
	char longname[MAIL_MAILDIR_NAME_MAX + 2];

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		ck_assert_int_eq(mail_maildir_name_parse(bad[i],
		    strlen(bad[i]), &n, &err), -1);
		ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	}
	ck_assert_int_eq(mail_maildir_name_parse("a\0b", 3, &n, &err), -1);
	memset(longname, 'x', sizeof(longname));
	ck_assert_int_eq(mail_maildir_name_parse(longname,
	    MAIL_MAILDIR_NAME_MAX, &n, &err), 0);
	ck_assert_int_eq(mail_maildir_name_parse(longname,
	    MAIL_MAILDIR_NAME_MAX + 1, &n, &err), -1);
}
END_TEST

/* Every prefix of a name parses (from one byte on), and what it says is
 * what the prefix holds. */
START_TEST(test_name_truncated)
{
	static const char full[] = "1795871946.M6P3.vm,S=30,W=34:2,FRSab";
	size_t cut = (size_t)_i, base = strlen("1795871946.M6P3.vm,S=30,W=34");
	size_t sdig = (size_t)(strstr(full, ",S=") - full) + 3;
	size_t wdig = (size_t)(strstr(full, ",W=") - full) + 3;
	struct mail_maildir_name n;
	struct mail_err err;
	char *p = dup_exact(full, cut);
	int r = mail_maildir_name_parse(p, cut, &n, &err);

	if (cut == 0) {
		ck_assert_int_eq(r, -1);
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(n.base_len, cut < base ? cut : base);
		ck_assert(n.has_info == (cut >= base + 3));
		ck_assert(n.has_size == (cut > sdig));
		ck_assert(n.has_vsize == (cut > wdig));
		ck_assert(!n.has_info || (n.flags & ~(MAIL_FLAGGED |
		    MAIL_ANSWERED | MAIL_SEEN)) == 0);
	}
	free(p);
}
END_TEST

START_TEST(test_info_roundtrip)
{
	struct mail_buf b = MAIL_BUF_INIT;

	for (uint16_t f = 0; f <= MAIL_FLAGS_ALL; f++) {
		for (uint32_t kw = 0; kw < (1u << 26); kw = kw * 7 + 1) {
			struct mail_maildir_name n;
			struct mail_err err;

			mail_buf_reset(&b);
			mail_buf_append_str(&b, "base");
			mail_maildir_info_format(f, kw, &b);
			ck_assert_int_eq(mail_maildir_name_parse(
			    (const char *)b.data, b.len, &n, &err), 0);
			ck_assert_uint_eq(n.flags, f);
			ck_assert_uint_eq(n.keywords, kw);
			/* letters in ASCII order */
			for (size_t i = 8; i < b.len; i++)
				ck_assert(b.data[i - 1] < b.data[i]);
		}
	}
	mail_buf_reset(&b);
	mail_maildir_info_format(MAIL_FLAGS_ALL, 1 | (1u << 25), &b);
	ck_assert_str_eq((const char *)b.data, ":2,DFRSTaz");
	mail_buf_free(&b);
}
END_TEST

/* ---- dovecot-uidlist ---- */

/* As Dovecot 2.3 writes it, plus fields it may write (S, W, P) and ones
 * it does not know yet: header fields in another order. */
static const char uidlist_v3[] =
    "3 N9 V1795871946 X1 Gc8703623cad40a6b367a000083ecc375\n"
    "2 :1795871946.M603323P31295.vm,S=30,W=34\n"
    "3 G8f3f5ebd4e2c0c6a S31 W33 Pabc :1795871946.M617658P31299.vm\n"
    "7 Z9 :name with spaces:2,S\n";

static int
uidlist_parse_str(const char *s, size_t len, struct mail_maildir_uidlist *ul,
    struct mail_err *err, char **copy_r)
{
	*copy_r = dup_exact(s, len);
	return mail_maildir_uidlist_parse(*copy_r, len, ul, err);
}

START_TEST(test_uidlist_v3)
{
	struct mail_maildir_uidlist ul;
	const struct mail_maildir_uidlist_rec *r;
	struct mail_err err;
	char hex[MAIL_GUID_HEX], *copy;

	ck_assert_int_eq(uidlist_parse_str(uidlist_v3, sizeof(uidlist_v3) - 1,
	    &ul, &err, &copy), 0);
	ck_assert_uint_eq(ul.version, 3);
	ck_assert_uint_eq(ul.uidvalidity, 1795871946);
	ck_assert_uint_eq(ul.nextuid, 9);
	ck_assert(ul.has_guid);
	ck_assert_str_eq(mail_guid_to_hex(&ul.guid, hex),
	    "c8703623cad40a6b367a000083ecc375");
	ck_assert_uint_eq(ul.n, 3);
	ck_assert_uint_eq(ul.recs[0].uid, 2);
	ck_assert_uint_eq(ul.recs[0].line, 2);
	ck_assert_ptr_null(ul.recs[0].guid);
	ck_assert_uint_eq(ul.recs[1].uid, 3);
	ck_assert_uint_eq(ul.recs[1].guid_len, 16);
	ck_assert(memcmp(ul.recs[1].guid, "8f3f5ebd4e2c0c6a", 16) == 0);
	ck_assert(ul.recs[1].has_size && ul.recs[1].has_vsize);
	ck_assert_uint_eq(ul.recs[1].size, 31);
	ck_assert_uint_eq(ul.recs[1].vsize, 33);
	/* the name is the rest of the line, info part included */
	ck_assert_uint_eq(ul.recs[2].base_len, strlen("name with spaces:2,S"));

	r = mail_maildir_uidlist_find(&ul, "1795871946.M617658P31299.vm",
	    strlen("1795871946.M617658P31299.vm"));
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->uid, 3);
	ck_assert_ptr_null(mail_maildir_uidlist_find(&ul,
	    "1795871946.M617658P31299.v", 26));
	ck_assert_ptr_null(mail_maildir_uidlist_find(&ul,
	    "1795871946.M617658P31299.vmx", 28));
	ck_assert_ptr_null(mail_maildir_uidlist_find(&ul, "", 0));
	mail_maildir_uidlist_free(&ul);
	ck_assert_ptr_null(ul.recs);
	free(copy);
}
END_TEST

START_TEST(test_uidlist_nextuid_lags)
{
	/* Dovecot appended line 1 without rewriting the header */
	static const char s[] = "3 V5 N1 G9efefe25cad40a6b507a000083ecc375\n"
	    "1 :a\n4 :b\n";
	struct mail_maildir_uidlist ul;
	struct mail_err err;
	char *copy;

	ck_assert_int_eq(uidlist_parse_str(s, sizeof(s) - 1, &ul, &err,
	    &copy), 0);
	ck_assert_uint_eq(ul.nextuid, 5);
	mail_maildir_uidlist_free(&ul);
	free(copy);
}
END_TEST

START_TEST(test_uidlist_v1)
{
	static const char s[] = "1 1000 12\n3 1.M2.host:2,S\n11 2.M3.host\n";
	struct mail_maildir_uidlist ul;
	struct mail_err err;
	char *copy;

	ck_assert_int_eq(uidlist_parse_str(s, sizeof(s) - 1, &ul, &err,
	    &copy), 0);
	ck_assert_uint_eq(ul.version, 1);
	ck_assert_uint_eq(ul.uidvalidity, 1000);
	ck_assert_uint_eq(ul.nextuid, 12);
	ck_assert(!ul.has_guid);
	ck_assert_uint_eq(ul.n, 2);
	ck_assert_uint_eq(ul.recs[0].base_len, strlen("1.M2.host"));
	ck_assert_ptr_nonnull(mail_maildir_uidlist_find(&ul, "2.M3.host", 9));
	mail_maildir_uidlist_free(&ul);
	free(copy);
}
END_TEST

/* Garbage and where it must be reported. */
static const struct {
	const char *in;
	const char *msg;	/* substring of the error */
} uidlist_bad[] = {
	{ "", "empty file" },
	{ "3 V1 N2", "line 1: no newline" },
	{ "2 1 2\n", "version 2" },
	{ "x\n", "line 1: not a dovecot-uidlist header" },
	{ "3V1 N2\n", "line 1: not a dovecot-uidlist header" },
	{ "3 N2\n", "lacks the UIDVALIDITY" },
	{ "3 V1\n", "lacks the UIDVALIDITY" },
	{ "3 V0 N2\n", "line 1: bad 'V'" },
	{ "3 V1 N4294967296\n", "line 1: bad 'N'" },
	{ "3 V1 N2 Gxyz\n", "not 32 hex" },
	{ "3 V1 N2 G0123456789abcdef0123456789abcdeg\n", "not 32 hex" },
	{ "1 5\n", "version 1 header" },
	{ "1 5 6 7\n", "version 1 header" },
	{ "3 V1 N2\n0 :a\n", "line 2: does not start with a UID" },
	{ "3 V1 N2\n4294967295 :a\n", "line 2: does not start with a UID" },
	{ "3 V1 N2\n1:a\n", "line 2: does not start" },
	{ "3 V1 N2\n:a\n", "line 2: does not start" },
	{ "3 V1 N2\n1 :a\n1 :b\n", "line 3: UID 1 is not above the previous" },
	{ "3 V1 N2\n5 :a\n3 :b\n", "line 3: UID 3 is not above" },
	{ "3 V1 N2\n1 G1\n", "line 2: no \":<file name>\"" },
	{ "3 V1 N2\n1 \n", "line 2: no \":<file name>\"" },
	{ "3 V1 N2\n1 :\n", "line 2: bad file name" },
	{ "3 V1 N2\n1 :a/b\n", "line 2: bad file name" },
	{ "3 V1 N2\n1 Sx :a\n", "line 2: bad 'S' field" },
	{ "3 V1 N2\n1 W :a\n", "line 2: bad 'W' field" },
	{ "3 V1 N2\n1 G :a\n", "line 2: bad 'G' field" },
	{ "3 V1 N2\n1 :a\n2 :b\n3 :a\n", "line 4: file name of line 2 again" },
	{ "3 V1 N2\n1 :a\n2 :b", "line 3: no newline" },
	{ "3 V1 N2\n\n", "line 2: does not start" },
	{ "1 1 2\n1 :x\n", "line 2: bad file name" },
};

START_TEST(test_uidlist_errors)
{
	const char *in = uidlist_bad[_i].in;
	struct mail_maildir_uidlist ul;
	struct mail_err err;
	char *copy;

	mail_err_clear(&err);
	ck_assert_int_eq(uidlist_parse_str(in, strlen(in), &ul, &err, &copy),
	    -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	ck_assert_msg(strstr(err.msg, uidlist_bad[_i].msg) != NULL,
	    "'%s': got '%s', want '%s'", in, err.msg, uidlist_bad[_i].msg);
	ck_assert_ptr_null(ul.recs);
	ck_assert_uint_eq(ul.n, 0);
	free(copy);
}
END_TEST

START_TEST(test_uidlist_nul)
{
	static const char s[] = "3 V1 N2\n1 :a\0b\n";
	struct mail_maildir_uidlist ul;
	struct mail_err err;
	char *copy;

	ck_assert_int_eq(uidlist_parse_str(s, sizeof(s) - 1, &ul, &err,
	    &copy), -1);
	ck_assert(strstr(err.msg, "line 2") != NULL);
	free(copy);
}
END_TEST

/* Every truncation of the sample: an error unless it ends right after a
 * line, and then the records are the leading ones of the whole. */
START_TEST(test_uidlist_truncated)
{
	size_t cut = (size_t)_i;
	struct mail_maildir_uidlist whole, ul;
	struct mail_err err;
	char *copy, *wcopy;
	int r;

	ck_assert_int_eq(uidlist_parse_str(uidlist_v3, sizeof(uidlist_v3) - 1,
	    &whole, &err, &wcopy), 0);
	r = uidlist_parse_str(uidlist_v3, cut, &ul, &err, &copy);
	if (cut == 0 || uidlist_v3[cut - 1] != '\n') {
		ck_assert_int_eq(r, -1);
		ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_uint_le(ul.n, whole.n);
		ck_assert_uint_eq(ul.uidvalidity, whole.uidvalidity);
		for (size_t i = 0; i < ul.n; i++) {
			ck_assert_uint_eq(ul.recs[i].uid, whole.recs[i].uid);
			ck_assert_uint_eq(ul.recs[i].base_len,
			    whole.recs[i].base_len);
			ck_assert_ptr_eq(ul.recs[i].base - copy + wcopy,
			    whole.recs[i].base);
		}
		mail_maildir_uidlist_free(&ul);
	}
	mail_maildir_uidlist_free(&whole);
	free(copy);
	free(wcopy);
}
END_TEST

START_TEST(test_uidlist_many)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_maildir_uidlist ul;
	struct mail_err err;
	char name[32];

	mail_buf_append_str(&b, "3 V1 N1\n");
	for (unsigned i = 1; i <= 20000; i++)
		mail_buf_printf(&b, "%u :%u.M%uP1.host\n", i * 3,
		    (i * 7919) % 20011, i);
	ck_assert_int_eq(mail_maildir_uidlist_parse(b.data, b.len, &ul, &err),
	    0);
	ck_assert_uint_eq(ul.n, 20000);
	ck_assert_uint_eq(ul.nextuid, 60001);
	for (unsigned i = 1; i <= 20000; i += 97) {
		const struct mail_maildir_uidlist_rec *r;

		snprintf(name, sizeof(name), "%u.M%uP1.host",
		    (i * 7919) % 20011, i);
		r = mail_maildir_uidlist_find(&ul, name, strlen(name));
		ck_assert_ptr_nonnull(r);
		ck_assert_uint_eq(r->uid, i * 3);
	}
	mail_maildir_uidlist_free(&ul);
	mail_buf_free(&b);
}
END_TEST

/* ---- dovecot-keywords ---- */

START_TEST(test_keywords_ok)
{
	static const char s[] = "0 $Label1\n\n1 Junk\n25 z\n";
	struct mail_maildir_keywords kw;
	struct mail_err err;
	char *copy = dup_exact(s, sizeof(s) - 1);

	ck_assert_int_eq(mail_maildir_keywords_parse(copy, sizeof(s) - 1, &kw,
	    &err), 0);
	ck_assert_str_eq(kw.names[0], "$Label1");
	ck_assert_str_eq(kw.names[1], "Junk");
	ck_assert_str_eq(kw.names[25], "z");
	for (int i = 2; i < 25; i++)
		ck_assert_ptr_null(kw.names[i]);
	mail_maildir_keywords_free(&kw);
	ck_assert_ptr_null(kw.names[0]);
	ck_assert_int_eq(mail_maildir_keywords_parse("", 0, &kw, &err), 0);
	free(copy);
}
END_TEST

static const struct {
	const char *in, *msg;
} keywords_bad[] = {
	{ "26 x\n", "line 1: keyword index 26" },
	{ "0 a\n100 x\n", "line 2: not \"<index> <keyword>\"" },
	{ "-1 x\n", "line 1: not" },
	{ "0\n", "line 1: not" },
	{ "0x\n", "line 1: not" },
	{ "0 \n", "line 1: keyword is empty" },
	{ "0 a b\n", "line 1: keyword holds a space" },
	{ "0 a\tb\n", "line 1: keyword holds" },
	{ "0 \xc3\xa4\n", "line 1: keyword holds" },
	{ "0 a\n0 b\n", "line 2: keyword index 0 given twice" },
	{ "0 a\n1 b", "line 2: no newline" },
};

START_TEST(test_keywords_errors)
{
	const char *in = keywords_bad[_i].in;
	struct mail_maildir_keywords kw;
	struct mail_err err;
	char *copy = dup_exact(in, strlen(in));

	ck_assert_int_eq(mail_maildir_keywords_parse(copy, strlen(in), &kw,
	    &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	ck_assert_msg(strstr(err.msg, keywords_bad[_i].msg) != NULL,
	    "'%s': got '%s'", in, err.msg);
	for (int i = 0; i < MAIL_MAILDIR_KEYWORDS; i++)
		ck_assert_ptr_null(kw.names[i]);
	free(copy);
}
END_TEST

START_TEST(test_keywords_long)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_maildir_keywords kw;
	struct mail_err err;

	mail_buf_append_str(&b, "3 ");
	for (int i = 0; i < MAIL_KEYWORD_MAX_LEN; i++)
		mail_buf_append_str(&b, "k");
	mail_buf_append_str(&b, "\n");
	ck_assert_int_eq(mail_maildir_keywords_parse(b.data, b.len, &kw, &err),
	    0);
	mail_maildir_keywords_free(&kw);
	mail_buf_truncate(&b, b.len - 1);
	mail_buf_append_str(&b, "k\n");
	ck_assert_int_eq(mail_maildir_keywords_parse(b.data, b.len, &kw, &err),
	    -1);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_keywords_truncated)
{
	static const char s[] = "0 $Label1\n1 Junk\n\n12 NonJunk\n";
	size_t cut = (size_t)_i;
	struct mail_maildir_keywords kw;
	struct mail_err err;
	char *copy = dup_exact(s, cut);
	int r = mail_maildir_keywords_parse(copy, cut, &kw, &err);

	if (cut == 0 || s[cut - 1] == '\n') {
		ck_assert_int_eq(r, 0);
		if (cut >= 10)
			ck_assert_str_eq(kw.names[0], "$Label1");
		mail_maildir_keywords_free(&kw);
	} else {
		ck_assert_int_eq(r, -1);
	}
	free(copy);
}
END_TEST

/* ---- modified UTF-7 ---- */

static char *
decode_ok(const char *s)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	char *copy = dup_exact(s, strlen(s));

	ck_assert_msg(mail_maildir_mutf7_decode(copy, strlen(s), &b, &err) ==
	    0, "'%s': %s", s, err.msg);
	free(copy);
	return mail_buf_steal_str(&b);
}

static char *
encode_ok(const char *s)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;

	ck_assert_int_eq(mail_maildir_mutf7_encode(s, strlen(s), &b, &err), 0);
	return mail_buf_steal_str(&b);
}

static const struct {
	const char *mutf7, *utf8;
} mutf7_vectors[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&AMQ-rger", "\xc3\x84rger" },
	{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
	{ "&-", "&" },
	{ "A&-B&-", "A&B&" },
	/* RFC 3501 5.1.3 */
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	    "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac"
	    "\xe8\xaa\x9e" },
	/* U+1F600 as a surrogate pair */
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },
	{ "a&AAkACg-b", "a\t\nb" },
	{ "&AH8-", "\x7f" },
};

START_TEST(test_mutf7_vectors)
{
	char *s;

	s = decode_ok(mutf7_vectors[_i].mutf7);
	ck_assert_str_eq(s, mutf7_vectors[_i].utf8);
	free(s);
	s = encode_ok(mutf7_vectors[_i].utf8);
	ck_assert_str_eq(s, mutf7_vectors[_i].mutf7);
	free(s);
}
END_TEST

/* Modified base64 of arbitrary UTF-16 units, valid or not, so that bad
 * shifted runs can be built. */
static void
b64_units(struct mail_buf *out, const uint16_t *u, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789+,";
	uint32_t bits = 0;
	unsigned nbits = 0;

	mail_buf_append_str(out, "&");
	for (size_t i = 0; i < n; i++) {
		bits = (bits << 16 | u[i]) & 0xffffff;
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			mail_buf_append(out, &b64[(bits >> nbits) & 0x3f], 1);
		}
	}
	if (nbits > 0)
		mail_buf_append(out, &b64[(bits << (6 - nbits)) & 0x3f], 1);
	mail_buf_append_str(out, "-");
}

START_TEST(test_mutf7_invalid)
{
	static const char *const bad[] = {
		"&", "&AMQ", "a&AMQrger", "&AMR-", "&AMQA-", "&A*Q-", "&A Q-",
		"\xc3\xa4", "a\tb", "\x7f", "&AMQ-&", "&&-",
	};
	static const uint16_t bad_units[][2] = {
		{ 0x0061, 0 },		/* printable ASCII encoded */
		{ 0x0020, 0 },
		{ 0x0000, 0 },		/* NUL */
		{ 0xd83d, 0 },		/* lone high surrogate */
		{ 0xde00, 0 },		/* lone low surrogate */
		{ 0xd83d, 0x0041 },	/* high + non-low */
		{ 0xde00, 0xd83d },	/* reversed pair */
	};
	struct mail_buf b = MAIL_BUF_INIT, in = MAIL_BUF_INIT;
	struct mail_err err;

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		mail_buf_reset(&b);
		ck_assert_msg(mail_maildir_mutf7_decode(bad[i], strlen(bad[i]),
		    &b, &err) == -1, "'%s' decoded", bad[i]);
		ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad_units); i++) {
		mail_buf_reset(&in);
		b64_units(&in, bad_units[i], bad_units[i][1] != 0 ? 2 : 1);
		mail_buf_reset(&b);
		ck_assert_msg(mail_maildir_mutf7_decode((const char *)in.data,
		    in.len, &b, &err) == -1, "'%s' decoded", in.data);
	}
	/* the helper itself makes valid runs */
	{
		static const uint16_t ok[] = { 0xd83d, 0xde00, 0x00e4 };

		mail_buf_reset(&in);
		b64_units(&in, ok, 3);
		mail_buf_reset(&b);
		ck_assert_int_eq(mail_maildir_mutf7_decode(
		    (const char *)in.data, in.len, &b, &err), 0);
		ck_assert_str_eq((const char *)b.data,
		    "\xf0\x9f\x98\x80\xc3\xa4");
	}
	/* encode refuses what is not UTF-8 */
	{
		static const char *const bad8[] = { "\xff", "\xc0\x80",
		    "\xed\xa0\x80", "a\xc3", "\xf4\x90\x80\x80" };

		for (size_t i = 0; i < N_ELEMENTS(bad8); i++) {
			ck_assert_int_eq(mail_maildir_mutf7_encode(bad8[i],
			    strlen(bad8[i]), &b, &err), -1);
			ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
		}
		ck_assert_int_eq(mail_maildir_mutf7_encode("a\0b", 3, &b,
		    &err), -1);
	}
	mail_buf_free(&b);
	mail_buf_free(&in);
}
END_TEST

/* A deterministic generator of mixed strings: ASCII (with '&'), Latin,
 * CJK and astral code points. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
put_utf8(struct mail_buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	mail_buf_append(b, u, n);
}

START_TEST(test_mutf7_roundtrip)
{
	uint64_t seed = 42;
	struct mail_buf in = MAIL_BUF_INIT, enc = MAIL_BUF_INIT;
	struct mail_buf dec = MAIL_BUF_INIT;
	struct mail_err err;

	for (int iter = 0; iter < 2000; iter++) {
		size_t n = rng_next(&seed) % 12;

		mail_buf_reset(&in);
		mail_buf_reset(&enc);
		mail_buf_reset(&dec);
		for (size_t i = 0; i < n; i++) {
			uint64_t r = rng_next(&seed);
			uint32_t cp;

			switch (r % 5) {
			case 0:
				cp = 0x20 + (uint32_t)(r >> 8) % 0x5f;
				break;
			case 1:
				cp = '&';
				break;
			case 2:
				cp = 0x80 + (uint32_t)(r >> 8) % 0x780;
				break;
			case 3:
				cp = 0x800 + (uint32_t)(r >> 8) % 0xd000;
				if (cp >= 0xd800)
					cp += 0x800;
				break;
			default:
				cp = 0x10000 + (uint32_t)(r >> 8) % 0x100000;
				break;
			}
			put_utf8(&in, cp);
		}
		ck_assert_int_eq(mail_maildir_mutf7_encode(
		    in.len > 0 ? (const char *)in.data : "", in.len, &enc,
		    &err), 0);
		for (size_t i = 0; i < enc.len; i++)
			ck_assert(enc.data[i] >= 0x20 && enc.data[i] <= 0x7e);
		ck_assert_int_eq(mail_maildir_mutf7_decode(
		    enc.len > 0 ? (const char *)enc.data : "", enc.len, &dec,
		    &err), 0);
		ck_assert_uint_eq(dec.len, in.len);
		ck_assert(in.len == 0 || memcmp(dec.data, in.data, in.len) == 0);
	}
	mail_buf_free(&in);
	mail_buf_free(&enc);
	mail_buf_free(&dec);
}
END_TEST

/* Every prefix of a valid string decodes or fails cleanly; a prefix that
 * ends outside a shifted run decodes to a prefix of the whole. */
START_TEST(test_mutf7_truncated)
{
	static const char s[] = "~p&-/&U,BTFw-x&2D3eAA-y";
	size_t cut = (size_t)_i;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	char *copy = dup_exact(s, cut), *whole = decode_ok(s);
	int r = mail_maildir_mutf7_decode(copy, cut, &b, &err);

	if (r == 0)
		ck_assert(b.len == 0 || memcmp(b.data, whole, b.len) == 0);
	else
		ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	if (cut == 0 || s[cut - 1] == '-' || s[cut - 1] == 'p' ||
	    s[cut - 1] == 'x' || s[cut - 1] == 'y')
		ck_assert_int_eq(r, 0);
	mail_buf_free(&b);
	free(copy);
	free(whole);
}
END_TEST

/* ---- folder names and subscriptions ---- */

START_TEST(test_folder_names)
{
	static const struct {
		const char *dir, *name;
	} ok[] = {
		{ ".Sent", "Sent" },
		{ ".Projects.&AMQ-rger", "Projects/\xc3\x84rger" },
		{ ".a\\2eb", "a.b" },
		{ ".x\\5cy", "x\\y" },
		{ ".a\\2fb", "a\\2fb" },	/* never a '/' from an escape */
		{ ".a\\0ab", "a\\0ab" },	/* nor a control */
		{ ".a\\2", "a\\2" },
		{ ".\xc3\x84rger", "\xc3\x84rger" },	/* ":UTF-8" layout */
		{ ".A.B.C", "A/B/C" },
		/* 8-bit: all of it UTF-8, '&' included */
		{ ".a&AMQ-\xc3\xa4", "a&AMQ-\xc3\xa4" },
	};
	static const char *const bad[] = {
		"", ".", "Sent", ".A..B", ".A.", "..A", ".&AMQ", ".\xff",
		".a/b", ".\xc3\xa4/x", ".a\tb",
	};
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;

	for (size_t i = 0; i < N_ELEMENTS(ok); i++) {
		char *copy = dup_exact(ok[i].dir, strlen(ok[i].dir));

		mail_buf_reset(&b);
		ck_assert_msg(mail_maildir_folder_to_name(copy,
		    strlen(ok[i].dir), &b, &err) == 0, "%s: %s", ok[i].dir,
		    err.msg);
		ck_assert_str_eq((const char *)b.data, ok[i].name);
		free(copy);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		mail_buf_reset(&b);
		ck_assert_msg(mail_maildir_folder_to_name(bad[i],
		    strlen(bad[i]), &b, &err) == -1, "'%s' accepted", bad[i]);
		ck_assert_int_eq(err.code, MAIL_ERR_CORRUPT);
	}
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_folder_roundtrip)
{
	static const char *const names[] = {
		"Sent", "Projects/\xc3\x84rger", "a.b", "x\\y", ".hidden",
		"&amp;", "v1.2/\\2e", "\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80",
		"INBOX/Sub",
	};
	struct mail_buf f = MAIL_BUF_INIT, n = MAIL_BUF_INIT;
	struct mail_err err;

	for (size_t i = 0; i < N_ELEMENTS(names); i++) {
		mail_buf_reset(&f);
		mail_buf_reset(&n);
		ck_assert_int_eq(mail_maildir_name_to_folder(names[i], &f,
		    &err), 0);
		/* one directory: no '/', exactly one '.' per separator */
		ck_assert_ptr_null(memchr(f.data, '/', f.len));
		ck_assert_int_eq(mail_maildir_folder_to_name(
		    (const char *)f.data, f.len, &n, &err), 0);
		ck_assert_str_eq((const char *)n.data, names[i]);
	}
	mail_buf_reset(&f);
	ck_assert_int_eq(mail_maildir_name_to_folder("a.b", &f, &err), 0);
	ck_assert_str_eq((const char *)f.data, ".a\\2eb");
	mail_buf_reset(&f);
	ck_assert_int_eq(mail_maildir_name_to_folder("a//b", &f, &err), -1);
	ck_assert_int_eq(mail_maildir_name_to_folder("\xff", &f, &err), -1);
	mail_buf_free(&f);
	mail_buf_free(&n);
}
END_TEST

START_TEST(test_subscriptions)
{
	/* as Dovecot 2.3 wrote it, plus an undecodable and an invalid
	 * name and a last line without LF */
	static const char v2[] = "V\t2\n\nProjects\t&AMQ-rger\nSent\n"
	    "&AMQ\nbad\001xname\na\001tb\nINBOX\n\nLast";
	static const char v1[] = "INBOX\nProjects.&AMQ-rger\n";
	char **names;
	size_t n, skipped;
	struct mail_err err;
	struct mail_buf out = MAIL_BUF_INIT;
	char *copy = dup_exact(v2, sizeof(v2) - 1);

	ck_assert_int_eq(mail_maildir_subscriptions_parse(copy,
	    sizeof(v2) - 1, 100, &names, &n, &skipped, &err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(skipped, 3);
	ck_assert_str_eq(names[0], "Projects/\xc3\x84rger");
	ck_assert_str_eq(names[1], "Sent");
	ck_assert_str_eq(names[2], "INBOX");
	ck_assert_str_eq(names[3], "Last");
	ck_assert_int_eq(mail_maildir_subscriptions_format(names, n, &out,
	    &err), 0);
	ck_assert_str_eq((const char *)out.data,
	    "V\t2\n\nProjects\t&AMQ-rger\nSent\nINBOX\nLast\n");
	mail_maildir_names_free(names, n);
	free(copy);

	ck_assert_int_eq(mail_maildir_subscriptions_parse(v1, sizeof(v1) - 1,
	    100, &names, &n, &skipped, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[1], "Projects/\xc3\x84rger");
	mail_maildir_names_free(names, n);

	ck_assert_int_eq(mail_maildir_subscriptions_parse(v1, sizeof(v1) - 1,
	    1, &names, &n, &skipped, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	ck_assert_int_eq(mail_maildir_subscriptions_parse("", 0, 1, &names,
	    &n, &skipped, &err), 0);
	ck_assert_uint_eq(n, 0);
	mail_buf_free(&out);
}
END_TEST

START_TEST(test_subscriptions_truncated)
{
	static const char s[] = "V\t2\n\nProjects\t&AMQ-rger\nSent\n";
	size_t cut = (size_t)_i, n, skipped;
	char **names, *copy = dup_exact(s, cut);
	struct mail_err err;

	ck_assert_int_eq(mail_maildir_subscriptions_parse(copy, cut, 100,
	    &names, &n, &skipped, &err), 0);
	ck_assert_uint_le(n + skipped, 3);
	mail_maildir_names_free(names, n);
	free(copy);
}
END_TEST

Suite *test_mail_maildir_suite(void);
Suite *
test_mail_maildir_suite(void)
{
	Suite *s = suite_create("mail_maildir");
	TCase *tc = tcase_create("names");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_name_basic);
	tcase_add_test(tc, test_name_odd);
	tcase_add_test(tc, test_name_errors);
	tcase_add_loop_test(tc, test_name_truncated, 0,
	    sizeof("1795871946.M6P3.vm,S=30,W=34:2,FRSab"));
	tcase_add_test(tc, test_info_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("uidlist");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_uidlist_v3);
	tcase_add_test(tc, test_uidlist_nextuid_lags);
	tcase_add_test(tc, test_uidlist_v1);
	tcase_add_loop_test(tc, test_uidlist_errors, 0,
	    N_ELEMENTS(uidlist_bad));
	tcase_add_test(tc, test_uidlist_nul);
	tcase_add_loop_test(tc, test_uidlist_truncated, 0,
	    sizeof(uidlist_v3));
	tcase_add_test(tc, test_uidlist_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("keywords");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_keywords_ok);
	tcase_add_loop_test(tc, test_keywords_errors, 0,
	    N_ELEMENTS(keywords_bad));
	tcase_add_test(tc, test_keywords_long);
	tcase_add_loop_test(tc, test_keywords_truncated, 0,
	    sizeof("0 $Label1\n1 Junk\n\n12 NonJunk\n"));
	suite_add_tcase(s, tc);

	tc = tcase_create("mutf7");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_mutf7_vectors, 0,
	    N_ELEMENTS(mutf7_vectors));
	tcase_add_test(tc, test_mutf7_invalid);
	tcase_add_test(tc, test_mutf7_roundtrip);
	tcase_add_loop_test(tc, test_mutf7_truncated, 0,
	    sizeof("~p&-/&U,BTFw-x&2D3eAA-y"));
	suite_add_tcase(s, tc);

	tc = tcase_create("folders");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_folder_names);
	tcase_add_test(tc, test_folder_roundtrip);
	tcase_add_test(tc, test_subscriptions);
	tcase_add_loop_test(tc, test_subscriptions_truncated, 0,
	    sizeof("V\t2\n\nProjects\t&AMQ-rger\nSent\n"));
	suite_add_tcase(s, tc);
	return s;
}
