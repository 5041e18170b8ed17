/*
 * imapd_user.c: users shared by the sessions of one process. A user's
 * store state is loaded once however many sessions it has, and its log
 * directory is watched once (one inotify instance for the process), so
 * a change written by anyone (another session, delivery, dsyncd applying
 * a peer's changes) is read once and then reported to each session.
 *
 * A user's struct stays when its last session ends (its inotify watch
 * can not be removed from mail_watch); its loaded state is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "log.h"

static struct imapd_user *
user_find(struct imapd *d, const char *name)
{
	for (size_t i = 0; i < d->n_users; i++) {
		if (strcmp(d->users[i]->name, name) == 0)
			return d->users[i];
	}
	return NULL;
}

/* Place a new user at the index of its watch id, so that watch events
 * find it directly; users whose directory could not be watched go
 * after (they get changes at their next command only). */
static struct imapd_user *
user_new(struct imapd *d, const char *name)
{
	struct imapd_user *u = mail_xcalloc(1, sizeof(*u));
	struct mail_err err;
	char *dir;

	u->name = mail_xstrdup(name);
	dir = mail_xasprintf("%s/users/%s", mail_store_path(d->store), name);
	u->watch_id = mail_watch_add_dir(d->watch, dir, &err);
	free(dir);
	if (u->watch_id < 0)
		log_warnx("user \"%s\": %s (changes by others show at the "
		    "next command, not during IDLE)", name, err.msg);
	d->users = mail_xgrow(d->users, &d->cap_users, d->n_users + 1,
	    sizeof(*d->users));
	if (u->watch_id >= 0 && (size_t)u->watch_id < d->n_users) {
		/* an unwatched user sits at this index: move it last */
		d->users[d->n_users] = d->users[u->watch_id];
		d->users[u->watch_id] = u;
	} else {
		d->users[d->n_users] = u;
	}
	d->n_users++;
	return u;
}

int
imapd_user_get(struct imapd *d, const char *name, struct imapd_user **u_r,
    struct mail_err *err)
{
	struct imapd_user *u = user_find(d, name);
	struct mail_user *mu = NULL;

	if (u != NULL && u->mu != NULL) {
		if (mail_user_refresh(u->mu, err) < 0)
			return -1;
		u->refs++;
		*u_r = u;
		return 0;
	}
	if (mail_user_open(d->store, name, false, &mu, err) < 0) {
		if (err->code != MAIL_ERR_NOTFOUND || !d->set.create_users)
			return -1;
		if (mail_store_user_add(d->store, name, err) < 0 &&
		    err->code != MAIL_ERR_EXISTS)
			return -1;
		log_info("user \"%s\": created in the store", name);
		if (mail_user_open(d->store, name, false, &mu, err) < 0)
			return -1;
	}
	if (u == NULL)
		u = user_new(d, name);
	/* what was written between the open and the watch */
	if (mail_user_refresh(mu, err) < 0) {
		mail_user_close(&mu);
		return -1;
	}
	u->mu = mu;
	u->refs++;
	*u_r = u;
	return 0;
}

void
imapd_user_put(struct imapd *d, struct imapd_user **up)
{
	struct imapd_user *u = *up;

	(void)d;
	*up = NULL;
	if (u == NULL)
		return;
	mail_assert(u->refs > 0);
	if (--u->refs == 0)
		mail_user_close(&u->mu);
}

void
imapd_user_attach(struct imapd_user *u, struct imapd_client *c)
{
	c->user_next = u->sessions;
	u->sessions = c;
}

void
imapd_user_detach(struct imapd_user *u, struct imapd_client *c)
{
	for (struct imapd_client **p = &u->sessions; *p != NULL;
	    p = &(*p)->user_next) {
		if (*p == c) {
			*p = c->user_next;
			return;
		}
	}
}

struct mail_state *
imapd_state(struct imapd_client *c)
{
	return mail_user_state(c->user->mu);
}

/* Push what changed to the sessions that may hear it now: those in IDLE
 * (RFC 2177) get everything at once; others get it with their next
 * command's responses. */
void
imapd_user_changed(struct imapd_user *u, struct imapd_client *except)
{
	struct imapd_client *c, *next;

	for (c = u->sessions; c != NULL; c = next) {
		next = c->user_next;
		if (c == except || c->input != IMAPD_IN_IDLE ||
		    c->state != IMAPD_SELECTED)
			continue;
		imapd_view_report(c, true);
		imapd_client_update(c);		/* may free c */
	}
}

void
imapd_user_refresh(struct imapd *d, struct imapd_user *u)
{
	struct mail_err err;

	(void)d;
	if (u->mu == NULL)
		return;
	if (mail_user_refresh(u->mu, &err) < 0) {
		log_error("user \"%s\": reading changes: %s", u->name,
		    err.msg);
		return;
	}
	imapd_user_changed(u, NULL);
}

void
imapd_watch_event(struct mail_loop *loop, int fd, unsigned events,
    void *ctx)
{
	struct imapd *d = ctx;
	struct mail_err err;
	int id, r;

	(void)loop;
	(void)fd;
	(void)events;
	while ((r = mail_watch_wait(d->watch, 0, &id, &err)) > 0) {
		if (id >= 0 && (size_t)id < d->n_users &&
		    d->users[id]->watch_id == id)
			imapd_user_refresh(d, d->users[id]);
	}
	if (r < 0)
		log_error("watching the change logs: %s", err.msg);
}

int
imapd_txn_begin(struct imapd_client *c, struct mail_txn **t_r,
    struct mail_err *err)
{
	return mail_txn_begin(c->user->mu, t_r, err);
}

int
imapd_txn_commit(struct imapd_client *c, struct mail_txn **tp,
    struct mail_err *err)
{
	if (mail_txn_commit(tp, err) < 0)
		return -1;
	imapd_user_changed(c->user, c);
	return 0;
}
