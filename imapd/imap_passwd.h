/*
 * imap_passwd.h: imapd's password database, a Dovecot-compatible
 * passwd-file, and the decoding of SASL PLAIN (RFC 4616) responses.
 *
 * The file has one user per line, as Dovecot's passwd-file passdb/userdb
 * reads it:
 *
 *	user:password[:uid[:gid[:gecos[:home[:shell[:extra_fields]]]]]]
 *
 * Fields after the password are optional and may be empty. Empty lines,
 * lines of blanks only, and lines whose first byte is '#' are skipped; a
 * final "\r" (CRLF files) is dropped. Unlike Dovecot, which skips or
 * half-reads a line it does not understand, every other problem is an
 * error naming "PATH:LINE": a line without ':' after the user, an empty
 * user name, a user name with control characters, with blanks at either
 * end or over IMAP_PASSWD_MAX_USER bytes, a user given twice, an
 * unsupported password scheme, a malformed hash, a uid or gid that is
 * neither a number nor a name, a relative home, a NUL byte, and the old
 * Dovecot 1.x form with an empty eighth field followed by a mail location
 * (write "userdb_mail=..." instead).
 *
 * The password field is "{SCHEME}data" or, without a scheme, a crypt(3)
 * hash (Dovecot's default scheme for passwd-file, CRYPT). Scheme names
 * are matched in any case. Supported:
 *
 *	{PLAIN}text, {CLEARTEXT}text	the password itself (not empty)
 *	{SHA256-CRYPT}$5$...		SHA-256 crypt
 *	{SHA512-CRYPT}$6$...		SHA-512 crypt
 *	{BLF-CRYPT}$2y$..., $2b$, $2a$	bcrypt
 *	{CRYPT}hash, or hash alone	any of the three above, or yescrypt
 *					($y$, Debian's /etc/shadow default)
 *
 * Every crypt hash is checked for its shape when the file is read and
 * verified with libcrypt's crypt_rn() (link with -lcrypt). Weak or
 * unknown hashes (DES, MD5-crypt "$1$", and every other scheme Dovecot
 * knows, such as SSHA or PLAIN-MD5, and encoding suffixes like
 * "{PLAIN.b64}") are refused with an error naming the scheme. A password
 * field that is empty, "x", or starts with '*' or '!' (a locked
 * /etc/shadow account) marks a user that exists but never logs in with a
 * password.
 *
 * Extra fields are split at spaces into "key" or "key=value" items (the
 * value may hold ':') and kept for the caller, not interpreted here; in
 * particular Dovecot's "nopassword" does NOT allow a login without a
 * password.
 *
 * User names are compared exactly: byte for byte, case-sensitive, with no
 * domain handling and no normalization, so "Bob" and "bob@example.org" do
 * not find "bob". Callers that want case-folding must fold before the
 * lookup and write the file folded.
 *
 * Secrets: the database wipes its copy of the file (hashes and PLAIN
 * passwords) with explicit_bzero() when freed. Passwords handed to
 * imap_passwd_verify() are copied only to a stack buffer that is wiped
 * before returning. Error messages never contain a password or a hash.
 */
#ifndef IMAP_PASSWD_H
#define IMAP_PASSWD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mail_buf.h"
#include "mail_err.h"

/* Files over this size are refused (MAIL_ERR_LIMIT). */
#define IMAP_PASSWD_MAX_SIZE		(64 * 1024 * 1024)
/* Longest user name in the file, and longest SASL authzid/authcid. */
#define IMAP_PASSWD_MAX_USER		255
/* Longest PLAIN password in the file, and longest password
 * imap_passwd_verify() tries (longer ones fail). */
#define IMAP_PASSWD_MAX_PASSWORD	1024
/* Longest password field: a PLAIN password and its "{SCHEME}". */
#define IMAP_PASSWD_MAX_FIELD		(IMAP_PASSWD_MAX_PASSWORD + 64)
/* Longest decoded SASL PLAIN response: authzid NUL authcid NUL passwd. */
#define IMAP_PASSWD_SASL_PLAIN_MAX \
	(2 * IMAP_PASSWD_MAX_USER + IMAP_PASSWD_MAX_PASSWORD + 2)

struct imap_passwd;			/* opaque, defined in imap_passwd.c */

enum imap_passwd_scheme {
	IMAP_PASSWD_LOCKED = 0,		/* empty, "x", "*...", "!...": never
					 * matches */
	IMAP_PASSWD_PLAIN,		/* {PLAIN} or {CLEARTEXT} */
	IMAP_PASSWD_CRYPT,		/* a crypt(3) hash, any scheme name */
};

/* One user as the file gives it. Every string is NUL-terminated and ""
 * when the field is empty or absent. */
struct imap_passwd_entry {
	const char *user;
	enum imap_passwd_scheme scheme;
	const char *uid;		/* a number or a user name, unchecked
					 * against the system */
	const char *gid;		/* a number or a group name */
	const char *gecos;
	const char *home;		/* "" or an absolute path */
	const char *shell;
	const char *const *extra;	/* n_extra "key" or "key=value" items,
					 * then NULL */
	size_t	 n_extra;
	unsigned line;			/* 1-based line in the file */
};

/* Parse a passwd-file from memory: len bytes of data (need not be
 * NUL-terminated; a NUL byte is an error). name is used in error messages
 * ("NAME:LINE: what") and may be a path or a label. The database keeps its
 * own copy; data stays the caller's (who should wipe it if it matters).
 * Returns 0 and sets *db_r (caller owns; free with imap_passwd_free()),
 * or -1 with MAIL_ERR_PARAM (a bad line; the message names the line) or
 * MAIL_ERR_LIMIT (over IMAP_PASSWD_MAX_SIZE). A database parsed from
 * memory never reloads (imap_passwd_reload_if_changed() returns 0). */
int	imap_passwd_parse(const char *name, const uint8_t *data, size_t len,
	    struct imap_passwd **db_r, struct mail_err *err) WARN_UNUSED;

/* Read and parse the file at path, remembering its identity (device,
 * inode, size, mtime and ctime with nanoseconds) for
 * imap_passwd_reload_if_changed(). Returns 0 and sets *db_r (caller
 * owns), or -1 with the errors of imap_passwd_parse() or a system error
 * naming path (MAIL_ERR_NOTFOUND, MAIL_ERR_PERM, ...). */
int	imap_passwd_load(const char *path, struct imap_passwd **db_r,
	    struct mail_err *err) WARN_UNUSED;

/* For a running server: stat() the file of a database from
 * imap_passwd_load() and, if it is not the one that was read (replaced,
 * edited, truncated) or was modified too recently to tell (a change within
 * the file system's timestamp granularity of the read; racy-git's rule),
 * read it again. Returns 1 when *dbp was replaced by a new database (the
 * old one is freed: every imap_passwd_entry pointer from it is invalid),
 * 0 when nothing changed, or -1 with err filled when the file cannot be
 * read or has an error: *dbp is then left as it was, so a broken edit
 * never locks everybody out; the caller logs err and goes on. Cheap
 * enough (one stat) to call before every login. */
int	imap_passwd_reload_if_changed(struct imap_passwd **dbp,
	    struct mail_err *err) WARN_UNUSED;

/* Free the database, wiping its secrets. NULL-safe; sets *dbp = NULL. */
void	imap_passwd_free(struct imap_passwd **dbp);

/* The path or name the database was read from. Borrowed, valid until the
 * database is freed. */
const char *imap_passwd_name(const struct imap_passwd *db);
/* The number of users. */
size_t	imap_passwd_count(const struct imap_passwd *db);
/* User i (0 <= i < count) in byte order of the names. Borrowed, valid
 * until the database is freed or replaced by a reload. */
const struct imap_passwd_entry *imap_passwd_entry(const struct imap_passwd *db,
	    size_t i);
/* The user named exactly user (user_len bytes, which may hold NULs: such
 * a name never matches), or NULL. Borrowed like imap_passwd_entry(). For
 * a userdb lookup (home, uid) after authentication, not for deciding
 * whether a login may proceed: use imap_passwd_verify() for that. */
const struct imap_passwd_entry *imap_passwd_lookup(
	    const struct imap_passwd *db, const char *user, size_t user_len);

/* Check password (password_len bytes) for user (user_len bytes). Returns
 * 1 if user exists, is not locked and the password matches; 0 for an
 * unknown user, a locked user or a wrong password; also 0, before any
 * work and whatever the user, for an empty password or one over
 * IMAP_PASSWD_MAX_PASSWORD bytes. A password with a NUL byte never
 * matches a crypt hash. -1 with err filled (MAIL_ERR_INTERNAL) when
 * libcrypt fails.
 *
 * Timing: PLAIN passwords are compared in time that depends only on
 * password_len, not on where they differ or on the stored length. An
 * unknown or locked user costs the same as a known one: the password is
 * checked against a stand-in, the first user whose hash has the file's
 * most common method and cost (SHA512-CRYPT with 5000 rounds, bcrypt with
 * cost 10, PLAIN...), and the result is thrown away. So the time tells
 * nothing about which names exist as long as every user has the same kind
 * of hash; users whose method or cost differs from the majority's can be
 * told apart by how long a wrong password takes, so keep a file on one
 * scheme and cost. */
int	imap_passwd_verify(const struct imap_passwd *db, const char *user,
	    size_t user_len, const char *password, size_t password_len,
	    struct mail_err *err) WARN_UNUSED;

/* ---- SASL PLAIN (RFC 4616) and the base64 of AUTHENTICATE ---- */

/* Split a decoded PLAIN response "[authzid] NUL authcid NUL passwd" of
 * len bytes. Refused (MAIL_ERR_PROTO): fewer or more than two NULs, an
 * empty authcid or password, an authzid or authcid that is not UTF-8 or
 * is over IMAP_PASSWD_MAX_USER bytes, a password over
 * IMAP_PASSWD_MAX_PASSWORD bytes; MAIL_ERR_LIMIT for input over
 * IMAP_PASSWD_SASL_PLAIN_MAX bytes. The password is not checked for UTF-8
 * (passwords from older clients may be Latin-1). Returns 0 and sets the
 * three malloc'ed NUL-terminated strings (authzid "" when absent; caller
 * frees authzid and authcid with free() and the password with
 * imap_passwd_secret_free()), or -1 with all three set to NULL. Whether
 * a non-empty authzid other than authcid is allowed is the caller's
 * decision (imapd refuses it: no proxy authorization). */
int	imap_passwd_sasl_plain_decode(const uint8_t *data, size_t len,
	    char **authzid_r, char **authcid_r, char **password_r,
	    struct mail_err *err) WARN_UNUSED;
/* The same on the client's base64 text (len bytes, without CRLF), as the
 * AUTHENTICATE PLAIN response line or SASL-IR initial response carries it
 * ("=" is the empty response, refused like any too-short one). The
 * decoded bytes live only in a stack buffer that is wiped. Base64 errors
 * are MAIL_ERR_PROTO; text longer than a maximal response's encoding is
 * MAIL_ERR_LIMIT. */
int	imap_passwd_sasl_plain_decode_base64(const char *b64, size_t len,
	    char **authzid_r, char **authcid_r, char **password_r,
	    struct mail_err *err) WARN_UNUSED;
/* Wipe the NUL-terminated secret *sp with explicit_bzero(), free it and
 * set *sp = NULL. NULL-safe. */
void	imap_passwd_secret_free(char **sp);

/* The most bytes len base64 characters decode to. */
#define IMAP_PASSWD_B64_DECODED_MAX(len)	((len) / 4 * 3)
/* The length of the base64 encoding of len bytes. */
#define IMAP_PASSWD_B64_ENCODED_LEN(len)	(((len) + 2) / 3 * 4)

/* Decode RFC 4648 base64 (the "+/" alphabet, as IMAP AUTHENTICATE uses
 * it): the length must be a multiple of 4, '=' padding only at the end,
 * no blanks or line breaks, and the unused bits of the last group zero,
 * so every byte string has exactly one accepted encoding. "" and "="
 * both decode to nothing ("=" is SASL's empty response, RFC 9051 6.2.2).
 * Writes at most IMAP_PASSWD_B64_DECODED_MAX(len) bytes to out, which has
 * room for out_size. Returns the decoded length, or -1 with
 * MAIL_ERR_PROTO (bad input) or MAIL_ERR_LIMIT (out too small). */
ssize_t	imap_passwd_base64_decode(const char *in, size_t len, uint8_t *out,
	    size_t out_size, struct mail_err *err) WARN_UNUSED;
/* Append the base64 encoding of len bytes to out (not NUL-counted). */
void	imap_passwd_base64_encode(const void *in, size_t len,
	    struct mail_buf *out);

#endif
