/*
 * imap_cmd_write.c: imap_cmd_write() (imap_parser.h), a parsed command
 * written back as one canonical IMAP command.
 *
 * Canonical: upper-case names, macros expanded, the options of a list in
 * their table's order, and one spelling per value (imap_value.c). A
 * string is written in the tightest form the reader takes back: an atom
 * of the class its place allows, else a quoted string, else a
 * non-synchronizing literal {n+} (for NUL, CR, LF). So the text parses
 * back (with LITERAL+) to the same command, which the fuzz target checks
 * on every command it reads. Secrets are written as "***" unless asked
 * for, so the text can go into logs.
 *
 * Every helper below writes its sep argument first (" ", " (", ...),
 * which keeps a command's arguments one call each.
 */
#include <inttypes.h>

#include "imap_parser_private.h"
#include "mail_flags.h"

static void
imap_put_quoted(struct mail_buf *out, const char *s, size_t n)
{
	mail_buf_append(out, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			mail_buf_append(out, "\\", 1);
		mail_buf_append(out, s + i, 1);
	}
	mail_buf_append(out, "\"", 1);
}

/* Non-synchronizing, so the text is one piece the reader takes without
 * continuations (with LITERAL+). */
static void
imap_put_literal(struct mail_buf *out, const void *s, size_t n, bool binary)
{
	mail_buf_printf(out, "%s{%zu+}\r\n", binary ? "~" : "", n);
	mail_buf_append(out, s, n);
}

/* The tightest form the reader takes back: an atom of class cls (never
 * "NIL", which would read as NIL), else quoted, else a literal, the only
 * form that can hold NUL, CR and LF. */
static void
imap_put_string(struct mail_buf *out, const char *sep, const char *s,
    size_t n, bool (*cls)(uint8_t))
{
	mail_buf_append_str(out, sep);
	if (cls != NULL && n > 0 && imap_all(s, n, cls) &&
	    !imap_word_eq(s, n, "NIL")) {
		mail_buf_append(out, s, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n') {
			imap_put_literal(out, s, n, false);
			return;
		}
	}
	imap_put_quoted(out, s, n);
}

static void
imap_put_astring(struct mail_buf *out, const char *sep,
    const struct imap_str *s)
{
	imap_put_string(out, sep, s->data, s->len, imap_is_astring_char);
}

static void
imap_put_nstring(struct mail_buf *out, const char *sep,
    const struct imap_str *s)
{
	if (s->data == NULL)
		mail_buf_printf(out, "%sNIL", sep);
	else
		imap_put_string(out, sep, s->data, s->len, NULL);
}

static void
imap_put_seqset(struct mail_buf *out, const char *sep,
    const struct imap_seqset *set)
{
	mail_buf_append_str(out, sep);
	imap_seqset_write(out, set);
}

/* flag-list: system flags first, in mail_flags' order, then keywords as
 * sent */
static void
imap_put_flags(struct mail_buf *out, const char *sep,
    const struct imap_flags *f)
{
	mail_buf_printf(out, "%s(", sep);
	mail_flags_format(f->sys, out);
	for (size_t i = 0; i < f->n_keywords; i++) {
		if (i > 0 || f->sys != 0)
			mail_buf_append_str(out, " ");
		mail_buf_append_str(out, f->keywords[i]);
	}
	mail_buf_append_str(out, ")");
}

/* sep "(" and the options of the list which whose bits are set, in the
 * table's order, then ")" unless open (an option's argument follows). */
static void
imap_put_options(struct mail_buf *out, const char *sep,
    enum imap_opt_list which, unsigned bits, bool open)
{
	const char *const *names = imap_opt_lists[which].names;

	mail_buf_printf(out, "%s(", sep);
	sep = "";
	for (unsigned i = 0; names[i] != NULL; i++) {
		if ((bits & 1u << i) == 0)
			continue;
		mail_buf_printf(out, "%s%s", sep, names[i]);
		sep = " ";
	}
	if (!open)
		mail_buf_append_str(out, ")");
}

static void
imap_put_section(struct mail_buf *out, const struct imap_section *sec)
{
	mail_buf_append_str(out, "[");
	for (size_t i = 0; i < sec->n_parts; i++)
		mail_buf_printf(out, "%s%" PRIu32, i > 0 ? "." : "",
		    sec->parts[i]);
	if (sec->text != IMAP_SECTION_NONE)
		mail_buf_printf(out, "%s%s", sec->n_parts > 0 ? "." : "",
		    imap_section_text_names[sec->text]);
	/* no "]" in an atom here: it would end the section */
	for (size_t i = 0; i < sec->n_fields; i++)
		imap_put_string(out, i == 0 ? " (" : " ", sec->fields[i].data,
		    sec->fields[i].len, imap_is_atom_char);
	mail_buf_append_str(out, sec->n_fields > 0 ? ")]" : "]");
}

static void
imap_put_fetch_item(struct mail_buf *out, const char *sep,
    const struct imap_fetch_item *it)
{
	mail_buf_append_str(out, sep);
	if (imap_fetch_att_names[it->att] != NULL) {
		mail_buf_append_str(out, imap_fetch_att_names[it->att]);
		return;
	}
	mail_buf_printf(out, "%s%s", imap_fetch_section_names[it->att],
	    it->peek ? ".PEEK" : "");
	imap_put_section(out, &it->section);
	if (it->partial)
		mail_buf_printf(out, "<%" PRIu64 ".%" PRIu64 ">", it->offset,
		    it->count);
}

/* A key that is not AND, OR or NOT, with its arguments. */
static void
imap_put_search_key(struct mail_buf *out, const struct imap_search_key *k)
{
	const struct imap_sk_def *def = &imap_sk_defs[k->type];

	if (k->type == IMAP_SK_SEQSET) {
		imap_seqset_write(out, &k->set);
		return;
	}
	mail_buf_append_str(out, def->name);
	switch (def->arg) {
	case IMAP_SKA_ASTRING:
		imap_put_astring(out, " ", &k->str);
		break;
	case IMAP_SKA_KEYWORD:
		/* an atom even when it is "NIL": flag-keyword is an atom */
		mail_buf_printf(out, " %s", k->str.data);
		break;
	case IMAP_SKA_HEADER:
		imap_put_astring(out, " ", &k->field);
		imap_put_astring(out, " ", &k->str);
		break;
	case IMAP_SKA_DATE:
		mail_buf_append_str(out, " ");
		imap_date_write(out, &k->date);
		break;
	case IMAP_SKA_NUM64:
	case IMAP_SKA_SECONDS:
		mail_buf_printf(out, " %" PRIu64, k->num);
		break;
	case IMAP_SKA_UID:
		imap_put_seqset(out, " ", &k->set);
		break;
	case IMAP_SKA_MODSEQ:
		if (k->entry_type != IMAP_MODSEQ_ENTRY_NONE) {
			mail_buf_append_str(out, " ");
			imap_put_quoted(out, k->field.data, k->field.len);
			mail_buf_printf(out, " %s",
			    imap_modseq_entry_names[k->entry_type]);
		}
		mail_buf_printf(out, " %" PRIu64, k->num);
		break;
	default:
		break;
	}
}

/*
 * " key key ..." for the children of an AND node, walking the tree with
 * an explicit stack of the operators being written (no recursion: the
 * depth is only bounded by the parser's option).
 */
static void
imap_put_search_keys(struct mail_buf *out, const struct imap_search_key *and)
{
	const struct imap_search_key *k = and->child, **stack = NULL;
	size_t top = 0, cap = 0;

	if (k == NULL)
		return;
	mail_buf_append_str(out, " ");
	for (;;) {
		if (k->type == IMAP_SK_AND || k->type == IMAP_SK_OR ||
		    k->type == IMAP_SK_NOT) {
			mail_buf_append_str(out, k->type == IMAP_SK_AND ? "(" :
			    k->type == IMAP_SK_OR ? "OR " : "NOT ");
			stack = mail_xgrow(stack, &cap, top + 1, sizeof(*stack));
			stack[top++] = k;
			if (k->child != NULL) {
				k = k->child;
				continue;
			}
		} else {
			imap_put_search_key(out, k);
		}
		/* on to the next sibling, closing finished operators */
		while (k->next == NULL && top > 0) {
			k = stack[--top];
			if (k->type == IMAP_SK_AND)
				mail_buf_append_str(out, ")");
		}
		if (k->next == NULL)
			break;
		mail_buf_append_str(out, " ");
		k = k->next;
	}
	free(stack);
}

/*
 * LOGIN and AUTHENTICATE. Unless secrets, the password and the initial
 * response become "***": this is the one place that keeps them out of
 * logs.
 */
static void
imap_put_secret(struct mail_buf *out, const struct imap_cmd *cmd,
    bool secrets)
{
	const typeof(cmd->u.authenticate) *au = &cmd->u.authenticate;

	if (cmd->type == IMAP_CMD_LOGIN) {
		imap_put_astring(out, " ", &cmd->u.login.user);
		if (secrets)
			imap_put_astring(out, " ", &cmd->u.login.password);
		else
			mail_buf_append_str(out, " ***");
		return;
	}
	mail_buf_printf(out, " %s", au->mechanism);
	if (!au->has_initial)
		return;
	if (!secrets)
		mail_buf_append_str(out, " ***");
	else if (au->initial.len == 0)
		mail_buf_append_str(out, " =");
	else
		mail_buf_printf(out, " %s", au->initial.data);
}

/* The arguments of the other commands, by enum imap_cmd_type. */
typedef void imap_put_fn(struct mail_buf *out, const struct imap_cmd *cmd);

static void
imap_put_enable(struct mail_buf *out, const struct imap_cmd *cmd)
{
	for (size_t i = 0; i < cmd->u.enable.n; i++)
		mail_buf_printf(out, " %s", cmd->u.enable.caps[i]);
}

static void
imap_put_id(struct mail_buf *out, const struct imap_cmd *cmd)
{
	if (cmd->u.id.n == 0) {
		mail_buf_append_str(out, " NIL");
		return;
	}
	for (size_t i = 0; i < cmd->u.id.n; i++) {
		imap_put_string(out, i == 0 ? " (" : " ",
		    cmd->u.id.keys[i].data, cmd->u.id.keys[i].len, NULL);
		imap_put_nstring(out, " ", &cmd->u.id.values[i]);
	}
	mail_buf_append_str(out, ")");
}

static void
imap_put_compress(struct mail_buf *out, const struct imap_cmd *cmd)
{
	mail_buf_printf(out, " %s", cmd->u.compress.mechanism);
}

/* SELECT and EXAMINE */
static void
imap_put_select(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.select) *sel = &cmd->u.select;

	imap_put_astring(out, " ", &sel->mailbox);
	if (!sel->condstore && !sel->qresync)
		return;
	mail_buf_append_str(out, " (");
	if (sel->condstore)
		mail_buf_append_str(out, "CONDSTORE");
	if (sel->qresync) {
		mail_buf_printf(out, "%sQRESYNC (%" PRIu32 " %" PRIu64,
		    sel->condstore ? " " : "", sel->uidvalidity, sel->modseq);
		if (sel->has_known_uids)
			imap_put_seqset(out, " ", &sel->known_uids);
		if (sel->has_seq_match) {
			imap_put_seqset(out, " (", &sel->known_seqs);
			imap_put_seqset(out, " ", &sel->known_seq_uids);
			mail_buf_append_str(out, ")");
		}
		mail_buf_append_str(out, ")");
	}
	mail_buf_append_str(out, ")");
}

static void
imap_put_create(struct mail_buf *out, const struct imap_cmd *cmd)
{
	imap_put_astring(out, " ", &cmd->u.create.mailbox);
	for (size_t i = 0; i < cmd->u.create.n_use; i++)
		mail_buf_printf(out, "%s%s", i == 0 ? " (USE (" : " ",
		    cmd->u.create.use[i]);
	if (cmd->u.create.n_use > 0)
		mail_buf_append_str(out, "))");
}

/* DELETE, SUBSCRIBE, UNSUBSCRIBE */
static void
imap_put_mailbox(struct mail_buf *out, const struct imap_cmd *cmd)
{
	imap_put_astring(out, " ", &cmd->u.mailbox.mailbox);
}

static void
imap_put_rename(struct mail_buf *out, const struct imap_cmd *cmd)
{
	imap_put_astring(out, " ", &cmd->u.rename.from);
	imap_put_astring(out, " ", &cmd->u.rename.to);
}

/* LIST and LSUB */
static void
imap_put_list(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.list) *l = &cmd->u.list;

	if (l->select != 0)
		imap_put_options(out, " ", IMAP_OPTS_LIST_SEL, l->select,
		    false);
	imap_put_astring(out, " ", &l->ref);
	for (size_t i = 0; i < l->n_patterns; i++)
		imap_put_string(out, i > 0 ? " " : l->extended ? " (" : " ",
		    l->patterns[i].data, l->patterns[i].len, imap_is_list_char);
	if (l->extended)
		mail_buf_append_str(out, ")");
	if (l->ret == 0)
		return;
	imap_put_options(out, " RETURN ", IMAP_OPTS_LIST_RET, l->ret, true);
	/* STATUS is the last return option: its items follow it */
	if (l->ret & IMAP_LIST_RET_STATUS)
		imap_put_options(out, " ", IMAP_OPTS_STATUS, l->status, false);
	mail_buf_append_str(out, ")");
}

static void
imap_put_status(struct mail_buf *out, const struct imap_cmd *cmd)
{
	imap_put_astring(out, " ", &cmd->u.status.mailbox);
	imap_put_options(out, " ", IMAP_OPTS_STATUS, cmd->u.status.items,
	    false);
}

static void
imap_put_append(struct mail_buf *out, const struct imap_cmd *cmd)
{
	imap_put_astring(out, " ", &cmd->u.append.mailbox);
	for (size_t i = 0; i < cmd->u.append.n_msgs; i++) {
		const struct imap_append_msg *m = &cmd->u.append.msgs[i];

		if (m->has_flags)
			imap_put_flags(out, " ", &m->flags);
		if (m->has_date) {
			mail_buf_append_str(out, " ");
			imap_datetime_write(out, &m->date);
		}
		mail_buf_append_str(out, " ");
		if (m->streamed)
			mail_buf_printf(out, "%s{%zu+}\r\n<streamed>",
			    m->binary ? "~" : "", m->size);
		else
			imap_put_literal(out, m->data, m->size, m->binary);
	}
}

static void
imap_put_getmetadata(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.getmetadata) *g = &cmd->u.getmetadata;
	const char *depth = imap_metadata_depth_names[g->depth];

	if (g->has_maxsize && g->depth != IMAP_METADATA_DEPTH_0)
		mail_buf_printf(out, " (MAXSIZE %" PRIu32 " DEPTH %s)",
		    g->maxsize, depth);
	else if (g->has_maxsize)
		mail_buf_printf(out, " (MAXSIZE %" PRIu32 ")", g->maxsize);
	else if (g->depth != IMAP_METADATA_DEPTH_0)
		mail_buf_printf(out, " (DEPTH %s)", depth);
	imap_put_astring(out, " ", &g->mailbox);
	for (size_t i = 0; i < g->n_entries; i++)
		imap_put_astring(out, i == 0 ? " (" : " ", &g->entries[i]);
	mail_buf_append_str(out, ")");
}

static void
imap_put_setmetadata(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.setmetadata) *s = &cmd->u.setmetadata;

	imap_put_astring(out, " ", &s->mailbox);
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct imap_metadata_entry *e = &s->entries[i];

		imap_put_astring(out, i == 0 ? " (" : " ", &e->name);
		if (e->binary) {
			mail_buf_append_str(out, " ");
			imap_put_literal(out, e->value.data, e->value.len,
			    true);
		} else {
			imap_put_nstring(out, " ", &e->value);
		}
	}
	mail_buf_append_str(out, ")");
}

/* EXPUNGE; UID EXPUNGE with its set */
static void
imap_put_expunge(struct mail_buf *out, const struct imap_cmd *cmd)
{
	if (cmd->uid)
		imap_put_seqset(out, " ", &cmd->u.expunge.set);
}

/* [RETURN (...)] of SEARCH and SORT */
static void
imap_put_search_return(struct mail_buf *out, const struct imap_search *s)
{
	if (s->has_return)
		imap_put_options(out, " RETURN ", IMAP_OPTS_SEARCH_RET, s->ret,
		    false);
}

static void
imap_put_search(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const struct imap_search *s = &cmd->u.search;

	imap_put_search_return(out, s);
	if (s->charset != NULL)
		imap_put_string(out, " CHARSET ", s->charset,
		    strlen(s->charset), imap_is_atom_char);
	imap_put_search_keys(out, s->keys);
}

/* charset SP keys, after SORT's criteria and THREAD's algorithm */
static void
imap_put_charset_keys(struct mail_buf *out, const struct imap_search *s)
{
	imap_put_string(out, " ", s->charset, strlen(s->charset),
	    imap_is_atom_char);
	imap_put_search_keys(out, s->keys);
}

static void
imap_put_sort(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.sort) *s = &cmd->u.sort;

	imap_put_search_return(out, &s->search);
	for (size_t i = 0; i < s->n_criteria; i++)
		mail_buf_printf(out, "%s%s%s", i == 0 ? " (" : " ",
		    s->criteria[i].reverse ? "REVERSE " : "",
		    imap_sort_key_names[s->criteria[i].key]);
	mail_buf_append_str(out, ")");
	imap_put_charset_keys(out, &s->search);
}

static void
imap_put_thread(struct mail_buf *out, const struct imap_cmd *cmd)
{
	mail_buf_printf(out, " %s", imap_thread_alg_names[cmd->u.thread.alg]);
	imap_put_charset_keys(out, &cmd->u.thread.search);
}

static void
imap_put_fetch(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.fetch) *f = &cmd->u.fetch;

	imap_put_seqset(out, " ", &f->set);
	for (size_t i = 0; i < f->n_items; i++)
		imap_put_fetch_item(out, i == 0 ? " (" : " ", &f->items[i]);
	mail_buf_append_str(out, ")");
	if (f->has_changedsince && f->vanished)
		mail_buf_printf(out, " (CHANGEDSINCE %" PRIu64 " VANISHED)",
		    f->changedsince);
	else if (f->has_changedsince)
		mail_buf_printf(out, " (CHANGEDSINCE %" PRIu64 ")",
		    f->changedsince);
	else if (f->vanished)
		mail_buf_append_str(out, " (VANISHED)");
}

static void
imap_put_store(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.store) *st = &cmd->u.store;

	imap_put_seqset(out, " ", &st->set);
	if (st->has_unchangedsince)
		mail_buf_printf(out, " (UNCHANGEDSINCE %" PRIu64 ")",
		    st->unchangedsince);
	mail_buf_printf(out, " %sFLAGS%s", st->op == IMAP_STORE_ADD ? "+" :
	    st->op == IMAP_STORE_REMOVE ? "-" : "", st->silent ? ".SILENT" : "");
	imap_put_flags(out, " ", &st->flags);
}

/* COPY and MOVE */
static void
imap_put_copy(struct mail_buf *out, const struct imap_cmd *cmd)
{
	imap_put_seqset(out, " ", &cmd->u.copy.set);
	imap_put_astring(out, " ", &cmd->u.copy.mailbox);
}

/* NULL: no arguments */
static imap_put_fn *const imap_put_args[IMAP_CMD_COUNT_] = {
	[IMAP_CMD_ENABLE] = imap_put_enable,
	[IMAP_CMD_ID] = imap_put_id,
	[IMAP_CMD_COMPRESS] = imap_put_compress,
	[IMAP_CMD_SELECT] = imap_put_select,
	[IMAP_CMD_EXAMINE] = imap_put_select,
	[IMAP_CMD_CREATE] = imap_put_create,
	[IMAP_CMD_DELETE] = imap_put_mailbox,
	[IMAP_CMD_RENAME] = imap_put_rename,
	[IMAP_CMD_SUBSCRIBE] = imap_put_mailbox,
	[IMAP_CMD_UNSUBSCRIBE] = imap_put_mailbox,
	[IMAP_CMD_LIST] = imap_put_list,
	[IMAP_CMD_LSUB] = imap_put_list,
	[IMAP_CMD_STATUS] = imap_put_status,
	[IMAP_CMD_APPEND] = imap_put_append,
	[IMAP_CMD_GETMETADATA] = imap_put_getmetadata,
	[IMAP_CMD_SETMETADATA] = imap_put_setmetadata,
	[IMAP_CMD_EXPUNGE] = imap_put_expunge,
	[IMAP_CMD_SEARCH] = imap_put_search,
	[IMAP_CMD_SORT] = imap_put_sort,
	[IMAP_CMD_THREAD] = imap_put_thread,
	[IMAP_CMD_FETCH] = imap_put_fetch,
	[IMAP_CMD_STORE] = imap_put_store,
	[IMAP_CMD_COPY] = imap_put_copy,
	[IMAP_CMD_MOVE] = imap_put_copy,
};

void
imap_cmd_write(const struct imap_cmd *cmd, bool secrets, struct mail_buf *out)
{
	mail_buf_printf(out, "%s %s%s", cmd->tag, cmd->uid ? "UID " : "",
	    cmd->type == IMAP_CMD_UNKNOWN ? cmd->name :
	    imap_cmd_type_name(cmd->type));
	if (cmd->type == IMAP_CMD_LOGIN || cmd->type == IMAP_CMD_AUTHENTICATE)
		imap_put_secret(out, cmd, secrets);
	else if ((unsigned)cmd->type < IMAP_CMD_COUNT_ &&
	    imap_put_args[cmd->type] != NULL)
		imap_put_args[cmd->type](out, cmd);
	mail_buf_append_str(out, "\r\n");
}
