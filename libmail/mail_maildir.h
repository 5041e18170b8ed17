/*
 * mail_maildir.h: pure parsers and formatters for Maildir++ as Dovecot
 * writes it, used by `dsync import/export maildir`. Nothing here does I/O:
 * callers read whole files and hand over the bytes, so every function can
 * be fuzzed (tests/fuzz/fuzz_maildir.c).
 *
 *   file names     BASE[:2,FLAGS], BASE = UNIQ[,S=SIZE][,W=VSIZE]...
 *                  FLAGS: D draft, F flagged, R answered, S seen,
 *                  T deleted, a..z keyword 0..25 (dovecot-keywords)
 *   dovecot-uidlist
 *                  v3: "3 V<uidvalidity> N<nextuid> G<mailbox guid> ..."
 *                      then "<uid> [<key><value> ...] :<base>" lines
 *                  v1: "1 <uidvalidity> <nextuid>", then "<uid> <name>"
 *   dovecot-keywords
 *                  "<index> <keyword>" lines, index 0..25
 *   subscriptions  "V\t2\n\n" then names with TAB between components
 *                  (v2), or names with '.' between components (v1)
 *   folder names   ".A.B" is the mailbox "A/B"; components are modified
 *                  UTF-7 (RFC 3501 5.1.3), and '.' and '\' inside a
 *                  component are written "\2e" and "\5c" as Dovecot's
 *                  listescape plugin does
 *
 * Errors are MAIL_ERR_CORRUPT (or MAIL_ERR_LIMIT) with a message naming
 * the line; callers prefix the file's path.
 */
#ifndef MAIL_MAILDIR_H
#define MAIL_MAILDIR_H

#include <stdbool.h>

#include "mail_err.h"
#include "mail_buf.h"
#include "mail_guid.h"

#define MAIL_MAILDIR_KEYWORDS	26	/* letters a..z */
#define MAIL_MAILDIR_NAME_MAX	255	/* NAME_MAX of a file name */
#define MAIL_MAILDIR_FILE_MAX	((size_t)1024 * 1024 * 1024) /* uidlist */

/* What a message file name says. */
struct mail_maildir_name {
	size_t	 base_len;	/* bytes before the first ':' (the whole
				 * name without one) */
	uint16_t flags;		/* enum mail_flag bits from ":2," */
	uint32_t keywords;	/* bit i: keyword index i, letter 'a' + i */
	uint64_t size;		/* ",S=": file size, valid if has_size */
	uint64_t vsize;		/* ",W=": size with CRLF, if has_vsize */
	bool	 has_info;	/* ":2," was present */
	bool	 has_size, has_vsize;
};

/* Parse a message file name of len bytes. Odd names are tolerated: an
 * unknown info (":1,..."), unknown flag letters and malformed ",S=" or
 * ",W=" fields are ignored. Returns 0 and fills *r, or -1 with
 * MAIL_ERR_CORRUPT for an empty name, one over MAIL_MAILDIR_NAME_MAX
 * bytes, or one holding '/' or NUL, which no directory entry can. */
int	mail_maildir_name_parse(const char *name, size_t len,
	    struct mail_maildir_name *r, struct mail_err *err) WARN_UNUSED;
/* Append the info suffix ":2,LETTERS" for flags (enum mail_flag bits) and
 * keyword bits (index i: letter 'a' + i), letters in ASCII order as the
 * Maildir specification asks. */
void	mail_maildir_info_format(uint16_t flags, uint32_t keywords,
	    struct mail_buf *out);

/* One message line of a dovecot-uidlist. Pointers are borrowed from the
 * bytes given to mail_maildir_uidlist_parse() and are not NUL-terminated:
 * they live as long as those bytes. */
struct mail_maildir_uidlist_rec {
	uint32_t uid;
	uint32_t line;		/* 1-based, for error messages */
	const char *base;	/* file name up to ':' */
	size_t	 base_len;
	const char *guid;	/* "G" field: Dovecot's message GUID, any
				 * string; NULL if absent */
	size_t	 guid_len;
	uint64_t size, vsize;	/* "S" and "W" fields */
	bool	 has_size, has_vsize;
};

struct mail_maildir_uidlist {
	unsigned int version;	/* 1 or 3 */
	uint32_t uidvalidity;	/* never 0 */
	uint32_t nextuid;	/* raised to the highest UID + 1 if the
				 * header is behind, as Dovecot appends
				 * lines without rewriting the header */
	struct mail_guid guid;	/* the mailbox GUID ("G" in the header) */
	bool	 has_guid;
	struct mail_maildir_uidlist_rec *recs;	/* owned; ascending UID */
	size_t	 n, cap;
	size_t	*by_base;	/* owned; indexes of recs sorted by base */
};

/* Parse a whole dovecot-uidlist (versions 1 and 3). Unknown header and
 * line fields are ignored. UIDs must be 1..2^32-2 and strictly ascending,
 * base names unique, non-empty, without '/', and every line must end in
 * LF (a missing one means a truncated file). Returns 0 and fills *ul
 * (free with mail_maildir_uidlist_free), or -1 with MAIL_ERR_CORRUPT
 * naming the line, and *ul empty. data must outlive *ul. */
int	mail_maildir_uidlist_parse(const void *data, size_t len,
	    struct mail_maildir_uidlist *ul, struct mail_err *err)
	    WARN_UNUSED;
/* The record for base name base (len bytes), or NULL. Borrowed from ul. */
const struct mail_maildir_uidlist_rec *mail_maildir_uidlist_find(
	    const struct mail_maildir_uidlist *ul, const char *base,
	    size_t len);
/* Free what parse allocated; *ul is empty afterwards. */
void	mail_maildir_uidlist_free(struct mail_maildir_uidlist *ul);

/* A dovecot-keywords file: names[i] is keyword index i (letter 'a' + i),
 * NULL where unset. */
struct mail_maildir_keywords {
	char	*names[MAIL_MAILDIR_KEYWORDS];	/* owned, malloc'ed */
};

/* Parse a whole dovecot-keywords file. Empty lines are skipped; every
 * other line is "<index> <name>" with index 0..25 given once, and a name
 * of 1..MAIL_KEYWORD_MAX_LEN bytes without controls or spaces. Returns 0
 * (free with mail_maildir_keywords_free), or -1 with MAIL_ERR_CORRUPT
 * naming the line and *kw empty. */
int	mail_maildir_keywords_parse(const void *data, size_t len,
	    struct mail_maildir_keywords *kw, struct mail_err *err)
	    WARN_UNUSED;
void	mail_maildir_keywords_free(struct mail_maildir_keywords *kw);

/* Decode modified UTF-7 (RFC 3501 5.1.3) of len bytes, appending UTF-8 to
 * out. Strict: printable ASCII other than '&' must appear as itself, a
 * shifted run must be non-empty modified base64 of whole UTF-16 units
 * with zero padding bits, ended by '-', encoding no printable ASCII, no
 * NUL and no unpaired surrogate. Returns 0, or -1 with MAIL_ERR_CORRUPT
 * (out then holds a partial result). */
int	mail_maildir_mutf7_decode(const char *src, size_t len,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;
/* Encode UTF-8 (len bytes) as modified UTF-7, appending to out. Returns
 * 0, or -1 with MAIL_ERR_PARAM if src is not valid UTF-8 or holds NUL. */
int	mail_maildir_mutf7_encode(const char *src, size_t len,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;

/* Map a Maildir++ folder directory name (".A.B", len bytes, leading dot
 * included) to a mailbox name ("A/B"), appended to out: components split
 * at '.', modified-UTF-7 decoded, then "\XX" escapes of printable ASCII
 * other than '/' undone. Components that are not modified UTF-7 but valid
 * UTF-8 are taken as they are (Dovecot's ":UTF-8" layout option). Returns
 * 0, or -1 with MAIL_ERR_CORRUPT if a component is empty, undecodable, or
 * decodes to a '/'. The result is not checked against mailbox name rules;
 * callers do that with mail_mailbox_name_check(). */
int	mail_maildir_folder_to_name(const char *dir, size_t len,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;
/* The reverse: mailbox name (UTF-8, '/' separated) to ".A.B" appended to
 * out; '.' and '\' are escaped as "\2e" and "\5c". Returns 0 or -1 with
 * MAIL_ERR_PARAM for invalid UTF-8 or an empty component. */
int	mail_maildir_name_to_folder(const char *name, struct mail_buf *out,
	    struct mail_err *err) WARN_UNUSED;

/* Parse a subscriptions file into mailbox names (v2 "V\t2" header: TAB
 * separates components, with Dovecot's \001 escapes; without it, '.'
 * does), each decoded as by mail_maildir_folder_to_name(). Lines that do
 * not decode are counted in *skipped_r, not fatal: subscriptions may name
 * anything. Sets *names_r (malloc'ed array of malloc'ed strings; free
 * with mail_maildir_names_free) and *n_r. Returns 0, or -1 with
 * MAIL_ERR_LIMIT for more than limit lines. */
int	mail_maildir_subscriptions_parse(const void *data, size_t len,
	    size_t limit, char ***names_r, size_t *n_r, size_t *skipped_r,
	    struct mail_err *err) WARN_UNUSED;
/* Format names (UTF-8, '/' separated) as a v2 subscriptions file appended
 * to out. Returns 0, or -1 with MAIL_ERR_PARAM for a name that can not be
 * encoded. */
int	mail_maildir_subscriptions_format(char *const *names, size_t n,
	    struct mail_buf *out, struct mail_err *err) WARN_UNUSED;
void	mail_maildir_names_free(char **names, size_t n);

#endif
