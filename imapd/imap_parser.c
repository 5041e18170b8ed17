/*
 * imap_parser.c: the resumable IMAP command parser (imap_parser.h).
 *
 * Reading. Input is taken a line at a time: the parser looks for LF in the
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
 * Checking. When the last line has been read, the command's arguments are
 * checked against its grammar (RFC 9051 section 9, RFC 3501, and the
 * extensions: IDLE, NAMESPACE, ID RFC 2971, ENABLE RFC 5161, UIDPLUS
 * RFC 4315, MOVE RFC 6851, UNSELECT RFC 3691, LIST-EXTENDED RFC 5258,
 * LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154, ESEARCH RFC 4731, SEARCHRES
 * RFC 5182, WITHIN RFC 5032, SORT/THREAD RFC 5256, ESORT RFC 5267,
 * DISPLAYFROM RFC 5957, CONDSTORE/QRESYNC RFC 7162, COMPRESS RFC 4978,
 * STATUS=SIZE RFC 8438, SAVEDATE RFC 8514, MULTIAPPEND RFC 3502, METADATA
 * RFC 5464, SASL-IR RFC 4959, BINARY RFC 3516). Every value is copied or
 * decoded into the arena; search keys are built with an explicit stack.
 *
 * Error messages never contain literal bytes, and client text in them is
 * cut short and limited to printable ASCII, so they can go into a BAD
 * response as they are.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_parser.h"
#include "mail_flags.h"

/* An internal result: the step consumed something, go on. */
#define IMAP_PARSE_AGAIN_	100

/* RFC 7162: mod-sequence-value is a positive 63-bit number. */
#define IMAP_MODSEQ_MAX		((uint64_t)INT64_MAX)

/* ---- the per-command arena ---- */

/*
 * A bump allocator: chunks grow from 1 KiB to 64 KiB, so a small command
 * costs one small malloc; a big literal gets a chunk of its own. Freed at
 * once with the command.
 */
struct imap_arena_chunk {
	struct imap_arena_chunk *prev;
	size_t	 size, used;
	max_align_t data[];
};

struct imap_arena {
	struct imap_arena_chunk *cur;
	size_t	 next_size;
};

/* Under AddressSanitizer every allocation is followed by a poisoned
 * redzone, so an overflow inside a chunk is caught as in malloc(). */
#if defined(__SANITIZE_ADDRESS__)
#define IMAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IMAP_ASAN 1
#endif
#endif
#ifdef IMAP_ASAN
#include <sanitizer/asan_interface.h>
#define IMAP_REDZONE		16
#else
#define ASAN_POISON_MEMORY_REGION(p, n)	((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define IMAP_REDZONE		0
#endif

#define IMAP_ARENA_FIRST	1024
#define IMAP_ARENA_CHUNK_MAX	65536
#define IMAP_ARENA_ALIGN	_Alignof(max_align_t)

struct imap_arena *
imap_arena_new(void)
{
	struct imap_arena *a = mail_xcalloc(1, sizeof(*a));

	a->next_size = IMAP_ARENA_FIRST;
	return a;
}

void
imap_arena_free(struct imap_arena **ap)
{
	struct imap_arena *a = *ap;
	struct imap_arena_chunk *c, *prev;

	if (a == NULL)
		return;
	for (c = a->cur; c != NULL; c = prev) {
		prev = c->prev;
		ASAN_UNPOISON_MEMORY_REGION(c->data, c->size);
		free(c);
	}
	free(a);
	*ap = NULL;
}

/* n bytes, aligned, not zeroed. */
static void *
imap_arena_raw(struct imap_arena *a, size_t n)
{
	struct imap_arena_chunk *c = a->cur;
	size_t need = (n + IMAP_REDZONE + IMAP_ARENA_ALIGN - 1) &
	    ~(IMAP_ARENA_ALIGN - 1);
	void *ptr;

	mail_assert(need >= n && need < SIZE_MAX / 2);
	if (c == NULL || c->size - c->used < need) {
		size_t size = need > a->next_size ? need : a->next_size;

		c = mail_xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		ASAN_POISON_MEMORY_REGION(c->data, size);
		if (a->cur != NULL && need > a->next_size / 2) {
			/* big: keep filling the current chunk afterwards */
			c->prev = a->cur->prev;
			a->cur->prev = c;
			c->used = need;
			ASAN_UNPOISON_MEMORY_REGION(c->data, n);
			return c->data;
		}
		c->prev = a->cur;
		a->cur = c;
		if (a->next_size < IMAP_ARENA_CHUNK_MAX)
			a->next_size *= 2;
	}
	ptr = (uint8_t *)c->data + c->used;
	c->used += need;
	ASAN_UNPOISON_MEMORY_REGION(ptr, n);
	return ptr;
}

static void *
imap_arena_alloc(struct imap_arena *a, size_t n)
{
	return memset(imap_arena_raw(a, n), 0, n);
}

/* nmemb zeroed elements; the count comes from input already bounded by
 * the line length, but check the product anyway. */
static void *
imap_arena_array(struct imap_arena *a, size_t nmemb, size_t size)
{
	size_t n;

	if (__builtin_mul_overflow(nmemb, size, &n))
		abort();
	return imap_arena_alloc(a, n);
}

static char *
imap_arena_memdup(struct imap_arena *a, const void *p, size_t n)
{
	char *s = imap_arena_raw(a, n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* ---- character classes (RFC 9051 section 9) ---- */

/* ATOM-CHAR: any CHAR except atom-specials ( ) { SP CTL % * " \ ] */
static bool
imap_is_atom_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR: ATOM-CHAR / resp-specials */
static bool
imap_is_astring_char(uint8_t c)
{
	return imap_is_atom_char(c) || c == ']';
}

/* list-char: ATOM-CHAR / list-wildcards / resp-specials */
static bool
imap_is_list_char(uint8_t c)
{
	return imap_is_astring_char(c) || c == '%' || c == '*';
}

/* tag: 1*<any ASTRING-CHAR except "+"> */
static bool
imap_is_tag_char(uint8_t c)
{
	return imap_is_astring_char(c) && c != '+';
}

/*
 * What the reader takes into an atom token: more than ATOM-CHAR, because
 * the same token is a flag (\Seen), a list pattern (%), a sequence set
 * (1:*), a tag or a mailbox name (foo]). Each use checks its own class.
 */
static bool
imap_is_token_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '"';
}

static bool
imap_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool
imap_all(const char *s, size_t n, bool (*cls)(uint8_t))
{
	for (size_t i = 0; i < n; i++) {
		if (!cls((uint8_t)s[i]))
			return false;
	}
	return true;
}

static bool
imap_word_eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/*
 * Client text for an error message: at most 40 bytes, printable ASCII
 * only (others become '?'), "..." when cut. Returns buf.
 */
static const char *
imap_show(char *buf, size_t size, const char *s, size_t n)
{
	size_t i, max = size > 44 ? 40 : size - 4;

	for (i = 0; i < n && i < max; i++) {
		uint8_t c = (uint8_t)s[i];

		buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < n) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/*
 * A decimal number of n bytes, at most max. nz: the nz-number rule (no
 * leading zero, not 0); otherwise 1*DIGIT. Returns false if invalid.
 */
static bool
imap_num_parse(const char *s, size_t n, uint64_t max, bool nz, uint64_t *v_r)
{
	uint64_t v = 0;

	if (n == 0 || (nz && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(uint8_t)s[i] - '0';

		if (!imap_is_digit((uint8_t)s[i]) || d > max ||
		    v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*v_r = v;
	return true;
}

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

struct imap_check;

/* A command we know: its name, whether "UID" may precede it, and the
 * function that checks its arguments (the table is near the end). */
struct imap_cmd_def {
	const char *name;
	enum imap_cmd_type type;
	bool	 uid;
	int	(*check)(struct imap_check *ck);
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
	const struct imap_cmd_def *def;
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

static int imap_cmd_check(struct imap_parser *p, struct mail_err *err);
static const struct imap_cmd_def *imap_cmd_lookup(const char *name,
    size_t len, bool uid);

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
	p->def = NULL;
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
	size_t n = sizeof(*p);

	if (p->arena != NULL) {
		n += sizeof(*p->arena);
		for (const struct imap_arena_chunk *c = p->arena->cur; c != NULL;
		    c = c->prev)
			n += sizeof(*c) + c->size;
	}
	return n;
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
	p->def = NULL;
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

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE, with only \" and \\ escapes;
 * UTF-8 (RFC 9051) and other 8-bit bytes pass, NUL and CR do not. */
static int
imap_tok_quoted(struct imap_parser *p, const uint8_t *s, size_t n,
    size_t *i, struct mail_err *err)
{
	struct imap_arg *a;
	size_t j, len = 0;
	char *out;

	for (j = *i + 1; j < n && s[j] != '"'; j++, len++) {
		if (s[j] == '\\') {
			if (j + 1 == n || (s[j + 1] != '"' && s[j + 1] != '\\'))
				return mail_err_set(err, MAIL_ERR_PROTO,
				    "invalid escape in a quoted string");
			j++;
		} else if (s[j] == '\0' || s[j] == '\r')
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "invalid character 0x%02x in a quoted string", s[j]);
	}
	if (j == n)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "missing '\"' at the end of a quoted string");
	if ((a = imap_arg_new(p, IMAP_ARG_QUOTED, err)) == NULL)
		return -1;
	a->str = out = imap_arena_raw(p->arena, len + 1);
	a->len = len;
	for (size_t k = *i + 1; k < j; k++) {
		if (s[k] == '\\')
			k++;
		*out++ = (char)s[k];
	}
	*out = '\0';
	*i = j + 1;
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
	uint64_t v = 0;

	for (; j < n && imap_is_digit(s[j]); j++)
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (s[j] - '0');
	ann->size = v;
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
	uint64_t v = 0;

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
	for (; j < end; j++)
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX : v * 10 + (s[j] - '0');
	*size_r = v;
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
	const struct imap_cmd_def *def;
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
	def = imap_cmd_lookup((const char *)s + i, j - i, p->cmd->uid);
	if (def == NULL)
		return IMAP_TOK_UNKNOWN;
	p->def = def;
	p->cmd->type = def->type;
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

/* After an error in a line: drop the command, and skip what the client
 * still sends of it. */
static int
imap_line_error(struct imap_parser *p, const uint8_t *s, size_t n)
{
	uint64_t size;
	bool nonsync;

	imap_cmd_drop(p);
	if (imap_tail_literal(s, n, &size, &nonsync) && nonsync) {
		if (size > imap_swallow_max(p)) {
			p->state = IMAP_ST_FATAL;	/* err says why */
			return IMAP_PARSE_ERROR;
		}
		p->state = IMAP_ST_SKIP_LITERAL;
		p->lit_left = (size_t)size;
	} else {
		imap_set_idle(p);
	}
	return IMAP_PARSE_ERROR;
}

/* An unknown command is returned as one, and skipped like an error. */
static int
imap_cmd_unknown(struct imap_parser *p, const uint8_t *s, size_t n,
    struct imap_cmd **cmd_r, struct mail_err *err)
{
	uint64_t size;
	bool nonsync;

	p->cmd->type = IMAP_CMD_UNKNOWN;
	if (imap_tail_literal(s, n, &size, &nonsync) && nonsync) {
		if (size > imap_swallow_max(p))
			return imap_fatal(p, err, "literal of %" PRIu64
			    " bytes in an unknown command", size);
		imap_cmd_hand_over(p, cmd_r);
		p->state = IMAP_ST_SKIP_LITERAL;
		p->lit_left = (size_t)size;
		return IMAP_PARSE_DONE;
	}
	imap_set_idle(p);
	return imap_cmd_hand_over(p, cmd_r);
}

static int
imap_cmd_end(struct imap_parser *p, struct imap_cmd **cmd_r,
    struct mail_err *err)
{
	p->cmd->args = p->stack[0]->list;
	imap_set_idle(p);
	if (imap_cmd_check(p, err) < 0) {
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
	p->state = IMAP_ST_SKIP_LITERAL;
	p->lit_left = (size_t)size;
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
	    p->stack[0]->len >= 2;
	size_t limit = msg ? p->opt.max_append : p->opt.max_literal;
	struct imap_arg *lit = p->lit;

	if (ann->nonsync) {
		if (ann->size > imap_swallow_max(p))
			return imap_fatal(p, err, "literal of %" PRIu64
			    " bytes is over the limit of %zu bytes", ann->size,
			    limit);
		if (p->opt.nonsync == IMAP_NONSYNC_NONE)
			return mail_err_set(err, MAIL_ERR_PROTO,
			    "non-synchronizing literals are not supported"),
			    imap_skip_literal(p, ann->size);
		if (ann->size > limit)
			return mail_err_set(err, MAIL_ERR_LIMIT, "literal of %"
			    PRIu64 " bytes is over the limit of %zu bytes",
			    ann->size, limit), imap_skip_literal(p, ann->size);
		/* RFC 7888 4: LITERAL- allows {n+} only up to 4096 */
		if (p->opt.nonsync == IMAP_NONSYNC_MINUS &&
		    ann->size > IMAP_LITERAL_MINUS_MAX)
			return mail_err_set(err, MAIL_ERR_LIMIT,
			    "non-synchronizing literal of %" PRIu64
			    " bytes is over %d bytes (LITERAL-)", ann->size,
			    IMAP_LITERAL_MINUS_MAX),
			    imap_skip_literal(p, ann->size);
	} else if (ann->size > limit) {
		/* the client waits for a continuation: nothing to skip */
		mail_err_set(err, MAIL_ERR_LIMIT, "literal of %" PRIu64
		    " bytes is over the limit of %zu bytes", ann->size, limit);
		imap_cmd_drop(p);
		imap_set_idle(p);
		return IMAP_PARSE_ERROR;
	}
	lit->len = (size_t)ann->size;
	/* max_literal bounds the sum, so a command of many literals is no
	 * way around it; APPEND bodies to stream do not count */
	if (!(msg && (lit->len >= p->opt.stream_min ||
	    lit->len > p->opt.max_literal)) &&
	    p->lit_total + lit->len > p->opt.max_literal) {
		mail_err_set(err, MAIL_ERR_LIMIT, "literals of one command over "
		    "%zu bytes in all", p->opt.max_literal);
		if (ann->nonsync)
			return imap_skip_literal(p, ann->size);
		imap_cmd_drop(p);
		imap_set_idle(p);
		return IMAP_PARSE_ERROR;
	}
	p->lit_left = lit->len;
	p->lit_fill = 0;
	p->lit_sync = !ann->nonsync;
	p->lit_nul = false;
	if (msg && (lit->len >= p->opt.stream_min ||
	    lit->len > p->opt.max_literal)) {
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

/* Find the pending line: its length with and without the line end, or
 * false (with p->scan updated) if it is not complete yet. */
static bool
imap_find_line(struct imap_parser *p, const uint8_t *s, size_t avail,
    size_t *eol_r, size_t *n_r)
{
	const uint8_t *lf;
	size_t n;

	if (p->scan > avail)
		p->scan = 0;	/* the caller broke the contract: rescan */
	lf = memchr(s + p->scan, '\n', avail - p->scan);
	if (lf == NULL) {
		p->scan = avail;
		return false;
	}
	p->scan = 0;
	*eol_r = (size_t)(lf - s) + 1;
	/* CRLF, or a bare LF as typed by people testing with telnet/nc */
	n = *eol_r - 1;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	*n_r = n;
	return true;
}

/* IDLE and LINE: the next line of a command. */
static int
imap_read_line(struct imap_parser *p, const uint8_t *s, size_t avail,
    size_t *used_r, struct imap_cmd **cmd_r, struct mail_err *err)
{
	struct imap_lit_ann ann;
	size_t eol, n;

	if (p->state == IMAP_ST_IDLE)
		p->have_tag = false;
	if (!imap_find_line(p, s, avail, &eol, &n))
		return p->text + avail >= p->opt.max_line ?
		    imap_fatal_long(p, err) : IMAP_PARSE_MORE;
	if (p->text + eol > p->opt.max_line)
		return imap_fatal_long(p, err);
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
	bool nonsync;

	if (!imap_find_line(p, s, avail, &eol, &n))
		return p->text + avail >= p->opt.max_line ?
		    imap_fatal_long(p, err) : IMAP_PARSE_MORE;
	if (p->text + eol > p->opt.max_line)
		return imap_fatal_long(p, err);
	*used_r = eol;
	p->text += eol;
	if (imap_tail_literal(s, n, &size, &nonsync) && nonsync) {
		if (size > imap_swallow_max(p))
			return imap_fatal(p, err, "literal of %" PRIu64
			    " bytes is over the limit of %zu bytes", size,
			    imap_swallow_max(p));
		p->state = IMAP_ST_SKIP_LITERAL;
		p->lit_left = (size_t)size;
	} else {
		imap_set_idle(p);
	}
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

enum imap_parse_ret
imap_parser_run(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t *used_r, struct imap_cmd **cmd_r, struct mail_err *err)
{
	static const uint8_t empty[1];
	size_t pos = 0;
	int r;

	*used_r = 0;
	*cmd_r = NULL;
	if (data == NULL) {
		data = empty;	/* no arithmetic on NULL */
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
			mail_err_set(err, MAIL_ERR_LIMIT,
			    "connection unusable after an earlier error");
			r = IMAP_PARSE_ERROR;
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

enum imap_parse_ret
imap_parser_read_line(struct imap_parser *p, const uint8_t *data,
    size_t len, size_t *used_r, const uint8_t **line_r, size_t *len_r,
    struct mail_err *err)
{
	static const uint8_t empty[1];
	size_t eol, n;

	*used_r = 0;
	*line_r = NULL;
	*len_r = 0;
	if (p->state == IMAP_ST_FATAL)
		return mail_err_set(err, MAIL_ERR_LIMIT,
		    "connection unusable after an earlier error"),
		    IMAP_PARSE_ERROR;
	mail_assert(p->state == IMAP_ST_IDLE);
	p->have_tag = false;
	if (data == NULL) {
		data = empty;
		len = 0;
	}
	if (!imap_find_line(p, data, len, &eol, &n))
		return len >= p->opt.max_line ?
		    (enum imap_parse_ret)imap_fatal_long(p, err) :
		    IMAP_PARSE_MORE;
	if (eol > p->opt.max_line)
		return (enum imap_parse_ret)imap_fatal_long(p, err);
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

/* ---- IMAP values ---- */

int
imap_seqset_parse(struct imap_arena *a, const char *s, size_t len,
    bool dollar, struct imap_seqset *set_r, struct mail_err *err)
{
	struct imap_seq_range *r;
	size_t i = 0, k = 0, n = 1;
	char show[48];

	memset(set_r, 0, sizeof(*set_r));
	if (dollar && len == 1 && s[0] == '$') {
		set_r->saved = true;	/* RFC 5182: "$" stands alone */
		return 0;
	}
	for (size_t j = 0; j < len; j++)
		n += s[j] == ',';
	r = imap_arena_array(a, n, sizeof(*r));
	for (;;) {
		/* seq-range = seq-number ":" seq-number; seq-number =
		 * nz-number / "*" */
		for (int end = 0; end < 2; end++) {
			size_t j = i;
			uint64_t v = 0;

			if (j < len && s[j] == '*') {
				j++;
			} else {
				while (j < len && imap_is_digit((uint8_t)s[j]))
					j++;
				if (!imap_num_parse(s + i, j - i, UINT32_MAX,
				    true, &v))
					goto bad;
			}
			if (end == 0)
				r[k].lo = r[k].hi = (uint32_t)v;
			else
				r[k].hi = (uint32_t)v;
			i = j;
			if (end == 1 || i == len || s[i] != ':')
				break;
			i++;
		}
		k++;
		if (i == len)
			break;
		if (s[i] != ',')
			goto bad;
		i++;
	}
	set_r->n = k;
	set_r->r = r;
	return 0;
bad:
	return mail_err_set(err, MAIL_ERR_PROTO, "invalid sequence set '%s'",
	    imap_show(show, sizeof(show), s, len));
}

static const char *const imap_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static unsigned
imap_days_in_month(unsigned year, unsigned month)
{
	static const uint8_t days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[month - 1] + (month == 2 && leap);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no timegm() and no time zone state. */
static int64_t
imap_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
imap_civil_from_days(int64_t z, int64_t *y_r, unsigned *m_r, unsigned *d_r)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d_r = doy - (153 * mp + 2) / 5 + 1;
	*m_r = mp < 10 ? mp + 3 : mp - 9;
	*y_r = (int64_t)yoe + era * 400 + (*m_r <= 2);
}

/* n digits at s as a number, or -1. */
static int
imap_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!imap_is_digit((uint8_t)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int
imap_month(const char *s)
{
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(s, imap_months[i], 3) == 0)
			return i + 1;
	}
	return -1;
}

int
imap_date_parse(const char *s, size_t len, struct imap_date *date_r,
    struct mail_err *err)
{
	size_t dl = len > 1 && s[1] == '-' ? 1 : 2;
	int day, month, year;
	char show[48];

	/* date-text = date-day "-" date-month "-" date-year */
	if (len != dl + 9 || s[dl] != '-' || s[dl + 4] != '-' ||
	    (day = imap_digits(s, dl)) < 1 ||
	    (month = imap_month(s + dl + 1)) < 0 ||
	    (year = imap_digits(s + dl + 5, 4)) < 0 ||
	    (unsigned)day > imap_days_in_month((unsigned)year, (unsigned)month))
		return mail_err_set(err, MAIL_ERR_PROTO, "invalid date '%s'",
		    imap_show(show, sizeof(show), s, len));
	date_r->year = (uint16_t)year;
	date_r->month = (uint8_t)month;
	date_r->day = (uint8_t)day;
	return 0;
}

int
imap_datetime_parse(const char *s, size_t len, struct imap_datetime *dt_r,
    struct mail_err *err)
{
	int day, month, year, hh, mm, ss, zh, zm;
	char show[48];

	/* "dd-Mon-yyyy hh:mm:ss +zzzz", date-day-fixed = (SP DIGIT) / 2DIGIT */
	if (len != 26 || s[2] != '-' || s[6] != '-' || s[11] != ' ' ||
	    s[14] != ':' || s[17] != ':' || s[20] != ' ' ||
	    (s[21] != '+' && s[21] != '-') ||
	    (day = s[0] == ' ' ? imap_digits(s + 1, 1) :
	    imap_digits(s, 2)) < 1 ||
	    (month = imap_month(s + 3)) < 0 ||
	    (year = imap_digits(s + 7, 4)) < 0 ||
	    (unsigned)day > imap_days_in_month((unsigned)year, (unsigned)month) ||
	    (hh = imap_digits(s + 12, 2)) < 0 || hh > 23 ||
	    (mm = imap_digits(s + 15, 2)) < 0 || mm > 59 ||
	    (ss = imap_digits(s + 18, 2)) < 0 || ss > 60 ||
	    (zh = imap_digits(s + 22, 2)) < 0 || zh > 23 ||
	    (zm = imap_digits(s + 24, 2)) < 0 || zm > 59)
		return mail_err_set(err, MAIL_ERR_PROTO,
		    "invalid date-time '%s'", imap_show(show, sizeof(show), s,
		    len));
	dt_r->zone = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	dt_r->t = imap_days_from_civil(year, (unsigned)month, (unsigned)day) *
	    86400 + hh * 3600 + mm * 60 + ss - (int64_t)dt_r->zone * 60;
	return 0;
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

/*
 * RFC 5464 3.2: an entry name is a "/"-separated path: it starts with
 * "/", has no "*", "%", "//", trailing "/", controls or non-ASCII.
 */
static bool
imap_entry_valid(const char *s, size_t n)
{
	if (n < 2 || s[0] != '/' || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c < 0x20 || c >= 0x7f || c == '*' || c == '%' ||
		    (c == '/' && i + 1 < n && s[i + 1] == '/'))
			return false;
	}
	return true;
}

/* ---- the command layer: checking arguments into struct imap_cmd ---- */

struct imap_check {
	struct imap_parser *p;
	struct imap_arena *a;
	struct imap_cmd *cmd;
	struct mail_err *err;
	char	 show[48];
};

static int imap_ck_fail(struct imap_check *ck, const char *fmt, ...)
    PRINTF_LIKE(2, 3);

/* A BAD: "FETCH: what went wrong". Returns -1. */
static int
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

/* An argument for a message (never a literal's bytes). */
static const char *
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

static size_t
imap_count(const struct imap_arg *a)
{
	size_t n = 0;

	for (; a != NULL; a = a->next)
		n++;
	return n;
}

static bool
imap_atom_is(const struct imap_arg *a, const char *word)
{
	return a != NULL && (a->type == IMAP_ARG_ATOM ||
	    a->type == IMAP_ARG_NIL) && imap_word_eq(a->str, a->len, word);
}

static int
imap_ck_end(struct imap_check *ck, const struct imap_arg *a)
{
	if (a != NULL)
		return imap_ck_fail(ck, "unexpected argument '%s'",
		    imap_ck_show(ck, a));
	return 0;
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

/* astring = 1*ASTRING-CHAR / string. The value of a secret is never
 * shown. */
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

static int
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

/* atom = 1*ATOM-CHAR */
static int
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

/* A number: nz-number (nz) or 1*DIGIT, at most max. */
static int
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

static int
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

/* A list argument: its first element in *first_r (NULL when empty). */
static int
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

/* n flags from a: flag-list contents or STORE's flags. */
static int
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

/* AUTHENTICATE SP auth-type [SP (base64 / "=")] (RFC 4959 SASL-IR) */
static int
imap_ck_authenticate(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;

	if (imap_ck_atom(ck, a, "mechanism",
	    &ck->cmd->u.authenticate.mechanism) < 0)
		return -1;
	if ((a = a->next) == NULL)
		return 0;
	if (a->type != IMAP_ARG_ATOM || !imap_base64_valid(a->str, a->len))
		return imap_ck_fail(ck, "invalid initial response");
	ck->cmd->u.authenticate.has_initial = true;
	ck->cmd->u.authenticate.initial.data = a->len == 1 ? "" : a->str;
	ck->cmd->u.authenticate.initial.len = a->len == 1 ? 0 : a->len;
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

/* "(QRESYNC (" uidvalidity SP mod-sequence-value [SP known-uids]
 * [SP seq-match-data] "))" (RFC 7162 3.2.5) */
static int
imap_ck_qresync(struct imap_check *ck, const struct imap_arg *q)
{
	struct imap_cmd *cmd = ck->cmd;
	const struct imap_arg *m;
	uint64_t v;

	if (imap_ck_num(ck, q, "UIDVALIDITY", true, UINT32_MAX, &v) < 0)
		return -1;
	cmd->u.select.uidvalidity = (uint32_t)v;
	if (imap_ck_num(ck, q = q->next, "modseq", true, IMAP_MODSEQ_MAX,
	    &cmd->u.select.modseq) < 0)
		return -1;
	q = q->next;
	if (q != NULL && q->type == IMAP_ARG_ATOM) {
		if (imap_ck_seqset(ck, q, false, &cmd->u.select.known_uids) < 0)
			return -1;
		cmd->u.select.has_known_uids = true;
		q = q->next;
	}
	if (q != NULL && q->type == IMAP_ARG_LIST) {
		/* seq-match-data = "(" known-sequence-set SP known-uid-set ")" */
		if (q->len != 2)
			return imap_ck_fail(ck, "invalid QRESYNC sequence "
			    "match data");
		m = q->list;
		if (imap_ck_seqset(ck, m, false, &cmd->u.select.known_seqs) < 0 ||
		    imap_ck_seqset(ck, m->next, false,
		    &cmd->u.select.known_seq_uids) < 0)
			return -1;
		cmd->u.select.has_seq_match = true;
		q = q->next;
	}
	return imap_ck_end(ck, q);
}

/* SELECT/EXAMINE SP mailbox [SP "(" select-param *(SP select-param) ")"]
 * (RFC 4466 2.1; CONDSTORE, QRESYNC of RFC 7162) */
static int
imap_ck_select(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;

	if (imap_ck_astring(ck, a, "mailbox", &ck->cmd->u.select.mailbox) < 0)
		return -1;
	if ((a = a->next) == NULL)
		return 0;
	if (imap_ck_list(ck, a, "parameter list", true, &e) < 0)
		return -1;
	for (; e != NULL; e = e->next) {
		if (imap_atom_is(e, "CONDSTORE")) {
			ck->cmd->u.select.condstore = true;
		} else if (imap_atom_is(e, "QRESYNC")) {
			const struct imap_arg *q;

			if (imap_ck_list(ck, e = e->next, "QRESYNC parameter",
			    true, &q) < 0 || imap_ck_qresync(ck, q) < 0)
				return -1;
			ck->cmd->u.select.qresync = true;
		} else {
			return imap_ck_fail(ck, "unknown parameter '%s'",
			    imap_ck_show(ck, e));
		}
	}
	return imap_ck_end(ck, a->next);
}

/* CREATE SP mailbox [SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")"
 * ")"] (RFC 4466, RFC 6154 CREATE-SPECIAL-USE) */
static int
imap_ck_create(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e, *u;

	if (imap_ck_astring(ck, a, "mailbox", &ck->cmd->u.create.mailbox) < 0)
		return -1;
	if ((a = a->next) == NULL)
		return 0;
	if (imap_ck_list(ck, a, "parameter list", true, &e) < 0)
		return -1;
	for (; e != NULL; e = e->next) {
		const char **use;
		size_t n = 0;

		if (!imap_atom_is(e, "USE"))
			return imap_ck_fail(ck, "unknown parameter '%s'",
			    imap_ck_show(ck, e));
		if (imap_ck_list(ck, e = e->next, "USE list", false, &u) < 0)
			return -1;
		use = imap_arena_array(ck->a, e->len, sizeof(*use));
		for (; u != NULL; u = u->next) {
			/* use-attr = "\" atom */
			if (u->type != IMAP_ARG_ATOM || u->len < 2 ||
			    u->str[0] != '\\' ||
			    !imap_all(u->str + 1, u->len - 1, imap_is_atom_char))
				return imap_ck_fail(ck, "invalid special-use "
				    "attribute '%s'", imap_ck_show(ck, u));
			use[n++] = u->str;
		}
		ck->cmd->u.create.use = use;
		ck->cmd->u.create.n_use = n;
	}
	return imap_ck_end(ck, a->next);
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

/* A keyword and its bit (or enum value + 1, so 0 means "none"). */
struct imap_name_bit {
	const char *name;
	unsigned bit;
};

static const struct imap_name_bit imap_status_items[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "DELETED", IMAP_STATUS_DELETED },
	{ "SIZE", IMAP_STATUS_SIZE },
	{ "RECENT", IMAP_STATUS_RECENT },
	{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
}, imap_list_sel[] = {
	{ "SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED },
	{ "REMOTE", IMAP_LIST_SEL_REMOTE },
	{ "RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH },
	{ "SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE },
}, imap_list_ret[] = {
	{ "SUBSCRIBED", IMAP_LIST_RET_SUBSCRIBED },
	{ "CHILDREN", IMAP_LIST_RET_CHILDREN },
	{ "SPECIAL-USE", IMAP_LIST_RET_SPECIAL_USE },
	{ "STATUS", IMAP_LIST_RET_STATUS },
}, imap_search_ret[] = {
	{ "MIN", IMAP_SEARCH_RET_MIN },
	{ "MAX", IMAP_SEARCH_RET_MAX },
	{ "ALL", IMAP_SEARCH_RET_ALL },
	{ "COUNT", IMAP_SEARCH_RET_COUNT },
	{ "SAVE", IMAP_SEARCH_RET_SAVE },
};

/* The bit of the option named by atom a in a table, or 0. */
#define imap_option(tab, a)	imap_option_((tab), N_ELEMENTS(tab), (a))
static unsigned
imap_option_(const struct imap_name_bit *t, size_t n, const struct imap_arg *a)
{
	for (size_t i = 0; i < n; i++) {
		if (imap_atom_is(a, t[i].name))
			return t[i].bit;
	}
	return 0;
}

/* "(" status-att *(SP status-att) ")" */
static int
imap_ck_status_items(struct imap_check *ck, const struct imap_arg *a,
    unsigned *items)
{
	const struct imap_arg *e;
	unsigned bit;

	if (imap_ck_list(ck, a, "status item list", true, &e) < 0)
		return -1;
	for (*items = 0; e != NULL; e = e->next) {
		if ((bit = imap_option(imap_status_items, e)) == 0)
			return imap_ck_fail(ck, "unknown status item '%s'",
			    imap_ck_show(ck, e));
		*items |= bit;
	}
	return 0;
}

/*
 * LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
 * (RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE)
 */
static int
imap_ck_list_cmd(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.list) *l = &ck->cmd->u.list;
	struct imap_str *pats;
	unsigned bit;

	if (a != NULL && a->type == IMAP_ARG_LIST) {
		l->extended = true;
		for (e = a->list; e != NULL; e = e->next) {
			if ((bit = imap_option(imap_list_sel, e)) == 0)
				return imap_ck_fail(ck, "unknown selection "
				    "option '%s'", imap_ck_show(ck, e));
			l->select |= bit;
		}
		/* RECURSIVEMATCH only modifies a base option (RFC 5258 3) */
		if ((l->select & IMAP_LIST_SEL_RECURSIVEMATCH) &&
		    !(l->select & (IMAP_LIST_SEL_SUBSCRIBED |
		    IMAP_LIST_SEL_SPECIAL_USE)))
			return imap_ck_fail(ck, "RECURSIVEMATCH without a "
			    "selection option it modifies");
		a = a->next;
	}
	if (imap_ck_astring(ck, a, "reference", &l->ref) < 0)
		return -1;
	if ((a = a->next) != NULL && a->type == IMAP_ARG_LIST) {
		l->extended = true;
		if (imap_ck_list(ck, a, "pattern list", true, &e) < 0)
			return -1;
		l->n_patterns = a->len;
	} else {
		e = a;
		l->n_patterns = 1;
	}
	l->patterns = pats = imap_arena_array(ck->a, l->n_patterns,
	    sizeof(*pats));
	for (size_t i = 0; i < l->n_patterns; i++, e = e->next) {
		if (imap_ck_list_mailbox(ck, e, &pats[i]) < 0)
			return -1;
	}
	a = a->next;
	if (imap_atom_is(a, "RETURN")) {
		l->extended = true;
		if (imap_ck_list(ck, a = a->next, "return options", false,
		    &e) < 0)
			return -1;
		for (; e != NULL; e = e->next) {
			if ((bit = imap_option(imap_list_ret, e)) == 0)
				return imap_ck_fail(ck, "unknown return "
				    "option '%s'", imap_ck_show(ck, e));
			l->ret |= bit;
			if (bit == IMAP_LIST_RET_STATUS &&
			    imap_ck_status_items(ck, e = e->next,
			    &l->status) < 0)
				return -1;
		}
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
	const struct imap_arg *a = ck->cmd->args;
	typeof(ck->cmd->u.append) *ap = &ck->cmd->u.append;
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

/* GETMETADATA [SP "(" option *(SP option) ")"] SP mailbox SP entries
 * (RFC 5464 4.2) */
static int
imap_ck_getmetadata(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.getmetadata) *g = &ck->cmd->u.getmetadata;
	struct imap_str *entries;
	uint64_t v;

	if (a != NULL && a->type == IMAP_ARG_LIST) {
		if (imap_ck_list(ck, a, "option list", true, &e) < 0)
			return -1;
		for (; e != NULL; e = e->next) {
			if (imap_atom_is(e, "MAXSIZE")) {
				if (imap_ck_num(ck, e = e->next, "MAXSIZE",
				    false, UINT32_MAX, &v) < 0)
					return -1;
				g->has_maxsize = true;
				g->maxsize = (uint32_t)v;
			} else if (imap_atom_is(e, "DEPTH")) {
				if ((e = e->next) != NULL && imap_atom_is(e, "0"))
					g->depth = IMAP_METADATA_DEPTH_0;
				else if (imap_atom_is(e, "1"))
					g->depth = IMAP_METADATA_DEPTH_1;
				else if (imap_atom_is(e, "infinity"))
					g->depth = IMAP_METADATA_DEPTH_INFINITY;
				else
					return imap_ck_fail(ck, "invalid DEPTH");
			} else {
				return imap_ck_fail(ck, "unknown option '%s'",
				    imap_ck_show(ck, e));
			}
		}
		a = a->next;
	}
	if (imap_ck_astring(ck, a, "mailbox", &g->mailbox) < 0)
		return -1;
	if ((a = a->next) != NULL && a->type == IMAP_ARG_LIST) {
		if (imap_ck_list(ck, a, "entry list", true, &e) < 0)
			return -1;
		g->n_entries = a->len;
	} else {
		e = a;
		g->n_entries = 1;
	}
	g->entries = entries = imap_arena_array(ck->a, g->n_entries,
	    sizeof(*entries));
	for (size_t i = 0; i < g->n_entries; i++, e = e->next) {
		if (imap_ck_astring(ck, e, "entry", &entries[i]) < 0)
			return -1;
		if (!imap_entry_valid(entries[i].data, entries[i].len))
			return imap_ck_fail(ck, "invalid entry name '%s'",
			    imap_ck_show(ck, e));
	}
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

		if (imap_ck_astring(ck, e, "entry", &m->name) < 0)
			return -1;
		if (!imap_entry_valid(m->name.data, m->name.len))
			return imap_ck_fail(ck, "invalid entry name '%s'",
			    imap_ck_show(ck, e));
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

/* ---- search keys (RFC 9051 search-key and extensions) ---- */

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

static const struct imap_sk_def {
	const char *name;
	enum imap_search_key_type type;
	enum imap_sk_arg arg;
} imap_sk_defs[] = {
	{ "", IMAP_SK_AND, IMAP_SKA_SUB },
	{ "OR", IMAP_SK_OR, IMAP_SKA_SUB },
	{ "NOT", IMAP_SK_NOT, IMAP_SKA_SUB },
	{ "ALL", IMAP_SK_ALL, IMAP_SKA_NONE },
	{ "ANSWERED", IMAP_SK_ANSWERED, IMAP_SKA_NONE },
	{ "DELETED", IMAP_SK_DELETED, IMAP_SKA_NONE },
	{ "DRAFT", IMAP_SK_DRAFT, IMAP_SKA_NONE },
	{ "FLAGGED", IMAP_SK_FLAGGED, IMAP_SKA_NONE },
	{ "NEW", IMAP_SK_NEW, IMAP_SKA_NONE },
	{ "OLD", IMAP_SK_OLD, IMAP_SKA_NONE },
	{ "RECENT", IMAP_SK_RECENT, IMAP_SKA_NONE },
	{ "SEEN", IMAP_SK_SEEN, IMAP_SKA_NONE },
	{ "UNANSWERED", IMAP_SK_UNANSWERED, IMAP_SKA_NONE },
	{ "UNDELETED", IMAP_SK_UNDELETED, IMAP_SKA_NONE },
	{ "UNDRAFT", IMAP_SK_UNDRAFT, IMAP_SKA_NONE },
	{ "UNFLAGGED", IMAP_SK_UNFLAGGED, IMAP_SKA_NONE },
	{ "UNSEEN", IMAP_SK_UNSEEN, IMAP_SKA_NONE },
	{ "KEYWORD", IMAP_SK_KEYWORD, IMAP_SKA_KEYWORD },
	{ "UNKEYWORD", IMAP_SK_UNKEYWORD, IMAP_SKA_KEYWORD },
	{ "BCC", IMAP_SK_BCC, IMAP_SKA_ASTRING },
	{ "BODY", IMAP_SK_BODY, IMAP_SKA_ASTRING },
	{ "CC", IMAP_SK_CC, IMAP_SKA_ASTRING },
	{ "FROM", IMAP_SK_FROM, IMAP_SKA_ASTRING },
	{ "SUBJECT", IMAP_SK_SUBJECT, IMAP_SKA_ASTRING },
	{ "TEXT", IMAP_SK_TEXT, IMAP_SKA_ASTRING },
	{ "TO", IMAP_SK_TO, IMAP_SKA_ASTRING },
	{ "HEADER", IMAP_SK_HEADER, IMAP_SKA_HEADER },
	{ "BEFORE", IMAP_SK_BEFORE, IMAP_SKA_DATE },
	{ "ON", IMAP_SK_ON, IMAP_SKA_DATE },
	{ "SINCE", IMAP_SK_SINCE, IMAP_SKA_DATE },
	{ "SENTBEFORE", IMAP_SK_SENTBEFORE, IMAP_SKA_DATE },
	{ "SENTON", IMAP_SK_SENTON, IMAP_SKA_DATE },
	{ "SENTSINCE", IMAP_SK_SENTSINCE, IMAP_SKA_DATE },
	{ "SAVEDBEFORE", IMAP_SK_SAVEDBEFORE, IMAP_SKA_DATE },
	{ "SAVEDON", IMAP_SK_SAVEDON, IMAP_SKA_DATE },
	{ "SAVEDSINCE", IMAP_SK_SAVEDSINCE, IMAP_SKA_DATE },
	{ "SAVEDATESUPPORTED", IMAP_SK_SAVEDATESUPPORTED, IMAP_SKA_NONE },
	{ "LARGER", IMAP_SK_LARGER, IMAP_SKA_NUM64 },
	{ "SMALLER", IMAP_SK_SMALLER, IMAP_SKA_NUM64 },
	{ "OLDER", IMAP_SK_OLDER, IMAP_SKA_SECONDS },
	{ "YOUNGER", IMAP_SK_YOUNGER, IMAP_SKA_SECONDS },
	{ "", IMAP_SK_SEQSET, IMAP_SKA_SUB },
	{ "UID", IMAP_SK_UID, IMAP_SKA_UID },
	{ "MODSEQ", IMAP_SK_MODSEQ, IMAP_SKA_MODSEQ },
};

static const struct imap_sk_def *
imap_sk_lookup(const struct imap_arg *a)
{
	for (size_t i = 0; i < N_ELEMENTS(imap_sk_defs); i++) {
		if (imap_sk_defs[i].name[0] != '\0' &&
		    imap_atom_is(a, imap_sk_defs[i].name))
			return &imap_sk_defs[i];
	}
	return NULL;
}

static const struct imap_sk_def *
imap_sk_def_of(enum imap_search_key_type type)
{
	for (size_t i = 0; i < N_ELEMENTS(imap_sk_defs); i++) {
		if (imap_sk_defs[i].type == type)
			return &imap_sk_defs[i];
	}
	mail_assert(!"unknown search key type");
	return NULL;
}

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer;
 * entry-name = DQUOTE "/flags/" attr-flag DQUOTE (RFC 7162 3.1.5) */
static int
imap_ck_sk_modseq(struct imap_check *ck, const struct imap_arg **ap,
    struct imap_search_key *k)
{
	const struct imap_arg *a = *ap;

	if (a != NULL && a->type == IMAP_ARG_QUOTED) {
		if (a->len <= 7 || strncasecmp(a->str, "/flags/", 7) != 0)
			return imap_ck_fail(ck, "invalid MODSEQ entry '%s'",
			    imap_ck_show(ck, a));
		k->field.data = a->str;
		k->field.len = a->len;
		a = a->next;
		if (imap_atom_is(a, "priv"))
			k->entry_type = IMAP_MODSEQ_ENTRY_PRIV;
		else if (imap_atom_is(a, "shared"))
			k->entry_type = IMAP_MODSEQ_ENTRY_SHARED;
		else if (imap_atom_is(a, "all"))
			k->entry_type = IMAP_MODSEQ_ENTRY_ALL;
		else
			return imap_ck_fail(ck, "invalid MODSEQ entry type");
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
	const struct imap_sk_def *def = imap_sk_lookup(a);

	if (def == NULL) {
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
	k->type = def->type;
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
	unsigned max = ck->p->opt.max_search_depth, top = 0;
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
	const struct imap_arg *a = *ap, *e;
	unsigned bit;

	if (!imap_atom_is(a, "RETURN"))
		return 0;
	if (imap_ck_list(ck, a = a->next, "RETURN options", false, &e) < 0)
		return -1;
	s->has_return = true;
	for (; e != NULL; e = e->next) {
		if ((bit = imap_option(imap_search_ret, e)) == 0)
			return imap_ck_fail(ck, "unknown RETURN option '%s'",
			    imap_ck_show(ck, e));
		s->ret |= bit;
	}
	*ap = a->next;
	return 0;
}

/* SEARCH [search-return-opts] SP ["CHARSET" SP charset SP] search-keys */
static int
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

static const struct imap_name_bit imap_sort_keys[] = {
	{ "ARRIVAL", IMAP_SORT_ARRIVAL + 1 },
	{ "CC", IMAP_SORT_CC + 1 },
	{ "DATE", IMAP_SORT_DATE + 1 },
	{ "FROM", IMAP_SORT_FROM + 1 },
	{ "SIZE", IMAP_SORT_SIZE + 1 },
	{ "SUBJECT", IMAP_SORT_SUBJECT + 1 },
	{ "TO", IMAP_SORT_TO + 1 },
	{ "DISPLAYFROM", IMAP_SORT_DISPLAYFROM + 1 },
	{ "DISPLAYTO", IMAP_SORT_DISPLAYTO + 1 },
}, imap_thread_algs[] = {
	{ "ORDEREDSUBJECT", IMAP_THREAD_ORDEREDSUBJECT + 1 },
	{ "REFERENCES", IMAP_THREAD_REFERENCES + 1 },
	{ "REFS", IMAP_THREAD_REFS + 1 },
};

/* SORT [search-return-opts] SP "(" sort-criterion *(SP sort-criterion)
 * ")" SP charset 1*(SP search-key) (RFC 5256, RFC 5267 ESORT) */
static int
imap_ck_sort(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.sort) *s = &ck->cmd->u.sort;
	struct imap_sort_criterion *c;
	unsigned key;

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
		if ((key = imap_option(imap_sort_keys, e)) == 0)
			return imap_ck_fail(ck, "unknown sort key '%s'",
			    imap_ck_show(ck, e));
		c[s->n_criteria++].key = (enum imap_sort_key)(key - 1);
	}
	if (imap_ck_charset(ck, a = a->next, &s->search.charset) < 0)
		return -1;
	return imap_ck_search_keys(ck, a->next, &s->search.keys);
}

/* THREAD SP thread-alg SP charset 1*(SP search-key) (RFC 5256) */
static int
imap_ck_thread(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args;
	typeof(ck->cmd->u.thread) *t = &ck->cmd->u.thread;
	unsigned alg;

	if (a == NULL)
		return imap_ck_fail(ck, "missing threading algorithm");
	if ((alg = imap_option(imap_thread_algs, a)) == 0)
		return imap_ck_fail(ck, "unknown threading algorithm '%s'",
		    imap_ck_show(ck, a));
	t->alg = (enum imap_thread_alg)(alg - 1);
	if (imap_ck_charset(ck, a = a->next, &t->search.charset) < 0)
		return -1;
	return imap_ck_search_keys(ck, a->next, &t->search.keys);
}

/* ---- FETCH and STORE ---- */

static const struct imap_name_bit imap_fetch_simple[] = {
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE + 1 },
	{ "FLAGS", IMAP_FETCH_FLAGS + 1 },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE + 1 },
	{ "RFC822", IMAP_FETCH_RFC822 + 1 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER + 1 },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE + 1 },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT + 1 },
	{ "BODY", IMAP_FETCH_BODY + 1 },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE + 1 },
	{ "UID", IMAP_FETCH_UID + 1 },
	{ "MODSEQ", IMAP_FETCH_MODSEQ + 1 },
	{ "SAVEDATE", IMAP_FETCH_SAVEDATE + 1 },
}, imap_fetch_sections[] = {
	{ "BODY", IMAP_FETCH_BODY_SECTION + 1 },
	{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION + 1 },
	{ "BINARY", IMAP_FETCH_BINARY + 1 },
	{ "BINARY.PEEK", IMAP_FETCH_BINARY + 1 },
	{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE + 1 },
};

/* The fetch-att table entry whose name is s[0..n), or 0. */
#define imap_fetch_name(tab, s, n) imap_fetch_name_((tab), N_ELEMENTS(tab), \
	(s), (n))
static unsigned
imap_fetch_name_(const struct imap_name_bit *t, size_t count, const char *s,
    size_t n)
{
	for (size_t i = 0; i < count; i++) {
		if (imap_word_eq(s, n, t[i].name))
			return t[i].bit;
	}
	return 0;
}

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
		size_t j = i, len = 0;
		char *out;

		if (i < n && s[i] == '"') {
			for (j = i + 1; j < n && s[j] != '"'; j++, len++) {
				if (s[j] == '\\' && (++j == n ||
				    (s[j] != '\\' && s[j] != '"')))
					return -1;
			}
			if (j == n)
				return -1;
			f[k].data = out = imap_arena_raw(ck->a, len + 1);
			for (size_t m = i + 1; m < j; m++) {
				if (s[m] == '\\')
					m++;
				*out++ = s[m];
			}
			*out = '\0';
			f[k].len = len;
			j++;
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
	static const struct {
		const char *name;
		enum imap_section_text text;
	} texts[] = {
		{ "HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT },
		{ "HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS },
		{ "HEADER", IMAP_SECTION_HEADER },
		{ "TEXT", IMAP_SECTION_TEXT },
		{ "MIME", IMAP_SECTION_MIME },
	};
	uint32_t *parts = imap_arena_array(ck->a, n / 2 + 1, sizeof(*parts));
	size_t i = 0;

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
	for (size_t t = 0; t < N_ELEMENTS(texts); t++) {
		size_t len = strlen(texts[t].name);

		if (n - i < len || strncasecmp(s + i, texts[t].name, len) != 0)
			continue;
		sec->text = texts[t].text;
		i += len;
		if (sec->text == IMAP_SECTION_MIME && sec->n_parts == 0)
			return -1;	/* MIME needs a part */
		if (sec->text == IMAP_SECTION_HEADER_FIELDS ||
		    sec->text == IMAP_SECTION_HEADER_FIELDS_NOT)
			return i < n && s[i] == ' ' ?
			    imap_ck_header_list(ck, s + i + 1, n - i - 1, sec) :
			    -1;
		return i == n ? 0 : -1;
	}
	return -1;
}

/* One fetch-att (not a macro) from an atom. */
static int
imap_ck_fetch_att(struct imap_check *ck, const struct imap_arg *a,
    struct imap_fetch_item *it)
{
	const char *s = a->str, *b, *p;
	size_t n = a->len, e;
	unsigned att;

	if (a->type != IMAP_ARG_ATOM)
		goto bad;
	if ((b = memchr(s, '[', n)) == NULL) {
		if ((att = imap_fetch_name(imap_fetch_simple, s, n)) == 0)
			goto bad;
		it->att = (enum imap_fetch_att)(att - 1);
		return 0;
	}
	if ((att = imap_fetch_name(imap_fetch_sections, s, (size_t)(b - s))) == 0)
		goto bad;
	it->att = (enum imap_fetch_att)(att - 1);
	it->peek = (size_t)(b - s) > 5 && strncasecmp(b - 5, ".PEEK", 5) == 0;
	/* the "]" that closes, outside quoted header names */
	for (e = (size_t)(b - s) + 1; e < n && s[e] != ']'; e++) {
		if (s[e] == '"') {
			for (e++; e < n && s[e] != '"'; e++)
				e += s[e] == '\\';
			if (e >= n)
				goto bad;
		}
	}
	if (e >= n || imap_ck_section(ck, b + 1, e - (size_t)(b - s) - 1,
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

/* FETCH SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
 * "(" fetch-att *(SP fetch-att) ")") [SP "(" fetch-modifier *(SP
 * fetch-modifier) ")"] (RFC 4466; CHANGEDSINCE, VANISHED RFC 7162) */
static int
imap_ck_fetch(struct imap_check *ck)
{
	static const enum imap_fetch_att full[] = { IMAP_FETCH_FLAGS,
	    IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	    IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY };
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.fetch) *f = &ck->cmd->u.fetch;
	struct imap_fetch_item *items;
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
	if ((a = a->next) != NULL && a->type == IMAP_ARG_LIST) {
		if (imap_ck_list(ck, a, "modifier list", true, &e) < 0)
			return -1;
		for (; e != NULL; e = e->next) {
			if (imap_atom_is(e, "CHANGEDSINCE")) {
				if (imap_ck_num(ck, e = e->next, "CHANGEDSINCE",
				    true, IMAP_MODSEQ_MAX, &f->changedsince) < 0)
					return -1;
				f->has_changedsince = true;
			} else if (imap_atom_is(e, "VANISHED")) {
				f->vanished = true;
			} else {
				return imap_ck_fail(ck, "unknown modifier '%s'",
				    imap_ck_show(ck, e));
			}
		}
		a = a->next;
	}
	/* RFC 7162 3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE */
	if (f->vanished && (!ck->cmd->uid || !f->has_changedsince))
		return imap_ck_fail(ck, "VANISHED needs UID FETCH and "
		    "CHANGEDSINCE");
	return imap_ck_end(ck, a);
}

/* STORE SP sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer
 * ")"] SP ["+" / "-"] "FLAGS" [".SILENT"] SP (flag-list / (flag *(SP
 * flag))) (RFC 7162 3.1.3) */
static int
imap_ck_store(struct imap_check *ck)
{
	const struct imap_arg *a = ck->cmd->args, *e;
	typeof(ck->cmd->u.store) *st = &ck->cmd->u.store;
	const char *s;
	size_t n;

	if (imap_ck_seqset(ck, a, true, &st->set) < 0)
		return -1;
	if ((a = a->next) != NULL && a->type == IMAP_ARG_LIST) {
		if (imap_ck_list(ck, a, "modifier list", true, &e) < 0)
			return -1;
		for (; e != NULL; e = e->next) {
			if (!imap_atom_is(e, "UNCHANGEDSINCE"))
				return imap_ck_fail(ck, "unknown modifier '%s'",
				    imap_ck_show(ck, e));
			if (imap_ck_num(ck, e = e->next, "UNCHANGEDSINCE",
			    false, IMAP_MODSEQ_MAX, &st->unchangedsince) < 0)
				return -1;
			st->has_unchangedsince = true;
		}
		a = a->next;
	}
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

/* ---- the command table ---- */

static const struct imap_cmd_def imap_cmd_defs[] = {
	{ "", IMAP_CMD_UNKNOWN, false, NULL },
	{ "CAPABILITY", IMAP_CMD_CAPABILITY, false, imap_ck_none },
	{ "NOOP", IMAP_CMD_NOOP, false, imap_ck_none },
	{ "LOGOUT", IMAP_CMD_LOGOUT, false, imap_ck_none },
	{ "STARTTLS", IMAP_CMD_STARTTLS, false, imap_ck_none },
	{ "AUTHENTICATE", IMAP_CMD_AUTHENTICATE, false, imap_ck_authenticate },
	{ "LOGIN", IMAP_CMD_LOGIN, false, imap_ck_login },
	{ "ENABLE", IMAP_CMD_ENABLE, false, imap_ck_enable },
	{ "ID", IMAP_CMD_ID, false, imap_ck_id },
	{ "COMPRESS", IMAP_CMD_COMPRESS, false, imap_ck_compress },
	{ "SELECT", IMAP_CMD_SELECT, false, imap_ck_select },
	{ "EXAMINE", IMAP_CMD_EXAMINE, false, imap_ck_select },
	{ "CREATE", IMAP_CMD_CREATE, false, imap_ck_create },
	{ "DELETE", IMAP_CMD_DELETE, false, imap_ck_mailbox },
	{ "RENAME", IMAP_CMD_RENAME, false, imap_ck_rename },
	{ "SUBSCRIBE", IMAP_CMD_SUBSCRIBE, false, imap_ck_mailbox },
	{ "UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE, false, imap_ck_mailbox },
	{ "LIST", IMAP_CMD_LIST, false, imap_ck_list_cmd },
	{ "LSUB", IMAP_CMD_LSUB, false, imap_ck_lsub },
	{ "NAMESPACE", IMAP_CMD_NAMESPACE, false, imap_ck_none },
	{ "STATUS", IMAP_CMD_STATUS, false, imap_ck_status },
	{ "APPEND", IMAP_CMD_APPEND, false, imap_ck_append },
	{ "IDLE", IMAP_CMD_IDLE, false, imap_ck_none },
	{ "GETMETADATA", IMAP_CMD_GETMETADATA, false, imap_ck_getmetadata },
	{ "SETMETADATA", IMAP_CMD_SETMETADATA, false, imap_ck_setmetadata },
	{ "CHECK", IMAP_CMD_CHECK, false, imap_ck_none },
	{ "CLOSE", IMAP_CMD_CLOSE, false, imap_ck_none },
	{ "UNSELECT", IMAP_CMD_UNSELECT, false, imap_ck_none },
	{ "EXPUNGE", IMAP_CMD_EXPUNGE, true, imap_ck_expunge },
	{ "SEARCH", IMAP_CMD_SEARCH, true, imap_ck_search },
	{ "SORT", IMAP_CMD_SORT, true, imap_ck_sort },
	{ "THREAD", IMAP_CMD_THREAD, true, imap_ck_thread },
	{ "FETCH", IMAP_CMD_FETCH, true, imap_ck_fetch },
	{ "STORE", IMAP_CMD_STORE, true, imap_ck_store },
	{ "COPY", IMAP_CMD_COPY, true, imap_ck_copy },
	{ "MOVE", IMAP_CMD_MOVE, true, imap_ck_copy },
};

static const struct imap_cmd_def *
imap_cmd_lookup(const char *name, size_t len, bool uid)
{
	for (size_t i = 1; i < N_ELEMENTS(imap_cmd_defs); i++) {
		if (imap_word_eq(name, len, imap_cmd_defs[i].name))
			return uid && !imap_cmd_defs[i].uid ? NULL :
			    &imap_cmd_defs[i];
	}
	return NULL;
}

const char *
imap_cmd_type_name(enum imap_cmd_type type)
{
	for (size_t i = 0; i < N_ELEMENTS(imap_cmd_defs); i++) {
		if (imap_cmd_defs[i].type == type)
			return imap_cmd_defs[i].name;
	}
	return "";
}

/* Check the arguments of the command just read: every value is decoded
 * into the command's arena, so the caller never looks at raw tokens. */
static int
imap_cmd_check(struct imap_parser *p, struct mail_err *err)
{
	struct imap_check ck;

	memset(&ck, 0, sizeof(ck));
	ck.p = p;
	ck.a = p->arena;
	ck.cmd = p->cmd;
	ck.err = err;
	return p->def->check(&ck);
}

/* ---- writing a command back in canonical form ---- */

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

static void
imap_put_literal(struct mail_buf *out, const void *s, size_t n, bool binary)
{
	mail_buf_printf(out, "%s{%zu+}\r\n", binary ? "~" : "", n);
	mail_buf_append(out, s, n);
}

/* The tightest form the reader takes back: an atom of class cls (never
 * "NIL", which would read as NIL), else quoted, else a literal. */
static void
imap_put_string(struct mail_buf *out, const char *s, size_t n,
    bool (*cls)(uint8_t))
{
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
imap_put_astring(struct mail_buf *out, const struct imap_str *s)
{
	imap_put_string(out, s->data, s->len, imap_is_astring_char);
}

static void
imap_put_nstring(struct mail_buf *out, const struct imap_str *s)
{
	if (s->data == NULL)
		mail_buf_append_str(out, "NIL");
	else
		imap_put_string(out, s->data, s->len, NULL);
}

static void
imap_put_seqset(struct mail_buf *out, const struct imap_seqset *set)
{
	if (set->saved) {
		mail_buf_append_str(out, "$");
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct imap_seq_range *r = &set->r[i];

		if (i > 0)
			mail_buf_append_str(out, ",");
		if (r->lo == 0)
			mail_buf_append_str(out, "*");
		else
			mail_buf_printf(out, "%" PRIu32, r->lo);
		if (r->hi == r->lo)
			continue;
		if (r->hi == 0)
			mail_buf_append_str(out, ":*");
		else
			mail_buf_printf(out, ":%" PRIu32, r->hi);
	}
}

static void
imap_put_flags(struct mail_buf *out, const struct imap_flags *f)
{
	mail_buf_append_str(out, "(");
	mail_flags_format(f->sys, out);
	for (size_t i = 0; i < f->n_keywords; i++) {
		if (i > 0 || f->sys != 0)
			mail_buf_append_str(out, " ");
		mail_buf_append_str(out, f->keywords[i]);
	}
	mail_buf_append_str(out, ")");
}

static void
imap_put_date(struct mail_buf *out, const struct imap_date *d)
{
	mail_buf_printf(out, "%u-%s-%04u", (unsigned)d->day,
	    imap_months[d->month - 1], (unsigned)d->year);
}

static void
imap_put_datetime(struct mail_buf *out, const struct imap_datetime *dt)
{
	int64_t local = dt->t + (int64_t)dt->zone * 60, y;
	int64_t days = local / 86400 - (local % 86400 < 0);
	int64_t secs = local - days * 86400;
	int zone = dt->zone < 0 ? -dt->zone : dt->zone;
	unsigned m, d;

	imap_civil_from_days(days, &y, &m, &d);
	mail_buf_printf(out, "\"%02u-%s-%04" PRId64 " %02d:%02d:%02d %c%02d%02d\"",
	    d, imap_months[m - 1], y, (int)(secs / 3600), (int)(secs / 60 % 60),
	    (int)(secs % 60), dt->zone < 0 ? '-' : '+', zone / 60, zone % 60);
}

static void
imap_put_section(struct mail_buf *out, const struct imap_section *sec)
{
	static const char *const texts[] = {
		[IMAP_SECTION_NONE] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};

	mail_buf_append_str(out, "[");
	for (size_t i = 0; i < sec->n_parts; i++)
		mail_buf_printf(out, "%s%" PRIu32, i > 0 ? "." : "",
		    sec->parts[i]);
	if (sec->text != IMAP_SECTION_NONE)
		mail_buf_printf(out, "%s%s", sec->n_parts > 0 ? "." : "",
		    texts[sec->text]);
	for (size_t i = 0; i < sec->n_fields; i++) {
		/* no "]" in an atom here: it would end the section */
		mail_buf_append_str(out, i == 0 ? " (" : " ");
		imap_put_string(out, sec->fields[i].data, sec->fields[i].len,
		    imap_is_atom_char);
	}
	mail_buf_append_str(out, sec->n_fields > 0 ? ")]" : "]");
}

static void
imap_put_fetch_item(struct mail_buf *out, const struct imap_fetch_item *it)
{
	switch (it->att) {
	case IMAP_FETCH_BODY_SECTION:
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		mail_buf_append_str(out, it->att == IMAP_FETCH_BODY_SECTION ?
		    "BODY" : it->att == IMAP_FETCH_BINARY ? "BINARY" :
		    "BINARY.SIZE");
		if (it->peek)
			mail_buf_append_str(out, ".PEEK");
		imap_put_section(out, &it->section);
		if (it->partial)
			mail_buf_printf(out, "<%" PRIu64 ".%" PRIu64 ">",
			    it->offset, it->count);
		return;
	default:
		for (size_t i = 0; i < N_ELEMENTS(imap_fetch_simple); i++) {
			if (imap_fetch_simple[i].bit == it->att + 1u)
				mail_buf_append_str(out,
				    imap_fetch_simple[i].name);
		}
	}
}

/* The names of the bits set in bits, space-separated, table order. */
#define imap_put_bits(out, tab, bits) \
	imap_put_bits_((out), (tab), N_ELEMENTS(tab), (bits))
static void
imap_put_bits_(struct mail_buf *out, const struct imap_name_bit *t,
    size_t n, unsigned bits)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if ((bits & t[i].bit) == 0)
			continue;
		mail_buf_printf(out, "%s%s", first ? "" : " ", t[i].name);
		first = false;
	}
}

static void
imap_put_search_key(struct mail_buf *out, const struct imap_search_key *k)
{
	const struct imap_sk_def *def = imap_sk_def_of(k->type);
	static const char *const entry_types[] = { "", "priv", "shared",
	    "all" };

	if (k->type == IMAP_SK_SEQSET) {
		imap_put_seqset(out, &k->set);
		return;
	}
	mail_buf_append_str(out, def->name);
	switch (def->arg) {
	case IMAP_SKA_ASTRING:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &k->str);
		break;
	case IMAP_SKA_KEYWORD:
		/* an atom even when it is "NIL": flag-keyword is an atom */
		mail_buf_printf(out, " %s", k->str.data);
		break;
	case IMAP_SKA_HEADER:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &k->field);
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &k->str);
		break;
	case IMAP_SKA_DATE:
		mail_buf_append_str(out, " ");
		imap_put_date(out, &k->date);
		break;
	case IMAP_SKA_NUM64:
	case IMAP_SKA_SECONDS:
		mail_buf_printf(out, " %" PRIu64, k->num);
		break;
	case IMAP_SKA_UID:
		mail_buf_append_str(out, " ");
		imap_put_seqset(out, &k->set);
		break;
	case IMAP_SKA_MODSEQ:
		if (k->entry_type != IMAP_MODSEQ_ENTRY_NONE) {
			mail_buf_append_str(out, " ");
			imap_put_quoted(out, k->field.data, k->field.len);
			mail_buf_printf(out, " %s",
			    entry_types[k->entry_type]);
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

static void
imap_put_search_return(struct mail_buf *out, const struct imap_search *s)
{
	if (!s->has_return)
		return;
	mail_buf_append_str(out, " RETURN (");
	imap_put_bits(out, imap_search_ret, s->ret);
	mail_buf_append_str(out, ")");
}

static void
imap_put_charset(struct mail_buf *out, const char *charset)
{
	mail_buf_append_str(out, " ");
	imap_put_string(out, charset, strlen(charset), imap_is_atom_char);
}

/* The arguments of SELECT/EXAMINE after the mailbox. */
static void
imap_put_select_params(struct mail_buf *out, const struct imap_cmd *cmd)
{
	if (!cmd->u.select.condstore && !cmd->u.select.qresync)
		return;
	mail_buf_append_str(out, " (");
	if (cmd->u.select.condstore)
		mail_buf_append_str(out, "CONDSTORE");
	if (cmd->u.select.qresync) {
		mail_buf_printf(out, "%sQRESYNC (%" PRIu32 " %" PRIu64,
		    cmd->u.select.condstore ? " " : "",
		    cmd->u.select.uidvalidity, cmd->u.select.modseq);
		if (cmd->u.select.has_known_uids) {
			mail_buf_append_str(out, " ");
			imap_put_seqset(out, &cmd->u.select.known_uids);
		}
		if (cmd->u.select.has_seq_match) {
			mail_buf_append_str(out, " (");
			imap_put_seqset(out, &cmd->u.select.known_seqs);
			mail_buf_append_str(out, " ");
			imap_put_seqset(out, &cmd->u.select.known_seq_uids);
			mail_buf_append_str(out, ")");
		}
		mail_buf_append_str(out, ")");
	}
	mail_buf_append_str(out, ")");
}

static void
imap_put_list(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.list) *l = &cmd->u.list;

	if (l->select != 0) {
		mail_buf_append_str(out, " (");
		imap_put_bits(out, imap_list_sel, l->select);
		mail_buf_append_str(out, ")");
	}
	mail_buf_append_str(out, " ");
	imap_put_astring(out, &l->ref);
	mail_buf_append_str(out, l->extended ? " (" : " ");
	for (size_t i = 0; i < l->n_patterns; i++) {
		if (i > 0)
			mail_buf_append_str(out, " ");
		imap_put_string(out, l->patterns[i].data, l->patterns[i].len,
		    imap_is_list_char);
	}
	if (l->extended)
		mail_buf_append_str(out, ")");
	if (l->ret != 0) {
		mail_buf_append_str(out, " RETURN (");
		imap_put_bits(out, imap_list_ret, l->ret);
		if (l->ret & IMAP_LIST_RET_STATUS) {
			mail_buf_append_str(out, " (");
			imap_put_bits(out, imap_status_items, l->status);
			mail_buf_append_str(out, ")");
		}
		mail_buf_append_str(out, ")");
	}
}

static void
imap_put_append(struct mail_buf *out, const struct imap_cmd *cmd)
{
	mail_buf_append_str(out, " ");
	imap_put_astring(out, &cmd->u.append.mailbox);
	for (size_t i = 0; i < cmd->u.append.n_msgs; i++) {
		const struct imap_append_msg *m = &cmd->u.append.msgs[i];

		if (m->has_flags) {
			mail_buf_append_str(out, " ");
			imap_put_flags(out, &m->flags);
		}
		if (m->has_date) {
			mail_buf_append_str(out, " ");
			imap_put_datetime(out, &m->date);
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
imap_put_metadata(struct mail_buf *out, const struct imap_cmd *cmd)
{
	static const char *const depths[] = { "0", "1", "infinity" };

	if (cmd->type == IMAP_CMD_GETMETADATA) {
		const typeof(cmd->u.getmetadata) *g = &cmd->u.getmetadata;

		if (g->has_maxsize && g->depth != IMAP_METADATA_DEPTH_0)
			mail_buf_printf(out, " (MAXSIZE %" PRIu32 " DEPTH %s)",
			    g->maxsize, depths[g->depth]);
		else if (g->has_maxsize)
			mail_buf_printf(out, " (MAXSIZE %" PRIu32 ")",
			    g->maxsize);
		else if (g->depth != IMAP_METADATA_DEPTH_0)
			mail_buf_printf(out, " (DEPTH %s)", depths[g->depth]);
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &g->mailbox);
		for (size_t i = 0; i < g->n_entries; i++) {
			mail_buf_append_str(out, i == 0 ? " (" : " ");
			imap_put_astring(out, &g->entries[i]);
		}
		mail_buf_append_str(out, ")");
		return;
	}
	mail_buf_append_str(out, " ");
	imap_put_astring(out, &cmd->u.setmetadata.mailbox);
	for (size_t i = 0; i < cmd->u.setmetadata.n_entries; i++) {
		const struct imap_metadata_entry *e =
		    &cmd->u.setmetadata.entries[i];

		mail_buf_append_str(out, i == 0 ? " (" : " ");
		imap_put_astring(out, &e->name);
		mail_buf_append_str(out, " ");
		if (e->binary)
			imap_put_literal(out, e->value.data, e->value.len, true);
		else
			imap_put_nstring(out, &e->value);
	}
	mail_buf_append_str(out, ")");
}

static void
imap_put_fetch(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.fetch) *f = &cmd->u.fetch;

	mail_buf_append_str(out, " ");
	imap_put_seqset(out, &f->set);
	for (size_t i = 0; i < f->n_items; i++) {
		mail_buf_append_str(out, i == 0 ? " (" : " ");
		imap_put_fetch_item(out, &f->items[i]);
	}
	mail_buf_append_str(out, ")");
	if (f->has_changedsince || f->vanished) {
		mail_buf_append_str(out, " (");
		if (f->has_changedsince)
			mail_buf_printf(out, "CHANGEDSINCE %" PRIu64,
			    f->changedsince);
		if (f->vanished)
			mail_buf_append_str(out, f->has_changedsince ?
			    " VANISHED" : "VANISHED");
		mail_buf_append_str(out, ")");
	}
}

static void
imap_put_store(struct mail_buf *out, const struct imap_cmd *cmd)
{
	const typeof(cmd->u.store) *st = &cmd->u.store;

	mail_buf_append_str(out, " ");
	imap_put_seqset(out, &st->set);
	if (st->has_unchangedsince)
		mail_buf_printf(out, " (UNCHANGEDSINCE %" PRIu64 ")",
		    st->unchangedsince);
	mail_buf_printf(out, " %sFLAGS%s ", st->op == IMAP_STORE_ADD ? "+" :
	    st->op == IMAP_STORE_REMOVE ? "-" : "", st->silent ? ".SILENT" : "");
	imap_put_flags(out, &st->flags);
}

void
imap_cmd_write(const struct imap_cmd *cmd, bool secrets, struct mail_buf *out)
{
	mail_buf_printf(out, "%s %s%s", cmd->tag, cmd->uid ? "UID " : "",
	    cmd->type == IMAP_CMD_UNKNOWN ? cmd->name :
	    imap_cmd_type_name(cmd->type));
	switch (cmd->type) {
	case IMAP_CMD_AUTHENTICATE:
		mail_buf_printf(out, " %s", cmd->u.authenticate.mechanism);
		if (!cmd->u.authenticate.has_initial)
			break;
		if (!secrets)
			mail_buf_append_str(out, " ***");
		else if (cmd->u.authenticate.initial.len == 0)
			mail_buf_append_str(out, " =");
		else
			mail_buf_printf(out, " %s",
			    cmd->u.authenticate.initial.data);
		break;
	case IMAP_CMD_LOGIN:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.login.user);
		mail_buf_append_str(out, " ");
		if (secrets)
			imap_put_astring(out, &cmd->u.login.password);
		else
			mail_buf_append_str(out, "***");
		break;
	case IMAP_CMD_ENABLE:
		for (size_t i = 0; i < cmd->u.enable.n; i++)
			mail_buf_printf(out, " %s", cmd->u.enable.caps[i]);
		break;
	case IMAP_CMD_ID:
		if (cmd->u.id.n == 0)
			mail_buf_append_str(out, " NIL");
		for (size_t i = 0; i < cmd->u.id.n; i++) {
			mail_buf_append_str(out, i == 0 ? " (" : " ");
			imap_put_string(out, cmd->u.id.keys[i].data,
			    cmd->u.id.keys[i].len, NULL);
			mail_buf_append_str(out, " ");
			imap_put_nstring(out, &cmd->u.id.values[i]);
		}
		if (cmd->u.id.n > 0)
			mail_buf_append_str(out, ")");
		break;
	case IMAP_CMD_COMPRESS:
		mail_buf_printf(out, " %s", cmd->u.compress.mechanism);
		break;
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.select.mailbox);
		imap_put_select_params(out, cmd);
		break;
	case IMAP_CMD_CREATE:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.create.mailbox);
		for (size_t i = 0; i < cmd->u.create.n_use; i++)
			mail_buf_printf(out, "%s%s", i == 0 ? " (USE (" : " ",
			    cmd->u.create.use[i]);
		if (cmd->u.create.n_use > 0)
			mail_buf_append_str(out, "))");
		break;
	case IMAP_CMD_DELETE:
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.mailbox.mailbox);
		break;
	case IMAP_CMD_RENAME:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.rename.from);
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.rename.to);
		break;
	case IMAP_CMD_LIST:
	case IMAP_CMD_LSUB:
		imap_put_list(out, cmd);
		break;
	case IMAP_CMD_STATUS:
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.status.mailbox);
		mail_buf_append_str(out, " (");
		imap_put_bits(out, imap_status_items, cmd->u.status.items);
		mail_buf_append_str(out, ")");
		break;
	case IMAP_CMD_APPEND:
		imap_put_append(out, cmd);
		break;
	case IMAP_CMD_GETMETADATA:
	case IMAP_CMD_SETMETADATA:
		imap_put_metadata(out, cmd);
		break;
	case IMAP_CMD_EXPUNGE:
		if (cmd->uid) {
			mail_buf_append_str(out, " ");
			imap_put_seqset(out, &cmd->u.expunge.set);
		}
		break;
	case IMAP_CMD_SEARCH:
		imap_put_search_return(out, &cmd->u.search);
		if (cmd->u.search.charset != NULL) {
			mail_buf_append_str(out, " CHARSET");
			imap_put_charset(out, cmd->u.search.charset);
		}
		imap_put_search_keys(out, cmd->u.search.keys);
		break;
	case IMAP_CMD_SORT:
		imap_put_search_return(out, &cmd->u.sort.search);
		for (size_t i = 0; i < cmd->u.sort.n_criteria; i++) {
			const struct imap_sort_criterion *c =
			    &cmd->u.sort.criteria[i];

			mail_buf_printf(out, "%s%s%s", i == 0 ? " (" : " ",
			    c->reverse ? "REVERSE " : "",
			    imap_sort_keys[c->key].name);
		}
		mail_buf_append_str(out, ")");
		imap_put_charset(out, cmd->u.sort.search.charset);
		imap_put_search_keys(out, cmd->u.sort.search.keys);
		break;
	case IMAP_CMD_THREAD:
		mail_buf_printf(out, " %s",
		    imap_thread_algs[cmd->u.thread.alg].name);
		imap_put_charset(out, cmd->u.thread.search.charset);
		imap_put_search_keys(out, cmd->u.thread.search.keys);
		break;
	case IMAP_CMD_FETCH:
		imap_put_fetch(out, cmd);
		break;
	case IMAP_CMD_STORE:
		imap_put_store(out, cmd);
		break;
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE:
		mail_buf_append_str(out, " ");
		imap_put_seqset(out, &cmd->u.copy.set);
		mail_buf_append_str(out, " ");
		imap_put_astring(out, &cmd->u.copy.mailbox);
		break;
	default:
		break;
	}
	mail_buf_append_str(out, "\r\n");
}
