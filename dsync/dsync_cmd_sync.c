/*
 * dsync_cmd_sync.c: `dsync sync` and `dsync backup`: connect to both
 * locations (spawning a local `dsync server` for paths, SSH for ssh://)
 * and run the brain for each user.
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsync_sync.h"
#include "mail_guid.h"
#include "wire_url.h"

/* argv for a local server: this very binary, so tests and installs agree. */
static char *
self_path(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return mail_xstrdup("dsync");
	buf[n] = '\0';
	return mail_xstrdup(buf);
}

/* s in single quotes for a POSIX shell. */
static void
shell_quote(struct mail_buf *b, const char *s)
{
	mail_buf_append_str(b, "'");
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			mail_buf_append_str(b, "'\\''");
		else
			mail_buf_append(b, s, 1);
	}
	mail_buf_append_str(b, "'");
}

static int
connect_conn(const struct wire_url *u, const struct dsync_connect_opts *o,
    struct wire_conn **conn_r, struct mail_err *err)
{
	struct wire_ssh_opts so;
	struct mail_buf cmd = MAIL_BUF_INIT;
	int ret;

	if (u->kind != WIRE_URL_SSH) {
		char *self = self_path();
		char *argv[] = { self, (char *)(uintptr_t)"-s", u->path,
		    (char *)(uintptr_t)"server", NULL };

		ret = wire_conn_spawn(argv, conn_r, err);
		free(self);
		return ret;
	}
	shell_quote(&cmd, o->remote_dsync != NULL ? o->remote_dsync : "dsync");
	mail_buf_append_str(&cmd, " -s ");
	shell_quote(&cmd, u->path);
	mail_buf_append_str(&cmd, " server");
	memset(&so, 0, sizeof(so));
	so.user = u->user;
	so.host = u->host;
	so.port = u->port;
	so.command = (const char *)cmd.data;
	so.known_hosts = o->known_hosts;
	so.accept_new = o->accept_new;
	so.identity = o->identity;
	if (o->ssh_command != NULL)
		ret = wire_conn_ssh_command(o->ssh_command, &so, conn_r, err);
	else
		ret = wire_conn_ssh(&so, conn_r, err);
	mail_buf_free(&cmd);
	return ret;
}

int
dsync_peer_connect(const char *location, const struct dsync_connect_opts *o,
    uint64_t our_node, struct dsync_peer **peer_r, struct mail_err *err)
{
	struct wire_url u;
	struct dsync_peer *p;
	struct wire_hello ours, theirs;
	uint32_t version;

	if (wire_url_parse(location, &u, err) < 0)
		return -1;
	p = mail_xcalloc(1, sizeof(*p));
	p->label = mail_xstrdup(location);
	if (connect_conn(&u, o, &p->conn, err) < 0) {
		wire_url_free(&u);
		free(p->label);
		free(p);
		return mail_err_prefix(err, "%s", location);
	}
	wire_url_free(&u);
	wire_conn_set_name(p->conn, location);
	if (o->timeout_ms > 0)
		wire_conn_set_timeout(p->conn, o->timeout_ms);
	p->io = wire_io_new(p->conn);
	dsync_hello_init(&ours, our_node);
	if (wire_io_hello(p->io, &ours, &theirs, &version, &p->features,
	    err) < 0) {
		struct mail_err close_err;

		/* A server that died says more in its exit status. */
		wire_io_free(&p->io);
		if (wire_conn_close(&p->conn, &close_err) < 0)
			*err = close_err;
		free(p->label);
		free(p);
		return mail_err_prefix(err, "%s", location);
	}
	p->node = theirs.node_id;
	*peer_r = p;
	return 0;
}

int
dsync_peer_close(struct dsync_peer **peerp, struct mail_err *err)
{
	struct dsync_peer *p = *peerp;
	struct wire_frame f;
	int ret = 0;

	if (wire_io_send(p->io, WIRE_MSG_BYE, NULL, 0, err) < 0 ||
	    wire_io_flush(p->io, err) < 0 ||
	    wire_io_expect(p->io, WIRE_MSG_OK, &f, err) < 0)
		ret = -1;
	wire_io_free(&p->io);
	if (ret < 0)
		wire_conn_abort(&p->conn);
	else if (wire_conn_close(&p->conn, err) < 0)
		ret = -1;
	if (ret < 0)
		mail_err_prefix(err, "%s", p->label);
	free(p->label);
	free(p);
	*peerp = NULL;
	return ret;
}

void
dsync_peer_abort(struct dsync_peer **peerp)
{
	struct dsync_peer *p = *peerp;

	if (p == NULL)
		return;
	wire_io_free(&p->io);
	wire_conn_abort(&p->conn);
	free(p->label);
	free(p);
	*peerp = NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The users to sync: -u, or with -A those of the source (backup) or of
 * both (sync). */
static int
users_to_sync(struct dsync_ctx *ctx, struct dsync_peer *a, struct dsync_peer *b,
    bool backup, char ***v_r, size_t *n_r, struct mail_err *err)
{
	char **va, **vb, **v;
	size_t na, nb = 0, n = 0;

	if (!ctx->all_users) {
		v = mail_xcalloc(2, sizeof(*v));
		v[0] = mail_xstrdup(ctx->user);
		*v_r = v;
		*n_r = 1;
		return 0;
	}
	if (dsync_brain_users(a, &va, &na, err) < 0)
		return -1;
	if (!backup && dsync_brain_users(b, &vb, &nb, err) < 0) {
		mail_store_user_list_free(va, na);
		return -1;
	}
	v = mail_xcalloc(na + nb + 1, sizeof(*v));
	for (size_t i = 0; i < na; i++)
		v[n++] = va[i];
	for (size_t i = 0; i < nb; i++)
		v[n++] = vb[i];
	free(va);
	if (!backup)
		free(vb);
	dsync_sort(v, n, sizeof(*v), cmp_str);
	{
		size_t w = 0;

		for (size_t i = 0; i < n; i++) {
			if (w > 0 && strcmp(v[w - 1], v[i]) == 0) {
				free(v[i]);
				continue;
			}
			v[w++] = v[i];
		}
		n = w;
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

static void
print_stats(const struct dsync_peer *a, const struct dsync_peer *b,
    const char *la, const char *lb, uint64_t start_ms)
{
	uint64_t ri, ro, ia, oa, rb_in, rb_out, ib, ob;

	wire_conn_stats(a->conn, &ri, &ro, &ia, &oa);
	wire_conn_stats(b->conn, &rb_in, &rb_out, &ib, &ob);
	printf("%s -> %s: %" PRIu64 " messages, %" PRIu64 " bytes, %" PRIu64
	    " changes\n", la, lb, b->msgs_in, b->bytes_in, b->changes_in);
	printf("%s -> %s: %" PRIu64 " messages, %" PRIu64 " bytes, %" PRIu64
	    " changes\n", lb, la, a->msgs_in, a->bytes_in, a->changes_in);
	printf("wire %s: %" PRIu64 " bytes in, %" PRIu64 " bytes out\n", la,
	    ri, ro);
	printf("wire %s: %" PRIu64 " bytes in, %" PRIu64 " bytes out\n", lb,
	    rb_in, rb_out);
	printf("time: %.3f s\n", (double)(mail_now_ms() - start_ms) / 1000.0);
}

enum {
	OPT_STATS = 256, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_COMPRESS,
	OPT_SSH_COMMAND, OPT_KNOWN_HOSTS, OPT_ACCEPT_NEW, OPT_REMOTE_DSYNC,
	OPT_TIMEOUT,
};

static const struct option sync_options[] = {
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "compress", optional_argument, NULL, OPT_COMPRESS },
	{ "ssh-command", required_argument, NULL, OPT_SSH_COMMAND },
	{ "known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS },
	{ "accept-new-host-key", no_argument, NULL, OPT_ACCEPT_NEW },
	{ "remote-dsync", required_argument, NULL, OPT_REMOTE_DSYNC },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ NULL, 0, NULL, 0 },
};

static int
parse_int(const char *s, int lo, int hi, int *v)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || n < lo || n > hi)
		return -1;
	*v = (int)n;
	return 0;
}

int
dsync_cmd_sync(struct dsync_ctx *ctx, int argc, char **argv)
{
	bool backup = strcmp(argv[0], "backup") == 0;
	struct dsync_sync_opts so;
	struct dsync_connect_opts co;
	struct dsync_peer *a = NULL, *b = NULL;
	struct mail_err err;
	struct mail_guid g;
	uint64_t our_node, start = mail_now_ms();
	char **users = NULL;
	size_t n_users = 0;
	bool stats = false;
	int c, timeout_s = 120, ret = DSYNC_EXIT_OK;

	memset(&so, 0, sizeof(so));
	memset(&co, 0, sizeof(co));
	so.backup = backup;
	so.progress = isatty(STDERR_FILENO);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+u:Ai:", sync_options,
	    NULL)) != -1) {
		switch (c) {
		case 'u':
			ctx->user = optarg;
			break;
		case 'A':
			ctx->all_users = true;
			break;
		case 'i':
			co.identity = optarg;
			break;
		case OPT_STATS:
			stats = true;
			break;
		case OPT_PROGRESS:
			so.progress = true;
			break;
		case OPT_NO_PROGRESS:
			so.progress = false;
			break;
		case OPT_COMPRESS:
			so.compress = 1;
			if (optarg != NULL &&
			    parse_int(optarg, 1, 9, &so.compress) < 0)
				return dsync_usage("--compress takes 1..9");
			break;
		case OPT_SSH_COMMAND:
			co.ssh_command = optarg;
			break;
		case OPT_KNOWN_HOSTS:
			co.known_hosts = optarg;
			break;
		case OPT_ACCEPT_NEW:
			co.accept_new = true;
			break;
		case OPT_REMOTE_DSYNC:
			co.remote_dsync = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_int(optarg, 1, 86400, &timeout_s) < 0)
				return dsync_usage("--timeout takes seconds");
			break;
		default:
			return dsync_usage("%s [-u USER | -A] [options] "
			    "LOCATION_A LOCATION_B", argv[0]);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		return dsync_usage("%s takes two locations", backup ?
		    "backup" : "sync");
	if (ctx->user != NULL && ctx->all_users)
		return dsync_usage("-u and -A exclude each other");
	if (ctx->user == NULL && !ctx->all_users)
		return dsync_usage("%s needs -u USER or -A", backup ?
		    "backup" : "sync");
	co.timeout_ms = timeout_s * 1000;
	signal(SIGPIPE, SIG_IGN);
	/* The brain is not a store: a random id tells it apart in HELLO. */
	mail_guid_generate(&g);
	our_node = mail_get_le64(g.b) | 1;
	if (dsync_peer_connect(argv[0], &co, our_node, &a, &err) < 0 ||
	    dsync_peer_connect(argv[1], &co, our_node, &b, &err) < 0)
		goto fail;
	if (a->node == b->node) {
		mail_err_set(&err, MAIL_ERR_PARAM,
		    "\"%s\" and \"%s\" are the same store (node %016" PRIx64
		    ")", argv[0], argv[1], a->node);
		goto fail;
	}
	if (so.compress > 0 &&
	    (dsync_brain_compress(a, so.compress, &err) < 0 ||
	     dsync_brain_compress(b, so.compress, &err) < 0))
		goto fail;
	if (users_to_sync(ctx, a, b, backup, &users, &n_users, &err) < 0)
		goto fail;
	for (size_t i = 0; i < n_users; i++) {
		if (dsync_brain_user(a, b, users[i], &so, &err) < 0) {
			if (so.progress)
				fputs("\r\033[K", stderr);
			mail_err_prefix(&err, "user \"%s\"", users[i]);
			goto fail;
		}
	}
	if (stats)
		print_stats(a, b, argv[0], argv[1], start);
	if (dsync_peer_close(&a, &err) < 0 || dsync_peer_close(&b, &err) < 0)
		goto fail;
	goto out;
fail:
	ret = dsync_fail(&err);
	dsync_peer_abort(&a);
	dsync_peer_abort(&b);
out:
	mail_store_user_list_free(users, n_users);
	return ret;
}
