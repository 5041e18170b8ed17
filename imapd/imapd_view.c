/*
 * imapd_view.c: the selected mailbox as one session sees it, and the
 * untagged responses that bring the session up to date.
 *
 * The session's messages are kept as UID ranges: sequence number i is
 * the i-th UID of the ranges. The store's state (shared by every
 * session of the user) moves on when anyone changes the mailbox; a report
 * compares the view with it. Messages that are gone leave the view only
 * when the session may hear EXPUNGE (RFC 9051 7.5.1: not during FETCH,
 * STORE or SEARCH, nor between commands), so sequence numbers never
 * change under a client's feet. New messages join at the end, in UID
 * order; one that a replication would place below the view's highest UID
 * stays out of sight until the next SELECT, as sequence numbers must
 * grow with UIDs.
 */
#include <stdlib.h>
#include <string.h>

#include "imapd.h"
#include "log.h"

struct mail_mailbox *
imapd_view_mailbox(struct imapd_client *c)
{
	if (c->view == NULL || c->view->gone)
		return NULL;
	return mail_state_mailbox_by_guid(imapd_state(c), &c->view->guid);
}

static uint32_t
view_max_uid(const struct imapd_view *v)
{
	return v->uids.n == 0 ? 0 : v->uids.r[v->uids.n - 1].hi;
}

uint32_t
imapd_view_uid(const struct imapd_view *v, uint32_t seq)
{
	uint32_t left = seq;

	for (size_t i = 0; i < v->uids.n; i++) {
		uint32_t len = v->uids.r[i].hi - v->uids.r[i].lo + 1;

		if (left <= len)
			return v->uids.r[i].lo + left - 1;
		left -= len;
	}
	return 0;
}

uint32_t
imapd_view_seq(const struct imapd_view *v, uint32_t uid)
{
	uint32_t seq = 0;

	for (size_t i = 0; i < v->uids.n; i++) {
		const struct mail_uid_range *r = &v->uids.r[i];

		if (uid < r->lo)
			return 0;
		if (uid <= r->hi)
			return seq + (uid - r->lo) + 1;
		seq += r->hi - r->lo + 1;
	}
	return 0;
}

void
imapd_put_flags(struct imapd_client *c, const struct mail_mailbox *mb,
    const struct mail_msg *msg, struct mail_buf *out)
{
	uint16_t flags = mail_mailbox_view_flags(mb, msg, c->user->name, true);
	size_t start;

	mail_buf_append(out, "(", 1);
	start = out->len;
	mail_flags_format(flags, out);
	for (size_t i = 0; i < mb->n_keywords; i++) {
		if ((msg->keywords & (1ULL << i)) == 0)
			continue;
		if (out->len > start)
			mail_buf_append(out, " ", 1);
		mail_buf_append_str(out, mb->keywords[i]);
	}
	mail_buf_append(out, ")", 1);
}

void
imapd_view_send_flags(struct imapd_client *c, const struct mail_mailbox *mb)
{
	struct mail_buf b = MAIL_BUF_INIT;

	mail_buf_append_str(&b, "* FLAGS (\\Answered \\Flagged \\Deleted "
	    "\\Seen \\Draft");
	for (size_t i = 0; i < mb->n_keywords; i++) {
		mail_buf_append(&b, " ", 1);
		mail_buf_append_str(&b, mb->keywords[i]);
	}
	mail_buf_append_str(&b, ")\r\n");
	if (c->view->readonly) {
		mail_buf_append_str(&b, "* OK [PERMANENTFLAGS ()] Read-only "
		    "mailbox\r\n");
	} else {
		mail_buf_append_str(&b, "* OK [PERMANENTFLAGS (\\Answered "
		    "\\Flagged \\Deleted \\Seen \\Draft");
		for (size_t i = 0; i < mb->n_keywords; i++) {
			mail_buf_append(&b, " ", 1);
			mail_buf_append_str(&b, mb->keywords[i]);
		}
		/* new keywords are allowed while the table has room */
		if (mb->n_keywords < MAIL_MAILBOX_MAX_KEYWORDS)
			mail_buf_append_str(&b, " \\*");
		mail_buf_append_str(&b, ")] Flags permitted\r\n");
	}
	imapd_client_write(c, b.data, b.len);
	mail_buf_free(&b);
	c->view->n_keywords = mb->n_keywords;
}

void
imapd_view_open(struct imapd_client *c, struct mail_mailbox *mb,
    bool readonly)
{
	struct imapd_view *v = mail_xcalloc(1, sizeof(*v));

	v->guid = mb->guid;
	v->uidvalidity = mb->uidvalidity;
	v->readonly = readonly;
	for (size_t i = 0; i < mb->n_msgs; i++)
		mail_uidset_add(&v->uids, mb->msgs[i].uid, mb->msgs[i].uid);
	v->n = (uint32_t)mb->n_msgs;
	v->modseq = mb->highestmodseq;
	c->view = v;
	c->state = IMAPD_SELECTED;
}

void
imapd_view_close(struct imapd_client *c)
{
	if (c->view == NULL)
		return;
	mail_uidset_free(&c->view->uids);
	mail_uidset_free(&c->view->saved);
	free(c->view);
	c->view = NULL;
	c->state = IMAPD_AUTH;
}

/* Drop the view's messages that are gone from mb and tell the client. */
static void
report_expunges(struct imapd_client *c, const struct mail_mailbox *mb)
{
	struct imapd_view *v = c->view;
	struct mail_uidset keep = MAIL_UIDSET_INIT, gone = MAIL_UIDSET_INIT;
	uint32_t *seqs = NULL;
	size_t n_seqs = 0, cap = 0;
	uint32_t seq = 0;

	for (size_t i = 0; i < v->uids.n; i++) {
		for (uint32_t uid = v->uids.r[i].lo;; uid++) {
			seq++;
			if (mail_mailbox_msg(mb, uid) != NULL) {
				mail_uidset_add(&keep, uid, uid);
			} else {
				mail_uidset_add(&gone, uid, uid);
				seqs = mail_xgrow(seqs, &cap, n_seqs + 1,
				    sizeof(*seqs));
				seqs[n_seqs++] = seq;
			}
			if (uid == v->uids.r[i].hi)
				break;
		}
	}
	if (n_seqs > 0) {
		if (c->qresync) {
			struct mail_buf b = MAIL_BUF_INIT;

			mail_buf_append_str(&b, "* VANISHED ");
			mail_uidset_format(&gone, &b);
			mail_buf_append_str(&b, "\r\n");
			imapd_client_write(c, b.data, b.len);
			mail_buf_free(&b);
		} else {
			/* highest first: each EXPUNGE renumbers those above
			 * it, and there are none left above */
			for (size_t i = n_seqs; i-- > 0;)
				imapd_client_printf(c, "* %u EXPUNGE\r\n",
				    seqs[i]);
		}
		mail_uidset_free(&v->uids);
		v->uids = keep;
		v->n -= (uint32_t)n_seqs;
	} else {
		mail_uidset_free(&keep);
	}
	mail_uidset_free(&gone);
	free(seqs);
}

void
imapd_view_report(struct imapd_client *c, bool expunges)
{
	struct imapd_view *v = c->view;
	struct mail_mailbox *mb;
	struct mail_buf b = MAIL_BUF_INIT;
	uint32_t old_max, n_new = 0;
	size_t i;

	if (v == NULL || v->gone)
		return;
	mb = imapd_view_mailbox(c);
	if (mb == NULL) {
		/* deleted by someone else: there is nothing to go on with */
		v->gone = true;
		imapd_client_bye(c, "Selected mailbox was deleted");
		return;
	}
	if (mb->highestmodseq == v->modseq && mb->n_keywords == v->n_keywords
	    && !(expunges && v->maybe_gone))
		return;
	if (expunges) {
		report_expunges(c, mb);
		v->maybe_gone = false;
	} else if (mb->highestmodseq != v->modseq) {
		v->maybe_gone = true;	/* look at the next chance */
	}
	if (mb->n_keywords != v->n_keywords)
		imapd_view_send_flags(c, mb);

	/* flag changes of the messages the client knows */
	old_max = view_max_uid(v);
	for (i = 0; i < mb->n_msgs && mb->msgs[i].uid <= old_max; i++) {
		const struct mail_msg *msg = &mb->msgs[i];
		uint32_t seq;

		if (msg->modseq <= v->modseq || msg->modseq == c->own_modseq)
			continue;
		seq = imapd_view_seq(v, msg->uid);
		if (seq == 0)
			continue;
		mail_buf_reset(&b);
		mail_buf_printf(&b, "* %u FETCH (FLAGS ", seq);
		imapd_put_flags(c, mb, msg, &b);
		if (c->qresync)
			mail_buf_printf(&b, " UID %u", msg->uid);
		if (c->condstore)
			mail_buf_printf(&b, " MODSEQ (%" PRIu64 ")",
			    msg->modseq);
		mail_buf_append_str(&b, ")\r\n");
		imapd_client_write(c, b.data, b.len);
	}
	/* new messages, in UID order above what the client knows */
	for (; i < mb->n_msgs; i++) {
		if (mb->msgs[i].uid > old_max) {
			mail_uidset_add(&v->uids, mb->msgs[i].uid,
			    mb->msgs[i].uid);
			n_new++;
		}
	}
	if (n_new > 0) {
		v->n += n_new;
		imapd_client_printf(c, "* %u EXISTS\r\n", v->n);
	}
	v->modseq = mb->highestmodseq;
	mail_buf_free(&b);
}

bool
imapd_view_resolve(struct imapd_client *c, const struct imap_seqset *set,
    bool uid, struct mail_uidset *uids_r)
{
	struct imapd_view *v = c->view;

	if (set->saved) {
		/* "$": the saved UIDs still in the view */
		for (size_t i = 0; i < v->saved.n; i++) {
			for (uint32_t u = v->saved.r[i].lo;; u++) {
				if (imapd_view_seq(v, u) != 0)
					mail_uidset_add(uids_r, u, u);
				if (u == v->saved.r[i].hi)
					break;
			}
		}
		return true;
	}
	if (uid) {
		uint32_t star = view_max_uid(v);

		for (size_t i = 0; i < set->n; i++) {
			uint32_t lo = set->r[i].lo == 0 ? star : set->r[i].lo;
			uint32_t hi = set->r[i].hi == 0 ? star : set->r[i].hi;

			if (lo == 0 && hi == 0)
				continue;	/* '*' in an empty mailbox */
			if (lo > hi) {
				uint32_t t = lo;

				lo = hi;
				hi = t;
			}
			if (lo == 0)
				lo = 1;
			/* intersect with the view, range by range */
			for (size_t j = 0; j < v->uids.n; j++) {
				uint32_t a = v->uids.r[j].lo, z = v->uids.r[j].hi;

				if (z < lo || a > hi)
					continue;
				mail_uidset_add(uids_r, a > lo ? a : lo,
				    z < hi ? z : hi);
			}
		}
		return true;
	}
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo == 0 ? v->n : set->r[i].lo;
		uint32_t hi = set->r[i].hi == 0 ? v->n : set->r[i].hi;

		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (lo == 0 || hi > v->n)
			return false;
		for (uint32_t s = lo;; s++) {
			uint32_t u = imapd_view_uid(v, s);

			mail_uidset_add(uids_r, u, u);
			if (s == hi)
				break;
		}
	}
	return true;
}
