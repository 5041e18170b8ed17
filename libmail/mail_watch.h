/*
 * mail_watch.h: waiting for changes to users' change logs, with inotify.
 * One watcher (one inotify fd) serves any number of users, so a process
 * with thousands of sessions does not need thousands of fds; its fd can be
 * added to an event loop. Wake-ups are hints: after one, callers refresh
 * the user (mail_user_refresh) and read whatever the log tail holds.
 */
#ifndef MAIL_WATCH_H
#define MAIL_WATCH_H

#include "mail_store.h"

struct mail_watch;

/* A new watcher. Returns 0 and sets *w_r, or -1 (inotify limits). */
int	mail_watch_new(struct mail_watch **w_r, struct mail_err *err)
	    WARN_UNUSED;
void	mail_watch_free(struct mail_watch **wp);
/* The inotify fd, readable when something changed. */
int	mail_watch_fd(const struct mail_watch *w);
/* Watch user's directory (its log, and a log replaced by repair). Returns
 * an id >= 0 for mail_watch_wait's results, or -1. */
int	mail_watch_add(struct mail_watch *w, const struct mail_user *user,
	    struct mail_err *err) WARN_UNUSED;
/* Watch the user directory dir (STORE/users/NAME) without opening the
 * user, for processes that watch every user of a store. */
int	mail_watch_add_dir(struct mail_watch *w, const char *dir,
	    struct mail_err *err) WARN_UNUSED;
/* Wait up to timeout_ms (-1: forever) for a change to a watched log.
 * Returns 1 and sets *id_r to the id of one changed user (call again with
 * timeout 0 to drain others), 0 on timeout, -1 on error. */
int	mail_watch_wait(struct mail_watch *w, int timeout_ms, int *id_r,
	    struct mail_err *err) WARN_UNUSED;

#endif
