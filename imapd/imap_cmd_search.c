/*
 * imap_cmd_search.c: SEARCH, SORT and THREAD of the command layer
 * (imap_parser_private.h): search keys (RFC 9051 search-key, WITHIN RFC
 * 5032, SAVEDATE RFC 8514, MODSEQ RFC 7162, "$" RFC 5182), ESEARCH RETURN
 * options (RFC 4731), sort criteria (RFC 5256, RFC 5267, RFC 5957) and
 * threading algorithms.
 *
 * Search keys are prefix expressions (OR a b, NOT a) and parenthesized
 * lists. They are built into a tree under one AND node with an explicit
 * stack of frames as deep as max_search_depth: no recursion on input, so
 * a deep key costs a bounded stack and a clear [LIMIT] error.
 */
#include "imap_parser_private.h"
#include "mail_flags.h"

const struct imap_sk_def imap_sk_defs[IMAP_SK_MODSEQ + 1] = {
	[IMAP_SK_AND] = { "", IMAP_SKA_SUB },
	[IMAP_SK_OR] = { "OR", IMAP_SKA_SUB },
	[IMAP_SK_NOT] = { "NOT", IMAP_SKA_SUB },
	[IMAP_SK_ALL] = { "ALL", IMAP_SKA_NONE },
	[IMAP_SK_ANSWERED] = { "ANSWERED", IMAP_SKA_NONE },
	[IMAP_SK_DELETED] = { "DELETED", IMAP_SKA_NONE },
	[IMAP_SK_DRAFT] = { "DRAFT", IMAP_SKA_NONE },
	[IMAP_SK_FLAGGED] = { "FLAGGED", IMAP_SKA_NONE },
	[IMAP_SK_NEW] = { "NEW", IMAP_SKA_NONE },
	[IMAP_SK_OLD] = { "OLD", IMAP_SKA_NONE },
	[IMAP_SK_RECENT] = { "RECENT", IMAP_SKA_NONE },
	[IMAP_SK_SEEN] = { "SEEN", IMAP_SKA_NONE },
	[IMAP_SK_UNANSWERED] = { "UNANSWERED", IMAP_SKA_NONE },
	[IMAP_SK_UNDELETED] = { "UNDELETED", IMAP_SKA_NONE },
	[IMAP_SK_UNDRAFT] = { "UNDRAFT", IMAP_SKA_NONE },
	[IMAP_SK_UNFLAGGED] = { "UNFLAGGED", IMAP_SKA_NONE },
	[IMAP_SK_UNSEEN] = { "UNSEEN", IMAP_SKA_NONE },
	[IMAP_SK_KEYWORD] = { "KEYWORD", IMAP_SKA_KEYWORD },
	[IMAP_SK_UNKEYWORD] = { "UNKEYWORD", IMAP_SKA_KEYWORD },
	[IMAP_SK_BCC] = { "BCC", IMAP_SKA_ASTRING },
	[IMAP_SK_BODY] = { "BODY", IMAP_SKA_ASTRING },
	[IMAP_SK_CC] = { "CC", IMAP_SKA_ASTRING },
	[IMAP_SK_FROM] = { "FROM", IMAP_SKA_ASTRING },
	[IMAP_SK_SUBJECT] = { "SUBJECT", IMAP_SKA_ASTRING },
	[IMAP_SK_TEXT] = { "TEXT", IMAP_SKA_ASTRING },
	[IMAP_SK_TO] = { "TO", IMAP_SKA_ASTRING },
	[IMAP_SK_HEADER] = { "HEADER", IMAP_SKA_HEADER },
	[IMAP_SK_BEFORE] = { "BEFORE", IMAP_SKA_DATE },
	[IMAP_SK_ON] = { "ON", IMAP_SKA_DATE },
	[IMAP_SK_SINCE] = { "SINCE", IMAP_SKA_DATE },
	[IMAP_SK_SENTBEFORE] = { "SENTBEFORE", IMAP_SKA_DATE },
	[IMAP_SK_SENTON] = { "SENTON", IMAP_SKA_DATE },
	[IMAP_SK_SENTSINCE] = { "SENTSINCE", IMAP_SKA_DATE },
	[IMAP_SK_SAVEDBEFORE] = { "SAVEDBEFORE", IMAP_SKA_DATE },
	[IMAP_SK_SAVEDON] = { "SAVEDON", IMAP_SKA_DATE },
	[IMAP_SK_SAVEDSINCE] = { "SAVEDSINCE", IMAP_SKA_DATE },
	[IMAP_SK_SAVEDATESUPPORTED] = { "SAVEDATESUPPORTED", IMAP_SKA_NONE },
	[IMAP_SK_LARGER] = { "LARGER", IMAP_SKA_NUM64 },
	[IMAP_SK_SMALLER] = { "SMALLER", IMAP_SKA_NUM64 },
	[IMAP_SK_OLDER] = { "OLDER", IMAP_SKA_SECONDS },
	[IMAP_SK_YOUNGER] = { "YOUNGER", IMAP_SKA_SECONDS },
	[IMAP_SK_SEQSET] = { "", IMAP_SKA_SUB },
	[IMAP_SK_UID] = { "UID", IMAP_SKA_UID },
	[IMAP_SK_MODSEQ] = { "MODSEQ", IMAP_SKA_MODSEQ },
};

const char *const imap_modseq_entry_names[IMAP_MODSEQ_ENTRY_ALL + 1] = {
	[IMAP_MODSEQ_ENTRY_PRIV] = "priv",
	[IMAP_MODSEQ_ENTRY_SHARED] = "shared",
	[IMAP_MODSEQ_ENTRY_ALL] = "all",
};

/* The type of the search key named by a, or -1. */
static int
imap_sk_lookup(const struct imap_arg *a)
{
	for (size_t i = 0; i < N_ELEMENTS(imap_sk_defs); i++) {
		if (imap_sk_defs[i].name[0] != '\0' &&
		    imap_atom_is(a, imap_sk_defs[i].name))
			return (int)i;
	}
	return -1;
}

static int
imap_ck_date(struct imap_check *ck, const struct imap_arg *a,
    struct imap_date *d)
{
	if (a == NULL)
		return imap_ck_fail(ck, "missing date");
	/* date = date-text / DQUOTE date-text DQUOTE */
	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED) ||
	    imap_date_parse(a->str, a->len, d, ck->err) < 0)
		return imap_ck_fail(ck, "invalid date '%s'",
		    imap_ck_show(ck, a));
	return 0;
}

/* charset = atom / quoted */
static int
imap_ck_charset(struct imap_check *ck, const struct imap_arg *a,
    const char **charset_r)
{
	if (a != NULL && a->type == IMAP_ARG_QUOTED) {
		*charset_r = a->str;
		return 0;
	}
	return imap_ck_atom(ck, a, "charset", charset_r);
}

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer;
 * entry-name = DQUOTE "/flags/" attr-flag DQUOTE (RFC 7162 3.1.5) */
static int
imap_ck_sk_modseq(struct imap_check *ck, const struct imap_arg **ap,
    struct imap_search_key *k)
{
	const struct imap_arg *a = *ap;
	int t;

	if (a != NULL && a->type == IMAP_ARG_QUOTED) {
		if (a->len <= 7 || strncasecmp(a->str, "/flags/", 7) != 0)
			return imap_ck_fail(ck, "invalid MODSEQ entry '%s'",
			    imap_ck_show(ck, a));
		k->field.data = a->str;
		k->field.len = a->len;
		a = a->next;
		if ((t = imap_name_of(imap_modseq_entry_names, a)) < 0)
			return imap_ck_fail(ck, "invalid MODSEQ entry type");
		k->entry_type = (enum imap_modseq_entry)t;
		a = a->next;
	}
	if (imap_ck_num(ck, a, "modseq", false, IMAP_MODSEQ_MAX, &k->num) < 0)
		return -1;
	*ap = a->next;
	return 0;
}

/* One key that is not OR, NOT or "( )", with its arguments; *ap moves
 * past them. */
static int
imap_ck_sk_simple(struct imap_check *ck, const struct imap_arg **ap,
    struct imap_search_key *k)
{
	const struct imap_arg *a = *ap;
	int type = imap_sk_lookup(a);
	const struct imap_sk_def *def;

	if (type < 0) {
		/* a sequence set: sequence-set / "$" */
		if (a->type == IMAP_ARG_ATOM && a->len > 0 &&
		    (imap_is_digit((uint8_t)a->str[0]) || a->str[0] == '*' ||
		    a->str[0] == '$')) {
			k->type = IMAP_SK_SEQSET;
			*ap = a->next;
			return imap_ck_seqset(ck, a, true, &k->set);
		}
		return imap_ck_fail(ck, "unknown search key '%s'",
		    imap_ck_show(ck, a));
	}
	k->type = (enum imap_search_key_type)type;
	def = &imap_sk_defs[type];
	a = a->next;
	switch (def->arg) {
	case IMAP_SKA_ASTRING:
		if (imap_ck_astring(ck, a, def->name, &k->str) < 0)
			return -1;
		break;
	case IMAP_SKA_KEYWORD:
		if (a == NULL || (a->type != IMAP_ARG_ATOM &&
		    a->type != IMAP_ARG_NIL) || !mail_keyword_valid(a->str))
			return imap_ck_fail(ck, "invalid keyword%s%s%s",
			    a != NULL ? " '" : "",
			    a != NULL ? imap_ck_show(ck, a) : "",
			    a != NULL ? "'" : "");
		k->str.data = a->str;
		k->str.len = a->len;
		break;
	case IMAP_SKA_HEADER:
		if (imap_ck_astring(ck, a, "header field name", &k->field) < 0 ||
		    imap_ck_astring(ck, a = a->next, "header value",
		    &k->str) < 0)
			return -1;
		break;
	case IMAP_SKA_DATE:
		if (imap_ck_date(ck, a, &k->date) < 0)
			return -1;
		break;
	case IMAP_SKA_NUM64:
		if (imap_ck_num(ck, a, def->name, false, IMAP_MODSEQ_MAX,
		    &k->num) < 0)
			return -1;
		break;
	case IMAP_SKA_SECONDS:
		if (imap_ck_num(ck, a, def->name, true, UINT32_MAX,
		    &k->num) < 0)
			return -1;
		break;
	case IMAP_SKA_UID:
		if (imap_ck_seqset(ck, a, true, &k->set) < 0)
			return -1;
		break;
	case IMAP_SKA_MODSEQ:
		*ap = a;
		return imap_ck_sk_modseq(ck, ap, k);
	case IMAP_SKA_NONE:
		*ap = a;
		return 0;
	default:
		mail_assert(!"unexpected search key");
	}
	*ap = a->next;
	return 0;
}

/* An OR or NOT waiting for its keys, or a "( )" (or the whole program)
 * collecting them. */
struct imap_sk_frame {
	struct imap_search_key *node;
	struct imap_search_key *last;	/* its last child so far */
	int	 need;			/* keys still wanted; -1: to the end */
	const struct imap_arg *resume;	/* after a "( )": where to go on */
};

static void
imap_sk_attach(struct imap_sk_frame *f, struct imap_search_key *k)
{
	if (f->last == NULL)
		f->node->child = k;
	else
		f->last->next = k;
	f->last = k;
	if (f->need > 0)
		f->need--;
}

/*
 * search-key *(SP search-key) from a to the end of its list, into an AND
 * node. Prefix operators nest without recursion: a stack of frames, as
 * deep as max_search_depth.
 */
static int
imap_ck_search_keys(struct imap_check *ck, const struct imap_arg *a,
    struct imap_search_key **keys_r)
{
	unsigned max = ck->max_search_depth, top = 0;
	struct imap_sk_frame *st = imap_arena_array(ck->a, max + 1,
	    sizeof(*st));
	struct imap_search_key *k;

	if (a == NULL)
		return imap_ck_fail(ck, "missing search key");
	st[0].node = *keys_r = imap_arena_alloc(ck->a, sizeof(**keys_r));
	st[0].node->type = IMAP_SK_AND;
	st[0].need = -1;
	for (;;) {
		struct imap_sk_frame *f = &st[top];

		if (f->need == 0 || (a == NULL && f->need < 0)) {
			/* this operator or list is complete */
			if (f->need < 0 && f->last == NULL)
				return imap_ck_fail(ck, "empty search key list");
			if (top == 0)
				return 0;
			if (f->need < 0)
				a = f->resume;
			top--;
			imap_sk_attach(&st[top], f->node);
			continue;
		}
		if (a == NULL)
			return imap_ck_fail(ck, "missing search key after %s",
			    f->node->type == IMAP_SK_OR ? "OR" : "NOT");
		k = imap_arena_alloc(ck->a, sizeof(*k));
		if (a->type == IMAP_ARG_LIST || imap_atom_is(a, "OR") ||
		    imap_atom_is(a, "NOT")) {
			if (top == max)
				return mail_err_set(ck->err, MAIL_ERR_LIMIT,
				    "search keys nested too deeply (over %u)",
				    max);
			f = &st[++top];
			memset(f, 0, sizeof(*f));
			f->node = k;
			if (a->type == IMAP_ARG_LIST) {
				k->type = IMAP_SK_AND;
				f->need = -1;
				f->resume = a->next;
				a = a->list;
			} else {
				k->type = imap_atom_is(a, "OR") ? IMAP_SK_OR :
				    IMAP_SK_NOT;
				f->need = k->type == IMAP_SK_OR ? 2 : 1;
				a = a->next;
			}
			continue;
		}
		if (imap_ck_sk_simple(ck, &a, k) < 0)
			return -1;
		imap_sk_attach(f, k);
	}
}

/* "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" */
static int
imap_ck_search_return(struct imap_check *ck, const struct imap_arg **ap,
    struct imap_search *s)
{
	const struct imap_arg *a = *ap;

	if (!imap_atom_is(a, "RETURN"))
		return 0;
	if (imap_ck_options(ck, a = a->next, IMAP_OPTS_SEARCH_RET,
	    &s->ret) < 0)
		return -1;
	s->has_return = true;
	*ap = a->next;
	return 0;
}

/* SEARCH [search-return-opts] SP ["CHARSET" SP charset SP] search-keys */
int
imap_ck_search(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	struct imap_search *s = &ck->cmd->u.search;

	if (imap_ck_search_return(ck, &a, s) < 0)
		return -1;
	if (imap_atom_is(a, "CHARSET")) {
		if (imap_ck_charset(ck, a = a->next, &s->charset) < 0)
			return -1;
		a = a->next;
	}
	return imap_ck_search_keys(ck, a, &s->keys);
}

/* In the order of enum imap_sort_key and enum imap_thread_alg. */
const char *const imap_sort_key_names[IMAP_SORT_DISPLAYTO + 1] = {
	"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
	"DISPLAYFROM", "DISPLAYTO"
};
const char *const imap_thread_alg_names[IMAP_THREAD_REFS + 1] = {
	"ORDEREDSUBJECT", "REFERENCES", "REFS"
};

/* SORT [search-return-opts] SP "(" sort-criterion *(SP sort-criterion)
 * ")" SP charset 1*(SP search-key) (RFC 5256, RFC 5267 ESORT) */
int
imap_ck_sort(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.sort) *s = &ck->cmd->u.sort;
	struct imap_sort_criterion *c;
	int key;

	if (imap_ck_search_return(ck, &a, &s->search) < 0 ||
	    imap_ck_list(ck, a, "sort criteria", true, &e) < 0)
		return -1;
	s->criteria = c = imap_arena_array(ck->a, a->len, sizeof(*c));
	for (; e != NULL; e = e->next) {
		if (imap_atom_is(e, "REVERSE")) {
			c[s->n_criteria].reverse = true;
			if ((e = e->next) == NULL)
				return imap_ck_fail(ck, "REVERSE without a "
				    "sort key");
		}
		if ((key = imap_name_of(imap_sort_key_names, e)) < 0)
			return imap_ck_fail(ck, "unknown sort key '%s'",
			    imap_ck_show(ck, e));
		c[s->n_criteria++].key = (enum imap_sort_key)key;
	}
	if (imap_ck_charset(ck, a = a->next, &s->search.charset) < 0)
		return -1;
	return imap_ck_search_keys(ck, a->next, &s->search.keys);
}

/* THREAD SP thread-alg SP charset 1*(SP search-key) (RFC 5256) */
int
imap_ck_thread(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	typeof(ck->cmd->u.thread) *t = &ck->cmd->u.thread;
	int alg;

	if (a == NULL)
		return imap_ck_fail(ck, "missing threading algorithm");
	if ((alg = imap_name_of(imap_thread_alg_names, a)) < 0)
		return imap_ck_fail(ck, "unknown threading algorithm '%s'",
		    imap_ck_show(ck, a));
	t->alg = (enum imap_thread_alg)alg;
	if (imap_ck_charset(ck, a = a->next, &t->search.charset) < 0)
		return -1;
	return imap_ck_search_keys(ck, a->next, &t->search.keys);
}

