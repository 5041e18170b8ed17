/*
 * mail_err.h: the error record every fallible libmail call fills.
 *
 * Functions return 0/-1 (or a documented third value) and put the details
 * here: a code that tells the caller what to do, the errno if a system call
 * failed, and a git-style message (lowercase, subject in quotes, no period).
 */
#ifndef MAIL_ERR_H
#define MAIL_ERR_H

#include "mail_util.h"

enum mail_err_code {
	MAIL_ERR_NONE = 0,
	MAIL_ERR_INTERNAL,	/* unexpected system failure */
	MAIL_ERR_TEMP,		/* retry later: lock busy, peer away */
	MAIL_ERR_NOTFOUND,	/* no such user, mailbox, message, key */
	MAIL_ERR_EXISTS,	/* already exists */
	MAIL_ERR_PERM,		/* permission denied */
	MAIL_ERR_NOSPACE,	/* disk full or quota */
	MAIL_ERR_CORRUPT,	/* bad on-disk data: rebuild or resync */
	MAIL_ERR_PROTO,		/* peer spoke garbage: drop it */
	MAIL_ERR_LIMIT,		/* a size or count limit was exceeded */
	MAIL_ERR_PARAM,		/* invalid argument from the user */
};

struct mail_err {
	enum mail_err_code code;
	int	 sys_errno;
	char	 msg[256];
};

/* Fill err and return -1. */
int	mail_err_set(struct mail_err *err, enum mail_err_code code,
	    const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Fill err from a failed system call: the code is derived from errnum
 * (ENOSPC -> NOSPACE, ENOENT -> NOTFOUND, EACCES -> PERM, ...) and
 * ": strerror" is appended. Returns -1. */
int	mail_err_sys(struct mail_err *err, int errnum, const char *fmt, ...)
	    PRINTF_LIKE(3, 4);
/* Prefix the existing message with "prefix: ". Returns -1. */
int	mail_err_prefix(struct mail_err *err, const char *fmt, ...)
	    PRINTF_LIKE(2, 3);
void	mail_err_clear(struct mail_err *err);

#endif
