/*
 * mail_daemon.h: what the daemons (dsyncd, imapd) share at start-up:
 * signals as a file descriptor for the event loop, and telling systemd
 * about their state (sd_notify(3) without libsystemd) under Type=notify
 * units.
 */
#ifndef MAIL_DAEMON_H
#define MAIL_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include "mail_err.h"

/* Send state ("READY=1", "STOPPING=1") as one datagram to
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace). Returns
 * 1 when sent, 0 when not run by systemd (no usable $NOTIFY_SOCKET), or
 * -1 with err when sending failed. */
int	mail_daemon_notify(const char *state, struct mail_err *err)
	    WARN_UNUSED;
/* Ignore SIGPIPE, block the n signals sigs and return a non-blocking,
 * close-on-exec signalfd that reads them, or -1 with err. */
int	mail_daemon_signalfd(const int *sigs, size_t n, struct mail_err *err)
	    WARN_UNUSED;

/* Become user (mail_user; "" means stay as we are) when running as
 * root: groups, gid, uid, then $HOME and $USER. group_path, if not NULL,
 * is first given to root and user's group (dsyncd's control socket).
 * Not root: fine if we already are user, else an error naming both.
 * Returns 0 or -1 with err. */
int	mail_daemon_become(const char *user, const char *group_path,
	    struct mail_err *err) WARN_UNUSED;
/* The daemons' command line, "[-c CONFIG] [-F]": sets *config_r (left
 * as it is without -c) and *foreground_r. Returns 0, or -1 for anything
 * else (the caller prints its usage). */
int	mail_daemon_args(int argc, char **argv, const char **config_r,
	    bool *foreground_r) WARN_UNUSED;

#endif
