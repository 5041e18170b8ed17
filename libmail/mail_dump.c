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
dump_meta(struct mail_buf *out, const char *indent, const char *level,
    const struct mail_meta *m, size_t n)
{
	const struct mail_meta **v = mail_xcalloc(n, sizeof(*v));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (m[i].has_value)
			v[k++] = &m[i];
	}
	qsort(v, k, sizeof(*v), cmp_meta);
	for (size_t i = 0; i < k; i++) {
		mail_buf_printf(out, "%smeta %s ", indent, level);
		if (v[i]->uid != 0)
			mail_buf_printf(out, "%u ", v[i]->uid);
		mail_buf_printf(out, "%s ", v[i]->user[0] != '\0' ?
		    v[i]->user : "-");
		mail_dump_quote(out, v[i]->key, strlen(v[i]->key));
		mail_buf_append(out, " ", 1);
		mail_dump_quote(out, v[i]->value, v[i]->value_len);
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
	qsort(names, n, sizeof(names[0]), cmp_str);
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

static void
dump_mailbox(struct mail_buf *out, const struct mail_mailbox *mb)
{
	char hex[MAIL_GUID_HEX];
	const struct mail_acl_entry **acl;
	struct mail_pvt_user *pvt;
	size_t n_acl;

	mail_buf_append_str(out, "mailbox ");
	mail_dump_quote(out, mb->name, strlen(mb->name));
	mail_buf_printf(out, " guid %s uidvalidity %u uidnext %u special-use %s"
	    " private-flags (", mail_guid_to_hex(&mb->guid, hex),
	    mb->uidvalidity, mb->uidnext,
	    mb->special_use[0] != '\0' ? mb->special_use : "-");
	mail_flags_format(mb->pvt_mask, out);
	mail_buf_append_str(out, ")\n");
	acl = mail_mailbox_acl_sorted(mb, &n_acl);
	for (size_t i = 0; i < n_acl; i++) {
		mail_buf_append_str(out, "  acl ");
		mail_dump_quote(out, acl[i]->identifier,
		    strlen(acl[i]->identifier));
		mail_buf_printf(out, " %s\n", acl[i]->rights);
	}
	free(acl);
	dump_meta(out, "  ", "mailbox", mb->meta, mb->n_meta);
	for (size_t i = 0; i < mb->n_msgs; i++) {
		const struct mail_msg *m = &mb->msgs[i];

		mail_buf_printf(out, "  msg %u guid %s instance %016" PRIx64
		    ":%016" PRIx64 " flags (", m->uid,
		    mail_guid_to_hex(&m->guid, hex), m->inst_node, m->inst_hlc);
		mail_flags_format(m->flags, out);
		mail_buf_append_str(out, ") keywords ");
		dump_keywords(out, mb, m->keywords);
		mail_buf_printf(out, " idate %" PRId64 " sdate %" PRId64
		    " size %" PRIu64 " body %s\n", m->idate, m->sdate, m->size,
		    mail_guid_to_hex(&m->body, hex));
	}
	pvt = mail_xcalloc(mb->n_pvt, sizeof(*pvt));
	if (mb->n_pvt > 0)
		memcpy(pvt, mb->pvt, mb->n_pvt * sizeof(*pvt));
	qsort(pvt, mb->n_pvt, sizeof(*pvt), cmp_pvt_user);
	for (size_t p = 0; p < mb->n_pvt; p++) {
		for (size_t i = 0; i < pvt[p].n; i++) {
			if (pvt[p].v[i].flags == 0)
				continue;
			mail_buf_printf(out, "  pvt %s %u (", pvt[p].user,
			    pvt[p].v[i].uid);
			mail_flags_format(pvt[p].v[i].flags, out);
			mail_buf_append_str(out, ")\n");
		}
	}
	free(pvt);
}

void
mail_dump_state(const char *user, const struct mail_state *st,
    struct mail_buf *out)
{
	struct mail_mailbox **mbs;

	mail_buf_printf(out, "user %s\n", user);
	for (size_t i = 0; i < st->n_subs; i++) {
		mail_buf_append_str(out, "subscribed ");
		mail_dump_quote(out, st->subs[i], strlen(st->subs[i]));
		mail_buf_append_str(out, "\n");
	}
	dump_meta(out, "", "server", st->meta, st->n_meta);
	mbs = mail_xcalloc(st->n_mailboxes, sizeof(*mbs));
	if (st->n_mailboxes > 0)
		memcpy(mbs, st->mailboxes, st->n_mailboxes * sizeof(*mbs));
	qsort(mbs, st->n_mailboxes, sizeof(*mbs), cmp_mailbox);
	for (size_t i = 0; i < st->n_mailboxes; i++)
		dump_mailbox(out, mbs[i]);
	free(mbs);
}
