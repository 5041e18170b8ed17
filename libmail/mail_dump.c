/*
 * mail_dump.c: canonical dump text. Format, one item per line, sorted:
 *
 *   user NAME
 *   subscribed "NAME"
 *   meta server USER "KEY" "VALUE"
 *   mailbox "NAME" guid G uidvalidity N uidnext N special-use X
 *       private-flags (...)
 *     acl "IDENTIFIER" RIGHTS
 *     meta mailbox USER "KEY" "VALUE"
 *     msg UID guid G instance NODE:HLC flags (...) keywords (...)
 *         idate N sdate N size N body H
 *     pvt USER UID (...)
 *     meta msg UID USER "KEY" "VALUE"
 *
 * (msg and mailbox lines are single lines; USER is "-" for /shared keys.)
 * Keywords are printed by name, sorted, so the per-mailbox keyword table
 * order, which differs between nodes, does not show.
 *
 * MAIL_DUMP_CLOCKS adds " clock HLC:NODE" (hex) to subscribed, meta, acl
 * and pvt lines, "deleted 0|1 clocks name H:N create H:N special-use H:N
 * private-flags H:N [merged-into GUID]" to mailbox lines and "uid-clock
 * H:N flags-clock H:N" to msg lines; prints deleted mailboxes,
 * unsubscribed names ("unsubscribed "NAME" clock H:N"), removed metadata (value "-") and
 * ACL entries (rights "-"), all private flag entries; and after a
 * mailbox's messages its tombstones and used UIDs:
 *
 *     tomb guid G instance NODE:HLC
 *     gone UIDSET
 *
 * MAIL_DUMP_LOCAL adds " modseq N" to msg, pvt, meta and tomb lines,
 * " highestmodseq N" to mailbox lines, and a "state modseq N hlc N
 * last-uidvalidity N" line after the user line.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "mail_dump.h"

void
mail_dump_quote(struct mail_buf *out, const void *sv, size_t n)
{
	const unsigned char *s = sv;

	mail_buf_append(out, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '\\' || c == '"')
			mail_buf_printf(out, "\\%c", c);
		else if (c == '\n')
			mail_buf_append_str(out, "\\n");
		else if (c == '\r')
			mail_buf_append_str(out, "\\r");
		else if (c == '\t')
			mail_buf_append_str(out, "\\t");
		else if (c < 0x20 || c == 0x7f)
			mail_buf_printf(out, "\\x%02x", c);
		else
			mail_buf_append(out, &c, 1);	/* UTF-8 passes */
	}
	mail_buf_append(out, "\"", 1);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_mailbox(const void *a, const void *b)
{
	const struct mail_mailbox *x = *(struct mail_mailbox *const *)a;
	const struct mail_mailbox *y = *(struct mail_mailbox *const *)b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : mail_guid_cmp(&x->guid, &y->guid);
}

static int
cmp_meta(const void *a, const void *b)
{
	const struct mail_meta *x = *(struct mail_meta *const *)a;
	const struct mail_meta *y = *(struct mail_meta *const *)b;
	int c;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	if ((c = strcmp(x->user, y->user)) != 0)
		return c;
	return strcmp(x->key, y->key);
}

static void
put_clock(struct mail_buf *out, const char *what, uint64_t hlc, uint64_t node)
{
	mail_buf_printf(out, " %s %" PRIx64 ":%" PRIx64, what, hlc, node);
}

static void
dump_meta(struct mail_buf *out, const char *indent, const char *level,
    const struct mail_meta *m, size_t n, unsigned flags)
{
	const struct mail_meta **v = mail_xcalloc(n, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (m[i].has_value || (flags & MAIL_DUMP_CLOCKS))
			v[k++] = &m[i];
	}
	mail_qsort(v, k, sizeof(*v), cmp_meta);
	for (size_t i = 0; i < k; i++) {
		mail_buf_printf(out, "%smeta %s ", indent, level);
		if (v[i]->uid != 0)
			mail_buf_printf(out, "%u ", v[i]->uid);
		mail_buf_printf(out, "%s ", v[i]->user[0] != '\0' ?
		    v[i]->user : "-");
		mail_dump_quote(out, v[i]->key, strlen(v[i]->key));
		mail_buf_append(out, " ", 1);
		if (v[i]->has_value)
			mail_dump_quote(out, v[i]->value, v[i]->value_len);
		else
			mail_buf_append(out, "-", 1);
		if (flags & MAIL_DUMP_CLOCKS)
			put_clock(out, "clock", v[i]->hlc, v[i]->node);
		if (flags & MAIL_DUMP_LOCAL)
			mail_buf_printf(out, " modseq %" PRIu64, v[i]->modseq);
		mail_buf_append(out, "\n", 1);
	}
	free(v);
}

static void
dump_keywords(struct mail_buf *out, const struct mail_mailbox *mb,
    uint64_t mask)
{
	const char *names[MAIL_MAILBOX_MAX_KEYWORDS];
	size_t n = 0;

	for (size_t k = 0; k < mb->n_keywords; k++) {
		if (mask & ((uint64_t)1 << k))
			names[n++] = mb->keywords[k];
	}
	mail_qsort(names, n, sizeof(names[0]), cmp_str);
	mail_buf_append_str(out, "(");
	for (size_t i = 0; i < n; i++)
		mail_buf_printf(out, "%s%s", i > 0 ? " " : "", names[i]);
	mail_buf_append_str(out, ")");
}

static int
cmp_pvt_user(const void *a, const void *b)
{
	return strcmp(((const struct mail_pvt_user *)a)->user,
	    ((const struct mail_pvt_user *)b)->user);
}

static int
cmp_acl(const void *a, const void *b)
{
	return strcmp(((const struct mail_acl_entry *)a)->identifier,
	    ((const struct mail_acl_entry *)b)->identifier);
}

static void
dump_acl(struct mail_buf *out, const struct mail_mailbox *mb, unsigned flags)
{
	struct mail_acl_entry *acl = mail_xcalloc(mb->n_acl + 1, sizeof(*acl));

	if (mb->n_acl > 0)
		memcpy(acl, mb->acl, mb->n_acl * sizeof(*acl));
	mail_qsort(acl, mb->n_acl, sizeof(*acl), cmp_acl);
	for (size_t i = 0; i < mb->n_acl; i++) {
		if (acl[i].rights[0] == '\0' && !(flags & MAIL_DUMP_CLOCKS))
			continue;
		mail_buf_append_str(out, "  acl ");
		mail_dump_quote(out, acl[i].identifier,
		    strlen(acl[i].identifier));
		mail_buf_printf(out, " %s", acl[i].rights[0] != '\0' ?
		    acl[i].rights : "-");
		if (flags & MAIL_DUMP_CLOCKS)
			put_clock(out, "clock", acl[i].hlc, acl[i].node);
		mail_buf_append_str(out, "\n");
	}
	free(acl);
}

static void
dump_mailbox(struct mail_buf *out, const struct mail_mailbox *mb,
    unsigned flags)
{
	char hex[MAIL_GUID_HEX];
	struct mail_pvt_user *pvt;

	mail_buf_append_str(out, "mailbox ");
	mail_dump_quote(out, mb->name, strlen(mb->name));
	mail_buf_printf(out, " guid %s uidvalidity %u uidnext %u special-use %s"
	    " private-flags (", mail_guid_to_hex(&mb->guid, hex),
	    mb->uidvalidity, mb->uidnext,
	    mb->special_use[0] != '\0' ? mb->special_use : "-");
	mail_flags_format(mb->pvt_mask, out);
	mail_buf_append_str(out, ")");
	if (flags & MAIL_DUMP_CLOCKS) {
		mail_buf_printf(out, " deleted %d clocks", mb->deleted ? 1 : 0);
		put_clock(out, "name", mb->name_hlc, mb->name_node);
		put_clock(out, "create", mb->create_hlc, mb->create_node);
		put_clock(out, "special-use", mb->su_hlc, mb->su_node);
		put_clock(out, "private-flags", mb->pvt_hlc, mb->pvt_node);
		if (!mail_guid_is_zero(&mb->merged_into))
			mail_buf_printf(out, " merged-into %s",
			    mail_guid_to_hex(&mb->merged_into, hex));
	}
	if (flags & MAIL_DUMP_LOCAL)
		mail_buf_printf(out, " highestmodseq %" PRIu64,
		    mb->highestmodseq);
	mail_buf_append_str(out, "\n");
	dump_acl(out, mb, flags);
	dump_meta(out, "  ", "mailbox", mb->meta, mb->n_meta, flags);
	for (size_t i = 0; i < mb->n_msgs; i++) {
		const struct mail_msg *m = &mb->msgs[i];

		mail_buf_printf(out, "  msg %u guid %s instance %016" PRIx64
		    ":%016" PRIx64 " flags (", m->uid,
		    mail_guid_to_hex(&m->guid, hex), m->inst_node, m->inst_hlc);
		mail_flags_format(m->flags, out);
		mail_buf_append_str(out, ") keywords ");
		dump_keywords(out, mb, m->keywords);
		mail_buf_printf(out, " idate %" PRId64 " sdate %" PRId64
		    " size %" PRIu64 " body %s", m->idate, m->sdate, m->size,
		    mail_guid_to_hex(&m->body, hex));
		if (flags & MAIL_DUMP_CLOCKS) {
			put_clock(out, "uid-clock", m->uid_hlc, m->uid_node);
			put_clock(out, "flags-clock", m->flags_hlc,
			    m->flags_node);
		}
		if (flags & MAIL_DUMP_LOCAL)
			mail_buf_printf(out, " modseq %" PRIu64, m->modseq);
		mail_buf_append_str(out, "\n");
	}
	pvt = mail_xcalloc(mb->n_pvt + 1, sizeof(*pvt));
	if (mb->n_pvt > 0)
		memcpy(pvt, mb->pvt, mb->n_pvt * sizeof(*pvt));
	mail_qsort(pvt, mb->n_pvt, sizeof(*pvt), cmp_pvt_user);
	for (size_t p = 0; p < mb->n_pvt; p++) {
		for (size_t i = 0; i < pvt[p].n; i++) {
			const struct mail_pvt_entry *e = &pvt[p].v[i];

			if (e->flags == 0 && !(flags & MAIL_DUMP_CLOCKS))
				continue;
			mail_buf_printf(out, "  pvt %s %u (", pvt[p].user,
			    e->uid);
			mail_flags_format(e->flags, out);
			mail_buf_append_str(out, ")");
			if (flags & MAIL_DUMP_CLOCKS)
				put_clock(out, "clock", e->hlc, e->node);
			if (flags & MAIL_DUMP_LOCAL)
				mail_buf_printf(out, " modseq %" PRIu64,
				    e->modseq);
			mail_buf_append_str(out, "\n");
		}
	}
	free(pvt);
	if (!(flags & MAIL_DUMP_CLOCKS))
		return;
	for (size_t i = 0; i < mb->n_tombs; i++) {
		const struct mail_tomb *t = &mb->tombs[i];

		mail_buf_printf(out, "  tomb guid %s instance %016" PRIx64
		    ":%016" PRIx64, mail_guid_to_hex(&t->key.guid, hex),
		    t->key.inst_node, t->key.inst_hlc);
		if (flags & MAIL_DUMP_LOCAL)
			mail_buf_printf(out, " modseq %" PRIu64, t->modseq);
		mail_buf_append_str(out, "\n");
	}
	if (mb->gone.n > 0) {
		mail_buf_append_str(out, "  gone ");
		mail_uidset_format(&mb->gone, out);
		mail_buf_append_str(out, "\n");
	}
}

void
mail_dump_state_flags(const char *user, const struct mail_state *st,
    unsigned flags, struct mail_buf *out)
{
	struct mail_mailbox **mbs;
	size_t n = 0;

	mail_buf_printf(out, "user %s\n", user);
	if (flags & MAIL_DUMP_LOCAL)
		mail_buf_printf(out, "state modseq %" PRIu64 " hlc %" PRIx64
		    " last-uidvalidity %u\n", st->modseq, st->hlc,
		    st->last_uidvalidity);
	for (size_t i = 0; i < st->n_subs; i++) {
		const struct mail_sub *sub = &st->subs[i];

		if (!sub->on && !(flags & MAIL_DUMP_CLOCKS))
			continue;
		mail_buf_append_str(out, sub->on ? "subscribed " :
		    "unsubscribed ");
		mail_dump_quote(out, sub->name, strlen(sub->name));
		if (flags & MAIL_DUMP_CLOCKS)
			put_clock(out, "clock", sub->hlc, sub->node);
		mail_buf_append_str(out, "\n");
	}
	dump_meta(out, "", "server", st->meta, st->n_meta, flags);
	mbs = mail_xcalloc(st->n_mailboxes + 1, sizeof(*mbs));
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		if (!st->mailboxes[i]->deleted || (flags & MAIL_DUMP_CLOCKS))
			mbs[n++] = st->mailboxes[i];
	}
	mail_qsort(mbs, n, sizeof(*mbs), cmp_mailbox);
	for (size_t i = 0; i < n; i++)
		dump_mailbox(out, mbs[i], flags);
	free(mbs);
}

void
mail_dump_state(const char *user, const struct mail_state *st,
    struct mail_buf *out)
{
	mail_dump_state_flags(user, st, 0, out);
}
