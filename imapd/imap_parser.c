/*
 * imap_parser.c: the resumable IMAP command reader (imap_parser.h).
 *
 * Input is taken a line at a time: the parser looks for LF in the
 * caller's buffer, remembering how far it looked (p->scan), and consumes
 * nothing until the line is complete, so a line is tokenized once, whole.
 * A line ends either the command or at a literal announcement "{n}",
 * "{n+}", "~{n}" or "~{n+}" (RFC 9051 literal, RFC 7888, RFC 3516
 * literal8); the literal's bytes follow, then the next line of the same
 * command. What persists between lines is only: the argument tree in the
 * command's arena, the stack of open lists (bounded by max_depth, so
 * nesting costs no recursion), and whether a separator is due.
 *
 * States: IDLE (no command in progress) -> LINE (after a literal) ->
 * LITERAL (bytes into the arena) or STREAM (bytes to the caller) -> ...
 * After a syntax error the rest of the command is dropped by SKIP_LINE and
 * SKIP_LITERAL: a line that ends in a non-synchronizing announcement is
 * followed by that many bytes the client sends regardless, then by more
 * of the same command; one that ends in "{n}" is not, because the client
 * waits for a continuation that never comes (RFC 9051 7.5).
 *
 * Limits: max_line counts every byte of the command outside literals, and
 * is checked both on a complete line and on an incomplete one (text so
 * far + bytes without LF >= max_line), so the error comes at the same
 * point however the input is split. It is fatal: we could not find where
 * the command ends without reading unbounded input. A synchronizing
 * literal over the limit is a plain error (the client never sends it); a
 * non-synchronizing one is skipped when it is at most the largest literal
 * we accept anywhere, fatal otherwise.
 *
 * When the last line of a command has been read, the command layer
 * (imap_cmd.c) checks its arguments into struct imap_cmd. Error messages
 * never contain literal bytes, and client text in them is cut short and
 * limited to printable ASCII, so they can go into a BAD response as they
 * are.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "imap_parser_private.h"

/* An internal result: the step consumed something, go on. */
#define IMAP_PARSE_AGAIN_	100

/* ---- reading ---- */

enum imap_state {
	IMAP_ST_IDLE = 0,	/* no command in progress */
	IMAP_ST_LINE,		/* the next line of a command, after a literal */
	IMAP_ST_LITERAL,	/* literal bytes into the arena */
	IMAP_ST_STREAM,		/* literal bytes to the caller */
	IMAP_ST_SKIP_LINE,	/* dropping the rest of a broken command */
	IMAP_ST_SKIP_LITERAL,	/* dropping a literal of a broken command */
	IMAP_ST_FATAL,
};

struct imap_parser {
	struct imap_parser_opts opt;
	enum imap_state state;
	size_t	 scan;		/* bytes of the pending line without LF */
	size_t	 text;		/* bytes of the command outside literals */
	size_t	 lit_left;	/* literal bytes still to read or skip */
	size_t	 lit_fill;	/* literal bytes in lit_buf so far */
	size_t	 lit_total;	/* bytes of this command's buffered literals */
	struct imap_arena *arena;	/* the command in progress, or NULL */
	struct imap_cmd *cmd;		/* in arena */
	struct imap_arg **stack;	/* [0] the top level, [depth] open list */
	struct imap_arg **tails;	/* the last element of each */
	struct imap_arg *lit;		/* the literal being read */
	char	*lit_buf;		/* its bytes (LITERAL) */
	unsigned depth, nargs, n_msgs;
	struct imap_stream stream;
	bool	 have_tag;
	bool	 after_arg;	/* an argument ended: SP or ')' is due */
	bool	 lit_sync;	/* the literal being read is {n} */
	bool	 lit_nul;	/* a streamed literal held a NUL */
	char	 tag[IMAP_TAG_MAX + 1];
};

/* What a line's final "{n}" announced. */
struct imap_lit_ann {
	uint64_t size;		/* saturated at UINT64_MAX */
	bool	 nonsync, binary;
};

enum {
	IMAP_TOK_END,		/* the command is complete */
	IMAP_TOK_LITERAL,	/* the line ends in a literal announcement */
	IMAP_TOK_UNKNOWN,	/* not a command we know: skip it */
	IMAP_TOK_ERROR,
};

void
imap_parser_opts_default(struct imap_parser_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_line = 65536;
	o->max_literal = 65536;
	o->max_append = 64 * 1024 * 1024;
	o->stream_min = 16384;
	o->max_depth = 16;
	o->max_args = 8192;
	o->max_search_depth = 64;
	o->nonsync = IMAP_NONSYNC_PLUS;
}

struct imap_parser *
imap_parser_new(const struct imap_parser_opts *opts)
{
	struct imap_parser *p = mail_xcalloc(1, sizeof(*p));

	if (opts != NULL)
		p->opt = *opts;
	else
		imap_parser_opts_default(&p->opt);
	mail_assert(p->opt.max_line >= 64 && p->opt.max_depth >= 1 &&
	    p->opt.max_depth <= 4096 && p->opt.max_args >= 1 &&
	    p->opt.max_search_depth >= 1 &&
	    p->opt.max_literal < SIZE_MAX / 4 &&
	    p->opt.max_append < SIZE_MAX / 4);
	return p;
}

static void
imap_cmd_drop(struct imap_parser *p)
{
	imap_arena_free(&p->arena);
	p->cmd = NULL;
	p->stack = p->tails = NULL;
	p->lit = NULL;
	p->lit_buf = NULL;
}

void
imap_parser_free(struct imap_parser **pp)
{
	if (*pp == NULL)
		return;
	imap_cmd_drop(*pp);
	free(*pp);
	*pp = NULL;
}

const char *
imap_parser_tag(const struct imap_parser *p)
{
	return p->have_tag ? p->tag : NULL;
}

bool
imap_parser_fatal(const struct imap_parser *p)
{
	return p->state == IMAP_ST_FATAL;
}

const struct imap_stream *
imap_parser_stream(const struct imap_parser *p)
{
	return &p->stream;
}

const struct imap_arg *
imap_parser_partial_args(const struct imap_parser *p)
{
	return p->cmd != NULL ? p->stack[0]->list : NULL;
}

size_t
imap_parser_mem_used(const struct imap_parser *p)
{
	return sizeof(*p) + (p->arena != NULL ? imap_arena_size(p->arena) : 0);
}

/* The largest literal of a broken command we read and drop rather than
 * hang up: the largest we would have accepted anywhere. */
static size_t
imap_swallow_max(const struct imap_parser *p)
{
	return p->opt.max_literal > p->opt.max_append ? p->opt.max_literal :
	    p->opt.max_append;
}

static void
imap_set_idle(struct imap_parser *p)
{
	p->state = IMAP_ST_IDLE;
	p->text = 0;
	p->scan = 0;
}

static int
imap_fatal(struct imap_parser *p, struct mail_err *err, const char *fmt, ...)
    PRINTF_LIKE(3, 4);

/* Give up: the caller answers BYE and closes. */
static int
imap_fatal(struct imap_parser *p, struct mail_err *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	imap_cmd_drop(p);
	p->state = IMAP_ST_FATAL;
	return mail_err_set(err, MAIL_ERR_LIMIT, "%s", msg), IMAP_PARSE_ERROR;
}

static int
imap_fatal_long(struct imap_parser *p, struct mail_err *err)
{
	return imap_fatal(p, err, "command line too long (over %zu bytes)",
	    p->opt.max_line);
}

/* Start a command: its arena, the struct and the top-level list. */
static void
imap_cmd_begin(struct imap_parser *p)
{
	struct imap_arena *a = imap_arena_new();

	p->arena = a;
	p->cmd = imap_arena_alloc(a, sizeof(*p->cmd));
	p->cmd->arena = a;
	p->stack = imap_arena_array(a, p->opt.max_depth + 1, sizeof(*p->stack));
	p->tails = imap_arena_array(a, p->opt.max_depth + 1, sizeof(*p->tails));
	p->stack[0] = imap_arena_alloc(a, sizeof(struct imap_arg));
	p->stack[0]->type = IMAP_ARG_LIST;
	p->depth = 0;
	p->nargs = 0;
	p->n_msgs = 0;
	p->lit_total = 0;
	p->after_arg = false;
}

/* Hand the finished command to the caller. */
static int
imap_cmd_hand_over(struct imap_parser *p, struct imap_cmd **cmd_r)
{
	*cmd_r = p->cmd;
	p->arena = NULL;	/* now owned by the command */
	p->cmd = NULL;
	imap_cmd_drop(p);
	return IMAP_PARSE_DONE;
}

/* A new argument appended to the innermost open list. */
static struct imap_arg *
imap_arg_new(struct imap_parser *p, enum imap_arg_type type,
    struct mail_err *err)
{
	struct imap_arg *a, *list = p->stack[p->depth];

	if (p->nargs >= p->opt.max_args) {
		mail_err_set(err, MAIL_ERR_LIMIT,
		    "too many arguments (over %u)", p->opt.max_args);
		return NULL;
	}
	p->nargs++;
	a = imap_arena_alloc(p->arena, sizeof(*a));
	a->type = type;
	if (p->tails[p->depth] == NULL)
		list->list = a;
	else
		p->tails[p->depth]->next = a;
	p->tails[p->depth] = a;
	list->len++;
	return a;
}

/* A quoted string at s[*i], unescaped into the arena. */
static int
imap_tok_quoted(struct imap_parser *p, const uint8_t *s, size_t n,
    size_t *i, struct mail_err *err)
{
	struct imap_arg *a;
	size_t end, len;

	if (imap_quoted_scan(s + *i, n - *i, &end, &len, err) < 0 ||
	    (a = imap_arg_new(p, IMAP_ARG_QUOTED, err)) == NULL)
		return -1;
	a->str = imap_quoted_copy(p->arena, s + *i, end, len);
	a->len = len;
	*i += end + 1;
	return 0;
}

/*
 * Where a "[" at s[i] closes: the index of its "]", or 0 if it does not
 * close on this line. Inside, spaces, parentheses and quoted strings are
 * part of the token, as in BODY.PEEK[HEADER.FIELDS (A "B")]<0.100>. A "["
 * that does not close is an ordinary character (the mailbox "a[b").
 * Literals inside a section ({n}) are not supported.
 */
static size_t
imap_bracket_end(const uint8_t *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == ']')
			return i;
		if (s[i] == '"') {
			/* as a quoted string: no NUL or CR */
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				if (s[i] == '\0' || s[i] == '\r')
					return 0;
			}
			if (i == n)
				return 0;
		} else if (s[i] == '[' || s[i] == '{' ||
		    (s[i] != ' ' && s[i] != '(' && s[i] != ')' &&
		    !imap_is_token_char(s[i])))
			return 0;
	}
	return 0;
}

static int
imap_tok_atom(struct imap_parser *p, const uint8_t *s, size_t n, size_t *i,
    struct mail_err *err)
{
	struct imap_arg *a;
	size_t j = *i, e;

	while (j < n) {
		if (s[j] == '[' && (e = imap_bracket_end(s, n, j)) != 0)
			j = e + 1;
		else if (imap_is_token_char(s[j]))
			j++;
		else
			break;
	}
	if (j == *i)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "invalid character 0x%02x", s[j]);
	if ((a = imap_arg_new(p, IMAP_ARG_ATOM, err)) == NULL)
		return -1;
	a->str = imap_arena_memdup(p->arena, s + *i, j - *i);
	a->len = j - *i;
	/* NIL keeps its text: where an astring is expected it is the
	 * mailbox or user named "NIL" */
	if (imap_word_eq(a->str, a->len, "NIL"))
		a->type = IMAP_ARG_NIL;
	*i = j;
	return 0;
}

/* literal = "{" number64 ["+"] "}" CRLF; literal8 = "~{" ... (RFC 3516,
 * RFC 7888). The announcement must end the line. */
static int
imap_tok_literal(struct imap_parser *p, const uint8_t *s, size_t n,
    size_t i, struct imap_lit_ann *ann, struct mail_err *err)
{
	size_t j = i + (s[i] == '~' ? 2 : 1), d = j;

	while (j < n && imap_is_digit(s[j]))
		j++;
	ann->size = imap_num_saturated(s + d, j - d);
	ann->binary = s[i] == '~';
	ann->nonsync = j < n && s[j] == '+';
	if (ann->nonsync)
		j++;
	if (j == d || j == n || s[j] != '}')
		return mail_err_set(err, MAIL_ERR_PROTO, "invalid literal");
	if (j + 1 != n)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "a literal announcement must end the line");
	if ((p->lit = imap_arg_new(p, IMAP_ARG_LITERAL, err)) == NULL)
		return -1;
	p->lit->flags = (ann->binary ? IMAP_ARG_F_LITERAL8 : 0) |
	    (ann->nonsync ? IMAP_ARG_F_NONSYNC : 0);
	return 0;
}

/*
 * Whether a line ends in a literal announcement, as a client that sent it
 * believes, whatever came before: then the size (saturated) and whether
 * it is non-synchronizing. Used to skip a broken command.
 */
static bool
imap_tail_literal(const uint8_t *s, size_t n, uint64_t *size_r,
    bool *nonsync_r)
{
	size_t j = n, end;

	if (j == 0 || s[j - 1] != '}')
		return false;
	j--;
	*nonsync_r = j > 0 && s[j - 1] == '+';
	if (*nonsync_r)
		j--;
	end = j;
	while (j > 0 && imap_is_digit(s[j - 1]))
		j--;
	if (j == end || j == 0 || s[j - 1] != '{')
		return false;
	*size_r = imap_num_saturated(s + j, end - j);
	return true;
}

/* A copy of a command name for messages: printable, at most 64 bytes. */
static const char *
imap_name_copy(struct imap_arena *a, const uint8_t *s, size_t n)
{
	char *name = imap_arena_memdup(a, s, n > 64 ? 64 : n);

	for (size_t i = 0; i < n && i < 64; i++) {
		if ((uint8_t)name[i] <= 0x20 || (uint8_t)name[i] >= 0x7f)
			name[i] = '?';	/* NUL included */
	}
	return name;
}

/* tag SP ["UID" SP] name [SP]: starts the command. */
static int
imap_tok_start(struct imap_parser *p, const uint8_t *s, size_t n,
    size_t *i_r, struct mail_err *err)
{
	size_t i = 0, j;

	while (i < n && s[i] != ' ')
		i++;
	if (i == 0 || !imap_all((const char *)s, i, imap_is_tag_char))
		return mail_err_set(err, MAIL_ERR_PROTO, "invalid tag"),
		    IMAP_TOK_ERROR;
	if (i > IMAP_TAG_MAX)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "tag too long (over %d bytes)", IMAP_TAG_MAX), IMAP_TOK_ERROR;
	/* the tag lives in the parser, not the arena, so an error answer
	 * needs it after the command's memory is gone */
	memcpy(p->tag, s, i);
	p->tag[i] = '\0';
	p->have_tag = true;
	imap_cmd_begin(p);
	p->cmd->tag = imap_arena_memdup(p->arena, s, i);
	for (;;) {
		if (i == n || i + 1 == n || s[i + 1] == ' ')
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "missing command name"), IMAP_TOK_ERROR;
		for (j = ++i; j < n && s[j] != ' '; j++)
			;
		if (p->cmd->uid || !imap_word_eq((const char *)s + i, j - i,
		    "UID"))
			break;
		p->cmd->uid = true;	/* UID FETCH etc.: read one more */
		i = j;
	}
	p->cmd->name = imap_name_copy(p->arena, s + i, j - i);
	p->cmd->type = imap_cmd_lookup((const char *)s + i, j - i, p->cmd->uid);
	if (p->cmd->type == IMAP_CMD_UNKNOWN)
		return IMAP_TOK_UNKNOWN;
	if (j < n && ++j == n)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "unexpected space at the end of the line"), IMAP_TOK_ERROR;
	*i_r = j;
	return IMAP_TOK_END;
}

/*
 * Tokenize one line of n bytes (without CRLF) into the argument tree.
 * Returns IMAP_TOK_*; for IMAP_TOK_LITERAL fills *ann and p->lit.
 */
static int
imap_tokenize(struct imap_parser *p, const uint8_t *s, size_t n,
    struct imap_lit_ann *ann, struct mail_err *err)
{
	size_t i = 0;
	int r;

	/* strict RFC 9051 spacing: one SP between arguments, none after "("
	 * or before ")", none at the end; lenient readers hide client bugs
	 * that other servers then trip over */
	if (p->cmd == NULL &&
	    (r = imap_tok_start(p, s, n, &i, err)) != IMAP_TOK_END)
		return r;
	while (i < n) {
		uint8_t c = s[i];
		struct imap_arg *a;

		if (c == ')') {
			if (p->depth == 0)
				return mail_err_set(err, MAIL_ERR_PROTO,
				    "unexpected ')'"), IMAP_TOK_ERROR;
			p->depth--;
			p->after_arg = true;
			i++;
			continue;
		}
		if (p->after_arg) {
			/* exactly one SP between arguments, none before ')' */
			if (c != ' ')
				return mail_err_set(err, MAIL_ERR_PROTO,
				    c > 0x20 && c < 0x7f ?
				    "missing space before '%c'" :
				    "invalid character 0x%02x", c),
				    IMAP_TOK_ERROR;
			if (++i == n || s[i] == ')')
				return mail_err_set(err, MAIL_ERR_PROTO,
				    "unexpected space before %s", i == n ?
				    "the end of the line" : "')'"),
				    IMAP_TOK_ERROR;
			p->after_arg = false;
			continue;
		}
		switch (c) {
		case ' ':
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "unexpected space"), IMAP_TOK_ERROR;
		case '(':
			if (p->depth >= p->opt.max_depth)
				return mail_err_set(err, MAIL_ERR_LIMIT,
				    "lists nested too deeply (over %u)",
				    p->opt.max_depth), IMAP_TOK_ERROR;
			if ((a = imap_arg_new(p, IMAP_ARG_LIST, err)) == NULL)
				return IMAP_TOK_ERROR;
			p->stack[++p->depth] = a;
			p->tails[p->depth] = NULL;
			i++;
			continue;
		case '"':
			if (imap_tok_quoted(p, s, n, &i, err) < 0)
				return IMAP_TOK_ERROR;
			break;
		case '~':
			if (i + 1 < n && s[i + 1] == '{')
				return imap_tok_literal(p, s, n, i, ann, err) < 0 ?
				    IMAP_TOK_ERROR : IMAP_TOK_LITERAL;
			if (imap_tok_atom(p, s, n, &i, err) < 0)
				return IMAP_TOK_ERROR;
			break;
		case '{':
			return imap_tok_literal(p, s, n, i, ann, err) < 0 ?
			    IMAP_TOK_ERROR : IMAP_TOK_LITERAL;
		default:
			if (imap_tok_atom(p, s, n, &i, err) < 0)
				return IMAP_TOK_ERROR;
			break;
		}
		p->after_arg = true;
	}
	if (p->depth > 0)
		return mail_err_set(err, MAIL_ERR_PROTO, "missing ')'"),
		    IMAP_TOK_ERROR;
	return IMAP_TOK_END;
}

/* Skip size literal bytes the client sends regardless, then the rest of
 * the command line by line. */
static void
imap_skip_bytes(struct imap_parser *p, uint64_t size)
{
	p->state = IMAP_ST_SKIP_LITERAL;
	p->lit_left = (size_t)size;
}

/*
 * After the line s[0..n) of a command we drop: if it ends in a
 * non-synchronizing literal announcement, the client sends that literal
 * and more of the command, to be skipped; otherwise the command ends
 * here. Returns false, changing nothing, if the literal is too big to
 * read just to drop it (*size_r says how big).
 */
static bool
imap_skip_rest(struct imap_parser *p, const uint8_t *s, size_t n,
    uint64_t *size_r)
{
	bool nonsync;

	if (!imap_tail_literal(s, n, size_r, &nonsync) || !nonsync) {
		imap_set_idle(p);
		return true;
	}
	if (*size_r > imap_swallow_max(p))
		return false;
	imap_skip_bytes(p, *size_r);
	return true;
}

/* After an error in a line: drop the command, and skip what the client
 * still sends of it. */
static int
imap_line_error(struct imap_parser *p, const uint8_t *s, size_t n)
{
	uint64_t size;

	imap_cmd_drop(p);
	if (!imap_skip_rest(p, s, n, &size))
		p->state = IMAP_ST_FATAL;	/* err says why */
	return IMAP_PARSE_ERROR;
}

/* An unknown command is returned as one, and skipped like an error. */
static int
imap_cmd_unknown(struct imap_parser *p, const uint8_t *s, size_t n,
    struct imap_cmd **cmd_r, struct mail_err *err)
{
	uint64_t size;

	p->cmd->type = IMAP_CMD_UNKNOWN;
	if (!imap_skip_rest(p, s, n, &size))
		return imap_fatal(p, err, "literal of %" PRIu64
		    " bytes in an unknown command", size);
	return imap_cmd_hand_over(p, cmd_r);
}

static int
imap_cmd_end(struct imap_parser *p, struct imap_cmd **cmd_r,
    struct mail_err *err)
{
	p->cmd->args = p->stack[0]->list;
	imap_set_idle(p);
	if (imap_cmd_check(p->cmd, p->opt.max_search_depth, err) < 0) {
		imap_cmd_drop(p);
		return IMAP_PARSE_ERROR;
	}
	return imap_cmd_hand_over(p, cmd_r);
}

/* Drop the command and the literal it announced (non-synchronizing, so
 * the client sends it anyway). */
static int
imap_skip_literal(struct imap_parser *p, uint64_t size)
{
	imap_cmd_drop(p);
	imap_skip_bytes(p, size);
	return IMAP_PARSE_ERROR;
}

/* Refuse the literal just announced, err filled: the client sends a
 * non-synchronizing one regardless, and waits for a continuation that
 * never comes after a synchronizing one. */
static int
imap_literal_refuse(struct imap_parser *p, const struct imap_lit_ann *ann)
{
	if (ann->nonsync)
		return imap_skip_literal(p, ann->size);
	imap_cmd_drop(p);
	imap_set_idle(p);
	return IMAP_PARSE_ERROR;
}

/*
 * A line ended in a literal announcement: check it against the limits and
 * decide where its bytes go. An APPEND message literal (top level, after
 * the mailbox) big enough is streamed to the caller.
 */
static int
imap_literal_begin(struct imap_parser *p, const struct imap_lit_ann *ann,
    struct mail_err *err)
{
	bool msg = p->cmd->type == IMAP_CMD_APPEND && p->depth == 0 &&
	    p->stack[0]->len >= 2, stream;
	size_t limit = msg ? p->opt.max_append : p->opt.max_literal;
	struct imap_arg *lit = p->lit;

	if (ann->nonsync && ann->size > imap_swallow_max(p))
		return imap_fatal(p, err, "literal of %" PRIu64
		    " bytes is over the limit of %zu bytes", ann->size, limit);
	if (ann->nonsync && p->opt.nonsync == IMAP_NONSYNC_NONE)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "non-synchronizing literals are not supported"),
		    imap_skip_literal(p, ann->size);
	if (ann->size > limit)
		return mail_err_set(err, MAIL_ERR_LIMIT, "literal of %" PRIu64
		    " bytes is over the limit of %zu bytes", ann->size, limit),
		    imap_literal_refuse(p, ann);
	/* RFC 7888 4: LITERAL- allows {n+} only up to 4096 */
	if (ann->nonsync && p->opt.nonsync == IMAP_NONSYNC_MINUS &&
	    ann->size > IMAP_LITERAL_MINUS_MAX)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "non-synchronizing literal of %" PRIu64
		    " bytes is over %d bytes (LITERAL-)", ann->size,
		    IMAP_LITERAL_MINUS_MAX), imap_skip_literal(p, ann->size);
	lit->len = (size_t)ann->size;
	stream = msg && (lit->len >= p->opt.stream_min ||
	    lit->len > p->opt.max_literal);
	/* max_literal bounds the sum, so a command of many literals is no
	 * way around it; APPEND bodies to stream do not count */
	if (!stream && p->lit_total + lit->len > p->opt.max_literal)
		return mail_err_set(err, MAIL_ERR_LIMIT, "literals of one "
		    "command over %zu bytes in all", p->opt.max_literal),
		    imap_literal_refuse(p, ann);
	p->lit_left = lit->len;
	p->lit_fill = 0;
	p->lit_sync = !ann->nonsync;
	p->lit_nul = false;
	if (stream) {
		lit->flags |= IMAP_ARG_F_STREAMED;
		p->stream.size = lit->len;
		p->stream.sync = p->lit_sync;
		p->stream.binary = ann->binary;
		p->stream.msg_index = p->n_msgs++;
		p->state = IMAP_ST_STREAM;
		return IMAP_PARSE_LITERAL;
	}
	if (msg)
		p->n_msgs++;
	p->lit_total += lit->len;
	lit->str = p->lit_buf = imap_arena_raw(p->arena, lit->len + 1);
	p->lit_buf[lit->len] = '\0';
	p->state = IMAP_ST_LITERAL;
	return p->lit_sync ? IMAP_PARSE_CONTINUE : IMAP_PARSE_AGAIN_;
}

/* A literal's bytes are complete: the command goes on with a line. */
static int
imap_literal_end(struct imap_parser *p, bool nul, struct mail_err *err)
{
	if (nul) {
		/* CHAR8 excludes NUL: only literal8 may carry it (RFC 3516) */
		mail_err_set(err, MAIL_ERR_PROTO,
		    "NUL byte in a literal (only literal8 may hold one)");
		imap_cmd_drop(p);
		p->state = IMAP_ST_SKIP_LINE;
		return IMAP_PARSE_ERROR;
	}
	p->lit = NULL;
	p->lit_buf = NULL;
	p->after_arg = true;
	p->state = IMAP_ST_LINE;
	return IMAP_PARSE_AGAIN_;
}

/*
 * The pending line of a command whose text so far is p->text bytes: its
 * length with (*eol_r) and without (*n_r) the line end. Returns
 * IMAP_PARSE_AGAIN_; IMAP_PARSE_MORE, with p->scan updated, if it is not
 * complete yet; or a fatal error once the command's text reaches
 * max_line, the line complete or not.
 */
static int
imap_next_line(struct imap_parser *p, const uint8_t *s, size_t avail,
    size_t *eol_r, size_t *n_r, struct mail_err *err)
{
	const uint8_t *lf;
	size_t n;

	if (p->scan > avail)
		p->scan = 0;	/* the caller broke the contract: rescan */
	lf = memchr(s + p->scan, '\n', avail - p->scan);
	if (lf == NULL) {
		p->scan = avail;
		return p->text + avail >= p->opt.max_line ?
		    imap_fatal_long(p, err) : IMAP_PARSE_MORE;
	}
	p->scan = 0;
	*eol_r = (size_t)(lf - s) + 1;
	if (p->text + *eol_r > p->opt.max_line)
		return imap_fatal_long(p, err);
	/* CRLF, or a bare LF as typed by people testing with telnet/nc */
	n = *eol_r - 1;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	*n_r = n;
	return IMAP_PARSE_AGAIN_;
}

/* IDLE and LINE: the next line of a command. */
static int
imap_read_line(struct imap_parser *p, const uint8_t *s, size_t avail,
    size_t *used_r, struct imap_cmd **cmd_r, struct mail_err *err)
{
	struct imap_lit_ann ann;
	size_t eol, n;
	int r;

	if (p->state == IMAP_ST_IDLE)
		p->have_tag = false;
	if ((r = imap_next_line(p, s, avail, &eol, &n, err)) !=
	    IMAP_PARSE_AGAIN_)
		return r;
	*used_r = eol;
	/* RFC 9051 has no empty command, but some clients send a stray CRLF
	 * after a literal: ignore it rather than answer BAD */
	if (p->state == IMAP_ST_IDLE && n == 0)
		return IMAP_PARSE_AGAIN_;
	p->text += eol;
	switch (imap_tokenize(p, s, n, &ann, err)) {
	case IMAP_TOK_END:
		return imap_cmd_end(p, cmd_r, err);
	case IMAP_TOK_LITERAL:
		return imap_literal_begin(p, &ann, err);
	case IMAP_TOK_UNKNOWN:
		return imap_cmd_unknown(p, s, n, cmd_r, err);
	default:
		return imap_line_error(p, s, n);
	}
}

static int
imap_read_literal(struct imap_parser *p, const uint8_t *s, size_t avail,
    size_t *used_r, struct mail_err *err)
{
	size_t k = avail < p->lit_left ? avail : p->lit_left;

	if (k > 0)
		memcpy(p->lit_buf + p->lit_fill, s, k);
	p->lit_fill += k;
	p->lit_left -= k;
	*used_r = k;
	if (p->lit_left > 0)
		return IMAP_PARSE_MORE;
	return imap_literal_end(p, (p->lit->flags & IMAP_ARG_F_LITERAL8) == 0 &&
	    memchr(p->lit_buf, '\0', p->lit->len) != NULL, err);
}

static int
imap_read_stream(struct imap_parser *p, const uint8_t *s, size_t avail,
    size_t *used_r, struct mail_err *err)
{
	size_t k = avail < p->lit_left ? avail : p->lit_left;

	if (p->lit_left == 0)
		return imap_literal_end(p, p->lit_nul, err);
	if (k == 0)
		return IMAP_PARSE_MORE;
	if (!p->stream.binary && memchr(s, '\0', k) != NULL)
		p->lit_nul = true;
	p->lit_left -= k;
	*used_r = k;
	return IMAP_PARSE_LITERAL_DATA;
}

static int
imap_skip_line(struct imap_parser *p, const uint8_t *s, size_t avail,
    size_t *used_r, struct mail_err *err)
{
	size_t eol, n;
	uint64_t size;
	int r;

	if ((r = imap_next_line(p, s, avail, &eol, &n, err)) !=
	    IMAP_PARSE_AGAIN_)
		return r;
	*used_r = eol;
	p->text += eol;
	if (!imap_skip_rest(p, s, n, &size))
		return imap_fatal(p, err, "literal of %" PRIu64
		    " bytes is over the limit of %zu bytes", size,
		    imap_swallow_max(p));
	return IMAP_PARSE_AGAIN_;
}

static int
imap_skip_literal_bytes(struct imap_parser *p, size_t avail,
    size_t *used_r)
{
	size_t k = avail < p->lit_left ? avail : p->lit_left;

	p->lit_left -= k;
	*used_r = k;
	if (p->lit_left > 0)
		return IMAP_PARSE_MORE;
	p->state = IMAP_ST_SKIP_LINE;
	return IMAP_PARSE_AGAIN_;
}

/* Every call after a fatal error. */
static int
imap_unusable(struct mail_err *err)
{
	mail_err_set(err, MAIL_ERR_LIMIT,
	    "connection unusable after an earlier error");
	return IMAP_PARSE_ERROR;
}

/* No input at all may come as NULL: point at no bytes instead, as there
 * is no arithmetic on NULL. */
static const uint8_t imap_no_input[1];

enum imap_parse_ret
imap_parser_run(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t *used_r, struct imap_cmd **cmd_r, struct mail_err *err)
{
	size_t pos = 0;
	int r;

	*used_r = 0;
	*cmd_r = NULL;
	if (data == NULL) {
		data = imap_no_input;
		len = 0;
	}
	do {
		const uint8_t *s = data + pos;
		size_t avail = len - pos, n = 0;

		switch (p->state) {
		case IMAP_ST_IDLE:
		case IMAP_ST_LINE:
			r = imap_read_line(p, s, avail, &n, cmd_r, err);
			break;
		case IMAP_ST_LITERAL:
			r = imap_read_literal(p, s, avail, &n, err);
			break;
		case IMAP_ST_STREAM:
			/* entered only by returning LITERAL, so the data
			 * chunk starts the caller's input */
			mail_assert(pos == 0);
			r = imap_read_stream(p, s, avail, &n, err);
			break;
		case IMAP_ST_SKIP_LINE:
			r = imap_skip_line(p, s, avail, &n, err);
			break;
		case IMAP_ST_SKIP_LITERAL:
			r = imap_skip_literal_bytes(p, avail, &n);
			break;
		default:
			r = imap_unusable(err);
			break;
		}
		pos += n;
	} while (r == IMAP_PARSE_AGAIN_);
	*used_r = pos;
	return (enum imap_parse_ret)r;
}

void
imap_parser_skip_command(struct imap_parser *p)
{
	switch (p->state) {
	case IMAP_ST_LITERAL:
	case IMAP_ST_STREAM:
		/* a synchronizing literal not yet acknowledged never comes */
		if (p->lit_sync && p->lit_left == p->lit->len) {
			imap_cmd_drop(p);
			imap_set_idle(p);
		} else {
			(void)imap_skip_literal(p, p->lit_left);
		}
		break;
	case IMAP_ST_LINE:
		imap_cmd_drop(p);
		p->state = IMAP_ST_SKIP_LINE;
		break;
	default:
		break;
	}
}

/* Between commands p->text is 0, so the line is measured alone. */
enum imap_parse_ret
imap_parser_read_line(struct imap_parser *p, const uint8_t *data,
    size_t len, size_t *used_r, const uint8_t **line_r, size_t *len_r,
    struct mail_err *err)
{
	size_t eol, n;
	int r;

	*used_r = 0;
	*line_r = NULL;
	*len_r = 0;
	if (p->state == IMAP_ST_FATAL)
		return (enum imap_parse_ret)imap_unusable(err);
	mail_assert(p->state == IMAP_ST_IDLE);
	p->have_tag = false;
	if (data == NULL) {
		data = imap_no_input;
		len = 0;
	}
	if ((r = imap_next_line(p, data, len, &eol, &n, err)) !=
	    IMAP_PARSE_AGAIN_)
		return (enum imap_parse_ret)r;
	*line_r = data;
	*len_r = n;
	*used_r = eol;
	return IMAP_PARSE_DONE;
}

bool
imap_line_is_done(const uint8_t *line, size_t len)
{
	return imap_word_eq((const char *)line, len, "DONE");
}
