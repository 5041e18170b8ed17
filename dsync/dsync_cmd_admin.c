/*
 * dsync_cmd_admin.c: store administration commands: init, user, mailbox,
 * dump, check, and the import/export dispatch.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsync_cli.h"
#include "mail_check.h"
#include "mail_dump.h"

int
dsync_cmd_init(struct dsync_ctx *ctx, int argc, char **argv)
{
	struct mail_err err;
	int level = 0;
	char *end;

	if (argc == 3 && strcmp(argv[1], "--compress") == 0) {
		level = (int)strtol(argv[2], &end, 10);
		if (*end != '\0' || level < 0 || level > 9)
			return dsync_usage("--compress takes a level 0..9");
	} else if (argc != 1) {
		return dsync_usage("init [--compress LEVEL]");
	}
	if (ctx->store_path == NULL)
		return dsync_usage("init needs -s STORE");
	if (mail_store_init(ctx->store_path, level, &err) < 0)
		return dsync_fail(&err);
	return 0;
}

int
dsync_cmd_user(struct dsync_ctx *ctx, int argc, char **argv)
{
	struct mail_err err;

	if (argc >= 2 && strcmp(argv[1], "list") == 0 && argc == 2) {
		char **names;
		size_t n;

		if (mail_store_user_list(ctx->store, &names, &n, &err) < 0)
			return dsync_fail(&err);
		for (size_t i = 0; i < n; i++)
			printf("%s\n", names[i]);
		mail_store_user_list_free(names, n);
		return 0;
	}
	if (argc < 3 || (strcmp(argv[1], "add") != 0 &&
	    strcmp(argv[1], "del") != 0))
		return dsync_usage("user add|del USER... | user list");
	for (int i = 2; i < argc; i++) {
		int r = strcmp(argv[1], "add") == 0 ?
		    mail_store_user_add(ctx->store, argv[i], &err) :
		    mail_store_user_del(ctx->store, argv[i], &err);

		if (r < 0)
			return dsync_fail(&err);
	}
	return 0;
}

/* Run one mailbox-tree change in a transaction of the owner of ref:
 * create (value: special-use or NULL), delete, rename (arg: the new
 * name) or set (arg: the setting, value: its value). */
static int
mailbox_change(struct dsync_ctx *ctx, const char *verb, const char *ref,
    const char *arg, const char *value)
{
	struct dsync_mbox m;
	struct mail_txn *t = NULL;
	struct mail_err err;
	int ret = DSYNC_EXIT_ERROR;

	if (dsync_mbox_resolve(ctx, ref, strcmp(verb, "create") == 0, &m,
	    &err) < 0)
		return dsync_fail(&err);
	if (mail_txn_begin(m.owner, &t, &err) < 0)
		goto fail;
	if (strcmp(verb, "create") == 0) {
		if (mail_op_mailbox_create(t, m.name, value, NULL, &err) < 0)
			goto fail;
	} else if (strcmp(verb, "delete") == 0) {
		if (mail_op_mailbox_delete(t, m.name, &err) < 0)
			goto fail;
	} else if (strcmp(verb, "rename") == 0) {
		struct dsync_mbox to;

		if (dsync_mbox_resolve(ctx, arg, false, &to, &err) < 0)
			goto fail;
		if (strcmp(mail_user_name(to.owner),
		    mail_user_name(m.owner)) != 0) {
			dsync_mbox_free(&to);
			mail_err_set(&err, MAIL_ERR_PARAM,
			    "can not rename '%s' to another owner's '%s'", ref,
			    arg);
			goto fail;
		}
		if (mail_op_mailbox_rename(t, m.name, to.name, &err) < 0) {
			dsync_mbox_free(&to);
			goto fail;
		}
		dsync_mbox_free(&to);
	} else if (strcmp(verb, "set") == 0) {
		struct mail_mailbox *mb = dsync_mbox_get(&m, &err);

		if (mb == NULL || mail_op_mailbox_set(t, mb, arg, value,
		    &err) < 0)
			goto fail;
	}
	if (mail_txn_commit(&t, &err) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	ret = dsync_fail(&err);
out:
	mail_txn_rollback(&t);
	dsync_mbox_free(&m);
	return ret;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Subscriptions belong to the acting user and name any mailbox,
 * "shared/..." and "public/..." included, as IMAP LSUB shows them. */
static int
mailbox_subscribe(struct dsync_ctx *ctx, const char *ref, bool on)
{
	struct mail_user *u = NULL;
	struct mail_txn *t = NULL;
	struct mail_err err;
	int ret = 0;

	if (mail_user_open(ctx->store, ctx->user, false, &u, &err) < 0 ||
	    mail_txn_begin(u, &t, &err) < 0 ||
	    mail_op_subscribe(t, ref, on, &err) < 0 ||
	    mail_txn_commit(&t, &err) < 0)
		ret = dsync_fail(&err);
	mail_txn_rollback(&t);
	mail_user_close(&u);
	return ret;
}

static int
mailbox_list(struct dsync_ctx *ctx)
{
	struct mail_user *u = NULL;
	struct mail_err err;
	struct mail_state *st;
	char **names;
	size_t n = 0;

	if (mail_user_open(ctx->store, ctx->user, false, &u, &err) < 0)
		return dsync_fail(&err);
	st = mail_user_state(u);
	names = mail_xcalloc(st->n_mailboxes + 1, sizeof(char *));
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (!st->mailboxes[i]->deleted)
			names[n++] = mail_xstrdup(st->mailboxes[i]->name);
	}
	mail_user_close(&u);
	/* the public namespace, if there is one */
	if (mail_user_open(ctx->store, MAIL_PUBLIC_USER, false, &u,
	    &err) == 0) {
		st = mail_user_state(u);
		names = mail_xrealloc(names, (n + st->n_mailboxes + 1) *
		    sizeof(char *));
		for (size_t i = 0; i < st->n_mailboxes; i++) {
			if (!st->mailboxes[i]->deleted)
				names[n++] = mail_xasprintf("public/%s",
				    st->mailboxes[i]->name);
		}
		mail_user_close(&u);
	}
	mail_qsort(names, n, sizeof(char *), cmp_name);
	for (size_t i = 0; i < n; i++) {
		printf("%s\n", names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

static int
mailbox_status(struct dsync_ctx *ctx, const char *ref)
{
	struct dsync_mbox m;
	struct mail_mailbox *mb;
	struct mail_err err;
	char hex[MAIL_GUID_HEX];
	uint64_t unseen = 0;
	bool owner;

	if (dsync_mbox_resolve(ctx, ref, false, &m, &err) < 0)
		return dsync_fail(&err);
	if ((mb = dsync_mbox_get(&m, &err)) == NULL) {
		dsync_mbox_free(&m);
		return dsync_fail(&err);
	}
	owner = strcmp(mail_user_name(m.owner), ctx->user) == 0;
	if (owner || mb->pvt_mask == 0) {
		unseen = mb->n_unseen;
	} else {
		for (size_t i = 0; i < mb->n_msgs; i++) {
			if ((mail_mailbox_view_flags(mb, &mb->msgs[i],
			    ctx->user, false) & MAIL_SEEN) == 0)
				unseen++;
		}
	}
	printf("messages %zu\nunseen %" PRIu64 "\nuidnext %u\n"
	    "uidvalidity %u\nhighestmodseq %" PRIu64 "\nguid %s\n"
	    "size %" PRIu64 "\n", mb->n_msgs, unseen, mb->uidnext,
	    mb->uidvalidity, mb->highestmodseq,
	    mail_guid_to_hex(&mb->guid, hex), mb->total_size);
	dsync_mbox_free(&m);
	return 0;
}

int
dsync_cmd_mailbox(struct dsync_ctx *ctx, int argc, char **argv)
{
	const char *verb;
	int ret;

	if ((verb = dsync_take_subcommand(ctx, &argc, &argv)) == NULL)
		return dsync_usage("mailbox create|delete|rename|subscribe|"
		    "unsubscribe|list|status|set ...");
	if ((ret = dsync_need_user(ctx, "mailbox")) != 0)
		return ret;
	if (strcmp(verb, "list") == 0) {
		if (argc != 1)
			return dsync_usage("mailbox list takes no arguments");
		return mailbox_list(ctx);
	}
	if (strcmp(verb, "status") == 0) {
		if (argc != 2)
			return dsync_usage("mailbox status NAME");
		return mailbox_status(ctx, argv[1]);
	}
	if (strcmp(verb, "rename") == 0) {
		if (argc != 3)
			return dsync_usage("mailbox rename OLD NEW");
		return mailbox_change(ctx, verb, argv[1], argv[2], NULL);
	}
	if (strcmp(verb, "set") == 0) {
		if (argc != 4)
			return dsync_usage("mailbox set NAME "
			    "special-use|private-flags VALUE");
		return mailbox_change(ctx, verb, argv[1], argv[2], argv[3]);
	}
	if (strcmp(verb, "create") == 0 || strcmp(verb, "delete") == 0 ||
	    strcmp(verb, "subscribe") == 0 ||
	    strcmp(verb, "unsubscribe") == 0) {
		const char *use = NULL;
		int i = 1;

		if (strcmp(verb, "create") == 0 && argc > 2 &&
		    strcmp(argv[1], "--special-use") == 0) {
			use = argv[2];
			i = 3;
		}
		if (i >= argc)
			return dsync_usage("mailbox %s NAME...", verb);
		for (; i < argc; i++) {
			if (strcmp(verb, "subscribe") == 0 ||
			    strcmp(verb, "unsubscribe") == 0)
				ret = mailbox_subscribe(ctx, argv[i],
				    verb[0] == 's');
			else
				ret = mailbox_change(ctx, verb, argv[i], NULL,
				    use);
			if (ret != 0)
				return ret;
		}
		return 0;
	}
	return dsync_usage("unknown mailbox command '%s'", verb);
}

static int
dump_user(struct dsync_ctx *ctx, const char *name, unsigned flags)
{
	struct mail_user *u = NULL;
	struct mail_buf out = MAIL_BUF_INIT;
	struct mail_err err;
	int ret;

	if (mail_user_open(ctx->store, name, false, &u, &err) < 0)
		return dsync_fail(&err);
	mail_dump_state_flags(name, mail_user_state(u), flags, &out);
	mail_user_close(&u);
	ret = dsync_write_out(out.data, out.len);
	mail_buf_free(&out);
	return ret;
}

int
dsync_cmd_dump(struct dsync_ctx *ctx, int argc, char **argv)
{
	struct mail_err err;
	char **names;
	size_t n;
	unsigned flags = 0;
	int ret = 0;

	dsync_take_user_opts(ctx, &argc, &argv);
	/* --clocks: also the replication state (clocks, tombstones, deleted
	 * mailboxes), to see why two nodes decide what they decide */
	if (argc == 2 && strcmp(argv[1], "--clocks") == 0) {
		flags = MAIL_DUMP_CLOCKS;
		argc--;
	}
	if (argc != 1)
		return dsync_usage("dump [--clocks]");
	if (!ctx->all_users) {
		if ((ret = dsync_need_user(ctx, "dump")) != 0)
			return ret;
		return dump_user(ctx, ctx->user, flags);
	}
	if (mail_store_user_list(ctx->store, &names, &n, &err) < 0)
		return dsync_fail(&err);
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = dump_user(ctx, names[i], flags);
	mail_store_user_list_free(names, n);
	return ret;
}

int
dsync_cmd_check(struct dsync_ctx *ctx, int argc, char **argv)
{
	struct mail_check_result res;
	struct mail_err err;
	bool repair = false;

	if (argc == 2 && strcmp(argv[1], "--repair") == 0)
		repair = true;
	else if (argc != 1)
		return dsync_usage("check [--repair]");
	if (mail_store_check(ctx->store, repair, &res, &err) < 0) {
		mail_buf_free(&res.report);
		return dsync_fail(&err);
	}
	if (res.report.len > 0)
		fwrite(res.report.data, 1, res.report.len,
		    res.problems > 0 ? stderr : stdout);
	printf("users %" PRIu64 " mailboxes %" PRIu64 " messages %" PRIu64
	    " problems %" PRIu64 " repaired %" PRIu64 "\n", res.users,
	    res.mailboxes, res.messages, res.problems, res.repaired);
	mail_buf_free(&res.report);
	if (res.problems > 0) {
		fprintf(stderr, "dsync: check found %" PRIu64 " problem(s)%s\n",
		    res.problems, repair ? " it could not repair" :
		    "; run 'dsync check --repair'");
		return DSYNC_EXIT_ERROR;
	}
	return 0;
}
