/*
 * wire_conn_ssh.c: the ssh transport: a libssh2 session with one exec
 * channel running the remote command.
 *
 * Setting up (TCP connect, handshake, host key, login, exec) runs in
 * libssh2's blocking mode with its timeout (connect_timeout_ms per step):
 * nothing else happens meanwhile. Then the session turns non-blocking and
 * is driven like the fd transport; after LIBSSH2_ERROR_EAGAIN the
 * directions libssh2 waits for (libssh2_session_block_directions) decide
 * whether to poll the socket for output as well; input is always polled,
 * since window adjustments arrive there too.
 *
 * The remote command's stderr (extended data) must be read or it would
 * fill the channel window and stall stdout: every read also drains it,
 * keeping the last bytes for the message when the command fails.
 *
 * While setting up, every receive also asks for quick ACKs: until the
 * session starts, OpenSSH's sshd writes with Nagle on, and its reply to
 * our channel open waited for the ACK of the packets before it, which
 * Linux delays by ~40 ms (a no-op sync paid that once, a fifth of its
 * time). Afterwards sshd has TCP_NODELAY and libssh2's own receive is put
 * back.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mail_buf.h"
#include "wire_conn_private.h"
#include "wire_ssh_hostkey.h"

#define WIRE_SSH_TIMEOUT_MS	15000
#define WIRE_SSH_STDERR_KEEP	1024

struct wire_conn_ssh {
	struct wire_conn conn;	/* first: wire_conn_free() frees us */
	int	 sock;
	LIBSSH2_SESSION *session;
	LIBSSH2_CHANNEL *channel;
	bool	 inited;	/* libssh2_init() to undo */
	void	*recv_orig;	/* libssh2's receive, while ours is set */
	int	 dirs;		/* LIBSSH2_SESSION_BLOCK_* since last poll */
	char	 stderr_tail[WIRE_SSH_STDERR_KEEP];
	size_t	 stderr_len;
	char	*command;	/* for messages */
};

/* libssh2's last error message for the session. */
static const char *
wire_ssh_errmsg(struct wire_conn_ssh *s)
{
	char *msg = NULL;

	if (s->session == NULL ||
	    libssh2_session_last_error(s->session, &msg, NULL, 0) == 0 ||
	    msg == NULL)
		return "unknown error";
	return msg;
}

static int
wire_ssh_fail(struct wire_conn_ssh *s, int rc, const char *what,
    struct mail_err *err)
{
	enum mail_err_code code = MAIL_ERR_TEMP;

	if (rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT)
		return mail_err_set(err, MAIL_ERR_TEMP,
		    "%s %s: timed out", what, s->conn.name);
	/* libssh2's own words for these are "transport read" and such */
	if (rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_SEND ||
	    rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    rc == LIBSSH2_ERROR_SOCKET_NONE)
		return mail_err_set(err, MAIL_ERR_TEMP,
		    "%s %s: connection lost", what, s->conn.name);
	if (rc == LIBSSH2_ERROR_ALLOC)
		code = MAIL_ERR_INTERNAL;
	return mail_err_set(err, code, "%s %s: %s", what, s->conn.name,
	    wire_ssh_errmsg(s));
}

/* Keep the last WIRE_SSH_STDERR_KEEP bytes the remote wrote to stderr. */
static void
wire_ssh_keep_stderr(struct wire_conn_ssh *s, const char *p, size_t n)
{
	size_t keep = sizeof(s->stderr_tail);

	if (n >= keep) {
		memcpy(s->stderr_tail, p + n - keep, keep);
		s->stderr_len = keep;
		return;
	}
	if (s->stderr_len + n > keep) {
		size_t drop = s->stderr_len + n - keep;

		memmove(s->stderr_tail, s->stderr_tail + drop,
		    s->stderr_len - drop);
		s->stderr_len -= drop;
	}
	memcpy(s->stderr_tail + s->stderr_len, p, n);
	s->stderr_len += n;
}

static void
wire_ssh_drain_stderr(struct wire_conn_ssh *s)
{
	char buf[4096];
	ssize_t n;

	while ((n = libssh2_channel_read_stderr(s->channel, buf,
	    sizeof(buf))) > 0)
		wire_ssh_keep_stderr(s, buf, (size_t)n);
}

/* The last non-empty stderr line, control characters replaced. */
static void
wire_ssh_stderr_line(struct wire_conn_ssh *s, char *buf, size_t size)
{
	size_t end = s->stderr_len, start, n;

	while (end > 0 && (s->stderr_tail[end - 1] == '\n' ||
	    s->stderr_tail[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && s->stderr_tail[start - 1] != '\n')
		start--;
	n = end - start < size - 1 ? end - start : size - 1;
	for (size_t i = 0; i < n; i++) {
		char ch = s->stderr_tail[start + i];

		buf[i] = (unsigned char)ch < 0x20 || ch == 0x7f ? '?' : ch;
	}
	buf[n] = '\0';
}

/* Whether the TCP connection ended (EOF or error). */
static bool
wire_ssh_socket_gone(struct wire_conn_ssh *s)
{
	char b;
	ssize_t n = recv(s->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static ssize_t
wire_ssh_read(struct wire_conn *c, void *buf, size_t cap, struct mail_err *err)
{
	struct wire_conn_ssh *s = (struct wire_conn_ssh *)c;
	ssize_t n;

	/* stderr first: draining it reads the socket, which can queue
	 * stdout data inside libssh2 that a later poll of the socket would
	 * never announce */
	wire_ssh_drain_stderr(s);
	n = libssh2_channel_read(s->channel, buf, cap);
	if (n == LIBSSH2_ERROR_EAGAIN)
		s->dirs |= libssh2_session_block_directions(s->session);
	if (n > 0)
		return n;
	if (n == 0 && libssh2_channel_eof(s->channel))
		return 0;
	/* libssh2 also returns 0 when the socket failed: tell them apart,
	 * or we would poll a dead socket forever */
	if (n == 0 && wire_ssh_socket_gone(s))
		return mail_err_set(err, MAIL_ERR_TEMP,
		    "read from %s: connection lost", c->name);
	if (n == 0 || n == LIBSSH2_ERROR_EAGAIN)
		return WIRE_IO_AGAIN;
	wire_ssh_fail(s, (int)n, "read from", err);
	return -1;
}

static ssize_t
wire_ssh_write(struct wire_conn *c, const void *buf, size_t len,
    struct mail_err *err)
{
	struct wire_conn_ssh *s = (struct wire_conn_ssh *)c;
	ssize_t n = libssh2_channel_write(s->channel, buf, len);

	if (n > 0)
		return n;
	if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) {
		s->dirs |= libssh2_session_block_directions(s->session);
		return WIRE_IO_AGAIN;
	}
	if (n == LIBSSH2_ERROR_CHANNEL_EOF_SENT ||
	    n == LIBSSH2_ERROR_CHANNEL_CLOSED)
		return mail_err_set(err, MAIL_ERR_TEMP,
		    "write to %s: peer closed the connection", c->name);
	wire_ssh_fail(s, (int)n, "write to", err);
	return -1;
}

/* libssh2's receive (recv(), -errno on failure) that also turns off
 * delayed ACKs, which a receive turns on again: for connection setup. */
static LIBSSH2_RECV_FUNC(wire_ssh_recv_quickack)
{
	ssize_t n = recv(socket, buffer, length, flags);
	int one = 1;

	(void)abstract;
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	(void)setsockopt(socket, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	return n;
}

static int
wire_ssh_pollfds(struct wire_conn *c, bool want_in, bool want_out,
    struct pollfd *pfd)
{
	struct wire_conn_ssh *s = (struct wire_conn_ssh *)c;

	pfd[0].fd = s->sock;
	pfd[0].events = POLLIN;
	if (s->dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd[0].events |= POLLOUT;
	/* Data libssh2 already read off the socket (while writing, say) is
	 * not announced by the socket: make the poll return at once (a
	 * socket is almost always writable) so that the caller reads it. */
	if (want_in) {
		unsigned long avail = 0;

		(void)libssh2_channel_window_read_ex(s->channel, &avail, NULL);
		if (avail > 0)
			pfd[0].events |= POLLOUT;
	}
	/* Likewise a window adjust that a read already took in: a write
	 * that waited for window can go on as soon as the socket can. */
	if (want_out && libssh2_channel_window_write_ex(s->channel, NULL) > 0)
		pfd[0].events |= POLLOUT;
	pfd[0].revents = 0;
	s->dirs = 0;
	return 1;
}

static int
wire_ssh_shutdown(struct wire_conn *c, struct mail_err *err)
{
	struct wire_conn_ssh *s = (struct wire_conn_ssh *)c;
	int rc;

	while ((rc = libssh2_channel_send_eof(s->channel)) ==
	    LIBSSH2_ERROR_EAGAIN) {
		s->dirs |= libssh2_session_block_directions(s->session);
		if (wire_conn_wait(c, false, true, err) < 0)
			return -1;
	}
	if (rc < 0)
		return wire_ssh_fail(s, rc, "send EOF to", err);
	return 0;
}

/* Release everything; with hard, drop the connection without goodbye. */
static void
wire_ssh_free(struct wire_conn_ssh *s, bool hard)
{
	if (hard && s->sock != -1)
		/* sends now fail at once instead of blocking in free */
		shutdown(s->sock, SHUT_RDWR);
	if (s->session != NULL) {
		if (!hard) {
			if (s->channel != NULL)
				libssh2_channel_free(s->channel);
			libssh2_session_disconnect(s->session, "done");
		}
		libssh2_session_free(s->session);
	}
	s->channel = NULL;
	s->session = NULL;
	if (s->sock != -1)
		close(s->sock);
	s->sock = -1;
	if (s->inited)
		libssh2_exit();
	s->inited = false;
	free(s->command);
	s->command = NULL;
}

/* The remote command's end: 0 if it exited 0, else -1 with a message. */
static int
wire_ssh_exit_status(struct wire_conn_ssh *s, struct mail_err *err)
{
	char *signame = NULL, line[160];
	int status;

	status = libssh2_channel_get_exit_status(s->channel);
	(void)libssh2_channel_get_exit_signal(s->channel, &signame, NULL, NULL,
	    NULL, NULL, NULL);
	if (status == 0 && signame == NULL)
		return 0;
	wire_ssh_stderr_line(s, line, sizeof(line));
	if (signame != NULL) {
		mail_err_set(err, MAIL_ERR_INTERNAL,
		    "remote command '%.60s' on %s killed by signal %s%s%s",
		    s->command, s->conn.name, signame, line[0] ? ": " : "",
		    line);
		libssh2_free(s->session, signame);
		return -1;
	}
	return mail_err_set(err, status == 75 ? MAIL_ERR_TEMP :
	    MAIL_ERR_INTERNAL,
	    "remote command '%.60s' on %s exited with status %d%s%s",
	    s->command, s->conn.name, status, line[0] ? ": " : "", line);
}

static int
wire_ssh_finish(struct wire_conn *c, struct mail_err *err)
{
	struct wire_conn_ssh *s = (struct wire_conn_ssh *)c;
	int rc, ret = -1;

	if (wire_conn_drain(c, err) < 0) {
		wire_ssh_free(s, true);
		return -1;
	}
	/* the rest is short: wait for the remote's close and exit status */
	libssh2_session_set_blocking(s->session, 1);
	libssh2_session_set_timeout(s->session, c->timeout_ms);
	if ((rc = libssh2_channel_close(s->channel)) < 0 ||
	    (rc = libssh2_channel_wait_closed(s->channel)) < 0) {
		mail_err_set(err, MAIL_ERR_TEMP,
		    "lost %s before the remote command ended: %s", c->name,
		    rc == LIBSSH2_ERROR_TIMEOUT ? "timed out" :
		    wire_ssh_errmsg(s));
		wire_ssh_free(s, true);
		return -1;
	}
	wire_ssh_drain_stderr(s);
	ret = wire_ssh_exit_status(s, err);
	wire_ssh_free(s, false);
	return ret;
}

static void
wire_ssh_abort(struct wire_conn *c)
{
	wire_ssh_free((struct wire_conn_ssh *)c, true);
}

static const struct wire_conn_ops wire_ssh_ops = {
	.read = wire_ssh_read,
	.write = wire_ssh_write,
	.pollfds = wire_ssh_pollfds,
	.shutdown = wire_ssh_shutdown,
	.finish = wire_ssh_finish,
	.abort = wire_ssh_abort,
};

/* Wait for a non-blocking connect() to finish; 0 or -1 with errno. */
static int
wire_ssh_connect_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int r, soerr = 0;

	while ((r = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	errno = soerr;
	return soerr == 0 ? 0 : -1;
}

/* TCP connection to host:port, trying each address. */
static int
wire_ssh_connect(struct wire_conn_ssh *s, const char *host, int port,
    int timeout_ms, struct mail_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int rc, fd = -1, one = 1, last = ECONNREFUSED;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return mail_err_set(err, rc == EAI_NONAME ?
		    MAIL_ERR_NOTFOUND : MAIL_ERR_TEMP,
		    "resolve host '%s': %s", host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS &&
		    wire_ssh_connect_wait(fd, timeout_ms) == 0))
			break;
		last = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		if (last == ETIMEDOUT)
			return mail_err_set(err, MAIL_ERR_TEMP,
			    "connect to '%s' port %d: timed out after %d ms",
			    host, port, timeout_ms);
		mail_err_sys(err, last, "connect to '%s' port %d", host, port);
		err->code = MAIL_ERR_TEMP;
		return -1;
	}
	/* requests and replies are small: do not let Nagle delay them */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->sock = fd;
	return 0;
}

/* Try one private key file: 1 logged in, 0 refused or unusable (noted in
 * tried), -1 the session failed. */
static int
wire_ssh_auth_file(struct wire_conn_ssh *s, const char *user,
    const char *file, const char *passphrase, struct mail_buf *tried,
    struct mail_err *err)
{
	char *pub = mail_xasprintf("%s.pub", file);
	int rc;

	rc = libssh2_userauth_publickey_fromfile_ex(s->session, user,
	    (unsigned)strlen(user), access(pub, R_OK) == 0 ? pub : NULL, file,
	    passphrase);
	free(pub);
	if (rc == 0)
		return 1;
	mail_buf_printf(tried, "%s'%s'%s", tried->len > 0 ? ", " : "", file,
	    rc != LIBSSH2_ERROR_FILE ? "" : passphrase != NULL ?
	    " (unreadable, or not this passphrase)" :
	    " (unreadable, or needs a passphrase)");
	if (rc == LIBSSH2_ERROR_FILE ||
	    rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED ||
	    rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
	    rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED)
		return 0;
	return wire_ssh_fail(s, rc, "log in to", err);
}

/* Try the keys of a running ssh-agent: 1, 0 or -1 as above. */
static int
wire_ssh_auth_agent(struct wire_conn_ssh *s, const char *user,
    struct mail_buf *tried)
{
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	LIBSSH2_AGENT *agent;
	int ret = 0;

	if (getenv("SSH_AUTH_SOCK") == NULL ||
	    (agent = libssh2_agent_init(s->session)) == NULL)
		return 0;
	mail_buf_printf(tried, "%sssh-agent", tried->len > 0 ? ", " : "");
	if (libssh2_agent_connect(agent) == 0 &&
	    libssh2_agent_list_identities(agent) == 0) {
		while (ret == 0 &&
		    libssh2_agent_get_identity(agent, &id, prev) == 0) {
			if (libssh2_agent_userauth(agent, user, id) == 0)
				ret = 1;
			prev = id;
		}
	}
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return ret;
}

/* Log in with a public key: o->identity, or the agent and default keys. */
static int
wire_ssh_auth(struct wire_conn_ssh *s, const struct wire_ssh_opts *o,
    const char *user, struct mail_err *err)
{
	static const char *const defaults[] = {
		".ssh/id_ed25519", ".ssh/id_ecdsa", ".ssh/id_rsa",
	};
	struct mail_buf tried = MAIL_BUF_INIT;
	const char *methods;
	char *file;
	int r = 0;

	methods = libssh2_userauth_list(s->session, user,
	    (unsigned)strlen(user));
	if (methods == NULL) {
		if (libssh2_userauth_authenticated(s->session))
			return 0;
		return wire_ssh_fail(s, libssh2_session_last_errno(s->session),
		    "log in to", err);
	}
	if (strstr(methods, "publickey") == NULL)
		return mail_err_set(err, MAIL_ERR_PERM,
		    "%s does not offer public key login to '%s' (only %s)",
		    s->conn.name, user, methods);
	if (o->identity != NULL) {
		if (access(o->identity, R_OK) < 0)
			return mail_err_sys(err, errno, "identity file '%s'",
			    o->identity);
		r = wire_ssh_auth_file(s, user, o->identity, o->passphrase,
		    &tried, err);
	} else {
		r = wire_ssh_auth_agent(s, user, &tried);
		for (size_t i = 0; r == 0 && i < N_ELEMENTS(defaults); i++) {
			if ((file = wire_ssh_home_path(defaults[i])) == NULL)
				break;
			if (access(file, R_OK) == 0)
				r = wire_ssh_auth_file(s, user, file, NULL,
				    &tried, err);
			free(file);
		}
	}
	if (r == 0)
		mail_err_set(err, MAIL_ERR_PERM,
		    "%s refused the login as '%s' (tried %s)", s->conn.name,
		    user, tried.len > 0 ? (const char *)tried.data :
		    "no key: none found");
	mail_buf_free(&tried);
	return r > 0 ? 0 : -1;
}

/* Open the session channel and start the command. */
static int
wire_ssh_exec(struct wire_conn_ssh *s, const char *command,
    struct mail_err *err)
{
	int rc;

	s->channel = libssh2_channel_open_session(s->session);
	if (s->channel == NULL)
		return wire_ssh_fail(s, libssh2_session_last_errno(s->session),
		    "open a channel to", err);
	if ((rc = libssh2_channel_exec(s->channel, command)) < 0) {
		if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED)
			return mail_err_set(err, MAIL_ERR_PERM,
			    "%s refused to run '%s'", s->conn.name, command);
		return wire_ssh_fail(s, rc, "start the command on", err);
	}
	return 0;
}

static const char *
wire_ssh_user(const struct wire_ssh_opts *o)
{
	const char *user = o->user;
	struct passwd *pw;

	if (user == NULL || user[0] == '\0')
		user = getenv("USER");
	if ((user == NULL || user[0] == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		user = pw->pw_name;
	return user;
}

int
wire_conn_ssh(const struct wire_ssh_opts *o, struct wire_conn **conn_r,
    struct mail_err *err)
{
	struct wire_conn_ssh *s;
	const char *user = wire_ssh_user(o);
	int port = o->port != 0 ? o->port : 22;
	int timeout = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	    WIRE_SSH_TIMEOUT_MS;
	int rc;

	*conn_r = NULL;
	if (o->host == NULL || o->host[0] == '\0' || o->command == NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "ssh needs a host and a command");
	if (user == NULL)
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "no user name for ssh to '%s'", o->host);
	s = mail_xcalloc(1, sizeof(*s));
	s->sock = -1;
	s->command = mail_xstrdup(o->command);
	wire_conn_init(&s->conn, &wire_ssh_ops,
	    strchr(o->host, ':') != NULL ? "'ssh://%s@[%s]:%d'" :
	    "'ssh://%s@%s:%d'", user, o->host, port);
	if ((rc = libssh2_init(0)) != 0) {
		mail_err_set(err, MAIL_ERR_INTERNAL, "libssh2_init: %d", rc);
		goto fail;
	}
	s->inited = true;
	if (wire_ssh_connect(s, o->host, port, timeout, err) < 0)
		goto fail;
	if ((s->session = libssh2_session_init()) == NULL) {
		mail_err_set(err, MAIL_ERR_INTERNAL, "libssh2_session_init");
		goto fail;
	}
	libssh2_session_set_blocking(s->session, 1);
	libssh2_session_set_timeout(s->session, timeout);
	s->recv_orig = libssh2_session_callback_set(s->session,
	    LIBSSH2_CALLBACK_RECV, (void *)wire_ssh_recv_quickack);
	wire_ssh_hostkey_prefer(s->session, o);
	if ((rc = libssh2_session_handshake(s->session, s->sock)) != 0) {
		wire_ssh_fail(s, rc, "ssh handshake with", err);
		goto fail;
	}
	/* nothing (not even the user name) goes to an unverified host */
	if (wire_ssh_hostkey_verify(s->session, o, err) < 0 ||
	    wire_ssh_auth(s, o, user, err) < 0 ||
	    wire_ssh_exec(s, o->command, err) < 0)
		goto fail;
	if (s->recv_orig != NULL)
		(void)libssh2_session_callback_set(s->session,
		    LIBSSH2_CALLBACK_RECV, s->recv_orig);
	libssh2_session_set_blocking(s->session, 0);
	*conn_r = &s->conn;
	return 0;
fail:
	wire_ssh_free(s, true);
	free(s);
	return -1;
}
