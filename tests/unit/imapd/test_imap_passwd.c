/*
 * test_imap_passwd.c: the passwd-file database and SASL PLAIN. Known
 * vectors for every scheme (made with doveadm pw, openssl passwd -5/-6 and
 * libxcrypt), wrong passwords, unknown and locked users, exact user
 * names, the fields, every malformed line with its file:line error,
 * reloading after edits (in place, racy, broken, removed, replaced), the
 * stand-in that makes unknown users cost what known ones do, the SASL
 * PLAIN decoder at every truncation, and strict base64. Every prefix and
 * many one-byte changes of a valid file parse or fail cleanly (run under
 * ASan).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap_passwd.h"
#include "testlib.h"

#define NAME	"t.passwd"

/* Hashes of "secret" unless noted. */
#define H_SHA256	"$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA"
#define H_SHA256_R	"$5$rounds=1000$saltsalt$eKLZU9t9OoPWrqOQsoTIKG0aYkZ5rGOoOQhiIvoSWX2"
/* "with space:colon", openssl passwd -5 -salt abcdefghijklmnop */
#define H_SHA256_SP	"$5$abcdefghijklmnop$IAmel0ORQellmOPRoYLK/Iv8NLxhvAL5yAlQZxoqst6"
#define H_SHA512	"$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
/* "other" */
#define H_SHA512_OTHER	"$6$saltsalt$r4j7z8gOqxO9zYH/VSQ4MPgAu/GTg0.tIK5o0K3dXowoILt/JRmXmiqFa26mKioMH3Fwhg6qaU0XTibPpoJ8z."
/* "p\xc3\xa4ssw\xc3\xb6rd" (UTF-8), openssl passwd -6 -salt r0unds */
#define H_SHA512_UTF8	"$6$r0unds$.8CaPMRllLr2D6pVzg6WSkLKNU26pdYyBaWK9mfzRlJuUqB85SkE95Cnvlr07d7NRjYjNj6BYh7Wxb5YnG4KL/"
#define H_SHA512_R	"$6$rounds=1000$saltsalt$LAV5VE5Y7w1d73x1mFNspYWUpazfmwv2SoepNXNKJ/otop/Zok96Hr8Q13LEv0DRY/x8v0/crpIjl8NJSAqXV/"
/* "p:w", doveadm pw -s SHA512-CRYPT */
#define H_DOVEADM_512	"$6$dyKgrGUt27OlVqqW$dw90EqsOAkjcYcSm5DMH/C7PpeS5m1jvXtt4Ft5iXMiXlv3xWUSkBepRSyJPosCEOjMrKyGuV275huMDgv1lN1"
#define H_BLF_Y		"$2y$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"
#define H_BLF_B		"$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"
#define H_BLF_A		"$2a$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"
/* doveadm pw -s BLF-CRYPT -r 4 */
#define H_DOVEADM_BLF	"$2y$04$l00lSL/BORlE0QKSZUjpLuknQdN0BvUDGD2cw8Qf1akGBOB3GVQW6"
/* cost 8: slow enough (~20 ms) to measure */
#define H_BLF_8		"$2b$08$abcdefghijklmnopqrstuuKxCcvB7KZ7.BpDoK0bh6qM7Dl1/xiJa"
#define H_YESCRYPT	"$y$j9T$abcdefghijklmnop$3dL1LkYnZM.OVXuVdnnaKVDlLYT92dRwOzDZ5XiVCe."

static struct imap_passwd *
parse_ok(const char *text)
{
	struct imap_passwd *db = NULL;
	struct mail_err err;

	if (imap_passwd_parse(NAME, (const uint8_t *)text, strlen(text), &db,
	    &err) < 0)
		ck_abort_msg("parse: %s", err.msg);
	ck_assert_ptr_nonnull(db);
	return db;
}

/* Parsing len bytes must fail with MAIL_ERR_PARAM and a message that
 * starts with "t.passwd:LINE: " and contains what. */
static void
parse_fails_n(const char *text, size_t len, unsigned line, const char *what)
{
	struct imap_passwd *db = (struct imap_passwd *)1;
	struct mail_err err;
	char prefix[64];

	mail_err_clear(&err);
	ck_assert_msg(imap_passwd_parse(NAME, (const uint8_t *)text, len, &db,
	    &err) == -1, "accepted: %s", text);
	ck_assert_ptr_null(db);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	snprintf(prefix, sizeof(prefix), NAME ":%u: ", line);
	ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0,
	    "'%s' does not start with '%s'", err.msg, prefix);
	ck_assert_msg(strstr(err.msg, what) != NULL, "'%s' lacks '%s'",
	    err.msg, what);
}

static void
parse_fails(const char *text, unsigned line, const char *what)
{
	parse_fails_n(text, strlen(text), line, what);
}

static int
verify(const struct imap_passwd *db, const char *user, const char *pw)
{
	struct mail_err err;
	int r = imap_passwd_verify(db, user, strlen(user), pw, strlen(pw),
	    &err);

	ck_assert_msg(r >= 0, "verify '%s': %s", user, err.msg);
	return r;
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- schemes ---- */

static const char vectors_file[] =
    "# every supported scheme\n"
    "plain:{PLAIN}secret\n"
    "clear:{CLEARTEXT}s3cr3t with spaces\n"
    "lower:{plain}secret\n"
    "sha256:{SHA256-CRYPT}" H_SHA256 "\n"
    "sha256r:" H_SHA256_R "\n"
    "sha256sp:{CRYPT}" H_SHA256_SP "\n"
    "sha512:{SHA512-CRYPT}" H_SHA512 "\n"
    "sha512u:" H_SHA512_UTF8 "\n"
    "sha512r:{crypt}" H_SHA512_R "\n"
    "doveadm:{SHA512-CRYPT}" H_DOVEADM_512 "::::::\n"
    "blf:{BLF-CRYPT}" H_BLF_Y "\n"
    "blfb:{blf-crypt}" H_BLF_B "\n"
    "blfa:" H_BLF_A "\n"
    "blfdove:{BLF-CRYPT}" H_DOVEADM_BLF "\n"
    "yes:{CRYPT}" H_YESCRYPT "\n";

static const struct {
	const char *user, *good;
	enum imap_passwd_scheme scheme;
} vectors[] = {
	{ "plain", "secret", IMAP_PASSWD_PLAIN },
	{ "clear", "s3cr3t with spaces", IMAP_PASSWD_PLAIN },
	{ "lower", "secret", IMAP_PASSWD_PLAIN },
	{ "sha256", "secret", IMAP_PASSWD_CRYPT },
	{ "sha256r", "secret", IMAP_PASSWD_CRYPT },
	{ "sha256sp", "with space:colon", IMAP_PASSWD_CRYPT },
	{ "sha512", "secret", IMAP_PASSWD_CRYPT },
	{ "sha512u", "p\xc3\xa4ssw\xc3\xb6rd", IMAP_PASSWD_CRYPT },
	{ "sha512r", "secret", IMAP_PASSWD_CRYPT },
	{ "doveadm", "p:w", IMAP_PASSWD_CRYPT },
	{ "blf", "secret", IMAP_PASSWD_CRYPT },
	{ "blfb", "secret", IMAP_PASSWD_CRYPT },
	{ "blfa", "secret", IMAP_PASSWD_CRYPT },
	{ "blfdove", "secret", IMAP_PASSWD_CRYPT },
	{ "yes", "secret", IMAP_PASSWD_CRYPT },
};

START_TEST(test_vectors)
{
	struct imap_passwd *db = parse_ok(vectors_file);
	const char *user = vectors[_i].user, *good = vectors[_i].good;
	const struct imap_passwd_entry *e;
	size_t glen = strlen(good);
	char buf[64], upper[32];

	ck_assert_uint_eq(imap_passwd_count(db), N_ELEMENTS(vectors));
	e = imap_passwd_lookup(db, user, strlen(user));
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(e->scheme, vectors[_i].scheme);
	ck_assert_int_eq(verify(db, user, good), 1);

	/* wrong: one byte more, one less, case changed, each byte flipped */
	snprintf(buf, sizeof(buf), "%sx", good);
	ck_assert_int_eq(verify(db, user, buf), 0);
	snprintf(buf, sizeof(buf), "%.*s", (int)glen - 1, good);
	ck_assert_int_eq(verify(db, user, buf), 0);
	snprintf(buf, sizeof(buf), "%s", good);
	buf[0] ^= 0x20;
	ck_assert_int_eq(verify(db, user, buf), 0);
	for (size_t i = 0; i < glen && e->scheme == IMAP_PASSWD_PLAIN; i++) {
		snprintf(buf, sizeof(buf), "%s", good);
		buf[i] ^= 1;
		ck_assert_int_eq(verify(db, user, buf), 0);
	}
	ck_assert_int_eq(verify(db, user, "other"), 0);
	ck_assert_int_eq(verify(db, user, ""), 0);

	/* exact names: no case folding, no prefixes */
	snprintf(upper, sizeof(upper), "%s", user);
	upper[0] = (char)(upper[0] - 'a' + 'A');
	ck_assert_int_eq(verify(db, upper, good), 0);
	snprintf(upper, sizeof(upper), "%s@example.org", user);
	ck_assert_int_eq(verify(db, upper, good), 0);
	imap_passwd_free(&db);
	ck_assert_ptr_null(db);
}
END_TEST

START_TEST(test_verify_edges)
{
	struct imap_passwd *db;
	struct mail_err err;
	char big[IMAP_PASSWD_MAX_PASSWORD + 2];
	char *text;

	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	text = mail_xasprintf("long:{PLAIN}%.*s\nsha:" H_SHA512 "\n"
	    "short:{PLAIN}pw\n", IMAP_PASSWD_MAX_PASSWORD, big);
	db = parse_ok(text);
	free(text);

	/* the longest password works, one byte more is refused unchecked */
	ck_assert_int_eq(imap_passwd_verify(db, "long", 4, big,
	    IMAP_PASSWD_MAX_PASSWORD, &err), 1);
	ck_assert_int_eq(imap_passwd_verify(db, "long", 4, big,
	    IMAP_PASSWD_MAX_PASSWORD + 1, &err), 0);
	/* lengths are taken as given */
	ck_assert_int_eq(imap_passwd_verify(db, "shortX", 5, "pwX", 2, &err),
	    1);
	ck_assert_int_eq(imap_passwd_verify(db, "short\0", 6, "pw", 2, &err),
	    0);
	ck_assert_int_eq(imap_passwd_verify(db, "short", 5, "pw\0", 3, &err),
	    0);
	ck_assert_int_eq(imap_passwd_verify(db, "sho", 3, "pw", 2, &err), 0);
	/* crypt sees "secret" up to the NUL; it must still not match */
	ck_assert_int_eq(imap_passwd_verify(db, "sha", 3, "secret\0x", 8,
	    &err), 0);
	ck_assert_int_eq(imap_passwd_verify(db, "sha", 3, "secret", 6, &err),
	    1);
	ck_assert_ptr_null(imap_passwd_lookup(db, "", 0));
	ck_assert_str_eq(imap_passwd_name(db), NAME);
	imap_passwd_free(&db);
	imap_passwd_free(&db);		/* NULL-safe */
}
END_TEST

START_TEST(test_locked_and_empty)
{
	struct imap_passwd *db = parse_ok(
	    "l1:\n"
	    "l2:x:1000:1000::/home/l2:/bin/sh\n"
	    "l3:*\n"
	    "l4:!" H_SHA512 "\n"
	    "l5:!!\n"
	    "ok:" H_SHA512 "\n");
	const char *locked[] = { "l1", "l2", "l3", "l4", "l5" };

	ck_assert_uint_eq(imap_passwd_count(db), 6);
	for (size_t i = 0; i < N_ELEMENTS(locked); i++) {
		const struct imap_passwd_entry *e = imap_passwd_lookup(db,
		    locked[i], 2);

		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(e->scheme, IMAP_PASSWD_LOCKED);
		ck_assert_int_eq(verify(db, locked[i], "secret"), 0);
		ck_assert_int_eq(verify(db, locked[i], "x"), 0);
		ck_assert_int_eq(verify(db, locked[i], "!"), 0);
	}
	ck_assert_str_eq(imap_passwd_lookup(db, "l2", 2)->home, "/home/l2");
	/* the stand-in's password with another name gets nobody in */
	ck_assert_int_eq(verify(db, "ok", "secret"), 1);
	ck_assert_int_eq(verify(db, "nobody", "secret"), 0);
	imap_passwd_free(&db);

	/* files where nobody can log in */
	db = parse_ok("");
	ck_assert_uint_eq(imap_passwd_count(db), 0);
	ck_assert_int_eq(verify(db, "a", "b"), 0);
	imap_passwd_free(&db);
	db = parse_ok("# only\n\n   \n\t\n#comments\n");
	ck_assert_uint_eq(imap_passwd_count(db), 0);
	imap_passwd_free(&db);
	db = parse_ok("l:*\n");
	ck_assert_int_eq(verify(db, "l", "*"), 0);
	imap_passwd_free(&db);
}
END_TEST

/* ---- fields ---- */

START_TEST(test_fields)
{
	struct imap_passwd *db = parse_ok(
	    "# users\n"
	    "full:{PLAIN}pw:1000:100:Full Name,,,:/home/full:/bin/sh:"
	    "userdb_mail=maildir:~/Maildir  quota_rule=*:storage=1G nodelay \n"
	    "names:{PLAIN}pw:vmail:mail::/var/vmail/names\n"
	    "\n"
	    "short:{PLAIN}pw\n"
	    "   \t \n"
	    "colons:{PLAIN}pw::::::\n"
	    "#comment:with:colons\n"
	    "trailing:{PLAIN}pw:::::::\n"
	    "morecolons:{PLAIN}pw::::::::::\n"
	    "crlf:{PLAIN}pw\r\n"
	    "sp ace:{PLAIN}p w\n"
	    "utf\xc3\xb6:{PLAIN}pw\n"
	    "last:{PLAIN}pw");
	const struct imap_passwd_entry *e;
	static const char *const order[] = { "colons", "crlf", "full", "last",
		"morecolons", "names", "short", "sp ace", "trailing",
		"utf\xc3\xb6" };

	ck_assert_uint_eq(imap_passwd_count(db), N_ELEMENTS(order));
	for (size_t i = 0; i < N_ELEMENTS(order); i++) {
		e = imap_passwd_entry(db, i);
		ck_assert_str_eq(e->user, order[i]);
		ck_assert_ptr_eq(imap_passwd_lookup(db, e->user,
		    strlen(e->user)), e);
		ck_assert_ptr_null(e->extra[e->n_extra]);
	}

	e = imap_passwd_lookup(db, "full", 4);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->line, 2);
	ck_assert_str_eq(e->uid, "1000");
	ck_assert_str_eq(e->gid, "100");
	ck_assert_str_eq(e->gecos, "Full Name,,,");
	ck_assert_str_eq(e->home, "/home/full");
	ck_assert_str_eq(e->shell, "/bin/sh");
	ck_assert_uint_eq(e->n_extra, 3);
	ck_assert_str_eq(e->extra[0], "userdb_mail=maildir:~/Maildir");
	ck_assert_str_eq(e->extra[1], "quota_rule=*:storage=1G");
	ck_assert_str_eq(e->extra[2], "nodelay");
	ck_assert_ptr_null(e->extra[3]);

	e = imap_passwd_lookup(db, "names", 5);
	ck_assert_str_eq(e->uid, "vmail");
	ck_assert_str_eq(e->gid, "mail");
	ck_assert_str_eq(e->gecos, "");
	ck_assert_str_eq(e->home, "/var/vmail/names");
	ck_assert_str_eq(e->shell, "");
	ck_assert_uint_eq(e->n_extra, 0);

	e = imap_passwd_lookup(db, "short", 5);
	ck_assert_uint_eq(e->line, 5);
	ck_assert_str_eq(e->uid, "");
	ck_assert_str_eq(e->home, "");
	ck_assert_uint_eq(e->n_extra, 0);

	ck_assert_uint_eq(imap_passwd_lookup(db, "trailing", 8)->n_extra, 0);
	ck_assert_uint_eq(imap_passwd_lookup(db, "morecolons", 10)->n_extra, 0);
	ck_assert_uint_eq(imap_passwd_lookup(db, "last", 4)->line, 14);
	ck_assert_int_eq(verify(db, "crlf", "pw"), 1);
	ck_assert_int_eq(verify(db, "crlf", "pw\r"), 0);
	ck_assert_int_eq(verify(db, "sp ace", "p w"), 1);
	ck_assert_int_eq(verify(db, "utf\xc3\xb6", "pw"), 1);
	ck_assert_int_eq(verify(db, "last", "pw"), 1);
	ck_assert_int_eq(verify(db, "full", "pw"), 1);
	imap_passwd_free(&db);
}
END_TEST

/* ---- errors ---- */

static const struct {
	const char *text;
	unsigned line;
	const char *what;
} bad_cases[] = {
	{ "nocolon\n", 1, "missing ':' after the user name" },
	{ "# c\n\n:{PLAIN}x\n", 3, "empty user name" },
	{ " lead:{PLAIN}x\n", 1, "leading or trailing blanks" },
	{ "a:{PLAIN}x\ntrail :{PLAIN}x\n", 2, "user name 'trail ' has" },
	{ "ctl\001:{PLAIN}x\n", 1, "control character in user name" },
	{ "tab\t:{PLAIN}x\n", 1, "control character" },
	{ "del\177:{PLAIN}x\n", 1, "control character" },
	{ "cr\r:x\n", 1, "control character" },
	{ "u:{PLAIN}\n", 1, "user 'u': empty {PLAIN} password" },
	{ "u:{CLEARTEXT}:1\n", 1, "empty {CLEARTEXT} password" },
	{ "u:{SSHA}abc\n", 1, "password scheme 'SSHA' is not supported" },
	{ "u:{PLAIN-MD5}abc\n", 1, "'PLAIN-MD5' is not supported" },
	{ "u:{PLAIN.b64}abc\n", 1, "'PLAIN.b64' is not supported" },
	{ "u:{MD5-CRYPT}$1$abc$xyz\n", 1, "'MD5-CRYPT' is not supported" },
	{ "u:{PLAIN\n", 1, "not with a {SCHEME} name" },
	{ "u:{}x\n", 1, "not with a {SCHEME} name" },
	{ "u:{a b}x\n", 1, "not with a {SCHEME} name" },
	{ "u:plaintext\n", 1, "not {SCHEME}... or a supported crypt hash" },
	{ "u:abcdefghijklm\n", 1, "plain text needs {PLAIN}" },
	{ "u:$1$abc$xyz\n", 1, "crypt method '$1$' is not supported (MD5" },
	{ "u:$7$abc$xyz\n", 1, "crypt method '$7$' is not supported" },
	{ "u:$gy$abc$xyz\n", 1, "crypt method '$gy$' is not supported" },
	{ "u:$\n", 1, "not a supported crypt hash" },
	{ "u:{CRYPT}\n", 1, "not {SCHEME}... or a supported crypt hash" },
	{ "u:{SHA512-CRYPT}" H_SHA256 "\n", 1,
	  "scheme SHA512-CRYPT needs a '$6$' hash" },
	{ "u:{SHA256-CRYPT}" H_SHA512 "\n", 1,
	  "scheme SHA256-CRYPT needs a '$5$' hash" },
	{ "u:{BLF-CRYPT}" H_SHA512 "\n", 1, "needs a '$2y$' hash" },
	{ "u:{SHA512-CRYPT}" H_BLF_Y "\n", 1, "needs a '$6$' hash" },
	{ "u:$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5"
	  "knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO\n", 1,
	  "'$6$' hash is not 86 characters" },
	{ "u:" H_SHA512 "x\n", 1, "'$6$' hash is not 86 characters" },
	{ "u:$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5s!\n", 1,
	  "'$5$' hash is not 43 characters" },
	{ "u:$6$rounds=100$saltsalt$LAV5VE5Y7w1d73x1mFNspYWUpazfmwv2SoepNXNKJ/"
	  "otop/Zok96Hr8Q13LEv0DRY/x8v0/crpIjl8NJSAqXV/\n", 1,
	  "rounds=100 below 1000" },
	{ "u:$6$rounds=01000$saltsalt$x\n", 1, "malformed rounds=" },
	{ "u:$6$rounds=$saltsalt$x\n", 1, "malformed rounds=" },
	{ "u:$6$rounds=1000\n", 1, "malformed rounds=" },
	{ "u:$6$saltsaltsaltsaltX$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U"
	  "0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1\n", 1, "malformed salt" },
	{ "u:$6$salt\n", 1, "malformed salt" },
	{ "u:$2y$03$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW\n", 1,
	  "malformed '$2y$' (bcrypt) hash" },
	{ "u:$2y$32$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW\n", 1,
	  "malformed '$2y$'" },
	{ "u:$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIr\n", 1,
	  "malformed '$2b$'" },
	{ "u:$2x$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW\n", 1,
	  "crypt method '$2x$' is not supported" },
	{ "u:$y$$abcdefghijklmnop$3dL1LkYnZM.OVXuVdnnaKVDlLYT92dRwOzDZ5XiVCe."
	  "\n", 1, "malformed '$y$' (yescrypt) hash" },
	{ "u:$y$j9T$abcdefghijklmnop$3dL1LkYnZM.OVXuVdnnaKVDlLYT92dRwOzDZ5XiV"
	  "\n", 1, "malformed '$y$'" },
	{ "u:$y$j9T\n", 1, "malformed '$y$'" },
	{ "u:{PLAIN}x:abc def\n", 1, "user 'u': bad uid 'abc def'" },
	{ "u:{PLAIN}x:1000:-5\n", 1, "bad gid '-5'" },
	{ "u:{PLAIN}x:4294967295\n", 1, "bad uid '4294967295'" },
	{ "u:{PLAIN}x:99999999999\n", 1, "bad uid" },
	{ "u:{PLAIN}x:007\n", 1, "bad uid '007'" },
	{ "u:{PLAIN}x:\033[31m\n", 1, "bad uid '?[31m'" },	/* not raw */
	{ "u:{PLAIN}x:1:1::h\001\n", 1, "home 'h?' is not an absolute" },
	{ "u:{PLAIN}x:1:1::home\n", 1, "home 'home' is not an absolute path" },
	{ "u:{PLAIN}x:1:1::/h:/bin/sh::/var/mail/u\n", 1,
	  "old-style mail field" },
	{ "u:{PLAIN}x:1:1::/h:/bin/sh:k=v =v\n", 1,
	  "extra field without a key" },
	{ "a:{PLAIN}x\nb:{PLAIN}y\na:{PLAIN}z\n", 3,
	  "duplicate user 'a' (first at line 1)" },
	{ "a:{PLAIN}x\nb:{PLAIN}y\nb:{PLAIN}z\na:{PLAIN}w\na:{PLAIN}v\n", 3,
	  "duplicate user 'b' (first at line 2)" },
	{ "a:{PLAIN}x\n# c\n\nb:{PLAIN}y\nbad\n", 5, "missing ':'" },
	{ "a:x\r\nb:x\r\nc\r\n", 3, "missing ':'" },
};

START_TEST(test_bad_lines)
{
	parse_fails(bad_cases[_i].text, bad_cases[_i].line,
	    bad_cases[_i].what);
}
END_TEST

START_TEST(test_bad_limits)
{
	char user[IMAP_PASSWD_MAX_USER + 2];
	char pw[IMAP_PASSWD_MAX_PASSWORD + 2];
	struct imap_passwd *db;
	char *text;

	/* the longest user name is fine, one byte more is not */
	memset(user, 'u', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	text = mail_xasprintf("%.*s:{PLAIN}x\n", IMAP_PASSWD_MAX_USER, user);
	db = parse_ok(text);
	imap_passwd_free(&db);
	free(text);
	text = mail_xasprintf("x:x\n%s:{PLAIN}x\n", user);
	parse_fails(text, 2, "user name longer than 255 bytes");
	free(text);

	/* the longest PLAIN password, one byte more, a field far too long */
	memset(pw, 'p', sizeof(pw) - 1);
	pw[sizeof(pw) - 1] = '\0';
	text = mail_xasprintf("u:{PLAIN}%.*s\n", IMAP_PASSWD_MAX_PASSWORD, pw);
	db = parse_ok(text);
	imap_passwd_free(&db);
	free(text);
	text = mail_xasprintf("u:{PLAIN}%s\n", pw);
	parse_fails(text, 1, "{PLAIN} password longer than 1024 bytes");
	free(text);
	text = mail_xasprintf("u:%s%.*s\n", pw, 64, pw);
	parse_fails(text, 1, "password field longer than 1088 bytes");
	free(text);

	/* NUL bytes, named by line */
	parse_fails_n("a:{PLAIN}x\nb:{PL\0AIN}y\n", 23, 2, "NUL byte");
	parse_fails_n("\0", 1, 1, "NUL byte");
	parse_fails_n("a:{PLAIN}x\n# comment \0\n", 23, 2, "NUL byte");
}
END_TEST

/* Error messages never show a password or a hash. */
START_TEST(test_errors_hide_secrets)
{
	static const char *const texts[] = {
		"u:Hunter2Secret\n",
		"u:{Hunter2Secret\n",
		"u:{Hunter2 Secret}x\n",
		"u:{PLAIN}Hunter2Secret:bad uid\n",
		"u:$6$Hunter2Secret$x\n",
		"u:" H_SHA512 "x\n",
		"u:{SHA256-CRYPT}" H_SHA512 "\n",
	};

	for (size_t i = 0; i < N_ELEMENTS(texts); i++) {
		struct imap_passwd *db = NULL;
		struct mail_err err;

		ck_assert_int_eq(imap_passwd_parse(NAME,
		    (const uint8_t *)texts[i], strlen(texts[i]), &db, &err),
		    -1);
		ck_assert_msg(strstr(err.msg, "Hunter2") == NULL &&
		    strstr(err.msg, "saltsalt") == NULL, "leaks: %s", err.msg);
	}
}
END_TEST

/* Parse len bytes of text: it parses (and every user is found by its
 * name) or fails with a file:line error and no database. */
static void
parse_clean(const char *text, size_t len)
{
	struct imap_passwd *db = NULL;
	struct mail_err err;

	if (imap_passwd_parse(NAME, (const uint8_t *)text, len, &db,
	    &err) < 0) {
		ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
		ck_assert_msg(strncmp(err.msg, NAME ":", strlen(NAME) + 1) == 0,
		    "%s", err.msg);
		ck_assert_ptr_null(db);
		return;
	}
	for (size_t i = 0; i < imap_passwd_count(db); i++) {
		const struct imap_passwd_entry *e = imap_passwd_entry(db, i);

		ck_assert_ptr_eq(imap_passwd_lookup(db, e->user,
		    strlen(e->user)), e);
		ck_assert_ptr_null(e->extra[e->n_extra]);
	}
	imap_passwd_free(&db);
}

/* Every prefix, and every byte replaced by each of a few characters that
 * matter to the syntax (and NUL). */
START_TEST(test_mutations)
{
	static const char base[] =
	    "# head\n"
	    "a:{PLAIN}pw:1000:100:g:/h:/bin/sh:k=v x\n"
	    "b:" H_SHA512 "\n"
	    "c:{BLF-CRYPT}" H_BLF_Y ":::::\r\n"
	    "d:$y$j9T$abcdefghijklmnop$3dL1LkYnZM.OVXuVdnnaKVDlLYT92dRwOzDZ5XiV"
	    "Ce.\n"
	    "e:*\n";
	static const char subst[] = ":\n\r#{}$ =x\001";	/* and its NUL */
	size_t len = sizeof(base) - 1;
	char buf[sizeof(base)];

	for (size_t cut = 0; cut <= len; cut++)
		parse_clean(base, cut);
	for (size_t pos = 0; pos < len; pos++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			memcpy(buf, base, len);
			buf[pos] = subst[k];
			parse_clean(buf, len);
		}
	}
}
END_TEST

/* ---- timing: unknown users cost what known ones do ---- */

static double
verify_time(const struct imap_passwd *db, const char *user)
{
	double best = 1e9;

	for (int i = 0; i < 3; i++) {
		double t0 = now_sec(), t;

		ck_assert_int_eq(verify(db, user, "wrong"), 0);
		t = now_sec() - t0;
		if (t < best)
			best = t;
	}
	return best;
}

START_TEST(test_stand_in)
{
	struct imap_passwd *db = parse_ok(
	    "a:" H_BLF_8 "\n"
	    "b:" H_BLF_8 "\n"
	    "c:{PLAIN}secret\n"
	    "l:*\n");
	double known, unknown, locked, plain;

	known = verify_time(db, "a");
	unknown = verify_time(db, "nobody");
	locked = verify_time(db, "l");
	plain = verify_time(db, "c");
	ck_assert_msg(unknown > known / 3 && locked > known / 3,
	    "known %.4f s, unknown %.4f s, locked %.4f s", known, unknown,
	    locked);
	/* the minority class (PLAIN) is cheap: documented as visible */
	ck_assert_msg(plain < known / 3, "plain %.4f s, known %.4f s", plain,
	    known);
	/* the stand-in's password does not open other names */
	ck_assert_int_eq(verify(db, "nobody", "secret"), 0);
	ck_assert_int_eq(verify(db, "l", "secret"), 0);
	ck_assert_int_eq(verify(db, "a", "secret"), 1);
	imap_passwd_free(&db);

	/* the majority decides: two SHA-512 users outweigh one bcrypt */
	db = parse_ok(
	    "a:" H_BLF_8 "\n"
	    "b:" H_SHA512 "\n"
	    "c:" H_SHA512_OTHER "\n");
	known = verify_time(db, "a");
	unknown = verify_time(db, "nobody");
	ck_assert_msg(unknown < known / 2, "bcrypt %.4f s, unknown %.4f s",
	    known, unknown);
	ck_assert_int_eq(verify(db, "nobody", "secret"), 0);
	ck_assert_int_eq(verify(db, "nobody", "other"), 0);
	ck_assert_int_eq(verify(db, "c", "other"), 1);
	imap_passwd_free(&db);
}
END_TEST

/* ---- files and reloading ---- */

static void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(close(fd), 0);
}

static void
age_file(const char *path)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 100;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

START_TEST(test_reload)
{
	char *dir = testlib_tmpdir();
	char *path = mail_xasprintf("%s/passwd", dir);
	char *tmp = mail_xasprintf("%s/passwd.new", dir);
	struct imap_passwd *db = NULL, *mem = NULL;
	const struct imap_passwd_entry *e;
	struct mail_err err;
	char prefix[512];

	write_file(path, "a:{PLAIN}one\n");
	age_file(path);
	ck_assert_int_eq(imap_passwd_load(path, &db, &err), 0);
	ck_assert_str_eq(imap_passwd_name(db), path);
	ck_assert_int_eq(verify(db, "a", "one"), 1);
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), 0);

	/* edited in place, same size */
	write_file(path, "a:{PLAIN}two\n");
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), 1);
	ck_assert_int_eq(verify(db, "a", "two"), 1);
	ck_assert_int_eq(verify(db, "a", "one"), 0);

	/* edited again at once: the same size and probably the same
	 * timestamp tick, found because the last read was racy */
	write_file(path, "a:{PLAIN}thr\n");
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), 1);
	ck_assert_int_eq(verify(db, "a", "thr"), 1);
	/* racy but unchanged: reread, same content, entries stay valid */
	e = imap_passwd_lookup(db, "a", 1);
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), 0);
	ck_assert_ptr_eq(imap_passwd_lookup(db, "a", 1), e);

	/* a broken edit keeps the old database and says where */
	write_file(path, "a:{PLAIN}four\nbroken\n");
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	snprintf(prefix, sizeof(prefix), "%s:2: missing ':'", path);
	ck_assert_msg(strncmp(err.msg, prefix, strlen(prefix)) == 0, "%s",
	    err.msg);
	ck_assert_int_eq(verify(db, "a", "thr"), 1);

	/* so does a missing file */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_int_eq(verify(db, "a", "thr"), 1);

	/* replaced by rename: a new inode */
	write_file(tmp, "b:{PLAIN}five\n");
	age_file(tmp);
	ck_assert_int_eq(rename(tmp, path), 0);
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), 1);
	ck_assert_ptr_null(imap_passwd_lookup(db, "a", 1));
	ck_assert_int_eq(verify(db, "b", "five"), 1);
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), 0);

	/* only the timestamp changed (touch): reread, nothing new */
	e = imap_passwd_lookup(db, "b", 1);
	age_file(path);
	ck_assert_int_eq(imap_passwd_reload_if_changed(&db, &err), 0);
	ck_assert_ptr_eq(imap_passwd_lookup(db, "b", 1), e);

	/* a database parsed from memory never reloads */
	mem = parse_ok("m:{PLAIN}x\n");
	ck_assert_int_eq(imap_passwd_reload_if_changed(&mem, &err), 0);
	imap_passwd_free(&mem);

	imap_passwd_free(&db);
	testlib_rmdir_r(dir);
	free(tmp);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_load_errors)
{
	char *dir = testlib_tmpdir();
	char *path = mail_xasprintf("%s/passwd", dir);
	char *missing = mail_xasprintf("%s/missing", dir);
	struct imap_passwd *db = NULL;
	struct mail_err err;
	char want[512];
	int fd;

	ck_assert_int_eq(imap_passwd_load(missing, &db, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, missing));
	ck_assert_ptr_null(db);

	ck_assert_int_eq(imap_passwd_load(dir, &db, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));

	write_file(path, "ok:{PLAIN}x\n\nu:{SSHA}abc\n");
	ck_assert_int_eq(imap_passwd_load(path, &db, &err), -1);
	snprintf(want, sizeof(want), "%s:3: user 'u': password scheme 'SSHA' "
	    "is not supported", path);
	ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s",
	    err.msg);
	ck_assert_ptr_null(db);

	/* too big: refused before reading (a sparse file) */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, IMAP_PASSWD_MAX_SIZE + 1), 0);
	close(fd);
	ck_assert_int_eq(imap_passwd_load(path, &db, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);

	testlib_rmdir_r(dir);
	free(missing);
	free(path);
	free(dir);
}
END_TEST

/* ---- SASL PLAIN ---- */

static const struct {
	const char *data;
	size_t	 len;
	const char *authzid, *authcid, *password;
} plain_ok[] = {
	{ "\0bob\0pw", 7, "", "bob", "pw" },
	{ "admin\0bob\0p w", 13, "admin", "bob", "p w" },
	{ "j\xc3\xb6rg\0j\xc3\xb6rg\0pass", 16, "j\xc3\xb6rg", "j\xc3\xb6rg",
	  "pass" },
	{ "\0bob\0\xe9t\xe9", 8, "", "bob", "\xe9t\xe9" },	/* Latin-1 */
	{ "\0\xf0\x9f\x93\xa7\0x", 7, "", "\xf0\x9f\x93\xa7", "x" },
};

static const struct {
	const char *data;
	size_t	 len;
	const char *what;
} plain_bad[] = {
	{ "", 0, "no NUL separator" },
	{ "bob", 3, "no NUL separator" },
	{ "\0bob", 4, "one NUL separator, not two" },
	{ "\0bob\0", 5, "empty password" },
	{ "\0\0pw", 4, "empty authentication identity" },
	{ "\0\0", 2, "empty authentication identity" },
	{ "\0bob\0p\0w", 8, "more than two NUL bytes" },
	{ "\0bob\0pw\0", 8, "more than two NUL bytes" },
	{ "\xff\0bob\0pw", 8, "not UTF-8" },
	{ "\0b\xc0\xaf" "b\0pw", 8, "not UTF-8" },	/* overlong '/' */
	{ "\0\xed\xa0\x80\0pw", 7, "not UTF-8" },		/* surrogate */
	{ "\0\xf4\x90\x80\x80\0pw", 8, "not UTF-8" },	/* > U+10FFFF */
	{ "\0\xe2\x82\0pw", 6, "not UTF-8" },		/* truncated */
	{ "\0\x80\0pw", 5, "not UTF-8" },
};

START_TEST(test_sasl_plain)
{
	char *z, *c, *p;
	struct mail_err err;

	for (size_t i = 0; i < N_ELEMENTS(plain_ok); i++) {
		ck_assert_int_eq(imap_passwd_sasl_plain_decode(
		    (const uint8_t *)plain_ok[i].data, plain_ok[i].len, &z, &c,
		    &p, &err), 0);
		ck_assert_str_eq(z, plain_ok[i].authzid);
		ck_assert_str_eq(c, plain_ok[i].authcid);
		ck_assert_str_eq(p, plain_ok[i].password);
		free(z);
		free(c);
		imap_passwd_secret_free(&p);
		ck_assert_ptr_null(p);
	}
	for (size_t i = 0; i < N_ELEMENTS(plain_bad); i++) {
		z = c = p = (char *)1;
		ck_assert_int_eq(imap_passwd_sasl_plain_decode(
		    (const uint8_t *)plain_bad[i].data, plain_bad[i].len, &z,
		    &c, &p, &err), -1);
		ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
		ck_assert_msg(strstr(err.msg, plain_bad[i].what) != NULL,
		    "case %zu: '%s' lacks '%s'", i, err.msg, plain_bad[i].what);
		ck_assert_ptr_null(z);
		ck_assert_ptr_null(c);
		ck_assert_ptr_null(p);
	}
	imap_passwd_secret_free(&p);		/* NULL-safe */
}
END_TEST

/* Every truncation of a valid response: only those that keep some of the
 * password decode, to that part of it. */
START_TEST(test_sasl_plain_prefixes)
{
	static const char msg[] = "admin\0bob\0secret";
	size_t len = sizeof(msg) - 1, pw_at = 10;
	struct mail_err err;

	for (size_t k = 0; k <= len; k++) {
		char *z, *c, *p;
		int r = imap_passwd_sasl_plain_decode((const uint8_t *)msg, k,
		    &z, &c, &p, &err);

		if (k <= pw_at) {
			ck_assert_int_eq(r, -1);
			continue;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_str_eq(z, "admin");
		ck_assert_str_eq(c, "bob");
		ck_assert_uint_eq(strlen(p), k - pw_at);
		ck_assert_int_eq(memcmp(p, "secret", k - pw_at), 0);
		free(z);
		free(c);
		imap_passwd_secret_free(&p);
	}
}
END_TEST

START_TEST(test_sasl_plain_limits)
{
	size_t max = IMAP_PASSWD_SASL_PLAIN_MAX;
	uint8_t *buf = mail_xmalloc(max + 1);
	struct mail_err err;
	char *z, *c, *p;

	/* authzid 255, authcid 255, password 1024: the largest */
	memset(buf, 'z', IMAP_PASSWD_MAX_USER);
	buf[IMAP_PASSWD_MAX_USER] = '\0';
	memset(buf + IMAP_PASSWD_MAX_USER + 1, 'c', IMAP_PASSWD_MAX_USER);
	buf[2 * IMAP_PASSWD_MAX_USER + 1] = '\0';
	memset(buf + 2 * IMAP_PASSWD_MAX_USER + 2, 'p',
	    IMAP_PASSWD_MAX_PASSWORD + 1);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode(buf, max, &z, &c, &p,
	    &err), 0);
	ck_assert_uint_eq(strlen(z), IMAP_PASSWD_MAX_USER);
	ck_assert_uint_eq(strlen(c), IMAP_PASSWD_MAX_USER);
	ck_assert_uint_eq(strlen(p), IMAP_PASSWD_MAX_PASSWORD);
	free(z);
	free(c);
	imap_passwd_secret_free(&p);
	/* one more byte anywhere */
	ck_assert_int_eq(imap_passwd_sasl_plain_decode(buf, max + 1, &z, &c,
	    &p, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	/* a password over the limit in a short message: "\0c\0" + 1025 */
	buf[0] = '\0';
	buf[1] = 'c';
	buf[2] = '\0';
	memset(buf + 3, 'p', IMAP_PASSWD_MAX_PASSWORD + 1);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode(buf,
	    IMAP_PASSWD_MAX_PASSWORD + 4, &z, &c, &p, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "password longer than 1024"));
	/* an identity over the limit: "\0" + 256 'c' + "\0pp", and the same
	 * as authzid */
	memset(buf + 1, 'c', IMAP_PASSWD_MAX_USER + 1);
	memcpy(buf + IMAP_PASSWD_MAX_USER + 2, "\0pp", 3);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode(buf,
	    IMAP_PASSWD_MAX_USER + 5, &z, &c, &p, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "identity longer than 255"));
	memcpy(buf + IMAP_PASSWD_MAX_USER + 2, "\0pp\0x", 5);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode(buf + 1,
	    IMAP_PASSWD_MAX_USER + 6, &z, &c, &p, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "identity longer than 255"));
	free(buf);
}
END_TEST

START_TEST(test_sasl_plain_base64)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	char *z, *c, *p, *big;
	size_t blen;

	ck_assert_int_eq(imap_passwd_sasl_plain_decode_base64("AGJvYgBwdw==",
	    12, &z, &c, &p, &err), 0);
	ck_assert_str_eq(z, "");
	ck_assert_str_eq(c, "bob");
	ck_assert_str_eq(p, "pw");
	free(z);
	free(c);
	imap_passwd_secret_free(&p);

	imap_passwd_base64_encode("admin\0bob\0secret", 16, &b);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode_base64((char *)b.data,
	    b.len, &z, &c, &p, &err), 0);
	ck_assert_str_eq(z, "admin");
	ck_assert_str_eq(c, "bob");
	ck_assert_str_eq(p, "secret");
	free(z);
	free(c);
	imap_passwd_secret_free(&p);
	mail_buf_free(&b);

	/* "=" is the empty response: too short for PLAIN */
	ck_assert_int_eq(imap_passwd_sasl_plain_decode_base64("=", 1, &z, &c,
	    &p, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode_base64("AGJvYgBwdw=",
	    11, &z, &c, &p, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode_base64("AGJvYgBwdw==\r",
	    13, &z, &c, &p, &err), -1);
	ck_assert_ptr_null(p);

	/* longer than any valid response can be encoded */
	blen = IMAP_PASSWD_B64_ENCODED_LEN(IMAP_PASSWD_SASL_PLAIN_MAX) + 4;
	big = mail_xmalloc(blen);
	memset(big, 'A', blen);
	ck_assert_int_eq(imap_passwd_sasl_plain_decode_base64(big, blen, &z,
	    &c, &p, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	/* the longest text decodes (to NULs only: refused as PLAIN) */
	ck_assert_int_eq(imap_passwd_sasl_plain_decode_base64(big,
	    IMAP_PASSWD_B64_ENCODED_LEN(IMAP_PASSWD_SASL_PLAIN_MAX), &z, &c,
	    &p, &err),
	    -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "more than two NUL"));
	free(big);
}
END_TEST

/* ---- base64 ---- */

START_TEST(test_base64_vectors)
{
	/* RFC 4648 section 10 */
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
		{ "\xff\xfe\xfd", "//79" }, { "\xfb\xef", "++8=" },
	};
	struct mail_err err;
	uint8_t out[16];

	for (size_t i = 0; i < N_ELEMENTS(vec); i++) {
		struct mail_buf b = MAIL_BUF_INIT;
		size_t n = strlen(vec[i][0]);

		imap_passwd_base64_encode(vec[i][0], n, &b);
		ck_assert_uint_eq(b.len, strlen(vec[i][1]));
		ck_assert_int_eq(memcmp(b.data != NULL ? (char *)b.data : "",
		    vec[i][1], b.len), 0);
		ck_assert_int_eq(imap_passwd_base64_decode(vec[i][1],
		    strlen(vec[i][1]), out, sizeof(out), &err), (ssize_t)n);
		ck_assert_int_eq(memcmp(out, vec[i][0], n), 0);
		mail_buf_free(&b);
	}
	ck_assert_int_eq(imap_passwd_base64_decode("=", 1, out, 0, &err), 0);
	/* exactly enough room, and one byte too little */
	ck_assert_int_eq(imap_passwd_base64_decode("Zm9vYmE=", 8, out, 5,
	    &err), 5);
	ck_assert_int_eq(imap_passwd_base64_decode("Zm9vYmE=", 8, out, 4,
	    &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
}
END_TEST

START_TEST(test_base64_bad)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Zm9vY", "==", "Zh==", "Zm9=",
		"Z===", "====", "Zm9v\n", "Zm 9v", "=Zm9", "Zg==Zg==",
		"Zm=v", "Zm9v====", "Zm9-", "Zm9_", "Zm9\x80", "Zm9v\0\0\0\0",
	};
	struct mail_err err;
	uint8_t out[16];

	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		size_t n = strlen(bad[i]);

		if (i == N_ELEMENTS(bad) - 1)
			n = 8;
		ck_assert_msg(imap_passwd_base64_decode(bad[i], n, out,
		    sizeof(out), &err) == -1, "accepted '%s'", bad[i]);
		ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	}
}
END_TEST

/* Round trips at every length, and canonical decoding: of the 64 last
 * characters of "Zm?=" and "Z?==", exactly those with the unused bits
 * zero decode, and they re-encode to themselves. */
START_TEST(test_base64_round_trip)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t in[80], out[80];
	struct mail_err err;
	size_t accepted = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		struct mail_buf b = MAIL_BUF_INIT;

		imap_passwd_base64_encode(in, n, &b);
		ck_assert_uint_eq(b.len, IMAP_PASSWD_B64_ENCODED_LEN(n));
		ck_assert_int_eq(imap_passwd_base64_decode(
		    b.len > 0 ? (char *)b.data : "", b.len, out, sizeof(out),
		    &err), (ssize_t)n);
		ck_assert_int_eq(memcmp(in, out, n), 0);
		mail_buf_free(&b);
	}
	for (size_t i = 0; i < 64; i++) {
		char q1[5] = { 'Z', 'm', alpha[i], '=', 0 };
		char q2[5] = { 'Z', alpha[i], '=', '=', 0 };
		const char *qs[2] = { q1, q2 };

		for (int k = 0; k < 2; k++) {
			struct mail_buf b = MAIL_BUF_INIT;
			ssize_t n = imap_passwd_base64_decode(qs[k], 4, out,
			    sizeof(out), &err);

			if (n < 0)
				continue;
			accepted++;
			imap_passwd_base64_encode(out, (size_t)n, &b);
			ck_assert_uint_eq(b.len, 4);
			ck_assert_int_eq(memcmp(b.data, qs[k], 4), 0);
			mail_buf_free(&b);
		}
	}
	ck_assert_uint_eq(accepted, 16 + 4);
}
END_TEST

Suite *test_imap_passwd_suite(void);

Suite *
test_imap_passwd_suite(void)
{
	Suite *s = suite_create("imap_passwd");
	TCase *tc = tcase_create("passwd");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_vectors, 0, N_ELEMENTS(vectors));
	tcase_add_test(tc, test_verify_edges);
	tcase_add_test(tc, test_locked_and_empty);
	tcase_add_test(tc, test_fields);
	tcase_add_loop_test(tc, test_bad_lines, 0, N_ELEMENTS(bad_cases));
	tcase_add_test(tc, test_bad_limits);
	tcase_add_test(tc, test_errors_hide_secrets);
	tcase_add_test(tc, test_stand_in);
	suite_add_tcase(s, tc);

	tc = tcase_create("mutations");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_load_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("sasl");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sasl_plain);
	tcase_add_test(tc, test_sasl_plain_prefixes);
	tcase_add_test(tc, test_sasl_plain_limits);
	tcase_add_test(tc, test_sasl_plain_base64);
	tcase_add_test(tc, test_base64_vectors);
	tcase_add_test(tc, test_base64_bad);
	tcase_add_test(tc, test_base64_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
