/*
 * mail_watch.c: inotify on user directories. We watch the directory, not
 * the log file, so a log replaced by "check --repair" (rename over it) is
 * still seen; events for other files (the lock, snapshot temp files) are
 * filtered out by name.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <libgen.h>
#include <sys/inotify.h>

#include "mail_watch.h"

struct mail_watch {
	int	 fd;
	int	*wds;		/* inotify watch descriptor per id */
	size_t	 n, cap;
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
	free(w->wds);
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
mail_watch_add(struct mail_watch *w, const struct mail_user *user,
    struct mail_err *err)
{
	char *dir = mail_xstrdup(mail_user_log_path(user));
	int wd = inotify_add_watch(w->fd, dirname(dir),
	    IN_MODIFY | IN_MOVED_TO | IN_CREATE);

	if (wd < 0) {
		mail_err_sys(err, errno, "inotify_add_watch '%s'", dir);
		free(dir);
		return -1;
	}
	free(dir);
	w->wds = mail_xgrow(w->wds, &w->cap, w->n + 1, sizeof(*w->wds));
	w->wds[w->n] = wd;
	return (int)w->n++;
}

static void
mark_pending(struct mail_watch *w, int wd)
{
	for (size_t i = 0; i < w->n; i++) {
		if (w->wds[i] != wd)
			continue;
		for (size_t k = 0; k < w->n_pending; k++) {
			if (w->pending[k] == (int)i)
				return;
		}
		w->pending = mail_xgrow(w->pending, &w->cap_pending,
		    w->n_pending + 1, sizeof(*w->pending));
		w->pending[w->n_pending++] = (int)i;
	}
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
				mark_pending(w, ev->wd);
			if (ev->mask & IN_Q_OVERFLOW) {
				/* events were lost: everyone may have
				 * changed */
				for (size_t i = 0; i < w->n; i++)
					mark_pending(w, w->wds[i]);
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
