/*
 * dsyncd_worker.c: a peer's worker process. It connects to the local
 * store (a spawned `dsync server`) and to the peer, says "up", then runs
 * the brain for each request the daemon sends, over the same two
 * connections, until the daemon closes its end or something fails.
 *
 * Lines from the daemon:      Lines to the daemon:
 *   sync USER                   up NODEHEX          (connected)
 *   full USER                   ok MODSEQ USER      (USER synced: the peer
 *                                                    has its local changes
 *                                                    up to MODSEQ)
 *   all                         okall N             (after an "ok" line
 *                                                    per user: all N done)
 *   fullall                     fail CLASS WHAT     (then it exits)
 * "full" ignores the sync state and compares everything; "all" covers the
 * users of both sides. CLASS is "temp" (connection, lock: retry) or
 * "perm". A failure leaves the connections in an unknown state, so the
 * worker exits after reporting it and the daemon starts a new one.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "dsync_sync.h"
#include "dsyncd.h"
#include "mail_guid.h"
#include "mail_settings.h"

#define WORKER_LINE_MAX	1024

struct worker {
	int	 fd;
	FILE	*in;
	struct dsync_peer *local, *remote;
	struct dsync_sync_opts opts;
};

static void
say(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct worker *w, const char *fmt, ...)
{
	char line[WORKER_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	/* one line per message: the daemon splits on newlines */
	for (int i = 0; i < n; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	line[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t r = write(w->fd, line + off, (size_t)(n - off));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(1);	/* the daemon is gone */
		off += (int)r;
	}
}

static void __attribute__((noreturn))
fail(struct worker *w, const struct mail_err *err, const char *user)
{
	/* the daemon retries either way, with backoff; the class tells the
	 * operator whether waiting can help */
	bool temp = err->code == MAIL_ERR_TEMP ||
	    err->code == MAIL_ERR_NOSPACE || err->code == MAIL_ERR_INTERNAL ||
	    err->code == MAIL_ERR_PROTO;

	say(w, "fail %s %s%s%s%s", temp ? "temp" : "perm",
	    user != NULL ? "user \"" : "", user != NULL ? user : "",
	    user != NULL ? "\": " : "", err->msg);
	dsync_peer_abort(&w->local);
	dsync_peer_abort(&w->remote);
	_exit(temp ? 75 : 1);
}

static void
connect_both(struct worker *w, const struct dsyncd_peer_conf *pc,
    const char *store_path, const char *dsync_path)
{
	struct dsync_connect_opts lo, ro;
	struct mail_err err;
	struct mail_guid g;
	char secret[1024];
	uint64_t node;

	memset(&lo, 0, sizeof(lo));
	lo.local_dsync = dsync_path;
	lo.timeout_ms = pc->timeout_ms;
	memset(&ro, 0, sizeof(ro));
	ro.ssh_command = pc->ssh_command;
	ro.identity = pc->identity;
	ro.known_hosts = pc->known_hosts;
	ro.remote_dsync = pc->remote_dsync;
	ro.local_dsync = dsync_path;
	ro.accept_new = pc->accept_new;
	ro.timeout_ms = pc->timeout_ms;
	/* read at each connect, so that a fixed file needs no restart; it
	 * must be the daemon user's own, unreadable by others */
	if (pc->passphrase_file != NULL) {
		if (mail_settings_read_secret(pc->passphrase_file, secret,
		    sizeof(secret), &err) < 0)
			fail(w, &err, NULL);
		ro.passphrase = secret;
	}
	/* the brain is not a store: a random id tells it apart in HELLO */
	mail_guid_generate(&g);
	node = mail_get_le64(g.b) | 1;
	if (dsync_peer_connect(store_path, &lo, node, &w->local, &err) < 0 ||
	    dsync_peer_connect(pc->url, &ro, node, &w->remote, &err) < 0) {
		explicit_bzero(secret, sizeof(secret));
		fail(w, &err, NULL);
	}
	explicit_bzero(secret, sizeof(secret));
	if (w->local->node == w->remote->node) {
		mail_err_set(&err, MAIL_ERR_PARAM, "peer \"%s\" is this store "
		    "(node %016" PRIx64 ")", pc->name, w->local->node);
		fail(w, &err, NULL);
	}
	if (pc->compress > 0 &&
	    (dsync_brain_compress(w->local, pc->compress, &err) < 0 ||
	     dsync_brain_compress(w->remote, pc->compress, &err) < 0))
		fail(w, &err, NULL);
	say(w, "up %016" PRIx64, w->remote->node);
}

static void
sync_user(struct worker *w, const char *user, bool full)
{
	struct mail_err err;

	w->opts.full = full;
	if (dsync_brain_user(w->local, w->remote, user, &w->opts, &err) < 0)
		fail(w, &err, user);
	/* how far the peer has this user's local changes (for waiters) */
	say(w, "ok %" PRIu64 " %s", w->local->synced_mark, user);
}

static void
sync_all(struct worker *w, bool full)
{
	struct mail_err err;
	char **users;
	size_t n;

	if (dsync_peer_users(w->local, w->remote, &users, &n, &err) < 0)
		fail(w, &err, NULL);
	w->opts.full = full;
	for (size_t i = 0; i < n; i++) {
		if (dsync_brain_user(w->local, w->remote, users[i], &w->opts,
		    &err) < 0)
			fail(w, &err, users[i]);
		say(w, "ok %" PRIu64 " %s", w->local->synced_mark, users[i]);
	}
	mail_store_user_list_free(users, n);
	say(w, "okall %zu", n);
}

void
dsyncd_worker_main(const struct dsyncd_peer_conf *pc, const char *store_path,
    const char *dsync_path, int fd)
{
	struct worker w;
	char line[WORKER_LINE_MAX];
	struct mail_err err;

	memset(&w, 0, sizeof(w));
	w.fd = fd;
	signal(SIGPIPE, SIG_IGN);
	/* "dsyncd:beta" in ps and top (15 bytes at most) */
	snprintf(line, 16, "dsyncd:%s", pc->name);
	prctl(PR_SET_NAME, line, 0, 0, 0);
	if ((w.in = fdopen(dup(fd), "r")) == NULL) {
		mail_err_sys(&err, errno, "fdopen");
		fail(&w, &err, NULL);
	}
	connect_both(&w, pc, store_path, dsync_path);
	while (fgets(line, sizeof(line), w.in) != NULL) {
		size_t len = strlen(line);

		if (len == 0 || line[len - 1] != '\n')
			break;		/* not from our daemon */
		line[--len] = '\0';
		if (strncmp(line, "sync ", 5) == 0)
			sync_user(&w, line + 5, false);
		else if (strncmp(line, "full ", 5) == 0)
			sync_user(&w, line + 5, true);
		else if (strcmp(line, "all") == 0)
			sync_all(&w, false);
		else if (strcmp(line, "fullall") == 0)
			sync_all(&w, true);
		else
			break;
	}
	/* the daemon closed its end: a clean goodbye to both servers */
	if (dsync_peer_close(&w.local, &err) < 0 ||
	    dsync_peer_close(&w.remote, &err) < 0) {
		dsync_peer_abort(&w.local);
		dsync_peer_abort(&w.remote);
		_exit(1);
	}
	_exit(0);
}
