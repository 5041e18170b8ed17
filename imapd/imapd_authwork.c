/*
 * imapd_authwork.c: password checks off the event loop. A bcrypt or
 * yescrypt hash costs tens of milliseconds of CPU on purpose; done in the
 * loop it would stall every session for that long per login. A few
 * threads take the checks from a queue and hand the results back through
 * an eventfd that the loop watches.
 *
 * The threads see only a job: the passdb (kept alive by a reference the
 * loop holds until the result is read), the user name and the password.
 * A client that goes away while its check runs cancels the job; the
 * result is then dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "imapd.h"
#include "log.h"

#define AUTH_THREADS	2

struct imapd_passdb {
	struct imap_passwd *db;
	unsigned refs;			/* jobs using it, +1 while current */
};

struct imapd_auth_job {
	struct imapd_auth_job *next;
	struct imapd_passdb *pdb;
	struct imapd_client *c;		/* NULL: cancelled */
	char	*user, *password;
	size_t	 user_len, password_len;
	int	 result;		/* imap_passwd_verify()'s */
	struct mail_err err;
};

struct imapd_authwork {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct imapd_auth_job *todo, **todo_tail;
	struct imapd_auth_job *done;
	pthread_t threads[AUTH_THREADS];
	size_t	 n_threads;
	bool	 stop;
	int	 efd;
};

static void
passdb_unref(struct imapd_passdb **pp)
{
	struct imapd_passdb *p = *pp;

	*pp = NULL;
	if (p != NULL && --p->refs == 0) {
		imap_passwd_free(&p->db);
		free(p);
	}
}

static void *
worker(void *arg)
{
	struct imapd_authwork *w = arg;
	struct imapd_auth_job *j;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (w->todo == NULL && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->todo;
		w->todo = j->next;
		if (w->todo == NULL)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->lock);

		j->result = imap_passwd_verify(j->pdb->db, j->user,
		    j->user_len, j->password, j->password_len, &j->err);

		pthread_mutex_lock(&w->lock);
		j->next = w->done;
		w->done = j;
		if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			abort();	/* an eventfd write can not fail else */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void
job_free(struct imapd_auth_job *j)
{
	passdb_unref(&j->pdb);
	free(j->user);
	if (j->password != NULL) {
		explicit_bzero(j->password, j->password_len);
		free(j->password);
	}
	free(j);
}

/* The loop's side: deliver finished checks. */
static void
results_ready(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct imapd *d = ctx;
	struct imapd_authwork *w = d->authwork;
	struct imapd_auth_job *j, *next;
	uint64_t n;

	(void)loop;
	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("auth eventfd");
	pthread_mutex_lock(&w->lock);
	j = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->lock);
	for (; j != NULL; j = next) {
		next = j->next;
		if (j->c != NULL) {
			j->c->auth_job = NULL;
			imapd_login_checked(j->c, j->user, j->result, &j->err);
		}
		job_free(j);
	}
}

int
imapd_authwork_start(struct imapd *d, struct mail_err *err)
{
	struct imapd_authwork *w = mail_xcalloc(1, sizeof(*w));
	int r;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->todo_tail = &w->todo;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->authwork = w;
	if (w->efd < 0)
		return mail_err_sys(err, errno, "eventfd");
	for (size_t i = 0; i < AUTH_THREADS; i++) {
		r = pthread_create(&w->threads[i], NULL, worker, w);
		if (r != 0)
			return mail_err_sys(err, r, "starting an auth thread");
		w->n_threads++;
	}
	return mail_loop_add_fd(d->loop, w->efd, MAIL_EV_READ, results_ready,
	    d, err);
}

void
imapd_authwork_stop(struct imapd *d)
{
	struct imapd_authwork *w = d->authwork;
	struct imapd_auth_job *j, *next;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (size_t i = 0; i < w->n_threads; i++)
		pthread_join(w->threads[i], NULL);
	for (j = w->todo; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	for (j = w->done; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	if (w->efd >= 0) {
		mail_loop_del_fd(d->loop, w->efd);
		close(w->efd);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	d->authwork = NULL;
}

void
imapd_passdb_free(struct imapd *d)
{
	passdb_unref(&d->passdb);
}

int
imapd_passdb_load(struct imapd *d, struct mail_err *err)
{
	struct imap_passwd *db;

	if (imap_passwd_load(d->set.passdb_path, &db, err) < 0)
		return -1;
	d->passdb = mail_xcalloc(1, sizeof(*d->passdb));
	d->passdb->db = db;
	d->passdb->refs = 1;
	return 0;
}

/* Reload the file if it changed (one stat). Only while no check is
 * running on the current database: a reload frees the old one. A login
 * that finds checks running leaves the look to the next one. */
void
imapd_passdb_reload(struct imapd *d)
{
	struct mail_err err;

	if (d->passdb->refs == 1 &&
	    imap_passwd_reload_if_changed(&d->passdb->db, &err) < 0)
		log_error("passdb: %s (the previous version stays in use)",
		    err.msg);
}

void
imapd_authwork_submit(struct imapd_client *c, const char *user,
    size_t user_len, const char *password, size_t password_len)
{
	struct imapd_authwork *w = c->d->authwork;
	struct imapd_auth_job *j = mail_xcalloc(1, sizeof(*j));

	j->pdb = c->d->passdb;
	j->pdb->refs++;
	j->c = c;
	j->user = mail_xstrndup(user, user_len);
	j->user_len = user_len;
	j->password = mail_xmalloc(password_len + 1);
	memcpy(j->password, password, password_len);
	j->password[password_len] = '\0';
	j->password_len = password_len;
	c->auth_job = j;
	pthread_mutex_lock(&w->lock);
	*w->todo_tail = j;
	w->todo_tail = &j->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void
imapd_authwork_cancel(struct imapd_client *c)
{
	if (c->auth_job != NULL) {
		c->auth_job->c = NULL;	/* read by the loop thread only */
		c->auth_job = NULL;
	}
}
