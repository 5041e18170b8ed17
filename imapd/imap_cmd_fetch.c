/*
 * imap_cmd_fetch.c: FETCH and STORE of the command layer
 * (imap_parser_private.h): fetch items and their macros, BODY[section]
 * and BINARY[section] (RFC 9051 section, RFC 3516) with <partial>, the
 * CHANGEDSINCE/VANISHED and UNCHANGEDSINCE modifiers (RFC 7162), and
 * STORE's flag operations.
 *
 * A section arrives inside one atom token: the reader kept
 * BODY.PEEK[HEADER.FIELDS (A "B")]<0.100> together (spaces, parentheses
 * and quoted strings included), so it is taken apart here, from text.
 */
#include "imap_parser_private.h"

/* In the order of enum imap_fetch_att; NULL for the items with a
 * section, named below. */
const char *const imap_fetch_att_names[IMAP_FETCH_SAVEDATE + 1] = {
	"ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER",
	"RFC822.SIZE", "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID",
	[IMAP_FETCH_MODSEQ] = "MODSEQ", "SAVEDATE"
};

/* Each but BINARY.SIZE may end in ".PEEK". */
const char *const imap_fetch_section_names[IMAP_FETCH_SAVEDATE + 1] = {
	[IMAP_FETCH_BODY_SECTION] = "BODY",
	[IMAP_FETCH_BINARY] = "BINARY",
	[IMAP_FETCH_BINARY_SIZE] = "BINARY.SIZE",
};

/* In the order of enum imap_section_text, from IMAP_SECTION_NONE. */
const char *const imap_section_text_names[IMAP_SECTION_MIME + 1] = {
	NULL, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"
};

/* header-list = "(" header-fld-name *(SP header-fld-name) ")", inside a
 * section, where the reader kept it as text (names are atoms or quoted
 * strings; literals are not supported there). */
static int
imap_ck_header_list(struct imap_check *ck, const char *s, size_t n,
    struct imap_section *sec)
{
	struct imap_str *f = imap_arena_array(ck->a, n / 2 + 1, sizeof(*f));
	size_t i = 1, k = 0;

	if (n < 3 || s[0] != '(' || s[n - 1] != ')')
		return -1;
	n--;		/* up to the ')' */
	for (;;) {
		const uint8_t *q = (const uint8_t *)s + i;
		size_t j = i, end, len;

		if (i < n && s[i] == '"') {
			if (imap_quoted_scan(q, n - i, &end, &len, ck->err) < 0)
				return -1;
			f[k].data = imap_quoted_copy(ck->a, q, end, len);
			f[k].len = len;
			j = i + end + 1;
		} else {
			while (j < n && imap_is_astring_char((uint8_t)s[j]))
				j++;
			if (j == i)
				return -1;
			f[k].data = imap_arena_memdup(ck->a, s + i, j - i);
			f[k].len = j - i;
		}
		k++;
		if (j == n)
			break;
		if (s[j] != ' ' || j + 1 == n)
			return -1;
		i = j + 1;
	}
	sec->fields = f;
	sec->n_fields = k;
	return 0;
}

/*
 * section-spec = section-msgtext / (section-part ["." section-text]);
 * section-binary = [section-part] (binary). n bytes between "[" and "]".
 */
static int
imap_ck_section(struct imap_check *ck, const char *s, size_t n,
    bool binary, struct imap_section *sec)
{
	uint32_t *parts = imap_arena_array(ck->a, n / 2 + 1, sizeof(*parts));
	size_t i = 0, best = 0;

	while (i < n && imap_is_digit((uint8_t)s[i])) {
		size_t j = i;
		uint64_t v;

		while (j < n && imap_is_digit((uint8_t)s[j]))
			j++;
		if (!imap_num_parse(s + i, j - i, UINT32_MAX, true, &v))
			return -1;
		parts[sec->n_parts++] = (uint32_t)v;
		if ((i = j) == n)
			break;
		if (s[i] != '.' || ++i == n)
			return -1;
	}
	sec->parts = parts;
	if (i == n)
		return 0;
	if (binary)
		return -1;
	/* the longest name that starts the rest: HEADER.FIELDS.NOT, not
	 * HEADER.FIELDS or HEADER */
	for (size_t t = 0; t < N_ELEMENTS(imap_section_text_names); t++) {
		const char *name = imap_section_text_names[t];
		size_t len = name != NULL ? strlen(name) : 0;

		if (len > best && n - i >= len &&
		    strncasecmp(s + i, name, len) == 0) {
			sec->text = (enum imap_section_text)t;
			best = len;
		}
	}
	if (best == 0)
		return -1;
	i += best;
	if (sec->text == IMAP_SECTION_MIME && sec->n_parts == 0)
		return -1;	/* MIME needs a part */
	if (sec->text == IMAP_SECTION_HEADER_FIELDS ||
	    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT)
		return i < n && s[i] == ' ' ?
		    imap_ck_header_list(ck, s + i + 1, n - i - 1, sec) : -1;
	return i == n ? 0 : -1;
}

/* One fetch-att (not a macro) from an atom. */
static int
imap_ck_fetch_att(struct imap_check *ck, const struct imap_arg *a,
    struct imap_fetch_item *it)
{
	const char *s = a->str, *b, *p;
	size_t n = a->len, e, k;
	int att;

	if (a->type != IMAP_ARG_ATOM)
		goto bad;
	if ((b = memchr(s, '[', n)) == NULL) {
		if ((att = imap_name_index(imap_fetch_att_names,
		    N_ELEMENTS(imap_fetch_att_names), s, n)) < 0)
			goto bad;
		it->att = (enum imap_fetch_att)att;
		return 0;
	}
	k = (size_t)(b - s);
	it->peek = k > 5 && strncasecmp(b - 5, ".PEEK", 5) == 0;
	if ((att = imap_name_index(imap_fetch_section_names,
	    N_ELEMENTS(imap_fetch_section_names), s,
	    it->peek ? k - 5 : k)) < 0 ||
	    (it->peek && att == IMAP_FETCH_BINARY_SIZE))
		goto bad;
	it->att = (enum imap_fetch_att)att;
	/* the "]" that closes, outside quoted header names */
	for (e = k + 1; e < n && s[e] != ']'; e++) {
		if (s[e] == '"') {
			for (e++; e < n && s[e] != '"'; e++)
				e += s[e] == '\\';
			if (e >= n)
				goto bad;
		}
	}
	if (e >= n || imap_ck_section(ck, b + 1, e - k - 1,
	    it->att != IMAP_FETCH_BODY_SECTION, &it->section) < 0)
		goto bad;
	if (++e == n)
		return 0;
	/* partial = "<" number64 "." nz-number64 ">" */
	p = s + e;
	n -= e;
	b = memchr(p, '.', n);
	if (it->att == IMAP_FETCH_BINARY_SIZE || n < 5 || p[0] != '<' ||
	    p[n - 1] != '>' || b == NULL ||
	    !imap_num_parse(p + 1, (size_t)(b - p) - 1, IMAP_MODSEQ_MAX, false,
	    &it->offset) ||
	    !imap_num_parse(b + 1, (size_t)(p + n - 1 - b) - 1,
	    IMAP_MODSEQ_MAX, true, &it->count))
		goto bad;
	it->partial = true;
	return 0;
bad:
	return imap_ck_fail(ck, "invalid fetch item '%s'", imap_ck_show(ck, a));
}

/* FETCH's "CHANGEDSINCE" SP mod-sequence-value, STORE's "UNCHANGEDSINCE"
 * SP mod-sequence-valzer (RFC 7162 3.1.4, 3.1.3): 0 only for STORE. */
int
imap_ck_modseq_modifier(struct imap_check *ck, const struct imap_arg *a)
{
	if (ck->cmd->type == IMAP_CMD_FETCH)
		return imap_ck_num(ck, a, "CHANGEDSINCE", true,
		    IMAP_MODSEQ_MAX, &ck->cmd->u.fetch.changedsince);
	return imap_ck_num(ck, a, "UNCHANGEDSINCE", false, IMAP_MODSEQ_MAX,
	    &ck->cmd->u.store.unchangedsince);
}

/* FETCH SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
 * "(" fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP
 * fetch-modifier) ")"] (RFC 4466; CHANGEDSINCE, VANISHED RFC 7162) */
int
imap_ck_fetch(struct imap_check *ck)
{
	static const enum imap_fetch_att full[] = { IMAP_FETCH_FLAGS,
	    IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	    IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY };
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.fetch) *f = &ck->cmd->u.fetch;
	struct imap_fetch_item *items;
	unsigned mods;
	size_t n = 0;

	if (imap_ck_seqset(ck, a, true, &f->set) < 0)
		return -1;
	if ((a = a->next) == NULL)
		return imap_ck_fail(ck, "missing fetch items");
	if (a->type == IMAP_ARG_LIST) {
		if (imap_ck_list(ck, a, "fetch item list", true, &e) < 0)
			return -1;
		f->items = items = imap_arena_array(ck->a, a->len,
		    sizeof(*items));
		for (; e != NULL; e = e->next) {
			if (imap_ck_fetch_att(ck, e, &items[f->n_items++]) < 0)
				return -1;
		}
	} else {
		/* the macros: ALL = FAST ENVELOPE, FAST = FLAGS INTERNALDATE
		 * RFC822.SIZE, FULL = ALL BODY */
		if (imap_atom_is(a, "FAST"))
			n = 3;
		else if (imap_atom_is(a, "ALL"))
			n = 4;
		else if (imap_atom_is(a, "FULL"))
			n = 5;
		f->items = items = imap_arena_array(ck->a, n > 0 ? n : 1,
		    sizeof(*items));
		for (size_t i = 0; i < n; i++)
			items[i].att = full[i];
		f->n_items = n > 0 ? n : 1;
		if (n == 0 && imap_ck_fetch_att(ck, a, &items[0]) < 0)
			return -1;
	}
	a = a->next;
	if (imap_ck_options_opt(ck, &a, IMAP_OPTS_FETCH, &mods) < 0)
		return -1;
	f->has_changedsince = (mods & IMAP_OPT_CHANGEDSINCE) != 0;
	f->vanished = (mods & IMAP_OPT_VANISHED) != 0;
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE */
	if (f->vanished && (!ck->cmd->uid || !f->has_changedsince))
		return imap_ck_fail(ck, "VANISHED needs UID FETCH and "
		    "CHANGEDSINCE");
	return imap_ck_end(ck, a);
}

/* STORE SP sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer
 * ")"] SP ["+" / "-"] "FLAGS" [".SILENT"] SP (flag-list / (flag *(SP
 * flag))) (RFC 7162 3.1.3) */
int
imap_ck_store(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	typeof(ck->cmd->u.store) *st = &ck->cmd->u.store;
	const char *s;
	unsigned mods;
	size_t n;

	if (imap_ck_seqset(ck, a, true, &st->set) < 0)
		return -1;
	a = a->next;
	if (imap_ck_options_opt(ck, &a, IMAP_OPTS_STORE, &mods) < 0)
		return -1;
	st->has_unchangedsince = (mods & IMAP_OPT_UNCHANGEDSINCE) != 0;
	if (a == NULL || a->type != IMAP_ARG_ATOM)
		return imap_ck_fail(ck, "missing FLAGS, +FLAGS or -FLAGS");
	s = a->str;
	n = a->len;
	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		st->op = s[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		s++;
		n--;
	}
	if (n > 7 && strncasecmp(s + n - 7, ".SILENT", 7) == 0) {
		st->silent = true;
		n -= 7;
	}
	if (!imap_word_eq(s, n, "FLAGS"))
		return imap_ck_fail(ck, "invalid item '%s'",
		    imap_ck_show(ck, a));
	if ((a = a->next) == NULL)
		return imap_ck_fail(ck, "missing flags");
	if (a->type == IMAP_ARG_LIST) {
		if (imap_ck_flags(ck, a->list, a->len, &st->flags) < 0)
			return -1;
		return imap_ck_end(ck, a->next);
	}
	return imap_ck_flags(ck, a, imap_count(a), &st->flags);
}
