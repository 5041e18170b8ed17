/*
 * imapd_list.c: LIST (RFC 9051, LIST-EXTENDED RFC 5258, LIST-STATUS RFC
 * 5819, SPECIAL-USE RFC 6154) and LSUB.
 *
 * The candidates are the user's live mailboxes, the subscribed names,
 * and the parents that exist only as a path to them ("a" for "a/b"),
 * which list as \NonExistent (\Noselect for LSUB and old clients: RFC
 * 5258 says \NonExistent implies \Noselect). Each candidate is matched
 * against every pattern with '*' and '%' wildcards.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"
#include "mail_maildir.h"

struct list_item {
	char	*name;
	const struct mail_mailbox *mb;	/* NULL: does not exist */
	bool	 subscribed;
	bool	 children;		/* has existing children */
	bool	 sub_children;		/* has subscribed children */
};

struct list_ctx {
	struct list_item *v;
	size_t	 n, cap;
};

/* Does name match pattern ('*' any, '%' any but the separator)? */
static bool
pattern_match(const char *p, const char *s)
{
	for (; *p != '\0'; p++, s++) {
		if (*p == '*' || *p == '%') {
			bool star = *p == '*';

			p++;
			for (;; s++) {
				if (pattern_match(p, s))
					return true;
				if (*s == '\0' || (!star && *s == IMAPD_SEP))
					return false;
			}
		}
		if (*s != *p)
			return false;
	}
	return *s == '\0';
}

static struct list_item *
item_get(struct list_ctx *l, const char *name, size_t len)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strlen(l->v[i].name) == len &&
		    memcmp(l->v[i].name, name, len) == 0)
			return &l->v[i];
	}
	l->v = mail_xgrow(l->v, &l->cap, l->n + 1, sizeof(*l->v));
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	l->v[l->n].name = mail_xstrndup(name, len);
	return &l->v[l->n++];
}

/* Add name and its parents (as paths) to the candidates. */
static void
add_with_parents(struct list_ctx *l, const char *name,
    const struct mail_mailbox *mb, bool subscribed)
{
	struct list_item *it = item_get(l, name, strlen(name));
	const char *p;

	if (mb != NULL)
		it->mb = mb;
	if (subscribed)
		it->subscribed = true;
	for (p = strrchr(name, IMAPD_SEP); p != NULL && p > name;) {
		struct list_item *parent = item_get(l, name,
		    (size_t)(p - name));

		if (mb != NULL)
			parent->children = true;
		if (subscribed)
			parent->sub_children = true;
		while (--p > name && *p != IMAPD_SEP)
			;
		if (*p != IMAPD_SEP)
			break;
	}
}

/* Has name a subscribed descendant that no pattern matches (so that the
 * match stopped at name)? */
static bool
hidden_sub_child(const struct list_ctx *l, const char *name,
    char *const *pats, size_t n_pats)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < l->n; i++) {
		const struct list_item *it = &l->v[i];
		bool match = false;

		if (!it->subscribed || strncmp(it->name, name, n) != 0 ||
		    it->name[n] != IMAPD_SEP)
			continue;
		for (size_t j = 0; j < n_pats && !match; j++)
			match = pattern_match(pats[j], it->name);
		if (!match)
			return true;
	}
	return false;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The pattern as matched against store names: the reference prepended,
 * "INBOX" normalized, decoded from modified UTF-7 when needed. */
static char *
full_pattern(struct imapd_client *c, const struct imap_str *ref,
    const struct imap_str *pat)
{
	struct imap_str joined;
	struct mail_buf b = MAIL_BUF_INIT;
	char *name;

	if (pat->len > 0 && pat->data[0] == IMAPD_SEP)
		mail_buf_append(&b, pat->data, pat->len);
	else {
		mail_buf_append(&b, ref->data, ref->len);
		mail_buf_append(&b, pat->data, pat->len);
	}
	mail_buf_append(&b, "", 1);
	joined.data = (const char *)b.data;
	joined.len = b.len - 1;
	if (strncasecmp(joined.data, "INBOX", 5) == 0 &&
	    (joined.data[5] == '\0' || joined.data[5] == IMAPD_SEP))
		memcpy(b.data, "INBOX", 5);
	if (!c->utf8 && memchr(joined.data, '&', joined.len) != NULL) {
		struct mail_buf dec = MAIL_BUF_INIT;
		struct mail_err err;

		if (mail_maildir_mutf7_decode(joined.data, joined.len, &dec,
		    &err) == 0) {
			mail_buf_append(&dec, "", 1);
			mail_buf_free(&b);
			return (char *)dec.data;
		}
		mail_buf_free(&dec);
	}
	name = mail_xstrdup(joined.data);
	mail_buf_free(&b);
	return name;
}

void
imapd_cmd_list(struct imapd_client *c, struct imap_cmd *cmd)
{
	const struct mail_state *st = imapd_state(c);
	bool lsub = cmd->type == IMAP_CMD_LSUB;
	unsigned sel = cmd->u.list.select, ret = cmd->u.list.ret;
	struct list_ctx l = { NULL, 0, 0 };
	struct mail_buf b = MAIL_BUF_INIT;
	char **pats;
	size_t n_pats = cmd->u.list.n_patterns;

	/* LIST "" "": the hierarchy separator and root */
	if (!lsub && n_pats == 1 && cmd->u.list.patterns[0].len == 0 &&
	    !cmd->u.list.extended) {
		imapd_client_printf(c, "* LIST (\\Noselect) \"%c\" \"\"\r\n",
		    IMAPD_SEP);
		imapd_cmd_ok(c, cmd, "List completed");
		return;
	}
	if (sel & IMAP_LIST_SEL_SUBSCRIBED)
		ret |= IMAP_LIST_RET_SUBSCRIBED;
	for (size_t i = 0; i < st->n_mailboxes; i++) {
		const struct mail_mailbox *mb = st->mailboxes[i];

		if (!mb->deleted)
			add_with_parents(&l, mb->name, mb, false);
	}
	for (size_t i = 0; i < st->n_subs; i++) {
		if (st->subs[i].on)
			add_with_parents(&l, st->subs[i].name, NULL, true);
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), item_cmp);
	pats = mail_xcalloc(n_pats, sizeof(*pats));
	for (size_t i = 0; i < n_pats; i++)
		pats[i] = full_pattern(c, &cmd->u.list.ref,
		    &cmd->u.list.patterns[i]);

	for (size_t i = 0; i < l.n; i++) {
		const struct list_item *it = &l.v[i];
		bool match = false, noselect, nonexistent;
		const char *sep = "";

		for (size_t j = 0; j < n_pats && !match; j++)
			match = pattern_match(pats[j], it->name);
		if (!match)
			continue;
		nonexistent = it->mb == NULL;
		if (lsub || (sel & IMAP_LIST_SEL_SUBSCRIBED)) {
			/* a parent that is not subscribed itself shows in
			 * LSUB when '%' stopped at it (RFC 3501 6.3.9), and
			 * with RECURSIVEMATCH to carry CHILDINFO */
			if (!it->subscribed && !(it->sub_children &&
			    ((sel & IMAP_LIST_SEL_RECURSIVEMATCH) ||
			    (lsub && hidden_sub_child(&l, it->name, pats,
			    n_pats)))))
				continue;
		} else if (nonexistent && !it->children) {
			continue;	/* only subscribed, not a path */
		}
		if ((sel & IMAP_LIST_SEL_SPECIAL_USE) &&
		    (it->mb == NULL || it->mb->special_use[0] == '\0'))
			continue;
		/* in LSUB, \Noselect marks a parent that is not subscribed
		 * (RFC 3501 6.3.9) */
		noselect = nonexistent || (lsub && !it->subscribed);
		mail_buf_reset(&b);
		mail_buf_append_str(&b, lsub ? "* LSUB (" : "* LIST (");
#define ATTR(s) do {					\
		mail_buf_append_str(&b, sep);		\
		mail_buf_append_str(&b, s);		\
		sep = " ";				\
	} while (0)
		if (nonexistent && !lsub && cmd->u.list.extended &&
		    !it->children)
			ATTR("\\NonExistent");
		else if (noselect)
			ATTR("\\Noselect");
		if (!lsub)
			ATTR(it->children ? "\\HasChildren" :
			    "\\HasNoChildren");
		if (!lsub && (ret & IMAP_LIST_RET_SUBSCRIBED) &&
		    it->subscribed)
			ATTR("\\Subscribed");
		if (!lsub && it->mb != NULL && it->mb->special_use[0] != '\0')
			ATTR(it->mb->special_use);
#undef ATTR
		mail_buf_printf(&b, ") \"%c\" ", IMAPD_SEP);
		imapd_put_mailbox(c, &b, it->name);
		if ((sel & IMAP_LIST_SEL_RECURSIVEMATCH) && !it->subscribed &&
		    it->sub_children)
			mail_buf_append_str(&b, " (\"CHILDINFO\" "
			    "(\"SUBSCRIBED\"))");
		mail_buf_append_str(&b, "\r\n");
		if ((ret & IMAP_LIST_RET_STATUS) && it->mb != NULL)
			imapd_status_line(c, it->mb, cmd->u.list.status, &b);
		imapd_client_write(c, b.data, b.len);
	}
	for (size_t i = 0; i < n_pats; i++)
		free(pats[i]);
	free(pats);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	mail_buf_free(&b);
	imapd_cmd_ok(c, cmd, "%s completed", lsub ? "Lsub" : "List");
}
