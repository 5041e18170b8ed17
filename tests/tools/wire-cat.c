/*
 * wire-cat: a test tool for the byte-stream transports (wire_conn.h).
 *
 *   wire-cat [--accept-new] [--known-hosts FILE] [-i KEY] [--user USER]
 *            [--ssh-command CMD] [--compress LEVEL] [--timeout MS]
 *            [--connect-timeout MS] LOCATION --command 'REMOTE COMMAND'
 *
 * LOCATION is ssh://[user@]host[:port][/path] (libssh2, or CMD with
 * --ssh-command; the path is not used: --command says what runs) or
 * local: (run COMMAND here through /bin/sh). Copies stdin to the
 * connection, then shuts down its output and copies the connection to
 * stdout until EOF; what arrives while stdin is being sent is buffered.
 * Exit 0, 1 on errors (message on stderr), 75 on MAIL_ERR_TEMP, 2 for
 * usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire_conn.h"
#include "wire_url.h"

#define EXIT_USAGE	2
#define EXIT_TEMPFAIL	75

static void
usage(void)
{
	fprintf(stderr,
	    "usage: wire-cat [--accept-new] [--known-hosts FILE] [-i KEY] [--user USER]\n"
	    "                [--ssh-command CMD] [--compress LEVEL] [--timeout MS]\n"
	    "                [--connect-timeout MS]\n"
	    "                ssh://[user@]host[:port][/path] | local: --command 'REMOTE COMMAND'\n");
	exit(EXIT_USAGE);
}

static int
fail(const struct mail_err *err)
{
	fprintf(stderr, "wire-cat: %s\n", err->msg);
	return err->code == MAIL_ERR_TEMP ? EXIT_TEMPFAIL : EXIT_FAILURE;
}

/* ssh:// URLs here may leave out the path. */
static int
parse_location(const char *s, struct wire_url *u, struct mail_err *err)
{
	char *with_path;
	int ret;

	if (strcmp(s, "local:") == 0) {
		memset(u, 0, sizeof(*u));
		u->kind = WIRE_URL_LOCAL;
		return 0;
	}
	if (strncmp(s, "ssh://", 6) == 0 && strchr(s + 6, '/') == NULL) {
		with_path = mail_xasprintf("%s/-", s);
		ret = wire_url_parse(with_path, u, err);
		free(with_path);
	} else {
		ret = wire_url_parse(s, u, err);
	}
	if (ret == 0 && u->kind != WIRE_URL_SSH && u->kind != WIRE_URL_LOCAL)
		ret = mail_err_set(err, MAIL_ERR_PARAM,
		    "'%s' is neither ssh:// nor local:", s);
	return ret;
}

static int
copy_in(struct wire_conn *c, struct mail_err *err)
{
	static char buf[256 * 1024];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mail_err_sys(err, errno, "read stdin");
		if (n == 0)
			return wire_conn_shutdown_write(c, err);
		if (wire_conn_write(c, buf, (size_t)n, err) < 0 ||
		    wire_conn_flush(c, err) < 0)
			return -1;
	}
}

static int
copy_out(struct wire_conn *c, struct mail_err *err)
{
	static char buf[256 * 1024];
	size_t n, off;
	ssize_t w;

	for (;;) {
		if (wire_conn_read(c, buf, sizeof(buf), &n, err) < 0)
			return -1;
		if (n == 0)
			return 0;
		for (off = 0; off < n; off += (size_t)w) {
			w = write(STDOUT_FILENO, buf + off, n - off);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				return mail_err_sys(err, errno, "write stdout");
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "accept-new", no_argument, NULL, 'A' },
		{ "known-hosts", required_argument, NULL, 'K' },
		{ "user", required_argument, NULL, 'u' },
		{ "ssh-command", required_argument, NULL, 'S' },
		{ "compress", required_argument, NULL, 'z' },
		{ "timeout", required_argument, NULL, 't' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "command", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct wire_ssh_opts o;
	struct wire_conn *c = NULL;
	struct wire_url u;
	struct mail_err err;
	const char *ssh_command = NULL;
	int ch, level = 0, timeout = 0, r;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "i:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A': o.accept_new = true; break;
		case 'K': o.known_hosts = optarg; break;
		case 'i': o.identity = optarg; break;
		case 'u': o.user = optarg; break;
		case 'S': ssh_command = optarg; break;
		case 'z': level = atoi(optarg); break;
		case 't': timeout = atoi(optarg); break;
		case 'T': o.connect_timeout_ms = atoi(optarg); break;
		case 'c': o.command = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || o.command == NULL)
		usage();
	if (parse_location(argv[optind], &u, &err) < 0)
		return fail(&err);
	if (u.kind == WIRE_URL_LOCAL) {
		static char sh[] = "/bin/sh", dash_c[] = "-c";
		char *cmd = mail_xstrdup(o.command);
		char *sh_argv[] = { sh, dash_c, cmd, NULL };

		r = wire_conn_spawn(sh_argv, &c, &err);
		free(cmd);
	} else {
		if (o.user == NULL)
			o.user = u.user;
		o.host = u.host;
		o.port = u.port;
		r = ssh_command != NULL ?
		    wire_conn_ssh_command(ssh_command, &o, &c, &err) :
		    wire_conn_ssh(&o, &c, &err);
	}
	if (r < 0) {
		wire_url_free(&u);
		return fail(&err);
	}
	wire_conn_set_timeout(c, timeout);
	if ((level > 0 && wire_conn_start_compress(c, level, &err) < 0) ||
	    copy_in(c, &err) < 0 || copy_out(c, &err) < 0) {
		/* still close: the exit status may say more than the I/O */
		struct mail_err cerr;

		if (wire_conn_close(&c, &cerr) < 0)
			err = cerr;
		wire_url_free(&u);
		return fail(&err);
	}
	wire_url_free(&u);
	if (wire_conn_close(&c, &err) < 0)
		return fail(&err);
	return EXIT_SUCCESS;
}
