/*
 * test_imap_parser.c: the IMAP command parser. Every case is a byte
 * stream and the exact transcript of what the parser reports for it
 * (commands in canonical form, errors with tag and message, continuation
 * requests, streamed literals), checked for the whole buffer, one byte at
 * a time, and for every split into two pieces. Then the typed fields of
 * each command kind, the value parsers, limits, streaming and memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "imap_parser.h"
#include "mail_flags.h"
#include "testlib.h"

/* ---- the transcript harness ---- */

struct feed {
	struct imap_parser *p;
	struct mail_buf in;	/* input not consumed yet */
	struct mail_buf ev;	/* the transcript */
	bool	 data_open;	/* the last event was DATA */
	bool	 stop;		/* fatal error seen */
};

static void ev_add(struct feed *f, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void
ev_add(struct feed *f, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (f->ev.len > 0)
		mail_buf_append(&f->ev, "\n", 1);
	mail_buf_append_str(&f->ev, line);
}

static const char *
code_name(enum mail_err_code code)
{
	return code == MAIL_ERR_PROTO ? "PROTO" : code == MAIL_ERR_LIMIT ?
	    "LIMIT" : "OTHER";
}

/* Run the parser over what is buffered until it wants more. */
static void
feed_run(struct feed *f)
{
	for (int guard = 0; !f->stop; guard++) {
		struct imap_cmd *cmd = NULL;
		struct mail_err err;
		size_t used;
		enum imap_parse_ret r;

		ck_assert_int_lt(guard, 1000000);
		r = imap_parser_run(f->p, f->in.data, f->in.len, &used, &cmd,
		    &err);
		ck_assert_uint_le(used, f->in.len);
		if (r != IMAP_PARSE_DONE)
			ck_assert_ptr_null(cmd);
		switch (r) {
		case IMAP_PARSE_MORE:
			mail_buf_consume(&f->in, used);
			return;
		case IMAP_PARSE_DONE: {
			struct mail_buf out = MAIL_BUF_INIT;

			ck_assert_ptr_nonnull(cmd);
			imap_cmd_write(cmd, true, &out);
			ck_assert_uint_ge(out.len, 2);
			/* raw: bodies may hold NULs and be long */
			ev_add(f, "DONE ");
			mail_buf_append(&f->ev, out.data, out.len - 2);
			mail_buf_free(&out);
			imap_cmd_free(&cmd);
			ck_assert_ptr_null(cmd);
			break;
		}
		case IMAP_PARSE_ERROR: {
			const char *tag = imap_parser_tag(f->p);

			ev_add(f, "ERROR %s %s %s%s", tag != NULL ? tag : "*",
			    code_name(err.code), err.msg,
			    imap_parser_fatal(f->p) ? " FATAL" : "");
			f->stop = imap_parser_fatal(f->p);
			break;
		}
		case IMAP_PARSE_CONTINUE:
			ev_add(f, "CONTINUE");
			break;
		case IMAP_PARSE_LITERAL: {
			const struct imap_stream *st = imap_parser_stream(f->p);

			ev_add(f, "LITERAL %zu%s%s #%u", st->size,
			    st->sync ? " sync" : "", st->binary ? " binary" : "",
			    st->msg_index);
			break;
		}
		case IMAP_PARSE_LITERAL_DATA:
			ck_assert_uint_gt(used, 0);
			if (!f->data_open)
				ev_add(f, "DATA ");
			mail_buf_append(&f->ev, f->in.data, used);
			break;
		default:
			ck_abort_msg("unexpected result %d", r);
		}
		f->data_open = r == IMAP_PARSE_LITERAL_DATA;
		mail_buf_consume(&f->in, used);
	}
}

/* The transcript of in fed in pieces ending at cuts[0..ncuts) and len. */
static void
transcript(const struct imap_parser_opts *o, const char *in, size_t len,
    const size_t *cuts, size_t ncuts, struct mail_buf *out)
{
	struct feed f;
	size_t fed = 0;

	memset(&f, 0, sizeof(f));
	f.p = imap_parser_new(o);
	for (size_t i = 0; i <= ncuts && !f.stop; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		mail_buf_append(&f.in, in + fed, end - fed);
		fed = end;
		feed_run(&f);
	}
	if (!f.stop && f.in.len > 0)
		ev_add(&f, "REST %zu", f.in.len);
	mail_buf_free(&f.in);
	imap_parser_free(&f.p);
	ck_assert_ptr_null(f.p);
	*out = f.ev;
}

/* Printable form of a transcript for failure messages. */
static char *
esc(const void *p, size_t n)
{
	struct mail_buf b = MAIL_BUF_INIT;
	const uint8_t *s = p;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			mail_buf_append_str(&b, "\n    ");
		else if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			mail_buf_append(&b, &s[i], 1);
		else
			mail_buf_printf(&b, "\\x%02x", s[i]);
	}
	return mail_buf_steal_str(&b);
}

static void
expect_equal(const struct mail_buf *got, const char *want, size_t want_len,
    const char *how)
{
	if (got->len != want_len || memcmp(got->data, want, want_len) != 0) {
		char *g = esc(got->data, got->len), *w = esc(want, want_len);

		ck_abort_msg("%s:\n got:\n    %s\n want:\n    %s", how, g, w);
	}
}

/* Whole, one byte at a time, and every split in two: all must give the
 * transcript want. */
static void
check_all_splits(const struct imap_parser_opts *o, const char *in,
    size_t len, const char *want, size_t want_len)
{
	struct mail_buf got;
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	char how[64];

	transcript(o, in, len, NULL, 0, &got);
	expect_equal(&got, want, want_len, "whole buffer");
	mail_buf_free(&got);
	for (size_t i = 0; i < len; i++)
		cuts[i] = i;
	transcript(o, in, len, cuts, len, &got);
	expect_equal(&got, want, want_len, "one byte at a time");
	mail_buf_free(&got);
	for (size_t k = 0; k <= len; k++) {
		transcript(o, in, len, &k, 1, &got);
		snprintf(how, sizeof(how), "split at %zu", k);
		expect_equal(&got, want, want_len, how);
		mail_buf_free(&got);
	}
	free(cuts);
}

struct pcase {
	const char *in;
	size_t	 in_len;
	const char *out;
	size_t	 out_len;
};
#define C(in, out) { in, sizeof(in) - 1, out, sizeof(out) - 1 }

/* ---- commands with the default options ---- */

static const struct pcase cases[] = {
	/* commands without arguments */
	C("a NOOP\r\n", "DONE a NOOP"),
	C("a1 capability\r\n", "DONE a1 CAPABILITY"),
	C("x LOGOUT\r\n", "DONE x LOGOUT"),
	C("x StartTLS\r\n", "DONE x STARTTLS"),
	C("x CHECK\r\nx CLOSE\r\nx UNSELECT\r\n",
	    "DONE x CHECK\nDONE x CLOSE\nDONE x UNSELECT"),
	C("x NAMESPACE\r\nx IDLE\r\nx EXPUNGE\r\n",
	    "DONE x NAMESPACE\nDONE x IDLE\nDONE x EXPUNGE"),
	C("a NOOP x\r\n", "ERROR a PROTO NOOP: unexpected argument 'x'"),
	C("a EXPUNGE 1\r\n", "ERROR a PROTO EXPUNGE: unexpected argument '1'"),
	C("a IDLE (x)\r\n", "ERROR a PROTO IDLE: unexpected argument '(...)'"),

	/* LOGIN, AUTHENTICATE (SASL-IR) */
	C("a LOGIN bob secret\r\n", "DONE a LOGIN bob secret"),
	C("a LOGIN \"bob smith\" \"p\\\"w\\\\\"\r\n",
	    "DONE a LOGIN \"bob smith\" \"p\\\"w\\\\\""),
	C("a LOGIN {3}\r\nbob {6}\r\nsecret\r\n",
	    "CONTINUE\nCONTINUE\nDONE a LOGIN bob secret"),
	C("a LOGIN {3+}\r\nbob {3+}\r\na\nb\r\n",
	    "DONE a LOGIN bob {3+}\r\na\nb"),
	C("a LOGIN NIL \"\"\r\n", "DONE a LOGIN \"NIL\" \"\""),
	C("a LOGIN bob\r\n", "ERROR a PROTO LOGIN: missing password"),
	C("a LOGIN bob pa%ss\r\n", "ERROR a PROTO LOGIN: invalid password '***'"),
	C("a LOGIN (bob) x\r\n",
	    "ERROR a PROTO LOGIN: user name must be a string, not a list"),
	C("a LOGIN ~{3}\r\nabc x\r\n",
	    "CONTINUE\nERROR a PROTO LOGIN: user name can not be a literal8"),
	C("a AUTHENTICATE PLAIN\r\n", "DONE a AUTHENTICATE PLAIN"),
	C("a AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=\r\n",
	    "DONE a AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ="),
	C("a AUTHENTICATE EXTERNAL =\r\n", "DONE a AUTHENTICATE EXTERNAL ="),
	C("a AUTHENTICATE PLAIN AGJvYg=x\r\n",
	    "ERROR a PROTO AUTHENTICATE: invalid initial response"),
	C("a AUTHENTICATE \"PLAIN\"\r\n",
	    "ERROR a PROTO AUTHENTICATE: invalid mechanism 'PLAIN'"),
	C("a AUTHENTICATE\r\n", "ERROR a PROTO AUTHENTICATE: missing mechanism"),

	/* ENABLE, ID, COMPRESS */
	C("a ENABLE CONDSTORE QRESYNC\r\n", "DONE a ENABLE CONDSTORE QRESYNC"),
	C("a ENABLE\r\n", "ERROR a PROTO ENABLE: missing capability"),
	C("a ENABLE \"x\"\r\n", "ERROR a PROTO ENABLE: invalid capability 'x'"),
	C("a ID NIL\r\n", "DONE a ID NIL"),
	C("a ID ()\r\n", "DONE a ID NIL"),
	C("a ID (\"name\" \"Mail\" \"version\" NIL)\r\n",
	    "DONE a ID (\"name\" \"Mail\" \"version\" NIL)"),
	C("a ID (\"name\" {3}\r\nfoo)\r\n",
	    "CONTINUE\nDONE a ID (\"name\" \"foo\")"),
	C("a ID (\"name\")\r\n", "ERROR a PROTO ID: parameter without a value"),
	C("a ID (name x)\r\n", "ERROR a PROTO ID: field name must be a quoted "
	    "string or a literal"),
	C("a ID\r\n", "ERROR a PROTO ID: missing parameter list"),
	C("a COMPRESS DEFLATE\r\n", "DONE a COMPRESS DEFLATE"),
	C("a COMPRESS\r\n", "ERROR a PROTO COMPRESS: missing algorithm"),

	/* SELECT, EXAMINE (CONDSTORE, QRESYNC) */
	C("a SELECT INBOX\r\n", "DONE a SELECT INBOX"),
	C("a select \"Sent Items\" (condstore)\r\n",
	    "DONE a SELECT \"Sent Items\" (CONDSTORE)"),
	C("a EXAMINE x (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
	    "DONE a EXAMINE x (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"),
	C("a SELECT x (CONDSTORE QRESYNC (1 2 1:* (1:3 5,7,9)))\r\n",
	    "DONE a SELECT x (CONDSTORE QRESYNC (1 2 1:* (1:3 5,7,9)))"),
	C("a SELECT x (QRESYNC (1 2 (1:3 5)))\r\n",
	    "DONE a SELECT x (QRESYNC (1 2 (1:3 5)))"),
	C("a SELECT NIL\r\n", "DONE a SELECT \"NIL\""),
	C("a SELECT [Gmail]/Sent\r\n", "DONE a SELECT [Gmail]/Sent"),
	C("a SELECT a[b\r\n", "DONE a SELECT a[b"),
	C("a SELECT foo]\r\n", "DONE a SELECT foo]"),
	C("a SELECT \"f\xc3\xb6o\"\r\n", "DONE a SELECT \"f\xc3\xb6o\""),
	C("a SELECT f\xc3\xb6o\r\n", "ERROR a PROTO invalid character 0xc3"),
	C("a SELECT x (FOO)\r\n", "ERROR a PROTO SELECT: unknown parameter 'FOO'"),
	C("a SELECT x ()\r\n", "ERROR a PROTO SELECT: empty parameter list"),
	C("a SELECT x (QRESYNC (0 1))\r\n",
	    "ERROR a PROTO SELECT: invalid UIDVALIDITY '0'"),
	C("a SELECT x (QRESYNC (1 0))\r\n",
	    "ERROR a PROTO SELECT: invalid modseq '0'"),
	C("a SELECT x (QRESYNC (1 2 (1:3)))\r\n",
	    "ERROR a PROTO SELECT: invalid QRESYNC sequence match data"),
	C("a SELECT x (QRESYNC (1 2 $))\r\n",
	    "ERROR a PROTO SELECT: invalid sequence set '$'"),
	C("a SELECT x (QRESYNC)\r\n",
	    "ERROR a PROTO SELECT: missing QRESYNC parameter"),
	C("a SELECT\r\n", "ERROR a PROTO SELECT: missing mailbox"),
	C("a SELECT a b\r\n", "ERROR a PROTO SELECT: parameter list must be a list"),
	C("a SELECT a%\r\n", "ERROR a PROTO SELECT: invalid mailbox 'a%'"),

	/* CREATE (USE), DELETE, RENAME, (UN)SUBSCRIBE */
	C("a CREATE foo/bar\r\n", "DONE a CREATE foo/bar"),
	C("a CREATE Drafts (USE (\\Drafts \\Sent))\r\n",
	    "DONE a CREATE Drafts (USE (\\Drafts \\Sent))"),
	C("a CREATE x (USE (Drafts))\r\n",
	    "ERROR a PROTO CREATE: invalid special-use attribute 'Drafts'"),
	C("a CREATE x (FOO (x))\r\n",
	    "ERROR a PROTO CREATE: unknown parameter 'FOO'"),
	C("a DELETE \"a b\"\r\n", "DONE a DELETE \"a b\""),
	C("a RENAME a b\r\n", "DONE a RENAME a b"),
	C("a RENAME a\r\n", "ERROR a PROTO RENAME: missing new mailbox name"),
	C("a SUBSCRIBE a\r\na UNSUBSCRIBE {1+}\r\nb\r\n",
	    "DONE a SUBSCRIBE a\nDONE a UNSUBSCRIBE b"),

	/* LIST, LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, LSUB */
	C("a LIST \"\" *\r\n", "DONE a LIST \"\" *"),
	C("a LIST \"\" \"%\"\r\n", "DONE a LIST \"\" %"),
	C("a LIST ~/ foo/%/*\r\n", "DONE a LIST ~/ foo/%/*"),
	C("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX Sent%) RETURN (CHILDREN "
	    "STATUS (MESSAGES UNSEEN))\r\n",
	    "DONE a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX Sent%) RETURN "
	    "(CHILDREN STATUS (MESSAGES UNSEEN))"),
	C("a LIST (SPECIAL-USE) \"\" *\r\n", "DONE a LIST (SPECIAL-USE) \"\" (*)"),
	C("a LIST \"\" % RETURN (SPECIAL-USE SUBSCRIBED)\r\n",
	    "DONE a LIST \"\" (%) RETURN (SUBSCRIBED SPECIAL-USE)"),
	C("a LIST () \"\" %\r\n", "DONE a LIST \"\" (%)"),
	C("a LIST \"\" % RETURN ()\r\n", "DONE a LIST \"\" (%)"),
	C("a LIST (RECURSIVEMATCH) \"\" *\r\n",
	    "ERROR a PROTO LIST: RECURSIVEMATCH without a selection option it "
	    "modifies"),
	C("a LIST (FOO) \"\" *\r\n",
	    "ERROR a PROTO LIST: unknown selection option 'FOO'"),
	C("a LIST \"\" * RETURN (FOO)\r\n",
	    "ERROR a PROTO LIST: unknown return option 'FOO'"),
	C("a LIST \"\" * RETURN (STATUS ())\r\n",
	    "ERROR a PROTO LIST: empty status item list"),
	C("a LIST \"\" ()\r\n", "ERROR a PROTO LIST: empty pattern list"),
	C("a LIST \"\"\r\n", "ERROR a PROTO LIST: missing mailbox pattern"),
	C("a LIST \"\" * x\r\n", "ERROR a PROTO LIST: unexpected argument 'x'"),
	C("a LSUB \"\" *\r\n", "DONE a LSUB \"\" *"),
	C("a LSUB \"\" * x\r\n", "ERROR a PROTO LSUB: unexpected argument 'x'"),

	/* STATUS (STATUS=SIZE, CONDSTORE) */
	C("a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE "
	    "RECENT HIGHESTMODSEQ)\r\n",
	    "DONE a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE "
	    "RECENT HIGHESTMODSEQ)"),
	C("a STATUS INBOX (size messages)\r\n",
	    "DONE a STATUS INBOX (MESSAGES SIZE)"),
	C("a STATUS INBOX ()\r\n", "ERROR a PROTO STATUS: empty status item list"),
	C("a STATUS INBOX (FOO)\r\n",
	    "ERROR a PROTO STATUS: unknown status item 'FOO'"),
	C("a STATUS INBOX\r\n", "ERROR a PROTO STATUS: missing status item list"),

	/* APPEND, MULTIAPPEND, literal8 */
	C("a APPEND INBOX {5}\r\nhello\r\n",
	    "CONTINUE\nDONE a APPEND INBOX {5+}\r\nhello"),
	C("a APPEND INBOX (\\Seen $Forwarded) \"01-Feb-2024 10:00:00 +0100\" "
	    "{5+}\r\nhello\r\n",
	    "DONE a APPEND INBOX (\\Seen $Forwarded) \"01-Feb-2024 10:00:00 "
	    "+0100\" {5+}\r\nhello"),
	C("a APPEND INBOX \" 1-Feb-2024 23:59:60 -1130\" {0}\r\n\r\n",
	    "CONTINUE\nDONE a APPEND INBOX \"02-Feb-2024 00:00:00 -1130\" "
	    "{0+}\r\n"),
	C("a APPEND INBOX {1+}\r\nA (\\Flagged) {1+}\r\nB () ~{3+}\r\nC\0D\r\n",
	    "DONE a APPEND INBOX {1+}\r\nA (\\Flagged) {1+}\r\nB () "
	    "~{3+}\r\nC\0D"),
	C("a APPEND {5}\r\nINBOX {1+}\r\nA\r\n",
	    "CONTINUE\nDONE a APPEND INBOX {1+}\r\nA"),
	C("a APPEND INBOX\r\n", "ERROR a PROTO APPEND: missing message"),
	C("a APPEND INBOX (\\Seen)\r\n",
	    "ERROR a PROTO APPEND: expected the message as a literal"),
	C("a APPEND INBOX (\\Seen) \"01-Feb-2024 10:00:00 +0100\"\r\n",
	    "ERROR a PROTO APPEND: expected the message as a literal"),
	C("a APPEND INBOX \"x\"\r\n",
	    "ERROR a PROTO APPEND: invalid date-time 'x'"),
	C("a APPEND INBOX \"31-Apr-2024 10:00:00 +0100\" {1+}\r\nx\r\n",
	    "ERROR a PROTO APPEND: invalid date-time '31-Apr-2024 10:00:00 "
	    "+0100'"),
	C("a APPEND INBOX (\\Recent) {1+}\r\nx\r\n",
	    "ERROR a PROTO APPEND: unknown system flag '\\Recent'"),
	C("a APPEND INBOX ({1+}\r\nx) {1+}\r\nx\r\n",
	    "ERROR a PROTO APPEND: invalid flag '{literal}'"),
	C("a APPEND INBOX {1+}\r\nx foo\r\n",
	    "ERROR a PROTO APPEND: expected the message as a literal, not foo"),
	C("a APPEND INBOX {3+}\r\na\0b\r\nb NOOP\r\n",
	    "ERROR a PROTO NUL byte in a literal (only literal8 may hold one)\n"
	    "DONE b NOOP"),

	/* METADATA */
	C("a GETMETADATA \"\" /shared/comment\r\n",
	    "DONE a GETMETADATA \"\" (/shared/comment)"),
	C("a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX (/private/a "
	    "\"/shared/b c\")\r\n",
	    "DONE a GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX (/private/a "
	    "\"/shared/b c\")"),
	C("a GETMETADATA (DEPTH 1) INBOX /a\r\n",
	    "DONE a GETMETADATA (DEPTH 1) INBOX (/a)"),
	C("a GETMETADATA (DEPTH 0) INBOX /a\r\n", "DONE a GETMETADATA INBOX (/a)"),
	C("a GETMETADATA (DEPTH 2) INBOX /a\r\n",
	    "ERROR a PROTO GETMETADATA: invalid DEPTH"),
	C("a GETMETADATA INBOX /shared/*\r\n",
	    "ERROR a PROTO GETMETADATA: invalid entry '/shared/*'"),
	C("a GETMETADATA INBOX \"/shared/%\"\r\n",
	    "ERROR a PROTO GETMETADATA: invalid entry name '/shared/%'"),
	C("a GETMETADATA INBOX \"/shared/\x01\"\r\n",
	    "ERROR a PROTO GETMETADATA: invalid entry name '/shared/?'"),
	C("a GETMETADATA INBOX /shared//x\r\n",
	    "ERROR a PROTO GETMETADATA: invalid entry name '/shared//x'"),
	C("a GETMETADATA INBOX shared\r\n",
	    "ERROR a PROTO GETMETADATA: invalid entry name 'shared'"),
	C("a GETMETADATA (FOO 1) INBOX /a\r\n",
	    "ERROR a PROTO GETMETADATA: unknown option 'FOO'"),
	C("a SETMETADATA INBOX (/private/comment \"hello\" /shared/x NIL "
	    "/shared/bin ~{2+}\r\na\0)\r\n",
	    "DONE a SETMETADATA INBOX (/private/comment \"hello\" /shared/x NIL "
	    "/shared/bin ~{2+}\r\na\0)"),
	C("a SETMETADATA \"\" (/shared/admin {7}\r\nx@y.org)\r\n",
	    "CONTINUE\nDONE a SETMETADATA \"\" (/shared/admin \"x@y.org\")"),
	C("a SETMETADATA INBOX (/shared/x)\r\n",
	    "ERROR a PROTO SETMETADATA: entry without a value"),
	C("a SETMETADATA INBOX (/shared/x foo)\r\n",
	    "ERROR a PROTO SETMETADATA: value must be a quoted string or a "
	    "literal"),
	C("a SETMETADATA INBOX ()\r\n",
	    "ERROR a PROTO SETMETADATA: empty entry list"),

	/* UID EXPUNGE, COPY, MOVE */
	C("a UID EXPUNGE 1:5,7\r\n", "DONE a UID EXPUNGE 1:5,7"),
	C("a uid expunge $\r\n", "DONE a UID EXPUNGE $"),
	C("a UID EXPUNGE\r\n", "ERROR a PROTO UID EXPUNGE: missing sequence set"),
	C("a COPY 1:5 Trash\r\n", "DONE a COPY 1:5 Trash"),
	C("a UID MOVE $ \"Deleted Items\"\r\n",
	    "DONE a UID MOVE $ \"Deleted Items\""),
	C("a MOVE 5:3,*:2,* x\r\n", "DONE a MOVE 5:3,*:2,* x"),
	C("a COPY 1:5\r\n", "ERROR a PROTO COPY: missing mailbox"),
	C("a COPY 1:x y\r\n", "ERROR a PROTO COPY: invalid sequence set '1:x'"),
	C("a COPY 0 y\r\n", "ERROR a PROTO COPY: invalid sequence set '0'"),
	C("a COPY 01 y\r\n", "ERROR a PROTO COPY: invalid sequence set '01'"),
	C("a COPY 4294967296 y\r\n",
	    "ERROR a PROTO COPY: invalid sequence set '4294967296'"),
	C("a COPY 4294967295 y\r\n", "DONE a COPY 4294967295 y"),
	C("a COPY 1, y\r\n", "ERROR a PROTO COPY: invalid sequence set '1,'"),
	C("a COPY 1,$ y\r\n", "ERROR a PROTO COPY: invalid sequence set '1,$'"),
	C("a COPY 1:2:3 y\r\n", "ERROR a PROTO COPY: invalid sequence set '1:2:3'"),

	/* SEARCH, ESEARCH, SEARCHRES, WITHIN, CONDSTORE, SAVEDATE */
	C("a SEARCH ALL\r\n", "DONE a SEARCH ALL"),
	C("a SEARCH CHARSET UTF-8 OR FROM alice SUBJECT \"hi there\" NOT SEEN\r\n",
	    "DONE a SEARCH CHARSET UTF-8 OR FROM alice SUBJECT \"hi there\" NOT "
	    "SEEN"),
	C("a UID SEARCH RETURN (MIN COUNT SAVE) 1:* UNDELETED SINCE 1-Feb-2024\r\n",
	    "DONE a UID SEARCH RETURN (MIN COUNT SAVE) 1:* UNDELETED SINCE "
	    "1-Feb-2024"),
	C("a SEARCH RETURN () ALL\r\n", "DONE a SEARCH RETURN () ALL"),
	C("a SEARCH (OR (SEEN FLAGGED) DRAFT) LARGER 1000 SMALLER 99999 UID $ "
	    "OLDER 3600 YOUNGER 60\r\n",
	    "DONE a SEARCH (OR (SEEN FLAGGED) DRAFT) LARGER 1000 SMALLER 99999 "
	    "UID $ OLDER 3600 YOUNGER 60"),
	C("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 MODSEQ 5 HEADER "
	    "X-Foo \"\" KEYWORD $Junk UNKEYWORD NIL\r\n",
	    "DONE a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 MODSEQ 5 "
	    "HEADER X-Foo \"\" KEYWORD $Junk UNKEYWORD NIL"),
	C("a SEARCH SAVEDATESUPPORTED SAVEDSINCE 1-Jan-2020 SENTON "
	    "\"05-Mar-2021\" SAVEDON 29-Feb-2024 SAVEDBEFORE 1-Jan-2000\r\n",
	    "DONE a SEARCH SAVEDATESUPPORTED SAVEDSINCE 1-Jan-2020 SENTON "
	    "5-Mar-2021 SAVEDON 29-Feb-2024 SAVEDBEFORE 1-Jan-2000"),
	C("a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN\r\n",
	    "DONE a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN "
	    "UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN"),
	C("a SEARCH BCC a BODY b CC c TEXT {1}\r\nd TO e BEFORE 1-Jan-2020 ON "
	    "2-Jan-2020 SENTBEFORE 3-Jan-2020 SENTSINCE 4-Jan-2020\r\n",
	    "CONTINUE\nDONE a SEARCH BCC a BODY b CC c TEXT d TO e BEFORE "
	    "1-Jan-2020 ON 2-Jan-2020 SENTBEFORE 3-Jan-2020 SENTSINCE "
	    "4-Jan-2020"),
	C("a SEARCH NOT NOT (OR 1 2 3) $ *\r\n",
	    "DONE a SEARCH NOT NOT (OR 1 2 3) $ *"),
	C("a SEARCH ((ALL))\r\n", "DONE a SEARCH ((ALL))"),
	C("a SEARCH FOO\r\n", "ERROR a PROTO SEARCH: unknown search key 'FOO'"),
	C("a SEARCH OR SEEN\r\n",
	    "ERROR a PROTO SEARCH: missing search key after OR"),
	C("a SEARCH (NOT) SEEN\r\n",
	    "ERROR a PROTO SEARCH: missing search key after NOT"),
	C("a SEARCH ()\r\n", "ERROR a PROTO SEARCH: empty search key list"),
	C("a SEARCH\r\n", "ERROR a PROTO SEARCH: missing search key"),
	C("a SEARCH CHARSET UTF-8\r\n", "ERROR a PROTO SEARCH: missing search key"),
	C("a SEARCH SINCE 31-Feb-2024\r\n",
	    "ERROR a PROTO SEARCH: invalid date '31-Feb-2024'"),
	C("a SEARCH SINCE 1-Feb-24\r\n",
	    "ERROR a PROTO SEARCH: invalid date '1-Feb-24'"),
	C("a SEARCH RETURN (FOO) ALL\r\n",
	    "ERROR a PROTO SEARCH: unknown RETURN option 'FOO'"),
	C("a SEARCH 1,$\r\n", "ERROR a PROTO SEARCH: invalid sequence set '1,$'"),
	C("a SEARCH OLDER 0\r\n", "ERROR a PROTO SEARCH: invalid OLDER '0'"),
	C("a SEARCH LARGER 9223372036854775808\r\n",
	    "ERROR a PROTO SEARCH: invalid LARGER '9223372036854775808'"),
	C("a SEARCH KEYWORD \\Seen\r\n",
	    "ERROR a PROTO SEARCH: invalid keyword '\\Seen'"),
	C("a SEARCH MODSEQ \"/x\" all 5\r\n",
	    "ERROR a PROTO SEARCH: invalid MODSEQ entry '/x'"),
	C("a SEARCH MODSEQ \"/flags/x\" some 5\r\n",
	    "ERROR a PROTO SEARCH: invalid MODSEQ entry type"),
	C("a SEARCH HEADER X\r\n", "ERROR a PROTO SEARCH: missing header value"),
	C("a SEARCH \"ALL\"\r\n", "ERROR a PROTO SEARCH: unknown search key 'ALL'"),

	/* SORT, ESORT, THREAD */
	C("a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n",
	    "DONE a UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL"),
	C("a SORT RETURN (COUNT) (ARRIVAL CC FROM SIZE TO DISPLAYFROM "
	    "DISPLAYTO) \"US-ASCII\" SEEN\r\n",
	    "DONE a SORT RETURN (COUNT) (ARRIVAL CC FROM SIZE TO DISPLAYFROM "
	    "DISPLAYTO) US-ASCII SEEN"),
	C("a SORT (FOO) UTF-8 ALL\r\n", "ERROR a PROTO SORT: unknown sort key 'FOO'"),
	C("a SORT (REVERSE) UTF-8 ALL\r\n",
	    "ERROR a PROTO SORT: REVERSE without a sort key"),
	C("a SORT (DATE) ALL\r\n", "ERROR a PROTO SORT: missing search key"),
	C("a SORT () UTF-8 ALL\r\n", "ERROR a PROTO SORT: empty sort criteria"),
	C("a THREAD REFERENCES UTF-8 ALL\r\n", "DONE a THREAD REFERENCES UTF-8 ALL"),
	C("a UID THREAD orderedsubject \"UTF-8\" SINCE 1-Jan-2024\r\n",
	    "DONE a UID THREAD ORDEREDSUBJECT UTF-8 SINCE 1-Jan-2024"),
	C("a THREAD REFS \"a b\" ALL\r\n", "DONE a THREAD REFS \"a b\" ALL"),
	C("a THREAD FOO UTF-8 ALL\r\n",
	    "ERROR a PROTO THREAD: unknown threading algorithm 'FOO'"),

	/* FETCH (sections, partials, BINARY, CONDSTORE, QRESYNC, SAVEDATE) */
	C("a FETCH 1:* ALL\r\n",
	    "DONE a FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"),
	C("a FETCH 1 fast\r\n",
	    "DONE a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)"),
	C("a FETCH 1 FULL\r\n",
	    "DONE a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)"),
	C("a FETCH 2 uid\r\n", "DONE a FETCH 2 (UID)"),
	C("a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A \"B c\")]<0.100>)\r\n",
	    "DONE a UID FETCH 1:* (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A \"B c\")]"
	    "<0.100>)"),
	C("a FETCH 1 (BODY[] body[text] BODY[1.MIME] BODY[HEADER.FIELDS.NOT "
	    "(Received)] BINARY.PEEK[1]<5.10> BINARY.SIZE[2] BINARY[] "
	    "BODY[3.HEADER] BODY[4.TEXT] BODY[2.1])\r\n",
	    "DONE a FETCH 1 (BODY[] BODY[TEXT] BODY[1.MIME] BODY[HEADER.FIELDS.NOT "
	    "(Received)] BINARY.PEEK[1]<5.10> BINARY.SIZE[2] BINARY[] "
	    "BODY[3.HEADER] BODY[4.TEXT] BODY[2.1])"),
	C("a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER "
	    "RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ SAVEDATE)\r\n",
	    "DONE a FETCH 1 (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER "
	    "RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ SAVEDATE)"),
	C("a FETCH 1 BODY[HEADER.FIELDS (\"a]b\" x)]\r\n",
	    "DONE a FETCH 1 (BODY[HEADER.FIELDS (\"a]b\" x)])"),
	C("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
	    "DONE a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)"),
	C("a FETCH $ (FLAGS) (CHANGEDSINCE 1)\r\n",
	    "DONE a FETCH $ (FLAGS) (CHANGEDSINCE 1)"),
	C("a FETCH 1 (FOO)\r\n", "ERROR a PROTO FETCH: invalid fetch item 'FOO'"),
	C("a FETCH 1 BODY[MIME]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[MIME]'"),
	C("a FETCH 1 (FLAGS) (VANISHED)\r\n",
	    "ERROR a PROTO FETCH: VANISHED needs UID FETCH and CHANGEDSINCE"),
	C("a UID FETCH 1 (FLAGS) (VANISHED)\r\n",
	    "ERROR a PROTO UID FETCH: VANISHED needs UID FETCH and CHANGEDSINCE"),
	C("a FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n",
	    "ERROR a PROTO FETCH: invalid CHANGEDSINCE '0'"),
	C("a FETCH 1 (FLAGS) (FOO)\r\n",
	    "ERROR a PROTO FETCH: unknown modifier 'FOO'"),
	C("a FETCH 1 BINARY.SIZE[1]<0.5>\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BINARY.SIZE[1]<0.5>'"),
	C("a FETCH 1 BINARY[HEADER]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BINARY[HEADER]'"),
	C("a FETCH 1 BODY[1.]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[1.]'"),
	C("a FETCH 1 BODY[0]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[0]'"),
	C("a FETCH 1 BODY[]<0.0>\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[]<0.0>'"),
	C("a FETCH 1 BODY[]<5>\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[]<5>'"),
	C("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[HEADER.FIELDS ()]'"),
	C("a FETCH 1 BODY[HEADER.FIELDS]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[HEADER.FIELDS]'"),
	C("a FETCH 1 BODY[TEXT.x]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[TEXT.x]'"),
	C("a FETCH 1 \"FLAGS\"\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'FLAGS'"),
	C("a FETCH 1 BODY[HEADER.FIELDS (\"a\0\")]\r\n",
	    "ERROR a PROTO invalid character 0x00 in a quoted string"),
	C("a FETCH 1 (ALL)\r\n", "ERROR a PROTO FETCH: invalid fetch item 'ALL'"),
	C("a FETCH 1 ()\r\n", "ERROR a PROTO FETCH: empty fetch item list"),
	C("a FETCH 1\r\n", "ERROR a PROTO FETCH: missing fetch items"),
	C("a FETCH 1:*,$ FLAGS\r\n",
	    "ERROR a PROTO FETCH: invalid sequence set '1:*,$'"),
	C("a FETCH 1 FLAGS x\r\n",
	    "ERROR a PROTO FETCH: unexpected argument 'x'"),

	/* STORE (UNCHANGEDSINCE) */
	C("a STORE 1:3 +FLAGS.SILENT (\\Seen $Junk)\r\n",
	    "DONE a STORE 1:3 +FLAGS.SILENT (\\Seen $Junk)"),
	C("a UID STORE 5 (UNCHANGEDSINCE 0) -flags \\Deleted \\seen\r\n",
	    "DONE a UID STORE 5 (UNCHANGEDSINCE 0) -FLAGS (\\Seen \\Deleted)"),
	C("a STORE 1 FLAGS ()\r\n", "DONE a STORE 1 FLAGS ()"),
	C("a STORE 1 FLAGS.SILENT (\\Draft \\Answered \\Flagged)\r\n",
	    "DONE a STORE 1 FLAGS.SILENT (\\Answered \\Flagged \\Draft)"),
	C("a STORE 1 +FLAGS\r\n", "ERROR a PROTO STORE: missing flags"),
	C("a STORE 1 LABELS (x)\r\n", "ERROR a PROTO STORE: invalid item 'LABELS'"),
	C("a STORE 1 FLAGS (\\Recent)\r\n",
	    "ERROR a PROTO STORE: unknown system flag '\\Recent'"),
	C("a STORE 1 FLAGS (\"x\")\r\n", "ERROR a PROTO STORE: invalid flag 'x'"),
	C("a STORE 1 (FOO 1) FLAGS x\r\n",
	    "ERROR a PROTO STORE: unknown modifier 'FOO'"),
	C("a STORE 1 FLAGS (x) y\r\n",
	    "ERROR a PROTO STORE: unexpected argument 'y'"),
	C("a STORE 1\r\n", "ERROR a PROTO STORE: missing FLAGS, +FLAGS or -FLAGS"),

	/* unknown commands, skipped with their literals */
	C("a FOO bar\r\n", "DONE a FOO"),
	C("a UID NOOP\r\n", "DONE a UID NOOP"),
	C("a UID UID FETCH 1 FLAGS\r\n", "DONE a UID UID"),
	C("a FOO {5+}\r\nhello\r\nb NOOP\r\n", "DONE a FOO\nDONE b NOOP"),
	C("a FOO {5}\r\nb NOOP\r\n", "DONE a FOO\nDONE b NOOP"),
	C("a X\"y {3+}\r\nabc {2+}\r\nde\r\nb NOOP\r\n",
	    "DONE a X\"y\nDONE b NOOP"),
	C("a FO\x01O\r\n", "DONE a FO?O"),
	C("a \0\0FOO\r\n", "DONE a ??FOO"),

	/* tags and command names */
	C("+ NOOP\r\n", "ERROR * PROTO invalid tag"),
	C("a+ NOOP\r\n", "ERROR * PROTO invalid tag"),
	C("* NOOP\r\n", "ERROR * PROTO invalid tag"),
	C(" a NOOP\r\n", "ERROR * PROTO invalid tag"),
	C("(a) NOOP\r\nb NOOP\r\n", "ERROR * PROTO invalid tag\nDONE b NOOP"),
	C("a]1 NOOP\r\n", "DONE a]1 NOOP"),
	C("a\r\n", "ERROR a PROTO missing command name"),
	C("a \r\n", "ERROR a PROTO missing command name"),
	C("a  NOOP\r\n", "ERROR a PROTO missing command name"),
	C("a UID\r\n", "ERROR a PROTO missing command name"),
	C("x234567890123456789012345678901234567890123456789012345678901234 NOOP\r\n",
	    "DONE x234567890123456789012345678901234567890123456789012345678901234 "
	    "NOOP"),
	C("x2345678901234567890123456789012345678901234567890123456789012345 NOOP\r\n",
	    "ERROR * PROTO tag too long (over 64 bytes)"),

	/* syntax errors and recovery */
	C("a FETCH 1 (FLAGS\r\nb NOOP\r\n", "ERROR a PROTO missing ')'\nDONE b NOOP"),
	C("a LOGIN \"x\r\nb NOOP\r\n",
	    "ERROR a PROTO missing '\"' at the end of a quoted string\nDONE b NOOP"),
	C("a LOGIN \"x\\y\" z\r\n", "ERROR a PROTO invalid escape in a quoted string"),
	C("a LOGIN \"x\0\" z\r\n",
	    "ERROR a PROTO invalid character 0x00 in a quoted string"),
	C("a LOGIN \"x\ry\" z\r\n",
	    "ERROR a PROTO invalid character 0x0d in a quoted string"),
	C("a LOGIN x  y\r\n", "ERROR a PROTO unexpected space"),
	C("a NOOP \r\n", "ERROR a PROTO unexpected space at the end of the line"),
	C("a LOGIN x y \r\n",
	    "ERROR a PROTO unexpected space before the end of the line"),
	C("a FETCH 1 (FLAGS )\r\n", "ERROR a PROTO unexpected space before ')'"),
	C("a FETCH 1 ( FLAGS)\r\n", "ERROR a PROTO unexpected space"),
	C("a FETCH 1 FLAGS)\r\n", "ERROR a PROTO unexpected ')'"),
	C("a FETCH 1 (FLAGS)(UID)\r\n", "ERROR a PROTO missing space before '('"),
	C("a LOGIN \"x\"y z\r\n", "ERROR a PROTO missing space before 'y'"),
	C("a LOGIN x\x7f z\r\n", "ERROR a PROTO invalid character 0x7f"),
	C("a LOGIN x\ty\r\n", "ERROR a PROTO invalid character 0x09"),
	C("a LOGIN {3}x\r\n",
	    "ERROR a PROTO a literal announcement must end the line"),
	C("a LOGIN {x}\r\n", "ERROR a PROTO invalid literal"),
	C("a LOGIN {}\r\n", "ERROR a PROTO invalid literal"),
	C("a LOGIN {3+\r\n", "ERROR a PROTO invalid literal"),
	C("a LOGIN x{3}\r\nb NOOP\r\n",
	    "ERROR a PROTO missing space before '{'\nDONE b NOOP"),
	C("a FETCH 1 (FLAGS \" {5+}\r\nhello)\r\nb NOOP\r\n",
	    "ERROR a PROTO missing '\"' at the end of a quoted string\nDONE b NOOP"),
	C("a FETCH 1 (FLAGS \" {5}\r\nb NOOP\r\n",
	    "ERROR a PROTO missing '\"' at the end of a quoted string\nDONE b NOOP"),
	C("a FETCH 1 (FLAGS\" {5+}\r\nhello)\r\nb NOOP\r\n",
	    "ERROR a PROTO missing space before '\"'\nDONE b NOOP"),
	C("a BAD\" {1+}\r\nx {2+}\r\nyz {3}\r\nb NOOP\r\n",
	    "DONE a BAD\"\nDONE b NOOP"),
	C("a LOGIN {3}\r\na\0b x\r\nb NOOP\r\n",
	    "CONTINUE\nERROR a PROTO NUL byte in a literal (only literal8 may hold "
	    "one)\nDONE b NOOP"),
	C("a LOGIN {3}\r\na\0b {3+}\r\nxyz\r\nb NOOP\r\n",
	    "CONTINUE\nERROR a PROTO NUL byte in a literal (only literal8 may hold "
	    "one)\nDONE b NOOP"),

	/* literals: zero length, in lists, limits before any buffering */
	C("a LOGIN {0}\r\n {0+}\r\n\r\n", "CONTINUE\nDONE a LOGIN \"\" \"\""),
	C("a LOGIN {3}\r\nabc {4+}\r\nq\"\\\r\r\n",
	    "CONTINUE\nDONE a LOGIN abc {4+}\r\nq\"\\\r"),
	C("a LOGIN {99999999999}\r\nb NOOP\r\n",
	    "ERROR a LIMIT literal of 99999999999 bytes is over the limit of 65536 "
	    "bytes\nDONE b NOOP"),
	C("a LOGIN {99999999999+}\r\nb NOOP\r\n",
	    "ERROR a LIMIT literal of 99999999999 bytes is over the limit of 65536 "
	    "bytes FATAL"),
	C("a LOGIN {999999999999999999999999}\r\nb NOOP\r\n",
	    "ERROR a LIMIT literal of 18446744073709551615 bytes is over the "
	    "limit of 65536 bytes\nDONE b NOOP"),
	C("a LOGIN {65537}\r\nb NOOP\r\n",
	    "ERROR a LIMIT literal of 65537 bytes is over the limit of 65536 "
	    "bytes\nDONE b NOOP"),
	C("a FETCH 1 (FLAGS \" {99999999999+}\r\n",
	    "ERROR a PROTO missing '\"' at the end of a quoted string FATAL"),

	/* coverage of rarer paths */
	C("a SELECT 12345678901234567890123456789012345678901234567890%\r\n",
	    "ERROR a PROTO SELECT: invalid mailbox "
	    "'1234567890123456789012345678901234567890...'"),
	C("a FOO {99999999999+}\r\n", "ERROR a LIMIT literal of 99999999999 "
	    "bytes in an unknown command FATAL"),
	C("a FETCH 1 (FLAGS \" {1+}\r\nx {99999999999+}\r\n",
	    "ERROR a PROTO missing '\"' at the end of a quoted string\n"
	    "ERROR a LIMIT literal of 99999999999 bytes is over the limit of "
	    "67108864 bytes FATAL"),
	C("a SEARCH MODSEQ \"/flags/\\\\Seen\" priv 1 MODSEQ \"/flags/x\" "
	    "shared 0\r\n",
	    "DONE a SEARCH MODSEQ \"/flags/\\\\Seen\" priv 1 MODSEQ "
	    "\"/flags/x\" shared 0"),
	C("a FETCH 1 BODY[HEADER.FIELDS (\"a\\\"b\" \"c\\\\d\" NIL)]\r\n",
	    "DONE a FETCH 1 (BODY[HEADER.FIELDS (\"a\\\"b\" \"c\\\\d\" "
	    "\"NIL\")])"),
	C("a FETCH 1 BODY[HEADER.FIELDS (A  B)]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[HEADER.FIELDS (A  B)]'"),
	C("a FETCH 1 BODY[HEADER.FIELDS (A )]\r\n",
	    "ERROR a PROTO FETCH: invalid fetch item 'BODY[HEADER.FIELDS (A )]'"),
	C("a FETCH 1 BODY[HEADER.FIELDS (A \"B)]\r\n",
	    "ERROR a PROTO missing '\"' at the end of a quoted string"),
	C("a GETMETADATA (MAXSIZE 5) \"\" /a\r\n",
	    "DONE a GETMETADATA (MAXSIZE 5) \"\" (/a)"),

	/* pipelining, empty lines, bare LF, incomplete input */
	C("a NOOP\r\nb LOGIN {3+}\r\nabc x\r\nc FETCH 1 FLAGS\r\n",
	    "DONE a NOOP\nDONE b LOGIN abc x\nDONE c FETCH 1 (FLAGS)"),
	C("\r\n\r\na NOOP\r\n\nb NOOP\n", "DONE a NOOP\nDONE b NOOP"),
	C("a NOOP\r\nb FETCH 1", "DONE a NOOP\nREST 9"),
	C("a LOGIN {3}\r\nab", "CONTINUE"),
	C("a LOGIN {3}\r\nabc", "CONTINUE"),
	C("a LOGIN {3}\r\nabc x", "CONTINUE\nREST 2"),
};

START_TEST(test_cases)
{
	const struct pcase *c = &cases[_i];

	check_all_splits(NULL, c->in, c->in_len, c->out, c->out_len);
}
END_TEST

/* ---- commands with other options ---- */

static const struct pcase stream_cases[] = {
	/* stream_min 4: APPEND message literals of 4 bytes or more */
	C("a APPEND INBOX (\\Seen) {10}\r\n0123456789 {2+}\r\nab\r\n",
	    "LITERAL 10 sync #0\nDATA 0123456789\nDONE a APPEND INBOX (\\Seen) "
	    "{10+}\r\n<streamed> {2+}\r\nab"),
	C("a APPEND INBOX ~{5+}\r\na\0b\0c ~{4}\r\nwxyz\r\n",
	    "LITERAL 5 binary #0\nDATA a\0b\0c\nLITERAL 4 sync binary #1\n"
	    "DATA wxyz\nDONE a APPEND INBOX ~{5+}\r\n<streamed> ~{4+}\r\n"
	    "<streamed>"),
	C("a APPEND {5}\r\nINBOX {4+}\r\nabcd\r\n",
	    "CONTINUE\nLITERAL 4 #0\nDATA abcd\nDONE a APPEND INBOX "
	    "{4+}\r\n<streamed>"),
	C("a APPEND INBOX {4+}\r\nab\0d\r\nb NOOP\r\n",
	    "LITERAL 4 #0\nDATA ab\0d\nERROR a PROTO NUL byte in a literal (only "
	    "literal8 may hold one)\nDONE b NOOP"),
	C("a APPEND INBOX {4+}\r\nabcd x\r\nb NOOP\r\n",
	    "LITERAL 4 #0\nDATA abcd\nERROR a PROTO APPEND: expected the message "
	    "as a literal, not x\nDONE b NOOP"),
	/* max_literal 8: a 9-byte message streams whatever stream_min says;
	 * max_append 1000 */
	C("a APPEND INBOX {1001}\r\nb NOOP\r\n",
	    "ERROR a LIMIT literal of 1001 bytes is over the limit of 1000 "
	    "bytes\nDONE b NOOP"),
	C("a APPEND INBOX {1001+}\r\n",
	    "ERROR a LIMIT literal of 1001 bytes is over the limit of 1000 "
	    "bytes FATAL"),
	/* a non-APPEND literal over max_literal but under max_append is
	 * dropped without hanging up */
	C("a LOGIN {9+}\r\n123456789 x\r\nb NOOP\r\n",
	    "ERROR a LIMIT literal of 9 bytes is over the limit of 8 bytes\n"
	    "DONE b NOOP"),
	C("a FOO {999+}\r\n", "DONE a FOO"),
	/* max_literal bounds all of one command's literals together */
	C("a LOGIN {4}\r\nabcd {4}\r\nefgh\r\n",
	    "CONTINUE\nCONTINUE\nDONE a LOGIN abcd efgh"),
	C("a LOGIN {4}\r\nabcd {5}\r\nb NOOP\r\n",
	    "CONTINUE\nERROR a LIMIT literals of one command over 8 bytes in "
	    "all\nDONE b NOOP"),
	C("a LOGIN {4}\r\nabcd {5+}\r\nefghi\r\nb NOOP\r\n",
	    "CONTINUE\nERROR a LIMIT literals of one command over 8 bytes in "
	    "all\nDONE b NOOP"),
	C("a APPEND {3}\r\nbox {2+}\r\nab {3+}\r\ncde\r\n",
	    "CONTINUE\nDONE a APPEND box {2+}\r\nab {3+}\r\ncde"),
	C("a APPEND {3}\r\nbox {2+}\r\nab {2+}\r\ncd {2+}\r\nef\r\nb NOOP\r\n",
	    "CONTINUE\nERROR a LIMIT literals of one command over 8 bytes in "
	    "all\nDONE b NOOP"),
};

START_TEST(test_stream_cases)
{
	const struct pcase *c = &stream_cases[_i];
	struct imap_parser_opts o;

	imap_parser_opts_default(&o);
	o.stream_min = 4;
	o.max_literal = 8;
	o.max_append = 1000;
	check_all_splits(&o, c->in, c->in_len, c->out, c->out_len);
}
END_TEST

static const struct pcase limit_cases[] = {
	/* max_line 64 (literals excluded), max_depth 3, max_args 12,
	 * max_search_depth 3 */
	/* 64 bytes with the CRLF, then 65 */
	C("a LOGIN 1234567890123456789012345678901234567890123456789012 x\r\n",
	    "DONE a LOGIN 1234567890123456789012345678901234567890123456789012 x"),
	C("a LOGIN 12345678901234567890123456789012345678901234567890123 x\r\n",
	    "ERROR * LIMIT command line too long (over 64 bytes) FATAL"),
	C("a LOGIN 12345678901234567890123456789012345678901234567890123 x\n",
	    "DONE a LOGIN 12345678901234567890123456789012345678901234567890123 x"),
	C("a FOO 123456789012345678901234567890123456789012345678901234567\r\n",
	    "ERROR * LIMIT command line too long (over 64 bytes) FATAL"),
	C("a LOGIN {70+}\r\n1234567890123456789012345678901234567890123456789012"
	    "345678901234567890 x\r\n",
	    "DONE a LOGIN 1234567890123456789012345678901234567890123456"
	    "789012345678901234567890 x"),
	C("a LOGIN {1+}\r\nx 12345678901234567890123456789012345678901234567890\r\n",
	    "ERROR a LIMIT command line too long (over 64 bytes) FATAL"),
	C("a FOO 1234567890123456789012345678901234567890123456789012345678\r\n",
	    "ERROR * LIMIT command line too long (over 64 bytes) FATAL"),
	C("a FOO {1+}\r\nx 12345678901234567890123456789012345678901234567890\r\n",
	    "DONE a FOO\nERROR a LIMIT command line too long (over 64 bytes) "
	    "FATAL"),
	C("a ID (((\"a\")) \"b\")\r\n", "ERROR a PROTO ID: field name must be a "
	    "quoted string or a literal"),
	C("a ID ((((\"a\"))))\r\nb NOOP\r\n",
	    "ERROR a LIMIT lists nested too deeply (over 3)\nDONE b NOOP"),
	C("a ID ((((\"a\" {3+}\r\nabc))))\r\nb NOOP\r\n",
	    "ERROR a LIMIT lists nested too deeply (over 3)\nDONE b NOOP"),
	C("a ENABLE 1 2 3 4 5 6 7 8 9 10 11 12\r\n",
	    "DONE a ENABLE 1 2 3 4 5 6 7 8 9 10 11 12"),
	C("a ENABLE 1 2 3 4 5 6 7 8 9 10 11 12 13\r\nb NOOP\r\n",
	    "ERROR a LIMIT too many arguments (over 12)\nDONE b NOOP"),
	C("a SEARCH NOT NOT (ALL)\r\n", "DONE a SEARCH NOT NOT (ALL)"),
	C("a SEARCH NOT NOT NOT (ALL)\r\n",
	    "ERROR a LIMIT search keys nested too deeply (over 3)"),
	C("a SEARCH OR OR OR 1 2 3 4\r\n", "DONE a SEARCH OR OR OR 1 2 3 4"),
	C("a SEARCH OR OR OR OR 1 2 3 4 5\r\n",
	    "ERROR a LIMIT search keys nested too deeply (over 3)"),
};

START_TEST(test_limit_cases)
{
	const struct pcase *c = &limit_cases[_i];
	struct imap_parser_opts o;

	imap_parser_opts_default(&o);
	o.max_line = 64;
	o.max_depth = 3;
	o.max_args = 12;
	o.max_search_depth = 3;
	check_all_splits(&o, c->in, c->in_len, c->out, c->out_len);
}
END_TEST

static const struct pcase nonsync_none_cases[] = {
	C("a LOGIN {3+}\r\nabc x\r\nb NOOP\r\n",
	    "ERROR a PROTO non-synchronizing literals are not supported\n"
	    "DONE b NOOP"),
	C("a LOGIN {3}\r\nabc x\r\n", "CONTINUE\nDONE a LOGIN abc x"),
};

START_TEST(test_nonsync_none)
{
	const struct pcase *c = &nonsync_none_cases[_i];
	struct imap_parser_opts o;

	imap_parser_opts_default(&o);
	o.nonsync = IMAP_NONSYNC_NONE;
	check_all_splits(&o, c->in, c->in_len, c->out, c->out_len);
}
END_TEST

/* LITERAL-: {n+} up to 4096 bytes; bigger is an error, the bytes are
 * dropped and the connection goes on. */
START_TEST(test_literal_minus)
{
	struct imap_parser_opts o;
	struct mail_buf in = MAIL_BUF_INIT, got;
	size_t cuts[3];
	static const char want[] = "DONE a SETMETADATA INBOX (/shared/a "
	    "{4096+}\r\n";
	static const char err[] = "ERROR a LIMIT non-synchronizing literal of "
	    "4097 bytes is over 4096 bytes (LITERAL-)\nDONE b NOOP";

	imap_parser_opts_default(&o);
	o.nonsync = IMAP_NONSYNC_MINUS;
	o.max_literal = 8192;
	mail_buf_append_str(&in, "a SETMETADATA INBOX (/shared/a {4096+}\r\n");
	for (int i = 0; i < 4096; i++)
		mail_buf_append(&in, "\n", 1);
	mail_buf_append_str(&in, ")\r\n");
	transcript(&o, (const char *)in.data, in.len, NULL, 0, &got);
	ck_assert_uint_eq(got.len, sizeof(want) - 1 + 4096 + 1);
	ck_assert_mem_eq(got.data, want, sizeof(want) - 1);
	mail_buf_free(&got);

	mail_buf_reset(&in);
	mail_buf_append_str(&in, "a LOGIN x {4097+}\r\n");
	for (int i = 0; i < 4097; i++)
		mail_buf_append(&in, "{", 1);
	mail_buf_append_str(&in, " {3+}\r\nabc\r\nb NOOP\r\n");
	cuts[0] = 10;
	cuts[1] = 100;
	cuts[2] = in.len - 5;
	for (size_t n = 0; n <= 3; n++) {
		transcript(&o, (const char *)in.data, in.len, cuts, n, &got);
		expect_equal(&got, err, sizeof(err) - 1, "LITERAL-");
		mail_buf_free(&got);
	}
	mail_buf_free(&in);
}
END_TEST

/* ---- the typed fields ---- */

/* Parse one complete command (whole buffer); NULL and *err if refused. */
static struct imap_cmd *
parse1(const struct imap_parser_opts *o, const char *in, size_t len,
    struct mail_err *err)
{
	struct imap_parser *p = imap_parser_new(o);
	struct imap_cmd *cmd = NULL;
	size_t pos = 0, used;
	enum imap_parse_ret r;

	do {
		r = imap_parser_run(p, (const uint8_t *)in + pos, len - pos,
		    &used, &cmd, err);
		pos += used;
	} while (r == IMAP_PARSE_CONTINUE || r == IMAP_PARSE_LITERAL ||
	    r == IMAP_PARSE_LITERAL_DATA);
	ck_assert_uint_eq(pos, len);
	ck_assert(r == IMAP_PARSE_DONE || r == IMAP_PARSE_ERROR);
	imap_parser_free(&p);
	return cmd;
}
#define P(s)	parse1(NULL, s, sizeof(s) - 1, &err)

START_TEST(test_fetch_fields)
{
	struct mail_err err;
	struct imap_cmd *cmd = P("A7 uid fetch 1:*,5,7:3 (FLAGS "
	    "BODY.PEEK[1.2.HEADER.FIELDS (Subject \"X-A b\")]<10.200> "
	    "BINARY[3]<0.1> BODY[]) (CHANGEDSINCE 99 VANISHED)\r\n");
	const struct imap_fetch_item *it;

	ck_assert_ptr_nonnull(cmd);
	ck_assert_int_eq(cmd->type, IMAP_CMD_FETCH);
	ck_assert_str_eq(cmd->tag, "A7");
	ck_assert_str_eq(cmd->name, "fetch");
	ck_assert(cmd->uid);
	ck_assert(!cmd->u.fetch.set.saved);
	ck_assert_uint_eq(cmd->u.fetch.set.n, 3);
	ck_assert_uint_eq(cmd->u.fetch.set.r[0].lo, 1);
	ck_assert_uint_eq(cmd->u.fetch.set.r[0].hi, 0);	/* '*' */
	ck_assert_uint_eq(cmd->u.fetch.set.r[1].lo, 5);
	ck_assert_uint_eq(cmd->u.fetch.set.r[1].hi, 5);
	ck_assert_uint_eq(cmd->u.fetch.set.r[2].lo, 7);
	ck_assert_uint_eq(cmd->u.fetch.set.r[2].hi, 3);
	ck_assert_uint_eq(cmd->u.fetch.n_items, 4);
	it = cmd->u.fetch.items;
	ck_assert_int_eq(it[0].att, IMAP_FETCH_FLAGS);
	ck_assert_int_eq(it[1].att, IMAP_FETCH_BODY_SECTION);
	ck_assert(it[1].peek);
	ck_assert_uint_eq(it[1].section.n_parts, 2);
	ck_assert_uint_eq(it[1].section.parts[0], 1);
	ck_assert_uint_eq(it[1].section.parts[1], 2);
	ck_assert_int_eq(it[1].section.text, IMAP_SECTION_HEADER_FIELDS);
	ck_assert_uint_eq(it[1].section.n_fields, 2);
	ck_assert_str_eq(it[1].section.fields[0].data, "Subject");
	ck_assert_str_eq(it[1].section.fields[1].data, "X-A b");
	ck_assert_uint_eq(it[1].section.fields[1].len, 5);
	ck_assert(it[1].partial);
	ck_assert_uint_eq(it[1].offset, 10);
	ck_assert_uint_eq(it[1].count, 200);
	ck_assert_int_eq(it[2].att, IMAP_FETCH_BINARY);
	ck_assert(!it[2].peek);
	ck_assert_uint_eq(it[2].section.n_parts, 1);
	ck_assert_uint_eq(it[2].section.parts[0], 3);
	ck_assert(it[2].partial);
	ck_assert_uint_eq(it[2].count, 1);
	ck_assert_int_eq(it[3].att, IMAP_FETCH_BODY_SECTION);
	ck_assert(!it[3].peek && !it[3].partial);
	ck_assert_uint_eq(it[3].section.n_parts, 0);
	ck_assert_int_eq(it[3].section.text, IMAP_SECTION_NONE);
	ck_assert(cmd->u.fetch.has_changedsince);
	ck_assert_uint_eq(cmd->u.fetch.changedsince, 99);
	ck_assert(cmd->u.fetch.vanished);
	/* the generic tree is there too */
	ck_assert_int_eq(cmd->args->type, IMAP_ARG_ATOM);
	ck_assert_str_eq(cmd->args->str, "1:*,5,7:3");
	ck_assert_int_eq(cmd->args->next->type, IMAP_ARG_LIST);
	ck_assert_uint_eq(cmd->args->next->len, 4);
	ck_assert_str_eq(cmd->args->next->list->next->str,
	    "BODY.PEEK[1.2.HEADER.FIELDS (Subject \"X-A b\")]<10.200>");
	imap_cmd_free(&cmd);
}
END_TEST

START_TEST(test_store_fields)
{
	struct mail_err err;
	struct imap_cmd *cmd = P("a STORE $ (UNCHANGEDSINCE 9223372036854775807) "
	    "-FLAGS.SILENT \\Seen kw1 \\FLAGGED $Junk\r\n");

	ck_assert_ptr_nonnull(cmd);
	ck_assert_int_eq(cmd->type, IMAP_CMD_STORE);
	ck_assert(!cmd->uid);
	ck_assert(cmd->u.store.set.saved);
	ck_assert_uint_eq(cmd->u.store.set.n, 0);
	ck_assert_int_eq(cmd->u.store.op, IMAP_STORE_REMOVE);
	ck_assert(cmd->u.store.silent);
	ck_assert(cmd->u.store.has_unchangedsince);
	ck_assert_uint_eq(cmd->u.store.unchangedsince, 9223372036854775807ull);
	ck_assert_uint_eq(cmd->u.store.flags.sys, MAIL_SEEN | MAIL_FLAGGED);
	ck_assert_uint_eq(cmd->u.store.flags.n_keywords, 2);
	ck_assert_str_eq(cmd->u.store.flags.keywords[0], "kw1");
	ck_assert_str_eq(cmd->u.store.flags.keywords[1], "$Junk");
	imap_cmd_free(&cmd);

	cmd = P("a STORE 1 (UNCHANGEDSINCE 9223372036854775808) FLAGS x\r\n");
	ck_assert_ptr_null(cmd);
	ck_assert_str_eq(err.msg, "STORE: invalid UNCHANGEDSINCE "
	    "'9223372036854775808'");
}
END_TEST

START_TEST(test_search_fields)
{
	struct mail_err err;
	struct imap_cmd *cmd = P("a SEARCH RETURN (ALL MAX) CHARSET \"UTF-8\" "
	    "OR (FROM {5}\r\nal ce NOT 2:4) HEADER List-Id \"<x>\" "
	    "MODSEQ \"/flags/$Junk\" shared 7\r\n");
	const struct imap_search_key *and, *or, *k;

	ck_assert_ptr_nonnull(cmd);
	ck_assert(cmd->u.search.has_return);
	ck_assert_uint_eq(cmd->u.search.ret, IMAP_SEARCH_RET_ALL |
	    IMAP_SEARCH_RET_MAX);
	ck_assert_str_eq(cmd->u.search.charset, "UTF-8");
	and = cmd->u.search.keys;
	ck_assert_int_eq(and->type, IMAP_SK_AND);
	or = and->child;
	ck_assert_int_eq(or->type, IMAP_SK_OR);
	/* OR's first key is the parenthesized list */
	k = or->child;
	ck_assert_int_eq(k->type, IMAP_SK_AND);
	ck_assert_int_eq(k->child->type, IMAP_SK_FROM);
	ck_assert_uint_eq(k->child->str.len, 5);
	ck_assert_mem_eq(k->child->str.data, "al ce", 5);
	ck_assert_int_eq(k->child->next->type, IMAP_SK_NOT);
	ck_assert_int_eq(k->child->next->child->type, IMAP_SK_SEQSET);
	ck_assert_uint_eq(k->child->next->child->set.r[0].lo, 2);
	ck_assert_uint_eq(k->child->next->child->set.r[0].hi, 4);
	ck_assert_ptr_null(k->child->next->next);
	/* its second is HEADER */
	k = k->next;
	ck_assert_int_eq(k->type, IMAP_SK_HEADER);
	ck_assert_str_eq(k->field.data, "List-Id");
	ck_assert_str_eq(k->str.data, "<x>");
	ck_assert_ptr_null(k->next);
	/* then MODSEQ at the top level */
	k = or->next;
	ck_assert_int_eq(k->type, IMAP_SK_MODSEQ);
	ck_assert_str_eq(k->field.data, "/flags/$Junk");
	ck_assert_int_eq(k->entry_type, IMAP_MODSEQ_ENTRY_SHARED);
	ck_assert_uint_eq(k->num, 7);
	ck_assert_ptr_null(k->next);
	imap_cmd_free(&cmd);

	cmd = P("a SORT (REVERSE SIZE DATE) UTF-8 SINCE 29-Feb-2000\r\n");
	ck_assert_ptr_nonnull(cmd);
	ck_assert_uint_eq(cmd->u.sort.n_criteria, 2);
	ck_assert_int_eq(cmd->u.sort.criteria[0].key, IMAP_SORT_SIZE);
	ck_assert(cmd->u.sort.criteria[0].reverse);
	ck_assert_int_eq(cmd->u.sort.criteria[1].key, IMAP_SORT_DATE);
	ck_assert(!cmd->u.sort.criteria[1].reverse);
	ck_assert_str_eq(cmd->u.sort.search.charset, "UTF-8");
	k = cmd->u.sort.search.keys->child;
	ck_assert_int_eq(k->type, IMAP_SK_SINCE);
	ck_assert_uint_eq(k->date.year, 2000);
	ck_assert_uint_eq(k->date.month, 2);
	ck_assert_uint_eq(k->date.day, 29);
	imap_cmd_free(&cmd);

	cmd = P("a THREAD REFERENCES US-ASCII YOUNGER 4294967295\r\n");
	ck_assert_ptr_nonnull(cmd);
	ck_assert_int_eq(cmd->u.thread.alg, IMAP_THREAD_REFERENCES);
	ck_assert_uint_eq(cmd->u.thread.search.keys->child->num, UINT32_MAX);
	imap_cmd_free(&cmd);
}
END_TEST

START_TEST(test_append_fields)
{
	static const char in[] = "a APPEND \"Sent\" (\\Seen \\Draft kw) "
	    "\"17-Jul-1996 02:44:25 -0700\" {3+}\r\nabc ~{2+}\r\n\0\1\r\n";
	struct mail_err err;
	struct imap_cmd *cmd = parse1(NULL, in, sizeof(in) - 1, &err);
	const struct imap_append_msg *m;

	ck_assert_ptr_nonnull(cmd);
	ck_assert_int_eq(cmd->type, IMAP_CMD_APPEND);
	ck_assert_str_eq(cmd->u.append.mailbox.data, "Sent");
	ck_assert_uint_eq(cmd->u.append.n_msgs, 2);
	m = &cmd->u.append.msgs[0];
	ck_assert(m->has_flags);
	ck_assert_uint_eq(m->flags.sys, MAIL_SEEN | MAIL_DRAFT);
	ck_assert_uint_eq(m->flags.n_keywords, 1);
	ck_assert(m->has_date);
	ck_assert_int_eq(m->date.t, 837596665);
	ck_assert_int_eq(m->date.zone, -420);
	ck_assert(!m->binary && !m->streamed);
	ck_assert_uint_eq(m->size, 3);
	ck_assert_mem_eq(m->data, "abc", 3);
	m = &cmd->u.append.msgs[1];
	ck_assert(!m->has_flags && !m->has_date);
	ck_assert(m->binary);
	ck_assert_uint_eq(m->size, 2);
	ck_assert_mem_eq(m->data, "\0\1", 2);
	ck_assert_int_eq(cmd->args->next->next->next->type, IMAP_ARG_LITERAL);
	ck_assert_uint_eq(cmd->args->next->next->next->flags, IMAP_ARG_F_NONSYNC);
	imap_cmd_free(&cmd);
}
END_TEST

START_TEST(test_other_fields)
{
	struct mail_err err;
	struct imap_cmd *cmd;
	struct mail_buf out = MAIL_BUF_INIT;

	cmd = P("a SELECT INBOX (QRESYNC (3857529045 20010715194032001 1:300 "
	    "(3,7 22,56)) CONDSTORE)\r\n");
	ck_assert_ptr_nonnull(cmd);
	ck_assert_str_eq(cmd->u.select.mailbox.data, "INBOX");
	ck_assert(cmd->u.select.condstore && cmd->u.select.qresync);
	ck_assert_uint_eq(cmd->u.select.uidvalidity, 3857529045u);
	ck_assert_uint_eq(cmd->u.select.modseq, 20010715194032001ull);
	ck_assert(cmd->u.select.has_known_uids);
	ck_assert_uint_eq(cmd->u.select.known_uids.r[0].hi, 300);
	ck_assert(cmd->u.select.has_seq_match);
	ck_assert_uint_eq(cmd->u.select.known_seqs.n, 2);
	ck_assert_uint_eq(cmd->u.select.known_seq_uids.r[1].lo, 56);
	imap_cmd_free(&cmd);

	cmd = P("a LOGIN {4}\r\nb\"\\b {3}\r\np w\r\n");
	ck_assert_ptr_nonnull(cmd);
	ck_assert_str_eq(cmd->u.login.user.data, "b\"\\b");
	ck_assert_str_eq(cmd->u.login.password.data, "p w");
	imap_cmd_write(cmd, false, &out);
	ck_assert_str_eq((char *)out.data, "a LOGIN \"b\\\"\\\\b\" ***\r\n");
	mail_buf_reset(&out);
	imap_cmd_free(&cmd);

	cmd = P("a AUTHENTICATE PLAIN =\r\n");
	ck_assert(cmd->u.authenticate.has_initial);
	ck_assert_uint_eq(cmd->u.authenticate.initial.len, 0);
	imap_cmd_write(cmd, false, &out);
	ck_assert_str_eq((char *)out.data, "a AUTHENTICATE PLAIN ***\r\n");
	mail_buf_reset(&out);
	imap_cmd_free(&cmd);

	cmd = P("a LIST (REMOTE) \"x/\" (a b) RETURN (STATUS (SIZE))\r\n");
	ck_assert(cmd->u.list.extended);
	ck_assert_uint_eq(cmd->u.list.select, IMAP_LIST_SEL_REMOTE);
	ck_assert_uint_eq(cmd->u.list.ret, IMAP_LIST_RET_STATUS);
	ck_assert_uint_eq(cmd->u.list.status, IMAP_STATUS_SIZE);
	ck_assert_str_eq(cmd->u.list.ref.data, "x/");
	ck_assert_uint_eq(cmd->u.list.n_patterns, 2);
	ck_assert_str_eq(cmd->u.list.patterns[1].data, "b");
	imap_cmd_free(&cmd);

	cmd = P("a LIST \"\" *\r\n");
	ck_assert(!cmd->u.list.extended);
	imap_cmd_free(&cmd);

	cmd = P("a ID (\"k\" NIL)\r\n");
	ck_assert_uint_eq(cmd->u.id.n, 1);
	ck_assert_str_eq(cmd->u.id.keys[0].data, "k");
	ck_assert_ptr_null(cmd->u.id.values[0].data);
	imap_cmd_free(&cmd);

	cmd = P("a GETMETADATA (MAXSIZE 4294967295) \"\" /a\r\n");
	ck_assert(cmd->u.getmetadata.has_maxsize);
	ck_assert_uint_eq(cmd->u.getmetadata.maxsize, UINT32_MAX);
	ck_assert_uint_eq(cmd->u.getmetadata.mailbox.len, 0);
	imap_cmd_free(&cmd);

	cmd = P("a SETMETADATA x (/shared/a NIL /shared/b ~{1}\r\n\0)\r\n");
	ck_assert_uint_eq(cmd->u.setmetadata.n_entries, 2);
	ck_assert_ptr_null(cmd->u.setmetadata.entries[0].value.data);
	ck_assert(cmd->u.setmetadata.entries[1].binary);
	ck_assert_uint_eq(cmd->u.setmetadata.entries[1].value.len, 1);
	imap_cmd_free(&cmd);

	cmd = P("a CREATE x (USE (\\Archive))\r\n");
	ck_assert_uint_eq(cmd->u.create.n_use, 1);
	ck_assert_str_eq(cmd->u.create.use[0], "\\Archive");
	imap_cmd_free(&cmd);

	cmd = P("a STATUS x (UIDNEXT DELETED)\r\n");
	ck_assert_uint_eq(cmd->u.status.items, IMAP_STATUS_UIDNEXT |
	    IMAP_STATUS_DELETED);
	imap_cmd_free(&cmd);

	cmd = P("a ENABLE UTF8=ACCEPT\r\n");
	ck_assert_uint_eq(cmd->u.enable.n, 1);
	ck_assert_str_eq(cmd->u.enable.caps[0], "UTF8=ACCEPT");
	imap_cmd_free(&cmd);

	cmd = P("a foo\r\n");
	ck_assert_int_eq(cmd->type, IMAP_CMD_UNKNOWN);
	ck_assert_str_eq(cmd->name, "foo");
	ck_assert_ptr_null(cmd->args);
	imap_cmd_free(&cmd);
	imap_cmd_free(&cmd);	/* NULL-safe */
	mail_buf_free(&out);
}
END_TEST

/* Every command type name round-trips through the table. */
START_TEST(test_type_names)
{
	ck_assert_str_eq(imap_cmd_type_name(IMAP_CMD_UNKNOWN), "");
	for (int t = 1; t < IMAP_CMD_COUNT_; t++) {
		const char *name = imap_cmd_type_name((enum imap_cmd_type)t);
		struct mail_buf in = MAIL_BUF_INIT;
		struct mail_err err;
		struct imap_parser *p = imap_parser_new(NULL);
		struct imap_cmd *cmd;
		size_t used;

		ck_assert_str_ne(name, "");
		mail_buf_printf(&in, "t %s\r\n", name);
		if (imap_parser_run(p, in.data, in.len, &used, &cmd, &err) ==
		    IMAP_PARSE_ERROR)
			ck_assert_ptr_null(cmd);
		/* a command may refuse no arguments, but is never unknown */
		if (cmd != NULL)
			ck_assert_int_eq(cmd->type, t);
		else
			ck_assert_ptr_nonnull(strstr(err.msg, name));
		imap_cmd_free(&cmd);
		imap_parser_free(&p);
		mail_buf_free(&in);
	}
}
END_TEST

/* ---- the value parsers ---- */

START_TEST(test_values)
{
	struct imap_arena *a = imap_arena_new();
	struct imap_seqset set;
	struct imap_date d;
	struct imap_datetime dt;
	struct mail_err err;

	ck_assert_int_eq(imap_seqset_parse(a, "*", 1, false, &set, &err), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_uint_eq(set.r[0].lo, 0);
	ck_assert_int_eq(imap_seqset_parse(a, "$", 1, false, &set, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PROTO);
	ck_assert_str_eq(err.msg, "invalid sequence set '$'");
	ck_assert_int_eq(imap_seqset_parse(a, "$", 1, true, &set, &err), 0);
	ck_assert(set.saved);
	ck_assert_int_eq(imap_seqset_parse(a, "", 0, true, &set, &err), -1);
	ck_assert_int_eq(imap_seqset_parse(a, "1:", 2, true, &set, &err), -1);
	ck_assert_int_eq(imap_seqset_parse(a, ":1", 2, true, &set, &err), -1);
	ck_assert_int_eq(imap_seqset_parse(a, "**", 2, true, &set, &err), -1);

	ck_assert_int_eq(imap_date_parse("1-jan-1970", 10, &d, &err), 0);
	ck_assert_uint_eq(d.year, 1970);
	ck_assert_int_eq(imap_date_parse("29-Feb-2023", 11, &d, &err), -1);
	ck_assert_int_eq(imap_date_parse("29-Feb-1900", 11, &d, &err), -1);
	ck_assert_int_eq(imap_date_parse("29-Feb-2000", 11, &d, &err), 0);
	ck_assert_int_eq(imap_date_parse("001-Jan-2000", 12, &d, &err), -1);
	ck_assert_int_eq(imap_date_parse("1-Foo-2000", 10, &d, &err), -1);
	ck_assert_int_eq(imap_date_parse("", 0, &d, &err), -1);

	ck_assert_int_eq(imap_datetime_parse("01-Jan-1970 00:00:00 +0000", 26,
	    &dt, &err), 0);
	ck_assert_int_eq(dt.t, 0);
	ck_assert_int_eq(imap_datetime_parse(" 1-Jan-1970 01:00:00 +0100", 26,
	    &dt, &err), 0);
	ck_assert_int_eq(dt.t, 0);
	ck_assert_int_eq(dt.zone, 60);
	ck_assert_int_eq(imap_datetime_parse("31-Dec-1969 23:59:59 +0000", 26,
	    &dt, &err), 0);
	ck_assert_int_eq(dt.t, -1);
	ck_assert_int_eq(imap_datetime_parse("01-Jan-0000 00:00:00 +0000", 26,
	    &dt, &err), 0);
	ck_assert_int_eq(dt.t, -62167219200ll);
	ck_assert_int_eq(imap_datetime_parse("01-Jan-1970 24:00:00 +0000", 26,
	    &dt, &err), -1);
	ck_assert_int_eq(imap_datetime_parse("01-Jan-1970 00:00:00 +0060", 26,
	    &dt, &err), -1);
	ck_assert_int_eq(imap_datetime_parse("01-Jan-1970 00:00:00 0000", 25,
	    &dt, &err), -1);
	ck_assert_str_eq(err.msg, "invalid date-time '01-Jan-1970 00:00:00 0000'");
	imap_arena_free(&a);
	ck_assert_ptr_null(a);
}
END_TEST

/* ---- streaming, skipping, raw lines, memory ---- */

/* A 1 MiB APPEND fed in 1000-byte reads: the parser never holds it. */
START_TEST(test_stream_big_append)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct mail_buf in = MAIL_BUF_INIT;
	const size_t size = 1 << 20;
	size_t fed = 0, got = 0, total, used, max_mem = 0;
	struct imap_cmd *cmd = NULL;
	struct mail_err err;
	bool announced = false;
	char *msg = malloc(size);
	struct mail_buf all = MAIL_BUF_INIT;

	for (size_t i = 0; i < size; i++)
		msg[i] = (char)('a' + i % 26);
	mail_buf_printf(&all, "a APPEND INBOX (\\Seen) {%zu}\r\n", size);
	mail_buf_append(&all, msg, size);
	mail_buf_append_str(&all, "\r\nb NOOP\r\n");
	total = all.len;
	ck_assert_uint_lt(imap_parser_mem_used(p), 512);
	while (cmd == NULL || cmd->type != IMAP_CMD_NOOP) {
		enum imap_parse_ret r;

		if (cmd != NULL) {
			ck_assert_int_eq(cmd->type, IMAP_CMD_APPEND);
			ck_assert(cmd->u.append.msgs[0].streamed);
			ck_assert_ptr_null(cmd->u.append.msgs[0].data);
			ck_assert_uint_eq(cmd->u.append.msgs[0].size, size);
			ck_assert_uint_eq(cmd->u.append.msgs[0].flags.sys,
			    MAIL_SEEN);
			imap_cmd_free(&cmd);
		}
		r = imap_parser_run(p, in.data, in.len, &used, &cmd, &err);
		if (imap_parser_mem_used(p) > max_mem)
			max_mem = imap_parser_mem_used(p);
		if (r == IMAP_PARSE_LITERAL) {
			const struct imap_arg *a = imap_parser_partial_args(p);

			ck_assert(!announced);
			announced = true;
			ck_assert_uint_eq(imap_parser_stream(p)->size, size);
			ck_assert(imap_parser_stream(p)->sync);
			ck_assert_str_eq(a->str, "INBOX");
			ck_assert_int_eq(a->next->type, IMAP_ARG_LIST);
		} else if (r == IMAP_PARSE_LITERAL_DATA) {
			ck_assert_mem_eq(in.data, msg + got, used);
			got += used;
		} else if (r == IMAP_PARSE_MORE) {
			size_t n = total - fed < 1000 ? total - fed : 1000;

			ck_assert_uint_gt(n, 0);
			mail_buf_consume(&in, used);
			mail_buf_append(&in, all.data + fed, n);
			fed += n;
			continue;
		} else {
			ck_assert_int_eq(r, IMAP_PARSE_DONE);
		}
		mail_buf_consume(&in, used);
	}
	ck_assert(announced);
	ck_assert_uint_eq(got, size);
	/* the command's arena stays at its first chunk or two */
	ck_assert_uint_lt(max_mem, 4096);
	ck_assert_uint_lt(imap_parser_mem_used(p), 512);
	imap_cmd_free(&cmd);
	imap_parser_free(&p);
	imap_parser_free(&p);	/* NULL-safe */
	mail_buf_free(&in);
	mail_buf_free(&all);
	free(msg);
}
END_TEST

/* Refusing an APPEND at its literal: a synchronizing one never comes, a
 * non-synchronizing one is dropped. */
START_TEST(test_skip_command)
{
	struct imap_parser_opts o;
	struct imap_parser *p;
	struct imap_cmd *cmd;
	struct mail_err err;
	size_t used;
	static const char sync[] = "a APPEND INBOX {100}\r\nb NOOP\r\n";
	static const char nonsync[] = "a APPEND INBOX {5+}\r\nhello\r\nb NOOP\r\n";
	static const char after[] = "a LOGIN {5+}\r\nhello x\r\nb NOOP\r\n";

	imap_parser_opts_default(&o);
	o.stream_min = 0;
	p = imap_parser_new(&o);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)sync,
	    sizeof(sync) - 1, &used, &cmd, &err), IMAP_PARSE_LITERAL);
	ck_assert_uint_eq(used, 22);
	imap_parser_skip_command(p);
	ck_assert_str_eq(imap_parser_tag(p), "a");
	ck_assert_uint_lt(imap_parser_mem_used(p), 512);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)sync + used,
	    sizeof(sync) - 1 - used, &used, &cmd, &err), IMAP_PARSE_DONE);
	ck_assert_str_eq(cmd->tag, "b");
	imap_cmd_free(&cmd);
	imap_parser_free(&p);

	p = imap_parser_new(&o);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)nonsync,
	    sizeof(nonsync) - 1, &used, &cmd, &err), IMAP_PARSE_LITERAL);
	imap_parser_skip_command(p);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)nonsync + used,
	    sizeof(nonsync) - 1 - used, &used, &cmd, &err), IMAP_PARSE_DONE);
	ck_assert_str_eq(cmd->tag, "b");
	imap_cmd_free(&cmd);
	imap_parser_free(&p);

	/* between a literal and the rest of the line */
	p = imap_parser_new(&o);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)after, 19, &used,
	    &cmd, &err), IMAP_PARSE_MORE);
	ck_assert_uint_eq(used, 19);
	imap_parser_skip_command(p);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)after + 19,
	    sizeof(after) - 1 - 19, &used, &cmd, &err), IMAP_PARSE_DONE);
	ck_assert_str_eq(cmd->tag, "b");
	imap_cmd_free(&cmd);
	imap_parser_skip_command(p);	/* idle: nothing to do */
	imap_parser_free(&p);
}
END_TEST

/* IDLE ... DONE and AUTHENTICATE responses read as raw lines. */
START_TEST(test_read_line)
{
	struct imap_parser_opts o;
	struct imap_parser *p;
	struct imap_cmd *cmd;
	struct mail_err err;
	const uint8_t *line;
	size_t used, len, n;
	static const char in[] = "a IDLE\r\ndone\r\n\r\nb NOOP\r\n";

	imap_parser_opts_default(&o);
	o.max_line = 64;
	p = imap_parser_new(&o);
	ck_assert_int_eq(imap_parser_read_line(p, NULL, 0, &used, &line, &len,
	    &err), IMAP_PARSE_MORE);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)in,
	    sizeof(in) - 1, &used, &cmd, &err), IMAP_PARSE_DONE);
	ck_assert_int_eq(cmd->type, IMAP_CMD_IDLE);
	imap_cmd_free(&cmd);
	n = used;
	/* one byte at a time: nothing is consumed until the line is whole */
	for (size_t k = 0; k < 5; k++) {
		ck_assert_int_eq(imap_parser_read_line(p,
		    (const uint8_t *)in + n, k, &used, &line, &len, &err),
		    IMAP_PARSE_MORE);
		ck_assert_uint_eq(used, 0);
	}
	ck_assert_int_eq(imap_parser_read_line(p, (const uint8_t *)in + n,
	    6, &used, &line, &len, &err), IMAP_PARSE_DONE);
	ck_assert_uint_eq(used, 6);
	ck_assert_uint_eq(len, 4);
	ck_assert(imap_line_is_done(line, len));
	ck_assert(!imap_line_is_done(line, 3));
	n += used;
	ck_assert_int_eq(imap_parser_read_line(p, (const uint8_t *)in + n,
	    sizeof(in) - 1 - n, &used, &line, &len, &err), IMAP_PARSE_DONE);
	ck_assert_uint_eq(len, 0);	/* an empty AUTHENTICATE response */
	n += used;
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)in + n,
	    sizeof(in) - 1 - n, &used, &cmd, &err), IMAP_PARSE_DONE);
	ck_assert_int_eq(cmd->type, IMAP_CMD_NOOP);
	imap_cmd_free(&cmd);
	/* over max_line: fatal */
	{
		char big[80];

		memset(big, 'x', sizeof(big));
		ck_assert_int_eq(imap_parser_read_line(p, (const uint8_t *)big,
		    sizeof(big), &used, &line, &len, &err), IMAP_PARSE_ERROR);
		ck_assert(imap_parser_fatal(p));
		ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
		ck_assert_int_eq(imap_parser_read_line(p, (const uint8_t *)in,
		    8, &used, &line, &len, &err), IMAP_PARSE_ERROR);
		ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)in, 8,
		    &used, &cmd, &err), IMAP_PARSE_ERROR);
		ck_assert_uint_eq(used, 0);
	}
	imap_parser_free(&p);
}
END_TEST

/* The tag is there for an error's answer and gone for the next command;
 * NULL input is fine. */
START_TEST(test_tag_and_null_input)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_cmd *cmd;
	struct mail_err err;
	size_t used;

	ck_assert_int_eq(imap_parser_run(p, NULL, 0, &used, &cmd, &err),
	    IMAP_PARSE_MORE);
	ck_assert_ptr_null(imap_parser_tag(p));
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)"t1 FOO(\r\n", 9,
	    &used, &cmd, &err), IMAP_PARSE_DONE);
	imap_cmd_free(&cmd);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)"t2 NOOP x\r\n",
	    11, &used, &cmd, &err), IMAP_PARSE_ERROR);
	ck_assert_str_eq(imap_parser_tag(p), "t2");
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)"t3", 2, &used,
	    &cmd, &err), IMAP_PARSE_MORE);
	ck_assert_ptr_null(imap_parser_tag(p));
	ck_assert_uint_eq(used, 0);
	ck_assert_ptr_null(imap_parser_partial_args(p));
	imap_parser_free(&p);
}
END_TEST

/* A literal over the limit is refused at its announcement, before any
 * memory is taken for it; one within is allocated once, then filled. */
START_TEST(test_memory)
{
	struct imap_parser *p = imap_parser_new(NULL);
	struct imap_cmd *cmd;
	struct mail_err err;
	size_t used;
	static const char big[] = "a LOGIN {65537}\r\n";
	static const char ok[] = "a LOGIN {60000}\r\n";

	ck_assert_uint_lt(imap_parser_mem_used(p), 512);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)big,
	    sizeof(big) - 1, &used, &cmd, &err), IMAP_PARSE_ERROR);
	ck_assert_int_eq(err.code, MAIL_ERR_LIMIT);
	ck_assert(!imap_parser_fatal(p));
	ck_assert_uint_lt(imap_parser_mem_used(p), 512);
	ck_assert_int_eq(imap_parser_run(p, (const uint8_t *)ok,
	    sizeof(ok) - 1, &used, &cmd, &err), IMAP_PARSE_CONTINUE);
	ck_assert_uint_gt(imap_parser_mem_used(p), 60000);
	ck_assert_uint_lt(imap_parser_mem_used(p), 70000);
	ck_assert_int_eq(imap_parser_partial_args(p)->type, IMAP_ARG_LITERAL);
	ck_assert_uint_eq(imap_parser_partial_args(p)->len, 60000);
	imap_parser_skip_command(p);
	ck_assert_uint_lt(imap_parser_mem_used(p), 512);
	imap_parser_free(&p);
}
END_TEST

/* Many commands back to back, cut into reads of every size from 1 to 40
 * bytes: the same transcript as in one piece. */
START_TEST(test_pipeline_chunks)
{
	struct mail_buf all = MAIL_BUF_INIT, want, got;
	size_t *cuts;
	size_t nc;

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		/* skip cases that end in the middle of a command */
		if (strstr(cases[i].out, "REST") != NULL ||
		    strstr(cases[i].out, "FATAL") != NULL ||
		    cases[i].in[cases[i].in_len - 1] != '\n')
			continue;
		mail_buf_append(&all, cases[i].in, cases[i].in_len);
	}
	transcript(NULL, (const char *)all.data, all.len, NULL, 0, &want);
	cuts = malloc((all.len + 1) * sizeof(*cuts));
	for (size_t step = 1; step <= 40; step++) {
		nc = 0;
		for (size_t c = step; c < all.len; c += step)
			cuts[nc++] = c;
		transcript(NULL, (const char *)all.data, all.len, cuts, nc,
		    &got);
		expect_equal(&got, (const char *)want.data, want.len,
		    "pipelined chunks");
		mail_buf_free(&got);
	}
	free(cuts);
	mail_buf_free(&want);
	mail_buf_free(&all);
}
END_TEST

/* The canonical form parses back to itself, for every case. */
START_TEST(test_write_round_trip)
{
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct imap_parser *p = imap_parser_new(NULL);
		struct mail_buf in = MAIL_BUF_INIT;
		size_t pos = 0, used;
		struct imap_cmd *cmd;
		struct mail_err err;
		enum imap_parse_ret r;

		mail_buf_append(&in, cases[i].in, cases[i].in_len);
		while ((r = imap_parser_run(p, in.data + pos, in.len - pos,
		    &used, &cmd, &err)) != IMAP_PARSE_MORE && !imap_parser_fatal(p)) {
			pos += used;
			if (r == IMAP_PARSE_DONE) {
				struct mail_buf a = MAIL_BUF_INIT, b = MAIL_BUF_INIT;
				struct imap_cmd *again;

				imap_cmd_write(cmd, true, &a);
				again = parse1(NULL, (const char *)a.data, a.len,
				    &err);
				ck_assert_msg(again != NULL, "case %zu: %s", i,
				    err.msg);
				imap_cmd_write(again, true, &b);
				expect_equal(&b, (const char *)a.data, a.len,
				    "round trip");
				imap_cmd_free(&again);
				imap_cmd_free(&cmd);
				mail_buf_free(&a);
				mail_buf_free(&b);
			}
		}
		mail_buf_free(&in);
		imap_parser_free(&p);
	}
}
END_TEST

Suite *test_imap_parser_suite(void);

Suite *
test_imap_parser_suite(void)
{
	Suite *s = suite_create("imap_parser");
	TCase *tc = tcase_create("transcripts");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_cases, 0, N_ELEMENTS(cases));
	tcase_add_loop_test(tc, test_stream_cases, 0, N_ELEMENTS(stream_cases));
	tcase_add_loop_test(tc, test_limit_cases, 0, N_ELEMENTS(limit_cases));
	tcase_add_loop_test(tc, test_nonsync_none, 0,
	    N_ELEMENTS(nonsync_none_cases));
	tcase_add_test(tc, test_literal_minus);
	tcase_add_test(tc, test_pipeline_chunks);
	tcase_add_test(tc, test_write_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("fields");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fetch_fields);
	tcase_add_test(tc, test_store_fields);
	tcase_add_test(tc, test_search_fields);
	tcase_add_test(tc, test_append_fields);
	tcase_add_test(tc, test_other_fields);
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("io");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_stream_big_append);
	tcase_add_test(tc, test_skip_command);
	tcase_add_test(tc, test_read_line);
	tcase_add_test(tc, test_tag_and_null_input);
	tcase_add_test(tc, test_memory);
	suite_add_tcase(s, tc);
	return s;
}
