/*
 * mail_watch.c: inotify on user directories. We watch the directory, not
 * the log file, so a log replaced by "check --repair" (rename over it) is
 * still seen; events for other files (the lock, snapshot temp files) are
 * filtered out by name.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/inotify.h>

#include "mail_watch.h"

struct mail_watch {
	int	 fd;
	int	*id_of_wd;	/* inotify watch descriptor -> id + 1 (0:
				 * none); wds are small increasing ints */
	size_t	 cap_wd;
	size_t	 n;		/* ids given */
	bool	*is_pending;	/* per id */
	size_t	 cap_is;
	int	*pending;	/* ids changed but not yet returned */
	size_t	 n_pending, cap_pending;
};

int
mail_watch_new(struct mail_watch **w_r, struct mail_err *err)
{
	struct mail_watch *w;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		return mail_err_sys(err, errno, "inotify_init1");
	w = mail_xcalloc(1, sizeof(*w));
	w->fd = fd;
	*w_r = w;
	return 0;
}

void
mail_watch_free(struct mail_watch **wp)
{
	struct mail_watch *w = *wp;

	if (w == NULL)
		return;
	close(w->fd);
	free(w->id_of_wd);
	free(w->is_pending);
	free(w->pending);
	free(w);
	*wp = NULL;
}

int
mail_watch_fd(const struct mail_watch *w)
{
	return w->fd;
}

int
mail_watch_add_dir(struct mail_watch *w, const char *dir,
    struct mail_err *err)
{
	int wd = inotify_add_watch(w->fd, dir,
	    IN_MODIFY | IN_MOVED_TO | IN_CREATE);
	size_t old_cap = w->cap_wd, old_is = w->cap_is;

	if (wd < 0)
		return mail_err_sys(err, errno, "inotify_add_watch '%s'", dir);
	if ((size_t)wd < old_cap && w->id_of_wd[wd] != 0)
		return w->id_of_wd[wd] - 1;	/* watched already */
	w->id_of_wd = mail_xgrow(w->id_of_wd, &w->cap_wd, (size_t)wd + 1,
	    sizeof(*w->id_of_wd));
	memset(w->id_of_wd + old_cap, 0,
	    (w->cap_wd - old_cap) * sizeof(*w->id_of_wd));
	w->is_pending = mail_xgrow(w->is_pending, &w->cap_is, w->n + 1,
	    sizeof(*w->is_pending));
	memset(w->is_pending + old_is, 0,
	    (w->cap_is - old_is) * sizeof(*w->is_pending));
	w->id_of_wd[wd] = (int)w->n + 1;
	return (int)w->n++;
}

int
mail_watch_add(struct mail_watch *w, const struct mail_user *user,
    struct mail_err *err)
{
	char *dir = mail_xstrdup(mail_user_log_path(user));
	int id = mail_watch_add_dir(w, dirname(dir), err);

	free(dir);
	return id;
}

static void
mark_pending(struct mail_watch *w, int id)
{
	if (w->is_pending[id])
		return;
	w->is_pending[id] = true;
	w->pending = mail_xgrow(w->pending, &w->cap_pending,
	    w->n_pending + 1, sizeof(*w->pending));
	w->pending[w->n_pending++] = id;
}

static void
mark_wd(struct mail_watch *w, int wd)
{
	if (wd >= 0 && (size_t)wd < w->cap_wd && w->id_of_wd[wd] != 0)
		mark_pending(w, w->id_of_wd[wd] - 1);
}

/* Read all queued events into the pending set. */
static int
drain(struct mail_watch *w, struct mail_err *err)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t r = read(w->fd, buf, sizeof(buf));

		if (r < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			return mail_err_sys(err, errno, "read inotify");
		}
		for (char *p = buf; p < buf + r;) {
			const struct inotify_event *ev = (const void *)p;

			/* only the log matters: the lock and snapshot
			 * files change without new records */
			if (ev->len > 0 && strcmp(ev->name, "log") == 0)
				mark_wd(w, ev->wd);
			if (ev->mask & IN_Q_OVERFLOW) {
				/* events were lost: everyone may have
				 * changed */
				for (size_t i = 0; i < w->n; i++)
					mark_pending(w, (int)i);
			}
			p += sizeof(*ev) + ev->len;
		}
	}
}

int
mail_watch_wait(struct mail_watch *w, int timeout_ms, int *id_r,
    struct mail_err *err)
{
	for (;;) {
		struct pollfd pfd = { w->fd, POLLIN, 0 };
		int r;

		if (drain(w, err) < 0)
			return -1;
		if (w->n_pending > 0) {
			*id_r = w->pending[--w->n_pending];
			w->is_pending[*id_r] = false;
			return 1;
		}
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return mail_err_sys(err, errno, "poll");
		}
		if (r == 0)
			return 0;
	}
}
