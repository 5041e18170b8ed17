/*
 * test_mail_settings.c: the settings schema. Every type with its bounds
 * and exact error text, every default, the whole-file checks with
 * file:line (and "-o KEY" for overrides), the getters, and secret files
 * (mode, type, missing, first line).
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "mail_settings.h"
#include "testlib.h"
#include "testlib_store.h"

static struct mail_conf *
conf_ok(const char *text)
{
	struct mail_conf *c = NULL;
	struct mail_err err;

	if (mail_conf_parse("t.conf", text, strlen(text), &c, &err) < 0)
		ck_abort_msg("parse: %s", err.msg);
	if (mail_settings_check(c, &err) < 0)
		ck_abort_msg("check: %s", err.msg);
	return c;
}

/* The text parses (with overrides, NULL-terminated) but the check fails
 * with exactly msg. */
static void
check_fails(const char *text, const char *const *overrides, const char *msg)
{
	struct mail_conf *c = NULL;
	struct mail_err err;

	if (mail_conf_parse("t.conf", text, strlen(text), &c, &err) < 0)
		ck_abort_msg("parse: %s", err.msg);
	for (; overrides != NULL && *overrides != NULL; overrides++)
		ck_assert_int_eq(mail_conf_override(c, *overrides, &err), 0);
	mail_err_clear(&err);
	ck_assert_int_eq(mail_settings_check(c, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_str_eq(err.msg, msg);
	mail_conf_free(&c);
}

static uint64_t
parse_ok(const struct mail_setting_def *d, const char *v)
{
	struct mail_err err;
	uint64_t n = 12345;

	if (mail_settings_parse(d, v, &n, &err) < 0)
		ck_abort_msg("'%s' refused: %s", v, err.msg);
	return n;
}

/* The value is refused; msg NULL: any message naming the key. */
static void
parse_bad(const struct mail_setting_def *d, const char *v, const char *msg)
{
	struct mail_err err;
	uint64_t n;
	char *quoted = mail_xasprintf("'%s'", d->key);

	mail_err_clear(&err);
	ck_assert_msg(mail_settings_parse(d, v, &n, &err) == -1,
	    "'%s' accepted for %s", v, d->key);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	if (msg != NULL)
		ck_assert_str_eq(err.msg, msg);
	else
		ck_assert_msg(strncmp(err.msg, quoted, strlen(quoted)) == 0,
		    "'%s' does not start with %s", err.msg, quoted);
	free(quoted);
}

START_TEST(test_defaults)
{
	const struct mail_setting_def *defs;
	struct mail_conf *c = mail_conf_new();
	struct mail_err err;
	char host[256] = "";
	size_t n;

	/* every default is a valid value of its type */
	defs = mail_settings_defs(&n);
	ck_assert_uint_ge(n, 25);
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		ck_assert_msg(mail_settings_parse(&defs[i],
		    mail_settings_default(&defs[i]), &v, &err) == 0 ||
		    (defs[i].flags & MAIL_SETTING_REQUIRED) != 0,
		    "default of %s: %s", defs[i].key, err.msg);
		ck_assert(mail_settings_is_default(&defs[i], NULL));
		ck_assert_ptr_eq(mail_settings_find(defs[i].kind,
		    defs[i].key), &defs[i]);
	}
	ck_assert_ptr_null(mail_settings_find("", "url"));
	ck_assert_ptr_null(mail_settings_find("peer", "store"));
	ck_assert(mail_settings_kind_named("peer"));
	ck_assert(!mail_settings_kind_named("imap"));
	ck_assert(!mail_settings_kind_named(""));

	ck_assert_int_eq(mail_settings_check(c, &err), 0);
	ck_assert_str_eq(mail_settings_str(c, NULL, "store"),
	    "/var/lib/dsync/store");
	gethostname(host, sizeof(host) - 1);
	ck_assert_str_eq(mail_settings_str(c, NULL, "node"), host);
	ck_assert_str_eq(mail_settings_str(c, NULL, "control_socket"),
	    "/run/dsync/control");
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL, "lock_timeout"),
	    30000);
	ck_assert_str_eq(mail_settings_str(c, NULL, "mail_user"), "");
	ck_assert_str_eq(mail_settings_str(c, NULL, "log"), "syslog");
	ck_assert_str_eq(mail_settings_str(c, NULL, "log_level"), "info");
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL,
	    "full_sync_interval"), 86400000);
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL, "batch_delay"),
	    3);
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL, "retry_min"),
	    1000);
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL, "retry_max"),
	    300000);
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL,
	    "replication_timeout"), 10000);
	ck_assert_uint_eq(mail_settings_uint(c, NULL, "replication_wait"), 0);
	/* an absent unnamed section reads as its defaults */
	ck_assert_str_eq(mail_settings_str(c, NULL, "imap.listen"),
	    "127.0.0.1:1143");
	ck_assert_str_eq(mail_settings_str(c, NULL, "imap.passdb"),
	    "passwd-file:/etc/dsync/passwd");
	mail_conf_free(&c);
}
END_TEST

START_TEST(test_duration)
{
	const struct mail_setting_def d = { "", "t", MAIL_SETTING_DURATION,
		"1s", 1, 86400000, NULL, 0 };

	ck_assert_uint_eq(parse_ok(&d, "250ms"), 250);
	ck_assert_uint_eq(parse_ok(&d, "1ms"), 1);
	ck_assert_uint_eq(parse_ok(&d, "30s"), 30000);
	ck_assert_uint_eq(parse_ok(&d, "30"), 30000);	/* plain: seconds */
	ck_assert_uint_eq(parse_ok(&d, "5m"), 300000);
	ck_assert_uint_eq(parse_ok(&d, "2h"), 7200000);
	ck_assert_uint_eq(parse_ok(&d, "1d"), 86400000);
	ck_assert_uint_eq(parse_ok(&d, "86400"), 86400000);
	ck_assert_uint_eq(parse_ok(&d, "0030s"), 30000);
	parse_bad(&d, "5x", "'t' must be a duration in 1ms..1d (seconds, or "
	    "a number with ms, s, m, h or d), not '5x'");
	parse_bad(&d, "0", "'t' must be a duration in 1ms..1d (seconds, or "
	    "a number with ms, s, m, h or d), not '0'");
	parse_bad(&d, "86401", NULL);
	parse_bad(&d, "2d", NULL);
	parse_bad(&d, "", NULL);
	parse_bad(&d, "s", NULL);
	parse_bad(&d, "-1", NULL);
	parse_bad(&d, "+1", NULL);
	parse_bad(&d, " 1s", NULL);
	parse_bad(&d, "1 s", NULL);
	parse_bad(&d, "1.5s", NULL);
	parse_bad(&d, "1S", NULL);
	parse_bad(&d, "1sec", NULL);
	parse_bad(&d, "99999999999999999999", NULL);	/* over 2^64 */
	parse_bad(&d, "18446744073709551615", NULL);	/* * 1000 overflows */
	parse_bad(&d, "18446744073709551615d", NULL);
	{
		const struct mail_setting_def z = { "", "z",
			MAIL_SETTING_DURATION, "0", 0, 5400000, NULL, 0 };

		ck_assert_uint_eq(parse_ok(&z, "0"), 0);
		ck_assert_uint_eq(parse_ok(&z, "0ms"), 0);
		ck_assert_uint_eq(parse_ok(&z, "90m"), 5400000);
		/* bounds print in the largest unit that divides them */
		parse_bad(&z, "2h", "'z' must be a duration in 0..90m (seconds, "
		    "or a number with ms, s, m, h or d), not '2h'");
	}
}
END_TEST

START_TEST(test_size)
{
	const struct mail_setting_def d = { "", "sz", MAIL_SETTING_SIZE, "0",
		0, 1ULL << 30, NULL, 0 };
	const struct mail_setting_def m = { "", "sz", MAIL_SETTING_SIZE, "1K",
		512, 3 << 20, NULL, 0 };

	ck_assert_uint_eq(parse_ok(&d, "0"), 0);
	ck_assert_uint_eq(parse_ok(&d, "512"), 512);
	ck_assert_uint_eq(parse_ok(&d, "1K"), 1024);
	ck_assert_uint_eq(parse_ok(&d, "1k"), 1024);
	ck_assert_uint_eq(parse_ok(&d, "2M"), 2 << 20);
	ck_assert_uint_eq(parse_ok(&d, "3m"), 3 << 20);
	ck_assert_uint_eq(parse_ok(&d, "1G"), 1 << 30);
	parse_bad(&d, "2G", "'sz' must be a size in 0..1G (bytes, or a number "
	    "with K, M or G), not '2G'");
	parse_bad(&d, "1T", NULL);
	parse_bad(&d, "1KB", NULL);
	parse_bad(&d, "K", NULL);
	parse_bad(&d, "", NULL);
	parse_bad(&d, "1 K", NULL);
	parse_bad(&d, "18446744073709551615G", NULL);
	ck_assert_uint_eq(parse_ok(&m, "512"), 512);
	parse_bad(&m, "511", "'sz' must be a size in 512..3M (bytes, or a "
	    "number with K, M or G), not '511'");
	parse_bad(&m, "4M", NULL);
	ck_assert(mail_settings_is_default(&m, "1024"));
	ck_assert(!mail_settings_is_default(&m, "1025"));
}
END_TEST

START_TEST(test_uint_bool_enum)
{
	const struct mail_setting_def u = { "peer", "compress",
		MAIL_SETTING_UINT, "0", 0, 9, NULL, 0 };
	const struct mail_setting_def u1 = { "", "n", MAIL_SETTING_UINT, "1",
		1, UINT64_MAX, NULL, 0 };
	const struct mail_setting_def b = { "", "paused", MAIL_SETTING_BOOL,
		"no", 0, 0, NULL, 0 };
	const struct mail_setting_def e = { "", "log_level",
		MAIL_SETTING_ENUM, "info", 0, 0,
		"error, warning, info, debug", 0 };
	static const char *const yes[] = { "yes", "true", "on", "1", "YES",
		"True" };
	static const char *const no[] = { "no", "false", "off", "0", "No" };

	ck_assert_uint_eq(parse_ok(&u, "0"), 0);
	ck_assert_uint_eq(parse_ok(&u, "9"), 9);
	parse_bad(&u, "10", "'compress' must be a number in 0..9, not '10'");
	parse_bad(&u, "-1", NULL);
	parse_bad(&u, "", NULL);
	parse_bad(&u, "1x", NULL);
	parse_bad(&u, "0x1", NULL);
	ck_assert_uint_eq(parse_ok(&u1, "18446744073709551615"), UINT64_MAX);
	parse_bad(&u1, "18446744073709551616", NULL);
	parse_bad(&u1, "0", "'n' must be a number in 1..18446744073709551615, "
	    "not '0'");

	for (size_t i = 0; i < N_ELEMENTS(yes); i++)
		ck_assert_uint_eq(parse_ok(&b, yes[i]), 1);
	for (size_t i = 0; i < N_ELEMENTS(no); i++)
		ck_assert_uint_eq(parse_ok(&b, no[i]), 0);
	parse_bad(&b, "maybe", "'paused' must be yes or no (true/false, "
	    "on/off, 1/0), not 'maybe'");
	parse_bad(&b, "", NULL);
	parse_bad(&b, "y", NULL);
	ck_assert(mail_settings_is_default(&b, "off"));
	ck_assert(!mail_settings_is_default(&b, "on"));
	ck_assert(!mail_settings_is_default(&b, "bad"));

	ck_assert_uint_eq(parse_ok(&e, "error"), 0);
	ck_assert_uint_eq(parse_ok(&e, "warning"), 1);
	ck_assert_uint_eq(parse_ok(&e, "info"), 2);
	ck_assert_uint_eq(parse_ok(&e, "debug"), 3);
	parse_bad(&e, "trace", "'log_level' must be one of error, warning, "
	    "info, debug, not 'trace'");
	parse_bad(&e, "", NULL);
	parse_bad(&e, "Info", NULL);
	parse_bad(&e, "info,", NULL);
	parse_bad(&e, "err", NULL);
	parse_bad(&e, "error, warning", NULL);
}
END_TEST

START_TEST(test_text_types)
{
	const struct mail_setting_def p = { "", "store", MAIL_SETTING_PATH,
		"/var/lib/dsync/store", 0, 0, NULL, 0 };
	const struct mail_setting_def pe = { "peer", "identity_file",
		MAIL_SETTING_PATH, "", 0, 0, NULL, 0 };
	const struct mail_setting_def sf = { "peer", "passphrase_file",
		MAIL_SETTING_SECRET, "", 0, 0, NULL, 0 };
	const struct mail_setting_def s = { "imap", "listen", MAIL_SETTING_STR,
		"x", 0, 0, NULL, 0 };
	const struct mail_setting_def r = { "peer", "url", MAIL_SETTING_STR,
		"", 0, 0, NULL, MAIL_SETTING_REQUIRED };

	parse_ok(&p, "/srv/store");
	parse_ok(&p, "/");
	parse_bad(&p, "srv/store", "'store' must be an absolute path, not "
	    "'srv/store'");
	parse_bad(&p, "", NULL);
	parse_bad(&p, "~/store", NULL);
	parse_ok(&pe, "");
	parse_ok(&pe, "/root/.ssh/id_ed25519");
	parse_bad(&pe, "id_ed25519", "'identity_file' must be an absolute "
	    "path or empty, not 'id_ed25519'");
	/* a secret file is only a path at check time: no stat */
	parse_ok(&sf, "/nonexistent/secret");
	parse_bad(&sf, "secret", NULL);
	parse_ok(&s, "");
	parse_ok(&s, "[::1]:1143, 127.0.0.1:143");
	parse_ok(&s, "tab\there");
	parse_bad(&s, "a\rb", "'listen' must not contain control characters");
	parse_bad(&s, "a\nb", NULL);
	parse_bad(&s, "\"q\" # x", "'listen' can not both start with '\"' "
	    "and need quotes");
	parse_ok(&r, "ssh://beta/x");
	parse_bad(&r, "", "'url' must not be empty");
	ck_assert(mail_settings_is_default(&p, "/var/lib/dsync/store"));
	ck_assert(!mail_settings_is_default(&p, "/var/lib/dsync/store/"));
}
END_TEST

START_TEST(test_check_errors)
{
	static const char *const o_lock[] = { "lock_timeout=1h1m", NULL };
	static const char *const o_peer[] = { "peer.beta.compress=10", NULL };
	static const char *const o_imap[] = { "imap.bogus=1", NULL };
	static const char *const o_top[] = { "bogus=1", NULL };
	static const char *const o_retry[] = { "retry_min=2s", "retry_max=1s",
		NULL };
	static const char twice[] = "peer beta {\nurl = x\n}\n"
	    "peer beta {\nurl = y\n}\n";
	static const char *const o_quote[] = { "node=\"a\" #", NULL };
	struct mail_conf *c = NULL;
	struct mail_err err;

	check_fails("node = a\nbogus = 1\n", NULL,
	    "t.conf:2: unknown setting 'bogus'");
	check_fails("peer beta {\n url = x\n bogus = 1\n}\n", NULL,
	    "t.conf:3: unknown peer setting 'bogus'");
	check_fails("imap {\n store = /x\n}\n", NULL,
	    "t.conf:2: unknown imap setting 'store'");
	check_fails("\nsmtp {\n}\n", NULL,
	    "t.conf:2: unknown section 'smtp' (known: peer, imap)");
	check_fails("peer {\n url = x\n}\n", NULL,
	    "t.conf:1: section 'peer' needs a name ('peer NAME {')");
	check_fails("imap main {\n}\n", NULL,
	    "t.conf:1: section 'imap' takes no name, not 'main'");
	check_fails("store = /s\npeer beta {\n compress = 1\n}\n", NULL,
	    "t.conf:2: section 'peer beta' has no 'url'");
	check_fails("peer beta {\n url =\n}\n", NULL,
	    "t.conf:2: 'url' must not be empty");
	check_fails("peer beta {\n url = x\n compress = 10\n}\n", NULL,
	    "t.conf:3: 'compress' must be a number in 0..9, not '10'");
	check_fails("log = file\n", NULL,
	    "t.conf:1: 'log' must be one of stderr, syslog, not 'file'");
	check_fails("peer beta {\n url = x\n paused = maybe\n}\n", NULL,
	    "t.conf:3: 'paused' must be yes or no (true/false, on/off, 1/0), "
	    "not 'maybe'");
	check_fails("store = var/lib\n", NULL,
	    "t.conf:1: 'store' must be an absolute path, not 'var/lib'");
	check_fails("lock_timeout = 3601\n", NULL,
	    "t.conf:1: 'lock_timeout' must be a duration in 0..1h (seconds, "
	    "or a number with ms, s, m, h or d), not '3601'");
	check_fails("replication_wait = 65\n", NULL,
	    "t.conf:1: 'replication_wait' must be a number in 0..64, not "
	    "'65'");
	check_fails("retry_min = 10m\n", NULL,
	    "t.conf:1: 'retry_min' (10m) must not be more than 'retry_max' "
	    "(5m)");
	/* values from -o have no line */
	check_fails("lock_timeout = 10\n", o_lock,
	    "-o lock_timeout: 'lock_timeout' must be a duration in 0..1h "
	    "(seconds, or a number with ms, s, m, h or d), not '1h1m'");
	check_fails("peer beta {\n url = x\n}\n", o_peer,
	    "-o peer.beta.compress: 'compress' must be a number in 0..9, not "
	    "'10'");
	check_fails("imap {\n}\n", o_imap, "-o imap.bogus: unknown imap "
	    "setting 'bogus'");
	check_fails("", o_top, "-o bogus: unknown setting 'bogus'");
	check_fails("", o_retry, "-o retry_min: 'retry_min' (2s) must not be "
	    "more than 'retry_max' (1s)");
	check_fails("", o_quote, "-o node: 'node' can not both start with "
	    "'\"' and need quotes");

	/* duplicates are refused by the parser, naming both lines */
	ck_assert_int_eq(mail_conf_parse("t.conf", twice, sizeof(twice) - 1,
	    &c, &err), -1);
	ck_assert_str_eq(err.msg, "t.conf:4: section 'peer beta' defined "
	    "twice (first at line 1)");
	ck_assert_int_eq(mail_conf_parse("t.conf", "node = a\nnode = b\n", 18,
	    &c, &err), -1);
	ck_assert_str_eq(err.msg, "t.conf:2: 'node' set twice (first at line "
	    "1)");
}
END_TEST

START_TEST(test_getters)
{
	struct mail_conf *c = conf_ok(
	    "store = /srv/store\n"
	    "node = alpha\n"
	    "lock_timeout = 5\n"
	    "log_level = debug\n"
	    "batch_delay = 250ms\n"
	    "peer beta {\n"
	    "  url = ssh://beta/srv/store\n"
	    "  compress = 6\n"
	    "  paused = on\n"
	    "  timeout = 2m\n"
	    "  ssh_command = \"ssh -p 2222 # via bastion\"\n"
	    "}\n"
	    "peer gamma {\n"
	    "  url = /local/gamma\n"
	    "}\n"
	    "imap {\n"
	    "  listen = [::1]:1143\n"
	    "}\n");
	const struct mail_conf_section *beta, *gamma, *imap;
	struct mail_err err;

	beta = mail_conf_section(c, "peer", "beta");
	gamma = mail_conf_section(c, "peer", "gamma");
	imap = mail_conf_section(c, "imap", "");
	ck_assert_str_eq(mail_settings_str(c, NULL, "store"), "/srv/store");
	ck_assert_str_eq(mail_settings_str(c, NULL, "node"), "alpha");
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL, "lock_timeout"),
	    5000);
	ck_assert_str_eq(mail_settings_str(c, NULL, "log_level"), "debug");
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL, "batch_delay"),
	    250);
	ck_assert_str_eq(mail_settings_str(c, beta, "url"),
	    "ssh://beta/srv/store");
	ck_assert_uint_eq(mail_settings_uint(c, beta, "compress"), 6);
	ck_assert(mail_settings_bool(c, beta, "paused"));
	ck_assert(!mail_settings_bool(c, beta, "accept_new_host_key"));
	ck_assert_uint_eq(mail_settings_duration_ms(c, beta, "timeout"),
	    120000);
	ck_assert_str_eq(mail_settings_str(c, beta, "ssh_command"),
	    "ssh -p 2222 # via bastion");
	ck_assert_str_eq(mail_settings_str(c, beta, "remote_dsync"), "dsync");
	ck_assert_str_eq(mail_settings_str(c, beta, "passphrase_file"), "");
	ck_assert_str_eq(mail_settings_str(c, gamma, "url"), "/local/gamma");
	ck_assert_uint_eq(mail_settings_uint(c, gamma, "compress"), 0);
	ck_assert(!mail_settings_bool(c, gamma, "paused"));
	ck_assert_uint_eq(mail_settings_duration_ms(c, gamma, "timeout"),
	    120000);
	ck_assert_str_eq(mail_settings_str(c, imap, "listen"), "[::1]:1143");
	ck_assert_str_eq(mail_settings_str(c, NULL, "imap.listen"),
	    "[::1]:1143");
	ck_assert_str_eq(mail_settings_str(c, imap, "passdb"),
	    "passwd-file:/etc/dsync/passwd");

	/* -o replaces a value from the file, and a re-check accepts it */
	ck_assert_int_eq(mail_conf_override(c, "lock_timeout=1m", &err), 0);
	ck_assert_int_eq(mail_conf_override(c, "peer.gamma.paused=yes", &err),
	    0);
	ck_assert_int_eq(mail_conf_override(c, "imap.passdb=passwd-file:/x",
	    &err), 0);
	ck_assert_int_eq(mail_settings_check(c, &err), 0);
	ck_assert_uint_eq(mail_settings_duration_ms(c, NULL, "lock_timeout"),
	    60000);
	ck_assert(mail_settings_bool(c, gamma, "paused"));
	ck_assert_str_eq(mail_settings_str(c, NULL, "imap.passdb"),
	    "passwd-file:/x");
	mail_conf_free(&c);
}
END_TEST

START_TEST(test_secret)
{
	char *tmp = testlib_tmpdir();
	char *p = mail_xasprintf("%s/pass", tmp);
	char *msg;
	char buf[16];
	struct mail_err err;

	testlib_write_file(p, "s3cret\nsecond line\n", 19);
	ck_assert_int_eq(chmod(p, 0600), 0);
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    0);
	ck_assert_str_eq(buf, "s3cret");
	for (size_t i = 6; i < sizeof(buf); i++)
		ck_assert_int_eq(buf[i], '\0');	/* the rest is wiped */
	ck_assert_int_eq(chmod(p, 0400), 0);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    0);

	/* readable by others: refused, buffer wiped */
	ck_assert_int_eq(chmod(p, 0644), 0);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PERM);
	msg = mail_xasprintf("secret file '%s' is accessible by group or "
	    "others (mode 0644; chmod 600 it)", p);
	ck_assert_str_eq(err.msg, msg);
	free(msg);
	ck_assert_int_eq(buf[0], '\0');
	ck_assert_int_eq(chmod(p, 0620), 0);	/* group-writable */
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    -1);
	ck_assert_int_eq(chmod(p, 0604), 0);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    -1);

	/* CRLF, no final newline, a line that just fits, one too long */
	testlib_write_file(p, "pw\r\n", 4);
	ck_assert_int_eq(chmod(p, 0600), 0);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    0);
	ck_assert_str_eq(buf, "pw");
	testlib_write_file(p, "123456789012345", 15);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    0);
	ck_assert_str_eq(buf, "123456789012345");
	testlib_write_file(p, "1234567890123456\n", 17);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(err.msg, "is longer than 15 bytes"));
	testlib_write_file(p, "\nlater\n", 7);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "starts with an empty line"));
	testlib_write_file(p, "", 0);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    -1);
	testlib_write_file(p, "a\0b\n", 4);
	ck_assert_int_eq(mail_settings_read_secret(p, buf, sizeof(buf), &err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "holds a NUL byte"));

	/* missing; not a regular file */
	ck_assert_int_eq(mail_settings_read_secret("/nonexistent/pass", buf,
	    sizeof(buf), &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg,
	    "open secret file '/nonexistent/pass'"));
	ck_assert_int_eq(chmod(tmp, 0700), 0);
	ck_assert_int_eq(mail_settings_read_secret(tmp, buf, sizeof(buf),
	    &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_ptr_nonnull(strstr(err.msg, "is not a regular file"));

	free(p);
	testlib_rmdir_r(tmp);
	free(tmp);
}
END_TEST

Suite *test_mail_settings_suite(void);
Suite *
test_mail_settings_suite(void)
{
	Suite *s = suite_create("mail_settings");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_uint_bool_enum);
	tcase_add_test(tc, test_text_types);
	tcase_add_test(tc, test_check_errors);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_secret);
	suite_add_tcase(s, tc);
	return s;
}
