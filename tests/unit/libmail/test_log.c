/*
 * test_log.c: program logging. stderr is redirected to a pipe to check
 * the line format, level filtering, escaping of control characters,
 * truncation, the strerror suffix and that errno survives; fatal() runs
 * in a child to see its line and exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "mail_util.h"
#include "testlib.h"

static int cap_pipe[2] = { -1, -1 };
static int cap_saved = -1;
static char cap_buf[65536];

/* Send stderr into a pipe until capture_end(). */
static void
capture_start(void)
{
	ck_assert_int_eq(pipe(cap_pipe), 0);
	ck_assert_int_eq(fcntl(cap_pipe[0], F_SETFL, O_NONBLOCK), 0);
	cap_saved = dup(STDERR_FILENO);
	ck_assert_int_ge(cap_saved, 0);
	ck_assert_int_eq(dup2(cap_pipe[1], STDERR_FILENO), STDERR_FILENO);
}

/* Restore stderr; returns what was written (NUL-terminated, static). */
static const char *
capture_end(void)
{
	size_t len = 0;
	ssize_t n;

	ck_assert_int_eq(dup2(cap_saved, STDERR_FILENO), STDERR_FILENO);
	close(cap_saved);
	close(cap_pipe[1]);
	while ((n = read(cap_pipe[0], cap_buf + len,
	    sizeof(cap_buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(cap_pipe[0]);
	cap_buf[len] = '\0';
	return cap_buf;
}

/* The message part of a single stderr line "... ident[pid]: " */
static const char *
message_of(const char *line)
{
	const char *p = strstr(line, "]: ");

	ck_assert_ptr_nonnull(p);
	return p + 3;
}

static void
assert_matches(const char *s, const char *re)
{
	regex_t rx;

	ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&rx, s, 0, NULL, 0) == 0, "'%s' !~ /%s/", s,
	    re);
	regfree(&rx);
}

START_TEST(test_format)
{
	char re[256];
	const char *out;

	log_init("tst-log", false, LOG_LEVEL_DEBUG);
	capture_start();
	log_info("hello %d %s", 42, "world");
	out = capture_end();
	snprintf(re, sizeof(re),
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	    "\\.[0-9]{3}Z tst-log\\[%ld\\]: info: hello 42 world\n$",
	    (long)getpid());
	assert_matches(out, re);

	capture_start();
	log_debug("d");
	log_warnx("w");
	log_error("e");
	out = capture_end();
	snprintf(re, sizeof(re),
	    "^[^\n]*Z tst-log\\[%ld\\]: debug: d\n"
	    "[^\n]*Z tst-log\\[%ld\\]: warning: w\n"
	    "[^\n]*Z tst-log\\[%ld\\]: error: e\n$",
	    (long)getpid(), (long)getpid(), (long)getpid());
	assert_matches(out, re);
}
END_TEST

START_TEST(test_levels)
{
	enum log_level lv;
	const char *out;

	log_init("t", false, LOG_LEVEL_WARNING);
	ck_assert(log_level_enabled(LOG_LEVEL_ERROR));
	ck_assert(log_level_enabled(LOG_LEVEL_WARNING));
	ck_assert(!log_level_enabled(LOG_LEVEL_INFO));
	capture_start();
	log_debug("no-debug");
	log_info("no-info");
	log_warnx("yes-warn");
	log_error("yes-error");
	out = capture_end();
	ck_assert_ptr_null(strstr(out, "no-"));
	ck_assert_ptr_nonnull(strstr(out, "warning: yes-warn\n"));
	ck_assert_ptr_nonnull(strstr(out, "error: yes-error\n"));

	log_init("t", false, LOG_LEVEL_ERROR);
	capture_start();
	log_warn("no-warn");
	log_warnx("no-warnx");
	log_error("only");
	out = capture_end();
	ck_assert_ptr_null(strstr(out, "no-"));
	ck_assert_str_eq(message_of(out), "error: only\n");

	/* switch to syslog (nothing on stderr) and back */
	log_init("t", true, LOG_LEVEL_DEBUG);
	capture_start();
	log_info("to syslog");
	out = capture_end();
	ck_assert_str_eq(out, "");
	log_init("t2", false, LOG_LEVEL_DEBUG);
	capture_start();
	log_debug("back");
	out = capture_end();
	ck_assert_ptr_nonnull(strstr(out, " t2["));
	ck_assert_str_eq(message_of(out), "debug: back\n");

	/* parsing level words */
	ck_assert_int_eq(log_level_parse("error", &lv), 0);
	ck_assert_int_eq(lv, LOG_LEVEL_ERROR);
	ck_assert_int_eq(log_level_parse("warning", &lv), 0);
	ck_assert_int_eq(lv, LOG_LEVEL_WARNING);
	ck_assert_int_eq(log_level_parse("info", &lv), 0);
	ck_assert_int_eq(lv, LOG_LEVEL_INFO);
	ck_assert_int_eq(log_level_parse("debug", &lv), 0);
	ck_assert_int_eq(lv, LOG_LEVEL_DEBUG);
	lv = LOG_LEVEL_INFO;
	ck_assert_int_eq(log_level_parse("Debug", &lv), -1);
	ck_assert_int_eq(log_level_parse("warn", &lv), -1);
	ck_assert_int_eq(log_level_parse("errors", &lv), -1);
	ck_assert_int_eq(log_level_parse("", &lv), -1);
	ck_assert_int_eq(lv, LOG_LEVEL_INFO);
}
END_TEST

START_TEST(test_sanitize)
{
	const char *out;

	log_init("t", false, LOG_LEVEL_INFO);
	capture_start();
	/* a peer-chosen name trying to forge a second line */
	log_info("user=%s tab=[\t] del=[\x7f] esc=[\x1b] utf8=[\xc3\xa9]",
	    "bob\r\n2026-01-01T00:00:00.000Z t[1]: info: login user=root");
	out = capture_end();
	ck_assert_str_eq(message_of(out),
	    "info: user=bob\\x0d\\x0a2026-01-01T00:00:00.000Z t[1]: info: "
	    "login user=root tab=[\\x09] del=[\\x7f] esc=[\\x1b] "
	    "utf8=[\xc3\xa9]\n");
	/* exactly one line */
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
}
END_TEST

static void
assert_truncated(const char *out)
{
	size_t len = strlen(out);

	ck_assert_uint_eq(out[len - 1], '\n');
	ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
	ck_assert_uint_le(len - 1, LOG_LINE_MAX);
	ck_assert_uint_ge(len - 1, LOG_LINE_MAX - 4);
	ck_assert_int_eq(strncmp(out + len - 4, "...\n", 4), 0);
}

START_TEST(test_truncate)
{
	char *big = mail_xmalloc(5001);
	const char *out, *msg;
	size_t len;

	log_init("t", false, LOG_LEVEL_INFO);
	memset(big, 'a', 5000);
	big[5000] = '\0';
	capture_start();
	log_info("%s", big);
	out = capture_end();
	assert_truncated(out);
	ck_assert_uint_eq(strlen(out), LOG_LINE_MAX + 1);

	/* exactly at the limit: not cut */
	msg = NULL;
	capture_start();
	log_info("x");
	len = strlen(capture_end()) - 2;	/* prefix length */
	big[LOG_LINE_MAX - len] = '\0';
	capture_start();
	log_info("%s", big);
	out = capture_end();
	ck_assert_uint_eq(strlen(out), LOG_LINE_MAX + 1);
	ck_assert_ptr_null(strstr(out, "..."));
	big[LOG_LINE_MAX - len] = 'a';
	big[LOG_LINE_MAX - len + 1] = '\0';
	capture_start();
	log_info("%s", big);
	out = capture_end();
	assert_truncated(out);

	/* escapes are never cut in half */
	for (int shift = 0; shift < 4; shift++) {
		memset(big, '\n', 5000);
		memset(big, 'b', (size_t)shift);
		capture_start();
		log_info("%s", big);
		out = capture_end();
		assert_truncated(out);
		msg = message_of(out) + strlen("info: ") + shift;
		len = strlen(msg) - 4;		/* without "...\n" */
		ck_assert_uint_eq(len % 4, 0);
		for (size_t i = 0; i < len; i += 4)
			ck_assert_int_eq(strncmp(msg + i, "\\x0a", 4), 0);
	}

	/* nor are UTF-8 characters (2, 3 and 4 bytes), at every offset */
	for (int v = 0; v < 9; v++) {
		static const char *const chars[] = { "\xc3\xa9",
		    "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
		const char *ch = chars[v < 2 ? 0 : v < 5 ? 1 : 2];
		size_t cl = strlen(ch), shift = (size_t)(v < 2 ? v :
		    v < 5 ? v - 2 : v - 5);

		for (size_t i = 0; i + cl <= 4800; i += cl)
			memcpy(big + i, ch, cl);
		big[4800] = '\0';
		memset(big, 'c', shift);
		capture_start();
		log_info("%s", big);
		out = capture_end();
		assert_truncated(out);
		msg = message_of(out) + strlen("info: ") + shift;
		len = strlen(msg) - 4;
		/* the 'c's overwrote the lead byte of the first one */
		while (((unsigned char)*msg & 0xc0) == 0x80)
			msg++, len--;
		ck_assert_uint_eq(len % cl, 0);
		for (size_t i = 0; i < len; i += cl)
			ck_assert_int_eq(memcmp(msg + i, ch, cl), 0);
	}

	/* log_warn keeps the strerror suffix on a cut message */
	memset(big, 'd', 5000);
	big[5000] = '\0';
	errno = ENOSPC;
	capture_start();
	log_warn("%s", big);
	out = capture_end();
	len = strlen(out);
	ck_assert_uint_le(len - 1, LOG_LINE_MAX);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_str_eq(out + len - strlen("...: No space left on device\n"),
	    "...: No space left on device\n");
	free(big);
}
END_TEST

START_TEST(test_warn_errno)
{
	const char *out;

	log_init("t", false, LOG_LEVEL_DEBUG);
	capture_start();
	errno = ENOENT;
	log_warn("open '%s'", "/nonexistent");
	ck_assert_int_eq(errno, ENOENT);
	out = capture_end();
	ck_assert_str_eq(message_of(out),
	    "warning: open '/nonexistent': No such file or directory\n");

	/* the others keep errno too, and do not append it */
	capture_start();
	errno = EIO;
	log_warnx("a");
	ck_assert_int_eq(errno, EIO);
	log_info("b");
	ck_assert_int_eq(errno, EIO);
	log_debug("c");
	ck_assert_int_eq(errno, EIO);
	log_error("d");
	ck_assert_int_eq(errno, EIO);
	/* a filtered-out message too */
	log_init("t", false, LOG_LEVEL_ERROR);
	ck_assert_int_eq(errno, EIO);
	log_info("hidden");
	ck_assert_int_eq(errno, EIO);
	out = capture_end();
	ck_assert_ptr_null(strstr(out, "Input/output"));
	ck_assert_ptr_null(strstr(out, "hidden"));
}
END_TEST

/* Run fn in a child with stderr on a pipe; returns its output and sets
 * *status_r. */
static const char *
run_child(void (*fn)(void), int *status_r)
{
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		fn();
		_exit(99);
	}
	close(p[1]);
	while ((n = read(p[0], cap_buf + len, sizeof(cap_buf) - 1 - len)) > 0)
		len += (size_t)n;
	cap_buf[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, status_r, 0), pid);
	return cap_buf;
}

static void
do_fatal(void)
{
	log_init("t", false, LOG_LEVEL_ERROR);
	errno = EACCES;
	fatal("cannot open '%s'", "x\ny");
}

static void
do_fatalx(void)
{
	log_init("t", false, LOG_LEVEL_ERROR);
	errno = EACCES;
	fatalx("unhandled frame type %u", 7u);
}

START_TEST(test_fatal)
{
	const char *out;
	int status;

	out = run_child(do_fatal, &status);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert_str_eq(message_of(out),
	    "fatal: cannot open 'x\\x0ay': Permission denied\n");
	out = run_child(do_fatalx, &status);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert_str_eq(message_of(out), "fatal: unhandled frame type 7\n");
}
END_TEST

Suite *test_log_suite(void);
Suite *
test_log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_sanitize);
	tcase_add_test(tc, test_truncate);
	tcase_add_test(tc, test_warn_errno);
	tcase_add_test(tc, test_fatal);
	suite_add_tcase(s, tc);
	return s;
}
