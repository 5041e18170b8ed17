/*
 * wire_conn_fd.c: the fd transport: a pair of fds given to us (the
 * server's stdin and stdout, a socketpair) or the pipes of a child we
 * spawned (local: peers and the system ssh).
 *
 * Sockets are used with MSG_DONTWAIT; other fds are switched to
 * O_NONBLOCK and get their original flags back before they are closed:
 * stdin and stdout may share their open file description with other
 * processes (a terminal), which must not be left non-blocking, and a
 * process that shares it must not wrap it at the same time. SIGPIPE:
 * sockets use send(MSG_NOSIGNAL); for pipes the
 * signal is blocked around write() and, if that write raised it,
 * consumed with sigtimedwait() before it is unblocked, so a disappeared
 * peer is an EPIPE error and not the death of the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wire_conn_private.h"

struct wire_conn_fd {
	struct wire_conn conn;	/* first: wire_conn_free() frees us */
	int	 rfd, wfd;	/* -1 once closed; may be equal (socket) */
	int	 rflags, wflags; /* original file status flags, -1: untouched */
	bool	 rsock, wsock;	/* sockets: recv/send(MSG_DONTWAIT) */
	bool	 pipe_ign;	/* SIGPIPE ignored when we were made: a plain
				 * write() is safe, no masking needed */
	pid_t	 pid;		/* spawned child, or -1 */
	bool	 ssh;		/* the child is ssh: exit 255 is TEMP */
};

#define WIRE_FD_PIPE_SIZE	(1024 * 1024)

static bool
wire_fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Bulk bodies cross a pipe in fewer, larger copies, and the writer runs
 * further ahead of a reader that is busy (encrypting, writing files), when
 * the pipe is bigger than the default 64 KiB. Best effort: where the
 * system limit (/proc/sys/fs/pipe-max-size) is lower, or fd is no pipe,
 * nothing changes. */
static void
wire_fd_grow_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < WIRE_FD_PIPE_SIZE)
		(void)fcntl(fd, F_SETPIPE_SZ, WIRE_FD_PIPE_SIZE);
}

/* O_NONBLOCK for a pipe (sockets get MSG_DONTWAIT per call instead, which
 * leaves a file description shared with other processes alone). Returns
 * the flags to restore, or -1. */
static int
wire_fd_set_nonblock(int fd, bool sock)
{
	int flags;

	if (sock || (flags = fcntl(fd, F_GETFL)) == -1 || (flags & O_NONBLOCK))
		return -1;
	(void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	return flags;
}

/* Give fd its flags back and close it; the other one stays if shared. */
static void
wire_fd_close_one(struct wire_conn_fd *f, int *fdp, int flags)
{
	int fd = *fdp;

	if (fd == -1)
		return;
	*fdp = -1;
	if (fd == f->rfd || fd == f->wfd)
		return;	/* rfd == wfd: closed with the last reference */
	if (flags != -1)
		(void)fcntl(fd, F_SETFL, flags);
	close(fd);
}

static ssize_t
wire_fd_read(struct wire_conn *c, void *buf, size_t cap, struct mail_err *err)
{
	struct wire_conn_fd *f = (struct wire_conn_fd *)c;
	ssize_t n = f->rsock ? recv(f->rfd, buf, cap, MSG_DONTWAIT) :
	    read(f->rfd, buf, cap);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return WIRE_IO_AGAIN;
	if (errno == ECONNRESET) {
		mail_err_set(err, MAIL_ERR_TEMP,
		    "read from %s: connection reset by peer", c->name);
		err->sys_errno = errno;
		return -1;
	}
	return mail_err_sys(err, errno, "read from %s", c->name);
}

/* write() to a pipe with SIGPIPE blocked; a SIGPIPE raised by this write
 * is consumed (one that was already pending is left alone). */
static ssize_t
wire_fd_write_pipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, pending, old;
	bool was_pending;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && saved == EPIPE && !was_pending) {
		while (sigtimedwait(&pipe_set, NULL, &zero) == -1 &&
		    errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

static ssize_t
wire_fd_write(struct wire_conn *c, const void *buf, size_t len,
    struct mail_err *err)
{
	struct wire_conn_fd *f = (struct wire_conn_fd *)c;
	ssize_t n;

	if (f->wsock)
		n = send(f->wfd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	else if (f->pipe_ign)
		n = write(f->wfd, buf, len);
	else
		n = wire_fd_write_pipe(f->wfd, buf, len);
	if (n > 0)
		return n;
	if (n == 0 || errno == EAGAIN || errno == EINTR)
		return WIRE_IO_AGAIN;
	if (errno == EPIPE || errno == ECONNRESET) {
		mail_err_set(err, MAIL_ERR_TEMP,
		    "write to %s: peer closed the connection", c->name);
		err->sys_errno = errno;
		return -1;
	}
	return mail_err_sys(err, errno, "write to %s", c->name);
}

static int
wire_fd_pollfds(struct wire_conn *c, bool want_in, bool want_out,
    struct pollfd *pfd)
{
	struct wire_conn_fd *f = (struct wire_conn_fd *)c;
	int n = 0;

	if (want_in && f->rfd != -1)
		pfd[n++] = (struct pollfd){ .fd = f->rfd, .events = POLLIN };
	if (want_out && f->wfd != -1) {
		if (n > 0 && pfd[0].fd == f->wfd)
			pfd[0].events |= POLLOUT;
		else
			pfd[n++] = (struct pollfd){ .fd = f->wfd,
				.events = POLLOUT };
	}
	return n;
}

static int
wire_fd_shutdown(struct wire_conn *c, struct mail_err *err)
{
	struct wire_conn_fd *f = (struct wire_conn_fd *)c;

	/* a socket may have other fds (our rfd, a dup in a parent): only
	 * shutdown() makes the peer see EOF */
	if (f->wsock && shutdown(f->wfd, SHUT_WR) < 0 && errno != ENOTCONN)
		return mail_err_sys(err, errno, "shutdown %s", c->name);
	if (f->wfd != f->rfd)
		wire_fd_close_one(f, &f->wfd, f->wflags);
	return 0;
}

static void
wire_fd_close_all(struct wire_conn_fd *f)
{
	wire_fd_close_one(f, &f->wfd, f->wflags);
	wire_fd_close_one(f, &f->rfd, f->rflags);
}

/* waitpid() through EINTR; the status or -1. */
static int
wire_fd_reap(struct wire_conn_fd *f, int *status_r)
{
	pid_t pid = f->pid;

	f->pid = -1;
	while (waitpid(pid, status_r, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int
wire_fd_finish(struct wire_conn *c, struct mail_err *err)
{
	struct wire_conn_fd *f = (struct wire_conn_fd *)c;
	char what[64];
	int status, code;

	if (f->pid == -1) {
		/* nobody to wait for: the peer's EOF does not matter */
		wire_fd_close_all(f);
		return 0;
	}
	if (f->wfd != f->rfd)
		wire_fd_close_one(f, &f->wfd, f->wflags);
	if (wire_conn_drain(c, err) < 0) {
		kill(f->pid, SIGKILL);
		wire_fd_close_all(f);
		(void)wire_fd_reap(f, &status);
		return -1;
	}
	wire_fd_close_all(f);
	if (wire_fd_reap(f, &status) < 0)
		return mail_err_sys(err, errno, "waitpid %s", c->name);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	code = MAIL_ERR_INTERNAL;
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 75 ||
	    (f->ssh && WEXITSTATUS(status) == 255)))
		code = MAIL_ERR_TEMP;
	wire_conn_describe_status(status, what, sizeof(what));
	return mail_err_set(err, code, "%s %s", c->name, what);
}

static void
wire_fd_abort(struct wire_conn *c)
{
	struct wire_conn_fd *f = (struct wire_conn_fd *)c;
	int status;

	if (f->pid != -1)
		kill(f->pid, SIGKILL);
	wire_fd_close_all(f);
	if (f->pid != -1)
		(void)wire_fd_reap(f, &status);
}

static const struct wire_conn_ops wire_fd_ops = {
	.read = wire_fd_read,
	.write = wire_fd_write,
	.pollfds = wire_fd_pollfds,
	.shutdown = wire_fd_shutdown,
	.finish = wire_fd_finish,
	.abort = wire_fd_abort,
};

static struct wire_conn_fd *
wire_fd_new(int rfd, int wfd, pid_t pid)
{
	struct wire_conn_fd *f = mail_xcalloc(1, sizeof(*f));

	f->rfd = rfd;
	f->wfd = wfd;
	f->pid = pid;
	f->rsock = wire_fd_is_socket(rfd);
	f->wsock = wire_fd_is_socket(wfd);
	{
		struct sigaction sa;

		f->pipe_ign = sigaction(SIGPIPE, NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_IGN;
	}
	f->rflags = wire_fd_set_nonblock(rfd, f->rsock);
	f->wflags = wfd == rfd ? f->rflags :
	    wire_fd_set_nonblock(wfd, f->wsock);
	return f;
}

struct wire_conn *
wire_conn_from_fds(int rfd, int wfd)
{
	struct wire_conn_fd *f = wire_fd_new(rfd, wfd, -1);

	/* the server's stdin and stdout: pipes from sshd or a brain */
	wire_fd_grow_pipe(rfd);
	if (wfd != rfd)
		wire_fd_grow_pipe(wfd);
	if (rfd == wfd)
		wire_conn_init(&f->conn, &wire_fd_ops, "peer on fd %d", rfd);
	else
		wire_conn_init(&f->conn, &wire_fd_ops, "peer on fds %d/%d",
		    rfd, wfd);
	return &f->conn;
}

/* posix_spawnp argv[0] with stdin from in[0] and stdout to out[1]. */
static int
wire_fd_spawn_child(char *const argv[], const int in[2], const int out[2],
    pid_t *pid_r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawnattr_init(&attr);
	/* a parent that ignores SIGPIPE must not pass that on */
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(pid_r, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* A pipe whose ends are both above stderr, so that dup2() onto 0 and 1
 * in the child never meets an end that already is 0 or 1. */
static int
wire_fd_pipe(int p[2])
{
	int fd;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (p[i] > STDERR_FILENO)
			continue;
		if ((fd = fcntl(p[i], F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) < 0)
			return -1;
		close(p[i]);
		p[i] = fd;
	}
	wire_fd_grow_pipe(p[1]);
	return 0;
}

/* name: how messages call the child, already quoted. */
static int
wire_fd_spawn(char *const argv[], bool ssh, const char *name,
    struct wire_conn **conn_r, struct mail_err *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, rc, ret = -1;
	struct wire_conn_fd *f;
	pid_t pid;

	*conn_r = NULL;
	if (wire_fd_pipe(in) < 0 || wire_fd_pipe(out) < 0) {
		mail_err_sys(err, errno, "pipe for %s", name);
		goto out;
	}
	if ((rc = wire_fd_spawn_child(argv, in, out, &pid)) != 0) {
		mail_err_sys(err, rc, "run %s", name);
		goto out;
	}
	f = wire_fd_new(out[0], in[1], pid);
	f->ssh = ssh;
	wire_conn_init(&f->conn, &wire_fd_ops, "%s", name);
	out[0] = in[1] = -1;
	*conn_r = &f->conn;
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
	}
	return ret;
}

int
wire_conn_spawn(char *const argv[], struct wire_conn **conn_r,
    struct mail_err *err)
{
	char *name = mail_xasprintf("'%s'", argv[0]);
	int ret = wire_fd_spawn(argv, false, name, conn_r, err);

	free(name);
	return ret;
}

int
wire_conn_ssh_command(const char *ssh_command, const struct wire_ssh_opts *o,
    struct wire_conn **conn_r, struct mail_err *err)
{
	char *argv[12], *name;
	size_t n = 0;
	int ret;

	*conn_r = NULL;
	if (o->host == NULL || o->host[0] == '\0' || o->host[0] == '-')
		return mail_err_set(err, MAIL_ERR_PARAM, "bad ssh host '%s'",
		    o->host != NULL ? o->host : "");
	/* "$@" keeps every argument one word whatever the command line */
	argv[n++] = mail_xstrdup("/bin/sh");
	argv[n++] = mail_xstrdup("-c");
	argv[n++] = mail_xasprintf("%s \"$@\"", ssh_command);
	argv[n++] = mail_xstrdup("sh");
	if (o->port != 0) {
		argv[n++] = mail_xstrdup("-p");
		argv[n++] = mail_xasprintf("%d", o->port);
	}
	if (o->user != NULL) {
		argv[n++] = mail_xstrdup("-l");
		argv[n++] = mail_xstrdup(o->user);
	}
	argv[n++] = mail_xstrdup(o->host);
	argv[n++] = mail_xstrdup(o->command);
	argv[n] = NULL;
	/* "'ssh' to 'host'": the whole command line is too long */
	name = mail_xasprintf("'%.*s' to '%s'",
	    (int)strcspn(ssh_command, " \t"), ssh_command, o->host);
	ret = wire_fd_spawn(argv, true, name, conn_r, err);
	free(name);
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	return ret;
}
