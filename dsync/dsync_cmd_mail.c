/*
 * dsync_cmd_mail.c: message commands: save, fetch, flags, expunge, copy
 * and move. Each runs as the acting user (-u) on a mailbox that may be
 * the user's own, shared/OWNER/NAME or public/NAME.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dsync_cli.h"
#include "mail_settings.h"
#include "mail_uidset.h"

/* Read all of stdin, up to the body size limit. */
static int
read_stdin(struct mail_buf *b, struct mail_err *err)
{
	for (;;) {
		ssize_t r;

		mail_buf_reserve(b, 65536);
		r = read(STDIN_FILENO, b->data + b->len, 65536);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return mail_err_sys(err, errno, "read stdin");
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
		b->data[b->len] = '\0';
		if ((uint64_t)b->len > MAIL_BLOB_MAX_SIZE)
			return mail_err_set(err, MAIL_ERR_LIMIT,
			    "message on stdin is over %" PRIu64 " bytes",
			    (uint64_t)MAIL_BLOB_MAX_SIZE);
	}
	return 0;
}

/* Parse "-m MAILBOX" (required unless def is given) and leave the
 * remaining arguments in argc and argv (argv[0] stays the command). */
static int
parse_m(int *argc, char ***argv, const char **mailbox, const char *def,
    const char *usage)
{
	char **v = *argv;
	int n = *argc;

	*mailbox = def;
	if (n >= 3 && strcmp(v[1], "-m") == 0) {
		*mailbox = v[2];
		v[2] = v[0];
		v += 2;
		n -= 2;
	}
	*argc = n;
	*argv = v;
	if (*mailbox == NULL)
		return dsync_usage("%s", usage);
	return 0;
}

int
dsync_cmd_save(struct dsync_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mailbox", required_argument, NULL, 'm' },
		{ "flag", required_argument, NULL, 'f' },
		{ "date", required_argument, NULL, 'd' },
		{ "wait-replicated", optional_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	struct mail_flag_list flags;
	struct mail_save_opts so;
	struct mail_buf msg = MAIL_BUF_INIT;
	struct dsync_mbox m;
	struct mail_mailbox *mb;
	struct mail_txn *t = NULL;
	struct mail_err err;
	struct mail_guid guid;
	const char *mailbox = "INBOX";
	char hex[MAIL_GUID_HEX];
	uint32_t uid;
	uint64_t modseq;
	unsigned long wait_n = mail_settings_uint(ctx->conf, NULL,
	    "replication_wait");
	int c, ret = DSYNC_EXIT_ERROR;

	memset(&flags, 0, sizeof(flags));
	memset(&so, 0, sizeof(so));
	memset(&m, 0, sizeof(m));
	dsync_take_user_opts(ctx, &argc, &argv);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+m:f:d:u:", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'm':
			mailbox = optarg;
			break;
		case 'u':
			ctx->user = optarg;
			break;
		case 'f':
			if (mail_flag_list_add(&flags, optarg, &err) < 0) {
				ret = dsync_fail(&err);
				goto out;
			}
			break;
		case 'd':
			errno = 0;
			so.idate = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg) {
				ret = dsync_usage("-d takes a unix time, not "
				    "'%s'", optarg);
				goto out;
			}
			so.has_idate = true;
			break;
		case 'W':
			wait_n = 1;
			if (optarg != NULL) {
				errno = 0;
				wait_n = strtoul(optarg, &end, 10);
				if (errno != 0 || *end != '\0' ||
				    end == optarg || wait_n < 1 ||
				    wait_n > 64) {
					ret = dsync_usage("--wait-replicated "
					    "takes 1..64 peers, not '%s'",
					    optarg);
					goto out;
				}
			}
			break;
		default:
			ret = dsync_usage("save [-m MAILBOX] [-f FLAG]... "
			    "[-d UNIXTIME] [--wait-replicated[=N]] < MESSAGE");
			goto out;
		}
	}
	if (optind != argc) {
		ret = dsync_usage("save takes the message on stdin, not '%s'",
		    argv[optind]);
		goto out;
	}
	if ((ret = dsync_need_user(ctx, "save")) != 0)
		goto out;
	ret = DSYNC_EXIT_ERROR;
	if (read_stdin(&msg, &err) < 0)
		goto fail;
	if (msg.len == 0) {
		mail_err_set(&err, MAIL_ERR_PARAM, "empty message on stdin");
		goto fail;
	}
	if (dsync_mbox_resolve(ctx, mailbox, false, &m, &err) < 0 ||
	    mail_txn_begin(m.owner, &t, &err) < 0 ||
	    (mb = dsync_mbox_get(&m, &err)) == NULL)
		goto fail;
	so.flags = &flags;
	if (mail_op_save(t, mb, msg.data, msg.len, &so, &uid, &guid,
	    &err) < 0)
		goto fail;
	modseq = mail_txn_modseq(t);
	if (mail_txn_commit(&t, &err) < 0)
		goto fail;
	printf("uid %u guid %s\n", uid, mail_guid_to_hex(&guid, hex));
	ret = 0;
	if (wait_n > 0) {
		fflush(stdout);
		dsync_wait_replicated(ctx, mail_user_name(m.owner), modseq,
		    wait_n);
	}
	goto out;
fail:
	ret = dsync_fail(&err);
out:
	mail_txn_rollback(&t);
	dsync_mbox_free(&m);
	mail_flag_list_free(&flags);
	mail_buf_free(&msg);
	return ret;
}

static uint32_t
highest_uid(const struct mail_mailbox *mb)
{
	return mb->n_msgs > 0 ? mb->msgs[mb->n_msgs - 1].uid : 0;
}

static void
format_flags(struct mail_buf *out, const struct mail_mailbox *mb,
    const struct mail_msg *msg, uint16_t sysflags)
{
	mail_buf_append_str(out, "(");
	mail_flags_format(sysflags, out);
	for (size_t k = 0; k < mb->n_keywords; k++) {
		if (msg->keywords & ((uint64_t)1 << k)) {
			if (out->data[out->len - 1] != '(')
				mail_buf_append_str(out, " ");
			mail_buf_append_str(out, mb->keywords[k]);
		}
	}
	mail_buf_append_str(out, ")");
}

int
dsync_cmd_fetch(struct dsync_ctx *ctx, int argc, char **argv)
{
	static const char *const all_fields[] = { "flags", "guid", "size",
	    "date" };
	const char *mailbox;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct mail_buf out = MAIL_BUF_INIT;
	struct dsync_mbox m;
	struct mail_mailbox *mb;
	struct mail_err err;
	const char *const *fields;
	size_t n_fields;
	bool body_only = false, owner;
	int ret;

	memset(&m, 0, sizeof(m));
	dsync_take_user_opts(ctx, &argc, &argv);
	if ((ret = parse_m(&argc, &argv, &mailbox, NULL, "fetch -m MAILBOX "
	    "UIDSET [body|flags|guid|size|date]...")) != 0)
		return ret;
	if (argc < 2)
		return dsync_usage("fetch -m MAILBOX UIDSET "
		    "[body|flags|guid|size|date]...");
	if ((ret = dsync_need_user(ctx, "fetch")) != 0)
		return ret;
	for (int i = 2; i < argc; i++) {
		bool known = strcmp(argv[i], "body") == 0;

		for (size_t k = 0; k < N_ELEMENTS(all_fields); k++)
			known |= strcmp(argv[i], all_fields[k]) == 0;
		if (!known)
			return dsync_usage("unknown fetch field '%s' (body, "
			    "flags, guid, size, date)", argv[i]);
		if (strcmp(argv[i], "body") == 0) {
			if (argc != 3)
				return dsync_usage("fetch body can not be "
				    "combined with other fields");
			body_only = true;
		}
	}
	if (argc == 2) {
		fields = all_fields;
		n_fields = N_ELEMENTS(all_fields);
	} else {
		fields = (const char *const *)(argv + 2);
		n_fields = (size_t)(argc - 2);
	}
	ret = DSYNC_EXIT_ERROR;
	if (dsync_mbox_resolve(ctx, mailbox, false, &m, &err) < 0 ||
	    (mb = dsync_mbox_get(&m, &err)) == NULL ||
	    mail_uidset_parse(argv[1], highest_uid(mb), &set, &err) < 0)
		goto fail;
	owner = strcmp(mail_user_name(m.owner), ctx->user) == 0;
	for (size_t r = 0; r < set.n; r++) {
		size_t i = mail_mailbox_msg_index(mb, set.r[r].lo);

		for (; i < mb->n_msgs && mb->msgs[i].uid <= set.r[r].hi; i++) {
			const struct mail_msg *msg = &mb->msgs[i];

			if (body_only) {
				if (mail_blobs_get(mail_store_blobs(ctx->store),
				    &msg->body, &out, &err) < 0)
					goto fail;
			} else {
				mail_buf_printf(&out, "uid %u", msg->uid);
				for (size_t f = 0; f < n_fields; f++) {
					char hex[MAIL_GUID_HEX];

					if (strcmp(fields[f], "flags") == 0) {
						mail_buf_append_str(&out,
						    " flags ");
						format_flags(&out, mb, msg,
						    mail_mailbox_view_flags(mb,
						    msg, ctx->user, owner));
					} else if (strcmp(fields[f],
					    "guid") == 0) {
						mail_buf_printf(&out, " guid %s",
						    mail_guid_to_hex(&msg->guid,
						    hex));
					} else if (strcmp(fields[f],
					    "size") == 0) {
						mail_buf_printf(&out,
						    " size %" PRIu64,
						    msg->size);
					} else {
						mail_buf_printf(&out,
						    " date %" PRId64,
						    msg->idate);
					}
				}
				mail_buf_append_str(&out, "\n");
			}
			if (out.len >= 1024 * 1024) {
				if ((ret = dsync_write_out(out.data,
				    out.len)) != 0)
					goto out;
				mail_buf_reset(&out);
			}
		}
	}
	ret = dsync_write_out(out.data, out.len);
	goto out;
fail:
	ret = dsync_fail(&err);
out:
	dsync_mbox_free(&m);
	mail_uidset_free(&set);
	mail_buf_free(&out);
	return ret;
}

int
dsync_cmd_flags(struct dsync_ctx *ctx, int argc, char **argv)
{
	static const char usage[] = "flags add|remove|replace -m MAILBOX "
	    "UIDSET FLAG...";
	struct mail_flag_list flags;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct dsync_mbox m;
	struct mail_mailbox *mb;
	struct mail_txn *t = NULL;
	struct mail_err err;
	enum mail_flags_op op;
	const char *mailbox, *verb;
	int ret;

	memset(&flags, 0, sizeof(flags));
	memset(&m, 0, sizeof(m));
	if ((verb = dsync_take_subcommand(ctx, &argc, &argv)) == NULL)
		return dsync_usage("%s", usage);
	if (strcmp(verb, "add") == 0)
		op = MAIL_FLAGS_ADD;
	else if (strcmp(verb, "remove") == 0)
		op = MAIL_FLAGS_REMOVE;
	else if (strcmp(verb, "replace") == 0)
		op = MAIL_FLAGS_REPLACE;
	else
		return dsync_usage("%s", usage);
	if ((ret = parse_m(&argc, &argv, &mailbox, NULL, usage)) != 0)
		return ret;
	if (argc < 2 || (argc < 3 && op != MAIL_FLAGS_REPLACE))
		return dsync_usage("%s", usage);
	if ((ret = dsync_need_user(ctx, "flags")) != 0)
		return ret;
	for (int i = 2; i < argc; i++) {
		if (mail_flag_list_add(&flags, argv[i], &err) < 0) {
			ret = dsync_fail(&err);
			goto out;
		}
	}
	if (dsync_mbox_resolve(ctx, mailbox, false, &m, &err) < 0 ||
	    mail_txn_begin(m.owner, &t, &err) < 0 ||
	    (mb = dsync_mbox_get(&m, &err)) == NULL ||
	    mail_uidset_parse(argv[1], highest_uid(mb), &set, &err) < 0 ||
	    mail_op_flags(t, mb, &set, op, &flags, ctx->user, &err) < 0 ||
	    mail_txn_commit(&t, &err) < 0) {
		ret = dsync_fail(&err);
		goto out;
	}
	ret = 0;
out:
	mail_txn_rollback(&t);
	dsync_mbox_free(&m);
	mail_uidset_free(&set);
	mail_flag_list_free(&flags);
	return ret;
}

int
dsync_cmd_expunge(struct dsync_ctx *ctx, int argc, char **argv)
{
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct dsync_mbox m;
	struct mail_mailbox *mb;
	struct mail_txn *t = NULL;
	struct mail_err err;
	const char *mailbox;
	int ret;

	memset(&m, 0, sizeof(m));
	dsync_take_user_opts(ctx, &argc, &argv);
	if ((ret = parse_m(&argc, &argv, &mailbox, NULL,
	    "expunge -m MAILBOX UIDSET")) != 0)
		return ret;
	if (argc != 2)
		return dsync_usage("expunge -m MAILBOX UIDSET");
	if ((ret = dsync_need_user(ctx, "expunge")) != 0)
		return ret;
	if (dsync_mbox_resolve(ctx, mailbox, false, &m, &err) < 0 ||
	    mail_txn_begin(m.owner, &t, &err) < 0 ||
	    (mb = dsync_mbox_get(&m, &err)) == NULL ||
	    mail_uidset_parse(argv[1], highest_uid(mb), &set, &err) < 0 ||
	    mail_op_expunge(t, mb, &set, NULL, &err) < 0 ||
	    mail_txn_commit(&t, &err) < 0)
		ret = dsync_fail(&err);
	mail_txn_rollback(&t);
	dsync_mbox_free(&m);
	mail_uidset_free(&set);
	return ret;
}

/* copy and move. Within one owner the copy and the expunge of a move are
 * one transaction; across owners the copy commits first, so a crash
 * between the two leaves a duplicate, never a loss. */
int
dsync_cmd_copy(struct dsync_ctx *ctx, int argc, char **argv)
{
	bool move = strcmp(argv[0], "move") == 0;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct dsync_mbox src, dst;
	struct mail_mailbox *smb, *dmb;
	struct mail_txn *st = NULL, *dt = NULL;
	struct mail_err err;
	const char *mailbox;
	bool same;
	int ret;

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	dsync_take_user_opts(ctx, &argc, &argv);
	if ((ret = parse_m(&argc, &argv, &mailbox, NULL,
	    "copy|move -m MAILBOX UIDSET DEST_MAILBOX")) != 0)
		return ret;
	if (argc != 3)
		return dsync_usage("%s -m MAILBOX UIDSET DEST_MAILBOX",
		    argv[0]);
	if ((ret = dsync_need_user(ctx, argv[0])) != 0)
		return ret;
	if (dsync_mbox_resolve(ctx, mailbox, false, &src, &err) < 0 ||
	    dsync_mbox_resolve(ctx, argv[2], false, &dst, &err) < 0)
		goto fail;
	same = strcmp(mail_user_name(src.owner), mail_user_name(dst.owner)) ==
	    0;
	if (same) {
		/* one user, one transaction: use the destination's state */
		if (mail_txn_begin(dst.owner, &dt, &err) < 0)
			goto fail;
		mail_user_close(&src.owner);
		free(src.name);
		src.name = mail_xstrdup(mailbox);
		src.owner = NULL;
		if ((dmb = dsync_mbox_get(&dst, &err)) == NULL)
			goto fail;
		{
			struct dsync_mbox tmp = dst;

			tmp.name = src.name;
			if ((smb = dsync_mbox_get(&tmp, &err)) == NULL)
				goto fail;
		}
	} else {
		/* a move writes both users: lock in name order so two
		 * opposite moves can not deadlock */
		bool src_first = strcmp(mail_user_name(src.owner),
		    mail_user_name(dst.owner)) < 0;

		if ((move && src_first &&
		    mail_txn_begin(src.owner, &st, &err) < 0) ||
		    mail_txn_begin(dst.owner, &dt, &err) < 0 ||
		    (move && !src_first &&
		    mail_txn_begin(src.owner, &st, &err) < 0) ||
		    (smb = dsync_mbox_get(&src, &err)) == NULL ||
		    (dmb = dsync_mbox_get(&dst, &err)) == NULL)
			goto fail;
	}
	if (mail_uidset_parse(argv[1], highest_uid(smb), &set, &err) < 0 ||
	    mail_op_copy(dt, smb, &set, dmb, NULL, NULL, &err) < 0)
		goto fail;
	if (move && same) {
		/* smb may have moved in memory: look it up again */
		struct dsync_mbox tmp = dst;

		tmp.name = src.name;
		if ((smb = dsync_mbox_get(&tmp, &err)) == NULL ||
		    mail_op_expunge(dt, smb, &set, NULL, &err) < 0)
			goto fail;
	}
	if (mail_txn_commit(&dt, &err) < 0)
		goto fail;
	if (move && !same) {
		if (mail_op_expunge(st, smb, &set, NULL, &err) < 0 ||
		    mail_txn_commit(&st, &err) < 0)
			goto fail;
	}
	ret = 0;
	goto out;
fail:
	ret = dsync_fail(&err);
out:
	mail_txn_rollback(&dt);
	mail_txn_rollback(&st);
	dsync_mbox_free(&src);
	dsync_mbox_free(&dst);
	mail_uidset_free(&set);
	return ret;
}
