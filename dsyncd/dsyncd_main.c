/*
 * dsyncd_main.c: the replication daemon's process: configuration, the
 * event loop, the users and their change logs (one inotify instance for
 * all of them, one more for new users), signals and systemd readiness.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "dsyncd.h"
#include "log.h"
#include "mail_daemon.h"
#include "mail_settings.h"
#include "wire_url.h"

#define DEFAULT_CONFIG	"/etc/dsync/dsync.conf"

uint64_t
dsyncd_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: dsyncd [-c CONFIG] [-F]\n");
	exit(2);
}

/* ---- users ---- */

ssize_t
dsyncd_user_find(struct dsyncd *d, const char *name, bool add)
{
	struct mail_err err;
	char *dir;
	int id;

	/* linear: users are added once; lookups by name come only from
	 * the control socket */
	for (size_t i = 0; i < d->n_users; i++) {
		if (strcmp(d->users[i].name, name) == 0)
			return (ssize_t)i;
	}
	if (!add)
		return -1;
	dir = mail_xasprintf("%s/users/%s", d->store_path, name);
	id = mail_watch_add_dir(d->watch, dir, &err);
	free(dir);
	if (id < 0) {
		log_warnx("user \"%s\": %s (its changes are pushed only by "
		    "full syncs)", name, err.msg);
		return -1;
	}
	if ((size_t)id != d->n_users)
		fatalx("watch id %d for user %zu", id, d->n_users);
	d->users = mail_xgrow(d->users, &d->cap_users, d->n_users + 1,
	    sizeof(*d->users));
	d->users[d->n_users].name = mail_xstrdup(name);
	d->n_users++;
	dsyncd_peers_grow(d);
	return (ssize_t)(d->n_users - 1);
}

/* Add the store's users we do not know yet; queue them if queue. */
void
dsyncd_scan_users(struct dsyncd *d, bool queue)
{
	struct mail_err err;
	char **names;
	size_t n;

	if (mail_store_user_list(d->store, &names, &n, &err) < 0) {
		log_warnx("listing users: %s", err.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		size_t before = d->n_users;
		ssize_t u = dsyncd_user_find(d, names[i], true);

		if (u >= 0 && (size_t)u >= before && queue) {
			log_info("user \"%s\": new", names[i]);
			dsyncd_queue_user(d, (size_t)u, false);
		}
	}
	mail_store_user_list_free(names, n);
}

static void
logs_changed(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dsyncd *d = ctx;
	struct mail_err err;
	int id, r;

	(void)loop;
	(void)fd;
	(void)events;
	while ((r = mail_watch_wait(d->watch, 0, &id, &err)) > 0) {
		if ((size_t)id >= d->n_users)
			continue;
		for (size_t i = 0; i < d->n_peers; i++) {
			struct dsyncd_peer *p = &d->peers[i];

			if (!dsyncd_peer_has_all(p, (size_t)id))
				dsyncd_peer_queue_change(p, (size_t)id);
		}
	}
	if (r < 0)
		fatalx("watching the change logs: %s", err.msg);
}

static void
users_changed(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dsyncd *d = ctx;
	char buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	(void)loop;
	(void)events;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	dsyncd_scan_users(d, true);
}

/* ---- signals ---- */

static void
on_signal(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dsyncd *d = ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			for (;;) {
				int status;
				pid_t pid = waitpid(-1, &status, WNOHANG);

				if (pid <= 0)
					break;
				dsyncd_peer_exited(d, pid, status);
			}
			break;
		case SIGTERM:
		case SIGINT:
			log_info("stopping (signal %u)", si.ssi_signo);
			mail_loop_stop(loop);
			break;
		case SIGHUP:
			/* settings are read at start: say so instead of
			 * half-applying a changed file */
			log_info("SIGHUP: restart dsyncd to apply a changed "
			    "configuration");
			break;
		}
	}
}

static int
signals_setup(struct dsyncd *d, struct mail_err *err)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };

	d->signal_fd = mail_daemon_signalfd(sigs, N_ELEMENTS(sigs), err);
	return d->signal_fd < 0 ? -1 : 0;
}

/* ---- systemd ---- */

static void
notify_systemd(const char *state)
{
	struct mail_err err;

	if (mail_daemon_notify(state, &err) < 0)
		log_warnx("%s", err.msg);
}

/* ---- configuration ---- */

/* The dsync binary that serves the local store: the one installed next
 * to us, else the first in PATH. */
static const char *
find_dsync(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 7);
	char *slash;

	if (n > 0) {
		path[n] = '\0';
		if ((slash = strrchr(path, '/')) != NULL) {
			strcpy(slash + 1, "dsync");
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return "dsync";
}

static int
load_config(struct dsyncd *d, const char *path, struct mail_err *err)
{
	const struct mail_conf *c;
	size_t np = 0;

	if (mail_conf_load(path, &d->conf, err) < 0 ||
	    mail_settings_check(d->conf, err) < 0)
		return -1;
	c = d->conf;
	d->conf_path = path;
	d->store_path = mail_settings_str(c, NULL, "store");
	d->node_name = mail_settings_str(c, NULL, "node");
	d->control_path = mail_settings_str(c, NULL, "control_socket");
	d->batch_delay_ms = mail_settings_duration_ms(c, NULL, "batch_delay");
	d->retry_min_ms = mail_settings_duration_ms(c, NULL, "retry_min");
	d->retry_max_ms = mail_settings_duration_ms(c, NULL, "retry_max");
	d->full_interval_ms = mail_settings_duration_ms(c, NULL,
	    "full_sync_interval");
	if (d->retry_min_ms == 0)
		d->retry_min_ms = 1;
	for (size_t i = 0; i < c->n; i++)
		np += strcmp(c->sections[i].kind, "peer") == 0;
	d->peers = mail_xcalloc(np + 1, sizeof(*d->peers));
	for (size_t i = 0; i < c->n; i++) {
		const struct mail_conf_section *s = &c->sections[i];
		struct dsyncd_peer *p;
		const char *v;

		if (strcmp(s->kind, "peer") != 0)
			continue;
		p = &d->peers[d->n_peers++];
		p->conf.name = s->name;
		p->conf.url = mail_settings_str(c, s, "url");
		/* a URL that can never work is a mistake in the file, not a
		 * peer to retry forever */
		{
			struct wire_url u;

			if (wire_url_parse(p->conf.url, &u, err) < 0)
				return mail_err_prefix(err, "%s: peer %s", path,
				    s->name);
			wire_url_free(&u);
		}
		v = mail_settings_str(c, s, "ssh_command");
		p->conf.ssh_command = v[0] != '\0' ? v : NULL;
		v = mail_settings_str(c, s, "identity_file");
		p->conf.identity = v[0] != '\0' ? v : NULL;
		v = mail_settings_str(c, s, "passphrase_file");
		p->conf.passphrase_file = v[0] != '\0' ? v : NULL;
		v = mail_settings_str(c, s, "known_hosts");
		p->conf.known_hosts = v[0] != '\0' ? v : NULL;
		p->conf.remote_dsync = mail_settings_str(c, s, "remote_dsync");
		p->conf.accept_new = mail_settings_bool(c, s,
		    "accept_new_host_key");
		p->conf.compress = (int)mail_settings_uint(c, s, "compress");
		p->conf.timeout_ms = (int)mail_settings_duration_ms(c, s,
		    "timeout");
		p->paused = mail_settings_bool(c, s, "paused");
	}
	return 0;
}


/* ---- main ---- */

static int
setup(struct dsyncd *d, struct mail_err *err)
{
	char *dir;

	if (mail_loop_new(&d->loop, err) < 0 ||
	    mail_watch_new(&d->watch, err) < 0 ||
	    signals_setup(d, err) < 0)
		return -1;
	d->users_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->users_fd < 0)
		return mail_err_sys(err, errno, "inotify_init1");
	dir = mail_xasprintf("%s/users", d->store_path);
	if (inotify_add_watch(d->users_fd, dir, IN_CREATE | IN_MOVED_TO |
	    IN_ONLYDIR) < 0) {
		mail_err_sys(err, errno, "inotify_add_watch '%s'", dir);
		free(dir);
		return -1;
	}
	free(dir);
	if (mail_loop_add_fd(d->loop, mail_watch_fd(d->watch), MAIL_EV_READ,
	    logs_changed, d, err) < 0 ||
	    mail_loop_add_fd(d->loop, d->users_fd, MAIL_EV_READ, users_changed,
	    d, err) < 0 ||
	    mail_loop_add_fd(d->loop, d->signal_fd, MAIL_EV_READ, on_signal, d,
	    err) < 0)
		return -1;
	d->started_ms = dsyncd_wall_ms();
	d->dsync_path = find_dsync();
	dsyncd_scan_users(d, false);
	for (size_t i = 0; i < d->n_peers; i++)
		dsyncd_peer_init(d, &d->peers[i]);
	return dsyncd_ctl_start(d, err);
}

/* Free what is left at a clean stop (so leak checkers see real leaks). */
static void
cleanup(struct dsyncd *d)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dsyncd_peer *p = &d->peers[i];

		free(p->rbuf);
		free(p->queue);
		free(p->acked);
		free(p->changes);
		free(p->queued);
		free(p->queued_full);
		free(p->queued_at);
		free(p->last_error);
	}
	free(d->peers);
	for (size_t i = 0; i < d->n_users; i++)
		free(d->users[i].name);
	free(d->users);
	if (d->users_fd >= 0)
		close(d->users_fd);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	mail_watch_free(&d->watch);
	mail_loop_free(&d->loop);
	mail_store_close(&d->store);
	mail_conf_free(&d->conf);
}

int
dsyncd_main(int argc, char **argv)
{
	struct dsyncd d;
	struct mail_err err;
	const char *config = DEFAULT_CONFIG;
	bool foreground = false;
	enum log_level level;

	if (mail_daemon_args(argc, argv, &config, &foreground) < 0)
		usage();
	memset(&d, 0, sizeof(d));
	d.users_fd = d.signal_fd = d.ctl_fd = -1;
	log_init("dsyncd", false, LOG_LEVEL_INFO);
	if (load_config(&d, config, &err) < 0)
		fatalx("%s", err.msg);
	if (log_level_parse(mail_settings_str(d.conf, NULL, "log_level"),
	    &level) < 0)
		level = LOG_LEVEL_INFO;
	if (d.n_peers == 0)
		log_warnx("%s: no peer sections: nothing to replicate to",
		    config);
	if (dsyncd_ctl_listen(&d, &err) < 0)
		fatalx("%s", err.msg);
	/* the control socket, bound before, stays reachable by root and
	 * by mail_user's group */
	if (mail_daemon_become(mail_settings_str(d.conf, NULL, "mail_user"),
	    d.control_path, &err) < 0)
		fatalx("%s", err.msg);
	if (mail_store_open(d.store_path, NULL, &d.store, &err) < 0)
		fatalx("store '%s': %s", d.store_path, err.msg);
	if (!foreground) {
		/* errors so far went to the terminal; from here on, the
		 * configured log */
		if (daemon(0, 0) < 0)
			fatal("daemon");
		log_init("dsyncd", strcmp(mail_settings_str(d.conf, NULL,
		    "log"), "syslog") == 0, level);
	} else
		log_init("dsyncd", false, level);
	if (setup(&d, &err) < 0)
		fatalx("%s", err.msg);
	for (size_t i = 0; i < d.n_peers; i++)
		dsyncd_peer_start(&d.peers[i]);
	log_info("node %s: replicating store %s with %zu peers, %zu users",
	    d.node_name, d.store_path, d.n_peers, d.n_users);
	notify_systemd("READY=1");
	if (mail_loop_run(d.loop, &err) < 0)
		log_warnx("event loop: %s", err.msg);
	notify_systemd("STOPPING=1");
	dsyncd_peers_stop(&d);
	dsyncd_ctl_close(&d);
	log_info("stopped");
	cleanup(&d);
	return 0;
}
