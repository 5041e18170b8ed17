/*
 * imap_parser.h: the resumable IMAP command parser of imapd.
 *
 * Two layers in one module (its files are listed in imap_parser_private.h):
 *
 *  1. A reader that takes the connection's input bytes as they arrive (any
 *     split, one byte at a time included) and builds a generic argument
 *     tree (atoms, quoted strings, literals, NIL, lists) for one command.
 *     It stops where the server must act: after a synchronizing literal
 *     announcement ("send the continuation now"), at an APPEND message
 *     literal big enough to stream, after every complete command, and at
 *     every error (after which it skips the rest of the broken command by
 *     itself, swallowing non-synchronizing literal bytes).
 *
 *  2. A command layer that checks the arguments of every command imapd
 *     supports (RFC 3501, RFC 9051 and the extensions listed in
 *     imap_cmd.c) and fills a typed struct: struct imap_cmd.
 *
 * Memory: an idle parser is one small struct (no buffers). The arguments
 * of the command being read live in a per-command arena that the parser
 * hands over, with the command, to the caller, who frees both with
 * imap_cmd_free(). APPEND bodies above a size threshold never enter the
 * parser's memory: the caller receives them as they arrive.
 *
 * Typical use by a connection with input buffer `in`:
 *
 *	for (;;) {
 *		r = imap_parser_run(p, in.data, in.len, &used, &cmd, &err);
 *		(for IMAP_PARSE_LITERAL_DATA, first write in.data[0..used))
 *		mail_buf_consume(&in, used);
 *		switch (r) { ... }
 *	}
 */
#ifndef IMAP_PARSER_H
#define IMAP_PARSER_H

#include <stdbool.h>
#include <stdint.h>

#include "mail_buf.h"
#include "mail_err.h"

struct imap_parser;			/* opaque, defined in imap_parser.c */
struct imap_arena;			/* opaque: one command's memory */
struct imap_cmd;			/* a parsed command, below */

/* The results of imap_parser_run(). Whatever the result, the caller drops
 * the first *used_r bytes of its input before the next call and keeps the
 * rest unchanged (it may append). */
enum imap_parse_ret {
	/* err is filled. err->code is MAIL_ERR_PROTO for a syntax error
	 * (answer BAD) or MAIL_ERR_LIMIT for a limit (answer BAD with
	 * [TOOBIG] or [LIMIT]). imap_parser_tag() gives the tag for a tagged
	 * answer, or NULL for an untagged one. Unless imap_parser_fatal() is
	 * true, keep calling: the parser skips the rest of the broken command
	 * (and any non-synchronizing literal bytes in it) on its own.
	 * Fatality is not the code: a synchronizing literal over the limit
	 * is refused and the connection goes on (the client never sends it). */
	IMAP_PARSE_ERROR = -1,
	/* Need more input. An incomplete line is not consumed (*used_r only
	 * covers complete lines and literal bytes before it); the parser
	 * remembers how far it searched, so the total work stays linear. */
	IMAP_PARSE_MORE = 0,
	/* A complete command in *cmd_r (the caller owns it: imap_cmd_free()).
	 * It may be IMAP_CMD_UNKNOWN (answer BAD); the parser then skips the
	 * rest of that command's input by itself. */
	IMAP_PARSE_DONE = 1,
	/* A synchronizing literal {n} was announced and is within limits:
	 * send a continuation ("+ OK\r\n") now, then call again. */
	IMAP_PARSE_CONTINUE = 2,
	/* An APPEND message literal that the caller reads itself was
	 * announced: see imap_parser_stream(). If it is synchronizing, send
	 * the continuation (or refuse with imap_parser_skip_command()); then
	 * call again. */
	IMAP_PARSE_LITERAL = 3,
	/* Streamed literal content: the first *used_r bytes of the input
	 * belong to the literal announced by the last IMAP_PARSE_LITERAL.
	 * Process them, drop them, call again. Chunks follow each other until
	 * the announced size is reached; then reading the command goes on. */
	IMAP_PARSE_LITERAL_DATA = 4,
};

/* Which non-synchronizing literals {n+} are accepted (RFC 7888). */
enum imap_nonsync {
	IMAP_NONSYNC_PLUS = 0,	/* LITERAL+: any size (within the limits) */
	IMAP_NONSYNC_MINUS,	/* LITERAL-: up to 4096 bytes */
	IMAP_NONSYNC_NONE,	/* neither advertised: {n+} is a BAD */
};

#define IMAP_LITERAL_MINUS_MAX	4096
#define IMAP_TAG_MAX		64	/* longer tags: untagged BAD */

struct imap_parser_opts {
	size_t	 max_line;	/* command text, literals excluded (65536);
				 * over it: fatal (untagged when the first line
				 * is too long) */
	size_t	 max_literal;	/* literal bytes the parser buffers for one
				 * command, all its literals together (65536) */
	size_t	 max_append;	/* an APPEND message literal (64 MiB) */
	size_t	 stream_min;	/* APPEND message literals at least this big,
				 * or over max_literal, are streamed to the
				 * caller (16384; 0: all of them) */
	unsigned max_depth;	/* nesting of parentheses (16) */
	unsigned max_args;	/* argument nodes, lists included (8192) */
	unsigned max_search_depth; /* NOT/OR/() nesting of search keys (64) */
	enum imap_nonsync nonsync;
};

/* Fill o with the defaults given above. */
void	imap_parser_opts_default(struct imap_parser_opts *o);

/* A parser for one connection; opts NULL means the defaults, and is
 * copied. max_line must be at least 64 and max_depth, max_args and
 * max_search_depth at least 1 (programmer errors otherwise). Never
 * returns NULL (aborts on OOM). Free with imap_parser_free(). */
struct imap_parser *imap_parser_new(const struct imap_parser_opts *opts);
/* Free the parser and any command in progress. NULL-safe; sets *pp NULL. */
void	imap_parser_free(struct imap_parser **pp);

/*
 * Read from the caller's input (data, len): the bytes not consumed by
 * earlier calls, plus anything new. Sets *used_r (always) and *cmd_r
 * (NULL unless IMAP_PARSE_DONE). See enum imap_parse_ret.
 *
 * Lines end in CRLF (a bare LF is accepted too); empty lines between
 * commands are ignored.
 */
enum imap_parse_ret imap_parser_run(struct imap_parser *p,
	    const uint8_t *data, size_t len, size_t *used_r,
	    struct imap_cmd **cmd_r, struct mail_err *err) WARN_UNUSED;

/* The tag of the command being read, or of the one the last error was
 * about; NULL if no tag could be read. Valid until the next call. */
const char *imap_parser_tag(const struct imap_parser *p);
/* True after an error the connection can not recover from (a line over
 * max_line, a non-synchronizing literal bigger than both max_literal and
 * max_append, which we will not read just to drop): answer with BYE and
 * close. Every later run returns IMAP_PARSE_ERROR. */
bool	imap_parser_fatal(const struct imap_parser *p);

/* What the last IMAP_PARSE_LITERAL announced. */
struct imap_stream {
	size_t	 size;		/* content bytes to come (may be 0) */
	bool	 sync;		/* the client waits for a continuation */
	bool	 binary;	/* literal8 ~{n}: may hold NULs */
	unsigned msg_index;	/* which APPEND message, from 0 */
};
/* Borrowed, valid until the next call on p. */
const struct imap_stream *imap_parser_stream(const struct imap_parser *p);
/* The top-level arguments read so far of the command in progress (for
 * APPEND at IMAP_PARSE_LITERAL: the mailbox, flags and date); NULL if
 * none. The last may be the literal being read: its len is final, its
 * bytes are not. Borrowed, valid until the next call on p. */
const struct imap_arg *imap_parser_partial_args(const struct imap_parser *p);
/* Bytes of memory the parser holds now: its struct, plus the arena of a
 * command in progress (an idle parser holds no buffers). */
size_t	imap_parser_mem_used(const struct imap_parser *p);
/* Give up the command in progress (e.g. refuse an APPEND with NO
 * [TOOBIG] at IMAP_PARSE_LITERAL). Its memory is freed; its tag stays
 * readable. A pending non-synchronizing literal and the rest of the
 * command are skipped by the next runs. For a synchronizing literal, call
 * this instead of sending the continuation: the client then sends
 * nothing more of the command. */
void	imap_parser_skip_command(struct imap_parser *p);

/* Read one raw line instead of a command: IDLE's "DONE" and the client's
 * AUTHENTICATE responses. Only between commands (programmer error
 * otherwise). Returns IMAP_PARSE_DONE with *line_r and *len_r set to the
 * line without its CRLF (borrowed from data), IMAP_PARSE_MORE (nothing
 * consumed), or IMAP_PARSE_ERROR (fatal: over max_line). *used_r as for
 * imap_parser_run(). */
enum imap_parse_ret imap_parser_read_line(struct imap_parser *p,
	    const uint8_t *data, size_t len, size_t *used_r,
	    const uint8_t **line_r, size_t *len_r, struct mail_err *err)
	    WARN_UNUSED;
/* True if a line read during IDLE is "DONE" (any case). */
bool	imap_line_is_done(const uint8_t *line, size_t len);

/* ---- the generic argument tree ---- */

enum imap_arg_type {
	IMAP_ARG_ATOM = 0,	/* also numbers, sets, \flags, BODY[..]<..> */
	IMAP_ARG_NIL,		/* the atom NIL in any case; str is its text */
	IMAP_ARG_QUOTED,	/* unescaped */
	IMAP_ARG_LITERAL,	/* {n}, {n+}, ~{n}, ~{n+} */
	IMAP_ARG_LIST,		/* ( ... ) */
};

#define IMAP_ARG_F_LITERAL8	0x01	/* ~{n}: may hold NULs */
#define IMAP_ARG_F_NONSYNC	0x02	/* {n+} */
#define IMAP_ARG_F_STREAMED	0x04	/* the caller took the bytes */

/* All arguments live in the command's arena. */
struct imap_arg {
	enum imap_arg_type type;
	unsigned flags;		/* IMAP_ARG_F_* */
	const char *str;	/* the bytes, NUL-terminated (but may hold
				 * NULs if literal8); NULL for lists and
				 * streamed literals */
	size_t	 len;		/* bytes in str, a literal's size, or the
				 * number of elements of a list */
	struct imap_arg *list;	/* first element of a list */
	struct imap_arg *next;	/* next argument at the same level */
};

/* ---- the typed IMAP values ---- */

/* Client bytes: data is NUL-terminated, but may hold NULs only where the
 * field says so (literal8). data NULL means NIL where NIL is allowed. */
struct imap_str {
	const char *data;
	size_t	 len;
};

/* A sequence set as sent (not normalized: '*' depends on the mailbox).
 * 0 stands for '*'. "$" (RFC 5182 SEARCHRES) has no ranges. */
struct imap_seq_range {
	uint32_t lo, hi;	/* as sent: "5:3" is lo 5, hi 3 */
};
struct imap_seqset {
	bool	 saved;		/* "$": the result of the last SEARCH SAVE */
	size_t	 n;
	const struct imap_seq_range *r;
};

struct imap_date {			/* SEARCH dates: "1-Feb-2024" */
	uint16_t year;
	uint8_t	 month;		/* 1..12 */
	uint8_t	 day;		/* 1..31, valid for the month */
};

struct imap_datetime {			/* "01-Feb-2024 10:00:00 +0100" */
	int64_t	 t;		/* seconds since the epoch, UTC */
	int	 zone;		/* minutes east of UTC, as sent */
};

/* A flag list or flags of STORE and APPEND: system flags as MAIL_SEEN
 * etc. bits (mail_flags.h) plus keywords, in the order sent. */
struct imap_flags {
	uint16_t sys;
	size_t	 n_keywords;
	const char *const *keywords;
};

/* FETCH BODY[...] / BINARY[...] sections (RFC 9051 section, RFC 3516). */
enum imap_section_text {
	IMAP_SECTION_NONE = 0,		/* [] or [1.2]: all of it */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,		/* only after a part number */
};
struct imap_section {
	size_t	 n_parts;
	const uint32_t *parts;		/* 1.2.3: nz-numbers */
	enum imap_section_text text;
	size_t	 n_fields;
	const struct imap_str *fields;	/* HEADER.FIELDS (A B) */
};

enum imap_fetch_att {
	IMAP_FETCH_ENVELOPE = 0,
	IMAP_FETCH_FLAGS,
	IMAP_FETCH_INTERNALDATE,
	IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER,
	IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_RFC822_TEXT,
	IMAP_FETCH_BODY,		/* BODY: non-extensible structure */
	IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_BODY_SECTION,	/* BODY[..] / BODY.PEEK[..] */
	IMAP_FETCH_BINARY,		/* BINARY[..] / BINARY.PEEK[..] */
	IMAP_FETCH_BINARY_SIZE,		/* BINARY.SIZE[..] */
	IMAP_FETCH_MODSEQ,		/* RFC 7162 */
	IMAP_FETCH_SAVEDATE,		/* RFC 8514 */
};
struct imap_fetch_item {
	enum imap_fetch_att att;
	bool	 peek;
	struct imap_section section;	/* BODY_SECTION; BINARY*: parts */
	bool	 partial;		/* <offset.count> */
	uint64_t offset, count;		/* count >= 1 */
};

enum imap_search_key_type {
	IMAP_SK_AND = 0,	/* children: every one matches; "( ... )" */
	IMAP_SK_OR,		/* two children */
	IMAP_SK_NOT,		/* one child */
	IMAP_SK_ALL,
	IMAP_SK_ANSWERED,
	IMAP_SK_DELETED,
	IMAP_SK_DRAFT,
	IMAP_SK_FLAGGED,
	IMAP_SK_NEW,
	IMAP_SK_OLD,
	IMAP_SK_RECENT,
	IMAP_SK_SEEN,
	IMAP_SK_UNANSWERED,
	IMAP_SK_UNDELETED,
	IMAP_SK_UNDRAFT,
	IMAP_SK_UNFLAGGED,
	IMAP_SK_UNSEEN,
	IMAP_SK_KEYWORD,	/* str: the keyword */
	IMAP_SK_UNKEYWORD,
	IMAP_SK_BCC,		/* str: the text to find */
	IMAP_SK_BODY,
	IMAP_SK_CC,
	IMAP_SK_FROM,
	IMAP_SK_SUBJECT,
	IMAP_SK_TEXT,
	IMAP_SK_TO,
	IMAP_SK_HEADER,		/* field, str */
	IMAP_SK_BEFORE,		/* date */
	IMAP_SK_ON,
	IMAP_SK_SINCE,
	IMAP_SK_SENTBEFORE,
	IMAP_SK_SENTON,
	IMAP_SK_SENTSINCE,
	IMAP_SK_SAVEDBEFORE,	/* RFC 8514 */
	IMAP_SK_SAVEDON,
	IMAP_SK_SAVEDSINCE,
	IMAP_SK_SAVEDATESUPPORTED,
	IMAP_SK_LARGER,		/* num */
	IMAP_SK_SMALLER,
	IMAP_SK_OLDER,		/* num: seconds (RFC 5032 WITHIN) */
	IMAP_SK_YOUNGER,
	IMAP_SK_SEQSET,		/* set: message sequence numbers */
	IMAP_SK_UID,		/* set: UIDs */
	IMAP_SK_MODSEQ,		/* num; optional field (entry) + entry_type */
};

enum imap_modseq_entry {
	IMAP_MODSEQ_ENTRY_NONE = 0,	/* no entry name given */
	IMAP_MODSEQ_ENTRY_PRIV,
	IMAP_MODSEQ_ENTRY_SHARED,
	IMAP_MODSEQ_ENTRY_ALL,
};

struct imap_search_key {
	enum imap_search_key_type type;
	struct imap_search_key *next;	/* sibling under AND/OR */
	struct imap_search_key *child;	/* AND, OR, NOT */
	struct imap_str str;
	struct imap_str field;		/* HEADER name; MODSEQ entry name */
	struct imap_date date;
	uint64_t num;
	struct imap_seqset set;
	enum imap_modseq_entry entry_type;
};

/* ESEARCH RETURN options (RFC 4731, RFC 5182 SAVE) */
#define IMAP_SEARCH_RET_MIN	0x01
#define IMAP_SEARCH_RET_MAX	0x02
#define IMAP_SEARCH_RET_ALL	0x04
#define IMAP_SEARCH_RET_COUNT	0x08
#define IMAP_SEARCH_RET_SAVE	0x10

struct imap_search {
	bool	 has_return;	/* RETURN (...) given: answer ESEARCH */
	unsigned ret;		/* IMAP_SEARCH_RET_*; 0 with has_return
				 * means "RETURN ()", i.e. ALL (RFC 4731) */
	const char *charset;	/* NULL if none given */
	struct imap_search_key *keys;	/* an IMAP_SK_AND of the keys */
};

enum imap_sort_key {
	IMAP_SORT_ARRIVAL = 0,
	IMAP_SORT_CC,
	IMAP_SORT_DATE,
	IMAP_SORT_FROM,
	IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT,
	IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM,		/* RFC 5957 */
	IMAP_SORT_DISPLAYTO,
};
struct imap_sort_criterion {
	enum imap_sort_key key;
	bool	 reverse;
};

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT = 0,
	IMAP_THREAD_REFERENCES,
	IMAP_THREAD_REFS,		/* RFC 5957 */
};

/* STATUS items (also LIST-STATUS) */
#define IMAP_STATUS_MESSAGES	0x001
#define IMAP_STATUS_UIDNEXT	0x002
#define IMAP_STATUS_UIDVALIDITY	0x004
#define IMAP_STATUS_UNSEEN	0x008
#define IMAP_STATUS_DELETED	0x010
#define IMAP_STATUS_SIZE	0x020	/* RFC 8438 STATUS=SIZE */
#define IMAP_STATUS_RECENT	0x040	/* RFC 3501 only */
#define IMAP_STATUS_HIGHESTMODSEQ 0x080	/* RFC 7162 */

/* LIST selection options (RFC 5258, RFC 6154) */
#define IMAP_LIST_SEL_SUBSCRIBED	0x01
#define IMAP_LIST_SEL_REMOTE		0x02
#define IMAP_LIST_SEL_RECURSIVEMATCH	0x04
#define IMAP_LIST_SEL_SPECIAL_USE	0x08
/* LIST return options (RFC 5258, RFC 5819, RFC 6154) */
#define IMAP_LIST_RET_SUBSCRIBED	0x01
#define IMAP_LIST_RET_CHILDREN		0x02
#define IMAP_LIST_RET_SPECIAL_USE	0x04
#define IMAP_LIST_RET_STATUS		0x08

enum imap_store_op {
	IMAP_STORE_REPLACE = 0,		/* FLAGS */
	IMAP_STORE_ADD,			/* +FLAGS */
	IMAP_STORE_REMOVE,		/* -FLAGS */
};

enum imap_metadata_depth {
	IMAP_METADATA_DEPTH_0 = 0,
	IMAP_METADATA_DEPTH_1,
	IMAP_METADATA_DEPTH_INFINITY,
};

struct imap_append_msg {
	bool	 has_flags;
	struct imap_flags flags;
	bool	 has_date;
	struct imap_datetime date;
	bool	 binary;	/* literal8 */
	bool	 streamed;	/* the body went to the caller as
				 * IMAP_PARSE_LITERAL_DATA; data is NULL */
	size_t	 size;
	const uint8_t *data;
};

struct imap_metadata_entry {
	struct imap_str name;
	struct imap_str value;	/* data NULL: NIL (remove) */
	bool	 binary;	/* value was a literal8 */
};

enum imap_cmd_type {
	IMAP_CMD_UNKNOWN = 0,	/* name is what was sent; answer BAD */
	IMAP_CMD_CAPABILITY,
	IMAP_CMD_NOOP,
	IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS,
	IMAP_CMD_AUTHENTICATE,
	IMAP_CMD_LOGIN,
	IMAP_CMD_ENABLE,
	IMAP_CMD_ID,
	IMAP_CMD_COMPRESS,
	IMAP_CMD_SELECT,
	IMAP_CMD_EXAMINE,
	IMAP_CMD_CREATE,
	IMAP_CMD_DELETE,
	IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE,
	IMAP_CMD_UNSUBSCRIBE,
	IMAP_CMD_LIST,
	IMAP_CMD_LSUB,
	IMAP_CMD_NAMESPACE,
	IMAP_CMD_STATUS,
	IMAP_CMD_APPEND,
	IMAP_CMD_IDLE,
	IMAP_CMD_GETMETADATA,
	IMAP_CMD_SETMETADATA,
	IMAP_CMD_CHECK,
	IMAP_CMD_CLOSE,
	IMAP_CMD_UNSELECT,
	IMAP_CMD_EXPUNGE,	/* uid: UID EXPUNGE with set (UIDPLUS) */
	IMAP_CMD_SEARCH,
	IMAP_CMD_SORT,
	IMAP_CMD_THREAD,
	IMAP_CMD_FETCH,
	IMAP_CMD_STORE,
	IMAP_CMD_COPY,
	IMAP_CMD_MOVE,
	IMAP_CMD_COUNT_		/* not a command */
};

/*
 * A parsed command. Every pointer in it points into the command's arena:
 * valid until imap_cmd_free(). Only the member of u named after the
 * command is set; commands without arguments have none.
 */
struct imap_cmd {
	enum imap_cmd_type type;
	const char *tag;
	const char *name;	/* as sent, without "UID " */
	bool	 uid;		/* UID FETCH/STORE/COPY/MOVE/SEARCH/SORT/
				 * THREAD/EXPUNGE */
	const struct imap_arg *args;	/* the generic tree (first argument
					 * after the name); NULL if none or
					 * UNKNOWN */
	union {
		struct {
			const char *mechanism;
			bool	 has_initial;	/* SASL-IR (RFC 4959) */
			struct imap_str initial; /* base64; "" for "=" */
		} authenticate;
		struct {
			struct imap_str user, password;
		} login;
		struct {
			size_t	 n;
			const char *const *caps;
		} enable;
		struct {			/* RFC 2971 */
			size_t	 n;		/* 0 for NIL or () */
			const struct imap_str *keys;
			const struct imap_str *values;	/* data NULL: NIL */
		} id;
		struct {
			const char *mechanism;	/* "DEFLATE" */
		} compress;
		struct {			/* SELECT, EXAMINE */
			struct imap_str mailbox;
			bool	 condstore;
			bool	 qresync;	/* (QRESYNC (...)) RFC 7162 */
			uint32_t uidvalidity;
			uint64_t modseq;
			bool	 has_known_uids;
			struct imap_seqset known_uids;
			bool	 has_seq_match;
			struct imap_seqset known_seqs, known_seq_uids;
		} select;
		struct {			/* CREATE */
			struct imap_str mailbox;
			size_t	 n_use;		/* (USE (\Drafts)) RFC 6154 */
			const char *const *use;
		} create;
		struct {	/* DELETE, SUBSCRIBE, UNSUBSCRIBE */
			struct imap_str mailbox;
		} mailbox;
		struct {
			struct imap_str from, to;
		} rename;
		struct {			/* LIST, LSUB */
			bool	 extended;	/* RFC 5258 syntax was used */
			unsigned select;	/* IMAP_LIST_SEL_* */
			unsigned ret;		/* IMAP_LIST_RET_* */
			unsigned status;	/* IMAP_STATUS_* for RET_STATUS */
			struct imap_str ref;
			size_t	 n_patterns;	/* >= 1; 1 for LSUB */
			const struct imap_str *patterns;
		} list;
		struct {
			struct imap_str mailbox;
			unsigned items;		/* IMAP_STATUS_* */
		} status;
		struct {			/* MULTIAPPEND: n_msgs >= 1 */
			struct imap_str mailbox;
			size_t	 n_msgs;
			const struct imap_append_msg *msgs;
		} append;
		struct {			/* RFC 5464 */
			bool	 has_maxsize;
			uint32_t maxsize;
			enum imap_metadata_depth depth;
			struct imap_str mailbox;	/* "" for the server */
			size_t	 n_entries;
			const struct imap_str *entries;
		} getmetadata;
		struct {
			struct imap_str mailbox;
			size_t	 n_entries;
			const struct imap_metadata_entry *entries;
		} setmetadata;
		struct {			/* UID EXPUNGE */
			struct imap_seqset set;
		} expunge;
		struct imap_search search;
		struct {
			size_t	 n_criteria;
			const struct imap_sort_criterion *criteria;
			struct imap_search search;	/* charset is set */
		} sort;
		struct {
			enum imap_thread_alg alg;
			struct imap_search search;	/* charset is set */
		} thread;
		struct {
			struct imap_seqset set;
			size_t	 n_items;	/* ALL/FAST/FULL expanded */
			const struct imap_fetch_item *items;
			bool	 has_changedsince;
			uint64_t changedsince;
			bool	 vanished;	/* UID FETCH (QRESYNC) */
		} fetch;
		struct {
			struct imap_seqset set;
			enum imap_store_op op;
			bool	 silent;
			struct imap_flags flags;
			bool	 has_unchangedsince;
			uint64_t unchangedsince;
		} store;
		struct {			/* COPY, MOVE */
			struct imap_seqset set;
			struct imap_str mailbox;
		} copy;
	} u;
	struct imap_arena *arena;	/* private: owns all of the above */
};

/* Free a command from imap_parser_run() and everything it points to.
 * NULL-safe; sets *cmdp NULL. */
void	imap_cmd_free(struct imap_cmd **cmdp);

/* The canonical name of a command type ("FETCH"); "" for UNKNOWN. */
const char *imap_cmd_type_name(enum imap_cmd_type type);

/* Append cmd to out as one canonical IMAP command: upper-case names,
 * macros (ALL, FAST, FULL) expanded, one spelling per value, strings as
 * atoms, quoted strings or non-synchronizing literals {n+}, ending in
 * CRLF. It parses back to the same command (with LITERAL+), except for
 * streamed APPEND bodies, written as "{SIZE+}\r\n<streamed>". Unless
 * secrets, the LOGIN password and AUTHENTICATE's initial response are
 * written as "***" (for logs); bodies are never elided. */
void	imap_cmd_write(const struct imap_cmd *cmd, bool secrets,
	    struct mail_buf *out);

/* ---- the IMAP value parsers, also used by the command layer ---- */

/* Parse a sequence set (RFC 9051 sequence-set, or "$" when dollar) of
 * len bytes into the arena a. Returns 0, or -1 with MAIL_ERR_PROTO. */
int	imap_seqset_parse(struct imap_arena *a, const char *s, size_t len,
	    bool dollar, struct imap_seqset *set_r, struct mail_err *err)
	    WARN_UNUSED;
/* "d-Mon-yyyy" (day 1 or 2 digits). Returns 0 or -1 (MAIL_ERR_PROTO). */
int	imap_date_parse(const char *s, size_t len, struct imap_date *date_r,
	    struct mail_err *err) WARN_UNUSED;
/* "dd-Mon-yyyy hh:mm:ss +zzzz" (no quotes; the day may be " d"). Returns
 * 0 or -1 (MAIL_ERR_PROTO). */
int	imap_datetime_parse(const char *s, size_t len,
	    struct imap_datetime *dt_r, struct mail_err *err) WARN_UNUSED;

/* A standalone arena (for the value parsers and tests). */
struct imap_arena *imap_arena_new(void);
void	imap_arena_free(struct imap_arena **ap);

#endif
