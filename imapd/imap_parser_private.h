/*
 * imap_parser_private.h: what the files of the IMAP parser share.
 *
 * The module of imap_parser.h is split by job:
 *
 *	imap_value.c		the per-command arena; numbers, quoted
 *				strings, sequence sets, dates: parsed and
 *				written back
 *	imap_parser.c		the resumable reader: bytes to the argument
 *				tree, literals, streaming, limits
 *	imap_cmd.c		the command layer: the command table, the
 *				argument checkers every command uses, option
 *				lists, and the commands without a file below
 *	imap_cmd_search.c	SEARCH, SORT, THREAD: search keys
 *	imap_cmd_fetch.c	FETCH and STORE: fetch items and sections
 *	imap_cmd_write.c	imap_cmd_write(), the canonical writer
 *
 * Nothing here is for other parts of imapd: they use imap_parser.h.
 */
#ifndef IMAP_PARSER_PRIVATE_H
#define IMAP_PARSER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap_parser.h"

/* RFC 7162: mod-sequence-value is a positive 63-bit number. */
#define IMAP_MODSEQ_MAX		((uint64_t)INT64_MAX)

/* ---- imap_value.c: the per-command arena ---- */

/* n bytes, aligned, not zeroed, valid until the arena is freed. Aborts on
 * OOM, like every allocation below. */
void	*imap_arena_raw(struct imap_arena *a, size_t n);
/* n zeroed bytes. */
void	*imap_arena_alloc(struct imap_arena *a, size_t n);
/* nmemb zeroed elements of size bytes (aborts if the product overflows). */
void	*imap_arena_array(struct imap_arena *a, size_t nmemb, size_t size);
/* A NUL-terminated copy of n bytes. */
char	*imap_arena_memdup(struct imap_arena *a, const void *p, size_t n);
/* Bytes the arena holds: its struct and all its chunks. */
size_t	imap_arena_size(const struct imap_arena *a);

/* ---- character classes (RFC 9051 section 9) ---- */

/* ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ] */
static inline bool
imap_is_atom_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR: ATOM-CHAR / resp-specials */
static inline bool
imap_is_astring_char(uint8_t c)
{
	return imap_is_atom_char(c) || c == ']';
}

/* list-char: ATOM-CHAR / list-wildcards / resp-specials */
static inline bool
imap_is_list_char(uint8_t c)
{
	return imap_is_astring_char(c) || c == '%' || c == '*';
}

/* tag: 1*<any ASTRING-CHAR except "+"> */
static inline bool
imap_is_tag_char(uint8_t c)
{
	return imap_is_astring_char(c) && c != '+';
}

/*
 * What the reader takes into an atom token: more than ATOM-CHAR, because
 * the same token is a flag (\Seen), a list pattern (%), a sequence set
 * (1:*), a tag or a mailbox name (foo]). Each use checks its own class.
 */
static inline bool
imap_is_token_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

static inline bool
imap_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Whether all n bytes of s are in the class cls. */
static inline bool
imap_all(const char *s, size_t n, bool (*cls)(uint8_t))
{
	for (size_t i = 0; i < n; i++) {
		if (!cls((uint8_t)s[i]))
			return false;
	}
	return true;
}

/* Whether the n bytes at s are word, in any case. */
static inline bool
imap_word_eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* ---- imap_value.c: values ---- */

/* Client text for an error message in buf (size >= 4): at most 40 bytes,
 * printable ASCII only (others become '?'), "..." when cut. Returns buf. */
const char *imap_show(char *buf, size_t size, const char *s, size_t n);
/* A decimal number of n bytes, at most max. nz: the nz-number rule (no
 * leading zero, not 0); otherwise 1*DIGIT. Returns false if invalid. */
bool	imap_num_parse(const char *s, size_t n, uint64_t max, bool nz,
	    uint64_t *v_r);
/* A decimal number of n digits (the caller found them), saturated at
 * UINT64_MAX: the size of a literal announcement. */
uint64_t imap_num_saturated(const uint8_t *s, size_t n);
/*
 * quoted = DQUOTE *QUOTED-CHAR DQUOTE with only \" and \\ as escapes;
 * UTF-8 (RFC 9051) and other 8-bit bytes pass, NUL and CR do not. s[0]
 * is the opening quote of a string within s[0..n). Returns 0 and sets
 * *end_r (the index of the closing quote) and *len_r (the length once
 * unescaped), or -1 with MAIL_ERR_PROTO.
 */
int	imap_quoted_scan(const uint8_t *s, size_t n, size_t *end_r,
	    size_t *len_r, struct mail_err *err) WARN_UNUSED;
/* The unescaped contents of the quoted string s[0..end] that
 * imap_quoted_scan() accepted, NUL-terminated, in the arena a. */
char	*imap_quoted_copy(struct imap_arena *a, const uint8_t *s, size_t end,
	    size_t len);

/* The writers of values, in the form their parsers read back. */
void	imap_seqset_write(struct mail_buf *out, const struct imap_seqset *set);
void	imap_date_write(struct mail_buf *out, const struct imap_date *d);
/* As a quoted string: "dd-Mon-yyyy hh:mm:ss +zzzz". */
void	imap_datetime_write(struct mail_buf *out,
	    const struct imap_datetime *dt);

/* ---- imap_cmd.c: checking a command's arguments ---- */

/* The state of checking one command: where its values go and the error. */
struct imap_check {
	struct imap_arena *a;		/* the command's */
	struct imap_cmd *cmd;
	unsigned max_search_depth;	/* from the parser's options */
	struct mail_err *err;
	char	 show[48];		/* for imap_ck_show() */
};

/* The type of the command named by the len bytes at name (any case), or
 * IMAP_CMD_UNKNOWN if there is none, or none allowed after "UID" (uid). */
enum imap_cmd_type imap_cmd_lookup(const char *name, size_t len, bool uid);
/* Check the arguments of cmd (of a known type, its tree in cmd->args)
 * into its typed fields. Returns 0, or -1 with err set (MAIL_ERR_PROTO,
 * or MAIL_ERR_LIMIT for search keys nested too deeply). */
int	imap_cmd_check(struct imap_cmd *cmd, unsigned max_search_depth,
	    struct mail_err *err) WARN_UNUSED;

/* The parenthesized option lists of the grammar. */
enum imap_opt_list {
	IMAP_OPTS_SELECT = 0,	/* SELECT/EXAMINE parameters: IMAP_OPT_* */
	IMAP_OPTS_CREATE,	/* CREATE parameters */
	IMAP_OPTS_STATUS,	/* STATUS items: IMAP_STATUS_* */
	IMAP_OPTS_LIST_SEL,	/* LIST selection options: IMAP_LIST_SEL_* */
	IMAP_OPTS_LIST_RET,	/* LIST return options: IMAP_LIST_RET_* */
	IMAP_OPTS_GETMETADATA,	/* GETMETADATA options: IMAP_OPT_* */
	IMAP_OPTS_SEARCH_RET,	/* SEARCH RETURN: IMAP_SEARCH_RET_* */
	IMAP_OPTS_FETCH,	/* FETCH modifiers: IMAP_OPT_* */
	IMAP_OPTS_STORE,	/* STORE modifiers: IMAP_OPT_* */
};

/* The bits of the lists without public ones (see below). */
#define IMAP_OPT_CONDSTORE	0x01	/* IMAP_OPTS_SELECT */
#define IMAP_OPT_QRESYNC	0x02
#define IMAP_OPT_MAXSIZE	0x01	/* IMAP_OPTS_GETMETADATA */
#define IMAP_OPT_CHANGEDSINCE	0x01	/* IMAP_OPTS_FETCH */
#define IMAP_OPT_VANISHED	0x02
#define IMAP_OPT_UNCHANGEDSINCE	0x01	/* IMAP_OPTS_STORE */

#define IMAP_OPTS_MAX		8	/* options of one list at most */

/* Checks the argument of an option, the element a after its name (NULL
 * when there is none), into ck->cmd. Returns 0 or -1. */
typedef int imap_opt_arg_fn(struct imap_check *ck, const struct imap_arg *a);

/*
 * An option list: what it is called in messages, whether "()" is allowed,
 * and its options. names[i] sets bit 1 << i of the result (the public
 * IMAP_STATUS_*, IMAP_LIST_* and IMAP_SEARCH_RET_* bits are in this
 * order), which is also the order the writer writes them in; args[i], if
 * not NULL, checks the argument option i takes (RFC 4466 lets an
 * extension give an option one).
 */
struct imap_opt_list_def {
	const char *what;	/* "<what> must be a list" */
	const char *kind;	/* "unknown <kind> 'X'" */
	bool	 nonempty;
	const char *names[IMAP_OPTS_MAX + 1];	/* NULL-terminated */
	imap_opt_arg_fn *args[IMAP_OPTS_MAX];
};
extern const struct imap_opt_list_def imap_opt_lists[IMAP_OPTS_STORE + 1];

/*
 * "(" [option *(SP option)] ")" of the list which, options in any order
 * and repeated at will (a later argument wins), in the argument a, which
 * must be that list. Sets *bits_r to the bits of the options given.
 * Returns 0 or -1.
 */
int	imap_ck_options(struct imap_check *ck, const struct imap_arg *a,
	    enum imap_opt_list which, unsigned *bits_r) WARN_UNUSED;
/* [options] where the grammar lets the list be left out: read only if
 * *ap is a list, then *ap moves past it (*bits_r is 0 without it).
 * Returns 1 if it was there, 0 if not, or -1. */
int	imap_ck_options_opt(struct imap_check *ck, const struct imap_arg **ap,
	    enum imap_opt_list which, unsigned *bits_r) WARN_UNUSED;

/* Names indexed by an enum's values, NULL where a value has none. */
extern const char *const imap_sort_key_names[IMAP_SORT_DISPLAYTO + 1];
extern const char *const imap_thread_alg_names[IMAP_THREAD_REFS + 1];
extern const char *const imap_fetch_att_names[IMAP_FETCH_SAVEDATE + 1];
/* BODY, BINARY, BINARY.SIZE: the items with a section. */
extern const char *const imap_fetch_section_names[IMAP_FETCH_SAVEDATE + 1];
extern const char *const imap_section_text_names[IMAP_SECTION_MIME + 1];
extern const char *const
    imap_metadata_depth_names[IMAP_METADATA_DEPTH_INFINITY + 1];
extern const char *const imap_modseq_entry_names[IMAP_MODSEQ_ENTRY_ALL + 1];

/* The index in names[0..count) of the name that the n bytes at s are (any
 * case), or -1. */
int	imap_name_index(const char *const *names, size_t count, const char *s,
	    size_t n);
/* The same for an argument: -1 unless a is an atom (NIL included). */
#define imap_name_of(names, a) \
	imap_name_of_((names), N_ELEMENTS(names), (a))
int	imap_name_of_(const char *const *names, size_t count,
	    const struct imap_arg *a);

/* The checkers of values. Each takes the argument a (NULL when it is
 * missing), names it what in a BAD "CMD: what went wrong", and returns 0
 * or -1 with ck->err set. Values point into the arguments (the arena). */
int	imap_ck_fail(struct imap_check *ck, const char *fmt, ...)
	    PRINTF_LIKE(2, 3);
/* An argument for a message, never a literal's bytes; in ck->show. */
const char *imap_ck_show(struct imap_check *ck, const struct imap_arg *a);
/* There is no argument a: the command ends before it. */
int	imap_ck_end(struct imap_check *ck, const struct imap_arg *a);
/* Whether a is the atom word (any case). */
bool	imap_atom_is(const struct imap_arg *a, const char *word);
size_t	imap_count(const struct imap_arg *a);
/* astring = 1*ASTRING-CHAR / string */
int	imap_ck_astring(struct imap_check *ck, const struct imap_arg *a,
	    const char *what, struct imap_str *out);
/* atom = 1*ATOM-CHAR */
int	imap_ck_atom(struct imap_check *ck, const struct imap_arg *a,
	    const char *what, const char **out);
/* A number: nz-number (nz) or 1*DIGIT, at most max. */
int	imap_ck_num(struct imap_check *ck, const struct imap_arg *a,
	    const char *what, bool nz, uint64_t max, uint64_t *v_r);
/* sequence-set, or also "$" (RFC 5182) when dollar. */
int	imap_ck_seqset(struct imap_check *ck, const struct imap_arg *a,
	    bool dollar, struct imap_seqset *set);
/* A list: its first element in *first_r (NULL when empty). */
int	imap_ck_list(struct imap_check *ck, const struct imap_arg *a,
	    const char *what, bool nonempty, const struct imap_arg **first_r);
/* n flags from a on: flag-list contents or STORE's flags. */
int	imap_ck_flags(struct imap_check *ck, const struct imap_arg *a,
	    size_t n, struct imap_flags *f);

/* ---- imap_cmd_search.c ---- */

/* What follows a search key's name. */
enum imap_sk_arg {
	IMAP_SKA_NONE,
	IMAP_SKA_ASTRING,
	IMAP_SKA_KEYWORD,
	IMAP_SKA_HEADER,
	IMAP_SKA_DATE,
	IMAP_SKA_NUM64,		/* number64 */
	IMAP_SKA_SECONDS,	/* nz-number (WITHIN) */
	IMAP_SKA_UID,
	IMAP_SKA_MODSEQ,
	IMAP_SKA_SUB,		/* AND, OR, NOT, sequence sets */
};

struct imap_sk_def {
	const char *name;	/* "" for AND and sequence sets */
	enum imap_sk_arg arg;
};
/* Indexed by enum imap_search_key_type. */
extern const struct imap_sk_def imap_sk_defs[IMAP_SK_MODSEQ + 1];

int	imap_ck_search(struct imap_check *ck);
int	imap_ck_sort(struct imap_check *ck);
int	imap_ck_thread(struct imap_check *ck);

/* ---- imap_cmd_fetch.c ---- */

int	imap_ck_fetch(struct imap_check *ck);
int	imap_ck_store(struct imap_check *ck);
/* The argument of FETCH's CHANGEDSINCE and STORE's UNCHANGEDSINCE. */
imap_opt_arg_fn imap_ck_modseq_modifier;

#endif
