/*
 * imapd_append.c: APPEND with MULTIAPPEND (RFC 3502), UIDPLUS's
 * APPENDUID and literal8 bodies (BINARY).
 *
 * Small message literals come inside the parsed command. Big ones are
 * streamed to us by the parser as they arrive (IMAP_PARSE_LITERAL, then
 * LITERAL_DATA chunks) into one buffer per message, so that the client
 * is told NO before it sends a body we would refuse (a missing mailbox,
 * a size over max_append). All messages of one command are saved in one
 * transaction: all or none (RFC 3502).
 */
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "log.h"

struct imapd_append {
	struct mail_buf *bodies;	/* by message index */
	size_t	 n, cap;
	size_t	 current;
};

void
imapd_append_free(struct imapd_client *c)
{
	struct imapd_append *a = c->append;

	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		mail_buf_free(&a->bodies[i]);
	free(a->bodies);
	free(a);
	c->append = NULL;
}

/* The mailbox named by the first argument of an APPEND being read, or
 * NULL. */
static struct mail_mailbox *
append_target(struct imapd_client *c, const struct imap_arg *arg)
{
	struct mail_mailbox *mb;
	struct imap_str s;
	char *name;

	if (arg == NULL || arg->type == IMAP_ARG_LIST || arg->str == NULL)
		return NULL;
	s.data = arg->str;
	s.len = arg->len;
	name = imapd_mailbox_arg(c, "*", &s);
	if (name == NULL)
		return NULL;
	mb = mail_state_mailbox_by_name(imapd_state(c), name);
	free(name);
	return mb;
}

void
imapd_append_literal(struct imapd_client *c)
{
	const struct imap_stream *st = imap_parser_stream(c->parser);
	const char *tag = imap_parser_tag(c->parser);
	struct imapd_append *a;

	if (c->state == IMAPD_NOT_AUTH) {
		imapd_client_reply(c, tag, "BAD", "APPEND not allowed before "
		    "login");
		imap_parser_skip_command(c->parser);
		return;
	}
	if (st->msg_index == 0 && append_target(c,
	    imap_parser_partial_args(c->parser)) == NULL) {
		imapd_client_reply(c, tag, "NO", "[TRYCREATE] Mailbox does "
		    "not exist");
		imap_parser_skip_command(c->parser);
		imapd_append_free(c);
		return;
	}
	if (st->size > c->d->set.max_append) {
		imapd_client_reply(c, tag, "NO", "[TOOBIG] Message is larger "
		    "than %" PRIu64 " bytes", c->d->set.max_append);
		imap_parser_skip_command(c->parser);
		imapd_append_free(c);
		return;
	}
	if (c->append == NULL)
		c->append = mail_xcalloc(1, sizeof(*c->append));
	a = c->append;
	a->bodies = mail_xgrow(a->bodies, &a->cap, st->msg_index + 1,
	    sizeof(*a->bodies));
	while (a->n <= st->msg_index) {
		memset(&a->bodies[a->n], 0, sizeof(a->bodies[0]));
		a->n++;
	}
	mail_buf_reserve(&a->bodies[st->msg_index], st->size);
	a->current = st->msg_index;
	if (st->sync)
		imapd_client_write(c, "+ OK\r\n", 6);
}

void
imapd_append_data(struct imapd_client *c, const uint8_t *p, size_t n)
{
	if (c->append == NULL || c->append->current >= c->append->n)
		return;
	mail_buf_append(&c->append->bodies[c->append->current], p, n);
}

void
imapd_cmd_append(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_uidset uids = MAIL_UIDSET_INIT;
	struct mail_mailbox *mb;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_txn *t;
	struct mail_err err;
	uint32_t validity = 0;
	char *name;

	name = imapd_mailbox_arg(c, cmd->tag, &cmd->u.append.mailbox);
	if (name == NULL) {
		imapd_append_free(c);
		imapd_client_cmd_done(c);
		return;
	}
	if (imapd_txn_begin(c, &t, &err) < 0)
		goto fail;
	mb = mail_state_mailbox_by_name(imapd_state(c), name);
	if (mb == NULL) {
		mail_txn_rollback(&t);
		imapd_cmd_reply(c, cmd, "NO", "[TRYCREATE] Mailbox does not "
		    "exist");
		goto out;
	}
	validity = mb->uidvalidity;
	for (size_t i = 0; i < cmd->u.append.n_msgs; i++) {
		const struct imap_append_msg *m = &cmd->u.append.msgs[i];
		struct mail_save_opts opts;
		struct mail_flag_list fl;
		const void *data = m->data;
		size_t len = m->size;
		uint32_t uid;
		int r;

		if (m->streamed) {
			if (c->append == NULL || i >= c->append->n ||
			    c->append->bodies[i].len != m->size) {
				mail_txn_rollback(&t);
				mail_err_set(&err, MAIL_ERR_INTERNAL,
				    "streamed message %zu went missing", i);
				goto fail;
			}
			data = c->append->bodies[i].data;
		}
		if (len == 0) {
			mail_txn_rollback(&t);
			imapd_cmd_reply(c, cmd, "NO", "[CANNOT] Empty message");
			goto out;
		}
		memset(&opts, 0, sizeof(opts));
		memset(&fl, 0, sizeof(fl));
		if (m->has_flags) {
			fl.flags = m->flags.sys;
			for (size_t k = 0; k < m->flags.n_keywords; k++)
				mail_flag_list_add_keyword(&fl,
				    m->flags.keywords[k]);
			opts.flags = &fl;
		}
		if (m->has_date) {
			opts.idate = m->date.t;
			opts.has_idate = true;
		}
		r = mail_op_save(t, mb, data, len, &opts, &uid, NULL, &err);
		mail_flag_list_free(&fl);
		if (r < 0) {
			mail_txn_rollback(&t);
			goto fail;
		}
		mail_uidset_add(&uids, uid, uid);
		/* a save may move the mailbox array: look it up again */
		mb = mail_state_mailbox_by_name(imapd_state(c), name);
	}
	if (imapd_txn_commit(c, &t, &err) < 0)
		goto fail;
	mail_uidset_format(&uids, &b);
	imapd_cmd_ok(c, cmd, "[APPENDUID %u %.*s] Append completed", validity,
	    (int)b.len, (const char *)b.data);
	goto out;
fail:
	imapd_reply_err(c, cmd->tag, &err);
	imapd_client_cmd_done(c);
out:
	imapd_append_free(c);
	free(name);
	mail_buf_free(&b);
	mail_uidset_free(&uids);
}
