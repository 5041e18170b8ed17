/*
 * imapd_mailbox.c: commands on mailboxes as a whole: SELECT/EXAMINE
 * (with CONDSTORE and QRESYNC), CLOSE/UNSELECT, EXPUNGE, IDLE, CREATE,
 * DELETE, RENAME, SUBSCRIBE/UNSUBSCRIBE, NAMESPACE, STATUS. LIST is in
 * imapd_list.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"
#include "log.h"

struct mail_mailbox *
imapd_mailbox_find(struct imapd_client *c, struct imap_cmd *cmd,
    const struct imap_str *arg)
{
	struct mail_mailbox *mb;
	char *name = imapd_mailbox_arg(c, cmd->tag, arg);

	if (name == NULL) {
		imapd_client_cmd_done(c);
		return NULL;
	}
	mb = mail_state_mailbox_by_name(imapd_state(c), name);
	free(name);
	if (mb == NULL)
		imapd_cmd_reply(c, cmd, "NO", "[NONEXISTENT] Mailbox does not "
		    "exist");
	return mb;
}

bool
imapd_view_writable(struct imapd_client *c, struct imap_cmd *cmd)
{
	if (!c->view->readonly)
		return true;
	imapd_cmd_reply(c, cmd, "NO", "[READ-ONLY] Mailbox is read-only");
	return false;
}

/* ---- SELECT / EXAMINE ---- */

static uint32_t
first_unseen(struct imapd_client *c, const struct mail_mailbox *mb)
{
	for (size_t i = 0; i < mb->n_msgs; i++) {
		uint16_t f = mail_mailbox_view_flags(mb, &mb->msgs[i],
		    c->user->name, true);

		if ((f & MAIL_SEEN) == 0)
			return imapd_view_seq(c->view, mb->msgs[i].uid);
	}
	return 0;
}

/* QRESYNC (RFC 7162 3.2.5): what the client missed since its modseq. */
static void
select_qresync(struct imapd_client *c, const struct imap_cmd *cmd,
    const struct mail_mailbox *mb)
{
	struct imapd_view *v = c->view;
	struct mail_uidset vanished = MAIL_UIDSET_INIT;
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t since = cmd->u.select.modseq;

	if (cmd->u.select.uidvalidity != mb->uidvalidity)
		return;
	/* expunged UIDs the client may know: all the mailbox lost, within
	 * the known UIDs it named (we keep no per-UID expunge modseq, and
	 * RFC 7162 allows reporting UIDs the client did not have) */
	for (size_t i = 0; i < mb->gone.n; i++) {
		uint32_t lo = mb->gone.r[i].lo, hi = mb->gone.r[i].hi;

		if (cmd->u.select.has_known_uids) {
			const struct imap_seqset *k = &cmd->u.select.known_uids;

			for (size_t j = 0; j < k->n; j++) {
				uint32_t a = k->r[j].lo == 0 ? UINT32_MAX :
				    k->r[j].lo;
				uint32_t z = k->r[j].hi == 0 ? UINT32_MAX :
				    k->r[j].hi;

				if (a > z) {
					uint32_t t = a;

					a = z;
					z = t;
				}
				if (z < lo || a > hi)
					continue;
				mail_uidset_add(&vanished, a > lo ? a : lo,
				    z < hi ? z : hi);
			}
		} else {
			mail_uidset_add(&vanished, lo, hi);
		}
	}
	if (since < mb->highestmodseq && vanished.n > 0) {
		mail_buf_append_str(&b, "* VANISHED (EARLIER) ");
		mail_uidset_format(&vanished, &b);
		mail_buf_append_str(&b, "\r\n");
	}
	for (size_t i = 0; i < mb->n_msgs; i++) {
		const struct mail_msg *msg = &mb->msgs[i];

		if (msg->modseq <= since)
			continue;
		mail_buf_printf(&b, "* %u FETCH (UID %u FLAGS ",
		    imapd_view_seq(v, msg->uid), msg->uid);
		imapd_put_flags(c, mb, msg, &b);
		mail_buf_printf(&b, " MODSEQ (%" PRIu64 "))\r\n", msg->modseq);
	}
	imapd_client_write(c, b.data, b.len);
	mail_buf_free(&b);
	mail_uidset_free(&vanished);
}

void
imapd_cmd_select(struct imapd_client *c, struct imap_cmd *cmd)
{
	bool readonly = cmd->type == IMAP_CMD_EXAMINE;
	struct mail_mailbox *mb;
	uint32_t unseen;

	if (cmd->u.select.qresync && !c->qresync) {
		imapd_cmd_reply(c, cmd, "BAD", "QRESYNC must be enabled first");
		return;
	}
	if (c->state == IMAPD_SELECTED) {
		imapd_view_close(c);
		imapd_client_printf(c, "* OK [CLOSED] Previous mailbox "
		    "closed\r\n");
	}
	mb = imapd_mailbox_find(c, cmd, &cmd->u.select.mailbox);
	if (mb == NULL)
		return;
	if (cmd->u.select.condstore)
		c->condstore = true;
	imapd_view_open(c, mb, readonly);
	imapd_view_send_flags(c, mb);
	imapd_client_printf(c, "* %u EXISTS\r\n", c->view->n);
	if (!c->rev2) {
		imapd_client_write(c, "* 0 RECENT\r\n", 12);
		unseen = first_unseen(c, mb);
		if (unseen > 0)
			imapd_client_printf(c, "* OK [UNSEEN %u] First unseen\r\n",
			    unseen);
	}
	imapd_client_printf(c, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n"
	    "* OK [HIGHESTMODSEQ %" PRIu64 "] Highest\r\n", mb->uidvalidity,
	    mb->uidnext, mb->highestmodseq);
	if (cmd->u.select.qresync)
		select_qresync(c, cmd, mb);
	imapd_cmd_ok(c, cmd, "[%s] %s completed", readonly ? "READ-ONLY" :
	    "READ-WRITE", imap_cmd_type_name(cmd->type));
}

/* ---- expunge, close ---- */

/* Expunge the \Deleted messages of the view (within only, if not NULL).
 * Returns 0 or -1 with err. */
static int
expunge_deleted(struct imapd_client *c, const struct mail_uidset *only,
    struct mail_err *err)
{
	struct mail_uidset uids = MAIL_UIDSET_INIT;
	struct mail_mailbox *mb;
	struct mail_txn *t;
	int ret = 0;

	if (imapd_txn_begin(c, &t, err) < 0)
		return -1;
	mb = imapd_view_mailbox(c);
	if (mb == NULL) {
		mail_txn_rollback(&t);
		return 0;
	}
	for (size_t i = 0; i < mb->n_msgs; i++) {
		const struct mail_msg *msg = &mb->msgs[i];

		if ((mail_mailbox_view_flags(mb, msg, c->user->name, true) &
		    MAIL_DELETED) == 0 || imapd_view_seq(c->view, msg->uid) == 0)
			continue;
		if (only != NULL && !mail_uidset_contains(only, msg->uid))
			continue;
		mail_uidset_add(&uids, msg->uid, msg->uid);
	}
	if (uids.n == 0) {
		mail_txn_rollback(&t);
	} else if (mail_op_expunge(t, mb, &uids, NULL, err) < 0) {
		mail_txn_rollback(&t);
		ret = -1;
	} else {
		ret = imapd_txn_commit(c, &t, err);
	}
	mail_uidset_free(&uids);
	return ret;
}

void
imapd_cmd_expunge(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_uidset only = MAIL_UIDSET_INIT;
	struct mail_err err;
	int r;

	if (!imapd_view_writable(c, cmd))
		return;
	if (cmd->uid)
		(void)imapd_view_resolve(c, &cmd->u.expunge.set, true, &only);
	r = expunge_deleted(c, cmd->uid ? &only : NULL, &err);
	mail_uidset_free(&only);
	if (r < 0) {
		imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
		return;
	}
	imapd_cmd_ok(c, cmd, "Expunge completed");
}

void
imapd_cmd_close(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_err err;

	/* CLOSE expunges silently; UNSELECT does not expunge */
	if (cmd->type == IMAP_CMD_CLOSE && !c->view->readonly &&
	    expunge_deleted(c, NULL, &err) < 0) {
		imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
		return;
	}
	imapd_view_close(c);
	imapd_cmd_ok(c, cmd, "%s completed", imap_cmd_type_name(cmd->type));
}

/* ---- IDLE ---- */

void
imapd_cmd_idle(struct imapd_client *c, struct imap_cmd *cmd)
{
	free(c->idle_tag);
	c->idle_tag = mail_xstrdup(cmd->tag);
	imapd_client_cmd_done(c);
	imapd_client_write(c, "+ idling\r\n", 10);
	imapd_client_set_input(c, IMAPD_IN_IDLE);
	if (c->state == IMAPD_SELECTED)
		imapd_view_report(c, true);
}

void
imapd_idle_line(struct imapd_client *c, const uint8_t *line, size_t len)
{
	imapd_client_set_input(c, IMAPD_IN_COMMAND);
	if (!imap_line_is_done(line, len)) {
		imapd_client_reply(c, c->idle_tag, "BAD", "Expected DONE");
	} else {
		if (c->state == IMAPD_SELECTED)
			imapd_view_report(c, true);
		imapd_client_reply(c, c->idle_tag, "OK", "Idle completed");
	}
	free(c->idle_tag);
	c->idle_tag = NULL;
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE ---- */

/* Run one store operation on name(s) in a transaction and answer. */
static void
mailbox_op(struct imapd_client *c, struct imap_cmd *cmd, const char *name,
    const char *name2)
{
	struct mail_txn *t;
	struct mail_err err;
	int r;

	if (imapd_txn_begin(c, &t, &err) < 0) {
		imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
		return;
	}
	switch (cmd->type) {
	case IMAP_CMD_CREATE: {
		const char *use = cmd->u.create.n_use > 0 ?
		    cmd->u.create.use[0] : NULL;

		r = mail_op_mailbox_create(t, name, use, NULL, &err);
		if (r < 0 && err.code == MAIL_ERR_PARAM && use != NULL)
			mail_err_prefix(&err, "[USEATTR]");
		break;
	}
	case IMAP_CMD_DELETE:
		r = mail_op_mailbox_delete(t, name, &err);
		break;
	case IMAP_CMD_RENAME:
		r = mail_op_mailbox_rename(t, name, name2, &err);
		break;
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
		r = mail_op_subscribe(t, name, cmd->type == IMAP_CMD_SUBSCRIBE,
		    &err);
		break;
	default:
		mail_assert(!"not a mailbox command");
		return;
	}
	if (r < 0) {
		mail_txn_rollback(&t);
		if (strncmp(err.msg, "[USEATTR]", 9) == 0)
			imapd_client_reply(c, cmd->tag, "NO", "%s", err.msg);
		else
			imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
		return;
	}
	if (imapd_txn_commit(c, &t, &err) < 0) {
		imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
		return;
	}
	imapd_cmd_ok(c, cmd, "%s completed", imap_cmd_type_name(cmd->type));
}

/* mailbox_op() on the mailbox that arg names. */
static void
mailbox_op_on(struct imapd_client *c, struct imap_cmd *cmd,
    const struct imap_str *arg)
{
	char *name = imapd_mailbox_arg(c, cmd->tag, arg);

	if (name == NULL) {
		imapd_client_cmd_done(c);
		return;
	}
	mailbox_op(c, cmd, name, NULL);
	free(name);
}

void
imapd_cmd_create(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct imap_str arg = cmd->u.create.mailbox;

	/* "a/b/" creates "a/b" (RFC 9051 6.3.4) */
	while (arg.len > 1 && arg.data[arg.len - 1] == IMAPD_SEP)
		arg.len--;
	if (cmd->u.create.n_use > 1) {
		imapd_cmd_reply(c, cmd, "NO", "[USEATTR] One special-use "
		    "attribute per mailbox");
		return;
	}
	mailbox_op_on(c, cmd, &arg);
}

void
imapd_cmd_delete(struct imapd_client *c, struct imap_cmd *cmd)
{
	mailbox_op_on(c, cmd, &cmd->u.mailbox.mailbox);
}

void
imapd_cmd_rename(struct imapd_client *c, struct imap_cmd *cmd)
{
	char *from, *to = NULL;

	from = imapd_mailbox_arg(c, cmd->tag, &cmd->u.rename.from);
	if (from != NULL)
		to = imapd_mailbox_arg(c, cmd->tag, &cmd->u.rename.to);
	if (to != NULL)
		mailbox_op(c, cmd, from, to);
	else
		imapd_client_cmd_done(c);
	free(from);
	free(to);
}

void
imapd_cmd_subscribe(struct imapd_client *c, struct imap_cmd *cmd)
{
	imapd_cmd_delete(c, cmd);	/* same argument, dispatch by type */
}

/* ---- NAMESPACE, STATUS ---- */

void
imapd_cmd_namespace(struct imapd_client *c, struct imap_cmd *cmd)
{
	imapd_client_printf(c, "* NAMESPACE ((\"\" \"%c\")) NIL NIL\r\n",
	    IMAPD_SEP);
	imapd_cmd_ok(c, cmd, "Namespace completed");
}

void
imapd_status_line(struct imapd_client *c, const struct mail_mailbox *mb,
    unsigned items, struct mail_buf *out)
{
	const char *sep = "";

	mail_buf_append_str(out, "* STATUS ");
	imapd_put_mailbox(c, out, mb->name);
	mail_buf_append_str(out, " (");
#define ITEM(fmt, ...) do {						\
		mail_buf_printf(out, "%s" fmt, sep, __VA_ARGS__);	\
		sep = " ";						\
	} while (0)
	if (items & IMAP_STATUS_MESSAGES)
		ITEM("MESSAGES %zu", mb->n_msgs);
	if (items & IMAP_STATUS_RECENT)
		ITEM("RECENT %u", 0u);
	if (items & IMAP_STATUS_UIDNEXT)
		ITEM("UIDNEXT %u", mb->uidnext);
	if (items & IMAP_STATUS_UIDVALIDITY)
		ITEM("UIDVALIDITY %u", mb->uidvalidity);
	if (items & IMAP_STATUS_UNSEEN)
		ITEM("UNSEEN %" PRIu64, mb->n_unseen);
	if (items & IMAP_STATUS_DELETED) {
		uint64_t n = 0;

		for (size_t i = 0; i < mb->n_msgs; i++)
			n += (mb->msgs[i].flags & MAIL_DELETED) != 0;
		ITEM("DELETED %" PRIu64, n);
	}
	if (items & IMAP_STATUS_SIZE)
		ITEM("SIZE %" PRIu64, mb->total_size);
	if (items & IMAP_STATUS_HIGHESTMODSEQ)
		ITEM("HIGHESTMODSEQ %" PRIu64, mb->highestmodseq);
#undef ITEM
	mail_buf_append_str(out, ")\r\n");
}

void
imapd_cmd_status(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_mailbox *mb;

	mb = imapd_mailbox_find(c, cmd, &cmd->u.status.mailbox);
	if (mb == NULL)
		return;
	imapd_status_line(c, mb, cmd->u.status.items, &b);
	imapd_client_write(c, b.data, b.len);
	mail_buf_free(&b);
	imapd_cmd_ok(c, cmd, "Status completed");
}
