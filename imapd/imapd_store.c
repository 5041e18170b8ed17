/*
 * imapd_store.c: STORE (with CONDSTORE's UNCHANGEDSINCE), COPY and MOVE
 * (RFC 6851), with UIDPLUS's COPYUID (RFC 4315).
 */
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "log.h"

static void
flag_list_of(const struct imap_flags *f, struct mail_flag_list *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->flags = f->sys;
	for (size_t i = 0; i < f->n_keywords; i++)
		mail_flag_list_add_keyword(fl, f->keywords[i]);
}

void
imapd_cmd_store(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_uidset uids = MAIL_UIDSET_INIT, todo = MAIL_UIDSET_INIT;
	struct mail_uidset modified = MAIL_UIDSET_INIT;
	struct mail_flag_list fl;
	struct mail_mailbox *mb;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_txn *t;
	struct mail_err err;
	enum mail_flags_op op;
	uint64_t modseq;

	if (!imapd_view_writable(c, cmd))
		return;
	if (!imapd_view_resolve(c, &cmd->u.store.set, cmd->uid, &uids)) {
		imapd_cmd_reply(c, cmd, "BAD", "Invalid sequence number");
		return;
	}
	if (cmd->u.store.has_unchangedsince)
		c->condstore = true;
	op = cmd->u.store.op == IMAP_STORE_ADD ? MAIL_FLAGS_ADD :
	    cmd->u.store.op == IMAP_STORE_REMOVE ? MAIL_FLAGS_REMOVE :
	    MAIL_FLAGS_REPLACE;
	flag_list_of(&cmd->u.store.flags, &fl);
	if (imapd_txn_begin(c, &t, &err) < 0)
		goto fail;
	mb = imapd_view_mailbox(c);
	if (mb == NULL) {
		mail_txn_rollback(&t);
		goto done;
	}
	/* UNCHANGEDSINCE: messages changed after it are left alone and
	 * named in [MODIFIED] (RFC 7162 3.1.3) */
	for (size_t i = 0; i < uids.n; i++) {
		for (uint32_t u = uids.r[i].lo;; u++) {
			const struct mail_msg *m = mail_mailbox_msg(mb, u);

			if (m != NULL) {
				if (cmd->u.store.has_unchangedsince &&
				    m->modseq > cmd->u.store.unchangedsince)
					mail_uidset_add(&modified, u, u);
				else
					mail_uidset_add(&todo, u, u);
			}
			if (u == uids.r[i].hi)
				break;
		}
	}
	modseq = mail_txn_modseq(t);
	if (todo.n > 0 && mail_op_flags(t, mb, &todo, op, &fl, c->user->name,
	    &err) < 0) {
		mail_txn_rollback(&t);
		goto fail;
	}
	if (imapd_txn_commit(c, &t, &err) < 0)
		goto fail;
	/* an empty transaction used no modseq: the next one, someone
	 * else's, may get it */
	if (todo.n > 0)
		c->own_modseq = modseq;
	/* the new flags of every message asked for, unless .SILENT; with
	 * CONDSTORE also when silent, as their MODSEQ changed (RFC 7162
	 * 3.1.3 says the server MUST send them then) */
	mb = imapd_view_mailbox(c);
	if (mb != NULL && (!cmd->u.store.silent || c->condstore)) {
		for (size_t i = 0; i < todo.n; i++) {
			for (uint32_t u = todo.r[i].lo;; u++) {
				const struct mail_msg *m =
				    mail_mailbox_msg(mb, u);

				if (m != NULL && (!cmd->u.store.silent ||
				    m->modseq == modseq)) {
					mail_buf_reset(&b);
					mail_buf_printf(&b, "* %u FETCH (",
					    imapd_view_seq(c->view, u));
					if (!cmd->u.store.silent) {
						mail_buf_append_str(&b,
						    "FLAGS ");
						imapd_put_flags(c, mb, m, &b);
						mail_buf_append(&b, " ", 1);
					}
					if (cmd->uid || c->qresync)
						mail_buf_printf(&b, "UID %u ",
						    u);
					if (c->condstore)
						mail_buf_printf(&b, "MODSEQ "
						    "(%" PRIu64 ") ",
						    m->modseq);
					b.len--;	/* the last space */
					mail_buf_append_str(&b, ")\r\n");
					imapd_client_write(c, b.data, b.len);
				}
				if (u == todo.r[i].hi)
					break;
			}
		}
	}
done:
	if (modified.n > 0) {
		mail_buf_reset(&b);
		/* sequence numbers for STORE, UIDs for UID STORE */
		if (!cmd->uid) {
			struct mail_uidset seqs = MAIL_UIDSET_INIT;

			for (size_t i = 0; i < modified.n; i++) {
				for (uint32_t u = modified.r[i].lo;; u++) {
					uint32_t s = imapd_view_seq(c->view, u);

					mail_uidset_add(&seqs, s, s);
					if (u == modified.r[i].hi)
						break;
				}
			}
			mail_uidset_format(&seqs, &b);
			mail_uidset_free(&seqs);
		} else {
			mail_uidset_format(&modified, &b);
		}
		imapd_cmd_ok(c, cmd, "[MODIFIED %.*s] Conditional store failed",
		    (int)b.len, (const char *)b.data);
	} else {
		imapd_cmd_ok(c, cmd, "Store completed");
	}
	goto out;
fail:
	imapd_reply_err(c, cmd->tag, &err);
	imapd_client_cmd_done(c);
out:
	mail_buf_free(&b);
	mail_flag_list_free(&fl);
	mail_uidset_free(&uids);
	mail_uidset_free(&todo);
	mail_uidset_free(&modified);
}

void
imapd_cmd_copy(struct imapd_client *c, struct imap_cmd *cmd)
{
	bool move = cmd->type == IMAP_CMD_MOVE;
	struct mail_uidset uids = MAIL_UIDSET_INIT, src = MAIL_UIDSET_INIT;
	struct mail_uidset dst_uids = MAIL_UIDSET_INIT;
	struct mail_mailbox *mb, *dst;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_txn *t;
	struct mail_err err;
	uint32_t dst_validity;
	char *name;

	if (move && !imapd_view_writable(c, cmd))
		return;
	if (!imapd_view_resolve(c, &cmd->u.copy.set, cmd->uid, &uids)) {
		imapd_cmd_reply(c, cmd, "BAD", "Invalid sequence number");
		return;
	}
	name = imapd_mailbox_arg(c, cmd->tag, &cmd->u.copy.mailbox);
	if (name == NULL) {
		mail_uidset_free(&uids);
		imapd_client_cmd_done(c);
		return;
	}
	if (imapd_txn_begin(c, &t, &err) < 0)
		goto fail;
	mb = imapd_view_mailbox(c);
	dst = mail_state_mailbox_by_name(imapd_state(c), name);
	if (dst == NULL) {
		mail_txn_rollback(&t);
		imapd_cmd_reply(c, cmd, "NO", "[TRYCREATE] Mailbox does not "
		    "exist");
		goto out;
	}
	if (mb == NULL) {
		mail_txn_rollback(&t);
		imapd_cmd_ok(c, cmd, "%s completed", move ? "Move" : "Copy");
		goto out;
	}
	if (move && dst == mb) {
		mail_txn_rollback(&t);
		imapd_cmd_reply(c, cmd, "NO", "[CANNOT] Can not move a "
		    "message into its own mailbox");
		goto out;
	}
	/* the messages that still exist: the order of COPYUID's two sets */
	for (size_t i = 0; i < uids.n; i++) {
		for (uint32_t u = uids.r[i].lo;; u++) {
			if (mail_mailbox_msg(mb, u) != NULL)
				mail_uidset_add(&src, u, u);
			if (u == uids.r[i].hi)
				break;
		}
	}
	dst_validity = dst->uidvalidity;
	if (src.n > 0 && (mail_op_copy(t, mb, &src, dst, &dst_uids, NULL,
	    &err) < 0 || (move && mail_op_expunge(t,
	    mail_state_mailbox_by_guid(imapd_state(c), &c->view->guid), &src,
	    NULL, &err) < 0))) {
		mail_txn_rollback(&t);
		goto fail;
	}
	if (imapd_txn_commit(c, &t, &err) < 0)
		goto fail;
	if (src.n > 0) {
		mail_buf_printf(&b, "[COPYUID %u ", dst_validity);
		mail_uidset_format(&src, &b);
		mail_buf_append(&b, " ", 1);
		mail_uidset_format(&dst_uids, &b);
		mail_buf_append(&b, "]", 1);
	}
	if (move) {
		/* RFC 6851: COPYUID in an untagged OK before the
		 * expunges */
		if (b.len > 0)
			imapd_client_printf(c, "* OK %.*s Moved\r\n",
			    (int)b.len, (const char *)b.data);
		imapd_cmd_ok(c, cmd, "Move completed");
	} else {
		imapd_cmd_ok(c, cmd, "%.*s%sCopy completed", (int)b.len,
		    (const char *)b.data, b.len > 0 ? " " : "");
	}
	goto out;
fail:
	imapd_reply_err(c, cmd->tag, &err);
	imapd_client_cmd_done(c);
out:
	free(name);
	mail_buf_free(&b);
	mail_uidset_free(&uids);
	mail_uidset_free(&src);
	mail_uidset_free(&dst_uids);
}
