/*
 * imap_cmd.c: the command layer of the IMAP parser (imap_parser.h):
 * the arguments of a command that the reader (imap_parser.c) has read
 * whole are checked against its grammar and decoded into the typed
 * struct imap_cmd, so the caller never looks at raw tokens.
 *
 * Grammar: RFC 9051 section 9, RFC 3501, and the extensions IDLE,
 * NAMESPACE, ID RFC 2971, ENABLE RFC 5161, UIDPLUS RFC 4315, MOVE RFC
 * 6851, UNSELECT RFC 3691, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819,
 * SPECIAL-USE RFC 6154, ESEARCH RFC 4731, SEARCHRES RFC 5182, WITHIN RFC
 * 5032, SORT/THREAD RFC 5256, ESORT RFC 5267, DISPLAYFROM RFC 5957,
 * CONDSTORE/QRESYNC RFC 7162, COMPRESS RFC 4978, STATUS=SIZE RFC 8438,
 * SAVEDATE RFC 8514, MULTIAPPEND RFC 3502, METADATA RFC 5464, SASL-IR RFC
 * 4959, BINARY RFC 3516.
 *
 * This file has the command table, the checkers of values that every
 * command uses, the parenthesized option lists (one table-driven loop for
 * all of them) and the commands without a file of their own; search keys
 * are in imap_cmd_search.c, FETCH and STORE in imap_cmd_fetch.c. Every
 * value is copied or decoded into the command's arena. An error is a BAD
 * "CMD: what went wrong" whose client text is cut short and printable.
 */
#include <stdarg.h>
#include <stdio.h>

#include "imap_parser_private.h"
#include "mail_flags.h"

/* ---- checking values ---- */

int
imap_ck_fail(struct imap_check *ck, const char *fmt, ...)
{
	char msg[sizeof(ck->err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mail_err_set(ck->err, MAIL_ERR_PROTO, "%s%s: %s",
	    ck->cmd->uid ? "UID " : "", imap_cmd_type_name(ck->cmd->type), msg);
}

const char *
imap_ck_show(struct imap_check *ck, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_LIST:
		return "(...)";
	case IMAP_ARG_LITERAL:
		return "{literal}";
	default:
		return imap_show(ck->show, sizeof(ck->show), a->str, a->len);
	}
}

size_t
imap_count(const struct imap_arg *a)
{
	size_t n = 0;

	for (; a != NULL; a = a->next)
		n++;
	return n;
}

bool
imap_atom_is(const struct imap_arg *a, const char *word)
{
	return a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_NIL) && imap_word_eq(a->str, a->len, word);
}

int
imap_ck_end(struct imap_check *ck, const struct imap_arg *a)
{
	if (a != NULL)
		return imap_ck_fail(ck, "unexpected argument '%s'",
		    imap_ck_show(ck, a));
	return 0;
}

int
imap_name_index(const char *const *names, size_t count, const char *s,
    size_t n)
{
	for (size_t i = 0; i < count; i++) {
		if (names[i] != NULL && imap_word_eq(s, n, names[i]))
			return (int)i;
	}
	return -1;
}

int
imap_name_of_(const char *const *names, size_t count,
    const struct imap_arg *a)
{
	if (a == NULL || (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL))
		return -1;
	return imap_name_index(names, count, a->str, a->len);
}

/* A string read as bytes: not a literal8, which may hold NULs. */
static int
imap_ck_strval(struct imap_check *ck, const struct imap_arg *a,
    const char *what, struct imap_str *out)
{
	if (a->flags & (IMAP_ARG_F_LITERAL8 | IMAP_ARG_F_STREAMED))
		return imap_ck_fail(ck, "%s can not be a literal8", what);
	out->data = a->str;
	out->len = a->len;
	return 0;
}

/* An astring whose value, if secret, is never shown. */
static int
imap_ck_astring2(struct imap_check *ck, const struct imap_arg *a,
    const char *what, bool secret, struct imap_str *out)
{
	if (a == NULL)
		return imap_ck_fail(ck, "missing %s", what);
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
		if (!imap_all(a->str, a->len, imap_is_astring_char))
			return imap_ck_fail(ck, "invalid %s '%s'", what,
			    secret ? "***" : imap_ck_show(ck, a));
		return imap_ck_strval(ck, a, what, out);
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		return imap_ck_strval(ck, a, what, out);
	default:
		return imap_ck_fail(ck, "%s must be a string, not a list",
		    what);
	}
}

int
imap_ck_astring(struct imap_check *ck, const struct imap_arg *a,
    const char *what, struct imap_str *out)
{
	return imap_ck_astring2(ck, a, what, false, out);
}

/* string = quoted / literal */
static int
imap_ck_string(struct imap_check *ck, const struct imap_arg *a,
    const char *what, struct imap_str *out)
{
	if (a == NULL)
		return imap_ck_fail(ck, "missing %s", what);
	if (a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL)
		return imap_ck_fail(ck, "%s must be a quoted string or a "
		    "literal", what);
	return imap_ck_strval(ck, a, what, out);
}

/* nstring = string / nil */
static int
imap_ck_nstring(struct imap_check *ck, const struct imap_arg *a,
    const char *what, struct imap_str *out)
{
	if (a != NULL && a->type == IMAP_ARG_NIL) {
		out->data = NULL;
		out->len = 0;
		return 0;
	}
	return imap_ck_string(ck, a, what, out);
}

/* list-mailbox = 1*list-char / string */
static int
imap_ck_list_mailbox(struct imap_check *ck, const struct imap_arg *a,
    struct imap_str *out)
{
	if (a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_NIL)) {
		if (!imap_all(a->str, a->len, imap_is_list_char))
			return imap_ck_fail(ck, "invalid mailbox pattern '%s'",
			    imap_ck_show(ck, a));
		out->data = a->str;
		out->len = a->len;
		return 0;
	}
	return imap_ck_astring(ck, a, "mailbox pattern", out);
}

int
imap_ck_atom(struct imap_check *ck, const struct imap_arg *a,
    const char *what, const char **out)
{
	if (a == NULL)
		return imap_ck_fail(ck, "missing %s", what);
	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL) ||
	    !imap_all(a->str, a->len, imap_is_atom_char))
		return imap_ck_fail(ck, "invalid %s '%s'", what,
		    imap_ck_show(ck, a));
	*out = a->str;
	return 0;
}

int
imap_ck_num(struct imap_check *ck, const struct imap_arg *a,
    const char *what, bool nz, uint64_t max, uint64_t *v_r)
{
	if (a == NULL)
		return imap_ck_fail(ck, "missing %s", what);
	if (a->type != IMAP_ARG_ATOM ||
	    !imap_num_parse(a->str, a->len, max, nz, v_r))
		return imap_ck_fail(ck, "invalid %s '%s'", what,
		    imap_ck_show(ck, a));
	return 0;
}

int
imap_ck_seqset(struct imap_check *ck, const struct imap_arg *a,
    bool dollar, struct imap_seqset *set)
{
	if (a == NULL)
		return imap_ck_fail(ck, "missing sequence set");
	if (a->type != IMAP_ARG_ATOM ||
	    imap_seqset_parse(ck->a, a->str, a->len, dollar, set,
	    ck->err) < 0)
		return imap_ck_fail(ck, "invalid sequence set '%s'",
		    imap_ck_show(ck, a));
	return 0;
}

int
imap_ck_list(struct imap_check *ck, const struct imap_arg *a,
    const char *what, bool nonempty, const struct imap_arg **first_r)
{
	if (a == NULL)
		return imap_ck_fail(ck, "missing %s", what);
	if (a->type != IMAP_ARG_LIST)
		return imap_ck_fail(ck, "%s must be a list", what);
	if (nonempty && a->len == 0)
		return imap_ck_fail(ck, "empty %s", what);
	*first_r = a->list;
	return 0;
}

int
imap_ck_flags(struct imap_check *ck, const struct imap_arg *a, size_t n,
    struct imap_flags *f)
{
	const char **kw = imap_arena_array(ck->a, n, sizeof(*kw));
	struct mail_err e;
	uint16_t bit;

	memset(f, 0, sizeof(*f));
	for (; a != NULL && n > 0; a = a->next, n--) {
		int r;

		if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL)
			return imap_ck_fail(ck, "invalid flag '%s'",
			    imap_ck_show(ck, a));
		/* \Recent and unknown system flags are refused here */
		if ((r = mail_flag_parse(a->str, &bit, &e)) < 0)
			return imap_ck_fail(ck, "%s", e.msg);
		if (r == 1)
			f->sys |= bit;
		else
			kw[f->n_keywords++] = a->str;
	}
	f->keywords = kw;
	return 0;
}

/*
 * X / "(" X *(SP X) ")" of strings, each checked by one(): sets *v_r (in
 * the arena) and *n_r. Returns 1 for a list, 0 for a single X, or -1.
 */
static int
imap_ck_str_list(struct imap_check *ck, const struct imap_arg *a,
    const char *what, int (*one)(struct imap_check *ck,
    const struct imap_arg *a, struct imap_str *out),
    const struct imap_str **v_r, size_t *n_r)
{
	const struct imap_arg *e = a;
	bool list = a != NULL && a->type == IMAP_ARG_LIST;
	struct imap_str *v;
	size_t n = 1;

	if (list) {
		if (imap_ck_list(ck, a, what, true, &e) < 0)
			return -1;
		n = a->len;
	}
	*v_r = v = imap_arena_array(ck->a, n, sizeof(*v));
	*n_r = n;
	for (size_t i = 0; i < n; i++, e = e->next) {
		if (one(ck, e, &v[i]) < 0)
			return -1;
	}
	return list ? 1 : 0;
}

/* ---- option lists ---- */

/*
 * Every "( option ... )" of the grammar is read by one loop over this one
 * table, by enum imap_opt_list.
 */
static imap_opt_arg_fn imap_ck_qresync, imap_ck_create_use,
    imap_ck_list_status, imap_ck_maxsize, imap_ck_depth;

const struct imap_opt_list_def imap_opt_lists[IMAP_OPTS_STORE + 1] = {
	/* RFC 7162 3.1.8, 3.2.5 */
	[IMAP_OPTS_SELECT] = { "parameter list", "parameter", true,
	    { "CONDSTORE", "QRESYNC" }, { NULL, imap_ck_qresync } },
	/* RFC 6154 3 */
	[IMAP_OPTS_CREATE] = { "parameter list", "parameter", true,
	    { "USE" }, { imap_ck_create_use } },
	/* RFC 9051 6.3.11; SIZE RFC 8438, RECENT RFC 3501, RFC 7162 */
	[IMAP_OPTS_STATUS] = { "status item list", "status item", true,
	    { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED",
	    "SIZE", "RECENT", "HIGHESTMODSEQ" }, { NULL } },
	/* RFC 5258 3.1, RFC 6154 */
	[IMAP_OPTS_LIST_SEL] = { "selection options", "selection option",
	    false, { "SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE" },
	    { NULL } },
	/* RFC 5258 3.2, RFC 6154, RFC 5819 */
	[IMAP_OPTS_LIST_RET] = { "return options", "return option", false,
	    { "SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS" },
	    { NULL, NULL, NULL, imap_ck_list_status } },
	/* RFC 5464 4.2 */
	[IMAP_OPTS_GETMETADATA] = { "option list", "option", true,
	    { "MAXSIZE", "DEPTH" }, { imap_ck_maxsize, imap_ck_depth } },
	/* RFC 4731 3.1, RFC 5182 2.1 */
	[IMAP_OPTS_SEARCH_RET] = { "RETURN options", "RETURN option", false,
	    { "MIN", "MAX", "ALL", "COUNT", "SAVE" }, { NULL } },
	/* RFC 7162 3.1.4, 3.2.6 */
	[IMAP_OPTS_FETCH] = { "modifier list", "modifier", true,
	    { "CHANGEDSINCE", "VANISHED" }, { imap_ck_modseq_modifier } },
	/* RFC 7162 3.1.3 */
	[IMAP_OPTS_STORE] = { "modifier list", "modifier", true,
	    { "UNCHANGEDSINCE" }, { imap_ck_modseq_modifier } },
};

/* names[i] is bit 1 << i: a bit added to a public set in imap_parser.h
 * must be added to its list here too. */
_Static_assert(IMAP_STATUS_HIGHESTMODSEQ == 1 << 7 &&
    IMAP_LIST_SEL_SPECIAL_USE == 1 << 3 && IMAP_LIST_RET_STATUS == 1 << 3 &&
    IMAP_SEARCH_RET_SAVE == 1 << 4, "option bits follow the table");

int
imap_ck_options(struct imap_check *ck, const struct imap_arg *a,
    enum imap_opt_list which, unsigned *bits_r)
{
	const struct imap_opt_list_def *l = &imap_opt_lists[which];
	const struct imap_arg *e;
	int i;

	if (imap_ck_list(ck, a, l->what, l->nonempty, &e) < 0)
		return -1;
	for (*bits_r = 0; e != NULL; e = e->next) {
		if ((i = imap_name_of(l->names, e)) < 0)
			return imap_ck_fail(ck, "unknown %s '%s'", l->kind,
			    imap_ck_show(ck, e));
		*bits_r |= 1u << i;
		if (l->args[i] == NULL)
			continue;
		if (l->args[i](ck, e->next) < 0)
			return -1;
		if ((e = e->next) == NULL)
			break;
	}
	return 0;
}

int
imap_ck_options_opt(struct imap_check *ck, const struct imap_arg **ap,
    enum imap_opt_list which, unsigned *bits_r)
{
	const struct imap_arg *a = *ap;

	*bits_r = 0;
	if (a == NULL || a->type != IMAP_ARG_LIST)
		return 0;
	if (imap_ck_options(ck, a, which, bits_r) < 0)
		return -1;
	*ap = a->next;
	return 1;
}

/* "(" status-att *(SP status-att) ")" */
static int
imap_ck_status_items(struct imap_check *ck, const struct imap_arg *a,
    unsigned *items)
{
	return imap_ck_options(ck, a, IMAP_OPTS_STATUS, items);
}

/* RETURN (STATUS (items)) of LIST (RFC 5819) */
static int
imap_ck_list_status(struct imap_check *ck, const struct imap_arg *a)
{
	return imap_ck_status_items(ck, a, &ck->cmd->u.list.status);
}

/* ---- the commands ---- */

static int
imap_ck_none(struct imap_check *ck)
{
	return imap_ck_end(ck, ck->cmd->args);
}

/* LOGIN SP userid SP password */
static int
imap_ck_login(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (imap_ck_astring(ck, a, "user name", &ck->cmd->u.login.user) < 0 ||
	    imap_ck_astring2(ck, a = a->next, "password", true,
	    &ck->cmd->u.login.password) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/* initial-resp = base64 / "=" (RFC 4959); base64 as in RFC 9051. */
static bool
imap_base64_valid(const char *s, size_t n)
{
	size_t pad = 0;

	if (n == 1 && s[0] == '=')
		return true;
	if (n == 0 || n % 4 != 0)
		return false;
	while (pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++) {
		if (mail_base64_value(s[i], '/') < 0)
			return false;
	}
	return true;
}

/* AUTHENTICATE SP auth-type [SP (base64 / "=")] (RFC 4959 SASL-IR) */
static int
imap_ck_authenticate(struct imap_check *ck)
{
	typeof(ck->cmd->u.authenticate) *au = &ck->cmd->u.authenticate;
	const struct imap_arg *a;

	if (imap_ck_atom(ck, ck->cmd->args, "mechanism", &au->mechanism) < 0)
		return -1;
	if ((a = ck->cmd->args->next) == NULL)
		return 0;
	if (a->type != IMAP_ARG_ATOM || !imap_base64_valid(a->str, a->len))
		return imap_ck_fail(ck, "invalid initial response");
	au->has_initial = true;
	au->initial.data = a->len == 1 ? "" : a->str;
	au->initial.len = a->len == 1 ? 0 : a->len;
	return imap_ck_end(ck, a->next);
}

/* ENABLE 1*(SP capability) (RFC 5161) */
static int
imap_ck_enable(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	size_t n = imap_count(a);
	const char **caps = imap_arena_array(ck->a, n, sizeof(*caps));

	if (n == 0)
		return imap_ck_fail(ck, "missing capability");
	for (size_t i = 0; i < n; i++, a = a->next) {
		if (imap_ck_atom(ck, a, "capability", &caps[i]) < 0)
			return -1;
	}
	ck->cmd->u.enable.n = n;
	ck->cmd->u.enable.caps = caps;
	return 0;
}

/* ID SP ("(" *(string SP nstring) ")" / nil) (RFC 2971; "()" is
 * accepted as clients send it) */
static int
imap_ck_id(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;
	struct imap_str *keys, *values;
	size_t n;

	if (a != NULL && a->type == IMAP_ARG_NIL)
		return imap_ck_end(ck, a->next);
	if (imap_ck_list(ck, a, "parameter list", false, &e) < 0)
		return -1;
	if (a->len % 2 != 0)
		return imap_ck_fail(ck, "parameter without a value");
	n = a->len / 2;
	keys = imap_arena_array(ck->a, n, sizeof(*keys));
	values = imap_arena_array(ck->a, n, sizeof(*values));
	for (size_t i = 0; i < n; i++, e = e->next->next) {
		if (imap_ck_string(ck, e, "field name", &keys[i]) < 0 ||
		    imap_ck_nstring(ck, e->next, "field value", &values[i]) < 0)
			return -1;
	}
	ck->cmd->u.id.n = n;
	ck->cmd->u.id.keys = keys;
	ck->cmd->u.id.values = values;
	return imap_ck_end(ck, a->next);
}

/* COMPRESS SP algorithm (RFC 4978) */
static int
imap_ck_compress(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (imap_ck_atom(ck, a, "algorithm",
	    &ck->cmd->u.compress.mechanism) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/* "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
 * [SP seq-match-data] ")" (RFC 7162 3.2.5) */
static int
imap_ck_qresync(struct imap_check *ck, const struct imap_arg *a)
{
	typeof(ck->cmd->u.select) *sel = &ck->cmd->u.select;
	const struct imap_arg *q, *m;
	uint64_t v;

	if (imap_ck_list(ck, a, "QRESYNC parameter", true, &q) < 0 ||
	    imap_ck_num(ck, q, "UIDVALIDITY", true, UINT32_MAX, &v) < 0)
		return -1;
	sel->uidvalidity = (uint32_t)v;
	if (imap_ck_num(ck, q = q->next, "modseq", true, IMAP_MODSEQ_MAX,
	    &sel->modseq) < 0)
		return -1;
	q = q->next;
	if (q != NULL && q->type == IMAP_ARG_ATOM) {
		if (imap_ck_seqset(ck, q, false, &sel->known_uids) < 0)
			return -1;
		sel->has_known_uids = true;
		q = q->next;
	}
	if (q != NULL && q->type == IMAP_ARG_LIST) {
		/* seq-match-data = "(" known-sequence-set SP known-uid-set ")" */
		if (q->len != 2)
			return imap_ck_fail(ck, "invalid QRESYNC sequence "
			    "match data");
		m = q->list;
		if (imap_ck_seqset(ck, m, false, &sel->known_seqs) < 0 ||
		    imap_ck_seqset(ck, m->next, false,
		    &sel->known_seq_uids) < 0)
			return -1;
		sel->has_seq_match = true;
		q = q->next;
	}
	return imap_ck_end(ck, q);
}

/* mailbox [SP "(" param *(SP param) ")"] of SELECT, EXAMINE and CREATE
 * (RFC 4466 2.1, 2.2): sets *params_r to the bits of the parameters. */
static int
imap_ck_mailbox_params(struct imap_check *ck, struct imap_str *mailbox,
    enum imap_opt_list which, unsigned *params_r)
{
	const struct imap_arg *a = ck->cmd->args;

	*params_r = 0;
	if (imap_ck_astring(ck, a, "mailbox", mailbox) < 0)
		return -1;
	if ((a = a->next) == NULL)
		return 0;
	if (imap_ck_options(ck, a, which, params_r) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/* SELECT/EXAMINE SP mailbox [SP "(" select-param *(SP select-param) ")"]
 * (CONDSTORE, QRESYNC of RFC 7162) */
static int
imap_ck_select(struct imap_check *ck)
{
	typeof(ck->cmd->u.select) *sel = &ck->cmd->u.select;
	unsigned params;

	if (imap_ck_mailbox_params(ck, &sel->mailbox, IMAP_OPTS_SELECT,
	    &params) < 0)
		return -1;
	sel->condstore = (params & IMAP_OPT_CONDSTORE) != 0;
	sel->qresync = (params & IMAP_OPT_QRESYNC) != 0;
	return 0;
}

/* "USE" SP "(" [use-attr *(SP use-attr)] ")"; use-attr = "\" atom */
static int
imap_ck_create_use(struct imap_check *ck, const struct imap_arg *a)
{
	const struct imap_arg *u;
	const char **use;
	size_t n = 0;

	if (imap_ck_list(ck, a, "USE list", false, &u) < 0)
		return -1;
	use = imap_arena_array(ck->a, a->len, sizeof(*use));
	for (; u != NULL; u = u->next) {
		if (u->type != IMAP_ARG_ATOM || u->len < 2 ||
		    u->str[0] != '\\' ||
		    !imap_all(u->str + 1, u->len - 1, imap_is_atom_char))
			return imap_ck_fail(ck, "invalid special-use "
			    "attribute '%s'", imap_ck_show(ck, u));
		use[n++] = u->str;
	}
	ck->cmd->u.create.use = use;
	ck->cmd->u.create.n_use = n;
	return 0;
}

/* CREATE SP mailbox [SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")"
 * ")"] (RFC 6154 CREATE-SPECIAL-USE) */
static int
imap_ck_create(struct imap_check *ck)
{
	unsigned params;

	return imap_ck_mailbox_params(ck, &ck->cmd->u.create.mailbox,
	    IMAP_OPTS_CREATE, &params);
}

/* DELETE, SUBSCRIBE, UNSUBSCRIBE SP mailbox */
static int
imap_ck_mailbox(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (imap_ck_astring(ck, a, "mailbox", &ck->cmd->u.mailbox.mailbox) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

static int
imap_ck_rename(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (imap_ck_astring(ck, a, "mailbox", &ck->cmd->u.rename.from) < 0 ||
	    imap_ck_astring(ck, a = a->next, "new mailbox name",
	    &ck->cmd->u.rename.to) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/*
 * LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
 * (RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE)
 */
static int
imap_ck_list_cmd(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	typeof(ck->cmd->u.list) *l = &ck->cmd->u.list;
	int r;

	if ((r = imap_ck_options_opt(ck, &a, IMAP_OPTS_LIST_SEL,
	    &l->select)) < 0)
		return -1;
	l->extended = r == 1;
	/* RECURSIVEMATCH only modifies a base option (RFC 5258 3) */
	if ((l->select & IMAP_LIST_SEL_RECURSIVEMATCH) &&
	    !(l->select & (IMAP_LIST_SEL_SUBSCRIBED |
	    IMAP_LIST_SEL_SPECIAL_USE)))
		return imap_ck_fail(ck, "RECURSIVEMATCH without a selection "
		    "option it modifies");
	if (imap_ck_astring(ck, a, "reference", &l->ref) < 0 ||
	    (r = imap_ck_str_list(ck, a = a->next, "pattern list",
	    imap_ck_list_mailbox, &l->patterns, &l->n_patterns)) < 0)
		return -1;
	if (r == 1)
		l->extended = true;
	a = a->next;
	if (imap_atom_is(a, "RETURN")) {
		l->extended = true;
		if (imap_ck_options(ck, a = a->next, IMAP_OPTS_LIST_RET,
		    &l->ret) < 0)
			return -1;
		a = a->next;
	}
	return imap_ck_end(ck, a);
}

/* LSUB SP mailbox SP list-mailbox */
static int
imap_ck_lsub(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	struct imap_str *pat = imap_arena_alloc(ck->a, sizeof(*pat));

	if (imap_ck_astring(ck, a, "reference", &ck->cmd->u.list.ref) < 0 ||
	    imap_ck_list_mailbox(ck, a = a->next, pat) < 0)
		return -1;
	ck->cmd->u.list.n_patterns = 1;
	ck->cmd->u.list.patterns = pat;
	return imap_ck_end(ck, a->next);
}

/* STATUS SP mailbox SP "(" status-att *(SP status-att) ")" */
static int
imap_ck_status(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (imap_ck_astring(ck, a, "mailbox", &ck->cmd->u.status.mailbox) < 0 ||
	    imap_ck_status_items(ck, a = a->next, &ck->cmd->u.status.items) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/*
 * APPEND SP mailbox 1*(append-opts SP append-data), append-opts =
 * [SP flag-list] [SP date-time]; append-data = literal / literal8
 * (RFC 3502 MULTIAPPEND, RFC 3516). No append-ext (CATENATE, UTF8).
 */
static int
imap_ck_append(struct imap_check *ck)
{
	typeof(ck->cmd->u.append) *ap = &ck->cmd->u.append;
	const struct imap_arg *a = ck->cmd->args;
	struct imap_append_msg *msgs, *m;
	size_t n = 0;

	if (imap_ck_astring(ck, a, "mailbox", &ap->mailbox) < 0)
		return -1;
	for (const struct imap_arg *e = a->next; e != NULL; e = e->next)
		n += e->type == IMAP_ARG_LITERAL;
	/* one more: a message's options are filled before its literal is
	 * known to be there */
	ap->msgs = msgs = imap_arena_array(ck->a, n + 1, sizeof(*msgs));
	if ((a = a->next) == NULL)
		return imap_ck_fail(ck, "missing message");
	for (; a != NULL; a = a->next) {
		m = &msgs[ap->n_msgs];
		if (a->type == IMAP_ARG_LIST) {
			m->has_flags = true;
			if (imap_ck_flags(ck, a->list, a->len, &m->flags) < 0)
				return -1;
			a = a->next;
		}
		if (a != NULL && a->type == IMAP_ARG_QUOTED) {
			m->has_date = true;
			if (imap_datetime_parse(a->str, a->len, &m->date,
			    ck->err) < 0)
				return imap_ck_fail(ck, "invalid date-time "
				    "'%s'", imap_ck_show(ck, a));
			a = a->next;
		}
		if (a == NULL || a->type != IMAP_ARG_LITERAL)
			return imap_ck_fail(ck, "expected the message as a "
			    "literal%s%s", a != NULL ? ", not " : "",
			    a != NULL ? imap_ck_show(ck, a) : "");
		m->binary = (a->flags & IMAP_ARG_F_LITERAL8) != 0;
		m->streamed = (a->flags & IMAP_ARG_F_STREAMED) != 0;
		m->size = a->len;
		m->data = (const uint8_t *)a->str;
		ap->n_msgs++;
	}
	return 0;
}

/*
 * RFC 5464 3.2: an entry name is a "/"-separated path: it starts with
 * "/", has no "*", "%", "//", trailing "/", controls or non-ASCII.
 */
static int
imap_ck_entry(struct imap_check *ck, const struct imap_arg *a,
    struct imap_str *out)
{
	const char *s;
	size_t n;

	if (imap_ck_astring(ck, a, "entry", out) < 0)
		return -1;
	s = out->data;
	n = out->len;
	if (n < 2 || s[0] != '/' || s[n - 1] == '/')
		goto bad;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c < 0x20 || c >= 0x7f || c == '*' || c == '%' ||
		    (c == '/' && i + 1 < n && s[i + 1] == '/'))
			goto bad;
	}
	return 0;
bad:
	return imap_ck_fail(ck, "invalid entry name '%s'", imap_ck_show(ck, a));
}

const char *const
    imap_metadata_depth_names[IMAP_METADATA_DEPTH_INFINITY + 1] = {
	[IMAP_METADATA_DEPTH_0] = "0",
	[IMAP_METADATA_DEPTH_1] = "1",
	[IMAP_METADATA_DEPTH_INFINITY] = "infinity",
};

/* "MAXSIZE" SP number */
static int
imap_ck_maxsize(struct imap_check *ck, const struct imap_arg *a)
{
	uint64_t v;

	if (imap_ck_num(ck, a, "MAXSIZE", false, UINT32_MAX, &v) < 0)
		return -1;
	ck->cmd->u.getmetadata.maxsize = (uint32_t)v;
	return 0;
}

/* "DEPTH" SP ("0" / "1" / "infinity") */
static int
imap_ck_depth(struct imap_check *ck, const struct imap_arg *a)
{
	int d = imap_name_of(imap_metadata_depth_names, a);

	if (d < 0)
		return imap_ck_fail(ck, "invalid DEPTH");
	ck->cmd->u.getmetadata.depth = (enum imap_metadata_depth)d;
	return 0;
}

/* GETMETADATA [SP "(" option *(SP option) ")"] SP mailbox SP entries
 * (RFC 5464 4.2) */
static int
imap_ck_getmetadata(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	typeof(ck->cmd->u.getmetadata) *g = &ck->cmd->u.getmetadata;
	unsigned opts;

	if (imap_ck_options_opt(ck, &a, IMAP_OPTS_GETMETADATA, &opts) < 0)
		return -1;
	g->has_maxsize = (opts & IMAP_OPT_MAXSIZE) != 0;
	if (imap_ck_astring(ck, a, "mailbox", &g->mailbox) < 0 ||
	    imap_ck_str_list(ck, a = a->next, "entry list", imap_ck_entry,
	    &g->entries, &g->n_entries) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/* SETMETADATA SP mailbox SP "(" entry SP value *(SP entry SP value) ")";
 * value = nstring / literal8 (RFC 5464 4.3) */
static int
imap_ck_setmetadata(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.setmetadata) *s = &ck->cmd->u.setmetadata;
	struct imap_metadata_entry *entries;

	if (imap_ck_astring(ck, a, "mailbox", &s->mailbox) < 0 ||
	    imap_ck_list(ck, a = a->next, "entry list", true, &e) < 0)
		return -1;
	if (a->len % 2 != 0)
		return imap_ck_fail(ck, "entry without a value");
	s->n_entries = a->len / 2;
	s->entries = entries = imap_arena_array(ck->a, s->n_entries,
	    sizeof(*entries));
	for (size_t i = 0; i < s->n_entries; i++, e = e->next->next) {
		struct imap_metadata_entry *m = &entries[i];
		const struct imap_arg *v = e->next;

		if (imap_ck_entry(ck, e, &m->name) < 0)
			return -1;
		if (v->type == IMAP_ARG_LITERAL &&
		    (v->flags & IMAP_ARG_F_LITERAL8)) {
			m->binary = true;
			m->value.data = v->str;
			m->value.len = v->len;
		} else if (imap_ck_nstring(ck, v, "value", &m->value) < 0) {
			return -1;
		}
	}
	return imap_ck_end(ck, a->next);
}

/* EXPUNGE, or UID EXPUNGE SP sequence-set (RFC 4315) */
static int
imap_ck_expunge(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (!ck->cmd->uid)
		return imap_ck_none(ck);
	if (imap_ck_seqset(ck, a, true, &ck->cmd->u.expunge.set) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/* COPY/MOVE SP sequence-set SP mailbox */
static int
imap_ck_copy(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (imap_ck_seqset(ck, a, true, &ck->cmd->u.copy.set) < 0 ||
	    imap_ck_astring(ck, a = a->next, "mailbox",
	    &ck->cmd->u.copy.mailbox) < 0)
		return -1;
	return imap_ck_end(ck, a->next);
}

/* ---- the command table ---- */

/* A command we know: its name, whether "UID" may precede it, and the
 * function that checks its arguments. */
static const struct {
	const char *name;
	bool	 uid;
	int	(*check)(struct imap_check *ck);
} imap_cmd_defs[IMAP_CMD_COUNT_] = {
	[IMAP_CMD_UNKNOWN] = { "", false, NULL },
	[IMAP_CMD_CAPABILITY] = { "CAPABILITY", false, imap_ck_none },
	[IMAP_CMD_NOOP] = { "NOOP", false, imap_ck_none },
	[IMAP_CMD_LOGOUT] = { "LOGOUT", false, imap_ck_none },
	[IMAP_CMD_STARTTLS] = { "STARTTLS", false, imap_ck_none },
	[IMAP_CMD_AUTHENTICATE] = { "AUTHENTICATE", false,
	    imap_ck_authenticate },
	[IMAP_CMD_LOGIN] = { "LOGIN", false, imap_ck_login },
	[IMAP_CMD_ENABLE] = { "ENABLE", false, imap_ck_enable },
	[IMAP_CMD_ID] = { "ID", false, imap_ck_id },
	[IMAP_CMD_COMPRESS] = { "COMPRESS", false, imap_ck_compress },
	[IMAP_CMD_SELECT] = { "SELECT", false, imap_ck_select },
	[IMAP_CMD_EXAMINE] = { "EXAMINE", false, imap_ck_select },
	[IMAP_CMD_CREATE] = { "CREATE", false, imap_ck_create },
	[IMAP_CMD_DELETE] = { "DELETE", false, imap_ck_mailbox },
	[IMAP_CMD_RENAME] = { "RENAME", false, imap_ck_rename },
	[IMAP_CMD_SUBSCRIBE] = { "SUBSCRIBE", false, imap_ck_mailbox },
	[IMAP_CMD_UNSUBSCRIBE] = { "UNSUBSCRIBE", false, imap_ck_mailbox },
	[IMAP_CMD_LIST] = { "LIST", false, imap_ck_list_cmd },
	[IMAP_CMD_LSUB] = { "LSUB", false, imap_ck_lsub },
	[IMAP_CMD_NAMESPACE] = { "NAMESPACE", false, imap_ck_none },
	[IMAP_CMD_STATUS] = { "STATUS", false, imap_ck_status },
	[IMAP_CMD_APPEND] = { "APPEND", false, imap_ck_append },
	[IMAP_CMD_IDLE] = { "IDLE", false, imap_ck_none },
	[IMAP_CMD_GETMETADATA] = { "GETMETADATA", false, imap_ck_getmetadata },
	[IMAP_CMD_SETMETADATA] = { "SETMETADATA", false, imap_ck_setmetadata },
	[IMAP_CMD_CHECK] = { "CHECK", false, imap_ck_none },
	[IMAP_CMD_CLOSE] = { "CLOSE", false, imap_ck_none },
	[IMAP_CMD_UNSELECT] = { "UNSELECT", false, imap_ck_none },
	[IMAP_CMD_EXPUNGE] = { "EXPUNGE", true, imap_ck_expunge },
	[IMAP_CMD_SEARCH] = { "SEARCH", true, imap_ck_search },
	[IMAP_CMD_SORT] = { "SORT", true, imap_ck_sort },
	[IMAP_CMD_THREAD] = { "THREAD", true, imap_ck_thread },
	[IMAP_CMD_FETCH] = { "FETCH", true, imap_ck_fetch },
	[IMAP_CMD_STORE] = { "STORE", true, imap_ck_store },
	[IMAP_CMD_COPY] = { "COPY", true, imap_ck_copy },
	[IMAP_CMD_MOVE] = { "MOVE", true, imap_ck_copy },
};

enum imap_cmd_type
imap_cmd_lookup(const char *name, size_t len, bool uid)
{
	for (size_t i = 1; i < N_ELEMENTS(imap_cmd_defs); i++) {
		if (imap_word_eq(name, len, imap_cmd_defs[i].name))
			return uid && !imap_cmd_defs[i].uid ? IMAP_CMD_UNKNOWN :
			    (enum imap_cmd_type)i;
	}
	return IMAP_CMD_UNKNOWN;
}

const char *
imap_cmd_type_name(enum imap_cmd_type type)
{
	return (unsigned)type < N_ELEMENTS(imap_cmd_defs) ?
	    imap_cmd_defs[type].name : "";
}

int
imap_cmd_check(struct imap_cmd *cmd, unsigned max_search_depth,
    struct mail_err *err)
{
	struct imap_check ck;

	mail_assert(cmd->type > IMAP_CMD_UNKNOWN &&
	    cmd->type < IMAP_CMD_COUNT_);
	memset(&ck, 0, sizeof(ck));
	ck.a = cmd->arena;
	ck.cmd = cmd;
	ck.max_search_depth = max_search_depth;
	ck.err = err;
	return imap_cmd_defs[cmd->type].check(&ck);
}

void
imap_cmd_free(struct imap_cmd **cmdp)
{
	struct imap_arena *a;

	if (*cmdp == NULL)
		return;
	a = (*cmdp)->arena;	/* the command itself is in its arena */
	imap_arena_free(&a);
	*cmdp = NULL;
}
