/*
 * test_mail_daemon.c: the daemons' shared start-up pieces: the command
 * line, sd_notify datagrams (to a path and to the abstract namespace),
 * and the signalfd.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mail_daemon.h"
#include "testlib.h"

static int
parse(const char *const *args, int n, const char **config, bool *fg)
{
	char *argv[8];

	for (int i = 0; i < n; i++)
		argv[i] = (char *)(uintptr_t)args[i];
	argv[n] = NULL;
	optind = 0;	/* glibc: full re-initialization */
	return mail_daemon_args(n, argv, config, fg);
}

START_TEST(test_args)
{
	const char *config = "default";
	bool fg = true;

	ck_assert_int_eq(parse((const char *[]){ "d" }, 1, &config, &fg), 0);
	ck_assert_str_eq(config, "default");
	ck_assert(!fg);
	ck_assert_int_eq(parse((const char *[]){ "d", "-c", "/x.conf", "-F" },
	    4, &config, &fg), 0);
	ck_assert_str_eq(config, "/x.conf");
	ck_assert(fg);
	opterr = 0;
	ck_assert_int_eq(parse((const char *[]){ "d", "-x" }, 2, &config,
	    &fg), -1);
	ck_assert_int_eq(parse((const char *[]){ "d", "extra" }, 2, &config,
	    &fg), -1);
	ck_assert_int_eq(parse((const char *[]){ "d", "-c" }, 2, &config,
	    &fg), -1);
}
END_TEST

/* A datagram socket bound to name (a path, or "@abstract"). */
static int
listener(const char *name)
{
	struct sockaddr_un sa;
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

START_TEST(test_notify)
{
	struct mail_err err;
	char *dir = testlib_tmpdir(), *path, abstract[64], buf[64];
	ssize_t n;
	int fd;

	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(mail_daemon_notify("READY=1", &err), 0);
	setenv("NOTIFY_SOCKET", "relative", 1);
	ck_assert_int_eq(mail_daemon_notify("READY=1", &err), 0);

	path = mail_xasprintf("%s/notify", dir);
	fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	ck_assert_int_eq(mail_daemon_notify("READY=1", &err), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, 7);
	ck_assert(memcmp(buf, "READY=1", 7) == 0);
	close(fd);

	snprintf(abstract, sizeof(abstract), "@mail-daemon-test-%d",
	    (int)getpid());
	fd = listener(abstract);
	setenv("NOTIFY_SOCKET", abstract, 1);
	ck_assert_int_eq(mail_daemon_notify("STOPPING=1", &err), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	ck_assert_int_eq(n, 10);
	close(fd);

	/* nobody listening: an error that names the socket */
	setenv("NOTIFY_SOCKET", path, 1);
	unlink(path);
	ck_assert_int_eq(mail_daemon_notify("READY=1", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	unsetenv("NOTIFY_SOCKET");
	free(path);
	testlib_rmdir_r(dir);
	free(dir);
}
END_TEST

START_TEST(test_signalfd)
{
	static const int sigs[] = { SIGUSR1 };
	struct signalfd_siginfo si;
	struct mail_err err;
	int fd = mail_daemon_signalfd(sigs, 1, &err);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, &si, sizeof(si)), -1);	/* none yet */
	kill(getpid(), SIGUSR1);
	ck_assert_int_eq(read(fd, &si, sizeof(si)), (int)sizeof(si));
	ck_assert_uint_eq(si.ssi_signo, SIGUSR1);
	close(fd);
}
END_TEST

START_TEST(test_become_self)
{
	struct mail_err err;

	/* "" is a no-op; an unknown user is an error naming it */
	ck_assert_int_eq(mail_daemon_become("", NULL, &err), 0);
	ck_assert_int_eq(mail_daemon_become("no-such-user-x9", NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no-such-user-x9"));
}
END_TEST

Suite *test_mail_daemon_suite(void);
Suite *
test_mail_daemon_suite(void)
{
	Suite *s = suite_create("mail_daemon");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_args);
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_signalfd);
	tcase_add_test(tc, test_become_self);
	suite_add_tcase(s, tc);
	return s;
}
