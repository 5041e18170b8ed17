/*
 * test_mail_conf.c: the configuration file syntax. Valid files (sections,
 * quoted values, comments, CRLF, no final newline), every error naming
 * file:line, -o overrides, loading files; every prefix and every one-byte
 * change of a valid file parses or fails cleanly (run under ASan).
 */
#include <stdlib.h>

#include "mail_conf.h"
#include "testlib.h"
#include "testlib_store.h"

static const char good[] =
    "# dsyncd configuration\n"
    "\n"
    "node = alpha\n"
    "   spaced   =   trimmed value   \n"
    "quoted = \"  keep # this  \"\n"
    "empty =\n"
    "hash = a # a comment\n"
    "# listen = \"0.0.0.0:143\"\n"
    "crlf = yes\r\n"
    "dotted.key-name_2 = 1\n"
    "peer beta {\n"
    "\thost = beta.example.org   # where\n"
    "\tport = 22\n"
    "}\n"
    "peer gamma {\n"
    "  host = gamma\n"
    "}\n"
    "imap {\n"
    "  listen = \"[::]:143\" # both\n"
    "}\n"
    "other = beta\n"
    "last = no newline";

static struct mail_conf *
parse_ok(const char *text, size_t len)
{
	struct mail_conf *c = NULL;
	struct mail_err err;

	if (mail_conf_parse("test.conf", text, len, &c, &err) < 0)
		ck_abort_msg("parse: %s", err.msg);
	return c;
}

/* Parse must fail with MAIL_ERR_PARAM and a message starting with
 * "test.conf:LINE: " (line 0: "test.conf: " and no line) containing
 * what. */
static void
parse_fails(const char *text, unsigned line, const char *what)
{
	struct mail_conf *c = NULL;
	struct mail_err err;
	char prefix[64];

	mail_err_clear(&err);
	ck_assert_msg(mail_conf_parse("test.conf", text, strlen(text), &c,
	    &err) == -1, "accepted: %s", text);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "test.conf:%u: ", line);
	else
		snprintf(prefix, sizeof(prefix), "test.conf: ");
	ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0,
	    "'%s' does not start with '%s'", err.msg, prefix);
	ck_assert_msg(strstr(err.msg, what) != NULL, "'%s' lacks '%s'",
	    err.msg, what);
}

START_TEST(test_valid)
{
	struct mail_conf *c = parse_ok(good, sizeof(good) - 1);
	const struct mail_conf_section *s;

	ck_assert_str_eq(c->path, "test.conf");
	ck_assert_str_eq(mail_conf_get(c, NULL, "node"), "alpha");
	ck_assert_str_eq(mail_conf_get(c, NULL, "other"), "beta");
	ck_assert_str_eq(mail_conf_get(c, NULL, "spaced"), "trimmed value");
	ck_assert_str_eq(mail_conf_get(c, NULL, "quoted"), "  keep # this  ");
	ck_assert_str_eq(mail_conf_get(c, NULL, "empty"), "");
	ck_assert_str_eq(mail_conf_get(c, NULL, "hash"), "a");
	ck_assert_ptr_null(mail_conf_get(c, NULL, "listen"));
	ck_assert_ptr_null(mail_conf_get(c, NULL, "# listen"));
	ck_assert_str_eq(mail_conf_get(c, NULL, "crlf"), "yes");
	ck_assert_str_eq(mail_conf_get(c, NULL, "dotted.key-name_2"), "1");
	ck_assert_str_eq(mail_conf_get(c, NULL, "last"), "no newline");
	ck_assert_ptr_null(mail_conf_get(c, NULL, "host"));

	s = mail_conf_section(c, "peer", "beta");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->kind, "peer");
	ck_assert_str_eq(s->name, "beta");
	ck_assert_uint_eq(s->line, 11);
	ck_assert_str_eq(mail_conf_get(c, s, "host"), "beta.example.org");
	ck_assert_str_eq(mail_conf_get(c, s, "port"), "22");
	ck_assert_uint_eq(s->entries[1].line, 13);
	ck_assert(!s->entries[1].overridden);
	ck_assert_ptr_eq(mail_conf_section(c, "peer", NULL), s);
	s = mail_conf_section(c, "peer", "gamma");
	ck_assert_str_eq(mail_conf_get(c, s, "host"), "gamma");
	ck_assert_ptr_null(mail_conf_get(c, s, "port"));
	s = mail_conf_section(c, "imap", "");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(mail_conf_get(c, s, "listen"), "[::]:143");
	ck_assert_ptr_eq(mail_conf_section(c, "imap", NULL), s);
	ck_assert_ptr_null(mail_conf_section(c, "peer", "delta"));
	ck_assert_ptr_null(mail_conf_section(c, "imap", "x"));
	ck_assert_ptr_null(mail_conf_section(c, "", ""));
	ck_assert_uint_eq(c->n, 4);
	mail_conf_free(&c);
	ck_assert_ptr_null(c);
	mail_conf_free(&c);	/* NULL-safe */
}
END_TEST

START_TEST(test_empty_inputs)
{
	struct mail_conf *c = parse_ok("", 0);

	ck_assert_uint_eq(c->n, 1);
	ck_assert_ptr_null(mail_conf_get(c, NULL, "x"));
	mail_conf_free(&c);
	c = parse_ok("\n\n   \n# only\n\t\n", 15);
	ck_assert_uint_eq(c->sections[0].n, 0);
	mail_conf_free(&c);
	c = mail_conf_new();
	ck_assert_str_eq(c->path, "");
	ck_assert_ptr_null(mail_conf_get(c, NULL, "x"));
	mail_conf_free(&c);
}
END_TEST

START_TEST(test_errors)
{
	parse_fails("a = 1\njust words\n", 2, "expected 'key = value'");
	parse_fails("a = 1\n\n= 5\n", 3, "bad key");
	parse_fails("bad key = 1\n", 1, "bad key");
	parse_fails("k\"q = 1\n", 1, "bad key");
	parse_fails("}\n", 1, "without a section");
	parse_fails("x {\n}\n}\n", 3, "without a section");
	parse_fails("a = 1\npeer x {\nhost = h\n", 0, "line 2 is not closed");
	parse_fails("peer x {\nimap {\n}\n}\n", 2, "do not nest");
	parse_fails("peer x {\n}\npeer y {\n}\npeer x {\n}\n", 5,
	    "first at line 1");
	parse_fails("imap {\n}\nimap {\n}\n", 3,
	    "section 'imap' defined twice (first at line 1)");
	/* a key set twice names both lines, also in a section; the same
	 * key in different sections is fine */
	parse_fails("node = a\n\nnode = b\n", 3,
	    "'node' set twice (first at line 1)");
	parse_fails("peer x {\nurl = a\n url=b\n}\n", 3,
	    "'url' set twice (first at line 2)");
	{
		static const char three[] = "url = a\npeer x {\nurl = b\n}\n"
		    "peer y {\nurl = c\n}\n";
		struct mail_conf *c = parse_ok(three, sizeof(three) - 1);

		ck_assert_str_eq(mail_conf_get(c, NULL, "url"), "a");
		mail_conf_free(&c);
	}
	parse_fails("{\n}\n", 1, "bad section header");
	parse_fails("peer a b {\n}\n", 1, "bad section header");
	parse_fails("pe/er {\n}\n", 1, "bad section header");
	parse_fails("k = \"abc\n", 1, "unbalanced quotes");
	parse_fails("k = \"a\"b\"\n", 1, "unbalanced quotes");
	parse_fails("k = \"\n", 1, "unbalanced quotes");
	{
		static const char nul[] = "a = 1\nb = x\0y\n";
		struct mail_conf *c = NULL;
		struct mail_err err;

		ck_assert_int_eq(mail_conf_parse("test.conf", nul,
		    sizeof(nul) - 1, &c, &err), -1);
		ck_assert_str_eq(err.msg, "test.conf:2: NUL byte");
		/* in a comment too */
		ck_assert_int_eq(mail_conf_parse("test.conf", "# \0\n", 4, &c,
		    &err), -1);
		ck_assert_str_eq(err.msg, "test.conf:1: NUL byte");
	}
}
END_TEST

START_TEST(test_overrides)
{
	struct mail_conf *c = parse_ok(good, sizeof(good) - 1);
	const struct mail_conf_section *s;
	struct mail_err err;

	ck_assert_int_eq(mail_conf_override(c, "node=gamma", &err), 0);
	ck_assert_str_eq(mail_conf_get(c, NULL, "node"), "gamma");
	ck_assert_int_eq(mail_conf_override(c, "new= spaced ", &err), 0);
	ck_assert_str_eq(mail_conf_get(c, NULL, "new"), " spaced ");
	ck_assert_int_eq(mail_conf_override(c, "blank=", &err), 0);
	ck_assert_str_eq(mail_conf_get(c, NULL, "blank"), "");
	ck_assert_int_eq(mail_conf_override(c, "peer.beta.port=2222", &err),
	    0);
	s = mail_conf_section(c, "peer", "beta");
	ck_assert_str_eq(mail_conf_get(c, s, "port"), "2222");
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->entries[i].key, "port") == 0) {
			ck_assert(s->entries[i].overridden);
			ck_assert_uint_eq(s->entries[i].line, 0);
		}
	}
	ck_assert_int_eq(mail_conf_override(c, "imap.listen=*:1143", &err), 0);
	ck_assert_str_eq(mail_conf_get(c, mail_conf_section(c, "imap", ""),
	    "listen"), "*:1143");
	ck_assert_int_eq(mail_conf_override(c, "peer.gamma.a=b=c", &err), 0);
	ck_assert_str_eq(mail_conf_get(c, mail_conf_section(c, "peer",
	    "gamma"), "a"), "b=c");

	mail_err_clear(&err);
	ck_assert_int_eq(mail_conf_override(c, "noequals", &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_int_eq(mail_conf_override(c, "=v", &err), -1);
	ck_assert_int_eq(mail_conf_override(c, "peer.delta.host=x", &err), -1);
	ck_assert_int_eq(mail_conf_override(c, "nosuch.key=x", &err), -1);
	/* "peer.key" means the unnamed peer section, which is not there */
	ck_assert_int_eq(mail_conf_override(c, "peer.host=x", &err), -1);
	ck_assert_int_eq(mail_conf_override(c, "bad key=x", &err), -1);
	ck_assert_int_eq(mail_conf_override(c, "peer.beta.=x", &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	mail_conf_free(&c);

	/* overrides on an empty configuration */
	c = mail_conf_new();
	ck_assert_int_eq(mail_conf_override(c, "log=debug", &err), 0);
	ck_assert_str_eq(mail_conf_get(c, NULL, "log"), "debug");
	mail_conf_free(&c);
}
END_TEST

START_TEST(test_load)
{
	char *tmp = testlib_tmpdir();
	char *p = mail_xasprintf("%s/dsync.conf", tmp);
	struct mail_conf *c = NULL;
	struct mail_err err;
	char *big;

	ck_assert_int_eq(mail_conf_load(p, &c, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	testlib_write_file(p, good, sizeof(good) - 1);
	ck_assert_int_eq(mail_conf_load(p, &c, &err), 0);
	ck_assert_str_eq(c->path, p);
	ck_assert_str_eq(mail_conf_get(c, NULL, "node"), "alpha");
	mail_conf_free(&c);
	testlib_write_file(p, "", 0);
	ck_assert_int_eq(mail_conf_load(p, &c, &err), 0);
	mail_conf_free(&c);
	/* errors name the real path */
	testlib_write_file(p, "a = 1\noops\n", 11);
	ck_assert_int_eq(mail_conf_load(p, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "dsync.conf:2: "));
	/* over the size limit */
	big = mail_xmalloc(MAIL_CONF_MAX_SIZE + 2);
	memset(big, '#', MAIL_CONF_MAX_SIZE + 1);
	testlib_write_file(p, big, MAIL_CONF_MAX_SIZE + 1);
	ck_assert_int_eq(mail_conf_load(p, &c, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	free(big);
	free(p);
	testlib_rmdir_r(tmp);
	free(tmp);
}
END_TEST

/* mail_conf_quote: bare when the parser reads the value back as is,
 * quoted otherwise, NULL when nothing works; every result parses back. */
START_TEST(test_quote)
{
	static const struct {
		const char *value, *text;
	} cases[] = {
		{ "", "" },
		{ "plain value", "plain value" },
		{ "a\"b", "a\"b" },
		{ "a\"#\"b", "a\"#\"b" },
		{ "a # b", "\"a # b\"" },
		{ "#", "\"#\"" },
		{ " lead", "\" lead\"" },
		{ "trail\t", "\"trail\t\"" },
		{ "\"q\"", NULL },
		{ "a\"b # c", "a\"b # c" },
		{ "a # \"b", NULL },
		{ "ends {", "\"ends {\"" },
		{ "{ x", "{ x" },
		{ "two\nlines", NULL },
	};

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		char *q = mail_conf_quote(cases[i].value);
		struct mail_conf *c;
		char *line;

		if (cases[i].text == NULL) {
			ck_assert_msg(q == NULL, "quoted '%s'", cases[i].value);
			continue;
		}
		ck_assert_str_eq(q, cases[i].text);
		line = mail_xasprintf("k = %s\n", q);
		c = parse_ok(line, strlen(line));
		ck_assert_str_eq(mail_conf_get(c, NULL, "k"), cases[i].value);
		mail_conf_free(&c);
		free(line);
		free(q);
	}
}
END_TEST

/* Every prefix, and every single-byte change, of a valid file: parsed or
 * refused with file:line, never a crash or an over-read. */
START_TEST(test_prefixes_and_mutations)
{
	static const char bytes[] = { '\0', '\n', '{', '}', '"', '#', '=',
	    ' ', 'x', '\xff' };
	size_t n = sizeof(good) - 1;
	char *copy = mail_xmalloc(n);

	for (size_t len = 0; len <= n; len++) {
		struct mail_conf *c = NULL;
		struct mail_err err;
		char *p = mail_xmalloc(len + 1);

		memcpy(p, good, len);
		if (mail_conf_parse("t", p, len, &c, &err) == 0)
			mail_conf_free(&c);
		else
			ck_assert_int_eq(strncmp(err.msg, "t:", 2), 0);
		free(p);
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t b = 0; b < sizeof(bytes); b++) {
			struct mail_conf *c = NULL;
			struct mail_err err;

			memcpy(copy, good, n);
			copy[i] = bytes[b];
			if (mail_conf_parse("t", copy, n, &c, &err) == 0)
				mail_conf_free(&c);
			else
				ck_assert_int_eq(strncmp(err.msg, "t:", 2), 0);
		}
	}
	free(copy);
}
END_TEST

Suite *test_mail_conf_suite(void);
Suite *
test_mail_conf_suite(void)
{
	Suite *s = suite_create("mail_conf");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_empty_inputs);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_prefixes_and_mutations);
	suite_add_tcase(s, tc);
	return s;
}
