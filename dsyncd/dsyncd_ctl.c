/*
 * dsyncd_ctl.c: the control socket behind `dsync replicator`. A client
 * connects, sends one command line, reads the answer until the daemon
 * closes:
 *
 *   status [json]              per peer: state, queue, lag, last syncs, error
 *   replicate [-f] USER|-A     queue a sync (-f: full comparison) to every peer
 *   pause PEER | resume PEER
 *   wait USER MODSEQ N MS      answer once N peers have USER's local changes
 *                              up to MODSEQ, or after MS milliseconds
 *
 * Answers are "OK ..." lines, the status text, or "ERR what was wrong".
 * Only root and the daemon's own user may connect: the socket is 0660 in
 * the daemon's group, and each peer's credentials are checked as well.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "dsyncd.h"
#include "log.h"
#include "mail_buf.h"
#include "mail_name.h"

#define CTL_LINE_MAX	1024

struct ctl_client {
	struct dsyncd *d;
	int	 fd;
	char	 buf[CTL_LINE_MAX];
	size_t	 len;
	struct mail_timer *timer;	/* hang up on a silent client */
};

/* A client has this long to send its command line. */
#define CTL_READ_TIMEOUT_MS	10000

/* A client of "wait": its answer comes later. */
struct dsyncd_waiter {
	struct dsyncd_waiter *next;
	struct ctl_client *c;
	size_t	 user;
	uint64_t modseq;
	size_t	 need;
	struct mail_timer *timer;
};

static void client_answer(struct ctl_client *c, const struct mail_buf *b);

static void
put_time(struct mail_buf *b, uint64_t ms, bool json)
{
	char s[40];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0) {
		mail_buf_append_str(b, json ? "null" : "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	mail_buf_printf(b, json ? "\"%s\"" : "%s", s);
}

/* s as a JSON string (control characters escaped). */
static void
put_json_str(struct mail_buf *b, const char *s)
{
	mail_buf_append_str(b, "\"");
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			mail_buf_printf(b, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			mail_buf_printf(b, "\\u%04x", ch);
		else
			mail_buf_append(b, s, 1);
	}
	mail_buf_append_str(b, "\"");
}

static void
status(struct dsyncd *d, bool json, struct mail_buf *b)
{
	uint64_t now = mail_loop_now_ms(d->loop);

	if (json) {
		mail_buf_append_str(b, "{\"node\":");
		put_json_str(b, d->node_name);
		mail_buf_append_str(b, ",\"store\":");
		put_json_str(b, d->store_path);
		mail_buf_printf(b, ",\"users\":%zu,\"started\":", d->n_users);
		put_time(b, d->started_ms, true);
		mail_buf_append_str(b, ",\"peers\":[");
	} else {
		mail_buf_printf(b, "node %s store %s users %zu started ",
		    d->node_name, d->store_path, d->n_users);
		put_time(b, d->started_ms, false);
		mail_buf_append_str(b, "\n");
	}
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dsyncd_peer *p = &d->peers[i];
		double lag = (double)dsyncd_peer_lag_ms(p, now) / 1000.0;

		if (json) {
			mail_buf_append_str(b, i > 0 ? ",{\"name\":" :
			    "{\"name\":");
			put_json_str(b, p->conf.name);
			mail_buf_append_str(b, ",\"url\":");
			put_json_str(b, p->conf.url);
			mail_buf_printf(b, ",\"state\":\"%s\",\"connected\":%s,"
			    "\"syncing\":%s,"
			    "\"queue\":%zu,\"lag_changes\":%" PRIu64 ","
			    "\"lag_seconds\":%.3f,"
			    "\"syncs\":%" PRIu64 ",\"failures\":%" PRIu64
			    ",\"last_sync\":", dsyncd_peer_state_name(p),
			    p->state == DSYNCD_PEER_UP ? "true" : "false",
			    p->busy_user != -1 ? "true" : "false",
			    dsyncd_peer_queue_len(p), p->n_changes, lag,
			    p->n_syncs,
			    p->n_failures);
			put_time(b, p->last_sync_ms, true);
			mail_buf_append_str(b, ",\"last_full_sync\":");
			put_time(b, p->last_full_ms, true);
			mail_buf_append_str(b, ",\"last_error\":");
			if (p->last_error != NULL)
				put_json_str(b, p->last_error);
			else
				mail_buf_append_str(b, "null");
			mail_buf_append_str(b, ",\"last_error_time\":");
			put_time(b, p->last_error_ms, true);
			mail_buf_append_str(b, "}");
			continue;
		}
		mail_buf_printf(b, "peer %s state %s syncing %s queue %zu "
		    "changes %" PRIu64 " lag %.3fs syncs %" PRIu64
		    " failures %" PRIu64 " last-sync ", p->conf.name,
		    dsyncd_peer_state_name(p),
		    p->busy_user != -1 ? "yes" : "no",
		    dsyncd_peer_queue_len(p), p->n_changes, lag, p->n_syncs,
		    p->n_failures);
		put_time(b, p->last_sync_ms, false);
		mail_buf_append_str(b, " last-full-sync ");
		put_time(b, p->last_full_ms, false);
		mail_buf_append_str(b, " last-error ");
		if (p->last_error != NULL) {
			put_time(b, p->last_error_ms, false);
			mail_buf_printf(b, " %s", p->last_error);
		} else
			mail_buf_append_str(b, "-");
		mail_buf_append_str(b, "\n");
	}
	if (json)
		mail_buf_append_str(b, "]}\n");
}

static void
replicate(struct dsyncd *d, char *args, struct mail_buf *b)
{
	bool full = false;
	struct mail_err err;
	ssize_t u;

	if (strncmp(args, "-f ", 3) == 0) {
		full = true;
		args += 3;
	}
	if (strcmp(args, "-A") == 0) {
		for (size_t i = 0; i < d->n_peers; i++)
			dsyncd_peer_queue_all(&d->peers[i], full);
		mail_buf_printf(b, "OK all users queued for %zu peers\n",
		    d->n_peers);
		return;
	}
	if (mail_user_name_check(args, &err) < 0) {
		mail_buf_printf(b, "ERR %s\n", err.msg);
		return;
	}
	if ((u = dsyncd_user_find(d, args, false)) < 0) {
		/* a user only the peers have yet: the next full pass gets it */
		mail_buf_printf(b, "ERR unknown user '%s' (replicate -A "
		    "covers users the peers have)\n", args);
		return;
	}
	dsyncd_queue_user(d, (size_t)u, full);
	mail_buf_printf(b, "OK user %s queued for %zu peers\n", args,
	    d->n_peers);
}

/* Take w off the list of waiters. */
static void
waiter_unlink(struct dsyncd *d, struct dsyncd_waiter *w)
{
	for (struct dsyncd_waiter **wp = &d->waiters; *wp != NULL;
	    wp = &(*wp)->next) {
		if (*wp == w) {
			*wp = w->next;
			return;
		}
	}
}

static void
waiter_done(struct dsyncd_waiter *w, bool timed_out)
{
	struct dsyncd *d = w->c->d;
	struct mail_buf b = MAIL_BUF_INIT;
	size_t have = dsyncd_acked_peers(d, w->user, w->modseq);

	waiter_unlink(d, w);
	if (!timed_out)
		mail_timer_del(&w->timer);
	if (timed_out)
		mail_buf_printf(&b, "ERR timed out: %zu of %zu peers have it\n",
		    have, w->need);
	else
		mail_buf_printf(&b, "OK %zu peers have it\n", have);
	client_answer(w->c, &b);
	mail_buf_free(&b);
	free(w);
}

static void
waiter_timeout(struct mail_loop *loop, void *ctx)
{
	(void)loop;
	waiter_done(ctx, true);
}

void
dsyncd_ctl_acked(struct dsyncd *d, size_t user)
{
	struct dsyncd_waiter *w = d->waiters, *next;

	for (; w != NULL; w = next) {
		next = w->next;
		if (w->user == user &&
		    dsyncd_acked_peers(d, user, w->modseq) >= w->need)
			waiter_done(w, false);
	}
}

/* "wait USER MODSEQ N MS". Returns true when the answer is deferred. */
static bool
wait_cmd(struct ctl_client *c, const char *args, struct mail_buf *b)
{
	struct dsyncd *d = c->d;
	struct dsyncd_waiter *w;
	char user[256];
	unsigned long long modseq, ms;
	size_t need;
	ssize_t u;

	if (sscanf(args, "%255s %llu %zu %llu", user, &modseq, &need,
	    &ms) != 4 || need == 0 || ms > 86400000ULL) {
		mail_buf_append_str(b, "ERR usage: wait USER MODSEQ N MS\n");
		return false;
	}
	if (need > d->n_peers) {
		mail_buf_printf(b, "ERR %zu peers wanted, %zu configured\n",
		    need, d->n_peers);
		return false;
	}
	if ((u = dsyncd_user_find(d, user, false)) < 0) {
		/* created a moment ago: its directory event may not have
		 * been read yet */
		dsyncd_scan_users(d, true);
		if ((u = dsyncd_user_find(d, user, false)) < 0) {
			mail_buf_printf(b, "ERR unknown user '%s'\n", user);
			return false;
		}
	}
	if (dsyncd_acked_peers(d, (size_t)u, modseq) >= need) {
		mail_buf_printf(b, "OK %zu peers have it\n",
		    dsyncd_acked_peers(d, (size_t)u, modseq));
		return false;
	}
	w = mail_xcalloc(1, sizeof(*w));
	w->c = c;
	w->user = (size_t)u;
	w->modseq = modseq;
	w->need = need;
	w->timer = mail_timer_add(d->loop, ms, waiter_timeout, w);
	w->next = d->waiters;
	d->waiters = w;
	/* the change may not have been seen yet: push it now */
	dsyncd_queue_user(d, (size_t)u, false);
	return true;
}

static bool
handle(struct ctl_client *c, char *line, struct mail_buf *b)
{
	struct dsyncd *d = c->d;
	struct dsyncd_peer *p;

	if (strncmp(line, "wait ", 5) == 0)
		return wait_cmd(c, line + 5, b);

	if (strcmp(line, "status") == 0 || strcmp(line, "status json") == 0) {
		status(d, strcmp(line, "status json") == 0, b);
	} else if (strncmp(line, "replicate ", 10) == 0) {
		replicate(d, line + 10, b);
	} else if (strncmp(line, "pause ", 6) == 0 ||
	    strncmp(line, "resume ", 7) == 0) {
		bool pause = line[0] == 'p';
		const char *name = line + (pause ? 6 : 7);

		if ((p = dsyncd_peer_find(d, name)) == NULL) {
			mail_buf_printf(b, "ERR unknown peer '%.64s'\n", name);
			return false;
		}
		dsyncd_peer_pause(p, pause);
		mail_buf_printf(b, "OK peer %s %s\n", name, pause ? "paused" :
		    "resumed");
	} else
		mail_buf_printf(b, "ERR unknown command '%.64s'\n", line);
	return false;
}

static void
client_free(struct ctl_client *c)
{
	struct dsyncd_waiter *w, *next;

	/* a waiter whose client hung up is dropped */
	for (w = c->d->waiters; w != NULL; w = next) {
		next = w->next;
		if (w->c == c) {
			waiter_unlink(c->d, w);
			mail_timer_del(&w->timer);
			free(w);
		}
	}
	mail_timer_del(&c->timer);
	mail_loop_del_fd(c->d->loop, c->fd);
	close(c->fd);
	free(c);
}

static void
client_timeout(struct mail_loop *loop, void *ctx)
{
	struct ctl_client *c = ctx;

	(void)loop;
	c->timer = NULL;
	client_free(c);
}

/* Write the answer and hang up. The answer is small and the client waits
 * for it: a blocking write with a timeout keeps the loop simple. */
static void
client_answer(struct ctl_client *c, const struct mail_buf *b)
{
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
	for (size_t off = 0; off < b->len;) {
		ssize_t w = write(c->fd, b->data + off, b->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	client_free(c);
}

static void
client_readable(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct ctl_client *c = ctx;
	struct mail_buf out = MAIL_BUF_INIT;
	char *nl;
	ssize_t r;

	(void)loop;
	(void)events;
	if (c->len == sizeof(c->buf) - 1) {
		/* a waiting client said more, or hung up */
		char junk[64];

		if (read(fd, junk, sizeof(junk)) <= 0)
			client_free(c);
		return;
	}
	r = read(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_free(c);
		return;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	if ((nl = strchr(c->buf, '\n')) == NULL) {
		if (c->len < sizeof(c->buf) - 1)
			return;
		mail_buf_append_str(&out, "ERR command line too long\n");
	} else {
		*nl = '\0';
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		if (handle(c, c->buf, &out)) {
			c->len = sizeof(c->buf) - 1;	/* read no more */
			/* a waiter has its own timeout */
			mail_timer_del(&c->timer);
			mail_buf_free(&out);
			return;
		}
	}
	client_answer(c, &out);
	mail_buf_free(&out);
}

static void
ctl_accept(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dsyncd *d = ctx;
	struct ctl_client *c;
	struct mail_err err;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct timeval tv = { 2, 0 };
	int cfd;

	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		log_warnx("control socket: refused uid %d", (int)cred.uid);
		close(cfd);
		return;
	}
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c = mail_xcalloc(1, sizeof(*c));
	c->d = d;
	c->fd = cfd;
	if (mail_loop_add_fd(loop, cfd, MAIL_EV_READ, client_readable, c,
	    &err) < 0) {
		log_warnx("control socket: %s", err.msg);
		close(cfd);
		free(c);
		return;
	}
	c->timer = mail_timer_add(loop, CTL_READ_TIMEOUT_MS, client_timeout, c);
}

int
dsyncd_ctl_listen(struct dsyncd *d, struct mail_err *err)
{
	struct sockaddr_un sa;
	size_t len = strlen(d->control_path);
	int fd;

	if (len >= sizeof(sa.sun_path))
		return mail_err_set(err, MAIL_ERR_PARAM, "control_socket '%s' "
		    "is longer than %zu bytes", d->control_path,
		    sizeof(sa.sun_path) - 1);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, d->control_path, len);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return mail_err_sys(err, errno, "socket");
	/* a socket left by a dead daemon is removed; a live one is not */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		return mail_err_set(err, MAIL_ERR_TEMP, "control socket '%s' "
		    "is in use: is dsyncd running already?", d->control_path);
	}
	unlink(d->control_path);
	/* its directory (/run/dsync) is made by systemd; without systemd,
	 * here */
	{
		char *dir = mail_xstrdup(d->control_path);
		char *slash = strrchr(dir, '/');

		if (slash != NULL && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
				mail_err_sys(err, errno, "control socket "
				    "directory '%s'", dir);
				free(dir);
				close(fd);
				return -1;
			}
		}
		free(dir);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(d->control_path, 0660) < 0 || listen(fd, 16) < 0) {
		mail_err_sys(err, errno, "control socket '%s'",
		    d->control_path);
		close(fd);
		return -1;
	}
	d->ctl_fd = fd;
	return 0;
}

int
dsyncd_ctl_start(struct dsyncd *d, struct mail_err *err)
{
	return mail_loop_add_fd(d->loop, d->ctl_fd, MAIL_EV_READ, ctl_accept,
	    d, err);
}

void
dsyncd_ctl_close(struct dsyncd *d)
{
	/* waiters hear that no answer will come */
	while (d->waiters != NULL) {
		struct dsyncd_waiter *w = d->waiters;
		struct mail_buf b = MAIL_BUF_INIT;

		d->waiters = w->next;
		mail_timer_del(&w->timer);
		mail_buf_append_str(&b, "ERR dsyncd is stopping\n");
		client_answer(w->c, &b);
		mail_buf_free(&b);
		free(w);
	}
	if (d->ctl_fd < 0)
		return;
	mail_loop_del_fd(d->loop, d->ctl_fd);
	close(d->ctl_fd);
	d->ctl_fd = -1;
	unlink(d->control_path);
}
