/*
 * test_mail_mime.c: the MIME parser and its IMAP views.
 *
 * The table below holds messages with the exact BODYSTRUCTURE, BODY and
 * ENVELOPE they must produce. Most were checked against Dovecot 2.3 (the
 * de-facto reference); where the output differs on purpose the case says
 * so. Every table message is also parsed at every truncation and with
 * random byte changes, checking the tree invariants and that the IMAP
 * output stays well-formed: the parser takes a whole message, so
 * truncations stand in for split points.
 */
#include <stdlib.h>
#include <string.h>

#include "mail_mime.h"
#include "testlib.h"

/* ck_assert() records every passing check, which costs a write; the
 * invariant checkers run millions of checks, so they only report
 * failures. */
#define CHECK(cond) do { \
	if (!(cond)) \
		ck_abort_msg("%s:%d: check failed: %s", __FILE__, __LINE__, \
		    #cond); \
} while (0)
#define CHECK_EQ(a, b)	CHECK((a) == (b))
#define CHECK_NE(a, b)	CHECK((a) != (b))
#define CHECK_LE(a, b)	CHECK((a) <= (b))
#define CHECK_LT(a, b)	CHECK((a) < (b))
#define CHECK_GE(a, b)	CHECK((a) >= (b))
#define CHECK_GT(a, b)	CHECK((a) > (b))
#define CHECK_PTR_EQ(a, b) CHECK((a) == (b))
#define CHECK_PTR_NULL(a) CHECK((a) == NULL)
#define CHECK_PTR_NONNULL(a) CHECK((a) != NULL)

struct mime_case {
	const char *name;
	const char *msg;
	const char *bs;		/* BODYSTRUCTURE */
	const char *body;	/* BODY */
	const char *env;	/* ENVELOPE of the top message */
};

/*
 * Deliberate differences from Dovecot: "nested" (the line end after a
 * close delimiter belongs to the next delimiter, RFC 2046 5.1.1, so the
 * message/rfc822 is 166 octets and 12 lines, Dovecot says 168 and 13),
 * "folded_8bit" (RFC 5322 unfolding keeps both spaces; Dovecot collapses
 * them), "bad_types" (an invalid Content-Type is text/plain per RFC 2045
 * 5.2; Dovecot shows "" ""), "empty_boundary" (RFC 2046 wants at least
 * one character, so there is none and the body stays whole; Dovecot
 * splits at every "--" line), and the odd addresses, which Dovecot stops
 * parsing at the first error.
 */
static const struct mime_case mime_cases[] = {
	{ "simple_crlf",
	    "From: Joe <joe@example.org>\r\n"
	    "To: a@example.org\r\n"
	    "Subject: hi\r\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	    "Message-ID: <1@example.org>\r\n"
	    "\r\n"
	    "hello\r\n"
	    "world\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "14 2 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "14 2)",
	    "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"hi\" ((\"Joe\" NIL \"joe\" "
	    "\"example.org\")) ((\"Joe\" NIL \"joe\" \"example.org\")) "
	    "((\"Joe\" NIL \"joe\" \"example.org\")) ((NIL NIL \"a\" "
	    "\"example.org\")) NIL NIL NIL \"<1@example.org>\")" },
	{ "simple_lf",
	    "From: Joe <joe@example.org>\n"
	    "To: a@example.org\n"
	    "Subject: hi\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Message-ID: <1@example.org>\n"
	    "\n"
	    "hello\n"
	    "world\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "14 2 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "14 2)",
	    "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"hi\" ((\"Joe\" NIL \"joe\" "
	    "\"example.org\")) ((\"Joe\" NIL \"joe\" \"example.org\")) "
	    "((\"Joe\" NIL \"joe\" \"example.org\")) ((NIL NIL \"a\" "
	    "\"example.org\")) NIL NIL NIL \"<1@example.org>\")" },
	{ "no_final_newline",
	    "Subject: x\r\n"
	    "\r\n"
	    "hello\r\n"
	    "world",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "12 1 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "12 1)",
	    "(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "alternative",
	    "From: a@b\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
	    "\r\n"
	    "This is a MIME message.\r\n"
	    "--alt\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "caf=C3=A9\r\n"
	    "--alt\r\n"
	    "Content-Type: text/html; charset=utf-8\r\n"
	    "\r\n"
	    "<p>caf&eacute;</p>\r\n"
	    "--alt--\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"quoted-printable\" 9 0 NIL NIL NIL NIL)(\"text\" \"html\" "
	    "(\"charset\" \"utf-8\") NIL NIL \"7bit\" 18 0 NIL NIL NIL NIL) "
	    "\"alternative\" (\"boundary\" \"alt\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL "
	    "\"quoted-printable\" 9 0)(\"text\" \"html\" (\"charset\" "
	    "\"utf-8\") NIL NIL \"7bit\" 18 0) \"alternative\")",
	    "(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL "
	    "NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)" },
	{ "nested",
	    "Content-Type: multipart/mixed; boundary=outer\n"
	    "\n"
	    "--outer\n"
	    "Content-Type: multipart/alternative; boundary=inner\n"
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "plain\n"
	    "--inner\n"
	    "Content-Type: text/html\n"
	    "\n"
	    "<b>html</b>\n"
	    "--inner--\n"
	    "--outer\n"
	    "Content-Type: application/pdf; name=a.pdf\n"
	    "Content-Disposition: attachment; filename=a.pdf\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "JVBERi0=\n"
	    "--outer\n"
	    "Content-Type: message/rfc822\n"
	    "\n"
	    "From: x@y\n"
	    "To: z@w\n"
	    "Subject: fwd\n"
	    "Content-Type: multipart/mixed; boundary=deep\n"
	    "\n"
	    "--deep\n"
	    "\n"
	    "one\n"
	    "--deep\n"
	    "Content-Type: text/plain; charset=iso-8859-1\n"
	    "\n"
	    "two\n"
	    "--deep--\n"
	    "--outer--\n",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") "
	    "NIL NIL \"7bit\" 11 0 NIL NIL NIL NIL) \"alternative\" "
	    "(\"boundary\" \"inner\") NIL NIL NIL)(\"application\" \"pdf\" "
	    "(\"name\" \"a.pdf\") NIL NIL \"base64\" 8 NIL (\"attachment\" "
	    "(\"filename\" \"a.pdf\")) NIL NIL)(\"message\" \"rfc822\" NIL NIL "
	    "NIL \"7bit\" 166 (NIL \"fwd\" ((NIL NIL \"x\" \"y\")) ((NIL NIL "
	    "\"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"z\" \"w\")) NIL "
	    "NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 3 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
	    "\"iso-8859-1\") NIL NIL \"7bit\" 3 0 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"deep\") NIL NIL NIL) 12 NIL NIL NIL NIL) "
	    "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 11 0) \"alternative\")(\"application\" \"pdf\" (\"name\" "
	    "\"a.pdf\") NIL NIL \"base64\" 8)(\"message\" \"rfc822\" NIL NIL "
	    "NIL \"7bit\" 166 (NIL \"fwd\" ((NIL NIL \"x\" \"y\")) ((NIL NIL "
	    "\"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"z\" \"w\")) NIL "
	    "NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 3 0)(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") "
	    "NIL NIL \"7bit\" 3 0) \"mixed\") 12) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "rfc822_in_mixed",
	    "Subject: outer\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "\r\n"
	    "see attached\r\n"
	    "--b\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "Content-Description: forwarded\r\n"
	    "\r\n"
	    "From: Ann <ann@x.test>\r\n"
	    "Subject: inner\r\n"
	    "\r\n"
	    "inner body\r\n"
	    "\r\n"
	    "--b--\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "12 0 NIL NIL NIL NIL)(\"message\" \"rfc822\" NIL NIL "
	    "\"forwarded\" \"7bit\" 54 (NIL \"inner\" ((\"Ann\" NIL \"ann\" "
	    "\"x.test\")) ((\"Ann\" NIL \"ann\" \"x.test\")) ((\"Ann\" NIL "
	    "\"ann\" \"x.test\")) NIL NIL NIL NIL NIL) (\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 1 NIL NIL NIL NIL) "
	    "4 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "12 0)(\"message\" \"rfc822\" NIL NIL \"forwarded\" \"7bit\" 54 "
	    "(NIL \"inner\" ((\"Ann\" NIL \"ann\" \"x.test\")) ((\"Ann\" NIL "
	    "\"ann\" \"x.test\")) ((\"Ann\" NIL \"ann\" \"x.test\")) NIL NIL "
	    "NIL NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 12 1) 4) \"mixed\")",
	    "(NIL \"outer\" NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "digest",
	    "Content-Type: multipart/digest; boundary=\"b\"\r\n"
	    "\r\n"
	    "--b\r\n"
	    "\r\n"
	    "From: x@y\r\n"
	    "Subject: s\r\n"
	    "\r\n"
	    "body\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "t\r\n"
	    "--b--\r\n",
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 29 (NIL \"s\" ((NIL "
	    "NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) "
	    "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 4 0 NIL NIL NIL NIL) 3 NIL NIL NIL "
	    "NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 1 0 NIL NIL NIL NIL) \"digest\" (\"boundary\" \"b\") NIL "
	    "NIL NIL)",
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 29 (NIL \"s\" ((NIL "
	    "NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) ((NIL NIL \"x\" \"y\")) "
	    "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 4 0) 3)(\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0) \"digest\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "rfc2231",
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: application/x-stuff;\r\n"
	    " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
	    " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
	    " title*2=\"isn't it!\"\r\n"
	    "Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.tx"
	    "t; x*1=b; x*0=a; l*=iso-8859-1''%E9; k*=koi8-r''%C1\r\n"
	    "\r\n"
	    "x\r\n",
	    "(\"application\" \"x-stuff\" (\"title*\" "
	    "\"utf-8'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%2"
	    "7t%20it!\") NIL NIL \"7bit\" 3 NIL (\"attachment\" (\"filename*\" "
	    "\"utf-8''%C3%A9t%C3%A9.txt\" \"x\" \"ab\" \"l*\" "
	    "\"utf-8''%C3%A9\" \"k*\" \"koi8-r''%C1\")) NIL NIL)",
	    "(\"application\" \"x-stuff\" (\"title*\" "
	    "\"utf-8'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%2"
	    "7t%20it!\") NIL NIL \"7bit\" 3)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "missing_close",
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	    "\r\n"
	    "pre\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "hello\r\n"
	    "--b\r\n"
	    "\r\n"
	    "second\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 8 1 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 8 1) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "truncated",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "trunc",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "5 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "no_separator",
	    "From: a@b\r\n"
	    "Subject: x\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0)",
	    "(NIL \"x\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL "
	    "NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)" },
	{ "part_no_separator",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text/html\r\n"
	    "--b\r\n"
	    "\r\n"
	    "x\r\n"
	    "--b--",
	    "((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	    "NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" "
	    "\"b\") NIL NIL NIL)",
	    "((\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "empty",
	    "",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "body_only",
	    "\r\n"
	    "body only\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "11 1 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "11 1)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "no_boundary_param",
	    "Content-Type: multipart/mixed\r\n"
	    "\r\n"
	    "pre\r\n"
	    "--b\r\n"
	    "\r\n"
	    "x\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "boundary_never_seen",
	    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	    "\r\n"
	    "no boundaries here\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "prefix_inner_longer",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: multipart/mixed; boundary=bb\r\n"
	    "\r\n"
	    "--bb\r\n"
	    "\r\n"
	    "inner1\r\n"
	    "--b\r\n"
	    "\r\n"
	    "outer2\r\n"
	    "--b--\r\n",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"bb\") NIL NIL "
	    "NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL "
	    "NIL NIL)",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "6 0) \"mixed\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 6 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "prefix_outer_longer",
	    "Content-Type: multipart/mixed; boundary=bb\r\n"
	    "\r\n"
	    "--bb\r\n"
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "\r\n"
	    "inner1\r\n"
	    "--bb\r\n"
	    "\r\n"
	    "outer2\r\n"
	    "--bb--\r\n",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL "
	    "NIL)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 6 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"bb\") NIL "
	    "NIL NIL)",
	    "(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "6 0) \"mixed\")(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 6 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "padding_and_epilogue",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b  \r\n"
	    "\r\n"
	    "x\r\n"
	    "--b-- trailing\r\n"
	    "epi\r\n"
	    "--b\r\n"
	    "\r\n"
	    "after\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "empty_parts",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "--b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "\r\n"
	    "\r\n"
	    "--b--\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)(\"text\" "
	    "\"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL "
	    "NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 0 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "top_rfc822",
	    "Content-Type: message/rfc822\r\n"
	    "\r\n"
	    "From: a@b\r\n"
	    "Subject: s\r\n"
	    "\r\n"
	    "x\r\n",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 28 (NIL \"s\" ((NIL "
	    "NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL) 4 NIL NIL NIL "
	    "NIL)",
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 28 (NIL \"s\" ((NIL "
	    "NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
	    "NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 3 1) 4)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "global",
	    "Content-Type: message/global\r\n"
	    "\r\n"
	    "From: a@b\r\n"
	    "Subject: s\r\n"
	    "\r\n"
	    "x\r\n",
	    "(\"message\" \"global\" NIL NIL NIL \"7bit\" 28 NIL NIL NIL NIL)",
	    "(\"message\" \"global\" NIL NIL NIL \"7bit\" 28)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "message_no_eoh",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: message/rfc822\r\n"
	    "--b--\r\n",
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL "
	    "NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL "
	    "NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 0 (NIL NIL NIL NIL "
	    "NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 0 0) 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "ext_fields",
	    "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
	    "Content-Language: en, fr\r\n"
	    "Content-Disposition: inline; filename=\"a b.txt\"\r\n"
	    "Content-Location: http://x/y\r\n"
	    "Content-ID: <id@x>\r\n"
	    "Content-Description: caf\xc3\xa9 \"q\"\r\n"
	    "Content-Transfer-Encoding: QUOTED-PRINTABLE\r\n"
	    "Content-MD5: abc\r\n"
	    "\r\n"
	    "x\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") "
	    "\"<id@x>\" {9}\r\ncaf\xc3\xa9 \"q\" \"QUOTED-PRINTABLE\" 3 1 "
	    "\"abc\" (\"inline\" (\"filename\" \"a b.txt\")) (\"en\" \"fr\") "
	    "\"http://x/y\")",
	    "(\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") "
	    "\"<id@x>\" {9}\r\ncaf\xc3\xa9 \"q\" \"QUOTED-PRINTABLE\" 3 1)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "case_kept",
	    "content-type: TEXT/PLAIN; CHARSET=UTF-8; Format=Flowed\r\n"
	    "\r\n"
	    "x\r\n",
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\" \"Format\" \"Flowed\") "
	    "NIL NIL \"7bit\" 3 1 NIL NIL NIL NIL)",
	    "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\" \"Format\" \"Flowed\") "
	    "NIL NIL \"7bit\" 3 1)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "bad_types",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "Content-Type: text\r\n"
	    "\r\n"
	    "1\r\n"
	    "--b\r\n"
	    "Content-Type: /plain; charset=x\r\n"
	    "\r\n"
	    "2\r\n"
	    "--b\r\n"
	    "Content-Type: image/jpeg; name=a b.jpg; charset=(c)\"x\"(d); =y; z"
	    "\r\n"
	    "Content-Transfer-Encoding: x y\r\n"
	    "\r\n"
	    "3\r\n"
	    "--b--\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)(\"image\" "
	    "\"jpeg\" (\"name\" \"a b.jpg\" \"charset\" \"x\") NIL NIL "
	    "\"7bit\" 1 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL "
	    "NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 1 0)(\"image\" \"jpeg\" (\"name\" \"a b.jpg\" "
	    "\"charset\" \"x\") NIL NIL \"7bit\" 1) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "not_mime",
	    "Content-Language: en\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "\r\n"
	    "x\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	    "1 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	    "1)",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "addresses",
	    "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
	    "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>"
	    "\r\n"
	    "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@examp"
	    "le.net>\r\n"
	    "Bcc: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.tes"
	    "t>;, Undisclosed recipients:;\r\n"
	    "Reply-To: Pete(A nice \\) chap) <pete(his account)@silly.test(his "
	    "host)>\r\n"
	    "Sender: <@route1,@route2:user@host>\r\n"
	    "In-Reply-To: <a@b>\r\n"
	    "Message-ID: <id@x>\r\n"
	    "Date: Thu, 13 Feb 1969 23:32:54 -0330\r\n"
	    "Subject: =?utf-8?q?hi?= there\r\n"
	    "\r\n"
	    "x\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	    "1 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 "
	    "1)",
	    "(\"Thu, 13 Feb 1969 23:32:54 -0330\" \"=?utf-8?q?hi?= there\" "
	    "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) ((NIL "
	    "\"@route1,@route2\" \"user\" \"host\")) ((\"Pete\" NIL \"pete\" "
	    "\"silly.test\")) ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL "
	    "NIL \"jdoe\" \"example.org\")(\"Who?\" NIL \"one\" \"y.test\")) "
	    "((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL "
	    "\"sysservices\" \"example.net\")) ((NIL NIL \"A Group\" NIL)(\"Ed "
	    "Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" "
	    "\"where.test\")(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL "
	    "NIL)(NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL)) "
	    "\"<a@b>\" \"<id@x>\")" },
	{ "odd_addresses",
	    "From: nodomain, @, <>, \"\" <x@y>, a@, @b, \"a b\"@c, =?utf-8?q?J="
	    "C3=B6?= <j@x>\r\n"
	    "To: undisclosed-recipients:;\r\n"
	    "Cc: g: a@b, c@d\r\n"
	    "Sender:\r\n"
	    "Reply-To: (only a comment)\r\n"
	    "\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0)",
	    "(NIL NIL ((NIL NIL \"nodomain\" \"MISSING_DOMAIN\")(NIL NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"x\" \"y\")(NIL "
	    "NIL \"a\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" "
	    "\"b\")(NIL NIL \"a b\" \"c\")(\"=?utf-8?q?J=C3=B6?=\" NIL \"j\" "
	    "\"x\")) ((NIL NIL \"nodomain\" \"MISSING_DOMAIN\")(NIL NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"x\" \"y\")(NIL "
	    "NIL \"a\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" "
	    "\"b\")(NIL NIL \"a b\" \"c\")(\"=?utf-8?q?J=C3=B6?=\" NIL \"j\" "
	    "\"x\")) ((NIL NIL \"nodomain\" \"MISSING_DOMAIN\")(NIL NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"x\" \"y\")(NIL "
	    "NIL \"a\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" "
	    "\"b\")(NIL NIL \"a b\" \"c\")(\"=?utf-8?q?J=C3=B6?=\" NIL \"j\" "
	    "\"x\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL "
	    "NIL)) ((NIL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"c\" "
	    "\"d\")(NIL NIL NIL NIL)) NIL NIL NIL)" },
	{ "odd_addresses2",
	    "From: a@b <c@d>\r\n"
	    "To: <a@b> <c@d>, x@y z@w, Mary Smith mary@x\r\n"
	    "Cc: Name <a@b> junk, a@b (comment), (c2) b@c, d@e (x) (y)\r\n"
	    "Bcc: \"unterminated <a@b>\r\n"
	    "Reply-To: x@[1.2.3.4], \"a\".\"b\"@c, g1: a@b; g2: c@d;, :;\r\n"
	    "Subject: first\r\n"
	    "Subject: =?utf-8?q?second?=\r\n"
	    "To: again@x\r\n"
	    "\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0)",
	    "(NIL \"=?utf-8?q?second?=\" ((\"a@b\" NIL \"c\" \"d\")) ((\"a@b\" "
	    "NIL \"c\" \"d\")) ((NIL NIL \"x\" \"[1.2.3.4]\")(NIL NIL \"a.b\" "
	    "\"c\")(NIL NIL \"g1\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL "
	    "NIL)(NIL NIL \"g2\" NIL)(NIL NIL \"c\" \"d\")(NIL NIL NIL "
	    "NIL)(NIL NIL \"\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"a\" "
	    "\"b\")(NIL NIL \"x\" \"y\")(NIL NIL \"z\" \"w\")(\"Mary Smith\" "
	    "NIL \"mary\" \"x\")(NIL NIL \"again\" \"x\")) ((\"Name\" NIL "
	    "\"a\" \"b\")(\"comment\" NIL \"a\" \"b\")(NIL NIL \"b\" "
	    "\"c\")(\"y\" NIL \"d\" \"e\")) ((\"unterminated <a@b>\" NIL "
	    "\"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL)" },
	{ "folded_8bit",
	    "Subject: caf\xc3\xa9\r\n"
	    "  and\tmore\r\n"
	    "From: =?utf-8?b?w6k=?= <e@x>\r\n"
	    "Message-ID:\r\n"
	    " <folded@id>\r\n"
	    "\r\n",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0 NIL NIL NIL NIL)",
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 "
	    "0)",
	    "(NIL {15}\r\ncaf\xc3\xa9  and\x09more ((\"=?utf-8?b?w6k=?=\" NIL "
	    "\"e\" \"x\")) ((\"=?utf-8?b?w6k=?=\" NIL \"e\" \"x\")) "
	    "((\"=?utf-8?b?w6k=?=\" NIL \"e\" \"x\")) NIL NIL NIL NIL "
	    "\"<folded@id>\")" },
	{ "boundary_at_eof",
	    "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n"
	    "--b\r\n"
	    "\r\n"
	    "x\r\n"
	    "--b",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "1 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "empty_boundary",
	    "Content-Type: multipart/mixed; boundary=\"\"\r\n"
	    "\r\n"
	    "--\r\n"
	    "\r\n"
	    "x\r\n"
	    "----\r\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
	{ "lf_only_parts",
	    "Content-Type: multipart/mixed; boundary=b\n"
	    "\n"
	    "--b\n"
	    "\n"
	    "--b\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "line1\n"
	    "line2\n"
	    "\n"
	    "--b--\n",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" "
	    "\"us-ascii\") NIL NIL \"7bit\" 14 2 NIL NIL NIL NIL) \"mixed\" "
	    "(\"boundary\" \"b\") NIL NIL NIL)",
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0)(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 14 2) \"mixed\")",
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" },
};

static struct mail_mime_part *
parse_ok(const void *msg, size_t len)
{
	struct mail_mime_part *root = NULL;
	struct mail_err err;

	mail_err_clear(&err);
	CHECK_EQ(mail_mime_parse(msg, len, &root, &err), 0);
	CHECK_PTR_NONNULL(root);
	return root;
}

/* LFs in msg[off, off + n), and the bare ones (no CR before them in the
 * whole message). */
static void
count_lfs(const uint8_t *msg, size_t off, size_t n, size_t *lfs_r,
    size_t *bare_r)
{
	*lfs_r = *bare_r = 0;
	for (size_t i = off; i < off + n; i++) {
		if (msg[i] != '\n')
			continue;
		(*lfs_r)++;
		if (i == 0 || msg[i - 1] != '\r')
			(*bare_r)++;
	}
}

/* Whatever the input, the tree must hold these: header and body tile
 * each part, children lie in their parent's body in order, sizes and
 * line counts match the bytes, and the limits hold. */
static void
check_tree(const uint8_t *msg, size_t len, const struct mail_mime_part *root)
{
	const struct mail_mime_part *p = root, *c, *prev;
	size_t lfs, bare, nparts = 0, nchildren;

	CHECK_EQ(root->hdr_offset, 0);
	CHECK_PTR_NULL(root->parent);
	CHECK_EQ(root->body_offset + root->body_size, len);
	while (p != NULL) {
		nparts++;
		CHECK_EQ(p->hdr_offset + p->hdr_size, p->body_offset);
		CHECK_LE(p->body_offset + p->body_size, len);
		CHECK_LT(p->depth, MAIL_MIME_MAX_DEPTH);
		CHECK_PTR_NONNULL(p->type);
		CHECK_PTR_NONNULL(p->subtype);
		count_lfs(msg, p->hdr_offset, p->hdr_size, &lfs, &bare);
		CHECK_EQ(p->hdr_vsize, p->hdr_size + bare);
		count_lfs(msg, p->body_offset, p->body_size, &lfs, &bare);
		CHECK_EQ(p->body_vsize, p->body_size + bare);
		CHECK_EQ(p->body_lines, lfs);
		prev = NULL;
		nchildren = 0;
		for (c = p->children; c != NULL; c = c->next) {
			CHECK_PTR_EQ(c->parent, p);
			CHECK_EQ(c->depth, p->depth + 1);
			CHECK_GE(c->hdr_offset, p->body_offset);
			CHECK_LE(c->body_offset + c->body_size,
			    p->body_offset + p->body_size);
			if (prev != NULL)
				CHECK_LE(prev->body_offset +
				    prev->body_size, c->hdr_offset);
			prev = c;
			nchildren++;
		}
		if (nchildren > 0) {
			CHECK((p->flags & MAIL_MIME_PART_OPAQUE) == 0);
			CHECK((p->flags & (MAIL_MIME_PART_MULTIPART |
			    MAIL_MIME_PART_MESSAGE)) != 0);
		}
		if ((p->flags & MAIL_MIME_PART_MESSAGE) != 0)
			CHECK_LE(nchildren, 1);
		/* next in pre-order, without recursion */
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	CHECK_LE(nparts, MAIL_MIME_MAX_PARTS);
}

/* IMAP syntax of a BODYSTRUCTURE or ENVELOPE: one parenthesized list of
 * NIL, numbers, quoted strings and literals, with single spaces between
 * items (none after "(" or before ")"; the bodies of a multipart follow
 * each other without one). */
static void
check_imap_syntax(const struct mail_buf *b)
{
	const uint8_t *p = b->data;
	size_t n = b->len, i = 0, depth = 0, lit;
	bool first = true, after_list = false;

	CHECK_GT(n, 1);
	CHECK_EQ(p[0], '(');
	while (i < n) {
		if (p[i] == ')') {
			CHECK_GT(depth, 0);
			i++;
			first = false;
			after_list = true;
			if (--depth == 0)
				break;
			continue;
		}
		if (!first && !(after_list && p[i] == '(')) {
			if (p[i] != ' ')
				ck_abort_msg("no space at %zu of %.*s", i,
				    (int)n, (const char *)p);
			i++;
			CHECK_LT(i, n);
		}
		first = after_list = false;
		if (p[i] == '(') {
			depth++;
			i++;
			first = true;
		} else if (p[i] == '"') {
			for (i++; i < n && p[i] != '"'; i++) {
				CHECK(p[i] >= 0x20 && p[i] < 0x7f);
				if (p[i] == '\\') {
					i++;
					CHECK(i < n &&
					    (p[i] == '"' || p[i] == '\\'));
				}
			}
			CHECK_LT(i, n);
			i++;
		} else if (p[i] == '{') {
			for (lit = 0, i++; i < n && p[i] >= '0' && p[i] <= '9';
			    i++)
				lit = lit * 10 + (size_t)(p[i] - '0');
			CHECK(i + 3 <= n && memcmp(p + i, "}\r\n", 3) == 0);
			i += 3;
			CHECK_LE(lit, n - i);
			for (size_t k = 0; k < lit; k++)
				CHECK_NE(p[i + k], 0);
			i += lit;
		} else if (p[i] >= '0' && p[i] <= '9') {
			while (i < n && p[i] >= '0' && p[i] <= '9')
				i++;
		} else {
			if (n - i < 3 || memcmp(p + i, "NIL", 3) != 0)
				ck_abort_msg("bad item at %zu of %.*s", i,
				    (int)n, (const char *)p);
			i += 3;
		}
	}
	CHECK_EQ(depth, 0);
	CHECK_EQ(i, n);
}

static void
assert_buf(const struct mail_buf *b, const char *want, const char *what,
    const char *name)
{
	ck_assert_msg(b->len == strlen(want) && memcmp(b->data, want,
	    b->len) == 0, "%s of '%s':\n got  %.*s\n want %s", what, name,
	    (int)b->len, (const char *)b->data, want);
}

START_TEST(test_cases)
{
	const struct mime_case *c = &mime_cases[_i];
	const uint8_t *msg = (const uint8_t *)c->msg;
	size_t len = strlen(c->msg);
	struct mail_mime_part *root = parse_ok(msg, len);
	struct mail_buf b = MAIL_BUF_INIT;

	check_tree(msg, len, root);
	mail_mime_bodystructure(msg, root, MAIL_MIME_BS_EXTENDED, &b);
	assert_buf(&b, c->bs, "BODYSTRUCTURE", c->name);
	check_imap_syntax(&b);
	mail_buf_reset(&b);
	mail_mime_bodystructure(msg, root, 0, &b);
	assert_buf(&b, c->body, "BODY", c->name);
	check_imap_syntax(&b);
	mail_buf_reset(&b);
	mail_mime_envelope(msg, root, &b);
	assert_buf(&b, c->env, "ENVELOPE", c->name);
	check_imap_syntax(&b);
	mail_buf_free(&b);
	mail_mime_free(&root);
	ck_assert_ptr_null(root);
	mail_mime_free(&root);		/* NULL-safe */
}
END_TEST

static const struct mime_case *
find_case(const char *name)
{
	for (size_t i = 0; i < N_ELEMENTS(mime_cases); i++) {
		if (strcmp(mime_cases[i].name, name) == 0)
			return &mime_cases[i];
	}
	ck_abort_msg("no case '%s'", name);
	return NULL;
}

START_TEST(test_offsets)
{
	const char *crlf = find_case("simple_crlf")->msg;
	const char *lf = find_case("simple_lf")->msg;
	struct mail_mime_part *r1 = parse_ok(crlf, strlen(crlf));
	struct mail_mime_part *r2 = parse_ok(lf, strlen(lf));

	/* Same message, two line end styles: physical sizes differ, what
	 * IMAP reports does not. */
	ck_assert_uint_eq(r1->hdr_size, strstr(crlf, "hello") - crlf);
	ck_assert_uint_eq(r1->body_offset, r1->hdr_size);
	ck_assert_uint_eq(r1->body_size, 14);
	ck_assert_uint_eq(r1->body_vsize, 14);
	ck_assert_uint_eq(r2->hdr_size, strstr(lf, "hello") - lf);
	ck_assert_uint_eq(r2->body_size, 12);
	ck_assert_uint_eq(r2->body_vsize, 14);
	ck_assert_uint_eq(r2->hdr_vsize, r1->hdr_vsize);
	ck_assert_uint_eq(r1->body_lines, 2);
	ck_assert_uint_eq(r2->body_lines, 2);
	ck_assert_uint_eq(r1->flags, MAIL_MIME_PART_TEXT);
	ck_assert_ptr_null(r1->children);
	mail_mime_free(&r1);
	mail_mime_free(&r2);
}
END_TEST

START_TEST(test_multipart_offsets)
{
	const char *m = find_case("alternative")->msg;
	struct mail_mime_part *root = parse_ok(m, strlen(m));
	const struct mail_mime_part *a = root->children, *b;

	ck_assert(mail_mime_part_is(root, "MULTIPART", "Alternative"));
	ck_assert(mail_mime_part_is(root, "multipart", NULL));
	ck_assert(!mail_mime_part_is(root, "multipart", "mixed"));
	ck_assert_uint_eq(root->flags, MAIL_MIME_PART_MULTIPART);
	ck_assert_ptr_nonnull(a);
	b = a->next;
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(b->next);
	/* A part starts after its boundary line and ends before the CRLF
	 * that precedes the next one. */
	ck_assert_uint_eq(a->hdr_offset, strstr(m, "--alt\r\n") + 7 - m);
	ck_assert_uint_eq(a->body_offset, strstr(m, "caf=") - m);
	ck_assert_uint_eq(a->body_size, 9);
	ck_assert_str_eq(a->encoding, "quoted-printable");
	ck_assert_str_eq(mail_mime_param_get(a, "CHARSET")->value, "utf-8");
	ck_assert_ptr_null(mail_mime_param_get(a, "name"));
	ck_assert_uint_eq(b->body_offset + b->body_size,
	    strstr(m, "\r\n--alt--") - m);
	ck_assert_uint_eq(root->body_offset + root->body_size, strlen(m));
	mail_mime_free(&root);
}
END_TEST

START_TEST(test_params)
{
	const char *m = find_case("rfc2231")->msg;
	struct mail_mime_part *root = parse_ok(m, strlen(m));
	const struct mail_mime_param *p;

	ck_assert_uint_eq(root->nparams, 1);
	p = &root->params[0];
	ck_assert_str_eq(p->name, "title");
	ck_assert_str_eq(p->value, "This is even more ***fun*** isn't it!");
	ck_assert_str_eq(p->charset, "us-ascii");
	ck_assert_str_eq(p->language, "en");
	ck_assert_uint_eq(p->flags, MAIL_MIME_PARAM_EXTENDED);
	ck_assert_str_eq(root->disposition, "attachment");
	ck_assert_uint_eq(root->ndisp_params, 4);
	p = &root->disp_params[0];
	ck_assert_str_eq(p->name, "filename");
	ck_assert_str_eq(p->value, "\xc3\xa9t\xc3\xa9.txt");
	ck_assert_ptr_null(p->language);
	/* sections joined in number order, at the first one's place */
	ck_assert_str_eq(root->disp_params[1].name, "x");
	ck_assert_str_eq(root->disp_params[1].value, "ab");
	ck_assert_ptr_null(root->disp_params[1].charset);
	/* Latin-1 converted to UTF-8 */
	ck_assert_str_eq(root->disp_params[2].value, "\xc3\xa9");
	/* a charset mail_header does not know stays raw */
	p = &root->disp_params[3];
	ck_assert_str_eq(p->value, "\xc1");
	ck_assert_str_eq(p->charset, "koi8-r");
	ck_assert_uint_eq(p->flags,
	    MAIL_MIME_PARAM_EXTENDED | MAIL_MIME_PARAM_RAW);
	mail_mime_free(&root);
}
END_TEST

START_TEST(test_param_edge_cases)
{
	static const char m[] =
	    "Content-Type: text/plain; name=plain; name*=utf-8''ext;\r\n"
	    " a*=''x%00y; b*0=\"1\"; b*0=\"dup\"; b*2=3; c*=%41%zz;\r\n"
	    " d=\"unterminated\r\n"
	    "Content-Disposition: x; e*=\"\"\r\n\r\n";
	struct mail_mime_part *root = parse_ok(m, sizeof(m) - 1);
	struct mail_buf b = MAIL_BUF_INIT;
	const struct mail_mime_param *p;

	/* the RFC 2231 one wins a lookup */
	p = mail_mime_param_get(root, "NAME");
	ck_assert_str_eq(p->value, "ext");
	ck_assert_uint_eq(root->nparams, 6);
	ck_assert_str_eq(root->params[0].value, "plain");
	/* a NUL from %00 without a charset becomes 0x80 */
	ck_assert_str_eq(root->params[2].value, "x\x80" "y");
	/* a repeated section is ignored, a gap tolerated */
	ck_assert_str_eq(root->params[3].value, "13");
	/* a bad %-escape stays as it is */
	ck_assert_str_eq(root->params[4].value, "A%zz");
	ck_assert_str_eq(root->params[5].value, "unterminated");
	/* an empty RFC 2231 value */
	ck_assert_uint_eq(root->ndisp_params, 1);
	ck_assert_str_eq(root->disp_params[0].value, "");
	mail_mime_bodystructure((const uint8_t *)m, root, 0, &b);
	ck_assert_str_eq((const char *)b.data, "(\"text\" \"plain\" "
	    "(\"name\" \"plain\" \"name\" \"ext\" \"a\" {3}\r\nx\x80" "y "
	    "\"b\" \"13\" \"c\" \"A%zz\" \"d\" \"unterminated\" "
	    "\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
	mail_buf_free(&b);
	mail_mime_free(&root);
}
END_TEST

START_TEST(test_global_rev2)
{
	const char *m = find_case("global")->msg;
	struct mail_mime_part *root = parse_ok(m, strlen(m));
	struct mail_buf b = MAIL_BUF_INIT;

	/* parsed as a message either way; shown as one per RFC 9051 */
	ck_assert_uint_eq(root->flags,
	    MAIL_MIME_PART_MESSAGE | MAIL_MIME_PART_GLOBAL);
	ck_assert_ptr_nonnull(root->children);
	mail_mime_bodystructure((const uint8_t *)m, root,
	    MAIL_MIME_BS_IMAP4REV2, &b);
	ck_assert_str_eq((const char *)b.data, "(\"message\" \"global\" NIL "
	    "NIL NIL \"7bit\" 28 (NIL \"s\" ((NIL NIL \"a\" \"b\")) ((NIL NIL "
	    "\"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "3 1) 4)");
	mail_buf_free(&b);
	mail_mime_free(&root);
}
END_TEST

/* The content of a section as IMAP sends it, or NULL with *code_r set. */
static char *
section_text(const char *msg, const struct mail_mime_part *root,
    const char *spec, enum mail_err_code *code_r,
    struct mail_mime_section *sec_r)
{
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;

	mail_err_clear(&err);
	*code_r = MAIL_ERR_NONE;
	if (mail_mime_section((const uint8_t *)msg, root, spec, sec_r,
	    &err) < 0) {
		*code_r = err.code;
		ck_assert_ptr_null(sec_r->part);
		return NULL;
	}
	mail_mime_append_crlf((const uint8_t *)msg, sec_r->offset,
	    sec_r->size, 0, UINT64_MAX, &b);
	ck_assert_uint_eq(b.len, sec_r->vsize);
	return mail_buf_steal_str(&b);
}

static const struct {
	const char *spec;
	const char *want;	/* NULL: NOTFOUND */
} nested_sections[] = {
	{ "1", "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
	    "--inner\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n"
	    "--inner--" },
	{ "1.1", "plain" },
	{ "1.2", "<b>html</b>" },
	{ "1.1.MIME", "Content-Type: text/plain\r\n\r\n" },
	{ "1.MIME", "Content-Type: multipart/alternative; "
	    "boundary=inner\r\n\r\n" },
	{ "2", "JVBERi0=" },
	{ "2.mime", "Content-Type: application/pdf; name=a.pdf\r\n"
	    "Content-Disposition: attachment; filename=a.pdf\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n" },
	{ "3", "From: x@y\r\nTo: z@w\r\nSubject: fwd\r\nContent-Type: "
	    "multipart/mixed; boundary=deep\r\n\r\n--deep\r\n\r\none\r\n"
	    "--deep\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
	    "two\r\n--deep--" },
	{ "3.HEADER", "From: x@y\r\nTo: z@w\r\nSubject: fwd\r\nContent-Type: "
	    "multipart/mixed; boundary=deep\r\n\r\n" },
	{ "3.TEXT", "--deep\r\n\r\none\r\n--deep\r\nContent-Type: text/plain; "
	    "charset=iso-8859-1\r\n\r\ntwo\r\n--deep--" },
	{ "3.MIME", "Content-Type: message/rfc822\r\n\r\n" },
	{ "3.1", "one" },
	{ "3.1.MIME", "\r\n" },
	{ "3.2", "two" },
	{ "3.2.MIME", "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n" },
	{ "HEADER", "Content-Type: multipart/mixed; boundary=outer\r\n\r\n" },
	{ "header", "Content-Type: multipart/mixed; boundary=outer\r\n\r\n" },
	{ "4", NULL },
	{ "3.3", NULL },
	{ "1.3", NULL },
	{ "2.1", NULL },
	{ "1.1.1", NULL },
	{ "2.HEADER", NULL },
	{ "1.TEXT", NULL },
	{ "3.2.HEADER", NULL },
	{ "9.MIME", NULL },
	{ "9999999999.1", NULL },
};

START_TEST(test_sections)
{
	const char *m = find_case("nested")->msg;
	struct mail_mime_part *root = parse_ok(m, strlen(m));
	struct mail_mime_section sec;
	enum mail_err_code code;
	const char *spec = nested_sections[_i].spec;
	const char *want = nested_sections[_i].want;
	char *got = section_text(m, root, spec, &code, &sec);

	if (want == NULL) {
		ck_assert_msg(got == NULL, "section '%s' found", spec);
		ck_assert_int_eq(code, MAIL_ERR_NOTFOUND);
	} else {
		ck_assert_msg(got != NULL, "section '%s' not found", spec);
		ck_assert_msg(strcmp(got, want) == 0,
		    "section '%s':\n got  %s\n want %s", spec, got, want);
	}
	free(got);
	mail_mime_free(&root);
}
END_TEST

START_TEST(test_section_kinds)
{
	const char *m = find_case("nested")->msg;
	const char *single = find_case("simple_lf")->msg;
	const char *top = find_case("top_rfc822")->msg;
	static const char *const bad[] = { "0", "01", "1.0", "1.", ".1",
	    "1..2", "MIME", "FOO", "1.HEADERX", "HEADER.FIELDSX", "1x",
	    "TEXT.1", "HEADER.FIELDS.NOTX", " 1", "1 " };
	struct mail_mime_part *root = parse_ok(m, strlen(m)), *r2, *r3;
	struct mail_mime_section sec;
	enum mail_err_code code;
	char *s;

	s = section_text(m, root, "", &code, &sec);
	ck_assert_int_eq(sec.kind, MAIL_MIME_SECTION_ALL);
	ck_assert_uint_eq(sec.size, strlen(m));
	ck_assert_uint_eq(strlen(s), sec.vsize);
	free(s);
	s = section_text(m, root, "3.header.fields.not (To)", &code, &sec);
	ck_assert_int_eq(sec.kind, MAIL_MIME_SECTION_HEADER_FIELDS_NOT);
	ck_assert_str_eq(sec.fields, " (To)");
	ck_assert_ptr_eq(sec.part, root->children->next->next->children);
	free(s);
	s = section_text(m, root, "HEADER.FIELDS (From)", &code, &sec);
	ck_assert_int_eq(sec.kind, MAIL_MIME_SECTION_HEADER_FIELDS);
	ck_assert_ptr_eq(sec.part, root);
	free(s);
	s = section_text(m, root, "TEXT", &code, &sec);
	ck_assert_int_eq(sec.kind, MAIL_MIME_SECTION_TEXT);
	ck_assert_uint_eq(sec.offset, root->body_offset);
	free(s);
	s = section_text(m, root, "2", &code, &sec);
	ck_assert_int_eq(sec.kind, MAIL_MIME_SECTION_BODY);
	free(s);
	s = section_text(m, root, "2.MIME", &code, &sec);
	ck_assert_int_eq(sec.kind, MAIL_MIME_SECTION_MIME);
	free(s);
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		s = section_text(m, root, bad[i], &code, &sec);
		ck_assert_msg(s == NULL && code == MAIL_ERR_PARAM,
		    "section '%s' accepted", bad[i]);
	}

	/* A message that is not multipart has part 1, its body. */
	r2 = parse_ok(single, strlen(single));
	s = section_text(single, r2, "1", &code, &sec);
	ck_assert_str_eq(s, "hello\r\nworld\r\n");
	free(s);
	s = section_text(single, r2, "1.MIME", &code, &sec);
	ck_assert_ptr_eq(sec.part, r2);
	ck_assert_int_eq(sec.kind, MAIL_MIME_SECTION_MIME);
	free(s);
	ck_assert_ptr_null(section_text(single, r2, "1.1", &code, &sec));
	ck_assert_ptr_null(section_text(single, r2, "2", &code, &sec));
	ck_assert_ptr_null(section_text(single, r2, "1.HEADER", &code, &sec));

	/* A message/rfc822 at the top: 1 is the embedded message, 1.1 its
	 * only part (as Dovecot answers). */
	r3 = parse_ok(top, strlen(top));
	s = section_text(top, r3, "1", &code, &sec);
	ck_assert_str_eq(s, "From: a@b\r\nSubject: s\r\n\r\nx\r\n");
	free(s);
	s = section_text(top, r3, "1.1", &code, &sec);
	ck_assert_str_eq(s, "x\r\n");
	free(s);
	s = section_text(top, r3, "1.HEADER", &code, &sec);
	ck_assert_str_eq(s, "From: a@b\r\nSubject: s\r\n\r\n");
	free(s);
	s = section_text(top, r3, "1.1.MIME", &code, &sec);
	ck_assert_str_eq(s, "From: a@b\r\nSubject: s\r\n\r\n");
	free(s);
	ck_assert_ptr_null(section_text(top, r3, "1.2", &code, &sec));
	mail_mime_free(&root);
	mail_mime_free(&r2);
	mail_mime_free(&r3);
}
END_TEST

START_TEST(test_append_crlf)
{
	static const char m[] = "a\nbc\r\n\n\rd\r\n\ne";
	struct mail_buf all = MAIL_BUF_INIT, b = MAIL_BUF_INIT;
	size_t n = sizeof(m) - 1;

	mail_mime_append_crlf((const uint8_t *)m, 0, n, 0, UINT64_MAX, &all);
	ck_assert_str_eq((const char *)all.data,
	    "a\r\nbc\r\n\r\n\rd\r\n\r\ne");
	/* every window of the converted form */
	for (size_t s = 0; s <= all.len + 1; s++) {
		for (size_t l = 0; l <= all.len + 1; l++) {
			size_t from = s < all.len ? s : all.len;
			size_t to = s + l < all.len ? s + l : all.len;

			mail_buf_reset(&b);
			mail_mime_append_crlf((const uint8_t *)m, 0, n, s, l,
			    &b);
			CHECK_EQ(b.len, to - from);
			CHECK(b.len == 0 ||
			    memcmp(b.data, all.data + from, b.len) == 0);
		}
	}
	/* an LF after a CR outside the range is not bare */
	mail_buf_reset(&b);
	mail_mime_append_crlf((const uint8_t *)m, 5, 1, 0, UINT64_MAX, &b);
	ck_assert_uint_eq(b.len, 1);
	ck_assert_int_eq(b.data[0], '\n');
	mail_buf_reset(&b);
	mail_mime_append_crlf((const uint8_t *)m, 0, n, UINT64_MAX - 1,
	    UINT64_MAX, &b);
	ck_assert_uint_eq(b.len, 0);
	mail_buf_free(&all);
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_header_fields)
{
	static const char m[] = "From: a@b\nSubject: hi\n  folded\nX-Junk\n"
	    "to : c@d\r\nSubject: again\n\nbody: no\n";
	static const char *const names[] = { "subject", "TO" };
	struct mail_buf b = MAIL_BUF_INIT;
	size_t hdr = strstr(m, "\n\n") + 2 - m;

	mail_mime_header_fields((const uint8_t *)m, 0, hdr, names, 2, false,
	    &b);
	ck_assert_str_eq((const char *)b.data, "Subject: hi\r\n  folded\r\n"
	    "to : c@d\r\nSubject: again\r\n\r\n");
	mail_buf_reset(&b);
	mail_mime_header_fields((const uint8_t *)m, 0, hdr, names, 2, true,
	    &b);
	ck_assert_str_eq((const char *)b.data, "From: a@b\r\n\r\n");
	mail_buf_reset(&b);
	/* nothing matches: the blank line alone; the body is never read */
	mail_mime_header_fields((const uint8_t *)m, 0, sizeof(m) - 1, NULL,
	    0, false, &b);
	ck_assert_str_eq((const char *)b.data, "\r\n");
	mail_buf_reset(&b);
	/* a header cut short still ends in CRLF */
	mail_mime_header_fields((const uint8_t *)"A: 1\r", 0, 5, names, 0,
	    true, &b);
	ck_assert_str_eq((const char *)b.data, "A: 1\r\n\r\n");
	mail_buf_reset(&b);
	mail_mime_header_fields((const uint8_t *)"A: 1", 0, 4, names, 0,
	    true, &b);
	ck_assert_str_eq((const char *)b.data, "A: 1\r\n\r\n");
	mail_buf_reset(&b);
	mail_mime_header_fields(NULL, 0, 0, names, 2, true, &b);
	ck_assert_str_eq((const char *)b.data, "\r\n");
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_decode)
{
	static const struct {
		bool	 qp;
		const char *in, *out;
	} cases[] = {
		{ false, "aGVs\r\nbG8g\nd29y bGQ=\r\n", "hello world" },
		{ false, "!!aGVsbG8=!!", "hello" },
		{ false, "aGk=aGk=", "hihi" },	/* concatenated blocks */
		{ false, "aGVsbG", "hell" },		/* cut short */
		{ false, "", "" },
		{ true, "caf=C3=A9 \r\nsoft=\r\nbreak=\nx =4 =ZZ end=",
		    "caf\xc3\xa9\r\nsoftbreakx =4 =ZZ end" },
		{ true, "lower=c3=a9\n", "lower\xc3\xa9\r\n" },
		{ true, "a= \t\r\nb\t \n=\n", "ab\r\n" },
		{ true, "=\r\n=", "" },
		{ true, "x=0", "x=0" },
		{ true, "bare\rcr\n", "bare\rcr\r\n" },
	};
	struct mail_buf b = MAIL_BUF_INIT;

	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		mail_buf_reset(&b);
		if (cases[i].qp)
			mail_mime_decode_qp((const uint8_t *)cases[i].in,
			    strlen(cases[i].in), &b);
		else
			mail_mime_decode_base64((const uint8_t *)cases[i].in,
			    strlen(cases[i].in), &b);
		ck_assert_msg(b.len == strlen(cases[i].out) &&
		    memcmp(b.data, cases[i].out, b.len) == 0,
		    "case %zu: got '%.*s'", i, (int)b.len, b.data);
	}
	mail_buf_free(&b);
}
END_TEST

START_TEST(test_decode_body)
{
	static const char m[] = "Content-Type: multipart/mixed; boundary=b\n"
	    "\n--b\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n"
	    "--b\nContent-Transfer-Encoding: Quoted-Printable\n\na=3Db=\nc\n"
	    "--b\n\nplain\nlines\n"
	    "--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n--b--\n";
	struct mail_mime_part *root = parse_ok(m, sizeof(m) - 1);
	const struct mail_mime_part *p = root->children;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_err err;

	ck_assert_int_eq(mail_mime_decode_body((const uint8_t *)m, p, &b,
	    &err), 0);
	ck_assert_str_eq((const char *)b.data, "hello");
	mail_buf_reset(&b);
	ck_assert_int_eq(mail_mime_decode_body((const uint8_t *)m, p->next,
	    &b, &err), 0);
	ck_assert_str_eq((const char *)b.data, "a=bc");
	mail_buf_reset(&b);
	ck_assert_int_eq(mail_mime_decode_body((const uint8_t *)m,
	    p->next->next, &b, &err), 0);
	ck_assert_str_eq((const char *)b.data, "plain\r\nlines");
	mail_buf_reset(&b);
	mail_err_clear(&err);
	ck_assert_int_eq(mail_mime_decode_body((const uint8_t *)m,
	    p->next->next->next, &b, &err), -1);
	ck_assert_int_eq(err.code, MAIL_ERR_PARAM);
	ck_assert_uint_eq(b.len, 0);
	mail_buf_free(&b);
	mail_mime_free(&root);
}
END_TEST

/* n multiparts nested in each other; boundaries that are nobody's
 * prefix */
static char *
deep_multipart(size_t n, size_t *len_r)
{
	struct mail_buf b = MAIL_BUF_INIT;

	for (size_t i = 0; i < n; i++)
		mail_buf_printf(&b, "Content-Type: multipart/mixed; "
		    "boundary=\"d%zux\"\r\n\r\n--d%zux\r\n", i, i);
	mail_buf_append_str(&b, "Content-Type: text/plain\r\n\r\nleaf\r\n");
	for (size_t i = n; i-- > 0;)
		mail_buf_printf(&b, "--d%zux--\r\n", i);
	*len_r = b.len;
	return mail_buf_steal_str(&b);
}

START_TEST(test_limit_depth)
{
	size_t len;
	char *m = deep_multipart(MAIL_MIME_MAX_DEPTH + 5, &len);
	struct mail_mime_part *root = parse_ok(m, len);
	const struct mail_mime_part *p = root;
	struct mail_buf b = MAIL_BUF_INIT;

	check_tree((const uint8_t *)m, len, root);
	while (p->children != NULL)
		p = p->children;
	/* the multipart at the last allowed depth is not split */
	ck_assert_uint_eq(p->depth, MAIL_MIME_MAX_DEPTH - 1);
	ck_assert_uint_eq(p->flags,
	    MAIL_MIME_PART_MULTIPART | MAIL_MIME_PART_OPAQUE);
	mail_mime_bodystructure((const uint8_t *)m, root,
	    MAIL_MIME_BS_EXTENDED, &b);
	check_imap_syntax(&b);
	ck_assert_ptr_nonnull(strstr((const char *)b.data,
	    "(\"application\" \"octet-stream\" (\"boundary\" \"d99x\") NIL "
	    "NIL \"7bit\" "));
	ck_assert_ptr_null(strstr((const char *)b.data, "\"d100x\""));
	mail_buf_free(&b);
	mail_mime_free(&root);
	free(m);
}
END_TEST

START_TEST(test_limit_depth_message)
{
	struct mail_buf m = MAIL_BUF_INIT, b = MAIL_BUF_INIT;
	struct mail_mime_part *root;
	const struct mail_mime_part *p;

	for (size_t i = 0; i < 3 * MAIL_MIME_MAX_DEPTH; i++)
		mail_buf_append_str(&m, "Content-Type: message/rfc822\n\n");
	mail_buf_append_str(&m, "Subject: x\n\nleaf\n");
	root = parse_ok(m.data, m.len);
	check_tree(m.data, m.len, root);
	for (p = root; p->children != NULL; p = p->children)
		;
	ck_assert_uint_eq(p->depth, MAIL_MIME_MAX_DEPTH - 1);
	ck_assert_uint_eq(p->flags,
	    MAIL_MIME_PART_MESSAGE | MAIL_MIME_PART_OPAQUE);
	mail_mime_bodystructure(m.data, root, MAIL_MIME_BS_EXTENDED, &b);
	check_imap_syntax(&b);
	ck_assert_ptr_nonnull(strstr((const char *)b.data,
	    "(\"application\" \"octet-stream\" NIL NIL NIL \"7bit\" "));
	mail_buf_free(&b);
	mail_buf_free(&m);
	mail_mime_free(&root);
}
END_TEST

START_TEST(test_limit_parts)
{
	struct mail_buf m = MAIL_BUF_INIT, b = MAIL_BUF_INIT;
	struct mail_mime_part *root;
	const struct mail_mime_part *p, *last = NULL;
	size_t n = 0;

	mail_buf_append_str(&m, "Content-Type: multipart/mixed; "
	    "boundary=b\r\n\r\n");
	for (size_t i = 0; i < MAIL_MIME_MAX_PARTS + 5; i++)
		mail_buf_printf(&m, "--b\r\n\r\n%zu\r\n", i);
	mail_buf_append_str(&m, "--b--\r\n");
	root = parse_ok(m.data, m.len);
	check_tree(m.data, m.len, root);
	for (p = root->children; p != NULL; p = p->next) {
		last = p;
		n++;
	}
	/* the root and 9999 children; the last runs to the end, boundary
	 * lines and all (as Dovecot does) */
	ck_assert_uint_eq(n, MAIL_MIME_MAX_PARTS - 1);
	ck_assert_uint_eq(last->body_offset + last->body_size, m.len);
	ck_assert_ptr_nonnull(memmem(m.data + last->body_offset,
	    last->body_size, "--b--", 5));
	mail_mime_bodystructure(m.data, root, MAIL_MIME_BS_EXTENDED, &b);
	check_imap_syntax(&b);
	mail_buf_free(&b);
	mail_buf_free(&m);
	mail_mime_free(&root);
}
END_TEST

START_TEST(test_huge_header)
{
	struct mail_buf m = MAIL_BUF_INIT, b = MAIL_BUF_INIT;
	struct mail_mime_part *root;

	/* More fields than mail_header takes: the ones before its limit
	 * count, and the parse goes on. */
	mail_buf_append_str(&m, "Content-Type: text/html\r\nSubject: s\r\n");
	for (size_t i = 0; i < 2 * 10000; i++)
		mail_buf_append_str(&m, "X: y\r\n");
	mail_buf_append_str(&m, "\r\nbody\r\n");
	root = parse_ok(m.data, m.len);
	check_tree(m.data, m.len, root);
	ck_assert_str_eq(root->subtype, "html");
	ck_assert_uint_eq(root->body_size, 6);
	mail_mime_envelope(m.data, root, &b);
	ck_assert_str_eq((const char *)b.data,
	    "(NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	mail_mime_free(&root);
	/* one field longer than a megabyte */
	mail_buf_reset(&m);
	mail_buf_append_str(&m, "Content-Type: text/html\r\nX: ");
	for (size_t i = 0; i < 2 * 1024 * 1024; i++)
		mail_buf_put_u8(&m, 'a');
	mail_buf_append_str(&m, "\r\n\r\nbody\r\n");
	root = parse_ok(m.data, m.len);
	check_tree(m.data, m.len, root);
	ck_assert_str_eq(root->subtype, "html");
	ck_assert_uint_eq(root->body_size, 6);
	mail_buf_free(&b);
	mail_buf_free(&m);
	mail_mime_free(&root);
}
END_TEST

START_TEST(test_nuls)
{
	static const char m[] = "Subject: a\0b\r\nContent-Type: text/plain; "
	    "name=\"x\0y\"\r\nContent-Type: text/html\r\n\r\nbo\0dy\r\n";
	struct mail_mime_part *root = parse_ok(m, sizeof(m) - 1);
	struct mail_buf b = MAIL_BUF_INIT;

	check_tree((const uint8_t *)m, sizeof(m) - 1, root);
	ck_assert_uint_eq(root->body_size, 7);
	mail_mime_bodystructure((const uint8_t *)m, root, 0, &b);
	ck_assert_uint_eq(b.len, strlen((const char *)b.data));
	ck_assert_str_eq((const char *)b.data, "(\"text\" \"plain\" (\"name\" "
	    "{3}\r\nx\x80" "y \"charset\" \"us-ascii\") NIL NIL \"7bit\" 7 1)");
	mail_buf_reset(&b);
	mail_mime_envelope((const uint8_t *)m, root, &b);
	ck_assert_str_eq((const char *)b.data,
	    "(NIL {3}\r\na\x80" "b NIL NIL NIL NIL NIL NIL NIL NIL)");
	mail_buf_free(&b);
	mail_mime_free(&root);
}
END_TEST

/* Everything a FETCH could ask of this tree must work: both structures,
 * the envelope of every message, every numbered section with each
 * suffix, and decoding of every part. */
static void
exercise(const uint8_t *msg, size_t len)
{
	static const char *const suffixes[] = { "", ".MIME", ".HEADER",
	    ".TEXT" };
	struct mail_mime_part *root = parse_ok(msg, len);
	const struct mail_mime_part *p;
	struct mail_buf b = MAIL_BUF_INIT;
	struct mail_mime_section sec;
	struct mail_err err;
	char spec[64];

	check_tree(msg, len, root);
	mail_mime_bodystructure(msg, root, MAIL_MIME_BS_EXTENDED |
	    MAIL_MIME_BS_IMAP4REV2, &b);
	check_imap_syntax(&b);
	mail_buf_reset(&b);
	mail_mime_bodystructure(msg, root, 0, &b);
	check_imap_syntax(&b);
	for (p = root; p != NULL;) {
		mail_buf_reset(&b);
		mail_mime_envelope(msg, p, &b);
		check_imap_syntax(&b);
		mail_buf_reset(&b);
		if (mail_mime_decode_body(msg, p, &b, &err) < 0)
			CHECK_EQ(err.code, MAIL_ERR_PARAM);
		if (p->children != NULL)
			p = p->children;
		else {
			while (p != NULL && p->next == NULL)
				p = p->parent;
			if (p != NULL)
				p = p->next;
		}
	}
	for (unsigned int a = 0; a <= 4; a++) {
		for (unsigned int c = 0; c <= 3; c++) {
			for (size_t s = 0; s < N_ELEMENTS(suffixes); s++) {
				if (a == 0)
					snprintf(spec, sizeof(spec), "%s",
					    suffixes[s] + (s > 0));
				else if (c == 0)
					snprintf(spec, sizeof(spec), "%u%s", a,
					    suffixes[s]);
				else
					snprintf(spec, sizeof(spec), "%u.%u%s",
					    a, c, suffixes[s]);
				if (mail_mime_section(msg, root, spec, &sec,
				    &err) < 0)
					continue;
				CHECK_LE(sec.offset + sec.size, len);
				CHECK_GE(sec.vsize, sec.size);
			}
		}
	}
	mail_buf_free(&b);
	mail_mime_free(&root);
}

START_TEST(test_truncations)
{
	const char *m = mime_cases[_i].msg;
	size_t len = strlen(m);
	uint8_t *copy;

	/* each prefix in a buffer of its own size, so ASan sees any read
	 * past the end */
	for (size_t n = 0; n <= len; n++) {
		copy = mail_xmalloc(n > 0 ? n : 1);
		memcpy(copy, m, n);
		exercise(copy, n);
		free(copy);
	}
}
END_TEST

START_TEST(test_mutations)
{
	static const char interesting[] = "-\n\r:;\"()\\=*%'\0\x80 <>@,/[]";
	const char *m = mime_cases[_i].msg;
	size_t len = strlen(m), n;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(_i + 1);
	uint8_t *copy;

	if (len == 0)
		return;
	for (int round = 0; round < 300; round++) {
		copy = mail_xmalloc(len);
		memcpy(copy, m, len);
		n = len;
		for (int k = 0; k < 1 + round % 5; k++) {
			/* xorshift64 */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			copy[x % len] = (x >> 32) % 3 == 0 ? (uint8_t)(x >> 40) :
			    (uint8_t)interesting[(x >> 40) %
			    (sizeof(interesting) - 1)];
		}
		if (round % 7 == 0)
			n = (size_t)(x >> 20) % (len + 1);
		exercise(copy, n);
		free(copy);
	}
}
END_TEST

Suite *test_mail_mime_suite(void);
Suite *
test_mail_mime_suite(void)
{
	Suite *s = suite_create("mail_mime");
	TCase *tc = tcase_create("structure");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_cases, 0, (int)N_ELEMENTS(mime_cases));
	tcase_add_test(tc, test_offsets);
	tcase_add_test(tc, test_multipart_offsets);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_param_edge_cases);
	tcase_add_test(tc, test_global_rev2);
	tcase_add_test(tc, test_nuls);
	suite_add_tcase(s, tc);

	tc = tcase_create("sections");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_sections, 0,
	    (int)N_ELEMENTS(nested_sections));
	tcase_add_test(tc, test_section_kinds);
	tcase_add_test(tc, test_append_crlf);
	tcase_add_test(tc, test_header_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_decode_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_limit_depth);
	tcase_add_test(tc, test_limit_depth_message);
	tcase_add_test(tc, test_limit_parts);
	tcase_add_test(tc, test_huge_header);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_truncations, 0,
	    (int)N_ELEMENTS(mime_cases));
	tcase_add_loop_test(tc, test_mutations, 0,
	    (int)N_ELEMENTS(mime_cases));
	suite_add_tcase(s, tc);
	return s;
}
