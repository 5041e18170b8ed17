/*
 * imapd_metadata.c: GETMETADATA and SETMETADATA (RFC 5464) on the
 * store's metadata, at server level (mailbox "") and mailbox level.
 * /private entries are the logged-in user's, /shared ones everybody's.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"

/* Does key lie within depth of entry? */
static bool
entry_covers(const char *entry, const char *key,
    enum imap_metadata_depth depth)
{
	size_t n = strlen(entry);
	const char *rest;

	if (strcmp(entry, key) == 0)
		return true;
	if (depth == IMAP_METADATA_DEPTH_0 || strncmp(entry, key, n) != 0 ||
	    key[n] != '/')
		return false;
	rest = key + n + 1;
	return depth == IMAP_METADATA_DEPTH_INFINITY ||
	    strchr(rest, '/') == NULL;
}

static void
put_value(struct mail_buf *out, const struct mail_meta *m)
{
	bool plain = m->value_len < 1024;

	for (size_t i = 0; i < m->value_len && plain; i++) {
		uint8_t ch = m->value[i];

		if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			plain = false;
	}
	if (plain) {
		mail_buf_append(out, "\"", 1);
		mail_buf_append(out, m->value, m->value_len);
		mail_buf_append(out, "\"", 1);
		return;
	}
	mail_buf_printf(out, "%s{%zu}\r\n",
	    memchr(m->value, 0, m->value_len) != NULL ? "~" : "",
	    m->value_len);
	mail_buf_append(out, m->value, m->value_len);
}

void
imapd_cmd_getmetadata(struct imapd_client *c, struct imap_cmd *cmd)
{
	const struct mail_state *st = imapd_state(c);
	const struct mail_mailbox *mb = NULL;
	const struct mail_meta *metas;
	struct mail_buf b = MAIL_BUF_INIT;
	size_t n_metas, n_found = 0;
	uint64_t longest = 0;

	if (cmd->u.getmetadata.mailbox.len > 0 &&
	    (mb = imapd_mailbox_find(c, cmd,
	    &cmd->u.getmetadata.mailbox)) == NULL)
		return;
	metas = mb != NULL ? mb->meta : st->meta;
	n_metas = mb != NULL ? mb->n_meta : st->n_meta;
	mail_buf_append_str(&b, "* METADATA ");
	if (mb != NULL)
		imapd_put_mailbox(c, &b, mb->name);
	else
		mail_buf_append_str(&b, "\"\"");
	mail_buf_append_str(&b, " (");
	for (size_t e = 0; e < cmd->u.getmetadata.n_entries; e++) {
		struct mail_err err;
		char *entry = mail_metadata_key_normalize(
		    cmd->u.getmetadata.entries[e].data, &err);

		if (entry == NULL) {
			mail_buf_free(&b);
			imapd_cmd_reply(c, cmd, "BAD", "%s", err.msg);
			return;
		}
		for (size_t i = 0; i < n_metas; i++) {
			const struct mail_meta *m = &metas[i];
			bool private = strncmp(m->key, "/private/", 9) == 0;

			if (!m->has_value || m->uid != 0 ||
			    !entry_covers(entry, m->key,
			    cmd->u.getmetadata.depth) ||
			    (private && strcmp(m->user, c->user->name) != 0))
				continue;
			if (cmd->u.getmetadata.has_maxsize &&
			    m->value_len > cmd->u.getmetadata.maxsize) {
				if (m->value_len > longest)
					longest = m->value_len;
				continue;
			}
			if (n_found++ > 0)
				mail_buf_append(&b, " ", 1);
			mail_buf_append_str(&b, m->key);
			mail_buf_append(&b, " ", 1);
			put_value(&b, m);
		}
		free(entry);
	}
	mail_buf_append_str(&b, ")\r\n");
	if (n_found > 0)
		imapd_client_write(c, b.data, b.len);
	mail_buf_free(&b);
	if (longest > 0)
		imapd_cmd_ok(c, cmd, "[METADATA LONGENTRIES %" PRIu64 "] "
		    "Getmetadata completed", longest);
	else
		imapd_cmd_ok(c, cmd, "Getmetadata completed");
}

void
imapd_cmd_setmetadata(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct mail_mailbox *mb = NULL;
	struct mail_txn *t;
	struct mail_err err;
	char *name = NULL;

	if (cmd->u.setmetadata.mailbox.len > 0) {
		name = imapd_mailbox_arg(c, cmd->tag,
		    &cmd->u.setmetadata.mailbox);
		if (name == NULL) {
			imapd_client_cmd_done(c);
			return;
		}
	}
	if (imapd_txn_begin(c, &t, &err) < 0)
		goto fail;
	if (name != NULL) {
		mb = mail_state_mailbox_by_name(imapd_state(c), name);
		if (mb == NULL) {
			mail_txn_rollback(&t);
			free(name);
			imapd_cmd_reply(c, cmd, "NO", "[NONEXISTENT] Mailbox "
			    "does not exist");
			return;
		}
	}
	for (size_t i = 0; i < cmd->u.setmetadata.n_entries; i++) {
		const struct imap_metadata_entry *e =
		    &cmd->u.setmetadata.entries[i];

		if (e->value.data != NULL &&
		    e->value.len > MAIL_METADATA_VALUE_MAX) {
			mail_txn_rollback(&t);
			free(name);
			imapd_cmd_reply(c, cmd, "NO", "[METADATA MAXSIZE %u] "
			    "Value too long", MAIL_METADATA_VALUE_MAX);
			return;
		}
		if (mail_op_metadata(t, mb, 0, c->user->name, e->name.data,
		    e->value.data, e->value.len, &err) < 0) {
			mail_txn_rollback(&t);
			goto fail;
		}
		if (name != NULL)
			mb = mail_state_mailbox_by_name(imapd_state(c), name);
	}
	if (imapd_txn_commit(c, &t, &err) < 0)
		goto fail;
	free(name);
	imapd_cmd_ok(c, cmd, "Setmetadata completed");
	return;
fail:
	free(name);
	if (err.code == MAIL_ERR_PARAM)
		imapd_client_reply(c, cmd->tag, "BAD", "%s", err.msg);
	else
		imapd_reply_err(c, cmd->tag, &err);
	imapd_client_cmd_done(c);
}
