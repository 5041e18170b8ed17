/*
 * dsync_cmd_meta.c: metadata (RFC 5464 entries) and ACL (RFC 4314)
 * commands.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "dsync_cli.h"
#include "mail_dump.h"

struct meta_args {
	const char *mailbox;
	uint32_t uid;
};

/* Parse [-m MAILBOX [--uid UID]] after the sub-command word. */
static int
parse_meta_opts(int *argc, char ***argv, struct meta_args *a)
{
	char **v = *argv;
	int n = *argc;

	memset(a, 0, sizeof(*a));
	for (;;) {
		if (n >= 3 && strcmp(v[1], "-m") == 0) {
			a->mailbox = v[2];
		} else if (n >= 3 && strcmp(v[1], "--uid") == 0) {
			char *end;
			unsigned long u = strtoul(v[2], &end, 10);

			if (*end != '\0' || u == 0 || u > UINT32_MAX)
				return dsync_usage("--uid takes a UID, not "
				    "'%s'", v[2]);
			a->uid = (uint32_t)u;
		} else {
			break;
		}
		v[2] = v[0];
		v += 2;
		n -= 2;
	}
	if (a->uid != 0 && a->mailbox == NULL)
		return dsync_usage("--uid needs -m MAILBOX");
	*argc = n;
	*argv = v;
	return 0;
}

static int
cmp_meta_key(const void *a, const void *b)
{
	const struct mail_meta *x = *(struct mail_meta *const *)a;
	const struct mail_meta *y = *(struct mail_meta *const *)b;

	return strcmp(x->key, y->key);
}

int
dsync_cmd_metadata(struct dsync_ctx *ctx, int argc, char **argv)
{
	static const char usage[] = "metadata set|get|unset|list "
	    "[-m MAILBOX [--uid UID]] [KEY [VALUE]]";
	struct meta_args a;
	struct dsync_mbox m;
	struct mail_user *u = NULL;
	struct mail_mailbox *mb = NULL;
	struct mail_txn *t = NULL;
	struct mail_err err;
	struct mail_state *st;
	const struct mail_meta *e;
	const char *verb;
	char *key = NULL;
	int ret;

	memset(&m, 0, sizeof(m));
	if ((verb = dsync_take_subcommand(ctx, &argc, &argv)) == NULL)
		return dsync_usage("%s", usage);
	if ((ret = parse_meta_opts(&argc, &argv, &a)) != 0)
		return ret;
	if ((ret = dsync_need_user(ctx, "metadata")) != 0)
		return ret;
	if ((strcmp(verb, "set") == 0 && argc != 3) ||
	    ((strcmp(verb, "get") == 0 || strcmp(verb, "unset") == 0) &&
	    argc != 2) || (strcmp(verb, "list") == 0 && argc != 1))
		return dsync_usage("%s", usage);
	if (strcmp(verb, "set") != 0 && strcmp(verb, "get") != 0 &&
	    strcmp(verb, "unset") != 0 && strcmp(verb, "list") != 0)
		return dsync_usage("%s", usage);
	if (argc >= 2 && (key = mail_metadata_key_normalize(argv[1],
	    &err)) == NULL)
		return dsync_fail(&err);
	ret = DSYNC_EXIT_ERROR;
	if (a.mailbox != NULL) {
		if (dsync_mbox_resolve(ctx, a.mailbox, false, &m, &err) < 0)
			goto fail;
		u = m.owner;
	} else if (mail_user_open(ctx->store, ctx->user, false, &u,
	    &err) < 0) {
		goto fail;
	}
	if (strcmp(verb, "set") == 0 || strcmp(verb, "unset") == 0) {
		if (mail_txn_begin(u, &t, &err) < 0)
			goto fail;
	}
	st = mail_user_state(u);
	if (a.mailbox != NULL && (mb = dsync_mbox_get(&m, &err)) == NULL)
		goto fail;
	if (a.uid != 0 && mail_mailbox_msg(mb, a.uid) == NULL) {
		mail_err_set(&err, MAIL_ERR_NOTFOUND,
		    "no message with UID %u in '%s'", a.uid, a.mailbox);
		goto fail;
	}
	if (strcmp(verb, "get") == 0 || strcmp(verb, "unset") == 0) {
		e = mail_state_meta_find(st, mb, a.uid,
		    mail_metadata_key_user(key, ctx->user), key);
		if (e == NULL || !e->has_value) {
			mail_err_set(&err, MAIL_ERR_NOTFOUND,
			    "no metadata key '%s'", key);
			goto fail;
		}
	}
	if (strcmp(verb, "set") == 0) {
		if (mail_op_metadata(t, mb, a.uid, ctx->user, key, argv[2],
		    strlen(argv[2]), &err) < 0 || mail_txn_commit(&t, &err) < 0)
			goto fail;
	} else if (strcmp(verb, "unset") == 0) {
		if (mail_op_metadata(t, mb, a.uid, ctx->user, key, NULL, 0,
		    &err) < 0 || mail_txn_commit(&t, &err) < 0)
			goto fail;
	} else if (strcmp(verb, "get") == 0) {
		if ((ret = dsync_write_out(e->value, e->value_len)) != 0 ||
		    (ret = dsync_write_out("\n", 1)) != 0)
			goto out;
	} else {
		const struct mail_meta *arr = mb != NULL ? mb->meta : st->meta;
		size_t n = mb != NULL ? mb->n_meta : st->n_meta, k = 0;
		const struct mail_meta **v = mail_xcalloc(n, sizeof(*v));
		struct mail_buf out = MAIL_BUF_INIT;

		for (size_t i = 0; i < n; i++) {
			/* the actor's private keys and all shared keys */
			if (arr[i].has_value && arr[i].uid == a.uid &&
			    (arr[i].user[0] == '\0' ||
			    strcmp(arr[i].user, ctx->user) == 0))
				v[k++] = &arr[i];
		}
		mail_qsort(v, k, sizeof(*v), cmp_meta_key);
		for (size_t i = 0; i < k; i++) {
			mail_buf_printf(&out, "%s ", v[i]->key);
			mail_dump_quote(&out, v[i]->value, v[i]->value_len);
			mail_buf_append_str(&out, "\n");
		}
		free(v);
		ret = dsync_write_out(out.data, out.len);
		mail_buf_free(&out);
		goto out;
	}
	ret = 0;
	goto out;
fail:
	ret = dsync_fail(&err);
out:
	mail_txn_rollback(&t);
	if (a.mailbox != NULL)
		dsync_mbox_free(&m);
	else
		mail_user_close(&u);
	free(key);
	return ret;
}

int
dsync_cmd_acl(struct dsync_ctx *ctx, int argc, char **argv)
{
	static const char usage[] = "acl set -m MAILBOX IDENTIFIER RIGHTS | "
	    "acl delete -m MAILBOX IDENTIFIER | acl list -m MAILBOX";
	struct meta_args a;
	struct dsync_mbox m;
	struct mail_mailbox *mb;
	struct mail_txn *t = NULL;
	struct mail_err err;
	const char *verb;
	int ret;

	memset(&m, 0, sizeof(m));
	if ((verb = dsync_take_subcommand(ctx, &argc, &argv)) == NULL)
		return dsync_usage("%s", usage);
	if ((ret = parse_meta_opts(&argc, &argv, &a)) != 0)
		return ret;
	if (a.mailbox == NULL || a.uid != 0 ||
	    (strcmp(verb, "set") == 0 && argc != 3) ||
	    (strcmp(verb, "delete") == 0 && argc != 2) ||
	    (strcmp(verb, "list") == 0 && argc != 1) ||
	    (strcmp(verb, "set") != 0 && strcmp(verb, "delete") != 0 &&
	    strcmp(verb, "list") != 0))
		return dsync_usage("%s", usage);
	if ((ret = dsync_need_user(ctx, "acl")) != 0)
		return ret;
	if (dsync_mbox_resolve(ctx, a.mailbox, false, &m, &err) < 0)
		return dsync_fail(&err);
	if (strcmp(verb, "list") == 0) {
		const struct mail_acl_entry **v;
		size_t n;

		if ((mb = dsync_mbox_get(&m, &err)) == NULL)
			goto fail;
		v = mail_mailbox_acl_sorted(mb, &n);
		for (size_t i = 0; i < n; i++)
			printf("%s %s\n", v[i]->identifier, v[i]->rights);
		free(v);
		ret = 0;
		goto out;
	}
	if (mail_txn_begin(m.owner, &t, &err) < 0 ||
	    (mb = dsync_mbox_get(&m, &err)) == NULL ||
	    mail_op_acl(t, mb, argv[1], strcmp(verb, "set") == 0 ? argv[2] :
	    NULL, &err) < 0 || mail_txn_commit(&t, &err) < 0)
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
