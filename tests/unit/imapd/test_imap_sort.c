/*
 * test_imap_sort.c: SORT and the base subject. The base subject cases
 * follow RFC 5256 2.1 step by step; the sort cases check every key,
 * REVERSE, ties (always by ascending sequence number), several criteria,
 * that messages are fetched once and only when a key needs the header,
 * fetch errors and malformed messages. The expected orders were also
 * checked against Dovecot 2.3 (tests/tools/imap-xcheck compares the two
 * on generated mailboxes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_sort.h"
#include "testlib.h"

START_TEST(test_base_subject)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "hello", "hello" },
		{ "Re: hello", "hello" },
		{ "RE: Re: re:hello", "hello" },
		{ "Fwd: hello", "hello" },
		{ "FW: hello", "hello" },
		{ "fw:hello", "hello" },
		{ "Fwd:Re:hello", "hello" },
		{ "Re[2]: hello", "hello" },
		{ "Re [x] : hello", "hello" },
		{ "Re : hello", "hello" },
		{ "Rehello", "Rehello" },
		{ "Re hello", "Re hello" },
		{ "Reply: hello", "Reply: hello" },
		{ "re: re", "re" },
		{ "Re:", "" },
		{ "Fwd: ", "" },
		{ "", "" },
		{ "   ", "" },
		/* (4): a blob goes only if text is left after it */
		{ "[list] hello", "hello" },
		{ "[list]", "[list]" },
		{ "[list] [other]", "[other]" },
		{ "[a][b] c", "c" },
		{ "[list] Re: hello", "hello" },
		{ "Re: [list] Re: hello", "hello" },
		{ "[PATCH v2] Re: fix it", "fix it" },
		{ "Re: [PATCH]", "[PATCH]" },
		{ "[unclosed hello", "[unclosed hello" },
		/* (2): trailers */
		{ "hello (fwd)", "hello" },
		{ "hello(FWD) (fwd)  ", "hello" },
		{ "(fwd)", "" },
		{ "x(fwd)", "x" },
		{ "hello (fwd) x", "hello (fwd) x" },
		/* (6): [fwd: ...] */
		{ "[Fwd: hello]", "hello" },
		{ "[fwd: Re: hello (fwd)]", "hello" },
		{ "Re: [Fwd: [fwd: hello]]", "hello" },
		{ "[fwd: ]", "" },
		{ "[fwd: hello", "[fwd: hello" },
		{ "[fwd: hello] x", "x" },
		/* (1): whitespace, encoded-words */
		{ "  hello \t  world  ", "hello world" },
		{ "hello\r\n world", "hello world" },
		{ "Re: =?UTF-8?Q?h=C3=A9llo?=", "h\xc3\xa9llo" },
		{ "=?utf-8?q?Re=3A_hi?=", "hi" },
		{ "=?ISO-8859-1?Q?=C4rger?= =?ISO-8859-1?Q?_im_B=FCro?=",
		    "\xc3\x84rger im B\xc3\xbcro" },
		{ "=?koi8-r?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2"
		    "\xd0\xb5\xd1\x82" },
		/* invalid UTF-8 becomes U+FFFD; case is kept */
		{ "Re: caf\xe9", "caf\xef\xbf\xbd" },
		{ "Re: HeLLo", "HeLLo" },
	};

	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		char *s = imap_base_subject(t[i].in, strlen(t[i].in));

		ck_assert_msg(strcmp(s, t[i].out) == 0, "'%s': '%s', not '%s'",
		    t[i].in, s, t[i].out);
		free(s);
	}
	/* NULs are bytes of the value, not its end */
	{
		char *s = imap_base_subject("Re: a\0b", 7);

		ck_assert_str_eq(s, "a\xef\xbf\xbd" "b");
		free(s);
	}
}
END_TEST

/* A small mailbox: message i (0-based) has sequence number i + 1 and
 * UID 10 * (i + 1); its text is hdrs[i] (a header; a body is added). */
struct tbox {
	const char *const *hdrs;
	size_t	 n;
	char	**text;
	unsigned *calls;
	bool	 fail;
};

static int
tbox_body(void *ctx, uint32_t uid, const uint8_t **data_r, size_t *len_r,
    struct mail_err *err)
{
	struct tbox *b = ctx;
	size_t i = uid / 10 - 1;

	ck_assert(uid % 10 == 0 && i < b->n);
	b->calls[i]++;
	if (b->fail)
		return mail_err_set(err, MAIL_ERR_NOTFOUND, "uid %u is gone",
		    uid);
	*data_r = (const uint8_t *)b->text[i];
	*len_r = strlen(b->text[i]);
	return 0;
}

static void
tbox_init(struct tbox *b, const char *const *hdrs, size_t n,
    struct imap_msg_info *msgs, struct imap_search_env *env)
{
	b->hdrs = hdrs;
	b->n = n;
	b->text = mail_xcalloc(n, sizeof(*b->text));
	b->calls = mail_xcalloc(n, sizeof(*b->calls));
	b->fail = false;
	for (size_t i = 0; i < n; i++) {
		b->text[i] = mail_xasprintf("%s\r\n\r\nbody\r\n", hdrs[i]);
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].seq = (uint32_t)(i + 1);
		msgs[i].uid = (uint32_t)(10 * (i + 1));
		msgs[i].idate = 1000000;
		msgs[i].size = strlen(b->text[i]);
	}
	memset(env, 0, sizeof(*env));
	env->max_seq = (uint32_t)n;
	env->max_uid = (uint32_t)(10 * n);
	env->body = tbox_body;
	env->body_ctx = b;
}

static void
tbox_free(struct tbox *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->text[i]);
	free(b->text);
	free(b->calls);
}

/* Parse "REVERSE DATE SUBJECT" into crit; returns the count. */
static size_t
parse_crit(const char *text, struct imap_sort_criterion *crit)
{
	static const struct {
		const char *name;
		enum imap_sort_key key;
	} names[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
		{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
		{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO },
		{ "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
		{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
	};
	char *copy = mail_xstrdup(text), *save = NULL, *tok;
	size_t n = 0;
	bool rev = false;

	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		size_t k;

		if (strcmp(tok, "REVERSE") == 0) {
			rev = true;
			continue;
		}
		for (k = 0; k < N_ELEMENTS(names); k++) {
			if (strcmp(tok, names[k].name) == 0)
				break;
		}
		ck_assert_msg(k < N_ELEMENTS(names), "bad key %s", tok);
		crit[n].key = names[k].key;
		crit[n++].reverse = rev;
		rev = false;
	}
	free(copy);
	return n;
}

/* Sort msgs by text; return the sequence numbers as "3 1 2". */
static char *
sort_seqs(const char *text, const struct imap_msg_info *msgs, size_t n,
    const struct imap_search_env *env)
{
	struct imap_sort_criterion crit[16];
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;
	size_t n_crit = parse_crit(text, crit);
	size_t *order = mail_xcalloc(n + 1, sizeof(*order));

	mail_err_clear(&err);
	ck_assert_msg(imap_sort(crit, n_crit, msgs, n, env, order, &err) == 0,
	    "%s: %s", text, err.msg);
	for (size_t i = 0; i < n; i++)
		mail_buf_printf(&out, "%s%u", i > 0 ? " " : "",
		    msgs[order[i]].seq);
	free(order);
	return mail_buf_steal_str(&out);
}

#define CHECK_SORT(text, expect) do {					\
	char *got_ = sort_seqs(text, msgs, N_ELEMENTS(hdrs), &env);	\
	ck_assert_msg(strcmp(got_, expect) == 0, "SORT (%s): %s, not %s", \
	    text, got_, expect);					\
	free(got_);							\
} while (0)

START_TEST(test_sort_dates_sizes)
{
	static const char *const hdrs[] = {
		/* 1 */ "Date: Tue, 2 Jan 2024 10:00:00 +0000",
		/* 2 */ "Date: Tue, 2 Jan 2024 11:00:00 +0200",	/* 09:00Z */
		/* 3 */ "Subject: no date",
		/* 4 */ "Date: 2 Jan 2024 10:00 GMT",		/* = 1 */
		/* 5 */ "Date: not a date at all",
		/* 6 */ "Date: Mon, 1 Jan 2024 23:00:00 -0500",	/* 04:00Z */
	};
	struct imap_msg_info msgs[N_ELEMENTS(hdrs)];
	struct imap_search_env env;
	struct tbox b;

	tbox_init(&b, hdrs, N_ELEMENTS(hdrs), msgs, &env);
	/* internal dates: 3 and 5 fall back to them */
	msgs[0].idate = 500;
	msgs[1].idate = 300;
	msgs[2].idate = 1704190000;	/* 2 Jan 2024 10:06:40Z */
	msgs[3].idate = 300;
	msgs[4].idate = 0;		/* the epoch */
	msgs[5].idate = 500;
	CHECK_SORT("ARRIVAL", "5 2 4 1 6 3");
	CHECK_SORT("REVERSE ARRIVAL", "3 1 6 2 4 5");
	CHECK_SORT("DATE", "5 6 2 1 4 3");
	/* equal dates stay in sequence order, reversed or not */
	CHECK_SORT("REVERSE DATE", "3 1 4 2 6 5");
	/* no header was read for ARRIVAL and SIZE */
	for (size_t i = 0; i < b.n; i++)
		ck_assert_uint_eq(b.calls[i], 2);
	msgs[0].size = 10;
	msgs[1].size = 30;
	msgs[2].size = 20;
	msgs[3].size = 10;
	msgs[4].size = 5;
	msgs[5].size = 30;
	CHECK_SORT("SIZE", "5 1 4 3 2 6");
	CHECK_SORT("REVERSE SIZE", "2 6 3 1 4 5");
	CHECK_SORT("SIZE REVERSE ARRIVAL", "5 1 4 3 6 2");
	CHECK_SORT("REVERSE SIZE DATE", "6 2 3 1 4 5");
	for (size_t i = 0; i < b.n; i++)
		ck_assert_uint_eq(b.calls[i], 3);
	tbox_free(&b);
}
END_TEST

START_TEST(test_sort_subject)
{
	static const char *const hdrs[] = {
		/* 1 */ "Subject: Re: beta",
		/* 2 */ "Subject: ALPHA",
		/* 3 */ "Subject: [list] Fwd: alpha (fwd)",
		/* 4 */ "From: no subject",
		/* 5 */ "Subject: Re:",
		/* 6 */ "Subject: _under",
		/* 7 */ "Subject: =?UTF-8?Q?=C3=A9t=C3=A9?=",
		/* 8 */ "Subject: zeta",
		/* 9 */ "Subject: Ete",
		/* 10 */ "Subject: \xce\xb1lpha",
	};
	struct imap_msg_info msgs[N_ELEMENTS(hdrs)];
	struct imap_search_env env;
	struct tbox b;

	tbox_init(&b, hdrs, N_ELEMENTS(hdrs), msgs, &env);
	/* "" (4, 5) first; case-insensitive; "_" between "Z" and "a" as in
	 * i;ascii-casemap (upper case): after every letter here; "été"
	 * with "Ete" (decomposed, then by the accent); Greek after ASCII */
	CHECK_SORT("SUBJECT", "4 5 2 3 1 9 7 8 6 10");
	CHECK_SORT("REVERSE SUBJECT", "10 6 8 7 9 1 2 3 4 5");
	/* equal subjects, then arrival */
	msgs[1].idate = 2000000;
	CHECK_SORT("SUBJECT ARRIVAL", "4 5 3 2 1 9 7 8 6 10");
	CHECK_SORT("SUBJECT REVERSE ARRIVAL", "4 5 2 3 1 9 7 8 6 10");
	/* one fetch per message and request, whatever the criteria; 4's
	 * "From: no subject" is a mailbox without domain, 5 has none */
	CHECK_SORT("SUBJECT DATE FROM TO", "5 4 3 2 1 9 7 8 6 10");
	for (size_t i = 0; i < b.n; i++)
		ck_assert_uint_eq(b.calls[i], 5);
	tbox_free(&b);
}
END_TEST

START_TEST(test_sort_addresses)
{
	static const char *const hdrs[] = {
		/* 1 */ "From: Zed Zulu <alice@example.com>\r\nTo: b@x",
		/* 2 */ "From: \"Bob\" <BOB@example.com>\r\nTo: a@x, z@x",
		/* 3 */ "From: carol@example.com (Aaron Comment)",
		/* 4 */ "Subject: no from",
		/* 5 */ "From: undisclosed-recipients:;\r\nTo: c@x",
		/* 6 */ "From: =?UTF-8?Q?=C3=89mile?= <emile@example.org>",
		/* 7 */ "From: <_sys@example.com>\r\nTo: \"\" <d@x>",
		/* 8 */ "From: \"quoted box\"@example.com\r\nTo: ,, e@x",
		/* 9 */ "From: Dave <dave@example.com>, Al <al@example.com>",
		/* 10 */ "From:",
	};
	struct imap_msg_info msgs[N_ELEMENTS(hdrs)];
	struct imap_search_env env;
	struct tbox b;

	tbox_init(&b, hdrs, N_ELEMENTS(hdrs), msgs, &env);
	/* FROM: the first address's mailbox: alice, BOB, carol, "",
	 * undisclosed-recipients (the group), emile, _sys, quoted box,
	 * dave, "" */
	CHECK_SORT("FROM", "4 10 1 2 3 9 6 8 5 7");
	CHECK_SORT("REVERSE FROM", "7 5 8 6 9 3 2 1 4 10");
	/* TO: only the first address counts; empty elements skipped */
	CHECK_SORT("TO", "3 4 6 9 10 2 1 5 7 8");
	tbox_free(&b);
}
END_TEST

START_TEST(test_sort_display)
{
	static const char *const hdrs[] = {
		/* 1 */ "From: Zed Zulu <alice@example.com>",
		/* 2 */ "From: \"Bob\" <bob@example.com>",
		/* 3 */ "From: carol@example.com (Aaron Comment)",
		/* 4 */ "Subject: no from",
		/* 5 */ "From: =?UTF-8?Q?=C3=89mile?= <emile@example.org>",
		/* 6 */ "From: <dave@example.com>",
		/* 7 */ "From: \"  \" <ed@example.com>",
		/* 8 */ "From: Team: x@y, z@y;",
		/* 9 */ "From: \"Last, First\" <z@example.com>",
	};
	struct imap_msg_info msgs[N_ELEMENTS(hdrs)];
	struct imap_search_env env;
	struct tbox b;

	tbox_init(&b, hdrs, N_ELEMENTS(hdrs), msgs, &env);
	/* RFC 5957: the display name, else mailbox@host: Zed Zulu, Bob,
	 * Aaron Comment, "", Emile ("E" + accent), dave@example.com, "  "
	 * (a name, if blank: before letters), Team (a group), Last, First.
	 * Dovecot 2.3 gives the same orders. */
	CHECK_SORT("DISPLAYFROM", "4 7 3 2 6 5 9 8 1");
	CHECK_SORT("REVERSE DISPLAYFROM", "1 8 9 5 6 2 3 7 4");
	CHECK_SORT("DISPLAYTO", "1 2 3 4 5 6 7 8 9");
	tbox_free(&b);
}
END_TEST

/* Messages given out of sequence order still tie by sequence number,
 * and order_r indexes the given array. */
START_TEST(test_sort_input_order)
{
	static const char *const hdrs[] = {
		"Subject: b", "Subject: a", "Subject: b", "Subject: a",
	};
	struct imap_msg_info msgs[N_ELEMENTS(hdrs)], tmp;
	struct imap_sort_criterion crit = { IMAP_SORT_SUBJECT, false };
	struct imap_search_env env;
	struct mail_err err;
	struct tbox b;
	size_t order[4];

	tbox_init(&b, hdrs, N_ELEMENTS(hdrs), msgs, &env);
	tmp = msgs[0];
	msgs[0] = msgs[3];
	msgs[3] = tmp;		/* seqs 4 2 3 1 */
	ck_assert_int_eq(imap_sort(&crit, 1, msgs, 4, &env, order, &err), 0);
	/* a: seqs 2 (index 1) and 4 (index 0); b: 1 (index 3), 3 */
	ck_assert_uint_eq(order[0], 1);
	ck_assert_uint_eq(order[1], 0);
	ck_assert_uint_eq(order[2], 3);
	ck_assert_uint_eq(order[3], 2);
	/* nothing to sort */
	ck_assert_int_eq(imap_sort(&crit, 1, msgs, 0, &env, order, &err), 0);
	tbox_free(&b);
}
END_TEST

START_TEST(test_sort_errors)
{
	static const char *const hdrs[] = { "Subject: a", "Subject: b" };
	struct imap_msg_info msgs[2];
	struct imap_sort_criterion crit[2] = {
		{ IMAP_SORT_SIZE, false }, { IMAP_SORT_FROM, true },
	};
	struct imap_search_env env;
	struct mail_err err;
	struct tbox b;
	size_t order[2];

	tbox_init(&b, hdrs, 2, msgs, &env);
	b.fail = true;
	ck_assert_int_eq(imap_sort(crit, 2, msgs, 2, &env, order, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_str_eq(err.msg, "uid 10 is gone");
	/* SIZE alone needs no message */
	ck_assert_int_eq(imap_sort(crit, 1, msgs, 2, &env, order, &err), 0);
	env.body = NULL;
	ck_assert_int_eq(imap_sort(crit, 1, msgs, 2, &env, order, &err), 0);
	ck_assert_int_eq(imap_sort(crit, 2, msgs, 2, &env, order, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_INTERNAL);
	/* a criterion outside the enum is the caller's error, reported */
	crit[1].key = (enum imap_sort_key)99;
	ck_assert_int_eq(imap_sort(crit, 2, msgs, 2, &env, order, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_str_eq(err.msg, "unknown sort criterion 99");
	tbox_free(&b);
}
END_TEST

/* Hostile headers: every key still sorts, deterministically. */
START_TEST(test_sort_malformed)
{
	static const char *const hdrs[] = {
		"From: \"unterminated <a@b\r\nTo: ((((\r\nCc: <<<>>>,,,@@@",
		"From: (a\\\r\nSubject: =?=?=?utf-8?q?=?= [[[[ ]]]] (fwd",
		"Date: 99 Foo 2020\r\nFrom: @@@@\r\nTo: :;:;:;",
		"Subject: \xff\xfe\x80 Re: \xc3",
		"From: a@b@c <d@e@f>\r\nTo: <@route,@r2:x@y>",
		"From: \"\\\\\\\"\" <\"x\\\"y\"@z>",
		"\x80\x81: \x82\r\nSubject",
	};
	static const char *const crits[] = {
		"SUBJECT", "FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO",
		"DATE", "REVERSE SUBJECT REVERSE FROM",
	};
	struct imap_msg_info msgs[N_ELEMENTS(hdrs)];
	struct imap_search_env env;
	struct tbox b;

	tbox_init(&b, hdrs, N_ELEMENTS(hdrs), msgs, &env);
	for (size_t i = 0; i < N_ELEMENTS(crits); i++) {
		char *a = sort_seqs(crits[i], msgs, N_ELEMENTS(hdrs), &env);
		char *c = sort_seqs(crits[i], msgs, N_ELEMENTS(hdrs), &env);

		ck_assert_str_eq(a, c);
		free(a);
		free(c);
	}
	tbox_free(&b);
}
END_TEST

Suite *test_imap_sort_suite(void);

Suite *
test_imap_sort_suite(void)
{
	Suite *s = suite_create("imap_sort");
	TCase *tc = tcase_create("sort");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_base_subject);
	tcase_add_test(tc, test_sort_dates_sizes);
	tcase_add_test(tc, test_sort_subject);
	tcase_add_test(tc, test_sort_addresses);
	tcase_add_test(tc, test_sort_display);
	tcase_add_test(tc, test_sort_input_order);
	tcase_add_test(tc, test_sort_errors);
	tcase_add_test(tc, test_sort_malformed);
	suite_add_tcase(s, tc);
	return s;
}
