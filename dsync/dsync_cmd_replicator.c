/*
 * dsync_cmd_replicator.c: `dsync replicator ...`, the client of dsyncd's
 * control socket (dsyncd/dsyncd_ctl.c has the protocol): one command line
 * out, the answer printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "dsync_cli.h"
#include "mail_buf.h"
#include "mail_name.h"
#include "mail_settings.h"

#define REPLICATOR_USAGE \
	"replicator status [--json] | replicate [-f] [-u USER | -A] | " \
	"pause PEER | resume PEER"

static int
ctl_connect(const char *path, struct mail_err *err)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(sa.sun_path))
		return mail_err_set(err, MAIL_ERR_PARAM,
		    "control_socket '%s' is too long", path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return mail_err_sys(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		/* not running (or not yet): worth retrying later */
		mail_err_sys(err, e, "cannot reach dsyncd at '%s'", path);
		err->code = e == EACCES ? MAIL_ERR_PERM : MAIL_ERR_TEMP;
		return -1;
	}
	return fd;
}

/* Send line and read the whole answer into ans (timeout_ms: 0 none). */
static int
ctl_ask(struct dsync_ctx *ctx, const char *line, uint64_t timeout_ms,
    struct mail_buf *ans, struct mail_err *err)
{
	struct timeval tv;
	char buf[4096];
	ssize_t r;
	int fd;

	fd = ctl_connect(mail_settings_str(ctx->conf, NULL, "control_socket"),
	    err);
	if (fd < 0)
		return -1;
	if (timeout_ms > 0) {
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    write(fd, "\n", 1) != 1) {
		mail_err_sys(err, errno, "writing to dsyncd");
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0 ||
	    (r < 0 && errno == EINTR)) {
		if (r > 0)
			mail_buf_append(ans, buf, (size_t)r);
	}
	close(fd);
	if (r < 0 || ans->len == 0)
		return mail_err_set(err, MAIL_ERR_TEMP, "dsyncd %s without "
		    "an answer", r < 0 ? "did not answer in time" :
		    "closed the control connection");
	return 0;
}

/* Send line, print the answer; exit status from its first word. */
static int
ctl_call(struct dsync_ctx *ctx, const char *line)
{
	struct mail_buf ans = MAIL_BUF_INIT;
	struct mail_err err;
	int ret;

	if (ctl_ask(ctx, line, 0, &ans, &err) < 0) {
		mail_buf_free(&ans);
		return dsync_fail(&err);
	}
	if (ans.len >= 4 && memcmp(ans.data, "ERR ", 4) == 0) {
		fprintf(stderr, "dsync: %.*s", (int)(ans.len - 4),
		    (const char *)ans.data + 4);
		ret = DSYNC_EXIT_ERROR;
	} else
		ret = dsync_write_out(ans.data, ans.len);
	mail_buf_free(&ans);
	return ret;
}

void
dsync_wait_replicated(struct dsync_ctx *ctx, const char *user,
    uint64_t modseq, unsigned long n)
{
	uint64_t ms = mail_settings_duration_ms(ctx->conf, NULL,
	    "replication_timeout");
	struct mail_buf ans = MAIL_BUF_INIT;
	struct mail_err err;
	char line[512];

	snprintf(line, sizeof(line), "wait %s %" PRIu64 " %lu %" PRIu64,
	    user, modseq, n, ms);
	/* the daemon answers within ms; a little more for the round trip */
	if (ctl_ask(ctx, line, ms + 5000, &ans, &err) < 0)
		fprintf(stderr, "dsync: warning: stored, but not known to be "
		    "replicated: %s\n", err.msg);
	else if (ans.len >= 4 && memcmp(ans.data, "ERR ", 4) == 0)
		fprintf(stderr, "dsync: warning: stored, but %.*s",
		    (int)(ans.len - 4), (const char *)ans.data + 4);
	mail_buf_free(&ans);
}

int
dsync_cmd_replicator(struct dsync_ctx *ctx, int argc, char **argv)
{
	const char *verb;
	char line[512];
	bool full = false;

	if (argc < 2)
		return dsync_usage(REPLICATOR_USAGE);
	verb = argv[1];
	argc--;
	argv++;
	if (strcmp(verb, "status") == 0) {
		if (argc == 1)
			return ctl_call(ctx, "status");
		if (argc == 2 && strcmp(argv[1], "--json") == 0)
			return ctl_call(ctx, "status json");
		return dsync_usage(REPLICATOR_USAGE);
	}
	if (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0) {
		if (argc != 2 || strchr(argv[1], '\n') != NULL)
			return dsync_usage(REPLICATOR_USAGE);
		snprintf(line, sizeof(line), "%s %.200s", verb, argv[1]);
		return ctl_call(ctx, line);
	}
	if (strcmp(verb, "replicate") != 0)
		return dsync_usage(REPLICATOR_USAGE);
	for (;;) {
		dsync_take_user_opts(ctx, &argc, &argv);
		if (argc > 1 && strcmp(argv[1], "-f") == 0) {
			full = true;
			argv[1] = argv[0];
			argc--;
			argv++;
			continue;
		}
		break;
	}
	if (argc != 1 || (ctx->user == NULL) == !ctx->all_users)
		return dsync_usage(REPLICATOR_USAGE);
	if (ctx->user != NULL) {
		struct mail_err err;

		if (mail_user_name_check(ctx->user, &err) < 0)
			return dsync_fail(&err);
		snprintf(line, sizeof(line), "replicate %s%s",
		    full ? "-f " : "", ctx->user);
	} else
		snprintf(line, sizeof(line), "replicate %s-A",
		    full ? "-f " : "");
	return ctl_call(ctx, line);
}
