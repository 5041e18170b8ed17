/*
 * test_wire_url.c: peer locations, good and bad.
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wire_url.h"

struct good_case {
	const char *in;
	enum wire_url_kind kind;
	const char *user, *host;
	int	 port;
	const char *path;
};

static const struct good_case good[] = {
	{ "/var/lib/store", WIRE_URL_PATH, NULL, NULL, 0, "/var/lib/store" },
	{ "store", WIRE_URL_PATH, NULL, NULL, 0, "store" },
	{ "./a:b", WIRE_URL_PATH, NULL, NULL, 0, "./a:b" },
	{ "backup:2024", WIRE_URL_PATH, NULL, NULL, 0, "backup:2024" },
	{ "local:/var/x", WIRE_URL_LOCAL, NULL, NULL, 0, "/var/x" },
	{ "local:rel", WIRE_URL_LOCAL, NULL, NULL, 0, "rel" },
	{ "ssh://beta/var/x", WIRE_URL_SSH, NULL, "beta", 0, "/var/x" },
	{ "ssh://dsync@beta.example.net/var/lib/dsync/store", WIRE_URL_SSH,
	  "dsync", "beta.example.net", 0, "/var/lib/dsync/store" },
	{ "ssh://u@h:2222/p", WIRE_URL_SSH, "u", "h", 2222, "/p" },
	{ "ssh://10.0.0.1:22/p", WIRE_URL_SSH, NULL, "10.0.0.1", 22, "/p" },
	{ "ssh://[::1]/p", WIRE_URL_SSH, NULL, "::1", 0, "/p" },
	{ "ssh://root@[fe80::1%eth0]:65535/s/t", WIRE_URL_SSH, "root",
	  "fe80::1%eth0", 65535, "/s/t" },
	{ "SSH://H/p", WIRE_URL_SSH, NULL, "H", 0, "/p" },
};

START_TEST(test_url_good)
{
	const struct good_case *g = &good[_i];
	struct wire_url u;
	struct mail_err err;

	ck_assert_msg(wire_url_parse(g->in, &u, &err) == 0, "%s: %s", g->in,
	    err.msg);
	ck_assert_int_eq(u.kind, g->kind);
	ck_assert_pstr_eq(u.user, g->user);
	ck_assert_pstr_eq(u.host, g->host);
	ck_assert_int_eq(u.port, g->port);
	ck_assert_str_eq(u.path, g->path);
	wire_url_free(&u);
	ck_assert_ptr_null(u.path);
}
END_TEST

struct bad_case {
	const char *in;
	const char *why;	/* part of the message */
};

static const struct bad_case bad[] = {
	{ "", "empty location" },
	{ "local:", "missing path" },
	{ "ssh://", "empty host" },
	{ "ssh:///var/x", "empty host" },
	{ "ssh://u@/var/x", "empty host" },
	{ "ssh://h", "missing path" },
	{ "ssh://h/", "missing path" },
	{ "ssh://h:22", "missing path" },
	{ "ssh://h:/x", "bad port" },
	{ "ssh://h:0/x", "bad port" },
	{ "ssh://h:65536/x", "bad port" },
	{ "ssh://h:22a/x", "bad port" },
	{ "ssh://h:-1/x", "bad port" },
	{ "ssh://@h/x", "empty user" },
	{ "ssh://u:pw@h/x", "passwords" },
	{ "ssh://-oProxyCommand=x/p", "bad host" },
	{ "ssh://-l@h/p", "user starts with '-'" },
	{ "ssh://h_ost!/p", "bad host" },
	{ "ssh://::1/p", "IPv6 addresses need brackets" },
	{ "ssh://[::1/p", "missing ']'" },
	{ "ssh://[::1]x/p", "expected ':' or '/' after ']'" },
	{ "ssh://[]/p", "empty host" },
	{ "ssh://h/p\nq", "control character" },
	{ "ssh:h/p", "expected ssh://" },
	{ "http://h/p", "unknown scheme 'http'" },
	{ "file:///p", "unknown scheme 'file'" },
};

START_TEST(test_url_bad)
{
	const struct bad_case *b = &bad[_i];
	struct wire_url u;
	struct mail_err err;

	ck_assert_msg(wire_url_parse(b->in, &u, &err) == -1, "%s accepted",
	    b->in);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_msg(strstr(err.msg, b->why) != NULL, "%s: '%s' lacks '%s'",
	    b->in, err.msg, b->why);
	ck_assert_msg(strncmp(err.msg, "bad location '", 14) == 0, "%s",
	    err.msg);
	ck_assert_ptr_null(u.user);
	ck_assert_ptr_null(u.host);
	ck_assert_ptr_null(u.path);
}
END_TEST

Suite *test_wire_url_suite(void);
Suite *
test_wire_url_suite(void)
{
	Suite *s = suite_create("wire_url");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_url_good, 0, (int)N_ELEMENTS(good));
	tcase_add_loop_test(tc, test_url_bad, 0, (int)N_ELEMENTS(bad));
	suite_add_tcase(s, tc);
	return s;
}
