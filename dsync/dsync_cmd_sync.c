/*
 * dsync_cmd_sync.c: `dsync sync` and `dsync backup`: options, connect to
 * both locations (dsync_peer.c) and run the brain for each user.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsync_sync.h"
#include "mail_guid.h"
#include "mail_settings.h"

/* The users to sync: -u, or with -A those of the source (backup) or of
 * both (sync). */
static int
users_to_sync(struct dsync_ctx *ctx, struct dsync_peer *a, struct dsync_peer *b,
    bool backup, char ***v_r, size_t *n_r, struct mail_err *err)
{
	char **v;

	if (ctx->all_users)
		return dsync_peer_users(a, backup ? NULL : b, v_r, n_r, err);
	v = mail_xcalloc(2, sizeof(*v));
	v[0] = mail_xstrdup(ctx->user);
	*v_r = v;
	*n_r = 1;
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
	OPT_TIMEOUT, OPT_FULL, OPT_PASSPHRASE_FILE,
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
	{ "full", no_argument, NULL, OPT_FULL },
	{ "passphrase-file", required_argument, NULL, OPT_PASSPHRASE_FILE },
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
	const char *passphrase_file = NULL;
	char secret[1024];
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
		case OPT_FULL:
			so.full = true;
			break;
		case OPT_PASSPHRASE_FILE:
			passphrase_file = optarg;
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
	if (passphrase_file != NULL) {
		if (mail_settings_read_secret(passphrase_file, secret,
		    sizeof(secret), &err) < 0)
			return dsync_fail(&err);
		co.passphrase = secret;
	}
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
	explicit_bzero(secret, sizeof(secret));
	mail_store_user_list_free(users, n_users);
	return ret;
}
