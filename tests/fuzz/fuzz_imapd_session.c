/*
 * fuzz_imapd_session.c: the whole server on hostile client bytes. Each
 * input is one connection to a real imapd (one process-wide store, a
 * user "u" with password "p"): the first byte chooses a prelude (none,
 * LOGIN, LOGIN + SELECT INBOX, LOGIN + ENABLE QRESYNC + SELECT), the rest
 * is sent as the client's input, then the client's side is shut. The
 * server must answer without crashing, and the connection must end (the
 * server reads the end of input and closes). The store is fsync-free so
 * that runs are fast; what the inputs write accumulates across runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "imapd.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
nosync(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return 0;
}

static struct mail_fs_ops fuzz_ops;
static struct mail_fs fuzz_fs = { &fuzz_ops, NULL };
static struct imapd d;
static char dir[64];

static void
fuzz_cleanup(void)
{
	while (d.clients != NULL)
		imapd_client_free(d.clients);
	imapd_authwork_stop(&d);
	imapd_passdb_free(&d);
	for (size_t i = 0; i < d.n_users; i++) {
		mail_user_close(&d.users[i]->mu);
		free(d.users[i]->name);
		free(d.users[i]);
	}
	free(d.users);
	mail_watch_free(&d.watch);
	mail_loop_free(&d.loop);
	mail_store_close(&d.store);
	free(d.set.passdb_path);
	mail_fs_remove_tree(dir);
}

static void
fuzz_init(void)
{
	struct mail_err err;
	char *path;
	FILE *f;

	log_init("fuzz", false, LOG_LEVEL_ERROR);
	fuzz_ops = *mail_fs_posix()->ops;
	fuzz_ops.fsync = nosync;
	snprintf(dir, sizeof(dir), "/tmp/fuzz-imapd.XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	path = mail_xasprintf("%s/store", dir);
	if (mail_store_init(path, 0, &err) < 0 ||
	    mail_store_open(path, &fuzz_fs, &d.store, &err) < 0 ||
	    mail_store_user_add(d.store, "u", &err) < 0)
		fatalx("store: %s", err.msg);
	free(path);
	d.set.passdb_path = mail_xasprintf("%s/passwd", dir);
	if ((f = fopen(d.set.passdb_path, "w")) == NULL)
		abort();
	fputs("u:{PLAIN}p::::::\n", f);
	fclose(f);
	d.set.plaintext_auth = IMAPD_PLAINTEXT_LOOPBACK;
	d.set.max_connections = 10;
	d.set.max_line = 8192;
	d.set.max_append = 256 * 1024;
	d.set.login_timeout_ms = 60000;
	d.set.idle_timeout_ms = 60000;
	d.set.auth_failure_delay_ms = 0;
	d.set.max_auth_failures = 3;
	d.set.create_users = false;
	d.signal_fd = -1;
	if (mail_loop_new(&d.loop, &err) < 0 ||
	    mail_watch_new(&d.watch, &err) < 0 ||
	    mail_loop_add_fd(d.loop, mail_watch_fd(d.watch), MAIL_EV_READ,
	    imapd_watch_event, &d, &err) < 0 ||
	    imapd_passdb_load(&d, &err) < 0 ||
	    imapd_authwork_start(&d, &err) < 0)
		fatalx("setup: %s", err.msg);
	atexit(fuzz_cleanup);
}

static const char *const preludes[] = {
	"",
	"l LOGIN u p\r\n",
	"l LOGIN u p\r\ns SELECT INBOX\r\n",
	"l LOGIN u p\r\ne ENABLE QRESYNC CONDSTORE UTF8=ACCEPT\r\n"
	    "s SELECT INBOX\r\n",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage sa;
	struct mail_err err;
	const char *prelude;
	char sink[65536];
	size_t off = 0;
	int fds[2];

	if (d.loop == NULL)
		fuzz_init();
	if (size < 1)
		return 0;
	prelude = preludes[data[0] % 4];
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    fds) < 0)
		abort();
	memset(&sa, 0, sizeof(sa));
	sa.ss_family = AF_UNIX;
	imapd_client_accept(&d, fds[0], false, &sa);
	if (write(fds[1], prelude, strlen(prelude)) < 0)
		abort();
	/* feed the input as the server takes it, reading its answers so
	 * that it never stops on a full socket */
	for (int i = 0; i < 100000 && d.n_clients > 0; i++) {
		if (off < size) {
			ssize_t n = write(fds[1], data + off, size - off);

			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(fds[1], SHUT_WR);
		} else if (off == size && size == 0) {
			shutdown(fds[1], SHUT_WR);
			off = 1;
		}
		while (read(fds[1], sink, sizeof(sink)) > 0)
			;
		if (mail_loop_run_once(d.loop, 10, &err) < 0)
			fatalx("loop: %s", err.msg);
	}
	if (d.n_clients > 0) {
		fprintf(stderr, "the connection did not end\n");
		abort();
	}
	close(fds[1]);
	return 0;
}
