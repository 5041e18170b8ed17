/*
 * test_imap_search.c: SEARCH key evaluation. Keys are written as IMAP
 * text and parsed by the real parser, so the trees are the server's.
 * Covers every key type, NOT/OR/() nesting, "*", reversed ranges and
 * "$", dates in zones, SAVEDATE, WITHIN, MODSEQ, text keys after RFC
 * 2047 and transfer/charset decoding with case folding beyond ASCII,
 * BODY versus TEXT versus header keys, malformed messages (which must
 * never crash or fail a search), body fetch errors, and that flag and
 * date searches over 100,000 messages never fetch a body. Also the
 * shared text helpers of imap_text_private.h: the case folding table,
 * folding of invalid UTF-8, and the first-address parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail_flags.h"
#include "imap_search.h"
#include "imap_text_private.h"
#include "testlib.h"

/* The message the body callback hands out, and what it saw. */
struct tbody {
	const char *msg;
	size_t	 len;
	unsigned calls;
	bool	 fail;
};

static int
tbody_fn(void *ctx, uint32_t uid, const uint8_t **data_r, size_t *len_r,
    struct mail_err *err)
{
	struct tbody *b = ctx;

	b->calls++;
	if (b->fail)
		return mail_err_set(err, MAIL_ERR_TEMP, "cannot read uid %u",
		    uid);
	*data_r = (const uint8_t *)b->msg;
	*len_r = b->len;
	return 0;
}

static struct imap_cmd *
parse_search(const char *keys)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_cmd *cmd = NULL;
	struct mail_err err;
	char *line = mail_xasprintf("a SEARCH %s\r\n", keys);
	size_t used;

	mail_err_clear(&err);
	ck_assert_msg(imap_parser_run(p, (const uint8_t *)line, strlen(line),
	    &used, &cmd, &err) == IMAP_PARSE_DONE, "parse '%s': %s", keys,
	    err.msg);
	ck_assert_int_eq(cmd->type, IMAP_CMD_SEARCH);
	imap_parser_free(&p);
	free(line);
	return cmd;
}

static const struct imap_search_env *
default_env(struct tbody *b)
{
	static struct imap_search_env env;

	memset(&env, 0, sizeof(env));
	env.max_seq = 10;
	env.max_uid = 100;
	env.now = 1700000000;
	env.body = tbody_fn;
	env.body_ctx = b;
	return &env;
}

static struct imap_msg_info
info(uint32_t seq, uint32_t uid)
{
	struct imap_msg_info m;

	memset(&m, 0, sizeof(m));
	m.seq = seq;
	m.uid = uid;
	m.idate = 1700000000;
	m.size = 1000;
	m.modseq = 5;
	return m;
}

/* Does msg (NULL: none; the callback then must not be called) with
 * info m match keys in env? */
static bool
match_env(const char *keys, const char *msg, size_t len,
    const struct imap_msg_info *m, struct imap_search_env *env)
{
	struct imap_cmd *cmd = parse_search(keys);
	struct tbody b = { msg, len, 0, false };
	struct mail_err err;
	bool r = false;

	env->body_ctx = &b;
	mail_err_clear(&err);
	ck_assert_msg(imap_search_match(cmd->u.search.keys, env, m, &r,
	    &err) == 0, "'%s': %s", keys, err.msg);
	ck_assert_msg(b.calls <= 1, "'%s' fetched %u times", keys, b.calls);
	if (msg == NULL)
		ck_assert_msg(b.calls == 0, "'%s' fetched a body", keys);
	ck_assert_msg(imap_search_needs_body(cmd->u.search.keys) ||
	    b.calls == 0, "'%s' fetched but needs no body", keys);
	imap_cmd_free(&cmd);
	return r;
}

static bool
match_m(const char *keys, const char *msg, const struct imap_msg_info *m)
{
	struct tbody b;
	struct imap_search_env env = *default_env(&b);

	return match_env(keys, msg, msg != NULL ? strlen(msg) : 0, m, &env);
}

static bool
match(const char *keys, const char *msg)
{
	struct imap_msg_info m = info(3, 30);

	return match_m(keys, msg, &m);
}

#define YES(k, msg)	ck_assert_msg(match(k, msg), "'%s' should match", k)
#define NO(k, msg)	ck_assert_msg(!match(k, msg), "'%s' should fail", k)

START_TEST(test_flags)
{
	struct imap_msg_info m = info(3, 30);
	static const struct {
		const char *key, *unkey;
		uint16_t bit;
	} f[] = {
		{ "ANSWERED", "UNANSWERED", MAIL_ANSWERED },
		{ "DELETED", "UNDELETED", MAIL_DELETED },
		{ "DRAFT", "UNDRAFT", MAIL_DRAFT },
		{ "FLAGGED", "UNFLAGGED", MAIL_FLAGGED },
		{ "SEEN", "UNSEEN", MAIL_SEEN },
	};

	for (size_t i = 0; i < N_ELEMENTS(f); i++) {
		m.flags = 0;
		ck_assert(!match_m(f[i].key, NULL, &m));
		ck_assert(match_m(f[i].unkey, NULL, &m));
		m.flags = MAIL_FLAGS_ALL & ~f[i].bit;
		ck_assert(!match_m(f[i].key, NULL, &m));
		ck_assert(match_m(f[i].unkey, NULL, &m));
		m.flags = f[i].bit;
		ck_assert(match_m(f[i].key, NULL, &m));
		ck_assert(!match_m(f[i].unkey, NULL, &m));
	}
	/* no \Recent in imapd: RECENT and NEW never, OLD always */
	for (uint16_t fl = 0; fl <= MAIL_FLAGS_ALL; fl++) {
		m.flags = fl;
		ck_assert(!match_m("RECENT", NULL, &m));
		ck_assert(!match_m("NEW", NULL, &m));
		ck_assert(match_m("OLD", NULL, &m));
		ck_assert(match_m("ALL", NULL, &m));
	}
}
END_TEST

START_TEST(test_keywords)
{
	static const char *const kw[] = { "$Junk", "Work", "\xc3\xa4kw" };
	struct imap_msg_info m = info(1, 1);

	m.n_keywords = 3;
	m.keywords = kw;
	ck_assert(match_m("KEYWORD $junk", NULL, &m));
	ck_assert(match_m("KEYWORD WORK", NULL, &m));
	ck_assert(!match_m("KEYWORD Wor", NULL, &m));
	ck_assert(!match_m("KEYWORD $Junk2", NULL, &m));
	ck_assert(!match_m("UNKEYWORD $JUNK", NULL, &m));
	ck_assert(match_m("UNKEYWORD $NotJunk", NULL, &m));
	m.n_keywords = 0;
	ck_assert(!match_m("KEYWORD $Junk", NULL, &m));
	ck_assert(match_m("UNKEYWORD $Junk", NULL, &m));
}
END_TEST

START_TEST(test_sets)
{
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct mail_uidset saved = MAIL_UIDSET_INIT;
	struct imap_msg_info m = info(3, 30);

#define S(k)	match_env(k, NULL, 0, &m, &env)
	ck_assert(S("3"));
	ck_assert(S("1:3"));
	ck_assert(S("5:3"));
	ck_assert(S("1,7,3"));
	ck_assert(!S("4:5"));
	ck_assert(!S("1,2,4:*"));
	ck_assert(S("UID 30"));
	ck_assert(S("UID 40:20"));
	ck_assert(!S("UID 3"));
	ck_assert(!S("UID 31:*"));
	/* "*" is the last message; "n:*" with n past it still holds it */
	m = info(10, 100);
	ck_assert(S("*"));
	ck_assert(S("12:*"));
	ck_assert(S("UID *"));
	ck_assert(S("UID 500:*"));
	ck_assert(!S("UID 500"));
	ck_assert(S("NOT 1:9"));
	/* "$": the UIDs of the last SEARCH SAVE, for both kinds */
	ck_assert(!S("$"));
	ck_assert(!S("UID $"));
	mail_uidset_add(&saved, 90, 100);
	env.saved = &saved;
	ck_assert(S("$"));
	ck_assert(S("UID $"));
	m.uid = 89;
	ck_assert(!S("$"));
	ck_assert(!S("UID $"));
	ck_assert(S("NOT $"));
	/* an empty mailbox's "*" is 0: "*" matches no real message */
	env.max_seq = 0;
	env.max_uid = 0;
	ck_assert(!S("*"));
	ck_assert(!S("UID *"));
#undef S
	mail_uidset_free(&saved);
}
END_TEST

static int64_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

START_TEST(test_internal_dates)
{
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct imap_msg_info m = info(1, 1);

#define D(k)	match_env(k, NULL, 0, &m, &env)
	m.idate = utc(2024, 2, 1, 23, 30, 0);	/* 1 Feb 23:30 UTC */
	ck_assert(D("ON 1-Feb-2024"));
	ck_assert(!D("ON 2-Feb-2024"));
	ck_assert(D("BEFORE 2-Feb-2024"));
	ck_assert(!D("BEFORE 1-Feb-2024"));
	ck_assert(D("SINCE 1-Feb-2024"));
	ck_assert(D("SINCE 31-Jan-2024"));
	ck_assert(!D("SINCE 2-Feb-2024"));
	/* the server's zone decides the day: at +01:00 it is 2 Feb */
	env.tz_offset_min = 60;
	ck_assert(D("ON 2-Feb-2024"));
	ck_assert(!D("ON 1-Feb-2024"));
	ck_assert(!D("BEFORE 2-Feb-2024"));
	ck_assert(D("SINCE 2-Feb-2024"));
	/* and at -05:00 a time after midnight UTC is the day before */
	env.tz_offset_min = -300;
	m.idate = utc(2024, 3, 1, 2, 0, 0);
	ck_assert(D("ON 29-Feb-2024"));
	/* before the epoch */
	env.tz_offset_min = 0;
	m.idate = utc(1969, 12, 31, 12, 0, 0);
	ck_assert(D("ON 31-Dec-1969"));
	ck_assert(D("BEFORE 1-Jan-1970"));
	/* SAVEDATE (RFC 8514): without a save date nothing matches */
	m.sdate = 0;
	ck_assert(!D("SAVEDATESUPPORTED"));
	ck_assert(!D("SAVEDON 31-Dec-1969"));
	ck_assert(!D("SAVEDBEFORE 1-Jan-2100"));
	ck_assert(!D("SAVEDSINCE 1-Jan-1900"));
	ck_assert(D("NOT SAVEDSINCE 1-Jan-1900"));
	m.sdate = utc(2024, 5, 10, 0, 0, 0);
	ck_assert(D("SAVEDATESUPPORTED"));
	ck_assert(D("SAVEDON 10-May-2024"));
	ck_assert(D("SAVEDBEFORE 11-May-2024"));
	ck_assert(!D("SAVEDBEFORE 10-May-2024"));
	ck_assert(D("SAVEDSINCE 10-May-2024"));
	ck_assert(!D("SAVEDSINCE 11-May-2024"));
	env.tz_offset_min = -1;
	ck_assert(D("SAVEDON 9-May-2024"));
	/* OLDER/YOUNGER (RFC 5032) around the exact instant */
	env.tz_offset_min = 0;
	env.now = 1000000;
	m.idate = 1000000 - 3600;
	ck_assert(D("OLDER 3600"));
	ck_assert(!D("YOUNGER 3600"));
	ck_assert(D("OLDER 3599"));
	ck_assert(!D("OLDER 3601"));
	ck_assert(D("YOUNGER 3601"));
	ck_assert(!D("OLDER 4294967295"));
	ck_assert(D("YOUNGER 4294967295"));
	/* RFC822.SIZE, MODSEQ */
	m.size = 1000;
	ck_assert(D("LARGER 999"));
	ck_assert(!D("LARGER 1000"));
	ck_assert(D("SMALLER 1001"));
	ck_assert(!D("SMALLER 1000"));
	m.modseq = 7;
	ck_assert(D("MODSEQ 7"));
	ck_assert(D("MODSEQ 1"));
	ck_assert(!D("MODSEQ 8"));
	ck_assert(D("MODSEQ \"/flags/\\\\Seen\" all 7"));
	ck_assert(!D("MODSEQ \"/flags/\\\\Seen\" priv 8"));
#undef D
}
END_TEST

START_TEST(test_sent_dates)
{
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct imap_msg_info m = info(1, 1);
	const char *msg;

#define D(k)	match_env(k, msg, strlen(msg), &m, &env)
	/* the date as written, whatever the zone: 23:30 -0800 is the next
	 * day in UTC but SENTON goes by "1 Feb" */
	msg = "Date: Thu, 1 Feb 2024 23:30:00 -0800\r\n\r\nbody\r\n";
	env.tz_offset_min = 120;
	ck_assert(D("SENTON 1-Feb-2024"));
	ck_assert(!D("SENTON 2-Feb-2024"));
	ck_assert(D("SENTBEFORE 2-Feb-2024"));
	ck_assert(!D("SENTBEFORE 1-Feb-2024"));
	ck_assert(D("SENTSINCE 1-Feb-2024"));
	ck_assert(!D("SENTSINCE 2-Feb-2024"));
	/* obsolete forms: comments, two-digit year, no weekday */
	msg = "Date: (c) 3 (x) Mar (y) 99 10:00 GMT\r\n\r\n";
	ck_assert(D("SENTON 3-Mar-1999"));
	msg = "Date: 7 Jan 49 10:00 +0000\n\n";
	ck_assert(D("SENTON 7-Jan-2049"));
	/* no or a broken Date: the internal date's day */
	m.idate = utc(2023, 11, 14, 12, 0, 0);
	env.tz_offset_min = 0;
	msg = "Subject: no date\r\n\r\n";
	ck_assert(D("SENTON 14-Nov-2023"));
	msg = "Date: yesterday\r\n\r\n";
	ck_assert(D("SENTON 14-Nov-2023"));
	msg = "Date: 31 Feb 2023 10:00 +0000\r\n\r\n";
	ck_assert(D("SENTON 14-Nov-2023"));
	/* the first Date: counts */
	msg = "Date: 1 Jan 2020 10:00 +0000\r\nDate: 2 Jan 2020 10:00 +0000"
	    "\r\n\r\n";
	ck_assert(D("SENTON 1-Jan-2020"));
#undef D
}
END_TEST

START_TEST(test_nesting)
{
	struct imap_msg_info m = info(3, 30);
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	const char *msg = "Subject: hello\r\n\r\nbody\r\n";

	m.flags = MAIL_SEEN;
	ck_assert(match_m("SEEN UNFLAGGED", NULL, &m));
	ck_assert(!match_m("SEEN FLAGGED", NULL, &m));
	ck_assert(match_m("OR FLAGGED SEEN", NULL, &m));
	ck_assert(!match_m("OR FLAGGED DRAFT", NULL, &m));
	ck_assert(match_m("NOT FLAGGED", NULL, &m));
	ck_assert(match_m("NOT NOT SEEN", NULL, &m));
	ck_assert(!match_m("NOT (SEEN UNFLAGGED)", NULL, &m));
	ck_assert(match_m("NOT (SEEN FLAGGED)", NULL, &m));
	ck_assert(match_m("(SEEN (UNDRAFT (3)))", NULL, &m));
	ck_assert(match_m("OR (FLAGGED SEEN) (SEEN UID 30)", NULL, &m));
	ck_assert(match_m("OR OR FLAGGED DRAFT OR DELETED SEEN", NULL, &m));
	ck_assert(!match_m("OR OR FLAGGED DRAFT OR DELETED NOT SEEN", NULL,
	    &m));
	ck_assert(!match_m("NOT OR FLAGGED NOT UID 1:29,31:*", NULL, &m));
	ck_assert(match_m("NOT OR FLAGGED UID 1:29,31:*", NULL, &m));
	ck_assert(match_m("SUBJECT hello SEEN", msg, &m));
	ck_assert(match_m("OR SUBJECT nope SEEN", msg, &m));
	ck_assert(match_m("NOT (SUBJECT nope)", msg, &m));
	ck_assert(!match_m("OR SUBJECT nope BODY nope", msg, &m));

	/* cheap keys first: a failing flag spares the fetch, in AND and
	 * in OR, wherever the text key stands */
	static const char *const lazy[] = {
		"BODY x FLAGGED", "FLAGGED BODY x", "(SUBJECT x (FLAGGED))",
		"OR BODY x SEEN", "NOT (TEXT x) FLAGGED",
		"OR (BODY x FLAGGED) (SUBJECT y DRAFT)",
	};
	for (size_t i = 0; i < N_ELEMENTS(lazy); i++) {
		struct imap_cmd *cmd = parse_search(lazy[i]);
		struct tbody tb = { msg, strlen(msg), 0, false };
		struct mail_err err;
		bool r;

		env.body_ctx = &tb;
		ck_assert(imap_search_needs_body(cmd->u.search.keys));
		ck_assert_int_eq(imap_search_match(cmd->u.search.keys, &env,
		    &m, &r, &err), 0);
		ck_assert_msg(tb.calls == 0, "'%s' fetched", lazy[i]);
		imap_cmd_free(&cmd);
	}
}
END_TEST

START_TEST(test_needs_body)
{
	static const struct {
		const char *keys;
		bool	 needs;
	} t[] = {
		{ "ALL", false }, { "SEEN NOT UID 1:*", false },
		{ "OR BEFORE 1-Jan-2020 SAVEDON 1-Jan-2020", false },
		{ "LARGER 1 SMALLER 9 OLDER 5 YOUNGER 9 MODSEQ 1", false },
		{ "KEYWORD a UNKEYWORD b NEW OLD RECENT $", false },
		{ "BCC x", true }, { "BODY x", true }, { "CC x", true },
		{ "FROM x", true }, { "SUBJECT x", true }, { "TEXT x", true },
		{ "TO x", true }, { "HEADER X-A b", true },
		{ "SENTBEFORE 1-Jan-2020", true },
		{ "SENTON 1-Jan-2020", true },
		{ "SENTSINCE 1-Jan-2020", true },
		{ "SEEN (UNSEEN (NOT (OR ALL SUBJECT x)))", true },
	};

	ck_assert(!imap_search_needs_body(NULL));
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		struct imap_cmd *cmd = parse_search(t[i].keys);

		ck_assert_msg(imap_search_needs_body(cmd->u.search.keys) ==
		    t[i].needs, "%s", t[i].keys);
		imap_cmd_free(&cmd);
	}
}
END_TEST

START_TEST(test_header_keys)
{
	const char *msg =
	    "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.com>\r\n"
	    "To: \"Anna\" <anna@example.org>, bob@example.net\r\n"
	    "Cc: Carol <carol@example.com>\r\n"
	    "Bcc: secret@example.com\r\n"
	    "Subject: =?UTF-8?B?w5xiZXI=?= the\r\n"
	    " =?utf-8?q?gro=C3=9Fe?= =?utf-8?q?_Stra=C3=9Fe?=\r\n"
	    "X-Mailer: Foo\r\n"
	    "X-Empty:\r\n"
	    "\r\n"
	    "Body text with Subject words: mailbox\r\n";

	YES("FROM \"j\xc3\xb6rg\"", msg);
	YES("FROM \"J\xc3\x96RG M\xc3\x9cLLER\"", msg);
	YES("FROM JOERG@EXAMPLE", msg);
	NO("FROM anna", msg);
	YES("TO anna", msg);
	YES("TO \"bob@example.net\"", msg);
	NO("TO carol", msg);
	YES("CC CAROL", msg);
	YES("BCC secret", msg);
	NO("BCC anna", msg);
	/* decoded and unfolded; adjacent words joined, the space between
	 * two words gone but the one inside "_" kept */
	YES("SUBJECT \"\xc3\xbc" "ber the gro\xc3\x9f" "e Stra\xc3\x9f" "e\"",
	    msg);
	YES("SUBJECT \"\xc3\x9c" "BER THE\"", msg);
	NO("SUBJECT w5xiZXI", msg);
	NO("SUBJECT mailbox", msg);
	YES("HEADER X-Mailer foo", msg);
	YES("HEADER x-mailer \"\"", msg);
	YES("HEADER X-EMPTY \"\"", msg);
	NO("HEADER X-Empty x", msg);
	NO("HEADER X-Other \"\"", msg);
	NO("HEADER X-Mail \"\"", msg);
	YES("HEADER Subject \"stra\xc3\x9f" "e\"", msg);
	/* "" on a header key: the field exists */
	YES("SUBJECT \"\"", msg);
	NO("SUBJECT \"\"", "From: a@b\r\n\r\n");
	NO("FROM \"\"", "Subject: x\r\n\r\n");
	/* every field of a name is searched, not only the first */
	YES("HEADER Received two",
	    "Received: one\r\nReceived: two\r\n\r\n");
	/* a header key never looks at the body, BODY never at the header */
	NO("BODY joerg", msg);
	YES("BODY MAILBOX", msg);
	YES("TEXT joerg", msg);
	YES("TEXT \"x-mailer: foo\"", msg);
}
END_TEST

START_TEST(test_case_folding)
{
	const char *msg =
	    "Subject: =?UTF-8?B?zqPOr8+Dz4XPhs6/z4I=?= "
	    "\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0 "
	    "\xc3\x85ngstr\xc3\xb6m \xc4\x8c\xc5\xa0 \xc5\xbf \xe2\x84\xaa"
	    "\r\n\r\n";

	/* Greek: Σίσυφος, final sigma folds with sigma */
	YES("SUBJECT \"\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf"
	    "\x83\"", msg);
	YES("SUBJECT \"\xce\xa3\xce\x8a\xce\xa3\"", msg);
	/* Cyrillic: МОСКВА */
	YES("SUBJECT \"\xd0\x9c\xd0\x9e\xd0\xa1\xd0\x9a\xd0\x92\xd0\x90\"",
	    msg);
	/* Latin-1 and Latin Extended-A: ångström, čš */
	YES("SUBJECT \"\xc3\xa5NGSTR\xc3\x96M\"", msg);
	YES("SUBJECT \"\xc4\x8d\xc5\xa1\"", msg);
	/* long s folds to s, Kelvin sign to k */
	YES("SUBJECT \" s k\"", msg);
	YES("SUBJECT \"S K\"", msg);
	/* decomposed: a base letter finds its accented forms, as in
	 * i;unicode-casemap, but not across a mark */
	YES("SUBJECT \"\xc3\xa5ngstr\"", msg);
	YES("SUBJECT \"A\xcc\x8aNGSTR\"", msg);
	YES("SUBJECT \"str\"", msg);
	YES("SUBJECT ngstro", msg);
	NO("SUBJECT angstrom", msg);
	NO("SUBJECT \"\xce\xb1\"", msg);
	YES("FROM zoe", "From: Zo\xc3\xab <z@example.com>\r\n\r\n");
	YES("FROM \"ZO\xc3\x8b\"", "From: zoe\xcc\x88 <z@x>\r\n\r\n");
	NO("FROM \"zo\xc3\xab\"", "From: Zoe <z@example.com>\r\n\r\n");
}
END_TEST

START_TEST(test_charsets)
{
	/* header words in charsets iconv converts */
	YES("SUBJECT \"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\"",
	    "Subject: =?koi8-r?B?8NLJ18XU?=\r\n\r\n");
	YES("SUBJECT \"\xe2\x82\xac" "5\"",
	    "Subject: =?windows-1252?Q?=805?=\r\n\r\n");
	YES("SUBJECT \"\xc5\x81\xc3\xb3" "d\xc5\xba\"",
	    "Subject: =?ISO-8859-2?Q?=A3=F3d=BC?=\r\n\r\n");
	/* RFC 2231 language in the charset */
	YES("SUBJECT \"\xc3\xa9t\xc3\xa9\"",
	    "Subject: =?UTF-8*fr?Q?=C3=A9t=C3=A9?=\r\n\r\n");
	/* a UTF-8 character split between two words survives */
	YES("SUBJECT \"\xe2\x82\xac\"",
	    "Subject: =?UTF-8?Q?=E2=82?= =?UTF-8?Q?=AC?=\r\n\r\n");
	/* unknown charsets and malformed words stay as they are */
	YES("SUBJECT \"=?x-unknown?q?abc?=\"",
	    "Subject: =?x-unknown?q?abc?=\r\n\r\n");
	YES("SUBJECT \"=?utf-8?x?abc?=\"", "Subject: =?utf-8?x?abc?=\r\n\r\n");
	YES("SUBJECT \"=?utf-8?q?a b?=\"", "Subject: =?utf-8?q?a b?=\r\n\r\n");
	YES("SUBJECT \"=?utf-8?q?abc\"", "Subject: =?utf-8?q?abc\r\n\r\n");
	/* raw 8-bit text in a header is searched as it is */
	YES("SUBJECT \"gr\xfc\xdf\"", "Subject: GR\xfc\xdf" "e\r\n\r\n");
	YES("SUBJECT \"\xc3\xbc\"", "Subject: \xc3\x9c\r\n\r\n");

	/* bodies: transfer encodings and charsets */
	YES("BODY \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\"",
	    "Content-Type: text/plain; charset=koi8-r\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n8NLJ18XU\r\n");
	YES("BODY \"caf\xc3\xa9 cr\xc3\xa8me\"",
	    "Content-Type: text/plain; charset=\"ISO-8859-1\"\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "CAF=C9 CR=E8me=\r\n d\r\n");
	YES("BODY \"soft break\"", "MIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "soft b=\r\nreak\r\n");
	/* Content-* fields count only in a MIME message (RFC 2045 4) */
	NO("BODY \"soft break\"",
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "soft b=\r\nreak\r\n");
	NO("BODY \"=C9\"",
	    "Content-Type: text/plain; charset=iso-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\nCAF=C9\r\n");
	YES("BODY \"\xe6\x97\xa5\xe6\x9c\xac\"",
	    "Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n"
	    "\x1b$BF|K\\\x1b(B\r\n");
	/* an unknown charset: the raw bytes */
	YES("BODY \"gr\xfc\xdf\"",
	    "Content-Type: text/plain; charset=x-martian\r\n\r\n"
	    "Gr\xfc\xdf" "e\r\n");
	/* bytes the charset lacks stay raw, the rest converts */
	YES("BODY \"ab\x81" "c\xc3\xa9\"",
	    "Content-Type: text/plain; charset=windows-1252\r\n\r\n"
	    "ab\x81" "c\xe9\r\n");
	/* invalid UTF-8 in a UTF-8 part: raw, and nothing lost */
	YES("BODY \"a\xff" "b\"",
	    "Content-Type: text/plain; charset=utf-8\r\n\r\na\xff" "b\r\n");
	YES("BODY \"\xc3\xa9\"",
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n\xff\xc3\x89\r\n");
	/* an unknown transfer encoding: the raw body */
	YES("BODY plain",
	    "Content-Transfer-Encoding: x-uuencode\r\n\r\nPLAIN text\r\n");
}
END_TEST

static const char mime_msg[] =
    "From: a@example.com\r\n"
    "Subject: report\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble words\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "SGVsbG8gV8O2cmxkCg==\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>hypertext</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0IGF0dGFjaG1lbnQ=\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: forwarded@example.org\r\n"
    "Subject: inner subject\r\n"
    "\r\n"
    "inner body\r\n"
    "--outer--\r\n"
    "epilogue words\r\n";

START_TEST(test_mime)
{
	YES("BODY \"hello w\xc3\xb6rld\"", mime_msg);
	YES("BODY hypertext", mime_msg);
	YES("BODY \"<p>\"", mime_msg);
	/* attachments are not text */
	NO("BODY secret", mime_msg);
	NO("TEXT c2VjcmV0", mime_msg);
	/* preamble and epilogue are not content */
	NO("BODY preamble", mime_msg);
	NO("BODY epilogue", mime_msg);
	/* an attached message: its body is body text, its header is a
	 * header (TEXT), as Dovecot has it */
	YES("BODY \"inner body\"", mime_msg);
	NO("BODY \"inner subject\"", mime_msg);
	NO("BODY forwarded@", mime_msg);
	YES("TEXT \"inner subject\"", mime_msg);
	YES("TEXT forwarded@", mime_msg);
	/* but not the outer message's header fields */
	NO("SUBJECT inner", mime_msg);
	NO("FROM forwarded", mime_msg);
	NO("BODY report", mime_msg);
	/* TEXT: header, body, and MIME part headers */
	YES("TEXT report", mime_msg);
	YES("TEXT \"data.bin\"", mime_msg);
	YES("TEXT \"world\"", "Subject: x\r\n\r\nhello WORLD\r\n");
	NO("BODY \"data.bin\"", mime_msg);
	/* no match across two parts */
	NO("BODY \"hypertext</p> inner\"", mime_msg);
	/* empty strings */
	YES("BODY \"\"", mime_msg);
	YES("TEXT \"\"", "");
}
END_TEST

/* Run keys against msg; it must not fail, whatever it returns. */
static void
survive(const char *msg, size_t len)
{
	static const char *const keys[] = {
		"TEXT x", "BODY \"\xc3\xa4\"", "SUBJECT a", "FROM b",
		"HEADER X-Y z", "SENTON 1-Jan-2020", "TO \"\"",
		"OR BODY \"\" CC q",
	};
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct imap_msg_info m = info(1, 1);

	for (size_t i = 0; i < N_ELEMENTS(keys); i++)
		(void)match_env(keys[i], msg, len, &m, &env);
}

static void
survive_str(const char *msg)
{
	survive(msg, strlen(msg));
}

START_TEST(test_malformed)
{
	static const char nuls[] = "Subject: a\0b\r\nX-Y: z\0\r\n\r\nbo\0dy "
	    "x\r\n";
	struct mail_buf big = MAIL_BUF_INIT;
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct imap_msg_info m = info(1, 1);

	/* no header/body separator: all header */
	YES("SUBJECT hello", "Subject: hello");
	NO("BODY hello", "Subject: hello");
	/* no header at all */
	YES("BODY hello", "\r\nhello\r\n");
	YES("TEXT hello", "hello there");
	/* empty message */
	NO("SUBJECT x", "");
	NO("BODY x", "");
	/* NULs in header and body */
	ck_assert(match_env("HEADER X-Y z", nuls, sizeof(nuls) - 1, &m,
	    &env));
	ck_assert(match_env("BODY dy", nuls, sizeof(nuls) - 1, &m, &env));
	ck_assert(match_env("SUBJECT a", nuls, sizeof(nuls) - 1, &m, &env));
	survive(nuls, sizeof(nuls) - 1);
	/* broken MIME: a boundary that never comes, nested garbage */
	YES("BODY tail",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: multipart/mixed; boundary=\r\n\r\ntail\r\n");
	YES("BODY unclosed",
	    "Content-Type: multipart/mixed; boundary=\"b\r\n\r\n--b\r\n\r\n"
	    "unclosed\r\n");
	YES("BODY x",
	    "Content-Type: text/plain; charset=\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n!!!eA==!!!\r\n");
	/* empty text parts in a charset iconv converts */
	NO("BODY x", "MIME-Version: 1.0\r\nContent-Type: text/plain; "
	    "charset=koi8-r\r\n\r\n");
	YES("BODY \"\"", "MIME-Version: 1.0\r\nContent-Type: text/plain; "
	    "charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	/* broken encoded words */
	YES("SUBJECT \"=?utf-8?b?\"", "Subject: =?utf-8?b?\r\n\r\n");
	YES("SUBJECT \"?=\"", "Subject: =?utf-8?b?" "?= ?=\r\n\r\n");
	survive_str("Subject: =?=?=?utf-8?q?=?= =?utf-8?B?////?==?\r\n\r\n");
	survive_str("From: \"unterminated <a@b\r\nTo: ((((\r\n"
	    "Cc: <<<>>>,,,@@@\r\nBcc: (a\\\r\n\r\n");
	/* a 2 MiB header line and a header over the field limit: the
	 * search goes on with what fits */
	mail_buf_append_str(&big, "Subject: start ");
	for (int i = 0; i < 2 * 1024 * 1024 / 8; i++)
		mail_buf_append_str(&big, "abcdefg ");
	mail_buf_append_str(&big, "\r\n\r\nbody end\r\n");
	ck_assert(match_env("SUBJECT start", (const char *)big.data, big.len,
	    &m, &env));
	survive((const char *)big.data, big.len);
	mail_buf_reset(&big);
	mail_buf_append_str(&big, "Subject: first\r\n");
	for (int i = 0; i < 20000; i++)
		mail_buf_append_str(&big, "X: y\r\n");
	mail_buf_append_str(&big, "\r\nbody\r\n");
	ck_assert(match_env("SUBJECT first", (const char *)big.data, big.len,
	    &m, &env));
	survive((const char *)big.data, big.len);
	/* deep MIME nesting past mail_mime's limits */
	mail_buf_reset(&big);
	for (int i = 0; i < 300; i++)
		mail_buf_printf(&big, "Content-Type: multipart/mixed; "
		    "boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	mail_buf_append_str(&big, "\r\ndeep text\r\n");
	survive((const char *)big.data, big.len);
	/* every byte value as a body */
	mail_buf_reset(&big);
	mail_buf_append_str(&big, "Subject: bytes\r\n\r\n");
	for (int i = 0; i < 256; i++) {
		uint8_t c = (uint8_t)i;

		mail_buf_append(&big, &c, 1);
	}
	survive((const char *)big.data, big.len);
	mail_buf_free(&big);
}
END_TEST

/* Every prefix of a MIME message with encoded words searches cleanly
 * (ASan checks the reads). */
START_TEST(test_prefixes)
{
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct imap_msg_info m = info(1, 1);
	size_t len = strlen(mime_msg);

	for (size_t cut = 0; cut <= len; cut++) {
		char *copy = mail_xstrndup(mime_msg, cut);

		(void)match_env("OR TEXT zz BODY \"inner body\"", copy, cut,
		    &m, &env);
		free(copy);
	}
}
END_TEST

START_TEST(test_errors)
{
	struct imap_cmd *cmd = parse_search("SEEN SUBJECT x");
	struct tbody tb = { "Subject: x\r\n\r\n", 14, 0, true };
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct imap_msg_info m = info(1, 7);
	struct mail_err err;
	bool r = true;

	m.flags = MAIL_SEEN;
	env.body_ctx = &tb;
	mail_err_clear(&err);
	ck_assert_int_eq(imap_search_match(cmd->u.search.keys, &env, &m, &r,
	    &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_TEMP);
	ck_assert_str_eq(err.msg, "cannot read uid 7");
	ck_assert(!r);
	ck_assert_uint_eq(tb.calls, 1);
	/* no callback while one is needed: a programmer's error, reported */
	env.body = NULL;
	ck_assert_int_eq(imap_search_match(cmd->u.search.keys, &env, &m, &r,
	    &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_INTERNAL);
	/* ... but fine while not needed */
	m.flags = 0;
	ck_assert_int_eq(imap_search_match(cmd->u.search.keys, &env, &m, &r,
	    &err), 0);
	ck_assert(!r);
	/* no keys: everything */
	ck_assert_int_eq(imap_search_match(NULL, &env, &m, &r, &err), 0);
	ck_assert(r);
	imap_cmd_free(&cmd);
}
END_TEST

START_TEST(test_charset_check)
{
	struct mail_err err;

	ck_assert_int_eq(imap_search_charset_check(NULL, &err), 0);
	ck_assert_int_eq(imap_search_charset_check("UTF-8", &err), 0);
	ck_assert_int_eq(imap_search_charset_check("utf-8", &err), 0);
	ck_assert_int_eq(imap_search_charset_check("Us-Ascii", &err), 0);
	ck_assert_int_eq(imap_search_charset_check("UTF8", &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_str_eq(err.msg, "charset 'UTF8' is not supported");
	ck_assert_int_eq(imap_search_charset_check("KOI8-R\r\n* BYE", &err),
	    -1);
	ck_assert_str_eq(err.msg,
	    "charset 'KOI8-R?" "?* BYE' is not supported");
	ck_assert_int_eq(imap_search_charset_check("", &err), -1);
}
END_TEST

/* Flag, date and UID keys over 100,000 messages: no body fetch, and
 * microseconds per message. */
START_TEST(test_speed)
{
	struct imap_cmd *cmd = parse_search("OR (UNSEEN SINCE 1-Jan-2023 "
	    "UID 1000:90000) (FLAGGED NOT KEYWORD $Junk LARGER 5000)");
	static const char *const kw[] = { "$Junk" };
	struct tbody tb = { NULL, 0, 0, false };
	struct tbody b;
	struct imap_search_env env = *default_env(&b);
	struct imap_msg_info m;
	struct timespec t0, t1;
	struct mail_err err;
	unsigned hits = 0;
	double secs;
	bool r;

	env.body_ctx = &tb;
	env.max_seq = env.max_uid = 100000;
	ck_assert(!imap_search_needs_body(cmd->u.search.keys));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint32_t i = 1; i <= 100000; i++) {
		m = info(i, i);
		m.flags = (uint16_t)(i % 32);
		m.idate = 1640995200 + (int64_t)i * 1000;
		m.size = i % 10000;
		m.n_keywords = i % 3 == 0;
		m.keywords = kw;
		ck_assert(imap_search_match(cmd->u.search.keys, &env, &m, &r,
		    &err) == 0);
		hits += r;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_uint_eq(tb.calls, 0);
	ck_assert_uint_gt(hits, 0);
	ck_assert_uint_lt(hits, 100000);
	/* a generous bound that holds under ASan on a loaded machine */
	ck_assert_msg(secs < 2.0, "100,000 messages took %.3f s", secs);
	imap_cmd_free(&cmd);
}
END_TEST

/* Known simple case foldings (CaseFolding.txt status C and S), and
 * code points that must stay. */
START_TEST(test_fold_table)
{
	static const uint32_t pairs[][2] = {
		{ 'A', 'a' }, { 'z', 'z' }, { '@', '@' }, { 0xc0, 0xe0 },
		{ 0xd7, 0xd7 }, { 0xdf, 0xdf }, { 0xb5, 0x3bc },
		{ 0x178, 0xff },
		{ 0x100, 0x101 }, { 0x101, 0x101 }, { 0x130, 0x130 },
		{ 0x131, 0x131 }, { 0x17f, 's' }, { 0x1c4, 0x1c6 },
		{ 0x1c5, 0x1c6 }, { 0x345, 0x3b9 }, { 0x391, 0x3b1 },
		{ 0x3a3, 0x3c3 }, { 0x3c2, 0x3c3 }, { 0x3f4, 0x3b8 },
		{ 0x401, 0x451 }, { 0x410, 0x430 }, { 0x460, 0x461 },
		{ 0x531, 0x561 }, { 0x10a0, 0x2d00 }, { 0x13f8, 0x13f0 },
		{ 0xab70, 0x13a0 }, { 0x1e9e, 0xdf }, { 0x1f88, 0x1f80 },
		{ 0x1fbc, 0x1fb3 }, { 0x2126, 0x3c9 }, { 0x212a, 'k' },
		{ 0x212b, 0xe5 }, { 0x2160, 0x2170 }, { 0x24b6, 0x24d0 },
		{ 0x2c00, 0x2c30 }, { 0xff21, 0xff41 }, { 0x10400, 0x10428 },
		{ 0x1e900, 0x1e922 }, { 0x10ffff, 0x10ffff },
		{ 0x4e00, 0x4e00 },
	};
	uint32_t f;

	for (size_t i = 0; i < N_ELEMENTS(pairs); i++)
		ck_assert_msg(imap_text_fold_cp(pairs[i][0]) == pairs[i][1],
		    "U+%04X folds to U+%04X, not U+%04X", pairs[i][0],
		    imap_text_fold_cp(pairs[i][0]), pairs[i][1]);
	/* folding is idempotent and stays in Unicode */
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		if (cp == 0xd800)
			cp = 0xe000;	/* never decoded */
		f = imap_text_fold_cp(cp);
		ck_assert(f <= 0x10ffff && !(f >= 0xd800 && f <= 0xdfff));
		ck_assert_msg(imap_text_fold_cp(f) == f, "U+%04X", cp);
	}
}
END_TEST

static char *
fold_str(const char *s, size_t n)
{
	struct mail_buf b = MAIL_BUF_INIT;

	imap_text_fold((const uint8_t *)s, n, &b);
	mail_buf_append(&b, "", 0);
	return mail_buf_steal_str(&b);
}

START_TEST(test_fold_bytes)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "", "" },
		{ "ABC def", "abc def" },
		{ "\xc3\x84", "a\xcc\x88" },		/* Ä: a + diaeresis */
		{ "\xe1\xba\xa0", "a\xcc\xa3" },	/* Ạ */
		{ "\xce\xa3\xcf\x82", "\xcf\x83\xcf\x83" },
		/* invalid sequences: every byte as it is */
		{ "\xff\xfe" "A", "\xff\xfe" "a" },
		{ "\xc3", "\xc3" },
		{ "\xc0\x81", "\xc0\x81" },			/* overlong */
		{ "\xed\xa0\x80", "\xed\xa0\x80" },	/* surrogate */
		{ "\xf4\x90\x80\x80", "\xf4\x90\x80\x80" },
		{ "\xe2\x82X", "\xe2\x82x" },
		{ "\xf0\x90\x90\x80", "\xf0\x90\x90\xa8" },	/* Deseret */
	};

	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		char *f = fold_str(t[i].in, strlen(t[i].in));

		ck_assert_msg(strcmp(f, t[i].out) == 0, "case %zu", i);
		free(f);
	}
}
END_TEST

START_TEST(test_first_addr)
{
	static const struct {
		const char *in;
		bool	 found, group;
		const char *name, *mailbox, *domain;
	} t[] = {
		{ "a@b", true, false, "", "a", "b" },
		{ "Joe <joe@x.org>", true, false, "Joe", "joe", "x.org" },
		{ "\"Doe, Jane\" <jd@x>, b@c", true, false, "Doe, Jane", "jd",
		    "x" },
		{ "john . doe @ example . com", true, false, "", "john.doe",
		    "example.com" },
		{ "joe@x (Joe Q. Public)", true, false, "Joe Q. Public", "joe",
		    "x" },
		{ "(c1) joe (c2) @ (c3) x", true, false, "c3", "joe", "x" },
		{ "\"quoted box\"@x", true, false, "", "quoted box", "x" },
		{ "<@r1,@r2:joe@x>", true, false, "", "joe", "x" },
		{ "Team: a@b, c@d;", true, true, "", "Team", "" },
		{ "undisclosed-recipients:;", true, true, "",
		    "undisclosed-recipients", "" },
		{ ",, ,b@c", true, false, "", "b", "c" },
		{ "nodomain", true, false, "", "nodomain", "" },
		{ "John Doe john@x", true, false, "John Doe", "john", "x" },
		{ "<>", true, false, "", "", "" },
		{ "=?utf-8?q?J=C3=B6rg?= <j@x>", true, false,
		    "=?utf-8?q?J=C3=B6rg?=", "j", "x" },
		{ "", false, false, "", "", "" },
		{ " , ,", false, false, "", "", "" },
		{ "(only a comment)", false, false, "", "", "" },
		{ "\"unterminated <a@b", true, false, "", "unterminated <a@b",
		    "" },
		{ "a@[1.2.3.4]", true, false, "", "a", "[1.2.3.4]" },
		{ "((((", false, false, "", "", "" },
	};
	struct imap_text_addr a = { false, false, MAIL_BUF_INIT, MAIL_BUF_INIT,
	    MAIL_BUF_INIT };

	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		imap_text_first_addr(t[i].in, &a);
		mail_buf_append(&a.name, "", 0);
		mail_buf_append(&a.mailbox, "", 0);
		mail_buf_append(&a.domain, "", 0);
		ck_assert_msg(a.found == t[i].found && a.group == t[i].group,
		    "'%s': found %d group %d", t[i].in, a.found, a.group);
		ck_assert_msg(strcmp((char *)a.name.data, t[i].name) == 0 &&
		    strcmp((char *)a.mailbox.data, t[i].mailbox) == 0 &&
		    strcmp((char *)a.domain.data, t[i].domain) == 0,
		    "'%s': name '%s' mailbox '%s' domain '%s'", t[i].in,
		    (char *)a.name.data, (char *)a.mailbox.data,
		    (char *)a.domain.data);
	}
	imap_text_addr_free(&a);
}
END_TEST

Suite *test_imap_search_suite(void);

Suite *
test_imap_search_suite(void)
{
	Suite *s = suite_create("imap_search");
	TCase *tc;

	tc = tcase_create("keys");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_keywords);
	tcase_add_test(tc, test_sets);
	tcase_add_test(tc, test_internal_dates);
	tcase_add_test(tc, test_sent_dates);
	tcase_add_test(tc, test_nesting);
	tcase_add_test(tc, test_needs_body);
	tcase_add_test(tc, test_charset_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("text");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_header_keys);
	tcase_add_test(tc, test_case_folding);
	tcase_add_test(tc, test_charsets);
	tcase_add_test(tc, test_mime);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_fold_table);
	tcase_add_test(tc, test_fold_bytes);
	tcase_add_test(tc, test_first_addr);
	suite_add_tcase(s, tc);

	tc = tcase_create("speed");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_speed);
	suite_add_tcase(s, tc);
	return s;
}
