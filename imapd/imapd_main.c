/*
 * imapd_main.c: the IMAP server's process: configuration, listeners,
 * privileges, signals, the event loop, and the capability list.
 *
 * Sockets are bound first (privileged ports need root), then the process
 * becomes mail_user before it reads a byte from a client; the TLS key is
 * read before that too, so it may stay readable by root only.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "imapd.h"
#include "log.h"
#include "mail_daemon.h"
#include "mail_settings.h"

#define DEFAULT_CONFIG	"/etc/dsync/dsync.conf"

int	imapd_main(int argc, char **argv);

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: imapd [-c CONFIG] [-F]\n");
	exit(2);
}

void
imapd_capabilities(struct imapd_client *c, struct mail_buf *out)
{
	mail_buf_append_str(out, "IMAP4rev1 IMAP4rev2");
	if (c->state == IMAPD_NOT_AUTH) {
		if (c->d->tls != NULL && !imap_conn_is_tls(c->conn))
			mail_buf_append_str(out, " STARTTLS");
		if (c->secure)
			mail_buf_append_str(out, " AUTH=PLAIN AUTH=LOGIN");
		else
			mail_buf_append_str(out, " LOGINDISABLED");
		mail_buf_append_str(out, " SASL-IR ID ENABLE LITERAL+");
		return;
	}
	mail_buf_append_str(out, " SASL-IR ID ENABLE LITERAL+ IDLE NAMESPACE "
	    "UNSELECT UIDPLUS MOVE CHILDREN LIST-EXTENDED LIST-STATUS "
	    "SPECIAL-USE CREATE-SPECIAL-USE ESEARCH SEARCHRES WITHIN SORT "
	    "SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS "
	    "CONDSTORE QRESYNC STATUS=SIZE SAVEDATE MULTIAPPEND BINARY "
	    "UTF8=ACCEPT METADATA METADATA-SERVER");
	if (!imap_conn_is_compressed(c->conn))
		mail_buf_append_str(out, " COMPRESS=DEFLATE");
}

/* ---- listeners ---- */

static void
listener_accept(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct imapd_listener *l = ctx;
	struct sockaddr_storage sa;
	socklen_t len;
	int cfd;

	(void)loop;
	(void)events;
	for (int i = 0; i < 64; i++) {
		len = sizeof(sa);
		cfd = accept4(fd, (struct sockaddr *)&sa, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept on %s", l->name);
			return;
		}
		imapd_client_accept(l->d, cfd, l->tls, &sa);
	}
}

/* Split "host:port", "[v6]:port" or "*:port" into host (NULL: any) and
 * port. */
static int
split_addr(const char *s, char **host_r, char **port_r, struct mail_err *err)
{
	const char *colon;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "listen address '%s': expected [ADDRESS]:PORT", s);
		*host_r = mail_xstrndup(s + 1, (size_t)(end - s - 1));
		*port_r = mail_xstrdup(end + 2);
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL || colon == s || colon[1] == '\0')
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "listen address '%s': expected ADDRESS:PORT", s);
	*host_r = strncmp(s, "*:", 2) == 0 ? NULL :
	    mail_xstrndup(s, (size_t)(colon - s));
	*port_r = mail_xstrdup(colon + 1);
	return 0;
}

static int
listen_one(struct imapd *d, const char *addr, bool tls, struct mail_err *err)
{
	struct addrinfo hints, *res, *ai;
	char *host = NULL, *port = NULL;
	int r, fd = -1, one = 1;

	if (split_addr(addr, &host, &port, err) < 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &res);
	free(host);
	free(port);
	if (r != 0)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "listen address '%s': %s", addr, gai_strerror(r));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		r = errno;
		close(fd);
		fd = -1;
		errno = r;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return mail_err_sys(err, errno, "listening on %s", addr);
	d->listeners = mail_xrealloc(d->listeners,
	    (d->n_listeners + 1) * sizeof(*d->listeners));
	d->listeners[d->n_listeners].fd = fd;
	d->listeners[d->n_listeners].tls = tls;
	d->listeners[d->n_listeners].name = mail_xstrdup(addr);
	d->listeners[d->n_listeners].d = d;
	d->n_listeners++;
	return 0;
}

/* Each comma-separated address of list. */
static int
listen_list(struct imapd *d, const char *list, bool tls, struct mail_err *err)
{
	char *copy = mail_xstrdup(list), *save = NULL, *tok;
	int ret = 0;

	for (tok = strtok_r(copy, ", \t", &save); tok != NULL && ret == 0;
	    tok = strtok_r(NULL, ", \t", &save))
		ret = listen_one(d, tok, tls, err);
	free(copy);
	return ret;
}

/* ---- configuration ---- */

static int
load_config(struct imapd *d, const char *path, struct mail_err *err)
{
	const struct mail_conf *c;
	const char *passdb, *v;

	if (mail_conf_load(path, &d->conf, err) < 0 ||
	    mail_settings_check(d->conf, err) < 0)
		return -1;
	c = d->conf;
	passdb = mail_settings_str(c, NULL, "imap.passdb");
	if (strncmp(passdb, "passwd-file:", 12) != 0 || passdb[12] != '/')
		return mail_err_set(err, MAIL_ERR_PARAM, "%s: imap passdb "
		    "must be passwd-file:/ABSOLUTE/PATH, not '%s'", path,
		    passdb);
	d->set.passdb_path = mail_xstrdup(passdb + 12);
	v = mail_settings_str(c, NULL, "imap.plaintext_auth");
	d->set.plaintext_auth = strcmp(v, "yes") == 0 ? IMAPD_PLAINTEXT_YES :
	    strcmp(v, "no") == 0 ? IMAPD_PLAINTEXT_NO :
	    IMAPD_PLAINTEXT_LOOPBACK;
	d->set.max_connections = mail_settings_uint(c, NULL,
	    "imap.max_connections");
	d->set.max_line = mail_settings_size(c, NULL, "imap.max_line");
	d->set.max_append = mail_settings_size(c, NULL, "imap.max_append");
	d->set.login_timeout_ms = mail_settings_duration_ms(c, NULL,
	    "imap.login_timeout");
	d->set.idle_timeout_ms = mail_settings_duration_ms(c, NULL,
	    "imap.idle_timeout");
	d->set.auth_failure_delay_ms = mail_settings_duration_ms(c, NULL,
	    "imap.auth_failure_delay");
	d->set.max_auth_failures = mail_settings_uint(c, NULL,
	    "imap.max_auth_failures");
	d->set.create_users = mail_settings_bool(c, NULL, "imap.create_users");
	return 0;
}

static int
setup_tls(struct imapd *d, struct mail_err *err)
{
	const char *cert = mail_settings_str(d->conf, NULL, "imap.tls_cert");
	const char *key = mail_settings_str(d->conf, NULL, "imap.tls_key");
	const char *tls_listen = mail_settings_str(d->conf, NULL,
	    "imap.tls_listen");

	if (cert[0] == '\0' && key[0] == '\0') {
		if (tls_listen[0] != '\0')
			return mail_err_set(err, MAIL_ERR_PARAM, "imap "
			    "tls_listen needs tls_cert and tls_key");
		return 0;
	}
	if (cert[0] == '\0' || key[0] == '\0')
		return mail_err_set(err, MAIL_ERR_PARAM, "imap tls_cert and "
		    "tls_key go together");
	return imap_tls_ctx_new(cert, key, &d->tls, err);
}


/* Allow as many descriptors as max_connections needs, within the hard
 * limit. */
static void
raise_fd_limit(uint64_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want += 64;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("raising the open file limit");
	if (rl.rlim_cur < want - 64)
		log_warnx("open file limit %llu is below max_connections",
		    (unsigned long long)rl.rlim_cur);
}

/* ---- signals and systemd ---- */

static void
on_signal(struct mail_loop *loop, int fd, unsigned events, void *ctx)
{
	struct imapd *d = ctx;
	struct signalfd_siginfo si;
	struct mail_err err;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("stopping (signal %u)", si.ssi_signo);
			d->stopping = true;
			mail_loop_stop(loop);
			break;
		case SIGHUP:
			/* the passdb reloads by itself; other settings are
			 * read at start */
			(void)err;
			imapd_passdb_reload(d);
			log_info("SIGHUP: passdb checked; restart imapd to "
			    "apply other changed settings");
			break;
		}
	}
}

static int
signals_setup(struct imapd *d, struct mail_err *err)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };

	d->signal_fd = mail_daemon_signalfd(sigs, N_ELEMENTS(sigs), err);
	return d->signal_fd < 0 ? -1 : 0;
}

static void
notify_systemd(const char *state)
{
	struct mail_err err;

	if (mail_daemon_notify(state, &err) < 0)
		log_warnx("%s", err.msg);
}

/* ---- main ---- */

static void
cleanup(struct imapd *d)
{
	while (d->clients != NULL)
		imapd_client_free(d->clients);
	for (size_t i = 0; i < d->n_users; i++) {
		mail_user_close(&d->users[i]->mu);
		free(d->users[i]->name);
		free(d->users[i]);
	}
	free(d->users);
	for (size_t i = 0; i < d->n_listeners; i++) {
		close(d->listeners[i].fd);
		free(d->listeners[i].name);
	}
	free(d->listeners);
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	imapd_authwork_stop(d);
	imapd_passdb_free(d);
	imap_tls_ctx_free(&d->tls);
	mail_watch_free(&d->watch);
	mail_loop_free(&d->loop);
	mail_store_close(&d->store);
	free(d->set.passdb_path);
	mail_conf_free(&d->conf);
}

int
imapd_main(int argc, char **argv)
{
	struct imapd d;
	struct mail_err err;
	const char *config = DEFAULT_CONFIG, *store_path;
	bool foreground = false;
	enum log_level level;

	if (mail_daemon_args(argc, argv, &config, &foreground) < 0)
		usage();
	memset(&d, 0, sizeof(d));
	d.signal_fd = -1;
	log_init("imapd", false, LOG_LEVEL_INFO);
	if (load_config(&d, config, &err) < 0)
		fatalx("%s", err.msg);
	if (log_level_parse(mail_settings_str(d.conf, NULL, "log_level"),
	    &level) < 0)
		level = LOG_LEVEL_INFO;
	if (setup_tls(&d, &err) < 0)
		fatalx("%s", err.msg);
	if (listen_list(&d, mail_settings_str(d.conf, NULL, "imap.listen"),
	    false, &err) < 0 ||
	    listen_list(&d, mail_settings_str(d.conf, NULL, "imap.tls_listen"),
	    true, &err) < 0)
		fatalx("%s", err.msg);
	if (d.n_listeners == 0)
		fatalx("%s: imap listen and tls_listen are both empty", config);
	raise_fd_limit(d.set.max_connections);
	if (mail_daemon_become(mail_settings_str(d.conf, NULL, "mail_user"),
	    NULL, &err) < 0)
		fatalx("%s", err.msg);
	/* the passdb is read as mail_user: a file only root can read would
	 * fail at the first reload instead of now */
	if (imapd_passdb_load(&d, &err) < 0)
		fatalx("passdb: %s", err.msg);
	store_path = mail_settings_str(d.conf, NULL, "store");
	if (mail_store_open(store_path, NULL, &d.store, &err) < 0)
		fatalx("store '%s': %s", store_path, err.msg);
	if (!foreground) {
		if (daemon(0, 0) < 0)
			fatal("daemon");
		log_init("imapd", strcmp(mail_settings_str(d.conf, NULL,
		    "log"), "syslog") == 0, level);
	} else {
		log_init("imapd", false, level);
	}
	if (mail_loop_new(&d.loop, &err) < 0 ||
	    mail_watch_new(&d.watch, &err) < 0 ||
	    signals_setup(&d, &err) < 0 ||
	    mail_loop_add_fd(d.loop, mail_watch_fd(d.watch), MAIL_EV_READ,
	    imapd_watch_event, &d, &err) < 0 ||
	    mail_loop_add_fd(d.loop, d.signal_fd, MAIL_EV_READ, on_signal, &d,
	    &err) < 0 ||
	    imapd_authwork_start(&d, &err) < 0)
		fatalx("%s", err.msg);
	for (size_t i = 0; i < d.n_listeners; i++) {
		if (mail_loop_add_fd(d.loop, d.listeners[i].fd, MAIL_EV_READ,
		    listener_accept, &d.listeners[i], &err) < 0)
			fatalx("%s", err.msg);
	}
	for (size_t i = 0; i < d.n_listeners; i++)
		log_info("listening on %s%s", d.listeners[i].name,
		    d.listeners[i].tls ? " (TLS)" : "");
	notify_systemd("READY=1");
	if (mail_loop_run(d.loop, &err) < 0)
		log_warnx("event loop: %s", err.msg);
	notify_systemd("STOPPING=1");
	for (struct imapd_client *c = d.clients; c != NULL; c = c->next) {
		imapd_client_printf(c, "* BYE Server shutting down\r\n");
		if (imap_conn_flush(c->conn, &err) < 0)
			continue;	/* it is closing anyway */
	}
	cleanup(&d);
	log_info("stopped");
	return 0;
}
