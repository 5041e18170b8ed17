/*
 * mail_daemon.c: signals and systemd notification for the daemons; see
 * mail_daemon.h.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mail_daemon.h"

int
mail_daemon_notify(const char *state, struct mail_err *err)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd, ret = 1;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa.sun_path))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return mail_err_sys(err, errno, "socket for NOTIFY_SOCKET");
	if (sendto(fd, state, strlen(state), 0, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		ret = mail_err_sys(err, errno, "notifying systemd at '%s'",
		    path);
	close(fd);
	return ret;
}

int
mail_daemon_signalfd(const int *sigs, size_t n, struct mail_err *err)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return mail_err_sys(err, errno, "sigprocmask");
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return mail_err_sys(err, errno, "signalfd");
	return fd;
}

int
mail_daemon_args(int argc, char **argv, const char **config_r,
    bool *foreground_r)
{
	int ch;

	*foreground_r = false;
	while ((ch = getopt(argc, argv, "c:F")) != -1) {
		switch (ch) {
		case 'c':
			*config_r = optarg;
			break;
		case 'F':
			*foreground_r = true;
			break;
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int
mail_daemon_become(const char *user, const char *group_path,
    struct mail_err *err)
{
	struct passwd *pw;

	if (user[0] == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "mail_user '%s': no such user", user);
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			return mail_err_set(err, MAIL_ERR_PERM, "mail_user is "
			    "'%s' but we run as uid %d (start as root or as "
			    "that user)", user, (int)geteuid());
		return 0;
	}
	if (group_path != NULL && chown(group_path, 0, pw->pw_gid) < 0)
		return mail_err_sys(err, errno, "chown '%s'", group_path);
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0)
		return mail_err_sys(err, errno, "becoming user '%s'", user);
	setenv("HOME", pw->pw_dir, 1);
	setenv("USER", user, 1);
	return 0;
}
