/*
 * dsync_cli.c: global options, the configuration file, command dispatch,
 * and helpers shared by the commands.
 *
 *   dsync [-c CONFIG] [-s STORE] [-o KEY=VALUE]... [-u USER | -A] COMMAND ...
 *
 * -u and -A are also accepted right after the command (and after a
 * sub-command such as "mailbox create"), as in doveadm.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "dsync_cli.h"
#include "dsync_sync.h"
#include "mail_name.h"
#include "mail_settings.h"

#define DEFAULT_CONFIG	"/etc/dsync/dsync.conf"

static const char usage_text[] =
"usage: dsync [-c CONFIG] [-s STORE] [-o KEY=VALUE]... COMMAND ...\n"
"\n"
"store administration:\n"
"  init [--compress N]                   create a store\n"
"  user add|del USER... | user list\n"
"  -u USER mailbox create [--special-use USE] NAME...\n"
"  -u USER mailbox delete|subscribe|unsubscribe NAME...\n"
"  -u USER mailbox rename OLD NEW\n"
"  -u USER mailbox list | mailbox status NAME\n"
"  -u USER mailbox set NAME special-use|private-flags VALUE\n"
"mail:\n"
"  -u USER save [-m MAILBOX] [-f FLAG]... [-d UNIXTIME]\n"
"          [--wait-replicated[=N]] < MESSAGE\n"
"  -u USER fetch -m MAILBOX UIDSET [body|flags|guid|size|date]...\n"
"  -u USER flags add|remove|replace -m MAILBOX UIDSET FLAG...\n"
"  -u USER expunge -m MAILBOX UIDSET\n"
"  -u USER copy|move -m MAILBOX UIDSET DEST_MAILBOX\n"
"  -u USER metadata set|get|unset|list [-m MAILBOX [--uid UID]] [KEY [VALUE]]\n"
"  -u USER acl set|delete|list -m MAILBOX [IDENTIFIER [RIGHTS]]\n"
"inspection and repair:\n"
"  -u USER | -A dump [--clocks]          canonical text of what replicates\n"
"  check [--repair]                      verify (and repair) the store\n"
"  -u USER import maildir DIR | export maildir DIR\n"
"backups (man dsync-backup.5):\n"
"  -u USER | -A export [--since PREVIOUS] [-o FILE] [-z LEVEL]\n"
"  export --list FILE [-u USER [-m MAILBOX]]\n"
"  import [-u USER] [-m MAILBOX [--uid UIDSET]] [--to-user USER]\n"
"         [--to-mailbox NAME] [--salvage] [-v] FILE...   (- for stdin)\n"
"  verify [-v] FILE...                   check a backup chain\n"
"  config [-n | -a]                      show settings\n"
"replication:\n"
"  sync [-u USER | -A] [OPTIONS] LOCATION_A LOCATION_B   two-way merge\n"
"  backup [-u USER | -A] [OPTIONS] SOURCE DEST   DEST becomes equal to SOURCE\n"
"      LOCATION: PATH | local:PATH | ssh://[USER@]HOST[:PORT]/PATH\n"
"      OPTIONS: --stats --progress --no-progress --compress[=LEVEL] --full\n"
"               --ssh-command CMD -i KEYFILE --known-hosts FILE\n"
"               --accept-new-host-key --remote-dsync PATH --timeout SECONDS\n"
"               --passphrase-file FILE\n"
"  server                                speak the sync protocol on stdin/stdout\n"
"  replicator status [--json]            the local dsyncd's peers and queues\n"
"  replicator replicate [-f] [-u USER | -A]   queue a sync (-f: full)\n"
"  replicator pause|resume PEER\n";

int
dsync_fail(const struct mail_err *err)
{
	fprintf(stderr, "dsync: %s\n", err->msg[0] != '\0' ? err->msg :
	    "unknown error");
	return err->code == MAIL_ERR_TEMP ? DSYNC_EXIT_TEMPFAIL :
	    DSYNC_EXIT_ERROR;
}

int
dsync_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dsync: usage error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see 'dsync help' or man dsync)\n");
	return DSYNC_EXIT_USAGE;
}

int
dsync_write_out(const void *data, size_t len)
{
	if (len > 0 && fwrite(data, 1, len, stdout) != len) {
		fprintf(stderr, "dsync: write to stdout: %s\n",
		    strerror(errno));
		return DSYNC_EXIT_ERROR;
	}
	return 0;
}

int
dsync_open_store(struct dsync_ctx *ctx)
{
	struct mail_err err;

	if (ctx->store != NULL)
		return 0;
	if (ctx->store_path == NULL)
		return dsync_usage("no store given: use -s STORE or set 'store'"
		    " in the configuration file");
	if (mail_store_open(ctx->store_path, NULL, &ctx->store, &err) < 0)
		return dsync_fail(&err);
	/* at most an hour (mail_settings_check), so it fits an int */
	mail_store_set_lock_timeout(ctx->store,
	    (int)mail_settings_duration_ms(ctx->conf, NULL, "lock_timeout"));
	return 0;
}

int
dsync_need_user(const struct dsync_ctx *ctx, const char *cmd)
{
	if (ctx->user == NULL)
		return dsync_usage("'%s' needs -u USER", cmd);
	return 0;
}

void
dsync_take_user_opts(struct dsync_ctx *ctx, int *argc, char ***argv)
{
	char **v = *argv;
	int n = *argc;

	for (;;) {
		int drop;

		if (n > 1 && strcmp(v[1], "-A") == 0) {
			ctx->all_users = true;
			drop = 1;
		} else if (n > 2 && strcmp(v[1], "-u") == 0) {
			ctx->user = v[2];
			drop = 2;
		} else if (n > 1 && strncmp(v[1], "-u", 2) == 0 &&
		    v[1][2] != '\0') {
			ctx->user = v[1] + 2;
			drop = 1;
		} else {
			break;
		}
		/* keep the command word in front of what remains */
		v[drop] = v[0];
		v += drop;
		n -= drop;
	}
	*argc = n;
	*argv = v;
}

const char *
dsync_take_subcommand(struct dsync_ctx *ctx, int *argc, char ***argv)
{
	dsync_take_user_opts(ctx, argc, argv);
	if (*argc < 2)
		return NULL;
	(*argc)--;
	(*argv)++;
	dsync_take_user_opts(ctx, argc, argv);
	return (*argv)[0];
}

int
dsync_mbox_resolve(struct dsync_ctx *ctx, const char *ref, bool create,
    struct dsync_mbox *m, struct mail_err *err)
{
	char *owner = NULL;
	int ret;

	memset(m, 0, sizeof(*m));
	m->actor = ctx->user;
	if (strncmp(ref, "shared/", 7) == 0) {
		const char *slash = strchr(ref + 7, '/');

		if (slash == NULL || slash[1] == '\0')
			return mail_err_set(err, MAIL_ERR_PARAM,
			    "'%s' is not shared/OWNER/MAILBOX", ref);
		owner = mail_xstrndup(ref + 7, (size_t)(slash - ref - 7));
		m->name = mail_xstrdup(slash + 1);
	} else if (strncmp(ref, "public/", 7) == 0 && ref[7] != '\0') {
		owner = mail_xstrdup(MAIL_PUBLIC_USER);
		m->name = mail_xstrdup(ref + 7);
	} else {
		owner = mail_xstrdup(ctx->user);
		m->name = mail_xstrdup(ref);
		create = false;
	}
	ret = mail_user_open(ctx->store, owner, create &&
	    strcmp(owner, MAIL_PUBLIC_USER) == 0, &m->owner, err);
	if (ret < 0 && err->code == MAIL_ERR_NOTFOUND &&
	    strcmp(owner, MAIL_PUBLIC_USER) == 0)
		mail_err_set(err, MAIL_ERR_NOTFOUND, "unknown mailbox '%s'",
		    ref);
	free(owner);
	if (ret < 0) {
		free(m->name);
		m->name = NULL;
	}
	return ret;
}

struct mail_mailbox *
dsync_mbox_get(struct dsync_mbox *m, struct mail_err *err)
{
	char *norm = mail_mailbox_name_normalize(m->name);
	struct mail_mailbox *mb;

	mb = mail_state_mailbox_by_name(mail_user_state(m->owner), norm);
	if (mb == NULL)
		mail_err_set(err, MAIL_ERR_NOTFOUND, "unknown mailbox '%s'",
		    m->name);
	free(norm);
	return mb;
}

void
dsync_mbox_free(struct dsync_mbox *m)
{
	mail_user_close(&m->owner);
	free(m->name);
	m->name = NULL;
}

/* Print the settings of kind in section sec (NULL: an absent unnamed
 * section, all defaults) in the file's syntax, so that the output parses
 * back to the same settings; only those that differ from the defaults
 * unless all. A section whose lines are all skipped is left out; *any
 * says whether something was printed before (for the blank lines). */
static void
config_print(const struct mail_conf *c, const struct mail_conf_section *sec,
    const char *kind, bool all, bool *any)
{
	const struct mail_setting_def *defs, *d;
	const char *name = sec != NULL ? sec->name : "";
	bool top = kind[0] == '\0', started = top;
	size_t n;

	defs = mail_settings_defs(&n);
	for (d = defs; d < defs + n; d++) {
		const char *v = sec != NULL ? mail_conf_get(c, sec, d->key) :
		    NULL;
		char *q;

		if (strcmp(d->kind, kind) != 0 ||
		    (!all && mail_settings_is_default(d, v)))
			continue;
		if (!started)
			printf("%s%s%s%s {\n", *any ? "\n" : "", kind,
			    name[0] != '\0' ? " " : "", name);
		started = *any = true;
		/* mail_settings_check refused what can not be quoted */
		q = mail_conf_quote(v != NULL ? v : mail_settings_default(d));
		printf("%s%s =%s%s\n", top ? "" : "  ", d->key,
		    q[0] != '\0' ? " " : "", q);
		free(q);
	}
	if (started && !top)
		printf("}\n");
}

int
dsync_cmd_config(struct dsync_ctx *ctx, int argc, char **argv)
{
	const struct mail_conf *c = ctx->conf;
	const struct mail_setting_def *defs;
	size_t n;
	bool all, any = false;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "-n") != 0 &&
	    strcmp(argv[1], "-a") != 0))
		return dsync_usage("config [-n | -a]");
	all = argc == 2 && strcmp(argv[1], "-a") == 0;
	for (size_t i = 0; i < c->n; i++)
		config_print(c, &c->sections[i], c->sections[i].kind, all,
		    &any);
	if (!all)
		return 0;
	/* unnamed sections the file leaves out still have settings */
	defs = mail_settings_defs(&n);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(defs[i].kind, defs[i - 1].kind) != 0 &&
		    !mail_settings_kind_named(defs[i].kind) &&
		    mail_conf_section(c, defs[i].kind, "") == NULL)
			config_print(c, NULL, defs[i].kind, true, &any);
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct dsync_ctx *, int, char **);
	bool needs_store;
} commands[] = {
	{ "init", dsync_cmd_init, false },
	{ "user", dsync_cmd_user, true },
	{ "mailbox", dsync_cmd_mailbox, true },
	{ "save", dsync_cmd_save, true },
	{ "fetch", dsync_cmd_fetch, true },
	{ "flags", dsync_cmd_flags, true },
	{ "expunge", dsync_cmd_expunge, true },
	{ "copy", dsync_cmd_copy, true },
	{ "move", dsync_cmd_copy, true },
	{ "metadata", dsync_cmd_metadata, true },
	{ "acl", dsync_cmd_acl, true },
	{ "dump", dsync_cmd_dump, true },
	{ "check", dsync_cmd_check, true },
	{ "import", dsync_cmd_import, false },
	{ "export", dsync_cmd_export, false },
	{ "verify", dsync_cmd_verify, false },
	{ "config", dsync_cmd_config, false },
	{ "sync", dsync_cmd_sync, false },
	{ "backup", dsync_cmd_sync, false },
	{ "server", dsync_cmd_server, true },
	{ "replicator", dsync_cmd_replicator, false },
};

static int
load_config(struct dsync_ctx *ctx, const char *path, bool explicit,
    char **overrides, size_t n_over)
{
	struct mail_err err;
	struct stat st;

	/* only the default file may be missing; any other trouble with it
	 * (EACCES) is reported by mail_conf_load */
	if (explicit || stat(path, &st) == 0 || errno != ENOENT) {
		if (mail_conf_load(path, &ctx->conf, &err) < 0)
			return dsync_fail(&err);
	} else {
		ctx->conf = mail_conf_new();
	}
	for (size_t i = 0; i < n_over; i++) {
		if (mail_conf_override(ctx->conf, overrides[i], &err) < 0)
			return dsync_fail(&err);
	}
	if (mail_settings_check(ctx->conf, &err) < 0)
		return dsync_fail(&err);
	/* the default store is for the daemons: dsync wants it named (in
	 * the file, -o or -s), so that a command never touches the system's
	 * store by accident */
	if (ctx->store_path == NULL)
		ctx->store_path = mail_conf_get(ctx->conf, NULL, "store");
	return 0;
}

int
dsync_main(int argc, char **argv)
{
	struct dsync_ctx ctx;
	const char *config = NULL;
	char **overrides = NULL;
	size_t n_over = 0, cap_over = 0;
	int c, ret;

	memset(&ctx, 0, sizeof(ctx));
	/* "+": stop at the command word */
	while ((c = getopt(argc, argv, "+c:s:o:u:Ah")) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			ctx.store_path = optarg;
			break;
		case 'o':
			overrides = mail_xgrow(overrides, &cap_over, n_over + 1,
			    sizeof(char *));
			overrides[n_over++] = optarg;
			break;
		case 'u':
			ctx.user = optarg;
			break;
		case 'A':
			ctx.all_users = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			free(overrides);
			return 0;
		default:
			free(overrides);
			fputs(usage_text, stderr);
			return DSYNC_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || strcmp(argv[0], "help") == 0) {
		free(overrides);
		fputs(usage_text, argc == 0 ? stderr : stdout);
		return argc == 0 ? DSYNC_EXIT_USAGE : 0;
	}
	ret = load_config(&ctx, config != NULL ? config : DEFAULT_CONFIG,
	    config != NULL, overrides, n_over);
	free(overrides);
	if (ret != 0)
		goto out;
	dsync_take_user_opts(&ctx, &argc, &argv);
	if (ctx.user != NULL && ctx.all_users) {
		ret = dsync_usage("-u and -A exclude each other");
		goto out;
	}
	ret = -1;
	for (size_t i = 0; i < N_ELEMENTS(commands); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (commands[i].needs_store &&
		    (ret = dsync_open_store(&ctx)) != 0)
			goto out;
		ret = commands[i].fn(&ctx, argc, argv);
		break;
	}
	if (ret == -1)
		ret = dsync_usage("unknown command '%s'", argv[0]);
	if (fflush(stdout) != 0 && ret == 0) {
		fprintf(stderr, "dsync: write to stdout: %s\n",
		    strerror(errno));
		ret = DSYNC_EXIT_ERROR;
	}
out:
	mail_store_close(&ctx.store);
	mail_conf_free(&ctx.conf);
	return ret;
}
