/*
 * test_imap_thread.c: THREAD=ORDEREDSUBJECT, REFERENCES and REFS. The
 * small mailboxes below exercise each step of RFC 5256's algorithms
 * (references and In-Reply-To, dummies and their pruning, loops, the
 * link a message's own References replace, duplicate Message-IDs,
 * grouping by subject with dummies and replies, sorting by sent date);
 * their expected results were worked out by hand from the RFC and agree
 * with Dovecot 2.3's. Then random mailboxes must give well-formed
 * responses (RFC 5256 5 grammar) holding every message exactly once, and
 * long chains and hostile References must neither recurse nor take long.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap_thread.h"
#include "testlib.h"

/* One message of a test mailbox; NULL fields are left out. */
struct tmsg {
	const char *id;		/* Message-ID value */
	const char *refs;	/* References value */
	const char *irt;	/* In-Reply-To value */
	const char *subject;
	int	 day;		/* Date: 1 Jan 2020 + day days, 10:00 */
};

struct tbox {
	char	**text;
	size_t	 n;
	unsigned calls;
};

static int
tbox_body(void *ctx, uint32_t uid, const uint8_t **data_r, size_t *len_r,
    struct mail_err *err)
{
	struct tbox *b = ctx;

	(void)err;
	ck_assert(uid >= 100 && uid - 100 < b->n);
	b->calls++;
	*data_r = (const uint8_t *)b->text[uid - 100];
	*len_r = strlen(b->text[uid - 100]);
	return 0;
}

/* Message i gets sequence number i + 1 and UID i + 100. */
static void
tbox_init(struct tbox *b, const struct tmsg *m, size_t n,
    struct imap_msg_info *info, struct imap_search_env *env)
{
	struct mail_buf t = MAIL_BUF_INIT;

	b->text = mail_xcalloc(n + 1, sizeof(*b->text));
	b->n = n;
	b->calls = 0;
	for (size_t i = 0; i < n; i++) {
		mail_buf_reset(&t);
		if (m[i].id != NULL)
			mail_buf_printf(&t, "Message-ID: %s\r\n", m[i].id);
		if (m[i].refs != NULL)
			mail_buf_printf(&t, "References: %s\r\n", m[i].refs);
		if (m[i].irt != NULL)
			mail_buf_printf(&t, "In-Reply-To: %s\r\n", m[i].irt);
		if (m[i].subject != NULL)
			mail_buf_printf(&t, "Subject: %s\r\n", m[i].subject);
		if (m[i].day >= 0)
			mail_buf_printf(&t, "Date: %d %s 2020 10:00:00 +0000"
			    "\r\n", m[i].day % 28 + 1,
			    m[i].day < 28 ? "Jan" : "Feb");
		mail_buf_append_str(&t, "\r\nbody\r\n");
		b->text[i] = mail_xstrdup((const char *)t.data);
		memset(&info[i], 0, sizeof(info[i]));
		info[i].seq = (uint32_t)(i + 1);
		info[i].uid = (uint32_t)(i + 100);
		info[i].idate = 1600000000 + (int64_t)i;
	}
	mail_buf_free(&t);
	memset(env, 0, sizeof(*env));
	env->max_seq = (uint32_t)n;
	env->max_uid = (uint32_t)(n + 99);
	env->body = tbox_body;
	env->body_ctx = b;
}

static void
tbox_free(struct tbox *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->text[i]);
	free(b->text);
}

static char *
run_thread(enum imap_thread_alg alg, const struct tmsg *m, size_t n,
    bool use_uid)
{
	struct imap_msg_info *info = mail_xcalloc(n + 1, sizeof(*info));
	struct mail_buf out = MAIL_BUF_INIT;
	struct imap_search_env env;
	struct mail_err err;
	struct tbox b;

	tbox_init(&b, m, n, info, &env);
	mail_err_clear(&err);
	ck_assert_msg(imap_thread(alg, info, n, &env, use_uid, &out,
	    &err) == 0, "%s", err.msg);
	/* each message read once */
	ck_assert_uint_eq(b.calls, n);
	tbox_free(&b);
	free(info);
	mail_buf_append(&out, "", 0);
	return mail_buf_steal_str(&out);
}

#define CHECK_THREAD(alg, msgs, expect) do {				\
	char *got_ = run_thread(alg, msgs, N_ELEMENTS(msgs), false);	\
	ck_assert_msg(strcmp(got_, expect) == 0, "%s: %s, not %s",	\
	    #alg, got_, expect);					\
	free(got_);							\
} while (0)

#define OS	IMAP_THREAD_ORDEREDSUBJECT
#define REF	IMAP_THREAD_REFERENCES
#define REFS	IMAP_THREAD_REFS

/* A reply tree: 1 has replies 2 and 4, 2 has reply 3. */
START_TEST(test_basic)
{
	static const struct tmsg m[] = {
		{ "<a@x>", NULL, NULL, "hello", 0 },
		{ "<b@x>", "<a@x>", NULL, "Re: hello", 1 },
		{ "<c@x>", "<a@x> <b@x>", NULL, "Re: hello", 2 },
		{ "<d@x>", "<a@x>", NULL, "RE: Hello", 3 },
		{ "<e@x>", NULL, NULL, "other", 4 },
	};
	char *s;

	CHECK_THREAD(REF, m, "(1 (2 3)(4))(5)");
	CHECK_THREAD(REFS, m, "(1 (2 3)(4))(5)");
	/* one base subject: the first message is the parent of all */
	CHECK_THREAD(OS, m, "(1 (2)(3)(4))(5)");
	s = run_thread(REF, m, N_ELEMENTS(m), true);
	ck_assert_str_eq(s, "(100 (101 102)(103))(104)");
	free(s);
	s = run_thread(REF, m, 0, false);
	ck_assert_str_eq(s, "");
	free(s);
	{
		struct mail_buf out = MAIL_BUF_INIT;
		struct mail_err err;

		ck_assert_int_eq(imap_thread((enum imap_thread_alg)7, NULL, 0,
		    NULL, false, &out, &err), -1);
		ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
		ck_assert_uint_eq(out.len, 0);
	}
}
END_TEST

/* Missing messages: a dummy with two children stays at the top, one with
 * one child gives way to it, a dummy below a message always does. */
START_TEST(test_dummies)
{
	static const struct tmsg m[] = {
		{ "<x1@x>", "<missing1@x>", NULL, "a", 5 },
		{ "<x2@x>", "<missing1@x>", NULL, "b", 1 },
		{ "<x3@x>", "<missing2@x>", NULL, "c", 3 },
		{ "<x4@x>", "<x3@x> <missing3@x>", NULL, "d", 2 },
	};

	/* the dummy sorts by its first child (2, day 1) */
	CHECK_THREAD(REF, m, "((2)(1))(3 4)");
	CHECK_THREAD(OS, m, "(2)(4)(3)(1)");
	/* REFS: by the newest message: 3 4 (day 3), then the dummy's
	 * thread (day 5) */
	CHECK_THREAD(REFS, m, "(3 4)((2)(1))");
}
END_TEST

/* RFC 5256 step 5: threads with one base subject merge. */
START_TEST(test_subjects)
{
	static const struct tmsg m[] = {
		{ "<s1@x>", NULL, NULL, "topic", 0 },
		{ "<s2@x>", NULL, NULL, "Re: topic", 1 },
		{ "<s3@x>", NULL, NULL, "topic", 2 },
		{ "<s4@x>", NULL, NULL, "Re: other", 3 },
		{ "<s5@x>", NULL, NULL, "Re: other", 4 },
		{ "<s6@x>", NULL, NULL, "", 5 },
		{ "<s7@x>", NULL, NULL, NULL, 6 },
		{ "<s8@x>", "<gone@x>", NULL, "x", 7 },
		{ "<s9@x>", "<gone@x>", NULL, "Re: x", 8 },
		{ "<s10@x>", NULL, NULL, "[Fwd: x]", 9 },
	};

	/*
	 * topic: 2 is a reply, 1 not: 2 under 1; 3 is no reply either: a
	 * new dummy holds 1 and 3. other: both replies: a dummy. Empty
	 * subjects never merge. x: the dummy of 8 and 9 takes 10.
	 */
	CHECK_THREAD(REF, m, "((1 2)(3))((4)(5))(6)(7)((8)(9)(10))");
	CHECK_THREAD(OS, m, "(1 (2)(3))(4 5)(6 7)(8 (9)(10))");
	CHECK_THREAD(REFS, m, "(1)(2)(3)(4)(5)(6)(7)((8)(9))(10)");
}
END_TEST

/* 5.B: a dummy, then a non-reply, becomes the subject table's message. */
START_TEST(test_subject_table)
{
	static const struct tmsg m[] = {
		{ "<t1@x>", NULL, NULL, "Re: same", 0 },
		{ "<t2@x>", NULL, NULL, "same", 1 },
		{ "<t3@x>", NULL, NULL, "Re: same", 2 },
		{ "<t4@x>", "<t9@x>", NULL, "Fwd: same", 3 },
		{ "<t5@x>", "<t9@x>", NULL, "same", 4 },
		{ "<t6@x>", NULL, NULL, "Re: other (fwd)", 5 },
		{ "<t7@x>", NULL, NULL, "other", 6 },
	};

	/*
	 * same: the table takes 1, then 2 (1 is a reply, 2 not), then the
	 * dummy of 4 and 5; 1, 2 and 3 join the dummy as its children.
	 * other: 6 is a reply, 7 is not: the table takes 7 and 6 becomes
	 * its child.
	 */
	CHECK_THREAD(REF, m, "((1)(2)(3)(4)(5))(7 6)");
	CHECK_THREAD(OS, m, "(1 (2)(3)(4)(5))(6 7)");
	CHECK_THREAD(REFS, m, "(1)(2)(3)((4)(5))(6)(7)");
}
END_TEST

/* Step 1: loops are refused, a message's own References replace a link
 * an earlier message made for it, a duplicate Message-ID goes to the
 * first message only, In-Reply-To counts only without References. */
START_TEST(test_links)
{
	static const struct tmsg loop[] = {
		{ "<A@x>", "<B@x>", NULL, "l1", 0 },
		{ "<B@x>", "<A@x>", NULL, "l2", 1 },
		{ "<C@x>", "<C@x>", NULL, "l3", 2 },	/* itself */
	};
	static const struct tmsg relink[] = {
		{ "<m1@x>", NULL, NULL, "a", 0 },
		{ "<m3@x>", "<m1@x> <m2@x>", NULL, "b", 2 },
		{ "<m2@x>", "<mX@x>", NULL, "c", 1 },
	};
	static const struct tmsg dup[] = {
		{ "<dup@x>", NULL, NULL, "a", 0 },
		{ "<dup@x>", NULL, NULL, "b", 1 },
		{ "<x@x>", "<dup@x>", NULL, "c", 2 },
	};
	static const struct tmsg irt[] = {
		{ "<g1@x>", NULL, NULL, "a", 0 },
		{ "<g2@x>", NULL, "<bogus> Your message of <g1@x>", "b", 1 },
		{ "<g3@x>", "<g9@x>", "<g1@x>", "c", 2 },
		{ "<g4@x>", "no ids here", "<g1@x>", "d", 3 },
		{ "<g5@x>", "<g1@x\r\n >", NULL, "e", 4 },
		{ NULL, "<g1@x>", NULL, "f", 5 },
		{ "<bad id>", "<g1@x>", NULL, "g", 6 },
		{ "<h@x>", "<bad id>", NULL, "h", 7 },
	};

	/* 1 under B (2); then B under A would close a loop */
	CHECK_THREAD(REF, loop, "(2 1)(3)");
	CHECK_THREAD(REFS, loop, "(2 1)(3)");
	CHECK_THREAD(OS, loop, "(1)(2)(3)");
	/* 3 (m2) was put under m1 by 2's References, then its own put it
	 * under mX, a dummy that gives way */
	CHECK_THREAD(REF, relink, "(1)(3 2)");
	CHECK_THREAD(REFS, relink, "(1)(3 2)");
	CHECK_THREAD(REF, dup, "(1 3)(2)");
	CHECK_THREAD(REFS, dup, "(2)(1 3)");
	/* 2's first valid ID is g1; 3 has References (to a missing g9);
	 * 4's References hold none, so In-Reply-To; folding inside an ID
	 * is dropped; no or an invalid Message-ID still threads */
	CHECK_THREAD(REF, irt, "(1 (2)(4)(5)(6)(7))(3)(8)");
	CHECK_THREAD(REFS, irt, "(3)(1 (2)(4)(5)(6)(7))(8)");
}
END_TEST

/* Siblings sort by sent date, equal dates by sequence number; no Date:
 * means the internal date. */
START_TEST(test_dates)
{
	static const struct tmsg m[] = {
		{ "<p@x>", NULL, NULL, "p", 10 },
		{ "<q@x>", "<p@x>", NULL, "q", 12 },
		{ "<r@x>", "<p@x>", NULL, "r", 11 },
		{ "<s@x>", "<p@x>", NULL, "s", 12 },
		{ "<t@x>", NULL, NULL, "t", 3 },
		{ "<u@x>", NULL, NULL, "u", -1 },	/* 2020-09-13 */
	};

	CHECK_THREAD(REF, m, "(5)(1 (3)(2)(4))(6)");
	CHECK_THREAD(OS, m, "(5)(1)(3)(2)(4)(6)");
	CHECK_THREAD(REFS, m, "(5)(1 (3)(2)(4))(6)");
}
END_TEST

/* REFS: threads by their newest message. */
START_TEST(test_refs_order)
{
	static const struct tmsg m[] = {
		{ "<r1@x>", NULL, NULL, "a", 0 },
		{ "<r2@x>", NULL, NULL, "b", 1 },
		{ "<r3@x>", "<r1@x>", NULL, "Re: a", 5 },
		{ "<r4@x>", "<r2@x>", NULL, "Re: b", 3 },
		{ "<r5@x>", NULL, NULL, "a", 4 },
	};

	CHECK_THREAD(REFS, m, "(2 4)(5)(1 3)");
	CHECK_THREAD(REF, m, "((1 3)(5))(2 4)");
	CHECK_THREAD(OS, m, "(1 (5)(3))(2 4)");
}
END_TEST

/* ---- the RFC 5256 5 grammar, and every message once ---- */

struct tparse {
	const char *p;
	unsigned *seen;
	size_t	 n;
	unsigned depth;
};

static bool tparse_list(struct tparse *t);

static bool
tparse_number(struct tparse *t)
{
	unsigned long v;
	char *end;

	if (*t->p < '1' || *t->p > '9')
		return false;
	v = strtoul(t->p, &end, 10);
	t->p = end;
	if (v == 0 || v > t->n)
		return false;
	t->seen[v - 1]++;
	return true;
}

/* thread-nested = 2*thread-list */
static bool
tparse_nested(struct tparse *t)
{
	unsigned k = 0;

	while (*t->p == '(') {
		if (!tparse_list(t))
			return false;
		k++;
	}
	return k >= 2;
}

/* thread-list = "(" (thread-members / thread-nested) ")" */
static bool
tparse_list(struct tparse *t)
{
	if (*t->p != '(' || ++t->depth > 2000)
		return false;
	t->p++;
	if (*t->p == '(') {
		if (!tparse_nested(t))
			return false;
	} else {
		/* thread-members = nz-number *(SP nz-number) [SP
		 * thread-nested] */
		if (!tparse_number(t))
			return false;
		while (*t->p == ' ') {
			t->p++;
			if (*t->p == '(') {
				if (!tparse_nested(t))
					return false;
				break;
			}
			if (!tparse_number(t))
				return false;
		}
	}
	t->depth--;
	if (*t->p != ')')
		return false;
	t->p++;
	return true;
}

static void
check_wellformed(const char *s, size_t n)
{
	struct tparse t = { s, mail_xcalloc(n + 1, sizeof(unsigned)), n, 0 };

	while (*t.p != '\0')
		ck_assert_msg(tparse_list(&t), "bad at '%.40s' in %s", t.p, s);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(t.seen[i] == 1, "message %zu seen %u times: %s",
		    i + 1, t.seen[i], s);
	free(t.seen);
}

/* Random mailboxes with every kind of reference trouble. */
START_TEST(test_random)
{
	static const char *const subj[] = {
		"a", "Re: a", "b", "Fwd: b", "", "[l] a", "a (fwd)", NULL,
	};
	unsigned seed = 12345 + (unsigned)_i;
	size_t n = 1 + (size_t)(rand_r(&seed) % 60);
	struct tmsg *m = mail_xcalloc(n, sizeof(*m));
	char **strs = mail_xcalloc(n * 3, sizeof(*strs));

	for (size_t i = 0; i < n; i++) {
		struct mail_buf refs = MAIL_BUF_INIT;
		unsigned k = (unsigned)rand_r(&seed) % 5;

		strs[3 * i] = mail_xasprintf("<%u@x>", (unsigned)rand_r(&seed) %
		    (unsigned)(n + 5));
		for (unsigned j = 0; j < k; j++)
			mail_buf_printf(&refs, "<%u@x> ",
			    (unsigned)rand_r(&seed) % (unsigned)(n + 5));
		strs[3 * i + 1] = mail_buf_steal_str(&refs);
		strs[3 * i + 2] = mail_xasprintf("<%u@x>",
		    (unsigned)rand_r(&seed) % (unsigned)(n + 5));
		m[i].id = rand_r(&seed) % 8 != 0 ? strs[3 * i] : NULL;
		m[i].refs = rand_r(&seed) % 3 != 0 ? strs[3 * i + 1] : NULL;
		m[i].irt = rand_r(&seed) % 3 == 0 ? strs[3 * i + 2] : NULL;
		m[i].subject = subj[rand_r(&seed) % N_ELEMENTS(subj)];
		m[i].day = rand_r(&seed) % 10 - 1;
	}
	for (int alg = 0; alg < 3; alg++) {
		char *a = run_thread((enum imap_thread_alg)alg, m, n, false);
		char *b = run_thread((enum imap_thread_alg)alg, m, n, false);

		check_wellformed(a, n);
		ck_assert_str_eq(a, b);
		free(a);
		free(b);
	}
	for (size_t i = 0; i < 3 * n; i++)
		free(strs[i]);
	free(strs);
	free(m);
}
END_TEST

static double
elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A 30,000-message reply chain: output "(1 2 3 ... 30000)" without
 * recursion, in well under a second. */
START_TEST(test_long_chain)
{
	size_t n = 30000;
	struct tmsg *m = mail_xcalloc(n, sizeof(*m));
	char **ids = mail_xcalloc(n, sizeof(*ids));
	struct mail_buf want = MAIL_BUF_INIT;
	struct timespec t0;
	char *s;

	for (size_t i = 0; i < n; i++) {
		ids[i] = mail_xasprintf("<c%zu@x>", i);
		m[i].id = ids[i];
		m[i].refs = i > 0 ? ids[i - 1] : NULL;
		m[i].subject = "chain";
		m[i].day = 5;
		mail_buf_printf(&want, "%s%zu", i == 0 ? "(" : " ", i + 1);
	}
	mail_buf_append_str(&want, ")");
	for (int alg = REF; alg <= REFS; alg++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		s = run_thread((enum imap_thread_alg)alg, m, n, false);
		ck_assert_msg(elapsed(&t0) < 5.0, "took %.2f s", elapsed(&t0));
		ck_assert_str_eq(s, (const char *)want.data);
		free(s);
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	free(m);
	mail_buf_free(&want);
}
END_TEST

/*
 * One message whose References first build a chain of 60,000 IDs under R
 * and then name a deep ID and R alternately: each such pair asks whether
 * the deep ID descends from R, which walking up would answer in 60,000
 * steps each time. The link-cut tree answers in O(log n).
 */
START_TEST(test_hostile_references)
{
	struct mail_buf refs = MAIL_BUF_INIT;
	struct tmsg m[2];
	struct timespec t0;
	size_t deep = 60000;
	char *s;

	mail_buf_append_str(&refs, "<R@x>");
	for (size_t i = 0; i < deep; i++)
		mail_buf_printf(&refs, " <%zu@x>", i);
	for (size_t i = 0; i < 30000; i++)
		mail_buf_printf(&refs, " <%zu@x> <R@x>", deep - 1 - i % 100);
	memset(m, 0, sizeof(m));
	m[0].id = "<first@x>";
	m[0].refs = (const char *)refs.data;
	m[0].subject = "deep";
	m[0].day = 1;
	m[1].id = "<R@x>";
	m[1].subject = "root";
	m[1].day = 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s = run_thread(REF, m, 2, false);
	ck_assert_msg(elapsed(&t0) < 5.0, "took %.2f s", elapsed(&t0));
	/* R is message 2; the chain of dummies below it gives way to 1 */
	ck_assert_str_eq(s, "(2 1)");
	free(s);
	mail_buf_free(&refs);
}
END_TEST

Suite *test_imap_thread_suite(void);

Suite *
test_imap_thread_suite(void)
{
	Suite *s = suite_create("imap_thread");
	TCase *tc;

	tc = tcase_create("rfc5256");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_dummies);
	tcase_add_test(tc, test_subjects);
	tcase_add_test(tc, test_subject_table);
	tcase_add_test(tc, test_links);
	tcase_add_test(tc, test_dates);
	tcase_add_test(tc, test_refs_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("robust");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_random, 0, 200);
	tcase_add_test(tc, test_long_chain);
	tcase_add_test(tc, test_hostile_references);
	suite_add_tcase(s, tc);
	return s;
}
