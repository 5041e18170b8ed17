/*
 * imapd_search.c: SEARCH (with ESEARCH RETURN options, RFC 4731, and
 * SEARCHRES's SAVE, RFC 5182), SORT and THREAD (RFC 5256) on the
 * selected mailbox. The matching, ordering and threading themselves are
 * imap_search, imap_sort and imap_thread (libimapd); this file feeds them
 * the session's messages and writes the responses.
 *
 * Bodies are read only when a key needs them, one message at a time.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imapd.h"
#include "imap_search.h"
#include "imap_sort.h"
#include "imap_thread.h"
#include "log.h"

struct search_ctx {
	struct imapd_client *c;
	const struct mail_mailbox *mb;
	struct mail_buf raw;		/* the body of raw_uid */
	uint32_t raw_uid;
	bool	 headers_only;		/* no key reads the body: read
					 * only the header sections */
	struct imap_msg_info *infos;	/* the view's live messages */
	const char **kw;		/* keyword pointers of all infos */
	size_t	 n;
};

static int
body_fn(void *ctx, uint32_t uid, const uint8_t **data_r, size_t *len_r,
    struct mail_err *err)
{
	struct search_ctx *s = ctx;
	const struct mail_msg *msg;

	if (s->raw_uid != uid || s->raw.data == NULL) {
		msg = mail_mailbox_msg(s->mb, uid);
		if (msg == NULL)
			return mail_err_set(err, MAIL_ERR_NOTFOUND,
			    "message UID %u is gone", uid);
		mail_buf_reset(&s->raw);
		if ((s->headers_only ? mail_blobs_get_header :
		    mail_blobs_get)(mail_store_blobs(s->c->d->store),
		    &msg->body, &s->raw, err) < 0)
			return -1;
		mail_buf_append(&s->raw, "", 1);	/* never NULL */
		s->raw.len--;
		s->raw_uid = uid;
	}
	*data_r = s->raw.data;
	*len_r = s->raw.len;
	return 0;
}

/* Collect what the search modules need of every message the session
 * sees (live ones; gone ones are skipped). */
static void
collect(struct search_ctx *s)
{
	struct imapd_client *c = s->c;
	const struct mail_mailbox *mb = s->mb;
	const struct imapd_view *v = c->view;
	size_t n_kw = 0, k = 0;
	uint32_t seq = 0;

	s->infos = mail_xcalloc(v->n + 1, sizeof(*s->infos));
	for (size_t i = 0; i < mb->n_msgs; i++)
		n_kw += (size_t)__builtin_popcountll(mb->msgs[i].keywords);
	s->kw = mail_xcalloc(n_kw + 1, sizeof(*s->kw));
	for (size_t r = 0; r < v->uids.n; r++) {
		for (uint32_t uid = v->uids.r[r].lo;; uid++) {
			const struct mail_msg *m = mail_mailbox_msg(mb, uid);

			seq++;
			if (m != NULL) {
				struct imap_msg_info *in = &s->infos[s->n++];

				in->seq = seq;
				in->uid = uid;
				in->flags = mail_mailbox_view_flags(mb, m,
				    c->user->name, true);
				in->keywords = &s->kw[k];
				for (size_t b = 0; b < mb->n_keywords; b++) {
					if (m->keywords & (1ULL << b))
						s->kw[k++] = mb->keywords[b];
				}
				in->n_keywords = (size_t)(&s->kw[k] -
				    in->keywords);
				in->idate = m->idate;
				in->sdate = m->sdate;
				in->size = m->size;
				in->modseq = m->modseq;
			}
			if (uid == v->uids.r[r].hi)
				break;
		}
	}
}

static void
ctx_free(struct search_ctx *s)
{
	mail_buf_free(&s->raw);
	free(s->infos);
	free(s->kw);
}

static void
env_init(struct search_ctx *s, struct imap_search_env *env)
{
	const struct imapd_view *v = s->c->view;

	memset(env, 0, sizeof(*env));
	env->max_seq = v->n;
	env->max_uid = v->uids.n > 0 ? v->uids.r[v->uids.n - 1].hi : 0;
	env->saved = &v->saved;
	env->now = (int64_t)time(NULL);
	env->body = body_fn;
	env->body_ctx = s;
}

/* Does the key tree use MODSEQ (the response then carries the highest
 * modseq, RFC 7162 3.1.5)? */
static bool
uses_modseq(const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->type == IMAP_SK_MODSEQ || uses_modseq(k->child))
			return true;
	}
	return false;
}

/* Does any key read the body (BODY, TEXT)? The others that need the
 * message read header fields only (SORT and THREAD too). */
static bool
reads_body(const struct imap_search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->type == IMAP_SK_BODY || k->type == IMAP_SK_TEXT ||
		    reads_body(k->child))
			return true;
	}
	return false;
}

/* Start a search-like command: the charset, the mailbox, the messages.
 * Returns false after answering. */
static bool
search_begin(struct imapd_client *c, struct imap_cmd *cmd,
    const struct imap_search *search, struct search_ctx *s)
{
	struct mail_err err;

	memset(s, 0, sizeof(*s));
	s->c = c;
	if (imap_search_charset_check(search->charset, &err) < 0) {
		imapd_cmd_reply(c, cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] "
		    "%s", err.msg);
		return false;
	}
	s->mb = imapd_view_mailbox(c);
	if (s->mb == NULL) {
		imapd_cmd_reply(c, cmd, "NO", "Mailbox was deleted");
		return false;
	}
	if (uses_modseq(search->keys))
		c->condstore = true;
	s->headers_only = !reads_body(search->keys);
	collect(s);
	return true;
}

/* Which of s->infos match: their indexes into *idx_r. Returns 0 or -1
 * (answered). */
static int
search_run(struct imapd_client *c, struct imap_cmd *cmd,
    const struct imap_search *search, struct search_ctx *s, size_t **idx_r,
    size_t *n_r)
{
	struct imap_search_env env;
	struct mail_err err;
	size_t *idx = mail_xcalloc(s->n + 1, sizeof(*idx)), n = 0;

	env_init(s, &env);
	for (size_t i = 0; i < s->n; i++) {
		bool match;

		if (imap_search_match(search->keys, &env, &s->infos[i], &match,
		    &err) < 0) {
			free(idx);
			imapd_reply_err(c, cmd->tag, &err);
			imapd_client_cmd_done(c);
			return -1;
		}
		if (match)
			idx[n++] = i;
	}
	*idx_r = idx;
	*n_r = n;
	return 0;
}

void
imapd_cmd_search(struct imapd_client *c, struct imap_cmd *cmd)
{
	const struct imap_search *search = &cmd->u.search;
	struct search_ctx s;
	struct mail_uidset set = MAIL_UIDSET_INIT;
	struct mail_buf b = MAIL_BUF_INIT;
	uint64_t max_modseq = 0;
	size_t *idx, n;
	unsigned ret = search->ret;
	bool esearch = search->has_return || c->rev2;

	if (!search_begin(c, cmd, search, &s))
		return;
	if (search_run(c, cmd, search, &s, &idx, &n) < 0) {
		ctx_free(&s);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct imap_msg_info *in = &s.infos[idx[i]];

		if (in->modseq > max_modseq)
			max_modseq = in->modseq;
	}
	if (search->has_return && ret == 0)
		ret = IMAP_SEARCH_RET_ALL;
	if (!search->has_return)
		ret = IMAP_SEARCH_RET_ALL;
	if (ret & IMAP_SEARCH_RET_SAVE) {
		/* "$" holds UIDs, so it survives expunges of others. With
		 * MIN and/or MAX alone it is only those (RFC 5182 2.4). */
		bool minmax_only = (ret & (IMAP_SEARCH_RET_MIN |
		    IMAP_SEARCH_RET_MAX)) != 0 && (ret &
		    (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) == 0;

		mail_uidset_free(&c->view->saved);
		for (size_t i = 0; i < n; i++) {
			uint32_t u = s.infos[idx[i]].uid;

			if (minmax_only && !((i == 0 &&
			    (ret & IMAP_SEARCH_RET_MIN)) || (i == n - 1 &&
			    (ret & IMAP_SEARCH_RET_MAX))))
				continue;
			mail_uidset_add(&c->view->saved, u, u);
		}
	}
	if (!esearch) {
		mail_buf_append_str(&b, "* SEARCH");
		for (size_t i = 0; i < n; i++)
			mail_buf_printf(&b, " %u", cmd->uid ?
			    s.infos[idx[i]].uid : s.infos[idx[i]].seq);
		if (uses_modseq(search->keys) && n > 0)
			mail_buf_printf(&b, " (MODSEQ %" PRIu64 ")",
			    max_modseq);
		mail_buf_append_str(&b, "\r\n");
	} else if ((ret & ~IMAP_SEARCH_RET_SAVE) != 0) {
		mail_buf_append_str(&b, "* ESEARCH (TAG ");
		imapd_put_string(&b, cmd->tag, strlen(cmd->tag));
		mail_buf_append(&b, ")", 1);
		if (cmd->uid)
			mail_buf_append_str(&b, " UID");
		if ((ret & IMAP_SEARCH_RET_MIN) && n > 0)
			mail_buf_printf(&b, " MIN %u", cmd->uid ?
			    s.infos[idx[0]].uid : s.infos[idx[0]].seq);
		if ((ret & IMAP_SEARCH_RET_MAX) && n > 0)
			mail_buf_printf(&b, " MAX %u", cmd->uid ?
			    s.infos[idx[n - 1]].uid : s.infos[idx[n - 1]].seq);
		if (ret & IMAP_SEARCH_RET_COUNT)
			mail_buf_printf(&b, " COUNT %zu", n);
		if ((ret & IMAP_SEARCH_RET_ALL) && n > 0) {
			for (size_t i = 0; i < n; i++) {
				uint32_t v = cmd->uid ? s.infos[idx[i]].uid :
				    s.infos[idx[i]].seq;

				mail_uidset_add(&set, v, v);
			}
			mail_buf_append_str(&b, " ALL ");
			mail_uidset_format(&set, &b);
		}
		if (uses_modseq(search->keys) && n > 0)
			mail_buf_printf(&b, " MODSEQ %" PRIu64, max_modseq);
		mail_buf_append_str(&b, "\r\n");
	}
	imapd_client_write(c, b.data, b.len);
	mail_buf_free(&b);
	mail_uidset_free(&set);
	free(idx);
	ctx_free(&s);
	imapd_cmd_ok(c, cmd, "Search completed");
}

void
imapd_cmd_sort(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct search_ctx s;
	struct imap_search_env env;
	struct imap_msg_info *sel;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	size_t *idx, *order, n;

	if (!search_begin(c, cmd, &cmd->u.sort.search, &s))
		return;
	if (search_run(c, cmd, &cmd->u.sort.search, &s, &idx, &n) < 0) {
		ctx_free(&s);
		return;
	}
	sel = mail_xcalloc(n + 1, sizeof(*sel));
	for (size_t i = 0; i < n; i++)
		sel[i] = s.infos[idx[i]];
	order = mail_xcalloc(n + 1, sizeof(*order));
	env_init(&s, &env);
	if (imap_sort(cmd->u.sort.criteria, cmd->u.sort.n_criteria, sel, n,
	    &env, order, &err) < 0) {
		imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
		goto out;
	}
	mail_buf_append_str(&b, "* SORT");
	for (size_t i = 0; i < n; i++)
		mail_buf_printf(&b, " %u", cmd->uid ? sel[order[i]].uid :
		    sel[order[i]].seq);
	mail_buf_append_str(&b, "\r\n");
	imapd_client_write(c, b.data, b.len);
	imapd_cmd_ok(c, cmd, "Sort completed");
out:
	mail_buf_free(&b);
	free(order);
	free(sel);
	free(idx);
	ctx_free(&s);
}

void
imapd_cmd_thread(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct search_ctx s;
	struct imap_search_env env;
	struct imap_msg_info *sel;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;
	size_t *idx, n;

	if (!search_begin(c, cmd, &cmd->u.thread.search, &s))
		return;
	if (search_run(c, cmd, &cmd->u.thread.search, &s, &idx, &n) < 0) {
		ctx_free(&s);
		return;
	}
	sel = mail_xcalloc(n + 1, sizeof(*sel));
	for (size_t i = 0; i < n; i++)
		sel[i] = s.infos[idx[i]];
	env_init(&s, &env);
	mail_buf_append_str(&b, "* THREAD ");
	if (imap_thread(cmd->u.thread.alg, sel, n, &env, cmd->uid, &b,
	    &err) < 0) {
		imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
	} else {
		if (b.len == strlen("* THREAD "))
			b.len--;	/* no threads: "* THREAD" alone */
		mail_buf_append_str(&b, "\r\n");
		imapd_client_write(c, b.data, b.len);
		imapd_cmd_ok(c, cmd, "Thread completed");
	}
	mail_buf_free(&b);
	free(sel);
	free(idx);
	ctx_free(&s);
}
