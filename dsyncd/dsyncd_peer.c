/*
 * dsyncd_peer.c: per peer, the queue of users with changes and the worker
 * process that pushes them (dsyncd_worker.c). One user is in flight per
 * peer at a time; a user queued again while in flight or waiting is one
 * entry. A worker that fails or dies is restarted after a backoff that
 * doubles from retry_min to retry_max and resets once it connects; what
 * it was doing goes back to the queue.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "dsyncd.h"
#include "log.h"
#include "mail_syncstate.h"

#define PEER_LINE_MAX	4096

static void peer_dispatch(struct dsyncd_peer *p);
static void peer_spawn(struct dsyncd_peer *p);

void
dsyncd_peer_init(struct dsyncd *d, struct dsyncd_peer *p)
{
	p->d = d;
	p->fd = -1;
	p->busy_user = -1;
	p->backoff_ms = d->retry_min_ms;
	p->state = p->paused ? DSYNCD_PEER_PAUSED : DSYNCD_PEER_STARTING;
	dsyncd_peers_grow(d);
}

void
dsyncd_peers_grow(struct dsyncd *d)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dsyncd_peer *p = &d->peers[i];
		size_t n = d->n_users;

		if (p->d == NULL || p->n_users >= n)
			continue;
		p->acked = realloc(p->acked, n * sizeof(*p->acked));
		p->changes = realloc(p->changes, n * sizeof(*p->changes));
		p->queued = realloc(p->queued, n * sizeof(*p->queued));
		p->queued_full = realloc(p->queued_full,
		    n * sizeof(*p->queued_full));
		p->queued_at = realloc(p->queued_at, n * sizeof(*p->queued_at));
		if (p->acked == NULL || p->changes == NULL ||
		    p->queued == NULL || p->queued_full == NULL ||
		    p->queued_at == NULL)
			fatalx("out of memory");
		for (size_t u = p->n_users; u < n; u++) {
			p->acked[u] = 0;
			p->changes[u] = 0;
			p->queued[u] = p->queued_full[u] = false;
			p->queued_at[u] = 0;
		}
		p->n_users = n;
	}
}

struct dsyncd_peer *
dsyncd_peer_find(struct dsyncd *d, const char *name)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		if (strcmp(d->peers[i].conf.name, name) == 0)
			return &d->peers[i];
	}
	return NULL;
}

const char *
dsyncd_peer_state_name(const struct dsyncd_peer *p)
{
	switch (p->state) {
	case DSYNCD_PEER_STARTING:
		return "connecting";
	case DSYNCD_PEER_UP:
		return "connected";
	case DSYNCD_PEER_BACKOFF:
		return "retrying";
	case DSYNCD_PEER_PAUSED:
		return "paused";
	}
	return "?";
}

size_t
dsyncd_acked_peers(const struct dsyncd *d, size_t user, uint64_t modseq)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_peers; i++) {
		const struct dsyncd_peer *p = &d->peers[i];

		n += user < p->n_users && p->acked[user] >= modseq;
	}
	return n;
}

size_t
dsyncd_peer_queue_len(const struct dsyncd_peer *p)
{
	return p->q_len + (p->all_queued ? 1 : 0);
}

uint64_t
dsyncd_peer_lag_ms(const struct dsyncd_peer *p, uint64_t now)
{
	uint64_t oldest = 0;

	if (p->q_len > 0)
		oldest = p->queued_at[p->queue[p->q_head]];
	if (p->all_queued && (oldest == 0 || p->all_queued_at < oldest))
		oldest = p->all_queued_at;
	if (p->busy_user != -1 && (oldest == 0 || p->busy_queued_at < oldest))
		oldest = p->busy_queued_at;
	return oldest == 0 || oldest > now ? 0 : now - oldest;
}

/* ---- the queue ---- */

bool
dsyncd_peer_has_all(const struct dsyncd_peer *p, size_t u)
{
	char *dir;
	bool yes;

	/* A change a peer's sync just wrote here is not news to that peer:
	 * the sync state it left says so, and pushing it back would be an
	 * exchange of heads per change and per peer. */
	if (p->remote_node == 0)
		return false;
	dir = mail_xasprintf("%s/users/%s", p->d->store_path,
	    p->d->users[u].name);
	yes = mail_syncstate_peer_has_all(dir, p->remote_node);
	free(dir);
	return yes;
}

static void
queue_push(struct dsyncd_peer *p, uint32_t u)
{
	if (p->q_len == p->q_cap) {
		size_t cap = p->q_cap == 0 ? 64 : p->q_cap * 2;
		uint32_t *q = mail_xcalloc(cap, sizeof(*q));

		for (size_t i = 0; i < p->q_len; i++)
			q[i] = p->queue[(p->q_head + i) % p->q_cap];
		free(p->queue);
		p->queue = q;
		p->q_cap = cap;
		p->q_head = 0;
	}
	p->queue[(p->q_head + p->q_len) % p->q_cap] = u;
	p->q_len++;
}

static void
queue_user_at(struct dsyncd_peer *p, size_t u, bool full, uint64_t at)
{
	if (u >= p->n_users)
		dsyncd_peers_grow(p->d);
	if (p->queued[u]) {
		p->queued_full[u] |= full;
		if (at < p->queued_at[u])
			p->queued_at[u] = at;
		return;
	}
	p->queued[u] = true;
	p->queued_full[u] = full;
	p->queued_at[u] = at;
	queue_push(p, (uint32_t)u);
}

void
dsyncd_peer_queue_user(struct dsyncd_peer *p, size_t u, bool full)
{
	queue_user_at(p, u, full, mail_loop_now_ms(p->d->loop));
	peer_dispatch(p);
}

void
dsyncd_peer_queue_change(struct dsyncd_peer *p, size_t u)
{
	if (u >= p->n_users)
		dsyncd_peers_grow(p->d);
	p->changes[u]++;
	p->n_changes++;
	dsyncd_peer_queue_user(p, u, false);
}

void
dsyncd_queue_user(struct dsyncd *d, size_t u, bool full)
{
	for (size_t i = 0; i < d->n_peers; i++)
		dsyncd_peer_queue_user(&d->peers[i], u, full);
}

void
dsyncd_peer_queue_all(struct dsyncd_peer *p, bool full)
{
	if (!p->all_queued) {
		p->all_queued = true;
		p->all_queued_at = mail_loop_now_ms(p->d->loop);
		p->all_full = false;
	}
	p->all_full |= full;
	peer_dispatch(p);
}

/* ---- talking to the worker ---- */

static void
peer_send(struct dsyncd_peer *p, const char *verb, const char *user)
{
	char line[PEER_LINE_MAX];
	int n = snprintf(line, sizeof(line), "%s%s%s\n", verb,
	    user != NULL ? " " : "", user != NULL ? user : "");

	/* a line or two on an idle socket never blocks; a worker that does
	 * not take it is broken */
	if (n <= 0 || (size_t)n >= sizeof(line) ||
	    write(p->fd, line, (size_t)n) != n) {
		log_warn("peer %s: writing to worker %d", p->conf.name,
		    (int)p->pid);
		if (p->pid > 0)
			kill(p->pid, SIGKILL);
	}
}

static void
dispatch_due(struct mail_loop *loop, void *ctx)
{
	struct dsyncd_peer *p = ctx;

	(void)loop;
	p->batch_timer = NULL;
	peer_dispatch(p);
}

static void
peer_dispatch(struct dsyncd_peer *p)
{
	struct dsyncd *d = p->d;
	uint64_t now = mail_loop_now_ms(d->loop);
	uint32_t u;

	if (p->state != DSYNCD_PEER_UP || p->busy_user != -1 || d->stopping)
		return;
	if (p->all_queued) {
		p->all_queued = false;
		p->busy_user = -2;
		p->busy_full = p->all_full;
		p->busy_since = now;
		p->busy_queued_at = p->all_queued_at;
		peer_send(p, p->all_full ? "fullall" : "all", NULL);
		return;
	}
	for (;;) {
		if (p->q_len == 0)
			return;
		u = p->queue[p->q_head];
		if (p->queued_at[u] + d->batch_delay_ms > now) {
			/* gather more changes first */
			if (p->batch_timer == NULL)
				p->batch_timer = mail_timer_add(d->loop,
				    p->queued_at[u] + d->batch_delay_ms - now,
				    dispatch_due, p);
			return;
		}
		p->q_head = (p->q_head + 1) % p->q_cap;
		p->q_len--;
		p->queued[u] = false;
		/* the sync state may have been written since the change was
		 * seen: then whoever synced it left the peer with it */
		if (p->queued_full[u] || !dsyncd_peer_has_all(p, u))
			break;
		p->n_changes -= p->changes[u];
		p->changes[u] = 0;
	}
	p->busy_changes = p->changes[u];
	p->changes[u] = 0;
	p->busy_user = u;
	p->busy_full = p->queued_full[u];
	p->busy_since = now;
	p->busy_queued_at = p->queued_at[u];
	peer_send(p, p->busy_full ? "full" : "sync", d->users[u].name);
}

static void
set_error(struct dsyncd_peer *p, const char *msg)
{
	free(p->last_error);
	p->last_error = mail_xstrdup(msg);
	p->last_error_ms = dsyncd_wall_ms();
}

static void
busy_done(struct dsyncd_peer *p)
{
	p->n_changes -= p->busy_changes;
	p->busy_changes = 0;
	p->n_syncs++;
	p->last_sync_ms = dsyncd_wall_ms();
	if (p->busy_full && p->busy_user == -2)
		p->last_full_ms = p->last_sync_ms;
	p->busy_user = -1;
}

static void
worker_line(struct dsyncd_peer *p, char *line)
{
	if (strncmp(line, "up ", 3) == 0) {
		p->state = DSYNCD_PEER_UP;
		p->backoff_ms = p->d->retry_min_ms;
		p->up_since_ms = dsyncd_wall_ms();
		p->remote_node = strtoull(line + 3, NULL, 16);
		log_info("peer %s: connected to %s", p->conf.name, p->conf.url);
	} else if (strncmp(line, "ok ", 3) == 0) {
		/* "ok MODSEQ USER" */
		char *end;
		uint64_t mark = strtoull(line + 3, &end, 10);
		const char *name = *end == ' ' ? end + 1 : "";
		ssize_t u;

		/* the user in flight, or (in an "all" round) any */
		if (p->busy_user >= 0 &&
		    strcmp(p->d->users[p->busy_user].name, name) == 0)
			u = p->busy_user;
		else
			u = dsyncd_user_find(p->d, name, false);

		log_debug("peer %s: synced user \"%s\"", p->conf.name,
		    *end == ' ' ? end + 1 : line + 3);
		if (u >= 0 && (size_t)u < p->n_users && mark > p->acked[u]) {
			p->acked[u] = mark;
			dsyncd_ctl_acked(p->d, (size_t)u);
		}
		if (p->busy_user >= 0)
			busy_done(p);
	} else if (strncmp(line, "okall ", 6) == 0 && p->busy_user == -2) {
		log_debug("peer %s: synced all %s users", p->conf.name,
		    line + 6);
		busy_done(p);
	} else if (strncmp(line, "fail ", 5) == 0) {
		/* "fail temp|perm WHAT": the worker exits next */
		const char *what = strchr(line + 5, ' ');

		what = what != NULL ? what + 1 : line + 5;
		set_error(p, what);
		log_warnx("peer %s: %s", p->conf.name, what);
	} else
		log_warnx("peer %s: worker said \"%.80s\"", p->conf.name,
		    line);
	peer_dispatch(p);
}

static void
worker_close(struct dsyncd_peer *p)
{
	if (p->fd < 0)
		return;
	mail_loop_del_fd(p->d->loop, p->fd);
	close(p->fd);
	p->fd = -1;
	p->rlen = 0;
}

static void
worker_readable(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dsyncd_peer *p = ctx;
	ssize_t r;

	(void)loop;
	(void)events;
	if (p->rcap - p->rlen < 512) {
		p->rcap = p->rcap == 0 ? PEER_LINE_MAX : p->rcap * 2;
		p->rbuf = realloc(p->rbuf, p->rcap);
		if (p->rbuf == NULL)
			fatalx("out of memory");
	}
	r = read(fd, p->rbuf + p->rlen, p->rcap - p->rlen - 1);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		worker_close(p);	/* its exit status follows */
		return;
	}
	p->rlen += (size_t)r;
	for (;;) {
		char *nl = memchr(p->rbuf, '\n', p->rlen);
		size_t len;

		if (nl == NULL)
			break;
		*nl = '\0';
		len = (size_t)(nl - p->rbuf) + 1;
		worker_line(p, p->rbuf);
		if (p->fd < 0)
			return;
		memmove(p->rbuf, p->rbuf + len, p->rlen - len);
		p->rlen -= len;
	}
	if (p->rlen > PEER_LINE_MAX) {
		log_warnx("peer %s: worker sent a line over %d bytes",
		    p->conf.name, PEER_LINE_MAX);
		kill(p->pid, SIGKILL);
		worker_close(p);
	}
}

static void
peer_spawn(struct dsyncd_peer *p)
{
	struct dsyncd *d = p->d;
	struct mail_err err;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("peer %s: socketpair", p->conf.name);
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_warn("peer %s: fork", p->conf.name);
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		sigset_t all;

		/* the worker owns nothing of the daemon but its line */
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		dsyncd_worker_main(&p->conf, d->store_path, d->dsync_path, 3);
	}
	close(sv[1]);
	p->pid = pid;
	p->fd = sv[0];
	p->state = DSYNCD_PEER_STARTING;
	if (mail_loop_add_fd(d->loop, p->fd, MAIL_EV_READ, worker_readable, p,
	    &err) < 0) {
		log_warnx("peer %s: %s", p->conf.name, err.msg);
		kill(pid, SIGKILL);
		close(p->fd);
		p->fd = -1;
	}
	log_debug("peer %s: worker %d started", p->conf.name, (int)pid);
}

static void
retry_due(struct mail_loop *loop, void *ctx)
{
	struct dsyncd_peer *p = ctx;

	(void)loop;
	p->retry_timer = NULL;
	if (!p->paused && p->pid == 0 && !p->d->stopping)
		peer_spawn(p);
}

static void
full_due(struct mail_loop *loop, void *ctx)
{
	struct dsyncd_peer *p = ctx;

	p->full_timer = mail_timer_add(loop, p->d->full_interval_ms, full_due,
	    p);
	dsyncd_peer_queue_all(p, true);
}

void
dsyncd_peer_start(struct dsyncd_peer *p)
{
	/* catch up with what changed while we were not running */
	dsyncd_peer_queue_all(p, false);
	if (p->d->full_interval_ms > 0)
		p->full_timer = mail_timer_add(p->d->loop,
		    p->d->full_interval_ms, full_due, p);
	if (!p->paused)
		peer_spawn(p);
}

void
dsyncd_peer_exited(struct dsyncd *d, pid_t pid, int status)
{
	struct dsyncd_peer *p = NULL;

	for (size_t i = 0; i < d->n_peers && p == NULL; i++) {
		if (d->peers[i].pid == pid)
			p = &d->peers[i];
	}
	if (p == NULL)
		return;		/* a grandchild's zombie never comes here */
	p->pid = 0;
	worker_close(p);
	/* at the back: a user that fails every time must not hold up the
	 * others */
	if (p->busy_user >= 0) {
		p->changes[p->busy_user] += p->busy_changes;
		p->busy_changes = 0;
		queue_user_at(p, (size_t)p->busy_user, p->busy_full,
		    p->busy_queued_at);
	}
	else if (p->busy_user == -2 && !p->all_queued) {
		p->all_queued = true;
		p->all_full = p->busy_full;
		p->all_queued_at = p->busy_queued_at;
	}
	p->busy_user = -1;
	if (d->stopping)
		return;
	if (p->paused) {
		p->state = DSYNCD_PEER_PAUSED;
		return;
	}
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		p->n_failures++;
		if (WIFSIGNALED(status)) {
			char msg[64];

			snprintf(msg, sizeof(msg), "worker killed by signal %d",
			    WTERMSIG(status));
			set_error(p, msg);
			log_warnx("peer %s: %s", p->conf.name, msg);
		}
	}
	p->state = DSYNCD_PEER_BACKOFF;
	log_info("peer %s: retrying in %.1f s", p->conf.name,
	    (double)p->backoff_ms / 1000.0);
	mail_timer_del(&p->retry_timer);
	p->retry_timer = mail_timer_add(d->loop, p->backoff_ms, retry_due, p);
	p->backoff_ms = p->backoff_ms * 2 > d->retry_max_ms ?
	    d->retry_max_ms : p->backoff_ms * 2;
}

void
dsyncd_peer_pause(struct dsyncd_peer *p, bool pause)
{
	if (pause == p->paused)
		return;
	p->paused = pause;
	if (pause) {
		mail_timer_del(&p->retry_timer);
		p->state = DSYNCD_PEER_PAUSED;
		/* the worker finishes what it does, then sees the end */
		worker_close(p);
		log_info("peer %s: paused", p->conf.name);
		return;
	}
	log_info("peer %s: resumed", p->conf.name);
	p->backoff_ms = p->d->retry_min_ms;
	if (p->pid == 0)
		peer_spawn(p);
	else
		p->state = DSYNCD_PEER_BACKOFF;	/* the old one is exiting */
}

void
dsyncd_peers_stop(struct dsyncd *d)
{
	uint64_t deadline = mail_loop_now_ms(d->loop) + 10000;
	size_t running = 0;

	d->stopping = true;
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dsyncd_peer *p = &d->peers[i];

		mail_timer_del(&p->retry_timer);
		mail_timer_del(&p->batch_timer);
		mail_timer_del(&p->full_timer);
		worker_close(p);
		if (p->pid > 0)
			running++;
	}
	/* a worker in the middle of a sync finishes its transaction and
	 * reads the end; one that takes too long is killed (nothing
	 * committed is lost either way) */
	while (running > 0) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			for (size_t i = 0; i < d->n_peers; i++) {
				if (d->peers[i].pid == pid) {
					d->peers[i].pid = 0;
					running--;
				}
			}
			continue;
		}
		if (pid < 0 && errno != EINTR)
			break;
		if (dsyncd_wall_ms() > deadline) {
			for (size_t i = 0; i < d->n_peers; i++) {
				if (d->peers[i].pid > 0)
					kill(d->peers[i].pid, SIGTERM);
			}
			deadline = UINT64_MAX;
		}
		usleep(20000);
	}
}
