/*
 * imapd_fetch.c: FETCH and UID FETCH (RFC 9051 6.4.5), with BINARY (RFC
 * 3516), CONDSTORE's MODSEQ and CHANGEDSINCE, QRESYNC's VANISHED
 * modifier (RFC 7162) and SAVEDATE (RFC 8514).
 *
 * A FETCH produces its output message by message and pauses whenever
 * the client has not read enough of it (c->resume), so fetching a whole
 * big mailbox holds one message and a bounded output queue in memory.
 * Messages are parsed (MIME) only when an item needs the structure.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imapd.h"
#include "log.h"
#include "mail_mime.h"

#define FETCH_PAUSE_AT	(128 * 1024)	/* output queued: let it drain */

struct fetch {
	struct mail_uidset uids;	/* what to fetch, in the view */
	size_t	 range;			/* next position in uids */
	uint32_t next;
	bool	 add_flags;		/* \Seen was set: send FLAGS too */
	bool	 add_modseq;
	bool	 expunged;		/* some were gone */
	struct mail_buf raw;		/* the current message */
	struct mail_buf out;
};

static void
put_date(struct mail_buf *out, int64_t t)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	mail_buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* The section spec as text: "1.2.HEADER", "TEXT", "". Fields are not
 * included (the caller filters them itself). */
static void
section_spec(const struct imap_section *s, bool for_range, struct mail_buf *b)
{
	for (size_t i = 0; i < s->n_parts; i++)
		mail_buf_printf(b, "%s%u", i > 0 ? "." : "", s->parts[i]);
	if (s->text == IMAP_SECTION_NONE)
		return;
	if (s->n_parts > 0)
		mail_buf_append(b, ".", 1);
	switch (s->text) {
	case IMAP_SECTION_HEADER:
		mail_buf_append_str(b, "HEADER");
		break;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		if (for_range) {
			mail_buf_append_str(b, "HEADER");
			break;
		}
		mail_buf_append_str(b, s->text == IMAP_SECTION_HEADER_FIELDS ?
		    "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
		for (size_t i = 0; i < s->n_fields; i++) {
			if (i > 0)
				mail_buf_append(b, " ", 1);
			imapd_put_string(b, s->fields[i].data,
			    s->fields[i].len);
		}
		mail_buf_append(b, ")", 1);
		break;
	case IMAP_SECTION_TEXT:
		mail_buf_append_str(b, "TEXT");
		break;
	case IMAP_SECTION_MIME:
		mail_buf_append_str(b, "MIME");
		break;
	case IMAP_SECTION_NONE:
		break;
	}
}

/* Append "{n}\r\n" + data, clipped to the partial window. */
static void
put_literal_window(struct mail_buf *out, const struct imap_fetch_item *it,
    const uint8_t *p, size_t n, bool binary)
{
	size_t off = 0, len = n;
	bool nul = false;

	if (it->partial) {
		off = it->offset < n ? (size_t)it->offset : n;
		len = n - off;
		if (it->count < len)
			len = (size_t)it->count;
	}
	if (binary)
		nul = memchr(p + off, 0, len) != NULL;
	mail_buf_printf(out, "%s{%zu}\r\n", nul ? "~" : "", len);
	mail_buf_append(out, p + off, len);
}

/* The byte range of it's section in msg; false if this message has no
 * such section (it is then sent empty, as Dovecot does). */
static bool
section_find(const uint8_t *msg, const struct mail_mime_part *root,
    const struct imap_fetch_item *it, struct mail_mime_section *sec_r)
{
	struct mail_buf spec = MAIL_BUF_INIT;
	struct mail_err err;
	int r;

	section_spec(&it->section, true, &spec);
	mail_buf_append(&spec, "", 1);
	r = mail_mime_section(msg, root, (const char *)spec.data, sec_r, &err);
	mail_buf_free(&spec);
	return r == 0;
}

/* The bytes of a BODY[section] as IMAP sends them (CRLF line ends) into
 * tmp. Returns false if the section does not exist in this message. */
static bool
section_bytes(const uint8_t *msg, const struct mail_mime_part *root,
    const struct imap_fetch_item *it, struct mail_buf *tmp)
{
	struct mail_mime_section sec;

	if (!section_find(msg, root, it, &sec))
		return false;
	if (it->section.text == IMAP_SECTION_HEADER_FIELDS ||
	    it->section.text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		const char **names = mail_xcalloc(it->section.n_fields + 1,
		    sizeof(*names));

		for (size_t i = 0; i < it->section.n_fields; i++)
			names[i] = it->section.fields[i].data;
		mail_mime_header_fields(msg, sec.offset, sec.size, names,
		    it->section.n_fields,
		    it->section.text == IMAP_SECTION_HEADER_FIELDS_NOT, tmp);
		free(names);
		return true;
	}
	mail_mime_append_crlf(msg, sec.offset, sec.size, 0, UINT64_MAX, tmp);
	return true;
}

/* BINARY[part]: the decoded body. Returns 1, 0 (no such part), or -1
 * (unknown transfer encoding). */
static int
binary_bytes(const uint8_t *msg, const struct mail_mime_part *root,
    const struct imap_fetch_item *it, struct mail_buf *tmp)
{
	struct mail_mime_section sec;
	struct mail_err err;

	if (!section_find(msg, root, it, &sec))
		return 0;
	if (it->section.n_parts == 0) {
		/* BINARY[]: the whole message, nothing to decode */
		mail_mime_append_crlf(msg, sec.offset, sec.size, 0,
		    UINT64_MAX, tmp);
		return 1;
	}
	return mail_mime_decode_body(msg, sec.part, tmp, &err) < 0 ? -1 : 1;
}

static bool
item_needs_body(const struct imap_fetch_item *it)
{
	switch (it->att) {
	case IMAP_FETCH_FLAGS:
	case IMAP_FETCH_INTERNALDATE:
	case IMAP_FETCH_RFC822_SIZE:
	case IMAP_FETCH_UID:
	case IMAP_FETCH_MODSEQ:
	case IMAP_FETCH_SAVEDATE:
		return false;
	default:
		return true;
	}
}

static bool
item_sets_seen(const struct imap_fetch_item *it)
{
	switch (it->att) {
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_TEXT:
		return true;
	case IMAP_FETCH_BODY_SECTION:
	case IMAP_FETCH_BINARY:
		return !it->peek;
	default:
		return false;
	}
}

/* One message's FETCH response into out. Returns 0, or -1 with err when
 * its body can not be read. */
static int
fetch_one(struct imapd_client *c, struct fetch *f, const struct imap_cmd *cmd,
    const struct mail_mailbox *mb, const struct mail_msg *msg, uint32_t seq,
    struct mail_err *err)
{
	const struct imap_fetch_item *items = cmd->u.fetch.items;
	size_t n = cmd->u.fetch.n_items;
	struct mail_mime_part *root = NULL;
	struct mail_buf *out = &f->out, tmp = MAIL_BUF_INIT;
	const uint8_t *raw = NULL;
	bool need_body = false, uid_sent = false, flags_sent = false;
	bool modseq_sent = false;
	const char *sp = "";

	for (size_t i = 0; i < n; i++)
		need_body |= item_needs_body(&items[i]);
	if (need_body) {
		mail_buf_reset(&f->raw);
		if (mail_blobs_get(mail_store_blobs(c->d->store), &msg->body,
		    &f->raw, err) < 0)
			return -1;
		raw = f->raw.data != NULL ? f->raw.data : (const uint8_t *)"";
		if (mail_mime_parse(raw, f->raw.len, &root, err) < 0)
			return -1;
	}
	mail_buf_printf(out, "* %u FETCH (", seq);
#define SP() do { mail_buf_append_str(out, sp); sp = " "; } while (0)
	if (cmd->uid) {
		SP();
		mail_buf_printf(out, "UID %u", msg->uid);
		uid_sent = true;
	}
	for (size_t i = 0; i < n; i++) {
		const struct imap_fetch_item *it = &items[i];

		switch (it->att) {
		case IMAP_FETCH_UID:
			if (uid_sent)
				break;
			SP();
			mail_buf_printf(out, "UID %u", msg->uid);
			uid_sent = true;
			break;
		case IMAP_FETCH_FLAGS:
			if (flags_sent)
				break;
			SP();
			mail_buf_append_str(out, "FLAGS ");
			imapd_put_flags(c, mb, msg, out);
			flags_sent = true;
			break;
		case IMAP_FETCH_INTERNALDATE:
			SP();
			mail_buf_append_str(out, "INTERNALDATE ");
			put_date(out, msg->idate);
			break;
		case IMAP_FETCH_SAVEDATE:
			SP();
			mail_buf_append_str(out, "SAVEDATE ");
			if (msg->sdate != 0)
				put_date(out, msg->sdate);
			else
				mail_buf_append_str(out, "NIL");
			break;
		case IMAP_FETCH_RFC822_SIZE:
			SP();
			mail_buf_printf(out, "RFC822.SIZE %" PRIu64, msg->size);
			break;
		case IMAP_FETCH_MODSEQ:
			if (modseq_sent)
				break;
			SP();
			mail_buf_printf(out, "MODSEQ (%" PRIu64 ")",
			    msg->modseq);
			modseq_sent = true;
			break;
		case IMAP_FETCH_ENVELOPE:
			SP();
			mail_buf_append_str(out, "ENVELOPE ");
			mail_mime_envelope(raw, root, out);
			break;
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
			SP();
			mail_buf_append_str(out, it->att == IMAP_FETCH_BODY ?
			    "BODY " : "BODYSTRUCTURE ");
			mail_mime_bodystructure(raw, root,
			    (it->att == IMAP_FETCH_BODYSTRUCTURE ?
			    MAIL_MIME_BS_EXTENDED : 0) |
			    (c->rev2 ? MAIL_MIME_BS_IMAP4REV2 : 0), out);
			break;
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_HEADER:
		case IMAP_FETCH_RFC822_TEXT: {
			struct imap_fetch_item whole = *it;

			memset(&whole.section, 0, sizeof(whole.section));
			whole.section.text = it->att == IMAP_FETCH_RFC822 ?
			    IMAP_SECTION_NONE : it->att ==
			    IMAP_FETCH_RFC822_HEADER ? IMAP_SECTION_HEADER :
			    IMAP_SECTION_TEXT;
			whole.partial = false;
			mail_buf_reset(&tmp);
			(void)section_bytes(raw, root, &whole, &tmp);
			SP();
			mail_buf_append_str(out, it->att == IMAP_FETCH_RFC822 ?
			    "RFC822 " : it->att == IMAP_FETCH_RFC822_HEADER ?
			    "RFC822.HEADER " : "RFC822.TEXT ");
			put_literal_window(out, &whole, tmp.data, tmp.len,
			    false);
			break;
		}
		case IMAP_FETCH_BODY_SECTION:
			mail_buf_reset(&tmp);
			(void)section_bytes(raw, root, it, &tmp);
			SP();
			mail_buf_append_str(out, "BODY[");
			section_spec(&it->section, false, out);
			mail_buf_append_str(out, "]");
			if (it->partial)
				mail_buf_printf(out, "<%" PRIu64 ">",
				    it->offset);
			mail_buf_append(out, " ", 1);
			put_literal_window(out, it, tmp.data, tmp.len, false);
			break;
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE: {
			int r;

			mail_buf_reset(&tmp);
			r = binary_bytes(raw, root, it, &tmp);
			if (r < 0) {
				mail_buf_free(&tmp);
				mail_mime_free(&root);
				return mail_err_set(err, MAIL_ERR_PARAM,
				    "[UNKNOWN-CTE] Unknown "
				    "Content-Transfer-Encoding");
			}
			SP();
			mail_buf_append_str(out, it->att == IMAP_FETCH_BINARY ?
			    "BINARY[" : "BINARY.SIZE[");
			section_spec(&it->section, false, out);
			mail_buf_append_str(out, "]");
			if (it->att == IMAP_FETCH_BINARY_SIZE) {
				mail_buf_printf(out, " %zu", tmp.len);
				break;
			}
			if (it->partial)
				mail_buf_printf(out, "<%" PRIu64 ">",
				    it->offset);
			mail_buf_append(out, " ", 1);
			put_literal_window(out, it, tmp.data, tmp.len, true);
			break;
		}
		}
	}
	if (f->add_flags && !flags_sent) {
		SP();
		mail_buf_append_str(out, "FLAGS ");
		imapd_put_flags(c, mb, msg, out);
	}
	if (f->add_modseq && !modseq_sent) {
		SP();
		mail_buf_printf(out, "MODSEQ (%" PRIu64 ")", msg->modseq);
	}
#undef SP
	mail_buf_append_str(out, ")\r\n");
	mail_buf_free(&tmp);
	mail_mime_free(&root);
	return 0;
}

static void
fetch_free(struct imapd_client *c)
{
	struct fetch *f = c->resume_ctx;

	if (f == NULL)
		return;
	mail_uidset_free(&f->uids);
	mail_buf_free(&f->raw);
	mail_buf_free(&f->out);
	free(f);
	c->resume_ctx = NULL;
	c->resume = NULL;
	c->resume_free = NULL;
}

/* Produce responses until done or the output queue is full. */
static void
fetch_run(struct imapd_client *c)
{
	struct fetch *f = c->resume_ctx;
	struct imap_cmd *cmd = c->cmd;
	struct mail_mailbox *mb = imapd_view_mailbox(c);
	struct mail_err err;

	while (mb != NULL && f->range < f->uids.n) {
		const struct mail_uid_range *r = &f->uids.r[f->range];
		const struct mail_msg *msg;
		uint32_t uid = f->next < r->lo ? r->lo : f->next;

		if (imap_conn_output_pending(c->conn) >= FETCH_PAUSE_AT) {
			c->resume = fetch_run;
			imapd_client_set_input(c, IMAPD_IN_NONE);
			return;
		}
		if (uid == r->hi) {
			f->range++;
			f->next = 0;
		} else {
			f->next = uid + 1;
		}
		msg = mail_mailbox_msg(mb, uid);
		if (msg == NULL) {
			f->expunged = true;
			continue;
		}
		if (cmd->u.fetch.has_changedsince &&
		    msg->modseq <= cmd->u.fetch.changedsince)
			continue;
		mail_buf_reset(&f->out);
		if (fetch_one(c, f, cmd, mb, msg, imapd_view_seq(c->view, uid),
		    &err) < 0) {
			if (err.code == MAIL_ERR_PARAM) {
				imapd_cmd_reply(c, cmd, "NO", "%s", err.msg);
			} else {
				log_error("user \"%s\": message UID %u: %s",
				    c->user->name, uid, err.msg);
				imapd_reply_err(c, cmd->tag, &err);
				imapd_client_cmd_done(c);
			}
			fetch_free(c);
			imapd_client_set_input(c, IMAPD_IN_COMMAND);
			return;
		}
		imapd_client_write(c, f->out.data, f->out.len);
	}
	if (f->expunged)
		imapd_cmd_ok(c, cmd, "[EXPUNGEISSUED] Some messages were "
		    "expunged");
	else
		imapd_cmd_ok(c, cmd, "Fetch completed");
	fetch_free(c);
	imapd_client_set_input(c, IMAPD_IN_COMMAND);
}

/* Set \Seen on the messages a non-peek item reads (before answering, so
 * the responses show the new flags). */
static int
fetch_set_seen(struct imapd_client *c, struct fetch *f, struct mail_err *err)
{
	struct mail_flag_list fl = { MAIL_SEEN, NULL, 0, 0 };
	struct mail_uidset unseen = MAIL_UIDSET_INIT;
	struct mail_mailbox *mb;
	struct mail_txn *t;
	int ret = 0;

	mb = imapd_view_mailbox(c);
	for (size_t i = 0; mb != NULL && i < f->uids.n; i++) {
		for (uint32_t u = f->uids.r[i].lo;; u++) {
			const struct mail_msg *m = mail_mailbox_msg(mb, u);

			if (m != NULL && (mail_mailbox_view_flags(mb, m,
			    c->user->name, true) & MAIL_SEEN) == 0)
				mail_uidset_add(&unseen, u, u);
			if (u == f->uids.r[i].hi)
				break;
		}
	}
	if (unseen.n == 0)
		return 0;
	if (imapd_txn_begin(c, &t, err) < 0) {
		mail_uidset_free(&unseen);
		return -1;
	}
	mb = imapd_view_mailbox(c);
	if (mb == NULL || mail_op_flags(t, mb, &unseen, MAIL_FLAGS_ADD, &fl,
	    c->user->name, err) < 0) {
		mail_txn_rollback(&t);
		ret = mb == NULL ? 0 : -1;
	} else {
		uint64_t modseq = mail_txn_modseq(t);

		ret = imapd_txn_commit(c, &t, err);
		f->add_flags = true;
		c->own_modseq = modseq;
	}
	mail_uidset_free(&unseen);
	return ret;
}

void
imapd_cmd_fetch(struct imapd_client *c, struct imap_cmd *cmd)
{
	struct fetch *f;
	struct mail_err err;
	bool seen = false;

	f = mail_xcalloc(1, sizeof(*f));
	if (!imapd_view_resolve(c, &cmd->u.fetch.set, cmd->uid, &f->uids)) {
		mail_uidset_free(&f->uids);
		free(f);
		imapd_cmd_reply(c, cmd, "BAD", "Invalid sequence number");
		return;
	}
	for (size_t i = 0; i < cmd->u.fetch.n_items; i++) {
		seen |= item_sets_seen(&cmd->u.fetch.items[i]);
		if (cmd->u.fetch.items[i].att == IMAP_FETCH_MODSEQ)
			c->condstore = true;
	}
	if (cmd->u.fetch.has_changedsince) {
		c->condstore = true;
		f->add_modseq = true;
	}
	if (cmd->u.fetch.vanished) {
		struct mail_mailbox *mb = imapd_view_mailbox(c);
		struct mail_uidset v = MAIL_UIDSET_INIT;
		struct mail_buf b = MAIL_BUF_INIT;

		if (!c->qresync || !cmd->uid || !cmd->u.fetch.has_changedsince) {
			mail_uidset_free(&f->uids);
			free(f);
			imapd_cmd_reply(c, cmd, "BAD", "VANISHED needs QRESYNC "
			    "enabled, UID FETCH and CHANGEDSINCE");
			return;
		}
		for (size_t i = 0; mb != NULL && i < cmd->u.fetch.set.n; i++) {
			uint32_t lo = cmd->u.fetch.set.r[i].lo;
			uint32_t hi = cmd->u.fetch.set.r[i].hi;

			if (lo == 0)
				lo = mb->uidnext > 1 ? mb->uidnext - 1 : 1;
			if (hi == 0)
				hi = mb->uidnext > 1 ? mb->uidnext - 1 : 1;
			if (lo > hi) {
				uint32_t t = lo;

				lo = hi;
				hi = t;
			}
			for (size_t j = 0; j < mb->gone.n; j++) {
				uint32_t a = mb->gone.r[j].lo;
				uint32_t z = mb->gone.r[j].hi;

				if (z >= lo && a <= hi)
					mail_uidset_add(&v, a > lo ? a : lo,
					    z < hi ? z : hi);
			}
		}
		if (v.n > 0) {
			mail_buf_append_str(&b, "* VANISHED (EARLIER) ");
			mail_uidset_format(&v, &b);
			mail_buf_append_str(&b, "\r\n");
			imapd_client_write(c, b.data, b.len);
		}
		mail_buf_free(&b);
		mail_uidset_free(&v);
	}
	if (seen && !c->view->readonly && fetch_set_seen(c, f, &err) < 0) {
		mail_uidset_free(&f->uids);
		free(f);
		imapd_reply_err(c, cmd->tag, &err);
		imapd_client_cmd_done(c);
		return;
	}
	c->resume_ctx = f;
	c->resume_free = fetch_free;
	fetch_run(c);
}
