/*
 * dsync_peer.c: one location of a sync, connected: a local `dsync server`
 * spawned on pipes for a path or local:, or one run over SSH (libssh2 or
 * the system ssh), with the HELLO exchanged. Shared by `dsync sync` and
 * dsyncd's workers.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsync_sync.h"
#include "wire_url.h"

/* argv for a local server: this very binary, so tests and installs agree
 * (dsyncd names its dsync in local_dsync). */
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
		char *self = o->local_dsync != NULL ?
		    mail_xstrdup(o->local_dsync) : self_path();
		char *argv[] = { self, (char *)(uintptr_t)"-s", u->path,
		    (char *)(uintptr_t)"server", NULL };

		ret = wire_conn_spawn(argv, conn_r, err);
		free(self);
		return ret;
	}
	if (o->ssh_command != NULL && o->passphrase != NULL)
		return mail_err_set(err, MAIL_ERR_PARAM, "a key passphrase "
		    "is for the built-in SSH client; with an ssh command, "
		    "use ssh-agent or its configuration");
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
	so.passphrase = o->passphrase;
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

/* The users of a, or of both a and b (b may be NULL), sorted, each once. */
int
dsync_peer_users(struct dsync_peer *a, struct dsync_peer *b, char ***v_r,
    size_t *n_r, struct mail_err *err)
{
	char **va, **vb = NULL, **v;
	size_t na, nb = 0, n = 0;

	if (dsync_brain_users(a, &va, &na, err) < 0)
		return -1;
	if (b != NULL && dsync_brain_users(b, &vb, &nb, err) < 0) {
		mail_store_user_list_free(va, na);
		return -1;
	}
	v = mail_xcalloc(na + nb + 1, sizeof(*v));
	for (size_t i = 0; i < na; i++)
		v[n++] = va[i];
	for (size_t i = 0; i < nb; i++)
		v[n++] = vb[i];
	free(va);
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
